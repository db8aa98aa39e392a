//! The measurement: pre-sign, send (closed or open loop), track commits, report.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy_eips::eip2718::Encodable2718 as _;
use alloy_primitives::{B256, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use futures::{StreamExt as _, TryStreamExt as _};
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;

use crate::args::BenchArgs;
use crate::report::{BlockStats, ChainCheck, ClientCeiling, Counts, Params, Report, Throughput};
use crate::rpc::Rpc;
use crate::setup::{self, ChainInfo, sign_1559};
use crate::stats::{self, Pacer, Summary};
use crate::workload::Workload;

/// Timeout of one JSON-RPC request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One pre-signed transaction, ready to send.
#[derive(Debug)]
struct SignedTx {
    hash: B256,
    raw: String,
    sender: usize,
}

#[derive(Debug)]
struct Presigned {
    txs: Vec<SignedTx>,
    sign_time: Duration,
    serialise_time: Duration,
}

/// Signs `total` transactions round-robin over the senders (transaction i: sender i mod S,
/// its (i div S)-th nonce), timing signing and serialisation separately.
fn presign(
    workload: &dyn Workload,
    keys: &[PrivateKeySigner],
    start_nonces: &[u64],
    chain: &ChainInfo,
    gas_limit: u64,
    total: usize,
    seed: u64,
) -> anyhow::Result<Presigned> {
    let mut rng = StdRng::seed_from_u64(seed);
    let s = keys.len();
    let mut txs = Vec::with_capacity(total);
    let (mut sign_time, mut serialise_time) = (Duration::ZERO, Duration::ZERO);
    for i in 0..total {
        let sender = i % s;
        let nonce = start_nonces[sender] + (i / s) as u64;
        let call = workload.next_call(sender, &mut rng);
        let t = Instant::now();
        let signed = sign_1559(
            &keys[sender],
            chain,
            nonce,
            gas_limit,
            TxKind::Call(call.to),
            call.value,
            call.input,
        )?;
        let t1 = Instant::now();
        sign_time += t1 - t;
        let raw = format!("0x{}", hex::encode(signed.envelope.encoded_2718()));
        // The request body the client builds for it (built again when sent; measured here).
        let body = serde_json::to_vec(&serde_json::json!({
            "jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [&raw],
        }))?;
        std::hint::black_box(body);
        serialise_time += t1.elapsed();
        txs.push(SignedTx {
            hash: signed.hash,
            raw,
            sender,
        });
    }
    Ok(Presigned {
        txs,
        sign_time,
        serialise_time,
    })
}

/// A block the tracker discovered.
#[derive(Debug)]
struct BlockSeen {
    number: u64,
    at: Instant,
    txs: usize,
    /// Indices of bench transactions in it.
    bench: Vec<usize>,
}

/// What the commit tracker found, shared with the senders and the waiter.
#[derive(Debug)]
struct Board {
    base: Instant,
    /// Per transaction: 0 = not seen; else 1 + nanoseconds from `base` to its block's discovery.
    commit_ns: Vec<AtomicU64>,
    /// Per sender: bench transactions seen in blocks.
    per_sender: Vec<AtomicU64>,
    senders: usize,
    blocks: Mutex<Vec<BlockSeen>>,
    stop: AtomicBool,
    poll_errors: AtomicU64,
    last_poll_error: Mutex<Option<String>>,
}

impl Board {
    fn new(total: usize, senders: usize) -> Self {
        Self {
            base: Instant::now(),
            commit_ns: (0..total).map(|_| AtomicU64::new(0)).collect(),
            per_sender: (0..senders).map(|_| AtomicU64::new(0)).collect(),
            senders,
            blocks: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            poll_errors: AtomicU64::new(0),
            last_poll_error: Mutex::new(None),
        }
    }
    fn commit_at(&self, i: usize) -> Option<Instant> {
        match self.commit_ns[i].load(Ordering::Acquire) {
            0 => None,
            n => Some(self.base + Duration::from_nanos(n - 1)),
        }
    }
    fn mark(&self, i: usize, at: Instant) {
        let ns = (at.saturating_duration_since(self.base).as_nanos() as u64).saturating_add(1);
        if self.commit_ns[i]
            .compare_exchange(0, ns, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.per_sender[i % self.senders].fetch_add(1, Ordering::AcqRel);
        }
    }
    fn poll_error(&self, e: String) {
        self.poll_errors.fetch_add(1, Ordering::Relaxed);
        *self
            .last_poll_error
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(e);
    }
}

/// Polls `eth_blockNumber` and reads every new block's transaction hashes until stopped.
async fn track(
    rpc: Rpc,
    board: Arc<Board>,
    index: Arc<HashMap<B256, usize>>,
    start_block: u64,
    poll: Duration,
) {
    let mut next = start_block + 1;
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !board.stop.load(Ordering::Acquire) {
        tick.tick().await;
        let head = match rpc.block_number().await {
            Ok(h) => h,
            Err(e) => {
                board.poll_error(e.to_string());
                continue;
            }
        };
        let at = Instant::now();
        while next <= head {
            match rpc.block(next).await {
                Ok(Some(b)) => {
                    let bench: Vec<usize> = b
                        .transactions
                        .iter()
                        .filter_map(|h| index.get(h).copied())
                        .collect();
                    for &i in &bench {
                        board.mark(i, at);
                    }
                    board
                        .blocks
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(BlockSeen {
                            number: b.number.to(),
                            at,
                            txs: b.transactions.len(),
                            bench,
                        });
                    next += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    board.poll_error(e.to_string());
                    break;
                }
            }
        }
    }
}

/// The outcome of one send.
#[derive(Debug)]
struct SendRecord {
    idx: usize,
    due: Option<Instant>,
    submit: Instant,
    returned: Instant,
    error: Option<String>,
}

struct SendCtx {
    txs: Arc<Vec<SignedTx>>,
    board: Arc<Board>,
    clients: Vec<Rpc>,
    workers: usize,
    window: u64,
    wait_limit: Duration,
    poll: Duration,
}

/// Sends the transactions `range`: worker w owns the senders s with s mod workers = w and sends
/// their transactions one at a time in global order, hence in nonce order per sender.
async fn send_phase(ctx: &Arc<SendCtx>, range: Range<usize>, pacer: Pacer) -> Vec<SendRecord> {
    let mut lists: Vec<Vec<usize>> = vec![Vec::new(); ctx.workers];
    for i in range.clone() {
        lists[ctx.txs[i].sender % ctx.workers].push(i);
    }
    let start = Instant::now();
    let mut handles = Vec::with_capacity(ctx.workers);
    for (w, list) in lists.into_iter().enumerate() {
        let ctx = Arc::clone(ctx);
        let first = range.start;
        handles.push(tokio::spawn(async move {
            let rpc = &ctx.clients[w % ctx.clients.len()];
            let mut out = Vec::with_capacity(list.len());
            for i in list {
                let due = pacer.due(i - first).map(|d| start + d);
                if let Some(due) = due {
                    tokio::time::sleep_until(due.into()).await;
                }
                let tx = &ctx.txs[i];
                // Keep the sender's uncommitted transactions within the window.
                let seq = (i / ctx.board.senders) as u64;
                let waited = Instant::now();
                let mut error = None;
                while seq >= ctx.board.per_sender[tx.sender].load(Ordering::Acquire) + ctx.window {
                    if waited.elapsed() > ctx.wait_limit {
                        error = Some(
                            "not sent: the sender's earlier transactions were not committed in time"
                                .to_string(),
                        );
                        break;
                    }
                    tokio::time::sleep(ctx.poll).await;
                }
                let submit = Instant::now();
                if error.is_none() {
                    error = match rpc.send_raw(&tx.raw).await {
                        Ok(h) if h == tx.hash => None,
                        Ok(h) => Some(format!(
                            "the endpoint returned hash {h}, expected {}",
                            tx.hash
                        )),
                        Err(e) => Some(e),
                    };
                }
                out.push(SendRecord {
                    idx: i,
                    due,
                    submit,
                    returned: Instant::now(),
                    error,
                });
            }
            out
        }));
    }
    let mut records = Vec::with_capacity(range.len());
    for h in handles {
        match h.await {
            Ok(r) => records.extend(r),
            Err(e) => {
                tracing::error!(target: "rampart::bench", error = %e, "a send worker panicked")
            }
        }
    }
    records.sort_by_key(|r| r.idx);
    records
}

/// Waits until every transaction in `accepted` was seen in a block, or `deadline`.
async fn wait_commits(board: &Board, mut pending: Vec<usize>, deadline: Instant, poll: Duration) {
    let mut last_log = Instant::now();
    loop {
        pending.retain(|&i| board.commit_at(i).is_none());
        if pending.is_empty() || Instant::now() >= deadline {
            return;
        }
        if last_log.elapsed() >= Duration::from_secs(5) {
            tracing::info!(target: "rampart::bench", waiting_for = pending.len(), "waiting for commits");
            last_log = Instant::now();
        }
        tokio::time::sleep(poll).await;
    }
}

fn is_loopback(url: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(host, "localhost" | "[::1]" | "::1") || host.starts_with("127.")
}

/// Runs the whole benchmark and returns its report (it does not print it).
pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    args.validate()?;
    let funder = crate::keys::parse_key(&args.key)?;
    let rpc = Rpc::new(&args.rpc, REQUEST_TIMEOUT)?;
    let chain = setup::chain_info(&rpc, args).await?;
    tracing::info!(target: "rampart::bench", endpoint = %args.rpc, client = %chain.client_version,
        chain_id = chain.chain_id, base_fee = chain.base_fee, tip = chain.tip, "connected");
    let prepared = setup::setup(&rpc, args, &chain, &funder).await?;
    let mut notes = prepared.notes.clone();
    let s = args.senders;
    let w = args.warmup_txs;
    let total = w + args.txs;

    // Pre-sign everything (one core, timed).
    tracing::info!(target: "rampart::bench", total, "pre-signing");
    let presigned = {
        let workload = prepared.workload.clone();
        let keys = prepared.senders.clone();
        let nonces = prepared.start_nonces.clone();
        let chain = chain.clone();
        let (gas, seed) = (prepared.gas_limit, args.seed);
        tokio::task::spawn_blocking(move || {
            presign(&workload, &keys, &nonces, &chain, gas, total, seed)
        })
        .await??
    };
    let sign_tx_per_s = stats::per_second(total, presigned.sign_time);
    let serialise_tx_per_s = stats::per_second(total, presigned.serialise_time);
    let index: HashMap<B256, usize> = presigned
        .txs
        .iter()
        .enumerate()
        .map(|(i, t)| (t.hash, i))
        .collect();
    anyhow::ensure!(
        index.len() == total,
        "duplicate transaction hashes in the pre-signed set"
    );

    // Clients and the commit tracker (its own connection).
    let workers = args.concurrency.min(s);
    if workers < args.concurrency {
        notes.push(format!(
            "concurrency limited to {workers}: one worker per sender at most (--senders {s})"
        ));
    }
    let n_clients = workers.div_ceil(args.inflight_per_connection);
    let clients = (0..n_clients)
        .map(|_| Rpc::new(&args.rpc, REQUEST_TIMEOUT))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let poll = Duration::from_millis(args.poll_ms);
    let board = Arc::new(Board::new(total, s));
    let start_block = rpc.block_number().await?;
    let tracker = tokio::spawn(track(
        Rpc::new(&args.rpc, REQUEST_TIMEOUT)?,
        Arc::clone(&board),
        Arc::new(index),
        start_block,
        poll,
    ));
    let timeout = Duration::from_secs(args.timeout_s);
    let ctx = Arc::new(SendCtx {
        txs: Arc::new(presigned.txs),
        board: Arc::clone(&board),
        clients,
        workers,
        window: args.max_pending_per_sender as u64,
        wait_limit: timeout,
        poll,
    });
    let pacer = Pacer::new(args.rate);

    // Warm-up: same path, waited for, discarded.
    if w > 0 {
        tracing::info!(target: "rampart::bench", txs = w, "warm-up");
        let recs = send_phase(&ctx, 0..w, pacer).await;
        let accepted: Vec<usize> = recs
            .iter()
            .filter(|r| r.error.is_none())
            .map(|r| r.idx)
            .collect();
        let last = recs
            .iter()
            .map(|r| r.returned)
            .max()
            .unwrap_or_else(Instant::now);
        wait_commits(&board, accepted, last + timeout, poll).await;
        let failed: Vec<&str> = recs
            .iter()
            .filter(|r| board.commit_at(r.idx).is_none())
            .map(|r| {
                r.error
                    .as_deref()
                    .unwrap_or("not committed before the timeout")
            })
            .collect();
        if !failed.is_empty() {
            board.stop.store(true, Ordering::Release);
            let top = stats::top_errors(failed.iter().copied(), 3);
            anyhow::bail!(
                "warm-up failed: {} of {w} transactions were not committed ({})",
                failed.len(),
                top.iter()
                    .map(|e| format!("{} × {}", e.count, e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
    }

    // The measurement.
    tracing::info!(target: "rampart::bench", txs = args.txs, workers, rate = args.rate, "measuring");
    let cpu0 = stats::process_cpu_time();
    let send_start = Instant::now();
    let recs = send_phase(&ctx, w..total, pacer).await;
    let send_end = Instant::now();
    let cpu1 = stats::process_cpu_time();
    let accepted: Vec<usize> = recs
        .iter()
        .filter(|r| r.error.is_none())
        .map(|r| r.idx)
        .collect();
    let last_returned = recs.iter().map(|r| r.returned).max().unwrap_or(send_end);
    wait_commits(&board, accepted.clone(), last_returned + timeout, poll).await;
    board.stop.store(true, Ordering::Release);
    if let Err(e) = tracker.await {
        tracing::error!(target: "rampart::bench", error = %e, "the commit tracker panicked");
    }

    // Counts and times.
    let mut counts = Counts {
        submitted: recs.len(),
        accepted: accepted.len(),
        ..Counts::default()
    };
    let mut latencies = Vec::new();
    let mut lags = Vec::new();
    let mut last_commit: Option<Instant> = None;
    let mut committed_idx = Vec::new();
    for r in &recs {
        if let Some(due) = r.due {
            lags.push(r.submit.saturating_duration_since(due).as_secs_f64() * 1e3);
        }
        match board.commit_at(r.idx) {
            Some(at) => {
                counts.committed += 1;
                committed_idx.push(r.idx);
                latencies.push(at.saturating_duration_since(r.submit).as_secs_f64() * 1e3);
                last_commit = Some(last_commit.map_or(at, |l| l.max(at)));
            }
            None if r.error.is_some() => counts.rejected += 1,
            None => counts.timed_out += 1,
        }
    }
    let top_errors = stats::top_errors(recs.iter().filter_map(|r| r.error.as_deref()), 5);
    let first_submit = recs.iter().map(|r| r.submit).min().unwrap_or(send_start);
    let measured = last_commit.map_or(Duration::ZERO, |l| {
        l.saturating_duration_since(first_submit)
    });
    let send_d = last_returned.saturating_duration_since(first_submit);
    let throughput = Throughput {
        committed_tx_per_s: stats::per_second(counts.committed, measured),
        submit_tx_per_s: stats::per_second(counts.submitted, send_d),
        measured_s: measured.as_secs_f64(),
        send_s: send_d.as_secs_f64(),
    };

    // Blocks.
    let blocks = {
        let seen = board.blocks.lock().unwrap_or_else(|p| p.into_inner());
        let ours: Vec<&BlockSeen> = seen
            .iter()
            .filter(|b| b.bench.iter().any(|&i| i >= w))
            .collect();
        BlockStats {
            seen: seen.iter().filter(|b| b.at >= first_submit).count(),
            with_bench_txs: ours.len(),
            txs_per_block_mean: if ours.is_empty() {
                0.0
            } else {
                ours.iter().map(|b| b.txs).sum::<usize>() as f64 / ours.len() as f64
            },
            txs_per_block_max: ours.iter().map(|b| b.txs).max().unwrap_or(0),
            first: ours.first().map(|b| b.number),
            last: ours.last().map(|b| b.number),
        }
    };

    // Receipts of a random sample of committed transactions.
    let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
    let sample: Vec<usize> = committed_idx
        .choose_multiple(&mut rng, args.receipt_sample)
        .copied()
        .collect();
    let receipts: Vec<_> = match futures::stream::iter(sample)
        .map(|i| rpc.receipt(ctx.txs[i].hash))
        .buffer_unordered(8)
        .try_collect()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            notes.push(format!("sampling receipts failed: {e}"));
            Vec::new()
        }
    };
    counts.receipts_sampled = receipts.len();
    counts.receipts_sampled_reverted = receipts
        .iter()
        .filter(|r| r.as_ref().is_some_and(|r| !r.succeeded()))
        .count();
    let missing_receipts = receipts.iter().filter(|r| r.is_none()).count();
    if missing_receipts > 0 {
        notes.push(format!(
            "{missing_receipts} sampled committed transactions had no receipt"
        ));
    }

    // On-chain cross-check: each successful transfer moves exactly `amount` from its sender.
    let all_committed = (0..total).filter(|&i| board.commit_at(i).is_some()).count() as u64;
    let chain_check = match setup::token_balances(&rpc, prepared.workload.token, &prepared.senders)
        .await
    {
        Ok(after) => {
            let moved: U256 = prepared
                .token_balances
                .iter()
                .zip(&after)
                .map(|(b, a)| b.saturating_sub(*a))
                .fold(U256::ZERO, |x, y| x + y)
                / prepared.workload.amount;
            let moved: u64 = moved.saturating_to();
            if moved > all_committed {
                notes.push(format!(
                    "{} more transfers landed on chain than were seen in blocks (late commits after tracking ended?)",
                    moved - all_committed
                ));
            }
            Some(ChainCheck {
                committed_transfers: all_committed,
                tokens_moved: moved,
                matches: moved == all_committed,
            })
        }
        Err(e) => {
            notes.push(format!("chain check failed: {e}"));
            None
        }
    };
    let shortfall = chain_check
        .as_ref()
        .map_or(0, |c| c.committed_transfers.saturating_sub(c.tokens_moved))
        as usize;
    counts.reverted = counts.receipts_sampled_reverted.max(shortfall);

    // The generator's own ceiling and load.
    let available_cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu_cores_used_sending = match (cpu0, cpu1) {
        (Some(a), Some(b)) if send_end > send_start => {
            Some((b.saturating_sub(a)).as_secs_f64() / (send_end - send_start).as_secs_f64())
        }
        _ => None,
    };
    if let Some(c) = cpu_cores_used_sending
        && c >= 0.8 * available_cores as f64
    {
        notes.push(format!(
            "the generator used {c:.2} of {available_cores} cores while sending: the figure may be bounded by the load generator"
        ));
    }
    if throughput.committed_tx_per_s > 0.5 * serialise_tx_per_s {
        notes.push(
            "committed tx/s is above half the generator's serialisation ceiling: the generator may be the bottleneck"
                .into(),
        );
    }
    if is_loopback(&args.rpc) {
        notes.push(format!(
            "the endpoint is on this machine: node and generator share its {available_cores} cores"
        ));
    }
    if counts.timed_out > 0 {
        notes.push(format!(
            "{} accepted transactions were not seen in a block within {} s of the last submit",
            counts.timed_out, args.timeout_s
        ));
    }
    let poll_errors = board.poll_errors.load(Ordering::Relaxed);
    if poll_errors > 0 {
        let last = board
            .last_poll_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_default();
        notes.push(format!(
            "the block poll failed {poll_errors} times (last: {last})"
        ));
    }
    if let Some(c) = &chain_check
        && !c.matches
    {
        notes.push(format!(
            "chain check mismatch: senders lost {} tokens for {} committed transfers",
            c.tokens_moved, c.committed_transfers
        ));
    }

    let failures = counts.rejected + counts.timed_out + counts.reverted;
    let failure_share = if counts.submitted == 0 {
        0.0
    } else {
        failures as f64 / counts.submitted as f64
    };
    Ok(Report {
        endpoint: args.rpc.clone(),
        client_version: chain.client_version.clone(),
        chain_id: chain.chain_id,
        workload: prepared.workload.kind().name().to_string(),
        params: Params {
            senders: s,
            txs: args.txs,
            concurrency: workers,
            http_clients: n_clients,
            rate: args.rate,
            warmup_txs: w,
            timeout_s: args.timeout_s,
            seed: args.seed,
            gas_limit: prepared.gas_limit,
            max_fee_per_gas: chain.max_fee,
            max_priority_fee_per_gas: chain.tip,
            base_fee_per_gas: chain.base_fee,
        },
        counts,
        top_errors,
        throughput,
        latency_ms: Summary::of(latencies),
        submit_lag_ms: Summary::of(lags),
        blocks,
        client: ClientCeiling {
            sign_tx_per_s,
            serialise_tx_per_s,
            cpu_cores_used_sending,
            available_cores,
        },
        chain_check,
        failure_share,
        max_failure_share: args.max_failure_share,
        passed: failure_share <= args.max_failure_share,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("http://127.0.0.1:8545"));
        assert!(is_loopback("http://localhost:8545/"));
        assert!(is_loopback("http://[::1]:8545"));
        assert!(!is_loopback("http://10.0.0.5:8545"));
        assert!(!is_loopback("https://rpc.example.org"));
    }

    #[test]
    fn board_marks_once_and_counts_per_sender() {
        let b = Board::new(6, 3);
        assert_eq!(b.commit_at(4), None);
        let t = Instant::now();
        b.mark(4, t);
        b.mark(4, t + Duration::from_secs(1));
        assert_eq!(b.commit_at(4), Some(t));
        assert_eq!(b.per_sender[1].load(Ordering::Relaxed), 1);
        assert_eq!(b.per_sender[0].load(Ordering::Relaxed), 0);
    }

    #[test]
    fn presign_round_robin_nonces() {
        let keys = crate::keys::sender_keys(3);
        let chain = ChainInfo {
            chain_id: 1337,
            client_version: String::new(),
            base_fee: 1,
            tip: 1,
            max_fee: 3,
        };
        let wl = crate::workload::Erc20Transfer {
            token: alloy_primitives::Address::repeat_byte(1),
            amount: U256::from(1),
        };
        let p = presign(&wl, &keys, &[5, 0, 9], &chain, 60_000, 7, 1).expect("signs");
        assert_eq!(p.txs.len(), 7);
        let senders: Vec<usize> = p.txs.iter().map(|t| t.sender).collect();
        assert_eq!(senders, vec![0, 1, 2, 0, 1, 2, 0]);
        // Decode the raw bytes back: nonce and signer must match.
        use alloy_consensus::transaction::SignerRecoverable as _;
        use alloy_consensus::{Transaction as _, TxEnvelope};
        use alloy_eips::eip2718::Decodable2718 as _;
        let nonces: Vec<u64> = p
            .txs
            .iter()
            .map(|t| {
                let bytes = hex::decode(&t.raw[2..]).expect("hex");
                let env = TxEnvelope::decode_2718(&mut bytes.as_slice()).expect("decodes");
                assert_eq!(*env.tx_hash(), t.hash);
                assert_eq!(
                    env.recover_signer().expect("recovers"),
                    keys[t.sender].address()
                );
                env.nonce()
            })
            .collect();
        assert_eq!(nonces, vec![5, 0, 9, 6, 1, 10, 7]);
        // Same seed, same transactions.
        let q = presign(&wl, &keys, &[5, 0, 9], &chain, 60_000, 7, 1).expect("signs");
        assert!(p.txs.iter().zip(&q.txs).all(|(a, b)| a.hash == b.hash));
    }
}
