//! The `gvisor` backend: each contract host runs in its own gVisor sandbox (`runsc`).
//!
//! Per sandbox: an OCI bundle (`config.json`, generated) over a shared read-only root file
//! system that holds only the static `rampart-contract-host`; `--network=none` (loopback only);
//! a per-sandbox directory containing only the node's Unix socket, bind-mounted at
//! `/run/rampart` and reached with `--host-uds=open`; a tmpfs `/tmp` (mode 0755, root-owned) for
//! the binary cache; the host daemon as root inside the sandbox with only CAP_SETUID, CAP_SETGID
//! and CAP_KILL and `noNewPrivileges`, contract processes as `nobody` with rlimits; cgroup memory
//! and pids limits on the whole sandbox.
//!
//! Sandbox ids are `rampart-<instance>-<n>`, state lives in a runsc `--root` of this instance, so
//! `clean_up` (at start and at shutdown) can list and delete every leftover of a killed node.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::process::{Child, Command};

use super::{
    HostSocket, SandboxBackend, StartedSandbox, forward_output, host_args, make_dir, remove_dir,
};
use crate::{Limits, NativeConfig, NativeError, RunscConfig};

/// Where the socket directory appears inside the sandbox.
const SOCKET_MOUNT: &str = "/run/rampart";
const HOST_IN_SANDBOX: &str = "/rampart-contract-host";
const CACHE_IN_SANDBOX: &str = "/tmp/cache";

#[derive(Debug)]
pub struct GvisorBackend {
    runsc: RunscConfig,
    prefix: String,
    state_dir: PathBuf,
    rootfs: PathBuf,
    bundles: PathBuf,
    sockets: PathBuf,
    limits: Limits,
    start_timeout: Duration,
}

struct GvisorResources {
    child: Child,
    bundle: PathBuf,
    sockets: PathBuf,
}

impl Drop for GvisorResources {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        remove_dir(&self.bundle);
        remove_dir(&self.sockets);
    }
}

fn backend_err(message: impl Into<String>) -> NativeError {
    NativeError::Backend {
        backend: "gvisor",
        message: message.into(),
    }
}

