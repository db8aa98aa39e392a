//! An initializable box, the shape of OpenZeppelin's `CloneTarget` in `tests/contracts`: it works
//! behind EIP-1167 clones and proxies because its storage is whatever account it runs for.
//!
//! `initialize(address owner, uint256 value)` once (initializer-once: a second call reverts);
//! `owner()`, `value()`, `setValue(uint256)` (owner only); `callOut(address target, bytes data)`
//! calls any contract, EVM or native, and returns its success and output (owner only).
//! Storage: slot 0 `owner`, slot 1 `value`, slot 2 `initialized`.

use alloy_sol_types::{SolCall, sol};
use rampart_sdk::storage::{read_u256, write_u256};
use rampart_sdk::{Address, Call, CallKind, Outcome, U256, abi, revert_message};

sol! {
    function initialize(address owner, uint256 value) external;
    function owner() external view returns (address);
    function value() external view returns (uint256);
    function setValue(uint256 v) external;
    function callOut(address target, bytes data) external returns (bool ok, bytes out);
    event Initialized(uint64 version);
}

const OWNER: U256 = U256::ZERO;
const VALUE: U256 = U256::from_limbs([1, 0, 0, 0]);
const INITIALIZED: U256 = U256::from_limbs([2, 0, 0, 0]);

fn owner() -> Address {
    Address::from_word(read_u256(OWNER).into())
}

fn only_owner(call: &Call) -> Result<(), Vec<u8>> {
    if call.caller != owner() {
        return Err(revert_message("NativeBox: not owner"));
    }
    Ok(())
}

fn dispatch(call: &Call) -> Outcome {
    match call.selector() {
        Some(initializeCall::SELECTOR) => {
            let a: initializeCall = abi::decode(&call.calldata)?;
            if !read_u256(INITIALIZED).is_zero() {
                return Err(revert_message("NativeBox: already initialized"));
            }
            write_u256(INITIALIZED, U256::from(1));
            write_u256(OWNER, a.owner.into_word().into());
            write_u256(VALUE, a.value);
            rampart_sdk::emit(&Initialized { version: 1 });
            Ok(Vec::new())
        }
        Some(ownerCall::SELECTOR) => Ok(ownerCall::abi_encode_returns(&owner())),
        Some(valueCall::SELECTOR) => Ok(valueCall::abi_encode_returns(&read_u256(VALUE))),
        Some(setValueCall::SELECTOR) => {
            let a: setValueCall = abi::decode(&call.calldata)?;
            only_owner(call)?;
            write_u256(VALUE, a.v);
            Ok(Vec::new())
        }
        Some(callOutCall::SELECTOR) => {
            let a: callOutCall = abi::decode(&call.calldata)?;
            only_owner(call)?;
            let r = rampart_sdk::call(CallKind::Call, a.target, U256::ZERO, u64::MAX, &a.data);
            Ok(callOutCall::abi_encode_returns(&callOutReturn {
                ok: r.success,
                out: r.output.into(),
            }))
        }
        _ => Err(revert_message("NativeBox: unknown function")),
    }
}

fn main() {
    rampart_sdk::run(dispatch)
}
