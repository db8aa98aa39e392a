//! Chain parameters that execution depends on: chain id and the fork schedule.

use revm::primitives::hardfork::SpecId;
use serde::{Deserialize, Serialize};

/// The forks Rampart supports. Every chain starts at least at Cancun: solc's default output
/// uses MCOPY and TSTORE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Fork {
    Cancun,
    Prague,
    Osaka,
}

impl Fork {
    pub fn spec_id(self) -> SpecId {
        match self {
            Fork::Cancun => SpecId::CANCUN,
            Fork::Prague => SpecId::PRAGUE,
            Fork::Osaka => SpecId::OSAKA,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Fork::Cancun => "cancun",
            Fork::Prague => "prague",
            Fork::Osaka => "osaka",
        }
    }
}

/// What the executor needs to know about the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainConfig {
    pub chain_id: u64,
    /// Activation timestamp of each fork after Cancun (Cancun itself is active from genesis).
    pub prague_time: Option<u64>,
    pub osaka_time: Option<u64>,
}

impl ChainConfig {
    /// The fork active at a block timestamp.
    pub fn fork_at(&self, timestamp: u64) -> Fork {
        let active = |t: Option<u64>| t.is_some_and(|t| timestamp >= t);
        if active(self.osaka_time) {
            Fork::Osaka
        } else if active(self.prague_time) {
            Fork::Prague
        } else {
            Fork::Cancun
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_schedule_by_timestamp() {
        let c = ChainConfig {
            chain_id: 1,
            prague_time: Some(100),
            osaka_time: Some(200),
        };
        assert_eq!(c.fork_at(0), Fork::Cancun);
        assert_eq!(c.fork_at(99), Fork::Cancun);
        assert_eq!(c.fork_at(100), Fork::Prague);
        assert_eq!(c.fork_at(250), Fork::Osaka);
        let c = ChainConfig {
            chain_id: 1,
            prague_time: None,
            osaka_time: None,
        };
        assert_eq!(c.fork_at(u64::MAX), Fork::Cancun);
    }
}
