//! Parallel block execution with Block-STM (Gelashvili et al., "Block-STM: Scaling Blockchain
//! Execution by Turning Ordering Curse to a Performance Blessing"), in pevm's vocabulary.
//!
//! * [`mv_memory`]: multi-version memory on `dashmap`; per location (account basic fields,
//!   storage slot, storage reset) the value each transaction wrote, or an estimate.
//! * [`scheduler`]: the collaborative scheduler (execution and validation indices,
//!   incarnations, aborts, dependencies).
//! * [`vm`]: one incarnation on revm, reading through the multi-version memory and recording
//!   what it read (with the version it saw).
//! * [`commit`]: the rolling commit (final transactions, in block order, into a
//!   [`BlockDb`](crate::db::BlockDb) and receipts, fed to a sealer thread) and the sealing.
//! * this module: the entry point, the worker threads (`std::thread::scope`), the fallbacks.
//!
//! **The result is the sequential executor's, exactly.** Block-STM gives every transaction the
//! reads it would have in a sequential run. A transaction is committed once every lower one is
//! and its reads still validate (then nothing can change them): its last incarnation's revm
//! state changes go into a [`BlockDb`](crate::db::BlockDb) exactly as
//! [`execute_block`](crate::execute_block) commits them, its receipt is built by the same
//! function and sealed by the same [`Sealer`](crate::block::Sealer) and `seal_with_roots`.
//! Nothing that depends on thread timing reaches the result; the differential tests compare
//! every field against the sequential executor.
//!
//! **Fees.** revm pays each transaction's tip to the beneficiary, which would make every
//! transaction write one account. Here the reward step only computes the tip
//! (`vm::LazyFeeHandler`); the tips are credited when the block is sealed, which is what
//! crediting after each transaction gives as long as no transaction reads the beneficiary. The
//! rule: a block in which a candidate is sent by or to the beneficiary runs sequentially up
//! front ([`Fallback::BeneficiaryTouched`]); if any incarnation reads the beneficiary account
//! during Block-STM (`BALANCE(COINBASE)`, a call or value transfer to it) the parallel attempt
//! stops and the block runs sequentially ([`Fallback::BeneficiaryRead`]).
//!
//! **Conflict rule.** When more than half of the last [`CONFLICT_WINDOW`] committed
//! transactions needed a second incarnation, Block-STM stops and the rest of the block runs
//! with the sequential loop on top of the committed prefix (`ParallelStats::sequential_tail_from`):
//! a block where everything conflicts has no parallelism to win.
//!
//! **Other fallbacks to the sequential executor** (same result, only slower): fewer than
//! [`PARALLEL_MIN_TXS`] transactions or one thread; candidate gas limits that sum above the
//! block gas limit (then "block gas limit reached" depends on the gas used by earlier
//! transactions; the mempool selects blocks that fit, so this is rare); any error during
//! parallel execution (a state read failure, an unexpected EVM error: the sequential run gives
//! the reference result or the reference error); and a guard against runaway re-execution
//! ([`Fallback::TooManyReexecutions`]).

mod commit;
mod mv_memory;
mod scheduler;
mod vm;

use std::sync::{
    Mutex, TryLockError,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use alloy_primitives::{Address, map::DefaultHashBuilder};
use rampart_primitives::{RecoveredTx, StateReader};
use revm::context::TxEnv;
use tracing::debug;

use self::{
    commit::{Committer, SEALER_QUEUE, run_sealer},
    mv_memory::{MvMemory, Padded, TxIdx, Version, lock},
    scheduler::{Scheduler, Task},
    vm::{CodeMap, TxOutcome, Vm, VmStatus},
};
use crate::{
    BlockInput, BlockOutcome, ChainConfig, ExecError,
    block::execute_block,
    env::{block_env, cfg_env, tx_env},
};

/// Below this many transactions [`execute_block_parallel`] runs the sequential executor.
///
/// Measured with `cargo bench -p rampart-evm --bench parallel -- 7` ("threshold" section:
/// independent ERC-20 transfers, Block-STM forced on, 2 threads, 2-core development machine,
/// median of 280 interleaved rounds, two runs): Block-STM's fixed cost per block (worker and
/// sealer threads, per-transaction tables; about 60 µs) dominates small blocks: 0.65–0.69× the
/// sequential speed at 1 transaction, 0.71–0.72× at 8, 0.76–0.81× at 16, 0.84–0.88× at 24–32,
/// and no better beyond (0.71–0.84× from 48 to 128). On that machine Block-STM did not overtake
/// the sequential executor (which seals on the second core) at any size; 32 is where the fixed
/// cost stops mattering.
pub const PARALLEL_MIN_TXS: usize = 32;

/// Why a block ran on the sequential executor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Fewer transactions than the configured minimum.
    TooFewTxs,
    /// The candidates' gas limits sum above the block gas limit.
    GasLimitSum,
    /// A candidate is sent by or to the block beneficiary.
    BeneficiaryTouched,
    /// An incarnation read the beneficiary account.
    BeneficiaryRead,
    /// Far more re-executions than Block-STM needs in practice: a guard so that a bug can
    /// cost time but never hang the executor.
    TooManyReexecutions,
    /// Parallel execution met an error; the sequential run reports it (or not) as the
    /// reference does.
    Error(String),
}

