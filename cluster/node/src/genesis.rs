//! Genesis: a geth-style `genesis.json`, or the built-in development genesis whose accounts are
//! the well-known test-mnemonic accounts that Hardhat and Anvil prefund.

use alloy_genesis::Genesis;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_signer_local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use rampart_evm::ChainConfig;
use rampart_primitives::{
    Account, AccountWrite, BlockHeader, ExecutedBlock, KECCAK_EMPTY, WriteSet,
    commitment::state_commitment,
};

/// The mnemonic Hardhat, Anvil and Foundry use for their development accounts.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";
/// Chain id of the development chain (Hardhat's and Anvil's, so tool defaults work).
pub const DEV_CHAIN_ID: u64 = 31337;
/// Number of prefunded development accounts.
pub const DEV_ACCOUNTS: u32 = 20;
/// Block gas limit of the development chain.
pub const DEV_GAS_LIMIT: u64 = 60_000_000;
/// Base fee of the development chain (1 gwei).
pub const DEV_BASE_FEE: u64 = 1_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    #[error("cannot read genesis file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("genesis file {path} is not valid genesis JSON: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("invalid genesis: {0}")]
    Invalid(String),
}

/// The development accounts (signers), in order.
pub fn dev_signers() -> Vec<PrivateKeySigner> {
    (0..DEV_ACCOUNTS)
        .map(|i| {
            MnemonicBuilder::<English>::default()
                .phrase(DEV_MNEMONIC)
                .index(i)
                .and_then(|b| b.build())
                .expect("the development mnemonic and index are valid")
        })
        .collect()
}

/// The built-in development genesis: chain id 31337, Prague from genesis, 20 accounts with
/// 10,000 ETH each, 60M gas per block, 1 gwei base fee.
pub fn dev_genesis() -> Genesis {
    let mut g = Genesis::default();
    g.config.chain_id = DEV_CHAIN_ID;
    g.config.london_block = Some(0);
    g.config.shanghai_time = Some(0);
    g.config.cancun_time = Some(0);
    g.config.prague_time = Some(0);
    g.config.terminal_total_difficulty = Some(U256::ZERO);
    g.gas_limit = DEV_GAS_LIMIT;
    g.base_fee_per_gas = Some(DEV_BASE_FEE as u128);
    g.extra_data = Bytes::from_static(b"rampart dev");
    let balance = U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18u64));
    for s in dev_signers() {
        g.alloc.insert(
            s.address(),
            alloy_genesis::GenesisAccount {
                balance,
                ..Default::default()
            },
        );
    }
    g
}

pub fn load_genesis(path: &std::path::Path) -> Result<Genesis, GenesisError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| GenesisError::Read {
        path: p.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| GenesisError::Parse { path: p, source })
}

/// Chain parameters that stay fixed for the life of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSpec {
    pub chain: ChainConfig,
    pub gas_limit: u64,
    /// Rampart keeps the base fee fixed at its genesis value: a consortium chain has no fee
    /// market to clear, and a fixed price keeps pre-signed load and cost estimates valid.
    pub base_fee: u64,
    pub coinbase: Address,
}

