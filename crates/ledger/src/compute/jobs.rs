//! Jobs with escrow (whitepaper §2.2.1, §2.5.2; rules §5).
//!
//! A job is a workload (a program by content hash, plus an input) split into tasks, the
//! non-splittable units a node runs. The program is a WASM module for the deterministic executor
//! or, for a process job, a static Linux executable that runs in the node's sandbox: such a job
//! names the memory (and network) it needs, only a node whose sandbox enforces limits can take
//! it, and, not being re-executable, it buys no verification (docs/job-spec.md). Submitting it moves its maximum cost into the `job_escrow`
//! module account: per task, `max CU × max price per CU` (pay-as-you-go) or the fixed price.
//! A registered scheduler assigns each pending task to a compute node that [`fits`] it, at the
//! node's current price (the agreed price); the node must start it before the start deadline or
//! the task goes back to pending, and after `max_attempts` assignments it fails. The node commits
//! its result (its commitment: exit, output address and size, CU used) in a transaction signed
//! by its key, with its signed statement of the commitment's hash for the attempt. When the
//! verification window closes the task settles: the user pays `CU used × agreed price` (or the
//! fixed price) plus the verification fee (`cost × sampling rate`, to the `verification_fees`
//! account that pays checks); the network fee (10%, gov) goes to the treasury, the rest to the
//! node, and the unused escrow back to the owner. A disputed result waits for its dispute: if the
//! node was wrong the buyer gets the whole escrow back (`disprove`). A task running past its
//! maximum duration fails and is refunded. The owner can cancel every task not yet started.
//!
//! **Confidential jobs** (docs/attestation.md) carry only ciphertext. Each assigned task waits
//! for its owner's `GrantTaskKey`, the job key sealed to the encryption key the node's evidence
//! bound; the node may start only after it, within the start deadline counted from it. A task
//! whose key never comes fails, refunded, and its node is not blamed.
//!
//! **Compute units.** The assignment fixes the CU rate of the resources the task holds
//! (`Task::factor_ppm`): the performance factors of the GPUs a GPU task takes (the model asked
//! for, or the node's least factor among the models that fit), one CPU core's factor otherwise.
//! A deterministic task's CU is its fuel-time (fuel over the executor's rate of 10^9 per
//! second) × that rate, so a node whose capacity is busy shows consumed CU close to its
//! available CU, and re-execution reproduces the billed CU exactly.
//!
//! Deadlines are kept in time buckets (`jobs/due/{bucket}`) that `begin_block` walks from a
//! cursor, a bounded number per block, so no block ever scans the jobs. A bucket entry is only a
//! reminder: the task's own state decides what, if anything, happens. A bucket is a chunked list
//! (`crate::timers::push`), so a reminder costs one chunk, however many share its bucket.
//!
//! Keys (owned here): `jobs/params`, `jobs/count`, `jobs/job/{id, 12 digits}`,
//! `jobs/due/{bucket, 12 digits}` (its length) and `.../{chunk, 6 digits}` (its items),
//! `jobs/cursor`.

use crate::bank;
use crate::error::TxError;
use crate::nodes;
use crate::state::{Overlay, StateRead};
use crate::trust::{self, reputation, verification};
use crate::vesting::elapsed_s;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::fmt;
use vcity_types::compute::{
    valid_image_digest, valid_program_name, AssignTask, Billing, CancelJob, CgroupVersion,
    ExecutorKind, FailTask, GpuSpec, Job, NodeRecord, ReportUnplaceable, Requirements, Role,
    StartTask, SubmitJob, SubmitResult, Subscribe, Subscription, Task, TaskExit, TaskState,
    MAX_EXPLANATION_BYTES, MAX_IMAGE_REFERENCE_BYTES, MAX_INPUT_BYTES, MAX_LABEL_BYTES,
    MAX_PROCESS_ARGS, MAX_PROCESS_ARG_BYTES, MAX_TASKS_PER_JOB, MAX_TASK_MEMORY_MIB,
    MIN_TASK_MEMORY_MIB,
};
use vcity_types::event::Event;
use vcity_types::incentives::{FeeTier, MAX_TIERS};
use vcity_types::trust::{CheckState, DisputeOutcome, Duty, VerificationLevel};
use vcity_types::tx::Message;
use vcity_types::{AccountId, Amount, Denom, Rounding};

/// Holds every job's escrow.
pub fn escrow_account() -> AccountId {
    AccountId::module("job_escrow")
}

/// Governance parameters (rules §5 defaults).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default)]
pub struct JobParams {
    /// How long an assigned node has to start a task.
    pub start_deadline_s: u64,
    /// Between a result and its payment.
    pub verification_window_s: u64,
    /// Network fee, ppm of each payment (rules §5: 10%), for nodes in no fee tier.
    pub network_fee_ppm: u32,
    /// Lower fees for nodes of proven quality (rules §5: tiered); see [`fee_ppm`].
    pub fee_tiers: Vec<FeeTier>,
    /// Assignments before a task fails.
    pub max_attempts: u32,
    /// Width of a deadline bucket.
    pub bucket_s: u64,
    /// Most buckets `begin_block` walks in one block.
    pub max_buckets_per_block: u64,
    /// How long a task may stay pending before it fails and is refunded (with the last
    /// scheduler's explanation).
    pub placement_timeout_s: u64,
    /// How long a compute node keeps a task's output and log after the task ends (rules §5,
    /// docs/job-spec.md "Outputs"): the owner fetches them within it.
    pub output_retention_s: u64,
}

impl Default for JobParams {
    fn default() -> Self {
        JobParams {
            start_deadline_s: 120,
            verification_window_s: 600,
            network_fee_ppm: 100_000,
            // 8% at 95% reputation over 100 tasks, 6% at 99% over 1,000.
            fee_tiers: vec![
                FeeTier {
                    min_reputation_ppm: 950_000,
                    min_completed: 100,
                    fee_ppm: 80_000,
                },
                FeeTier {
                    min_reputation_ppm: 990_000,
                    min_completed: 1_000,
                    fee_ppm: 60_000,
                },
            ],
            max_attempts: 3,
            bucket_s: 10,
            max_buckets_per_block: 1_000,
            placement_timeout_s: 3_600,
            output_retention_s: 7 * 24 * 3_600,
        }
    }
}

/// The network fee on a payment to `node`, ppm: the lowest fee of the tiers whose reputation and
/// completed-task minimums it meets (reputation by [`reputation::score_ppm`]), else the base fee.
pub fn fee_ppm(params: &JobParams, node: &NodeRecord) -> u32 {
    let reputation = reputation::score_ppm(node, params.start_deadline_s);
    params
        .fee_tiers
        .iter()
        .filter(|tier| {
            reputation >= tier.min_reputation_ppm && node.tasks_completed >= tier.min_completed
        })
        .map(|tier| tier.fee_ppm)
        .fold(params.network_fee_ppm, u32::min)
}

/// `SetParam` for the network fee (the caller checked the authority).
pub(crate) fn set_fee(
    state: &mut Overlay<'_>,
    fee_ppm: u32,
    tiers: &[FeeTier],
) -> Result<(), TxError> {
    if fee_ppm > 1_000_000 || tiers.len() > MAX_TIERS || tiers.iter().any(|t| t.fee_ppm > fee_ppm) {
        return Err(TxError::InvalidParam(format!(
            "the fee is at most 1,000,000 ppm, with at most {MAX_TIERS} tiers each at most the base fee"
        )));
    }
    let mut settings = params(state);
    settings.network_fee_ppm = fee_ppm;
    settings.fee_tiers = tiers.to_vec();
    state.put(KEY_PARAMS.to_vec(), &settings);
    Ok(())
}

/// A proposal's verification window: 60 s to 30 days; results submitted after it apply.
pub(crate) fn set_verification_window(
    state: &mut Overlay<'_>,
    window_s: u64,
) -> Result<(), TxError> {
    if !(60..=30 * 86_400).contains(&window_s) {
        return Err(TxError::InvalidParam(
            "the verification window is 60 s to 30 days".into(),
        ));
    }
    let mut settings = params(state);
    settings.verification_window_s = window_s;
    state.put(KEY_PARAMS.to_vec(), &settings);
    Ok(())
}

/// Why a node cannot take a task: the scheduler reports these, counted per reason. The order of
/// the variants is the order [`fits`] checks them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Misfit {
    /// Not a compute node.
    NotCompute,
    /// Deregistered or banned.
    Inactive,
    /// No recent heartbeat.
    Offline,
    /// Reported itself unhealthy.
    Unhealthy,
    /// Bond below its requirement.
    Understaked,
    /// Asks more per CU than the job pays.
    TooExpensive,
    /// Not in the required region.
    WrongRegion,
    /// Not of the required node kind.
    WrongKind,
    /// Lacks the GPU model.
    NoSuchGpu,
    /// GPUs with too little memory.
    TooLittleVram,
    /// Too few GPUs of the model on one node.
    TooFewGpus,
    /// A high-load job on a node with less than 96 GB of GPU memory in total.
    NotHighLoad,
    /// A process task on a node with no sandbox, or one that cannot enforce limits.
    NoSandbox,
    /// A process task asking for more memory than the node has.
    TooLittleMemory,
    /// A process task asking for network egress from a node that does not allow it.
    NoNetworkEgress,
    /// A job that requires a TEE tier the node has not proven, or whose proof expired
    /// (docs/attestation.md).
    NoTee,
}

