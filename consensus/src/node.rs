//! `RaftNode`: one Raft peer over a [`LogStore`], with a transport-agnostic API.
//!
//! The node does no I/O of its own besides its log store and has no threads: the application
//! (or [`crate::driver`]) calls [`tick`](RaftNode::tick), [`step`](RaftNode::step) and
//! [`propose`](RaftNode::propose), then [`on_ready`](RaftNode::on_ready), which persists the
//! Ready in one write (synced when Raft requires it) *before* it hands out the messages to send
//! and the committed entries to apply; the application reports what it applied with
//! [`set_applied`](RaftNode::set_applied).

use std::collections::BTreeSet;

use protobuf::Message as _;
use raft::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
    Entry, EntryType, Message, MessageType, Snapshot,
};
use raft::{RawNode, SnapshotStatus, StateRole};

use crate::config::ConsensusConfig;
use crate::error::{ConsensusError, DropReason, StorageError};
use crate::logging::raft_logger;
use crate::storage::{BOOTSTRAP_INDEX, LogBatch, LogOp, LogStore, RaftStorage, SnapshotSource};

/// Where a successful proposal landed in the leader's log. The entry is committed at this
/// index only if the committed entry there has this term; otherwise leadership changed and the
/// proposal was lost (propose it again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proposed {
    pub index: u64,
    pub term: u64,
}

/// What a committed entry is to the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// Application data, as proposed.
    Data,
    /// The empty entry a new leader commits; nothing to apply.
    Noop,
    /// A membership change, already applied to Raft's configuration (`data` is the encoded
    /// `ConfChangeV2`); nothing to apply beyond recording the index.
    Membership,
}

/// One committed entry, handed out exactly once in log order (again after a restart if the
/// application's applied index was behind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedEntry {
    pub index: u64,
    pub term: u64,
    pub kind: EntryKind,
    pub data: Vec<u8>,
}

/// A snapshot for the application to install: its state must become `data`, as of `index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotToApply {
    pub index: u64,
    pub term: u64,
    pub data: Vec<u8>,
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
}

impl SnapshotToApply {
    fn from_snapshot(s: &Snapshot) -> Self {
        let meta = s.get_metadata();
        let cs = meta.get_conf_state();
        Self {
            index: meta.index,
            term: meta.term,
            data: s.data.to_vec(),
            voters: cs.voters.clone(),
            learners: cs.learners.clone(),
        }
    }
}

/// A change of leader or role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftStateChange {
    pub leader_id: Option<u64>,
    pub role: StateRole,
}

/// What one Ready asks of the application, after the node persisted it:
/// 1. send `messages_to_send` (any order, best effort; Raft tolerates loss);
/// 2. install `snapshot` if any;
/// 3. apply `committed_entries` in order;
/// 4. call [`RaftNode::set_applied`] with the last index applied.
#[derive(Debug, Default)]
pub struct ReadyOutput {
    pub messages_to_send: Vec<Message>,
    pub snapshot: Option<SnapshotToApply>,
    pub committed_entries: Vec<CommittedEntry>,
    pub soft_state: Option<SoftStateChange>,
}

impl ReadyOutput {
    /// The index to pass to `set_applied` once everything here is applied, if anything is.
    pub fn last_index(&self) -> Option<u64> {
        self.committed_entries
            .last()
            .map(|e| e.index)
            .or(self.snapshot.as_ref().map(|s| s.index))
    }
}

/// A node's view of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    pub id: u64,
    pub leader_id: Option<u64>,
    pub role: StateRole,
    pub term: u64,
    pub commit: u64,
    /// Last index the application reported applied.
    pub applied: u64,
    /// Last index handed to the application.
    pub delivered: u64,
    pub first_index: u64,
    pub last_index: u64,
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    /// Voters of the outgoing configuration while in a joint configuration.
    pub voters_outgoing: Vec<u64>,
}

/// Faults that only tests inject, to show that the invariant checks catch what they guard.
#[cfg(feature = "testing")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Write each Ready without fsync and hand out its messages anyway: acknowledgements and
    /// votes go out before they are durable.
    AckBeforePersist,
}