/// Checks a genesis and turns it into the chain spec and block 0.
pub fn build_genesis(g: &Genesis) -> Result<(ChainSpec, ExecutedBlock), GenesisError> {
    let c = &g.config;
    if c.chain_id == 0 {
        return Err(GenesisError::Invalid(
            "config.chainId must be set and non-zero".into(),
        ));
    }
    if c.cancun_time.is_some_and(|t| t > g.timestamp) {
        return Err(GenesisError::Invalid(
            "Rampart chains run Cancun or later from genesis: set config.cancunTime to 0".into(),
        ));
    }
    if g.gas_limit < 21_000 {
        return Err(GenesisError::Invalid(format!(
            "gasLimit {} is below 21000",
            g.gas_limit
        )));
    }
    let base_fee = g.base_fee_per_gas.unwrap_or(0);
    let base_fee = u64::try_from(base_fee).map_err(|_| {
        GenesisError::Invalid(format!("baseFeePerGas {base_fee} does not fit 64 bits"))
    })?;
    let spec = ChainSpec {
        chain: ChainConfig {
            chain_id: c.chain_id,
            prague_time: c.prague_time,
            osaka_time: c.osaka_time,
        },
        gas_limit: g.gas_limit,
        base_fee,
        coinbase: g.coinbase,
    };

    let mut ws = WriteSet::default();
    for (address, acc) in &g.alloc {
        let code_hash = match &acc.code {
            Some(code) if !code.is_empty() => {
                let h = keccak256(code);
                ws.codes.insert(h, code.clone());
                h
            }
            _ => KECCAK_EMPTY,
        };
        let storage = acc
            .storage
            .iter()
            .flatten()
            .filter(|(_, v)| !v.is_zero())
            .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)))
            .collect();
        ws.accounts.insert(
            *address,
            AccountWrite {
                info: Some(Account {
                    nonce: acc.nonce.unwrap_or(0),
                    balance: acc.balance,
                    code_hash,
                }),
                storage_cleared: false,
                storage,
            },
        );
    }
    let receipts_root = alloy_consensus::EMPTY_ROOT_HASH;
    let commitment = state_commitment(B256::ZERO, &ws, receipts_root)
        .map_err(|e| GenesisError::Invalid(e.to_string()))?;
    let header = BlockHeader {
        number: 0,
        parent_hash: B256::ZERO,
        timestamp: g.timestamp,
        beneficiary: g.coinbase,
        gas_limit: g.gas_limit,
        gas_used: 0,
        base_fee_per_gas: base_fee,
        transactions_root: alloy_consensus::EMPTY_ROOT_HASH,
        receipts_root,
        logs_bloom: Default::default(),
        state_commitment: commitment,
        mix_hash: g.mix_hash,
        extra_data: g.extra_data.clone(),
    };
    let hash = header.hash();
    Ok((
        spec,
        ExecutedBlock {
            header,
            hash,
            transactions: vec![],
            receipts: vec![],
            write_set: ws,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_accounts_are_the_well_known_ones() {
        let s = dev_signers();
        assert_eq!(s.len(), 20);
        assert_eq!(
            s[0].address(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
                .parse::<Address>()
                .expect("address")
        );
        assert_eq!(
            s[1].address(),
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
                .parse::<Address>()
                .expect("address")
        );
    }

    #[test]
    fn genesis_is_deterministic_and_checked() {
        let (spec, a) = build_genesis(&dev_genesis()).expect("dev genesis");
        let (_, b) = build_genesis(&dev_genesis()).expect("dev genesis");
        assert_eq!(a.hash, b.hash);
        assert_eq!(spec.chain.chain_id, DEV_CHAIN_ID);
        assert_eq!(a.write_set.accounts.len(), 20);

        let mut bad = dev_genesis();
        bad.config.cancun_time = Some(100);
        assert!(build_genesis(&bad).is_err());
        let mut bad = dev_genesis();
        bad.config.chain_id = 0;
        assert!(build_genesis(&bad).is_err());
    }

    #[test]
    fn geth_style_genesis_json_parses() {
        let json = r#"{
          "config": {"chainId": 1337, "londonBlock": 0, "shanghaiTime": 0, "cancunTime": 0, "pragueTime": 0},
          "gasLimit": "0x1c9c380", "baseFeePerGas": "0x7", "difficulty": "0x0",
          "alloc": {"0x1111111111111111111111111111111111111111": {"balance": "0x56bc75e2d63100000"}}
        }"#;
        let g: Genesis = serde_json::from_str(json).expect("parses");
        let (spec, block) = build_genesis(&g).expect("valid");
        assert_eq!(spec.chain.chain_id, 1337);
        assert_eq!(spec.base_fee, 7);
        assert_eq!(block.header.gas_limit, 30_000_000);
    }
}
