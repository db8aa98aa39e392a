//! raft-rs logs through `slog`; this drain forwards its records to `tracing` under the target
//! `rampart_consensus::raft`, so one subscriber (cluster/telemetry) sees everything.

use std::fmt::Write as _;

use slog::{Drain, Level, OwnedKVList, Record};

const TARGET: &str = "rampart_consensus::raft";

/// A `slog` drain that emits `tracing` events.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingDrain;

struct KvFormatter(String);

impl slog::Serializer for KvFormatter {
    fn emit_arguments(&mut self, key: slog::Key, val: &std::fmt::Arguments<'_>) -> slog::Result {
        let _ = write!(self.0, " {key}={val}");
        Ok(())
    }
}

fn level(l: Level) -> tracing::Level {
    match l {
        Level::Critical | Level::Error => tracing::Level::ERROR,
        Level::Warning => tracing::Level::WARN,
        Level::Info => tracing::Level::INFO,
        Level::Debug => tracing::Level::DEBUG,
        Level::Trace => tracing::Level::TRACE,
    }
}

impl Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        let lvl = level(record.level());
        // Format only what a subscriber will take.
        let enabled = match lvl {
            tracing::Level::ERROR => tracing::enabled!(target: TARGET, tracing::Level::ERROR),
            tracing::Level::WARN => tracing::enabled!(target: TARGET, tracing::Level::WARN),
            tracing::Level::INFO => tracing::enabled!(target: TARGET, tracing::Level::INFO),
            tracing::Level::DEBUG => tracing::enabled!(target: TARGET, tracing::Level::DEBUG),
            _ => tracing::enabled!(target: TARGET, tracing::Level::TRACE),
        };
        if !enabled {
            return Ok(());
        }
        let mut kv = KvFormatter(String::new());
        let _ = slog::KV::serialize(&record.kv(), record, &mut kv);
        let _ = slog::KV::serialize(values, record, &mut kv);
        let msg = record.msg();
        match lvl {
            tracing::Level::ERROR => tracing::error!(target: TARGET, "{msg}{}", kv.0),
            tracing::Level::WARN => tracing::warn!(target: TARGET, "{msg}{}", kv.0),
            tracing::Level::INFO => tracing::info!(target: TARGET, "{msg}{}", kv.0),
            tracing::Level::DEBUG => tracing::debug!(target: TARGET, "{msg}{}", kv.0),
            _ => tracing::trace!(target: TARGET, "{msg}{}", kv.0),
        }
        Ok(())
    }
}

/// The logger handed to raft-rs for node `id`.
pub fn raft_logger(id: u64) -> slog::Logger {
    slog::Logger::root(TracingDrain, slog::o!("raft_id" => id))
}
