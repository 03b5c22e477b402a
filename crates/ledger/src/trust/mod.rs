//! The trust layer (whitepaper §2.4.2, §2.5, §3.6.1; rules §10, §12; docs/verification.md): the
//! network pays only for work and hardware it has checked.
//!
//! - [`verification`]: the beacon of the block after a result samples it at the job's rate and
//!   draws a registered verifier to re-execute it; the verifier agrees (`VerifyResult`) or
//!   disputes (`ChallengeResult`) before the window closes; the buyer pays `cost × rate`, which
//!   pays the checks.
//! - [`capacity`]: at beacon-chosen times a compute node must compute beacon-seeded matrix
//!   products, one per declared device, and commit to them before a deadline derived from the
//!   GPU factor table; a drawn verifier checks them with Freivalds' algorithm and row openings.
//! - [`disputes`]: a challenger's deposit, `k` referees drawn by the beacon, majority wins, the
//!   losing side pays; equivocation needs no referees (two signed statements prove it).
//! - [`slashing`]: offences mapped to rules §10's tiers, the slash escrow, appeals, and the
//!   payout (affected buyers first, then the challenger's bounty, then the reserve).
//! - [`reputation`]: the documented score every rule that weighs quality reads.
//! - [`attestation`]: TEE evidence verified by the ledger itself; the tier a node proved, which
//!   jobs may require and which lowers its sampling rate.
//!
//! Everything random comes from block beacons (`Domain::Draw`), always of a block after the
//! thing it decides about was fixed, so a node cannot see its sample before it commits.
//!
//! Keys (owned here and by the submodules): `trust/params`, `trust/draws` (what the next block's
//! beacon decides), `trust/verifiers` (the registered verifiers, at most `max_verifiers`),
//! `trust/duties/{hex}` (a verifier's open duties), `trust/due/*` (reminders), and the
//! submodules' own (`trust/challenge/*`, `trust/dispute/*`, `trust/slash/*`).

pub mod attestation;
pub mod capacity;
pub mod disputes;
pub mod reputation;
pub mod slashing;
pub mod verification;

use crate::error::TxError;
use crate::nodes;
use crate::state::{Overlay, StateRead};
use crate::vesting::elapsed_s;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use vcity_types::compute::Role;
use vcity_types::event::Event;
use vcity_types::hash::Domain;
use vcity_types::trust::{Duty, Offence, Tier, MAX_REFEREES};
use vcity_types::{AccountId, Amount, Denom, Hash};

/// Where a reminder of the trust layer points.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub(crate) enum Timer {
    /// Issue a capacity challenge to a node.
    IssueChallenge(AccountId),
    /// A capacity commitment was due.
    CommitDue(u64),
    /// A capacity verdict was due.
    VerdictDue(u64),
    /// A dispute's referees were due.
    RefereesDue(u64),
    /// A slash's appeal window ends.
    AppealEnds(u64),
}

/// What the next block's beacon decides.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub(crate) enum Draw {
    /// Whether a new result is sampled, and by whom.
    Result { job_id: u64, task: u32 },
    /// A dispute's referees.
    Referees(u64),
    /// The verifier of a committed capacity proof.
    CapacityVerifier(u64),
}

/// Sizes and deadlines of one offence's penalty (rules §10).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct OffenceRule {
    /// The offence.
    pub offence: Offence,
    /// Its tier.
    pub tier: Tier,
    /// Share of the node's stake (bonded and unbonding) taken, ppm.
    pub slash_ppm: u32,
    /// Incentive periods without Proof of Capacity or Delivery afterwards.
    pub suspend_periods: u32,
}

