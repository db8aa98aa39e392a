//! The durable Raft log: entries, hard state, conf state and the snapshot point.
//!
//! [`LogStore`] is what a log store does: one atomic (optionally synced) write of a
//! [`LogBatch`] per Ready, and the reads Raft needs. [`RocksLogStore`] keeps it in its own
//! RocksDB directory; [`MemLogStore`] keeps it in memory and models a power loss (unsynced
//! writes are lost) for tests. [`RaftStorage`] adapts a `LogStore` to `raft::Storage` and
//! builds snapshots on demand from the application's [`SnapshotSource`].

mod mem;
mod rocks;

use std::cell::RefCell;

use protobuf::Message as _;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};

pub use crate::error::StorageError;
pub use mem::{MemDurable, MemLogStore};
pub use rocks::RocksLogStore;

/// Index of the bootstrap snapshot point. An initial member's log starts after it, so a node
/// that joins later always catches up from a snapshot (it cannot replay the bootstrap
/// configuration from the log).
pub const BOOTSTRAP_INDEX: u64 = 1;
/// Term of the bootstrap snapshot point.
pub const BOOTSTRAP_TERM: u64 = 1;

/// One change to a log store. A [`LogBatch`] applies its operations in order, atomically.
#[derive(Debug, Clone)]
pub enum LogOp {
    /// Replace the log by a received snapshot: every entry is dropped, the snapshot point and
    /// conf state come from its metadata, and the snapshot (with its data) is kept until the
    /// application has applied it ([`LogOp::ReleaseSnapshot`]).
    InstallSnapshot(Snapshot),
    /// Append entries, replacing any conflicting suffix.
    Append(Vec<Entry>),
    /// Replace the hard state (term, vote, commit).
    SetHardState(HardState),
    /// Replace the conf state; `index` is the entry (or snapshot) it results from.
    SetConfState { conf_state: ConfState, index: u64 },
    /// Discard entries below `first_index`; the entry before it becomes the snapshot point.
    Compact { first_index: u64 },
    /// Forget the kept snapshot: the application has applied it.
    ReleaseSnapshot,
}

/// Operations written atomically by one [`LogStore::write`].
#[derive(Debug, Clone, Default)]
pub struct LogBatch {
    pub ops: Vec<LogOp>,
}

