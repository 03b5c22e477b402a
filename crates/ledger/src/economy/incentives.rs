//! The Ecosystem Incentive Pool and the supply-demand controller (whitepaper §2.5.4, §3.4; rules
//! §6).
//!
//! **Release.** The pool (2,000,000,000 VCAI at genesis, module account `incentive_pool`) is
//! released in periods (a week, gov). Period `i` schedules `remaining / max(1, 522 − i)` (rounded
//! down), so the last of the 522 periods takes whatever is left and the whole pool goes out to the
//! base unit, whatever the period length or release fraction did meanwhile. Of the scheduled
//! amount, `release_fraction` (100%, gov) is released as rewards and the rest goes to the grants
//! fund (module account `grants`, spent by proposals). What a closed period does not pay out
//! (budgets no one earned, rebates above their cap, rounding dust) returns to the pool's
//! remaining amount and is released again by later periods; periods past the 522nd release
//! whatever has come back.
//!
//! **Utilization and the controller.** Each period counts CU available, `Σ capacity × online
//! seconds` over heartbeats of compute nodes that are not paused, and CU consumed, the CU of tasks
//! settled (delivered and verified) in the period, in CU × 10^6. `U = consumed / available`
//! (rounded down, 0 when nothing was available, at most 100%: a node whose CU factor understates
//! its hardware cannot push the controller past full use). When a period closes,
//! `P_supply(next) = clip(P_supply + k·(U − U_target), 0, 1)` in ppm, the product rounded toward
//! negative infinity; `P_demand = 1 − P_supply`. The first period uses `P_supply(0) = 0.5`.
//!
//! **Budgets.** A period's release `R` splits into supply `S = R·P_supply` (rounded down) and
//! demand `R − S`; the supply side splits into Proof of Capacity `S·capacity_share` (50%, gov,
//! rounded down), then what is left into the performance bonus (`performance_share` of it, 20%,
//! gov, rounded down) and Proof of Delivery (the rest). So capacity + delivery + performance +
//! rebates + grants is the scheduled amount exactly.
//!
//! **Scores**, per compute node and period:
//! - Proof of Capacity: `Σ over heartbeats of capacity × online seconds × stake factor ×
//!   multi-GPU coefficient` (each product rounded down), divided by `1 + outages`. The stake
//!   factor is the bond over the requirement, at most 1 (more stake buys no more reward). The
//!   multi-GPU coefficient is that of the highest VRAM tier the node's total GPU memory reaches
//!   (1.2 at 96 GB, 1.35 at 192 GB, 1.5 at 384 GB; gov). **Stability** is `1 / (1 + outages)`,
//!   where an outage is a heartbeat arriving after the node had gone offline (silent for the
//!   offline threshold): online seconds already pay for presence, stability pays for not
//!   dropping out. Paused nodes (bond below the requirement past its grace) earn nothing.
//! - Proof of Delivery: `Σ over tasks settled of CU × quality`, where quality is the node's
//!   reputation when the task settles ([`crate::reputation::score_ppm`]: its task record,
//!   checks, uptime, start latency and slashes), counting only CU that passed verification (a
//!   check agreed, the node won its dispute, or the window closed unchallenged).
//!
//! **Long-term incentives** (whitepaper §5.2.2; docs/protocol.md, "Long-term incentives"):
//! - **Loyalty**: the Proof of Capacity score above is multiplied by `1 + min(step × n, max)`
//!   (2% and 25%, gov), `n` the periods the node has been in good standing from start to end.
//!   The streak starts with the node's first heartbeat that counts; a slash, a silence longer
//!   than `loyalty_outage_s` (a day, gov) or a heartbeat while paused restarts it (the period
//!   after is the first full one), and leaving the network ends it.
//! - **Performance bonus**: `Σ over verified tasks of CU × (quality − threshold)` for tasks
//!   whose quality exceeds the threshold (80%, gov), counted like Proof of Delivery (not for
//!   self-dealt, unverified or suspended work) and paid pro rata from its budget.
//! - **Referral**: a compute node may name a referrer within one period of registering
//!   (`NameReferrer`); for `referral_periods` periods from then (26, gov), when the node is
//!   credited, the referrer is credited `referral_share` (5%, gov, rounded down) of the node's
//!   capacity + delivery + performance credit. That is paid from the pool's unreleased amount
//!   (never more than is left), not taken from the node, and later periods' schedules shrink by
//!   it, so the pool still releases exactly its total. The node itself or an account of its DID
//!   ([`crate::bank::related`]) cannot be named and, should they become one DID later, earns
//!   nothing.
//!
//! **Trust** (docs/verification.md). A node on probation (not yet through its first capacity
//! challenge) earns no Proof of Capacity and adds no available CU: its capacity is unproven. A
//! node whose rewards a moderate offence suspended earns neither score until the suspension
//! ends (its capacity still counts as available). A missed or failed capacity challenge forfeits
//! the node's Proof of Capacity for the period.
//!
//! Each node receives `budget × score / Σ scores` of each supply stream, rounded down. A heartbeat
//! counts in the period of the block that carries it (its gap, at most the offline threshold, may
//! have begun in the previous period), and a task in the period of the block that settles it.
//!
//! **Rebates.** A job owner's rebate is `demand budget × USD spent / Σ USD spent` (rounded down),
//! capped at the network fees it paid in the period converted to VCAI at the pool's time-weighted
//! price over the period (rounded down; no price, no rebate). Spending with a node of the same
//! DID counts for nothing: no rebate, no Proof of Delivery, no utilization. Accounts are one DID
//! when they are the same account, when one first funded the other, or when one account first
//! funded both within `related_funding_blocks` blocks ([`crate::bank::related`]).
//! What the caps hold back stays in the pool.
//!
//! **Crediting.** Closing a period records its totals; then `begin_block` credits its members
//! (nodes and spenders) at most `max_credits_per_block` per block, oldest period first, so a
//! period with a million members never makes one block slow. Credits move from the pool to the
//! `incentive_rewards` account and are claimable at any time (`ClaimRewards`); each account keeps
//! its last [`HISTORY_PERIODS`] period rewards. When a period's last member is credited, what is
//! left of its budgets returns to the pool.
//!
//! **Income.** A member's counts also hold the USD its node was paid for tasks settled in the
//! period (self-dealt ones included: income, not a score), and crediting keeps an account's
//! counts of its last [`ACTIVITY_PERIODS`] periods, so that an operator sees income, delivery
//! and outages per period after the period's own records are gone ([`activity`]).
//!
//! Keys (owned here): `incentives/params`, `incentives/cursor`, `incentives/period/{i, 12
//! digits}`, `incentives/member/{i}/{n, 12 digits}`, `incentives/stats/{i}/{hex}`,
//! `incentives/account/{hex}`, `incentives/activity/{hex}`, `incentives/loyalty/{hex}`,
//! `incentives/referral/{hex}`.

