//! The account code that marks a native contract.
//!
//! `0xEF 0x52 0x4E` ("RN") followed by the 32-byte code hash (keccak256 of the binary): 35 bytes.
//! `0xEF` as a first byte cannot come from an EVM deployment (EIP-3541), and the second byte
//! `0x52` differs from EOF (`0xEF00`) and EIP-7702 delegations (`0xEF0100`).

use alloy_primitives::{Address, B256, Bytes, address, keccak256};

/// The system address a transaction deploys a native contract to: its data is the binary.
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

/// The first three bytes of a native contract's account code.
pub const NATIVE_CODE_PREFIX: [u8; 3] = [0xEF, 0x52, 0x4E];
/// Length of the whole marker.
pub const NATIVE_CODE_LEN: usize = NATIVE_CODE_PREFIX.len() + 32;

/// The account code for a native contract whose binary hashes to `code_hash`.
pub fn native_code(code_hash: B256) -> Bytes {
    let mut code = Vec::with_capacity(NATIVE_CODE_LEN);
    code.extend_from_slice(&NATIVE_CODE_PREFIX);
    code.extend_from_slice(code_hash.as_slice());
    code.into()
}

/// The binary's code hash if `code` is a native marker; `None` for EVM code, EOF, EIP-7702.
pub fn parse_native_code(code: &[u8]) -> Option<B256> {
    if code.len() == NATIVE_CODE_LEN && code.starts_with(&NATIVE_CODE_PREFIX) {
        Some(B256::from_slice(&code[NATIVE_CODE_PREFIX.len()..]))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trip_and_no_collisions() {
        let h = B256::repeat_byte(0xab);
        let code = native_code(h);
        assert_eq!(code.len(), 35);
        assert_eq!(parse_native_code(&code), Some(h));
        // EOF container, EIP-7702 delegation, ordinary code, truncated marker.
        assert_eq!(parse_native_code(&[0xEF, 0x00, 0x01]), None);
        let mut delegation = vec![0xEF, 0x01, 0x00];
        delegation.extend([0u8; 20]);
        assert_eq!(parse_native_code(&delegation), None);
        assert_eq!(parse_native_code(&[0x60, 0x80]), None);
        assert_eq!(parse_native_code(&code[..34]), None);
    }
}
