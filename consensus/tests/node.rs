//! `RaftNode` on its own: proposals, the Ready contract, batching, limits, restarts, and
//! rejected peer messages.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use raft::eraftpb::{ConfState, Entry, HardState, Message, MessageType, Snapshot};
use rampart_consensus::storage::{LogBatch, MemDurable, MemLogStore};
use rampart_consensus::testing::{Cluster, SharedApp, test_config};
use rampart_consensus::{
    ConsensusConfig, ConsensusError, DropReason, EntryKind, LogStore, RaftNode, StateRole,
    StorageError, codec,
};

/// Counts writes and synced writes of the store it wraps.
#[derive(Debug)]
struct Counting {
    inner: MemLogStore,
    writes: Arc<AtomicU64>,
    syncs: Arc<AtomicU64>,
}

impl LogStore for Counting {
    fn write(&mut self, batch: LogBatch, sync: bool) -> Result<(), StorageError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        if sync {
            self.syncs.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.write(batch, sync)
    }
    fn hard_state(&self) -> HardState {
        self.inner.hard_state()
    }
    fn conf_state(&self) -> (ConfState, u64) {
        self.inner.conf_state()
    }
    fn snapshot_point(&self) -> (u64, u64) {
        self.inner.snapshot_point()
    }
    fn kept_snapshot(&self) -> Option<&Snapshot> {
        self.inner.kept_snapshot()
    }
    fn last_index(&self) -> u64 {
        self.inner.last_index()
    }
    fn term(&self, index: u64) -> Result<u64, StorageError> {
        self.inner.term(index)
    }
    fn entries(&self, low: u64, high: u64, max: Option<u64>) -> Result<Vec<Entry>, StorageError> {
        self.inner.entries(low, high, max)
    }
}

fn single(config: ConsensusConfig) -> (RaftNode<MemLogStore>, SharedApp, MemDurable) {
    let mut store = MemLogStore::new();
    store.bootstrap(&[config.id]).expect("bootstrap");
    let durable = store.durable();
    let app = SharedApp::default();
    let node = RaftNode::new(config, store, Box::new(app.clone()), 0).expect("node");
    (node, app, durable)
}

/// Handles Readies until none is left, applying to `app`; returns the entries applied.
fn drain<L: LogStore>(node: &mut RaftNode<L>, app: &SharedApp) -> Vec<(u64, EntryKind, Vec<u8>)> {
    let mut applied = Vec::new();
    while let Some(out) = node.on_ready().expect("ready") {
        let mut a = app.lock();
        if let Some(s) = &out.snapshot {
            a.restore(s).expect("restore");
        }
        for e in &out.committed_entries {
            a.apply(e);
            applied.push((e.index, e.kind, e.data.clone()));
        }
        drop(a);
        if let Some(i) = out.last_index() {
            node.set_applied(i).expect("set_applied");
        }
    }
    applied
}

fn leader_of_one() -> (RaftNode<MemLogStore>, SharedApp, MemDurable) {
    let (mut node, app, durable) = single(test_config());
    node.campaign().expect("campaign");
    drain(&mut node, &app);
    assert!(node.is_leader());
    (node, app, durable)
}

#[test]
fn a_single_node_commits_its_noop_then_proposals_in_order() {
    let (mut node, app, _) = single(test_config());
    assert!(matches!(
        node.propose(b"early".to_vec()),
        Err(ConsensusError::NotLeader { leader_hint: None })
    ));
    node.campaign().expect("campaign");
    let first = node.on_ready().expect("ready").expect("a ready");
    assert_eq!(
        first.soft_state.map(|s| (s.role, s.leader_id)),
        Some((StateRole::Leader, Some(1)))
    );
    let mut applied: Vec<_> = first
        .committed_entries
        .iter()
        .map(|e| (e.index, e.kind, e.data.clone()))
        .collect();
    if let Some(i) = first.last_index() {
        app.lock().applied_index = i;
        node.set_applied(i).expect("applied");
    }
    let a = node.propose(b"a".to_vec()).expect("a");
    let b = node.propose(b"b".to_vec()).expect("b");
    assert_eq!((a.index + 1, a.term), (b.index, b.term));
    applied.extend(drain(&mut node, &app));
    assert_eq!(
        applied,
        vec![
            (2, EntryKind::Noop, vec![]),
            (3, EntryKind::Data, b"a".to_vec()),
            (4, EntryKind::Data, b"b".to_vec())
        ]
    );
    let s = node.status();
    assert_eq!(
        (s.commit, s.applied, s.delivered, s.last_index),
        (4, 4, 4, 4)
    );
    assert_eq!(s.voters, vec![1]);
}

