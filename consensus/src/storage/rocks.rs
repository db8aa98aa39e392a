//! The Raft log in its own RocksDB directory.
//!
//! Keys: `e` + index (big-endian u64) → `Entry`; `m/hard_state` → `HardState`;
//! `m/conf_state` → index + `ConfState`; `m/snapshot_point` → index + term;
//! `m/kept_snapshot` → `Snapshot`. Metadata and the terms of all entries (as runs) are also
//! held in memory, so `term()` never reads the disk; entries are read from RocksDB.

use std::path::Path;

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use rocksdb::{DB, Direction, IteratorMode, Options, ReadOptions, WriteBatch, WriteOptions};

use super::{Bounds, LogBatch, LogOp, LogStore, SizeLimit, StorageError};

const ENTRY_PREFIX: u8 = b'e';
const ENTRY_PREFIX_END: &[u8] = b"f";
const META_HARD_STATE: &[u8] = b"m/hard_state";
const META_CONF_STATE: &[u8] = b"m/conf_state";
const META_SNAPSHOT_POINT: &[u8] = b"m/snapshot_point";
const META_KEPT_SNAPSHOT: &[u8] = b"m/kept_snapshot";

fn entry_key(index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = ENTRY_PREFIX;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

fn entry_index(key: &[u8]) -> Result<u64, StorageError> {
    match key {
        [ENTRY_PREFIX, rest @ ..] if rest.len() == 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(rest);
            Ok(u64::from_be_bytes(b))
        }
        _ => Err(StorageError::Corrupt(format!("bad entry key {key:?}"))),
    }
}

fn encode<M: protobuf::Message>(m: &M) -> Result<Vec<u8>, StorageError> {
    m.write_to_bytes()
        .map_err(|e| StorageError::Corrupt(format!("encode: {e}")))
}

fn decode<M: protobuf::Message + Default>(what: &str, bytes: &[u8]) -> Result<M, StorageError> {
    let mut m = M::default();
    m.merge_from_bytes(bytes)
        .map_err(|e| StorageError::Corrupt(format!("decode {what}: {e}")))?;
    Ok(m)
}

fn split_u64<'a>(what: &str, bytes: &'a [u8]) -> Result<(u64, &'a [u8]), StorageError> {
    if bytes.len() < 8 {
        return Err(StorageError::Corrupt(format!("short {what}")));
    }
    let (head, rest) = bytes.split_at(8);
    let mut b = [0u8; 8];
    b.copy_from_slice(head);
    Ok((u64::from_be_bytes(b), rest))
}

/// Terms of the entries in the log as runs `(first index of the run, term)`.
#[derive(Debug, Clone, Default)]
struct TermRuns(Vec<(u64, u64)>);

impl TermRuns {
    fn term(&self, index: u64) -> Option<u64> {
        let pos = self.0.partition_point(|&(start, _)| start <= index);
        pos.checked_sub(1).map(|p| self.0[p].1)
    }

    /// Forgets every entry at or after `index`.
    fn truncate_from(&mut self, index: u64) {
        let keep = self.0.partition_point(|&(start, _)| start < index);
        self.0.truncate(keep);
    }

    fn push(&mut self, index: u64, term: u64) {
        if self.0.last().is_none_or(|&(_, t)| t != term) {
            self.0.push((index, term));
        }
    }

    /// Forgets every entry before `first_index`.
    fn compact(&mut self, first_index: u64) {
        let pos = self.0.partition_point(|&(start, _)| start <= first_index);
        if pos == 0 {
            return;
        }
        self.0.drain(..pos - 1);
        self.0[0].0 = first_index;
    }
}

#[derive(Debug, Clone, Default)]
struct Meta {
    hard_state: HardState,
    conf_state: ConfState,
    conf_index: u64,
    snapshot_index: u64,
    snapshot_term: u64,
    kept_snapshot: Option<Snapshot>,
    last_index: u64,
    terms: TermRuns,
}

impl Meta {
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
        if index > self.last_index {
            return Err(StorageError::Unavailable {
                index,
                last_index: self.last_index,
            });
        }
        self.terms
            .term(index)
            .ok_or_else(|| StorageError::Corrupt(format!("no term for index {index}")))
    }
}

