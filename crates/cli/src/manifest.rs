//! Job manifests (docs/job-spec.md): a TOML file a user can write from memory.
//!
//! ```toml
//! workload = "matmul"          # an example workload by name, or
//! # module = "my-task.wasm"    # a wasm32-wasip1 module (path relative to this file)
//! input = "128 7"              # the input as text, or
//! # input_file = "photo.pgm"   # the input as a file
//! tasks = 4                    # tasks (each gets the same input and its own seed)
//! max_cu = 0.5                 # most CU one task may use
//! max_price_per_cu = 2         # most USD per CU
//! # fixed_price = 0.01         # pay a fixed USD price per task instead of per CU
//! # subscription = 3           # or bill a prepaid subscription (`vcity job subscribe`)
//!
//! [requirements]               # all optional
//! gpu_model = "H100"
//! gpu_count = 1
//! min_vram_mib = 40000
//! region = "eu-west"
//! node_kind = "stable"
//! max_duration = "5m"
//! gang = true                  # place all tasks at once or none
//! high_load = true             # only nodes with >= 96 GB of GPU memory in all
//! ```

use crate::config::parse_duration;
use anyhow::{bail, Context as _};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use vcity_types::compute::{Billing, NodeKind, Requirements, SubmitJob, Workload, MAX_INPUT_BYTES};
use vcity_types::{Amount, Denom};

/// The file's shape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// An example workload's name (`matmul`, `hashchain`, `blur`).
    pub workload: Option<String>,
    /// A module file.
    pub module: Option<PathBuf>,
    /// Input text.
    pub input: Option<String>,
    /// Input file.
    pub input_file: Option<PathBuf>,
    /// Number of tasks.
    #[serde(default = "one")]
    pub tasks: u32,
    /// Most CU per task (a decimal).
    pub max_cu: Number,
    /// Most USD per CU.
    pub max_price_per_cu: Number,
    /// Fixed USD per task.
    pub fixed_price: Option<Number>,
    /// Bill to this prepaid subscription (`vcity job subscribe`).
    pub subscription: Option<u64>,
    /// How much checking the job buys: none, standard (the default), high or full
    /// (docs/verification.md); the buyer pays `cost × the level's sampling rate`.
    #[serde(default)]
    pub verification: vcity_types::trust::VerificationLevel,
    /// Hard constraints.
    #[serde(default)]
    pub requirements: RequirementsSection,
}

fn one() -> u32 {
    1
}

/// A number written as TOML integer, float or string (kept as text for exact decimal parsing).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Number {
    /// `2`
    Integer(i64),
    /// `0.5` (read through its shortest decimal form)
    Float(f64),
    /// `"0.5"`
    Text(String),
}

impl Number {
    fn text(&self) -> String {
        match self {
            Number::Integer(value) => value.to_string(),
            Number::Float(value) => format!("{value}"),
            Number::Text(text) => text.clone(),
        }
    }
}

/// `[requirements]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementsSection {
    /// GPU model.
    pub gpu_model: Option<String>,
    /// GPUs on one node.
    #[serde(default)]
    pub gpu_count: u32,
    /// Memory per GPU, MiB.
    #[serde(default)]
    pub min_vram_mib: u32,
    /// Region.
    pub region: Option<String>,
    /// Node kind (`stable` or `flexible`).
    pub node_kind: Option<NodeKind>,
    /// Longest a task may run.
    pub max_duration: Option<String>,
    /// Place all tasks together or none.
    #[serde(default)]
    pub gang: bool,
    /// A high-load job: only nodes with at least 96 GB of GPU memory in all.
    #[serde(default)]
    pub high_load: bool,
}

/// A manifest resolved into what to upload and what to submit.
#[derive(Debug)]
pub struct Resolved {
    /// The module's bytes.
    pub module: Vec<u8>,
    /// What the workload is called, for people.
    pub label: String,
    /// The message (its `module_hash` is the module's content address).
    pub message: SubmitJob,
}

/// A decimal amount of `denom` from a manifest number.
fn decimal(number: &Number, denom: Denom, what: &str) -> anyhow::Result<Amount> {
    let text = number.text();
    Amount::parse_decimal(&text, denom).with_context(|| format!("{what} {text:?}"))
}

/// Reads and checks the manifest at `path`.
pub fn load(path: &Path) -> anyhow::Result<Resolved> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the manifest {}", path.display()))?;
    let manifest: Manifest = toml::from_str(&text)
        .with_context(|| format!("parsing the manifest {}", path.display()))?;
    resolve(manifest, path.parent().unwrap_or(Path::new(".")))
}

