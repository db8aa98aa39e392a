//! Command-line arguments of `rampart bench`. Every knob is optional here: a flag overrides the
//! scenario file (`--scenario`), which overrides the defaults documented on [`Scenario`].

use std::path::PathBuf;
use std::str::FromStr;

use crate::error::Result;
use crate::scenario::Scenario;
use crate::workload::WorkloadKind;

/// The first well-known development key (Hardhat/Anvil account 0,
/// 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266). Public: never use it on a real network.
pub const DEV_FUNDER_KEY: &str =
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// `--chain-id`: read it from the endpoint, or use a given value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainIdArg {
    Auto,
    Fixed(u64),
}

impl FromStr for ChainIdArg {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        let v = match s.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16),
            None => s.parse(),
        };
        v.map(Self::Fixed)
            .map_err(|_| format!("expected `auto` or a chain id, got `{s}`"))
    }
}

/// Load-test an Ethereum JSON-RPC endpoint with signed transactions: ETH and ERC-20 transfers,
/// AMM swaps, calls through a UUPS proxy; with a contention knob, open or closed loop; a table,
/// JSON and SVG plots as output.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct BenchArgs {
    /// Scenario file (TOML, see cluster/bench/scenarios/); flags override it.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// JSON-RPC endpoint (HTTP); repeat or comma-separate for several (txs go round-robin)
    /// [default: http://127.0.0.1:8545].
    #[arg(long = "rpc", value_delimiter = ',')]
    pub rpc: Vec<String>,
    /// Private key of the funding account (hex) [default: dev account 0 of Hardhat/Anvil/Rampart].
    #[arg(long)]
    pub key: Option<String>,
    /// What each measured transaction does [default: erc20].
    #[arg(long, value_enum)]
    pub workload: Option<WorkloadKind>,
    /// Number of sending accounts, funded during setup [default: 200].
    #[arg(long)]
    pub senders: Option<usize>,
    /// Share of transactions on the hot spot, 0..=1 (hot recipient, pool or proxy) [default: 0].
    #[arg(long)]
    pub contention: Option<f64>,
    /// Hot recipients of eth/erc20 transfers [default: 1].
    #[arg(long)]
    pub hot_accounts: Option<usize>,
    /// AMM pools of the amm workload (pool 0 is hot) [default: 8].
    #[arg(long)]
    pub pools: Option<usize>,
    /// ERC-1967 proxies of the uups workload (proxy 0 is hot) [default: 8].
    #[arg(long)]
    pub proxies: Option<usize>,
    /// Measured transactions; with --duration-s the most that are pre-signed [default: 20000;
    /// with a duration: rate × duration, or 100000 closed loop].
    #[arg(long)]
    pub txs: Option<usize>,
    /// Stop sending after this many seconds (or after --txs, whichever comes first).
    #[arg(long)]
    pub duration_s: Option<f64>,
    /// Open-loop submit rate in tx/s; 0 = closed loop [default: 0].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Closed loop: concurrent workers, one request in flight each; open loop: most requests
    /// in flight [default: 64].
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Transactions sent and committed before the measurement, not counted [default: 1000].
    #[arg(long)]
    pub warmup_txs: Option<usize>,
    /// Chain id to sign with: `auto` reads eth_chainId [default: auto].
    #[arg(long)]
    pub chain_id: Option<ChainIdArg>,
    /// Seconds to wait for commits after the last submit and for each setup step [default: 120].
    #[arg(long = "timeout")]
    pub timeout_s: Option<u64>,
    /// Seconds one JSON-RPC request may take [default: 30].
    #[arg(long)]
    pub request_timeout_s: Option<u64>,
    /// Exit non-zero when (rejected + reverted + timed out) / submitted is above this
    /// [default: 0.01].
    #[arg(long)]
    pub max_failure_share: Option<f64>,
    /// Seed of recipients, pools and hot-spot draws [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Block poll interval of the commit tracker in milliseconds [default: 10].
    #[arg(long)]
    pub poll_ms: Option<u64>,
    /// In-flight requests per HTTP client (connection pool) [default: 8].
    #[arg(long)]
    pub inflight_per_connection: Option<usize>,
    /// Most sent-but-uncommitted transactions per sender [default: 1000].
    #[arg(long)]
    pub max_pending_per_sender: Option<usize>,
    /// maxFeePerGas = multiplier × baseFee + tip [default: 2].
    #[arg(long)]
    pub base_fee_multiplier: Option<u64>,
    /// Node's Prometheus endpoint, e.g. http://127.0.0.1:9545/metrics: report counter deltas.
    #[arg(long)]
    pub metrics_url: Option<String>,
    /// Native contract binary of the native workload [default: native-static/c/token in the
    /// running rampart's target directory, as scripts/build-native.sh writes it].
    #[arg(long)]
    pub native_binary: Option<PathBuf>,
    /// Deploy the native workload's contract with persistent processes.
    #[arg(long)]
    pub native_persistent: bool,
    /// erc20/native: name both balance slots of each transfer in an EIP-2930 access list.
    #[arg(long)]
    pub access_lists: bool,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write SVG plots (rate, latency over time, latency histogram) into this directory.
    #[arg(long)]
    pub plots: Option<PathBuf>,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long, short)]
    pub quiet: bool,
}

