//! The `ContractHost` gRPC service and the daemon's main loop.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use sha3::{Digest, Keccak256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status, Streaming};

use crate::contract::{self, ContractProc};
use crate::frame::{self, FrameError};
use crate::options::ServeOptions;
use crate::pb::{
    self, ErrorKind, HostToNode, NodeToHost,
    contract_host_server::{ContractHost, ContractHostServer},
    host_to_node, node_to_host,
};

/// Messages queued towards the node on one call stream.
const OUT_QUEUE: usize = 64;
/// Spare contract processes kept started per host: two, so that a call finds one ready while
/// the spare used by the previous call is being replaced. A kept persistent process counts as
/// one of them.
const SPARES: usize = 2;
/// Delay before replacing a used spare while another is ready.
const REFILL_DELAY: Duration = Duration::from_millis(5);
/// How long a contract process may take to `exec`.
const SPAWN_TIMEOUT: Duration = Duration::from_secs(5);

pub fn serve_main(opts: ServeOptions) -> ExitCode {
    // One thread: a call is a chain of small hops (gRPC, pipes); keeping them on one thread
    // avoids cross-thread wake-ups, and a host serves one call at a time anyway.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rampart-contract-host: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(serve(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rampart-contract-host: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(opts: ServeOptions) -> Result<(), String> {
    std::fs::create_dir_all(&opts.cache_dir)
        .and_then(|()| {
            std::fs::set_permissions(&opts.cache_dir, std::fs::Permissions::from_mode(0o755))
        })
        .map_err(|e| format!("cache dir {}: {e}", opts.cache_dir.display()))?;
    let self_exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;

    // The node listens; we connect. Retry briefly in case we raced its bind.
    let mut attempt = 0;
    let stream = loop {
        match UnixStream::connect(&opts.connect).await {
            Ok(s) => break s,
            Err(e) if attempt < 50 => {
                attempt += 1;
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(format!("connect {}: {e}", opts.connect.display())),
        }
    };
    let (closed_tx, closed_rx) = oneshot::channel();
    let io = NotifyOnDrop {
        inner: stream,
        closed: Some(closed_tx),
    };

    let host = Arc::new(Host {
        binaries: std::sync::Mutex::new(HashMap::new()),
        slot: Mutex::new(()),
        spares: Mutex::new(Vec::new()),
        warm: std::sync::Mutex::new(None),
        starting: std::sync::Mutex::new(Vec::new()),
        forking: Mutex::new(()),
        refilling: AtomicUsize::new(0),
        self_exe,
        opts,
    });
    let max_msg = usize::try_from(host.opts.max_binary_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1 << 20);
    let svc = ContractHostServer::new(Service { host: host.clone() })
        .max_decoding_message_size(max_msg)
        .max_encoding_message_size(max_msg);
    // One connection: serve_with_incoming returns once it is accepted and keeps serving it on a
    // spawned task; the connection's end drops `io`, which fires `closed`.
    tonic::transport::Server::builder()
        .serve_with_incoming(svc, tokio_stream::iter(vec![Ok::<_, std::io::Error>(io)]))
        .await
        .map_err(|e| format!("serve: {e}"))?;
    // The node is gone, or stops this host (SIGTERM: the process backend's stop): kill every
    // contract process and exit, so none outlives its host.
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = closed_rx => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = closed_rx.await;
        }
    }
    let spares: Vec<ContractProc> = host.spares.lock().await.drain(..).collect();
    for p in spares.into_iter().chain(host.take_warm_any()) {
        let _ = p.kill(false).await;
    }
    Ok(())
}

/// The connection to the node, telling the daemon when hyper drops it.
struct NotifyOnDrop {
    inner: UnixStream,
    closed: Option<oneshot::Sender<()>>,
}

impl Drop for NotifyOnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.closed.take() {
            let _ = tx.send(());
        }
    }
}

impl Connected for NotifyOnDrop {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for NotifyOnDrop {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for NotifyOnDrop {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

struct Host {
    opts: ServeOptions,
    self_exe: PathBuf,
    binaries: std::sync::Mutex<HashMap<[u8; 32], PathBuf>>,
    /// Held for the whole of a call, clean-up included: one call at a time per host.
    slot: Mutex<()>,
    /// Started contract processes waiting for a CALL frame. Held only to take or place one,
    /// never while a process starts: a call must never wait for a refill.
    spares: Mutex<Vec<ContractProc>>,
    /// The process kept from the last call of a contract deployed with persistent processes
    /// (`StartCall.reuse_calls > 0`), waiting for its next CALL frame. Only such calls take it.
    warm: std::sync::Mutex<Option<ContractProc>>,
    /// Pids of contract processes started but not yet placed among the spares (or handed to a
    /// call): the after-call sweep must not take them for strays.
    starting: std::sync::Mutex<Vec<i32>>,
    /// Held from the fork of a contract process until its pid is in `starting`, and by the
    /// sweep's scan: the scan never meets a contract process that is in neither list.
    forking: Mutex<()>,
    /// Spares being started by `refill`.
    refilling: AtomicUsize,
}

impl Host {
    fn binary(&self, code_hash: &[u8; 32]) -> Option<PathBuf> {
        self.binaries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(code_hash)
            .cloned()
    }

