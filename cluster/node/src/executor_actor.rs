//! The block executor actor: owns block execution on its own thread (an actix `SyncArbiter`),
//! so CPU-bound EVM work never blocks the async runtime that serves RPC.

use std::thread::JoinHandle;

use actix::{Actor, Addr, Handler, Message, SyncArbiter, SyncContext};
use alloy_primitives::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use rampart_evm::{
    BlockInput, BlockOutcome, BlockParams, ChainConfig, ExecError, ParallelConfig, execute_block,
    execute_block_parallel_with,
};

use crate::metrics::Metrics;
use rampart_primitives::{BlockHeader, RecoveredTx};
use rampart_storage::StateStore;

/// Execute one block on top of the latest committed state.
#[derive(Debug, Message)]
#[rtype(result = "Result<BlockOutcome, ExecError>")]
pub struct ExecuteBlock {
    pub parent: BlockHeader,
    pub params: BlockParams,
    pub txs: Vec<RecoveredTx>,
    pub extra_data: Bytes,
    /// The span the request comes from (`node.build_block`): the executor runs on its own
    /// threads, so its `executor.execute_block` span names its parent explicitly and lands in
    /// the block's trace.
    pub span: tracing::Span,
}

#[derive(Debug)]
pub struct BlockExecutor {
    store: StateStore,
    chain: ChainConfig,
    /// `None`: sequential execution.
    parallel: Option<ParallelConfig>,
    native: Option<Arc<rampart_native::NativeRuntime>>,
    metrics: Arc<Metrics>,
}

impl Actor for BlockExecutor {
    type Context = SyncContext<Self>;
}

impl Handler<ExecuteBlock> for BlockExecutor {
    type Result = Result<BlockOutcome, ExecError>;

    fn handle(&mut self, msg: ExecuteBlock, _: &mut Self::Context) -> Self::Result {
        let _span = tracing::info_span!(target: "rampart::executor", parent: &msg.span,
            "executor.execute_block", number = msg.params.number, txs = msg.txs.len())
        .entered();
        let snapshot = self.store.snapshot();
        let head = snapshot.head().map_err(|e| ExecError::State(e.into()))?;
        if head.map(|h| h.number) != Some(msg.parent.number) {
            return Err(ExecError::Bug(format!(
                "asked to build on block {} but state is at {:?}",
                msg.parent.number,
                head.map(|h| h.number)
            )));
        }
        let input = BlockInput {
            parent: &msg.parent,
            params: msg.params,
            txs: &msg.txs,
            extra_data: msg.extra_data,
            native: self.native.as_deref(),
        };
        match &self.parallel {
            None => {
                let outcome = execute_block(&snapshot, &self.chain, &input)?;
                self.metrics.blocks_sequential_total.fetch_add(1, Relaxed);
                Ok(outcome)
            }
            Some(config) => {
                let (outcome, stats) =
                    execute_block_parallel_with(&snapshot, &self.chain, &input, config)?;
                let m = &self.metrics;
                match &stats.fallback {
                    Some(reason) => {
                        m.blocks_sequential_total.fetch_add(1, Relaxed);
                        tracing::debug!(target: "rampart::executor", ?reason, "block executed sequentially");
                    }
                    None => {
                        m.blocks_parallel_total.fetch_add(1, Relaxed);
                        m.tx_executions_total
                            .fetch_add(stats.executions as u64, Relaxed);
                        m.tx_reexecutions_total.fetch_add(
                            stats.executions.saturating_sub(msg.txs.len()) as u64,
                            Relaxed,
                        );
                        m.validation_aborts_total
                            .fetch_add(stats.aborts as u64, Relaxed);
                        m.execution_nanos_total
                            .fetch_add(stats.execution_time.as_nanos() as u64, Relaxed);
                        m.validation_nanos_total
                            .fetch_add(stats.validation_time.as_nanos() as u64, Relaxed);
                    }
                }
                Ok(outcome)
            }
        }
    }
}

/// The running actor system; stopping it joins the executor thread.
#[derive(Debug)]
pub struct ExecutorHandle {
    pub addr: Addr<BlockExecutor>,
    pub(crate) system: actix::System,
    thread: Option<JoinHandle<()>>,
}

impl ExecutorHandle {
    /// Starts an actix system on its own thread (actix actors cannot start inside a plain
    /// tokio runtime) with one executor thread. Its mailbox is bounded (actix's default, 16).
    pub fn start(
        store: StateStore,
        chain: ChainConfig,
        parallel: Option<ParallelConfig>,
        native: Option<Arc<rampart_native::NativeRuntime>>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("rampart-actors".into())
            .spawn(move || {
                let system = actix::System::new();
                system.block_on(async {
                    let addr = SyncArbiter::start(1, move || BlockExecutor {
                        store: store.clone(),
                        chain: chain.clone(),
                        parallel: parallel.clone(),
                        native: native.clone(),
                        metrics: metrics.clone(),
                    });
                    let _ = tx.send((addr, actix::System::current()));
                });
                let _ = system.run();
            })?;
        let (addr, system) = rx
            .recv()
            .map_err(|_| std::io::Error::other("executor actor system failed to start"))?;
        Ok(Self {
            addr,
            system,
            thread: Some(thread),
        })
    }

    pub fn stop(&mut self) {
        self.system.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ExecutorHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
