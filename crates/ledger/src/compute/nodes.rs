//! The node registry (whitepaper §2.4; rules §4): compute, scheduler and verifier nodes, their
//! stake, status and unbonding.
//!
//! A node is an account: its key signs its registration and its heartbeats. A compute node states
//! its kind, hardware, region, endpoint and price per compute unit (CU: one second of one
//! reference GPU). Its capacity is the sum of its devices' performance factors from a table in
//! state (gov), with a small factor per CPU core so that CPU-only nodes can run tests. It must
//! bond at least `capacity × stake_per_cu` VCAI. Scheduler and verifier nodes bond a flat minimum.
//!
//! The stake requirement is priced in USD (rules §4): every `stake_recompute_s` (a week),
//! `begin_block` converts `stake_usd_per_cu` to VCAI at the VCAI/USD pool's time-weighted price
//! over the week just ended (rounded up: the protocol asks for the larger bond) and records it as
//! `stake_per_cu`, keeping the previous value and the time of the change. Genesis gives the first
//! value; without a pool price it stays. A node whose bond falls below a raised requirement keeps
//! working for `stake_grace_s` (3 days) to top up; after that, or at once if it was already below
//! the previous requirement (it had its grace then), it is *paused*: [`standing`] says so, the
//! matching rule refuses it, and it earns no Proof of Capacity, until its bond meets the
//! requirement again. A paused node can always top up with `AddStake`.
//!
//! Heartbeats carry load and health; a node silent for `offline_after` intervals (3 × 60 s) is
//! offline. Online time, the basis of Proof of Capacity, accrues between heartbeats no more than
//! one offline threshold apart. Unbonding moves stake into a queue released after the unbonding
//! period (14 days), during which it can still be slashed; bonded stake may not fall below the
//! requirement while the node stays registered.
//!
//! All stake, bonded or unbonding, sits in the `node_stake` module account. The trust layer
//! slashes it (bonded first, then unbonding entries) into the slash escrow; a node whose bond a
//! slash leaves below its requirement is paused at once, without the repricing grace.
//!
//! Heartbeats carry measurements (executor self-test, free disk, GPU temperature, ECC and XID
//! errors); [`health_issues`] decides from them whether the node is healthy, and an unhealthy
//! node receives no work. `Deregister` ends a registration once no task is open on the node: its
//! whole bond starts unbonding (still slashable) and its record stays, so a node that comes back
//! keeps its history; a banned DID never comes back.
//!
//! Keys (owned here): `nodes/params`, `nodes/price_window`, `nodes/node/{hex}`, `nodes/unbonding/{hex}` (at most
//! [`MAX_UNBONDING_ENTRIES`]), `nodes/count` and `nodes/index/{n, 10 digits}` (registration order,
//! for listing without scanning state).

use crate::bank;
use crate::error::TxError;
use crate::state::{Overlay, StateRead};
use crate::trust::{self, capacity};
use crate::vesting::elapsed_s;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use vcity_types::compute::{
    AddStake, Hardware, NodeHeartbeat, NodeRecord, RegisterNode, Role, Unbond, UpdateNode,
    MAX_ENDPOINT_BYTES, MAX_GPU_ENTRIES, MAX_LABEL_BYTES,
};
use vcity_types::event::Event;
use vcity_types::trust::{HealthReport, Offence, TrustRecord, MAX_HEALTH_GPUS};
use vcity_types::{AccountId, Amount, Denom, Rounding};

/// Most pending unbonding entries per node.
pub const MAX_UNBONDING_ENTRIES: usize = 8;
/// Most GPUs on one node (every one is a device of its capacity challenges).
pub const MAX_GPUS: u32 = 64;
/// 96 GB (10^9 bytes, as GPU vendors count) in MiB, rounded up: four 24 GB cards, which NVML
/// reports as 24,564 MiB each, reach it.
pub const GB96_MIB: u64 = 91_553;

/// Holds every node's stake.
pub fn stake_account() -> AccountId {
    AccountId::module("node_stake")
}

