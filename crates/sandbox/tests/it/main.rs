//! Hostile programs against the sandbox (issue 19, point 1): each is contained and leaves the
//! host as it found it. They run busybox (the static `busybox-static` package) as the task: a
//! shell, `dd`, `nc` and `cat` inside the sandbox are the attacker's tools.
//!
//! Without bubblewrap or busybox the tests say SKIPPED, except where `VCITY_REQUIRE_SANDBOX` is
//! set (`.ci/run` sets it after installing both): there a missing package fails them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vcity_sandbox::{Ending, Limits, Outcome, Root, Sandbox, Spec};

/// The sandbox and busybox, or `None` (SKIPPED) where this host lacks them.
fn setup() -> Option<(Sandbox, PathBuf, tempfile::TempDir)> {
    let busybox = PathBuf::from("/bin/busybox");
    let work = tempfile::tempdir().expect("tempdir");
    let sandbox = match Sandbox::probe(work.path()) {
        Ok(sandbox) if busybox.is_file() => sandbox,
        other => {
            let why = match other {
                Err(error) => error.to_string(),
                Ok(_) => "busybox was not found: install the `busybox-static` package".into(),
            };
            assert!(
                std::env::var_os("VCITY_REQUIRE_SANDBOX").is_none(),
                "{why} (.ci/run installs it)"
            );
            eprintln!("SKIPPED: {why}");
            return None;
        }
    };
    Some((sandbox, busybox, work))
}

