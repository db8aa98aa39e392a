//! Cluster mode: the node joined with Raft (`rampart-consensus`) over the gRPC peer transport
//! (`rampart-transport`).
//!
//! - Every node accepts transactions, checks them and relays them to its peers, so every
//!   mempool — the leader's in particular, and the next leader's — holds them.
//! - The leader builds and executes each block once ([`leader::run`]) and proposes it as one
//!   Raft entry (header, raw transactions, receipts, write set, trace context); it builds the
//!   next block only after this one is applied.
//! - Every replica, the leader included, applies committed entries in log order
//!   ([`applier::Applier`]): one synced RocksDB batch per block with the Raft applied index.
//! - A lagging or new replica receives a snapshot: a descriptor through Raft, then the state
//!   itself streamed from the source's consistent RocksDB snapshot ([`handler`]).

pub(crate) mod applier;
pub mod entry;
pub(crate) mod handler;
pub(crate) mod leader;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use rampart_consensus::{
    ConsensusConfig, Driver, DriverConfig, DriverHandle, LogStore, RaftNode, RocksLogStore,
};
use rampart_storage::Head;
use rampart_transport::{PeerNetwork, PeerServer, TransportConfig};
use serde_json::json;
use tokio::sync::watch;
use tracing::info;

use crate::config::ClusterConfig;
use crate::{NodeBackend, NodeError};

/// What the applier last applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub index: u64,
    pub head: Head,
}

/// This node's Raft role as last reported by the Raft loop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoleView {
    pub leader_id: Option<u64>,
    pub is_leader: bool,
    /// Bumped on every change, so a new leadership is told apart from the previous one.
    pub changes: u64,
}

/// State shared by the Raft loop's applier and the async side.
#[derive(Debug)]
pub struct Shared {
    pub id: u64,
    pub applied: watch::Sender<Applied>,
    pub role: watch::Sender<RoleView>,
    /// Set when the replica cannot go on (it stops applying); the CLI exits on it.
    pub fatal: watch::Sender<Option<String>>,
    /// Every member's peer address, this node's included.
    pub addresses: Mutex<BTreeMap<u64, String>>,
}

/// The running cluster side of a node.
#[derive(Debug)]
pub struct Replication {
    pub shared: Arc<Shared>,
    pub network: PeerNetwork,
    pub handle: DriverHandle,
    pub peer_addr: std::net::SocketAddr,
    driver: Option<Driver>,
    server: Option<PeerServer>,
}

impl Replication {
    /// Opens the Raft log under `data_dir/raft`, starts the Raft loop, the peer server and the
    /// peer network. The node's store must already hold genesis.
    pub(crate) async fn start(
        node: Arc<NodeBackend>,
        config: &ClusterConfig,
        data_dir: &Path,
    ) -> Result<Self, NodeError> {
        let cfg_err = |e: String| NodeError::Config(e);
        let transport = TransportConfig::default();
        // One block travels as one gRPC message; leave room for the Raft message around it.
        if config.raft.max_entry_bytes + (64 << 10) > transport.max_message_bytes as u64 {
            return Err(cfg_err(format!(
                "[cluster.raft] max_entry_bytes {} leaves no room in the peer transport's {}-byte messages",
                config.raft.max_entry_bytes, transport.max_message_bytes
            )));
        }
        let store = node.store.clone();
        let genesis = store
            .genesis_hash()?
            .ok_or_else(|| cfg_err("store has no genesis".into()))?;
        let cluster_id = format!("{genesis:x}");
        if config.fault_injection {
            tracing::warn!(target: "rampart::replication",
                "FAULT INJECTION IS ON: rampart_debugPartition can cut this node off from its peers; never use this in production");
        }
        let network = PeerNetwork::new(
            config.id,
            cluster_id,
            transport.clone(),
            config.tls.as_ref(),
        )
        .map_err(|e| cfg_err(e.to_string()))?;

        let peers_file = data_dir.join("peers.json");
        let mut addresses = applier::load_peers(&peers_file);
        for p in &config.peers {
            addresses.insert(p.id, p.addr.clone());
        }
        addresses.insert(config.id, config.listen.to_string());
        for (id, addr) in &addresses {
            if *id != config.id {
                network
                    .set_peer(*id, addr)
                    .map_err(|e| cfg_err(e.to_string()))?;
            }
        }
        applier::save_peers(&peers_file, &addresses).map_err(cfg_err)?;

        let head = store.head()?.unwrap_or_default();
        let applied_index = store.applied_index()?.unwrap_or(0);
        let (applied, _) = watch::channel(Applied {
            index: applied_index,
            head,
        });
        let (role, _) = watch::channel(RoleView::default());
        let (fatal, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            id: config.id,
            applied,
            role,
            fatal,
            addresses: Mutex::new(addresses.clone()),
        });

