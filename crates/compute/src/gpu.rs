//! GPUs for process and image tasks (issue 19 point 3; docs/job-spec.md, "GPUs").
//!
//! - **Which devices.** The ledger places a GPU task on a node by model, count and memory; the
//!   node picks which of its devices ([`Allocator`]): free ones of the model with the memory,
//!   held until the task ends, never two tasks on one device.
//! - **Into the sandbox** ([`edits`]): what a CDI spec for the NVIDIA driver describes (the
//!   control device nodes, each assigned device's node, the driver's user-space libraries, its
//!   tools, and the environment), done with bubblewrap's binds. Device nodes go into the
//!   sandbox's own `/dev`; the libraries are bound read-only under [`GPU_DIR`]`/lib` (a directory
//!   of the sandbox's `/tmp`, so an image's root stays read-only and untouched) and put on
//!   `LD_LIBRARY_PATH`; `nvidia-smi` under [`GPU_DIR`]`/bin` on `PATH`; `CUDA_VISIBLE_DEVICES`
//!   and `NVIDIA_VISIBLE_DEVICES` name the assigned devices by UUID. Nothing else of the host's
//!   devices is visible.
//! - **Metering** ([`Sampler`]): while the task runs, NVML samples the assigned devices'
//!   utilization and memory every second; the GPU-seconds the task used are Σ utilization ×
//!   interval over its devices, its CU that × one device's factor, never more than its
//!   assignment (every device busy the whole run) or its budget, and a task that reaches its
//!   budget is stopped there. A node without NVML cannot measure, so it gives GPU process tasks
//!   back instead of running them unmetered.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a GPU task finds the driver's libraries and tools, inside its sandbox.
pub const GPU_DIR: &str = "/tmp/.vcity-gpu";

/// The driver's control devices, bound when they exist.
pub const CONTROL_DEVICES: [&str; 4] = [
    "dev/nvidiactl",
    "dev/nvidia-uvm",
    "dev/nvidia-uvm-tools",
    "dev/nvidia-modeset",
];

/// The driver's user-space libraries a CUDA program may load (file names start with these).
pub const DRIVER_LIBRARIES: [&str; 10] = [
    "libcuda.so",
    "libcudadebugger.so",
    "libnvidia-ml.so",
    "libnvidia-ptxjitcompiler.so",
    "libnvidia-nvvm.so",
    "libnvidia-gpucomp.so",
    "libnvidia-allocator.so",
    "libnvidia-cfg.so",
    "libnvidia-opencl.so",
    "libnvidia-pkcs11.so",
];

/// Where distributions put them, relative to the root.
pub const LIBRARY_DIRS: [&str; 5] = [
    "usr/lib/x86_64-linux-gnu",
    "usr/lib/aarch64-linux-gnu",
    "usr/lib64",
    "usr/lib",
    "lib/x86_64-linux-gnu",
];

/// The driver's tools, bound when they exist.
pub const DRIVER_TOOLS: [&str; 2] = ["usr/bin/nvidia-smi", "usr/bin/nvidia-debugdump"];

/// One NVIDIA device of this node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Device {
    /// NVML's index.
    pub index: u32,
    /// NVML's UUID (`GPU-...`).
    pub uuid: String,
    /// The minor number of its `/dev/nvidiaN` node.
    pub minor: u32,
    /// The ledger's model name (`H100`).
    pub model: String,
    /// Total memory, MiB.
    pub vram_mib: u32,
}

/// Which device holds which task.
#[derive(Debug, Clone, Default)]
pub struct Allocator {
    devices: Vec<Device>,
    held: Arc<Mutex<BTreeMap<u32, (u64, u32)>>>,
}

impl Allocator {
    /// An allocator over `devices`.
    pub fn new(devices: Vec<Device>) -> Allocator {
        Allocator {
            devices,
            held: Arc::default(),
        }
    }

    /// Whether this node can give GPUs to process tasks at all.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    fn held(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, (u64, u32)>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `count` free devices of `model` (any model if `None`) with at least `min_vram_mib`, held
    /// for task `(job_id, task)`; `None` (nothing held) if there are not enough. A task that
    /// already holds devices gets the same ones again.
    pub fn take(
        &self,
        job_id: u64,
        task: u32,
        model: Option<&str>,
        count: u32,
        min_vram_mib: u32,
    ) -> Option<Vec<Device>> {
        let mut held = self.held();
        let mine: Vec<Device> = self
            .devices
            .iter()
            .filter(|device| held.get(&device.index) == Some(&(job_id, task)))
            .cloned()
            .collect();
        if !mine.is_empty() {
            return Some(mine);
        }
        let chosen: Vec<Device> = self
            .devices
            .iter()
            .filter(|device| !held.contains_key(&device.index))
            .filter(|device| model.is_none_or(|model| device.model == model))
            .filter(|device| device.vram_mib >= min_vram_mib)
            .take(count.max(1) as usize)
            .cloned()
            .collect();
        if chosen.len() < count.max(1) as usize {
            return None;
        }
        for device in &chosen {
            held.insert(device.index, (job_id, task));
        }
        Some(chosen)
    }

