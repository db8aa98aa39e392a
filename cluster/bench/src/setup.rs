//! Setup, not timed: read the chain's parameters, deploy the workload's contracts, fund the
//! senders, and snapshot what the measurement starts from (nonces and the workload's on-chain
//! figure for the final cross-check).

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction as _, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718 as _;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync as _;
use alloy_signer_local::PrivateKeySigner;
use futures::{StreamExt as _, TryStreamExt as _};

use crate::contracts;
use crate::error::BenchError;
use crate::keys;
use crate::rpc::{ReceiptLite, Rpc};
use crate::scenario::Scenario;
use crate::token;
use crate::workload::{
    self, AmmSwap, Erc20Transfer, EthTransfer, UupsCall, Workload, WorkloadKind,
};

/// Gas of one measured transaction when `eth_estimateGas` fails, and the budget of the first,
/// coarse funds check.
const CALL_GAS_BUDGET: u64 = 150_000;
/// Most transactions of one setup step in flight before their receipts are awaited: Rampart
/// refuses nonces more than 1,024 above the committed one.
pub const SETUP_CHUNK: usize = 256;
/// Concurrent sends and receipt polls during setup.
pub const SETUP_CONCURRENCY: usize = 32;
/// Token units given to each sender per transaction it will send (erc20, amm).
const TOKENS_PER_TX: u64 = 1_000;
/// Token units each AMM pool starts with, per token.
const POOL_LIQUIDITY: u128 = 1_000_000_000_000_000_000_000_000; // 1e24
/// Token units swapped per AMM transaction.
const SWAP_AMOUNT: u64 = 1_000;
/// The JSON-RPC method a target that runs native contracts answers (the probe of `native`).
pub const NATIVE_PROBE_METHOD: &str = "rampart_nativeContracts";
/// Rampart's native-contract deployer: a transaction to it whose data is a binary deploys it.
pub const NATIVE_DEPLOYER: Address =
    alloy_primitives::address!("0x0000000000000000000000000000000000ef524e");
/// Largest native binary the bench reads and sends (Rampart's default limit is 3 MiB).
pub const MAX_NATIVE_BINARY_BYTES: u64 = 8 * 1024 * 1024;

/// What the endpoint said about itself and the fees to pay.
#[derive(Clone, Debug)]
pub struct ChainInfo {
    pub chain_id: u64,
    pub client_version: String,
    pub base_fee: u128,
    pub tip: u128,
    pub max_fee: u128,
}

/// The workload's on-chain figure, read before and after the run; its change must equal what
/// the committed, successful transactions did.
#[derive(Clone, Debug)]
pub enum Checkpoint {
    /// Sum of the hot recipients' balances (wei); each successful hot transfer adds `value`.
    Eth { hot: Vec<Address>, value: U256 },
    /// Tokens the senders hold; each successful transfer removes `amount`.
    Erc20 { token: Address, amount: U256 },
    /// Each pool's reserves must equal its token balances; k = r0 × r1 never falls.
    Amm {
        token0: Address,
        token1: Address,
        pools: Vec<Address>,
    },
    /// Sum of the proxies' `value()`; each successful `increment()` adds one.
    Uups { proxies: Vec<Address> },
}

/// The state the measurement starts from.
#[derive(Debug)]
pub struct Prepared {
    pub workload: Arc<dyn Workload>,
    pub senders: Vec<PrivateKeySigner>,
    /// Each sender's next nonce.
    pub start_nonces: Vec<u64>,
    pub gas_limit: u64,
    pub checkpoint: Checkpoint,
    /// Contracts deployed (name, address) for the report.
    pub contracts: Vec<(String, Address)>,
    pub notes: Vec<String>,
}

