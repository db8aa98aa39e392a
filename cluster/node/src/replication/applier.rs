//! The replicated state machine: committed Raft entries applied to the RocksDB state, on the
//! Raft loop's thread, in log order, on every replica (the leader included).
//!
//! Apply rule (deterministic, the same on every replica): a block entry is applied iff its
//! number is the head's plus one and its parent is the head; otherwise it was superseded (a
//! deposed leader's proposal, or one made before the leader caught up) and only the applied
//! index advances. The block, its receipts, indexes, head and the applied index go in one
//! synced `WriteBatch`, so a block is applied exactly once across restarts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use alloy_primitives::{B256, Keccak256};
use futures::StreamExt;
use rampart_consensus::{
    CommittedEntry, EntryKind, SnapshotSource, SnapshotToApply, SoftStateChange, StateMachine,
    StateRole,
};
use rampart_storage::{Head, StateStore};
use rampart_transport::PeerNetwork;
use rampart_transport::pb::snapshot_chunk::Body;
use tracing::{error, info, info_span, warn};

use super::Shared;
use super::entry::{LogEntry, SnapshotDescriptor};
use crate::NodeBackend;
use crate::producer::on_block_committed;

/// Attempts to download and install a snapshot before the Raft loop gives up (and the node
/// stops with an error; a restart tries again).
const SNAPSHOT_ATTEMPTS: u32 = 8;

pub(crate) struct Applier {
    pub node: Arc<NodeBackend>,
    pub network: PeerNetwork,
    pub shared: Arc<Shared>,
    pub peers_file: PathBuf,
    pub runtime: tokio::runtime::Handle,
}

impl Applier {
    fn store(&self) -> &StateStore {
        &self.node.store
    }

    fn publish(&self, index: u64) {
        let head = self.store().head().ok().flatten();
        self.shared.applied.send_modify(|a| {
            a.index = index;
            if let Some(h) = head {
                a.head = h;
            }
        });
    }

    fn fatal(&self, what: String) -> String {
        error!(target: "rampart::replication", error = %what, "replica cannot apply; stopping");
        self.shared.fatal.send_replace(Some(what.clone()));
        what
    }

    fn apply_block(
        &self,
        index: u64,
        block: &rampart_primitives::ExecutedBlock,
    ) -> Result<(), String> {
        let head = self
            .store()
            .head()
            .map_err(|e| e.to_string())?
            .ok_or("store has no head")?;
        if block.header.number != head.number + 1 || block.header.parent_hash != head.hash {
            self.node
                .metrics
                .blocks_superseded_total
                .fetch_add(1, Relaxed);
            info!(target: "rampart::replication", index, number = block.header.number,
                head = head.number, "superseded block entry skipped");
            return self
                .store()
                .set_applied_index(index)
                .map_err(|e| e.to_string());
        }
        let started = std::time::Instant::now();
        {
            let _span = info_span!(target: "rampart::storage", "storage.commit_block",
                number = block.header.number, raft_index = index)
            .entered();
            self.store()
                .apply_block(block, Some(index))
                .map_err(|e| format!("applying block {}: {e}", block.header.number))?;
        }
        self.node
            .metrics
            .block_commit_seconds
            .observe(started.elapsed());
        on_block_committed(&self.node, block);
        Ok(())
    }

    fn set_peer(&self, id: u64, addr: &str) -> Result<(), String> {
        if id != self.shared.id {
            self.network.set_peer(id, addr).map_err(|e| e.to_string())?;
        }
        self.shared.addresses.lock().insert(id, addr.to_owned());
        save_peers(&self.peers_file, &self.shared.addresses.lock())
    }

