//! Compass P1: signed transfers admitted, executed and durably committed per second on one
//! core, next to the ed25519 verification throughput measured in the same run.
//!
//! ```text
//! cargo bench -p vcity-node --bench transfers            # default sizes
//! cargo bench -p vcity-node --bench transfers -- 40000 4000   # transfers, block size
//! ```
//!
//! The pipeline runs twice. First everything on the calling thread: `Node::submit` per
//! transaction (decode, chain id, signature, nonce and balance checks into the mempool), then
//! `SoloEngine::step` (propose: execute the block and compute the sparse Merkle root; verify:
//! served from the execution cache as it is for a block this node built; commit: one durable
//! redb write transaction, then the mempool recheck). Then with `Node::submit_batch` per block's
//! worth, whose ZIP-215 signature batches use every core. The ratios compare with the chain's
//! own rule (ZIP-215) measured in the same run on one core. Pin it to one core with
//! `taskset -c 0` to be strict about the first.

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vcity_consensus::solo::{SoloConfig, SoloEngine};
use vcity_ledger::chain::{Params, Validator};
use vcity_ledger::{Genesis, GenesisAccount};
use vcity_node::{MempoolConfig, Node, NodeOptions};
use vcity_types::tx::{decode_transaction, Message, Transfer, TxBody};
use vcity_types::{AccountId, Amount, Denom};

const CHAIN: &str = "vcity-bench";
const SENDERS: usize = 1_000;

fn key(index: usize) -> SigningKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(index as u64 + 1).to_le_bytes());
    SigningKey::from_bytes(&seed)
}

fn rate(count: usize, took: Duration) -> f64 {
    count as f64 / took.as_secs_f64()
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect();
    let total = args.first().copied().unwrap_or(20_000);
    let block_size = args.get(1).copied().unwrap_or(2_000).max(1);

    // Inputs, signed up front (not timed).
    let keys: Vec<SigningKey> = (0..SENDERS).map(key).collect();
    let accounts: Vec<AccountId> = keys
        .iter()
        .map(|k| AccountId::from_public_key(&k.verifying_key()))
        .collect();
    let transactions: Vec<Vec<u8>> = (0..total)
        .map(|i| {
            let sender = i % SENDERS;
            TxBody {
                chain_id: CHAIN.into(),
                sender: accounts[sender],
                nonce: (i / SENDERS) as u64,
                fee: Amount::new(1_000),
                messages: vec![Message::Transfer(Transfer {
                    to: accounts[(sender + 1) % SENDERS],
                    denom: Denom::Usd,
                    amount: Amount::new(1 + (i as u128 % 1_000)),
                })],
            }
            .sign(&keys[sender])
            .to_bytes()
        })
        .collect();

    // 1. Signature verification alone: the same transactions' signatures.
    let triples: Vec<(VerifyingKey, Vec<u8>, Signature)> = transactions
        .iter()
        .map(|bytes| {
            let tx = decode_transaction(bytes).expect("decodes");
            let key = VerifyingKey::from_bytes(&tx.body.sender.0).expect("key");
            (
                key,
                tx.body.sign_bytes(),
                Signature::from_bytes(&tx.signature),
            )
        })
        .collect();
    let started = Instant::now();
    for (key, message, signature) in &triples {
        key.verify_strict(message, signature).expect("verifies");
    }
    let single = rate(triples.len(), started.elapsed());

    let started = Instant::now();
    for chunk in triples.chunks(64) {
        let messages: Vec<&[u8]> = chunk.iter().map(|(_, m, _)| m.as_slice()).collect();
        let signatures: Vec<Signature> = chunk.iter().map(|(_, _, s)| *s).collect();
        let keys: Vec<VerifyingKey> = chunk.iter().map(|(k, _, _)| *k).collect();
        ed25519_dalek::verify_batch(&messages, &signatures, &keys).expect("batch verifies");
    }
    let batch = rate(triples.len(), started.elapsed());

    // The chain's rule (ZIP-215, vcity_types::ed25519), single and in batches of 64 on one core.
    let signed: Vec<vcity_types::tx::SignedTransaction> = transactions
        .iter()
        .map(|bytes| decode_transaction(bytes).expect("decodes"))
        .collect();
    let references: Vec<&vcity_types::tx::SignedTransaction> = signed.iter().collect();
    let started = Instant::now();
    for tx in &signed {
        tx.verify_signature().expect("verifies");
    }
    let zip215_single = rate(signed.len(), started.elapsed());
    let started = Instant::now();
    let results = vcity_types::tx::verify_signatures(&references, 64);
    let zip215_batch = rate(signed.len(), started.elapsed());
    assert!(results.iter().all(Result::is_ok));

    println!("transfers: {total}, block size: {block_size}, senders: {SENDERS}");
    println!("ed25519 verify_strict, single:   {single:>10.0} sig/s");
    println!("ed25519 verify_batch, 64:        {batch:>10.0} sig/s");
    println!("ZIP-215 (chain rule), single:    {zip215_single:>10.0} sig/s");
    println!("ZIP-215 (chain rule), batch 64:  {zip215_batch:>10.0} sig/s   (one core)");
    for batched in [false, true] {
        pipeline(
            &transactions,
            &accounts,
            block_size,
            batched,
            zip215_single,
            zip215_batch,
        );
    }
}

