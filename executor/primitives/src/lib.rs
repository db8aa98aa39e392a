//! Data shared by every part of Rampart: accounts, write sets, receipts, block headers,
//! the state-reader trait, the codec and the state commitment.
//!
//! This crate is deliberately light (no RocksDB, no revm, no Raft): the executor, the state
//! store, the consensus layer and the RPC all depend on it, and it must never pull a heavy
//! dependency into them.

pub mod account;
pub mod block;
pub mod codec;
pub mod commitment;
pub mod receipt;
pub mod state;
pub mod tx;
pub mod write_set;

pub use account::Account;
pub use block::{BlockHeader, ExecutedBlock};
pub use receipt::{BloomMemo, IndexedLog, LogEntry, LogFilter, StoredReceipt, TxLocation};
pub use state::{MemoryState, StateError, StateReader};
pub use tx::{RecoveredTx, TxDecodeError};
pub use write_set::{AccountWrite, WriteSet};

pub use alloy_primitives::{Address, B256, Bytes, U256, keccak256};

/// Keccak-256 of the empty byte string: the code hash of an account without code.
pub const KECCAK_EMPTY: B256 =
    alloy_primitives::b256!("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
