//! `rampart bench`: a load generator that measures **committed, signed ERC-20 transfers per
//! second through JSON-RPC**, and the submit-to-commit latency, against any Ethereum JSON-RPC
//! endpoint (a Rampart node, or Hardhat's/Anvil's node for a side-by-side figure). It uses only
//! standard methods: `eth_chainId`, `eth_getBlockByNumber`, `eth_maxPriorityFeePerGas`,
//! `eth_getTransactionCount`, `eth_getBalance`, `eth_estimateGas`, `eth_call`,
//! `eth_sendRawTransaction`, `eth_blockNumber`, `eth_getTransactionReceipt`,
//! `web3_clientVersion`.
//!
//! # What is measured, and how
//!
//! 1. **Setup (not timed).** A funder account (by default the well-known dev account 0) deploys
//!    the OpenZeppelin ERC-20 `Token` (`tests/contracts`), then funds `--senders` sender accounts,
//!    derived deterministically as `keccak256("rampart-bench" || i as u64 big-endian)`, with ETH
//!    and tokens. Every setup transaction must have a successful receipt.
//! 2. **Pre-signing (timed separately).** All warm-up and measured transactions are signed before
//!    any is sent: EIP-1559, `transfer(recipient, 1)` to seeded random recipients, round-robin over
//!    the senders with per-sender nonces, `maxFeePerGas = 2 × baseFee + tip`. The time to sign and
//!    the time to serialise (EIP-2718 bytes, hex and the JSON-RPC request body) are measured: this
//!    is the generator's own ceiling, reported next to the result.
//! 3. **Warm-up** (`--warmup-txs`): sent and waited for exactly like the measured set, then
//!    discarded, so that connections, caches and the node's first blocks are not in the figure.
//! 4. **Sending.** `--concurrency` worker tasks each own a fixed subset of the senders and send
//!    their transactions with `eth_sendRawTransaction` one at a time, in nonce order (a sender's
//!    transaction k+1 is sent only after the send of k returned), over several HTTP clients (one
//!    per `--inflight-per-connection` workers). Without `--rate` this is a closed loop (as fast as
//!    the endpoint answers); with `--rate R` it is paced open-loop: transaction i is due at
//!    `start + i/R`, and the delay between that schedule and the actual send ("submit lag") is
//!    reported, so a generator that cannot keep up is visible. The submit time of each transaction
//!    is taken just before its request is sent; rejected sends are recorded with their error.
//! 5. **Commit tracking.** A separate task, on its own connection, polls `eth_blockNumber` every
//!    `--poll-ms` (10 ms) and reads each new block's transaction hashes; a transaction's commit
//!    time is the time its block was discovered. Tracking ends when every accepted transaction was
//!    seen in a block, or `--timeout` seconds after the last send; the rest count as timed out.
//! 6. **Report.** Counts (submitted = committed + rejected + timed out), committed tx/s =
//!    committed / (last commit − first submit), the achieved submit rate, latency percentiles
//!    (submit → commit), blocks and transactions per block, the client ceiling (signing and
//!    serialisation tx/s on one core, and how many CPU cores the generator used while sending), a
//!    sample of receipts (reverted transfers must be 0) and an on-chain cross-check: the tokens
//!    the senders lost must equal the number of committed transfers. The result fails (non-zero
//!    exit) when (rejected + timed out + reverted) / submitted exceeds `--max-failure-share`.
//!
//! Because the generator reports its own ceiling and CPU use, a result never silently measures
//! the load generator instead of the node: when the generator itself was saturated the report
//! says so in its notes.
//!
//! The polling resolution (10 ms) and, on a shared machine, the generator's CPU use bound the
//! precision; latency includes the RPC round trip of the block poll.

mod args;
pub mod keys;
pub mod report;
mod rpc;
mod run;
mod setup;
pub mod stats;
pub mod token;
pub mod workload;

pub use args::{BenchArgs, ChainIdArg, DEV_FUNDER_KEY};
pub use report::Report;
pub use run::run;
pub use workload::{Workload, WorkloadKind};

/// Runs the benchmark as the `rampart bench` command does: prints the report, writes the JSON
/// file if asked, and fails when the failure share is over the limit.
pub async fn main(args: BenchArgs) -> anyhow::Result<()> {
    let report = run(&args).await?;
    println!("{report}");
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n")
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        println!("report written to {}", path.display());
    }
    if !report.passed {
        anyhow::bail!(
            "failure share {:.4} is above --max-failure-share {}",
            report.failure_share,
            report.max_failure_share
        );
    }
    Ok(())
}
