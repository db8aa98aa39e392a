//! Unit and property tests. Transactions are really signed, so sender recovery, hashes and the
//! EIP-2718 encoding are the ones the node sees.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, OnceLock},
};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, B256, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use proptest::{prelude::*, test_runner::RngSeed};
use rampart_primitives::RecoveredTx;

use crate::{AddOutcome, PoolConfig, PoolError, PoolStatus, TxPool};

const GWEI: u128 = 1_000_000_000;

fn signer(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::with_last_byte(i + 1)).expect("small scalar is a valid key")
}

fn addr(i: u8) -> Address {
    signer(i).address()
}

fn recover(envelope: TxEnvelope) -> RecoveredTx {
    RecoveredTx::from_envelope(envelope).expect("freshly signed tx decodes")
}

fn eip1559(who: u8, nonce: u64, gas_limit: u64, max_fee: u128, tip: u128) -> RecoveredTx {
    let tx = TxEip1559 {
        chain_id: 1337,
        nonce,
        gas_limit,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(Address::with_last_byte(0xee)),
        value: U256::from(1u8),
        ..Default::default()
    };
    let sig = signer(who)
        .sign_hash_sync(&tx.signature_hash())
        .expect("signing succeeds");
    recover(TxEnvelope::from(tx.into_signed(sig)))
}

fn legacy(who: u8, nonce: u64, gas_limit: u64, gas_price: u128) -> RecoveredTx {
    let tx = TxLegacy {
        chain_id: Some(1337),
        nonce,
        gas_limit,
        gas_price,
        to: TxKind::Call(Address::with_last_byte(0xee)),
        value: U256::from(1u8),
        ..Default::default()
    };
    let sig = signer(who)
        .sign_hash_sync(&tx.signature_hash())
        .expect("signing succeeds");
    recover(TxEnvelope::from(tx.into_signed(sig)))
}

/// A plain 21k-gas transfer.
fn t(who: u8, nonce: u64) -> RecoveredTx {
    eip1559(who, nonce, 21_000, 2 * GWEI, GWEI)
}

fn pool() -> TxPool {
    TxPool::new(PoolConfig::default())
}

fn nonces(map: &[(u8, u64)]) -> impl Fn(&Address) -> u64 + use<> {
    let map: HashMap<Address, u64> = map.iter().map(|&(who, n)| (addr(who), n)).collect();
    move |a| map.get(a).copied().unwrap_or_default()
}

fn zero(_: &Address) -> u64 {
    0
}

fn hashes(txs: &[RecoveredTx]) -> Vec<B256> {
    txs.iter().map(|tx| tx.hash).collect()
}

fn add_all(pool: &TxPool, txs: &[RecoveredTx]) {
    for tx in txs {
        assert_eq!(pool.add(tx.clone(), 0), Ok(AddOutcome::Added));
    }
}

#[test]
fn select_interleaves_senders_by_arrival() {
    let p = pool();
    let txs = [t(0, 0), t(1, 0), t(0, 1), t(2, 0), t(1, 1), t(0, 2)];
    add_all(&p, &txs);
    assert_eq!(hashes(&p.select(100, u64::MAX, zero)), hashes(&txs));
}

#[test]
fn select_keeps_nonce_order_even_when_later_nonce_arrived_first() {
    let p = pool();
    let (a1, b0, a0) = (t(0, 1), t(1, 0), t(0, 0));
    add_all(&p, &[a1.clone(), b0.clone(), a0.clone()]);
    // Heads: a0 (seq 2) and b0 (seq 1): b0 first; then a0 unlocks a1 (seq 0).
    assert_eq!(
        hashes(&p.select(100, u64::MAX, zero)),
        hashes(&[b0, a0, a1])
    );
}

