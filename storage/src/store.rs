//! The RocksDB-backed store.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, U256};
use rampart_primitives::{
    Account, BlockHeader, ExecutedBlock, IndexedLog, LogFilter, StateError, StateReader,
    StoredReceipt, TxLocation, codec,
};
use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, DB, Direction, IteratorMode, Options, ReadOptions,
    SnapshotWithThreadMode, WriteBatch, WriteOptions,
};
use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::keys::*;

/// Tuning knobs of the store, with production defaults.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// fsync every block batch before it is acknowledged (default: true). Turning it off trades
    /// durability across power loss for speed; a process crash loses nothing either way.
    pub sync_writes: bool,
    /// RocksDB block cache size in bytes (default 256 MiB).
    pub block_cache_bytes: usize,
    /// Upper bound on open SST files (default 512).
    pub max_open_files: i32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            sync_writes: true,
            block_cache_bytes: 256 << 20,
            max_open_files: 512,
        }
    }
}

/// The last committed block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub number: u64,
    pub hash: B256,
}

/// A transaction as stored: its raw bytes and where it was included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTx {
    pub raw: Bytes,
    /// The recovered sender, so reads need not recover signatures again.
    pub sender: Address,
    pub location: TxLocation,
}

/// What a block holds besides its header: its transaction hashes, in order, and its size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockBody {
    pub tx_hashes: Vec<B256>,
    pub size: u64,
}

/// A bounded log query.
#[derive(Clone, Debug)]
pub struct LogQuery {
    pub filter: LogFilter,
    /// Stop and report `None` once more than this many logs match.
    pub max_results: usize,
}

/// The state store. Cheap to clone; all clones share one database.
#[derive(Clone)]
pub struct StateStore {
    db: Arc<DB>,
    sync_writes: bool,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("path", &self.db.path())
            .finish()
    }
}

impl StateStore {
    pub fn open(path: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_open_files(options.max_open_files);
        db_opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        let cache = rocksdb::Cache::new_lru_cache(options.block_cache_bytes);
        let mut table = rocksdb::BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        let cfs = ALL_CFS.iter().map(|name| {
            let mut cf_opts = Options::default();
            cf_opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
            cf_opts.set_block_based_table_factory(&table);
            ColumnFamilyDescriptor::new(*name, cf_opts)
        });
        let db = DB::open_cf_descriptors(&db_opts, path, cfs)?;
        Ok(Self {
            db: Arc::new(db),
            sync_writes: options.sync_writes,
        })
    }

    fn cf(&self, name: &'static str) -> &ColumnFamily {
        // Every column family is created at open; a missing one is a bug.
        self.db
            .cf_handle(name)
            .unwrap_or_else(|| panic!("column family {name} missing"))
    }

