//! Which storage slots a native call preloads: the slots each of the last two calls of the same
//! function (same storage account, same code, same selector: the calldata's first four bytes)
//! read.
//!
//! A preloaded slot travels with the call's start, and the host answers the contract's read of
//! it without a round trip to the node (proto/contract_host.proto, `StartCall.preload`). A
//! prediction only moves latency: the node accounts for every read answered in the sandbox (by the
//! host or the contract's SDK) exactly as
//! for one it answered itself (gas, limits, the state's read set), so results never depend on
//! what was preloaded, and the hints may differ between replicas. A wrong guess costs one state
//! read at the start and, under Block-STM, an entry in the read set the call did not need.
//! Requiring a slot in two consecutive calls keeps per-caller slots (a token's balances) out and
//! the contract's own hot slots (a counter, a total, an owner) in.

use std::collections::HashMap;
use std::sync::Mutex;

use alloy_primitives::{Address, B256};

/// Functions remembered at most; past it the table starts over (hints are only a guess).
pub(crate) const MAX_HINTS: usize = 4_096;

/// What a hint is kept for: the storage account, the code, the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct HintKey {
    pub address: Address,
    pub code_hash: B256,
    /// The calldata's first four bytes (zero-padded).
    pub selector: [u8; 4],
}

impl HintKey {
    pub(crate) fn new(address: Address, code_hash: B256, calldata: &[u8]) -> Self {
        let mut selector = [0u8; 4];
        let n = calldata.len().min(4);
        selector[..n].copy_from_slice(&calldata[..n]);
        Self {
            address,
            code_hash,
            selector,
        }
    }
}

#[derive(Debug, Default)]
struct Hint {
    /// Distinct slots the last call read, in first-read order.
    last: Vec<B256>,
    /// Those the call before read too.
    predicted: Vec<B256>,
}

#[derive(Debug, Default)]
pub(crate) struct ReadHints {
    by_contract: Mutex<HashMap<HintKey, Hint>>,
}

impl ReadHints {
    /// The slots to preload for a call, at most `cap`.
    pub(crate) fn predict(&self, key: &HintKey, cap: usize) -> Vec<B256> {
        if cap == 0 {
            return Vec::new();
        }
        let map = self.by_contract.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .map(|h| h.predicted.iter().take(cap).copied().collect())
            .unwrap_or_default()
    }

    /// Records the distinct slots a finished call read.
    pub(crate) fn learn(&self, key: HintKey, read: Vec<B256>) {
        let mut map = self.by_contract.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_HINTS && !map.contains_key(&key) {
            map.clear();
        }
        let hint = map.entry(key).or_default();
        hint.predicted = read
            .iter()
            .filter(|k| hint.last.contains(k))
            .copied()
            .collect();
        hint.last = read;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: u8) -> B256 {
        B256::with_last_byte(n)
    }

    #[test]
    fn a_slot_is_predicted_once_two_consecutive_calls_read_it() {
        let h = ReadHints::default();
        let (a, c) = (Address::with_last_byte(1), k(0xcc));
        let key = HintKey::new(a, c, &[1, 2, 3, 4, 5]);
        assert!(h.predict(&key, 16).is_empty());
        h.learn(key, vec![k(0), k(1)]);
        assert!(h.predict(&key, 16).is_empty(), "one call is not a pattern");
        h.learn(key, vec![k(2), k(0)]);
        assert_eq!(h.predict(&key, 16), vec![k(0)]);
        // Same function, other arguments: same hint.
        assert_eq!(
            h.predict(&HintKey::new(a, c, &[1, 2, 3, 4, 9]), 16),
            vec![k(0)]
        );
        // Another storage account, another code, another function: nothing known.
        assert!(
            h.predict(
                &HintKey::new(Address::with_last_byte(2), c, &[1, 2, 3, 4]),
                16
            )
            .is_empty()
        );
        assert!(
            h.predict(&HintKey::new(a, k(0xdd), &[1, 2, 3, 4]), 16)
                .is_empty()
        );
        assert!(h.predict(&HintKey::new(a, c, &[1, 2, 3]), 16).is_empty());
        // A call that skips the slot drops it.
        h.learn(key, vec![k(2)]);
        assert_eq!(h.predict(&key, 16), vec![k(2)]);
        h.learn(key, vec![k(3)]);
        assert!(h.predict(&key, 16).is_empty());
    }

    #[test]
    fn predictions_are_capped_and_the_table_is_bounded() {
        let h = ReadHints::default();
        let key = HintKey::new(Address::with_last_byte(1), k(0xcc), b"");
        let many: Vec<B256> = (0..40).map(k).collect();
        h.learn(key, many.clone());
        h.learn(key, many);
        assert_eq!(h.predict(&key, 16).len(), 16);
        assert!(h.predict(&key, 0).is_empty());
        for i in 0..MAX_HINTS + 10 {
            let mut b = [0u8; 20];
            b[..8].copy_from_slice(&(i as u64).to_le_bytes());
            h.learn(HintKey::new(Address::from(b), k(0xcc), b""), vec![k(1)]);
        }
        assert!(h.by_contract.lock().expect("lock").len() <= MAX_HINTS);
    }
}
