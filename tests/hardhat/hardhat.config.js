// Minimal Hardhat config used ONLY to validate the JS suite / compare behaviour side by side
// with Rampart (`cd tests/hardhat && npx hardhat node --hostname 127.0.0.1 --port 8545`).
// Interval mining (no automine) mimics Rampart's batch-per-block-interval block production.
module.exports = {
  paths: { sources: "./no-sources", cache: "./cache", artifacts: "./hh-artifacts" },
  networks: {
    hardhat: {
      chainId: 31337,
      hardfork: "cancun",
      mining: {
        auto: false,
        interval: Number(process.env.HARDHAT_MINING_INTERVAL_MS || 1000),
      },
      // default accounts: "test test ... junk", 20 accounts, 10000 ETH each
    },
  },
};
