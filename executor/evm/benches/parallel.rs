//! Block-STM (`execute_block_parallel`, 2 threads) against the sequential `execute_block`, on
//! the same blocks from the same state, interleaved round by round so that machine noise hits
//! both alike. Every parallel block is first checked equal to the sequential one.
//!
//!   cargo bench -p rampart-evm --bench parallel -- [rounds] [filter]
//!   cargo bench -p rampart-evm --bench parallel -- [rounds] scaling [max threads]
//!
//! `filter` picks the workloads whose name contains it; `workloads` picks them all and skips
//! the threshold.
//!
//! Workloads: independent ETH transfers; ERC-20 transfers with a hot-recipient share of
//! 0/10/50/100% (0% = independent); swaps on a constant-product AMM spread over K = 1, 10, 100
//! pools; each at 1k and 10k transactions. Then the tiny-block threshold: ERC-20 transfers at
//! 1..128 transactions, Block-STM forced on (`min_txs = 0`), to find the size below which the
//! sequential executor is faster (`PARALLEL_MIN_TXS`).
//!
//!   cargo bench -p rampart-evm --bench parallel -- 1 export DIR
//!
//! writes those workloads (1k and 10k) for other executors instead of timing them (pevm:
//! bench/pevm-compare, scripts/bench-pevm.sh): `DIR/state.json` holds the block environment and
//! the pre-state every workload block runs on (each account with its nonce, balance, code and
//! storage); `DIR/<size>-<order>-<name>.json` holds the transactions as the executor hands them
//! to revm (`TxEnv` fields and the recovered sender) and the sequential executor's outcome: gas
//! used and the write set.

mod common;

/// The `rampart` binary's allocator, so the figures are the node's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use alloy_primitives::{Address, TxKind, U256, keccak256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolValue, sol};
use common::{CHAIN, artifact_code, funded, header, input, key, median, sign_value as sign};
use rampart_evm::{
    BlockOutcome, ParallelConfig, execute_block, execute_block_parallel,
    execute_block_parallel_with,
};
use rampart_primitives::{BlockHeader, MemoryState, RecoveredTx, commitment::write_set_hash};

sol! {
    function transfer(address to, uint256 value) returns (bool);
    function approve(address spender, uint256 value) returns (bool);
    function addLiquidity(uint256 amount0, uint256 amount1);
    function swap(address tokenIn, uint256 amountIn) returns (uint256);
}

const THREADS: usize = 2;
const MAX_SENDERS: usize = 10_000;
const MAX_POOLS: usize = 100;

