//! The pool itself.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap, HashMap},
    fmt,
};

use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256, U256};
use parking_lot::Mutex;
use rampart_primitives::RecoveredTx;
use tracing::{debug, trace};

use crate::{PoolConfig, PoolError};

/// What [`TxPool::add`] did with an accepted transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// Stored under a sender+nonce that was free.
    Added,
    /// Took the place of `old`, which had the same sender and nonce and is no longer in the pool.
    Replaced { old: B256 },
}

/// Transaction counts for `txpool_status`-style reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStatus {
    /// Transactions contiguous from the lowest nonce the pool holds for their sender.
    pub pending: usize,
    /// Every other transaction (behind a nonce gap).
    pub queued: usize,
}

/// One stored transaction and the arrival sequence number that orders it in [`TxPool::select`].
#[derive(Debug)]
pub(crate) struct PooledTx {
    pub(crate) tx: RecoveredTx,
    pub(crate) seq: u64,
}

/// A sender's transactions by nonce. A `BTreeMap` so "the contiguous run from nonce n" is a range
/// walk and pruning below a nonce is a `split_off`.
pub(crate) type Chain = BTreeMap<u64, PooledTx>;

#[derive(Debug, Default)]
pub(crate) struct Inner {
    /// Per-sender chains. A `BTreeMap` so that every walk over senders is in a fixed order.
    pub(crate) senders: BTreeMap<Address, Chain>,
    /// Hash index; only ever used for point lookups, never iterated where order matters.
    pub(crate) by_hash: HashMap<B256, (Address, u64)>,
    /// The next arrival sequence number; strictly increasing, so sequence numbers are unique.
    next_seq: u64,
}

/// The mempool. Internally synchronised: share it through an `Arc`; every method takes `&self`.
///
/// Callbacks that report committed nonces (`state_nonce`) are always invoked *without* the pool
/// lock held, so they may read the state store (or even call back into the pool) without stalling
/// RPC submissions or deadlocking.
pub struct TxPool {
    config: PoolConfig,
    /// `pub(crate)` so the tests can check internal invariants.
    pub(crate) inner: Mutex<Inner>,
}

impl fmt::Debug for TxPool {
    // Deliberately not the contents: a full pool holds tens of thousands of transactions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxPool")
            .field("config", &self.config)
            .field("len", &self.len())
            .finish()
    }
}

