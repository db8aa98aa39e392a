//! Executing one transaction incarnation on revm against multi-version memory.
//!
//! [`VmDb`] is revm's database during an incarnation: a read goes to the multi-version memory
//! (the closest lower transaction's write) and otherwise to the committed state, and is
//! recorded with the version it saw. Reading a value that is an estimate stops the incarnation
//! (`Blocked`): the scheduler parks it until the writer has run again.
//!
//! Fees: the post-execution reward of the block beneficiary is replaced by [`LazyFeeHandler`],
//! which only computes the tip; the tips are credited to the beneficiary when the block is
//! sealed, with the balance the sequential executor's per-transaction credits add up to. So no
//! transaction writes the beneficiary during parallel execution. A transaction that reads the
//! beneficiary account itself (sends from or to it, `BALANCE(COINBASE)`, calls it) would see
//! a balance that depends on every earlier tip: any such read stops Block-STM and the block
//! runs sequentially (see [`Fallback::BeneficiaryRead`](super::Fallback)).

use std::{cell::Cell, collections::HashMap, marker::PhantomData};

use alloy_primitives::{Address, B256, Bloom, U256, map::DefaultHashBuilder};
use dashmap::DashMap;
use rampart_primitives::{Account, BloomMemo, KECCAK_EMPTY, LogEntry, StateError, StateReader};
use revm::{
    Database,
    bytecode::Bytecode,
    context::{
        ContextTr, TxEnv,
        result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction},
    },
    context_interface::{Block, Cfg, JournalTr, Transaction},
    database_interface::DBErrorMarker,
    handler::{EvmTr, EvmTrError, FrameResult, FrameTr, Handler},
    interpreter::interpreter_action::FrameInit,
    primitives::hardfork::SpecId,
    state::{AccountInfo, EvmState},
};

use super::Fallback;
use super::mv_memory::{Location, MvMemory, Origin, ReadResult, ReadSet, TxIdx, Value, Version};
use crate::db::to_bytecode;
use crate::native::{NativeFailure, RampartEvm};
use rampart_native::NativeRuntime;

/// Why an incarnation could not finish.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum VmError {
    #[error("read an estimate of transaction {0}")]
    Blocked(TxIdx),
    #[error("read the block beneficiary")]
    BeneficiaryRead,
    #[error(transparent)]
    State(#[from] StateError),
}

impl DBErrorMarker for VmError {}

/// New code written by the block's transactions, by hash (content-addressed, so never stale).
pub(crate) type CodeMap = DashMap<B256, Bytecode, DefaultHashBuilder>;

/// revm's database for one worker; re-targeted at each incarnation.
pub(crate) struct VmDb<'a, R> {
    mv: &'a MvMemory,
    base: &'a R,
    codes: &'a CodeMap,
    beneficiary: Address,
    txn_idx: TxIdx,
    reads: ReadSet,
    /// The basic value this incarnation read for each account: a write of the same value is
    /// no write at all (an account touched without change must not conflict).
    basic_reads: HashMap<Address, (Option<Account>, Origin), DefaultHashBuilder>,
    bytecode_cache: HashMap<B256, Bytecode, DefaultHashBuilder>,
}

impl<R: StateReader> VmDb<'_, R> {
    fn read_basic(&mut self, address: Address) -> Result<(Option<Account>, Origin), VmError> {
        let location = Location::Basic(address);
        let (value, origin) = match self.mv.read(&location, self.txn_idx) {
            ReadResult::Value(version, Value::Basic(v)) => (v, Origin::Tx(version)),
            ReadResult::Value(..) => {
                return Err(VmError::State(StateError(
                    "multi-version memory: basic location holds another kind of value".into(),
                )));
            }
            ReadResult::NotFound => (self.base.account(&address)?, Origin::Base),
            ReadResult::Blocked(t) => return Err(VmError::Blocked(t)),
        };
        self.reads.push((location, origin));
        Ok((value, origin))
    }
}

