//! The result of a run: a plain struct, serialisable to JSON, with a human-readable `Display`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::stats::{ErrorCount, Summary};

/// Everything a run measured. `counts.submitted = committed + rejected + timed_out`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub endpoint: String,
    pub client_version: String,
    pub chain_id: u64,
    pub workload: String,
    pub params: Params,
    pub counts: Counts,
    /// Most frequent send errors (numbers and hex normalised), most frequent first.
    pub top_errors: Vec<ErrorCount>,
    pub throughput: Throughput,
    /// Submit → commit (block discovered), committed transactions, milliseconds.
    pub latency_ms: Option<Summary>,
    /// Open loop only: actual send time − scheduled send time, milliseconds.
    pub submit_lag_ms: Option<Summary>,
    pub blocks: BlockStats,
    pub client: ClientCeiling,
    pub chain_check: Option<ChainCheck>,
    /// (rejected + timed out + reverted) / submitted.
    pub failure_share: f64,
    pub max_failure_share: f64,
    pub passed: bool,
    /// Warnings a reader must see next to the figure.
    pub notes: Vec<String>,
}

/// The run's parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Params {
    pub senders: usize,
    pub txs: usize,
    /// Worker tasks actually used (at most one per sender).
    pub concurrency: usize,
    pub http_clients: usize,
    /// Target tx/s; 0 = closed loop, as fast as possible.
    pub rate: f64,
    pub warmup_txs: usize,
    pub timeout_s: u64,
    pub seed: u64,
    pub gas_limit: u64,
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
    pub base_fee_per_gas: u128,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub submitted: usize,
    /// The send returned a hash.
    pub accepted: usize,
    /// The send failed and the transaction was never seen in a block.
    pub rejected: usize,
    /// Seen in a block (whatever the send returned).
    pub committed: usize,
    /// Accepted but not seen in a block before the timeout.
    pub timed_out: usize,
    /// Committed transfers that reverted: the larger of the reverted receipts in the sample and
    /// the on-chain shortfall (committed transfers that moved no token).
    pub reverted: usize,
    pub receipts_sampled: usize,
    pub receipts_sampled_reverted: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// committed / (last commit − first submit).
    pub committed_tx_per_s: f64,
    /// submitted / (last send returned − first submit).
    pub submit_tx_per_s: f64,
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

/// The generator's own limits, so that a result never silently measures the generator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientCeiling {
    /// Transactions signed per second on one core (pre-signing, before the measurement).
    pub sign_tx_per_s: f64,
    /// Transactions serialised per second on one core (EIP-2718 + hex + JSON-RPC body).
    pub serialise_tx_per_s: f64,
    /// CPU cores the generator process used on average while sending (Linux only).
    pub cpu_cores_used_sending: Option<f64>,
    pub available_cores: usize,
}

