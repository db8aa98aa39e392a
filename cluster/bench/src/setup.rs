//! Setup, not timed: read the chain's parameters, deploy the token, fund the senders with ETH
//! and tokens, and snapshot what the measurement starts from.

use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction as _, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718 as _;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync as _;
use alloy_signer_local::PrivateKeySigner;
use futures::{StreamExt as _, TryStreamExt as _};

use crate::args::{BenchArgs, ChainIdArg};
use crate::keys;
use crate::rpc::{ReceiptLite, Rpc};
use crate::token;
use crate::workload::Erc20Transfer;

/// Upper bound of one measured transfer's gas, for the funder balance check before deploying.
const TRANSFER_GAS_BUDGET: u64 = 100_000;
/// Most funder transactions in flight at once: Rampart rejects nonces more than 1,024 above the
/// committed one, so setup goes in chunks, each waited for.
const SETUP_CHUNK: usize = 256;
/// Token units given to each sender per transaction it will send.
const TOKENS_PER_TX: u64 = 1_000;

/// What the endpoint said about itself and the fees to pay.
#[derive(Clone, Debug)]
pub struct ChainInfo {
    pub chain_id: u64,
    pub client_version: String,
    pub base_fee: u128,
    pub tip: u128,
    pub max_fee: u128,
}

