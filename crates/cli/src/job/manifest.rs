//! Job manifests (docs/job-spec.md): a TOML file a user can write from memory.
//!
//! ```toml
//! workload = "matmul"          # an example workload by name, or
//! # module = "my-task.wasm"    # a wasm32-wasip1 module (path relative to this file), or
//! # executor = "process"       # a native process in the node's sandbox:
//! # program = "my-task"        #   a static Linux executable (path relative to this file)
//! # program_name = "my-task"   #   its name in the sandbox, argv[0] (default: the file's)
//! # args = ["--fast"]          #   its arguments
//! # env = { MODE = "x" }       #   its environment
//! # executor = "oci"           # an OCI image's command in the node's sandbox:
//! # image_file = "image.tar"   #   an OCI layout archive to upload (`vcity image build`), or
//! # reference = "host/repo:1"  #   a registry to pull from, with
//! # image = "sha256:..."       #   the manifest digest (required with `reference`)
//! # entrypoint = ["/bin/x"]    #   replaces the image's entrypoint
//! # cmd = ["--fast"]           #   replaces the image's command
//! # workdir = "/data"          #   replaces the image's working directory
//! input = "128 7"              # the input as text, or
//! # input_file = "photo.pgm"   # the input as a file, or one input per task (a shard):
//! # shards = "texts/"          #   each file of a directory (by name), or a list of files
//! # shards = ["a.txt", { url = "https://host/b.txt", address = "hex", bytes = 1234 }]
//! tasks = 4                    # tasks (each gets the same input and its own seed; with
//!                              #   shards, one per shard)
//! max_cu = 0.5                 # most CU one task may use
//! max_price_per_cu = 2         # most USD per CU
//! # fixed_price = 0.01         # pay a fixed USD price per task instead of per CU
//! # subscription = 3           # or bill a prepaid subscription (`vcity job subscribe`)
//! # retries = 1                # place a task lost by its node again at most once [default 2]
//! # output = "directory"       # process and image jobs: the result is a tar of /output
//! # confidential = true        # inputs, outputs and logs encrypted; only attested TEE nodes
//!                              #   get the key (docs/attestation.md, "Confidential jobs")
//!
//! # [service]                  # a long-running service (process and image jobs):
//! # port = 8080                #   the port it listens on, reached at /jobs/{id}/ on its node
//! # health_path = "/health"    #   what the node asks to see it is up [default: /]
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
//! tee = "cpu"                  # only nodes with an attested TEE: "cpu" or "cpu+gpu"
//!                              #   (docs/attestation.md)
//! memory_mib = 512             # process jobs: the task's memory ceiling (default 512)
//! network = true               # process jobs: network egress (default: loopback only)
//! ```

use crate::shared::config::parse_duration;
use anyhow::{bail, Context as _};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use vcity_types::compute::{
    content_address, valid_program_name, valid_shard_url, Billing, ExecutorKind, NodeKind,
    Requirements, SandboxNeeds, Shard, SubmitJob, TeeTier, Workload, MAX_INPUT_BYTES,
    MAX_SHARD_BYTES, MAX_TASKS_PER_JOB,
};
use vcity_types::trust::VerificationLevel;
use vcity_types::{Amount, Denom};

/// The file's shape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// An example workload's name (`matmul`, `hashchain`, `blur`).
    pub workload: Option<String>,
    /// A module file.
    pub module: Option<PathBuf>,
    /// `wasm` (the default) or `process`.
    pub executor: Option<String>,
    /// A process job's program file.
    pub program: Option<PathBuf>,
    /// A process job's program name in the sandbox (its `argv[0]`) [default: the file's name].
    pub program_name: Option<String>,
    /// A process job's arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// A process or image job's environment.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    /// An image job's layout archive, uploaded with the job.
    pub image_file: Option<PathBuf>,
    /// An image job's registry reference, to pull from.
    pub reference: Option<String>,
    /// An image job's manifest digest.
    pub image: Option<String>,
    /// Replaces the image's entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's command.
    pub cmd: Option<Vec<String>>,
    /// Replaces the image's working directory.
    pub workdir: Option<String>,
    /// Input text.
    pub input: Option<String>,
    /// Input file.
    pub input_file: Option<PathBuf>,
    /// One input per task (docs/job-spec.md, "Shards").
    pub shards: Option<ShardsSection>,
    /// Number of tasks [default: 1, or one per shard].
    pub tasks: Option<u32>,
    /// Most CU per task (a decimal).
    pub max_cu: Number,
    /// Most USD per CU.
    pub max_price_per_cu: Number,
    /// Fixed USD per task.
    pub fixed_price: Option<Number>,
    /// Bill to this prepaid subscription (`vcity job subscribe`).
    pub subscription: Option<u64>,
    /// How much checking the job buys: none, standard (the default; none for process jobs,
    /// which cannot be re-executed), high or full (docs/verification.md); the buyer pays
    /// `cost × the level's sampling rate`.
    pub verification: Option<vcity_types::trust::VerificationLevel>,
    /// Hard constraints.
    #[serde(default)]
    pub requirements: RequirementsSection,
    /// Run as a service (process and image jobs).
    pub service: Option<ServiceSection>,
    /// Placements of a lost task before it fails [default: the network's].
    pub retries: Option<u32>,
    /// `stdout` (the default) or `directory`: the result is an archive of `/output`.
    pub output: Option<String>,
    /// Encrypt the inputs, outputs and program logs under a key only the owner and the
    /// attested node of each task hold (docs/attestation.md, "Confidential jobs").
    #[serde(default)]
    pub confidential: bool,
}

