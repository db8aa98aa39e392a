//! The RocksDB store: atomic blocks, reopen, storage wipes, log queries, bad input.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, U256};
use rampart_primitives::{
    Account, AccountWrite, BlockHeader, ExecutedBlock, LogEntry, LogFilter, StateReader,
    StoredReceipt, TxLocation, WriteSet,
};
use rampart_storage::{LogQuery, StateStore, StoreError, StoreOptions};

fn header(number: u64, parent: B256) -> BlockHeader {
    BlockHeader {
        number,
        parent_hash: parent,
        timestamp: 1_000 + number,
        beneficiary: Address::ZERO,
        gas_limit: 30_000_000,
        gas_used: 0,
        base_fee_per_gas: 7,
        transactions_root: B256::ZERO,
        receipts_root: B256::ZERO,
        logs_bloom: Default::default(),
        state_commitment: B256::repeat_byte(number as u8),
        mix_hash: B256::ZERO,
        extra_data: Bytes::new(),
    }
}

fn block(number: u64, parent: B256, ws: WriteSet, receipts: Vec<StoredReceipt>) -> ExecutedBlock {
    let header = header(number, parent);
    let hash = header.hash();
    let transactions = receipts
        .iter()
        .map(|r| Bytes::copy_from_slice(r.tx_hash.as_slice()))
        .collect();
    ExecutedBlock {
        header,
        hash,
        transactions,
        receipts,
        write_set: ws,
    }
}

fn receipt(tx: u8, logs: Vec<LogEntry>) -> StoredReceipt {
    StoredReceipt {
        tx_hash: B256::repeat_byte(tx),
        tx_type: 2,
        from: Address::repeat_byte(0xaa),
        to: None,
        success: true,
        gas_used: 21_000,
        cumulative_gas_used: 21_000,
        effective_gas_price: 7,
        contract_address: None,
        first_log_index: 0,
        logs,
        output: Bytes::new(),
        failure: None,
    }
}

fn account(balance: u64) -> Account {
    Account {
        nonce: 1,
        balance: U256::from(balance),
        ..Default::default()
    }
}

fn open(dir: &std::path::Path) -> StateStore {
    StateStore::open(dir, &StoreOptions::default()).expect("open")
}

#[test]
fn blocks_apply_in_order_and_survive_reopen() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = Address::repeat_byte(1);
    let g = {
        let mut ws = WriteSet::default();
        ws.accounts.insert(
            a,
            AccountWrite {
                info: Some(account(100)),
                ..Default::default()
            },
        );
        block(0, B256::ZERO, ws, vec![])
    };
    let b1 = {
        let mut ws = WriteSet::default();
        let mut w = AccountWrite {
            info: Some(account(50)),
            ..Default::default()
        };
        w.storage.insert(U256::from(1), U256::from(11));
        ws.accounts.insert(a, w);
        block(1, g.hash, ws, vec![receipt(9, vec![])])
    };
    {
        let store = open(dir.path());
        store.init_genesis(&g).expect("genesis");
        store.apply_block(&b1, Some(17)).expect("block 1");
        // Not the next block: refused, nothing written.
        let stale = block(1, g.hash, WriteSet::default(), vec![]);
        assert!(matches!(
            store.apply_block(&stale, None),
            Err(StoreError::NotNext { .. })
        ));
        let skip = block(3, b1.hash, WriteSet::default(), vec![]);
        assert!(matches!(
            store.apply_block(&skip, None),
            Err(StoreError::NotNext { .. })
        ));
    }
    let store = open(dir.path());
    let head = store.head().expect("head").expect("some");
    assert_eq!((head.number, head.hash), (1, b1.hash));
    assert_eq!(store.applied_index().expect("idx"), Some(17));
    assert_eq!(
        store.account(&a).expect("read").expect("exists").balance,
        U256::from(50)
    );
    assert_eq!(
        StateReader::storage(&store, &a, &U256::from(1)).expect("slot"),
        U256::from(11)
    );
    let tx = store
        .transaction(&B256::repeat_byte(9))
        .expect("read")
        .expect("tx");
    assert_eq!(
        tx.location,
        TxLocation {
            block_number: 1,
            block_hash: b1.hash,
            index: 0
        }
    );
    assert_eq!(
        store
            .receipt_at(&tx.location)
            .expect("read")
            .expect("receipt")
            .gas_used,
        21_000
    );
    assert_eq!(store.block_number(&b1.hash).expect("read"), Some(1));
    assert_eq!(
        store.header(1).expect("read").expect("header").hash(),
        b1.hash
    );
    // A different genesis on the same data dir is refused.
    let other = block(0, B256::repeat_byte(5), WriteSet::default(), vec![]);
    assert!(matches!(
        store.init_genesis(&other),
        Err(StoreError::GenesisMismatch { .. })
    ));
    assert_eq!(store.init_genesis(&g).expect("same genesis").number, 1);
}

