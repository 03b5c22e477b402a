//! The compute node's self-test (issue 26 point 2; docs/job-spec.md, "Checking a node"): what
//! an operator runs before registering (`vcity node compute --self-test`). Each executor kind
//! runs a tiny workload whose answer is known (the hash-chain example against its native
//! reference): WASM in the deterministic executor, the same program as a static process in the
//! sandbox, and again as an image built here and installed into a scratch image cache. Then the
//! capacity-challenge kernel on the CPU (a 256 × 256 product, timed), the GPUs NVML lists, the
//! free disk and its write speed (64 MiB written and synced), and the chain node's round trip.
//! Nothing is registered or sent; the scratch files go when it ends.

use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// Whether it passed (a check that does not apply passes and says so).
    pub ok: bool,
    /// What was found, for people.
    pub detail: String,
    /// How long it took, milliseconds.
    pub millis: u64,
}

/// Every check, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|check| check.ok)
    }
}

const INPUT: &[u8] = b"2000 vcity-self-test";

fn timed(name: &'static str, run: impl FnOnce() -> Result<String, String>) -> Check {
    let started = Instant::now();
    let result = run();
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(detail) => Check {
            name,
            ok: true,
            detail,
            millis,
        },
        Err(detail) => Check {
            name,
            ok: false,
            detail,
            millis,
        },
    }
}

