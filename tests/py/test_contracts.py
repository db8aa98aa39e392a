"""Contract deployment, calls, events/logs, ERC20, CREATE/CREATE2 and a UUPS upgrade."""

import pytest
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD

from conftest import revert_data, rpc

IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc"


def topic(sig: str) -> HexBytes:
    return HexBytes(keccak(text=sig))


def addr_topic(addr: str) -> HexBytes:
    return HexBytes(b"\x00" * 12 + HexBytes(addr))


def uint_topic(v: int) -> HexBytes:
    return HexBytes(v.to_bytes(32, "big"))


@pytest.fixture
def user(fresh_account):
    return fresh_account(5)


# --------------------------------------------------------------------------- Counter


def test_counter_deploy_transact_read(w3, user, deploy, artifact):
    counter, rcpt = deploy(user, "Counter")
    assert rcpt["status"] == 1
    assert rcpt["to"] is None
    # contract address = keccak(rlp([sender, nonce]))[12:], sender nonce was 0
    assert rcpt["contractAddress"] == to_checksum_address(
        keccak(b"\xd6\x94" + HexBytes(user.address) + b"\x80")[12:]
    )
    code = w3.eth.get_code(counter.address)
    assert code == HexBytes(artifact("Counter")["deployedBytecode"])
    t = w3.eth.get_transaction(rcpt["transactionHash"])
    assert t["to"] is None

    assert counter.functions.count().call() == 0
    assert counter.functions.get().call() == 0
    # eth_call of a state-changing fn returns the would-be result without persisting
    assert counter.functions.increment().call({"from": user.address}) == 1
    assert counter.functions.get().call() == 0

    r1 = user.transact(counter.functions.increment())
    assert r1["to"] == counter.address
    assert counter.functions.get().call() == 1
    # historical read at the previous block
    assert counter.functions.get().call(block_identifier=r1["blockNumber"] - 1) == 0
    assert counter.functions.get().call(block_identifier=r1["blockNumber"]) == 1
    # count lives in slot 0
    assert int.from_bytes(w3.eth.get_storage_at(counter.address, 0), "big") == 1

    r2 = user.transact(counter.functions.set(41))
    r3 = user.transact(counter.functions.increment())
    assert counter.functions.get().call() == 42

    inc = counter.events.Incremented().process_receipt(r1)
    assert len(inc) == 1
    assert inc[0]["args"]["by"] == user.address
    assert inc[0]["args"]["value"] == 1
    assert inc[0]["address"] == counter.address
    assert inc[0]["transactionHash"] == r1["transactionHash"]
    assert inc[0]["blockNumber"] == r1["blockNumber"]
    vs = counter.events.ValueSet().process_receipt(r2)
    assert [(e["args"]["oldValue"], e["args"]["newValue"]) for e in vs] == [(1, 41)]

    # receipt log shape
    log = r1["logs"][0]
    assert log["address"] == counter.address
    assert log["topics"][0] == topic("Incremented(address,uint256)")
    assert log["topics"][1] == addr_topic(user.address)
    assert int.from_bytes(log["data"], "big") == 1
    assert log["logIndex"] >= 0 and log["transactionIndex"] == r1["transactionIndex"]
    assert log["blockHash"] == r1["blockHash"] and log["removed"] is False
    # bloom must be non-empty for a block with logs
    assert r1["logsBloom"] != HexBytes(b"\x00" * 256)

    # get_logs with address + topics + block range
    logs = w3.eth.get_logs({
        "address": counter.address,
        "fromBlock": r1["blockNumber"],
        "toBlock": r3["blockNumber"],
    })
    assert [l["transactionHash"] for l in logs] == [r1["transactionHash"], r2["transactionHash"], r3["transactionHash"]]
    only_inc = w3.eth.get_logs({
        "address": counter.address,
        "topics": [topic("Incremented(address,uint256)")],
        "fromBlock": r1["blockNumber"],
        "toBlock": "latest",
    })
    assert [l["transactionHash"] for l in only_inc] == [r1["transactionHash"], r3["transactionHash"]]
    decoded = [counter.events.Incremented().process_log(l)["args"]["value"] for l in only_inc]
    assert decoded == [1, 42]
    # OR within a topic position
    both = w3.eth.get_logs({
        "address": counter.address,
        "topics": [[topic("Incremented(address,uint256)"), topic("ValueSet(address,uint256,uint256)")]],
        "fromBlock": r1["blockNumber"],
        "toBlock": r3["blockNumber"],
    })
    assert len(both) == 3
    # second topic = indexed `by`; a different sender matches nothing
    none = w3.eth.get_logs({
        "address": counter.address,
        "topics": [None, addr_topic(Account.create().address)],
        "fromBlock": r1["blockNumber"],
        "toBlock": r3["blockNumber"],
    })
    assert none == []
    mine = w3.eth.get_logs({
        "address": counter.address,
        "topics": [None, addr_topic(user.address)],
        "fromBlock": r1["blockNumber"],
        "toBlock": r3["blockNumber"],
    })
    assert len(mine) == 3
    # a range that ends before the first event
    assert w3.eth.get_logs({"address": counter.address, "fromBlock": rcpt["blockNumber"], "toBlock": r1["blockNumber"] - 1}) == []
    # exact block via blockHash
    by_hash = w3.eth.get_logs({"address": counter.address, "blockHash": r2["blockHash"]})
    assert [l["transactionHash"] for l in by_hash] == [r2["transactionHash"]]
    # contract-level helper
    ev_logs = counter.events.Incremented().get_logs(from_block=r1["blockNumber"], to_block=r3["blockNumber"])
    assert [e["args"]["value"] for e in ev_logs] == [1, 42]