use crate::bank;
use crate::error::TxError;
use crate::nodes;
use crate::pool;
use crate::state::{Overlay, StateRead};
use crate::vesting::elapsed_s;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use vcity_types::compute::NodeRecord;
use vcity_types::event::Event;
use vcity_types::incentives::{LongTermParams, PeriodReward, RewardParts, VramTier, MAX_TIERS};
use vcity_types::{AccountId, Amount, Denom, Rounding};

/// Periods of rewards an account's history keeps.
pub const HISTORY_PERIODS: usize = 26;
/// Closed periods [`status`] shows.
pub const RECENT_PERIODS: u64 = 8;
/// Most period boundaries one block crosses (a chain halted for longer catches up over blocks).
pub const MAX_PERIODS_PER_BLOCK: u32 = 16;
const PPM: u128 = 1_000_000;
/// Longest period: four years (T_max, rules §7), so that a period always ends.
pub const MAX_PERIOD_S: u64 = 126_230_400;

/// The pool's unreleased VCAI and the budgets of periods not yet fully credited.
pub fn pool_account() -> AccountId {
    crate::vesting::incentive_pool_account()
}

/// Credited, unclaimed rewards.
pub fn rewards_account() -> AccountId {
    AccountId::module("incentive_rewards")
}

/// The grants fund: what periods do not release (spent by proposals).
pub fn grants_account() -> AccountId {
    AccountId::module("grants")
}

/// Governance parameters (rules §6 defaults).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default)]
pub struct IncentiveParams {
    /// Period length (a week); a change applies from the next period.
    pub period_s: u64,
    /// Periods the pool is released over (522).
    pub total_periods: u64,
    /// Share of each period's scheduled amount released as rewards, ppm (100%).
    pub release_fraction_ppm: u32,
    /// Share of the supply side paid as Proof of Capacity, ppm (50%).
    pub capacity_share_ppm: u32,
    /// Controller coefficient k, ppm (0.1).
    pub k_ppm: u32,
    /// Target utilization, ppm (80%).
    pub target_utilization_ppm: u32,
    /// P_supply of the first period, ppm (50%).
    pub initial_supply_share_ppm: u32,
    /// Multi-GPU coefficient tiers by total VRAM.
    pub vram_tiers: Vec<VramTier>,
    /// Accounts credited per block at most.
    pub max_credits_per_block: u32,
    /// Loyalty, referral and the performance bonus.
    pub long_term: LongTermParams,
}

impl Default for IncentiveParams {
    fn default() -> Self {
        // rules §6's tiers are vendor gigabytes (10^9 bytes), in MiB rounded up: four 24 GB
        // cards, which NVML reports as 24,564 MiB each, reach the 96 GB tier.
        let tier = |gb: u64, coefficient_ppm| VramTier {
            min_vram_mib: (gb * 1_000_000_000).div_ceil(1 << 20),
            coefficient_ppm,
        };
        IncentiveParams {
            period_s: 7 * 86_400,
            total_periods: 522,
            release_fraction_ppm: 1_000_000,
            capacity_share_ppm: 500_000,
            k_ppm: 100_000,
            target_utilization_ppm: 800_000,
            initial_supply_share_ppm: 500_000,
            vram_tiers: vec![
                tier(96, 1_200_000),
                tier(192, 1_350_000),
                tier(384, 1_500_000),
            ],
            max_credits_per_block: 1_000,
            long_term: LongTermParams::default(),
        }
    }
}

impl IncentiveParams {
    /// Why the parameters cannot work, if they cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.period_s == 0 || self.total_periods == 0 || self.max_credits_per_block == 0 {
            return Err(
                "period length, period count and credits per block must be positive".into(),
            );
        }
        if self.period_s > MAX_PERIOD_S {
            return Err(format!("a period is at most {MAX_PERIOD_S} s (4 years)"));
        }
        for (name, value) in [
            ("release fraction", self.release_fraction_ppm),
            ("capacity share", self.capacity_share_ppm),
            ("target utilization", self.target_utilization_ppm),
            ("initial supply share", self.initial_supply_share_ppm),
            ("k", self.k_ppm),
        ] {
            if u128::from(value) > PPM {
                return Err(format!("{name} is at most 1,000,000 ppm"));
            }
        }
        validate_vram_tiers(&self.vram_tiers)?;
        self.long_term.validate()
    }
}

/// Tiers: at most [`MAX_TIERS`], coefficients at least 1.
pub fn validate_vram_tiers(tiers: &[VramTier]) -> Result<(), String> {
    if tiers.len() > MAX_TIERS {
        return Err(format!("at most {MAX_TIERS} VRAM tiers"));
    }
    if tiers
        .iter()
        .any(|tier| u128::from(tier.coefficient_ppm) < PPM || tier.coefficient_ppm > 10_000_000)
    {
        return Err("a VRAM tier's coefficient is between 1,000,000 and 10,000,000 ppm".into());
    }
    Ok(())
}