/// Runs `script` with busybox's shell in the sandbox.
fn shell(sandbox: &Sandbox, busybox: &Path, script: &str, limits: Limits) -> Outcome {
    let args = ["sh".to_string(), "-c".to_string(), script.to_string()];
    sandbox
        .run(&Spec::new(
            Root::Program {
                program: busybox,
                name: "busybox",
            },
            &args,
            b"the input\n",
            limits,
        ))
        .expect("the sandbox runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Standard output then standard error (a shell reports a failed redirection on the latter).
fn both(outcome: &Outcome) -> String {
    format!("{}{}", text(&outcome.output), text(&outcome.log))
}

fn short(wall_clock_s: u64) -> Limits {
    Limits {
        wall_clock: Duration::from_secs(wall_clock_s),
        ..Limits::default()
    }
}

/// Nothing of the run is left: its groups (and so its processes) are gone.
fn assert_clean(outcome: &Outcome) {
    assert!(outcome.cleaned_up, "the task's groups were left behind");
}

#[test]
fn a_task_runs_and_sees_only_what_it_is_given() {
    let Some((sandbox, busybox, _work)) = setup() else {
        return;
    };
    let outcome = shell(
        &sandbox,
        &busybox,
        "cat; cat /input/input; id -u; echo $PATH; ls /; ls /task",
        short(30),
    );
    assert_eq!(
        outcome.ending,
        Ending::Exited(0),
        "log: {}",
        text(&outcome.log)
    );
    let output = text(&outcome.output);
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines[..4], ["the input", "the input", "65534", "/task"]);
    let mut root: Vec<&str> = lines[4..lines.len() - 1].to_vec();
    root.sort_unstable();
    assert_eq!(root, ["dev", "input", "proc", "task", "tmp"]);
    assert_eq!(lines.last(), Some(&"busybox"));
    assert_clean(&outcome);
}

#[test]
fn host_files_are_not_there_to_read() {
    let Some((sandbox, busybox, _work)) = setup() else {
        return;
    };
    let outcome = shell(
        &sandbox,
        &busybox,
        "cat /etc/passwd /etc/shadow /root/.bashrc /proc/1/root/etc/passwd 2>&1; ls /home /usr 2>&1; \
         echo marker > /task/busybox 2>&1; echo marker > /input/input 2>&1; echo marker > /new 2>&1; \
         true",
        short(30),
    );
    let output = both(&outcome);
    assert!(!output.contains("root:"), "a host file leaked: {output}");
    assert!(output.matches("No such file").count() >= 5, "{output}");
    assert!(output.contains("Read-only file system"), "{output}");
    assert_clean(&outcome);
}

#[test]
fn proc_shows_only_the_tasks_own_processes() {
    let Some((sandbox, busybox, _work)) = setup() else {
        return;
    };
    // The task's PID namespace: its processes only; the host's PID 1 is not there to escape
    // through (/proc/1 is the sandbox's own init), and host-wide knobs are read-only.
    let outcome = shell(
        &sandbox,
        &busybox,
        "ls /proc | grep -c '^[0-9]'; cat /proc/1/cmdline | tr '\\0' ' '; echo; \
         echo 1 > /proc/sys/kernel/sysrq 2>&1; echo 1 > /proc/sysrq-trigger 2>&1; \
         ls -l /proc/1/root/ 2>&1 | grep -c etc; \
         cat /proc/1/environ 2>&1 | tr '\\0' '\\n' | grep -c HOME; true",
        short(30),
    );
    let output = text(&outcome.output);
    let lines: Vec<&str> = output.lines().collect();
    let count: u32 = lines[0].parse().expect("a count");
    assert!(count <= 6, "the task sees {count} processes: {output}");
    assert!(
        lines[1].contains("bwrap") || lines[1].contains("busybox"),
        "{output}"
    );
    assert!(!output.contains("\n1\n1\n"), "{output}");
    // Both writes fail (the kernel knobs are read-only or absent in the task's /proc).
    let everything = both(&outcome);
    assert_eq!(
        everything.matches("can't create /proc/").count(),
        2,
        "{everything}"
    );
    assert_clean(&outcome);
}

#[test]
fn a_fork_bomb_is_stopped_at_the_process_limit_and_killed_at_the_clock() {
    let Some((sandbox, busybox, _work)) = setup() else {
        return;
    };
    if !sandbox.enforces_limits() {
        eprintln!("SKIPPED: no delegated cgroups here");
        return;
    }
    let limits = Limits {
        pids: 32,
        wall_clock: Duration::from_secs(3),
        ..Limits::default()
    };
    let outcome = shell(&sandbox, &busybox, "b() { b | b & }; b; sleep 100", limits);
    assert_eq!(outcome.ending, Ending::TimedOut);
    assert!(
        outcome.usage.pids_limited,
        "the process limit was never reached"
    );
    assert!(outcome.wall < Duration::from_secs(10), "{:?}", outcome.wall);
    assert_clean(&outcome);
    // The host still forks.
    assert!(std::process::Command::new("true")
        .status()
        .expect("true")
        .success());
}

#[test]
fn a_memory_bomb_is_killed_at_the_memory_limit() {
    let Some((sandbox, busybox, _work)) = setup() else {
        return;
    };
    if !sandbox.enforces_limits() {
        eprintln!("SKIPPED: no delegated cgroups here");
        return;
    }
    let limits = Limits {
        memory_bytes: 64 * 1024 * 1024,
        wall_clock: Duration::from_secs(30),
        ..Limits::default()
    };
    // A shell variable that doubles until the kernel refuses.
    let outcome = shell(
        &sandbox,
        &busybox,
        "x=0123456789abcdef; while true; do x=$x$x; done",
        limits,
    );
    assert_eq!(
        outcome.ending,
        Ending::Signaled(9),
        "log: {}",
        text(&outcome.log)
    );
    assert!(outcome.usage.oom_killed, "{:?}", outcome.usage);
    let peak = outcome.usage.peak_memory_bytes.expect("peak accounted");
    assert!(peak <= 64 * 1024 * 1024, "peak {peak}");
    assert_clean(&outcome);
}

#[test]
fn filling_the_disk_stops_at_the_tmp_size() {
    let Some((sandbox, busybox, _work)) = setup() else {
        return;
    };
    let limits = Limits {
        tmp_bytes: 8 * 1024 * 1024,
        wall_clock: Duration::from_secs(30),
        ..Limits::default()
    };
    let outcome = shell(
        &sandbox,
        &busybox,
        "dd if=/dev/zero of=/tmp/fill bs=1M count=1000 2>&1; ls -l /tmp/fill; \
         dd if=/dev/zero of=/fill bs=1M count=1 2>&1; true",
        limits,
    );
    let output = both(&outcome);
    assert!(output.contains("No space left on device"), "{output}");
    assert!(output.contains("Read-only file system"), "{output}");
    let size: u64 = output
        .lines()
        .find(|line| line.ends_with("/tmp/fill"))
        .and_then(|line| line.split_whitespace().nth(4))
        .and_then(|size| size.parse().ok())
        .expect("the file's size");
    assert!(size <= 8 * 1024 * 1024, "{size}");
    assert_clean(&outcome);
}

#[test]
fn the_network_is_loopback_only() {
    let Some((sandbox, busybox, _work)) = setup() else {
        return;
    };
    // A listener on the host's loopback: the task must not reach it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("address").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let outcome = shell(
        &sandbox,
        &busybox,
        &format!(
            "echo hello | nc -w 2 127.0.0.1 {port} 2>&1; echo \"nc=$?\"; \
             ip link 2>/dev/null | grep -c 'state UP'; cat /proc/net/dev | grep -c ':'"
        ),
        short(30),
    );
    let output = text(&outcome.output);
    assert!(
        listener.accept().is_err(),
        "the task reached the host: {output}"
    );
    assert!(!output.contains("nc=0"), "{output}");
    // Only `lo` exists.
    assert_eq!(output.lines().last(), Some("1"), "{output}");
    assert_clean(&outcome);
}