        let raft_dir = data_dir.join("raft");
        let mut log = RocksLogStore::open(&raft_dir)
            .map_err(|e| cfg_err(format!("raft log {}: {e}", raft_dir.display())))?;
        if log.is_empty() && !config.join {
            let mut voters: Vec<u64> = config.peers.iter().map(|p| p.id).collect();
            voters.push(config.id);
            voters.sort_unstable();
            voters.dedup();
            log.bootstrap(&voters)
                .map_err(|e| cfg_err(format!("bootstrapping the raft log: {e}")))?;
            info!(target: "rampart::replication", ?voters, "raft log bootstrapped");
        }
        let mut consensus = ConsensusConfig::new(config.id);
        consensus.peers = addresses
            .keys()
            .copied()
            .filter(|&id| id != config.id)
            .collect();
        consensus.election_tick = config.raft.election_tick;
        consensus.election_jitter_ticks = config.raft.election_tick;
        consensus.heartbeat_tick = config.raft.heartbeat_tick;
        consensus.log_compaction_threshold_entries = config.raft.log_compaction_threshold_entries;
        consensus.log_retain_entries = config.raft.log_retain_entries;
        consensus.max_entry_size_bytes = config.raft.max_entry_bytes;
        // Snapshots carry a descriptor only; the state streams separately.
        consensus.max_snapshot_size_bytes = 1 << 20;
        let source = applier::DescriptorSource {
            store: store.clone(),
            shared: shared.clone(),
        };
        let raft = RaftNode::new(consensus, log, Box::new(source), applied_index)
            .map_err(|e| cfg_err(format!("raft: {e}")))?;
        let state_machine = applier::Applier {
            node: node.clone(),
            network: network.clone(),
            shared: shared.clone(),
            peers_file,
            runtime: tokio::runtime::Handle::current(),
        };
        let driver = Driver::spawn(
            raft,
            network.clone(),
            state_machine,
            DriverConfig {
                tick_interval_ms: config.raft.tick_ms,
                ..DriverConfig::default()
            },
        )
        .map_err(|e| cfg_err(format!("raft loop: {e}")))?;
        let handle = driver.handle();
        network.set_driver(handle.clone());
        let server = rampart_transport::serve(
            config.listen,
            &network,
            Arc::new(handler::Handler {
                node: node.clone(),
                chunk_bytes: transport.snapshot_chunk_bytes,
            }),
        )
        .await
        .map_err(|e| cfg_err(e.to_string()))?;
        let _ = node.relay.set(network.clone());
        info!(target: "rampart::replication", id = config.id, peer_addr = %server.local_addr,
            applied = applied_index, head = head.number, "cluster member started");
        Ok(Self {
            shared,
            network,
            handle,
            peer_addr: server.local_addr,
            driver: Some(driver),
            server: Some(server),
        })
    }

    /// Stops the peer server, the Raft loop and the peer network.
    pub(crate) async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        if let Some(driver) = self.driver.take() {
            let _ = tokio::task::spawn_blocking(move || driver.shutdown()).await;
        }
        self.network.shutdown();
    }
}