    /// Frees what task `(job_id, task)` holds.
    pub fn release(&self, job_id: u64, task: u32) {
        self.held().retain(|_, holder| *holder != (job_id, task));
    }
}

/// What a GPU task's sandbox gets: device nodes (host path, path inside), read-only binds, and
/// environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edits {
    /// Device nodes, bound with their access.
    pub devices: Vec<(PathBuf, String)>,
    /// Files bound read-only.
    pub binds: Vec<(PathBuf, String)>,
    /// Variables (they come before the job's own, which may extend `LD_LIBRARY_PATH`).
    pub env: Vec<(String, String)>,
    /// Where the driver's tools are inside, when there are any (added to the end of `PATH`).
    pub tools_dir: Option<String>,
}

/// The edits for `devices` on the host whose file system starts at `root` (`/`; a test gives a
/// directory of fakes). Missing control devices, libraries and tools are left out; the caller
/// checks that each assigned device's node is there.
pub fn edits(root: &Path, devices: &[Device]) -> Edits {
    let mut edits = Edits::default();
    for control in CONTROL_DEVICES {
        let host = root.join(control);
        if host.exists() {
            edits.devices.push((host, format!("/{control}")));
        }
    }
    for device in devices {
        let node = format!("dev/nvidia{}", device.minor);
        edits.devices.push((root.join(&node), format!("/{node}")));
    }
    let mut seen = std::collections::BTreeSet::new();
    for dir in LIBRARY_DIRS {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut names: Vec<(String, PathBuf)> = entries
            .flatten()
            .filter_map(|entry| Some((entry.file_name().into_string().ok()?, entry.path())))
            .filter(|(name, _)| {
                DRIVER_LIBRARIES
                    .iter()
                    .any(|prefix| name.starts_with(prefix))
            })
            .collect();
        names.sort();
        for (name, path) in names {
            // The first directory that has a name wins (as the loader's search would); a link
            // is bound as the file it names.
            if path.exists() && seen.insert(name.clone()) {
                edits.binds.push((path, format!("{GPU_DIR}/lib/{name}")));
            }
        }
    }
    for tool in DRIVER_TOOLS {
        let host = root.join(tool);
        if host.exists() {
            let name = tool.rsplit('/').next().unwrap_or(tool);
            edits.binds.push((host, format!("{GPU_DIR}/bin/{name}")));
            edits.tools_dir = Some(format!("{GPU_DIR}/bin"));
        }
    }
    let uuids = devices
        .iter()
        .map(|device| device.uuid.as_str())
        .collect::<Vec<_>>()
        .join(",");
    edits
        .env
        .push(("CUDA_VISIBLE_DEVICES".into(), uuids.clone()));
    edits.env.push(("NVIDIA_VISIBLE_DEVICES".into(), uuids));
    edits
        .env
        .push(("LD_LIBRARY_PATH".into(), format!("{GPU_DIR}/lib")));
    edits
}

/// Merges `edits`' variables with a job's: the job's win, but a job's `LD_LIBRARY_PATH` comes
/// after the driver's directory, and the tools' directory joins the end of `PATH`.
pub fn merge_env(edits: &Edits, job: &[(String, String)]) -> Vec<(String, String)> {
    let mut merged: BTreeMap<String, String> = edits.env.iter().cloned().collect();
    for (name, value) in job {
        let joined = match (name.as_str(), merged.get(name)) {
            ("LD_LIBRARY_PATH", Some(driver)) => format!("{driver}:{value}"),
            _ => value.clone(),
        };
        merged.insert(name.clone(), joined);
    }
    if let Some(tools) = &edits.tools_dir {
        let path = merged.remove("PATH").unwrap_or_else(|| {
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
        });
        merged.insert("PATH".into(), format!("{path}:{tools}"));
    }
    merged.into_iter().collect()
}