#[test]
fn gap_blocks_later_nonces_until_filled() {
    let p = pool();
    let (a0, a1, a2, a3) = (t(0, 0), t(0, 1), t(0, 2), t(0, 3));
    add_all(&p, &[a0.clone(), a2.clone(), a3.clone()]);
    assert_eq!(
        hashes(&p.select(100, u64::MAX, zero)),
        hashes(std::slice::from_ref(&a0))
    );
    assert_eq!(p.pending_nonce(&addr(0), 0), 1);
    assert_eq!(p.ready_len(zero), 1);
    assert_eq!(
        p.status(),
        PoolStatus {
            pending: 1,
            queued: 2
        }
    );

    p.add(a1.clone(), 0).expect("fills the gap");
    assert_eq!(
        hashes(&p.select(100, u64::MAX, zero)),
        hashes(&[a0, a1, a2, a3])
    );
    assert_eq!(p.pending_nonce(&addr(0), 0), 4);
    assert_eq!(p.ready_len(zero), 4);
    assert_eq!(
        p.status(),
        PoolStatus {
            pending: 4,
            queued: 0
        }
    );
}

#[test]
fn nothing_ready_without_the_state_nonce() {
    let p = pool();
    p.add(t(0, 3), 2).expect("within gap");
    assert!(p.select(100, u64::MAX, nonces(&[(0, 2)])).is_empty());
    assert_eq!(p.pending_nonce(&addr(0), 2), 2);
    assert_eq!(p.pending_nonce(&addr(9), 7), 7);
    assert_eq!(p.ready_len(nonces(&[(0, 2)])), 0);
    // status() only knows the lowest held nonce: the documented approximation.
    assert_eq!(
        p.status(),
        PoolStatus {
            pending: 1,
            queued: 0
        }
    );
}

#[test]
fn select_starts_at_committed_nonce() {
    let p = pool();
    let txs: Vec<_> = (0..4).map(|n| t(0, n)).collect();
    add_all(&p, &txs);
    // Not yet pruned, but already committed: stale entries are not selected.
    assert_eq!(
        hashes(&p.select(100, u64::MAX, nonces(&[(0, 2)]))),
        hashes(&txs[2..])
    );
    assert_eq!(p.pending_nonce(&addr(0), 2), 4);
}

#[test]
fn select_respects_max_txs_without_removing() {
    let p = pool();
    let txs = [t(0, 0), t(1, 0), t(0, 1), t(1, 1), t(2, 0)];
    add_all(&p, &txs);
    assert_eq!(hashes(&p.select(3, u64::MAX, zero)), hashes(&txs[..3]));
    assert!(p.select(0, u64::MAX, zero).is_empty());
    assert_eq!(p.len(), 5);
    // Same input, same output.
    assert_eq!(p.select(3, u64::MAX, zero), p.select(3, u64::MAX, zero));
}

#[test]
fn select_skips_the_rest_of_a_chain_that_does_not_fit() {
    let p = pool();
    let a0 = eip1559(0, 0, 30_000, GWEI, GWEI);
    let b0 = eip1559(1, 0, 50_000, GWEI, GWEI);
    let b1 = eip1559(1, 1, 21_000, GWEI, GWEI);
    let c0 = eip1559(2, 0, 21_000, GWEI, GWEI);
    let c1 = eip1559(2, 1, 21_000, GWEI, GWEI);
    add_all(&p, &[a0.clone(), b0, b1, c0.clone(), c1]);
    // a0 leaves 30k: b0 does not fit (and b1 must not jump it), c0 fits, c1 no longer does.
    assert_eq!(hashes(&p.select(100, 60_000, zero)), hashes(&[a0, c0]));
    assert!(p.select(100, 20_999, zero).is_empty());
    let total: u64 = p
        .select(100, 100_000, zero)
        .iter()
        .map(RecoveredTx::gas_limit)
        .sum();
    assert!(total <= 100_000);
}

