//! Phase two: run a block's transactions in order and seal the result.

use alloy_primitives::{B256, Bloom, Bytes, keccak256};
use rampart_native::{NATIVE_DEPLOYER, NativeRuntime};
use rampart_primitives::{
    BlockHeader, BloomMemo, ExecutedBlock, LogEntry, RecoveredTx, StateReader, StoredReceipt,
    commitment::{chain, write_set_hash},
};
use revm::context::result::{
    EVMError, ExecutionResult, HaltReason, InvalidTransaction, OutOfGasError,
};
use tracing::debug;

use crate::{
    ChainConfig, ExecError,
    db::BlockDb,
    env::{BlockParams, block_env, cfg_env, tx_env},
    native::{NativeFailure, RampartEvm},
};

/// What to execute: the block's parameters and candidate transactions in their final order.
#[derive(Debug)]
pub struct BlockInput<'a> {
    pub parent: &'a BlockHeader,
    pub params: BlockParams,
    pub txs: &'a [RecoveredTx],
    pub extra_data: Bytes,
    /// Runs native contracts; `None` disables them (a call to one fails).
    pub native: Option<&'a NativeRuntime>,
}

/// A candidate transaction that was left out of the block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedTx {
    pub hash: B256,
    pub reason: String,
    /// True when the transaction is fine but did not fit (block gas): it stays in the mempool.
    pub retry: bool,
}

/// The sealed block plus what was left out.
#[derive(Debug)]
pub struct BlockOutcome {
    pub block: ExecutedBlock,
    /// The included transactions, in block order (same order as `block.receipts`).
    pub included: Vec<RecoveredTx>,
    pub rejected: Vec<RejectedTx>,
}

/// Human-readable reason for a failed (but included) transaction.
pub fn failure_reason(result: &ExecutionResult) -> Option<String> {
    match result {
        ExecutionResult::Success { .. } => None,
        ExecutionResult::Revert { .. } => Some("execution reverted".into()),
        ExecutionResult::Halt { reason, .. } => Some(halt_reason(reason)),
    }
}

pub fn halt_reason(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(OutOfGasError::Basic | OutOfGasError::Precompile) => {
            "out of gas".into()
        }
        HaltReason::OutOfGas(OutOfGasError::Memory | OutOfGasError::MemoryLimit) => {
            "out of gas: memory".into()
        }
        HaltReason::OutOfGas(other) => format!("out of gas: {other:?}"),
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode => "invalid opcode".into(),
        HaltReason::StackOverflow => "stack overflow".into(),
        HaltReason::StackUnderflow => "stack underflow".into(),
        HaltReason::CreateContractSizeLimit => "max code size exceeded".into(),
        HaltReason::CreateContractStartingWithEF => "invalid code: must not begin with 0xef".into(),
        HaltReason::CreateCollision => "contract address collision".into(),
        HaltReason::CallTooDeep => "max call depth exceeded".into(),
        HaltReason::InvalidJump => "invalid jump destination".into(),
        HaltReason::StateChangeDuringStaticCall => "write protection".into(),
        other => format!("{other:?}"),
    }
}

