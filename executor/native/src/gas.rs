//! Gas for native calls: EVM-like prices for state access, plus execution time.
//!
//! | what | gas |
//! |---|---|
//! | the call itself (a fresh contract process in a sandbox) | `call_base` (500,000) |
//! | storage read | 2,100 cold / 100 warm (EIP-2929) |
//! | storage write | 20,000 when a zero slot becomes non-zero, else 2,900; +2,100 if cold; no refunds |
//! | log | 375 + 375 per topic + 8 per data byte |
//! | call to another contract | 2,600 + 9,000 with value, + the callee's gas used (63/64 rule on what is offered; a native callee pays its own `call_base`) |
//! | data | `data_byte` (3) per byte of calldata and of return data |
//! | deploy | `deploy_base` (32,000) + `deploy_byte` (4) per byte of the binary, on top of the transaction's calldata gas |
//!
//! Every figure is a function of what the contract asked for, never of time: gas used reaches
//! the receipts and the state commitment, and the same call must cost the same on every run, in
//! parallel or sequential execution. Execution time is therefore not priced but bounded: a call
//! that passes `call_time_ms` of wall time fails and uses all its gas, as an exceptional halt in
//! the EVM does. (Whether a call right at the limit passes it can differ between runs; the limit
//! is a safety bound far above any legitimate call, and a block is executed once, on the leader,
//! and replicated, so replicas agree either way.)
//!
//! `call_base` prices what dominates a native call: starting its contract process inside the
//! sandbox (3–4 ms without a sandbox, ~25 ms under gVisor's ptrace platform, against ~10 µs for
//! an ERC-20 transfer on the EVM; docs/benchmarks.md). Gas is what bounds a block's work, so a
//! call priced like an EVM call would let 60M gas of native calls hold a block for half a minute
//! (the `rampart bench` native workload did, at 2,600). At 500,000 a 60M-gas block holds at most
//! 120 native calls: about the time of a full block of EVM work on a fast sandbox platform, a few
//! seconds under ptrace. A chain rule: operators on slower platforms raise it, on every node alike.

/// Gas prices of native calls. Defaults as documented above.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GasSchedule {
    pub call_base: u64,
    pub sload_cold: u64,
    pub sload_warm: u64,
    pub sstore_set: u64,
    pub sstore_reset: u64,
    pub sstore_cold_surcharge: u64,
    pub log_base: u64,
    pub log_topic: u64,
    pub log_data_byte: u64,
    pub nested_call_base: u64,
    pub nested_call_value: u64,
    pub data_byte: u64,
    pub deploy_base: u64,
    pub deploy_byte: u64,
}

impl Default for GasSchedule {
    fn default() -> Self {
        Self {
            call_base: 500_000,
            sload_cold: 2_100,
            sload_warm: 100,
            sstore_set: 20_000,
            sstore_reset: 2_900,
            sstore_cold_surcharge: 2_100,
            log_base: 375,
            log_topic: 375,
            log_data_byte: 8,
            nested_call_base: 2_600,
            nested_call_value: 9_000,
            data_byte: 3,
            deploy_base: 32_000,
            deploy_byte: 4,
        }
    }
}

impl GasSchedule {
    pub fn sload(&self, cold: bool) -> u64 {
        if cold {
            self.sload_cold
        } else {
            self.sload_warm
        }
    }

    pub fn sstore(&self, previous_is_zero: bool, new_is_zero: bool, cold: bool) -> u64 {
        let base = if previous_is_zero && !new_is_zero {
            self.sstore_set
        } else {
            self.sstore_reset
        };
        base + if cold { self.sstore_cold_surcharge } else { 0 }
    }

    pub fn log(&self, topics: usize, data_bytes: usize) -> u64 {
        self.log_base + self.log_topic * topics as u64 + self.log_data_byte * data_bytes as u64
    }

    /// Calldata or return data of `bytes`.
    pub fn data(&self, bytes: usize) -> u64 {
        self.data_byte.saturating_mul(bytes as u64)
    }

    /// Deploying a binary of `bytes`.
    pub fn deploy(&self, bytes: usize) -> u64 {
        self.deploy_base
            .saturating_add(self.deploy_byte.saturating_mul(bytes as u64))
    }
}

/// Gas left to a call, charged as the call goes.
#[derive(Debug, Clone)]
pub(crate) struct GasMeter {
    limit: u64,
    charged: u64,
}

impl GasMeter {
    pub(crate) fn new(limit: u64) -> Self {
        Self { limit, charged: 0 }
    }

    /// Charges `gas`; `false` (and nothing charged) if it does not fit.
    pub(crate) fn charge(&mut self, gas: u64) -> bool {
        match self.charged.checked_add(gas) {
            Some(total) if total <= self.limit => {
                self.charged = total;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn charged(&self) -> u64 {
        self.charged
    }

    pub(crate) fn left(&self) -> u64 {
        self.limit - self.charged
    }

    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices() {
        let g = GasSchedule::default();
        assert_eq!(g.sload(true), 2_100);
        assert_eq!(g.sload(false), 100);
        assert_eq!(g.sstore(true, false, true), 22_100);
        assert_eq!(g.sstore(false, false, false), 2_900);
        assert_eq!(g.sstore(false, true, false), 2_900);
        assert_eq!(g.log(2, 32), 375 + 750 + 256);
        let mut m = GasMeter::new(5_000);
        assert!(m.charge(2_600));
        assert!(!m.charge(2_401));
        assert!(m.charge(2_400));
        assert_eq!(m.left(), 0);
    }
}
