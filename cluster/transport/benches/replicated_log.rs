//! Raw replicated-log throughput and commit latency: Rampart's Raft (raft-rs driver, RocksDB
//! log with fsync, gRPC transport) next to etcd 3.4 (Debian `etcd-server`), 3 members each on
//! loopback, the same entry size and client count, in the same run.
//!
//!   cargo bench -p rampart-transport --bench replicated_log -- [entry_bytes] [clients] [seconds]
//!
//! Defaults: 256-byte entries, 64 clients, 10 s per system. Each client proposes one entry and
//! waits until it is committed and applied on the leader (Rampart) or until `Put` returns
//! (etcd: committed and applied by the member it talks to, the leader), then proposes the next.
//! Prints entries/s, p50/p99/max latency and the ratio Rampart / etcd. Without `etcd` on PATH
//! only the Rampart row is printed.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rampart_consensus::{
    CommittedEntry, ConsensusConfig, Driver, DriverConfig, DriverHandle, LogStore, RaftNode,
    RocksLogStore, SnapshotSource, SnapshotToApply, StateMachine,
};
use rampart_transport::{PeerHandler, PeerNetwork, SnapshotStream, TransportConfig, serve};
use tokio::sync::watch;

mod etcd {
    #![allow(clippy::all, missing_debug_implementations)]
    tonic::include_proto!("etcdserverpb");
}

struct Applied(watch::Sender<u64>);

impl StateMachine for Applied {
    fn apply(&mut self, entries: &[CommittedEntry]) -> Result<(), String> {
        if let Some(last) = entries.last() {
            self.0.send_replace(last.index);
        }
        Ok(())
    }
    fn restore(&mut self, s: &SnapshotToApply) -> Result<(), String> {
        self.0.send_replace(s.index);
        Ok(())
    }
}

struct NoSnapshot;
impl SnapshotSource for NoSnapshot {
    fn snapshot_data(&self, _: u64) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }
}

struct NoHandler;
#[tonic::async_trait]
impl PeerHandler for NoHandler {
    async fn relayed_txs(&self, _: u64, _: Vec<rampart_transport::RelayedTx>) -> (u32, u32) {
        (0, 0)
    }
    async fn snapshot(&self, _: u64, _: u64) -> Result<SnapshotStream, tonic::Status> {
        Err(tonic::Status::unavailable("none"))
    }
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
}

#[derive(Debug)]
struct Result_ {
    name: &'static str,
    committed: u64,
    secs: f64,
    latencies_us: Vec<u64>,
}