/// Governance parameters of the registry (rules §4 defaults), and the stake requirement the
/// ledger derives from them.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeParams {
    /// Performance factor per GPU model, ppm of the reference GPU (CU per second × 10^6).
    pub gpu_factors_ppm: Vec<(String, u64)>,
    /// Factor per CPU core, ppm.
    pub cpu_core_factor_ppm: u64,
    /// VCAI bonded per CU of capacity: from genesis, then recomputed weekly from
    /// `stake_usd_per_cu` (derived, not voted).
    pub stake_per_cu: Amount,
    /// The requirement before the last recomputation (zero: none yet).
    pub previous_stake_per_cu: Amount,
    /// When `stake_per_cu` last changed, seconds after genesis.
    pub stake_changed_s: u64,
    /// USD (base units) of bond per CU of capacity (gov).
    pub stake_usd_per_cu: Amount,
    /// How often the requirement is recomputed (a week).
    pub stake_recompute_s: u64,
    /// How long a node below a raised requirement may keep working (gov, 3 days).
    pub stake_grace_s: u64,
    /// Least total GPU memory for high-load jobs and scheduling priority (rules §6: 96 GB, in
    /// 10^9 bytes: 91,553 MiB).
    pub high_load_min_vram_mib: u64,
    /// Bond of a scheduler or verifier node.
    pub min_service_stake: Amount,
    /// Heartbeat interval.
    pub heartbeat_interval_s: u64,
    /// Intervals of silence after which a node is offline.
    pub offline_after_intervals: u64,
    /// Unbonding period.
    pub unbonding_s: u64,
}

impl Default for NodeParams {
    fn default() -> Self {
        let vcai = |whole| Amount::whole(whole, Denom::Vcai).expect("fits");
        NodeParams {
            // The reference GPU (factor 1.0) is the A100; the table is governance's to extend.
            gpu_factors_ppm: vec![
                ("A100".into(), 1_000_000),
                ("H100".into(), 2_000_000),
                ("H200".into(), 2_400_000),
                ("L40S".into(), 900_000),
                ("RTX4090".into(), 800_000),
                ("RTX3090".into(), 450_000),
            ],
            cpu_core_factor_ppm: 10_000,
            stake_per_cu: vcai(10_000),
            previous_stake_per_cu: Amount::ZERO,
            stake_changed_s: 0,
            // 10,000 VCAI at 0.10 USD, the devnet pool's opening price.
            stake_usd_per_cu: Amount::whole(1_000, Denom::Usd).expect("fits"),
            stake_recompute_s: 7 * 86_400,
            stake_grace_s: 3 * 86_400,
            high_load_min_vram_mib: GB96_MIB,
            min_service_stake: vcai(50_000),
            heartbeat_interval_s: 60,
            offline_after_intervals: 3,
            unbonding_s: 14 * 86_400,
        }
    }
}

/// One unbonding entry.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Unbonding {
    /// VCAI base units.
    pub amount: Amount,
    /// When it can be withdrawn, seconds after genesis.
    pub release_s: u64,
}

const KEY_PARAMS: &[u8] = b"nodes/params";
const KEY_PRICE_WINDOW: &[u8] = b"nodes/price_window";
const KEY_COUNT: &[u8] = b"nodes/count";

fn index_key(index: u64) -> Vec<u8> {
    format!("nodes/index/{index:010}").into_bytes()
}

fn node_key(id: &AccountId) -> Vec<u8> {
    crate::keys::Key::new("nodes/node/").hex(&id.0).finish()
}

fn unbonding_key(id: &AccountId) -> Vec<u8> {
    format!("nodes/unbonding/{}", id.to_hex()).into_bytes()
}

/// The parameters.
pub fn params(state: &impl StateRead) -> NodeParams {
    state.get(KEY_PARAMS).unwrap_or_default()
}

/// Adds one task to a node's service record: completed (settled) or lost.
pub(crate) fn record_service(state: &mut Overlay<'_>, id: &AccountId, completed: bool) {
    if let Some(mut record) = node(state, id) {
        if completed {
            record.tasks_completed = record.tasks_completed.saturating_add(1);
        } else {
            record.tasks_lost = record.tasks_lost.saturating_add(1);
        }
        state.put(node_key(id), &record);
    }
}

/// Writes a node's record (the trust layer's changes to it).
pub(crate) fn put(state: &mut Overlay<'_>, record: &NodeRecord) {
    state.put(node_key(&record.id), record);
}

/// A task became open on the node (assigned) or stopped being open (settled, returned, failed,
/// cancelled, disproved).
pub(crate) fn task_opened(state: &mut Overlay<'_>, id: &AccountId, opened: bool) {
    if let Some(mut record) = node(state, id) {
        record.trust.open_tasks = if opened {
            record.trust.open_tasks.saturating_add(1)
        } else {
            record.trust.open_tasks.saturating_sub(1)
        };
        state.put(node_key(id), &record);
    }
}