/// On-chain cross-check: tokens the senders lost = transfers committed (warm-up included).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainCheck {
    pub committed_transfers: u64,
    pub tokens_moved: u64,
    pub matches: bool,
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.params;
        let c = &self.counts;
        let t = &self.throughput;
        writeln!(f, "rampart bench — {}", self.workload)?;
        writeln!(
            f,
            "  endpoint        {}  ({}, chain {})",
            self.endpoint, self.client_version, self.chain_id
        )?;
        let rate = if p.rate > 0.0 {
            format!("{} tx/s open loop", p.rate)
        } else {
            "closed loop (max)".to_string()
        };
        writeln!(
            f,
            "  load            {} txs from {} senders, {} in flight over {} HTTP clients, {}, warm-up {}",
            p.txs, p.senders, p.concurrency, p.http_clients, rate, p.warmup_txs
        )?;
        writeln!(
            f,
            "  fees            gas limit {}, maxFee {} wei, tip {} wei (base fee {} wei)",
            p.gas_limit, p.max_fee_per_gas, p.max_priority_fee_per_gas, p.base_fee_per_gas
        )?;
        writeln!(
            f,
            "  transactions    submitted {}  accepted {}  rejected {}  committed {}  timed out {}  reverted {} ({} of {} sampled receipts)",
            c.submitted,
            c.accepted,
            c.rejected,
            c.committed,
            c.timed_out,
            c.reverted,
            c.receipts_sampled_reverted,
            c.receipts_sampled
        )?;
        for e in &self.top_errors {
            writeln!(f, "    {:>6} × {}", e.count, e.message)?;
        }
        writeln!(
            f,
            "  throughput      {:.1} committed tx/s over {:.2} s; submitted {:.1} tx/s over {:.2} s",
            t.committed_tx_per_s, t.measured_s, t.submit_tx_per_s, t.send_s
        )?;
        match &self.latency_ms {
            Some(l) => writeln!(
                f,
                "  latency (ms)    p50 {}  p90 {}  p99 {}  max {}  mean {}  (submit → commit)",
                ms(l.p50),
                ms(l.p90),
                ms(l.p99),
                ms(l.max),
                ms(l.mean)
            )?,
            None => writeln!(f, "  latency (ms)    no committed transactions")?,
        }
        if let Some(l) = &self.submit_lag_ms {
            writeln!(
                f,
                "  submit lag (ms) p50 {}  p99 {}  max {}  (behind the open-loop schedule)",
                ms(l.p50),
                ms(l.p99),
                ms(l.max)
            )?;
        }
        let b = &self.blocks;
        writeln!(
            f,
            "  blocks          {} with bench txs ({} seen, #{}…#{}); txs/block mean {:.1}, max {}",
            b.with_bench_txs,
            b.seen,
            b.first.map_or("-".into(), |n| n.to_string()),
            b.last.map_or("-".into(), |n| n.to_string()),
            b.txs_per_block_mean,
            b.txs_per_block_max
        )?;
        let cl = &self.client;
        writeln!(
            f,
            "  client ceiling  sign {:.0} tx/s/core, serialise {:.0} tx/s/core; generator CPU while sending: {} of {} cores",
            cl.sign_tx_per_s,
            cl.serialise_tx_per_s,
            cl.cpu_cores_used_sending
                .map_or("n/a".into(), |v| format!("{v:.2}")),
            cl.available_cores
        )?;
        if let Some(cc) = &self.chain_check {
            writeln!(
                f,
                "  chain check     tokens moved {} vs committed transfers {} (warm-up included): {}",
                cc.tokens_moved,
                cc.committed_transfers,
                if cc.matches { "ok" } else { "MISMATCH" }
            )?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        write!(
            f,
            "  result          {} (failure share {:.4}, limit {})",
            if self.passed { "PASS" } else { "FAIL" },
            self.failure_share,
            self.max_failure_share
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Report {
        Report {
            endpoint: "http://127.0.0.1:8545".into(),
            client_version: "rampart/0.1.0".into(),
            chain_id: 1337,
            workload: "erc20-transfer".into(),
            params: Params {
                senders: 2,
                txs: 10,
                concurrency: 2,
                http_clients: 1,
                rate: 0.0,
                warmup_txs: 0,
                timeout_s: 120,
                seed: 42,
                gas_limit: 65_000,
                max_fee_per_gas: 3_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000,
                base_fee_per_gas: 1_000_000_000,
            },
            counts: Counts {
                submitted: 10,
                accepted: 9,
                rejected: 1,
                committed: 9,
                timed_out: 0,
                reverted: 0,
                receipts_sampled: 5,
                receipts_sampled_reverted: 0,
            },
            top_errors: vec![ErrorCount {
                message: "nonce too low".into(),
                count: 1,
            }],
            throughput: Throughput {
                committed_tx_per_s: 90.0,
                submit_tx_per_s: 1000.0,
                measured_s: 0.1,
                send_s: 0.01,
            },
            latency_ms: Summary::of(vec![10.0, 20.0, 30.0]),
            submit_lag_ms: None,
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
                cpu_cores_used_sending: Some(0.25),
                available_cores: 2,
            },
            chain_check: Some(ChainCheck {
                committed_transfers: 9,
                tokens_moved: 9,
                matches: true,
            }),
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
            "committed 9",
            "rejected 1",
            "nonce too low",
            "90.0 committed tx/s",
            "p50 20.0",
            "FAIL",
            "note: a note",
            "ok",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }
}