impl LogBatch {
    pub fn push(&mut self, op: LogOp) {
        self.ops.push(op);
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A durable Raft log.
///
/// Reads see every write, synced or not; a sync makes that write and all earlier ones durable.
pub trait LogStore {
    /// Applies `batch` atomically; when `sync` is true it is durable (fsync) before this returns.
    fn write(&mut self, batch: LogBatch, sync: bool) -> Result<(), StorageError>;
    fn hard_state(&self) -> HardState;
    /// The conf state and the index of the entry or snapshot it results from.
    fn conf_state(&self) -> (ConfState, u64);
    /// `(index, term)` of the last entry compacted away or covered by a snapshot.
    fn snapshot_point(&self) -> (u64, u64);
    /// The received snapshot kept until the application applied it.
    fn kept_snapshot(&self) -> Option<&Snapshot>;
    /// Index of the last entry, or the snapshot point when the log is empty.
    fn last_index(&self) -> u64;
    /// Term of the entry at `index`; `index` may be the snapshot point.
    fn term(&self, index: u64) -> Result<u64, StorageError>;
    /// Entries in `[low, high)`, stopping once their encoded size passes `max_size_bytes`
    /// (always at least one).
    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size_bytes: Option<u64>,
    ) -> Result<Vec<Entry>, StorageError>;

    /// Index of the first entry that may be read.
    fn first_index(&self) -> u64 {
        self.snapshot_point().0 + 1
    }

    /// True for a store that was never bootstrapped nor given a snapshot.
    fn is_empty(&self) -> bool {
        self.last_index() == 0 && self.conf_state().0 == ConfState::default()
    }

    /// Makes an empty store the log of an initial member: voters `voters`, snapshot point
    /// ([`BOOTSTRAP_INDEX`], [`BOOTSTRAP_TERM`]). Every initial member bootstraps with the same
    /// voters; nodes added later start empty and receive a snapshot.
    fn bootstrap(&mut self, voters: &[u64]) -> Result<(), StorageError> {
        if !self.is_empty() {
            return Err(StorageError::InvalidWrite(
                "bootstrap of a non-empty store".into(),
            ));
        }
        if voters.is_empty() || voters.contains(&0) {
            return Err(StorageError::InvalidWrite(
                "bootstrap needs non-zero voter ids".into(),
            ));
        }
        let mut snapshot = Snapshot::default();
        let meta = snapshot.mut_metadata();
        meta.index = BOOTSTRAP_INDEX;
        meta.term = BOOTSTRAP_TERM;
        meta.set_conf_state(ConfState::from((voters.to_vec(), Vec::<u64>::new())));
        let hs = HardState {
            term: BOOTSTRAP_TERM,
            commit: BOOTSTRAP_INDEX,
            ..HardState::default()
        };
        let mut batch = LogBatch::default();
        batch.push(LogOp::InstallSnapshot(snapshot));
        batch.push(LogOp::ReleaseSnapshot);
        batch.push(LogOp::SetHardState(hs));
        self.write(batch, true)
    }
}

/// The application's side of snapshots.
///
/// When a follower needs entries that were compacted away, the leader sends a snapshot whose
/// data comes from here; the follower receives the data in `ReadyOutput::snapshot`. In the
/// cluster, the data is a RocksDB checkpoint of the state.
pub trait SnapshotSource: Send {
    /// Opaque bytes of the application state after applying every entry up to and including
    /// `applied_index` (the last index given to `RaftNode::set_applied`), and nothing after.
    /// [`BOOTSTRAP_INDEX`] stands for the empty initial state when nothing was applied yet.
    /// An error (for instance: the state moved on, or a checkpoint is being made) means "not
    /// now"; Raft asks again later.
    fn snapshot_data(&self, applied_index: u64) -> Result<Vec<u8>, String>;
}

/// Adapts a [`LogStore`] to `raft::Storage`; `snapshot()` is built on demand at the applied
/// index from the [`SnapshotSource`].
pub struct RaftStorage<L> {
    log: L,
    source: Box<dyn SnapshotSource>,
    applied: u64,
    max_snapshot_size_bytes: u64,
    /// The last snapshot built, reused while the applied index stays the same.
    cached: RefCell<Option<Snapshot>>,
}

impl<L: std::fmt::Debug> std::fmt::Debug for RaftStorage<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftStorage")
            .field("log", &self.log)
            .field("applied", &self.applied)
            .finish_non_exhaustive()
    }
}

impl<L: LogStore> RaftStorage<L> {
    pub(crate) fn new(
        log: L,
        source: Box<dyn SnapshotSource>,
        applied: u64,
        max_snapshot_size_bytes: u64,
    ) -> Self {
        Self {
            log,
            source,
            applied,
            max_snapshot_size_bytes,
            cached: RefCell::new(None),
        }
    }

    pub fn log(&self) -> &L {
        &self.log
    }

    pub(crate) fn log_mut(&mut self) -> &mut L {
        &mut self.log
    }

    pub(crate) fn set_applied(&mut self, applied: u64) {
        self.applied = applied;
    }

    fn build_snapshot(&self, request_index: u64) -> Result<Snapshot, String> {
        let applied = self.applied;
        let (conf_state, conf_index) = self.log.conf_state();
        if applied < request_index {
            return Err(format!(
                "applied {applied} below requested index {request_index}"
            ));
        }
        if applied < conf_index {
            // A membership change was delivered but not applied yet: the conf state is ahead of
            // the application state, so no consistent snapshot exists right now.
            return Err(format!(
                "applied {applied} below conf change index {conf_index}"
            ));
        }
        if let Some(s) = self.cached.borrow().as_ref()
            && s.get_metadata().index == applied
        {
            return Ok(s.clone());
        }
        let term = self.log.term(applied).map_err(|e| e.to_string())?;
        let data = self.source.snapshot_data(applied)?;
        if data.len() as u64 > self.max_snapshot_size_bytes {
            return Err(format!(
                "snapshot of {} bytes exceeds max_snapshot_size_bytes {}",
                data.len(),
                self.max_snapshot_size_bytes
            ));
        }
        let mut snapshot = Snapshot {
            data: data.into(),
            ..Snapshot::default()
        };
        let meta = snapshot.mut_metadata();
        meta.index = applied;
        meta.term = term;
        meta.set_conf_state(conf_state);
        *self.cached.borrow_mut() = Some(snapshot.clone());
        Ok(snapshot)
    }
}