/// The node started a task `latency_s` after it was assigned.
pub(crate) fn record_start(state: &mut Overlay<'_>, id: &AccountId, latency_s: u64) {
    if let Some(mut record) = node(state, id) {
        record.trust.start_latency_total_s =
            record.trust.start_latency_total_s.saturating_add(latency_s);
        record.trust.starts = record.trust.starts.saturating_add(1);
        state.put(node_key(id), &record);
    }
}

/// The node missed a start deadline. If its heartbeats said it was online at the deadline, that
/// is a strike; `strike_limit` strikes within the strike window are an offence
/// ([`Offence::DeadlinesMissed`]) and start the count again.
pub(crate) fn record_missed_start(state: &mut Overlay<'_>, id: &AccountId) {
    let Some(mut record) = node(state, id) else {
        return;
    };
    let now = elapsed_s(state);
    if !is_online(&params(state), &record, now) {
        return;
    }
    let settings = trust::params(state);
    if now.saturating_sub(record.trust.strikes_since_s) > settings.strike_window_s {
        record.trust.deadline_strikes = 0;
        record.trust.strikes_since_s = now;
    }
    record.trust.deadline_strikes = record.trust.deadline_strikes.saturating_add(1);
    let offence = record.trust.deadline_strikes >= settings.strike_limit.max(1);
    if offence {
        record.trust.deadline_strikes = 0;
        record.trust.strikes_since_s = now;
    }
    state.put(node_key(id), &record);
    if offence {
        trust::slashing::slash(state, id, Offence::DeadlinesMissed, None, Vec::new());
    }
}

/// VCAI in the node's unbonding entries.
pub fn unbonding_total(state: &impl StateRead, id: &AccountId) -> Amount {
    unbonding(state, id)
        .iter()
        .fold(Amount::ZERO, |total, entry| {
            total
                .checked_add(entry.amount)
                .expect("stake fits the supply")
        })
}

/// Takes `amount` out of the node's unbonding entries, latest release first (the slash escrow
/// moves the VCAI; this only shrinks the entries).
pub(crate) fn take_unbonding(state: &mut Overlay<'_>, id: &AccountId, mut amount: Amount) {
    if amount.is_zero() {
        return;
    }
    let mut queue = unbonding(state, id);
    for entry in queue.iter_mut().rev() {
        let taken = entry.amount.min(amount);
        entry.amount = entry.amount.checked_sub(taken).expect("at most the entry");
        amount = amount.checked_sub(taken).expect("at most what is owed");
    }
    assert!(
        amount.is_zero(),
        "invariant broken: slashed more than {id}'s unbonding stake"
    );
    queue.retain(|entry| !entry.amount.is_zero());
    if queue.is_empty() {
        state.delete(unbonding_key(id));
    } else {
        state.put(unbonding_key(id), &queue);
    }
}

/// Sets the parameters (genesis).
pub(crate) fn init(state: &mut Overlay<'_>, params: &NodeParams) {
    state.put(KEY_PARAMS.to_vec(), params);
}

/// A node.
pub fn node(state: &impl StateRead, id: &AccountId) -> Option<NodeRecord> {
    state.get(&node_key(id))
}

/// How many nodes ever registered.
pub fn count(state: &impl StateRead) -> u64 {
    state.get(KEY_COUNT).unwrap_or(0)
}

/// Nodes in registration order, `offset` onwards, at most `limit` (point lookups only).
pub fn list(state: &impl StateRead, offset: u64, limit: u64) -> Vec<NodeRecord> {
    let end = count(state).min(offset.saturating_add(limit));
    (offset..end)
        .filter_map(|index| state.get::<AccountId>(&index_key(index)))
        .filter_map(|id| node(state, &id))
        .collect()
}

/// A node's unbonding entries.
pub fn unbonding(state: &impl StateRead, id: &AccountId) -> Vec<Unbonding> {
    state.get(&unbonding_key(id)).unwrap_or_default()
}

/// True if the node has sent a heartbeat within the offline threshold at `now_s`.
pub fn is_online(params: &NodeParams, node: &NodeRecord, now_s: u64) -> bool {
    now_s.saturating_sub(node.last_heartbeat_s)
        <= params
            .heartbeat_interval_s
            .saturating_mul(params.offline_after_intervals)
}

/// Capacity of an inventory in CU ppm; unknown GPU models are refused.
pub fn capacity_ppm(params: &NodeParams, hardware: &Hardware) -> Result<u64, TxError> {
    let mut total = u64::from(hardware.cpu_cores).saturating_mul(params.cpu_core_factor_ppm);
    for gpu in &hardware.gpus {
        let factor = params
            .gpu_factors_ppm
            .iter()
            .find(|(model, _)| model == &gpu.model)
            .map(|(_, factor)| *factor)
            .ok_or_else(|| {
                TxError::InvalidNode(format!(
                    "GPU model {:?} is not in the performance table",
                    gpu.model
                ))
            })?;
        total = total.saturating_add(factor.saturating_mul(u64::from(gpu.count)));
    }
    Ok(total)
}