    /// A live spare for `code_hash` if one is ready right now.
    fn ready_spare(&self, code_hash: [u8; 32]) -> Option<ContractProc> {
        let mut spares = self.spares.try_lock().ok()?;
        while let Some(mut p) = spares.pop() {
            if p.code_hash == code_hash && p.is_alive() {
                return Some(p);
            }
        }
        None
    }

    fn holds_warm(&self, code_hash: [u8; 32]) -> bool {
        self.warm
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|p| p.code_hash == code_hash)
    }

    fn take_warm_any(&self) -> Option<ContractProc> {
        self.warm.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The kept process for a persistent call of `code_hash`, if it can serve one more call
    /// (`reuse_calls` bounds the calls per process). One that cannot is killed.
    async fn take_warm(&self, code_hash: [u8; 32], reuse_calls: u32) -> Option<ContractProc> {
        let mut p = self.take_warm_any()?;
        // No system call here if the process stayed quiet: its /proc stat, exit status and pipe
        // were looked at when it was kept, off the call's path. Since then, output or death
        // (its stdout closes) shows in the pipe's readiness; a death the runtime has not seen yet
        // fails the call's first write, and `run_call` runs the call again in a fresh process.
        if p.code_hash == code_hash && p.calls_served < reuse_calls && p.frames.is_quiet() {
            return Some(p);
        }
        let _ = p.kill(false).await;
        None
    }

    /// After a persistent call that returned or reverted: keeps `p` for the next one unless it
    /// has served its calls, died, wrote past its answer, or used half its CPU-time limit
    /// (`RLIMIT_CPU` counts over the process's life: a call must not inherit a nearly spent one).
    async fn keep_warm(&self, mut p: ContractProc, reuse_calls: u32) {
        p.calls_served += 1;
        let cpu_ok = p
            .cpu_seconds_used()
            .is_some_and(|c| c * 2.0 < self.opts.limits.cpu_seconds as f64);
        if p.calls_served < reuse_calls && cpu_ok && p.is_alive() && p.is_silent() {
            let replaced = self
                .warm
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .replace(p);
            if let Some(old) = replaced {
                let _ = old.kill(false).await;
            }
        } else {
            let _ = p.kill(false).await;
        }
    }

    fn set_starting(&self, pid: i32, starting: bool) {
        let mut s = self.starting.lock().unwrap_or_else(|p| p.into_inner());
        if starting {
            s.push(pid);
        } else {
            s.retain(|&p| p != pid);
        }
    }

    /// A started process for `code_hash`: a live spare, else a fresh one.
    async fn take_process(&self, code_hash: [u8; 32]) -> Result<ContractProc, pb::Error> {
        {
            let mut spares = self.spares.lock().await;
            while let Some(mut p) = spares.pop() {
                if p.code_hash == code_hash && p.is_alive() {
                    return Ok(p);
                }
            }
        }
        let path = self.binary(&code_hash).ok_or_else(|| pb::Error {
            kind: ErrorKind::BinaryMissing as i32,
            message: format!("no binary {} on this host", contract::hex32(&code_hash)),
        })?;
        let p = self.spawn(&path, code_hash).await.map_err(|e| pb::Error {
            kind: ErrorKind::SpawnFailed as i32,
            message: format!("cannot start the contract process: {e}"),
        })?;
        // The call's own now; it is killed before the call's clean-up sweeps.
        self.set_starting(p.pid, false);
        Ok(p)
    }

    /// Starts a contract process and waits until it runs the contract's code. Its pid stays in
    /// `starting` until the caller places the process.
    async fn spawn(
        &self,
        path: &std::path::Path,
        code_hash: [u8; 32],
    ) -> std::io::Result<ContractProc> {
        // fork + exec blocks for a while (long under gVisor): keep it off the thread that
        // relays calls, or it would hold up the answer of the call that just ended.
        let (exe, path, limits) = (
            self.self_exe.clone(),
            path.to_owned(),
            self.opts.limits.clone(),
        );
        let max_frame = self.opts.max_frame_bytes;
        let mut p = {
            let _forking = self.forking.lock().await;
            let p = tokio::task::spawn_blocking(move || {
                ContractProc::spawn(&exe, &path, code_hash, &limits, max_frame)
            })
            .await
            .map_err(std::io::Error::other)??;
            self.set_starting(p.pid, true);
            p
        };
        if let Err(e) = p.wait_ready(SPAWN_TIMEOUT).await {
            // Dropped (killed on drop); a survivor would be a stray for the next sweep.
            self.set_starting(p.pid, false);
            return Err(e);
        }
        Ok(p)
    }

    /// Tops the spares up to `target` (at most `SPARES`) for `code_hash`. The spares lock is not
    /// held while a process starts, so a call meanwhile takes a spare that is ready instead of
    /// waiting.
    async fn refill(&self, code_hash: [u8; 32], target: usize) {
        let Some(path) = self.binary(&code_hash) else {
            return;
        };
        loop {
            {
                let mut spares = self.spares.lock().await;
                spares.retain_mut(|p| p.code_hash == code_hash && p.is_alive());
                // A kept persistent process counts as one: its contract's next call needs no
                // spare, and the processes of the contract uid stay as few as in per-call mode.
                let kept = usize::from(self.holds_warm(code_hash));
                if spares.len() + kept + self.refilling.load(Ordering::SeqCst) >= target {
                    return;
                }
                self.refilling.fetch_add(1, Ordering::SeqCst);
            }
            let started = self.spawn(&path, code_hash).await;
            let mut spares = self.spares.lock().await;
            self.refilling.fetch_sub(1, Ordering::SeqCst);
            match started {
                Ok(p) => {
                    let pid = p.pid;
                    spares.push(p);
                    self.set_starting(pid, false);
                }
                Err(e) => {
                    eprintln!("rampart-contract-host: cannot start a spare: {e}");
                    return;
                }
            }
        }
    }

    /// After a call: reap orphans and, if any process of the contract uid survived the process
    /// group kill (it left the group, or forked faster than the kill), sweep them all.
    async fn clean_up_after_call(&self) {
        let in_own_pid_namespace = std::process::id() == 1;
        if in_own_pid_namespace {
            contract::reap_orphans();
        }
        let (Some(uid), true) = (self.opts.limits.uid, self.opts.limits.sweep) else {
            return;
        };
        // Not while a process is being forked (its pid is not known yet); spares and started
        // processes are kept.
        let _forking = self.forking.lock().await;
        let spares = self.spares.lock().await;
        let mut keep: Vec<i32> = spares.iter().map(|p| p.pid).collect();
        if let Some(p) = self.warm.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            keep.push(p.pid);
        }
        keep.extend(
            self.starting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter(),
        );
        let strays = contract::processes_of_uid(uid, &keep);
        if !strays.is_empty() {
            let names: Vec<String> = strays
                .iter()
                .map(|p| {
                    let stat =
                        std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                    stat.split_whitespace()
                        .take(3)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            eprintln!(
                "rampart-contract-host: sweeping stray contract processes {names:?} (spares {keep:?})"
            );
            contract::sweep(&self.self_exe, &self.opts.limits).await;
        }
    }
}

struct Service {
    host: Arc<Host>,
}

type OutTx = mpsc::Sender<Result<HostToNode, Status>>;

fn host_msg(m: host_to_node::Msg) -> Result<HostToNode, Status> {
    Ok(HostToNode { msg: Some(m) })
}

fn error(kind: ErrorKind, message: impl Into<String>) -> pb::Error {
    pb::Error {
        kind: kind as i32,
        message: message.into(),
    }
}

fn hash32(b: &[u8]) -> Result<[u8; 32], Status> {
    b.try_into()
        .map_err(|_| Status::invalid_argument("code hash must be 32 bytes"))
}

#[tonic::async_trait]
impl ContractHost for Service {
    type CallStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<HostToNode, Status>> + Send + 'static>>;

    async fn call(
        &self,
        request: Request<Streaming<NodeToHost>>,
    ) -> Result<Response<Self::CallStream>, Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(OUT_QUEUE);
        let host = self.host.clone();
        tokio::spawn(async move {
            match inbound.message().await {
                Ok(Some(NodeToHost {
                    msg: Some(node_to_host::Msg::Ping(p)),
                })) => {
                    let _ = tx
                        .send(host_msg(host_to_node::Msg::Pong(pb::Pong {
                            nonce: p.nonce,
                        })))
                        .await;
                    while let Ok(Some(NodeToHost {
                        msg: Some(node_to_host::Msg::Ping(p)),
                    })) = inbound.message().await
                    {
                        let pong = host_msg(host_to_node::Msg::Pong(pb::Pong { nonce: p.nonce }));
                        if tx.send(pong).await.is_err() {
                            break;
                        }
                    }
                }
                Ok(Some(NodeToHost {
                    msg: Some(node_to_host::Msg::Start(start)),
                })) => run_call(host, start, inbound, tx).await,
                Ok(_) => {
                    let e = error(
                        ErrorKind::BadRequest,
                        "a call stream must begin with start or ping",
                    );
                    let _ = tx.send(host_msg(host_to_node::Msg::Error(e))).await;
                }
                Err(_) => {}
            }
        });
        // The response's headers go out when this returns: only with the first message, so that
        // both reach the node in one write and wake it once (a call's first message comes when
        // the contract has something to say, often its answer).
        let mut rx = ReceiverStream::new(rx);
        let first = tokio_stream::StreamExt::next(&mut rx).await;
        let stream = tokio_stream::StreamExt::chain(tokio_stream::iter(first), rx);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn put_binary(
        &self,
        request: Request<pb::PutBinaryRequest>,
    ) -> Result<Response<pb::PutBinaryResponse>, Status> {
        let req = request.into_inner();
        let code_hash = hash32(&req.code_hash)?;
        if req.binary.len() as u64 > self.host.opts.max_binary_bytes {
            return Err(Status::invalid_argument(format!(
                "binary of {} bytes exceeds the limit of {} bytes",
                req.binary.len(),
                self.host.opts.max_binary_bytes
            )));
        }
        let actual: [u8; 32] = Keccak256::digest(&req.binary).into();
        if actual != code_hash {
            return Err(Status::invalid_argument(format!(
                "binary hash mismatch: announced {}, keccak256 of the bytes is {}",
                contract::hex32(&code_hash),
                contract::hex32(&actual)
            )));
        }
        if self.host.binary(&code_hash).is_none() {
            let path = contract::binary_path(&self.host.opts.cache_dir, &code_hash);
            let tmp = path.with_extension("part");
            tokio::fs::write(&tmp, &req.binary)
                .await
                .and_then(|()| {
                    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o555))
                })
                .and_then(|()| std::fs::rename(&tmp, &path))
                .map_err(|e| Status::internal(format!("store binary: {e}")))?;
            self.host
                .binaries
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(code_hash, path);
        }
        // Start a spare now, and answer once it is started, so the first call does not wait; the
        // second starts after the answer (a cold start waits for one process start, not two).
        self.host.refill(code_hash, 1).await;
        let host = self.host.clone();
        tokio::spawn(async move { host.refill(code_hash, SPARES).await });
        Ok(Response::new(pb::PutBinaryResponse {}))
    }