/// Governance parameters of the trust layer (rules §10 defaults; docs/verification.md).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default)]
pub struct TrustParams {
    /// Sampling rate per verification level (none, standard, high, full), ppm.
    pub level_rates_ppm: [u32; 4],
    /// The least rate for a node on probation or with reputation below `low_reputation_ppm`
    /// (a job at level none is never sampled).
    pub risky_rate_ppm: u32,
    /// Below this reputation a node's results are sampled at `risky_rate_ppm` at least.
    pub low_reputation_ppm: u32,
    /// Referees drawn per dispute (fewer when fewer verifiers are eligible).
    pub referees: u32,
    /// How long referees have to answer.
    pub referee_window_s: u64,
    /// VCAI a challenger posts (lost on a false accusation).
    pub challenge_deposit: Amount,
    /// Whether compute nodes are challenged to prove their capacity (a chain without verifiers,
    /// such as a test harness, may turn them off; probation then has nothing to end it, so
    /// `probation_challenges` must be 0).
    pub capacity_challenges: bool,
    /// Mean time between a node's capacity challenges (each is drawn between half and one and a
    /// half of it).
    pub challenge_interval_s: u64,
    /// A new or grown node's first challenge comes within this long.
    pub first_challenge_within_s: u64,
    /// A challenge whose check nobody answered is issued again this long after.
    pub challenge_retry_s: u64,
    /// Allowance for network and block latency in every commit deadline.
    pub commit_latency_s: u64,
    /// Matrix size of the CPU's product.
    pub cpu_challenge_n: u32,
    /// Matrix size of each GPU's product.
    pub gpu_challenge_n: u32,
    /// Multiply-accumulates per second one CU of performance factor is expected to sustain;
    /// a device's share of the commit deadline is `n³ / (factor × this)`.
    pub macs_per_cu_s: u64,
    /// How long a drawn verifier has for its capacity verdict.
    pub verdict_window_s: u64,
    /// Capacity challenges to pass before probation ends.
    pub probation_challenges: u32,
    /// Missed start deadlines while online, within `strike_window_s`, that make an offence.
    pub strike_limit: u32,
    /// The window strikes count in.
    pub strike_window_s: u64,
    /// Most registered verifiers.
    pub max_verifiers: u32,
    /// Most open duties per verifier (a busier verifier is not drawn).
    pub max_duties: u32,
    /// Health: least free disk, MiB.
    pub min_free_disk_mib: u64,
    /// Health: hottest a GPU may run, °C.
    pub max_gpu_temperature_c: u32,
    /// Accounts first funded by the same account within this many blocks of each other count
    /// as one DID for self-dealing (docs/protocol.md, "Related accounts").
    pub related_funding_blocks: u64,
    /// Penalties per offence.
    pub offences: Vec<OffenceRule>,
    /// Moderate offences after which the next one is treated as severe.
    pub severe_after_moderate: u32,
    /// How long a slash waits in escrow for an appeal.
    pub appeal_window_s: u64,
    /// How long after the appeal window an appealed slash waits for governance's decision (a
    /// proposal needs its discussion, vote and timelock) before it is paid out.
    pub appeal_decision_s: u64,
    /// The challenger's bounty, ppm of the slash.
    pub bounty_ppm: u32,
    /// Affected buyers' compensation, ppm of the USD they paid for the affected work, converted
    /// to VCAI at the stake requirement's price.
    pub compensation_ppm: u32,
}

impl Default for TrustParams {
    fn default() -> Self {
        let rule = |offence, tier, slash_ppm, suspend_periods| OffenceRule {
            offence,
            tier,
            slash_ppm,
            suspend_periods,
        };
        TrustParams {
            level_rates_ppm: [0, 50_000, 250_000, 1_000_000],
            risky_rate_ppm: 250_000,
            low_reputation_ppm: 500_000,
            referees: 3,
            referee_window_s: 600,
            challenge_deposit: Amount::whole(1_000, Denom::Vcai).expect("fits"),
            capacity_challenges: true,
            challenge_interval_s: 86_400,
            first_challenge_within_s: 600,
            challenge_retry_s: 600,
            commit_latency_s: 120,
            cpu_challenge_n: 256,
            gpu_challenge_n: 16_384,
            macs_per_cu_s: 5_000_000_000_000,
            verdict_window_s: 600,
            probation_challenges: 1,
            strike_limit: 3,
            strike_window_s: 86_400,
            max_verifiers: 256,
            max_duties: 1_000,
            min_free_disk_mib: 1_024,
            max_gpu_temperature_c: 90,
            related_funding_blocks: 1_000,
            offences: vec![
                rule(Offence::CapacityMissed, Tier::Minor, 50_000, 0),
                rule(Offence::CapacityFailed, Tier::Minor, 100_000, 0),
                rule(Offence::DeadlinesMissed, Tier::Minor, 50_000, 0),
                rule(Offence::RefereeOnLosingSide, Tier::Minor, 100_000, 0),
                rule(Offence::InflatedMetering, Tier::Moderate, 200_000, 2),
                rule(Offence::WrongResult, Tier::Moderate, 300_000, 2),
                rule(Offence::Equivocation, Tier::Severe, 1_000_000, 0),
            ],
            severe_after_moderate: 2,
            appeal_window_s: 7 * 86_400,
            appeal_decision_s: 28 * 86_400,
            bounty_ppm: 100_000,
            compensation_ppm: 1_000_000,
        }
    }
}

