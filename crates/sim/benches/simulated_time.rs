//! P7 (docs/benchmarks.md): simulated time per wall-clock second on the real ledger.
//!
//! `cargo bench -p vcity-sim --bench simulated_time -- [providers] [weeks]` runs the baseline
//! scenario's populations scaled to `providers` nodes (demand scaled with them, so utilization
//! stays near the target) for `weeks` weeks and prints simulated weeks per second. Without
//! arguments it runs the two P7 cases briefly: 1,000 providers and 10,000 providers, 4 weeks
//! each, and extrapolates to a decade and a year.

// The benchmark measures wall time; the simulator itself never reads a clock.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;
use vcity_sim::scenario::Scenario;
use vcity_sim::world::{RunSpec, World};

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
    rate
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
