//! Outbound side: per-peer Raft streams, transaction relay, snapshot fetches.

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::Stream;
use parking_lot::Mutex;
use prost::bytes::Bytes;
use rampart_consensus::codec::encode_message;
use rampart_consensus::{DriverHandle, Message, MessageType, Transport};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tracing::{debug, info, warn};

use crate::config::TransportConfig;
use crate::pb::peer_client::PeerClient;
use crate::pb::{self, RaftEnvelope, SnapshotRequest, TxBatch};
use crate::tls::TlsMaterial;
use crate::{CLUSTER_HEADER, NODE_ID_HEADER, RelayedTx, TlsFiles, TransportError};

/// A stream of snapshot chunks, as served or fetched.
pub type SnapshotStream =
    Pin<Box<dyn Stream<Item = Result<pb::SnapshotChunk, tonic::Status>> + Send + 'static>>;

/// Counters of the outbound side.
#[derive(Debug, Default)]
pub struct NetworkStats {
    pub raft_sent: AtomicU64,
    pub raft_dropped: AtomicU64,
    pub reconnects: AtomicU64,
    pub txs_relayed: AtomicU64,
    pub txs_relay_dropped: AtomicU64,
    /// Raft messages dropped because their peer is cut off ([`PeerNetwork::set_partition`]).
    pub raft_partitioned: AtomicU64,
}

struct Peer {
    addr: String,
    channel: Channel,
    queue: mpsc::Sender<Message>,
    task: tokio::task::JoinHandle<()>,
}

pub(crate) struct Inner {
    pub(crate) self_id: u64,
    pub(crate) cluster_id: String,
    pub(crate) config: TransportConfig,
    pub(crate) tls: Option<TlsMaterial>,
    pub(crate) driver: OnceLock<DriverHandle>,
    pub(crate) stats: NetworkStats,
    peers: Mutex<BTreeMap<u64, Peer>>,
    /// Peers this node is cut off from, both directions (fault injection for tests);
    /// `any_cut` lets the hot paths skip the lock while the set is empty.
    cut: Mutex<BTreeSet<u64>>,
    any_cut: AtomicBool,
    relay: mpsc::Sender<RelayedTx>,
    runtime: tokio::runtime::Handle,
}

/// The node's view of its peers: cheap to clone, usable from any thread (the Raft loop calls
/// [`Transport::send`] from its own thread).
#[derive(Clone)]
pub struct PeerNetwork {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for PeerNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerNetwork")
            .field("self_id", &self.inner.self_id)
            .field("peers", &self.peers())
            .finish_non_exhaustive()
    }
}

impl PeerNetwork {
    /// Creates the network of node `self_id` in cluster `cluster_id`; must be called inside a
    /// tokio runtime (its tasks run there).
    pub fn new(
        self_id: u64,
        cluster_id: String,
        config: TransportConfig,
        tls: Option<&TlsFiles>,
    ) -> Result<Self, TransportError> {
        let tls = tls.map(TlsFiles::load).transpose()?;
        let (relay, relay_rx) = mpsc::channel(config.relay_queue_txs.max(1));
        let inner = Arc::new(Inner {
            self_id,
            cluster_id,
            config,
            tls,
            driver: OnceLock::new(),
            stats: NetworkStats::default(),
            peers: Mutex::new(BTreeMap::new()),
            cut: Mutex::new(BTreeSet::new()),
            any_cut: AtomicBool::new(false),
            relay,
            runtime: tokio::runtime::Handle::current(),
        });
        tokio::spawn(relay_loop(Arc::downgrade(&inner), relay_rx));
        Ok(Self { inner })
    }

    /// Connects the driver that reports go to and inbound messages are stepped into. Set once.
    pub fn set_driver(&self, driver: DriverHandle) {
        let _ = self.inner.driver.set(driver);
    }

    pub fn self_id(&self) -> u64 {
        self.inner.self_id
    }

    pub fn stats(&self) -> &NetworkStats {
        &self.inner.stats
    }

    /// Known peers and their addresses.
    pub fn peers(&self) -> BTreeMap<u64, String> {
        self.inner
            .peers
            .lock()
            .iter()
            .map(|(id, p)| (*id, p.addr.clone()))
            .collect()
    }

    /// Adds or updates peer `id` at `addr` (`host:port`). Idempotent.
    pub fn set_peer(&self, id: u64, addr: &str) -> Result<(), TransportError> {
        if id == self.inner.self_id {
            return Ok(());
        }
        // Callable from any thread (the Raft loop records addresses as it applies them).
        let _guard = self.inner.runtime.enter();
        let mut peers = self.inner.peers.lock();
        if peers.get(&id).is_some_and(|p| p.addr == addr) {
            return Ok(());
        }
        let channel = self.inner.channel(addr)?;
        let (queue, rx) = mpsc::channel(self.inner.config.peer_queue_messages.max(1));
        let task = tokio::spawn(raft_stream_loop(
            Arc::downgrade(&self.inner),
            id,
            channel.clone(),
            rx,
        ));
        info!(target: "rampart::transport", peer = id, addr, "peer registered");
        if let Some(old) = peers.insert(
            id,
            Peer {
                addr: addr.to_owned(),
                channel,
                queue,
                task,
            },
        ) {
            old.task.abort();
        }
        Ok(())
    }

