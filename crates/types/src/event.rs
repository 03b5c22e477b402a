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
    /// The ledger verified a node's TEE attestation evidence (docs/attestation.md).
    NodeAttested {
        /// The node.
        node: AccountId,
        /// The tier it proved.
        tier: crate::compute::TeeTier,
        /// The kind of CPU TEE.
        cpu: String,
        /// BLAKE3 of the evidence.
        evidence_hash: crate::Hash,
        /// When the verdict stops counting, seconds after genesis.
        expires_s: u64,
        /// Whether the evidence was bound to the node's key and a chain nonce.
        bound: bool,
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
    /// A job was submitted and its maximum cost escrowed.
    JobSubmitted {
        /// The job.
        job_id: u64,
        /// Its owner.
        owner: AccountId,
        /// Tasks.
        tasks: u32,
        /// USD escrowed.
        escrow_usd: Amount,
    },
    /// A task was placed on a node.
    TaskAssigned {
        /// The job.
        job_id: u64,
        /// The task.
        task: u32,
        /// The node.
        node: AccountId,
        /// Agreed price per CU.
        price_per_cu_usd: Amount,
    },
    /// The owner of a confidential job sealed its key to a task's node.
    TaskKeyGranted {
        /// The job.
        job_id: u64,
        /// The task.
        task: u32,
        /// The node.
        node: AccountId,
    },
    /// A task started.
    TaskStarted {
        /// The job.
        job_id: u64,
        /// The task.
        task: u32,
        /// The node.
        node: AccountId,
    },
    /// A node committed a task's result.
    TaskCompleted {
        /// The job.
        job_id: u64,
        /// The task.
        task: u32,
        /// The node.
        node: AccountId,
        /// Output hash.
        output_hash: crate::Hash,
        /// CU used × 10^6.
        cu_used_ppm: u64,
        /// What the user pays, USD base units.
        cost_usd: Amount,
    },
    /// A task went back to pending (missed start deadline or the node gave up).
    TaskReturned {
        /// The job.
        job_id: u64,
        /// The task.
        task: u32,
        /// Why.
        reason: String,
    },
    /// A task was paid out after its verification window.
    TaskSettled {
        /// The job.
        job_id: u64,
        /// The task.
        task: u32,
        /// The node.
        node: AccountId,
        /// To the node.
        node_usd: Amount,
        /// Network fee to the treasury.
        fee_usd: Amount,
        /// Unused escrow back to the owner.
        refund_usd: Amount,
    },
    /// A task ended without a result; its escrow went back.
    TaskFailed {
        /// The job.
        job_id: u64,
        /// The task.
        task: u32,
        /// Why.
        reason: String,
        /// Escrow returned.
        refund_usd: Amount,
    },
    /// A subscription was prepaid.
    Subscribed {
        /// The subscription.
        subscription_id: u64,
        /// Who.
        owner: AccountId,
        /// USD escrowed.
        escrow_usd: Amount,
        /// End, seconds after genesis.
        ends_s: u64,
    },
    /// A subscription's term ended; what was left came back.
    SubscriptionClosed {
        /// The subscription.
        subscription_id: u64,
        /// USD refunded.
        refund_usd: Amount,
    },
    /// A scheduler could not place a pending task.
    TaskUnplaceable {
        /// The job.
        job_id: u64,
        /// The task.
        task: u32,
        /// The scheduler.
        scheduler: AccountId,
        /// Why.
        explanation: String,
    },
    /// The owner cancelled the job's unstarted tasks.
    JobCancelled {
        /// The job.
        job_id: u64,
        /// Tasks cancelled.
        tasks: u32,
        /// Escrow returned.
        refund_usd: Amount,
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
    /// An incentive period began (rules §6).
    IncentivePeriodStarted {
        /// The period.
        period: u64,
        /// Utilization of the period before, ppm (0 for the first).
        previous_utilization_ppm: u64,
        /// The supply side's share for this period, ppm.
        supply_share_ppm: u64,
        /// VCAI released as rewards this period.
        released: Amount,
        /// VCAI sent to the grants fund this period.
        grants: Amount,
    },
    /// Every account of a closed period was credited; what no one earned went back to the pool.
    IncentivePeriodSettled {
        /// The period.
        period: u64,
        /// Credited, by stream.
        credited: crate::incentives::RewardParts,
        /// Back to the pool (unearned budgets, capped rebates, rounding dust).
        returned: Amount,
    },
    /// An account's rewards for a closed period.
    IncentivesCredited {
        /// Who.
        account: AccountId,
        /// The period.
        period: u64,
        /// The amounts.
        parts: crate::incentives::RewardParts,
    },
    /// Incentive rewards claimed.
    IncentivesClaimed {
        /// Who.
        account: AccountId,
        /// VCAI base units.
        amount: Amount,
    },
    /// A proposal changed a parameter.
    ParamChanged {
        /// The change.
        change: crate::governance::ParamChange,
    },
    /// The stake requirement was recomputed at the pool's time-weighted price (rules §4).
    StakeRequirementChanged {
        /// VCAI per CU of capacity.
        vcai_per_cu: Amount,
    },
    /// The beacon of the block after a result sampled it: `verifier` must re-execute it before
    /// its verification window closes.
    TaskSampled {
        /// The job.
        job_id: u64,
        /// The task.
        task: u32,
        /// The drawn verifier.
        verifier: AccountId,
    },
    /// A sampled task's verifier re-executed it and agreed with the node.
    ResultConfirmed {
        /// The job.
        job_id: u64,
        /// The task.
        task: u32,
        /// The verifier.
        verifier: AccountId,
    },
    /// A verifier was paid from the verification fees for a check.
    VerifierPaid {
        /// The verifier.
        verifier: AccountId,
        /// USD base units.
        amount: Amount,
    },
    /// A dispute opened; settlement of its subject waits for the outcome.
    DisputeOpened {
        /// The dispute.
        dispute_id: u64,
        /// About what.
        subject: crate::trust::DisputeSubject,
        /// The node disputed.
        accused: AccountId,
        /// Who disputes.
        challenger: AccountId,
        /// VCAI posted.
        deposit: Amount,
    },
    /// A dispute's referees were drawn from the beacon.
    RefereesDrawn {
        /// The dispute.
        dispute_id: u64,
        /// The referees.
        referees: Vec<AccountId>,
        /// They answer by then, seconds after genesis.
        deadline_s: u64,
    },
    /// A referee answered.
    RefereeVoted {
        /// The dispute.
        dispute_id: u64,
        /// The referee.
        referee: AccountId,
        /// The claim its answer supports.
        claim: crate::Hash,
    },
    /// A dispute ended.
    DisputeResolved {
        /// The dispute.
        dispute_id: u64,
        /// How.
        outcome: crate::trust::DisputeOutcome,
    },
    /// A compute node must prove its declared hardware (Proof of Capacity).
    CapacityChallengeIssued {
        /// The challenge.
        challenge_id: u64,
        /// The node.
        node: AccountId,
        /// Products to compute, one per device.
        devices: u32,
        /// The commitment is due by then, seconds after genesis.
        commit_deadline_s: u64,
    },
    /// A challenged node committed to its products.
    CapacityCommitted {
        /// The challenge.
        challenge_id: u64,
        /// The node.
        node: AccountId,
    },
    /// A verifier was drawn to check a capacity proof.
    CapacityVerifierDrawn {
        /// The challenge.
        challenge_id: u64,
        /// The verifier.
        verifier: AccountId,
        /// Its verdict is due by then, seconds after genesis.
        verdict_deadline_s: u64,
    },
    /// A capacity challenge ended.
    CapacityChallengeEnded {
        /// The challenge.
        challenge_id: u64,
        /// The node.
        node: AccountId,
        /// How it ended.
        state: crate::trust::ChallengeState,
    },
    /// A node passed its probation (its first capacity challenges).
    ProbationEnded {
        /// The node.
        node: AccountId,
    },
    /// Capacity a node could not prove was taken off its registration.
    CapacityRemoved {
        /// The node.
        node: AccountId,
        /// Capacity left, CU ppm.
        capacity_cu_ppm: u64,
    },
    /// Stake was slashed into the slash escrow for the appeal window.
    Slashed {
        /// The slash.
        slash_id: u64,
        /// The node.
        node: AccountId,
        /// Why.
        offence: crate::trust::Offence,
        /// Its tier.
        tier: crate::trust::Tier,
        /// VCAI taken.
        amount: Amount,
    },
    /// A node was banned for a severe offence: its DID can never register again.
    NodeBanned {
        /// The node.
        node: AccountId,
    },
    /// A slashed node appealed.
    SlashAppealed {
        /// The slash.
        slash_id: u64,
    },
    /// An escrowed slash was paid out: buyers, then the challenger, then the reserve.
    SlashPaidOut {
        /// The slash.
        slash_id: u64,
        /// VCAI to affected buyers.
        compensation: Amount,
        /// VCAI to the challenger.
        bounty: Amount,
        /// VCAI to the reserve.
        reserve: Amount,
    },
    /// An upheld appeal returned an escrowed slash to the node's stake.
    SlashReturned {
        /// The slash.
        slash_id: u64,
    },
    /// A verifier left a duty unanswered (a check, a verdict or a referee vote).
    DutyMissed {
        /// The verifier.
        verifier: AccountId,
    },
    /// A node left the network; its whole bond is unbonding.
    NodeDeregistered {
        /// The node.
        node: AccountId,
        /// VCAI moved to unbonding.
        unbonding: Amount,
    },
    /// A governance proposal was opened.
    ProposalCreated {
        /// Its id.
        id: crate::Hash,
        /// Its number.
        number: u64,
        /// Who proposed it.
        proposer: AccountId,
    },
    /// A comment on a proposal.
    ProposalComment {
        /// The proposal's number.
        number: u64,
        /// Who wrote it.
        author: AccountId,
        /// The text.
        text: String,
    },
    /// A vote was cast (a later one replaces it).
    VoteCast {
        /// The proposal's number.
        number: u64,
        /// The voter.
        voter: AccountId,
        /// The vote.
        choice: crate::governance::Choice,
        /// Weight at the proposal's snapshot, scaled by 10^27.
        #[serde(with = "crate::governance::u128_string")]
        weight: u128,
    },
    /// A vote ended.
    ProposalTallied {
        /// The proposal's number.
        number: u64,
        /// Passed, rejected or no quorum.
        status: crate::governance::ProposalStatus,
        /// Yes weight.
        #[serde(with = "crate::governance::u128_string")]
        yes: u128,
        /// No weight.
        #[serde(with = "crate::governance::u128_string")]
        no: u128,
        /// Abstain weight.
        #[serde(with = "crate::governance::u128_string")]
        abstain: u128,
        /// The quorum it needed.
        #[serde(with = "crate::governance::u128_string")]
        quorum: u128,
        /// Whether the deposit went back to the proposer (else to the reserve).
        deposit_returned: bool,
    },
    /// A passed proposal's actions ran.
    ProposalExecuted {
        /// The proposal's number.
        number: u64,
    },
    /// A passed proposal was not executed within its grace period.
    ProposalExpired {
        /// The proposal's number.
        number: u64,
    },
    /// A proposal paid from a governed fund.
    FundSpent {
        /// The fund.
        from: crate::governance::Fund,
        /// The recipient.
        to: AccountId,
        /// Denomination.
        denom: Denom,
        /// Base units.
        amount: Amount,
    },
    /// A strategic issuance minted new VCAI (rules §9).
    StrategicIssuance {
        /// The proposal's number.
        number: u64,
        /// VCAI minted.
        amount: Amount,
        /// Quotas executed so far, this one included.
        issuances: u64,
    },
    /// A module was paused or unpaused.
    ModulePaused {
        /// The module.
        module: crate::governance::Module,
        /// True when paused.
        paused: bool,
    },
    /// The validator set changed; it decides blocks from the next height.
    ValidatorsChanged {
        /// Validators now.
        count: u32,
        /// Their total power.
        total_power: u64,
    },
    /// A repricing changed the VCAI unit (rules §9). Amounts in this event and every later one
    /// are in the new unit.
    Repriced {
        /// The ratio applied: new nominal units per `denominator` old ones.
        numerator: u64,
        /// See `numerator`.
        denominator: u64,
        /// Nominal base units per internal ledger unit now.
        scale: crate::Scale,
    },
    /// An agent NFT was minted (docs/agents.md).
    AgentMinted {
        /// The agent.
        agent_id: u64,
        /// Its creator.
        creator: AccountId,
        /// Content address of version 1's package.
        package_hash: crate::Hash,
        /// Creation fee paid to the treasury, USD base units.
        fee_usd: Amount,
    },
    /// The holder appended a version.
    AgentVersionAdded {
        /// The agent.
        agent_id: u64,
        /// The version's number.
        version: u32,
        /// Content address of its package.
        package_hash: crate::Hash,
    },
    /// The holder retired a version.
    AgentVersionRetired {
        /// The agent.
        agent_id: u64,
        /// The version.
        version: u32,
    },
    /// An agent changed hands (a gift or a sale).
    AgentTransferred {
        /// The agent.
        agent_id: u64,
        /// Previous holder.
        from: AccountId,
        /// New holder.
        to: AccountId,
    },
    /// An agent was listed for sale, or its listing withdrawn (`price_usd` absent).
    AgentListed {
        /// The agent.
        agent_id: u64,
        /// USD base units, if listed.
        price_usd: Option<Amount>,
    },
    /// A listed agent was sold.
    AgentSold {
        /// The agent.
        agent_id: u64,
        /// The seller.
        seller: AccountId,
        /// The buyer.
        buyer: AccountId,
        /// Price, USD base units.
        price_usd: Amount,
        /// The treasury's commission.
        commission_usd: Amount,
        /// The creator's royalty.
        royalty_usd: Amount,
    },
    /// The holder set the agent's terms of use.
    AgentTermsSet {
        /// The agent.
        agent_id: u64,
        /// Licences offered.
        offers: u32,
        /// Fee per call without a licence, if calls are sold.
        per_call_usd: Option<Amount>,
        /// The protocol's share of licence and call fees, ppm.
        protocol_share_ppm: u32,
    },
    /// Someone bought a licence.
    AgentLicensed {
        /// The agent.
        agent_id: u64,
        /// The licensee.
        licensee: AccountId,
        /// Paid, USD base units.
        price_usd: Amount,
        /// Until, seconds since genesis (absent: for good).
        until_s: Option<u64>,
    },
    /// An agent was invoked: its job was submitted.
    AgentInvoked {
        /// The agent.
        agent_id: u64,
        /// The version run.
        version: u32,
        /// The job (the invocation's id).
        job_id: u64,
        /// The caller.
        caller: AccountId,
        /// Call fee held until the job settles, USD base units.
        fee_usd: Amount,
    },
    /// An invocation's job settled: its call fee was split (docs/agents.md, "Fees").
    AgentCallPaid {
        /// The job.
        job_id: u64,
        /// To the holder at the call.
        holder_usd: Amount,
        /// To the creator.
        royalty_usd: Amount,
        /// To the treasury.
        protocol_usd: Amount,
    },
    /// An invocation's job failed, was cancelled, or settled without the program's success: its
    /// call fee went back to the caller.
    AgentCallRefunded {
        /// The job.
        job_id: u64,
        /// USD base units.
        fee_usd: Amount,
    },
    /// A caller rated an invocation.
    AgentRated {
        /// The agent.
        agent_id: u64,
        /// The job.
        job_id: u64,
        /// 1 to 5.
        score: u8,
    },
    /// A compute node named its referrer.
    ReferrerNamed {
        /// The node.
        node: AccountId,
        /// The referrer.
        referrer: AccountId,
        /// The referrer earns on the node's rewards of periods before this one.
        until_period: u64,
    },
    /// A node's loyalty streak restarted (a slash, a long silence or a paused bond).
    LoyaltyReset {
        /// The node.
        node: AccountId,
        /// The period the new streak counts from.
        period: u64,
    },
}
