//! Native contracts inside the EVM: [`RampartEvm`] runs revm's mainnet EVM with one change to its
//! frame loop — a call whose code is a native marker runs the contract in its sandbox
//! ([`rampart_native::NativeCall`]) instead of EVM code, and a transaction to
//! [`NATIVE_DEPLOYER`] deploys a native contract.
//!
//! A native call is a frame like any other. It opens a journal checkpoint and moves the call's
//! value exactly as an EVM call frame does; the contract's storage reads and writes and its logs
//! go through the journal (so Block-STM tracks them like EVM accesses, and a failed frame is
//! undone like an EVM one); a call it makes to another contract becomes a child frame that revm
//! runs, EVM or native; its outcome returns to the parent as a call outcome with its gas. Nothing
//! recurses: the handler's loop drives every frame.
//!
//! Deploy: a transaction to [`NATIVE_DEPLOYER`] whose data is the binary, optionally behind the
//! deploy options header ([`parse_deploy`]: `0xEF 0x52 0x4F` and a flags byte, e.g. persistent
//! processes). The new contract's address is the one `CREATE` would give
//! (`keccak(rlp(sender, nonce))`); its code is the marker ([`native_code`], which records the
//! process mode); the binary is stored once per hash as the code of
//! [`binary_holder`]`(hash)`, prefixed with [`NATIVE_BINARY_PREFIX`] so that no EVM call can run
//! it. The call returns the new address as a 32-byte word; the receipt's `contractAddress` names
//! it.

use std::ops::Range;

use alloy_primitives::{Address, B256, Bytes, Log, LogData, U256, keccak256};
use rampart_native::{
    CallContext, CallKind, CallStatus, Failure, FailureKind, HostError, NATIVE_BINARY_PREFIX,
    NATIVE_DEPLOYER, NativeCall, NativeCode, NativeRuntime, NestedCallResult, SlotRead, SlotWrite,
    StateAccess, Step, binary_holder, native_code, parse_deploy, parse_native_code,
    validate_binary,
};
use revm::{
    Database, Journal, MainContext,
    bytecode::Bytecode,
    context::{
        BlockEnv, CfgEnv, Context, ContextError, JournalTr, TxEnv,
        result::{EVMError, ExecutionResult, InvalidTransaction},
    },
    context_interface::{
        Block, Cfg, Transaction, journaled_state::JournalCheckpoint, transaction::AccessListItemTr,
    },
    handler::{
        EthFrame, EthPrecompiles, EvmTr, FrameInitOrResult, FrameResult, Handler, ItemOrResult,
        MainBuilder, MainnetEvm, MainnetHandler, evm::FrameInitResult,
        instructions::EthInstructions,
    },
    interpreter::{
        CallInput, CallInputs, CallOutcome, CallScheme, CallValue, FrameInput, Gas,
        InstructionResult, InterpreterResult, SharedMemory, interpreter::EthInterpreter,
        interpreter_action::FrameInit,
    },
    primitives::{KECCAK_EMPTY, hardfork::SpecId},
    state::EvmState,
};

/// The context every Rampart EVM runs on.
pub type RampartContext<DB> = Context<BlockEnv, TxEnv, CfgEnv, DB, Journal<DB>, ()>;

/// Why a native call or deploy fails on a node without a runtime.
const DISABLED: &str = "native contracts are disabled on this node";

/// revm's depth limit (1024 frames).
const CALL_STACK_LIMIT: usize = revm::primitives::CALL_STACK_LIMIT as usize;

type Inner<DB> = MainnetEvm<RampartContext<DB>>;
type DbErr<DB> = ContextError<<DB as Database>::Error>;

/// A native call of the current transaction that failed (not a revert): its contract and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeFailure {
    pub address: Address,
    pub failure: Failure,
}

impl std::fmt::Display for NativeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "native contract {} failed: {}",
            self.address, self.failure
        )
    }
}

/// One native call on the frame stack.
struct NativeFrame<'r> {
    call: NativeCall<'r>,
    checkpoint: JournalCheckpoint,
    /// The memory handed to this frame; nested calls get child contexts of it.
    memory: SharedMemory,
    return_memory_offset: Range<usize>,
    depth: usize,
    gas_limit: u64,
    charged_new_account_state_gas: bool,
    finished: bool,
}

enum Slot<'r> {
    /// The top of revm's own frame stack.
    Eth,
    Native(Box<NativeFrame<'r>>),
}

