//! Compass P4: the same kernel natively and in the deterministic, fuel-metered executor
//! (goal: executor time <= 1.5 × native). Each kernel runs `VCITY_BENCH_ROUNDS` times (default
//! 5) both ways; the best time of each is compared, module compilation excluded (a node compiles
//! a module once and caches it).
//!
//! `cargo bench -p vcity-executor --bench kernels`

use std::time::{Duration, Instant};
use vcity_executor::{Ending, Executor, Limits, Task};
use vcity_types::compute::{task_seed, TaskExit};

/// Name, module, input, native reference.
type Case = (
    &'static str,
    &'static [u8],
    Vec<u8>,
    fn(&[u8]) -> Result<Vec<u8>, vcity_kernels::InputError>,
);

fn best(rounds: u32, mut f: impl FnMut()) -> Duration {
    (0..rounds)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let rounds: u32 = std::env::var("VCITY_BENCH_ROUNDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(5);
    let executor = Executor::new(Limits::default()).expect("engine");
    let cases: [Case; 3] = [
        (
            "matmul 256",
            vcity_workloads::MATMUL.module,
            b"256 7".to_vec(),
            vcity_kernels::matmul::run,
        ),
        (
            "hashchain 1M",
            vcity_workloads::HASHCHAIN.module,
            b"1000000 vcity".to_vec(),
            vcity_kernels::hashchain::run,
        ),
        (
            "blur 1024x1024",
            vcity_workloads::BLUR.module,
            vcity_kernels::blur::Image::synthetic(1024, 1024, 3).to_pgm(),
            vcity_kernels::blur::run,
        ),
    ];
    println!("| kernel | native | executor | ratio | fuel | CU |");
    println!("|---|---|---|---|---|---|");
    for (name, module, input, native) in cases {
        let task = Task {
            module,
            input: &input,
            fuel: u64::MAX / 4,
            factor_ppm: vcity_executor::CPU_CORE_FACTOR_PPM,
            seed: task_seed(1, 0),
            wall_clock: None,
        };
        // Warm up: compile and cache the module, check the result once.
        let outcome = executor.run(&task);
        assert_eq!(outcome.ending, Ending::Exit(TaskExit::Success), "{name}");
        assert_eq!(outcome.output, native(&input).expect("native"), "{name}");
        let native_time = best(rounds, || {
            std::hint::black_box(native(std::hint::black_box(&input)).expect("native"));
        });
        let executor_time = best(rounds, || {
            std::hint::black_box(executor.run(&task));
        });
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.2} | {} | {:.4} |",
            native_time.as_secs_f64() * 1e3,
            executor_time.as_secs_f64() * 1e3,
            executor_time.as_secs_f64() / native_time.as_secs_f64(),
            outcome.fuel_used,
            outcome.cu_used_ppm as f64 / 1e6,
        );
    }
}
