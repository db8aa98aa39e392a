//! Prometheus metrics: counters and gauges in atomics, served as text at `GET /metrics` on
//! their own listener (default 127.0.0.1:9545). Names carry their units.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Upper bounds (seconds) of the duration histogram buckets.
const BUCKETS_S: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// A cumulative histogram of durations.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS_S.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS_S.iter().enumerate() {
            if s <= *b {
                self.buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add(d.as_micros() as u64, Relaxed);
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, b) in BUCKETS_S.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                self.buckets[i].load(Relaxed)
            );
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_us.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Everything the node counts.
#[derive(Debug, Default)]
pub struct Metrics {
    pub blocks_committed_total: AtomicU64,
    pub txs_committed_total: AtomicU64,
    pub txs_failed_total: AtomicU64,
    pub txs_dropped_at_execution_total: AtomicU64,
    pub txs_rejected_at_ingress_total: AtomicU64,
    pub txs_accepted_total: AtomicU64,
    /// Transactions a peer relayed that entered this node's pool (cluster only).
    pub txs_relayed_in_total: AtomicU64,
    /// Block entries a replica skipped because another block at that height committed first.
    pub blocks_superseded_total: AtomicU64,
    /// Raft leader changes seen by this node.
    pub leader_changes_total: AtomicU64,
    pub gas_used_total: AtomicU64,
    pub head_block: AtomicU64,
    pub mempool_txs: AtomicU64,
    pub blocks_parallel_total: AtomicU64,
    pub blocks_sequential_total: AtomicU64,
    pub tx_executions_total: AtomicU64,
    pub tx_reexecutions_total: AtomicU64,
    pub validation_aborts_total: AtomicU64,
    /// Nanoseconds Block-STM workers spent executing, summed over workers.
    pub execution_nanos_total: AtomicU64,
    /// Nanoseconds Block-STM workers spent validating, summed over workers.
    pub validation_nanos_total: AtomicU64,
    pub block_build_seconds: Histogram,
    pub block_execute_seconds: Histogram,
    pub block_commit_seconds: Histogram,
    /// The native runtime's counters, when native contracts are on.
    pub native: std::sync::OnceLock<Arc<rampart_native::RuntimeStats>>,
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Relaxed)
            );
        };
        let seconds_counter = |out: &mut String, name: &str, help: &str, nanos: &AtomicU64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                nanos.load(Relaxed) as f64 / 1e9
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}",
                v.load(Relaxed)
            );
        };
        counter(
            &mut out,
            "rampart_blocks_committed_total",
            "Blocks committed.",
            &self.blocks_committed_total,
        );
        counter(
            &mut out,
            "rampart_txs_committed_total",
            "Transactions included in committed blocks.",
            &self.txs_committed_total,
        );
        counter(
            &mut out,
            "rampart_txs_failed_total",
            "Included transactions that reverted or halted.",
            &self.txs_failed_total,
        );
        counter(
            &mut out,
            "rampart_txs_dropped_at_execution_total",
            "Transactions left out of a block as invalid at their position.",
            &self.txs_dropped_at_execution_total,
        );
        counter(
            &mut out,
            "rampart_txs_accepted_total",
            "Transactions accepted into the mempool.",
            &self.txs_accepted_total,
        );
        counter(
            &mut out,
            "rampart_txs_relayed_in_total",
            "Transactions relayed by a peer and added to the mempool.",
            &self.txs_relayed_in_total,
        );
        counter(
            &mut out,
            "rampart_blocks_superseded_total",
            "Proposed blocks skipped at apply because another block at that height committed first.",
            &self.blocks_superseded_total,
        );
        counter(
            &mut out,
            "rampart_leader_changes_total",
            "Raft leader changes seen by this node.",
            &self.leader_changes_total,
        );
        counter(
            &mut out,
            "rampart_txs_rejected_at_ingress_total",
            "Transactions rejected by eth_sendRawTransaction.",
            &self.txs_rejected_at_ingress_total,
        );
        counter(
            &mut out,
            "rampart_gas_used_total",
            "Gas used by committed blocks.",
            &self.gas_used_total,
        );
        counter(
            &mut out,
            "rampart_blocks_parallel_total",
            "Blocks executed with Block-STM.",
            &self.blocks_parallel_total,
        );
        counter(
            &mut out,
            "rampart_blocks_sequential_total",
            "Blocks executed sequentially (mode, size or a fallback rule).",
            &self.blocks_sequential_total,
        );
        counter(
            &mut out,
            "rampart_tx_executions_total",
            "Transaction executions by Block-STM, re-executions included.",
            &self.tx_executions_total,
        );
        counter(
            &mut out,
            "rampart_tx_reexecutions_total",
            "Block-STM executions beyond one per transaction (conflicts).",
            &self.tx_reexecutions_total,
        );
        counter(
            &mut out,
            "rampart_validation_aborts_total",
            "Block-STM validations that failed and aborted an incarnation.",
            &self.validation_aborts_total,
        );
        seconds_counter(
            &mut out,
            "rampart_execution_seconds_total",
            "Time Block-STM workers spent executing transactions, summed over workers.",
            &self.execution_nanos_total,
        );
        seconds_counter(
            &mut out,
            "rampart_validation_seconds_total",
            "Time Block-STM workers spent validating read sets, summed over workers.",
            &self.validation_nanos_total,
        );
        gauge(
            &mut out,
            "rampart_head_block",
            "Number of the last committed block.",
            &self.head_block,
        );
        gauge(
            &mut out,
            "rampart_mempool_txs",
            "Transactions waiting in the mempool.",
            &self.mempool_txs,
        );
        self.block_build_seconds.render(
            "rampart_block_build_seconds",
            "Time to build, execute and commit one block.",
            &mut out,
        );
        self.block_execute_seconds.render(
            "rampart_block_execute_seconds",
            "Time the executor spent on one block.",
            &mut out,
        );
        self.block_commit_seconds.render(
            "rampart_block_commit_seconds",
            "Time of the atomic RocksDB write of one block.",
            &mut out,
        );
        if let Some(n) = self.native.get() {
            let name = "rampart_native_calls_total";
            let _ = writeln!(
                out,
                "# HELP {name} Native contract calls that ended, by status (an aborted and \
                 re-executed Block-STM incarnation counts too).\n# TYPE {name} counter"
            );
            for (status, v) in [
                ("success", &n.calls_success_total),
                ("revert", &n.calls_revert_total),
                ("failed", &n.calls_failed_total),
            ] {
                let _ = writeln!(out, "{name}{{status=\"{status}\"}} {}", v.load(Relaxed));
            }
            counter(
                &mut out,
                "rampart_native_sandboxes_started_total",
                "Sandboxes started for native contracts (cold starts).",
                &n.sandboxes_started_total,
            );
            counter(
                &mut out,
                "rampart_native_sandboxes_replaced_total",
                "Sandboxes replaced after their contract host failed or stopped answering.",
                &n.sandboxes_replaced_total,
            );
            counter(
                &mut out,
                "rampart_native_state_reads_total",
                "Storage reads of native contract calls.",
                &n.state_reads_total,
            );
            counter(
                &mut out,
                "rampart_native_preloaded_reads_total",
                "Storage reads of native calls answered in the sandbox (by the contract host or \
                 the contract's SDK: preloaded slots, slots written or read earlier in the call), \
                 without a round trip to the node.",
                &n.preloaded_reads_total,
            );
        }
        out
    }
}

