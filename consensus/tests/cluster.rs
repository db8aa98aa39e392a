//! Scenario tests on the in-memory test network (and one on RocksDB stores).

use rampart_consensus::node::Fault;
use rampart_consensus::testing::{
    Applied, Cluster, DropLink, RandomDelay, RandomDrop, RocksStores, StoreFactory, test_config,
};
use rampart_consensus::{ConsensusConfig, ConsensusError, LogStore, StateRole};

const MAX_ROUNDS: u64 = 1_000;

fn payload(tag: &str, i: u64) -> Vec<u8> {
    format!("{tag}-{i}").into_bytes()
}

fn entries<F: StoreFactory>(net: &Cluster<F>, id: u64) -> Vec<Applied> {
    net.app(id).lock().entries.clone()
}

/// Every node's applied sequence is a prefix of the longest one.
fn assert_prefixes<F: StoreFactory>(net: &Cluster<F>) {
    let all: Vec<(u64, Vec<Applied>)> = net
        .ids()
        .into_iter()
        .map(|id| (id, entries(net, id)))
        .collect();
    let longest = all
        .iter()
        .max_by_key(|(_, e)| e.len())
        .map(|(_, e)| e.clone())
        .unwrap_or_default();
    for (id, e) in &all {
        assert_eq!(
            e[..],
            longest[..e.len()],
            "seed {}: node {id}'s applied entries are not a prefix of the longest",
            net.seed
        );
    }
}

/// Proposes at whoever leads until it is accepted.
fn propose_somewhere<F: StoreFactory>(net: &mut Cluster<F>, data: &[u8]) {
    for _ in 0..MAX_ROUNDS {
        if net.propose_at_leader(data).is_some() {
            return;
        }
        net.step_round();
    }
    panic!(
        "seed {}: no leader accepted {:?}",
        net.seed,
        String::from_utf8_lossy(data)
    );
}

fn elects_one_stable_leader(n: u64) {
    for seed in 0..10 {
        let mut net = Cluster::new_mem(n, seed, test_config());
        let leader = net
            .wait_leader(MAX_ROUNDS)
            .unwrap_or_else(|| panic!("seed {seed}: no leader"));
        let term = net.status(leader).term;
        net.run(100);
        assert_eq!(
            net.leader(),
            Some(leader),
            "seed {seed}: leadership moved without faults"
        );
        assert_eq!(
            net.status(leader).term,
            term,
            "seed {seed}: term moved without faults"
        );
        for id in net.ids() {
            assert_eq!(
                net.status(id).leader_id,
                Some(leader),
                "seed {seed}: node {id} disagrees"
            );
        }
        net.assert_ok();
    }
}

#[test]
fn elects_one_stable_leader_of_3() {
    elects_one_stable_leader(3);
}

#[test]
fn elects_one_stable_leader_of_5() {
    elects_one_stable_leader(5);
}

fn commits_in_the_same_order_everywhere(n: u64) {
    for seed in 0..5 {
        let mut net = Cluster::new_mem(n, seed, test_config());
        net.add_filter(RandomDelay { max_rounds: 3 });
        net.add_filter(RandomDrop { per_mille: 50 });
        for i in 0..100 {
            propose_somewhere(&mut net, &payload("p", i));
            if i % 7 == 0 {
                net.step_round();
                assert_prefixes(&net);
            }
        }
        net.recover();
        assert!(
            net.wait_converged(MAX_ROUNDS),
            "seed {seed}: no convergence"
        );
        assert_prefixes(&net);
        let first = entries(&net, 1);
        assert!(
            first.len() >= 100,
            "seed {seed}: only {} entries",
            first.len()
        );
        for id in net.ids() {
            assert_eq!(entries(&net, id), first, "seed {seed}: node {id} differs");
        }
        net.assert_ok();
    }
}

#[test]
fn commits_in_the_same_order_everywhere_3() {
    commits_in_the_same_order_everywhere(3);
}

#[test]
fn commits_in_the_same_order_everywhere_5() {
    commits_in_the_same_order_everywhere(5);
}

