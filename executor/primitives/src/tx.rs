//! Decoded, sender-recovered transactions.

use alloy_consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes};

/// Why raw bytes are not an acceptable transaction, before any state is looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxDecodeError {
    #[error("rlp: {0}")]
    Rlp(String),
    #[error("invalid sender: {0}")]
    InvalidSignature(String),
    #[error("transaction type not supported: blob transactions (EIP-4844) are not accepted")]
    BlobNotSupported,
}

/// A transaction with its recovered sender, hash and original bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveredTx {
    pub envelope: TxEnvelope,
    pub sender: Address,
    pub hash: B256,
    /// The EIP-2718 encoding, exactly as it is stored and replicated.
    pub raw: Bytes,
}

impl RecoveredTx {
    /// Decodes EIP-2718 bytes (legacy RLP or typed), rejects blob transactions and recovers the
    /// sender. Trailing bytes are an error.
    pub fn decode(raw: &[u8]) -> Result<Self, TxDecodeError> {
        if raw.is_empty() {
            return Err(TxDecodeError::Rlp("empty transaction".into()));
        }
        let envelope =
            TxEnvelope::decode_2718_exact(raw).map_err(|e| TxDecodeError::Rlp(e.to_string()))?;
        if envelope.is_eip4844() {
            return Err(TxDecodeError::BlobNotSupported);
        }
        let sender = envelope
            .recover_signer()
            .map_err(|e| TxDecodeError::InvalidSignature(e.to_string()))?;
        let hash = *envelope.tx_hash();
        Ok(Self {
            envelope,
            sender,
            hash,
            raw: Bytes::copy_from_slice(raw),
        })
    }

    /// Decodes like [`decode`](Self::decode) but takes the sender as given instead of
    /// recovering it: for transactions relayed by an authenticated cluster peer that already
    /// checked the signature.
    pub fn decode_with_sender(raw: &[u8], sender: Address) -> Result<Self, TxDecodeError> {
        if raw.is_empty() {
            return Err(TxDecodeError::Rlp("empty transaction".into()));
        }
        let envelope =
            TxEnvelope::decode_2718_exact(raw).map_err(|e| TxDecodeError::Rlp(e.to_string()))?;
        if envelope.is_eip4844() {
            return Err(TxDecodeError::BlobNotSupported);
        }
        let hash = *envelope.tx_hash();
        Ok(Self {
            envelope,
            sender,
            hash,
            raw: Bytes::copy_from_slice(raw),
        })
    }

    /// Builds from an envelope already in hand (tests, block replay).
    pub fn from_envelope(envelope: TxEnvelope) -> Result<Self, TxDecodeError> {
        let raw = envelope.encoded_2718();
        Self::decode(&raw)
    }

    pub fn nonce(&self) -> u64 {
        self.envelope.nonce()
    }

    pub fn gas_limit(&self) -> u64 {
        self.envelope.gas_limit()
    }

    pub fn tx_type(&self) -> u8 {
        self.envelope.tx_type() as u8
    }

    /// The price cap this transaction pays per gas (`gasPrice` or `maxFeePerGas`).
    pub fn max_fee_per_gas(&self) -> u128 {
        self.envelope.max_fee_per_gas()
    }

    /// The price per gas it pays at a given base fee.
    pub fn effective_gas_price(&self, base_fee: u64) -> u128 {
        self.envelope.effective_gas_price(Some(base_fee))
    }

    pub fn chain_id(&self) -> Option<u64> {
        self.envelope.chain_id()
    }

    pub fn to(&self) -> Option<Address> {
        self.envelope.to()
    }
}
