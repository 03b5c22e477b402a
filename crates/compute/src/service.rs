//! Services (docs/job-spec.md, "Services"): a process or image job that runs until its owner
//! cancels it or its term ends, reached through this node's gateway.
//!
//! A service task runs in the same sandbox as a batch process task, behind the portal
//! ([`vcity_sandbox::Portal`]): the gateway ([`crate::server`], `/jobs/{id}/`) connects to a Unix
//! socket in the task's run directory, and the portal inside carries each connection to the
//! service's port on the sandbox's own loopback. The sandbox keeps its own network namespace, so
//! the gateway reaches one port of the service and the service reaches nothing of the node.
//!
//! While it runs, the node asks its health path every [`HEALTH_EVERY`] after a grace period of
//! [`HEALTH_GRACE`]; [`HEALTH_FAILURES`] failures in a row, or the program exiting, end that
//! instance, and the node starts it again after a backoff, at most [`MAX_RESTARTS`] times in a
//! row (an instance that stayed up [`STABLE_AFTER`] resets the count). Past that the service has
//! crashed: the node reports its last exit as the task's result, billing the time it held the
//! resources as the ledger measures it (chain time since the start). An owner's cancel or the
//! end of the term is the ledger's doing: it bills and settles the task, and the node, seeing
//! the task gone, stops the service ([`Services::stop`]). State is the service's own business:
//! a restarted or reassigned service starts from its image or program again.

use crate::native::ProcessRun;
use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vcity_executor::{Ending, Outcome};
use vcity_sdk::Client;
use vcity_types::compute::{ServiceSpec, TaskExit, TaskState};
use vcity_types::AccountId;

/// How long a new instance has before its health is asked.
pub const HEALTH_GRACE: Duration = Duration::from_secs(10);
/// Between health checks.
pub const HEALTH_EVERY: Duration = Duration::from_secs(5);
/// Failed checks in a row that end an instance.
pub const HEALTH_FAILURES: u32 = 3;
/// Restarts in a row before the service counts as crashed.
pub const MAX_RESTARTS: u32 = 3;
/// An instance up this long resets the restart count.
pub const STABLE_AFTER: Duration = Duration::from_secs(600);

/// One service this node runs.
#[derive(Debug)]
pub struct Handle {
    /// The job's owner: the only one whose token the gateway takes.
    pub owner: AccountId,
    /// The portal's socket on this host.
    pub socket: PathBuf,
    /// Set when the service is to stop for good.
    stop: AtomicBool,
    /// The running instance's stop flag (set to end just it).
    instance: Mutex<Arc<AtomicBool>>,
    /// Every service's restarts on this node (the metric).
    all_restarts: Arc<std::sync::atomic::AtomicU64>,
}

impl Handle {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn new_instance(&self) -> Arc<AtomicBool> {
        let flag = Arc::new(AtomicBool::new(self.stopping()));
        *self
            .instance
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = flag.clone();
        flag
    }
}

/// The services running on this node, by job id (shared with the gateway).
#[derive(Debug, Clone, Default)]
pub struct Services {
    running: Arc<Mutex<BTreeMap<u64, Arc<Handle>>>>,
    restarts: Arc<std::sync::atomic::AtomicU64>,
}

impl Services {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Handle>>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers job `job_id`'s service.
    pub fn add(&self, job_id: u64, owner: AccountId, socket: PathBuf) -> Arc<Handle> {
        let handle = Arc::new(Handle {
            owner,
            socket,
            stop: AtomicBool::new(false),
            instance: Mutex::new(Arc::new(AtomicBool::new(false))),
            all_restarts: self.restarts.clone(),
        });
        self.map().insert(job_id, handle.clone());
        handle
    }

    /// Job `job_id`'s service, if it runs here.
    pub fn get(&self, job_id: u64) -> Option<Arc<Handle>> {
        self.map().get(&job_id).cloned()
    }

    /// Stops job `job_id`'s service (its worker then ends); false if none runs here.
    pub fn stop(&self, job_id: u64) -> bool {
        let Some(handle) = self.map().remove(&job_id) else {
            return false;
        };
        handle.stop.store(true, Ordering::Relaxed);
        handle
            .instance
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .store(true, Ordering::Relaxed);
        true
    }

