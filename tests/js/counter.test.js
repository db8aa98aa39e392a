// 4. Counter: deploy, call/send, events from receipts, eth_getLogs, eth_getCode, eth_getStorageAt;
//    plus eth_getLogs topic-filter semantics with Events.sol. Account 3 (both suites, sequentially).
"use strict";

const { describe, it, before, after } = require("node:test");
const h = require("./helpers");
const { ethers, assert } = h;

describe("Counter contract", () => {
  let provider, signer, counter, address, deployReceipt;
  const receipts = [];

  before(async () => {
    provider = h.makeProvider();
    signer = h.wallet(3, provider);
  });
  after(() => provider.destroy());

  it("deploys; contractAddress = CREATE address; code = runtime bytecode", async () => {
    const nonce = await provider.getTransactionCount(signer.address, "pending");
    ({ contract: counter, address, receipt: deployReceipt } = await h.deploy("Counter", signer));
    assert.equal(address, ethers.getCreateAddress({ from: signer.address, nonce }));
    const raw = await h.rpc("eth_getTransactionReceipt", [deployReceipt.hash]);
    assert.equal(raw.contractAddress.toLowerCase(), address.toLowerCase());
    assert.equal(raw.to, null);
    const tx = await h.rpc("eth_getTransactionByHash", [deployReceipt.hash]);
    assert.equal(tx.to, null);
    assert.equal(tx.input, h.artifact("Counter").bytecode);
    const code = await h.rpc("eth_getCode", [address, "latest"]);
    assert.equal(code, h.artifact("Counter").deployedBytecode);
    assert.equal(await h.rpc("eth_getCode", [address, ethers.toQuantity(deployReceipt.blockNumber - 1)]), "0x");
  });

  it("call / send / events", async () => {
    assert.equal(await counter.get(), 0n);
    assert.equal(await counter.count(), 0n);
    // staticCall returns the value the tx would return
    assert.equal(await counter.increment.staticCall(), 1n);

    const r1 = await h.mined(counter.increment());
    receipts.push(r1);
    assert.equal(r1.status, 1);
    assert.equal(r1.logs.length, 1);
    const ev = counter.interface.parseLog(r1.logs[0]);
    assert.equal(ev.name, "Incremented");
    assert.equal(ev.args.by, signer.address);
    assert.equal(ev.args.value, 1n);
    assert.equal(r1.logs[0].address, address);
    assert.equal(r1.logs[0].topics[0], counter.interface.getEvent("Incremented").topicHash);
    assert.equal(r1.logs[0].topics[1], ethers.zeroPadValue(signer.address, 32).toLowerCase());
    assert.equal(await counter.get(), 1n);

    const r2 = await h.mined(counter.increment());
    receipts.push(r2);
    const r3 = await h.mined(counter.set(42n));
    receipts.push(r3);
    const ev3 = counter.interface.parseLog(r3.logs[0]);
    assert.equal(ev3.name, "ValueSet");
    assert.deepEqual([...ev3.args], [signer.address, 2n, 42n]);
    assert.equal(await counter.get(), 42n);

    // eth_call at an older block sees the older state
    assert.equal(await counter.get({ blockTag: r1.blockNumber }), 1n);
    // logsBloom of the receipt contains the contract address
    assert.notEqual(r1.logsBloom, ethers.zeroPadValue("0x", 256));
  });

  it("eth_getStorageAt slot 0 equals the counter", async () => {
    const slot0 = await h.rpc("eth_getStorageAt", [address, "0x0", "latest"]);
    assert.equal(slot0, ethers.zeroPadValue(ethers.toBeHex(42n), 32));
    assert.equal(BigInt(slot0), await counter.get());
    const unused = await h.rpc("eth_getStorageAt", [address, ethers.toQuantity(7), "latest"]);
    assert.equal(BigInt(unused), 0n);
    // historical
    const old = await h.rpc("eth_getStorageAt", [address, "0x0", ethers.toQuantity(receipts[0].blockNumber)]);
    assert.equal(BigInt(old), 1n);
  });

  it("eth_getLogs by address, topic, block range and block hash", async () => {
    const from = ethers.toQuantity(deployReceipt.blockNumber);
    const incTopic = counter.interface.getEvent("Incremented").topicHash;
    const setTopic = counter.interface.getEvent("ValueSet").topicHash;

    const byAddr = await h.rpc("eth_getLogs", [{ address, fromBlock: from, toBlock: "latest" }]);
    assert.equal(byAddr.length, 3);
    assert.deepEqual(byAddr.map((l) => l.topics[0]), [incTopic, incTopic, setTopic]);
    for (const l of byAddr) {
      assert.equal(l.address.toLowerCase(), address.toLowerCase());
      assert.equal(l.removed, false);
      assert.ok(h.isQuantity(l.logIndex) && h.isQuantity(l.blockNumber) && h.isQuantity(l.transactionIndex));
      assert.ok(h.isData(l.blockHash, 32) && h.isData(l.transactionHash, 32) && h.isData(l.data));
    }
    assert.deepEqual(byAddr.map((l) => l.transactionHash), receipts.map((r) => r.hash));

    const byTopic = await h.rpc("eth_getLogs", [{ fromBlock: from, toBlock: "latest", topics: [incTopic, ethers.zeroPadValue(signer.address, 32)] }]);
    assert.deepEqual(byTopic.map((l) => l.transactionHash), [receipts[0].hash, receipts[1].hash]);
    assert.deepEqual(byTopic.map((l) => BigInt(l.data)), [1n, 2n]);

    const byAddrTopic = await h.rpc("eth_getLogs", [{ address, fromBlock: from, toBlock: "latest", topics: [setTopic] }]);
    assert.equal(byAddrTopic.length, 1);

    const bn = ethers.toQuantity(receipts[1].blockNumber);
    const byRange = await h.rpc("eth_getLogs", [{ address, fromBlock: bn, toBlock: bn }]);
    assert.deepEqual(byRange.map((l) => l.transactionHash), [receipts[1].hash]);

    const byHash = await h.rpc("eth_getLogs", [{ address, blockHash: receipts[2].blockHash }]);
    assert.deepEqual(byHash.map((l) => l.transactionHash), [receipts[2].hash]);

    const other = await h.rpc("eth_getLogs", [{ address: ethers.Wallet.createRandom().address, fromBlock: from, toBlock: "latest" }]);
    assert.deepEqual(other, []);
    const before_ = await h.rpc("eth_getLogs", [{ address, fromBlock: "0x0", toBlock: ethers.toQuantity(deployReceipt.blockNumber - 1) }]);
    assert.deepEqual(before_, []);

    // ethers contract-level query agrees
    const q = await counter.queryFilter(counter.filters.Incremented(signer.address), deployReceipt.blockNumber);
    assert.deepEqual(q.map((e) => e.args.value), [1n, 2n]);
  });
});

