//! [`NativeRuntime`]: runs native calls in sandboxes, answering their state requests through a
//! [`StateAccess`] and charging gas.
//!
//! Threads: a [`NativeCall`] is advanced on the caller's thread (the EVM's), which is where every
//! [`StateAccess`] method is called; a nested call goes back to the caller ([`Step::Call`]), which
//! runs it and resumes the native call, so nothing recurses here.
//! gRPC runs on the runtime's own small tokio runtime; one task per call pumps the host's
//! messages to the caller's thread over a bounded channel, and enforces the call's deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::call::{
    CallContext, CallKind, CallOutcome, CallStats, CallStatus, Failure, FailureKind, HostError,
    NestedCall, NestedCallResult, SlotRead, SlotWrite, StateHost,
};
use crate::gas::GasMeter;
use crate::pb::{self, host_to_node, node_to_host};
use crate::pool::{Checkout, Pool, Sandbox};
use crate::preload::{HintKey, ReadHints};
use crate::sandbox::{GvisorBackend, HostClient, ProcessBackend, SandboxBackend};
use crate::{BackendKind, NativeCode, NativeConfig, NativeError, ProcessMode, validate_binary};

/// Messages from the host buffered towards the caller's thread.
const EVENT_QUEUE: usize = 64;
/// Slack past `call_time_ms` before the node gives up on a host that did not enforce its own
/// deadline (then the sandbox is replaced).
const HOST_DEADLINE_SLACK_MS: u64 = 250;

/// Where the runtime gets a binary it has not pushed to a sandbox yet (the state's code store).
pub trait BinaryLoader {
    fn load(&self, code_hash: B256) -> Result<Vec<u8>, String>;
}

impl<F> BinaryLoader for F
where
    F: Fn(B256) -> Result<Vec<u8>, String>,
{
    fn load(&self, code_hash: B256) -> Result<Vec<u8>, String> {
        self(code_hash)
    }
}

/// What a runtime has done since it started, for the node's metrics. Counters only: nothing
/// here reaches consensus.
#[derive(Debug, Default)]
pub struct RuntimeStats {
    /// Native calls that ended, by status.
    pub calls_success_total: AtomicU64,
    pub calls_revert_total: AtomicU64,
    pub calls_failed_total: AtomicU64,
    /// Sandboxes started (cold starts) and sandboxes replaced after a failure (a host that died
    /// or stopped answering).
    pub sandboxes_started_total: AtomicU64,
    pub sandboxes_replaced_total: AtomicU64,
    /// Storage reads of native calls, and those answered in the sandbox without asking the node
    /// (by the host or the contract's SDK: preloaded slots, slots written or read earlier in the
    /// call): the preload hit rate.
    pub state_reads_total: AtomicU64,
    pub preloaded_reads_total: AtomicU64,
}

/// Runs native contract calls. One per node; cheap to share (`&self` everywhere).
pub struct NativeRuntime {
    rt: Option<tokio::runtime::Runtime>,
    stats: Arc<RuntimeStats>,
    backend: Arc<dyn SandboxBackend>,
    pool: Pool,
    cfg: NativeConfig,
    next_id: AtomicU64,
    /// Which slots calls preload.
    hints: ReadHints,
}

impl std::fmt::Debug for NativeRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeRuntime")
            .field("backend", &self.backend.name())
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

enum Event {
    Msg(host_to_node::Msg),
    /// The host ended the stream without a final message.
    Closed,
    Transport(String),
    Deadline,
}

fn failed(
    kind: FailureKind,
    message: impl Into<String>,
    gas_limit: u64,
    stats: CallStats,
) -> CallOutcome {
    CallOutcome {
        status: CallStatus::Failed(Failure {
            kind,
            message: message.into(),
        }),
        output: Bytes::new(),
        gas_used: gas_limit,
        stats,
    }
}

fn addr(b: &[u8]) -> Option<Address> {
    (b.len() == 20).then(|| Address::from_slice(b))
}

fn word(b: &[u8]) -> Option<B256> {
    (b.len() == 32).then(|| B256::from_slice(b))
}

impl NativeRuntime {
    /// Starts the runtime with the configured backend, after removing every sandbox a previous
    /// run of this node instance left behind. Call it from a plain thread, not from async code.
    pub fn new(cfg: NativeConfig) -> Result<Self, NativeError> {
        cfg.validate()?;
        let backend: Arc<dyn SandboxBackend> = match cfg.backend {
            BackendKind::Gvisor => Arc::new(GvisorBackend::new(&cfg)?),
            BackendKind::Process => {
                tracing::warn!(target: "native::runtime",
                    "NATIVE CONTRACTS RUN WITHOUT ISOLATION (process backend): a contract can read \
                     the node's files and reach the network. Development and tests only.");
                Arc::new(ProcessBackend::new(&cfg)?)
            }
        };
        Self::with_backend(cfg, backend)
    }

    /// Starts the runtime over any backend (a Kubernetes one, a test double).
    pub fn with_backend(
        cfg: NativeConfig,
        backend: Arc<dyn SandboxBackend>,
    ) -> Result<Self, NativeError> {
        cfg.validate()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("rampart-native")
            .enable_all()
            .build()
            .map_err(|e| NativeError::io("start the native runtime's tokio runtime", e))?;
        let this = Self {
            rt: Some(rt),
            stats: Arc::default(),
            backend,
            pool: Pool::new(cfg.pool.clone()),
            cfg,
            next_id: AtomicU64::new(0),
            hints: ReadHints::default(),
        };
        let b = this.backend.clone();
        let removed = this.block_on(async move { b.clean_up().await })??;
        tracing::info!(target: "native::runtime", backend = this.backend.name(),
            instance = %this.cfg.instance, removed_leftovers = removed, "native runtime started");
        Ok(this)
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Counters of this runtime's calls and sandboxes (shared: the node's metrics read them).
    pub fn stats(&self) -> Arc<RuntimeStats> {
        self.stats.clone()
    }

