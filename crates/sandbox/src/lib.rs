//! The sandbox for untrusted native programs (issue 19; whitepaper §2.2.1; rules §5;
//! docs/job-spec.md, "Process jobs").
//!
//! A task runs as an isolated process tree under [bubblewrap] (`bwrap`, the Debian package), driven
//! through `std::process` (no `unsafe`):
//! - new user, PID, network, IPC, UTS and cgroup namespaces: the task sees only its own processes
//!   and only a loopback interface (unless the job asks for network egress and the node allows
//!   it); nested user namespaces are disabled;
//! - a root of nothing but what the task is given: its program (read-only at
//!   `/task/{name}`) or an unpacked image's root file system (read-only, [`Root`]), its input
//!   (read-only at `/input/input`), a fresh `/proc` of its PID namespace, a minimal `/dev`, a
//!   size-capped `/tmp`; the root itself is read-only;
//! - every capability dropped, `no_new_privs`, a new session, an unprivileged user inside
//!   (65534), an empty environment but for what the job sets;
//! - a seccomp filter ([`seccomp`]) refusing mount, namespace, module, keyring, tracing, BPF,
//!   perf and io_uring calls;
//! - memory and process-count limits through control groups where the host delegates them
//!   ([`cgroup`]: v2, else v1, else none; CPU time and peak memory are read back from them);
//! - the whole tree killed at the wall-clock limit: bubblewrap dies with its parent, the PID
//!   namespace dies with its first process, and the task's groups are emptied.
//!
//! The task's standard output is its result (capped); standard error is its log (capped); its
//! input is also its standard input.
//!
//! [bubblewrap]: https://github.com/containers/bubblewrap

pub mod cgroup;
pub mod seccomp;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Why the sandbox could not run a task (not how the task ended).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// bubblewrap is not installed.
    #[error("bubblewrap (bwrap) was not found: install the `bubblewrap` package")]
    NoBubblewrap,
    /// The task needs limits this host cannot enforce.
    #[error("this node cannot enforce memory and process limits (no delegated cgroups)")]
    NoLimits,
    /// Preparing or starting the task failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SandboxError {
    let what = what.into();
    move |source| SandboxError::Io { what, source }
}

/// What a task may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Memory (and swap) for the whole tree, bytes; `/tmp` counts against it.
    pub memory_bytes: u64,
    /// Processes and threads of the whole tree.
    pub pids: u32,
    /// Size of `/tmp`, bytes.
    pub tmp_bytes: u64,
    /// Standard output kept (the result), bytes: more is an error of the task.
    pub output_bytes: usize,
    /// Standard error kept (the log), bytes: more is dropped.
    pub log_bytes: usize,
    /// Wall clock: the tree is killed at it.
    pub wall_clock: Duration,
    /// CPU time of the whole tree (the task's CU budget): the tree is killed at it, give or
    /// take the 100 ms between looks. Enforced only where the host accounts CPU time.
    pub cpu_time: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 512 * 1024 * 1024,
            pids: 64,
            tmp_bytes: 64 * 1024 * 1024,
            output_bytes: 16 * 1024 * 1024,
            log_bytes: 64 * 1024,
            wall_clock: Duration::from_secs(300),
            cpu_time: None,
        }
    }
}

/// What the task's root file system is.
#[derive(Debug, Clone, Copy)]
pub enum Root<'a> {
    /// Nothing but one program: a static Linux executable (it sees no host libraries), at
    /// `/task/{name}`, which is also its `argv[0]`.
    Program {
        /// The program's file.
        program: &'a Path,
        /// Its file name inside: 1-32 of `[A-Za-z0-9._-]`, not starting with a dot.
        name: &'a str,
    },
    /// An unpacked image's root file system (read-only; it must hold the directories `proc`,
    /// `dev`, `tmp` and `input`, and `output` for a task with an output packer), the command run
    /// from `workdir`, `argv[0]` found on the environment's `PATH`.
    Image {
        /// The root file system.
        rootfs: &'a Path,
        /// Absolute working directory.
        workdir: &'a str,
        /// The user and group to run as inside (65534 unless the image says).
        user: (u32, u32),
    },
}

