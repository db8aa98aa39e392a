//! The node in-process: ingress checks, block production, restart on the same data dir.

use std::time::Duration;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use rampart_node::{Node, NodeConfig, dev_signers};
use rampart_rpc::{BackendError, EthBackend};

fn config() -> NodeConfig {
    let mut c = NodeConfig::default();
    c.rpc.addr = "127.0.0.1:0".parse().expect("addr");
    c.block.interval_ms = 20;
    // Exercise the Block-STM wiring whatever this machine's core count (`auto` would pick
    // sequential on 2 cores).
    c.executor.mode = rampart_node::config::ExecutionMode::Parallel;
    c.executor.threads = 2;
    c
}

fn transfer(k: &PrivateKeySigner, nonce: u64, chain_id: u64, to: Address, value: u64) -> Bytes {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 3_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value: U256::from(value),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = k.sign_hash_sync(&tx.signature_hash()).expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

async fn wait_receipt(
    node: &Node,
    hash: alloy_primitives::B256,
) -> rampart_primitives::StoredReceipt {
    for _ in 0..500 {
        if let Some((r, _, _)) = node.backend.receipt(&hash).expect("read") {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no receipt for {hash}");
}

fn rejected(r: Result<alloy_primitives::B256, BackendError>) -> String {
    match r {
        Err(BackendError::Rejected(m)) => m,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_rejects_bad_transactions_with_geth_messages() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = Node::start(config(), dir.path()).await.expect("start");
    let b = &node.backend;
    let keys = dev_signers();
    let k = &keys[0];
    let to = Address::repeat_byte(7);

    assert!(
        rejected(b.send_raw_transaction(Bytes::from_static(&[0xde, 0xad]))).starts_with("rlp:")
    );
    assert!(
        rejected(b.send_raw_transaction(transfer(k, 0, 1, to, 1))).starts_with("invalid chain id")
    );
    let big = Bytes::from(vec![0u8; 200 * 1024]);
    assert!(rejected(b.send_raw_transaction(big)).starts_with("oversized data"));
    // Pre-EIP-155 legacy transaction.
    let legacy = TxLegacy {
        chain_id: None,
        nonce: 0,
        gas_price: 3_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(to),
        value: U256::ONE,
        input: Bytes::new(),
    };
    let sig = k.sign_hash_sync(&legacy.signature_hash()).expect("sign");
    let raw: Bytes = TxEnvelope::from(legacy.into_signed(sig))
        .encoded_2718()
        .into();
    assert!(rejected(b.send_raw_transaction(raw)).contains("EIP-155"));
    let poor = PrivateKeySigner::random();
    assert!(
        rejected(b.send_raw_transaction(transfer(&poor, 0, 31337, to, 1)))
            .starts_with("insufficient funds")
    );
    assert!(
        rejected(b.send_raw_transaction(transfer(k, 5_000, 31337, to, 1)))
            .starts_with("nonce too high")
    );

    // Nothing of that reached the chain; a good transaction still goes through.
    let hash = b
        .send_raw_transaction(transfer(k, 0, 31337, to, 5))
        .expect("accepted");
    assert_eq!(
        rejected(b.send_raw_transaction(transfer(k, 0, 31337, to, 5))),
        "already known"
    );
    let r = wait_receipt(&node, hash).await;
    assert!(r.success);
    assert_eq!(
        b.balance(&to, b.head_number().expect("head"))
            .expect("balance"),
        U256::from(5)
    );
    assert!(
        rejected(b.send_raw_transaction(transfer(k, 0, 31337, to, 6))).starts_with("nonce too low")
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_transactions_share_blocks_and_survive_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let keys = dev_signers();
    let to = Address::repeat_byte(9);
    let (hashes, head) = {
        let node = Node::start(config(), dir.path()).await.expect("start");
        let mut hashes = Vec::new();
        for (i, k) in keys.iter().take(10).enumerate() {
            for nonce in 0..5 {
                hashes.push(
                    node.backend
                        .send_raw_transaction(transfer(k, nonce, 31337, to, i as u64 + 1))
                        .expect("accepted"),
                );
            }
        }
        let mut blocks = std::collections::BTreeSet::new();
        for h in &hashes {
            wait_receipt(&node, *h).await;
            let t = node.backend.transaction(h).expect("read").expect("tx");
            blocks.insert(t.location.expect("included").block_number);
        }
        assert!(
            blocks.len() < hashes.len(),
            "50 transactions must not take 50 blocks"
        );
        let head = node.backend.head_number().expect("head");
        node.shutdown().await;
        (hashes, head)
    };
    let node = Node::start(config(), dir.path()).await.expect("restart");
    assert!(node.backend.head_number().expect("head") >= head);
    for h in &hashes {
        assert!(
            node.backend.receipt(h).expect("read").is_some(),
            "receipt of {h} kept"
        );
    }
    let expected: u64 = (1..=10u64).map(|v| v * 5).sum();
    let now = node.backend.head_number().expect("head");
    assert_eq!(
        node.backend.balance(&to, now).expect("balance"),
        U256::from(expected)
    );
    assert_eq!(
        node.backend.nonce(&keys[0].address(), now).expect("nonce"),
        5
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_blocks_and_transactions() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = config();
    c.metrics.addr = Some("127.0.0.1:0".parse().expect("addr"));
    let node = Node::start(c, dir.path()).await.expect("start");
    let keys = dev_signers();
    let hash = node
        .backend
        .send_raw_transaction(transfer(&keys[3], 0, 31337, Address::repeat_byte(1), 1))
        .expect("ok");
    let _ = node
        .backend
        .send_raw_transaction(Bytes::from_static(&[1, 2, 3]));
    wait_receipt(&node, hash).await;
    let addr = node.metrics_addr.expect("metrics enabled");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let mut body = String::new();
    s.read_to_string(&mut body).await.expect("read");
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    assert!(body.contains("rampart_txs_committed_total 1"), "{body}");
    assert!(body.contains("rampart_txs_accepted_total 1"), "{body}");
    assert!(
        body.contains("rampart_txs_rejected_at_ingress_total 1"),
        "{body}"
    );
    assert!(body.contains("rampart_blocks_committed_total 1"), "{body}");
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_accounts_sign_and_send_for_tools_that_use_remote_accounts() {
    let dir = tempfile::tempdir().expect("tmp");
    let node = Node::start(config(), dir.path()).await.expect("start");
    let b = &node.backend;
    let accounts = b.accounts();
    assert_eq!(accounts.len(), 20);
    assert_eq!(accounts[0], dev_signers()[0].address());
    let to = Address::repeat_byte(0x42);
    let req = alloy_rpc_types_eth::TransactionRequest::default()
        .from(accounts[5])
        .to(to)
        .value(U256::from(9));
    let (h1, h2) = tokio::join!(
        b.send_transaction(req.clone()),
        b.send_transaction(req.clone())
    );
    let (h1, h2) = (h1.expect("first"), h2.expect("second"));
    assert_ne!(h1, h2, "concurrent sends get distinct nonces");
    wait_receipt(&node, h1).await;
    wait_receipt(&node, h2).await;
    let head = b.head_number().expect("head");
    assert_eq!(b.balance(&to, head).expect("balance"), U256::from(18));
    // Unknown accounts are refused; signatures recover to the account.
    let stranger = alloy_rpc_types_eth::TransactionRequest::default()
        .from(to)
        .to(to);
    assert!(
        matches!(b.send_transaction(stranger).await, Err(BackendError::Rejected(m)) if m == "unknown account")
    );
    let sig = b.sign_message(&accounts[1], b"hello").expect("sign");
    let sig = alloy_primitives::Signature::try_from(sig.as_ref()).expect("65 bytes");
    assert_eq!(
        sig.recover_address_from_msg(b"hello").expect("recover"),
        accounts[1]
    );
    node.shutdown().await;
}

/// A native contract deployed in a block has a warm sandbox on the node before anything calls
/// it: its first call does not pay the sandbox's cold start inside a block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployed_native_contract_gets_a_sandbox_before_its_first_call() {
    let art = rampart_native::testing::artifacts();
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = config();
    c.native.backend = rampart_node::native::NativeBackend::Process;
    c.native.host_binary = Some(art.host.clone());
    c.native.work_dir = Some(dir.path().join("native"));
    let node = Node::start(c, dir.path()).await.expect("start");
    let rt = node.backend.native.clone().expect("native contracts on");
    let binary = std::fs::read(&art.c_counter).expect("the C counter");
    let code_hash = keccak256(&binary);
    assert_eq!(
        rt.sandbox_counts(code_hash),
        (0, 0),
        "nothing before the deploy"
    );

    let k = &dev_signers()[0];
    let tx = TxEip1559 {
        chain_id: 31337,
        nonce: 0,
        gas_limit: 30_000_000,
        max_fee_per_gas: 3_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(rampart_native::NATIVE_DEPLOYER),
        value: U256::ZERO,
        access_list: Default::default(),
        input: binary.into(),
    };
    let sig = k.sign_hash_sync(&tx.signature_hash()).expect("sign");
    let raw: Bytes = TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into();
    let hash = node.backend.send_raw_transaction(raw).expect("accepted");
    let r = wait_receipt(&node, hash).await;
    assert!(r.success, "{r:?}");
    // No call has run: a started, idle sandbox is there because of the deploy.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while rt.sandbox_counts(code_hash) != (1, 1) {
        assert!(
            std::time::Instant::now() < deadline,
            "no warm sandbox after the deploy: {:?}",
            rt.sandbox_counts(code_hash)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node.shutdown().await;
}
