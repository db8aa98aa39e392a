//! Native call round trips, per backend, all in one run:
//!   - floor: a no-op ping → pong over the same gRPC call stream a call uses;
//!   - warm call: call → one storage read → one storage write → return (a warm sandbox with a
//!     started contract process), p50/p99, and its difference to the floor;
//!   - back-to-back calls per second on one sandbox (each call needs a fresh process);
//!   - cold start: a new sandbox up to "binary stored, first contract process started";
//!   - the warm calls and back-to-back calls again for the same binary deployed with persistent
//!     processes (one process serves consecutive calls), interleaved with the per-call ones on
//!     the same runtime and sandboxes, so that both meet the same machine;
//!   - each of those with and without the slot preloaded (`limits.preload_slots`): the
//!     preloaded calls use one storage account, whose calls the runtime has learnt to read slot
//!     0; the others each use a storage account it has never seen, so nothing is preloaded and
//!     the read goes to the node;
//!   - a pipe round trip between this process and a child (`cat`), paced like the calls: what
//!     the OS charges for the one hop every call makes from the host to its contract process
//!     and back (two wake-ups), the part of "call − floor" no protocol change can remove;
//!   - for gVisor, the same hop inside a sandbox (`pipe_hop.c` in a sandbox of its own, same
//!     `runsc` and platform, a call-sized frame out and an answer-sized one back), paced like
//!     the calls: there every wake-up and system call goes through gVisor's sentry, and this is
//!     that backend's share of "call − floor" no protocol change can remove.
//!
//! cargo bench -p rampart-native --bench native_call [-- ITERATIONS]
//! RAMPART_SKIP_GVISOR=1 skips gVisor (no root or runsc).
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alloy_primitives::Address;
use common::*;
use rampart_native::{BackendKind, NativeCode, NativeRuntime, ProcessMode, RunscConfig};

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// `pipe_hop.c` in a gVisor sandbox of its own: one pipe round trip timed inside the sandbox
/// per line written to it.
struct SandboxHop {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    dir: PathBuf,
    runsc: RunscConfig,
    id: String,
}

impl SandboxHop {
    fn runsc(&self) -> Command {
        hop_runsc(&self.runsc, &self.dir)
    }

    fn start(runsc: &RunscConfig) -> Self {
        let id = format!("rampart-bench-hop-{}", std::process::id());
        let dir = std::env::temp_dir().join(&id);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        let src =
            rampart_native::testing::workspace_root().join("executor/native/benches/pipe_hop.c");
        let built = Command::new("gcc")
            .args(["-O2", "-static", "-o"])
            .arg(dir.join("rootfs/pipe_hop"))
            .arg(&src)
            .status()
            .unwrap();
        assert!(built.success(), "gcc {}", src.display());
        let config = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false, "user": { "uid": 0, "gid": 0 },
                "args": ["/pipe_hop"], "env": ["PATH=/"], "cwd": "/",
            },
            "root": { "path": dir.join("rootfs"), "readonly": true },
            "linux": { "namespaces": [
                { "type": "pid" }, { "type": "ipc" }, { "type": "uts" },
                { "type": "mount" }, { "type": "network" },
            ] },
        });
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
        let mut child = hop_runsc(runsc, &dir)
            .arg("run")
            .arg("--bundle")
            .arg(&dir)
            .arg(&id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
            dir,
            runsc: runsc.clone(),
            id,
        }
    }

    fn hop(&mut self) -> Duration {
        self.stdin.as_mut().unwrap().write_all(b"x\n").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let us: f64 = line
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("pipe_hop said {line:?}: {e}"));
        Duration::from_secs_f64(us / 1e6)
    }
}

/// `runsc` with the flags of the contract sandboxes that matter here (platform, no network),
/// its state under `dir`.
fn hop_runsc(runsc: &RunscConfig, dir: &std::path::Path) -> Command {
    let mut c = Command::new(&runsc.runsc);
    c.arg("--root").arg(dir.join("state"));
    if let Some(p) = &runsc.platform {
        c.arg(format!("--platform={p}"));
    }
    c.args(["--network=none", "--ignore-cgroups"]);
    c
}

