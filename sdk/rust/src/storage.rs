//! Contract storage: 32-byte slots, Solidity's layout rules for mappings.

use alloy_primitives::{B256, U256, keccak256};

use crate::frame;

/// Reads a slot (`SLOAD`).
pub fn read(key: B256) -> B256 {
    frame::write(frame::TAG_STORAGE_READ, &[key.as_slice()]);
    let (tag, p) = frame::read();
    if tag != frame::TAG_STORAGE_VALUE || p.len() != 32 {
        frame::die("expected a STORAGE_VALUE");
    }
    B256::from_slice(&p)
}

/// Writes a slot (`SSTORE`).
pub fn write(key: B256, value: B256) {
    frame::write(
        frame::TAG_STORAGE_WRITE,
        &[key.as_slice(), value.as_slice()],
    );
}

pub fn read_u256(slot: U256) -> U256 {
    read(B256::from(slot)).into()
}

pub fn write_u256(slot: U256, value: U256) {
    write(B256::from(slot), B256::from(value));
}

/// The slot of `mapping[key]` for a mapping declared at `slot`: `keccak256(key . slot)`, as
/// Solidity lays it out (so EVM tooling reads the same storage).
pub fn mapping_slot(slot: U256, key: B256) -> U256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(key.as_slice());
    buf[32..].copy_from_slice(&slot.to_be_bytes::<32>());
    keccak256(buf).into()
}

/// An address as a mapping key (left-padded to 32 bytes).
pub fn address_key(a: alloy_primitives::Address) -> B256 {
    a.into_word()
}
