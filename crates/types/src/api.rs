//! The JSON shapes of the node's HTTP API (documented in docs/openapi.json). Field names are
//! snake_case; amounts are decimal strings of base units; hashes and keys are lowercase hex.
//! These are the only JSON types: the ledger itself speaks borsh.

use crate::block::Header;
use crate::event::Event;
use crate::merkle::SparseProof;
use crate::receipt::Receipt;
use crate::tx::TxBody;
use crate::{AccountId, Amount, Denom, Hash, Height};
use serde::{Deserialize, Serialize};

/// `POST /v1/txs` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitTxRequest {
    /// Canonical signed-transaction bytes, hex.
    pub tx: String,
}

/// `POST /v1/txs` answer when the mempool accepted the transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitTxResponse {
    /// The transaction id.
    pub tx_hash: Hash,
}

/// `POST /v1/txs/batch` body: up to [`MAX_BATCH_TXS`] transactions checked together.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitBatchRequest {
    /// Canonical signed-transaction bytes, hex, each.
    pub txs: Vec<String>,
}

/// The most transactions one `POST /v1/txs/batch` carries.
pub const MAX_BATCH_TXS: usize = 1_024;

/// One transaction's answer in a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResult {
    /// The transaction id, when the mempool accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<Hash>,
    /// 0 when accepted, else the stable error code (as in receipts).
    pub code: u32,
    /// Empty when accepted, else why not.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// `POST /v1/txs/batch` answer: one result per transaction, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitBatchResponse {
    /// In the order submitted.
    pub results: Vec<BatchResult>,
}

/// Every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable numeric code (docs/protocol.md); 0 for errors that are not about a transaction.
    pub code: u32,
    /// Stable snake_case name of the code, e.g. `bad_signature`.
    pub error: String,
    /// Human-readable, lowercase detail.
    pub message: String,
}

/// Where a transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxStatus {
    /// In the mempool, not yet in a block.
    Pending,
    /// In a committed block; see the receipt for success or failure.
    Committed,
}

/// `GET /v1/txs/{hash}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TxView {
    /// The transaction id.
    pub tx_hash: Hash,
    /// Pending or committed.
    pub status: TxStatus,
    /// The decoded body.
    pub body: TxBody,
    /// The receipt, once committed.
    pub receipt: Option<Receipt>,
}

/// One balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceView {
    /// Denomination.
    pub denom: Denom,
    /// Base units.
    pub amount: Amount,
    /// Whole units as a decimal string, for people.
    pub display: String,
}

/// `GET /v1/accounts/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountView {
    /// The account.
    pub id: AccountId,
    /// Its `did:key`.
    pub did: String,
    /// The nonce its next transaction must carry (committed state).
    pub next_nonce: u64,
    /// The nonce after its transactions still in the mempool.
    pub pending_nonce: u64,
    /// One entry per denomination.
    pub balances: Vec<BalanceView>,
    /// The height this view was read at.
    pub height: Height,
}

/// One commit signature.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommitSignatureView {
    /// The validator's public key, hex.
    pub validator: AccountId,
    /// ed25519 signature, hex.
    pub signature: String,
}

/// `GET /v1/blocks/{height}` and `/v1/blocks/latest`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockView {
    /// The block id.
    pub hash: Hash,
    /// The header.
    pub header: Header,
    /// Transaction ids in order.
    pub transactions: Vec<Hash>,
    /// The commit certificate's signatures.
    pub certificate: Vec<CommitSignatureView>,
}