    pub fn config(&self) -> &NativeConfig {
        &self.cfg
    }

    /// Runs `f` on the runtime and waits for it on this (non-async) thread.
    fn block_on<T: Send + 'static>(
        &self,
        f: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, NativeError> {
        let rt = self.rt.as_ref().ok_or(NativeError::ShutDown)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rt.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv().map_err(|_| NativeError::ShutDown)
    }

    fn handle(&self) -> Result<&tokio::runtime::Handle, NativeError> {
        self.rt
            .as_ref()
            .map(|r| r.handle())
            .ok_or(NativeError::ShutDown)
    }

    /// Starts a sandbox for `code_hash` and stores the binary in it.
    fn start_sandbox(
        &self,
        code_hash: B256,
        load: &mut dyn FnMut(B256) -> Result<Vec<u8>, String>,
    ) -> Result<Sandbox, NativeError> {
        let binary = load(code_hash)
            .map_err(|reason| NativeError::BinaryUnavailable { code_hash, reason })?;
        validate_binary(&binary, self.cfg.limits.binary_bytes)?;
        let actual = keccak256(&binary);
        if actual != code_hash {
            return Err(NativeError::BinaryUnavailable {
                code_hash,
                reason: format!("the loaded binary hashes to {actual}"),
            });
        }
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}{n}", self.cfg.sandbox_prefix());
        let backend = self.backend.clone();
        let started = Instant::now();
        let sb = self.block_on(async move {
            let sb = backend.start(&id).await?;
            let mut client = sb.client.clone();
            let put = client
                .put_binary(pb::PutBinaryRequest {
                    code_hash: code_hash.to_vec(),
                    binary,
                })
                .await;
            match put {
                Ok(_) => Ok(sb),
                Err(status) => {
                    let id = sb.id.clone();
                    backend.stop(sb).await;
                    Err(NativeError::Sandbox {
                        id,
                        message: format!("storing the binary: {}", status.message()),
                    })
                }
            }
        })??;
        tracing::debug!(target: "native::runtime", sandbox = %sb.id, %code_hash,
            start_ms = started.elapsed().as_millis() as u64, "sandbox started");
        self.stats
            .sandboxes_started_total
            .fetch_add(1, Ordering::Relaxed);
        Ok(Sandbox {
            started: sb,
            code_hash,
        })
    }

    /// A sandbox for `code_hash`: idle, or freshly started.
    fn checkout(
        &self,
        code_hash: B256,
        load: &mut dyn FnMut(B256) -> Result<Vec<u8>, String>,
    ) -> Result<Sandbox, NativeError> {
        match self.pool.checkout(code_hash)? {
            Checkout::Idle(sb) => Ok(sb),
            Checkout::Start { evicted } => {
                if let Some(v) = evicted {
                    self.stop_later(v);
                }
                self.start_sandbox(code_hash, load)
                    .inspect_err(|_| self.pool.release(code_hash))
            }
        }
    }

    fn stop_later(&self, sb: Sandbox) {
        if let Ok(h) = self.handle() {
            let backend = self.backend.clone();
            h.spawn(async move { backend.stop(sb.started).await });
        }
    }

    fn checkin(&self, sb: Sandbox, healthy: bool) {
        if healthy {
            if let Some(sb) = self.pool.checkin(sb) {
                self.stop_later(sb);
            }
        } else {
            tracing::info!(target: "native::runtime", sandbox = %sb.started.id, "replacing a failed sandbox");
            self.stats
                .sandboxes_replaced_total
                .fetch_add(1, Ordering::Relaxed);
            self.pool.release(sb.code_hash);
            self.stop_later(sb);
        }
    }

    /// Starts sandboxes for `code_hash` until `count` are idle (bounded by the pool), so that
    /// calls do not pay the cold start.
    pub fn prewarm(
        &self,
        code_hash: B256,
        loader: &dyn BinaryLoader,
        count: usize,
    ) -> Result<(), NativeError> {
        let mut held = Vec::new();
        let result = (|| {
            for _ in 0..count {
                held.push(self.checkout(code_hash, &mut |h| loader.load(h))?);
            }
            Ok(())
        })();
        for sb in held {
            self.checkin(sb, true);
        }
        result
    }

    /// (live, idle) sandboxes of a contract.
    pub fn sandbox_counts(&self, code_hash: B256) -> (usize, usize) {
        self.pool.counts(code_hash)
    }

    /// Kills the contract host of one idle sandbox of `code_hash`, as a crash would, and puts the
    /// sandbox back as if nothing had happened. For tests of recovery. `false` if none was idle.
    pub fn kill_idle_host(&self, code_hash: B256) -> bool {
        let Some(sb) = self.pool.take_idle(code_hash) else {
            return false;
        };
        let backend = self.backend.clone();
        let sb = match self.block_on(async move {
            backend.kill_host(&sb.started).await;
            // Let the sandbox notice.
            tokio::time::sleep(Duration::from_millis(200)).await;
            sb
        }) {
            Ok(sb) => sb,
            Err(_) => return false,
        };
        self.checkin(sb, true);
        true
    }

    /// One no-op round trip to a host of `code_hash` over a call stream (ping → pong): the
    /// channel floor under a call, measured the way `call` measures.
    pub fn ping(
        &self,
        code_hash: B256,
        loader: &dyn BinaryLoader,
    ) -> Result<Duration, NativeError> {
        let sb = self.checkout(code_hash, &mut |h| loader.load(h))?;
        let mut client = sb.started.client.clone();
        let (tx, mut rx) = mpsc::channel(1);
        let started = Instant::now();
        self.handle()?.spawn(async move {
            let ping = pb::NodeToHost {
                msg: Some(node_to_host::Msg::Ping(pb::Ping { nonce: 1 })),
            };
            let r = async {
                let mut inbound = client.call(tokio_stream::once(ping)).await?.into_inner();
                inbound.message().await
            }
            .await;
            let _ = tx.send(r).await;
        });
        let r = rx.blocking_recv();
        let elapsed = started.elapsed();
        let ok = matches!(
            r,
            Some(Ok(Some(pb::HostToNode {
                msg: Some(host_to_node::Msg::Pong(_))
            })))
        );
        let id = sb.started.id.clone();
        self.checkin(sb, ok);
        if ok {
            Ok(elapsed)
        } else {
            Err(NativeError::Sandbox {
                id,
                message: format!("ping failed: {r:?}"),
            })
        }
    }

    /// Runs one native call of the binary `code_hash` in the context `ctx` to its end, answering
    /// its state requests and running its nested calls through `host`. Never fails as a Rust
    /// error: every failure is an outcome ([`CallStatus::Failed`]) naming its reason. Must be
    /// called from a plain thread (the EVM's), not from async code.
    ///
    /// The EVM executor does not use this: it drives a [`NativeCall`] from its frame loop, so
    /// that a nested call is an ordinary EVM frame. This is the same thing for a host that can run
    /// nested calls itself (tests, tools).
    pub fn call(
        &self,
        code: impl Into<NativeCode>,
        loader: &dyn BinaryLoader,
        ctx: CallContext,
        host: &mut dyn StateHost,
    ) -> CallOutcome {
        struct WithLoader<'a> {
            loader: &'a dyn BinaryLoader,
            host: &'a mut dyn StateHost,
        }
        impl StateAccess for WithLoader<'_> {
            fn load_binary(&mut self, code_hash: B256) -> Result<Vec<u8>, String> {
                self.loader.load(code_hash)
            }
            fn sload(&mut self, a: Address, k: B256) -> Result<SlotRead, HostError> {
                self.host.sload(a, k)
            }
            fn peek(&mut self, a: Address, k: B256) -> Result<B256, HostError> {
                self.host.peek(a, k)
            }
            fn sstore(&mut self, a: Address, k: B256, v: B256) -> Result<SlotWrite, HostError> {
                self.host.sstore(a, k, v)
            }
            fn log(&mut self, a: Address, t: &[B256], d: &[u8]) -> Result<(), HostError> {
                self.host.log(a, t, d)
            }
        }
        let mut call = self.start(code, ctx.clone());
        loop {
            let step = call.advance(&mut WithLoader {
                loader,
                host: &mut *host,
            });
            match step {
                Step::Done(outcome) => return outcome,
                Step::Call(nested) => match host.call_contract(&ctx, nested) {
                    Ok(result) => call.resume(result),
                    Err(e) => {
                        call.awaiting = None;
                        call.failure = Some((FailureKind::Host, e.to_string()));
                    }
                },
            }
        }
    }

    /// Begins a native call; nothing happens until [`NativeCall::advance`].
    pub fn start(&self, code: impl Into<NativeCode>, ctx: CallContext) -> NativeCall<'_> {
        let code = code.into();
        use tracing::field::Empty;
        // A child of whatever span runs the EVM (`executor.execute_block`), so that an auditor
        // sees each native call of a block, where it ran and how it ended. Telemetry only.
        let span = tracing::info_span!(target: "rampart::native", "native.call",
            contract = %ctx.address, code_address = %ctx.code_address,
            code_hash = %code.code_hash, mode = ?code.mode, gas_limit = ctx.gas_limit,
            sandbox = Empty, status = Empty, gas_used = Empty, state_reads = Empty,
            preloaded_reads = Empty,
            state_writes = Empty, logs = Empty, nested_calls = Empty, exec_us = Empty,
            host_us = Empty);
        NativeCall {
            rt: self,
            span,
            code,
            meter: GasMeter::new(ctx.gas_limit),
            ctx,
            stats: CallStats::default(),
            attempts_left: 2,
            last_error: String::new(),
            live: None,
            awaiting: None,
            failure: None,
            charged_base: false,
            preload: None,
            listed: Vec::new(),
            read_keys: Vec::new(),
        }
    }

    /// Sends the start of a call to a checked-out sandbox and starts pumping its answers.
    fn begin(
        &self,
        sb: Sandbox,
        code: NativeCode,
        ctx: &CallContext,
        preload: &[(B256, B256)],
    ) -> Result<Live, Box<Sandbox>> {
        let Ok(handle) = self.handle() else {
            return Err(Box::new(sb));
        };
        let limits = &self.cfg.limits;
        let (req_tx, req_rx) = mpsc::unbounded_channel::<pb::NodeToHost>();
        let (ev_tx, ev_rx) = mpsc::channel::<Event>(EVENT_QUEUE);
        let _ = req_tx.send(pb::NodeToHost {
            msg: Some(node_to_host::Msg::Start(pb::StartCall {
                code_hash: code.code_hash.to_vec(),
                context: Some(pb::CallContext {
                    caller: ctx.caller.to_vec(),
                    address: ctx.address.to_vec(),
                    code_address: ctx.code_address.to_vec(),
                    origin: ctx.origin.to_vec(),
                    value: ctx.value.to_be_bytes::<32>().to_vec(),
                    calldata: ctx.calldata.to_vec(),
                    gas_limit: ctx.gas_limit,
                    block_number: ctx.block_number,
                    block_timestamp: ctx.block_timestamp,
                    chain_id: ctx.chain_id,
                    is_static: ctx.is_static,
                }),
                time_limit_ms: limits.call_time_ms,
                reuse_calls: match code.mode {
                    ProcessMode::PerCall => 0,
                    ProcessMode::Persistent => limits.persistent_process_calls,
                },
                preload: preload
                    .iter()
                    .map(|(k, v)| pb::StorageEntry {
                        key: k.to_vec(),
                        value: v.to_vec(),
                    })
                    .collect(),
            })),
        });
        let t0 = Instant::now();
        // The host enforces `call_time_ms` itself; the node waits a little longer before it gives
        // up on a host that did not.
        let deadline = tokio::time::Instant::from_std(t0)
            + Duration::from_millis(limits.call_time_ms + HOST_DEADLINE_SLACK_MS);
        let max_wait = Duration::from_millis(self.cfg.pool.start_timeout_ms);
        handle.spawn(pump(
            sb.started.client.clone(),
            req_rx,
            ev_tx,
            deadline,
            max_wait,
        ));
        Ok(Live {
            sb,
            req_tx,
            ev_rx,
            t0,
            host_time: Duration::ZERO,
            heard: false,
            waiting_since: None,
        })
    }
    /// Stops every sandbox and removes this instance's leftovers. Calls that are running finish
    /// first, and their sandboxes are stopped when they come back. When no sandbox is left, the
    /// instance's work directory goes too (the next start re-creates it), so an ephemeral node
    /// leaves nothing behind. Idempotent.
    pub fn shutdown(&self) {
        let idle = self.pool.drain();
        let backend = self.backend.clone();
        let _ = self.block_on(async move {
            for sb in idle {
                backend.stop(sb.started).await;
            }
            if let Err(e) = backend.clean_up().await {
                tracing::warn!(target: "native::runtime", error = %e, "clean-up at shutdown");
            }
        });
        if self.pool.live_total() == 0 {
            crate::sandbox::remove_dir(&self.cfg.instance_dir());
        }
    }
}

