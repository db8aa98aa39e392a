//! Rampart's state store on RocksDB: accounts, storage, code, blocks, transactions, receipts and
//! the log index, in column families of one database.
//!
//! Invariant: a block lands in exactly one `WriteBatch` together with the head marker (and, in
//! a cluster, the applied Raft index), written with fsync. A crash therefore leaves either all
//! of a block or none of it, and the store resumes at exactly the last block it acknowledged.
//!
//! This is the only crate that depends on `rocksdb`.

mod keys;
mod store;

pub use store::{
    BlockBody, Head, HistoricalState, LogQuery, StateSnapshot, StateStore, StoreOptions, StoredTx,
};

/// A storage or I/O failure. Never a transaction result: the caller stops the block.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("rocksdb: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("corrupt value in column family {cf}: {detail}")]
    Corrupt { cf: &'static str, detail: String },
    #[error(
        "block {got} does not follow head {head} (expected parent {expected_parent}, got {got_parent})"
    )]
    NotNext {
        head: u64,
        got: u64,
        expected_parent: alloy_primitives::B256,
        got_parent: alloy_primitives::B256,
    },
    #[error(
        "store already holds a chain with genesis {existing}, not {requested} (another genesis \
         file, or a data directory made by a build whose state commitment differs: start with \
         another data directory)"
    )]
    GenesisMismatch {
        existing: alloy_primitives::B256,
        requested: alloy_primitives::B256,
    },
    #[error("block is inconsistent: {0}")]
    InconsistentBlock(String),
    #[error("snapshot: {0}")]
    Snapshot(String),
}

impl From<rampart_primitives::codec::CodecError> for StoreError {
    fn from(e: rampart_primitives::codec::CodecError) -> Self {
        StoreError::Corrupt {
            cf: "?",
            detail: e.to_string(),
        }
    }
}

impl From<StoreError> for rampart_primitives::StateError {
    fn from(e: StoreError) -> Self {
        rampart_primitives::StateError(e.to_string())
    }
}