/// revm's mainnet EVM plus native contracts. Without a runtime (`None`) it is exactly the
/// mainnet EVM, except that a call to a native contract fails ("native contracts are disabled").
pub struct RampartEvm<'r, DB: Database> {
    inner: Inner<DB>,
    native: Option<&'r NativeRuntime>,
    /// Every live frame, bottom first: EVM frames live in `inner`'s stack, native ones here.
    stack: Vec<Slot<'r>>,
    /// Returned where revm's API wants a frame reference for a native frame (never run).
    placeholder: EthFrame<EthInterpreter>,
    /// The last native failure of the current transaction.
    failure: Option<NativeFailure>,
}

impl<DB: Database> std::fmt::Debug for RampartEvm<'_, DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RampartEvm")
            .field("native", &self.native.map(|n| n.backend_name()))
            .field("depth", &self.stack.len())
            .finish_non_exhaustive()
    }
}

impl<'r, DB: Database> RampartEvm<'r, DB> {
    pub fn new(db: DB, block: BlockEnv, cfg: CfgEnv, native: Option<&'r NativeRuntime>) -> Self {
        let inner = Context::mainnet()
            .with_db(db)
            .with_block(block)
            .with_cfg(cfg)
            .build_mainnet();
        Self {
            inner,
            native,
            stack: Vec::new(),
            placeholder: EthFrame::invalid(),
            failure: None,
        }
    }

    pub fn db_mut(&mut self) -> &mut DB {
        &mut self.inner.ctx.journaled_state.database
    }

    pub fn into_db(self) -> DB {
        self.inner.ctx.journaled_state.database
    }

    pub fn ctx_mut(&mut self) -> &mut RampartContext<DB> {
        &mut self.inner.ctx
    }

    /// The last native failure of the transaction run last, if any.
    pub fn native_failure(&self) -> Option<&NativeFailure> {
        self.failure.as_ref()
    }

    /// Runs `tx` with `handler` and leaves its state in the journal (call
    /// [`JournalTr::finalize`] next, as revm's `transact_one` expects).
    pub fn run_with<H>(&mut self, tx: TxEnv, handler: &mut H) -> Result<H::Output, H::Error>
    where
        H: RunTx<Self>,
    {
        use revm::context::ContextSetters;
        self.inner.ctx.set_tx(tx);
        self.stack.clear();
        self.failure = None;
        let r = handler.run_tx(self);
        // On an error revm leaves frames behind; drop them (a native one aborts its call).
        self.stack.clear();
        r
    }

    /// Runs `tx` and returns its result and state changes without committing them.
    pub fn transact(
        &mut self,
        tx: TxEnv,
    ) -> Result<(ExecutionResult, EvmState), EVMError<DB::Error, InvalidTransaction>> {
        let r = self.run_with(tx, &mut MainnetHandler::default());
        let state = self.inner.ctx.journaled_state.finalize();
        r.map(|r| (r, state))
    }

    /// Runs `tx` and commits its state changes to the database.
    pub fn transact_commit(
        &mut self,
        tx: TxEnv,
    ) -> Result<ExecutionResult, EVMError<DB::Error, InvalidTransaction>>
    where
        DB: revm::DatabaseCommit,
    {
        let (result, state) = self.transact(tx)?;
        self.db_mut().commit(state);
        Ok(result)
    }
}

/// A handler that runs one transaction on a [`RampartEvm`]: revm's mainnet handler, or one of
/// the executor's own (Block-STM's lazy fees).
pub trait RunTx<E> {
    type Output;
    type Error;
    fn run_tx(&mut self, evm: &mut E) -> Result<Self::Output, Self::Error>;
}

impl<E, H> RunTx<E> for H
where
    H: Handler<Evm = E>,
{
    type Output = ExecutionResult<H::HaltReason>;
    type Error = H::Error;
    fn run_tx(&mut self, evm: &mut E) -> Result<Self::Output, Self::Error> {
        self.run(evm)
    }
}

/// A frame's end without running anything (depth limit, value transfer, a refused deploy).
fn call_result(
    result: InstructionResult,
    gas: Gas,
    output: Bytes,
    inputs: &CallInputs,
) -> FrameResult {
    let mut outcome = CallOutcome::new(
        InterpreterResult {
            result,
            gas,
            output,
        },
        inputs.return_memory_offset.clone(),
    );
    outcome.charged_new_account_state_gas = inputs.charged_new_account_state_gas;
    FrameResult::Call(outcome)
}

