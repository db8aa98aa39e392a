//! Logging and tracing set-up: `tracing` with `RUST_LOG` filtering, and OpenTelemetry (OTLP
//! over gRPC) export when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! Span names are stable and namespaced by stage (`rpc.*`, `ingress.*`, `node.*`,
//! `executor.*`, `storage.*`); targets are `rampart::<module>`. This is the only crate that
//! depends on opentelemetry.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

/// The W3C `traceparent` key.
const TRACEPARENT: &str = "traceparent";
/// Longest `traceparent` accepted from elsewhere (the version-00 form is 55 characters).
pub const MAX_TRACEPARENT_LEN: usize = 128;

/// The W3C `traceparent` of the current span, so that work done elsewhere (a replica applying
/// the block this span built) can join its trace. `None` when the span is not recorded by
/// OpenTelemetry (export off), so nothing is carried that no one could follow.
pub fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Makes `span` a child of the remote span that `traceparent` names. False (and `span`
/// unchanged) when the value is malformed or too long, or when OpenTelemetry is off.
pub fn follow_remote(span: &tracing::Span, traceparent: &str) -> bool {
    if traceparent.len() > MAX_TRACEPARENT_LEN {
        return false;
    }
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    cx.span().span_context().is_valid() && span.set_parent(cx).is_ok()
}

/// Adds a link from `span` to the current span (a transaction's trace pointing at the trace of
/// the block that included it). Nothing when either is not recorded by OpenTelemetry.
pub fn link_to_current(span: &tracing::Span) {
    let current = tracing::Span::current().context();
    let target = current.span().span_context().clone();
    if target.is_valid() {
        span.add_link(target);
    }
}

/// Keeps the exporter alive; dropping it flushes pending spans.
#[derive(Debug, Default)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

/// Installs the global subscriber. Call once, inside a tokio runtime when OTLP is wanted.
pub fn init(service_name: &str) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr (stdout carries the CLI's own output), coloured only on a terminal.
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(true)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let otlp_wanted = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_ok_and(|v| !v.is_empty());
    if !otlp_wanted {
        tracing_subscriber::registry()
            .with(filter)
            .with(fmt)
            .try_init()?;
        return Ok(TelemetryGuard::default());
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service_name.to_string())
                .build(),
        )
        .build();
    let tracer = provider.tracer("rampart");
    opentelemetry::global::set_tracer_provider(provider.clone());
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init()?;
    Ok(TelemetryGuard {
        provider: Some(provider),
    })
}

#[cfg(test)]
mod tests {
    use opentelemetry_sdk::trace::InMemorySpanExporter;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// A subscriber that records spans in memory through the same OpenTelemetry layer `init`
    /// installs.
    fn recording() -> (
        impl tracing::Subscriber,
        SdkTracerProvider,
        InMemorySpanExporter,
    ) {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let tracer = provider.tracer("test");
        let sub =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
        (sub, provider, exporter)
    }

    /// Flushes and returns a lookup of the finished spans by name.
    fn finished(
        provider: &SdkTracerProvider,
        exporter: &InMemorySpanExporter,
    ) -> impl Fn(&str) -> opentelemetry_sdk::trace::SpanData {
        provider.force_flush().expect("flush");
        let spans = exporter.get_finished_spans().expect("spans");
        move |n: &str| spans.iter().find(|s| s.name == n).expect(n).clone()
    }

    #[test]
    fn a_remote_span_joins_the_trace_of_the_span_that_built_the_entry() {
        let (sub, provider, exporter) = recording();
        tracing::subscriber::with_default(sub, || {
            let tp = {
                let _built = tracing::info_span!("node.build_block").entered();
                current_traceparent().expect("a recorded span has a traceparent")
            };
            assert_eq!(tp.len(), 55, "{tp}");
            assert!(
                tp.starts_with("00-") && tp.ends_with("-01"),
                "sampled, version 00: {tp}"
            );
            let apply = tracing::info_span!("replication.apply_block");
            assert!(follow_remote(&apply, &tp));
            drop(apply.entered());
            // Malformed or oversized context is ignored.
            let other = tracing::info_span!("other");
            assert!(!follow_remote(&other, "00-zz-yy-01"));
            assert!(!follow_remote(&other, &"0".repeat(MAX_TRACEPARENT_LEN + 1)));
            drop(other);
        });
        let by_name = finished(&provider, &exporter);
        let (built, apply, other) = (
            by_name("node.build_block"),
            by_name("replication.apply_block"),
            by_name("other"),
        );
        assert_eq!(apply.span_context.trace_id(), built.span_context.trace_id());
        assert_eq!(apply.parent_span_id, built.span_context.span_id());
        assert_ne!(other.span_context.trace_id(), built.span_context.trace_id());
    }

    /// A transaction's trace (client request) gains a span, recorded under the block's apply,
    /// that names the block's trace through a link.
    #[test]
    fn an_inclusion_span_joins_the_transaction_trace_and_links_the_block() {
        let (sub, provider, exporter) = recording();
        tracing::subscriber::with_default(sub, || {
            let tx_tp = {
                let _ingress = tracing::info_span!("ingress.check").entered();
                current_traceparent().expect("traceparent")
            };
            let _apply = tracing::info_span!("replication.apply_block").entered();
            let included = tracing::info_span!("node.tx_included");
            assert!(follow_remote(&included, &tx_tp));
            link_to_current(&included);
        });
        let by_name = finished(&provider, &exporter);
        let (ingress, apply, included) = (
            by_name("ingress.check"),
            by_name("replication.apply_block"),
            by_name("node.tx_included"),
        );
        assert_eq!(
            included.span_context.trace_id(),
            ingress.span_context.trace_id()
        );
        assert_eq!(included.parent_span_id, ingress.span_context.span_id());
        assert_ne!(
            apply.span_context.trace_id(),
            ingress.span_context.trace_id()
        );
        let links: Vec<_> = included
            .links
            .iter()
            .map(|l| l.span_context.clone())
            .collect();
        assert_eq!(links, vec![apply.span_context.clone()]);
    }

    #[test]
    fn no_traceparent_without_opentelemetry() {
        let sub = tracing_subscriber::registry();
        tracing::subscriber::with_default(sub, || {
            let _s = tracing::info_span!("node.build_block").entered();
            assert_eq!(current_traceparent(), None);
        });
    }
}