/// The bond a node must keep.
pub fn required_stake(params: &NodeParams, role: Role, capacity_ppm: u64) -> Amount {
    match role {
        Role::Compute => params
            .stake_per_cu
            .mul_div(u128::from(capacity_ppm), 1_000_000, Rounding::Up)
            .expect("a requirement fits"),
        Role::Scheduler | Role::Verifier => params.min_service_stake,
    }
}

/// Where a node's bond stands against the requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "standing")]
pub enum Standing {
    /// At or above the requirement.
    Met,
    /// Below a requirement raised at the last recomputation; schedulable until `until_s`.
    Grace {
        /// Seconds after genesis.
        until_s: u64,
    },
    /// Below the requirement past its grace: excluded from scheduling and Proof of Capacity.
    Paused,
}

/// `node`'s standing at `now_s` (see the module documentation).
pub fn standing(params: &NodeParams, node: &NodeRecord, now_s: u64) -> Standing {
    if node.stake >= required_stake(params, node.role, node.capacity_cu_ppm) {
        return Standing::Met;
    }
    let previous = match node.role {
        Role::Compute => params
            .previous_stake_per_cu
            .mul_div(u128::from(node.capacity_cu_ppm), 1_000_000, Rounding::Up)
            .expect("a requirement fits"),
        Role::Scheduler | Role::Verifier => Amount::ZERO,
    };
    let until_s = params.stake_changed_s.saturating_add(params.stake_grace_s);
    let slashed_below = node.trust.slashes > 0 && node.trust.last_slash_s >= params.stake_changed_s;
    if node.stake < previous || now_s >= until_s || slashed_below {
        Standing::Paused
    } else {
        Standing::Grace { until_s }
    }
}

/// The bond as a share of the requirement, ppm, at most 10^6 (Proof of Capacity's stake factor).
pub fn stake_factor_ppm(params: &NodeParams, node: &NodeRecord) -> u64 {
    let required = required_stake(params, node.role, node.capacity_cu_ppm);
    if node.stake >= required || required.is_zero() {
        return 1_000_000;
    }
    let factor = node
        .stake
        .mul_div(1_000_000, required.base_units(), Rounding::Down)
        .expect("below the requirement");
    u64::try_from(factor.base_units()).expect("below 10^6")
}

/// Total GPU memory on the node, MiB.
pub fn total_vram_mib(hardware: &Hardware) -> u64 {
    hardware
        .gpus
        .iter()
        .map(|gpu| u64::from(gpu.count).saturating_mul(u64::from(gpu.vram_mib)))
        .fold(0, u64::saturating_add)
}

/// The pool's price accumulator at the start of the current recomputation window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
struct PriceWindow {
    start_s: u64,
    cumulative: u128,
}

/// `begin_block`: at the end of each recomputation window, the stake requirement is priced again
/// at the pool's time-weighted price over the window.
pub(crate) fn begin_block(state: &mut Overlay<'_>) {
    let now = elapsed_s(state);
    let Some(window) = state.get::<PriceWindow>(KEY_PRICE_WINDOW) else {
        let cumulative = crate::pool::cumulative_at(state, now);
        state.put(
            KEY_PRICE_WINDOW.to_vec(),
            &PriceWindow {
                start_s: now,
                cumulative,
            },
        );
        return;
    };
    let mut settings = params(state);
    if now
        < window
            .start_s
            .saturating_add(settings.stake_recompute_s.max(1))
    {
        return;
    }
    let cumulative = crate::pool::cumulative_at(state, now);
    let price = cumulative.wrapping_sub(window.cumulative) / u128::from(now - window.start_s);
    state.put(
        KEY_PRICE_WINDOW.to_vec(),
        &PriceWindow {
            start_s: now,
            cumulative,
        },
    );
    if price == 0 || settings.stake_usd_per_cu.is_zero() {
        return;
    }
    let Some(vcai_per_cu) = vcity_types::wide::mul_div(
        settings.stake_usd_per_cu.base_units(),
        crate::pool::PRICE_SCALE,
        price,
        Rounding::Up,
    ) else {
        return;
    };
    let vcai_per_cu = Amount::new(vcai_per_cu);
    if vcai_per_cu == settings.stake_per_cu {
        return;
    }
    settings.previous_stake_per_cu = settings.stake_per_cu;
    settings.stake_per_cu = vcai_per_cu;
    settings.stake_changed_s = now;
    state.put(KEY_PARAMS.to_vec(), &settings);
    state.emit(Event::StakeRequirementChanged { vcai_per_cu });
}