#[test]
fn many_proposals_share_one_synced_write() {
    let mut store = MemLogStore::new();
    store.bootstrap(&[1]).expect("bootstrap");
    let (writes, syncs) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let store = Counting {
        inner: store,
        writes: writes.clone(),
        syncs: syncs.clone(),
    };
    let app = SharedApp::default();
    let mut node = RaftNode::new(test_config(), store, Box::new(app.clone()), 0).expect("node");
    node.campaign().expect("campaign");
    drain(&mut node, &app);
    let before = syncs.load(Ordering::SeqCst);
    for i in 0..200 {
        node.propose(format!("tx{i}").into_bytes())
            .expect("propose");
    }
    let out = node.on_ready().expect("ready").expect("a ready");
    assert_eq!(
        syncs.load(Ordering::SeqCst) - before,
        1,
        "one fsync for 200 proposals"
    );
    // A single voter commits what it persisted: the entries come out of the same Ready.
    assert_eq!(out.committed_entries.len(), 200);
    assert!(writes.load(Ordering::SeqCst) >= syncs.load(Ordering::SeqCst));
}

#[test]
fn proposals_are_bounded() {
    let mut config = test_config();
    config.max_entry_size_bytes = 1024;
    config.max_size_per_msg_bytes = 1024;
    config.max_uncommitted_size_bytes = 4096;
    let (mut node, ..) = single(config.clone());
    assert!(matches!(
        node.propose(vec![]),
        Err(ConsensusError::EmptyProposal)
    ));
    node.campaign().expect("campaign");
    assert!(matches!(
        node.propose(vec![0; 1025]),
        Err(ConsensusError::EntryTooLarge {
            size_bytes: 1025,
            max_bytes: 1024
        })
    ));

    // With its peers silent, a leader of three stops taking proposals at the uncommitted limit.
    let mut net = Cluster::new_mem(3, 2, config);
    let leader = net.wait_leader(500).expect("leader");
    let all = net.ids();
    for id in all {
        if id != leader {
            net.isolate(id);
        }
    }
    let mut dropped = None;
    for _ in 0..10 {
        if let Err(e) = net.propose(leader, &[7; 1024]) {
            dropped = Some(e);
            break;
        }
    }
    let e = dropped.expect("the limit is reached");
    assert!(
        matches!(
            e,
            ConsensusError::ProposalDropped(DropReason::UncommittedLimit)
        ),
        "{e}"
    );
    assert!(e.is_retryable());
}

#[test]
fn set_applied_checks_its_range() {
    let (mut node, app, _) = leader_of_one();
    node.propose(b"x".to_vec()).expect("x");
    let out = node.on_ready().expect("ready").expect("ready");
    let last = out.last_index().expect("x committed");
    assert!(matches!(
        node.set_applied(last + 1),
        Err(ConsensusError::InvalidApplied { .. })
    ));
    app.lock().applied_index = last;
    node.set_applied(last).expect("ok");
    assert!(matches!(
        node.set_applied(last - 1),
        Err(ConsensusError::InvalidApplied { .. })
    ));
}

