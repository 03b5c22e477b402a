//! P7 (docs/benchmarks.md): simulated time per wall-clock second on the real ledger.
//!
//! `cargo bench -p vcity-sim --bench simulated_time -- [providers] [weeks]` runs the baseline
//! scenario's populations scaled to `providers` nodes (demand scaled with them, so utilization
//! stays near the target) for `weeks` weeks and prints simulated weeks per second. Without
//! arguments it runs the two P7 cases briefly: 1,000 providers and 10,000 providers, 4 weeks
//! each, and extrapolates to a decade and a year. Each case also prints the tasks the run
//! submitted, the wall time per task against what the goal allows, and the floor that one signed
//! result statement per task (signed once, checked once, timed on this machine) puts under it.

// The benchmark measures wall time; the simulator itself never reads a clock.
#![allow(clippy::disallowed_methods)]

use ed25519_dalek::SigningKey;
use std::time::Instant;
use vcity_ledger::jobs;
use vcity_sim::scenario::Scenario;
use vcity_sim::world::{RunSpec, World};
use vcity_types::trust::{ResultStatement, SignedResult};

const BASELINE: &str = include_str!("../../../examples/sim/baseline.toml");

fn scaled(providers: u32, weeks: u32) -> Scenario {
    let mut scenario = Scenario::from_toml(BASELINE).expect("the baseline scenario is valid");
    let base: u32 = scenario.providers.iter().map(|group| group.count).sum();
    let factor = f64::from(providers) / f64::from(base);
    for group in &mut scenario.providers {
        group.count = ((f64::from(group.count) * factor).round() as u32).max(1);
    }
    for group in &mut scenario.buyers {
        group.gpu_hours_per_week *= factor;
        group.count = ((f64::from(group.count) * factor).round() as u32).max(1);
    }
    scenario.weeks = weeks;
    scenario
}

fn measure(providers: u32, weeks: u32) -> f64 {
    let scenario = scaled(providers, weeks);
    let started = Instant::now();
    let mut world = World::new(RunSpec {
        scenario,
        seed: 1,
        subset: 0,
    })
    .expect("genesis");
    world
        .run(&mut |week| {
            eprintln!(
                "  {providers} providers: week {week} at {:.1} s",
                started.elapsed().as_secs_f64()
            )
        })
        .expect("the run completes");
    let elapsed = started.elapsed().as_secs_f64();
    let rate = f64::from(weeks) / elapsed;
    println!(
        "{providers} providers, {weeks} weeks: {elapsed:.1} s, {rate:.3} simulated weeks/s \
         (a decade, 522 weeks: {:.0} s; a year, 52 weeks: {:.0} s)",
        522.0 / rate,
        52.0 / rate
    );
    let tasks = tasks_submitted(&world);
    let per_week = tasks as f64 / f64::from(weeks);
    let (sign_us, check_us) = statement_cost_us();
    // P7's budget: 600 s on 2 cores for the decade (1,000 providers) or the year (10,000).
    let goal_tasks = if providers >= 10_000 { 52.0 } else { 522.0 } * per_week;
    let floor_s = goal_tasks * (sign_us + check_us) / 2.0 / 1e6;
    println!(
        "  {tasks} tasks submitted ({per_week:.0} a week): {:.0} µs of wall time per task; the goal \
         allows {:.1} µs ({goal_tasks:.0} tasks in 600 s)",
        elapsed * 1e6 / tasks.max(1) as f64,
        600.0 * 1e6 / goal_tasks.max(1.0)
    );
    println!(
        "  one result statement, one core: signed in {sign_us:.1} µs, checked in {check_us:.1} µs \
         (ZIP-215, batches of 256); the goal's statements alone on 2 cores: {floor_s:.0} s"
    );
    rate
}

/// Tasks the run's buyers submitted: every job's tasks, read from the ledger's state.
fn tasks_submitted(world: &World) -> u64 {
    let state = world.ledger().state();
    (1..=jobs::count(state))
        .filter_map(|id| jobs::job(state, id))
        .map(|job| job.tasks.len() as u64)
        .sum()
}

/// What each task's result statement costs on one core of this machine: the node signs it once
/// and the network checks it once (ZIP-215 in batches of 256, as a node's mempool does). A floor
/// under the protocol as it is: one signed statement per task, which an equivocation proof needs.
fn statement_cost_us() -> (f64, f64) {
    const COUNT: u32 = 4_096;
    let key = SigningKey::from_bytes(&[7; 32]);
    let statements: Vec<ResultStatement> = (0..COUNT)
        .map(|index| ResultStatement {
            chain_id: "vcity-bench".into(),
            job_id: u64::from(index),
            task: 0,
            attempt: 1,
            result_hash: vcity_types::compute::content_address(&index.to_le_bytes()),
        })
        .collect();
    let started = Instant::now();
    let signed: Vec<SignedResult> = statements
        .into_iter()
        .map(|statement| statement.sign(&key))
        .collect();
    let sign_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(COUNT);
    let messages: Vec<Vec<u8>> = signed
        .iter()
        .map(|signed| signed.statement.sign_bytes())
        .collect();
    let started = Instant::now();
    let items: Vec<vcity_types::ed25519::Item<'_>> = signed
        .iter()
        .zip(&messages)
        .map(|(signed, message)| vcity_types::ed25519::Item {
            public_key: &signed.signer.0,
            message,
            signature: &signed.signature.0,
        })
        .collect();
    let valid = vcity_types::ed25519::verify_each(&items, 256);
    let check_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(COUNT);
    assert!(valid.iter().all(|valid| *valid), "every statement verifies");
    (sign_us, check_us)
}

fn main() {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|arg| arg.parse().ok())
        .collect();
    match args.as_slice() {
        [providers, weeks, ..] => {
            measure(*providers, *weeks);
        }
        _ => {
            measure(1_000, 4);
            measure(10_000, 2);
        }
    }
}
