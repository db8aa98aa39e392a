//! Native contracts in the node: the `[native]` configuration section and starting the runtime.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use alloy_primitives::{B256, keccak256};
use rampart_native::{
    BackendKind, GasSchedule, Limits, NATIVE_DEPLOYER, NativeConfig, NativeRuntime, PoolConfig,
    RunscConfig, parse_deploy,
};
use rampart_primitives::ExecutedBlock;
use serde::{Deserialize, Serialize};

use crate::NodeError;

/// Which sandbox runs native contracts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NativeBackend {
    /// gVisor where it can run (`runsc` found, the node runs as root, the contract host binary
    /// found); otherwise native contracts are off, and the node says why at start (default).
    #[default]
    Auto,
    /// gVisor; the node does not start without it.
    Gvisor,
    /// Plain processes, no isolation: development and tests only, never chosen by `auto`.
    Process,
    /// No native contracts: deploys and calls fail with "native contracts are disabled".
    Off,
}

/// `[native]`: how this node runs native contracts. Everything but `backend`, `host_binary`,
/// `work_dir` and `instance` is part of the chain's rules (gas, limits) and must be equal on
/// every node of a cluster, as the genesis is.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NativeSection {
    pub backend: NativeBackend,
    /// The static `rampart-contract-host` binary [default: `rampart-contract-host` next to the
    /// `rampart` executable].
    pub host_binary: Option<PathBuf>,
    /// Sandbox bundles, sockets and state [default: /var/tmp/rampart-native].
    pub work_dir: Option<PathBuf>,
    /// Names this node's sandboxes; a restarted node removes what its predecessor left
    /// [default: derived from the data directory, so nodes sharing a machine never collide].
    pub instance: Option<String>,
    pub runsc: RunscConfig,
    pub limits: Limits,
    pub gas: GasSchedule,
    pub pool: PoolConfig,
}

fn default_host_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join("rampart-contract-host"))
}

/// A stable sandbox-name prefix for the node whose data lives in `data_dir`.
fn instance_for(data_dir: &Path) -> String {
    let dir = data_dir
        .canonicalize()
        .unwrap_or_else(|_| data_dir.to_path_buf());
    let hash = alloy_primitives::keccak256(dir.to_string_lossy().as_bytes());
    format!("n{}", alloy_primitives::hex::encode(&hash[..5]))
}

fn runsc_works(runsc: &Path) -> Result<(), String> {
    match std::process::Command::new(runsc).arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "`{} --version` failed: {}",
            runsc.display(),
            o.status
        )),
        Err(e) => Err(format!("`{}` not found: {e}", runsc.display())),
    }
}