#[test]
fn restart_hands_out_unapplied_entries_again_and_rejects_impossible_applied_indices() {
    let (mut node, app, durable) = leader_of_one();
    for i in 0..5 {
        node.propose(format!("p{i}").into_bytes()).expect("propose");
    }
    // Persisted and committed, but the application "crashes" before applying.
    let out = node.on_ready().expect("ready").expect("ready");
    assert_eq!(out.committed_entries.len(), 5);
    drop(node);
    let applied = app.lock().applied_index;
    let mut node = RaftNode::new(
        test_config(),
        MemLogStore::open(durable.clone()),
        Box::new(app.clone()),
        applied,
    )
    .expect("restart");
    // The commit index is written without fsync; the restarted node learns it again by
    // winning an election (with peers, from the leader).
    node.campaign().expect("campaign");
    let again = drain(&mut node, &app);
    assert_eq!(
        again.iter().filter(|e| e.1 == EntryKind::Data).count(),
        5,
        "handed out again"
    );
    let last = node.status().last_index;
    drop(node);
    let beyond = RaftNode::new(
        test_config(),
        MemLogStore::open(durable),
        Box::new(app),
        last + 1,
    );
    assert!(matches!(
        beyond,
        Err(ConsensusError::AppliedOutOfRange { .. })
    ));
}

#[test]
fn compaction_keeps_the_configured_tail() {
    let mut config = test_config();
    config.log_compaction_threshold_entries = 10;
    config.log_retain_entries = 3;
    let (mut node, app, _) = single(config);
    node.campaign().expect("campaign");
    for i in 0..40 {
        drain(&mut node, &app);
        if node.is_leader() {
            node.propose(format!("c{i}").into_bytes()).expect("propose");
        }
    }
    drain(&mut node, &app);
    let s = node.status();
    assert!(s.first_index > 20, "compacted: {s:?}");
    assert!(
        s.applied + 1 - s.first_index <= 10,
        "at most the threshold stays: {s:?}"
    );
    assert!(
        s.applied + 1 - s.first_index >= 3,
        "the retained tail stays: {s:?}"
    );
}

#[test]
fn config_is_validated() {
    let bad = [
        ConsensusConfig::new(0),
        ConsensusConfig {
            heartbeat_tick: 10,
            ..ConsensusConfig::new(1)
        },
        ConsensusConfig {
            max_uncommitted_size_bytes: 1,
            ..ConsensusConfig::new(1)
        },
        ConsensusConfig {
            log_retain_entries: 10_000,
            ..ConsensusConfig::new(1)
        },
        ConsensusConfig {
            peers: vec![0],
            ..ConsensusConfig::new(1)
        },
    ];
    for c in bad {
        assert!(
            matches!(c.validate(), Err(ConsensusError::Config(_))),
            "{c:?}"
        );
    }
    ConsensusConfig::new(1)
        .validate()
        .expect("defaults are valid");
}

#[test]
fn membership_changes_one_at_a_time() {
    let mut net = Cluster::new_mem(3, 4, test_config());
    let leader = net.wait_leader(500).expect("leader");
    assert!(net.wait_converged(500));
    let follower = if leader == 1 { 2 } else { 1 };
    assert!(matches!(
        net.node_mut(follower).add_learner(4),
        Err(ConsensusError::NotLeader { .. })
    ));
    assert!(matches!(
        net.node_mut(leader).add_learner(2),
        Err(ConsensusError::InvalidMembership {
            reason: "already a member",
            ..
        })
    ));
    net.node_mut(leader).add_learner(4).expect("first change");
    assert!(matches!(
        net.node_mut(leader).add_learner(5),
        Err(ConsensusError::ConfChangePending)
    ));
    assert!(matches!(
        net.node_mut(leader).remove_node(9),
        Err(ConsensusError::ConfChangePending | ConsensusError::InvalidMembership { .. })
    ));
}

/// A message from `from` to `to` in the current term.
fn msg(
    net: &Cluster<rampart_consensus::testing::MemStores>,
    t: MessageType,
    from: u64,
    to: u64,
) -> Message {
    let mut m = Message::default();
    m.set_msg_type(t);
    m.from = from;
    m.to = to;
    m.term = net.status(to).term;
    m
}