/// `GET /v1/proof?key=...`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProofView {
    /// The state key, as given.
    pub key: String,
    /// The value, hex, or `None` when the key is absent (an exclusion proof).
    pub value: Option<String>,
    /// The committed height the proof is for.
    pub height: Height,
    /// That block's header state root.
    pub state_root: Hash,
    /// The proof.
    pub proof: SparseProof,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusView {
    /// Chain id to sign for.
    pub chain_id: String,
    /// Latest committed height.
    pub height: Height,
    /// Latest block id.
    pub latest_block_hash: Hash,
    /// Latest block time, Unix ms.
    pub latest_block_time_ms: u64,
    /// Latest block time in seconds after genesis (the ledger's clock for deadlines, heartbeats
    /// and matching).
    #[serde(default)]
    pub chain_time_s: u64,
    /// State root after the latest block.
    pub state_root: Hash,
    /// Smallest fee a transaction may carry, USD base units.
    pub min_fee_usd: Amount,
    /// The account allowed to mint and burn USD.
    pub usd_issuer: AccountId,
    /// Transactions waiting in the mempool.
    pub mempool_size: u64,
    /// Consensus engine name.
    pub engine: String,
    /// Software version.
    pub version: String,
}

/// `GET /v1/health`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthView {
    /// `ok` or `stalled`.
    pub status: String,
    /// Latest committed height.
    pub height: Height,
    /// Milliseconds since the latest block was committed, by this node's clock.
    pub since_last_block_ms: u64,
}

/// One item of the event stream (`GET /v1/events`, server-sent events). Block items have no
/// `tx_hash`; the SSE event name is `block` for a committed block summary and `event` otherwise.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventView {
    /// The block.
    pub height: Height,
    /// The transaction that emitted it, if any.
    pub tx_hash: Option<Hash>,
    /// The event.
    pub event: Event,
}

/// Summary sent on the event stream for each committed block.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockSummaryView {
    /// Height.
    pub height: Height,
    /// Block id.
    pub hash: Hash,
    /// Transactions in it.
    pub tx_count: u32,
    /// State root after it.
    pub state_root: Hash,
}

/// `POST /v1/blobs`: where a blob was stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobView {
    /// Its content address, `H(0x0d ‖ bytes)`.
    pub address: Hash,
    /// Its length.
    pub bytes: u64,
}

/// `GET /v1/supply`: where the VCAI is (rules §2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SupplyView {
    /// Total VCAI.
    pub vcai_total: Amount,
    /// Total minus the vesting, reserve and incentive-pool accounts.
    pub vcai_circulating: Amount,
    /// Locked in vesting grants.
    pub vcai_vesting: Amount,
    /// The Reserve & Governance Fund.
    pub vcai_reserve: Amount,
    /// The Ecosystem Incentive Pool.
    pub vcai_incentive_pool: Amount,
    /// Unclaimed Genesis NFT entitlements (counted as circulating: Initial Liquidity is 100% at TGE).
    pub vcai_nft_reserve: Amount,
    /// Total USD.
    pub usd_total: Amount,
    /// Nominal VCAI base units per internal ledger unit (one until a repricing; every VCAI figure
    /// the API shows is already nominal).
    #[serde(default)]
    pub vcai_scale: crate::Scale,
    /// Height read at.
    pub height: Height,
}

/// One vesting grant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantView {
    /// The allocation, e.g. `core_team`.
    pub allocation: String,
    /// The whole grant.
    pub total: Amount,
    /// Released at genesis (paid then).
    pub at_tge: Amount,
    /// Seconds after genesis before the linear release starts.
    pub cliff_s: u64,
    /// Length of the linear release.
    pub duration_s: u64,
    /// Release step.
    pub step_s: u64,
    /// Released so far, TGE part included.
    pub vested: Amount,
    /// Claimed after genesis.
    pub claimed: Amount,
    /// Claimable now.
    pub claimable: Amount,
}

/// `GET /v1/accounts/{id}/vesting`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VestingView {
    /// The beneficiary.
    pub account: AccountId,
    /// Seconds since genesis at the committed block.
    pub elapsed_s: u64,
    /// Its grants.
    pub grants: Vec<GrantView>,
    /// Sum of `claimable`.
    pub claimable: Amount,
    /// Height read at.
    pub height: Height,
}

/// `GET /v1/agents/{id}` and the items of `GET /v1/agents` (docs/agents.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentView {
    /// The agent's record.
    #[serde(flatten)]
    pub agent: crate::agents::Agent,
    /// The creator's `did:key`.
    pub creator_did: String,
    /// The discovery score (Wilson lower bound, ppm), once the agent has enough ratings.
    pub score_ppm: Option<u32>,
    /// Every version, oldest first (empty in listings).
    #[serde(default)]
    pub version_list: Vec<crate::agents::AgentVersion>,
}

