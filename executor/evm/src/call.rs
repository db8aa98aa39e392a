//! Read-only execution: `eth_call` and `eth_estimateGas`. Nothing here is ever committed.

use std::collections::BTreeMap;

use alloy_eips::eip2930::AccessList;
use alloy_primitives::{Address, Bytes, U256};
use rampart_native::NativeRuntime;
use rampart_primitives::{LogEntry, StateReader};
use revm::context::{
    TxEnv,
    result::{EVMError, ExecutionResult, HaltReason, OutOfGasError},
};

use crate::{
    ChainConfig,
    block::{halt_reason, invalid_tx_reason},
    db::BlockDb,
    env::{BlockParams, block_env, call_kind, cfg_env},
    native::RampartEvm,
};

/// A call as `eth_call` describes it.
#[derive(Clone, Debug, Default)]
pub struct CallRequest {
    pub from: Option<Address>,
    pub to: Option<Address>,
    pub gas: Option<u64>,
    pub gas_price: Option<u128>,
    pub max_fee_per_gas: Option<u128>,
    pub max_priority_fee_per_gas: Option<u128>,
    pub value: Option<U256>,
    pub data: Bytes,
    pub access_list: Option<AccessList>,
}

/// One account's override for a simulated call.
#[derive(Clone, Debug, Default)]
pub struct AccountOverride {
    pub balance: Option<U256>,
    pub nonce: Option<u64>,
    pub code: Option<Bytes>,
    /// Replaces all storage.
    pub state: Option<BTreeMap<U256, U256>>,
    /// Changes some slots.
    pub state_diff: Option<BTreeMap<U256, U256>>,
}

pub type StateOverride = BTreeMap<Address, AccountOverride>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallStatus {
    Success,
    Revert,
    Halt(String),
}

#[derive(Clone, Debug)]
pub struct CallOutcome {
    pub status: CallStatus,
    pub gas_used: u64,
    /// Return data, or revert data.
    pub output: Bytes,
    pub logs: Vec<LogEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call is not valid as a transaction (funds, gas, fees).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    State(#[from] rampart_primitives::StateError),
    /// Estimation: the call cannot succeed within the allowance.
    #[error("gas required exceeds allowance ({0})")]
    GasExceedsAllowance(u64),
    /// Estimation: the call reverts at any gas.
    #[error("execution reverted")]
    Reverted(CallOutcome),
    #[error("execution failed: {0}")]
    Failed(String),
    #[error("internal error: {0}")]
    Internal(String),
}

fn tx_for(req: &CallRequest, gas: u64, nonce: u64) -> TxEnv {
    let priced = req.gas_price.is_some() || req.max_fee_per_gas.is_some();
    TxEnv {
        tx_type: if req.max_fee_per_gas.is_some() {
            2
        } else if req.access_list.is_some() {
            1
        } else {
            0
        },
        caller: req.from.unwrap_or_default(),
        gas_limit: gas,
        gas_price: if priced {
            req.max_fee_per_gas.or(req.gas_price).unwrap_or(0)
        } else {
            0
        },
        kind: call_kind(req.to),
        value: req.value.unwrap_or_default(),
        data: req.data.clone(),
        nonce,
        chain_id: None,
        access_list: req.access_list.clone().unwrap_or_default(),
        gas_priority_fee: req
            .max_fee_per_gas
            .map(|_| req.max_priority_fee_per_gas.unwrap_or(0)),
        blob_hashes: Vec::new(),
        max_fee_per_blob_gas: 0,
        authorization_list: Vec::new(),
    }
}

fn run<R: StateReader>(
    db: BlockDb<R>,
    chain: &ChainConfig,
    params: &BlockParams,
    req: &CallRequest,
    gas: u64,
    native: Option<&NativeRuntime>,
) -> Result<(CallOutcome, BlockDb<R>), CallError> {
    let mut params = params.clone();
    // Like geth: a call that names no price runs with a zero base fee, so it needs no funds for gas.
    if req.gas_price.is_none() && req.max_fee_per_gas.is_none() {
        params.base_fee = 0;
    }
    params.gas_limit = params.gas_limit.max(gas);
    let spec = chain.fork_at(params.timestamp).spec_id();
    let mut cfg = cfg_env(chain, params.timestamp);
    cfg.disable_nonce_check = true;
    cfg.tx_gas_limit_cap = Some(u64::MAX);
    cfg.tx_chain_id_check = false;
    let mut evm = RampartEvm::new(db, block_env(&params, spec), cfg, native);
    let outcome = evm.transact(tx_for(req, gas, 0));
    let native_failure = evm.native_failure().map(ToString::to_string);
    let db = evm.into_db();
    let result = match outcome {
        Ok((r, _)) => r,
        Err(EVMError::Transaction(e)) => return Err(CallError::Invalid(invalid_tx_reason(&e))),
        Err(EVMError::Database(e)) => return Err(CallError::State(e.0)),
        Err(other) => return Err(CallError::Internal(other.to_string())),
    };
    let gas_used = result.tx_gas_used();
    let logs = result.logs().iter().map(LogEntry::from).collect();
    let (status, output) = match result {
        ExecutionResult::Success { output, .. } => (CallStatus::Success, output.into_data()),
        ExecutionResult::Revert { output, .. } => (CallStatus::Revert, output),
        ExecutionResult::Halt { reason, .. } => (
            CallStatus::Halt(native_failure.unwrap_or_else(|| halt_code(&reason))),
            Bytes::new(),
        ),
    };
    Ok((
        CallOutcome {
            status,
            gas_used,
            output,
            logs,
        },
        db,
    ))
}

fn halt_code(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(OutOfGasError::Basic) => "out of gas".into(),
        other => halt_reason(other),
    }
}

