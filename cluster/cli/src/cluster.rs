//! Cluster subcommands: `node` (one production node), `up` (a local cluster of processes),
//! `status` and `member` (membership changes through the `rampart_*` RPC methods).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use rampart_node::config::{ClusterConfig, PeerConfig};
use rampart_node::{Node, NodeConfig};
use serde_json::Value;

use crate::{load_config, print_dev_accounts, shutdown_signal};

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// TOML configuration file with a `[cluster]` section (see docs/configuration.md).
    #[arg(long, env = "RAMPART_CONFIG")]
    config: PathBuf,
    /// Data directory (overrides `data_dir` in the file).
    #[arg(long, env = "RAMPART_DATADIR")]
    datadir: Option<PathBuf>,
}

/// Runs one node from its configuration file until SIGINT/SIGTERM, or until its replica
/// stops on an unrecoverable error (exit status 70; a restart recovers from the durable log).
pub async fn node(args: NodeArgs) -> anyhow::Result<()> {
    let config = load_config(Some(&args.config))?;
    let data_dir = args
        .datadir
        .or(config.data_dir.clone())
        .context("no data directory: set data_dir in the config or pass --datadir")?;
    let node = Node::start(config.clone(), &data_dir).await?;
    println!("Rampart node");
    if let Some(c) = &config.cluster {
        println!("  node id:    {}", c.id);
    }
    if let Some(p) = node.peer_addr() {
        println!("  peer addr:  {p}");
    }
    println!("  data dir:   {}", data_dir.display());
    println!("  JSON-RPC:   http://{}", node.rpc_addr);
    if let Some(m) = node.metrics_addr {
        println!("  metrics:    http://{m}/metrics");
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let fatal = async {
        match node.fatal() {
            Some(mut rx) => {
                let _ = rx.wait_for(|f| f.is_some()).await;
                rx.borrow().clone()
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = shutdown_signal() => {
            tracing::info!(target: "rampart::cli", "shutting down");
            node.shutdown().await;
            Ok(())
        }
        reason = fatal => {
            eprintln!("rampart: replica stopped: {}", reason.unwrap_or_default());
            node.shutdown().await;
            std::process::exit(70);
        }
    }
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Number of nodes (1–7).
    #[arg(long, default_value_t = 3)]
    nodes: u64,
    /// Directory holding every node's data, configuration and log [default: ~/.rampart/cluster].
    #[arg(long, conflicts_with = "ephemeral")]
    dir: Option<PathBuf>,
    /// Keep the cluster in a temporary directory deleted on exit.
    #[arg(long)]
    ephemeral: bool,
    /// JSON-RPC port of node 1; node i listens on this plus i−1.
    #[arg(long, default_value_t = 8545)]
    rpc_port: u16,
    /// Peer (gRPC) port of node 1; node i listens on this plus i−1.
    #[arg(long, default_value_t = 8645)]
    peer_port: u16,
    /// Block interval in milliseconds [default: 100].
    #[arg(long)]
    block_time_ms: Option<u64>,
    /// Base configuration every node starts from (addresses, ids and peers are replaced; its
    /// `[cluster.raft]` is kept; it needs `id` and `listen` placeholders to parse).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Mutual TLS between the nodes, with a cluster CA and node certificates generated under
    /// `<dir>/tls` (kept across restarts).
    #[arg(long)]
    tls: bool,
    #[command(flatten)]
    native: crate::NativeArgs,
}

/// Writes node `id`'s configuration for a local cluster of `n`.
fn local_config(
    base: &NodeConfig,
    args: &UpArgs,
    dir: &Path,
    id: u64,
    tls: Option<rampart_transport::TlsFiles>,
) -> NodeConfig {
    let mut c = base.clone();
    args.native.apply(&mut c);
    let port = |base: u16, id: u64| base + (id - 1) as u16;
    c.data_dir = Some(dir.join(format!("node{id}")));
    c.rpc.addr = SocketAddr::from(([127, 0, 0, 1], port(args.rpc_port, id)));
    if let Some(ms) = args.block_time_ms {
        c.block.interval_ms = ms;
    }
    c.cluster = Some(ClusterConfig {
        id,
        listen: SocketAddr::from(([127, 0, 0, 1], port(args.peer_port, id))),
        peers: (1..=args.nodes)
            .filter(|&p| p != id)
            .map(|p| PeerConfig {
                id: p,
                addr: format!("127.0.0.1:{}", port(args.peer_port, p)),
            })
            .collect(),
        join: false,
        // Raft timing and bounds come from the base configuration's [cluster.raft], if any.
        raft: base
            .cluster
            .as_ref()
            .map(|c| c.raft.clone())
            .unwrap_or_default(),
        tls,
        fault_injection: base.cluster.as_ref().is_some_and(|c| c.fault_injection),
    });
    c
}

struct Children(Vec<(u64, Child)>);

impl Children {
    fn stop(&mut self) {
        for (_, child) in &self.0 {
            // SIGTERM lets each node finish its block and close its databases.
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
        }
        for (id, child) in &mut self.0 {
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    _ => {
                        eprintln!("node {id} did not stop in time; killing it");
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts a local cluster of `--nodes` processes on loopback and stops it on Ctrl-C.
pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=7).contains(&args.nodes),
        "--nodes must be between 1 and 7"
    );
    let base = load_config(args.config.as_ref())?;
    let _tmp;
    let dir = if args.ephemeral {
        let t = tempfile::Builder::new()
            .prefix("rampart-cluster-")
            .tempdir()?;
        let p = t.path().to_path_buf();
        _tmp = t;
        p
    } else if let Some(d) = &args.dir {
        d.clone()
    } else {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        home.join(".rampart").join("cluster")
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let exe = std::env::current_exe().context("locating the rampart binary")?;
    let ids: Vec<u64> = (1..=args.nodes).collect();
    let tls: Vec<Option<rampart_transport::TlsFiles>> = if args.tls {
        let tls_dir = dir.join("tls");
        if tls_dir.join("ca.pem").exists() {
            ids.iter()
                .map(|id| {
                    Some(rampart_transport::TlsFiles {
                        ca_cert: tls_dir.join("ca.pem"),
                        cert: tls_dir.join(format!("node{id}.pem")),
                        key: tls_dir.join(format!("node{id}.key")),
                    })
                })
                .collect()
        } else {
            rampart_transport::generate_cluster_certs(&tls_dir, &ids)?
                .into_iter()
                .map(|(_, f)| Some(f))
                .collect()
        }
    } else {
        vec![None; ids.len()]
    };
    let mut children = Children(Vec::new());
    let mut endpoints = Vec::new();
    for id in 1..=args.nodes {
        let config = local_config(&base, &args, &dir, id, tls[(id - 1) as usize].clone());
        let node_dir = dir.join(format!("node{id}"));
        std::fs::create_dir_all(&node_dir)?;
        let config_path = dir.join(format!("node{id}.toml"));
        std::fs::write(&config_path, toml::to_string(&config)?)
            .with_context(|| format!("writing {}", config_path.display()))?;
        let log_path = dir.join(format!("node{id}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        let child = Command::new(&exe)
            .arg("node")
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting node {id}"))?;
        endpoints.push((id, config.rpc.addr, log_path));
        children.0.push((id, child));
    }
    println!(
        "Rampart local cluster: {} nodes under {}{}",
        args.nodes,
        dir.display(),
        if args.tls {
            " (mutual TLS between nodes)"
        } else {
            ""
        }
    );
    for (id, addr, log) in &endpoints {
        println!(
            "  node {id}: JSON-RPC http://{addr}  ws://{addr}  log {}",
            log.display()
        );
    }
    if base.genesis.is_none() {
        print_dev_accounts();
    }
    println!();
    println!("Every node serves reads and accepts transactions. Ctrl-C stops the cluster.");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();

    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    let mut reported = std::collections::BTreeSet::new();
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            _ = &mut signal => break,
            _ = ticker.tick() => {
                for (id, child) in &mut children.0 {
                    if let Ok(Some(status)) = child.try_wait()
                        && reported.insert(*id)
                    {
                        eprintln!("node {id} exited ({status}); see its log");
                    }
                }
            }
        }
    }
    println!("stopping the cluster");
    tokio::task::spawn_blocking(move || drop(children)).await?;
    Ok(())
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// JSON-RPC endpoints to ask (repeat, or comma-separate) [default: http://127.0.0.1:8545].
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:8545")]
    rpc: Vec<String>,
    /// Print the raw JSON answers.
    #[arg(long)]
    json: bool,
}

async fn call(
    url: &str,
    method: &str,
    params: jsonrpsee::core::params::ArrayParams,
) -> anyhow::Result<Value> {
    let client = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(30))
        .build(url)
        .with_context(|| format!("bad endpoint {url}"))?;
    client
        .request(method, params)
        .await
        .with_context(|| format!("{method} at {url}"))
}

/// Shows each node's view: id, role, leader, term, commit and applied index, head, members.
pub async fn status(args: StatusArgs) -> anyhow::Result<()> {
    let mut failures = 0;
    if !args.json {
        println!(
            "{:<28} {:>4} {:<10} {:>6} {:>6} {:>9} {:>9} {:>8}  members",
            "endpoint", "id", "role", "leader", "term", "commit", "applied", "head"
        );
    }
    for url in &args.rpc {
        match call(url, "rampart_status", rpc_params![]).await {
            Ok(v) if args.json => println!("{url} {v}"),
            Ok(v) => {
                let f = |x: &Value| match x {
                    Value::String(s) => s.clone(),
                    Value::Null => "-".into(),
                    other => other.to_string(),
                };
                println!(
                    "{:<28} {:>4} {:<10} {:>6} {:>6} {:>9} {:>9} {:>8}  voters {} learners {}",
                    url,
                    f(&v["id"]),
                    f(&v["role"]),
                    f(&v["leader"]),
                    f(&v["term"]),
                    f(&v["commit"]),
                    f(&v["applied"]),
                    f(&v["head"]["number"]),
                    f(&v["voters"]),
                    f(&v["learners"])
                )
            }
            Err(e) => {
                failures += 1;
                println!("{url:<28} unreachable: {e:#}");
            }
        }
    }
    if failures == args.rpc.len() {
        bail!("no node answered");
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct MemberArgs {
    #[command(subcommand)]
    change: MemberChange,
    /// JSON-RPC endpoints of cluster nodes; the change is sent to the leader among them.
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        default_value = "http://127.0.0.1:8545"
    )]
    rpc: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum MemberChange {
    /// Add a node as a learner (it receives the log but does not vote). Start it first with
    /// `join = true` in its `[cluster]` section.
    AddLearner {
        #[arg(long)]
        id: u64,
        /// The new node's peer address (host:port).
        #[arg(long)]
        addr: String,
    },
    /// Make a learner a voter.
    Promote {
        #[arg(long)]
        id: u64,
    },
    /// Remove a node from the cluster.
    Remove {
        #[arg(long)]
        id: u64,
    },
    /// Hand leadership to another voter.
    TransferLeader {
        #[arg(long)]
        id: u64,
    },
}

/// Applies a membership change through whichever given endpoint is the leader.
pub async fn member(args: MemberArgs) -> anyhow::Result<()> {
    let (method, params) = match &args.change {
        MemberChange::AddLearner { id, addr } => ("rampart_addLearner", rpc_params![id, addr]),
        MemberChange::Promote { id } => ("rampart_promoteVoter", rpc_params![id]),
        MemberChange::Remove { id } => ("rampart_removeNode", rpc_params![id]),
        MemberChange::TransferLeader { id } => ("rampart_transferLeader", rpc_params![id]),
    };
    let mut last_err = None;
    for url in &args.rpc {
        let Ok(status) = call(url, "rampart_status", rpc_params![]).await else {
            continue;
        };
        if status["role"] != "Leader" {
            continue;
        }
        match call(url, method, params.clone()).await {
            Ok(v) => {
                println!("{method} via {url}: {v}");
                return Ok(());
            }
            Err(e) => last_err = Some(e),
        }
    }
    match last_err {
        Some(e) => Err(e),
        None => bail!("no leader among {}", args.rpc.join(", ")),
    }
}

#[derive(Debug, Args)]
pub struct CertsArgs {
    /// Where to write `ca.pem`, `ca.key`, `node<ID>.pem` and `node<ID>.key`.
    #[arg(long)]
    out: PathBuf,
    /// Node ids to issue certificates for (comma-separated).
    #[arg(long, value_delimiter = ',', required = true)]
    ids: Vec<u64>,
}

/// Creates a cluster CA and node certificates (for local and test clusters; production
/// clusters may use their own CA — see docs/cluster.md).
pub fn certs(args: CertsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.out.join("ca.pem").exists(),
        "{} already holds a CA; refusing to overwrite it",
        args.out.display()
    );
    anyhow::ensure!(!args.ids.contains(&0), "node ids must be non-zero");
    for (id, files) in rampart_transport::generate_cluster_certs(&args.out, &args.ids)? {
        println!(
            "node {id}: cert {}  key {}",
            files.cert.display(),
            files.key.display()
        );
    }
    println!("cluster CA: {}", args.out.join("ca.pem").display());
    Ok(())
}
