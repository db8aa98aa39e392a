//! Rolling commit and sealing: the block is built from the transactions' final incarnations,
//! in block order, exactly as the sequential executor builds it.
//!
//! A transaction is final once every lower transaction is committed and its read set still
//! validates: nothing below it can change any more, so no later abort can reach it. Workers
//! commit final transactions while others still execute (one committer at a time): each
//! transaction's revm state changes go into a [`BlockDb`] as `execute_block` commits them, its
//! receipt is written and handed to a sealer thread running the sequential executor's
//! [`Sealer`] (blooms, streaming tries). What is left after the last transaction is the
//! beneficiary's credit, the write set, the state commitment and the header.

use std::sync::mpsc::{Receiver, SyncSender};

use alloy_primitives::{Address, Bloom, Bytes, U256};
use rampart_primitives::{
    BloomMemo, LogEntry, RecoveredTx, StateReader, StoredReceipt, commitment::write_set_hash,
};
use revm::{
    Database, DatabaseCommit, context::result::EVMError, primitives::AddressMap,
    state::Account as RevmAccount,
};
use tracing::debug;

use super::vm::TxOutcome;
use crate::native::RampartEvm;
use crate::{
    BlockInput, BlockOutcome, BlockParams, ChainConfig, ExecError, RejectedTx,
    block::{Roots, Sealed, Sealer, invalid_tx_reason, receipt, seal_with_roots},
    db::BlockDb,
    env::{block_env, cfg_env, tx_env},
};
use rampart_native::NativeRuntime;

/// Receipts (with the transaction's bytes and the receipt's bloom) on their way to the sealer.
pub(crate) type SealerBatch = Vec<(StoredReceipt, Bytes, Bloom)>;

/// Batches in flight to the sealer at most.
pub(crate) const SEALER_QUEUE: usize = 64;

/// Receipts per batch: a hand-off wakes the sealer thread, which costs more than sealing one
/// receipt.
const SEALER_BATCH: usize = 64;

/// The sealer thread: blooms and the two tries (the sequential executor's [`Sealer`]), fed in
/// block order. Returns the roots and the receipts.
pub(crate) fn run_sealer(
    batches: Receiver<SealerBatch>,
    txs: usize,
) -> (Roots, Vec<StoredReceipt>) {
    let mut sealer = Sealer::default();
    let mut receipts = Vec::with_capacity(txs);
    for batch in batches {
        for (receipt, raw, bloom) in batch {
            sealer.push_with_bloom(&receipt, &raw, bloom);
            receipts.push(receipt);
        }
    }
    (sealer.finish(), receipts)
}

/// The block under construction, up to the last committed transaction.
pub(crate) struct Committer<'a, R> {
    db: BlockDb<&'a R>,
    base_fee: u64,
    /// The tip of each included transaction, credited to the beneficiary when sealing.
    tips: Vec<U256>,
    to_sealer: Option<SyncSender<SealerBatch>>,
    batch: SealerBatch,
    included: Vec<RecoveredTx>,
    rejected: Vec<RejectedTx>,
    gas_used: u64,
    log_count: u32,
    /// One bit per recent committed transaction: whether it needed more than one incarnation.
    window: u64,
    committed: usize,
}

impl<'a, R: StateReader> Committer<'a, R> {
    pub fn new(base: &'a R, txs: usize, base_fee: u64, to_sealer: SyncSender<SealerBatch>) -> Self {
        Self {
            db: BlockDb::new(base),
            base_fee,
            tips: Vec::with_capacity(txs),
            to_sealer: Some(to_sealer),
            batch: Vec::with_capacity(SEALER_BATCH),
            included: Vec::with_capacity(txs),
            rejected: Vec::new(),
            gas_used: 0,
            log_count: 0,
            window: 0,
            committed: 0,
        }
    }

    /// Records the committed transaction's incarnation; true when the recent window is
    /// conflict-heavy (see [`CONFLICT_WINDOW`](super::CONFLICT_WINDOW)).
    pub fn note_incarnation(&mut self, incarnation: usize) -> bool {
        const _: () = assert!(super::CONFLICT_WINDOW == 64, "the window is a u64 bit set");
        self.window = (self.window << 1) | u64::from(incarnation > 0);
        self.committed += 1;
        self.committed >= super::CONFLICT_WINDOW
            && self.window.count_ones() as usize > super::CONFLICT_WINDOW / 2
    }

