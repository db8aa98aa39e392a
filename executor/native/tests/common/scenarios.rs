//! Test scenarios shared by the process and gVisor backends.

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::{SolCall, SolError, SolEvent, sol};
use rampart_native::*;

use super::*;

sol! {
    function get() external view returns (uint256);
    function increment() external returns (uint256);
    function add(uint256 by) external returns (uint256);
    event Incremented(address indexed by, uint256 value);

    function balanceOf(address who) external view returns (uint256);
    function allowance(address owner, address spender) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function approve(address spender, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function mint(address to, uint256 amount) external returns (bool);
    function totalSupply() external view returns (uint256);
    event Transfer(address indexed from, address indexed to, uint256 value);
}

pub const GAS: u64 = 10_000_000;

/// Storage slots, sorted.
pub type Storage = Vec<((Address, B256), B256)>;

#[derive(Clone, Copy, Debug)]
pub enum Lang {
    Rust,
    C,
}

fn u256(o: &CallOutcome) -> U256 {
    assert!(o.is_success(), "{o:?}");
    U256::from_be_slice(&o.output)
}

/// Counter: increments, reads, add, its event, a revert, a static-call violation, out of gas.
pub fn counter(backend: BackendKind, instance: &str, lang: Lang) {
    let rt = runtime(backend, instance, |_| {});
    let mut bins = Binaries::default();
    let a = artifacts();
    let code = bins.add(match lang {
        Lang::Rust => &a.rust_counter,
        Lang::C => &a.c_counter,
    });
    let mut host = TestHost::new(&rt, &bins);
    let (me, counter) = (addr(1), addr(0xc0));

    for i in 1..=3u64 {
        let o = host.run(code, ctx(me, counter, incrementCall {}.abi_encode(), GAS));
        assert_eq!(u256(&o), U256::from(i));
        assert_eq!(o.stats.state_reads, 1);
        assert_eq!(o.stats.state_writes, 1);
        // Base, 4 bytes of calldata, one read (cold the first time), one write (warm after the
        // read: set, then reset), one log with two topics and 32 bytes, 32 bytes returned. The
        // same figure every time: nothing depends on how long the call took.
        let state = if i == 1 { 2_100 + 20_000 } else { 100 + 2_900 };
        let expected = GasSchedule::default().call_base + 3 * 4 + state + 375 + 750 + 256 + 3 * 32;
        assert_eq!(o.gas_used, expected, "{o:?}");
        assert_eq!(o.stats.exec_gas, 3 * 32);
    }
    let o = host.run(
        code,
        ctx(me, counter, addCall { by: U256::from(5) }.abi_encode(), GAS),
    );
    assert_eq!(u256(&o), U256::from(8));
    assert_eq!(
        u256(&host.run(code, ctx(me, counter, getCall {}.abi_encode(), GAS))),
        U256::from(8)
    );
    assert_eq!(host.slot(counter, B256::ZERO), B256::from(U256::from(8)));

    // Events as Solidity would emit them.
    assert_eq!(host.logs.len(), 4);
    let (emitter, topics, data) = &host.logs[3];
    assert_eq!(*emitter, counter);
    assert_eq!(topics[0], Incremented::SIGNATURE_HASH);
    assert_eq!(topics[1], me.into_word());
    assert_eq!(U256::from_be_slice(data), U256::from(8));

    // Unknown function: a revert with Error(string), no state change.
    let o = host.run(code, ctx(me, counter, vec![1, 2, 3, 4], GAS));
    assert_eq!(o.status, CallStatus::Revert);
    let msg = alloy_sol_types::Revert::abi_decode(&o.output).unwrap();
    assert!(msg.reason.contains("unknown function"), "{msg:?}");
    assert!(o.gas_used < GAS);

    // A write in a static call fails the call.
    let mut c = ctx(me, counter, incrementCall {}.abi_encode(), GAS);
    c.is_static = true;
    let o = host.run(code, c);
    assert_failed(
        &o,
        FailureKind::StaticViolation,
        "storage write in a static call",
    );
    assert_eq!(o.gas_used, GAS);

    // Out of gas on the write: nothing changes, all gas used.
    let tight = GasSchedule::default().call_base + 3_000;
    let o = host.run(code, ctx(me, counter, incrementCall {}.abi_encode(), tight));
    assert_failed(&o, FailureKind::OutOfGas, "out of gas: storage write");
    assert_eq!(o.gas_used, tight);
    assert_eq!(host.slot(counter, B256::ZERO), B256::from(U256::from(8)));
    // Not even the base cost.
    let o = host.run(code, ctx(me, counter, getCall {}.abi_encode(), 1_000));
    assert_failed(&o, FailureKind::OutOfGas, "call needs");
}

/// The token: mint, transfer, allowances, a failing transfer, events, and the Solidity storage
/// layout. Returns the final storage and logs, to compare languages.
pub fn token(backend: BackendKind, instance: &str, lang: Lang) -> (Storage, Vec<Log>) {
    let rt = runtime(backend, instance, |_| {});
    let mut bins = Binaries::default();
    let a = artifacts();
    let code = bins.add(match lang {
        Lang::Rust => &a.rust_token,
        Lang::C => &a.c_token,
    });
    let mut host = TestHost::new(&rt, &bins);
    let (alice, bob, carol, token) = (addr(0xa1), addr(0xb0), addr(0xca), addr(0x70));
    let call = |host: &mut TestHost<'_>, from: Address, data: Vec<u8>| {
        host.run(code, ctx(from, token, data, GAS))
    };

    let o = call(
        &mut host,
        alice,
        mintCall {
            to: alice,
            amount: U256::from(1000),
        }
        .abi_encode(),
    );
    assert!(o.is_success(), "{o:?}");
    let o = call(
        &mut host,
        alice,
        transferCall {
            to: bob,
            amount: U256::from(300),
        }
        .abi_encode(),
    );
    assert_eq!(u256(&o), U256::from(1));
    let bal =
        |host: &mut TestHost<'_>, who| u256(&call(host, carol, balanceOfCall { who }.abi_encode()));
    assert_eq!(bal(&mut host, alice), U256::from(700));
    assert_eq!(bal(&mut host, bob), U256::from(300));

    // Too much: revert, nothing moves.
    let o = call(
        &mut host,
        bob,
        transferCall {
            to: carol,
            amount: U256::from(301),
        }
        .abi_encode(),
    );
    assert_eq!(o.status, CallStatus::Revert);
    let msg = alloy_sol_types::Revert::abi_decode(&o.output).unwrap();
    assert_eq!(msg.reason, "ERC20: transfer amount exceeds balance");
    assert_eq!(bal(&mut host, bob), U256::from(300));

    // Only the owner mints.
    let o = call(
        &mut host,
        bob,
        mintCall {
            to: bob,
            amount: U256::from(1),
        }
        .abi_encode(),
    );
    assert_eq!(o.status, CallStatus::Revert);

    // Allowances.
    assert!(
        call(
            &mut host,
            alice,
            approveCall {
                spender: carol,
                amount: U256::from(50)
            }
            .abi_encode()
        )
        .is_success()
    );
    let o = call(
        &mut host,
        carol,
        transferFromCall {
            from: alice,
            to: carol,
            amount: U256::from(40),
        }
        .abi_encode(),
    );
    assert!(o.is_success(), "{o:?}");
    let o = call(
        &mut host,
        carol,
        transferFromCall {
            from: alice,
            to: carol,
            amount: U256::from(11),
        }
        .abi_encode(),
    );
    assert_eq!(o.status, CallStatus::Revert);
    let left = u256(&call(
        &mut host,
        carol,
        allowanceCall {
            owner: alice,
            spender: carol,
        }
        .abi_encode(),
    ));
    assert_eq!(left, U256::from(10));
    assert_eq!(bal(&mut host, carol), U256::from(40));
    assert_eq!(
        u256(&call(&mut host, carol, totalSupplyCall {}.abi_encode())),
        U256::from(1000)
    );

    // Solidity layout: balances at slot 0.
    let mut key = [0u8; 64];
    key[..32].copy_from_slice(alice.into_word().as_slice());
    assert_eq!(
        host.slot(token, keccak256(key)),
        B256::from(U256::from(660))
    );

    // Transfer events: mint, transfer, transferFrom.
    let transfers: Vec<_> = host
        .logs
        .iter()
        .filter(|l| l.1[0] == Transfer::SIGNATURE_HASH)
        .collect();
    assert_eq!(transfers.len(), 3);
    assert_eq!(transfers[1].1[1], alice.into_word());
    assert_eq!(transfers[1].1[2], bob.into_word());

    let mut storage: Vec<_> = host.storage.into_iter().collect();
    storage.sort();
    (storage, host.logs)
}