    async fn check_binary(
        &self,
        request: Request<pb::CheckBinaryRequest>,
    ) -> Result<Response<pb::CheckBinaryResponse>, Status> {
        let code_hash = hash32(&request.into_inner().code_hash)?;
        Ok(Response::new(pb::CheckBinaryResponse {
            present: self.host.binary(&code_hash).is_some(),
        }))
    }

    async fn health(
        &self,
        _request: Request<pb::HealthRequest>,
    ) -> Result<Response<pb::HealthResponse>, Status> {
        let binaries = self
            .host
            .binaries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len();
        Ok(Response::new(pb::HealthResponse {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            binaries: u32::try_from(binaries).unwrap_or(u32::MAX),
            busy: self.host.slot.try_lock().is_err(),
        }))
    }
}

/// How a call ended, as seen by the host.
enum End {
    /// Send this final message to the node.
    Reply(host_to_node::Msg),
    /// The node aborted or went away: say nothing more.
    Silent,
}

async fn run_call(
    host: Arc<Host>,
    start: pb::StartCall,
    mut inbound: Streaming<NodeToHost>,
    tx: OutTx,
) {
    // The slow path (the previous call is still being cleaned up, or no spare is ready) is
    // announced to the node, which does not charge gas for the wait.
    let status = |ready| {
        host_msg(host_to_node::Msg::ProcessStatus(pb::ProcessStatus {
            ready,
        }))
    };
    let mut waiting = false;
    let _slot = match host.slot.try_lock() {
        Ok(g) => g,
        Err(_) => {
            waiting = true;
            let _ = tx.send(status(false)).await;
            host.slot.lock().await
        }
    };
    let code_hash = match hash32(&start.code_hash) {
        Ok(h) => h,
        Err(e) => {
            let _ = tx
                .send(host_msg(host_to_node::Msg::Error(error(
                    ErrorKind::BadRequest,
                    e.message(),
                ))))
                .await;
            return;
        }
    };
    let (call_frame, preload) =
        match encode_call_frame(&start).and_then(|f| Ok((f, preloaded(&start)?))) {
            Ok(v) => v,
            Err(e) => {
                let _ = tx.send(host_msg(host_to_node::Msg::Error(e))).await;
                return;
            }
        };
    let reuse = start.reuse_calls;
    // Also after waiting for the slot: the kept process is ready whenever it is alive.
    let warm = if reuse > 0 {
        host.take_warm(code_hash, reuse).await
    } else {
        None
    };
    let reused = warm.is_some();
    let spare = match warm {
        Some(p) => Some(p),
        None if waiting => None,
        None => host.ready_spare(code_hash),
    };
    let mut proc = match spare {
        Some(p) => p,
        None => {
            if !waiting {
                waiting = true;
                let _ = tx.send(status(false)).await;
            }
            match host.take_process(code_hash).await {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(host_msg(host_to_node::Msg::Error(e))).await;
                    return;
                }
            }
        }
    };
    if waiting {
        let _ = tx.send(status(true)).await;
    }
    let limit_ms = start.time_limit_ms.max(1);
    let deadline = Instant::now() + Duration::from_millis(limit_ms);
    let mut may_retry = reused;
    let end = loop {
        let end = drive(
            &host,
            &mut proc,
            &call_frame,
            &start.preload,
            preload.clone(),
            &mut inbound,
            &tx,
            deadline,
            limit_ms,
        )
        .await;
        if !(may_retry && matches!(end, Drive::Exited { relayed: false })) {
            break end;
        }
        // The kept process ended before it said anything (its SDK exits after one call, or it
        // died while idle). Nothing reached the node: run the call once more, in a fresh process.
        may_retry = false;
        let _ = proc.kill(true).await;
        let _ = tx.send(status(false)).await;
        proc = match host.take_process(code_hash).await {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(host_msg(host_to_node::Msg::Error(e))).await;
                return;
            }
        };
        let _ = tx.send(status(true)).await;
    };
    match end {
        Drive::Done(end) => {
            let answered = matches!(
                end,
                End::Reply(host_to_node::Msg::Ret(_) | host_to_node::Msg::Revert(_))
            );
            // Answer first (the contract has nothing left to talk to), then kill it: reaping
            // waits for SIGCHLD, which is not worth a round trip's latency. The send only queues
            // the answer; yielding lets the connection's task (same thread) write it out before
            // the bookkeeping below runs.
            if let End::Reply(m) = end {
                let _ = tx.send(host_msg(m)).await;
                tokio::task::yield_now().await;
            }
            if answered && reuse > 0 {
                host.keep_warm(proc, reuse).await;
            } else {
                let _ = proc.kill(false).await;
            }
        }
        Drive::Exited { .. } => {
            let (status, stderr) = proc.kill(true).await;
            let e = exit_error(status, &stderr, &host.opts);
            let _ = tx.send(host_msg(host_to_node::Msg::Error(e))).await;
        }
    }
    drop(tx);
    host.clean_up_after_call().await;
    let h = host.clone();
    tokio::spawn(async move {
        // Starting a process costs CPU the node needs right now to take the answer in: while a
        // spare is still ready, let the answer go first.
        if !h.spares.lock().await.is_empty() {
            tokio::time::sleep(REFILL_DELAY).await;
        }
        h.refill(code_hash, SPARES).await
    });
}