/// The state as a [`NativeCall`] reaches it: [`StateHost`] without nested calls (the driver of
/// the call runs those, see [`Step::Call`]), plus the binary store.
pub trait StateAccess {
    /// The binary whose keccak256 is `code_hash` (asked only when no warm sandbox holds it).
    fn load_binary(&mut self, code_hash: B256) -> Result<Vec<u8>, String>;
    fn sload(&mut self, address: Address, key: B256) -> Result<SlotRead, HostError>;
    /// As [`StateHost::peek`]: the value without an access (no warming, no gas).
    fn peek(&mut self, address: Address, key: B256) -> Result<B256, HostError>;
    fn sstore(&mut self, address: Address, key: B256, value: B256) -> Result<SlotWrite, HostError>;
    fn log(&mut self, address: Address, topics: &[B256], data: &[u8]) -> Result<(), HostError>;
}

/// What a [`NativeCall`] needs next.
#[derive(Debug)]
pub enum Step {
    /// The contract calls another contract: run it, then [`NativeCall::resume`] with its result.
    Call(NestedCall),
    /// The call ended. Advancing again is a bug (it answers with a failure).
    Done(CallOutcome),
}

/// One native call in progress, driven by its caller: [`NativeCall::advance`] answers the
/// contract's state requests until it returns or calls another contract; the caller runs that
/// nested call (an EVM frame, or another native call) and hands its result to
/// [`NativeCall::resume`]. No threads of its own, no recursion: the EVM's frame loop drives it.
///
/// Dropping an unfinished call aborts it and replaces its sandbox.
pub struct NativeCall<'r> {
    rt: &'r NativeRuntime,
    /// `native.call`: open from `start` until the call is dropped.
    span: tracing::Span,
    code: NativeCode,
    ctx: CallContext,
    meter: GasMeter,
    stats: CallStats,
    /// A second attempt only when the first sandbox failed before the host said anything.
    attempts_left: u8,
    last_error: String,
    live: Option<Live>,
    /// The nested call handed out by the last [`Step::Call`], until resumed.
    awaiting: Option<u64>,
    /// A failure found by `resume`, reported by the next `advance`.
    failure: Option<(FailureKind, String)>,
    charged_base: bool,
    /// Slots sent with the start (read once, before the first attempt).
    preload: Option<Vec<(B256, B256)>>,
    /// Slots of the storage account the transaction's access list names (EIP-2930): preloaded
    /// before the learnt ones.
    listed: Vec<B256>,
    /// Distinct slots the contract read, up to `preload_slots` (the next calls' hint).
    read_keys: Vec<B256>,
}

