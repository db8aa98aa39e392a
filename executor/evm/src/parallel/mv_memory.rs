//! Multi-version memory (Block-STM §3): for every location the values written by each
//! transaction of the block, so that transaction `j` reads what the highest `i < j` wrote.
//!
//! Locations are an account's basic fields (nonce, balance, code hash: one location, so two
//! senders never conflict), one storage slot, or an account's "storage reset" marker (written
//! when a transaction creates or self-destructs the account: every slot written before it reads
//! as zero afterwards, exactly as [`BlockDb`](crate::db::BlockDb) does with `storage_cleared`).

use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use alloy_primitives::{Address, U256, map::DefaultHashBuilder};
use dashmap::DashMap;
use rampart_primitives::Account;

pub(crate) type TxIdx = usize;
pub(crate) type Incarnation = usize;

/// A version: which transaction wrote a value, in which incarnation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Version {
    pub txn_idx: TxIdx,
    pub incarnation: Incarnation,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Location {
    /// Nonce, balance and code hash; `None` is an absent (or deleted) account.
    Basic(Address),
    Storage(Address, U256),
    /// The account's storage was wiped (creation, self-destruct).
    StorageReset(Address),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Basic(Option<Account>),
    Storage(U256),
    StorageReset,
}

#[derive(Clone, Copy, Debug)]
enum Data {
    Value(Value),
    /// The writer was aborted: it will probably write here again, so readers wait for it.
    Estimate,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    incarnation: Incarnation,
    data: Data,
}

/// Where a read's value came from: the committed state below the block, or a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Base,
    Tx(Version),
}

pub(crate) type ReadSet = Vec<(Location, Origin)>;

pub(crate) enum ReadResult {
    Value(Version, Value),
    /// No transaction before the reader wrote the location.
    NotFound,
    /// The closest writer's value is an estimate: wait for that transaction.
    Blocked(TxIdx),
}

/// The versions of one location. Most locations have one writer in a block: that case is
/// kept inline (no tree node to allocate and free).
#[derive(Debug)]
enum Versions {
    One(TxIdx, Entry),
    Many(BTreeMap<TxIdx, Entry>),
}

impl Versions {
    /// The entry of the highest writer below `txn_idx`.
    fn below(&self, txn_idx: TxIdx) -> Option<(TxIdx, &Entry)> {
        match self {
            Versions::One(idx, entry) => (*idx < txn_idx).then_some((*idx, entry)),
            Versions::Many(m) => m.range(..txn_idx).next_back().map(|(i, e)| (*i, e)),
        }
    }

    fn insert(&mut self, txn_idx: TxIdx, entry: Entry) {
        match self {
            Versions::One(idx, e) if *idx == txn_idx => *e = entry,
            Versions::One(idx, e) => {
                let mut m = BTreeMap::new();
                m.insert(*idx, *e);
                m.insert(txn_idx, entry);
                *self = Versions::Many(m);
            }
            Versions::Many(m) => {
                m.insert(txn_idx, entry);
            }
        }
    }

    fn get_mut(&mut self, txn_idx: TxIdx) -> Option<&mut Entry> {
        match self {
            Versions::One(idx, e) => (*idx == txn_idx).then_some(e),
            Versions::Many(m) => m.get_mut(&txn_idx),
        }
    }

    /// Removes `txn_idx`'s entry; true when no entry is left.
    fn remove(&mut self, txn_idx: TxIdx) -> bool {
        match self {
            Versions::One(idx, _) => *idx == txn_idx,
            Versions::Many(m) => {
                m.remove(&txn_idx);
                m.is_empty()
            }
        }
    }
}

/// Shards of the location map: each is a lock, so fewer shards mean more collisions between
/// workers touching unrelated locations.
const SHARDS: usize = 128;

pub(crate) struct MvMemory {
    data: DashMap<Location, Versions, DefaultHashBuilder>,
    /// Set (before the write lands) once any transaction writes a storage reset. Until then
    /// reset lookups, one per storage read, are skipped: they could only find nothing.
    any_reset: AtomicBool,
    /// Locations written by each transaction's last incarnation.
    last_written: Vec<Padded<Mutex<Vec<Location>>>>,
    /// Reads of each transaction's last incarnation, for validation.
    last_read: Vec<Padded<Mutex<ReadSet>>>,
}

