//! Workloads: what each measured transaction does, and where the contention knob sends it.
//! A workload supplies the call of each transaction from a seeded generator, so a run is
//! reproducible; its contracts are deployed in `setup.rs`.
//!
//! Contention `c` (0..=1) is the share of transactions on a hot spot:
//! - `eth`, `erc20`, `native`: the recipient is one of `hot_accounts` fixed addresses with probability
//!   `c`, else a fresh random address (a new account or balance slot per transaction);
//! - `amm`: the swap goes to pool 0 with probability `c`, else to one of the other pools,
//!   uniformly (with one pool every swap is on it);
//! - `uups`: `increment()` through proxy 0 with probability `c`, else through one of the others.
//!
//! On a Block-STM executor, transactions on one hot spot conflict (they read and write the same
//! balance, reserves or counter) and are re-executed; that is a cost, not a failure.

use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_primitives::{Address, B256, Bytes, U256};
use rand::Rng as _;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

/// The `--workload` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// ETH transfers (value 1 wei) to a random or hot recipient: 21,000 gas, no contract.
    #[value(alias = "eth-transfer")]
    #[serde(alias = "eth-transfer")]
    Eth,
    /// `transfer(recipient, 1)` on an OpenZeppelin ERC-20, random or hot recipient.
    #[value(alias = "erc20-transfer")]
    #[serde(alias = "erc20-transfer")]
    Erc20,
    /// `swap(tokenIn, amount)` on constant-product pools (`tests/contracts/Amm.sol`), direction
    /// alternating per sender.
    Amm,
    /// `increment()` through an OpenZeppelin 5 ERC-1967 (UUPS) proxy, upgraded from `BoxV1`
    /// to `BoxV2` during setup.
    Uups,
    /// `transfer(recipient, 1)` on a native ERC-20-like token (`sdk/c/examples/token.c`) run in
    /// a sandbox; needs a target that supports native contracts (`rampart_nativeContracts`).
    Native,
}

impl WorkloadKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Eth => "eth",
            Self::Erc20 => "erc20",
            Self::Amm => "amm",
            Self::Uups => "uups",
            Self::Native => "native",
        }
    }
}

impl std::fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The body of one transaction (the signer adds nonce, gas and fees).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub to: Address,
    pub value: U256,
    pub input: Bytes,
    /// Whether the contention draw sent it to the hot spot.
    pub hot: bool,
    /// The transaction's EIP-2930 access list (empty: none).
    pub access_list: AccessList,
}

/// A workload: the call of each measured transaction.
pub trait Workload: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> WorkloadKind;
    /// The call of `sender`'s `seq`-th transaction of the run.
    fn next_call(&self, sender: Address, seq: u64, rng: &mut StdRng) -> Call;
}

/// Draws a target index among `n`: 0 (the hot one) with probability `share`, else one of
/// `1..n` uniformly. With `n == 1` it is always 0 (and counts as hot).
pub fn pick(share: f64, n: usize, rng: &mut StdRng) -> usize {
    if n <= 1 || rng.random::<f64>() < share {
        0
    } else {
        rng.random_range(1..n)
    }
}

/// A recipient: one of `hot` with probability `share`, else a fresh random address.
fn recipient(share: f64, hot: &[Address], rng: &mut StdRng) -> (Address, bool) {
    if !hot.is_empty() && share > 0.0 && rng.random::<f64>() < share {
        (hot[rng.random_range(0..hot.len())], true)
    } else {
        (Address::from(rng.random::<[u8; 20]>()), false)
    }
}

/// The hot recipients of the transfer workloads: fixed, recognisable addresses.
pub fn hot_accounts(n: usize) -> Vec<Address> {
    (0..n as u64)
        .map(|i| {
            let mut a = [0u8; 20];
            a[..4].copy_from_slice(b"HOT\0");
            a[12..].copy_from_slice(&i.to_be_bytes());
            Address::from(a)
        })
        .collect()
}

