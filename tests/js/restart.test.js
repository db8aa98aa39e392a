// 12. Restart persistence (Rampart only). Starts its OWN node:
//       $RAMPART_BIN dev --datadir <tmpdir> --http-addr 127.0.0.1:<free port> [$RAMPART_ARGS...]
//     - deploys Token + Counter + a UUPS proxy, makes transfers, records chain data;
//     - SIGTERM, restart on the same datadir: everything identical;
//     - more txs, SIGKILL right after their receipts came back, restart: every receipted tx is
//       still there in the same block (same block hash) and the node keeps producing blocks.
//
// RAMPART_BIN must be set (the runner always sets it). Without it this file FAILS on purpose.
// Optional: RAMPART_ARGS (extra CLI args, space separated), RAMPART_KEEP_DATADIR=1 (keep tmpdir),
// RAMPART_START_TIMEOUT_MS (default 60000).
"use strict";

const { describe, it, before, after } = require("node:test");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const h = require("./helpers");
const { RampartNode, freePort } = require("./rampart-node");
const { ethers, assert } = h;

const BIN = process.env.RAMPART_BIN;

if (!BIN) {
  describe("restart persistence", () => {
    it("requires RAMPART_BIN", () => {
      assert.fail(
        "RAMPART_BIN is not set: restart.test.js must run against the real rampart binary " +
          "(e.g. RAMPART_BIN=target/release/rampart). It is deliberately not skipped.",
      );
    });
  });
} else {
  describe("restart persistence", () => {
    let tmp, node, provider, owner, user;
    const recipients = [];
    const tracked = []; // tx hashes whose receipts must survive
    let contracts = {};

    before(async () => {
      assert.ok(fs.existsSync(BIN), `RAMPART_BIN=${BIN} does not exist`);
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rampart-restart-"));
      node = new RampartNode(path.join(tmp, "datadir"), await freePort());
      await node.start();
      provider = h.makeProvider(node.url);
      owner = h.wallet(0, provider);
      user = h.wallet(1, provider);
    });

    after(async () => {
      if (provider) provider.destroy();
      if (node) await node.stop("SIGKILL").catch(() => {});
      if (tmp && !process.env.RAMPART_KEEP_DATADIR) fs.rmSync(tmp, { recursive: true, force: true });
      else if (tmp) console.log(`# datadir kept at ${tmp}`);
    });

    const rpc = (m, p) => h.rpc(m, p, node.url);

    /** Everything observable up to block `n` (inclusive), queried at fixed block numbers. */
    async function snapshot(n, hashes = tracked) {
      const q = ethers.toQuantity(n);
      const blocks = [];
      for (let i = 0; i <= n; i++) blocks.push(await rpc("eth_getBlockByNumber", [ethers.toQuantity(i), false]));
      const receipts = {};
      const txs = {};
      for (const hash of hashes) {
        receipts[hash] = await rpc("eth_getTransactionReceipt", [hash]);
        txs[hash] = await rpc("eth_getTransactionByHash", [hash]);
      }
      const addrs = [owner.address, user.address, ...recipients, ...Object.values(contracts).map((c) => c.address)];
      const balances = {};
      const nonces = {};
      const code = {};
      for (const a of addrs) {
        balances[a] = await rpc("eth_getBalance", [a, q]);
        nonces[a] = await rpc("eth_getTransactionCount", [a, q]);
        code[a] = await rpc("eth_getCode", [a, q]);
      }
      const logs = await rpc("eth_getLogs", [{ fromBlock: "0x0", toBlock: q }]);
      const tokenI = h.iface("Token");
      const call = (to, I, fn, args = []) =>
        rpc("eth_call", [{ to, data: I.encodeFunctionData(fn, args) }, q]);
      const views = {
        tokenOwner: await call(contracts.token.address, tokenI, "balanceOf", [owner.address]),
        tokenUser: await call(contracts.token.address, tokenI, "balanceOf", [user.address]),
        totalSupply: await call(contracts.token.address, tokenI, "totalSupply"),
        counter: await call(contracts.counter.address, h.iface("Counter"), "get"),
        boxValue: await call(contracts.proxy.address, h.iface("BoxV1"), "value"),
        boxOwner: await call(contracts.proxy.address, h.iface("BoxV1"), "owner"),
        implSlot: await rpc("eth_getStorageAt", [contracts.proxy.address, h.IMPLEMENTATION_SLOT, q]),
        counterSlot0: await rpc("eth_getStorageAt", [contracts.counter.address, "0x0", q]),
      };
      return { n, blocks, receipts, txs, balances, nonces, code, logs, views };
    }

    async function send(signerW, req) {
      const tx = await signerW.sendTransaction(req);
      tracked.push(tx.hash);
      return tx;
    }

    let snap1, snap1Hashes, implV2Address;

    it("fresh node: deploy Token, Counter, UUPS proxy; transfers", async () => {
      assert.equal(await rpc("eth_chainId", []), "0x7a69");
      const token = await h.deploy("Token", owner, ethers.parseEther("1000"));
      const counter = await h.deploy("Counter", owner);
      const implV1 = await h.deploy("BoxV1", owner);
      const proxy = await h.deploy("ERC1967Proxy", owner, implV1.address, h.iface("BoxV1").encodeFunctionData("initialize", [42n]));
      contracts = { token, counter, implV1, proxy };
      for (const c of Object.values(contracts)) tracked.push(c.receipt.hash);

      // a burst of txs from two senders with explicit nonces (several per block)
      const f = await h.fees(provider);
      let on = await provider.getTransactionCount(owner.address, "pending");
      let un = await provider.getTransactionCount(user.address, "pending");
      const txs = [];
      for (let i = 0; i < 3; i++) {
        const to = ethers.Wallet.createRandom().address;
        recipients.push(to);
        txs.push(await send(owner, { to, value: ethers.parseEther("0.1") * BigInt(i + 1), nonce: on++, gasLimit: 21000n, ...f }));
      }
      const tokenO = token.contract.connect(owner);
      txs.push(await send(owner, { to: token.address, data: tokenO.interface.encodeFunctionData("transfer", [user.address, 1000n]), nonce: on++, gasLimit: 100_000n, ...f }));
      txs.push(await send(owner, { to: counter.address, data: h.iface("Counter").encodeFunctionData("increment"), nonce: on++, gasLimit: 100_000n, ...f }));
      txs.push(await send(user, { to: counter.address, data: h.iface("Counter").encodeFunctionData("increment"), nonce: un++, gasLimit: 100_000n, ...f }));
      txs.push(await send(user, { to: recipients[0], value: 777n, nonce: un++, gasLimit: 21000n, ...f }));
      txs.push(await send(owner, { to: proxy.address, data: h.iface("BoxV1").encodeFunctionData("setValue", [43n]), nonce: on++, gasLimit: 100_000n, ...f }));
      const receipts = await Promise.all(txs.map((t) => h.waitReceipt(provider, t.hash)));
      for (const r of receipts) assert.equal(r.status, 1);
      // one deliberately reverted tx (status 0 must persist too)
      const bad = await send(user, { to: token.address, data: tokenO.interface.encodeFunctionData("transfer", [owner.address, 10n ** 30n]), nonce: un++, gasLimit: 100_000n, ...f });
      assert.equal((await h.waitReceipt(provider, bad.hash)).status, 0);

      const n = await provider.getBlockNumber();
      snap1Hashes = [...tracked];
      snap1 = await snapshot(n, snap1Hashes);
      assert.equal(BigInt(snap1.views.counter), 2n);
      assert.equal(BigInt(snap1.views.boxValue), 43n);
      assert.equal(BigInt(snap1.views.tokenUser), 1000n);
      assert.ok(snap1.logs.length >= 8, `logs recorded: ${snap1.logs.length}`);
    });

    it("SIGTERM + restart on the same datadir: chain, state, receipts, logs identical", async () => {
      await node.stop("SIGTERM");
      await node.start();
      const head = BigInt(await rpc("eth_blockNumber", []));
      assert.ok(head >= BigInt(snap1.n), `head ${head} went back below ${snap1.n}`);
      const snap2 = await snapshot(snap1.n, snap1Hashes);
      assert.deepEqual(snap2.blocks, snap1.blocks, "blocks (incl. hashes) identical");
      assert.deepEqual(snap2.receipts, snap1.receipts, "receipts identical");
      assert.deepEqual(snap2.txs, snap1.txs, "transactions identical");
      assert.deepEqual(snap2.balances, snap1.balances, "balances identical");
      assert.deepEqual(snap2.nonces, snap1.nonces, "nonces identical");
      assert.deepEqual(snap2.code, snap1.code, "code identical");
      assert.deepEqual(snap2.logs, snap1.logs, "logs identical");
      assert.deepEqual(snap2.views, snap1.views, "contract state identical");
      // latest state equals the state at n (no txs since)
      for (const a of [owner.address, user.address]) {
        assert.equal(await rpc("eth_getTransactionCount", [a, "latest"]), snap1.nonces[a]);
        assert.equal(await rpc("eth_getTransactionCount", [a, "pending"]), snap1.nonces[a]);
        assert.equal(await rpc("eth_getBalance", [a, "latest"]), snap1.balances[a]);
      }
    });

    it("after restart: upgrade the proxy and keep transacting", async () => {
      const implV2 = await h.deploy("BoxV2", owner);
      implV2Address = implV2.address;
      tracked.push(implV2.receipt.hash);
      const box = h.at("BoxV1", contracts.proxy.address, owner);
      const r1 = await h.mined(box.upgradeToAndCall(implV2.address, "0x"));
      tracked.push(r1.hash);
      const box2 = h.at("BoxV2", contracts.proxy.address, owner);
      const r2 = await h.mined(box2.increment());
      tracked.push(r2.hash);
      assert.equal(await box2.value(), 44n);
      assert.equal(await box2.version(), "2");
    });

    it("SIGKILL right after receipts: every receipted tx survives in the same block", async () => {
      const f = await h.fees(provider);
      let on = await provider.getTransactionCount(owner.address, "pending");
      let un = await provider.getTransactionCount(user.address, "pending");
      const sent = [];
      for (let i = 0; i < 6; i++) {
        sent.push(await send(owner, { to: recipients[i % recipients.length], value: 1000n + BigInt(i), nonce: on++, gasLimit: 21000n, ...f }));
        sent.push(await send(user, { to: contracts.counter.address, data: h.iface("Counter").encodeFunctionData("increment"), nonce: un++, gasLimit: 100_000n, ...f }));
      }
      const receipts = await Promise.all(sent.map((t) => h.waitReceipt(provider, t.hash)));
      // in flight at the moment of the kill: may or may not survive, but must be consistent if they do
      const inflight = [];
      inflight.push(await owner.sendTransaction({ to: recipients[0], value: 5n, nonce: on++, gasLimit: 21000n, ...f }));
      await node.stop("SIGKILL");

      await node.start();
      for (const r of receipts) {
        const got = await rpc("eth_getTransactionReceipt", [r.hash]);
        assert.ok(got, `receipt of ${r.hash} (block ${r.blockNumber}) lost after SIGKILL`);
        assert.equal(got.blockHash, r.blockHash, `tx ${r.hash} moved to another block`);
        assert.equal(BigInt(got.blockNumber), BigInt(r.blockNumber));
        assert.equal(BigInt(got.transactionIndex), BigInt(r.index));
        assert.equal(BigInt(got.gasUsed), r.gasUsed);
        assert.equal(got.status, "0x1");
        assert.equal(got.logs.length, r.logs.length);
        const block = await rpc("eth_getBlockByNumber", [ethers.toQuantity(r.blockNumber), false]);
        assert.equal(block.hash, r.blockHash, `block ${r.blockNumber} hash changed`);
        assert.ok(block.transactions.includes(r.hash));
      }
      for (const t of inflight) {
        const got = await rpc("eth_getTransactionReceipt", [t.hash]);
        if (got) {
          const block = await rpc("eth_getBlockByNumber", [got.blockNumber, false]);
          assert.equal(block.hash, got.blockHash);
        }
      }
      // all earlier (SIGTERM-era) data is still identical
      const snap3 = await snapshot(snap1.n, snap1Hashes);
      assert.deepEqual(snap3.blocks, snap1.blocks);
      assert.deepEqual(snap3.receipts, snap1.receipts);
      assert.deepEqual(snap3.logs, snap1.logs);
      assert.deepEqual(snap3.views, snap1.views);

      // state reflects the receipted txs
      const counter = h.at("Counter", contracts.counter.address, provider);
      assert.ok((await counter.get()) >= 2n + 6n);
      assert.equal(await h.at("BoxV2", contracts.proxy.address, provider).value(), 44n);
      assert.equal(
        await rpc("eth_getStorageAt", [contracts.proxy.address, h.IMPLEMENTATION_SLOT, "latest"]),
        ethers.zeroPadValue(implV2Address.toLowerCase(), 32),
      );
      const maxBlock = Math.max(...receipts.map((r) => r.blockNumber));
      assert.ok((await provider.getBlockNumber()) >= maxBlock);
    });

    it("after SIGKILL restart the node keeps producing blocks and accepting txs", async () => {
      const before_ = await provider.getBlockNumber();
      const to = ethers.Wallet.createRandom().address;
      const r = await h.mined(user.sendTransaction({ to, value: 99n }));
      assert.equal(r.status, 1);
      assert.ok(r.blockNumber > before_);
      assert.equal(await provider.getBalance(to), 99n);
      const r2 = await h.mined(owner.sendTransaction({ to, value: 1n }));
      assert.ok(r2.blockNumber >= r.blockNumber);
      const blk = await provider.getBlock(r2.blockNumber);
      const parent = await provider.getBlock(r2.blockNumber - 1);
      assert.equal(blk.parentHash, parent.hash, "chain stays linked across the crash");
      // and a clean shutdown still works afterwards
      await node.stop("SIGTERM");
      await node.start();
      assert.equal((await rpc("eth_getTransactionReceipt", [r2.hash])).blockHash, r2.blockHash);
    });
  });
}