/// A native contract calls another one (nested `NativeRuntime::call` through the state host).
pub fn nested_call(backend: BackendKind, instance: &str) {
    let rt = runtime(backend, instance, |_| {});
    let mut bins = Binaries::default();
    let a = artifacts();
    let counter = bins.add(&a.rust_counter);
    let hostile = bins.add(&a.hostile);
    let mut host = TestHost::new(&rt, &bins);
    let counter_at = addr(0xc0);
    host.natives.insert(counter_at, counter);
    let mut data = vec![b'c'];
    data.extend_from_slice(counter_at.as_slice());
    data.extend(incrementCall {}.abi_encode());
    for i in 1..=2u64 {
        let o = host.run(hostile, ctx(addr(1), addr(0xee), data.clone(), GAS));
        assert!(o.is_success(), "{o:?}");
        assert_eq!(o.output[0], 1, "nested call succeeded");
        assert_eq!(U256::from_be_slice(&o.output[1..]), U256::from(i));
        assert_eq!(o.stats.nested_calls, 1);
        // At least the callee's state access: a cold read (2,100) and a write — setting a zero
        // slot (20,000) the first time, resetting it (2,900) the second; its call base, data
        // and log come on top.
        let state_gas = if i == 1 {
            2_100 + 20_000
        } else {
            2_100 + 2_900
        };
        assert!(o.stats.nested_gas >= state_gas, "{o:?}");
    }
    // The callee's storage is its own; its event names it.
    assert_eq!(host.slot(counter_at, B256::ZERO), B256::from(U256::from(2)));
    assert_eq!(host.logs[0].0, counter_at);
    assert_eq!(
        host.logs[0].1[1],
        addr(0xee).into_word(),
        "msg.sender of the nested call"
    );
}

