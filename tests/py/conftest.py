"""Shared fixtures for the Rampart web3.py end-to-end suite.

The suite runs against a live node (RAMPART_RPC_URL / RAMPART_WS_URL). An ethers
suite may run against the same node at the same time using accounts 0..9, so this
suite only ever signs with accounts 10..19 of the standard test mnemonic and with
fresh random accounts funded from them. Nonces are tracked locally per sender.
"""

from __future__ import annotations

import json
import os
import pathlib
import threading
import time
from typing import Any, Callable

import pytest
import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract

RPC_URL = os.environ.get("RAMPART_RPC_URL", "http://127.0.0.1:8545")
WS_URL = os.environ.get("RAMPART_WS_URL", "ws://127.0.0.1:8545")
CHAIN_ID = 31337
MNEMONIC = "test test test test test test test test test test test junk"
# Seconds to wait for a transaction to be mined (bounded so nothing hangs forever).
TX_TIMEOUT = float(os.environ.get("RAMPART_TX_TIMEOUT", "60"))
HTTP_TIMEOUT = float(os.environ.get("RAMPART_HTTP_TIMEOUT", "30"))

ARTIFACTS_DIR = pathlib.Path(
    os.environ.get(
        "RAMPART_ARTIFACTS_DIR",
        str(pathlib.Path(__file__).resolve().parent.parent / "contracts" / "artifacts"),
    )
)

Account.enable_unaudited_hdwallet_features()

GWEI = 10**9
ETHER = 10**18


def derive(i: int) -> LocalAccount:
    return Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")


# --------------------------------------------------------------------------- raw RPC


def rpc_raw(payload: Any, url: str = RPC_URL) -> requests.Response:
    """POST an arbitrary JSON payload (or a raw str/bytes body) and return the response."""
    if isinstance(payload, (str, bytes)):
        return requests.post(
            url, data=payload, headers={"Content-Type": "application/json"}, timeout=HTTP_TIMEOUT
        )
    return requests.post(url, json=payload, timeout=HTTP_TIMEOUT)


_rpc_id = 0


def rpc(method: str, params: list | None = None, url: str = RPC_URL) -> dict:
    """Single JSON-RPC request; returns the whole decoded response object."""
    global _rpc_id
    _rpc_id += 1
    resp = rpc_raw({"jsonrpc": "2.0", "id": _rpc_id, "method": method, "params": params or []}, url)
    body = resp.json()
    assert body.get("jsonrpc") == "2.0", body
    assert body.get("id") == _rpc_id, body
    return body


def assert_node_alive(w3: Web3) -> None:
    """The node must keep serving after every bad request."""
    body = rpc("eth_blockNumber")
    assert "result" in body, body
    assert w3.eth.chain_id == CHAIN_ID


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def w3() -> Web3:
    w3 = Web3(Web3.HTTPProvider(RPC_URL, request_kwargs={"timeout": HTTP_TIMEOUT}))
    try:
        connected = w3.is_connected()
    except Exception as exc:  # pragma: no cover - environment problem
        pytest.exit(f"cannot reach node at {RPC_URL}: {exc}", returncode=3)
    if not connected:
        pytest.exit(f"cannot reach node at {RPC_URL}", returncode=3)
    return w3


@pytest.fixture(scope="session")
def client_version(w3: Web3) -> str:
    return w3.client_version


@pytest.fixture(scope="session")
def is_rampart(client_version: str) -> bool:  # noqa: D401
    """True when talking to the real Rampart node.

    Assertions on exact error codes/messages follow geth's shapes, which Rampart
    targets; other dev nodes (Hardhat) differ, so those assertions are gated on this.
    """
    return client_version.lower().startswith("rampart")


_client_versions: dict[int, str] = {}


def node_is_rampart(w3: Web3) -> bool:
    key = id(w3)
    if key not in _client_versions:
        _client_versions[key] = w3.client_version
    return _client_versions[key].lower().startswith("rampart")


def revert_data(exc: Exception) -> HexBytes:
    """Revert bytes carried by a web3 ContractLogicError (geth: str; Hardhat: dict['data'])."""
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    # None, or web3's MISSING_DATA placeholder "no data" (geth answers an empty revert with
    # -32000 "execution reverted" and no data field)
    if not isinstance(data, (str, bytes)) or (isinstance(data, str) and not data.startswith("0x")):
        return HexBytes(b"")
    return HexBytes(data)