    /// Forgets peer `id` and stops its stream.
    pub fn remove_peer(&self, id: u64) {
        if let Some(p) = self.inner.peers.lock().remove(&id) {
            p.task.abort();
            info!(target: "rampart::transport", peer = id, "peer removed");
        }
    }

    /// Cuts this node off from `peers` in both directions, as a network partition would:
    /// Raft messages to them are dropped, their calls (Raft streams, relayed transactions,
    /// snapshot requests) are refused, and nothing is relayed to them or fetched from them.
    /// An empty set heals. For fault-injection tests only: the node exposes it when its
    /// configuration says `fault_injection = true`.
    pub fn set_partition(&self, peers: BTreeSet<u64>) {
        let mut cut = self.inner.cut.lock();
        if peers.is_empty() {
            info!(target: "rampart::transport", healed = ?*cut, "partition healed");
        } else {
            warn!(target: "rampart::transport", ?peers, "fault injection: cut off from peers");
        }
        self.inner.any_cut.store(!peers.is_empty(), Relaxed);
        *cut = peers;
    }

    /// The peers this node is cut off from.
    pub fn partition(&self) -> BTreeSet<u64> {
        self.inner.cut.lock().clone()
    }

    /// Queues a transaction accepted from a client for relay to every peer. Never blocks; when
    /// the relay queue is full the transaction is not relayed (it stays in the local pool).
    pub fn relay(&self, tx: RelayedTx) {
        if self.inner.relay.try_send(tx).is_err() {
            self.inner.stats.txs_relay_dropped.fetch_add(1, Relaxed);
        }
    }

    /// Opens a snapshot download from peer `id`.
    pub async fn fetch_snapshot(
        &self,
        id: u64,
        min_applied_index: u64,
    ) -> Result<SnapshotStream, TransportError> {
        if self.inner.is_cut(id) {
            return Err(TransportError::Partitioned { id });
        }
        let channel = self
            .inner
            .peers
            .lock()
            .get(&id)
            .map(|p| p.channel.clone())
            .ok_or(TransportError::UnknownPeer { id })?;
        let mut client = self.inner.client(channel);
        let req = self.inner.request(SnapshotRequest {
            from: self.inner.self_id,
            min_applied_index,
        });
        let stream = client
            .fetch_snapshot(req)
            .await
            .map_err(|status| TransportError::Status {
                id,
                status: Box::new(status),
            })?
            .into_inner();
        Ok(Box::pin(stream))
    }

    /// Stops every peer task (the relay task ends with the last clone).
    pub fn shutdown(&self) {
        for (_, p) in std::mem::take(&mut *self.inner.peers.lock()) {
            p.task.abort();
        }
    }
}

impl Transport for PeerNetwork {
    fn send(&self, msg: Message) {
        let to = msg.to;
        let is_snapshot = msg.get_msg_type() == MessageType::MsgSnapshot;
        let cut = self.inner.is_cut(to);
        if cut {
            self.inner.stats.raft_partitioned.fetch_add(1, Relaxed);
        }
        let queued = !cut
            && match self.inner.peers.lock().get(&to) {
                Some(p) => p.queue.try_send(msg).is_ok(),
                None => false,
            };
        if !queued {
            self.inner.stats.raft_dropped.fetch_add(1, Relaxed);
            if let Some(d) = self.inner.driver.get() {
                let _ = d.report_unreachable(to);
                if is_snapshot {
                    let _ = d.report_snapshot(to, false);
                }
            }
        }
    }
}

impl Inner {
    /// Whether `id` is cut off by [`PeerNetwork::set_partition`].
    pub(crate) fn is_cut(&self, id: u64) -> bool {
        self.any_cut.load(Relaxed) && self.cut.lock().contains(&id)
    }

    fn channel(&self, addr: &str) -> Result<Channel, TransportError> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let bad = |reason: String| TransportError::Address {
            addr: addr.to_owned(),
            reason,
        };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
            .map_err(|e| bad(e.to_string()))?
            .connect_timeout(self.config.connect_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5));
        if let Some(tls) = &self.tls {
            endpoint = endpoint
                .tls_config(tls.client())
                .map_err(|e| TransportError::Tls(e.to_string()))?;
        }
        Ok(endpoint.connect_lazy())
    }

    fn client(&self, channel: Channel) -> PeerClient<Channel> {
        PeerClient::new(channel)
            .max_decoding_message_size(self.config.max_message_bytes)
            .max_encoding_message_size(self.config.max_message_bytes)
    }

    pub(crate) fn request<T>(&self, body: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(body);
        let md = req.metadata_mut();
        if let Ok(v) = MetadataValue::try_from(self.cluster_id.as_str()) {
            md.insert(CLUSTER_HEADER, v);
        }
        md.insert(NODE_ID_HEADER, MetadataValue::from(self.self_id));
        req
    }

    fn report_unreachable(&self, id: u64) {
        if let Some(d) = self.driver.get() {
            let _ = d.report_unreachable(id);
        }
    }
}

