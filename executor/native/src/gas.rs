//! Gas for native calls: EVM-like prices for state access, plus execution time.
//!
//! | what | gas |
//! |---|---|
//! | the call itself | `call_base` (2,600) |
//! | storage read | 2,100 cold / 100 warm (EIP-2929) |
//! | storage write | 20,000 when a zero slot becomes non-zero, else 2,900; +2,100 if cold; no refunds |
//! | log | 375 + 375 per topic + 8 per data byte |
//! | call to another contract | 2,600 + 9,000 with value, + the callee's gas used (63/64 rule on what is offered) |
//! | execution | `gas_per_exec_us` (10) per µs of wall time, excluding time in the state host and waiting for a contract process to start |
//!
//! Execution is priced by wall-clock time measured on the node (from the start message to the
//! final one, minus the time spent answering requests), so it includes the sandbox round trips.
//! Wall time is not reproducible across machines; that is acceptable because a block is executed
//! once, on the leader, and its results (write set, receipts, gas used) are replicated, never
//! re-executed (DESIGN.md, "Why execute once and replicate results"). The price also turns the gas
//! limit into a time limit: a call with `g` gas left can run at most `g / gas_per_exec_us` µs.

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
    pub gas_per_exec_us: u64,
}

impl Default for GasSchedule {
    fn default() -> Self {
        Self {
            call_base: 2_600,
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
            gas_per_exec_us: 10,
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

    pub fn exec(&self, exec_time_us: u64) -> u64 {
        exec_time_us.saturating_mul(self.gas_per_exec_us)
    }
}

/// Gas left to a call. Charges for state access and nested calls as they happen; execution time
/// is charged against what is left when the call ends (and bounds its deadline meanwhile).
#[derive(Debug, Clone)]
pub(crate) struct GasMeter {
    limit: u64,
    /// Gas charged so far for everything but execution time.
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
