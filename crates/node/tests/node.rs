//! The node through its own seams: the consensus `Application` driven by the solo engine, the
//! store across restarts, and the HTTP API on a real socket.

use ed25519_dalek::SigningKey;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use vcity_consensus::solo::{SoloConfig, SoloEngine};
use vcity_consensus::{Application, Certificate};
use vcity_ledger::chain::Validator;
use vcity_ledger::{bank, Genesis, GenesisAccount, TxError};
use vcity_node::{DataDir, LaunchConfig, MempoolConfig, Node, NodeOptions, RunningNode};
use vcity_types::api::{AccountView, ApiError, BlockView, ProofView, StatusView, TxView};
use vcity_types::block::Block;
use vcity_types::keyfile::{write_private_file, KeyFile};
use vcity_types::tx::{Message, Transfer, TxBody};
use vcity_types::{codec, AccountId, Amount, Denom, Hash};

const CHAIN: &str = "vcity-node-test";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn account(seed: u8) -> AccountId {
    AccountId::from_public_key(&key(seed).verifying_key())
}

const VALIDATOR: u8 = 100;

fn genesis() -> Genesis {
    Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: 1_000,
        usd_issuer: account(9),
        params: Default::default(),
        validators: vec![Validator {
            name: "solo".into(),
            public_key: account(VALIDATOR),
            power: 1,
        }],
        accounts: (1..=3)
            .map(|seed| GenesisAccount {
                name: None,
                id: account(seed),
                vcai: Amount::whole(1_000, Denom::Vcai).expect("fits"),
                usd: Amount::whole(100, Denom::Usd).expect("fits"),
            })
            .collect(),
        ..Default::default()
    }
}

fn transfer(seed: u8, nonce: u64, to: u8, usd: u128) -> Vec<u8> {
    TxBody {
        chain_id: CHAIN.into(),
        sender: account(seed),
        nonce,
        fee: Amount::new(1_000),
        messages: vec![Message::Transfer(Transfer {
            to: account(to),
            denom: Denom::Usd,
            amount: Amount::new(usd),
        })],
    }
    .sign(&key(seed))
    .to_bytes()
}

fn open(dir: &Path) -> Arc<Node> {
    Arc::new(
        Node::open(
            &dir.join("store.redb"),
            &genesis(),
            NodeOptions::new(account(VALIDATOR)),
        )
        .expect("node opens"),
    )
}

fn engine(node: &Arc<Node>) -> SoloEngine<Node> {
    SoloEngine::new(
        node.clone(),
        key(VALIDATOR),
        SoloConfig {
            chain_id: CHAIN.into(),
            block_time: Duration::from_millis(10),
        },
    )
}

fn usd(node: &Node, seed: u8) -> Amount {
    node.with_ledger(|ledger| bank::balance(ledger, &account(seed), Denom::Usd))
}

#[test]
fn transfers_commit_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = open(dir.path());
    let solo = engine(&node);

    let first = node.submit(transfer(1, 0, 2, 5_000_000)).expect("admitted");
    let second = node.submit(transfer(1, 1, 3, 1_000_000)).expect("admitted");
    assert_eq!(node.mempool_len(), 2);
    assert_eq!(node.account(&account(1)).pending_nonce, 2);
    assert_eq!(node.account(&account(1)).next_nonce, 0);
    assert_eq!(solo.step().expect("block"), 1);
    assert_eq!(node.mempool_len(), 0);
    for hash in [first, second] {
        let view = node.transaction(&hash).expect("store").expect("found");
        let receipt = view.receipt.expect("committed");
        assert_eq!(receipt.code, 0, "{receipt:?}");
    }
    assert_eq!(usd(&node, 1), Amount::new(100_000_000 - 6_000_000 - 2_000));
    assert_eq!(usd(&node, 2), Amount::new(105_000_000));
    solo.step().expect("empty block");

    let status = node.status();
    assert_eq!(status.height.0, 2);
    let block = node.block(2).expect("store").expect("block 2");
    assert_eq!(
        block.header.previous_hash,
        node.block(1).expect("store").expect("1").hash
    );
    drop(solo);
    drop(node);

    // Restart: same height, same root, and the chain goes on from there.
    let node = open(dir.path());
    let again = node.status();
    assert_eq!(again.height, status.height);
    assert_eq!(again.state_root, status.state_root);
    assert_eq!(again.latest_block_hash, status.latest_block_hash);
    assert_eq!(usd(&node, 2), Amount::new(105_000_000));
    let solo = engine(&node);
    node.submit(transfer(1, 2, 2, 1)).expect("nonce continues");
    assert_eq!(solo.step().expect("block"), 3);
    assert_eq!(
        node.block(3)
            .expect("store")
            .expect("3")
            .header
            .previous_hash,
        status.latest_block_hash
    );
}

