//! The crate's one error enum, and the storage errors under it.

use raft::eraftpb::MessageType;

/// Why a proposal was refused by the leader although it was valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The leader's uncommitted entries already reach `max_uncommitted_size_bytes`.
    UncommittedLimit,
    /// A leadership transfer is in progress; proposals resume after it ends.
    TransferInProgress,
    /// This node was removed from the configuration.
    Removed,
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DropReason::UncommittedLimit => "uncommitted size limit reached",
            DropReason::TransferInProgress => "leadership transfer in progress",
            DropReason::Removed => "node removed from the configuration",
        })
    }
}

/// Everything that can go wrong in `rampart-consensus`.
///
/// Three groups: refusals of a request that the caller may retry elsewhere or later
/// ([`is_retryable`](Self::is_retryable)), rejections of an inbound peer message
/// ([`is_rejected_message`](Self::is_rejected_message): the message is dropped, the node is
/// unchanged), and fatal errors (storage, broken invariants) after which the node must stop.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    // --- refusals of a local request -----------------------------------------------------------
    /// Only the leader accepts proposals and membership changes.
    #[error("not the leader (leader hint: {leader_hint:?})")]
    NotLeader { leader_hint: Option<u64> },
    /// The leader refused a valid proposal for now.
    #[error("proposal dropped: {0}")]
    ProposalDropped(DropReason),
    /// Raft uses empty entries internally; the application may not propose one.
    #[error("empty proposal")]
    EmptyProposal,
    /// A proposal above `max_entry_size_bytes`.
    #[error("entry of {size_bytes} bytes exceeds max_entry_size_bytes {max_bytes}")]
    EntryTooLarge { size_bytes: u64, max_bytes: u64 },
    /// A membership change is still being applied (one at a time, joint states included).
    #[error("a membership change is pending")]
    ConfChangePending,
    /// A membership change or leader transfer that makes no sense for the current configuration.
    #[error("invalid membership request for node {node}: {reason}")]
    InvalidMembership { node: u64, reason: &'static str },
    /// A driver queue is full; try again later.
    #[error("{queue} queue full")]
    Overloaded { queue: &'static str },
    /// `set_applied` outside `[applied, delivered]`.
    #[error("set_applied({index}) out of range [{applied}, {delivered}]")]
    InvalidApplied {
        index: u64,
        applied: u64,
        delivered: u64,
    },

    // --- rejected inbound messages -------------------------------------------------------------
    /// Sender is neither in the configuration nor a registered peer.
    #[error("message from unknown peer {from}")]
    UnknownPeer { from: u64 },
    /// Message addressed to another node.
    #[error("message for node {to} delivered to node {local}")]
    WrongRecipient { to: u64, local: u64 },
    /// Sender id 0 or this node's own id.
    #[error("invalid sender id {from}")]
    InvalidSender { from: u64 },
    /// A message type that peers never send to each other here (local-only types, forwarded
    /// proposals, read-index requests).
    #[error("unexpected message type {msg_type:?} from peer {from}")]
    UnexpectedMessageType { msg_type: MessageType, from: u64 },
    /// Message or one of its entries above the configured bounds.
    #[error("message from {from} too large: {what} is {size_bytes} bytes, max {max_bytes}")]
    MessageTooLarge {
        from: u64,
        what: &'static str,
        size_bytes: u64,
        max_bytes: u64,
    },
    /// Bytes that do not decode to a Raft message, or a message with inconsistent fields.
    #[error("malformed message: {reason}")]
    MalformedMessage { reason: String },
    /// A message from an older term. Raft has answered it as the protocol requires (so that an
    /// old leader learns the new term) but nothing in this node changed.
    #[error("stale message from {from}: term {msg_term} < current term {term}")]
    StaleTerm { from: u64, msg_term: u64, term: u64 },

    // --- fatal ---------------------------------------------------------------------------------
    /// The log store failed; the node stops (restart it from its store).
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The application failed to apply committed entries or a snapshot (driver).
    #[error("state machine: {0}")]
    Apply(String),
    /// The application's applied index does not fit the log (it lost state, or the log did).
    #[error(
        "applied index {applied} does not fit the log (first index {first_index}, last index {last_index})"
    )]
    AppliedOutOfRange {
        applied: u64,
        first_index: u64,
        last_index: u64,
    },
    /// Invalid configuration.
    #[error("invalid config: {0}")]
    Config(String),
    /// An error raft-rs reported that has no more specific variant.
    #[error("raft: {0}")]
    Raft(raft::Error),
    /// A previous fatal error stopped this node.
    #[error("node stopped after a fatal error: {0}")]
    Stopped(String),
    /// A broken invariant in this crate: a bug, never an operating condition.
    #[error("bug: {0}")]
    Bug(String),
}

impl ConsensusError {
    /// True for refusals the caller may retry later or at another node (the leader hint says
    /// where).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ConsensusError::NotLeader { .. }
                | ConsensusError::ProposalDropped(_)
                | ConsensusError::ConfChangePending
                | ConsensusError::Overloaded { .. }
        )
    }

    /// True when an inbound message was rejected; the node did not change and keeps running.
    pub fn is_rejected_message(&self) -> bool {
        matches!(
            self,
            ConsensusError::UnknownPeer { .. }
                | ConsensusError::WrongRecipient { .. }
                | ConsensusError::InvalidSender { .. }
                | ConsensusError::UnexpectedMessageType { .. }
                | ConsensusError::MessageTooLarge { .. }
                | ConsensusError::MalformedMessage { .. }
                | ConsensusError::StaleTerm { .. }
        )
    }

    /// True when the node cannot continue and must be restarted from its store.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ConsensusError::Storage(_)
                | ConsensusError::Apply(_)
                | ConsensusError::AppliedOutOfRange { .. }
                | ConsensusError::Stopped(_)
                | ConsensusError::Bug(_)
        )
    }
}

/// Errors of a [`LogStore`](crate::storage::LogStore).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The index was compacted away (it is below the first index).
    #[error("index {index} is compacted (first index {first_index})")]
    Compacted { index: u64, first_index: u64 },
    /// The index is beyond the last index.
    #[error("index {index} is beyond the last index {last_index}")]
    Unavailable { index: u64, last_index: u64 },
    /// A write that would break the log's shape (a gap, overwriting compacted entries).
    #[error("invalid log write: {0}")]
    InvalidWrite(String),
    /// Stored bytes that do not decode, or a log with holes.
    #[error("corrupt log store: {0}")]
    Corrupt(String),
    /// RocksDB failed.
    #[error("rocksdb: {0}")]
    Db(#[from] rocksdb::Error),
}
