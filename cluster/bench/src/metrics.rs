//! The node's own figures: its Prometheus text (`rampart dev --metrics-addr`), read before and
//! after the measurement; the report carries the deltas. Plain HTTP/1.1 GET over a TCP stream
//! (the metrics listener speaks nothing else), bounded in time and size.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Largest metrics response read.
pub const MAX_METRICS_BYTES: usize = 4 * 1024 * 1024;

/// Samples without labels (`name value`), by name. Histogram buckets (with labels) are left
/// out; their `_sum` and `_count` are kept.
pub fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.contains('{') {
            continue;
        }
        let mut parts = line.split_whitespace();
        if let (Some(name), Some(v)) = (parts.next(), parts.next())
            && let Ok(v) = v.parse::<f64>()
        {
            out.insert(name.to_string(), v);
        }
    }
    out
}

/// `http://host:port/path` → (authority, path).
fn split_url(url: &str) -> anyhow::Result<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("metrics URL {url} is not http://"))?;
    let (auth, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/metrics"),
    };
    anyhow::ensure!(!auth.is_empty(), "metrics URL {url} has no host");
    Ok((auth.to_string(), path.to_string()))
}

/// Reads the metrics text at `url`.
pub async fn scrape(url: &str, timeout: Duration) -> anyhow::Result<BTreeMap<String, f64>> {
    let (auth, path) = split_url(url)?;
    let body = tokio::time::timeout(timeout, async {
        let mut stream = tokio::net::TcpStream::connect(&auth).await?;
        let req = format!("GET {path} HTTP/1.1\r\nhost: {auth}\r\nconnection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).await?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > MAX_METRICS_BYTES {
                return Err(std::io::Error::other("metrics response too large"));
            }
        }
        Ok::<_, std::io::Error>(buf)
    })
    .await
    .map_err(|_| anyhow::anyhow!("metrics {url}: no answer within {timeout:?}"))?
    .map_err(|e| anyhow::anyhow!("metrics {url}: {e}"))?;
    let text = String::from_utf8_lossy(&body);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("metrics {url}: malformed HTTP response"))?;
    anyhow::ensure!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "metrics {url}: {}",
        head.lines().next().unwrap_or("no status line")
    );
    Ok(parse(body))
}

/// The node's figures over the measurement (after − before).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeFigures {
    pub url: String,
    /// Every unlabelled sample's change, by name.
    pub deltas: BTreeMap<String, f64>,
    pub blocks_committed: Option<f64>,
    pub txs_committed: Option<f64>,
    pub txs_failed: Option<f64>,
    pub txs_rejected_at_ingress: Option<f64>,
    pub gas_used: Option<f64>,
    pub tx_executions: Option<f64>,
    /// Block-STM re-executions (conflicts): a cost, not a failure.
    pub tx_reexecutions: Option<f64>,
    pub validation_aborts: Option<f64>,
    pub blocks_parallel: Option<f64>,
    pub blocks_sequential: Option<f64>,
    /// Seconds Block-STM workers spent executing and validating, summed over workers.
    pub execution_s: Option<f64>,
    pub validation_s: Option<f64>,
    /// Mean per block over the measurement, milliseconds.
    pub block_build_ms_mean: Option<f64>,
    pub block_execute_ms_mean: Option<f64>,
    pub block_commit_ms_mean: Option<f64>,
    /// Gauges at the end.
    pub mempool_txs_end: Option<f64>,
}

impl NodeFigures {
    pub fn from_samples(
        url: &str,
        before: &BTreeMap<String, f64>,
        after: &BTreeMap<String, f64>,
    ) -> Self {
        let deltas: BTreeMap<String, f64> = after
            .iter()
            .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
            .collect();
        let d = |n: &str| deltas.get(n).copied();
        let mean_ms = |h: &str| match (d(&format!("{h}_sum")), d(&format!("{h}_count"))) {
            (Some(s), Some(c)) if c > 0.0 => Some(s / c * 1e3),
            _ => None,
        };
        Self {
            url: url.to_string(),
            blocks_committed: d("rampart_blocks_committed_total"),
            txs_committed: d("rampart_txs_committed_total"),
            txs_failed: d("rampart_txs_failed_total"),
            txs_rejected_at_ingress: d("rampart_txs_rejected_at_ingress_total"),
            gas_used: d("rampart_gas_used_total"),
            tx_executions: d("rampart_tx_executions_total"),
            tx_reexecutions: d("rampart_tx_reexecutions_total"),
            validation_aborts: d("rampart_validation_aborts_total"),
            blocks_parallel: d("rampart_blocks_parallel_total"),
            blocks_sequential: d("rampart_blocks_sequential_total"),
            execution_s: d("rampart_execution_seconds_total"),
            validation_s: d("rampart_validation_seconds_total"),
            block_build_ms_mean: mean_ms("rampart_block_build_seconds"),
            block_execute_ms_mean: mean_ms("rampart_block_execute_seconds"),
            block_commit_ms_mean: mean_ms("rampart_block_commit_seconds"),
            mempool_txs_end: after.get("rampart_mempool_txs").copied(),
            deltas,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP rampart_blocks_committed_total Blocks.\n# TYPE rampart_blocks_committed_total counter\nrampart_blocks_committed_total 12\nrampart_block_build_seconds_bucket{le=\"0.1\"} 3\nrampart_block_build_seconds_sum 0.5\nrampart_block_build_seconds_count 10\nrampart_mempool_txs 4\nrampart_tx_reexecutions_total 7\nrampart_validation_seconds_total 0.25\n";

    #[test]
    fn parses_and_diffs() {
        let before = parse(TEXT);
        assert_eq!(before.get("rampart_blocks_committed_total"), Some(&12.0));
        assert!(!before.keys().any(|k| k.contains("bucket")));
        let after = parse(
            &TEXT
                .replace("committed_total 12", "committed_total 20")
                .replace("_sum 0.5", "_sum 0.9")
                .replace("_count 10", "_count 14")
                .replace("reexecutions_total 7", "reexecutions_total 9")
                .replace(
                    "validation_seconds_total 0.25",
                    "validation_seconds_total 1",
                ),
        );
        let f = NodeFigures::from_samples("http://x/metrics", &before, &after);
        assert_eq!(f.blocks_committed, Some(8.0));
        assert_eq!(f.tx_reexecutions, Some(2.0));
        assert_eq!(f.validation_s, Some(0.75));
        assert_eq!(f.execution_s, None);
        let m = f.block_build_ms_mean.expect("mean");
        assert!((m - 100.0).abs() < 1e-9, "{m}");
        assert_eq!(f.mempool_txs_end, Some(4.0));
        assert_eq!(f.txs_failed, None);
    }

    #[test]
    fn urls() {
        assert_eq!(
            split_url("http://127.0.0.1:9545/metrics").expect("ok"),
            ("127.0.0.1:9545".to_string(), "/metrics".to_string())
        );
        assert_eq!(
            split_url("http://h:1").expect("ok").1,
            "/metrics".to_string()
        );
        assert!(split_url("https://h/metrics").is_err());
    }
}
