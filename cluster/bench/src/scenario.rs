//! A scenario: every knob of a run in one value, read from a TOML file (for reproducible runs)
//! and overridden by command-line flags. [`Scenario::validate`] says what is wrong in words.
//!
//! ```toml
//! # cluster/bench/scenarios/erc20-hot.toml
//! workload = "erc20"
//! endpoints = ["http://127.0.0.1:8545"]
//! senders = 200
//! contention = 0.5   # half of the transfers go to the hot account
//! rate = 2000        # tx/s, open loop; 0 = closed loop
//! duration_s = 30
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::args::DEV_FUNDER_KEY;
use crate::error::{BenchError, Result};
use crate::workload::WorkloadKind;

/// Measured transactions when neither `txs` nor a duration is given.
pub const DEFAULT_TXS: usize = 20_000;
/// Pre-signed transactions of a closed-loop run with a duration and no `txs`.
pub const DEFAULT_DURATION_CAP_TXS: usize = 100_000;
/// Upper bounds on the knobs: a typo must not make the generator allocate the machine away.
pub const MAX_SENDERS: usize = 100_000;
pub const MAX_TXS: usize = 5_000_000;
pub const MAX_CONCURRENCY: usize = 4_096;
pub const MAX_POOLS: usize = 1_024;
pub const MAX_HOT_ACCOUNTS: usize = 100_000;
pub const MAX_ENDPOINTS: usize = 64;
/// Largest scenario file read.
pub const MAX_SCENARIO_BYTES: u64 = 1024 * 1024;

/// Every knob of a run. Field defaults are the documented defaults of `rampart bench`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// A label for the report.
    pub name: Option<String>,
    /// JSON-RPC endpoints (HTTP). Transactions go round-robin across them; they must be one
    /// network (same chain id). Default: `["http://127.0.0.1:8545"]`.
    pub endpoints: Vec<String>,
    /// Private key (hex) of the account that pays for the setup. Default: dev account 0.
    pub key: String,
    /// What each transaction does. Default: `erc20`.
    pub workload: WorkloadKind,
    /// Sending accounts, derived from a fixed seed and funded in setup. Default 200.
    pub senders: usize,
    /// Share (0..=1) of transactions on the hot spot: a hot recipient (eth, erc20), the hot pool
    /// (amm), the hot proxy (uups). Default 0.
    pub contention: f64,
    /// Hot recipients of eth and erc20 transfers. Default 1.
    pub hot_accounts: usize,
    /// AMM pools (amm); pool 0 is the hot one. Default 8.
    pub pools: usize,
    /// ERC-1967 proxies (uups); proxy 0 is the hot one. Default 8.
    pub proxies: usize,
    /// Measured transactions; with `duration_s`, the most that are pre-signed. Default 20,000
    /// (with a duration: rate × duration open loop, 100,000 closed loop).
    pub txs: Option<usize>,
    /// Stop sending after this many seconds (or after `txs`, whichever comes first).
    pub duration_s: Option<f64>,
    /// Open-loop submit rate in tx/s; 0 = closed loop. Default 0.
    pub rate: f64,
    /// Closed loop: concurrent senders' workers, each with one request in flight. Open loop: the
    /// most requests in flight. Default 64.
    pub concurrency: usize,
    /// Transactions sent and committed before the measurement, not counted. Default 1,000.
    pub warmup_txs: usize,
    /// Seed of recipients, pools and hot-spot draws. Default 42.
    pub seed: u64,
    /// Chain id to sign with; absent = the endpoint's `eth_chainId`.
    pub chain_id: Option<u64>,
    /// Seconds to wait for commits after the last submit, and for each setup step. Default 120.
    pub timeout_s: u64,
    /// Seconds one JSON-RPC request may take. Default 30.
    pub request_timeout_s: u64,
    /// Fail (exit non-zero) when (rejected + reverted + timed out) / submitted is above this.
    /// Default 0.01.
    pub max_failure_share: f64,
    /// Block poll interval of the commit tracker. Default 10 ms.
    pub poll_ms: u64,
    /// Requests in flight per HTTP client (each client is a keep-alive connection pool).
    /// Default 8.
    pub inflight_per_connection: usize,
    /// Most sent-but-uncommitted transactions per sender. Default 1,000 (Rampart refuses nonces
    /// more than 1,024 ahead).
    pub max_pending_per_sender: usize,
    /// maxFeePerGas = multiplier × baseFee + tip. Default 2.
    pub base_fee_multiplier: u64,
    /// Prometheus text endpoint of the node (`rampart dev --metrics-addr`), e.g.
    /// `http://127.0.0.1:9545/metrics`: its counters are read before and after the measurement
    /// and the deltas reported.
    pub metrics_url: Option<String>,
    /// The native contract the `native` workload deploys: an ERC-20-like token with the ABI of
    /// `sdk/c/examples/token.c` (`transfer`, `balanceOf`, `mint`). Default: `native-static/c/token`
    /// in the target directory of the running `rampart` executable (where
    /// `scripts/build-native.sh` writes it), when that file exists.
    pub native_binary: Option<PathBuf>,
    /// Deploy the `native` workload's contract with persistent processes (one contract process
    /// serves a series of calls instead of one; docs/native-contracts.md). Default false.
    pub native_persistent: bool,
    /// `erc20` and `native`: each transfer names the two balance slots it touches (the
    /// token's mapping at slot 0) in an EIP-2930 access list, which a native token gets
    /// preloaded with the call. Costs 2,400 + 2 × 1,900 gas of the transaction up front and makes
    /// the two reads warm. Default false.
    pub access_lists: bool,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            name: None,
            endpoints: vec!["http://127.0.0.1:8545".to_string()],
            key: DEV_FUNDER_KEY.to_string(),
            workload: WorkloadKind::Erc20,
            senders: 200,
            contention: 0.0,
            hot_accounts: 1,
            pools: 8,
            proxies: 8,
            txs: None,
            duration_s: None,
            rate: 0.0,
            concurrency: 64,
            warmup_txs: 1_000,
            seed: 42,
            chain_id: None,
            timeout_s: 120,
            request_timeout_s: 30,
            max_failure_share: 0.01,
            poll_ms: 10,
            inflight_per_connection: 8,
            max_pending_per_sender: 1_000,
            base_fee_multiplier: 2,
            metrics_url: None,
            native_binary: None,
            native_persistent: false,
            access_lists: false,
        }
    }
}

