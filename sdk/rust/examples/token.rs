//! An ERC-20-like token with Solidity's storage layout:
//! slot 0 `mapping(address => uint256) balances`, slot 1
//! `mapping(address => mapping(address => uint256)) allowances`, slot 2 `totalSupply`,
//! slot 3 `owner`. `mint` is for the owner; the first caller of `mint` becomes the owner.

use alloy_sol_types::{SolCall, sol};
use rampart_sdk::storage::{address_key, mapping_slot, read_u256, write_u256};
use rampart_sdk::{Address, B256, Call, Outcome, U256, abi, revert_message, storage};

sol! {
    function name() external view returns (string);
    function symbol() external view returns (string);
    function decimals() external view returns (uint8);
    function totalSupply() external view returns (uint256);
    function balanceOf(address who) external view returns (uint256);
    function allowance(address owner, address spender) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function approve(address spender, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function mint(address to, uint256 amount) external returns (bool);
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
}

const BALANCES: U256 = U256::from_limbs([0, 0, 0, 0]);
const ALLOWANCES: U256 = U256::from_limbs([1, 0, 0, 0]);
const TOTAL_SUPPLY: U256 = U256::from_limbs([2, 0, 0, 0]);
const OWNER: U256 = U256::from_limbs([3, 0, 0, 0]);

fn balance_slot(who: Address) -> U256 {
    mapping_slot(BALANCES, address_key(who))
}

fn allowance_slot(owner: Address, spender: Address) -> U256 {
    let inner = mapping_slot(ALLOWANCES, address_key(owner));
    mapping_slot(inner, address_key(spender))
}

fn move_tokens(from: Address, to: Address, amount: U256) -> Result<(), Vec<u8>> {
    let fb = read_u256(balance_slot(from));
    if fb < amount {
        return Err(revert_message("ERC20: transfer amount exceeds balance"));
    }
    write_u256(balance_slot(from), fb - amount);
    let tb = read_u256(balance_slot(to));
    write_u256(balance_slot(to), tb + amount);
    rampart_sdk::emit(&Transfer {
        from,
        to,
        value: amount,
    });
    Ok(())
}

fn dispatch(call: &Call) -> Outcome {
    let data = &call.calldata;
    match call.selector() {
        Some(nameCall::SELECTOR) => Ok(nameCall::abi_encode_returns(&"Native Token".to_string())),
        Some(symbolCall::SELECTOR) => Ok(symbolCall::abi_encode_returns(&"NAT".to_string())),
        Some(decimalsCall::SELECTOR) => Ok(decimalsCall::abi_encode_returns(&18u8)),
        Some(totalSupplyCall::SELECTOR) => Ok(totalSupplyCall::abi_encode_returns(&read_u256(
            TOTAL_SUPPLY,
        ))),
        Some(balanceOfCall::SELECTOR) => {
            let c: balanceOfCall = abi::decode(data)?;
            Ok(balanceOfCall::abi_encode_returns(&read_u256(balance_slot(
                c.who,
            ))))
        }
        Some(allowanceCall::SELECTOR) => {
            let c: allowanceCall = abi::decode(data)?;
            Ok(allowanceCall::abi_encode_returns(&read_u256(
                allowance_slot(c.owner, c.spender),
            )))
        }
        Some(transferCall::SELECTOR) => {
            let c: transferCall = abi::decode(data)?;
            move_tokens(call.caller, c.to, c.amount)?;
            Ok(transferCall::abi_encode_returns(&true))
        }
        Some(approveCall::SELECTOR) => {
            let c: approveCall = abi::decode(data)?;
            write_u256(allowance_slot(call.caller, c.spender), c.amount);
            rampart_sdk::emit(&Approval {
                owner: call.caller,
                spender: c.spender,
                value: c.amount,
            });
            Ok(approveCall::abi_encode_returns(&true))
        }
        Some(transferFromCall::SELECTOR) => {
            let c: transferFromCall = abi::decode(data)?;
            let slot = allowance_slot(c.from, call.caller);
            let allowed = read_u256(slot);
            if allowed < c.amount {
                return Err(revert_message("ERC20: insufficient allowance"));
            }
            write_u256(slot, allowed - c.amount);
            move_tokens(c.from, c.to, c.amount)?;
            Ok(transferFromCall::abi_encode_returns(&true))
        }
        Some(mintCall::SELECTOR) => {
            let c: mintCall = abi::decode(data)?;
            let owner = storage::read(B256::from(OWNER));
            if owner.is_zero() {
                storage::write(B256::from(OWNER), address_key(call.caller));
            } else if owner != address_key(call.caller) {
                return Err(revert_message("ERC20: only the owner may mint"));
            }
            let supply = read_u256(TOTAL_SUPPLY)
                .checked_add(c.amount)
                .ok_or_else(|| revert_message("ERC20: supply overflow"))?;
            write_u256(TOTAL_SUPPLY, supply);
            let b = read_u256(balance_slot(c.to));
            write_u256(balance_slot(c.to), b + c.amount);
            rampart_sdk::emit(&Transfer {
                from: Address::ZERO,
                to: c.to,
                value: c.amount,
            });
            Ok(mintCall::abi_encode_returns(&true))
        }
        _ => Err(revert_message("token: unknown function")),
    }
}

fn main() {
    rampart_sdk::run(dispatch)
}