impl Misfit {
    /// Every rule, in the order [`fits`] checks them.
    pub const ALL: [Misfit; 16] = [
        Misfit::NotCompute,
        Misfit::Inactive,
        Misfit::Offline,
        Misfit::Unhealthy,
        Misfit::Understaked,
        Misfit::TooExpensive,
        Misfit::WrongRegion,
        Misfit::WrongKind,
        Misfit::NoSuchGpu,
        Misfit::TooLittleVram,
        Misfit::TooFewGpus,
        Misfit::NotHighLoad,
        Misfit::NoSandbox,
        Misfit::TooLittleMemory,
        Misfit::NoNetworkEgress,
        Misfit::NoTee,
    ];
}

impl fmt::Display for Misfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Misfit::NotCompute => "not a compute node",
            Misfit::Inactive => "deregistered or banned",
            Misfit::Offline => "offline",
            Misfit::Unhealthy => "unhealthy",
            Misfit::Understaked => "stake below requirement",
            Misfit::TooExpensive => "price above the job's maximum",
            Misfit::WrongRegion => "wrong region",
            Misfit::WrongKind => "wrong node kind",
            Misfit::NoSuchGpu => "lacks the GPU model",
            Misfit::TooFewGpus => "too few GPUs",
            Misfit::TooLittleVram => "too little GPU memory",
            Misfit::NotHighLoad => "under 96 GB of GPU memory for a high-load job",
            Misfit::NoSandbox => "no sandbox that enforces limits",
            Misfit::TooLittleMemory => "too little memory",
            Misfit::NoNetworkEgress => "no network egress",
            Misfit::NoTee => "no attested TEE of the required tier",
        })
    }
}

/// Whether `gpu` is of the model the job asks for (any model when it names none).
fn of_the_model(requirements: &Requirements, gpu: &GpuSpec) -> bool {
    requirements
        .gpu_model
        .as_ref()
        .is_none_or(|model| model == &gpu.model)
}

/// How many of `node`'s GPUs are of the model with enough memory, if any such GPU exists.
fn usable_gpus(node: &NodeRecord, requirements: &Requirements) -> Option<u32> {
    let mut usable = node
        .hardware
        .gpus
        .iter()
        .filter(|gpu| of_the_model(requirements, gpu) && gpu.vram_mib >= requirements.min_vram_mib)
        .peekable();
    usable.peek()?;
    Some(usable.map(|gpu| gpu.count).sum())
}

/// Whether `node` passes one rule of [`fits`].
fn passes(
    rule: Misfit,
    params: &nodes::NodeParams,
    node: &NodeRecord,
    requirements: &Requirements,
    max_price: Amount,
    now_s: u64,
) -> bool {
    let wants_gpu = requirements.gpu_count > 0 || requirements.gpu_model.is_some();
    let of_model = |gpu: &&GpuSpec| of_the_model(requirements, gpu);
    match rule {
        Misfit::NotCompute => node.role == Role::Compute,
        Misfit::Inactive => !node.trust.deregistered && !node.trust.banned,
        Misfit::Offline => nodes::is_online(params, node, now_s),
        Misfit::Unhealthy => node.healthy,
        Misfit::Understaked => nodes::standing(params, node, now_s) != nodes::Standing::Paused,
        Misfit::TooExpensive => node.price_per_cu_usd <= max_price,
        Misfit::WrongRegion => requirements
            .region
            .as_ref()
            .is_none_or(|region| region == &node.region),
        Misfit::WrongKind => requirements.node_kind.is_none_or(|kind| kind == node.kind),
        Misfit::NoSuchGpu => !wants_gpu || node.hardware.gpus.iter().any(|gpu| of_model(&gpu)),
        // Each GPU rule fails only where the one before it passed, so a node's list of failed
        // rules says how far it is from fitting (a node without the model is not also short
        // of memory and of GPUs).
        Misfit::TooLittleVram => {
            let mut of_the_model = node.hardware.gpus.iter().filter(of_model).peekable();
            !wants_gpu
                || of_the_model.peek().is_none()
                || of_the_model.any(|gpu| gpu.vram_mib >= requirements.min_vram_mib)
        }
        Misfit::TooFewGpus => {
            !wants_gpu
                || usable_gpus(node, requirements)
                    .is_none_or(|count| count >= requirements.gpu_count.max(1))
        }
        Misfit::NotHighLoad => {
            !requirements.high_load
                || nodes::total_vram_mib(&node.hardware) >= params.high_load_min_vram_mib
        }
        Misfit::NoSandbox => {
            requirements.sandbox.is_none()
                || node
                    .hardware
                    .sandbox
                    .is_some_and(|sandbox| sandbox.limits != CgroupVersion::None)
        }
        Misfit::TooLittleMemory => requirements
            .sandbox
            .is_none_or(|needs| u64::from(needs.memory_mib) <= node.hardware.ram_mib),
        Misfit::NoTee => node.tee.tier_at(now_s) >= requirements.tee,
        Misfit::NoNetworkEgress => requirements.sandbox.is_none_or(|needs| {
            !needs.network
                || node
                    .hardware
                    .sandbox
                    .is_some_and(|sandbox| sandbox.network_egress)
        }),
    }
}

/// The one matching rule (DEVELOPERS.md principle 8): whether `node` may run a task of a job
/// with `requirements` paying at most `max_price` per CU, at time `now_s`; if not, the first
/// rule (in [`Misfit::ALL`] order) it fails. A GPU task needs `gpu_count` GPUs of the model (any
/// model when none is named), each with at least `min_vram_mib`, on this one node. The ledger
/// checks it on every assignment; the scheduler and the SDK call the same function.
pub fn fits(
    params: &nodes::NodeParams,
    node: &NodeRecord,
    requirements: &Requirements,
    max_price: Amount,
    now_s: u64,
) -> Result<(), Misfit> {
    match failed_rules(params, node, requirements, max_price, now_s).next() {
        None => Ok(()),
        Some(misfit) => Err(misfit),
    }
}

/// The rules of [`fits`] that `node` fails, in order, evaluated lazily.
fn failed_rules<'a>(
    params: &'a nodes::NodeParams,
    node: &'a NodeRecord,
    requirements: &'a Requirements,
    max_price: Amount,
    now_s: u64,
) -> impl Iterator<Item = Misfit> + 'a {
    Misfit::ALL
        .into_iter()
        .filter(move |rule| !passes(*rule, params, node, requirements, max_price, now_s))
}

/// Every rule of [`fits`] that `node` fails, in order (empty when it fits).
pub fn misfits(
    params: &nodes::NodeParams,
    node: &NodeRecord,
    requirements: &Requirements,
    max_price: Amount,
    now_s: u64,
) -> Vec<Misfit> {
    failed_rules(params, node, requirements, max_price, now_s).collect()
}

/// How close a node that does not fit came: it fails only `misfits`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NearMiss {
    /// The node.
    pub node: AccountId,
    /// The rules it fails (the fewest of any node considered).
    pub misfits: Vec<Misfit>,
    /// What it has instead, e.g. `40960 MiB` or `asks 0.300000 USD`.
    pub detail: String,
}

/// Why no compute node can take a task: how many nodes each rule excluded (a node counts once,
/// under the first rule of [`fits`] it fails, so the counts add up to `considered`), and the
/// closest near-misses (the nodes failing the fewest rules, at most [`NEAR_MISSES`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// Compute nodes looked at.
    pub considered: u32,
    /// Nodes excluded, by the first rule they fail.
    pub excluded: std::collections::BTreeMap<Misfit, u32>,
    /// The closest nodes, fewest failed rules first, then by id.
    pub near_misses: Vec<NearMiss>,
}

/// Near-misses an [`Explanation`] keeps.
pub const NEAR_MISSES: usize = 3;

fn miss_detail(misfit: Misfit, node: &NodeRecord, requirements: &Requirements) -> String {
    let of_model = |gpu: &&GpuSpec| of_the_model(requirements, gpu);
    match misfit {
        Misfit::TooExpensive => format!("asks {} per CU", node.price_per_cu_usd),
        Misfit::WrongRegion => format!("in {}", node.region),
        Misfit::WrongKind => format!("{:?}", node.kind).to_lowercase(),
        Misfit::NoSuchGpu => {
            let models: Vec<_> = node
                .hardware
                .gpus
                .iter()
                .map(|gpu| gpu.model.as_str())
                .collect();
            if models.is_empty() {
                "no GPU".into()
            } else {
                format!("has {}", models.join("+"))
            }
        }
        Misfit::TooLittleVram => {
            let most = node
                .hardware
                .gpus
                .iter()
                .filter(of_model)
                .map(|gpu| gpu.vram_mib)
                .max()
                .unwrap_or(0);
            format!("{most} MiB")
        }
        Misfit::TooFewGpus => {
            format!("{} GPU(s)", usable_gpus(node, requirements).unwrap_or(0))
        }
        Misfit::Offline => format!("last heartbeat at {} s", node.last_heartbeat_s),
        Misfit::Understaked => format!("stake {}", node.stake),
        Misfit::NotHighLoad => format!("{} MiB in all", nodes::total_vram_mib(&node.hardware)),
        Misfit::NoSandbox => match node.hardware.sandbox {
            Some(sandbox) => format!("limits {:?}", sandbox.limits).to_lowercase(),
            None => "no sandbox".into(),
        },
        Misfit::TooLittleMemory => format!("{} MiB", node.hardware.ram_mib),
        Misfit::NoTee if node.tee.tier == vcity_types::compute::TeeTier::None => "no TEE".into(),
        Misfit::NoTee => format!(
            "tee {} until {} s",
            node.tee.tier.as_str(),
            node.tee.expires_s
        ),
        Misfit::NotCompute | Misfit::Inactive | Misfit::Unhealthy | Misfit::NoNetworkEgress => {
            String::new()
        }
    }
}

