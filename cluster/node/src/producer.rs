//! The block producer: every interval, when transactions wait, take a batch from the mempool,
//! have the executor actor run it, commit the result in one batch and tell subscribers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use alloy_primitives::{Address, Bytes};
use rampart_evm::BlockParams;
use rampart_primitives::{ExecutedBlock, StateReader};
use rampart_rpc::BlockNotification;
use tokio::sync::watch;
use tracing::{Instrument, error, info, info_span, warn};

use crate::{
    backend::{NodeBackend, now_secs},
    executor_actor::{ExecuteBlock, ExecutorHandle},
};

#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    #[error("storage: {0}")]
    Storage(#[from] rampart_storage::StoreError),
    #[error("execution: {0}")]
    Execution(#[from] rampart_evm::ExecError),
    #[error("executor actor unavailable: {0}")]
    Mailbox(#[from] actix::MailboxError),
    #[error("commit task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("{0}")]
    Invariant(String),
}

/// A block the executor built, not yet committed.
#[derive(Debug)]
pub(crate) struct BuiltBlock {
    pub block: ExecutedBlock,
    pub candidates: usize,
    pub dropped: usize,
    pub started: std::time::Instant,
}

/// Builds and executes one block on the committed head if transactions wait (or, with
/// `allow_empty`, even if none do). Transactions that can never execute leave the pool here;
/// the included ones leave when the block commits.
pub(crate) async fn build_block(
    node: &NodeBackend,
    executor: &actix::Addr<crate::executor_actor::BlockExecutor>,
    allow_empty: bool,
    max_txs: usize,
) -> Result<Option<BuiltBlock>, ProduceError> {
    let head = node
        .store
        .head()?
        .ok_or_else(|| ProduceError::Invariant("store has no head".into()))?;
    let parent = node
        .store
        .header(head.number)?
        .ok_or_else(|| ProduceError::Invariant(format!("header {} missing", head.number)))?;
    let store = &node.store;
    let nonce_of = |a: &Address| store.account(a).ok().flatten().map_or(0, |acc| acc.nonce);
    let txs = node
        .pool
        .select(max_txs.max(1), node.spec.gas_limit, nonce_of);
    if txs.is_empty() && !allow_empty {
        return Ok(None);
    }
    let params = BlockParams {
        number: parent.number + 1,
        // Never earlier than the parent: block time is non-decreasing. The leader's clock is
        // read once here and replicated inside the header; replicas never read their own.
        timestamp: now_secs().max(parent.timestamp),
        beneficiary: node.spec.coinbase,
        gas_limit: node.spec.gas_limit,
        base_fee: node.spec.base_fee,
        prevrandao: rampart_evm::block::next_prevrandao(head.hash),
    };
    let candidates = txs.len();
    let started = std::time::Instant::now();
    let outcome = executor
        .send(ExecuteBlock {
            parent,
            params,
            txs,
            extra_data: Bytes::new(),
            span: tracing::Span::current(),
        })
        .await??;
    node.metrics
        .block_execute_seconds
        .observe(started.elapsed());

    let dropped: Vec<_> = outcome
        .rejected
        .iter()
        .filter(|r| !r.retry)
        .map(|r| r.hash)
        .collect();
    for r in outcome.rejected.iter().filter(|r| !r.retry) {
        warn!(target: "rampart::node", tx = %r.hash, reason = %r.reason, "transaction dropped at execution");
    }
    node.pool.remove(&dropped, false);
    node.metrics
        .txs_dropped_at_execution_total
        .fetch_add(dropped.len() as u64, Relaxed);
    if outcome.included.is_empty() && !allow_empty {
        return Ok(None);
    }
    Ok(Some(BuiltBlock {
        block: outcome.block,
        candidates,
        dropped: dropped.len(),
        started,
    }))
}

/// Next nonce of every sender with a transaction in `block` (senders from the receipts, nonces
/// from the raw transactions; no signature is recovered).
fn committed_nonces(block: &ExecutedBlock) -> BTreeMap<Address, u64> {
    use alloy_consensus::Transaction as _;
    use alloy_eips::eip2718::Decodable2718 as _;
    let mut committed: BTreeMap<Address, u64> = BTreeMap::new();
    for (raw, receipt) in block.transactions.iter().zip(&block.receipts) {
        let Ok(envelope) = alloy_consensus::TxEnvelope::decode_2718_exact(raw) else {
            continue;
        };
        let next = committed.entry(receipt.from).or_default();
        *next = (*next).max(envelope.nonce() + 1);
    }
    committed
}

/// Everything that follows a durable block commit, on every node: metrics, mempool clean-up,
/// sandboxes for native contracts the block deployed, subscribers.
pub(crate) fn on_block_committed(node: &NodeBackend, block: &ExecutedBlock) {
    let m = &node.metrics;
    m.blocks_committed_total.fetch_add(1, Relaxed);
    m.txs_committed_total
        .fetch_add(block.receipts.len() as u64, Relaxed);
    m.txs_failed_total.fetch_add(
        block.receipts.iter().filter(|r| !r.success).count() as u64,
        Relaxed,
    );
    m.gas_used_total.fetch_add(block.header.gas_used, Relaxed);
    m.head_block.store(block.header.number, Relaxed);
    node.pool.on_committed(committed_nonces(block));
    m.mempool_txs.store(node.pool.len() as u64, Relaxed);
    let number = block.header.number;
    if block.transactions.is_empty() {
        tracing::debug!(target: "rampart::node", number, hash = %block.hash, "empty block committed");
    } else {
        info!(target: "rampart::node", number, txs = block.transactions.len(),
            gas_used = block.header.gas_used, hash = %block.hash, "block committed");
    }
    record_inclusions(node, block);
    if let Some(rt) = &node.native {
        node.prewarmer.on_block(rt, block);
    }
    let _ = node.blocks.send(Arc::new(BlockNotification {
        header: block.header.clone(),
        hash: block.hash,
        receipts: block.receipts.clone(),
    }));
}

/// For every transaction of `block` whose client request this node traced (it accepted the
/// transaction, or a peer relayed it with its context): a `node.tx_included` span in that
/// transaction's trace, linked to the current span (the block's `node.build_block` on a single
/// node, `replication.apply_block` in a cluster, whose trace starts at the leader's build).
fn record_inclusions(node: &NodeBackend, block: &ExecutedBlock) {
    if node.traces.is_empty() {
        return;
    }
    let number = block.header.number;
    for (index, r) in block.receipts.iter().enumerate() {
        let Some(traceparent) = node.traces.take(&r.tx_hash) else {
            continue;
        };
        let span = tracing::info_span!(target: "rampart::node", "node.tx_included",
            tx_hash = %r.tx_hash, number, index, block_hash = %block.hash, success = r.success);
        rampart_telemetry::follow_remote(&span, &traceparent);
        rampart_telemetry::link_to_current(&span);
    }
}

/// Single node: builds, executes and commits one block. Returns the block, if any.
pub async fn produce_block(
    node: &NodeBackend,
    executor: &actix::Addr<crate::executor_actor::BlockExecutor>,
    allow_empty: bool,
) -> Result<Option<Arc<ExecutedBlock>>, ProduceError> {
    let Some(built) = build_block(node, executor, allow_empty, node.config.block.max_txs).await?
    else {
        return Ok(None);
    };
    let block = Arc::new(built.block);
    let to_commit = block.clone();
    let commit_started = std::time::Instant::now();
    let store = node.store.clone();
    tokio::task::spawn_blocking(move || {
        let _span = info_span!(target: "rampart::storage", "storage.commit_block", number = to_commit.header.number).entered();
        store.apply_block(&to_commit, None)
    })
    .await??;
    node.metrics
        .block_commit_seconds
        .observe(commit_started.elapsed());
    node.metrics
        .block_build_seconds
        .observe(built.started.elapsed());
    on_block_committed(node, &block);
    Ok(Some(block))
}

/// Runs until `shutdown` turns true; finishes the block in progress first.
pub async fn run(
    node: Arc<NodeBackend>,
    executor: Arc<ExecutorHandle>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker =
        tokio::time::interval(Duration::from_millis(node.config.block.interval_ms.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let empty_after = Duration::from_millis(node.config.block.empty_interval_ms);
    let mut last_block = tokio::time::Instant::now();
    let mut failures = 0u32;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = node.wake_producer.notified() => {}
            _ = shutdown.changed() => break,
        }
        let allow_empty = !empty_after.is_zero() && last_block.elapsed() >= empty_after;
        if node.pool.is_empty() && !allow_empty {
            continue;
        }
        let span = info_span!(target: "rampart::node", "node.build_block");
        match produce_block(&node, &executor.addr, allow_empty)
            .instrument(span)
            .await
        {
            Ok(Some(_)) => {
                failures = 0;
                last_block = tokio::time::Instant::now();
            }
            Ok(None) => failures = 0,
            Err(e) => {
                failures += 1;
                error!(target: "rampart::node", error = %e, failures, "block production failed");
                // Back off (bounded) so a persistent storage failure does not spin.
                tokio::time::sleep(Duration::from_millis(100 * u64::from(failures.min(50)))).await;
            }
        }
    }
}
