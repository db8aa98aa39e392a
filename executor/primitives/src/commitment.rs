//! The state commitment every replica computes for every block.
//!
//! `commitment(n) = keccak256("rampart-state-v1" || commitment(n-1) || keccak256(codec(write_set(n)))
//! || receipts_root(n))`. It chains, so two replicas with equal commitments at height n agree on
//! every write set and receipt up to n. It is kept behind this one function so a Merkle trie
//! (for `eth_getProof`) can replace it without touching callers.

use alloy_primitives::{B256, keccak256};

use crate::{WriteSet, codec};

const DOMAIN: &[u8] = b"rampart-state-v1";

pub fn state_commitment(
    parent: B256,
    write_set: &WriteSet,
    receipts_root: B256,
) -> Result<B256, codec::CodecError> {
    Ok(chain(parent, write_set_hash(write_set)?, receipts_root))
}

/// `keccak256(codec(write_set))`, the write set's part of [`state_commitment`]; the encoding
/// streams into the hasher (no buffer of the whole encoding, no sizing pass), so a caller can
/// compute it as soon as the write set is final.
pub fn write_set_hash(write_set: &WriteSet) -> Result<B256, codec::CodecError> {
    codec::keccak_of_encoding(write_set)
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
    use alloy_primitives::{Address, U256};

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

    /// The streamed hash is the hash of the encoding, for a write set with every kind of entry.
    #[test]
    fn streamed_hash_equals_hash_of_the_encoding() {
        let mut ws = WriteSet::default();
        for i in 0..300u16 {
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
            alloy_primitives::Bytes::from(vec![0x60; 40_000]),
        );
        let encoded = crate::codec::encode(&ws).expect("encode");
        assert!(encoded.len() > 64 << 10, "spans several buffer flushes");
        assert_eq!(
            write_set_hash(&ws).expect("hash"),
            keccak256(&encoded),
            "same bytes hashed"
        );
        assert_eq!(
            state_commitment(B256::repeat_byte(2), &ws, B256::repeat_byte(3)).expect("c"),
            chain(
                B256::repeat_byte(2),
                keccak256(&encoded),
                B256::repeat_byte(3)
            )
        );
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
