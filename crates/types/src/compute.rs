//! The compute layer's wire vocabulary (whitepaper §2.4; rules §4): node roles and kinds, hardware
//! inventories, the messages that register and run nodes. The rules live in the ledger's `nodes`
//! component; the daemons and the SDK build these values.

use crate::{AccountId, Amount};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Most GPU entries in one inventory.
pub const MAX_GPU_ENTRIES: usize = 8;
/// Longest GPU model name, region or other short label.
pub const MAX_LABEL_BYTES: usize = 32;
/// Longest endpoint URL.
pub const MAX_ENDPOINT_BYTES: usize = 256;

/// What a node does for the network.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs workloads (whitepaper §2.4.1).
    Compute,
    /// Places tasks on compute nodes (§2.4.3).
    Scheduler,
    /// Re-executes samples and proves misconduct (§2.4.2).
    Verifier,
}

/// rules §4 node kinds.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// Data-center grade.
    Stable,
    /// Individual or edge.
    Flexible,
}

/// One kind of GPU in a node.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct GpuSpec {
    /// Model name as in the performance-factor table, e.g. `H100`.
    pub model: String,
    /// How many.
    pub count: u32,
    /// Memory per GPU, MiB.
    pub vram_mib: u32,
}

/// A node's hardware inventory.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Hardware {
    /// GPUs (none for a CPU-only node).
    pub gpus: Vec<GpuSpec>,
    /// CPU cores.
    pub cpu_cores: u32,
    /// Memory, MiB.
    pub ram_mib: u64,
    /// The sandbox for native programs, if the node offers one (docs/job-spec.md, "Process
    /// jobs"); `None`: WASM tasks only.
    #[serde(default)]
    pub sandbox: Option<SandboxSupport>,
}

/// How a node confines native programs: bubblewrap namespaces, a seccomp filter, and resource
/// limits through the control groups its host delegates.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct SandboxSupport {
    /// Which control groups enforce memory and process limits; `none` means it cannot, and then
    /// it is offered no native tasks.
    pub limits: CgroupVersion,
    /// Whether its operator lets tasks that ask for it reach the network (otherwise loopback only).
    pub network_egress: bool,
}

/// The control-group interface a node's sandbox enforces limits through.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum CgroupVersion {
    /// None delegated: no memory or process limits.
    None,
    /// cgroup v1 (`memory`, `pids`, `cpuacct` hierarchies).
    V1,
    /// cgroup v2 (the unified hierarchy).
    V2,
}

/// Register the sender as a node of `role`, staking `stake` VCAI.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RegisterNode {
    /// Role.
    pub role: Role,
    /// Kind.
    pub kind: NodeKind,
    /// Inventory (compute nodes; empty for the other roles).
    pub hardware: Hardware,
    /// Region label, e.g. `eu-west`.
    pub region: String,
    /// Where the node's own API listens.
    pub endpoint: String,
    /// Price offer per compute unit, USD base units (compute nodes).
    pub price_per_cu_usd: Amount,
    /// VCAI staked now.
    pub stake: Amount,
}

/// A compute node names the account that brought it to the network (docs/protocol.md,
/// "Long-term incentives"): within one incentive period of registering, once. The referrer earns a
/// share of the node's incentive rewards for a bounded number of periods, paid by the pool, never
/// by the node; a referrer that is the node itself or shares its funding source is refused.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct NameReferrer {
    /// The referrer.
    pub referrer: AccountId,
}

/// A signed status report (rules §4: at least every heartbeat interval).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct NodeHeartbeat {
    /// Load, parts per million of capacity in use.
    pub load_ppm: u32,
    /// Tasks running now.
    pub running_tasks: u32,
    /// What the node measured; the ledger decides from it whether the node is healthy.
    pub health: crate::trust::HealthReport,
}

/// Change a node's offer.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct UpdateNode {
    /// New price per CU, if changing.
    pub price_per_cu_usd: Option<Amount>,
    /// New endpoint, if changing.
    pub endpoint: Option<String>,
    /// New hardware inventory, if changing (capacity and stake requirement follow).
    pub hardware: Option<Hardware>,
}

/// Add VCAI to the node's stake.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AddStake {
    /// VCAI base units.
    pub amount: Amount,
}

/// Start unbonding part of the stake (slashable until released).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Unbond {
    /// VCAI base units.
    pub amount: Amount,
}