#[test]
fn namespaces_mounts_and_tracing_are_refused_by_the_filter() {
    let Some((sandbox, busybox, _work)) = setup() else {
        return;
    };
    let outcome = shell(
        &sandbox,
        &busybox,
        "unshare -U true 2>&1; echo \"unshare=$?\"; \
         mount -t tmpfs none /tmp 2>&1; echo \"mount=$?\"; \
         nsenter -t 1 -m true 2>&1; echo \"nsenter=$?\"",
        short(30),
    );
    let output = both(&outcome);
    assert!(output.contains("unshare=1"), "{output}");
    assert!(!output.contains("mount=0"), "{output}");
    assert!(!output.contains("nsenter=0"), "{output}");
    assert!(output.contains("Operation not permitted"), "{output}");
    assert_clean(&outcome);
}

#[test]
fn the_wall_clock_kills_the_whole_tree() {
    let Some((sandbox, busybox, _work)) = setup() else {
        return;
    };
    // A daemonised grandchild in its own session must die with the task.
    let marker = format!("vcity-sandbox-sleeper-{}", std::process::id());
    let outcome = shell(
        &sandbox,
        &busybox,
        &format!("setsid sh -c 'exec -a {marker} sleep 1000' & sleep 1000"),
        short(2),
    );
    assert_eq!(outcome.ending, Ending::TimedOut);
    std::thread::sleep(Duration::from_millis(200));
    let survivors = std::process::Command::new("pgrep")
        .args(["-f", &marker])
        .output()
        .map(|out| text(&out.stdout))
        .unwrap_or_default();
    assert!(survivors.trim().is_empty(), "left running: {survivors}");
    assert_clean(&outcome);
}

#[test]
fn output_past_its_limit_ends_the_task() {
    let Some((sandbox, busybox, _work)) = setup() else {
        return;
    };
    let limits = Limits {
        output_bytes: 1024,
        wall_clock: Duration::from_secs(30),
        ..Limits::default()
    };
    let outcome = shell(&sandbox, &busybox, "yes", limits);
    assert_eq!(outcome.ending, Ending::OutputLimit);
    assert_eq!(outcome.output.len(), 1024);
    assert_clean(&outcome);
}

#[test]
fn cpu_time_is_accounted() {
    let Some((sandbox, busybox, _work)) = setup() else {
        return;
    };
    let outcome = shell(
        &sandbox,
        &busybox,
        "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo $i",
        short(60),
    );
    assert_eq!(text(&outcome.output).trim(), "200000");
    if sandbox.enforces_limits() {
        let cpu = outcome.usage.cpu_ns.expect("accounted");
        assert!(cpu > 10_000_000, "{cpu} ns");
        assert!(Duration::from_nanos(cpu) <= outcome.wall + Duration::from_millis(50));
    }
}

#[test]
fn the_cpu_budget_ends_a_spinning_task() {
    let Some((sandbox, busybox, _work)) = setup() else {
        return;
    };
    if !sandbox.enforces_limits() {
        eprintln!("SKIPPED: no delegated cgroups here");
        return;
    }
    let limits = Limits {
        cpu_time: Some(Duration::from_millis(300)),
        wall_clock: Duration::from_secs(30),
        ..Limits::default()
    };
    let outcome = shell(&sandbox, &busybox, "while true; do :; done", limits);
    if outcome.usage.cpu_ns.is_none() {
        eprintln!("SKIPPED: this host accounts no CPU time");
        return;
    }
    assert_eq!(outcome.ending, Ending::CpuLimit);
    let used = outcome.usage.cpu_ns.expect("accounted");
    assert!((300_000_000..1_500_000_000).contains(&used), "{used} ns");
    assert_clean(&outcome);
}

