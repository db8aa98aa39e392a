//! The `eth_*`, `net_*` and `web3_*` methods.

use std::sync::Arc;

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U64, U256, keccak256};
use alloy_rpc_types_eth::{
    Block, BlockTransactions, FeeHistory, Filter, FilterBlockOption, Log, SyncStatus, Transaction,
    TransactionRequest, state::StateOverride,
};
use jsonrpsee::{
    PendingSubscriptionSink,
    core::{RpcResult, SubscriptionResult, async_trait},
    proc_macros::rpc,
    types::ErrorObjectOwned,
};
use rampart_primitives::{BlockHeader, LogFilter};
use tracing::instrument;

use crate::{
    RpcConfig,
    backend::{BackendError, EthBackend, TxRecord},
    convert::{RpcReceipt, rpc_header, rpc_indexed_log, rpc_receipt, rpc_transaction},
    error::{invalid_params, server_error},
};

#[rpc(server, namespace = "eth")]
pub trait EthApi {
    #[method(name = "chainId")]
    fn chain_id(&self) -> RpcResult<U64>;
    #[method(name = "blockNumber")]
    fn block_number(&self) -> RpcResult<U64>;
    #[method(name = "syncing")]
    fn syncing(&self) -> RpcResult<SyncStatus>;
    #[method(name = "accounts")]
    fn accounts(&self) -> RpcResult<Vec<Address>>;
    #[method(name = "gasPrice")]
    fn gas_price(&self) -> RpcResult<U256>;
    #[method(name = "maxPriorityFeePerGas")]
    fn max_priority_fee_per_gas(&self) -> RpcResult<U256>;
    #[method(name = "blobBaseFee")]
    fn blob_base_fee(&self) -> RpcResult<U256>;
    #[method(name = "feeHistory")]
    fn fee_history(
        &self,
        block_count: U64,
        newest_block: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;

    #[method(name = "getBalance")]
    fn get_balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;
    #[method(name = "getTransactionCount")]
    fn get_transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64>;
    #[method(name = "getCode")]
    fn get_code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;
    #[method(name = "getStorageAt")]
    fn get_storage_at(
        &self,
        address: Address,
        slot: U256,
        block: Option<BlockId>,
    ) -> RpcResult<B256>;

    #[method(name = "call")]
    async fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
    ) -> RpcResult<Bytes>;
    #[method(name = "estimateGas")]
    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
    ) -> RpcResult<U64>;

    #[method(name = "sendRawTransaction")]
    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;
    #[method(name = "sendTransaction")]
    async fn send_transaction(&self, request: TransactionRequest) -> RpcResult<B256>;
    #[method(name = "sign")]
    fn sign(&self, address: Address, message: Bytes) -> RpcResult<Bytes>;

    #[method(name = "getTransactionByHash")]
    fn get_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>>;
    #[method(name = "getTransactionReceipt")]
    fn get_transaction_receipt(&self, hash: B256) -> RpcResult<Option<RpcReceipt>>;
    #[method(name = "getBlockByNumber")]
    fn get_block_by_number(&self, block: BlockNumberOrTag, full: bool) -> RpcResult<Option<Block>>;
    #[method(name = "getBlockByHash")]
    fn get_block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>>;
    #[method(name = "getBlockReceipts")]
    fn get_block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<RpcReceipt>>>;
    #[method(name = "getBlockTransactionCountByNumber")]
    fn get_block_transaction_count_by_number(
        &self,
        block: BlockNumberOrTag,
    ) -> RpcResult<Option<U64>>;
    #[method(name = "getBlockTransactionCountByHash")]
    fn get_block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;
    #[method(name = "getTransactionByBlockNumberAndIndex")]
    fn get_transaction_by_block_number_and_index(
        &self,
        block: BlockNumberOrTag,
        index: U64,
    ) -> RpcResult<Option<Transaction>>;
    #[method(name = "getTransactionByBlockHashAndIndex")]
    fn get_transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: U64,
    ) -> RpcResult<Option<Transaction>>;
    #[method(name = "getUncleCountByBlockNumber")]
    fn get_uncle_count_by_block_number(&self, block: BlockNumberOrTag) -> RpcResult<Option<U64>>;
    #[method(name = "getUncleCountByBlockHash")]
    fn get_uncle_count_by_block_hash(&self, hash: B256) -> RpcResult<Option<U64>>;

    #[method(name = "getLogs")]
    fn get_logs(&self, filter: serde_json::Value) -> RpcResult<Vec<Log>>;

    #[subscription(name = "subscribe" => "subscription", unsubscribe = "unsubscribe", item = serde_json::Value)]
    async fn subscribe(
        &self,
        kind: String,
        params: Option<serde_json::Value>,
    ) -> SubscriptionResult;
}