fn to_raft_error(e: StorageError) -> raft::Error {
    match e {
        StorageError::Compacted { .. } => raft::Error::Store(raft::StorageError::Compacted),
        StorageError::Unavailable { .. } => raft::Error::Store(raft::StorageError::Unavailable),
        other => raft::Error::Store(raft::StorageError::Other(Box::new(other))),
    }
}

impl<L: LogStore> raft::Storage for RaftStorage<L> {
    fn initial_state(&self) -> raft::Result<raft::RaftState> {
        Ok(raft::RaftState::new(
            self.log.hard_state(),
            self.log.conf_state().0,
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: raft::GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        self.log
            .entries(low, high, max_size.into())
            .map_err(to_raft_error)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.log.term(idx).map_err(to_raft_error)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.log.first_index())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.log.last_index())
    }

    fn snapshot(&self, request_index: u64, to: u64) -> raft::Result<Snapshot> {
        // raft-rs treats any error but "temporarily unavailable" as fatal, so every failure is
        // reported as that, and logged; Raft retries on a later heartbeat.
        self.build_snapshot(request_index).map_err(|reason| {
            tracing::warn!(target: "rampart_consensus::storage", to, %reason, "snapshot not available");
            raft::Error::Store(raft::StorageError::SnapshotTemporarilyUnavailable)
        })
    }
}

/// Encoded size of an entry as raft-rs counts it for `max_size`.
pub(crate) fn entry_size(e: &Entry) -> u64 {
    u64::from(e.compute_size())
}

/// Admits entries into a read result while their total encoded size stays within a limit;
/// the first entry is always admitted, as raft-rs expects.
#[derive(Debug)]
pub(crate) struct SizeLimit {
    total: u64,
    max: Option<u64>,
}

impl SizeLimit {
    pub(crate) fn new(max: Option<u64>) -> Self {
        Self { total: 0, max }
    }

    pub(crate) fn admit(&mut self, e: &Entry, admitted: usize) -> bool {
        self.total = self.total.saturating_add(entry_size(e));
        admitted == 0 || self.max.is_none_or(|m| self.total <= m)
    }
}

/// First and last index of a log, used to check a batch before any of it is applied, so that
/// a rejected batch changes nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub snapshot_index: u64,
    pub last_index: u64,
}

impl Bounds {
    pub(crate) fn check(&mut self, op: &LogOp) -> Result<(), StorageError> {
        let invalid = |m: String| Err(StorageError::InvalidWrite(m));
        match op {
            LogOp::InstallSnapshot(s) => {
                let index = s.get_metadata().index;
                if index == 0 {
                    return invalid("snapshot at index 0".into());
                }
                self.snapshot_index = index;
                self.last_index = index;
            }
            LogOp::Append(entries) => {
                let Some(first) = entries.first() else {
                    return Ok(());
                };
                if first.index <= self.snapshot_index {
                    return invalid(format!(
                        "append at {} overwrites compacted log (snapshot point {})",
                        first.index, self.snapshot_index
                    ));
                }
                if first.index > self.last_index + 1 {
                    return invalid(format!(
                        "append at {} leaves a gap after last index {}",
                        first.index, self.last_index
                    ));
                }
                for (i, e) in entries.iter().enumerate() {
                    if e.index != first.index + i as u64 {
                        return invalid(format!("non-contiguous append at {}", e.index));
                    }
                }
                self.last_index = first.index + entries.len() as u64 - 1;
            }
            LogOp::Compact { first_index } => {
                if *first_index > self.last_index + 1 {
                    return invalid(format!(
                        "compact to {first_index} beyond last index {}",
                        self.last_index
                    ));
                }
                if *first_index > self.snapshot_index + 1 {
                    self.snapshot_index = first_index - 1;
                }
            }
            LogOp::SetHardState(_) | LogOp::SetConfState { .. } | LogOp::ReleaseSnapshot => {}
        }
        Ok(())
    }
}