#[test]
fn on_committed_prunes_below_the_committed_nonce() {
    let p = pool();
    let a: Vec<_> = (0..4).map(|n| t(0, n)).collect();
    let b0 = t(1, 0);
    add_all(&p, &a);
    add_all(&p, std::slice::from_ref(&b0));

    p.on_committed([(addr(0), 2), (addr(7), 5)]);
    assert_eq!(p.len(), 3);
    assert!(!p.contains(&a[0].hash) && !p.contains(&a[1].hash));
    assert!(p.contains(&a[2].hash));
    let expected = [a[2].clone(), a[3].clone(), b0.clone()];
    assert_eq!(
        hashes(&p.select(100, u64::MAX, nonces(&[(0, 2)]))),
        hashes(&expected)
    );

    p.on_committed([(addr(0), 10), (addr(1), 1)]);
    assert!(p.is_empty());
    assert_eq!(p.status(), PoolStatus::default());
}

#[test]
fn add_drops_stale_transactions_of_the_sender() {
    let p = pool();
    add_all(&p, &[t(0, 0), t(0, 1), t(1, 0)]);
    p.add(t(0, 2), 2).expect("next nonce");
    assert_eq!(p.len(), 2);
}

#[test]
fn replacement_needs_both_caps_bumped() {
    let p = pool();
    let old = eip1559(0, 0, 21_000, 100, 10);
    p.add(old.clone(), 0).expect("first");

    // Same fields, different gas limit -> different hash, same price.
    let same_price = eip1559(0, 0, 22_000, 100, 10);
    assert_eq!(p.add(same_price, 0), Err(PoolError::ReplacementUnderpriced));
    assert_eq!(
        p.add(eip1559(0, 0, 21_000, 109, 11), 0),
        Err(PoolError::ReplacementUnderpriced)
    );
    assert_eq!(
        p.add(eip1559(0, 0, 21_000, 200, 10), 0),
        Err(PoolError::ReplacementUnderpriced)
    );
    assert_eq!(
        p.add(eip1559(0, 0, 21_000, 110, 10), 0),
        Err(PoolError::ReplacementUnderpriced)
    );
    assert_eq!(p.add(old.clone(), 0), Err(PoolError::AlreadyKnown));

    let new = eip1559(0, 0, 21_000, 110, 11);
    assert_eq!(
        p.add(new.clone(), 0),
        Ok(AddOutcome::Replaced { old: old.hash })
    );
    assert!(!p.contains(&old.hash));
    assert_eq!(p.get(&new.hash), Some(new));
    assert_eq!(p.len(), 1);
}

#[test]
fn legacy_replacement_uses_gas_price_for_both_caps() {
    let p = pool();
    let old = legacy(0, 0, 21_000, 100);
    p.add(old.clone(), 0).expect("first");
    assert_eq!(
        p.add(legacy(0, 0, 21_000, 109), 0),
        Err(PoolError::ReplacementUnderpriced)
    );
    // An EIP-1559 replacement must beat the legacy price on the tip too.
    assert_eq!(
        p.add(eip1559(0, 0, 21_000, 200, 100), 0),
        Err(PoolError::ReplacementUnderpriced)
    );
    assert_eq!(
        p.add(eip1559(0, 0, 21_000, 110, 110), 0),
        Ok(AddOutcome::Replaced { old: old.hash })
    );
}

#[test]
fn zero_priced_transactions_cannot_be_replaced() {
    // As in geth, a bump must be a strict increase: 0 -> 0 is underpriced whatever the percent.
    let p = TxPool::new(PoolConfig {
        price_bump_percent: 0,
        ..PoolConfig::default()
    });
    p.add(legacy(0, 0, 21_000, 0), 0).expect("first");
    assert_eq!(
        p.add(legacy(0, 0, 30_000, 0), 0),
        Err(PoolError::ReplacementUnderpriced)
    );
    assert!(matches!(
        p.add(legacy(0, 0, 30_000, 1), 0),
        Ok(AddOutcome::Replaced { .. })
    ));
}

