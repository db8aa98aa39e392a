//! `rampart bench` against a real Rampart dev node, started in-process (`Node::start` on a
//! temporary data dir): every workload runs, the report's counts add up, what it says was
//! committed is on chain (checked through the node's backend, not through the report), and the
//! JSON and SVG outputs parse. Bad input gives the matching `BenchError`. Small runs; nothing is
//! timed.

use std::path::Path;

use alloy_primitives::{Address, U256};
use rampart_bench::{BenchError, Report, RunOptions, Scenario, WorkloadKind, keys, plots};
use rampart_node::native::NativeBackend;
use rampart_node::{Node, NodeConfig};
use rampart_rpc::EthBackend as _;

struct Dev {
    node: Node,
    _dir: tempfile::TempDir,
}

impl Dev {
    async fn start() -> Self {
        Self::start_with(|_, _| {}).await
    }
    /// A dev node whose config `tune` adjusts (given the config and the data dir).
    async fn start_with(tune: impl FnOnce(&mut NodeConfig, &Path)) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let mut c = NodeConfig::default();
        c.rpc.addr = "127.0.0.1:0".parse().expect("addr");
        c.metrics.addr = Some("127.0.0.1:0".parse().expect("addr"));
        c.block.interval_ms = 20;
        c.storage.sync_writes = false;
        tune(&mut c, dir.path());
        let node = Node::start(c, dir.path()).await.expect("node starts");
        Self { node, _dir: dir }
    }
    fn url(&self) -> String {
        format!("http://{}", self.node.rpc_addr)
    }
    fn metrics_url(&self) -> String {
        format!(
            "http://{}/metrics",
            self.node.metrics_addr.expect("metrics on")
        )
    }
    fn head(&self) -> u64 {
        self.node.backend.head_number().expect("head")
    }
    /// Σ of the first `n` bench senders' nonces at the head, read from the node's state.
    fn sender_nonces(&self, n: usize) -> u64 {
        let head = self.head();
        keys::sender_keys(n)
            .iter()
            .map(|k| self.node.backend.nonce(&k.address(), head).expect("nonce"))
            .sum()
    }
    fn balance(&self, a: &Address) -> U256 {
        self.node.backend.balance(a, self.head()).expect("balance")
    }
}

fn scenario(url: &str, workload: WorkloadKind) -> Scenario {
    Scenario {
        name: Some(format!("test-{workload}")),
        endpoints: vec![url.to_string()],
        workload,
        senders: 6,
        txs: Some(90),
        warmup_txs: 12,
        concurrency: 6,
        contention: 0.5,
        pools: 3,
        proxies: 3,
        timeout_s: 60,
        poll_ms: 5,
        ..Scenario::default()
    }
}

/// The report's own arithmetic and chain check.
fn check_counts(r: &Report, sc: &Scenario) {
    let c = &r.counts;
    assert_eq!(c.submitted, sc.measured_txs(), "{r}");
    assert_eq!(c.submitted, c.committed + c.rejected + c.timed_out, "{r}");
    assert_eq!(c.committed, c.succeeded + c.reverted, "{r}");
    assert_eq!(c.failed, c.rejected + c.reverted + c.timed_out, "{r}");
    assert_eq!(c.failed, 0, "a quiet dev node fails nothing:\n{r}");
    assert!(r.passed, "{r}");
    assert!(c.hot > 0 && c.hot < c.submitted, "contention 0.5: {r}");
    let cc = &r.chain_check;
    assert!(cc.matches, "{r}");
    assert_eq!(cc.receipts_found, c.committed, "{r}");
    assert_eq!(cc.receipts_missing, 0);
    assert_eq!(
        cc.committed_incl_warmup,
        (sc.warmup_txs + c.committed) as u64
    );
    assert_eq!(cc.nonces_advanced, cc.committed_incl_warmup);
    assert!(r.throughput.committed_tx_per_s > 0.0);
    assert!(r.throughput.gas_used >= 21_000 * c.committed as u64, "{r}");
    assert!(r.throughput.gas_per_s > 0.0);
    let l = r.latency_ms.as_ref().expect("latency");
    assert_eq!(l.count, c.committed);
    assert!(l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max);
    assert_eq!(
        r.latency_histogram.iter().map(|b| b.count).sum::<usize>(),
        c.committed
    );
    assert!(r.client.sign_tx_per_s > 0.0 && r.client.serialise_tx_per_s > 0.0);
    assert!(r.client.submit_tx_per_s > 0.0);
    assert!(!r.series.points.is_empty());
}

