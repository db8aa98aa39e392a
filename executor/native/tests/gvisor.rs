//! Native contracts in real gVisor sandboxes (runsc). These tests need root and runsc and FAIL
//! without them, unless RAMPART_SKIP_GVISOR=1 is set to skip them explicitly.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::scenarios::{self, GAS, Hostile, Lang};
use common::*;
use rampart_native::BackendKind::Gvisor;
use rampart_native::{FailureKind, ProcessMode};

#[test]
fn rust_counter() {
    if gvisor_enabled() {
        scenarios::counter(Gvisor, "g_rust_counter", Lang::Rust);
    }
}

#[test]
fn c_counter() {
    if gvisor_enabled() {
        scenarios::counter(Gvisor, "g_c_counter", Lang::C);
    }
}

#[test]
fn rust_and_c_tokens_agree() {
    if gvisor_enabled() {
        let rust = scenarios::token(Gvisor, "g_rust_token", Lang::Rust);
        let c = scenarios::token(Gvisor, "g_c_token", Lang::C);
        assert_eq!(rust, c, "same calls, same storage and logs");
    }
}

#[test]
fn nested_call() {
    if gvisor_enabled() {
        scenarios::nested_call(Gvisor, "g_nested");
    }
}

#[test]
fn hostile_contracts_are_contained() {
    if gvisor_enabled() {
        scenarios::hostile_common(Gvisor, "g_hostile", ProcessMode::PerCall);
    }
}

#[test]
fn hostile_contracts_are_contained_in_persistent_processes() {
    if gvisor_enabled() {
        scenarios::hostile_common(Gvisor, "g_hostile_persistent", ProcessMode::Persistent);
    }
}

#[test]
fn preloaded_slots() {
    if gvisor_enabled() {
        scenarios::preloaded_slots(Gvisor, "g_preload");
    }
}

#[test]
fn persistent_processes() {
    if gvisor_enabled() {
        scenarios::persistent_processes(Gvisor, "g_persistent");
    }
}

#[test]
fn persistent_process_writing_while_idle() {
    if gvisor_enabled() {
        scenarios::persistent_process_writing_while_idle(Gvisor, "g_idle_write");
    }
}

#[test]
fn bad_deploys() {
    if gvisor_enabled() {
        scenarios::bad_deploys(Gvisor, "g_bad_deploys");
    }
}

/// What only a sandbox contains: the host's files, the network, a fork bomb.
#[test]
fn sandbox_isolation() {
    if !gvisor_enabled() {
        return;
    }
    let rt = runtime(Gvisor, "g_isolation", |c| c.limits.call_time_ms = 1_000);
    let h = Hostile::new(&rt);

    // The host's files are not there (ENOENT = 2), whatever the uid.
    assert!(
        std::path::Path::new("/etc/shadow").exists(),
        "the host has /etc/shadow"
    );
    let o = h.run(b"f", GAS);
    let text = String::from_utf8_lossy(&o.output).into_owned();
    assert!(o.is_success(), "{o:?}");
    assert!(
        text.contains("shadow=2;") && text.contains("passwd=2;") && text.contains("root=2;"),
        "{text}"
    );
    assert!(text.contains("host_tmp=2;"), "{text}");

    // No network: a listener on the host's loopback is unreachable, the internet too.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let o = h.run(&[b'n', (port >> 8) as u8, port as u8], GAS);
    let text = String::from_utf8_lossy(&o.output).into_owned();
    assert!(o.is_success(), "{o:?}");
    assert!(
        !text.contains("local=0;") && !text.contains("remote=0;"),
        "connected: {text}"
    );
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "nothing reached the host's listener"
    );

    // A fork bomb hits the process limit and the wall clock; the sandbox survives it.
    h.expect(
        b"b",
        1_000_000_000,
        FailureKind::Timeout,
        "wall-clock limit",
    );
    h.still_serves();
}

fn runsc_ids(instance: &str) -> Vec<String> {
    let root = format!("/var/tmp/rampart-native-tests/{instance}/gvisor/runsc");
    let out = Command::new("runsc")
        .args(["--root", &root, "list", "-quiet"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(&format!("rampart-{instance}-")))
        .map(str::to_owned)
        .collect()
}

/// Sandboxes of a node that vanished without shutting down (kill -9) are removed when the node
/// instance starts again; a shut-down runtime leaves nothing.
#[test]
fn no_leaked_sandboxes() {
    if !gvisor_enabled() {
        return;
    }
    let instance = "g_leaks";
    let rt = runtime(Gvisor, instance, |_| {});
    let h = Hostile::new(&rt);
    rt.prewarm(h.code, &h.bins, 2).unwrap();
    h.still_serves();
    assert_eq!(runsc_ids(instance).len(), 2, "two warm sandboxes");
    // Vanish without clean-up, as a killed node would (the sandboxes keep running).
    std::mem::forget(h);
    std::mem::forget(rt);
    assert_eq!(runsc_ids(instance).len(), 2);

    let rt = runtime(Gvisor, instance, |_| {});
    assert!(runsc_ids(instance).is_empty(), "leftovers removed at start");
    let bundles = format!("/var/tmp/rampart-native-tests/{instance}/gvisor/bundles");
    assert_eq!(
        std::fs::read_dir(&bundles).unwrap().count(),
        0,
        "stale bundles removed"
    );
    let h = Hostile::new(&rt);
    h.still_serves();
    assert_eq!(runsc_ids(instance).len(), 1);
    drop(h);
    drop(rt);
    assert!(
        runsc_ids(instance).is_empty(),
        "shutdown removes every sandbox"
    );
    let dir = format!("/var/tmp/rampart-native-tests/{instance}");
    assert!(
        !std::path::Path::new(&dir).exists(),
        "shutdown removes the instance's work directory {dir}"
    );
}