impl BenchArgs {
    /// The scenario file (if any) with the flags applied, validated.
    pub fn resolve(&self) -> Result<Scenario> {
        let mut s = match &self.scenario {
            Some(p) => Scenario::load(p)?,
            None => Scenario::default(),
        };
        if !self.rpc.is_empty() {
            s.endpoints = self.rpc.clone();
        }
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { s.$f = v.clone(); } )* };
        }
        set!(
            key,
            workload,
            senders,
            contention,
            hot_accounts,
            pools,
            proxies,
            rate,
            concurrency,
            warmup_txs,
            timeout_s,
            request_timeout_s,
            max_failure_share,
            seed,
            poll_ms,
            inflight_per_connection,
            max_pending_per_sender,
            base_fee_multiplier
        );
        if self.txs.is_some() {
            s.txs = self.txs;
        }
        if self.duration_s.is_some() {
            s.duration_s = self.duration_s;
        }
        if self.metrics_url.is_some() {
            s.metrics_url = self.metrics_url.clone();
        }
        if self.native_binary.is_some() {
            s.native_binary = self.native_binary.clone();
        }
        if self.native_persistent {
            s.native_persistent = true;
        }
        if self.access_lists {
            s.access_lists = true;
        }
        match self.chain_id {
            Some(ChainIdArg::Auto) => s.chain_id = None,
            Some(ChainIdArg::Fixed(id)) => s.chain_id = Some(id),
            None => {}
        }
        s.validate().map_err(|e| match (e, &self.scenario) {
            (
                crate::BenchError::Scenario {
                    path: None,
                    message,
                },
                Some(p),
            ) => crate::BenchError::Scenario {
                path: Some(p.clone()),
                message,
            },
            (e, _) => e,
        })?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    #[test]
    fn defaults_and_chain_id() {
        let s = Cli::parse_from(["bench"]).args.resolve().expect("valid");
        assert_eq!(s, Scenario::default());
        assert_eq!(s.senders, 200);
        assert_eq!(s.concurrency, 64);
        assert_eq!(s.key, DEV_FUNDER_KEY);
        let s = Cli::parse_from(["bench", "--chain-id", "0x7a69", "--rate", "500"])
            .args
            .resolve()
            .expect("valid");
        assert_eq!(s.chain_id, Some(31337));
        assert_eq!(s.rate, 500.0);
        assert!("x".parse::<ChainIdArg>().is_err());
    }

    #[test]
    fn flags_override_the_scenario_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("s.toml");
        std::fs::write(
            &p,
            "workload = \"uups\"\nsenders = 7\nproxies = 3\nendpoints = [\"http://a:1\", \"http://b:2\"]\n",
        )
        .expect("write");
        let path = p.to_str().expect("utf-8");
        let s = Cli::parse_from(["bench", "--scenario", path, "--senders", "9"])
            .args
            .resolve()
            .expect("valid");
        assert_eq!(s.workload, WorkloadKind::Uups);
        assert_eq!(s.senders, 9);
        assert_eq!(s.proxies, 3);
        assert_eq!(s.endpoints, vec!["http://a:1", "http://b:2"]);
        let s = Cli::parse_from([
            "bench",
            "--scenario",
            path,
            "--rpc",
            "http://c:3,http://d:4",
        ])
        .args
        .resolve()
        .expect("valid");
        assert_eq!(s.endpoints, vec!["http://c:3", "http://d:4"]);
        // A bad value from the file names the file.
        std::fs::write(&p, "contention = 3\n").expect("write");
        let e = Cli::parse_from(["bench", "--scenario", path])
            .args
            .resolve()
            .expect_err("invalid");
        assert!(e.to_string().contains("s.toml"), "{e}");
        assert!(e.to_string().contains("contention"), "{e}");
        // ... unless a flag fixes it.
        Cli::parse_from(["bench", "--scenario", path, "--contention", "0.3"])
            .args
            .resolve()
            .expect("fixed by the flag");
    }
}
