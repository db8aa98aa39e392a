//! The gRPC peer transport with real Raft drivers on loopback: elections and commits over
//! gRPC, with and without mutual TLS; a node with a foreign certificate is shut out; bad
//! peers (wrong cluster, wrong ids, garbage, oversized messages) are refused while the node
//! keeps serving; relayed transactions reach the handler.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::bytes::Bytes;
use rampart_consensus::storage::MemLogStore;
use rampart_consensus::testing::{SharedApp, test_config};
use rampart_consensus::{
    CommittedEntry, Driver, DriverConfig, DriverHandle, LogStore, RaftNode, SnapshotToApply,
    StateMachine,
};
use rampart_transport::pb::peer_client::PeerClient;
use rampart_transport::pb::{RaftEnvelope, TxBatch};
use rampart_transport::{
    CLUSTER_HEADER, NODE_ID_HEADER, PeerHandler, PeerNetwork, PeerServer, RelayedTx,
    SnapshotStream, TlsFiles, TransportConfig, generate_cluster_certs, serve,
};
use tonic::metadata::MetadataValue;

const CLUSTER: &str = "test-cluster";

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

type Relayed = (u64, Bytes, Bytes, Option<String>);

#[derive(Default)]
struct Recorder {
    /// (from, raw, sender, traceparent) of each relayed transaction.
    txs: Mutex<Vec<Relayed>>,
}

#[tonic::async_trait]
impl PeerHandler for Recorder {
    async fn relayed_txs(&self, from: u64, txs: Vec<RelayedTx>) -> (u32, u32) {
        let mut all = self.txs.lock().expect("lock");
        for t in txs {
            all.push((from, t.raw, t.sender, t.traceparent));
        }
        (all.len() as u32, 0)
    }

    async fn snapshot(&self, _from: u64, _min: u64) -> Result<SnapshotStream, tonic::Status> {
        Err(tonic::Status::unavailable("no snapshots in this test"))
    }
}

struct TestNode {
    id: u64,
    addr: SocketAddr,
    network: PeerNetwork,
    server: Option<PeerServer>,
    driver: Option<Driver>,
    handle: DriverHandle,
    app: SharedApp,
    recorder: Arc<Recorder>,
}

fn free_addr() -> SocketAddr {
    rampart_testkit::ports::addr()
}

/// Starts nodes `ids` (all initial voters) on fresh ports, each with its TLS files if given.
async fn start(ids: &[u64], tls: &[Option<TlsFiles>]) -> Vec<TestNode> {
    let addrs: Vec<SocketAddr> = ids.iter().map(|_| free_addr()).collect();
    let mut nodes = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let network = PeerNetwork::new(
            id,
            CLUSTER.into(),
            TransportConfig {
                min_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(200),
                ..TransportConfig::default()
            },
            tls[i].as_ref(),
        )
        .expect("network");
        for (j, &peer) in ids.iter().enumerate() {
            if peer != id {
                network.set_peer(peer, &addrs[j].to_string()).expect("peer");
            }
        }
        let mut store = MemLogStore::new();
        store.bootstrap(ids).expect("bootstrap");
        let app = SharedApp::default();
        let mut c = test_config();
        c.id = id;
        c.peers = ids.to_vec();
        c.election_jitter_ticks = 10;
        let node = RaftNode::new(c, store, Box::new(app.clone()), 0).expect("node");
        let driver = Driver::spawn(
            node,
            network.clone(),
            Apply(app.clone()),
            DriverConfig {
                tick_interval_ms: 10,
                ..DriverConfig::default()
            },
        )
        .expect("driver");
        let handle = driver.handle();
        network.set_driver(handle.clone());
        let recorder = Arc::new(Recorder::default());
        let server = serve(addrs[i], &network, recorder.clone())
            .await
            .expect("serve");
        nodes.push(TestNode {
            id,
            addr: server.local_addr,
            network,
            server: Some(server),
            driver: Some(driver),
            handle,
            app,
            recorder,
        });
    }
    nodes
}

async fn stop(nodes: Vec<TestNode>) {
    for mut n in nodes {
        if let Some(s) = n.server.take() {
            s.stop().await;
        }
        n.network.shutdown();
        if let Some(d) = n.driver.take() {
            tokio::task::spawn_blocking(move || d.shutdown())
                .await
                .expect("join")
                .expect("clean shutdown");
        }
    }
}

