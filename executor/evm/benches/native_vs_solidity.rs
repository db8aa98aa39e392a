//! Native contracts against the same logic in Solidity, in one process: blocks of counter
//! increments and of token transfers through `execute_block`, from the same state, for
//!   - the Solidity `Counter` and `PlainToken` (tests/contracts) on revm, and
//!   - the C SDK's counter and token (sdk/c/examples) as native contracts, per sandbox backend
//!     (`process`, and `gvisor` where root and runsc are present).
//!
//! The two counters share their `increment()` logic (slot 0 += 1, emit `Incremented`, return the
//! count); the two tokens share ABI, storage layout and `transfer` logic. Every transaction of a
//! block is from its own sender; each block runs from the same state, `rounds` times,
//! interleaved; the median is reported with the ratio native / Solidity (1.0 = as fast as the
//! EVM). A native call runs a fresh contract process in a warm sandbox (per-call isolation), so
//! this is bounded by process start inside the sandbox.
//!
//!   cargo bench -p rampart-evm --bench native_vs_solidity -- [txs] [rounds]
//!   RAMPART_SKIP_GVISOR=1 cargo bench -p rampart-evm --bench native_vs_solidity   # process only

mod common;

use std::time::{Duration, Instant};

use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, sol};
use common::{CHAIN, artifact_code, funded, header, input, key, median, sign};
use rampart_evm::execute_block;
use rampart_native::{
    BackendKind, DEPLOY_FLAG_PERSISTENT, DEPLOY_OPTIONS_PREFIX, NATIVE_DEPLOYER, NativeConfig,
    NativeRuntime,
};
use rampart_primitives::{MemoryState, RecoveredTx};

sol! {
    function increment() returns (uint256);
    function transfer(address to, uint256 amount) returns (bool);
    function mint(address to, uint256 amount) returns (bool);
}

fn run_block(
    state: &MemoryState,
    number: u64,
    txs: &[RecoveredTx],
    native: Option<&NativeRuntime>,
) -> rampart_evm::BlockOutcome {
    let parent = header(number - 1);
    execute_block(state, &CHAIN, &input(&parent, txs, native)).expect("block")
}

/// Runs a setup block and applies it; every transaction must succeed.
fn setup_block(
    state: &mut MemoryState,
    number: &mut u64,
    txs: &[RecoveredTx],
    rt: &NativeRuntime,
    what: &str,
) {
    *number += 1;
    let out = run_block(state, *number, txs, Some(rt));
    assert_eq!(out.included.len(), txs.len(), "{what}: {:?}", out.rejected);
    for (i, r) in out.block.receipts.iter().enumerate() {
        assert!(r.success, "{what}: transaction {i} failed");
    }
    state.apply(&out.block.write_set);
}

/// The four contracts, deployed and funded; `senders` accounts with ETH and both tokens.
struct World {
    state: MemoryState,
    number: u64,
    senders: Vec<PrivateKeySigner>,
    sol_counter: Address,
    sol_token: Address,
    native_counter: Address,
    native_token: Address,
    /// The same binaries, deployed with persistent processes.
    persistent_counter: Address,
    persistent_token: Address,
}

/// Deploy data for `binary` with persistent processes.
fn persistent(binary: &[u8]) -> Vec<u8> {
    let mut data = DEPLOY_OPTIONS_PREFIX.to_vec();
    data.push(DEPLOY_FLAG_PERSISTENT);
    data.extend_from_slice(binary);
    data
}

fn world(senders: u64, rt: &NativeRuntime) -> World {
    let art = rampart_native::testing::artifacts();
    let deployer = key(u64::MAX);
    let senders: Vec<_> = (0..senders).map(key).collect();
    let eth = U256::from(10u64).pow(U256::from(21));
    let mut state = funded(senders.iter().chain([&deployer]), eth);
    let d = deployer.address();
    let c_counter = std::fs::read(&art.c_counter).expect("C counter");
    let c_token = std::fs::read(&art.c_token).expect("C token");
    let deploys = [
        sign(
            &deployer,
            0,
            TxKind::Create,
            artifact_code(include_str!(
                "../../../tests/contracts/artifacts/Counter.json"
            )),
            3_000_000,
        ),
        sign(
            &deployer,
            1,
            TxKind::Create,
            artifact_code(include_str!(
                "../../../tests/contracts/artifacts/PlainToken.json"
            )),
            3_000_000,
        ),
        sign(
            &deployer,
            2,
            TxKind::Call(NATIVE_DEPLOYER),
            c_counter.clone(),
            60_000_000,
        ),
        sign(
            &deployer,
            3,
            TxKind::Call(NATIVE_DEPLOYER),
            c_token.clone(),
            60_000_000,
        ),
        sign(
            &deployer,
            4,
            TxKind::Call(NATIVE_DEPLOYER),
            persistent(&c_counter),
            60_000_000,
        ),
        sign(
            &deployer,
            5,
            TxKind::Call(NATIVE_DEPLOYER),
            persistent(&c_token),
            60_000_000,
        ),
    ];
    let mut number = 0;
    setup_block(&mut state, &mut number, &deploys, rt, "deploys");
    let (sol_counter, sol_token, native_counter, native_token) =
        (d.create(0), d.create(1), d.create(2), d.create(3));
    let (persistent_counter, persistent_token) = (d.create(4), d.create(5));
    // The deployer mints each sender's tokens on every token (it becomes their owner).
    let mut nonce = 6;
    let mut mints = Vec::new();
    for token in [sol_token, native_token, persistent_token] {
        for s in &senders {
            let data = mintCall {
                to: s.address(),
                amount: U256::from(1_000_000u64),
            }
            .abi_encode();
            mints.push(sign(&deployer, nonce, TxKind::Call(token), data, 2_000_000));
            nonce += 1;
        }
    }
    setup_block(&mut state, &mut number, &mints, rt, "mints");
    World {
        state,
        number,
        senders,
        sol_counter,
        sol_token,
        native_counter,
        native_token,
        persistent_counter,
        persistent_token,
    }
}

