//! The write set: every account, storage slot and code a block changed.
//!
//! It is the unit that execution produces and that every replica applies; its iteration order
//! is sorted (B-tree maps), so its encoding and its commitment are identical everywhere.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, U256};
use serde::{Deserialize, Serialize};

use crate::Account;

/// What a block did to one account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountWrite {
    /// The account's new fields; `None` deletes the account (self-destruct, EIP-161 clearing).
    pub info: Option<Account>,
    /// Wipe all of the account's storage before applying `storage` (self-destruct, re-creation).
    pub storage_cleared: bool,
    /// New slot values; a zero value deletes the slot.
    pub storage: BTreeMap<U256, U256>,
}

/// All changes of one block, sorted by address, slot and code hash.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteSet {
    pub accounts: BTreeMap<Address, AccountWrite>,
    /// New contract code by its keccak-256 hash.
    pub codes: BTreeMap<B256, Bytes>,
}

impl WriteSet {
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.codes.is_empty()
    }

    /// Number of account and slot writes, for metrics and bounds.
    pub fn len(&self) -> usize {
        self.accounts
            .values()
            .map(|a| 1 + a.storage.len())
            .sum::<usize>()
            + self.codes.len()
    }
}