/// Score totals of a period.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct Totals {
    /// Σ Proof of Capacity scores.
    pub capacity_score: u128,
    /// Σ Proof of Delivery scores.
    pub delivery_score: u128,
    /// Σ performance bonus scores.
    pub performance_score: u128,
    /// Σ USD spent (rebate-eligible).
    pub spent_usd: Amount,
}

/// One incentive period.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Period {
    /// Index, from 0 at genesis.
    pub index: u64,
    /// Start, seconds after genesis.
    pub start_s: u64,
    /// Length, fixed when it opened.
    pub length_s: u64,
    /// P_supply, ppm.
    pub supply_share_ppm: u64,
    /// Taken out of the pool: rewards plus grants.
    pub scheduled: Amount,
    /// Sent to the grants fund.
    pub grants: Amount,
    /// Budgets of the streams (they add up to `scheduled − grants`; `referral` is always zero).
    pub budget: RewardParts,
    /// CU × 10^6 available (Σ capacity × online seconds).
    pub available_cu_ppm: u128,
    /// CU × 10^6 consumed (verified, settled, not self-dealt).
    pub consumed_cu_ppm: u128,
    /// Score totals.
    pub totals: Totals,
    /// Accounts with a score or spending.
    pub members: u64,
    /// The pool's price accumulator when it opened.
    pub cumulative_price_at_start: u128,
    /// Closed: utilization, ppm (0 while open).
    pub utilization_ppm: u64,
    /// Closed: the pool's time-weighted price over the period (USD base per VCAI base × 10^30).
    pub price: u128,
    /// Closed: whether it has ended.
    pub closed: bool,
    /// Members credited so far.
    pub credited_members: u64,
    /// Credited so far; `referral` was paid from the pool's unreleased amount, the rest from the
    /// budgets.
    pub credited: RewardParts,
    /// Returned to the pool when the last member was credited.
    pub returned: Amount,
    /// Every member credited.
    pub settled: bool,
}

impl Period {
    /// When it ends, seconds after genesis.
    pub fn end_s(&self) -> u64 {
        self.start_s.saturating_add(self.length_s)
    }

    /// Released as rewards.
    pub fn released(&self) -> Amount {
        self.budget.total().expect("budgets fit the pool")
    }
}

/// One account's counts in one period.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct Member {
    /// CU × 10^6 of capacity online (capacity × online seconds).
    pub available_cu_ppm: u128,
    /// Capacity × online seconds × stake factor × VRAM coefficient, before stability.
    pub capacity_raw: u128,
    /// Outages (returns after going offline).
    pub outages: u32,
    /// CU × 10^6 delivered.
    pub delivered_cu_ppm: u128,
    /// Σ CU × quality.
    pub delivery_score: u128,
    /// Σ CU × (quality − the performance threshold), over tasks whose quality exceeded it.
    pub performance_score: u128,
    /// USD spent with other accounts' nodes.
    pub spent_usd: Amount,
    /// Network fees paid on that spending.
    pub fees_usd: Amount,
    /// A capacity challenge failed or was missed this period: no Proof of Capacity and no
    /// available CU for the rest of it.
    pub forfeited: bool,
    /// USD its node was paid for tasks settled in the period, after the network fee (self-dealt
    /// tasks included: this is income, not a score).
    pub earned_usd: Amount,
}

impl Member {
    /// Proof of Capacity score: raw over `1 + outages`, rounded down; 0 once forfeited.
    pub fn capacity_score(&self) -> u128 {
        if self.forfeited {
            return 0;
        }
        self.capacity_raw / (u128::from(self.outages) + 1)
    }
}

/// An account's incentive rewards.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct RewardAccount {
    /// Credited, not claimed.
    pub unclaimed: RewardParts,
    /// Credited, all time.
    pub total: RewardParts,
    /// The last [`HISTORY_PERIODS`] periods with a reward, oldest first.
    pub history: Vec<PeriodReward>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
struct Cursor {
    /// Unreleased VCAI in the pool (the pool account also holds open periods' budgets).
    remaining: Amount,
    /// The open period.
    current: u64,
    /// The oldest period not fully credited.
    settle_next: u64,
    /// Whether period 0 has opened.
    started: bool,
}

const KEY_PARAMS: &[u8] = b"incentives/params";
const KEY_CURSOR: &[u8] = b"incentives/cursor";

fn period_key(index: u64) -> Vec<u8> {
    format!("incentives/period/{index:012}").into_bytes()
}

fn member_key(index: u64, n: u64) -> Vec<u8> {
    format!("incentives/member/{index:012}/{n:012}").into_bytes()
}

fn stats_key(index: u64, account: &AccountId) -> Vec<u8> {
    format!("incentives/stats/{index:012}/{}", account.to_hex()).into_bytes()
}

fn account_key(account: &AccountId) -> Vec<u8> {
    format!("incentives/account/{}", account.to_hex()).into_bytes()
}

fn activity_key(account: &AccountId) -> Vec<u8> {
    format!("incentives/activity/{}", account.to_hex()).into_bytes()
}

fn loyalty_key(node: &AccountId) -> Vec<u8> {
    format!("incentives/loyalty/{}", node.to_hex()).into_bytes()
}

fn referral_key(node: &AccountId) -> Vec<u8> {
    format!("incentives/referral/{}", node.to_hex()).into_bytes()
}

/// A compute node's loyalty streak.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Loyalty {
    /// The first period the node is in good standing for from start to end; each period from
    /// this one on that has ended adds a step.
    pub first_full_period: u64,
}