#[test]
fn minority_partition_never_commits() {
    for seed in 0..5 {
        let mut net = Cluster::new_mem(5, seed, test_config());
        let old = net.wait_leader(MAX_ROUNDS).expect("leader");
        net.propose(old, b"before").expect("leader accepts");
        assert!(net.wait_converged(MAX_ROUNDS));
        let peer = if old == 1 { 2 } else { 1 };
        let minority = [old, peer];
        let majority: Vec<u64> = net
            .ids()
            .into_iter()
            .filter(|id| !minority.contains(id))
            .collect();
        net.partition(&[&minority, &majority]);
        let commit_before = net.status(old).commit;
        for i in 0..10 {
            // The old leader accepts until check-quorum makes it step down; nothing commits.
            let _ = net.propose(old, &payload("minority", i));
        }
        net.run(200);
        for id in minority {
            assert_eq!(
                net.status(id).commit,
                commit_before,
                "seed {seed}: minority node {id} committed"
            );
        }
        assert!(
            !net.node(old).is_leader(),
            "seed {seed}: isolated leader did not step down"
        );
        // The majority goes on.
        let new = net.wait_leader(MAX_ROUNDS).expect("majority leader");
        assert!(majority.contains(&new));
        for i in 0..5 {
            propose_somewhere(&mut net, &payload("majority", i));
        }
        net.run(50);
        net.recover();
        assert!(
            net.wait_converged(MAX_ROUNDS),
            "seed {seed}: no convergence"
        );
        let committed = net.history.committed_data();
        assert!(
            !committed.iter().any(|(_, d)| d.starts_with(b"minority")),
            "seed {seed}: a minority proposal committed"
        );
        assert_eq!(
            committed
                .iter()
                .filter(|(_, d)| d.starts_with(b"majority"))
                .count(),
            5
        );
        net.assert_ok();
    }
}

#[test]
fn isolated_leader_is_replaced_and_its_uncommitted_entries_never_commit_elsewhere() {
    for seed in 0..5 {
        let mut net = Cluster::new_mem(3, seed, test_config());
        let old = net.wait_leader(MAX_ROUNDS).expect("leader");
        net.propose(old, b"before").expect("accepted");
        assert!(net.wait_converged(MAX_ROUNDS));
        net.isolate(old);
        let orphans: Vec<_> = (0..5)
            .map(|i| {
                net.propose(old, &payload("orphan", i))
                    .expect("still leader")
            })
            .collect();
        let new = net
            .run_until(MAX_ROUNDS, |c| c.leader().is_some_and(|l| l != old))
            .then(|| net.leader())
            .flatten()
            .expect("a new leader");
        assert!(net.status(new).term > orphans[0].term);
        for i in 0..5 {
            propose_somewhere(&mut net, &payload("after", i));
        }
        net.recover();
        assert!(
            net.wait_converged(MAX_ROUNDS),
            "seed {seed}: no convergence"
        );
        let committed = net.history.committed_data();
        assert!(
            !committed.iter().any(|(_, d)| d.starts_with(b"orphan")),
            "seed {seed}: orphan committed"
        );
        // The indices the orphans had now hold other entries, from a later term.
        for p in &orphans {
            let app = net.app(old);
            let app = app.lock();
            assert!(
                app.entries
                    .iter()
                    .all(|a| !(a.index == p.index && a.term == p.term))
            );
        }
        net.assert_ok();
    }
}

#[test]
fn leader_transfer_moves_leadership_to_a_caught_up_voter() {
    let mut net = Cluster::new_mem(3, 11, test_config());
    let old = net.wait_leader(MAX_ROUNDS).expect("leader");
    net.propose(old, b"x").expect("accepted");
    assert!(net.wait_converged(MAX_ROUNDS));
    let to = if old == 3 { 2 } else { 3 };
    let follower = net
        .ids()
        .into_iter()
        .find(|&i| i != old && i != to)
        .expect("3 nodes");
    assert!(matches!(
        net.node_mut(follower).transfer_leader(to),
        Err(ConsensusError::NotLeader { leader_hint: Some(l) }) if l == old
    ));
    assert!(matches!(
        net.node_mut(old).transfer_leader(old),
        Err(ConsensusError::InvalidMembership { .. })
    ));
    assert!(matches!(
        net.node_mut(old).transfer_leader(9),
        Err(ConsensusError::InvalidMembership { .. })
    ));
    let term = net.status(old).term;
    net.node_mut(old)
        .transfer_leader(to)
        .expect("transfer starts");
    assert!(
        net.run_until(100, |c| c.leader() == Some(to)),
        "leadership did not move"
    );
    assert!(net.status(to).term > term);
    assert_eq!(net.status(old).role, StateRole::Follower);
    net.propose(to, b"y").expect("new leader accepts");
    assert!(net.wait_converged(MAX_ROUNDS));
    net.assert_ok();
}

