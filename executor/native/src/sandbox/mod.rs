//! Sandbox backends: where contract hosts run.
//!
//! A backend starts a sandbox that runs `rampart-contract-host serve`, waits until the daemon has
//! connected back to the node, and hands over a gRPC client on that connection. It also stops
//! sandboxes and, at start and shutdown, removes every sandbox of this node instance, including
//! those a killed node left behind. The pool and the runtime above it do not know which backend
//! they use; a Kubernetes backend (pods with a RuntimeClass) fits behind the same trait.

mod gvisor;
mod process;

use std::any::Any;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::net::{UnixListener, UnixStream};
use tonic::transport::{Channel, Endpoint, Uri};

pub use gvisor::GvisorBackend;
pub use process::ProcessBackend;

use crate::NativeError;
use crate::pb::contract_host_client::ContractHostClient;

/// The gRPC client of one contract host.
pub type HostClient = ContractHostClient<Channel>;

/// Name of the node's socket inside a sandbox's socket directory.
pub const SOCKET_NAME: &str = "node.sock";

/// A started sandbox with a connected contract host.
pub struct StartedSandbox {
    /// `rampart-<instance>-<n>`: unique among this instance's sandboxes.
    pub id: String,
    pub client: HostClient,
    /// Backend-owned resources (child process, directories), released by `stop` or on drop.
    pub(crate) resources: Box<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for StartedSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartedSandbox")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Runs contract hosts in sandboxes of one kind.
pub trait SandboxBackend: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &'static str;

    /// Starts a sandbox named `id` and returns once its contract host has connected.
    fn start<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<StartedSandbox, NativeError>>;

    /// Stops a sandbox and removes its files. Never fails: what it cannot remove now,
    /// `clean_up` removes later.
    fn stop(&self, sandbox: StartedSandbox) -> BoxFuture<'_, ()>;

    /// Removes every sandbox whose id starts with this instance's prefix (running or left over
    /// from a killed node) and their files. Returns how many sandboxes it removed.
    fn clean_up(&self) -> BoxFuture<'_, Result<usize, NativeError>>;

    /// Kills a sandbox's contract host abruptly, as a crash would (tests, operators).
    fn kill_host<'a>(&'a self, sandbox: &'a StartedSandbox) -> BoxFuture<'a, ()>;
}

/// Creates `dir` (and parents) with `mode`.
pub(crate) fn make_dir(dir: &Path, mode: u32) -> Result<(), NativeError> {
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)))
        .map_err(|e| NativeError::io(format!("create {}", dir.display()), e))
}

/// Removes `dir` if it exists.
pub(crate) fn remove_dir(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(target: "native::sandbox", dir = %dir.display(), error = %e, "cannot remove")
        }
    }
}

/// A listening socket for one sandbox's host, in its own directory (mode 0700).
pub(crate) struct HostSocket {
    pub(crate) dir: PathBuf,
    pub(crate) path: PathBuf,
    listener: UnixListener,
}

impl HostSocket {
    pub(crate) fn bind(dir: PathBuf) -> Result<Self, NativeError> {
        remove_dir(&dir);
        make_dir(&dir, 0o700)?;
        let path = dir.join(SOCKET_NAME);
        let listener = UnixListener::bind(&path)
            .map_err(|e| NativeError::io(format!("bind {}", path.display()), e))?;
        Ok(Self {
            dir,
            path,
            listener,
        })
    }

    /// Waits for the host to connect (or `exited` to resolve first: the sandbox died), then
    /// unlinks the socket so nothing else in the sandbox can connect, and opens gRPC on the
    /// connection.
    pub(crate) async fn accept(
        self,
        id: &str,
        timeout: Duration,
        exited: impl Future<Output = String>,
    ) -> Result<HostClient, NativeError> {
        let fail = |message: String| NativeError::Sandbox {
            id: id.to_owned(),
            message,
        };
        let stream = tokio::select! {
            r = tokio::time::timeout(timeout, self.listener.accept()) => match r {
                Ok(Ok((s, _))) => s,
                Ok(Err(e)) => return Err(fail(format!("accept: {e}"))),
                Err(_) => return Err(fail(format!("contract host did not connect within {} ms", timeout.as_millis()))),
            },
            why = exited => return Err(fail(format!("sandbox exited before its host connected: {why}"))),
        };
        let _ = std::fs::remove_file(&self.path);
        drop(self.listener);
        client_over(stream)
            .await
            .map_err(|e| fail(format!("gRPC handshake: {e}")))
    }
}

/// A gRPC client over an already-connected stream (the host connected to us; we speak first).
async fn client_over(stream: UnixStream) -> Result<HostClient, tonic::transport::Error> {
    let slot = Arc::new(Mutex::new(Some(stream)));
    let channel = Endpoint::from_static("http://contract-host")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let stream = slot.lock().take();
            async move {
                stream
                    .map(TokioIo::new)
                    .ok_or_else(|| std::io::Error::other("the contract host connection is gone"))
            }
        }))
        .await?;
    Ok(ContractHostClient::new(channel)
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX))
}

/// The daemon's limit flags, from the node's limits.
pub(crate) fn host_args(
    limits: &crate::Limits,
    socket: &Path,
    cache_dir: &Path,
    drop_uid: bool,
    sweep: bool,
) -> Vec<String> {
    let mut args = vec![
        "serve".to_owned(),
        "--connect".to_owned(),
        socket.display().to_string(),
        "--cache-dir".to_owned(),
        cache_dir.display().to_string(),
        "--memory-bytes".to_owned(),
        limits.memory_bytes.to_string(),
        "--nproc".to_owned(),
        limits.processes.to_string(),
        "--cpu-seconds".to_owned(),
        limits.cpu_seconds.to_string(),
        "--max-frame-bytes".to_owned(),
        limits.frame_bytes.to_string(),
        "--max-output-bytes".to_owned(),
        limits.output_bytes_per_call.to_string(),
        "--max-binary-bytes".to_owned(),
        limits.binary_bytes.to_string(),
    ];
    if drop_uid {
        args.extend([
            "--uid".to_owned(),
            limits.contract_uid.to_string(),
            "--gid".to_owned(),
            limits.contract_gid.to_string(),
        ]);
    }
    if sweep {
        args.push("--sweep".to_owned());
    }
    args
}

/// Forwards a sandbox's stdout/stderr lines to tracing (bounded: lines are cut at 1 KiB).
pub(crate) fn forward_output<R>(id: String, stream: &'static str, r: R)
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    use tokio::io::AsyncBufReadExt;
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(r).split(b'\n');
        while let Ok(Some(line)) = lines.next_segment().await {
            let line = String::from_utf8_lossy(&line[..line.len().min(1024)]).into_owned();
            tracing::debug!(target: "native::sandbox", sandbox = %id, stream, "{line}");
        }
    });
}
