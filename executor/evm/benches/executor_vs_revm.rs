//! Executor overhead: Rampart's `execute_block` (revm plus receipts, write set, roots, state
//! commitment, header) against a bare revm loop over the same signed ERC-20 transfers, from
//! the same state, in the same process. Prints each run and the median ratio
//! (bare time / Rampart time: 1.0 means the rest of the node adds nothing to execution).
//!
//!   cargo bench -p rampart-evm --bench executor_vs_revm -- [txs] [rounds]
//!
//! Runs interleave the two so that machine noise hits both alike.

mod common;

use std::time::Instant;

use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, sol};
use common::{CHAIN, artifact_code, funded, header, input, key, median, sign};
use rampart_evm::{BlockParams, execute_block};
use rampart_primitives::{MemoryState, RecoveredTx};
use revm::{
    Context, ExecuteCommitEvm, MainBuilder, MainContext,
    bytecode::Bytecode,
    database::{CacheDB, EmptyDB},
    state::AccountInfo,
};

sol! {
    function transfer(address to, uint256 value) returns (bool);
}

fn token_init_code(supply: U256) -> Bytes {
    let mut code = artifact_code(include_str!(
        "../../../tests/contracts/artifacts/Token.json"
    ))
    .to_vec();
    code.extend_from_slice(&supply.to_be_bytes::<32>());
    code.into()
}

/// The parameters of block `number` (as [`run_block`] builds it).
fn params(number: u64) -> BlockParams {
    input(&header(number - 1), &[], None).params
}

fn run_block(state: &MemoryState, number: u64, txs: &[RecoveredTx]) -> rampart_evm::BlockOutcome {
    let parent = header(number - 1);
    execute_block(state, &CHAIN, &input(&parent, txs, None)).expect("block")
}

/// State with a deployed token and `senders` accounts holding ETH and tokens.
fn setup(senders: u64) -> (MemoryState, Address, Vec<PrivateKeySigner>) {
    let deployer = key(u64::MAX);
    let keys: Vec<_> = (0..senders).map(key).collect();
    let eth = U256::from(10u64).pow(U256::from(21));
    let mut state = funded(keys.iter().chain([&deployer]), eth);
    let deploy = sign(
        &deployer,
        0,
        TxKind::Create,
        token_init_code(U256::from(10u64).pow(U256::from(30))),
        3_000_000,
    );
    let out = run_block(&state, 1, &[deploy]);
    assert!(out.block.receipts[0].success, "token deploys");
    state.apply(&out.block.write_set);
    let token = deployer.address().create(0);
    let funding: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let data = transferCall {
                to: k.address(),
                value: U256::from(10u64).pow(U256::from(24)),
            }
            .abi_encode();
            sign(&deployer, i as u64 + 1, TxKind::Call(token), data, 100_000)
        })
        .collect();
    let out = run_block(&state, 2, &funding);
    assert!(
        out.block.receipts.iter().all(|r| r.success),
        "funding succeeds"
    );
    state.apply(&out.block.write_set);
    (state, token, keys)
}