/// What the sampler measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// GPU-milliseconds used: Σ over devices and samples of utilization × interval.
    pub gpu_ms: u64,
    /// The most memory in use on any one device, MiB.
    pub peak_memory_mib: u64,
    /// Samples taken.
    pub samples: u64,
    /// The budget ran out and the task was stopped.
    pub over_budget: bool,
}

/// CU × 10^6 for `gpu_ms` GPU-milliseconds at `factor_ppm` per device, at most `wall` × every
/// device and `max_cu_ppm` (rounded down: the buyer never pays for what was not measured).
pub fn cu_ppm_for_gpu(
    gpu_ms: u64,
    factor_ppm: u64,
    devices: u32,
    wall: Duration,
    max_cu_ppm: u64,
) -> u64 {
    let held_ms = u64::try_from(wall.as_millis())
        .unwrap_or(u64::MAX)
        .saturating_mul(u64::from(devices.max(1)));
    let used_ms = u128::from(gpu_ms.min(held_ms));
    u64::try_from(used_ms * u128::from(factor_ppm) / 1_000)
        .unwrap_or(u64::MAX)
        .min(max_cu_ppm)
}

/// How often the sampler reads NVML.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Samples the devices of a running task on a thread of its own.
#[derive(Debug)]
pub struct Sampler {
    done: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Usage>,
}