impl Scenario {
    /// Parses a scenario from TOML text; unknown keys are errors.
    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| BenchError::scenario(e.to_string()))
    }

    /// Reads and parses a scenario file (not yet validated: flags may still change it).
    pub fn load(path: &Path) -> Result<Self> {
        let err = |message: String| BenchError::Scenario {
            path: Some(path.to_path_buf()),
            message,
        };
        let len = std::fs::metadata(path)
            .map_err(|e| err(format!("cannot read it: {e}")))?
            .len();
        if len > MAX_SCENARIO_BYTES {
            return Err(err(format!(
                "{len} bytes; a scenario file is at most {MAX_SCENARIO_BYTES}"
            )));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| err(format!("cannot read it: {e}")))?;
        toml::from_str(&text).map_err(|e| err(e.to_string().trim_end().to_string()))
    }

    /// The number of transactions to pre-sign for the measurement.
    pub fn measured_txs(&self) -> usize {
        match (self.txs, self.duration_s) {
            (Some(n), None) => n,
            (None, None) => DEFAULT_TXS,
            (cap, Some(d)) if self.rate > 0.0 => {
                let by_rate = (self.rate * d).ceil() as usize;
                cap.map_or(by_rate, |c| c.min(by_rate))
            }
            (cap, Some(_)) => cap.unwrap_or(DEFAULT_DURATION_CAP_TXS),
        }
    }

    /// The `native` workload's binary: [`Self::native_binary`], or the default beside the
    /// running executable's target directory when it exists.
    pub fn native_binary_path(&self) -> Option<PathBuf> {
        if let Some(p) = &self.native_binary {
            return Some(p.clone());
        }
        let exe = std::env::current_exe().ok()?;
        // target/<profile>/rampart → target/native-static/c/token
        let p = exe.parent()?.parent()?.join("native-static/c/token");
        p.is_file().then_some(p)
    }

    /// Checks every knob; the message names the knob and the allowed range.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(BenchError::scenario(m));
        if self.endpoints.is_empty() {
            return bad("`endpoints` is empty: give at least one JSON-RPC URL".into());
        }
        if self.endpoints.len() > MAX_ENDPOINTS {
            return bad(format!("at most {MAX_ENDPOINTS} endpoints"));
        }
        for e in &self.endpoints {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return bad(format!(
                    "endpoint `{e}` is not an http:// or https:// URL (WebSocket endpoints are not supported)"
                ));
            }
        }
        if let Some(m) = &self.metrics_url
            && !m.starts_with("http://")
        {
            return bad(format!("`metrics_url` `{m}` must be an http:// URL"));
        }
        if !(1..=MAX_SENDERS).contains(&self.senders) {
            return bad(format!(
                "`senders` must be 1..={MAX_SENDERS}, got {}",
                self.senders
            ));
        }
        if !(self.contention.is_finite() && (0.0..=1.0).contains(&self.contention)) {
            return bad(format!(
                "`contention` is a share of transactions: 0..=1, got {}",
                self.contention
            ));
        }
        if !(1..=MAX_HOT_ACCOUNTS).contains(&self.hot_accounts) {
            return bad(format!(
                "`hot_accounts` must be 1..={MAX_HOT_ACCOUNTS}, got {}",
                self.hot_accounts
            ));
        }
        if !(1..=MAX_POOLS).contains(&self.pools) {
            return bad(format!(
                "`pools` must be 1..={MAX_POOLS}, got {}",
                self.pools
            ));
        }
        if !(1..=MAX_POOLS).contains(&self.proxies) {
            return bad(format!(
                "`proxies` must be 1..={MAX_POOLS}, got {}",
                self.proxies
            ));
        }
        if let Some(n) = self.txs
            && !(1..=MAX_TXS).contains(&n)
        {
            return bad(format!("`txs` must be 1..={MAX_TXS}, got {n}"));
        }
        if let Some(d) = self.duration_s
            && !(d.is_finite() && d > 0.0 && d <= 86_400.0)
        {
            return bad(format!(
                "`duration_s` must be a positive number of seconds up to 86400, got {d}"
            ));
        }
        if !(self.rate.is_finite() && self.rate >= 0.0 && self.rate <= 10_000_000.0) {
            return bad(format!(
                "`rate` is tx/s: 0 (closed loop) or a positive number up to 10,000,000, got {}",
                self.rate
            ));
        }
        let n = self.measured_txs();
        if !(1..=MAX_TXS).contains(&n) {
            return bad(format!(
                "the run would pre-sign {n} transactions; the most is {MAX_TXS} (lower `rate` × `duration_s` or set `txs`)"
            ));
        }
        if self.warmup_txs > MAX_TXS {
            return bad(format!("`warmup_txs` must be at most {MAX_TXS}"));
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return bad(format!(
                "`concurrency` must be 1..={MAX_CONCURRENCY}, got {}",
                self.concurrency
            ));
        }
        if !(self.max_failure_share.is_finite() && (0.0..=1.0).contains(&self.max_failure_share)) {
            return bad(format!(
                "`max_failure_share` must be 0..=1, got {}",
                self.max_failure_share
            ));
        }
        for (name, v, max) in [
            ("timeout_s", self.timeout_s, 86_400),
            ("request_timeout_s", self.request_timeout_s, 3_600),
            ("poll_ms", self.poll_ms, 60_000),
            ("base_fee_multiplier", self.base_fee_multiplier, 1_000),
        ] {
            if !(1..=max).contains(&v) {
                return bad(format!("`{name}` must be 1..={max}, got {v}"));
            }
        }
        for (name, v, max) in [
            (
                "inflight_per_connection",
                self.inflight_per_connection,
                1_024,
            ),
            ("max_pending_per_sender", self.max_pending_per_sender, 1_024),
        ] {
            if !(1..=max).contains(&v) {
                return bad(format!("`{name}` must be 1..={max}, got {v}"));
            }
        }
        crate::keys::parse_key(&self.key).map_err(|e| BenchError::scenario(e.to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let s = Scenario::default();
        s.validate().expect("defaults are valid");
        assert_eq!(s.measured_txs(), DEFAULT_TXS);
        assert_eq!(s.max_failure_share, 0.01);
    }

    #[test]
    fn toml_round_trip_and_unknown_keys() {
        let s = Scenario::from_toml(
            "workload = \"amm\"\npools = 4\ncontention = 0.25\nrate = 500\nduration_s = 10\n",
        )
        .expect("parses");
        assert_eq!(s.workload, WorkloadKind::Amm);
        assert_eq!(s.pools, 4);
        assert_eq!(s.measured_txs(), 5_000);
        s.validate().expect("valid");
        let text = toml::to_string(&s).expect("serialises");
        assert_eq!(Scenario::from_toml(&text).expect("parses back"), s);
        let e = Scenario::from_toml("senderz = 3\n").expect_err("unknown key");
        assert!(e.to_string().contains("senderz"), "{e}");
        let e = Scenario::from_toml("workload = \"nft\"\n").expect_err("unknown workload");
        assert!(e.to_string().contains("nft"), "{e}");
    }

    #[test]
    fn validation_names_the_knob() {
        let check = |f: &dyn Fn(&mut Scenario), needle: &str| {
            let mut s = Scenario::default();
            f(&mut s);
            let e = s.validate().expect_err(needle);
            assert!(e.to_string().contains(needle), "{e} lacks {needle}");
            assert!(matches!(e, BenchError::Scenario { .. }));
        };
        check(&|s| s.contention = 1.5, "contention");
        check(&|s| s.contention = f64::NAN, "contention");
        check(&|s| s.senders = 0, "senders");
        check(&|s| s.endpoints.clear(), "endpoints");
        check(&|s| s.endpoints = vec!["ws://x".into()], "http");
        check(&|s| s.txs = Some(0), "txs");
        check(&|s| s.duration_s = Some(-1.0), "duration_s");
        check(&|s| s.rate = -3.0, "rate");
        check(&|s| s.pools = 0, "pools");
        check(&|s| s.max_failure_share = 2.0, "max_failure_share");
        check(&|s| s.key = "0x12".into(), "key");
        check(
            &|s| {
                s.rate = 1e6;
                s.duration_s = Some(80_000.0)
            },
            "pre-sign",
        );
    }

    #[test]
    fn duration_caps() {
        let mut s = Scenario {
            duration_s: Some(5.0),
            ..Scenario::default()
        };
        assert_eq!(s.measured_txs(), DEFAULT_DURATION_CAP_TXS);
        s.txs = Some(300);
        assert_eq!(s.measured_txs(), 300);
        s.rate = 100.0;
        assert_eq!(s.measured_txs(), 300);
        s.txs = None;
        assert_eq!(s.measured_txs(), 500);
    }
}