#[test]
fn bad_peer_messages_are_rejected_and_change_nothing() {
    let mut config = test_config();
    config.max_entry_size_bytes = 1024;
    config.max_size_per_msg_bytes = 512;
    config.max_uncommitted_size_bytes = 8192;
    config.max_snapshot_size_bytes = 2048;
    let mut net = Cluster::new_mem(3, 9, config.clone());
    let leader = net.wait_leader(500).expect("leader");
    for i in 0..5 {
        net.propose(leader, format!("ok{i}").as_bytes())
            .expect("accepted");
    }
    assert!(net.wait_converged(500));
    let f = if leader == 1 { 2 } else { 1 };
    let before = net.status(f);
    let last = net.node(f).log().last_index();
    let term = before.term;

    let append = |net: &Cluster<_>, entries: Vec<Entry>| {
        let mut m = msg(net, MessageType::MsgAppend, leader, f);
        m.index = last;
        m.log_term = term;
        m.set_entries(entries.into());
        m
    };
    let entry = |index: u64, len: usize| Entry {
        index,
        term,
        data: vec![1u8; len].into(),
        ..Entry::default()
    };

    type Case = (&'static str, Message, fn(&ConsensusError) -> bool);
    let mut cases: Vec<Case> = Vec::new();
    cases.push((
        "unknown sender",
        msg(&net, MessageType::MsgHeartbeat, 99, f),
        |e| matches!(e, ConsensusError::UnknownPeer { from: 99 }),
    ));
    cases.push((
        "sender is self",
        msg(&net, MessageType::MsgHeartbeat, f, f),
        |e| matches!(e, ConsensusError::InvalidSender { .. }),
    ));
    cases.push((
        "sender 0",
        msg(&net, MessageType::MsgHeartbeat, 0, f),
        |e| matches!(e, ConsensusError::InvalidSender { from: 0 }),
    ));
    let mut wrong = msg(&net, MessageType::MsgHeartbeat, leader, f);
    wrong.to = 42;
    cases.push(("wrong recipient", wrong, |e| {
        matches!(e, ConsensusError::WrongRecipient { to: 42, .. })
    }));
    cases.push((
        "local message type",
        msg(&net, MessageType::MsgHup, leader, f),
        |e| matches!(e, ConsensusError::UnexpectedMessageType { .. }),
    ));
    cases.push((
        "forwarded proposal",
        msg(&net, MessageType::MsgPropose, leader, f),
        |e| matches!(e, ConsensusError::UnexpectedMessageType { .. }),
    ));
    let mut no_term = msg(&net, MessageType::MsgHeartbeat, leader, f);
    no_term.term = 0;
    cases.push(("no term", no_term, |e| {
        matches!(e, ConsensusError::MalformedMessage { .. })
    }));
    cases.push((
        "oversized entry",
        append(&net, vec![entry(last + 1, 1025)]),
        |e| matches!(e, ConsensusError::MessageTooLarge { what: "entry", .. }),
    ));
    cases.push((
        "oversized append",
        append(&net, (0..3).map(|i| entry(last + 1 + i, 1000)).collect()),
        |e| {
            matches!(
                e,
                ConsensusError::MessageTooLarge {
                    what: "entries",
                    ..
                }
            )
        },
    ));
    cases.push((
        "entries out of sequence",
        append(&net, vec![entry(last + 2, 10)]),
        |e| matches!(e, ConsensusError::MalformedMessage { .. }),
    ));
    let mut future = append(&net, vec![entry(last + 1, 10)]);
    future.entries[0].term = term + 1;
    cases.push(("entry from a future term", future, |e| {
        matches!(e, ConsensusError::MalformedMessage { .. })
    }));
    cases.push((
        "snapshot message without snapshot",
        msg(&net, MessageType::MsgSnapshot, leader, f),
        |e| matches!(e, ConsensusError::MalformedMessage { .. }),
    ));
    let mut big_snap = msg(&net, MessageType::MsgSnapshot, leader, f);
    let mut s = Snapshot {
        data: vec![0u8; 4096].into(),
        ..Snapshot::default()
    };
    s.mut_metadata().index = last + 10;
    s.mut_metadata().term = term;
    big_snap.set_snapshot(s);
    cases.push(("oversized snapshot", big_snap, |e| {
        matches!(
            e,
            ConsensusError::MessageTooLarge {
                what: "snapshot",
                ..
            }
        )
    }));
    let mut stale = append(&net, vec![entry(last + 1, 10)]);
    stale.term = term - 1;
    stale.entries[0].term = term - 1;
    stale.log_term = term - 1;
    cases.push(("stale term", stale, |e| {
        matches!(e, ConsensusError::StaleTerm { .. })
    }));

    for (what, m, expected) in cases {
        let err = net.node_mut(f).step(m).expect_err(what);
        assert!(expected(&err), "{what}: got {err:?}");
        assert!(err.is_rejected_message(), "{what}: {err:?}");
        let now = net.status(f);
        assert_eq!(
            (now.term, now.commit, now.last_index, now.leader_id),
            (
                before.term,
                before.commit,
                before.last_index,
                before.leader_id
            ),
            "{what} changed the node"
        );
        assert_eq!(
            net.node(f).log().last_index(),
            last,
            "{what} reached the log"
        );
    }

    // Bytes off the wire.
    assert!(matches!(
        codec::decode_message(&[0xff, 0xff, 0xff], config.max_message_size_bytes()),
        Err(ConsensusError::MalformedMessage { .. })
    ));
    let good =
        codec::encode_message(&msg(&net, MessageType::MsgHeartbeat, leader, f)).expect("encode");
    assert!(matches!(
        codec::decode_message(&good, 4),
        Err(ConsensusError::MessageTooLarge { .. })
    ));
    let back = codec::decode_message(&good, config.max_message_size_bytes()).expect("decode");
    assert_eq!(back.get_msg_type(), MessageType::MsgHeartbeat);

    // The cluster goes on.
    net.propose(leader, b"after").expect("accepted");
    assert!(net.wait_converged(500));
    net.assert_ok();
}

#[test]
fn a_received_snapshot_not_yet_applied_is_handed_out_again_after_a_restart() {
    // Node 4 joins empty; the leader (1) sends it a snapshot by hand.
    let mut config = test_config();
    config.id = 4;
    config.peers = vec![1];
    let store = MemLogStore::new();
    let durable = store.durable();
    let app = SharedApp::default();
    let mut node = RaftNode::new(config.clone(), store, Box::new(app.clone()), 0).expect("node");
    let mut m = Message::default();
    m.set_msg_type(MessageType::MsgSnapshot);
    m.from = 1;
    m.to = 4;
    m.term = 5;
    let mut s = Snapshot {
        data: b"\0\0\0\0\0\0\0\0".to_vec().into(), // an empty application state
        ..Snapshot::default()
    };
    s.mut_metadata().index = 10;
    s.mut_metadata().term = 5;
    s.mut_metadata()
        .set_conf_state(ConfState::from((vec![1], vec![4])));
    m.set_snapshot(s);
    node.step(m).expect("snapshot accepted");
    let out = node.on_ready().expect("ready").expect("ready");
    let snap = out.snapshot.expect("snapshot to install");
    assert_eq!(
        (snap.index, snap.term, snap.learners.clone()),
        (10, 5, vec![4])
    );
    // Power loss before the application installed it.
    drop(node);
    let mut node = RaftNode::new(
        config.clone(),
        MemLogStore::open(durable.clone()),
        Box::new(app.clone()),
        0,
    )
    .expect("restart");
    let again = node.on_ready().expect("ready").expect("the snapshot again");
    assert_eq!(again.snapshot.as_ref(), Some(&snap));
    app.lock().restore(&snap).expect("restore");
    node.set_applied(10).expect("applied");
    assert!(
        node.log().kept_snapshot().is_none(),
        "released once applied"
    );
    assert_eq!(node.status().learners, vec![4]);
    drop(node);
    // Released for good only if that write survived; either way, applied 10 needs no snapshot.
    let mut node =
        RaftNode::new(config, MemLogStore::open(durable), Box::new(app), 10).expect("restart");
    assert!(
        node.on_ready()
            .expect("ready")
            .is_none_or(|o| o.snapshot.is_none())
    );
}