impl<R: StateReader> Database for VmDb<'_, R> {
    type Error = VmError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, VmError> {
        if address == self.beneficiary {
            return Err(VmError::BeneficiaryRead);
        }
        let (value, origin) = self.read_basic(address)?;
        self.basic_reads.insert(address, (value, origin));
        Ok(value.map(crate::db::account_info))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, VmError> {
        if let Some(b) = self.bytecode_cache.get(&code_hash) {
            return Ok(b.clone());
        }
        let bytecode = if code_hash == KECCAK_EMPTY {
            to_bytecode(Default::default())
        } else if let Some(b) = self.codes.get(&code_hash) {
            b.clone()
        } else {
            let code = self.base.code(&code_hash)?.ok_or_else(|| {
                StateError(format!(
                    "code {code_hash} referenced by an account is missing"
                ))
            })?;
            to_bytecode(code)
        };
        self.bytecode_cache.insert(code_hash, bytecode.clone());
        Ok(bytecode)
    }

    /// The slot as [`BlockDb`](crate::db::BlockDb) would show it after the earlier
    /// transactions: the latest write since the account's last storage reset; zero after a
    /// reset or while the account is deleted; otherwise committed state.
    fn storage(&mut self, address: Address, index: U256) -> Result<U256, VmError> {
        let slot_location = Location::Storage(address, index);
        let reset_location = Location::StorageReset(address);
        let slot = self.mv.read(&slot_location, self.txn_idx);
        let reset = self.mv.read(&reset_location, self.txn_idx);
        for r in [&slot, &reset] {
            if let ReadResult::Blocked(t) = r {
                return Err(VmError::Blocked(*t));
            }
        }
        let origin = |r: &ReadResult| match r {
            ReadResult::Value(v, _) => Origin::Tx(*v),
            _ => Origin::Base,
        };
        self.reads.push((slot_location, origin(&slot)));
        self.reads.push((reset_location, origin(&reset)));
        match (slot, reset) {
            (ReadResult::Value(vs, Value::Storage(v)), ReadResult::Value(vr, _))
                if vs.txn_idx >= vr.txn_idx =>
            {
                Ok(v)
            }
            (ReadResult::Value(_, Value::Storage(v)), ReadResult::NotFound) => Ok(v),
            (_, ReadResult::Value(..)) => Ok(U256::ZERO),
            (ReadResult::Value(..), _) => Err(VmError::State(StateError(
                "multi-version memory: storage location holds another kind of value".into(),
            ))),
            // No write and no reset in the block so far: an account that an earlier
            // transaction deleted reads as empty, otherwise committed storage shows through.
            // (revm loaded the account before its storage: its read is usually at hand.)
            _ => {
                let basic = match self.basic_reads.get(&address) {
                    Some(read) => *read,
                    None => self.read_basic(address)?,
                };
                match basic {
                    (None, Origin::Tx(_)) => Ok(U256::ZERO),
                    _ => Ok(self.base.storage(&address, &index)?),
                }
            }
        }
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, VmError> {
        Ok(self.base.block_hash(number)?.unwrap_or_default())
    }
}

/// revm's mainnet handler, except that the beneficiary is not paid: the tip is kept for the
/// sealing step. Every other phase (validation, fee deduction, refunds, reimbursement) is
/// revm's own.
struct LazyFeeHandler<EVM, ERROR, FRAME> {
    tip: Cell<U256>,
    _types: PhantomData<(EVM, ERROR, FRAME)>,
}

impl<EVM, ERROR, FRAME> Default for LazyFeeHandler<EVM, ERROR, FRAME> {
    fn default() -> Self {
        Self {
            tip: Cell::new(U256::ZERO),
            _types: PhantomData,
        }
    }
}

impl<EVM, ERROR, FRAME> Handler for LazyFeeHandler<EVM, ERROR, FRAME>
where
    EVM: EvmTr<Context: ContextTr<Journal: JournalTr<State = EvmState>>, Frame = FRAME>,
    ERROR: EvmTrError<EVM>,
    FRAME: FrameTr<FrameResult = FrameResult, FrameInit = FrameInit>,
{
    type Evm = EVM;
    type Error = ERROR;
    type HaltReason = HaltReason;

    /// Same amount as `revm::handler::post_execution::reward_beneficiary`, not credited.
    fn reward_beneficiary(
        &self,
        evm: &mut Self::Evm,
        exec_result: &mut FrameResult,
    ) -> Result<(), Self::Error> {
        let ctx = evm.ctx();
        if ctx.cfg().is_fee_charge_disabled() {
            return Ok(());
        }
        let basefee = ctx.block().basefee() as u128;
        let effective_gas_price = ctx.tx().effective_gas_price(basefee);
        let coinbase_gas_price = if ctx.cfg().spec().into().is_enabled_in(SpecId::LONDON) {
            effective_gas_price.saturating_sub(basefee)
        } else {
            effective_gas_price
        };
        let gas = exec_result.gas();
        let effective_used = gas.used().saturating_sub(gas.reservoir());
        self.tip
            .set(U256::from(coinbase_gas_price * effective_used as u128));
        Ok(())
    }
}

/// The result of a transaction's last incarnation.
// Nearly every outcome is `Executed`: boxing it would only add an allocation per transaction.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum TxOutcome {
    Executed {
        result: ExecutionResult,
        /// revm's state changes, as the sequential executor would commit them (minus the tip).
        state: EvmState,
        tip: U256,
        /// The receipt's logs and their bloom, computed here so that the keccaks run in
        /// parallel rather than in the (serial) commit.
        logs: Vec<LogEntry>,
        bloom: Bloom,
        /// The last native contract failure in it, for the receipt.
        native_failure: Option<NativeFailure>,
    },
    /// Not valid at its position (nonce, funds, intrinsic gas): left out of the block.
    Invalid(InvalidTransaction),
}

