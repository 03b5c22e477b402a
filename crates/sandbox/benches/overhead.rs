//! P4b (issue 19): what the sandbox costs a native program, against running the same binary
//! natively: startup latency (a program that does nothing) and steady-state throughput (a CPU
//! kernel: SHA-256 over zeros streamed through a pipe, about `VCITY_BENCH_SECONDS` seconds, 10 by
//! default). The program is busybox (`busybox-static`), the same file both ways.
//!
//! `cargo bench -p vcity-sandbox --bench overhead` (`VCITY_BENCH_ROUNDS`, default 3 kernel runs
//! and 20 startups each way; medians).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vcity_sandbox::{Limits, Root, Sandbox, Spec};

const BUSYBOX: &str = "/bin/busybox";

fn native(script: &str) -> Duration {
    let started = Instant::now();
    let status = Command::new(BUSYBOX)
        .args(["sh", "-c", script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("busybox runs");
    assert!(status.success(), "{script}");
    started.elapsed()
}

/// Runs `script` in the sandbox: busybox alone (a process task) or from `image`, an unpacked
/// image's root file system (an image task whose image is cached).
fn sandboxed(sandbox: &Sandbox, script: &str, image: Option<&Path>) -> (Duration, Option<u64>) {
    let args: Vec<String> = match image {
        None => vec!["sh".into(), "-c".into(), script.into()],
        Some(_) => vec![
            "/bin/busybox".into(),
            "sh".into(),
            "-c".into(),
            script.into(),
        ],
    };
    let root = match image {
        None => Root::Program {
            program: Path::new(BUSYBOX),
            name: "busybox",
        },
        Some(rootfs) => Root::Image {
            rootfs,
            workdir: "/",
            user: (65534, 65534),
        },
    };
    let started = Instant::now();
    let outcome = sandbox
        .run(&Spec::new(
            root,
            &args,
            b"",
            Limits {
                wall_clock: Duration::from_secs(600),
                ..Limits::default()
            },
        ))
        .expect("the sandbox runs");
    let elapsed = started.elapsed();
    assert_eq!(
        outcome.ending,
        vcity_sandbox::Ending::Exited(0),
        "{}",
        String::from_utf8_lossy(&outcome.log)
    );
    (elapsed, outcome.usage.cpu_ns)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

/// A kernel's script for a size.
type Kernel = fn(u64) -> String;

fn arithmetic(n: u64) -> String {
    format!("i=0; while [ $i -lt {n} ]; do i=$((i+1)); done")
}

fn hashing(mebibytes: u64) -> String {
    format!("dd if=/dev/zero bs=1M count={mebibytes} 2>/dev/null | sha256sum")
}

fn main() {
    if !Path::new(BUSYBOX).is_file() {
        eprintln!("SKIPPED: {BUSYBOX} not found (apt-get install -y busybox-static)");
        return;
    }
    let work = std::env::temp_dir().join(format!("vcity-sandbox-bench-{}", std::process::id()));
    let sandbox = Sandbox::probe(&work).expect("bubblewrap is installed");
    let rounds: usize = std::env::var("VCITY_BENCH_ROUNDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(3);
    let seconds: f64 = std::env::var("VCITY_BENCH_SECONDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(10.0);
    println!(
        "cgroups: {}; rounds: {rounds}; kernel target: {seconds} s",
        sandbox.cgroups().name()
    );

    // Startup: a program that exits at once.
    let startups = rounds.max(1) * 7;
    let native_start = median((0..startups).map(|_| native("true")).collect());
    let sandbox_start = median(
        (0..startups)
            .map(|_| sandboxed(&sandbox, "true", None).0)
            .collect(),
    );
    println!(
        "startup ({startups} runs, median): native {}, sandbox {} (+{})",
        ms(native_start),
        ms(sandbox_start),
        ms(sandbox_start.saturating_sub(native_start))
    );
    // An image task with its image in the cache: an unpacked root file system holding busybox
    // and the mount points, exactly what the image cache hands the sandbox.
    let rootfs = work.join("image-rootfs");
    for dir in ["bin", "proc", "dev", "tmp", "input"] {
        std::fs::create_dir_all(rootfs.join(dir)).expect("image directories");
    }
    std::fs::copy(BUSYBOX, rootfs.join("bin/busybox")).expect("busybox in the image");
    let image_start = median(
        (0..startups)
            .map(|_| sandboxed(&sandbox, "true", Some(&rootfs)).0)
            .collect(),
    );
    println!(
        "startup of a cached image ({startups} runs, median): {} (+{} over native)",
        ms(image_start),
        ms(image_start.saturating_sub(native_start))
    );

    // Two kernels, each sized to about `seconds` natively: pure computation (the shell's own
    // arithmetic: no system calls) and SHA-256 of zeros streamed through a pipe (a system call
    // per 64 KiB or so, where seccomp and the cgroups' accounting would show).
    let kernels: [(&str, Kernel, u64); 2] = [
        ("shell arithmetic loop", arithmetic, 200_000),
        ("SHA-256 of zeros through a pipe (MiB)", hashing, 256),
    ];
    for (name, script, probe_size) in &kernels {
        let probe = native(&script(*probe_size));
        let size = ((seconds / probe.as_secs_f64()) * *probe_size as f64).max(1.0) as u64;
        let kernel = script(size);
        let mut native_runs = Vec::new();
        let mut sandbox_runs = Vec::new();
        let mut image_runs = Vec::new();
        let mut cpu = Vec::new();
        for _ in 0..rounds.max(1) {
            // Alternate, so drift in the machine's speed falls on all three.
            native_runs.push(native(&kernel));
            let (wall, cpu_ns) = sandboxed(&sandbox, &kernel, None);
            sandbox_runs.push(wall);
            cpu.extend(cpu_ns.map(Duration::from_nanos));
            image_runs.push(sandboxed(&sandbox, &kernel, Some(&rootfs)).0);
        }
        let native_kernel = median(native_runs);
        let sandbox_kernel = median(sandbox_runs);
        let image_kernel = median(image_runs);
        println!(
            "{name}, size {size} ({} runs each, median): native {:.2} s, sandbox {:.2} s \
             (ratio {:.3}), image {:.2} s (ratio {:.3}); CPU time the cgroup billed: {}",
            rounds.max(1),
            native_kernel.as_secs_f64(),
            sandbox_kernel.as_secs_f64(),
            sandbox_kernel.as_secs_f64() / native_kernel.as_secs_f64(),
            image_kernel.as_secs_f64(),
            image_kernel.as_secs_f64() / native_kernel.as_secs_f64(),
            if cpu.is_empty() {
                "not accounted".to_string()
            } else {
                format!("{:.2} s", median(cpu).as_secs_f64())
            }
        );
    }
    let _ = std::fs::remove_dir_all(&work);
}
