#!/usr/bin/env node
// Failover time of a local 3-node cluster: time from `kill -9` of the leader to the first block
// committed under the new leader, with transactions flowing through the survivors.
//
//   node scripts/bench-failover.js [RAMPART_BIN] [ROUNDS]
//
// RAMPART_BIN defaults to $CARGO_TARGET_DIR/release/rampart (/var/tmp/rampart-target/...).
// Each round starts a fresh `rampart up --nodes 3 --ephemeral`, waits for a leader, sends a
// steady trickle of transfers through a follower, kills the leader with SIGKILL, and measures:
//   election  = kill → a survivor names a new leader
//   first block = kill → a survivor's head passes the height it had when the new leader was
//                 named (a block the new leader committed)
// Prints one line per round and the median. Default Raft timing (100 ms ticks, election after
// 1–2 s) unless RAMPART_UP_ARGS adds a --config.
"use strict";

const { spawn, execFileSync } = require("node:child_process");
const path = require("node:path");
const ethers = require(path.join(__dirname, "..", "tests", "node_modules", "ethers"));

const BIN = process.argv[2] || path.join(process.env.CARGO_TARGET_DIR || "/var/tmp/rampart-target", "release", "rampart");
const ROUNDS = Number(process.argv[3] || 5);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function rpc(url, method, params = []) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(2000),
  });
  const j = await res.json();
  if (j.error) throw new Error(j.error.message);
  return j.result;
}

async function round(i) {
  const base = 30000 + Math.floor(Math.random() * 20000);
  const urls = [0, 1, 2].map((k) => `http://127.0.0.1:${base + k}`);
  const up = spawn(BIN, ["up", "--nodes", "3", "--ephemeral", "--rpc-port", String(base), "--peer-port", String(base + 100)], {
    stdio: "ignore",
  });
  try {
    let leader;
    for (let t = 0; t < 300 && !leader; t++) {
      try {
        leader = (await rpc(urls[0], "rampart_status")).leader;
      } catch {}
      if (!leader) await sleep(100);
    }
    if (!leader) throw new Error("no leader");
    const survivors = urls.filter((_, k) => k + 1 !== leader);
    // Steady load through a survivor.
    const provider = new ethers.JsonRpcProvider(survivors[0], undefined, { staticNetwork: true });
    const wallet = new ethers.Wallet("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d", provider);
    let nonce = await provider.getTransactionCount(wallet.address, "pending");
    let sending = true;
    const sender = (async () => {
      while (sending) {
        try {
          await wallet.sendTransaction({ to: wallet.address, value: 1n, nonce, gasLimit: 21000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n });
          nonce++;
        } catch {}
        await sleep(20);
      }
    })();
    await sleep(1000);
    const pids = execFileSync("pgrep", ["-P", String(up.pid)]).toString().trim().split(/\s+/);
    const victim = pids.find((p) => execFileSync("ps", ["-o", "args=", "-p", p]).toString().includes(`node${leader}.toml`));
    const t0 = performance.now();
    process.kill(Number(victim), "SIGKILL");
    let elected, firstBlock, heightAtElection;
    while (performance.now() - t0 < 30000 && firstBlock === undefined) {
      try {
        const st = await rpc(survivors[0], "rampart_status");
        if (elected === undefined && st.leader && st.leader !== leader) {
          elected = performance.now() - t0;
          heightAtElection = st.head.number;
        }
        if (elected !== undefined && st.head.number > heightAtElection) firstBlock = performance.now() - t0;
      } catch {}
      await sleep(10);
    }
    sending = false;
    await sender;
    provider.destroy();
    console.log(`round ${i}: leader ${leader} killed; election ${elected?.toFixed(0)} ms; first block ${firstBlock?.toFixed(0)} ms`);
    return { elected, firstBlock };
  } finally {
    up.kill("SIGINT");
    await new Promise((r) => up.on("exit", r));
  }
}

(async () => {
  const results = [];
  for (let i = 1; i <= ROUNDS; i++) results.push(await round(i));
  const med = (xs) => {
    const s = xs.filter((x) => x !== undefined).sort((a, b) => a - b);
    return s.length ? s[Math.floor(s.length / 2)] : NaN;
  };
  console.log(
    `median over ${ROUNDS} rounds: election ${med(results.map((r) => r.elected)).toFixed(0)} ms, first block under the new leader ${med(results.map((r) => r.firstBlock)).toFixed(0)} ms`,
  );
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