impl GvisorBackend {
    /// Checks `runsc` and the host binary (it must be static: it is the only file in the
    /// sandbox) and prepares the shared root file system.
    pub fn new(config: &NativeConfig) -> Result<Self, NativeError> {
        let version = std::process::Command::new(&config.runsc.runsc)
            .arg("--version")
            .output()
            .map_err(|e| {
                backend_err(format!(
                    "cannot run {} ({e}); install gVisor (Debian: apt-get install runsc) or \
                     choose the process backend explicitly for development",
                    config.runsc.runsc.display()
                ))
            })?;
        if !version.status.success() {
            return Err(backend_err(format!(
                "{} --version failed",
                config.runsc.runsc.display()
            )));
        }
        if !nix::unistd::geteuid().is_root() {
            return Err(backend_err(
                "runsc needs root here (rootless mode is not supported)",
            ));
        }
        let host = std::fs::read(&config.host_binary).map_err(|e| {
            NativeError::io(
                format!("read host binary {}", config.host_binary.display()),
                e,
            )
        })?;
        crate::validate_binary(&host, u64::MAX).map_err(|e| {
            backend_err(format!(
                "host binary {}: {e} (build it with RUSTFLAGS='-C target-feature=+crt-static' \
                 --target x86_64-unknown-linux-gnu)",
                config.host_binary.display()
            ))
        })?;
        let dir = config.instance_dir().join("gvisor");
        let rootfs = dir.join("rootfs");
        remove_dir(&rootfs);
        for d in ["proc", "dev", "sys", "tmp", "run/rampart"] {
            make_dir(&rootfs.join(d), 0o755)?;
        }
        let target = rootfs.join(HOST_IN_SANDBOX.trim_start_matches('/'));
        std::fs::write(&target, &host)
            .and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o555))
            })
            .map_err(|e| NativeError::io(format!("write {}", target.display()), e))?;
        make_dir(&rootfs, 0o555)?;
        let state_dir = dir.join("runsc");
        make_dir(&state_dir, 0o700)?;
        Ok(Self {
            runsc: config.runsc.clone(),
            prefix: config.sandbox_prefix(),
            state_dir,
            rootfs,
            bundles: dir.join("bundles"),
            sockets: dir.join("sockets"),
            limits: config.limits.clone(),
            start_timeout: Duration::from_millis(config.pool.start_timeout_ms),
        })
    }

    /// `runsc` with the global flags of this backend.
    fn runsc(&self) -> Command {
        let mut c = Command::new(&self.runsc.runsc);
        c.arg("--root").arg(&self.state_dir);
        if let Some(p) = &self.runsc.platform {
            c.arg(format!("--platform={p}"));
        }
        c.arg("--network=none").arg("--host-uds=open");
        if !self.runsc.cgroups {
            c.arg("--ignore-cgroups");
        }
        c.stdin(Stdio::null()).kill_on_drop(true);
        c
    }

    /// `runsc delete --force <id>`, bounded in time.
    async fn delete(&self, id: &str) {
        let out = tokio::time::timeout(
            Duration::from_secs(10),
            self.runsc().arg("delete").arg("--force").arg(id).output(),
        )
        .await;
        match out {
            Ok(Ok(o)) if o.status.success() => {}
            Ok(Ok(o)) => {
                let err = String::from_utf8_lossy(&o.stderr);
                if !err.contains("does not exist") && !err.contains("not found") {
                    tracing::warn!(target: "native::sandbox", sandbox = id, "runsc delete: {}", err.trim());
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(target: "native::sandbox", sandbox = id, "runsc delete: {e}")
            }
            Err(_) => {
                tracing::warn!(target: "native::sandbox", sandbox = id, "runsc delete timed out")
            }
        }
    }

    fn config_json(&self, socket_dir: &Path) -> serde_json::Value {
        let l = &self.limits;
        let caps = ["CAP_SETUID", "CAP_SETGID", "CAP_KILL"];
        let socket = Path::new(SOCKET_MOUNT).join(super::SOCKET_NAME);
        let args: Vec<String> = std::iter::once(HOST_IN_SANDBOX.to_owned())
            .chain(host_args(
                l,
                &socket,
                Path::new(CACHE_IN_SANDBOX),
                true,
                true,
            ))
            .collect();
        // The cache holds binaries of at most `binary_bytes`; room for a few.
        let tmp_bytes = l.binary_bytes.saturating_mul(4).max(64 << 20);
        let mut resources = serde_json::json!({});
        if self.runsc.cgroups {
            resources = serde_json::json!({
                "memory": { "limit": l.sandbox_memory_bytes },
                "pids": { "limit": l.sandbox_pids },
            });
        }
        serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false,
                "user": { "uid": 0, "gid": 0 },
                "args": args,
                "env": ["PATH=/"],
                "cwd": "/",
                "capabilities": {
                    "bounding": caps, "effective": caps, "permitted": caps,
                },
                "rlimits": [
                    { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 },
                ],
                "noNewPrivileges": true,
            },
            "root": { "path": self.rootfs, "readonly": true },
            "hostname": "contract",
            "mounts": [
                { "destination": "/proc", "type": "proc", "source": "proc" },
                { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                  "options": ["mode=755", format!("size={tmp_bytes}"), "nosuid", "nodev"] },
                { "destination": SOCKET_MOUNT, "type": "bind", "source": socket_dir,
                  "options": ["rbind", "rw", "nosuid", "nodev", "noexec"] },
            ],
            "linux": {
                "namespaces": [
                    { "type": "pid" }, { "type": "ipc" }, { "type": "uts" },
                    { "type": "mount" }, { "type": "network" },
                ],
                "resources": resources,
            },
        })
    }

    async fn start_inner(&self, id: &str) -> Result<StartedSandbox, NativeError> {
        let bundle = self.bundles.join(id);
        remove_dir(&bundle);
        make_dir(&bundle, 0o700)?;
        let socket = HostSocket::bind(self.sockets.join(id))?;
        let config = self.config_json(&socket.dir);
        let config_path = bundle.join("config.json");
        std::fs::write(&config_path, config.to_string())
            .map_err(|e| NativeError::io(format!("write {}", config_path.display()), e))?;
        let mut child = self
            .runsc()
            .arg("run")
            .arg("--bundle")
            .arg(&bundle)
            .arg(id)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| backend_err(format!("spawn runsc: {e}")))?;
        if let Some(out) = child.stdout.take() {
            forward_output(id.to_owned(), "stdout", out);
        }
        if let Some(err) = child.stderr.take() {
            forward_output(id.to_owned(), "stderr", err);
        }
        let exited = async {
            match child.wait().await {
                Ok(s) => format!("runsc {s}"),
                Err(e) => e.to_string(),
            }
        };
        let socket_dir = socket.dir.clone();
        let client = socket.accept(id, self.start_timeout, exited).await;
        let resources = GvisorResources {
            child,
            bundle,
            sockets: socket_dir,
        };
        match client {
            Ok(client) => Ok(StartedSandbox {
                id: id.to_owned(),
                client,
                resources: Box::new(resources),
            }),
            Err(e) => {
                self.delete(id).await;
                drop(resources);
                Err(e)
            }
        }
    }
}

impl SandboxBackend for GvisorBackend {
    fn name(&self) -> &'static str {
        "gvisor"
    }

    fn start<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<StartedSandbox, NativeError>> {
        self.start_inner(id).boxed()
    }

    fn stop(&self, sandbox: StartedSandbox) -> BoxFuture<'_, ()> {
        async move {
            self.delete(&sandbox.id).await;
            if let Ok(mut r) = sandbox.resources.downcast::<GvisorResources>() {
                let _ = tokio::time::timeout(Duration::from_secs(5), r.child.wait()).await;
            }
        }
        .boxed()
    }

    fn clean_up(&self) -> BoxFuture<'_, Result<usize, NativeError>> {
        async move {
            let out = self
                .runsc()
                .arg("list")
                .arg("-quiet")
                .output()
                .await
                .map_err(|e| backend_err(format!("runsc list: {e}")))?;
            let mut removed = 0;
            if out.status.success() {
                let list = String::from_utf8_lossy(&out.stdout).into_owned();
                for id in list
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with(&self.prefix))
                {
                    self.delete(id).await;
                    removed += 1;
                }
            } else {
                tracing::warn!(target: "native::sandbox", "runsc list: {}",
                    String::from_utf8_lossy(&out.stderr).trim());
            }
            remove_dir(&self.bundles);
            remove_dir(&self.sockets);
            make_dir(&self.bundles, 0o700)?;
            make_dir(&self.sockets, 0o755)?;
            Ok(removed)
        }
        .boxed()
    }

    fn kill_host<'a>(&'a self, sandbox: &'a StartedSandbox) -> BoxFuture<'a, ()> {
        async move {
            let _ = self
                .runsc()
                .arg("kill")
                .arg(&sandbox.id)
                .arg("KILL")
                .output()
                .await;
        }
        .boxed()
    }
}