/// The error text geth gives for a transaction that cannot be included.
pub fn invalid_tx_reason(e: &InvalidTransaction) -> String {
    match e {
        InvalidTransaction::NonceTooLow { tx, state } => {
            format!("nonce too low: next nonce {state}, tx nonce {tx}")
        }
        InvalidTransaction::NonceTooHigh { tx, state } => {
            format!("nonce too high: next nonce {state}, tx nonce {tx}")
        }
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => {
            format!("insufficient funds for gas * price + value: balance {balance}, tx cost {fee}")
        }
        InvalidTransaction::CallerGasLimitMoreThanBlock => "exceeds block gas limit".into(),
        InvalidTransaction::CallGasCostMoreThanGasLimit {
            initial_gas,
            gas_limit,
        } => {
            format!("intrinsic gas too low: gas {gas_limit}, minimum needed {initial_gas}")
        }
        InvalidTransaction::GasFloorMoreThanGasLimit {
            gas_floor,
            gas_limit,
        } => {
            format!("intrinsic gas too low: gas {gas_limit}, minimum needed {gas_floor}")
        }
        InvalidTransaction::GasPriceLessThanBasefee => {
            "max fee per gas less than block base fee".into()
        }
        InvalidTransaction::PriorityFeeGreaterThanMaxFee => {
            "max priority fee per gas higher than max fee per gas".into()
        }
        InvalidTransaction::InvalidChainId => "invalid chain id for signer".into(),
        InvalidTransaction::RejectCallerWithCode => "sender not an eoa".into(),
        InvalidTransaction::CreateInitCodeSizeLimit => "max initcode size exceeded".into(),
        other => other.to_string(),
    }
}

/// Executes `input.txs` in order on top of `state` and seals the block.
///
/// Transactions that are invalid in this position (nonce, funds, gas) are left out and
/// reported in `rejected`; the block contains only included ones. The result is a pure function
/// of (state, chain, input): no clocks, no randomness, no hash-map order reaches it.
pub fn execute_block<R: StateReader>(
    state: R,
    chain: &ChainConfig,
    input: &BlockInput<'_>,
) -> Result<BlockOutcome, ExecError> {
    let p = &input.params;
    let spec = chain.fork_at(p.timestamp).spec_id();
    let mut evm = RampartEvm::new(
        BlockDb::new(state),
        block_env(p, spec),
        cfg_env(chain, p.timestamp),
        input.native,
    );

    let mut receipts = Vec::with_capacity(input.txs.len());
    let mut included = Vec::with_capacity(input.txs.len());
    let mut rejected = Vec::new();
    let mut cumulative_gas = 0u64;
    let mut log_count = 0u32;

    // Sealing (blooms, the two Merkle roots) runs on a second thread while transactions
    // execute: each included transaction's receipt and bytes stream to it in block order.
    std::thread::scope(|scope| -> Result<BlockOutcome, ExecError> {
        let (to_sealer, from_executor) =
            std::sync::mpsc::sync_channel::<Vec<(StoredReceipt, Bytes)>>(SEALER_QUEUE);
        let sealer = scope.spawn(move || {
            let mut sealer = Sealer::default();
            for batch in from_executor {
                for (receipt, raw) in &batch {
                    sealer.push(receipt, raw);
                }
            }
            sealer.finish()
        });
        // Receipts go over in batches: a channel hand-off per transaction costs a wake-up each.
        let mut batch = Vec::with_capacity(SEALER_BATCH);

        for tx in input.txs {
            if cumulative_gas.saturating_add(tx.gas_limit()) > p.gas_limit {
                rejected.push(RejectedTx {
                    hash: tx.hash,
                    reason: "block gas limit reached".into(),
                    retry: true,
                });
                continue;
            }
            let result = match evm.transact_commit(tx_env(tx)) {
                Ok(r) => r,
                Err(EVMError::Transaction(e)) => {
                    debug!(target: "rampart::executor", tx = %tx.hash, reason = %e, "transaction left out");
                    rejected.push(RejectedTx {
                        hash: tx.hash,
                        reason: invalid_tx_reason(&e),
                        retry: false,
                    });
                    continue;
                }
                Err(EVMError::Database(e)) => return Err(ExecError::State(e.0)),
                Err(other) => return Err(ExecError::Bug(format!("tx {}: {other}", tx.hash))),
            };
            cumulative_gas += result.tx_gas_used();
            let first_log = log_count;
            log_count += result.logs().len() as u32;
            let logs = result.logs().iter().map(LogEntry::from).collect();
            let r = receipt(
                tx,
                &result,
                evm.native_failure(),
                logs,
                cumulative_gas,
                first_log,
                p.base_fee,
            );
            batch.push((r.clone(), tx.raw.clone()));
            if batch.len() == SEALER_BATCH {
                // The sealer only ends early if it panicked; `join` below reports that.
                let _ = to_sealer.send(std::mem::replace(
                    &mut batch,
                    Vec::with_capacity(SEALER_BATCH),
                ));
            }
            receipts.push(r);
            included.push(tx.clone());
        }
        let _ = to_sealer.send(batch);
        drop(to_sealer);

        let write_set = evm.into_db().into_write_set();
        // Hashed while the sealer may still be finishing the roots, in chunks on the machine's
        // cores (the transactions are done: nothing else of this block needs them).
        let ws_hash =
            write_set_hash(&write_set, cores()).map_err(|e| ExecError::Bug(e.to_string()))?;
        let roots = sealer
            .join()
            .map_err(|_| ExecError::Bug("block sealer thread panicked".into()))?;
        let sealed = Sealed {
            receipts,
            write_set,
            write_set_hash: ws_hash,
            gas_used: cumulative_gas,
            roots,
        };
        let block = seal_with_roots(input, &included, sealed);
        Ok(BlockOutcome {
            block,
            included,
            rejected,
        })
    })
}

