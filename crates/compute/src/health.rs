//! What a node measures for its heartbeats (rules §4; docs/verification.md, "Health"): the
//! executor's self-test, free disk under the work directory, and through NVML each GPU's
//! temperature, uncorrected ECC errors and critical XID errors. The ledger, not the node, decides
//! from these whether the node is healthy; an unhealthy node receives no work.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use vcity_executor::{fuel_for_cu_ppm, Ending, Executor, Task, CPU_CORE_FACTOR_PPM};
use vcity_types::compute::{task_seed, TaskExit};
use vcity_types::trust::{GpuHealth, HealthReport};

/// The self-test: the example hash chain over a fixed input, which must give the native kernel's
/// answer.
pub fn executor_self_test(executor: &Executor) -> Result<(), String> {
    let input = b"1000 vcity-self-test";
    let workload = vcity_workloads::HASHCHAIN;
    let expected = (workload.reference)(input).map_err(|error| error.to_string())?;
    let outcome = executor.run(&Task {
        module: workload.module,
        input,
        fuel: fuel_for_cu_ppm(10_000_000, CPU_CORE_FACTOR_PPM),
        factor_ppm: CPU_CORE_FACTOR_PPM,
        seed: task_seed(0, 0),
        wall_clock: Some(Duration::from_secs(30)),
    });
    match outcome.ending {
        Ending::Exit(TaskExit::Success) if outcome.output == expected => Ok(()),
        Ending::Exit(exit) => Err(format!(
            "the self-test ended {exit:?} with {} output bytes",
            outcome.output.len()
        )),
        Ending::TimedOut => Err("the self-test ran out of wall-clock time".into()),
    }
}

/// Free space under `path`, MiB (0 when it cannot be read).
pub fn free_disk_mib(path: &Path) -> u64 {
    match rustix::fs::statvfs(path) {
        Ok(stats) => stats.f_bavail.saturating_mul(stats.f_frsize) / (1024 * 1024),
        Err(_) => 0,
    }
}

/// GPU health through NVML, with XID errors counted by a background thread since start.
#[derive(Debug, Clone, Default)]
pub struct GpuMonitor {
    xid_counts: Arc<Vec<AtomicU64>>,
}

impl GpuMonitor {
    /// Starts watching critical XID errors on every GPU (nothing without NVML).
    pub fn start() -> GpuMonitor {
        let Ok(nvml) = nvml_wrapper::Nvml::init() else {
            return GpuMonitor::default();
        };
        let count = nvml.device_count().unwrap_or(0) as usize;
        let counts: Arc<Vec<AtomicU64>> = Arc::new((0..count).map(|_| AtomicU64::new(0)).collect());
        let watched = counts.clone();
        let started = std::thread::Builder::new()
            .name("nvml-xid".into())
            .spawn(move || watch_xids(&watched));
        if let Err(error) = started {
            tracing::warn!(%error, "XID watcher not started");
        }
        GpuMonitor { xid_counts: counts }
    }

    /// Each GPU's temperature and error counts (empty without NVML).
    pub fn sample(&self) -> Vec<GpuHealth> {
        let Ok(nvml) = nvml_wrapper::Nvml::init() else {
            return Vec::new();
        };
        let count = nvml.device_count().unwrap_or(0);
        (0..count)
            .filter_map(|index| nvml.device_by_index(index).ok())
            .enumerate()
            .map(|(index, device)| GpuHealth {
                temperature_c: device
                    .temperature(nvml_wrapper::enum_wrappers::device::TemperatureSensor::Gpu)
                    .unwrap_or(0),
                ecc_uncorrected: device
                    .total_ecc_errors(
                        nvml_wrapper::enum_wrappers::device::MemoryError::Uncorrected,
                        nvml_wrapper::enum_wrappers::device::EccCounter::Volatile,
                    )
                    .unwrap_or(0),
                xid_errors: self
                    .xid_counts
                    .get(index)
                    .map_or(0, |count| count.load(Ordering::Relaxed)),
            })
            .collect()
    }
}

fn watch_xids(counts: &[AtomicU64]) {
    use nvml_wrapper::bitmasks::event::EventTypes;
    let Ok(nvml) = nvml_wrapper::Nvml::init() else {
        return;
    };
    let Ok(mut set) = nvml.create_event_set() else {
        return;
    };
    for index in 0..counts.len() as u32 {
        if let Ok(device) = nvml.device_by_index(index) {
            match device.register_events(EventTypes::CRITICAL_XID_ERROR, set) {
                Ok(registered) => set = registered,
                Err(error) => {
                    tracing::info!(index, %error, "XID errors not watched on this GPU");
                    let Ok(fresh) = nvml.create_event_set() else {
                        return;
                    };
                    set = fresh;
                }
            }
        }
    }
    loop {
        match set.wait(60_000) {
            Ok(event) => {
                let index = event
                    .device
                    .index()
                    .map_or(usize::MAX, |index| index as usize);
                if let Some(count) = counts.get(index) {
                    count.fetch_add(1, Ordering::Relaxed);
                }
                tracing::warn!(gpu = index, xid = ?event.event_data, "critical XID error");
            }
            Err(nvml_wrapper::error::NvmlError::Timeout) => {}
            Err(error) => {
                tracing::info!(%error, "XID watcher stopped");
                return;
            }
        }
    }
}

/// A full report: the self-test's last result, free disk under `work_dir`, and the GPUs.
pub fn report(executor_ok: bool, work_dir: &Path, gpus: &GpuMonitor) -> HealthReport {
    HealthReport {
        executor_ok,
        free_disk_mib: free_disk_mib(work_dir),
        gpus: gpus.sample(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_self_test_passes_and_disk_is_measured() {
        let executor = Executor::new(vcity_executor::Limits::default()).expect("executor");
        assert_eq!(executor_self_test(&executor), Ok(()));
        let directory = tempfile::tempdir().expect("tempdir");
        assert!(free_disk_mib(directory.path()) > 0);
        assert_eq!(free_disk_mib(Path::new("/no/such/place")), 0);
        let report = report(true, directory.path(), &GpuMonitor::default());
        assert!(report.executor_ok && report.gpus.is_empty());
    }
}
