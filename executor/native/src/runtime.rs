//! [`NativeRuntime`]: runs native calls in sandboxes, answering their state requests through a
//! [`StateHost`] and charging gas.
//!
//! Threads: `call` is synchronous and runs on the caller's thread (the EVM's), which is where
//! every [`StateHost`] method is called, so nested calls (native → EVM → native) simply recurse.
//! gRPC runs on the runtime's own small tokio runtime; one task per call pumps the host's
//! messages to the caller's thread over a bounded channel, and enforces the call's deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::call::{
    CallContext, CallKind, CallOutcome, CallStats, CallStatus, Failure, FailureKind, NestedCall,
    StateHost,
};
use crate::gas::GasMeter;
use crate::pb::{self, host_to_node, node_to_host};
use crate::pool::{Checkout, Pool, Sandbox};
use crate::sandbox::{GvisorBackend, HostClient, ProcessBackend, SandboxBackend};
use crate::{BackendKind, NativeConfig, NativeError, validate_binary};

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

/// Runs native contract calls. One per node; cheap to share (`&self` everywhere).
pub struct NativeRuntime {
    rt: Option<tokio::runtime::Runtime>,
    backend: Arc<dyn SandboxBackend>,
    pool: Pool,
    cfg: NativeConfig,
    next_id: AtomicU64,
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

/// How one attempt on one sandbox ended.
enum Attempt {
    Done {
        outcome: CallOutcome,
        healthy: bool,
    },
    /// The stream failed before the host said anything: no effects, safe to retry elsewhere.
    NotStarted(String),
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
            backend,
            pool: Pool::new(cfg.pool.clone()),
            cfg,
            next_id: AtomicU64::new(0),
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
        loader: &dyn BinaryLoader,
    ) -> Result<Sandbox, NativeError> {
        let binary = loader
            .load(code_hash)
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
        Ok(Sandbox {
            started: sb,
            code_hash,
        })
    }