/// `GET /v1/nfts/{id}` and the items of `GET /v1/nfts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NftView {
    /// The NFT.
    pub id: u32,
    /// Its holder.
    pub owner: AccountId,
    /// The whole entitlement.
    pub entitlement: Amount,
    /// Unlocked so far.
    pub unlocked: Amount,
    /// Claimed on it so far, by all holders.
    pub claimed: Amount,
    /// Claimable now by the holder.
    pub claimable: Amount,
}

/// `GET /v1/ve`: the vote escrow's totals (rules §7).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VeTotalView {
    /// Total weight at `at_s`, scaled by 10^27 (10^27 = one veVCAI).
    pub total_weight: String,
    /// The same in veVCAI, for people.
    pub total_weight_display: String,
    /// VCAI locked now.
    pub locked_vcai: Amount,
    /// The time asked about, seconds after genesis.
    pub at_s: u64,
    /// Seconds since genesis at the committed block.
    pub elapsed_s: u64,
    /// The current week (weeks after genesis).
    pub current_week: u64,
    /// Height read at.
    pub height: Height,
}

/// `GET /v1/accounts/{id}/ve`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VeAccountView {
    /// The account.
    pub account: AccountId,
    /// VCAI locked (0 without a lock).
    pub amount: Amount,
    /// Unlock time, seconds after genesis (absent without a lock).
    pub end_s: Option<u64>,
    /// Unlock week (absent without a lock).
    pub unlock_week: Option<u64>,
    /// Weight at `at_s`, scaled by 10^27.
    pub weight: String,
    /// The same in veVCAI.
    pub weight_display: String,
    /// The time asked about, seconds after genesis.
    pub at_s: u64,
    /// Height read at.
    pub height: Height,
}

/// `GET /v1/pool`: the VCAI/USD pool (rules §8).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PoolView {
    /// VCAI reserve.
    pub vcai_reserve: Amount,
    /// USD reserve.
    pub usd_reserve: Amount,
    /// All LP shares (1,000 of them locked forever).
    pub total_shares: Amount,
    /// Spot price in USD per VCAI, decimal.
    pub price_usd_per_vcai: String,
    /// Spot price, USD base units per VCAI base unit × 10^30.
    pub spot_price_scaled: String,
    /// The time-weighted price accumulator extended to now (wrapping).
    pub twap_cumulative: String,
    /// Seconds since genesis at the committed block.
    pub elapsed_s: u64,
    /// Swap fee, basis points.
    pub fee_bps: u32,
    /// Height read at.
    pub height: Height,
}

/// `GET /v1/accounts/{id}/pool`: an account's LP position.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PoolPositionView {
    /// The account.
    pub account: AccountId,
    /// Its shares.
    pub shares: Amount,
    /// Its part of the VCAI reserve (rounded down).
    pub vcai: Amount,
    /// Its part of the USD reserve (rounded down).
    pub usd: Amount,
    /// Height read at.
    pub height: Height,
}

/// `GET /v1/treasury`: revenue, the buyback in progress and the distributor (rules §8).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TreasuryView {
    /// USD in the treasury (the next interval's budget so far).
    pub usd_balance: Amount,
    /// Start of the current buyback interval, seconds after genesis.
    pub interval_start_s: u64,
    /// Interval length.
    pub interval_s: u64,
    /// This interval's USD budget.
    pub budget_usd: Amount,
    /// USD spent so far this interval.
    pub spent_usd: Amount,
    /// VCAI bought so far this interval (streamed over the next one).
    pub bought_vcai: Amount,
    /// The reference time-weighted price, USD per VCAI.
    pub reference_price_usd_per_vcai: String,
    /// Most a slice may pay above it, basis points.
    pub max_premium_bps: u32,
    /// VCAI being streamed to lockers this interval.
    pub stream_vcai: Amount,
    /// Of which released so far.
    pub stream_released_vcai: Amount,
    /// Released while no one was locked, waiting for the next block with weight.
    pub carried_vcai: Amount,
    /// Released to lockers, all time.
    pub distributed_vcai: Amount,
    /// Claimed by lockers, all time.
    pub claimed_vcai: Amount,
    /// VCAI in the distributor account (released-unclaimed, carried, streaming, just bought; the
    /// rounding dust stays here).
    pub distributor_vcai: Amount,
    /// Height read at.
    pub height: Height,
}

