//! The `rampart bench` command line: exit status and messages, by running the real `rampart`
//! binary that `cargo build --workspace` put next to this test's directory (`make test` builds
//! it first). The node it talks to runs in-process.

use std::path::PathBuf;
use std::process::Output;

use rampart_node::{Node, NodeConfig};

/// `…/target/debug/rampart`, from `…/target/debug/deps/cli-<hash>`.
fn rampart_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/debug");
    let bin = dir.join(format!("rampart{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build --workspace`",
        bin.display()
    );
    bin
}

async fn bench(args: &[&str]) -> Output {
    tokio::process::Command::new(rampart_bin())
        .arg("bench")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("runs rampart")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

async fn dev() -> (Node, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = NodeConfig::default();
    c.rpc.addr = "127.0.0.1:0".parse().expect("addr");
    c.block.interval_ms = 20;
    c.storage.sync_writes = false;
    let node = Node::start(c, dir.path()).await.expect("node starts");
    (node, dir)
}

#[tokio::test]
async fn unreachable_endpoint_exits_non_zero() {
    let o = bench(&["--rpc", "http://127.0.0.1:1", "--quiet"]).await;
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("cannot reach the JSON-RPC endpoint"), "{e}");
}

#[tokio::test]
async fn bad_scenario_file_exits_non_zero() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, "workload = \"erc20\"\ncontention = 7\n").expect("write");
    let o = bench(&["--scenario", p.to_str().expect("utf-8"), "--quiet"]).await;
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("invalid scenario") && e.contains("contention"),
        "{e}"
    );
    // A bad flag value is refused too.
    let o = bench(&["--contention", "-1", "--quiet"]).await;
    assert!(!o.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfunded_key_exits_non_zero_and_a_good_run_exits_zero() {
    let (node, _dir) = dev().await;
    let url = format!("http://{}", node.rpc_addr);
    let key = format!("0x{}", "22".repeat(32));
    let o = bench(&["--rpc", &url, "--key", &key, "--senders", "4", "--quiet"]).await;
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("setup needs about") && e.contains("--key"),
        "{e}"
    );

    let out = tempfile::tempdir().expect("tmp");
    let json = out.path().join("r.json");
    let plots = out.path().join("plots");
    let o = bench(&[
        "--rpc",
        &url,
        "--workload",
        "eth",
        "--senders",
        "4",
        "--txs",
        "40",
        "--warmup-txs",
        "4",
        "--json",
        json.to_str().expect("utf-8"),
        "--plots",
        plots.to_str().expect("utf-8"),
        "--quiet",
    ])
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("PASS"), "{stdout}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("parses");
    assert_eq!(v["counts"]["committed"], 40);
    for f in ["rate.svg", "latency.svg", "latency-histogram.svg"] {
        let svg = std::fs::read_to_string(plots.join(f)).expect("svg");
        roxmltree::Document::parse(&svg).expect("well-formed");
    }
    node.shutdown().await;
}

/// A node that refuses nonces more than 4 ahead of the committed one, with slow blocks: most of
/// a burst of 20 transactions per sender is rejected at ingress (or left behind a nonce gap and
/// times out). The run completes, the report counts the failures, and the exit status is 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_share_over_the_limit_exits_non_zero() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = NodeConfig::default();
    c.rpc.addr = "127.0.0.1:0".parse().expect("addr");
    c.block.interval_ms = 500;
    c.storage.sync_writes = false;
    c.mempool.max_nonce_gap = 4;
    let node = Node::start(c, dir.path()).await.expect("node starts");
    let url = format!("http://{}", node.rpc_addr);
    let out = tempfile::tempdir().expect("tmp");
    let json = out.path().join("r.json");
    let o = bench(&[
        "--rpc",
        &url,
        "--workload",
        "eth",
        "--senders",
        "3",
        "--txs",
        "60",
        "--warmup-txs",
        "0",
        "--timeout",
        "3",
        "--json",
        json.to_str().expect("utf-8"),
        "--quiet",
    ])
    .await;
    assert!(
        !o.status.success(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let e = stderr(&o);
    assert!(
        e.contains("failure share") && e.contains("--max-failure-share"),
        "{e}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json")).expect("parses");
    let n = |k: &str| v["counts"][k].as_u64().expect(k);
    assert_eq!(n("submitted"), 60);
    assert_eq!(
        n("submitted"),
        n("committed") + n("rejected") + n("timed_out")
    );
    assert_eq!(n("failed"), n("rejected") + n("reverted") + n("timed_out"));
    assert!(n("rejected") > 0, "{v}");
    assert_eq!(v["passed"], false);
    let errors = v["top_errors"].to_string();
    assert!(errors.contains("nonce"), "{errors}");
    // What was committed is on chain: the nonce check holds even in a failed run.
    assert_eq!(v["chain_check"]["matches"], true, "{}", v["chain_check"]);
    node.shutdown().await;
}