#[rpc(server, namespace = "personal")]
pub trait PersonalApi {
    #[method(name = "sign")]
    fn sign(&self, message: Bytes, address: Address) -> RpcResult<Bytes>;
}

#[rpc(server, namespace = "net")]
pub trait NetApi {
    #[method(name = "version")]
    fn version(&self) -> RpcResult<String>;
    #[method(name = "listening")]
    fn listening(&self) -> RpcResult<bool>;
    #[method(name = "peerCount")]
    fn peer_count(&self) -> RpcResult<U64>;
}

/// `rampart_` methods every node answers (the cluster's admin methods are in `admin`).
#[rpc(server, namespace = "rampart")]
pub trait RampartApi {
    /// Whether this node runs native contracts, with which sandbox, and where they are deployed.
    #[method(name = "nativeContracts")]
    fn native_contracts(&self) -> RpcResult<serde_json::Value>;
}

#[rpc(server, namespace = "web3")]
pub trait Web3Api {
    #[method(name = "clientVersion")]
    fn client_version(&self) -> RpcResult<String>;
    #[method(name = "sha3")]
    fn sha3(&self, data: Bytes) -> RpcResult<B256>;
}

/// The RPC handlers over a backend.
#[derive(Debug)]
pub struct EthRpc<B> {
    pub(crate) backend: Arc<B>,
    pub(crate) config: RpcConfig,
    calls: Arc<tokio::sync::Semaphore>,
}

impl<B> Clone for EthRpc<B> {
    fn clone(&self) -> Self {
        Self {
            backend: self.backend.clone(),
            config: self.config.clone(),
            calls: self.calls.clone(),
        }
    }
}

/// Parses a log filter, keeping how many topic positions it names (alloy's `Filter` forgets
/// trailing wildcards, which geth counts).
pub(crate) fn parse_filter(v: serde_json::Value) -> RpcResult<(Filter, usize)> {
    let min_topics = v
        .get("topics")
        .and_then(|t| t.as_array())
        .map_or(0, Vec::len);
    if min_topics > 4 {
        return Err(invalid_params("too many topics (at most 4)"));
    }
    let filter =
        serde_json::from_value(v).map_err(|e| invalid_params(format!("invalid filter: {e}")))?;
    Ok((filter, min_topics))
}

fn internal(e: BackendError) -> ErrorObjectOwned {
    e.into()
}

impl<B: EthBackend> EthRpc<B> {
    pub fn new(backend: Arc<B>, config: RpcConfig) -> Self {
        let calls = Arc::new(tokio::sync::Semaphore::new(
            config.max_concurrent_calls.max(1),
        ));
        Self {
            backend,
            config,
            calls,
        }
    }

    fn head(&self) -> RpcResult<u64> {
        self.backend.head_number().map_err(internal)
    }

    /// The block a tag or number names, if it exists.
    fn resolve(&self, tag: BlockNumberOrTag) -> RpcResult<Option<u64>> {
        let head = self.head()?;
        Ok(match tag {
            BlockNumberOrTag::Latest
            | BlockNumberOrTag::Pending
            | BlockNumberOrTag::Safe
            | BlockNumberOrTag::Finalized => Some(head),
            BlockNumberOrTag::Earliest => Some(0),
            BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
        })
    }