/// Message types peers send each other here. Proposals, leader-transfer and read-index
/// requests are not forwarded between nodes (the cluster forwards transactions itself).
fn is_peer_message_type(t: MessageType) -> bool {
    use MessageType::*;
    matches!(
        t,
        MsgAppend
            | MsgAppendResponse
            | MsgRequestVote
            | MsgRequestVoteResponse
            | MsgRequestPreVote
            | MsgRequestPreVoteResponse
            | MsgSnapshot
            | MsgHeartbeat
            | MsgHeartbeatResponse
            | MsgTimeoutNow
    )
}

fn nonzero(id: u64) -> Option<u64> {
    (id != 0).then_some(id)
}

fn conf_change_of(e: &Entry) -> Result<ConfChangeV2, String> {
    match e.get_entry_type() {
        EntryType::EntryConfChangeV2 => {
            let mut cc = ConfChangeV2::default();
            cc.merge_from_bytes(&e.data)
                .map_err(|err| err.to_string())?;
            Ok(cc)
        }
        EntryType::EntryConfChange => {
            let mut cc = ConfChange::default();
            cc.merge_from_bytes(&e.data)
                .map_err(|err| err.to_string())?;
            let mut single = ConfChangeSingle::default();
            single.set_change_type(cc.get_change_type());
            single.node_id = cc.node_id;
            let mut v2 = ConfChangeV2::default();
            v2.set_changes(vec![single].into());
            Ok(v2)
        }
        EntryType::EntryNormal => Err("not a conf change".into()),
    }
}

fn members(cs: &ConfState) -> impl Iterator<Item = u64> + '_ {
    cs.voters
        .iter()
        .chain(&cs.learners)
        .chain(&cs.voters_outgoing)
        .chain(&cs.learners_next)
        .copied()
}

/// One Raft peer. See the crate documentation for the Ready loop that drives it.
pub struct RaftNode<L: LogStore> {
    raw: RawNode<RaftStorage<L>>,
    config: ConsensusConfig,
    /// Peers accepted besides the current configuration (see `ConsensusConfig::peers`).
    registered: BTreeSet<u64>,
    /// Last index handed to the application (entry or snapshot).
    delivered: u64,
    /// Last index the application reported applied (at least the snapshot point).
    applied: u64,
    /// A kept snapshot the application had not applied before a restart.
    redeliver: Option<SnapshotToApply>,
    /// Set by a fatal error; every later call fails.
    stopped: Option<String>,
    #[cfg(feature = "testing")]
    fault: Option<Fault>,
}

impl<L: LogStore + std::fmt::Debug> std::fmt::Debug for RaftNode<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftNode")
            .field("status", &self.status())
            .field("log", self.log())
            .finish_non_exhaustive()
    }
}

impl<L: LogStore> RaftNode<L> {
    /// Opens a node over `log`.
    ///
    /// `applied` is the application's durable applied index (0 for a fresh state). A new initial
    /// member's log is bootstrapped first ([`LogStore::bootstrap`]); a node that joins a running
    /// cluster starts with an empty log and receives a snapshot. After a restart, entries after
    /// `applied` are handed out again, and a received snapshot the application had not applied
    /// comes back in the first `ReadyOutput`.
    pub fn new(
        config: ConsensusConfig,
        mut log: L,
        source: Box<dyn SnapshotSource>,
        applied: u64,
    ) -> Result<Self, ConsensusError> {
        config.validate()?;
        let (snapshot_index, _) = log.snapshot_point();
        let last_index = log.last_index();
        let out_of_range = || ConsensusError::AppliedOutOfRange {
            applied,
            first_index: snapshot_index + 1,
            last_index,
        };
        if applied > last_index {
            return Err(out_of_range());
        }
        let mut redeliver = None;
        let start = if applied >= snapshot_index {
            applied
        } else if let Some(s) = log
            .kept_snapshot()
            .filter(|s| s.get_metadata().index == snapshot_index)
        {
            redeliver = Some(SnapshotToApply::from_snapshot(s));
            snapshot_index
        } else if snapshot_index == BOOTSTRAP_INDEX && applied == 0 {
            // The bootstrap point stands for the empty initial state.
            BOOTSTRAP_INDEX
        } else {
            return Err(out_of_range());
        };
        // Commit-only hard-state updates are written without fsync (Raft allows it); after a
        // power loss the commit index may trail what the application durably applied, and
        // everything applied was committed.
        let mut hs = log.hard_state();
        if hs.commit > last_index {
            return Err(StorageError::Corrupt(format!(
                "commit index {} beyond last index {last_index}",
                hs.commit
            ))
            .into());
        }
        if hs.commit < start {
            hs.commit = start;
            let mut batch = LogBatch::default();
            batch.push(LogOp::SetHardState(hs));
            log.write(batch, true)?;
        }
        let raft_config = config.to_raft(start);
        raft_config
            .validate()
            .map_err(|e| ConsensusError::Config(e.to_string()))?;
        let storage = RaftStorage::new(log, source, start, config.max_snapshot_size_bytes);
        let raw = RawNode::new(&raft_config, storage, &raft_logger(config.id))
            .map_err(ConsensusError::Raft)?;
        let registered = config
            .peers
            .iter()
            .copied()
            .filter(|&p| p != config.id)
            .collect();
        Ok(Self {
            raw,
            config,
            registered,
            delivered: start,
            applied: start,
            redeliver,
            stopped: None,
            #[cfg(feature = "testing")]
            fault: None,
        })
    }

