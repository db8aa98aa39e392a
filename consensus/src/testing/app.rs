//! The test application: a durable list of applied data entries, with snapshots.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::node::{CommittedEntry, EntryKind, SnapshotToApply};
use crate::storage::{BOOTSTRAP_INDEX, SnapshotSource};

/// One applied data entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub index: u64,
    pub term: u64,
    pub data: Vec<u8>,
}

/// The test application's state. It survives crashes (it stands for a state store that
/// writes the applied index with the state, atomically and synced).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppState {
    pub applied_index: u64,
    pub entries: Vec<Applied>,
    /// Snapshots installed (received from a leader or handed back after a restart).
    pub snapshots_installed: u64,
}

impl AppState {
    pub fn apply(&mut self, e: &CommittedEntry) {
        if e.kind == EntryKind::Data {
            self.entries.push(Applied {
                index: e.index,
                term: e.term,
                data: e.data.clone(),
            });
        }
        self.applied_index = e.index;
    }

    pub fn restore(&mut self, s: &SnapshotToApply) -> Result<(), String> {
        let entries = decode(&s.data)?;
        self.entries = entries;
        self.applied_index = s.index;
        self.snapshots_installed += 1;
        Ok(())
    }

    /// Snapshot bytes: count, then per entry index, term, length, data (little-endian).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for e in &self.entries {
            b.extend_from_slice(&e.index.to_le_bytes());
            b.extend_from_slice(&e.term.to_le_bytes());
            b.extend_from_slice(&(e.data.len() as u64).to_le_bytes());
            b.extend_from_slice(&e.data);
        }
        b
    }
}

/// Decodes [`AppState::encode`] bytes into entries.
pub fn decode(bytes: &[u8]) -> Result<Vec<Applied>, String> {
    let mut rest = bytes;
    let mut take = |n: usize| -> Result<&[u8], String> {
        if rest.len() < n {
            return Err("short snapshot".into());
        }
        let (a, b) = rest.split_at(n);
        rest = b;
        Ok(a)
    };
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        u64::from_le_bytes(w)
    };
    let count = word(take(8)?);
    let mut out = Vec::new();
    for _ in 0..count {
        let index = word(take(8)?);
        let term = word(take(8)?);
        let len = word(take(8)?) as usize;
        let data = take(len)?.to_vec();
        out.push(Applied { index, term, data });
    }
    Ok(out)
}

/// Shared handle to a node's application state.
#[derive(Debug, Clone, Default)]
pub struct SharedApp(Arc<Mutex<AppState>>);

impl SharedApp {
    pub fn lock(&self) -> MutexGuard<'_, AppState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SnapshotSource for SharedApp {
    fn snapshot_data(&self, applied_index: u64) -> Result<Vec<u8>, String> {
        let app = self.lock();
        // Nothing applied yet is the empty state of the bootstrap point.
        let at = match app.applied_index {
            0 => BOOTSTRAP_INDEX,
            i => i,
        };
        if at != applied_index {
            return Err(format!(
                "state is at {} not {applied_index}",
                app.applied_index
            ));
        }
        Ok(app.encode())
    }
}