/// Retries a membership change while the previous one is still pending.
fn change<F: StoreFactory>(
    net: &mut Cluster<F>,
    mut f: impl FnMut(&mut Cluster<F>, u64) -> Result<rampart_consensus::Proposed, ConsensusError>,
) {
    for _ in 0..MAX_ROUNDS {
        if let Some(l) = net.leader() {
            match f(net, l) {
                Ok(_) => return,
                Err(e) if e.is_retryable() => {}
                Err(e) => panic!("membership change refused: {e}"),
            }
        }
        net.step_round();
    }
    panic!("membership change never accepted");
}

#[test]
fn membership_add_learner_catch_up_promote_then_remove() {
    let mut net = Cluster::new_mem(3, 5, test_config());
    net.wait_leader(MAX_ROUNDS).expect("leader");
    for i in 0..20 {
        propose_somewhere(&mut net, &payload("a", i));
    }
    assert!(net.wait_converged(MAX_ROUNDS));

    // Learner: catches up (from a snapshot: it starts empty) but does not vote.
    net.add_node(4).expect("node 4 starts");
    change(&mut net, |n, l| n.node_mut(l).add_learner(4));
    assert!(net.wait_converged(MAX_ROUNDS));
    let leader = net.leader().expect("leader");
    assert_eq!(net.status(leader).learners, vec![4]);
    assert_eq!(net.status(4).learners, vec![4]);
    assert!(
        net.app(4).lock().snapshots_installed >= 1,
        "the new node started from a snapshot"
    );
    assert_eq!(entries(&net, 4), entries(&net, leader));
    assert!(matches!(
        net.node_mut(leader).promote_voter(3),
        Err(ConsensusError::InvalidMembership { .. })
    ));

    // Promote through a joint configuration that Raft leaves on its own.
    change(&mut net, |n, l| n.node_mut(l).promote_voter(4));
    assert!(net.run_until(MAX_ROUNDS, |c| {
        c.up_ids().iter().all(|&id| {
            let s = c.status(id);
            s.voters == vec![1, 2, 3, 4] && s.voters_outgoing.is_empty() && s.learners.is_empty()
        })
    }));

    // Remove a voter that is not the leader.
    let leader = net.leader().expect("leader");
    let gone = [1, 2, 3]
        .into_iter()
        .find(|&i| i != leader)
        .expect("a follower");
    change(&mut net, |n, l| n.node_mut(l).remove_node(gone));
    let rest: Vec<u64> = [1, 2, 3, 4].into_iter().filter(|&i| i != gone).collect();
    assert!(net.run_until(MAX_ROUNDS, |c| {
        rest.iter().all(|&id| {
            let s = c.status(id);
            s.voters == rest && s.voters_outgoing.is_empty()
        })
    }));
    net.crash(gone);
    for i in 0..10 {
        propose_somewhere(&mut net, &payload("b", i));
    }
    assert!(net.wait_converged(MAX_ROUNDS));
    // The removed node is a stranger now.
    let leader = net.leader().expect("leader");
    let mut msg = rampart_consensus::Message::default();
    msg.set_msg_type(raft::eraftpb::MessageType::MsgHeartbeat);
    msg.from = gone;
    msg.to = leader;
    msg.term = net.status(leader).term;
    assert!(
        matches!(net.deliver_raw(msg), Err(ConsensusError::UnknownPeer { from }) if from == gone)
    );
    net.assert_ok();
}

