//! The vocabulary of the incentive layer (whitepaper §2.5.4, §3.4; rules §4-§6): fee and VRAM
//! tiers, and the reward parts an account earns per period. Their governance parameter changes
//! are [`crate::governance::ParamChange`]s.

use crate::Amount;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Most tiers in a fee or VRAM tier table.
pub const MAX_TIERS: usize = 8;

/// A network-fee tier (rules §5: better nodes keep more of each payment). A node is in the tier
/// when its reputation and its completed tasks both reach the tier's minimums; the lowest fee of
/// the tiers it is in applies, else the base network fee.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct FeeTier {
    /// Least reputation, ppm (see the ledger's `nodes::reputation_ppm`).
    pub min_reputation_ppm: u32,
    /// Least tasks completed.
    pub min_completed: u64,
    /// The protocol's cut of each payment, ppm.
    pub fee_ppm: u32,
}

/// A multi-GPU coefficient tier (rules §6): nodes with at least `min_vram_mib` of GPU memory in
/// total earn Proof of Capacity multiplied by `coefficient_ppm / 10^6`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct VramTier {
    /// Least total VRAM on the node, MiB (rules §6's "GB" are vendor gigabytes, 10^9 bytes: 96 GB
    /// = 91,553 MiB, rounded up).
    pub min_vram_mib: u64,
    /// The coefficient, ppm.
    pub coefficient_ppm: u32,
}

/// VCAI earned in each incentive stream. A period's `budget` and `credited` use the same
/// shape; `referral` has no budget (referrals are paid from the pool's unreleased amount, see the
/// ledger's `incentives` module), so a period's `budget.referral` is always zero.
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
pub struct RewardParts {
    /// Proof of Capacity (with the loyalty multiplier).
    pub capacity: Amount,
    /// Proof of Delivery.
    pub delivery: Amount,
    /// Performance bonus: verified CU by reputation above a threshold.
    #[serde(default)]
    pub performance: Amount,
    /// Demand-side rebate.
    pub rebate: Amount,
    /// A share of the rewards of the nodes this account referred.
    #[serde(default)]
    pub referral: Amount,
}

impl RewardParts {
    /// All streams together.
    pub fn total(&self) -> Result<Amount, crate::AmountError> {
        self.budgeted()?.checked_add(self.referral)
    }

    /// The streams paid from a period's budgets: all but `referral`.
    pub fn budgeted(&self) -> Result<Amount, crate::AmountError> {
        self.capacity
            .checked_add(self.delivery)?
            .checked_add(self.performance)?
            .checked_add(self.rebate)
    }

    /// What a node earns by its own work (a referrer's share is taken of this): capacity,
    /// delivery and performance.
    pub fn node_work(&self) -> Result<Amount, crate::AmountError> {
        self.capacity
            .checked_add(self.delivery)?
            .checked_add(self.performance)
    }

    /// Adds `other` part by part.
    pub fn checked_add(&self, other: &RewardParts) -> Result<RewardParts, crate::AmountError> {
        Ok(RewardParts {
            capacity: self.capacity.checked_add(other.capacity)?,
            delivery: self.delivery.checked_add(other.delivery)?,
            performance: self.performance.checked_add(other.performance)?,
            rebate: self.rebate.checked_add(other.rebate)?,
            referral: self.referral.checked_add(other.referral)?,
        })
    }
}

/// The long-term incentives of whitepaper §5.2.2 (docs/protocol.md, "Long-term incentives"):
/// loyalty, referral and the performance bonus, all paid from the Ecosystem Incentive Pool.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct LongTermParams {
    /// Loyalty: the Proof of Capacity multiplier grows by this much per full period of
    /// continuous good standing, ppm (2%).
    pub loyalty_step_ppm: u32,
    /// Loyalty: the most the multiplier adds, ppm (25%).
    pub loyalty_max_ppm: u32,
    /// Loyalty: a silence longer than this restarts the streak, seconds (a day).
    pub loyalty_outage_s: u64,
    /// Referral: the referrer's share of the referred node's capacity, delivery and performance
    /// rewards, ppm (5%).
    pub referral_share_ppm: u32,
    /// Referral: periods the referrer earns for, from the one the referral is named in (26).
    pub referral_periods: u32,
    /// Performance bonus: its share of the supply side after Proof of Capacity, ppm (20%).
    pub performance_share_ppm: u32,
    /// Performance bonus: the reputation a node must exceed, ppm (80%).
    pub performance_min_reputation_ppm: u32,
}

impl Default for LongTermParams {
    fn default() -> Self {
        LongTermParams {
            loyalty_step_ppm: 20_000,
            loyalty_max_ppm: 250_000,
            loyalty_outage_s: 86_400,
            referral_share_ppm: 50_000,
            referral_periods: 26,
            performance_share_ppm: 200_000,
            performance_min_reputation_ppm: 800_000,
        }
    }
}

impl LongTermParams {
    /// Why the parameters cannot work, if they cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.loyalty_step_ppm > 1_000_000 || self.loyalty_max_ppm > 1_000_000 {
            return Err("the loyalty step and maximum are at most 1,000,000 ppm".into());
        }
        if self.referral_share_ppm > 200_000 {
            return Err("the referral share is at most 200,000 ppm (20%)".into());
        }
        if self.referral_periods > 520 {
            return Err("referrals earn for at most 520 periods".into());
        }
        if self.performance_share_ppm > 1_000_000
            || self.performance_min_reputation_ppm >= 1_000_000
        {
            return Err(
                "the performance share is at most 1,000,000 ppm and its reputation threshold \
                 below 1,000,000 ppm"
                    .into(),
            );
        }
        if self.loyalty_outage_s == 0 {
            return Err("the loyalty outage length must be positive".into());
        }
        Ok(())
    }
}

/// What an account was credited for one period.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct PeriodReward {
    /// The period.
    pub period: u64,
    /// The amounts.
    pub parts: RewardParts,
}
