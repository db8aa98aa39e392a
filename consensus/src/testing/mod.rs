//! Test support (feature `testing`): an in-memory network of nodes driven deterministically
//! by a seed, with faults on messages, crashes and restarts, and invariant checks.
//!
//! ```
//! use rampart_consensus::testing::{Cluster, test_config};
//!
//! let mut net = Cluster::new_mem(3, 7, test_config());
//! let leader = net.wait_leader(200).expect("a leader");
//! let p = net.propose(leader, b"hello").expect("accepted");
//! assert!(net.wait_converged(200));
//! assert_eq!(net.app(1).lock().entries[0].index, p.index);
//! net.assert_ok();
//! ```

pub mod app;
pub mod checker;
pub mod cluster;
pub mod filter;
pub mod rng;

pub use app::{AppState, Applied, SharedApp};
pub use checker::History;
pub use cluster::{Cluster, MemStores, NetStats, RocksStores, StoreFactory, test_config};
pub use filter::{DropLink, Filter, Partition, RandomDelay, RandomDrop, Verdict};
pub use rng::Rng;
