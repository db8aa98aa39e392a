//! Write Rampart native contracts in Rust.
//!
//! A native contract is a static x86-64 Linux executable. [`run`] serves its calls: it reads each
//! call, runs the contract's function, which talks to the node through framed stdin/stdout
//! (`proto/NATIVE_ABI.md`), and ends the call with a return or a revert. The host runs each call
//! in a fresh process unless the contract was deployed with persistent processes, in which case
//! one process may serve many calls: keep nothing you rely on in memory between calls. This
//! crate is that protocol plus Solidity ABI helpers (`alloy-sol-types`), so a contract is
//! callable exactly like a Solidity one.
//!
//! ```no_run
//! use alloy_sol_types::{sol, SolCall};
//! use rampart_sdk::{storage, Call};
//!
//! sol! {
//!     function get() external view returns (uint256);
//!     function increment() external returns (uint256);
//! }
//!
//! fn main() {
//!     rampart_sdk::run(|call: &Call| {
//!         let slot = alloy_primitives::U256::ZERO;
//!         match call.selector() {
//!             Some(getCall::SELECTOR) => Ok(getCall::abi_encode_returns(&storage::read_u256(slot))),
//!             Some(incrementCall::SELECTOR) => {
//!                 let v = storage::read_u256(slot) + alloy_primitives::U256::from(1);
//!                 storage::write_u256(slot, v);
//!                 Ok(incrementCall::abi_encode_returns(&v))
//!             }
//!             _ => Err(rampart_sdk::revert_message("unknown selector")),
//!         }
//!     })
//! }
//! ```
//!
//! Build it static: `RUSTFLAGS='-C target-feature=+crt-static' cargo build --release
//! --target x86_64-unknown-linux-gnu`.

pub mod abi;
pub mod storage;

use std::io::{Read, Write};

pub use alloy_primitives::{Address, B256, U256};
pub use alloy_sol_types;

/// The call being run.
#[derive(Debug, Clone)]
pub struct Call {
    /// `msg.sender`.
    pub caller: Address,
    /// `address(this)`: whose storage this call uses.
    pub address: Address,
    /// Where the code lives (differs from `address` under DELEGATECALL).
    pub code_address: Address,
    /// `tx.origin`.
    pub origin: Address,
    pub value: U256,
    pub gas_limit: u64,
    pub block_number: u64,
    pub timestamp: u64,
    pub chain_id: u64,
    /// A STATICCALL: writes and logs would fail the call.
    pub is_static: bool,
    pub calldata: Vec<u8>,
}

impl Call {
    /// The first four bytes of the calldata (the Solidity function selector).
    pub fn selector(&self) -> Option<[u8; 4]> {
        self.calldata.get(..4).and_then(|s| s.try_into().ok())
    }
}

/// How a call ends: `Ok(return data)` or `Err(revert data)`.
pub type Outcome = Result<Vec<u8>, Vec<u8>>;

/// Serves calls until the host closes stdin: reads each call, runs `f`, returns or reverts.
/// Never returns.
pub fn run(mut f: impl FnMut(&Call) -> Outcome) -> ! {
    loop {
        let Some(call) = next_call() else {
            std::process::exit(0)
        };
        answer(f(&call));
    }
}

/// Ends the call with `outcome` and exits the process (one call per process, without [`run`]).
pub fn finish(outcome: Outcome) -> ! {
    answer(outcome);
    std::process::exit(0)
}

/// Writes the call's return or revert.
fn answer(outcome: Outcome) {
    match outcome {
        Ok(data) => frame::write(frame::TAG_RETURN, &[&data]),
        Err(data) => frame::write(frame::TAG_REVERT, &[&data]),
    }
}

/// Revert data for `require(false, message)`: Solidity's `Error(string)`.
pub fn revert_message(message: &str) -> Vec<u8> {
    use alloy_sol_types::SolError;
    alloy_sol_types::Revert::from(message).abi_encode()
}

/// Reads the CALL frame (one call per process, without [`run`]). Call once, first.
pub fn read_call() -> Call {
    next_call().unwrap_or_else(|| frame::die("stdin closed before the call"))
}

/// The next call, or `None` when the host closed stdin between calls.
fn next_call() -> Option<Call> {
    frame::hello();
    storage::known::clear();
    let (mut tag, mut p) = frame::read_or_eof()?;
    if tag == frame::TAG_PRELOAD {
        if p.len() % 64 != 0 {
            frame::die("a PRELOAD frame that is not 64-byte entries");
        }
        for e in p.chunks(64) {
            storage::known::put(B256::from_slice(&e[..32]), B256::from_slice(&e[32..]));
        }
        (tag, p) = frame::read();
    }
    if tag != frame::TAG_CALL || p.len() < 145 {
        frame::die("the first frame is not a CALL");
    }
    let u64_at = |at: usize| u64::from_le_bytes(p[at..at + 8].try_into().unwrap_or([0; 8]));
    Some(Call {
        caller: Address::from_slice(&p[0..20]),
        address: Address::from_slice(&p[20..40]),
        code_address: Address::from_slice(&p[40..60]),
        origin: Address::from_slice(&p[60..80]),
        value: U256::from_be_slice(&p[80..112]),
        gas_limit: u64_at(112),
        block_number: u64_at(120),
        timestamp: u64_at(128),
        chain_id: u64_at(136),
        is_static: p[144] & 1 == 1,
        calldata: p[145..].to_vec(),
    })
}

