// `hardhat run --no-compile --network rampart deploy.js`: deploys the OpenZeppelin ERC-20 from
// the committed artifacts with the node's remote accounts, transfers, signs a message.
const hre = require("hardhat");
const path = require("node:path");
const fs = require("node:fs");

function artifact(name) {
  return JSON.parse(fs.readFileSync(path.join(__dirname, "..", "contracts", "artifacts", `${name}.json`), "utf8"));
}

async function main() {
  const [owner, alice] = await hre.ethers.getSigners();
  if (!owner || !alice) throw new Error("the node offered no accounts");
  const { abi, bytecode } = artifact("Token");
  const token = await new hre.ethers.ContractFactory(abi, bytecode, owner).deploy(1000n);
  await token.waitForDeployment();
  const tx = await token.transfer(alice.address, 250n);
  const receipt = await tx.wait();
  if (receipt.status !== 1) throw new Error("transfer failed");
  const balance = await token.balanceOf(alice.address);
  if (balance !== 250n) throw new Error(`alice has ${balance}, want 250`);
  const message = "rampart";
  const signature = await owner.signMessage(message);
  if (hre.ethers.verifyMessage(message, signature) !== owner.address) throw new Error("signature does not recover");
  console.log(`OK token=${await token.getAddress()} alice=${balance}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
