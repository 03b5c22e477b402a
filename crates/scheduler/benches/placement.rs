#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // A benchmark measures time; the engine it calls does not.

//! Compass P3: the placement engine at scale (issue 6 point 5).
//!
//! ```text
//! cargo bench -p vcity-scheduler --bench placement                  # 10,000 nodes, 100,000 tasks
//! cargo bench -p vcity-scheduler --bench placement -- 2000 20000 7  # nodes, tasks, seed
//! ```
//!
//! 1. *Throughput and latency*: the synthetic fleet and queue (`vcity_scheduler::synthetic`) go
//!    through one [`Round`] (dominant resource fairness across 200 users), every decision timed;
//!    then half of what was placed finishes and the tasks that waited go through a second round.
//!    Decisions per second on one core and p50/p99 of a decision (a gang of four tasks is one
//!    decision of four placements).
//! 2. *Cost gap*: instances of 1,000 one-slot nodes × 1,000 tasks from the same generators; the
//!    engine's total static cost against the exact minimum ([`optimum::assign`]), an unplaced task
//!    costing the most any pair costs plus one. With and without exploration (which sends 5% of
//!    decisions to newcomers on purpose).
//! 3. *Fairness*: Jain's index over the dominant shares of the users still waiting after round 1
//!    (dominant resource fairness should equalize them where their constraints allow), and over
//!    the tasks each of 100 identical providers got across 50 rounds of 7 tasks.

use std::time::{Duration, Instant};
use vcity_ledger::nodes::NodeParams;
use vcity_scheduler::synthetic::{self, Rng};
use vcity_scheduler::{jain, optimum, Engine, Request, Round, Unit, UnitDecision, Weights};
use vcity_types::compute::{Hardware, NodeRecord, Requirements};
use vcity_types::{AccountId, Amount};

const NOW_S: u64 = 1_000;

fn engine_with(fleet: &[(NodeRecord, u32)], weights: Weights) -> Engine {
    synthetic::engine(fleet, weights, NOW_S)
}

fn percentile(sorted: &[Duration], per_mille: usize) -> Duration {
    sorted[(sorted.len() * per_mille / 1_000).min(sorted.len() - 1)]
}

/// Runs `round` to the end, timing every decision.
fn timed(
    mut round: Round,
    engine: &mut Engine,
    latencies: &mut Vec<Duration>,
    busy: &mut Duration,
) -> Vec<(Unit, UnitDecision)> {
    let mut decisions = Vec::new();
    loop {
        let started = Instant::now();
        let Some(decision) = round.next(engine) else {
            break;
        };
        let took = started.elapsed();
        *busy += took;
        latencies.push(took);
        decisions.push(decision);
    }
    decisions
}

fn scale(nodes: usize, tasks: usize, seed: u64) {
    let params = NodeParams::default();
    let mut rng = Rng::new(seed);
    let fleet = synthetic::fleet(&mut rng, &params, nodes, NOW_S, false);
    let queue = synthetic::demand(&mut rng, tasks, 200);
    let started = Instant::now();
    let mut engine = engine_with(&fleet, Weights::default());
    let build = started.elapsed();

    let mut latencies = Vec::with_capacity(tasks);
    let mut busy = Duration::ZERO;
    let (mut placed, mut waited, mut unplaceable) = (Vec::new(), Vec::new(), 0usize);
    let mut decisions = 0usize;
    for (unit, decision) in timed(
        Round::new(&engine, queue),
        &mut engine,
        &mut latencies,
        &mut busy,
    ) {
        decisions += unit.requests.len();
        match decision {
            UnitDecision::Assign(allocations) => placed.extend(allocations),
            UnitDecision::Wait => waited.extend(unit.requests),
            UnitDecision::Unplaceable { .. } => unplaceable += unit.requests.len(),
        }
    }
    let round_one = (decisions, busy, placed.len(), waited.len(), unplaceable);
    // Users still waiting after round 1, and their dominant shares.
    let mut backlogged: Vec<AccountId> = waited.iter().map(|request| request.owner).collect();
    backlogged.sort();
    backlogged.dedup();
    let shares: Vec<u64> = backlogged
        .iter()
        .map(|owner| engine.dominant_share_ppm(owner))
        .collect();

    // Half of the placed tasks finish; the waiting ones get a second round.
    let mut finished = 0usize;
    for allocation in placed.iter().step_by(2) {
        engine.release(allocation);
        finished += 1;
    }
    let retry = std::mem::take(&mut waited);
    let mut placed_two = 0usize;
    for (unit, decision) in timed(
        Round::new(&engine, retry),
        &mut engine,
        &mut latencies,
        &mut busy,
    ) {
        decisions += unit.requests.len();
        if let UnitDecision::Assign(allocations) = decision {
            placed_two += allocations.len();
        }
    }
    latencies.sort();
    println!("## P3 placement: {nodes} nodes, {tasks} queued tasks, 200 users, seed {seed}");
    println!("inventory built in {:.1} ms", build.as_secs_f64() * 1e3);
    println!(
        "round 1: {} decisions, {} placed, {} waiting, {} unplaceable, {:.1} ms",
        round_one.0,
        round_one.2,
        round_one.3,
        round_one.4,
        round_one.1.as_secs_f64() * 1e3
    );
    println!(
        "round 2 (after {finished} finished): {} more decisions, {placed_two} placed",
        decisions - round_one.0
    );
    println!(
        "decisions/s (one core): {:.0}",
        decisions as f64 / busy.as_secs_f64()
    );
    println!(
        "decision latency: p50 {:.2} µs, p99 {:.2} µs, max {:.2} µs",
        percentile(&latencies, 500).as_secs_f64() * 1e6,
        percentile(&latencies, 990).as_secs_f64() * 1e6,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e6
    );
    println!(
        "Jain's index over the dominant shares of the {} users still waiting after round 1: {:.3}",
        shares.len(),
        jain(&shares)
    );
}

