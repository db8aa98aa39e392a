//! The one codec for everything Rampart persists or replicates: bincode 1.3.3 (pinned) with
//! fixed-width little-endian integers and a size limit, so an encoding never depends on the
//! platform and a hostile input cannot make the decoder allocate without bound.

use bincode::Options;
use serde::{Serialize, de::DeserializeOwned};

/// Largest value the codec decodes (a block with its write set must fit).
pub const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("codec: {0}")]
pub struct CodecError(#[from] bincode::Error);

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(MAX_DECODE_BYTES)
        .reject_trailing_bytes()
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    Ok(options().serialize(value)?)
}

/// `keccak256(encode(value))` without materialising the encoding: it streams, in 64 KiB
/// pieces, into the hasher (and skips the sizing pass `encode` makes).
pub fn keccak_of_encoding<T: Serialize>(value: &T) -> Result<alloy_primitives::B256, CodecError> {
    struct Hasher(alloy_primitives::Keccak256);
    impl std::io::Write for Hasher {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut writer = std::io::BufWriter::with_capacity(64 << 10, Hasher(Default::default()));
    options().serialize_into(&mut writer, value)?;
    let hasher = writer
        .into_inner()
        .map_err(|e| CodecError(Box::new(bincode::ErrorKind::Io(e.into_error()))))?;
    Ok(hasher.0.finalize())
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    Ok(options().deserialize(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Account, AccountWrite, WriteSet};
    use alloy_primitives::{Address, B256, Bytes, U256};

    #[test]
    fn write_set_round_trips() {
        let mut ws = WriteSet::default();
        let mut aw = AccountWrite {
            info: Some(Account {
                nonce: 3,
                balance: U256::from(7),
                code_hash: B256::repeat_byte(1),
            }),
            ..Default::default()
        };
        aw.storage.insert(U256::from(1), U256::from(2));
        ws.accounts.insert(Address::repeat_byte(9), aw);
        ws.codes
            .insert(B256::repeat_byte(1), Bytes::from_static(&[0x60, 0x00]));
        let bytes = encode(&ws).expect("encode");
        let back: WriteSet = decode(&bytes).expect("decode");
        assert_eq!(back, ws);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let err = decode::<WriteSet>(&[0xff; 64]);
        assert!(err.is_err());
        let err = decode::<Account>(&[1, 2, 3]);
        assert!(err.is_err());
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = encode(&Account::default()).expect("encode");
        bytes.push(0);
        assert!(decode::<Account>(&bytes).is_err());
    }
}
