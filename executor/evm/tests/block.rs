//! The sequential block executor against an in-memory state.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use rampart_evm::{BlockInput, BlockParams, ChainConfig, execute_block};
use rampart_primitives::{Account, BlockHeader, KECCAK_EMPTY, MemoryState, RecoveredTx};

const CHAIN: ChainConfig = ChainConfig {
    chain_id: 7,
    prague_time: Some(0),
    osaka_time: None,
};
const BASE_FEE: u64 = 1_000_000_000;
const COINBASE: Address = Address::repeat_byte(0xcb);

fn key(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(i + 1)).expect("valid key")
}

fn eth(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

fn funded(signers: &[&PrivateKeySigner]) -> MemoryState {
    let mut s = MemoryState::default();
    for k in signers {
        s.accounts.insert(
            k.address(),
            Account {
                nonce: 0,
                balance: eth(100),
                code_hash: KECCAK_EMPTY,
            },
        );
    }
    s
}

fn sign(
    k: &PrivateKeySigner,
    nonce: u64,
    to: TxKind,
    value: U256,
    input: Bytes,
    gas: u64,
) -> RecoveredTx {
    let tx = TxEip1559 {
        chain_id: CHAIN.chain_id,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 2 * BASE_FEE as u128,
        max_priority_fee_per_gas: 1_000,
        to,
        value,
        access_list: Default::default(),
        input,
    };
    let sig = k.sign_hash_sync(&tx.signature_hash()).expect("sign");
    RecoveredTx::from_envelope(TxEnvelope::from(tx.into_signed(sig))).expect("recover")
}

fn parent() -> BlockHeader {
    BlockHeader {
        number: 0,
        parent_hash: B256::ZERO,
        timestamp: 1_000,
        beneficiary: COINBASE,
        gas_limit: 30_000_000,
        gas_used: 0,
        base_fee_per_gas: BASE_FEE,
        transactions_root: B256::ZERO,
        receipts_root: B256::ZERO,
        logs_bloom: Default::default(),
        state_commitment: B256::repeat_byte(7),
        mix_hash: B256::ZERO,
        extra_data: Bytes::new(),
    }
}

fn params(gas_limit: u64) -> BlockParams {
    BlockParams {
        number: 1,
        timestamp: 1_001,
        beneficiary: COINBASE,
        gas_limit,
        base_fee: BASE_FEE,
        prevrandao: B256::repeat_byte(3),
    }
}

fn run(state: &MemoryState, txs: &[RecoveredTx], gas_limit: u64) -> rampart_evm::BlockOutcome {
    let parent = parent();
    let input = BlockInput {
        parent: &parent,
        params: params(gas_limit),
        txs,
        extra_data: Bytes::new(),
        native: None,
    };
    execute_block(state, &CHAIN, &input).expect("block executes")
}

/// Init code that deploys `runtime`.
fn init_code(runtime: &[u8]) -> Bytes {
    let len = runtime.len() as u8;
    let mut code = vec![
        0x60, len, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, len, 0x60, 0x00, 0xf3,
    ];
    code.extend_from_slice(runtime);
    code.into()
}

/// Stores calldata word 0 in slot 0.
const STORE_RUNTIME: &[u8] = &[0x60, 0x00, 0x35, 0x60, 0x00, 0x55, 0x00];
/// Always reverts with empty data.
const REVERT_RUNTIME: &[u8] = &[0x60, 0x00, 0x60, 0x00, 0xfd];
/// Emits LOG0 with one word of data (42).
const LOG_RUNTIME: &[u8] = &[
    0x60, 0x2a, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xa0, 0x00,
];
/// Loops forever.
const LOOP_RUNTIME: &[u8] = &[0x5b, 0x60, 0x00, 0x56];

#[test]
fn transfer_moves_value_and_charges_gas() {
    let (a, b) = (key(0), key(1));
    let state = funded(&[&a]);
    let tx = sign(
        &a,
        0,
        TxKind::Call(b.address()),
        eth(1),
        Bytes::new(),
        21_000,
    );
    let out = run(&state, &[tx], 30_000_000);
    assert!(out.rejected.is_empty());
    let r = &out.block.receipts[0];
    assert!(r.success);
    assert_eq!(r.gas_used, 21_000);
    assert_eq!(r.effective_gas_price, BASE_FEE as u128 + 1_000);
    let ws = &out.block.write_set;
    let sender = ws.accounts[&a.address()].info.expect("sender exists");
    assert_eq!(sender.nonce, 1);
    assert_eq!(
        sender.balance,
        eth(99) - U256::from(21_000u64 * (BASE_FEE + 1_000))
    );
    assert_eq!(
        ws.accounts[&b.address()].info.expect("receiver").balance,
        eth(1)
    );
    // The tip goes to the fee recipient; the base fee is burned.
    assert_eq!(
        ws.accounts[&COINBASE].info.expect("coinbase").balance,
        U256::from(21_000u64 * 1_000)
    );
    assert_eq!(out.block.header.gas_used, 21_000);
    assert_eq!(out.block.header.number, 1);
    assert_eq!(out.block.header.parent_hash, parent().hash());
}

#[test]
fn deploy_then_call_writes_storage_in_one_block() {
    let a = key(0);
    let state = funded(&[&a]);
    let deploy = sign(
        &a,
        0,
        TxKind::Create,
        U256::ZERO,
        init_code(STORE_RUNTIME),
        200_000,
    );
    let contract = a.address().create(0);
    let call = sign(
        &a,
        1,
        TxKind::Call(contract),
        U256::ZERO,
        U256::from(0xbeefu64).to_be_bytes::<32>().into(),
        100_000,
    );
    let out = run(&state, &[deploy, call], 30_000_000);
    assert_eq!(out.block.receipts.len(), 2);
    assert!(out.block.receipts.iter().all(|r| r.success));
    assert_eq!(out.block.receipts[0].contract_address, Some(contract));
    let w = &out.block.write_set.accounts[&contract];
    assert_eq!(w.storage.get(&U256::ZERO), Some(&U256::from(0xbeefu64)));
    let info = w.info.expect("contract exists");
    assert_eq!(
        out.block
            .write_set
            .codes
            .get(&info.code_hash)
            .map(|c| c.as_ref()),
        Some(STORE_RUNTIME)
    );
    assert_eq!(
        out.block.receipts[1].cumulative_gas_used,
        out.block.header.gas_used
    );
}

#[test]
fn revert_and_out_of_gas_are_included_results() {
    let a = key(0);
    let state = funded(&[&a]);
    let txs = vec![
        sign(
            &a,
            0,
            TxKind::Create,
            U256::ZERO,
            init_code(REVERT_RUNTIME),
            200_000,
        ),
        sign(
            &a,
            1,
            TxKind::Create,
            U256::ZERO,
            init_code(LOOP_RUNTIME),
            200_000,
        ),
        sign(
            &a,
            2,
            TxKind::Call(a.address().create(0)),
            U256::from(5),
            Bytes::new(),
            50_000,
        ),
        sign(
            &a,
            3,
            TxKind::Call(a.address().create(1)),
            U256::ZERO,
            Bytes::new(),
            50_000,
        ),
    ];
    let out = run(&state, &txs, 30_000_000);
    assert_eq!(out.block.receipts.len(), 4);
    let r = &out.block.receipts;
    assert!(r[0].success && r[1].success);
    assert!(!r[2].success);
    assert_eq!(r[2].failure.as_deref(), Some("execution reverted"));
    assert!(!r[3].success);
    assert_eq!(r[3].failure.as_deref(), Some("out of gas"));
    assert_eq!(r[3].gas_used, 50_000, "out of gas consumes the whole limit");
    // The reverted value transfer did not land, but nonce and gas did.
    let sender = out.block.write_set.accounts[&a.address()]
        .info
        .expect("sender");
    assert_eq!(sender.nonce, 4);
    assert!(
        out.block.write_set.accounts[&a.address().create(0)]
            .info
            .expect("c0")
            .balance
            .is_zero()
    );
}

#[test]
fn logs_are_recorded_with_block_wide_indexes() {
    let a = key(0);
    let state = funded(&[&a]);
    let c = a.address().create(0);
    let txs = vec![
        sign(
            &a,
            0,
            TxKind::Create,
            U256::ZERO,
            init_code(LOG_RUNTIME),
            200_000,
        ),
        sign(&a, 1, TxKind::Call(c), U256::ZERO, Bytes::new(), 50_000),
        sign(&a, 2, TxKind::Call(c), U256::ZERO, Bytes::new(), 50_000),
    ];
    let out = run(&state, &txs, 30_000_000);
    let r = &out.block.receipts;
    assert_eq!(r[1].logs.len(), 1);
    assert_eq!(r[1].logs[0].address, c);
    assert_eq!(
        r[1].logs[0].data.as_ref(),
        U256::from(42).to_be_bytes::<32>().as_slice()
    );
    assert_eq!(r[1].first_log_index, 0);
    assert_eq!(r[2].first_log_index, 1);
    assert!(
        out.block
            .header
            .logs_bloom
            .contains_input(alloy_primitives::BloomInput::Raw(c.as_slice()))
    );
}

#[test]
fn invalid_transactions_are_left_out_not_applied() {
    let (a, b, poor) = (key(0), key(1), key(9));
    let state = funded(&[&a, &b]);
    let txs = vec![
        sign(
            &a,
            5,
            TxKind::Call(b.address()),
            U256::ZERO,
            Bytes::new(),
            21_000,
        ), // nonce gap
        sign(
            &poor,
            0,
            TxKind::Call(b.address()),
            U256::ZERO,
            Bytes::new(),
            21_000,
        ), // no funds
        sign(
            &b,
            0,
            TxKind::Call(a.address()),
            U256::from(1),
            Bytes::new(),
            21_000,
        ), // fine
    ];
    let out = run(&state, &txs, 30_000_000);
    assert_eq!(out.block.receipts.len(), 1);
    assert_eq!(out.included[0].sender, b.address());
    assert_eq!(out.rejected.len(), 2);
    assert!(
        out.rejected[0].reason.starts_with("nonce too high"),
        "{}",
        out.rejected[0].reason
    );
    assert!(
        out.rejected[1].reason.starts_with("insufficient funds"),
        "{}",
        out.rejected[1].reason
    );
    assert!(!out.rejected.iter().any(|r| r.retry));
    assert!(!out.block.write_set.accounts.contains_key(&poor.address()));
    assert_eq!(
        out.block.write_set.accounts[&a.address()]
            .info
            .expect("a")
            .nonce,
        0
    );
}

#[test]
fn block_gas_limit_defers_what_does_not_fit() {
    let (a, b) = (key(0), key(1));
    let state = funded(&[&a, &b]);
    let txs = vec![
        sign(
            &a,
            0,
            TxKind::Call(b.address()),
            U256::ZERO,
            Bytes::new(),
            30_000,
        ),
        sign(
            &b,
            0,
            TxKind::Call(a.address()),
            U256::ZERO,
            Bytes::new(),
            30_000,
        ),
    ];
    let out = run(&state, &txs, 50_000);
    assert_eq!(out.block.receipts.len(), 1);
    assert_eq!(out.rejected.len(), 1);
    assert!(out.rejected[0].retry);
}

#[test]
fn execution_is_deterministic() {
    let keys: Vec<_> = (0..8).map(key).collect();
    let refs: Vec<_> = keys.iter().collect();
    let state = funded(&refs);
    let mut txs = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        txs.push(sign(
            k,
            0,
            TxKind::Create,
            U256::ZERO,
            init_code(STORE_RUNTIME),
            200_000,
        ));
        let c = k.address().create(0);
        txs.push(sign(
            k,
            1,
            TxKind::Call(c),
            U256::ZERO,
            U256::from(i).to_be_bytes::<32>().into(),
            100_000,
        ));
        txs.push(sign(
            k,
            2,
            TxKind::Call(keys[(i + 1) % 8].address()),
            U256::from(i),
            Bytes::new(),
            21_000,
        ));
    }
    let first = run(&state, &txs, 30_000_000);
    for _ in 0..5 {
        let again = run(&state, &txs, 30_000_000);
        assert_eq!(again.block, first.block);
    }
    // Applying the write set gives the state a replay would see.
    let mut after = state.clone();
    after.apply(&first.block.write_set);
    assert_eq!(after.accounts[&keys[0].address()].nonce, 3);
}

