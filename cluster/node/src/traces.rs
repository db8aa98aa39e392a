//! Trace contexts of pending transactions, so that an auditor can follow a transaction from
//! the client's `eth_sendRawTransaction` to the block that includes it.
//!
//! At ingress (when OpenTelemetry export is on) the node keeps the W3C `traceparent` of the
//! request's `ingress.check` span under the transaction's hash, and relays it with the
//! transaction, so the leader knows it too. When a block commits, every node that holds the
//! context of one of its transactions records a `node.tx_included` span in that
//! transaction's trace, linked to the block's own trace (built on the leader, applied on every
//! replica). Telemetry only: nothing here reaches consensus.
//!
//! Bounded: at most `capacity` contexts (the mempool's size); beyond it the oldest go first
//! (their transactions are then included without a `node.tx_included` span).

use std::collections::{HashMap, VecDeque};

use alloy_primitives::B256;
use parking_lot::Mutex;

#[derive(Debug, Default)]
struct Inner {
    /// Context and insertion number by transaction hash.
    by_hash: HashMap<B256, (u64, String)>,
    /// Insertion order, for eviction. An element whose number differs from the map's (taken,
    /// or inserted again since) is stale and skipped; stale ones are swept out when they
    /// outnumber the live ones.
    order: VecDeque<(B256, u64)>,
    next: u64,
}

/// Pending transactions' trace contexts, by transaction hash.
#[derive(Debug)]
pub(crate) struct TxTraces {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl TxTraces {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::default(),
        }
    }

    /// Remembers `traceparent` for `hash` (a value above the accepted length is ignored).
    pub(crate) fn insert(&self, hash: B256, traceparent: String) {
        if traceparent.len() > rampart_telemetry::MAX_TRACEPARENT_LEN {
            return;
        }
        let mut guard = self.inner.lock();
        let inner = &mut *guard;
        let seq = inner.next;
        inner.next += 1;
        inner.by_hash.insert(hash, (seq, traceparent));
        inner.order.push_back((hash, seq));
        while inner.by_hash.len() > self.capacity {
            let Some((old, old_seq)) = inner.order.pop_front() else {
                break;
            };
            if inner.by_hash.get(&old).is_some_and(|(s, _)| *s == old_seq) {
                inner.by_hash.remove(&old);
            }
        }
        if inner.order.len() > 2 * self.capacity {
            let by_hash = &inner.by_hash;
            inner
                .order
                .retain(|(h, seq)| by_hash.get(h).is_some_and(|(s, _)| s == seq));
        }
    }

    pub(crate) fn get(&self, hash: &B256) -> Option<String> {
        self.inner
            .lock()
            .by_hash
            .get(hash)
            .map(|(_, tp)| tp.clone())
    }

    /// Removes and returns the context of `hash`.
    pub(crate) fn take(&self, hash: &B256) -> Option<String> {
        let mut inner = self.inner.lock();
        let tp = inner.by_hash.remove(hash).map(|(_, tp)| tp);
        if inner.by_hash.is_empty() {
            inner.order.clear();
        }
        tp
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.inner.lock().by_hash.is_empty()
    }

    #[cfg(test)]
    fn len(&self) -> (usize, usize) {
        let inner = self.inner.lock();
        (inner.by_hash.len(), inner.order.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u8) -> B256 {
        B256::repeat_byte(i)
    }

    #[test]
    fn bounded_oldest_first_and_taken_once() {
        let t = TxTraces::new(3);
        for i in 0..5 {
            t.insert(h(i), format!("tp{i}"));
        }
        assert_eq!(t.len(), (3, 3));
        assert_eq!(t.get(&h(0)), None, "the oldest went first");
        assert_eq!(t.get(&h(4)).as_deref(), Some("tp4"));
        assert_eq!(t.take(&h(3)).as_deref(), Some("tp3"));
        assert_eq!(t.take(&h(3)), None);
        // Taken ones neither count against the bound nor let the order queue grow past twice
        // of it; a hash inserted again is not evicted through its stale first insertion.
        for i in 10..20 {
            t.insert(h(i), "x".into());
            t.take(&h(i));
            assert!(t.len().1 <= 6);
        }
        assert_eq!(
            t.get(&h(2)).as_deref(),
            Some("tp2"),
            "still pending, not evicted"
        );
        t.take(&h(4));
        t.insert(h(4), "again".into());
        t.insert(h(30), "y".into());
        t.insert(h(31), "z".into());
        assert_eq!(t.len().0, 3);
        assert_eq!(t.get(&h(2)), None, "the oldest live one went first");
        assert_eq!(t.get(&h(4)).as_deref(), Some("again"));
        for x in [4, 30, 31] {
            t.take(&h(x));
        }
        assert!(t.is_empty());
        assert_eq!(t.len(), (0, 0));
    }

    #[test]
    fn oversized_values_are_ignored() {
        let t = TxTraces::new(8);
        t.insert(h(1), "x".repeat(rampart_telemetry::MAX_TRACEPARENT_LEN + 1));
        assert!(t.is_empty());
    }
}
