//! The node's answers to RPC: reads from the store, calls on snapshots, ingress into the pool.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{TransactionRequest, state::StateOverride};
use rampart_evm::{
    BlockParams, CallError, CallRequest, StateOverride as EvmOverride, call::AccountOverride,
    call::CallStatus, estimate_gas, intrinsic_gas, simulate_call,
};
use rampart_native::{NATIVE_DEPLOYER, parse_deploy, validate_binary};
use rampart_primitives::{
    BlockHeader, IndexedLog, LogFilter, RecoveredTx, StateReader, StoredReceipt, TxDecodeError,
    TxLocation,
};
use rampart_rpc::{BackendError, BackendResult, BlockNotification, EthBackend, TxRecord};
use rampart_storage::{LogQuery, StateStore};
use rampart_txpool::TxPool;
use tokio::sync::broadcast;
use tracing::{debug, info_span};

use crate::{config::NodeConfig, genesis::ChainSpec};

/// Shared state of a running node.
#[derive(Debug)]
pub struct NodeBackend {
    pub(crate) store: StateStore,
    pub(crate) pool: Arc<TxPool>,
    pub spec: ChainSpec,
    pub(crate) config: NodeConfig,
    pub(crate) blocks: broadcast::Sender<Arc<BlockNotification>>,
    /// Wakes the block producer early when a full block's worth of transactions waits.
    pub(crate) wake_producer: Arc<tokio::sync::Notify>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Keys of the development accounts (`rampart dev` only; empty otherwise).
    pub(crate) dev_keys: Vec<alloy_signer_local::PrivateKeySigner>,
    /// Serialises `eth_sendTransaction` so concurrent calls from one account get distinct nonces.
    pub(crate) send_lock: tokio::sync::Mutex<()>,
    /// In a cluster: where transactions accepted from clients are relayed to the peers.
    pub(crate) relay: std::sync::OnceLock<rampart_transport::PeerNetwork>,
    /// Runs native contracts (`None`: off).
    pub native: Option<Arc<rampart_native::NativeRuntime>>,
    /// Starts sandboxes for newly deployed native contracts.
    pub(crate) prewarmer: crate::native::Prewarmer,
    /// Trace contexts of pending transactions (OpenTelemetry export on).
    pub(crate) traces: crate::traces::TxTraces,
}

/// What a native deploy transaction may carry besides the binary (envelope, signature).
const DEPLOY_TX_OVERHEAD: usize = 4096;

fn oversized(size: usize, limit: usize) -> BackendError {
    BackendError::Rejected(format!(
        "oversized data: transaction size {size}, limit {limit}"
    ))
}

