"""Malformed and invalid requests, checked with raw HTTP so exact error objects are visible.

geth's error shapes are the target. Hardhat (used to validate this suite before the
Rampart node existed) returns different codes/messages for several of these, so every
assertion on an exact code or message that only holds for geth-shaped nodes is gated on
`is_rampart` (web3_clientVersion starting with "rampart"). Tests never skip: on other
nodes they still check that an error object (not a result) comes back and that the node
keeps serving.
"""

import json
import os

import pytest
import rlp
from eth_account import Account
from eth_utils import keccak, to_bytes

from conftest import CHAIN_ID, GWEI, ETHER, assert_node_alive, eip1559_fees, legacy_gas_price, rpc, rpc_raw


@pytest.fixture(autouse=True)
def _node_keeps_serving(w3):
    yield
    assert_node_alive(w3)


def _error(body):
    assert "error" in body, f"expected an error object, got {body}"
    assert "result" not in body, body
    err = body["error"]
    assert isinstance(err["code"], int), err
    assert isinstance(err["message"], str) and err["message"], err
    return err


def _send_raw(raw: bytes | str):
    if isinstance(raw, bytes):
        raw = "0x" + raw.hex()
    return rpc("eth_sendRawTransaction", [raw])


# --------------------------------------------------------------------------- JSON-RPC envelope


def test_unknown_method(is_rampart):
    body = rpc("foo_doesNotExist", [])
    err = _error(body)
    if is_rampart:  # Hardhat answers -32004 "Method ... is not supported"
        assert err["code"] == -32601
        assert "foo_doesNotExist" in err["message"]
        assert "does not exist" in err["message"] or "not available" in err["message"]


def test_parse_error(is_rampart):
    resp = rpc_raw('{"jsonrpc":"2.0","id":1,"method":')
    body = resp.json()
    err = _error(body)
    assert err["code"] == -32700
    assert body["id"] is None
    if is_rampart:  # geth answers JSON-RPC errors with HTTP 200
        assert resp.status_code == 200


def test_invalid_request_missing_method(is_rampart):
    resp = rpc_raw({"jsonrpc": "2.0", "id": 1, "params": []})
    body = resp.json()
    err = _error(body)
    assert err["code"] == -32600
    if is_rampart:
        assert resp.status_code == 200


def test_invalid_request_not_an_object():
    body = rpc_raw("42").json()
    if isinstance(body, list):  # some servers wrap; accept a single-element list
        assert len(body) == 1
        body = body[0]
    err = _error(body)
    assert err["code"] in (-32600, -32700)


def test_empty_batch(is_rampart):
    body = rpc_raw("[]").json()
    if is_rampart:  # geth: {"error":{"code":-32600,"message":"empty batch"}}; Hardhat returns []
        err = _error(body)
        assert err["code"] == -32600
    else:
        assert body == [] or "error" in body


