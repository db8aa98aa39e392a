//! A Rampart node: joins the state store, the executor actor, the mempool and the RPC.
//!
//! Single-node mode (`rampart dev`): the block producer builds a block on every interval when
//! transactions wait, the executor actor runs it, and the store commits it in one atomic batch.

pub mod backend;
pub mod config;
pub mod executor_actor;
pub mod genesis;
pub mod metrics;
pub mod native;
pub mod producer;
pub mod replication;
mod traces;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rampart_rpc::RpcServer;
use rampart_storage::{StateStore, StoreOptions};
use rampart_txpool::TxPool;
use tokio::sync::{broadcast, watch};
use tracing::info;

pub use backend::NodeBackend;
pub use config::NodeConfig;
pub use genesis::{ChainSpec, dev_genesis, dev_signers};

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Genesis(#[from] genesis::GenesisError),
    #[error("storage: {0}")]
    Storage(#[from] rampart_storage::StoreError),
    #[error("rpc server: {0}")]
    Rpc(std::io::Error),
    #[error("executor: {0}")]
    Executor(std::io::Error),
    #[error("configuration: {0}")]
    Config(String),
}

/// A running node. `shutdown` stops block production, the RPC server and the executor, in
/// that order, and closes the database.
#[derive(Debug)]
pub struct Node {
    pub backend: Arc<NodeBackend>,
    pub rpc_addr: SocketAddr,
    /// Where `GET /metrics` is served, if enabled.
    pub metrics_addr: Option<SocketAddr>,
    rpc: RpcServer,
    metrics_task: Option<tokio::task::JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
    producer: tokio::task::JoinHandle<()>,
    executor: Arc<executor_actor::ExecutorHandle>,
    /// Cluster mode only.
    replication: Option<replication::Replication>,
}

impl Node {
    /// Opens (or creates) the database in `data_dir` and starts everything.
    pub async fn start(config: NodeConfig, data_dir: &Path) -> Result<Self, NodeError> {
        let genesis = match &config.genesis {
            Some(path) => genesis::load_genesis(path)?,
            None => dev_genesis(),
        };
        let (spec, genesis_block) = genesis::build_genesis(&genesis)?;
        std::fs::create_dir_all(data_dir).map_err(|e| {
            NodeError::Config(format!(
                "cannot create data dir {}: {e}",
                data_dir.display()
            ))
        })?;
        let store = StateStore::open(
            &data_dir.join("db"),
            &StoreOptions {
                sync_writes: config.storage.sync_writes,
                block_cache_bytes: config.storage.block_cache_mib << 20,
                ..Default::default()
            },
        )?;
        if store.is_restoring()? {
            tracing::warn!(target: "rampart::node", "an interrupted snapshot install left the state incomplete; starting over from genesis");
            store.reset()?;
        }
        let head = store.init_genesis(&genesis_block)?;
        info!(target: "rampart::node", chain_id = spec.chain.chain_id, head = head.number,
            hash = %head.hash, genesis = %genesis_block.hash, "state opened");

        let metrics = Arc::new(metrics::Metrics::default());
        let threads = match config.executor.threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let use_parallel = match config.executor.mode {
            config::ExecutionMode::Sequential => false,
            config::ExecutionMode::Parallel => true,
            config::ExecutionMode::Auto => threads >= config::AUTO_PARALLEL_MIN_THREADS,
        };
        let parallel = use_parallel.then_some(rampart_evm::ParallelConfig {
            threads,
            min_txs: rampart_evm::PARALLEL_MIN_TXS,
        });
        info!(target: "rampart::node", parallel = use_parallel, threads, "executor configured");
        let native = config.native.start(data_dir).await?;
        if let Some(rt) = &native {
            let _ = metrics.native.set(rt.stats());
        }
        let executor = Arc::new(
            executor_actor::ExecutorHandle::start(
                store.clone(),
                spec.chain.clone(),
                parallel,
                native.clone(),
                metrics.clone(),
            )
            .map_err(NodeError::Executor)?,
        );
        let (blocks, _) = broadcast::channel(256);
        let backend = Arc::new(NodeBackend {
            store,
            pool: Arc::new(TxPool::new(config.mempool.to_pool_config())),
            spec,
            config: config.clone(),
            blocks,
            wake_producer: Arc::new(tokio::sync::Notify::new()),
            metrics,
            dev_keys: if config.genesis.is_none() {
                dev_signers()
            } else {
                Vec::new()
            },
            send_lock: tokio::sync::Mutex::new(()),
            relay: std::sync::OnceLock::new(),
            native,
            prewarmer: Default::default(),
            traces: traces::TxTraces::new(config.mempool.max_total),
        });
        backend
            .metrics
            .head_block
            .store(head.number, std::sync::atomic::Ordering::Relaxed);
        let (metrics_addr, metrics_task) = match config.metrics.addr {
            Some(addr) => {
                let listener = metrics::bind(addr).await.map_err(NodeError::Rpc)?;
                let local = listener.local_addr().map_err(NodeError::Rpc)?;
                (
                    Some(local),
                    Some(tokio::spawn(metrics::serve(
                        listener,
                        backend.metrics.clone(),
                    ))),
                )
            }
            None => (None, None),
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (rpc, producer, replication) = match &config.cluster {
            None => {
                let rpc = rampart_rpc::start(backend.clone(), &config.rpc)
                    .await
                    .map_err(NodeError::Rpc)?;
                let producer = tokio::spawn(producer::run(
                    backend.clone(),
                    executor.clone(),
                    shutdown_rx,
                ));
                (rpc, producer, None)
            }
            Some(cluster) => {
                let repl =
                    replication::Replication::start(backend.clone(), cluster, data_dir).await?;
                let admin = Arc::new(replication::Admin {
                    shared: repl.shared.clone(),
                    handle: repl.handle.clone(),
                    network: repl.network.clone(),
                    timeout: std::time::Duration::from_millis(cluster.raft.commit_timeout_ms),
                    fault_injection: cluster.fault_injection,
                });
                let rpc = rampart_rpc::start_with(
                    backend.clone(),
                    &config.rpc,
                    rampart_rpc::admin::module(admin),
                )
                .await
                .map_err(NodeError::Rpc)?;
                let producer = tokio::spawn(replication::leader::run(
                    backend.clone(),
                    executor.clone(),
                    repl.shared.clone(),
                    repl.handle.clone(),
                    std::time::Duration::from_millis(cluster.raft.commit_timeout_ms),
                    shutdown_rx,
                ));
                (rpc, producer, Some(repl))
            }
        };
        Ok(Self {
            backend,
            rpc_addr: rpc.local_addr,
            metrics_addr,
            rpc,
            metrics_task,
            shutdown,
            producer,
            executor,
            replication,
        })
    }

    /// Cluster mode: the peer server's address.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.replication.as_ref().map(|r| r.peer_addr)
    }

    /// Cluster mode: turns to `Some(reason)` when the replica stopped applying and the process
    /// should exit (a restart recovers from the durable log).
    pub fn fatal(&self) -> Option<watch::Receiver<Option<String>>> {
        self.replication
            .as_ref()
            .map(|r| r.shared.fatal.subscribe())
    }

    /// Cluster mode: what this node last applied and its role.
    pub fn replication(&self) -> Option<&replication::Replication> {
        self.replication.as_ref()
    }

    /// Graceful stop: the block in progress is finished and committed first.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let _ = self.producer.await;
        self.rpc.stop();
        self.rpc.handle.clone().stopped().await;
        if let Some(mut repl) = self.replication.take() {
            repl.stop().await;
        }
        if let Some(t) = self.metrics_task {
            t.abort();
        }
        match Arc::try_unwrap(self.executor) {
            Ok(mut executor) => executor.stop(),
            // Someone still holds the handle: at least stop the actor system.
            Err(shared) => shared.system.stop(),
        }
        if let Some(native) = self.backend.native.clone() {
            // Stops every sandbox; blocks, so not on an async worker.
            let _ = tokio::task::spawn_blocking(move || native.shutdown()).await;
        }
        self.backend.store.quiesce();
        info!(target: "rampart::node", "node stopped");
    }
}
