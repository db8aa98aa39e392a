//! Rampart's Ethereum JSON-RPC over HTTP and WebSocket (one port), built on jsonrpsee.
//!
//! The server knows nothing of storage, execution or consensus: it speaks to an
//! [`EthBackend`]. Errors are shaped as geth shapes them so that ethers, web3.py and viem decode
//! them unchanged (reverts are code 3 with the revert data).

pub mod admin;
pub mod backend;
mod convert;
pub mod error;
mod eth;
mod middleware;
mod pubsub;

use std::net::SocketAddr;
use std::sync::Arc;

pub use backend::{BackendError, BackendResult, BlockNotification, EthBackend, TxRecord};
use jsonrpsee::RpcModule;
use jsonrpsee::server::{BatchRequestConfig, ServerBuilder, ServerConfig, ServerHandle};

/// Limits of the RPC server. Every one is a bound on work a client can make the node do.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RpcConfig {
    /// Address of the HTTP + WebSocket listener (default 127.0.0.1:8545).
    pub addr: SocketAddr,
    /// Largest request body in bytes (default 8 MiB: a native deploy carries up to 3 MiB hex-encoded).
    pub max_request_body_bytes: u32,
    /// Largest response body in bytes (default 64 MiB).
    pub max_response_body_bytes: u32,
    /// Most calls in one JSON-RPC batch (default 1,000, as geth).
    pub max_batch_size: u32,
    /// Most simultaneous connections (default 1,000).
    pub max_connections: u32,
    /// Most subscriptions per WebSocket connection (default 1,024).
    pub max_subscriptions_per_connection: u32,
    /// Gas cap of `eth_call` and `eth_estimateGas` (default 50,000,000, as geth).
    pub call_gas_cap: u64,
    /// Wall-clock limit of one `eth_call` / `eth_estimateGas` in milliseconds (default 5,000).
    pub call_timeout_ms: u64,
    /// Most `eth_call`/`eth_estimateGas` running at once; more wait (default 2 × cores).
    pub max_concurrent_calls: usize,
    /// Widest block range of one `eth_getLogs` (default 10,000).
    pub logs_max_block_range: u64,
    /// Most logs one `eth_getLogs` returns (default 10,000).
    pub logs_max_results: usize,
    /// Most blocks in one `eth_feeHistory` (default 1,024).
    pub fee_history_max_blocks: u64,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8545)),
            max_request_body_bytes: 8 * 1024 * 1024,
            max_response_body_bytes: 64 * 1024 * 1024,
            max_batch_size: 1_000,
            max_connections: 1_000,
            max_subscriptions_per_connection: 1_024,
            call_gas_cap: 50_000_000,
            call_timeout_ms: 5_000,
            max_concurrent_calls: 2 * std::thread::available_parallelism().map_or(2, |n| n.get()),
            logs_max_block_range: 10_000,
            logs_max_results: 10_000,
            fee_history_max_blocks: 1_024,
        }
    }
}

/// A running server; dropping the handle does not stop it, `stop` does.
#[derive(Debug)]
pub struct RpcServer {
    pub local_addr: SocketAddr,
    pub handle: ServerHandle,
}

impl RpcServer {
    pub fn stop(&self) {
        let _ = self.handle.stop();
    }
}

/// Subscription ids as geth writes them: `0x` and 32 hex digits of randomness.
#[derive(Debug)]
struct HexIdProvider;

impl jsonrpsee::core::traits::IdProvider for HexIdProvider {
    fn next_id(&self) -> jsonrpsee::types::SubscriptionId<'static> {
        let n: u128 = rand::random();
        jsonrpsee::types::SubscriptionId::Str(format!("0x{n:032x}").into())
    }
}

/// Builds the full method table for a backend (also used by tests without a socket).
pub fn rpc_module<B: EthBackend>(backend: Arc<B>, config: &RpcConfig) -> RpcModule<()> {
    let mut module = RpcModule::new(());
    let eth = eth::EthRpc::new(backend, config.clone());
    module
        .merge(eth::EthApiServer::into_rpc(eth.clone()))
        .expect("eth methods are unique");
    module
        .merge(eth::NetApiServer::into_rpc(eth.clone()))
        .expect("net methods are unique");
    module
        .merge(eth::PersonalApiServer::into_rpc(eth.clone()))
        .expect("personal methods are unique");
    module
        .merge(eth::RampartApiServer::into_rpc(eth.clone()))
        .expect("rampart methods are unique");
    module
        .merge(eth::Web3ApiServer::into_rpc(eth))
        .expect("web3 methods are unique");
    module
}

/// Starts the HTTP + WebSocket server.
pub async fn start<B: EthBackend>(
    backend: Arc<B>,
    config: &RpcConfig,
) -> std::io::Result<RpcServer> {
    start_with(backend, config, RpcModule::new(())).await
}

/// Starts the server with `extra` methods (such as [`admin::module`]) next to the Ethereum ones.
pub async fn start_with<B: EthBackend>(
    backend: Arc<B>,
    config: &RpcConfig,
    extra: impl Into<jsonrpsee::Methods>,
) -> std::io::Result<RpcServer> {
    let server_config = ServerConfig::builder()
        .max_request_body_size(config.max_request_body_bytes)
        .max_response_body_size(config.max_response_body_bytes)
        .max_connections(config.max_connections)
        .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch_size))
        .set_id_provider(HexIdProvider)
        .build();
    let mut module = rpc_module(backend, config);
    module
        .merge(extra)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let methods: Arc<std::collections::HashSet<String>> =
        Arc::new(module.method_names().map(str::to_owned).collect());
    let rpc_middleware =
        jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new().layer_fn(move |service| {
            middleware::RpcMiddleware {
                service,
                methods: methods.clone(),
            }
        });
    let http_middleware =
        tower::ServiceBuilder::new().map_request(middleware::client_trace_context::<_>);
    let server = ServerBuilder::with_config(server_config)
        .set_http_middleware(http_middleware)
        .set_rpc_middleware(rpc_middleware)
        .build(config.addr)
        .await?;
    let local_addr = server.local_addr()?;
    let handle = server.start(module);
    Ok(RpcServer { local_addr, handle })
}
