//! What the RPC needs from a node. The RPC crate depends on this trait only, never on the
//! store, the executor or consensus; `rampart-node` implements it.

use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{TransactionRequest, state::StateOverride};
use rampart_primitives::{BlockHeader, IndexedLog, LogFilter, StoredReceipt, TxLocation};
use tokio::sync::broadcast;

/// A committed block as subscribers see it.
#[derive(Clone, Debug)]
pub struct BlockNotification {
    pub header: BlockHeader,
    pub hash: B256,
    pub receipts: Vec<StoredReceipt>,
}

/// A backend failure, already classified for the JSON-RPC error it becomes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The request is fine but the node cannot answer it (storage failure, shutting down).
    #[error("{0}")]
    Internal(String),
    /// The transaction or call is not acceptable; geth reports these with code -32000.
    #[error("{0}")]
    Rejected(String),
    /// The request's parameters are wrong (-32602).
    #[error("{0}")]
    InvalidParams(String),
    /// A configured limit was hit (-32005).
    #[error("{0}")]
    LimitExceeded(String),
    /// The call reverted: code 3 with the revert data.
    #[error("execution reverted")]
    Reverted(Bytes),
    /// The node is busy (e.g. too many concurrent calls); retry later (-32005).
    #[error("{0}")]
    Busy(String),
}

pub type BackendResult<T> = Result<T, BackendError>;

/// A transaction known to the node, included or pending.
#[derive(Clone, Debug)]
pub struct TxRecord {
    pub raw: Bytes,
    pub sender: Address,
    pub location: Option<TxLocation>,
    pub base_fee: Option<u64>,
}

pub trait EthBackend: Send + Sync + 'static {
    fn chain_id(&self) -> u64;
    fn client_version(&self) -> String;
    /// `rampart_nativeContracts`: `{"enabled", "backend", "deployer"}`.
    fn native_contracts(&self) -> serde_json::Value;

    /// Number of the last committed block.
    fn head_number(&self) -> BackendResult<u64>;
    fn header(&self, number: u64) -> BackendResult<Option<BlockHeader>>;
    fn block_number_by_hash(&self, hash: &B256) -> BackendResult<Option<u64>>;
    /// The block's transaction hashes and its RLP size in bytes (`None` if unknown).
    fn block_body(&self, number: u64) -> BackendResult<Option<(Vec<B256>, u64)>>;
    fn block_receipts(&self, number: u64) -> BackendResult<Vec<StoredReceipt>>;
    /// An included transaction, or one still waiting in the mempool (location `None`).
    fn transaction(&self, hash: &B256) -> BackendResult<Option<TxRecord>>;
    fn receipt(
        &self,
        hash: &B256,
    ) -> BackendResult<Option<(StoredReceipt, TxLocation, BlockHeader)>>;

    // State as of a committed block (`block` is at most the head).
    fn balance(&self, address: &Address, block: u64) -> BackendResult<U256>;
    fn nonce(&self, address: &Address, block: u64) -> BackendResult<u64>;
    /// Nonce including transactions waiting in the mempool.
    fn pending_nonce(&self, address: &Address) -> BackendResult<u64>;
    fn code(&self, address: &Address, block: u64) -> BackendResult<Bytes>;
    fn storage(&self, address: &Address, slot: &U256, block: u64) -> BackendResult<B256>;

    /// Runs a read-only call on the state of `block`; `Reverted` carries revert data.
    fn call(
        &self,
        request: TransactionRequest,
        block: u64,
        overrides: Option<StateOverride>,
    ) -> impl Future<Output = BackendResult<Bytes>> + Send;
    fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: u64,
        overrides: Option<StateOverride>,
    ) -> impl Future<Output = BackendResult<u64>> + Send;

    /// Decodes, checks and queues a signed transaction; returns its hash.
    fn send_raw_transaction(&self, raw: Bytes) -> BackendResult<B256>;

    /// Accounts whose keys the node holds (only the development accounts of `rampart dev`).
    fn accounts(&self) -> Vec<Address>;
    /// Fills in (nonce, gas, fees, chain id), signs with a held key and queues a transaction.
    fn send_transaction(
        &self,
        request: TransactionRequest,
    ) -> impl Future<Output = BackendResult<B256>> + Send;
    /// EIP-191 `personal_sign` of `message` with a held key.
    fn sign_message(&self, address: &Address, message: &[u8]) -> BackendResult<Bytes>;

    /// Suggested tip per gas (`eth_maxPriorityFeePerGas`).
    fn suggested_tip(&self) -> u128;
    /// Base fee the next block will charge.
    fn next_base_fee(&self) -> BackendResult<u64>;

    fn logs(&self, filter: &LogFilter, max_results: usize) -> BackendResult<Vec<IndexedLog>>;

    fn subscribe_blocks(&self) -> broadcast::Receiver<Arc<BlockNotification>>;
}