// eth_getLogs topic filtering semantics (wildcards, OR lists, anonymous events, ranges).
describe("Events / eth_getLogs filters", () => {
  let provider, signer, ev, address, deployBlock;
  const r = {};
  const tagA = ethers.id("tag-A");
  const tagB = ethers.id("tag-B");
  const pad = (v) => ethers.zeroPadValue(ethers.toBeHex(v), 32);

  before(async () => {
    provider = h.makeProvider();
    signer = h.wallet(3, provider);
    const d = await h.deploy("Events", signer);
    ev = d.contract;
    address = d.address;
    deployBlock = d.receipt.blockNumber;
    r.t1 = await h.mined(ev.emitTriple(1001n, tagA, "first"));
    r.t2 = await h.mined(ev.emitTriple(1002n, tagB, "second"));
    r.single = await h.mined(ev.emitSingle(2001n, 7n, "0xdeadbeef"));
    r.plain = await h.mined(ev.emitPlain(3n, 4n));
    r.anon = await h.mined(ev.emitAnon(4001n, 9n));
    r.many = await h.mined(ev.emitMany(5000n, 5n));
  });
  after(() => provider.destroy());

  const logs = (filter) =>
    h.rpc("eth_getLogs", [{ address, fromBlock: ethers.toQuantity(deployBlock), toBlock: "latest", ...filter }]);
  const topic = (name) => ev.interface.getEvent(name).topicHash;

  it("decodes all layouts from receipts", () => {
    const t = ev.interface.parseLog(r.t1.logs[0]);
    assert.equal(t.name, "Triple");
    assert.equal(t.args.a, 1001n);
    assert.equal(t.args.who, signer.address);
    assert.equal(t.args.tag, tagA);
    assert.equal(t.args.note, "first");
    assert.equal(r.t1.logs[0].topics.length, 4);
    const s = ev.interface.parseLog(r.single.logs[0]);
    assert.deepEqual([s.args.id, s.args.value, s.args.payload], [2001n, 7n, "0xdeadbeef"]);
    assert.equal(r.plain.logs[0].topics.length, 1);
    assert.equal(r.anon.logs[0].topics.length, 1, "anonymous event has no signature topic");
    assert.equal(r.anon.logs[0].topics[0], pad(4001n));
    assert.equal(r.many.logs.length, 6);
  });

  it("address only returns everything in order", async () => {
    const all = await logs({});
    assert.equal(all.length, 1 + 1 + 1 + 1 + 1 + 6);
    for (let i = 1; i < all.length; i++) {
      const a = all[i - 1], b = all[i];
      const ka = [BigInt(a.blockNumber), BigInt(a.logIndex)], kb = [BigInt(b.blockNumber), BigInt(b.logIndex)];
      assert.ok(ka[0] < kb[0] || (ka[0] === kb[0] && ka[1] < kb[1]), "logs sorted by (block, logIndex)");
    }
  });

  it("topic position filters and wildcards", async () => {
    assert.equal((await logs({ topics: [topic("Triple")] })).length, 2);
    const b = await logs({ topics: [topic("Triple"), null, null, tagB] });
    assert.deepEqual(b.map((l) => l.transactionHash), [r.t2.hash]);
    const who = await logs({ topics: [null, null, ethers.zeroPadValue(signer.address, 32)] });
    assert.equal(who.length, 2, "wildcard first topic, match on 3rd");
    const a1 = await logs({ topics: [null, pad(1001n)] });
    assert.deepEqual(a1.map((l) => l.transactionHash), [r.t1.hash]);
    // trailing wildcards equal shorter filter
    assert.equal((await logs({ topics: [topic("Single"), null] })).length, 6);
  });

  it("OR lists inside a topic position", async () => {
    const or = await logs({ topics: [[topic("Triple"), topic("Plain")]] });
    assert.equal(or.length, 2 + 1 + 1);
    const ids = await logs({ topics: [topic("Single"), [pad(5001n), pad(5003n), pad(9999n)]] });
    assert.deepEqual(ids.map((l) => BigInt(l.topics[1])), [5001n, 5003n]);
  });

  it("anonymous events match on their first indexed arg", async () => {
    const a = await logs({ topics: [pad(4001n)] });
    assert.deepEqual(a.map((l) => l.transactionHash), [r.anon.hash]);
  });

  it("block range and block hash", async () => {
    const bn = ethers.toQuantity(r.many.blockNumber);
    const inBlock = await h.rpc("eth_getLogs", [{ address, fromBlock: bn, toBlock: bn }]);
    const mine = inBlock.filter((l) => l.transactionHash === r.many.hash);
    assert.equal(mine.length, 6);
    for (let i = 1; i < mine.length; i++) assert.equal(BigInt(mine[i].logIndex), BigInt(mine[i - 1].logIndex) + 1n);
    const byHash = await h.rpc("eth_getLogs", [{ address, blockHash: r.many.blockHash }]);
    assert.deepEqual(byHash, inBlock);
    // range that ends before the first emission
    const none = await h.rpc("eth_getLogs", [{ address, fromBlock: ethers.toQuantity(deployBlock), toBlock: ethers.toQuantity(deployBlock) }]);
    assert.deepEqual(none, []);
    // multiple addresses
    const multi = await h.rpc("eth_getLogs", [{ address: [address, ethers.Wallet.createRandom().address], fromBlock: bn, toBlock: bn }]);
    assert.deepEqual(multi, inBlock);
  });
});