impl TrustParams {
    /// Why the parameters cannot work, if they cannot: every offence has exactly one rule, each
    /// inside its rules §10 tier (minor 5–10%, moderate 10–30%, severe 100%).
    pub fn validate(&self) -> Result<(), String> {
        if self
            .level_rates_ppm
            .iter()
            .chain([&self.risky_rate_ppm, &self.low_reputation_ppm])
            .any(|rate| *rate > 1_000_000)
        {
            return Err("rates are at most 1,000,000 ppm".into());
        }
        if self.referees == 0 || self.referees as usize > MAX_REFEREES {
            return Err(format!("1 to {MAX_REFEREES} referees"));
        }
        for offence in Offence::ALL {
            let rules: Vec<&OffenceRule> = self
                .offences
                .iter()
                .filter(|rule| rule.offence == offence)
                .collect();
            let [rule] = rules.as_slice() else {
                return Err(format!("offence {} needs exactly one rule", offence.name()));
            };
            let (low, high) = match rule.tier {
                Tier::Minor => (50_000, 100_000),
                Tier::Moderate => (100_000, 300_000),
                Tier::Severe => (1_000_000, 1_000_000),
            };
            if rule.slash_ppm < low || rule.slash_ppm > high {
                return Err(format!(
                    "a {:?} slash is {low} to {high} ppm (rules §10); {} has {}",
                    rule.tier,
                    offence.name(),
                    rule.slash_ppm
                ));
            }
        }
        if self.bounty_ppm > 1_000_000 || self.compensation_ppm > 10_000_000 {
            return Err("the bounty is at most 100% and compensation at most 10×".into());
        }
        if self.cpu_challenge_n == 0
            || self.gpu_challenge_n == 0
            || self.cpu_challenge_n > 65_536
            || self.gpu_challenge_n > 65_536
            || self.macs_per_cu_s == 0
        {
            return Err("challenge sizes are 1 to 65,536 and the MAC rate is positive".into());
        }
        if !self.capacity_challenges && self.probation_challenges > 0 {
            return Err(
                "without capacity challenges nothing ends probation: set probation_challenges to 0"
                    .into(),
            );
        }
        if self.max_verifiers == 0 || self.max_duties == 0 || self.challenge_interval_s == 0 {
            return Err("verifier and duty bounds and the challenge interval are positive".into());
        }
        Ok(())
    }

    /// The rule for `offence` (validated to exist).
    pub fn rule(&self, offence: Offence) -> OffenceRule {
        self.offences
            .iter()
            .find(|rule| rule.offence == offence)
            .copied()
            .unwrap_or(OffenceRule {
                offence,
                tier: Tier::Minor,
                slash_ppm: 50_000,
                suspend_periods: 0,
            })
    }
}

const KEY_PARAMS: &[u8] = b"trust/params";
const KEY_DRAWS: &[u8] = b"trust/draws";
const KEY_VERIFIERS: &[u8] = b"trust/verifiers";
pub(crate) const TIMERS: &str = "trust";

fn duties_key(verifier: &AccountId) -> Vec<u8> {
    format!("trust/duties/{}", verifier.to_hex()).into_bytes()
}

/// The parameters.
pub fn params(state: &impl StateRead) -> TrustParams {
    state.get(KEY_PARAMS).unwrap_or_default()
}

/// Sets the parameters (genesis).
pub(crate) fn init(state: &mut Overlay<'_>, params: &TrustParams) {
    state.put(KEY_PARAMS.to_vec(), params);
}

/// A proposal's change to the trust parameters: [`TrustParams::validate`], plus an appeal
/// window of 1 to 30 days and a decision wait of 1 to 90 days.
pub(crate) fn set_params(
    state: &mut Overlay<'_>,
    change: impl FnOnce(&mut TrustParams),
) -> Result<(), TxError> {
    let mut settings = params(state);
    change(&mut settings);
    settings.validate().map_err(TxError::InvalidParam)?;
    if !(86_400..=30 * 86_400).contains(&settings.appeal_window_s)
        || !(86_400..=90 * 86_400).contains(&settings.appeal_decision_s)
    {
        return Err(TxError::InvalidParam(
            "the appeal window is 1 to 30 days and the decision wait 1 to 90 days".into(),
        ));
    }
    state.put(KEY_PARAMS.to_vec(), &settings);
    Ok(())
}

