//! Invariant checks over everything the nodes of a test network did.
//!
//! - **State-machine safety**: every node applies the same entry (term, kind, data) at an
//!   index; snapshots agree with what was applied.
//! - **Applied order**: each node applies strictly increasing indices.
//! - **Election safety**: at most one leader per term.
//! - **Proposal integrity**: a proposal that commits does so at the index and term the leader
//!   gave it, at most once; no other data commits at a proposal's (index, term).

use std::collections::BTreeMap;

use crate::node::{CommittedEntry, EntryKind, Proposed};

use super::app::Applied;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    term: u64,
    kind: EntryKind,
    data: Vec<u8>,
    node: u64,
}

/// Records the network's history and the violations found in it.
#[derive(Debug, Default)]
pub struct History {
    committed: BTreeMap<u64, Seen>,
    last_applied: BTreeMap<u64, u64>,
    leaders: BTreeMap<u64, u64>,
    proposals: BTreeMap<Vec<u8>, Proposed>,
    proposal_at: BTreeMap<(u64, u64), Vec<u8>>,
    violations: Vec<String>,
}

impl History {
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    /// Highest index any node applied.
    pub fn max_committed(&self) -> u64 {
        self.committed.keys().next_back().copied().unwrap_or(0)
    }

    /// Data entries known committed, in index order.
    pub fn committed_data(&self) -> Vec<(u64, Vec<u8>)> {
        self.committed
            .iter()
            .filter(|(_, s)| s.kind == EntryKind::Data)
            .map(|(i, s)| (*i, s.data.clone()))
            .collect()
    }

    fn violation(&mut self, v: String) {
        self.violations.push(v);
    }

    pub fn record_leader(&mut self, term: u64, id: u64) {
        match self.leaders.insert(term, id) {
            Some(other) if other != id => {
                self.violation(format!("two leaders in term {term}: {other} and {id}"))
            }
            _ => {}
        }
    }

    pub fn record_proposal(&mut self, data: &[u8], p: Proposed) {
        if let Some(prev) = self.proposal_at.insert((p.index, p.term), data.to_vec())
            && prev != data
        {
            self.violation(format!(
                "two proposals at index {} term {}",
                p.index, p.term
            ));
        }
        self.proposals.insert(data.to_vec(), p);
    }

    fn advance(&mut self, node: u64, index: u64, what: &str) {
        let last = self.last_applied.entry(node).or_insert(0);
        if index <= *last {
            let last = *last;
            self.violation(format!("node {node} applied {what} {index} after {last}"));
        } else {
            *last = index;
        }
    }

    fn check_entry(&mut self, node: u64, index: u64, term: u64, kind: EntryKind, data: &[u8]) {
        let seen = Seen {
            term,
            kind,
            data: data.to_vec(),
            node,
        };
        match self.committed.get(&index) {
            Some(s) if (s.term, s.kind, &s.data[..]) != (term, kind, data) => {
                let v = format!(
                    "index {index}: node {} applied term {} {:?} {:?}, node {node} applied term {term} {kind:?} {:?}",
                    s.node,
                    s.term,
                    s.kind,
                    String::from_utf8_lossy(&s.data),
                    String::from_utf8_lossy(data)
                );
                self.violation(v);
            }
            Some(_) => {}
            None => {
                self.committed.insert(index, seen);
            }
        }
        if kind == EntryKind::Data {
            if let Some(p) = self.proposals.get(data).copied()
                && (p.index, p.term) != (index, term)
            {
                self.violation(format!(
                    "proposal {:?} made at index {} term {} committed at index {index} term {term}",
                    String::from_utf8_lossy(data),
                    p.index,
                    p.term
                ));
            }
            if let Some(p) = self.proposal_at.get(&(index, term))
                && p[..] != *data
            {
                let v = format!(
                    "index {index} term {term}: proposed {:?} but committed {:?}",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(data)
                );
                self.violation(v);
            }
        }
    }

    pub fn record_apply(&mut self, node: u64, e: &CommittedEntry) {
        self.advance(node, e.index, "entry");
        self.check_entry(node, e.index, e.term, e.kind, &e.data);
    }

    /// A node installed a snapshot at `index` holding `entries`.
    pub fn record_snapshot(&mut self, node: u64, index: u64, entries: &[Applied]) {
        self.advance(node, index, "snapshot");
        for a in entries {
            self.check_entry(node, a.index, a.term, EntryKind::Data, &a.data);
        }
    }

    /// Data payloads committed more than once.
    pub fn check_no_duplicates(&mut self) {
        let mut seen: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut dups = Vec::new();
        for (i, s) in &self.committed {
            if s.kind == EntryKind::Data
                && let Some(prev) = seen.insert(s.data.clone(), *i)
            {
                dups.push(format!(
                    "{:?} committed at {prev} and {i}",
                    String::from_utf8_lossy(&s.data)
                ));
            }
        }
        for d in dups {
            self.violation(d);
        }
    }
}