impl std::fmt::Debug for NativeCall<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeCall")
            .field("code", &self.code)
            .field("address", &self.ctx.address)
            .field("gas_used", &self.meter.charged())
            .finish_non_exhaustive()
    }
}

/// The attempt in progress on one sandbox.
struct Live {
    sb: Sandbox,
    req_tx: mpsc::UnboundedSender<pb::NodeToHost>,
    ev_rx: mpsc::Receiver<Event>,
    t0: Instant,
    /// Time in the state host, in nested calls and waiting for a contract process to start.
    host_time: Duration,
    heard: bool,
    waiting_since: Option<Instant>,
}

impl Live {
    fn send(&self, m: node_to_host::Msg) {
        let _ = self.req_tx.send(pb::NodeToHost { msg: Some(m) });
    }
}

/// How the events of one attempt ended for now.
enum Flow {
    Call(NestedCall),
    Done {
        outcome: CallOutcome,
        healthy: bool,
    },
    /// The stream failed before the host said anything: no effects, safe to retry elsewhere.
    NotStarted(String),
}

impl NativeCall<'_> {
    /// The call's context.
    pub fn context(&self) -> &CallContext {
        &self.ctx
    }

    /// Slots of the call's storage account (`context().address`) that the transaction names in
    /// its access list (EIP-2930): the call preloads them first, then the slots learnt from the
    /// function's earlier calls, `preload_slots` in all. Like any preload, this only moves
    /// latency. Call before the first [`NativeCall::advance`].
    pub fn preload_listed(&mut self, slots: impl IntoIterator<Item = B256>) {
        let cap = self.rt.cfg.limits.preload_slots as usize;
        for s in slots {
            if self.listed.len() >= cap {
                break;
            }
            if !self.listed.contains(&s) {
                self.listed.push(s);
            }
        }
    }

    /// Runs the call until it needs a nested call or ends.
    pub fn advance(&mut self, state: &mut dyn StateAccess) -> Step {
        let span = self.span.clone();
        let _entered = span.enter();
        let step = self.step(state);
        if let Step::Done(o) = &step {
            // With preloading off nothing is learnt: the hints would never be used.
            if self.rt.cfg.limits.preload_slots > 0
                && matches!(o.status, CallStatus::Success | CallStatus::Revert)
            {
                let read = std::mem::take(&mut self.read_keys);
                let hint = HintKey::new(self.ctx.address, self.code.code_hash, &self.ctx.calldata);
                self.rt.hints.learn(hint, read);
            }
            let stats = &self.rt.stats;
            let (status, counter) = match &o.status {
                CallStatus::Success => ("success".to_owned(), &stats.calls_success_total),
                CallStatus::Revert => ("revert".to_owned(), &stats.calls_revert_total),
                CallStatus::Failed(f) => (format!("failed: {f}"), &stats.calls_failed_total),
            };
            counter.fetch_add(1, Ordering::Relaxed);
            span.record("status", status.as_str());
            span.record("gas_used", o.gas_used);
            span.record("state_reads", o.stats.state_reads);
            span.record("preloaded_reads", o.stats.preloaded_reads);
            let reads = u64::from(o.stats.state_reads);
            stats.state_reads_total.fetch_add(reads, Ordering::Relaxed);
            let preloaded = u64::from(o.stats.preloaded_reads);
            stats
                .preloaded_reads_total
                .fetch_add(preloaded, Ordering::Relaxed);
            span.record("state_writes", o.stats.state_writes);
            span.record("logs", o.stats.logs);
            span.record("nested_calls", o.stats.nested_calls);
            span.record("exec_us", o.stats.exec_time_us);
            span.record("host_us", o.stats.host_time_us);
        }
        step
    }

    fn step(&mut self, state: &mut dyn StateAccess) -> Step {
        if !self.charged_base {
            self.charged_base = true;
            let base = self.rt.cfg.gas.call_base + self.rt.cfg.gas.data(self.ctx.calldata.len());
            if !self.meter.charge(base) {
                let m = format!("call needs {base} gas, has {}", self.ctx.gas_limit);
                return Step::Done(self.fail(FailureKind::OutOfGas, m));
            }
        }
        if self.awaiting.is_some() {
            let m = "advanced before the nested call was resumed".to_owned();
            return Step::Done(self.abort(FailureKind::Host, m));
        }
        if let Some((kind, message)) = self.failure.take() {
            return Step::Done(self.abort(kind, message));
        }
        if self.preload.is_none() {
            let cap = self.rt.cfg.limits.preload_slots as usize;
            let address = self.ctx.address;
            let hint = HintKey::new(address, self.code.code_hash, &self.ctx.calldata);
            let mut keys = std::mem::take(&mut self.listed);
            for k in self.rt.hints.predict(&hint, cap) {
                if keys.len() < cap && !keys.contains(&k) {
                    keys.push(k);
                }
            }
            let mut preload = Vec::new();
            for key in keys {
                match state.peek(address, key) {
                    Ok(value) => preload.push((key, value)),
                    Err(e) => return Step::Done(self.fail(FailureKind::Host, e.to_string())),
                }
            }
            self.preload = Some(preload);
        }
        loop {
            if self.live.is_none() {
                if self.attempts_left == 0 {
                    let m = std::mem::take(&mut self.last_error);
                    return Step::Done(self.fail(FailureKind::Sandbox, m));
                }
                self.attempts_left -= 1;
                let sb = match self
                    .rt
                    .checkout(self.code.code_hash, &mut |h| state.load_binary(h))
                {
                    Ok(sb) => sb,
                    Err(e) => {
                        let kind = match e {
                            NativeError::InvalidBinary(_)
                            | NativeError::BinaryUnavailable { .. } => {
                                FailureKind::BinaryUnavailable
                            }
                            _ => FailureKind::Sandbox,
                        };
                        return Step::Done(self.fail(kind, e.to_string()));
                    }
                };
                let preload = self.preload.get_or_insert_default();
                match self.rt.begin(sb, self.code, &self.ctx, preload) {
                    Ok(live) => {
                        self.span.record("sandbox", live.sb.started.id.as_str());
                        self.live = Some(live);
                    }
                    Err(sb) => {
                        self.rt.checkin(*sb, false);
                        return Step::Done(self.fail(FailureKind::Sandbox, "runtime shut down"));
                    }
                }
            }
            match self.pump_events(state) {
                Flow::Call(nested) => {
                    self.awaiting = Some(nested.gas);
                    return Step::Call(nested);
                }
                Flow::Done { outcome, healthy } => {
                    if let Some(live) = self.live.take() {
                        self.rt.checkin(live.sb, healthy);
                    }
                    return Step::Done(outcome);
                }
                Flow::NotStarted(why) => {
                    if let Some(live) = self.live.take() {
                        self.last_error = format!("sandbox {} lost: {why}", live.sb.started.id);
                        self.rt.checkin(live.sb, false);
                    }
                }
            }
        }
    }

    /// Hands the result of the nested call from the last [`Step::Call`] back to the contract.
    pub fn resume(&mut self, result: NestedCallResult) {
        let Some(offered) = self.awaiting.take() else {
            self.failure = Some((FailureKind::Host, "resumed without a nested call".into()));
            return;
        };
        if let Some(live) = self.live.as_mut()
            && let Some(since) = live.waiting_since.take()
        {
            live.host_time += since.elapsed();
        }
        let used = result.gas_used.min(offered);
        self.stats.nested_gas += used;
        let limits = &self.rt.cfg.limits;
        if !self.meter.charge(used) {
            let m = format!(
                "out of gas: nested call used {used}, {} left",
                self.meter.left()
            );
            self.failure = Some((FailureKind::OutOfGas, m));
        } else if result.output.len() + 9 > limits.frame_bytes as usize {
            let m = format!(
                "nested call output of {} bytes exceeds the frame limit",
                result.output.len()
            );
            self.failure = Some((FailureKind::OutputLimit, m));
        } else if let Some(live) = &self.live {
            live.send(node_to_host::Msg::CallResult(pb::CallResult {
                success: result.success,
                output: result.output.to_vec(),
                gas_used: used,
            }));
        }
    }

    /// A failed outcome without telling any host (none is running the call).
    fn fail(&mut self, kind: FailureKind, message: impl Into<String>) -> CallOutcome {
        failed(
            kind,
            message,
            self.ctx.gas_limit,
            std::mem::take(&mut self.stats),
        )
    }

    /// A failed outcome; the host is told to stop the contract and the sandbox goes back (it is
    /// healthy: the host enforces its limits, only the call failed).
    fn abort(&mut self, kind: FailureKind, message: String) -> CallOutcome {
        if let Some(live) = self.live.take() {
            live.send(node_to_host::Msg::Abort(pb::Abort {
                reason: message.clone(),
            }));
            self.stats.host_time_us = live.host_time.as_micros() as u64;
            self.rt.checkin(live.sb, true);
        }
        self.fail(kind, message)
    }

    /// Answers the host's messages until the contract calls another contract or ends.
    fn pump_events(&mut self, state: &mut dyn StateAccess) -> Flow {
        let cfg = &self.rt.cfg;
        let (limits, gas) = (&cfg.limits, &cfg.gas);
        let ctx = &self.ctx;
        let Some(live) = self.live.as_mut() else {
            return Flow::NotStarted("no sandbox".into());
        };
        let stats = &mut self.stats;
        let meter = &mut self.meter;
        let read_keys = &mut self.read_keys;
        let hint_cap = limits.preload_slots as usize;
        let gas_limit = ctx.gas_limit;
        // Ends the call with a failure, telling the host to stop the contract.
        macro_rules! abort {
            ($kind:expr, $msg:expr) => {{
                let message: String = $msg;
                live.send(node_to_host::Msg::Abort(pb::Abort {
                    reason: message.clone(),
                }));
                return Flow::Done {
                    outcome: failed($kind, message, gas_limit, std::mem::take(stats)),
                    healthy: true,
                };
            }};
        }
        macro_rules! charge {
            ($g:expr, $what:expr) => {
                if !meter.charge($g) {
                    let msg = format!(
                        "out of gas: {} needs {} gas, {} left",
                        $what,
                        $g,
                        meter.left()
                    );
                    abort!(FailureKind::OutOfGas, msg)
                }
            };
        }
        macro_rules! timed {
            ($e:expr) => {{
                let t = Instant::now();
                let r = $e;
                live.host_time += t.elapsed();
                match r {
                    Ok(v) => v,
                    Err(e) => abort!(FailureKind::Host, e.to_string()),
                }
            }};
        }
        macro_rules! protocol {
            ($msg:expr) => {
                abort!(FailureKind::Protocol, format!("host sent {}", $msg))
            };
        }
        macro_rules! lost {
            ($msg:expr) => {
                return Flow::Done {
                    outcome: failed(FailureKind::Sandbox, $msg, gas_limit, std::mem::take(stats)),
                    healthy: false,
                }
            };
        }

        let final_msg = loop {
            let ev = live.ev_rx.blocking_recv().unwrap_or(Event::Closed);
            let msg = match ev {
                Event::Msg(m) => m,
                Event::Transport(e) if !live.heard => return Flow::NotStarted(e),
                Event::Transport(e) => lost!(format!("sandbox lost during the call: {e}")),
                Event::Closed if !live.heard => return Flow::NotStarted("stream closed".into()),
                Event::Closed => lost!("the host ended the call without a result".to_owned()),
                Event::Deadline => {
                    // Past the host's own deadline: the host did not enforce it; replace it.
                    let m = format!(
                        "wall-clock limit of {} ms exceeded (host unresponsive)",
                        limits.call_time_ms
                    );
                    live.send(node_to_host::Msg::Abort(pb::Abort { reason: m.clone() }));
                    return Flow::Done {
                        outcome: failed(FailureKind::Timeout, m, gas_limit, std::mem::take(stats)),
                        healthy: false,
                    };
                }
            };
            live.heard = true;
            match msg {
                host_to_node::Msg::StorageRead(r) => {
                    let Some(key) = word(&r.key) else {
                        protocol!("a storage key that is not 32 bytes")
                    };
                    stats.state_reads += 1;
                    if stats.state_reads > limits.state_reads_per_call {
                        abort!(
                            FailureKind::StateLimit,
                            format!(
                                "state read limit of {} per call exceeded",
                                limits.state_reads_per_call
                            )
                        )
                    }
                    // Set when the read was answered in the sandbox (by the host or the contract's
                    // SDK) from the start's preload, the call's writes or its earlier reads.
                    let served = match r.value.len() {
                        0 => None,
                        _ => match word(&r.value) {
                            Some(v) => Some(v),
                            None => protocol!("a served storage value that is not 32 bytes"),
                        },
                    };
                    let read = timed!(state.sload(ctx.address, key));
                    charge!(gas.sload(read.cold), "storage read");
                    if read_keys.len() < hint_cap && !read_keys.contains(&key) {
                        read_keys.push(key);
                    }
                    match served {
                        None => live.send(node_to_host::Msg::StorageValue(pb::StorageValue {
                            value: read.value.to_vec(),
                        })),
                        Some(v) if v == read.value => stats.preloaded_reads += 1,
                        Some(v) => abort!(
                            FailureKind::Protocol,
                            format!(
                                "slot {key} was answered in the sandbox with {v}, the state holds {}",
                                read.value
                            )
                        ),
                    }
                }
                host_to_node::Msg::StorageWrite(w) => {
                    let (Some(key), Some(value)) = (word(&w.key), word(&w.value)) else {
                        protocol!("a storage write that is not 32 + 32 bytes")
                    };
                    if ctx.is_static {
                        abort!(
                            FailureKind::StaticViolation,
                            "storage write in a static call".into()
                        )
                    }
                    stats.state_writes += 1;
                    if stats.state_writes > limits.state_writes_per_call {
                        abort!(
                            FailureKind::StateLimit,
                            format!(
                                "state write limit of {} per call exceeded",
                                limits.state_writes_per_call
                            )
                        )
                    }
                    let write = timed!(state.sstore(ctx.address, key, value));
                    charge!(
                        gas.sstore(write.previous.is_zero(), value.is_zero(), write.cold),
                        "storage write"
                    );
                }
                host_to_node::Msg::EmitLog(l) => {
                    if ctx.is_static {
                        abort!(FailureKind::StaticViolation, "log in a static call".into())
                    }
                    let topics: Option<Vec<B256>> = l.topics.iter().map(|t| word(t)).collect();
                    let Some(topics) = topics.filter(|t| t.len() <= 4) else {
                        protocol!("a log with more than 4 topics or a topic that is not 32 bytes")
                    };
                    stats.logs += 1;
                    stats.log_data_bytes += l.data.len() as u64;
                    if stats.logs > limits.logs_per_call {
                        abort!(
                            FailureKind::StateLimit,
                            format!("log limit of {} per call exceeded", limits.logs_per_call)
                        )
                    }
                    if stats.log_data_bytes > limits.log_data_bytes_per_call {
                        abort!(
                            FailureKind::OutputLimit,
                            format!(
                                "log data limit of {} bytes per call exceeded",
                                limits.log_data_bytes_per_call
                            )
                        )
                    }
                    charge!(gas.log(topics.len(), l.data.len()), "log");
                    timed!(state.log(ctx.address, &topics, &l.data));
                }
                host_to_node::Msg::CallContract(c) => {
                    let Some(target) = addr(&c.target) else {
                        protocol!("a call target that is not 20 bytes")
                    };
                    let kind = match pb::CallKind::try_from(c.kind) {
                        Ok(pb::CallKind::Call) => CallKind::Call,
                        Ok(pb::CallKind::StaticCall) => CallKind::StaticCall,
                        Ok(pb::CallKind::DelegateCall) => CallKind::DelegateCall,
                        Err(_) => protocol!("an unknown call kind"),
                    };
                    let value = match kind {
                        CallKind::Call => match word(&c.value) {
                            Some(v) => U256::from_be_bytes(v.0),
                            None => protocol!("a call value that is not 32 bytes"),
                        },
                        _ => U256::ZERO,
                    };
                    if ctx.is_static && !value.is_zero() {
                        abort!(
                            FailureKind::StaticViolation,
                            "call with value in a static call".into()
                        )
                    }
                    let kind = if ctx.is_static && kind == CallKind::Call {
                        CallKind::StaticCall
                    } else {
                        kind
                    };
                    let base = gas.nested_call_base
                        + if value.is_zero() {
                            0
                        } else {
                            gas.nested_call_value
                        };
                    charge!(base, "call");
                    let left = meter.left();
                    stats.nested_calls += 1;
                    // The nested call's time is not this contract's execution.
                    live.waiting_since = Some(Instant::now());
                    return Flow::Call(NestedCall {
                        kind,
                        target,
                        value,
                        input: Bytes::from(c.input),
                        gas: c.gas.min(left - left / 64),
                    });
                }
                m @ (host_to_node::Msg::Ret(_)
                | host_to_node::Msg::Revert(_)
                | host_to_node::Msg::Error(_)) => break m,
                host_to_node::Msg::ProcessStatus(p) => {
                    // Waiting for a contract process to start is not execution.
                    match (p.ready, live.waiting_since.take()) {
                        (false, _) => live.waiting_since = Some(Instant::now()),
                        (true, Some(since)) => live.host_time += since.elapsed(),
                        (true, None) => protocol!("a process status out of order"),
                    }
                }
                host_to_node::Msg::Pong(_) => protocol!("an unexpected pong"),
            }
        };

        let total = live.t0.elapsed();
        stats.host_time_us = live.host_time.as_micros() as u64;
        stats.exec_time_us = total.saturating_sub(live.host_time).as_micros() as u64;
        let (status, output) = match final_msg {
            host_to_node::Msg::Ret(r) => (CallStatus::Success, r.data),
            host_to_node::Msg::Revert(r) => (CallStatus::Revert, r.data),
            host_to_node::Msg::Error(e) => {
                let kind = match pb::ErrorKind::try_from(e.kind) {
                    Ok(pb::ErrorKind::Timeout) => FailureKind::Timeout,
                    Ok(pb::ErrorKind::MemoryLimit) => FailureKind::MemoryLimit,
                    Ok(pb::ErrorKind::OutputLimit) => FailureKind::OutputLimit,
                    Ok(pb::ErrorKind::Protocol) => FailureKind::Protocol,
                    Ok(pb::ErrorKind::Crashed) => FailureKind::Crashed,
                    Ok(pb::ErrorKind::BinaryMissing | pb::ErrorKind::SpawnFailed) => {
                        FailureKind::BinaryUnavailable
                    }
                    _ => FailureKind::Sandbox,
                };
                return Flow::Done {
                    outcome: failed(kind, e.message, gas_limit, std::mem::take(stats)),
                    healthy: true,
                };
            }
            _ => unreachable!("the loop breaks only on a final message"),
        };
        if output.len() > limits.frame_bytes as usize {
            let m = format!(
                "return data of {} bytes exceeds the limit of {}",
                output.len(),
                limits.frame_bytes
            );
            return Flow::Done {
                outcome: failed(
                    FailureKind::OutputLimit,
                    m,
                    gas_limit,
                    std::mem::take(stats),
                ),
                healthy: true,
            };
        }
        stats.exec_gas = gas.data(output.len());
        charge!(stats.exec_gas, "return data");
        debug_assert!(meter.charged() <= meter.limit());
        Flow::Done {
            outcome: CallOutcome {
                status,
                output: output.into(),
                gas_used: meter.charged(),
                stats: std::mem::take(stats),
            },
            healthy: true,
        }
    }
}

