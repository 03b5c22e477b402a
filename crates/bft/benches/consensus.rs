//! Block commit latency and transfer throughput: four Malachite validators on loopback next to
//! the solo engine, in one run, on the same machine and with the same block time.
//!
//! ```text
//! cargo bench -p vcity-bft --bench consensus                # 20,000 transfers, 200 ms, 3 rounds
//! cargo bench -p vcity-bft --bench consensus -- 40000 500 5 # transfers, block time in ms, rounds
//! ```
//!
//! Each engine drives real nodes (redb store, ledger, mempool) in this process; the four
//! validators gossip over libp2p on 127.0.0.1 and each re-executes every block, so on a small
//! machine they share its cores four ways. Measured per engine:
//! - *block interval*: time between commits on an idle chain (the block time is a floor);
//! - *commit latency*: one transfer submitted to a node until that node has committed it;
//! - *throughput*: pre-signed transfers (1,000 senders) submitted to every validator's mempool
//!   in batches of 512, as the relay does, until all are committed everywhere.

use ed25519_dalek::SigningKey;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vcity_consensus::solo::{SoloConfig, SoloEngine};
use vcity_consensus::Application;
use vcity_ledger::chain::Validator;
use vcity_ledger::{Genesis, GenesisAccount};
use vcity_node::{MempoolConfig, Node, NodeOptions};
use vcity_types::tx::{Message, Transfer, TxBody};
use vcity_types::{AccountId, Amount, Denom, Hash};

const CHAIN: &str = "vcity-bench";
const SENDERS: usize = 1_000;

fn key(index: usize) -> SigningKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(index as u64 + 1).to_le_bytes());
    SigningKey::from_bytes(&seed)
}

fn validator_key(index: usize) -> SigningKey {
    SigningKey::from_bytes(&[200 + index as u8; 32])
}

fn account(key: &SigningKey) -> AccountId {
    AccountId::from_public_key(&key.verifying_key())
}

/// When the bench started, the same for every node of a run (their genesis is a second before).
fn genesis_time_ms() -> u64 {
    static STARTED_MS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *STARTED_MS.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64)
    })
}

fn genesis(validators: usize) -> Genesis {
    Genesis {
        chain_id: CHAIN.into(),
        // Now, as a real chain's genesis is: a genesis decades before the first block would have
        // every block catch up on the reminder walk (crates/ledger/src/timers.rs).
        genesis_time_ms: genesis_time_ms().saturating_sub(1_000),
        usd_issuer: account(&key(SENDERS + 1)),
        params: Default::default(),
        validators: (0..validators)
            .map(|index| Validator {
                name: format!("v{index}"),
                public_key: account(&validator_key(index)),
                power: 1,
            })
            .collect(),
        accounts: (0..SENDERS)
            .map(|index| GenesisAccount {
                name: None,
                id: account(&key(index)),
                vcai: Amount::ZERO,
                usd: Amount::whole(1_000_000, Denom::Usd).expect("fits"),
            })
            .collect(),
        ..Default::default()
    }
}

fn transfers(total: usize, first_nonce: u64) -> Vec<Vec<u8>> {
    let keys: Vec<SigningKey> = (0..SENDERS).map(key).collect();
    (0..total)
        .map(|index| {
            let sender = index % SENDERS;
            TxBody {
                chain_id: CHAIN.into(),
                sender: account(&keys[sender]),
                nonce: first_nonce + (index / SENDERS) as u64,
                fee: Amount::new(1_000),
                messages: vec![Message::Transfer(Transfer {
                    to: account(&keys[(sender + 1) % SENDERS]),
                    denom: Denom::Usd,
                    amount: Amount::new(1),
                })],
            }
            .sign(&keys[sender])
            .to_bytes()
        })
        .collect()
}