/// One transaction per sender: `increment()` on `counter` or `transfer(fresh, 1)` on `token`.
fn block_txs(w: &World, to: Address, token: bool) -> Vec<RecoveredTx> {
    w.senders
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let data: Bytes = if token {
                let mut a = [0u8; 20];
                a[12..].copy_from_slice(&(i as u64 + 1).to_be_bytes());
                transferCall {
                    to: Address::from(a),
                    amount: U256::from(1),
                }
                .abi_encode()
                .into()
            } else {
                incrementCall {}.abi_encode().into()
            };
            sign(s, 0, TxKind::Call(to), data, 2_000_000)
        })
        .collect()
}

fn gvisor_usable() -> bool {
    if std::env::var("RAMPART_SKIP_GVISOR").as_deref() == Ok("1") {
        return false;
    }
    let runsc = std::process::Command::new("runsc")
        .arg("--version")
        .output();
    runsc.is_ok_and(|o| o.status.success()) && nix_is_root()
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn tx_per_s(txs: usize, d: Duration) -> f64 {
    txs as f64 / d.as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let txs: u64 = args.first().map_or(200, |a| a.parse().expect("txs"));
    let rounds: usize = args.get(1).map_or(5, |a| a.parse().expect("rounds"));
    let art = rampart_native::testing::artifacts();
    let mut backends = vec![BackendKind::Process];
    if gvisor_usable() {
        backends.push(BackendKind::Gvisor);
    } else {
        eprintln!("gVisor not measured (needs root and runsc; RAMPART_SKIP_GVISOR=1 skips it)");
    }
    println!("native vs Solidity: blocks of {txs} txs (one per sender), {rounds} rounds, medians");
    println!(
        "| backend | workload | Solidity tx/s | native tx/s | native / Solidity | gas per tx (Solidity / native) |"
    );
    println!("|---|---|---|---|---|---|");
    for backend in backends {
        let name = format!("{backend:?}").to_lowercase();
        let work = std::env::temp_dir().join(format!("rampart-bench-nvs-{}", std::process::id()));
        let mut cfg = NativeConfig::new(backend, art.host.clone());
        cfg.work_dir = work.clone();
        cfg.instance = format!("nvs_{name}");
        let rt = NativeRuntime::new(cfg).expect("native runtime");
        let w = world(txs, &rt);
        for (label, sol, native, token) in [
            (
                "counter increment()",
                w.sol_counter,
                w.native_counter,
                false,
            ),
            (
                "counter increment(), persistent process",
                w.sol_counter,
                w.persistent_counter,
                false,
            ),
            ("token transfer()", w.sol_token, w.native_token, true),
            (
                "token transfer(), persistent process",
                w.sol_token,
                w.persistent_token,
                true,
            ),
        ] {
            let sol_txs = block_txs(&w, sol, token);
            let nat_txs = block_txs(&w, native, token);
            let n = w.number + 1;
            // One untimed block each: sandboxes started, caches warm.
            let gas = |txs: &[RecoveredTx]| {
                let out = run_block(&w.state, n, txs, Some(&rt));
                assert_eq!(out.included.len(), txs.len(), "{:?}", out.rejected);
                assert!(
                    out.block.receipts.iter().all(|r| r.success),
                    "{label}: every transaction succeeds"
                );
                out.block.header.gas_used / txs.len() as u64
            };
            let (sol_gas, nat_gas) = (gas(&sol_txs), gas(&nat_txs));
            let (mut ts, mut tn) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                let t = Instant::now();
                std::hint::black_box(run_block(&w.state, n, &sol_txs, Some(&rt)));
                ts.push(t.elapsed());
                let t = Instant::now();
                std::hint::black_box(run_block(&w.state, n, &nat_txs, Some(&rt)));
                tn.push(t.elapsed());
            }
            let (s, nt) = (
                tx_per_s(sol_txs.len(), median(ts)),
                tx_per_s(nat_txs.len(), median(tn)),
            );
            println!(
                "| {name} | {label} | {s:.0} | {nt:.0} | {:.4} | {sol_gas} / {nat_gas} |",
                nt / s
            );
        }
        drop(rt);
        let _ = std::fs::remove_dir_all(&work);
    }
}