/// How to run [`execute_block_parallel_with`].
#[derive(Clone, Debug)]
pub struct ParallelConfig {
    /// Worker threads (at least one is used).
    pub threads: usize,
    /// Blocks with fewer transactions run sequentially. Zero always tries Block-STM.
    pub min_txs: usize,
}

/// Knobs that tests and benchmarks turn; the defaults are what the node runs.
#[derive(Clone, Debug)]
pub struct Tuning {
    /// Let a block whose transactions mostly conflict finish sequentially (see
    /// [`CONFLICT_WINDOW`]). Tests turn it off to keep Block-STM on hot blocks to the end.
    pub sequential_tail: bool,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            sequential_tail: true,
        }
    }
}

/// What happened during a parallel run, for tests and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParallelStats {
    /// `Some` when the block ran on the sequential executor.
    pub fallback: Option<Fallback>,
    /// Incarnations that ran to the end.
    pub executions: usize,
    /// Incarnations stopped on an estimate (or parked behind the same sender's previous tx).
    pub blocked: usize,
    pub validations: usize,
    /// Validations that aborted an incarnation.
    pub aborts: usize,
    /// `Some(i)`: transactions from `i` on ran sequentially after Block-STM committed the
    /// ones before (too many conflicts).
    pub sequential_tail_from: Option<usize>,
    /// Time the workers spent executing incarnations, summed over workers (metrics only:
    /// nothing that reaches the block depends on it).
    pub execution_time: std::time::Duration,
    /// Time the workers spent validating read sets, summed over workers.
    pub validation_time: std::time::Duration,
}

/// Executes a block with Block-STM on `threads` worker threads. The outcome is identical to
/// [`execute_block`]'s for every input (see the module docs for when it simply calls it).
pub fn execute_block_parallel<R: StateReader + Sync>(
    state: R,
    chain: &ChainConfig,
    input: &BlockInput<'_>,
    threads: usize,
) -> Result<BlockOutcome, ExecError> {
    if threads < 2 {
        return execute_block(state, chain, input);
    }
    let config = ParallelConfig {
        threads,
        min_txs: PARALLEL_MIN_TXS,
    };
    execute_block_parallel_with(state, chain, input, &config).map(|(outcome, _)| outcome)
}

/// [`execute_block_parallel`] with explicit settings, reporting what it did. Runs Block-STM
/// even with one thread (tests use that).
pub fn execute_block_parallel_with<R: StateReader + Sync>(
    state: R,
    chain: &ChainConfig,
    input: &BlockInput<'_>,
    config: &ParallelConfig,
) -> Result<(BlockOutcome, ParallelStats), ExecError> {
    execute_block_parallel_tuned(state, chain, input, config, &Tuning::default())
}

/// [`execute_block_parallel_with`] with [`Tuning`] knobs (tests and benchmarks).
pub fn execute_block_parallel_tuned<R: StateReader + Sync>(
    state: R,
    chain: &ChainConfig,
    input: &BlockInput<'_>,
    config: &ParallelConfig,
    tuning: &Tuning,
) -> Result<(BlockOutcome, ParallelStats), ExecError> {
    let reason = match static_fallback(input, config.min_txs) {
        Some(reason) => reason,
        None => {
            let threads = config.threads.max(1);
            let (result, stats) = block_stm(&state, chain, input, threads, tuning.sequential_tail);
            match result {
                Ok((committer, sealed, garbage)) => {
                    return Ok((committer.seal(input, sealed, garbage, threads)?, stats));
                }
                Err(reason) => {
                    let (outcome, _) = sequential(state, chain, input, reason.clone())?;
                    return Ok((
                        outcome,
                        ParallelStats {
                            fallback: Some(reason),
                            ..stats
                        },
                    ));
                }
            }
        }
    };
    sequential(state, chain, input, reason)
}