/// The halt a native failure becomes in the EVM (its text is kept in [`NativeFailure`]).
fn halt_of(kind: FailureKind) -> InstructionResult {
    if kind == FailureKind::OutOfGas {
        InstructionResult::OutOfGas
    } else {
        InstructionResult::PrecompileError
    }
}

/// The native contract's state, through the journal.
struct JournalAccess<'a, DB: Database> {
    ctx: &'a mut RampartContext<DB>,
    /// A database error, kept to be returned from the frame loop as revm returns its own.
    error: Option<DB::Error>,
}

impl<DB: Database> JournalAccess<'_, DB> {
    fn db_error(&mut self, e: DB::Error) -> HostError {
        let message = e.to_string();
        self.error = Some(e);
        HostError(message)
    }
}

impl<DB: Database> StateAccess for JournalAccess<'_, DB> {
    fn load_binary(&mut self, code_hash: B256) -> Result<Vec<u8>, String> {
        // Through the database, not the journal: loading the binary is not an account access of
        // the transaction (it happens only when no warm sandbox holds it).
        let db = self.ctx.journaled_state.db_mut();
        let holder = binary_holder(code_hash);
        let info = db
            .basic(holder)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no binary stored for {code_hash}"))?;
        let code = match info.code {
            Some(code) if !code.is_empty() => code,
            _ => db.code_by_hash(info.code_hash).map_err(|e| e.to_string())?,
        };
        code.original_byte_slice()
            .strip_prefix(NATIVE_BINARY_PREFIX.as_slice())
            .map(<[u8]>::to_vec)
            .ok_or_else(|| format!("the binary holder of {code_hash} holds no binary"))
    }

    fn sload(&mut self, address: Address, key: B256) -> Result<SlotRead, HostError> {
        match self.ctx.journaled_state.sload(address, key.into()) {
            Ok(load) => Ok(SlotRead {
                value: load.data.into(),
                cold: load.is_cold,
            }),
            Err(e) => Err(self.db_error(e)),
        }
    }

    /// Loads the slot through the journal (a later `sload` finds it there, and the database's
    /// read set records it) and then gives back its coldness: a preload is not an access, so
    /// EIP-2929 pricing of the contract's own read is unchanged. An account created in this
    /// transaction is answered without loading anything: all of its loaded slots go into the
    /// write set, and a preload must not add one.
    fn peek(&mut self, address: Address, key: B256) -> Result<B256, HostError> {
        let journal = &mut self.ctx.journaled_state;
        if let Some(account) = journal.state.get(&address)
            && account.is_created()
        {
            let slot = account.storage.get(&key.into());
            return Ok(slot.map(|s| s.present_value).unwrap_or_default().into());
        }
        match journal.sload(address, key.into()) {
            Ok(load) => {
                if load.is_cold
                    && let Some(slot) = journal
                        .state
                        .get_mut(&address)
                        .and_then(|a| a.storage.get_mut(&key.into()))
                {
                    slot.mark_cold();
                }
                Ok(load.data.into())
            }
            Err(e) => Err(self.db_error(e)),
        }
    }

    fn sstore(&mut self, address: Address, key: B256, value: B256) -> Result<SlotWrite, HostError> {
        match self
            .ctx
            .journaled_state
            .sstore(address, key.into(), value.into())
        {
            Ok(load) => Ok(SlotWrite {
                previous: load.data.present_value.into(),
                cold: load.is_cold,
            }),
            Err(e) => Err(self.db_error(e)),
        }
    }

    fn log(&mut self, address: Address, topics: &[B256], data: &[u8]) -> Result<(), HostError> {
        self.ctx.journaled_state.log(Log {
            address,
            data: LogData::new_unchecked(topics.to_vec(), Bytes::copy_from_slice(data)),
        });
        Ok(())
    }
}

impl<'r, DB: Database> RampartEvm<'r, DB> {
    /// Ends a frame that never ran as a failure of the native contract at `address`: recorded
    /// for the receipt, all gas used.
    fn fail_frame(
        &mut self,
        address: Address,
        kind: FailureKind,
        message: String,
        inputs: &CallInputs,
    ) -> FrameResult {
        self.failure = Some(NativeFailure {
            address,
            failure: Failure { kind, message },
        });
        let mut gas = Gas::new(inputs.gas_limit);
        gas.spend_all();
        call_result(halt_of(kind), gas, Bytes::new(), inputs)
    }