/// The node pipeline: admission (one `submit` per transaction, or one `submit_batch` per
/// block's worth), then one solo-engine step per block.
fn pipeline(
    transactions: &[Vec<u8>],
    accounts: &[AccountId],
    block_size: usize,
    batched: bool,
    single: f64,
    batch: f64,
) {
    let total = transactions.len();
    let dir = tempfile::tempdir().expect("tempdir");
    let validator = SigningKey::from_bytes(&[0xee; 32]);
    let validator_id = AccountId::from_public_key(&validator.verifying_key());
    let genesis = Genesis {
        chain_id: CHAIN.into(),
        // Now, as a real chain's genesis is: a genesis decades before the first block would have
        // every block catch up on the reminder walk (crates/ledger/src/timers.rs).
        genesis_time_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64)
            .saturating_sub(1_000),
        usd_issuer: accounts[0],
        params: Params {
            max_block_txs: block_size as u32,
            ..Params::default()
        },
        validators: vec![Validator {
            name: "bench".into(),
            public_key: validator_id,
            power: 1,
        }],
        accounts: accounts
            .iter()
            .map(|id| GenesisAccount {
                name: None,
                id: *id,
                vcai: Amount::ZERO,
                usd: Amount::whole(1_000_000, Denom::Usd).expect("fits"),
            })
            .collect(),
        ..Default::default()
    };
    let mut options = NodeOptions::new(validator_id);
    options.mempool = MempoolConfig {
        capacity: block_size.max(1) * 2,
        per_sender_limit: block_size.max(1),
    };
    let node = Arc::new(
        Node::open(&dir.path().join("store.redb"), &genesis, options).expect("node opens"),
    );
    let engine = SoloEngine::new(
        node.clone(),
        validator,
        SoloConfig {
            chain_id: CHAIN.into(),
            block_time: Duration::from_secs(1),
        },
    );
    let mut submit_time = Duration::ZERO;
    let mut block_time = Duration::ZERO;
    let mut blocks = 0u32;
    let started = Instant::now();
    for chunk in transactions.chunks(block_size) {
        let submit_started = Instant::now();
        if batched {
            for result in node.submit_batch(chunk.to_vec()) {
                result.expect("admitted");
            }
        } else {
            for bytes in chunk {
                node.submit(bytes.clone()).expect("admitted");
            }
        }
        submit_time += submit_started.elapsed();
        let block_started = Instant::now();
        engine.step().expect("block commits");
        block_time += block_started.elapsed();
        blocks += 1;
        assert_eq!(node.mempool_len(), 0, "every transaction was included");
    }
    let pipeline = rate(total, started.elapsed());
    let committed = node.with_ledger(|ledger| ledger.height().0);
    assert_eq!(committed, u64::from(blocks));

    println!(
        "{} ({blocks} blocks):",
        if batched {
            "admission in batches (submit_batch, every core)"
        } else {
            "admission one by one (submit)"
        }
    );
    println!(
        "admit (stateless + mempool):     {:>10.0} tx/s",
        rate(total, submit_time)
    );
    println!(
        "propose + commit (durable):      {:>10.0} tx/s   ({:.1} ms per block)",
        rate(total, block_time),
        block_time.as_secs_f64() * 1e3 / f64::from(blocks)
    );
    println!("end to end, admitted+committed:  {pipeline:>10.0} tx/s");
    println!(
        "ratio to single verification:    {:>10.2}",
        pipeline / single
    );
    println!(
        "ratio to batch verification:     {:>10.2}",
        pipeline / batch
    );
}
