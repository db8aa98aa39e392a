//! An in-memory network of [`RaftNode`]s driven in rounds by a seeded generator.
//!
//! A round: every live node ticks (each may miss the tick, by chance, so that election timers
//! drift apart as real clocks do), then Readies are handled and due messages delivered until the
//! network is quiet. Messages pass the [`Filter`]s when sent (drop, delay) and cuts again when
//! delivered. Everything is ordered (node ids, send sequence), so a seed replays exactly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use raft::StateRole;
use raft::eraftpb::{Message, MessageType};

use crate::config::ConsensusConfig;
use crate::error::{ConsensusError, StorageError};
use crate::node::{NodeStatus, Proposed, RaftNode};
use crate::storage::{LogStore, MemDurable, MemLogStore, RocksLogStore};

use super::app::SharedApp;
use super::checker::History;
use super::filter::{Filter, Partition, Verdict};
use super::rng::Rng;

/// Makes and reopens the log stores of a test network.
pub trait StoreFactory {
    type Store: LogStore;
    /// A fresh, empty store for node `id`.
    fn create(&mut self, id: u64) -> Result<Self::Store, StorageError>;
    /// Node `id`'s store again, after its node (and store) was dropped.
    fn reopen(&mut self, id: u64) -> Result<Self::Store, StorageError>;
}

/// In-memory stores; a crash is a power loss (unsynced writes are lost).
#[derive(Debug, Default)]
pub struct MemStores(BTreeMap<u64, MemDurable>);

impl StoreFactory for MemStores {
    type Store = MemLogStore;

    fn create(&mut self, id: u64) -> Result<MemLogStore, StorageError> {
        let store = MemLogStore::new();
        self.0.insert(id, store.durable());
        Ok(store)
    }

    fn reopen(&mut self, id: u64) -> Result<MemLogStore, StorageError> {
        let durable = self.0.get(&id).cloned().unwrap_or_default();
        Ok(MemLogStore::open(durable))
    }
}

/// RocksDB stores under a directory, one per node; a crash is a process crash.
#[derive(Debug)]
pub struct RocksStores {
    root: PathBuf,
}

impl RocksStores {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    fn path(&self, id: u64) -> PathBuf {
        self.root.join(format!("raft-{id}"))
    }
}

impl StoreFactory for RocksStores {
    type Store = RocksLogStore;

    fn create(&mut self, id: u64) -> Result<RocksLogStore, StorageError> {
        RocksLogStore::open(&self.path(id))
    }

    fn reopen(&mut self, id: u64) -> Result<RocksLogStore, StorageError> {
        RocksLogStore::open(&self.path(id))
    }
}

/// Counters of what the network did.
#[derive(Debug, Default, Clone)]
pub struct NetStats {
    pub sent: u64,
    pub delivered: u64,
    pub dropped: u64,
    /// Messages a node rejected, by error.
    pub rejected: BTreeMap<String, u64>,
}

struct Slot<S: LogStore> {
    node: Option<RaftNode<S>>,
    app: SharedApp,
    config: ConsensusConfig,
}

#[derive(Debug)]
struct Envelope {
    at: u64,
    seq: u64,
    msg: Message,
}

/// Handling passes per round before the round ends even if the network is not quiet.
const MAX_PASSES_PER_ROUND: usize = 64;
/// Readies handled for one node in one pass.
const MAX_READIES_PER_PASS: usize = 64;

/// A configuration for test networks: the defaults, with no election-timeout randomness inside
/// raft-rs (the network's seed supplies it).
pub fn test_config() -> ConsensusConfig {
    let mut c = ConsensusConfig::new(1);
    c.election_jitter_ticks = 1;
    c
}

/// The test network.
pub struct Cluster<F: StoreFactory> {
    pub seed: u64,
    factory: F,
    rng: Rng,
    base: ConsensusConfig,
    nodes: BTreeMap<u64, Slot<F::Store>>,
    in_flight: Vec<Envelope>,
    filters: Vec<Box<dyn Filter>>,
    now: u64,
    seq: u64,
    pub history: History,
    pub stats: NetStats,
    /// Chance (per mille) that a node misses its tick in a round.
    pub tick_skip_per_mille: u32,
}

impl<F: StoreFactory> std::fmt::Debug for Cluster<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("seed", &self.seed)
            .field("round", &self.now)
            .field("nodes", &self.nodes.keys().collect::<Vec<_>>())
            .field("in_flight", &self.in_flight.len())
            .field("filters", &self.filters)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Cluster<MemStores> {
    /// `n` initial voters `1..=n` on in-memory stores.
    pub fn new_mem(n: u64, seed: u64, base: ConsensusConfig) -> Self {
        match Self::new(MemStores::default(), n, seed, base) {
            Ok(c) => c,
            Err(e) => panic!("seed {seed}: building the network: {e}"),
        }
    }
}

