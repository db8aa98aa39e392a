//! Node configuration: a TOML file, overridable by flags and `RAMPART_*` environment variables
//! (the CLI applies those). Every limit has a documented default; see docs/configuration.md.

use std::path::PathBuf;

use rampart_rpc::RpcConfig;
use rampart_txpool::PoolConfig;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// Where the node keeps its database. Required unless the CLI runs ephemeral.
    pub data_dir: Option<PathBuf>,
    /// Path of a geth-style genesis.json; the built-in development genesis when absent.
    pub genesis: Option<PathBuf>,
    pub block: BlockConfig,
    pub rpc: RpcConfig,
    pub mempool: MempoolConfig,
    pub ingress: IngressConfig,
    pub storage: StorageConfig,
    pub fees: FeeConfig,
    pub metrics: MetricsConfig,
    pub executor: ExecutorConfig,
    /// Raft cluster membership of this node; absent for a single node (`rampart dev`).
    pub cluster: Option<ClusterConfig>,
    /// Native contracts: sandbox backend, limits, gas (docs/native-contracts.md).
    pub native: crate::native::NativeSection,
}

/// How blocks are executed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionMode {
    /// Block-STM when the executor has at least `AUTO_PARALLEL_MIN_THREADS` threads, sequential
    /// below that (default). Measured on 2 cores (docs/benchmarks.md), Block-STM ran at
    /// 0.39–1.08× of the sequential executor, whose block sealing already uses the second core.
    #[default]
    Auto,
    /// Block-STM on `threads` threads; same result as sequential, byte for byte.
    Parallel,
    /// One transaction after another: the reference executor.
    Sequential,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecutorConfig {
    /// `auto` (default), `parallel` or `sequential`.
    pub mode: ExecutionMode,
    /// Worker threads for parallel execution; 0 = the machine's cores (default 0).
    pub threads: usize,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where Prometheus metrics are served (`GET /metrics`); off when absent (default off).
    pub addr: Option<std::net::SocketAddr>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockConfig {
    /// A block is built every interval when transactions wait (default 100 ms).
    pub interval_ms: u64,
    /// When no transaction waits, an empty block is still built after this long, so that
    /// confirmations keep counting and clients waiting on "the next block" wake up (default
    /// 2,000 ms; 0 = never build empty blocks).
    pub empty_interval_ms: u64,
    /// Most transactions in one block (default 10,000).
    pub max_txs: usize,
}

impl Default for BlockConfig {
    fn default() -> Self {
        Self {
            interval_ms: 100,
            empty_interval_ms: 2_000,
            max_txs: 10_000,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MempoolConfig {
    /// Most transactions in the mempool (default 50,000).
    pub max_total: usize,
    /// Most transactions of one sender (default 4,096).
    pub max_per_sender: usize,
    /// Highest accepted nonce above the sender's committed nonce (default 1,024).
    pub max_nonce_gap: u64,
    /// Price increase a replacement must offer, in percent (default 10).
    pub price_bump_percent: u64,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        let d = PoolConfig::default();
        Self {
            max_total: d.max_total,
            max_per_sender: d.max_per_sender,
            max_nonce_gap: d.max_nonce_gap,
            price_bump_percent: d.price_bump_percent as u64,
        }
    }
}

impl MempoolConfig {
    pub fn to_pool_config(&self) -> PoolConfig {
        PoolConfig {
            max_total: self.max_total,
            max_per_sender: self.max_per_sender,
            max_nonce_gap: self.max_nonce_gap,
            price_bump_percent: self.price_bump_percent as u128,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngressConfig {
    /// Largest accepted transaction in bytes (default 131,072, geth's limit).
    pub max_tx_bytes: usize,
    /// Accept legacy transactions without EIP-155 replay protection (default false).
    pub allow_unprotected_txs: bool,
}

impl Default for IngressConfig {
    fn default() -> Self {
        Self {
            max_tx_bytes: 128 * 1024,
            allow_unprotected_txs: false,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// fsync each block before it is acknowledged (default true).
    pub sync_writes: bool,
    /// RocksDB block cache in MiB (default 256).
    pub block_cache_mib: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            sync_writes: true,
            block_cache_mib: 256,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeeConfig {
    /// Tip that `eth_maxPriorityFeePerGas` suggests, in wei (default 1 gwei).
    pub suggested_tip_wei: u64,
}

impl Default for FeeConfig {
    fn default() -> Self {
        Self {
            suggested_tip_wei: 1_000_000_000,
        }
    }
}

/// `auto` uses Block-STM from this many executor threads up.
pub const AUTO_PARALLEL_MIN_THREADS: usize = 4;

/// One member of the cluster as configured: its Raft id and peer address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    pub id: u64,
    /// `host:port` of its peer (gRPC) listener.
    pub addr: String,
}

/// Cluster mode: this node replicates blocks through Raft with its peers.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// This node's Raft id: non-zero, unique, never reused after removal.
    pub id: u64,
    /// Where the peer (gRPC) server listens.
    pub listen: std::net::SocketAddr,
    /// The other nodes. For an initial member: the other initial members (together they are
    /// the first voters). For a joining node: the current members it can reach.
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
    /// `false` (default): an initial member — the node and `peers` form the first voter set.
    /// `true`: the node joins a running cluster (an operator adds it with
    /// `rampart_addLearner`) and receives a snapshot.
    #[serde(default)]
    pub join: bool,
    #[serde(default)]
    pub raft: RaftConfig,
    /// Mutual TLS between nodes (off when absent).
    #[serde(default)]
    pub tls: Option<rampart_transport::TlsFiles>,
    /// Testing only (default `false`): enables `rampart_debugPartition`, which cuts this
    /// node off from chosen peers to simulate a network partition. Never on in production:
    /// anyone who reaches the RPC port could isolate the node.
    #[serde(default)]
    pub fault_injection: bool,
}

/// Raft timing and bounds (see `rampart_consensus::ConsensusConfig` for the rest).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RaftConfig {
    /// Raft tick (default 100 ms).
    pub tick_ms: u64,
    /// Ticks without a leader before a follower campaigns; the timeout is drawn from
    /// [election_tick, 2 × election_tick) (default 10: 1–2 s).
    pub election_tick: usize,
    /// Ticks between heartbeats (default 2).
    pub heartbeat_tick: usize,
    /// Compact the Raft log past this many applied entries (default 10,000).
    pub log_compaction_threshold_entries: u64,
    /// Applied entries kept after compaction (default 1,000).
    pub log_retain_entries: u64,
    /// Longest the leader waits for its block to commit before it builds again (default
    /// 5,000 ms).
    pub commit_timeout_ms: u64,
    /// Largest Raft entry, i.e. one encoded block with receipts and write set (default 8 MiB).
    /// A block above it is rebuilt with half the transactions; one transaction whose block
    /// alone exceeds it is dropped from the mempool.
    pub max_entry_bytes: u64,
}

impl Default for RaftConfig {
    fn default() -> Self {
        Self {
            tick_ms: 100,
            election_tick: 10,
            heartbeat_tick: 2,
            log_compaction_threshold_entries: 10_000,
            log_retain_entries: 1_000,
            commit_timeout_ms: 5_000,
            max_entry_bytes: 8 << 20,
        }
    }
}
