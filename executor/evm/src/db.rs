//! revm's view of state during a block: committed state (through [`StateReader`]) overlaid with
//! the changes of the block's earlier transactions. The overlay becomes the block's write set.

use std::collections::BTreeMap;

use alloy_primitives::map::{AddressMap, B256Map, HashMap};
use alloy_primitives::{Address, B256, Bytes, U256};
use rampart_primitives::{Account, AccountWrite, KECCAK_EMPTY, StateError, StateReader, WriteSet};
use revm::{
    Database, DatabaseCommit,
    bytecode::Bytecode,
    database_interface::DBErrorMarker,
    state::{Account as RevmAccount, AccountInfo},
};

/// A state read failure, in the shape revm wants for database errors.
#[derive(Debug, Clone, thiserror::Error)]
#[error(transparent)]
pub struct DbError(#[from] pub StateError);

impl DBErrorMarker for DbError {}

/// The pending change of one account within a block.
#[derive(Clone, Debug, Default)]
struct Pending {
    /// `None`: the account was deleted.
    info: Option<Account>,
    storage_cleared: bool,
    storage: HashMap<U256, U256>,
}

/// Committed state plus a block's pending changes.
#[derive(Debug)]
pub struct BlockDb<R> {
    base: R,
    // Fast non-cryptographic hashers (fixed-size keys): the overlay's order never leaves it,
    // `into_write_set` sorts.
    accounts: AddressMap<Pending>,
    codes: B256Map<Bytes>,
    /// Analysed bytecode, so a contract called many times in a block is analysed once.
    bytecode_cache: B256Map<Bytecode>,
}

/// revm's view of a committed account; code is loaded by hash when revm needs it.
pub(crate) fn account_info(a: Account) -> AccountInfo {
    AccountInfo {
        balance: a.balance,
        nonce: a.nonce,
        code_hash: a.code_hash,
        code: None,
        ..Default::default()
    }
}

pub(crate) fn to_bytecode(code: Bytes) -> Bytecode {
    // Bytes that revm cannot decode as a special format are plain legacy code.
    Bytecode::new_raw_checked(code.clone()).unwrap_or_else(|_| Bytecode::new_legacy(code))
}

impl<R: StateReader> BlockDb<R> {
    pub fn new(base: R) -> Self {
        Self {
            base,
            accounts: AddressMap::default(),
            codes: B256Map::default(),
            bytecode_cache: B256Map::default(),
        }
    }

    pub fn base(&self) -> &R {
        &self.base
    }

    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        match self.accounts.get(address) {
            Some(p) => Ok(p.info),
            None => self.base.account(address),
        }
    }

    fn slot(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        if let Some(p) = self.accounts.get(address) {
            if let Some(v) = p.storage.get(slot) {
                return Ok(*v);
            }
            if p.storage_cleared || p.info.is_none() {
                return Ok(U256::ZERO);
            }
        }
        self.base.storage(address, slot)
    }

    fn code(&self, hash: &B256) -> Result<Option<Bytes>, StateError> {
        if *hash == KECCAK_EMPTY {
            return Ok(Some(Bytes::new()));
        }
        match self.codes.get(hash) {
            Some(c) => Ok(Some(c.clone())),
            None => self.base.code(hash),
        }
    }

    /// Overrides an account for a simulated call (`eth_call` state overrides).
    pub fn override_account(
        &mut self,
        address: Address,
        balance: Option<U256>,
        nonce: Option<u64>,
        code: Option<Bytes>,
        state: Option<BTreeMap<U256, U256>>,
        state_diff: Option<BTreeMap<U256, U256>>,
    ) -> Result<(), StateError> {
        let mut info = self.account(&address)?.unwrap_or_default();
        if let Some(b) = balance {
            info.balance = b;
        }
        if let Some(n) = nonce {
            info.nonce = n;
        }
        if let Some(code) = code {
            let hash = alloy_primitives::keccak256(&code);
            info.code_hash = if code.is_empty() { KECCAK_EMPTY } else { hash };
            self.codes.insert(hash, code);
        }
        let entry = self.accounts.entry(address).or_default();
        entry.info = Some(info);
        if let Some(state) = state {
            entry.storage_cleared = true;
            entry.storage = state.into_iter().collect();
        }
        if let Some(diff) = state_diff {
            entry.storage.extend(diff);
        }
        Ok(())
    }

    /// The block's changes, sorted. Accounts whose final value equals nothing committed are
    /// still listed: the write set records what the block wrote, and every replica writes the same.
    pub fn into_write_set(self) -> WriteSet {
        // Sorted once, then built in bulk (`BTreeMap`'s `from_iter` finds sorted input in one
        // pass): inserting in hash-map order would search the tree for every entry.
        fn sorted<K: Ord, V>(map: impl IntoIterator<Item = (K, V)>) -> Vec<(K, V)> {
            let mut v: Vec<(K, V)> = map.into_iter().collect();
            v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            v
        }
        let accounts = sorted(self.accounts.into_iter().map(|(address, p)| {
            let write = AccountWrite {
                info: p.info,
                storage_cleared: p.storage_cleared,
                storage: sorted(p.storage).into_iter().collect(),
            };
            (address, write)
        }));
        WriteSet {
            accounts: accounts.into_iter().collect(),
            codes: sorted(self.codes).into_iter().collect(),
        }
    }
}

impl<R: StateReader> Database for BlockDb<R> {
    type Error = DbError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, DbError> {
        Ok(self.account(&address)?.map(account_info))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, DbError> {
        if let Some(b) = self.bytecode_cache.get(&code_hash) {
            return Ok(b.clone());
        }
        let code = self.code(&code_hash)?.ok_or_else(|| {
            DbError(StateError(format!(
                "code {code_hash} referenced by an account is missing"
            )))
        })?;
        let bytecode = to_bytecode(code);
        self.bytecode_cache.insert(code_hash, bytecode.clone());
        Ok(bytecode)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, DbError> {
        Ok(self.slot(&address, &index)?)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, DbError> {
        Ok(self.base.block_hash(number)?.unwrap_or_default())
    }
}

impl<R: StateReader> DatabaseCommit for BlockDb<R> {
    fn commit(&mut self, changes: revm::primitives::AddressMap<RevmAccount>) {
        // revm hands changes in hash-map order; each account is independent, so the order in
        // which they land in the overlay cannot change the result.
        for (address, account) in changes {
            if !account.is_touched() {
                continue;
            }
            if account.is_selfdestructed() {
                let entry = self.accounts.entry(address).or_default();
                entry.info = None;
                entry.storage_cleared = true;
                entry.storage.clear();
                continue;
            }
            let info = Account {
                nonce: account.info.nonce,
                balance: account.info.balance,
                code_hash: account.info.code_hash,
            };
            if let Some(code) = &account.info.code
                && info.code_hash != KECCAK_EMPTY
                && !self.codes.contains_key(&info.code_hash)
            {
                let bytes = code.original_bytes();
                if !bytes.is_empty() {
                    self.codes.insert(info.code_hash, bytes);
                }
            }
            let created = account.is_created();
            let entry = self.accounts.entry(address).or_default();
            if created {
                entry.storage_cleared = true;
                entry.storage.clear();
            }
            // EIP-161: an empty account that a transaction touched is deleted.
            entry.info = if info.is_empty() { None } else { Some(info) };
            for (slot, value) in account.storage {
                if value.is_changed() || created {
                    entry.storage.insert(slot, value.present_value);
                }
            }
        }
    }
}