fn is_root() -> bool {
    // /proc/self/status: "Uid:\treal\teffective\t…".
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

impl NativeSection {
    /// The runtime configuration, or why native contracts are off.
    fn resolve(&self, data_dir: &Path) -> Result<Result<NativeConfig, String>, NodeError> {
        let backend = match self.backend {
            NativeBackend::Off => return Ok(Err("[native] backend = \"off\"".into())),
            NativeBackend::Process => BackendKind::Process,
            NativeBackend::Gvisor | NativeBackend::Auto => BackendKind::Gvisor,
        };
        let host = self.host_binary.clone().or_else(default_host_binary);
        let unavailable = |why: String| {
            if self.backend == NativeBackend::Auto {
                Ok(Err(why))
            } else {
                Err(NodeError::Config(format!("native contracts: {why}")))
            }
        };
        let Some(host) = host.filter(|h| h.is_file()) else {
            return unavailable(format!(
                "the contract host binary was not found (set [native] host_binary or \
                 --native-host; looked for {})",
                self.host_binary
                    .clone()
                    .or_else(default_host_binary)
                    .map_or("nothing".into(), |p| p.display().to_string())
            ));
        };
        if backend == BackendKind::Gvisor {
            // The host is the sandbox's only file: it must be static (a workspace build of
            // `rampart-contract-host` is not; scripts/build-native.sh makes the static one).
            let bytes = std::fs::read(&host)
                .map_err(|e| NodeError::Config(format!("reading {}: {e}", host.display())))?;
            if let Err(e) = rampart_native::validate_binary(&bytes, u64::MAX) {
                return unavailable(format!(
                    "the contract host {} cannot run in gVisor: {e} (build it with \
                     scripts/build-native.sh)",
                    host.display()
                ));
            }
            if let Err(why) = runsc_works(&self.runsc.runsc) {
                return unavailable(why);
            }
            if !is_root() {
                return unavailable("gVisor sandboxes need the node to run as root".into());
            }
        }
        let mut cfg = NativeConfig::new(backend, host);
        if let Some(w) = &self.work_dir {
            cfg.work_dir = w.clone();
        }
        cfg.instance = self
            .instance
            .clone()
            .unwrap_or_else(|| instance_for(data_dir));
        cfg.runsc = self.runsc.clone();
        cfg.limits = self.limits.clone();
        cfg.gas = self.gas.clone();
        cfg.pool = self.pool.clone();
        Ok(Ok(cfg))
    }

    /// Starts the native runtime, or returns `None` (logged) when native contracts are off.
    pub(crate) async fn start(
        &self,
        data_dir: &Path,
    ) -> Result<Option<Arc<NativeRuntime>>, NodeError> {
        let cfg = match self.resolve(data_dir)? {
            Ok(cfg) => cfg,
            Err(why) => {
                tracing::warn!(target: "rampart::node", %why, "native contracts are off");
                return Ok(None);
            }
        };
        let backend = cfg.backend;
        // The runtime blocks while it cleans up leftovers: not on an async worker.
        let rt = tokio::task::spawn_blocking(move || NativeRuntime::new(cfg))
            .await
            .map_err(|e| NodeError::Config(format!("native runtime: {e}")))?
            .map_err(|e| NodeError::Config(format!("native runtime: {e}")))?;
        tracing::info!(target: "rampart::node", ?backend, "native contracts on");
        Ok(Some(Arc::new(rt)))
    }
}

/// Native contracts deployed by a committed block get a warm sandbox on this node at once, in
/// the background, so that a contract's first call does not wait for a sandbox to start inside
/// a block (a cold start: 15-20 ms with plain processes, 200-350 ms under gVisor's ptrace
/// platform; docs/benchmarks.md). Every node does it (leader and followers: any may execute
/// the next block). Only latency depends on it, never a result.
#[derive(Debug, Default)]
pub(crate) struct Prewarmer {
    in_flight: Arc<AtomicUsize>,
}

/// Sandboxes starting for deploys at once at most; a burst of deploys beyond it leaves the rest
/// to start on their first call, as before. Each also counts against the pool's limits.
pub(crate) const MAX_PREWARMS: usize = 2;

impl Prewarmer {
    pub(crate) fn on_block(&self, runtime: &Arc<NativeRuntime>, block: &ExecutedBlock) {
        use alloy_consensus::Transaction as _;
        use alloy_eips::eip2718::Decodable2718 as _;
        for (raw, receipt) in block.transactions.iter().zip(&block.receipts) {
            if !receipt.success || receipt.to != Some(NATIVE_DEPLOYER) {
                continue;
            }
            let Ok(envelope) = alloy_consensus::TxEnvelope::decode_2718_exact(raw) else {
                continue;
            };
            let Ok((_, binary)) = parse_deploy(envelope.input()) else {
                continue;
            };
            let code_hash = keccak256(binary);
            if self.in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_PREWARMS {
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                tracing::debug!(target: "rampart::native", %code_hash,
                    "not prewarming a deployed contract: {MAX_PREWARMS} sandboxes already starting");
                continue;
            }
            let binary = binary.to_vec();
            let (rt, in_flight) = (runtime.clone(), self.in_flight.clone());
            let spawned = std::thread::Builder::new()
                .name("native-prewarm".into())
                .spawn(move || {
                    let load = move |h: B256| {
                        if h == code_hash {
                            Ok(binary.clone())
                        } else {
                            Err(format!("{h} is not the deployed binary {code_hash}"))
                        }
                    };
                    match rt.prewarm(code_hash, &load, 1) {
                        Ok(()) => tracing::debug!(target: "rampart::native", %code_hash,
                            "sandbox ready for a newly deployed contract"),
                        Err(e) => tracing::warn!(target: "rampart::native", %code_hash,
                            error = %e, "prewarming a newly deployed contract failed"),
                    }
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                });
            if spawned.is_err() {
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}
