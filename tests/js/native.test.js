// Native contracts through JSON-RPC with ethers v6 (Rampart only). Starts its OWN node:
//   $RAMPART_BIN dev --datadir <tmp> --http-addr 127.0.0.1:<port> --native-backend gvisor
//       --native-host <native-static>/…/rampart-contract-host
// and deploys the static binaries that scripts/build-native.sh writes to $RAMPART_NATIVE_DIR
// (default $CARGO_TARGET_DIR/native-static, CARGO_TARGET_DIR defaulting to /var/tmp/rampart-target).
//
// - deploy by a transaction to the deployer; code marker; bad deploys refused at ingress;
// - calls with events and gas in receipts and eth_estimateGas;
// - EVM → native (CALL, STATICCALL, DELEGATECALL) and native → EVM;
// - an OpenZeppelin transparent proxy (ERC-1967) over a native implementation, upgraded to a
//   second native implementation with its state kept;
// - an EIP-1167 clone of a native implementation with initializer-once;
// - a transaction's EIP-2930 access list preloads the native token's balance slots;
// - hostile contracts: each ends in a failed receipt naming the reason, nothing of it lands, and
//   the node keeps producing blocks.
//
// RAMPART_NATIVE_BACKEND=process runs it without gVisor (development only; CI uses gvisor).
"use strict";

const { describe, it, before, after } = require("node:test");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const h = require("./helpers");
const {
  RampartNode,
  freePort,
  BIN,
  DEPLOYER,
  NATIVE_REL: REL,
  NATIVE_BACKEND: BACKEND,
  nativeBinary: binary,
} = require("./rampart-node");
const { ethers, assert } = h;


const COUNTER_ABI = [
  "function get() view returns (uint256)",
  "function increment() returns (uint256)",
  "function add(uint256 by) returns (uint256)",
  "event Incremented(address indexed by, uint256 value)",
];
const TOKEN_ABI = [
  "function mint(address to, uint256 amount)",
  "function transfer(address to, uint256 amount) returns (bool)",
  "function balanceOf(address who) view returns (uint256)",
];
const BOX_ABI = [
  "function initialize(address owner, uint256 value)",
  "function owner() view returns (address)",
  "function value() view returns (uint256)",
  "function setValue(uint256 v)",
  "function callOut(address target, bytes data) returns (bool ok, bytes out)",
];

/** Deploys a native binary; returns its address (from the receipt). */
async function deployNative(signer, bytes) {
  const tx = await signer.sendTransaction({ to: DEPLOYER, data: ethers.hexlify(bytes) });
  const receipt = await tx.wait(1, h.TX_TIMEOUT_MS);
  assert.equal(receipt.status, 1, "native deploy failed");
  assert.ok(receipt.contractAddress, "the receipt names the new contract");
  return receipt.contractAddress;
}

/** Sends a transaction that must fail; returns its receipt as JSON (with failureReason). */
async function failingTx(signer, url, to, data, gasLimit = 3_000_000n) {
  const tx = await signer.sendTransaction({ to, data, gasLimit });
  const receipt = await h.waitReceipt(signer.provider, tx.hash);
  assert.equal(receipt.status, 0, `expected ${data.slice(0, 6)} to fail`);
  return h.rpc("eth_getTransactionReceipt", [tx.hash], url);
}

