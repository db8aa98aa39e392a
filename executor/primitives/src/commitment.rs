//! The state commitment every replica computes for every block.
//!
//! `commitment(n) = keccak256("rampart-state-v2" || commitment(n-1) || write_set_hash(n)
//! || receipts_root(n))`. It chains, so two replicas with equal commitments at height n agree on
//! every write set and receipt up to n. It is kept behind this one function so a Merkle trie
//! (for `eth_getProof`) can replace it without touching callers.
//!
//! `write_set_hash = keccak256("rampart-write-set-v2" || u64 accounts || u64 items || h(chunk 1)
//! || … || h(chunk m) || h(codes))`. The write set is read as a sequence of items in address and
//! slot order — for each account, an account item (address, fields, storage-cleared flag, slot
//! count) followed by one item per written slot — cut into chunks of [`ITEMS_PER_CHUNK`] items,
//! each hashed as `keccak256(codec(chunk))`; the codes are `keccak256(codec(codes))`. The chunks
//! are fixed by the write set alone, so the hash never depends on how many threads computed it,
//! and an account with many slots (a token contract) spreads over several chunks. They are hashed
//! in parallel at the end of a block, when the block's threads have nothing else to do (v1
//! hashed the whole encoding as one keccak stream, a serial tail of every block).

use std::sync::atomic::{AtomicUsize, Ordering};

use alloy_primitives::{Address, B256, Keccak256, U256, keccak256};
use serde::Serialize;

use crate::{Account, WriteSet, codec};

const DOMAIN: &[u8] = b"rampart-state-v2";
const WRITE_SET_DOMAIN: &[u8] = b"rampart-write-set-v2";

/// Items (accounts and slots) per hashed chunk of a write set. Part of the commitment's
/// definition: changing it changes every commitment.
pub const ITEMS_PER_CHUNK: usize = 1024;

/// Threads [`write_set_hash`] uses at most.
pub const MAX_HASH_THREADS: usize = 16;

/// One item of a write set as the commitment reads it.
#[derive(Serialize)]
enum Item<'a> {
    Account {
        address: &'a Address,
        info: &'a Option<Account>,
        storage_cleared: bool,
        slots: u64,
    },
    Slot(&'a U256, &'a U256),
}

/// The write set as the commitment's sequence of items.
fn items(write_set: &WriteSet) -> Vec<Item<'_>> {
    let mut items = Vec::with_capacity(write_set.len());
    for (address, w) in &write_set.accounts {
        items.push(Item::Account {
            address,
            info: &w.info,
            storage_cleared: w.storage_cleared,
            slots: w.storage.len() as u64,
        });
        items.extend(w.storage.iter().map(|(k, v)| Item::Slot(k, v)));
    }
    items
}

pub fn state_commitment(
    parent: B256,
    write_set: &WriteSet,
    receipts_root: B256,
) -> Result<B256, codec::CodecError> {
    Ok(chain(parent, write_set_hash(write_set, 1)?, receipts_root))
}

/// The write set's part of [`state_commitment`], its chunks hashed on up to `threads` threads
/// (at most [`MAX_HASH_THREADS`]; the calling thread is one of them). Each chunk's encoding
/// streams into its hasher (no buffer of the whole encoding).
pub fn write_set_hash(write_set: &WriteSet, threads: usize) -> Result<B256, codec::CodecError> {
    let items = items(write_set);
    let chunks: Vec<&[Item<'_>]> = items.chunks(ITEMS_PER_CHUNK).collect();
    // Part i < chunks.len() is a chunk of items; the last part is the codes.
    let parts = chunks.len() + 1;
    let hash_part = |i: usize| match chunks.get(i) {
        Some(chunk) => codec::keccak_of_encoding(chunk),
        None => codec::keccak_of_encoding(&write_set.codes),
    };
    let threads = threads.clamp(1, MAX_HASH_THREADS).min(parts);
    let hashes: Vec<B256> = if threads == 1 {
        (0..parts).map(hash_part).collect::<Result<_, _>>()?
    } else {
        // Parts are taken in order from a shared counter: a thread is never idle while one is
        // left.
        let next = AtomicUsize::new(0);
        let work = || {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= parts {
                    return done;
                }
                done.push((i, hash_part(i)));
            }
        };
        let mut done = std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
            let mut done = work();
            for h in helpers {
                match h.join() {
                    Ok(d) => done.extend(d),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            done
        });
        done.sort_unstable_by_key(|(i, _)| *i);
        done.into_iter().map(|(_, h)| h).collect::<Result<_, _>>()?
    };
    let mut top = Keccak256::new();
    top.update(WRITE_SET_DOMAIN);
    top.update((write_set.accounts.len() as u64).to_be_bytes());
    top.update((items.len() as u64).to_be_bytes());
    for h in &hashes {
        top.update(h);
    }
    Ok(top.finalize())
}