impl Explanation {
    /// One line for people, e.g. `no compute node fits (3 considered): 2 lacks the GPU model
    /// (needs 1× B200), 1 offline; closest: 1a2b3c4d… (too little GPU memory: 40960 MiB)`.
    /// At most `max_bytes` long: near-misses are dropped first, then the line is cut.
    pub fn render(
        &self,
        requirements: &Requirements,
        max_price: Amount,
        max_bytes: usize,
    ) -> String {
        if self.considered == 0 {
            return "no compute node is registered".into();
        }
        let reasons: Vec<String> = self
            .excluded
            .iter()
            .map(|(misfit, count)| {
                let detail = match misfit {
                    Misfit::NoSuchGpu | Misfit::TooFewGpus => Some(format!(
                        " (needs {}× {})",
                        requirements.gpu_count.max(1),
                        requirements.gpu_model.as_deref().unwrap_or("GPU")
                    )),
                    Misfit::TooLittleVram => {
                        Some(format!(" (needs {} MiB)", requirements.min_vram_mib))
                    }
                    Misfit::WrongRegion => requirements
                        .region
                        .as_ref()
                        .map(|region| format!(" (needs {region})")),
                    Misfit::WrongKind => requirements
                        .node_kind
                        .map(|kind| format!(" (needs {})", format!("{kind:?}").to_lowercase())),
                    Misfit::TooExpensive => Some(format!(" (pays at most {max_price} per CU)")),
                    Misfit::TooLittleMemory => requirements
                        .sandbox
                        .map(|needs| format!(" (needs {} MiB)", needs.memory_mib)),
                    _ => None,
                };
                format!("{count} {misfit}{}", detail.unwrap_or_default())
            })
            .collect();
        let head = format!(
            "no compute node fits ({} considered): {}",
            self.considered,
            reasons.join(", ")
        );
        let misses: Vec<String> = self
            .near_misses
            .iter()
            .map(|miss| {
                let id = miss.node.to_string();
                let rules: Vec<String> = miss.misfits.iter().map(Misfit::to_string).collect();
                format!(
                    "{}… ({}: {})",
                    &id[..id.len().min(8)],
                    rules.join(", "),
                    miss.detail
                )
            })
            .collect();
        for keep in (0..=misses.len()).rev() {
            let line = if keep == 0 {
                head.clone()
            } else {
                format!("{head}; closest: {}", misses[..keep].join(", "))
            };
            if line.len() <= max_bytes {
                return line;
            }
        }
        let mut end = head.len().min(max_bytes);
        while !head.is_char_boundary(end) {
            end -= 1;
        }
        head[..end].to_string()
    }
}

/// Why no node in `nodes` can take a task (see [`Explanation`]); `None` when some node fits.
/// The scheduler records its rendering on the ledger (`ReportUnplaceable`). One pass, and no
/// allocation per node: a registry of any size can be explained.
pub fn explanation<'a>(
    params: &nodes::NodeParams,
    nodes: impl IntoIterator<Item = &'a NodeRecord>,
    requirements: &Requirements,
    max_price: Amount,
    now_s: u64,
) -> Option<Explanation> {
    let mut explanation = Explanation::default();
    // (rules failed, id, node): the closest few so far.
    let mut closest: Vec<(usize, AccountId, &NodeRecord)> = Vec::new();
    for node in nodes.into_iter().filter(|node| node.role == Role::Compute) {
        explanation.considered += 1;
        let mut rules = failed_rules(params, node, requirements, max_price, now_s);
        let first = rules.next()?;
        *explanation.excluded.entry(first).or_default() += 1;
        let failed = 1 + rules.count();
        if closest.len() < NEAR_MISSES
            || closest
                .last()
                .is_some_and(|worst| (failed, node.id) < (worst.0, worst.1))
        {
            closest.push((failed, node.id, node));
            closest.sort_by_key(|entry| (entry.0, entry.1));
            closest.truncate(NEAR_MISSES);
        }
    }
    let fewest = closest.first().map_or(0, |entry| entry.0);
    explanation.near_misses = closest
        .into_iter()
        .filter(|entry| entry.0 == fewest)
        .map(|(_, id, node)| {
            let failed = misfits(params, node, requirements, max_price, now_s);
            NearMiss {
                node: id,
                detail: failed
                    .iter()
                    .map(|misfit| miss_detail(*misfit, node, requirements))
                    .filter(|detail| !detail.is_empty())
                    .collect::<Vec<_>>()
                    .join(", "),
                misfits: failed,
            }
        })
        .collect();
    Some(explanation)
}

/// [`explanation`] as one line of at most [`MAX_EXPLANATION_BYTES`].
pub fn explain(
    params: &nodes::NodeParams,
    nodes: &[NodeRecord],
    requirements: &Requirements,
    max_price: Amount,
    now_s: u64,
) -> Option<String> {
    // With no compute node at all, the explanation considered none and says so.
    explanation(params, nodes, requirements, max_price, now_s)
        .map(|found| found.render(requirements, max_price, MAX_EXPLANATION_BYTES))
}

const KEY_PARAMS: &[u8] = b"jobs/params";
const KEY_SUBSCRIPTIONS: &[u8] = b"jobs/sub_count";
/// Longest subscription term: ten years.
pub const MAX_TERM_S: u64 = 10 * 365 * 86_400;

fn subscription_key(id: u64) -> Vec<u8> {
    format!("jobs/sub/{id:012}").into_bytes()
}

fn subscription_due_key(bucket: u64) -> Vec<u8> {
    format!("jobs/sub_due/{bucket:012}").into_bytes()
}

/// A subscription.
pub fn subscription(state: &impl StateRead, id: u64) -> Option<Subscription> {
    state.get(&subscription_key(id))
}

/// `Subscribe`: prepay CU over a term.
pub(crate) fn execute_subscribe(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &Subscribe,
) -> Result<(), TxError> {
    if message.term_s == 0 || message.term_s > MAX_TERM_S {
        return Err(TxError::InvalidJob(format!(
            "a term is 1 s to {MAX_TERM_S} s"
        )));
    }
    let escrow_usd =
        message
            .price_per_cu_usd
            .mul_div(u128::from(message.cu_ppm), 1_000_000, Rounding::Up)?;
    if escrow_usd.is_zero() {
        return Err(TxError::InvalidJob(
            "a subscription must prepay something".into(),
        ));
    }
    bank::transfer(state, sender, &escrow_account(), Denom::Usd, escrow_usd)?;
    let id = state.get::<u64>(KEY_SUBSCRIPTIONS).unwrap_or(0) + 1;
    state.put(KEY_SUBSCRIPTIONS.to_vec(), &id);
    let now = elapsed_s(state);
    let ends_s = now.saturating_add(message.term_s);
    state.put(
        subscription_key(id),
        &Subscription {
            id,
            owner: *sender,
            price_per_cu_usd: message.price_per_cu_usd,
            cu_ppm: message.cu_ppm,
            cu_used_ppm: 0,
            available_usd: escrow_usd,
            starts_s: now,
            ends_s,
            closed: false,
        },
    );
    let bucket = ends_s.div_ceil(params(state).bucket_s.max(1));
    crate::timers::push(state, subscription_due_key(bucket), id);
    state.emit(Event::Subscribed {
        subscription_id: id,
        owner: *sender,
        escrow_usd,
        ends_s,
    });
    Ok(())
}

/// Moves a job's escrow out of the subscription's available balance (the USD is already in the
/// escrow account).
fn draw_on_subscription(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    id: u64,
    message: &SubmitJob,
    total: Amount,
) -> Result<(), TxError> {
    let mut found = subscription(state, id)
        .ok_or_else(|| TxError::NotFound(format!("no subscription {id}")))?;
    if found.owner != *sender {
        return Err(TxError::Unauthorized(
            "only the subscription's owner bills jobs to it".into(),
        ));
    }
    if found.closed || elapsed_s(state) >= found.ends_s {
        return Err(TxError::InvalidJob(format!("subscription {id} has ended")));
    }
    if message.max_price_per_cu_usd > found.price_per_cu_usd {
        return Err(TxError::InvalidJob(format!(
            "the job pays up to {} per CU; the subscription covers {}",
            message.max_price_per_cu_usd, found.price_per_cu_usd
        )));
    }
    found.available_usd = found.available_usd.checked_sub(total).map_err(|_| {
        TxError::InvalidJob(format!(
            "the job needs {total} USD base units; subscription {id} has {} left",
            found.available_usd
        ))
    })?;
    state.put(subscription_key(id), &found);
    Ok(())
}