fn gap(seed: u64, size: usize, exploration_per_mille: u32) -> (f64, usize, usize, Duration) {
    let params = NodeParams::default();
    let mut rng = Rng::new(seed);
    let fleet = synthetic::fleet(&mut rng, &params, size, NOW_S, true);
    let queue = synthetic::demand(&mut rng, size, 20);
    let weights = Weights {
        exploration_per_mille,
        ..Weights::default()
    };
    let reference = engine_with(&fleet, weights.clone());
    let costs: Vec<Vec<Option<i64>>> = queue
        .iter()
        .map(|request| {
            fleet
                .iter()
                .map(|(record, _)| {
                    reference
                        .cost(request, &record.id)
                        .map(|cost| i64::try_from(cost).expect("cost fits"))
                })
                .collect()
        })
        .collect();
    let unplaced = costs.iter().flatten().flatten().max().copied().unwrap_or(0) + 1;
    let started = Instant::now();
    let best = optimum::assign(
        queue.len(),
        fleet.len(),
        |task, node| costs[task][node],
        unplaced,
    );
    let solve = started.elapsed();
    let column: std::collections::BTreeMap<AccountId, usize> = fleet
        .iter()
        .enumerate()
        .map(|(index, (record, _))| (record.id, index))
        .collect();
    let position: std::collections::BTreeMap<(u64, u32), usize> = queue
        .iter()
        .enumerate()
        .map(|(index, request)| ((request.job, request.task), index))
        .collect();
    let mut engine = engine_with(&fleet, weights);
    let mut total = 0i64;
    let mut placed = 0usize;
    for (unit, decision) in Round::new(&engine, queue.clone()).run(&mut engine) {
        match decision {
            UnitDecision::Assign(allocations) => {
                for allocation in allocations {
                    let task = position[&(allocation.job, allocation.task)];
                    total += costs[task][column[&allocation.node]].expect("a fitting node");
                    placed += 1;
                }
            }
            _ => total += unplaced * unit.requests.len() as i64,
        }
    }
    let optimum_placed = best.columns.iter().flatten().count();
    (
        (total - best.total) as f64 / best.total as f64,
        placed,
        optimum_placed,
        solve,
    )
}

/// 100 identical providers, 50 rounds of 7 one-slot tasks, each released after its round.
fn providers_fairness() -> f64 {
    let params = NodeParams::default();
    let hardware = Hardware {
        sandbox: None,
        gpus: vec![],
        cpu_cores: 16,
        ram_mib: 65_536,
    };
    let mut engine = Engine::new(params.clone(), Weights::default());
    engine.advance(NOW_S);
    let ids: Vec<AccountId> = (0..100).map(|n| synthetic::account(3, n)).collect();
    for id in &ids {
        let mut record =
            synthetic::node(&params, *id, hardware.clone(), Amount::new(50_000), NOW_S);
        record.tasks_completed = 100;
        engine.upsert(&record, Some(20));
    }
    let mut count = std::collections::BTreeMap::<AccountId, u64>::new();
    let mut job = 0u64;
    for _ in 0..50 {
        // Fewer tasks than slots in each round, so which node gets the next one is a choice.
        let requests: Vec<Request> = (0..7)
            .map(|task| {
                job += 1;
                Request {
                    job,
                    task,
                    owner: synthetic::account(4, u64::from(task % 10)),
                    requirements: Requirements::default(),
                    max_price_per_cu_usd: Amount::new(100_000),
                }
            })
            .collect();
        let mut held = Vec::new();
        for (_, decision) in Round::new(&engine, requests).run(&mut engine) {
            if let UnitDecision::Assign(allocations) = decision {
                for allocation in allocations {
                    *count.entry(allocation.node).or_default() += 1;
                    held.push(allocation);
                }
            }
        }
        for allocation in &held {
            engine.release(allocation);
        }
    }
    let values: Vec<u64> = ids
        .iter()
        .map(|id| count.get(id).copied().unwrap_or(0))
        .collect();
    jain(&values)
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect();
    let nodes = args.first().copied().unwrap_or(10_000) as usize;
    let tasks = args.get(1).copied().unwrap_or(100_000) as usize;
    let seed = args.get(2).copied().unwrap_or(1);
    scale(nodes, tasks, seed);
    println!();
    println!("## Cost gap against the optimum (1,000 one-slot nodes x 1,000 tasks)");
    for instance_seed in [seed, seed + 1, seed + 2] {
        for exploration in [0, 50] {
            let (gap, placed, optimum_placed, solve) = gap(instance_seed, 1_000, exploration);
            println!(
                "seed {instance_seed}, exploration {exploration}‰: gap {:.2}% (engine placed {placed}, optimum {optimum_placed}; optimum solved in {:.1} s)",
                gap * 100.0,
                solve.as_secs_f64()
            );
        }
    }
    println!();
    println!(
        "Jain's index, tasks per provider among 100 identical providers (50 rounds of 7 tasks): {:.3}",
        providers_fairness()
    );
}
