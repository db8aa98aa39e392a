// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice Minimal constant-product (x * y = k) pool of two ERC-20 tokens with a 0.3% fee.
/// Used by the parallel-execution tests and benchmarks: every swap reads and writes both
/// reserves, so swaps on one pool conflict and swaps on different pools do not.
contract Amm {
    IERC20 public immutable token0;
    IERC20 public immutable token1;
    uint256 public reserve0;
    uint256 public reserve1;

    event Sync(uint256 reserve0, uint256 reserve1);
    event Swap(address indexed sender, address indexed tokenIn, uint256 amountIn, uint256 amountOut);

    constructor(IERC20 a, IERC20 b) {
        token0 = a;
        token1 = b;
    }

    /// Moves `amount0`/`amount1` from the caller (who approved them) into the pool.
    function addLiquidity(uint256 amount0, uint256 amount1) external {
        require(token0.transferFrom(msg.sender, address(this), amount0), "Amm: transfer0");
        require(token1.transferFrom(msg.sender, address(this), amount1), "Amm: transfer1");
        reserve0 += amount0;
        reserve1 += amount1;
        emit Sync(reserve0, reserve1);
    }

    function getAmountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut) public pure returns (uint256) {
        uint256 inWithFee = amountIn * 997;
        return (inWithFee * reserveOut) / (reserveIn * 1000 + inWithFee);
    }

    /// Swaps `amountIn` of `tokenIn` (approved by the caller) for the other token.
    function swap(address tokenIn, uint256 amountIn) external returns (uint256 amountOut) {
        bool zeroForOne = tokenIn == address(token0);
        require(zeroForOne || tokenIn == address(token1), "Amm: unknown token");
        require(amountIn > 0, "Amm: zero input");
        (IERC20 tIn, IERC20 tOut, uint256 rIn, uint256 rOut) =
            zeroForOne ? (token0, token1, reserve0, reserve1) : (token1, token0, reserve1, reserve0);
        amountOut = getAmountOut(amountIn, rIn, rOut);
        require(amountOut > 0, "Amm: insufficient output");
        require(tIn.transferFrom(msg.sender, address(this), amountIn), "Amm: transfer in");
        require(tOut.transfer(msg.sender, amountOut), "Amm: transfer out");
        if (zeroForOne) {
            reserve0 = rIn + amountIn;
            reserve1 = rOut - amountOut;
        } else {
            reserve1 = rIn + amountIn;
            reserve0 = rOut - amountOut;
        }
        emit Swap(msg.sender, tokenIn, amountIn, amountOut);
    }
}