#[test]
fn every_bad_input_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = open(dir.path());
    let solo = engine(&node);
    node.submit(transfer(1, 0, 2, 1)).expect("admitted");
    solo.step().expect("block");
    let before = node.status();

    let mut bad_signature = transfer(1, 1, 2, 1);
    let last = bad_signature.len() - 1;
    bad_signature[last] ^= 1;
    let mut wrong_chain = TxBody {
        chain_id: "other-chain".into(),
        sender: account(1),
        nonce: 1,
        fee: Amount::new(1_000),
        messages: vec![],
    };
    wrong_chain.messages.push(Message::Transfer(Transfer {
        to: account(2),
        denom: Denom::Usd,
        amount: Amount::new(1),
    }));
    let wrong_chain = wrong_chain.sign(&key(1)).to_bytes();
    // An unknown message: tag 200 where a message tag belongs.
    let mut unknown = TxBody {
        chain_id: CHAIN.into(),
        sender: account(1),
        nonce: 1,
        fee: Amount::new(1_000),
        messages: vec![],
    }
    .sign(&key(1))
    .to_bytes();
    let count_at = unknown.len() - 64 - 4;
    unknown[count_at] = 1;
    unknown.insert(count_at + 4, 200);

    let cases: Vec<(&str, Vec<u8>, u32)> = vec![
        ("malformed", vec![1, 2, 3], 2),
        ("bad signature", bad_signature, 5),
        ("wrong chain", wrong_chain, 4),
        ("replay", transfer(1, 0, 2, 1), 6),
        ("gap", transfer(1, 5, 2, 1), 7),
        ("unknown message", unknown, 3),
        ("overdraft", transfer(2, 0, 3, 1_000_000_000_000), 9),
    ];
    for (name, bytes, code) in cases {
        let error = node.submit(bytes).expect_err(name);
        assert_eq!(error.code(), code, "{name}: {error}");
    }
    assert_eq!(node.mempool_len(), 0);
    solo.step().expect("block");
    let after = node.status();
    assert_eq!(after.height.0, before.height.0 + 1);
    // Only the new block's chain bookkeeping changed: balances and nonces did not.
    assert_eq!(node.account(&account(1)).next_nonce, 1);
    assert_eq!(usd(&node, 2), Amount::new(100_000_001));
    assert_eq!(
        node.block(after.height.0)
            .expect("ok")
            .expect("block")
            .transactions
            .len(),
        0
    );

    // A duplicate of a pending transaction.
    let pending = transfer(1, 1, 2, 1);
    node.submit(pending.clone()).expect("admitted");
    assert_eq!(
        node.submit(pending).expect_err("dup"),
        TxError::AlreadyKnown
    );
}

#[test]
fn mempool_is_bounded_in_total_and_per_sender() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = NodeOptions::new(account(VALIDATOR));
    options.mempool = MempoolConfig {
        capacity: 3,
        per_sender_limit: 2,
    };
    let node = Node::open(&dir.path().join("store.redb"), &genesis(), options).expect("opens");
    node.submit(transfer(1, 0, 2, 1)).expect("1st");
    node.submit(transfer(1, 1, 2, 1)).expect("2nd");
    assert!(matches!(
        node.submit(transfer(1, 2, 2, 1)),
        Err(TxError::SenderQuotaFull { limit: 2 })
    ));
    node.submit(transfer(2, 0, 1, 1)).expect("3rd");
    assert!(matches!(
        node.submit(transfer(3, 0, 1, 1)),
        Err(TxError::MempoolFull { capacity: 3 })
    ));
}

