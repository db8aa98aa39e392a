//! `rampart bench`: a load generator for any Ethereum JSON-RPC endpoint (a Rampart node, or
//! Hardhat's/Anvil's node for a side-by-side figure). It measures **committed, signed
//! transactions per second**, gas per second and submit-to-commit latency, for a choice of
//! workloads and a contention knob, and says when a figure may measure the generator instead.
//! It uses only standard methods (`eth_chainId`, `eth_getBlockByNumber`,
//! `eth_maxPriorityFeePerGas`, `eth_getTransactionCount`, `eth_getBalance`, `eth_estimateGas`,
//! `eth_call`, `eth_getStorageAt`, `eth_sendRawTransaction`, `eth_blockNumber`,
//! `eth_getTransactionReceipt`, `web3_clientVersion`), plus a probe of
//! `rampart_nativeContracts` for the `native` workload.
//!
//! # What is measured, and how
//!
//! 1. **Scenario.** Every knob lives in a [`Scenario`], read from a TOML file (`--scenario`)
//!    and overridden by flags; [`Scenario::validate`] names a bad knob and its range.
//! 2. **Setup (not timed).** A funder account (by default the well-known dev account 0)
//!    deploys the workload's contracts (`tests/contracts` artifacts: the OpenZeppelin ERC-20
//!    `Token`; `Amm` pools with two tokens and liquidity; `BoxV1` behind `ERC1967Proxy`s,
//!    upgraded to `BoxV2` through UUPS; for `native`, a native token binary sent to Rampart's
//!    native deployer and minted) and funds `senders` sender accounts, derived as
//!    `keccak256("rampart-bench" || i as u64 big-endian)`, with ETH and tokens; AMM senders
//!    approve every pool. Every setup transaction must succeed; the funder's balance is
//!    checked first ([`BenchError::Unfunded`]).
//! 3. **Pre-signing (timed separately).** All warm-up and measured transactions are signed
//!    before any is sent, on every core: EIP-1559, round-robin over the senders with
//!    per-sender nonces, `maxFeePerGas = multiplier × baseFee + tip`. Signing and serialising
//!    rates per core are the generator's ceiling, reported next to the result.
//! 4. **Warm-up** (`warmup_txs`): sent and waited for like the measured set, then discarded.
//! 5. **Sending.** `concurrency` worker tasks each own a fixed subset of the senders and send
//!    their transactions one at a time, in nonce order, round-robin over the endpoints, over
//!    several keep-alive HTTP clients per endpoint. Without `rate` this is a closed loop; with
//!    `rate` it is paced open loop (transaction i is due at `start + i/rate`) and the delay
//!    behind that schedule is reported. `duration_s` stops sending when the time is up.
//!    Sends are never retried (a retry would count one transaction twice).
//! 6. **Commit tracking.** A task on its own connection polls `eth_blockNumber` every
//!    `poll_ms` and reads each new block's transaction hashes; a transaction's commit time is
//!    the time its block was discovered. Tracking ends when every accepted transaction was
//!    seen, or `timeout_s` after the last send; the rest count as timed out.
//! 7. **Read-back and chain check.** Every committed transaction's receipt is read (JSON-RPC
//!    batches) from the endpoint it was sent to: status 0 counts as reverted, gas used gives
//!    gas/s. The senders' nonces must have advanced by exactly the transactions seen committed,
//!    and the workload's on-chain figure must match (tokens moved, increments through the
//!    proxies, hot balances, pool reserves = balances with k never falling).
//! 8. **Report.** A table on stdout, JSON (`--json`), SVG plots (`--plots`), with the node's
//!    own figures when `metrics_url` is given (Prometheus deltas: blocks, Block-STM
//!    re-executions, block times). The run fails (non-zero exit) when
//!    (rejected + reverted + timed out) / submitted exceeds `max_failure_share` (0.01).
//!
//! A Block-STM re-execution caused by a conflict is a cost, visible in the node's figures, and
//! never a failure. Every bound has a documented default: see [`Scenario`] and the constants
//! in `run`, `setup` and `metrics`.

mod args;
pub mod contracts;
mod error;
pub mod keys;
pub mod metrics;
pub mod plots;
pub mod report;
mod rpc;
pub mod run;
pub mod scenario;
pub mod setup;
pub mod stats;
pub mod token;
pub mod workload;

pub use args::{BenchArgs, ChainIdArg, DEV_FUNDER_KEY};
pub use error::{BenchError, Result};
pub use report::Report;
pub use run::{RunOptions, run};
pub use scenario::Scenario;
pub use workload::{Workload, WorkloadKind};

/// Writes the report as pretty JSON.
pub fn write_json(path: &std::path::Path, report: &Report) -> Result<()> {
    let text = serde_json::to_string_pretty(report).map_err(anyhow::Error::from)?;
    std::fs::write(path, text + "\n").map_err(|e| BenchError::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Runs the benchmark as the `rampart bench` command does: prints the report, writes the JSON
/// and the plots if asked, and fails when the failure share is over the limit.
pub async fn main(args: BenchArgs) -> Result<Report> {
    let scenario = args.resolve()?;
    let report = run(
        &scenario,
        RunOptions {
            progress: !args.quiet,
        },
    )
    .await?;
    println!("{report}");
    if let Some(path) = &args.json {
        write_json(path, &report)?;
        println!("report written to {}", path.display());
    }
    if let Some(dir) = &args.plots {
        for p in plots::write_all(dir, &report)? {
            println!("plot written to {}", p.display());
        }
    }
    verdict(&report)?;
    Ok(report)
}

/// The exit verdict of a finished run: `Err(FailureShare)` when more transactions failed than
/// `max_failure_share` allows (the command then exits non-zero).
pub fn verdict(report: &Report) -> Result<()> {
    if report.passed && report.failure_share <= report.max_failure_share {
        Ok(())
    } else {
        Err(BenchError::FailureShare {
            share: report.failure_share,
            limit: report.max_failure_share,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_follows_the_failure_share() {
        let mut r = report::tests::sample();
        // 1 failed of 10 against a limit of 0.01.
        let e = verdict(&r).expect_err("over the limit");
        assert!(matches!(e, BenchError::FailureShare { .. }));
        assert!(e.to_string().contains("--max-failure-share 0.01"), "{e}");
        r.max_failure_share = 0.1;
        r.passed = true;
        verdict(&r).expect("at the limit passes");
        r.failure_share = 0.11;
        assert!(verdict(&r).is_err());
    }
}