/// JSON and SVG outputs are written and parse.
fn check_outputs(r: &Report, dir: &Path) {
    let json = dir.join("report.json");
    rampart_bench::write_json(&json, r).expect("json written");
    let text = std::fs::read_to_string(&json).expect("read json");
    let back: Report = serde_json::from_str(&text).expect("json parses as a Report");
    assert_eq!(back.counts, r.counts);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["counts"]["committed"], r.counts.committed);
    let written = plots::write_all(&dir.join("plots"), r).expect("plots written");
    assert_eq!(written.len(), 3);
    for p in written {
        let svg = std::fs::read_to_string(&p).expect("read svg");
        let doc = roxmltree::Document::parse(&svg)
            .unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", p.display()));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let texts: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(str::to_string))
            .collect();
        assert!(texts.len() > 5, "{}: axis labels missing", p.display());
        let lines = doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline") || n.has_tag_name("rect"))
            .count();
        assert!(lines > 0, "{}: no data drawn", p.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eth_transfers_all_hot_land_on_the_hot_account() {
    let dev = Dev::start().await;
    let mut sc = scenario(&dev.url(), WorkloadKind::Eth);
    sc.contention = 1.0;
    let r = rampart_bench::run(&sc, RunOptions::default())
        .await
        .expect("runs");
    let c = &r.counts;
    assert_eq!(c.submitted, c.committed, "{r}");
    assert_eq!(c.hot, c.submitted);
    assert!(r.chain_check.matches, "{r}");
    // Independently, from the node's state: 1 wei per committed transfer, warm-up included.
    let hot = rampart_bench::workload::hot_accounts(1)[0];
    assert_eq!(
        dev.balance(&hot),
        U256::from(sc.warmup_txs + c.committed),
        "{r}"
    );
    assert_eq!(
        dev.sender_nonces(sc.senders),
        (sc.warmup_txs + c.committed) as u64
    );
    assert_eq!(r.throughput.gas_used, 21_000 * c.committed as u64);
    dev.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erc20_round_robin_over_two_endpoints_with_outputs() {
    let dev = Dev::start().await;
    let mut sc = scenario(&dev.url(), WorkloadKind::Erc20);
    // The same node twice: two endpoints, round-robin, every receipt read back from each.
    sc.endpoints
        .push(dev.url().replace("127.0.0.1", "localhost"));
    let r = rampart_bench::run(&sc, RunOptions::default())
        .await
        .expect("runs");
    check_counts(&r, &sc);
    assert_eq!(r.endpoints.len(), 2);
    assert_eq!(r.params.http_clients % 2, 0);
    assert_eq!(
        dev.sender_nonces(sc.senders),
        (sc.warmup_txs + r.counts.committed) as u64
    );
    let out = tempfile::tempdir().expect("tmp");
    check_outputs(&r, out.path());
    dev.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amm_swaps_with_node_metrics() {
    let dev = Dev::start().await;
    let mut sc = scenario(&dev.url(), WorkloadKind::Amm);
    sc.metrics_url = Some(dev.metrics_url());
    let r = rampart_bench::run(&sc, RunOptions::default())
        .await
        .expect("runs");
    check_counts(&r, &sc);
    // Each sender approved every pool for both tokens before the measured swaps.
    assert_eq!(
        dev.sender_nonces(sc.senders),
        (sc.senders * sc.pools * 2 + sc.warmup_txs + r.counts.committed) as u64
    );
    assert_eq!(
        r.contracts
            .iter()
            .filter(|(n, _)| n.starts_with("pool"))
            .count(),
        sc.pools
    );
    let node = r.node.as_ref().expect("node figures");
    let txs = node.txs_committed.expect("txs_committed_total");
    assert!(txs >= r.counts.committed as f64, "{r}");
    assert!(node.blocks_committed.expect("blocks") >= 1.0);
    let out = tempfile::tempdir().expect("tmp");
    check_outputs(&r, out.path());
    dev.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uups_increments_through_upgraded_proxies() {
    let dev = Dev::start().await;
    let sc = scenario(&dev.url(), WorkloadKind::Uups);
    let r = rampart_bench::run(&sc, RunOptions::default())
        .await
        .expect("runs");
    check_counts(&r, &sc);
    assert_eq!(
        r.chain_check.workload_observed,
        (sc.warmup_txs + r.counts.committed).to_string(),
        "{r}"
    );
    assert_eq!(
        dev.sender_nonces(sc.senders),
        (sc.warmup_txs + r.counts.committed) as u64
    );
    dev.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_with_a_duration() {
    let dev = Dev::start().await;
    let mut sc = scenario(&dev.url(), WorkloadKind::Eth);
    sc.txs = None;
    sc.rate = 100.0;
    sc.duration_s = Some(1.0);
    sc.warmup_txs = 0;
    let r = rampart_bench::run(&sc, RunOptions::default())
        .await
        .expect("runs");
    // rate × duration transactions are pre-signed; those due before the end are sent.
    assert_eq!(r.params.txs, 100);
    let c = &r.counts;
    assert!(c.submitted > 0 && c.submitted <= 100, "{r}");
    assert_eq!(c.submitted, c.committed + c.rejected + c.timed_out);
    assert!(r.submit_lag_ms.is_some());
    assert!(r.chain_check.matches, "{r}");
    dev.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_is_refused_by_a_node_with_native_contracts_off() {
    let dev = Dev::start_with(|c, _| c.native.backend = NativeBackend::Off).await;
    let head = dev.head();
    let sc = scenario(&dev.url(), WorkloadKind::Native);
    let e = rampart_bench::run(&sc, RunOptions::default())
        .await
        .expect_err("native contracts are off");
    assert!(matches!(e, BenchError::NativeUnsupported { .. }), "{e:?}");
    let m = e.to_string();
    assert!(
        m.contains("target does not support native contracts"),
        "{m}"
    );
    assert!(m.contains("off on that node"), "{m}");
    assert!(dev.head() <= head + 1, "nothing was sent");
    dev.node.shutdown().await;
}

/// The `native` workload against a node running native contracts (the `process` sandbox: this
/// test is about the load generator; the gVisor backend has its own tests): the C token is
/// deployed through the deployer, minted and handed out, and every measured transfer runs in a
/// contract process; the report's counts and chain check hold and the state agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_token_transfers_on_a_node_with_native_contracts() {
    native_token_transfers(false).await;
}

/// The same with the token deployed with persistent processes (`native_persistent`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_native_token_transfers() {
    native_token_transfers(true).await;
}

async fn native_token_transfers(persistent: bool) {
    let art = rampart_native::testing::artifacts();
    let dev = Dev::start_with(|c, dir| {
        c.native.backend = NativeBackend::Process;
        c.native.host_binary = Some(art.host.clone());
        c.native.work_dir = Some(dir.join("native"));
    })
    .await;
    let mut sc = scenario(&dev.url(), WorkloadKind::Native);
    sc.native_binary = Some(art.c_token.clone());
    sc.native_persistent = persistent;
    sc.txs = Some(40);
    sc.warmup_txs = 6;
    let r = rampart_bench::run(&sc, RunOptions::default())
        .await
        .expect("runs");
    check_counts(&r, &sc);
    assert_eq!(
        dev.sender_nonces(sc.senders),
        (sc.warmup_txs + r.counts.committed) as u64
    );
    let (name, token) = r.contracts[0].clone();
    assert_eq!(name, "native token");
    let code = dev.node.backend.code(&token, dev.head()).expect("code");
    let marker: [u8; 3] = if persistent {
        [0xef, 0x52, 0x50]
    } else {
        [0xef, 0x52, 0x4e]
    };
    assert_eq!(&code[..3], &marker, "a native code marker: {code}");
    // Tokens sent = committed transfers (warm-up included), read from the node's state: the hot
    // account's balance slot (Solidity layout: keccak(key . 0)) holds one per hot transfer.
    let hot = rampart_bench::workload::hot_accounts(1)[0];
    let mut key = [0u8; 64];
    key[12..32].copy_from_slice(hot.as_slice());
    let slot = U256::from_be_bytes(alloy_primitives::keccak256(key).0);
    let held = U256::from_be_bytes(
        dev.node
            .backend
            .storage(&token, &slot, dev.head())
            .expect("storage")
            .0,
    );
    assert!(held > U256::ZERO && held <= U256::from(sc.warmup_txs + r.counts.committed));
    assert_eq!(r.workload, "native");
    let out = tempfile::tempdir().expect("tmp");
    check_outputs(&r, out.path());
    dev.node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfunded_key_is_refused_before_any_transaction() {
    let dev = Dev::start().await;
    let head = dev.head();
    let mut sc = scenario(&dev.url(), WorkloadKind::Erc20);
    sc.key = format!("0x{}", "11".repeat(32));
    let e = rampart_bench::run(&sc, RunOptions::default())
        .await
        .expect_err("unfunded");
    match &e {
        BenchError::Unfunded {
            balance, needed, ..
        } => {
            assert_eq!(*balance, U256::ZERO);
            assert!(*needed > U256::ZERO);
        }
        other => panic!("expected Unfunded, got {other:?}"),
    }
    assert!(e.to_string().contains("--key"), "{e}");
    assert!(dev.head() <= head + 1, "nothing was sent");
    dev.node.shutdown().await;
}

#[tokio::test]
async fn unreachable_endpoint_and_bad_scenarios() {
    // Port 1 on loopback: connection refused.
    let sc = scenario("http://127.0.0.1:1", WorkloadKind::Eth);
    let e = rampart_bench::run(&sc, RunOptions::default())
        .await
        .expect_err("unreachable");
    assert!(matches!(e, BenchError::Unreachable { .. }), "{e:?}");
    assert!(e.is_retryable());
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");

    let dir = tempfile::tempdir().expect("tmp");
    for (text, needle) in [
        ("contention = 1.5\n", "contention"),
        ("workload = \"nft\"\n", "nft"),
        ("sendres = 4\n", "sendres"),
        ("senders = \"many\"\n", "senders"),
        ("txs = 0\n", "txs"),
    ] {
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, text).expect("write");
        let e = Scenario::load(&p)
            .and_then(|s| s.validate().map(|_| s))
            .expect_err(text);
        assert!(matches!(e, BenchError::Scenario { .. }), "{e:?}");
        assert!(e.to_string().contains(needle), "{text}: {e}");
        assert!(!e.is_retryable());
    }
    let e = Scenario::load(&dir.path().join("missing.toml")).expect_err("missing");
    assert!(e.to_string().contains("missing.toml"), "{e}");
}

/// The example scenarios in `cluster/bench/scenarios/` parse and validate.
#[test]
fn example_scenarios_are_valid() {
    // At run time (cargo and nextest set it): a test binary built from another checkout of the
    // same sources may be reused, and its compile-time path be gone.
    let manifest_dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let dir = Path::new(&manifest_dir).join("scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("scenarios dir") {
        let p = entry.expect("entry").path();
        if p.extension().is_some_and(|e| e == "toml") {
            let s = Scenario::load(&p).unwrap_or_else(|e| panic!("{e}"));
            s.validate()
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            n += 1;
        }
    }
    assert!(n >= 3, "expected example scenarios in {}", dir.display());
}