/// The `rampart_*` RPC methods of a cluster node.
#[derive(Debug)]
pub struct Admin {
    pub shared: Arc<Shared>,
    pub handle: DriverHandle,
    pub network: PeerNetwork,
    /// How long a membership change may take to commit.
    pub timeout: std::time::Duration,
    /// `rampart_debugPartition` is allowed (`[cluster] fault_injection`).
    pub fault_injection: bool,
}

type AdminResult = rampart_rpc::BackendResult<serde_json::Value>;

fn admin_err(e: impl std::fmt::Display) -> rampart_rpc::BackendError {
    rampart_rpc::BackendError::Rejected(e.to_string())
}

impl Admin {
    async fn wait_applied(&self, index: u64) -> Result<(), rampart_rpc::BackendError> {
        let mut rx = self.shared.applied.subscribe();
        tokio::time::timeout(self.timeout, rx.wait_for(|a| a.index >= index))
            .await
            .map_err(|_| admin_err(format!("not applied within {:?}", self.timeout)))?
            .map_err(admin_err)?;
        Ok(())
    }

    async fn proposed(
        &self,
        pending: Result<
            rampart_consensus::driver::Pending<rampart_consensus::Proposed>,
            rampart_consensus::ConsensusError,
        >,
    ) -> AdminResult {
        let proposed = pending
            .map_err(admin_err)?
            .await
            .map_err(admin_err)?
            .map_err(admin_err)?;
        self.wait_applied(proposed.index).await?;
        Ok(json!({ "index": proposed.index, "term": proposed.term }))
    }
}

impl rampart_rpc::admin::AdminBackend for Admin {
    async fn status(&self) -> AdminResult {
        let st = self
            .handle
            .status()
            .map_err(admin_err)?
            .await
            .map_err(admin_err)?
            .map_err(admin_err)?;
        let applied = *self.shared.applied.borrow();
        let addresses = self.shared.addresses.lock().clone();
        Ok(json!({
            "id": st.id,
            "role": format!("{:?}", st.role),
            "leader": st.leader_id,
            "term": st.term,
            "commit": st.commit,
            "applied": st.applied,
            "lastIndex": st.last_index,
            "firstIndex": st.first_index,
            "voters": st.voters,
            "learners": st.learners,
            "votersOutgoing": st.voters_outgoing,
            "head": { "number": applied.head.number, "hash": applied.head.hash },
            "peers": addresses,
            "fatal": self.shared.fatal.borrow().clone(),
        }))
    }

    async fn add_learner(&self, id: u64, addr: String) -> AdminResult {
        if id == 0 {
            return Err(admin_err("node id must be non-zero"));
        }
        let entry = entry::LogEntry::SetPeer { id, addr }
            .encode()
            .map_err(admin_err)?;
        self.proposed(self.handle.propose(entry)).await?;
        self.proposed(self.handle.add_learner(id)).await
    }

    async fn promote_voter(&self, id: u64) -> AdminResult {
        self.proposed(self.handle.promote_voter(id)).await
    }

    async fn remove_node(&self, id: u64) -> AdminResult {
        let r = self.proposed(self.handle.remove_node(id)).await?;
        self.network.remove_peer(id);
        Ok(r)
    }

    async fn transfer_leader(&self, id: u64) -> AdminResult {
        self.handle
            .transfer_leader(id)
            .map_err(admin_err)?
            .await
            .map_err(admin_err)?
            .map_err(admin_err)?;
        Ok(json!({ "requested": id }))
    }

    async fn partition(&self, ids: Vec<u64>) -> AdminResult {
        if !self.fault_injection {
            return Err(admin_err(
                "fault injection is off on this node (set [cluster] fault_injection = true, for tests only)",
            ));
        }
        if ids.contains(&self.shared.id) {
            return Err(admin_err("a node cannot be cut off from itself"));
        }
        let cut: std::collections::BTreeSet<u64> = ids.into_iter().collect();
        self.network.set_partition(cut.clone());
        Ok(json!({ "cutOff": cut }))
    }
}