impl<F: StoreFactory> Cluster<F> {
    /// `n` initial voters `1..=n`; each node's config is `base` with its id and peers.
    pub fn new(
        mut factory: F,
        n: u64,
        seed: u64,
        base: ConsensusConfig,
    ) -> Result<Self, ConsensusError> {
        let ids: Vec<u64> = (1..=n).collect();
        let mut nodes = BTreeMap::new();
        for &id in &ids {
            let mut store = factory.create(id)?;
            store.bootstrap(&ids)?;
            let mut config = base.clone();
            config.id = id;
            config.peers = ids.clone();
            let app = SharedApp::default();
            let node = RaftNode::new(config.clone(), store, Box::new(app.clone()), 0)?;
            nodes.insert(
                id,
                Slot {
                    node: Some(node),
                    app,
                    config,
                },
            );
        }
        Ok(Self {
            seed,
            factory,
            rng: Rng::new(seed),
            base,
            nodes,
            in_flight: Vec::new(),
            filters: Vec::new(),
            now: 0,
            seq: 0,
            history: History::default(),
            stats: NetStats::default(),
            tick_skip_per_mille: 200,
        })
    }

    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    pub fn round(&self) -> u64 {
        self.now
    }

    /// Every node, live or crashed.
    pub fn ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    pub fn up_ids(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, s)| s.node.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    pub fn is_up(&self, id: u64) -> bool {
        self.nodes.get(&id).is_some_and(|s| s.node.is_some())
    }

    /// A live node; panics (with the seed) if it is down.
    pub fn node(&self, id: u64) -> &RaftNode<F::Store> {
        match self.nodes.get(&id).and_then(|s| s.node.as_ref()) {
            Some(n) => n,
            None => panic!("seed {}: node {id} is not up", self.seed),
        }
    }

    pub fn node_mut(&mut self, id: u64) -> &mut RaftNode<F::Store> {
        let seed = self.seed;
        match self.nodes.get_mut(&id).and_then(|s| s.node.as_mut()) {
            Some(n) => n,
            None => panic!("seed {seed}: node {id} is not up"),
        }
    }

    pub fn status(&self, id: u64) -> NodeStatus {
        self.node(id).status()
    }

    pub fn app(&self, id: u64) -> SharedApp {
        match self.nodes.get(&id) {
            Some(s) => s.app.clone(),
            None => panic!("seed {}: no node {id}", self.seed),
        }
    }

    /// The live leader with the highest term, if any.
    pub fn leader(&self) -> Option<u64> {
        self.nodes
            .iter()
            .filter_map(|(id, s)| s.node.as_ref().map(|n| (*id, n)))
            .filter(|(_, n)| n.is_leader())
            .max_by_key(|(_, n)| n.status().term)
            .map(|(id, _)| id)
    }

    /// Proposes at node `id`, recording the proposal for the integrity checks.
    pub fn propose(&mut self, id: u64, data: &[u8]) -> Result<Proposed, ConsensusError> {
        let p = self.node_mut(id).propose(data.to_vec())?;
        self.history.record_proposal(data, p);
        Ok(p)
    }

    /// Proposes at the current leader, if there is one and it accepts.
    pub fn propose_at_leader(&mut self, data: &[u8]) -> Option<Proposed> {
        let leader = self.leader()?;
        self.propose(leader, data).ok()
    }

    /// Adds a fault to the network.
    pub fn add_filter(&mut self, f: impl Filter + 'static) {
        self.filters.push(Box::new(f));
    }

    /// Cuts `id` off from every other node.
    pub fn isolate(&mut self, id: u64) {
        let all = self.ids();
        self.add_filter(Partition::isolate(id, all));
    }

    /// Splits the network into groups that cannot talk to each other.
    pub fn partition(&mut self, groups: &[&[u64]]) {
        self.add_filter(Partition::new(groups));
    }

    /// Removes every fault.
    pub fn recover(&mut self) {
        self.filters.clear();
    }

    /// Stops node `id` at once: its volatile state is gone, its store keeps what it keeps
    /// (in memory: the synced writes), its application state stays (it is durable).
    pub fn crash(&mut self, id: u64) {
        if let Some(s) = self.nodes.get_mut(&id) {
            s.node = None;
        }
    }