enum Drive {
    Done(End),
    /// The contract's stdout ended without RETURN/REVERT: look at its exit status. `relayed`:
    /// something of the call reached the node before.
    Exited {
        relayed: bool,
    },
}

/// Slot values the host knows during a call: the start's preload, then the values the node
/// answered and the contract's writes.
type Known = HashMap<[u8; 32], [u8; 32]>;

/// Slots a call may know at most (preloaded, answered and written ones); past it, writes to
/// other slots are only relayed and reads of them go to the node.
const MAX_KNOWN_SLOTS: usize = 4_096;

/// Preloaded slots one start may carry (the protocol's bound, `StartCall.preload`; the node's
/// `MAX_PRELOAD_SLOTS`).
const MAX_PRELOAD_SLOTS: usize = 1_024;

/// The start's preloaded slots, checked.
fn preloaded(start: &pb::StartCall) -> Result<Known, pb::Error> {
    if start.preload.len() > MAX_PRELOAD_SLOTS {
        return Err(error(
            ErrorKind::BadRequest,
            format!("more than {MAX_PRELOAD_SLOTS} preloaded slots"),
        ));
    }
    start
        .preload
        .iter()
        .map(|e| {
            match (
                <[u8; 32]>::try_from(&e.key[..]),
                <[u8; 32]>::try_from(&e.value[..]),
            ) {
                (Ok(k), Ok(v)) => Ok((k, v)),
                _ => Err(error(
                    ErrorKind::BadRequest,
                    "a preloaded slot must be 32 + 32 bytes",
                )),
            }
        })
        .collect()
}

