//! Process and image tasks (docs/job-spec.md, "Process jobs", "Image jobs"): a job's static
//! Linux program, or an OCI image's command in the image's own root file system, run in the
//! node's sandbox ([`vcity_sandbox`]), its ending turned into the same commitment a WASM task
//! makes. An image is fetched by its manifest digest from the node's cache, from the layout
//! archive the buyer uploaded, or from the registry the job names ([`vcity_oci`]); an image that
//! fails its checks is the job's fault and ends the task as `invalid`, billed nothing, while a
//! registry that cannot be reached is the node's problem: it gives the task up.
//!
//! The task's memory ceiling is the job's `sandbox.memory_mib` (its `/tmp`, a tmpfs of a quarter
//! of it, counts against it); its CPU-time budget is the job's CU budget over the CU rate of the
//! resources it was assigned (`Task::factor_ppm`), and its CU is the CPU time the control groups
//! measured × that rate, never more than the budget. A native run is not reproducible, so the
//! commitment binds the node to what it reports but no verifier re-executes it.

use std::path::Path;
use std::time::Duration;
use vcity_executor::{Ending, Outcome};
use vcity_sandbox::{Limits, Sandbox, Spec};
use vcity_types::compute::{ExecutorKind, Job, TaskExit};

/// Processes and threads one process task may have.
pub const TASK_PIDS: u32 = 256;

/// What a task runs: a program file, or an image.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// A static program (cached, executable).
    Program(&'a Path),
    /// An unpacked image.
    Image(&'a vcity_oci::store::Image),
}

/// What a process task gets: its payload run for one task of `job`, with network egress only
/// if the job asks for it and `egress_allowed`.
#[derive(Debug, Clone, Copy)]
pub struct ProcessRun<'a> {
    /// The node's sandbox.
    pub sandbox: &'a Sandbox,
    /// The program or image.
    pub payload: Payload<'a>,
    /// The job.
    pub job: &'a Job,
    /// The task.
    pub task: u32,
    /// The task's input (the job's inline input or its shard).
    pub input: &'a [u8],
    /// CU per second of the assigned resources × 10^6.
    pub factor_ppm: u64,
    /// Whether this node lets tasks reach the network.
    pub egress_allowed: bool,
    /// Output and log caps, as for WASM tasks.
    pub output_bytes: usize,
    /// See `output_bytes`.
    pub log_bytes: usize,
    /// Ends the run early once set (a service being stopped).
    pub stop: Option<&'a std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// The GPUs the task holds (empty for a CPU task): bound into its sandbox, sampled while it
    /// runs, and what it is billed for ([`crate::gpu`]).
    pub gpus: &'a [crate::gpu::Device],
    /// A service's portal.
    pub portal: Option<vcity_sandbox::Portal<'a>>,
    /// The output packer, for a job whose result is its output directory.
    pub pack: Option<&'a Path>,
}

