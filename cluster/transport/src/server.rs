//! Inbound side: the `Peer` gRPC service.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use rampart_consensus::codec::decode_message;
use tokio::sync::oneshot;
use tonic::{Request, Response, Status, Streaming};
use tracing::{info, warn};

use crate::network::{Inner, PeerNetwork, SnapshotStream};
use crate::pb::peer_server::{Peer, PeerServer as GrpcPeerServer};
use crate::pb::{RaftAck, RaftEnvelope, SnapshotRequest, TxBatch, TxBatchReply};
use crate::{CLUSTER_HEADER, NODE_ID_HEADER, RelayedTx, TransportError};

/// What the application does with relayed transactions and snapshot requests.
#[tonic::async_trait]
pub trait PeerHandler: Send + Sync + 'static {
    /// Transactions peer `from` accepted from its clients: run the node's own admission checks
    /// and add them to the local pool. Returns (accepted, rejected).
    async fn relayed_txs(&self, from: u64, txs: Vec<RelayedTx>) -> (u32, u32);
    /// The local state as a chunk stream, if it is at least at `min_applied_index`.
    async fn snapshot(&self, from: u64, min_applied_index: u64) -> Result<SnapshotStream, Status>;
}

/// Counters of the inbound side.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub raft_received: AtomicU64,
    pub raft_rejected: AtomicU64,
    pub calls_refused: AtomicU64,
}

struct Service {
    net: Arc<Inner>,
    handler: Arc<dyn PeerHandler>,
    stats: Arc<ServerStats>,
}

impl Service {
    /// Checks the cluster id and returns the sender's node id.
    fn caller<T>(&self, req: &Request<T>) -> Result<u64, Status> {
        let md = req.metadata();
        let cluster = md.get(CLUSTER_HEADER).and_then(|v| v.to_str().ok());
        if cluster != Some(self.net.cluster_id.as_str()) {
            self.stats.calls_refused.fetch_add(1, Relaxed);
            return Err(Status::failed_precondition(format!(
                "cluster id mismatch: this node belongs to {}, caller to {}",
                self.net.cluster_id,
                cluster.unwrap_or("<none>")
            )));
        }
        let id = md
            .get(NODE_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&id| id != 0 && id != self.net.self_id);
        let id = id.ok_or_else(|| {
            self.stats.calls_refused.fetch_add(1, Relaxed);
            Status::invalid_argument("missing or invalid rampart-node-id")
        })?;
        self.refuse_if_cut(id)?;
        Ok(id)
    }

