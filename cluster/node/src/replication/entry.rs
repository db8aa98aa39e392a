//! What the Raft log carries, and what a Raft snapshot carries.

use rampart_primitives::{ExecutedBlock, codec};
use rampart_storage::Head;
use serde::{Deserialize, Serialize};

/// One Raft entry's data. Encoded with the one codec (bincode 1.3.3, fixed-width); new kinds
/// are appended at the end so old entries keep decoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // Blocks dominate; boxing buys nothing for a decode-once value.
pub enum LogEntry {
    /// A block the leader executed: header, raw transactions, receipts and write set, with the
    /// W3C trace context (`traceparent`) of the span that built it when the leader exports
    /// OpenTelemetry traces, so that every replica's apply joins that trace. Never used for
    /// anything but tracing: replicas apply the same block with or without it.
    Block {
        block: ExecutedBlock,
        traceparent: Option<String>,
    },
    /// The peer address of node `id`, recorded on every replica before the node is added.
    SetPeer { id: u64, addr: String },
}

impl LogEntry {
    pub fn encode(&self) -> Result<Vec<u8>, codec::CodecError> {
        codec::encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, codec::CodecError> {
        codec::decode(bytes)
    }
}

/// The data of a Raft snapshot: not the state itself but where to fetch it. The receiver
/// downloads the source's state over the peer transport (`FetchSnapshot`), which is at least
/// as new as `applied_index`; entries it already holds are skipped when replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotDescriptor {
    /// The node whose state to fetch.
    pub source: u64,
    pub applied_index: u64,
    pub head: Head,
    /// Every member's peer address as the source knows it (itself included).
    pub peers: Vec<(u64, String)>,
}
