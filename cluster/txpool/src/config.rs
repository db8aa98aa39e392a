//! Pool limits.

/// Limits of a [`crate::TxPool`]. The defaults are sized for a consortium network: generous per
/// sender (batch jobs submit thousands of transactions at once), bounded overall so an RPC flood
/// cannot exhaust memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most transactions held in total, ready or not.
    pub max_total: usize,
    /// Most transactions held for one sender, so one client cannot fill the whole pool.
    pub max_per_sender: usize,
    /// A transaction whose nonce is more than this far above the sender's committed nonce is
    /// rejected: it could not become executable before a very long chain of predecessors arrives,
    /// and accepting it would let a sender park unexecutable transactions indefinitely.
    pub max_nonce_gap: u64,
    /// How much (in percent) both fee caps must rise for a transaction to replace another with
    /// the same sender and nonce; geth's default is 10.
    pub price_bump_percent: u128,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_total: 50_000,
            max_per_sender: 4_096,
            max_nonce_gap: 1_024,
            price_bump_percent: 10,
        }
    }
}
