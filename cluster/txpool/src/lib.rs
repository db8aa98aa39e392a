//! Rampart's mempool.
//!
//! The pool holds signed, sender-recovered transactions waiting to be proposed. It deliberately
//! does **not** read chain state: the caller (RPC ingress, the block proposer, the commit path)
//! already knows each sender's committed nonce, and keeping state access out of the pool keeps it
//! cheap to lock, free of I/O and trivially testable. The caller therefore passes the committed
//! nonce on insertion and to [`TxPool::select`], and calls [`TxPool::on_committed`] when a block
//! commits.
//!
//! Ordering is first-come-first-served, not fee-priority: a consortium chain has no fee market to
//! protect, and arrival order is what users of a permissioned network expect. Every inserted
//! transaction gets a strictly increasing arrival sequence number, and [`TxPool::select`] merges
//! the senders' ready nonce chains by that number, so the same pool contents and nonces always
//! produce the same block body.

mod config;
mod error;
mod pool;

#[cfg(test)]
mod tests;

pub use config::PoolConfig;
pub use error::PoolError;
pub use pool::{AddOutcome, PoolStatus, TxPool};