fn sequential<R: StateReader>(
    state: R,
    chain: &ChainConfig,
    input: &BlockInput<'_>,
    reason: Fallback,
) -> Result<(BlockOutcome, ParallelStats), ExecError> {
    debug!(target: "rampart::executor", ?reason, txs = input.txs.len(), "block runs sequentially");
    let outcome = execute_block(state, chain, input)?;
    Ok((
        outcome,
        ParallelStats {
            fallback: Some(reason),
            ..ParallelStats::default()
        },
    ))
}

fn static_fallback(input: &BlockInput<'_>, min_txs: usize) -> Option<Fallback> {
    let txs = input.txs;
    if txs.is_empty() || txs.len() < min_txs {
        return Some(Fallback::TooFewTxs);
    }
    let gas = txs
        .iter()
        .try_fold(0u64, |sum, tx| sum.checked_add(tx.gas_limit()));
    if gas.is_none_or(|g| g > input.params.gas_limit) {
        return Some(Fallback::GasLimitSum);
    }
    let beneficiary = input.params.beneficiary;
    if txs
        .iter()
        .any(|tx| tx.sender == beneficiary || tx.to() == Some(beneficiary))
    {
        return Some(Fallback::BeneficiaryTouched);
    }
    None
}

/// Everything the workers share.
struct Shared<'a, R> {
    base: &'a R,
    txs: &'a [RecoveredTx],
    envs: Vec<TxEnv>,
    /// The previous transaction of the same sender, if any.
    prev_same_sender: Vec<Option<TxIdx>>,
    mv: MvMemory,
    codes: CodeMap,
    scheduler: Scheduler,
    /// The last incarnation's outcome of each transaction, until it is committed.
    outcomes: Vec<Padded<Mutex<Option<TxOutcome>>>>,
    committer: Mutex<Committer<'a, R>>,
    /// The next transaction to commit (changed under the `committer` lock only).
    commit_idx: Padded<AtomicUsize>,
    /// Workers stop: Block-STM failed (`failure` says why) or hands over to a sequential tail.
    stop: Padded<AtomicBool>,
    failure: Mutex<Option<Fallback>>,
    /// Whether the committer may decide on a sequential tail.
    sequential_tail: bool,
    tail_requested: AtomicBool,
    /// The workers' counters, added up as they finish.
    stats: Mutex<ParallelStats>,
    block: revm::context::BlockEnv,
    cfg: revm::context::CfgEnv,
    native: Option<&'a rampart_native::NativeRuntime>,
}

/// What Block-STM leaves behind; freeing it takes a while, so sealing does it on the side.
type Garbage = MvMemory;

/// What the sealer thread returns.
type Sealed = (crate::block::Roots, Vec<rampart_primitives::StoredReceipt>);

