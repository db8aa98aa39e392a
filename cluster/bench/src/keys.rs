//! Keys: the funder's, parsed from hex, and the senders', derived deterministically so that
//! runs are reproducible and a re-run reuses (and re-funds) the same accounts.

use alloy_primitives::{B256, keccak256};
use alloy_signer_local::PrivateKeySigner;

/// Domain prefix of the sender key derivation.
pub const SENDER_KEY_DOMAIN: &[u8] = b"rampart-bench";

/// Sender `i`'s key: `keccak256("rampart-bench" || i as u64 big-endian)`. In the (~2^-128)
/// case that the hash is not a valid secp256k1 scalar it is hashed again.
pub fn sender_key(i: u64) -> PrivateKeySigner {
    let mut preimage = Vec::with_capacity(SENDER_KEY_DOMAIN.len() + 8);
    preimage.extend_from_slice(SENDER_KEY_DOMAIN);
    preimage.extend_from_slice(&i.to_be_bytes());
    let mut h = keccak256(&preimage);
    loop {
        match PrivateKeySigner::from_bytes(&h) {
            Ok(k) => return k,
            Err(_) => h = keccak256(h),
        }
    }
}

/// The first `n` sender keys.
pub fn sender_keys(n: usize) -> Vec<PrivateKeySigner> {
    (0..n as u64).map(sender_key).collect()
}

/// A private key given as hex, with or without `0x`.
pub fn parse_key(s: &str) -> anyhow::Result<PrivateKeySigner> {
    let h = s.trim();
    let h = h.strip_prefix("0x").unwrap_or(h);
    let bytes = hex::decode(h).map_err(|e| anyhow::anyhow!("--key is not hex: {e}"))?;
    anyhow::ensure!(
        bytes.len() == 32,
        "--key must be 32 bytes, got {}",
        bytes.len()
    );
    PrivateKeySigner::from_bytes(&B256::from_slice(&bytes))
        .map_err(|e| anyhow::anyhow!("--key is not a valid secp256k1 key: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::DEV_FUNDER_KEY;
    use alloy_primitives::address;

    #[test]
    fn derivation_is_deterministic_and_distinct() {
        let a = sender_keys(16);
        let b = sender_keys(16);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.to_bytes(), y.to_bytes());
            assert_eq!(x.address(), y.address());
        }
        let mut addrs: Vec<_> = a.iter().map(|k| k.address()).collect();
        addrs.sort();
        addrs.dedup();
        assert_eq!(addrs.len(), 16);
        // Pinned: the derivation is part of the tool's contract (accounts are reused across runs).
        let mut pre = b"rampart-bench".to_vec();
        pre.extend_from_slice(&3u64.to_be_bytes());
        assert_eq!(sender_key(3).to_bytes(), keccak256(&pre));
    }

    #[test]
    fn parses_the_dev_key() {
        let k = parse_key(DEV_FUNDER_KEY).expect("valid");
        assert_eq!(
            k.address(),
            address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        );
        assert!(parse_key("0x1234").is_err());
        assert!(parse_key("zz").is_err());
    }
}
