// 9. OpenZeppelin 5: ERC20, UUPS (ERC1967Proxy), beacon proxies, EIP-1167 clones, transparent proxy.
//    Account 7 (owner) and a fresh random wallet funded by it (other user).
"use strict";

const { describe, it, before, after } = require("node:test");
const h = require("./helpers");
const { ethers, assert } = h;

const slotAddress = async (provider, address, slot) =>
  ethers.getAddress(ethers.dataSlice(await provider.getStorage(address, slot), 12));

describe("OpenZeppelin", () => {
  let provider, owner, user;

  before(async () => {
    provider = h.makeProvider();
    owner = h.wallet(7, provider);
    ({ wallets: [user] } = await h.fundRandomWallets(owner, provider, 1, ethers.parseEther("10")));
  });
  after(() => provider.destroy());

  describe("ERC20 (Token)", () => {
    let token, address, deployBlock;
    const supply = ethers.parseEther("1000000");
    const third = ethers.Wallet.createRandom().address;
    const hashes = {};

    it("deploys with the full supply minted to the deployer", async () => {
      const d = await h.deploy("Token", owner, supply);
      token = d.contract;
      address = d.address;
      deployBlock = d.receipt.blockNumber;
      hashes.mint = d.receipt.hash;
      assert.equal(await token.name(), "Token");
      assert.equal(await token.symbol(), "TKN");
      assert.equal(await token.decimals(), 18n);
      assert.equal(await token.totalSupply(), supply);
      assert.equal(await token.balanceOf(owner.address), supply);
      const mint = token.interface.parseLog(d.receipt.logs[0]);
      assert.equal(mint.name, "Transfer");
      assert.deepEqual([...mint.args], [ethers.ZeroAddress, owner.address, supply]);
    });

    it("transfer", async () => {
      const r = await h.mined(token.transfer(user.address, 100n));
      hashes.transfer = r.hash;
      const ev = token.interface.parseLog(r.logs[0]);
      assert.deepEqual([ev.name, ...ev.args], ["Transfer", owner.address, user.address, 100n]);
      assert.equal(await token.balanceOf(user.address), 100n);
      assert.equal(await token.balanceOf(owner.address), supply - 100n);
    });

    it("approve / transferFrom", async () => {
      const ra = await h.mined(token.approve(user.address, 50n));
      const ev = token.interface.parseLog(ra.logs[0]);
      assert.deepEqual([ev.name, ...ev.args], ["Approval", owner.address, user.address, 50n]);
      assert.equal(await token.allowance(owner.address, user.address), 50n);
      const r = await h.mined(token.connect(user).transferFrom(owner.address, third, 30n));
      hashes.transferFrom = r.hash;
      assert.equal(await token.balanceOf(third), 30n);
      assert.equal(await token.allowance(owner.address, user.address), 20n);
      const e = await h.expectCallException(
        token.connect(user).transferFrom.staticCall(owner.address, third, 21n),
        "transferFrom over allowance",
      );
      assert.equal(e.revert.name, "ERC20InsufficientAllowance");
      assert.deepEqual([...e.revert.args], [user.address, 20n, 21n]);
    });

    it("transfer above balance reverts with ERC20InsufficientBalance", async () => {
      const e = await h.expectCallException(token.connect(user).transfer.staticCall(third, 101n), "overdraft");
      assert.equal(e.revert.name, "ERC20InsufficientBalance");
      assert.deepEqual([...e.revert.args], [user.address, 100n, 101n]);
    });

    it("Transfer events via eth_getLogs (all, and filtered by from)", async () => {
      const transferTopic = token.interface.getEvent("Transfer").topicHash;
      const all = await h.rpc("eth_getLogs", [{ address, fromBlock: ethers.toQuantity(deployBlock), toBlock: "latest", topics: [transferTopic] }]);
      assert.deepEqual(all.map((l) => l.transactionHash), [hashes.mint, hashes.transfer, hashes.transferFrom]);
      const fromOwner = await token.queryFilter(token.filters.Transfer(owner.address), deployBlock);
      assert.deepEqual(fromOwner.map((e) => [e.args.to, e.args.value]), [[user.address, 100n], [third, 30n]]);
      const mints = await token.queryFilter(token.filters.Transfer(ethers.ZeroAddress), deployBlock);
      assert.equal(mints.length, 1);
    });
  });

  describe("UUPS proxy (ERC1967Proxy + BoxV1 -> BoxV2)", () => {
    let proxyAddr, implV1, implV2, box;

    it("deploys V1 behind ERC1967Proxy with initialize calldata", async () => {
      implV1 = (await h.deploy("BoxV1", owner)).address;
      const init = h.iface("BoxV1").encodeFunctionData("initialize", [42n]);
      const d = await h.deploy("ERC1967Proxy", owner, implV1, init);
      proxyAddr = d.address;
      box = h.at("BoxV1", proxyAddr, owner);
      assert.equal(await box.value(), 42n);
      assert.equal(await box.owner(), owner.address);
      assert.equal(await slotAddress(provider, proxyAddr, h.IMPLEMENTATION_SLOT), implV1);
      const upgraded = d.receipt.logs.map((l) => h.iface("ERC1967Proxy").parseLog(l)).find((l) => l && l.name === "Upgraded");
      assert.equal(upgraded.args.implementation, implV1);
      // implementation itself is locked
      assert.equal(await h.at("BoxV1", implV1, provider).value(), 0n);
      assert.equal(await h.at("BoxV1", implV1, provider).proxiableUUID(), h.IMPLEMENTATION_SLOT);
    });

    it("state changes through the proxy", async () => {
      await h.mined(box.setValue(43n));
      assert.equal(await box.value(), 43n);
      assert.equal(BigInt(await provider.getStorage(proxyAddr, 0)), 43n, "value lives in the proxy's storage");
      assert.equal(BigInt(await provider.getStorage(implV1, 0)), 0n);
    });

    it("re-initialize reverts with InvalidInitialization (proxy and implementation)", async () => {
      const e = await h.expectCallException(box.initialize.staticCall(1n), "re-initialize");
      assert.equal(e.revert.name, "InvalidInitialization");
      const e2 = await h.expectCallException(h.at("BoxV1", implV1, owner).initialize.staticCall(1n), "init implementation");
      assert.equal(e2.revert.name, "InvalidInitialization");
    });

    it("non-owner upgrade reverts with OwnableUnauthorizedAccount", async () => {
      implV2 = (await h.deploy("BoxV2", owner)).address;
      const e = await h.expectCallException(box.connect(user).upgradeToAndCall.staticCall(implV2, "0x"), "non-owner upgrade");
      assert.equal(e.revert.name, "OwnableUnauthorizedAccount");
      assert.deepEqual([...e.revert.args], [user.address]);
      // also as a real (mined) transaction
      const tx = await box.connect(user).upgradeToAndCall(implV2, "0x", { gasLimit: 200_000n });
      const r = await h.waitReceipt(provider, tx.hash);
      assert.equal(r.status, 0);
      assert.equal(await slotAddress(provider, proxyAddr, h.IMPLEMENTATION_SLOT), implV1);
    });

    it("owner upgrades to V2 with upgradeToAndCall; state kept; V2 functions work", async () => {
      const r = await h.mined(box.upgradeToAndCall(implV2, "0x"));
      const upgraded = r.logs.map((l) => h.iface("BoxV2").parseLog(l)).find((l) => l && l.name === "Upgraded");
      assert.equal(upgraded.args.implementation, implV2);
      assert.equal(await slotAddress(provider, proxyAddr, h.IMPLEMENTATION_SLOT), implV2);
      assert.equal(
        await h.rpc("eth_getStorageAt", [proxyAddr, h.IMPLEMENTATION_SLOT, "latest"]),
        ethers.zeroPadValue(implV2.toLowerCase(), 32),
      );
      const box2 = h.at("BoxV2", proxyAddr, owner);
      assert.equal(await box2.value(), 43n, "state survives the upgrade");
      assert.equal(await box2.version(), "2");
      await h.mined(box2.increment());
      assert.equal(await box2.value(), 44n);
      assert.equal(await box2.owner(), owner.address);
      const e = await h.expectCallException(box2.initialize.staticCall(5n), "re-initialize V2");
      assert.equal(e.revert.name, "InvalidInitialization");
    });

    it("upgradeToAndCall with calldata runs it in the proxy context", async () => {
      const box2 = h.at("BoxV2", proxyAddr, owner);
      const implV2b = (await h.deploy("BoxV2", owner)).address;
      await h.mined(box2.upgradeToAndCall(implV2b, h.iface("BoxV2").encodeFunctionData("increment")));
      assert.equal(await box2.value(), 45n);
      assert.equal(await slotAddress(provider, proxyAddr, h.IMPLEMENTATION_SLOT), implV2b);
    });
  });

  describe("Beacon proxies", () => {
    let beacon, beaconAddr, p1, p2, implV2;

    it("two BeaconProxies over one UpgradeableBeacon", async () => {
      const implV1 = (await h.deploy("PlainBoxV1", owner)).address;
      const d = await h.deploy("UpgradeableBeacon", owner, implV1, owner.address);
      beacon = d.contract;
      beaconAddr = d.address;
      assert.equal(await beacon.implementation(), implV1);
      const I = h.iface("PlainBoxV1");
      p1 = h.at("PlainBoxV2", (await h.deploy("BeaconProxy", owner, beaconAddr, I.encodeFunctionData("initialize", [1n]))).address, owner);
      p2 = h.at("PlainBoxV2", (await h.deploy("BeaconProxy", owner, beaconAddr, I.encodeFunctionData("initialize", [2n]))).address, owner);
      assert.equal(await p1.value(), 1n);
      assert.equal(await p2.value(), 2n);
      assert.equal(await slotAddress(provider, await p1.getAddress(), h.BEACON_SLOT), beaconAddr);
      await h.expectCallException(p1.version(), "V1 has no version()");
    });

    it("non-owner cannot upgrade the beacon", async () => {
      implV2 = (await h.deploy("PlainBoxV2", owner)).address;
      const e = await h.expectCallException(beacon.connect(user).upgradeTo.staticCall(implV2), "non-owner beacon upgrade");
      assert.equal(e.revert.name, "OwnableUnauthorizedAccount");
    });

    it("upgrading the beacon changes the behaviour of all proxies", async () => {
      await h.mined(beacon.upgradeTo(implV2));
      assert.equal(await beacon.implementation(), implV2);
      assert.equal(await p1.version(), "2");
      assert.equal(await p2.version(), "2");
      await h.mined(p1.increment());
      assert.equal(await p1.value(), 2n);
      assert.equal(await p2.value(), 2n, "proxies keep separate storage");
      await h.mined(p2.increment());
      assert.equal(await p2.value(), 3n);
    });
  });

  describe("EIP-1167 clones", () => {
    let impl, factory, factoryAddr, c1, c2;

    it("clone() creates an initialized minimal proxy", async () => {
      impl = (await h.deploy("CloneTarget", owner)).address;
      const d = await h.deploy("CloneFactory", owner, impl);
      factory = d.contract;
      factoryAddr = d.address;
      const r = await h.mined(factory.clone(5n));
      const ev = r.logs.map((l) => factory.interface.parseLog(l)).find((l) => l && l.name === "CloneCreated");
      assert.equal(ev.args.deterministic, false);
      assert.equal(ev.args.instance, ethers.getCreateAddress({ from: factoryAddr, nonce: 1 }));
      c1 = h.at("CloneTarget", ev.args.instance, owner);
      const expectedRuntime = ("0x363d3d373d3d3d363d73" + impl.slice(2) + "5af43d82803e903d91602b57fd5bf3").toLowerCase();
      assert.equal(await provider.getCode(ev.args.instance), expectedRuntime);
      assert.equal(await c1.value(), 5n);
      assert.equal(await c1.owner(), owner.address);
    });

    it("cloneDeterministic() lands on the predicted address", async () => {
      const salt = ethers.id("clone-salt");
      const initCode = "0x3d602d80600a3d3981f3363d3d373d3d3d363d73" + impl.slice(2) + "5af43d82803e903d91602b57fd5bf3";
      const predicted = ethers.getCreate2Address(factoryAddr, salt, ethers.keccak256(initCode));
      assert.equal(await factory.predict(salt), predicted);
      const r = await h.mined(factory.cloneDeterministic(salt, 6n));
      const ev = r.logs.map((l) => factory.interface.parseLog(l)).find((l) => l && l.name === "CloneCreated");
      assert.equal(ev.args.instance, predicted);
      c2 = h.at("CloneTarget", predicted, owner);
      assert.equal(await c2.value(), 6n);
      await h.expectCallException(factory.cloneDeterministic.staticCall(salt, 7n), "same salt twice");
    });

    it("clones are independent and cannot be re-initialized", async () => {
      await h.mined(c1.setValue(50n));
      assert.equal(await c1.value(), 50n);
      assert.equal(await c2.value(), 6n);
      assert.equal(await h.at("CloneTarget", impl, provider).value(), 0n);
      const e = await h.expectCallException(c2.initialize.staticCall(user.address, 1n), "re-init clone");
      assert.equal(e.revert.name, "InvalidInitialization");
      const e2 = await h.expectCallException(c1.connect(user).setValue.staticCall(1n), "non-owner setValue");
      assert.equal(e2.reason, "CloneTarget: not owner");
    });
  });

  describe("TransparentUpgradeableProxy", () => {
    let proxyAddr, adminAddr, admin;

    it("deploys its own ProxyAdmin owned by the initial owner", async () => {
      const impl = (await h.deploy("PlainBoxV1", owner)).address;
      const init = h.iface("PlainBoxV1").encodeFunctionData("initialize", [7n]);
      const d = await h.deploy("TransparentUpgradeableProxy", owner, impl, owner.address, init);
      proxyAddr = d.address;
      adminAddr = await slotAddress(provider, proxyAddr, h.ADMIN_SLOT);
      assert.notEqual(await provider.getCode(adminAddr), "0x", "ProxyAdmin deployed");
      admin = h.at("ProxyAdmin", adminAddr, owner);
      assert.equal(await admin.owner(), owner.address);
      assert.equal(await admin.UPGRADE_INTERFACE_VERSION(), "5.0.0");
      assert.equal(await slotAddress(provider, proxyAddr, h.IMPLEMENTATION_SLOT), impl);
    });

    it("user calls are delegated to the implementation", async () => {
      const box = h.at("PlainBoxV1", proxyAddr, user);
      assert.equal(await box.value(), 7n);
      await h.mined(box.setValue(8n));
      assert.equal(await box.value(), 8n);
    });

    it("only the ProxyAdmin owner can upgrade; upgrade keeps state", async () => {
      const implV2 = (await h.deploy("PlainBoxV2", owner)).address;
      const e = await h.expectCallException(admin.connect(user).upgradeAndCall.staticCall(proxyAddr, implV2, "0x"), "non-owner");
      assert.equal(e.revert.name, "OwnableUnauthorizedAccount");
      await h.mined(admin.upgradeAndCall(proxyAddr, implV2, "0x"));
      assert.equal(await slotAddress(provider, proxyAddr, h.IMPLEMENTATION_SLOT), implV2);
      const box = h.at("PlainBoxV2", proxyAddr, user);
      assert.equal(await box.version(), "2");
      assert.equal(await box.value(), 8n);
      await h.mined(box.increment());
      assert.equal(await box.value(), 9n);
    });
  });
});
