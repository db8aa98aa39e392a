//! The crate's error type: what can stop a benchmark before it produces a report, or make its
//! report a failure. Transactions that revert or time out are *results* (counted in the
//! report), not errors.

use std::path::PathBuf;

use alloy_primitives::{Address, U256};

/// Why `rampart bench` stopped or failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The scenario file cannot be read or parsed, or a knob is out of range.
    #[error("invalid scenario{}: {message}", path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default())]
    Scenario {
        path: Option<PathBuf>,
        message: String,
    },
    /// An endpoint did not answer `eth_chainId`.
    #[error("cannot reach the JSON-RPC endpoint {endpoint} ({reason}); is the node running?")]
    Unreachable { endpoint: String, reason: String },
    /// Two endpoints report different chain ids (they are not one network).
    #[error("endpoints disagree on the chain id: {first} says {first_id}, {other} says {other_id}")]
    ChainMismatch {
        first: String,
        first_id: u64,
        other: String,
        other_id: u64,
    },
    /// The funding key cannot pay for the setup.
    #[error(
        "the funder {funder} has {balance} wei but setup needs about {needed} wei; pass --key of a funded account"
    )]
    Unfunded {
        funder: Address,
        balance: U256,
        needed: U256,
    },
    /// The workload needs something the endpoint does not offer.
    #[error("target does not support native contracts: {endpoint} ({reason})")]
    NativeUnsupported { endpoint: String, reason: String },
    /// A setup transaction was rejected, reverted or not committed in time.
    #[error("setup failed: {0}")]
    Setup(String),
    /// Warm-up transactions were not all committed.
    #[error("warm-up failed: {failed} of {total} transactions were not committed ({reasons})")]
    Warmup {
        failed: usize,
        total: usize,
        reasons: String,
    },
    /// The run finished, but more transactions failed than allowed.
    #[error("failure share {share:.4} is above --max-failure-share {limit}")]
    FailureShare { share: f64, limit: f64 },
    /// Writing a report or a plot failed.
    #[error("writing {}: {message}", path.display())]
    Output { path: PathBuf, message: String },
    /// Anything else (a malformed answer from the endpoint, a signing failure, …).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl BenchError {
    /// Whether running the same command again might succeed without changing it (the endpoint
    /// was down or slow), as opposed to an input that must be fixed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. } | Self::Warmup { .. } | Self::FailureShare { .. }
        )
    }

    pub(crate) fn scenario(message: impl Into<String>) -> Self {
        Self::Scenario {
            path: None,
            message: message.into(),
        }
    }

    /// Recovers a `BenchError` that travelled inside an `anyhow::Error`.
    pub(crate) fn from_anyhow(e: anyhow::Error) -> Self {
        match e.downcast::<BenchError>() {
            Ok(b) => b,
            Err(e) => Self::Other(e),
        }
    }
}

/// `Result` with [`BenchError`].
pub type Result<T> = std::result::Result<T, BenchError>;