/// A node's referrer.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct Referral {
    /// Who referred the node.
    pub referrer: AccountId,
    /// The period it was named in: the first whose rewards it shares.
    pub from_period: u64,
    /// The first period whose rewards it no longer shares.
    pub until_period: u64,
}

/// How many credited periods' counts an account keeps for its operator's view.
pub const ACTIVITY_PERIODS: usize = 8;

/// The parameters.
pub fn params(state: &impl StateRead) -> IncentiveParams {
    state.get(KEY_PARAMS).unwrap_or_default()
}

fn cursor(state: &impl StateRead) -> Cursor {
    state.get(KEY_CURSOR).unwrap_or_default()
}

/// Genesis: the parameters and the pool's starting amount (the first block opens period 0).
pub(crate) fn init(state: &mut Overlay<'_>, params: &IncentiveParams, pool: Amount) {
    state.put(KEY_PARAMS.to_vec(), params);
    state.put(
        KEY_CURSOR.to_vec(),
        &Cursor {
            remaining: pool,
            ..Cursor::default()
        },
    );
}

/// A period (open or closed).
pub fn period(state: &impl StateRead, index: u64) -> Option<Period> {
    state.get(&period_key(index))
}

/// The open period (none before the first block).
pub fn current(state: &impl StateRead) -> Option<Period> {
    let at = cursor(state);
    if at.started {
        period(state, at.current)
    } else {
        None
    }
}

/// Unreleased VCAI.
pub fn remaining(state: &impl StateRead) -> Amount {
    cursor(state).remaining
}

/// The open period's index (0 before the first block).
pub fn current_index(state: &impl StateRead) -> u64 {
    cursor(state).current
}

/// An account's counts in the open period.
pub fn member(state: &impl StateRead, account: &AccountId) -> Option<Member> {
    let at = cursor(state);
    if !at.started {
        return None;
    }
    state.get(&stats_key(at.current, account))
}

/// `account`'s counts in the open period and the periods before it that it has any in, newest
/// first, at most `count`: those not yet credited from the period's own records, the credited
/// ones from the last [`ACTIVITY_PERIODS`] kept when they were credited.
pub fn activity(state: &impl StateRead, account: &AccountId, count: usize) -> Vec<(u64, Member)> {
    let at = cursor(state);
    if !at.started || count == 0 {
        return Vec::new();
    }
    let kept: Vec<(u64, Member)> = state.get(&activity_key(account)).unwrap_or_default();
    let oldest_kept = kept.first().map_or(0, |(period, _)| *period);
    let mut out: Vec<(u64, Member)> = (oldest_kept..=at.current)
        .rev()
        .take(ACTIVITY_PERIODS + 1)
        .filter_map(|index| {
            state
                .get::<Member>(&stats_key(index, account))
                .map(|stats| (index, stats))
        })
        .collect();
    for (period, stats) in kept.into_iter().rev() {
        if !out.iter().any(|(seen, _)| *seen == period) {
            out.push((period, stats));
        }
    }
    out.sort_by_key(|(period, _)| std::cmp::Reverse(*period));
    out.truncate(count);
    out
}

/// An account's rewards.
pub fn account(state: &impl StateRead, account: &AccountId) -> RewardAccount {
    state.get(&account_key(account)).unwrap_or_default()
}

/// The multi-GPU coefficient for `total_vram_mib`, ppm.
pub fn vram_coefficient_ppm(params: &IncentiveParams, total_vram_mib: u64) -> u64 {
    params
        .vram_tiers
        .iter()
        .filter(|tier| total_vram_mib >= tier.min_vram_mib)
        .map(|tier| u64::from(tier.coefficient_ppm))
        .max()
        .unwrap_or(1_000_000)
}

/// The controller: `clip(share + k·(U − target), 0, 10^6)`, ppm, the product rounded toward
/// negative infinity.
pub fn next_supply_share_ppm(
    share_ppm: u64,
    utilization_ppm: u64,
    k_ppm: u32,
    target_ppm: u32,
) -> u64 {
    let error = i128::from(utilization_ppm) - i128::from(target_ppm);
    let step = (i128::from(k_ppm) * error).div_euclid(1_000_000);
    let next = (i128::from(share_ppm) + step).clamp(0, 1_000_000);
    u64::try_from(next).expect("clamped")
}

/// Utilization, ppm: consumed over available, rounded down, 0 when nothing was available, at most
/// 10^6.
pub fn utilization_ppm(consumed_cu_ppm: u128, available_cu_ppm: u128) -> u64 {
    if available_cu_ppm == 0 {
        return 0;
    }
    let ratio = vcity_types::wide::mul_div(consumed_cu_ppm, PPM, available_cu_ppm, Rounding::Down)
        .unwrap_or(PPM);
    u64::try_from(ratio.min(PPM)).expect("at most 10^6")
}

/// What period `index` takes out of a pool with `remaining`: (scheduled, grants, budgets).
pub fn schedule(
    params: &IncentiveParams,
    index: u64,
    remaining: Amount,
    supply_share_ppm: u64,
) -> (Amount, Amount, RewardParts) {
    let periods_left = params.total_periods.saturating_sub(index).max(1);
    let down = |amount: Amount, numerator: u128, denominator: u128| {
        amount
            .mul_div(numerator, denominator, Rounding::Down)
            .expect("a fraction fits")
    };
    let scheduled = down(remaining, 1, u128::from(periods_left));
    let released = down(scheduled, u128::from(params.release_fraction_ppm), PPM);
    let grants = scheduled.checked_sub(released).expect("a fraction");
    let supply = down(released, u128::from(supply_share_ppm), PPM);
    let capacity = down(supply, u128::from(params.capacity_share_ppm), PPM);
    let after_capacity = supply.checked_sub(capacity).expect("a fraction");
    let performance = down(
        after_capacity,
        u128::from(params.long_term.performance_share_ppm),
        PPM,
    );
    let budget = RewardParts {
        capacity,
        delivery: after_capacity.checked_sub(performance).expect("a fraction"),
        performance,
        rebate: released.checked_sub(supply).expect("a fraction"),
        referral: Amount::ZERO,
    };
    (scheduled, grants, budget)
}

