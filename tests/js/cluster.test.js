// 13. A 3-node Raft cluster (Rampart only). Starts its OWN cluster:
//       $RAMPART_BIN up --nodes 3 --ephemeral --rpc-port P --peer-port Q
//     - ethers deploys an OpenZeppelin ERC-20 through node 1, transfers through node 2, reads
//       through node 3; a UUPS proxy is deployed, upgraded and read through different nodes;
//     - the leader is killed with SIGKILL: transfers continue through the survivors;
//     - Ctrl-C (SIGINT) on `rampart up` stops every node.
//
// RAMPART_BIN must be set (the runner always sets it). Without it this file FAILS on purpose.
"use strict";

const { describe, it, before, after } = require("node:test");
const { spawn, execFileSync } = require("node:child_process");
const h = require("./helpers");
const { freeRange } = require("./rampart-node");
const { ethers, assert } = h;

const BIN = process.env.RAMPART_BIN;
const START_TIMEOUT_MS = Number(process.env.RAMPART_START_TIMEOUT_MS || 90_000);

describe("3-node cluster through ethers", () => {
  let up, urls, providers, log = "";

  async function status(url) {
    return h.rpc("rampart_status", [], url);
  }

  async function leaderId() {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const ids = [];
      for (const u of urls) {
        try {
          const s = await status(u);
          if (s.leader != null) ids.push(s.leader);
        } catch {}
      }
      if (ids.length > 0 && ids.every((x) => x === ids[0])) return ids[0];
      assert.ok(Date.now() < deadline, `no agreed leader\n${log.slice(-4000)}`);
      await h.sleep(200);
    }
  }

  before(async () => {
    assert.ok(BIN, "RAMPART_BIN must point at the rampart binary");
    const rpcPort = await freeRange(3);
    const peerPort = await freeRange(3);
    urls = [0, 1, 2].map((i) => `http://127.0.0.1:${rpcPort + i}`);
    up = spawn(BIN, ["up", "--nodes", "3", "--ephemeral", "--rpc-port", String(rpcPort), "--peer-port", String(peerPort)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    up.stdout.on("data", (d) => (log += d));
    up.stderr.on("data", (d) => (log += d));
    up.exited = new Promise((resolve) => up.on("exit", (code, signal) => resolve({ code, signal })));
    providers = urls.map((u) => h.makeProvider(u));
    await leaderId();
  });

  after(async () => {
    for (const p of providers || []) p.destroy();
    if (up && up.exitCode === null) {
      up.kill("SIGKILL");
    }
  });

  let token, tokenAddr;
  it("deploys an OpenZeppelin ERC-20 through node 1 and sees it on every node", async () => {
    const owner = h.wallet(0, providers[0]);
    const d = await h.deploy("Token", owner, ethers.parseEther("1000000"));
    tokenAddr = d.address;
    token = d.contract;
    for (const p of providers) {
      const deadline = Date.now() + 30_000;
      while ((await p.getCode(tokenAddr)) === "0x") {
        assert.ok(Date.now() < deadline, "code replicated");
        await h.sleep(100);
      }
      assert.equal(await h.at("Token", tokenAddr, p).totalSupply(), ethers.parseEther("1000000"));
    }
  });

  it("transfers through node 2, reads through node 3, same receipt everywhere", async () => {
    const owner = h.wallet(0, providers[1]);
    const to = ethers.Wallet.createRandom().address;
    const r = await h.mined(h.at("Token", tokenAddr, owner).transfer(to, 1234n));
    assert.equal(r.status, 1);
    const t3 = h.at("Token", tokenAddr, providers[2]);
    const deadline = Date.now() + 30_000;
    while ((await t3.balanceOf(to)) !== 1234n) {
      assert.ok(Date.now() < deadline, "balance replicated to node 3");
      await h.sleep(100);
    }
    for (const p of providers) {
      const rr = await h.waitReceipt(p, r.hash);
      assert.equal(rr.blockHash, r.blockHash);
      assert.equal(rr.index, r.index);
    }
  });

  it("UUPS proxy: deploy through node 1, upgrade through node 3, state kept on every node", async () => {
    const owner1 = h.wallet(1, providers[0]);
    const implV1 = (await h.deploy("BoxV1", owner1)).address;
    const init = h.iface("BoxV1").encodeFunctionData("initialize", [42n]);
    const proxy = (await h.deploy("ERC1967Proxy", owner1, implV1, init)).address;
    const owner3 = h.wallet(1, providers[2]);
    const implV2 = (await h.deploy("BoxV2", owner3)).address;
    await h.mined(h.at("BoxV1", proxy, owner3).upgradeToAndCall(implV2, "0x"));
    for (const p of providers) {
      const box = h.at("BoxV2", proxy, p);
      const deadline = Date.now() + 30_000;
      for (;;) {
        try {
          if ((await box.version()) === "2") break;
        } catch {}
        assert.ok(Date.now() < deadline, "upgrade replicated");
        await h.sleep(100);
      }
      assert.equal(await box.value(), 42n);
    }
  });

  it("kill -9 of the leader: a new leader takes over and transfers continue", async () => {
    const leader = await leaderId();
    const statuses = await Promise.all(urls.map((u) => status(u)));
    // The leader's process: the `up` child whose node id is `leader`.
    const pids = execFileSync("pgrep", ["-P", String(up.pid)]).toString().trim().split(/\s+/).map(Number);
    let killed = false;
    for (const pid of pids) {
      const cmd = execFileSync("ps", ["-o", "args=", "-p", String(pid)]).toString();
      if (cmd.includes(`node${leader}.toml`)) {
        process.kill(pid, "SIGKILL");
        killed = true;
      }
    }
    assert.ok(killed, `found the leader's process among ${pids} (${JSON.stringify(statuses.map((s) => s.id))})`);
    const survivors = [0, 1, 2].filter((i) => i + 1 !== leader);
    const deadline = Date.now() + 60_000;
    let newLeader;
    for (;;) {
      try {
        const s = await status(urls[survivors[0]]);
        if (s.leader != null && s.leader !== leader) {
          newLeader = s.leader;
          break;
        }
      } catch {}
      assert.ok(Date.now() < deadline, `no new leader\n${log.slice(-4000)}`);
      await h.sleep(200);
    }
    assert.notEqual(newLeader, leader);
    const sender = h.wallet(2, providers[survivors[1]]);
    const to = ethers.Wallet.createRandom().address;
    const r = await h.mined(sender.sendTransaction({ to, value: 777n }));
    assert.equal(r.status, 1);
    assert.equal(await providers[survivors[0]].getBalance(to), 777n);
  });

  it("Ctrl-C stops the whole cluster", async () => {
    up.kill("SIGINT");
    const res = await Promise.race([up.exited, h.sleep(30_000).then(() => null)]);
    assert.ok(res, "rampart up exited after SIGINT");
    assert.equal(res.code, 0, `exit status\n${log.slice(-2000)}`);
  });
});
