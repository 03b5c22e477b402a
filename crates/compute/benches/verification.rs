//! P6: what verification costs against the work it protects (docs/benchmarks.md, P6).
//!
//! 1. **Sampled re-execution.** For each example workload, the compute node's run (the
//!    executor, as `vcity node compute` calls it) against the verifier's check (the same
//!    re-execution plus building and comparing the commitment, as `vcity node verifier` does).
//!    At sampling rate `p` the network spends `p × check / run` of the work on checking it.
//! 2. **Capacity proofs.** The node's product `C = A·B` (n³ multiply-accumulates) against the
//!    node's openings (`C·r` and 16 rows) and the verifier's check (Freivalds' `A·(B·r)`, the
//!    rows against the root and `y`), for several `n`.
//!
//! `cargo bench -p vcity-compute --bench verification [-- ROUNDS]` (default 5 rounds; medians).

use std::time::{Duration, Instant};
use vcity_compute::capacity::{self, OpenRequest, OPENED_ROWS};
use vcity_executor::{fuel_for_cu_ppm, Executor, Limits, Task, CPU_CORE_FACTOR_PPM};
use vcity_types::compute::task_seed;
use vcity_types::hash::Domain;
use vcity_types::Hash;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(rounds: usize, mut work: impl FnMut() -> T) -> Duration {
    median(
        (0..rounds)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(work());
                started.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .and_then(|text| text.parse().ok())
        .unwrap_or(5)
        .max(1);
    let executor = Executor::new(Limits::default()).expect("executor");
    println!("P6 part 1: sampled re-execution ({rounds} rounds, medians)");
    println!(
        "{:<10} {:>12} {:>12} {:>8} {:>14} {:>14} {:>14}",
        "workload", "run", "check", "ratio", "cost at 5%", "at 25%", "at 100%"
    );
    for workload in vcity_workloads::DEMO {
        let input: Vec<u8> = match workload.name {
            "matmul" => b"256 7".to_vec(),
            "hashchain" => b"300000 vcity".to_vec(),
            _ => vcity_kernels::blur::Image::synthetic(240, 240, 11).to_pgm(),
        };
        let task = Task {
            module: workload.module,
            input: &input,
            fuel: fuel_for_cu_ppm(10_000_000, CPU_CORE_FACTOR_PPM),
            factor_ppm: CPU_CORE_FACTOR_PPM,
            seed: task_seed(1, 0),
            wall_clock: None,
        };
        // Warm the compiled-module cache, as a node and a verifier that run a module twice have.
        let node_commitment = executor.run(&task).commitment().expect("a result");
        let run = time(rounds, || executor.run(&task));
        let check = time(rounds, || {
            let mine = executor.run(&task).commitment().expect("a result");
            assert_eq!(mine.hash(), node_commitment.hash(), "deterministic");
        });
        let ratio = check.as_secs_f64() / run.as_secs_f64();
        println!(
            "{:<10} {:>10.2}ms {:>10.2}ms {:>8.3} {:>13.2}% {:>13.2}% {:>13.2}%",
            workload.name,
            run.as_secs_f64() * 1e3,
            check.as_secs_f64() * 1e3,
            ratio,
            5.0 * ratio,
            25.0 * ratio,
            100.0 * ratio,
        );
    }

    println!();
    println!("P6 part 2: a capacity proof per device (one thread; {rounds} rounds, medians)");
    println!(
        "{:>6} {:>12} {:>12} {:>12} {:>14} {:>14}",
        "n", "product", "openings", "check", "check/product", "node extra"
    );
    let seed = Hash::of(Domain::CapacitySeed, &[b"bench"]);
    for n in [256usize, 512, 1024, 2048] {
        let rounds = if n >= 2048 { 1 } else { rounds };
        let proof = capacity::prove_device(&seed, 0, n, 1, None).expect("no deadline");
        let product = time(rounds, || capacity::prove_device(&seed, 0, n, 1, None));
        let root = proof.root();
        let request = OpenRequest {
            device: 0,
            nonce: Hash::of(Domain::Draw, &[b"nonce"]),
            rows: (0..OPENED_ROWS as u32)
                .map(|row| row * (n as u32 / OPENED_ROWS as u32))
                .collect(),
        };
        let opening = capacity::open(&seed, &proof, &request).expect("in range");
        let openings = time(rounds, || capacity::open(&seed, &proof, &request));
        let check = time(rounds, || {
            capacity::check(&seed, n, &root, &request, &opening).expect("honest proof passes")
        });
        println!(
            "{:>6} {:>10.1}ms {:>10.1}ms {:>10.1}ms {:>13.3}% {:>13.1}%",
            n,
            product.as_secs_f64() * 1e3,
            openings.as_secs_f64() * 1e3,
            check.as_secs_f64() * 1e3,
            100.0 * check.as_secs_f64() / product.as_secs_f64(),
            100.0 * openings.as_secs_f64() / product.as_secs_f64(),
        );
    }
}
