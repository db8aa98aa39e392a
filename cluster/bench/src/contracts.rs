//! The other contracts the workloads deploy, from the committed artifacts in
//! `tests/contracts/artifacts` (solc 0.8.x via `tests/contracts/compile.js`), and their calls:
//! the constant-product `Amm`, and the OpenZeppelin 5 UUPS pair `BoxV1`/`BoxV2` behind an
//! `ERC1967Proxy`.

use alloy_primitives::{Address, B256, Bytes, U256, b256};
use alloy_sol_types::{SolCall, SolValue, sol};

pub const AMM_ARTIFACT: &str = include_str!("../../../tests/contracts/artifacts/Amm.json");
pub const BOX_V1_ARTIFACT: &str = include_str!("../../../tests/contracts/artifacts/BoxV1.json");
pub const BOX_V2_ARTIFACT: &str = include_str!("../../../tests/contracts/artifacts/BoxV2.json");
pub const ERC1967_PROXY_ARTIFACT: &str =
    include_str!("../../../tests/contracts/artifacts/ERC1967Proxy.json");

/// ERC-1967 implementation slot: `keccak256("eip1967.proxy.implementation") - 1`.
pub const IMPLEMENTATION_SLOT: B256 =
    b256!("360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");

sol! {
    function approve(address spender, uint256 value) external returns (bool);
    function addLiquidity(uint256 amount0, uint256 amount1) external;
    function swap(address tokenIn, uint256 amountIn) external returns (uint256 amountOut);
    function reserve0() external view returns (uint256);
    function reserve1() external view returns (uint256);
    function initialize(uint256 initialValue) external;
    function upgradeToAndCall(address newImplementation, bytes data) external payable;
    function increment() external;
    function value() external view returns (uint256);
    function version() external pure returns (string);
}

/// An artifact's creation code followed by the ABI-encoded constructor arguments.
pub fn creation_code(artifact: &str, name: &str, ctor_args: &[u8]) -> anyhow::Result<Bytes> {
    let artifact: serde_json::Value = serde_json::from_str(artifact)?;
    let code = artifact
        .get("bytecode")
        .and_then(|b| b.as_str())
        .ok_or_else(|| anyhow::anyhow!("{name}.json has no `bytecode` string"))?;
    let mut out = hex::decode(code.trim_start_matches("0x"))?;
    anyhow::ensure!(!out.is_empty(), "{name}.json has empty bytecode");
    out.extend_from_slice(ctor_args);
    Ok(out.into())
}

/// `Amm(token0, token1)` creation code.
pub fn amm_creation(token0: Address, token1: Address) -> anyhow::Result<Bytes> {
    creation_code(AMM_ARTIFACT, "Amm", &(token0, token1).abi_encode_params())
}

pub fn box_v1_creation() -> anyhow::Result<Bytes> {
    creation_code(BOX_V1_ARTIFACT, "BoxV1", &[])
}

pub fn box_v2_creation() -> anyhow::Result<Bytes> {
    creation_code(BOX_V2_ARTIFACT, "BoxV2", &[])
}

/// `ERC1967Proxy(implementation, initialize(initial))` creation code.
pub fn proxy_creation(implementation: Address, initial: U256) -> anyhow::Result<Bytes> {
    let init: Bytes = initializeCall {
        initialValue: initial,
    }
    .abi_encode()
    .into();
    creation_code(
        ERC1967_PROXY_ARTIFACT,
        "ERC1967Proxy",
        &(implementation, init).abi_encode_params(),
    )
}

pub fn approve_calldata(spender: Address, amount: U256) -> Bytes {
    approveCall {
        spender,
        value: amount,
    }
    .abi_encode()
    .into()
}

pub fn add_liquidity_calldata(amount0: U256, amount1: U256) -> Bytes {
    addLiquidityCall { amount0, amount1 }.abi_encode().into()
}

pub fn swap_calldata(token_in: Address, amount_in: U256) -> Bytes {
    swapCall {
        tokenIn: token_in,
        amountIn: amount_in,
    }
    .abi_encode()
    .into()
}

pub fn reserve0_calldata() -> Bytes {
    reserve0Call {}.abi_encode().into()
}

pub fn reserve1_calldata() -> Bytes {
    reserve1Call {}.abi_encode().into()
}

pub fn upgrade_calldata(new_implementation: Address) -> Bytes {
    upgradeToAndCallCall {
        newImplementation: new_implementation,
        data: Bytes::new(),
    }
    .abi_encode()
    .into()
}

pub fn increment_calldata() -> Bytes {
    incrementCall {}.abi_encode().into()
}

pub fn value_calldata() -> Bytes {
    valueCall {}.abi_encode().into()
}

pub fn version_calldata() -> Bytes {
    versionCall {}.abi_encode().into()
}

/// Decodes a single `uint256` return value.
pub fn decode_u256(data: &[u8]) -> anyhow::Result<U256> {
    anyhow::ensure!(
        data.len() == 32,
        "expected a 32-byte uint256, got {} bytes",
        data.len()
    );
    Ok(U256::from_be_slice(data))
}

/// Decodes `version()`'s string.
pub fn decode_version(data: &[u8]) -> anyhow::Result<String> {
    versionCall::abi_decode_returns(data).map_err(|e| anyhow::anyhow!("bad version() data: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_and_calldata() {
        let a = Address::repeat_byte(1);
        let b = Address::repeat_byte(2);
        let code = amm_creation(a, b).expect("amm");
        assert_eq!(&code[code.len() - 32..][12..], b.as_slice());
        box_v1_creation().expect("v1");
        box_v2_creation().expect("v2");
        let p = proxy_creation(a, U256::from(7)).expect("proxy");
        assert!(p.len() > 100);
        let sel = |s: &str| alloy_primitives::keccak256(s)[..4].to_vec();
        assert_eq!(increment_calldata().to_vec(), sel("increment()"));
        assert_eq!(
            swap_calldata(a, U256::from(1))[..4],
            sel("swap(address,uint256)")[..]
        );
        assert_eq!(
            decode_u256(&U256::from(5).abi_encode()).expect("u256"),
            U256::from(5)
        );
        let v = "2".to_string().abi_encode();
        assert_eq!(decode_version(&v).expect("string"), "2");
    }
}