/// The machine's cores, looked up once: `available_parallelism` reads cgroup files on Linux,
/// which is not worth doing for every block.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Batches in flight to the sealer thread at most (bounded so a slow sealer slows execution
/// instead of growing memory), and receipts per batch.
const SEALER_QUEUE: usize = 64;
const SEALER_BATCH: usize = 32;

/// An ordered trie root built while its items arrive in index order. Trie keys are `rlp(index)`,
/// which sorts index 0 (`0x80`) after 1..=127 (`0x01..=0x7f`) and before 128 (`0x8180`); every
/// other index already arrives in key order, so only index 0 is held back.
#[derive(Debug, Default)]
struct OrderedRoot {
    builder: alloy_trie::HashBuilder,
    first: Option<Vec<u8>>,
    next: usize,
}

impl OrderedRoot {
    fn push(&mut self, value: Vec<u8>) {
        let index = self.next;
        self.next += 1;
        if index == 0 {
            self.first = Some(value);
            return;
        }
        if index == 128 {
            self.flush_first();
        }
        self.add(index, &value);
    }

    fn add(&mut self, index: usize, value: &[u8]) {
        let key = alloy_rlp::encode_fixed_size(&index);
        self.builder
            .add_leaf(alloy_trie::Nibbles::unpack(&key), value);
    }

    fn flush_first(&mut self) {
        if let Some(v) = self.first.take() {
            self.add(0, &v);
        }
    }

    fn root(mut self) -> B256 {
        self.flush_first();
        self.builder.root()
    }
}

/// Blooms and the transactions and receipts roots, fed one included transaction at a time.
#[derive(Debug, Default)]
pub(crate) struct Sealer {
    transactions: OrderedRoot,
    receipts: OrderedRoot,
    logs_bloom: Bloom,
    /// Keccaks of the addresses and topics seen in this block's logs.
    blooms: BloomMemo,
}

/// What the sealer computes.
#[derive(Debug)]
pub(crate) struct Roots {
    pub transactions_root: B256,
    pub receipts_root: B256,
    pub logs_bloom: Bloom,
}

impl Sealer {
    pub(crate) fn push(&mut self, receipt: &StoredReceipt, raw: &Bytes) {
        let bloom = self.blooms.bloom(&receipt.logs);
        self.push_with_bloom(receipt, raw, bloom);
    }

    /// As [`Self::push`], with `bloom == receipt.bloom()` already computed (the parallel
    /// executor computes it on its worker threads).
    pub(crate) fn push_with_bloom(&mut self, receipt: &StoredReceipt, raw: &Bytes, bloom: Bloom) {
        use alloy_eips::eip2718::Encodable2718;
        // The trie's values are the EIP-2718 encodings: for transactions, the raw bytes we hold.
        self.transactions.push(raw.to_vec());
        self.logs_bloom.accrue_bloom(&bloom);
        self.receipts
            .push(receipt.to_consensus_with_bloom(bloom).encoded_2718());
    }