#[test]
fn replacement_gets_a_new_arrival_number() {
    let p = pool();
    let (a0, b0) = (eip1559(0, 0, 21_000, 100, 10), t(1, 0));
    add_all(&p, &[a0, b0.clone()]);
    let a0_bumped = eip1559(0, 0, 21_000, 1_000, 100);
    p.add(a0_bumped.clone(), 0).expect("bumped");
    assert_eq!(
        hashes(&p.select(100, u64::MAX, zero)),
        hashes(&[b0, a0_bumped])
    );
}

#[test]
fn replacement_bump_does_not_overflow() {
    let p = pool();
    p.add(legacy(0, 0, 21_000, u128::MAX - 1), 0)
        .expect("first");
    assert_eq!(
        p.add(legacy(0, 0, 21_000, u128::MAX), 0),
        Err(PoolError::ReplacementUnderpriced)
    );
}

#[test]
fn limits_total_and_per_sender() {
    let p = TxPool::new(PoolConfig {
        max_total: 3,
        max_per_sender: 2,
        ..PoolConfig::default()
    });
    add_all(&p, &[t(0, 0), t(0, 1)]);
    let err = p.add(t(0, 2), 0).expect_err("sender full");
    assert_eq!(err, PoolError::SenderFull { limit: 2 });
    assert!(err.is_retryable());
    p.add(t(1, 0), 0).expect("other sender");
    let err = p.add(t(2, 0), 0).expect_err("pool full");
    assert_eq!(err, PoolError::PoolFull { limit: 3 });
    assert!(err.is_retryable());
    // Replacements do not grow the pool, so they are allowed when full.
    assert!(matches!(
        p.add(eip1559(1, 0, 21_000, 10 * GWEI, 10 * GWEI), 0),
        Ok(AddOutcome::Replaced { .. })
    ));
    // Committing frees room.
    p.on_committed([(addr(0), 1)]);
    p.add(t(2, 0), 0).expect("room again");
}

#[test]
fn nonce_bounds() {
    let p = TxPool::new(PoolConfig {
        max_nonce_gap: 4,
        ..PoolConfig::default()
    });
    assert_eq!(
        p.add(t(0, 2), 3),
        Err(PoolError::NonceTooLow { state: 3, tx: 2 })
    );
    assert_eq!(
        p.add(t(0, 8), 3),
        Err(PoolError::NonceTooHigh {
            state: 3,
            tx: 8,
            max_gap: 4
        })
    );
    assert_eq!(p.add(t(0, 7), 3), Ok(AddOutcome::Added));
    assert_eq!(p.add(t(0, 3), 3), Ok(AddOutcome::Added));
    assert!(!PoolError::NonceTooLow { state: 3, tx: 2 }.is_retryable());
    assert!(!PoolError::AlreadyKnown.is_retryable());
    assert!(!PoolError::ReplacementUnderpriced.is_retryable());
}

#[test]
fn error_messages_match_geth() {
    let cases = [
        (PoolError::AlreadyKnown, "already known"),
        (
            PoolError::NonceTooLow { state: 5, tx: 3 },
            "nonce too low: next nonce 5, tx nonce 3",
        ),
        (
            PoolError::NonceTooHigh {
                state: 5,
                tx: 3000,
                max_gap: 1024,
            },
            "nonce too high: next nonce 5, tx nonce 3000, max gap 1024",
        ),
        (
            PoolError::ReplacementUnderpriced,
            "replacement transaction underpriced",
        ),
        (PoolError::PoolFull { limit: 10 }, "txpool is full"),
        (
            PoolError::SenderFull { limit: 16 },
            "too many pending transactions from sender (limit 16)",
        ),
    ];
    for (err, msg) in cases {
        assert_eq!(err.to_string(), msg);
    }
}