fn prepared<R: StateReader>(state: R, overrides: &StateOverride) -> Result<BlockDb<R>, CallError> {
    let mut db = BlockDb::new(state);
    for (address, o) in overrides {
        db.override_account(
            *address,
            o.balance,
            o.nonce,
            o.code.clone(),
            o.state.clone(),
            o.state_diff.clone(),
        )?;
    }
    Ok(db)
}

/// Runs a call against `state` without committing anything. `gas_cap` bounds the gas.
pub fn simulate_call<R: StateReader>(
    state: R,
    chain: &ChainConfig,
    params: &BlockParams,
    req: &CallRequest,
    overrides: &StateOverride,
    gas_cap: u64,
    native: Option<&NativeRuntime>,
) -> Result<CallOutcome, CallError> {
    let gas = req.gas.unwrap_or(gas_cap).min(gas_cap);
    let db = prepared(state, overrides)?;
    Ok(run(db, chain, params, req, gas, native)?.0)
}

/// The smallest gas limit at which the call succeeds, found by binary search like geth's
/// (stopping once the bracket is within 1.5%). A call that reverts at the upper bound is
/// reported as reverted, with its data.
pub fn estimate_gas<R: StateReader + Clone>(
    state: R,
    chain: &ChainConfig,
    params: &BlockParams,
    req: &CallRequest,
    overrides: &StateOverride,
    gas_cap: u64,
    native: Option<&NativeRuntime>,
) -> Result<u64, CallError> {
    let mut hi = req.gas.unwrap_or(params.gas_limit).min(gas_cap);
    let attempt = |gas: u64| -> Result<CallOutcome, CallError> {
        let db = prepared(state.clone(), overrides)?;
        Ok(run(db, chain, params, req, gas, native)?.0)
    };
    let first = attempt(hi)?;
    match &first.status {
        CallStatus::Success => {}
        CallStatus::Revert => return Err(CallError::Reverted(first)),
        CallStatus::Halt(reason) if reason.starts_with("out of gas") => {
            return Err(CallError::GasExceedsAllowance(hi));
        }
        CallStatus::Halt(reason) => return Err(CallError::Failed(reason.clone())),
    }
    // gas_used is a lower bound: below it the call cannot succeed. Without refunds it is
    // also usually enough, which makes simple estimates exact (21000 for a transfer).
    match attempt(first.gas_used) {
        Ok(o) if o.status == CallStatus::Success => return Ok(first.gas_used),
        Ok(_) | Err(CallError::Invalid(_)) => {}
        Err(e) => return Err(e),
    }
    let mut lo = first.gas_used;
    // Most calls succeed at gas_used * 64/63 (the EIP-150 reserve); try that first.
    let optimistic = (first.gas_used + first.gas_used / 63 + 2300).min(hi);
    if optimistic < hi {
        match attempt(optimistic) {
            Ok(o) if o.status == CallStatus::Success => hi = optimistic,
            Ok(_) => lo = optimistic,
            Err(CallError::Invalid(_)) => lo = optimistic,
            Err(e) => return Err(e),
        }
    }
    while lo + 1 < hi {
        if (hi - lo) * 1000 / hi < 15 {
            break;
        }
        let mid = lo + (hi - lo) / 2;
        match attempt(mid) {
            Ok(o) if o.status == CallStatus::Success => hi = mid,
            Ok(_) => lo = mid,
            // Below the intrinsic gas: too low.
            Err(CallError::Invalid(_)) => lo = mid,
            Err(e) => return Err(e),
        }
    }
    Ok(hi)
}