#[test]
fn verify_rejects_tampered_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let builder = open(dir.path());
    builder.submit(transfer(1, 0, 2, 7)).expect("admitted");
    let proposal = builder.propose(1).expect("proposal");

    // A second node on its own store checks the proposal from scratch.
    let other_dir = tempfile::tempdir().expect("tempdir");
    let checker = open(other_dir.path());
    assert_eq!(
        checker.verify(1, &proposal.bytes).expect("valid"),
        proposal.id
    );

    let block: Block = codec::decode(&proposal.bytes).expect("decodes");
    let mut tampered = [
        block.clone(),
        block.clone(),
        block.clone(),
        block.clone(),
        block.clone(),
    ];
    tampered[0].header.state_root = Hash([1; 32]);
    tampered[1].header.beacon = Hash([2; 32]);
    tampered[2].header.proposer = account(1);
    tampered[3].header.time_ms = u64::MAX / 2;
    tampered[4].transactions.push(transfer(3, 0, 1, 1));
    // Same header (same id) with other transactions: must not be taken from the cache.
    let mut swapped = block.clone();
    swapped.transactions = vec![transfer(2, 0, 1, 7)];
    assert!(checker.verify(1, &codec::encode(&swapped)).is_err());
    for (index, block) in tampered.iter().enumerate() {
        let error = checker
            .verify(1, &codec::encode(block))
            .expect_err("tampered block verifies");
        assert!(
            matches!(error, vcity_consensus::AppError::Invalid(_)),
            "case {index}: {error}"
        );
    }
    assert!(checker.verify(2, &proposal.bytes).is_err(), "wrong height");

    // Committing needs a certificate from the validator set.
    let forged = Certificate::sign_solo(CHAIN, 1, proposal.id, &key(1));
    assert!(checker.commit(1, &proposal.bytes, &forged).is_err());
    let real = Certificate::sign_solo(CHAIN, 1, proposal.id, &key(VALIDATOR));
    checker.commit(1, &proposal.bytes, &real).expect("commits");
    assert_eq!(checker.status().state_root, block.header.state_root);
    let (value, certificate) = checker.decided(1).expect("store").expect("decided");
    assert_eq!(value, proposal.bytes);
    assert_eq!(certificate, real);
}

#[test]
fn batches_and_blocks_check_each_signature_once_with_the_same_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let builder = open(dir.path());
    let mut forged = transfer(2, 0, 1, 5);
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let results = builder.submit_batch(vec![
        transfer(1, 0, 2, 1),
        transfer(1, 1, 2, 2),
        forged.clone(),
        transfer(3, 0, 1, 3),
        b"not a transaction".to_vec(),
        transfer(1, 1, 2, 2),
    ]);
    let codes: Vec<u32> = results
        .iter()
        .map(|result| result.as_ref().map_or_else(TxError::code, |_| 0))
        .collect();
    let single = [
        0,
        0,
        TxError::BadSignature(String::new()).code(),
        0,
        TxError::Malformed(String::new()).code(),
        TxError::AlreadyKnown.code(),
    ];
    assert_eq!(codes, single);
    let proposal = builder.propose(1).expect("proposal");
    let block: Block = codec::decode(&proposal.bytes).expect("decodes");
    assert_eq!(block.transactions.len(), 3);

    // A node that has seen one of the three checks only the other two.
    let other_dir = tempfile::tempdir().expect("tempdir");
    let checker = open(other_dir.path());
    assert!(checker.submit_batch(vec![transfer(1, 0, 2, 1)])[0].is_ok());
    assert_eq!(
        checker.verify(1, &proposal.bytes).expect("valid"),
        proposal.id
    );
    let metrics = checker.metrics().render();
    assert!(
        metrics.contains("vcity_block_signatures_checked_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vcity_block_signatures_known_total 1"),
        "{metrics}"
    );
    // And executes once: the transaction its mempool checked, first in the block and so on the
    // state its check saw, takes that check's writes; the other two run.
    assert!(
        metrics.contains("vcity_block_txs_replayed_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vcity_block_txs_executed_total 2"),
        "{metrics}"
    );

    // A block carrying a transaction with a bad signature is refused for it, whoever checks.
    let mut bad = block.clone();
    bad.transactions[2] = forged;
    let third_dir = tempfile::tempdir().expect("tempdir");
    let error = open(third_dir.path())
        .verify(1, &codec::encode(&bad))
        .expect_err("a bad signature verifies");
    assert!(
        error.to_string().contains("transaction 2: bad signature"),
        "{error}"
    );
}