    fn get<T: serde::de::DeserializeOwned>(
        &self,
        cf: &'static str,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        match self.db.get_pinned_cf(self.cf(cf), key)? {
            None => Ok(None),
            Some(bytes) => codec::decode(&bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    cf,
                    detail: e.to_string(),
                }),
        }
    }

    pub fn head(&self) -> Result<Option<Head>, StoreError> {
        self.get(CF_META, META_HEAD)
    }

    pub fn genesis_hash(&self) -> Result<Option<B256>, StoreError> {
        self.get(CF_META, META_GENESIS)
    }

    /// The Raft index of the last entry applied (cluster mode); written with each block.
    pub fn applied_index(&self) -> Result<Option<u64>, StoreError> {
        self.get(CF_META, META_APPLIED_INDEX)
    }

    /// Writes the genesis block if the store is empty; checks it matches if not.
    pub fn init_genesis(&self, genesis: &ExecutedBlock) -> Result<Head, StoreError> {
        if let Some(existing) = self.genesis_hash()? {
            if existing != genesis.hash {
                return Err(StoreError::GenesisMismatch {
                    existing,
                    requested: genesis.hash,
                });
            }
            return self.head()?.ok_or_else(|| StoreError::Corrupt {
                cf: CF_META,
                detail: "genesis recorded but no head".into(),
            });
        }
        self.apply_block(genesis, None)?;
        Ok(Head {
            number: 0,
            hash: genesis.hash,
        })
    }

    /// Applies one executed block in a single atomic, synced batch: state changes, header,
    /// transactions, receipts, log index, head marker and (optionally) the applied Raft index.
    pub fn apply_block(
        &self,
        block: &ExecutedBlock,
        applied_index: Option<u64>,
    ) -> Result<(), StoreError> {
        block
            .check_consistency()
            .map_err(StoreError::InconsistentBlock)?;
        let number = block.header.number;
        let head = self.head()?;
        match head {
            None if number == 0 => {}
            Some(h) if number == h.number + 1 && block.header.parent_hash == h.hash => {}
            _ => {
                return Err(StoreError::NotNext {
                    head: head.map_or(0, |h| h.number),
                    got: number,
                    expected_parent: head.map_or(B256::ZERO, |h| h.hash),
                    got_parent: block.header.parent_hash,
                });
            }
        }

        let mut batch = WriteBatch::default();
        // State.
        for (address, write) in &block.write_set.accounts {
            if write.storage_cleared || write.info.is_none() {
                let (start, end) = storage_range(address);
                batch.delete_range_cf(self.cf(CF_STORAGE), &start[..], &end[..]);
                batch.put_cf(
                    self.cf(CF_WIPE_HISTORY),
                    account_history_key(address, number),
                    [],
                );
            }
            batch.put_cf(
                self.cf(CF_ACCOUNT_HISTORY),
                account_history_key(address, number),
                codec::encode(&write.info)?,
            );
            for (slot, value) in &write.storage {
                batch.put_cf(
                    self.cf(CF_STORAGE_HISTORY),
                    storage_history_key(address, slot, number),
                    value.to_be_bytes::<32>(),
                );
            }
            match &write.info {
                Some(account) => {
                    batch.put_cf(self.cf(CF_ACCOUNTS), address, codec::encode(account)?)
                }
                None => batch.delete_cf(self.cf(CF_ACCOUNTS), address),
            }
            for (slot, value) in &write.storage {
                let key = storage_key(address, slot);
                if value.is_zero() {
                    batch.delete_cf(self.cf(CF_STORAGE), key);
                } else {
                    batch.put_cf(self.cf(CF_STORAGE), key, value.to_be_bytes::<32>());
                }
            }
        }
        for (hash, code) in &block.write_set.codes {
            batch.put_cf(self.cf(CF_CODE), hash, code);
        }

        // Chain.
        batch.put_cf(
            self.cf(CF_HEADERS),
            height(number),
            codec::encode(&block.header)?,
        );
        batch.put_cf(self.cf(CF_BLOCK_HASHES), block.hash, height(number));
        let body = BlockBody {
            tx_hashes: block.receipts.iter().map(|r| r.tx_hash).collect(),
            size: block.rlp_size(),
        };
        batch.put_cf(self.cf(CF_BLOCK_TXS), height(number), codec::encode(&body)?);
        let mut log_addresses = BTreeSet::new();
        let mut log_topics = BTreeSet::new();
        for (i, (raw, receipt)) in block.transactions.iter().zip(&block.receipts).enumerate() {
            let location = TxLocation {
                block_number: number,
                block_hash: block.hash,
                index: i as u32,
            };
            let stored = StoredTx {
                raw: raw.clone(),
                sender: receipt.from,
                location,
            };
            batch.put_cf(self.cf(CF_TXS), receipt.tx_hash, codec::encode(&stored)?);
            batch.put_cf(
                self.cf(CF_RECEIPTS),
                receipt_key(number, i as u32),
                codec::encode(receipt)?,
            );
            for log in &receipt.logs {
                log_addresses.insert(log.address);
                log_topics.extend(log.topics.iter().copied());
            }
        }
        for a in &log_addresses {
            batch.put_cf(self.cf(CF_LOG_INDEX), log_address_key(a, number), []);
        }
        for t in &log_topics {
            batch.put_cf(self.cf(CF_LOG_INDEX), log_topic_key(t, number), []);
        }

        // Markers, in the same batch: this is what makes a block all-or-nothing.
        let new_head = Head {
            number,
            hash: block.hash,
        };
        batch.put_cf(self.cf(CF_META), META_HEAD, codec::encode(&new_head)?);
        if number == 0 {
            batch.put_cf(self.cf(CF_META), META_GENESIS, codec::encode(&block.hash)?);
        }
        if let Some(index) = applied_index {
            batch.put_cf(self.cf(CF_META), META_APPLIED_INDEX, codec::encode(&index)?);
        }

        let mut wo = WriteOptions::default();
        wo.set_sync(self.sync_writes);
        self.db.write_opt(batch, &wo)?;
        Ok(())
    }

    pub fn header(&self, number: u64) -> Result<Option<BlockHeader>, StoreError> {
        self.get(CF_HEADERS, &height(number))
    }

    pub fn block_number(&self, hash: &B256) -> Result<Option<u64>, StoreError> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(CF_BLOCK_HASHES), hash)?
            .and_then(|b| <[u8; 8]>::try_from(&b[..]).ok())
            .map(u64::from_be_bytes))
    }

    /// The block's transaction hashes and size.
    pub fn block_body(&self, number: u64) -> Result<Option<BlockBody>, StoreError> {
        self.get(CF_BLOCK_TXS, &height(number))
    }

    pub fn transaction(&self, hash: &B256) -> Result<Option<StoredTx>, StoreError> {
        self.get(CF_TXS, hash.as_slice())
    }

    pub fn receipt_at(&self, location: &TxLocation) -> Result<Option<StoredReceipt>, StoreError> {
        self.get(
            CF_RECEIPTS,
            &receipt_key(location.block_number, location.index),
        )
    }

    /// All receipts of one block, in order.
    pub fn block_receipts(&self, number: u64) -> Result<Vec<StoredReceipt>, StoreError> {
        let prefix = height(number);
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(CF_RECEIPTS),
            IteratorMode::From(&prefix, Direction::Forward),
        );
        for item in iter {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            out.push(codec::decode(&v).map_err(|e| StoreError::Corrupt {
                cf: CF_RECEIPTS,
                detail: e.to_string(),
            })?);
        }
        Ok(out)
    }

    fn indexed_blocks(
        &self,
        prefix: &[u8],
        from: u64,
        to: u64,
        out: &mut BTreeSet<u64>,
    ) -> Result<(), StoreError> {
        let mut start = prefix.to_vec();
        start.extend_from_slice(&from.to_be_bytes());
        let iter = self.db.iterator_cf(
            self.cf(CF_LOG_INDEX),
            IteratorMode::From(&start, Direction::Forward),
        );
        for item in iter {
            let (k, _) = item?;
            if !k.starts_with(prefix) || k.len() != prefix.len() + 8 {
                break;
            }
            let mut n = [0u8; 8];
            n.copy_from_slice(&k[prefix.len()..]);
            let n = u64::from_be_bytes(n);
            if n > to {
                break;
            }
            out.insert(n);
        }
        Ok(())
    }

    /// Logs matching the query, in chain order; `Ok(None)` when more than `max_results` match.
    pub fn logs(&self, query: &LogQuery) -> Result<Option<Vec<IndexedLog>>, StoreError> {
        let f = &query.filter;
        let candidates: Vec<u64> = if !f.addresses.is_empty() {
            let mut set = BTreeSet::new();
            for a in &f.addresses {
                self.indexed_blocks(
                    &log_address_key(a, 0)[..21],
                    f.from_block,
                    f.to_block,
                    &mut set,
                )?;
            }
            set.into_iter().collect()
        } else if let Some(position) = f.topics.iter().find(|t| !t.is_empty()) {
            let mut set = BTreeSet::new();
            for t in position {
                self.indexed_blocks(
                    &log_topic_key(t, 0)[..33],
                    f.from_block,
                    f.to_block,
                    &mut set,
                )?;
            }
            set.into_iter().collect()
        } else {
            (f.from_block..=f.to_block).collect()
        };
        let mut out = Vec::new();
        for number in candidates {
            let Some(header) = self.header(number)? else {
                continue;
            };
            let receipts = self.block_receipts(number)?;
            f.collect_block(number, header.hash(), header.timestamp, &receipts, &mut out);
            if out.len() > query.max_results {
                return Ok(None);
            }
        }
        Ok(Some(out))
    }

    /// The newest history entry at or below `key` whose first `prefix_len` bytes match, with
    /// the block number stored in its last 8 bytes.
    fn history_at(
        &self,
        cf: &'static str,
        key: &[u8],
        prefix_len: usize,
    ) -> Result<Option<HistoryEntry>, StoreError> {
        let mut iter = self
            .db
            .iterator_cf(self.cf(cf), IteratorMode::From(key, Direction::Reverse));
        match iter.next() {
            Some(item) => {
                let (k, v) = item?;
                if k.len() != key.len() || k[..prefix_len] != key[..prefix_len] {
                    return Ok(None);
                }
                let mut n = [0u8; 8];
                n.copy_from_slice(&k[k.len() - 8..]);
                Ok(Some((u64::from_be_bytes(n), v)))
            }
            None => Ok(None),
        }
    }

    /// State as it was right after block `number` (archive reads).
    pub fn state_at(&self, number: u64) -> HistoricalState<'_> {
        HistoricalState {
            store: self,
            number,
        }
    }

    /// A consistent point-in-time view of state for execution and reads.
    pub fn snapshot(&self) -> StateSnapshot<'_> {
        StateSnapshot {
            store: self,
            snapshot: self.db.snapshot(),
        }
    }

    fn read_account(
        &self,
        ro: ReadOptions,
        address: &Address,
    ) -> Result<Option<Account>, StoreError> {
        match self
            .db
            .get_pinned_cf_opt(self.cf(CF_ACCOUNTS), address, &ro)?
        {
            None => Ok(None),
            Some(b) => codec::decode(&b)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    cf: CF_ACCOUNTS,
                    detail: e.to_string(),
                }),
        }
    }

    fn read_storage(
        &self,
        ro: ReadOptions,
        address: &Address,
        slot: &U256,
    ) -> Result<U256, StoreError> {
        match self
            .db
            .get_pinned_cf_opt(self.cf(CF_STORAGE), storage_key(address, slot), &ro)?
        {
            None => Ok(U256::ZERO),
            Some(b) if b.len() == 32 => Ok(U256::from_be_slice(&b)),
            Some(b) => Err(StoreError::Corrupt {
                cf: CF_STORAGE,
                detail: format!("slot value of {} bytes", b.len()),
            }),
        }
    }

    fn read_code(&self, ro: ReadOptions, hash: &B256) -> Result<Option<Bytes>, StoreError> {
        Ok(self
            .db
            .get_pinned_cf_opt(self.cf(CF_CODE), hash, &ro)?
            .map(|b| Bytes::copy_from_slice(&b)))
    }

    fn read_block_hash(&self, number: u64) -> Result<Option<B256>, StoreError> {
        Ok(self.header(number)?.map(|h| h.hash()))
    }
}

