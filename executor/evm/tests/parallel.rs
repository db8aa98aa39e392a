//! Block-STM against the sequential executor: every parallel outcome must equal the
//! sequential one, field by field (header, receipts, write set, included, rejected).
//!
//! Blocks come from a seeded generator (fixed seeds, so a failure reproduces) over real
//! contracts from `tests/contracts/artifacts`: OpenZeppelin ERC-20 `Token`, the constant-product
//! `Amm`, `Counter`, `Factory` (CREATE/CREATE2), `Reverter`, `BoxV1` behind an `ERC1967Proxy`
//! (DELEGATECALL), `Cancun` (transient storage, MCOPY, nested calls) and `Ephemeral`
//! (SELFDESTRUCT in the creating transaction), plus ETH transfers, precompile touches and
//! transactions that are invalid at their position. A hot-share knob sends that fraction of
//! transactions through one sender, one recipient, one pool or one counter.

use std::collections::HashMap;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolValue, sol};
use rampart_evm::{
    BlockInput, BlockOutcome, BlockParams, ChainConfig, ExecError, Fallback, ParallelConfig,
    ParallelStats, Tuning, execute_block, execute_block_parallel, execute_block_parallel_tuned,
    execute_block_parallel_with,
};
use rampart_primitives::{
    Account, BlockHeader, KECCAK_EMPTY, MemoryState, RecoveredTx, StateError, StateReader,
};

sol! {
    function transfer(address to, uint256 value) returns (bool);
    function approve(address spender, uint256 value) returns (bool);
    function addLiquidity(uint256 amount0, uint256 amount1);
    function swap(address tokenIn, uint256 amountIn) returns (uint256);
    function increment() returns (uint256);
    function set(uint256 v);
    function deployCreate(uint256 v) returns (address);
    function deployCreate2(bytes32 salt, uint256 v) returns (address);
    function failRequire();
    function failCustom(uint256 code);
    function failDivide(uint256 d) returns (uint256);
    function loopForever();
    function ok() returns (uint256);
    function initialize(uint256 initialValue);
    function setValue(uint256 newValue);
    function transientRoundTrip(uint256 v) returns (uint256, uint256);
    function storeCopy(bytes data);
    function guarded(bool reenter) returns (uint256);
    function destroy(address beneficiary);
}

const CHAIN: ChainConfig = ChainConfig {
    chain_id: 7,
    prague_time: Some(0),
    osaka_time: None,
};
const BASE_FEE: u64 = 1_000_000_000;
const COINBASE: Address = Address::repeat_byte(0xcb);
/// Large enough that generated blocks always take the parallel path.
const BIG_GAS: u64 = 1 << 40;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

/// splitmix64: tiny, seedable, identical everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

// ---------------------------------------------------------------------------------------------
// Contracts

fn artifact(json: &str) -> Bytes {
    let a: serde_json::Value = serde_json::from_str(json).expect("artifact json");
    let hex = a["bytecode"]
        .as_str()
        .expect("bytecode")
        .trim_start_matches("0x");
    alloy_primitives::hex::decode(hex).expect("hex").into()
}

fn with_args(code: &Bytes, args: &[u8]) -> Bytes {
    [code.as_ref(), args].concat().into()
}

struct Code {
    token: Bytes,
    amm: Bytes,
    counter: Bytes,
    factory: Bytes,
    reverter: Bytes,
    box_v1: Bytes,
    proxy: Bytes,
    cancun: Bytes,
    ephemeral: Bytes,
}

impl Code {
    fn load() -> Self {
        Self {
            token: artifact(include_str!(
                "../../../tests/contracts/artifacts/Token.json"
            )),
            amm: artifact(include_str!("../../../tests/contracts/artifacts/Amm.json")),
            counter: artifact(include_str!(
                "../../../tests/contracts/artifacts/Counter.json"
            )),
            factory: artifact(include_str!(
                "../../../tests/contracts/artifacts/Factory.json"
            )),
            reverter: artifact(include_str!(
                "../../../tests/contracts/artifacts/Reverter.json"
            )),
            box_v1: artifact(include_str!(
                "../../../tests/contracts/artifacts/BoxV1.json"
            )),
            proxy: artifact(include_str!(
                "../../../tests/contracts/artifacts/ERC1967Proxy.json"
            )),
            cancun: artifact(include_str!(
                "../../../tests/contracts/artifacts/Cancun.json"
            )),
            ephemeral: artifact(include_str!(
                "../../../tests/contracts/artifacts/Ephemeral.json"
            )),
        }
    }
}

/// Init code that deploys `runtime` as is.
fn init_code(runtime: &[u8]) -> Bytes {
    let len = runtime.len() as u8;
    let mut code = vec![
        0x60, len, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, len, 0x60, 0x00, 0xf3,
    ];
    code.extend_from_slice(runtime);
    code.into()
}

/// `sstore(0, balance(coinbase))`: a contract that reads the beneficiary.
const READ_COINBASE_RUNTIME: &[u8] = &[0x41, 0x31, 0x60, 0x00, 0x55, 0x00];

// ---------------------------------------------------------------------------------------------
// Transactions

fn key(i: u64) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256(
        [b"rampart-parallel".as_slice(), &i.to_be_bytes()].concat(),
    ))
    .expect("valid key")
}

