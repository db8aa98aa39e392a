//! Log stores: the same checks run against `RocksLogStore` and `MemLogStore`, then the
//! durability of each (RocksDB reopen; in-memory power loss).

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use rampart_consensus::storage::{BOOTSTRAP_INDEX, LogBatch, LogOp, MemLogStore, RocksLogStore};
use rampart_consensus::{LogStore, StorageError};

fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
    Entry {
        index,
        term,
        data: data.to_vec().into(),
        ..Entry::default()
    }
}

fn entries(from: u64, to: u64, term: u64) -> Vec<Entry> {
    (from..=to)
        .map(|i| entry(i, term, format!("e{i}").as_bytes()))
        .collect()
}

fn write(store: &mut impl LogStore, ops: Vec<LogOp>, sync: bool) -> Result<(), StorageError> {
    store.write(LogBatch { ops }, sync)
}

fn hard_state(term: u64, vote: u64, commit: u64) -> HardState {
    HardState {
        term,
        vote,
        commit,
        ..HardState::default()
    }
}

fn snapshot(index: u64, term: u64, voters: Vec<u64>, data: &[u8]) -> Snapshot {
    let mut s = Snapshot {
        data: data.to_vec().into(),
        ..Snapshot::default()
    };
    let m = s.mut_metadata();
    m.index = index;
    m.term = term;
    m.set_conf_state(ConfState::from((voters, Vec::<u64>::new())));
    s
}

/// The behaviour every log store shares.
fn check_store(mut s: impl LogStore) {
    // Empty, then bootstrapped.
    assert!(s.is_empty());
    assert_eq!((s.first_index(), s.last_index()), (1, 0));
    s.bootstrap(&[1, 2, 3]).expect("bootstrap");
    assert!(!s.is_empty());
    assert_eq!(s.snapshot_point(), (BOOTSTRAP_INDEX, 1));
    assert_eq!((s.first_index(), s.last_index()), (2, 1));
    assert_eq!(s.term(1).expect("term of the snapshot point"), 1);
    assert_eq!(s.hard_state(), hard_state(1, 0, 1));
    assert_eq!(s.conf_state().0.voters, vec![1, 2, 3]);
    assert!(s.kept_snapshot().is_none());
    assert!(s.bootstrap(&[1]).is_err(), "bootstrap twice");

    // Append and read.
    write(
        &mut s,
        vec![
            LogOp::Append(entries(2, 10, 2)),
            LogOp::SetHardState(hard_state(2, 1, 5)),
        ],
        true,
    )
    .expect("append");
    assert_eq!(s.last_index(), 10);
    assert_eq!(s.hard_state(), hard_state(2, 1, 5));
    assert_eq!(s.entries(2, 11, None).expect("read"), entries(2, 10, 2));
    assert_eq!(s.entries(4, 4, None).expect("empty range"), vec![]);
    let one = s.entries(2, 11, Some(1)).expect("limited read");
    assert_eq!(one.len(), 1, "a size limit still returns one entry");
    let size = u64::from(protobuf::Message::compute_size(&one[0]));
    assert_eq!(s.entries(2, 11, Some(3 * size)).expect("limited").len(), 3);
    assert_eq!(s.term(7).expect("term"), 2);
    assert!(matches!(s.term(0), Err(StorageError::Compacted { .. })));
    assert!(matches!(s.term(11), Err(StorageError::Unavailable { .. })));
    assert!(matches!(
        s.entries(1, 3, None),
        Err(StorageError::Compacted { .. })
    ));
    assert!(matches!(
        s.entries(5, 12, None),
        Err(StorageError::Unavailable { .. })
    ));

    // A conflicting suffix is replaced.
    write(&mut s, vec![LogOp::Append(entries(6, 8, 3))], true).expect("overwrite");
    assert_eq!(s.last_index(), 8);
    assert_eq!(s.term(5).expect("term"), 2);
    assert_eq!(s.term(6).expect("term"), 3);
    assert!(matches!(
        s.entries(6, 10, None),
        Err(StorageError::Unavailable { .. })
    ));

    // A bad batch changes nothing, not even its valid first operation.
    let gap = write(
        &mut s,
        vec![
            LogOp::SetHardState(hard_state(9, 9, 9)),
            LogOp::Append(entries(20, 21, 3)),
        ],
        true,
    );
    assert!(matches!(gap, Err(StorageError::InvalidWrite(_))));
    assert_eq!(s.hard_state(), hard_state(2, 1, 5));
    assert_eq!(s.last_index(), 8);
    assert!(
        write(&mut s, vec![LogOp::Append(entries(1, 2, 3))], true).is_err(),
        "below the snapshot point"
    );
    assert!(
        write(&mut s, vec![LogOp::Compact { first_index: 10 }], true).is_err(),
        "past the end"
    );

    // Conf state.
    let cs = ConfState::from((vec![1, 2], vec![4]));
    write(
        &mut s,
        vec![LogOp::SetConfState {
            conf_state: cs.clone(),
            index: 7,
        }],
        true,
    )
    .expect("conf");
    assert_eq!(s.conf_state(), (cs, 7));

    // Compaction.
    write(&mut s, vec![LogOp::Compact { first_index: 5 }], false).expect("compact");
    assert_eq!((s.first_index(), s.last_index()), (5, 8));
    assert_eq!(s.snapshot_point(), (4, 2));
    assert_eq!(s.term(4).expect("term of the new snapshot point"), 2);
    assert!(matches!(
        s.entries(4, 6, None),
        Err(StorageError::Compacted { .. })
    ));
    assert_eq!(s.entries(5, 9, None).expect("read").len(), 4);
    write(&mut s, vec![LogOp::Compact { first_index: 3 }], false)
        .expect("compacting less is a no-op");
    assert_eq!(s.first_index(), 5);

    // Installing a snapshot replaces the log and keeps the snapshot until released.
    let snap = snapshot(20, 4, vec![1, 2, 3, 4], b"state");
    write(
        &mut s,
        vec![
            LogOp::InstallSnapshot(snap.clone()),
            LogOp::SetHardState(hard_state(4, 0, 20)),
        ],
        true,
    )
    .expect("install");
    assert_eq!((s.first_index(), s.last_index()), (21, 20));
    assert_eq!(s.snapshot_point(), (20, 4));
    assert_eq!(
        s.conf_state(),
        (ConfState::from((vec![1, 2, 3, 4], Vec::<u64>::new())), 20)
    );
    assert_eq!(s.kept_snapshot(), Some(&snap));
    write(&mut s, vec![LogOp::Append(entries(21, 25, 4))], true).expect("append after snapshot");
    assert_eq!(s.entries(21, 26, None).expect("read"), entries(21, 25, 4));
    write(&mut s, vec![LogOp::ReleaseSnapshot], false).expect("release");
    assert!(s.kept_snapshot().is_none());
}

