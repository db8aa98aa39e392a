//! pevm on Rampart's Block-STM workloads: the same pre-state, block and transactions that
//! `cargo bench -p rampart-evm --bench parallel -- 1 export DIR` writes.
//!
//!   pevm-compare DIR [rounds] [filter] [threads]
//!
//! For each `DIR/*.json` workload (other than `state.json`) it first checks pevm against
//! Rampart's recorded outcome, on both of pevm's executors: every transaction succeeds, the
//! block's gas used equals Rampart's, and the state pevm ends with (the per-transaction state
//! changes folded in order) equals Rampart's write set on every account and slot either side
//! touched. Then it times `execute_revm_sequential` and `Pevm::execute_revm_parallel`
//! (`threads` workers, 2 by default) interleaved round by round and prints the median
//! transactions per second, as a human line and a tab-separated `RESULT` line for
//! scripts/bench-pevm.sh.
//!
//! The chain id: `PevmEthereum` only exists for chain 1 (its id is private), so every
//! transaction's chain id is set to 1 here. revm checks it against the chain's and nothing in
//! these workloads reads it (no CHAINID, no signatures: the sender is given).

/// The same allocator as the `rampart` binary and Rampart's parallel bench.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::{collections::BTreeMap, num::NonZeroUsize, path::Path, sync::Arc, time::Instant};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use pevm::{
    Bytecodes, ChainState, EvmAccount, InMemoryStorage, Pevm, PevmTxExecutionResult,
    chain::{PevmChain, PevmEthereum},
    execute_revm_sequential,
};
use revm::{
    context::{BlockEnv, TxEnv},
    context_interface::block::BlobExcessGasAndPrice,
    primitives::{TxKind, hardfork::SpecId},
    state::Bytecode,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Block {
    number: u64,
    timestamp: u64,
    beneficiary: Address,
    gas_limit: u64,
    base_fee: u64,
    prevrandao: B256,
    chain_id: u64,
    spec: String,
}

#[derive(Deserialize)]
struct StateAccount {
    address: Address,
    nonce: u64,
    balance: U256,
    code: Option<Bytes>,
    storage: Vec<(U256, U256)>,
}

#[derive(Deserialize)]
struct PreState {
    block: Block,
    accounts: Vec<StateAccount>,
}

#[derive(Deserialize)]
struct Tx {
    sender: Address,
    tx_type: u8,
    nonce: u64,
    to: Option<Address>,
    value: U256,
    input: Bytes,
    gas_limit: u64,
    max_fee_per_gas: u128,
    max_priority_fee_per_gas: Option<u128>,
    chain_id: Option<u64>,
}

#[derive(Deserialize)]
struct ExpectedAccount {
    address: Address,
    /// `None`: Rampart deleted the account.
    nonce: Option<u64>,
    balance: Option<U256>,
    storage: Vec<(U256, U256)>,
}

#[derive(Deserialize)]
struct Workload {
    name: String,
    size: usize,
    /// Position in the Rampart bench's list of workloads.
    order: usize,
    gas_used: u64,
    txs: Vec<Tx>,
    write_set: Vec<ExpectedAccount>,
}

/// What the pre-state holds, for the accounts and slots a check looks at.
struct Pre {
    accounts: BTreeMap<Address, (u64, U256)>,
    storage: BTreeMap<(Address, U256), U256>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load_state(pre: &PreState) -> (InMemoryStorage, Pre) {
    let mut accounts = ChainState::default();
    let mut bytecodes = Bytecodes::default();
    let mut check = Pre {
        accounts: BTreeMap::new(),
        storage: BTreeMap::new(),
    };
    for a in &pre.accounts {
        let code_hash = a.code.as_ref().filter(|c| !c.is_empty()).map(|code| {
            let hash = keccak256(code);
            bytecodes.insert(hash, Bytecode::new_raw(code.clone()).into());
            hash
        });
        let mut account = EvmAccount {
            balance: a.balance,
            nonce: a.nonce,
            code_hash,
            code: None,
            storage: Default::default(),
        };
        for (slot, value) in &a.storage {
            account.storage.insert(*slot, *value);
            check.storage.insert((a.address, *slot), *value);
        }
        check.accounts.insert(a.address, (a.nonce, a.balance));
        accounts.insert(a.address, account);
    }
    (
        InMemoryStorage::new(accounts, Arc::new(bytecodes), Default::default()),
        check,
    )
}

fn block_env(b: &Block, spec: SpecId) -> BlockEnv {
    BlockEnv {
        number: U256::from(b.number),
        beneficiary: b.beneficiary,
        timestamp: U256::from(b.timestamp),
        gas_limit: b.gas_limit,
        basefee: b.base_fee,
        difficulty: U256::ZERO,
        prevrandao: Some(b.prevrandao),
        // As Rampart: no blobs, excess blob gas zero.
        blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new_with_spec(0, spec)),
        ..Default::default()
    }
}

fn tx_env(t: &Tx, chain_id: u64) -> TxEnv {
    TxEnv {
        tx_type: t.tx_type,
        caller: t.sender,
        gas_limit: t.gas_limit,
        gas_price: t.max_fee_per_gas,
        kind: t.to.map_or(TxKind::Create, TxKind::Call),
        value: t.value,
        data: t.input.clone(),
        nonce: t.nonce,
        chain_id: t.chain_id.map(|_| chain_id),
        gas_priority_fee: t.max_priority_fee_per_gas,
        ..Default::default()
    }
}

/// pevm's outcome against Rampart's: success, gas, and the final state of everything touched.
fn check(
    label: &str,
    w: &Workload,
    pre: &Pre,
    results: &[PevmTxExecutionResult],
) -> Result<(), String> {
    if results.len() != w.txs.len() {
        return Err(format!("{label}: {} results", results.len()));
    }
    if let Some(i) = results
        .iter()
        .position(|r| !r.receipt.status.coerce_status())
    {
        return Err(format!("{label}: tx {i} failed"));
    }
    let gas = results.last().map_or(0, |r| r.receipt.cumulative_gas_used);
    if gas != w.gas_used {
        return Err(format!("{label}: gas used {gas}, Rampart {}", w.gas_used));
    }
    // Fold the per-transaction changes in block order.
    let mut accounts: BTreeMap<Address, Option<(u64, U256)>> = BTreeMap::new();
    let mut storage: BTreeMap<(Address, U256), U256> = BTreeMap::new();
    for r in results {
        for (address, account) in &r.state {
            match account {
                Some(a) => {
                    accounts.insert(*address, Some((a.nonce, a.balance)));
                    for (slot, value) in &a.storage {
                        storage.insert((*address, *slot), *value);
                    }
                }
                None => {
                    accounts.insert(*address, None);
                }
            }
        }
    }
    let mut expected_accounts: BTreeMap<Address, Option<(u64, U256)>> = BTreeMap::new();
    let mut expected_storage: BTreeMap<(Address, U256), U256> = BTreeMap::new();
    for e in &w.write_set {
        expected_accounts.insert(e.address, e.nonce.zip(e.balance));
        for (slot, value) in &e.storage {
            expected_storage.insert((e.address, *slot), *value);
        }
    }
    // Either side's account: the other side's view is its write or else the pre-state.
    let keys: std::collections::BTreeSet<Address> = accounts
        .keys()
        .chain(expected_accounts.keys())
        .copied()
        .collect();
    for a in keys {
        let before = pre.accounts.get(&a).copied();
        let ours = expected_accounts.get(&a).copied().unwrap_or(before);
        let theirs = accounts.get(&a).copied().unwrap_or(before);
        if ours != theirs {
            return Err(format!(
                "{label}: account {a}: pevm {theirs:?}, Rampart {ours:?}"
            ));
        }
    }
    let slots: std::collections::BTreeSet<(Address, U256)> = storage
        .keys()
        .chain(expected_storage.keys())
        .copied()
        .collect();
    for k in slots {
        let before = pre.storage.get(&k).copied().unwrap_or_default();
        let ours = expected_storage.get(&k).copied().unwrap_or(before);
        let theirs = storage.get(&k).copied().unwrap_or(before);
        if ours != theirs {
            return Err(format!(
                "{label}: slot {} of {}: pevm {theirs}, Rampart {ours}",
                k.1, k.0
            ));
        }
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = Path::new(
        args.first()
            .map_or("/var/tmp/pevm-workloads", String::as_str),
    );
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(7);
    let filter = args.get(2).cloned().unwrap_or_default();
    let threads: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(2);
    let threads = NonZeroUsize::new(threads).expect("threads > 0");

    let t = Instant::now();
    let pre: PreState = read_json(&dir.join("state.json"));
    let spec: SpecId = pre.block.spec.parse().expect("spec name");
    let (storage, pre_check) = load_state(&pre);
    let block = block_env(&pre.block, spec);
    let chain = PevmEthereum::mainnet();
    eprintln!(
        "pre-state: {} accounts, {} slots, spec {spec:?} (Rampart chain {}, run as chain 1), {:.1} s",
        pre.accounts.len(),
        pre_check.storage.len(),
        pre.block.chain_id,
        t.elapsed().as_secs_f64()
    );

    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("workload dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_name().is_some_and(|n| n != "state.json")
        })
        .collect();
    files.sort();
    let mut workloads: Vec<Workload> = files.iter().map(|p| read_json(p)).collect();
    // The Rampart bench's order: by size, then as listed there.
    workloads.sort_by_key(|w| (w.size, w.order));

    let mut pevm = Pevm::default();
    println!(
        "pevm execute_revm_sequential vs execute_revm_parallel({threads} threads); median of {rounds} interleaved rounds"
    );
    for w in workloads
        .iter()
        .filter(|w| w.name.contains(filter.as_str()))
    {
        let rounds = if w.size >= 10_000 {
            rounds.div_ceil(2).max(3)
        } else {
            rounds
        };
        let txs: Vec<TxEnv> = w.txs.iter().map(|t| tx_env(t, chain.id())).collect();
        let seq = execute_revm_sequential(&chain, &storage, spec, block.clone(), txs.clone())
            .unwrap_or_else(|e| panic!("{}: sequential: {e:?}", w.name));
        if let Err(e) = check("sequential", w, &pre_check, &seq) {
            panic!("{} {}: {e}", w.name, w.size);
        }
        drop(seq);
        let par = pevm
            .execute_revm_parallel(&chain, &storage, spec, block.clone(), txs.clone(), threads)
            .unwrap_or_else(|e| panic!("{}: parallel: {e:?}", w.name));
        if let Err(e) = check("parallel", w, &pre_check, &par) {
            panic!("{} {}: {e}", w.name, w.size);
        }
        drop(par);

        let (mut s, mut p) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            // The inputs are cloned before the clock starts (pevm's own bench clones inside).
            let input = txs.clone();
            let t = Instant::now();
            let out = execute_revm_sequential(&chain, &storage, spec, block.clone(), input)
                .expect("sequential");
            s.push(t.elapsed().as_secs_f64());
            std::hint::black_box(out);
            let input = txs.clone();
            let t = Instant::now();
            let out = pevm
                .execute_revm_parallel(&chain, &storage, spec, block.clone(), input, threads)
                .expect("parallel");
            p.push(t.elapsed().as_secs_f64());
            std::hint::black_box(out);
        }
        let (s, p) = (median(s), median(p));
        let n = w.txs.len() as f64;
        println!(
            "{:<16} {:>6} txs  seq {:>7.0} tx/s ({:>7.2} ms)  par{threads} {:>7.0} tx/s ({:>7.2} ms)  speedup {:>5.2}x  [checked: gas {} and state = Rampart's]",
            w.name,
            w.size,
            n / s,
            s * 1e3,
            n / p,
            p * 1e3,
            s / p,
            w.gas_used
        );
        println!("RESULT\t{}\t{}\t{:.0}\t{:.0}", w.name, w.size, n / s, n / p);
    }
}