/// Take back every unbonding entry whose period has passed.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct WithdrawUnbonded {}

/// A node as the ledger records it (also the API view).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The node's account (its key signs its heartbeats).
    pub id: AccountId,
    /// Role.
    pub role: Role,
    /// Kind.
    pub kind: NodeKind,
    /// Inventory.
    pub hardware: Hardware,
    /// Region.
    pub region: String,
    /// Endpoint.
    pub endpoint: String,
    /// Price per CU, USD base units.
    pub price_per_cu_usd: Amount,
    /// Bonded VCAI (not counting unbonding entries).
    pub stake: Amount,
    /// Capacity in CU per second × 10^6 (Σ performance factors, rules §4).
    pub capacity_cu_ppm: u64,
    /// Registration time, seconds after genesis.
    pub registered_s: u64,
    /// Last heartbeat, seconds after genesis.
    pub last_heartbeat_s: u64,
    /// Load at the last heartbeat, ppm.
    pub load_ppm: u32,
    /// Whether the last heartbeat's measurements passed the ledger's health rules
    /// (docs/verification.md, "Health"); an unhealthy node receives no work.
    pub healthy: bool,
    /// Tasks running at the last heartbeat.
    pub running_tasks: u32,
    /// Seconds online so far, counted from heartbeats (rules §4, for Proof of Capacity).
    pub online_s: u64,
    /// Service record (rules §10: the DID's record): tasks it completed and was paid for.
    pub tasks_completed: u64,
    /// Tasks it lost: missed the start deadline, went offline while running, gave up, or overran.
    pub tasks_lost: u64,
    /// The rest of its service record and where it stands (rules §10, §12).
    #[serde(default)]
    pub trust: crate::trust::TrustRecord,
    /// The measurements of its last heartbeat.
    #[serde(default)]
    pub health: crate::trust::HealthReport,
    /// Its trusted-execution tier, from the last attestation evidence the ledger verified
    /// (docs/attestation.md).
    #[serde(default)]
    pub tee: TeeStatus,
}

/// The trusted execution a node has proven (docs/attestation.md): ordered, so a job that asks
/// for `Cpu` is also served by `CpuGpu`.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub enum TeeTier {
    /// No evidence, or none that stands: no TEE-level trust.
    #[default]
    #[serde(rename = "none")]
    None,
    /// A CPU TEE: Intel TDX or SGX, or AMD SEV-SNP.
    #[serde(rename = "cpu")]
    Cpu,
    /// A CPU TEE and NVIDIA GPUs in confidential-computing mode.
    #[serde(rename = "cpu+gpu")]
    CpuGpu,
}

impl TeeTier {
    /// The name used in manifests, the API and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            TeeTier::None => "none",
            TeeTier::Cpu => "cpu",
            TeeTier::CpuGpu => "cpu+gpu",
        }
    }

    /// Parses [`TeeTier::as_str`]'s names.
    pub fn parse(text: &str) -> Option<TeeTier> {
        match text {
            "none" => Some(TeeTier::None),
            "cpu" => Some(TeeTier::Cpu),
            "cpu+gpu" => Some(TeeTier::CpuGpu),
            _ => None,
        }
    }
}

/// What the ledger recorded of a node's last accepted attestation evidence.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct TeeStatus {
    /// The tier the evidence proved.
    pub tier: TeeTier,
    /// The kind of CPU TEE (`intel_tdx`, `intel_sgx`, `amd_sev_snp`; empty without evidence).
    pub cpu: String,
    /// BLAKE3 of the evidence (its borsh encoding) the ledger verified.
    pub evidence_hash: crate::Hash,
    /// When it was accepted, seconds after genesis.
    pub attested_s: u64,
    /// When it stops counting, seconds after genesis: the earliest expiry of the evidence's
    /// collateral and certificates, or the renewal period, whichever comes first.
    pub expires_s: u64,
    /// Whether the evidence was bound to this node's key and a chain nonce (always, except on
    /// a test network that accepts recorded vendor samples).
    pub bound: bool,
    /// The X25519 public key of the attested workload, bound in the evidence beside the node's
    /// key: owners of confidential jobs seal their input keys to it (docs/attestation.md,
    /// "Confidential jobs").
    pub encryption_key: EncryptionKey,
}

