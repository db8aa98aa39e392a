"""web3.py against a local 3-node Raft cluster (Rampart only; needs RAMPART_BIN, which
scripts/with-node.sh and scripts/test.sh export). Starts its own cluster with
`rampart up --nodes 3 --ephemeral`: a transfer sent through node 2 is read on node 3 with the
same receipt on every node; a contract deployed through node 1 is called through node 3 and
read through node 2."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time

import pytest
from web3 import Web3

from conftest import ETHER, Sender, derive, encode_call, load_artifact, rpc, wait_for, wait_receipt

BIN = os.environ.get("RAMPART_BIN")


def _free_range(n: int) -> int:
    for _ in range(200):
        base = random.randint(20_000, 60_000)
        ok = True
        for p in range(base, base + n):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                s.close()
            if not ok:
                break
        if ok:
            return base
    raise RuntimeError("no free port range")


@pytest.fixture(scope="module")
def cluster():
    if not BIN:
        pytest.fail("RAMPART_BIN must point at the rampart binary (scripts/with-node.sh sets it)")
    rpc_port, peer_port = _free_range(3), _free_range(3)
    proc = subprocess.Popen(
        [BIN, "up", "--nodes", "3", "--ephemeral", "--rpc-port", str(rpc_port), "--peer-port", str(peer_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    urls = [f"http://127.0.0.1:{rpc_port + i}" for i in range(3)]

    def agreed_leader():
        try:
            leaders = {rpc("rampart_status", [], url=u)["result"]["leader"] for u in urls}
        except Exception:
            return None
        return leaders.pop() if len(leaders) == 1 and None not in leaders else None

    try:
        wait_for(agreed_leader, timeout=90, what="an agreed leader")
        yield [Web3(Web3.HTTPProvider(u, request_kwargs={"timeout": 30})) for u in urls]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert proc.returncode == 0, (proc.stdout.read() if proc.stdout else b"")[-2000:]


def test_transfer_through_one_node_is_seen_on_every_node(cluster):
    w1, w2, w3n = cluster
    sender = Sender(w2, derive(12))
    to = Web3.to_checksum_address(os.urandom(20))
    rcpt = sender.send_and_wait({"to": to, "value": ETHER // 100, "gas": 21_000})
    assert rcpt["status"] == 1
    wait_for(lambda: w3n.eth.get_balance(to) == ETHER // 100, what="balance on node 3")
    for w in cluster:
        r = wait_receipt(w, rcpt["transactionHash"])
        assert r["blockHash"] == rcpt["blockHash"]
        assert r["transactionIndex"] == rcpt["transactionIndex"]
    assert w1.eth.get_block(rcpt["blockNumber"])["hash"] == w3n.eth.get_block(rcpt["blockNumber"])["hash"]


def test_contract_deployed_on_one_node_is_called_through_another(cluster):
    w1, w2, w3n = cluster
    art = load_artifact("Counter")
    deployer = Sender(w1, derive(13))
    factory = w1.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    rcpt = deployer.send_and_wait({"data": encode_call(factory.constructor()), "gas": 500_000})
    address = rcpt["contractAddress"]
    wait_for(lambda: w3n.eth.get_code(address) != b"", what="code on node 3")
    caller = Sender(w3n, derive(14))
    counter3 = w3n.eth.contract(address=address, abi=art["abi"])
    caller.transact(counter3.functions.increment())
    counter2 = w2.eth.contract(address=address, abi=art["abi"])
    wait_for(lambda: counter2.functions.get().call() == 1, what="the increment on node 2")
    # Same state commitment for the latest common block on every node.
    n = min(w.eth.block_number for w in cluster)
    roots = {w.eth.get_block(n)["stateRoot"] for w in cluster}
    assert len(roots) == 1, roots
