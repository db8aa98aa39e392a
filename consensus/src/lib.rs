//! Raft ordering for Rampart (raft-rs). Orders opaque entries; never depends on the executor.