impl TeeStatus {
    /// The tier that counts at `now_s` (seconds after genesis): none once expired.
    pub fn tier_at(&self, now_s: u64) -> TeeTier {
        if now_s < self.expires_s {
            self.tier
        } else {
            TeeTier::None
        }
    }
}

/// Present TEE attestation evidence (docs/attestation.md): the sender, a registered compute
/// node, reaches the tier the ledger finds in it.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AttestNode {
    /// The evidence: the borsh encoding of `vcity_attest::Evidence`.
    pub evidence: Vec<u8>,
    /// The chain's attestation nonce the evidence is bound to (current or previous).
    pub nonce: crate::Hash,
    /// The workload's X25519 public key, bound in the CPU report data: what confidential jobs'
    /// input keys are sealed to.
    pub encryption_key: EncryptionKey,
}

/// An X25519 public key (32 bytes; JSON: hex). A compute node in a TEE makes one inside the
/// attested workload and binds it in its evidence; only that workload holds the secret half.
#[derive(Clone, Copy, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct EncryptionKey(pub [u8; 32]);

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionKey({})", hex::encode(self.0))
    }
}

impl fmt::Display for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl Serialize for EncryptionKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for EncryptionKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        let bytes = hex::decode(&text).map_err(serde::de::Error::custom)?;
        let array = <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| serde::de::Error::custom("an encryption key is 32 bytes"))?;
        Ok(EncryptionKey(array))
    }
}

/// What makes a job confidential (docs/attestation.md, "Confidential jobs"): its inputs are
/// encrypted under a key only its owner can derive (from their account key and this salt), and
/// each task's node receives that key sealed to its attested [`EncryptionKey`] by
/// [`GrantTaskKey`] before it may start.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Confidential {
    /// Random; with the owner's secret key it derives the job's key.
    pub key_salt: crate::Hash,
}

/// Length of a sealed job key: an ephemeral X25519 key (32), the encrypted key (32) and its
/// tag (16).
pub const SEALED_KEY_BYTES: usize = 80;

/// The owner of a confidential job hands the assigned node of one task the job's key, sealed to
/// the node's attested [`EncryptionKey`]: the node may start the task only once this is on the
/// ledger.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct GrantTaskKey {
    /// The job.
    pub job_id: u64,
    /// The task.
    pub task: u32,
    /// The node the key is sealed to: the task's current assignee, or the grant is refused.
    pub node: AccountId,
    /// The sealed key, [`SEALED_KEY_BYTES`] long.
    pub sealed_key: Vec<u8>,
}

/// Most tasks in one job.
pub const MAX_TASKS_PER_JOB: u32 = 64;
/// Largest inline task input.
pub const MAX_INPUT_BYTES: usize = 16 * 1024;

/// Most arguments plus environment entries of a process task.
pub const MAX_PROCESS_ARGS: usize = 64;
/// Most bytes of one argument, variable name or value.
pub const MAX_PROCESS_ARG_BYTES: usize = 1024;
/// Least and most memory a sandboxed task may ask for, MiB.
pub const MIN_TASK_MEMORY_MIB: u32 = 16;
/// See [`MIN_TASK_MEMORY_MIB`].
pub const MAX_TASK_MEMORY_MIB: u32 = 1 << 20;

/// What runs: a program by content hash, with an input.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Workload {
    /// The content address of the program: a WASM module, or for a process task a static Linux
    /// executable (the node fetches it by this hash).
    pub module_hash: crate::Hash,
    /// Input given to every task, at most [`MAX_INPUT_BYTES`] (larger inputs go by hash later).
    pub input: Vec<u8>,
    /// How the program runs.
    #[serde(default)]
    pub executor: ExecutorKind,
    /// Per-task inputs by content address (docs/job-spec.md, "Shards"): empty, or one per task,
    /// task `i` reading `shards[i]` instead of `input` (which is then empty).
    #[serde(default)]
    pub shards: Vec<Shard>,
    /// A long-running service instead of a batch task (docs/job-spec.md, "Services").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceSpec>,
    /// The result is an archive of what the task wrote under `/output` (its standard output
    /// going to its log), not its standard output (docs/job-spec.md, "Output directories").
    /// Process and image batch jobs only.
    #[serde(default)]
    pub output_dir: bool,
    /// Inputs, outputs and program logs are encrypted under the owner's job key; only nodes in
    /// a TEE get it (docs/attestation.md, "Confidential jobs").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidential: Option<Confidential>,
}

