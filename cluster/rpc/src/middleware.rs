//! Per-request middleware: a `rpc.request` span per call (named by method), and geth's
//! wording for unknown methods.

use std::collections::HashSet;
use std::sync::Arc;

use futures::future::{Either, ready};
use jsonrpsee::{
    MethodResponse,
    core::middleware::{Batch, Notification, RpcServiceT},
    types::{ErrorObjectOwned, Request},
};
use tracing::Instrument;

/// Wraps the server's RPC service.
#[derive(Clone, Debug)]
pub struct RpcMiddleware<S> {
    pub(crate) service: S,
    pub(crate) methods: Arc<HashSet<String>>,
}

impl<S> RpcServiceT for RpcMiddleware<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse> + Send + Sync + Clone + 'static,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(
        &self,
        request: Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let method = request.method_name();
        if !self.methods.contains(method) {
            let err = ErrorObjectOwned::owned(
                jsonrpsee::types::error::METHOD_NOT_FOUND_CODE,
                format!("the method {method} does not exist/is not available"),
                None::<()>,
            );
            return Either::Left(ready(MethodResponse::error(request.id().into_owned(), err)));
        }
        let span = tracing::info_span!(target: "rampart::rpc", "rpc.request", method = %method);
        Either::Right(self.service.call(request).instrument(span))
    }

    fn batch<'a>(
        &self,
        requests: Batch<'a>,
    ) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        let span = tracing::info_span!(target: "rampart::rpc", "rpc.batch", size = requests.len());
        self.service.batch(requests).instrument(span)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.service.notification(n)
    }
}