/// Preloaded slots move latency only: the same calls on a runtime that preloads and on one that
/// does not give the same outputs, gas and statistics; a slot the contract wrote is read back
/// with its new value, and a slot a nested (re-entrant) call changed with the callee's value.
pub fn preloaded_slots(backend: BackendKind, instance: &str) {
    let run_all = |preload_slots: u32| {
        let rt = runtime(backend, &format!("{instance}_{preload_slots}"), |c| {
            c.limits.preload_slots = preload_slots;
        });
        let mut bins = Binaries::default();
        let hostile = bins.add(&artifacts().hostile);
        let mut host = TestHost::new(&rt, &bins);
        let me = addr(0xbe);
        host.natives.insert(me, hostile);
        // `v` on `me`'s storage, calling `me` again with `i` (slot 0 + 1, re-entrant).
        let mut data = vec![b'v'];
        data.extend_from_slice(me.as_slice());
        data.push(b'i');
        let mut seen = Vec::new();
        for n in 1..=4u64 {
            host.warm.clear();
            let peeks = host.peeks;
            let o = host.run(hostile, ctx(addr(1), me, data.clone(), GAS));
            assert!(o.is_success(), "{o:?}");
            let word = |i: usize| U256::from_be_slice(&o.output[32 * i..32 * i + 32]).to::<u64>();
            assert_eq!(
                (word(0), word(1), word(2)),
                (2 * n - 1, 2 * n, 0),
                "call {n}: the written value, the callee's value, an untouched slot"
            );
            assert_eq!(o.stats.state_reads, 4);
            seen.push((
                o.gas_used,
                o.stats.state_reads,
                o.stats.state_writes,
                o.stats.nested_gas,
            ));
            if n == 1 {
                assert_eq!(host.peeks, 0, "nothing known before the first call");
            }
            if n == 4 {
                assert_eq!(
                    host.peeks > peeks,
                    preload_slots > 0,
                    "slot 0 preloaded by now"
                );
            }
        }
        assert_eq!(host.slot(me, B256::ZERO), B256::from(U256::from(8)));

        // A contract without an SDK (no HELLO: never sent a PRELOAD) reads slot 0 twice: the
        // host answers the second read from the first's answer, and from the third call on
        // (slot 0 read by the last two calls) with preloading both.
        let plain = bins.add(&artifacts().plain);
        let mut host = TestHost::new(&rt, &bins);
        let at = addr(0xbf);
        host.natives.insert(at, plain);
        for n in 1..=4u64 {
            let o = host.run(plain, ctx(addr(1), at, b"x".to_vec(), GAS));
            assert!(o.is_success(), "{o:?}");
            let word = |i: usize| U256::from_be_slice(&o.output[32 * i..32 * i + 32]).to::<u64>();
            assert_eq!((word(0), word(1), word(2)), (n - 1, n - 1, n));
            let answered_in_sandbox = if preload_slots > 0 && n > 2 { 2 } else { 1 };
            assert_eq!(
                (o.stats.state_reads, o.stats.preloaded_reads),
                (2, answered_in_sandbox),
                "call {n}"
            );
            seen.push((o.gas_used, o.stats.state_reads, o.stats.state_writes, 0));
        }
        rt.shutdown();
        seen
    };
    assert_eq!(
        run_all(16),
        run_all(0),
        "preloading changes nothing but latency"
    );
}

