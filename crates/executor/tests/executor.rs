//! The executor against the example workloads' native references, and against hostile modules:
//! every one is contained, ends deterministically and is billed at most its budget, and the
//! executor keeps working afterwards.

use std::time::Duration;
use vcity_executor::{cu_ppm_for_fuel, fuel_for_cu_ppm, Ending, Executor, Limits, Outcome, Task};
use vcity_types::compute::{task_seed, TaskExit};

fn executor() -> Executor {
    Executor::new(Limits {
        memory_bytes: 64 * 1024 * 1024,
        output_bytes: 1024 * 1024,
        log_bytes: 1024,
        wall_clock: Duration::from_secs(60),
        ..Limits::default()
    })
    .expect("engine")
}

fn run(executor: &Executor, module: &[u8], input: &[u8], fuel: u64) -> Outcome {
    executor.run(&Task {
        module,
        input,
        fuel,
        factor_ppm: vcity_executor::CPU_CORE_FACTOR_PPM,
        seed: task_seed(1, 0),
        wall_clock: None,
    })
}

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("valid WAT")
}

/// A module whose `_start` is `body`, with fd_write and proc_exit imported and a 1-page memory.
fn program(body: &str, extra: &str) -> Vec<u8> {
    wat(&format!(
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
            {extra}
            (memory (export "memory") 1)
            (func (export "_start") {body}))"#
    ))
}

const BUDGET: u64 = 20_000_000_000;

#[test]
fn example_workloads_match_their_native_references() {
    let executor = executor();
    for workload in vcity_workloads::ALL {
        let input = (workload.example_input)();
        let outcome = run(&executor, workload.module, &input, BUDGET);
        assert_eq!(
            outcome.ending,
            Ending::Exit(TaskExit::Success),
            "{}: log {}",
            workload.name,
            String::from_utf8_lossy(&outcome.log)
        );
        let reference = (workload.reference)(&input).expect("reference runs");
        assert_eq!(outcome.output, reference, "{}", workload.name);
        assert!(outcome.cu_used_ppm > 0 && outcome.fuel_used < BUDGET);
        assert_eq!(
            outcome.cu_used_ppm,
            cu_ppm_for_fuel(outcome.fuel_used, vcity_executor::CPU_CORE_FACTOR_PPM)
        );
        // Deterministic: the same commitment (fuel included) on a second run.
        let again = run(&executor, workload.module, &input, BUDGET);
        assert_eq!(
            again.commitment(),
            outcome.commitment(),
            "{}",
            workload.name
        );
    }
}

#[test]
fn a_bad_input_is_a_deterministic_non_zero_exit_with_a_log() {
    let executor = executor();
    let outcome = run(&executor, vcity_workloads::MATMUL.module, b"oops", BUDGET);
    assert_eq!(outcome.ending, Ending::Exit(TaskExit::ExitCode { code: 1 }));
    assert!(String::from_utf8_lossy(&outcome.log).contains("N is not a number"));
}

#[test]
fn an_endless_loop_is_billed_exactly_its_budget() {
    let executor = executor();
    let module = program("(loop $forever (br $forever))", "");
    let fuel = fuel_for_cu_ppm(5_000, vcity_executor::CPU_CORE_FACTOR_PPM);
    let outcome = run(&executor, &module, b"", fuel);
    assert_eq!(outcome.ending, Ending::Exit(TaskExit::OutOfFuel));
    assert_eq!(outcome.fuel_used, fuel);
    assert_eq!(outcome.cu_used_ppm, 5_000);
}

#[test]
fn cu_is_fuel_time_times_the_assignment_s_factor() {
    // The same loop of 10^9 fuel (one second of fuel-time) billed on one CPU core (0.01 CU/s)
    // and on two H100s (2 × 2.0 CU/s): 10,000 and 4,000,000 millionths of a CU. A budget buys
    // fuel at the same rate, so an endless loop stops at its budget on either.
    let executor = executor();
    let module = program("(loop $forever (br $forever))", "");
    let fuel = 1_000_000_000;
    for (factor_ppm, cu_ppm) in [(10_000, 10_000), (4_000_000, 4_000_000)] {
        assert_eq!(cu_ppm_for_fuel(fuel, factor_ppm), cu_ppm);
        assert_eq!(fuel_for_cu_ppm(cu_ppm, factor_ppm), fuel);
        let outcome = executor.run(&Task {
            module: &module,
            input: b"",
            fuel: fuel_for_cu_ppm(cu_ppm, factor_ppm),
            factor_ppm,
            seed: task_seed(1, 0),
            wall_clock: None,
        });
        assert_eq!(outcome.ending, Ending::Exit(TaskExit::OutOfFuel));
        assert_eq!(outcome.cu_used_ppm, cu_ppm);
    }
    // Rounding: a little fuel still bills a millionth; a budget never buys more fuel than paid.
    assert_eq!(cu_ppm_for_fuel(1, 10_000), 1);
    assert_eq!(fuel_for_cu_ppm(1, 3), 333_333_333);
}

