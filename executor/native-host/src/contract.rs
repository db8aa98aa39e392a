//! Contract processes: start (ahead of time, as spares), run one call (or, for a contract
//! deployed with persistent processes, a bounded series of calls), kill.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::frame::{self, FrameReader};
use crate::options::ProcessLimits;

/// Bytes of a contract's stderr kept for error messages.
pub const STDERR_TAIL_BYTES: usize = 4096;

/// One started contract process, waiting for its CALL frame.
#[derive(Debug)]
pub struct ContractProc {
    pub code_hash: [u8; 32],
    pub child: Child,
    pub pid: i32,
    pub stdin: ChildStdin,
    /// Its stdout, read by the call that runs on it (between calls nobody reads it).
    pub frames: FrameReader<ChildStdout>,
    /// Feature bits of its HELLO (`frame::FEATURE_*`), 0 if it sent none.
    pub features: u32,
    /// Calls this process ended with a return or revert (persistent processes serve several).
    pub calls_served: u32,
    /// Its /proc/<pid>/stat, kept open: a look at it is one `pread` (under gVisor's ptrace
    /// platform every system call is a round trip through the sentry, and this is read after
    /// every persistent call).
    stat: Option<std::fs::File>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
    stderr_reader: tokio::task::JoinHandle<()>,
}

impl ContractProc {
    /// Starts `binary` through `self_exe exec` (rlimits, uid) in its own process group.
    pub fn spawn(
        self_exe: &Path,
        binary: &Path,
        code_hash: [u8; 32],
        limits: &ProcessLimits,
        max_frame_bytes: u32,
    ) -> std::io::Result<Self> {
        let mut child = Command::new(self_exe)
            .arg("exec")
            .args(limits.to_args())
            .arg("--")
            .arg(binary)
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()?;
        let pid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or_else(|| std::io::Error::other("spawned process has no pid"))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?;
        let stderr_pipe = child
            .stderr
            .take()
            .ok_or_else(|| std::io::Error::other("no stderr"))?;

        let frames = FrameReader::new(stdout, max_frame_bytes);
        let stderr = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_BYTES)));
        let tail = stderr.clone();
        let stderr_reader = tokio::spawn(async move {
            let mut pipe = stderr_pipe;
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                t.extend(&buf[..n]);
                let excess = t.len().saturating_sub(STDERR_TAIL_BYTES);
                t.drain(..excess);
            }
        });
        Ok(Self {
            code_hash,
            child,
            pid,
            stdin,
            frames,
            features: 0,
            calls_served: 0,
            stat: None,
            stderr,
            stderr_reader,
        })
    }

    /// Waits until the process has `exec`ed the contract (its name in /proc changed from ours),
    /// so that a call handed to it does not pay for `exec`. Gives up after `timeout`.
    pub async fn wait_ready(&mut self, timeout: std::time::Duration) -> std::io::Result<()> {
        let ours = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| comm(&s));
        let started = tokio::time::Instant::now();
        loop {
            // Ready: it runs the contract (another name than ours) and sleeps (in its first read
            // of stdin, past its start-up).
            let line = self.read_stat();
            let theirs = line.as_deref().and_then(comm);
            let sleeping = line.as_deref().and_then(state) == Some('S');
            if theirs.is_some() && theirs != ours && sleeping {
                // An SDK writes its HELLO before it first waits for a call: it is there now.
                self.features = self.frames.take_hello();
                return Ok(());
            }
            if !self.is_alive() {
                return Err(std::io::Error::other(
                    "the contract process exited at start",
                ));
            }
            if started.elapsed() > timeout {
                return Err(std::io::Error::other(
                    "the contract process did not start in time",
                ));
            }
            tokio::time::sleep(std::time::Duration::from_micros(500)).await;
        }
    }

    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// CPU time (user + system) the process has used so far, from /proc; `None` if unreadable.
    pub fn cpu_seconds_used(&mut self) -> Option<f64> {
        cpu_seconds(&self.read_stat()?)
    }

    /// Its /proc/<pid>/stat line, read at offset 0 of the file kept open (opened on first use).
    fn read_stat(&mut self) -> Option<String> {
        use std::os::unix::fs::FileExt;
        if self.stat.is_none() {
            self.stat = std::fs::File::open(format!("/proc/{}/stat", self.pid)).ok();
        }
        // One line of 52 fields, all numbers but a 16-byte name: 2 KiB holds it.
        let mut buf = [0u8; 2048];
        let n = self.stat.as_ref()?.read_at(&mut buf, 0).ok()?;
        String::from_utf8(buf[..n].to_vec()).ok()
    }

    pub async fn send(&mut self, tag: u8, payload: &[u8]) -> std::io::Result<()> {
        self.send_bytes(&frame::encode(tag, payload)).await
    }

    /// Writes already encoded frames, in one write.
    pub async fn send_bytes(&mut self, frames: &[u8]) -> std::io::Result<()> {
        self.stdin.write_all(frames).await?;
        self.stdin.flush().await
    }

    /// Whether the process wrote nothing since its last frame was taken (between calls, a kept
    /// process must be silent). Looks at the pipe without waiting.
    pub fn is_silent(&mut self) -> bool {
        let open = self.frames.read_available();
        open && !self.frames.has_buffered()
    }

    fn stderr_tail(&self) -> String {
        let t = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        let (a, b) = t.as_slices();
        let mut v = a.to_vec();
        v.extend_from_slice(b);
        String::from_utf8_lossy(&v).trim().to_owned()
    }

    /// Kills the whole process group and reaps the leader; returns its exit status and the tail
    /// of its stderr. `exited`: the process ended by itself, so wait (briefly) for the rest of
    /// its stderr, which explains why.
    pub async fn kill(mut self, exited: bool) -> (Option<std::process::ExitStatus>, String) {
        if exited {
            let _ = tokio::time::timeout(std::time::Duration::from_millis(200), self.child.wait())
                .await;
        }
        let _ = killpg(Pid::from_raw(self.pid), Signal::SIGKILL);
        let _ = self.child.start_kill();
        let status = self.child.wait().await.ok();
        if exited {
            let _ = tokio::time::timeout(
                std::time::Duration::from_millis(200),
                &mut self.stderr_reader,
            )
            .await;
        }
        self.stderr_reader.abort();
        (status, self.stderr_tail())
    }
}

