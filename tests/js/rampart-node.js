// A `rampart dev` process started by a test: `$RAMPART_BIN dev --datadir D --http-addr A
// [$RAMPART_ARGS...] [extra args]`, stopped with a signal, started again on the same datadir.
"use strict";

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");
const h = require("./helpers");
const { assert } = h;

const BIN = process.env.RAMPART_BIN;
const EXTRA_ARGS = (process.env.RAMPART_ARGS || "").split(/\s+/).filter(Boolean);
const START_TIMEOUT_MS = Number(process.env.RAMPART_START_TIMEOUT_MS || 60_000);

/** Native contracts: the deployer, and the static artefacts scripts/build-native.sh writes to
 *  $RAMPART_NATIVE_DIR (default $CARGO_TARGET_DIR/native-static). */
const DEPLOYER = "0x0000000000000000000000000000000000ef524e";
const NATIVE_DIR =
  process.env.RAMPART_NATIVE_DIR ||
  path.join(process.env.CARGO_TARGET_DIR || "/var/tmp/rampart-target", "native-static");
const NATIVE_REL = path.join(NATIVE_DIR, "x86_64-unknown-linux-gnu", "release");
/** RAMPART_NATIVE_BACKEND=process runs native tests without gVisor (development only). */
const NATIVE_BACKEND = process.env.RAMPART_NATIVE_BACKEND || "gvisor";

/** The bytes of a native artefact, `rel` to NATIVE_DIR. */
function nativeBinary(rel) {
  const file = path.join(NATIVE_DIR, rel);
  assert.ok(fs.existsSync(file), `${file} missing: run scripts/build-native.sh`);
  return fs.readFileSync(file);
}

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/* Ports for nodes a test names before they bind. Binding port 0 and closing it races: until the
 * node binds the port, another test file (`node --test` runs files in parallel where there are
 * cores for it) may get it from the kernel for its own bind(0) or an outgoing connection. These
 * ports come from below the kernel's ephemeral range, which it never hands out by itself, and
 * each is claimed across processes by creating a file exclusively (claims expire after an
 * hour). The Rust tests' allocator (cluster/testkit) hands out 15000-29999; these start at 30000. */
const CLAIMS = path.join(require("node:os").tmpdir(), "rampart-test-port-claims");
const PORTS_START = 30_000;
const CLAIM_TTL_MS = 3_600_000;

function ephemeralLow() {
  try {
    const low = Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0]);
    return low > 0 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/** Claims `port` for this process; false if a live claim exists. */
function claim(port) {
  fs.mkdirSync(CLAIMS, { recursive: true });
  const file = path.join(CLAIMS, String(port));
  const create = () => fs.closeSync(fs.openSync(file, "wx"));
  try {
    create();
    return true;
  } catch (e) {
    if (e.code !== "EEXIST") throw e;
  }
  try {
    if (Date.now() - fs.statSync(file).mtimeMs < CLAIM_TTL_MS) return false;
    fs.unlinkSync(file);
    create();
    return true;
  } catch {
    return false;
  }
}

/** A base port with `n` free consecutive ports (rampart up numbers its nodes' ports from it). */
async function freeRange(n) {
  const span = ephemeralLow() - PORTS_START - n;
  for (let attempt = 0; attempt < 500; attempt++) {
    // Where the ephemeral range starts too low for a range of our own, any port may do.
    const base = span > 100 ? PORTS_START + Math.floor(Math.random() * span) : 20_000 + Math.floor(Math.random() * 40_000);
    const claimed = [];
    let ok = true;
    for (let i = 0; i < n && ok; i++) {
      ok = claim(base + i);
      if (ok) {
        claimed.push(base + i);
        ok = await portFree(base + i);
      }
    }
    if (ok) return base;
    for (const p of claimed) fs.rmSync(path.join(CLAIMS, String(p)), { force: true });
  }
  throw new Error("no free port range");
}

function freePort() {
  return freeRange(1);
}

/** One rampart process on a fixed datadir/port; can be stopped and started again. */
class RampartNode {
  constructor(datadir, port, extraArgs = []) {
    this.extraArgs = extraArgs;
    this.datadir = datadir;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.logFile = path.join(datadir, "..", path.basename(datadir) + ".log");
    this.child = null;
    this.starts = 0;
  }

  logTail(n = 60) {
    try {
      return fs.readFileSync(this.logFile, "utf8").split("\n").slice(-n).join("\n");
    } catch {
      return "(no log)";
    }
  }

  async start() {
    this.starts++;
    const args = ["dev", "--datadir", this.datadir, "--http-addr", `127.0.0.1:${this.port}`, ...EXTRA_ARGS, ...this.extraArgs];
    fs.appendFileSync(this.logFile, `\n===== start #${this.starts}: ${BIN} ${args.join(" ")}\n`);
    const out = fs.openSync(this.logFile, "a");
    const child = spawn(BIN, args, { stdio: ["ignore", out, out], env: process.env });
    fs.closeSync(out);
    this.child = child;
    child.exitInfo = null;
    child.exited = new Promise((resolve) => {
      child.on("exit", (code, signal) => {
        child.exitInfo = { code, signal };
        resolve(child.exitInfo);
      });
      child.on("error", (err) => {
        child.exitInfo = { error: err };
        resolve(child.exitInfo);
      });
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (child.exitInfo) {
        assert.fail(`rampart exited during startup ${JSON.stringify(child.exitInfo)}\n${this.logTail()}`);
      }
      try {
        const res = await h.rpcRaw("eth_chainId", [], this.url);
        if (res.result) {
          assert.equal(res.result, "0x7a69");
          return;
        }
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) assert.fail(`rampart did not answer eth_chainId within ${START_TIMEOUT_MS} ms\n${this.logTail()}`);
      await h.sleep(200);
    }
  }

  /** Sends `signal` and waits for the process to exit. */
  async stop(signal, timeoutMs = 30_000) {
    const child = this.child;
    if (!child || child.exitInfo) return child && child.exitInfo;
    child.kill(signal);
    let timer;
    const res = await Promise.race([
      child.exited,
      new Promise((r) => (timer = setTimeout(() => r(null), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!res) {
      child.kill("SIGKILL");
      await child.exited;
      assert.fail(`rampart did not exit within ${timeoutMs} ms after ${signal}\n${this.logTail()}`);
    }
    this.child = null;
    return res;
  }
}

module.exports = {
  RampartNode,
  freePort,
  freeRange,
  BIN,
  DEPLOYER,
  NATIVE_DIR,
  NATIVE_REL,
  NATIVE_BACKEND,
  nativeBinary,
};
