// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Every flavour of failure the RPC layer has to surface.
contract Reverter {
    error Unauthorized(address caller, uint256 code);

    uint256 public touched;
    uint256[] private items;

    event Touched(uint256 n);

    // require with a reason string -> Error(string)
    function failRequire() external {
        touched += 1;
        require(false, "Reverter: require failed");
    }

    // custom error with arguments
    function failCustom(uint256 code) external {
        touched += 1;
        revert Unauthorized(msg.sender, code);
    }

    // Panic(0x12): division by zero
    function failDivide(uint256 d) external returns (uint256) {
        touched += 1;
        return 100 / d;
    }

    // Panic(0x01): assert
    function failAssert() external {
        touched += 1;
        assert(touched == 0);
    }

    // Panic(0x32): array index out of bounds
    function failIndex(uint256 i) external returns (uint256) {
        touched += 1;
        return items[i];
    }

    // revert with no data at all
    function failEmpty() external {
        touched += 1;
        revert();
    }

    // a view (eth_call only) that reverts
    function viewRevert() external pure returns (uint256) {
        revert("Reverter: view reverted");
    }

    // a view that reverts with the custom error
    function viewCustom(uint256 code) external view returns (uint256) {
        revert Unauthorized(msg.sender, code);
    }

    // never terminates: burns all the gas it is given
    function loopForever() external {
        uint256 i;
        while (true) {
            i++;
            touched = i;
        }
    }

    // succeeds; used to check the node still works after failures
    function ok() external returns (uint256) {
        touched += 1;
        emit Touched(touched);
        return touched;
    }
}
