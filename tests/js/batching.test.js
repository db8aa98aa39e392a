// 3. Many transactions per block: Rampart batches the mempool into a block per interval instead of
//    mining one block per transaction. Account 2 funds 20 fresh wallets.
"use strict";

const { describe, it, before, after } = require("node:test");
const h = require("./helpers");
const { ethers, assert } = h;

const N = 20;

function groupByBlock(receipts) {
  const m = new Map();
  for (const r of receipts) m.set(r.blockNumber, (m.get(r.blockNumber) || 0) + 1);
  return m;
}

describe("transaction batching", () => {
  let provider, funder, wallets;

  before(() => {
    provider = h.makeProvider();
    funder = h.wallet(2, provider);
  });
  after(() => provider.destroy());

  it(`${N} txs from ONE sender (consecutive nonces) are all mined, several per block`, async () => {
    const nonce0 = await provider.getTransactionCount(funder.address, "pending");
    const f = await h.fees(provider);
    wallets = Array.from({ length: N }, () => h.randomWallet(provider));
    // pre-sign, then broadcast as fast as possible
    const raws = await Promise.all(
      wallets.map((w, i) =>
        funder.signTransaction({
          type: 2, chainId: h.CHAIN_ID, to: w.address, value: ethers.parseEther("1"),
          nonce: nonce0 + i, gasLimit: 21000n, ...f,
        }),
      ),
    );
    const hashes = await Promise.all(raws.map((raw) => h.rpc("eth_sendRawTransaction", [raw])));
    hashes.forEach((hash, i) => assert.equal(hash, ethers.keccak256(raws[i])));
    const receipts = await Promise.all(hashes.map((hash) => h.waitReceipt(provider, hash)));
    for (const r of receipts) assert.equal(r.status, 1);
    assert.equal(await provider.getTransactionCount(funder.address, "latest"), nonce0 + N);
    const groups = groupByBlock(receipts);
    assert.ok(groups.size < N, `each tx got its own block: ${JSON.stringify([...groups])}`);
    // within a block, txs of one sender appear in nonce order
    const sorted = [...receipts].sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
    sorted.forEach((r, i) => assert.equal(r.hash, hashes[i], "inclusion order follows nonce order"));
    for (const w of wallets) assert.equal(await provider.getBalance(w.address), ethers.parseEther("1"));
  });

  it(`${N} txs from ${N} DIFFERENT senders: at least two share a block`, async () => {
    assert.ok(wallets, "previous test funded the wallets");
    const f = await h.fees(provider);
    const sink = ethers.Wallet.createRandom().address;
    const raws = await Promise.all(
      wallets.map((w, i) =>
        w.signTransaction({ type: 2, chainId: h.CHAIN_ID, to: sink, value: BigInt(i + 1), nonce: 0, gasLimit: 21000n, ...f }),
      ),
    );
    const hashes = await Promise.all(raws.map((raw) => h.rpc("eth_sendRawTransaction", [raw])));
    const receipts = await Promise.all(hashes.map((hash) => h.waitReceipt(provider, hash)));
    for (const r of receipts) assert.equal(r.status, 1);
    const groups = groupByBlock(receipts);
    assert.ok([...groups.values()].some((c) => c >= 2), `no two txs share a block: ${JSON.stringify([...groups])}`);
    assert.equal(await provider.getBalance(sink), BigInt((N * (N + 1)) / 2));

    // per block: indexes unique and contiguous, cumulativeGasUsed consistent, block gasUsed = sum
    for (const bn of groups.keys()) {
      const block = await h.rpc("eth_getBlockByNumber", [ethers.toQuantity(bn), false]);
      const all = await Promise.all(block.transactions.map((t) => h.rpc("eth_getTransactionReceipt", [t])));
      let cumulative = 0n;
      all.forEach((r, i) => {
        assert.equal(BigInt(r.transactionIndex), BigInt(i));
        assert.equal(r.blockHash, block.hash);
        cumulative += BigInt(r.gasUsed);
        assert.equal(BigInt(r.cumulativeGasUsed), cumulative, "cumulativeGasUsed");
      });
      assert.equal(BigInt(block.gasUsed), cumulative, "block gasUsed = sum of receipts");
      assert.equal(BigInt(await h.rpc("eth_getBlockTransactionCountByNumber", [block.number])), BigInt(all.length));
      // block-level receipts call, if implemented, agrees (optional method)
      const br = await h.rpcRaw("eth_getBlockReceipts", [block.number]);
      if (br.result) assert.deepEqual(br.result.map((r) => r.transactionHash), block.transactions);
    }
  });
});