    /// How many run.
    pub fn count(&self) -> usize {
        self.map().len()
    }

    /// Restarts of every service since the node started.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }
}

/// How a service's worker ended.
#[derive(Debug)]
pub enum ServiceEnd {
    /// Stopped by the node (the ledger ended the task): nothing to report.
    Stopped,
    /// Crashed past its restarts: its last exit, billed for the time held, to report.
    Crashed(Outcome),
}

/// Whether the service behind `socket` answers `GET path` with a status below 500.
pub fn healthy(socket: &Path, path: &str) -> bool {
    let Ok(mut stream) = std::os::unix::net::UnixStream::connect(socket) else {
        return false;
    };
    let timeout = Some(Duration::from_secs(3));
    if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
        return false;
    }
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: service\r\nUser-Agent: vcity-health\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 16];
    let mut read = 0;
    while read < head.len() {
        match stream.read(&mut head[read..]) {
            Ok(0) | Err(_) => break,
            Ok(count) => read += count,
        }
    }
    // "HTTP/1.x NNN"
    std::str::from_utf8(&head[..read])
        .ok()
        .and_then(|text| text.split_whitespace().nth(1))
        .and_then(|status| status.parse::<u16>().ok())
        .is_some_and(|status| (100..500).contains(&status))
}

/// Runs `base` (a process run without portal or stop) as job `job_id`'s service until the node
/// stops it or it crashes past its restarts. `log` appends a line to the task's log.
pub fn run(
    base: &ProcessRun<'_>,
    spec: &ServiceSpec,
    handle: &Handle,
    portal_program: &Path,
    client: &Client,
    log: &dyn Fn(&str, &[u8]),
) -> ServiceEnd {
    let dir = handle
        .socket
        .parent()
        .unwrap_or(Path::new("/"))
        .to_path_buf();
    let mut failures_in_a_row = 0u32;
    loop {
        if handle.stopping() {
            return ServiceEnd::Stopped;
        }
        let _ = std::fs::remove_file(&handle.socket);
        if let Err(error) = std::fs::create_dir_all(&dir) {
            log(&format!("preparing the service's directory: {error}"), &[]);
        }
        let instance = handle.new_instance();
        let ended = AtomicBool::new(false);
        let unhealthy = AtomicBool::new(false);
        let started = Instant::now();
        log(&format!("starting the service (port {})", spec.port), &[]);
        let outcome = std::thread::scope(|scope| {
            scope.spawn(|| {
                watch_health(
                    &handle.socket,
                    &spec.health_path,
                    &instance,
                    &ended,
                    &unhealthy,
                )
            });
            let run = ProcessRun {
                stop: Some(&instance),
                portal: Some(vcity_sandbox::Portal {
                    program: portal_program,
                    dir: &dir,
                    port: spec.port,
                }),
                ..*base
            };
            let outcome = run.run();
            ended.store(true, Ordering::Relaxed);
            outcome
        });
        let up = started.elapsed();
        if handle.stopping() {
            if let Ok(outcome) = &outcome {
                log("the service stopped", &outcome.log);
            }
            return ServiceEnd::Stopped;
        }
        let why = match &outcome {
            Ok(_) if unhealthy.load(Ordering::Relaxed) => "it failed its health checks".to_string(),
            Ok(outcome) => format!("it ended: {:?}", outcome.ending),
            Err(error) => format!("the sandbox failed: {error}"),
        };
        if let Ok(outcome) = &outcome {
            log(
                &format!(
                    "the service went down after {:.1} s: {why}",
                    up.as_secs_f64()
                ),
                &outcome.log,
            );
        } else {
            log(&format!("the service went down: {why}"), &[]);
        }
        if up >= STABLE_AFTER {
            failures_in_a_row = 0;
        }
        failures_in_a_row += 1;
        handle.all_restarts.fetch_add(1, Ordering::Relaxed);
        if failures_in_a_row > MAX_RESTARTS {
            log(
                &format!("{MAX_RESTARTS} restarts in a row: the service has crashed"),
                &[],
            );
            let exit = match outcome.as_ref().map(|outcome| &outcome.ending) {
                Ok(Ending::Exit(exit)) => exit.clone(),
                _ => TaskExit::Trap {
                    trap: format!("the service kept failing: {why}"),
                },
            };
            return ServiceEnd::Crashed(crashed(client, base, exit));
        }
        // Back off 1, 2, 4 s before the next instance, stopping early if told to.
        let pause = Duration::from_secs(1 << (failures_in_a_row - 1).min(5));
        let until = Instant::now() + pause;
        while Instant::now() < until && !handle.stopping() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Asks the service's health until the instance ends; ends it after too many failures.
fn watch_health(
    socket: &Path,
    path: &str,
    instance: &AtomicBool,
    ended: &AtomicBool,
    unhealthy: &AtomicBool,
) {
    let sleep = |length: Duration| {
        let until = Instant::now() + length;
        while Instant::now() < until {
            if ended.load(Ordering::Relaxed) || instance.load(Ordering::Relaxed) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        true
    };
    if !sleep(HEALTH_GRACE) {
        return;
    }
    let mut failures = 0;
    loop {
        if healthy(socket, path) {
            failures = 0;
        } else {
            failures += 1;
            if failures >= HEALTH_FAILURES {
                unhealthy.store(true, Ordering::Relaxed);
                instance.store(true, Ordering::Relaxed);
                return;
            }
        }
        if !sleep(HEALTH_EVERY) {
            return;
        }
    }
}

/// The result of a crashed service: its exit, no output, and the CU of the time it held its
/// resources by chain time (the ledger refuses more; a chain that cannot be read bills nothing).
fn crashed(client: &Client, base: &ProcessRun<'_>, exit: TaskExit) -> Outcome {
    let held_s = (|| -> Option<u64> {
        let job = client.job(base.job.id).ok()?;
        let task = job.tasks.get(base.task as usize)?;
        let TaskState::Running { started_s, .. } = task.state else {
            return None;
        };
        let now_s = client.status().ok()?.chain_time_s;
        Some(now_s.saturating_sub(started_s))
    })()
    .unwrap_or(0);
    let cu_used_ppm =
        vcity_types::compute::service_cu_ppm(held_s, base.factor_ppm, base.job.max_cu_ppm_per_task);
    Outcome {
        ending: Ending::Exit(exit),
        output: Vec::new(),
        log: Vec::new(),
        fuel_used: 0,
        cu_used_ppm,
        elapsed: Duration::from_secs(held_s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_is_a_status_below_500_over_the_socket() {
        let directory = tempfile::tempdir().expect("tempdir");
        let socket = directory.path().join("service.sock");
        assert!(!healthy(&socket, "/"), "nothing listens yet");
        let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
        let answers = [
            "HTTP/1.1 204 No Content\r\n\r\n",
            "HTTP/1.0 503 Busy\r\n\r\n",
            "garbage",
        ];
        let server = std::thread::spawn(move || {
            for answer in answers {
                let (mut stream, _) = listener.accept().expect("accept");
                let mut request = [0u8; 1024];
                let read = stream.read(&mut request).expect("read");
                assert!(request[..read].starts_with(b"GET /health HTTP/1.0\r\n"));
                stream.write_all(answer.as_bytes()).expect("write");
            }
        });
        assert!(healthy(&socket, "/health"));
        assert!(!healthy(&socket, "/health"));
        assert!(!healthy(&socket, "/health"));
        server.join().expect("server");
    }

    #[test]
    fn stopping_a_service_sets_its_running_instance_flag_and_forgets_it() {
        let services = Services::default();
        let handle = services.add(9, AccountId([1; 32]), PathBuf::from("/nowhere"));
        let instance = handle.new_instance();
        assert_eq!(services.count(), 1);
        assert!(services.stop(9));
        assert!(instance.load(Ordering::Relaxed) && handle.stopping());
        assert!(services.get(9).is_none() && !services.stop(9));
        // An instance started after the stop begins stopped.
        assert!(handle.new_instance().load(Ordering::Relaxed));
    }
}
