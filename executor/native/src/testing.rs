//! Test support (feature `testing`): the real static artefacts every native-contract test runs —
//! the contract host, the Rust and C SDK examples and the hostile test contract — built by
//! `scripts/build-native.sh` into `$CARGO_TARGET_DIR/native-static` once per process, under a
//! file lock that concurrent test processes (nextest runs each test in its own) share.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Paths of the built artefacts.
#[derive(Clone, Debug)]
pub struct Artifacts {
    /// The output directory (`$CARGO_TARGET_DIR/native-static`).
    pub dir: PathBuf,
    /// The static contract host (`rampart-contract-host`).
    pub host: PathBuf,
    pub rust_counter: PathBuf,
    pub rust_token: PathBuf,
    pub rust_box: PathBuf,
    pub c_counter: PathBuf,
    pub c_token: PathBuf,
    /// `executor/native/tests/contracts/hostile.c`: one contract, a misbehaviour per selector.
    pub hostile: PathBuf,
    /// `executor/native/tests/contracts/plain.c`: frames by hand, no SDK, no HELLO.
    pub plain: PathBuf,
}

/// The workspace root: the nearest directory with a `Cargo.lock` above the running test's package
/// (cargo and nextest set `CARGO_MANIFEST_DIR` for the processes they run), else above this
/// crate's directory at compile time. Not the compile-time path alone: cargo reuses a library
/// built from another checkout of the same sources when both share `CARGO_TARGET_DIR` (a CI
/// clone and a working copy), and that checkout may be gone.
pub fn workspace_root() -> PathBuf {
    let above = |dir: &Path| {
        dir.ancestors()
            .find(|p| p.join("Cargo.lock").is_file())
            .map(Path::to_path_buf)
    };
    std::env::var_os("CARGO_MANIFEST_DIR")
        .and_then(|d| above(Path::new(&d)))
        .or_else(|| above(Path::new(env!("CARGO_MANIFEST_DIR"))))
        .unwrap_or_else(|| {
            panic!(
                "no workspace root (a directory with Cargo.lock) above CARGO_MANIFEST_DIR or {}",
                env!("CARGO_MANIFEST_DIR")
            )
        })
}

/// Builds the artefacts (cargo skips what is up to date) and returns their paths. Panics with
/// the failing command when the build fails: a test that needs them cannot run without them.
pub fn artifacts() -> &'static Artifacts {
    static A: OnceLock<Artifacts> = OnceLock::new();
    A.get_or_init(|| {
        let root = workspace_root();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let dir = target.join("native-static");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let lock = std::fs::File::create(dir.join(".lock"))
            .unwrap_or_else(|e| panic!("lock file in {}: {e}", dir.display()));
        lock.lock()
            .unwrap_or_else(|e| panic!("lock {}: {e}", dir.display()));
        let mut cmd = Command::new(root.join("scripts/build-native.sh"));
        cmd.arg(&dir);
        let status = cmd
            .status()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        assert!(status.success(), "{cmd:?} failed: {status}");
        drop(lock);
        let rel = dir.join("x86_64-unknown-linux-gnu/release");
        let c = dir.join("c");
        Artifacts {
            host: rel.join("rampart-contract-host"),
            rust_counter: rel.join("examples/counter"),
            rust_token: rel.join("examples/token"),
            rust_box: rel.join("examples/native_box"),
            c_counter: c.join("counter"),
            c_token: c.join("token"),
            hostile: c.join("hostile"),
            plain: c.join("plain"),
            dir,
        }
    })
}
