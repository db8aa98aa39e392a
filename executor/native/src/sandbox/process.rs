//! The `process` backend: the contract host runs as a plain child process of the node.
//!
//! **No isolation.** A contract process can read what the node's user can read, open network
//! connections and see the host's processes; only rlimits and (when the node runs as root) a
//! separate uid apply. For development and tests only, and only when configured by name: the
//! runtime logs a warning when it starts with this backend.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::process::{Child, Command};

use super::{
    HostSocket, SandboxBackend, StartedSandbox, forward_output, host_args, make_dir, remove_dir,
};
use crate::{Limits, NativeConfig, NativeError};

/// How long a stopped host may take to kill its contract processes and exit.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// Sends `sig` to a host process that has not been reaped yet.
fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
    }
}

#[derive(Debug)]
pub struct ProcessBackend {
    host_binary: PathBuf,
    /// `work_dir/<instance>/process`: one directory per sandbox (socket + binary cache).
    dir: PathBuf,
    limits: Limits,
    start_timeout: Duration,
    /// Run contracts as `limits.contract_uid` (possible only when the node is root).
    drop_uid: bool,
}

struct ProcessResources {
    child: Child,
    dir: PathBuf,
}

impl Drop for ProcessResources {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        remove_dir(&self.dir);
    }
}

impl ProcessBackend {
    pub fn new(config: &NativeConfig) -> Result<Self, NativeError> {
        if !config.host_binary.is_file() {
            return Err(NativeError::Config(format!(
                "contract host binary {} not found",
                config.host_binary.display()
            )));
        }
        let drop_uid = nix::unistd::geteuid().is_root();
        if !drop_uid {
            tracing::warn!(target: "native::sandbox",
                "process backend without root: contracts run as the node's own user");
        }
        Ok(Self {
            host_binary: config.host_binary.clone(),
            dir: config.instance_dir().join("process"),
            limits: config.limits.clone(),
            start_timeout: Duration::from_millis(config.pool.start_timeout_ms),
            drop_uid,
        })
    }

    async fn start_inner(&self, id: &str) -> Result<StartedSandbox, NativeError> {
        let dir = self.dir.join(id);
        remove_dir(&dir);
        make_dir(&dir, 0o755)?;
        let socket = HostSocket::bind(dir.join("sock"))?;
        let cache = dir.join("cache");
        let mut child = Command::new(&self.host_binary)
            .args(host_args(
                &self.limits,
                &socket.path,
                &cache,
                self.drop_uid,
                false,
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| NativeError::io(format!("spawn {}", self.host_binary.display()), e))?;
        if let Some(out) = child.stdout.take() {
            forward_output(id.to_owned(), "stdout", out);
        }
        if let Some(err) = child.stderr.take() {
            forward_output(id.to_owned(), "stderr", err);
        }
        let exited = async {
            match child.wait().await {
                Ok(s) => s.to_string(),
                Err(e) => e.to_string(),
            }
        };
        let client = socket.accept(id, self.start_timeout, exited).await;
        let resources = ProcessResources { child, dir };
        Ok(StartedSandbox {
            id: id.to_owned(),
            client: client?,
            resources: Box::new(resources),
        })
    }
}

impl SandboxBackend for ProcessBackend {
    fn name(&self) -> &'static str {
        "process"
    }

    fn start<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<StartedSandbox, NativeError>> {
        self.start_inner(id).boxed()
    }

    fn stop(&self, sandbox: StartedSandbox) -> BoxFuture<'_, ()> {
        async move {
            if let Ok(mut r) = sandbox.resources.downcast::<ProcessResources>() {
                // SIGTERM first: the host kills its contract processes (they live in their own
                // process groups) and exits; SIGKILL would orphan them until they read the end
                // of their stdin, and for that moment they count against the contract uid's
                // process limit.
                signal(&r.child, nix::sys::signal::Signal::SIGTERM);
                if tokio::time::timeout(STOP_GRACE, r.child.wait())
                    .await
                    .is_err()
                {
                    let _ = r.child.start_kill();
                    let _ = r.child.wait().await;
                }
            }
        }
        .boxed()
    }

    fn clean_up(&self) -> BoxFuture<'_, Result<usize, NativeError>> {
        async move {
            // Hosts of a killed node exit by themselves: their connection to it is closed.
            let mut removed = 0;
            if let Ok(entries) = std::fs::read_dir(&self.dir) {
                removed = entries.count();
            }
            remove_dir(&self.dir);
            make_dir(&self.dir, 0o755)?;
            Ok(removed)
        }
        .boxed()
    }

    fn kill_host<'a>(&'a self, sandbox: &'a StartedSandbox) -> BoxFuture<'a, ()> {
        async move {
            if let Some(r) = sandbox.resources.downcast_ref::<ProcessResources>() {
                signal(&r.child, nix::sys::signal::Signal::SIGKILL);
            }
        }
        .boxed()
    }
}