/// Returns unused escrow: to the job's open subscription, or to the owner.
fn give_back(state: &mut Overlay<'_>, record: &Job, amount: Amount) -> Result<(), TxError> {
    if amount.is_zero() {
        return Ok(());
    }
    if let Billing::Subscription { subscription_id } = record.billing {
        if let Some(mut found) = subscription(state, subscription_id).filter(|found| !found.closed)
        {
            found.available_usd = found.available_usd.checked_add(amount)?;
            state.put(subscription_key(subscription_id), &found);
            return Ok(());
        }
    }
    bank::transfer(state, &escrow_account(), &record.owner, Denom::Usd, amount)
}

/// A subscription's term is over: refund what no task holds.
fn close_subscription(state: &mut Overlay<'_>, id: u64) -> Result<(), TxError> {
    let Some(mut found) = subscription(state, id) else {
        return Ok(());
    };
    if found.closed {
        return Ok(());
    }
    let refund_usd = found.available_usd;
    found.available_usd = Amount::ZERO;
    found.closed = true;
    state.put(subscription_key(id), &found);
    if !refund_usd.is_zero() {
        bank::transfer(
            state,
            &escrow_account(),
            &found.owner,
            Denom::Usd,
            refund_usd,
        )?;
    }
    state.emit(Event::SubscriptionClosed {
        subscription_id: id,
        refund_usd,
    });
    Ok(())
}
const KEY_COUNT: &[u8] = b"jobs/count";
const KEY_CURSOR: &[u8] = b"jobs/cursor";

fn job_key(id: u64) -> Vec<u8> {
    crate::keys::Key::new("jobs/job/").decimal(id, 12).finish()
}

fn due_key(bucket: u64) -> Vec<u8> {
    crate::keys::Key::new("jobs/due/")
        .decimal(bucket, 12)
        .finish()
}

/// The parameters.
pub fn params(state: &impl StateRead) -> JobParams {
    state.get(KEY_PARAMS).unwrap_or_default()
}

/// Sets the parameters (genesis).
pub(crate) fn init(state: &mut Overlay<'_>, params: &JobParams) {
    state.put(KEY_PARAMS.to_vec(), params);
}

/// Jobs submitted so far (ids run from 1).
pub fn count(state: &impl StateRead) -> u64 {
    state.get(KEY_COUNT).unwrap_or(0)
}

/// A job.
pub fn job(state: &impl StateRead, id: u64) -> Option<Job> {
    state.get(&job_key(id))
}

/// Writes a job (the trust layer's changes to its tasks).
pub(crate) fn put(state: &mut Overlay<'_>, record: &Job) {
    state.put(job_key(record.id), record);
}

/// The most one task can cost before verification: its CU budget at the job's maximum price,
/// or the fixed price.
pub fn task_max_cost(message: &SubmitJob) -> Result<Amount, TxError> {
    match &message.billing {
        Billing::PayAsYouGo | Billing::Subscription { .. } => {
            Ok(message.max_price_per_cu_usd.mul_div(
                u128::from(message.max_cu_ppm_per_task),
                1_000_000,
                Rounding::Up,
            )?)
        }
        Billing::FixedPerTask { price_usd } => Ok(*price_usd),
    }
}

/// The escrow one task needs: its maximum cost plus the verification fee at the highest rate
/// its level can reach.
pub fn task_escrow(message: &SubmitJob, trust: &trust::TrustParams) -> Result<Amount, TxError> {
    let cost = task_max_cost(message)?;
    let rate = verification::max_sampling_rate_ppm(trust, message.verification);
    Ok(cost.checked_add(verification::fee(cost, rate)?)?)
}

/// CU per second of what a task of `requirements` holds on `node`, ppm (see the module
/// documentation): the GPUs' factors for a GPU task, one CPU core's otherwise.
pub fn task_factor_ppm(
    params: &nodes::NodeParams,
    node: &NodeRecord,
    requirements: &Requirements,
) -> u64 {
    let wants_gpu = requirements.gpu_count > 0 || requirements.gpu_model.is_some();
    if !wants_gpu {
        return params.cpu_core_factor_ppm.max(1);
    }
    let factor_of = |model: &str| {
        params
            .gpu_factors_ppm
            .iter()
            .find(|(name, _)| name == model)
            .map_or(0, |(_, factor)| *factor)
    };
    let per_gpu = node
        .hardware
        .gpus
        .iter()
        .filter(|gpu| of_the_model(requirements, gpu) && gpu.vram_mib >= requirements.min_vram_mib)
        .map(|gpu| factor_of(&gpu.model))
        .min()
        .unwrap_or(0);
    per_gpu
        .saturating_mul(u64::from(requirements.gpu_count.max(1)))
        .max(1)
}

/// How long after its last heartbeat a node counts as offline (rules §4: 3 intervals).
fn offline_after_s(state: &impl StateRead) -> u64 {
    let params = nodes::params(state);
    params
        .heartbeat_interval_s
        .saturating_mul(params.offline_after_intervals)
        .max(1)
}

fn remind(state: &mut Overlay<'_>, at_s: u64, job_id: u64, task: u32) {
    let bucket = at_s.div_ceil(params(state).bucket_s.max(1));
    crate::timers::push(state, due_key(bucket), (job_id, task));
}

fn load(state: &Overlay<'_>, job_id: u64, task: u32) -> Result<Job, TxError> {
    let found = job(state, job_id).ok_or_else(|| TxError::NotFound(format!("no job {job_id}")))?;
    if task as usize >= found.tasks.len() {
        return Err(TxError::NotFound(format!(
            "job {job_id} has no task {task}"
        )));
    }
    Ok(found)
}

/// `SubmitJob`.
pub(crate) fn execute_submit(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &SubmitJob,
) -> Result<(), TxError> {
    if message.tasks == 0 || message.tasks > MAX_TASKS_PER_JOB {
        return Err(TxError::InvalidJob(format!(
            "a job has 1 to {MAX_TASKS_PER_JOB} tasks"
        )));
    }
    if message.workload.input.len() > MAX_INPUT_BYTES {
        return Err(TxError::InvalidJob(format!(
            "input is over {MAX_INPUT_BYTES} bytes"
        )));
    }
    if message
        .retries
        .is_some_and(|retries| retries > vcity_types::compute::MAX_RETRIES)
    {
        return Err(TxError::InvalidJob(format!(
            "a job retries a task at most {} times",
            vcity_types::compute::MAX_RETRIES
        )));
    }
    check_shards(&message.workload, message.tasks)?;
    check_executor(message)?;
    check_service(message)?;
    check_confidential(message)?;
    if message.workload.output_dir
        && (matches!(message.workload.executor, ExecutorKind::Wasm)
            || message.workload.service.is_some())
    {
        return Err(TxError::InvalidJob(
            "an output directory is for process and image batch jobs".into(),
        ));
    }
    let requirements = &message.requirements;
    for label in [&requirements.gpu_model, &requirements.region]
        .into_iter()
        .flatten()
    {
        if label.len() > MAX_LABEL_BYTES {
            return Err(TxError::InvalidJob("labels are at most 32 bytes".into()));
        }
    }
    if message.max_cu_ppm_per_task == 0 || requirements.max_duration_s == 0 {
        return Err(TxError::InvalidJob(
            "a task needs a CU budget and a maximum duration".into(),
        ));
    }
    let per_task = task_escrow(message, &trust::params(state))?;
    if task_max_cost(message)?.is_zero() {
        return Err(TxError::InvalidJob("a job must pay something".into()));
    }
    let total = per_task.mul_div(u128::from(message.tasks), 1, Rounding::Down)?;
    match &message.billing {
        Billing::Subscription { subscription_id } => {
            draw_on_subscription(state, sender, *subscription_id, message, total)?;
        }
        Billing::PayAsYouGo | Billing::FixedPerTask { .. } => {
            bank::transfer(state, sender, &escrow_account(), Denom::Usd, total)?;
        }
    }
    let id = count(state) + 1;
    state.put(KEY_COUNT.to_vec(), &id);
    let now = elapsed_s(state);
    let placement_timeout_s = params(state).placement_timeout_s;
    let record = Job {
        id,
        owner: *sender,
        workload: message.workload.clone(),
        requirements: message.requirements.clone(),
        max_cu_ppm_per_task: message.max_cu_ppm_per_task,
        max_price_per_cu_usd: message.max_price_per_cu_usd,
        billing: message.billing.clone(),
        verification: message.verification,
        retries: message.retries,
        submitted_s: now,
        tasks: (0..message.tasks)
            .map(|_| Task::pending(per_task, now))
            .collect(),
    };
    state.put(job_key(id), &record);
    for task in 0..message.tasks {
        remind(state, now.saturating_add(placement_timeout_s), id, task);
    }
    state.emit(Event::JobSubmitted {
        job_id: id,
        owner: *sender,
        tasks: message.tasks,
        escrow_usd: total,
    });
    Ok(())
}

/// A confidential job runs only where its key can be sealed to an attested workload: it requires
/// a TEE tier, and it buys no verification (a verifier outside the node's TEE could not read its
/// input, and the job's key is granted to the task's node alone). It is a batch job: a
/// service's requests would cross the node's gateway in the clear.
fn check_confidential(message: &SubmitJob) -> Result<(), TxError> {
    if message.workload.confidential.is_none() {
        return Ok(());
    }
    if message.requirements.tee == vcity_types::compute::TeeTier::None {
        return Err(TxError::InvalidJob(
            "a confidential job requires a TEE tier (requirements.tee = \"cpu\" or \"cpu+gpu\")"
                .into(),
        ));
    }
    if message.verification != VerificationLevel::None {
        return Err(TxError::InvalidJob(
            "a confidential job buys no verification (verification = \"none\"): only its \
             attested node may read its input"
                .into(),
        ));
    }
    if message.workload.service.is_some() {
        return Err(TxError::InvalidJob(
            "a service cannot be confidential: its requests cross the node's gateway".into(),
        ));
    }
    Ok(())
}

