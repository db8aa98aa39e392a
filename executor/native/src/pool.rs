//! The warm pool: started sandboxes per contract, checked out for one call at a time.
//!
//! Bounded per contract (`max_per_contract`, busy and idle together) and in all (`max_total`).
//! A call takes an idle sandbox, or reserves a place to start one, or waits up to
//! `checkout_timeout_ms` for one to come back. When the total bound is what stops it, an idle
//! sandbox of another contract is evicted to make room.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use alloy_primitives::B256;
use parking_lot::{Condvar, Mutex};

use crate::sandbox::StartedSandbox;
use crate::{NativeError, PoolConfig};

/// A started sandbox that holds one contract's binary.
#[derive(Debug)]
pub(crate) struct Sandbox {
    pub(crate) started: StartedSandbox,
    pub(crate) code_hash: B256,
}

pub(crate) enum Checkout {
    Idle(Sandbox),
    /// A place is reserved: start a sandbox (and stop `evicted`, if any, first).
    Start {
        evicted: Option<Sandbox>,
    },
}

#[derive(Default)]
struct Entry {
    idle: Vec<Sandbox>,
    /// Busy + idle + starting.
    live: usize,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<B256, Entry>,
    total: usize,
    closed: bool,
}

pub(crate) struct Pool {
    cfg: PoolConfig,
    inner: Mutex<Inner>,
    returned: Condvar,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.inner.lock();
        f.debug_struct("Pool")
            .field("total", &inner.total)
            .field("contracts", &inner.entries.len())
            .finish()
    }
}

impl Pool {
    pub(crate) fn new(cfg: PoolConfig) -> Self {
        Self {
            cfg,
            inner: Mutex::new(Inner::default()),
            returned: Condvar::new(),
        }
    }

    pub(crate) fn checkout(&self, code_hash: B256) -> Result<Checkout, NativeError> {
        let started = Instant::now();
        let deadline = started + Duration::from_millis(self.cfg.checkout_timeout_ms);
        let mut inner = self.inner.lock();
        loop {
            if inner.closed {
                return Err(NativeError::ShutDown);
            }
            let total = inner.total;
            let entry = inner.entries.entry(code_hash).or_default();
            if let Some(sb) = entry.idle.pop() {
                return Ok(Checkout::Idle(sb));
            }
            if entry.live < self.cfg.max_per_contract {
                if total < self.cfg.max_total {
                    entry.live += 1;
                    inner.total += 1;
                    return Ok(Checkout::Start { evicted: None });
                }
                // Full in total: evict an idle sandbox of another contract.
                let victim = inner
                    .entries
                    .iter_mut()
                    .find(|(h, e)| **h != code_hash && !e.idle.is_empty())
                    .and_then(|(_, e)| {
                        e.live -= 1;
                        e.idle.pop()
                    });
                if let Some(victim) = victim {
                    inner.entries.entry(code_hash).or_default().live += 1;
                    return Ok(Checkout::Start {
                        evicted: Some(victim),
                    });
                }
            }
            if self.returned.wait_until(&mut inner, deadline).timed_out() {
                return Err(NativeError::PoolExhausted {
                    code_hash,
                    waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                });
            }
        }
    }

    /// Gives a healthy sandbox back. After shutdown it is handed back to be stopped.
    pub(crate) fn checkin(&self, sb: Sandbox) -> Option<Sandbox> {
        let mut inner = self.inner.lock();
        if inner.closed {
            Self::forget(&mut inner, sb.code_hash);
            return Some(sb);
        }
        inner.entries.entry(sb.code_hash).or_default().idle.push(sb);
        drop(inner);
        self.returned.notify_one();
        None
    }

    /// Releases the place of a sandbox that failed to start or was discarded.
    pub(crate) fn release(&self, code_hash: B256) {
        let mut inner = self.inner.lock();
        Self::forget(&mut inner, code_hash);
        drop(inner);
        self.returned.notify_all();
    }

    fn forget(inner: &mut Inner, code_hash: B256) {
        if let Some(e) = inner.entries.get_mut(&code_hash) {
            e.live = e.live.saturating_sub(1);
        }
        inner.total = inner.total.saturating_sub(1);
    }

    /// Closes the pool and takes every idle sandbox (to be stopped).
    pub(crate) fn drain(&self) -> Vec<Sandbox> {
        let mut inner = self.inner.lock();
        inner.closed = true;
        let mut out = Vec::new();
        for e in inner.entries.values_mut() {
            e.live -= e.idle.len();
            out.append(&mut e.idle);
        }
        inner.total -= out.len();
        drop(inner);
        self.returned.notify_all();
        out
    }

    /// Takes one idle sandbox of `code_hash` out of the pool (it stays counted as live).
    pub(crate) fn take_idle(&self, code_hash: B256) -> Option<Sandbox> {
        self.inner.lock().entries.get_mut(&code_hash)?.idle.pop()
    }

    /// Sandboxes live in all (busy, idle or starting).
    pub(crate) fn live_total(&self) -> usize {
        self.inner.lock().total
    }

    /// (live, idle) sandboxes of `code_hash`.
    pub(crate) fn counts(&self, code_hash: B256) -> (usize, usize) {
        let inner = self.inner.lock();
        inner
            .entries
            .get(&code_hash)
            .map_or((0, 0), |e| (e.live, e.idle.len()))
    }
}
