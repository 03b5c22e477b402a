//! A seeded synthetic cluster and demand, shaped like real GPU clouds, for the benchmark (compass
//! P3) and the tests. The same seed gives the same fleet and queue on every machine.
//!
//! The fleet mixes data-center nodes (8× H100/H200/A100 80 GB, 4× A100 40 GB, 4× L40S; stable,
//! many cores, dearer), consumer GPUs (1–2× RTX 4090, 1× RTX 3090; flexible, few cores, cheap) and
//! CPU-only nodes, over six regions with uneven shares and region-dependent round trips; a tenth
//! of the nodes are new (no record), and a few are flaky. The demand is skewed: a few users
//! submit most tasks (Zipf), in bursts of jobs; half the tasks are CPU work, a third want one GPU
//! (often any model with enough memory), and a few want whole 8-GPU nodes; a quarter pin a
//! region, some want stable nodes, some pay little, and some jobs are gangs.

use crate::engine::{Engine, Request, Weights};
use vcity_ledger::nodes::{self, NodeParams};
use vcity_types::compute::{GpuSpec, Hardware, NodeKind, NodeRecord, Requirements, Role};
use vcity_types::{AccountId, Amount};

/// SplitMix64: small, fast, and the same everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// True with probability `per_mille` / 1000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1_000) < per_mille
    }

    /// An index drawn with the given weights.
    pub fn pick(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut point = self.below(total);
        for (index, weight) in weights.iter().enumerate() {
            if point < *weight {
                return index;
            }
            point -= weight;
        }
        weights.len() - 1
    }
}

/// Regions and their shares of the fleet.
pub const REGIONS: [(&str, u64); 6] = [
    ("us-east", 30),
    ("us-west", 15),
    ("eu-west", 20),
    ("eu-central", 15),
    ("ap-south", 10),
    ("ap-east", 10),
];

struct Shape {
    gpus: &'static [(&'static str, u32, u32)],
    kind: NodeKind,
    cores: (u64, u64),
    /// USD base units per CU.
    price: (u64, u64),
    share: u64,
}

const SHAPES: [Shape; 9] = [
    Shape {
        gpus: &[("H100", 8, 81_920)],
        kind: NodeKind::Stable,
        cores: (64, 128),
        price: (180_000, 260_000),
        share: 6,
    },
    Shape {
        gpus: &[("H200", 8, 144_384)],
        kind: NodeKind::Stable,
        cores: (64, 128),
        price: (220_000, 300_000),
        share: 2,
    },
    Shape {
        gpus: &[("A100", 8, 81_920)],
        kind: NodeKind::Stable,
        cores: (64, 96),
        price: (140_000, 200_000),
        share: 6,
    },
    Shape {
        gpus: &[("A100", 4, 40_960)],
        kind: NodeKind::Stable,
        cores: (32, 64),
        price: (120_000, 180_000),
        share: 8,
    },
    Shape {
        gpus: &[("L40S", 4, 49_152)],
        kind: NodeKind::Stable,
        cores: (32, 64),
        price: (100_000, 150_000),
        share: 8,
    },
    Shape {
        gpus: &[("RTX4090", 1, 24_576)],
        kind: NodeKind::Flexible,
        cores: (8, 24),
        price: (60_000, 110_000),
        share: 30,
    },
    Shape {
        gpus: &[("RTX4090", 2, 24_576)],
        kind: NodeKind::Flexible,
        cores: (16, 32),
        price: (60_000, 110_000),
        share: 8,
    },
    Shape {
        gpus: &[("RTX3090", 1, 24_576)],
        kind: NodeKind::Flexible,
        cores: (8, 16),
        price: (40_000, 80_000),
        share: 17,
    },
    Shape {
        gpus: &[],
        kind: NodeKind::Stable,
        cores: (16, 64),
        price: (30_000, 70_000),
        share: 15,
    },
];

/// An account id from a number (distinct for distinct numbers).
pub fn account(tag: u8, number: u64) -> AccountId {
    let mut bytes = [0u8; 32];
    bytes[0] = tag;
    bytes[24..].copy_from_slice(&number.to_be_bytes());
    AccountId(bytes)
}

/// A healthy compute node with `hardware`, staked exactly as the ledger requires, heartbeating
/// at `now_s`, stable, in `eu-west`, with no record yet.
pub fn node(
    params: &NodeParams,
    id: AccountId,
    hardware: Hardware,
    price_per_cu_usd: Amount,
    now_s: u64,
) -> NodeRecord {
    let capacity = nodes::capacity_ppm(params, &hardware).expect("known GPU models");
    NodeRecord {
        id,
        role: Role::Compute,
        kind: NodeKind::Stable,
        hardware,
        region: "eu-west".into(),
        endpoint: String::new(),
        price_per_cu_usd,
        stake: nodes::required_stake(params, Role::Compute, capacity),
        capacity_cu_ppm: capacity,
        registered_s: 0,
        last_heartbeat_s: now_s,
        load_ppm: 0,
        healthy: true,
        running_tasks: 0,
        online_s: 0,
        tasks_completed: 0,
        tasks_lost: 0,
        trust: Default::default(),
        health: Default::default(),
        tee: Default::default(),
    }
}

