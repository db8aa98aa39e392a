// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Minimal stateful contract. `count` lives in storage slot 0.
contract Counter {
    uint256 public count;

    event Incremented(address indexed by, uint256 value);
    event ValueSet(address indexed by, uint256 oldValue, uint256 newValue);

    function increment() external returns (uint256) {
        count += 1;
        emit Incremented(msg.sender, count);
        return count;
    }

    function set(uint256 v) external {
        emit ValueSet(msg.sender, count, v);
        count = v;
    }

    function get() external view returns (uint256) {
        return count;
    }
}
