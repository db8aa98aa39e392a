//! Workloads: what each measured transaction does. This version has one, `erc20-transfer`; a
//! workload supplies the call of each transaction, its setup lives in `setup.rs`.

use alloy_primitives::{Address, Bytes, U256};
use rand::Rng as _;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

/// The `--workload` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// `transfer(random recipient, 1)` on an OpenZeppelin ERC-20.
    Erc20Transfer,
}

impl WorkloadKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Erc20Transfer => "erc20-transfer",
        }
    }
}

/// The body of one transaction (the signer adds nonce, gas and fees).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub to: Address,
    pub value: U256,
    pub input: Bytes,
}

/// A workload: the call of each measured transaction, drawn from a seeded generator so a run
/// is reproducible.
pub trait Workload: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> WorkloadKind;
    /// The call of the next transaction of `sender` (index into the sender list).
    fn next_call(&self, sender: usize, rng: &mut StdRng) -> Call;
}

/// ERC-20 `transfer(recipient, amount)` to a fresh random recipient: each transfer reads and
/// writes two balance slots, one of them new, and emits a `Transfer` log.
#[derive(Clone, Debug)]
pub struct Erc20Transfer {
    pub token: Address,
    pub amount: U256,
}

impl Workload for Erc20Transfer {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::Erc20Transfer
    }
    fn next_call(&self, _sender: usize, rng: &mut StdRng) -> Call {
        let recipient = Address::from(rng.random::<[u8; 20]>());
        Call {
            to: self.token,
            value: U256::ZERO,
            input: crate::token::transfer_calldata(recipient, self.amount),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;

    #[test]
    fn seeded_recipients_repeat() {
        let w = Erc20Transfer {
            token: Address::repeat_byte(9),
            amount: U256::from(1),
        };
        let mut a = StdRng::seed_from_u64(1);
        let mut b = StdRng::seed_from_u64(1);
        let xs: Vec<_> = (0..5).map(|i| w.next_call(i, &mut a)).collect();
        let ys: Vec<_> = (0..5).map(|i| w.next_call(i, &mut b)).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0].input, xs[1].input);
        assert_eq!(xs[0].to, Address::repeat_byte(9));
    }
}