/// Runs one call on `proc`: writes the call frame (after a PRELOAD frame, to a contract whose
/// HELLO asked for one), then relays the contract's frames to the node and the node's answers
/// back. A read of a slot in `known` is answered at once and relayed with its value (the node
/// accounts for it and checks the value), as is a read the contract answered itself
/// (STORAGE_SEEN); answers and writes update `known`; a nested call clears it, as the callee may
/// change the storage.
#[allow(clippy::too_many_arguments)]
async fn drive(
    host: &Host,
    proc: &mut ContractProc,
    call_frame: &[u8],
    preload: &[pb::StorageEntry],
    mut known: Known,
    inbound: &mut Streaming<NodeToHost>,
    tx: &OutTx,
    deadline: Instant,
    limit_ms: u64,
) -> Drive {
    let timeout = || {
        Drive::Done(End::Reply(host_to_node::Msg::Error(error(
            ErrorKind::Timeout,
            format!("wall-clock limit of {limit_ms} ms exceeded"),
        ))))
    };
    let mut relayed = false;
    // A contract that takes the preload (its HELLO said so) gets it just before the call, in the
    // same write, and answers reads of those slots without asking.
    let mut out = Vec::new();
    let preload_bytes = preload.len() * 64;
    if proc.features & frame::FEATURE_PRELOAD != 0
        && !preload.is_empty()
        && preload_bytes <= host.opts.max_frame_bytes as usize
    {
        let mut p = Vec::with_capacity(preload_bytes);
        for e in preload {
            p.extend_from_slice(&e.key);
            p.extend_from_slice(&e.value);
        }
        out = frame::encode(frame::TAG_PRELOAD, &p);
    }
    out.extend_from_slice(&frame::encode(frame::TAG_CALL, call_frame));
    match tokio::time::timeout_at(deadline, proc.send_bytes(&out)).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return Drive::Exited { relayed },
        Err(_) => return timeout(),
    }
    let max_output = host.opts.max_output_bytes;
    let mut output_bytes: u64 = 0;
    // The slot of the read the node is answering (the contract waits for it: one at a time).
    let mut asked: Option<[u8; 32]> = None;
    loop {
        tokio::select! {
            biased;
            f = proc.frames.next() => {
                let f = match f {
                    Ok(None) => return Drive::Exited { relayed },
                    Err(FrameError::TooLarge { len, max }) => {
                        return Drive::Done(End::Reply(host_to_node::Msg::Error(error(
                            ErrorKind::OutputLimit,
                            format!("frame of {len} bytes exceeds the limit of {max} bytes"),
                        ))));
                    }
                    Err(FrameError::Truncated) => {
                        return Drive::Done(End::Reply(host_to_node::Msg::Error(error(
                            ErrorKind::Protocol,
                            "the contract's output ended inside a frame",
                        ))));
                    }
                    Err(FrameError::Io(e)) => {
                        return Drive::Done(End::Reply(host_to_node::Msg::Error(error(
                            ErrorKind::Internal,
                            format!("reading the contract's output: {e}"),
                        ))));
                    }
                    Ok(Some(f)) => f,
                };
                output_bytes += (frame::HEADER_BYTES + f.payload.len()) as u64;
                if output_bytes > max_output {
                    return Drive::Done(End::Reply(host_to_node::Msg::Error(error(
                        ErrorKind::OutputLimit,
                        format!("the contract wrote more than {max_output} bytes in one call"),
                    ))));
                }
                if f.tag == frame::TAG_HELLO {
                    // Late (it was not there when the process became ready): from the next call.
                    match <[u8; 4]>::try_from(&f.payload[..]) {
                        Ok(b) => proc.features = u32::from_le_bytes(b),
                        Err(_) => return Drive::Done(End::Reply(host_to_node::Msg::Error(error(
                            ErrorKind::Protocol, "malformed frame: HELLO needs 4 bytes of feature bits")))),
                    }
                    continue;
                }
                match translate(f) {
                    Ok(m @ (host_to_node::Msg::Ret(_) | host_to_node::Msg::Revert(_))) => {
                        return Drive::Done(End::Reply(m));
                    }
                    // A read the contract asks (not one it answered itself, STORAGE_SEEN: those carry
                    // their value) of a slot the host knows.
                    Ok(host_to_node::Msg::StorageRead(r)) if r.value.is_empty() && r.key.len() == 32 && known.contains_key(&r.key[..]) => {
                        let value = known[&r.key[..]];
                        relayed = true;
                        let m = host_to_node::Msg::StorageRead(pb::StorageRead { key: r.key, value: value.to_vec() });
                        if tx.send(host_msg(m)).await.is_err() {
                            return Drive::Done(End::Silent);
                        }
                        match tokio::time::timeout_at(deadline, proc.send(frame::TAG_STORAGE_VALUE, &value)).await {
                            Ok(Ok(())) => {}
                            Ok(Err(_)) => return Drive::Exited { relayed },
                            Err(_) => return timeout(),
                        }
                    }
                    Ok(m) => {
                        match &m {
                            host_to_node::Msg::StorageRead(r) if r.value.is_empty() => {
                                asked = <[u8; 32]>::try_from(&r.key[..]).ok();
                            }
                            host_to_node::Msg::StorageWrite(w) => {
                                if let (Ok(k), Ok(v)) = (<[u8; 32]>::try_from(&w.key[..]), <[u8; 32]>::try_from(&w.value[..]))
                                    && (known.len() < MAX_KNOWN_SLOTS || known.contains_key(&k))
                                {
                                    known.insert(k, v);
                                }
                            }
                            host_to_node::Msg::CallContract(_) => known.clear(),
                            _ => {}
                        }
                        relayed = true;
                        if tx.send(host_msg(m)).await.is_err() {
                            return Drive::Done(End::Silent);
                        }
                    }
                    Err(e) => return Drive::Done(End::Reply(host_to_node::Msg::Error(e))),
                }
            }
            m = inbound.message() => {
                let reply = match m {
                    Ok(Some(NodeToHost { msg: Some(node_to_host::Msg::StorageValue(v)) })) => {
                        let Ok(value) = <[u8; 32]>::try_from(&v.value[..]) else {
                            return Drive::Done(End::Reply(host_to_node::Msg::Error(error(
                                ErrorKind::BadRequest, "storage value must be 32 bytes"))));
                        };
                        // Known from now on: a second read of the slot is answered here.
                        if let Some(k) = asked.take()
                            && (known.len() < MAX_KNOWN_SLOTS || known.contains_key(&k))
                        {
                            known.insert(k, value);
                        }
                        (frame::TAG_STORAGE_VALUE, v.value)
                    }
                    Ok(Some(NodeToHost { msg: Some(node_to_host::Msg::CallResult(r)) })) => {
                        let mut p = Vec::with_capacity(9 + r.output.len());
                        p.push(u8::from(r.success));
                        p.extend_from_slice(&r.gas_used.to_le_bytes());
                        p.extend_from_slice(&r.output);
                        if p.len() > host.opts.max_frame_bytes as usize {
                            return Drive::Done(End::Reply(host_to_node::Msg::Error(error(
                                ErrorKind::OutputLimit, "call result larger than a frame"))));
                        }
                        (frame::TAG_CALL_RESULT, p)
                    }
                    Ok(Some(NodeToHost { msg: Some(node_to_host::Msg::Abort(_)) })) | Ok(None) | Err(_) => {
                        return Drive::Done(End::Silent);
                    }
                    Ok(Some(_)) => {
                        return Drive::Done(End::Reply(host_to_node::Msg::Error(error(
                            ErrorKind::BadRequest, "unexpected message during a call"))));
                    }
                };
                match tokio::time::timeout_at(deadline, proc.send(reply.0, &reply.1)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Drive::Exited { relayed },
                    Err(_) => return timeout(),
                }
            }
            () = tokio::time::sleep_until(deadline) => return timeout(),
        }
    }
}