/// ETH transfer of `value` wei.
#[derive(Clone, Debug)]
pub struct EthTransfer {
    pub value: U256,
    pub contention: f64,
    pub hot: Vec<Address>,
}

impl Workload for EthTransfer {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::Eth
    }
    fn next_call(&self, _sender: Address, _seq: u64, rng: &mut StdRng) -> Call {
        let (to, hot) = recipient(self.contention, &self.hot, rng);
        Call {
            to,
            value: self.value,
            input: Bytes::new(),
            hot,
            access_list: AccessList::default(),
        }
    }
}

/// ERC-20 `transfer(recipient, amount)`: reads and writes two balance slots and emits a log.
#[derive(Clone, Debug)]
pub struct Erc20Transfer {
    /// `Erc20` (the OpenZeppelin token) or `Native` (the native token, same ABI).
    pub kind: WorkloadKind,
    pub token: Address,
    pub amount: U256,
    pub contention: f64,
    pub hot: Vec<Address>,
    /// Name the two balance slots (the token's mapping at slot 0, as in `sdk/c/examples/token.c`
    /// and OpenZeppelin's ERC20) in each transaction's access list: a native token then gets
    /// them preloaded with the call (docs/native-contracts.md, "Preloaded slots").
    pub access_lists: bool,
}

/// The slot of `balances[who]` for a balances mapping at slot 0.
pub fn balance_slot(who: Address) -> B256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(who.into_word().as_slice());
    alloy_primitives::keccak256(buf)
}

impl Workload for Erc20Transfer {
    fn kind(&self) -> WorkloadKind {
        self.kind
    }
    fn next_call(&self, sender: Address, _seq: u64, rng: &mut StdRng) -> Call {
        let (to, hot) = recipient(self.contention, &self.hot, rng);
        let access_list = if self.access_lists {
            AccessList(vec![AccessListItem {
                address: self.token,
                storage_keys: vec![balance_slot(sender), balance_slot(to)],
            }])
        } else {
            AccessList::default()
        };
        Call {
            to: self.token,
            value: U256::ZERO,
            input: crate::token::transfer_calldata(to, self.amount),
            hot,
            access_list,
        }
    }
}

/// AMM swap of `amount_in`: token0 → token1 on even `seq`, token1 → token0 on odd, so a
/// sender's holdings stay balanced.
#[derive(Clone, Debug)]
pub struct AmmSwap {
    pub token0: Address,
    pub token1: Address,
    pub pools: Vec<Address>,
    pub amount_in: U256,
    pub contention: f64,
}

impl Workload for AmmSwap {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::Amm
    }
    fn next_call(&self, _sender: Address, seq: u64, rng: &mut StdRng) -> Call {
        let p = pick(self.contention, self.pools.len(), rng);
        let token_in = if seq.is_multiple_of(2) {
            self.token0
        } else {
            self.token1
        };
        Call {
            to: self.pools[p],
            value: U256::ZERO,
            input: crate::contracts::swap_calldata(token_in, self.amount_in),
            hot: p == 0,
            access_list: AccessList::default(),
        }
    }
}

/// `increment()` through a UUPS proxy (delegatecall into the implementation).
#[derive(Clone, Debug)]
pub struct UupsCall {
    pub proxies: Vec<Address>,
    pub contention: f64,
}