fn internal(e: impl std::fmt::Display) -> BackendError {
    BackendError::Internal(e.to_string())
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl NodeBackend {
    /// A transaction to the native deployer: its data must be a binary this node accepts.
    fn check_native_deploy(&self, tx: &RecoveredTx) -> BackendResult<()> {
        if self.native.is_none() {
            return Err(BackendError::Rejected(
                "native contracts are disabled on this node".into(),
            ));
        }
        use alloy_consensus::Transaction as _;
        if !tx.envelope.value().is_zero() {
            return Err(BackendError::Rejected(
                "invalid native contract: a deploy carries no value".into(),
            ));
        }
        let limit = self.config.native.limits.binary_bytes;
        let invalid = |e: &dyn std::fmt::Display| {
            BackendError::Rejected(format!("invalid native contract: {e}"))
        };
        let (_mode, binary) = parse_deploy(tx.envelope.input()).map_err(|e| invalid(&e))?;
        validate_binary(binary, limit).map_err(|e| invalid(&e))
    }

    fn head_header(&self) -> BackendResult<BlockHeader> {
        let head = self
            .store
            .head()
            .map_err(internal)?
            .ok_or_else(|| internal("store has no head"))?;
        self.store
            .header(head.number)
            .map_err(internal)?
            .ok_or_else(|| internal("head header missing"))
    }

    /// Block context of a simulated call on the state of `header`'s block (as geth: the
    /// block's own number, time and base fee).
    fn call_params(&self, header: &BlockHeader) -> BlockParams {
        BlockParams {
            number: header.number,
            timestamp: header.timestamp,
            beneficiary: header.beneficiary,
            gas_limit: header.gas_limit,
            base_fee: header.base_fee_per_gas,
            prevrandao: header.mix_hash,
        }
    }

    fn header_at(&self, number: u64) -> BackendResult<BlockHeader> {
        self.store
            .header(number)
            .map_err(internal)?
            .ok_or_else(|| internal(format!("header {number} missing")))
    }

    /// Reads state as of `block`: the flat state for the head, history for older blocks.
    fn read<T>(
        &self,
        block: u64,
        f: impl FnOnce(&dyn StateReader) -> Result<T, rampart_primitives::StateError>,
    ) -> BackendResult<T> {
        let head = self.store.head().map_err(internal)?.map_or(0, |h| h.number);
        if block >= head {
            f(&self.store).map_err(internal)
        } else {
            f(&self.store.state_at(block)).map_err(internal)
        }
    }

    /// Stateless and stateful admission checks, in geth's order; then the pool's own rules.
    /// With `sender`, the signature is not recovered again (a relaying peer did it).
    pub(crate) fn admit(&self, raw: &[u8], sender: Option<Address>) -> BackendResult<RecoveredTx> {
        let ingress = &self.config.ingress;
        // A native deploy carries a binary: its own, larger bound (checked once decoded).
        let max_deploy = self.config.native.limits.binary_bytes as usize + DEPLOY_TX_OVERHEAD;
        if raw.len() > ingress.max_tx_bytes.max(max_deploy) {
            return Err(oversized(raw.len(), ingress.max_tx_bytes));
        }
        let decoded = match sender {
            Some(sender) => RecoveredTx::decode_with_sender(raw, sender),
            None => RecoveredTx::decode(raw),
        };
        if decoded.is_err() && raw.len() > ingress.max_tx_bytes {
            return Err(oversized(raw.len(), ingress.max_tx_bytes));
        }
        let tx = decoded.map_err(|e| match e {
            TxDecodeError::BlobNotSupported => BackendError::Rejected(e.to_string()),
            TxDecodeError::InvalidSignature(_) => BackendError::Rejected("invalid sender".into()),
            TxDecodeError::Rlp(m) => BackendError::Rejected(format!("rlp: {m}")),
        })?;
        if tx.to() == Some(NATIVE_DEPLOYER) {
            self.check_native_deploy(&tx)?;
        } else if raw.len() > ingress.max_tx_bytes {
            return Err(oversized(raw.len(), ingress.max_tx_bytes));
        }
        match tx.chain_id() {
            None if !ingress.allow_unprotected_txs => {
                return Err(BackendError::Rejected(
                    "only replay-protected (EIP-155) transactions allowed over RPC".into(),
                ));
            }
            Some(id) if id != self.spec.chain.chain_id => {
                return Err(BackendError::Rejected(format!(
                    "invalid chain id for signer: have {id} want {}",
                    self.spec.chain.chain_id
                )));
            }
            _ => {}
        }
        if tx.gas_limit() > self.spec.gas_limit {
            return Err(BackendError::Rejected(format!(
                "exceeds block gas limit: tx gas {}, block gas limit {}",
                tx.gas_limit(),
                self.spec.gas_limit
            )));
        }
        let head = self.head_header()?;
        let timestamp = now_secs().max(head.timestamp);
        let min_gas = intrinsic_gas(&tx, &self.spec.chain, timestamp);
        if tx.gas_limit() < min_gas {
            return Err(BackendError::Rejected(format!(
                "intrinsic gas too low: gas {}, minimum needed {min_gas}",
                tx.gas_limit()
            )));
        }
        if let Some(tip) = tx.envelope.max_priority_fee_per_gas()
            && tip > tx.max_fee_per_gas()
        {
            return Err(BackendError::Rejected(format!(
                "max priority fee per gas higher than max fee per gas: maxPriorityFeePerGas {tip}, maxFeePerGas {}",
                tx.max_fee_per_gas()
            )));
        }
        if tx.max_fee_per_gas() < self.spec.base_fee as u128 {
            return Err(BackendError::Rejected(format!(
                "max fee per gas less than block base fee: address {}, maxFeePerGas: {}, baseFee: {}",
                tx.sender,
                tx.max_fee_per_gas(),
                self.spec.base_fee
            )));
        }
        let account = self
            .store
            .account(&tx.sender)
            .map_err(internal)?
            .unwrap_or_default();
        let cost =
            U256::from(tx.gas_limit()) * U256::from(tx.max_fee_per_gas()) + tx.envelope.value();
        if account.balance < cost {
            return Err(BackendError::Rejected(format!(
                "insufficient funds for gas * price + value: address {} have {} want {}",
                tx.sender, account.balance, cost
            )));
        }
        self.pool
            .add(tx.clone(), account.nonce)
            .map_err(|e| BackendError::Rejected(e.to_string()))?;
        if self.pool.len() >= self.config.block.max_txs {
            self.wake_producer.notify_one();
        }
        Ok(tx)
    }
}

/// Runs `f` on the state after `block`: one snapshot of the head when `block` is the head (a
/// consistent view for the whole call, however many reads it makes), the history view otherwise.
fn at_block<T>(store: &StateStore, block: u64, f: impl FnOnce(&dyn StateReader) -> T) -> T {
    let snap = store.snapshot();
    let latest = snap
        .head()
        .ok()
        .flatten()
        .is_some_and(|h| h.number == block);
    if latest {
        f(&snap)
    } else {
        f(&store.state_at(block))
    }
}

fn call_request(r: &TransactionRequest) -> CallRequest {
    CallRequest {
        from: r.from,
        to: r.to.and_then(|k| k.to().copied()),
        gas: r.gas,
        gas_price: r.gas_price,
        max_fee_per_gas: r.max_fee_per_gas,
        max_priority_fee_per_gas: r.max_priority_fee_per_gas,
        value: r.value,
        data: r.input.input().cloned().unwrap_or_default(),
        access_list: r.access_list.clone(),
    }
}

fn overrides(o: Option<StateOverride>) -> EvmOverride {
    let mut out = EvmOverride::new();
    for (address, a) in o.into_iter().flatten() {
        out.insert(
            address,
            AccountOverride {
                balance: a.balance,
                nonce: a.nonce,
                code: a.code,
                state: a.state.map(|s| {
                    s.into_iter()
                        .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)))
                        .collect()
                }),
                state_diff: a.state_diff.map(|s| {
                    s.into_iter()
                        .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)))
                        .collect()
                }),
            },
        );
    }
    out
}