fn open(dir: &std::path::Path, validators: usize, index: usize) -> Arc<Node> {
    let mut options = NodeOptions::new(account(&validator_key(index)));
    options.mempool = MempoolConfig {
        capacity: 200_000,
        per_sender_limit: 4_096,
    };
    Arc::new(
        Node::open(
            &dir.join(format!("store-{index}.redb")),
            &genesis(validators),
            options,
        )
        .expect("node opens"),
    )
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

struct Report {
    engine: &'static str,
    interval_p50: Duration,
    interval_p99: Duration,
    latency_p50: Duration,
    latency_max: Duration,
    throughput: f64,
    blocks: u64,
}

/// Measures `nodes` (already driven by an engine).
async fn measure(engine: &'static str, nodes: &[Arc<Node>], total: usize) -> Report {
    // Warm up past the first blocks.
    while nodes[0].committed_height() < 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Block interval on an idle chain.
    let mut events = nodes[0].subscribe();
    let mut last = None;
    let mut intervals = Vec::new();
    while intervals.len() < 20 {
        let _ = events.recv().await.expect("commits");
        let now = Instant::now();
        if let Some(previous) = last {
            intervals.push(now - previous);
        }
        last = Some(now);
    }
    intervals.sort();

    // Commit latency of one transfer (nonces 0..10 of sender 0).
    let keys = [key(0)];
    let mut latencies = Vec::new();
    for nonce in 0..10u64 {
        let bytes = TxBody {
            chain_id: CHAIN.into(),
            sender: account(&keys[0]),
            nonce,
            fee: Amount::new(1_000),
            messages: vec![Message::Transfer(Transfer {
                to: account(&key(1)),
                denom: Denom::Usd,
                amount: Amount::new(1),
            })],
        }
        .sign(&keys[0])
        .to_bytes();
        let started = Instant::now();
        let mut hash = Hash::ZERO;
        for node in nodes {
            hash = node.submit(bytes.clone()).expect("admitted");
        }
        loop {
            let committed = nodes[0]
                .transaction(&hash)
                .expect("store reads")
                .is_some_and(|view| view.receipt.is_some());
            if committed {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        latencies.push(started.elapsed());
    }
    latencies.sort();

    // Throughput: senders 1..1,000 from nonce 0 (sender 0 spent its first nonces above).
    let batch: Vec<Vec<u8>> = transfers(total, 0)
        .into_iter()
        .enumerate()
        .filter(|(index, _)| index % SENDERS != 0)
        .map(|(_, bytes)| bytes)
        .collect();
    let count = batch.len();
    let start_height = nodes[0].committed_height();
    let started = Instant::now();
    let batch = Arc::new(batch);
    let mut submitters = Vec::new();
    for node in nodes {
        let (node, batch) = (node.clone(), batch.clone());
        submitters.push(tokio::task::spawn_blocking(move || {
            // In batches of 512, as the relay sends them (signatures checked in batches).
            for chunk in batch.chunks(512) {
                for result in node.submit_batch(chunk.to_vec()) {
                    result.expect("admitted");
                }
            }
        }));
    }
    for submitter in submitters {
        submitter.await.expect("submitted");
    }
    loop {
        let pending: u64 = nodes.iter().map(|node| node.status().mempool_size).sum();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let took = started.elapsed();
    Report {
        engine,
        interval_p50: percentile(&intervals, 0.5),
        interval_p99: percentile(&intervals, 0.99),
        latency_p50: percentile(&latencies, 0.5),
        latency_max: *latencies.last().expect("samples"),
        throughput: count as f64 / took.as_secs_f64(),
        blocks: nodes[0].committed_height() - start_height,
    }
}

fn print(report: &Report, block_time: Duration) {
    let in_blocks = |duration: Duration| duration.as_secs_f64() / block_time.as_secs_f64();
    println!(
        "{:<14} interval p50 {:>7.1} ms p99 {:>7.1} ms | commit latency p50 {:>7.1} ms ({:.2} block times) max {:>7.1} ms | {:>8.0} transfers/s over {} blocks",
        report.engine,
        ms(report.interval_p50),
        ms(report.interval_p99),
        ms(report.latency_p50),
        in_blocks(report.latency_p50),
        ms(report.latency_max),
        report.throughput,
        report.blocks,
    );
}

async fn solo(total: usize, block_time: Duration) -> Report {
    let dir = tempfile::tempdir().expect("tempdir");
    let solo = open(dir.path(), 1, 0);
    let engine = SoloEngine::new(
        solo.clone(),
        validator_key(0),
        SoloConfig {
            chain_id: CHAIN.into(),
            block_time,
        },
    )
    .spawn();
    let report = measure("solo", std::slice::from_ref(&solo), total).await;
    engine.stop().expect("solo stops");
    report
}

async fn four_validators(total: usize, block_time: Duration) -> Report {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes: Vec<Arc<Node>> = (0..4).map(|index| open(dir.path(), 4, index)).collect();
    let addresses: Vec<SocketAddr> = (0..4).map(|_| free_port()).collect();
    let mut running = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        // As `vcity node validator` sets it: a third of timeout_propose − block_time.
        node.set_proposal_budget((block_time + Duration::from_secs(1)) / 3);
        let options = vcity_bft::ValidatorOptions {
            home: dir.path().join(format!("home-{index}")),
            moniker: format!("v{index}"),
            seed: validator_key(index).to_bytes(),
            chain_id: CHAIN.into(),
            listen: addresses[index],
            peers: addresses
                .iter()
                .copied()
                .filter(|peer| *peer != addresses[index])
                .collect(),
            block_time,
            timeout_propose: block_time * 2 + Duration::from_secs(1),
            timeout_vote: Duration::from_secs(1),
            max_block_bytes: 8 << 20,
        };
        running.push(
            vcity_bft::start(node.clone() as Arc<dyn Application>, options)
                .await
                .expect("validator starts"),
        );
    }
    let report = measure("4 validators", &nodes, total).await;
    for validator in running {
        validator.stop().await.expect("stops");
    }
    report
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect();
    let total = args.first().copied().unwrap_or(20_000) as usize;
    let block_time = Duration::from_millis(args.get(1).copied().unwrap_or(200));
    let rounds = args.get(2).copied().unwrap_or(3).max(1);
    println!(
        "{total} transfers from {SENDERS} senders, block time {} ms, {} cores, {rounds} rounds",
        block_time.as_millis(),
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    // Rounds alternate the engines, so that a slow spell of the machine hits both; the ratio
    // reported is the median of the rounds' ratios.
    let mut ratios = Vec::new();
    for _ in 0..rounds {
        let solo = solo(total, block_time).await;
        print(&solo, block_time);
        let validators = four_validators(total, block_time).await;
        print(&validators, block_time);
        ratios.push(validators.throughput / solo.throughput);
    }
    let listed: Vec<String> = ratios.iter().map(|ratio| format!("{ratio:.2}")).collect();
    ratios.sort_by(f64::total_cmp);
    println!(
        "4 validators / solo: median {:.2} (rounds: {})",
        ratios[ratios.len() / 2],
        listed.join(", ")
    );
}
