"""Locally signed ETH transfers of every supported type, receipts and balances."""

import pytest
from eth_account import Account
from hexbytes import HexBytes

from conftest import CHAIN_ID, GWEI, eip1559_fees, legacy_gas_price, wait_receipt


def _signed_send(w3, sender, tx):
    """Sign with w3.eth.account.sign_transaction and send_raw_transaction."""
    signed = w3.eth.account.sign_transaction(tx, sender.account.key)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    assert HexBytes(tx_hash) == HexBytes(signed.hash)
    return tx_hash


def _common_receipt_checks(w3, rcpt, sender, to, tx_type):
    assert rcpt["status"] == 1
    assert rcpt["type"] == tx_type
    assert rcpt["gasUsed"] == 21000
    assert rcpt["cumulativeGasUsed"] >= 21000
    assert rcpt["from"] == sender
    assert rcpt["to"] == to
    assert rcpt["contractAddress"] is None
    assert rcpt["logs"] == []
    assert rcpt["effectiveGasPrice"] > 0
    block = w3.eth.get_block(rcpt["blockNumber"])
    assert block["hash"] == rcpt["blockHash"]
    assert rcpt["transactionHash"] in block["transactions"]
    assert block["transactions"][rcpt["transactionIndex"]] == rcpt["transactionHash"]
    return block


def test_legacy_eip155_transfer(w3, fresh_account):
    alice = fresh_account(1)
    bob = Account.create().address
    value = 12345
    gas_price = legacy_gas_price(w3)
    nonce = w3.eth.get_transaction_count(alice.address)
    assert nonce == 0
    bal0 = w3.eth.get_balance(alice.address)
    tx = {"to": bob, "value": value, "gas": 21000, "gasPrice": gas_price, "nonce": nonce, "chainId": CHAIN_ID}
    h = _signed_send(w3, alice, tx)
    assert w3.eth.get_transaction_count(alice.address, "pending") == 1
    rcpt = wait_receipt(w3, h)
    block = _common_receipt_checks(w3, rcpt, alice.address, bob, 0)
    assert rcpt["effectiveGasPrice"] == gas_price
    assert w3.eth.get_balance(bob) == value
    assert w3.eth.get_balance(alice.address) == bal0 - value - 21000 * gas_price
    assert w3.eth.get_transaction_count(alice.address) == 1
    assert w3.eth.get_transaction_count(alice.address, "latest") == 1
    assert w3.eth.get_transaction_count(alice.address, "pending") == 1
    # historical state
    assert w3.eth.get_balance(alice.address, block["number"] - 1) == bal0
    assert w3.eth.get_transaction_count(alice.address, block["number"] - 1) == 0

    t = w3.eth.get_transaction(h)
    assert t["hash"] == HexBytes(h)
    assert t["type"] == 0
    assert t["from"] == alice.address
    assert t["to"] == bob
    assert t["value"] == value
    assert t["nonce"] == nonce
    assert t["gas"] == 21000
    assert t["gasPrice"] == gas_price
    assert t["input"] == HexBytes(b"")
    assert t["blockHash"] == rcpt["blockHash"]
    assert t["blockNumber"] == rcpt["blockNumber"]
    assert t["transactionIndex"] == rcpt["transactionIndex"]
    # EIP-155: v = chainId * 2 + 35 + {0,1}
    assert t["v"] in (CHAIN_ID * 2 + 35, CHAIN_ID * 2 + 36)
    assert len(HexBytes(t["r"])) <= 32 and len(HexBytes(t["s"])) <= 32
    if "chainId" in t:
        assert t["chainId"] == CHAIN_ID


def test_type1_access_list_transfer(w3, fresh_account):
    alice = fresh_account(1)
    bob = Account.create().address
    value = 777
    gas_price = legacy_gas_price(w3)
    access_list = [{"address": bob, "storageKeys": ["0x" + "00" * 31 + "01"]}]
    # intrinsic gas: 21000 + 2400 per address + 1900 per storage key
    gas = 21000 + 2400 + 1900
    bal0 = w3.eth.get_balance(alice.address)
    tx = {
        "type": 1, "chainId": CHAIN_ID, "nonce": 0, "to": bob, "value": value,
        "gas": gas, "gasPrice": gas_price, "accessList": access_list,
    }
    h = _signed_send(w3, alice, tx)
    rcpt = wait_receipt(w3, h)
    assert rcpt["status"] == 1
    assert rcpt["type"] == 1
    assert rcpt["gasUsed"] == gas
    assert rcpt["effectiveGasPrice"] == gas_price
    assert w3.eth.get_balance(bob) == value
    assert w3.eth.get_balance(alice.address) == bal0 - value - gas * gas_price

    t = w3.eth.get_transaction(h)
    assert t["type"] == 1
    assert t["chainId"] == CHAIN_ID
    assert t["gasPrice"] == gas_price
    assert t["nonce"] == 0
    assert len(t["accessList"]) == 1
    assert t["accessList"][0]["address"] == bob
    assert [HexBytes(k) for k in t["accessList"][0]["storageKeys"]] == [HexBytes(access_list[0]["storageKeys"][0])]
    assert t["v"] in (0, 1)
    if "yParity" in t:
        assert t["yParity"] == t["v"]


