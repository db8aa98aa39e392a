//! `eth_subscribe`: `newHeads` and `logs`, fed by committed blocks.

use alloy_rpc_types_eth::Filter;
use jsonrpsee::{PendingSubscriptionSink, SubscriptionMessage, core::SubscriptionResult};
use rampart_primitives::LogFilter;
use tokio::sync::broadcast::error::RecvError;

use crate::{
    backend::EthBackend,
    convert::{rpc_header, rpc_indexed_log},
    error::invalid_params,
    eth::EthRpc,
};

enum Kind {
    NewHeads,
    Logs(LogFilter),
}

fn message(value: &impl serde::Serialize) -> Option<SubscriptionMessage> {
    serde_json::value::to_raw_value(value)
        .ok()
        .map(SubscriptionMessage::from)
}

pub(crate) async fn subscribe<B: EthBackend>(
    rpc: &EthRpc<B>,
    pending: PendingSubscriptionSink,
    kind: String,
    params: Option<serde_json::Value>,
) -> SubscriptionResult {
    let kind = match kind.as_str() {
        "newHeads" => Kind::NewHeads,
        "logs" => {
            let (filter, min_topics) = match params {
                None => (Filter::default(), 0),
                Some(v) => match crate::eth::parse_filter(v) {
                    Ok(f) => f,
                    Err(e) => {
                        pending.reject(e).await;
                        return Ok(());
                    }
                },
            };
            Kind::Logs(LogFilter {
                from_block: 0,
                to_block: u64::MAX,
                addresses: filter.address.iter().copied().collect(),
                topics: filter
                    .topics
                    .iter()
                    .map(|t| t.iter().copied().collect())
                    .collect(),
                min_topics,
            })
        }
        other => {
            pending
                .reject(invalid_params(format!(
                    "unsupported subscription type: {other} (use newHeads or logs)"
                )))
                .await;
            return Ok(());
        }
    };
    let mut blocks = rpc.backend.subscribe_blocks();
    let sink = pending.accept().await?;
    tokio::spawn(async move {
        loop {
            let block = tokio::select! {
                _ = sink.closed() => break,
                b = blocks.recv() => match b {
                    Ok(b) => b,
                    // A slow subscriber misses blocks rather than holding memory without bound.
                    Err(RecvError::Lagged(n)) => {
                        tracing::debug!(target: "rampart::rpc", missed = n, "subscriber lagged");
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                },
            };
            let msgs: Vec<SubscriptionMessage> = match &kind {
                Kind::NewHeads => message(&rpc_header(&block.header)).into_iter().collect(),
                Kind::Logs(filter) => {
                    let mut logs = Vec::new();
                    filter.collect_block(
                        block.header.number,
                        block.hash,
                        block.header.timestamp,
                        &block.receipts,
                        &mut logs,
                    );
                    logs.iter()
                        .filter_map(|l| message(&rpc_indexed_log(l)))
                        .collect()
                }
            };
            for m in msgs {
                if sink.send(m).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok(())
}
