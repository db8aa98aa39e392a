//! The collaborative scheduler of Block-STM (Gelashvili et al., Algorithms 4 and 5).
//!
//! Two indices walk the block: `execution_idx` hands out transactions to execute,
//! `validation_idx` hands out executed ones to validate. A failed validation aborts the
//! transaction (its writes become estimates), bumps its incarnation and lowers
//! `validation_idx` so that every later transaction is validated again. A transaction that
//! reads an estimate waits on its writer (a dependency) and is resumed when the writer finishes.
//! The block is done when both indices are past the end, no task is in flight, and no index
//! was lowered meanwhile.
//!
//! Besides read-time dependencies, a transaction is made to wait up front for the previous
//! transaction of the same sender (as pevm does): it would read that sender's nonce and
//! balance anyway, so executing it earlier is wasted work.

use std::sync::{
    Mutex,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use super::mv_memory::{Incarnation, Padded, TxIdx, Version, lock};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    ReadyToExecute,
    Executing,
    Executed,
    Aborting,
    /// Final: every lower transaction is committed and this one's reads validated after that.
    Committed,
}

#[derive(Debug)]
struct TxState {
    incarnation: Incarnation,
    status: Status,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Task {
    Execution(Version),
    Validation(Version),
}

#[derive(Debug)]
pub(crate) struct Scheduler {
    n: usize,
    execution_idx: Padded<AtomicUsize>,
    validation_idx: Padded<AtomicUsize>,
    decrease_cnt: Padded<AtomicUsize>,
    num_active_tasks: Padded<AtomicUsize>,
    done_marker: Padded<AtomicBool>,
    status: Vec<Padded<Mutex<TxState>>>,
    dependencies: Vec<Padded<Mutex<Vec<TxIdx>>>>,
}

impl Scheduler {
    pub fn new(n: usize) -> Self {
        Self {
            n,
            execution_idx: Padded(AtomicUsize::new(0)),
            validation_idx: Padded(AtomicUsize::new(0)),
            decrease_cnt: Padded(AtomicUsize::new(0)),
            num_active_tasks: Padded(AtomicUsize::new(0)),
            done_marker: Padded(AtomicBool::new(false)),
            status: (0..n)
                .map(|_| {
                    Padded(Mutex::new(TxState {
                        incarnation: 0,
                        status: Status::ReadyToExecute,
                    }))
                })
                .collect(),
            dependencies: (0..n).map(|_| Padded(Mutex::new(Vec::new()))).collect(),
        }
    }

    pub fn done(&self) -> bool {
        self.done_marker.load(Ordering::Acquire)
    }

    fn decrease_execution_idx(&self, target: TxIdx) {
        self.execution_idx.fetch_min(target, Ordering::SeqCst);
        self.decrease_cnt.fetch_add(1, Ordering::SeqCst);
    }

    fn decrease_validation_idx(&self, target: TxIdx) {
        self.validation_idx.fetch_min(target, Ordering::SeqCst);
        self.decrease_cnt.fetch_add(1, Ordering::SeqCst);
    }

    fn check_done(&self) {
        let observed = self.decrease_cnt.load(Ordering::SeqCst);
        if self
            .execution_idx
            .load(Ordering::SeqCst)
            .min(self.validation_idx.load(Ordering::SeqCst))
            >= self.n
            && self.num_active_tasks.load(Ordering::SeqCst) == 0
            && observed == self.decrease_cnt.load(Ordering::SeqCst)
        {
            self.done_marker.store(true, Ordering::Release);
        }
    }

