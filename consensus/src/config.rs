//! `ConsensusConfig`: every bound the consensus core keeps, with its default.

use crate::error::ConsensusError;

/// Configuration of one Raft node. Every size and queue has a bound; the defaults suit a
/// consortium of 3–7 nodes on a LAN/WAN with a 100 ms tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusConfig {
    /// This node's Raft id (non-zero, unique in the cluster, never reused).
    pub id: u64,
    /// Peers this node accepts messages from besides the current configuration: for an initial
    /// member, the other initial voters; for a joining node, the existing members. Ids in
    /// membership changes that reach this node's log are added automatically. Default: empty.
    pub peers: Vec<u64>,
    /// Ticks without a leader before a follower campaigns. Default 10 (1 s at 100 ms ticks).
    pub election_tick: usize,
    /// The election timeout is drawn from `[election_tick, election_tick + election_jitter_ticks)`
    /// so that nodes rarely campaign together. Default 10. Tests set 1 (no randomness inside
    /// raft-rs; the test network supplies it from its seed).
    pub election_jitter_ticks: usize,
    /// Ticks between leader heartbeats. Default 2.
    pub heartbeat_tick: usize,
    /// Largest proposal (one entry's data). Default 8 MiB.
    pub max_entry_size_bytes: u64,
    /// Soft bound on the entries in one append message (at least one entry is always sent).
    /// Default 1 MiB.
    pub max_size_per_msg_bytes: u64,
    /// Append messages in flight to one follower. Default 256.
    pub max_inflight_msgs: usize,
    /// Bytes of proposed but uncommitted entries the leader holds before it drops proposals.
    /// Default 64 MiB.
    pub max_uncommitted_size_bytes: u64,
    /// Bytes of committed entries handed out in one `ReadyOutput` (at least one entry).
    /// Default 32 MiB.
    pub max_committed_size_per_ready_bytes: u64,
    /// Largest snapshot (opaque application bytes) sent or accepted. Default 256 MiB.
    pub max_snapshot_size_bytes: u64,
    /// Compact the log once it holds more than this many applied entries. Default 10 000.
    pub log_compaction_threshold_entries: u64,
    /// Applied entries kept after a compaction, so that slightly lagging followers catch up from
    /// the log instead of a snapshot. Default 1 000.
    pub log_retain_entries: u64,
    /// Pre-vote: a partitioned node does not raise its term and disrupt the leader when it
    /// returns. Default true.
    pub pre_vote: bool,
    /// A leader steps down when it has not heard from a quorum for an election timeout.
    /// Default true.
    pub check_quorum: bool,
}

impl ConsensusConfig {
    /// Defaults for node `id`.
    pub fn new(id: u64) -> Self {
        Self {
            id,
            peers: Vec::new(),
            election_tick: 10,
            election_jitter_ticks: 10,
            heartbeat_tick: 2,
            max_entry_size_bytes: 8 << 20,
            max_size_per_msg_bytes: 1 << 20,
            max_inflight_msgs: 256,
            max_uncommitted_size_bytes: 64 << 20,
            max_committed_size_per_ready_bytes: 32 << 20,
            max_snapshot_size_bytes: 256 << 20,
            log_compaction_threshold_entries: 10_000,
            log_retain_entries: 1_000,
            pre_vote: true,
            check_quorum: true,
        }
    }

    /// Bytes of entry payload one inbound append message may carry: raft-rs packs entries up to
    /// `max_size_per_msg_bytes` but always sends at least one entry.
    pub fn max_message_entries_bytes(&self) -> u64 {
        self.max_size_per_msg_bytes.max(self.max_entry_size_bytes)
    }

    /// Largest encoded message accepted from a peer (snapshot messages included); use it to
    /// bound the transport's frames.
    pub fn max_message_size_bytes(&self) -> u64 {
        self.max_message_entries_bytes()
            .max(self.max_snapshot_size_bytes)
            .saturating_add(MESSAGE_OVERHEAD_BYTES)
    }

    /// Checks the bounds; `RaftNode::new` calls it.
    pub fn validate(&self) -> Result<(), ConsensusError> {
        let fail = |m: &str| Err(ConsensusError::Config(m.to_owned()));
        if self.id == 0 {
            return fail("id must be non-zero");
        }
        if self.peers.contains(&0) {
            return fail("peer id 0 is invalid");
        }
        if self.heartbeat_tick == 0 || self.election_tick <= self.heartbeat_tick {
            return fail("need 0 < heartbeat_tick < election_tick");
        }
        if self.election_jitter_ticks == 0 {
            return fail("election_jitter_ticks must be at least 1");
        }
        if self.max_entry_size_bytes == 0
            || self.max_size_per_msg_bytes == 0
            || self.max_inflight_msgs == 0
            || self.max_committed_size_per_ready_bytes == 0
            || self.max_snapshot_size_bytes == 0
        {
            return fail("size and count limits must be non-zero");
        }
        if self.max_uncommitted_size_bytes < self.max_message_entries_bytes() {
            return fail(
                "max_uncommitted_size_bytes must hold a max-size entry and a max-size message",
            );
        }
        if self.log_compaction_threshold_entries == 0
            || self.log_retain_entries >= self.log_compaction_threshold_entries
        {
            return fail("need log_retain_entries < log_compaction_threshold_entries");
        }
        Ok(())
    }

    pub(crate) fn to_raft(&self, applied: u64) -> raft::Config {
        raft::Config {
            id: self.id,
            election_tick: self.election_tick,
            heartbeat_tick: self.heartbeat_tick,
            min_election_tick: self.election_tick,
            max_election_tick: self.election_tick + self.election_jitter_ticks,
            applied,
            max_size_per_msg: self.max_size_per_msg_bytes,
            max_inflight_msgs: self.max_inflight_msgs,
            max_uncommitted_size: self.max_uncommitted_size_bytes,
            max_committed_size_per_ready: self.max_committed_size_per_ready_bytes,
            check_quorum: self.check_quorum,
            pre_vote: self.pre_vote,
            ..raft::Config::default()
        }
    }
}

/// Room for a message's fixed fields and per-entry framing on top of its payload bytes.
pub(crate) const MESSAGE_OVERHEAD_BYTES: u64 = 64 << 10;