/// Resolves a parsed manifest; relative paths are taken from `base`.
pub fn resolve(manifest: Manifest, base: &Path) -> anyhow::Result<Resolved> {
    let (module, label) = match (&manifest.workload, &manifest.module) {
        (Some(name), None) => {
            let workload = vcity_workloads::by_name(name).with_context(|| {
                let names: Vec<_> = vcity_workloads::ALL.iter().map(|w| w.name).collect();
                format!(
                    "no example workload {name:?}; there are {}",
                    names.join(", ")
                )
            })?;
            (workload.module.to_vec(), name.clone())
        }
        (None, Some(file)) => {
            let path = base.join(file);
            let bytes = std::fs::read(&path)
                .with_context(|| format!("reading the module {}", path.display()))?;
            if !bytes.starts_with(b"\0asm") {
                bail!("{} is not a WebAssembly module", path.display());
            }
            (bytes, file.display().to_string())
        }
        _ => bail!("give exactly one of `workload` (an example's name) or `module` (a file)"),
    };
    let input = match (&manifest.input, &manifest.input_file) {
        (Some(text), None) => text.clone().into_bytes(),
        (None, Some(file)) => {
            let path = base.join(file);
            std::fs::read(&path).with_context(|| format!("reading the input {}", path.display()))?
        }
        (None, None) => Vec::new(),
        (Some(_), Some(_)) => bail!("give `input` or `input_file`, not both"),
    };
    if input.len() > MAX_INPUT_BYTES {
        bail!(
            "the input is {} bytes; inline inputs are at most {MAX_INPUT_BYTES}",
            input.len()
        );
    }
    let max_cu = decimal(&manifest.max_cu, Denom::Usd, "max_cu")?;
    let max_cu_ppm_per_task = u64::try_from(max_cu.base_units()).context("max_cu is too large")?;
    if max_cu_ppm_per_task == 0 {
        bail!("max_cu must be positive");
    }
    let billing = match (&manifest.fixed_price, manifest.subscription) {
        (Some(price), None) => Billing::FixedPerTask {
            price_usd: decimal(price, Denom::Usd, "fixed_price")?,
        },
        (None, Some(subscription_id)) => Billing::Subscription { subscription_id },
        (None, None) => Billing::PayAsYouGo,
        (Some(_), Some(_)) => bail!("give `fixed_price` or `subscription`, not both"),
    };
    let requirements = &manifest.requirements;
    let max_duration_s = match &requirements.max_duration {
        Some(text) => parse_duration(text)?.as_secs(),
        None => 300,
    };
    if max_duration_s == 0 {
        bail!("max_duration must be at least one second");
    }
    Ok(Resolved {
        message: SubmitJob {
            workload: Workload {
                module_hash: vcity_types::compute::content_address(&module),
                input,
            },
            tasks: manifest.tasks,
            requirements: Requirements {
                gpu_model: requirements.gpu_model.clone(),
                gpu_count: requirements.gpu_count,
                min_vram_mib: requirements.min_vram_mib,
                region: requirements.region.clone(),
                max_duration_s,
                node_kind: requirements.node_kind,
                gang: requirements.gang,
                high_load: requirements.high_load,
            },
            max_cu_ppm_per_task,
            max_price_per_cu_usd: decimal(
                &manifest.max_price_per_cu,
                Denom::Usd,
                "max_price_per_cu",
            )?,
            billing,
            verification: manifest.verification,
        },
        module,
        label,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Resolved> {
        resolve(toml::from_str(text)?, Path::new("."))
    }

    #[test]
    fn a_minimal_manifest_resolves_with_defaults() {
        let resolved =
            parse("workload = \"matmul\"\ninput = \"8 1\"\nmax_cu = 0.5\nmax_price_per_cu = 2\n")
                .expect("valid");
        let message = resolved.message;
        assert_eq!(message.tasks, 1);
        assert_eq!(message.max_cu_ppm_per_task, 500_000);
        assert_eq!(message.max_price_per_cu_usd, Amount::new(2_000_000));
        assert_eq!(message.requirements.max_duration_s, 300);
        assert_eq!(message.billing, Billing::PayAsYouGo);
        assert_eq!(
            message.verification,
            vcity_types::trust::VerificationLevel::Standard
        );
        assert_eq!(
            message.workload.module_hash,
            vcity_types::compute::content_address(vcity_workloads::MATMUL.module)
        );
    }

    #[test]
    fn full_manifest_with_fixed_price_and_requirements() {
        let resolved = parse(
            "workload = \"hashchain\"\ninput = \"10 x\"\ntasks = 3\nmax_cu = \"0.25\"\n\
             max_price_per_cu = 1.5\nfixed_price = 0.01\nverification = \"full\"\n\
             [requirements]\ngpu_model = \"H100\"\n\
             gpu_count = 2\nmin_vram_mib = 40000\nregion = \"eu-west\"\nmax_duration = \"2m\"\n\
             node_kind = \"stable\"\ngang = true\n",
        )
        .expect("valid");
        let message = resolved.message;
        assert_eq!(message.tasks, 3);
        assert_eq!(
            message.billing,
            Billing::FixedPerTask {
                price_usd: Amount::new(10_000)
            }
        );
        assert_eq!(message.requirements.gpu_count, 2);
        assert_eq!(message.requirements.max_duration_s, 120);
        assert_eq!(message.requirements.node_kind, Some(NodeKind::Stable));
        assert!(message.requirements.gang);
        assert_eq!(
            message.verification,
            vcity_types::trust::VerificationLevel::Full
        );
    }

    #[test]
    fn the_example_manifests_load() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/jobs");
        for name in ["matmul", "hashchain", "blur"] {
            let resolved = load(&examples.join(format!("{name}.toml"))).expect(name);
            let workload = vcity_workloads::by_name(name).expect("workload");
            assert_eq!(resolved.module, workload.module);
            assert!(
                (workload.reference)(&resolved.message.workload.input).is_ok(),
                "{name}"
            );
        }
    }

    #[test]
    fn mistakes_are_named() {
        let error = |text: &str| format!("{:#}", parse(text).expect_err("invalid"));
        assert!(
            error("workload = \"nope\"\nmax_cu = 1\nmax_price_per_cu = 1\n")
                .contains("no example workload")
        );
        assert!(error("max_cu = 1\nmax_price_per_cu = 1\n").contains("exactly one"));
        assert!(
            error("workload = \"blur\"\nmax_cu = 0\nmax_price_per_cu = 1\n").contains("positive")
        );
        assert!(toml::from_str::<Manifest>(
            "workload = \"blur\"\nmax_cu = 1\nmax_price_per_cu = 1\ncolour = 2\n"
        )
        .is_err());
    }
}
