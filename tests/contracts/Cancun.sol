// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Exercises Cancun opcodes: TSTORE/TLOAD (EIP-1153), MCOPY (EIP-5656),
///         BLOBBASEFEE (EIP-7516) and BLOBHASH (EIP-4844).
contract Cancun {
    // `transient` state variable (solc >= 0.8.28) -> TSTORE/TLOAD
    uint256 transient lock;

    uint256 public lastSeenTransient; // persistent record of what TLOAD saw inside a tx
    uint256 public reentryValue;      // value observed by a nested call in the same tx
    bytes public lastCopy;            // result of the last mcopy, persisted

    event TransientSeen(uint256 inSameTx, uint256 inNestedCall);
    event Copied(bytes data);

    error Reentrant();

    /// Writes transient slot 0 via raw assembly, reads it back in the same frame and from a
    /// nested external call (same tx => must see it), then persists what was seen.
    function transientRoundTrip(uint256 v) external returns (uint256 seen, uint256 nested) {
        assembly {
            tstore(0x1234, v)
            seen := tload(0x1234)
        }
        nested = this.readTransientSlot();
        lastSeenTransient = seen;
        reentryValue = nested;
        emit TransientSeen(seen, nested);
    }

    /// In a fresh transaction / eth_call the transient slot is always zero.
    function readTransientSlot() external view returns (uint256 v) {
        assembly {
            v := tload(0x1234)
        }
    }

    /// Reentrancy guard on the `transient` keyword: guarded() -> this.guarded() must revert.
    function guarded(bool reenter) external returns (uint256) {
        if (lock != 0) revert Reentrant();
        lock = 1;
        uint256 r = 1;
        if (reenter) {
            r = this.guarded(false);
        }
        lock = 0;
        return r;
    }

    /// The guard is released after every tx (transient storage is cleared per tx even if not reset).
    function lockAndLeave() external {
        lock = 1;
    }

    function lockValue() external view returns (uint256) {
        return lock;
    }

    /// MCOPY: explicit copy of `data` into a fresh buffer.
    function mcopyExplicit(bytes memory data) public pure returns (bytes memory out) {
        out = new bytes(data.length);
        assembly {
            mcopy(add(out, 0x20), add(data, 0x20), mload(data))
        }
    }

    /// MCOPY with overlapping regions: shifts the buffer right by `shift` bytes in place
    /// (memmove semantics). Returns the full buffer.
    function mcopyOverlap(bytes memory data, uint256 shift) public pure returns (bytes memory) {
        require(shift <= data.length, "shift too large");
        assembly {
            let p := add(data, 0x20)
            mcopy(add(p, shift), p, sub(mload(data), shift))
        }
        return data;
    }

    /// State-changing variant so the opcode also runs inside a mined transaction.
    function storeCopy(bytes calldata data) external {
        bytes memory copy = mcopyExplicit(data);
        // bytes.concat of memory bytes is lowered to MCOPY by solc with evmVersion=cancun
        lastCopy = bytes.concat(copy, copy);
        emit Copied(lastCopy);
    }

    function blobBaseFee() external view returns (uint256) {
        return block.blobbasefee;
    }

    function blobHash0() external view returns (bytes32) {
        return blobhash(0);
    }
}

/// @notice EIP-6780 (Cancun) SELFDESTRUCT semantics.
contract Ephemeral {
    constructor(bool destroyNow, address payable beneficiary) payable {
        if (destroyNow) {
            // same-tx selfdestruct still deletes the account
            selfdestruct(beneficiary);
        }
    }

    function stillHere() external pure returns (bool) {
        return true;
    }

    /// After Cancun this only transfers the balance; code and storage remain.
    function destroy(address payable beneficiary) external {
        selfdestruct(beneficiary);
    }
}