#[test]
fn legacy_eip155_transaction_executes() {
    let (a, b) = (key(0), key(1));
    let state = funded(&[&a]);
    let tx = TxLegacy {
        chain_id: Some(CHAIN.chain_id),
        nonce: 0,
        gas_price: 2 * BASE_FEE as u128,
        gas_limit: 21_000,
        to: TxKind::Call(b.address()),
        value: U256::from(1),
        input: Bytes::new(),
    };
    let sig = a.sign_hash_sync(&tx.signature_hash()).expect("sign");
    let tx = RecoveredTx::from_envelope(TxEnvelope::from(tx.into_signed(sig))).expect("recover");
    let out = run(&state, &[tx], 30_000_000);
    assert_eq!(out.block.receipts[0].tx_type, 0);
    assert_eq!(
        out.block.receipts[0].effective_gas_price,
        2 * BASE_FEE as u128
    );
}

#[test]
fn transactions_root_matches_alloys_computation() {
    let (a, b) = (key(0), key(1));
    let state = funded(&[&a]);
    let txs: Vec<_> = (0..5)
        .map(|n| {
            sign(
                &a,
                n,
                TxKind::Call(b.address()),
                U256::ONE,
                Bytes::new(),
                21_000,
            )
        })
        .collect();
    let out = run(&state, &txs, 30_000_000);
    let envelopes: Vec<_> = txs.iter().map(|t| t.envelope.clone()).collect();
    assert_eq!(
        out.block.header.transactions_root,
        alloy_consensus::proofs::calculate_transaction_root(&envelopes)
    );
    let receipts: Vec<_> = out
        .block
        .receipts
        .iter()
        .map(|r| r.to_consensus())
        .collect();
    assert_eq!(
        out.block.header.receipts_root,
        alloy_consensus::proofs::calculate_receipt_root(&receipts)
    );
}

