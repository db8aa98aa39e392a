//! Receipts and logs in the form the state store keeps them.

use alloy_primitives::{Address, B256, Bloom, Bytes, Log};
use serde::{Deserialize, Serialize};

/// One log. (alloy's `Log` uses `serde(flatten)`, which the binary codec cannot carry.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub address: Address,
    pub topics: Vec<B256>,
    pub data: Bytes,
}

impl LogEntry {
    pub fn to_alloy(&self) -> Log {
        Log::new_unchecked(self.address, self.topics.clone(), self.data.clone())
    }
}

impl From<&Log> for LogEntry {
    fn from(log: &Log) -> Self {
        Self {
            address: log.address,
            topics: log.topics().to_vec(),
            data: log.data.data.clone(),
        }
    }
}

/// The outcome of one included transaction. A reverted transaction is a result like any other:
/// `success == false`, its gas charged, its revert data kept in `output`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReceipt {
    pub tx_hash: B256,
    pub tx_type: u8,
    pub from: Address,
    pub to: Option<Address>,
    pub success: bool,
    pub gas_used: u64,
    pub cumulative_gas_used: u64,
    pub effective_gas_price: u128,
    pub contract_address: Option<Address>,
    /// Block-wide index of this receipt's first log.
    pub first_log_index: u32,
    pub logs: Vec<LogEntry>,
    /// Return data, or revert data for a reverted transaction (kept for tracing and debugging).
    pub output: Bytes,
    /// Why a failed transaction failed (revert, out of gas, ...), for humans.
    pub failure: Option<String>,
}

/// Computes log blooms, remembering the keccak of each address and topic it has seen: the logs
/// of one block repeat the same contract addresses and event signatures (and often the same
/// accounts), and every bloom input costs a keccak. Bounded: forgets everything past
/// [`BloomMemo::MAX_ENTRIES`]. The bloom is the same as [`StoredReceipt::bloom`]'s.
#[derive(Debug, Default)]
pub struct BloomMemo {
    /// Keyed by the input's bytes, left-aligned, and its length (an address and a topic that
    /// share their first 20 bytes are different inputs).
    hashes: alloy_primitives::map::HashMap<(B256, u8), B256>,
}

impl BloomMemo {
    pub const MAX_ENTRIES: usize = 16_384;

    fn hash(&mut self, input: &[u8]) -> B256 {
        let mut key = B256::ZERO;
        key[..input.len()].copy_from_slice(input);
        let key = (key, input.len() as u8);
        if let Some(h) = self.hashes.get(&key) {
            return *h;
        }
        if self.hashes.len() >= Self::MAX_ENTRIES {
            self.hashes.clear();
        }
        let h = alloy_primitives::keccak256(input);
        self.hashes.insert(key, h);
        h
    }

    /// The bloom of `logs`.
    pub fn bloom(&mut self, logs: &[LogEntry]) -> Bloom {
        use alloy_primitives::BloomInput;
        let mut bloom = Bloom::ZERO;
        for log in logs {
            bloom.accrue(BloomInput::Hash(self.hash(log.address.as_slice())));
            for topic in &log.topics {
                bloom.accrue(BloomInput::Hash(self.hash(topic.as_slice())));
            }
        }
        bloom
    }
}

impl StoredReceipt {
    /// The receipt's log bloom (see [`BloomMemo`] for many receipts at once).
    pub fn bloom(&self) -> Bloom {
        let mut bloom = Bloom::ZERO;
        for log in &self.logs {
            bloom.accrue_raw_log(log.address, &log.topics);
        }
        bloom
    }

    /// The consensus (EIP-2718) receipt, used for the receipts root.
    pub fn to_consensus(&self) -> alloy_consensus::ReceiptEnvelope<Log> {
        self.to_consensus_with_bloom(self.bloom())
    }