fn exit_error(
    status: Option<std::process::ExitStatus>,
    stderr: &str,
    opts: &ServeOptions,
) -> pb::Error {
    use std::os::unix::process::ExitStatusExt;
    let how = match status {
        Some(s) if s.signal().is_some() => {
            format!("was killed by signal {}", s.signal().unwrap_or(0))
        }
        Some(s) => format!("exited with status {}", s.code().unwrap_or(-1)),
        None => "ended".to_owned(),
    };
    let lower = stderr.to_ascii_lowercase();
    let (kind, what) = if lower.contains("memory allocation") || lower.contains("out of memory") {
        (
            ErrorKind::MemoryLimit,
            format!(
                "memory limit of {} MiB reached: ",
                opts.limits.memory_bytes >> 20
            ),
        )
    } else {
        (ErrorKind::Crashed, String::new())
    };
    let stderr = if stderr.is_empty() {
        String::new()
    } else {
        format!("; stderr: {stderr}")
    };
    error(
        kind,
        format!("{what}contract process {how} without returning{stderr}"),
    )
}

/// The CALL frame payload (NATIVE_ABI.md).
fn encode_call_frame(start: &pb::StartCall) -> Result<Vec<u8>, pb::Error> {
    let c = start
        .context
        .as_ref()
        .ok_or_else(|| error(ErrorKind::BadRequest, "start without context"))?;
    let fixed = |b: &[u8], n: usize, what: &str| {
        if b.len() == n {
            Ok(())
        } else {
            Err(error(
                ErrorKind::BadRequest,
                format!("{what} must be {n} bytes"),
            ))
        }
    };
    fixed(&c.caller, 20, "caller")?;
    fixed(&c.address, 20, "address")?;
    fixed(&c.code_address, 20, "code_address")?;
    fixed(&c.origin, 20, "origin")?;
    fixed(&c.value, 32, "value")?;
    let mut p = Vec::with_capacity(145 + c.calldata.len());
    p.extend_from_slice(&c.caller);
    p.extend_from_slice(&c.address);
    p.extend_from_slice(&c.code_address);
    p.extend_from_slice(&c.origin);
    p.extend_from_slice(&c.value);
    p.extend_from_slice(&c.gas_limit.to_le_bytes());
    p.extend_from_slice(&c.block_number.to_le_bytes());
    p.extend_from_slice(&c.block_timestamp.to_le_bytes());
    p.extend_from_slice(&c.chain_id.to_le_bytes());
    p.push(u8::from(c.is_static));
    p.extend_from_slice(&c.calldata);
    Ok(p)
}