/// CPU nanoseconds the CU budget buys at `factor_ppm` (rounded down: the task never gets more).
pub fn cpu_budget_ns(max_cu_ppm: u64, factor_ppm: u64) -> u64 {
    let ns = u128::from(max_cu_ppm) * 1_000_000_000 / u128::from(factor_ppm.max(1));
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// CU × 10^6 for `cpu_ns` at `factor_ppm` (rounded down: the buyer never pays for a fraction of
/// a micro-CU the node did not measure), at most `max_cu_ppm`.
pub fn cu_ppm_for_cpu(cpu_ns: u64, factor_ppm: u64, max_cu_ppm: u64) -> u64 {
    let cu = u128::from(cpu_ns) * u128::from(factor_ppm) / 1_000_000_000;
    u64::try_from(cu).unwrap_or(u64::MAX).min(max_cu_ppm)
}

impl ProcessRun<'_> {
    /// Runs the task to its end; `Err` when the sandbox itself failed (not the task's doing).
    pub fn run(&self) -> Result<Outcome, vcity_sandbox::SandboxError> {
        let not_native = || vcity_sandbox::SandboxError::Io {
            what: "running a process task".into(),
            source: std::io::Error::other("the job is neither a process nor an image job"),
        };
        let image_args;
        let image_env;
        let (root, args, env) = match (&self.job.workload.executor, &self.payload) {
            (ExecutorKind::Process { name, args, env }, Payload::Program(program)) => (
                vcity_sandbox::Root::Program { program, name },
                args.as_slice(),
                env.as_slice(),
            ),
            (
                ExecutorKind::Oci {
                    entrypoint,
                    cmd,
                    env,
                    workdir,
                    ..
                },
                Payload::Image(image),
            ) => {
                image_args = image.config.argv(entrypoint.as_deref(), cmd.as_deref());
                image_env = image.config.env(env);
                (
                    vcity_sandbox::Root::Image {
                        rootfs: &image.rootfs,
                        workdir: workdir
                            .as_deref()
                            .or(image.config.working_dir.as_deref())
                            .filter(|dir| dir.starts_with('/'))
                            .unwrap_or("/"),
                        user: image_user(image.config.user.as_deref()),
                    },
                    image_args.as_slice(),
                    image_env.as_slice(),
                )
            }
            _ => return Err(not_native()),
        };
        // A GPU task: its devices, the driver and the variables naming them (a CDI spec's
        // edits), its own stop flag for the sampler to set when the budget runs out.
        let gpu_env;
        let (devices, binds, env) = if self.gpus.is_empty() {
            (Vec::new(), Vec::new(), env)
        } else {
            let edits = crate::gpu::edits(Path::new("/"), self.gpus);
            if let Some((missing, _)) = edits.devices.iter().find(|(host, _)| !host.exists()) {
                return Err(vcity_sandbox::SandboxError::Io {
                    what: "binding the task's GPUs".into(),
                    source: std::io::Error::other(format!("{} is missing", missing.display())),
                });
            }
            gpu_env = crate::gpu::merge_env(&edits, env);
            (edits.devices, edits.binds, gpu_env.as_slice())
        };
        let devices_held = self.gpus.len() as u32;
        let stop = self
            .stop
            .cloned()
            .unwrap_or_else(|| std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)));
        let per_device_factor_ppm = self.factor_ppm / u64::from(devices_held.max(1));
        let sampler = if self.gpus.is_empty() {
            None
        } else {
            let budget_ms = u64::try_from(
                u128::from(self.job.max_cu_ppm_per_task) * 1_000
                    / u128::from(per_device_factor_ppm.max(1)),
            )
            .unwrap_or(u64::MAX);
            let uuids = self.gpus.iter().map(|gpu| gpu.uuid.clone()).collect();
            Some(
                crate::gpu::Sampler::start(uuids, budget_ms, stop.clone()).map_err(|why| {
                    vcity_sandbox::SandboxError::Io {
                        what: "sampling the task's GPUs".into(),
                        source: std::io::Error::other(why),
                    }
                })?,
            )
        };
        let needs = self
            .job
            .requirements
            .sandbox
            .unwrap_or(vcity_types::compute::SandboxNeeds {
                memory_mib: vcity_types::compute::MIN_TASK_MEMORY_MIB,
                network: false,
            });
        let memory_bytes = u64::from(needs.memory_mib) * 1024 * 1024;
        let max_cu_ppm = self.job.max_cu_ppm_per_task;
        let limits = Limits {
            memory_bytes,
            pids: TASK_PIDS,
            tmp_bytes: memory_bytes / 4,
            output_bytes: self.output_bytes,
            log_bytes: self.log_bytes,
            wall_clock: Duration::from_secs(self.job.requirements.max_duration_s),
            // A GPU task's budget is GPU time, which the sampler watches.
            cpu_time: sampler
                .is_none()
                .then(|| Duration::from_nanos(cpu_budget_ns(max_cu_ppm, self.factor_ppm))),
        };
        let sandboxed = self.sandbox.run(&Spec {
            root,
            args,
            env,
            input: self.input,
            limits,
            network: needs.network && self.egress_allowed,
            stop: Some(&*stop),
            portal: self.portal,
            devices: &devices,
            binds: &binds,
            pack: self.pack,
        })?;
        let gpu_usage = sampler.map(crate::gpu::Sampler::finish);
        let cpu_ns = u64::try_from(sandboxed.cpu_time().as_nanos()).unwrap_or(u64::MAX);
        let exit = match sandboxed.ending {
            vcity_sandbox::Ending::Stopped if gpu_usage.is_some_and(|usage| usage.over_budget) => {
                Some(TaskExit::OutOfFuel)
            }
            vcity_sandbox::Ending::TimedOut | vcity_sandbox::Ending::Stopped => None,
            vcity_sandbox::Ending::CpuLimit => Some(TaskExit::OutOfFuel),
            vcity_sandbox::Ending::OutputLimit => Some(TaskExit::OutputLimit),
            _ if sandboxed.usage.oom_killed => Some(TaskExit::MemoryLimit),
            vcity_sandbox::Ending::Exited(0) => Some(TaskExit::Success),
            vcity_sandbox::Ending::Exited(code) => Some(TaskExit::ExitCode { code }),
            vcity_sandbox::Ending::Signaled(signal) => Some(TaskExit::Trap {
                trap: format!("killed by signal {signal}"),
            }),
        };
        let cu_used_ppm = match exit {
            // The whole budget was used: the budget is what it cost.
            Some(TaskExit::OutOfFuel) => max_cu_ppm,
            _ => match &gpu_usage {
                // GPU-seconds used × one device's factor (docs/job-spec.md, "GPUs").
                Some(usage) => crate::gpu::cu_ppm_for_gpu(
                    usage.gpu_ms,
                    per_device_factor_ppm,
                    devices_held,
                    sandboxed.wall,
                    max_cu_ppm,
                ),
                None => cu_ppm_for_cpu(cpu_ns, self.factor_ppm, max_cu_ppm),
            },
        };
        let mut log = sandboxed.log;
        if let Some(usage) = &gpu_usage {
            log.extend_from_slice(
                format!(
                    "\n[gpu] {}: {:.3} GPU-seconds, peak memory {} MiB, {} samples\n",
                    self.gpus
                        .iter()
                        .map(|gpu| format!("{} {}", gpu.model, gpu.uuid))
                        .collect::<Vec<_>>()
                        .join(", "),
                    usage.gpu_ms as f64 / 1e3,
                    usage.peak_memory_mib,
                    usage.samples
                )
                .as_bytes(),
            );
        }
        if !sandboxed.cleaned_up {
            tracing::error!(
                job = self.job.id,
                "a process task's control groups were left behind"
            );
        }
        if let Some(peak) = sandboxed.usage.peak_memory_bytes {
            log.extend_from_slice(
                format!(
                    "\n[sandbox] cpu {:.3} s, peak memory {} MiB, pids limit hit: {}\n",
                    cpu_ns as f64 / 1e9,
                    peak / (1024 * 1024),
                    sandboxed.usage.pids_limited
                )
                .as_bytes(),
            );
        }
        Ok(Outcome {
            ending: exit.map_or(Ending::TimedOut, Ending::Exit),
            output: sandboxed.output,
            log,
            fuel_used: 0,
            cu_used_ppm,
            elapsed: sandboxed.wall,
        })
    }
}