// Returned by value once per incarnation and taken apart at once.
#[allow(clippy::large_enum_variant)]
pub(crate) enum VmStatus {
    Done {
        outcome: TxOutcome,
        reads: ReadSet,
        writes: Vec<(Location, Value)>,
    },
    Blocked(TxIdx),
    /// Block-STM cannot go on; the caller runs the block sequentially.
    Fatal(Fallback),
}

/// Initial room for an incarnation's reads (an ERC-20 transfer makes about ten).
const READS_CAPACITY: usize = 16;

type Evm<'a, R> = RampartEvm<'a, VmDb<'a, R>>;

/// One worker's EVM.
pub(crate) struct Vm<'a, R: StateReader> {
    evm: Evm<'a, R>,
    envs: &'a [TxEnv],
    /// This worker's keccaks of log addresses and topics, for blooms.
    blooms: BloomMemo,
}

impl<'a, R: StateReader> Vm<'a, R> {
    pub fn new(
        mv: &'a MvMemory,
        base: &'a R,
        codes: &'a CodeMap,
        envs: &'a [TxEnv],
        block: revm::context::BlockEnv,
        cfg: revm::context::CfgEnv,
        native: Option<&'a NativeRuntime>,
    ) -> Self {
        let db = VmDb {
            mv,
            base,
            codes,
            beneficiary: block.beneficiary,
            txn_idx: 0,
            reads: Vec::new(),
            basic_reads: HashMap::default(),
            bytecode_cache: HashMap::default(),
        };
        let evm = RampartEvm::new(db, block, cfg, native);
        Self {
            evm,
            envs,
            blooms: BloomMemo::default(),
        }
    }

    pub fn execute(&mut self, version: Version) -> VmStatus {
        let txn_idx = version.txn_idx;
        {
            let db = self.evm.db_mut();
            db.txn_idx = txn_idx;
            db.reads.clear();
            db.basic_reads.clear();
        }
        let mut handler = LazyFeeHandler::<_, EVMError<VmError, InvalidTransaction>, _>::default();
        let result = self.evm.run_with(self.envs[txn_idx].clone(), &mut handler);
        let state = self.evm.ctx_mut().journaled_state.finalize();
        let native_failure = self.evm.native_failure().cloned();
        let db = self.evm.db_mut();
        match result {
            Ok(result) => {
                let writes = writes_of(&state, &db.basic_reads, db.codes);
                let logs: Vec<LogEntry> = result.logs().iter().map(LogEntry::from).collect();
                let bloom = self.blooms.bloom(&logs);
                VmStatus::Done {
                    outcome: TxOutcome::Executed {
                        result,
                        state,
                        tip: handler.tip.get(),
                        logs,
                        bloom,
                        native_failure,
                    },
                    reads: std::mem::replace(&mut db.reads, Vec::with_capacity(READS_CAPACITY)),
                    writes,
                }
            }
            Err(EVMError::Transaction(e)) => VmStatus::Done {
                outcome: TxOutcome::Invalid(e),
                reads: std::mem::replace(&mut db.reads, Vec::with_capacity(READS_CAPACITY)),
                writes: Vec::new(),
            },
            Err(EVMError::Database(VmError::Blocked(t))) => VmStatus::Blocked(t),
            Err(EVMError::Database(VmError::BeneficiaryRead)) => {
                VmStatus::Fatal(Fallback::BeneficiaryRead)
            }
            Err(other) => VmStatus::Fatal(Fallback::Error(other.to_string())),
        }
    }
}

/// The locations an incarnation wrote, with the same meaning as `BlockDb::commit` gives its
/// state changes. An account touched but left as it was read is not written.
fn writes_of(
    state: &EvmState,
    basic_reads: &HashMap<Address, (Option<Account>, Origin), DefaultHashBuilder>,
    codes: &CodeMap,
) -> Vec<(Location, Value)> {
    let mut writes = Vec::new();
    for (address, account) in state {
        if !account.is_touched() {
            continue;
        }
        let address = *address;
        let read = basic_reads.get(&address).map(|(value, _)| value);
        if account.is_selfdestructed() {
            writes.push((Location::StorageReset(address), Value::StorageReset));
            if read != Some(&None) {
                writes.push((Location::Basic(address), Value::Basic(None)));
            }
            continue;
        }
        let info = Account {
            nonce: account.info.nonce,
            balance: account.info.balance,
            code_hash: account.info.code_hash,
        };
        if let Some(code) = &account.info.code
            && info.code_hash != KECCAK_EMPTY
            && !codes.contains_key(&info.code_hash)
        {
            codes.insert(info.code_hash, code.clone());
        }
        let created = account.is_created();
        if created {
            writes.push((Location::StorageReset(address), Value::StorageReset));
        }
        let value = if info.is_empty() { None } else { Some(info) };
        if read != Some(&value) {
            writes.push((Location::Basic(address), Value::Basic(value)));
        }
        for (slot, v) in &account.storage {
            if v.is_changed() || created {
                writes.push((
                    Location::Storage(address, *slot),
                    Value::Storage(v.present_value),
                ));
            }
        }
    }
    writes
}
