"""Reverts via eth_call / eth_estimateGas / mined transactions.

geth answers a revert with a JSON-RPC error {code: 3, message: "execution reverted[: reason]",
data: "0x<revert bytes>"}, which web3.py turns into ContractLogicError / ContractCustomError /
ContractPanicError. Hardhat instead answers code -32603 with data {message, data}, for which
web3.py always raises plain ContractLogicError. Assertions on the exact exception subclass,
error code and message are therefore gated on `is_rampart` (client version starts with
"rampart"); the revert bytes themselves are checked on every node.
"""

import pytest
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_utils import keccak
from hexbytes import HexBytes
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError

from conftest import assert_node_alive, encode_call, revert_data, rpc

ERROR_SELECTOR = HexBytes("0x08c379a0")  # Error(string)
PANIC_SELECTOR = HexBytes("0x4e487b71")  # Panic(uint256)
UNAUTHORIZED_SELECTOR = HexBytes(keccak(text="Unauthorized(address,uint256)")[:4])


@pytest.fixture(scope="module")
def reverter(w3, senders, deploy):
    contract, _ = deploy(senders[2], "Reverter")
    return contract


@pytest.fixture
def caller(fresh_account):
    return fresh_account(1)


@pytest.fixture(autouse=True)
def _node_keeps_serving(w3):
    yield
    assert_node_alive(w3)


def _error_string(data: HexBytes) -> str:
    assert data[:4] == ERROR_SELECTOR, data.hex()
    return abi_decode(["string"], data[4:])[0]


def _panic_code(data: HexBytes) -> int:
    assert data[:4] == PANIC_SELECTOR, data.hex()
    return abi_decode(["uint256"], data[4:])[0]


def test_unauthorized_selector_value():
    # keccak256("Unauthorized(address,uint256)")[:4], cross-checked against a known constant
    assert UNAUTHORIZED_SELECTOR == HexBytes("0xda472023")


def test_require_message(reverter, caller, is_rampart):
    for fn in (reverter.functions.failRequire(), reverter.functions.viewRevert()):
        with pytest.raises(ContractLogicError) as ei:
            fn.call({"from": caller.address})
        reason = "Reverter: require failed" if fn.fn_name == "failRequire" else "Reverter: view reverted"
        assert reason in ei.value.message
        assert _error_string(revert_data(ei.value)) == reason
        if is_rampart:
            assert type(ei.value) is ContractLogicError
            assert ei.value.message == f"execution reverted: {reason}"
    # estimate_gas surfaces the same revert
    with pytest.raises(ContractLogicError) as ei:
        reverter.functions.failRequire().estimate_gas({"from": caller.address})
    assert "Reverter: require failed" in ei.value.message


def test_custom_error(reverter, caller, is_rampart):
    for fn in (reverter.functions.failCustom(1234), reverter.functions.viewCustom(1234)):
        with pytest.raises(ContractLogicError) as ei:
            fn.call({"from": caller.address})
        if is_rampart:
            assert isinstance(ei.value, ContractCustomError)
            assert HexBytes(ei.value.data) == HexBytes(ei.value.message)
        data = revert_data(ei.value)
        assert data[:4] == UNAUTHORIZED_SELECTOR
        who, code = abi_decode(["address", "uint256"], data[4:])
        assert who == caller.address.lower()
        assert code == 1234
        assert len(data) == 4 + 64


@pytest.mark.parametrize(
    "fn_name,args,code",
    [("failAssert", [], 0x01), ("failDivide", [0], 0x12), ("failIndex", [5], 0x32)],
)
def test_panics(reverter, caller, is_rampart, fn_name, args, code):
    fn = getattr(reverter.functions, fn_name)(*args)
    with pytest.raises(ContractLogicError) as ei:
        fn.call({"from": caller.address})
    if is_rampart:
        assert isinstance(ei.value, ContractPanicError)
        assert f"0x{code:02x}" in ei.value.message
    assert _panic_code(revert_data(ei.value)) == code


def test_empty_revert(reverter, caller, is_rampart):
    with pytest.raises(ContractLogicError) as ei:
        reverter.functions.failEmpty().call({"from": caller.address})
    assert revert_data(ei.value) == HexBytes(b"")
    if is_rampart:
        assert ei.value.message == "execution reverted"