/// `[service]`: docs/job-spec.md, "Services".
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSection {
    /// The port the program listens on inside its sandbox.
    pub port: u16,
    /// What the node asks to see it is up [default: `/`].
    pub health_path: Option<String>,
}

/// `shards = "dir/"` or `shards = [...]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ShardsSection {
    /// Every regular file of a directory, in name order.
    Directory(PathBuf),
    /// Files and remote shards, in task order.
    List(Vec<ShardEntry>),
}

/// One entry of a `shards` list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ShardEntry {
    /// A file uploaded to the blob store with the job.
    File(PathBuf),
    /// A shard the node downloads (and checks against its address and size).
    Remote(RemoteShard),
}

/// `{ url = "...", address = "hex", bytes = N }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteShard {
    /// Where the node downloads it.
    pub url: String,
    /// Its content address (`vcity job address FILE` prints it).
    pub address: String,
    /// Its size.
    pub bytes: u64,
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
    /// The TEE tier a node must have proven: `none`, `cpu` or `cpu+gpu`.
    #[serde(default)]
    pub tee: TeeTier,
    /// A process task's memory ceiling, MiB.
    pub memory_mib: Option<u32>,
    /// A process task's network egress.
    #[serde(default)]
    pub network: bool,
}

/// A process task's memory when the manifest names none, MiB.
pub const DEFAULT_TASK_MEMORY_MIB: u32 = 512;

/// A manifest resolved into what to upload and what to submit.
#[derive(Debug)]
pub struct Resolved {
    /// The module's bytes.
    pub module: Vec<u8>,
    /// What the workload is called, for people.
    pub label: String,
    /// The message (its `module_hash` is the module's content address).
    pub message: SubmitJob,
    /// Shard files to upload before submitting, in task order (their addresses are in the
    /// message).
    pub shard_files: Vec<PathBuf>,
    /// A confidential job: its input and shards are still in the clear here, and
    /// `job::confidential::seal` encrypts them with the owner's key before upload.
    pub confidential: bool,
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
    let (process, oci) = match manifest.executor.as_deref() {
        None | Some("wasm") => (false, false),
        Some("process") => (true, false),
        Some("oci") => (true, true),
        Some(other) => bail!("executor {other:?} is \"wasm\", \"process\" or \"oci\""),
    };
    if !oci
        && (manifest.image_file.is_some()
            || manifest.reference.is_some()
            || manifest.image.is_some()
            || manifest.entrypoint.is_some()
            || manifest.cmd.is_some()
            || manifest.workdir.is_some())
    {
        bail!(
            "`image_file`, `reference`, `image`, `entrypoint`, `cmd` and `workdir` are for \
             executor = \"oci\""
        );
    }
    if !process
        && (manifest.program.is_some()
            || !manifest.args.is_empty()
            || !manifest.env.is_empty()
            || manifest.program_name.is_some()
            || manifest.requirements.memory_mib.is_some()
            || manifest.requirements.network)
    {
        bail!(
            "`program`, `program_name`, `args`, `env`, `memory_mib` and `network` are for \
             executor = \"process\""
        );
    }
    let mut image = None;
    let (module, label) = match (&manifest.workload, &manifest.module, &manifest.program) {
        (None, None, None) if oci => {
            if !manifest.args.is_empty() || manifest.program_name.is_some() {
                bail!("an image job gives `entrypoint` and `cmd`, not `args` or `program_name`");
            }
            let (bytes, digest) = resolve_image(&manifest, base)?;
            image = Some(digest);
            let label = manifest
                .reference
                .clone()
                .or_else(|| {
                    manifest
                        .image_file
                        .as_ref()
                        .map(|file| file.display().to_string())
                })
                .unwrap_or_default();
            (bytes, label)
        }
        _ if oci => bail!("an image job names no `workload`, `module` or `program`"),
        (None, None, Some(file)) if process => {
            let path = base.join(file);
            let bytes = std::fs::read(&path)
                .with_context(|| format!("reading the program {}", path.display()))?;
            if !bytes.starts_with(b"\x7fELF") {
                bail!(
                    "{} is not a Linux executable (a static ELF binary)",
                    path.display()
                );
            }
            (bytes, file.display().to_string())
        }
        _ if process => bail!("a process job names its `program` (and no `workload` or `module`)"),
        (workload, module, _) => resolve_module(workload, module, base)?,
    };