impl Result_ {
    fn rate(&self) -> f64 {
        self.committed as f64 / self.secs
    }
    fn pct(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

async fn run_clients<F, Fut>(clients: usize, secs: u64, op: F) -> (u64, f64, Vec<u64>)
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (op, stop) = (op.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if op(c, n).await {
                    lat.push(t.elapsed().as_micros() as u64);
                }
                n += 1;
            }
            lat
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    (all.len() as u64, elapsed, all)
}

async fn rampart(entry: usize, clients: usize, secs: u64) -> Result_ {
    let dir = tempfile::tempdir().unwrap();
    let ids = [1u64, 2, 3];
    let addrs: Vec<SocketAddr> = ids.iter().map(|_| free_addr()).collect();
    let mut nodes = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let net = PeerNetwork::new(id, "bench".into(), TransportConfig::default(), None).unwrap();
        for (j, &p) in ids.iter().enumerate() {
            if p != id {
                net.set_peer(p, &addrs[j].to_string()).unwrap();
            }
        }
        let mut log = RocksLogStore::open(&dir.path().join(format!("raft{id}"))).unwrap();
        log.bootstrap(&ids).unwrap();
        let mut c = ConsensusConfig::new(id);
        c.peers = ids.to_vec();
        let node = RaftNode::new(c, log, Box::new(NoSnapshot), 0).unwrap();
        let (applied, applied_rx) = watch::channel(0u64);
        let driver = Driver::spawn(
            node,
            net.clone(),
            Applied(applied),
            DriverConfig {
                tick_interval_ms: 100,
                ..DriverConfig::default()
            },
        )
        .unwrap();
        net.set_driver(driver.handle());
        let server = serve(addrs[i], &net, Arc::new(NoHandler)).await.unwrap();
        nodes.push((driver, net, server, applied_rx));
    }
    // Wait for a leader.
    let handles: Vec<DriverHandle> = nodes.iter().map(|n| n.0.handle()).collect();
    let leader = loop {
        let st = handles[0].status().unwrap().await.unwrap().unwrap();
        if let Some(l) = st.leader_id {
            break l;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let lh = handles[(leader - 1) as usize].clone();
    let applied = nodes[(leader - 1) as usize].3.clone();
    let payload = vec![0xabu8; entry];
    let (committed, elapsed, lat) = run_clients(clients, secs, move |_, _| {
        let (lh, mut applied, payload) = (lh.clone(), applied.clone(), payload.clone());
        async move {
            let Ok(pending) = lh.propose(payload) else {
                tokio::task::yield_now().await;
                return false;
            };
            let Ok(Ok(p)) = pending.await else {
                return false;
            };
            applied.wait_for(|&a| a >= p.index).await.is_ok()
        }
    })
    .await;
    for (driver, net, server, _) in nodes {
        server.stop().await;
        net.shutdown();
        tokio::task::spawn_blocking(move || driver.shutdown())
            .await
            .unwrap()
            .ok();
    }
    Result_ {
        name: "rampart (raft-rs + RocksDB + gRPC)",
        committed,
        secs: elapsed,
        latencies_us: lat,
    }
}

struct Etcd(Vec<Child>);
impl Drop for Etcd {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn etcd(entry: usize, clients: usize, secs: u64) -> Option<Result_> {
    if Command::new("etcd").arg("--version").output().is_err() {
        eprintln!("etcd not on PATH (apt-get install etcd-server): skipping the etcd row");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let peer: Vec<SocketAddr> = (0..3).map(|_| free_addr()).collect();
    let client: Vec<SocketAddr> = (0..3).map(|_| free_addr()).collect();
    let initial: Vec<String> = (0..3).map(|i| format!("e{i}=http://{}", peer[i])).collect();
    let mut procs = Etcd(Vec::new());
    for i in 0..3 {
        let child = Command::new("etcd")
            .args(["--name", &format!("e{i}")])
            .arg("--data-dir")
            .arg(dir.path().join(format!("e{i}")))
            .args(["--listen-peer-urls", &format!("http://{}", peer[i])])
            .args([
                "--initial-advertise-peer-urls",
                &format!("http://{}", peer[i]),
            ])
            .args(["--listen-client-urls", &format!("http://{}", client[i])])
            .args(["--advertise-client-urls", &format!("http://{}", client[i])])
            .args(["--initial-cluster", &initial.join(",")])
            .args(["--initial-cluster-state", "new", "--log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        procs.0.push(child);
    }
    // Find the leader: the member whose Put answers with its own member id as raft leader is
    // not exposed here, so ask etcdctl.
    let endpoints: Vec<String> = client.iter().map(|c| format!("http://{c}")).collect();
    let mut leader = None;
    for _ in 0..100 {
        if let Ok(out) = Command::new("etcdctl")
            .args(["--endpoints", &endpoints.join(","), "endpoint", "status"])
            .output()
        {
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            leader = text
                .lines()
                .find(|l| l.contains(", true,"))
                .and_then(|l| l.split(',').next())
                .map(str::to_owned);
            if leader.is_some() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let leader = leader.unwrap_or_else(|| endpoints[0].clone());
    let channel = tonic::transport::Endpoint::from_shared(leader)
        .unwrap()
        .connect()
        .await
        .ok()?;
    let payload = vec![0xabu8; entry];
    let (committed, elapsed, lat) = run_clients(clients, secs, move |c, n| {
        let mut kv = etcd::kv_client::KvClient::new(channel.clone());
        let payload = payload.clone();
        async move {
            kv.put(etcd::PutRequest {
                key: format!("bench/{c}/{n}").into_bytes(),
                value: payload,
            })
            .await
            .is_ok()
        }
    })
    .await;
    drop(procs);
    Some(Result_ {
        name: "etcd 3.4 (Debian etcd-server)",
        committed,
        secs: elapsed,
        latencies_us: lat,
    })
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let entry: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(256);
    let clients: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(64);
    let secs: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ours = rampart(entry, clients, secs).await;
        let theirs = etcd(entry, clients, secs).await;
        println!(
            "replicated log: 3 members on loopback, {entry}-byte entries, {clients} clients, {secs} s each"
        );
        println!(
            "{:<36} {:>10} {:>9} {:>9} {:>9}",
            "system", "entries/s", "p50 ms", "p99 ms", "max ms"
        );
        for r in std::iter::once(&ours).chain(theirs.as_ref()) {
            println!(
                "{:<36} {:>10.0} {:>9.2} {:>9.2} {:>9.2}",
                r.name,
                r.rate(),
                r.pct(0.5),
                r.pct(0.99),
                r.pct(1.0)
            );
        }
        if let Some(t) = &theirs {
            println!("ratio rampart / etcd (entries/s): {:.2}", ours.rate() / t.rate());
        }
    });
}
