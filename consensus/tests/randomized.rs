//! Randomized, seeded scenarios: proposals under drops, delays (reordering), partitions,
//! isolated nodes, crashes with power loss, restarts, leader transfers and log compaction;
//! the invariant checker runs after every round, and at the end the healed network must
//! converge. A failure names its seed; `RAMPART_CONSENSUS_SEED=<seed>` replays only that one.

use std::panic::{AssertUnwindSafe, catch_unwind};

use rampart_consensus::testing::{Cluster, MemStores, RandomDelay, RandomDrop, test_config};

const ROUNDS: u64 = 300;
const SEEDS: u64 = 50;

fn scenario(n: u64, seed: u64) {
    let mut config = test_config();
    config.log_compaction_threshold_entries = 30;
    config.log_retain_entries = 5;
    let mut net: Cluster<MemStores> = Cluster::new_mem(n, seed, config);
    let max_down = ((n - 1) / 2) as usize;
    let mut next = 0u64;
    for round in 0..ROUNDS {
        let roll = net.rng().below(100);
        let ids = net.ids();
        match roll {
            0..=39 => {
                let count = 1 + net.rng().below(3);
                for _ in 0..count {
                    let data = format!("s{seed}-{next}").into_bytes();
                    next += 1;
                    // At the leader most of the time, anywhere sometimes (NotLeader is fine).
                    let target = if net.rng().chance(800) {
                        net.leader()
                    } else {
                        let id = net.rng().pick(&ids);
                        net.is_up(id).then_some(id)
                    };
                    if let Some(id) = target {
                        let _ = net.propose(id, &data);
                    }
                }
            }
            40..=44 => {
                let id = net.rng().pick(&ids);
                net.isolate(id);
            }
            45..=47 => {
                let cut = 1 + net.rng().below(n - 1);
                let (a, b) = ids.split_at(cut as usize);
                net.partition(&[a, b]);
            }
            48..=57 => net.recover(),
            58..=60 => {
                let per_mille = 100 + net.rng().below(300) as u32;
                net.add_filter(RandomDrop { per_mille });
            }
            61..=63 => {
                let max_rounds = 1 + net.rng().below(4);
                net.add_filter(RandomDelay { max_rounds });
            }
            64..=66 => {
                let down = ids.len() - net.up_ids().len();
                let id = net.rng().pick(&ids);
                if down < max_down && net.is_up(id) {
                    net.crash(id);
                }
            }
            67..=72 => {
                let down: Vec<u64> = ids.iter().copied().filter(|&i| !net.is_up(i)).collect();
                if !down.is_empty() {
                    let id = net.rng().pick(&down);
                    if let Err(e) = net.restart(id) {
                        panic!("seed {seed}: restart of {id} failed: {e}");
                    }
                }
            }
            73..=74 => {
                if let Some(l) = net.leader() {
                    let to = net.rng().pick(&ids);
                    let _ = net.node_mut(l).transfer_leader(to);
                }
            }
            _ => {}
        }
        net.step_round();
        let v = net.history.violations();
        assert!(v.is_empty(), "seed {seed}, round {round}: {v:?}");
    }

    // Heal: every node back, every fault gone; the network must converge.
    net.recover();
    for id in net.ids() {
        if !net.is_up(id) {
            net.restart(id)
                .unwrap_or_else(|e| panic!("seed {seed}: restart {id}: {e}"));
        }
    }
    let _ = net.propose_at_leader(format!("s{seed}-final").as_bytes());
    assert!(
        net.wait_converged(2_000),
        "seed {seed}: no convergence after healing: {net:?}"
    );
    let reference = net.app(1).lock().entries.clone();
    for id in net.ids() {
        assert_eq!(
            net.app(id).lock().entries,
            reference,
            "seed {seed}: node {id} differs"
        );
    }
    net.assert_ok();
}

fn run_seeds(n: u64) {
    let seeds: Vec<u64> = match std::env::var("RAMPART_CONSENSUS_SEED") {
        Ok(s) => vec![s.parse().expect("RAMPART_CONSENSUS_SEED is a number")],
        Err(_) => (0..SEEDS).collect(),
    };
    for seed in seeds {
        if catch_unwind(AssertUnwindSafe(|| scenario(n, seed))).is_err() {
            panic!(
                "{n}-node scenario failed with seed {seed}; replay: RAMPART_CONSENSUS_SEED={seed}"
            );
        }
    }
}

#[test]
fn randomized_3_nodes_50_seeds() {
    run_seeds(3);
}

#[test]
fn randomized_5_nodes_50_seeds() {
    run_seeds(5);
}