/// The image `digest` (text from the job), with a hold that keeps it from eviction: from the
/// cache, else from the layout archive `archive` in the chain node's blob store, else pulled
/// from `reference`.
pub fn fetch_image(
    store: &vcity_oci::store::Store,
    client: &vcity_sdk::Client,
    digest: &str,
    reference: Option<&str>,
    archive: Option<vcity_types::Hash>,
    scratch: &Path,
) -> Result<(vcity_oci::store::Image, vcity_oci::store::Hold), vcity_oci::OciError> {
    use vcity_oci::{Digest, OciError};
    let digest = Digest::parse(digest)?;
    let hold = store.hold(&digest);
    if let Some(image) = store.cached(&digest) {
        return Ok((image, hold));
    }
    let image = match (archive, reference) {
        (Some(address), _) => {
            let bytes = client.blob(&address).map_err(|error| OciError::Registry {
                url: format!("the blob store's {address}"),
                why: error.to_string(),
            })?;
            static UPLOADS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let number = UPLOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = scratch.join(format!("{}-{number}", digest.hex()));
            let result =
                vcity_oci::layout::Layout::from_archive(bytes.as_slice(), &dir, bytes.len() as u64)
                    .and_then(|mut layout| store.get(&digest, &mut layout));
            let _ = std::fs::remove_dir_all(&dir);
            result?
        }
        (None, Some(reference)) => {
            let mut registry = vcity_oci::registry::Registry::new(
                vcity_oci::registry::Reference::parse(reference)?,
            );
            store.get(&digest, &mut registry)?
        }
        (None, None) => {
            return Err(OciError::Invalid {
                what: "the job".into(),
                why: "it neither uploads its image nor names where to pull it".into(),
            })
        }
    };
    Ok((image, hold))
}