    /// Downloads the source's state and installs it. Returns the installed head.
    async fn download(&self, desc: &SnapshotDescriptor, index: u64) -> Result<Head, String> {
        let store = self.store().clone();
        let mut stream = self
            .network
            .fetch_snapshot(desc.source, index)
            .await
            .map_err(|e| e.to_string())?;
        let genesis = store
            .genesis_hash()
            .map_err(|e| e.to_string())?
            .ok_or("store has no genesis")?;
        let mut expected_seq = 0u64;
        let mut header = None;
        let mut hasher = Keccak256::new();
        let (mut entries, mut bytes) = (0u64, 0u64);
        let started = std::time::Instant::now();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|s| format!("snapshot stream: {}", s.message()))?;
            if chunk.seq != expected_seq {
                return Err(format!(
                    "snapshot chunk {} where {expected_seq} was due",
                    chunk.seq
                ));
            }
            expected_seq += 1;
            match chunk.body {
                Some(Body::Header(h)) if header.is_none() => {
                    if h.genesis_hash.as_ref() != genesis.as_slice() {
                        return Err("snapshot of another chain (genesis differs)".into());
                    }
                    if h.applied_index < index {
                        return Err(format!(
                            "source state at index {} is older than the snapshot's {index}",
                            h.applied_index
                        ));
                    }
                    if h.block_hash.len() != 32 {
                        return Err("malformed head hash in snapshot header".into());
                    }
                    header = Some(Head {
                        number: h.block_number,
                        hash: B256::from_slice(&h.block_hash),
                    });
                    store.begin_restore().map_err(|e| e.to_string())?;
                }
                Some(Body::Data(kv)) if header.is_some() => {
                    for (k, v) in kv.keys.iter().zip(&kv.values) {
                        hash_kv(&mut hasher, &kv.column, k, v);
                        bytes += (k.len() + v.len()) as u64;
                    }
                    entries += kv.keys.len() as u64;
                    let store = store.clone();
                    tokio::task::spawn_blocking(move || {
                        store.restore_batch(&kv.column, &kv.keys, &kv.values)
                    })
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                }
                Some(Body::Trailer(t)) if header.is_some() => {
                    let sum = hasher.finalize();
                    if t.entries != entries
                        || t.bytes != bytes
                        || t.checksum.as_ref() != sum.as_slice()
                    {
                        return Err(format!(
                            "snapshot checksum mismatch ({entries} entries, {bytes} bytes received; {} and {} announced)",
                            t.entries, t.bytes
                        ));
                    }
                    let head = header.ok_or("no header")?;
                    store
                        .finish_restore(head, genesis, index)
                        .map_err(|e| e.to_string())?;
                    let secs = started.elapsed().as_secs_f64().max(1e-9);
                    info!(target: "rampart::replication", index, head = head.number, entries,
                        mib = bytes as f64 / 1048576.0,
                        mib_per_s = bytes as f64 / 1048576.0 / secs, "snapshot installed");
                    return Ok(head);
                }
                _ => return Err("snapshot chunks out of order".into()),
            }
        }
        Err("snapshot stream ended before its trailer (truncated)".into())
    }
}

/// The checksum both ends compute over a snapshot's key/values, in stream order.
pub(crate) fn hash_kv(hasher: &mut Keccak256, column: &str, key: &[u8], value: &[u8]) {
    for part in [column.as_bytes(), key, value] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
}

pub(crate) fn save_peers(path: &Path, peers: &BTreeMap<u64, String>) -> Result<(), String> {
    let json = serde_json::to_vec_pretty(peers).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, json)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub(crate) fn load_peers(path: &Path) -> BTreeMap<u64, String> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