    /// As [`Self::to_consensus`], with the bloom already computed (it costs a keccak per
    /// address and topic, so block sealing computes it once).
    pub fn to_consensus_with_bloom(&self, bloom: Bloom) -> alloy_consensus::ReceiptEnvelope<Log> {
        use alloy_consensus::{Receipt, ReceiptEnvelope, ReceiptWithBloom};
        let receipt = Receipt {
            status: self.success.into(),
            cumulative_gas_used: self.cumulative_gas_used,
            logs: self.logs.iter().map(LogEntry::to_alloy).collect(),
        };
        let with_bloom = ReceiptWithBloom {
            receipt,
            logs_bloom: bloom,
        };
        match self.tx_type {
            1 => ReceiptEnvelope::Eip2930(with_bloom),
            2 => ReceiptEnvelope::Eip1559(with_bloom),
            3 => ReceiptEnvelope::Eip4844(with_bloom),
            4 => ReceiptEnvelope::Eip7702(with_bloom),
            _ => ReceiptEnvelope::Legacy(with_bloom),
        }
    }
}

/// Where a transaction sits in the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxLocation {
    pub block_number: u64,
    pub block_hash: B256,
    pub index: u32,
}

/// A log with its position in the chain, as `eth_getLogs` and subscriptions report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedLog {
    pub entry: LogEntry,
    pub block_number: u64,
    pub block_hash: B256,
    pub block_timestamp: u64,
    pub tx_hash: B256,
    pub tx_index: u32,
    /// Position of the log in its block.
    pub log_index: u32,
}

/// A log filter: a block range, any of `addresses` (empty = all), and per topic position a set
/// of accepted values (empty set = any).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub from_block: u64,
    pub to_block: u64,
    pub addresses: Vec<Address>,
    pub topics: Vec<Vec<B256>>,
    /// A log with fewer topics than the filter names positions (wildcards included) never
    /// matches, as in geth: `[A, null]` wants at least two topics.
    pub min_topics: usize,
}

impl LogFilter {
    pub fn matches(&self, log: &LogEntry) -> bool {
        if log.topics.len() < self.min_topics {
            return false;
        }
        if !self.addresses.is_empty() && !self.addresses.contains(&log.address) {
            return false;
        }
        for (i, wanted) in self.topics.iter().enumerate() {
            if wanted.is_empty() {
                continue;
            }
            match log.topics.get(i) {
                Some(t) if wanted.contains(t) => {}
                _ => return false,
            }
        }
        true
    }

    /// Logs of one block's receipts that match, in order, numbered block-wide.
    pub fn collect_block(
        &self,
        block_number: u64,
        block_hash: B256,
        block_timestamp: u64,
        receipts: &[StoredReceipt],
        out: &mut Vec<IndexedLog>,
    ) {
        let mut log_index = 0u32;
        for (tx_index, r) in receipts.iter().enumerate() {
            for log in &r.logs {
                if self.matches(log) {
                    out.push(IndexedLog {
                        entry: log.clone(),
                        block_number,
                        block_hash,
                        block_timestamp,
                        tx_hash: r.tx_hash,
                        tx_index: tx_index as u32,
                        log_index,
                    });
                }
                log_index += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::U256;

    /// The memo's bloom equals the direct one, for logs that repeat and that do not, an address
    /// equal to a topic's first 20 bytes, and across the memo's reset.
    #[test]
    fn memo_bloom_equals_direct_bloom() {
        let mut memo = BloomMemo::default();
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state
        };
        for round in 0..3_000u64 {
            let logs: Vec<LogEntry> = (0..(round % 4))
                .map(|i| {
                    let address = Address::with_last_byte((next() % 5) as u8);
                    let mut same_prefix = B256::ZERO;
                    same_prefix[..20].copy_from_slice(address.as_slice());
                    LogEntry {
                        address,
                        topics: vec![
                            B256::repeat_byte(0xdd),
                            B256::from(U256::from(next() % 50)),
                            B256::from(U256::from(next())),
                            same_prefix,
                        ][..(i as usize % 5)]
                            .to_vec(),
                        data: Bytes::new(),
                    }
                })
                .collect();
            // What `StoredReceipt::bloom` computes.
            let mut direct = Bloom::ZERO;
            for log in &logs {
                direct.accrue_raw_log(log.address, &log.topics);
            }
            assert_eq!(memo.bloom(&logs), direct, "round {round}");
        }
        assert!(memo.hashes.len() <= BloomMemo::MAX_ENTRIES);
    }
}
