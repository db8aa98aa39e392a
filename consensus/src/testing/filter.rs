//! Faults the test network puts on messages: drop, delay (which also reorders), partition,
//! isolate. Checked when a message is sent and, for cuts, again when it is delivered.

use std::collections::BTreeSet;

use raft::eraftpb::{Message, MessageType};

use super::rng::Rng;

/// What happens to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Deliver,
    Drop,
    /// Deliver this many rounds later.
    Delay(u64),
}

/// A fault on the network.
pub trait Filter: std::fmt::Debug {
    /// Decides a message's fate when it is sent.
    fn on_send(&mut self, msg: &Message, rng: &mut Rng) -> Verdict;
    /// True when the message may not arrive now (a cut that appeared while it was in flight).
    fn blocks(&self, _msg: &Message) -> bool {
        false
    }
}

/// Nodes in different groups cannot talk; a node in no group talks to nobody.
#[derive(Debug, Clone)]
pub struct Partition {
    groups: Vec<BTreeSet<u64>>,
}

impl Partition {
    pub fn new(groups: &[&[u64]]) -> Self {
        Self {
            groups: groups.iter().map(|g| g.iter().copied().collect()).collect(),
        }
    }

    /// `id` alone; everyone else together.
    pub fn isolate(id: u64, all: impl IntoIterator<Item = u64>) -> Self {
        let rest: BTreeSet<u64> = all.into_iter().filter(|&n| n != id).collect();
        Self {
            groups: vec![BTreeSet::from([id]), rest],
        }
    }

    fn cut(&self, a: u64, b: u64) -> bool {
        !self.groups.iter().any(|g| g.contains(&a) && g.contains(&b))
    }
}

impl Filter for Partition {
    fn on_send(&mut self, msg: &Message, _rng: &mut Rng) -> Verdict {
        if self.blocks(msg) {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    }

    fn blocks(&self, msg: &Message) -> bool {
        self.cut(msg.from, msg.to)
    }
}

/// Drops each message with a probability.
#[derive(Debug, Clone)]
pub struct RandomDrop {
    pub per_mille: u32,
}

impl Filter for RandomDrop {
    fn on_send(&mut self, _msg: &Message, rng: &mut Rng) -> Verdict {
        if rng.chance(self.per_mille) {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    }
}

/// Delays each message by `[0, max_rounds]` rounds, which reorders them.
#[derive(Debug, Clone)]
pub struct RandomDelay {
    pub max_rounds: u64,
}

impl Filter for RandomDelay {
    fn on_send(&mut self, _msg: &Message, rng: &mut Rng) -> Verdict {
        Verdict::Delay(rng.below(self.max_rounds + 1))
    }
}

/// Drops messages from `from` to `to` (one direction), optionally of one type only.
#[derive(Debug, Clone)]
pub struct DropLink {
    pub from: u64,
    pub to: u64,
    pub msg_type: Option<MessageType>,
}

impl Filter for DropLink {
    fn on_send(&mut self, msg: &Message, _rng: &mut Rng) -> Verdict {
        if self.blocks(msg) {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    }

    fn blocks(&self, msg: &Message) -> bool {
        msg.from == self.from
            && msg.to == self.to
            && self.msg_type.is_none_or(|t| t == msg.get_msg_type())
    }
}
