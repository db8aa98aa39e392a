//! Read access to committed state. The executor depends on this trait, never on the store.

use alloy_primitives::{Address, B256, Bytes, U256};

use crate::Account;

/// A storage or I/O failure while reading state. It is an error, never a transaction result.
#[derive(Debug, Clone, thiserror::Error)]
#[error("state read failed: {0}")]
pub struct StateError(pub String);

/// A consistent view of state (one snapshot). Implementations must return the same answer for
/// the same question for as long as the view lives.
pub trait StateReader {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError>;
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError>;
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError>;
    /// Hash of a committed block, for the BLOCKHASH opcode.
    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError>;
}

impl<T: StateReader + ?Sized> StateReader for &T {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        (**self).account(address)
    }
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        (**self).storage(address, slot)
    }
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        (**self).code(code_hash)
    }
    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        (**self).block_hash(number)
    }
}

/// State held in memory: for tests, benchmarks and differential checks. Applying a write set
/// here has the same meaning as applying it to the RocksDB store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryState {
    pub accounts: std::collections::BTreeMap<Address, Account>,
    pub storage: std::collections::BTreeMap<(Address, U256), U256>,
    pub codes: std::collections::BTreeMap<B256, Bytes>,
    pub block_hashes: std::collections::BTreeMap<u64, B256>,
}

impl MemoryState {
    pub fn apply(&mut self, ws: &crate::WriteSet) {
        for (address, w) in &ws.accounts {
            if w.storage_cleared || w.info.is_none() {
                self.storage.retain(|(a, _), _| a != address);
            }
            match w.info {
                Some(info) => {
                    self.accounts.insert(*address, info);
                }
                None => {
                    self.accounts.remove(address);
                }
            }
            for (slot, value) in &w.storage {
                if value.is_zero() {
                    self.storage.remove(&(*address, *slot));
                } else {
                    self.storage.insert((*address, *slot), *value);
                }
            }
        }
        for (h, c) in &ws.codes {
            self.codes.insert(*h, c.clone());
        }
    }
}

impl StateReader for MemoryState {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        Ok(self.accounts.get(address).copied())
    }
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        Ok(self
            .storage
            .get(&(*address, *slot))
            .copied()
            .unwrap_or_default())
    }
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        Ok(self.codes.get(code_hash).cloned())
    }
    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        Ok(self.block_hashes.get(&number).copied())
    }
}