/// `GET /v1/accounts/{id}/rewards`: both kinds of VCAI reward `ClaimRewards` pays.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RewardsView {
    /// The account.
    pub account: AccountId,
    /// VCAI claimable now: the buyback share plus incentive credits.
    pub claimable_vcai: Amount,
    /// Of which the buyback distributor's share (rules §8, for vote-escrow lockers).
    pub buyback_vcai: Amount,
    /// Of which incentive credits (rules §6), by stream.
    pub incentives_unclaimed: crate::incentives::RewardParts,
    /// Incentive credits, all time, by stream.
    pub incentives_total: crate::incentives::RewardParts,
    /// Incentive credits of the last periods with any, oldest first.
    pub incentives_history: Vec<crate::incentives::PeriodReward>,
    /// What the ledger counted for the account in the open incentive period and the ones before
    /// it, newest first, for the periods with any (at most 8).
    #[serde(default)]
    pub periods: Vec<PeriodActivity>,
    /// Its node's loyalty multiplier on Proof of Capacity in the open period, ppm (10^6 when it
    /// has no streak yet; docs/protocol.md, "Long-term incentives").
    #[serde(default)]
    pub loyalty_ppm: u64,
    /// Its node's referrer, if it named one.
    #[serde(default)]
    pub referral: Option<ReferralView>,
    /// Height read at.
    pub height: Height,
}

/// A compute node's referrer: it earns a share of the node's rewards for the periods from
/// `from_period` to `until_period − 1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralView {
    /// The referrer.
    pub referrer: AccountId,
    /// The first period shared.
    pub from_period: u64,
    /// The first period no longer shared.
    pub until_period: u64,
}

/// An account's counts in one incentive period (rules §6; docs/operators.md, "The operator's
/// view").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodActivity {
    /// The period.
    pub period: u64,
    /// USD its node was paid for tasks settled in the period, after the network fee.
    pub earned_usd: Amount,
    /// CU × 10^6 its node delivered in tasks that passed verification (self-dealt ones not
    /// counted).
    pub delivered_cu_ppm: u128,
    /// Times its node came back after going offline.
    pub outages: u32,
    /// A capacity challenge failed or was missed: no Proof of Capacity for the rest of it.
    pub forfeited: bool,
}

/// `GET /v1/nodes` items and `GET /v1/nodes/{id}`: a registered node and its derived status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeView {
    /// The record.
    pub node: crate::compute::NodeRecord,
    /// Heartbeat within the offline threshold.
    pub online: bool,
    /// The bond it must keep.
    pub required_stake: Amount,
    /// Below the requirement past its grace: excluded from scheduling and Proof of Capacity.
    #[serde(default)]
    pub paused: bool,
    /// Below a raised requirement, still scheduled until this time (seconds after genesis).
    #[serde(default)]
    pub grace_until_s: Option<u64>,
    /// VCAI unbonding, not yet withdrawable or waiting to be withdrawn.
    pub unbonding: Amount,
    /// Reputation score, ppm (rules §12; docs/verification.md, "Reputation").
    #[serde(default)]
    pub reputation_ppm: u32,
    /// Why the ledger finds the node unhealthy (empty when healthy).
    #[serde(default)]
    pub health_issues: Vec<String>,
    /// Its recent capacity challenges, newest first.
    #[serde(default)]
    pub challenges: Vec<crate::trust::CapacityChallenge>,
    /// Its recent slashes, newest first.
    #[serde(default)]
    pub slashes: Vec<crate::trust::Slash>,
    /// Height read at.
    pub height: Height,
}
