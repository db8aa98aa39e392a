//! The result of a run: a plain struct, serialisable to JSON, with a human-readable table as
//! its `Display`. The plots are drawn from it alone (`plots.rs`), so a JSON report can be
//! re-plotted later.

use std::fmt;

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};

use crate::metrics::NodeFigures;
use crate::stats::{ErrorCount, Summary};

/// Everything a run measured.
/// `counts.submitted = committed + rejected + timed_out`; `committed = succeeded + reverted`;
/// `failed = rejected + reverted + timed_out`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The scenario's label.
    pub name: Option<String>,
    pub endpoints: Vec<String>,
    pub client_version: String,
    pub chain_id: u64,
    pub workload: String,
    pub params: Params,
    /// Contracts deployed in setup.
    pub contracts: Vec<(String, Address)>,
    pub counts: Counts,
    /// Most frequent send errors (numbers and hex normalised), most frequent first.
    pub top_errors: Vec<ErrorCount>,
    pub throughput: Throughput,
    /// Submit → seen in a committed block, committed transactions, milliseconds.
    pub latency_ms: Option<Summary>,
    /// Open loop only: actual send time − scheduled send time, milliseconds.
    pub submit_lag_ms: Option<Summary>,
    pub latency_histogram: Vec<HistogramBin>,
    pub series: Series,
    pub blocks: BlockStats,
    pub client: ClientCeiling,
    pub chain_check: ChainCheck,
    /// The node's own figures (Prometheus deltas over the measurement), with `--metrics-url`.
    pub node: Option<NodeFigures>,
    /// (rejected + reverted + timed out) / submitted.
    pub failure_share: f64,
    pub max_failure_share: f64,
    pub passed: bool,
    /// Warnings a reader must see next to the figures.
    pub notes: Vec<String>,
}

/// The run's parameters (the scenario, resolved; the key is left out).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Params {
    pub senders: usize,
    /// Measured transactions pre-signed.
    pub txs: usize,
    pub duration_s: Option<f64>,
    pub contention: f64,
    pub hot_accounts: usize,
    pub pools: usize,
    pub proxies: usize,
    /// Worker tasks actually used.
    pub concurrency: usize,
    pub http_clients: usize,
    /// Target tx/s; 0 = closed loop.
    pub rate: f64,
    pub warmup_txs: usize,
    pub timeout_s: u64,
    pub request_timeout_s: u64,
    pub seed: u64,
    pub gas_limit: u64,
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
    pub base_fee_per_gas: u128,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Sends attempted in the measurement.
    pub submitted: usize,
    /// The send returned the transaction's hash.
    pub accepted: usize,
    /// Failed: the send was refused (or not made) and the transaction never reached a block.
    pub rejected: usize,
    /// Seen in a committed block (whatever the send returned).
    pub committed: usize,
    /// Committed with receipt status 1.
    pub succeeded: usize,
    /// Failed: committed with receipt status 0.
    pub reverted: usize,
    /// Failed: accepted but not seen in a block before the timeout.
    pub timed_out: usize,
    /// rejected + reverted + timed_out.
    pub failed: usize,
    /// Transactions the contention draw sent to the hot spot.
    pub hot: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// committed / (last commit − first submit).
    pub committed_tx_per_s: f64,
    /// submitted / (last send returned − first submit): the submit rate achieved.
    pub submit_tx_per_s: f64,
    /// Gas of the committed transactions (from their receipts).
    pub gas_used: u64,
    /// gas_used / (last commit − first submit).
    pub gas_per_s: f64,
    /// First submit → last commit, seconds.
    pub measured_s: f64,
    /// First submit → last send returned, seconds.
    pub send_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockStats {
    /// New blocks discovered from the first measured submit to the end of tracking.
    pub seen: usize,
    /// Blocks holding at least one measured transaction.
    pub with_bench_txs: usize,
    /// Transactions per block (all of the block's transactions) over `with_bench_txs`.
    pub txs_per_block_mean: f64,
    pub txs_per_block_max: usize,
    pub first: Option<u64>,
    pub last: Option<u64>,
}