#[test]
fn deleting_an_account_wipes_its_storage_only() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
    let mut ws = WriteSet::default();
    for addr in [a, b] {
        let mut w = AccountWrite {
            info: Some(account(1)),
            ..Default::default()
        };
        w.storage.insert(U256::ZERO, U256::from(1));
        w.storage.insert(U256::MAX, U256::from(2));
        ws.accounts.insert(addr, w);
    }
    let g = block(0, B256::ZERO, ws, vec![]);
    store.init_genesis(&g).expect("genesis");
    let mut ws = WriteSet::default();
    ws.accounts.insert(
        a,
        AccountWrite {
            info: None,
            storage_cleared: true,
            storage: BTreeMap::new(),
        },
    );
    store
        .apply_block(&block(1, g.hash, ws, vec![]), None)
        .expect("block");
    assert!(store.account(&a).expect("read").is_none());
    assert_eq!(
        StateReader::storage(&store, &a, &U256::ZERO).expect("slot"),
        U256::ZERO
    );
    assert_eq!(
        StateReader::storage(&store, &a, &U256::MAX).expect("slot"),
        U256::ZERO
    );
    assert_eq!(
        StateReader::storage(&store, &b, &U256::MAX).expect("slot"),
        U256::from(2)
    );
}

#[test]
fn snapshot_does_not_see_later_blocks() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let a = Address::repeat_byte(1);
    let mut ws = WriteSet::default();
    ws.accounts.insert(
        a,
        AccountWrite {
            info: Some(account(1)),
            ..Default::default()
        },
    );
    let g = block(0, B256::ZERO, ws, vec![]);
    store.init_genesis(&g).expect("genesis");
    let snap = store.snapshot();
    let mut ws = WriteSet::default();
    ws.accounts.insert(
        a,
        AccountWrite {
            info: Some(account(2)),
            ..Default::default()
        },
    );
    store
        .apply_block(&block(1, g.hash, ws, vec![]), None)
        .expect("block");
    assert_eq!(
        snap.account(&a).expect("read").expect("a").balance,
        U256::from(1)
    );
    assert_eq!(snap.head().expect("head").expect("h").number, 0);
    assert_eq!(
        store.account(&a).expect("read").expect("a").balance,
        U256::from(2)
    );
}

