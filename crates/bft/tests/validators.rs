//! Four validators in one process, each a real node (store, ledger, mempool) driven by
//! Malachite over libp2p on 127.0.0.1: they commit the same blocks with the same state roots,
//! every transaction exactly once wherever it was submitted, and a validator that proposes
//! blocks with a wrong state root gets them rejected by the honest three.

use ed25519_dalek::SigningKey;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vcity_bft::{RunningValidator, ValidatorOptions};
use vcity_consensus::{AppError, Application, Certificate, ProposedValue, ValidatorInfo, ValueId};
use vcity_ledger::chain::Validator;
use vcity_ledger::{Genesis, GenesisAccount};
use vcity_node::{Node, NodeOptions};
use vcity_types::block::Block;
use vcity_types::tx::{Message, Transfer, TxBody};
use vcity_types::{codec, AccountId, Amount, Denom, Hash};

const CHAIN: &str = "vcity-bft-test";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn account(seed: u8) -> AccountId {
    AccountId::from_public_key(&key(seed).verifying_key())
}

/// Validator seeds 101..=104; funded users 1..=4.
fn genesis() -> Genesis {
    Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: 1_000,
        usd_issuer: account(9),
        params: Default::default(),
        validators: (101..=104)
            .map(|seed| Validator {
                name: format!("v{seed}"),
                public_key: account(seed),
                power: 1,
            })
            .collect(),
        accounts: (1..=4)
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

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

fn open(dir: &Path, seed: u8) -> Arc<Node> {
    Arc::new(
        Node::open(
            &dir.join(format!("store-{seed}.redb")),
            &genesis(),
            NodeOptions::new(account(seed)),
        )
        .expect("node opens"),
    )
}

fn options(dir: &Path, seed: u8, listen: SocketAddr, all: &[SocketAddr]) -> ValidatorOptions {
    ValidatorOptions {
        home: dir.join(format!("home-{seed}")),
        moniker: format!("v{seed}"),
        seed: [seed; 32],
        chain_id: CHAIN.into(),
        listen,
        peers: all.iter().copied().filter(|peer| *peer != listen).collect(),
        block_time: Duration::from_millis(200),
        timeout_propose: Duration::from_millis(1_500),
        timeout_vote: Duration::from_millis(500),
        max_block_bytes: 1 << 20,
    }
}

/// A validator whose proposals carry a wrong state root (re-signed under a matching id), so the
/// block is well formed but its execution does not match.
struct WrongRoot(Arc<Node>);

impl Application for WrongRoot {
    fn committed_height(&self) -> u64 {
        self.0.committed_height()
    }
    fn last_certificate(&self) -> Option<Certificate> {
        self.0.last_certificate()
    }
    fn propose(&self, height: u64) -> Result<ProposedValue, AppError> {
        let honest = self.0.propose(height)?;
        let mut block: Block = codec::decode(&honest.bytes).expect("own block decodes");
        block.header.state_root = Hash([0xee; 32]);
        Ok(ProposedValue {
            id: block.hash().0,
            bytes: codec::encode(&block),
        })
    }
    fn verify(&self, height: u64, value: &[u8]) -> Result<ValueId, AppError> {
        self.0.verify(height, value)
    }
    fn commit(&self, height: u64, value: &[u8], certificate: &Certificate) -> Result<(), AppError> {
        self.0.commit(height, value, certificate)
    }
    fn decided(&self, height: u64) -> Result<Option<(Vec<u8>, Certificate)>, AppError> {
        self.0.decided(height)
    }
    fn validators(&self, height: u64) -> Vec<ValidatorInfo> {
        self.0.validators(height)
    }
}

async fn wait_for_height(nodes: &[Arc<Node>], height: u64, limit: Duration) {
    let started = Instant::now();
    while nodes.iter().any(|node| node.committed_height() < height) {
        let heights: Vec<u64> = nodes.iter().map(|node| node.committed_height()).collect();
        assert!(
            started.elapsed() < limit,
            "validators did not all reach height {height} within {limit:?}: {heights:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every node's block at each height: same bytes, and the certificate of each verifies.
fn assert_same_chain(nodes: &[Arc<Node>], through: u64) -> Vec<(Block, Certificate)> {
    let validators = nodes[0].validators(1);
    (1..=through)
        .map(|height| {
            let mut blocks = nodes.iter().map(|node| {
                node.decided(height)
                    .expect("store reads")
                    .expect("block is stored")
            });
            let (first, certificate) = blocks.next().expect("at least one node");
            for (other, other_certificate) in blocks {
                assert_eq!(first, other, "validators disagree on block {height}");
                assert_eq!(other_certificate.value_id, certificate.value_id);
                other_certificate
                    .verify(CHAIN, &validators)
                    .expect("each stored certificate is a quorum");
            }
            certificate
                .verify(CHAIN, &validators)
                .expect("stored certificate is a quorum");
            (codec::decode(&first).expect("block decodes"), certificate)
        })
        .collect()
}

async fn start_all(
    dir: &Path,
    nodes: &[Arc<Node>],
    applications: Vec<Arc<dyn Application>>,
) -> Vec<RunningValidator> {
    let addresses: Vec<SocketAddr> = nodes.iter().map(|_| free_port()).collect();
    let mut running = Vec::new();
    for (index, application) in applications.into_iter().enumerate() {
        let seed = 101 + index as u8;
        running.push(
            vcity_bft::start(
                application,
                options(dir, seed, addresses[index], &addresses),
            )
            .await
            .expect("validator starts"),
        );
    }
    running
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_validators_agree_and_commit_each_transaction_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes: Vec<Arc<Node>> = (101..=104).map(|seed| open(dir.path(), seed)).collect();
    let applications = nodes
        .iter()
        .map(|node| node.clone() as Arc<dyn Application>)
        .collect();
    let running = start_all(dir.path(), &nodes, applications).await;

    // Each user submits to a different validator; only that one has the transaction, so it is
    // committed when that validator proposes.
    let mut submitted = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        let user = index as u8 + 1;
        for nonce in 0..3 {
            let hash = node
                .submit(transfer(user, nonce, 9, 1_000 + u128::from(nonce)))
                .expect("accepted");
            submitted.push(hash);
        }
    }
    wait_for_height(&nodes, 12, Duration::from_secs(60)).await;
    let chain = assert_same_chain(&nodes, 12);
    let mut included: Vec<Hash> = chain
        .iter()
        .flat_map(|(block, _)| {
            block
                .transactions
                .iter()
                .map(|bytes| vcity_types::tx::tx_hash(bytes))
        })
        .collect();
    included.sort();
    submitted.sort();
    assert_eq!(
        included, submitted,
        "every transaction committed exactly once"
    );
    let proposers: std::collections::BTreeSet<AccountId> = chain
        .iter()
        .map(|(block, _)| block.header.proposer)
        .collect();
    assert_eq!(proposers.len(), 4, "every validator proposed");
    for (height, (block, certificate)) in chain.iter().enumerate() {
        assert_eq!(block.header.height.0, height as u64 + 1);
        assert!(certificate.signatures.len() >= 3);
    }
    for validator in running {
        validator.stop().await.expect("stops");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn proposals_with_a_wrong_state_root_are_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes: Vec<Arc<Node>> = (101..=104).map(|seed| open(dir.path(), seed)).collect();
    let byzantine = account(104);
    let applications: Vec<Arc<dyn Application>> = nodes
        .iter()
        .enumerate()
        .map(|(index, node)| {
            if index == 3 {
                Arc::new(WrongRoot(node.clone())) as Arc<dyn Application>
            } else {
                node.clone() as Arc<dyn Application>
            }
        })
        .collect();
    let running = start_all(dir.path(), &nodes, applications).await;
    wait_for_height(&nodes, 9, Duration::from_secs(90)).await;
    let chain = assert_same_chain(&nodes, 9);
    let mut later_rounds = 0;
    for (block, certificate) in &chain {
        assert_ne!(
            block.header.proposer, byzantine,
            "a block with a wrong state root was committed at {}",
            block.header.height
        );
        if certificate.round > 0 {
            later_rounds += 1;
        }
    }
    // The byzantine validator leads round 0 of one height in four: each such height is decided
    // in a later round, by an honest proposer.
    assert!(
        later_rounds >= 2,
        "rounds: {later_rounds} heights decided after round 0"
    );
    for validator in running {
        validator.stop().await.expect("stops");
    }
}