impl MvMemory {
    pub fn new(txs: usize) -> Self {
        Self {
            data: DashMap::with_hasher_and_shard_amount(DefaultHashBuilder::default(), SHARDS),
            any_reset: AtomicBool::new(false),
            last_written: (0..txs).map(|_| Padded(Mutex::new(Vec::new()))).collect(),
            last_read: (0..txs).map(|_| Padded(Mutex::new(Vec::new()))).collect(),
        }
    }

    /// The value of `location` that transaction `txn_idx` must see.
    pub fn read(&self, location: &Location, txn_idx: TxIdx) -> ReadResult {
        if matches!(location, Location::StorageReset(_)) && !self.any_reset.load(Ordering::SeqCst) {
            return ReadResult::NotFound;
        }
        let Some(versions) = self.data.get(location) else {
            return ReadResult::NotFound;
        };
        match versions.below(txn_idx) {
            None => ReadResult::NotFound,
            Some((idx, entry)) => match entry.data {
                Data::Estimate => ReadResult::Blocked(idx),
                Data::Value(v) => ReadResult::Value(
                    Version {
                        txn_idx: idx,
                        incarnation: entry.incarnation,
                    },
                    v,
                ),
            },
        }
    }

    /// Records an incarnation's reads and writes. Returns true when it wrote a location that
    /// its previous incarnation did not (then later transactions must be validated again).
    pub fn record(&self, version: Version, reads: ReadSet, writes: Vec<(Location, Value)>) -> bool {
        let txn_idx = version.txn_idx;
        if writes
            .iter()
            .any(|(l, _)| matches!(l, Location::StorageReset(_)))
        {
            self.any_reset.store(true, Ordering::SeqCst);
        }
        for (location, value) in &writes {
            let entry = Entry {
                incarnation: version.incarnation,
                data: Data::Value(*value),
            };
            match self.data.entry(*location) {
                dashmap::Entry::Occupied(mut o) => o.get_mut().insert(txn_idx, entry),
                dashmap::Entry::Vacant(v) => {
                    v.insert(Versions::One(txn_idx, entry));
                }
            }
        }
        let new_locations: Vec<Location> = writes.into_iter().map(|(l, _)| l).collect();
        let mut last = lock(&self.last_written[txn_idx]);
        let wrote_new = if last.len() <= 8 {
            for old in last.iter() {
                if !new_locations.contains(old) {
                    self.remove(old, txn_idx);
                }
            }
            new_locations.iter().any(|l| !last.contains(l))
        } else {
            let new_set: std::collections::HashSet<&Location, DefaultHashBuilder> =
                new_locations.iter().collect();
            let old_set: std::collections::HashSet<&Location, DefaultHashBuilder> =
                last.iter().collect();
            for old in last.iter() {
                if !new_set.contains(old) {
                    self.remove(old, txn_idx);
                }
            }
            new_locations.iter().any(|l| !old_set.contains(l))
        };
        *last = new_locations;
        drop(last);
        *lock(&self.last_read[txn_idx]) = reads;
        wrote_new
    }

    fn remove(&self, location: &Location, txn_idx: TxIdx) {
        if let dashmap::Entry::Occupied(mut o) = self.data.entry(*location)
            && o.get_mut().remove(txn_idx)
        {
            o.remove();
        }
    }

    /// After an abort: the last incarnation's writes become estimates.
    pub fn convert_writes_to_estimates(&self, txn_idx: TxIdx) {
        let last = lock(&self.last_written[txn_idx]);
        for location in last.iter() {
            if let Some(mut versions) = self.data.get_mut(location)
                && let Some(entry) = versions.get_mut(txn_idx)
            {
                entry.data = Data::Estimate;
            }
        }
    }

    /// A committed transaction is never validated again: its reads can go.
    pub fn forget_reads(&self, txn_idx: TxIdx) {
        drop(std::mem::take(&mut *lock(&self.last_read[txn_idx])));
    }

    /// True when every read of the transaction's last incarnation would still see the same
    /// version.
    pub fn validate_read_set(&self, txn_idx: TxIdx) -> bool {
        let reads = lock(&self.last_read[txn_idx]);
        reads.iter().all(
            |(location, origin)| match (self.read(location, txn_idx), origin) {
                (ReadResult::Blocked(_), _) => false,
                (ReadResult::NotFound, Origin::Base) => true,
                (ReadResult::Value(v, _), Origin::Tx(seen)) => v == *seen,
                _ => false,
            },
        )
    }
}

/// A value on its own cache lines: per-transaction slots and the scheduler's counters are
/// written by different threads, and sharing a line would make them bounce between cores.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A poisoned lock means a worker panicked; the scope re-raises that panic, so the data
/// behind it is never used for a result.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
