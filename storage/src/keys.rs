//! Column family names and key layouts. All integers in keys are big-endian so that byte order
//! equals numeric order (range scans over heights work).

use alloy_primitives::{Address, B256, U256};

pub const CF_META: &str = "meta";
pub const CF_ACCOUNTS: &str = "accounts";
pub const CF_STORAGE: &str = "storage";
pub const CF_CODE: &str = "code";
pub const CF_HEADERS: &str = "headers";
pub const CF_BLOCK_HASHES: &str = "block_hashes";
pub const CF_BLOCK_TXS: &str = "block_txs";
pub const CF_TXS: &str = "txs";
pub const CF_RECEIPTS: &str = "receipts";
pub const CF_LOG_INDEX: &str = "log_index";
pub const CF_ACCOUNT_HISTORY: &str = "account_history";
pub const CF_STORAGE_HISTORY: &str = "storage_history";
pub const CF_WIPE_HISTORY: &str = "wipe_history";

pub const ALL_CFS: [&str; 13] = [
    CF_META,
    CF_ACCOUNTS,
    CF_STORAGE,
    CF_CODE,
    CF_HEADERS,
    CF_BLOCK_HASHES,
    CF_BLOCK_TXS,
    CF_TXS,
    CF_RECEIPTS,
    CF_LOG_INDEX,
    CF_ACCOUNT_HISTORY,
    CF_STORAGE_HISTORY,
    CF_WIPE_HISTORY,
];

pub const META_HEAD: &[u8] = b"head";
pub const META_GENESIS: &[u8] = b"genesis";
pub const META_APPLIED_INDEX: &[u8] = b"applied_index";
/// Present while a snapshot is being installed: the state is incomplete until it is gone.
pub const META_RESTORING: &[u8] = b"restoring";

pub fn storage_key(address: &Address, slot: &U256) -> [u8; 52] {
    let mut k = [0u8; 52];
    k[..20].copy_from_slice(address.as_slice());
    k[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    k
}

/// Bounds of all storage keys of one account: `[start, end)`.
pub fn storage_range(address: &Address) -> ([u8; 52], [u8; 53]) {
    let start = storage_key(address, &U256::ZERO);
    let mut end = [0xffu8; 53];
    end[..20].copy_from_slice(address.as_slice());
    end[52] = 0;
    (start, end)
}

pub fn height(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

pub fn receipt_key(block: u64, index: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&block.to_be_bytes());
    k[8..].copy_from_slice(&index.to_be_bytes());
    k
}

/// History keys: the value an account (or slot) took at a block. Reading state as of block N
/// is a reverse seek from `prefix || N`.
pub fn account_history_key(address: &Address, block: u64) -> [u8; 28] {
    let mut k = [0u8; 28];
    k[..20].copy_from_slice(address.as_slice());
    k[20..].copy_from_slice(&block.to_be_bytes());
    k
}

pub fn storage_history_key(address: &Address, slot: &U256, block: u64) -> [u8; 60] {
    let mut k = [0u8; 60];
    k[..52].copy_from_slice(&storage_key(address, slot));
    k[52..].copy_from_slice(&block.to_be_bytes());
    k
}

const LOG_BY_ADDRESS: u8 = 1;
const LOG_BY_TOPIC: u8 = 2;

pub fn log_address_key(address: &Address, block: u64) -> [u8; 29] {
    let mut k = [0u8; 29];
    k[0] = LOG_BY_ADDRESS;
    k[1..21].copy_from_slice(address.as_slice());
    k[21..].copy_from_slice(&block.to_be_bytes());
    k
}

pub fn log_topic_key(topic: &B256, block: u64) -> [u8; 41] {
    let mut k = [0u8; 41];
    k[0] = LOG_BY_TOPIC;
    k[1..33].copy_from_slice(topic.as_slice());
    k[33..].copy_from_slice(&block.to_be_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_range_covers_every_slot_and_nothing_else() {
        let a = Address::repeat_byte(0x42);
        let (start, end) = storage_range(&a);
        let max = storage_key(&a, &U256::MAX);
        assert!(start.as_slice() <= storage_key(&a, &U256::ONE).as_slice());
        assert!(max.as_slice() < end.as_slice());
        let next = storage_key(&Address::repeat_byte(0x43), &U256::ZERO);
        assert!(end.as_slice() < next.as_slice());
        let prev = storage_key(&Address::repeat_byte(0x41), &U256::MAX);
        assert!(prev.as_slice() < start.as_slice());
    }
}
