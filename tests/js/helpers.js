// Shared helpers for the Rampart ethers v6 end-to-end suite.
//
// Environment:
//   RAMPART_RPC_URL  HTTP JSON-RPC endpoint (default http://127.0.0.1:8545)
//   RAMPART_WS_URL   WebSocket endpoint     (default ws://127.0.0.1:8545, same port as HTTP)
//
// Account allocation (standard "test ... junk" mnemonic, all prefunded with 10000 ETH). Test files
// may run concurrently against one shared node, so every file owns distinct accounts:
//   0 chain, 1 transfers, 2 batching, 3 counter (+events), 4 reverts, 5 gas, 6 evm (factory+cancun),
//   7 openzeppelin, 8 websocket, 9 badinput; extra signers are fresh random wallets funded by the
//   file's own account. Accounts 10..19 belong to the web3.py suite (tests/py), which may run at
//   the same time; restart.test.js runs its own node and uses accounts 0 and 1 there.
"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const ethers = require("ethers");

const RPC_URL = process.env.RAMPART_RPC_URL || "http://127.0.0.1:8545";
const WS_URL = process.env.RAMPART_WS_URL || "ws://127.0.0.1:8545";
const MNEMONIC = "test test test test test test test test test test test junk";
const CHAIN_ID = 31337n;
const TX_TIMEOUT_MS = Number(process.env.RAMPART_TX_TIMEOUT_MS || 60_000);
const ARTIFACTS_DIR = path.join(__dirname, "..", "contracts", "artifacts");

// ERC-1967 storage slots
const IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";
const ADMIN_SLOT = "0xb53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103";
const BEACON_SLOT = "0xa3f0ad74e5423aebfd80d3ef4346578335a9a72aeaee59ff6cb3582b35133d50";

/** JsonRpcProvider tuned for tests: no request batching, no caching, fast polling. */
function makeProvider(url = RPC_URL) {
  return new ethers.JsonRpcProvider(url, Number(CHAIN_ID), {
    staticNetwork: true,
    batchMaxCount: 1,
    cacheTimeout: -1,
    pollingInterval: 200,
  });
}

function makeWsProvider(url = WS_URL) {
  return new ethers.WebSocketProvider(url, Number(CHAIN_ID), { staticNetwork: true, cacheTimeout: -1 });
}

