// 11. Bad input over raw JSON-RPC (fetch POST, exact error objects). Target shapes are geth's.
//     Account 9 (+ fresh random wallets).
//
// Assertions guarded by `rampart` (web3_clientVersion starts with "rampart") are geth behaviours that
// Hardhat does not reproduce and are therefore only exercised against Rampart:
//   unknown method code -32601 (Hardhat: -32004); empty batch -> -32600 (Hardhat: []);
//   exact "nonce too low" (-32000); "nonce too high" for a nonce gap above the pool limit (Hardhat
//   queues it); "insufficient funds" wording (Hardhat: "Sender doesn't have enough funds");
//   pre-EIP-155 tx rejection (Hardhat accepts); "oversized data" for >128 KiB txs (Hardhat accepts);
//   batch size limit (RAMPART_BATCH_LIMIT, default 1000 like geth; Hardhat has none);
//   geth's -32000 code on pool rejections.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const h = require("./helpers");
const { ethers, assert } = h;

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const BATCH_LIMIT = Number(process.env.RAMPART_BATCH_LIMIT || 1000);

describe("bad input", () => {
  let provider, signer, rampart;

  before(async () => {
    provider = h.makeProvider();
    signer = h.wallet(9, provider);
    rampart = await h.isRampart();
    // make sure the account has a nonzero nonce (for the nonce-too-low case)
    await h.mined(signer.sendTransaction({ to: signer.address, value: 0n }));
  });
  afterEach(() => h.assertAlive());
  after(() => provider.destroy());

  async function nextNonce() {
    return provider.getTransactionCount(signer.address, "pending");
  }

  /** A signed type-2 transfer from `w` (defaults: 1 wei to self, 21000 gas, pending nonce). */
  async function signed(over = {}, w = signer) {
    const f = await h.fees(provider);
    return w.signTransaction({
      type: 2, chainId: h.CHAIN_ID, to: w.address, value: 1n, gasLimit: 21000n,
      nonce: over.nonce ?? (await provider.getTransactionCount(w.address, "pending")),
      ...f, ...over,
    });
  }

  /** eth_sendRawTransaction that may be accepted by a non-Rampart node; if accepted, waits for it. */
  async function sendRawMaybe(raw) {
    const res = await h.rpcRaw("eth_sendRawTransaction", [raw]);
    if (res.result) await h.waitReceipt(provider, res.result);
    return res;
  }

  const rejected = (res, what) => {
    assert.ok(res.error, `${what} should be rejected, got ${JSON.stringify(res.result)}`);
    return res.error;
  };

  describe("JSON-RPC envelope", () => {
    it("unknown method -> -32601", async () => {
      const err = await h.rpcError("rampart_noSuchMethod", []);
      if (rampart) assert.equal(err.code, -32601);
      else assert.ok([-32601, -32004].includes(err.code), JSON.stringify(err));
    });

    it("malformed JSON -> -32700", async () => {
      const { json, text } = await h.rawPost('{"jsonrpc":"2.0","id":1,"method":');
      assert.ok(json && json.error, `expected an error object, got ${text}`);
      assert.equal(json.error.code, -32700);
      assert.equal(json.id, null);
    });

    it("invalid request (no method) -> -32600", async () => {
      const { json, text } = await h.rawPost('{"jsonrpc":"2.0","id":7}');
      assert.ok(json && json.error, `expected an error object, got ${text}`);
      assert.equal(json.error.code, -32600);
    });

    it("invalid request (not an object) -> -32600", async () => {
      const { json, text } = await h.rawPost("1");
      assert.ok(json, text);
      const e = Array.isArray(json) ? json[0].error : json.error;
      assert.ok(e, `expected an error, got ${text}`);
      assert.ok([-32600, -32700].includes(e.code), JSON.stringify(e));
    });

    it("empty batch -> -32600 (geth: 'empty batch')", async () => {
      const { json, text } = await h.rawPost("[]");
      if (rampart) {
        assert.ok(json && !Array.isArray(json) && json.error, `expected an error object, got ${text}`);
        assert.equal(json.error.code, -32600);
      }
    });

    it("wrong params -> -32602", async () => {
      const err = await h.rpcError("eth_getBalance", ["not-an-address", "latest"]);
      assert.equal(err.code, -32602);
      const err2 = await h.rpcError("eth_getBlockByNumber", ["0xzz", false]);
      assert.equal(err2.code, -32602);
    });

    it("a batch returns the results in request order", async () => {
      const batch = [
        { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] },
        { jsonrpc: "2.0", id: "two", method: "net_version", params: [] },
        { jsonrpc: "2.0", id: 3, method: "rampart_noSuchMethod", params: [] },
        { jsonrpc: "2.0", id: 4, method: "eth_getBalance", params: [signer.address, "latest"] },
        { jsonrpc: "2.0", id: 5, method: "eth_blockNumber", params: [] },
      ];
      const { json, text } = await h.rawPost(batch);
      assert.ok(Array.isArray(json), `batch answer must be an array: ${text}`);
      assert.deepEqual(json.map((r) => r.id), [1, "two", 3, 4, 5]);
      assert.equal(json[0].result, "0x7a69");
      assert.equal(json[1].result, "31337");
      assert.ok(json[2].error, "failed entry carries its own error");
      if (rampart) assert.equal(json[2].error.code, -32601);
      assert.ok(h.isQuantity(json[3].result) && BigInt(json[3].result) > 0n);
      assert.ok(h.isQuantity(json[4].result));
    });

    it(`batch size limit (${BATCH_LIMIT}) is enforced`, async () => {
      const mk = (n) => Array.from({ length: n }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "eth_chainId", params: [] }));
      if (!rampart) return; // Hardhat has no batch limit; Rampart mirrors geth's BatchRequestLimit
      const ok = await h.rawPost(mk(BATCH_LIMIT));
      assert.ok(Array.isArray(ok.json) && ok.json.length === BATCH_LIMIT, "a batch at the limit is served");
      assert.ok(ok.json.every((r, i) => r.id === i && r.result === "0x7a69"));
      const big = await h.rawPost(mk(BATCH_LIMIT + 1));
      assert.ok(big.json, `non-JSON answer (HTTP ${big.status}): ${big.text.slice(0, 200)}`);
      const errors = Array.isArray(big.json) ? big.json.filter((r) => r.error) : big.json.error ? [big.json] : [];
      assert.ok(errors.length > 0, "an over-limit batch yields an error");
      const served = Array.isArray(big.json) ? big.json.filter((r) => r.result !== undefined).length : 0;
      assert.ok(served < BATCH_LIMIT + 1, "over-limit batch must not be fully served");
    });
  });

  describe("eth_sendRawTransaction", () => {
    it("malformed hex -> -32602", async () => {
      const err = await h.rpcError("eth_sendRawTransaction", ["0xzz"]);
      assert.equal(err.code, -32602);
      const err2 = await h.rpcError("eth_sendRawTransaction", ["deadbeef-not-hex"]);
      assert.ok([-32602, -32000].includes(err2.code), JSON.stringify(err2));
    });

    it("garbage RLP -> error (geth: -32000 'rlp: ...' / -32602)", async () => {
      for (const raw of ["0xdeadbeef", "0x02c0", "0x01", "0xc0", "0x02" + "ff".repeat(40)]) {
        const err = await h.rpcError("eth_sendRawTransaction", [raw]);
        assert.ok([-32000, -32602].includes(err.code), `${raw}: ${JSON.stringify(err)}`);
        assert.ok(err.message.length > 0);
      }
    });

    it("wrong chain id (signed for chain 1) -> error mentioning chain id", async () => {
      const raw2 = await signed({ chainId: 1n });
      const e2 = await h.rpcError("eth_sendRawTransaction", [raw2]);
      assert.match(e2.message, /chain ?id/i);
      const raw0 = await signer.signTransaction({
        type: 0, chainId: 1n, to: signer.address, value: 1n, gasLimit: 21000n,
        gasPrice: await h.legacyGasPrice(provider), nonce: await nextNonce(),
      });
      const e0 = await h.rpcError("eth_sendRawTransaction", [raw0]);
      // Hardhat: "incompatible EIP-155 transaction, signed for another chain"
      assert.match(e0.message, rampart ? /chain ?id/i : /chain ?id|another chain/i);
    });

    it("tampered signature -> invalid signature / sender", async () => {
      const good = await signed();
      const fields = ethers.decodeRlp("0x" + good.slice(4)); // strip 0x02 type byte
      // [chainId, nonce, tip, maxFee, gas, to, value, data, accessList, yParity, r, s]
      const highS = [...fields];
      highS[11] = ethers.toBeHex(SECP256K1_N - BigInt(fields[11])); // EIP-2: s > n/2 is invalid
      const zeroR = [...fields];
      zeroR[10] = "0x";
      const hugeR = [...fields];
      hugeR[10] = ethers.toBeHex(SECP256K1_N + 1n); // r >= n
      for (const [name, f] of [["high s", highS], ["r = 0", zeroR], ["r >= n", hugeR]]) {
        const err = await h.rpcError("eth_sendRawTransaction", ["0x02" + ethers.encodeRlp(f).slice(2)]);
        assert.match(err.message, /signature|sender|v, r, s|invalid/i, `${name}: ${err.message}`);
        if (rampart) assert.match(err.message, /signature|sender|v, r, s/i, `${name}: ${err.message}`);
      }
    });

    it("tampered payload -> rejected, original sender untouched", async () => {
      const nonce = await nextNonce();
      const good = await signed({ nonce });
      const bytes = ethers.getBytes(good);
      // flip a bit of the `value` field: the signature now recovers a different (unfunded) account
      const fields = ethers.decodeRlp("0x" + good.slice(4));
      fields[6] = "0x02";
      const raw = "0x02" + ethers.encodeRlp(fields).slice(2);
      assert.notEqual(raw, ethers.hexlify(bytes));
      const res = await h.rpcRaw("eth_sendRawTransaction", [raw]);
      assert.ok(res.error, `tampered tx accepted: ${JSON.stringify(res)}`);
      assert.equal(await nextNonce(), nonce, "signer's nonce unchanged");
    });

    it("nonce too low -> -32000 'nonce too low'", async () => {
      const latest = await provider.getTransactionCount(signer.address, "latest");
      assert.ok(latest >= 1);
      const err = await h.rpcError("eth_sendRawTransaction", [await signed({ nonce: latest - 1 })]);
      assert.match(err.message, /nonce too low/i);
      if (rampart) {
        assert.equal(err.code, -32000);
        assert.match(err.message, /nonce too low/);
      }
    });

    it("nonce far in the future (gap > pool limit) -> 'nonce too high' [Rampart only]", async () => {
      const nonce = (await nextNonce()) + 10000;
      const res = await h.rpcRaw("eth_sendRawTransaction", [await signed({ nonce })]);
      if (rampart) {
        const err = rejected(res, "nonce gap of 10000");
        assert.equal(err.code, -32000);
        assert.match(err.message, /nonce too high/);
      }
      // (Hardhat queues such a tx; it can never be mined and does not block later nonces)
    });

    it("insufficient funds (fresh wallet) -> 'insufficient funds'", async () => {
      const poor = h.randomWallet(provider);
      const err = await h.rpcError("eth_sendRawTransaction", [await signed({ nonce: 0 }, poor)]);
      assert.equal(err.code, -32000);
      if (rampart) assert.match(err.message, /insufficient funds/);
      assert.equal(await provider.getTransactionCount(poor.address, "pending"), 0);
    });

    it("gas limit above the block gas limit -> 'exceeds block gas limit'", async () => {
      const block = await provider.getBlock("latest");
      const err = await h.rpcError("eth_sendRawTransaction", [await signed({ gasLimit: block.gasLimit + 1n })]);
      assert.match(err.message, /exceeds block gas limit/);
      if (rampart) assert.equal(err.code, -32000);
    });

    it("pre-EIP-155 legacy tx (no chain id) -> rejected as not replay-protected [Rampart only]", async () => {
      const raw = await signer.signTransaction({
        type: 0, chainId: 0n, to: signer.address, value: 1n, gasLimit: 21000n,
        gasPrice: await h.legacyGasPrice(provider), nonce: await nextNonce(),
      });
      const v = BigInt(ethers.decodeRlp(raw)[6]);
      assert.ok(v === 27n || v === 28n, "really unprotected (v = 27/28)");
      const res = await sendRawMaybe(raw);
      if (rampart) {
        const err = rejected(res, "unprotected tx");
        // geth: "only replay-protected (EIP-155) transactions allowed over RPC"
        assert.match(err.message, /EIP-155|replay/i);
      }
    });

    it("EIP-4844 blob tx (type 3) -> rejected with a clear error", async () => {
      const raw = await signer.signTransaction({
        type: 3, chainId: h.CHAIN_ID, to: signer.address, value: 0n, gasLimit: 21000n, nonce: await nextNonce(),
        ...(await h.fees(provider)), maxFeePerBlobGas: 10n, blobVersionedHashes: ["0x01" + "11".repeat(31)],
      });
      assert.equal(raw.slice(0, 4), "0x03");
      const res = await sendRawMaybe(raw);
      const err = rejected(res, "blob tx");
      if (rampart) assert.match(err.message, /blob|4844|type/i);
    });

    it("oversized tx (200 KiB calldata) -> 'oversized data' [Rampart only]", async () => {
      const raw = await signed({ data: "0x" + "00".repeat(200 * 1024), gasLimit: 1_000_000n });
      const res = await sendRawMaybe(raw);
      if (rampart) {
        const err = rejected(res, "200 KiB tx");
        assert.match(err.message, /oversized data/);
        assert.equal(err.code, -32000);
      }
    });
  });

  it("after all bad input the node still mines ordinary transactions", async () => {
    const nonce = await provider.getTransactionCount(signer.address, "latest");
    const to = ethers.Wallet.createRandom().address;
    const r = await h.mined(signer.sendTransaction({ to, value: 12345n }));
    assert.equal(r.status, 1);
    assert.equal(await provider.getBalance(to), 12345n);
    assert.ok((await provider.getTransactionCount(signer.address, "latest")) >= nonce + 1);
  });
});
