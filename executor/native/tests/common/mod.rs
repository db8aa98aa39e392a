//! Shared by the native-contract tests: builds the real artefacts (static contract host, Rust
//! and C example contracts, hostile contracts), an in-memory [`StateHost`], and a harness.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use rampart_native::*;

pub use rampart_native::testing::artifacts;

/// Whether gVisor tests run: they need root and runsc, and fail (not skip) without them unless
/// `RAMPART_SKIP_GVISOR=1` says to skip.
pub fn gvisor_enabled() -> bool {
    if std::env::var("RAMPART_SKIP_GVISOR").as_deref() == Ok("1") {
        eprintln!("RAMPART_SKIP_GVISOR=1: skipping a gVisor test");
        return false;
    }
    let runsc = Command::new("runsc").arg("--version").output();
    assert!(
        runsc.is_ok_and(|o| o.status.success()),
        "gVisor tests need `runsc` (Debian: apt-get install runsc; scripts/setup.sh installs it); \
         set RAMPART_SKIP_GVISOR=1 to skip them explicitly"
    );
    assert!(
        nix::unistd::geteuid().is_root(),
        "gVisor tests need root; set RAMPART_SKIP_GVISOR=1 to skip them explicitly"
    );
    true
}

/// Binaries by code hash: the loader the runtime pulls from.
#[derive(Default)]
pub struct Binaries(pub HashMap<B256, Vec<u8>>);

impl Binaries {
    pub fn add(&mut self, path: &Path) -> B256 {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        validate_binary(&bytes, Limits::default().binary_bytes).unwrap();
        let h = keccak256(&bytes);
        self.0.insert(h, bytes);
        h
    }
}

impl BinaryLoader for Binaries {
    fn load(&self, code_hash: B256) -> Result<Vec<u8>, String> {
        self.0
            .get(&code_hash)
            .cloned()
            .ok_or_else(|| format!("unknown binary {code_hash}"))
    }
}

pub type Log = (Address, Vec<B256>, Vec<u8>);

/// In-memory state with EVM-like journaling: a failed or reverted call's writes and logs are
/// undone. Native contracts at known addresses can call each other (nested `NativeRuntime::call`).
pub struct TestHost<'a> {
    pub storage: HashMap<(Address, B256), B256>,
    pub warm: HashSet<(Address, B256)>,
    pub logs: Vec<Log>,
    pub natives: HashMap<Address, B256>,
    pub runtime: &'a NativeRuntime,
    pub loader: &'a Binaries,
    /// Slots the runtime preloaded (peeked) so far.
    pub peeks: u64,
    /// Each write's slot and the value it replaced (`None`: absent), to undo a failed call —
    /// a journal, as the EVM keeps, rather than a copy of the storage per call (which would
    /// grow with the storage and show in the benchmark's latencies).
    undo: Vec<((Address, B256), Option<B256>)>,
    /// Calls running (nested calls included).
    depth: u32,
}

impl<'a> TestHost<'a> {
    pub fn new(runtime: &'a NativeRuntime, loader: &'a Binaries) -> Self {
        Self {
            storage: HashMap::new(),
            warm: HashSet::new(),
            logs: Vec::new(),
            natives: HashMap::new(),
            runtime,
            loader,
            peeks: 0,
            undo: Vec::new(),
            depth: 0,
        }
    }

    /// Runs a call the way the EVM would run a frame: undo everything unless it succeeds.
    pub fn run(&mut self, code: impl Into<NativeCode>, ctx: CallContext) -> CallOutcome {
        let (undo, logs) = (self.undo.len(), self.logs.len());
        let rt = self.runtime;
        let loader = self.loader;
        self.depth += 1;
        let outcome = rt.call(code, loader, ctx, self);
        self.depth -= 1;
        if !outcome.is_success() {
            for (slot, previous) in self.undo.drain(undo..).rev() {
                match previous {
                    Some(v) => self.storage.insert(slot, v),
                    None => self.storage.remove(&slot),
                };
            }
            self.logs.truncate(logs);
        }
        if self.depth == 0 {
            // The outermost call ended: nothing left to undo.
            self.undo.clear();
        }
        outcome
    }

    pub fn slot(&self, address: Address, key: B256) -> B256 {
        self.storage
            .get(&(address, key))
            .copied()
            .unwrap_or_default()
    }
}

