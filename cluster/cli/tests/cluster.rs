//! Multi-process cluster tests: real `rampart node` processes on loopback, driven through
//! JSON-RPC, killed with SIGKILL, restarted, left in a minority by majority loss, a live leader
//! partitioned from the majority (the transport's fault injection), grown and shrunk.
//!
//! After every scenario the invariants are checked on every live replica:
//! - every transaction for which any node returned a receipt sits in the same block at the same
//!   position on every replica;
//! - block hashes (which cover the state commitment) are equal at every height;
//! - heights are contiguous from genesis (a block applied twice would break the hash chain
//!   and the store's parent check).
//!
//! Deadlines below bound liveness waits (generous, for a loaded 2-core machine); nothing here
//! asserts on speed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_rampart");
const DEADLINE: Duration = Duration::from_secs(90);

/// Dev accounts (public test keys) used as senders; node i's traffic comes from account i.
const DEV: [&str; 4] = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
];

/// A port no concurrently running test can take before the node binds it.
fn free_port() -> u16 {
    rampart_testkit::ports::port()
}

struct Member {
    id: u64,
    rpc_port: u16,
    peer_port: u16,
    config: PathBuf,
    child: Option<Child>,
    /// Extra environment of the process (OpenTelemetry export in the tracing test).
    env: Vec<(String, String)>,
}

impl Member {
    /// Member `id` on fresh ports, its configuration and log under `dir`; not started.
    fn new(dir: &Path, id: u64) -> Self {
        Self {
            id,
            rpc_port: free_port(),
            peer_port: free_port(),
            config: dir.join(format!("node{id}.toml")),
            child: None,
            env: Vec::new(),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rpc_port)
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.config.with_extension("log"))
            .expect("log file");
        let child = Command::new(BIN)
            .arg("node")
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn rampart node");
        self.child = Some(child);
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL");
            c.wait().expect("reap");
        }
    }

    fn alive(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill9();
    }
}

struct Cluster {
    dir: tempfile::TempDir,
    members: Vec<Member>,
}

struct Tuning {
    compaction: u64,
    retain: u64,
    max_entry_bytes: u64,
    /// `[cluster] fault_injection`: `rampart_debugPartition` answers.
    fault_injection: bool,
    /// Export spans over OTLP/gRPC to this endpoint; each node's resource names it `node<id>`.
    otlp_endpoint: Option<String>,
}

impl Default for Tuning {
    /// The node's own defaults.
    fn default() -> Self {
        Self {
            compaction: 10_000,
            retain: 1_000,
            max_entry_bytes: 8 << 20,
            fault_injection: false,
            otlp_endpoint: None,
        }
    }
}

