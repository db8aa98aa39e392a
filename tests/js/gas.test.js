// 6. Gas accounting: estimates vs usage, SSTORE refunds, exact intrinsic costs. Account 5.
"use strict";

const { describe, it, before, after } = require("node:test");
const h = require("./helpers");
const { ethers, assert } = h;

describe("gas", () => {
  let provider, signer, counter;

  before(async () => {
    provider = h.makeProvider();
    signer = h.wallet(5, provider);
    ({ contract: counter } = await h.deploy("Counter", signer));
  });
  after(() => provider.destroy());

  it("estimateGas(increment) >= gasUsed and reasonably tight", async () => {
    for (let i = 0; i < 2; i++) {
      // first iteration: 0 -> 1 (SSTORE set), second: 1 -> 2 (SSTORE reset)
      const est = await counter.increment.estimateGas();
      const r = await h.mined(counter.increment({ gasLimit: est }));
      assert.equal(r.status, 1, "tx succeeds with exactly the estimated gas");
      assert.ok(est >= r.gasUsed, `estimate ${est} < used ${r.gasUsed}`);
      assert.ok(est < r.gasUsed * 2n, `estimate ${est} far above used ${r.gasUsed}`);
    }
  });

  it("clearing a storage slot earns a refund", async () => {
    await h.mined(counter.set(7n));
    const estReset = await counter.set.estimateGas(8n); // nonzero -> nonzero
    const estClear = await counter.set.estimateGas(0n); // nonzero -> zero (refund)
    const rClear = await h.mined(counter.set(0n, { gasLimit: estClear }));
    assert.equal(rClear.status, 1);
    assert.equal(await counter.get(), 0n);
    assert.ok(rClear.gasUsed < estClear, `refund: used ${rClear.gasUsed} must be < estimate ${estClear}`);
    assert.ok(rClear.gasUsed < estReset, `clearing (${rClear.gasUsed}) cheaper than setting (${estReset})`);
    await h.mined(counter.set(7n));
    const rReset = await h.mined(counter.set(8n));
    assert.ok(rClear.gasUsed + 4000n < rReset.gasUsed, `refund ~4800: clear ${rClear.gasUsed} vs reset ${rReset.gasUsed}`);
  });

  it("exact intrinsic gas for calldata (4 per zero byte, 16 per non-zero byte; EIP-7623 floor from Prague)", async () => {
    const to = ethers.Wallet.createRandom().address;
    const data = "0x0001ff00";
    const est = BigInt(await h.rpc("eth_estimateGas", [{ from: signer.address, to, data }]));
    const r = await h.mined(signer.sendTransaction({ to, data, gasLimit: 30_000n }));
    const standard = 21000n + 4n * 2n + 16n * 2n;
    // Rampart's dev chain runs Prague: EIP-7623 charges at least 21000 + 10 per calldata token
    // (zero byte = 1 token, non-zero = 4). The Hardhat reference config runs Cancun.
    const floor = 21000n + 10n * (2n + 4n * 2n);
    const expected = (await h.isRampart()) ? (standard > floor ? standard : floor) : standard;
    assert.equal(r.gasUsed, expected);
    assert.ok(est >= r.gasUsed);
  });

  it("exact gas for a contract creation with 1-byte init code (53000 + calldata + EIP-3860 word cost)", async () => {
    // init code 0x00 = STOP: deploys an empty contract
    const r = await h.mined(signer.sendTransaction({ to: null, data: "0x00", gasLimit: 100_000n }));
    assert.equal(r.status, 1);
    assert.equal(r.gasUsed, 53000n + 4n + 2n);
    assert.ok(ethers.isAddress(r.contractAddress));
    assert.equal(await provider.getCode(r.contractAddress), "0x");
  });

  it("a tx with gas limit below intrinsic gas is rejected", async () => {
    const raw = await signer.signTransaction({
      type: 2, chainId: h.CHAIN_ID, to: signer.address, value: 0n, gasLimit: 20_000n,
      nonce: await provider.getTransactionCount(signer.address, "pending"), ...(await h.fees(provider)),
    });
    const err = await h.rpcError("eth_sendRawTransaction", [raw]);
    // geth: -32000 "intrinsic gas too low: gas 20000, minimum needed 21000" (Hardhat words it differently)
    if (await h.isRampart()) assert.match(err.message, /intrinsic gas too low/);
    await h.assertAlive();
  });

  it("block gas accounting: gasUsed <= gasLimit and baseFee present", async () => {
    const b = await provider.getBlock("latest");
    assert.ok(b.gasUsed <= b.gasLimit);
    assert.ok(b.baseFeePerGas > 0n);
  });
});