if (!BIN) {
  describe("native contracts", () => {
    it("requires RAMPART_BIN", () => assert.fail("RAMPART_BIN is not set (tests/run-e2e.sh sets it)"));
  });
} else {
  describe("native contracts", () => {
    let tmp, node, provider, signer, url, metricsUrl;
    let counter, counterAddr, rustCounterAddr, boxImpl, caller, callerAddr;

    before(async () => {
      const host = path.join(REL, "rampart-contract-host");
      assert.ok(fs.existsSync(host), `${host} missing: run scripts/build-native.sh`);
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rampart-native-"));
      const metricsAddr = `127.0.0.1:${await freePort()}`;
      metricsUrl = `http://${metricsAddr}/metrics`;
      node = new RampartNode(path.join(tmp, "datadir"), await freePort(), [
        "--metrics-addr",
        metricsAddr,
        "--native-backend",
        BACKEND,
        "--native-host",
        host,
      ]);
      await node.start();
      url = node.url;
      provider = h.makeProvider(url);
      signer = h.wallet(0, provider);
    });

    after(async () => {
      if (node) await node.stop("SIGTERM");
      if (tmp && !process.env.RAMPART_KEEP_DATADIR) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("says native contracts are on", async () => {
      const info = await h.rpc("rampart_nativeContracts", [], url);
      assert.equal(info.enabled, true);
      assert.equal(info.backend, BACKEND);
      assert.equal(info.deployer.toLowerCase(), DEPLOYER);
    });

    it("deploys a C contract by a transaction; its code is the marker", async () => {
      const bin = binary("c/counter");
      counterAddr = await deployNative(signer, bin);
      const code = await provider.getCode(counterAddr);
      assert.equal(code, "0xef524e" + ethers.keccak256(bin).slice(2));
      counter = new ethers.Contract(counterAddr, COUNTER_ABI, signer);
    });

    it("refuses bad deploys at ingress with a clear error", async () => {
      const wallet = signer;
      const notElf = await h.expectReject(
        wallet.sendTransaction({ to: DEPLOYER, data: "0x2321", gasLimit: 1_000_000n }),
        "deploy of a script",
      );
      assert.match(notElf.message, /invalid native contract: .*ELF/);
      const arm = Buffer.from(binary("c/counter"));
      arm.writeUInt16LE(183, 18); // e_machine = AArch64
      const wrongArch = await h.expectReject(
        wallet.sendTransaction({ to: DEPLOYER, data: ethers.hexlify(arm), gasLimit: 30_000_000n }),
        "deploy for another architecture",
      );
      assert.match(wrongArch.message, /invalid native contract: .*architecture/i);
      await h.assertAlive(url);
    });

    it("calls it: results, events, gas in receipts and eth_estimateGas", async () => {
      assert.equal(await counter.get(), 0n);
      const estimate = await counter.increment.estimateGas();
      const receipt = await h.mined(counter.increment());
      assert.equal(receipt.status, 1);
      assert.ok(receipt.gasUsed > 21_000n, `gas used ${receipt.gasUsed}`);
      assert.ok(estimate >= receipt.gasUsed, `estimate ${estimate} covers ${receipt.gasUsed}`);
      const ev = receipt.logs.map((l) => counter.interface.parseLog(l)).find((l) => l);
      assert.equal(ev.name, "Incremented");
      assert.equal(ev.args.by, signer.address);
      assert.equal(ev.args.value, 1n);
      await h.mined(counter.add(41n));
      assert.equal(await counter.get(), 42n);
    });

    it("deploys with the persistent-process option: marker 0xef5250, same results and gas", async () => {
      const bin = binary("c/counter");
      const persistent = Buffer.concat([Buffer.from([0xef, 0x52, 0x4f, 0x01]), Buffer.from(bin)]);
      const addr = await deployNative(signer, persistent);
      // The same binary (one stored copy, one hash); the marker records the option.
      assert.equal(await provider.getCode(addr), "0xef5250" + ethers.keccak256(bin).slice(2));
      const c = new ethers.Contract(addr, COUNTER_ABI, signer);
      for (let i = 1n; i <= 4n; i++) {
        const receipt = await h.mined(c.increment());
        assert.equal(receipt.status, 1);
        assert.equal(await c.get(), i, "state lives in storage, whichever process ran the call");
      }
      // Both counters hold a non-zero value: the same call costs the same gas in either mode.
      assert.equal(await c.add.estimateGas(1n), await counter.add.estimateGas(1n));

      const unknownFlag = Buffer.concat([Buffer.from([0xef, 0x52, 0x4f, 0x02]), Buffer.from(bin)]);
      const refused = await h.expectReject(
        signer.sendTransaction({ to: DEPLOYER, data: ethers.hexlify(unknownFlag), gasLimit: 30_000_000n }),
        "deploy with an unknown option flag",
      );
      assert.match(refused.message, /invalid native contract: unknown deploy option flags 0x02/);
      await h.assertAlive(url);
    });

    it("preloads the slots a transaction's access list names (EIP-2930): the reads answered in the sandbox", async () => {
      const tokenAddr = await deployNative(signer, binary("c/token"));
      const token = new ethers.Contract(tokenAddr, TOKEN_ABI, signer);
      await h.mined(token.mint(signer.address, 1000n));
      const to = ethers.Wallet.createRandom().address;
      // balances is the mapping at slot 0: keccak256(pad32(who) ++ pad32(0)).
      const slot = (who) => ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["address", "uint256"], [who, 0]));
      const preloaded = async () => {
        const text = await (await fetch(metricsUrl)).text();
        const m = text.match(/^rampart_native_preloaded_reads_total (\d+)/m);
        assert.ok(m, "the node reports rampart_native_preloaded_reads_total");
        return Number(m[1]);
      };
      const before = await preloaded();
      // An explicit gas limit: no eth_estimateGas run of the call in between.
      const receipt = await h.mined(
        token.transfer(to, 7n, {
          gasLimit: 2_000_000n,
          accessList: [{ address: tokenAddr, storageKeys: [slot(signer.address), slot(to)] }],
        }),
      );
      assert.equal(receipt.status, 1);
      assert.equal((await preloaded()) - before, 2, "both balance reads were answered in the sandbox");
      assert.equal(await token.balanceOf(to), 7n);
      assert.equal(await token.balanceOf(signer.address), 993n);
    });

    it("is called from EVM code: CALL, STATICCALL, DELEGATECALL", async () => {
      ({ contract: caller, address: callerAddr } = await h.deploy("NativeCaller", signer));
      await h.mined(caller.callIncrement(counterAddr));
      assert.equal(await counter.get(), 43n);
      assert.equal(await caller.callGet(counterAddr), 43n);
      assert.equal(await caller.staticIncrementFails(counterAddr), true, "a write in STATICCALL fails");
      assert.equal(await counter.get(), 43n);
      // DELEGATECALL: the native code counts in the caller's storage.
      await h.mined(caller.delegateIncrement(counterAddr));
      await h.mined(caller.delegateIncrement(counterAddr));
      assert.equal(await caller.count(), 2n);
      assert.equal(await counter.get(), 43n, "the implementation's own storage is untouched");
    });

    it("calls EVM code from native code", async () => {
      boxImpl = await deployNative(signer, binary("x86_64-unknown-linux-gnu/release/examples/native_box"));
      const box = new ethers.Contract(boxImpl, BOX_ABI, signer);
      await h.mined(box.initialize(signer.address, 7n));
      const ping = caller.interface.encodeFunctionData("ping", [21n]);
      const [ok, out] = await box.callOut.staticCall(callerAddr, ping);
      assert.equal(ok, true);
      assert.equal(BigInt(out), 42n);
      // Through a transaction too: the nested EVM frame's gas is in the receipt.
      const receipt = await h.mined(box.callOut(callerAddr, ping));
      assert.equal(receipt.status, 1);
    });

    it("keeps initializer-once: a second initialize reverts with its reason", async () => {
      const box = new ethers.Contract(boxImpl, BOX_ABI, signer);
      const err = await h.expectCallException(box.initialize.staticCall(signer.address, 1n), "second initialize");
      assert.match(err.reason || err.message, /already initialized/);
    });

    it("runs behind an OpenZeppelin ERC-1967 proxy, upgraded native → native with state kept", async () => {
      rustCounterAddr = await deployNative(
        signer,
        binary("x86_64-unknown-linux-gnu/release/examples/counter"),
      );
      // The proxy's constructor initializes it: a DELEGATECALL into native code during CREATE.
      const init = counter.interface.encodeFunctionData("add", [5n]);
      const { address: proxyAddr } = await h.deploy("TransparentUpgradeableProxy", signer, counterAddr, signer.address, init);
      const proxy = new ethers.Contract(proxyAddr, COUNTER_ABI, signer);
      assert.equal(await proxy.get(), 5n);
      await h.mined(proxy.increment());
      await h.mined(proxy.add(4n));
      assert.equal(await proxy.get(), 10n);
      assert.equal(BigInt(await provider.getStorage(proxyAddr, 0)), 10n, "state lives in the proxy");
      assert.equal(await counter.get(), 43n);
      const implOf = async () =>
        ethers.getAddress("0x" + (await provider.getStorage(proxyAddr, h.IMPLEMENTATION_SLOT)).slice(26));
      assert.equal(await implOf(), ethers.getAddress(counterAddr));

      const adminAddr = ethers.getAddress("0x" + (await provider.getStorage(proxyAddr, h.ADMIN_SLOT)).slice(26));
      const admin = h.at("ProxyAdmin", adminAddr, signer);
      await h.mined(admin.upgradeAndCall(proxyAddr, rustCounterAddr, "0x"));
      assert.equal(await implOf(), ethers.getAddress(rustCounterAddr));
      assert.equal(await proxy.get(), 10n, "state kept across the upgrade");
      const receipt = await h.mined(proxy.increment());
      assert.equal(await proxy.get(), 11n);
      const ev = receipt.logs.map((l) => proxy.interface.parseLog(l)).find((l) => l);
      assert.equal(ev.args.value, 11n);
      assert.equal(receipt.logs[0].address, proxyAddr, "the event is the proxy's");
    });

    it("is cloned with EIP-1167 (OpenZeppelin Clones) and initialized once per clone", async () => {
      const { contract: factory } = await h.deploy("CloneFactory", signer, boxImpl);
      const receipt = await h.mined(factory.clone(5n));
      const ev = receipt.logs.map((l) => factory.interface.parseLog(l)).find((l) => l && l.name === "CloneCreated");
      const clone = new ethers.Contract(ev.args.instance, BOX_ABI, signer);
      assert.equal(await clone.value(), 5n);
      assert.equal(await clone.owner(), signer.address);
      await h.mined(clone.setValue(9n));
      assert.equal(await clone.value(), 9n);
      await h.expectCallException(clone.initialize.staticCall(signer.address, 1n), "re-initialize a clone");
      const impl = new ethers.Contract(boxImpl, BOX_ABI, signer);
      assert.equal(await impl.value(), 7n, "the implementation's storage is its own");
    });

    it("contains hostile contracts: failed receipt with the reason, no state, blocks go on", async () => {
      const hostile = await deployNative(signer, binary("c/hostile"));
      const cases = [
        ["s", /native contract .* failed: Timeout: wall-clock limit/],
        ["m", /native contract .* failed: MemoryLimit/],
        ["w", /native contract .* failed: (StateLimit|OutOfGas)/],
        ["o", /native contract .* failed: (StateLimit|OutOfGas|OutputLimit)/],
        ["x", /native contract .* failed: Crashed/],
        ["g\x00", /native contract .* failed: Protocol/],
      ];
      for (const [act, reason] of cases) {
        const before = await provider.getBlockNumber();
        const r = await failingTx(signer, url, hostile, ethers.hexlify(ethers.toUtf8Bytes(act)));
        assert.match(r.failureReason || "", reason, `hostile ${JSON.stringify(act)}: ${r.failureReason}`);
        assert.equal(BigInt(r.gasUsed), 3_000_000n, "a failure uses all its gas");
        assert.equal(await provider.getStorage(hostile, 1), ethers.ZeroHash, "no partial state");
        assert.ok((await provider.getBlockNumber()) > before);
      }
      // Host files and the network are out of reach; the node still serves calls.
      if (BACKEND === "gvisor") {
        const f = await provider.call({ to: hostile, data: ethers.hexlify(ethers.toUtf8Bytes("f")) });
        const files = ethers.toUtf8String(f);
        assert.match(files, /shadow=\d+;/, files);
        assert.doesNotMatch(files, /shadow=0;|host_tmp=0;/, `host files readable: ${files}`);
        const n = ethers.toUtf8String(await provider.call({ to: hostile, data: "0x6e" }));
        assert.doesNotMatch(n, /remote=0;/, `network reachable: ${n}`);
      }
      await h.mined(counter.increment());
      await h.assertAlive(url);
    });
  });
}