impl Cluster {
    fn new(n: u64, tuning: &Tuning) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rampart-cluster-test-")
            .tempdir()
            .expect("tempdir");
        let mut members: Vec<Member> = (1..=n).map(|id| Member::new(dir.path(), id)).collect();
        let peers: Vec<(u64, u16)> = members.iter().map(|m| (m.id, m.peer_port)).collect();
        for m in &mut members {
            if let Some(endpoint) = &tuning.otlp_endpoint {
                m.env = vec![
                    ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint.clone()),
                    ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
                    (
                        "OTEL_RESOURCE_ATTRIBUTES".into(),
                        format!("service.instance.id=node{}", m.id),
                    ),
                ];
            }
            write_config(dir.path(), m, &peers, false, tuning);
            m.start();
        }
        Self { dir, members }
    }

    /// `n` single-node clusters on one chain: a deliberately broken "cluster" whose members do
    /// not replicate, for the negative control.
    fn independent(n: u64, tuning: &Tuning) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rampart-cluster-test-")
            .tempdir()
            .expect("tempdir");
        let mut members: Vec<Member> = (1..=n).map(|id| Member::new(dir.path(), id)).collect();
        for m in &mut members {
            write_config(dir.path(), m, &[(m.id, m.peer_port)], false, tuning);
            m.start();
        }
        Self { dir, members }
    }

    /// Starts node `id` as a joining member (empty log) that knows the current members.
    fn add_joiner(&mut self, id: u64, tuning: &Tuning) -> &Member {
        let mut m = Member::new(self.dir.path(), id);
        let peers: Vec<(u64, u16)> = self
            .members
            .iter()
            .map(|m| (m.id, m.peer_port))
            .chain([(id, m.peer_port)])
            .collect();
        write_config(self.dir.path(), &m, &peers, true, tuning);
        m.start();
        self.members.push(m);
        self.members.last().expect("just pushed")
    }

    fn member(&mut self, id: u64) -> &mut Member {
        self.members
            .iter_mut()
            .find(|m| m.id == id)
            .expect("member")
    }

    fn url_of(&self, id: u64) -> String {
        self.members
            .iter()
            .find(|m| m.id == id)
            .map(Member::url)
            .expect("member")
    }

    /// Some member that is none of `excluded`.
    fn other_than(&self, excluded: &[u64]) -> u64 {
        self.members
            .iter()
            .map(|m| m.id)
            .find(|id| !excluded.contains(id))
            .expect("another member")
    }

    fn live_urls(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.alive())
            .map(Member::url)
            .collect()
    }

    fn log_of(&self, id: u64) -> String {
        let m = self.members.iter().find(|m| m.id == id).expect("member");
        std::fs::read_to_string(m.config.with_extension("log")).unwrap_or_default()
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for m in &self.members {
            let log = std::fs::read_to_string(m.config.with_extension("log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            out.push_str(&format!("--- node {} ---\n", m.id));
            let lines: Vec<&str> = log.lines().collect();
            if let Some(p) = lines.iter().position(|l| l.contains("panicked")) {
                for l in &lines[p..(p + 3).min(lines.len())] {
                    out.push_str(l);
                    out.push('\n');
                }
            }
            for l in tail.iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

fn write_config(dir: &Path, m: &Member, peers: &[(u64, u16)], join: bool, t: &Tuning) {
    let peers_toml: String = peers
        .iter()
        .filter(|(id, _)| *id != m.id)
        .map(|(id, port)| format!("[[cluster.peers]]\nid = {id}\naddr = \"127.0.0.1:{port}\"\n"))
        .collect();
    let text = format!(
        r#"data_dir = "{data}"

[rpc]
addr = "127.0.0.1:{rpc}"

[block]
interval_ms = 50
empty_interval_ms = 500

[storage]
sync_writes = true

[cluster]
id = {id}
listen = "127.0.0.1:{peer}"
join = {join}
fault_injection = {fault_injection}

[cluster.raft]
tick_ms = 50
election_tick = 10
heartbeat_tick = 2
log_compaction_threshold_entries = {compaction}
log_retain_entries = {retain}
commit_timeout_ms = 3000
max_entry_bytes = {max_entry}

{peers_toml}"#,
        data = dir.join(format!("node{}", m.id)).display(),
        rpc = m.rpc_port,
        id = m.id,
        peer = m.peer_port,
        compaction = t.compaction,
        retain = t.retain,
        max_entry = t.max_entry_bytes,
        fault_injection = t.fault_injection,
    );
    std::fs::write(&m.config, text).expect("write config");
}

fn client(url: &str) -> HttpClient {
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(10))
        .build(url)
        .expect("client")
}

async fn rpc(
    url: &str,
    method: &str,
    params: jsonrpsee::core::params::ArrayParams,
) -> Result<Value, String> {
    client(url)
        .request::<Value, _>(method, params)
        .await
        .map_err(|e| e.to_string())
}

async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The leader all of `urls` name right now, if they agree on one.
async fn agreed_leader(urls: &[String]) -> Option<u64> {
    let mut leaders = Vec::new();
    for u in urls {
        let st = rpc(u, "rampart_status", rpc_params![]).await.ok()?;
        leaders.push(st["leader"].as_u64()?);
    }
    let first = *leaders.first()?;
    leaders.iter().all(|&l| l == first).then_some(first)
}

/// The id of the leader every live node agrees on.
///
/// Panics with the nodes' log tails when they do not agree within the deadline.
async fn leader(cluster: &Cluster) -> u64 {
    let urls = cluster.live_urls();
    let start = Instant::now();
    loop {
        if let Some(l) = agreed_leader(&urls).await {
            return l;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "timed out waiting for an agreed leader; logs:\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn block_number(url: &str) -> Option<u64> {
    let v = rpc(url, "eth_blockNumber", rpc_params![]).await.ok()?;
    u64::from_str_radix(v.as_str()?.trim_start_matches("0x"), 16).ok()
}

/// Sends `count` value transfers from `from` through `url`; returns the accepted hashes.
async fn send_transfers(url: &str, from: &str, count: usize) -> Vec<String> {
    let mut hashes = Vec::new();
    for i in 0..count {
        let tx = json!({
            "from": from,
            "to": format!("0x{:040x}", 0xbeef0000u64 + i as u64),
            "value": "0x1",
        });
        match rpc(url, "eth_sendTransaction", rpc_params![tx]).await {
            Ok(h) if h.as_str().is_some() => hashes.push(h.as_str().unwrap_or_default().to_owned()),
            // Not acknowledged (a test may expect that, e.g. from a minority): say why, so a
            // failing count explains itself in the test's output.
            other => eprintln!("send {i} from {from} through {url}: not acknowledged: {other:?}"),
        }
    }
    hashes
}

/// (block number, index) of each hash with a receipt at `url`.
async fn receipts(url: &str, hashes: &[String]) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for h in hashes {
        if let Ok(r) = rpc(url, "eth_getTransactionReceipt", rpc_params![h]).await
            && !r.is_null()
        {
            out.insert(
                h.clone(),
                (
                    r["blockHash"].as_str().unwrap_or_default().to_owned(),
                    r["transactionIndex"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                ),
            );
        }
    }
    out
}

/// Waits until every live node reached the same height, then checks the invariants up to it.
async fn check_invariants(cluster: &Cluster, acknowledged: &[String]) {
    let urls = cluster.live_urls();
    // Let the replicas converge on one height (the leader may keep producing empty blocks).
    let height = wait_for("replicas at a common height", || {
        let urls = urls.clone();
        async move {
            let mut min = u64::MAX;
            for u in &urls {
                min = min.min(block_number(u).await?);
            }
            Some(min)
        }
    })
    .await;
    // Every height from genesis up to `height`: one hash on every replica.
    for n in 0..=height {
        let mut hashes = Vec::new();
        for u in &urls {
            let b = wait_for("a block on every replica", || {
                let u = u.clone();
                async move {
                    let b = rpc(
                        &u,
                        "eth_getBlockByNumber",
                        rpc_params![format!("0x{n:x}"), false],
                    )
                    .await
                    .ok()?;
                    (!b.is_null()).then_some(b)
                }
            })
            .await;
            hashes.push((
                b["hash"].clone(),
                b["stateRoot"].clone(),
                b["parentHash"].clone(),
            ));
        }
        assert!(
            hashes.windows(2).all(|w| w[0] == w[1]),
            "replicas disagree at height {n}: {hashes:?}\n{}",
            cluster.logs()
        );
    }
    // Every acknowledged transaction: same block, same position everywhere.
    let mut views = Vec::new();
    for u in &urls {
        views.push(receipts(u, acknowledged).await);
    }
    for h in acknowledged {
        let seen: Vec<_> = views.iter().map(|v| v.get(h)).collect();
        if seen.iter().any(Option::is_some) {
            // Once any node has a receipt, every node must get the same one.
            for (u, _) in urls.iter().zip(&seen) {
                let r = wait_for("the receipt on every replica", || {
                    let (u, h) = (u.clone(), h.clone());
                    async move {
                        let r = rpc(&u, "eth_getTransactionReceipt", rpc_params![h])
                            .await
                            .ok()?;
                        (!r.is_null()).then_some((
                            r["blockHash"].as_str()?.to_owned(),
                            r["transactionIndex"].as_str()?.to_owned(),
                        ))
                    }
                })
                .await;
                let reference = seen.iter().flatten().next().expect("some");
                assert_eq!(&&r, reference, "tx {h} differs on {u}");
            }
        }
    }
}

async fn wait_receipts(url: &str, hashes: &[String]) {
    wait_for("receipts of acknowledged transactions", || async {
        (receipts(url, hashes).await.len() == hashes.len()).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicates_through_any_node_and_survives_leader_kill() {
    let tuning = Tuning::default();
    let mut cluster = Cluster::new(3, &tuning);
    let first = leader(&cluster).await;

    // Transactions through every node; each node's traffic from its own account.
    let mut acknowledged = Vec::new();
    for (i, url) in cluster.live_urls().iter().enumerate() {
        acknowledged.extend(send_transfers(url, DEV[i], 10).await);
    }
    assert_eq!(acknowledged.len(), 30, "every node accepts transactions");
    let any = cluster.live_urls()[0].clone();
    wait_receipts(&any, &acknowledged).await;
    check_invariants(&cluster, &acknowledged).await;

    // kill -9 the leader under load: send through the survivors meanwhile.
    let before = block_number(&any).await.expect("height");
    cluster.member(first).kill9();
    let survivors = cluster.live_urls();
    let mut during = Vec::new();
    for (i, url) in survivors.iter().enumerate() {
        during.extend(send_transfers(url, DEV[3 - i], 5).await);
    }
    let _second = wait_for("a new leader", || async {
        let l = leader(&cluster).await;
        (l != first).then_some(l)
    })
    .await;
    wait_receipts(&survivors[0], &during).await;
    let after = block_number(&survivors[0]).await.expect("height");
    assert!(after > before, "the new leader commits blocks");
    acknowledged.extend(during);
    check_invariants(&cluster, &acknowledged).await;

    // The old leader restarts and catches up from the log.
    cluster.member(first).start();
    let url = cluster.member(first).url();
    wait_receipts(&url, &acknowledged).await;
    check_invariants(&cluster, &acknowledged).await;

    // Leadership handed back on request: the transfer goes through the current leader.
    let current = leader(&cluster).await;
    let lurl = cluster.member(current).url();
    rpc(&lurl, "rampart_transferLeader", rpc_params![first])
        .await
        .expect("transfer requested");
    wait_for("the requested leader", || async {
        (leader(&cluster).await == first).then_some(())
    })
    .await;
    let after = send_transfers(&url, DEV[0], 3).await;
    wait_receipts(&url, &after).await;
    acknowledged.extend(after);
    check_invariants(&cluster, &acknowledged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minority_never_commits_and_majority_recovers() {
    let tuning = Tuning::default();
    let mut cluster = Cluster::new(3, &tuning);
    let first = leader(&cluster).await;
    // Fault injection is off by default: no one can partition a node through its RPC.
    let refused = rpc(
        &cluster.url_of(first),
        "rampart_debugPartition",
        rpc_params![vec![2u64]],
    )
    .await
    .expect_err("fault injection is off");
    assert!(refused.contains("fault injection is off"), "{refused}");
    let lone = cluster.other_than(&[first]);
    // Leave `lone` alone: kill both others.
    let others: Vec<u64> = cluster
        .members
        .iter()
        .map(|m| m.id)
        .filter(|&id| id != lone)
        .collect();
    for id in &others {
        cluster.member(*id).kill9();
    }
    let url = cluster.member(lone).url();
    let height = block_number(&url).await.expect("height");
    // It still accepts transactions into its pool, but nothing commits without a majority.
    let pending = send_transfers(&url, DEV[0], 3).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        block_number(&url).await,
        Some(height),
        "a minority committed a block"
    );
    assert!(receipts(&url, &pending).await.is_empty());

    // The majority returns: the pending transactions commit (they were kept in the pool).
    for id in &others {
        cluster.member(*id).start();
    }
    leader(&cluster).await;
    wait_receipts(&url, &pending).await;
    check_invariants(&cluster, &pending).await;
}

/// The leader stays up and keeps serving clients, but is cut off from the majority (the
/// transport's fault injection: it drops what it sends to them and refuses what they send,
/// as a network partition would). Transactions arrive on both sides meanwhile.
/// - The isolated leader accepts its clients' transactions and proposes a block with them,
///   which never commits: its height does not move and none of them gets a receipt.
/// - The majority elects a new leader and commits its own traffic.
/// - After healing, the old leader follows the new one, its uncommitted block is gone, and the
///   transactions it had accepted commit through the new leader: nothing acknowledged is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_leader_commits_nothing_and_loses_nothing() {
    let tuning = Tuning {
        fault_injection: true,
        ..Tuning::default()
    };
    let cluster = Cluster::new(3, &tuning);
    let old = leader(&cluster).await;
    let old_url = cluster.url_of(old);
    let majority: Vec<u64> = cluster
        .members
        .iter()
        .map(|m| m.id)
        .filter(|&id| id != old)
        .collect();
    let majority_urls: Vec<String> = majority.iter().map(|&id| cluster.url_of(id)).collect();
    let mut acknowledged = send_transfers(&old_url, DEV[0], 5).await;
    wait_receipts(&old_url, &acknowledged).await;

    // A node refuses a partition of itself (and a node without fault injection refuses any:
    // `minority_never_commits_and_majority_recovers`).
    let own = rpc(&old_url, "rampart_debugPartition", rpc_params![vec![old]]).await;
    assert!(own.is_err(), "a node cannot be cut off from itself");

    let cut = rpc(
        &old_url,
        "rampart_debugPartition",
        rpc_params![majority.clone()],
    )
    .await
    .expect("partition");
    assert_eq!(cut["cutOff"], json!(majority));
    let height = block_number(&old_url).await.expect("height");
    // The isolated leader still takes transactions from its clients.
    let stranded = send_transfers(&old_url, DEV[0], 5).await;
    assert_eq!(stranded.len(), 5, "the isolated node accepts transactions");

    // The majority elects a leader among itself and commits its own traffic.
    let new = wait_for("a new leader in the majority", || async {
        agreed_leader(&majority_urls).await.filter(|&l| l != old)
    })
    .await;
    assert!(majority.contains(&new));
    let mut during = send_transfers(&majority_urls[0], DEV[1], 5).await;
    during.extend(send_transfers(&majority_urls[1], DEV[2], 5).await);
    assert_eq!(during.len(), 10, "the majority accepts transactions");
    wait_receipts(&majority_urls[0], &during).await;

    // The minority side committed nothing, and its transactions did not leak to the majority.
    assert_eq!(
        block_number(&old_url).await,
        Some(height),
        "an isolated leader committed a block\n{}",
        cluster.logs()
    );
    assert!(receipts(&old_url, &stranded).await.is_empty());
    assert!(receipts(&majority_urls[0], &stranded).await.is_empty());
    // It did build and propose them: the block that never committed is what gets dropped.
    wait_for("the isolated leader's proposal to lapse", || {
        let log = cluster.log_of(old);
        async move {
            (log.contains("proposed block not committed in time")
                || log.contains("proposed block superseded"))
            .then_some(())
        }
    })
    .await;
    assert_eq!(block_number(&old_url).await, Some(height));

    // Heal: the old leader follows the new one and its transactions commit there.
    rpc(
        &old_url,
        "rampart_debugPartition",
        rpc_params![Vec::<u64>::new()],
    )
    .await
    .expect("heal");
    wait_receipts(&old_url, &during).await;
    wait_receipts(&majority_urls[0], &stranded).await;
    wait_receipts(&old_url, &stranded).await;
    acknowledged.extend(stranded);
    acknowledged.extend(during);
    check_invariants(&cluster, &acknowledged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_and_new_nodes_catch_up_by_snapshot_and_membership_changes() {
    // A tiny log, so a node that misses a few blocks needs a snapshot.
    let tuning = Tuning {
        compaction: 20,
        retain: 5,
        ..Tuning::default()
    };
    let mut cluster = Cluster::new(3, &tuning);
    let first = leader(&cluster).await;
    let follower = cluster.other_than(&[first]);
    cluster.member(follower).kill9();
    let url = cluster.member(first).url();
    let mut acknowledged = send_transfers(&url, DEV[0], 40).await;
    wait_receipts(&url, &acknowledged).await;
    // Well past the compaction threshold (empty blocks count too).
    let target = block_number(&url).await.expect("height") + 30;
    wait_for("the log to grow past compaction", || async {
        (block_number(&url).await? >= target).then_some(())
    })
    .await;

    // The follower comes back behind the compacted log: it installs a snapshot.
    cluster.member(follower).start();
    let furl = cluster.member(follower).url();
    wait_receipts(&furl, &acknowledged).await;
    check_invariants(&cluster, &acknowledged).await;
    assert!(
        cluster.log_of(follower).contains("snapshot installed"),
        "the lagging follower caught up through a snapshot"
    );

    // A fresh node joins as a learner, catches up, becomes a voter.
    let joiner = cluster.add_joiner(4, &tuning);
    let (jurl, jport) = (joiner.url(), joiner.peer_port);
    let leader_url = cluster.url_of(first);
    rpc(
        &leader_url,
        "rampart_addLearner",
        rpc_params![4, format!("127.0.0.1:{jport}")],
    )
    .await
    .unwrap_or_else(|e| panic!("add learner: {e}\n{}", cluster.logs()));
    wait_receipts(&jurl, &acknowledged).await;
    assert!(
        cluster.log_of(4).contains("snapshot installed"),
        "the new node caught up through a snapshot"
    );
    let leader_now = leader(&cluster).await;
    let lurl = cluster.member(leader_now).url();
    rpc(&lurl, "rampart_promoteVoter", rpc_params![4])
        .await
        .expect("promote");
    let st = rpc(&lurl, "rampart_status", rpc_params![])
        .await
        .expect("status");
    assert!(
        st["voters"].as_array().expect("voters").contains(&json!(4)),
        "node 4 is a voter: {st}"
    );
    let more = send_transfers(&jurl, DEV[1], 5).await;
    wait_receipts(&jurl, &more).await;
    acknowledged.extend(more);
    check_invariants(&cluster, &acknowledged).await;

    // Remove a follower (not the leader): the rest goes on.
    let leader_now = leader(&cluster).await;
    let victim = cluster.other_than(&[leader_now, 4]);
    let lurl = cluster.member(leader_now).url();
    rpc(&lurl, "rampart_removeNode", rpc_params![victim])
        .await
        .expect("remove");
    let st = rpc(&lurl, "rampart_status", rpc_params![])
        .await
        .expect("status");
    assert!(
        !st["voters"]
            .as_array()
            .expect("voters")
            .contains(&json!(victim)),
        "node {victim} removed: {st}"
    );
    cluster.member(victim).kill9();
    let more = send_transfers(&lurl, DEV[2], 5).await;
    wait_receipts(&lurl, &more).await;
    acknowledged.extend(more);
    check_invariants(&cluster, &acknowledged).await;
}

/// Negative control: the invariant checks must catch replicas that do not agree. Two nodes that
/// each form their own one-node cluster on the same genesis build different blocks at height 1
/// (the same holds for a build that applied a block twice or skipped the parent check), and
/// `check_invariants` must fail on them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "replicas disagree at height")]
async fn negative_control_divergent_replicas_are_caught() {
    let tuning = Tuning::default();
    let cluster = Cluster::independent(2, &tuning);
    // Different transactions on each, so their blocks differ. (Empty blocks built in the same
    // second are identical on both — blocks are a pure function of parent, time and txs.)
    let urls = cluster.live_urls();
    let send_one = |url: String, from: &'static str| async move {
        wait_for("a node that accepts a transaction", || {
            let url = url.clone();
            async move {
                let h = send_transfers(&url, from, 1).await;
                (!h.is_empty()).then_some(h)
            }
        })
        .await
    };
    let a = send_one(urls[0].clone(), DEV[0]).await;
    let b = send_one(urls[1].clone(), DEV[1]).await;
    wait_receipts(&urls[0], &a).await;
    wait_receipts(&urls[1], &b).await;
    check_invariants(&cluster, &[]).await;
}

/// Blocks whose Raft entry would exceed the entry limit are rebuilt smaller: with a 3 KiB limit
/// (a handful of transfers per block) a burst of transfers still commits completely.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_above_the_entry_limit_are_rebuilt_smaller() {
    let tuning = Tuning {
        max_entry_bytes: 3 << 10,
        ..Tuning::default()
    };
    let cluster = Cluster::new(3, &tuning);
    let first = leader(&cluster).await;
    let url = cluster.url_of(first);
    // Concurrent senders so that many transactions wait for one block.
    let mut tasks = Vec::new();
    for from in DEV {
        let url = url.clone();
        tasks.push(tokio::spawn(
            async move { send_transfers(&url, from, 25).await },
        ));
    }
    let mut acknowledged = Vec::new();
    for t in tasks {
        acknowledged.extend(t.await.expect("sender"));
    }
    assert_eq!(acknowledged.len(), 100);
    wait_receipts(&url, &acknowledged).await;
    check_invariants(&cluster, &acknowledged).await;
    assert!(
        cluster.members.iter().any(|m| cluster
            .log_of(m.id)
            .contains("rebuilding with fewer transactions")),
        "the entry limit was hit and handled:\n{}",
        cluster.logs()
    );
}

/// A minimal OTLP/gRPC trace collector: what the nodes export, flattened.
mod otlp {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
        TraceService, TraceServiceServer,
    };
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };
    use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value as AnyValue};

    #[derive(Clone, Debug)]
    pub struct Span {
        /// The exporting node (`service.instance.id`).
        pub node: String,
        pub name: String,
        pub trace: Vec<u8>,
        pub id: Vec<u8>,
        pub parent: Vec<u8>,
        /// (trace id, span id) of each link.
        pub links: Vec<(Vec<u8>, Vec<u8>)>,
        pub attrs: BTreeMap<String, String>,
    }

    #[derive(Clone, Default)]
    pub struct Collector(pub Arc<Mutex<Vec<Span>>>);

    impl Collector {
        pub fn spans(&self) -> Vec<Span> {
            self.0.lock().expect("lock").clone()
        }
    }

    fn text(kvs: &[KeyValue]) -> BTreeMap<String, String> {
        kvs.iter()
            .filter_map(|kv| {
                let v = match kv.value.as_ref()?.value.as_ref()? {
                    AnyValue::StringValue(s) => s.clone(),
                    AnyValue::IntValue(i) => i.to_string(),
                    AnyValue::BoolValue(b) => b.to_string(),
                    AnyValue::DoubleValue(d) => d.to_string(),
                    _ => return None,
                };
                Some((kv.key.clone(), v))
            })
            .collect()
    }

    #[tonic::async_trait]
    impl TraceService for Collector {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            let mut out = self.0.lock().expect("lock");
            for rs in request.into_inner().resource_spans {
                let resource = rs.resource.map(|r| text(&r.attributes)).unwrap_or_default();
                let node = resource
                    .get("service.instance.id")
                    .cloned()
                    .unwrap_or_default();
                for s in rs.scope_spans.into_iter().flat_map(|ss| ss.spans) {
                    out.push(Span {
                        node: node.clone(),
                        name: s.name,
                        trace: s.trace_id,
                        id: s.span_id,
                        parent: s.parent_span_id,
                        links: s
                            .links
                            .into_iter()
                            .map(|l| (l.trace_id, l.span_id))
                            .collect(),
                        attrs: text(&s.attributes),
                    });
                }
            }
            Ok(tonic::Response::new(ExportTraceServiceResponse {
                partial_success: None,
            }))
        }
    }

    /// Serves on a free loopback port; returns the endpoint URL.
    pub async fn start() -> (String, Collector) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let collector = Collector::default();
        let service = TraceServiceServer::new(collector.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        (format!("http://{addr}"), collector)
    }
}

/// An auditor follows a transaction end to end through the traces all nodes export: the
/// client's request on the follower that accepted it (`ingress.check`, with the transaction
/// hash) → a `node.tx_included` span in that same trace on the follower and on the leader
/// (which got the context with the relayed transaction) → through its link, the block's trace:
/// built and executed once on the leader, applied on every replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_follows_a_transaction_across_nodes_in_the_traces() {
    let (endpoint, collector) = otlp::start().await;
    let tuning = Tuning {
        otlp_endpoint: Some(endpoint),
        ..Tuning::default()
    };
    let cluster = Cluster::new(3, &tuning);
    let leader_id = leader(&cluster).await;
    let follower = cluster.other_than(&[leader_id]);
    let mut hashes = send_transfers(&cluster.url_of(follower), DEV[1], 3).await;
    assert_eq!(hashes.len(), 3);
    // A client that traces its own work sends a W3C traceparent header: the node's spans for
    // its request join the client's trace.
    let (client_trace, client_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let mut headers = jsonrpsee::http_client::HeaderMap::new();
    headers.insert(
        "traceparent",
        format!("00-{client_trace}-{client_span}-01")
            .parse()
            .expect("header"),
    );
    let traced_client = HttpClientBuilder::default()
        .set_headers(headers)
        .build(cluster.url_of(follower))
        .expect("client");
    let traced: Value = traced_client
        .request(
            "eth_sendTransaction",
            rpc_params![json!({"from": DEV[1], "to": DEV[3], "value": "0x1"})],
        )
        .await
        .expect("traced send");
    let traced = traced.as_str().expect("hash").to_owned();
    hashes.push(traced.clone());
    for url in cluster.live_urls() {
        wait_receipts(&url, &hashes).await;
    }
    let node = |id: u64| format!("node{id}");
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for h in &hashes {
        // Wait until every piece of this transaction's story has been exported.
        let (ingress, included, block_spans) = wait_for("the transaction's spans", || {
            let spans = collector.spans();
            let (h, node) = (h.clone(), node);
            async move {
                let ingress = spans
                    .iter()
                    .find(|s| s.name == "ingress.check" && s.attrs.get("tx_hash") == Some(&h))?
                    .clone();
                let included: Vec<otlp::Span> = spans
                    .iter()
                    .filter(|s| s.name == "node.tx_included" && s.attrs.get("tx_hash") == Some(&h))
                    .cloned()
                    .collect();
                if !included.iter().any(|s| s.node == node(follower))
                    || !included.iter().any(|s| s.node == node(leader_id))
                {
                    return None;
                }
                let block_trace = &included[0].links.first()?.0;
                let block_spans: Vec<otlp::Span> = spans
                    .iter()
                    .filter(|s| &s.trace == block_trace)
                    .cloned()
                    .collect();
                let applied_on = block_spans
                    .iter()
                    .filter(|s| s.name == "replication.apply_block")
                    .count();
                (applied_on >= 3).then_some((ingress, included, block_spans))
            }
        })
        .await;
        assert_eq!(ingress.node, node(follower), "accepted by the follower");
        for inc in &included {
            assert_eq!(
                inc.trace, ingress.trace,
                "{h}: inclusion joins the tx's trace"
            );
            assert_eq!(inc.parent, ingress.id, "{h}: under its ingress span");
            assert_eq!(inc.links.len(), 1);
            let (trace, span) = &inc.links[0];
            let linked = block_spans
                .iter()
                .find(|s| &s.trace == trace && &s.id == span)
                .unwrap_or_else(|| panic!("{h}: the linked span {} was exported", hex(span)));
            assert_eq!(linked.name, "replication.apply_block");
            assert_eq!(
                linked.node, inc.node,
                "linked to the apply on the same node"
            );
            assert_eq!(linked.attrs.get("number"), inc.attrs.get("number"));
        }
        // The block's trace: built and executed once, on the leader; applied on every node,
        // each apply a child of the build.
        let build: Vec<&otlp::Span> = block_spans
            .iter()
            .filter(|s| s.name == "node.build_block")
            .collect();
        assert_eq!(build.len(), 1, "built once");
        assert_eq!(build[0].node, node(leader_id));
        assert!(
            block_spans
                .iter()
                .any(|s| s.name == "executor.execute_block" && s.node == node(leader_id))
        );
        let mut applied: Vec<String> = block_spans
            .iter()
            .filter(|s| s.name == "replication.apply_block")
            .map(|s| {
                assert_eq!(s.parent, build[0].id, "apply is a child of the build");
                s.node.clone()
            })
            .collect();
        applied.sort();
        assert_eq!(
            applied,
            vec![node(1), node(2), node(3)],
            "applied once per node"
        );
        // The request that carried a traceparent: its spans are in the client's trace.
        let in_client_trace = hex(&ingress.trace) == client_trace;
        assert_eq!(
            in_client_trace,
            *h == traced,
            "{h}: trace {}",
            hex(&ingress.trace)
        );
        if *h == traced {
            let spans = collector.spans();
            let request = spans
                .iter()
                .find(|s| s.name == "rpc.request" && s.trace == ingress.trace)
                .expect("the request span in the client's trace");
            assert_eq!(
                hex(&request.parent),
                client_span,
                "a child of the client's span"
            );
        }
    }
}