/// An engine at `now_s` holding `fleet` (records with their measured round trips).
pub fn engine(fleet: &[(NodeRecord, u32)], weights: Weights, now_s: u64) -> Engine {
    let mut engine = Engine::new(NodeParams::default(), weights);
    engine.advance(now_s);
    for (record, latency_ms) in fleet {
        engine.upsert(record, Some(*latency_ms));
    }
    engine
}

/// `count` compute nodes, all online at `now_s` and staked as the ledger requires, with their
/// round trips (ms) as the scheduler would measure them. With `one_slot`, every node has one
/// core: it runs one task at a time (the shape the reference solver handles exactly).
pub fn fleet(
    rng: &mut Rng,
    params: &NodeParams,
    count: usize,
    now_s: u64,
    one_slot: bool,
) -> Vec<(NodeRecord, u32)> {
    let shares: Vec<u64> = SHAPES.iter().map(|shape| shape.share).collect();
    let region_shares: Vec<u64> = REGIONS.iter().map(|(_, share)| *share).collect();
    (0..count)
        .map(|number| {
            let shape = &SHAPES[rng.pick(&shares)];
            let region = rng.pick(&region_shares);
            let hardware = Hardware {
                sandbox: None,
                gpus: shape
                    .gpus
                    .iter()
                    .map(|(model, count, vram_mib)| GpuSpec {
                        model: (*model).to_string(),
                        count: *count,
                        vram_mib: *vram_mib,
                    })
                    .collect(),
                cpu_cores: if one_slot {
                    1
                } else {
                    rng.between(shape.cores.0, shape.cores.1) as u32
                },
                ram_mib: 65_536,
            };
            let (completed, lost) = if rng.chance(100) {
                (0, 0)
            } else if rng.chance(50) {
                let taken = rng.between(10, 200);
                (taken / 2, taken - taken / 2)
            } else {
                let taken = rng.between(10, 2_000);
                let lost = rng.below(taken / 50 + 1);
                (taken - lost, lost)
            };
            // Round trips: a base per region pair (the scheduler sits in us-east) plus jitter.
            let base_ms = [8, 60, 80, 90, 180, 160][region];
            let latency_ms = (base_ms + rng.below(20)) as u32;
            let price = Amount::new(u128::from(rng.between(shape.price.0, shape.price.1)));
            let mut record = node(params, account(1, number as u64), hardware, price, now_s);
            record.kind = shape.kind;
            record.region = REGIONS[region].0.to_string();
            record.tasks_completed = completed;
            record.tasks_lost = lost;
            (record, latency_ms)
        })
        .collect()
}

/// A queue of `count` tasks from `users` users, oldest first.
pub fn demand(rng: &mut Rng, count: usize, users: u64) -> Vec<Request> {
    // Zipf-like: user r (1-based) submits in proportion to 1/r.
    let user_weights: Vec<u64> = (1..=users).map(|rank| 1_000_000 / rank).collect();
    let region_shares: Vec<u64> = REGIONS.iter().map(|(_, share)| *share).collect();
    let mut queue = Vec::with_capacity(count);
    let mut job = 0u64;
    while queue.len() < count {
        // A burst: one user submits several jobs in a row.
        let owner = account(2, rng.pick(&user_weights) as u64);
        let jobs_in_burst = if rng.chance(100) {
            rng.between(5, 40)
        } else {
            1
        };
        for _ in 0..jobs_in_burst {
            job += 1;
            let mut requirements = Requirements {
                max_duration_s: 600,
                ..Requirements::default()
            };
            match rng.pick(&[450, 250, 100, 100, 60, 30, 10]) {
                0 => {}
                1 => {
                    requirements.gpu_count = 1;
                    requirements.min_vram_mib = 16_384;
                }
                2 => {
                    requirements.gpu_model = Some("RTX4090".into());
                    requirements.gpu_count = 1;
                }
                3 => {
                    requirements.gpu_model = Some("A100".into());
                    requirements.gpu_count = rng.between(1, 2) as u32;
                    requirements.min_vram_mib = 40_960;
                }
                4 => {
                    requirements.gpu_model = Some("H100".into());
                    requirements.gpu_count = [1, 2, 4][rng.below(3) as usize];
                    requirements.min_vram_mib = 81_920;
                }
                5 => {
                    requirements.gpu_model = Some("H100".into());
                    requirements.gpu_count = 8;
                }
                _ => {
                    requirements.gpu_model = Some("H200".into());
                    requirements.gpu_count = 8;
                }
            }
            if rng.chance(250) {
                requirements.region = Some(REGIONS[rng.pick(&region_shares)].0.to_string());
            }
            if rng.chance(100) {
                requirements.node_kind = Some(NodeKind::Stable);
            }
            let tasks = if rng.chance(50) {
                requirements.gang = true;
                4
            } else {
                rng.between(1, 8) as u32
            };
            let max_price = if rng.chance(50) { 90_000 } else { 400_000 };
            for task in 0..tasks {
                queue.push(Request {
                    job,
                    task,
                    owner,
                    requirements: requirements.clone(),
                    max_price_per_cu_usd: Amount::new(max_price),
                });
            }
        }
    }
    queue.truncate(count);
    queue
}