/// Emits a log with up to four topics.
pub fn log(topics: &[B256], data: &[u8]) {
    assert!(topics.len() <= 4, "at most 4 topics");
    let n = [topics.len() as u8];
    let mut parts: Vec<&[u8]> = vec![&n];
    parts.extend(topics.iter().map(|t| t.as_slice()));
    parts.push(data);
    frame::write(frame::TAG_LOG, &parts);
}

/// Emits a Solidity event.
pub fn emit<E: alloy_sol_types::SolEvent>(event: &E) {
    let d = event.encode_log_data();
    log(d.topics(), &d.data);
}

/// How [`call`] calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Call = 0,
    StaticCall = 1,
    DelegateCall = 2,
}

/// The result of a call to another contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallResult {
    pub success: bool,
    /// Return data, or revert data when `!success`.
    pub output: Vec<u8>,
    pub gas_used: u64,
}

/// Calls another contract (EVM or native).
pub fn call(kind: CallKind, target: Address, value: U256, gas: u64, input: &[u8]) -> CallResult {
    let head = [kind as u8];
    let value = value.to_be_bytes::<32>();
    let gas = gas.to_le_bytes();
    frame::write(
        frame::TAG_CALL_CONTRACT,
        &[&head, target.as_slice(), &value, &gas, input],
    );
    // The callee may change this storage (re-entrancy, DELEGATECALL): forget what was known.
    storage::known::clear();
    let (tag, p) = frame::read();
    if tag != frame::TAG_CALL_RESULT || p.len() < 9 {
        frame::die("expected a CALL_RESULT");
    }
    CallResult {
        success: p[0] == 1,
        gas_used: u64::from_le_bytes(p[1..9].try_into().unwrap_or([0; 8])),
        output: p[9..].to_vec(),
    }
}

/// The framed protocol (`proto/NATIVE_ABI.md`).
pub mod frame {
    use super::*;

    pub const TAG_CALL: u8 = 0x01;
    pub const TAG_STORAGE_VALUE: u8 = 0x02;
    pub const TAG_CALL_RESULT: u8 = 0x03;
    pub const TAG_PRELOAD: u8 = 0x04;
    pub const TAG_STORAGE_READ: u8 = 0x10;
    pub const TAG_STORAGE_WRITE: u8 = 0x11;
    pub const TAG_LOG: u8 = 0x12;
    pub const TAG_CALL_CONTRACT: u8 = 0x13;
    pub const TAG_STORAGE_SEEN: u8 = 0x14;
    pub const TAG_RETURN: u8 = 0x1E;
    pub const TAG_REVERT: u8 = 0x1F;
    pub const TAG_HELLO: u8 = 0x20;
    /// HELLO feature bit: this process takes PRELOAD frames.
    pub const FEATURE_PRELOAD: u32 = 1;

    /// Tells the host, once, before the first read, what this process understands.
    pub(crate) fn hello() {
        static SENT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if !SENT.swap(true, std::sync::atomic::Ordering::Relaxed) {
            write(TAG_HELLO, &[&FEATURE_PRELOAD.to_le_bytes()]);
        }
    }

    /// Output held back: storage writes, logs and reads answered from what the call knows are
    /// not answered, so they go out with the next
    /// frame that is (a read, a call) or that ends the call, in one write.
    static HELD: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());
    /// Held output is written out once it reaches this many bytes.
    const HOLD_BYTES: usize = 16 << 10;

    /// Writes one frame made of `parts`. Storage writes and logs may be held (see `HELD`);
    /// any other frame is written at once, after what was held.
    pub fn write(tag: u8, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut buf = HELD.lock().unwrap_or_else(|p| p.into_inner());
        buf.reserve(5 + len);
        buf.extend_from_slice(&(len as u32).to_le_bytes());
        buf.push(tag);
        for p in parts {
            buf.extend_from_slice(p);
        }
        if matches!(tag, TAG_STORAGE_WRITE | TAG_LOG | TAG_STORAGE_SEEN) && buf.len() < HOLD_BYTES {
            return;
        }
        let mut out = std::io::stdout().lock();
        if out.write_all(&buf).and_then(|()| out.flush()).is_err() {
            // The host is gone: nothing left to do.
            std::process::exit(1);
        }
        buf.clear();
    }

    /// Reads one frame: (tag, payload).
    pub fn read() -> (u8, Vec<u8>) {
        read_or_eof().unwrap_or_else(|| std::process::exit(1))
    }

    /// Reads one frame; `None` at a clean end of stdin (before a frame).
    pub fn read_or_eof() -> Option<(u8, Vec<u8>)> {
        let mut input = std::io::stdin().lock();
        let mut header = [0u8; 5];
        let first = loop {
            match input.read(&mut header) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => std::process::exit(1),
            }
        };
        if first == 0 {
            return None;
        }
        if input.read_exact(&mut header[first..]).is_err() {
            std::process::exit(1);
        }
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let mut payload = vec![0u8; len];
        if input.read_exact(&mut payload).is_err() {
            std::process::exit(1);
        }
        Some((header[4], payload))
    }

    pub(crate) fn die(why: &str) -> ! {
        eprintln!("rampart-sdk: {why}");
        std::process::exit(1)
    }
}
