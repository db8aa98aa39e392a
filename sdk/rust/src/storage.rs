//! Contract storage: 32-byte slots, Solidity's layout rules for mappings.

use alloy_primitives::{B256, U256, keccak256};

use crate::frame;

/// Reads a slot (`SLOAD`).
pub fn read(key: B256) -> B256 {
    if let Some(v) = known::get(key) {
        frame::write(frame::TAG_STORAGE_SEEN, &[key.as_slice(), v.as_slice()]);
        return v;
    }
    frame::write(frame::TAG_STORAGE_READ, &[key.as_slice()]);
    let (tag, p) = frame::read();
    if tag != frame::TAG_STORAGE_VALUE || p.len() != 32 {
        frame::die("expected a STORAGE_VALUE");
    }
    let v = B256::from_slice(&p);
    known::put(key, v);
    v
}

/// Writes a slot (`SSTORE`).
pub fn write(key: B256, value: B256) {
    known::put(key, value);
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

/// Slots whose value the running call knows: the host's PRELOAD, values it answered, the call's
/// own writes. A read of one is answered here and reported with STORAGE_SEEN (held like a write:
/// no round trip); the node still accounts for it and checks the value. Cleared at each call and
/// at each call to another contract, which may change this storage.
pub(crate) mod known {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use alloy_primitives::B256;

    /// Slots known at most; past it, reads of other slots ask the host.
    const MAX: usize = 1536;

    static KNOWN: Mutex<Option<HashMap<B256, B256>>> = Mutex::new(None);

    fn with<T>(f: impl FnOnce(&mut HashMap<B256, B256>) -> T) -> T {
        let mut g = KNOWN.lock().unwrap_or_else(|p| p.into_inner());
        f(g.get_or_insert_with(HashMap::new))
    }

    pub fn clear() {
        with(|m| m.clear());
    }

    pub fn get(key: B256) -> Option<B256> {
        with(|m| m.get(&key).copied())
    }

    pub fn put(key: B256, value: B256) {
        with(|m| {
            if m.len() < MAX || m.contains_key(&key) {
                m.insert(key, value);
            }
        });
    }
}