/// [`state_commitment`] from the write set's hash.
pub fn chain(parent: B256, write_set_hash: B256, receipts_root: B256) -> B256 {
    let mut buf = Vec::with_capacity(DOMAIN.len() + 96);
    buf.extend_from_slice(DOMAIN);
    buf.extend_from_slice(parent.as_slice());
    buf.extend_from_slice(write_set_hash.as_slice());
    buf.extend_from_slice(receipts_root.as_slice());
    keccak256(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AccountWrite;

    #[test]
    fn commitment_depends_on_every_input() {
        let empty = WriteSet::default();
        let base = state_commitment(B256::ZERO, &empty, B256::ZERO).expect("commit");
        assert_ne!(
            base,
            state_commitment(B256::repeat_byte(1), &empty, B256::ZERO).expect("c")
        );
        assert_ne!(
            base,
            state_commitment(B256::ZERO, &empty, B256::repeat_byte(1)).expect("c")
        );
        let mut ws = WriteSet::default();
        ws.accounts.insert(Address::ZERO, AccountWrite::default());
        assert_ne!(
            base,
            state_commitment(B256::ZERO, &ws, B256::ZERO).expect("c")
        );
        let mut ws2 = ws.clone();
        ws2.accounts
            .get_mut(&Address::ZERO)
            .expect("present")
            .storage
            .insert(U256::ONE, U256::ONE);
        assert_ne!(
            state_commitment(B256::ZERO, &ws, B256::ZERO).expect("c"),
            state_commitment(B256::ZERO, &ws2, B256::ZERO).expect("c")
        );
    }

    /// The hash is its definition, for a write set with every kind of entry and any thread count.
    #[test]
    fn hash_follows_its_definition_on_any_threads() {
        let mut ws = WriteSet::default();
        for i in 0..2500u16 {
            let mut aw = AccountWrite {
                info: (i % 3 != 0).then(|| crate::Account {
                    nonce: u64::from(i),
                    balance: U256::from(i) << 100,
                    code_hash: B256::repeat_byte(i as u8),
                }),
                storage_cleared: i % 7 == 0,
                ..Default::default()
            };
            for s in 0..(i % 5) {
                aw.storage.insert(U256::from(s), U256::from(i * s));
            }
            ws.accounts
                .insert(Address::with_last_byte(i as u8).create(u64::from(i)), aw);
        }
        ws.codes.insert(
            B256::repeat_byte(1),
            alloy_primitives::Bytes::from(vec![0x60; 100_000]),
        );
        let encoded = crate::codec::encode(&ws.codes).expect("encode");
        assert!(encoded.len() > 64 << 10, "spans several buffer flushes");
        // The definition, spelled out: the items (an account, then its slots) in chunks, then
        // the codes, each hashed over its encoding; then the counts and the chunk hashes.
        let items = items(&ws);
        assert!(items.len() > 3 * ITEMS_PER_CHUNK, "several chunks");
        let mut top = WRITE_SET_DOMAIN.to_vec();
        top.extend_from_slice(&(ws.accounts.len() as u64).to_be_bytes());
        top.extend_from_slice(&(items.len() as u64).to_be_bytes());
        for chunk in items.chunks(ITEMS_PER_CHUNK) {
            top.extend_from_slice(keccak256(crate::codec::encode(&chunk).expect("e")).as_slice());
        }
        top.extend_from_slice(keccak256(&encoded).as_slice());
        let expected = keccak256(&top);
        for threads in [0, 1, 2, 3, 8, 64] {
            assert_eq!(
                write_set_hash(&ws, threads).expect("hash"),
                expected,
                "{threads} threads"
            );
        }
        assert_eq!(
            state_commitment(B256::repeat_byte(2), &ws, B256::repeat_byte(3)).expect("c"),
            chain(B256::repeat_byte(2), expected, B256::repeat_byte(3))
        );
    }

    /// Every item counts wherever its chunk is, and an account whose slots span several chunks
    /// (a token contract) is hashed over all of them.
    #[test]
    fn every_chunk_counts() {
        let mut ws = WriteSet::default();
        for i in 0..(2 * ITEMS_PER_CHUNK + 5) as u64 {
            ws.accounts.insert(
                Address::with_last_byte(1).create(i),
                AccountWrite::default(),
            );
        }
        let token = Address::repeat_byte(0xee);
        let mut slots = AccountWrite::default();
        for k in 0..(3 * ITEMS_PER_CHUNK) as u64 {
            slots.storage.insert(U256::from(k), U256::from(k + 1));
        }
        ws.accounts.insert(token, slots);
        let base = write_set_hash(&ws, 4).expect("h");
        assert_eq!(write_set_hash(&ws, 1).expect("h"), base);
        for i in [
            0,
            ITEMS_PER_CHUNK - 1,
            ITEMS_PER_CHUNK,
            2 * ITEMS_PER_CHUNK + 4,
        ] {
            let mut changed = ws.clone();
            let (a, _) = ws.accounts.iter().nth(i).expect("account");
            changed.accounts.get_mut(a).expect("a").storage_cleared = true;
            assert_ne!(write_set_hash(&changed, 4).expect("h"), base, "account {i}");
        }
        for k in [0u64, 1500, 3071] {
            let mut changed = ws.clone();
            changed
                .accounts
                .get_mut(&token)
                .expect("t")
                .storage
                .insert(U256::from(k), U256::ZERO);
            assert_ne!(write_set_hash(&changed, 4).expect("h"), base, "slot {k}");
        }
        let mut more = ws.clone();
        more.accounts.insert(Address::ZERO, AccountWrite::default());
        assert_ne!(write_set_hash(&more, 4).expect("h"), base);
    }

    #[test]
    fn insertion_order_does_not_matter() {
        let mut a = WriteSet::default();
        let mut b = WriteSet::default();
        for i in 0..50u8 {
            a.accounts
                .insert(Address::repeat_byte(i), AccountWrite::default());
        }
        for i in (0..50u8).rev() {
            b.accounts
                .insert(Address::repeat_byte(i), AccountWrite::default());
        }
        assert_eq!(
            state_commitment(B256::ZERO, &a, B256::ZERO).expect("c"),
            state_commitment(B256::ZERO, &b, B256::ZERO).expect("c")
        );
    }
}
