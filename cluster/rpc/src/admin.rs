//! The `rampart_` namespace: cluster status and membership, for operators and the CLI.

use std::sync::Arc;

use jsonrpsee::RpcModule;
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::Value;

use crate::backend::{BackendError, BackendResult};

/// What the node answers for `rampart_*` methods. Values are JSON so this crate stays
/// ignorant of consensus types.
pub trait AdminBackend: Send + Sync + 'static {
    /// `rampart_status`: this node's id, role, leader, term, commit and applied index, head
    /// block, voters, learners and peers.
    fn status(&self) -> impl Future<Output = BackendResult<Value>> + Send;
    /// `rampart_addLearner(id, peerAddr)`: records the new node's address on every replica,
    /// then adds it as a learner. Leader only.
    fn add_learner(
        &self,
        id: u64,
        addr: String,
    ) -> impl Future<Output = BackendResult<Value>> + Send;
    /// `rampart_promoteVoter(id)`. Leader only.
    fn promote_voter(&self, id: u64) -> impl Future<Output = BackendResult<Value>> + Send;
    /// `rampart_removeNode(id)`. Leader only.
    fn remove_node(&self, id: u64) -> impl Future<Output = BackendResult<Value>> + Send;
    /// `rampart_transferLeader(id)`. Leader only.
    fn transfer_leader(&self, id: u64) -> impl Future<Output = BackendResult<Value>> + Send;
    /// `rampart_debugPartition([ids])`: cut this node off from the peers `ids` in both
    /// directions (an empty list heals). Refused unless the node runs with fault injection
    /// on (`[cluster] fault_injection = true`, for tests).
    fn partition(&self, ids: Vec<u64>) -> impl Future<Output = BackendResult<Value>> + Send;
}

fn rpc_error(e: BackendError) -> ErrorObjectOwned {
    e.into()
}

/// The `rampart_` methods over `admin`.
pub fn module<A: AdminBackend>(admin: Arc<A>) -> RpcModule<Arc<A>> {
    let mut m = RpcModule::new(admin);
    m.register_async_method("rampart_status", |_, a, _| async move {
        a.status().await.map_err(rpc_error)
    })
    .expect("unique");
    m.register_async_method("rampart_addLearner", |params, a, _| async move {
        let (id, addr): (u64, String) = params.parse()?;
        a.add_learner(id, addr).await.map_err(rpc_error)
    })
    .expect("unique");
    m.register_async_method("rampart_promoteVoter", |params, a, _| async move {
        let (id,): (u64,) = params.parse()?;
        a.promote_voter(id).await.map_err(rpc_error)
    })
    .expect("unique");
    m.register_async_method("rampart_removeNode", |params, a, _| async move {
        let (id,): (u64,) = params.parse()?;
        a.remove_node(id).await.map_err(rpc_error)
    })
    .expect("unique");
    m.register_async_method("rampart_transferLeader", |params, a, _| async move {
        let (id,): (u64,) = params.parse()?;
        a.transfer_leader(id).await.map_err(rpc_error)
    })
    .expect("unique");
    m.register_async_method("rampart_debugPartition", |params, a, _| async move {
        let (ids,): (Vec<u64>,) = params.parse()?;
        a.partition(ids).await.map_err(rpc_error)
    })
    .expect("unique");
    m
}