/// [`LogStore`] on RocksDB. Synced writes are fsynced (RocksDB WAL) before `write` returns.
pub struct RocksLogStore {
    db: DB,
    meta: Meta,
}

impl std::fmt::Debug for RocksLogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksLogStore")
            .field("path", &self.db.path())
            .field("snapshot_index", &self.meta.snapshot_index)
            .field("last_index", &self.meta.last_index)
            .finish()
    }
}

impl RocksLogStore {
    /// Opens (or creates) the log in `path`, a directory of its own.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        let db = DB::open(&opts, path)?;
        let meta = Self::load(&db)?;
        Ok(Self { db, meta })
    }

    fn load(db: &DB) -> Result<Meta, StorageError> {
        let mut meta = Meta::default();
        if let Some(b) = db.get_pinned(META_HARD_STATE)? {
            meta.hard_state = decode("hard state", &b)?;
        }
        if let Some(b) = db.get_pinned(META_CONF_STATE)? {
            let (index, rest) = split_u64("conf state", &b)?;
            meta.conf_index = index;
            meta.conf_state = decode("conf state", rest)?;
        }
        if let Some(b) = db.get_pinned(META_SNAPSHOT_POINT)? {
            let (index, rest) = split_u64("snapshot point", &b)?;
            let (term, _) = split_u64("snapshot point", rest)?;
            meta.snapshot_index = index;
            meta.snapshot_term = term;
        }
        if let Some(b) = db.get_pinned(META_KEPT_SNAPSHOT)? {
            meta.kept_snapshot = Some(decode("kept snapshot", &b)?);
        }
        // Rebuild the term runs and the last index, checking the log has no holes.
        let mut expected = meta.snapshot_index + 1;
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(ENTRY_PREFIX_END);
        let from = entry_key(0);
        for item in db.iterator_opt(IteratorMode::From(&from, Direction::Forward), ro) {
            let (k, v) = item?;
            let index = entry_index(&k)?;
            if index != expected {
                return Err(StorageError::Corrupt(format!(
                    "log hole: expected entry {expected}, found {index}"
                )));
            }
            let e: Entry = decode("entry", &v)?;
            if e.index != index {
                return Err(StorageError::Corrupt(format!(
                    "entry under key {index} says index {}",
                    e.index
                )));
            }
            meta.terms.push(index, e.term);
            expected += 1;
        }
        meta.last_index = expected - 1;
        Ok(meta)
    }

    fn stage(&self, meta: &mut Meta, wb: &mut WriteBatch, op: &LogOp) -> Result<(), StorageError> {
        match op {
            LogOp::InstallSnapshot(s) => {
                let m = s.get_metadata();
                wb.delete_range(entry_key(0).as_slice(), ENTRY_PREFIX_END);
                meta.terms = TermRuns::default();
                meta.snapshot_index = m.index;
                meta.snapshot_term = m.term;
                meta.last_index = m.index;
                meta.conf_state = m.get_conf_state().clone();
                meta.conf_index = m.index;
                meta.kept_snapshot = Some(s.clone());
                wb.put(META_SNAPSHOT_POINT, point_bytes(m.index, m.term));
                wb.put(META_CONF_STATE, conf_bytes(&meta.conf_state, m.index)?);
                wb.put(META_KEPT_SNAPSHOT, encode(s)?);
            }
            LogOp::Append(entries) => {
                let Some(first) = entries.first() else {
                    return Ok(());
                };
                if first.index <= meta.last_index {
                    wb.delete_range(
                        entry_key(first.index).as_slice(),
                        entry_key(meta.last_index + 1).as_slice(),
                    );
                }
                meta.terms.truncate_from(first.index);
                for e in entries {
                    wb.put(entry_key(e.index), encode(e)?);
                    meta.terms.push(e.index, e.term);
                }
                meta.last_index = first.index + entries.len() as u64 - 1;
            }
            LogOp::SetHardState(hs) => {
                meta.hard_state = hs.clone();
                wb.put(META_HARD_STATE, encode(hs)?);
            }
            LogOp::SetConfState { conf_state, index } => {
                meta.conf_state = conf_state.clone();
                meta.conf_index = *index;
                wb.put(META_CONF_STATE, conf_bytes(conf_state, *index)?);
            }
            LogOp::Compact { first_index } => {
                if *first_index > meta.snapshot_index + 1 {
                    let point = first_index - 1;
                    let term = meta.term(point)?;
                    wb.delete_range(
                        entry_key(meta.snapshot_index + 1).as_slice(),
                        entry_key(*first_index).as_slice(),
                    );
                    wb.put(META_SNAPSHOT_POINT, point_bytes(point, term));
                    meta.snapshot_index = point;
                    meta.snapshot_term = term;
                    meta.terms.compact(*first_index);
                }
            }
            LogOp::ReleaseSnapshot => {
                meta.kept_snapshot = None;
                wb.delete(META_KEPT_SNAPSHOT);
            }
        }
        Ok(())
    }
}