fn eth(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

#[derive(Clone, Copy)]
struct Fee {
    legacy: bool,
    tip: u128,
}

const FEE: Fee = Fee {
    legacy: false,
    tip: 1_000,
};

#[allow(clippy::too_many_arguments)]
fn sign_tx(
    k: &PrivateKeySigner,
    nonce: u64,
    to: TxKind,
    value: U256,
    input: Bytes,
    gas: u64,
    fee: Fee,
) -> RecoveredTx {
    let envelope = if fee.legacy {
        let tx = TxLegacy {
            chain_id: Some(CHAIN.chain_id),
            nonce,
            gas_price: BASE_FEE as u128 + fee.tip,
            gas_limit: gas,
            to,
            value,
            input,
        };
        let sig = k.sign_hash_sync(&tx.signature_hash()).expect("sign");
        TxEnvelope::from(tx.into_signed(sig))
    } else {
        let tx = TxEip1559 {
            chain_id: CHAIN.chain_id,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: 2 * BASE_FEE as u128,
            max_priority_fee_per_gas: fee.tip,
            to,
            value,
            access_list: Default::default(),
            input,
        };
        let sig = k.sign_hash_sync(&tx.signature_hash()).expect("sign");
        TxEnvelope::from(tx.into_signed(sig))
    };
    RecoveredTx::from_envelope(envelope).expect("recover")
}

/// A call with an EIP-2930 access list (an EIP-1559 transaction).
fn sign_listed(
    k: &PrivateKeySigner,
    nonce: u64,
    to: Address,
    data: Vec<u8>,
    access_list: Option<alloy_eips::eip2930::AccessList>,
) -> RecoveredTx {
    let tx = TxEip1559 {
        chain_id: CHAIN.chain_id,
        nonce,
        gas_limit: 1_000_000,
        max_fee_per_gas: 2 * BASE_FEE as u128,
        max_priority_fee_per_gas: FEE.tip,
        to: TxKind::Call(to),
        value: U256::ZERO,
        access_list: access_list.unwrap_or_default(),
        input: data.into(),
    };
    let sig = k.sign_hash_sync(&tx.signature_hash()).expect("sign");
    RecoveredTx::from_envelope(TxEnvelope::from(tx.into_signed(sig))).expect("recover")
}

fn call(k: &PrivateKeySigner, nonce: u64, to: Address, data: Vec<u8>, gas: u64) -> RecoveredTx {
    sign_tx(
        k,
        nonce,
        TxKind::Call(to),
        U256::ZERO,
        data.into(),
        gas,
        FEE,
    )
}

// ---------------------------------------------------------------------------------------------
// Running blocks

fn header(number: u64, beneficiary: Address) -> BlockHeader {
    BlockHeader {
        number,
        parent_hash: B256::repeat_byte(number as u8),
        timestamp: 1_000 + number,
        beneficiary,
        gas_limit: BIG_GAS,
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

fn params(parent: &BlockHeader, gas_limit: u64, beneficiary: Address) -> BlockParams {
    BlockParams {
        number: parent.number + 1,
        timestamp: parent.timestamp + 1,
        beneficiary,
        gas_limit,
        base_fee: BASE_FEE,
        prevrandao: B256::repeat_byte(3),
    }
}

fn input<'a>(parent: &'a BlockHeader, txs: &'a [RecoveredTx], gas_limit: u64) -> BlockInput<'a> {
    BlockInput {
        parent,
        params: params(parent, gas_limit, COINBASE),
        txs,
        extra_data: Bytes::from_static(b"parallel"),
        native: None,
    }
}

fn assert_same(par: &BlockOutcome, seq: &BlockOutcome, what: &str) {
    // Field by field first, for a readable failure; then the whole thing.
    assert_eq!(par.rejected, seq.rejected, "{what}: rejected");
    assert_eq!(par.included, seq.included, "{what}: included");
    assert_eq!(
        par.block.receipts.len(),
        seq.block.receipts.len(),
        "{what}: receipt count"
    );
    for (i, (p, s)) in par
        .block
        .receipts
        .iter()
        .zip(&seq.block.receipts)
        .enumerate()
    {
        assert_eq!(p, s, "{what}: receipt {i}");
    }
    for (address, s) in &seq.block.write_set.accounts {
        assert_eq!(
            par.block.write_set.accounts.get(address),
            Some(s),
            "{what}: write set of {address}"
        );
    }
    assert_eq!(
        par.block.write_set, seq.block.write_set,
        "{what}: write set"
    );
    assert_eq!(par.block.header, seq.block.header, "{what}: header");
    assert_eq!(par.block, seq.block, "{what}: block");
}

/// Block-STM to the end of the block (no sequential tail), always, even on one thread.
fn parallel(
    state: &MemoryState,
    input: &BlockInput<'_>,
    threads: usize,
) -> (BlockOutcome, ParallelStats) {
    parallel_tuned(state, input, threads, false)
}

fn parallel_tuned(
    state: &MemoryState,
    input: &BlockInput<'_>,
    threads: usize,
    sequential_tail: bool,
) -> (BlockOutcome, ParallelStats) {
    let config = ParallelConfig {
        threads,
        min_txs: 0,
    };
    let tuning = Tuning { sequential_tail };
    execute_block_parallel_tuned(state, &CHAIN, input, &config, &tuning)
        .expect("parallel block executes")
}

/// Runs `txs` sequentially and with Block-STM on 1, 2, 4 and 8 threads (and once more with the
/// conflict rule's sequential tail allowed); all must agree. Returns the sequential outcome.
fn differential(
    state: &MemoryState,
    parent: &BlockHeader,
    txs: &[RecoveredTx],
    what: &str,
) -> BlockOutcome {
    let input = input(parent, txs, BIG_GAS);
    let seq = execute_block(state, &CHAIN, &input).expect("sequential block executes");
    for threads in [1, 2, 4, 8] {
        let (par, stats) = parallel(state, &input, threads);
        assert_eq!(
            stats.fallback, None,
            "{what}: parallel path taken ({threads} threads)"
        );
        assert_eq!(
            stats.sequential_tail_from, None,
            "{what}: Block-STM to the end"
        );
        assert_same(&par, &seq, &format!("{what}, {threads} threads"));
    }
    let (par, stats) = parallel_tuned(state, &input, 2, true);
    assert_eq!(
        stats.fallback, None,
        "{what}: parallel path taken (tail allowed)"
    );
    assert_same(&par, &seq, &format!("{what}, 2 threads, tail allowed"));
    seq
}

// ---------------------------------------------------------------------------------------------
// The world: deployed contracts and funded accounts

const SENDERS: u64 = 24;
const POOLS: usize = 3;

struct World {
    code: Code,
    state: MemoryState,
    parent: BlockHeader,
    senders: Vec<PrivateKeySigner>,
    /// Has a little ETH only: its value transfers fail for funds.
    poor: PrivateKeySigner,
    hot_recipient: Address,
    token_a: Address,
    token_b: Address,
    pools: Vec<Address>,
    counter: Address,
    factory: Address,
    reverter: Address,
    proxy: Address,
    cancun: Address,
    /// Ephemeral contracts that survived their constructor.
    ephemerals: Vec<Address>,
}

impl World {
    fn nonce(&self, a: Address) -> u64 {
        self.state.accounts.get(&a).map_or(0, |a| a.nonce)
    }

    /// Runs a block sequentially (and differentially when `check`) and applies it.
    fn commit(&mut self, txs: &[RecoveredTx], check: bool, what: &str) -> BlockOutcome {
        let out = if check {
            differential(&self.state, &self.parent, txs, what)
        } else {
            let input = input(&self.parent, txs, BIG_GAS);
            execute_block(&self.state, &CHAIN, &input).expect("setup block executes")
        };
        self.state.apply(&out.block.write_set);
        self.parent = out.block.header.clone();
        out
    }

    fn new() -> Self {
        let code = Code::load();
        let deployer = key(1_000);
        let senders: Vec<_> = (0..SENDERS).map(key).collect();
        let poor = key(2_000);
        let mut state = MemoryState::default();
        for k in senders.iter().chain([&deployer]) {
            state.accounts.insert(
                k.address(),
                Account {
                    nonce: 0,
                    balance: eth(1_000),
                    code_hash: KECCAK_EMPTY,
                },
            );
        }
        state.accounts.insert(
            poor.address(),
            Account {
                nonce: 0,
                balance: U256::from(10u64).pow(U256::from(15)),
                code_hash: KECCAK_EMPTY,
            },
        );
        for n in 0..300u64 {
            state.block_hashes.insert(n, keccak256(n.to_be_bytes()));
        }
        let d = deployer.address();
        let supply = eth(1_000_000_000);
        let create = |nonce: u64, init: Bytes| {
            sign_tx(
                &deployer,
                nonce,
                TxKind::Create,
                U256::ZERO,
                init,
                5_000_000,
                FEE,
            )
        };
        let mut txs = vec![
            create(0, with_args(&code.token, &supply.abi_encode())),
            create(1, with_args(&code.token, &supply.abi_encode())),
        ];
        let (token_a, token_b) = (d.create(0), d.create(1));
        let mut pools = Vec::new();
        let mut nonce = 2;
        for _ in 0..POOLS {
            txs.push(create(
                nonce,
                with_args(&code.amm, &(token_a, token_b).abi_encode_params()),
            ));
            pools.push(d.create(nonce));
            nonce += 1;
        }
        txs.push(create(nonce, code.counter.clone()));
        let counter = d.create(nonce);
        nonce += 1;
        txs.push(create(nonce, code.factory.clone()));
        let factory = d.create(nonce);
        nonce += 1;
        txs.push(create(nonce, code.reverter.clone()));
        let reverter = d.create(nonce);
        nonce += 1;
        txs.push(create(nonce, code.box_v1.clone()));
        let box_impl = d.create(nonce);
        nonce += 1;
        let init = initializeCall {
            initialValue: U256::from(7),
        }
        .abi_encode();
        txs.push(create(
            nonce,
            with_args(
                &code.proxy,
                &(box_impl, Bytes::from(init)).abi_encode_params(),
            ),
        ));
        let proxy = d.create(nonce);
        nonce += 1;
        txs.push(create(nonce, code.cancun.clone()));
        let cancun = d.create(nonce);
        nonce += 1;
        // Liquidity and token balances.
        for pool in &pools {
            for token in [token_a, token_b] {
                txs.push(call(
                    &deployer,
                    nonce,
                    token,
                    approveCall {
                        spender: *pool,
                        value: U256::MAX,
                    }
                    .abi_encode(),
                    100_000,
                ));
                nonce += 1;
            }
            txs.push(call(
                &deployer,
                nonce,
                *pool,
                addLiquidityCall {
                    amount0: eth(1_000_000),
                    amount1: eth(2_000_000),
                }
                .abi_encode(),
                300_000,
            ));
            nonce += 1;
        }
        for k in &senders {
            for token in [token_a, token_b] {
                txs.push(call(
                    &deployer,
                    nonce,
                    token,
                    transferCall {
                        to: k.address(),
                        value: eth(1_000_000),
                    }
                    .abi_encode(),
                    100_000,
                ));
                nonce += 1;
            }
        }
        let mut world = World {
            code,
            state,
            parent: header(0, COINBASE),
            senders,
            poor,
            hot_recipient: Address::repeat_byte(0x77),
            token_a,
            token_b,
            pools,
            counter,
            factory,
            reverter,
            proxy,
            cancun,
            ephemerals: Vec::new(),
        };
        let out = world.commit(&txs, false, "setup");
        assert!(out.rejected.is_empty(), "setup: {:?}", out.rejected);
        assert!(
            out.block.receipts.iter().all(|r| r.success),
            "setup succeeds"
        );
        // Every sender approves every pool for both tokens.
        let mut txs = Vec::new();
        for k in &world.senders {
            let mut n = 0;
            for pool in &world.pools {
                for token in [token_a, token_b] {
                    txs.push(call(
                        k,
                        n,
                        token,
                        approveCall {
                            spender: *pool,
                            value: U256::MAX,
                        }
                        .abi_encode(),
                        100_000,
                    ));
                    n += 1;
                }
            }
        }
        let out = world.commit(&txs, false, "approvals");
        assert!(
            out.block.receipts.iter().all(|r| r.success),
            "approvals succeed"
        );
        world
    }

    /// A random block of `n` transactions; `hot` percent of them go through hot accounts.
    fn random_block(&mut self, rng: &mut Rng, n: usize, hot: u64) -> Vec<RecoveredTx> {
        let mut nonces: HashMap<Address, u64> = HashMap::new();
        let mut txs = Vec::with_capacity(n);
        // Contracts created earlier in this block (callable by later transactions).
        let mut fresh_counters: Vec<Address> = Vec::new();
        let hot_sender = self.senders[0].clone();
        for _ in 0..n {
            let is_hot = rng.chance(hot);
            let k = if is_hot && rng.chance(50) {
                hot_sender.clone()
            } else {
                rng.pick(&self.senders[1..]).clone()
            };
            let a = k.address();
            let nonce = *nonces.entry(a).or_insert_with(|| self.nonce(a));
            let recipient = if is_hot {
                self.hot_recipient
            } else {
                match rng.below(4) {
                    0 => Address::from_word(keccak256(rng.next().to_be_bytes())),
                    _ => rng.pick(&self.senders).address(),
                }
            };
            let fee = Fee {
                legacy: rng.chance(10),
                tip: *rng.pick(&[0u128, 1, 1_000, 1_000_000_000]),
            };
            let value = U256::from(rng.below(1_000_000) + 1);
            let mut advance = true;
            let tx = match rng.below(100) {
                // ETH transfer (possibly to a new account)
                0..=14 => sign_tx(
                    &k,
                    nonce,
                    TxKind::Call(recipient),
                    value,
                    Bytes::new(),
                    21_000,
                    fee,
                ),
                // ERC-20 transfer
                15..=32 => {
                    let token = if rng.chance(50) {
                        self.token_a
                    } else {
                        self.token_b
                    };
                    let amount = U256::from(rng.below(10_000) + 1);
                    let data = transferCall {
                        to: recipient,
                        value: amount,
                    }
                    .abi_encode();
                    sign_tx(
                        &k,
                        nonce,
                        TxKind::Call(token),
                        U256::ZERO,
                        data.into(),
                        120_000,
                        fee,
                    )
                }
                // AMM swap
                33..=47 => {
                    let pool = if is_hot {
                        self.pools[0]
                    } else {
                        *rng.pick(&self.pools[1..])
                    };
                    let token_in = if rng.chance(50) {
                        self.token_a
                    } else {
                        self.token_b
                    };
                    let amount = eth(rng.below(100) + 1);
                    let data = swapCall {
                        tokenIn: token_in,
                        amountIn: amount,
                    }
                    .abi_encode();
                    sign_tx(
                        &k,
                        nonce,
                        TxKind::Call(pool),
                        U256::ZERO,
                        data.into(),
                        250_000,
                        fee,
                    )
                }
                // CREATE: a Counter, callable later in the block
                48..=51 => {
                    fresh_counters.push(a.create(nonce));
                    sign_tx(
                        &k,
                        nonce,
                        TxKind::Create,
                        U256::ZERO,
                        self.code.counter.clone(),
                        500_000,
                        fee,
                    )
                }
                // Counter calls: the shared one (hot) or one created earlier in this block
                52..=57 => {
                    let target = if is_hot || fresh_counters.is_empty() {
                        self.counter
                    } else {
                        *rng.pick(&fresh_counters)
                    };
                    let data = if rng.chance(70) {
                        incrementCall {}.abi_encode()
                    } else {
                        setCall {
                            v: U256::from(rng.below(5)),
                        }
                        .abi_encode()
                    };
                    sign_tx(
                        &k,
                        nonce,
                        TxKind::Call(target),
                        U256::ZERO,
                        data.into(),
                        100_000,
                        fee,
                    )
                }
                // Factory: nested CREATE and CREATE2 (few salts: collisions happen)
                58..=63 => {
                    let v = U256::from(rng.below(3));
                    let data = if rng.chance(50) {
                        deployCreateCall { v }.abi_encode()
                    } else {
                        let salt = B256::with_last_byte(rng.below(4) as u8);
                        deployCreate2Call { salt, v }.abi_encode()
                    };
                    let value = if rng.chance(20) { value } else { U256::ZERO };
                    sign_tx(
                        &k,
                        nonce,
                        TxKind::Call(self.factory),
                        value,
                        data.into(),
                        600_000,
                        fee,
                    )
                }
                // Reverts and out-of-gas
                64..=71 => {
                    let (data, gas) = match rng.below(5) {
                        0 => (failRequireCall {}.abi_encode(), 100_000),
                        1 => (
                            failCustomCall {
                                code: U256::from(7),
                            }
                            .abi_encode(),
                            100_000,
                        ),
                        2 => (failDivideCall { d: U256::ZERO }.abi_encode(), 100_000),
                        3 => (loopForeverCall {}.abi_encode(), 80_000),
                        _ => (okCall {}.abi_encode(), 23_000), // out of gas early
                    };
                    sign_tx(
                        &k,
                        nonce,
                        TxKind::Call(self.reverter),
                        U256::ZERO,
                        data.into(),
                        gas,
                        fee,
                    )
                }
                // Successful Reverter.ok (hot storage slot `touched`)
                72..=73 => sign_tx(
                    &k,
                    nonce,
                    TxKind::Call(self.reverter),
                    U256::ZERO,
                    okCall {}.abi_encode().into(),
                    100_000,
                    fee,
                ),
                // DELEGATECALL through the UUPS proxy
                74..=78 => {
                    let data = setValueCall {
                        newValue: U256::from(rng.below(1_000)),
                    }
                    .abi_encode();
                    sign_tx(
                        &k,
                        nonce,
                        TxKind::Call(self.proxy),
                        U256::ZERO,
                        data.into(),
                        120_000,
                        fee,
                    )
                }
                // Cancun: transient storage with a nested call, MCOPY, reentrancy guard
                79..=82 => {
                    let data = match rng.below(3) {
                        0 => transientRoundTripCall {
                            v: U256::from(rng.below(100)),
                        }
                        .abi_encode(),
                        1 => storeCopyCall {
                            data: vec![rng.below(256) as u8; rng.below(70) as usize].into(),
                        }
                        .abi_encode(),
                        _ => guardedCall {
                            reenter: rng.chance(50),
                        }
                        .abi_encode(),
                    };
                    sign_tx(
                        &k,
                        nonce,
                        TxKind::Call(self.cancun),
                        U256::ZERO,
                        data.into(),
                        300_000,
                        fee,
                    )
                }
                // SELFDESTRUCT: in the creating transaction (account deleted), or later
                // (Cancun: only the balance moves)
                83..=86 => {
                    if !self.ephemerals.is_empty() && rng.chance(50) {
                        let target = *rng.pick(&self.ephemerals);
                        let to = if rng.chance(30) { target } else { recipient };
                        let data = destroyCall { beneficiary: to }.abi_encode();
                        sign_tx(
                            &k,
                            nonce,
                            TxKind::Call(target),
                            U256::ZERO,
                            data.into(),
                            100_000,
                            fee,
                        )
                    } else {
                        let now = rng.chance(60);
                        let init =
                            with_args(&self.code.ephemeral, &(now, recipient).abi_encode_params());
                        if !now {
                            self.ephemerals.push(a.create(nonce));
                        }
                        sign_tx(&k, nonce, TxKind::Create, value, init, 300_000, fee)
                    }
                }
                // Touch a precompile (EIP-161: the empty account is deleted) or send 0 to a
                // fresh address
                87..=88 => {
                    let to = if rng.chance(50) {
                        Address::with_last_byte(rng.below(9) as u8 + 1)
                    } else {
                        Address::from_word(keccak256(rng.next().to_be_bytes()))
                    };
                    sign_tx(
                        &k,
                        nonce,
                        TxKind::Call(to),
                        U256::ZERO,
                        Bytes::new(),
                        50_000,
                        fee,
                    )
                }
                // Invalid at its position: nonce too high / too low, intrinsic gas, funds
                89..=91 => {
                    advance = false;
                    let n = if nonce > 0 && rng.chance(50) {
                        nonce - 1
                    } else {
                        nonce + 3
                    };
                    sign_tx(
                        &k,
                        n,
                        TxKind::Call(recipient),
                        value,
                        Bytes::new(),
                        21_000,
                        fee,
                    )
                }
                92..=93 => {
                    advance = false;
                    sign_tx(
                        &k,
                        nonce,
                        TxKind::Call(recipient),
                        value,
                        Bytes::new(),
                        20_000,
                        fee,
                    )
                }
                94..=96 => {
                    let p = self.poor.address();
                    let pn = *nonces.entry(p).or_insert_with(|| self.nonce(p));
                    // Fits its balance sometimes (then its nonce moves), mostly not.
                    let v = if rng.chance(30) {
                        U256::from(1)
                    } else {
                        eth(1)
                    };
                    if v == U256::from(1) {
                        nonces.insert(p, pn + 1);
                    }
                    advance = false;
                    sign_tx(
                        &self.poor,
                        pn,
                        TxKind::Call(recipient),
                        v,
                        Bytes::new(),
                        21_000,
                        fee,
                    )
                }
                // Sender's whole balance is far above; a token transfer it cannot afford
                _ => {
                    let data = transferCall {
                        to: recipient,
                        value: eth(1_000_000_000),
                    }
                    .abi_encode();
                    sign_tx(
                        &k,
                        nonce,
                        TxKind::Call(self.token_a),
                        U256::ZERO,
                        data.into(),
                        120_000,
                        fee,
                    )
                }
            };
            if advance {
                nonces.insert(a, nonce + 1);
            }
            txs.push(tx);
        }
        txs
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn random_blocks_match_sequential_across_hot_shares_and_threads() {
    let mut world = World::new();
    let mut rng = Rng(0x5eed_0001);
    let mut blocks = 0;
    let mut rejected = 0;
    let mut failed = 0;
    for hot in [0, 10, 25, 50, 75, 100] {
        for round in 0..3 {
            let txs = world.random_block(&mut rng, 60, hot);
            let out = world.commit(&txs, true, &format!("hot {hot}%, round {round}"));
            blocks += 1;
            rejected += out.rejected.len();
            failed += out.block.receipts.iter().filter(|r| !r.success).count();
        }
    }
    // The generator really produces the mix it claims.
    assert!(rejected > 10, "rejected transactions: {rejected}");
    assert!(
        failed > 10,
        "failed (reverted, out of gas) receipts: {failed}"
    );
    assert_eq!(blocks, 18);
}

#[test]
fn large_hot_blocks_match_sequential() {
    let mut world = World::new();
    let mut rng = Rng(0x5eed_0002);
    for hot in [0, 50, 100] {
        let txs = world.random_block(&mut rng, 300, hot);
        world.commit(&txs, true, &format!("300 txs, hot {hot}%"));
    }
}

#[test]
fn many_seeds_small_blocks_match_sequential() {
    let mut world = World::new();
    for seed in 0..12u64 {
        let mut rng = Rng(0xabcd_0000 + seed);
        let hot = (seed * 9) % 101;
        let n = 5 + rng.below(40) as usize;
        let txs = world.random_block(&mut rng, n, hot);
        world.commit(&txs, true, &format!("seed {seed}, {n} txs, hot {hot}%"));
    }
}

#[test]
fn same_block_twenty_times_gives_one_result() {
    let mut world = World::new();
    let mut rng = Rng(0x5eed_0003);
    let txs = world.random_block(&mut rng, 150, 50);
    let input = input(&world.parent, &txs, BIG_GAS);
    let seq = execute_block(&world.state, &CHAIN, &input).expect("sequential");
    let first = parallel(&world.state, &input, 2).0;
    for run in 0..20 {
        let threads = [1, 2, 3, 4, 8][run % 5];
        let (again, stats) = parallel(&world.state, &input, threads);
        assert_eq!(stats.fallback, None);
        assert_eq!(again.block, first.block, "run {run}, {threads} threads");
        assert_eq!(again.included, first.included);
        assert_eq!(again.rejected, first.rejected);
    }
    assert_same(&first, &seq, "determinism vs sequential");
}

/// Independent ERC-20 transfers: no aborts, one execution each.
#[test]
fn independent_transactions_run_once_each() {
    let mut world = World::new();
    let txs: Vec<_> = world
        .senders
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let to = Address::with_last_byte(0x40 + i as u8);
            let data = transferCall {
                to,
                value: U256::from(5),
            }
            .abi_encode();
            call(k, world.nonce(k.address()), world.token_a, data, 100_000)
        })
        .collect();
    let input = input(&world.parent, &txs, BIG_GAS);
    let seq = execute_block(&world.state, &CHAIN, &input).expect("sequential");
    let (par, stats) = parallel(&world.state, &input, 2);
    assert_same(&par, &seq, "independent");
    assert_eq!(stats.aborts, 0, "{stats:?}");
    assert_eq!(stats.executions, txs.len(), "{stats:?}");
    // The workers' time is reported (a block may need no validation task at all: each
    // transaction can be committed before one is scheduled).
    assert!(!stats.execution_time.is_zero(), "{stats:?}");
    assert!(
        stats.validations > 0 || stats.validation_time.is_zero(),
        "no validation time without validations: {stats:?}"
    );
    world.commit(&txs, true, "independent");
}

/// One sender, a chain of nonces: every transaction depends on the previous one.
#[test]
fn one_sender_chain_matches_sequential() {
    let mut world = World::new();
    let k = world.senders[3].clone();
    let base = world.nonce(k.address());
    let txs: Vec<_> = (0..40)
        .map(|i| {
            let data = swapCall {
                tokenIn: world.token_a,
                amountIn: eth(i + 1),
            }
            .abi_encode();
            call(&k, base + i, world.pools[0], data, 250_000)
        })
        .collect();
    world.commit(&txs, true, "one sender");
}

/// A block where every transaction moves tokens to one recipient: the conflict rule stops
/// Block-STM after a committed prefix and runs the rest sequentially; same block either way.
#[test]
fn conflict_heavy_block_finishes_sequentially_with_same_result() {
    let world = World::new();
    let txs: Vec<_> = world
        .senders
        .iter()
        .cycle()
        .take(200)
        .scan(HashMap::new(), |nonces: &mut HashMap<Address, u64>, k| {
            let n = nonces
                .entry(k.address())
                .or_insert_with(|| world.nonce(k.address()));
            let data = transferCall {
                to: world.hot_recipient,
                value: U256::from(3),
            }
            .abi_encode();
            let tx = call(k, *n, world.token_a, data, 100_000);
            *n += 1;
            Some(tx)
        })
        .collect();
    let input = input(&world.parent, &txs, BIG_GAS);
    let seq = execute_block(&world.state, &CHAIN, &input).expect("sequential");
    let mut tails = 0;
    for threads in [1, 2, 4] {
        let (par, stats) = parallel_tuned(&world.state, &input, threads, true);
        assert_eq!(stats.fallback, None);
        if let Some(from) = stats.sequential_tail_from {
            assert!(from >= 64 && from < txs.len(), "{stats:?}");
            tails += 1;
        }
        assert_same(
            &par,
            &seq,
            &format!("hot recipient, {threads} threads, tail allowed"),
        );
        let (par, stats) = parallel(&world.state, &input, threads);
        assert_eq!(stats.sequential_tail_from, None);
        assert_same(
            &par,
            &seq,
            &format!("hot recipient, {threads} threads, Block-STM only"),
        );
    }
    // With several workers every transfer conflicts with the one before it.
    assert!(tails >= 1, "the conflict rule never engaged");
}

/// A contract created in one transaction is called by later ones in the same block (code by
/// hash must be visible), including a CREATE2 collision and a same-tx SELFDESTRUCT.
#[test]
fn code_created_in_block_is_visible_to_later_transactions() {
    let mut world = World::new();
    let (a, b) = (world.senders[1].clone(), world.senders[2].clone());
    let (na, nb) = (world.nonce(a.address()), world.nonce(b.address()));
    let counter = a.address().create(na);
    let salt = B256::repeat_byte(9);
    let create2 = deployCreate2Call {
        salt,
        v: U256::from(1),
    }
    .abi_encode();
    let eph_init = with_args(
        &world.code.ephemeral,
        &(true, b.address()).abi_encode_params(),
    );
    let txs = vec![
        sign_tx(
            &a,
            na,
            TxKind::Create,
            U256::ZERO,
            world.code.counter.clone(),
            500_000,
            FEE,
        ),
        call(&b, nb, counter, incrementCall {}.abi_encode(), 100_000),
        call(&b, nb + 1, counter, incrementCall {}.abi_encode(), 100_000),
        call(&a, na + 1, world.factory, create2.clone(), 600_000),
        call(&b, nb + 2, world.factory, create2, 600_000), // collision: reverts
        sign_tx(&a, na + 2, TxKind::Create, eth(1), eph_init, 300_000, FEE),
        call(&b, nb + 3, a.address().create(na + 2), vec![], 50_000),
    ];
    let out = world.commit(&txs, true, "fresh code");
    assert!(out.block.receipts[1].success && out.block.receipts[2].success);
    assert!(out.block.receipts[3].success);
    assert!(!out.block.receipts[4].success, "CREATE2 collision reverts");
    assert!(out.block.receipts[5].success);
    assert_eq!(
        world.state.storage.get(&(counter, U256::ZERO)),
        Some(&U256::from(2))
    );
    assert!(
        !world
            .state
            .accounts
            .contains_key(&a.address().create(na + 2))
    );
}

/// Tips are credited at assembly: the beneficiary's final balance and its write must match,
/// whether it exists beforehand or not, with zero and non-zero tips.
#[test]
fn beneficiary_credit_matches_sequential() {
    for (existing, tip) in [(false, 0u128), (false, 7), (true, 0), (true, 1_000_000_000)] {
        let mut world = World::new();
        if existing {
            world.state.accounts.insert(
                COINBASE,
                Account {
                    nonce: 0,
                    balance: U256::from(5),
                    code_hash: KECCAK_EMPTY,
                },
            );
        }
        let txs: Vec<_> = world
            .senders
            .iter()
            .take(10)
            .map(|k| {
                let n = world.nonce(k.address());
                sign_tx(
                    k,
                    n,
                    TxKind::Call(Address::repeat_byte(0x55)),
                    U256::from(1),
                    Bytes::new(),
                    21_000,
                    Fee { legacy: false, tip },
                )
            })
            .collect();
        let out = world.commit(
            &txs,
            true,
            &format!("coinbase existing={existing} tip={tip}"),
        );
        assert!(out.block.write_set.accounts.contains_key(&COINBASE));
    }
}

/// A transaction that pays the coinbase, one sent by it, and one that reads its balance from
/// a contract: all still match sequential (they take the sequential path, by rule).
#[test]
fn block_that_reads_or_pays_coinbase_matches_sequential() {
    let world = World::new();
    let k = world.senders[5].clone();
    let n = world.nonce(k.address());
    let other = world.senders[6].clone();
    let no = world.nonce(other.address());
    let filler = |i: u64| {
        let s = &world.senders[10 + i as usize];
        call(
            s,
            world.nonce(s.address()),
            world.token_b,
            transferCall {
                to: Address::repeat_byte(0x31),
                value: U256::from(1),
            }
            .abi_encode(),
            100_000,
        )
    };

    // Pays the coinbase: static rule.
    let txs = vec![
        filler(0),
        sign_tx(
            &k,
            n,
            TxKind::Call(COINBASE),
            eth(1),
            Bytes::new(),
            21_000,
            FEE,
        ),
        filler(1),
    ];
    check_fallback(&world, &txs, Some(Fallback::BeneficiaryTouched));

    // Sent by the coinbase: static rule.
    let cb_key = key(9_999);
    let mut state = world.state.clone();
    state.accounts.insert(
        cb_key.address(),
        Account {
            nonce: 0,
            balance: eth(10),
            code_hash: KECCAK_EMPTY,
        },
    );
    let txs = vec![
        filler(0),
        sign_tx(
            &cb_key,
            0,
            TxKind::Call(k.address()),
            eth(1),
            Bytes::new(),
            21_000,
            FEE,
        ),
        filler(1),
    ];
    let input = BlockInput {
        parent: &world.parent,
        params: params(&world.parent, BIG_GAS, cb_key.address()),
        txs: &txs,
        extra_data: Bytes::new(),
        native: None,
    };
    let seq = execute_block(&state, &CHAIN, &input).expect("sequential");
    let (par, stats) = parallel(&state, &input, 2);
    assert_eq!(stats.fallback, Some(Fallback::BeneficiaryTouched));
    assert_same(&par, &seq, "sent by coinbase");

    // Reads the coinbase balance from inside a contract: dynamic rule.
    let reader = other.address().create(no);
    let txs = vec![
        filler(0),
        sign_tx(
            &other,
            no,
            TxKind::Create,
            U256::ZERO,
            init_code(READ_COINBASE_RUNTIME),
            200_000,
            FEE,
        ),
        filler(1),
        call(&other, no + 1, reader, vec![], 100_000),
        filler(2),
    ];
    check_fallback(&world, &txs, Some(Fallback::BeneficiaryRead));

    // An ERC-20 transfer to the coinbase address touches only token storage: parallel path.
    let txs = vec![
        filler(0),
        call(
            &k,
            n,
            world.token_a,
            transferCall {
                to: COINBASE,
                value: U256::from(3),
            }
            .abi_encode(),
            100_000,
        ),
        filler(1),
    ];
    check_fallback(&world, &txs, None);
}

fn check_fallback(world: &World, txs: &[RecoveredTx], expected: Option<Fallback>) {
    let input = input(&world.parent, txs, BIG_GAS);
    let seq = execute_block(&world.state, &CHAIN, &input).expect("sequential");
    for threads in [1, 2, 4] {
        let (par, stats) = parallel(&world.state, &input, threads);
        assert_eq!(stats.fallback, expected, "{threads} threads");
        assert_same(&par, &seq, &format!("{expected:?}, {threads} threads"));
    }
}

/// Candidates whose gas limits exceed the block's: sequential path, same "retry" rejections.
#[test]
fn gas_limit_overflow_falls_back_with_same_retries() {
    let world = World::new();
    let txs: Vec<_> = world
        .senders
        .iter()
        .take(6)
        .map(|k| {
            let n = world.nonce(k.address());
            sign_tx(
                k,
                n,
                TxKind::Call(Address::repeat_byte(0x66)),
                U256::from(1),
                Bytes::new(),
                30_000,
                FEE,
            )
        })
        .collect();
    let input = input(&world.parent, &txs, 100_000);
    let seq = execute_block(&world.state, &CHAIN, &input).expect("sequential");
    assert!(seq.rejected.iter().any(|r| r.retry));
    let (par, stats) = parallel(&world.state, &input, 2);
    assert_eq!(stats.fallback, Some(Fallback::GasLimitSum));
    assert_same(&par, &seq, "gas limit");
    // Exactly at the limit: parallel.
    let input = BlockInput {
        params: params(&world.parent, 6 * 30_000, COINBASE),
        ..input
    };
    let seq = execute_block(&world.state, &CHAIN, &input).expect("sequential");
    let (par, stats) = parallel(&world.state, &input, 2);
    assert_eq!(stats.fallback, None);
    assert_same(&par, &seq, "gas limit exact");
}

#[test]
fn public_entry_point_matches_and_small_blocks_go_sequential() {
    let mut world = World::new();
    let mut rng = Rng(0x5eed_0004);
    for n in [0, 1, 3, rampart_evm::PARALLEL_MIN_TXS, 100] {
        let txs = world.random_block(&mut rng, n, 30);
        let input = input(&world.parent, &txs, BIG_GAS);
        let seq = execute_block(&world.state, &CHAIN, &input).expect("sequential");
        for threads in [0, 1, 2, 4] {
            let par =
                execute_block_parallel(&world.state, &CHAIN, &input, threads).expect("parallel");
            assert_same(&par, &seq, &format!("public, {n} txs, {threads} threads"));
        }
        let config = ParallelConfig {
            threads: 2,
            min_txs: rampart_evm::PARALLEL_MIN_TXS,
        };
        let (_, stats) =
            execute_block_parallel_with(&world.state, &CHAIN, &input, &config).expect("parallel");
        assert_eq!(
            stats.fallback == Some(Fallback::TooFewTxs),
            n < rampart_evm::PARALLEL_MIN_TXS,
            "{n} txs: {stats:?}"
        );
        world.state.apply(&seq.block.write_set);
        world.parent = seq.block.header.clone();
    }
}

/// A state that fails to read one account: both executors fail the block.
struct Failing<'a> {
    inner: &'a MemoryState,
    bad: Address,
}

impl StateReader for Failing<'_> {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        if *address == self.bad {
            return Err(StateError("disk on fire".into()));
        }
        self.inner.account(address)
    }
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        self.inner.storage(address, slot)
    }
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        self.inner.code(code_hash)
    }
    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        self.inner.block_hash(number)
    }
}