/// A RocksDB snapshot of state; every read through it sees the same committed block.
pub struct StateSnapshot<'a> {
    store: &'a StateStore,
    snapshot: SnapshotWithThreadMode<'a, DB>,
}

impl std::fmt::Debug for StateSnapshot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateSnapshot").finish_non_exhaustive()
    }
}

impl StateSnapshot<'_> {
    fn ro(&self) -> ReadOptions {
        let mut ro = ReadOptions::default();
        ro.set_snapshot(&self.snapshot);
        ro
    }

    /// The head as of this snapshot.
    pub fn head(&self) -> Result<Option<Head>, StoreError> {
        match self
            .snapshot
            .get_pinned_cf(self.store.cf(CF_META), META_HEAD)?
        {
            None => Ok(None),
            Some(b) => codec::decode(&b)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    cf: CF_META,
                    detail: e.to_string(),
                }),
        }
    }
}

impl StateReader for StateSnapshot<'_> {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        Ok(self.store.read_account(self.ro(), address)?)
    }
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        Ok(self.store.read_storage(self.ro(), address, slot)?)
    }
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        Ok(self.store.read_code(self.ro(), code_hash)?)
    }
    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        // Headers are immutable once written, so no snapshot is needed for them.
        Ok(self.store.read_block_hash(number)?)
    }
}

