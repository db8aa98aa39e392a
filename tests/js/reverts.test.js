// 5. Reverts: how ethers surfaces them, and the raw geth-shaped JSON-RPC errors. Account 4.
//
// Rampart-specific (asserted only when web3_clientVersion starts with "rampart"): eth_call /
// eth_estimateGas revert errors use geth's shape { code: 3, message: "execution reverted[: reason]",
// data: "0x<revert bytes>" }. Hardhat answers -32603 with data nested in an object, so against
// Hardhat only the revert bytes themselves are checked.
"use strict";

const { describe, it, before, after } = require("node:test");
const h = require("./helpers");
const { ethers, assert } = h;

describe("reverts", () => {
  let provider, signer, reverter, address, I, rampart;

  before(async () => {
    provider = h.makeProvider();
    signer = h.wallet(4, provider);
    rampart = await h.isRampart();
    ({ contract: reverter, address } = await h.deploy("Reverter", signer));
    I = reverter.interface;
  });
  after(() => provider.destroy());

  const callObj = (fn, args = [], extra = {}) => ({ from: signer.address, to: address, data: I.encodeFunctionData(fn, args), ...extra });

  /** Checks a raw eth_call / eth_estimateGas revert error. */
  function checkRevertError(err, expectedData, reason) {
    assert.equal(h.revertDataOf(err), expectedData, `revert data in ${JSON.stringify(err)}`);
    if (rampart) {
      assert.equal(err.code, 3, `geth uses code 3 for reverts: ${JSON.stringify(err)}`);
      assert.equal(err.data, expectedData, "geth puts the revert bytes directly in error.data");
      assert.ok(err.message.startsWith("execution reverted"), err.message);
      if (reason !== undefined) assert.equal(err.message, `execution reverted: ${reason}`);
    }
  }

  describe("through ethers", () => {
    it("require string -> CALL_EXCEPTION with reason", async () => {
      const e = await h.expectCallException(reverter.failRequire.staticCall(), "failRequire");
      assert.equal(e.reason, "Reverter: require failed");
      assert.equal(e.revert.name, "Error");
      assert.deepEqual([...e.revert.args], ["Reverter: require failed"]);
      assert.equal(e.data, h.encodeRevertString("Reverter: require failed"));
    });

    it("require string on send: estimateGas fails with the reason", async () => {
      const nonce = await provider.getTransactionCount(signer.address, "pending");
      const e = await h.expectCallException(reverter.failRequire(), "failRequire send");
      assert.equal(e.reason, "Reverter: require failed");
      assert.equal(await provider.getTransactionCount(signer.address, "pending"), nonce, "nothing was sent");
    });

    it("custom error with args decoded via the interface", async () => {
      const e = await h.expectCallException(reverter.failCustom.staticCall(7n), "failCustom");
      assert.equal(e.revert.name, "Unauthorized");
      assert.equal(e.revert.args[0], signer.address);
      assert.equal(e.revert.args[1], 7n);
      const parsed = I.parseError(e.data);
      assert.equal(parsed.name, "Unauthorized");
      assert.deepEqual([...parsed.args], [signer.address, 7n]);
    });

    for (const [fn, args, code] of [
      ["failDivide", [0n], 0x12n],
      ["failAssert", [], 0x01n],
      ["failIndex", [5n], 0x32n],
    ]) {
      it(`Panic(0x${code.toString(16)}) from ${fn}`, async () => {
        const e = await h.expectCallException(reverter[fn].staticCall(...args), fn);
        assert.equal(e.revert.name, "Panic");
        assert.equal(BigInt(e.revert.args[0]), code);
        assert.equal(e.data, h.encodePanic(code));
      });
    }

    it("view that reverts", async () => {
      const e = await h.expectCallException(reverter.viewRevert(), "viewRevert");
      assert.equal(e.reason, "Reverter: view reverted");
      const e2 = await h.expectCallException(reverter.viewCustom(9n), "viewCustom");
      assert.equal(e2.revert.name, "Unauthorized");
      assert.equal(e2.revert.args[1], 9n);
    });

    it("empty revert", async () => {
      const e = await h.expectCallException(reverter.failEmpty.staticCall(), "failEmpty");
      assert.ok(e.data === "0x" || e.data == null, `data=${e.data}`);
    });
  });

  describe("raw JSON-RPC", () => {
    it("eth_call require string: code 3, 'execution reverted: <reason>', data", async () => {
      const err = await h.rpcError("eth_call", [callObj("failRequire"), "latest"]);
      checkRevertError(err, h.encodeRevertString("Reverter: require failed"), "Reverter: require failed");
    });

    it("eth_call custom error: code 3 with the encoded error", async () => {
      const err = await h.rpcError("eth_call", [callObj("failCustom", [7n]), "latest"]);
      checkRevertError(err, I.encodeErrorResult("Unauthorized", [signer.address, 7n]));
    });

    it("eth_call panic: code 3 with Panic(uint256) data", async () => {
      const err = await h.rpcError("eth_call", [callObj("failDivide", [0n]), "latest"]);
      checkRevertError(err, h.encodePanic(0x12n));
      const err2 = await h.rpcError("eth_call", [callObj("failIndex", [1n]), "latest"]);
      checkRevertError(err2, h.encodePanic(0x32n));
    });

    it("eth_call of a reverting view", async () => {
      const err = await h.rpcError("eth_call", [callObj("viewRevert"), "latest"]);
      checkRevertError(err, h.encodeRevertString("Reverter: view reverted"), "Reverter: view reverted");
    });

    it("eth_call with an empty revert", async () => {
      const err = await h.rpcError("eth_call", [callObj("failEmpty"), "latest"]);
      const data = h.revertDataOf(err);
      assert.ok(data === undefined || data === "0x", `data=${data}`);
      // geth: { code: -32000 (no data) or 3, message: "execution reverted" }
      if (rampart) assert.ok(err.message.startsWith("execution reverted"), err.message);
    });

    it("eth_estimateGas on a reverting call: code 3 with data", async () => {
      const err = await h.rpcError("eth_estimateGas", [callObj("failRequire")]);
      checkRevertError(err, h.encodeRevertString("Reverter: require failed"), "Reverter: require failed");
      const err2 = await h.rpcError("eth_estimateGas", [callObj("failCustom", [3n])]);
      checkRevertError(err2, I.encodeErrorResult("Unauthorized", [signer.address, 3n]));
    });

    it("eth_call of an infinite loop runs out of gas", async () => {
      const err = await h.rpcError("eth_call", [callObj("loopForever", [], { gas: ethers.toQuantity(1_000_000) }), "latest"]);
      assert.match(err.message, /out of gas/i);
      if (rampart) assert.equal(err.code, -32000);
    });

    it("eth_estimateGas of an infinite loop fails", async () => {
      const err = await h.rpcError("eth_estimateGas", [callObj("loopForever")]);
      // geth: -32000 "gas required exceeds allowance (<cap>)"
      if (rampart) assert.match(err.message, /gas required exceeds allowance|out of gas/i);
    });
  });

  describe("mined reverted transactions", () => {
    async function sendReverting(fn, args, gasLimit) {
      const before = await provider.getBalance(signer.address);
      const nonce = await provider.getTransactionCount(signer.address, "pending");
      const touched = await reverter.touched();
      // manual gasLimit => ethers skips eth_estimateGas and the tx is really broadcast
      const tx = await signer.sendTransaction({ to: address, data: I.encodeFunctionData(fn, args), gasLimit, nonce });
      const receipt = await h.waitReceipt(provider, tx.hash);
      assert.equal(receipt.status, 0, `${fn} tx must be mined with status 0`);
      const raw = await h.rpc("eth_getTransactionReceipt", [tx.hash]);
      assert.equal(raw.status, "0x0");
      assert.deepEqual(raw.logs, []);
      const after_ = await provider.getBalance(signer.address);
      assert.equal(before - after_, receipt.gasUsed * receipt.gasPrice, "gas is charged for a failed tx");
      assert.equal(await provider.getTransactionCount(signer.address, "latest"), nonce + 1, "nonce consumed");
      assert.equal(await reverter.touched(), touched, "state changes rolled back");
      const block = await h.rpc("eth_getBlockByNumber", [ethers.toQuantity(receipt.blockNumber), false]);
      assert.ok(block.transactions.includes(tx.hash), "reverted tx is part of the block");
      // ethers' wait() reports it as CALL_EXCEPTION
      const e = await h.expectCallException(tx.wait(1, h.TX_TIMEOUT_MS), "wait()");
      assert.equal(e.receipt.status, 0);
      return receipt;
    }

    it("require revert: status 0, gas charged, state rolled back", async () => {
      const r = await sendReverting("failRequire", [], 200_000n);
      assert.ok(r.gasUsed > 21000n && r.gasUsed < 200_000n, `REVERT refunds unused gas (used ${r.gasUsed})`);
    });

    it("custom error revert: status 0", async () => {
      await sendReverting("failCustom", [1n], 150_000n);
    });

    it("panic (assert) revert: status 0", async () => {
      const r = await sendReverting("failAssert", [], 150_000n);
      assert.ok(r.gasUsed < 150_000n, "0.8.x assert uses REVERT, not INVALID: unused gas returned");
    });

    it("out-of-gas loop: status 0 and the whole gas limit is consumed", async () => {
      const r = await sendReverting("loopForever", [], 120_000n);
      assert.equal(r.gasUsed, 120_000n);
    });

    it("the contract still works after all of that", async () => {
      const touched = await reverter.touched();
      const r = await h.mined(reverter.ok());
      assert.equal(r.status, 1);
      assert.equal(await reverter.touched(), touched + 1n);
    });
  });
});