#[test]
fn state_errors_are_reported_like_sequential() {
    let mut world = World::new();
    let mut rng = Rng(0x5eed_0005);
    let txs = world.random_block(&mut rng, 40, 0);
    let bad = txs[20].sender;
    let state = Failing {
        inner: &world.state,
        bad,
    };
    let input = input(&world.parent, &txs, BIG_GAS);
    let seq = execute_block(&state, &CHAIN, &input);
    let par = execute_block_parallel_with(
        &state,
        &CHAIN,
        &input,
        &ParallelConfig {
            threads: 2,
            min_txs: 0,
        },
    );
    match (seq, par) {
        (Err(ExecError::State(a)), Err(ExecError::State(b))) => assert_eq!(a.0, b.0),
        (s, p) => panic!(
            "expected both to fail: {:?} / {:?}",
            s.map(|_| ()),
            p.map(|_| ())
        ),
    }
}

/// The write set replays to the same state as the sequential one (sanity for consumers).
#[test]
fn applied_states_are_identical() {
    let mut world = World::new();
    let mut rng = Rng(0x5eed_0006);
    let txs = world.random_block(&mut rng, 120, 40);
    let input = input(&world.parent, &txs, BIG_GAS);
    let seq = execute_block(&world.state, &CHAIN, &input).expect("sequential");
    let (par, _) = parallel(&world.state, &input, 4);
    let mut a = world.state.clone();
    a.apply(&seq.block.write_set);
    let mut b = world.state.clone();
    b.apply(&par.block.write_set);
    assert_eq!(a, b);
    world.parent = seq.block.header;
}

