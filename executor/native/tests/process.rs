//! Native contracts on the `process` backend (no isolation): protocol, SDKs, gas, limits.

mod common;

use common::scenarios::{self, Lang};
use rampart_native::BackendKind::Process;
use rampart_native::ProcessMode;

#[test]
fn rust_counter() {
    scenarios::counter(Process, "p_rust_counter", Lang::Rust);
}

#[test]
fn c_counter() {
    scenarios::counter(Process, "p_c_counter", Lang::C);
}

#[test]
fn rust_and_c_tokens_agree() {
    let rust = scenarios::token(Process, "p_rust_token", Lang::Rust);
    let c = scenarios::token(Process, "p_c_token", Lang::C);
    assert_eq!(rust, c, "same calls, same storage and logs");
}

#[test]
fn nested_call() {
    scenarios::nested_call(Process, "p_nested");
}

#[test]
fn hostile_contracts_are_contained() {
    scenarios::hostile_common(Process, "p_hostile", ProcessMode::PerCall);
}

#[test]
fn hostile_contracts_are_contained_in_persistent_processes() {
    scenarios::hostile_common(Process, "p_hostile_persistent", ProcessMode::Persistent);
}

#[test]
fn persistent_processes() {
    scenarios::persistent_processes(Process, "p_persistent");
}

#[test]
fn persistent_process_past_half_its_cpu() {
    scenarios::persistent_process_past_half_its_cpu(Process, "p_half_cpu");
}

#[test]
fn persistent_process_writing_while_idle() {
    scenarios::persistent_process_writing_while_idle(Process, "p_idle_write");
}

#[test]
fn preloaded_slots() {
    scenarios::preloaded_slots(Process, "p_preload");
}

#[test]
fn more_slots_than_the_sdk_keeps() {
    scenarios::more_slots_than_the_sdk_keeps(Process, "p_sdk_table");
}

#[test]
fn bad_deploys() {
    scenarios::bad_deploys(Process, "p_bad_deploys");
}

/// Pids of the contract hosts of the runtime `instance` (their command line names its directory).
fn host_pids(instance: &str) -> Vec<String> {
    let needle = format!("/rampart-{instance}-");
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            (cmd.contains("rampart-contract-host serve") && cmd.contains(&needle))
                .then(|| pid.to_string())
        })
        .collect()
}

fn signal_all(sig: &str, pids: &[String]) {
    let status = std::process::Command::new("kill")
        .arg(sig)
        .args(pids)
        .status()
        .unwrap_or_else(|e| panic!("kill {sig}: {e}"));
    assert!(status.success(), "kill {sig} {pids:?}");
}

/// A host that stops answering before it has sent anything of a call (frozen with SIGSTOP)
/// fails that call with a timeout at the node's own deadline — the node does not wait for the
/// stream to open without bound — and the next call runs on a fresh sandbox.
#[test]
fn a_frozen_host_fails_the_call_at_the_deadline() {
    let rt = common::runtime(Process, "p_frozen", |c| {
        c.limits.call_time_ms = 500;
        c.pool.max_per_contract = 1;
    });
    let h = scenarios::Hostile::new(&rt);
    h.still_serves();
    let hosts = host_pids("p_frozen");
    assert!(!hosts.is_empty(), "a host of p_frozen is running");
    signal_all("-STOP", &hosts);
    let o = h.run(b"r", scenarios::GAS);
    signal_all("-CONT", &hosts);
    common::assert_failed(
        &o,
        rampart_native::FailureKind::Timeout,
        "wall-clock limit of 500 ms exceeded (host unresponsive)",
    );
    h.still_serves();
    rt.shutdown();
}
