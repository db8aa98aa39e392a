//! Command-line arguments of `rampart bench`.

use std::path::PathBuf;
use std::str::FromStr;

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
    fn from_str(s: &str) -> Result<Self, Self::Err> {
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

/// Measure committed, signed ERC-20 transfers per second through JSON-RPC.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    /// JSON-RPC endpoint (HTTP).
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
    /// Private key of the funding account (hex) [default: dev account 0 of Hardhat/Anvil/Rampart].
    #[arg(long, default_value = DEV_FUNDER_KEY, hide_default_value = true)]
    pub key: String,
    /// What each measured transaction does.
    #[arg(long, value_enum, default_value_t = WorkloadKind::Erc20Transfer)]
    pub workload: WorkloadKind,
    /// Number of sending accounts (funded during setup).
    #[arg(long, default_value_t = 200)]
    pub senders: usize,
    /// Number of measured transactions.
    #[arg(long, default_value_t = 20_000)]
    pub txs: usize,
    /// Concurrent in-flight eth_sendRawTransaction requests (one worker task each).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Target submit rate in tx/s (open loop); 0 = as fast as the endpoint accepts.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Transactions sent and committed before the measurement (not counted).
    #[arg(long, default_value_t = 1_000)]
    pub warmup_txs: usize,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Chain id to sign with: `auto` reads eth_chainId.
    #[arg(long, default_value = "auto")]
    pub chain_id: ChainIdArg,
    /// Seconds to wait for commits after the last submit (and for setup receipts).
    #[arg(long = "timeout", default_value_t = 120)]
    pub timeout_s: u64,
    /// Exit non-zero when (rejected + timed out + reverted) / submitted is above this.
    #[arg(long, default_value_t = 0.01)]
    pub max_failure_share: f64,
    /// Seed of the recipient addresses.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// How many committed transactions' receipts to check for status 0.
    #[arg(long, default_value_t = 20)]
    pub receipt_sample: usize,
    /// Block poll interval of the commit tracker, in milliseconds.
    #[arg(long, default_value_t = 10)]
    pub poll_ms: u64,
    /// In-flight requests per HTTP client (connection pool).
    #[arg(long, default_value_t = 8)]
    pub inflight_per_connection: usize,
    /// Most sent-but-uncommitted transactions per sender; a worker waits beyond it (Rampart
    /// rejects nonces more than 1,024 above the committed one).
    #[arg(long, default_value_t = 1_000)]
    pub max_pending_per_sender: usize,
    /// maxFeePerGas = multiplier × baseFee + tip.
    #[arg(long, default_value_t = 2)]
    pub base_fee_multiplier: u64,
}

impl BenchArgs {
    /// Checks the arguments that clap cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.senders > 0, "--senders must be positive");
        anyhow::ensure!(self.txs > 0, "--txs must be positive");
        anyhow::ensure!(self.concurrency > 0, "--concurrency must be positive");
        anyhow::ensure!(
            self.rate.is_finite() && self.rate >= 0.0,
            "--rate must be 0 or a positive number"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.max_failure_share),
            "--max-failure-share must be between 0 and 1"
        );
        anyhow::ensure!(self.poll_ms > 0, "--poll-ms must be positive");
        anyhow::ensure!(
            self.inflight_per_connection > 0,
            "--inflight-per-connection must be positive"
        );
        anyhow::ensure!(
            self.max_pending_per_sender > 0,
            "--max-pending-per-sender must be positive"
        );
        anyhow::ensure!(self.timeout_s > 0, "--timeout must be positive");
        anyhow::ensure!(
            self.base_fee_multiplier > 0,
            "--base-fee-multiplier must be positive"
        );
        Ok(())
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
        let cli = Cli::parse_from(["bench"]);
        assert_eq!(cli.args.senders, 200);
        assert_eq!(cli.args.txs, 20_000);
        assert_eq!(cli.args.concurrency, 64);
        assert_eq!(cli.args.chain_id, ChainIdArg::Auto);
        assert_eq!(cli.args.key, DEV_FUNDER_KEY);
        cli.args.validate().expect("defaults are valid");
        let cli = Cli::parse_from(["bench", "--chain-id", "0x7a69", "--rate", "500"]);
        assert_eq!(cli.args.chain_id, ChainIdArg::Fixed(31337));
        assert_eq!(cli.args.rate, 500.0);
        assert!("x".parse::<ChainIdArg>().is_err());
    }
}