/// An EIP-1559 transaction, signed.
pub(crate) struct Signed {
    pub hash: B256,
    pub envelope: TxEnvelope,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn sign_1559(
    key: &PrivateKeySigner,
    chain: &ChainInfo,
    nonce: u64,
    gas_limit: u64,
    to: TxKind,
    value: U256,
    input: Bytes,
    access_list: alloy_eips::eip2930::AccessList,
) -> anyhow::Result<Signed> {
    let tx = TxEip1559 {
        chain_id: chain.chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: chain.max_fee,
        max_priority_fee_per_gas: chain.tip,
        to,
        value,
        access_list,
        input,
    };
    let sig = key.sign_hash_sync(&tx.signature_hash())?;
    let signed = tx.into_signed(sig);
    Ok(Signed {
        hash: *signed.hash(),
        envelope: TxEnvelope::from(signed),
    })
}

pub(crate) fn raw_hex(envelope: &TxEnvelope) -> String {
    format!("0x{}", hex::encode(envelope.encoded_2718()))
}

/// Connects to every endpoint and reads chain id, client version and fees from the first.
/// The first call to each endpoint doubles as its reachability check.
pub async fn chain_info(rpcs: &[Rpc], sc: &Scenario) -> Result<ChainInfo, BenchError> {
    let mut remote_id = None;
    for (rpc, url) in rpcs.iter().zip(&sc.endpoints) {
        let id = rpc.chain_id().await.map_err(|e| BenchError::Unreachable {
            endpoint: url.clone(),
            reason: e.to_string(),
        })?;
        match remote_id {
            None => remote_id = Some(id),
            Some(first) if first != id => {
                return Err(BenchError::ChainMismatch {
                    first: sc.endpoints[0].clone(),
                    first_id: first,
                    other: url.clone(),
                    other_id: id,
                });
            }
            Some(_) => {}
        }
    }
    let remote_id = remote_id.ok_or_else(|| BenchError::scenario("no endpoints"))?;
    let rpc = &rpcs[0];
    let chain_id = match sc.chain_id {
        None => remote_id,
        Some(id) => {
            if id != remote_id {
                tracing::warn!(target: "rampart::bench", given = id, endpoint = remote_id,
                    "chain_id differs from the endpoint's eth_chainId; transactions will be rejected");
            }
            id
        }
    };
    let client_version = rpc
        .client_version()
        .await
        .unwrap_or_else(|_| "unknown".to_string());
    let latest = rpc.latest_block().await?;
    let base_fee: u128 = latest
        .base_fee_per_gas
        .ok_or_else(|| {
            anyhow::anyhow!("the latest block has no baseFeePerGas (EIP-1559 is needed)")
        })?
        .to();
    let tip = match rpc.max_priority_fee().await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(target: "rampart::bench", error = %e, "eth_maxPriorityFeePerGas failed; tipping 1 gwei");
            1_000_000_000
        }
    };
    let max_fee = base_fee * u128::from(sc.base_fee_multiplier) + tip;
    Ok(ChainInfo {
        chain_id,
        client_version,
        base_fee,
        tip,
        max_fee,
    })
}

/// The `native` workload's probe: a target that runs native contracts answers
/// [`NATIVE_PROBE_METHOD`] with `"enabled": true`.
pub async fn probe_native(rpc: &Rpc, endpoint: &str) -> Result<(), BenchError> {
    match rpc.probe(NATIVE_PROBE_METHOD).await {
        Ok(v) if v.get("enabled").and_then(serde_json::Value::as_bool) == Some(true) => Ok(()),
        Ok(_) => Err(BenchError::NativeUnsupported {
            endpoint: endpoint.to_string(),
            reason: "native contracts are off on that node".into(),
        }),
        Err((Some(-32601), _)) => Err(BenchError::NativeUnsupported {
            endpoint: endpoint.to_string(),
            reason: format!("it has no {NATIVE_PROBE_METHOD} JSON-RPC method"),
        }),
        Err((_, m)) => Err(BenchError::NativeUnsupported {
            endpoint: endpoint.to_string(),
            reason: format!("{NATIVE_PROBE_METHOD} failed: {m}"),
        }),
    }
}