/// Longest health-check path.
pub const MAX_HEALTH_PATH_BYTES: usize = 256;

/// What makes a process or image job a service: it runs until its owner cancels it or its term
/// (`requirements.max_duration_s`, or the CU budget at the assigned rate, whichever is shorter)
/// ends, is billed for the time it held its resources, and is reached through its compute node's
/// gateway at `/jobs/{id}/`, which carries requests to `port` inside its sandbox.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// The TCP port the program listens on, on its own loopback (1-65535).
    pub port: u16,
    /// The path the node asks (`GET`) to see that it is up: any answer below 500 is healthy.
    /// Starts with `/`, printable, at most [`MAX_HEALTH_PATH_BYTES`].
    pub health_path: String,
}

/// CU × 10^6 a service has used after holding resources worth `factor_ppm` CU per second for
/// `held_s` seconds, at most `max_cu_ppm`.
pub fn service_cu_ppm(held_s: u64, factor_ppm: u64, max_cu_ppm: u64) -> u64 {
    held_s.saturating_mul(factor_ppm).min(max_cu_ppm)
}

/// How long a service may run from its start: its term, or until its CU budget is used at its
/// rate, whichever comes first (at least a second).
pub fn service_term_s(max_duration_s: u64, factor_ppm: u64, max_cu_ppm: u64) -> u64 {
    (max_cu_ppm / factor_ppm.max(1)).clamp(1, max_duration_s.max(1))
}

/// What a job's owner signs to reach its service through a gateway until `expires_ms` (Unix
/// ms): the owner request digest of `SERVICE /jobs/{job_id}/` at that time.
pub fn service_token_digest(job_id: u64, expires_ms: u64) -> crate::Hash {
    owner_request_digest("SERVICE", &format!("/jobs/{job_id}/"), expires_ms)
}

/// Most bytes of one shard.
pub const MAX_SHARD_BYTES: u64 = 64 * 1024 * 1024;
/// Longest shard URL.
pub const MAX_SHARD_URL_BYTES: usize = 512;

/// One task's input, named by its content address so that any copy of it can be checked: the
/// node takes it from the chain node's blob store, or else downloads it from `url`.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Shard {
    /// `H(0x0d ‖ bytes)` ([`content_address`]).
    pub address: crate::Hash,
    /// Its length, at most [`MAX_SHARD_BYTES`].
    pub bytes: u64,
    /// An `http://` or `https://` URL to download it from when the blob store has no copy, at
    /// most [`MAX_SHARD_URL_BYTES`] printable characters ([`valid_shard_url`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Whether `url` may name where a shard is: `http://` or `https://`, a host, printable ASCII
/// without spaces, at most [`MAX_SHARD_URL_BYTES`].
pub fn valid_shard_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    url.len() <= MAX_SHARD_URL_BYTES
        && url.bytes().all(|b| b.is_ascii_graphic())
        && rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
}

impl Workload {
    /// Task `task`'s input when it is inline: the job's `input` if it has no shards.
    pub fn inline_input(&self) -> Option<&[u8]> {
        self.shards.is_empty().then_some(self.input.as_slice())
    }
}

/// How a task's program runs (docs/job-spec.md).
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ExecutorKind {
    /// In the deterministic WASM executor, billed by instruction count: re-executable, so
    /// verifiers can check it.
    #[default]
    Wasm,
    /// As a native process in the node's sandbox, billed by CPU time: not deterministic, so its
    /// job buys no verification. Needs `requirements.sandbox`.
    Process {
        /// The program's file name in the sandbox (`/task/{name}`, its `argv[0]`; a multi-call
        /// program such as busybox dispatches on it): [`valid_program_name`].
        name: String,
        /// Arguments after the program's name.
        args: Vec<String>,
        /// Environment variables (nothing else is set but `PATH`).
        env: Vec<(String, String)>,
    },
    /// An OCI image's command in the node's sandbox, billed and checked like a process task
    /// (docs/job-spec.md, "Image jobs"). `Workload::module_hash` is the content address of the
    /// image's layout archive in the blob store, or [`crate::Hash::ZERO`] when the node pulls
    /// it from `reference`. Needs `requirements.sandbox`.
    Oci {
        /// The image manifest's digest, `sha256:` and 64 lowercase hex digits
        /// ([`valid_image_digest`]): what runs is exactly this image.
        image: String,
        /// Where to pull it from (`host[:port]/repository[:tag]`), if not uploaded.
        reference: Option<String>,
        /// Replaces the image's entrypoint.
        entrypoint: Option<Vec<String>>,
        /// Replaces the image's command (the arguments after the entrypoint).
        cmd: Option<Vec<String>>,
        /// Added to the image's environment (these win).
        env: Vec<(String, String)>,
        /// Replaces the image's working directory (absolute).
        workdir: Option<String>,
    },
}

