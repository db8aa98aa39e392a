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
    let ws_hash = keccak256(codec::encode(write_set)?);
    let mut buf = Vec::with_capacity(DOMAIN.len() + 96);
    buf.extend_from_slice(DOMAIN);
    buf.extend_from_slice(parent.as_slice());
    buf.extend_from_slice(ws_hash.as_slice());
    buf.extend_from_slice(receipts_root.as_slice());
    Ok(keccak256(buf))
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
