//! Configuration of native contracts: backend, limits, pool. Every bound has a default, listed
//! in docs/native-contracts.md.

use std::path::PathBuf;

use crate::GasSchedule;

/// Which sandbox runs contract hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// gVisor (`runsc`): the default where it is installed.
    Gvisor,
    /// A plain child process, no isolation: development and tests only, never chosen implicitly.
    Process,
}

/// Limits per call (enforced by the node) and per contract process (enforced by the host).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Wall-clock limit of one call, nested calls included.
    pub call_time_ms: u64,
    pub state_reads_per_call: u32,
    pub state_writes_per_call: u32,
    pub logs_per_call: u32,
    /// Data bytes of all logs of one call.
    pub log_data_bytes_per_call: u64,
    /// Largest frame payload (calldata, return data, one log); also caps a nested call's output
    /// handed back to the contract.
    pub frame_bytes: u32,
    /// Bytes a contract may write to stdout in one call (all frames).
    pub output_bytes_per_call: u64,
    /// `RLIMIT_AS` of a contract process.
    pub memory_bytes: u64,
    /// `RLIMIT_NPROC` of the contract uid.
    pub processes: u32,
    /// `RLIMIT_CPU` of a contract process (a backstop behind `call_time_ms`). A persistent
    /// process is replaced once it has used half of it.
    pub cpu_seconds: u32,
    /// Calls one contract process may serve for a contract deployed with persistent processes
    /// before the host replaces it; 0 runs every call in a fresh process whatever the contract
    /// was deployed with.
    pub persistent_process_calls: u32,
    /// Storage slots sent with a call for the host to answer the contract's reads of them
    /// without a round trip to the node: those each of the contract's last two calls (same
    /// storage, same code) read. 0 turns preloading off. At most [`MAX_PRELOAD_SLOTS`].
    pub preload_slots: u32,
    /// Largest binary accepted at deploy and by hosts (default 3 MiB: a deploy must fit a request
    /// body hex-encoded, and a Raft entry twice, as the transaction and as stored code).
    pub binary_bytes: u64,
    /// Uid and gid of contract processes inside the sandbox (nobody/nogroup).
    pub contract_uid: u32,
    pub contract_gid: u32,
    /// Memory of a whole gVisor sandbox (cgroup), host daemon included.
    pub sandbox_memory_bytes: u64,
    /// Host pids (processes and threads) of a whole gVisor sandbox (cgroup): the sentry's threads
    /// count too (with the ptrace platform, one tracer thread per sandboxed task), so this is
    /// far above `processes`; 256 was too few to survive a fork bomb.
    pub sandbox_pids: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            call_time_ms: 1_000,
            state_reads_per_call: 10_000,
            state_writes_per_call: 1_000,
            logs_per_call: 256,
            log_data_bytes_per_call: 256 << 10,
            frame_bytes: 1 << 20,
            output_bytes_per_call: 8 << 20,
            memory_bytes: 256 << 20,
            processes: 32,
            cpu_seconds: 10,
            persistent_process_calls: 1_000,
            preload_slots: 16,
            binary_bytes: 3 << 20,
            contract_uid: 65_534,
            contract_gid: 65_534,
            sandbox_memory_bytes: 1 << 30,
            sandbox_pids: 1024,
        }
    }
}

/// The most storage slots one call may preload (the protocol's bound, proto/contract_host.proto).
pub const MAX_PRELOAD_SLOTS: u32 = 1_024;

/// The warm pool of sandboxes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PoolConfig {
    /// Sandboxes per contract (busy + idle). Calls beyond it wait; nested calls into the same
    /// contract need one each.
    pub max_per_contract: usize,
    /// Sandboxes in all.
    pub max_total: usize,
    /// How long a call waits for a free sandbox before failing.
    pub checkout_timeout_ms: u64,
    /// How long a sandbox may take to start (cold start, daemon connected, binary stored).
    pub start_timeout_ms: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_per_contract: 4,
            max_total: 64,
            checkout_timeout_ms: 2_000,
            start_timeout_ms: 10_000,
        }
    }
}

/// gVisor settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RunscConfig {
    /// The `runsc` executable.
    pub runsc: PathBuf,
    /// `--platform` (runsc's default when `None`).
    pub platform: Option<String>,
    /// Apply cgroup limits (`sandbox_memory_bytes`, `sandbox_pids`); off passes
    /// `--ignore-cgroups` where the machine has no usable cgroups.
    pub cgroups: bool,
}

impl Default for RunscConfig {
    fn default() -> Self {
        Self {
            runsc: PathBuf::from("runsc"),
            platform: None,
            cgroups: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NativeConfig {
    pub backend: BackendKind,
    /// The `rampart-contract-host` binary (static for gVisor: it is the sandbox's only file).
    pub host_binary: PathBuf,
    /// Bundles, sockets, rootfs and runsc state live under `work_dir/<instance>/`.
    pub work_dir: PathBuf,
    /// Names this node's sandboxes (`rampart-<instance>-…`); keep it stable across restarts so a
    /// restarted node removes what a killed one left behind.
    pub instance: String,
    #[serde(default)]
    pub runsc: RunscConfig,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub gas: GasSchedule,
    #[serde(default)]
    pub pool: PoolConfig,
}

impl NativeConfig {
    pub fn new(backend: BackendKind, host_binary: impl Into<PathBuf>) -> Self {
        Self {
            backend,
            host_binary: host_binary.into(),
            work_dir: PathBuf::from("/var/tmp/rampart-native"),
            instance: "node0".to_owned(),
            runsc: RunscConfig::default(),
            limits: Limits::default(),
            gas: GasSchedule::default(),
            pool: PoolConfig::default(),
        }
    }

    /// The prefix of every sandbox id this node instance creates.
    pub fn sandbox_prefix(&self) -> String {
        format!("rampart-{}-", self.instance)
    }

    pub fn instance_dir(&self) -> PathBuf {
        self.work_dir.join(&self.instance)
    }

    pub(crate) fn validate(&self) -> Result<(), crate::NativeError> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
        if self.instance.is_empty() || !self.instance.chars().all(ok_char) {
            return Err(crate::NativeError::Config(format!(
                "instance {:?} must be non-empty ASCII letters, digits or _",
                self.instance
            )));
        }
        if self.limits.preload_slots > MAX_PRELOAD_SLOTS {
            return Err(crate::NativeError::Config(format!(
                "limits.preload_slots {} exceeds {MAX_PRELOAD_SLOTS}",
                self.limits.preload_slots
            )));
        }
        if self.pool.max_per_contract == 0 || self.pool.max_total == 0 {
            return Err(crate::NativeError::Config(
                "pool sizes must be positive".into(),
            ));
        }
        Ok(())
    }
}