/// `SetParam` for the stake requirement (the caller checked the authority).
pub(crate) fn set_stake_rule(
    state: &mut Overlay<'_>,
    usd_per_cu: Amount,
    grace_s: u64,
) -> Result<(), TxError> {
    let mut settings = params(state);
    if grace_s > settings.stake_recompute_s {
        return Err(TxError::InvalidParam(format!(
            "the grace period is at most the repricing interval ({} s)",
            settings.stake_recompute_s
        )));
    }
    settings.stake_usd_per_cu = usd_per_cu;
    settings.stake_grace_s = grace_s;
    state.put(KEY_PARAMS.to_vec(), &settings);
    Ok(())
}

/// A proposal's change to the node parameters, checked: at most 64 GPU factors with unique
/// printable names and factors of 1 to 10^12 ppm, a CPU core factor of 1 to 10^9 ppm, a
/// heartbeat interval of 10 s to 1 hour, 1 to 100 missed intervals before offline, and an
/// unbonding period of 1 to 90 days.
pub(crate) fn set_params(
    state: &mut Overlay<'_>,
    change: impl FnOnce(&mut NodeParams),
) -> Result<(), TxError> {
    let mut settings = params(state);
    change(&mut settings);
    let invalid = |reason: &str| Err(TxError::InvalidParam(reason.to_string()));
    if settings.gpu_factors_ppm.len() > 64 {
        return invalid("at most 64 GPU factors");
    }
    let mut names = std::collections::BTreeSet::new();
    for (name, factor) in &settings.gpu_factors_ppm {
        if name.is_empty()
            || name.len() > MAX_LABEL_BYTES
            || name.chars().any(char::is_control)
            || !names.insert(name.as_str())
        {
            return invalid("GPU model names are unique, printable and 1 to 64 bytes");
        }
        if *factor == 0 || *factor > 1_000_000_000_000 {
            return invalid("GPU factors are 1 to 10^12 ppm");
        }
    }
    if settings.cpu_core_factor_ppm == 0 || settings.cpu_core_factor_ppm > 1_000_000_000 {
        return invalid("the CPU core factor is 1 to 10^9 ppm");
    }
    if !(10..=3_600).contains(&settings.heartbeat_interval_s)
        || !(1..=100).contains(&settings.offline_after_intervals)
    {
        return invalid(
            "the heartbeat interval is 10 s to 1 hour, offline after 1 to 100 intervals",
        );
    }
    if !(86_400..=90 * 86_400).contains(&settings.unbonding_s) {
        return invalid("the unbonding period is 1 to 90 days");
    }
    state.put(KEY_PARAMS.to_vec(), &settings);
    Ok(())
}

fn check_label(what: &str, text: &str, max: usize) -> Result<(), TxError> {
    if text.len() > max || text.chars().any(char::is_control) {
        return Err(TxError::InvalidNode(format!(
            "{what} must be at most {max} bytes of printable text"
        )));
    }
    Ok(())
}

fn check_hardware(role: Role, hardware: &Hardware) -> Result<(), TxError> {
    if hardware.gpus.len() > MAX_GPU_ENTRIES {
        return Err(TxError::InvalidNode(format!(
            "at most {MAX_GPU_ENTRIES} GPU entries"
        )));
    }
    for gpu in &hardware.gpus {
        check_label("GPU model", &gpu.model, MAX_LABEL_BYTES)?;
        if gpu.count == 0 || gpu.count > 64 || gpu.vram_mib == 0 {
            return Err(TxError::InvalidNode(
                "each GPU entry needs 1-64 GPUs with some memory".into(),
            ));
        }
    }
    let gpus: u32 = hardware.gpus.iter().map(|gpu| gpu.count).sum();
    if gpus > MAX_GPUS {
        return Err(TxError::InvalidNode(format!(
            "at most {MAX_GPUS} GPUs on one node"
        )));
    }
    if role == Role::Compute && hardware.gpus.is_empty() && hardware.cpu_cores == 0 {
        return Err(TxError::InvalidNode(
            "a compute node needs GPUs or CPU cores".into(),
        ));
    }
    if role != Role::Compute && hardware.sandbox.is_some() {
        return Err(TxError::InvalidNode(
            "only compute nodes offer a sandbox".into(),
        ));
    }
    Ok(())
}