def test_events_topic_layouts(w3, user, deploy):
    ev, _ = deploy(user, "Events")
    tag = b"\x07" * 32
    r_triple = user.transact(ev.functions.emitTriple(5, tag, "hello"))
    r_single = user.transact(ev.functions.emitSingle(9, 10, b"\x01\x02\x03"))
    r_plain = user.transact(ev.functions.emitPlain(1, 2))
    r_anon = user.transact(ev.functions.emitAnon(0xABC, 3))
    r_many = user.transact(ev.functions.emitMany(100, 5))

    t = ev.events.Triple().process_receipt(r_triple)[0]["args"]
    assert (t["a"], t["who"], bytes(t["tag"]), t["note"]) == (5, user.address, tag, "hello")
    assert len(r_triple["logs"][0]["topics"]) == 4
    s = ev.events.Single().process_receipt(r_single)[0]["args"]
    assert (s["id"], s["value"], bytes(s["payload"])) == (9, 10, b"\x01\x02\x03")
    assert len(r_plain["logs"][0]["topics"]) == 1
    anon_log = r_anon["logs"][0]
    assert anon_log["topics"] == [uint_topic(0xABC)]  # anonymous: no signature topic

    many = ev.events.Single().process_receipt(r_many, errors=DISCARD)
    assert [e["args"]["id"] for e in many] == [100, 101, 102, 103, 104]
    assert [l["logIndex"] for l in r_many["logs"]] == sorted(l["logIndex"] for l in r_many["logs"])
    assert len(r_many["logs"]) == 6

    lo, hi = r_triple["blockNumber"], r_many["blockNumber"]
    q = {"address": ev.address, "fromBlock": lo, "toBlock": hi}
    assert len(w3.eth.get_logs(q)) == 1 + 1 + 1 + 1 + 6
    single_sig = topic("Single(uint256,uint256,bytes)")
    assert len(w3.eth.get_logs({**q, "topics": [single_sig]})) == 6
    assert len(w3.eth.get_logs({**q, "topics": [single_sig, [uint_topic(101), uint_topic(103), uint_topic(9)]]})) == 3
    # third position of Triple is the bytes32 tag
    assert len(w3.eth.get_logs({**q, "topics": [None, None, None, tag]})) == 1
    # anonymous event found via its only topic
    assert len(w3.eth.get_logs({**q, "topics": [uint_topic(0xABC)]})) == 1
    # more topics than the log has never matches
    assert w3.eth.get_logs({**q, "topics": [topic("Plain(uint256,uint256)"), None]}) == []
    # multiple addresses
    other = Account.create().address
    assert len(w3.eth.get_logs({**q, "address": [ev.address, other]})) == 10
    assert w3.eth.get_logs({**q, "address": other}) == []