/// Holds the verification fees that pay for checks (USD).
pub fn fees_account() -> AccountId {
    AccountId::module("verification_fees")
}

/// Holds challengers' deposits while their disputes are open (VCAI).
pub fn deposits_account() -> AccountId {
    AccountId::module("dispute_deposits")
}

/// The registered verifiers, in registration order.
pub fn verifiers(state: &impl StateRead) -> Vec<AccountId> {
    state.get(KEY_VERIFIERS).unwrap_or_default()
}

/// A new verifier joins the list (refused when the list is full).
pub(crate) fn add_verifier(state: &mut Overlay<'_>, id: &AccountId) -> Result<(), TxError> {
    let mut list = verifiers(state);
    if list.len() >= params(state).max_verifiers as usize {
        return Err(TxError::InvalidNode(format!(
            "the verifier registry is full ({} verifiers)",
            list.len()
        )));
    }
    list.push(*id);
    state.put(KEY_VERIFIERS.to_vec(), &list);
    Ok(())
}

/// A verifier leaves the list (deregistered or banned).
pub(crate) fn remove_verifier(state: &mut Overlay<'_>, id: &AccountId) {
    let mut list = verifiers(state);
    let before = list.len();
    list.retain(|entry| entry != id);
    if list.len() != before {
        state.put(KEY_VERIFIERS.to_vec(), &list);
    }
}

/// A verifier's open duties.
pub fn duties(state: &impl StateRead, verifier: &AccountId) -> Vec<Duty> {
    state.get(&duties_key(verifier)).unwrap_or_default()
}

pub(crate) fn add_duty(state: &mut Overlay<'_>, verifier: &AccountId, duty: Duty) {
    let mut list = duties(state, verifier);
    list.push(duty);
    state.put(duties_key(verifier), &list);
}

/// Removes `duty` from the verifier's list; true if it was there.
pub(crate) fn end_duty(
    state: &mut Overlay<'_>,
    verifier: &AccountId,
    duty: Duty,
    answered: bool,
) -> bool {
    let mut list = duties(state, verifier);
    let Some(position) = list.iter().position(|entry| *entry == duty) else {
        return false;
    };
    list.remove(position);
    if list.is_empty() {
        state.delete(duties_key(verifier));
    } else {
        state.put(duties_key(verifier), &list);
    }
    if let Some(mut record) = nodes::node(state, verifier) {
        if answered {
            record.trust.duties_done = record.trust.duties_done.saturating_add(1);
        } else {
            record.trust.duties_missed = record.trust.duties_missed.saturating_add(1);
        }
        nodes::put(state, &record);
    }
    if !answered {
        state.emit(Event::DutyMissed {
            verifier: *verifier,
        });
    }
    true
}

/// Queues `draw` for the next block's beacon.
pub(crate) fn draw_next_block(state: &mut Overlay<'_>, draw: Draw) {
    let mut list: Vec<Draw> = state.get(KEY_DRAWS).unwrap_or_default();
    list.push(draw);
    state.put(KEY_DRAWS.to_vec(), &list);
}

/// 64 uniform bits from the current block's beacon for `what`.
pub(crate) fn draw_bits(state: &impl StateRead, what: &[&[u8]]) -> u64 {
    let beacon = crate::chain::beacon(state);
    let mut parts: Vec<&[u8]> = vec![beacon.as_bytes()];
    parts.extend_from_slice(what);
    let hash = Hash::of(Domain::Draw, &parts);
    u64::from_le_bytes(hash.0[..8].try_into().expect("8 bytes"))
}

/// A uniform draw below `bound` (at most 2^-40 of bias for the bounds used here).
pub(crate) fn draw_below(state: &impl StateRead, what: &[&[u8]], bound: u64) -> u64 {
    if bound == 0 {
        return 0;
    }
    draw_bits(state, what) % bound
}

