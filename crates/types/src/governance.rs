//! The vocabulary of governance (whitepaper §3.7, rules §9; docs/governance.md): proposals with
//! typed actions, votes, comments, and the parameters that bound them.
//!
//! A proposal's id is the hash of its number, its proposer and its borsh-encoded contents (title,
//! description, actions), so a vote names exactly the actions that will execute.

use crate::hash::{Domain, Hash};
use crate::incentives::{FeeTier, VramTier};
use crate::{AccountId, Amount, Denom};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Longest proposal title, bytes.
pub const MAX_TITLE_BYTES: usize = 128;
/// Longest proposal description, bytes (the full text lives off chain; link it here).
pub const MAX_DESCRIPTION_BYTES: usize = 4_096;
/// Longest comment, bytes.
pub const MAX_COMMENT_BYTES: usize = 1_024;
/// Hard ceiling on actions in one proposal; the governance parameter may only lower it.
pub const MAX_ACTIONS: u32 = 16;
/// Most payments in one spend or issuance action.
pub const MAX_PAYMENTS: usize = 32;
/// Most validators the chain may have.
pub const MAX_VALIDATORS: usize = 100;
/// Longest validator name, bytes.
pub const MAX_VALIDATOR_NAME_BYTES: usize = 64;

/// `u128` as a decimal string in JSON (JavaScript numbers lose precision past 2^53).
pub mod u128_string {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as a string.
    pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    /// Parses a string (or a small number).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Text(String),
            Number(u64),
        }
        match Either::deserialize(deserializer)? {
            Either::Text(text) => text.parse().map_err(serde::de::Error::custom),
            Either::Number(number) => Ok(u128::from(number)),
        }
    }
}

/// The governance parameters (all of them governable themselves).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default)]
pub struct GovernanceParams {
    /// Least ve weight (scaled by 10^27: 10^27 is one veVCAI) a proposer must hold.
    #[serde(with = "u128_string")]
    pub proposal_threshold_weight: u128,
    /// VCAI a proposer deposits; returned after the vote unless turnout was below half the
    /// quorum.
    pub deposit: Amount,
    /// Discussion period before voting opens.
    pub discussion_s: u64,
    /// Voting period.
    pub voting_s: u64,
    /// Quorum: yes + abstain weight as a share of the total weight at the snapshot, ppm.
    pub quorum_ppm: u32,
    /// Delay between the end of a passing vote and the earliest execution.
    pub timelock_s: u64,
    /// How long after the timelock a passed proposal may still be executed.
    pub grace_s: u64,
    /// Most actions in one proposal (at most [`MAX_ACTIONS`]).
    pub max_actions: u32,
    /// Most proposals in discussion or voting at once.
    pub max_open: u32,
    /// Most comments on one proposal.
    pub max_comments: u32,
}

impl Default for GovernanceParams {
    fn default() -> Self {
        GovernanceParams {
            // 100 veVCAI: e.g. 10,000 VCAI locked for four years.
            proposal_threshold_weight: 100 * 1_000_000_000_000_000_000_000_000_000,
            deposit: Amount::whole(10_000, Denom::Vcai).expect("fits"),
            discussion_s: 604_800,
            voting_s: 604_800,
            quorum_ppm: 40_000,
            timelock_s: 172_800,
            grace_s: 1_209_600,
            max_actions: 8,
            max_open: 32,
            max_comments: 256,
        }
    }
}

/// A vote.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// For.
    Yes,
    /// Against.
    No,
    /// Counts toward quorum, not toward the majority.
    Abstain,
}

impl std::str::FromStr for Choice {
    type Err = String;
    fn from_str(text: &str) -> Result<Choice, String> {
        match text {
            "yes" => Ok(Choice::Yes),
            "no" => Ok(Choice::No),
            "abstain" => Ok(Choice::Abstain),
            other => Err(format!("a vote is yes, no or abstain, not {other:?}")),
        }
    }
}