#[test]
fn a_memory_bomb_ends_at_the_memory_limit() {
    let executor = executor();
    let module = program(
        "(loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))",
        "",
    );
    let outcome = run(&executor, &module, b"", BUDGET);
    assert_eq!(outcome.ending, Ending::Exit(TaskExit::MemoryLimit));
    // A module that declares more initial memory than allowed is refused the same way.
    let greedy = wat(r#"(module (memory (export "memory") 2000) (func (export "_start")))"#);
    let outcome = run(&executor, &greedy, b"", BUDGET);
    assert_eq!(outcome.ending, Ending::Exit(TaskExit::MemoryLimit));
}

#[test]
fn host_files_are_out_of_reach() {
    let executor = executor();
    // path_open(fd, flags, path, len, oflags, rights, rights, fdflags, result) for each path;
    // the exit code is the errno (76 = ENOTCAPABLE, 8 = EBADF, 44 = ENOENT).
    for (directory, path, expected) in [
        (3, "../../../../etc/passwd", 76),
        (3, "/etc/passwd", 76),
        (3, "input/../../etc/passwd", 76),
        (4, "etc/passwd", 8),
        (3, "passwd", 44),
        (3, "input", 0),
    ] {
        let module = program(
            &format!(
                "(call $proc_exit (call $path_open (i32.const {directory}) (i32.const 0) \
                 (i32.const 100) (i32.const {len}) (i32.const 0) (i64.const -1) (i64.const -1) \
                 (i32.const 0) (i32.const 200)))",
                len = path.len()
            ),
            &format!(
                r#"(import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
                (data (i32.const 100) "{path}")"#
            ),
        );
        let outcome = run(&executor, &module, b"", BUDGET);
        let expected = if expected == 0 {
            TaskExit::Success
        } else {
            TaskExit::ExitCode { code: expected }
        };
        assert_eq!(outcome.ending, Ending::Exit(expected), "{path}");
    }
    // Creating a file is refused too (O_CREAT).
    let module = program(
        "(call $proc_exit (call $path_open (i32.const 3) (i32.const 0) (i32.const 100) \
         (i32.const 3) (i32.const 1) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 200)))",
        r#"(import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
        (data (i32.const 100) "new")"#,
    );
    let outcome = run(&executor, &module, b"", BUDGET);
    assert_eq!(
        outcome.ending,
        Ending::Exit(TaskExit::ExitCode { code: 76 })
    );
}

#[test]
fn sockets_and_foreign_imports_make_the_task_invalid() {
    let executor = executor();
    let module = program(
        "(drop (call $sock_accept (i32.const 3) (i32.const 0) (i32.const 0)))",
        r#"(import "wasi_snapshot_preview1" "sock_accept" (func $sock_accept (param i32 i32 i32) (result i32)))"#,
    );
    let outcome = run(&executor, &module, b"", BUDGET);
    assert!(
        matches!(&outcome.ending, Ending::Exit(TaskExit::Invalid { reason }) if reason.contains("sock_accept")),
        "{:?}",
        outcome.ending
    );
    let module = wat(r#"(module (import "env" "system" (func)) (func (export "_start")))"#);
    let outcome = run(&executor, &module, b"", BUDGET);
    assert!(matches!(
        outcome.ending,
        Ending::Exit(TaskExit::Invalid { .. })
    ));
    let outcome = run(&executor, b"not wasm at all", b"", BUDGET);
    assert!(matches!(
        outcome.ending,
        Ending::Exit(TaskExit::Invalid { .. })
    ));
    assert_eq!(outcome.cu_used_ppm, 0);
}

#[test]
fn deep_recursion_traps_on_the_stack_limit() {
    let executor = executor();
    let module = program(
        "(call $down (i32.const 0))",
        "(func $down (param i32) (call $down (i32.add (local.get 0) (i32.const 1))))",
    );
    let outcome = run(&executor, &module, b"", BUDGET);
    assert_eq!(
        outcome.ending,
        Ending::Exit(TaskExit::Trap {
            trap: "StackOverflow".into()
        })
    );
}

#[test]
fn an_output_flood_ends_at_the_output_limit_and_the_log_is_truncated() {
    let executor = executor();
    // iovec at 0: 60,000 bytes from address 16; write to fd 1 forever.
    let module = program(
        "(i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 60000)) \
         (loop $again (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))) (br $again))",
        "",
    );
    let outcome = run(&executor, &module, b"", BUDGET);
    assert_eq!(outcome.ending, Ending::Exit(TaskExit::OutputLimit));
    assert!(outcome.output.len() <= 1024 * 1024);
    let module = program(
        "(i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 60000)) \
         (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))",
        "",
    );
    let outcome = run(&executor, &module, b"", BUDGET);
    assert_eq!(outcome.ending, Ending::Exit(TaskExit::Success));
    assert!(outcome.log.len() < 1100);
    assert!(String::from_utf8_lossy(&outcome.log).contains("truncated"));
}

#[test]
fn the_wall_clock_is_only_a_safety_net() {
    let executor = executor();
    let module = program("(loop $forever (br $forever))", "");
    let outcome = executor.run(&Task {
        module: &module,
        input: b"",
        fuel: u64::MAX / 2,
        factor_ppm: vcity_executor::CPU_CORE_FACTOR_PPM,
        seed: task_seed(1, 0),
        wall_clock: Some(Duration::from_millis(200)),
    });
    assert_eq!(outcome.ending, Ending::TimedOut);
    assert!(outcome.commitment().is_none(), "a timeout is not a result");
    assert!(outcome.elapsed < Duration::from_secs(10));
}

#[test]
fn nan_results_are_canonical_and_randomness_comes_from_the_seed() {
    let executor = executor();
    // 0/0 in f32 and f64; store their bits at 0 and 4 and write 12 bytes (plus 4 random ones).
    let module = program(
        "(i32.store (i32.const 0) (i32.reinterpret_f32 (f32.div (f32.const 0) (f32.const 0)))) \
         (i64.store (i32.const 4) (i64.reinterpret_f64 (f64.div (f64.const 0) (f64.const 0)))) \
         (drop (call $random_get (i32.const 12) (i32.const 4))) \
         (i32.store (i32.const 32) (i32.const 0)) (i32.store (i32.const 36) (i32.const 16)) \
         (drop (call $fd_write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 40)))",
        r#"(import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))"#,
    );
    let first = run(&executor, &module, b"", BUDGET);
    assert_eq!(first.ending, Ending::Exit(TaskExit::Success));
    assert_eq!(&first.output[0..4], &0x7fc0_0000u32.to_le_bytes());
    assert_eq!(
        &first.output[4..12],
        &0x7ff8_0000_0000_0000u64.to_le_bytes()
    );
    let again = run(&executor, &module, b"", BUDGET);
    assert_eq!(first.output, again.output);
    let other_seed = executor.run(&Task {
        module: &module,
        input: b"",
        fuel: BUDGET,
        factor_ppm: vcity_executor::CPU_CORE_FACTOR_PPM,
        seed: task_seed(2, 0),
        wall_clock: None,
    });
    assert_ne!(first.output[12..16], other_seed.output[12..16]);
}

#[test]
fn the_executor_stays_healthy_after_hostile_modules() {
    let executor = executor();
    for body in [
        "(loop $forever (br $forever))",
        "(loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))",
        "unreachable",
    ] {
        let _ = run(
            &executor,
            &program(body, ""),
            b"",
            fuel_for_cu_ppm(1_000, vcity_executor::CPU_CORE_FACTOR_PPM),
        );
    }
    let workload = vcity_workloads::HASHCHAIN;
    let input = (workload.example_input)();
    let outcome = run(&executor, workload.module, &input, BUDGET);
    assert_eq!(
        outcome.output,
        (workload.reference)(&input).expect("reference")
    );
}