impl Drop for NativeCall<'_> {
    fn drop(&mut self) {
        // Unfinished (the driver gave up, e.g. on a storage error): stop the contract; the
        // sandbox's state is unknown, so it is replaced.
        if let Some(live) = self.live.take() {
            live.send(node_to_host::Msg::Abort(pb::Abort {
                reason: "the call was abandoned by the node".into(),
            }));
            self.rt.checkin(live.sb, false);
        }
    }
}

impl Drop for NativeRuntime {
    fn drop(&mut self) {
        self.shutdown();
        if let Some(rt) = self.rt.take() {
            // A runtime cannot be waited for from inside another one (the node drops this from
            // async code when it is the last holder).
            if tokio::runtime::Handle::try_current().is_ok() {
                rt.shutdown_background();
            } else {
                rt.shutdown_timeout(Duration::from_secs(5));
            }
        }
    }
}

/// Moves the host's messages to the caller's thread and enforces the deadline. The host starts
/// its wall clock only once a contract process has the call, so the time the host reports waiting
/// for one (`ProcessStatus`) moves the deadline too, by at most `max_wait` in all: a host that
/// never reports ready is given up on like one that never answers.
async fn pump(
    mut client: HostClient,
    requests: mpsc::UnboundedReceiver<pb::NodeToHost>,
    events: mpsc::Sender<Event>,
    mut deadline: tokio::time::Instant,
    max_wait: Duration,
) {
    // The host answers the stream's headers together with its first message (a status, a
    // request of the contract or its answer), so this wait is bounded like the call.
    let opened = tokio::time::timeout_at(
        deadline,
        client.call(UnboundedReceiverStream::new(requests)),
    );
    let mut inbound = match opened.await {
        Ok(Ok(r)) => r.into_inner(),
        Ok(Err(s)) => {
            let _ = events.send(Event::Transport(s.message().to_owned())).await;
            return;
        }
        Err(_) => {
            let _ = events.send(Event::Deadline).await;
            return;
        }
    };
    let mut waiting_since: Option<tokio::time::Instant> = None;
    let mut waited = Duration::ZERO;
    loop {
        let wake = match waiting_since {
            Some(_) => deadline + max_wait.saturating_sub(waited),
            None => deadline,
        };
        let ev = tokio::select! {
            m = inbound.message() => match m {
                Ok(Some(pb::HostToNode { msg: Some(m) })) => Event::Msg(m),
                Ok(Some(_)) => continue,
                Ok(None) => Event::Closed,
                Err(s) => Event::Transport(s.message().to_owned()),
            },
            () = tokio::time::sleep_until(wake) => Event::Deadline,
        };
        if let Event::Msg(host_to_node::Msg::ProcessStatus(p)) = &ev {
            let now = tokio::time::Instant::now();
            match (p.ready, waiting_since.take()) {
                (false, _) => waiting_since = Some(now),
                (true, Some(since)) => {
                    let moved = (now - since).min(max_wait.saturating_sub(waited));
                    waited += moved;
                    deadline += moved;
                }
                (true, None) => {}
            }
        }
        let last = !matches!(ev, Event::Msg(_));
        if events.send(ev).await.is_err() || last {
            return;
        }
    }
}
