// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Emits events with different topic layouts for eth_getLogs filtering tests.
contract Events {
    // 3 indexed args -> 4 topics
    event Triple(uint256 indexed a, address indexed who, bytes32 indexed tag, string note);
    // 1 indexed arg + data
    event Single(uint256 indexed id, uint256 value, bytes payload);
    // no indexed args -> 1 topic
    event Plain(uint256 x, uint256 y);
    // anonymous: no signature topic, only the indexed arg
    event Anon(uint256 indexed marker, uint256 value) anonymous;

    uint256 public emitted;

    function emitTriple(uint256 a, bytes32 tag, string calldata note) external {
        emitted += 1;
        emit Triple(a, msg.sender, tag, note);
    }

    function emitSingle(uint256 id, uint256 value, bytes calldata payload) external {
        emitted += 1;
        emit Single(id, value, payload);
    }

    function emitPlain(uint256 x, uint256 y) external {
        emitted += 1;
        emit Plain(x, y);
    }

    function emitAnon(uint256 marker, uint256 value) external {
        emitted += 1;
        emit Anon(marker, value);
    }

    /// emits `n` Single events (ids start..start+n-1) plus one Plain in the same tx
    function emitMany(uint256 start, uint256 n) external {
        for (uint256 i = 0; i < n; i++) {
            emit Single(start + i, i, "");
        }
        emit Plain(start, n);
        emitted += n + 1;
    }
}