#[test]
fn an_image_root_runs_read_only_from_its_working_directory() {
    let Some((sandbox, busybox, work)) = setup() else {
        return;
    };
    let rootfs = work.path().join("rootfs");
    for dir in ["bin", "srv/app", "proc", "dev", "tmp", "input"] {
        std::fs::create_dir_all(rootfs.join(dir)).expect("dir");
    }
    std::fs::copy(&busybox, rootfs.join("bin/busybox")).expect("busybox");
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).expect("link");
    std::fs::write(rootfs.join("srv/app/data"), "from the image\n").expect("data");
    let args: Vec<String> = [
        "sh",
        "-c",
        "/bin/busybox pwd; /bin/busybox cat data /input/input; /bin/busybox id -u; \
         /bin/busybox touch /bin/x 2>&1; echo $PATH",
    ]
    .map(String::from)
    .to_vec();
    let outcome = sandbox
        .run(&Spec::new(
            Root::Image {
                rootfs: &rootfs,
                workdir: "/srv/app",
                user: (1000, 1000),
            },
            &args,
            b"the input\n",
            short(30),
        ))
        .expect("runs");
    assert_eq!(outcome.ending, Ending::Exited(0), "{}", text(&outcome.log));
    let output = both(&outcome);
    assert!(
        output.starts_with("/srv/app\nfrom the image\nthe input\n1000\n"),
        "{output}"
    );
    assert!(output.contains("Read-only file system"), "{output}");
    assert!(
        output.contains("/usr/local/sbin:/usr/local/bin"),
        "{output}"
    );
    assert_clean(&outcome);
}

#[test]
fn a_task_sees_exactly_the_devices_and_driver_files_it_is_given() {
    // What a GPU task gets (a CDI spec's edits), with stand-ins: the host's /dev/null as the
    // driver's control device, a file as the driver's library, in a CPU image's root.
    let Some((sandbox, busybox, work)) = setup() else {
        return;
    };
    let rootfs = work.path().join("gpu-rootfs");
    for dir in ["bin", "proc", "dev", "tmp", "input"] {
        std::fs::create_dir_all(rootfs.join(dir)).expect("dir");
    }
    std::fs::copy(&busybox, rootfs.join("bin/busybox")).expect("busybox");
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).expect("link");
    let library = work.path().join("libcuda.so.550");
    std::fs::write(&library, "the driver\n").expect("library");
    let devices = [(PathBuf::from("/dev/null"), "/dev/nvidiactl".to_string())];
    let binds = [(library, "/tmp/.vcity-gpu/lib/libcuda.so.1".to_string())];
    let env = [("CUDA_VISIBLE_DEVICES".to_string(), "GPU-1234".to_string())];
    let args: Vec<String> = [
        "sh",
        "-c",
        "/bin/busybox ls /dev | /bin/busybox grep nvidia; \
         /bin/busybox cat /tmp/.vcity-gpu/lib/libcuda.so.1; echo $CUDA_VISIBLE_DEVICES; \
         echo x > /dev/nvidiactl && echo writable; \
         (echo x > /tmp/.vcity-gpu/lib/libcuda.so.1) 2>&1; /bin/busybox ls /dev/nvidia0 2>&1; true",
    ]
    .map(String::from)
    .to_vec();
    let spec = Spec {
        env: &env,
        devices: &devices,
        binds: &binds,
        ..Spec::new(
            Root::Image {
                rootfs: &rootfs,
                workdir: "/",
                user: (65534, 65534),
            },
            &args,
            b"",
            short(30),
        )
    };
    let outcome = sandbox.run(&spec).expect("runs");
    assert_eq!(outcome.ending, Ending::Exited(0), "{}", both(&outcome));
    let output = both(&outcome);
    assert!(
        output.starts_with("nvidiactl\nthe driver\nGPU-1234\nwritable\n"),
        "{output}"
    );
    assert!(output.contains("Read-only file system"), "{output}");
    assert!(output.contains("No such file"), "no other device: {output}");
    assert_clean(&outcome);
    // Devices go under /dev and files under /tmp: nothing else of the root can be replaced.
    let elsewhere = [(PathBuf::from("/dev/null"), "/bin/sh".to_string())];
    assert!(sandbox
        .run(&Spec {
            devices: &elsewhere,
            ..spec.clone()
        })
        .is_err());
    assert!(sandbox
        .run(&Spec {
            binds: &elsewhere,
            ..spec
        })
        .is_err());
}

#[test]
fn a_stop_flag_ends_the_whole_tree() {
    let Some((sandbox, busybox, _work)) = setup() else {
        return;
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let args = [
        "sh".to_string(),
        "-c".to_string(),
        "sleep 60 & sleep 60".to_string(),
    ];
    let started = std::time::Instant::now();
    let outcome = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(500));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        sandbox
            .run(&Spec {
                stop: Some(&stop),
                ..Spec::new(
                    Root::Program {
                        program: &busybox,
                        name: "busybox",
                    },
                    &args,
                    b"",
                    short(30),
                )
            })
            .expect("runs")
    });
    assert_eq!(outcome.ending, Ending::Stopped);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_clean(&outcome);
}
