// Hardhat's node as the side-by-side peer of scripts/bench-e2e.sh: default automine, the same
// chain id, accounts and block gas limit as `rampart dev`.
module.exports = {
  networks: {
    hardhat: { chainId: 31337, blockGasLimit: 60_000_000, hardfork: "cancun" },
  },
};