/// Runs every check with scratch files under `work` (removed after) and the chain node at
/// `api` (`None`: not checked); `sandbox` false skips the sandboxed kinds as the daemon's
/// `--no-sandbox` would.
pub fn run(work: &Path, api: Option<&str>, sandbox: bool) -> Report {
    let scratch = work.join(format!("self-test-{}", std::process::id()));
    let mut checks = Vec::new();
    let expected = (vcity_workloads::HASHCHAIN.reference)(INPUT).unwrap_or_default();
    checks.push(timed("wasm executor", || {
        let executor = vcity_executor::Executor::new(vcity_executor::Limits::default())
            .map_err(|error| format!("the executor did not start: {error}"))?;
        crate::health::executor_self_test(&executor)?;
        Ok("the hash-chain module matches its native reference".into())
    }));
    let probed = if sandbox {
        vcity_sandbox::Sandbox::probe(&scratch.join("sandbox")).map_err(|error| error.to_string())
    } else {
        Err("not offered (--no-sandbox)".into())
    };
    checks.push(timed("sandbox", || match &probed {
        Ok(found) if found.enforces_limits() => Ok(format!(
            "bubblewrap found; limits through cgroup {}",
            found.cgroups().name()
        )),
        Ok(_) => Err(
            "bubblewrap found, but no delegated cgroups: process and image jobs cannot be \
                      limited, so this node cannot take them"
                .into(),
        ),
        Err(why) => Err(why.clone()),
    }));
    if let Some(found) = probed.as_ref().ok().filter(|found| found.enforces_limits()) {
        checks.push(timed("process executor", || process_check(found, &scratch)));
        checks.push(timed("image executor", || {
            let rootfs = image_root(&scratch)?;
            let root = vcity_sandbox::Root::Image {
                rootfs: &rootfs,
                workdir: "/",
                user: (65534, 65534),
            };
            sandboxed(found, root, &["/bin/hashchain".to_string()], &expected)
        }));
    }
    checks.push(timed("capacity kernel (CPU)", || {
        let n = 256;
        let threads = std::thread::available_parallelism().map_or(1, |count| count.get());
        let started = Instant::now();
        crate::capacity::prove_device(&vcity_types::Hash([7; 32]), 0, n, threads, None)
            .ok_or("the product did not finish")?;
        let seconds = started.elapsed().as_secs_f64().max(1e-9);
        Ok(format!(
            "{n} × {n} product on {threads} thread(s): {:.2} G multiply-adds a second",
            (n * n * n) as f64 / seconds / 1e9
        ))
    }));
    checks.push(timed("gpus", || {
        let known: Vec<String> = vcity_ledger::nodes::NodeParams::default()
            .gpu_factors_ppm
            .into_iter()
            .map(|(model, _)| model)
            .collect();
        let devices = crate::gpu::devices(&known);
        Ok(if devices.is_empty() {
            "NVML lists no GPU: this node offers CPU only".into()
        } else {
            format!(
                "{} (capacity challenges run on the CPU in this build)",
                devices
                    .iter()
                    .map(|device| format!("{} {} MiB", device.model, device.vram_mib))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }));
    checks.push(timed("disk", || disk(&scratch)));
    if let Some(api) = api {
        checks.push(timed("chain node", || {
            let client = vcity_sdk::Client::new(api);
            let started = Instant::now();
            let status = client
                .status()
                .map_err(|error| format!("{api} did not answer: {error}"))?;
            Ok(format!(
                "{api}: chain {} at height {}, {:.1} ms round trip",
                status.chain_id,
                status.height.0,
                started.elapsed().as_secs_f64() * 1e3
            ))
        }));
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Report { checks }
}

/// The hash-chain example as a static program in `sandbox`, checked against its native
/// reference, with its file under `scratch`. The compute daemon runs it at start too: a host
/// where bubblewrap is installed but cannot start a task (user namespaces turned off, say)
/// offers no process tasks rather than fail each one.
pub fn process_check(sandbox: &vcity_sandbox::Sandbox, scratch: &Path) -> Result<String, String> {
    std::fs::create_dir_all(scratch).map_err(|error| error.to_string())?;
    let program = scratch.join("hashchain");
    std::fs::write(&program, vcity_workloads::HASHCHAIN.native)
        .map_err(|error| error.to_string())?;
    make_executable(&program)?;
    let expected = (vcity_workloads::HASHCHAIN.reference)(INPUT).unwrap_or_default();
    let root = vcity_sandbox::Root::Program {
        program: &program,
        name: "hashchain",
    };
    let result = sandboxed(sandbox, root, &[], &expected);
    let _ = std::fs::remove_file(&program);
    result
}

fn make_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|error| error.to_string())
}

/// An image holding the hash-chain program, built here and installed into a scratch cache.
fn image_root(scratch: &Path) -> Result<std::path::PathBuf, String> {
    let mut builder = vcity_oci::builder::ImageBuilder::new();
    builder
        .directory("bin", 0o755)
        .file("bin/hashchain", 0o755, vcity_workloads::HASHCHAIN.native);
    let built = builder.build().map_err(|error| error.to_string())?;
    let layout_dir = scratch.join("layout");
    built
        .write_dir(&layout_dir)
        .map_err(|error| error.to_string())?;
    let mut layout =
        vcity_oci::layout::Layout::open(&layout_dir).map_err(|error| error.to_string())?;
    let store = vcity_oci::store::Store::open(
        &scratch.join("images"),
        256 * 1024 * 1024,
        vcity_oci::Limits::default(),
    )
    .map_err(|error| error.to_string())?;
    let image = store
        .get(&built.digest, &mut layout)
        .map_err(|error| error.to_string())?;
    Ok(image.rootfs.clone())
}

/// Runs the hash chain in `root` and compares its output with `expected`.
fn sandboxed(
    sandbox: &vcity_sandbox::Sandbox,
    root: vcity_sandbox::Root<'_>,
    args: &[String],
    expected: &[u8],
) -> Result<String, String> {
    let outcome = sandbox
        .run(&vcity_sandbox::Spec::new(
            root,
            args,
            INPUT,
            vcity_sandbox::Limits {
                wall_clock: Duration::from_secs(30),
                ..vcity_sandbox::Limits::default()
            },
        ))
        .map_err(|error| error.to_string())?;
    if outcome.ending != vcity_sandbox::Ending::Exited(0) || outcome.output != expected {
        return Err(format!(
            "ended {:?} with {} output bytes: {}",
            outcome.ending,
            outcome.output.len(),
            String::from_utf8_lossy(&outcome.log)
        ));
    }
    Ok(format!(
        "the static hash-chain program matches its native reference ({:.1} ms in the sandbox)",
        outcome.wall.as_secs_f64() * 1e3
    ))
}

/// Free space, and the speed of writing and syncing 64 MiB.
fn disk(scratch: &Path) -> Result<String, String> {
    use std::io::Write as _;
    std::fs::create_dir_all(scratch).map_err(|error| error.to_string())?;
    let free_mib = crate::health::free_disk_mib(scratch);
    let path = scratch.join("disk-test");
    let block = vec![0x5au8; 1024 * 1024];
    let started = Instant::now();
    let mut file = std::fs::File::create(&path).map_err(|error| error.to_string())?;
    for _ in 0..64 {
        file.write_all(&block).map_err(|error| error.to_string())?;
    }
    file.sync_all().map_err(|error| error.to_string())?;
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    let _ = std::fs::remove_file(&path);
    Ok(format!(
        "{free_mib} MiB free; 64 MiB written and synced at {:.0} MiB/s",
        64.0 / seconds
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_self_test_runs_every_kind_it_can_and_cleans_up() {
        let work = tempfile::tempdir().expect("tempdir");
        let report = run(work.path(), None, true);
        let names: Vec<&str> = report.checks.iter().map(|check| check.name).collect();
        for name in [
            "wasm executor",
            "sandbox",
            "capacity kernel (CPU)",
            "gpus",
            "disk",
        ] {
            assert!(names.contains(&name), "{names:?}");
        }
        let check = |name: &str| report.checks.iter().find(|check| check.name == name);
        assert!(
            check("wasm executor").is_some_and(|check| check.ok),
            "{report:?}"
        );
        assert!(check("disk").is_some_and(|check| check.ok), "{report:?}");
        if check("sandbox").is_some_and(|check| check.ok) {
            // Where the sandbox works, both native kinds must pass.
            for name in ["process executor", "image executor"] {
                assert!(check(name).is_some_and(|check| check.ok), "{report:?}");
            }
        } else {
            assert!(
                std::env::var_os("VCITY_REQUIRE_SANDBOX").is_none(),
                "{report:?}"
            );
        }
        // Nothing is left in the work directory.
        assert_eq!(
            std::fs::read_dir(work.path()).expect("read").count(),
            0,
            "scratch files left"
        );
        // Without a sandbox it says so and fails that check.
        let without = run(work.path(), None, false);
        assert!(!without.ok());
        assert!(without
            .checks
            .iter()
            .all(|check| check.name != "process executor"));
    }
}
