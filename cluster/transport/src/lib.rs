//! Rampart's node-to-node transport over gRPC (tonic; schema `proto/peer.proto`).
//!
//! - [`PeerNetwork`] is the outbound side: one task per peer with a bounded queue and one
//!   long-lived client stream of Raft messages, reconnecting with capped exponential back-off;
//!   it implements the consensus crate's [`Transport`](rampart_consensus::Transport). It also
//!   relays transactions to every peer in batches and fetches state snapshots.
//! - [`serve`] is the inbound side: it checks every call's cluster id and sender id, bounds
//!   message sizes, decodes Raft messages and steps them into the driver; transactions and
//!   snapshot requests go to the application's [`PeerHandler`].
//! - [`TlsFiles`] switches on mutual TLS: both sides present a certificate signed by the
//!   cluster CA; a peer without one cannot connect.
//!
//! Nothing here knows about blocks or execution: the node (`cluster/node`) supplies the
//! handler and decides what the bytes mean.

pub mod config;
mod network;
mod server;
mod tls;

pub use config::TransportConfig;
pub use network::{NetworkStats, PeerNetwork, SnapshotStream};
pub use server::{PeerHandler, PeerServer, ServerStats, serve};

/// A transaction one node accepted from a client and relays to its peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayedTx {
    /// The raw EIP-2718 bytes.
    pub raw: prost::bytes::Bytes,
    /// The sender (20 bytes) the relaying node recovered.
    pub sender: prost::bytes::Bytes,
    /// The W3C `traceparent` of the client request that submitted it (telemetry only).
    pub traceparent: Option<String>,
}

impl RelayedTx {
    pub fn new(raw: prost::bytes::Bytes, sender: prost::bytes::Bytes) -> Self {
        Self {
            raw,
            sender,
            traceparent: None,
        }
    }
}
pub use tls::{PEER_TLS_NAME, TlsFiles, generate_cluster_certs};

/// Generated protobuf types and gRPC stubs of `rampart.peer.v1`.
#[allow(missing_debug_implementations, clippy::all)]
pub mod pb {
    tonic::include_proto!("rampart.peer.v1");
}

/// Metadata key of the cluster id (hex genesis hash) on every call.
pub const CLUSTER_HEADER: &str = "rampart-cluster";
/// Metadata key of the sender's Raft id on every call.
pub const NODE_ID_HEADER: &str = "rampart-node-id";

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("invalid peer address {addr:?}: {reason}")]
    Address { addr: String, reason: String },
    #[error("tls: {0}")]
    Tls(String),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("peer {id} is cut off (fault injection)")]
    Partitioned { id: u64 },
    #[error("peer {id} has no known address")]
    UnknownPeer { id: u64 },
    #[error("peer {id} answered: {status}")]
    Status { id: u64, status: Box<tonic::Status> },
}
