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
fn preloaded_slots() {
    scenarios::preloaded_slots(Process, "p_preload");
}

#[test]
fn bad_deploys() {
    scenarios::bad_deploys(Process, "p_bad_deploys");
}