impl Drop for SandboxHop {
    fn drop(&mut self) {
        drop(self.stdin.take()); // pipe_hop ends at the end of its input
        let _ = self.child.wait();
        let _ = self
            .runsc()
            .args(["delete", "--force", &self.id])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// (process mode, preloaded) of each variant measured.
const VARIANTS: [(ProcessMode, bool); 4] = [
    (ProcessMode::PerCall, false),
    (ProcessMode::PerCall, true),
    (ProcessMode::Persistent, false),
    (ProcessMode::Persistent, true),
];

/// Figures of one process mode.
#[derive(Default)]
struct Figures {
    ret: Vec<Duration>,
    call: Vec<Duration>,
    per_s: f64,
}

fn bench(backend: BackendKind, iterations: usize, pace: Duration) {
    let name = format!("{backend:?}").to_lowercase();
    let rt: NativeRuntime = runtime(backend, &format!("bench_{name}"), |c| {
        c.pool.max_per_contract = 16;
        c.pool.max_total = 16;
    });
    let mut bins = Binaries::default();
    let code_hash = bins.add(&artifacts().hostile);
    let code = |mode| NativeCode { code_hash, mode };

    // Cold starts: each prewarm(n) starts exactly one more sandbox.
    let mut cold = Vec::new();
    for n in 1..=8 {
        let t = Instant::now();
        rt.prewarm(code_hash, &bins, n).unwrap();
        cold.push(t.elapsed());
    }

    let mut host = TestHost::new(&rt, &bins);
    let mut cat = std::process::Command::new("cat")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut cat_in, mut cat_out) = (cat.stdin.take().unwrap(), cat.stdout.take().unwrap());
    let mut pipe = Vec::new();
    let mut sandbox_hop =
        (backend == BackendKind::Gvisor).then(|| SandboxHop::start(&RunscConfig::default()));
    let mut hops = Vec::new();
    let mut floor = Vec::new();
    let mut figures: [Figures; 4] = Default::default();
    // The storage account of a call: one the runtime knows (slot 0 preloaded), or a new one.
    let mut fresh = 0u64;
    let mut account = |preload: bool| {
        fresh += 1;
        if preload {
            addr(2)
        } else {
            let mut a = [0xf0u8; 20];
            a[12..].copy_from_slice(&fresh.to_be_bytes());
            Address::from(a)
        }
    };
    for i in 0..iterations + 10 {
        std::thread::sleep(pace);
        let f = rt.ping(code_hash, &bins).unwrap();
        if i >= 10 {
            floor.push(f);
        }
        std::thread::sleep(pace);
        let t = Instant::now();
        cat_in.write_all(b"x").unwrap();
        cat_out.read_exact(&mut [0u8]).unwrap();
        if i >= 10 {
            pipe.push(t.elapsed());
        }
        if let Some(h) = &mut sandbox_hop {
            std::thread::sleep(pace);
            let d = h.hop();
            if i >= 10 {
                hops.push(d);
            }
        }
        for ((mode, preload), fig) in VARIANTS.into_iter().zip(&mut figures) {
            std::thread::sleep(pace);
            let t = Instant::now();
            let o = host.run(
                code(mode),
                ctx(addr(1), account(preload), b"r".to_vec(), 10_000_000),
            );
            let r = t.elapsed();
            assert!(o.is_success(), "{o:?}");
            std::thread::sleep(pace);
            let t = Instant::now();
            let peeks = host.peeks;
            let o = host.run(
                code(mode),
                ctx(addr(1), account(preload), b"i".to_vec(), 10_000_000),
            );
            let c = t.elapsed();
            if i >= 10 {
                assert_eq!(host.peeks > peeks, preload, "preloaded as intended");
            }
            assert!(o.is_success(), "{o:?}");
            assert_eq!((o.stats.state_reads, o.stats.state_writes), (1, 1));
            if i >= 10 {
                fig.ret.push(r);
                fig.call.push(c);
            }
        }
    }
    // Back to back, no pacing: per call, bounded by starting a contract process per call.
    for ((mode, preload), fig) in VARIANTS.into_iter().zip(&mut figures) {
        let n = iterations.min(200);
        let t = Instant::now();
        for _ in 0..n {
            let o = host.run(
                code(mode),
                ctx(addr(1), account(preload), b"i".to_vec(), 10_000_000),
            );
            assert!(o.is_success(), "{o:?}");
        }
        fig.per_s = n as f64 / t.elapsed().as_secs_f64();
    }

    drop(cat_in);
    cat.wait().unwrap();
    drop(sandbox_hop);
    // The hop no protocol change removes: inside the sandbox where there is one.
    let hop50 = if hops.is_empty() {
        None
    } else {
        Some(pct(&mut hops, 0.5))
    };
    let (f50, f99) = (pct(&mut floor, 0.5), pct(&mut floor, 0.99));
    let k50 = pct(&mut cold, 0.5);
    let p50 = pct(&mut pipe, 0.5);
    for ((mode, preload), fig) in VARIANTS.into_iter().zip(&mut figures) {
        let label = match mode {
            ProcessMode::PerCall => name.clone(),
            ProcessMode::Persistent => format!("{name}, persistent process"),
        };
        let label = if preload {
            format!("{label}, slot preloaded")
        } else {
            label
        };
        let (c50, c99) = (pct(&mut fig.call, 0.5), pct(&mut fig.call, 0.99));
        let r50 = pct(&mut fig.ret, 0.5);
        let hop = hop50.unwrap_or(p50);
        println!(
            "| {label} | {:.0} / {:.0} µs | {:.0} µs | {:.0} / {:.0} µs | **{:.0} µs** | {:.0} µs | {} | {:.0} µs | {:.0} calls/s | {:.1} ms (max {:.1}) |",
            us(f50),
            us(f99),
            us(r50),
            us(c50),
            us(c99),
            us(c50) - us(f50),
            us(p50),
            hop50.map_or("—".to_owned(), |h| format!("{:.0} µs", us(h))),
            us(c50) - us(f50) - us(hop),
            fig.per_s,
            k50.as_secs_f64() * 1e3,
            cold.iter().max().unwrap().as_secs_f64() * 1e3,
        );
    }
}

fn main() {
    let iterations: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300);
    artifacts();
    println!(
        "| backend | floor p50 / p99 | start → return p50 | warm call p50 / p99 | call − floor (p50) | pipe round trip p50 | in-sandbox pipe round trip p50 | call − floor − pipe (p50) | back-to-back, one sandbox | cold start p50 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    bench(BackendKind::Process, iterations, Duration::from_millis(10));
    if gvisor_enabled() {
        bench(BackendKind::Gvisor, iterations, Duration::from_millis(100));
    }
}
