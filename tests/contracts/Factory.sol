// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

contract Child {
    address public immutable factory;
    uint256 public value;

    constructor(uint256 v) payable {
        factory = msg.sender;
        value = v;
    }

    function setValue(uint256 v) external {
        value = v;
    }
}

/// @notice Deploys Child via CREATE and CREATE2 and predicts CREATE2 addresses.
contract Factory {
    event Deployed(address indexed child, bool create2, bytes32 salt);

    address[] public children;

    function deployCreate(uint256 v) external returns (address child) {
        child = address(new Child(v));
        children.push(child);
        emit Deployed(child, false, bytes32(0));
    }

    function deployCreate2(bytes32 salt, uint256 v) external returns (address child) {
        child = address(new Child{salt: salt}(v));
        children.push(child);
        emit Deployed(child, true, salt);
    }

    function childInitCodeHash(uint256 v) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(type(Child).creationCode, abi.encode(v)));
    }

    function predict(bytes32 salt, uint256 v) external view returns (address) {
        return address(
            uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, childInitCodeHash(v)))))
        );
    }

    function childrenCount() external view returns (uint256) {
        return children.length;
    }
}
