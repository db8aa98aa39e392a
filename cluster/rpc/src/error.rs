//! JSON-RPC error objects, shaped as geth shapes them so that clients decode them unchanged.

use alloy_primitives::Bytes;
use alloy_sol_types::{Panic, Revert, SolError};
use jsonrpsee::types::ErrorObjectOwned;

use crate::backend::BackendError;

pub const INVALID_PARAMS: i32 = -32602;
pub const INTERNAL_ERROR: i32 = -32603;
pub const SERVER_ERROR: i32 = -32000;
pub const LIMIT_EXCEEDED: i32 = -32005;
pub const EXECUTION_REVERTED: i32 = 3;

pub fn invalid_params(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS, msg.into(), None::<()>)
}

pub fn server_error(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(SERVER_ERROR, msg.into(), None::<()>)
}

/// geth: code 3, "execution reverted: <reason>" when the data is `Error(string)` or a panic,
/// plain "execution reverted" otherwise, and the raw revert data as `data`.
pub fn reverted(data: &Bytes) -> ErrorObjectOwned {
    let message = match revert_reason(data) {
        Some(reason) => format!("execution reverted: {reason}"),
        None => "execution reverted".to_string(),
    };
    ErrorObjectOwned::owned(EXECUTION_REVERTED, message, Some(data.to_string()))
}

/// Decodes `Error(string)` and `Panic(uint256)` revert data.
pub fn revert_reason(data: &[u8]) -> Option<String> {
    if let Ok(r) = Revert::abi_decode(data) {
        return Some(r.reason);
    }
    if let Ok(p) = Panic::abi_decode(data) {
        return Some(p.to_string());
    }
    None
}

impl From<BackendError> for ErrorObjectOwned {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::Internal(m) => ErrorObjectOwned::owned(INTERNAL_ERROR, m, None::<()>),
            BackendError::Rejected(m) => server_error(m),
            BackendError::InvalidParams(m) => invalid_params(m),
            BackendError::LimitExceeded(m) | BackendError::Busy(m) => {
                ErrorObjectOwned::owned(LIMIT_EXCEEDED, m, None::<()>)
            }
            BackendError::Reverted(data) => reverted(&data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_string_is_decoded_into_the_message() {
        let data: Bytes = Revert::from("not owner").abi_encode().into();
        let e = reverted(&data);
        assert_eq!(e.code(), 3);
        assert_eq!(e.message(), "execution reverted: not owner");
        let expected = format!("\"{data}\"");
        assert_eq!(e.data().map(|d| d.get()), Some(expected.as_str()));
    }

    #[test]
    fn custom_error_keeps_plain_message_and_data() {
        let data = Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef, 1, 2]);
        let e = reverted(&data);
        assert_eq!(e.message(), "execution reverted");
        assert!(e.data().is_some());
    }
}
