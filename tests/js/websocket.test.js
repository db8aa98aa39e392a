// 10. WebSocket: eth_subscribe newHeads / logs, eth_unsubscribe, ethers.WebSocketProvider events.
//     Same port as HTTP (RAMPART_WS_URL). Account 8.
"use strict";

const { describe, it, before, after } = require("node:test");
const h = require("./helpers");
const { ethers, assert } = h;

describe("WebSocket subscriptions", () => {
  let provider, ws, signer;
  const notifications = []; // raw eth_subscription messages seen on the socket

  before(async () => {
    provider = h.makeProvider();
    signer = h.wallet(8, provider);
    ws = h.makeWsProvider();
    // also observe the raw frames, next to ethers' own handler
    ws.websocket.addEventListener("message", (m) => {
      const msg = JSON.parse(typeof m.data === "string" ? m.data : m.data.toString());
      if (msg.method === "eth_subscription") notifications.push(msg.params);
    });
  });
  after(async () => {
    await ws.destroy();
    provider.destroy();
  });

  /** Waits until a notification for `id` matches `pred`. */
  const waitNotification = (id, pred, what) =>
    h.waitFor(() => notifications.find((n) => n.subscription === id && pred(n.result)), { what });

  it("plain requests work over the socket", async () => {
    assert.equal(await ws.send("eth_chainId", []), "0x7a69");
    const bn = await ws.getBlockNumber();
    assert.ok(bn >= 0);
  });

  it("eth_subscribe newHeads: a head arrives for the block of a new tx; eth_unsubscribe -> true", async () => {
    const id = await ws.send("eth_subscribe", ["newHeads"]);
    assert.ok(typeof id === "string" && id.startsWith("0x"), `subscription id ${id}`);
    const r = await h.mined(signer.sendTransaction({ to: ethers.Wallet.createRandom().address, value: 1n }));
    const n = await waitNotification(id, (head) => BigInt(head.number) >= BigInt(r.blockNumber), "newHeads notification");
    const head = n.result;
    for (const k of ["number", "timestamp", "gasLimit", "gasUsed", "baseFeePerGas"]) assert.ok(h.isQuantity(head[k]), `${k}=${head[k]}`);
    for (const k of ["hash", "parentHash", "stateRoot", "transactionsRoot", "receiptsRoot"]) assert.ok(h.isData(head[k], 32), `${k}=${head[k]}`);
    const viaHttp = await h.rpc("eth_getBlockByNumber", [head.number, false]);
    assert.equal(head.hash, viaHttp.hash, "head hash matches eth_getBlockByNumber");
    assert.equal(head.parentHash, viaHttp.parentHash);
    // the exact block of our tx was announced
    const ours = await waitNotification(id, (hd) => BigInt(hd.number) === BigInt(r.blockNumber), "head of the tx block");
    assert.equal(ours.result.hash, r.blockHash);

    assert.equal(await ws.send("eth_unsubscribe", [id]), true);
    const count = notifications.filter((x) => x.subscription === id).length;
    await h.mined(signer.sendTransaction({ to: ethers.Wallet.createRandom().address, value: 1n }));
    await h.sleep(500);
    assert.equal(notifications.filter((x) => x.subscription === id).length, count, "no heads after unsubscribe");
  });

  it("eth_subscribe logs filtered by address only delivers that contract's logs", async () => {
    const a = await h.deploy("Counter", signer);
    const b = await h.deploy("Counter", signer);
    const id = await ws.send("eth_subscribe", ["logs", { address: a.address }]);
    const nonce = await provider.getTransactionCount(signer.address, "pending");
    const f = await h.fees(provider);
    const txB = await b.contract.increment({ nonce, gasLimit: 100_000n, ...f });
    const txA = await a.contract.increment({ nonce: nonce + 1, gasLimit: 100_000n, ...f });
    const [, rA] = await Promise.all([h.mined(txB), h.mined(txA)]);
    const n = await waitNotification(id, (log) => log.transactionHash === rA.hash, "log notification");
    const log = n.result;
    assert.equal(log.address.toLowerCase(), a.address.toLowerCase());
    assert.equal(log.blockHash, rA.blockHash);
    assert.equal(BigInt(log.blockNumber), BigInt(rA.blockNumber));
    assert.equal(log.topics[0], a.contract.interface.getEvent("Incremented").topicHash);
    assert.equal(BigInt(log.data), 1n);
    assert.equal(log.removed, false);
    await h.sleep(300);
    for (const x of notifications.filter((x) => x.subscription === id)) {
      assert.equal(x.result.address.toLowerCase(), a.address.toLowerCase(), "log of another contract delivered");
    }
    assert.equal(await ws.send("eth_unsubscribe", [id]), true);
  });

  it("ethers WebSocketProvider: block events and contract event listeners", async () => {
    const { contract, address } = await h.deploy("Counter", signer);
    const wsCounter = h.at("Counter", address, ws);

    const gotEvent = new Promise((resolve) => {
      wsCounter.on("Incremented", (by, value, event) => resolve({ by, value, event }));
    });
    const gotBlock = new Promise((resolve) => ws.once("block", (bn) => resolve(bn)));
    await h.sleep(300); // let ethers install its eth_subscribe calls
    const r = await h.mined(contract.increment());
    const ev = await withTimeout(gotEvent, "Incremented via ws");
    assert.equal(ev.by, signer.address);
    assert.equal(ev.value, 1n);
    assert.equal(ev.event.log.transactionHash, r.hash);
    const bn = await withTimeout(gotBlock, "block via ws");
    assert.ok(typeof bn === "number" && bn > 0);
    await wsCounter.removeAllListeners();
    await ws.removeAllListeners();
    await h.sleep(500); // let ethers finish its eth_unsubscribe calls before the provider is destroyed
  });
});

function withTimeout(p, what, ms = h.TX_TIMEOUT_MS) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, rej) => (t = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms))),
  ]);
}
