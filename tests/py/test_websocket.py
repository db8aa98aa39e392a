"""eth_subscribe over WebSocket with web3.py's AsyncWeb3 + WebSocketProvider.

Each test runs its own event loop via asyncio.run (no pytest-asyncio needed); every await that
waits on the node is wrapped in asyncio.wait_for so nothing can hang.
"""

import asyncio

from eth_account import Account
from hexbytes import HexBytes
from web3 import AsyncWeb3, WebSocketProvider

from conftest import CHAIN_ID, TX_TIMEOUT, WS_URL, wait_receipt

WS_TIMEOUT = TX_TIMEOUT


async def _next_message(aw3, sub_id, timeout=WS_TIMEOUT):
    """Next subscription payload for `sub_id` (bounded)."""

    async def _recv():
        async for msg in aw3.socket.process_subscriptions():
            if msg.get("subscription") == sub_id:
                return msg["result"]
        raise AssertionError("subscription stream ended")

    return await asyncio.wait_for(_recv(), timeout)


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, WS_TIMEOUT * 3))


def test_ws_basic_requests(w3):
    async def main():
        async with AsyncWeb3(WebSocketProvider(WS_URL)) as aw3:
            assert await asyncio.wait_for(aw3.eth.chain_id, WS_TIMEOUT) == CHAIN_ID
            n = await asyncio.wait_for(aw3.eth.block_number, WS_TIMEOUT)
            assert n >= 0
            blk = await asyncio.wait_for(aw3.eth.get_block(n), WS_TIMEOUT)
            assert blk["number"] == n

    _run(main())


def test_ws_new_heads(w3, fresh_account):
    alice = fresh_account(1)

    async def main():
        async with AsyncWeb3(WebSocketProvider(WS_URL)) as aw3:
            sub_id = await asyncio.wait_for(aw3.eth.subscribe("newHeads"), WS_TIMEOUT)
            assert isinstance(sub_id, str) and sub_id.startswith("0x")
            start = await asyncio.wait_for(aw3.eth.block_number, WS_TIMEOUT)

            tx_hash = await asyncio.to_thread(alice.send, {"to": Account.create().address, "value": 1, "gas": 21000})
            rcpt = await asyncio.to_thread(wait_receipt, w3, tx_hash)

            # Heads arrive in order; keep reading until the tx's block (or a later one) shows up.
            seen = []
            while True:
                head = await _next_message(aw3, sub_id)
                for key in ("number", "hash", "parentHash", "stateRoot", "timestamp", "gasLimit", "miner"):
                    assert key in head, head
                assert len(HexBytes(head["hash"])) == 32
                seen.append(head["number"])
                if head["number"] >= rcpt["blockNumber"]:
                    break
            assert seen[-1] > start or seen[-1] == rcpt["blockNumber"]
            assert seen == sorted(seen)
            if head["number"] == rcpt["blockNumber"]:
                assert HexBytes(head["hash"]) == rcpt["blockHash"]
            # the announced head is retrievable by hash
            blk = await asyncio.wait_for(aw3.eth.get_block(head["hash"]), WS_TIMEOUT)
            assert blk["number"] == head["number"]

            assert await asyncio.wait_for(aw3.eth.unsubscribe(sub_id), WS_TIMEOUT) is True

    _run(main())


def test_ws_logs_filtered_by_address(w3, fresh_account, deploy):
    alice = fresh_account(2)
    mine, _ = deploy(alice, "Counter")
    other, _ = deploy(alice, "Counter")

    async def main():
        async with AsyncWeb3(WebSocketProvider(WS_URL)) as aw3:
            sub_id = await asyncio.wait_for(
                aw3.eth.subscribe("logs", {"address": mine.address}), WS_TIMEOUT
            )
            # A log from another contract first: must not be delivered.
            await asyncio.to_thread(alice.transact, other.functions.increment())
            rcpt = await asyncio.to_thread(alice.transact, mine.functions.set(77))

            log = await _next_message(aw3, sub_id)
            assert log["address"] == mine.address
            assert HexBytes(log["transactionHash"]) == rcpt["transactionHash"]
            assert log["blockNumber"] == rcpt["blockNumber"]
            assert HexBytes(log["blockHash"]) == rcpt["blockHash"]
            assert log.get("removed", False) is False
            ev = mine.events.ValueSet().process_log(log)
            assert ev["args"]["newValue"] == 77
            assert ev["args"]["by"] == alice.address

            # Topic-filtered subscription: only Incremented from `mine`
            inc_topic = HexBytes(w3.keccak(text="Incremented(address,uint256)"))
            sub2 = await asyncio.wait_for(
                aw3.eth.subscribe("logs", {"address": mine.address, "topics": [inc_topic]}), WS_TIMEOUT
            )
            await asyncio.to_thread(alice.transact, mine.functions.set(1))
            r_inc = await asyncio.to_thread(alice.transact, mine.functions.increment())
            # sub_id sees both, sub2 only the increment
            got2 = await _next_message(aw3, sub2)
            assert HexBytes(got2["transactionHash"]) == r_inc["transactionHash"]
            assert HexBytes(got2["topics"][0]) == inc_topic

            assert await asyncio.wait_for(aw3.eth.unsubscribe(sub_id), WS_TIMEOUT) is True
            assert await asyncio.wait_for(aw3.eth.unsubscribe(sub2), WS_TIMEOUT) is True

    _run(main())
