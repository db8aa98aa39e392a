//! Per-request middleware: a `rpc.request` span per call (named by method), joined to the
//! client's trace when its HTTP request carries a W3C `traceparent` header; and geth's wording
//! for unknown methods.

use std::collections::HashSet;
use std::sync::Arc;

use futures::future::{Either, ready};
use jsonrpsee::{
    MethodResponse,
    core::middleware::{Batch, Notification, RpcServiceT},
    types::{ErrorObjectOwned, Request},
};
use tracing::Instrument;

/// The W3C `traceparent` header of the HTTP request a call came in, copied into the call's
/// extensions by [`client_trace_context`].
#[derive(Clone, Debug)]
pub(crate) struct ClientTraceparent(String);

/// HTTP middleware: keeps the request's `traceparent` header (when present and at most
/// [`rampart_telemetry::MAX_TRACEPARENT_LEN`] bytes) for the RPC middleware.
pub(crate) fn client_trace_context<B>(mut req: http::Request<B>) -> http::Request<B> {
    let tp = req
        .headers()
        .get("traceparent")
        .filter(|v| v.len() <= rampart_telemetry::MAX_TRACEPARENT_LEN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(tp) = tp {
        req.extensions_mut().insert(ClientTraceparent(tp));
    }
    req
}

fn join_client_trace(span: &tracing::Span, extensions: &http::Extensions) {
    if let Some(ClientTraceparent(tp)) = extensions.get::<ClientTraceparent>() {
        rampart_telemetry::follow_remote(span, tp);
    }
}

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
        join_client_trace(&span, request.extensions());
        Either::Right(self.service.call(request).instrument(span))
    }

    fn batch<'a>(
        &self,
        mut requests: Batch<'a>,
    ) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        let span = tracing::info_span!(target: "rampart::rpc", "rpc.batch", size = requests.len());
        join_client_trace(&span, requests.extensions());
        self.service.batch(requests).instrument(span)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.service.notification(n)
    }
}