/// Longest image reference.
pub const MAX_IMAGE_REFERENCE_BYTES: usize = 256;

/// Whether `digest` is `sha256:` and 64 lowercase hex digits.
pub fn valid_image_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

impl ExecutorKind {
    /// `wasm`, `process` or `oci`.
    pub fn name(&self) -> &'static str {
        match self {
            ExecutorKind::Wasm => "wasm",
            ExecutorKind::Process { .. } => "process",
            ExecutorKind::Oci { .. } => "oci",
        }
    }
}

/// Whether `name` may be a process task's program name: 1 to 32 of `[A-Za-z0-9._-]`, not
/// starting with a dot.
pub fn valid_program_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// What a process task needs of a node's sandbox.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct SandboxNeeds {
    /// Memory for the task's whole process tree (its `/tmp` included), MiB.
    pub memory_mib: u32,
    /// Network egress; otherwise the task sees only its own loopback.
    pub network: bool,
}

/// What a task needs from a node (hard constraints).
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Requirements {
    /// A GPU model, if one is required.
    pub gpu_model: Option<String>,
    /// GPUs needed on one node (0: CPU is enough).
    pub gpu_count: u32,
    /// Memory per GPU, MiB.
    pub min_vram_mib: u32,
    /// Region, if it matters.
    pub region: Option<String>,
    /// Longest a task may run once started, seconds.
    pub max_duration_s: u64,
    /// Only nodes of this kind (rules §4: stable data-center nodes or flexible edge nodes).
    #[serde(default)]
    pub node_kind: Option<NodeKind>,
    /// Place the job's tasks together or not at all (gang placement): the ledger refuses a
    /// transaction that assigns some of its pending tasks and leaves others pending.
    #[serde(default)]
    pub gang: bool,
    /// A high-load training job (whitepaper §2.5.4, rules §6): only nodes with at least 96 GB of
    /// GPU memory in total may take it.
    #[serde(default)]
    pub high_load: bool,
    /// A native (process) task: only nodes whose sandbox enforces limits, with the memory (and
    /// the network egress) it asks for, may take it. Set exactly for process workloads.
    #[serde(default)]
    pub sandbox: Option<SandboxNeeds>,
    /// The trusted execution a node must have proven (docs/attestation.md): `none` (any
    /// node), `cpu` or `cpu+gpu`.
    #[serde(default)]
    pub tee: TeeTier,
}

/// How the job pays (rules §5).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "model")]
pub enum Billing {
    /// Actual CU used × the node's price (at most `max_price_per_cu_usd`).
    PayAsYouGo,
    /// A fixed USD price per completed task.
    FixedPerTask {
        /// USD base units per task.
        price_usd: Amount,
    },
    /// Paid from a prepaid subscription (rules §5): CU × the node's price, at most the
    /// subscription's price per CU, drawn from its escrow instead of the owner's balance.
    Subscription {
        /// The subscription.
        subscription_id: u64,
    },
}

/// Prepay CU over a term (rules §5 subscriptions): `cu_ppm × price_per_cu_usd` goes into escrow
/// now; jobs billed to the subscription draw on it until `term_s` has passed; what is left then
/// comes back.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Subscribe {
    /// CU × 10^6 to prepay.
    pub cu_ppm: u64,
    /// Most the subscription pays per CU, USD base units.
    pub price_per_cu_usd: Amount,
    /// How long it lasts, seconds.
    pub term_s: u64,
}

/// A subscription as the ledger records it (also the API view).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Subscription {
    /// Sequential id.
    pub id: u64,
    /// Who prepaid.
    pub owner: AccountId,
    /// Most it pays per CU.
    pub price_per_cu_usd: Amount,
    /// CU × 10^6 prepaid.
    pub cu_ppm: u64,
    /// CU × 10^6 used by settled tasks.
    pub cu_used_ppm: u64,
    /// Prepaid USD not held by any task.
    pub available_usd: Amount,
    /// Start, seconds after genesis.
    pub starts_s: u64,
    /// End, seconds after genesis: no new jobs after it; the rest is refunded then.
    pub ends_s: u64,
    /// Ended and refunded.
    pub closed: bool,
}