#[test]
fn remove_with_and_without_descendants() {
    let p = pool();
    let a: Vec<_> = (0..4).map(|n| t(0, n)).collect();
    let b0 = t(1, 0);
    add_all(&p, &a);
    add_all(&p, std::slice::from_ref(&b0));

    p.remove(&[a[1].hash, B256::repeat_byte(0x42)], false);
    assert_eq!(p.len(), 4);
    assert_eq!(
        hashes(&p.select(100, u64::MAX, zero)),
        hashes(&[a[0].clone(), b0.clone()])
    );

    // Every later nonce of the sender goes, gap or not; other senders are untouched.
    p.remove(&[a[0].hash], true);
    assert_eq!(p.len(), 1);
    assert!(p.contains(&b0.hash));
}

#[test]
fn remove_descendants_drops_later_nonces_only() {
    let p = pool();
    let a: Vec<_> = (0..4).map(|n| t(0, n)).collect();
    add_all(&p, &a);
    p.remove(&[a[1].hash], true);
    assert_eq!(p.len(), 1);
    assert!(p.contains(&a[0].hash));
    assert_eq!(p.pending_nonce(&addr(0), 0), 1);
}

#[test]
fn reinsert_skips_known_and_invalid() {
    let p = pool();
    let (a0, a1, b0, b1) = (t(0, 0), t(0, 1), t(1, 0), t(1, 1));
    p.add(a0.clone(), 0).expect("first");
    let state = nonces(&[(1, 1)]);
    // a0 already known, b0 already committed: only a1 and b1 come back.
    assert_eq!(
        p.reinsert(vec![a0.clone(), a1.clone(), b0.clone(), b1.clone()], &state),
        2
    );
    assert_eq!(p.len(), 3);
    assert!(!p.contains(&b0.hash));
    assert_eq!(
        hashes(&p.select(100, u64::MAX, &state)),
        hashes(&[a0.clone(), a1.clone(), b1.clone()])
    );
    assert_eq!(p.reinsert(vec![a0, a1, b1], &state), 0);
}

#[test]
fn get_contains_len() {
    let p = pool();
    assert!(p.is_empty());
    let tx = t(0, 0);
    assert_eq!(p.get(&tx.hash), None);
    p.add(tx.clone(), 0).expect("first");
    assert!(p.contains(&tx.hash));
    assert_eq!(p.get(&tx.hash), Some(tx));
    assert_eq!(p.len(), 1);
    assert!(!p.is_empty());
    assert!(format!("{p:?}").contains("len: 1"));
}

