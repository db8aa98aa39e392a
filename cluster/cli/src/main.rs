//! The `rampart` command.

use std::net::SocketAddr;
use std::path::PathBuf;

mod cluster;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use rampart_node::{Node, NodeConfig};

/// mimalloc rather than glibc's malloc: block execution allocates per transaction on one
/// thread and frees on another (Block-STM's workers, the sealer, the committer), where
/// glibc's arenas contend (docs/benchmarks.md, "The allocator"). Rust allocations only;
/// RocksDB's C++ keeps the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "rampart",
    version,
    about = "Rampart: a consortium blockchain execution cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one development node with the well-known prefunded test accounts.
    Dev(DevArgs),
    /// Load-test any Ethereum JSON-RPC endpoint: committed tx/s, gas/s and latency for ETH and
    /// ERC-20 transfers, AMM swaps and UUPS proxy calls, with a contention knob; table, JSON
    /// and SVG plots. A flag given twice takes its last value (scripts append overrides).
    #[command(args_override_self = true)]
    Bench(Box<rampart_bench::BenchArgs>),
    /// Run one cluster node from a configuration file (production).
    Node(cluster::NodeArgs),
    /// Start a local cluster of N node processes on loopback; Ctrl-C stops it.
    Up(cluster::UpArgs),
    /// Show each node's Raft status: role, leader, term, commit and applied index, members.
    Status(cluster::StatusArgs),
    /// Change cluster membership: add a learner, promote, remove, transfer leadership.
    Member(cluster::MemberArgs),
    /// Create a cluster CA and node certificates for mutual TLS between nodes.
    Certs(cluster::CertsArgs),
}

#[derive(Debug, Args)]
struct DevArgs {
    /// TOML configuration file (see docs/configuration.md); flags override it.
    #[arg(long, env = "RAMPART_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory [default: ~/.rampart/dev].
    #[arg(long, env = "RAMPART_DATADIR", conflicts_with = "ephemeral")]
    datadir: Option<PathBuf>,
    /// Keep all state in a temporary directory that is deleted on exit.
    #[arg(long, env = "RAMPART_EPHEMERAL")]
    ephemeral: bool,
    /// Address of the JSON-RPC listener (HTTP and WebSocket) [default: 127.0.0.1:8545].
    #[arg(long, env = "RAMPART_HTTP_ADDR")]
    http_addr: Option<SocketAddr>,
    /// Block interval in milliseconds [default: 100].
    #[arg(long, env = "RAMPART_BLOCK_TIME_MS")]
    block_time_ms: Option<u64>,
    /// geth-style genesis.json instead of the built-in development genesis.
    #[arg(long, env = "RAMPART_GENESIS")]
    genesis: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDR/metrics [default: off].
    #[arg(long, env = "RAMPART_METRICS_ADDR")]
    metrics_addr: Option<SocketAddr>,
    #[command(flatten)]
    native: NativeArgs,
}

/// Native contracts (docs/native-contracts.md); the `[native]` section has the rest.
#[derive(Debug, Args)]
pub(crate) struct NativeArgs {
    /// Sandbox for native contracts: auto (gVisor where it runs), gvisor, process (no
    /// isolation: development only), off [default: auto].
    #[arg(long, env = "RAMPART_NATIVE_BACKEND", value_parser = parse_native_backend)]
    native_backend: Option<rampart_node::native::NativeBackend>,
    /// The static contract host binary [default: rampart-contract-host next to rampart].
    #[arg(long, env = "RAMPART_NATIVE_HOST")]
    native_host: Option<PathBuf>,
}

fn parse_native_backend(s: &str) -> Result<rampart_node::native::NativeBackend, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format!("{s:?}: expected auto, gvisor, process or off"))
}

impl NativeArgs {
    pub(crate) fn apply(&self, config: &mut NodeConfig) {
        if let Some(b) = self.native_backend {
            config.native.backend = b;
        }
        if let Some(h) = &self.native_host {
            config.native.host_binary = Some(h.clone());
        }
    }
}

pub(crate) fn load_config(path: Option<&PathBuf>) -> anyhow::Result<NodeConfig> {
    match path {
        None => Ok(NodeConfig::default()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading config {}", p.display()))?;
            toml::from_str(&text).with_context(|| format!("parsing config {}", p.display()))
        }
    }
}

/// The prefunded development accounts and their (public) keys.
pub(crate) fn print_dev_accounts() {
    println!();
    println!(
        "Development accounts (10000 ETH each; these keys are public, never use them on a real network):"
    );
    for (i, s) in rampart_node::dev_signers().iter().enumerate() {
        println!(
            "  ({i:>2}) {}  key 0x{}",
            s.address(),
            hex::encode(s.to_bytes())
        );
    }
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler cannot fail on unix");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn dev(args: DevArgs) -> anyhow::Result<()> {
    let mut config = load_config(args.config.as_ref())?;
    if let Some(a) = args.http_addr {
        config.rpc.addr = a;
    }
    if let Some(ms) = args.block_time_ms {
        anyhow::ensure!(ms > 0, "--block-time-ms must be positive");
        config.block.interval_ms = ms;
    }
    if args.genesis.is_some() {
        config.genesis = args.genesis.clone();
    }
    if args.metrics_addr.is_some() {
        config.metrics.addr = args.metrics_addr;
    }
    args.native.apply(&mut config);
    let _tmp;
    let data_dir = if args.ephemeral {
        let t = tempfile::Builder::new().prefix("rampart-dev-").tempdir()?;
        let p = t.path().to_path_buf();
        _tmp = t;
        p
    } else if let Some(d) = args.datadir.or(config.data_dir.clone()) {
        d
    } else {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        home.join(".rampart").join("dev")
    };

    let node = Node::start(config.clone(), &data_dir).await?;
    let addr = node.rpc_addr;
    println!("Rampart dev node");
    println!("  chain id:   {}", node.backend.spec.chain.chain_id);
    println!(
        "  data dir:   {}{}",
        data_dir.display(),
        if args.ephemeral { " (ephemeral)" } else { "" }
    );
    println!("  JSON-RPC:   http://{addr}");
    println!("  WebSocket:  ws://{addr}");
    if let Some(m) = node.metrics_addr {
        println!("  metrics:    http://{m}/metrics");
    }
    match &node.backend.native {
        Some(n) => println!(
            "  native:     {} sandboxes; deploy to {}",
            n.backend_name(),
            rampart_native::NATIVE_DEPLOYER
        ),
        None => println!("  native:     off (the log says why)"),
    }
    if config.genesis.is_none() {
        print_dev_accounts();
    }
    println!();
    println!("Listening on http://{addr}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();

    shutdown_signal().await;
    tracing::info!(target: "rampart::cli", "shutting down");
    node.shutdown().await;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let _telemetry = rampart_telemetry::init("rampart")?;
        match cli.command {
            Command::Dev(args) => dev(args).await,
            Command::Bench(args) => rampart_bench::main(*args)
                .await
                .map(|_| ())
                .map_err(Into::into),
            Command::Node(args) => cluster::node(args).await,
            Command::Up(args) => cluster::up(args).await,
            Command::Status(args) => cluster::status(args).await,
            Command::Member(args) => cluster::member(args).await,
            Command::Certs(args) => cluster::certs(args),
        }
    })
}