/// Submit a job; its maximum cost goes into escrow.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SubmitJob {
    /// What runs.
    pub workload: Workload,
    /// Number of tasks (non-splittable units), 1 to [`MAX_TASKS_PER_JOB`].
    pub tasks: u32,
    /// Hard constraints.
    pub requirements: Requirements,
    /// Most CU one task may use, × 10^6 (the executor stops it there).
    pub max_cu_ppm_per_task: u64,
    /// Most the job pays per CU, USD base units.
    pub max_price_per_cu_usd: Amount,
    /// Billing model.
    pub billing: Billing,
    /// How much checking the job buys (rules §10), paid as `cost × sampling rate` per task.
    #[serde(default)]
    pub verification: crate::trust::VerificationLevel,
    /// How many times a task lost by its node (a missed start, a node gone offline, a task
    /// given back) is placed again before it fails: 0 to [`MAX_RETRIES`]; `None` takes the
    /// network's `max_attempts − 1`.
    #[serde(default)]
    pub retries: Option<u32>,
}

/// Most retries a job may ask for.
pub const MAX_RETRIES: u32 = 10;

/// A scheduler places a pending task on a compute node.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AssignTask {
    /// The job.
    pub job_id: u64,
    /// The task.
    pub task: u32,
    /// The compute node.
    pub node: AccountId,
}

/// The assigned node starts the task (before the start deadline).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct StartTask {
    /// The job.
    pub job_id: u64,
    /// The task.
    pub task: u32,
}

/// The node's result: its commitment (how the program ended, the output's content address and
/// size, the CU it used) and its signed statement of the commitment's hash for this attempt
/// ([`crate::trust::ResultStatement`]), which makes equivocation provable.
///
/// The message names the attempt it answers, so the statement can be rebuilt from the message
/// alone: its signature is checked with the transaction's, statelessly and in batches
/// (docs/protocol.md, "Signatures"), and block execution only compares the attempt with the
/// task's.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SubmitResult {
    /// The job.
    pub job_id: u64,
    /// The task.
    pub task: u32,
    /// The assignment it answers: the task's `attempts` when it was assigned to this node.
    pub attempt: u32,
    /// The commitment; its CU (at most the job's per-task maximum) is what the buyer pays for.
    pub commitment: ResultCommitment,
    /// The sender's signature over [`SubmitResult::statement`].
    pub signature: crate::trust::Signature,
}

impl SubmitResult {
    /// The result a node sends for `attempt`, its statement signed with the node's `key` for
    /// chain `chain_id`.
    pub fn signed(
        chain_id: &str,
        key: &ed25519_dalek::SigningKey,
        job_id: u64,
        task: u32,
        attempt: u32,
        commitment: ResultCommitment,
    ) -> SubmitResult {
        let mut result = SubmitResult {
            job_id,
            task,
            attempt,
            commitment,
            signature: crate::trust::Signature([0; 64]),
        };
        result.signature = result.statement(chain_id).sign(key).signature;
        result
    }

    /// The statement `signature` covers, on chain `chain_id`: "my result for this attempt is
    /// `commitment.hash()`".
    pub fn statement(&self, chain_id: &str) -> crate::trust::ResultStatement {
        crate::trust::ResultStatement {
            chain_id: chain_id.to_string(),
            job_id: self.job_id,
            task: self.task,
            attempt: self.attempt,
            result_hash: self.commitment.hash(),
        }
    }
}

/// The node gives up a task it could not run; it goes back to pending.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct FailTask {
    /// The job.
    pub job_id: u64,
    /// The task.
    pub task: u32,
    /// Why, for the owner.
    pub reason: String,
}

/// Longest placement explanation.
pub const MAX_EXPLANATION_BYTES: usize = 512;

/// A scheduler records why it cannot place a pending task (which constraint excluded how many
/// nodes), so the owner sees it in the job's status.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ReportUnplaceable {
    /// The job.
    pub job_id: u64,
    /// The task.
    pub task: u32,
    /// Why, at most [`MAX_EXPLANATION_BYTES`].
    pub explanation: String,
}