    /// Starts a crashed node again from its store and its application's applied index.
    pub fn restart(&mut self, id: u64) -> Result<(), ConsensusError> {
        let store = self.factory.reopen(id)?;
        let Some(slot) = self.nodes.get_mut(&id) else {
            return Err(ConsensusError::Config(format!("no node {id}")));
        };
        let applied = slot.app.lock().applied_index;
        let node = RaftNode::new(
            slot.config.clone(),
            store,
            Box::new(slot.app.clone()),
            applied,
        )?;
        slot.node = Some(node);
        Ok(())
    }

    /// Starts a new node `id` with an empty store (not bootstrapped), knowing the current
    /// nodes as peers. It joins once the leader adds it.
    pub fn add_node(&mut self, id: u64) -> Result<(), ConsensusError> {
        let store = self.factory.create(id)?;
        let mut config = self.base.clone();
        config.id = id;
        config.peers = self.ids();
        let app = SharedApp::default();
        let node = RaftNode::new(config.clone(), store, Box::new(app.clone()), 0)?;
        self.nodes.insert(
            id,
            Slot {
                node: Some(node),
                app,
                config,
            },
        );
        Ok(())
    }

    /// Removes node `id` from the network entirely.
    pub fn drop_node(&mut self, id: u64) {
        self.nodes.remove(&id);
    }

    /// Hands `msg` straight to its recipient, bypassing the network.
    pub fn deliver_raw(&mut self, msg: Message) -> Result<(), ConsensusError> {
        self.node_mut(msg.to).step(msg)
    }

    /// One round: ticks, then Readies and deliveries until quiet.
    pub fn step_round(&mut self) {
        self.now += 1;
        let per_mille = self.tick_skip_per_mille;
        for id in self.up_ids() {
            if !self.rng.chance(per_mille) {
                self.node_mut(id).tick();
            }
        }
        self.pump();
    }

    /// Handles Readies and due messages until quiet (bounded).
    pub fn pump(&mut self) {
        for _ in 0..MAX_PASSES_PER_ROUND {
            if !self.pass() {
                break;
            }
        }
    }

    /// One pass: every live node handles its Readies (in id order), then due messages are
    /// delivered. False when nothing happened.
    pub fn pass(&mut self) -> bool {
        let mut busy = false;
        for id in self.up_ids() {
            busy |= self.process_node(id);
        }
        busy |= self.deliver_due();
        busy
    }

    pub fn run(&mut self, rounds: u64) {
        for _ in 0..rounds {
            self.step_round();
        }
    }

    /// Runs rounds until `done` holds (checked before each round), at most `max_rounds`.
    pub fn run_until(&mut self, max_rounds: u64, mut done: impl FnMut(&Self) -> bool) -> bool {
        for _ in 0..max_rounds {
            if done(self) {
                return true;
            }
            self.step_round();
        }
        done(self)
    }

    /// Runs until a leader exists; returns it.
    pub fn wait_leader(&mut self, max_rounds: u64) -> Option<u64> {
        self.run_until(max_rounds, |c| c.leader().is_some());
        self.leader()
    }

    /// Runs until node `id` applied `index`.
    pub fn wait_applied(&mut self, id: u64, index: u64, max_rounds: u64) -> bool {
        self.run_until(max_rounds, |c| c.app(id).lock().applied_index >= index)
    }

    /// True when a leader exists, it committed its whole log, and every live node applied
    /// everything up to there.
    pub fn converged(&self) -> bool {
        let Some(leader) = self.leader() else {
            return false;
        };
        let ls = self.status(leader);
        if ls.commit != ls.last_index {
            return false;
        }
        let target = ls.commit;
        self.up_ids().iter().all(|&id| {
            let s = self.status(id);
            s.commit == target && self.app(id).lock().applied_index == target
        })
    }

    /// Runs until [`converged`](Self::converged).
    pub fn wait_converged(&mut self, max_rounds: u64) -> bool {
        self.run_until(max_rounds, |c| c.converged())
    }

    /// Log matching: wherever two live nodes both hold a committed entry, it is the same.
    pub fn check_logs(&self) -> Vec<String> {
        let mut out = Vec::new();
        let ups = self.up_ids();
        for (i, &a) in ups.iter().enumerate() {
            for &b in &ups[i + 1..] {
                let (na, nb) = (self.node(a), self.node(b));
                let (sa, sb) = (na.status(), nb.status());
                let lo = sa.first_index.max(sb.first_index);
                let hi = sa
                    .commit
                    .min(sb.commit)
                    .min(na.log().last_index())
                    .min(nb.log().last_index());
                if lo > hi {
                    continue;
                }
                let (Ok(ea), Ok(eb)) = (
                    na.log().entries(lo, hi + 1, None),
                    nb.log().entries(lo, hi + 1, None),
                ) else {
                    out.push(format!("nodes {a},{b}: cannot read [{lo}, {hi}]"));
                    continue;
                };
                for (x, y) in ea.iter().zip(&eb) {
                    if (x.term, x.get_entry_type(), &x.data)
                        != (y.term, y.get_entry_type(), &y.data)
                    {
                        out.push(format!(
                            "nodes {a},{b}: committed entry {} differs (terms {} and {})",
                            x.index, x.term, y.term
                        ));
                    }
                }
            }
        }
        out
    }

