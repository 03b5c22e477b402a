//! Hardware detection (issue 3 point 3; rules §4): CPU cores and memory from the operating
//! system, NVIDIA GPUs through NVML loaded at run time (`libnvidia-ml.so`, via nvml-wrapper), so
//! the same binary runs on machines with and without a driver. With no driver the node reports no
//! GPUs and says why. GPU names are mapped to the ledger's performance-factor table
//! (`NVIDIA H100 80GB HBM3` → `H100`); a model the table does not know is left out with a note,
//! because the ledger refuses unknown models.

use serde::{Deserialize, Serialize};
use vcity_types::compute::{GpuSpec, Hardware, MAX_GPU_ENTRIES};

/// What detection found, with notes for the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detected {
    /// The inventory to register.
    pub hardware: Hardware,
    /// The NVIDIA driver version, when NVML loaded.
    pub driver: Option<String>,
    /// Why there are no GPUs, or which devices were left out.
    pub notes: Vec<String>,
}

/// Detects this machine's hardware; `known_models` is the ledger's GPU table.
pub fn detect(known_models: &[String]) -> Detected {
    let cpu_cores = std::thread::available_parallelism()
        .map(|count| count.get() as u32)
        .unwrap_or(1);
    let mut notes = Vec::new();
    let ram_mib = match memory_mib() {
        Ok(mib) => mib,
        Err(why) => {
            notes.push(format!("memory size unknown: {why}"));
            0
        }
    };
    let (gpus, driver) = match nvidia_gpus() {
        Ok((devices, driver)) => {
            let gpus = group(&devices, known_models, &mut notes);
            if devices.is_empty() {
                notes.push("the NVIDIA driver is loaded but reports no GPUs".into());
            }
            (gpus, Some(driver))
        }
        Err(why) => {
            notes.push(format!("no GPUs: {why}"));
            (Vec::new(), None)
        }
    };
    Detected {
        hardware: Hardware {
            sandbox: None,
            gpus,
            cpu_cores,
            ram_mib,
        },
        driver,
        notes,
    }
}

/// One device as NVML names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// NVML's name, e.g. `NVIDIA H100 80GB HBM3`.
    pub name: String,
    /// Total memory, MiB.
    pub vram_mib: u32,
}

fn nvidia_gpus() -> Result<(Vec<Device>, String), String> {
    let nvml = nvml_wrapper::Nvml::init()
        .map_err(|error| format!("NVML did not load ({error}); is the NVIDIA driver installed?"))?;
    let driver = nvml
        .sys_driver_version()
        .unwrap_or_else(|_| "unknown".into());
    let count = nvml
        .device_count()
        .map_err(|error| format!("NVML device count: {error}"))?;
    let mut devices = Vec::new();
    for index in 0..count {
        let device = nvml
            .device_by_index(index)
            .map_err(|error| format!("NVML device {index}: {error}"))?;
        let name = device
            .name()
            .map_err(|error| format!("NVML device {index} name: {error}"))?;
        let memory = device
            .memory_info()
            .map_err(|error| format!("NVML device {index} memory: {error}"))?;
        devices.push(Device {
            name,
            vram_mib: (memory.total / (1024 * 1024)) as u32,
        });
    }
    Ok((devices, driver))
}

/// The table model an NVML name stands for: the longest table name contained in it, ignoring
/// case, spaces and dashes.
pub fn table_model(name: &str, known_models: &[String]) -> Option<String> {
    let squash = |text: &str| {
        text.chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_uppercase)
            .collect::<String>()
    };
    let squashed = squash(name);
    known_models
        .iter()
        .filter(|model| squashed.contains(&squash(model)))
        .max_by_key(|model| model.len())
        .cloned()
}

/// Devices grouped by (model, memory), unknown models noted and left out.
pub fn group(devices: &[Device], known_models: &[String], notes: &mut Vec<String>) -> Vec<GpuSpec> {
    let mut gpus: Vec<GpuSpec> = Vec::new();
    for device in devices {
        let Some(model) = table_model(&device.name, known_models) else {
            notes.push(format!(
                "{} is not in the ledger's GPU table; left out",
                device.name
            ));
            continue;
        };
        let kinds = gpus.len();
        match gpus
            .iter_mut()
            .find(|gpu| gpu.model == model && gpu.vram_mib == device.vram_mib)
        {
            Some(gpu) => gpu.count += 1,
            None if kinds < MAX_GPU_ENTRIES => gpus.push(GpuSpec {
                model,
                count: 1,
                vram_mib: device.vram_mib,
            }),
            None => notes.push(format!(
                "more than {MAX_GPU_ENTRIES} GPU kinds; {} left out",
                device.name
            )),
        }
    }
    gpus
}

fn memory_mib() -> Result<u64, String> {
    let text = std::fs::read_to_string("/proc/meminfo").map_err(|error| error.to_string())?;
    text.lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib / 1024)
        .ok_or_else(|| "no MemTotal in /proc/meminfo".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Vec<String> {
        ["A100", "H100", "H200", "L40S", "RTX4090", "RTX3090"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn nvml_names_map_to_the_table() {
        let known = table();
        assert_eq!(
            table_model("NVIDIA H100 80GB HBM3", &known).as_deref(),
            Some("H100")
        );
        assert_eq!(
            table_model("NVIDIA GeForce RTX 4090", &known).as_deref(),
            Some("RTX4090")
        );
        assert_eq!(
            table_model("NVIDIA A100-SXM4-80GB", &known).as_deref(),
            Some("A100")
        );
        assert_eq!(table_model("Tesla T4", &known), None);
    }

    #[test]
    fn devices_group_by_model_and_memory() {
        let device = |name: &str, vram_mib| Device {
            name: name.into(),
            vram_mib,
        };
        let mut notes = Vec::new();
        let gpus = group(
            &[
                device("NVIDIA H100 80GB HBM3", 81_559),
                device("NVIDIA H100 80GB HBM3", 81_559),
                device("Tesla T4", 15_360),
                device("NVIDIA A100-SXM4-40GB", 40_960),
            ],
            &table(),
            &mut notes,
        );
        assert_eq!(
            gpus,
            vec![
                GpuSpec {
                    model: "H100".into(),
                    count: 2,
                    vram_mib: 81_559
                },
                GpuSpec {
                    model: "A100".into(),
                    count: 1,
                    vram_mib: 40_960
                },
            ]
        );
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn detection_always_reports_cpus_and_explains_missing_gpus() {
        let detected = detect(&table());
        assert!(detected.hardware.cpu_cores >= 1);
        if detected.hardware.gpus.is_empty() {
            assert!(
                !detected.notes.is_empty(),
                "no GPUs must come with a reason"
            );
        }
    }
}