    fn try_incarnate(&self, txn_idx: TxIdx) -> Option<Version> {
        if txn_idx < self.n {
            let mut s = lock(&self.status[txn_idx]);
            if s.status == Status::ReadyToExecute {
                s.status = Status::Executing;
                return Some(Version {
                    txn_idx,
                    incarnation: s.incarnation,
                });
            }
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        None
    }

    fn next_version_to_execute(&self) -> Option<Version> {
        if self.execution_idx.load(Ordering::SeqCst) >= self.n {
            self.check_done();
            return None;
        }
        self.num_active_tasks.fetch_add(1, Ordering::SeqCst);
        let idx = self.execution_idx.fetch_add(1, Ordering::SeqCst);
        self.try_incarnate(idx)
    }

    fn next_version_to_validate(&self) -> Option<Version> {
        if self.validation_idx.load(Ordering::SeqCst) >= self.n {
            self.check_done();
            return None;
        }
        self.num_active_tasks.fetch_add(1, Ordering::SeqCst);
        let idx = self.validation_idx.fetch_add(1, Ordering::SeqCst);
        if idx < self.n {
            let s = lock(&self.status[idx]);
            if s.status == Status::Executed {
                return Some(Version {
                    txn_idx: idx,
                    incarnation: s.incarnation,
                });
            }
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        None
    }

    pub fn next_task(&self) -> Option<Task> {
        if self.validation_idx.load(Ordering::SeqCst) < self.execution_idx.load(Ordering::SeqCst) {
            self.next_version_to_validate().map(Task::Validation)
        } else {
            self.next_version_to_execute().map(Task::Execution)
        }
    }

    /// `txn_idx` (executing) waits for `blocking` to finish executing. False when `blocking`
    /// is already executed: then `txn_idx` should simply run again.
    pub fn add_dependency(&self, txn_idx: TxIdx, blocking: TxIdx) -> bool {
        {
            let mut deps = lock(&self.dependencies[blocking]);
            if matches!(
                lock(&self.status[blocking]).status,
                Status::Executed | Status::Committed
            ) {
                return false;
            }
            lock(&self.status[txn_idx]).status = Status::Aborting;
            deps.push(txn_idx);
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        true
    }

    fn set_ready_status(&self, txn_idx: TxIdx) {
        let mut s = lock(&self.status[txn_idx]);
        s.incarnation += 1;
        s.status = Status::ReadyToExecute;
    }

    fn resume_dependencies(&self, deps: Vec<TxIdx>) {
        let Some(&min) = deps.iter().min() else {
            return;
        };
        for d in deps {
            self.set_ready_status(d);
        }
        self.decrease_execution_idx(min);
    }

    /// An incarnation finished executing; returns its validation task when it can be run now.
    pub fn finish_execution(&self, version: Version, wrote_new_location: bool) -> Option<Task> {
        let txn_idx = version.txn_idx;
        lock(&self.status[txn_idx]).status = Status::Executed;
        let deps = std::mem::take(&mut *lock(&self.dependencies[txn_idx]));
        self.resume_dependencies(deps);
        if self.validation_idx.load(Ordering::SeqCst) > txn_idx {
            if wrote_new_location {
                self.decrease_validation_idx(txn_idx);
            } else {
                return Some(Task::Validation(version));
            }
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        None
    }

    /// Marks the incarnation aborted if it is still the executed one; only one validator wins.
    pub fn try_validation_abort(&self, version: Version) -> bool {
        let mut s = lock(&self.status[version.txn_idx]);
        if s.incarnation == version.incarnation && s.status == Status::Executed {
            s.status = Status::Aborting;
            return true;
        }
        false
    }

    pub fn finish_validation(&self, txn_idx: TxIdx, aborted: bool) -> Option<Task> {
        if aborted {
            self.set_ready_status(txn_idx);
            self.decrease_validation_idx(txn_idx + 1);
            if self.execution_idx.load(Ordering::SeqCst) > txn_idx {
                // try_incarnate ends the task itself when it cannot re-execute.
                return self.try_incarnate(txn_idx).map(Task::Execution);
            }
        }
        self.num_active_tasks.fetch_sub(1, Ordering::SeqCst);
        None
    }

    /// Commits `txn_idx` (the caller has committed every lower transaction) if its executed
    /// incarnation's reads still validate. Under the status lock, so no validation can abort
    /// it meanwhile; once committed it is never aborted or executed again.
    /// Returns the committed incarnation (above zero: the transaction ran more than once or
    /// waited on another).
    pub fn try_commit(
        &self,
        txn_idx: TxIdx,
        validate: impl FnOnce() -> bool,
    ) -> Option<Incarnation> {
        let mut s = lock(&self.status[txn_idx]);
        if s.status != Status::Executed || !validate() {
            return None;
        }
        s.status = Status::Committed;
        Some(s.incarnation)
    }
}