fn compaction_config() -> ConsensusConfig {
    let mut c = test_config();
    c.log_compaction_threshold_entries = 20;
    c.log_retain_entries = 5;
    c
}

#[test]
fn compaction_sends_a_snapshot_to_a_lagging_node() {
    for seed in 0..5 {
        let mut net = Cluster::new_mem(3, seed, compaction_config());
        let leader = net.wait_leader(MAX_ROUNDS).expect("leader");
        let lagging = if leader == 1 { 2 } else { 1 };
        net.isolate(lagging);
        for i in 0..100 {
            propose_somewhere(&mut net, &payload("c", i));
            net.step_round();
        }
        let leader = net.leader().expect("leader");
        assert!(net.wait_applied(leader, net.status(leader).last_index, MAX_ROUNDS));
        let first = net.status(leader).first_index;
        assert!(
            first > 50,
            "seed {seed}: leader log not compacted (first index {first})"
        );
        assert!(net.node(leader).log().last_index() - first < 30);
        net.recover();
        assert!(
            net.wait_converged(MAX_ROUNDS),
            "seed {seed}: no convergence"
        );
        assert!(
            net.app(lagging).lock().snapshots_installed >= 1,
            "seed {seed}: no snapshot"
        );
        assert_eq!(entries(&net, lagging), entries(&net, leader));
        assert_eq!(entries(&net, lagging).len(), 100);
        net.assert_ok();
    }
}

#[test]
fn a_snapshot_lost_in_transit_is_sent_again() {
    let mut net = Cluster::new_mem(3, 3, compaction_config());
    let leader = net.wait_leader(MAX_ROUNDS).expect("leader");
    let lagging = if leader == 1 { 2 } else { 1 };
    net.isolate(lagging);
    for i in 0..60 {
        propose_somewhere(&mut net, &payload("s", i));
        net.step_round();
    }
    net.recover();
    let leader = net.leader().expect("leader");
    net.add_filter(DropLink {
        from: leader,
        to: lagging,
        msg_type: Some(raft::eraftpb::MessageType::MsgSnapshot),
    });
    net.run(50);
    assert_eq!(net.app(lagging).lock().snapshots_installed, 0);
    net.recover();
    assert!(net.wait_converged(MAX_ROUNDS));
    assert_eq!(entries(&net, lagging), entries(&net, leader));
    net.assert_ok();
}

#[test]
fn restart_from_rocksdb_loses_and_changes_no_committed_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut net =
        Cluster::new(RocksStores::new(dir.path()), 3, 21, compaction_config()).expect("network");
    net.wait_leader(MAX_ROUNDS).expect("leader");
    for i in 0..30 {
        propose_somewhere(&mut net, &payload("r", i));
    }
    assert!(net.wait_converged(MAX_ROUNDS));

    // A follower restarts: its term, vote and log come back from RocksDB.
    let leader = net.leader().expect("leader");
    let follower = if leader == 1 { 2 } else { 1 };
    let before = net.status(follower);
    let hs_before = net.node(follower).log().hard_state();
    net.crash(follower);
    net.restart(follower).expect("restart");
    let after = net.status(follower);
    assert_eq!(net.node(follower).log().hard_state().term, hs_before.term);
    assert_eq!(net.node(follower).log().hard_state().vote, hs_before.vote);
    assert_eq!(after.last_index, before.last_index);
    assert_eq!(after.applied, before.applied);
    for i in 30..60 {
        propose_somewhere(&mut net, &payload("r", i));
    }
    assert!(net.wait_converged(MAX_ROUNDS));

    // The leader crashes between proposing and committing, then everyone restarts.
    let leader = net.leader().expect("leader");
    net.propose(leader, b"in-flight").expect("accepted");
    net.crash(leader);
    for i in 60..70 {
        propose_somewhere(&mut net, &payload("r", i));
    }
    assert!(net.wait_converged(MAX_ROUNDS), "the two survivors commit");
    for id in net.ids() {
        net.crash(id);
    }
    for id in net.ids() {
        net.restart(id).expect("restart");
    }
    for i in 70..80 {
        propose_somewhere(&mut net, &payload("r", i));
    }
    assert!(net.wait_converged(MAX_ROUNDS));
    let reference = entries(&net, 1);
    for id in net.ids() {
        assert_eq!(entries(&net, id), reference, "node {id} differs");
    }
    let mut seen: Vec<&[u8]> = reference.iter().map(|a| &a.data[..]).collect();
    seen.retain(|d| d.starts_with(b"r-"));
    assert_eq!(seen.len(), 80, "every committed proposal survived, once");
    net.assert_ok();
}