#[test]
fn shared_across_threads() {
    let p = Arc::new(pool());
    let txs: Vec<Vec<RecoveredTx>> = (0..4)
        .map(|who| (0..8).map(|n| t(who, n)).collect())
        .collect();
    let handles: Vec<_> = txs
        .into_iter()
        .map(|chain| {
            let p = Arc::clone(&p);
            std::thread::spawn(move || {
                for tx in chain {
                    p.add(tx, 0).expect("valid");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread finished");
    }
    assert_eq!(p.len(), 32);
    // The callback may re-enter the pool: it runs outside the lock.
    let q = Arc::clone(&p);
    assert_eq!(p.select(100, u64::MAX, |_| q.len() as u64 - 32).len(), 32);
}

// ---------------------------------------------------------------------------------------------
// Property test.

const GAS: [u64; 3] = [21_000, 50_000, 100_000];
const FEE: [u128; 3] = [GWEI, 2 * GWEI, 5 * GWEI];

/// Signing is slow in debug builds; the property test draws from a small domain, so cache.
fn cached(who: u8, nonce: u64, gas: usize, fee: usize) -> RecoveredTx {
    type Cache = Mutex<HashMap<(u8, u64, usize, usize), RecoveredTx>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(tx) = cache
        .lock()
        .expect("cache lock")
        .get(&(who, nonce, gas, fee))
    {
        return tx.clone();
    }
    let tx = eip1559(who, nonce, GAS[gas], FEE[fee], FEE[fee]);
    cache
        .lock()
        .expect("cache lock")
        .insert((who, nonce, gas, fee), tx.clone());
    tx
}

#[derive(Debug, Clone)]
enum Op {
    Add {
        who: u8,
        nonce: u64,
        gas: usize,
        fee: usize,
    },
    Commit {
        who: u8,
        nonce: u64,
    },
    Remove {
        who: u8,
        nonce: u64,
        descendants: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0u8..4;
    let nonce = 0u64..10;
    prop_oneof![
        8 => (who.clone(), nonce.clone(), 0..GAS.len(), 0..FEE.len())
            .prop_map(|(who, nonce, gas, fee)| Op::Add { who, nonce, gas, fee }),
        1 => (who.clone(), nonce.clone()).prop_map(|(who, nonce)| Op::Commit { who, nonce }),
        1 => (who, nonce, any::<bool>()).prop_map(|(who, nonce, descendants)| Op::Remove { who, nonce, descendants }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        rng_seed: RngSeed::Fixed(0x7a9_0001),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn select_is_contiguous_and_within_limits(
        ops in proptest::collection::vec(op(), 0..48),
        max_txs in 0usize..24,
        max_gas in 0u64..600_000,
    ) {
        let config = PoolConfig { max_total: 20, max_per_sender: 7, max_nonce_gap: 6, price_bump_percent: 10 };
        let p = TxPool::new(config.clone());
        let mut state: BTreeMap<Address, u64> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Add { who, nonce, gas, fee } => {
                    let tx = cached(who, nonce, gas, fee);
                    let _ = p.add(tx, state.get(&addr(who)).copied().unwrap_or_default());
                }
                Op::Commit { who, nonce } => {
                    let n = state.entry(addr(who)).or_default();
                    *n = (*n).max(nonce);
                    p.on_committed([(addr(who), *n)]);
                }
                Op::Remove { who, nonce, descendants } => {
                    let hash = p.inner.lock().senders.get(&addr(who)).and_then(|c| c.get(&nonce)).map(|x| x.tx.hash);
                    if let Some(hash) = hash {
                        p.remove(&[hash], descendants);
                    }
                }
            }
            // Pool invariants.
            let inner = p.inner.lock();
            prop_assert!(inner.by_hash.len() <= config.max_total);
            let held: usize = inner.senders.values().map(|c| c.len()).sum();
            prop_assert_eq!(held, inner.by_hash.len());
            for chain in inner.senders.values() {
                prop_assert!(!chain.is_empty() && chain.len() <= config.max_per_sender);
            }
        }

        let state_nonce = |a: &Address| state.get(a).copied().unwrap_or_default();
        let selected = p.select(max_txs, max_gas, state_nonce);
        prop_assert!(selected.len() <= max_txs);
        let gas: u64 = selected.iter().map(RecoveredTx::gas_limit).sum();
        prop_assert!(gas <= max_gas);
        prop_assert!(selected.len() <= p.ready_len(state_nonce));

        // Per sender: exactly state_nonce, state_nonce + 1, ... in order.
        let mut next: BTreeMap<Address, u64> = BTreeMap::new();
        for tx in &selected {
            let expected = next.entry(tx.sender).or_insert_with(|| state_nonce(&tx.sender));
            prop_assert_eq!(tx.nonce(), *expected);
            *expected += 1;
            prop_assert!(p.contains(&tx.hash));
        }

        // Nothing was left out that would still fit, unless max_txs stopped the selection.
        if selected.len() < max_txs {
            let gas_left = max_gas - gas;
            let inner = p.inner.lock();
            for (sender, chain) in &inner.senders {
                let n = next.get(sender).copied().unwrap_or_else(|| state_nonce(sender));
                if let Some(pooled) = chain.get(&n) {
                    prop_assert!(pooled.tx.gas_limit() > gas_left);
                }
            }
        }

        // Deterministic, and unbounded selection takes every ready transaction.
        prop_assert_eq!(&selected, &p.select(max_txs, max_gas, state_nonce));
        prop_assert_eq!(p.select(usize::MAX, u64::MAX, state_nonce).len(), p.ready_len(state_nonce));
    }
}