fn call_error(e: CallError) -> BackendError {
    match e {
        CallError::Invalid(m) => BackendError::Rejected(m),
        CallError::State(e) => BackendError::Internal(e.to_string()),
        CallError::GasExceedsAllowance(_) | CallError::Failed(_) => {
            BackendError::Rejected(e.to_string())
        }
        CallError::Reverted(o) => BackendError::Reverted(o.output),
        CallError::Internal(m) => BackendError::Internal(m),
    }
}

impl EthBackend for NodeBackend {
    fn chain_id(&self) -> u64 {
        self.spec.chain.chain_id
    }

    fn native_contracts(&self) -> serde_json::Value {
        serde_json::json!({
            "enabled": self.native.is_some(),
            "backend": self.native.as_ref().map(|n| n.backend_name()),
            "deployer": NATIVE_DEPLOYER,
        })
    }

    fn client_version(&self) -> String {
        format!(
            "rampart/v{}/{}-{}",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH
        )
    }

    fn head_number(&self) -> BackendResult<u64> {
        Ok(self.store.head().map_err(internal)?.map_or(0, |h| h.number))
    }

    fn header(&self, number: u64) -> BackendResult<Option<BlockHeader>> {
        self.store.header(number).map_err(internal)
    }

    fn block_number_by_hash(&self, hash: &B256) -> BackendResult<Option<u64>> {
        self.store.block_number(hash).map_err(internal)
    }

    fn block_body(&self, number: u64) -> BackendResult<Option<(Vec<B256>, u64)>> {
        Ok(self
            .store
            .block_body(number)
            .map_err(internal)?
            .map(|b| (b.tx_hashes, b.size)))
    }

    fn block_receipts(&self, number: u64) -> BackendResult<Vec<StoredReceipt>> {
        self.store.block_receipts(number).map_err(internal)
    }

    fn transaction(&self, hash: &B256) -> BackendResult<Option<TxRecord>> {
        if let Some(t) = self.store.transaction(hash).map_err(internal)? {
            return Ok(Some(TxRecord {
                raw: t.raw,
                sender: t.sender,
                location: Some(t.location),
                base_fee: None,
            }));
        }
        Ok(self.pool.get(hash).map(|t| TxRecord {
            raw: t.raw,
            sender: t.sender,
            location: None,
            base_fee: None,
        }))
    }

