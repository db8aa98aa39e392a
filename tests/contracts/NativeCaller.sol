// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface INativeCounter {
    function get() external view returns (uint256);
    function increment() external returns (uint256);
}

/// @notice EVM code calling native contracts: CALL, STATICCALL and DELEGATECALL.
contract NativeCaller {
    /// Slot 0, as in the native counter: a DELEGATECALL into it counts here.
    uint256 public count;

    event Called(bool ok, bytes out);

    function callIncrement(address counter) external returns (uint256) {
        return INativeCounter(counter).increment();
    }

    function callGet(address counter) external view returns (uint256) {
        return INativeCounter(counter).get();
    }

    /// A write in a static context must fail inside the native contract; returns whether it did.
    function staticIncrementFails(address counter) external view returns (bool) {
        (bool ok,) = counter.staticcall(abi.encodeCall(INativeCounter.increment, ()));
        return !ok;
    }

    /// Runs the native counter's code against this contract's storage.
    function delegateIncrement(address counter) external returns (uint256) {
        (bool ok, bytes memory out) = counter.delegatecall(abi.encodeCall(INativeCounter.increment, ()));
        require(ok, "delegatecall failed");
        return abi.decode(out, (uint256));
    }

    /// Calls and reports, whatever happens (for failing native contracts).
    function tryCall(address target, bytes calldata data) external returns (bool ok, bytes memory out) {
        (ok, out) = target.call(data);
        emit Called(ok, out);
    }

    /// Called back by native contracts.
    function ping(uint256 x) external pure returns (uint256) {
        return x * 2;
    }
}
