// 7. CREATE and CREATE2 through a factory contract, and
// 8. Cancun opcodes: TSTORE/TLOAD, MCOPY, BLOBBASEFEE, BLOBHASH and EIP-6780 SELFDESTRUCT.
// Account 6 (both suites, sequentially).
"use strict";

const { describe, it, before, after } = require("node:test");
const h = require("./helpers");
const { ethers, assert } = h;

describe("Factory: CREATE / CREATE2", () => {
  let provider, signer, factory, address;
  const coder = ethers.AbiCoder.defaultAbiCoder();
  const initCodeHash = (v) => ethers.keccak256(ethers.concat([h.artifact("Child").bytecode, coder.encode(["uint256"], [v])]));

  before(async () => {
    provider = h.makeProvider();
    signer = h.wallet(6, provider);
  });
  after(() => provider.destroy());

  function deployedChild(receipt) {
    const logs = receipt.logs.filter((l) => l.address === address).map((l) => factory.interface.parseLog(l));
    const d = logs.find((l) => l && l.name === "Deployed");
    assert.ok(d, "Deployed event");
    return d.args;
  }

  it("contract-creation receipt has contractAddress", async () => {
    const nonce = await provider.getTransactionCount(signer.address, "pending");
    const d = await h.deploy("Factory", signer);
    factory = d.contract;
    address = d.address;
    assert.equal(d.receipt.contractAddress, ethers.getCreateAddress({ from: signer.address, nonce }));
    const raw = await h.rpc("eth_getTransactionReceipt", [d.receipt.hash]);
    assert.equal(raw.contractAddress.toLowerCase(), address.toLowerCase());
    assert.equal(raw.to, null);
  });

  it("CREATE: children at getCreateAddress(factory, nonce 1, 2)", async () => {
    for (const [v, nonce] of [[11n, 1], [12n, 2]]) {
      const r = await h.mined(factory.deployCreate(v));
      const ev = deployedChild(r);
      assert.equal(ev.create2, false);
      assert.equal(ev.child, ethers.getCreateAddress({ from: address, nonce }));
      // ordinary call receipts carry no contractAddress
      assert.equal((await h.rpc("eth_getTransactionReceipt", [r.hash])).contractAddress, null);
      const child = h.at("Child", ev.child, signer);
      assert.equal(await child.value(), v);
      assert.equal(await child.factory(), address);
      assert.notEqual(await provider.getCode(ev.child), "0x");
    }
    assert.equal(await factory.childrenCount(), 2n);
  });

  it("CREATE2: child address = ethers.getCreate2Address = on-chain prediction", async () => {
    const salt = ethers.id("rampart-salt-1");
    const v = 22n;
    const predicted = ethers.getCreate2Address(address, salt, initCodeHash(v));
    assert.equal(await factory.childInitCodeHash(v), initCodeHash(v));
    assert.equal(await factory.predict(salt, v), predicted);
    assert.equal(await provider.getCode(predicted), "0x");
    const r = await h.mined(factory.deployCreate2(salt, v));
    const ev = deployedChild(r);
    assert.equal(ev.child, predicted);
    assert.equal(ev.create2, true);
    assert.equal(ev.salt, salt);
    const child = h.at("Child", predicted, signer);
    assert.equal(await child.value(), v);
    await h.mined(child.setValue(23n));
    assert.equal(await child.value(), 23n);
    // the factory's CREATE nonce still advanced (CREATE2 also bumps the creator nonce)
    const r2 = await h.mined(factory.deployCreate(1n));
    assert.equal(deployedChild(r2).child, ethers.getCreateAddress({ from: address, nonce: 4 }));
  });

  it("CREATE2: same salt + same init code collides and reverts", async () => {
    const salt = ethers.id("rampart-salt-1");
    await h.expectCallException(factory.deployCreate2.staticCall(salt, 22n), "colliding CREATE2");
    // different constructor arg -> different init code -> different address, works
    const other = ethers.getCreate2Address(address, salt, initCodeHash(99n));
    assert.equal(await factory.deployCreate2.staticCall(salt, 99n), other);
  });
});