    pub fn id(&self) -> u64 {
        self.config.id
    }

    pub fn config(&self) -> &ConsensusConfig {
        &self.config
    }

    /// The log store (read-only).
    pub fn log(&self) -> &L {
        self.raw.store().log()
    }

    pub fn is_leader(&self) -> bool {
        self.raw.raft.state == StateRole::Leader
    }

    pub fn leader_id(&self) -> Option<u64> {
        nonzero(self.raw.raft.leader_id)
    }

    pub fn status(&self) -> NodeStatus {
        let r = &self.raw.raft;
        let cs = r.prs().conf().to_conf_state();
        let sorted = |v: &[u64]| {
            let mut v = v.to_vec();
            v.sort_unstable();
            v
        };
        NodeStatus {
            id: self.config.id,
            leader_id: nonzero(r.leader_id),
            role: r.state,
            term: r.term,
            commit: r.raft_log.committed,
            applied: self.applied,
            delivered: self.delivered,
            first_index: self.log().first_index(),
            last_index: r.raft_log.last_index(),
            voters: sorted(&cs.voters),
            learners: sorted(&cs.learners),
            voters_outgoing: sorted(&cs.voters_outgoing),
        }
    }

    /// Advances the logical clock by one tick (elections, heartbeats). Returns true when a
    /// Ready is probably pending.
    pub fn tick(&mut self) -> bool {
        self.stopped.is_none() && self.raw.tick()
    }

    /// Starts an election now (tests and operators; normally elections come from ticks).
    pub fn campaign(&mut self) -> Result<(), ConsensusError> {
        self.check_running()?;
        self.raw.campaign().map_err(ConsensusError::Raft)
    }

    /// Proposes `data` as one entry. Only the leader accepts proposals.
    pub fn propose(&mut self, data: Vec<u8>) -> Result<Proposed, ConsensusError> {
        self.check_running()?;
        if data.is_empty() {
            return Err(ConsensusError::EmptyProposal);
        }
        let size = data.len() as u64;
        if size > self.config.max_entry_size_bytes {
            return Err(ConsensusError::EntryTooLarge {
                size_bytes: size,
                max_bytes: self.config.max_entry_size_bytes,
            });
        }
        self.ensure_leader()?;
        self.raw
            .propose(Vec::new(), data)
            .map_err(|e| self.proposal_error(e))?;
        Ok(self.last_proposed())
    }

    /// Hands a message from a peer to Raft, after checking it: addressed here, from a known
    /// peer, of a type peers exchange, within the size bounds, and well-formed. A rejected
    /// message changes nothing and is reported with an error for which
    /// [`ConsensusError::is_rejected_message`] holds.
    pub fn step(&mut self, msg: Message) -> Result<(), ConsensusError> {
        self.check_running()?;
        self.validate_inbound(&msg)?;
        let (from, msg_term, msg_type) = (msg.from, msg.term, msg.get_msg_type());
        let term = self.raw.raft.term;
        match self.raw.step(msg) {
            Ok(()) => {}
            Err(raft::Error::StepPeerNotFound) => return Err(ConsensusError::UnknownPeer { from }),
            Err(raft::Error::StepLocalMsg) => {
                return Err(ConsensusError::UnexpectedMessageType { msg_type, from });
            }
            Err(e) => return Err(ConsensusError::Raft(e)),
        }
        if msg_term < term {
            return Err(ConsensusError::StaleTerm {
                from,
                msg_term,
                term,
            });
        }
        Ok(())
    }