    /// Starts a native call frame (or ends it at once: depth, value, no runtime).
    fn init_native(
        &mut self,
        code: NativeCode,
        inputs: Box<CallInputs>,
        depth: usize,
        memory: SharedMemory,
    ) -> Result<FrameInitResult<'_, EthFrame<EthInterpreter>>, DbErr<DB>> {
        let gas = Gas::new(inputs.gas_limit);
        if depth > CALL_STACK_LIMIT {
            let r = call_result(InstructionResult::CallTooDeep, gas, Bytes::new(), &inputs);
            return Ok(ItemOrResult::Result(r));
        }
        let Some(runtime) = self.native else {
            let r = self.fail_frame(
                inputs.bytecode_address,
                FailureKind::BinaryUnavailable,
                DISABLED.into(),
                &inputs,
            );
            return Ok(ItemOrResult::Result(r));
        };
        let ctx = &mut self.inner.ctx;
        let checkpoint = ctx.journaled_state.checkpoint();
        if let CallValue::Transfer(value) = inputs.value
            && let Some(e) =
                ctx.journaled_state
                    .transfer_loaded(inputs.caller, inputs.target_address, value)
        {
            ctx.journaled_state.checkpoint_revert(checkpoint);
            let r = call_result(e.into(), gas, Bytes::new(), &inputs);
            return Ok(ItemOrResult::Result(r));
        }
        let calldata = Bytes::copy_from_slice(&inputs.input.as_bytes(ctx));
        let call_ctx = CallContext {
            caller: inputs.caller,
            address: inputs.target_address,
            code_address: inputs.bytecode_address,
            origin: ctx.tx.caller(),
            value: inputs.value.get(),
            calldata,
            gas_limit: inputs.gas_limit,
            block_number: ctx.block.number().saturating_to(),
            block_timestamp: ctx.block.timestamp().saturating_to(),
            chain_id: ctx.cfg.chain_id(),
            is_static: inputs.is_static,
        };
        let mut call = runtime.start(code, call_ctx);
        // Slots the transaction's access list names for this storage account: preloaded (the
        // list is the sender's statement of what the transaction touches; EIP-2930 already
        // warmed them for gas).
        if let Some(list) = ctx.tx.access_list() {
            for item in list.filter(|i| *i.address() == inputs.target_address) {
                call.preload_listed(item.storage_slots().copied());
            }
        }
        self.stack.push(Slot::Native(Box::new(NativeFrame {
            call,
            checkpoint,
            memory,
            return_memory_offset: inputs.return_memory_offset.clone(),
            depth,
            gas_limit: inputs.gas_limit,
            charged_new_account_state_gas: inputs.charged_new_account_state_gas,
            finished: false,
        })));
        Ok(ItemOrResult::Item(&mut self.placeholder))
    }

    /// A transaction to [`NATIVE_DEPLOYER`]: validate, store the binary, create the account.
    fn deploy(&mut self, inputs: &CallInputs, depth: usize) -> Result<FrameResult, DbErr<DB>> {
        let mut gas = Gas::new(inputs.gas_limit);
        let refuse = |this: &mut Self, kind: FailureKind, message: String| {
            Ok(this.fail_frame(NATIVE_DEPLOYER, kind, message, inputs))
        };
        let Some(runtime) = self.native else {
            return refuse(self, FailureKind::BinaryUnavailable, DISABLED.into());
        };
        if depth != 0 || inputs.scheme != CallScheme::Call {
            let m = "a native contract is deployed by a transaction to the deployer, not by a call"
                .to_owned();
            return refuse(self, FailureKind::BinaryUnavailable, m);
        }
        if !inputs.value.get().is_zero() {
            let m = "a native deploy carries no value".to_owned();
            return refuse(self, FailureKind::BinaryUnavailable, m);
        }
        let ctx = &mut self.inner.ctx;
        let data = Bytes::copy_from_slice(&inputs.input.as_bytes(ctx));
        let (mode, binary) = match parse_deploy(&data) {
            Ok((mode, binary)) => (mode, data.slice_ref(binary)),
            Err(e) => return refuse(self, FailureKind::BinaryUnavailable, e.to_string()),
        };
        let cfg = runtime.config();
        if let Err(e) = validate_binary(&binary, cfg.limits.binary_bytes) {
            return refuse(self, FailureKind::BinaryUnavailable, e.to_string());
        }
        let cost = cfg.gas.deploy(binary.len());
        if !gas.record_regular_cost(cost) {
            let m = format!("deploy needs {cost} gas, has {}", inputs.gas_limit);
            return refuse(self, FailureKind::OutOfGas, m);
        }
        let sender = ctx.tx.caller();
        let code_hash = keccak256(&binary);
        let spec: SpecId = ctx.cfg.spec;
        let journal = &mut ctx.journaled_state;
        // The nonce the transaction used: the sender's was bumped before execution. (Not the
        // transaction's field: `eth_call` and `eth_estimateGas` leave it unset.)
        let nonce = journal.load_account(sender)?.info.nonce.saturating_sub(1);
        let address = sender.create(nonce);

        let checkpoint = journal.checkpoint();
        journal.load_account(address)?;
        if journal
            .create_account_checkpoint(sender, address, U256::ZERO, spec)
            .is_err()
        {
            journal.checkpoint_revert(checkpoint);
            let m = format!("address {address} is already taken");
            return refuse(self, FailureKind::BinaryUnavailable, m);
        }
        journal.set_code(address, Bytecode::new_raw(native_code(code_hash, mode)));
        journal.checkpoint_commit();

        let holder = binary_holder(code_hash);
        // The binary is stored once per hash: a second deploy of it finds the holder in place.
        if journal.load_account_with_code(holder)?.info.code_hash == KECCAK_EMPTY
            && journal
                .create_account_checkpoint(sender, holder, U256::ZERO, spec)
                .is_ok()
        {
            let mut stored = Vec::with_capacity(NATIVE_BINARY_PREFIX.len() + binary.len());
            stored.extend_from_slice(&NATIVE_BINARY_PREFIX);
            stored.extend_from_slice(&binary);
            journal.set_code(holder, Bytecode::new_raw(stored.into()));
            journal.checkpoint_commit();
        }
        journal.checkpoint_commit();
        tracing::debug!(target: "rampart::native", %address, %code_hash, bytes = binary.len(),
            ?mode, "native contract deployed");
        Ok(call_result(
            InstructionResult::Return,
            gas,
            address.into_word().0.to_vec().into(),
            inputs,
        ))
    }

    /// Advances the native frame on top until it calls another contract or ends.
    fn run_native(&mut self) -> Result<FrameInitOrResult<EthFrame<EthInterpreter>>, DbErr<DB>> {
        let Some(Slot::Native(frame)) = self.stack.last_mut() else {
            return Err(ContextError::Custom("no native frame on top".into()));
        };
        let ctx = &mut self.inner.ctx;
        let mut access = JournalAccess { ctx, error: None };
        let step = frame.call.advance(&mut access);
        if let Some(e) = access.error {
            return Err(ContextError::Db(e));
        }
        match step {
            Step::Call(nested) => {
                let call_ctx = frame.call.context().clone();
                let target = nested.target;
                let account = ctx.journaled_state.load_account_with_code(target)?;
                let mut known = (
                    account.info.code_hash,
                    account.info.code.clone().unwrap_or_default(),
                );
                if let Some(delegate) = known.1.eip7702_address() {
                    let d = ctx.journaled_state.load_account_with_code(delegate)?;
                    known = (d.info.code_hash, d.info.code.clone().unwrap_or_default());
                }
                let (target_address, caller, value, scheme, is_static) = match nested.kind {
                    CallKind::Call => (
                        target,
                        call_ctx.address,
                        CallValue::Transfer(nested.value),
                        CallScheme::Call,
                        call_ctx.is_static,
                    ),
                    CallKind::StaticCall => (
                        target,
                        call_ctx.address,
                        CallValue::Transfer(U256::ZERO),
                        CallScheme::StaticCall,
                        true,
                    ),
                    CallKind::DelegateCall => (
                        call_ctx.address,
                        call_ctx.caller,
                        CallValue::Apparent(call_ctx.value),
                        CallScheme::DelegateCall,
                        call_ctx.is_static,
                    ),
                };
                Ok(ItemOrResult::Item(FrameInit {
                    depth: frame.depth + 1,
                    memory: frame.memory.new_child_context(),
                    frame_input: FrameInput::Call(Box::new(CallInputs {
                        input: CallInput::Bytes(nested.input),
                        return_memory_offset: 0..0,
                        gas_limit: nested.gas,
                        reservoir: 0,
                        bytecode_address: target,
                        known_bytecode: known,
                        target_address,
                        caller,
                        value,
                        scheme,
                        is_static,
                        charged_new_account_state_gas: false,
                    })),
                }))
            }
            Step::Done(outcome) => {
                frame.finished = true;
                let mut gas = Gas::new(frame.gas_limit);
                let result = match &outcome.status {
                    CallStatus::Success => InstructionResult::Return,
                    CallStatus::Revert => InstructionResult::Revert,
                    CallStatus::Failed(f) => {
                        self.failure = Some(NativeFailure {
                            address: frame.call.context().code_address,
                            failure: f.clone(),
                        });
                        halt_of(f.kind)
                    }
                };
                if result.is_ok() {
                    ctx.journaled_state.checkpoint_commit();
                } else {
                    ctx.journaled_state.checkpoint_revert(frame.checkpoint);
                }
                if result.is_ok_or_revert() {
                    // The runtime never charges past the limit.
                    let _ = gas.record_regular_cost(outcome.gas_used.min(frame.gas_limit));
                } else {
                    gas.spend_all();
                }
                let mut call = CallOutcome::new(
                    InterpreterResult {
                        result,
                        gas,
                        output: outcome.output,
                    },
                    frame.return_memory_offset.clone(),
                );
                call.charged_new_account_state_gas = frame.charged_new_account_state_gas;
                Ok(ItemOrResult::Result(FrameResult::Call(call)))
            }
        }
    }
}