/// The user an image runs as: its numeric `User` (`uid[:gid]`), else 65534 (names are not
/// resolved: docs/job-spec.md).
pub fn image_user(user: Option<&str>) -> (u32, u32) {
    let nobody = (65534, 65534);
    let Some(user) = user.filter(|user| !user.is_empty()) else {
        return nobody;
    };
    let (uid, gid) = user.split_once(':').unwrap_or((user, user));
    match (uid.parse(), gid.parse()) {
        (Ok(uid), Ok(gid)) => (uid, gid),
        (Ok(uid), Err(_)) => (uid, uid),
        _ => nobody,
    }
}

/// An image task's ending when its image cannot be had: the job's fault (`Some`, an `invalid`
/// result billed nothing) or the node's (`None`: it gives the task up).
pub fn image_failure(error: &vcity_oci::OciError) -> Option<TaskExit> {
    use vcity_oci::OciError;
    match error {
        OciError::Registry { .. } | OciError::Io { .. } => None,
        OciError::BadDigest(_)
        | OciError::DigestMismatch { .. }
        | OciError::SizeMismatch { .. }
        | OciError::TooLarge { .. }
        | OciError::UnsafeEntry { .. }
        | OciError::Invalid { .. } => Some(TaskExit::Invalid {
            reason: format!("the image: {error}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_converts_to_cu_at_the_assigned_rate_within_the_budget() {
        // One core (factor 1.0) for 2.5 s is 2.5 CU; an H100 (factor 9.0) for 1 s is 9 CU.
        assert_eq!(
            cu_ppm_for_cpu(2_500_000_000, 1_000_000, u64::MAX),
            2_500_000
        );
        assert_eq!(
            cu_ppm_for_cpu(1_000_000_000, 9_000_000, u64::MAX),
            9_000_000
        );
        assert_eq!(
            cu_ppm_for_cpu(1_000_000_000, 9_000_000, 5_000_000),
            5_000_000
        );
        // A nanosecond short of a micro-CU bills nothing for it.
        assert_eq!(cu_ppm_for_cpu(999, 1_000_000, u64::MAX), 0);
        assert_eq!(cpu_budget_ns(2_500_000, 1_000_000), 2_500_000_000);
        assert_eq!(cpu_budget_ns(9_000_000, 9_000_000), 1_000_000_000);
        assert_eq!(cpu_budget_ns(1, 0), 1_000_000_000);
    }

    #[test]
    fn images_run_as_their_numeric_user_or_nobody() {
        assert_eq!(image_user(None), (65534, 65534));
        assert_eq!(image_user(Some("")), (65534, 65534));
        assert_eq!(image_user(Some("1000")), (1000, 1000));
        assert_eq!(image_user(Some("1000:50")), (1000, 50));
        assert_eq!(image_user(Some("app")), (65534, 65534));
    }
}