#[test]
fn a_proposal_budget_bounds_the_block_by_the_measured_cost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = open(dir.path());
    let engine = engine(&node);
    let submit = |from: u64, count: u64| {
        let batch: Vec<Vec<u8>> = (from..from + count)
            .map(|nonce| transfer(1, nonce, 2, 1))
            .collect();
        assert!(node.submit_batch(batch).iter().all(Result::is_ok));
    };
    // No budget (the solo default): every waiting transaction goes in, and the cost is measured.
    submit(0, 100);
    assert_eq!(node.budgeted_txs(), None);
    engine.step().expect("block 1");
    assert_eq!(node.mempool_len(), 0);
    // A budget that one transaction already exceeds still lets the floor of 64 through.
    node.set_proposal_budget(Duration::from_nanos(1));
    assert_eq!(node.budgeted_txs(), Some(64));
    submit(100, 100);
    engine.step().expect("block 2");
    assert_eq!(node.mempool_len(), 36);
    // A generous one takes everything again.
    node.set_proposal_budget(Duration::from_secs(10));
    assert!(node.budgeted_txs().expect("an estimate") > 1_000);
    engine.step().expect("block 3");
    assert_eq!(node.mempool_len(), 0);
}

#[test]
fn a_store_refuses_another_genesis() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(open(dir.path()));
    let mut other = genesis();
    other.chain_id = "another-chain".into();
    let error = Node::open(
        &dir.path().join("store.redb"),
        &other,
        NodeOptions::new(account(VALIDATOR)),
    )
    .expect_err("other genesis");
    assert!(error.to_string().contains("genesis"), "{error}");
}

// ---- HTTP API on a real socket ----

struct Api {
    runtime: tokio::runtime::Runtime,
    running: Option<RunningNode>,
    base: String,
    agent: ureq::Agent,
    _dir: tempfile::TempDir,
}

impl Api {
    fn start() -> Api {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = DataDir::new(dir.path());
        std::fs::write(data_dir.genesis(), genesis().to_json()).expect("genesis");
        write_private_file(
            &data_dir.validator_key(),
            &KeyFile::new("validator", &key(VALIDATOR)).to_json(),
        )
        .expect("key");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let running = runtime
            .block_on(RunningNode::start(LaunchConfig {
                data_dir,
                listen: "127.0.0.1:0".parse().expect("addr"),
                block_time: Duration::from_millis(50),
                mempool: MempoolConfig::default(),
                engine: vcity_node::Engine::Solo,
                clock_start_ms: None,
            }))
            .expect("node starts");
        let base = format!("http://{}", running.addr);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Api {
            runtime,
            running: Some(running),
            base,
            agent,
            _dir: dir,
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut response = self
            .agent
            .get(&format!("{}{path}", self.base))
            .call()
            .expect("request");
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().expect("body"))
    }

    fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|error| panic!("{path}: {error}: {body}"))
    }

    fn submit(&self, bytes: &[u8]) -> (u16, String) {
        self.post("/v1/txs", &format!("{{\"tx\":\"{}\"}}", hex::encode(bytes)))
    }

    fn post(&self, path: &str, body: &str) -> (u16, String) {
        // A body over the route's limit is answered (413) and the connection closed before the
        // client has written all of it; on a loaded machine the client then sees a broken pipe
        // instead of the answer. Such a transport error is retried, never a status.
        let mut attempts = 0;
        let mut response = loop {
            attempts += 1;
            match self
                .agent
                .post(&format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .send(body)
            {
                Ok(response) => break response,
                Err(ureq::Error::Io(error))
                    if attempts < 5
                        && matches!(
                            error.kind(),
                            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                        ) =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(error) => panic!("request: {error:?}"),
            }
        };
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().expect("body"))
    }

    fn wait_committed(&self, hash: &str) -> TxView {
        for _ in 0..200 {
            let (status, body) = self.get(&format!("/v1/txs/{hash}"));
            if status == 200 {
                let view: TxView = serde_json::from_str(&body).expect("tx view");
                if view.receipt.is_some() {
                    return view;
                }
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("transaction {hash} never committed");
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = self.runtime.block_on(running.shutdown());
        }
    }
}

