//! Every bound of the transport, with its default.

use std::time::Duration;

/// Transport settings. Defaults suit a 3–7 node cluster on a LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    /// Raft messages queued per peer before new ones are dropped (Raft retransmits).
    /// Default 4,096.
    pub peer_queue_messages: usize,
    /// Largest gRPC message accepted or sent, in bytes (one Raft message with its entries, one
    /// tx batch, one snapshot chunk). Default 16 MiB.
    pub max_message_bytes: usize,
    /// Connection attempt timeout. Default 2 s.
    pub connect_timeout: Duration,
    /// First reconnect delay after a failure; doubles up to `max_backoff`. Default 50 ms.
    pub min_backoff: Duration,
    /// Largest reconnect delay. Default 2 s.
    pub max_backoff: Duration,
    /// Transactions queued for relay before new ones are dropped from the relay (they stay in
    /// the local mempool). Default 65,536.
    pub relay_queue_txs: usize,
    /// Most transactions in one relayed batch. Default 1,024.
    pub relay_batch_txs: usize,
    /// How long the relay waits to fill a batch. Default 2 ms.
    pub relay_linger: Duration,
    /// Timeout of one relay call to one peer. Default 5 s.
    pub relay_timeout: Duration,
    /// Key/value bytes per snapshot chunk. Default 1 MiB.
    pub snapshot_chunk_bytes: usize,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            peer_queue_messages: 4_096,
            max_message_bytes: 16 << 20,
            connect_timeout: Duration::from_secs(2),
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            relay_queue_txs: 65_536,
            relay_batch_txs: 1_024,
            relay_linger: Duration::from_millis(2),
            relay_timeout: Duration::from_secs(5),
            snapshot_chunk_bytes: 1 << 20,
        }
    }
}