/** HD account `i` of the test mnemonic, connected to `provider`. */
function wallet(i, provider) {
  const w = ethers.HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`);
  return provider ? w.connect(provider) : w;
}

function randomWallet(provider) {
  const w = ethers.Wallet.createRandom();
  return provider ? w.connect(provider) : w;
}

// ---------------------------------------------------------------------------------------------
// raw JSON-RPC (fetch) so tests see the exact response / error object

let rpcId = 1000;

/** POST a raw body; returns { status, text, json } (json undefined if unparsable). */
async function rawPost(body, url = RPC_URL) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** Full JSON-RPC response object ({ jsonrpc, id, result } or { ..., error }). */
async function rpcRaw(method, params = [], url = RPC_URL) {
  const id = rpcId++;
  const { json, text, status } = await rawPost({ jsonrpc: "2.0", id, method, params }, url);
  assert.ok(json && typeof json === "object", `non-JSON response (HTTP ${status}) to ${method}: ${text}`);
  return json;
}

/** Result of a JSON-RPC call; throws (with the error object attached) on error. */
async function rpc(method, params = [], url = RPC_URL) {
  const res = await rpcRaw(method, params, url);
  if (res.error) {
    const e = new Error(`${method} failed: ${JSON.stringify(res.error)}`);
    e.rpcError = res.error;
    throw e;
  }
  return res.result;
}

/** The JSON-RPC error object of a call that must fail. */
async function rpcError(method, params = [], url = RPC_URL) {
  const res = await rpcRaw(method, params, url);
  assert.ok(res.error, `${method} was expected to fail but returned ${JSON.stringify(res.result)}`);
  assert.equal(typeof res.error.code, "number", `error.code must be a number: ${JSON.stringify(res.error)}`);
  assert.equal(typeof res.error.message, "string", `error.message must be a string: ${JSON.stringify(res.error)}`);
  return res.error;
}

let clientVersionCache;
async function clientVersion(url = RPC_URL) {
  if (clientVersionCache === undefined) clientVersionCache = String(await rpc("web3_clientVersion", [], url));
  return clientVersionCache;
}

/**
 * True when the node under test is Rampart (web3_clientVersion starts with "rampart").
 * Assertions guarded by this are geth-shaped behaviours Rampart implements but Hardhat does not.
 */
async function isRampart(url = RPC_URL) {
  return (await clientVersion(url)).toLowerCase().startsWith("rampart");
}

/** The node must still answer eth_blockNumber (used after every bad input). */
async function assertAlive(url = RPC_URL) {
  const res = await rpcRaw("eth_blockNumber", [], url);
  assert.ok(res.result && /^0x[0-9a-f]+$/.test(res.result), `node not answering: ${JSON.stringify(res)}`);
}

// ---------------------------------------------------------------------------------------------
// artifacts / deployment

const artifactCache = new Map();
function artifact(name) {
  if (!artifactCache.has(name)) {
    const file = path.join(ARTIFACTS_DIR, `${name}.json`);
    artifactCache.set(name, JSON.parse(fs.readFileSync(file, "utf8")));
  }
  return artifactCache.get(name);
}

function iface(name) {
  return new ethers.Interface(artifact(name).abi);
}

function factoryFor(name, signer) {
  const a = artifact(name);
  return new ethers.ContractFactory(a.abi, a.bytecode, signer);
}

/** Deploys `name`; returns { contract, address, receipt, tx }. Last arg may be an overrides object. */
async function deploy(name, signer, ...args) {
  const contract = await factoryFor(name, signer).deploy(...args);
  const tx = contract.deploymentTransaction();
  const receipt = await tx.wait(1, TX_TIMEOUT_MS);
  assert.equal(receipt.status, 1, `deployment of ${name} failed`);
  const address = await contract.getAddress();
  assert.equal(receipt.contractAddress, address, `${name}: receipt.contractAddress mismatch`);
  return { contract, address, receipt, tx };
}

/** Contract instance of artifact `name` at `address`. */
function at(name, address, runner) {
  return new ethers.Contract(address, artifact(name).abi, runner);
}

/** Awaits a TransactionResponse (or a promise of one) and returns its receipt; throws if status 0. */
async function mined(txOrPromise) {
  const tx = await txOrPromise;
  const receipt = await tx.wait(1, TX_TIMEOUT_MS);
  assert.ok(receipt, `no receipt for ${tx.hash}`);
  return receipt;
}

/** Receipt for a hash without throwing on status 0. */
async function waitReceipt(provider, hash, timeout = TX_TIMEOUT_MS) {
  const r = await provider.waitForTransaction(hash, 1, timeout);
  assert.ok(r, `no receipt for ${hash} within ${timeout} ms`);
  return r;
}

/** Fee fields for an EIP-1559 tx that will be accepted for the next several blocks. */
async function fees(provider) {
  const block = await provider.getBlock("latest");
  const tip = ethers.parseUnits("1", "gwei");
  const base = block.baseFeePerGas ?? 0n;
  return { maxPriorityFeePerGas: tip, maxFeePerGas: base * 2n + tip };
}

/** Legacy gas price that is above the current base fee. */
async function legacyGasPrice(provider) {
  const block = await provider.getBlock("latest");
  return (block.baseFeePerGas ?? 0n) * 2n + ethers.parseUnits("1", "gwei");
}

/** Funds fresh random wallets from `funder` (explicit nonces, sent concurrently). */
async function fundRandomWallets(funder, provider, count, amount = ethers.parseEther("1")) {
  const wallets = Array.from({ length: count }, () => randomWallet(provider));
  const nonce = await provider.getTransactionCount(funder.address, "pending");
  const f = await fees(provider);
  const txs = await Promise.all(
    wallets.map((w, i) =>
      funder.sendTransaction({ to: w.address, value: amount, nonce: nonce + i, gasLimit: 21000n, ...f }),
    ),
  );
  const receipts = await Promise.all(txs.map((t) => t.wait(1, TX_TIMEOUT_MS)));
  for (const r of receipts) assert.equal(r.status, 1);
  return { wallets, receipts };
}

// ---------------------------------------------------------------------------------------------
// errors

/** Extracts revert bytes from a raw JSON-RPC error object (geth: error.data is the hex string). */
function revertDataOf(err) {
  if (!err) return undefined;
  if (typeof err.data === "string") return err.data;
  if (err.data && typeof err.data === "object") {
    if (typeof err.data.data === "string") return err.data.data;
    if (typeof err.data.result === "string") return err.data.result;
  }
  return undefined;
}

/** Awaits a promise that must reject with an ethers CALL_EXCEPTION; returns the error. */
async function expectCallException(promise, what = "call") {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `${what} should have reverted`);
  assert.equal(err.code, "CALL_EXCEPTION", `${what}: expected CALL_EXCEPTION, got ${err.code}: ${err.message}`);
  return err;
}

/** Awaits a promise that must reject; returns the error. */
async function expectReject(promise, what = "operation") {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail(`${what} should have failed`);
}

function encodeRevertString(msg) {
  return "0x08c379a0" + ethers.AbiCoder.defaultAbiCoder().encode(["string"], [msg]).slice(2);
}

function encodePanic(code) {
  return "0x4e487b71" + ethers.AbiCoder.defaultAbiCoder().encode(["uint256"], [code]).slice(2);
}

// ---------------------------------------------------------------------------------------------
// misc

/** Opcodes present in EVM bytecode (PUSH data skipped). */
function opcodes(hex) {
  const code = ethers.getBytes(hex);
  const ops = new Set();
  for (let i = 0; i < code.length; i++) {
    const op = code[i];
    ops.add(op);
    if (op >= 0x60 && op <= 0x7f) i += op - 0x5f;
  }
  return ops;
}

function isQuantity(v) {
  return typeof v === "string" && /^0x(0|[1-9a-f][0-9a-f]*)$/.test(v);
}

function isData(v, bytes) {
  if (typeof v !== "string" || !/^0x([0-9a-f]{2})*$/.test(v)) return false;
  return bytes === undefined || v.length === 2 + 2 * bytes;
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a truthy value or the timeout expires. */
async function waitFor(fn, { timeout = TX_TIMEOUT_MS, interval = 200, what = "condition" } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(interval);
  }
}

module.exports = {
  ethers,
  assert,
  RPC_URL,
  WS_URL,
  MNEMONIC,
  CHAIN_ID,
  TX_TIMEOUT_MS,
  IMPLEMENTATION_SLOT,
  ADMIN_SLOT,
  BEACON_SLOT,
  makeProvider,
  makeWsProvider,
  wallet,
  randomWallet,
  rawPost,
  rpcRaw,
  rpc,
  rpcError,
  clientVersion,
  isRampart,
  assertAlive,
  artifact,
  iface,
  factoryFor,
  deploy,
  at,
  mined,
  waitReceipt,
  fees,
  legacyGasPrice,
  fundRandomWallets,
  revertDataOf,
  expectCallException,
  expectReject,
  encodeRevertString,
  encodePanic,
  opcodes,
  isQuantity,
  isData,
  sleep,
  waitFor,
};