/// Reads of the latest committed state without a snapshot: each read is atomic on its own.
impl StateReader for StateStore {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        Ok(self.read_account(ReadOptions::default(), address)?)
    }
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        Ok(self.read_storage(ReadOptions::default(), address, slot)?)
    }
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        Ok(self.read_code(ReadOptions::default(), code_hash)?)
    }
    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        Ok(self.read_block_hash(number)?)
    }
}

/// A history value and the block that wrote it.
type HistoryEntry = (u64, Box<[u8]>);

/// State as of a past block, read from the history column families. Blocks are immutable once
/// committed, so these reads need no snapshot.
#[derive(Debug, Clone, Copy)]
pub struct HistoricalState<'a> {
    store: &'a StateStore,
    number: u64,
}

impl StateReader for HistoricalState<'_> {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        let key = account_history_key(address, self.number);
        match self.store.history_at(CF_ACCOUNT_HISTORY, &key, 20)? {
            None => Ok(None),
            Some((_, v)) => {
                Ok(
                    codec::decode::<Option<Account>>(&v).map_err(|e| StoreError::Corrupt {
                        cf: CF_ACCOUNT_HISTORY,
                        detail: e.to_string(),
                    })?,
                )
            }
        }
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        let key = storage_history_key(address, slot, self.number);
        let written = self.store.history_at(CF_STORAGE_HISTORY, &key, 52)?;
        let wiped = self.store.history_at(
            CF_WIPE_HISTORY,
            &account_history_key(address, self.number),
            20,
        )?;
        match (written, wiped) {
            (None, _) => Ok(U256::ZERO),
            // A wipe after the last write cleared the slot (a write in the wipe's own block
            // comes after the wipe).
            (Some((w, _)), Some((c, _))) if c > w => Ok(U256::ZERO),
            (Some((_, v)), _) if v.len() == 32 => Ok(U256::from_be_slice(&v)),
            (Some((_, v)), _) => Err(StoreError::Corrupt {
                cf: CF_STORAGE_HISTORY,
                detail: format!("slot value of {} bytes", v.len()),
            }
            .into()),
        }
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        Ok(self.store.read_code(ReadOptions::default(), code_hash)?)
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        if number > self.number {
            return Ok(None);
        }
        Ok(self.store.read_block_hash(number)?)
    }
}