/// One task.
#[derive(Debug, Clone)]
pub struct Spec<'a> {
    /// Its root.
    pub root: Root<'a>,
    /// Its arguments: after the program for [`Root::Program`]; the whole command line, `argv[0]`
    /// included, for [`Root::Image`].
    pub args: &'a [String],
    /// Its environment (for a program, nothing else is set but `PATH=/task`; an image's `PATH`
    /// defaults to the usual directories when not set).
    pub env: &'a [(String, String)],
    /// Its input: standard input and `/input/input`.
    pub input: &'a [u8],
    /// Limits.
    pub limits: Limits,
    /// Network egress (the host's network); otherwise only loopback.
    pub network: bool,
    /// Ends the run early (the tree is killed) once set: a service stopped by its owner.
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
    /// Run the command behind a portal (a service): see [`Portal`].
    pub portal: Option<Portal<'a>>,
    /// Device nodes of the host (path outside, path inside under `/dev`) the task may use, as
    /// a CDI spec would list them (a GPU task's `/dev/nvidia*`).
    pub devices: &'a [(PathBuf, String)],
    /// Files of the host bound read-only (path outside, absolute path inside under `/tmp`, where
    /// the sandbox can make room for them whatever the root): a GPU driver's libraries.
    pub binds: &'a [(PathBuf, String)],
    /// The output packer (`vcity_workloads::PACK`), for a task whose result is a directory: the
    /// task gets a writable [`OUTPUT_DIR`] (a tmpfs the size of `/tmp`, counted against its
    /// memory), its standard output goes to its log, and its result is the packer's archive of
    /// that directory.
    pub pack: Option<&'a Path>,
}

/// A task's output directory, inside.
pub const OUTPUT_DIR: &str = "/output";

/// Where the output packer is, inside.
const PACKER: &str = "/tmp/.vcity-pack";

impl<'a> Spec<'a> {
    /// A plain task: `args` in `root` on `input` within `limits`, with no environment, no
    /// network, and none of the extras (stop flag, portal, devices, binds, output packer).
    pub fn new(root: Root<'a>, args: &'a [String], input: &'a [u8], limits: Limits) -> Spec<'a> {
        Spec {
            root,
            args,
            env: &[],
            input,
            limits,
            network: false,
            stop: None,
            portal: None,
            devices: &[],
            binds: &[],
            pack: None,
        }
    }
}

/// A service's way in. `program` (a static executable: `vcity_workloads::PORTAL`) becomes the
/// sandbox's first process, `portal SOCKET PORT -- COMMAND...`: it starts the command and
/// carries connections made to the Unix socket `{dir}/service.sock` on the host to
/// `127.0.0.1:{port}` inside the sandbox's own network namespace. `dir` is bound read-write at
/// [`PORTAL_DIR`] inside; nothing else of the host is reachable through it.
#[derive(Debug, Clone, Copy)]
pub struct Portal<'a> {
    /// The portal program.
    pub program: &'a Path,
    /// A directory of the host for the socket (created by the caller, empty).
    pub dir: &'a Path,
    /// The port the service listens on, inside.
    pub port: u16,
}

/// Where a [`Portal`]'s directory is inside the sandbox (a tmpfs of its own is under it).
pub const PORTAL_DIR: &str = "/tmp/.vcity";

/// The socket file of a [`Portal`] in its directory.
pub const PORTAL_SOCKET: &str = "service.sock";

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// It exited with this status.
    Exited(i32),
    /// A signal ended it (the out-of-memory killer's SIGKILL included).
    Signaled(i32),
    /// It wrote more than the output limit.
    OutputLimit,
    /// The wall clock ran out: the tree was killed.
    TimedOut,
    /// The CPU-time budget ran out: the tree was killed.
    CpuLimit,
    /// [`Spec::stop`] was set: the tree was killed.
    Stopped,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How it ended.
    pub ending: Ending,
    /// Standard output (at most the output limit).
    pub output: Vec<u8>,
    /// Standard error (at most the log limit, then a marker).
    pub log: Vec<u8>,
    /// Wall time from start to end.
    pub wall: Duration,
    /// What the task's groups measured (empty without cgroups).
    pub usage: cgroup::Usage,
    /// Whether the task's groups were emptied and removed (a node that sees `false` has a
    /// leftover process tree to report).
    pub cleaned_up: bool,
}

impl Outcome {
    /// CPU time of the whole tree, from the cgroup accounting; the wall time when the host
    /// accounts none (one core busy the whole run: an upper bound for a one-threaded task).
    pub fn cpu_time(&self) -> Duration {
        self.usage.cpu_ns.map_or(self.wall, Duration::from_nanos)
    }
}

/// The sandbox of this host: where bubblewrap is, what control groups it may use.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
    cgroups: cgroup::Support,
    work: PathBuf,
}

