//! A counter: `get()`, `increment()`, `add(uint256)`; emits `Incremented(address,uint256)`.
//! Storage: slot 0 holds the count (as `uint256 count;` would in Solidity).

use alloy_sol_types::{SolCall, sol};
use rampart_sdk::{Call, U256, abi, storage};

sol! {
    function get() external view returns (uint256);
    function increment() external returns (uint256);
    function add(uint256 by) external returns (uint256);
    event Incremented(address indexed by, uint256 value);
}

const COUNT: U256 = U256::ZERO;

fn bump(call: &Call, by: U256) -> U256 {
    let v = storage::read_u256(COUNT).wrapping_add(by);
    storage::write_u256(COUNT, v);
    rampart_sdk::emit(&Incremented {
        by: call.caller,
        value: v,
    });
    v
}

fn main() {
    rampart_sdk::run(|call| match call.selector() {
        Some(getCall::SELECTOR) => Ok(getCall::abi_encode_returns(&storage::read_u256(COUNT))),
        Some(incrementCall::SELECTOR) => Ok(incrementCall::abi_encode_returns(&bump(
            call,
            U256::from(1),
        ))),
        Some(addCall::SELECTOR) => {
            let a: addCall = abi::decode(&call.calldata)?;
            Ok(addCall::abi_encode_returns(&bump(call, a.by)))
        }
        _ => Err(rampart_sdk::revert_message("counter: unknown function")),
    })
}