    fn resolve_id(&self, id: BlockId) -> RpcResult<Option<u64>> {
        match id {
            BlockId::Number(tag) => self.resolve(tag),
            BlockId::Hash(h) => self
                .backend
                .block_number_by_hash(&h.block_hash)
                .map_err(internal),
        }
    }

    /// The block whose state a request names. Raft-committed blocks are final, so "safe" and
    /// "finalized" name the head too; "pending" names the head (the mempool is not state).
    fn state_block(&self, block: Option<BlockId>) -> RpcResult<u64> {
        match block {
            None => self.head(),
            Some(id) => self
                .resolve_id(id)?
                .ok_or_else(|| server_error("header not found")),
        }
    }

    fn block_at(&self, number: u64, full: bool) -> RpcResult<Option<Block>> {
        let Some(header) = self.backend.header(number).map_err(internal)? else {
            return Ok(None);
        };
        let (hashes, size) = self
            .backend
            .block_body(number)
            .map_err(internal)?
            .unwrap_or_default();
        let transactions = if full {
            let mut txs = Vec::with_capacity(hashes.len());
            for h in &hashes {
                let record = self
                    .backend
                    .transaction(h)
                    .map_err(internal)?
                    .ok_or_else(|| {
                        server_error(format!("transaction {h} of block {number} missing"))
                    })?;
                txs.push(rpc_transaction(&record).map_err(internal)?);
            }
            BlockTransactions::Full(txs)
        } else {
            BlockTransactions::Hashes(hashes)
        };
        let mut rpc_header = rpc_header(&header);
        rpc_header.size = Some(U256::from(size));
        Ok(Some(Block {
            header: rpc_header,
            uncles: Vec::new(),
            transactions,
            withdrawals: Some(Default::default()),
        }))
    }

    fn tx_at(&self, number: Option<u64>, index: u64) -> RpcResult<Option<Transaction>> {
        let Some(number) = number else {
            return Ok(None);
        };
        let hashes = self.tx_hashes(number)?;
        let Some(hash) = hashes.get(index as usize) else {
            return Ok(None);
        };
        self.get_transaction_by_hash(*hash)
    }

    fn tx_hashes(&self, number: u64) -> RpcResult<Vec<B256>> {
        Ok(self
            .backend
            .block_body(number)
            .map_err(internal)?
            .map(|b| b.0)
            .unwrap_or_default())
    }

    fn header_of(&self, number: u64) -> RpcResult<BlockHeader> {
        self.backend
            .header(number)
            .map_err(internal)?
            .ok_or_else(|| server_error(format!("header of block {number} missing")))
    }