impl Sampler {
    /// Starts sampling the devices with `uuids`; when the GPU-milliseconds reach `budget_ms`,
    /// sets `stop` (the sandbox then ends the task). Fails when NVML cannot be loaded.
    pub fn start(
        uuids: Vec<String>,
        budget_ms: u64,
        stop: Arc<AtomicBool>,
    ) -> Result<Sampler, String> {
        let nvml = nvml_wrapper::Nvml::init().map_err(|error| format!("NVML: {error}"))?;
        let done = Arc::new(AtomicBool::new(false));
        let finished = done.clone();
        let thread = std::thread::Builder::new()
            .name("gpu-sampler".into())
            .spawn(move || {
                let mut usage = Usage::default();
                let mut last = Instant::now();
                loop {
                    let ending = finished.load(Ordering::Relaxed);
                    let interval = last.elapsed();
                    last = Instant::now();
                    for uuid in &uuids {
                        let Ok(device) = nvml.device_by_uuid(uuid.as_str()) else {
                            continue;
                        };
                        if let Ok(rates) = device.utilization_rates() {
                            let ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
                            usage.gpu_ms = usage
                                .gpu_ms
                                .saturating_add(ms.saturating_mul(u64::from(rates.gpu)) / 100);
                        }
                        if let Ok(memory) = device.memory_info() {
                            usage.peak_memory_mib =
                                usage.peak_memory_mib.max(memory.used / (1024 * 1024));
                        }
                    }
                    usage.samples += 1;
                    if usage.gpu_ms >= budget_ms && !usage.over_budget {
                        usage.over_budget = true;
                        stop.store(true, Ordering::Relaxed);
                    }
                    if ending {
                        return usage;
                    }
                    let until = Instant::now() + SAMPLE_EVERY;
                    while Instant::now() < until && !finished.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            })
            .map_err(|error| format!("starting the GPU sampler: {error}"))?;
        Ok(Sampler { done, thread })
    }

    /// Takes a last sample and returns what was measured.
    pub fn finish(self) -> Usage {
        self.done.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// This node's devices as NVML lists them, with the ledger's model names (devices of models the
/// table does not know are left out, as at registration); empty without NVML.
pub fn devices(known_models: &[String]) -> Vec<Device> {
    let Ok(nvml) = nvml_wrapper::Nvml::init() else {
        return Vec::new();
    };
    let count = nvml.device_count().unwrap_or(0);
    (0..count)
        .filter_map(|index| {
            let device = nvml.device_by_index(index).ok()?;
            let name = device.name().ok()?;
            Some(Device {
                index,
                uuid: device.uuid().ok()?,
                minor: device.minor_number().ok()?,
                model: crate::hardware::table_model(&name, known_models)?,
                vram_mib: (device.memory_info().ok()?.total / (1024 * 1024)) as u32,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(index: u32, model: &str, vram_mib: u32) -> Device {
        Device {
            index,
            uuid: format!("GPU-{index:08}"),
            minor: index,
            model: model.into(),
            vram_mib,
        }
    }

    #[test]
    fn tasks_get_free_devices_of_their_model_and_never_share_one() {
        let allocator = Allocator::new(vec![
            device(0, "H100", 81_920),
            device(1, "H100", 81_920),
            device(2, "L40S", 46_068),
            device(3, "H100", 40_960),
        ]);
        let first = allocator
            .take(1, 0, Some("H100"), 2, 80_000)
            .expect("two H100s");
        assert_eq!(first.iter().map(|d| d.index).collect::<Vec<_>>(), [0, 1]);
        // Asking again gives the same devices (a restart of the same task).
        assert_eq!(allocator.take(1, 0, Some("H100"), 2, 80_000), Some(first));
        // No third 80 GB H100; the 40 GB one does not have the memory.
        assert_eq!(allocator.take(2, 0, Some("H100"), 1, 80_000), None);
        assert_eq!(
            allocator.take(2, 0, Some("H100"), 1, 0).map(|d| d[0].index),
            Some(3)
        );
        assert_eq!(
            allocator.take(3, 0, None, 1, 0).map(|d| d[0].index),
            Some(2)
        );
        assert_eq!(allocator.take(4, 0, None, 1, 0), None, "all held");
        allocator.release(1, 0);
        assert_eq!(
            allocator.take(4, 0, None, 2, 0).map(|d| d.len()),
            Some(2),
            "released"
        );
    }

    #[test]
    fn the_edits_bind_the_assigned_devices_the_driver_and_name_the_devices() {
        let root = tempfile::tempdir().expect("tempdir");
        let at = |relative: &str| {
            let path = root.path().join(relative);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
            std::fs::write(&path, b"fake").expect("file");
        };
        for file in [
            "dev/nvidiactl",
            "dev/nvidia-uvm",
            "dev/nvidia0",
            "dev/nvidia1",
            "usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15",
            "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.550.54.15",
            "usr/lib/x86_64-linux-gnu/libc.so.6",
            "usr/bin/nvidia-smi",
        ] {
            at(file);
        }
        std::os::unix::fs::symlink(
            "libcuda.so.550.54.15",
            root.path().join("usr/lib/x86_64-linux-gnu/libcuda.so.1"),
        )
        .expect("link");
        let edits = edits(root.path(), &[device(1, "H100", 81_920)]);
        let inside: Vec<&str> = edits
            .devices
            .iter()
            .map(|(_, inside)| inside.as_str())
            .collect();
        assert_eq!(
            inside,
            ["/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia1"]
        );
        let bound: Vec<&str> = edits
            .binds
            .iter()
            .map(|(_, inside)| inside.as_str())
            .collect();
        assert_eq!(
            bound,
            [
                "/tmp/.vcity-gpu/lib/libcuda.so.1",
                "/tmp/.vcity-gpu/lib/libcuda.so.550.54.15",
                "/tmp/.vcity-gpu/lib/libnvidia-ml.so.550.54.15",
                "/tmp/.vcity-gpu/bin/nvidia-smi",
            ],
            "the driver's libraries and tools, not the C library"
        );
        let env = merge_env(
            &edits,
            &[
                ("LD_LIBRARY_PATH".into(), "/opt/lib".into()),
                ("MODE".into(), "fast".into()),
            ],
        );
        let get = |name: &str| {
            env.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        assert_eq!(get("CUDA_VISIBLE_DEVICES"), Some("GPU-00000001"));
        assert_eq!(get("NVIDIA_VISIBLE_DEVICES"), Some("GPU-00000001"));
        assert_eq!(get("LD_LIBRARY_PATH"), Some("/tmp/.vcity-gpu/lib:/opt/lib"));
        assert_eq!(get("MODE"), Some("fast"));
        assert!(get("PATH").is_some_and(|path| path.ends_with(":/tmp/.vcity-gpu/bin")));
        assert_eq!(edits.tools_dir.as_deref(), Some("/tmp/.vcity-gpu/bin"));
    }

    #[test]
    fn gpu_time_converts_to_cu_within_the_assignment_and_the_budget() {
        // An H100 (2.0 CU/s) busy 1.5 s of a 2 s run: 3 CU.
        assert_eq!(
            cu_ppm_for_gpu(1_500, 2_000_000, 1, Duration::from_secs(2), u64::MAX),
            3_000_000
        );
        // Two devices cannot be busier than twice the wall time.
        assert_eq!(
            cu_ppm_for_gpu(9_000, 2_000_000, 2, Duration::from_secs(2), u64::MAX),
            8_000_000
        );
        assert_eq!(
            cu_ppm_for_gpu(1_500, 2_000_000, 1, Duration::from_secs(2), 1_000_000),
            1_000_000
        );
    }
}