/// Opens period `index` at `start_s`, taking its schedule out of the pool.
fn open(state: &mut Overlay<'_>, at: &mut Cursor, index: u64, start_s: u64, share_ppm: u64) {
    let settings = params(state);
    let (scheduled, grants, budget) = schedule(&settings, index, at.remaining, share_ppm);
    at.remaining = at.remaining.checked_sub(scheduled).expect("a fraction");
    if !grants.is_zero() {
        bank::transfer(
            state,
            &pool_account(),
            &grants_account(),
            Denom::Vcai,
            grants,
        )
        .expect("the pool holds what it has not released");
    }
    let opened = Period {
        index,
        start_s,
        length_s: settings.period_s.max(1),
        supply_share_ppm: share_ppm,
        scheduled,
        grants,
        budget,
        available_cu_ppm: 0,
        consumed_cu_ppm: 0,
        totals: Totals::default(),
        members: 0,
        cumulative_price_at_start: pool::cumulative_at(state, start_s),
        utilization_ppm: 0,
        price: 0,
        closed: false,
        credited_members: 0,
        credited: RewardParts::default(),
        returned: Amount::ZERO,
        settled: false,
    };
    let previous_utilization_ppm = index
        .checked_sub(1)
        .and_then(|previous| period(state, previous))
        .map_or(0, |previous| previous.utilization_ppm);
    state.emit(Event::IncentivePeriodStarted {
        period: index,
        previous_utilization_ppm,
        supply_share_ppm: share_ppm,
        released: opened.released(),
        grants,
    });
    state.put(period_key(index), &opened);
    at.current = index;
}

/// `begin_block`, after the distributor and before jobs (so this block's settlements count in the
/// period they happen in): closes every period that has ended and opens the next, then credits
/// closed periods' members.
pub(crate) fn begin_block(state: &mut Overlay<'_>) {
    let now = elapsed_s(state);
    let before = cursor(state);
    let mut at = before;
    let settings = params(state);
    if !at.started {
        at.started = true;
        open(
            state,
            &mut at,
            0,
            0,
            u64::from(settings.initial_supply_share_ppm),
        );
    }
    for _ in 0..MAX_PERIODS_PER_BLOCK {
        let mut closing = period(state, at.current).expect("the open period exists");
        if now < closing.end_s() {
            break;
        }
        closing.closed = true;
        closing.utilization_ppm =
            utilization_ppm(closing.consumed_cu_ppm, closing.available_cu_ppm);
        let end_s = closing.end_s();
        closing.price = pool::cumulative_at(state, end_s)
            .wrapping_sub(closing.cumulative_price_at_start)
            / u128::from(closing.length_s);
        if closing.price == 0 {
            closing.price = pool::spot_price(&pool::reserves(state));
        }
        state.put(period_key(closing.index), &closing);
        let settings = params(state);
        let share = next_supply_share_ppm(
            closing.supply_share_ppm,
            closing.utilization_ppm,
            settings.k_ppm,
            settings.target_utilization_ppm,
        );
        open(state, &mut at, closing.index + 1, end_s, share);
    }
    credit(state, &mut at, settings.max_credits_per_block);
    // Most blocks change nothing here; an unchanged cursor is not rewritten (every write costs a
    // Merkle update).
    if at != before {
        state.put(KEY_CURSOR.to_vec(), &at);
    }
}

/// Credits closed periods' members, oldest first, at most `budget` of them.
fn credit(state: &mut Overlay<'_>, at: &mut Cursor, mut budget: u32) {
    while at.settle_next < at.current {
        let mut closed = period(state, at.settle_next).expect("closed periods are kept");
        while closed.credited_members < closed.members && budget > 0 {
            credit_member(state, at, &mut closed);
            budget -= 1;
        }
        if closed.credited_members < closed.members {
            state.put(period_key(closed.index), &closed);
            return;
        }
        let credited = closed.credited.budgeted().expect("within the budgets");
        closed.returned = closed
            .released()
            .checked_sub(credited)
            .expect("credits never exceed the budgets");
        closed.settled = true;
        at.remaining = at
            .remaining
            .checked_add(closed.returned)
            .expect("within the pool");
        state.emit(Event::IncentivePeriodSettled {
            period: closed.index,
            credited: closed.credited,
            returned: closed.returned,
        });
        state.put(period_key(closed.index), &closed);
        at.settle_next += 1;
    }
}

/// `share × numerator / denominator`, rounded down; zero when the denominator is.
fn pro_rata(share: Amount, numerator: u128, denominator: u128) -> Amount {
    if denominator == 0 {
        return Amount::ZERO;
    }
    share
        .mul_div(numerator, denominator, Rounding::Down)
        .expect("a fraction of a budget")
}

