//! A Ready loop on its own thread: owns a [`RaftNode`], ticks it, feeds it from bounded queues,
//! sends through a [`Transport`] and applies through a [`StateMachine`].
//!
//! The cluster plugs its gRPC peer transport in as the `Transport` and its block store as the
//! `StateMachine`; inbound peer messages go to [`DriverHandle::step`]. Queues are bounded:
//! a full message queue drops the message (Raft retransmits), a full request queue refuses the
//! request with [`ConsensusError::Overloaded`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use raft::eraftpb::Message;
use tokio::sync::oneshot;

use crate::error::ConsensusError;
use crate::node::{
    CommittedEntry, NodeStatus, Proposed, RaftNode, SnapshotToApply, SoftStateChange,
};
use crate::storage::LogStore;

/// Outbound side of the peer transport.
pub trait Transport: Send + 'static {
    /// Sends `msg` to node `msg.to`. Best effort and non-blocking: queue it, drop it when the
    /// peer's queue is full, and tell the node about failures through
    /// [`DriverHandle::report_unreachable`] and, for `MsgSnapshot`,
    /// [`DriverHandle::report_snapshot`] (required, success or failure).
    fn send(&self, msg: Message);
}

/// The application state that committed entries are applied to.
pub trait StateMachine: Send + 'static {
    /// Applies `entries` in order, durably, recording the last index with the state (it is the
    /// `applied` given to `RaftNode::new` after a restart). Entries that are not
    /// [`EntryKind::Data`](crate::node::EntryKind::Data) only advance that index.
    fn apply(&mut self, entries: &[CommittedEntry]) -> Result<(), String>;
    /// Replaces the state by a snapshot's (its index becomes the applied index).
    fn restore(&mut self, snapshot: &SnapshotToApply) -> Result<(), String>;
    /// Leader or role changed.
    fn on_soft_state(&mut self, _change: &SoftStateChange) {}
}

/// Driver settings, with their defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverConfig {
    /// Raft tick. Default 100 ms (election after 1–2 s with the default `ConsensusConfig`).
    pub tick_interval_ms: u64,
    /// Inbound peer messages waiting for the loop. Default 4096.
    pub max_pending_messages: usize,
    /// Proposals and other requests waiting for the loop. Default 1024.
    pub max_pending_requests: usize,
    /// Inputs taken before handling a Ready: one synced write covers up to this many proposals.
    /// Default 1024.
    pub max_inputs_per_ready: usize,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            tick_interval_ms: 100,
            max_pending_messages: 4096,
            max_pending_requests: 1024,
            max_inputs_per_ready: 1024,
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T, ConsensusError>>;

/// The answer to a request, once the loop has handled it. `.await` it, or `blocking_recv()`
/// outside an async runtime; a receive error means the driver stopped.
pub type Pending<T> = oneshot::Receiver<Result<T, ConsensusError>>;

enum Request {
    Propose(Vec<u8>, Reply<Proposed>),
    TransferLeader(u64, Reply<()>),
    AddLearner(u64, Reply<Proposed>),
    PromoteVoter(u64, Reply<Proposed>),
    RemoveNode(u64, Reply<Proposed>),
    Campaign(Reply<()>),
    Status(Reply<NodeStatus>),
    ReportUnreachable(u64),
    ReportSnapshot(u64, bool),
}

enum Input {
    Message(Message),
    Request(Request),
    Shutdown,
}

#[derive(Debug, Default)]
struct Counts {
    messages: AtomicUsize,
    requests: AtomicUsize,
}

/// Cheap, cloneable access to a running driver from any thread.
#[derive(Debug, Clone)]
pub struct DriverHandle {
    tx: SyncSender<Input>,
    counts: Arc<Counts>,
    config: DriverConfig,
}

impl DriverHandle {
    fn enqueue(
        &self,
        input: Input,
        counter: &AtomicUsize,
        max: usize,
        queue: &'static str,
    ) -> Result<(), ConsensusError> {
        if counter.fetch_add(1, Ordering::AcqRel) >= max {
            counter.fetch_sub(1, Ordering::AcqRel);
            return Err(ConsensusError::Overloaded { queue });
        }
        self.tx.try_send(input).map_err(|e| {
            counter.fetch_sub(1, Ordering::AcqRel);
            match e {
                TrySendError::Full(_) => ConsensusError::Overloaded { queue },
                TrySendError::Disconnected(_) => ConsensusError::Stopped("driver stopped".into()),
            }
        })
    }