fn point_bytes(index: u64, term: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&index.to_be_bytes());
    b[8..].copy_from_slice(&term.to_be_bytes());
    b
}

fn conf_bytes(cs: &ConfState, index: u64) -> Result<Vec<u8>, StorageError> {
    let mut b = index.to_be_bytes().to_vec();
    b.extend_from_slice(&encode(cs)?);
    Ok(b)
}

impl LogStore for RocksLogStore {
    fn write(&mut self, batch: LogBatch, sync: bool) -> Result<(), StorageError> {
        let mut meta = self.meta.clone();
        let mut bounds = Bounds {
            snapshot_index: meta.snapshot_index,
            last_index: meta.last_index,
        };
        let mut wb = WriteBatch::default();
        for op in &batch.ops {
            bounds.check(op)?;
            self.stage(&mut meta, &mut wb, op)?;
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(wb, &wo)?;
        self.meta = meta;
        Ok(())
    }

    fn hard_state(&self) -> HardState {
        self.meta.hard_state.clone()
    }

    fn conf_state(&self) -> (ConfState, u64) {
        (self.meta.conf_state.clone(), self.meta.conf_index)
    }

    fn snapshot_point(&self) -> (u64, u64) {
        (self.meta.snapshot_index, self.meta.snapshot_term)
    }

    fn kept_snapshot(&self) -> Option<&Snapshot> {
        self.meta.kept_snapshot.as_ref()
    }

    fn last_index(&self) -> u64 {
        self.meta.last_index
    }

    fn term(&self, index: u64) -> Result<u64, StorageError> {
        self.meta.term(index)
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size_bytes: Option<u64>,
    ) -> Result<Vec<Entry>, StorageError> {
        if low <= self.meta.snapshot_index {
            return Err(StorageError::Compacted {
                index: low,
                first_index: self.meta.snapshot_index + 1,
            });
        }
        if high > self.meta.last_index + 1 || low > high {
            return Err(StorageError::Unavailable {
                index: high.saturating_sub(1),
                last_index: self.meta.last_index,
            });
        }
        let mut out = Vec::with_capacity((high - low).min(1024) as usize);
        if low == high {
            return Ok(out);
        }
        let mut limit = SizeLimit::new(max_size_bytes);
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(entry_key(high).to_vec());
        let from = entry_key(low);
        for item in self
            .db
            .iterator_opt(IteratorMode::From(&from, Direction::Forward), ro)
        {
            let (k, v) = item?;
            let index = entry_index(&k)?;
            let expected = low + out.len() as u64;
            if index != expected {
                return Err(StorageError::Corrupt(format!(
                    "log hole: expected entry {expected}, found {index}"
                )));
            }
            let e: Entry = decode("entry", &v)?;
            if !limit.admit(&e, out.len()) {
                return Ok(out);
            }
            out.push(e);
        }
        if out.len() as u64 != high - low {
            return Err(StorageError::Corrupt(format!(
                "log hole: entries [{low}, {high}) yield only {}",
                out.len()
            )));
        }
        Ok(out)
    }
}