def test_erc20_token(w3, user, fresh_account, deploy, is_rampart):
    supply = 1_000_000 * 10**18
    token, rcpt = deploy(user, "Token", supply)
    assert token.functions.name().call() == "Token"
    assert token.functions.symbol().call() == "TKN"
    assert token.functions.decimals().call() == 18
    assert token.functions.totalSupply().call() == supply
    assert token.functions.balanceOf(user.address).call() == supply
    mint = token.events.Transfer().process_receipt(rcpt)
    assert len(mint) == 1
    assert mint[0]["args"]["from"] == "0x" + "00" * 20
    assert mint[0]["args"]["to"] == user.address and mint[0]["args"]["value"] == supply

    bob = fresh_account(1)
    carol = Account.create().address

    r = user.transact(token.functions.transfer(bob.address, 1000))
    ev = token.events.Transfer().process_receipt(r)
    assert [(e["args"]["from"], e["args"]["to"], e["args"]["value"]) for e in ev] == [(user.address, bob.address, 1000)]
    assert token.functions.balanceOf(bob.address).call() == 1000
    assert token.functions.balanceOf(user.address).call() == supply - 1000

    r = user.transact(token.functions.approve(bob.address, 500))
    ap = token.events.Approval().process_receipt(r)
    assert [(e["args"]["owner"], e["args"]["spender"], e["args"]["value"]) for e in ap] == [(user.address, bob.address, 500)]
    assert token.functions.allowance(user.address, bob.address).call() == 500

    r = bob.transact(token.functions.transferFrom(user.address, carol, 200))
    ev = token.events.Transfer().process_receipt(r)
    assert [(e["args"]["from"], e["args"]["to"], e["args"]["value"]) for e in ev] == [(user.address, carol, 200)]
    assert token.functions.allowance(user.address, bob.address).call() == 300
    assert token.functions.balanceOf(carol).call() == 200
    assert token.functions.balanceOf(user.address).call() == supply - 1200
    assert token.functions.totalSupply().call() == supply

    # Transfer logs involving `user` as sender (topic 1) across the whole history of this token
    sent = w3.eth.get_logs({
        "address": token.address,
        "fromBlock": rcpt["blockNumber"],
        "toBlock": "latest",
        "topics": [topic("Transfer(address,address,uint256)"), addr_topic(user.address)],
    })
    assert len(sent) == 2
    received = w3.eth.get_logs({
        "address": token.address,
        "fromBlock": rcpt["blockNumber"],
        "toBlock": "latest",
        "topics": [topic("Transfer(address,address,uint256)"), None, addr_topic(carol)],
    })
    assert len(received) == 1

    # over-spending the allowance reverts with OZ's custom error
    with pytest.raises(ContractLogicError) as ei:
        token.functions.transferFrom(user.address, carol, 301).call({"from": bob.address})
    if is_rampart:  # geth-shaped revert (code 3, data string) -> web3 raises ContractCustomError
        assert isinstance(ei.value, ContractCustomError)
    data = revert_data(ei.value)
    assert data[:4] == keccak(text="ERC20InsufficientAllowance(address,uint256,uint256)")[:4]
    assert abi_decode(["address", "uint256", "uint256"], data[4:]) == (bob.address.lower(), 300, 301)


def test_factory_create_and_create2(w3, user, deploy, artifact):
    factory, _ = deploy(user, "Factory")
    child_abi = artifact("Child")["abi"]

    r = user.transact(factory.functions.deployCreate(7))
    d = factory.events.Deployed().process_receipt(r)[0]["args"]
    assert d["create2"] is False
    # CREATE address from the factory's nonce (1 for the first child, EIP-161)
    expected = to_checksum_address(keccak(b"\xd6\x94" + HexBytes(factory.address) + b"\x01")[12:])
    assert d["child"] == expected
    child = w3.eth.contract(address=d["child"], abi=child_abi)
    assert child.functions.value().call() == 7
    assert child.functions.factory().call() == factory.address

    salt = b"\x42" * 32
    predicted = factory.functions.predict(salt, 9).call()
    init_hash = factory.functions.childInitCodeHash(9).call()
    local = to_checksum_address(keccak(b"\xff" + HexBytes(factory.address) + salt + init_hash)[12:])
    assert predicted == local
    assert w3.eth.get_code(predicted) == b""
    r2 = user.transact(factory.functions.deployCreate2(salt, 9))
    d2 = factory.events.Deployed().process_receipt(r2)[0]["args"]
    assert d2["child"] == predicted and d2["create2"] is True
    # (Child has an immutable, so its runtime code differs from the artifact's placeholder copy)
    assert len(w3.eth.get_code(predicted)) == len(HexBytes(artifact("Child")["deployedBytecode"]))
    assert factory.functions.childrenCount().call() == 2

    # same salt + same init code again collides -> the inner CREATE2 fails and the call reverts
    r3 = user.transact(factory.functions.deployCreate2(salt, 9), {"gas": 1_000_000}, expect_status=0)
    assert r3["status"] == 0
    assert factory.functions.childrenCount().call() == 2