/// Largest request head the metrics listener reads.
const MAX_REQUEST_BYTES: usize = 8 * 1024;

/// Serves `GET /metrics` until the listener fails. Anything else gets 404.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; MAX_REQUEST_BYTES];
            let mut len = 0;
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while len < buf.len() {
                    let n = stream.read(&mut buf[len..]).await?;
                    if n == 0 {
                        break;
                    }
                    len += n;
                    if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                Ok::<_, std::io::Error>(())
            })
            .await;
            if !matches!(read, Ok(Ok(()))) {
                return;
            }
            let head = String::from_utf8_lossy(&buf[..len]);
            let (status, body) =
                if head.starts_with("GET /metrics ") || head.starts_with("GET /metrics?") {
                    ("200 OK", metrics.render())
                } else {
                    ("404 Not Found", "not found\n".to_string())
                };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

/// Binds the metrics listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_is_prometheus_text() {
        let m = Metrics::default();
        m.blocks_committed_total.fetch_add(3, Relaxed);
        m.block_execute_seconds.observe(Duration::from_millis(3));
        m.execution_nanos_total.fetch_add(1_500_000_000, Relaxed);
        let text = m.render();
        assert!(
            text.contains("rampart_execution_seconds_total 1.5\n"),
            "{text}"
        );
        assert!(
            text.contains("rampart_validation_seconds_total 0\n"),
            "{text}"
        );
        assert!(text.contains("rampart_blocks_committed_total 3"));
        assert!(text.contains("rampart_block_execute_seconds_bucket{le=\"0.0025\"} 0"));
        assert!(text.contains("rampart_block_execute_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("rampart_block_execute_seconds_count 1"));
        assert!(
            !text.contains("rampart_native"),
            "no native counters while native is off"
        );

        let native = Arc::new(rampart_native::RuntimeStats::default());
        native.calls_success_total.fetch_add(5, Relaxed);
        native.calls_failed_total.fetch_add(2, Relaxed);
        native.sandboxes_started_total.fetch_add(1, Relaxed);
        assert!(m.native.set(native).is_ok(), "set once");
        let text = m.render();
        assert!(
            text.contains("rampart_native_calls_total{status=\"success\"} 5\n"),
            "{text}"
        );
        assert!(text.contains("rampart_native_calls_total{status=\"revert\"} 0\n"));
        assert!(text.contains("rampart_native_calls_total{status=\"failed\"} 2\n"));
        assert!(text.contains("rampart_native_sandboxes_started_total 1\n"));
        assert!(text.contains("rampart_native_sandboxes_replaced_total 0\n"));
        assert!(text.contains("rampart_native_state_reads_total 0\n"));
        assert!(text.contains("rampart_native_preloaded_reads_total 0\n"));
    }
}
