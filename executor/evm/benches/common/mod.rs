//! What the executor benches share: the chain, keys, signed EIP-1559 transactions, headers and
//! block inputs, compiled artifacts, medians. Each bench includes it with `mod common;`.
#![allow(dead_code)] // each bench uses its own subset

use std::time::Duration;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use rampart_evm::{BlockInput, BlockParams, ChainConfig};
use rampart_native::NativeRuntime;
use rampart_primitives::{Account, BlockHeader, KECCAK_EMPTY, MemoryState, RecoveredTx};

pub const CHAIN: ChainConfig = ChainConfig {
    chain_id: 31337,
    prague_time: Some(0),
    osaka_time: None,
};
pub const BASE_FEE: u64 = 1_000_000_000;

/// A compiled contract's creation code (`tests/contracts/artifacts/*.json`, `bytecode`).
pub fn artifact_code(json: &str) -> Bytes {
    let a: serde_json::Value = serde_json::from_str(json).expect("artifact");
    let hex = a["bytecode"]
        .as_str()
        .expect("bytecode")
        .trim_start_matches("0x");
    alloy_primitives::hex::decode(hex).expect("hex").into()
}

/// The `i`-th test key (keccak of `i`).
pub fn key(i: u64) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256(i.to_be_bytes())).expect("key")
}

/// A signed EIP-1559 call or creation without value; see [`sign_value`].
pub fn sign(
    k: &PrivateKeySigner,
    nonce: u64,
    to: TxKind,
    input: impl Into<Bytes>,
    gas: u64,
) -> RecoveredTx {
    sign_value(k, nonce, to, U256::ZERO, input, gas)
}

/// A signed EIP-1559 transaction: fee cap twice the base fee, tip 1 wei.
pub fn sign_value(
    k: &PrivateKeySigner,
    nonce: u64,
    to: TxKind,
    value: U256,
    input: impl Into<Bytes>,
    gas: u64,
) -> RecoveredTx {
    let tx = TxEip1559 {
        chain_id: CHAIN.chain_id,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 2 * BASE_FEE as u128,
        max_priority_fee_per_gas: 1,
        to,
        value,
        access_list: Default::default(),
        input: input.into(),
    };
    let sig = k.sign_hash_sync(&tx.signature_hash()).expect("sign");
    RecoveredTx::from_envelope(TxEnvelope::from(tx.into_signed(sig))).expect("recover")
}

/// A stand-in header for block `number` (only what execution reads is meaningful).
pub fn header(number: u64) -> BlockHeader {
    BlockHeader {
        number,
        parent_hash: B256::ZERO,
        timestamp: 1_000 + number,
        beneficiary: Address::repeat_byte(0xcb),
        gas_limit: u64::MAX / 2,
        gas_used: 0,
        base_fee_per_gas: BASE_FEE,
        transactions_root: B256::ZERO,
        receipts_root: B256::ZERO,
        logs_bloom: Default::default(),
        state_commitment: B256::ZERO,
        mix_hash: B256::ZERO,
        extra_data: Bytes::new(),
    }
}

/// The input of the block after `parent` holding `txs`.
pub fn input<'a>(
    parent: &'a BlockHeader,
    txs: &'a [RecoveredTx],
    native: Option<&'a NativeRuntime>,
) -> BlockInput<'a> {
    BlockInput {
        parent,
        params: BlockParams {
            number: parent.number + 1,
            timestamp: parent.timestamp + 1,
            beneficiary: parent.beneficiary,
            gas_limit: parent.gas_limit,
            base_fee: BASE_FEE,
            prevrandao: B256::ZERO,
        },
        txs,
        extra_data: Bytes::new(),
        native,
    }
}

/// State where each of `keys` is an account holding `balance` wei.
pub fn funded<'a>(
    keys: impl IntoIterator<Item = &'a PrivateKeySigner>,
    balance: U256,
) -> MemoryState {
    let mut state = MemoryState::default();
    for k in keys {
        state.accounts.insert(
            k.address(),
            Account {
                nonce: 0,
                balance,
                code_hash: KECCAK_EMPTY,
            },
        );
    }
    state
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