    /// A sandbox for `code_hash`: idle, or freshly started.
    fn checkout(&self, code_hash: B256, loader: &dyn BinaryLoader) -> Result<Sandbox, NativeError> {
        match self.pool.checkout(code_hash)? {
            Checkout::Idle(sb) => Ok(sb),
            Checkout::Start { evicted } => {
                if let Some(v) = evicted {
                    self.stop_later(v);
                }
                self.start_sandbox(code_hash, loader)
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
                held.push(self.checkout(code_hash, loader)?);
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
        let sb = self.checkout(code_hash, loader)?;
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

    /// Runs one native call of the binary `code_hash` in the context `ctx`, answering its state
    /// requests through `host`. Never fails as a Rust error: every failure is an outcome
    /// ([`CallStatus::Failed`]) naming its reason. Must be called from a plain thread (the
    /// EVM's), not from async code.
    pub fn call(
        &self,
        code_hash: B256,
        loader: &dyn BinaryLoader,
        ctx: CallContext,
        host: &mut dyn StateHost,
    ) -> CallOutcome {
        let mut meter = GasMeter::new(ctx.gas_limit);
        if !meter.charge(self.cfg.gas.call_base) {
            return failed(
                FailureKind::OutOfGas,
                format!(
                    "call needs {} gas, has {}",
                    self.cfg.gas.call_base, ctx.gas_limit
                ),
                ctx.gas_limit,
                CallStats::default(),
            );
        }
        let mut last_error = String::new();
        // A second attempt only when the first sandbox failed before anything happened.
        for _ in 0..2 {
            let sb = match self.checkout(code_hash, loader) {
                Ok(sb) => sb,
                Err(e) => {
                    let kind = match e {
                        NativeError::InvalidBinary(_) | NativeError::BinaryUnavailable { .. } => {
                            FailureKind::BinaryUnavailable
                        }
                        _ => FailureKind::Sandbox,
                    };
                    return failed(kind, e.to_string(), ctx.gas_limit, CallStats::default());
                }
            };
            match self.attempt(&sb.started.client, code_hash, &ctx, host, &mut meter) {
                Attempt::Done { outcome, healthy } => {
                    self.checkin(sb, healthy);
                    return outcome;
                }
                Attempt::NotStarted(why) => {
                    last_error = format!("sandbox {} lost: {why}", sb.started.id);
                    self.checkin(sb, false);
                }
            }
        }
        failed(
            FailureKind::Sandbox,
            last_error,
            ctx.gas_limit,
            CallStats::default(),
        )
    }

    fn attempt(
        &self,
        client: &HostClient,
        code_hash: B256,
        ctx: &CallContext,
        host: &mut dyn StateHost,
        meter: &mut GasMeter,
    ) -> Attempt {
        let Ok(handle) = self.handle() else {
            return Attempt::NotStarted("runtime shut down".into());
        };
        let limits = &self.cfg.limits;
        let gas = &self.cfg.gas;
        let call_time_us = limits.call_time_ms.saturating_mul(1000);
        let gas_per_us = gas.gas_per_exec_us.max(1);
        // Deadline in µs after `t0`: the host's own wall-clock limit plus slack, or earlier when
        // the gas left cannot pay for more execution time.
        let gas_bound_us =
            |host_us: u64, meter: &GasMeter| host_us.saturating_add(meter.left() / gas_per_us);
        let hard_us = call_time_us + HOST_DEADLINE_SLACK_MS * 1000;
        let deadline = Arc::new(Deadline {
            us: AtomicU64::new(gas_bound_us(0, meter).min(hard_us)),
            moved: tokio::sync::Notify::new(),
        });

        let (req_tx, req_rx) = mpsc::unbounded_channel::<pb::NodeToHost>();
        let (ev_tx, mut ev_rx) = mpsc::channel::<Event>(EVENT_QUEUE);
        let send = |m: node_to_host::Msg| {
            let _ = req_tx.send(pb::NodeToHost { msg: Some(m) });
        };
        send(node_to_host::Msg::Start(pb::StartCall {
            code_hash: code_hash.to_vec(),
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
        }));
        let t0 = Instant::now();
        handle.spawn(pump(
            client.clone(),
            req_rx,
            ev_tx,
            tokio::time::Instant::from_std(t0),
            deadline.clone(),
        ));

        let mut stats = CallStats::default();
        let mut host_time = Duration::ZERO;
        let mut heard = false;
        let mut waiting_since: Option<Instant> = None;
        let gas_limit = ctx.gas_limit;
        // Ends the call with a failure, telling the host to stop the contract.
        let abort = |kind: FailureKind, message: String, stats: CallStats| {
            let _ = req_tx.send(pb::NodeToHost {
                msg: Some(node_to_host::Msg::Abort(pb::Abort {
                    reason: message.clone(),
                })),
            });
            Attempt::Done {
                outcome: failed(kind, message, gas_limit, stats),
                healthy: true,
            }
        };
        macro_rules! charge {
            ($g:expr, $what:expr) => {
                if !meter.charge($g) {
                    let msg = format!(
                        "out of gas: {} needs {} gas, {} left",
                        $what,
                        $g,
                        meter.left()
                    );
                    return abort(FailureKind::OutOfGas, msg, stats);
                }
            };
        }
        // Time inside the state host is not execution: the gas-bound deadline waits meanwhile.
        macro_rules! timed {
            ($e:expr) => {{
                deadline.us.store(hard_us, Ordering::Relaxed);
                let t = Instant::now();
                let r = $e;
                host_time += t.elapsed();
                match r {
                    Ok(v) => v,
                    Err(e) => return abort(FailureKind::Host, e.to_string(), stats),
                }
            }};
        }
        macro_rules! protocol {
            ($msg:expr) => {
                return abort(FailureKind::Protocol, format!("host sent {}", $msg), stats)
            };
        }

        let final_msg = loop {
            let ev = ev_rx.blocking_recv().unwrap_or(Event::Closed);
            let msg = match ev {
                Event::Msg(m) => m,
                Event::Transport(e) if !heard => return Attempt::NotStarted(e),
                Event::Transport(e) => {
                    return Attempt::Done {
                        outcome: failed(
                            FailureKind::Sandbox,
                            format!("sandbox lost during the call: {e}"),
                            gas_limit,
                            stats,
                        ),
                        healthy: false,
                    };
                }
                Event::Closed if !heard => return Attempt::NotStarted("stream closed".into()),
                Event::Closed => {
                    return Attempt::Done {
                        outcome: failed(
                            FailureKind::Sandbox,
                            "the host ended the call without a result",
                            gas_limit,
                            stats,
                        ),
                        healthy: false,
                    };
                }
                Event::Deadline => {
                    let host_us = host_time.as_micros() as u64;
                    let outcome = if gas_bound_us(host_us, meter) < call_time_us {
                        abort(
                            FailureKind::OutOfGas,
                            format!(
                                "out of gas: execution time used the {} gas left",
                                meter.left()
                            ),
                            stats,
                        )
                    } else {
                        abort(
                            FailureKind::Timeout,
                            format!(
                                "wall-clock limit of {} ms exceeded (host unresponsive)",
                                limits.call_time_ms
                            ),
                            stats,
                        )
                    };
                    // Past the host's own deadline: the host did not enforce it; replace it.
                    let healthy = gas_bound_us(host_us, meter) < call_time_us;
                    return match outcome {
                        Attempt::Done { outcome, .. } => Attempt::Done { outcome, healthy },
                        other => other,
                    };
                }
            };
            heard = true;
            match msg {
                host_to_node::Msg::StorageRead(r) => {
                    let Some(key) = word(&r.key) else {
                        protocol!("a storage key that is not 32 bytes")
                    };
                    stats.state_reads += 1;
                    if stats.state_reads > limits.state_reads_per_call {
                        let m = format!(
                            "state read limit of {} per call exceeded",
                            limits.state_reads_per_call
                        );
                        return abort(FailureKind::StateLimit, m, stats);
                    }
                    let read = timed!(host.sload(ctx.address, key));
                    charge!(gas.sload(read.cold), "storage read");
                    send(node_to_host::Msg::StorageValue(pb::StorageValue {
                        value: read.value.to_vec(),
                    }));
                }
                host_to_node::Msg::StorageWrite(w) => {
                    let (Some(key), Some(value)) = (word(&w.key), word(&w.value)) else {
                        protocol!("a storage write that is not 32 + 32 bytes")
                    };
                    if ctx.is_static {
                        return abort(
                            FailureKind::StaticViolation,
                            "storage write in a static call".into(),
                            stats,
                        );
                    }
                    stats.state_writes += 1;
                    if stats.state_writes > limits.state_writes_per_call {
                        let m = format!(
                            "state write limit of {} per call exceeded",
                            limits.state_writes_per_call
                        );
                        return abort(FailureKind::StateLimit, m, stats);
                    }
                    let write = timed!(host.sstore(ctx.address, key, value));
                    charge!(
                        gas.sstore(write.previous.is_zero(), value.is_zero(), write.cold),
                        "storage write"
                    );
                }
                host_to_node::Msg::EmitLog(l) => {
                    if ctx.is_static {
                        return abort(
                            FailureKind::StaticViolation,
                            "log in a static call".into(),
                            stats,
                        );
                    }
                    let topics: Option<Vec<B256>> = l.topics.iter().map(|t| word(t)).collect();
                    let Some(topics) = topics.filter(|t| t.len() <= 4) else {
                        protocol!("a log with more than 4 topics or a topic that is not 32 bytes")
                    };
                    stats.logs += 1;
                    stats.log_data_bytes += l.data.len() as u64;
                    if stats.logs > limits.logs_per_call {
                        let m = format!("log limit of {} per call exceeded", limits.logs_per_call);
                        return abort(FailureKind::StateLimit, m, stats);
                    }
                    if stats.log_data_bytes > limits.log_data_bytes_per_call {
                        let m = format!(
                            "log data limit of {} bytes per call exceeded",
                            limits.log_data_bytes_per_call
                        );
                        return abort(FailureKind::OutputLimit, m, stats);
                    }
                    charge!(gas.log(topics.len(), l.data.len()), "log");
                    timed!(host.log(ctx.address, &topics, &l.data));
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
                        return abort(
                            FailureKind::StaticViolation,
                            "call with value in a static call".into(),
                            stats,
                        );
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
                    let offered = c.gas.min(left - left / 64);
                    stats.nested_calls += 1;
                    let r = timed!(host.call_contract(
                        ctx,
                        NestedCall {
                            kind,
                            target,
                            value,
                            input: Bytes::from(c.input),
                            gas: offered,
                        }
                    ));
                    let used = r.gas_used.min(offered);
                    stats.nested_gas += used;
                    charge!(used, "nested call");
                    if r.output.len() + 9 > limits.frame_bytes as usize {
                        let m = format!(
                            "nested call output of {} bytes exceeds the frame limit",
                            r.output.len()
                        );
                        return abort(FailureKind::OutputLimit, m, stats);
                    }
                    send(node_to_host::Msg::CallResult(pb::CallResult {
                        success: r.success,
                        output: r.output.to_vec(),
                        gas_used: used,
                    }));
                }
                m @ (host_to_node::Msg::Ret(_)
                | host_to_node::Msg::Revert(_)
                | host_to_node::Msg::Error(_)) => break m,
                host_to_node::Msg::ProcessStatus(p) => {
                    // Waiting for a contract process to start is not execution.
                    match (p.ready, waiting_since.take()) {
                        (false, _) => {
                            waiting_since = Some(Instant::now());
                            deadline.us.store(hard_us, Ordering::Relaxed);
                            continue;
                        }
                        (true, Some(since)) => host_time += since.elapsed(),
                        (true, None) => protocol!("a process status out of order"),
                    }
                }
                host_to_node::Msg::Pong(_) => protocol!("an unexpected pong"),
            }
            // Host time moves the gas-bound deadline; the hard one stays.
            let next = gas_bound_us(host_time.as_micros() as u64, meter).min(hard_us);
            if next < deadline.us.swap(next, Ordering::Relaxed) {
                // Earlier than what the pump sleeps towards: wake it.
                deadline.moved.notify_one();
            }
        };

        let total = t0.elapsed();
        stats.host_time_us = host_time.as_micros() as u64;
        stats.exec_time_us = total.saturating_sub(host_time).as_micros() as u64;
        stats.exec_gas = gas.exec(stats.exec_time_us);
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
                return Attempt::Done {
                    outcome: failed(kind, e.message, gas_limit, stats),
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
            return Attempt::Done {
                outcome: failed(FailureKind::OutputLimit, m, gas_limit, stats),
                healthy: true,
            };
        }
        if !meter.charge(stats.exec_gas) {
            let m = format!(
                "out of gas: {} µs of execution cost {} gas, {} left",
                stats.exec_time_us,
                stats.exec_gas,
                meter.left()
            );
            return Attempt::Done {
                outcome: failed(FailureKind::OutOfGas, m, gas_limit, stats),
                healthy: true,
            };
        }
        debug_assert!(meter.charged() <= meter.limit());
        Attempt::Done {
            outcome: CallOutcome {
                status,
                output: output.into(),
                gas_used: meter.charged(),
                stats,
            },
            healthy: true,
        }
    }

    /// Stops every sandbox and removes this instance's leftovers. Calls that are running finish
    /// first, and their sandboxes are stopped when they come back. Idempotent.
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
    }
}

impl Drop for NativeRuntime {
    fn drop(&mut self) {
        self.shutdown();
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

/// A call's deadline in µs after its start, moved by the caller's thread as gas is spent.
struct Deadline {
    us: AtomicU64,
    /// Notified when the deadline moves earlier than before.
    moved: tokio::sync::Notify,
}

/// Moves the host's messages to the caller's thread and enforces the deadline.
async fn pump(
    mut client: HostClient,
    requests: mpsc::UnboundedReceiver<pb::NodeToHost>,
    events: mpsc::Sender<Event>,
    t0: tokio::time::Instant,
    shared: Arc<Deadline>,
) {
    let deadline = || t0 + Duration::from_micros(shared.us.load(Ordering::Relaxed));
    let mut inbound = match client.call(UnboundedReceiverStream::new(requests)).await {
        Ok(r) => r.into_inner(),
        Err(s) => {
            let _ = events.send(Event::Transport(s.message().to_owned())).await;
            return;
        }
    };
    loop {
        let ev = tokio::select! {
            m = inbound.message() => match m {
                Ok(Some(pb::HostToNode { msg: Some(m) })) => Event::Msg(m),
                Ok(Some(_)) => continue,
                Ok(None) => Event::Closed,
                Err(s) => Event::Transport(s.message().to_owned()),
            },
            () = shared.moved.notified() => continue,
            () = tokio::time::sleep_until(deadline()) => {
                if tokio::time::Instant::now() < deadline() {
                    continue;
                }
                Event::Deadline
            }
        };
        let last = !matches!(ev, Event::Msg(_));
        if events.send(ev).await.is_err() || last {
            return;
        }
    }
}