def test_raw_eth_call_revert_shape(reverter, caller, is_rampart):
    data = encode_call(reverter.functions.viewRevert())
    body = rpc("eth_call", [{"from": caller.address, "to": reverter.address, "data": data}, "latest"])
    assert "error" in body and "result" not in body, body
    err = body["error"]
    if is_rampart:  # geth: {"code":3,"message":"execution reverted: <reason>","data":"0x08c379a0..."}
        assert err["code"] == 3
        assert err["message"].startswith("execution reverted")
        assert err["message"] == "execution reverted: Reverter: view reverted"
        assert isinstance(err["data"], str)
        raw = HexBytes(err["data"])
    else:  # Hardhat: code -32603, data: {message, data}
        raw = HexBytes(err["data"]["data"] if isinstance(err.get("data"), dict) else err["data"])
    assert _error_string(raw) == "Reverter: view reverted"

    # custom error: data carries the selector + args
    data = encode_call(reverter.functions.viewCustom(7))
    body = rpc("eth_call", [{"from": caller.address, "to": reverter.address, "data": data}, "latest"])
    err = body["error"]
    if is_rampart:
        assert err["code"] == 3
        assert err["message"].startswith("execution reverted")
        raw = HexBytes(err["data"])
    else:
        raw = HexBytes(err["data"]["data"] if isinstance(err.get("data"), dict) else err["data"])
    assert raw[:4] == UNAUTHORIZED_SELECTOR
    assert abi_decode(["address", "uint256"], raw[4:]) == (caller.address.lower(), 7)

    # eth_estimateGas answers a revert the same way in geth
    data = encode_call(reverter.functions.failRequire())
    body = rpc("eth_estimateGas", [{"from": caller.address, "to": reverter.address, "data": data}])
    err = body["error"]
    if is_rampart:
        assert err["code"] == 3
        assert err["message"] == "execution reverted: Reverter: require failed"
        assert _error_string(HexBytes(err["data"])) == "Reverter: require failed"


def test_infinite_loop_call_is_bounded(reverter, caller, is_rampart):
    data = encode_call(reverter.functions.loopForever())
    body = rpc("eth_call", [{"from": caller.address, "to": reverter.address, "data": data, "gas": hex(2_000_000)}, "latest"])
    assert "error" in body, body
    if is_rampart:  # geth: -32000 "out of gas"
        assert "out of gas" in body["error"]["message"]
    body = rpc("eth_estimateGas", [{"from": caller.address, "to": reverter.address, "data": data}])
    assert "error" in body, body
    if is_rampart:  # geth: "gas required exceeds allowance (...)"
        assert "gas" in body["error"]["message"]


def test_reverted_tx_with_explicit_gas_is_mined(w3, reverter, caller):
    before = reverter.functions.touched().call()
    bal0 = w3.eth.get_balance(caller.address)
    r = caller.transact(reverter.functions.failRequire(), {"gas": 200_000}, expect_status=0)
    assert r["status"] == 0
    assert r["logs"] == []
    assert 21000 < r["gasUsed"] < 200_000
    assert reverter.functions.touched().call() == before  # state rolled back
    assert w3.eth.get_balance(caller.address) == bal0 - r["gasUsed"] * r["effectiveGasPrice"]
    assert w3.eth.get_transaction_count(caller.address) == 1  # nonce consumed
    assert w3.eth.get_transaction(r["transactionHash"])["blockNumber"] == r["blockNumber"]

    r2 = caller.transact(reverter.functions.failCustom(9), {"gas": 200_000}, expect_status=0)
    assert r2["status"] == 0
    r3 = caller.transact(reverter.functions.failDivide(0), {"gas": 200_000}, expect_status=0)
    assert r3["status"] == 0
    assert w3.eth.get_transaction_count(caller.address) == 3

    # out-of-gas loop: all gas consumed
    r4 = caller.transact(reverter.functions.loopForever(), {"gas": 300_000}, expect_status=0)
    assert r4["status"] == 0
    assert r4["gasUsed"] == 300_000

    # the node still executes good transactions afterwards
    r5 = caller.transact(reverter.functions.ok())
    assert r5["status"] == 1
    assert reverter.functions.touched().call() == before + 1
    assert [e["args"]["n"] for e in reverter.events.Touched().process_receipt(r5)] == [before + 1]


def test_call_to_non_contract_and_missing_function(w3, reverter, caller):
    # calling an EOA returns empty data
    body = rpc("eth_call", [{"to": Account.create().address, "data": "0x12345678"}, "latest"])
    assert body.get("result") == "0x", body
    # unknown selector on a contract without fallback reverts with empty data
    body = rpc("eth_call", [{"to": reverter.address, "data": "0xdeadbeef"}, "latest"])
    assert "error" in body, body