/// The owner cancels every task not yet started; their escrow comes back.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CancelJob {
    /// The job.
    pub job_id: u64,
}

/// Where a task is.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum TaskState {
    /// Waiting for a scheduler.
    Pending,
    /// Placed; the node must start it by `deadline_s`.
    Assigned {
        /// The node.
        node: AccountId,
        /// Start deadline, seconds after genesis.
        deadline_s: u64,
        /// The node's price per CU when assigned: the agreed price.
        price_per_cu_usd: Amount,
    },
    /// Running on `node` since `started_s`.
    Running {
        /// The node.
        node: AccountId,
        /// Start, seconds after genesis.
        started_s: u64,
        /// The agreed price per CU.
        price_per_cu_usd: Amount,
    },
    /// Result committed; paid when the verification window closes (or when a dispute about it
    /// ends).
    Completed {
        /// The node.
        node: AccountId,
        /// The commitment's hash ([`ResultCommitment::hash`]).
        output_hash: crate::Hash,
        /// CU used × 10^6.
        cu_used_ppm: u64,
        /// What the user pays for it, USD base units.
        cost_usd: Amount,
        /// The verification fee on top (`cost × sampling rate`), USD base units.
        verification_fee_usd: Amount,
        /// When the window closes, seconds after genesis.
        settle_at_s: u64,
        /// The node's commitment.
        commitment: ResultCommitment,
        /// The node's signature over its result statement (equivocation evidence).
        signature: crate::trust::Signature,
    },
    /// Paid out.
    Settled {
        /// The node.
        node: AccountId,
        /// Output hash.
        output_hash: crate::Hash,
        /// Paid by the user.
        cost_usd: Amount,
    },
    /// Given up after too many attempts or overran its duration; refunded.
    Failed {
        /// Why.
        reason: String,
    },
    /// Cancelled by the owner before it started; refunded.
    Cancelled,
}

impl TaskState {
    /// The state in a few words, for people (CLI output, node logs).
    pub fn describe(&self) -> String {
        match self {
            TaskState::Pending => "pending".into(),
            TaskState::Assigned {
                node, deadline_s, ..
            } => format!("assigned to {node}, start by {deadline_s} s"),
            TaskState::Running {
                node, started_s, ..
            } => format!("running on {node} since {started_s} s"),
            TaskState::Completed {
                node,
                cu_used_ppm,
                cost_usd,
                settle_at_s,
                ..
            } => format!(
                "completed on {node}: {} CU, {} USD, paid at {settle_at_s} s",
                *cu_used_ppm as f64 / 1e6,
                cost_usd.to_decimal(crate::Denom::Usd)
            ),
            TaskState::Settled {
                node,
                cost_usd,
                output_hash,
            } => {
                format!(
                    "settled: {} USD to {node}, output {output_hash}",
                    cost_usd.to_decimal(crate::Denom::Usd)
                )
            }
            TaskState::Failed { reason } => format!("failed: {reason}"),
            TaskState::Cancelled => "cancelled".into(),
        }
    }
}

/// One task of a job.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Task {
    /// Its state.
    pub state: TaskState,
    /// Assignments so far.
    pub attempts: u32,
    /// Escrow still held for it, USD base units.
    pub escrow_usd: Amount,
    /// When it last became pending, seconds after genesis (the placement timeout counts from
    /// here).
    pub pending_since_s: u64,
    /// The last scheduler's explanation of why it could not be placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unplaceable: Option<String>,
    /// CU per second of the resources the current assignment holds, ppm: the GPUs' performance
    /// factors for a GPU task, one CPU core's factor otherwise. A deterministic task's CU is its
    /// fuel-time × this (docs/job-spec.md, "Compute units").
    #[serde(default)]
    pub factor_ppm: u64,
    /// The sampling rate fixed at assignment, ppm (the job's level, raised for nodes on
    /// probation or of low reputation).
    #[serde(default)]
    pub sampling_ppm: u32,
    /// When the current assignment was made, seconds after genesis.
    #[serde(default)]
    pub assigned_s: u64,
    /// The check of the current result, if the beacon sampled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<crate::trust::Check>,
    /// The dispute about the current result, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute: Option<u64>,
    /// The node of the latest assignment, kept after the task leaves it (so that the owner can
    /// read the log of a task that failed there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_node: Option<AccountId>,
    /// A confidential job's key sealed to the current assignee ([`GrantTaskKey`]); cleared by
    /// every new assignment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_key: Option<Vec<u8>>,
}