/// The state the measurement starts from.
#[derive(Debug)]
pub struct Prepared {
    pub workload: Erc20Transfer,
    pub senders: Vec<PrivateKeySigner>,
    /// Each sender's next nonce.
    pub start_nonces: Vec<u64>,
    /// Each sender's token balance before the first bench transfer.
    pub token_balances: Vec<U256>,
    pub gas_limit: u64,
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
) -> anyhow::Result<Signed> {
    let tx = TxEip1559 {
        chain_id: chain.chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: chain.max_fee,
        max_priority_fee_per_gas: chain.tip,
        to,
        value,
        access_list: Default::default(),
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

/// Connects and reads chain id, client version and fees. The first call doubles as the
/// reachability check.
pub async fn chain_info(rpc: &Rpc, args: &BenchArgs) -> anyhow::Result<ChainInfo> {
    let remote_id = rpc.chain_id().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot reach the JSON-RPC endpoint {} ({e}); is the node running?",
            args.rpc
        )
    })?;
    let chain_id = match args.chain_id {
        ChainIdArg::Auto => remote_id,
        ChainIdArg::Fixed(id) => {
            if id != remote_id {
                tracing::warn!(target: "rampart::bench", given = id, endpoint = remote_id,
                    "--chain-id differs from the endpoint's eth_chainId; transactions will be rejected");
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
    let max_fee = base_fee * u128::from(args.base_fee_multiplier) + tip;
    Ok(ChainInfo {
        chain_id,
        client_version,
        base_fee,
        tip,
        max_fee,
    })
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
            .buffer_unordered(16)
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
            anyhow::bail!(
                "setup: no receipt for {} ({}) and {} more after the timeout",
                items[i].1,
                items[i].0,
                found.iter().filter(|r| r.is_none()).count() - 1
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let receipts: Vec<ReceiptLite> = found.into_iter().flatten().collect();
    for ((hash, what), r) in items.iter().zip(&receipts) {
        anyhow::ensure!(
            r.succeeded(),
            "setup transaction failed (status 0): {what} ({hash})"
        );
    }
    Ok(receipts)
}

/// Sends pre-signed setup transactions concurrently, then waits for their receipts.
async fn send_and_wait(
    rpc: &Rpc,
    txs: Vec<(Signed, String)>,
    concurrency: usize,
    timeout: Duration,
) -> anyhow::Result<Vec<ReceiptLite>> {
    let mut receipts = Vec::with_capacity(txs.len());
    for chunk in txs.chunks(SETUP_CHUNK) {
        futures::stream::iter(chunk)
            .map(|(s, what)| async move {
                let hash = rpc
                    .send_raw(&raw_hex(&s.envelope))
                    .await
                    .map_err(|e| anyhow::anyhow!("setup: sending {what} was rejected: {e}"))?;
                anyhow::ensure!(
                    hash == s.hash,
                    "setup: the endpoint returned hash {hash} for {what}, expected {}",
                    s.hash
                );
                Ok(())
            })
            .buffer_unordered(concurrency.clamp(1, 32))
            .try_collect::<Vec<()>>()
            .await?;
        let items: Vec<(B256, String)> = chunk.iter().map(|(s, w)| (s.hash, w.clone())).collect();
        receipts.extend(wait_receipts(rpc, &items, Instant::now() + timeout).await?);
    }
    Ok(receipts)
}

/// Deploys the token and funds the senders; returns the starting point of the measurement.
pub async fn setup(
    rpc: &Rpc,
    args: &BenchArgs,
    chain: &ChainInfo,
    funder: &PrivateKeySigner,
) -> anyhow::Result<Prepared> {
    let timeout = Duration::from_secs(args.timeout_s);
    let from = funder.address();
    let senders = keys::sender_keys(args.senders);
    let total = args.warmup_txs + args.txs;
    let per_sender = total.div_ceil(args.senders) as u64;
    let mut notes = Vec::new();

    // Funds first: a clear error beats a failed deployment.
    let mut nonce = rpc.nonce(from, "pending").await?;
    let balance = rpc.balance(from).await?;
    let supply = U256::from(10u64).pow(U256::from(30u64));
    let creation = token::creation_code(supply)?;
    let deploy_gas = rpc
        .estimate_gas(from, None, &creation)
        .await
        .map_err(|e| anyhow::anyhow!("setup: estimating the token deployment failed: {e}"))?;
    let deploy_gas = deploy_gas + deploy_gas / 5;
    let need = |transfer_gas: u64| -> U256 {
        let fee = U256::from(chain.max_fee);
        let per_sender_eth =
            U256::from(per_sender) * U256::from(transfer_gas) * fee * U256::from(11)
                / U256::from(10);
        U256::from(deploy_gas) * fee
            + U256::from(args.senders) * (U256::from(21_000 + transfer_gas) * fee + per_sender_eth)
    };
    let check = |needed: U256| -> anyhow::Result<()> {
        anyhow::ensure!(
            balance >= needed,
            "the funder {from} has {balance} wei but setup needs about {needed} wei \
             ({} senders × {per_sender} transactions at maxFee {} wei); pass --key of a funded account",
            args.senders,
            chain.max_fee
        );
        Ok(())
    };
    check(need(TRANSFER_GAS_BUDGET))?;

    // Deploy the token.
    let token_addr = from.create(nonce);
    let deploy = sign_1559(
        funder,
        chain,
        nonce,
        deploy_gas,
        TxKind::Create,
        U256::ZERO,
        creation,
    )?;
    nonce += 1;
    tracing::info!(target: "rampart::bench", token = %token_addr, "setup: deploying the ERC-20 token");
    let r = send_and_wait(
        rpc,
        vec![(deploy, "the token deployment".to_string())],
        1,
        timeout,
    )
    .await?;
    if let Some(a) = r.first().and_then(|r| r.contract_address) {
        anyhow::ensure!(
            a == token_addr,
            "setup: token deployed at {a}, expected {token_addr}"
        );
    }

    // Gas of one measured transfer: estimated to a fresh recipient (the dearer case), +25 %.
    let probe = token::transfer_calldata(Address::repeat_byte(0x42), U256::from(1));
    let gas_limit = match rpc.estimate_gas(from, Some(token_addr), &probe).await {
        Ok(g) => g + g / 4,
        Err(e) => {
            notes.push(format!(
                "eth_estimateGas of a transfer failed ({e}); using {TRANSFER_GAS_BUDGET} gas"
            ));
            TRANSFER_GAS_BUDGET
        }
    };
    check(need(gas_limit))?;

    // Fund each sender with ETH for its transactions and with tokens.
    let eth_each =
        U256::from(per_sender) * U256::from(gas_limit) * U256::from(chain.max_fee) * U256::from(11)
            / U256::from(10);
    let tokens_each = U256::from(per_sender * TOKENS_PER_TX);
    let mut txs = Vec::with_capacity(2 * senders.len());
    for (i, s) in senders.iter().enumerate() {
        let to = s.address();
        txs.push((
            sign_1559(
                funder,
                chain,
                nonce,
                21_000,
                TxKind::Call(to),
                eth_each,
                Bytes::new(),
            )?,
            format!("ETH funding of sender {i} ({to})"),
        ));
        nonce += 1;
        txs.push((
            sign_1559(
                funder,
                chain,
                nonce,
                gas_limit,
                TxKind::Call(token_addr),
                U256::ZERO,
                token::transfer_calldata(to, tokens_each),
            )?,
            format!("token funding of sender {i} ({to})"),
        ));
        nonce += 1;
    }
    tracing::info!(target: "rampart::bench", senders = senders.len(), "setup: funding the senders");
    send_and_wait(rpc, txs, args.concurrency, timeout).await?;

    // Snapshot: nonces and token balances the measurement starts from.
    let start_nonces: Vec<u64> = futures::stream::iter(&senders)
        .map(|s| rpc.nonce(s.address(), "pending"))
        .buffered(16)
        .try_collect()
        .await?;
    let token_balances = token_balances(rpc, token_addr, &senders).await?;
    Ok(Prepared {
        workload: Erc20Transfer {
            token: token_addr,
            amount: U256::from(1),
        },
        senders,
        start_nonces,
        token_balances,
        gas_limit,
        notes,
    })
}

/// Every sender's token balance at the head.
pub async fn token_balances(
    rpc: &Rpc,
    token_addr: Address,
    senders: &[PrivateKeySigner],
) -> anyhow::Result<Vec<U256>> {
    futures::stream::iter(senders)
        .map(|s| async move {
            let out = rpc
                .call(token_addr, &token::balance_of_calldata(s.address()))
                .await?;
            token::decode_balance(&out)
        })
        .buffered(8)
        .try_collect()
        .await
}