/// A contract frame as a message for the node; a malformed frame is a protocol error.
fn translate(f: frame::Frame) -> Result<host_to_node::Msg, pb::Error> {
    let bad = |what: &str| error(ErrorKind::Protocol, format!("malformed frame: {what}"));
    let p = f.payload;
    Ok(match f.tag {
        frame::TAG_STORAGE_READ => {
            if p.len() != 32 {
                return Err(bad("STORAGE_READ needs a 32-byte key"));
            }
            host_to_node::Msg::StorageRead(pb::StorageRead {
                key: p,
                value: Vec::new(),
            })
        }
        frame::TAG_STORAGE_SEEN => {
            if p.len() != 64 {
                return Err(bad("STORAGE_SEEN needs a 32-byte key and a 32-byte value"));
            }
            // A read the contract answered itself (preloaded, written or read earlier in the
            // call): relayed like one the host answered, with the value, for the node to account
            // for and check.
            host_to_node::Msg::StorageRead(pb::StorageRead {
                key: p[..32].to_vec(),
                value: p[32..].to_vec(),
            })
        }
        frame::TAG_STORAGE_WRITE => {
            if p.len() != 64 {
                return Err(bad("STORAGE_WRITE needs a 32-byte key and a 32-byte value"));
            }
            host_to_node::Msg::StorageWrite(pb::StorageWrite {
                key: p[..32].to_vec(),
                value: p[32..].to_vec(),
            })
        }
        frame::TAG_LOG => {
            let n = *p.first().ok_or_else(|| bad("empty LOG"))? as usize;
            if n > 4 || p.len() < 1 + 32 * n {
                return Err(bad("LOG with more than 4 topics or truncated topics"));
            }
            host_to_node::Msg::EmitLog(pb::EmitLog {
                topics: p[1..1 + 32 * n].chunks(32).map(<[u8]>::to_vec).collect(),
                data: p[1 + 32 * n..].to_vec(),
            })
        }
        frame::TAG_CALL_CONTRACT => {
            if p.len() < 61 || p[0] > 2 {
                return Err(bad("CALL needs kind (0-2), target, value and gas"));
            }
            let gas = u64::from_le_bytes(p[53..61].try_into().map_err(|_| bad("gas"))?);
            host_to_node::Msg::CallContract(pb::CallContract {
                kind: i32::from(p[0]),
                target: p[1..21].to_vec(),
                value: p[21..53].to_vec(),
                gas,
                input: p[61..].to_vec(),
            })
        }
        frame::TAG_RETURN => host_to_node::Msg::Ret(pb::Return { data: p }),
        frame::TAG_REVERT => host_to_node::Msg::Revert(pb::Revert { data: p }),
        other => return Err(bad(&format!("unknown tag 0x{other:02x}"))),
    })
}