/// A call that knows more slots than the SDK keeps for it (1,536): the reads past the SDK's table
/// are asked of the host, which answers those it already answered once, and the node the rest;
/// every read is accounted for and the values are right.
pub fn more_slots_than_the_sdk_keeps(backend: BackendKind, instance: &str) {
    let rt = runtime(backend, instance, |_| {});
    let h = Hostile::new(&rt);
    let o = h.run(b"a", 1_000_000_000);
    assert!(o.is_success(), "{o:?}");
    let sum = U256::from_be_slice(&o.output).to::<u64>();
    assert_eq!(
        sum,
        2 * (1..=600u64).sum::<u64>(),
        "slots 1-600 hold their number, the rest 0"
    );
    assert_eq!((o.stats.state_writes, o.stats.state_reads), (600, 3_400));
    // Answered in the sandbox: the first pass's 600 written slots (SDK), the whole second pass
    // (1,536 by the SDK, 164 by the host from the node's first answers).
    assert_eq!(o.stats.preloaded_reads, 600 + 1_700, "{o:?}");
    rt.shutdown();
}

/// One hostile act and what must come of it; then a normal call on the same runtime works.
pub struct Hostile<'a> {
    pub rt: &'a NativeRuntime,
    pub bins: Binaries,
    pub code: B256,
    /// How the calls run: the hostile contract is built on `rampart_serve`, so under
    /// [`ProcessMode::Persistent`] each act runs in a process that served the calls before it.
    pub mode: ProcessMode,
}

impl<'a> Hostile<'a> {
    pub fn new(rt: &'a NativeRuntime) -> Self {
        Self::with_mode(rt, ProcessMode::PerCall)
    }

    pub fn with_mode(rt: &'a NativeRuntime, mode: ProcessMode) -> Self {
        let mut bins = Binaries::default();
        let code = bins.add(&artifacts().hostile);
        Self {
            rt,
            bins,
            code,
            mode,
        }
    }