    /// A peer cut off by fault injection is refused, as if the network had dropped it.
    fn refuse_if_cut(&self, id: u64) -> Result<(), Status> {
        if self.net.is_cut(id) {
            self.stats.calls_refused.fetch_add(1, Relaxed);
            return Err(Status::unavailable(format!(
                "node {} is cut off from node {id} (fault injection)",
                self.net.self_id
            )));
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl Peer for Service {
    async fn raft(
        &self,
        request: Request<Streaming<RaftEnvelope>>,
    ) -> Result<Response<RaftAck>, Status> {
        let from = self.caller(&request)?;
        let mut stream = request.into_inner();
        let max = self.net.config.max_message_bytes as u64;
        let mut received = 0u64;
        while let Some(env) = stream.message().await? {
            let reject = |why: String| {
                self.stats.raft_rejected.fetch_add(1, Relaxed);
                warn!(target: "rampart::transport", peer = from, reason = %why, "raft message rejected; closing stream");
                Err(Status::invalid_argument(why))
            };
            if env.from != from || env.to != self.net.self_id {
                return reject(format!(
                    "envelope {}->{} on a stream from {from} to {}",
                    env.from, env.to, self.net.self_id
                ));
            }
            let msg = match decode_message(&env.message, max) {
                Ok(m) => m,
                Err(e) => return reject(e.to_string()),
            };
            if msg.from != from || msg.to != self.net.self_id {
                return reject(format!(
                    "message {}->{} in an envelope {from}->{}",
                    msg.from, msg.to, self.net.self_id
                ));
            }
            // Cut off while the stream was open: end it (the peer reconnects and is refused).
            self.refuse_if_cut(from)?;
            received += 1;
            self.stats.raft_received.fetch_add(1, Relaxed);
            let Some(driver) = self.net.driver.get() else {
                return Err(Status::unavailable("node is starting"));
            };
            // A full queue drops the message: Raft retransmits. Rejections of the message
            // itself (unknown sender, stale term …) are logged by the Raft loop.
            if let Err(e) = driver.step(msg) {
                tracing::debug!(target: "rampart::transport", peer = from, error = %e, "raft message not queued");
            }
        }
        Ok(Response::new(RaftAck { received }))
    }

    async fn forward_txs(
        &self,
        request: Request<TxBatch>,
    ) -> Result<Response<TxBatchReply>, Status> {
        let from = self.caller(&request)?;
        let batch = request.into_inner();
        if batch.from != from {
            return Err(Status::invalid_argument("batch sender differs from caller"));
        }
        if batch.senders.len() != batch.raw_txs.len() {
            return Err(Status::invalid_argument(
                "one sender per transaction expected",
            ));
        }
        // Trace contexts are telemetry: a batch whose list does not match is relayed without.
        let mut traceparents = batch.traceparents.into_iter();
        let with_trace = traceparents.len() == batch.raw_txs.len();
        let txs = batch
            .raw_txs
            .into_iter()
            .zip(batch.senders)
            .map(|(raw, sender)| RelayedTx {
                raw,
                sender,
                traceparent: traceparents.next().filter(|t| with_trace && !t.is_empty()),
            })
            .collect();
        let (accepted, rejected) = self.handler.relayed_txs(from, txs).await;
        Ok(Response::new(TxBatchReply { accepted, rejected }))
    }

    type FetchSnapshotStream = SnapshotStream;

    async fn fetch_snapshot(
        &self,
        request: Request<SnapshotRequest>,
    ) -> Result<Response<SnapshotStream>, Status> {
        let from = self.caller(&request)?;
        let req = request.into_inner();
        info!(target: "rampart::transport", peer = from, min_applied_index = req.min_applied_index, "snapshot requested");
        let stream = self.handler.snapshot(from, req.min_applied_index).await?;
        Ok(Response::new(stream))
    }
}

/// A running peer server; dropping it does not stop it, [`PeerServer::stop`] does.
#[derive(Debug)]
pub struct PeerServer {
    pub local_addr: SocketAddr,
    pub stats: Arc<ServerStats>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl PeerServer {
    /// Stops accepting calls; open streams (peers keep their Raft streams open for good)
    /// get one second to end, then the server is dropped.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if tokio::time::timeout(std::time::Duration::from_secs(1), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

/// Serves the peer protocol of `network`'s node on `addr` (port 0 picks one).
pub async fn serve(
    addr: SocketAddr,
    network: &PeerNetwork,
    handler: Arc<dyn PeerHandler>,
) -> Result<PeerServer, TransportError> {
    let net = network.inner.clone();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| TransportError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| TransportError::Bind { addr, source })?;
    let stats = Arc::new(ServerStats::default());
    let max = net.config.max_message_bytes;
    let service = GrpcPeerServer::new(Service {
        net: net.clone(),
        handler,
        stats: stats.clone(),
    })
    .max_decoding_message_size(max)
    .max_encoding_message_size(max);
    let mut builder = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .concurrency_limit_per_connection(256);
    if let Some(tls) = &net.tls {
        builder = builder
            .tls_config(tls.server())
            .map_err(|e| TransportError::Tls(e.to_string()))?;
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let router = builder.add_service(service);
    let task = tokio::spawn(async move {
        if let Err(e) = router
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            })
            .await
        {
            warn!(target: "rampart::transport", error = %e, "peer server stopped");
        }
    });
    info!(target: "rampart::transport", addr = %local_addr, tls = net.tls.is_some(), "peer server listening");
    Ok(PeerServer {
        local_addr,
        stats,
        stop: Some(stop),
        task,
    })
}