/// Native contracts under Block-STM: a deploy, then a block where every sender calls the same
/// native counter (all conflict on one slot), some revert inside the native contract, and
/// independent ETH transfers run beside them. Parallel equals sequential at 2 and 4 threads,
/// and the counter ends at the number of successful increments.
#[test]
fn native_contracts_match_sequential() {
    native_block_matches_sequential(false);
}

/// The same with the counter deployed with persistent processes: aborted and re-executed calls
/// under Block-STM meet processes that served earlier calls, and nothing of that shows.
#[test]
fn persistent_native_contracts_match_sequential() {
    native_block_matches_sequential(true);
}

fn native_block_matches_sequential(persistent: bool) {
    use rampart_native::{
        BackendKind, DEPLOY_FLAG_PERSISTENT, DEPLOY_OPTIONS_PREFIX, NATIVE_DEPLOYER, NativeConfig,
        NativeRuntime, ProcessMode, native_code,
    };
    let art = rampart_native::testing::artifacts();
    let work = tempfile_dir(if persistent {
        "rampart-evm-native-p"
    } else {
        "rampart-evm-native"
    });
    let mut cfg = NativeConfig::new(BackendKind::Process, art.host.clone());
    cfg.work_dir = work.clone();
    cfg.instance = if persistent { "evm_par_p" } else { "evm_par" }.into();
    let rt = NativeRuntime::new(cfg).expect("native runtime");
    let bin = std::fs::read(&art.c_counter).expect("C counter");
    let mode = if persistent {
        ProcessMode::Persistent
    } else {
        ProcessMode::PerCall
    };
    let mut data = Vec::new();
    if persistent {
        data.extend_from_slice(&DEPLOY_OPTIONS_PREFIX);
        data.push(DEPLOY_FLAG_PERSISTENT);
    }
    data.extend_from_slice(&bin);

    let mut world = World::new();
    let owner = key(0);
    let nonce = world.nonce(owner.address());
    let deploy = call(&owner, nonce, NATIVE_DEPLOYER, data, 40_000_000);
    let txs = [deploy];
    let mut inp = input(&world.parent, &txs, BIG_GAS);
    inp.native = Some(&rt);
    let out = execute_block(&world.state, &CHAIN, &inp).expect("deploy block");
    let counter = owner.address().create(nonce);
    assert!(out.block.receipts[0].success, "{:?}", out.block.receipts[0]);
    assert_eq!(out.block.receipts[0].contract_address, Some(counter));
    world.state.apply(&out.block.write_set);
    let account = world
        .state
        .account(&counter)
        .expect("account")
        .expect("deployed");
    assert_eq!(
        world.state.code(&account.code_hash).expect("code"),
        Some(native_code(alloy_primitives::keccak256(&bin), mode)),
        "the marker records the process mode"
    );
    world.parent = out.block.header.clone();

    let mut txs = Vec::new();
    let mut increments = 0u64;
    for i in 1..SENDERS {
        let k = key(i);
        let n = world.nonce(k.address());
        if i % 5 == 0 {
            // An unknown selector: the native contract reverts.
            txs.push(call(
                &k,
                n,
                counter,
                vec![0xde, 0xad, 0xbe, 0xef],
                1_000_000,
            ));
        } else if i % 3 == 0 {
            txs.push(sign_tx(
                &k,
                n,
                TxKind::Call(key(i + 100).address()),
                eth(1),
                Bytes::new(),
                21_000,
                FEE,
            ));
        } else {
            txs.push(call(
                &k,
                n,
                counter,
                incrementCall {}.abi_encode(),
                1_000_000,
            ));
            increments += 1;
        }
    }
    let mut inp = input(&world.parent, &txs, BIG_GAS);
    inp.native = Some(&rt);
    let seq = execute_block(&world.state, &CHAIN, &inp).expect("sequential");
    for threads in [2, 4] {
        let (par, _) = parallel(&world.state, &inp, threads);
        assert_same(&par, &seq, &format!("native block, {threads} threads"));
    }
    let reverted: Vec<_> = seq.block.receipts.iter().filter(|r| !r.success).collect();
    assert_eq!(reverted.len(), ((SENDERS - 1) / 5) as usize);
    assert!(
        reverted
            .iter()
            .all(|r| r.failure.as_deref() == Some("execution reverted"))
    );
    world.state.apply(&seq.block.write_set);
    assert_eq!(
        world.state.storage(&counter, &U256::ZERO).expect("slot"),
        U256::from(increments)
    );

    // A transaction whose access list names the counter's slot 0: its native call preloads the
    // slot at once (a fresh runtime has learnt nothing yet), and the contract's SDK answers its
    // read without a round trip; the same call without the list asks the node. Same result.
    let listed_rt = {
        let mut cfg = NativeConfig::new(BackendKind::Process, art.host.clone());
        cfg.work_dir = work.clone();
        cfg.instance = if persistent { "evm_list_p" } else { "evm_list" }.into();
        NativeRuntime::new(cfg).expect("native runtime")
    };
    let preloaded = |listed: bool| {
        let k = key(2);
        let n = world.nonce(k.address());
        let access_list = listed.then(|| {
            alloy_eips::eip2930::AccessList(vec![alloy_eips::eip2930::AccessListItem {
                address: counter,
                storage_keys: vec![B256::ZERO],
            }])
        });
        let tx = sign_listed(&k, n, counter, incrementCall {}.abi_encode(), access_list);
        let mut inp = input(&seq.block.header, std::slice::from_ref(&tx), BIG_GAS);
        inp.native = Some(&listed_rt);
        let before = listed_rt
            .stats()
            .preloaded_reads_total
            .load(std::sync::atomic::Ordering::Relaxed);
        let out = execute_block(&world.state, &CHAIN, &inp).expect("listed block");
        let r = &out.block.receipts[0];
        assert!(r.success, "{r:?}");
        let after = listed_rt
            .stats()
            .preloaded_reads_total
            .load(std::sync::atomic::Ordering::Relaxed);
        (after - before, out.block.write_set)
    };
    let (with_list, ws_with) = preloaded(true);
    let (without, ws_without) = preloaded(false);
    assert_eq!(
        (with_list, without),
        (1, 0),
        "the listed slot is preloaded, only with the list"
    );
    assert_eq!(
        ws_with.accounts.get(&counter).map(|a| &a.storage),
        ws_without.accounts.get(&counter).map(|a| &a.storage),
        "the same increment either way"
    );
    drop(listed_rt);

    // Without a runtime, a call to the native contract fails and says why.
    let k = key(1);
    let n = world.nonce(k.address());
    let txs = [call(&k, n, counter, incrementCall {}.abi_encode(), 200_000)];
    let inp = input(&seq.block.header, &txs, BIG_GAS);
    let off = execute_block(&world.state, &CHAIN, &inp).expect("block without native");
    let r = &off.block.receipts[0];
    assert!(!r.success);
    assert!(
        r.failure.as_deref().is_some_and(|f| f.contains("disabled")),
        "{:?}",
        r.failure
    );
    drop(rt);
    let _ = std::fs::remove_dir_all(work);
}

fn tempfile_dir(prefix: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}