    fn request<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> Request,
    ) -> Result<Pending<T>, ConsensusError> {
        let (tx, rx) = oneshot::channel();
        self.enqueue(
            Input::Request(make(tx)),
            &self.counts.requests,
            self.config.max_pending_requests,
            "request",
        )?;
        Ok(rx)
    }

    /// Queues a message from a peer (decode it with [`crate::codec::decode_message`]); never
    /// blocks. Rejections by the node are logged by the loop.
    pub fn step(&self, msg: Message) -> Result<(), ConsensusError> {
        self.enqueue(
            Input::Message(msg),
            &self.counts.messages,
            self.config.max_pending_messages,
            "message",
        )
    }

    pub fn propose(&self, data: Vec<u8>) -> Result<Pending<Proposed>, ConsensusError> {
        self.request(|r| Request::Propose(data, r))
    }

    pub fn transfer_leader(&self, to: u64) -> Result<Pending<()>, ConsensusError> {
        self.request(|r| Request::TransferLeader(to, r))
    }

    pub fn add_learner(&self, id: u64) -> Result<Pending<Proposed>, ConsensusError> {
        self.request(|r| Request::AddLearner(id, r))
    }

    pub fn promote_voter(&self, id: u64) -> Result<Pending<Proposed>, ConsensusError> {
        self.request(|r| Request::PromoteVoter(id, r))
    }

    pub fn remove_node(&self, id: u64) -> Result<Pending<Proposed>, ConsensusError> {
        self.request(|r| Request::RemoveNode(id, r))
    }

    pub fn campaign(&self) -> Result<Pending<()>, ConsensusError> {
        self.request(Request::Campaign)
    }

    pub fn status(&self) -> Result<Pending<NodeStatus>, ConsensusError> {
        self.request(Request::Status)
    }

    pub fn report_unreachable(&self, id: u64) -> Result<(), ConsensusError> {
        self.enqueue(
            Input::Request(Request::ReportUnreachable(id)),
            &self.counts.requests,
            self.config.max_pending_requests,
            "request",
        )
    }

    pub fn report_snapshot(&self, id: u64, delivered: bool) -> Result<(), ConsensusError> {
        self.enqueue(
            Input::Request(Request::ReportSnapshot(id, delivered)),
            &self.counts.requests,
            self.config.max_pending_requests,
            "request",
        )
    }
}

/// Owner of the Ready-loop thread. Dropping it without [`shutdown`](Self::shutdown) leaves the
/// loop running until every handle is gone.
#[derive(Debug)]
pub struct Driver {
    handle: DriverHandle,
    thread: Option<JoinHandle<Result<(), ConsensusError>>>,
}

impl Driver {
    /// Starts the loop on a thread named `raft-<id>`.
    pub fn spawn<L, T, S>(
        node: RaftNode<L>,
        transport: T,
        state_machine: S,
        config: DriverConfig,
    ) -> Result<Self, ConsensusError>
    where
        L: LogStore + Send + 'static,
        T: Transport,
        S: StateMachine,
    {
        let capacity = config.max_pending_messages + config.max_pending_requests + 1;
        let (tx, rx) = sync_channel(capacity);
        let counts = Arc::new(Counts::default());
        let handle = DriverHandle {
            tx,
            counts: counts.clone(),
            config: config.clone(),
        };
        let name = format!("raft-{}", node.id());
        let mut lp = ReadyLoop {
            node,
            transport,
            state_machine,
            rx,
            counts,
            config,
        };
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                let result = lp.run();
                if let Err(e) = &result {
                    tracing::error!(target: "rampart_consensus::driver", id = lp.node.id(), error = %e, "raft loop stopped");
                }
                result
            })
            .map_err(|e| ConsensusError::Stopped(format!("cannot spawn raft thread: {e}")))?;
        Ok(Self {
            handle,
            thread: Some(thread),
        })
    }

    pub fn handle(&self) -> DriverHandle {
        self.handle.clone()
    }

    /// Stops the loop after the inputs already queued and waits for it; returns the error that
    /// stopped it, if one did.
    pub fn shutdown(mut self) -> Result<(), ConsensusError> {
        // Ignored: if the loop is gone it has nothing to receive, and its result says why.
        let _ = self.handle.tx.send(Input::Shutdown);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ConsensusError::Bug("raft loop panicked".into())),
            None => Ok(()),
        }
    }
}

