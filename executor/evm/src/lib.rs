//! Rampart's EVM executor on revm.
//!
//! Execution is written as named phases: [`env`] turns a block's parameters and transactions
//! into revm environments, [`db`] gives revm a view of committed state plus the block's own
//! pending changes, [`block`] runs the transactions in order and produces receipts plus one
//! [`WriteSet`](rampart_primitives::WriteSet), and [`call`] runs read-only calls (`eth_call`,
//! `eth_estimateGas`). [`parallel`] runs a block with Block-STM on several threads, with the
//! same outcome as [`block`]. Nothing here touches storage or consensus: the executor reads through
//! [`StateReader`](rampart_primitives::StateReader) and returns data.
//!
//! This is the only crate that depends on `revm`.

pub mod block;
pub mod call;
pub mod chain;
pub mod db;
pub mod env;
pub mod native;
pub mod parallel;

pub use block::{BlockInput, BlockOutcome, RejectedTx, execute_block};
pub use call::{CallError, CallOutcome, CallRequest, StateOverride, estimate_gas, simulate_call};
pub use chain::{ChainConfig, Fork};
pub use env::{BlockParams, intrinsic_gas};
pub use parallel::{
    Fallback, PARALLEL_MIN_TXS, ParallelConfig, ParallelStats, Tuning, execute_block_parallel,
    execute_block_parallel_tuned, execute_block_parallel_with,
};

use rampart_primitives::StateError;

/// Failures that stop a block. A reverted or failed transaction is not one of these: it is a
/// receipt with `success == false`.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("executor invariant broken: {0}")]
    Bug(String),
}
