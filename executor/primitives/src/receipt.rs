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

impl StoredReceipt {
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