    pub fn run(&self, calldata: &[u8], gas: u64) -> CallOutcome {
        let mut host = TestHost::new(self.rt, &self.bins);
        let started = std::time::Instant::now();
        let code = NativeCode {
            code_hash: self.code,
            mode: self.mode,
        };
        let o = host.run(code, ctx(addr(1), addr(0xbd), calldata.to_vec(), gas));
        eprintln!(
            "hostile {:?}: {:?} in {:?}",
            calldata.first().map(|c| *c as char),
            o.status,
            started.elapsed()
        );
        if !o.is_success() {
            assert!(host.storage.is_empty(), "a failed call leaves no state");
        }
        o
    }

    /// The `p` act: (calls the process that ran it has served, its pid, gas used).
    pub fn process(&self) -> (u64, u64, u64) {
        let o = self.run(b"p", GAS);
        assert!(o.is_success(), "{o:?}");
        assert_eq!(o.output.len(), 64, "{o:?}");
        let word = |i: usize| U256::from_be_slice(&o.output[32 * i..32 * i + 32]).to::<u64>();
        (word(0), word(1), o.gas_used)
    }

    /// The runtime still serves calls.
    #[track_caller]
    pub fn still_serves(&self) {
        let o = self.run(b"r", GAS);
        assert!(o.is_success(), "the next call after a hostile one: {o:?}");
        assert_eq!(&o.output[..], b"ok");
    }

    #[track_caller]
    pub fn expect(&self, calldata: &[u8], gas: u64, kind: FailureKind, needle: &str) {
        let o = self.run(calldata, gas);
        assert_failed(&o, kind, needle);
        assert_eq!(o.gas_used, gas, "a failure uses all gas");
        self.still_serves();
    }
}

/// The hostile acts both backends contain (no isolation needed).
pub fn hostile_common(backend: BackendKind, instance: &str, mode: ProcessMode) {
    let rt = runtime(backend, instance, |c| {
        c.limits.call_time_ms = 1_000;
        // A quarter of the default: under gVisor's ptrace platform every page the memory hog
        // touches is a slow fault, and 256 MiB of them came close to the 1 s wall clock on two
        // loaded cores (the wall clock then ended the call before the memory limit did).
        c.limits.memory_bytes = 64 << 20;
    });
    let h = Hostile::with_mode(&rt, mode);
    h.still_serves();
    // Spin: the wall-clock limit ends it, whatever gas it has; a failure uses all of it.
    h.expect(
        b"s",
        1_000_000_000,
        FailureKind::Timeout,
        "wall-clock limit of 1000 ms",
    );
    h.expect(
        b"s",
        GasSchedule::default().call_base + 50_000,
        FailureKind::Timeout,
        "wall-clock limit",
    );
    h.expect(
        b"m",
        1_000_000_000,
        FailureKind::MemoryLimit,
        "memory limit of 64 MiB",
    );
    h.expect(
        b"o",
        GAS,
        FailureKind::StateLimit,
        "log limit of 256 per call",
    );
    h.expect(
        b"w",
        1_000_000_000,
        FailureKind::StateLimit,
        "state write limit of 1000 per call",
    );
    h.expect(b"w", GAS, FailureKind::OutOfGas, "out of gas");
    h.expect(&[b'g', 0], GAS, FailureKind::Protocol, "unknown tag 0x77");
    h.expect(
        &[b'g', 1],
        GAS,
        FailureKind::OutputLimit,
        "exceeds the limit of 1048576 bytes",
    );
    h.expect(&[b'g', 2], GAS, FailureKind::Protocol, "inside a frame");
    h.expect(
        &[b'g', 3],
        GAS,
        FailureKind::Protocol,
        "STORAGE_READ needs a 32-byte key",
    );
    // A read the contract says it answered itself is checked against the state.
    h.expect(
        &[b'g', 4],
        GAS,
        FailureKind::Protocol,
        "was answered in the sandbox with 0x000000000000000000000000000000000000000000000000000000000000002a, the state holds 0x0000",
    );
    h.expect(
        &[b'g', 5],
        GAS,
        FailureKind::Protocol,
        "HELLO needs 4 bytes",
    );
    h.expect(
        b"x",
        GAS,
        FailureKind::Crashed,
        "exited with status 3 without returning; stderr: giving up",
    );

    // The contract cannot kill its host (another uid)...
    let o = h.run(b"k", GAS);
    assert!(o.is_success(), "{o:?}");
    let text = String::from_utf8_lossy(&o.output).into_owned();
    assert!(
        text.contains("kill_pid1=1;") || text.contains("kill_pid1=3;"),
        "{text}"
    );
    assert!(text.contains("kill_parent=1;"), "the host survives: {text}");
    h.still_serves();
    // ...but if the host dies anyway, the sandbox is replaced and the next call works.
    assert!(rt.kill_idle_host(h.code), "an idle sandbox to kill");
    h.still_serves();
    // A daemon left behind does not disturb the next calls.
    assert!(h.run(b"e", GAS).is_success());
    h.still_serves();
    h.still_serves();
}