fn credit_member(state: &mut Overlay<'_>, at: &mut Cursor, closed: &mut Period) {
    let n = closed.credited_members;
    closed.credited_members += 1;
    let Some(account) = state.get::<AccountId>(&member_key(closed.index, n)) else {
        return;
    };
    state.delete(member_key(closed.index, n));
    let stats: Member = state
        .get(&stats_key(closed.index, &account))
        .unwrap_or_default();
    state.delete(stats_key(closed.index, &account));
    // The operator's view keeps the period's counts (income, delivery, outages) after its
    // records go.
    let mut kept: Vec<(u64, Member)> = state.get(&activity_key(&account)).unwrap_or_default();
    if kept.len() >= ACTIVITY_PERIODS {
        kept.remove(0);
    }
    kept.push((closed.index, stats));
    state.put(activity_key(&account), &kept);
    let totals = closed.totals;
    let fee_cap = if closed.price == 0 {
        Amount::ZERO
    } else {
        stats
            .fees_usd
            .mul_div(pool::PRICE_SCALE, closed.price, Rounding::Down)
            .unwrap_or(Amount::new(u128::MAX))
    };
    let parts = RewardParts {
        capacity: pro_rata(
            closed.budget.capacity,
            stats.capacity_score(),
            totals.capacity_score,
        ),
        delivery: pro_rata(
            closed.budget.delivery,
            stats.delivery_score,
            totals.delivery_score,
        ),
        performance: pro_rata(
            closed.budget.performance,
            stats.performance_score,
            totals.performance_score,
        ),
        rebate: pro_rata(
            closed.budget.rebate,
            stats.spent_usd.base_units(),
            totals.spent_usd.base_units(),
        )
        .min(fee_cap),
        referral: Amount::ZERO,
    };
    let total = parts.total().expect("within the budgets");
    if total.is_zero() {
        return;
    }
    closed.credited = closed.credited.checked_add(&parts).expect("within budgets");
    assert!(
        closed.credited.capacity <= closed.budget.capacity
            && closed.credited.delivery <= closed.budget.delivery
            && closed.credited.performance <= closed.budget.performance
            && closed.credited.rebate <= closed.budget.rebate,
        "invariant broken: period {} credited more than its budgets",
        closed.index
    );
    bank::transfer(
        state,
        &pool_account(),
        &rewards_account(),
        Denom::Vcai,
        total,
    )
    .expect("the pool holds the open budgets");
    add_credit(state, &account, closed.index, parts);
    credit_referrer(state, at, closed, &account, &parts);
}

/// Adds `parts` for `period` to `account`'s rewards (one history entry per period: a referrer
/// may be credited for a period more than once) and says so.
fn add_credit(state: &mut Overlay<'_>, account: &AccountId, period: u64, parts: RewardParts) {
    let mut record = self::account(state, account);
    record.unclaimed = record.unclaimed.checked_add(&parts).expect("fits");
    record.total = record.total.checked_add(&parts).expect("fits");
    match record.history.last_mut() {
        Some(last) if last.period == period => {
            last.parts = last.parts.checked_add(&parts).expect("fits");
        }
        _ => {
            if record.history.len() >= HISTORY_PERIODS {
                record.history.remove(0);
            }
            record.history.push(PeriodReward { period, parts });
        }
    }
    state.put(account_key(account), &record);
    state.emit(Event::IncentivesCredited {
        account: *account,
        period,
        parts,
    });
}

/// The referral: `node`'s referrer, while the referral lasts and the two are not one DID, earns
/// `referral_share` of what `node` earned by its work in `closed`, rounded down, paid from the
/// pool's unreleased amount (never more than is left of it).
fn credit_referrer(
    state: &mut Overlay<'_>,
    at: &mut Cursor,
    closed: &mut Period,
    node: &AccountId,
    parts: &RewardParts,
) {
    let Some(referral) = referral(state, node) else {
        return;
    };
    if closed.index < referral.from_period || closed.index >= referral.until_period {
        return;
    }
    let window = crate::trust::params(state).related_funding_blocks;
    if bank::related(state, &referral.referrer, node, window) {
        return;
    }
    let share = params(state).long_term.referral_share_ppm;
    let amount = parts
        .node_work()
        .expect("within the budgets")
        .mul_div(u128::from(share), PPM, Rounding::Down)
        .expect("a fraction")
        .min(at.remaining);
    if amount.is_zero() {
        return;
    }
    at.remaining = at
        .remaining
        .checked_sub(amount)
        .expect("at most what is left");
    closed.credited.referral = closed.credited.referral.checked_add(amount).expect("fits");
    bank::transfer(
        state,
        &pool_account(),
        &rewards_account(),
        Denom::Vcai,
        amount,
    )
    .expect("the pool holds its unreleased amount");
    add_credit(
        state,
        &referral.referrer,
        closed.index,
        RewardParts {
            referral: amount,
            ..RewardParts::default()
        },
    );
}

/// `node`'s referrer, if it named one.
pub fn referral(state: &impl StateRead, node: &AccountId) -> Option<Referral> {
    state.get(&referral_key(node))
}

/// `node`'s loyalty streak, if it has one.
pub fn loyalty(state: &impl StateRead, node: &AccountId) -> Option<Loyalty> {
    state.get(&loyalty_key(node))
}

/// The loyalty multiplier of `node` in period `index`, ppm (see [`loyalty_multiplier_ppm`]).
pub fn loyalty_ppm(state: &impl StateRead, node: &AccountId, index: u64) -> u64 {
    loyalty_multiplier_ppm(&params(state).long_term, loyalty(state, node), index)
}

/// The loyalty multiplier of a node with `streak` in period `index`, ppm: `10^6 + min(step ×
/// full periods of good standing before it, max)`; 10^6 without a streak.
pub fn loyalty_multiplier_ppm(
    settings: &LongTermParams,
    streak: Option<Loyalty>,
    index: u64,
) -> u64 {
    let periods = streak.map_or(0, |streak| index.saturating_sub(streak.first_full_period));
    let bonus = periods
        .saturating_mul(u64::from(settings.loyalty_step_ppm))
        .min(u64::from(settings.loyalty_max_ppm));
    1_000_000 + bonus
}