    fn receipt(
        &self,
        hash: &B256,
    ) -> BackendResult<Option<(StoredReceipt, TxLocation, BlockHeader)>> {
        let Some(t) = self.store.transaction(hash).map_err(internal)? else {
            return Ok(None);
        };
        let receipt = self
            .store
            .receipt_at(&t.location)
            .map_err(internal)?
            .ok_or_else(|| internal(format!("receipt of {hash} missing")))?;
        let header = self
            .store
            .header(t.location.block_number)
            .map_err(internal)?
            .ok_or_else(|| internal("header missing"))?;
        Ok(Some((receipt, t.location, header)))
    }

    fn balance(&self, address: &Address, block: u64) -> BackendResult<U256> {
        self.read(block, |s| {
            Ok(s.account(address)?.map_or(U256::ZERO, |a| a.balance))
        })
    }

    fn nonce(&self, address: &Address, block: u64) -> BackendResult<u64> {
        self.read(block, |s| Ok(s.account(address)?.map_or(0, |a| a.nonce)))
    }

    fn pending_nonce(&self, address: &Address) -> BackendResult<u64> {
        let state = self
            .store
            .account(address)
            .map_err(internal)?
            .map_or(0, |a| a.nonce);
        Ok(self.pool.pending_nonce(address, state))
    }

    fn code(&self, address: &Address, block: u64) -> BackendResult<Bytes> {
        self.read(block, |s| {
            let Some(a) = s.account(address)? else {
                return Ok(Bytes::new());
            };
            if !a.has_code() {
                return Ok(Bytes::new());
            }
            Ok(s.code(&a.code_hash)?.unwrap_or_default())
        })
    }

    fn storage(&self, address: &Address, slot: &U256, block: u64) -> BackendResult<B256> {
        self.read(block, |s| Ok(B256::from(s.storage(address, slot)?)))
    }