/// A service is one task of a process or image job, billed per CU (it has no fixed price: it
/// runs as long as its owner wants), listening on a real port, with a plain health path.
fn check_service(message: &SubmitJob) -> Result<(), TxError> {
    use vcity_types::compute::MAX_HEALTH_PATH_BYTES;
    let Some(service) = &message.workload.service else {
        return Ok(());
    };
    if matches!(message.workload.executor, ExecutorKind::Wasm) {
        return Err(TxError::InvalidJob(
            "a service runs as a process or image job".into(),
        ));
    }
    if message.tasks != 1 {
        return Err(TxError::InvalidJob("a service job has one task".into()));
    }
    if matches!(message.billing, Billing::FixedPerTask { .. }) {
        return Err(TxError::InvalidJob(
            "a service is billed for the time it runs, not a fixed price".into(),
        ));
    }
    if service.port == 0 {
        return Err(TxError::InvalidJob("a service's port is 1 to 65535".into()));
    }
    let path = &service.health_path;
    if !path.starts_with('/')
        || path.len() > MAX_HEALTH_PATH_BYTES
        || !path.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(TxError::InvalidJob(format!(
            "a health path starts with / and is at most {MAX_HEALTH_PATH_BYTES} printable characters"
        )));
    }
    Ok(())
}

/// Ends a running service at `now` (its owner cancelled it, or its term is over): it is billed
/// for the time it held its resources, up to its term, at the agreed price, and settles at once
/// (a service buys no verification). Its commitment names no output and carries no statement
/// of the node's (an all-zero signature): the ledger, not the node, fixed the CU.
fn end_service(
    state: &mut Overlay<'_>,
    record: &mut Job,
    index: u32,
    now: u64,
) -> Result<(), TxError> {
    use vcity_types::compute::{content_address, service_cu_ppm, service_term_s, ResultCommitment};
    let max_cu_ppm = record.max_cu_ppm_per_task;
    let max_duration_s = record.requirements.max_duration_s;
    let task = &mut record.tasks[index as usize];
    let TaskState::Running {
        node,
        started_s,
        price_per_cu_usd,
    } = task.state.clone()
    else {
        return Ok(());
    };
    let term_s = service_term_s(max_duration_s, task.factor_ppm, max_cu_ppm);
    let held_s = now.saturating_sub(started_s).min(term_s);
    let cu_used_ppm = service_cu_ppm(held_s, task.factor_ppm, max_cu_ppm);
    let cost_usd = price_per_cu_usd
        .mul_div(u128::from(cu_used_ppm), 1_000_000, Rounding::Up)?
        .min(task.escrow_usd);
    let commitment = ResultCommitment {
        exit: TaskExit::Success,
        output: content_address(&[]),
        output_bytes: 0,
        cu_used_ppm,
    };
    let output_hash = commitment.hash();
    task.state = TaskState::Completed {
        node,
        output_hash,
        cu_used_ppm,
        cost_usd,
        verification_fee_usd: Amount::ZERO,
        settle_at_s: now,
        commitment,
        signature: vcity_types::trust::Signature([0; 64]),
    };
    state.emit(Event::TaskCompleted {
        job_id: record.id,
        task: index,
        node,
        output_hash,
        cu_used_ppm,
        cost_usd,
    });
    settle(state, record, index)
}

/// Shards are one per task, replace the inline input, and each is bounded with a plain URL.
fn check_shards(workload: &vcity_types::compute::Workload, tasks: u32) -> Result<(), TxError> {
    use vcity_types::compute::{valid_shard_url, MAX_SHARD_BYTES, MAX_SHARD_URL_BYTES};
    if workload.shards.is_empty() {
        return Ok(());
    }
    if workload.shards.len() != tasks as usize {
        return Err(TxError::InvalidJob(format!(
            "{} shards for {tasks} tasks: a sharded job has one shard per task",
            workload.shards.len()
        )));
    }
    if !workload.input.is_empty() {
        return Err(TxError::InvalidJob(
            "a sharded job's tasks read their shards: its inline input is empty".into(),
        ));
    }
    for shard in &workload.shards {
        if shard.bytes > MAX_SHARD_BYTES {
            return Err(TxError::InvalidJob(format!(
                "a shard is at most {MAX_SHARD_BYTES} bytes"
            )));
        }
        if shard
            .url
            .as_deref()
            .is_some_and(|url| !valid_shard_url(url))
        {
            return Err(TxError::InvalidJob(format!(
                "a shard's URL is http:// or https://, a host, and at most {MAX_SHARD_URL_BYTES} printable characters"
            )));
        }
    }
    Ok(())
}

/// A process job names its sandbox needs (and a WASM job none), stays within the argument
/// bounds, and buys no verification: a native run is not reproducible, so a re-execution could
/// not tell a wrong result from a different one.
fn check_executor(message: &SubmitJob) -> Result<(), TxError> {
    let needs = message.requirements.sandbox;
    match &message.workload.executor {
        ExecutorKind::Wasm => {
            if needs.is_some() {
                return Err(TxError::InvalidJob(
                    "sandbox requirements are for process jobs".into(),
                ));
            }
        }
        ExecutorKind::Process { name, args, env } => {
            if !valid_program_name(name) {
                return Err(TxError::InvalidJob(
                    "a program's name is 1 to 32 of A-Z a-z 0-9 . _ - (not starting with a dot)"
                        .into(),
                ));
            }
            check_native(message, args.iter(), env)?;
        }
        ExecutorKind::Oci {
            image,
            reference,
            entrypoint,
            cmd,
            env,
            workdir,
        } => {
            if workdir.as_ref().is_some_and(|dir| {
                !dir.starts_with('/') || dir.len() > MAX_PROCESS_ARG_BYTES || dir.contains('\0')
            }) {
                return Err(TxError::InvalidJob(format!(
                    "a working directory is an absolute path of at most {MAX_PROCESS_ARG_BYTES} bytes"
                )));
            }
            if !valid_image_digest(image) {
                return Err(TxError::InvalidJob(
                    "an image is named by its manifest digest: sha256: and 64 lowercase hex digits"
                        .into(),
                ));
            }
            match reference {
                Some(reference)
                    if reference.is_empty()
                        || reference.len() > MAX_IMAGE_REFERENCE_BYTES
                        || !reference.bytes().all(|b| b.is_ascii_graphic()) =>
                {
                    return Err(TxError::InvalidJob(format!(
                        "an image reference is 1 to {MAX_IMAGE_REFERENCE_BYTES} printable characters"
                    )));
                }
                None if message.workload.module_hash == vcity_types::Hash::ZERO => {
                    return Err(TxError::InvalidJob(
                        "an image job uploads the image or names a reference to pull it from"
                            .into(),
                    ));
                }
                _ => {}
            }
            let words = entrypoint.iter().flatten().chain(cmd.iter().flatten());
            check_native(message, words, env)?;
        }
    }
    Ok(())
}

/// The rules process and image jobs share: sandbox needs with a bounded memory, no
/// verification, bounded arguments and variables.
fn check_native<'a>(
    message: &SubmitJob,
    args: impl Iterator<Item = &'a String> + Clone,
    env: &'a [(String, String)],
) -> Result<(), TxError> {
    let Some(needs) = message.requirements.sandbox else {
        return Err(TxError::InvalidJob(
            "a process job needs sandbox requirements (its memory)".into(),
        ));
    };
    if !(MIN_TASK_MEMORY_MIB..=MAX_TASK_MEMORY_MIB).contains(&needs.memory_mib) {
        return Err(TxError::InvalidJob(format!(
            "a process task's memory is {MIN_TASK_MEMORY_MIB} to {MAX_TASK_MEMORY_MIB} MiB"
        )));
    }
    if message.verification != VerificationLevel::None {
        return Err(TxError::InvalidJob(
            "a process job is not re-executable: its verification level is none".into(),
        ));
    }
    let strings = args
        .clone()
        .chain(env.iter().flat_map(|(name, value)| [name, value]));
    if args.count().saturating_add(env.len()) > MAX_PROCESS_ARGS
        || strings
            .clone()
            .any(|text| text.len() > MAX_PROCESS_ARG_BYTES)
    {
        return Err(TxError::InvalidJob(format!(
            "at most {MAX_PROCESS_ARGS} arguments and variables of {MAX_PROCESS_ARG_BYTES} bytes each"
        )));
    }
    if strings.clone().any(|text| text.contains('\0'))
        || env
            .iter()
            .any(|(name, _)| name.is_empty() || name.contains('=') || name == "PATH")
    {
        return Err(TxError::InvalidJob(
            "arguments hold no NUL; variable names are non-empty, without `=`, and not PATH".into(),
        ));
    }
    Ok(())
}