fn e18(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

struct World {
    state: MemoryState,
    parent: BlockHeader,
    senders: Vec<PrivateKeySigner>,
    token_a: Address,
    token_b: Address,
    pools: Vec<Address>,
}

impl World {
    fn run(&mut self, txs: &[RecoveredTx], what: &str) {
        let out = execute_block(&self.state, &CHAIN, &input(&self.parent, txs, None)).expect(what);
        assert!(
            out.rejected.is_empty(),
            "{what}: {:?}",
            out.rejected.first()
        );
        assert!(
            out.block.receipts.iter().all(|r| r.success),
            "{what} succeeds"
        );
        self.state.apply(&out.block.write_set);
        self.parent = out.block.header;
    }

    fn new() -> Self {
        let t = Instant::now();
        let deployer = key(u64::MAX);
        let senders: Vec<_> = (0..MAX_SENDERS as u64).map(key).collect();
        let state = funded(senders.iter().chain([&deployer]), e18(1_000));
        let mut world = World {
            state,
            parent: header(0),
            senders,
            token_a: Address::ZERO,
            token_b: Address::ZERO,
            pools: Vec::new(),
        };
        let token = artifact_code(include_str!(
            "../../../tests/contracts/artifacts/Token.json"
        ))
        .to_vec();
        let amm =
            artifact_code(include_str!("../../../tests/contracts/artifacts/Amm.json")).to_vec();
        let d = deployer.address();
        let mut nonce = 0u64;
        let mut txs = Vec::new();
        let mut next = |to: TxKind, data: Vec<u8>, gas: u64, txs: &mut Vec<RecoveredTx>| {
            txs.push(sign(&deployer, nonce, to, U256::ZERO, data, gas));
            nonce += 1;
            nonce - 1
        };
        let supply = e18(1_000_000_000_000);
        let a = next(
            TxKind::Create,
            [token.clone(), supply.abi_encode()].concat(),
            3_000_000,
            &mut txs,
        );
        let b = next(
            TxKind::Create,
            [token, supply.abi_encode()].concat(),
            3_000_000,
            &mut txs,
        );
        world.token_a = d.create(a);
        world.token_b = d.create(b);
        let pair = (world.token_a, world.token_b).abi_encode_params();
        for _ in 0..MAX_POOLS {
            let n = next(
                TxKind::Create,
                [amm.clone(), pair.clone()].concat(),
                3_000_000,
                &mut txs,
            );
            world.pools.push(d.create(n));
        }
        world.run(&txs, "deploy");
        let mut txs = Vec::new();
        for pool in world.pools.clone() {
            for t in [world.token_a, world.token_b] {
                let data = approveCall {
                    spender: pool,
                    value: U256::MAX,
                }
                .abi_encode();
                next(TxKind::Call(t), data, 100_000, &mut txs);
            }
            let data = addLiquidityCall {
                amount0: e18(10_000_000),
                amount1: e18(10_000_000),
            }
            .abi_encode();
            next(TxKind::Call(pool), data, 300_000, &mut txs);
        }
        for k in &world.senders {
            let data = transferCall {
                to: k.address(),
                value: e18(1_000_000),
            }
            .abi_encode();
            next(TxKind::Call(world.token_a), data, 100_000, &mut txs);
        }
        world.run(&txs, "liquidity and balances");
        // Sender i swaps on pool i % K for K in 1, 10, 100: approve those pools.
        let mut txs = Vec::new();
        for (i, k) in world.senders.iter().enumerate() {
            let mut pools: Vec<usize> = [1, 10, 100].iter().map(|m| i % m).collect();
            pools.dedup();
            pools.sort_unstable();
            pools.dedup();
            for (n, p) in pools.into_iter().enumerate() {
                let data = approveCall {
                    spender: world.pools[p],
                    value: U256::MAX,
                }
                .abi_encode();
                txs.push(sign(
                    k,
                    n as u64,
                    TxKind::Call(world.token_a),
                    U256::ZERO,
                    data,
                    100_000,
                ));
            }
        }
        world.run(&txs, "approvals");
        eprintln!(
            "setup: {} senders, {} pools, {:.1} s",
            MAX_SENDERS,
            MAX_POOLS,
            t.elapsed().as_secs_f64()
        );
        world
    }

    fn nonce(&self, a: Address) -> u64 {
        self.state.accounts.get(&a).map_or(0, |a| a.nonce)
    }

    fn eth_transfers(&self, n: usize) -> Vec<RecoveredTx> {
        (0..n)
            .map(|i| {
                let k = &self.senders[i];
                let to = Address::from_word(keccak256(((i as u64 + 1) << 32).to_be_bytes()));
                sign(
                    k,
                    self.nonce(k.address()),
                    TxKind::Call(to),
                    U256::from(1),
                    vec![],
                    21_000,
                )
            })
            .collect()
    }

    /// `hot` percent of the transfers go to one recipient; the rest to distinct ones.
    fn erc20(&self, n: usize, hot: usize) -> Vec<RecoveredTx> {
        let hot_to = Address::repeat_byte(0x77);
        (0..n)
            .map(|i| {
                let k = &self.senders[i];
                // Evenly spread: transaction i is hot when the running share falls behind.
                let is_hot = (i + 1) * hot / 100 > i * hot / 100;
                let to = if is_hot {
                    hot_to
                } else {
                    Address::from_word(keccak256((i as u64).to_be_bytes()))
                };
                let data = transferCall {
                    to,
                    value: U256::from(1),
                }
                .abi_encode();
                sign(
                    k,
                    self.nonce(k.address()),
                    TxKind::Call(self.token_a),
                    U256::ZERO,
                    data,
                    100_000,
                )
            })
            .collect()
    }

    /// The timed workloads at `n` transactions, in table order.
    fn workloads(&self, n: usize) -> Vec<(String, Vec<RecoveredTx>)> {
        vec![
            ("eth independent".into(), self.eth_transfers(n)),
            ("erc20 hot 0%".into(), self.erc20(n, 0)),
            ("erc20 hot 10%".into(), self.erc20(n, 10)),
            ("erc20 hot 50%".into(), self.erc20(n, 50)),
            ("erc20 hot 100%".into(), self.erc20(n, 100)),
            ("amm K=100".into(), self.swaps(n, 100)),
            ("amm K=10".into(), self.swaps(n, 10)),
            ("amm K=1".into(), self.swaps(n, 1)),
        ]
    }

    fn swaps(&self, n: usize, pools: usize) -> Vec<RecoveredTx> {
        (0..n)
            .map(|i| {
                let k = &self.senders[i];
                let data = swapCall {
                    tokenIn: self.token_a,
                    amountIn: e18(1),
                }
                .abi_encode();
                sign(
                    k,
                    self.nonce(k.address()),
                    TxKind::Call(self.pools[i % pools]),
                    U256::ZERO,
                    data,
                    200_000,
                )
            })
            .collect()
    }
}

struct Row {
    name: String,
    n: usize,
    seq: Duration,
    par: Duration,
    seq_best: Duration,
    par_best: Duration,
}

fn measure(
    world: &World,
    name: &str,
    txs: &[RecoveredTx],
    rounds: usize,
    config: Option<&ParallelConfig>,
) -> Row {
    let input = input(&world.parent, txs, None);
    let reference: BlockOutcome = execute_block(&world.state, &CHAIN, &input).expect("sequential");
    let check = ParallelConfig {
        threads: THREADS,
        min_txs: 0,
    };
    let (par, stats) =
        execute_block_parallel_with(&world.state, &CHAIN, &input, config.unwrap_or(&check))
            .expect("parallel");
    assert_eq!(par.block, reference.block, "{name}: parallel == sequential");
    assert_eq!(par.rejected, reference.rejected);
    let failed = reference
        .block
        .receipts
        .iter()
        .filter(|r| !r.success)
        .count();
    assert!(
        reference.rejected.is_empty() && failed == 0,
        "{name}: all transactions succeed"
    );
    let (mut seq, mut parallel) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        let out = execute_block(&world.state, &CHAIN, &input).expect("sequential");
        seq.push(t.elapsed());
        std::hint::black_box(out);
        let t = Instant::now();
        let out = match config {
            Some(c) => {
                execute_block_parallel_with(&world.state, &CHAIN, &input, c)
                    .expect("parallel")
                    .0
            }
            None => {
                execute_block_parallel(&world.state, &CHAIN, &input, THREADS).expect("parallel")
            }
        };
        parallel.push(t.elapsed());
        std::hint::black_box(out);
    }
    let row = Row {
        name: name.to_string(),
        n: txs.len(),
        seq_best: *seq.iter().min().expect("rounds"),
        par_best: *parallel.iter().min().expect("rounds"),
        seq: median(seq),
        par: median(parallel),
    };
    if config.is_none() {
        println!(
            "{:<16} {:>6} txs  seq {:>7.0} tx/s ({:>7.2} ms)  par{THREADS} {:>7.0} tx/s ({:>7.2} ms)  speedup {:>5.2}x  (best-of: {:>5.2}x)  [execs {} validations {} blocked {} aborts {}{}]",
            row.name,
            row.n,
            row.n as f64 / row.seq.as_secs_f64(),
            row.seq.as_secs_f64() * 1e3,
            row.n as f64 / row.par.as_secs_f64(),
            row.par.as_secs_f64() * 1e3,
            row.seq.as_secs_f64() / row.par.as_secs_f64(),
            row.seq_best.as_secs_f64() / row.par_best.as_secs_f64(),
            stats.executions,
            stats.validations,
            stats.blocked,
            stats.aborts,
            stats
                .sequential_tail_from
                .map(|i| format!(", sequential from tx {i}"))
                .unwrap_or_default(),
        );
    }
    row
}