impl StateHost for TestHost<'_> {
    fn sload(&mut self, address: Address, key: B256) -> Result<SlotRead, HostError> {
        let cold = self.warm.insert((address, key));
        Ok(SlotRead {
            value: self.slot(address, key),
            cold,
        })
    }

    fn peek(&mut self, address: Address, key: B256) -> Result<B256, HostError> {
        self.peeks += 1;
        Ok(self.slot(address, key))
    }

    fn sstore(&mut self, address: Address, key: B256, value: B256) -> Result<SlotWrite, HostError> {
        let cold = self.warm.insert((address, key));
        let replaced = self.storage.insert((address, key), value);
        self.undo.push(((address, key), replaced));
        Ok(SlotWrite {
            previous: replaced.unwrap_or_default(),
            cold,
        })
    }

    fn log(&mut self, address: Address, topics: &[B256], data: &[u8]) -> Result<(), HostError> {
        self.logs.push((address, topics.to_vec(), data.to_vec()));
        Ok(())
    }

    fn call_contract(
        &mut self,
        from: &CallContext,
        call: NestedCall,
    ) -> Result<NestedCallResult, HostError> {
        let Some(&code_hash) = self.natives.get(&call.target) else {
            // No EVM here: a call to an empty account succeeds with no output.
            return Ok(NestedCallResult {
                success: true,
                output: Bytes::new(),
                gas_used: 0,
            });
        };
        let (caller, address) = match call.kind {
            CallKind::DelegateCall => (from.caller, from.address),
            _ => (from.address, call.target),
        };
        let ctx = CallContext {
            caller,
            address,
            code_address: call.target,
            origin: from.origin,
            value: call.value,
            calldata: call.input,
            gas_limit: call.gas,
            block_number: from.block_number,
            block_timestamp: from.block_timestamp,
            chain_id: from.chain_id,
            is_static: from.is_static || call.kind == CallKind::StaticCall,
        };
        let o = self.run(code_hash, ctx);
        if let Some(f) = o.failure() {
            eprintln!("nested call failed: {f}");
        }
        Ok(NestedCallResult {
            success: o.is_success(),
            output: o.output,
            gas_used: o.gas_used,
        })
    }
}

pub fn ctx(
    caller: Address,
    address: Address,
    calldata: impl Into<Bytes>,
    gas_limit: u64,
) -> CallContext {
    CallContext {
        caller,
        address,
        code_address: address,
        origin: caller,
        value: U256::ZERO,
        calldata: calldata.into(),
        gas_limit,
        block_number: 7,
        block_timestamp: 1_700_000_000,
        chain_id: 1337,
        is_static: false,
    }
}

/// A runtime for one test: its own instance name (so concurrent tests never clean up each
/// other's sandboxes) under a shared work directory.
pub fn runtime(
    backend: BackendKind,
    instance: &str,
    tweak: impl FnOnce(&mut NativeConfig),
) -> NativeRuntime {
    // RUST_LOG=native=debug shows the sandboxes' output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut cfg = NativeConfig::new(backend, &artifacts().host);
    cfg.work_dir = PathBuf::from("/var/tmp/rampart-native-tests");
    cfg.instance = instance.to_owned();
    // The tests share two loaded cores with gVisor sandboxes: a legitimate call must not meet
    // the wall-clock limit by accident (one did at the default 1 s). The tests of the limit
    // itself set the limit they test.
    cfg.limits.call_time_ms = 10_000;
    tweak(&mut cfg);
    NativeRuntime::new(cfg).unwrap_or_else(|e| panic!("native runtime ({backend:?}): {e}"))
}

pub fn addr(n: u8) -> Address {
    Address::repeat_byte(n)
}

/// Asserts a failure of `kind` whose message contains `needle`.
#[track_caller]
pub fn assert_failed(o: &CallOutcome, kind: FailureKind, needle: &str) {
    let f = o
        .failure()
        .unwrap_or_else(|| panic!("expected {kind:?}, got {o:?}"));
    assert_eq!(f.kind, kind, "{f}");
    assert!(
        f.message.contains(needle),
        "message {:?} lacks {needle:?}",
        f.message
    );
}

pub mod scenarios;
