//! In-memory log store for tests, with a model of power loss: what was not synced is lost.

use std::sync::{Arc, Mutex, PoisonError};

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};

use super::{Bounds, LogBatch, LogOp, LogStore, SizeLimit, StorageError};

#[derive(Debug, Clone, Default)]
struct LogState {
    hard_state: HardState,
    conf_state: ConfState,
    conf_index: u64,
    snapshot_index: u64,
    snapshot_term: u64,
    kept_snapshot: Option<Snapshot>,
    /// `entries[i].index == snapshot_index + 1 + i`.
    entries: Vec<Entry>,
}

impl LogState {
    fn last_index(&self) -> u64 {
        self.snapshot_index + self.entries.len() as u64
    }

    fn term(&self, index: u64) -> Result<u64, StorageError> {
        if index == self.snapshot_index {
            return Ok(self.snapshot_term);
        }
        if index < self.snapshot_index {
            return Err(StorageError::Compacted {
                index,
                first_index: self.snapshot_index + 1,
            });
        }
        self.entries
            .get((index - self.snapshot_index - 1) as usize)
            .map(|e| e.term)
            .ok_or(StorageError::Unavailable {
                index,
                last_index: self.last_index(),
            })
    }

    /// Applies one operation that `Bounds::check` accepted.
    fn apply(&mut self, op: &LogOp) -> Result<(), StorageError> {
        match op {
            LogOp::InstallSnapshot(s) => {
                let meta = s.get_metadata();
                self.entries.clear();
                self.snapshot_index = meta.index;
                self.snapshot_term = meta.term;
                self.conf_state = meta.get_conf_state().clone();
                self.conf_index = meta.index;
                self.kept_snapshot = Some(s.clone());
            }
            LogOp::Append(entries) => {
                if let Some(first) = entries.first() {
                    let keep = (first.index - self.snapshot_index - 1) as usize;
                    self.entries.truncate(keep);
                    self.entries.extend_from_slice(entries);
                }
            }
            LogOp::SetHardState(hs) => self.hard_state = hs.clone(),
            LogOp::SetConfState { conf_state, index } => {
                self.conf_state = conf_state.clone();
                self.conf_index = *index;
            }
            LogOp::Compact { first_index } => {
                if *first_index > self.snapshot_index + 1 {
                    let new_point = first_index - 1;
                    let term = self.term(new_point)?;
                    self.entries
                        .drain(..(new_point - self.snapshot_index) as usize);
                    self.snapshot_index = new_point;
                    self.snapshot_term = term;
                }
            }
            LogOp::ReleaseSnapshot => self.kept_snapshot = None,
        }
        Ok(())
    }

    fn apply_batch(&mut self, batch: &LogBatch) -> Result<(), StorageError> {
        let mut bounds = Bounds {
            snapshot_index: self.snapshot_index,
            last_index: self.last_index(),
        };
        for op in &batch.ops {
            bounds.check(op)?;
        }
        for op in &batch.ops {
            self.apply(op)?;
        }
        Ok(())
    }
}

/// The durable part of a [`MemLogStore`]: it survives the store (a "power loss" drops the
/// store and reopens from this).
#[derive(Debug, Clone, Default)]
pub struct MemDurable(Arc<Mutex<LogState>>);

/// In-memory [`LogStore`]. Reads see every write; only synced writes (and the unsynced ones
/// before them) reach its [`MemDurable`].
#[derive(Debug, Default)]
pub struct MemLogStore {
    state: LogState,
    unsynced: Vec<LogBatch>,
    durable: MemDurable,
}

impl MemLogStore {
    /// An empty store with a fresh durable part.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reopens a store from its durable part, as after a power loss.
    pub fn open(durable: MemDurable) -> Self {
        let state = durable
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        Self {
            state,
            unsynced: Vec::new(),
            durable,
        }
    }

    /// The durable part, to reopen from after dropping this store.
    pub fn durable(&self) -> MemDurable {
        self.durable.clone()
    }
}

impl LogStore for MemLogStore {
    fn write(&mut self, batch: LogBatch, sync: bool) -> Result<(), StorageError> {
        self.state.apply_batch(&batch)?;
        self.unsynced.push(batch);
        if sync {
            let mut durable = self
                .durable
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for b in self.unsynced.drain(..) {
                durable.apply_batch(&b)?;
            }
        }
        Ok(())
    }

    fn hard_state(&self) -> HardState {
        self.state.hard_state.clone()
    }

    fn conf_state(&self) -> (ConfState, u64) {
        (self.state.conf_state.clone(), self.state.conf_index)
    }

    fn snapshot_point(&self) -> (u64, u64) {
        (self.state.snapshot_index, self.state.snapshot_term)
    }

    fn kept_snapshot(&self) -> Option<&Snapshot> {
        self.state.kept_snapshot.as_ref()
    }

    fn last_index(&self) -> u64 {
        self.state.last_index()
    }

    fn term(&self, index: u64) -> Result<u64, StorageError> {
        self.state.term(index)
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size_bytes: Option<u64>,
    ) -> Result<Vec<Entry>, StorageError> {
        let s = &self.state;
        if low <= s.snapshot_index {
            return Err(StorageError::Compacted {
                index: low,
                first_index: s.snapshot_index + 1,
            });
        }
        if high > s.last_index() + 1 || low > high {
            return Err(StorageError::Unavailable {
                index: high.saturating_sub(1),
                last_index: s.last_index(),
            });
        }
        let from = (low - s.snapshot_index - 1) as usize;
        let to = (high - s.snapshot_index - 1) as usize;
        let mut limit = SizeLimit::new(max_size_bytes);
        let mut out = Vec::new();
        for e in &s.entries[from..to] {
            if !limit.admit(e, out.len()) {
                break;
            }
            out.push(e.clone());
        }
        Ok(out)
    }
}