/// One key/value of an exported state, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedKv<'a> {
    pub column: &'static str,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

/// Where an exported state stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportInfo {
    pub head: Head,
    pub applied_index: u64,
    pub genesis: B256,
}

/// Replication support: the applied Raft index, and whole-state export and install for
/// snapshots (a new or lagging replica receives a consistent copy of every column family).
impl StateStore {
    /// Stops RocksDB's background flushes and compactions and waits for running ones, so a
    /// process can exit while clones of the store are still held elsewhere (RocksDB aborts
    /// when its background threads outlive its static state at exit). Call once, at shutdown.
    pub fn quiesce(&self) {
        self.db.cancel_all_background_work(true);
    }

    /// Records the last applied Raft index for entries that change no block (no-ops,
    /// membership changes, superseded proposals). Not synced on its own: the next block batch
    /// is, and an index that goes back after a power loss only replays idempotent entries.
    pub fn set_applied_index(&self, index: u64) -> Result<(), StoreError> {
        self.db
            .put_cf(self.cf(CF_META), META_APPLIED_INDEX, codec::encode(&index)?)?;
        Ok(())
    }

    /// True while an interrupted snapshot install left the state incomplete.
    pub fn is_restoring(&self) -> Result<bool, StoreError> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(CF_META), META_RESTORING)?
            .is_some())
    }

    /// Walks every column family from one RocksDB snapshot (a consistent point in time), in a
    /// fixed order: column families as listed in `ALL_CFS`, keys ascending. The restoring
    /// marker is never exported. `start` learns where the exported state stands before the
    /// first key is visited.
    pub fn export_state(
        &self,
        start: impl FnOnce(&ExportInfo),
        mut visit: impl FnMut(ExportedKv<'_>) -> Result<(), StoreError>,
    ) -> Result<ExportInfo, StoreError> {
        let snapshot = self.db.snapshot();
        let get_meta = |key: &[u8]| snapshot.get_cf(self.cf(CF_META), key);
        let decode_err = |e: rampart_primitives::codec::CodecError| StoreError::Corrupt {
            cf: CF_META,
            detail: e.to_string(),
        };
        let head: Head = codec::decode(
            &get_meta(META_HEAD)?
                .ok_or_else(|| StoreError::Snapshot("store has no head".into()))?,
        )
        .map_err(decode_err)?;
        let genesis: B256 = codec::decode(
            &get_meta(META_GENESIS)?
                .ok_or_else(|| StoreError::Snapshot("store has no genesis".into()))?,
        )
        .map_err(decode_err)?;
        let applied_index: u64 = match get_meta(META_APPLIED_INDEX)? {
            Some(b) => codec::decode(&b).map_err(decode_err)?,
            None => 0,
        };
        if get_meta(META_RESTORING)?.is_some() {
            return Err(StoreError::Snapshot(
                "this node is installing a snapshot itself".into(),
            ));
        }
        let info = ExportInfo {
            head,
            applied_index,
            genesis,
        };
        start(&info);
        for column in ALL_CFS {
            let mut ro = ReadOptions::default();
            ro.set_snapshot(&snapshot);
            let iter = self
                .db
                .iterator_cf_opt(self.cf(column), ro, IteratorMode::Start);
            for item in iter {
                let (key, value) = item?;
                if column == CF_META && &*key == META_RESTORING {
                    continue;
                }
                visit(ExportedKv {
                    column,
                    key: &key,
                    value: &value,
                })?;
            }
        }
        Ok(info)
    }

    /// Starts installing a snapshot: marks the store as restoring and deletes everything else
    /// in it. Until [`finish_restore`](Self::finish_restore) the state is incomplete; a node
    /// that restarts in between sees [`is_restoring`](Self::is_restoring) and starts over.
    pub fn begin_restore(&self) -> Result<(), StoreError> {
        self.db.put_cf(self.cf(CF_META), META_RESTORING, [1u8])?;
        let end = [0xffu8; 96];
        for column in ALL_CFS {
            let mut batch = WriteBatch::default();
            if column == CF_META {
                for key in [META_HEAD, META_GENESIS, META_APPLIED_INDEX] {
                    batch.delete_cf(self.cf(column), key);
                }
            } else {
                batch.delete_range_cf(self.cf(column), &[][..], &end[..]);
            }
            self.db.write(batch)?;
        }
        Ok(())
    }

    /// Writes one batch of installed key/values; `column` must be one of the store's.
    pub fn restore_batch(
        &self,
        column: &str,
        keys: &[impl AsRef<[u8]>],
        values: &[impl AsRef<[u8]>],
    ) -> Result<(), StoreError> {
        let Some(&column) = ALL_CFS.iter().find(|c| **c == column) else {
            return Err(StoreError::Snapshot(format!(
                "unknown column family {column:?}"
            )));
        };
        if keys.len() != values.len() {
            return Err(StoreError::Snapshot(format!(
                "{} keys but {} values",
                keys.len(),
                values.len()
            )));
        }
        let mut batch = WriteBatch::default();
        for (k, v) in keys.iter().zip(values) {
            if column == CF_META && k.as_ref() == META_RESTORING {
                continue;
            }
            batch.put_cf(self.cf(column), k, v);
        }
        self.db.write(batch)?;
        Ok(())
    }

    /// Completes an install: checks the installed head and genesis, records `applied_index`,
    /// clears the marker, and syncs everything to disk.
    pub fn finish_restore(
        &self,
        expected_head: Head,
        expected_genesis: B256,
        applied_index: u64,
    ) -> Result<(), StoreError> {
        let head = self.head()?;
        if head != Some(expected_head) {
            return Err(StoreError::Snapshot(format!(
                "installed head {head:?} is not the announced {expected_head:?}"
            )));
        }
        if self.genesis_hash()? != Some(expected_genesis) {
            return Err(StoreError::Snapshot("installed genesis differs".into()));
        }
        if self.header(expected_head.number)?.map(|h| h.hash()) != Some(expected_head.hash) {
            return Err(StoreError::Snapshot("installed head header missing".into()));
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.cf(CF_META),
            META_APPLIED_INDEX,
            codec::encode(&applied_index)?,
        );
        batch.delete_cf(self.cf(CF_META), META_RESTORING);
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(batch, &wo)?;
        self.db.flush_wal(true)?;
        Ok(())
    }

    /// After an interrupted install: deletes everything, so the node starts again from genesis
    /// and receives the snapshot again.
    pub fn reset(&self) -> Result<(), StoreError> {
        self.begin_restore()?;
        self.db.delete_cf(self.cf(CF_META), META_RESTORING)?;
        self.db.flush_wal(true)?;
        Ok(())
    }
}
