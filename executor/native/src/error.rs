//! Errors of the native runtime. A contract that reverts or breaks a limit is not an error: it is
//! a [`crate::CallOutcome`]. These are failures of the machinery (sandboxes, configuration).

use alloy_primitives::B256;

#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    #[error("invalid native contract binary: {0}")]
    InvalidBinary(#[from] crate::validate::BinaryError),
    #[error("binary {code_hash} unavailable: {reason}")]
    BinaryUnavailable { code_hash: B256, reason: String },
    #[error("sandbox backend {backend}: {message}")]
    Backend {
        backend: &'static str,
        message: String,
    },
    #[error("sandbox {id}: {message}")]
    Sandbox { id: String, message: String },
    #[error("no sandbox free for contract {code_hash} within {waited_ms} ms (pool limit reached)")]
    PoolExhausted { code_hash: B256, waited_ms: u64 },
    #[error("the native runtime is shut down")]
    ShutDown,
    #[error("configuration: {0}")]
    Config(String),
    #[error("I/O: {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl NativeError {
    /// Whether trying again (with another sandbox, later) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Sandbox { .. } | Self::PoolExhausted { .. } | Self::Backend { .. }
        )
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