/// A module account governance may spend from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Fund {
    /// The Reserve & Governance Fund (rules §2: 2,000,000,000 VCAI), and the rest of slashes.
    Reserve,
    /// The incentive pool's grants account (the unreleased share of each period).
    Grants,
    /// The treasury (protocol revenue in USD; its buyback spends the same balance).
    Treasury,
}

/// A module governance may pause. New business is refused while paused; claims and withdrawals
/// of what is already owed stay open (docs/governance.md has the table).
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
pub enum Module {
    /// VCAI and USD transfers, USD minting.
    Bank,
    /// New vote-escrow locks, increases and extensions.
    Ve,
    /// Swaps and new liquidity.
    Pool,
    /// Node registration, updates and new stake.
    Nodes,
    /// New jobs and subscriptions.
    Jobs,
    /// New challenges of results and capacity commitments.
    Trust,
    /// Agent mints, versions, listings, sales, licences and invocations.
    Agents,
}

impl Module {
    /// Every module.
    pub const ALL: [Module; 7] = [
        Module::Bank,
        Module::Ve,
        Module::Pool,
        Module::Nodes,
        Module::Jobs,
        Module::Trust,
        Module::Agents,
    ];

    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Module::Bank => "bank",
            Module::Ve => "ve",
            Module::Pool => "pool",
            Module::Nodes => "nodes",
            Module::Jobs => "jobs",
            Module::Trust => "trust",
            Module::Agents => "agents",
        }
    }
}

impl std::str::FromStr for Module {
    type Err = String;
    fn from_str(text: &str) -> Result<Module, String> {
        Module::ALL
            .into_iter()
            .find(|module| module.name() == text)
            .ok_or_else(|| {
                format!("no module {text:?} (bank, ve, pool, nodes, jobs, trust, agents)")
            })
    }
}

/// How a payment is released, counted from the proposal's execution.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct VestingTerms {
    /// Paid at execution.
    #[serde(default)]
    pub immediate: Amount,
    /// Nothing more before this many seconds after execution.
    #[serde(default)]
    pub cliff_s: u64,
    /// The linear release after the cliff; 0 releases the rest at the cliff.
    #[serde(default)]
    pub duration_s: u64,
    /// Release step (2,629,800 s for monthly, 1 for per second).
    pub step_s: u64,
}

/// One recipient of a spend or an issuance.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Payment {
    /// Who receives it.
    pub recipient: AccountId,
    /// Base units.
    pub amount: Amount,
    /// Released over time instead of at once (VCAI only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vesting: Option<VestingTerms>,
}

