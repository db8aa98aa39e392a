//! The account code that marks a native contract, and the deploy options.
//!
//! `0xEF 0x52 0x4E` ("RN") followed by the 32-byte code hash (keccak256 of the binary): 35 bytes,
//! a contract whose every call runs in a fresh contract process (the default). `0xEF 0x52 0x50`
//! ("RP") + hash: the same, deployed with the persistent-process option ([`ProcessMode`]).
//! `0xEF` as a first byte cannot come from an EVM deployment (EIP-3541), and the second byte
//! `0x52` differs from EOF (`0xEF00`) and EIP-7702 delegations (`0xEF0100`).

use alloy_primitives::{Address, B256, Bytes, address, keccak256};

/// The system address a transaction deploys a native contract to: its data is the binary,
/// optionally behind a [`DEPLOY_OPTIONS_PREFIX`] header.
pub const NATIVE_DEPLOYER: Address = address!("0x0000000000000000000000000000000000ef524e");

/// The first bytes of a stored binary (the code of its [`binary_holder`]): `0xEF` so that no EVM
/// call can run it, `"RB"` for "Rampart binary".
pub const NATIVE_BINARY_PREFIX: [u8; 3] = [0xEF, 0x52, 0x42];

/// The account whose code is [`NATIVE_BINARY_PREFIX`] followed by the binary hashing to
/// `code_hash`: binaries live in the state like code, once per hash.
pub fn binary_holder(code_hash: B256) -> Address {
    let mut seed = b"rampart.native.binary".to_vec();
    seed.extend_from_slice(code_hash.as_slice());
    Address::from_slice(&keccak256(seed)[12..])
}

/// The first three bytes of a native contract's account code (per-call processes).
pub const NATIVE_CODE_PREFIX: [u8; 3] = [0xEF, 0x52, 0x4E];
/// The first three bytes of a native contract deployed with persistent processes.
pub const NATIVE_PERSISTENT_CODE_PREFIX: [u8; 3] = [0xEF, 0x52, 0x50];
/// Length of the whole marker.
pub const NATIVE_CODE_LEN: usize = NATIVE_CODE_PREFIX.len() + 32;

/// Deploy data may begin with `0xEF 0x52 0x4F` ("RO", "Rampart options") and one flags byte,
/// followed by the binary. Without it (the data begins with the ELF magic) every option is off.
pub const DEPLOY_OPTIONS_PREFIX: [u8; 3] = [0xEF, 0x52, 0x4F];
/// Deploy flag: calls may reuse a contract process ([`ProcessMode::Persistent`]).
pub const DEPLOY_FLAG_PERSISTENT: u8 = 0x01;

/// How the contract host runs a contract's calls, chosen at deploy and fixed in its marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProcessMode {
    /// Every call in a fresh contract process, killed when the call ends: nothing a call leaves
    /// in memory reaches another call. The default.
    #[default]
    PerCall,
    /// A process that ended its call with a return or revert may serve the next call of the same
    /// binary on that host, up to `limits.persistent_process_calls` calls. Saves the process start
    /// per call; the contract must keep nothing it relies on in memory (any call may land on a
    /// fresh process). A failed call still kills its process.
    Persistent,
}

/// What a native marker says: which binary, and how to run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NativeCode {
    pub code_hash: B256,
    pub mode: ProcessMode,
}

impl From<B256> for NativeCode {
    /// A binary run with the default [`ProcessMode::PerCall`].
    fn from(code_hash: B256) -> Self {
        Self {
            code_hash,
            mode: ProcessMode::PerCall,
        }
    }
}

/// The account code for a native contract whose binary hashes to `code_hash`.
pub fn native_code(code_hash: B256, mode: ProcessMode) -> Bytes {
    let mut code = Vec::with_capacity(NATIVE_CODE_LEN);
    code.extend_from_slice(match mode {
        ProcessMode::PerCall => &NATIVE_CODE_PREFIX,
        ProcessMode::Persistent => &NATIVE_PERSISTENT_CODE_PREFIX,
    });
    code.extend_from_slice(code_hash.as_slice());
    code.into()
}

