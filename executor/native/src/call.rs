//! What a native call sees and returns, and the [`StateHost`] through which it reaches the state.
//!
//! These types are the seam between the EVM executor and native contracts: the executor builds a
//! [`CallContext`] from the revm frame, implements [`crate::StateAccess`] over its journal, and turns the
//! [`CallOutcome`] into the frame's result.

use alloy_primitives::{Address, B256, Bytes, U256};

/// The environment of one native call, as the EVM frame that makes it would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// `msg.sender`.
    pub caller: Address,
    /// `address(this)`: the account whose storage the call reads and writes. Under DELEGATECALL
    /// it is the delegating account (a proxy), not `code_address`.
    pub address: Address,
    /// The account whose code is the native marker.
    pub code_address: Address,
    /// `tx.origin`.
    pub origin: Address,
    /// `msg.value`.
    pub value: U256,
    pub calldata: Bytes,
    /// Gas available to the call (after the caller's 63/64 rule).
    pub gas_limit: u64,
    pub block_number: u64,
    /// Seconds, from the block header (never the wall clock).
    pub block_timestamp: u64,
    pub chain_id: u64,
    /// STATICCALL context: storage writes, logs and calls with value are refused.
    pub is_static: bool,
}

/// How a contract calls another (EVM or native) contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Call,
    StaticCall,
    DelegateCall,
}

/// A call from a native contract to another contract, handed to [`StateHost::call_contract`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NestedCall {
    pub kind: CallKind,
    pub target: Address,
    /// Zero for static and delegate calls.
    pub value: U256,
    pub input: Bytes,
    /// Gas offered to the callee, already capped by the runtime (63/64 of what is left).
    pub gas: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NestedCallResult {
    pub success: bool,
    /// Return data, or revert data when `!success`.
    pub output: Bytes,
    /// Gas the callee used (at most [`NestedCall::gas`]).
    pub gas_used: u64,
}

/// The answer to a storage read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRead {
    pub value: B256,
    /// First access to this slot in the transaction (EIP-2929): costs the cold price.
    pub cold: bool,
}

/// What a storage write replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotWrite {
    /// The slot's value just before this write.
    pub previous: B256,
    pub cold: bool,
}

/// A failure of the state behind the host (a storage error): it ends the call, and the block
/// executor should treat it as an error, not as a contract failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state host: {0}")]
pub struct HostError(pub String);

/// The state as [`crate::NativeRuntime::call`] sees it, nested calls included (tests use an
/// in-memory map). The EVM implements the narrower [`crate::StateAccess`] over its journal and
/// runs nested calls as frames.
///
/// Writes and logs take effect immediately (so a nested call, or a re-entrant one, sees them, and
/// logs keep their order relative to nested calls' logs). When a call does not succeed
/// ([`CallStatus::Success`]), the implementer must undo everything the call did through it, as
/// the EVM undoes a failed frame: the runtime never rolls back by itself.
///
/// Gas is charged by the runtime, from what these methods report ([`crate::GasSchedule`]).
pub trait StateHost {
    fn sload(&mut self, address: Address, key: B256) -> Result<SlotRead, HostError>;
    /// The value `sload` would return now, without accessing the slot (no warming, so no gas
    /// depends on it): the runtime preloads slots it expects the contract to read this way.
    /// Whatever the state records for conflict detection may record it as read.
    fn peek(&mut self, address: Address, key: B256) -> Result<B256, HostError>;
    fn sstore(&mut self, address: Address, key: B256, value: B256) -> Result<SlotWrite, HostError>;
    fn log(&mut self, address: Address, topics: &[B256], data: &[u8]) -> Result<(), HostError>;
    /// Runs another contract (EVM or native) on behalf of the call described by `from`.
    fn call_contract(
        &mut self,
        from: &CallContext,
        call: NestedCall,
    ) -> Result<NestedCallResult, HostError>;
}

/// How a native call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallStatus {
    /// RETURN: state changes stand.
    Success,
    /// REVERT: state changes are undone, unused gas is returned, `output` is the revert data.
    Revert,
    /// Anything else (a limit, a crash, out of gas): state changes are undone and all gas is
    /// used, as for an exceptional halt in the EVM.
    Failed(Failure),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    /// Says which limit or what went wrong, with the figures.
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    OutOfGas,
    /// Wall-clock limit per call.
    Timeout,
    MemoryLimit,
    /// Frame size, output per call, return data, log size.
    OutputLimit,
    /// Reads, writes or logs per call.
    StateLimit,
    /// A write, log or value transfer in a static context.
    StaticViolation,
    /// The contract wrote a malformed frame.
    Protocol,
    /// The contract process ended without returning.
    Crashed,
    /// The binary is missing, invalid or could not be started.
    BinaryUnavailable,
    /// The sandbox failed (lost, could not start); not the contract's fault.
    Sandbox,
    /// The [`StateHost`] failed (storage error).
    Host,
}

/// Counters of one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallStats {
    pub state_reads: u32,
    /// Of those, reads answered in the sandbox without a round trip to the node (by the host or
    /// the contract's SDK: preloaded, written or read earlier in the call).
    pub preloaded_reads: u32,
    pub state_writes: u32,
    pub logs: u32,
    pub log_data_bytes: u64,
    pub nested_calls: u32,
    /// Wall time of the call minus the time spent in [`StateHost`] methods (not charged: see
    /// [`crate::GasSchedule`]).
    pub exec_time_us: u64,
    /// Time spent in [`StateHost`] methods (nested calls included), and waiting for a contract
    /// process to start when no warm one was ready: not charged as execution.
    pub host_time_us: u64,
    /// Gas charged for return data (part of `gas_used`).
    pub exec_gas: u64,
    /// Gas charged for nested calls (their `gas_used`, part of `gas_used`).
    pub nested_gas: u64,
}

/// The result of [`crate::NativeRuntime::call`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    pub status: CallStatus,
    /// Return data (success) or revert data (revert); empty on failure.
    pub output: Bytes,
    pub gas_used: u64,
    /// Logs went to [`StateHost::log`] as they were emitted; `stats.logs` counts them.
    pub stats: CallStats,
}

impl CallOutcome {
    pub fn is_success(&self) -> bool {
        self.status == CallStatus::Success
    }

    pub fn failure(&self) -> Option<&Failure> {
        match &self.status {
            CallStatus::Failed(f) => Some(f),
            _ => None,
        }
    }
}