/// A kept process that has used half its CPU-time limit (`RLIMIT_CPU` counts over the process's
/// life) is not kept: the next call must not inherit a nearly spent limit.
pub fn persistent_process_past_half_its_cpu(backend: BackendKind, instance: &str) {
    let rt = runtime(backend, instance, |c| {
        c.limits.persistent_process_calls = 100;
        c.limits.cpu_seconds = 1;
        c.pool.max_per_contract = 1;
    });
    let h = Hostile::with_mode(&rt, ProcessMode::Persistent);
    let (_, pid, _) = h.process();
    assert_eq!(h.process().1, pid, "a kept process serves the next call");
    let o = h.run(b"u", GAS); // about 0.6 s of its 1 s of CPU
    assert!(o.is_success(), "{o:?}");
    assert_ne!(
        h.process().1,
        pid,
        "the process past half its CPU time was replaced"
    );
    rt.shutdown();
}

/// A kept process that writes while no call runs (its stray frame arrives after it was kept)
/// does not serve the next call: that call runs in a fresh process and gets its own answer, not
/// the stray frame.
pub fn persistent_process_writing_while_idle(backend: BackendKind, instance: &str) {
    let rt = runtime(backend, instance, |c| {
        c.limits.persistent_process_calls = 100;
        c.pool.max_per_contract = 1;
    });
    let h = Hostile::with_mode(&rt, ProcessMode::Persistent);
    let (_, pid, _) = h.process();
    let o = h.run(b"l", GAS);
    assert!(o.is_success() && o.output[..] == b"ok"[..], "{o:?}");
    // The stray frame is written 50 ms after the call returned.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (served, next, _) = h.process();
    assert_eq!(served, 1, "the next call ran in a fresh process");
    assert_ne!(next, pid, "the process that wrote while idle was replaced");
    let (served, again, _) = h.process();
    assert_eq!((served, again), (2, next), "and the fresh one is kept");
    rt.shutdown();
}