    fn log_filter(&self, filter: &Filter) -> RpcResult<LogFilter> {
        let head = self.head()?;
        let (from, to) = match &filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => {
                let n = self
                    .backend
                    .block_number_by_hash(hash)
                    .map_err(internal)?
                    .ok_or_else(|| server_error("unknown block"))?;
                (n, n)
            }
            FilterBlockOption::Range {
                from_block,
                to_block,
            } => {
                let num = |t: &Option<BlockNumberOrTag>| -> u64 {
                    match t {
                        None => head,
                        Some(BlockNumberOrTag::Number(n)) => *n,
                        Some(BlockNumberOrTag::Earliest) => 0,
                        Some(_) => head,
                    }
                };
                (num(from_block), num(to_block).min(head))
            }
        };
        if from > to {
            if from > head {
                return Ok(LogFilter {
                    from_block: 1,
                    to_block: 0,
                    ..Default::default()
                });
            }
            return Err(invalid_params("invalid block range params"));
        }
        if to - from + 1 > self.config.logs_max_block_range {
            return Err(BackendError::LimitExceeded(format!(
                "block range greater than {} max",
                self.config.logs_max_block_range
            ))
            .into());
        }
        Ok(LogFilter {
            from_block: from,
            to_block: to,
            addresses: filter.address.iter().copied().collect(),
            topics: filter
                .topics
                .iter()
                .map(|t| t.iter().copied().collect())
                .collect(),
            min_topics: 0,
        })
    }

    async fn bounded<T, F>(&self, work: F) -> RpcResult<T>
    where
        F: Future<Output = Result<T, BackendError>>,
    {
        let _permit = match self.calls.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                // Wait for a slot, but never longer than the call timeout.
                match tokio::time::timeout(
                    std::time::Duration::from_millis(self.config.call_timeout_ms),
                    self.calls.clone().acquire_owned(),
                )
                .await
                {
                    Ok(Ok(p)) => p,
                    _ => return Err(BackendError::Busy("too many concurrent calls".into()).into()),
                }
            }
        };
        match tokio::time::timeout(
            std::time::Duration::from_millis(self.config.call_timeout_ms),
            work,
        )
        .await
        {
            Ok(r) => r.map_err(Into::into),
            Err(_) => Err(server_error(format!(
                "execution aborted (timeout = {}ms)",
                self.config.call_timeout_ms
            ))),
        }
    }
}