#[test]
fn log_queries_use_the_index_and_respect_limits() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let (c1, c2) = (Address::repeat_byte(0xc1), Address::repeat_byte(0xc2));
    let topic = B256::repeat_byte(0x77);
    let log = |addr, t: Vec<B256>| LogEntry {
        address: addr,
        topics: t,
        data: Bytes::new(),
    };
    let g = block(0, B256::ZERO, WriteSet::default(), vec![]);
    store.init_genesis(&g).expect("genesis");
    let mut parent = g.hash;
    for n in 1..=5u64 {
        let mut r = receipt(n as u8, vec![log(c1, vec![topic]), log(c2, vec![])]);
        r.first_log_index = 0;
        let b = block(n, parent, WriteSet::default(), vec![r]);
        store.apply_block(&b, None).expect("block");
        parent = b.hash;
    }
    let q = |f: LogFilter, max| {
        store
            .logs(&LogQuery {
                filter: f,
                max_results: max,
            })
            .expect("query")
    };
    let all = q(
        LogFilter {
            from_block: 1,
            to_block: 5,
            ..Default::default()
        },
        100,
    )
    .expect("within limit");
    assert_eq!(all.len(), 10);
    assert_eq!(all[1].log_index, 1);
    let by_addr = q(
        LogFilter {
            from_block: 2,
            to_block: 4,
            addresses: vec![c2],
            topics: vec![],
            min_topics: 0,
        },
        100,
    )
    .expect("ok");
    assert_eq!(by_addr.len(), 3);
    assert!(
        by_addr
            .iter()
            .all(|l| l.entry.address == c2 && l.log_index == 1)
    );
    let by_topic = q(
        LogFilter {
            from_block: 0,
            to_block: 5,
            addresses: vec![],
            topics: vec![vec![topic]],
            min_topics: 1,
        },
        100,
    )
    .expect("ok");
    assert_eq!(by_topic.len(), 5);
    assert!(
        q(
            LogFilter {
                from_block: 1,
                to_block: 5,
                ..Default::default()
            },
            3
        )
        .is_none()
    );
}

#[test]
fn history_answers_state_as_of_any_block() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let a = Address::repeat_byte(1);
    let slot = U256::from(3);
    let write = |balance: u64, value: Option<u64>, wipe: bool| {
        let mut w = AccountWrite {
            info: Some(account(balance)),
            storage_cleared: wipe,
            ..Default::default()
        };
        if let Some(v) = value {
            w.storage.insert(slot, U256::from(v));
        }
        let mut ws = WriteSet::default();
        ws.accounts.insert(a, w);
        ws
    };
    let g = block(0, B256::ZERO, WriteSet::default(), vec![]);
    store.init_genesis(&g).expect("genesis");
    let blocks = [
        write(10, Some(1), false),
        write(20, None, false),
        write(30, None, true),
        write(40, Some(4), false),
    ];
    let mut parent = g.hash;
    for (i, ws) in blocks.into_iter().enumerate() {
        let b = block(i as u64 + 1, parent, ws, vec![]);
        store.apply_block(&b, None).expect("apply");
        parent = b.hash;
    }
    let at = |n| store.state_at(n);
    assert!(at(0).account(&a).expect("read").is_none());
    assert_eq!(
        at(1).account(&a).expect("read").expect("a").balance,
        U256::from(10)
    );
    assert_eq!(
        at(2).account(&a).expect("read").expect("a").balance,
        U256::from(20)
    );
    assert_eq!(
        at(4).account(&a).expect("read").expect("a").balance,
        U256::from(40)
    );
    assert_eq!(at(0).storage(&a, &slot).expect("read"), U256::ZERO);
    assert_eq!(at(1).storage(&a, &slot).expect("read"), U256::from(1));
    assert_eq!(at(2).storage(&a, &slot).expect("read"), U256::from(1));
    assert_eq!(
        at(3).storage(&a, &slot).expect("read"),
        U256::ZERO,
        "wiped at block 3"
    );
    assert_eq!(at(4).storage(&a, &slot).expect("read"), U256::from(4));
    // The latest history agrees with the flat state.
    assert_eq!(
        StateReader::storage(&store, &a, &slot).expect("read"),
        at(4).storage(&a, &slot).expect("read")
    );
}

#[test]
fn a_filter_naming_more_topic_positions_than_a_log_has_never_matches() {
    let f = LogFilter {
        min_topics: 2,
        topics: vec![vec![B256::repeat_byte(1)], vec![]],
        ..Default::default()
    };
    let one = LogEntry {
        address: Address::ZERO,
        topics: vec![B256::repeat_byte(1)],
        data: Bytes::new(),
    };
    let two = LogEntry {
        topics: vec![B256::repeat_byte(1), B256::repeat_byte(2)],
        ..one.clone()
    };
    assert!(!f.matches(&one));
    assert!(f.matches(&two));
}