/// What the calls of a contract deployed with persistent processes see, through the hostile
/// contract's `p` act (calls its process has served, and its pid).
pub fn persistent_processes(backend: BackendKind, instance: &str) {
    let rt = runtime(backend, instance, |c| {
        c.limits.persistent_process_calls = 4;
        // One sandbox, so that every call meets the same host.
        c.pool.max_per_contract = 1;
    });
    let h = Hostile::with_mode(&rt, ProcessMode::Persistent);
    let per_call = Hostile::new(&rt);

    // Consecutive calls share one process, up to `persistent_process_calls`.
    let (n, pid, gas) = h.process();
    assert_eq!(n, 1, "the first call starts a fresh process");
    for expected in 2..=4 {
        assert_eq!(h.process(), (expected, pid, gas), "same process, same gas");
    }
    let (n, pid2, _) = h.process();
    assert_eq!(n, 1, "a process that served its 4 calls is replaced");
    assert_ne!(pid2, pid);

    // A per-call run of the same binary never meets a process that served a call, and leaves
    // the kept one alone.
    let (n, pid3, per_call_gas) = per_call.process();
    assert_eq!(n, 1);
    assert_ne!(pid3, pid2);
    assert_eq!(per_call_gas, gas, "gas does not depend on the process mode");
    assert_eq!(h.process().0, 2);

    // A revert keeps the process (a revert is an answer), ...
    let o = h.run(b"c", GAS);
    assert_eq!(o.status, CallStatus::Revert, "{o:?}");
    assert_eq!(h.process().0, 4);
    // ... a failure does not: the next call runs in a fresh process.
    assert_failed(
        &h.run(&[b'g', 0], GAS),
        FailureKind::Protocol,
        "unknown tag",
    );
    let (n, pid4, _) = h.process();
    assert_eq!(n, 1);
    assert_failed(&h.run(b"x", GAS), FailureKind::Crashed, "status 3");
    let (n, pid5, _) = h.process();
    assert_eq!(n, 1);
    assert_ne!(pid5, pid4);

    // A contract that exits after each answer (one call per process) still works when deployed
    // persistent: a kept process found gone is replaced before the call reaches it.
    for _ in 0..3 {
        let o = h.run(b"q", GAS);
        assert!(o.is_success(), "{o:?}");
        assert_eq!(&o.output[..], b"ok");
        let (n, _, _) = h.process();
        assert_eq!(n, 1, "the process after one that exited is a fresh one");
    }

    // A kept process killed from outside between calls (only the process backend shares our
    // pid namespace): the next call runs in a fresh one and succeeds.
    if backend == BackendKind::Process {
        let (n, pid, _) = h.process();
        assert_eq!(n, 2);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let (n, pid2, _) = h.process();
        assert_eq!(n, 1);
        assert_ne!(pid2, pid);
    }
}

/// Bad deploys: clear errors from `validate_binary`, and a call to a binary that cannot be loaded.
pub fn bad_deploys(backend: BackendKind, instance: &str) {
    let max = Limits::default().binary_bytes;
    assert_eq!(
        validate_binary(b"#!/bin/sh\nrm -rf /\n", max),
        Err(BinaryError::NotElf)
    );
    let mut arm = std::fs::read(&artifacts().c_counter).unwrap();
    arm[18..20].copy_from_slice(&183u16.to_le_bytes());
    assert_eq!(
        validate_binary(&arm, max),
        Err(BinaryError::WrongArchitecture { machine: 183 })
    );
    let dynamic = std::fs::read("/bin/ls").unwrap();
    assert_eq!(validate_binary(&dynamic, max), Err(BinaryError::Dynamic));
    let big = std::fs::read(&artifacts().c_counter).unwrap();
    assert!(matches!(
        validate_binary(&big, 1000),
        Err(BinaryError::TooLarge { .. })
    ));

    let rt = runtime(backend, instance, |_| {});
    let mut bins = Binaries::default();
    let fake = keccak256(b"not a binary");
    bins.0.insert(fake, b"not a binary".to_vec());
    let mut host = TestHost::new(&rt, &bins);
    let o = host.run(fake, ctx(addr(1), addr(2), vec![], GAS));
    assert_failed(&o, FailureKind::BinaryUnavailable, "not an ELF executable");
    let o = host.run(B256::repeat_byte(9), ctx(addr(1), addr(2), vec![], GAS));
    assert_failed(&o, FailureKind::BinaryUnavailable, "unknown binary");
    // The hash must match the bytes.
    let real = std::fs::read(&artifacts().c_counter).unwrap();
    bins.0.insert(B256::repeat_byte(7), real);
    let mut host = TestHost::new(&rt, &bins);
    let o = host.run(B256::repeat_byte(7), ctx(addr(1), addr(2), vec![], GAS));
    assert_failed(&o, FailureKind::BinaryUnavailable, "hashes to");
}
