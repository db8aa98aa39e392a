//! The ERC-20 `Token` contract (OpenZeppelin 5, `tests/contracts/Token.sol`): its creation code
//! from the committed artifact, and the calls the benchmark makes — also on the `native`
//! workload's token (`sdk/c/examples/token.c`), which has the same ABI plus `mint`.

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::{SolCall, SolValue, sol};

/// The compiled artifact: `{contractName, abi, bytecode, deployedBytecode, …}`.
pub const ARTIFACT: &str = include_str!("../../../tests/contracts/artifacts/Token.json");

sol! {
    function transfer(address to, uint256 value) external returns (bool);
    function balanceOf(address account) external view returns (uint256);
    function mint(address to, uint256 amount) external returns (bool);
}

/// Creation code with the constructor argument: `constructor(uint256 supply)` mints `supply` to
/// the deployer.
pub fn creation_code(supply: U256) -> anyhow::Result<Bytes> {
    let artifact: serde_json::Value = serde_json::from_str(ARTIFACT)?;
    let code = artifact
        .get("bytecode")
        .and_then(|b| b.as_str())
        .ok_or_else(|| anyhow::anyhow!("Token.json has no `bytecode` string"))?;
    let mut out = hex::decode(code.trim_start_matches("0x"))?;
    anyhow::ensure!(!out.is_empty(), "Token.json has empty bytecode");
    out.extend_from_slice(&supply.abi_encode());
    Ok(out.into())
}

/// `transfer(to, amount)` calldata.
pub fn transfer_calldata(to: Address, amount: U256) -> Bytes {
    transferCall { to, value: amount }.abi_encode().into()
}

/// `mint(to, amount)` calldata (the native token of the `native` workload; its first minter
/// becomes its owner).
pub fn mint_calldata(to: Address, amount: U256) -> Bytes {
    mintCall { to, amount }.abi_encode().into()
}

/// `balanceOf(who)` calldata.
pub fn balance_of_calldata(who: Address) -> Bytes {
    balanceOfCall { account: who }.abi_encode().into()
}

/// Decodes `balanceOf`'s return data.
pub fn decode_balance(data: &[u8]) -> anyhow::Result<U256> {
    balanceOfCall::abi_decode_returns(data)
        .map_err(|e| anyhow::anyhow!("bad balanceOf return data: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calldata_shapes() {
        let c = transfer_calldata(Address::repeat_byte(1), U256::from(1));
        assert_eq!(&c[..4], &[0xa9, 0x05, 0x9c, 0xbb]); // transfer(address,uint256)
        assert_eq!(c.len(), 4 + 64);
        let b = balance_of_calldata(Address::repeat_byte(2));
        assert_eq!(&b[..4], &[0x70, 0xa0, 0x82, 0x31]); // balanceOf(address)
        let ret = U256::from(77).abi_encode();
        assert_eq!(decode_balance(&ret).expect("decodes"), U256::from(77));
        let code = creation_code(U256::from(5)).expect("artifact parses");
        assert_eq!(&code[code.len() - 32..], &U256::from(5).to_be_bytes::<32>());
    }
}
