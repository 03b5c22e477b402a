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

/// VCAI earned in each of the three incentive streams.
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
    /// Proof of Capacity.
    pub capacity: Amount,
    /// Proof of Delivery.
    pub delivery: Amount,
    /// Demand-side rebate.
    pub rebate: Amount,
}

impl RewardParts {
    /// The three together.
    pub fn total(&self) -> Result<Amount, crate::AmountError> {
        self.capacity
            .checked_add(self.delivery)?
            .checked_add(self.rebate)
    }

    /// Adds `other` part by part.
    pub fn checked_add(&self, other: &RewardParts) -> Result<RewardParts, crate::AmountError> {
        Ok(RewardParts {
            capacity: self.capacity.checked_add(other.capacity)?,
            delivery: self.delivery.checked_add(other.delivery)?,
            rebate: self.rebate.checked_add(other.rebate)?,
        })
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
