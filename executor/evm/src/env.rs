//! Phase one: revm environments from Rampart's block parameters and transactions.

use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256, TxKind, U256};
use rampart_primitives::RecoveredTx;
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::context_interface::block::BlobExcessGasAndPrice;
use revm::primitives::hardfork::SpecId;

use crate::ChainConfig;

/// The parameters of a block that execution sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockParams {
    pub number: u64,
    pub timestamp: u64,
    pub beneficiary: Address,
    pub gas_limit: u64,
    pub base_fee: u64,
    pub prevrandao: B256,
}

pub fn block_env(p: &BlockParams, spec: SpecId) -> BlockEnv {
    BlockEnv {
        number: U256::from(p.number),
        beneficiary: p.beneficiary,
        timestamp: U256::from(p.timestamp),
        gas_limit: p.gas_limit,
        basefee: p.base_fee,
        difficulty: U256::ZERO,
        prevrandao: Some(p.prevrandao),
        // No blobs on Rampart: excess blob gas stays zero, so the blob base fee is the minimum.
        blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new_with_spec(0, spec)),
        ..Default::default()
    }
}

pub fn cfg_env(chain: &ChainConfig, timestamp: u64) -> CfgEnv {
    let mut cfg = CfgEnv::new_with_spec(chain.fork_at(timestamp).spec_id());
    cfg.chain_id = chain.chain_id;
    cfg
}

/// The revm transaction for a signed, recovered transaction.
pub fn tx_env(tx: &RecoveredTx) -> TxEnv {
    let e = &tx.envelope;
    let mut env = TxEnv {
        tx_type: tx.tx_type(),
        caller: tx.sender,
        gas_limit: e.gas_limit(),
        gas_price: e.max_fee_per_gas(),
        kind: e.kind(),
        value: e.value(),
        data: e.input().clone(),
        nonce: e.nonce(),
        chain_id: e.chain_id(),
        access_list: e.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: e.max_priority_fee_per_gas(),
        blob_hashes: Vec::new(),
        max_fee_per_blob_gas: 0,
        authorization_list: Vec::new(),
    };
    if let Some(list) = e.authorization_list() {
        env.set_signed_authorization(list.to_vec());
    }
    env
}

/// Convenience for simulated calls.
pub fn call_kind(to: Option<Address>) -> TxKind {
    to.map_or(TxKind::Create, TxKind::Call)
}

/// Intrinsic gas of a transaction under the fork active at `timestamp` (EIP-7623 floor
/// included): below this a transaction can never execute.
pub fn intrinsic_gas(tx: &RecoveredTx, chain: &ChainConfig, timestamp: u64) -> u64 {
    let spec = chain.fork_at(timestamp).spec_id();
    let g =
        revm::context_interface::cfg::gas::calculate_initial_tx_gas_for_tx(tx_env(tx), spec, None);
    (g.initial_regular_gas + g.initial_state_gas).max(g.floor_gas)
}