/// One governance parameter change. Each goes to the component that owns the parameter, which
/// checks its bounds; a change applies to what starts after the proposal executes.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "param", rename_all = "snake_case")]
pub enum ParamChange {
    /// Incentive period length, from the next period on.
    IncentivePeriod {
        /// Seconds (at least 1).
        period_s: u64,
    },
    /// Share of each period's scheduled amount released as rewards; the rest goes to grants.
    ReleaseFraction {
        /// ppm (at most 10^6).
        ppm: u32,
    },
    /// Share of the supply side that goes to Proof of Capacity; the rest to Proof of Delivery.
    CapacityShare {
        /// ppm (at most 10^6).
        ppm: u32,
    },
    /// The supply-demand controller.
    Controller {
        /// Adjustment coefficient k, ppm.
        k_ppm: u32,
        /// Target utilization, ppm.
        target_ppm: u32,
    },
    /// The multi-GPU coefficient tiers.
    VramTiers {
        /// At most [`crate::incentives::MAX_TIERS`]; coefficients at least 10^6.
        tiers: Vec<VramTier>,
    },
    /// The base network fee and its quality tiers.
    NetworkFee {
        /// Base fee, ppm.
        fee_ppm: u32,
        /// At most [`crate::incentives::MAX_TIERS`], each fee at most the base.
        tiers: Vec<FeeTier>,
    },
    /// The stake requirement: USD per CU of capacity, converted to VCAI at the pool's
    /// time-weighted price at each recomputation.
    StakeRequirement {
        /// USD base units per CU.
        usd_per_cu: Amount,
        /// How long a node below a raised requirement may keep working.
        grace_s: u64,
    },
    /// The smallest new vote-escrow lock (rules §7).
    VeMinLock {
        /// VCAI base units.
        amount: Amount,
    },
    /// The pool's swap fee (rules §8).
    SwapFee {
        /// Basis points (at most 1,000).
        bps: u32,
    },
    /// The treasury buyback (rules §8).
    Buyback {
        /// Interval, seconds.
        interval_s: u64,
        /// Price cap over the time-weighted price, basis points.
        max_premium_bps: u32,
    },
    /// The compute-unit factor table (rules §4).
    GpuFactors {
        /// GPU model name → CU per GPU, ppm.
        gpu_factors_ppm: Vec<(String, u64)>,
        /// CU per CPU core, ppm.
        cpu_core_factor_ppm: u64,
    },
    /// Heartbeats (rules §4).
    Heartbeat {
        /// Interval, seconds.
        interval_s: u64,
        /// Missed intervals before a node counts as offline.
        offline_after_intervals: u64,
    },
    /// The unbonding period of node stake (rules §4).
    Unbonding {
        /// Seconds.
        period_s: u64,
    },
    /// How long a result waits for checks and challenges before it settles (rules §5).
    VerificationWindow {
        /// Seconds.
        window_s: u64,
    },
    /// Sampling rates of the verification levels (rules §10).
    SamplingRates {
        /// Rate per verification level, ppm.
        level_rates_ppm: [u32; 4],
        /// Rate for nodes on probation or of low reputation, ppm.
        risky_rate_ppm: u32,
    },
    /// Slash appeals and payouts (rules §10).
    Appeals {
        /// Appeal window, seconds.
        window_s: u64,
        /// How long an appealed slash waits for governance's decision before it pays out.
        decision_s: u64,
        /// Challenger's bounty, ppm of the slash.
        bounty_ppm: u32,
        /// Buyers' compensation, ppm of what they paid.
        compensation_ppm: u32,
    },
    /// One offence's penalty (rules §10): its tier, the share of stake slashed (inside the tier's
    /// range) and the incentive periods without rewards afterwards.
    OffenceRule {
        /// The offence.
        offence: crate::trust::Offence,
        /// Its tier.
        tier: crate::trust::Tier,
        /// Share of stake slashed, ppm (minor 5–10%, moderate 10–30%, severe 100%).
        slash_ppm: u32,
        /// Incentive periods without Proof of Capacity or Delivery afterwards (at most 52).
        suspend_periods: u32,
    },
    /// Transaction and block limits and the minimum fee.
    TxLimits {
        /// USD base units.
        min_fee_usd: Amount,
        /// Bytes.
        max_tx_bytes: u32,
        /// Messages.
        max_messages_per_tx: u32,
        /// Transactions.
        max_block_txs: u32,
        /// Bytes.
        max_block_bytes: u32,
    },
    /// Governance itself; applies to proposals created after it executes.
    Governance(GovernanceParams),
    /// Agent fees (rules §11): the creation fee and the sale commission apply to mints and
    /// listings after it executes, the usage share to terms set after it (docs/agents.md).
    Agents(crate::agents::AgentParams),
    /// TEE attestation (docs/attestation.md): the policy evidence is judged by, the validity
    /// of a verdict, the nonce interval, the reports per block and the TEE sampling factor.
    /// Applies to evidence presented after it executes; verdicts already given stand until
    /// they expire.
    Attestation(crate::attestation::AttestationRules),
    /// The long-term incentives (docs/protocol.md, "Long-term incentives"): loyalty, referral
    /// and the performance bonus. The performance share applies from the next period, the
    /// others to what is counted after the proposal executes.
    LongTermIncentives(crate::incentives::LongTermParams),
}