def test_type1_without_access_list_costs_21000(w3, fresh_account):
    alice = fresh_account(1)
    tx = {
        "type": 1, "chainId": CHAIN_ID, "nonce": 0, "to": Account.create().address, "value": 1,
        "gas": 21000, "gasPrice": legacy_gas_price(w3), "accessList": [],
    }
    rcpt = wait_receipt(w3, _signed_send(w3, alice, tx))
    assert rcpt["status"] == 1 and rcpt["type"] == 1 and rcpt["gasUsed"] == 21000


def test_eip1559_transfer(w3, fresh_account):
    alice = fresh_account(1)
    bob = Account.create().address
    value = 10**15
    tip, max_fee = eip1559_fees(w3)
    bal0 = w3.eth.get_balance(alice.address)
    tx = {
        "type": 2, "chainId": CHAIN_ID, "nonce": 0, "to": bob, "value": value, "gas": 21000,
        "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip,
    }
    h = _signed_send(w3, alice, tx)
    rcpt = wait_receipt(w3, h)
    block = _common_receipt_checks(w3, rcpt, alice.address, bob, 2)
    base = block["baseFeePerGas"]
    assert rcpt["effectiveGasPrice"] == min(max_fee, base + tip)
    assert w3.eth.get_balance(bob) == value
    assert w3.eth.get_balance(alice.address) == bal0 - value - 21000 * rcpt["effectiveGasPrice"]

    t = w3.eth.get_transaction(h)
    assert t["type"] == 2
    assert t["chainId"] == CHAIN_ID
    assert t["maxFeePerGas"] == max_fee
    assert t["maxPriorityFeePerGas"] == tip
    assert t["accessList"] == []
    assert t["value"] == value
    assert t["nonce"] == 0
    assert t["v"] in (0, 1)
    # geth reports gasPrice = effective gas price for mined dynamic-fee txs
    assert t["gasPrice"] == rcpt["effectiveGasPrice"]


def test_nonces_sequence_and_pending(w3, fresh_account):
    alice = fresh_account(1)
    bob = Account.create().address
    tip, max_fee = eip1559_fees(w3)
    hashes = []
    for n in range(3):
        tx = {
            "type": 2, "chainId": CHAIN_ID, "nonce": n, "to": bob, "value": 1, "gas": 21000,
            "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip,
        }
        hashes.append(_signed_send(w3, alice, tx))
        # pending counts both mined and pooled transactions
        assert w3.eth.get_transaction_count(alice.address, "pending") == n + 1
        assert w3.eth.get_transaction_count(alice.address, "latest") <= n + 1
    rcpts = [wait_receipt(w3, h) for h in hashes]
    assert all(r["status"] == 1 for r in rcpts)
    # nonce order implies block/index order
    order = [(r["blockNumber"], r["transactionIndex"]) for r in rcpts]
    assert order == sorted(order)
    assert w3.eth.get_transaction_count(alice.address, "latest") == 3
    assert w3.eth.get_transaction_count(alice.address, "pending") == 3
    assert w3.eth.get_balance(bob) == 3


def test_transfer_to_self_and_zero_value(w3, fresh_account):
    alice = fresh_account(1)
    bal0 = w3.eth.get_balance(alice.address)
    gp = legacy_gas_price(w3)
    tx = {"to": alice.address, "value": 0, "gas": 21000, "gasPrice": gp, "nonce": 0, "chainId": CHAIN_ID}
    rcpt = wait_receipt(w3, _signed_send(w3, alice, tx))
    assert rcpt["status"] == 1
    assert w3.eth.get_balance(alice.address) == bal0 - 21000 * rcpt["effectiveGasPrice"]


def test_unknown_tx_and_receipt_are_null(w3):
    from conftest import rpc

    h = "0x" + "ab" * 32
    assert rpc("eth_getTransactionByHash", [h])["result"] is None
    assert rpc("eth_getTransactionReceipt", [h])["result"] is None


def test_prefunded_accounts_10_to_19(w3, senders):
    from conftest import derive

    # 10000 ETH at genesis; some spent on gas/funding but still plenty. (Genesis state itself is
    # not queried: a pruning node may legitimately have dropped it.)
    for s in senders:
        assert w3.eth.get_balance(s.address) > 1000 * 10**18, s.address
    # an account this suite never touches still has exactly its genesis allocation
    assert w3.eth.get_balance(derive(19).address) == 10_000 * 10**18