/// Restarts `node`'s loyalty streak: the period after this one is its first full period. Said
/// once per period (a paused node's heartbeats restart it again and again).
pub(crate) fn reset_loyalty(state: &mut Overlay<'_>, node: &AccountId) {
    let at = cursor(state);
    let first_full_period = at.current + 1;
    let restarted = Loyalty { first_full_period };
    if loyalty(state, node) == Some(restarted) {
        return;
    }
    state.put(loyalty_key(node), &restarted);
    state.emit(Event::LoyaltyReset {
        node: *node,
        period: first_full_period,
    });
}

/// A node left: its streak ends (a returning node starts a new one).
pub(crate) fn end_loyalty(state: &mut Overlay<'_>, node: &AccountId) {
    state.delete(loyalty_key(node));
}

/// `NameReferrer`: a compute node, within one period of registering, once; not itself, not an
/// account of its DID.
pub(crate) fn execute_name_referrer(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &vcity_types::compute::NameReferrer,
) -> Result<(), TxError> {
    let node = nodes::node(state, sender)
        .filter(|node| !node.trust.deregistered)
        .ok_or_else(|| TxError::NotFound(format!("account {sender} is not a registered node")))?;
    if node.role != vcity_types::compute::Role::Compute {
        return Err(TxError::InvalidNode(
            "only compute nodes earn incentive rewards, so only they name a referrer".into(),
        ));
    }
    if referral(state, sender).is_some() {
        return Err(TxError::Duplicate(
            "this node has already named its referrer".into(),
        ));
    }
    let settings = params(state);
    let now = elapsed_s(state);
    let deadline_s = node.registered_s.saturating_add(settings.period_s);
    if now > deadline_s {
        return Err(TxError::WindowClosed(format!(
            "a node names its referrer within {} s of registering (until {deadline_s} s)",
            settings.period_s
        )));
    }
    let window = crate::trust::params(state).related_funding_blocks;
    if bank::related(state, &message.referrer, sender, window) {
        return Err(TxError::InvalidNode(
            "the referrer is this node or shares its funding source (one DID); it would earn \
             nothing"
                .into(),
        ));
    }
    let from_period = current_index(state);
    let until_period = from_period.saturating_add(u64::from(settings.long_term.referral_periods));
    state.put(
        referral_key(sender),
        &Referral {
            referrer: message.referrer,
            from_period,
            until_period,
        },
    );
    state.emit(Event::ReferrerNamed {
        node: *sender,
        referrer: message.referrer,
        until_period,
    });
    Ok(())
}

/// Applies `update` to `account`'s counts in the open period (adding it to the members) and keeps
/// the period's totals in step.
fn update_member(state: &mut Overlay<'_>, account: &AccountId, update: impl FnOnce(&mut Member)) {
    let at = cursor(state);
    if !at.started {
        return;
    }
    let mut open = period(state, at.current).expect("the open period exists");
    let key = stats_key(open.index, account);
    let before: Option<Member> = state.get(&key);
    let is_new = before.is_none();
    let before = before.unwrap_or_default();
    let mut stats = before;
    update(&mut stats);
    if is_new {
        state.put(member_key(open.index, open.members), account);
        open.members += 1;
    }
    // Counts only grow, so each total moves by the member's change.
    let totals = &mut open.totals;
    totals.capacity_score =
        totals.capacity_score - before.capacity_score() + stats.capacity_score();
    totals.delivery_score += stats.delivery_score - before.delivery_score;
    totals.performance_score += stats.performance_score - before.performance_score;
    totals.spent_usd = totals
        .spent_usd
        .checked_add(
            stats
                .spent_usd
                .checked_sub(before.spent_usd)
                .expect("grows"),
        )
        .expect("fits");
    open.available_cu_ppm += stats.available_cu_ppm - before.available_cu_ppm;
    open.consumed_cu_ppm += stats.delivered_cu_ppm - before.delivered_cu_ppm;
    state.put(key, &stats);
    state.put(period_key(open.index), &open);
}

/// From a heartbeat: `node` was online for `online_s` seconds with `stake_factor_ppm`.
pub(crate) fn record_capacity(
    state: &mut Overlay<'_>,
    node: &NodeRecord,
    online_s: u64,
    stake_factor_ppm: u64,
) {
    if node.trust.probation {
        return;
    }
    let settings = params(state);
    let coefficient = vram_coefficient_ppm(&settings, nodes::total_vram_mib(&node.hardware));
    let available = u128::from(node.capacity_cu_ppm) * u128::from(online_s);
    let suspended = node.trust.rewards_suspended_until_period > current_index(state);
    let index = current_index(state);
    let streak = match loyalty(state, &node.id) {
        Some(streak) => streak,
        None => {
            // The streak starts with the first heartbeat that counts.
            let started = Loyalty {
                first_full_period: index + 1,
            };
            state.put(loyalty_key(&node.id), &started);
            started
        }
    };
    let loyalty = u128::from(loyalty_multiplier_ppm(
        &settings.long_term,
        Some(streak),
        index,
    ));
    let weighted = if suspended {
        0
    } else {
        available * u128::from(stake_factor_ppm) / PPM * u128::from(coefficient) / PPM * loyalty
            / PPM
    };
    update_member(state, &node.id, |stats| {
        if !stats.forfeited {
            stats.available_cu_ppm = stats.available_cu_ppm.saturating_add(available);
            stats.capacity_raw = stats.capacity_raw.saturating_add(weighted);
        }
    });
}

/// From a heartbeat after the node had gone offline for `silent_s`: an outage, and a silence
/// longer than the loyalty outage restarts the loyalty streak.
pub(crate) fn record_outage(state: &mut Overlay<'_>, node: &NodeRecord, silent_s: u64) {
    update_member(state, &node.id, |stats| {
        stats.outages = stats.outages.saturating_add(1);
    });
    if silent_s > params(state).long_term.loyalty_outage_s {
        reset_loyalty(state, &node.id);
    }
}