    async fn call(
        &self,
        request: TransactionRequest,
        block: u64,
        o: Option<StateOverride>,
    ) -> BackendResult<Bytes> {
        let store = self.store.clone();
        let header = self.header_at(block)?;
        let params = self.call_params(&header);
        let chain = self.spec.chain.clone();
        let cap = self.config.rpc.call_gas_cap;
        let native = self.native.clone();
        let span = info_span!(target: "rampart::rpc", "executor.simulate_call");
        let out = tokio::task::spawn_blocking(move || {
            let _g = span.entered();
            at_block(&store, block, |state| {
                simulate_call(
                    state,
                    &chain,
                    &params,
                    &call_request(&request),
                    &overrides(o),
                    cap,
                    native.as_deref(),
                )
            })
        })
        .await
        .map_err(internal)?
        .map_err(call_error)?;
        match out.status {
            CallStatus::Success => Ok(out.output),
            CallStatus::Revert => Err(BackendError::Reverted(out.output)),
            CallStatus::Halt(reason) => Err(BackendError::Rejected(reason)),
        }
    }

    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: u64,
        o: Option<StateOverride>,
    ) -> BackendResult<u64> {
        let store = self.store.clone();
        let header = self.header_at(block)?;
        let params = self.call_params(&header);
        let chain = self.spec.chain.clone();
        let cap = self.config.rpc.call_gas_cap;
        let native = self.native.clone();
        let span = info_span!(target: "rampart::rpc", "executor.estimate_gas");
        tokio::task::spawn_blocking(move || {
            let _g = span.entered();
            at_block(&store, block, |state| {
                estimate_gas(
                    state,
                    &chain,
                    &params,
                    &call_request(&request),
                    &overrides(o),
                    cap,
                    native.as_deref(),
                )
            })
        })
        .await
        .map_err(internal)?
        .map_err(call_error)
    }

    fn send_raw_transaction(&self, raw: Bytes) -> BackendResult<B256> {
        let span = info_span!(target: "rampart::ingress", "ingress.check", size = raw.len(),
            tx_hash = tracing::field::Empty)
        .entered();
        let r = self.admit(&raw, None);
        match &r {
            Ok(tx) => {
                self.metrics.txs_accepted_total.fetch_add(1, Relaxed);
                span.record("tx_hash", tracing::field::display(tx.hash));
                // With export on, the transaction's trace continues where it is included.
                let traceparent = rampart_telemetry::current_traceparent();
                if let Some(tp) = &traceparent {
                    self.traces.insert(tx.hash, tp.clone());
                }
                if let Some(net) = self.relay.get() {
                    net.relay(rampart_transport::RelayedTx {
                        raw: tx.raw.0.clone(),
                        sender: tx.sender.0.to_vec().into(),
                        traceparent,
                    });
                }
            }
            Err(e) => {
                self.metrics
                    .txs_rejected_at_ingress_total
                    .fetch_add(1, Relaxed);
                debug!(target: "rampart::ingress", error = %e, "transaction rejected");
            }
        }
        r.map(|tx| tx.hash)
    }

    fn accounts(&self) -> Vec<Address> {
        self.dev_keys.iter().map(|k| k.address()).collect()
    }

    async fn send_transaction(&self, mut req: TransactionRequest) -> BackendResult<B256> {
        use alloy_consensus::{SignableTransaction, TypedTransaction};
        use alloy_eips::eip2718::Encodable2718;
        use alloy_signer::SignerSync;
        let from = req
            .from
            .ok_or_else(|| BackendError::InvalidParams("missing \"from\"".into()))?;
        let key = self
            .dev_keys
            .iter()
            .find(|k| k.address() == from)
            .ok_or_else(|| BackendError::Rejected("unknown account".into()))?
            .clone();
        let _guard = self.send_lock.lock().await;
        req.chain_id.get_or_insert(self.spec.chain.chain_id);
        // No `to` is a contract creation (alloy's builder wants that said explicitly).
        req.to.get_or_insert(alloy_primitives::TxKind::Create);
        if req.nonce.is_none() {
            req.nonce = Some(self.pending_nonce(&from)?);
        }
        if req.gas_price.is_none() && req.max_fee_per_gas.is_none() {
            let tip = self.suggested_tip();
            let tip = *req.max_priority_fee_per_gas.get_or_insert(tip);
            req.max_fee_per_gas = Some(2 * self.spec.base_fee as u128 + tip);
        } else if req.max_fee_per_gas.is_some() && req.max_priority_fee_per_gas.is_none() {
            req.max_priority_fee_per_gas = Some(0);
        }
        if req.gas.is_none() {
            let head = self.head_number()?;
            req.gas = Some(self.estimate_gas(req.clone(), head, None).await?);
        }
        let typed = req
            .build_typed_tx()
            .map_err(|_| BackendError::InvalidParams("transaction request is incomplete".into()))?;
        let sign = |hash: B256| key.sign_hash_sync(&hash).map_err(internal);
        let envelope: alloy_consensus::TxEnvelope = match typed {
            TypedTransaction::Legacy(t) => t.clone().into_signed(sign(t.signature_hash())?).into(),
            TypedTransaction::Eip2930(t) => t.clone().into_signed(sign(t.signature_hash())?).into(),
            TypedTransaction::Eip1559(t) => t.clone().into_signed(sign(t.signature_hash())?).into(),
            TypedTransaction::Eip7702(t) => t.clone().into_signed(sign(t.signature_hash())?).into(),
            _ => {
                return Err(BackendError::Rejected(
                    "transaction type not supported".into(),
                ));
            }
        };
        self.send_raw_transaction(envelope.encoded_2718().into())
    }

    fn sign_message(&self, address: &Address, message: &[u8]) -> BackendResult<Bytes> {
        use alloy_signer::SignerSync;
        let key = self
            .dev_keys
            .iter()
            .find(|k| k.address() == *address)
            .ok_or_else(|| BackendError::Rejected("unknown account".into()))?;
        let sig = key.sign_message_sync(message).map_err(internal)?;
        Ok(Bytes::from(sig.as_bytes().to_vec()))
    }

    fn suggested_tip(&self) -> u128 {
        self.config.fees.suggested_tip_wei as u128
    }

    fn next_base_fee(&self) -> BackendResult<u64> {
        Ok(self.spec.base_fee)
    }

    fn logs(&self, filter: &LogFilter, max_results: usize) -> BackendResult<Vec<IndexedLog>> {
        self.store
            .logs(&LogQuery {
                filter: filter.clone(),
                max_results,
            })
            .map_err(internal)?
            .ok_or_else(|| {
                BackendError::LimitExceeded(format!(
                    "query returned more than {max_results} results"
                ))
            })
    }

    fn subscribe_blocks(&self) -> broadcast::Receiver<Arc<BlockNotification>> {
        self.blocks.subscribe()
    }
}