    let program_name = match (&manifest.program_name, &manifest.program) {
        (Some(name), _) => name.clone(),
        (None, Some(file)) => file
            .file_name()
            .and_then(|name| name.to_str())
            .filter(|name| valid_program_name(name))
            .unwrap_or("program")
            .to_string(),
        (None, None) => String::new(),
    };
    if process && !oci && !valid_program_name(&program_name) {
        bail!("program_name {program_name:?} is 1 to 32 of A-Z a-z 0-9 . _ - (not starting with a dot)");
    }
    if manifest.confidential && manifest.service.is_some() {
        bail!("a service cannot be confidential: its requests cross the node's gateway");
    }
    let verification = match (process, manifest.verification) {
        (_, None) if manifest.confidential => VerificationLevel::None,
        (_, Some(level)) if manifest.confidential && level != VerificationLevel::None => bail!(
            "a confidential job buys no verification (only its attested node may read its \
             input): leave `verification` out or set it to \"none\""
        ),
        (false, level) => level.unwrap_or_default(),
        (true, None | Some(VerificationLevel::None)) => VerificationLevel::None,
        (true, Some(_)) => bail!(
            "a process job cannot be re-executed, so it buys no verification: \
             leave `verification` out or set it to \"none\""
        ),
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
    let (shards, shard_files) = match &manifest.shards {
        None => (Vec::new(), Vec::new()),
        Some(_) if !input.is_empty() => {
            bail!("give `input`/`input_file` or `shards`: each task reads its shard")
        }
        Some(section) => resolve_shards(section, base)?,
    };
    if manifest.confidential && shards.iter().any(|shard| shard.url.is_some()) {
        bail!(
            "a confidential job's shards are files, encrypted here before upload: a `url` shard \
             would reach the node in the clear"
        );
    }
    let tasks = match (manifest.tasks, shards.len()) {
        (None, 0) => 1,
        (Some(tasks), 0) => tasks,
        (None, count) => u32::try_from(count).context("too many shards")?,
        (Some(tasks), count) if tasks as usize == count => tasks,
        (Some(tasks), count) => bail!("`tasks = {tasks}` but {count} shards: one task per shard"),
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
                module_hash: if module.is_empty() {
                    vcity_types::Hash::ZERO
                } else {
                    vcity_types::compute::content_address(&module)
                },
                input,
                shards,
                output_dir: match manifest.output.as_deref() {
                    None | Some("stdout") => false,
                    Some("directory") if process && manifest.service.is_none() => true,
                    Some("directory") => {
                        bail!("`output = \"directory\"` is for process and image batch jobs")
                    }
                    Some(other) => bail!("output {other:?} is \"stdout\" or \"directory\""),
                },
                service: match &manifest.service {
                    Some(_) if !process => bail!("a service is a process or image job"),
                    Some(section) => Some(vcity_types::compute::ServiceSpec {
                        port: section.port,
                        health_path: section.health_path.clone().unwrap_or_else(|| "/".into()),
                    }),
                    None => None,
                },
                executor: if let Some(image) = image {
                    ExecutorKind::Oci {
                        image,
                        reference: manifest.reference.clone(),
                        entrypoint: manifest.entrypoint.clone(),
                        cmd: manifest.cmd.clone(),
                        env: manifest.env.clone().into_iter().collect(),
                        workdir: manifest.workdir.clone(),
                    }
                } else if process {
                    ExecutorKind::Process {
                        name: program_name,
                        args: manifest.args.clone(),
                        env: manifest.env.clone().into_iter().collect(),
                    }
                } else {
                    ExecutorKind::Wasm
                },
                confidential: None,
            },
            tasks,
            requirements: Requirements {
                sandbox: process.then(|| SandboxNeeds {
                    memory_mib: requirements.memory_mib.unwrap_or(DEFAULT_TASK_MEMORY_MIB),
                    network: requirements.network,
                }),
                gpu_model: requirements.gpu_model.clone(),
                gpu_count: requirements.gpu_count,
                min_vram_mib: requirements.min_vram_mib,
                region: requirements.region.clone(),
                max_duration_s,
                node_kind: requirements.node_kind,
                gang: requirements.gang,
                high_load: requirements.high_load,
                // A confidential job needs a node whose TEE is attested: at least the CPU's.
                tee: match requirements.tee {
                    TeeTier::None if manifest.confidential => TeeTier::Cpu,
                    tier => tier,
                },
            },
            max_cu_ppm_per_task,
            max_price_per_cu_usd: decimal(
                &manifest.max_price_per_cu,
                Denom::Usd,
                "max_price_per_cu",
            )?,
            billing,
            verification,
            retries: manifest.retries,
        },
        module,
        label,
        shard_files,
        confidential: manifest.confidential,
    })
}

