// 1. Chain basics. Account 0.
"use strict";

const { describe, it, before, after } = require("node:test");
const h = require("./helpers");
const { ethers, assert } = h;

describe("chain basics", () => {
  let provider, signer;

  before(() => {
    provider = h.makeProvider();
    signer = h.wallet(0, provider);
  });
  after(() => provider.destroy());

  it("eth_chainId is 31337 and net_version matches", async () => {
    assert.equal(await h.rpc("eth_chainId"), "0x7a69");
    assert.equal(await h.rpc("net_version"), "31337");
  });

  it("web3_clientVersion is a non-empty string", async () => {
    const v = await h.rpc("web3_clientVersion");
    assert.equal(typeof v, "string");
    assert.ok(v.length > 0);
  });

  it("eth_syncing is false", async () => {
    assert.equal(await h.rpc("eth_syncing"), false);
  });

  it("eth_accounts returns an array of addresses", async () => {
    const accounts = await h.rpc("eth_accounts");
    assert.ok(Array.isArray(accounts));
    for (const a of accounts) assert.ok(ethers.isAddress(a), `bad address ${a}`);
  });

  it("eth_gasPrice / eth_maxPriorityFeePerGas are quantities", async () => {
    const gp = await h.rpc("eth_gasPrice");
    assert.ok(h.isQuantity(gp), gp);
    assert.ok(BigInt(gp) > 0n);
    const tip = await h.rpc("eth_maxPriorityFeePerGas");
    assert.ok(h.isQuantity(tip), tip);
    const latest = await provider.getBlock("latest");
    // gas price suggestion must be enough to get into the next block
    assert.ok(BigInt(gp) >= latest.baseFeePerGas, `gasPrice ${gp} < baseFee ${latest.baseFeePerGas}`);
  });

  it("eth_feeHistory has the documented shape", async () => {
    const head = BigInt(await h.rpc("eth_blockNumber"));
    const fh = await h.rpc("eth_feeHistory", ["0x4", "latest", [25, 75]]);
    assert.ok(h.isQuantity(fh.oldestBlock), JSON.stringify(fh));
    const n = fh.gasUsedRatio.length;
    assert.ok(n >= 1 && n <= 4, `gasUsedRatio length ${n}`);
    assert.equal(fh.baseFeePerGas.length, n + 1, "baseFeePerGas has blockCount+1 entries");
    for (const b of fh.baseFeePerGas) assert.ok(h.isQuantity(b), b);
    for (const r of fh.gasUsedRatio) assert.ok(typeof r === "number" && r >= 0 && r <= 1, String(r));
    assert.equal(fh.reward.length, n);
    for (const rw of fh.reward) {
      assert.equal(rw.length, 2);
      for (const x of rw) assert.ok(h.isQuantity(x), x);
    }
    const oldest = BigInt(fh.oldestBlock);
    assert.ok(oldest + BigInt(n) - 1n >= head, "range ends at (or after) the head seen before the call");
    // a request without percentiles has no reward field (or an empty one)
    const fh2 = await h.rpc("eth_feeHistory", ["0x1", "latest", []]);
    assert.ok(fh2.reward === undefined || fh2.reward === null || fh2.reward.length <= 1);
  });

  it("eth_blockNumber increases after a tx; blocks by number and by hash", async () => {
    const before = BigInt(await h.rpc("eth_blockNumber"));
    const to = ethers.Wallet.createRandom().address;
    const tx = await signer.sendTransaction({ to, value: 1n });
    const receipt = await h.mined(tx);
    assert.ok(BigInt(receipt.blockNumber) > before, "tx mined in a block after the one current at submission");
    const after_ = BigInt(await h.rpc("eth_blockNumber"));
    assert.ok(after_ >= BigInt(receipt.blockNumber));

    const numHex = ethers.toQuantity(receipt.blockNumber);
    const byNum = await h.rpc("eth_getBlockByNumber", [numHex, false]);
    assert.equal(byNum.number, numHex);
    assert.equal(byNum.hash, receipt.blockHash);
    assert.ok(h.isData(byNum.hash, 32) && h.isData(byNum.parentHash, 32));
    assert.ok(h.isData(byNum.stateRoot, 32) && h.isData(byNum.transactionsRoot, 32) && h.isData(byNum.receiptsRoot, 32));
    assert.ok(h.isData(byNum.logsBloom, 256));
    assert.ok(ethers.isAddress(byNum.miner));
    for (const k of ["timestamp", "gasLimit", "gasUsed", "baseFeePerGas", "size"]) {
      assert.ok(h.isQuantity(byNum[k]), `${k}=${byNum[k]}`);
    }
    assert.ok(BigInt(byNum.gasUsed) >= 21000n);
    assert.ok(byNum.transactions.every((t) => typeof t === "string" && h.isData(t, 32)));
    assert.ok(byNum.transactions.includes(tx.hash), "block lists the tx hash");

    const byHashFull = await h.rpc("eth_getBlockByHash", [receipt.blockHash, true]);
    assert.equal(byHashFull.number, numHex);
    assert.equal(byHashFull.hash, receipt.blockHash);
    assert.equal(byHashFull.transactions.length, byNum.transactions.length);
    const full = byHashFull.transactions.find((t) => t.hash === tx.hash);
    assert.ok(full, "full tx object present");
    assert.equal(full.from.toLowerCase(), signer.address.toLowerCase());
    assert.equal(full.to.toLowerCase(), to.toLowerCase());
    assert.equal(full.blockHash, receipt.blockHash);
    assert.equal(full.blockNumber, numHex);
    assert.equal(BigInt(full.transactionIndex), BigInt(receipt.index));
    assert.deepEqual(
      byHashFull.transactions.map((t) => t.hash),
      byNum.transactions,
      "same tx order in both forms",
    );

    // parent linkage and timestamps
    const parent = await h.rpc("eth_getBlockByNumber", [ethers.toQuantity(receipt.blockNumber - 1), false]);
    assert.equal(byNum.parentHash, parent.hash);
    assert.ok(BigInt(byNum.timestamp) >= BigInt(parent.timestamp));

    // tx counts
    const cntNum = await h.rpc("eth_getBlockTransactionCountByNumber", [numHex]);
    const cntHash = await h.rpc("eth_getBlockTransactionCountByHash", [receipt.blockHash]);
    assert.equal(BigInt(cntNum), BigInt(byNum.transactions.length));
    assert.equal(BigInt(cntHash), BigInt(byNum.transactions.length));

    // by block + index
    const byIdx = await h.rpc("eth_getTransactionByBlockNumberAndIndex", [numHex, ethers.toQuantity(receipt.index)]);
    assert.equal(byIdx.hash, tx.hash);
    const byHashIdx = await h.rpc("eth_getTransactionByBlockHashAndIndex", [receipt.blockHash, ethers.toQuantity(receipt.index)]);
    assert.equal(byHashIdx.hash, tx.hash);

    // ethers-level view agrees
    const eb = await provider.getBlock(receipt.blockNumber, true);
    assert.equal(eb.hash, receipt.blockHash);
    assert.ok(eb.prefetchedTransactions.some((t) => t.hash === tx.hash));
  });

  it("earliest / latest tags, unknown blocks are null", async () => {
    const genesis = await h.rpc("eth_getBlockByNumber", ["earliest", false]);
    assert.equal(genesis.number, "0x0");
    const zero = await h.rpc("eth_getBlockByNumber", ["0x0", false]);
    assert.equal(zero.hash, genesis.hash);
    const latest = await h.rpc("eth_getBlockByNumber", ["latest", false]);
    assert.ok(BigInt(latest.number) >= 1n);
    assert.equal(await h.rpc("eth_getBlockByNumber", ["0xffffffff", false]), null);
    assert.equal(await h.rpc("eth_getBlockByHash", [ethers.keccak256("0x1234"), false]), null);
    assert.equal(await h.rpc("eth_getTransactionByHash", [ethers.keccak256("0x5678")]), null);
    assert.equal(await h.rpc("eth_getTransactionReceipt", [ethers.keccak256("0x5678")]), null);
  });

  it("prefunded accounts: 20 dev accounts have a balance", async () => {
    for (let i = 0; i < 20; i++) {
      const bal = BigInt(await h.rpc("eth_getBalance", [h.wallet(i).address, "latest"]));
      assert.ok(bal > ethers.parseEther("1000"), `account ${i} balance ${bal}`);
    }
  });
});