    pub(crate) fn finish(self) -> Roots {
        Roots {
            transactions_root: self.transactions.root(),
            receipts_root: self.receipts.root(),
            logs_bloom: self.logs_bloom,
        }
    }
}

/// The receipt of an included transaction; `cumulative_gas` already counts it, `logs` are
/// `result`'s; `native` is the last native contract failure in it.
pub(crate) fn receipt(
    tx: &RecoveredTx,
    result: &ExecutionResult,
    native: Option<&NativeFailure>,
    logs: Vec<LogEntry>,
    cumulative_gas: u64,
    first_log: u32,
    base_fee: u64,
) -> StoredReceipt {
    let contract_address = match tx.to() {
        None => Some(tx.sender.create(tx.nonce())),
        // A native deploy names its contract as a creation does.
        Some(to) if to == NATIVE_DEPLOYER && result.is_success() => {
            Some(tx.sender.create(tx.nonce()))
        }
        Some(_) => None,
    };
    let failure = match (failure_reason(result), native) {
        (Some(_), Some(n)) => Some(n.to_string()),
        (reason, _) => reason,
    };
    StoredReceipt {
        tx_hash: tx.hash,
        tx_type: tx.tx_type(),
        from: tx.sender,
        to: tx.to(),
        success: result.is_success(),
        gas_used: result.tx_gas_used(),
        cumulative_gas_used: cumulative_gas,
        effective_gas_price: tx.effective_gas_price(base_fee),
        contract_address,
        first_log_index: first_log,
        logs,
        failure,
        output: match result {
            ExecutionResult::Success { output, .. } => output.data().clone(),
            ExecutionResult::Revert { output, .. } => output.clone(),
            ExecutionResult::Halt { .. } => Bytes::new(),
        },
    }
}

/// An executed block's parts, its roots and the hash of its write set computed.
pub(crate) struct Sealed {
    pub receipts: Vec<StoredReceipt>,
    pub write_set: rampart_primitives::WriteSet,
    /// [`write_set_hash`] of `write_set`.
    pub write_set_hash: B256,
    pub gas_used: u64,
    pub roots: Roots,
}

/// Header and state commitment for an executed block whose roots are already computed.
pub(crate) fn seal_with_roots(
    input: &BlockInput<'_>,
    included: &[RecoveredTx],
    sealed: Sealed,
) -> ExecutedBlock {
    let p = &input.params;
    let Sealed {
        receipts,
        write_set,
        write_set_hash,
        gas_used,
        roots:
            Roots {
                transactions_root,
                receipts_root,
                logs_bloom,
            },
    } = sealed;
    let state_commitment = chain(input.parent.state_commitment, write_set_hash, receipts_root);
    let header = BlockHeader {
        number: p.number,
        parent_hash: input.parent.hash(),
        timestamp: p.timestamp,
        beneficiary: p.beneficiary,
        gas_limit: p.gas_limit,
        gas_used,
        base_fee_per_gas: p.base_fee,
        transactions_root,
        receipts_root,
        logs_bloom,
        state_commitment,
        mix_hash: p.prevrandao,
        extra_data: input.extra_data.clone(),
    };
    let hash = header.hash();
    ExecutedBlock {
        header,
        hash,
        transactions: included.iter().map(|t| t.raw.clone()).collect(),
        receipts,
        write_set,
    }
}

/// PREVRANDAO for the block after `parent`: deterministic, so every replica agrees.
pub fn next_prevrandao(parent_hash: B256) -> B256 {
    keccak256([b"rampart-prevrandao".as_slice(), parent_hash.as_slice()].concat())
}
