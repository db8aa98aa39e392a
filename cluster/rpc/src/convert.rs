//! Rampart's stored forms → the JSON shapes of Ethereum's RPC (alloy's RPC types).

use alloy_consensus::{
    Receipt, ReceiptEnvelope, ReceiptWithBloom, TxEnvelope, transaction::Recovered,
};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::{Header, Log, Transaction, TransactionReceipt};
use rampart_primitives::{BlockHeader, IndexedLog, LogEntry, StoredReceipt, TxLocation};

use crate::backend::{BackendError, TxRecord};

pub fn rpc_header(header: &BlockHeader) -> Header {
    let inner = header.to_eth_header();
    let hash = inner.hash_slow();
    Header {
        hash,
        inner,
        total_difficulty: Some(U256::ZERO),
        size: None,
    }
}

pub fn rpc_log(entry: &LogEntry, pos: Option<(B256, u64, u64, B256, u64, u64)>) -> Log {
    let (block_hash, block_number, block_timestamp, tx_hash, tx_index, log_index) = match pos {
        Some((bh, bn, ts, th, ti, li)) => {
            (Some(bh), Some(bn), Some(ts), Some(th), Some(ti), Some(li))
        }
        None => (None, None, None, None, None, None),
    };
    Log {
        inner: entry.to_alloy(),
        block_hash,
        block_number,
        block_timestamp,
        transaction_hash: tx_hash,
        transaction_index: tx_index,
        log_index,
        removed: false,
    }
}

pub fn rpc_indexed_log(l: &IndexedLog) -> Log {
    rpc_log(
        &l.entry,
        Some((
            l.block_hash,
            l.block_number,
            l.block_timestamp,
            l.tx_hash,
            l.tx_index as u64,
            l.log_index as u64,
        )),
    )
}

pub fn rpc_transaction(record: &TxRecord) -> Result<Transaction, BackendError> {
    let envelope = TxEnvelope::decode_2718_exact(&record.raw)
        .map_err(|e| BackendError::Internal(format!("stored transaction does not decode: {e}")))?;
    let effective_gas_price = record
        .base_fee
        .map(|b| alloy_consensus::Transaction::effective_gas_price(&envelope, Some(b)));
    let (block_hash, block_number, transaction_index) = match &record.location {
        Some(l) => (
            Some(l.block_hash),
            Some(l.block_number),
            Some(l.index as u64),
        ),
        None => (None, None, None),
    };
    Ok(Transaction {
        inner: Recovered::new_unchecked(envelope, record.sender),
        block_hash,
        block_number,
        transaction_index,
        effective_gas_price,
        block_timestamp: None,
    })
}

/// A receipt as Rampart serves it: Ethereum's fields, plus `failureReason` when the transaction
/// failed (the reason the executor recorded: "execution reverted", "out of gas", or a native
/// contract's failure). Clients ignore fields they do not know.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RpcReceipt {
    #[serde(flatten)]
    pub receipt: TransactionReceipt,
    #[serde(
        rename = "failureReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub failure_reason: Option<String>,
}

pub fn rpc_receipt(r: &StoredReceipt, loc: &TxLocation, header: &BlockHeader) -> RpcReceipt {
    RpcReceipt {
        receipt: eth_receipt(r, loc, header),
        failure_reason: r.failure.clone(),
    }
}

fn eth_receipt(r: &StoredReceipt, loc: &TxLocation, header: &BlockHeader) -> TransactionReceipt {
    let logs = r
        .logs
        .iter()
        .enumerate()
        .map(|(i, l)| {
            rpc_log(
                l,
                Some((
                    loc.block_hash,
                    loc.block_number,
                    header.timestamp,
                    r.tx_hash,
                    loc.index as u64,
                    (r.first_log_index as usize + i) as u64,
                )),
            )
        })
        .collect();
    let receipt = Receipt {
        status: r.success.into(),
        cumulative_gas_used: r.cumulative_gas_used,
        logs,
    };
    let with_bloom = ReceiptWithBloom {
        receipt,
        logs_bloom: r.bloom(),
    };
    let inner = match r.tx_type {
        1 => ReceiptEnvelope::Eip2930(with_bloom),
        2 => ReceiptEnvelope::Eip1559(with_bloom),
        3 => ReceiptEnvelope::Eip4844(with_bloom),
        4 => ReceiptEnvelope::Eip7702(with_bloom),
        _ => ReceiptEnvelope::Legacy(with_bloom),
    };
    TransactionReceipt {
        inner,
        transaction_hash: r.tx_hash,
        transaction_index: Some(loc.index as u64),
        block_hash: Some(loc.block_hash),
        block_number: Some(loc.block_number),
        gas_used: r.gas_used,
        effective_gas_price: r.effective_gas_price,
        blob_gas_used: None,
        blob_gas_price: None,
        from: r.from,
        to: r.to,
        contract_address: r.contract_address,
    }
}