/// The shards a manifest names, and the files among them to upload. A file is read once here
/// for its address; uploaded files are at most the blob store's limit (larger inputs go by URL).
fn resolve_shards(
    section: &ShardsSection,
    base: &Path,
) -> anyhow::Result<(Vec<Shard>, Vec<PathBuf>)> {
    let entries: Vec<ShardEntry> = match section {
        ShardsSection::Directory(directory) => {
            let path = base.join(directory);
            let mut files = Vec::new();
            for item in std::fs::read_dir(&path)
                .with_context(|| format!("reading the shard directory {}", path.display()))?
            {
                let item = item?;
                if item.file_type()?.is_file() {
                    files.push(item.path());
                }
            }
            files.sort();
            if files.is_empty() {
                bail!("the shard directory {} has no files", path.display());
            }
            files.into_iter().map(ShardEntry::File).collect()
        }
        ShardsSection::List(entries) => entries
            .iter()
            .map(|entry| match entry {
                ShardEntry::File(file) => ShardEntry::File(base.join(file)),
                ShardEntry::Remote(remote) => ShardEntry::Remote(remote.clone()),
            })
            .collect(),
    };
    if entries.is_empty() || entries.len() > MAX_TASKS_PER_JOB as usize {
        bail!("a job has 1 to {MAX_TASKS_PER_JOB} shards (one per task)");
    }
    let mut shards = Vec::with_capacity(entries.len());
    let mut files = Vec::new();
    for entry in entries {
        match entry {
            ShardEntry::File(path) => {
                let limit = vcity_sdk::compute::MAX_BLOB_BYTES as u64;
                let size = std::fs::metadata(&path)
                    .with_context(|| format!("reading the shard {}", path.display()))?
                    .len();
                if size > limit {
                    bail!(
                        "the shard {} is {size} bytes; an uploaded shard is at most {limit} \
                         (name larger ones by `url`, `address` and `bytes`)",
                        path.display()
                    );
                }
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("reading the shard {}", path.display()))?;
                shards.push(Shard {
                    address: content_address(&bytes),
                    bytes: bytes.len() as u64,
                    url: None,
                });
                files.push(path);
            }
            ShardEntry::Remote(remote) => {
                if !valid_shard_url(&remote.url) {
                    bail!(
                        "shard URL {:?} is not an http:// or https:// URL",
                        remote.url
                    );
                }
                if remote.bytes > MAX_SHARD_BYTES {
                    bail!("shard {} is over {MAX_SHARD_BYTES} bytes", remote.url);
                }
                shards.push(Shard {
                    address: vcity_types::Hash::from_hex(&remote.address)
                        .with_context(|| format!("the address of shard {}", remote.url))?,
                    bytes: remote.bytes,
                    url: Some(remote.url),
                });
            }
        }
    }
    Ok((shards, files))
}