impl Task {
    /// A task just submitted (or made pending at `since_s`), holding `escrow_usd`.
    pub fn pending(escrow_usd: Amount, since_s: u64) -> Task {
        Task {
            state: TaskState::Pending,
            attempts: 0,
            escrow_usd,
            pending_since_s: since_s,
            unplaceable: None,
            factor_ppm: 0,
            sampling_ppm: 0,
            assigned_s: 0,
            check: None,
            dispute: None,
            last_node: None,
            sealed_key: None,
        }
    }
}

/// A job as the ledger records it (also the API view).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Job {
    /// Sequential id.
    pub id: u64,
    /// Who submitted and pays.
    pub owner: AccountId,
    /// What runs.
    pub workload: Workload,
    /// Hard constraints.
    pub requirements: Requirements,
    /// Most CU per task × 10^6.
    pub max_cu_ppm_per_task: u64,
    /// Most per CU.
    pub max_price_per_cu_usd: Amount,
    /// Billing.
    pub billing: Billing,
    /// How much checking it buys.
    #[serde(default)]
    pub verification: crate::trust::VerificationLevel,
    /// Its own retry count, if it set one.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Submission time, seconds after genesis.
    pub submitted_s: u64,
    /// Its tasks.
    pub tasks: Vec<Task>,
}

/// How a task's program ended. Every variant is deterministic: the same module, input and limits
/// end the same way on every node (a wall-clock timeout is not a result; the node gives the task
/// up with `FailTask` instead).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "exit")]
pub enum TaskExit {
    /// Returned from `_start` or called `proc_exit(0)`.
    Success,
    /// Called `proc_exit` with a non-zero code.
    ExitCode {
        /// The code.
        code: i32,
    },
    /// A WebAssembly trap (unreachable, out-of-bounds access, stack overflow, ...).
    Trap {
        /// The trap's name.
        trap: String,
    },
    /// Used its whole CU budget (fuel).
    OutOfFuel,
    /// Asked for more memory than the executor allows.
    MemoryLimit,
    /// Wrote more output than the executor allows.
    OutputLimit,
    /// The module is not valid WebAssembly, imports something the executor does not provide, or
    /// calls an unsupported WASI function.
    Invalid {
        /// Why.
        reason: String,
    },
}

/// What a compute node commits to for one task (the one result format, used by the node, the
/// SDK and verifiers): its hash `H(0x0e ‖ borsh(this))` is what the node's result statement
/// covers ([`SubmitResult::statement`]).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ResultCommitment {
    /// How the program ended.
    pub exit: TaskExit,
    /// Content address of its standard output (`H(0x0d ‖ output)`).
    pub output: crate::Hash,
    /// Output length in bytes.
    pub output_bytes: u64,
    /// CU used × 10^6, from fuel at the documented rate.
    pub cu_used_ppm: u64,
}

impl ResultCommitment {
    /// The commitment's hash, the `result_hash` of the node's result statement.
    pub fn hash(&self) -> crate::Hash {
        crate::Hash::of(
            crate::hash::Domain::TaskResult,
            &[&crate::codec::encode(self)],
        )
    }
}

/// The content address of a blob (a WASM module, a task's output): `H(0x0d ‖ bytes)`.
pub fn content_address(bytes: &[u8]) -> crate::Hash {
    crate::Hash::of(crate::hash::Domain::Content, &[bytes])
}

/// A task's deterministic random seed (what the executor's `random_get` streams from).
pub fn task_seed(job_id: u64, task: u32) -> crate::Hash {
    crate::Hash::of(
        crate::hash::Domain::TaskSeed,
        &[&job_id.to_le_bytes(), &task.to_le_bytes()],
    )
}

/// What the owner signs to fetch a task's output or logs from a compute node:
/// `H(0x0f ‖ method ‖ 0 ‖ path ‖ 0 ‖ time_ms LE)`.
pub fn owner_request_digest(method: &str, path: &str, time_ms: u64) -> crate::Hash {
    crate::Hash::of(
        crate::hash::Domain::OwnerRequest,
        &[
            method.as_bytes(),
            &[0],
            path.as_bytes(),
            &[0],
            &time_ms.to_le_bytes(),
        ],
    )
}