describe("Cancun", () => {
  let provider, signer, cancun, address;

  before(async () => {
    provider = h.makeProvider();
    signer = h.wallet(6, provider);
    ({ contract: cancun, address } = await h.deploy("Cancun", signer));
  });
  after(() => provider.destroy());

  it("deployed code really contains TLOAD(0x5c) TSTORE(0x5d) MCOPY(0x5e) BLOBBASEFEE(0x4a) BLOBHASH(0x49)", async () => {
    const ops = h.opcodes(await provider.getCode(address));
    for (const op of [0x5c, 0x5d, 0x5e, 0x4a, 0x49]) assert.ok(ops.has(op), `opcode 0x${op.toString(16)} missing`);
  });

  it("transient storage: visible within the tx (also to nested calls), gone afterwards", async () => {
    const [seen, nested] = await cancun.transientRoundTrip.staticCall(42n);
    assert.equal(seen, 42n);
    assert.equal(nested, 42n);
    const r = await h.mined(cancun.transientRoundTrip(77n));
    const ev = cancun.interface.parseLog(r.logs[0]);
    assert.equal(ev.name, "TransientSeen");
    assert.deepEqual([...ev.args], [77n, 77n]);
    assert.equal(await cancun.lastSeenTransient(), 77n);
    assert.equal(await cancun.reentryValue(), 77n);
    assert.equal(await cancun.readTransientSlot(), 0n, "transient slot is empty in a new call");
    // transient writes never reach persistent storage
    assert.equal(BigInt(await h.rpc("eth_getStorageAt", [address, "0x1234", "latest"])), 0n);
  });

  it("transient reentrancy guard (`transient` keyword)", async () => {
    assert.equal(await cancun.guarded.staticCall(false), 1n);
    const e = await h.expectCallException(cancun.guarded.staticCall(true), "reentrant call");
    assert.equal(e.revert.name, "Reentrant");
  });

  it("transient storage is cleared between txs, even within the same block", async () => {
    const nonce = await provider.getTransactionCount(signer.address, "pending");
    const f = await h.fees(provider);
    const tx1 = await cancun.lockAndLeave({ nonce, gasLimit: 100_000n, ...f });
    const tx2 = await cancun.guarded(false, { nonce: nonce + 1, gasLimit: 100_000n, ...f });
    const [r1, r2] = await Promise.all([h.waitReceipt(provider, tx1.hash), h.waitReceipt(provider, tx2.hash)]);
    assert.equal(r1.status, 1);
    assert.equal(r2.status, 1, "second tx must not see the first tx's transient lock");
    assert.equal(await cancun.lockValue(), 0n);
  });

  it("MCOPY: plain copy and overlapping (memmove) copy", async () => {
    const data = ethers.hexlify(ethers.randomBytes(100));
    assert.equal(await cancun.mcopyExplicit(data), data);
    assert.equal(await cancun.mcopyExplicit("0x"), "0x");
    for (const shift of [1, 2, 31, 33, 64]) {
      const bytes = ethers.getBytes(data);
      const expected = new Uint8Array(bytes.length);
      expected.set(bytes.slice(0, shift), 0);
      expected.set(bytes.slice(0, bytes.length - shift), shift);
      assert.equal(await cancun.mcopyOverlap(data, shift), ethers.hexlify(expected), `shift ${shift}`);
    }
  });

  it("MCOPY inside a mined tx", async () => {
    const data = ethers.hexlify(ethers.randomBytes(70));
    const r = await h.mined(cancun.storeCopy(data));
    assert.equal(r.status, 1);
    const doubled = ethers.concat([data, data]);
    assert.equal(await cancun.lastCopy(), doubled);
    assert.equal(cancun.interface.parseLog(r.logs[0]).args.data, doubled);
  });

  it("BLOBBASEFEE and BLOBHASH", async () => {
    assert.ok((await cancun.blobBaseFee()) >= 1n, "blob base fee is at least MIN_BASE_FEE_PER_BLOB_GAS = 1");
    assert.equal(await cancun.blobHash0(), ethers.ZeroHash, "no blobs in a non-blob tx");
  });

  it("EIP-6780: SELFDESTRUCT in the creating tx deletes the contract", async () => {
    const beneficiary = ethers.Wallet.createRandom().address;
    const d = await h.deploy("Ephemeral", signer, true, beneficiary, { value: 1000n });
    assert.equal(await provider.getCode(d.address), "0x");
    assert.equal(await provider.getBalance(d.address), 0n);
    assert.equal(await provider.getBalance(beneficiary), 1000n);
  });

  it("EIP-6780: SELFDESTRUCT later only moves the balance; code and storage stay", async () => {
    const beneficiary = ethers.Wallet.createRandom().address;
    const d = await h.deploy("Ephemeral", signer, false, beneficiary, { value: 500n });
    const code = await provider.getCode(d.address);
    assert.notEqual(code, "0x");
    assert.equal(await provider.getBalance(d.address), 500n);
    const r = await h.mined(d.contract.destroy(beneficiary));
    assert.equal(r.status, 1);
    assert.equal(await provider.getCode(d.address), code, "code survives");
    assert.equal(await d.contract.stillHere(), true);
    assert.equal(await provider.getBalance(d.address), 0n);
    assert.equal(await provider.getBalance(beneficiary), 500n);
  });
});