impl StateMachine for Applier {
    fn apply(&mut self, entries: &[CommittedEntry]) -> Result<(), String> {
        let mut last = None;
        for entry in entries {
            match entry.kind {
                EntryKind::Data => match LogEntry::decode(&entry.data) {
                    Ok(LogEntry::Block { block, traceparent }) => {
                        let span = info_span!(target: "rampart::replication", "replication.apply_block",
                            number = block.header.number, raft_index = entry.index,
                            txs = block.transactions.len(), node = self.shared.id);
                        if let Some(tp) = &traceparent {
                            rampart_telemetry::follow_remote(&span, tp);
                        }
                        let _entered = span.entered();
                        self.apply_block(entry.index, &block)
                            .map_err(|e| self.fatal(e))?;
                    }
                    Ok(LogEntry::SetPeer { id, addr }) => {
                        if let Err(e) = self.set_peer(id, &addr) {
                            warn!(target: "rampart::replication", id, addr, error = %e, "cannot record peer address");
                        }
                        self.store()
                            .set_applied_index(entry.index)
                            .map_err(|e| self.fatal(e.to_string()))?;
                    }
                    Err(e) => {
                        // Only a leader bug can commit an undecodable entry; every replica
                        // skips it alike.
                        error!(target: "rampart::replication", index = entry.index, error = %e, "undecodable entry skipped");
                        self.store()
                            .set_applied_index(entry.index)
                            .map_err(|e| self.fatal(e.to_string()))?;
                    }
                },
                EntryKind::Noop | EntryKind::Membership => {
                    self.store()
                        .set_applied_index(entry.index)
                        .map_err(|e| self.fatal(e.to_string()))?;
                }
            }
            last = Some(entry.index);
        }
        if let Some(index) = last {
            self.publish(index);
        }
        Ok(())
    }

    fn restore(&mut self, snapshot: &SnapshotToApply) -> Result<(), String> {
        if snapshot.data.is_empty() {
            // The bootstrap point: the initial (genesis) state.
            return Ok(());
        }
        let desc: SnapshotDescriptor =
            rampart_primitives::codec::decode(&snapshot.data).map_err(|e| e.to_string())?;
        let _span = info_span!(target: "rampart::replication", "replication.install_snapshot",
            index = snapshot.index, source = desc.source)
        .entered();
        for (id, addr) in &desc.peers {
            if let Err(e) = self.set_peer(*id, addr) {
                warn!(target: "rampart::replication", id, error = %e, "cannot record peer address");
            }
        }
        let mut delay = Duration::from_millis(200);
        for attempt in 1..=SNAPSHOT_ATTEMPTS {
            let runtime = self.runtime.clone();
            match runtime.block_on(self.download(&desc, snapshot.index)) {
                Ok(head) => {
                    self.node.metrics.head_block.store(head.number, Relaxed);
                    self.publish(snapshot.index);
                    return Ok(());
                }
                Err(e) => {
                    warn!(target: "rampart::replication", attempt, error = %e, "snapshot download failed");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        Err(self.fatal(format!(
            "could not install the snapshot at index {} from node {}",
            snapshot.index, desc.source
        )))
    }

    fn on_soft_state(&mut self, change: &SoftStateChange) {
        info!(target: "rampart::replication", leader = ?change.leader_id, role = ?change.role, "raft role changed");
        if change.leader_id.is_some() {
            self.node.metrics.leader_changes_total.fetch_add(1, Relaxed);
        }
        self.shared.role.send_modify(|r| {
            r.leader_id = change.leader_id;
            r.is_leader = change.role == StateRole::Leader;
            r.changes += 1;
        });
    }
}

/// Raft asks for snapshot data when a follower needs compacted entries: a descriptor pointing
/// at this node, whose state the follower then downloads.
pub(crate) struct DescriptorSource {
    pub store: StateStore,
    pub shared: Arc<Shared>,
}

impl SnapshotSource for DescriptorSource {
    fn snapshot_data(&self, applied_index: u64) -> Result<Vec<u8>, String> {
        let head = self
            .store
            .head()
            .map_err(|e| e.to_string())?
            .ok_or("store has no head")?;
        let desc = SnapshotDescriptor {
            source: self.shared.id,
            applied_index,
            head,
            peers: self
                .shared
                .addresses
                .lock()
                .iter()
                .map(|(id, a)| (*id, a.clone()))
                .collect(),
        };
        rampart_primitives::codec::encode(&desc).map_err(|e| e.to_string())
    }
}

impl std::fmt::Debug for Applier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applier").finish_non_exhaustive()
    }
}