impl<'r, DB: Database> EvmTr for RampartEvm<'r, DB> {
    type Context = RampartContext<DB>;
    type Instructions = EthInstructions<EthInterpreter, RampartContext<DB>>;
    type Precompiles = EthPrecompiles;
    type Frame = EthFrame<EthInterpreter>;

    fn all(
        &self,
    ) -> (
        &Self::Context,
        &Self::Instructions,
        &Self::Precompiles,
        &revm::context_interface::local::FrameStack<Self::Frame>,
    ) {
        self.inner.all()
    }

    fn all_mut(
        &mut self,
    ) -> (
        &mut Self::Context,
        &mut Self::Instructions,
        &mut Self::Precompiles,
        &mut revm::context_interface::local::FrameStack<Self::Frame>,
    ) {
        self.inner.all_mut()
    }

    fn frame_init(
        &mut self,
        frame_input: FrameInit,
    ) -> Result<FrameInitResult<'_, Self::Frame>, DbErr<DB>> {
        if let FrameInput::Call(inputs) = &frame_input.frame_input {
            if inputs.bytecode_address == NATIVE_DEPLOYER {
                let r = self.deploy(inputs, frame_input.depth)?;
                return Ok(ItemOrResult::Result(r));
            }
            if let Some(code) = parse_native_code(inputs.known_bytecode.1.original_byte_slice()) {
                let FrameInit {
                    depth,
                    memory,
                    frame_input: FrameInput::Call(inputs),
                } = frame_input
                else {
                    unreachable!("matched above")
                };
                return self.init_native(code, inputs, depth, memory);
            }
        }
        let r = self.inner.frame_init(frame_input)?;
        if r.is_item() {
            self.stack.push(Slot::Eth);
        }
        Ok(r)
    }

    fn frame_run(&mut self) -> Result<FrameInitOrResult<Self::Frame>, DbErr<DB>> {
        match self.stack.last() {
            Some(Slot::Native(_)) => self.run_native(),
            _ => self.inner.frame_run(),
        }
    }

    fn frame_return_result(
        &mut self,
        result: FrameResult,
    ) -> Result<Option<FrameResult>, DbErr<DB>> {
        // Pop the frame that produced `result` (unless it ended in `frame_init`, pushing nothing).
        let finished = match self.stack.last() {
            Some(Slot::Native(f)) => f.finished,
            Some(Slot::Eth) => self.inner.frame_stack.get().is_finished(),
            None => false,
        };
        if finished && let Some(Slot::Eth) = self.stack.pop() {
            self.inner.frame_stack.pop();
        }
        match self.stack.last_mut() {
            None => Ok(Some(result)),
            Some(Slot::Eth) => {
                self.inner
                    .frame_stack
                    .get()
                    .return_result::<_, DbErr<DB>>(&mut self.inner.ctx, result)?;
                Ok(None)
            }
            Some(Slot::Native(frame)) => {
                frame.memory.free_child_context();
                let FrameResult::Call(outcome) = result else {
                    return Err(ContextError::Custom(
                        "a native contract got the result of a create".into(),
                    ));
                };
                let r = outcome.result.result;
                frame.call.resume(NestedCallResult {
                    success: r.is_ok(),
                    output: if r.is_ok_or_revert() {
                        outcome.result.output
                    } else {
                        Bytes::new()
                    },
                    gas_used: if r.is_ok_or_revert() {
                        outcome.result.gas.total_gas_spent()
                    } else {
                        outcome.result.gas.limit()
                    },
                });
                Ok(None)
            }
        }
    }
}
