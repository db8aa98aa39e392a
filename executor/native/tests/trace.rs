//! Telemetry: every native call is a `native.call` span naming the contract, the binary, the
//! process mode and the sandbox, with how the call ended (status, gas, state accesses, times),
//! and is counted in the runtime's statistics (the node's metrics).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::scenarios::GAS;
use common::*;
use rampart_native::{BackendKind, NativeCode, ProcessMode};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

type Fields = BTreeMap<String, String>;

/// Collects the fields of every closed span, in the order they closed.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<(String, Fields)>>>);

impl Capture {
    /// The fields of the `native.call` spans closed so far.
    fn native_calls(&self) -> Vec<Fields> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, _)| name == "native.call")
            .map(|(_, f)| f.clone())
            .collect()
    }
}

struct Visitor<'a>(&'a mut Fields);

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Visitor(&mut fields));
        ctx.span(id).unwrap().extensions_mut().insert(fields);
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).unwrap();
        let mut ext = span.extensions_mut();
        values.record(&mut Visitor(ext.get_mut::<Fields>().unwrap()));
    }
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).unwrap();
        let fields = span
            .extensions()
            .get::<Fields>()
            .cloned()
            .unwrap_or_default();
        self.0
            .lock()
            .unwrap()
            .push((span.name().to_owned(), fields));
    }
}

#[test]
fn every_native_call_is_a_span_with_its_outcome() {
    let rt = runtime(BackendKind::Process, "p_trace", |_| {});
    let mut bins = Binaries::default();
    let code_hash = bins.add(&artifacts().hostile);
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _default = tracing::subscriber::set_default(subscriber);

    let mut host = TestHost::new(&rt, &bins);
    let persistent = NativeCode {
        code_hash,
        mode: ProcessMode::Persistent,
    };
    assert!(
        host.run(code_hash, ctx(addr(1), addr(2), b"i".to_vec(), GAS))
            .is_success()
    );
    let o = host.run(persistent, ctx(addr(1), addr(3), vec![b'g', 0], GAS));
    assert!(!o.is_success());

    let spans = capture.native_calls();
    assert_eq!(spans.len(), 2, "{spans:?}");
    let (ok, bad) = (&spans[0], &spans[1]);
    assert_eq!(ok["contract"], addr(2).to_string());
    assert_eq!(ok["code_hash"], code_hash.to_string());
    assert_eq!(ok["mode"], "PerCall");
    assert_eq!(ok["status"], "success");
    assert_eq!((&*ok["state_reads"], &*ok["state_writes"]), ("1", "1"));
    assert!(ok["sandbox"].starts_with("rampart-p_trace-"), "{ok:?}");
    assert!(ok["gas_used"].parse::<u64>().unwrap() > 0);
    assert_eq!(bad["contract"], addr(3).to_string());
    assert_eq!(bad["mode"], "Persistent");
    assert!(
        bad["status"].starts_with("failed: Protocol") && bad["status"].contains("0x77"),
        "{bad:?}"
    );
    assert_eq!(bad["gas_used"], GAS.to_string(), "a failure uses all gas");

    // The same two calls in the runtime's counters (the node's metrics).
    let stats = rt.stats();
    let get = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(get(&stats.calls_success_total), 1);
    assert_eq!(get(&stats.calls_revert_total), 0);
    assert_eq!(get(&stats.calls_failed_total), 1);
    assert!(get(&stats.sandboxes_started_total) >= 1);
    assert_eq!(get(&stats.sandboxes_replaced_total), 0);
    assert_eq!(get(&stats.state_reads_total), 1);
    assert_eq!(get(&stats.preloaded_reads_total), 0);

    // Two more calls of the same function on the same storage: by the third, the slot both
    // earlier calls read is preloaded, and the span and the counters say the host answered it.
    for _ in 0..2 {
        assert!(
            host.run(code_hash, ctx(addr(1), addr(2), b"i".to_vec(), GAS))
                .is_success()
        );
    }
    let spans = capture.native_calls();
    let preloaded: Vec<&str> = spans.iter().map(|s| &*s["preloaded_reads"]).collect();
    assert_eq!(preloaded, ["0", "0", "0", "1"], "{spans:?}");
    assert_eq!(get(&stats.state_reads_total), 3);
    assert_eq!(get(&stats.preloaded_reads_total), 1);
}