    /// Panics with the seed if any invariant was violated.
    pub fn assert_ok(&mut self) {
        self.history.check_no_duplicates();
        let mut v: Vec<String> = self.history.violations().to_vec();
        v.extend(self.check_logs());
        assert!(
            v.is_empty(),
            "seed {}: invariant violations:\n{}",
            self.seed,
            v.join("\n")
        );
    }

    fn process_node(&mut self, id: u64) -> bool {
        let seed = self.seed;
        let mut busy = false;
        for _ in 0..MAX_READIES_PER_PASS {
            let Some(slot) = self.nodes.get_mut(&id) else {
                return busy;
            };
            let Some(node) = slot.node.as_mut() else {
                return busy;
            };
            let out = match node.on_ready() {
                Ok(Some(out)) => out,
                Ok(None) => return busy,
                Err(e) => panic!("seed {seed}: node {id}: on_ready: {e}"),
            };
            busy = true;
            if let Some(ss) = out.soft_state
                && ss.role == StateRole::Leader
            {
                self.history.record_leader(node.status().term, id);
            }
            {
                let mut app = slot.app.lock();
                if let Some(s) = &out.snapshot {
                    if let Err(e) = app.restore(s) {
                        panic!("seed {seed}: node {id}: bad snapshot: {e}");
                    }
                    self.history.record_snapshot(id, s.index, &app.entries);
                }
                for e in &out.committed_entries {
                    app.apply(e);
                    self.history.record_apply(id, e);
                }
            }
            if let Some(index) = out.last_index()
                && let Err(e) = node.set_applied(index)
            {
                panic!("seed {seed}: node {id}: set_applied({index}): {e}");
            }
            for msg in out.messages_to_send {
                self.send(msg);
            }
        }
        busy
    }

    fn send(&mut self, msg: Message) {
        self.stats.sent += 1;
        let mut delay = 0;
        for f in &mut self.filters {
            match f.on_send(&msg, &mut self.rng) {
                Verdict::Deliver => {}
                Verdict::Delay(d) => delay += d,
                Verdict::Drop => {
                    self.lost(&msg);
                    return;
                }
            }
        }
        self.seq += 1;
        self.in_flight.push(Envelope {
            at: self.now + delay,
            seq: self.seq,
            msg,
        });
    }

    /// A message did not arrive; a lost snapshot is reported to its sender, as a transport does.
    fn lost(&mut self, msg: &Message) {
        self.stats.dropped += 1;
        if msg.get_msg_type() == MessageType::MsgSnapshot
            && let Some(sender) = self.nodes.get_mut(&msg.from).and_then(|s| s.node.as_mut())
        {
            sender.report_snapshot(msg.to, false);
        }
    }

    fn deliver_due(&mut self) -> bool {
        let now = self.now;
        let mut due: Vec<Envelope> = Vec::new();
        let mut later = Vec::new();
        for env in self.in_flight.drain(..) {
            if env.at <= now {
                due.push(env);
            } else {
                later.push(env);
            }
        }
        self.in_flight = later;
        if due.is_empty() {
            return false;
        }
        due.sort_by_key(|e| (e.at, e.seq));
        for Envelope { msg, .. } in due {
            if self.filters.iter().any(|f| f.blocks(&msg)) || !self.is_up(msg.to) {
                self.lost(&msg);
                continue;
            }
            let (from, to) = (msg.from, msg.to);
            let is_snapshot = msg.get_msg_type() == MessageType::MsgSnapshot;
            let result = self.node_mut(to).step(msg);
            let accepted = match result {
                Ok(()) => {
                    self.stats.delivered += 1;
                    true
                }
                Err(e) if !e.is_fatal() => {
                    let kind = format!("{e:?}");
                    let kind = kind.split([' ', '{', '(']).next().unwrap_or("").to_owned();
                    *self.stats.rejected.entry(kind).or_default() += 1;
                    false
                }
                Err(e) => panic!("seed {}: node {to}: step from {from}: {e}", self.seed),
            };
            if is_snapshot
                && let Some(sender) = self.nodes.get_mut(&from).and_then(|s| s.node.as_mut())
            {
                sender.report_snapshot(to, accepted);
            }
        }
        true
    }
}