/// Every run gets its own name (for its groups and files).
static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Sandbox {
    /// Finds bubblewrap and probes control groups; `work` holds per-run files.
    pub fn probe(work: &Path) -> Result<Sandbox, SandboxError> {
        let bwrap = ["/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"]
            .into_iter()
            .map(PathBuf::from)
            .find(|path| path.is_file())
            .ok_or(SandboxError::NoBubblewrap)?;
        std::fs::create_dir_all(work).map_err(io(format!("creating {}", work.display())))?;
        Ok(Sandbox {
            bwrap,
            cgroups: cgroup::probe(),
            work: work.to_path_buf(),
        })
    }

    /// What control groups this host delegates.
    pub fn cgroups(&self) -> &cgroup::Support {
        &self.cgroups
    }

    /// Whether memory and process limits are enforced (a node without them offers no
    /// native or image tasks).
    pub fn enforces_limits(&self) -> bool {
        self.cgroups != cgroup::Support::None
    }

    /// bubblewrap's arguments for `spec`, with the run's files under `dir` (the input in
    /// `dir/input/input`).
    fn arguments(&self, spec: &Spec<'_>, dir: &Path) -> Vec<String> {
        let path = |path: &Path| path.display().to_string();
        let (uid, gid) = match spec.root {
            Root::Program { .. } => (65534, 65534),
            Root::Image { user, .. } => user,
        };
        let mut args: Vec<String> = [
            "--unshare-user",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--clearenv",
            "--hostname",
            "task",
        ]
        .map(String::from)
        .to_vec();
        args.extend([
            "--uid".into(),
            uid.to_string(),
            "--gid".into(),
            gid.to_string(),
        ]);
        if !spec.network {
            args.push("--unshare-net".into());
        }
        let mut has_path = false;
        let (workdir, command) = match spec.root {
            Root::Program { program, name } => {
                let inside = format!("/task/{name}");
                args.extend(
                    ["--tmpfs", "/", "--dir", "/task", "--dir", "/input"].map(String::from),
                );
                args.extend(["--ro-bind".into(), path(program), inside.clone()]);
                args.extend(["--setenv", "PATH", "/task"].map(String::from));
                has_path = true;
                ("/tmp".to_string(), vec![inside])
            }
            Root::Image {
                rootfs, workdir, ..
            } => {
                args.extend(["--ro-bind".into(), path(rootfs), "/".into()]);
                (workdir.to_string(), Vec::new())
            }
        };
        args.extend([
            "--ro-bind".into(),
            path(&dir.join("input")),
            "/input".into(),
            "--proc".into(),
            "/proc".into(),
            "--dev".into(),
            "/dev".into(),
            "--size".into(),
            spec.limits.tmp_bytes.to_string(),
            "--tmpfs".into(),
            "/tmp".into(),
        ]);
        if let Some(pack) = spec.pack {
            args.extend([
                "--size".into(),
                spec.limits.tmp_bytes.to_string(),
                "--tmpfs".into(),
                OUTPUT_DIR.into(),
                "--ro-bind".into(),
                path(pack),
                PACKER.into(),
            ]);
        }
        for (host, inside) in spec.devices {
            args.extend(["--dev-bind".into(), path(host), inside.clone()]);
        }
        for (host, inside) in spec.binds {
            args.extend(["--ro-bind".into(), path(host), inside.clone()]);
        }
        if let Some(portal) = spec.portal {
            args.extend([
                "--bind".into(),
                path(portal.dir),
                PORTAL_DIR.into(),
                "--ro-bind".into(),
                path(portal.program),
                format!("{PORTAL_DIR}/portal"),
            ]);
        }
        if let Root::Program { .. } = spec.root {
            args.extend(["--remount-ro".into(), "/".into()]);
        }
        args.extend(["--chdir".into(), workdir, "--seccomp".into(), "3".into()]);
        for (name, value) in spec.env {
            has_path |= name == "PATH";
            args.extend(["--setenv".into(), name.clone(), value.clone()]);
        }
        if !has_path {
            args.extend(
                [
                    "--setenv",
                    "PATH",
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                ]
                .map(String::from),
            );
        }
        args.push("--".into());
        if spec.pack.is_some() {
            args.extend([PACKER.into(), OUTPUT_DIR.into(), "--".into()]);
        }
        if let Some(portal) = spec.portal {
            args.extend([
                format!("{PORTAL_DIR}/portal"),
                format!("{PORTAL_DIR}/{PORTAL_SOCKET}"),
                portal.port.to_string(),
                "--".into(),
            ]);
        }
        args.extend(command);
        args.extend(spec.args.iter().cloned());
        args
    }

    /// Runs `spec` to its end (or its wall clock).
    pub fn run(&self, spec: &Spec<'_>) -> Result<Outcome, SandboxError> {
        match spec.root {
            Root::Program { name, .. } if !valid_name(name) => {
                return Err(io("naming the program")(std::io::Error::other(format!(
                    "{name:?} is not 1-32 of [A-Za-z0-9._-] (not starting with a dot)"
                ))));
            }
            Root::Image { workdir, .. } if !workdir.starts_with('/') => {
                return Err(io("choosing the working directory")(std::io::Error::other(
                    format!("{workdir:?} is not absolute"),
                )));
            }
            _ if spec
                .devices
                .iter()
                .any(|(_, inside)| !inside.starts_with("/dev/") || inside.contains(".."))
                || spec
                    .binds
                    .iter()
                    .any(|(_, inside)| !inside.starts_with("/tmp/") || inside.contains("..")) =>
            {
                return Err(io("binding devices and files")(std::io::Error::other(
                    "devices go under /dev/ and files under /tmp/",
                )));
            }
            Root::Image { rootfs, .. }
                if spec.pack.is_some() && !rootfs.join(&OUTPUT_DIR[1..]).is_dir() =>
            {
                return Err(io("making the output directory")(std::io::Error::other(
                    "the image's root has no /output (unpacked by an older node: clear its cache)",
                )));
            }
            Root::Image { .. } if spec.args.is_empty() => {
                return Err(io("running the image")(std::io::Error::other(
                    "no command: the image has no entrypoint or cmd and the job gives none",
                )));
            }
            _ => {}
        }
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("run-{}-{run}", std::process::id());
        let dir = self.work.join(&name);
        std::fs::create_dir_all(&dir).map_err(io("creating the run directory"))?;
        let result = self.run_in(spec, &name, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    fn run_in(&self, spec: &Spec<'_>, name: &str, dir: &Path) -> Result<Outcome, SandboxError> {
        std::fs::create_dir_all(dir.join("input")).map_err(io("writing the input"))?;
        std::fs::write(dir.join("input").join("input"), spec.input)
            .map_err(io("writing the input"))?;
        let filter = dir.join("seccomp.bpf");
        std::fs::write(&filter, seccomp::filter()).map_err(io("writing the seccomp filter"))?;
        let group = cgroup::Group::create(
            &self.cgroups,
            name,
            spec.limits.memory_bytes,
            spec.limits.pids,
        )
        .map_err(io("creating the task's control groups"))?;
        // The wrapper joins the groups, then becomes bubblewrap with the filter on fd 3.
        let mut script = String::new();
        for index in 0..group.dirs.len() {
            script.push_str(&format!(
                "echo $$ > \"$G{index}/cgroup.procs\" || exit 125\n"
            ));
        }
        script.push_str("exec \"$@\" 3< \"$FILTER\"\n");
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(&script)
            .arg("vcity-sandbox")
            .arg(&self.bwrap)
            .args(self.arguments(spec, dir))
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("FILTER", &filter)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (index, group_dir) in group.dirs.iter().enumerate() {
            command.env(format!("G{index}"), group_dir);
        }
        let started = Instant::now();
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                let _ = group.destroy();
                return Err(io("starting bubblewrap")(error));
            }
        };
        // Input on stdin from its own thread (a task that never reads it must not block us).
        let mut stdin = child.stdin.take().expect("piped");
        let input = spec.input.to_vec();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let output_limit = spec.limits.output_bytes;
        let log_limit = spec.limits.log_bytes;
        // The wait blocks on events instead of polling: on a small machine a watcher that wakes
        // every few milliseconds costs a busy task several percent (measured: P4b). A waiter
        // thread reports the exit; output past its limit (a task is not paid to fill our
        // memory; the log is only cut) is reported by its reader.
        let pid = child.id();
        let (events, watch) = std::sync::mpsc::channel::<Event>();
        let overflow = events.clone();
        let output_reader = std::thread::spawn(move || {
            let read = capped(stdout, output_limit, true);
            if read.1 {
                let _ = overflow.send(Event::Overflow);
            }
            read
        });
        let log_reader = std::thread::spawn(move || capped(stderr, log_limit, false));
        let waiter = std::thread::spawn(move || {
            let _ = events.send(Event::Exited(child.wait()));
        });
        let deadline = started + spec.limits.wall_clock;
        let cpu_budget_ns = spec
            .limits
            .cpu_time
            .map(|budget| u64::try_from(budget.as_nanos()).unwrap_or(u64::MAX));
        let (mut over_cpu, mut timed_out, mut killed, mut stopped) = (false, false, false, false);
        let stop = spec.stop;
        let status = loop {
            let now = Instant::now();
            if now >= deadline && !killed {
                timed_out = true;
                killed = kill(pid, &group);
            }
            if !killed && stop.is_some_and(|flag| flag.load(std::sync::atomic::Ordering::Relaxed)) {
                stopped = true;
                killed = kill(pid, &group);
            }
            // After a kill, the exit follows at once; the wait stays bounded all the same.
            let wait = if killed {
                Duration::from_secs(10)
            } else if cpu_budget_ns.is_some() || stop.is_some() {
                CPU_CHECK.min(deadline.saturating_duration_since(now))
            } else {
                deadline.saturating_duration_since(now)
            };
            match watch.recv_timeout(wait) {
                Ok(Event::Exited(Ok(status))) => break Some(status),
                Ok(Event::Exited(Err(error))) => {
                    let _ = group.destroy();
                    return Err(io("waiting for the task")(error));
                }
                Ok(Event::Overflow) => killed |= kill(pid, &group),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if killed => break None,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(budget) = cpu_budget_ns {
                        if group.usage().cpu_ns.is_some_and(|used| used >= budget) {
                            over_cpu = true;
                            killed = kill(pid, &group);
                        }
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break None,
            }
        };
        let _ = waiter.join();
        let wall = started.elapsed();
        // Whatever is left of the tree goes now.
        let usage = group.usage();
        let cleaned_up = group.destroy();
        let _ = feeder.join();
        let (output, output_over) = output_reader.join().unwrap_or_default();
        let (mut log, log_overflowed) = log_reader.join().unwrap_or_default();
        if log_overflowed {
            log.extend_from_slice(b"\n[log truncated]\n");
        }
        let ending = match status {
            _ if stopped => Ending::Stopped,
            _ if timed_out => Ending::TimedOut,
            None => Ending::TimedOut,
            Some(_) if over_cpu => Ending::CpuLimit,
            Some(_) if output_over => Ending::OutputLimit,
            Some(status) => {
                use std::os::unix::process::ExitStatusExt;
                match (status.code(), status.signal()) {
                    // The wrapper could not join the groups: not the task's doing.
                    (Some(125), _) if log.is_empty() && output.is_empty() => {
                        return Err(io("joining the task's control groups")(
                            std::io::Error::other("the wrapper exited with 125"),
                        ));
                    }
                    (Some(code), _) if code > 128 && code < 160 => Ending::Signaled(code - 128),
                    (Some(code), _) => Ending::Exited(code),
                    (None, Some(signal)) => Ending::Signaled(signal),
                    (None, None) => Ending::Signaled(0),
                }
            }
        };
        Ok(Outcome {
            ending,
            output,
            log,
            wall,
            usage,
            cleaned_up,
        })
    }
}

/// How often the CPU budget is checked: a task overruns it by at most about this much.
const CPU_CHECK: Duration = Duration::from_millis(100);

/// What the wait hears about.
enum Event {
    /// bubblewrap (so the task) ended.
    Exited(std::io::Result<std::process::ExitStatus>),
    /// The output passed its limit.
    Overflow,
}

/// Kills bubblewrap (`pid`, not yet reaped, so not reused), which takes the task's PID namespace
/// with it, and every process in the task's groups; true once signalled.
fn kill(pid: u32, group: &cgroup::Group) -> bool {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
    group.kill_members();
    true
}

/// Whether `name` may be a program's file name in the sandbox: 1 to 32 of `[A-Za-z0-9._-]`,
/// not starting with a dot (the same rule the ledger applies to process jobs).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Reads `reader`, keeping at most `limit` bytes; true if there was more. With `stop`, reading
/// ends at the first byte past the limit; otherwise the rest is read and dropped.
fn capped(mut reader: impl Read, limit: usize, stop: bool) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut buffer = [0u8; 64 * 1024];
    let mut over = false;
    loop {
        match reader.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                let room = limit.saturating_sub(kept.len());
                kept.extend_from_slice(&buffer[..read.min(room)]);
                over |= read > room;
                if over && stop {
                    break;
                }
            }
        }
    }
    (kept, over)
}
