// Hardhat's node as the side-by-side peer of scripts/bench-e2e.sh, set up like `rampart dev`:
// a block every 100 ms holding whatever waits (automine would refuse queued nonces), the same
// chain id, accounts and block gas limit.
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      blockGasLimit: 60_000_000,
      hardfork: "cancun",
      mining: { auto: false, interval: 100 },
    },
  },
};