/// Keeps one client stream of Raft messages open to peer `id`, reconnecting with capped
/// exponential back-off.
async fn raft_stream_loop(
    inner: std::sync::Weak<Inner>,
    id: u64,
    channel: Channel,
    mut queue: mpsc::Receiver<Message>,
) {
    let mut backoff = None::<Duration>;
    loop {
        if let Some(delay) = backoff {
            tokio::time::sleep(delay).await;
        }
        let Some(this) = inner.upgrade() else { return };
        if backoff.is_some() {
            this.stats.reconnects.fetch_add(1, Relaxed);
        }
        let (min_backoff, max_backoff) = (this.config.min_backoff, this.config.max_backoff);
        let (tx, rx) = mpsc::channel::<RaftEnvelope>(256);
        let mut client = this.client(channel.clone());
        let req = this.request(ReceiverStream::new(rx));
        let self_id = this.self_id;
        drop(this);
        let call = client.raft(req);
        tokio::pin!(call);
        let reason: String = loop {
            tokio::select! {
                res = &mut call => {
                    break match res {
                        Ok(_) => "peer closed the stream".into(),
                        Err(status) => status.message().to_owned(),
                    };
                }
                msg = queue.recv() => {
                    let Some(msg) = msg else { return };
                    let Some(this) = inner.upgrade() else { return };
                    let is_snapshot = msg.get_msg_type() == MessageType::MsgSnapshot;
                    let bytes = match encode_message(&msg) {
                        Ok(b) => b,
                        Err(e) => {
                            warn!(target: "rampart::transport", peer = id, error = %e, "cannot encode raft message");
                            continue;
                        }
                    };
                    let env = RaftEnvelope { from: self_id, to: id, message: Bytes::from(bytes) };
                    if tx.send(env).await.is_err() {
                        if is_snapshot && let Some(d) = this.driver.get() {
                            let _ = d.report_snapshot(id, false);
                        }
                        break "stream closed".into();
                    }
                    this.stats.raft_sent.fetch_add(1, Relaxed);
                    if is_snapshot && let Some(d) = this.driver.get() {
                        // The Raft message carries only a descriptor; the receiver fetches the
                        // state itself and asks again if that fails.
                        let _ = d.report_snapshot(id, true);
                    }
                    backoff = None;
                }
            }
        };
        debug!(target: "rampart::transport", peer = id, reason, "raft stream broken; reconnecting");
        let Some(this) = inner.upgrade() else { return };
        this.report_unreachable(id);
        // Messages queued meanwhile are stale by the time the stream is back; Raft resends
        // what matters. Snapshots among them are reported as failed.
        while let Ok(msg) = queue.try_recv() {
            this.stats.raft_dropped.fetch_add(1, Relaxed);
            if msg.get_msg_type() == MessageType::MsgSnapshot
                && let Some(d) = this.driver.get()
            {
                let _ = d.report_snapshot(id, false);
            }
        }
        backoff = Some(backoff.map_or(min_backoff, |d| (d * 2).min(max_backoff)));
    }
}

/// Batches relayed transactions and sends each batch to every peer.
async fn relay_loop(inner: std::sync::Weak<Inner>, mut rx: mpsc::Receiver<RelayedTx>) {
    while let Some(first) = rx.recv().await {
        let Some(this) = inner.upgrade() else { return };
        let (max, linger) = (this.config.relay_batch_txs.max(1), this.config.relay_linger);
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + linger;
        while batch.len() < max {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(tx)) => batch.push(tx),
                Ok(None) | Err(_) => break,
            }
        }
        let targets: Vec<(u64, Channel)> = this
            .peers
            .lock()
            .iter()
            .filter(|(id, _)| !this.is_cut(**id))
            .map(|(id, p)| (*id, p.channel.clone()))
            .collect();
        let n = batch.len() as u64;
        // Trace contexts travel only when some transaction has one (export on).
        let traceparents: Vec<String> = if batch.iter().any(|t| t.traceparent.is_some()) {
            batch
                .iter()
                .map(|t| t.traceparent.clone().unwrap_or_default())
                .collect()
        } else {
            Vec::new()
        };
        for (id, channel) in targets {
            let mut client = this.client(channel);
            let req = this.request(TxBatch {
                from: this.self_id,
                raw_txs: batch.iter().map(|t| t.raw.clone()).collect(),
                senders: batch.iter().map(|t| t.sender.clone()).collect(),
                traceparents: traceparents.clone(),
            });
            let timeout = this.config.relay_timeout;
            let weak = inner.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(timeout, client.forward_txs(req)).await {
                    Ok(Ok(_)) => {
                        if let Some(this) = weak.upgrade() {
                            this.stats.txs_relayed.fetch_add(n, Relaxed);
                        }
                    }
                    Ok(Err(status)) => {
                        debug!(target: "rampart::transport", peer = id, error = %status.message(), "tx relay failed")
                    }
                    Err(_) => debug!(target: "rampart::transport", peer = id, "tx relay timed out"),
                }
            });
        }
    }
}