/// `RegisterNode`.
pub(crate) fn execute_register(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &RegisterNode,
) -> Result<(), TxError> {
    // A node that left may come back (keeping its history); a banned DID may not.
    let previous = node(state, sender);
    if let Some(found) = &previous {
        if found.trust.banned {
            return Err(TxError::Banned(format!(
                "account {sender} was banned for a severe offence"
            )));
        }
        if !found.trust.deregistered {
            return Err(TxError::InvalidNode(format!(
                "account {sender} is already a registered node"
            )));
        }
    }
    check_label("region", &message.region, MAX_LABEL_BYTES)?;
    check_label("endpoint", &message.endpoint, MAX_ENDPOINT_BYTES)?;
    check_hardware(message.role, &message.hardware)?;
    let settings = params(state);
    let capacity = capacity_ppm(&settings, &message.hardware)?;
    let required = required_stake(&settings, message.role, capacity);
    // A returning node's leftover bond (an upheld appeal's return) counts with the new stake.
    let leftover = previous.as_ref().map_or(Amount::ZERO, |found| found.stake);
    let bond = message.stake.checked_add(leftover)?;
    if bond < required {
        return Err(TxError::StakeBelowRequirement {
            stake: bond,
            required,
        });
    }
    if message.role == Role::Compute && message.price_per_cu_usd.is_zero() {
        return Err(TxError::InvalidNode(
            "a compute node needs a price per CU".into(),
        ));
    }
    if !message.stake.is_zero() {
        bank::transfer(state, sender, &stake_account(), Denom::Vcai, message.stake)?;
    }
    let now = elapsed_s(state);
    let returning = previous.is_some();
    let (tasks_completed, tasks_lost, mut history) = match previous {
        Some(found) => (found.tasks_completed, found.tasks_lost, found.trust),
        None => (0, 0, TrustRecord::default()),
    };
    history.deregistered = false;
    history.open_challenge = None;
    let mut record = NodeRecord {
        id: *sender,
        role: message.role,
        kind: message.kind,
        hardware: message.hardware.clone(),
        region: message.region.clone(),
        endpoint: message.endpoint.clone(),
        price_per_cu_usd: message.price_per_cu_usd,
        stake: bond,
        capacity_cu_ppm: capacity,
        registered_s: now,
        last_heartbeat_s: now,
        load_ppm: 0,
        healthy: true,
        running_tasks: 0,
        online_s: 0,
        tasks_completed,
        tasks_lost,
        trust: history,
        health: HealthReport::default(),
        // Evidence is presented after registration (`AttestNode`), again after a return.
        tee: Default::default(),
    };
    match record.role {
        Role::Compute => capacity::on_new_capacity(state, &mut record),
        Role::Verifier => trust::add_verifier(state, sender)?,
        Role::Scheduler => {}
    }
    state.put(node_key(sender), &record);
    if !returning {
        let index = count(state);
        state.put(index_key(index), sender);
        state.put(KEY_COUNT.to_vec(), &(index + 1));
    }
    state.emit(Event::NodeRegistered {
        node: *sender,
        role: record.role,
        capacity_cu_ppm: capacity,
        stake: record.stake,
    });
    Ok(())
}

fn registered(state: &Overlay<'_>, sender: &AccountId) -> Result<NodeRecord, TxError> {
    node(state, sender)
        .ok_or_else(|| TxError::NotFound(format!("account {sender} is not a registered node")))
}