/// Writes the workloads for another executor (see the module docs).
fn export(world: &World, dir: &std::path::Path) {
    use serde_json::json;
    std::fs::create_dir_all(dir).expect("export dir");
    let write = |name: &str, value: serde_json::Value| {
        let path = dir.join(name);
        let bytes = serde_json::to_vec(&value).expect("json");
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    };
    let state = &world.state;
    let no_txs: [RecoveredTx; 0] = [];
    let params = input(&world.parent, &no_txs, None).params;
    let accounts: Vec<_> = state
        .accounts
        .iter()
        .map(|(address, account)| {
            let code = state.codes.get(&account.code_hash);
            let storage: Vec<_> = state
                .storage
                .range((*address, U256::ZERO)..=(*address, U256::MAX))
                .map(|((_, slot), value)| (slot, value))
                .collect();
            json!({
                "address": address,
                "nonce": account.nonce,
                "balance": account.balance,
                "code": code,
                "storage": storage,
            })
        })
        .collect();
    let slots = state.storage.len();
    write(
        "state.json",
        json!({
            "block": {
                "number": params.number,
                "timestamp": params.timestamp,
                "beneficiary": params.beneficiary,
                "gas_limit": params.gas_limit,
                "base_fee": params.base_fee,
                "prevrandao": params.prevrandao,
                "chain_id": CHAIN.chain_id,
                "spec": CHAIN.fork_at(params.timestamp).spec_id().to_string(),
            },
            "accounts": accounts,
        }),
    );
    eprintln!(
        "{}: {} accounts, {} slots, {} codes",
        dir.join("state.json").display(),
        state.accounts.len(),
        slots,
        state.codes.len()
    );
    for n in [1_000, 10_000] {
        for (order, (name, txs)) in world.workloads(n).into_iter().enumerate() {
            let out = execute_block(state, &CHAIN, &input(&world.parent, &txs, None))
                .expect("sequential");
            assert!(
                out.rejected.is_empty() && out.block.receipts.iter().all(|r| r.success),
                "{name}: all transactions succeed"
            );
            let txs: Vec<_> = txs
                .iter()
                .map(|tx| {
                    let env = rampart_evm::env::tx_env(tx);
                    json!({
                        "sender": tx.sender,
                        "tx_type": env.tx_type,
                        "nonce": env.nonce,
                        "to": env.kind.to(),
                        "value": env.value,
                        "input": env.data,
                        "gas_limit": env.gas_limit,
                        "max_fee_per_gas": env.gas_price,
                        "max_priority_fee_per_gas": env.gas_priority_fee,
                        "chain_id": env.chain_id,
                    })
                })
                .collect();
            let write_set: Vec<_> = out
                .block
                .write_set
                .accounts
                .iter()
                .map(|(address, w)| {
                    assert!(!w.storage_cleared, "{name}: no storage wipes");
                    json!({
                        "address": address,
                        "nonce": w.info.map(|a| a.nonce),
                        "balance": w.info.map(|a| a.balance),
                        "storage": w.storage.iter().collect::<Vec<_>>(),
                    })
                })
                .collect();
            let slug: String = name
                .chars()
                .map(|c| match c {
                    'a'..='z' | 'A'..='Z' | '0'..='9' => c.to_ascii_lowercase(),
                    '%' => 'p',
                    _ => '-',
                })
                .collect();
            let file = format!("{n:05}-{order}-{slug}.json");
            write(
                &file,
                json!({
                    "name": name,
                    "size": n,
                    "order": order,
                    "gas_used": out.block.header.gas_used,
                    "txs": txs,
                    "write_set": write_set,
                }),
            );
            eprintln!(
                "{}: {} txs, gas used {}",
                dir.join(&file).display(),
                n,
                out.block.header.gas_used
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rounds: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(7);
    let filter = args.get(1).cloned().unwrap_or_default();
    let world = World::new();
    if filter == "export" {
        let dir = args
            .get(2)
            .map_or("/var/tmp/pevm-workloads", String::as_str);
        export(&world, std::path::Path::new(dir));
        return;
    }
    if filter == "profile" {
        // One workload, one executor, in a loop: for `perf record` / `perf stat`.
        //   -- <rounds> profile <eth|erc20|erc20-hot|amm100|amm1> <seq|stm1|stm2>
        let workload = args.get(2).map(String::as_str).unwrap_or("erc20");
        let mode = args.get(3).map(String::as_str).unwrap_or("stm2");
        let txs = match workload {
            "eth" => world.eth_transfers(10_000),
            "erc20-hot" => world.erc20(10_000, 100),
            "amm100" => world.swaps(10_000, 100),
            "amm1" => world.swaps(10_000, 1),
            _ => world.erc20(10_000, 0),
        };
        let input = input(&world.parent, &txs, None);
        let config = ParallelConfig {
            threads: if mode == "stm1" { 1 } else { THREADS },
            min_txs: 0,
        };
        let t = Instant::now();
        for _ in 0..rounds {
            let out = if mode == "seq" {
                execute_block(&world.state, &CHAIN, &input).expect("sequential")
            } else {
                execute_block_parallel_with(&world.state, &CHAIN, &input, &config)
                    .expect("parallel")
                    .0
            };
            std::hint::black_box(out);
        }
        println!(
            "{workload} {mode}: {:.2} ms per block",
            t.elapsed().as_secs_f64() * 1e3 / rounds as f64
        );
        return;
    }
    if filter == "commitment" {
        // The write set's hash at a block's end on 1, 2, … threads up to the machine's cores,
        // interleaved, for the write sets of 10,000-transaction blocks: what the chunked
        // commitment (rampart_primitives::commitment) takes off a block's serial tail.
        //   -- <rounds> commitment
        let mut counts: Vec<usize> = std::iter::successors(Some(1usize), |t| Some(t * 2))
            .take_while(|&t| t < std::thread::available_parallelism().map_or(2, |n| n.get()))
            .collect();
        counts.push(std::thread::available_parallelism().map_or(2, |n| n.get()));
        counts.dedup();
        println!(
            "| write set of 10,000 txs | accounts | slots | {} |",
            counts
                .iter()
                .map(|t| format!("{t} thread(s)"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        println!("|---|---|---|{}", "---|".repeat(counts.len()));
        for (name, txs) in [
            ("ETH transfers", world.eth_transfers(10_000)),
            ("ERC-20, hot 0%", world.erc20(10_000, 0)),
            ("AMM, K = 100", world.swaps(10_000, 100)),
        ] {
            let out = execute_block(&world.state, &CHAIN, &input(&world.parent, &txs, None))
                .expect("sequential");
            let ws = &out.block.write_set;
            let mut times: Vec<Vec<Duration>> = vec![Vec::new(); counts.len()];
            let mut hashes = Vec::new();
            for _ in 0..rounds {
                for (i, &t) in counts.iter().enumerate() {
                    let start = Instant::now();
                    hashes.push(write_set_hash(ws, t).expect("hash"));
                    times[i].push(start.elapsed());
                }
            }
            hashes.dedup();
            assert_eq!(hashes.len(), 1, "one hash whatever the threads");
            let slots: usize = ws.accounts.values().map(|a| a.storage.len()).sum();
            let cells: Vec<String> = times
                .into_iter()
                .map(|v| format!("{:.2} ms", median(v).as_secs_f64() * 1e3))
                .collect();
            println!(
                "| {name} | {} | {slots} | {} |",
                ws.accounts.len(),
                cells.join(" | ")
            );
        }
        return;
    }
    if filter == "scaling" {
        // Block-STM at 1, 2, 4, … threads up to the machine's cores (or `-- <rounds> scaling
        // <max threads>`), each against the sequential executor in the same run: the scaling
        // curve of issue 4, for a machine with more cores than this one.
        let max = args
            .get(2)
            .and_then(|a| a.parse().ok())
            .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
            .unwrap_or(2);
        let mut counts: Vec<usize> = std::iter::successors(Some(1usize), |t| Some(t * 2))
            .take_while(|&t| t < max)
            .collect();
        counts.push(max);
        println!(
            "scaling: Block-STM speedup over sequential at {counts:?} threads, 10,000 txs, median of {rounds} interleaved rounds; {} cores",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        let picked = [
            ("eth independent", world.eth_transfers(10_000)),
            ("erc20 hot 0%", world.erc20(10_000, 0)),
            ("erc20 hot 10%", world.erc20(10_000, 10)),
            ("amm K=100", world.swaps(10_000, 100)),
            ("amm K=1", world.swaps(10_000, 1)),
        ];
        print!("{:<18}", "workload");
        for t in &counts {
            print!(" {:>8}", format!("{t} thr"));
        }
        println!();
        for (name, txs) in &picked {
            print!("{name:<18}");
            for &threads in &counts {
                let config = ParallelConfig {
                    threads,
                    min_txs: 0,
                };
                let row = measure(&world, name, txs, rounds, Some(&config));
                print!(" {:>7.2}x", row.seq.as_secs_f64() / row.par.as_secs_f64());
            }
            println!();
        }
        return;
    }
    if filter == "overhead" {
        // Block-STM's own cost: one worker thread, no parallelism to gain.
        let one = ParallelConfig {
            threads: 1,
            min_txs: 0,
        };
        println!(
            "overhead: sequential vs Block-STM on 1 thread; median of {rounds} interleaved rounds"
        );
        for (name, txs) in [
            ("eth independent", world.eth_transfers(10_000)),
            ("erc20 hot 0%", world.erc20(10_000, 0)),
            ("erc20 hot 100%", world.erc20(10_000, 100)),
            ("amm K=100", world.swaps(10_000, 100)),
            ("amm K=1", world.swaps(10_000, 1)),
        ] {
            let row = measure(&world, name, &txs, rounds, Some(&one));
            println!(
                "{:<22} {:>6} txs  seq {:>8.2} ms  block-stm(1) {:>8.2} ms  ratio {:>5.2}",
                name,
                row.n,
                row.seq.as_secs_f64() * 1e3,
                row.par.as_secs_f64() * 1e3,
                row.par.as_secs_f64() / row.seq.as_secs_f64()
            );
        }
        return;
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "sequential execute_block vs execute_block_parallel({THREADS} threads); median of {rounds} interleaved rounds; load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for n in [1_000, 10_000] {
        let rounds = if n >= 10_000 {
            rounds.div_ceil(2).max(3)
        } else {
            rounds
        };
        for (name, txs) in world.workloads(n) {
            if filter == "workloads" || name.contains(filter.as_str()) {
                measure(&world, &name, &txs, rounds, None);
            }
        }
    }
    if filter == "workloads" || (!"threshold".contains(filter.as_str()) && !filter.is_empty()) {
        return;
    }
    println!("threshold: ERC-20 transfers (independent), Block-STM forced on, {THREADS} threads");
    let forced = ParallelConfig {
        threads: THREADS,
        min_txs: 0,
    };
    for n in [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 128] {
        let txs = world.erc20(n, 0);
        let row = measure(&world, "erc20", &txs, (rounds * 40).max(50), Some(&forced));
        println!(
            "  {:>4} txs  seq {:>8.1} us  block-stm {:>8.1} us  speedup {:>5.2}x  (best-of: {:>5.2}x)",
            n,
            row.seq.as_secs_f64() * 1e6,
            row.par.as_secs_f64() * 1e6,
            row.seq.as_secs_f64() / row.par.as_secs_f64(),
            row.seq_best.as_secs_f64() / row.par_best.as_secs_f64()
        );
    }
}