class Sender:
    """A signing account with a locally managed nonce."""

    def __init__(self, w3: Web3, account: LocalAccount):
        self.w3 = w3
        self.account = account
        self.address = account.address
        self._lock = threading.Lock()
        self._nonce: int | None = None

    def resync(self) -> None:
        with self._lock:
            self._nonce = self.w3.eth.get_transaction_count(self.address, "pending")

    def take_nonce(self) -> int:
        with self._lock:
            if self._nonce is None:
                self._nonce = self.w3.eth.get_transaction_count(self.address, "pending")
            n = self._nonce
            self._nonce += 1
            return n

    def peek_nonce(self) -> int:
        with self._lock:
            if self._nonce is None:
                self._nonce = self.w3.eth.get_transaction_count(self.address, "pending")
            return self._nonce

    def fill(self, tx: dict) -> dict:
        """Fill chainId/nonce/fees/gas; defaults to an EIP-1559 transaction."""
        tx = dict(tx)
        tx.setdefault("chainId", CHAIN_ID)
        tx.setdefault("from", self.address)
        tx.setdefault("value", 0)
        if "gasPrice" not in tx and tx.get("type") not in (0, 1, "0x0", "0x1"):
            tx.setdefault("type", 2)
            if "maxFeePerGas" not in tx or "maxPriorityFeePerGas" not in tx:
                tip, max_fee = eip1559_fees(self.w3)
                tx.setdefault("maxPriorityFeePerGas", tip)
                tx.setdefault("maxFeePerGas", max_fee)
        elif "gasPrice" not in tx:
            tx["gasPrice"] = legacy_gas_price(self.w3)
        if "gas" not in tx:
            est = {k: v for k, v in tx.items() if k not in ("nonce", "chainId", "type")}
            tx["gas"] = int(self.w3.eth.estimate_gas(est) * 1.2) + 1000
        if "nonce" not in tx:
            tx["nonce"] = self.take_nonce()
        tx.pop("from", None)
        return tx

    def sign(self, tx: dict):
        return self.account.sign_transaction(tx)

    def send(self, tx: dict) -> bytes:
        """Fill, sign and send; returns the tx hash. Resyncs the nonce on rejection."""
        filled = self.fill(tx)
        signed = self.sign(filled)
        try:
            return self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception:
            # Hardhat (automine) answers eth_sendRawTransaction of a transaction that reverts
            # with an error even though it mined it. geth/Rampart return the hash; there an
            # error always means "rejected", so this fallback is only for other nodes.
            if not node_is_rampart(self.w3):
                try:
                    if self.w3.eth.get_transaction(signed.hash):
                        return signed.hash
                except Exception:
                    pass
            self.resync()
            raise

    def send_and_wait(self, tx: dict, expect_status: int | None = 1):
        h = self.send(tx)
        rcpt = wait_receipt(self.w3, h)
        if expect_status is not None:
            assert rcpt["status"] == expect_status, rcpt
        return rcpt

    def transact(self, fn, tx: dict | None = None, expect_status: int | None = 1):
        """Send a contract function call (web3 ContractFunction)."""
        tx = dict(tx or {})
        tx.setdefault("from", self.address)
        if "gas" not in tx:
            tx["gas"] = int(fn.estimate_gas({"from": self.address, **{k: v for k, v in tx.items() if k == "value"}}) * 1.2) + 10_000
        tx["to"] = fn.address
        tx["data"] = encode_call(fn)
        return self.send_and_wait(tx, expect_status=expect_status)


def encode_call(fn) -> str:
    """Calldata (or init code) of a ContractFunction/ContractConstructor via the public API."""
    # gas/gasPrice/nonce given so build_transaction makes no RPC calls
    return fn.build_transaction({"gas": 1, "gasPrice": 1, "nonce": 0, "chainId": CHAIN_ID})["data"]


def eip1559_fees(w3: Web3) -> tuple[int, int]:
    base = w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0
    try:
        tip = w3.eth.max_priority_fee
    except Exception:
        tip = 1 * GWEI
    tip = max(int(tip), 1)
    return tip, 2 * base + tip


def legacy_gas_price(w3: Web3) -> int:
    base = w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0
    return max(int(w3.eth.gas_price), 2 * base + 1)


def wait_receipt(w3: Web3, tx_hash, timeout: float = TX_TIMEOUT):
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.1)


def wait_for(pred: Callable[[], Any], timeout: float = TX_TIMEOUT, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def senders(w3: Web3) -> list[Sender]:
    """Accounts 10..18 of the test mnemonic (0..9 belong to the ethers suite).

    Account 19 is deliberately never used: test_prefunded_accounts checks it still holds
    exactly its genesis allocation.
    """
    return [Sender(w3, derive(i)) for i in range(10, 19)]


@pytest.fixture(scope="session")
def funder(senders: list[Sender]) -> Sender:
    return senders[0]


@pytest.fixture(scope="session")
def deployer(senders: list[Sender]) -> Sender:
    return senders[1]


@pytest.fixture
def fresh_account(w3: Web3, funder: Sender) -> Callable[..., Sender]:
    """Factory: a new random account funded from account 10 (default 1 ETH)."""

    def make(eth: float | int = 1, wei: int | None = None) -> Sender:
        acct = Account.create()
        amount = wei if wei is not None else int(eth * ETHER)
        if amount:
            funder.send_and_wait({"to": acct.address, "value": amount, "gas": 21000})
        return Sender(w3, acct)

    return make


# --------------------------------------------------------------------------- contracts


def load_artifact(name: str) -> dict:
    path = ARTIFACTS_DIR / f"{name}.json"
    if not path.exists():
        pytest.fail(f"contract artifact missing: {path} (run `npm run compile` in tests/)")
    with open(path) as f:
        art = json.load(f)
    bytecode = art["bytecode"]
    if isinstance(bytecode, dict):  # tolerate {object: ...}
        bytecode = bytecode.get("object")
    if not bytecode.startswith("0x"):
        bytecode = "0x" + bytecode
    art["bytecode"] = bytecode
    return art


@pytest.fixture(scope="session")
def artifact() -> Callable[[str], dict]:
    return load_artifact


@pytest.fixture(scope="session")
def deploy(w3: Web3) -> Callable[..., tuple[Contract, dict]]:
    """deploy(sender, name, *ctor_args) -> (contract, receipt)."""

    def _deploy(sender: Sender, name: str, *args, value: int = 0):
        art = load_artifact(name)
        factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
        data = encode_call(factory.constructor(*args))
        gas = w3.eth.estimate_gas({"from": sender.address, "data": data, "value": value})
        rcpt = sender.send_and_wait({"data": data, "value": value, "gas": int(gas * 1.2) + 50_000})
        addr = rcpt["contractAddress"]
        assert addr, rcpt
        assert w3.eth.get_code(addr) != b"", f"{name} has no code at {addr}"
        return w3.eth.contract(address=addr, abi=art["abi"]), rcpt

    return _deploy