/// What a proposal does when it executes.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Change a parameter.
    SetParam {
        /// The change.
        change: ParamChange,
    },
    /// Pay from a governed fund.
    Spend {
        /// The fund.
        from: Fund,
        /// VCAI from the reserve and grants; either from the treasury.
        denom: Denom,
        /// Recipients (at most [`MAX_PAYMENTS`]).
        payments: Vec<Payment>,
    },
    /// Mint new VCAI (rules §9): consumes one quota, within the year's 5% cap.
    StrategicIssuance {
        /// Recipients (at most [`MAX_PAYMENTS`]).
        payments: Vec<Payment>,
    },
    /// Refuse new business in a module.
    Pause {
        /// The module.
        module: Module,
    },
    /// Lift a pause.
    Unpause {
        /// The module.
        module: Module,
    },
    /// Decide an appealed slash still in escrow.
    DecideAppeal {
        /// The slash.
        slash_id: u64,
        /// True returns the stake to the node; false pays the escrow out.
        uphold: bool,
    },
    /// Add a consensus validator (it votes from the next height).
    AddValidator {
        /// A display name.
        name: String,
        /// Its ed25519 public key.
        public_key: AccountId,
        /// Voting power.
        power: u64,
    },
    /// Remove a consensus validator.
    RemoveValidator {
        /// Its public key.
        public_key: AccountId,
    },
    /// Change a validator's power.
    SetValidatorPower {
        /// Its public key.
        public_key: AccountId,
        /// New power (positive).
        power: u64,
    },
    /// Protocol repricing (rules §9): every VCAI quantity is shown and sent in a unit
    /// `numerator / denominator` times as many base units as before (10/1 is a ten-for-one
    /// split). Value-neutral; consumes no quota.
    Reprice {
        /// Nominal units after, per `denominator` before (1 to 1,000).
        numerator: u64,
        /// Nominal units before, per `numerator` after (1 to 1,000).
        denominator: u64,
    },
}

impl Action {
    /// The snake_case kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::SetParam { .. } => "set_param",
            Action::Spend { .. } => "spend",
            Action::StrategicIssuance { .. } => "strategic_issuance",
            Action::Pause { .. } => "pause",
            Action::Unpause { .. } => "unpause",
            Action::DecideAppeal { .. } => "decide_appeal",
            Action::AddValidator { .. } => "add_validator",
            Action::RemoveValidator { .. } => "remove_validator",
            Action::SetValidatorPower { .. } => "set_validator_power",
            Action::Reprice { .. } => "reprice",
        }
    }
}

/// Open a proposal (needs the threshold weight and the deposit).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Propose {
    /// One line.
    pub title: String,
    /// The case for it (a link to the full text is fine).
    #[serde(default)]
    pub description: String,
    /// What executes if it passes.
    pub actions: Vec<Action>,
}

impl Propose {
    /// The id of this proposal as proposal `number` by `proposer`.
    pub fn id(&self, number: u64, proposer: &AccountId) -> Hash {
        let contents = borsh::to_vec(self).expect("a proposal encodes");
        Hash::of(
            Domain::Proposal,
            &[&number.to_le_bytes(), &proposer.0, &contents],
        )
    }
}

/// Vote on a proposal in its voting period (a second vote replaces the first).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CastVote {
    /// The proposal's id.
    pub proposal: Hash,
    /// The vote.
    pub choice: Choice,
}

/// Comment on a proposal in discussion or voting (stored as an event).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommentProposal {
    /// The proposal's id.
    pub proposal: Hash,
    /// At most [`MAX_COMMENT_BYTES`] of printable text.
    pub text: String,
}

/// Execute a passed proposal after its timelock (anyone may).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ExecuteProposal {
    /// The proposal's id.
    pub proposal: Hash,
}

/// Where a proposal is in its life.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    /// Discussion or voting (see the proposal's times).
    Open,
    /// Passed; executable from the end of the timelock until the grace period ends.
    Passed,
    /// Quorum reached but not more yes than no.
    Rejected,
    /// Yes + abstain below the quorum.
    NoQuorum,
    /// Executed.
    Executed,
    /// Passed but not executed within the grace period.
    Expired,
}
