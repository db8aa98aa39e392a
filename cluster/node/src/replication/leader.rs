//! Block production in a cluster: only the leader builds; it executes each block once,
//! proposes it through Raft and waits until it is applied before it builds the next.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{Instrument, debug, error, info_span, warn};

use super::Shared;
use super::entry::LogEntry;
use crate::NodeBackend;
use crate::executor_actor::ExecutorHandle;
use crate::producer::build_block;

/// Runs until `shutdown` turns true.
pub(crate) async fn run(
    node: Arc<NodeBackend>,
    executor: Arc<ExecutorHandle>,
    shared: Arc<Shared>,
    handle: rampart_consensus::DriverHandle,
    commit_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker =
        tokio::time::interval(Duration::from_millis(node.config.block.interval_ms.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let empty_after = Duration::from_millis(node.config.block.empty_interval_ms);
    let mut last_block = tokio::time::Instant::now();
    let mut role_rx = shared.role.subscribe();
    // Applied index the new leader must reach before it builds: the end of its log when it
    // took over (its no-op entry), so every block of earlier terms is applied first.
    let mut barrier: Option<(u64, u64)> = None; // (role change count, index)
    let mut failures = 0u32;
    // The role change for which the pending transactions were last relayed.
    let mut relayed_for: Option<u64> = None;
    // Lowered when a block's Raft entry came out above the entry size limit; back to the
    // configured maximum after the next block that fits.
    let mut max_txs = node.config.block.max_txs;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = node.wake_producer.notified() => {}
            _ = role_rx.changed() => {}
            _ = shutdown.changed() => break,
        }
        let role = *shared.role.borrow();
        if !role.is_leader {
            barrier = None;
            // A new leader may have missed transactions this node accepted while it was
            // unreachable (relays are not retried): hand the pending ones over once per change.
            if role.leader_id.is_some() && relayed_for != Some(role.changes) {
                relayed_for = Some(role.changes);
                relay_pending(&node);
            }
            continue;
        }
        let index = match barrier {
            Some((changes, index)) if changes == role.changes => index,
            _ => match status_last_index(&handle).await {
                Some(index) => {
                    barrier = Some((role.changes, index));
                    last_block = tokio::time::Instant::now();
                    index
                }
                None => continue,
            },
        };
        if shared.applied.borrow().index < index {
            continue;
        }
        let allow_empty = !empty_after.is_zero() && last_block.elapsed() >= empty_after;
        if node.pool.is_empty() && !allow_empty {
            continue;
        }
        let span = info_span!(target: "rampart::node", "node.build_block");
        let attempt = propose_block(
            &node,
            &executor,
            &shared,
            &handle,
            allow_empty,
            commit_timeout,
            &mut max_txs,
        )
        .instrument(span);
        let result = tokio::select! {
            r = attempt => r,
            // Stopping: a proposal in flight commits (or not) without us; the log decides.
            _ = shutdown.changed() => break,
        };
        match result {
            Ok(true) => {
                failures = 0;
                last_block = tokio::time::Instant::now();
            }
            Ok(false) => failures = 0,
            Err(e) => {
                failures += 1;
                error!(target: "rampart::node", error = %e, failures, "block production failed");
                tokio::time::sleep(Duration::from_millis(100 * u64::from(failures.min(50)))).await;
            }
        }
    }
}

/// Relays every transaction that is ready in the local pool to the peers again.
fn relay_pending(node: &NodeBackend) {
    use rampart_primitives::StateReader as _;
    let Some(net) = node.relay.get() else { return };
    let store = &node.store;
    let nonce_of =
        |a: &alloy_primitives::Address| store.account(a).ok().flatten().map_or(0, |acc| acc.nonce);
    let pending = node.pool.select(usize::MAX, u64::MAX, nonce_of);
    if !pending.is_empty() {
        debug!(target: "rampart::node", txs = pending.len(), "relaying pending transactions to the new leader");
    }
    for tx in pending {
        net.relay(rampart_transport::RelayedTx {
            raw: tx.raw.0.clone(),
            sender: tx.sender.0.to_vec().into(),
            traceparent: node.traces.get(&tx.hash),
        });
    }
}

async fn status_last_index(handle: &rampart_consensus::DriverHandle) -> Option<u64> {
    match handle.status() {
        Ok(pending) => match pending.await {
            Ok(Ok(st)) => Some(st.last_index),
            _ => None,
        },
        Err(_) => None,
    }
}

/// Builds one block, proposes it and waits for it to be applied. True when it committed.
/// A block whose entry is above Raft's entry limit is rebuilt with half the transactions;
/// a single transaction that alone is too large leaves the pool.
async fn propose_block(
    node: &NodeBackend,
    executor: &ExecutorHandle,
    shared: &Shared,
    handle: &rampart_consensus::DriverHandle,
    allow_empty: bool,
    commit_timeout: Duration,
    max_txs: &mut usize,
) -> Result<bool, String> {
    let Some(built) = build_block(node, &executor.addr, allow_empty, *max_txs)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(false);
    };
    let number = built.block.header.number;
    let hash = built.block.hash;
    let txs = built.block.transactions.len();
    let first_tx = built.block.receipts.first().map(|r| r.tx_hash);
    let entry = LogEntry::Block {
        block: built.block,
        // The `node.build_block` span's context (when OpenTelemetry export is on): every
        // replica's apply of this block joins its trace.
        traceparent: rampart_telemetry::current_traceparent(),
    }
    .encode()
    .map_err(|e| e.to_string())?;
    let proposed = handle
        .propose(entry)
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    let proposed = match proposed {
        Ok(p) => {
            *max_txs = node.config.block.max_txs;
            p
        }
        Err(rampart_consensus::ConsensusError::EntryTooLarge {
            size_bytes,
            max_bytes,
        }) => {
            if txs <= 1 {
                // One transaction whose block cannot be replicated: it can never be included.
                warn!(target: "rampart::node", number, size_bytes, max_bytes, tx = ?first_tx,
                    "a single transaction's block exceeds the Raft entry limit; dropping the transaction");
                if let Some(h) = first_tx {
                    node.pool.remove(&[h], true);
                }
            } else {
                *max_txs = (txs / 2).max(1);
                warn!(target: "rampart::node", number, txs, size_bytes, max_bytes,
                    next_max_txs = *max_txs, "block entry above the Raft entry limit; rebuilding with fewer transactions");
            }
            return Ok(false);
        }
        Err(e) => {
            // Not the leader any more, or overloaded: the transactions stay in the pool.
            debug!(target: "rampart::node", number, error = %e, "block not proposed");
            return Ok(false);
        }
    };
    let mut applied = shared.applied.subscribe();
    let reached = tokio::time::timeout(
        commit_timeout,
        applied.wait_for(|a| a.index >= proposed.index),
    )
    .await;
    match reached {
        Ok(Ok(a))
            if a.head.hash == hash
                || node.store.header(number).ok().flatten().map(|h| h.hash()) == Some(hash) =>
        {
            node.metrics
                .block_build_seconds
                .observe(built.started.elapsed());
            debug!(target: "rampart::node", number, txs, candidates = built.candidates,
                dropped = built.dropped, index = proposed.index, "block committed through raft");
            Ok(true)
        }
        Ok(_) => {
            warn!(target: "rampart::node", number, index = proposed.index, "proposed block superseded");
            Ok(false)
        }
        Err(_) => {
            warn!(target: "rampart::node", number, index = proposed.index,
                timeout_ms = commit_timeout.as_millis() as u64, "proposed block not committed in time");
            Ok(false)
        }
    }
}
