//! Events: what a block or transaction did, for indexers, the event stream and receipts. Every
//! state change a component makes emits one.

use crate::{AccountId, Amount, Denom};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// One event. Variants are append-only: their borsh tags are stored in receipts.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Funds moved between accounts.
    Transfer {
        /// Debited.
        from: AccountId,
        /// Credited.
        to: AccountId,
        /// Denomination.
        denom: Denom,
        /// Base units.
        amount: Amount,
    },
    /// New supply was created.
    Minted {
        /// Credited.
        to: AccountId,
        /// Denomination.
        denom: Denom,
        /// Base units.
        amount: Amount,
    },
    /// Supply was destroyed.
    Burned {
        /// Debited.
        from: AccountId,
        /// Denomination.
        denom: Denom,
        /// Base units.
        amount: Amount,
    },
    /// A transaction fee was paid to the treasury.
    FeePaid {
        /// Who paid.
        payer: AccountId,
        /// USD base units.
        amount: Amount,
    },
    /// Released vesting VCAI was claimed.
    VestingClaimed {
        /// The beneficiary.
        beneficiary: AccountId,
        /// VCAI base units.
        amount: Amount,
    },
    /// A Genesis NFT changed hands.
    NftTransferred {
        /// The NFT.
        id: u32,
        /// Previous holder.
        from: AccountId,
        /// New holder.
        to: AccountId,
    },
    /// A vote-escrow lock was created, increased or extended; the new state.
    VeLocked {
        /// The account.
        account: AccountId,
        /// VCAI base units now locked.
        amount: Amount,
        /// Unlock time, seconds after genesis.
        end_s: u64,
    },
    /// An expired lock was withdrawn.
    VeWithdrawn {
        /// The account.
        account: AccountId,
        /// VCAI base units returned.
        amount: Amount,
    },
    /// A swap in the VCAI/USD pool.
    Swapped {
        /// Who swapped.
        account: AccountId,
        /// Paid in.
        denom_in: Denom,
        /// Base units in.
        amount_in: Amount,
        /// Base units of the other denomination out.
        amount_out: Amount,
    },
    /// Liquidity deposited.
    LiquidityAdded {
        /// Who.
        account: AccountId,
        /// VCAI in.
        vcai: Amount,
        /// USD in.
        usd: Amount,
        /// Shares minted.
        shares: Amount,
    },
    /// Liquidity withdrawn.
    LiquidityRemoved {
        /// Who.
        account: AccountId,
        /// VCAI out.
        vcai: Amount,
        /// USD out.
        usd: Amount,
        /// Shares burned.
        shares: Amount,
    },
    /// Buyback VCAI earned by a lock was claimed.
    RewardsClaimed {
        /// The locker.
        account: AccountId,
        /// VCAI base units.
        amount: Amount,
    },
    /// A node registered.
    NodeRegistered {
        /// The node.
        node: AccountId,
        /// Its role.
        role: crate::compute::Role,
        /// Capacity, CU ppm.
        capacity_cu_ppm: u64,
        /// Bonded VCAI.
        stake: Amount,
    },
    /// A node reported its status.
    NodeHeartbeat {
        /// The node.
        node: AccountId,
        /// Load, ppm.
        load_ppm: u32,
        /// Health.
        healthy: bool,
    },
    /// A node changed its offer or inventory.
    NodeUpdated {
        /// The node.
        node: AccountId,
    },
    /// A node's bonded stake changed (added, or moved to unbonding).
    StakeChanged {
        /// The node.
        node: AccountId,
        /// Bonded VCAI now.
        stake: Amount,
    },
    /// Unbonded stake came back to its owner.
    UnbondedWithdrawn {
        /// The node.
        node: AccountId,
        /// VCAI base units.
        amount: Amount,
    },
    /// A Genesis NFT's unlocked VCAI was claimed.
    NftClaimed {
        /// The NFT.
        id: u32,
        /// The holder who claimed.
        owner: AccountId,
        /// VCAI base units.
        amount: Amount,
    },
}
