"""Basic connectivity and chain-info RPCs."""

from hexbytes import HexBytes

from conftest import CHAIN_ID, rpc


def test_chain_id(w3):
    assert w3.eth.chain_id == CHAIN_ID
    assert rpc("eth_chainId")["result"] == hex(CHAIN_ID)


def test_net_version(w3):
    assert w3.net.version == str(CHAIN_ID)


def test_client_version(client_version):
    assert isinstance(client_version, str) and client_version


def test_block_number(w3):
    n = w3.eth.block_number
    assert isinstance(n, int) and n >= 0
    raw = rpc("eth_blockNumber")["result"]
    assert raw.startswith("0x") and int(raw, 16) >= n


def _check_header(block, number=None):
    for key in (
        "number", "hash", "parentHash", "nonce", "sha3Uncles", "logsBloom", "transactionsRoot",
        "stateRoot", "receiptsRoot", "miner", "difficulty", "extraData", "size", "gasLimit",
        "gasUsed", "timestamp", "transactions", "uncles",
    ):
        assert key in block, f"block missing {key}: {dict(block)}"
    if number is not None:
        assert block["number"] == number
    assert len(block["hash"]) == 32
    assert len(block["parentHash"]) == 32
    assert len(block["logsBloom"]) == 256
    assert block["gasLimit"] > 0
    assert 0 <= block["gasUsed"] <= block["gasLimit"]
    assert "baseFeePerGas" in block  # London is active


def test_get_block_by_number_and_hash(w3):
    latest = w3.eth.get_block("latest")
    _check_header(latest)
    by_num = w3.eth.get_block(latest["number"])
    assert by_num["hash"] == latest["hash"]
    by_hash = w3.eth.get_block(latest["hash"])
    assert by_hash["number"] == latest["number"]
    assert dict(by_hash) == dict(by_num)
    genesis = w3.eth.get_block(0)
    _check_header(genesis, 0)
    assert genesis["parentHash"] == HexBytes(b"\x00" * 32)
    if latest["number"] > 0:
        parent = w3.eth.get_block(latest["number"] - 1)
        assert latest["parentHash"] == parent["hash"]
        assert latest["timestamp"] >= parent["timestamp"]
    for tag in ("earliest", "safe", "finalized", "pending"):
        b = w3.eth.get_block(tag)
        assert b is not None and "transactions" in b


def test_get_block_full_and_hashes(w3, funder):
    # Make sure there is a block with at least one transaction.
    rcpt = funder.send_and_wait({"to": funder.address, "value": 1, "gas": 21000})
    n, h = rcpt["blockNumber"], rcpt["blockHash"]

    light = w3.eth.get_block(n)
    assert light["hash"] == h
    assert rcpt["transactionHash"] in light["transactions"]
    assert all(isinstance(t, (bytes, HexBytes)) and len(t) == 32 for t in light["transactions"])

    full = w3.eth.get_block(h, full_transactions=True)
    assert full["hash"] == h
    assert [t["hash"] for t in full["transactions"]] == list(light["transactions"])
    tx = next(t for t in full["transactions"] if t["hash"] == rcpt["transactionHash"])
    assert tx["blockHash"] == h
    assert tx["blockNumber"] == n
    assert tx["from"] == funder.address
    assert tx["transactionIndex"] == rcpt["transactionIndex"]

    assert w3.eth.get_block_transaction_count(n) == len(light["transactions"])
    assert w3.eth.get_transaction_by_block(n, rcpt["transactionIndex"])["hash"] == rcpt["transactionHash"]


def test_unknown_block_is_null(w3):
    far = w3.eth.block_number + 1_000_000
    assert rpc("eth_getBlockByNumber", [hex(far), False])["result"] is None
    assert rpc("eth_getBlockByHash", ["0x" + "11" * 32, False])["result"] is None


def test_fee_history_shape(w3):
    # Make sure at least a few blocks exist.
    head = w3.eth.block_number
    count = max(1, min(4, head))
    fh = w3.eth.fee_history(count, head, [25, 75])  # explicit block: new blocks may arrive meanwhile
    assert fh["oldestBlock"] == head - count + 1
    assert len(fh["baseFeePerGas"]) == count + 1  # includes the next block's base fee
    assert len(fh["gasUsedRatio"]) == count
    assert all(0 <= r <= 1 for r in fh["gasUsedRatio"])
    assert len(fh["reward"]) == count
    assert all(len(r) == 2 for r in fh["reward"])
    assert all(b >= 0 for b in fh["baseFeePerGas"])
    # Without percentiles no reward field is required.
    fh2 = w3.eth.fee_history(1, "latest")
    assert len(fh2["baseFeePerGas"]) == 2
    assert fh2["oldestBlock"] >= head


def test_gas_price_and_priority_fee(w3):
    gp = w3.eth.gas_price
    assert isinstance(gp, int) and gp > 0
    tip = w3.eth.max_priority_fee
    assert isinstance(tip, int) and tip >= 0
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    # gas price suggestion must be enough to get a legacy tx included
    assert gp >= base


def test_syncing_and_accounts_shape(w3):
    assert w3.eth.syncing in (False,) or isinstance(w3.eth.syncing, dict)
    assert isinstance(w3.eth.accounts, list)