/// From a settlement: `node` delivered `cu_ppm` for `owner`, who paid `cost_usd` of which
/// `fee_usd` went to the treasury and `node_usd` to the node; `verified` when the CU passed
/// verification. The node's income is counted in every case; beyond it, self-dealing (owner and
/// node one DID) counts for nothing, and unverified CU earns no Proof of Delivery and no
/// utilization.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record_settlement(
    state: &mut Overlay<'_>,
    owner: &AccountId,
    node: &NodeRecord,
    cu_ppm: u64,
    cost_usd: Amount,
    fee_usd: Amount,
    node_usd: Amount,
    verified: bool,
) {
    if !node_usd.is_zero() {
        update_member(state, &node.id, |stats| {
            stats.earned_usd = stats.earned_usd.checked_add(node_usd).expect("fits");
        });
    }
    let window = crate::trust::params(state).related_funding_blocks;
    if crate::bank::related(state, owner, &node.id, window) {
        return;
    }
    if verified {
        let start_deadline_s = crate::jobs::params(state).start_deadline_s;
        let quality = u128::from(crate::reputation::score_ppm(node, start_deadline_s));
        let suspended = node.trust.rewards_suspended_until_period > current_index(state);
        let delivered = u128::from(cu_ppm);
        let threshold = u128::from(params(state).long_term.performance_min_reputation_ppm);
        let performance = delivered * quality.saturating_sub(threshold) / PPM;
        update_member(state, &node.id, |stats| {
            stats.delivered_cu_ppm = stats.delivered_cu_ppm.saturating_add(delivered);
            if !suspended {
                stats.delivery_score = stats
                    .delivery_score
                    .saturating_add(delivered * quality / PPM);
                stats.performance_score = stats.performance_score.saturating_add(performance);
            }
        });
    }
    if !cost_usd.is_zero() {
        update_member(state, owner, |stats| {
            stats.spent_usd = stats.spent_usd.checked_add(cost_usd).expect("fits");
            stats.fees_usd = stats.fees_usd.checked_add(fee_usd).expect("fits");
        });
    }
}

/// A node missed or failed a capacity challenge: its Proof of Capacity score and available CU
/// for the open period are forfeited (its capacity was unproven).
pub(crate) fn forfeit_capacity(state: &mut Overlay<'_>, account: &AccountId) {
    let at = cursor(state);
    if !at.started {
        return;
    }
    let key = stats_key(at.current, account);
    let Some(mut stats) = state.get::<Member>(&key) else {
        return;
    };
    let mut open = period(state, at.current).expect("the open period exists");
    open.totals.capacity_score -= stats.capacity_score();
    open.available_cu_ppm -= stats.available_cu_ppm;
    stats.capacity_raw = 0;
    stats.available_cu_ppm = 0;
    stats.forfeited = true;
    state.put(key, &stats);
    state.put(period_key(open.index), &open);
}

/// Incentive rewards `account` can claim now.
pub fn claimable(state: &impl StateRead, account: &AccountId) -> Amount {
    self::account(state, account)
        .unclaimed
        .total()
        .expect("credits fit")
}

/// The incentive half of `ClaimRewards`.
pub(crate) fn execute_claim(state: &mut Overlay<'_>, sender: &AccountId) -> Result<(), TxError> {
    let mut record = account(state, sender);
    let amount = record.unclaimed.total()?;
    if amount.is_zero() {
        return Err(TxError::NothingToClaim(
            "no incentive rewards credited since the last claim".into(),
        ));
    }
    record.unclaimed = RewardParts::default();
    state.put(account_key(sender), &record);
    bank::transfer(state, &rewards_account(), sender, Denom::Vcai, amount)?;
    state.emit(Event::IncentivesClaimed {
        account: *sender,
        amount,
    });
    Ok(())
}

/// `SetParam` for an incentive parameter (the caller checked the authority).
pub(crate) fn set_params(
    state: &mut Overlay<'_>,
    change: impl FnOnce(&mut IncentiveParams),
) -> Result<(), TxError> {
    let mut settings = params(state);
    change(&mut settings);
    settings.validate().map_err(TxError::InvalidParam)?;
    state.put(KEY_PARAMS.to_vec(), &settings);
    Ok(())
}

/// `GET /v1/incentives`: the open period, the recent closed ones and the pools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The parameters.
    pub params: IncentiveParams,
    /// Unreleased VCAI.
    pub remaining: Amount,
    /// VCAI in the pool account (unreleased plus budgets not yet credited).
    pub pool_vcai: Amount,
    /// VCAI in the grants fund.
    pub grants_vcai: Amount,
    /// Credited, unclaimed VCAI.
    pub unclaimed_vcai: Amount,
    /// The open period.
    pub current: Option<Period>,
    /// Utilization of the open period so far, ppm.
    pub utilization_so_far_ppm: u64,
    /// Up to [`RECENT_PERIODS`] closed periods, newest first.
    pub recent: Vec<Period>,
}

/// The status.
pub fn status(state: &impl StateRead) -> Status {
    let at = cursor(state);
    let current = current(state);
    let recent = if at.started {
        (at.current.saturating_sub(RECENT_PERIODS)..at.current)
            .rev()
            .filter_map(|index| period(state, index))
            .collect()
    } else {
        Vec::new()
    };
    Status {
        params: params(state),
        remaining: at.remaining,
        pool_vcai: bank::balance(state, &pool_account(), Denom::Vcai),
        grants_vcai: bank::balance(state, &grants_account(), Denom::Vcai),
        unclaimed_vcai: bank::balance(state, &rewards_account(), Denom::Vcai),
        utilization_so_far_ppm: current.as_ref().map_or(0, |open| {
            utilization_ppm(open.consumed_cu_ppm, open.available_cu_ppm)
        }),
        current,
        recent,
    }
}