impl Workload for UupsCall {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::Uups
    }
    fn next_call(&self, _sender: Address, _seq: u64, rng: &mut StdRng) -> Call {
        let p = pick(self.contention, self.proxies.len(), rng);
        Call {
            to: self.proxies[p],
            value: U256::ZERO,
            input: crate::contracts::increment_calldata(),
            hot: p == 0,
            access_list: AccessList::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;

    #[test]
    fn seeded_calls_repeat() {
        let w = Erc20Transfer {
            kind: WorkloadKind::Erc20,
            token: Address::repeat_byte(9),
            amount: U256::from(1),
            contention: 0.3,
            hot: hot_accounts(2),
            access_lists: false,
        };
        let mut a = StdRng::seed_from_u64(1);
        let mut b = StdRng::seed_from_u64(1);
        let xs: Vec<_> = (0..50u8)
            .map(|i| w.next_call(Address::with_last_byte(i), 0, &mut a))
            .collect();
        let ys: Vec<_> = (0..50u8)
            .map(|i| w.next_call(Address::with_last_byte(i), 0, &mut b))
            .collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0].input, xs[1].input);
        assert_eq!(xs[0].to, Address::repeat_byte(9));
        assert!(xs[0].access_list.0.is_empty());
    }

    /// With access lists, a transfer names its token's two balance slots: the sender's and the
    /// recipient's, laid out as Solidity lays out `mapping(address => uint256)` at slot 0.
    #[test]
    fn transfers_name_both_balances_in_their_access_list() {
        let w = Erc20Transfer {
            kind: WorkloadKind::Native,
            token: Address::repeat_byte(9),
            amount: U256::from(1),
            contention: 1.0,
            hot: hot_accounts(1),
            access_lists: true,
        };
        let from = Address::repeat_byte(0xaa);
        let c = w.next_call(from, 0, &mut StdRng::seed_from_u64(1));
        let [item] = &c.access_list.0[..] else {
            panic!("one access-list item: {:?}", c.access_list)
        };
        assert_eq!(item.address, Address::repeat_byte(9));
        assert_eq!(
            item.storage_keys,
            vec![balance_slot(from), balance_slot(hot_accounts(1)[0])]
        );
        // keccak256(pad32(from) ++ pad32(0)), as solc computes it.
        let mut pre = [0u8; 64];
        pre[12..32].copy_from_slice(from.as_slice());
        assert_eq!(balance_slot(from), alloy_primitives::keccak256(pre));
    }

    fn hot_share(w: &dyn Workload) -> f64 {
        let mut rng = StdRng::seed_from_u64(7);
        let n = 20_000;
        (0..n)
            .filter(|&i| w.next_call(Address::ZERO, i as u64, &mut rng).hot)
            .count() as f64
            / n as f64
    }

    #[test]
    fn contention_is_the_hot_share() {
        for c in [0.0, 0.1, 0.5, 1.0] {
            let eth = EthTransfer {
                value: U256::from(1),
                contention: c,
                hot: hot_accounts(1),
            };
            let amm = AmmSwap {
                token0: Address::repeat_byte(1),
                token1: Address::repeat_byte(2),
                pools: (3..11).map(Address::repeat_byte).collect(),
                amount_in: U256::from(1000),
                contention: c,
            };
            for share in [hot_share(&eth), hot_share(&amm)] {
                assert!(
                    (share - c).abs() < 0.02,
                    "contention {c}: hot share {share}"
                );
            }
        }
        // One pool: every swap is on it.
        let one = UupsCall {
            proxies: vec![Address::repeat_byte(1)],
            contention: 0.0,
        };
        assert_eq!(hot_share(&one), 1.0);
    }

    #[test]
    fn cold_targets_spread_and_direction_alternates() {
        let pools: Vec<Address> = (1..=4).map(Address::repeat_byte).collect();
        let w = AmmSwap {
            token0: Address::repeat_byte(0xa0),
            token1: Address::repeat_byte(0xa1),
            pools: pools.clone(),
            amount_in: U256::from(10),
            contention: 0.0,
        };
        let mut rng = StdRng::seed_from_u64(3);
        let calls: Vec<Call> = (0..300)
            .map(|s| w.next_call(Address::ZERO, s, &mut rng))
            .collect();
        assert!(calls.iter().all(|c| c.to != pools[0]));
        for p in &pools[1..] {
            assert!(calls.iter().any(|c| c.to == *p), "pool {p} never used");
        }
        assert_eq!(
            &calls[0].input[16..36],
            Address::repeat_byte(0xa0).as_slice()
        );
        assert_eq!(
            &calls[1].input[16..36],
            Address::repeat_byte(0xa1).as_slice()
        );
        let hot = hot_accounts(3);
        assert_eq!(hot.len(), 3);
        assert_ne!(hot[0], hot[1]);
    }
}
