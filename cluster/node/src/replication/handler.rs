//! Answers to peers: relayed transactions into the local pool, and state snapshots out.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use alloy_primitives::{Address, Keccak256};
use prost::bytes::Bytes;
use rampart_storage::StoreError;
use rampart_transport::pb::{
    KvBatch, SnapshotChunk, SnapshotHeader, SnapshotTrailer, snapshot_chunk::Body,
};
use rampart_transport::{PeerHandler, RelayedTx, SnapshotStream};
use tokio::sync::mpsc;
use tonic::Status;
use tracing::{debug, info};

use super::applier::hash_kv;
use crate::NodeBackend;

/// Chunks buffered between the exporting thread and the gRPC stream.
const SNAPSHOT_CHUNKS_BUFFERED: usize = 4;

pub(crate) struct Handler {
    pub node: Arc<NodeBackend>,
    pub chunk_bytes: usize,
}

#[tonic::async_trait]
impl PeerHandler for Handler {
    async fn relayed_txs(&self, from: u64, txs: Vec<RelayedTx>) -> (u32, u32) {
        let (mut accepted, mut rejected) = (0u32, 0u32);
        for tx in txs {
            if tx.sender.len() != 20 {
                rejected += 1;
                continue;
            }
            match self
                .node
                .admit(&tx.raw, Some(Address::from_slice(&tx.sender)))
            {
                Ok(admitted) => {
                    if let Some(tp) = tx.traceparent {
                        self.node.traces.insert(admitted.hash, tp);
                    }
                    accepted += 1;
                    self.node.metrics.txs_relayed_in_total.fetch_add(1, Relaxed);
                }
                Err(e) => {
                    rejected += 1;
                    debug!(target: "rampart::ingress", peer = from, error = %e, "relayed transaction not added");
                }
            }
        }
        (accepted, rejected)
    }

    async fn snapshot(&self, from: u64, min_applied_index: u64) -> Result<SnapshotStream, Status> {
        let store = self.node.store.clone();
        let applied = store
            .applied_index()
            .map_err(|e| Status::internal(e.to_string()))?
            .unwrap_or(0);
        if applied < min_applied_index {
            return Err(Status::unavailable(format!(
                "this node has applied up to {applied}, behind the requested {min_applied_index}"
            )));
        }
        let (tx, rx) = mpsc::channel::<Result<SnapshotChunk, Status>>(SNAPSHOT_CHUNKS_BUFFERED);
        let chunk_bytes = self.chunk_bytes.max(1024);
        tokio::task::spawn_blocking(move || {
            let send = |seq: &mut u64, body: Body| -> Result<(), StoreError> {
                let chunk = SnapshotChunk {
                    seq: *seq,
                    body: Some(body),
                };
                *seq += 1;
                tx.blocking_send(Ok(chunk))
                    .map_err(|_| StoreError::Snapshot("receiver went away".into()))
            };
            // Chunk 0 is the header, sent as soon as the export knows its head.
            let mut seq = 1u64;
            let mut hasher = Keccak256::new();
            let (mut entries, mut bytes) = (0u64, 0u64);
            let mut batch = KvBatch::default();
            let mut batch_bytes = 0usize;
            let header_sent = std::cell::Cell::new(false);
            let result = store.export_state(
                |info| {
                    let header = SnapshotChunk {
                        seq: 0,
                        body: Some(Body::Header(SnapshotHeader {
                            applied_index: info.applied_index,
                            block_number: info.head.number,
                            block_hash: Bytes::copy_from_slice(info.head.hash.as_slice()),
                            genesis_hash: Bytes::copy_from_slice(info.genesis.as_slice()),
                        })),
                    };
                    header_sent.set(tx.blocking_send(Ok(header)).is_ok());
                },
                |kv| {
                    if !header_sent.get() {
                        return Err(StoreError::Snapshot("receiver went away".into()));
                    }
                    if batch.column != kv.column || batch_bytes >= chunk_bytes {
                        if !batch.keys.is_empty() {
                            send(&mut seq, Body::Data(std::mem::take(&mut batch)))?;
                        }
                        batch.column = kv.column.to_owned();
                        batch_bytes = 0;
                    }
                    hash_kv(&mut hasher, kv.column, kv.key, kv.value);
                    entries += 1;
                    bytes += (kv.key.len() + kv.value.len()) as u64;
                    batch_bytes += kv.key.len() + kv.value.len();
                    batch.keys.push(Bytes::copy_from_slice(kv.key));
                    batch.values.push(Bytes::copy_from_slice(kv.value));
                    Ok(())
                },
            );
            let finish = result.and_then(|_| {
                if !batch.keys.is_empty() {
                    send(&mut seq, Body::Data(std::mem::take(&mut batch)))?;
                }
                send(
                    &mut seq,
                    Body::Trailer(SnapshotTrailer {
                        entries,
                        bytes,
                        checksum: Bytes::copy_from_slice(hasher.finalize().as_slice()),
                    }),
                )
            });
            match finish {
                Ok(()) => {
                    info!(target: "rampart::replication", peer = from, entries, bytes, "snapshot sent")
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(Status::internal(e.to_string())));
                }
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }
}