/// An image job's archive (empty when pulled from a registry) and manifest digest. An archive is
/// read to find its image (and checked against `image` when both are given).
fn resolve_image(manifest: &Manifest, base: &Path) -> anyhow::Result<(Vec<u8>, String)> {
    let named = manifest
        .image
        .as_deref()
        .map(|text| vcity_oci::Digest::parse(text).map_err(anyhow::Error::from))
        .transpose()?;
    match (&manifest.image_file, &manifest.reference, named) {
        (Some(file), None, named) => {
            let path = base.join(file);
            let bytes = std::fs::read(&path)
                .with_context(|| format!("reading the image {}", path.display()))?;
            let bytes = crate::image::as_layout(bytes)
                .with_context(|| format!("reading the image {}", path.display()))?;
            let limit = vcity_sdk::compute::MAX_BLOB_BYTES;
            if bytes.len() > limit {
                bail!(
                    "{} is {} bytes; an uploaded image is at most {limit} (push larger ones to a \
                     registry and name its `reference` and `image` digest)",
                    path.display(),
                    bytes.len()
                );
            }
            let index = vcity_oci::layout::archive_index(bytes.as_slice())
                .with_context(|| format!("reading the image {}", path.display()))?;
            let listed: Vec<vcity_oci::Digest> = index
                .manifests
                .iter()
                .filter_map(|entry| vcity_oci::Digest::parse(&entry.digest).ok())
                .collect();
            let digest = match (named, listed.as_slice()) {
                (Some(digest), _) if listed.contains(&digest) => digest,
                (Some(digest), _) => bail!("{} holds no image {digest}", path.display()),
                (None, [only]) => *only,
                (None, _) => bail!(
                    "{} holds {} images: name the one to run (`image = \"sha256:...\"`)",
                    path.display(),
                    listed.len()
                ),
            };
            Ok((bytes, digest.to_string()))
        }
        (None, Some(reference), Some(digest)) => {
            vcity_oci::registry::Reference::parse(reference)?;
            Ok((Vec::new(), digest.to_string()))
        }
        (None, Some(_), None) => bail!(
            "name the image's manifest digest (`image = \"sha256:...\"`): a job runs exactly \
             the image it names, never whatever a tag points to today"
        ),
        (Some(_), Some(_), _) => bail!("give `image_file` or `reference`, not both"),
        (None, None, _) => bail!("an image job gives `image_file` or `reference` (with `image`)"),
    }
}