/// `NodeHeartbeat`.
pub(crate) fn execute_heartbeat(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &NodeHeartbeat,
) -> Result<(), TxError> {
    let mut record = registered(state, sender)?;
    if record.trust.deregistered {
        return Err(TxError::InvalidNode(format!(
            "account {sender} has deregistered"
        )));
    }
    if message.load_ppm > 1_000_000 {
        return Err(TxError::InvalidNode("load is at most 1,000,000 ppm".into()));
    }
    if message.health.gpus.len() > MAX_HEALTH_GPUS {
        return Err(TxError::InvalidNode(format!(
            "a health report describes at most {MAX_HEALTH_GPUS} GPUs"
        )));
    }
    let settings = params(state);
    let now = elapsed_s(state);
    // Online time accrues only across gaps short enough that the node was never offline; a
    // longer gap is an outage, which Proof of Capacity's stability counts.
    let online_s = now.saturating_sub(record.last_heartbeat_s);
    if is_online(&settings, &record, now) {
        record.online_s = record.online_s.saturating_add(online_s);
        if record.role == Role::Compute && online_s > 0 {
            if standing(&settings, &record, now) == Standing::Paused {
                // A paused node is not in good standing: its loyalty streak starts again.
                crate::incentives::reset_loyalty(state, sender);
            } else {
                let stake_factor = stake_factor_ppm(&settings, &record);
                crate::incentives::record_capacity(state, &record, online_s, stake_factor);
            }
        }
    } else if record.role == Role::Compute {
        crate::incentives::record_outage(state, &record, online_s);
    }
    let trust_settings = trust::params(state);
    let healthy = health_issues(&trust_settings, record.role, &message.health).is_empty()
        && !new_gpu_errors(&record.health, &message.health);
    record.last_heartbeat_s = now;
    record.load_ppm = message.load_ppm;
    record.healthy = healthy;
    record.health = message.health.clone();
    record.running_tasks = message.running_tasks;
    state.put(node_key(sender), &record);
    state.emit(Event::NodeHeartbeat {
        node: *sender,
        load_ppm: message.load_ppm,
        healthy,
    });
    Ok(())
}

/// `UpdateNode`.
pub(crate) fn execute_update(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &UpdateNode,
) -> Result<(), TxError> {
    let mut record = registered(state, sender)?;
    if record.trust.deregistered {
        return Err(TxError::InvalidNode(format!(
            "account {sender} has deregistered; register again"
        )));
    }
    let settings = params(state);
    if let Some(price) = message.price_per_cu_usd {
        if record.role == Role::Compute && price.is_zero() {
            return Err(TxError::InvalidNode(
                "a compute node needs a price per CU".into(),
            ));
        }
        record.price_per_cu_usd = price;
    }
    if let Some(endpoint) = &message.endpoint {
        check_label("endpoint", endpoint, MAX_ENDPOINT_BYTES)?;
        record.endpoint = endpoint.clone();
    }
    if let Some(hardware) = &message.hardware {
        check_hardware(record.role, hardware)?;
        let capacity = capacity_ppm(&settings, hardware)?;
        let required = required_stake(&settings, record.role, capacity);
        if record.stake < required {
            return Err(TxError::StakeBelowRequirement {
                stake: record.stake,
                required,
            });
        }
        let changed = *hardware != record.hardware;
        record.hardware = hardware.clone();
        record.capacity_cu_ppm = capacity;
        if changed && record.role == Role::Compute {
            // New or changed hardware is unproven until a capacity challenge passes, and its
            // TEE tier until the node presents evidence of the new hardware.
            capacity::on_new_capacity(state, &mut record);
            record.tee = Default::default();
        }
    }
    state.put(node_key(sender), &record);
    state.emit(Event::NodeUpdated { node: *sender });
    Ok(())
}

/// `AddStake`.
pub(crate) fn execute_add_stake(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &AddStake,
) -> Result<(), TxError> {
    let mut record = registered(state, sender)?;
    if record.trust.deregistered {
        return Err(TxError::InvalidNode(format!(
            "account {sender} has deregistered; register again"
        )));
    }
    bank::transfer(state, sender, &stake_account(), Denom::Vcai, message.amount)?;
    record.stake = record.stake.checked_add(message.amount)?;
    state.put(node_key(sender), &record);
    state.emit(Event::StakeChanged {
        node: *sender,
        stake: record.stake,
    });
    Ok(())
}

/// `Unbond`: moves stake into the unbonding queue. The bond may not fall below the requirement.
pub(crate) fn execute_unbond(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &Unbond,
) -> Result<(), TxError> {
    let mut record = registered(state, sender)?;
    if message.amount.is_zero() {
        return Err(TxError::InvalidAmount(
            "unbond amount must be positive".into(),
        ));
    }
    let settings = params(state);
    let remaining =
        record
            .stake
            .checked_sub(message.amount)
            .map_err(|_| TxError::InsufficientFunds {
                account: *sender,
                denom: Denom::Vcai,
                available: record.stake,
                needed: message.amount,
            })?;
    // A node that left keeps no requirement: whatever bond it still has (an upheld appeal's
    // return) may all unbond.
    let required = if record.trust.deregistered {
        Amount::ZERO
    } else {
        required_stake(&settings, record.role, record.capacity_cu_ppm)
    };
    if remaining < required {
        return Err(TxError::StakeBelowRequirement {
            stake: remaining,
            required,
        });
    }
    let mut queue = unbonding(state, sender);
    if queue.len() >= MAX_UNBONDING_ENTRIES {
        return Err(TxError::InvalidNode(format!(
            "at most {MAX_UNBONDING_ENTRIES} unbonding entries; withdraw released ones first"
        )));
    }
    queue.push(Unbonding {
        amount: message.amount,
        release_s: elapsed_s(state).saturating_add(settings.unbonding_s),
    });
    state.put(unbonding_key(sender), &queue);
    record.stake = remaining;
    state.put(node_key(sender), &record);
    state.emit(Event::StakeChanged {
        node: *sender,
        stake: record.stake,
    });
    Ok(())
}

