// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {OwnableUpgradeable} from "@openzeppelin/contracts-upgradeable/access/OwnableUpgradeable.sol";

/// @notice UUPS implementation, version 2: same storage layout as BoxV1 plus increment()/version().
contract BoxV2 is Initializable, OwnableUpgradeable, UUPSUpgradeable {
    uint256 private _value;

    event ValueChanged(uint256 value);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    function initialize(uint256 initialValue) public initializer {
        __Ownable_init(msg.sender);
        _value = initialValue;
        emit ValueChanged(initialValue);
    }

    function value() external view returns (uint256) {
        return _value;
    }

    function setValue(uint256 newValue) external {
        _value = newValue;
        emit ValueChanged(newValue);
    }

    function increment() external {
        _value += 1;
        emit ValueChanged(_value);
    }

    function version() external pure returns (string memory) {
        return "2";
    }

    function _authorizeUpgrade(address) internal override onlyOwner {}
}
