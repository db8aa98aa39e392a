#!/usr/bin/env node
// Compiles tests/contracts/*.sol with solcjs (standard JSON) and writes
// tests/contracts/artifacts/<ContractName>.json = { contractName, abi, bytecode, deployedBytecode }.
//
// Settings: optimizer on (200 runs), evmVersion "cancun". Imports of "@openzeppelin/..." are
// resolved from tests/node_modules. Output is deterministic: sources are fed in sorted order,
// artifacts are written with a fixed key order and stale artifacts are removed.
//
// Usage: (cd tests && npm run compile)   or   node tests/contracts/compile.js [--check]
//   --check  compile into memory and exit 1 if any committed artifact differs (CI drift check)
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const CONTRACTS_DIR = __dirname;
const TESTS_DIR = path.resolve(CONTRACTS_DIR, "..");
const NODE_MODULES = path.join(TESTS_DIR, "node_modules");
const ARTIFACTS_DIR = path.join(CONTRACTS_DIR, "artifacts");
const EXPECTED_SOLC = require(path.join(TESTS_DIR, "package.json")).devDependencies.solc;

// Library contracts compiled through Imports.sol that also get artifacts.
const EXTRA_ARTIFACTS = new Set([
  "ERC1967Proxy",
  "UpgradeableBeacon",
  "BeaconProxy",
  "TransparentUpgradeableProxy",
  "ProxyAdmin",
]);

function findImports(importPath) {
  if (importPath.startsWith("@openzeppelin/")) {
    const file = path.join(NODE_MODULES, importPath);
    if (fs.existsSync(file)) return { contents: fs.readFileSync(file, "utf8") };
    return { error: `not found in node_modules: ${importPath}` };
  }
  const local = path.join(CONTRACTS_DIR, importPath);
  if (fs.existsSync(local)) return { contents: fs.readFileSync(local, "utf8") };
  return { error: `import not found: ${importPath}` };
}

function compile() {
  const version = solc.version();
  if (!version.startsWith(EXPECTED_SOLC + "+")) {
    throw new Error(`solc ${version} loaded, package.json pins ${EXPECTED_SOLC}; run npm ci`);
  }
  const files = fs
    .readdirSync(CONTRACTS_DIR)
    .filter((f) => f.endsWith(".sol"))
    .sort();
  const sources = {};
  for (const f of files) sources[f] = { content: fs.readFileSync(path.join(CONTRACTS_DIR, f), "utf8") };

  const input = {
    language: "Solidity",
    sources,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "cancun",
      outputSelection: {
        "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
      },
    },
  };

  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) {
    if (e.severity !== "error" && process.env.SOLC_SHOW_WARNINGS) console.warn(e.formattedMessage);
  }
  if (errors.length) {
    for (const e of errors) console.error(e.formattedMessage);
    throw new Error(`solc reported ${errors.length} error(s)`);
  }

  const artifacts = new Map();
  for (const sourceName of Object.keys(output.contracts).sort()) {
    const isLocal = Object.prototype.hasOwnProperty.call(sources, sourceName);
    for (const name of Object.keys(output.contracts[sourceName]).sort()) {
      if (!isLocal && !EXTRA_ARTIFACTS.has(name)) continue;
      const c = output.contracts[sourceName][name];
      const bytecode = c.evm.bytecode.object;
      // skip interfaces / abstract contracts (no bytecode) but keep everything deployable
      if (!bytecode) continue;
      if (artifacts.has(name)) throw new Error(`duplicate contract name ${name} (${sourceName})`);
      artifacts.set(name, {
        contractName: name,
        sourceName,
        compiler: `solc-${version}`,
        abi: c.abi,
        bytecode: "0x" + bytecode,
        deployedBytecode: "0x" + c.evm.deployedBytecode.object,
      });
    }
  }
  for (const n of EXTRA_ARTIFACTS) if (!artifacts.has(n)) throw new Error(`missing artifact ${n}`);
  return artifacts;
}

function serialize(a) {
  return JSON.stringify(a, null, 2) + "\n";
}

function main() {
  const check = process.argv.includes("--check");
  const artifacts = compile();
  const wanted = new Map([...artifacts].map(([n, a]) => [`${n}.json`, serialize(a)]));
  const existing = fs.existsSync(ARTIFACTS_DIR)
    ? fs.readdirSync(ARTIFACTS_DIR).filter((f) => f.endsWith(".json"))
    : [];

  if (check) {
    let drift = 0;
    for (const [file, text] of wanted) {
      const p = path.join(ARTIFACTS_DIR, file);
      if (!fs.existsSync(p) || fs.readFileSync(p, "utf8") !== text) {
        console.error(`artifact out of date: ${file}`);
        drift++;
      }
    }
    for (const f of existing) if (!wanted.has(f)) { console.error(`stale artifact: ${f}`); drift++; }
    if (drift) process.exit(1);
    console.log(`${wanted.size} artifacts up to date`);
    return;
  }

  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  for (const f of existing) if (!wanted.has(f)) fs.unlinkSync(path.join(ARTIFACTS_DIR, f));
  for (const [file, text] of wanted) fs.writeFileSync(path.join(ARTIFACTS_DIR, file), text);
  console.log(`wrote ${wanted.size} artifacts to ${path.relative(process.cwd(), ARTIFACTS_DIR) || "."}:`);
  console.log("  " + [...wanted.keys()].map((f) => f.replace(/\.json$/, "")).join(", "));
}

main();