    /// Persists the pending Ready (one write, fsynced when it holds entries, a snapshot, or a
    /// new term or vote) and returns what the application must do next; `None` when there is
    /// nothing to do. A storage failure stops the node.
    pub fn on_ready(&mut self) -> Result<Option<ReadyOutput>, ConsensusError> {
        self.check_running()?;
        let redeliver = self.redeliver.take();
        if !self.raw.has_ready() {
            return Ok(redeliver.map(|snapshot| ReadyOutput {
                snapshot: Some(snapshot),
                ..ReadyOutput::default()
            }));
        }
        match self.handle_ready(redeliver) {
            Ok(out) => Ok(Some(out)),
            Err(e) => {
                // Raft already counts this Ready as handled; the node cannot go on.
                self.stopped = Some(e.to_string());
                Err(e)
            }
        }
    }

    fn handle_ready(
        &mut self,
        redeliver: Option<SnapshotToApply>,
    ) -> Result<ReadyOutput, ConsensusError> {
        let mut rd = self.raw.ready();
        let mut out = ReadyOutput {
            snapshot: redeliver,
            soft_state: rd.ss().map(|ss| SoftStateChange {
                leader_id: nonzero(ss.leader_id),
                role: ss.raft_state,
            }),
            ..ReadyOutput::default()
        };

        // 1. Persist: snapshot, entries, hard state — one write, synced if Raft needs it.
        let mut batch = LogBatch::default();
        if !rd.snapshot().is_empty() {
            let snapshot = rd.snapshot().clone();
            let to_apply = SnapshotToApply::from_snapshot(&snapshot);
            self.check_delivery(to_apply.index > self.delivered, to_apply.index)?;
            self.delivered = to_apply.index;
            out.snapshot = Some(to_apply);
            batch.push(LogOp::InstallSnapshot(snapshot));
        }
        let entries = rd.take_entries();
        self.register_peers_in(&entries);
        if !entries.is_empty() {
            batch.push(LogOp::Append(entries));
        }
        if let Some(hs) = rd.hs() {
            batch.push(LogOp::SetHardState(hs.clone()));
        }
        let sync = rd.must_sync() && !self.acks_before_persist();
        if !batch.is_empty() {
            self.raw.mut_store().log_mut().write(batch, sync)?;
        }

        // 2. Only now may anything leave the node.
        out.messages_to_send = rd.take_messages();
        out.messages_to_send.extend(rd.take_persisted_messages());
        let committed = rd.take_committed_entries();
        let mut light = self.raw.advance_append(rd);
        out.messages_to_send.extend(light.take_messages());

        // 3. Committed entries; membership changes take effect in Raft as they are handed out.
        let mut conf_update = None;
        for e in committed.into_iter().chain(light.take_committed_entries()) {
            let entry = self.deliver(e, &mut conf_update)?;
            out.committed_entries.push(entry);
        }
        let mut post = LogBatch::default();
        if light.commit_index().is_some() {
            post.push(LogOp::SetHardState(self.raw.raft.hard_state()));
        }
        let conf_changed = conf_update.is_some();
        if let Some((conf_state, index)) = conf_update {
            post.push(LogOp::SetConfState { conf_state, index });
        }
        if !post.is_empty() {
            // A new conf state must be durable before the application can record the entry as
            // applied; a commit index alone may be lost (see `new`).
            let sync = conf_changed && !self.acks_before_persist();
            self.raw.mut_store().log_mut().write(post, sync)?;
        }
        Ok(out)
    }

    fn check_delivery(&self, ok: bool, index: u64) -> Result<(), ConsensusError> {
        if ok {
            Ok(())
        } else {
            Err(ConsensusError::Bug(format!(
                "out-of-order delivery of index {index} after {}",
                self.delivered
            )))
        }
    }

    fn deliver(
        &mut self,
        e: Entry,
        conf_update: &mut Option<(ConfState, u64)>,
    ) -> Result<CommittedEntry, ConsensusError> {
        self.check_delivery(e.index == self.delivered + 1, e.index)?;
        self.delivered = e.index;
        let kind = match e.get_entry_type() {
            EntryType::EntryNormal if e.data.is_empty() => EntryKind::Noop,
            EntryType::EntryNormal => EntryKind::Data,
            EntryType::EntryConfChange | EntryType::EntryConfChangeV2 => {
                let applied_through = conf_update
                    .as_ref()
                    .map_or_else(|| self.log().conf_state().1, |(_, i)| *i);
                // After a restart, changes up to the stored conf state are already in effect.
                if e.index > applied_through {
                    self.apply_conf_change(&e, conf_update);
                }
                EntryKind::Membership
            }
        };
        Ok(CommittedEntry {
            index: e.index,
            term: e.term,
            kind,
            data: e.data.into(),
        })
    }

