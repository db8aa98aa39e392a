//! Sender recovery at ingress: `RecoveredTx::decode` (decoding, hashing and recovering the
//! signer with the backend the node is built with, libsecp256k1) against recovering the same
//! signatures with the pure-Rust `k256` crate (the backend before), in the same run.
//!
//!   cargo bench -p rampart-primitives --bench recover -- [txs] [rounds]

use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use rampart_primitives::RecoveredTx;

fn k256_recover(hash: &B256, sig: &alloy_primitives::Signature) -> Address {
    let signature = k256::ecdsa::Signature::from_scalars(
        sig.r().to_be_bytes::<32>(),
        sig.s().to_be_bytes::<32>(),
    )
    .expect("signature");
    let recid = k256::ecdsa::RecoveryId::new(sig.v(), false);
    let key = k256::ecdsa::VerifyingKey::recover_from_prehash(hash.as_slice(), &signature, recid)
        .expect("recover");
    let point = key.to_encoded_point(false);
    Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..])
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(2_000);
    let rounds = args.get(1).copied().unwrap_or(9);
    let signers: Vec<PrivateKeySigner> = (0..64).map(|_| PrivateKeySigner::random()).collect();
    let mut raws = Vec::with_capacity(n);
    let mut sigs = Vec::with_capacity(n);
    for i in 0..n {
        let signer = &signers[i % signers.len()];
        let tx = TxEip1559 {
            chain_id: 1337,
            nonce: (i / signers.len()) as u64,
            gas_limit: 60_000,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(Address::with_last_byte(7)),
            value: U256::from(i),
            ..Default::default()
        };
        let hash = tx.signature_hash();
        let sig = signer.sign_hash_sync(&hash).expect("sign");
        let envelope: TxEnvelope = tx.into_signed(sig).into();
        raws.push(envelope.encoded_2718());
        sigs.push((hash, sig, signer.address()));
    }
    // Both agree with the signer before anything is timed.
    for (raw, (hash, sig, address)) in raws.iter().zip(&sigs) {
        assert_eq!(RecoveredTx::decode(raw).expect("decode").sender, *address);
        assert_eq!(k256_recover(hash, sig), *address);
    }
    let (mut node, mut baseline) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        for raw in &raws {
            std::hint::black_box(RecoveredTx::decode(raw).expect("decode"));
        }
        node.push(t.elapsed());
        let t = Instant::now();
        for (hash, sig, _) in &sigs {
            std::hint::black_box(k256_recover(hash, sig));
        }
        baseline.push(t.elapsed());
    }
    let per_tx = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    let (node, baseline) = (median(node), median(baseline));
    println!(
        "{n} EIP-1559 transfers, median of {rounds} interleaved rounds: RecoveredTx::decode {:.1} us/tx ({:.0}/s), k256 recovery alone {:.1} us/tx ({:.0}/s); k256 / decode = {:.2}",
        per_tx(node),
        1e6 / per_tx(node),
        per_tx(baseline),
        1e6 / per_tx(baseline),
        per_tx(baseline) / per_tx(node),
    );
}