#[async_trait]
impl<B: EthBackend> EthApiServer for EthRpc<B> {
    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.backend.chain_id()))
    }

    fn block_number(&self) -> RpcResult<U64> {
        Ok(U64::from(self.head()?))
    }

    fn syncing(&self) -> RpcResult<SyncStatus> {
        Ok(SyncStatus::None)
    }

    fn accounts(&self) -> RpcResult<Vec<Address>> {
        // Only `rampart dev` holds keys (the public development accounts); a production node
        // holds none and clients sign locally.
        Ok(self.backend.accounts())
    }

    fn gas_price(&self) -> RpcResult<U256> {
        let base = self.backend.next_base_fee().map_err(internal)?;
        Ok(U256::from(base as u128 + self.backend.suggested_tip()))
    }

    fn max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        Ok(U256::from(self.backend.suggested_tip()))
    }

    fn blob_base_fee(&self) -> RpcResult<U256> {
        Ok(U256::from(1))
    }

    fn fee_history(
        &self,
        block_count: U64,
        newest_block: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        let count = block_count
            .to::<u64>()
            .min(self.config.fee_history_max_blocks);
        if let Some(p) = &reward_percentiles
            && (p.len() > 100
                || p.iter().any(|x| !(0.0..=100.0).contains(x))
                || p.windows(2).any(|w| w[0] > w[1]))
        {
            return Err(invalid_params("invalid reward percentiles"));
        }
        let newest = self
            .resolve(newest_block)?
            .ok_or_else(|| server_error("header not found"))?;
        if count == 0 {
            return Ok(FeeHistory::default());
        }
        let oldest = newest.saturating_sub(count - 1);
        let mut history = FeeHistory {
            oldest_block: oldest,
            ..Default::default()
        };
        let mut rewards = Vec::new();
        for n in oldest..=newest {
            let h = self.header_of(n)?;
            history.base_fee_per_gas.push(h.base_fee_per_gas as u128);
            history.gas_used_ratio.push(if h.gas_limit == 0 {
                0.0
            } else {
                h.gas_used as f64 / h.gas_limit as f64
            });
            history.base_fee_per_blob_gas.push(1);
            history.blob_gas_used_ratio.push(0.0);
            if let Some(percentiles) = &reward_percentiles {
                let receipts = self.backend.block_receipts(n).map_err(internal)?;
                let mut tips: Vec<(u128, u64)> = receipts
                    .iter()
                    .map(|r| {
                        (
                            r.effective_gas_price
                                .saturating_sub(h.base_fee_per_gas as u128),
                            r.gas_used,
                        )
                    })
                    .collect();
                tips.sort_unstable();
                let total: u64 = tips.iter().map(|t| t.1).sum();
                let row = percentiles
                    .iter()
                    .map(|p| {
                        if tips.is_empty() {
                            return 0;
                        }
                        let threshold = (total as f64 * p / 100.0) as u64;
                        let mut acc = 0u64;
                        for (tip, gas) in &tips {
                            acc += gas;
                            if acc >= threshold {
                                return *tip;
                            }
                        }
                        tips.last().map_or(0, |t| t.0)
                    })
                    .collect();
                rewards.push(row);
            }
        }
        history
            .base_fee_per_gas
            .push(self.backend.next_base_fee().map_err(internal)? as u128);
        history.base_fee_per_blob_gas.push(1);
        if reward_percentiles.is_some() {
            history.reward = Some(rewards);
        }
        Ok(history)
    }

    fn get_balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        let n = self.state_block(block)?;
        self.backend.balance(&address, n).map_err(internal)
    }

    fn get_transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64> {
        if matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending))) {
            return Ok(U64::from(
                self.backend.pending_nonce(&address).map_err(internal)?,
            ));
        }
        let n = self.state_block(block)?;
        Ok(U64::from(
            self.backend.nonce(&address, n).map_err(internal)?,
        ))
    }

    fn get_code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        let n = self.state_block(block)?;
        self.backend.code(&address, n).map_err(internal)
    }

    fn get_storage_at(
        &self,
        address: Address,
        slot: U256,
        block: Option<BlockId>,
    ) -> RpcResult<B256> {
        let n = self.state_block(block)?;
        self.backend.storage(&address, &slot, n).map_err(internal)
    }

    #[instrument(target = "rampart::rpc", name = "rpc.eth_call", skip_all)]
    async fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
    ) -> RpcResult<Bytes> {
        let n = self.state_block(block)?;
        self.bounded(self.backend.call(request, n, state_overrides))
            .await
    }

    #[instrument(target = "rampart::rpc", name = "rpc.eth_estimateGas", skip_all)]
    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        state_overrides: Option<StateOverride>,
    ) -> RpcResult<U64> {
        let n = self.state_block(block)?;
        Ok(U64::from(
            self.bounded(self.backend.estimate_gas(request, n, state_overrides))
                .await?,
        ))
    }

    #[instrument(target = "rampart::rpc", name = "rpc.eth_sendRawTransaction", skip_all)]
    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        self.backend.send_raw_transaction(raw).map_err(Into::into)
    }

    #[instrument(target = "rampart::rpc", name = "rpc.eth_sendTransaction", skip_all)]
    async fn send_transaction(&self, request: TransactionRequest) -> RpcResult<B256> {
        self.backend
            .send_transaction(request)
            .await
            .map_err(Into::into)
    }

    fn sign(&self, address: Address, message: Bytes) -> RpcResult<Bytes> {
        self.backend
            .sign_message(&address, &message)
            .map_err(Into::into)
    }

    fn get_transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>> {
        let Some(mut record): Option<TxRecord> =
            self.backend.transaction(&hash).map_err(internal)?
        else {
            return Ok(None);
        };
        if record.base_fee.is_none()
            && let Some(loc) = &record.location
        {
            record.base_fee = Some(self.header_of(loc.block_number)?.base_fee_per_gas);
        }
        rpc_transaction(&record).map(Some).map_err(internal)
    }

    fn get_transaction_receipt(&self, hash: B256) -> RpcResult<Option<RpcReceipt>> {
        Ok(self
            .backend
            .receipt(&hash)
            .map_err(internal)?
            .map(|(r, loc, header)| rpc_receipt(&r, &loc, &header)))
    }

    fn get_block_by_number(&self, block: BlockNumberOrTag, full: bool) -> RpcResult<Option<Block>> {
        match self.resolve(block)? {
            Some(n) => self.block_at(n, full),
            None => Ok(None),
        }
    }

    fn get_block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>> {
        match self.backend.block_number_by_hash(&hash).map_err(internal)? {
            Some(n) => self.block_at(n, full),
            None => Ok(None),
        }
    }

    fn get_block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<RpcReceipt>>> {
        let Some(n) = self.resolve_id(block)? else {
            return Ok(None);
        };
        let header = self.header_of(n)?;
        let hash = header.hash();
        let receipts = self.backend.block_receipts(n).map_err(internal)?;
        Ok(Some(
            receipts
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let loc = rampart_primitives::TxLocation {
                        block_number: n,
                        block_hash: hash,
                        index: i as u32,
                    };
                    rpc_receipt(r, &loc, &header)
                })
                .collect(),
        ))
    }

    fn get_block_transaction_count_by_number(
        &self,
        block: BlockNumberOrTag,
    ) -> RpcResult<Option<U64>> {
        let Some(n) = self.resolve(block)? else {
            return Ok(None);
        };
        Ok(Some(U64::from(self.tx_hashes(n)?.len())))
    }

    fn get_block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        let Some(n) = self.backend.block_number_by_hash(&hash).map_err(internal)? else {
            return Ok(None);
        };
        Ok(Some(U64::from(self.tx_hashes(n)?.len())))
    }

    fn get_transaction_by_block_number_and_index(
        &self,
        block: BlockNumberOrTag,
        index: U64,
    ) -> RpcResult<Option<Transaction>> {
        let n = self.resolve(block)?;
        self.tx_at(n, index.to())
    }

    fn get_transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: U64,
    ) -> RpcResult<Option<Transaction>> {
        let n = self.backend.block_number_by_hash(&hash).map_err(internal)?;
        self.tx_at(n, index.to())
    }

    fn get_uncle_count_by_block_number(&self, block: BlockNumberOrTag) -> RpcResult<Option<U64>> {
        Ok(self.resolve(block)?.map(|_| U64::ZERO))
    }

    fn get_uncle_count_by_block_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        Ok(self
            .backend
            .block_number_by_hash(&hash)
            .map_err(internal)?
            .map(|_| U64::ZERO))
    }

    #[instrument(target = "rampart::rpc", name = "rpc.eth_getLogs", skip_all)]
    fn get_logs(&self, filter: serde_json::Value) -> RpcResult<Vec<Log>> {
        let (filter, min_topics) = parse_filter(filter)?;
        let mut f = self.log_filter(&filter)?;
        f.min_topics = min_topics;
        if f.from_block > f.to_block {
            return Ok(Vec::new());
        }
        let logs = self
            .backend
            .logs(&f, self.config.logs_max_results)
            .map_err(internal)?;
        Ok(logs.iter().map(rpc_indexed_log).collect())
    }

    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: String,
        params: Option<serde_json::Value>,
    ) -> SubscriptionResult {
        crate::pubsub::subscribe(self, pending, kind, params).await
    }
}

impl<B: EthBackend> PersonalApiServer for EthRpc<B> {
    fn sign(&self, message: Bytes, address: Address) -> RpcResult<Bytes> {
        self.backend
            .sign_message(&address, &message)
            .map_err(Into::into)
    }
}

impl<B: EthBackend> NetApiServer for EthRpc<B> {
    fn version(&self) -> RpcResult<String> {
        Ok(self.backend.chain_id().to_string())
    }
    fn listening(&self) -> RpcResult<bool> {
        Ok(true)
    }
    fn peer_count(&self) -> RpcResult<U64> {
        Ok(U64::ZERO)
    }
}

impl<B: EthBackend> RampartApiServer for EthRpc<B> {
    fn native_contracts(&self) -> RpcResult<serde_json::Value> {
        Ok(self.backend.native_contracts())
    }
}

impl<B: EthBackend> Web3ApiServer for EthRpc<B> {
    fn client_version(&self) -> RpcResult<String> {
        Ok(self.backend.client_version())
    }
    fn sha3(&self, data: Bytes) -> RpcResult<B256> {
        Ok(keccak256(&data))
    }
}