    fn apply_conf_change(&mut self, e: &Entry, conf_update: &mut Option<(ConfState, u64)>) {
        // A committed change that does not decode or apply is skipped: every replica skips it
        // alike, which is what Raft requires of a rejected change.
        let cc = match conf_change_of(e) {
            Ok(cc) => cc,
            Err(err) => {
                tracing::error!(target: "rampart_consensus::node", index = e.index, %err, "undecodable membership change skipped");
                return;
            }
        };
        match self.raw.apply_conf_change(&cc) {
            Ok(cs) => {
                for c in cc.get_changes() {
                    if c.get_change_type() == ConfChangeType::RemoveNode {
                        self.registered.remove(&c.node_id);
                    }
                }
                tracing::info!(target: "rampart_consensus::node", index = e.index, voters = ?cs.voters, learners = ?cs.learners, "membership changed");
                *conf_update = Some((cs, e.index));
            }
            Err(err) => {
                tracing::error!(target: "rampart_consensus::node", index = e.index, %err, "membership change rejected");
            }
        }
    }

    /// Records that the application applied everything up to `index` (entries or snapshot it
    /// was handed), durably. Compacts the log when it holds more than
    /// `log_compaction_threshold_entries` applied entries.
    pub fn set_applied(&mut self, index: u64) -> Result<(), ConsensusError> {
        self.check_running()?;
        if index < self.applied || index > self.delivered {
            return Err(ConsensusError::InvalidApplied {
                index,
                applied: self.applied,
                delivered: self.delivered,
            });
        }
        if index > self.applied {
            self.raw.advance_apply_to(index);
            self.applied = index;
            self.raw.mut_store().set_applied(index);
        }
        let mut batch = LogBatch::default();
        if self
            .log()
            .kept_snapshot()
            .is_some_and(|s| s.get_metadata().index <= index)
        {
            batch.push(LogOp::ReleaseSnapshot);
        }
        let first = self.log().first_index();
        if index >= first && index - first + 1 > self.config.log_compaction_threshold_entries {
            let first_index = index + 1 - self.config.log_retain_entries;
            tracing::debug!(target: "rampart_consensus::node", first_index, applied = index, "compacting log");
            batch.push(LogOp::Compact { first_index });
        }
        if !batch.is_empty() {
            // Losing either write is harmless: it is redone after a restart.
            if let Err(e) = self.raw.mut_store().log_mut().write(batch, false) {
                self.stopped = Some(e.to_string());
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Asks the leader to hand leadership to voter `to` (it must be caught up; Raft sends it
    /// the missing entries first). Proposals are refused until the transfer ends.
    pub fn transfer_leader(&mut self, to: u64) -> Result<(), ConsensusError> {
        self.check_running()?;
        self.ensure_leader()?;
        if to == self.config.id {
            return Err(ConsensusError::InvalidMembership {
                node: to,
                reason: "already the leader",
            });
        }
        if !self.conf_state().voters.contains(&to) {
            return Err(ConsensusError::InvalidMembership {
                node: to,
                reason: "not a voter",
            });
        }
        self.raw.transfer_leader(to);
        Ok(())
    }

    /// Adds `id` as a learner: it receives the log (a snapshot first) but does not vote.
    pub fn add_learner(&mut self, id: u64) -> Result<Proposed, ConsensusError> {
        self.check_membership_change(id)?;
        if members(&self.conf_state()).any(|m| m == id) {
            return Err(ConsensusError::InvalidMembership {
                node: id,
                reason: "already a member",
            });
        }
        self.registered.insert(id);
        self.propose_conf_change(
            id,
            ConfChangeType::AddLearnerNode,
            ConfChangeTransition::Auto,
        )
    }

    /// Promotes learner `id` to voter through a joint configuration that Raft leaves on its own
    /// once the change is applied.
    pub fn promote_voter(&mut self, id: u64) -> Result<Proposed, ConsensusError> {
        self.check_membership_change(id)?;
        if !self.conf_state().learners.contains(&id) {
            return Err(ConsensusError::InvalidMembership {
                node: id,
                reason: "not a learner",
            });
        }
        self.propose_conf_change(id, ConfChangeType::AddNode, ConfChangeTransition::Implicit)
    }

    /// Removes `id` (voter or learner); a voter leaves through a joint configuration.
    pub fn remove_node(&mut self, id: u64) -> Result<Proposed, ConsensusError> {
        self.check_membership_change(id)?;
        let cs = self.conf_state();
        let transition = if cs.voters.contains(&id) {
            if cs.voters.len() == 1 {
                return Err(ConsensusError::InvalidMembership {
                    node: id,
                    reason: "cannot remove the last voter",
                });
            }
            ConfChangeTransition::Implicit
        } else if cs.learners.contains(&id) {
            ConfChangeTransition::Auto
        } else {
            return Err(ConsensusError::InvalidMembership {
                node: id,
                reason: "not a member",
            });
        };
        self.propose_conf_change(id, ConfChangeType::RemoveNode, transition)
    }

    /// Accept messages from `id` even before a membership change naming it reaches this node
    /// (the cluster layer calls this for peers in its own membership table).
    pub fn register_peer(&mut self, id: u64) {
        if id != 0 && id != self.config.id {
            self.registered.insert(id);
        }
    }

    pub fn unregister_peer(&mut self, id: u64) {
        self.registered.remove(&id);
    }

    /// The transport could not reach `id`; the leader slows replication to it down to probes.
    pub fn report_unreachable(&mut self, id: u64) {
        self.raw.report_unreachable(id);
    }

    /// The transport finished (or failed) sending a snapshot to `id`. Must be called for every
    /// `MsgSnapshot` sent, or replication to `id` stays paused.
    pub fn report_snapshot(&mut self, id: u64, delivered: bool) {
        let status = if delivered {
            SnapshotStatus::Finish
        } else {
            SnapshotStatus::Failure
        };
        self.raw.report_snapshot(id, status);
    }

    /// Test-only: inject `fault` (or clear it with `None`).
    #[cfg(feature = "testing")]
    pub fn inject_fault(&mut self, fault: Option<Fault>) {
        self.fault = fault;
    }

    fn acks_before_persist(&self) -> bool {
        #[cfg(feature = "testing")]
        {
            self.fault == Some(Fault::AckBeforePersist)
        }
        #[cfg(not(feature = "testing"))]
        {
            false
        }
    }

    fn conf_state(&self) -> ConfState {
        self.raw.raft.prs().conf().to_conf_state()
    }

    fn check_running(&self) -> Result<(), ConsensusError> {
        match &self.stopped {
            None => Ok(()),
            Some(reason) => Err(ConsensusError::Stopped(reason.clone())),
        }
    }

    fn ensure_leader(&self) -> Result<(), ConsensusError> {
        if self.is_leader() {
            Ok(())
        } else {
            Err(ConsensusError::NotLeader {
                leader_hint: self.leader_id(),
            })
        }
    }

    fn check_membership_change(&self, id: u64) -> Result<(), ConsensusError> {
        self.check_running()?;
        self.ensure_leader()?;
        if id == 0 {
            return Err(ConsensusError::InvalidMembership {
                node: id,
                reason: "node id 0 is invalid",
            });
        }
        // One change at a time: the previous one must be applied and any joint state left.
        if self.raw.raft.has_pending_conf() || !self.conf_state().voters_outgoing.is_empty() {
            return Err(ConsensusError::ConfChangePending);
        }
        Ok(())
    }

    fn propose_conf_change(
        &mut self,
        id: u64,
        change: ConfChangeType,
        transition: ConfChangeTransition,
    ) -> Result<Proposed, ConsensusError> {
        let mut single = ConfChangeSingle::default();
        single.set_change_type(change);
        single.node_id = id;
        let mut cc = ConfChangeV2::default();
        cc.set_changes(vec![single].into());
        cc.set_transition(transition);
        self.raw
            .propose_conf_change(Vec::new(), cc)
            .map_err(|e| self.proposal_error(e))?;
        Ok(self.last_proposed())
    }

    fn last_proposed(&self) -> Proposed {
        Proposed {
            index: self.raw.raft.raft_log.last_index(),
            term: self.raw.raft.term,
        }
    }

    fn proposal_error(&self, e: raft::Error) -> ConsensusError {
        match e {
            raft::Error::ProposalDropped => {
                let r = &self.raw.raft;
                ConsensusError::ProposalDropped(if r.lead_transferee.is_some() {
                    DropReason::TransferInProgress
                } else if r.prs().get(self.config.id).is_none() {
                    DropReason::Removed
                } else {
                    DropReason::UncommittedLimit
                })
            }
            other => ConsensusError::Raft(other),
        }
    }

    fn is_known_peer(&self, id: u64) -> bool {
        self.registered.contains(&id) || self.raw.raft.prs().get(id).is_some()
    }

    /// Peers named in membership changes that reach this node's log are accepted from then on,
    /// so that a follower can hear from a leader it has not yet applied the addition of.
    fn register_peers_in(&mut self, entries: &[Entry]) {
        for e in entries {
            if let Ok(cc) = conf_change_of(e) {
                for c in cc.get_changes() {
                    if c.get_change_type() != ConfChangeType::RemoveNode {
                        self.register_peer(c.node_id);
                    }
                }
            }
        }
    }

    fn validate_inbound(&self, m: &Message) -> Result<(), ConsensusError> {
        let local = self.config.id;
        let from = m.from;
        let malformed = |reason: String| Err(ConsensusError::MalformedMessage { reason });
        if m.to != local {
            return Err(ConsensusError::WrongRecipient { to: m.to, local });
        }
        if from == 0 || from == local {
            return Err(ConsensusError::InvalidSender { from });
        }
        let msg_type = m.get_msg_type();
        if !is_peer_message_type(msg_type) {
            return Err(ConsensusError::UnexpectedMessageType { msg_type, from });
        }
        if !self.is_known_peer(from) {
            return Err(ConsensusError::UnknownPeer { from });
        }
        if m.term == 0 {
            return malformed(format!("{msg_type:?} from {from} without a term"));
        }

        // Entries: only appends carry them, contiguous after `index`, terms not above the
        // message's, each and all within the size bounds.
        if !m.entries.is_empty() && msg_type != MessageType::MsgAppend {
            return malformed(format!("{msg_type:?} from {from} carries entries"));
        }
        let max_entry = self.config.max_entry_size_bytes;
        let max_entries = self.config.max_message_entries_bytes();
        let mut total = 0u64;
        let mut prev_term = m.log_term;
        for (i, e) in m.entries.iter().enumerate() {
            let size = (e.data.len() + e.context.len()) as u64;
            if size > max_entry {
                return Err(ConsensusError::MessageTooLarge {
                    from,
                    what: "entry",
                    size_bytes: size,
                    max_bytes: max_entry,
                });
            }
            total += size;
            if e.index != m.index + 1 + i as u64 {
                return malformed(format!(
                    "entry {} out of sequence after {}",
                    e.index, m.index
                ));
            }
            if e.term < prev_term || e.term > m.term {
                return malformed(format!(
                    "entry {} has term {} out of order",
                    e.index, e.term
                ));
            }
            prev_term = e.term;
        }
        if total > max_entries {
            return Err(ConsensusError::MessageTooLarge {
                from,
                what: "entries",
                size_bytes: total,
                max_bytes: max_entries,
            });
        }

        // Snapshot: only in MsgSnapshot, non-empty, within the size bound.
        let snapshot = m.snapshot.as_ref();
        match (msg_type, snapshot) {
            (MessageType::MsgSnapshot, None) => {
                return malformed(format!("MsgSnapshot from {from} without a snapshot"));
            }
            (MessageType::MsgSnapshot, Some(s)) => {
                let size = s.data.len() as u64;
                if size > self.config.max_snapshot_size_bytes {
                    return Err(ConsensusError::MessageTooLarge {
                        from,
                        what: "snapshot",
                        size_bytes: size,
                        max_bytes: self.config.max_snapshot_size_bytes,
                    });
                }
                let meta = s.get_metadata();
                if meta.index == 0 || meta.term == 0 || meta.term > m.term {
                    return malformed(format!(
                        "snapshot from {from} at index {} term {}",
                        meta.index, meta.term
                    ));
                }
            }
            (_, Some(s)) if !s.is_empty() || !s.data.is_empty() => {
                return malformed(format!("{msg_type:?} from {from} carries a snapshot"));
            }
            _ => {}
        }
        Ok(())
    }
}