#[test]
fn api_serves_the_whole_flow() {
    let api = Api::start();
    let status: StatusView = api.get_json("/v1/status");
    assert_eq!(status.chain_id, CHAIN);

    let (code, body) = api.submit(&transfer(1, 0, 2, 250));
    assert_eq!(code, 200, "{body}");
    let hash = serde_json::from_str::<serde_json::Value>(&body).expect("json")["tx_hash"]
        .as_str()
        .expect("hash")
        .to_string();
    let view = api.wait_committed(&hash);
    let receipt = view.receipt.expect("receipt");
    assert_eq!(receipt.code, 0);

    let alice: AccountView = api.get_json(&format!("/v1/accounts/{}", account(1)));
    assert_eq!(alice.next_nonce, 1);
    let by_did: AccountView = api.get_json(&format!("/v1/accounts/{}", account(1).did()));
    assert_eq!(by_did.id, alice.id);

    let block: BlockView = api.get_json(&format!("/v1/blocks/{}", receipt.height.0));
    assert!(block.transactions.iter().any(|tx| tx.to_hex() == hash));
    assert_eq!(block.certificate.len(), 1);
    let latest: BlockView = api.get_json("/v1/blocks/latest");
    assert!(latest.header.height >= block.header.height);

    // The proof verifies against the root it names, and that root is a block header's.
    let key = String::from_utf8(bank::balance_key(&account(2), Denom::Usd)).expect("ascii");
    let proof: ProofView = api.get_json(&format!("/v1/proof?key={key}"));
    let value = hex::decode(proof.value.as_deref().expect("present")).expect("hex");
    proof
        .proof
        .verify(&proof.state_root, key.as_bytes(), Some(&value))
        .expect("proof verifies");
    let at: BlockView = api.get_json(&format!("/v1/blocks/{}", proof.height.0));
    assert_eq!(at.header.state_root, proof.state_root);
    let absent: ProofView = api.get_json("/v1/proof?key=bank/balance/nobody/usd");
    assert!(absent.value.is_none());
    absent
        .proof
        .verify(&absent.state_root, b"bank/balance/nobody/usd", None)
        .expect("exclusion proof verifies");

    // The counters move just after the block is stored, which is when the API shows it: poll.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let (code, metrics) = api.get("/metrics");
        assert_eq!(code, 200);
        if metrics.contains("vcity_txs_committed_total 1") || std::time::Instant::now() > deadline {
            break metrics;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(metrics.contains("vcity_txs_committed_total 1"), "{metrics}");
    let (code, _) = api.get("/v1/health");
    assert_eq!(code, 200);
}

#[test]
fn api_takes_batches_and_answers_each_transaction() {
    let api = Api::start();
    let mut forged = transfer(2, 0, 1, 5);
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let body = serde_json::json!({
        "txs": [hex::encode(transfer(1, 0, 2, 9)), "zz", hex::encode(&forged)]
    });
    let (code, answer) = api.post("/v1/txs/batch", &body.to_string());
    assert_eq!(code, 200, "{answer}");
    let answer: vcity_types::api::SubmitBatchResponse =
        serde_json::from_str(&answer).expect("json");
    let codes: Vec<u32> = answer.results.iter().map(|result| result.code).collect();
    assert_eq!(
        codes,
        [
            0,
            TxError::Malformed(String::new()).code(),
            TxError::BadSignature(String::new()).code()
        ]
    );
    let hash = answer.results[0].tx_hash.expect("accepted").to_hex();
    assert_eq!(api.wait_committed(&hash).receipt.expect("receipt").code, 0);
    let (code, _) = api.post("/v1/txs/batch", "{\"txs\": []}");
    assert_eq!(code, 400);
    let too_many = serde_json::json!({ "txs": vec!["00"; vcity_types::api::MAX_BATCH_TXS + 1] });
    let (code, _) = api.post("/v1/txs/batch", &too_many.to_string());
    assert_eq!(code, 400);
}

#[test]
fn api_refuses_bad_input_with_stable_codes() {
    let api = Api::start();
    let mut bad_signature = transfer(1, 0, 2, 1);
    let last = bad_signature.len() - 1;
    bad_signature[last] ^= 0x40;
    let cases: Vec<(&str, String, u16, u32)> = vec![
        ("not json", "nonsense".into(), 400, 0),
        ("not hex", "{\"tx\":\"zz\"}".into(), 400, 2),
        ("malformed", "{\"tx\":\"0102\"}".into(), 400, 2),
        (
            "bad signature",
            format!("{{\"tx\":\"{}\"}}", hex::encode(&bad_signature)),
            400,
            5,
        ),
        (
            "gap",
            format!("{{\"tx\":\"{}\"}}", hex::encode(transfer(1, 3, 2, 1))),
            400,
            7,
        ),
        (
            "overdraft",
            format!(
                "{{\"tx\":\"{}\"}}",
                hex::encode(transfer(1, 1, 2, 10_000_000_000))
            ),
            400,
            9,
        ),
    ];
    // Commit one transaction so that its nonce can be replayed.
    let (status, body) = api.submit(&transfer(1, 0, 2, 1));
    assert_eq!(status, 200, "{body}");
    let hash = serde_json::from_str::<serde_json::Value>(&body).expect("json")["tx_hash"]
        .as_str()
        .expect("hash")
        .to_string();
    api.wait_committed(&hash);
    let wrong_chain = TxBody {
        chain_id: "another-chain".into(),
        sender: account(1),
        nonce: 1,
        fee: Amount::new(1_000),
        messages: vec![Message::Transfer(Transfer {
            to: account(2),
            denom: Denom::Usd,
            amount: Amount::new(1),
        })],
    }
    .sign(&key(1))
    .to_bytes();
    let mut unknown = transfer(1, 1, 2, 1);
    // The first message's tag follows chain id, sender, nonce, fee and the message count.
    unknown[4 + CHAIN.len() + 32 + 8 + 16 + 4] = 200;
    let hex_body = |bytes: &[u8]| format!("{{\"tx\":\"{}\"}}", hex::encode(bytes));
    let cases: Vec<(&str, String, u16, u32)> = cases
        .into_iter()
        .chain([
            ("wrong chain", hex_body(&wrong_chain), 400, 4),
            ("replay", hex_body(&transfer(1, 0, 2, 1)), 400, 6),
            ("unknown message", hex_body(&unknown), 400, 3),
        ])
        .collect();
    for (name, body, status, code) in cases {
        let (got_status, got) = api.post("/v1/txs", &body);
        assert_eq!(got_status, status, "{name}: {got}");
        let error: ApiError = serde_json::from_str(&got).expect("api error json");
        assert_eq!(error.code, code, "{name}: {got}");
    }
    let (status, body) = api.get("/v1/accounts/not-an-account");
    assert_eq!(status, 400, "{body}");
    let (status, _) = api.get(&format!("/v1/txs/{}", Hash([7; 32])));
    assert_eq!(status, 404);
    let (status, _) = api.get("/v1/blocks/999999");
    assert_eq!(status, 404);
    let (status, body) = api.get("/v1/nothing-here");
    assert_eq!(status, 404);
    assert!(body.contains("no_route"));
}

#[test]
fn every_rejection_is_the_json_error_body() {
    let api = Api::start();
    let error = |status: u16, body: &str, name: &str| {
        let value: serde_json::Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
        assert_eq!(value["error"], name, "{body}");
        assert_eq!(value["code"], 0, "{body}");
        assert!(
            value["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        status
    };
    // A query parameter of the wrong type (axum answers text/plain by itself).
    let (status, body) = api.get("/v1/jobs?limit=many");
    assert_eq!(error(status, &body, "bad_request"), 400);
    let (status, body) = api.get("/v1/agents?for_sale=perhaps");
    assert_eq!(error(status, &body, "bad_request"), 400);
    let (status, body) = api.get("/v1/ve?at_s=-1");
    assert_eq!(error(status, &body, "bad_request"), 400);
    // A path segment that is not UTF-8 once decoded.
    let (status, body) = api.get("/v1/jobs/%FF");
    assert_eq!(error(status, &body, "bad_request"), 400);
    // A method the route does not take.
    let (status, body) = api.post("/v1/status", "{}");
    assert_eq!(error(status, &body, "method_not_allowed"), 405);
    // A body over the route's limit.
    let huge = format!("{{\"tx\":\"{}\"}}", "00".repeat(200 * 1024));
    let (status, body) = api.post("/v1/txs", &huge);
    assert_eq!(error(status, &body, "payload_too_large"), 413);
}

/// The console is served from the binary with its security policy, and every module it imports
/// (its own and the SDK's) is served too: a file missing from `console.rs` fails here, not in a
/// browser.
#[test]
fn the_console_and_every_module_it_imports_are_served() {
    let api = Api::start();
    let mut response = api
        .agent
        .get(&format!("{}/", api.base))
        .call()
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert!(header("content-type").starts_with("text/html"));
    let policy = header("content-security-policy");
    assert!(
        policy.contains("default-src 'self'") && !policy.contains("unsafe-inline"),
        "{policy}"
    );
    let index = response.body_mut().read_to_string().expect("body");
    assert!(index.contains("/console/app.js"), "{index}");
    let mut queue = vec!["/console/app.js".to_string()];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(path) = queue.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let (status, body) = api.get(&path);
        assert_eq!(status, 200, "{path}");
        let directory = &path[..path.rfind('/').expect("a slash") + 1];
        for line in body.lines() {
            let Some(start) = line.find(" from '").map(|at| at + 7) else {
                continue;
            };
            let Some(length) = line[start..].find('\'') else {
                continue;
            };
            let target = &line[start..start + length];
            let resolved = if target.starts_with('/') {
                target.to_string()
            } else {
                let mut parts: Vec<&str> = directory.trim_end_matches('/').split('/').collect();
                for part in target.split('/') {
                    match part {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        other => parts.push(other),
                    }
                }
                parts.join("/")
            };
            queue.push(resolved);
        }
    }
    assert!(
        seen.contains("/sdk/encoding.js") && seen.contains("/console/pages/jobs.js"),
        "{seen:?}"
    );
    let (status, schema) = api.get("/sdk/schema.json");
    assert_eq!(status, 200);
    let file = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk/js/src/schema.json"),
    )
    .expect("the SDK's schema");
    assert_eq!(schema, file);
    let (status, _) = api.get("/console/nothing.js");
    assert_eq!(status, 404);
    let validators: Vec<serde_json::Value> = api.get_json("/v1/validators");
    assert_eq!(validators.len(), 1, "{validators:?}");
    assert_eq!(validators[0]["power"], 1);
}

#[test]
fn openapi_document_matches_the_routes() {
    let document: serde_json::Value =
        serde_json::from_str(vcity_node::api::OPENAPI).expect("openapi.json is JSON");
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    let routed: std::collections::BTreeSet<(String, String)> = vcity_node::api::ROUTES
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    assert_eq!(
        documented, routed,
        "docs/openapi.json and api::ROUTES differ"
    );

    // Every listed route is served by the real router (not the fallback, not 405).
    let api = Api::start();
    for (method, path) in &routed {
        let concrete = path
            .replace("{hash}", &Hash([1; 32]).to_hex())
            .replace("{id}", &account(1).to_hex())
            .replace("{height}", "1");
        if path == "/v1/events" {
            continue; // a stream; covered by its own test
        }
        let (status, body) = if method == "post" {
            api.post(&concrete, "{}")
        } else {
            api.get(&concrete)
        };
        assert_ne!(status, 405, "{method} {path}");
        assert!(!body.contains("no_route"), "{method} {path} is not routed");
    }
}

#[test]
fn event_stream_replays_from_a_height_then_follows() {
    use std::io::{BufRead, BufReader, Write};
    let api = Api::start();
    let (code, body) = api.submit(&transfer(1, 0, 2, 42));
    assert_eq!(code, 200, "{body}");
    let hash = serde_json::from_str::<serde_json::Value>(&body).expect("json")["tx_hash"]
        .as_str()
        .expect("hash")
        .to_string();
    let height = api.wait_committed(&hash).receipt.expect("receipt").height.0;

    // Raw HTTP so the test reads the stream line by line as it arrives.
    let address = api.base.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET /v1/events?from_height=1 HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("request");
    let mut reader = BufReader::new(stream);
    let mut saw_transfer = false;
    let mut last_block = 0u64;
    let mut line = String::new();
    while last_block < height + 2 {
        line.clear();
        reader.read_line(&mut line).expect("read");
        if let Some(data) = line.strip_prefix("data: ") {
            let value: serde_json::Value = serde_json::from_str(data.trim()).expect("json");
            if value["event"]["type"] == "transfer" && value["tx_hash"] == hash.as_str() {
                saw_transfer = true;
            }
            if value.get("tx_count").is_some() {
                let block = value["height"].as_u64().expect("height");
                assert_eq!(
                    block,
                    last_block + 1,
                    "blocks arrive in order, none skipped"
                );
                last_block = block;
            }
        }
    }
    assert!(saw_transfer, "the transfer event was streamed");
}