/// The generator's own limits, measured in the same run, so that a result never silently
/// measures the generator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientCeiling {
    /// Transactions signed per second per core (pre-signing).
    pub sign_tx_per_s: f64,
    /// Transactions serialised per second per core (EIP-2718 + hex + JSON-RPC body).
    pub serialise_tx_per_s: f64,
    /// Threads that pre-signed, and the wall time it took.
    pub presign_threads: usize,
    pub presign_s: f64,
    /// The submit rate achieved (same as `throughput.submit_tx_per_s`).
    pub submit_tx_per_s: f64,
    /// CPU cores the generator process used on average while sending (Linux only).
    pub cpu_cores_used_sending: Option<f64>,
    pub available_cores: usize,
    /// True when the generator, not the endpoint, may have set the pace (see the notes).
    pub may_be_generator_bound: bool,
}

/// What the chain holds after the run, against what the generator saw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainCheck {
    /// Measured committed transactions whose receipt the endpoint they were sent to returned.
    pub receipts_found: usize,
    pub receipts_missing: usize,
    /// Σ over senders of (nonce now − nonce before warm-up), and the transactions the tracker saw
    /// committed (warm-up included): equal when nothing was lost or counted twice.
    pub nonces_advanced: u64,
    pub committed_incl_warmup: u64,
    /// The workload's own figure (tokens moved, increments, hot balance, pool reserves).
    pub workload_figure: String,
    pub workload_expected: String,
    pub workload_observed: String,
    pub matches: bool,
}

/// Rates and latency over time, in buckets of `bucket_s` from the first measured submit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub bucket_s: f64,
    pub points: Vec<SeriesPoint>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Start of the bucket, seconds.
    pub t_s: f64,
    pub submitted_per_s: f64,
    pub committed_per_s: f64,
    /// Rejected sends, by submit time.
    pub rejected_per_s: f64,
    /// Latency of the transactions committed in this bucket.
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
}

