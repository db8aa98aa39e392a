//! Rolling commit and sealing: the block is built from the transactions' final incarnations,
//! in block order, exactly as the sequential executor builds it.
//!
//! A transaction is final once every lower transaction is committed and its read set still
//! validates: nothing below it can change any more, so no later abort can reach it. Workers
//! commit final transactions while others still execute (one committer at a time): each
//! transaction's revm state changes go into a [`BlockDb`] as `execute_block` commits them, its
//! receipt is written and fed to the same [`Sealer`] (blooms, streaming tries) the sequential
//! executor uses. What is left after the last transaction is the beneficiary's credit, the
//! write set, the state commitment and the header.

use alloy_primitives::{Address, U256};
use rampart_primitives::{RecoveredTx, StateReader, StoredReceipt};
use revm::{Database, DatabaseCommit, primitives::AddressMap, state::Account as RevmAccount};
use tracing::debug;

use super::vm::TxOutcome;
use crate::{
    BlockInput, BlockOutcome, ExecError, RejectedTx,
    block::{Sealer, invalid_tx_reason, receipt, seal_with_roots},
    db::BlockDb,
};

/// The block under construction, up to the last committed transaction.
pub(crate) struct Committer<'a, R> {
    db: BlockDb<&'a R>,
    base_fee: u64,
    /// The tip of each included transaction, credited to the beneficiary when sealing.
    tips: Vec<U256>,
    /// Blooms and the two tries, fed in block order as in the sequential executor.
    sealer: Sealer,
    receipts: Vec<StoredReceipt>,
    included: Vec<RecoveredTx>,
    rejected: Vec<RejectedTx>,
    gas_used: u64,
    log_count: u32,
}

impl<'a, R: StateReader> Committer<'a, R> {
    pub fn new(base: &'a R, txs: usize, base_fee: u64) -> Self {
        Self {
            db: BlockDb::new(base),
            base_fee,
            tips: Vec::with_capacity(txs),
            sealer: Sealer::default(),
            receipts: Vec::with_capacity(txs),
            included: Vec::with_capacity(txs),
            rejected: Vec::new(),
            gas_used: 0,
            log_count: 0,
        }
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
            } => {
                self.db.commit(state);
                self.tips.push(tip);
                self.gas_used += result.tx_gas_used();
                let first_log = self.log_count;
                self.log_count += logs.len() as u32;
                let receipt = receipt(tx, &result, logs, self.gas_used, first_log, self.base_fee);
                self.sealer.push_with_bloom(&receipt, &tx.raw, bloom);
                self.receipts.push(receipt);
                self.included.push(tx.clone());
            }
        }
    }

    /// Credits the tips, builds the write set and seals with the sequential executor's
    /// `seal_with_roots`. With `parallel`, `garbage` is freed on a second thread meanwhile.
    pub fn seal(
        self,
        input: &BlockInput<'_>,
        garbage: impl Send,
        parallel: bool,
    ) -> Result<BlockOutcome, ExecError> {
        let Committer {
            mut db,
            tips,
            sealer,
            receipts,
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
            let block = seal_with_roots(
                input,
                &included,
                receipts,
                write_set,
                gas_used,
                sealer.finish(),
            )?;
            Ok(BlockOutcome {
                block,
                included,
                rejected,
            })
        };
        if parallel {
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