#[test]
fn a_power_loss_of_the_whole_cluster_loses_no_committed_entry() {
    let mut net = Cluster::new_mem(3, 8, compaction_config());
    for round in 0..5 {
        net.wait_leader(MAX_ROUNDS).expect("leader");
        for i in 0..15 {
            propose_somewhere(&mut net, &payload(&format!("round{round}"), i));
        }
        assert!(net.wait_converged(MAX_ROUNDS));
        let committed = net.history.max_committed();
        for id in net.ids() {
            net.crash(id);
        }
        for id in net.ids() {
            net.restart(id).expect("restart");
            assert!(net.status(id).last_index >= committed.min(net.status(id).first_index));
        }
    }
    assert!(net.wait_converged(MAX_ROUNDS));
    assert_eq!(net.history.committed_data().len(), 75);
    net.assert_ok();
}

#[test]
fn same_seed_same_run() {
    let run = |seed| {
        let mut net = Cluster::new_mem(5, seed, compaction_config());
        net.add_filter(RandomDelay { max_rounds: 2 });
        net.add_filter(RandomDrop { per_mille: 100 });
        for i in 0..50 {
            let _ = net.propose_at_leader(&payload("d", i));
            net.step_round();
        }
        (
            net.history.committed_data(),
            net.stats.sent,
            net.round(),
            net.leader(),
        )
    };
    assert_eq!(run(42), run(42));
    assert_ne!(run(42).1, run(43).1, "different seeds should differ");
}

/// The negative control: node 2 acknowledges an entry before it is durable, loses it in a
/// power loss, and the entry the old leader already applied is overwritten at the same index.
/// Returns the violations the checker found.
fn ack_before_persist_scenario(fault: bool) -> Vec<String> {
    let mut net = Cluster::new_mem(3, 1, test_config());
    net.node_mut(1).campaign().expect("campaign");
    net.pump();
    assert_eq!(net.leader(), Some(1));
    net.propose(1, b"base").expect("accepted");
    assert!(net.wait_converged(MAX_ROUNDS));

    net.isolate(3);
    if fault {
        net.node_mut(2).inject_fault(Some(Fault::AckBeforePersist));
    }
    let x = net.propose(1, b"x").expect("accepted");
    // Deliver pass by pass until node 1 has applied x (node 2 acknowledged it), and stop there:
    // node 2 has not yet learned that x is committed.
    let mut passes = 0;
    while net.app(1).lock().applied_index < x.index {
        assert!(net.pass(), "stuck before x committed");
        passes += 1;
        assert!(passes < 20);
    }
    assert!(net.app(2).lock().applied_index < x.index);
    net.crash(2); // power loss: node 2 keeps only what it synced
    net.crash(1); // the old leader is gone; its application applied x
    net.restart(2).expect("node 2 restarts");
    net.recover();
    let leader = net.wait_leader(MAX_ROUNDS).expect("a leader among 2 and 3");
    net.propose(leader, b"y").expect("accepted");
    net.run(100);
    net.history.check_no_duplicates();
    let mut v = net.history.violations().to_vec();
    v.extend(net.check_logs());
    v
}

#[test]
fn negative_control_the_checker_catches_acknowledging_before_persisting() {
    let clean = ack_before_persist_scenario(false);
    assert!(
        clean.is_empty(),
        "without the fault the scenario is safe: {clean:?}"
    );
    let caught = ack_before_persist_scenario(true);
    assert!(
        caught.iter().any(|v| v.starts_with("index 4:")),
        "the checker must see that index 4 (x, applied by node 1) was committed differently: {caught:?}"
    );
}
