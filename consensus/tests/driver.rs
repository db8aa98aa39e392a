//! The threaded Ready loop: three drivers joined by an in-process transport.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rampart_consensus::storage::MemLogStore;
use rampart_consensus::testing::{SharedApp, test_config};
use rampart_consensus::{
    CommittedEntry, ConsensusError, Driver, DriverConfig, DriverHandle, LogStore, Message,
    RaftNode, SnapshotToApply, StateMachine, Transport,
};

type Peers = Arc<Mutex<BTreeMap<u64, DriverHandle>>>;

struct Loopback(Peers);

impl Transport for Loopback {
    fn send(&self, msg: Message) {
        let peers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(h) = peers.get(&msg.to) {
            // A full queue drops the message, as a real transport would.
            let _ = h.step(msg);
        }
    }
}

/// Applies into the shared test application state.
struct Apply(SharedApp);

impl StateMachine for Apply {
    fn apply(&mut self, entries: &[CommittedEntry]) -> Result<(), String> {
        let mut app = self.0.lock();
        for e in entries {
            app.apply(e);
        }
        Ok(())
    }

    fn restore(&mut self, snapshot: &SnapshotToApply) -> Result<(), String> {
        self.0.lock().restore(snapshot)
    }
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn three_drivers_elect_a_leader_and_commit_everywhere() {
    let ids = [1u64, 2, 3];
    let peers: Peers = Arc::default();
    let config = DriverConfig {
        tick_interval_ms: 5,
        ..DriverConfig::default()
    };
    let mut drivers = Vec::new();
    let mut apps = Vec::new();
    for id in ids {
        let mut store = MemLogStore::new();
        store.bootstrap(&ids).expect("bootstrap");
        let app = SharedApp::default();
        let mut c = test_config();
        c.id = id;
        c.peers = ids.to_vec();
        c.election_jitter_ticks = 10; // real clocks: let raft-rs randomize
        let node = RaftNode::new(c, store, Box::new(app.clone()), 0).expect("node");
        let d = Driver::spawn(
            node,
            Loopback(peers.clone()),
            Apply(app.clone()),
            config.clone(),
        )
        .expect("spawn");
        peers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, d.handle());
        drivers.push(d);
        apps.push(app);
    }
    let handles: Vec<DriverHandle> = drivers.iter().map(Driver::handle).collect();
    let leader = || {
        handles.iter().find_map(|h| {
            let s = h.status().ok()?.blocking_recv().ok()?.ok()?;
            s.leader_id.filter(|&l| l == s.id)
        })
    };
    wait("a leader", || leader().is_some());

    let mut accepted = 0;
    let mut n = 0;
    while accepted < 50 {
        n += 1;
        let l = leader().expect("leader");
        let h = &handles[(l - 1) as usize];
        match h
            .propose(format!("tx{n}").into_bytes())
            .expect("queued")
            .blocking_recv()
        {
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(e)) if e.is_retryable() => {}
            other => panic!("proposal failed: {other:?}"),
        }
    }
    let data = |app: &SharedApp| app.lock().entries.len();
    wait("every node applied 50 entries", || {
        apps.iter().all(|a| data(a) >= accepted)
    });
    let reference = apps[0].lock().entries.clone();
    for a in &apps[1..] {
        let e = a.lock().entries.clone();
        let n = e.len().min(reference.len());
        assert_eq!(e[..n], reference[..n]);
    }
    assert!(reference.iter().all(|a| a.data.starts_with(b"tx")));

    // A follower refuses proposals with a hint to the leader.
    let l = leader().expect("leader");
    let f = ids.iter().copied().find(|&i| i != l).expect("a follower");
    let refused = handles[(f - 1) as usize]
        .propose(b"x".to_vec())
        .expect("queued")
        .blocking_recv();
    assert!(
        matches!(refused, Ok(Err(ConsensusError::NotLeader { leader_hint: Some(h) })) if h == l)
    );

    for d in drivers {
        d.shutdown().expect("clean shutdown");
    }
    assert!(matches!(
        handles[0].propose(b"late".to_vec()),
        Err(ConsensusError::Stopped(_))
    ));
}

#[test]
fn a_full_message_queue_refuses_instead_of_blocking() {
    let mut store = MemLogStore::new();
    store.bootstrap(&[1]).expect("bootstrap");
    let app = SharedApp::default();
    let node = RaftNode::new(test_config(), store, Box::new(app.clone()), 0).expect("node");
    struct Nowhere;
    impl Transport for Nowhere {
        fn send(&self, _msg: Message) {}
    }
    let config = DriverConfig {
        tick_interval_ms: 1_000,
        max_pending_messages: 2,
        ..DriverConfig::default()
    };
    let d = Driver::spawn(node, Nowhere, Apply(app), config).expect("spawn");
    let h = d.handle();
    // Flood faster than the loop drains; at some point the bound answers.
    let mut refused = false;
    for _ in 0..100_000 {
        let m = Message {
            from: 2,
            to: 1,
            ..Message::default()
        };
        if let Err(e) = h.step(m) {
            assert!(matches!(e, ConsensusError::Overloaded { queue: "message" }));
            refused = true;
            break;
        }
    }
    assert!(refused, "the queue never filled");
    d.shutdown().expect("shutdown");
}