#[test]
fn streamed_roots_match_alloy_across_the_rlp_key_boundaries() {
    // Trie keys are rlp(index): 0 sorts after 1..=127 and before 128; check sizes around it.
    let keys: Vec<_> = (0..40).map(key).collect();
    let refs: Vec<_> = keys.iter().collect();
    let state = funded(&refs);
    for n in [0usize, 1, 2, 127, 128, 129, 300] {
        let txs: Vec<_> = (0..n)
            .map(|i| {
                sign(
                    &keys[i % 40],
                    (i / 40) as u64,
                    TxKind::Call(keys[(i + 1) % 40].address()),
                    U256::ONE,
                    Bytes::new(),
                    21_000,
                )
            })
            .collect();
        let out = run(&state, &txs, 30_000_000);
        assert_eq!(out.block.receipts.len(), n);
        let envelopes: Vec<_> = txs.iter().map(|t| t.envelope.clone()).collect();
        assert_eq!(
            out.block.header.transactions_root,
            alloy_consensus::proofs::calculate_transaction_root(&envelopes),
            "{n} txs"
        );
        let receipts: Vec<_> = out
            .block
            .receipts
            .iter()
            .map(|r| r.to_consensus())
            .collect();
        assert_eq!(
            out.block.header.receipts_root,
            alloy_consensus::proofs::calculate_receipt_root(&receipts),
            "{n} txs"
        );
    }
}
