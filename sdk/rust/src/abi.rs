//! Solidity ABI helpers over `alloy-sol-types`.

use alloy_sol_types::SolCall;

/// Decodes the calldata as `C` (selector checked), or reverts-data explaining why not.
pub fn decode<C: SolCall>(calldata: &[u8]) -> Result<C, Vec<u8>> {
    C::abi_decode(calldata).map_err(|e| crate::revert_message(&format!("bad calldata: {e}")))
}
