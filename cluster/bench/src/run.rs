//! The measurement: pre-sign, send (closed or open loop, round-robin over endpoints), track
//! commits, read every receipt back, cross-check the chain, report.

use std::collections::HashMap;
use std::io::IsTerminal as _;
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

use crate::error::{BenchError, Result};
use crate::metrics::{self, NodeFigures};
use crate::report::{
    BlockStats, ChainCheck, ClientCeiling, Counts, HistogramBin, Params, Report, Series,
    SeriesPoint, Throughput,
};
use crate::rpc::Rpc;
use crate::scenario::Scenario;
use crate::setup::{self, ChainInfo, Checkpoint, Prepared, sign_1559};
use crate::stats::{self, Pacer, Summary};
use crate::workload::{Workload, WorkloadKind};

/// Receipts per JSON-RPC batch when reading them back (Rampart and geth allow 1,000).
pub const RECEIPT_BATCH: usize = 100;
/// Receipt batches in flight.
pub const RECEIPT_CONCURRENCY: usize = 8;
/// Most threads that pre-sign.
pub const MAX_PRESIGN_THREADS: usize = 16;
/// Progress bar refresh interval.
const PROGRESS_TICK: Duration = Duration::from_millis(200);
/// Buckets of the time series: at most this many, each at least `MIN_BUCKET`.
const MAX_BUCKETS: f64 = 60.0;
const MIN_BUCKET: Duration = Duration::from_millis(100);
/// Bins of the latency histogram.
const HISTOGRAM_BINS: usize = 40;

/// How the run presents itself while it runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Show the progress bar (on stderr, only when it is a terminal).
    pub progress: bool,
}

/// One pre-signed transaction, ready to send.
#[derive(Debug)]
struct SignedTx {
    hash: B256,
    raw: String,
    sender: usize,
    hot: bool,
}

#[derive(Debug)]
struct Presigned {
    txs: Vec<SignedTx>,
    /// Summed over threads (per-core figures).
    sign_time: Duration,
    serialise_time: Duration,
    threads: usize,
    wall: Duration,
}