/// The verifiers that may be drawn now, in registration order: registered as verifiers, not
/// deregistered or banned, online, healthy, bond not paused, and not too busy.
pub(crate) fn eligible_verifiers(state: &impl StateRead) -> Vec<AccountId> {
    let settings = params(state);
    let node_params = nodes::params(state);
    let now = elapsed_s(state);
    verifiers(state)
        .into_iter()
        .filter(|id| {
            nodes::node(state, id).is_some_and(|record| {
                record.role == Role::Verifier
                    && !record.trust.deregistered
                    && !record.trust.banned
                    && record.healthy
                    && nodes::is_online(&node_params, &record, now)
                    && nodes::standing(&node_params, &record, now) != nodes::Standing::Paused
            }) && duties(state, id).len() < settings.max_duties as usize
        })
        .collect()
}

/// Draws up to `count` distinct verifiers from `eligible` minus `excluded` (a partial
/// Fisher–Yates shuffle on beacon draws), for `what`.
pub(crate) fn draw_verifiers(
    state: &impl StateRead,
    eligible: &[AccountId],
    excluded: &[AccountId],
    count: usize,
    what: &[u8],
) -> Vec<AccountId> {
    let mut pool: Vec<AccountId> = eligible
        .iter()
        .filter(|id| !excluded.contains(id))
        .copied()
        .collect();
    let take = count.min(pool.len());
    for index in 0..take {
        let remaining = (pool.len() - index) as u64;
        let pick =
            index + draw_below(state, &[what, &(index as u64).to_le_bytes()], remaining) as usize;
        pool.swap(index, pick);
    }
    pool.truncate(take);
    pool
}

/// `begin_block`, after incentives and before jobs (so a dispute resolved here settles its task
/// in this block's job hook): first what the previous block left for this block's beacon (result
/// samples, referees, capacity verifiers), then the reminders due now (challenges to issue,
/// deadlines, appeal windows).
pub(crate) fn begin_block(state: &mut Overlay<'_>) {
    let draws: Vec<Draw> = state.get(KEY_DRAWS).unwrap_or_default();
    if !draws.is_empty() {
        state.delete(KEY_DRAWS.to_vec());
        let eligible = eligible_verifiers(state);
        for draw in draws {
            match draw {
                Draw::Result { job_id, task } => {
                    verification::draw_check(state, &eligible, job_id, task);
                }
                Draw::Referees(dispute_id) => disputes::draw_referees(state, &eligible, dispute_id),
                Draw::CapacityVerifier(challenge_id) => {
                    capacity::draw_verifier(state, &eligible, challenge_id);
                }
            }
        }
    }
    let now = elapsed_s(state);
    for timer in crate::timers::take_due::<Timer>(state, TIMERS, now) {
        match timer {
            Timer::IssueChallenge(node) => capacity::issue(state, &node),
            Timer::CommitDue(id) => capacity::commit_due(state, id),
            Timer::VerdictDue(id) => capacity::verdict_due(state, id),
            Timer::RefereesDue(id) => disputes::deadline(state, id),
            Timer::AppealEnds(id) => slashing::appeal_ends(state, id),
        }
    }
}

/// Sets a reminder.
pub(crate) fn remind(state: &mut Overlay<'_>, at_s: u64, timer: Timer) {
    crate::timers::remind(state, TIMERS, at_s, timer);
}

/// `GET /v1/trust`: the parameters and the module accounts' balances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The parameters.
    pub params: TrustParams,
    /// Registered verifiers.
    pub verifiers: Vec<AccountId>,
    /// Verifiers that may be drawn now.
    pub eligible_verifiers: u32,
    /// USD held to pay checks.
    pub fees_usd: Amount,
    /// VCAI of open disputes' deposits.
    pub deposits_vcai: Amount,
    /// VCAI of slashes waiting out their appeal window.
    pub slash_escrow_vcai: Amount,
    /// Disputes opened so far.
    pub disputes: u64,
    /// Capacity challenges issued so far.
    pub challenges: u64,
    /// Slashes so far.
    pub slashes: u64,
}

/// The status.
pub fn status(state: &impl StateRead) -> Status {
    Status {
        params: params(state),
        verifiers: verifiers(state),
        eligible_verifiers: eligible_verifiers(state).len() as u32,
        fees_usd: crate::bank::balance(state, &fees_account(), Denom::Usd),
        deposits_vcai: crate::bank::balance(state, &deposits_account(), Denom::Vcai),
        slash_escrow_vcai: crate::bank::balance(state, &slashing::escrow_account(), Denom::Vcai),
        disputes: disputes::count(state),
        challenges: capacity::count(state),
        slashes: slashing::count(state),
    }
}