#[allow(clippy::type_complexity)]
fn block_stm<'a, R: StateReader + Sync>(
    state: &'a R,
    chain: &ChainConfig,
    input: &'a BlockInput<'_>,
    threads: usize,
    sequential_tail: bool,
) -> (
    Result<(Committer<'a, R>, Sealed, Garbage), Fallback>,
    ParallelStats,
) {
    let n = input.txs.len();
    let p = &input.params;
    let spec = chain.fork_at(p.timestamp).spec_id();
    let mut last_of_sender: std::collections::HashMap<Address, TxIdx, DefaultHashBuilder> =
        Default::default();
    let prev_same_sender = input
        .txs
        .iter()
        .enumerate()
        .map(|(i, tx)| last_of_sender.insert(tx.sender, i))
        .collect();
    let (to_sealer, from_committer) = std::sync::mpsc::sync_channel(SEALER_QUEUE);
    let shared = Shared {
        base: state,
        txs: input.txs,
        envs: input.txs.iter().map(tx_env).collect(),
        prev_same_sender,
        mv: MvMemory::new(n),
        codes: CodeMap::default(),
        scheduler: Scheduler::new(n),
        outcomes: (0..n).map(|_| Padded(Mutex::new(None))).collect(),
        committer: Mutex::new(Committer::new(state, n, p.base_fee, to_sealer)),
        commit_idx: Padded(AtomicUsize::new(0)),
        stop: Padded(AtomicBool::new(false)),
        failure: Mutex::new(None),
        sequential_tail,
        tail_requested: AtomicBool::new(false),
        stats: Mutex::new(ParallelStats::default()),
        block: block_env(p, spec),
        cfg: cfg_env(chain, p.timestamp),
        native: input.native,
    };
    let threads = threads.min(n).max(1);
    let sealed = std::thread::scope(|s| {
        let sealer = s.spawn(move || run_sealer(from_committer, n));
        // Workers run inside the caller's span (`executor.execute_block`), so the spans of
        // what they run (native calls) land in the block's trace. Telemetry only.
        let parent = tracing::Span::current();
        let workers: Vec<_> = (1..threads)
            .map(|_| {
                let (parent, shared) = (parent.clone(), &shared);
                s.spawn(move || {
                    let _entered = parent.enter();
                    worker(shared)
                })
            })
            .collect();
        worker(&shared);
        for w in workers {
            if let Err(panic) = w.join() {
                std::panic::resume_unwind(panic);
            }
        }
        let failed = || lock(&shared.failure).is_some();
        if !failed() {
            // Done: every transaction is executed and validated, so whatever is not committed
            // yet is final. Handing over to a sequential tail: commit what is final.
            try_commit(&shared, usize::MAX);
            let committed = shared.commit_idx.load(Ordering::SeqCst);
            if shared.tail_requested.load(Ordering::SeqCst) {
                if committed < n {
                    let tail = lock(&shared.committer).run_sequential_tail(
                        state,
                        &input.txs[committed..],
                        chain,
                        &input.params,
                        input.native,
                    );
                    match tail {
                        Ok(()) => lock(&shared.stats).sequential_tail_from = Some(committed),
                        Err(e) => fail(&shared, Fallback::Error(e.to_string())),
                    }
                }
            } else if committed != n {
                fail(
                    &shared,
                    Fallback::Error(format!(
                        "Block-STM finished but transaction {committed} is not final"
                    )),
                );
            }
        }
        lock(&shared.committer).close();
        sealer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    let stats = lock(&shared.stats).clone();
    if let Some(reason) = lock(&shared.failure).take() {
        return (Err(reason), stats);
    }
    let Shared { mv, committer, .. } = shared;
    let committer = committer
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    (Ok((committer, sealed, mv)), stats)
}

/// The conflict rule for the sequential tail: when more than half of the last
/// `CONFLICT_WINDOW` committed transactions needed more than one incarnation (they were aborted
/// or waited on an earlier one), the workers stop and the rest of the block runs sequentially
/// on top of the committed prefix. Such a block has no parallelism to win and Block-STM would
/// only add re-executions; switching costs nothing in correctness (the prefix is final and the
/// tail is the sequential executor's loop).
pub const CONFLICT_WINDOW: usize = 64;

/// Transactions a worker commits in one go before it goes back to executing and validating.
const COMMIT_BATCH: usize = 256;

fn worker<R: StateReader + Sync>(shared: &Shared<'_, R>) {
    let mut vm = Vm::new(
        &shared.mv,
        shared.base,
        &shared.codes,
        &shared.envs,
        shared.block.clone(),
        shared.cfg.clone(),
        shared.native,
    );
    let scheduler = &shared.scheduler;
    let mut task: Option<Task> = None;
    let mut idle = 0u32;
    let mut stats = ParallelStats::default();
    while !scheduler.done() && !shared.stop.load(Ordering::Relaxed) {
        task = match task {
            Some(Task::Execution(version)) => {
                let started = std::time::Instant::now();
                let next = try_execute(shared, &mut vm, version, &mut stats);
                stats.execution_time += started.elapsed();
                next
            }
            Some(Task::Validation(version)) => {
                let started = std::time::Instant::now();
                let next = validate(shared, version, &mut stats);
                stats.validation_time += started.elapsed();
                next
            }
            None => {
                try_commit(shared, COMMIT_BATCH);
                let next = scheduler.next_task();
                if next.is_none() {
                    idle += 1;
                    idle_wait(idle);
                } else {
                    idle = 0;
                }
                next
            }
        };
    }
    let mut total = lock(&shared.stats);
    total.executions += stats.executions;
    total.blocked += stats.blocked;
    total.validations += stats.validations;
    total.aborts += stats.aborts;
    total.execution_time += stats.execution_time;
    total.validation_time += stats.validation_time;
}

/// A worker with nothing to do spins briefly, then yields, then sleeps: the sealer thread (and
/// the committing worker) need the cores more than a spinning worker does.
fn idle_wait(rounds: u32) {
    if rounds <= 16 {
        std::hint::spin_loop();
    } else if rounds <= 64 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(std::time::Duration::from_micros(20));
    }
}

/// Commits final transactions in order, up to `limit`, unless another worker is doing it.
fn try_commit<R: StateReader + Sync>(shared: &Shared<'_, R>, limit: usize) {
    let mut committer = match shared.committer.try_lock() {
        Ok(c) => c,
        Err(TryLockError::WouldBlock) => return,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
    };
    for _ in 0..limit {
        let i = shared.commit_idx.load(Ordering::SeqCst);
        if i >= shared.txs.len() {
            break;
        }
        let Some(incarnation) = shared
            .scheduler
            .try_commit(i, || shared.mv.validate_read_set(i))
        else {
            break;
        };
        let Some(outcome) = lock(&shared.outcomes[i]).take() else {
            fail(
                shared,
                Fallback::Error(format!("transaction {i} is final without an outcome")),
            );
            break;
        };
        shared.mv.forget_reads(i);
        committer.commit(&shared.txs[i], outcome);
        shared.commit_idx.store(i + 1, Ordering::SeqCst);
        if committer.note_incarnation(incarnation)
            && shared.sequential_tail
            && i + 1 < shared.txs.len()
            && !shared.tail_requested.swap(true, Ordering::SeqCst)
        {
            debug!(target: "rampart::executor", committed = i + 1, "conflict-heavy block: the rest runs sequentially");
            shared.stop.store(true, Ordering::SeqCst);
            break;
        }
    }
    committer.flush();
}

fn fail(shared: &Shared<'_, impl Sync>, reason: Fallback) {
    let mut f = lock(&shared.failure);
    if f.is_none() {
        *f = Some(reason);
    }
    shared.stop.store(true, Ordering::SeqCst);
}

/// Incarnations (finished or blocked) per transaction before [`Fallback::TooManyReexecutions`].
/// The most contended test blocks (every transaction on one pool, 8 threads) need about 2.
const MAX_RUNS_PER_TX: usize = 64;

fn try_execute<R: StateReader + Sync>(
    shared: &Shared<'_, R>,
    vm: &mut Vm<'_, R>,
    version: Version,
    stats: &mut ParallelStats,
) -> Option<Task> {
    let txn_idx = version.txn_idx;
    let scheduler = &shared.scheduler;
    // The same sender's previous transaction decides this one's nonce and balance: wait for it.
    if let Some(prev) = shared.prev_same_sender[txn_idx]
        && scheduler.add_dependency(txn_idx, prev)
    {
        stats.blocked += 1;
        return None;
    }
    // Per worker: a worker alone past the bound is enough to stop.
    let max_runs = MAX_RUNS_PER_TX * shared.envs.len() + 1_024;
    loop {
        if stats.executions + stats.blocked > max_runs {
            fail(shared, Fallback::TooManyReexecutions);
            return None;
        }
        match vm.execute(version) {
            VmStatus::Done {
                outcome,
                reads,
                writes,
            } => {
                stats.executions += 1;
                *lock(&shared.outcomes[txn_idx]) = Some(outcome);
                let wrote_new_location = shared.mv.record(version, reads, writes);
                return scheduler.finish_execution(version, wrote_new_location);
            }
            VmStatus::Blocked(blocking) => {
                stats.blocked += 1;
                if scheduler.add_dependency(txn_idx, blocking) {
                    return None;
                }
                // The blocking transaction finished meanwhile: run again.
            }
            VmStatus::Fatal(reason) => {
                fail(shared, reason);
                return None;
            }
        }
    }
}

fn validate<R: StateReader + Sync>(
    shared: &Shared<'_, R>,
    version: Version,
    stats: &mut ParallelStats,
) -> Option<Task> {
    stats.validations += 1;
    // Committed meanwhile: final, nothing to check (and its reads are gone).
    if shared.commit_idx.load(Ordering::SeqCst) > version.txn_idx {
        return shared.scheduler.finish_validation(version.txn_idx, false);
    }
    let valid = shared.mv.validate_read_set(version.txn_idx);
    let aborted = !valid && shared.scheduler.try_validation_abort(version);
    if aborted {
        stats.aborts += 1;
        shared.mv.convert_writes_to_estimates(version.txn_idx);
    }
    shared.scheduler.finish_validation(version.txn_idx, aborted)
}
