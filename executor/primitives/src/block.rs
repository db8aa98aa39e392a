//! Block headers and the executed block: the unit that is committed and replicated.

use alloy_consensus::Header;
use alloy_primitives::{Address, B64, B256, Bloom, Bytes, U256};
use serde::{Deserialize, Serialize};

use crate::{StoredReceipt, WriteSet};

/// A Rampart block header. Its hash is the keccak of the RLP of the equivalent Ethereum header
/// (`to_eth_header`), so tools that recompute block hashes agree with us.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    pub number: u64,
    pub parent_hash: B256,
    /// Seconds since the UNIX epoch, chosen by the block's proposer and never decreasing.
    pub timestamp: u64,
    pub beneficiary: Address,
    pub gas_limit: u64,
    pub gas_used: u64,
    pub base_fee_per_gas: u64,
    pub transactions_root: B256,
    pub receipts_root: B256,
    pub logs_bloom: Bloom,
    /// The chained state commitment (see [`crate::commitment`]); reported as `stateRoot`.
    pub state_commitment: B256,
    /// Deterministic per-block randomness (PREVRANDAO), derived from the parent hash.
    pub mix_hash: B256,
    pub extra_data: Bytes,
}

impl BlockHeader {
    /// The Ethereum (Cancun/Prague-shaped) header this header is hashed and served as.
    pub fn to_eth_header(&self) -> Header {
        Header {
            parent_hash: self.parent_hash,
            ommers_hash: alloy_consensus::EMPTY_OMMER_ROOT_HASH,
            beneficiary: self.beneficiary,
            state_root: self.state_commitment,
            transactions_root: self.transactions_root,
            receipts_root: self.receipts_root,
            logs_bloom: self.logs_bloom,
            difficulty: U256::ZERO,
            number: self.number,
            gas_limit: self.gas_limit,
            gas_used: self.gas_used,
            timestamp: self.timestamp,
            extra_data: self.extra_data.clone(),
            mix_hash: self.mix_hash,
            nonce: B64::ZERO,
            base_fee_per_gas: Some(self.base_fee_per_gas),
            withdrawals_root: Some(alloy_consensus::EMPTY_ROOT_HASH),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(B256::ZERO),
            requests_hash: Some(alloy_eips::eip7685::EMPTY_REQUESTS_HASH),
            ..Default::default()
        }
    }

    pub fn hash(&self) -> B256 {
        self.to_eth_header().hash_slow()
    }
}

/// A block as execution produced it: header, raw transactions (EIP-2718 bytes), one receipt per
/// transaction and the write set. This is what the leader proposes and every replica applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutedBlock {
    pub header: BlockHeader,
    pub hash: B256,
    pub transactions: Vec<Bytes>,
    pub receipts: Vec<StoredReceipt>,
    pub write_set: WriteSet,
}

impl ExecutedBlock {
    /// Size in bytes of the block's RLP encoding (header, transactions, no uncles, no
    /// withdrawals), as `eth_getBlockBy*` reports it.
    pub fn rlp_size(&self) -> u64 {
        use alloy_rlp::Encodable;
        let header_len = self.header.to_eth_header().length();
        let list = |payload: usize| alloy_rlp::length_of_length(payload) + payload;
        let txs: usize = self
            .transactions
            .iter()
            // Typed transactions are RLP strings inside the list; legacy ones are lists already.
            .map(|t| {
                if t.first().is_some_and(|b| *b < 0x7f) {
                    alloy_rlp::Header {
                        list: false,
                        payload_length: t.len(),
                    }
                    .length()
                        + t.len()
                } else {
                    t.len()
                }
            })
            .sum();
        (list(header_len + list(txs) + list(0) + list(0))) as u64
    }

    /// Checks the invariants that tie the parts together; a failure is a bug in whoever built it.
    pub fn check_consistency(&self) -> Result<(), String> {
        if self.transactions.len() != self.receipts.len() {
            return Err(format!(
                "block {}: {} transactions but {} receipts",
                self.header.number,
                self.transactions.len(),
                self.receipts.len()
            ));
        }
        if self.header.hash() != self.hash {
            return Err(format!(
                "block {}: hash does not match header",
                self.header.number
            ));
        }
        Ok(())
    }
}