/// The binary and mode if `code` is a native marker; `None` for EVM code, EOF, EIP-7702.
pub fn parse_native_code(code: &[u8]) -> Option<NativeCode> {
    if code.len() != NATIVE_CODE_LEN {
        return None;
    }
    let mode = if code.starts_with(&NATIVE_CODE_PREFIX) {
        ProcessMode::PerCall
    } else if code.starts_with(&NATIVE_PERSISTENT_CODE_PREFIX) {
        ProcessMode::Persistent
    } else {
        return None;
    };
    Some(NativeCode {
        code_hash: B256::from_slice(&code[NATIVE_CODE_PREFIX.len()..]),
        mode,
    })
}

/// Why deploy data cannot be split into options and binary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployOptionsError {
    #[error("deploy options header is truncated (expected EF 52 4F and one flags byte)")]
    Truncated,
    #[error("unknown deploy option flags 0x{0:02x} (known: 0x01 persistent processes)")]
    UnknownFlags(u8),
}

/// Splits a deploy transaction's data into the process mode and the binary.
pub fn parse_deploy(data: &[u8]) -> Result<(ProcessMode, &[u8]), DeployOptionsError> {
    let Some(rest) = data.strip_prefix(&DEPLOY_OPTIONS_PREFIX) else {
        return Ok((ProcessMode::PerCall, data));
    };
    let (&flags, binary) = rest.split_first().ok_or(DeployOptionsError::Truncated)?;
    if flags & !DEPLOY_FLAG_PERSISTENT != 0 {
        return Err(DeployOptionsError::UnknownFlags(flags));
    }
    let mode = if flags & DEPLOY_FLAG_PERSISTENT != 0 {
        ProcessMode::Persistent
    } else {
        ProcessMode::PerCall
    };
    Ok((mode, binary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trip_and_no_collisions() {
        let h = B256::repeat_byte(0xab);
        let code = native_code(h, ProcessMode::PerCall);
        assert_eq!(code.len(), 35);
        assert_eq!(parse_native_code(&code), Some(NativeCode::from(h)));
        let persistent = native_code(h, ProcessMode::Persistent);
        assert_eq!(&persistent[..3], &[0xEF, 0x52, 0x50]);
        assert_eq!(
            parse_native_code(&persistent),
            Some(NativeCode {
                code_hash: h,
                mode: ProcessMode::Persistent
            })
        );
        // EOF container, EIP-7702 delegation, ordinary code, truncated marker, the binary prefix.
        assert_eq!(parse_native_code(&[0xEF, 0x00, 0x01]), None);
        let mut delegation = vec![0xEF, 0x01, 0x00];
        delegation.extend([0u8; 20]);
        assert_eq!(parse_native_code(&delegation), None);
        assert_eq!(parse_native_code(&[0x60, 0x80]), None);
        assert_eq!(parse_native_code(&code[..34]), None);
        let mut holder = NATIVE_BINARY_PREFIX.to_vec();
        holder.extend([0u8; 32]);
        assert_eq!(parse_native_code(&holder), None);
    }

    #[test]
    fn deploy_options() {
        let elf = b"\x7fELF rest";
        assert_eq!(parse_deploy(elf), Ok((ProcessMode::PerCall, &elf[..])));
        let mut with = vec![0xEF, 0x52, 0x4F, 0x01];
        with.extend_from_slice(elf);
        assert_eq!(parse_deploy(&with), Ok((ProcessMode::Persistent, &elf[..])));
        with[3] = 0x00;
        assert_eq!(parse_deploy(&with), Ok((ProcessMode::PerCall, &elf[..])));
        with[3] = 0x03;
        assert_eq!(
            parse_deploy(&with),
            Err(DeployOptionsError::UnknownFlags(0x03))
        );
        assert_eq!(
            parse_deploy(&[0xEF, 0x52, 0x4F]),
            Err(DeployOptionsError::Truncated)
        );
    }
}
