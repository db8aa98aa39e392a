// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";

/// @notice Non-UUPS Box implementations, used behind BeaconProxy and TransparentUpgradeableProxy.
contract PlainBoxV1 is Initializable {
    uint256 private _value;

    event ValueChanged(uint256 value);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    function initialize(uint256 initialValue) public initializer {
        _value = initialValue;
    }

    function value() external view returns (uint256) {
        return _value;
    }

    function setValue(uint256 newValue) external {
        _value = newValue;
        emit ValueChanged(newValue);
    }
}

contract PlainBoxV2 is Initializable {
    uint256 private _value;

    event ValueChanged(uint256 value);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    function initialize(uint256 initialValue) public initializer {
        _value = initialValue;
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
}