/// A WASM job's module: an example's by name, or a file.
fn resolve_module(
    workload: &Option<String>,
    module: &Option<PathBuf>,
    base: &Path,
) -> anyhow::Result<(Vec<u8>, String)> {
    Ok(match (workload, module) {
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
    fn a_confidential_manifest_implies_a_tee_and_buys_no_verification() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/jobs");
        let resolved = load(&examples.join("confidential.toml")).expect("example");
        assert!(resolved.confidential);
        assert_eq!(resolved.message.requirements.tee, TeeTier::Cpu);
        assert_eq!(resolved.message.verification, VerificationLevel::None);
        // Still in the clear: `job::confidential::seal` encrypts with the owner's key.
        assert_eq!(resolved.message.workload.input, b"100000 private");
        assert!(resolved.message.workload.confidential.is_none());

        let dir = tempfile::tempdir().expect("tempdir");
        let resolve_text = |text: &str| resolve(toml::from_str(text)?, dir.path());
        let base =
            "workload = \"hashchain\"\nmax_cu = 1\nmax_price_per_cu = 1\nconfidential = true\n";
        let gpu = resolve_text(&format!(
            "{base}input = \"1 x\"\n[requirements]\ntee = \"cpu+gpu\"\n"
        ))
        .expect("valid");
        assert_eq!(gpu.message.requirements.tee, TeeTier::CpuGpu);
        for (extra, why) in [
            ("input = \"1 x\"\nverification = \"standard\"\n", "buys no verification"),
            (
                "shards = [{ url = \"https://data.example/a\", address = \"0000000000000000000000000000000000000000000000000000000000000000\", bytes = 1 }]\n",
                "`url` shard",
            ),
        ] {
            let error = resolve_text(&format!("{base}{extra}")).expect_err(extra);
            assert!(format!("{error:#}").contains(why), "{error:#}");
        }
    }

    #[test]
    fn a_process_manifest_names_its_program_and_sandbox_needs() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("task"), b"\x7fELF and the rest").expect("program");
        std::fs::write(dir.path().join("script.sh"), b"#!/bin/sh\n").expect("script");
        let resolve_text = |text: &str| resolve(toml::from_str(text)?, dir.path());
        let resolved = resolve_text(
            "executor = \"process\"\nprogram = \"task\"\nargs = [\"-n\", \"3\"]\n\
             env = { MODE = \"fast\" }\nmax_cu = 2\nmax_price_per_cu = 1\n\
             [requirements]\nmemory_mib = 256\nnetwork = true\n",
        )
        .expect("valid");
        let message = resolved.message;
        assert_eq!(resolved.module, b"\x7fELF and the rest");
        assert_eq!(
            message.workload.executor,
            ExecutorKind::Process {
                name: "task".into(),
                args: vec!["-n".into(), "3".into()],
                env: vec![("MODE".into(), "fast".into())],
            }
        );
        assert_eq!(
            message.requirements.sandbox,
            Some(SandboxNeeds {
                memory_mib: 256,
                network: true
            })
        );
        assert_eq!(message.verification, VerificationLevel::None);
        let defaults = resolve_text(
            "executor = \"process\"\nprogram = \"task\"\nmax_cu = 2\nmax_price_per_cu = 1\n",
        )
        .expect("valid");
        assert_eq!(
            defaults.message.requirements.sandbox,
            Some(SandboxNeeds {
                memory_mib: DEFAULT_TASK_MEMORY_MIB,
                network: false
            })
        );
        let error = |text: &str| format!("{:#}", resolve_text(text).expect_err("invalid"));
        let head = "max_cu = 2\nmax_price_per_cu = 1\n";
        assert!(error(&format!(
            "executor = \"process\"\nprogram = \"script.sh\"\n{head}"
        ))
        .contains("not a Linux executable"));
        assert!(error(&format!(
            "executor = \"process\"\nprogram = \"task\"\nverification = \"full\"\n{head}"
        ))
        .contains("buys no verification"));
        assert!(error(&format!(
            "executor = \"process\"\nworkload = \"matmul\"\n{head}"
        ))
        .contains("names its `program`"));
        assert!(
            error(&format!("workload = \"matmul\"\nargs = [\"x\"]\n{head}"))
                .contains("are for executor")
        );
        assert!(error(&format!("executor = \"docker\"\n{head}")).contains("is \"wasm\","));
    }

    #[test]
    fn an_image_manifest_uploads_its_archive_or_pins_a_pull_by_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut image = vcity_oci::builder::ImageBuilder::new();
        image.file("bin/app", 0o755, b"\x7fELF");
        let built = image.build().expect("builds");
        std::fs::write(
            dir.path().join("app.tar"),
            built.archive().expect("archive"),
        )
        .expect("write");
        let resolve_text = |text: &str| resolve(toml::from_str(text)?, dir.path());
        let head = "max_cu = 2\nmax_price_per_cu = 1\n";
        let uploaded = resolve_text(&format!(
            "executor = \"oci\"\nimage_file = \"app.tar\"\ncmd = [\"-n\"]\n\
             env = {{ A = \"b\" }}\nworkdir = \"/data\"\n{head}"
        ))
        .expect("valid");
        assert_eq!(
            uploaded.message.workload.executor,
            ExecutorKind::Oci {
                image: built.digest.to_string(),
                reference: None,
                entrypoint: None,
                cmd: Some(vec!["-n".into()]),
                env: vec![("A".into(), "b".into())],
                workdir: Some("/data".into()),
            }
        );
        assert_eq!(
            uploaded.message.workload.module_hash,
            vcity_types::compute::content_address(&uploaded.module)
        );
        assert_eq!(uploaded.message.verification, VerificationLevel::None);
        assert!(uploaded.message.requirements.sandbox.is_some());
        let pulled = resolve_text(&format!(
            "executor = \"oci\"\nreference = \"127.0.0.1:5000/vcity/app:1\"\n\
             image = \"{}\"\n{head}",
            built.digest
        ))
        .expect("valid");
        assert!(pulled.module.is_empty(), "nothing to upload");
        assert_eq!(pulled.message.workload.module_hash, vcity_types::Hash::ZERO);
        let error = |text: &str| format!("{:#}", resolve_text(text).expect_err("invalid"));
        assert!(error(&format!(
            "executor = \"oci\"\nreference = \"127.0.0.1:5000/vcity/app:1\"\n{head}"
        ))
        .contains("manifest digest"));
        assert!(error(&format!(
            "executor = \"oci\"\nimage_file = \"app.tar\"\nimage = \"sha256:{}\"\n{head}",
            "0".repeat(64)
        ))
        .contains("holds no image"));
        assert!(error(&format!(
            "executor = \"oci\"\nimage_file = \"app.tar\"\nargs = [\"x\"]\n{head}"
        ))
        .contains("not `args`"));
        assert!(
            error(&format!("workload = \"matmul\"\ncmd = [\"x\"]\n{head}"))
                .contains("are for executor = \"oci\"")
        );
    }

    #[test]
    fn the_process_example_loads() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/jobs/process-busybox.toml");
        if !Path::new("/bin/busybox").is_file() {
            assert!(
                std::env::var_os("VCITY_REQUIRE_SANDBOX").is_none(),
                "busybox-static is required"
            );
            eprintln!("SKIPPED: no /bin/busybox");
            return;
        }
        let resolved = load(&path).expect("loads");
        assert!(matches!(
            resolved.message.workload.executor,
            ExecutorKind::Process { ref name, .. } if name == "busybox"
        ));
        assert_eq!(resolved.message.verification, VerificationLevel::None);
        let examples = path.parent().expect("examples");
        let map = load(&examples.join("wordcount-map.toml")).expect("the map");
        assert_eq!(map.message.tasks, 3);
        assert_eq!(map.shard_files.len(), 3);
        let reduce = load(&examples.join("wordcount-reduce.toml")).expect("the reduce");
        assert_eq!(reduce.message.tasks, 1);
        let service = load(&examples.join("service-httpd.toml")).expect("the service");
        assert_eq!(
            service.message.workload.service,
            Some(vcity_types::compute::ServiceSpec {
                port: 8080,
                health_path: "/index.html".into()
            })
        );
    }

    #[test]
    fn shards_come_from_a_directory_or_a_list_one_task_each() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("texts")).expect("dir");
        for (name, text) in [("b.txt", "two"), ("a.txt", "one"), ("c.txt", "three")] {
            std::fs::write(dir.path().join("texts").join(name), text).expect("shard");
        }
        std::fs::create_dir(dir.path().join("texts/skipped")).expect("a subdirectory");
        let at = |text: &str| resolve(toml::from_str(text)?, dir.path());
        let common = "workload = \"hashchain\"\nmax_cu = 1\nmax_price_per_cu = 1\n";
        let from_dir = at(&format!("{common}shards = \"texts\"\n")).expect("a directory");
        assert_eq!(from_dir.message.tasks, 3);
        let addresses: Vec<_> = from_dir
            .message
            .workload
            .shards
            .iter()
            .map(|shard| (shard.address, shard.bytes, shard.url.clone()))
            .collect();
        assert_eq!(
            addresses,
            [
                (content_address(b"one"), 3, None),
                (content_address(b"two"), 3, None),
                (content_address(b"three"), 5, None)
            ],
            "files in name order, subdirectories skipped"
        );
        assert_eq!(from_dir.shard_files.len(), 3);
        let remote = content_address(b"far");
        let listed = at(&format!(
            "{common}tasks = 2\nshards = [\"texts/c.txt\", {{ url = \"https://example.org/far\", address = \"{remote}\", bytes = 3 }}]\n"
        ))
        .expect("a list");
        assert_eq!(listed.message.workload.shards[1].address, remote);
        assert_eq!(listed.shard_files, [dir.path().join("texts/c.txt")]);
        let error = |text: String| format!("{:#}", at(&text).expect_err("invalid"));
        assert!(error(format!("{common}tasks = 2\nshards = \"texts\"\n"))
            .contains("one task per shard"));
        assert!(
            error(format!("{common}input = \"x\"\nshards = \"texts\"\n"))
                .contains("reads its shard")
        );
        assert!(error(format!(
            "{common}shards = [{{ url = \"ftp://x/y\", address = \"{remote}\", bytes = 3 }}]\n"
        ))
        .contains("not an http"));
        assert!(error(format!("{common}shards = \"nowhere\"\n")).contains("nowhere"));
    }

    #[test]
    fn retries_are_the_jobs_own_when_given() {
        let common = "workload = \"hashchain\"\nmax_cu = 1\nmax_price_per_cu = 1\n";
        assert_eq!(parse(common).expect("default").message.retries, None);
        let once = parse(&format!("{common}retries = 1\n")).expect("retries");
        assert_eq!(once.message.retries, Some(1));
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