/// `WithdrawUnbonded`: every released entry back to the node's account.
pub(crate) fn execute_withdraw(state: &mut Overlay<'_>, sender: &AccountId) -> Result<(), TxError> {
    let now = elapsed_s(state);
    let queue = unbonding(state, sender);
    let (released, waiting): (Vec<Unbonding>, Vec<Unbonding>) =
        queue.into_iter().partition(|entry| entry.release_s <= now);
    let mut total = Amount::ZERO;
    for entry in &released {
        total = total.checked_add(entry.amount)?;
    }
    if total.is_zero() {
        return Err(TxError::NothingToClaim(
            "no unbonding entry has been released yet".into(),
        ));
    }
    if waiting.is_empty() {
        state.delete(unbonding_key(sender));
    } else {
        state.put(unbonding_key(sender), &waiting);
    }
    bank::transfer(state, &stake_account(), sender, Denom::Vcai, total)?;
    state.emit(Event::UnbondedWithdrawn {
        node: *sender,
        amount: total,
    });
    Ok(())
}

/// What is wrong with a node by its last health report (empty when nothing is): the executor's
/// self-test failed (compute and verifier nodes run workloads), free disk below the minimum, a
/// GPU hotter than the maximum. New ECC or XID errors since the previous report
/// ([`new_gpu_errors`]) also make a heartbeat unhealthy.
pub fn health_issues(
    settings: &trust::TrustParams,
    role: Role,
    report: &HealthReport,
) -> Vec<String> {
    let mut issues = Vec::new();
    if role == Role::Scheduler {
        return issues;
    }
    if !report.executor_ok {
        issues.push("the executor's self-test failed".to_string());
    }
    if report.free_disk_mib < settings.min_free_disk_mib {
        issues.push(format!(
            "{} MiB of free disk, below the minimum of {} MiB",
            report.free_disk_mib, settings.min_free_disk_mib
        ));
    }
    for (index, gpu) in report.gpus.iter().enumerate() {
        if gpu.temperature_c > settings.max_gpu_temperature_c {
            issues.push(format!(
                "GPU {index} at {} °C, above {} °C",
                gpu.temperature_c, settings.max_gpu_temperature_c
            ));
        }
    }
    issues
}

/// Whether any GPU reports more uncorrected ECC or XID errors than in the previous report.
pub fn new_gpu_errors(previous: &HealthReport, report: &HealthReport) -> bool {
    report.gpus.iter().enumerate().any(|(index, gpu)| {
        let before = previous.gpus.get(index).cloned().unwrap_or_default();
        gpu.ecc_uncorrected > before.ecc_uncorrected || gpu.xid_errors > before.xid_errors
    })
}

/// `Deregister`: once no task is open on the node, its whole bond starts unbonding and it stops
/// being scheduled or drawn; its record stays.
pub(crate) fn execute_deregister(
    state: &mut Overlay<'_>,
    sender: &AccountId,
) -> Result<(), TxError> {
    let mut record = registered(state, sender)?;
    if record.trust.deregistered {
        return Err(TxError::Duplicate(format!(
            "account {sender} has already deregistered"
        )));
    }
    if record.trust.open_tasks > 0 {
        return Err(TxError::InvalidNode(format!(
            "{} task(s) are still open on this node; deregister after they end",
            record.trust.open_tasks
        )));
    }
    let amount = record.stake;
    if !amount.is_zero() {
        let mut queue = unbonding(state, sender);
        queue.push(Unbonding {
            amount,
            release_s: elapsed_s(state).saturating_add(params(state).unbonding_s),
        });
        state.put(unbonding_key(sender), &queue);
    }
    record.stake = Amount::ZERO;
    record.trust.deregistered = true;
    if record.role == Role::Verifier {
        trust::remove_verifier(state, sender);
    }
    crate::incentives::end_loyalty(state, sender);
    state.put(node_key(sender), &record);
    state.emit(Event::NodeDeregistered {
        node: *sender,
        unbonding: amount,
    });
    Ok(())
}