/// A gang job is placed whole: after a transaction that assigns any of its tasks, none of its
/// tasks may still be pending. A scheduler therefore assigns a gang's pending tasks in one
/// transaction, which the ledger applies all or nothing (a task that comes back to pending later,
/// its node having missed the start deadline, is placed again the same way: it is then the only
/// pending one).
pub(crate) fn check_gangs(state: &Overlay<'_>, messages: &[Message]) -> Result<(), TxError> {
    let mut checked = std::collections::BTreeSet::new();
    for message in messages {
        let Message::AssignTask(assign) = message else {
            continue;
        };
        if !checked.insert(assign.job_id) {
            continue;
        }
        let Some(record) = job(state, assign.job_id) else {
            continue;
        };
        if !record.requirements.gang {
            continue;
        }
        if let Some(pending) = record
            .tasks
            .iter()
            .position(|task| task.state == TaskState::Pending)
        {
            return Err(TxError::InvalidJob(format!(
                "job {} is a gang: assign all its pending tasks in one transaction \
                 (task {pending} is still pending)",
                assign.job_id
            )));
        }
    }
    Ok(())
}

/// `AssignTask`: by a registered scheduler, to a node that fits.
pub(crate) fn execute_assign(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &AssignTask,
) -> Result<(), TxError> {
    let scheduler = nodes::node(state, sender)
        .filter(|node| node.role == Role::Scheduler)
        .ok_or_else(|| TxError::Unauthorized("only a registered scheduler assigns tasks".into()))?;
    let node_params = nodes::params(state);
    if scheduler.stake < nodes::required_stake(&node_params, Role::Scheduler, 0) {
        return Err(TxError::Unauthorized(
            "the scheduler's stake is below its requirement".into(),
        ));
    }
    let mut record = load(state, message.job_id, message.task)?;
    let task = &mut record.tasks[message.task as usize];
    if task.state != TaskState::Pending {
        return Err(TxError::InvalidJob(format!(
            "task {} of job {} is not pending",
            message.task, message.job_id
        )));
    }
    let node = nodes::node(state, &message.node)
        .ok_or_else(|| TxError::NotFound(format!("{} is not a registered node", message.node)))?;
    let now = elapsed_s(state);
    fits(
        &node_params,
        &node,
        &record.requirements,
        record.max_price_per_cu_usd,
        now,
    )
    .map_err(|misfit| TxError::InvalidJob(format!("node {} cannot take it: {misfit}", node.id)))?;
    let settings = params(state);
    let deadline_s = now.saturating_add(settings.start_deadline_s);
    task.state = TaskState::Assigned {
        node: node.id,
        deadline_s,
        price_per_cu_usd: node.price_per_cu_usd,
    };
    task.attempts = task.attempts.saturating_add(1);
    task.factor_ppm = task_factor_ppm(&node_params, &node, &record.requirements);
    let trust_params = trust::params(state);
    let value_usd = match &record.billing {
        Billing::FixedPerTask { price_usd } => *price_usd,
        Billing::PayAsYouGo | Billing::Subscription { .. } => node.price_per_cu_usd.mul_div(
            u128::from(record.max_cu_ppm_per_task),
            1_000_000,
            Rounding::Up,
        )?,
    };
    let staked = node
        .stake
        .checked_add(nodes::unbonding_total(state, &node.id))?;
    let slash_usd = verification::slash_at_stake_usd(&trust_params, &node_params, staked);
    // A native run is never sampled: re-executing it proves nothing (`check_executor`).
    task.sampling_ppm = match record.workload.executor {
        ExecutorKind::Process { .. } | ExecutorKind::Oci { .. } => 0,
        ExecutorKind::Wasm => verification::sampling_rate_ppm(
            &trust_params,
            record.verification,
            &node,
            settings.start_deadline_s,
            value_usd,
            slash_usd,
            verification::tee_factor_ppm(
                &crate::attestation::params(state).rules,
                &node,
                deadline_s,
            ),
        ),
    };
    task.assigned_s = now;
    task.check = None;
    task.dispute = None;
    task.last_node = Some(node.id);
    // A key sealed to an earlier assignee opens nothing here.
    task.sealed_key = None;
    state.put(job_key(message.job_id), &record);
    nodes::task_opened(state, &node.id, true);
    // Starting at the deadline itself is still allowed; the reminder fires just after it.
    remind(state, deadline_s + 1, message.job_id, message.task);
    state.emit(Event::TaskAssigned {
        job_id: message.job_id,
        task: message.task,
        node: node.id,
        price_per_cu_usd: node.price_per_cu_usd,
    });
    Ok(())
}

/// `StartTask`: the assigned node, before the deadline.
pub(crate) fn execute_start(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &StartTask,
) -> Result<(), TxError> {
    let mut record = load(state, message.job_id, message.task)?;
    let now = elapsed_s(state);
    let task = &mut record.tasks[message.task as usize];
    let TaskState::Assigned {
        node,
        deadline_s,
        price_per_cu_usd,
    } = task.state.clone()
    else {
        return Err(TxError::InvalidJob("the task is not assigned".into()));
    };
    if node != *sender {
        return Err(TxError::Unauthorized(
            "the task is assigned to another node".into(),
        ));
    }
    if now > deadline_s {
        return Err(TxError::InvalidJob("the start deadline has passed".into()));
    }
    if record.workload.confidential.is_some() && task.sealed_key.is_none() {
        return Err(TxError::InvalidJob(
            "the job is confidential and its owner has not granted this task's key yet".into(),
        ));
    }
    let latency_s = now.saturating_sub(task.assigned_s);
    let task_factor = task.factor_ppm;
    task.state = TaskState::Running {
        node,
        started_s: now,
        price_per_cu_usd,
    };
    // A service runs to the end of its term (or its budget at its rate), a batch task to its
    // maximum duration.
    let overrun_at = match record.workload.service {
        Some(_) => now.saturating_add(vcity_types::compute::service_term_s(
            record.requirements.max_duration_s,
            task_factor,
            record.max_cu_ppm_per_task,
        )),
        None => now.saturating_add(record.requirements.max_duration_s),
    };
    state.put(job_key(message.job_id), &record);
    nodes::record_start(state, &node, latency_s);
    remind(state, overrun_at, message.job_id, message.task);
    // Also check on the node while it runs: a node that goes offline loses the task.
    remind(
        state,
        now.saturating_add(offline_after_s(state)),
        message.job_id,
        message.task,
    );
    state.emit(Event::TaskStarted {
        job_id: message.job_id,
        task: message.task,
        node,
    });
    Ok(())
}

/// `GrantTaskKey`: the owner of a confidential job hands the task's assignee the job's key,
/// sealed to the node's attested encryption key. The node's start deadline then counts from the
/// grant, so an owner who answers late does not cost the node its start. One grant per
/// assignment.
pub(crate) fn execute_grant(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &vcity_types::compute::GrantTaskKey,
) -> Result<(), TxError> {
    let mut record = load(state, message.job_id, message.task)?;
    if record.owner != *sender {
        return Err(TxError::Unauthorized(
            "only the job's owner grants its key".into(),
        ));
    }
    if record.workload.confidential.is_none() {
        return Err(TxError::InvalidJob("the job is not confidential".into()));
    }
    if message.sealed_key.len() != vcity_types::compute::SEALED_KEY_BYTES {
        return Err(TxError::InvalidJob(format!(
            "a sealed key is {} bytes",
            vcity_types::compute::SEALED_KEY_BYTES
        )));
    }
    let now = elapsed_s(state);
    let start_deadline_s = params(state).start_deadline_s;
    let task = &mut record.tasks[message.task as usize];
    let TaskState::Assigned {
        node, deadline_s, ..
    } = &mut task.state
    else {
        return Err(TxError::InvalidJob(format!(
            "task {} of job {} is not waiting to start on a node",
            message.task, message.job_id
        )));
    };
    if *node != message.node {
        return Err(TxError::InvalidJob(format!(
            "task {} of job {} is assigned to {}, not {}",
            message.task, message.job_id, node, message.node
        )));
    }
    if now > *deadline_s {
        // Its reminder may not have run yet; a late grant does not revive the assignment.
        return Err(TxError::InvalidJob("the start deadline has passed".into()));
    }
    if task.sealed_key.is_some() {
        return Err(TxError::InvalidJob(
            "this assignment already has its key".into(),
        ));
    }
    *deadline_s = now.saturating_add(start_deadline_s);
    let deadline = *deadline_s;
    task.sealed_key = Some(message.sealed_key.clone());
    state.put(job_key(message.job_id), &record);
    remind(state, deadline + 1, message.job_id, message.task);
    state.emit(Event::TaskKeyGranted {
        job_id: message.job_id,
        task: message.task,
        node: message.node,
    });
    Ok(())
}