/// Pids of live processes owned by `uid`, except `except`. Reads /proc (the sandbox's own pid
/// namespace under gVisor).
pub fn processes_of_uid(uid: u32, except: &[i32]) -> Vec<i32> {
    let mut out = Vec::new();
    // Not this daemon itself (root, never the contract uid): one file fewer to read per call.
    let me = i32::try_from(std::process::id()).unwrap_or(-1);
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me || except.contains(&pid) {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let owned = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|u| u.parse::<u32>().ok())
            == Some(uid);
        let zombie = status
            .lines()
            .find_map(|l| l.strip_prefix("State:"))
            .is_some_and(|s| s.trim_start().starts_with('Z'));
        if owned && !zombie {
            out.push(pid);
        }
    }
    out
}

/// Kills every process of the contract uid (fork bombs, daemons that left the process group)
/// by running `self_exe sweep` as that uid, then reaps the orphans that were re-parented to us
/// (the daemon is pid 1 in its sandbox).
pub async fn sweep(self_exe: &Path, limits: &ProcessLimits) {
    let status = Command::new(self_exe)
        .arg("sweep")
        .args(limits.to_args())
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .await;
    if let Err(e) = status {
        eprintln!("rampart-contract-host: sweep failed: {e}");
    }
    reap_orphans();
}

/// Reaps exited children that nobody waits for. Called only when no tracked child is alive
/// except spares, whose pids are never zombies at this point (they are waiting for input).
pub fn reap_orphans() {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    for _ in 0..100_000 {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

pub fn binary_path(cache_dir: &Path, code_hash: &[u8; 32]) -> PathBuf {
    cache_dir.join(hex32(code_hash))
}

pub fn hex32(b: &[u8; 32]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The command name in a /proc/<pid>/stat line: "pid (comm) state ...".
fn comm(stat: &str) -> Option<String> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    Some(stat.get(open + 1..close)?.to_owned())
}

/// User + system CPU seconds in a /proc/<pid>/stat line (fields 14 and 15, in clock ticks).
fn cpu_seconds(stat: &str) -> Option<f64> {
    // Fields after "comm": state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let mut fields = after_comm(stat)?.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&t| t > 0)
        .unwrap_or(100);
    Some((utime + stime) as f64 / ticks as f64)
}

/// The state letter in a /proc/<pid>/stat line.
fn state(stat: &str) -> Option<char> {
    after_comm(stat)?.trim_start().chars().next()
}

/// A /proc/<pid>/stat line after "pid (comm)" (the command name may contain spaces and ')').
fn after_comm(stat: &str) -> Option<&str> {
    stat.get(stat.rfind(')')? + 1..)
}