struct ReadyLoop<L: LogStore, T, S> {
    node: RaftNode<L>,
    transport: T,
    state_machine: S,
    rx: Receiver<Input>,
    counts: Arc<Counts>,
    config: DriverConfig,
}

/// Readies handled in a row before the loop looks at its queues again.
const MAX_READIES_PER_TURN: usize = 16;

impl<L: LogStore, T: Transport, S: StateMachine> ReadyLoop<L, T, S> {
    fn run(&mut self) -> Result<(), ConsensusError> {
        let tick = Duration::from_millis(self.config.tick_interval_ms.max(1));
        let mut next_tick = Instant::now() + tick;
        loop {
            let now = Instant::now();
            if now >= next_tick {
                self.node.tick();
                next_tick = now + tick;
            }
            match self
                .rx
                .recv_timeout(next_tick.saturating_duration_since(now))
            {
                Ok(input) => {
                    if !self.handle(input) {
                        return Ok(());
                    }
                    // Take what else is waiting, so one Ready (one fsync) covers it all.
                    for _ in 1..self.config.max_inputs_per_ready {
                        match self.rx.try_recv() {
                            Ok(input) => {
                                if !self.handle(input) {
                                    return Ok(());
                                }
                            }
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
            self.process_readies()?;
        }
    }

    /// Handles one input; false on shutdown.
    fn handle(&mut self, input: Input) -> bool {
        match input {
            Input::Shutdown => return false,
            Input::Message(msg) => {
                self.counts.messages.fetch_sub(1, Ordering::AcqRel);
                if let Err(e) = self.node.step(msg) {
                    tracing::debug!(target: "rampart_consensus::driver", error = %e, "peer message rejected");
                }
            }
            Input::Request(req) => {
                self.counts.requests.fetch_sub(1, Ordering::AcqRel);
                let node = &mut self.node;
                // A dropped receiver only means the caller stopped waiting.
                match req {
                    Request::Propose(data, r) => drop(r.send(node.propose(data))),
                    Request::TransferLeader(to, r) => drop(r.send(node.transfer_leader(to))),
                    Request::AddLearner(id, r) => drop(r.send(node.add_learner(id))),
                    Request::PromoteVoter(id, r) => drop(r.send(node.promote_voter(id))),
                    Request::RemoveNode(id, r) => drop(r.send(node.remove_node(id))),
                    Request::Campaign(r) => drop(r.send(node.campaign())),
                    Request::Status(r) => drop(r.send(Ok(node.status()))),
                    Request::ReportUnreachable(id) => node.report_unreachable(id),
                    Request::ReportSnapshot(id, ok) => node.report_snapshot(id, ok),
                }
            }
        }
        true
    }

    fn process_readies(&mut self) -> Result<(), ConsensusError> {
        for _ in 0..MAX_READIES_PER_TURN {
            let Some(out) = self.node.on_ready()? else {
                return Ok(());
            };
            let last = out.last_index();
            for msg in out.messages_to_send {
                self.transport.send(msg);
            }
            if let Some(change) = &out.soft_state {
                self.state_machine.on_soft_state(change);
            }
            if let Some(snapshot) = &out.snapshot {
                self.state_machine
                    .restore(snapshot)
                    .map_err(ConsensusError::Apply)?;
            }
            if !out.committed_entries.is_empty() {
                self.state_machine
                    .apply(&out.committed_entries)
                    .map_err(ConsensusError::Apply)?;
            }
            if let Some(index) = last {
                self.node.set_applied(index)?;
            }
        }
        Ok(())
    }
}