fn cache_db(state: &MemoryState) -> CacheDB<EmptyDB> {
    let mut db = CacheDB::new(EmptyDB::default());
    for (address, a) in &state.accounts {
        let code = state
            .codes
            .get(&a.code_hash)
            .cloned()
            .map(Bytecode::new_raw);
        db.insert_account_info(
            *address,
            AccountInfo {
                balance: a.balance,
                nonce: a.nonce,
                code_hash: a.code_hash,
                code,
                ..Default::default()
            },
        );
    }
    for ((address, slot), value) in &state.storage {
        db.insert_account_storage(*address, *slot, *value)
            .expect("in-memory insert");
    }
    db
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(15);
    let senders = (n as u64).min(1_000);
    let (state, token, keys) = setup(senders);
    let txs: Vec<RecoveredTx> = (0..n)
        .map(|i| {
            let k = &keys[i % keys.len()];
            let nonce = (i / keys.len()) as u64;
            let to = keys[(i * 7 + 1) % keys.len()].address();
            sign(
                k,
                nonce,
                TxKind::Call(token),
                transferCall {
                    to,
                    value: U256::ONE,
                }
                .abi_encode(),
                100_000,
            )
        })
        .collect();
    let envs: Vec<_> = txs.iter().map(rampart_evm::env::tx_env).collect();
    let spec = CHAIN.fork_at(params(3).timestamp).spec_id();

    // Same results from both, or the comparison means nothing.
    let reference = run_block(&state, 3, &txs);
    assert_eq!(reference.block.receipts.len(), n);
    assert!(reference.block.receipts.iter().all(|r| r.success));

    let (mut bare, mut ours) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let db = cache_db(&state);
        let mut evm = Context::mainnet()
            .with_db(db)
            .with_block(rampart_evm::env::block_env(&params(3), spec))
            .with_cfg(rampart_evm::env::cfg_env(&CHAIN, params(3).timestamp))
            .build_mainnet();
        let t = Instant::now();
        let mut gas = 0u64;
        for env in &envs {
            gas += evm
                .transact_commit(env.clone())
                .expect("bare revm executes")
                .tx_gas_used();
        }
        let t_bare = t.elapsed();
        assert_eq!(
            gas, reference.block.header.gas_used,
            "bare loop and executor agree on gas"
        );

        if std::env::var_os("RAMPART_BENCH_DETAIL").is_some() {
            // Where the difference goes: the same bare loop over Rampart's block overlay, and
            // the sealing work (roots, blooms, commitment) on the reference outcome.
            let mut evm = Context::mainnet()
                .with_db(rampart_evm::db::BlockDb::new(&state))
                .with_block(rampart_evm::env::block_env(&params(3), spec))
                .with_cfg(rampart_evm::env::cfg_env(&CHAIN, params(3).timestamp))
                .build_mainnet();
            let t = Instant::now();
            for env in &envs {
                evm.transact_commit(env.clone()).expect("executes");
            }
            let t_overlay = t.elapsed();
            let t = Instant::now();
            let receipts: Vec<_> = reference
                .block
                .receipts
                .iter()
                .map(|r| r.to_consensus())
                .collect();
            let _ = alloy_consensus::proofs::calculate_receipt_root(&receipts);
            let t_receipts_root = t.elapsed();
            let t = Instant::now();
            let envelopes: Vec<_> = txs.iter().map(|t| t.envelope.clone()).collect();
            let _ = alloy_consensus::proofs::calculate_transaction_root(&envelopes);
            let t_tx_root = t.elapsed();
            let t = Instant::now();
            let _ = rampart_primitives::commitment::state_commitment(
                B256::ZERO,
                &reference.block.write_set,
                B256::ZERO,
            );
            let t_commitment = t.elapsed();
            println!(
                "          bare loop on BlockDb {:.2} ms, receipts root {:.2} ms, tx root {:.2} ms, state commitment {:.2} ms",
                t_overlay.as_secs_f64() * 1e3,
                t_receipts_root.as_secs_f64() * 1e3,
                t_tx_root.as_secs_f64() * 1e3,
                t_commitment.as_secs_f64() * 1e3
            );
        }

        let t = Instant::now();
        let out = run_block(&state, 3, &txs);
        let t_ours = t.elapsed();
        assert_eq!(out.block.hash, reference.block.hash);
        println!(
            "round {round:>2}: bare revm {:>8.2} ms ({:>7.0} tx/s)   rampart execute_block {:>8.2} ms ({:>7.0} tx/s)",
            t_bare.as_secs_f64() * 1e3,
            n as f64 / t_bare.as_secs_f64(),
            t_ours.as_secs_f64() * 1e3,
            n as f64 / t_ours.as_secs_f64()
        );
        bare.push(t_bare);
        ours.push(t_ours);
    }
    let (b, o) = (median(bare), median(ours));
    println!(
        "ERC-20 transfers: {n} txs, {senders} senders, {rounds} rounds. median bare revm {:.0} tx/s, rampart {:.0} tx/s, ratio rampart/bare = {:.3}",
        n as f64 / b.as_secs_f64(),
        n as f64 / o.as_secs_f64(),
        b.as_secs_f64() / o.as_secs_f64()
    );
}