def test_uups_upgrade(w3, user, fresh_account, deploy, artifact, is_rampart):
    impl1, _ = deploy(user, "BoxV1")
    init_data = impl1.encode_abi("initialize", args=[42])
    proxy, prcpt = deploy(user, "ERC1967Proxy", impl1.address, init_data)
    box = w3.eth.contract(address=proxy.address, abi=artifact("BoxV1")["abi"])

    slot = w3.eth.get_storage_at(proxy.address, IMPLEMENTATION_SLOT)
    assert to_checksum_address(slot[-20:]) == impl1.address
    assert box.functions.value().call() == 42
    assert box.functions.owner().call() == user.address
    # initialize emitted through the proxy: ValueChanged(42) plus Upgraded(impl1) in the deploy receipt
    vc = box.events.ValueChanged().process_receipt(prcpt, errors=DISCARD)
    assert [e["args"]["value"] for e in vc] == [42]
    upgraded_sig = topic("Upgraded(address)")
    assert any(l["topics"][0] == upgraded_sig and l["topics"][1] == addr_topic(impl1.address) for l in prcpt["logs"])
    # the implementation itself is not initialised
    with pytest.raises(ContractLogicError) as ei:
        impl1.functions.initialize(1).call({"from": user.address})
    assert revert_data(ei.value) == HexBytes(keccak(text="InvalidInitialization()")[:4])
    if is_rampart:
        assert isinstance(ei.value, ContractCustomError)

    user.transact(box.functions.setValue(100))
    assert box.functions.value().call() == 100

    impl2, _ = deploy(user, "BoxV2")
    # a non-owner cannot upgrade
    mallory = fresh_account(1)
    with pytest.raises(ContractLogicError) as ei:
        box.functions.upgradeToAndCall(impl2.address, b"").call({"from": mallory.address})
    data = revert_data(ei.value)
    assert data[:4] == keccak(text="OwnableUnauthorizedAccount(address)")[:4]
    assert abi_decode(["address"], data[4:]) == (mallory.address.lower(),)
    if is_rampart:
        assert isinstance(ei.value, ContractCustomError)

    r = user.transact(box.functions.upgradeToAndCall(impl2.address, b""))
    assert any(l["topics"][0] == upgraded_sig and l["topics"][1] == addr_topic(impl2.address) for l in r["logs"])
    slot = w3.eth.get_storage_at(proxy.address, IMPLEMENTATION_SLOT)
    assert HexBytes(slot) == HexBytes(b"\x00" * 12 + HexBytes(impl2.address))
    raw_slot = rpc("eth_getStorageAt", [proxy.address, IMPLEMENTATION_SLOT, "latest"])["result"]
    assert raw_slot == "0x" + "00" * 12 + impl2.address[2:].lower()

    box2 = w3.eth.contract(address=proxy.address, abi=artifact("BoxV2")["abi"])
    assert box2.functions.value().call() == 100  # state kept
    assert box2.functions.version().call() == "2"
    assert box2.functions.owner().call() == user.address
    r = user.transact(box2.functions.increment())
    assert [e["args"]["value"] for e in box2.events.ValueChanged().process_receipt(r)] == [101]
    assert box2.functions.value().call() == 101
    # the old implementation slot value is still visible at an earlier block
    old = w3.eth.get_storage_at(proxy.address, IMPLEMENTATION_SLOT, prcpt["blockNumber"])
    assert to_checksum_address(old[-20:]) == impl1.address


def test_estimate_gas_and_call_overrides(w3, user, deploy):
    counter, _ = deploy(user, "Counter")
    est = counter.functions.increment().estimate_gas({"from": user.address})
    assert 21000 < est < 200_000
    r = user.transact(counter.functions.increment(), {"gas": est})
    assert r["status"] == 1 and r["gasUsed"] <= est
    # eth_call from an account with no balance, no gas price: fine
    assert counter.functions.get().call({"from": Account.create().address}) == 1
    # call at "pending" and "latest"
    assert counter.functions.get().call(block_identifier="latest") == 1
    assert counter.functions.get().call(block_identifier="pending") == 1