impl TxPool {
    pub fn new(config: PoolConfig) -> Self {
        Self {
            config,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Inserts a transaction. `state_nonce` is the sender's committed nonce; any of the sender's
    /// pooled transactions below it are stale and are dropped on the way (they can never execute).
    ///
    /// A transaction with the same sender and nonce as a pooled one but a different hash replaces
    /// it only if it raises both the fee cap and the tip cap by at least
    /// [`PoolConfig::price_bump_percent`] (geth's rule). The replacement gets a *new* arrival
    /// sequence number, i.e. it queues behind everything that arrived before it: a replacement is
    /// a new transaction, and letting it inherit the old slot would let a sender reserve an early
    /// position with a placeholder and fill it in later.
    pub fn add(&self, tx: RecoveredTx, state_nonce: u64) -> Result<AddOutcome, PoolError> {
        self.inner.lock().insert(&self.config, tx, state_nonce)
    }

    /// The sender's next usable nonce as far as the pool knows ("pending" nonce): one past the end
    /// of the contiguous run `state_nonce, state_nonce + 1, ..` held in the pool, or `state_nonce`
    /// if the pool does not hold `state_nonce` itself.
    pub fn pending_nonce(&self, sender: &Address, state_nonce: u64) -> u64 {
        let inner = self.inner.lock();
        let run = inner
            .senders
            .get(sender)
            .map_or(0, |chain| ready_run(chain, state_nonce));
        state_nonce.saturating_add(run as u64)
    }

    /// Picks the next block body, without removing anything: at most `max_txs` ready
    /// transactions whose `gas_limit`s sum to at most `max_gas`.
    ///
    /// A sender's transactions are ready when they form a contiguous run from its committed nonce
    /// (`state_nonce`); they are always taken in nonce order. Across senders the result is a merge
    /// by arrival sequence number: the next transaction taken is, among every sender's next ready
    /// one, the one that arrived first. The result is fully determined by the pool contents and the
    /// nonces (sequence numbers are unique, and ties cannot occur).
    ///
    /// A transaction whose gas limit does not fit the gas left is skipped together with the rest
    /// of its sender's run (a nonce cannot be skipped); other senders carry on.
    ///
    /// `state_nonce` is called once per sender, outside the pool lock. Senders that first appear
    /// between those calls and the selection are left for the next block.
    pub fn select(
        &self,
        max_txs: usize,
        max_gas: u64,
        state_nonce: impl Fn(&Address) -> u64,
    ) -> Vec<RecoveredTx> {
        if max_txs == 0 {
            return Vec::new();
        }
        let nonces = self.sender_nonces(state_nonce);
        let inner = self.inner.lock();

        // Each sender's chain and next nonce; the heap holds (arrival seq, index into `cursors`).
        let mut cursors: Vec<(&Chain, u64)> = Vec::new();
        let mut heads = BinaryHeap::new();
        for (sender, nonce) in nonces {
            if let Some(chain) = inner.senders.get(&sender)
                && let Some(head) = chain.get(&nonce)
            {
                heads.push(Reverse((head.seq, cursors.len())));
                cursors.push((chain, nonce));
            }
        }

        let mut selected = Vec::new();
        let mut gas_left = max_gas;
        while let Some(Reverse((_, idx))) = heads.pop() {
            let (chain, nonce) = cursors[idx];
            let Some(pooled) = chain.get(&nonce) else {
                continue;
            };
            let gas = pooled.tx.gas_limit();
            if gas > gas_left {
                // This sender's run stops here; its later nonces cannot be included without it.
                continue;
            }
            gas_left -= gas;
            selected.push(pooled.tx.clone());
            if selected.len() == max_txs {
                break;
            }
            if let Some(next_nonce) = nonce.checked_add(1)
                && let Some(next) = chain.get(&next_nonce)
            {
                cursors[idx].1 = next_nonce;
                heads.push(Reverse((next.seq, idx)));
            }
        }
        selected
    }

    /// After a block commits: for each `(sender, committed nonce)`, drops every transaction of
    /// that sender with a lower nonce (included, or replaced by a different transaction that was).
    pub fn on_committed(&self, committed: impl IntoIterator<Item = (Address, u64)>) {
        let mut inner = self.inner.lock();
        let mut dropped = 0;
        for (sender, nonce) in committed {
            dropped += inner.prune_below(&sender, nonce);
        }
        trace!(
            dropped,
            remaining = inner.by_hash.len(),
            "txpool pruned committed transactions"
        );
    }

    /// Drops transactions by hash (e.g. rejected at execution); unknown hashes are ignored. With
    /// `drop_descendants`, also drops every higher-nonce transaction of the same sender, which
    /// could otherwise never become ready unless the sender fills the hole.
    pub fn remove(&self, hashes: &[B256], drop_descendants: bool) {
        let mut inner = self.inner.lock();
        for hash in hashes {
            inner.remove_hash(hash, drop_descendants);
        }
    }

    /// Puts transactions back, e.g. those in a deposed leader's uncommitted blocks. Each one goes
    /// through the same checks as [`TxPool::add`] (in the given order, so they get arrival
    /// numbers in that order); ones already in the pool are silently skipped and others that
    /// fail are logged and dropped. Returns how many were added (or replaced a pooled one).
    pub fn reinsert(&self, txs: Vec<RecoveredTx>, state_nonce: impl Fn(&Address) -> u64) -> usize {
        // Look the nonces up before locking, once per sender.
        let mut nonces: BTreeMap<Address, u64> = BTreeMap::new();
        for tx in &txs {
            nonces
                .entry(tx.sender)
                .or_insert_with(|| state_nonce(&tx.sender));
        }
        let mut inner = self.inner.lock();
        let mut added = 0;
        for tx in txs {
            let hash = tx.hash;
            let nonce = nonces.get(&tx.sender).copied().unwrap_or_default();
            match inner.insert(&self.config, tx, nonce) {
                Ok(_) => added += 1,
                Err(PoolError::AlreadyKnown) => {}
                Err(err) => debug!(%hash, %err, "txpool: reinserted transaction dropped"),
            }
        }
        added
    }

    pub fn get(&self, hash: &B256) -> Option<RecoveredTx> {
        let inner = self.inner.lock();
        let (sender, nonce) = inner.by_hash.get(hash)?;
        inner
            .senders
            .get(sender)?
            .get(nonce)
            .map(|pooled| pooled.tx.clone())
    }

    pub fn contains(&self, hash: &B256) -> bool {
        self.inner.lock().by_hash.contains_key(hash)
    }

    /// Transactions held, ready or not.
    pub fn len(&self) -> usize {
        self.inner.lock().by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many transactions [`TxPool::select`] could choose from with unlimited room: the sum
    /// of every sender's contiguous run from its committed nonce. Costs one `state_nonce` call per
    /// sender (outside the lock) plus a walk of the ready runs.
    pub fn ready_len(&self, state_nonce: impl Fn(&Address) -> u64) -> usize {
        let nonces = self.sender_nonces(state_nonce);
        let inner = self.inner.lock();
        nonces
            .into_iter()
            .filter_map(|(sender, nonce)| {
                inner
                    .senders
                    .get(&sender)
                    .map(|chain| ready_run(chain, nonce))
            })
            .sum()
    }

    /// Pending/queued counts. The pool does not know committed nonces here, so "pending" is
    /// approximated as the run contiguous from the *lowest nonce held* per sender: if that nonce is
    /// itself above the committed nonce, the run is really queued. Exact counts need the nonces:
    /// use [`TxPool::ready_len`].
    pub fn status(&self) -> PoolStatus {
        let inner = self.inner.lock();
        let pending: usize = inner
            .senders
            .values()
            .filter_map(|chain| chain.keys().next().map(|&lowest| ready_run(chain, lowest)))
            .sum();
        PoolStatus {
            pending,
            queued: inner.by_hash.len() - pending,
        }
    }

    /// Every sender currently in the pool with its committed nonce, looked up without the lock.
    fn sender_nonces(&self, state_nonce: impl Fn(&Address) -> u64) -> Vec<(Address, u64)> {
        let senders: Vec<Address> = self.inner.lock().senders.keys().copied().collect();
        senders
            .into_iter()
            .map(|sender| (sender, state_nonce(&sender)))
            .collect()
    }
}

impl Inner {
    fn insert(
        &mut self,
        config: &PoolConfig,
        tx: RecoveredTx,
        state_nonce: u64,
    ) -> Result<AddOutcome, PoolError> {
        let sender = tx.sender;
        let nonce = tx.nonce();
        // Stale entries first: they free room and must not make a current tx look "already known".
        self.prune_below(&sender, state_nonce);

        if self.by_hash.contains_key(&tx.hash) {
            return Err(PoolError::AlreadyKnown);
        }
        if nonce < state_nonce {
            return Err(PoolError::NonceTooLow {
                state: state_nonce,
                tx: nonce,
            });
        }
        if nonce - state_nonce > config.max_nonce_gap {
            return Err(PoolError::NonceTooHigh {
                state: state_nonce,
                tx: nonce,
                max_gap: config.max_nonce_gap,
            });
        }

        let seq = self.next_seq;
        let hash = tx.hash;
        if let Some(existing) = self
            .senders
            .get_mut(&sender)
            .and_then(|chain| chain.get_mut(&nonce))
        {
            if !is_sufficient_bump(&existing.tx, &tx, config.price_bump_percent) {
                return Err(PoolError::ReplacementUnderpriced);
            }
            let old = existing.tx.hash;
            *existing = PooledTx { tx, seq };
            self.next_seq += 1;
            self.by_hash.remove(&old);
            self.by_hash.insert(hash, (sender, nonce));
            debug!(%sender, nonce, %old, new = %hash, "txpool: transaction replaced");
            return Ok(AddOutcome::Replaced { old });
        }

        // Limits only apply to growth; a replacement never changes the counts.
        let held = self.senders.get(&sender).map_or(0, BTreeMap::len);
        if held >= config.max_per_sender {
            return Err(PoolError::SenderFull {
                limit: config.max_per_sender,
            });
        }
        if self.by_hash.len() >= config.max_total {
            return Err(PoolError::PoolFull {
                limit: config.max_total,
            });
        }

        self.senders
            .entry(sender)
            .or_default()
            .insert(nonce, PooledTx { tx, seq });
        self.next_seq += 1;
        self.by_hash.insert(hash, (sender, nonce));
        trace!(%sender, nonce, %hash, seq, "txpool: transaction added");
        Ok(AddOutcome::Added)
    }

    /// Drops the sender's transactions with nonce < `nonce`; returns how many.
    fn prune_below(&mut self, sender: &Address, nonce: u64) -> usize {
        let Some(chain) = self.senders.get_mut(sender) else {
            return 0;
        };
        let keep = chain.split_off(&nonce);
        let stale = std::mem::replace(chain, keep);
        if chain.is_empty() {
            self.senders.remove(sender);
        }
        for pooled in stale.values() {
            self.by_hash.remove(&pooled.tx.hash);
        }
        stale.len()
    }

    fn remove_hash(&mut self, hash: &B256, drop_descendants: bool) {
        let Some((sender, nonce)) = self.by_hash.remove(hash) else {
            return;
        };
        let Some(chain) = self.senders.get_mut(&sender) else {
            return;
        };
        chain.remove(&nonce);
        if drop_descendants && let Some(next) = nonce.checked_add(1) {
            for pooled in chain.split_off(&next).values() {
                self.by_hash.remove(&pooled.tx.hash);
            }
        }
        if chain.is_empty() {
            self.senders.remove(&sender);
        }
    }
}

/// Length of the contiguous nonce run `from, from + 1, ..` held in `chain`.
fn ready_run(chain: &Chain, from: u64) -> usize {
    let mut expected = from;
    let mut run = 0;
    for &nonce in chain.range(from..).map(|(nonce, _)| nonce) {
        if nonce != expected {
            break;
        }
        run += 1;
        match nonce.checked_add(1) {
            Some(next) => expected = next,
            None => break,
        }
    }
    run
}

/// geth's replacement rule: the new transaction must pay strictly more on both the fee cap and the
/// tip cap, and each must be at least `old * (100 + bump) / 100`. A legacy transaction's tip cap is
/// its gas price, as in geth, so legacy/EIP-1559 replacements compare like for like.
fn is_sufficient_bump(old: &RecoveredTx, new: &RecoveredTx, bump_percent: u128) -> bool {
    let tip = |tx: &RecoveredTx| {
        tx.envelope
            .max_priority_fee_per_gas()
            .unwrap_or_else(|| tx.max_fee_per_gas())
    };
    bumped(old.max_fee_per_gas(), new.max_fee_per_gas(), bump_percent)
        && bumped(tip(old), tip(new), bump_percent)
}

fn bumped(old: u128, new: u128, bump_percent: u128) -> bool {
    // In U256: `old * (100 + bump)` overflows u128 for large fee caps.
    let threshold =
        U256::from(old) * U256::from(bump_percent.saturating_add(100)) / U256::from(100u8);
    new > old && U256::from(new) >= threshold
}