/// `SubmitResult`: the running node commits its output hash and CU used.
pub(crate) fn execute_result(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &SubmitResult,
) -> Result<(), TxError> {
    let mut record = load(state, message.job_id, message.task)?;
    let now = elapsed_s(state);
    let max_cu = record.max_cu_ppm_per_task;
    let billing = record.billing.clone();
    let task = &mut record.tasks[message.task as usize];
    let TaskState::Running {
        node,
        price_per_cu_usd,
        ..
    } = task.state.clone()
    else {
        return Err(TxError::InvalidJob("the task is not running".into()));
    };
    if node != *sender {
        return Err(TxError::Unauthorized(
            "the task runs on another node".into(),
        ));
    }
    let cu_used_ppm = message.commitment.cu_used_ppm;
    if cu_used_ppm > max_cu {
        return Err(TxError::InvalidJob(format!(
            "{cu_used_ppm} CU ppm used, over the task's budget of {max_cu}"
        )));
    }
    // A service that ended by itself (it kept crashing) bills at most the time it ran.
    if let (Some(_), TaskState::Running { started_s, .. }) = (&record.workload.service, &task.state)
    {
        let held = vcity_types::compute::service_cu_ppm(
            now.saturating_sub(*started_s),
            task.factor_ppm,
            max_cu,
        );
        if cu_used_ppm > held {
            return Err(TxError::InvalidJob(format!(
                "{cu_used_ppm} CU ppm used, more than the service held since it started ({held})"
            )));
        }
    }
    // The statement's signature was checked with the transaction's, before execution
    // (`SignedTransaction::verify_signature`): block execution checks no signature. What only
    // the state can say is whether it answers the current assignment.
    if message.attempt != task.attempts {
        return Err(TxError::InvalidJob(format!(
            "the result answers attempt {}, but the task is at attempt {}",
            message.attempt, task.attempts
        )));
    }
    let output_hash = message.commitment.hash();
    // The user pays at most the escrow: the agreed price is at most the job's maximum and the
    // CU at most its budget, both rounded the same way; the fee's rate at most the escrowed one.
    let cost_usd = match billing {
        Billing::PayAsYouGo | Billing::Subscription { .. } => price_per_cu_usd
            .mul_div(u128::from(cu_used_ppm), 1_000_000, Rounding::Up)?
            .min(task.escrow_usd),
        Billing::FixedPerTask { price_usd } => price_usd,
    };
    // The buyer pays for sampling up to its level's own rate; deterrence sampling above it is the
    // fees' to pay.
    let paid_rate = task.sampling_ppm.min(verification::max_sampling_rate_ppm(
        &trust::params(state),
        record.verification,
    ));
    let left = task.escrow_usd.checked_sub(cost_usd)?;
    let verification_fee_usd = verification::fee(cost_usd, paid_rate)?.min(left);
    let settle_at_s = now.saturating_add(params(state).verification_window_s);
    let sampled = task.sampling_ppm > 0;
    task.state = TaskState::Completed {
        node,
        output_hash,
        cu_used_ppm,
        cost_usd,
        verification_fee_usd,
        settle_at_s,
        commitment: message.commitment.clone(),
        signature: message.signature,
    };
    state.put(job_key(message.job_id), &record);
    remind(state, settle_at_s, message.job_id, message.task);
    if sampled {
        trust::draw_next_block(
            state,
            trust::Draw::Result {
                job_id: message.job_id,
                task: message.task,
            },
        );
    }
    state.emit(Event::TaskCompleted {
        job_id: message.job_id,
        task: message.task,
        node,
        output_hash,
        cu_used_ppm,
        cost_usd,
    });
    Ok(())
}

/// Puts a task back to pending, or fails it after too many attempts.
fn return_or_fail(
    state: &mut Overlay<'_>,
    record: &mut Job,
    index: u32,
    reason: String,
) -> Result<(), TxError> {
    // Every caller takes the task from the node holding it: that node's record counts a loss.
    if let TaskState::Assigned { node, .. } | TaskState::Running { node, .. } =
        &record.tasks[index as usize].state
    {
        nodes::record_service(state, node, false);
        nodes::task_opened(state, node, false);
    }
    let attempts = record.tasks[index as usize].attempts;
    let max_attempts = record
        .retries
        .map_or(params(state).max_attempts, |retries| {
            retries.saturating_add(1)
        });
    if attempts >= max_attempts {
        return fail(
            state,
            record,
            index,
            format!("{reason} (after {attempts} attempts)"),
        );
    }
    let now = elapsed_s(state);
    let task = &mut record.tasks[index as usize];
    task.state = TaskState::Pending;
    task.pending_since_s = now;
    remind(
        state,
        now.saturating_add(params(state).placement_timeout_s),
        record.id,
        index,
    );
    state.emit(Event::TaskReturned {
        job_id: record.id,
        task: index,
        reason,
    });
    Ok(())
}

/// Ends a task without a result and refunds its escrow to the owner.
fn fail(
    state: &mut Overlay<'_>,
    record: &mut Job,
    index: u32,
    reason: String,
) -> Result<(), TxError> {
    let task = &mut record.tasks[index as usize];
    let refund = task.escrow_usd;
    task.escrow_usd = Amount::ZERO;
    task.state = TaskState::Failed {
        reason: reason.clone(),
    };
    give_back(state, record, refund)?;
    state.emit(Event::TaskFailed {
        job_id: record.id,
        task: index,
        reason,
        refund_usd: refund,
    });
    crate::agents::invocations::task_refunded(state, record.id)
}

/// `FailTask`: the assigned or running node gives the task up.
pub(crate) fn execute_fail(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &FailTask,
) -> Result<(), TxError> {
    if message.reason.len() > 256 {
        return Err(TxError::InvalidJob("reason is at most 256 bytes".into()));
    }
    let mut record = load(state, message.job_id, message.task)?;
    let holder = match &record.tasks[message.task as usize].state {
        TaskState::Assigned { node, .. } | TaskState::Running { node, .. } => *node,
        _ => {
            return Err(TxError::InvalidJob(
                "the task is not assigned or running".into(),
            ))
        }
    };
    if holder != *sender {
        return Err(TxError::Unauthorized(
            "the task belongs to another node".into(),
        ));
    }
    return_or_fail(
        state,
        &mut record,
        message.task,
        format!("node gave up: {}", message.reason),
    )?;
    state.put(job_key(message.job_id), &record);
    Ok(())
}

/// `ReportUnplaceable`: a registered scheduler explains why a pending task cannot be placed.
pub(crate) fn execute_unplaceable(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &ReportUnplaceable,
) -> Result<(), TxError> {
    if message.explanation.is_empty() || message.explanation.len() > MAX_EXPLANATION_BYTES {
        return Err(TxError::InvalidJob(format!(
            "an explanation is 1 to {MAX_EXPLANATION_BYTES} bytes"
        )));
    }
    let is_scheduler = nodes::node(state, sender).is_some_and(|node| node.role == Role::Scheduler);
    if !is_scheduler {
        return Err(TxError::Unauthorized(
            "only a registered scheduler reports placements".into(),
        ));
    }
    let mut record = load(state, message.job_id, message.task)?;
    let task = &mut record.tasks[message.task as usize];
    if task.state != TaskState::Pending {
        return Err(TxError::InvalidJob("the task is not pending".into()));
    }
    task.unplaceable = Some(message.explanation.clone());
    state.put(job_key(message.job_id), &record);
    state.emit(Event::TaskUnplaceable {
        job_id: message.job_id,
        task: message.task,
        scheduler: *sender,
        explanation: message.explanation.clone(),
    });
    Ok(())
}

/// `CancelJob`: every task not yet started, refunded.
pub(crate) fn execute_cancel(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &CancelJob,
) -> Result<(), TxError> {
    let mut record = job(state, message.job_id)
        .ok_or_else(|| TxError::NotFound(format!("no job {}", message.job_id)))?;
    if record.owner != *sender {
        return Err(TxError::Unauthorized(
            "only the job's owner cancels it".into(),
        ));
    }
    let mut refund = Amount::ZERO;
    let mut cancelled = 0u32;
    let mut released = Vec::new();
    // A running service stops here, billed for the time it ran; the rest of its escrow comes
    // back when it settles (now).
    if record.workload.service.is_some() {
        let now = elapsed_s(state);
        for index in 0..record.tasks.len() as u32 {
            if matches!(
                record.tasks[index as usize].state,
                TaskState::Running { .. }
            ) {
                end_service(state, &mut record, index, now)?;
                cancelled += 1;
            }
        }
    }
    for task in &mut record.tasks {
        if let TaskState::Assigned { node, .. } = &task.state {
            released.push(*node);
        }
        if matches!(task.state, TaskState::Pending | TaskState::Assigned { .. }) {
            refund = refund.checked_add(task.escrow_usd)?;
            task.escrow_usd = Amount::ZERO;
            task.state = TaskState::Cancelled;
            cancelled += 1;
        }
    }
    if cancelled == 0 {
        return Err(TxError::InvalidJob("no task is left to cancel".into()));
    }
    give_back(state, &record, refund)?;
    state.put(job_key(message.job_id), &record);
    crate::agents::invocations::task_refunded(state, message.job_id)?;
    for node in released {
        nodes::task_opened(state, &node, false);
    }
    state.emit(Event::JobCancelled {
        job_id: message.job_id,
        tasks: cancelled,
        refund_usd: refund,
    });
    Ok(())
}

/// Whether a completed task's CU counts as delivered and verified (rules §6 "verified CU";
/// docs/verification.md): its check agreed, the node won its dispute, or its window closed with
/// neither a dispute nor a disagreement.
fn passed_verification(state: &impl StateRead, task: &Task) -> bool {
    match task.dispute {
        Some(id) => trust::disputes::dispute(state, id)
            .is_some_and(|found| found.outcome == DisputeOutcome::ChallengerWrong),
        None => true,
    }
}

