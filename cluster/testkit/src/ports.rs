//! Loopback ports for servers a test names before they bind (node configs, peer lists).
//!
//! Binding port 0 and releasing it races: until the server binds the port, the kernel may hand
//! it to another process's `bind(0)` or outgoing `connect()`, and that node never comes up.
//! Ports here come from below the kernel's ephemeral range, which neither ever hands out, and
//! are given out round-robin across every test process on the machine under a file lock, so two
//! tests never get the same port unless [`RANGE_LEN`] ports were handed out in between. A port
//! something else already listens on is skipped.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;

/// First port handed out.
pub const RANGE_START: u16 = 15_000;
/// How many ports the allocator cycles through at most (it stops at the ephemeral range).
pub const RANGE_LEN: u16 = 15_000;

/// A loopback TCP port no other test holds and nothing listens on right now.
///
/// # Panics
/// When the lock file cannot be used or no port in the range binds.
pub fn port() -> u16 {
    let end = ephemeral_low().min(RANGE_START.saturating_add(RANGE_LEN));
    let len = u32::from(end.saturating_sub(RANGE_START)).max(1);
    let mut state = state_file();
    state.lock().expect("lock the test port allocator");
    let mut text = String::new();
    state
        .read_to_string(&mut text)
        .expect("read the port allocator");
    let mut next: u32 = text.trim().parse().unwrap_or(0) % len;
    for _ in 0..len {
        let candidate = RANGE_START + u16::try_from(next).expect("within range");
        next = (next + 1) % len;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, candidate)).is_ok() {
            state.set_len(0).expect("truncate the port allocator");
            state.seek(SeekFrom::Start(0)).expect("seek");
            write!(state, "{next}").expect("write the port allocator");
            return candidate; // the lock goes with the file
        }
    }
    panic!("no free loopback port in {RANGE_START}..{end}");
}

/// [`port`] on 127.0.0.1.
pub fn addr() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port()))
}

fn state_file() -> File {
    let path: PathBuf = std::env::temp_dir().join("rampart-test-ports");
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// The lowest port the kernel hands out on its own (32768 where it cannot be read).
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_bindable_and_outside_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| port()).collect();
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            ports.len(),
            "a port was handed out twice: {ports:?}"
        );
        for p in ports {
            assert!(
                p >= RANGE_START && p < ephemeral_low(),
                "{p} outside the range"
            );
            TcpListener::bind((Ipv4Addr::LOCALHOST, p)).expect("binds");
        }
    }
}
