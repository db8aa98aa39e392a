// A stock Hardhat project pointed at a Rampart dev node with Hardhat's defaults: the network
// has no `accounts`, so Hardhat asks the node (eth_accounts) and lets it sign
// (eth_sendTransaction, personal_sign) — exactly as it does with `hardhat node` or Anvil.
require("@nomicfoundation/hardhat-ethers");

module.exports = {
  networks: {
    rampart: { url: process.env.RAMPART_RPC_URL || "http://127.0.0.1:8545" },
  },
};
