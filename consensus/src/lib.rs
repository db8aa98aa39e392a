//! Raft ordering for Rampart. Orders opaque entries (bytes); never depends on the executor or
//! any other Rampart crate — `cluster/` joins it with execution.
//!
//! raft-rs does no I/O and has no threads; this crate wraps it as a [`RaftNode`] over a durable
//! [`LogStore`] and leaves the clock, the network and the state machine to the application.
//! The application runs one *Ready loop* per node:
//!
//! 1. **tick** on a timer ([`RaftNode::tick`]): elections and heartbeats;
//! 2. **step** each message from a peer ([`RaftNode::step`]; it checks the sender, type, size and
//!    shape first and rejects bad messages with an error, never a panic);
//! 3. **propose** data at the leader ([`RaftNode::propose`]; elsewhere it answers `NotLeader`
//!    with a hint);
//! 4. **on_ready** ([`RaftNode::on_ready`]): the node writes the new entries, hard state and any
//!    received snapshot to its log store in *one* write — fsynced whenever Raft needs it —
//!    and only then returns a [`ReadyOutput`];
//! 5. **send** `messages_to_send`, **install** `snapshot` if any, **apply** `committed_entries`
//!    in order (durably, with the applied index);
//! 6. **advance** with [`RaftNode::set_applied`], which also compacts the log when it grows past
//!    `log_compaction_threshold_entries`.
//!
//! A single-node cluster, with the in-memory store (use [`RocksLogStore`] for a real node):
//!
//! ```
//! use rampart_consensus::storage::{LogStore, MemLogStore, SnapshotSource};
//! use rampart_consensus::{ConsensusConfig, EntryKind, RaftNode};
//!
//! /// The application state: here, the data entries applied so far.
//! #[derive(Clone, Default)]
//! struct State(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);
//!
//! impl SnapshotSource for State {
//!     fn snapshot_data(&self, _applied_index: u64) -> Result<Vec<u8>, String> {
//!         Ok(self.0.lock().map_err(|e| e.to_string())?.concat())
//!     }
//! }
//!
//! # fn main() -> Result<(), rampart_consensus::ConsensusError> {
//! let mut log = MemLogStore::new();
//! log.bootstrap(&[1])?; // every initial member bootstraps with the same voters
//! let state = State::default();
//! let mut node = RaftNode::new(ConsensusConfig::new(1), log, Box::new(state.clone()), 0)?;
//!
//! node.campaign()?; // normally ticks trigger the election
//! let mut proposed = false;
//! while let Some(out) = node.on_ready()? {
//!     // Persisted already; now the messages may leave (a single node has no peers).
//!     assert!(out.messages_to_send.is_empty());
//!     for entry in &out.committed_entries {
//!         if entry.kind == EntryKind::Data {
//!             state.0.lock().unwrap().push(entry.data.clone());
//!         }
//!     }
//!     if let Some(index) = out.last_index() {
//!         node.set_applied(index)?;
//!     }
//!     if node.is_leader() && !proposed {
//!         node.propose(b"block 1".to_vec())?;
//!         proposed = true;
//!     }
//! }
//! assert_eq!(*state.0.lock().unwrap(), vec![b"block 1".to_vec()]);
//! # Ok(())
//! # }
//! ```
//!
//! With peers, `messages_to_send` go to [`Message::to`] through the transport, and each
//! `MsgSnapshot` sent is reported back with [`RaftNode::report_snapshot`]. [`driver::Driver`]
//! runs this loop on a thread with bounded queues, a [`Transport`] and a [`StateMachine`].
//!
//! Modules: [`storage`] (log stores and the `raft::Storage` adapter), [`node`] (`RaftNode`),
//! [`driver`] (the threaded loop), [`codec`] (messages on the wire), [`config`] (every bound
//! and its default), [`error`], [`logging`] (raft-rs's slog records to `tracing`), and, with
//! the `testing` feature, [`testing`](crate#testing): a seeded in-memory network with faults and
//! invariant checks.
//!
//! # Guarantees
//!
//! - Nothing leaves the node before the write it depends on is durable: entries, snapshot,
//!   term and vote are fsynced before `on_ready` returns messages (a commit index alone may be
//!   written without fsync; after a power loss it is restored from the peers and from the
//!   application's applied index).
//! - Each committed entry is handed out once, in order; after a restart, those after the
//!   application's applied index are handed out again, and a received snapshot the application
//!   had not applied comes back.
//! - Membership changes take effect as they are handed out; one at a time; a learner first,
//!   then promotion through a joint configuration.
//!
//! # Testing
//!
//! The `testing` module (feature `testing`) holds `Cluster`, an in-memory network of 3, 5 …
//! nodes driven in rounds by a seed: filters drop, delay (reorder), partition and isolate;
//! nodes crash (in-memory stores lose unsynced writes, like a power loss) and restart; a
//! `History` checks state-machine safety, election safety, applied order and proposal
//! integrity after every step.

pub mod codec;
pub mod config;
pub mod driver;
pub mod error;
pub mod logging;
pub mod node;
pub mod storage;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::ConsensusConfig;
pub use driver::{Driver, DriverConfig, DriverHandle, StateMachine, Transport};
pub use error::{ConsensusError, DropReason, StorageError};
pub use node::{
    CommittedEntry, EntryKind, NodeStatus, Proposed, RaftNode, ReadyOutput, SnapshotToApply,
    SoftStateChange,
};
pub use raft::StateRole;
pub use raft::eraftpb::{Message, MessageType};
pub use storage::{LogStore, MemLogStore, RocksLogStore, SnapshotSource};