async fn status_leader(h: &DriverHandle) -> Option<u64> {
    let s = h.status().ok()?.await.ok()?.ok()?;
    s.leader_id
}

async fn wait<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Elects a leader among `nodes` and commits `n` proposals on all of them.
async fn elect_and_commit(nodes: &[TestNode], n: usize) {
    wait("an agreed leader", || async {
        let mut leaders = Vec::new();
        for node in nodes {
            leaders.push(status_leader(&node.handle).await);
        }
        leaders[0].is_some() && leaders.iter().all(|l| *l == leaders[0])
    })
    .await;
    let leader = status_leader(&nodes[0].handle).await.expect("leader");
    let lh = &nodes
        .iter()
        .find(|x| x.id == leader)
        .expect("leader node")
        .handle;
    for i in 0..n {
        lh.propose(format!("entry {i}").into_bytes())
            .expect("queued")
            .await
            .expect("answer")
            .expect("proposed");
    }
    wait("every node applied the entries", || async {
        nodes.iter().all(|x| x.app.lock().entries.len() >= n)
    })
    .await;
    let reference = nodes[0].app.lock().entries.clone();
    for x in &nodes[1..] {
        assert_eq!(
            x.app.lock().entries[..n],
            reference[..n],
            "same log on every node"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_elect_and_commit_over_grpc() {
    let nodes = start(&[1, 2, 3], &[None, None, None]).await;
    elect_and_commit(&nodes, 20).await;
    assert!(nodes[0].network.stats().raft_sent.load(Relaxed) > 0);
    stop(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_admits_members_and_shuts_out_a_foreign_certificate() {
    let dir = tempfile::tempdir().expect("tmp");
    let certs = generate_cluster_certs(&dir.path().join("cluster"), &[1, 2, 3]).expect("certs");
    let tls: Vec<Option<TlsFiles>> = certs.iter().map(|(_, f)| Some(f.clone())).collect();
    let nodes = start(&[1, 2, 3], &tls).await;
    elect_and_commit(&nodes, 5).await;

    // Members relay to each other over TLS.
    nodes[1].network.relay(RelayedTx::new(
        Bytes::from_static(b"member tx"),
        Bytes::from(vec![2u8; 20]),
    ));
    wait("a member's relay arrives", || async {
        !nodes[0].recorder.txs.lock().expect("lock").is_empty()
    })
    .await;

    // A node whose certificate comes from another CA cannot deliver anything.
    let foreign = generate_cluster_certs(&dir.path().join("other"), &[4]).expect("certs");
    let intruder = PeerNetwork::new(
        4,
        CLUSTER.into(),
        TransportConfig::default(),
        Some(&foreign[0].1),
    )
    .expect("network");
    intruder
        .set_peer(1, &nodes[0].addr.to_string())
        .expect("peer");
    for _ in 0..5 {
        intruder.relay(RelayedTx::new(
            Bytes::from_static(b"intruder tx"),
            Bytes::from(vec![4u8; 20]),
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = nodes[0].recorder.txs.lock().expect("lock").clone();
    assert!(
        received.iter().all(|(from, ..)| *from != 4),
        "a foreign certificate got through: {received:?}"
    );
    assert_eq!(intruder.stats().txs_relayed.load(Relaxed), 0);
    // A plaintext client is refused as well.
    if let Ok(mut c) = PeerClient::connect(format!("http://{}", nodes[0].addr)).await {
        let r = c
            .forward_txs(request(
                TxBatch {
                    from: 9,
                    raw_txs: vec![],
                    senders: vec![],
                    traceparents: vec![],
                },
                CLUSTER,
                9,
            ))
            .await;
        assert!(r.is_err(), "plaintext call to a TLS server must fail");
    }
    // And the cluster still works.
    elect_and_commit(&nodes, 10).await;
    intruder.shutdown();
    stop(nodes).await;
}

fn request<T>(body: T, cluster: &str, id: u64) -> tonic::Request<T> {
    let mut r = tonic::Request::new(body);
    r.metadata_mut().insert(
        CLUSTER_HEADER,
        MetadataValue::try_from(cluster).expect("ascii"),
    );
    r.metadata_mut()
        .insert(NODE_ID_HEADER, MetadataValue::from(id));
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_peers_are_refused_and_the_node_keeps_serving() {
    let nodes = start(&[1, 2, 3], &[None, None, None]).await;
    elect_and_commit(&nodes, 3).await;
    let target = &nodes[0];
    let mut client = PeerClient::connect(format!("http://{}", target.addr))
        .await
        .expect("connect");
    let stream = |envs: Vec<RaftEnvelope>| tokio_stream::iter(envs);

    // Another cluster.
    let r = client
        .raft(request(stream(vec![]), "other-cluster", 2))
        .await
        .expect_err("wrong cluster");
    assert_eq!(r.code(), tonic::Code::FailedPrecondition);
    // No or a bad node id.
    let mut req = tonic::Request::new(stream(vec![]));
    req.metadata_mut().insert(
        CLUSTER_HEADER,
        MetadataValue::try_from(CLUSTER).expect("ascii"),
    );
    assert_eq!(
        client.raft(req).await.expect_err("no id").code(),
        tonic::Code::InvalidArgument
    );
    // Garbage instead of a Raft message.
    let garbage = RaftEnvelope {
        from: 2,
        to: 1,
        message: Bytes::from_static(&[0xff; 64]),
    };
    let r = client
        .raft(request(stream(vec![garbage]), CLUSTER, 2))
        .await
        .expect_err("garbage");
    assert_eq!(r.code(), tonic::Code::InvalidArgument);
    // An envelope claiming another sender than the caller.
    let forged = RaftEnvelope {
        from: 3,
        to: 1,
        message: Bytes::new(),
    };
    let r = client
        .raft(request(stream(vec![forged]), CLUSTER, 2))
        .await
        .expect_err("forged");
    assert_eq!(r.code(), tonic::Code::InvalidArgument);
    // Oversized: refused by the frame limit before decoding.
    let huge = RaftEnvelope {
        from: 2,
        to: 1,
        message: Bytes::from(vec![0u8; TransportConfig::default().max_message_bytes + 1]),
    };
    let mut big_client = PeerClient::connect(format!("http://{}", target.addr))
        .await
        .expect("connect")
        .max_encoding_message_size(64 << 20);
    let r = big_client
        .raft(request(stream(vec![huge]), CLUSTER, 2))
        .await
        .expect_err("oversized");
    assert_eq!(r.code(), tonic::Code::OutOfRange, "{r:?}");
    // Relayed transactions without one sender per transaction.
    let r = client
        .forward_txs(request(
            TxBatch {
                from: 2,
                raw_txs: vec![Bytes::from_static(b"tx")],
                senders: vec![],
                traceparents: vec![],
            },
            CLUSTER,
            2,
        ))
        .await
        .expect_err("senders");
    assert_eq!(r.code(), tonic::Code::InvalidArgument);
    assert!(
        target
            .server
            .as_ref()
            .expect("server")
            .stats
            .raft_rejected
            .load(Relaxed)
            >= 2
    );

    // The node kept serving: relays arrive and the cluster still commits.
    let ok = client
        .forward_txs(request(
            TxBatch {
                from: 2,
                raw_txs: vec![Bytes::from_static(b"raw")],
                senders: vec![Bytes::from_static(&[7u8; 20])],
                // Not one per transaction: the batch is relayed without trace contexts.
                traceparents: vec!["junk".into(), "more junk".into()],
            },
            CLUSTER,
            2,
        ))
        .await
        .expect("relay");
    assert_eq!(ok.into_inner().accepted, 1);
    let relayed = target.recorder.txs.lock().expect("lock")[0].clone();
    assert_eq!((relayed.0, relayed.3), (2, None));
    elect_and_commit(&nodes, 6).await;
    stop(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_delivers_batches_to_every_peer() {
    let nodes = start(&[1, 2, 3], &[None, None, None]).await;
    // Every fifth one carries a trace context; the others arrive without one.
    let traceparent = |i: u8| {
        i.is_multiple_of(5)
            .then(|| format!("00-{:032x}-{:016x}-01", u128::from(i) + 1, i + 1))
    };
    for i in 0..50u8 {
        nodes[0].network.relay(RelayedTx {
            raw: Bytes::from(vec![i; 10]),
            sender: Bytes::from(vec![1u8; 20]),
            traceparent: traceparent(i),
        });
    }
    wait("both peers received 50 relayed txs", || async {
        nodes[1..]
            .iter()
            .all(|n| n.recorder.txs.lock().expect("lock").len() == 50)
    })
    .await;
    for n in &nodes[1..] {
        let txs = n.recorder.txs.lock().expect("lock").clone();
        assert!(
            txs.iter()
                .all(|(from, _, s, _)| *from == 1 && s.len() == 20)
        );
        assert!(
            txs.iter().all(|(_, t, _, tp)| *tp == traceparent(t[0])),
            "trace contexts travel with their transactions"
        );
        let mut got: Vec<u8> = txs.iter().map(|(_, t, ..)| t[0]).collect();
        got.sort_unstable();
        assert_eq!(
            got,
            (0..50).collect::<Vec<u8>>(),
            "every relayed tx arrives once"
        );
    }
    stop(nodes).await;
}

/// Partition the leader from the majority with the transport's fault injection, set on the
/// leader alone (it drops what it sends to them and refuses what they send): the isolated
/// leader's proposal never commits, the majority elects a new leader and commits; after
/// healing, the old leader's uncommitted entry is replaced and every log agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_leader_never_commits_and_the_majority_goes_on() {
    let nodes = start(&[1, 2, 3], &[None, None, None]).await;
    elect_and_commit(&nodes, 3).await;
    let old = status_leader(&nodes[0].handle).await.expect("leader");
    let others: Vec<u64> = nodes.iter().map(|n| n.id).filter(|&id| id != old).collect();
    let leader = nodes.iter().find(|n| n.id == old).expect("leader");
    leader
        .network
        .set_partition(others.iter().copied().collect());
    assert_eq!(leader.network.partition().len(), 2);
    let applied_before = leader.app.lock().entries.len();
    // The isolated leader still takes the proposal into its log (it does not know yet) …
    let _ = leader
        .handle
        .propose(b"isolated".to_vec())
        .expect("queued")
        .await;
    // … and the majority elects another leader and commits without it.
    let majority: Vec<&TestNode> = nodes.iter().filter(|n| n.id != old).collect();
    wait("a new leader in the majority", || async {
        let l = status_leader(&majority[0].handle).await;
        l.is_some() && l != Some(old) && status_leader(&majority[1].handle).await == l
    })
    .await;
    let new = status_leader(&majority[0].handle).await.expect("leader");
    let nh = &nodes
        .iter()
        .find(|n| n.id == new)
        .expect("new leader")
        .handle;
    for i in 0..5 {
        nh.propose(format!("majority {i}").into_bytes())
            .expect("queued")
            .await
            .expect("answer")
            .expect("proposed");
    }
    wait("the majority applied its entries", || async {
        majority
            .iter()
            .all(|n| n.app.lock().entries.iter().any(|e| e.data == b"majority 4"))
    })
    .await;
    assert_eq!(
        leader.app.lock().entries.len(),
        applied_before,
        "the isolated leader applied nothing while cut off"
    );
    assert!(
        majority
            .iter()
            .all(|n| n.app.lock().entries.iter().all(|e| e.data != b"isolated")),
        "the isolated proposal never committed"
    );
    // Both directions were cut: the leader dropped its own messages, and the majority's
    // calls to it were refused.
    assert!(leader.network.stats().raft_partitioned.load(Relaxed) > 0);
    let refused = leader
        .server
        .as_ref()
        .expect("server")
        .stats
        .calls_refused
        .load(Relaxed);
    assert!(refused > 0, "the majority's calls were refused");
    // Heal: the old leader catches up, and its uncommitted entry is gone everywhere.
    leader.network.set_partition(Default::default());
    wait("the old leader caught up", || async {
        leader
            .app
            .lock()
            .entries
            .iter()
            .any(|e| e.data == b"majority 4")
    })
    .await;
    let reference = majority[0].app.lock().entries.clone();
    for n in &nodes {
        let e = n.app.lock().entries.clone();
        let k = e.len().min(reference.len());
        assert_eq!(
            e[..k],
            reference[..k],
            "logs agree after healing (node {})",
            n.id
        );
        assert!(e.iter().all(|x| x.data != b"isolated"));
    }
    stop(nodes).await;
}
