// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";

/// @notice Initializable implementation cloned via EIP-1167 minimal proxies.
contract CloneTarget is Initializable {
    address public owner;
    uint256 public value;

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    function initialize(address owner_, uint256 value_) external initializer {
        owner = owner_;
        value = value_;
    }

    function setValue(uint256 v) external {
        require(msg.sender == owner, "CloneTarget: not owner");
        value = v;
    }
}

/// @notice Factory for EIP-1167 clones (CREATE and CREATE2).
contract CloneFactory {
    address public immutable implementation;

    event CloneCreated(address indexed instance, bool deterministic, bytes32 salt);

    constructor(address implementation_) {
        implementation = implementation_;
    }

    function clone(uint256 v) external returns (address instance) {
        instance = Clones.clone(implementation);
        CloneTarget(instance).initialize(msg.sender, v);
        emit CloneCreated(instance, false, bytes32(0));
    }

    function cloneDeterministic(bytes32 salt, uint256 v) external returns (address instance) {
        instance = Clones.cloneDeterministic(implementation, salt);
        CloneTarget(instance).initialize(msg.sender, v);
        emit CloneCreated(instance, true, salt);
    }

    function predict(bytes32 salt) external view returns (address) {
        return Clones.predictDeterministicAddress(implementation, salt, address(this));
    }
}