/// One bin of the latency histogram, `[lo_ms, hi_ms)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistogramBin {
    pub lo_ms: f64,
    pub hi_ms: f64,
    pub count: usize,
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.params;
        let c = &self.counts;
        let t = &self.throughput;
        let title = self
            .name
            .as_ref()
            .map_or(String::new(), |n| format!(" ({n})"));
        writeln!(f, "rampart bench — {}{title}", self.workload)?;
        writeln!(
            f,
            "  endpoint      {}  ({}, chain {})",
            self.endpoints.join(", "),
            self.client_version,
            self.chain_id
        )?;
        let rate = if p.rate > 0.0 {
            format!("open loop {} tx/s", p.rate)
        } else {
            "closed loop".to_string()
        };
        let amount = match p.duration_s {
            Some(d) => format!("{d} s (at most {} txs)", p.txs),
            None => format!("{} txs", p.txs),
        };
        writeln!(
            f,
            "  load          {amount} from {} senders, {rate}, {} in flight over {} HTTP clients, warm-up {}",
            p.senders, p.concurrency, p.http_clients, p.warmup_txs
        )?;
        let targets = match self.workload.as_str() {
            "amm" => format!("pools {} (pool 0 hot)", p.pools),
            "uups" => format!("proxies {} (proxy 0 hot)", p.proxies),
            _ => format!("hot accounts {}", p.hot_accounts),
        };
        writeln!(
            f,
            "  contention    {} ({} of {} txs on the hot spot); {targets}",
            p.contention, c.hot, c.submitted
        )?;
        writeln!(
            f,
            "  fees          gas limit {}, maxFee {} wei, tip {} wei (base fee {} wei)",
            p.gas_limit, p.max_fee_per_gas, p.max_priority_fee_per_gas, p.base_fee_per_gas
        )?;
        writeln!(f)?;
        writeln!(f, "  {:<32}{:>10}", "transactions", "count")?;
        for (label, v) in [
            ("submitted", c.submitted),
            ("  committed", c.committed),
            ("    succeeded", c.succeeded),
            ("    reverted (failed)", c.reverted),
            ("  rejected at ingress (failed)", c.rejected),
            ("  timed out (failed)", c.timed_out),
            ("failed", c.failed),
        ] {
            writeln!(f, "  {label:<32}{v:>10}")?;
        }
        for e in &self.top_errors {
            writeln!(f, "    {:>6} × {}", e.count, e.message)?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  throughput    {:.1} committed tx/s, {:.0} gas/s over {:.2} s; submitted {:.1} tx/s over {:.2} s",
            t.committed_tx_per_s, t.gas_per_s, t.measured_s, t.submit_tx_per_s, t.send_s
        )?;
        match &self.latency_ms {
            Some(l) => writeln!(
                f,
                "  latency (ms)  p50 {}  p90 {}  p99 {}  max {}  mean {}  (submit → committed block seen)",
                ms(l.p50),
                ms(l.p90),
                ms(l.p99),
                ms(l.max),
                ms(l.mean)
            )?,
            None => writeln!(f, "  latency (ms)  no committed transactions")?,
        }
        if let Some(l) = &self.submit_lag_ms {
            writeln!(
                f,
                "  submit lag    p50 {}  p99 {}  max {} ms behind the open-loop schedule",
                ms(l.p50),
                ms(l.p99),
                ms(l.max)
            )?;
        }
        let b = &self.blocks;
        writeln!(
            f,
            "  blocks        {} with bench txs ({} seen, #{}…#{}); txs/block mean {:.1}, max {}",
            b.with_bench_txs,
            b.seen,
            b.first.map_or("-".into(), |n| n.to_string()),
            b.last.map_or("-".into(), |n| n.to_string()),
            b.txs_per_block_mean,
            b.txs_per_block_max
        )?;
        if let Some(n) = &self.node {
            writeln!(
                f,
                "  node          blocks {}, txs committed {}, failed {}, rejected at ingress {}, gas {}",
                opt(n.blocks_committed, 0),
                opt(n.txs_committed, 0),
                opt(n.txs_failed, 0),
                opt(n.txs_rejected_at_ingress, 0),
                opt(n.gas_used, 0)
            )?;
            writeln!(
                f,
                "                Block-STM executions {}, re-executions {} (conflicts, not failures), aborts {}; blocks parallel {} / sequential {}; worker time executing {} s, validating {} s",
                opt(n.tx_executions, 0),
                opt(n.tx_reexecutions, 0),
                opt(n.validation_aborts, 0),
                opt(n.blocks_parallel, 0),
                opt(n.blocks_sequential, 0),
                opt(n.execution_s, 3),
                opt(n.validation_s, 3)
            )?;
            writeln!(
                f,
                "                block build {} ms, execute {} ms, commit {} ms (means)",
                opt(n.block_build_ms_mean, 2),
                opt(n.block_execute_ms_mean, 2),
                opt(n.block_commit_ms_mean, 2)
            )?;
        }
        let cl = &self.client;
        writeln!(
            f,
            "  client        sign {:.0} tx/s/core, serialise {:.0} tx/s/core ({} threads, {:.2} s); submit {:.0} tx/s achieved; CPU while sending {} of {} cores",
            cl.sign_tx_per_s,
            cl.serialise_tx_per_s,
            cl.presign_threads,
            cl.presign_s,
            cl.submit_tx_per_s,
            opt(cl.cpu_cores_used_sending, 2),
            cl.available_cores
        )?;
        let cc = &self.chain_check;
        writeln!(
            f,
            "  chain check   receipts {} found, {} missing; nonces advanced {} vs {} committed (warm-up included); {}: expected {}, observed {} — {}",
            cc.receipts_found,
            cc.receipts_missing,
            cc.nonces_advanced,
            cc.committed_incl_warmup,
            cc.workload_figure,
            cc.workload_expected,
            cc.workload_observed,
            if cc.matches { "ok" } else { "MISMATCH" }
        )?;
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        write!(
            f,
            "  result        {} (failure share {:.4}, limit {})",
            if self.passed { "PASS" } else { "FAIL" },
            self.failure_share,
            self.max_failure_share
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Report {
        Report {
            name: Some("t".into()),
            endpoints: vec!["http://127.0.0.1:8545".into()],
            client_version: "rampart/0.1.0".into(),
            chain_id: 1337,
            workload: "erc20".into(),
            params: Params {
                senders: 2,
                txs: 10,
                duration_s: None,
                contention: 0.5,
                hot_accounts: 1,
                pools: 8,
                proxies: 8,
                concurrency: 2,
                http_clients: 1,
                rate: 0.0,
                warmup_txs: 0,
                timeout_s: 120,
                request_timeout_s: 30,
                seed: 42,
                gas_limit: 65_000,
                max_fee_per_gas: 3_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000,
                base_fee_per_gas: 1_000_000_000,
            },
            contracts: vec![("token".into(), Address::repeat_byte(1))],
            counts: Counts {
                submitted: 10,
                accepted: 9,
                rejected: 1,
                committed: 9,
                succeeded: 9,
                reverted: 0,
                timed_out: 0,
                failed: 1,
                hot: 5,
            },
            top_errors: vec![ErrorCount {
                message: "nonce too low".into(),
                count: 1,
            }],
            throughput: Throughput {
                committed_tx_per_s: 90.0,
                submit_tx_per_s: 1000.0,
                gas_used: 450_000,
                gas_per_s: 4_500_000.0,
                measured_s: 0.1,
                send_s: 0.01,
            },
            latency_ms: Summary::of(vec![10.0, 20.0, 30.0]),
            submit_lag_ms: None,
            latency_histogram: vec![HistogramBin {
                lo_ms: 0.0,
                hi_ms: 40.0,
                count: 3,
            }],
            series: Series {
                bucket_s: 0.1,
                points: vec![SeriesPoint {
                    t_s: 0.0,
                    submitted_per_s: 100.0,
                    committed_per_s: 90.0,
                    rejected_per_s: 10.0,
                    latency_p50_ms: Some(20.0),
                    latency_p99_ms: Some(30.0),
                }],
            },
            blocks: BlockStats {
                seen: 2,
                with_bench_txs: 1,
                txs_per_block_mean: 9.0,
                txs_per_block_max: 9,
                first: Some(5),
                last: Some(5),
            },
            client: ClientCeiling {
                sign_tx_per_s: 5000.0,
                serialise_tx_per_s: 100_000.0,
                presign_threads: 2,
                presign_s: 0.01,
                submit_tx_per_s: 1000.0,
                cpu_cores_used_sending: Some(0.25),
                available_cores: 2,
                may_be_generator_bound: false,
            },
            chain_check: ChainCheck {
                receipts_found: 9,
                receipts_missing: 0,
                nonces_advanced: 9,
                committed_incl_warmup: 9,
                workload_figure: "tokens moved".into(),
                workload_expected: "9".into(),
                workload_observed: "9".into(),
                matches: true,
            },
            node: None,
            failure_share: 0.1,
            max_failure_share: 0.01,
            passed: false,
            notes: vec!["a note".into()],
        }
    }

    #[test]
    fn json_round_trip() {
        let r = sample();
        let text = serde_json::to_string_pretty(&r).expect("serialises");
        let back: Report = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, r);
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["counts"]["committed"], 9);
        assert_eq!(v["latency_ms"]["p50"], 20.0);
        assert_eq!(v["throughput"]["committed_tx_per_s"], 90.0);
        assert_eq!(v["submit_lag_ms"], serde_json::Value::Null);
    }

    #[test]
    fn human_table_mentions_the_essentials() {
        let text = sample().to_string();
        for needle in [
            "committed",
            "rejected at ingress (failed)",
            "nonce too low",
            "90.0 committed tx/s",
            "4500000 gas/s",
            "p50 20.0",
            "FAIL",
            "note: a note",
            "— ok",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }
}
