//! Native contracts, node side: run a contract binary in a sandbox as one call of the chain.
//!
//! A native contract is a static x86-64 Linux executable stored by its keccak256 hash; its
//! account's code is the marker [`native_code`] (`0xEF 0x52 0x4E` + hash, or `0xEF 0x52 0x50` for a
//! contract deployed with persistent processes, [`ProcessMode`]). A call runs the binary
//! in a sandbox ([`sandbox`]: gVisor, or a plain process for development) through the contract
//! host daemon (`rampart-contract-host`, gRPC `proto/contract_host.proto`); the contract reads
//! and writes storage, emits logs and calls other contracts through a [`StateHost`], and pays
//! gas per state access and per byte of data ([`GasSchedule`]; never per unit of time, which is
//! bounded instead). The EVM executor drives a call step by step ([`NativeCall`]), so a nested
//! call is an ordinary EVM frame.
//!
//! ```no_run
//! use rampart_native::*;
//! # fn demo(binary: Vec<u8>, host: &mut dyn StateHost) -> Result<(), NativeError> {
//! let code_hash = alloy_primitives::keccak256(&binary);
//! validate_binary(&binary, Limits::default().binary_bytes)?; // at deploy
//!
//! let runtime = NativeRuntime::new(NativeConfig::new(
//!     BackendKind::Gvisor,
//!     "/usr/local/bin/rampart-contract-host",
//! ))?;
//! let loader = |_hash| Ok::<_, String>(binary.clone());
//! let ctx = CallContext {
//!     caller: Default::default(),
//!     address: Default::default(),
//!     code_address: Default::default(),
//!     origin: Default::default(),
//!     value: Default::default(),
//!     calldata: Default::default(),
//!     gas_limit: 1_000_000,
//!     block_number: 1,
//!     block_timestamp: 1_700_000_000,
//!     chain_id: 1337,
//!     is_static: false,
//! };
//! let outcome = runtime.call(code_hash, &loader, ctx, host);
//! match outcome.status {
//!     CallStatus::Success => println!("returned {} ({} gas)", outcome.output, outcome.gas_used),
//!     CallStatus::Revert => println!("reverted"),
//!     CallStatus::Failed(f) => println!("failed: {f}"),
//! }
//! # Ok(()) }
//! ```

mod call;
mod config;
mod error;
mod gas;
mod marker;
mod pool;
mod preload;
mod runtime;
pub mod sandbox;
#[cfg(feature = "testing")]
pub mod testing;
mod validate;

pub mod pb {
    //! Generated from `proto/contract_host.proto`.
    #![allow(missing_debug_implementations, clippy::all, clippy::pedantic)]
    tonic::include_proto!("rampart.contract_host.v1");
}

pub use call::{
    CallContext, CallKind, CallOutcome, CallStats, CallStatus, Failure, FailureKind, HostError,
    NestedCall, NestedCallResult, SlotRead, SlotWrite, StateHost,
};
pub use config::{BackendKind, Limits, MAX_PRELOAD_SLOTS, NativeConfig, PoolConfig, RunscConfig};
pub use error::NativeError;
pub use gas::GasSchedule;
pub use marker::{
    DEPLOY_FLAG_PERSISTENT, DEPLOY_OPTIONS_PREFIX, DeployOptionsError, NATIVE_BINARY_PREFIX,
    NATIVE_CODE_LEN, NATIVE_CODE_PREFIX, NATIVE_DEPLOYER, NATIVE_PERSISTENT_CODE_PREFIX,
    NativeCode, ProcessMode, binary_holder, native_code, parse_deploy, parse_native_code,
};
pub use runtime::{BinaryLoader, NativeCall, NativeRuntime, RuntimeStats, StateAccess, Step};
pub use validate::{BinaryError, validate_binary};