/// Polls until every hash has a receipt, in order; fails at `deadline`.
async fn wait_receipts(
    rpc: &Rpc,
    items: &[(B256, String)],
    deadline: Instant,
) -> anyhow::Result<Vec<ReceiptLite>> {
    let mut found: Vec<Option<ReceiptLite>> = vec![None; items.len()];
    loop {
        let missing: Vec<usize> = (0..items.len()).filter(|&i| found[i].is_none()).collect();
        if missing.is_empty() {
            break;
        }
        let got: Vec<(usize, Option<ReceiptLite>)> = futures::stream::iter(missing.clone())
            .map(|i| async move { rpc.receipt(items[i].0).await.map(|r| (i, r)) })
            .buffer_unordered(SETUP_CONCURRENCY)
            .try_collect()
            .await?;
        for (i, r) in got {
            found[i] = r;
        }
        if found.iter().all(Option::is_some) {
            break;
        }
        if Instant::now() >= deadline {
            let i = found.iter().position(Option::is_none).unwrap_or(0);
            return Err(BenchError::Setup(format!(
                "no receipt for {} ({}) and {} more after the timeout",
                items[i].1,
                items[i].0,
                found.iter().filter(|r| r.is_none()).count() - 1
            ))
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let receipts: Vec<ReceiptLite> = found.into_iter().flatten().collect();
    for ((hash, what), r) in items.iter().zip(&receipts) {
        if !r.succeeded() {
            return Err(BenchError::Setup(format!(
                "transaction reverted (status 0): {what} ({hash})"
            ))
            .into());
        }
    }
    Ok(receipts)
}

/// Sends pre-signed setup transactions (in nonce order per account across chunks), waiting for
/// each chunk's receipts.
async fn send_and_wait(
    rpc: &Rpc,
    txs: Vec<(Signed, String)>,
    timeout: Duration,
) -> anyhow::Result<Vec<ReceiptLite>> {
    let mut receipts = Vec::with_capacity(txs.len());
    for chunk in txs.chunks(SETUP_CHUNK) {
        futures::stream::iter(chunk)
            .map(|(s, what)| async move {
                let hash = rpc
                    .send_raw(&raw_hex(&s.envelope))
                    .await
                    .map_err(|e| BenchError::Setup(format!("sending {what} was rejected: {e}")))?;
                if hash != s.hash {
                    return Err(BenchError::Setup(format!(
                        "the endpoint returned hash {hash} for {what}, expected {}",
                        s.hash
                    )));
                }
                Ok(())
            })
            .buffer_unordered(SETUP_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        let items: Vec<(B256, String)> = chunk.iter().map(|(s, w)| (s.hash, w.clone())).collect();
        receipts.extend(wait_receipts(rpc, &items, Instant::now() + timeout).await?);
    }
    Ok(receipts)
}

/// The funder's side of setup: its key, next nonce and the chain's fees.
struct Funder<'a> {
    key: &'a PrivateKeySigner,
    chain: &'a ChainInfo,
    nonce: u64,
}

impl Funder<'_> {
    fn sign(&mut self, gas: u64, to: TxKind, value: U256, input: Bytes) -> anyhow::Result<Signed> {
        let s = sign_1559(
            self.key,
            self.chain,
            self.nonce,
            gas,
            to,
            value,
            input,
            Default::default(),
        )?;
        self.nonce += 1;
        Ok(s)
    }
    fn address(&self) -> Address {
        self.key.address()
    }
}

/// `eth_estimateGas` + 25 %, or `fallback` when the endpoint cannot estimate.
async fn estimate(
    rpc: &Rpc,
    from: Address,
    to: Option<Address>,
    data: &Bytes,
    what: &str,
    fallback: Option<u64>,
    notes: &mut Vec<String>,
) -> anyhow::Result<u64> {
    match rpc.estimate_gas(from, to, data).await {
        Ok(g) => Ok(g + g / 4),
        Err(e) => match fallback {
            Some(f) => {
                notes.push(format!(
                    "eth_estimateGas of {what} failed ({e}); using {f} gas"
                ));
                Ok(f)
            }
            None => Err(BenchError::Setup(format!("estimating {what} failed: {e}")).into()),
        },
    }
}

/// The funder sends the same `input` to each of `targets` (`None`: a deployment), with the gas
/// one estimate against the first gives (`fallback` if it fails, as in [`estimate`]), and waits
/// for all of them; `what(i)` names transaction `i` in errors. Returns the targets, deployments
/// replaced by the addresses they create.
#[allow(clippy::too_many_arguments)]
async fn send_to_each(
    rpc: &Rpc,
    f: &mut Funder<'_>,
    targets: &[Option<Address>],
    input: &Bytes,
    estimate_what: &str,
    fallback: Option<u64>,
    what: impl Fn(usize) -> String,
    timeout: Duration,
    notes: &mut Vec<String>,
) -> anyhow::Result<Vec<Address>> {
    let Some(first) = targets.first() else {
        return Ok(Vec::new());
    };
    let from = f.address();
    let gas = estimate(rpc, from, *first, input, estimate_what, fallback, notes).await?;
    let mut txs = Vec::with_capacity(targets.len());
    let mut addresses = Vec::with_capacity(targets.len());
    for (i, t) in targets.iter().enumerate() {
        let kind = match t {
            Some(a) => TxKind::Call(*a),
            None => TxKind::Create,
        };
        addresses.push(t.unwrap_or_else(|| from.create(f.nonce)));
        txs.push((f.sign(gas, kind, U256::ZERO, input.clone())?, what(i)));
    }
    send_and_wait(rpc, txs, timeout).await?;
    Ok(addresses)
}

/// Deploys `code` from the funder; returns its address.
async fn deploy(
    rpc: &Rpc,
    f: &mut Funder<'_>,
    code: Bytes,
    what: &str,
    timeout: Duration,
    notes: &mut Vec<String>,
) -> anyhow::Result<Address> {
    let gas = estimate(rpc, f.address(), None, &code, what, None, notes).await?;
    let addr = f.address().create(f.nonce);
    let tx = f.sign(gas, TxKind::Create, U256::ZERO, code)?;
    let r = send_and_wait(rpc, vec![(tx, what.to_string())], timeout).await?;
    if let Some(a) = r.first().and_then(|r| r.contract_address)
        && a != addr
    {
        return Err(BenchError::Setup(format!("{what} deployed at {a}, expected {addr}")).into());
    }
    Ok(addr)
}

/// Reads the `native` workload's contract binary ([`Scenario::native_binary`], or the default
/// path), checking its size before anything is sent.
fn read_native_binary(sc: &Scenario) -> Result<Bytes, BenchError> {
    let path = sc.native_binary_path().ok_or_else(|| {
        BenchError::scenario(
            "the native workload needs `native_binary` (--native-binary): the C token that \
             scripts/build-native.sh writes to $CARGO_TARGET_DIR/native-static/c/token"
                .to_string(),
        )
    })?;
    let err = |m: String| BenchError::scenario(format!("native_binary {}: {m}", path.display()));
    let len = std::fs::metadata(&path)
        .map_err(|e| err(format!("cannot read it: {e}")))?
        .len();
    if len > MAX_NATIVE_BINARY_BYTES {
        return Err(err(format!(
            "{len} bytes; at most {MAX_NATIVE_BINARY_BYTES} are sent"
        )));
    }
    let bytes = std::fs::read(&path).map_err(|e| err(format!("cannot read it: {e}")))?;
    Ok(bytes.into())
}

/// Deploy data prefix for a native contract with persistent processes: the options header
/// `EF 52 4F` and the flags byte `01` (docs/native-contracts.md).
const DEPLOY_PERSISTENT: [u8; 4] = [0xEF, 0x52, 0x4F, 0x01];

/// Deploys a native contract from the funder: a transaction to [`NATIVE_DEPLOYER`] whose data
/// is the binary (behind [`DEPLOY_PERSISTENT`] for persistent processes); the contract's
/// address is the funder's CREATE address for that nonce.
async fn deploy_native(
    rpc: &Rpc,
    f: &mut Funder<'_>,
    binary: Bytes,
    timeout: Duration,
    notes: &mut Vec<String>,
) -> anyhow::Result<Address> {
    let what = "the native token deployment";
    let gas = estimate(
        rpc,
        f.address(),
        Some(NATIVE_DEPLOYER),
        &binary,
        what,
        None,
        notes,
    )
    .await?;
    let addr = f.address().create(f.nonce);
    let tx = f.sign(gas, TxKind::Call(NATIVE_DEPLOYER), U256::ZERO, binary)?;
    let r = send_and_wait(rpc, vec![(tx, what.to_string())], timeout).await?;
    match r.first().and_then(|r| r.contract_address) {
        Some(a) if a == addr => Ok(addr),
        Some(a) => Err(BenchError::Setup(format!("{what}: deployed at {a}, expected {addr}")).into()),
        None => Err(BenchError::Setup(format!(
            "{what}: the receipt names no contract address (is {NATIVE_DEPLOYER} the target's native deployer?)"
        ))
        .into()),
    }
}

fn ensure_funds(funder: Address, balance: U256, needed: U256) -> Result<(), BenchError> {
    if balance < needed {
        return Err(BenchError::Unfunded {
            funder,
            balance,
            needed,
        });
    }
    Ok(())
}

/// Deploys the workload's contracts and funds the senders; returns the starting point.
pub async fn setup(
    rpc: &Rpc,
    sc: &Scenario,
    chain: &ChainInfo,
    funder_key: &PrivateKeySigner,
) -> anyhow::Result<Prepared> {
    let timeout = Duration::from_secs(sc.timeout_s);
    let from = funder_key.address();
    let senders = keys::sender_keys(sc.senders);
    let total = sc.warmup_txs + sc.measured_txs();
    let per_sender = total.div_ceil(sc.senders) as u64;
    let fee = U256::from(chain.max_fee);
    let mut notes = Vec::new();
    let mut contracts_deployed = Vec::new();

    // A coarse funds check before anything is deployed: a clear error beats a failed setup.
    let balance = rpc.balance(from).await?;
    let tx_gas_floor: u64 = match sc.workload {
        WorkloadKind::Eth => 21_000,
        _ => 50_000,
    };
    let coarse = U256::from(sc.senders as u64 * per_sender) * U256::from(tx_gas_floor) * fee;
    ensure_funds(from, balance, coarse)?;

    let mut f = Funder {
        key: funder_key,
        chain,
        nonce: rpc.nonce(from, "pending").await?,
    };
    // Transactions each sender signs itself in setup (approvals), in nonce order per sender.
    let mut sender_setup: Vec<Vec<(TxKind, Bytes, String)>> = vec![Vec::new(); senders.len()];
    // Per sender: tokens to receive from the funder as (token, amount).
    let mut token_funding: Vec<(Address, U256)> = Vec::new();
    let probe_from = senders[0].address();

    let (workload, checkpoint, gas_limit): (Arc<dyn Workload>, Checkpoint, u64) = match sc.workload
    {
        WorkloadKind::Native => {
            let mut binary = read_native_binary(sc)?;
            if sc.native_persistent {
                binary = [&DEPLOY_PERSISTENT[..], &binary[..]].concat().into();
                notes.push("the native token is deployed with persistent processes".into());
            }
            if sc.access_lists {
                notes.push("each transfer names both balance slots in its access list".into());
            }
            let token = deploy_native(rpc, &mut f, binary, timeout, &mut notes).await?;
            contracts_deployed.push(("native token".to_string(), token));
            // The first minter becomes the token's owner: the funder mints the senders' tokens.
            let supply = U256::from(10u64).pow(U256::from(30u64));
            let mint = token::mint_calldata(from, supply);
            let mint_gas = estimate(
                rpc,
                from,
                Some(token),
                &mint,
                "the native token's mint",
                Some(CALL_GAS_BUDGET),
                &mut notes,
            )
            .await?;
            let tx = f.sign(mint_gas, TxKind::Call(token), U256::ZERO, mint)?;
            send_and_wait(rpc, vec![(tx, "the native token's mint".into())], timeout).await?;
            token_funding.push((token, U256::from(per_sender * TOKENS_PER_TX)));
            let probe = token::transfer_calldata(Address::repeat_byte(0x42), U256::from(1));
            let gas = estimate(
                rpc,
                from,
                Some(token),
                &probe,
                "a native token transfer",
                Some(CALL_GAS_BUDGET),
                &mut notes,
            )
            .await?;
            (
                Arc::new(Erc20Transfer {
                    kind: WorkloadKind::Native,
                    token,
                    amount: U256::from(1),
                    contention: sc.contention,
                    hot: workload::hot_accounts(sc.hot_accounts),
                    access_lists: sc.access_lists,
                }),
                Checkpoint::Erc20 {
                    token,
                    amount: U256::from(1),
                },
                gas,
            )
        }
        WorkloadKind::Eth => {
            let hot = workload::hot_accounts(sc.hot_accounts);
            let value = U256::from(1);
            (
                Arc::new(EthTransfer {
                    value,
                    contention: sc.contention,
                    hot: hot.clone(),
                }),
                Checkpoint::Eth { hot, value },
                21_000,
            )
        }
        WorkloadKind::Erc20 => {
            let supply = U256::from(10u64).pow(U256::from(30u64));
            let token = deploy(
                rpc,
                &mut f,
                token::creation_code(supply)?,
                "the ERC-20 token deployment",
                timeout,
                &mut notes,
            )
            .await?;
            contracts_deployed.push(("token".to_string(), token));
            token_funding.push((token, U256::from(per_sender * TOKENS_PER_TX)));
            let probe = token::transfer_calldata(Address::repeat_byte(0x42), U256::from(1));
            let gas = estimate(
                rpc,
                from,
                Some(token),
                &probe,
                "a token transfer",
                Some(CALL_GAS_BUDGET),
                &mut notes,
            )
            .await?;
            (
                Arc::new(Erc20Transfer {
                    kind: WorkloadKind::Erc20,
                    token,
                    amount: U256::from(1),
                    contention: sc.contention,
                    hot: workload::hot_accounts(sc.hot_accounts),
                    access_lists: sc.access_lists,
                }),
                Checkpoint::Erc20 {
                    token,
                    amount: U256::from(1),
                },
                gas,
            )
        }
        WorkloadKind::Amm => {
            let supply = U256::from(10u64).pow(U256::from(33u64));
            let mut tokens = Vec::new();
            for name in ["token0", "token1"] {
                let t = deploy(
                    rpc,
                    &mut f,
                    token::creation_code(supply)?,
                    &format!("the AMM's {name} deployment"),
                    timeout,
                    &mut notes,
                )
                .await?;
                contracts_deployed.push((name.to_string(), t));
                tokens.push(t);
            }
            let (t0, t1) = (tokens[0], tokens[1]);
            let pools = send_to_each(
                rpc,
                &mut f,
                &vec![None; sc.pools],
                &contracts::amm_creation(t0, t1)?,
                "a pool deployment",
                None,
                |i| format!("AMM pool {i} deployment"),
                timeout,
                &mut notes,
            )
            .await?;
            for (i, p) in pools.iter().enumerate() {
                contracts_deployed.push((format!("pool{i}"), *p));
            }
            // Liquidity: the funder approves each pool for both tokens, then adds liquidity.
            let approve_gas = estimate(
                rpc,
                from,
                Some(t0),
                &contracts::approve_calldata(pools[0], U256::MAX),
                "an approval",
                Some(CALL_GAS_BUDGET),
                &mut notes,
            )
            .await?;
            let mut txs = Vec::new();
            for (i, p) in pools.iter().enumerate() {
                for t in [t0, t1] {
                    txs.push((
                        f.sign(
                            approve_gas,
                            TxKind::Call(t),
                            U256::ZERO,
                            contracts::approve_calldata(*p, U256::MAX),
                        )?,
                        format!("the funder's approval of pool {i}"),
                    ));
                }
            }
            send_and_wait(rpc, txs, timeout).await?;
            let liq = U256::from(POOL_LIQUIDITY);
            let pool_targets: Vec<_> = pools.iter().copied().map(Some).collect();
            send_to_each(
                rpc,
                &mut f,
                &pool_targets,
                &contracts::add_liquidity_calldata(liq, liq),
                "addLiquidity",
                Some(2 * CALL_GAS_BUDGET),
                |i| format!("liquidity of pool {i}"),
                timeout,
                &mut notes,
            )
            .await?;
            // Senders: both tokens, and their own approvals of every pool.
            let each = U256::from(per_sender * SWAP_AMOUNT * 2);
            token_funding.push((t0, each));
            token_funding.push((t1, each));
            for list in sender_setup.iter_mut() {
                for p in &pools {
                    for t in [t0, t1] {
                        list.push((
                            TxKind::Call(t),
                            contracts::approve_calldata(*p, U256::MAX),
                            "approval of a pool".to_string(),
                        ));
                    }
                }
            }
            // Gas of a swap, from the funder (it holds both tokens and approved every pool).
            let gas = estimate(
                rpc,
                from,
                Some(pools[0]),
                &contracts::swap_calldata(t0, U256::from(SWAP_AMOUNT)),
                "a swap",
                Some(2 * CALL_GAS_BUDGET),
                &mut notes,
            )
            .await?;
            (
                Arc::new(AmmSwap {
                    token0: t0,
                    token1: t1,
                    pools: pools.clone(),
                    amount_in: U256::from(SWAP_AMOUNT),
                    contention: sc.contention,
                }),
                Checkpoint::Amm {
                    token0: t0,
                    token1: t1,
                    pools,
                },
                gas,
            )
        }
        WorkloadKind::Uups => {
            let v1 = deploy(
                rpc,
                &mut f,
                contracts::box_v1_creation()?,
                "the BoxV1 implementation deployment",
                timeout,
                &mut notes,
            )
            .await?;
            let v2 = deploy(
                rpc,
                &mut f,
                contracts::box_v2_creation()?,
                "the BoxV2 implementation deployment",
                timeout,
                &mut notes,
            )
            .await?;
            contracts_deployed.push(("BoxV1".to_string(), v1));
            contracts_deployed.push(("BoxV2".to_string(), v2));
            let proxies = send_to_each(
                rpc,
                &mut f,
                &vec![None; sc.proxies],
                &contracts::proxy_creation(v1, U256::ZERO)?,
                "a proxy deployment",
                None,
                |i| format!("ERC1967Proxy {i} deployment"),
                timeout,
                &mut notes,
            )
            .await?;
            // Upgrade every proxy to BoxV2 through UUPS (the funder is the owner).
            let proxy_targets: Vec<_> = proxies.iter().copied().map(Some).collect();
            send_to_each(
                rpc,
                &mut f,
                &proxy_targets,
                &contracts::upgrade_calldata(v2),
                "upgradeToAndCall",
                Some(CALL_GAS_BUDGET),
                |i| format!("the upgrade of proxy {i} to BoxV2"),
                timeout,
                &mut notes,
            )
            .await?;
            for (i, p) in proxies.iter().enumerate() {
                let slot = rpc.storage_at(*p, contracts::IMPLEMENTATION_SLOT).await?;
                let implementation = Address::from_word(slot);
                if implementation != v2 {
                    return Err(BenchError::Setup(format!(
                        "proxy {i} ({p}) points at {implementation} after the upgrade, expected BoxV2 {v2}"
                    ))
                    .into());
                }
                let version = contracts::decode_version(
                    &rpc.call(*p, &contracts::version_calldata()).await?,
                )?;
                if version != "2" {
                    return Err(BenchError::Setup(format!(
                        "proxy {i} ({p}) answers version() = {version:?}, expected \"2\""
                    ))
                    .into());
                }
                contracts_deployed.push((format!("proxy{i}"), *p));
            }
            let gas = estimate(
                rpc,
                from,
                Some(proxies[0]),
                &contracts::increment_calldata(),
                "increment() through the proxy",
                Some(CALL_GAS_BUDGET),
                &mut notes,
            )
            .await?;
            (
                Arc::new(UupsCall {
                    proxies: proxies.clone(),
                    contention: sc.contention,
                }),
                Checkpoint::Uups { proxies },
                gas,
            )
        }
    };

    // Fund each sender: ETH for its own setup transactions and measured ones, then tokens.
    let own_setup_gas = sender_setup
        .first()
        .map_or(0, |l| l.len() as u64 * CALL_GAS_BUDGET);
    let value_each = match &checkpoint {
        Checkpoint::Eth { value, .. } => *value * U256::from(per_sender),
        _ => U256::ZERO,
    };
    let eth_each = U256::from(per_sender * gas_limit + own_setup_gas) * fee * U256::from(11)
        / U256::from(10)
        + value_each;
    let funding_gas = 21_000 + token_funding.len() as u64 * CALL_GAS_BUDGET;
    let needed = U256::from(sc.senders) * (eth_each + U256::from(funding_gas) * fee);
    ensure_funds(from, rpc.balance(from).await?, needed)?;
    let mut txs = Vec::with_capacity(senders.len() * (1 + token_funding.len()));
    let token_gas = match token_funding.first() {
        Some((t, amount)) => {
            estimate(
                rpc,
                from,
                Some(*t),
                &token::transfer_calldata(probe_from, *amount),
                "a token funding transfer",
                Some(CALL_GAS_BUDGET),
                &mut notes,
            )
            .await?
        }
        None => 0,
    };
    for (i, s) in senders.iter().enumerate() {
        let to = s.address();
        txs.push((
            f.sign(21_000, TxKind::Call(to), eth_each, Bytes::new())?,
            format!("ETH funding of sender {i} ({to})"),
        ));
        for (t, amount) in &token_funding {
            txs.push((
                f.sign(
                    token_gas,
                    TxKind::Call(*t),
                    U256::ZERO,
                    token::transfer_calldata(to, *amount),
                )?,
                format!("token {t} funding of sender {i} ({to})"),
            ));
        }
    }
    tracing::info!(target: "rampart::bench", senders = senders.len(), "setup: funding the senders");
    send_and_wait(rpc, txs, timeout).await?;

    // Senders' own setup transactions (approvals), nonce-major so chunks keep nonce order.
    let mut nonces: Vec<u64> = futures::stream::iter(&senders)
        .map(|s| rpc.nonce(s.address(), "pending"))
        .buffered(SETUP_CONCURRENCY)
        .try_collect()
        .await?;
    let rounds = sender_setup.iter().map(Vec::len).max().unwrap_or(0);
    if rounds > 0 {
        let own_gas = match sender_setup[0].first() {
            Some((TxKind::Call(to), data, what)) => {
                estimate(
                    rpc,
                    probe_from,
                    Some(*to),
                    data,
                    what,
                    Some(CALL_GAS_BUDGET),
                    &mut notes,
                )
                .await?
            }
            _ => CALL_GAS_BUDGET,
        };
        let mut txs = Vec::with_capacity(rounds * senders.len());
        for r in 0..rounds {
            for (i, s) in senders.iter().enumerate() {
                if let Some((to, data, what)) = sender_setup[i].get(r) {
                    txs.push((
                        sign_1559(
                            s,
                            chain,
                            nonces[i],
                            own_gas,
                            *to,
                            U256::ZERO,
                            data.clone(),
                            Default::default(),
                        )?,
                        format!("sender {i}'s {what}"),
                    ));
                    nonces[i] += 1;
                }
            }
        }
        tracing::info!(target: "rampart::bench", txs = txs.len(), "setup: senders' approvals");
        send_and_wait(rpc, txs, timeout).await?;
    }

    Ok(Prepared {
        workload,
        senders,
        start_nonces: nonces,
        gas_limit,
        checkpoint,
        contracts: contracts_deployed,
        notes,
    })
}

/// The workload's figure now; see [`Checkpoint`]. For `amm` the figure is the number of pools,
/// `amm_k` carries each pool's k = r0 × r1 and `consistent` whether every pool's reserves equal
/// its token balances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reading {
    pub figure: U256,
    pub amm_k: Vec<U256>,
    pub consistent: bool,
}

/// Reads the checkpoint's figure at the head.
pub async fn read_checkpoint(
    rpc: &Rpc,
    cp: &Checkpoint,
    senders: &[PrivateKeySigner],
) -> anyhow::Result<Reading> {
    match cp {
        Checkpoint::Eth { hot, .. } => {
            let mut sum = U256::ZERO;
            for a in hot {
                sum += rpc.balance(*a).await?;
            }
            Ok(Reading {
                figure: sum,
                amm_k: Vec::new(),
                consistent: true,
            })
        }
        Checkpoint::Erc20 { token, .. } => {
            let balances: Vec<U256> = futures::stream::iter(senders)
                .map(|s| async move {
                    let out = rpc
                        .call(*token, &token::balance_of_calldata(s.address()))
                        .await?;
                    token::decode_balance(&out)
                })
                .buffered(SETUP_CONCURRENCY)
                .try_collect()
                .await?;
            Ok(Reading {
                figure: balances.into_iter().fold(U256::ZERO, |a, b| a + b),
                amm_k: Vec::new(),
                consistent: true,
            })
        }
        Checkpoint::Amm {
            token0,
            token1,
            pools,
        } => {
            let mut ks = Vec::with_capacity(pools.len());
            let mut consistent = true;
            for p in pools {
                let r0 =
                    contracts::decode_u256(&rpc.call(*p, &contracts::reserve0_calldata()).await?)?;
                let r1 =
                    contracts::decode_u256(&rpc.call(*p, &contracts::reserve1_calldata()).await?)?;
                let b0 = token::decode_balance(
                    &rpc.call(*token0, &token::balance_of_calldata(*p)).await?,
                )?;
                let b1 = token::decode_balance(
                    &rpc.call(*token1, &token::balance_of_calldata(*p)).await?,
                )?;
                consistent &= r0 == b0 && r1 == b1;
                ks.push(r0.saturating_mul(r1));
            }
            Ok(Reading {
                figure: U256::from(pools.len()),
                amm_k: ks,
                consistent,
            })
        }
        Checkpoint::Uups { proxies } => {
            let mut sum = U256::ZERO;
            for p in proxies {
                sum += contracts::decode_u256(&rpc.call(*p, &contracts::value_calldata()).await?)?;
            }
            Ok(Reading {
                figure: sum,
                amm_k: Vec::new(),
                consistent: true,
            })
        }
    }
}