def test_batch_ordered_results(w3, is_rampart):
    batch = [
        {"jsonrpc": "2.0", "id": 101, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": "two", "method": "no_suchMethod", "params": []},
        {"jsonrpc": "2.0", "id": 103, "method": "eth_getBalance", "params": [Account.create().address, "latest"]},
        {"jsonrpc": "2.0", "id": 104, "method": "eth_blockNumber", "params": []},
        {"jsonrpc": "2.0", "id": 105, "method": "net_version", "params": []},
    ]
    resp = rpc_raw(batch)
    out = resp.json()
    assert isinstance(out, list) and len(out) == len(batch)
    assert [r["id"] for r in out] == [r["id"] for r in batch]
    assert out[0]["result"] == hex(CHAIN_ID)
    err = _error(out[1])
    if is_rampart:
        assert err["code"] == -32601
    assert out[2]["result"] == "0x0"
    assert int(out[3]["result"], 16) >= 0
    assert out[4]["result"] == str(CHAIN_ID)


def test_notification_gets_no_response_in_batch():
    batch = [
        {"jsonrpc": "2.0", "method": "eth_chainId", "params": []},  # notification: no id
        {"jsonrpc": "2.0", "id": 9, "method": "eth_chainId", "params": []},
    ]
    out = rpc_raw(batch).json()
    ids = [r.get("id") for r in out]
    assert 9 in ids


def test_invalid_params(is_rampart):
    err = _error(rpc("eth_getBalance", ["0x1234", "latest"]))
    if is_rampart:
        assert err["code"] == -32602
    err = _error(rpc("eth_getBlockByNumber", ["notablock", False]))
    if is_rampart:
        assert err["code"] == -32602


# --------------------------------------------------------------------------- bad transactions


def test_garbage_raw_tx(is_rampart):
    for raw in ("0xdeadbeef", "0x", "0x02", "0xf8"):
        err = _error(_send_raw(raw))
        if is_rampart:  # geth: decode failures come back as -32000 (or -32602 for invalid params)
            assert err["code"] in (-32000, -32602), err
    # not even hex
    _error(rpc("eth_sendRawTransaction", ["zzzz"]))


def _legacy(nonce, to=None, value=1, gas=21000, gas_price=None, data=b"", chain_id=CHAIN_ID):
    tx = {"nonce": nonce, "to": to or Account.create().address, "value": value, "gas": gas,
          "gasPrice": gas_price if gas_price is not None else 10 * GWEI, "data": data}
    if chain_id is not None:
        tx["chainId"] = chain_id
    return tx


def test_wrong_chain_id(w3, fresh_account, is_rampart):
    alice = fresh_account(1)
    tx = _legacy(0, gas_price=legacy_gas_price(w3), chain_id=1)
    err = _error(_send_raw(alice.account.sign_transaction(tx).raw_transaction))
    if is_rampart:  # geth: "invalid sender" / "invalid chain id for signer"
        assert err["code"] == -32000
        assert "chain" in err["message"].lower() or "sender" in err["message"].lower()
    tx2 = {"type": 2, "chainId": 5, "nonce": 0, "to": alice.address, "value": 0, "gas": 21000,
           "maxFeePerGas": 10 * GWEI, "maxPriorityFeePerGas": GWEI}
    _error(_send_raw(alice.account.sign_transaction(tx2).raw_transaction))
    # nothing was accepted
    assert w3.eth.get_transaction_count(alice.address, "pending") == 0


def test_nonce_too_low(w3, fresh_account, is_rampart):
    alice = fresh_account(1)
    gp = legacy_gas_price(w3)
    alice.send_and_wait({"to": alice.address, "value": 0, "gas": 21000, "gasPrice": gp})
    assert w3.eth.get_transaction_count(alice.address) == 1
    tx = _legacy(0, gas_price=gp)
    err = _error(_send_raw(alice.account.sign_transaction(tx).raw_transaction))
    assert "nonce too low" in err["message"].lower()  # geth and Hardhat agree (case aside)
    if is_rampart:
        assert err["code"] == -32000
        assert err["message"].startswith("nonce too low")


def test_insufficient_funds(w3, fresh_account, is_rampart):
    poor = fresh_account(wei=21000 * GWEI)  # enough for gas only at 1 gwei
    tx = _legacy(0, value=ETHER, gas_price=legacy_gas_price(w3))
    err = _error(_send_raw(poor.account.sign_transaction(tx).raw_transaction))
    if is_rampart:  # Hardhat: "Sender doesn't have enough funds to send tx..."
        assert err["code"] == -32000
        assert "insufficient funds" in err["message"]
    # unfunded account: not even gas
    nobody = Account.create()
    err = _error(_send_raw(nobody.sign_transaction(_legacy(0, value=0)).raw_transaction))
    if is_rampart:
        assert "insufficient funds" in err["message"]


def test_gas_above_block_gas_limit(w3, fresh_account, is_rampart):
    limit = w3.eth.get_block("latest")["gasLimit"]
    tip, max_fee = eip1559_fees(w3)
    # fund generously so that "insufficient funds" can't be the reason for rejection
    alice = fresh_account(wei=2 * (limit + 1) * max_fee + ETHER)
    tx = {"type": 2, "chainId": CHAIN_ID, "nonce": 0, "to": alice.address, "value": 0, "gas": limit + 1,
          "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip}
    err = _error(_send_raw(alice.account.sign_transaction(tx).raw_transaction))
    if is_rampart:  # geth: "exceeds block gas limit"; Hardhat (Osaka) reports its 2^24 per-tx gas cap first
        assert err["code"] == -32000
        assert "exceeds block gas limit" in err["message"]
    else:
        assert "exceeds" in err["message"]
    assert w3.eth.get_transaction_count(alice.address, "pending") == 0


def test_intrinsic_gas_too_low(w3, fresh_account, is_rampart):
    alice = fresh_account(1)
    tx = _legacy(0, gas=20999, gas_price=legacy_gas_price(w3))
    err = _error(_send_raw(alice.account.sign_transaction(tx).raw_transaction))
    if is_rampart:  # geth: "intrinsic gas too low: gas 20999, minimum needed 21000"
        assert err["code"] == -32000
        assert "intrinsic gas too low" in err["message"]


def test_fee_cap_below_base_fee(w3, fresh_account, is_rampart):
    alice = fresh_account(1)
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    if base <= 1:
        pytest.fail(f"base fee too low to construct an underpriced tx: {base}")
    tx = {"type": 2, "chainId": CHAIN_ID, "nonce": 0, "to": alice.address, "value": 0, "gas": 21000,
          "maxFeePerGas": base // 2, "maxPriorityFeePerGas": 0}
    body = _send_raw(alice.account.sign_transaction(tx).raw_transaction)
    # geth's pool accepts underpriced txs (they wait for the base fee to drop); Hardhat too. Only
    # tip > fee cap is always invalid:
    tx2 = dict(tx, nonce=0, maxFeePerGas=base * 2, maxPriorityFeePerGas=base * 3)
    err = _error(_send_raw(alice.account.sign_transaction(tx2).raw_transaction))
    if is_rampart:
        assert "max priority fee per gas higher than max fee per gas" in err["message"] or "tip" in err["message"]
    if "result" in body:
        # Don't leave a stuck transaction around: replace it with a properly priced one.
        tip, max_fee = eip1559_fees(w3)
        fix = dict(tx, maxFeePerGas=max(max_fee, base * 4), maxPriorityFeePerGas=max(tip, 2 * GWEI))
        r = _send_raw(alice.account.sign_transaction(fix).raw_transaction)
        assert "result" in r or "error" in r


def test_pre_eip155_rejected(w3, fresh_account, is_rampart):
    alice = fresh_account(1)
    tx = _legacy(0, gas_price=legacy_gas_price(w3), chain_id=None)
    signed = alice.account.sign_transaction(tx)
    assert rlp.decode(bytes(signed.raw_transaction))[6] in (b"\x1b", b"\x1c")  # v = 27/28: unprotected
    body = _send_raw(signed.raw_transaction)
    if is_rampart:  # geth: "only replay-protected (EIP-155) transactions allowed over RPC"
        err = _error(body)
        assert err["code"] == -32000
        assert "replay-protected" in err["message"] or "EIP-155" in err["message"]
        assert w3.eth.get_transaction_count(alice.address, "pending") == 0
    elif "result" in body:
        # Hardhat accepts unprotected transactions by default; let it be mined.
        assert w3.eth.wait_for_transaction_receipt(body["result"], timeout=60)["status"] == 1


def test_blob_tx_rejected(w3, fresh_account, is_rampart):
    alice = fresh_account(1)
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    tx = {
        "type": 3, "chainId": CHAIN_ID, "nonce": 0, "to": alice.address, "value": 0, "gas": 21000,
        "maxFeePerGas": 2 * base + GWEI, "maxPriorityFeePerGas": GWEI,
        "maxFeePerBlobGas": 10 * GWEI,
        "blobVersionedHashes": ["0x01" + "ab" * 31],
    }
    raw = bytes(alice.account.sign_transaction(tx).raw_transaction)
    assert raw[0] == 3
    err = _error(_send_raw(raw))
    if is_rampart:
        assert err["code"] in (-32000, -32602), err
    assert w3.eth.get_transaction_count(alice.address, "pending") == 0


def test_oversized_tx(w3, fresh_account, is_rampart):
    # geth's pool limit is 128 KiB per transaction; 132 KiB of calldata is over it in any encoding.
    alice = fresh_account(1)
    data = b"\x00" * (132 * 1024)
    gas = 21000 + 10 * len(data) + 100_000  # covers the EIP-7623 calldata floor too: only the size is wrong
    tx = _legacy(0, to=alice.address, value=0, gas=gas, gas_price=legacy_gas_price(w3), data=data)
    raw = alice.account.sign_transaction(tx).raw_transaction
    assert len(raw) > 131072
    body = _send_raw(raw)
    if is_rampart:
        err = _error(body)
        assert err["code"] == -32000
        assert "oversized data" in err["message"]
    else:
        # Hardhat has no size limit and mines it; either way the node must cope.
        assert "result" in body or "error" in body


def test_duplicate_tx_is_rejected_or_idempotent(w3, fresh_account, is_rampart):
    alice = fresh_account(1)
    tip, max_fee = eip1559_fees(w3)
    tx = {"type": 2, "chainId": CHAIN_ID, "nonce": 0, "to": alice.address, "value": 0, "gas": 21000,
          "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip}
    raw = alice.account.sign_transaction(tx).raw_transaction
    first = _send_raw(raw)
    assert "result" in first, first
    second = _send_raw(raw)
    # geth: "already known" while pooled, "nonce too low" once mined; Hardhat returns the hash
    if "error" in second:
        msg = second["error"]["message"].lower()
        assert "already known" in msg or "nonce too low" in msg or "known transaction" in msg, second
    else:
        assert second["result"] == first["result"]
    w3.eth.wait_for_transaction_receipt(first["result"], timeout=60)