/// Signs `total` transactions round-robin over the senders (transaction i: sender i mod S,
/// its (i div S)-th nonce). Calls are drawn in order from one seeded generator (so the set
/// does not depend on the thread count); signing runs on `threads` threads, each timing its
/// signing and serialisation.
#[allow(clippy::too_many_arguments)]
fn presign(
    workload: &dyn Workload,
    keys: &[PrivateKeySigner],
    start_nonces: &[u64],
    chain: &ChainInfo,
    gas_limit: u64,
    total: usize,
    seed: u64,
    threads: usize,
) -> anyhow::Result<Presigned> {
    let wall = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let s = keys.len();
    let calls: Vec<_> = (0..total)
        .map(|i| workload.next_call(keys[i % s].address(), (i / s) as u64, &mut rng))
        .collect();
    let threads = threads.clamp(1, MAX_PRESIGN_THREADS);
    let chunk = total.div_ceil(threads).max(1);
    type Part = anyhow::Result<(Vec<SignedTx>, Duration, Duration)>;
    let parts: Vec<Part> = std::thread::scope(|scope| {
        let handles: Vec<_> = calls
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                scope.spawn(move || -> Part {
                    let (mut sign, mut ser) = (Duration::ZERO, Duration::ZERO);
                    let mut out = Vec::with_capacity(part.len());
                    for (j, call) in part.iter().enumerate() {
                        let i = c * chunk + j;
                        let sender = i % s;
                        let nonce = start_nonces[sender] + (i / s) as u64;
                        let t = Instant::now();
                        let signed = sign_1559(
                            &keys[sender],
                            chain,
                            nonce,
                            gas_limit,
                            TxKind::Call(call.to),
                            call.value,
                            call.input.clone(),
                            call.access_list.clone(),
                        )?;
                        let t1 = Instant::now();
                        sign += t1 - t;
                        let raw = format!("0x{}", hex::encode(signed.envelope.encoded_2718()));
                        // The request body the client builds for it (built again when sent).
                        let body = serde_json::to_vec(&serde_json::json!({
                            "jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [&raw],
                        }))?;
                        std::hint::black_box(body);
                        ser += t1.elapsed();
                        out.push(SignedTx {
                            hash: signed.hash,
                            raw,
                            sender,
                            hot: call.hot,
                        });
                    }
                    Ok((out, sign, ser))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a signing thread panicked")))
            })
            .collect()
    });
    let mut txs = Vec::with_capacity(total);
    let (mut sign_time, mut serialise_time) = (Duration::ZERO, Duration::ZERO);
    for p in parts {
        let (t, a, b) = p?;
        txs.extend(t);
        sign_time += a;
        serialise_time += b;
    }
    Ok(Presigned {
        txs,
        sign_time,
        serialise_time,
        threads,
        wall: wall.elapsed(),
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

/// What the commit tracker found, shared with the senders, the waiter and the progress bar.
#[derive(Debug)]
struct Board {
    base: Instant,
    /// Per transaction: 0 = not seen; else 1 + nanoseconds from `base` to its block's discovery.
    commit_ns: Vec<AtomicU64>,
    /// Per sender: bench transactions seen in blocks.
    per_sender: Vec<AtomicU64>,
    senders: usize,
    committed: AtomicU64,
    submitted: AtomicU64,
    send_errors: AtomicU64,
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
            committed: AtomicU64::new(0),
            submitted: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
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
            self.committed.fetch_add(1, Ordering::Relaxed);
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
    /// Per endpoint, its HTTP clients.
    clients: Vec<Vec<Rpc>>,
    workers: usize,
    window: u64,
    wait_limit: Duration,
    poll: Duration,
}

impl SendCtx {
    /// The endpoint transaction `i` goes to (round-robin).
    fn endpoint_of(&self, i: usize) -> usize {
        i % self.clients.len()
    }
}

/// Sends the transactions `range`: worker w owns the senders s with s mod workers = w and sends
/// their transactions one at a time in global order, hence in nonce order per sender. Stops
/// sending at `deadline` (the rest is not submitted).
async fn send_phase(
    ctx: &Arc<SendCtx>,
    range: Range<usize>,
    pacer: Pacer,
    deadline: Option<Instant>,
) -> Vec<SendRecord> {
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
            let mut out = Vec::with_capacity(list.len());
            for i in list {
                let due = pacer.due(i - first).map(|d| start + d);
                if let Some(due) = due {
                    if deadline.is_some_and(|d| due >= d) {
                        break;
                    }
                    tokio::time::sleep_until(due.into()).await;
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
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
                let e = ctx.endpoint_of(i);
                let rpc = &ctx.clients[e][w % ctx.clients[e].len()];
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
                ctx.board.submitted.fetch_add(1, Ordering::Relaxed);
                if error.is_some() {
                    ctx.board.send_errors.fetch_add(1, Ordering::Relaxed);
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

/// Waits until every transaction in `pending` was seen in a block, or `deadline`.
async fn wait_commits(board: &Board, mut pending: Vec<usize>, deadline: Instant, poll: Duration) {
    loop {
        pending.retain(|&i| board.commit_at(i).is_none());
        if pending.is_empty() || Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(poll).await;
    }
}

/// The live progress bar: submitted of planned, committed, errors, current commit rate.
struct Progress {
    bar: indicatif::ProgressBar,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    fn start(show: bool, board: &Arc<Board>, phase: &str, len: u64) -> Self {
        let bar = if show && std::io::stderr().is_terminal() {
            indicatif::ProgressBar::with_draw_target(
                Some(len),
                indicatif::ProgressDrawTarget::stderr_with_hz(5),
            )
        } else {
            indicatif::ProgressBar::hidden()
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix:>7} {elapsed:>4} {bar:20} {pos}/{len} sent {msg}",
        ) {
            bar.set_style(style);
        }
        bar.set_prefix(phase.to_string());
        let task = (!bar.is_hidden()).then(|| {
            let bar = bar.clone();
            let board = Arc::clone(board);
            let (s0, c0, e0) = (
                board.submitted.load(Ordering::Relaxed),
                board.committed.load(Ordering::Relaxed),
                board.send_errors.load(Ordering::Relaxed),
            );
            tokio::spawn(async move {
                let mut last = (Instant::now(), c0);
                let mut rate = 0.0;
                loop {
                    tokio::time::sleep(PROGRESS_TICK).await;
                    let c = board.committed.load(Ordering::Relaxed);
                    let now = Instant::now();
                    let dt = now.duration_since(last.0).as_secs_f64();
                    if dt >= 1.0 {
                        rate = (c - last.1) as f64 / dt;
                        last = (now, c);
                    }
                    bar.set_position(board.submitted.load(Ordering::Relaxed) - s0);
                    bar.set_message(format!(
                        "| committed {} | {:.0} tx/s | errors {}",
                        c - c0,
                        rate,
                        board.send_errors.load(Ordering::Relaxed) - e0
                    ));
                }
            })
        });
        Self { bar, task }
    }

    fn finish(self) {
        if let Some(t) = self.task {
            t.abort();
        }
        self.bar.finish_and_clear();
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

/// The time series and the latency histogram of the measurement.
fn series(
    recs: &[SendRecord],
    commits: &[Option<Instant>],
    t0: Instant,
    end: Instant,
) -> (Series, Vec<HistogramBin>) {
    let span = end.saturating_duration_since(t0).max(MIN_BUCKET);
    let bucket =
        Duration::from_secs_f64((span.as_secs_f64() / MAX_BUCKETS).max(MIN_BUCKET.as_secs_f64()));
    // Round the bucket to 100 ms so the axis reads well.
    let bucket_s = ((bucket.as_secs_f64() * 10.0).ceil() / 10.0).max(0.1);
    let n = (span.as_secs_f64() / bucket_s).ceil() as usize + 1;
    let at = |t: Instant| {
        ((t.saturating_duration_since(t0).as_secs_f64() / bucket_s) as usize).min(n - 1)
    };
    let mut sub = vec![0usize; n];
    let mut com = vec![0usize; n];
    let mut rej = vec![0usize; n];
    let mut lat: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut all = Vec::new();
    for (r, c) in recs.iter().zip(commits) {
        sub[at(r.submit)] += 1;
        match c {
            Some(c) => {
                let l = c.saturating_duration_since(r.submit).as_secs_f64() * 1e3;
                com[at(*c)] += 1;
                lat[at(*c)].push(l);
                all.push(l);
            }
            None if r.error.is_some() => rej[at(r.submit)] += 1,
            None => {}
        }
    }
    // Drop empty trailing buckets.
    let last = (0..n)
        .rev()
        .find(|&i| sub[i] + com[i] + rej[i] > 0)
        .unwrap_or(0);
    let points = (0..=last)
        .map(|i| {
            let mut l = std::mem::take(&mut lat[i]);
            l.sort_by(f64::total_cmp);
            SeriesPoint {
                t_s: i as f64 * bucket_s,
                submitted_per_s: sub[i] as f64 / bucket_s,
                committed_per_s: com[i] as f64 / bucket_s,
                rejected_per_s: rej[i] as f64 / bucket_s,
                latency_p50_ms: stats::percentile(&l, 50.0),
                latency_p99_ms: stats::percentile(&l, 99.0),
            }
        })
        .collect();
    (Series { bucket_s, points }, histogram(&all, HISTOGRAM_BINS))
}

/// `bins` equal bins from 0 to the largest value (rounded up to a "nice" width).
pub fn histogram(values: &[f64], bins: usize) -> Vec<HistogramBin> {
    let max = values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    if values.is_empty() || bins == 0 {
        return Vec::new();
    }
    let raw = (max / bins as f64).max(0.001);
    let mag = 10f64.powf(raw.log10().floor());
    let width = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|w| *w >= raw)
        .unwrap_or(10.0 * mag);
    let n = ((max / width).floor() as usize + 1).max(1);
    let mut counts = vec![0usize; n];
    for v in values.iter().filter(|v| v.is_finite()) {
        counts[((v / width) as usize).min(n - 1)] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, count)| HistogramBin {
            lo_ms: i as f64 * width,
            hi_ms: (i + 1) as f64 * width,
            count,
        })
        .collect()
}

/// Reads back the receipts of `idx` from the endpoints they were sent to: (found, missing,
/// reverted, gas used).
async fn read_receipts(ctx: &SendCtx, idx: &[usize]) -> anyhow::Result<(usize, usize, usize, u64)> {
    let mut per_endpoint: Vec<Vec<usize>> = vec![Vec::new(); ctx.clients.len()];
    for &i in idx {
        per_endpoint[ctx.endpoint_of(i)].push(i);
    }
    let jobs: Vec<(usize, Vec<B256>)> = per_endpoint
        .iter()
        .enumerate()
        .flat_map(|(e, list)| {
            list.chunks(RECEIPT_BATCH)
                .map(move |c| (e, c.iter().map(|&i| ctx.txs[i].hash).collect()))
        })
        .collect();
    let results: Vec<Vec<Option<crate::rpc::ReceiptLite>>> = futures::stream::iter(jobs)
        .enumerate()
        .map(|(j, (e, hashes))| async move {
            let clients = &ctx.clients[e];
            clients[j % clients.len()].receipts_batch(&hashes).await
        })
        .buffer_unordered(RECEIPT_CONCURRENCY)
        .try_collect()
        .await?;
    let (mut found, mut missing, mut reverted, mut gas) = (0, 0, 0, 0u64);
    for r in results.into_iter().flatten() {
        match r {
            Some(r) => {
                found += 1;
                if !r.succeeded() {
                    reverted += 1;
                }
                gas += r.gas_used.map_or(0, |g| g.to::<u64>());
            }
            None => missing += 1,
        }
    }
    Ok((found, missing, reverted, gas))
}

/// Compares the workload's figure before and after with what the committed, successful
/// transactions should have done: (figure, expected, observed, matches).
fn compare_checkpoint(
    cp: &Checkpoint,
    before: &setup::Reading,
    after: &setup::Reading,
    succeeded_all: u64,
    succeeded_hot: u64,
) -> (String, String, String, bool) {
    match cp {
        Checkpoint::Eth { value, .. } => {
            let exp = *value * U256::from(succeeded_hot);
            let obs = after.figure.saturating_sub(before.figure);
            (
                "wei received by the hot accounts".into(),
                exp.to_string(),
                obs.to_string(),
                exp == obs,
            )
        }
        Checkpoint::Erc20 { amount, .. } => {
            let exp = *amount * U256::from(succeeded_all);
            let obs = before.figure.saturating_sub(after.figure);
            (
                "tokens the senders sent".into(),
                exp.to_string(),
                obs.to_string(),
                exp == obs,
            )
        }
        Checkpoint::Amm { .. } => {
            let k_ok = before.amm_k.iter().zip(&after.amm_k).all(|(b, a)| a >= b);
            let ok = after.consistent && k_ok;
            (
                "pools whose reserves equal their balances and whose k did not fall".into(),
                before.amm_k.len().to_string(),
                if ok {
                    after.amm_k.len().to_string()
                } else {
                    "fewer".to_string()
                },
                ok,
            )
        }
        Checkpoint::Uups { .. } => {
            let obs = after.figure.saturating_sub(before.figure);
            let exp = U256::from(succeeded_all);
            (
                "increments through the proxies".into(),
                exp.to_string(),
                obs.to_string(),
                exp == obs,
            )
        }
    }
}

/// Runs the whole benchmark and returns its report (it does not print it). A run that
/// finishes returns `Ok` even when too many transactions failed: see `Report::passed`.
pub async fn run(sc: &Scenario, opts: RunOptions) -> Result<Report> {
    sc.validate()?;
    let funder =
        crate::keys::parse_key(&sc.key).map_err(|e| BenchError::scenario(e.to_string()))?;
    let request_timeout = Duration::from_secs(sc.request_timeout_s);
    let rpcs = sc
        .endpoints
        .iter()
        .map(|u| Rpc::new(u, request_timeout))
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(|e| BenchError::scenario(e.to_string()))?;
    let chain = setup::chain_info(&rpcs, sc).await?;
    tracing::info!(target: "rampart::bench", endpoints = ?sc.endpoints, client = %chain.client_version,
        chain_id = chain.chain_id, base_fee = chain.base_fee, tip = chain.tip, "connected");
    if sc.workload == WorkloadKind::Native {
        for (rpc, url) in rpcs.iter().zip(&sc.endpoints) {
            setup::probe_native(rpc, url).await?;
        }
    }
    let rpc = &rpcs[0];
    let prepared = setup::setup(rpc, sc, &chain, &funder)
        .await
        .map_err(BenchError::from_anyhow)?;
    measure(sc, opts, &rpcs, &chain, prepared)
        .await
        .map_err(BenchError::from_anyhow)
}

async fn measure(
    sc: &Scenario,
    opts: RunOptions,
    rpcs: &[Rpc],
    chain: &ChainInfo,
    prepared: Prepared,
) -> anyhow::Result<Report> {
    let rpc = &rpcs[0];
    let mut notes = prepared.notes.clone();
    let s = sc.senders;
    let w = sc.warmup_txs;
    let measured_txs = sc.measured_txs();
    let total = w + measured_txs;
    let before = setup::read_checkpoint(rpc, &prepared.checkpoint, &prepared.senders).await?;

    // Pre-sign everything, timed.
    let available_cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    tracing::info!(target: "rampart::bench", total, "pre-signing");
    let presigned = {
        let workload = Arc::clone(&prepared.workload);
        let keys = prepared.senders.clone();
        let nonces = prepared.start_nonces.clone();
        let chain = chain.clone();
        let (gas, seed) = (prepared.gas_limit, sc.seed);
        tokio::task::spawn_blocking(move || {
            presign(
                workload.as_ref(),
                &keys,
                &nonces,
                &chain,
                gas,
                total,
                seed,
                available_cores,
            )
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

    // Clients per endpoint, and the commit tracker on its own connection.
    let workers = sc.concurrency.min(s);
    if workers < sc.concurrency {
        notes.push(format!(
            "concurrency limited to {workers}: one worker per sender at most (senders = {s})"
        ));
    }
    let request_timeout = Duration::from_secs(sc.request_timeout_s);
    let per_endpoint = workers
        .div_ceil(sc.inflight_per_connection)
        .div_ceil(sc.endpoints.len())
        .max(1);
    let clients = sc
        .endpoints
        .iter()
        .map(|u| {
            (0..per_endpoint)
                .map(|_| Rpc::new(u, request_timeout))
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let poll = Duration::from_millis(sc.poll_ms);
    let board = Arc::new(Board::new(total, s));
    let start_block = rpc.block_number().await?;
    let tracker = tokio::spawn(track(
        Rpc::new(&sc.endpoints[0], request_timeout)?,
        Arc::clone(&board),
        Arc::new(index),
        start_block,
        poll,
    ));
    let timeout = Duration::from_secs(sc.timeout_s);
    let ctx = Arc::new(SendCtx {
        txs: Arc::new(presigned.txs),
        board: Arc::clone(&board),
        clients,
        workers,
        window: sc.max_pending_per_sender as u64,
        wait_limit: timeout,
        poll,
    });
    let pacer = Pacer::new(sc.rate);

    // Warm-up: same path, waited for, discarded.
    if w > 0 {
        tracing::info!(target: "rampart::bench", txs = w, "warm-up");
        let progress = Progress::start(opts.progress, &board, "warm-up", w as u64);
        let recs = send_phase(&ctx, 0..w, pacer, None).await;
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
        progress.finish();
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
            return Err(BenchError::Warmup {
                failed: failed.len(),
                total: w,
                reasons: top
                    .iter()
                    .map(|e| format!("{} × {}", e.count, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            }
            .into());
        }
    }

    // The node's counters before.
    let metrics_before = match &sc.metrics_url {
        Some(u) => match metrics::scrape(u, request_timeout).await {
            Ok(m) => Some(m),
            Err(e) => {
                notes.push(format!("node metrics unavailable: {e}"));
                None
            }
        },
        None => None,
    };

    // The measurement.
    tracing::info!(target: "rampart::bench", txs = measured_txs, workers, rate = sc.rate, "measuring");
    let progress = Progress::start(opts.progress, &board, "measure", measured_txs as u64);
    let cpu0 = stats::process_cpu_time();
    let send_start = Instant::now();
    let deadline = sc
        .duration_s
        .map(|d| send_start + Duration::from_secs_f64(d));
    let recs = send_phase(&ctx, w..total, pacer, deadline).await;
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
    progress.finish();
    if let Err(e) = tracker.await {
        tracing::error!(target: "rampart::bench", error = %e, "the commit tracker panicked");
    }
    let node = match (&sc.metrics_url, &metrics_before) {
        (Some(u), Some(b)) => match metrics::scrape(u, request_timeout).await {
            Ok(a) => Some(NodeFigures::from_samples(u, b, &a)),
            Err(e) => {
                notes.push(format!("node metrics unavailable after the run: {e}"));
                None
            }
        },
        _ => None,
    };
    if let Some(d) = sc.duration_s
        && recs.len() == measured_txs
        && send_end.duration_since(send_start).as_secs_f64() < d * 0.95
    {
        notes.push(format!(
            "all {measured_txs} pre-signed transactions were sent before the {d} s were over; raise txs"
        ));
    }

    // Counts and times.
    let commits: Vec<Option<Instant>> = recs.iter().map(|r| board.commit_at(r.idx)).collect();
    let mut counts = Counts {
        submitted: recs.len(),
        accepted: accepted.len(),
        hot: recs.iter().filter(|r| ctx.txs[r.idx].hot).count(),
        ..Counts::default()
    };
    let mut latencies = Vec::new();
    let mut lags = Vec::new();
    let mut last_commit: Option<Instant> = None;
    let mut committed_idx = Vec::new();
    for (r, c) in recs.iter().zip(&commits) {
        if let Some(due) = r.due {
            lags.push(r.submit.saturating_duration_since(due).as_secs_f64() * 1e3);
        }
        match c {
            Some(at) => {
                counts.committed += 1;
                committed_idx.push(r.idx);
                latencies.push(at.saturating_duration_since(r.submit).as_secs_f64() * 1e3);
                last_commit = Some(last_commit.map_or(*at, |l| l.max(*at)));
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

    // Every committed transaction's receipt, from the endpoint it was sent to.
    let (found, missing, reverted, gas_used) = read_receipts(&ctx, &committed_idx).await?;
    counts.reverted = reverted;
    counts.succeeded = counts.committed - reverted.min(counts.committed);
    counts.failed = counts.rejected + counts.timed_out + counts.reverted;
    if missing > 0 {
        notes.push(format!(
            "{missing} committed transactions had no receipt at the endpoint they were sent to"
        ));
    }
    let throughput = Throughput {
        committed_tx_per_s: stats::per_second(counts.committed, measured),
        submit_tx_per_s: stats::per_second(counts.submitted, send_d),
        gas_used,
        gas_per_s: if measured.is_zero() {
            0.0
        } else {
            gas_used as f64 / measured.as_secs_f64()
        },
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

    // On-chain cross-checks: nonces (every workload), then the workload's own figure.
    let committed_all = (0..total).filter(|&i| board.commit_at(i).is_some()).count() as u64;
    let nonces_now: Vec<u64> = futures::stream::iter(&prepared.senders)
        .map(|k| rpc.nonce(k.address(), "latest"))
        .buffered(setup::SETUP_CONCURRENCY)
        .try_collect()
        .await?;
    let nonces_advanced: u64 = nonces_now
        .iter()
        .zip(&prepared.start_nonces)
        .map(|(a, b)| a.saturating_sub(*b))
        .sum();
    // Warm-up transactions all succeeded (checked above) unless they reverted: count their
    // reverts from receipts too, so the workload figure compares like with like.
    let warm_idx: Vec<usize> = (0..w).filter(|&i| board.commit_at(i).is_some()).collect();
    let (_, _, warm_reverted, _) = read_receipts(&ctx, &warm_idx).await?;
    let succeeded_all = committed_all - (reverted + warm_reverted) as u64;
    let (succeeded_hot, hot_reverts_unknown) = {
        // Hot transactions that succeeded: committed hot ones, less reverts (reverts are rare;
        // when any happened the hot split is not known exactly, and the note says so).
        let hot_committed = (0..total)
            .filter(|&i| ctx.txs[i].hot && board.commit_at(i).is_some())
            .count() as u64;
        (hot_committed, reverted + warm_reverted > 0)
    };
    let after = setup::read_checkpoint(rpc, &prepared.checkpoint, &prepared.senders).await?;
    let (figure, expected, observed, workload_ok) = compare_checkpoint(
        &prepared.checkpoint,
        &before,
        &after,
        succeeded_all,
        succeeded_hot,
    );
    if hot_reverts_unknown && matches!(prepared.checkpoint, Checkpoint::Eth { .. }) {
        notes.push(
            "some transactions reverted: the hot-balance check counts them as successes".into(),
        );
    }
    let chain_check = ChainCheck {
        receipts_found: found,
        receipts_missing: missing,
        nonces_advanced,
        committed_incl_warmup: committed_all,
        workload_figure: figure,
        workload_expected: expected,
        workload_observed: observed,
        matches: missing == 0 && nonces_advanced == committed_all && workload_ok,
    };
    if nonces_advanced > committed_all {
        notes.push(format!(
            "{} more transactions landed on chain than were seen in blocks (late commits after tracking ended?)",
            nonces_advanced - committed_all
        ));
    }
    if !chain_check.matches {
        notes.push("chain check MISMATCH: see the chain check line".into());
    }

    // The generator's own ceiling and load.
    let cpu_cores_used_sending = match (cpu0, cpu1) {
        (Some(a), Some(b)) if send_end > send_start => {
            Some((b.saturating_sub(a)).as_secs_f64() / (send_end - send_start).as_secs_f64())
        }
        _ => None,
    };
    let mut generator_bound = false;
    if let Some(c) = cpu_cores_used_sending
        && c >= 0.8 * available_cores as f64
    {
        generator_bound = true;
        notes.push(format!(
            "the generator used {c:.2} of {available_cores} cores while sending: the figure may be bounded by the load generator"
        ));
    }
    if throughput.committed_tx_per_s > 0.5 * serialise_tx_per_s {
        generator_bound = true;
        notes.push(
            "committed tx/s is above half the generator's serialisation ceiling: the generator may be the bottleneck"
                .into(),
        );
    }
    if sc.rate > 0.0 && throughput.submit_tx_per_s < 0.9 * sc.rate && counts.submitted > 100 {
        notes.push(format!(
            "the submit rate achieved ({:.0} tx/s) is below the target {} tx/s: the endpoint answered too slowly for {} workers, or the generator could not keep up",
            throughput.submit_tx_per_s, sc.rate, workers
        ));
    }
    if sc.endpoints.iter().any(|u| is_loopback(u)) {
        notes.push(format!(
            "the endpoint is on this machine: node and generator share its {available_cores} cores"
        ));
    }
    if counts.timed_out > 0 {
        notes.push(format!(
            "{} accepted transactions were not seen in a block within {} s of the last submit",
            counts.timed_out, sc.timeout_s
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

    let (series, latency_histogram) = series(
        &recs,
        &commits,
        first_submit,
        last_commit.unwrap_or(last_returned).max(last_returned),
    );
    let failure_share = if counts.submitted == 0 {
        0.0
    } else {
        counts.failed as f64 / counts.submitted as f64
    };
    Ok(Report {
        name: sc.name.clone(),
        endpoints: sc.endpoints.clone(),
        client_version: chain.client_version.clone(),
        chain_id: chain.chain_id,
        workload: prepared.workload.kind().name().to_string(),
        params: Params {
            senders: s,
            txs: measured_txs,
            duration_s: sc.duration_s,
            contention: sc.contention,
            hot_accounts: sc.hot_accounts,
            pools: sc.pools,
            proxies: sc.proxies,
            concurrency: workers,
            http_clients: per_endpoint * sc.endpoints.len(),
            rate: sc.rate,
            warmup_txs: w,
            timeout_s: sc.timeout_s,
            request_timeout_s: sc.request_timeout_s,
            seed: sc.seed,
            gas_limit: prepared.gas_limit,
            max_fee_per_gas: chain.max_fee,
            max_priority_fee_per_gas: chain.tip,
            base_fee_per_gas: chain.base_fee,
        },
        contracts: prepared.contracts.clone(),
        counts,
        top_errors,
        throughput: throughput.clone(),
        latency_ms: Summary::of(latencies),
        submit_lag_ms: Summary::of(lags),
        latency_histogram,
        series,
        blocks,
        client: ClientCeiling {
            sign_tx_per_s,
            serialise_tx_per_s,
            presign_threads: presigned.threads,
            presign_s: presigned.wall.as_secs_f64(),
            submit_tx_per_s: throughput.submit_tx_per_s,
            cpu_cores_used_sending,
            available_cores,
            may_be_generator_bound: generator_bound,
        },
        chain_check,
        node,
        failure_share,
        max_failure_share: sc.max_failure_share,
        passed: failure_share <= sc.max_failure_share,
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
        assert_eq!(b.committed.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn histogram_bins_cover_every_value() {
        let v: Vec<f64> = (0..1000).map(|i| i as f64 * 0.37).collect();
        let h = histogram(&v, 40);
        assert_eq!(h.iter().map(|b| b.count).sum::<usize>(), 1000);
        assert!(h.len() <= 41, "{}", h.len());
        assert_eq!(h[0].lo_ms, 0.0);
        assert!(h.last().expect("bins").hi_ms > 369.0);
        assert!(histogram(&[], 10).is_empty());
        assert_eq!(
            histogram(&[0.0, 0.0], 10)
                .iter()
                .map(|b| b.count)
                .sum::<usize>(),
            2
        );
    }

    #[test]
    fn series_buckets_add_up() {
        let t0 = Instant::now();
        let recs: Vec<SendRecord> = (0..50)
            .map(|i| SendRecord {
                idx: i,
                due: None,
                submit: t0 + Duration::from_millis(i as u64 * 20),
                returned: t0 + Duration::from_millis(i as u64 * 20 + 1),
                error: (i % 10 == 0).then(|| "x".to_string()),
            })
            .collect();
        let commits: Vec<Option<Instant>> = recs
            .iter()
            .map(|r| {
                r.error
                    .is_none()
                    .then(|| r.submit + Duration::from_millis(50))
            })
            .collect();
        let (s, h) = series(&recs, &commits, t0, t0 + Duration::from_millis(1100));
        let sum = |f: fn(&SeriesPoint) -> f64| s.points.iter().map(f).sum::<f64>() * s.bucket_s;
        assert!((sum(|p| p.submitted_per_s) - 50.0).abs() < 1e-6);
        assert!((sum(|p| p.committed_per_s) - 45.0).abs() < 1e-6);
        assert!((sum(|p| p.rejected_per_s) - 5.0).abs() < 1e-6);
        assert_eq!(h.iter().map(|b| b.count).sum::<usize>(), 45);
        assert!(s.points.iter().any(|p| p.latency_p50_ms == Some(50.0)));
    }

    #[test]
    fn presign_round_robin_nonces_and_thread_independence() {
        let keys = crate::keys::sender_keys(3);
        let chain = ChainInfo {
            chain_id: 1337,
            client_version: String::new(),
            base_fee: 1,
            tip: 1,
            max_fee: 3,
        };
        let wl = crate::workload::Erc20Transfer {
            kind: crate::WorkloadKind::Erc20,
            token: alloy_primitives::Address::repeat_byte(1),
            amount: U256::from(1),
            contention: 0.5,
            hot: crate::workload::hot_accounts(1),
            access_lists: false,
        };
        let p = presign(&wl, &keys, &[5, 0, 9], &chain, 60_000, 7, 1, 1).expect("signs");
        assert_eq!(p.txs.len(), 7);
        let senders: Vec<usize> = p.txs.iter().map(|t| t.sender).collect();
        assert_eq!(senders, vec![0, 1, 2, 0, 1, 2, 0]);
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
        // Same seed, same transactions, whatever the thread count.
        let q = presign(&wl, &keys, &[5, 0, 9], &chain, 60_000, 7, 1, 3).expect("signs");
        assert_eq!(q.threads, 3);
        assert!(
            p.txs
                .iter()
                .zip(&q.txs)
                .all(|(a, b)| a.hash == b.hash && a.hot == b.hot)
        );
    }
}