fn settle(state: &mut Overlay<'_>, record: &mut Job, index: u32) -> Result<(), TxError> {
    let settings = params(state);
    let passed = passed_verification(state, &record.tasks[index as usize]);
    let task = &mut record.tasks[index as usize];
    let TaskState::Completed {
        node,
        output_hash,
        cost_usd,
        cu_used_ppm,
        verification_fee_usd,
        commitment,
        ..
    } = task.state.clone()
    else {
        return Ok(());
    };
    // A check nobody answered by the window's close is a missed duty; the task settles as
    // unchallenged.
    let checker = match &task.check {
        Some(check) if check.state == CheckState::Pending => {
            let verifier = check.verifier;
            trust::end_duty(
                state,
                &verifier,
                Duty::Check {
                    job_id: record.id,
                    task: index,
                },
                false,
            );
            None
        }
        Some(check) if check.state == CheckState::Agreed => Some(check.verifier),
        _ => None,
    };
    let task = &mut record.tasks[index as usize];
    let node_record = nodes::node(state, &node);
    let fee_ppm = node_record
        .as_ref()
        .map_or(settings.network_fee_ppm, |found| fee_ppm(&settings, found));
    // The fee rounds up: the protocol's share never loses to rounding.
    let fee_usd = cost_usd.mul_div(u128::from(fee_ppm), 1_000_000, Rounding::Up)?;
    let node_usd = cost_usd.checked_sub(fee_usd)?;
    let refund_usd = task
        .escrow_usd
        .checked_sub(cost_usd)?
        .checked_sub(verification_fee_usd)?;
    task.escrow_usd = Amount::ZERO;
    task.state = TaskState::Settled {
        node,
        output_hash,
        cost_usd,
    };
    let escrow = escrow_account();
    for (to, amount) in [
        (node, node_usd),
        (bank::treasury(), fee_usd),
        (trust::fees_account(), verification_fee_usd),
    ] {
        if !amount.is_zero() {
            bank::transfer(state, &escrow, &to, Denom::Usd, amount)?;
        }
    }
    crate::treasury::record_revenue(state, fee_usd);
    give_back(state, record, refund_usd)?;
    // The checker of an agreed result is paid what the re-execution is worth at the node's
    // price, as far as the fees reach.
    if let Some(verifier) = checker {
        let available = bank::balance(state, &trust::fees_account(), Denom::Usd);
        let paid = cost_usd.min(available);
        if !paid.is_zero() {
            bank::transfer(state, &trust::fees_account(), &verifier, Denom::Usd, paid)?;
            state.emit(Event::VerifierPaid {
                verifier,
                amount: paid,
            });
        }
    }
    if let Some(found) = &node_record {
        crate::incentives::record_settlement(
            state,
            &record.owner,
            found,
            cu_used_ppm,
            cost_usd,
            fee_usd,
            node_usd,
            passed,
        );
        if passed {
            if let Some(mut updated) = nodes::node(state, &node) {
                updated.trust.verified_cu_ppm = updated
                    .trust
                    .verified_cu_ppm
                    .saturating_add(u128::from(cu_used_ppm));
                nodes::put(state, &updated);
            }
        }
    }
    nodes::record_service(state, &node, true);
    nodes::task_opened(state, &node, false);
    if let Billing::Subscription { subscription_id } = record.billing {
        if let Some(mut subscription) = subscription(state, subscription_id) {
            subscription.cu_used_ppm = subscription.cu_used_ppm.saturating_add(cu_used_ppm);
            state.put(subscription_key(subscription_id), &subscription);
        }
    }
    state.emit(Event::TaskSettled {
        job_id: record.id,
        task: index,
        node,
        node_usd,
        fee_usd,
        refund_usd,
    });
    let delivered = commitment.exit == vcity_types::compute::TaskExit::Success;
    crate::agents::invocations::task_settled(state, record.id, delivered)
}

/// A referee round (or an equivocation proof) disproved a completed task's result: the owner
/// gets the whole escrow back, the node records a lost task and pays nothing out of the job.
/// Returns the owner and what the result would have cost (for compensation from the slash).
pub(crate) fn disprove(
    state: &mut Overlay<'_>,
    job_id: u64,
    index: u32,
    reason: &str,
) -> Option<(AccountId, Amount)> {
    let mut record = job(state, job_id)?;
    let task = record.tasks.get(index as usize)?;
    let TaskState::Completed { node, cost_usd, .. } = task.state.clone() else {
        return None;
    };
    nodes::record_service(state, &node, false);
    nodes::task_opened(state, &node, false);
    if let Some(mut found) = nodes::node(state, &node) {
        found.trust.results_disproved = found.trust.results_disproved.saturating_add(1);
        nodes::put(state, &found);
    }
    fail(state, &mut record, index, reason.to_string()).expect("job escrow covers every refund");
    state.put(job_key(job_id), &record);
    Some((record.owner, cost_usd))
}

/// A dispute about a completed task ended without disproving it: the task settles now if its
/// window has closed (its reminder skipped it while the dispute was open), else when it closes.
pub(crate) fn dispute_ended(state: &mut Overlay<'_>, job_id: u64, index: u32) {
    let Some(mut record) = job(state, job_id) else {
        return;
    };
    let due_now = matches!(
        record.tasks.get(index as usize).map(|task| &task.state),
        Some(TaskState::Completed { settle_at_s, .. }) if *settle_at_s <= elapsed_s(state)
    );
    if due_now {
        settle(state, &mut record, index).expect("job escrow covers every settlement");
        state.put(job_key(job_id), &record);
    }
}

/// Acts on one reminder if the task's state calls for it at `now`.
fn due(state: &mut Overlay<'_>, job_id: u64, index: u32, now: u64) -> Result<(), TxError> {
    let Some(mut record) = job(state, job_id) else {
        return Ok(());
    };
    let Some(task) = record.tasks.get(index as usize) else {
        return Ok(());
    };
    match task.state.clone() {
        TaskState::Pending
            if task
                .pending_since_s
                .saturating_add(params(state).placement_timeout_s)
                <= now =>
        {
            let reason = match &task.unplaceable {
                Some(explanation) => format!("no node could take it: {explanation}"),
                None => "no scheduler placed it in time".into(),
            };
            fail(state, &mut record, index, reason)?;
        }
        TaskState::Assigned {
            deadline_s, node, ..
        } if deadline_s < now
            && record.workload.confidential.is_some()
            && task.sealed_key.is_none() =>
        {
            // The owner never sealed the key to this node: not the node's fault, and another
            // node would wait the same way.
            nodes::task_opened(state, &node, false);
            fail(
                state,
                &mut record,
                index,
                "its owner granted no key for the task before the start deadline".into(),
            )?;
        }
        TaskState::Assigned {
            deadline_s, node, ..
        } if deadline_s < now => {
            return_or_fail(
                state,
                &mut record,
                index,
                "missed the start deadline".into(),
            )?;
            state.put(job_key(job_id), &record);
            nodes::record_missed_start(state, &node);
            return Ok(());
        }
        TaskState::Running {
            started_s, node, ..
        } => {
            let service_end_s = record.workload.service.as_ref().map(|_| {
                started_s.saturating_add(vcity_types::compute::service_term_s(
                    record.requirements.max_duration_s,
                    task.factor_ppm,
                    record.max_cu_ppm_per_task,
                ))
            });
            if service_end_s.is_some_and(|end_s| end_s <= now) {
                // A service's term is over: billed for it and settled.
                end_service(state, &mut record, index, now)?;
            } else if service_end_s.is_none()
                && started_s.saturating_add(record.requirements.max_duration_s) <= now
            {
                nodes::record_service(state, &node, false);
                nodes::task_opened(state, &node, false);
                fail(
                    state,
                    &mut record,
                    index,
                    "ran past its maximum duration".into(),
                )?;
            } else if nodes::node(state, &node)
                .is_none_or(|found| !nodes::is_online(&nodes::params(state), &found, now))
            {
                return_or_fail(state, &mut record, index, "the node went offline".into())?;
            } else {
                // Still running on a live node: look again one offline threshold later.
                remind(
                    state,
                    now.saturating_add(offline_after_s(state)),
                    job_id,
                    index,
                );
                return Ok(());
            }
        }
        TaskState::Completed { settle_at_s, .. } if settle_at_s <= now => {
            let disputed = task.dispute.is_some_and(|id| {
                trust::disputes::dispute(state, id)
                    .is_some_and(|found| found.outcome == DisputeOutcome::Open)
            });
            if disputed {
                // Settlement waits for the dispute (`dispute_ended` or `disprove`).
                return Ok(());
            }
            settle(state, &mut record, index)?;
        }
        _ => return Ok(()),
    }
    state.put(job_key(job_id), &record);
    Ok(())
}

/// `begin_block`: walks the deadline buckets up to now (a bounded number per block).
pub(crate) fn begin_block(state: &mut Overlay<'_>) {
    let settings = params(state);
    let width = settings.bucket_s.max(1);
    let now = elapsed_s(state);
    let last = now / width;
    let mut bucket: u64 = state.get(KEY_CURSOR).unwrap_or(0);
    let mut walked = 0;
    while bucket <= last && walked < settings.max_buckets_per_block {
        for (job_id, index) in crate::timers::take_all::<(u64, u32)>(state, due_key(bucket)) {
            // A reminder whose transfer fails would mean the escrow is short: a broken
            // invariant, never a user error.
            due(state, job_id, index, now).expect("job escrow covers every settlement");
        }
        for id in crate::timers::take_all::<u64>(state, subscription_due_key(bucket)) {
            close_subscription(state, id).expect("job escrow covers every subscription");
        }
        bucket += 1;
        walked += 1;
    }
    state.put(KEY_CURSOR.to_vec(), &bucket);
}
