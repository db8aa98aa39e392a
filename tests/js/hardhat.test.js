// A stock Hardhat project (tests/hardhat-project) runs a script against the node under test
// with Hardhat's default remote accounts: getSigners(), deploy, transfer, signMessage.
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync } = require("node:child_process");
const path = require("node:path");
const h = require("./helpers");

describe("Hardhat project with remote accounts", () => {
  it("hardhat run deploys and transfers an ERC-20 through the node's accounts", () => {
    const dir = path.join(__dirname, "..", "hardhat-project");
    const cli = path.join(__dirname, "..", "node_modules", "hardhat", "internal", "cli", "cli.js");
    const r = spawnSync(process.execPath, [cli, "run", "--no-compile", "--network", "rampart", "deploy.js"], {
      cwd: dir,
      env: { ...process.env, RAMPART_RPC_URL: h.RPC_URL, HARDHAT_DISABLE_TELEMETRY_PROMPT: "true" },
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(r.status, 0, `hardhat run failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^OK token=0x[0-9a-fA-F]{40} alice=250$/m);
  });
});