#[test]
fn mem_store_behaves_as_a_log() {
    check_store(MemLogStore::new());
}

#[test]
fn rocks_store_behaves_as_a_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    check_store(RocksLogStore::open(dir.path()).expect("open"));
}

#[test]
fn rocks_store_keeps_everything_across_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let snap = snapshot(10, 3, vec![1, 2, 3], b"checkpoint");
    {
        let mut s = RocksLogStore::open(dir.path()).expect("open");
        s.bootstrap(&[1, 2, 3]).expect("bootstrap");
        write(&mut s, vec![LogOp::InstallSnapshot(snap.clone())], true).expect("install");
        write(
            &mut s,
            vec![
                LogOp::Append(entries(11, 40, 3)),
                LogOp::SetHardState(hard_state(3, 2, 30)),
            ],
            true,
        )
        .expect("append");
        write(&mut s, vec![LogOp::Append(entries(35, 45, 4))], true).expect("overwrite");
        write(&mut s, vec![LogOp::Compact { first_index: 20 }], false).expect("compact");
        let cs = ConfState::from((vec![1, 2, 3], vec![5]));
        write(
            &mut s,
            vec![LogOp::SetConfState {
                conf_state: cs,
                index: 33,
            }],
            true,
        )
        .expect("conf");
    }
    let s = RocksLogStore::open(dir.path()).expect("reopen");
    assert_eq!(s.hard_state(), hard_state(3, 2, 30));
    assert_eq!((s.first_index(), s.last_index()), (20, 45));
    assert_eq!(s.snapshot_point(), (19, 3));
    assert_eq!(s.term(34).expect("term"), 3);
    assert_eq!(s.term(35).expect("term"), 4);
    assert_eq!(s.conf_state().0.learners, vec![5]);
    assert_eq!(s.conf_state().1, 33);
    assert_eq!(s.kept_snapshot(), Some(&snap));
    let mut expected = entries(20, 34, 3);
    expected.extend(entries(35, 45, 4));
    assert_eq!(s.entries(20, 46, None).expect("read"), expected);
}

#[test]
fn mem_store_power_loss_keeps_exactly_the_synced_prefix() {
    let mut s = MemLogStore::new();
    s.bootstrap(&[1]).expect("bootstrap");
    write(&mut s, vec![LogOp::Append(entries(2, 5, 1))], false).expect("unsynced");
    write(&mut s, vec![LogOp::Append(entries(6, 8, 1))], true)
        .expect("synced (and so is all before)");
    write(
        &mut s,
        vec![
            LogOp::Append(entries(9, 12, 1)),
            LogOp::SetHardState(hard_state(1, 1, 12)),
        ],
        false,
    )
    .expect("unsynced");
    assert_eq!(s.last_index(), 12, "reads see unsynced writes");
    let reopened = MemLogStore::open(s.durable());
    assert_eq!(reopened.last_index(), 8);
    assert_eq!(reopened.hard_state(), hard_state(1, 0, 1));
    assert_eq!(
        reopened.entries(2, 9, None).expect("read"),
        entries(2, 8, 1)
    );
}