    /// Runs `txs` (the rest of the block, after the committed prefix) exactly as
    /// `execute_block` does: revm with its own fee handling on this block's overlay. The tips
    /// deferred so far are credited first, as the sequential executor would have.
    pub fn run_sequential_tail(
        &mut self,
        base: &'a R,
        txs: &[RecoveredTx],
        chain: &ChainConfig,
        params: &BlockParams,
        native: Option<&NativeRuntime>,
    ) -> Result<(), ExecError> {
        if !self.tips.is_empty() {
            credit_beneficiary(&mut self.db, params.beneficiary, &self.tips)?;
            self.tips.clear();
        }
        let db = std::mem::replace(&mut self.db, BlockDb::new(base));
        let spec = chain.fork_at(params.timestamp).spec_id();
        let mut evm = RampartEvm::new(
            db,
            block_env(params, spec),
            cfg_env(chain, params.timestamp),
            native,
        );
        let mut result = Ok(());
        let mut blooms = BloomMemo::default();
        for tx in txs {
            let outcome = match evm.transact_commit(tx_env(tx)) {
                Ok(r) => r,
                Err(EVMError::Transaction(e)) => {
                    self.commit(tx, TxOutcome::Invalid(e));
                    continue;
                }
                Err(EVMError::Database(e)) => {
                    result = Err(ExecError::State(e.0));
                    break;
                }
                Err(other) => {
                    result = Err(ExecError::Bug(format!("tx {}: {other}", tx.hash)));
                    break;
                }
            };
            let logs: Vec<LogEntry> = outcome.logs().iter().map(LogEntry::from).collect();
            let bloom = blooms.bloom(&logs);
            self.gas_used += outcome.tx_gas_used();
            let first_log = self.log_count;
            self.log_count += logs.len() as u32;
            let receipt = receipt(
                tx,
                &outcome,
                evm.native_failure(),
                logs,
                self.gas_used,
                first_log,
                self.base_fee,
            );
            self.batch.push((receipt, tx.raw.clone(), bloom));
            self.included.push(tx.clone());
            self.flush();
        }
        self.db = evm.into_db();
        result
    }

    /// Appends the next transaction of the block.
    pub fn commit(&mut self, tx: &RecoveredTx, outcome: TxOutcome) {
        match outcome {
            TxOutcome::Invalid(e) => {
                debug!(target: "rampart::executor", tx = %tx.hash, reason = %e, "transaction left out");
                self.rejected.push(RejectedTx {
                    hash: tx.hash,
                    reason: invalid_tx_reason(&e),
                    retry: false,
                });
            }
            TxOutcome::Executed {
                result,
                state,
                tip,
                logs,
                bloom,
                native_failure,
            } => {
                self.db.commit(state);
                self.tips.push(tip);
                self.gas_used += result.tx_gas_used();
                let first_log = self.log_count;
                self.log_count += logs.len() as u32;
                let receipt = receipt(
                    tx,
                    &result,
                    native_failure.as_ref(),
                    logs,
                    self.gas_used,
                    first_log,
                    self.base_fee,
                );
                self.batch.push((receipt, tx.raw.clone(), bloom));
                self.included.push(tx.clone());
            }
        }
    }

    /// Hands the receipts committed so far to the sealer once there are enough of them.
    pub fn flush(&mut self) {
        if self.batch.len() < SEALER_BATCH {
            return;
        }
        self.send();
    }

    fn send(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        if let Some(to_sealer) = &self.to_sealer {
            // The sealer only ends early if it panicked; joining it reports that.
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(SEALER_BATCH));
            let _ = to_sealer.send(batch);
        }
    }

    /// No more transactions: flushes and lets the sealer finish.
    pub fn close(&mut self) {
        self.send();
        self.to_sealer = None;
    }

    /// Credits the tips, builds the write set and seals with the sequential executor's
    /// `seal_with_roots`, hashing the write set on `threads` threads. With more than one,
    /// `garbage` is freed on a second thread meanwhile.
    pub fn seal(
        self,
        input: &BlockInput<'_>,
        (roots, receipts): (Roots, Vec<StoredReceipt>),
        garbage: impl Send,
        threads: usize,
    ) -> Result<BlockOutcome, ExecError> {
        let Committer {
            mut db,
            tips,
            included,
            rejected,
            gas_used,
            ..
        } = self;
        let finish = move || {
            if !tips.is_empty() {
                credit_beneficiary(&mut db, input.params.beneficiary, &tips)?;
            }
            let write_set = db.into_write_set();
            let write_set_hash =
                write_set_hash(&write_set, threads).map_err(|e| ExecError::Bug(e.to_string()))?;
            let sealed = Sealed {
                receipts,
                write_set,
                write_set_hash,
                gas_used,
                roots,
            };
            let block = seal_with_roots(input, &included, sealed);
            Ok(BlockOutcome {
                block,
                included,
                rejected,
            })
        };
        if threads > 1 {
            std::thread::scope(|s| {
                s.spawn(move || drop(garbage));
                finish()
            })
        } else {
            drop(garbage);
            finish()
        }
    }
}

/// revm's reward step for each included transaction, applied to the overlay: load the
/// beneficiary, touch it, add the tip. No transaction read or wrote the beneficiary (else the
/// block ran sequentially), so nothing observes it between two rewards: crediting the tips one
/// after the other to a local balance and committing once gives what committing after each
/// transaction gives (the last commit decides the account, EIP-161 emptiness included).
fn credit_beneficiary<R: StateReader>(
    db: &mut BlockDb<R>,
    beneficiary: Address,
    tips: &[U256],
) -> Result<(), ExecError> {
    let info = db
        .basic(beneficiary)
        .map_err(|e| ExecError::State(e.0))?
        .unwrap_or_default();
    let mut account = RevmAccount::default();
    account.info = info;
    for tip in tips {
        // As `incr_balance`: an overflowing tip leaves the balance as it was.
        if let Some(balance) = account.info.balance.checked_add(*tip) {
            account.info.balance = balance;
        }
    }
    account.mark_touch();
    let mut changes = AddressMap::default();
    changes.insert(beneficiary, account);
    db.commit(changes);
    Ok(())
}
