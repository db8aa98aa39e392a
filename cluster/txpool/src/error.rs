//! Why a transaction was not accepted.

/// Why [`crate::TxPool::add`] refused a transaction.
///
/// The `Display` strings are returned verbatim to Ethereum JSON-RPC clients, so they follow
/// geth's wording wherever geth has an equivalent error (tooling matches on these strings).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// A transaction with the same hash is already in the pool.
    #[error("already known")]
    AlreadyKnown,
    /// The nonce has already been used by a committed transaction.
    #[error("nonce too low: next nonce {state}, tx nonce {tx}")]
    NonceTooLow { state: u64, tx: u64 },
    /// The nonce is further above the committed nonce than [`crate::PoolConfig::max_nonce_gap`].
    #[error("nonce too high: next nonce {state}, tx nonce {tx}, max gap {max_gap}")]
    NonceTooHigh { state: u64, tx: u64, max_gap: u64 },
    /// Another transaction holds this sender+nonce and the new one does not pay enough more.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The pool holds [`crate::PoolConfig::max_total`] transactions.
    #[error("txpool is full")]
    PoolFull { limit: usize },
    /// The sender holds [`crate::PoolConfig::max_per_sender`] transactions.
    #[error("too many pending transactions from sender (limit {limit})")]
    SenderFull { limit: usize },
}

impl PoolError {
    /// Whether the same transaction may be accepted later without being changed: capacity errors
    /// clear as blocks commit, while the others are properties of the transaction itself.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::PoolFull { .. } | Self::SenderFull { .. })
    }
}
