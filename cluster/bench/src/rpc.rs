//! A thin Ethereum JSON-RPC client over jsonrpsee's HTTP client, with only the methods and the
//! response fields the benchmark needs (so it works against any compliant endpoint).

use std::time::Duration;

use alloy_primitives::{Address, B256, Bytes, U64, U256};
use jsonrpsee::core::client::{ClientT, Error as ClientError};
use jsonrpsee::core::params::{ArrayParams, BatchRequestBuilder};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A block as `eth_getBlockByNumber(n, false)` returns it (the fields used).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockLite {
    pub number: U64,
    #[serde(default)]
    pub base_fee_per_gas: Option<U256>,
    #[serde(default)]
    pub transactions: Vec<B256>,
}

/// A receipt (the fields used).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptLite {
    #[serde(default)]
    pub status: Option<U64>,
    #[serde(default)]
    pub contract_address: Option<Address>,
    #[serde(default)]
    pub gas_used: Option<U64>,
    #[serde(default)]
    pub block_number: Option<U64>,
}

impl ReceiptLite {
    /// Post-Byzantium status 1 (a receipt without status is taken as success).
    pub fn succeeded(&self) -> bool {
        self.status.is_none_or(|s| s == U64::from(1))
    }
}

/// One HTTP JSON-RPC client (a pool of keep-alive connections).
#[derive(Clone, Debug)]
pub struct Rpc {
    client: HttpClient,
}

/// The message of a JSON-RPC error (the node's own words), or the transport error.
pub fn error_message(e: &ClientError) -> String {
    match e {
        ClientError::Call(obj) => match obj.data() {
            Some(d) => format!("{} ({})", obj.message(), d.get()),
            None => obj.message().to_string(),
        },
        other => other.to_string(),
    }
}

impl Rpc {
    pub fn new(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = HttpClientBuilder::default()
            .request_timeout(timeout)
            .max_response_size(256 * 1024 * 1024)
            .build(url)
            .map_err(|e| anyhow::anyhow!("invalid JSON-RPC endpoint {url}: {e}"))?;
        Ok(Self { client })
    }

    async fn req<R: DeserializeOwned>(
        &self,
        method: &'static str,
        params: ArrayParams,
    ) -> anyhow::Result<R> {
        self.client
            .request(method, params)
            .await
            .map_err(|e| anyhow::anyhow!("{method}: {}", error_message(&e)))
    }

    pub async fn chain_id(&self) -> anyhow::Result<u64> {
        Ok(self.req::<U64>("eth_chainId", rpc_params![]).await?.to())
    }

    pub async fn client_version(&self) -> anyhow::Result<String> {
        self.req("web3_clientVersion", rpc_params![]).await
    }

    pub async fn block_number(&self) -> anyhow::Result<u64> {
        Ok(self
            .req::<U64>("eth_blockNumber", rpc_params![])
            .await?
            .to())
    }

    /// Block `n` with transaction hashes; `None` when it does not exist (yet).
    pub async fn block(&self, n: u64) -> anyhow::Result<Option<BlockLite>> {
        self.req(
            "eth_getBlockByNumber",
            rpc_params![format!("{n:#x}"), false],
        )
        .await
    }

    pub async fn latest_block(&self) -> anyhow::Result<BlockLite> {
        self.req::<Option<BlockLite>>("eth_getBlockByNumber", rpc_params!["latest", false])
            .await?
            .ok_or_else(|| anyhow::anyhow!("eth_getBlockByNumber(latest) returned null"))
    }

    pub async fn max_priority_fee(&self) -> anyhow::Result<u128> {
        Ok(self
            .req::<U256>("eth_maxPriorityFeePerGas", rpc_params![])
            .await?
            .to())
    }

    /// Nonce at `tag` ("latest" or "pending").
    pub async fn nonce(&self, who: Address, tag: &str) -> anyhow::Result<u64> {
        Ok(self
            .req::<U64>("eth_getTransactionCount", rpc_params![who, tag])
            .await?
            .to())
    }

    pub async fn balance(&self, who: Address) -> anyhow::Result<U256> {
        self.req("eth_getBalance", rpc_params![who, "latest"]).await
    }

    /// `eth_sendRawTransaction` of a `0x…` hex transaction; the error is the node's message.
    pub async fn send_raw(&self, raw_hex: &str) -> Result<B256, String> {
        self.client
            .request("eth_sendRawTransaction", rpc_params![raw_hex])
            .await
            .map_err(|e| error_message(&e))
    }

    pub async fn receipt(&self, hash: B256) -> anyhow::Result<Option<ReceiptLite>> {
        self.req("eth_getTransactionReceipt", rpc_params![hash])
            .await
    }

    /// Receipts of `hashes` in one JSON-RPC batch, in order (`None`: no receipt).
    pub async fn receipts_batch(
        &self,
        hashes: &[B256],
    ) -> anyhow::Result<Vec<Option<ReceiptLite>>> {
        let mut batch = BatchRequestBuilder::new();
        for h in hashes {
            batch.insert("eth_getTransactionReceipt", rpc_params![h])?;
        }
        let resp = self
            .client
            .batch_request::<Option<ReceiptLite>>(batch)
            .await
            .map_err(|e| {
                anyhow::anyhow!("eth_getTransactionReceipt (batch): {}", error_message(&e))
            })?;
        resp.into_iter()
            .map(|r| r.map_err(|e| anyhow::anyhow!("eth_getTransactionReceipt: {}", e.message())))
            .collect()
    }

    pub async fn storage_at(&self, who: Address, slot: B256) -> anyhow::Result<B256> {
        self.req("eth_getStorageAt", rpc_params![who, slot, "latest"])
            .await
    }

    /// Calls `method` without parameters; `Err` carries the JSON-RPC error code (if any) and
    /// the message.
    pub async fn probe(
        &self,
        method: &'static str,
    ) -> Result<serde_json::Value, (Option<i32>, String)> {
        self.client
            .request(method, rpc_params![])
            .await
            .map_err(|e| match &e {
                ClientError::Call(obj) => (Some(obj.code()), error_message(&e)),
                _ => (None, error_message(&e)),
            })
    }

    pub async fn call(&self, to: Address, data: &Bytes) -> anyhow::Result<Bytes> {
        let call = serde_json::json!({ "to": to, "data": data });
        self.req("eth_call", rpc_params![call, "latest"]).await
    }

    pub async fn estimate_gas(
        &self,
        from: Address,
        to: Option<Address>,
        data: &Bytes,
    ) -> anyhow::Result<u64> {
        let mut call = serde_json::json!({ "from": from, "data": data });
        if let Some(to) = to {
            call["to"] = serde_json::json!(to);
        }
        Ok(self
            .req::<U64>("eth_estimateGas", rpc_params![call])
            .await?
            .to())
    }
}
