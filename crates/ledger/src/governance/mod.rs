//! Governance: the veVCAI DAO (whitepaper §3.7, rules §9; docs/governance.md).
//!
//! Nothing on this chain changes a parameter or moves Reserve, grant or treasury funds except a
//! passed proposal. A proposal's life:
//!
//! 1. `Propose`: an account whose ve weight reaches the proposal threshold deposits VCAI and
//!    opens a proposal with typed actions (at most `max_actions`; at most `max_open` proposals
//!    in discussion or voting at once). Its id hashes its number, proposer and contents, so a
//!    vote names exactly what will execute. The proposal copies the governance parameters it
//!    needs (periods, quorum, timelock, grace), so a later change never moves a running vote.
//! 2. Discussion (`discussion_s`): anyone may comment (`CommentProposal`, stored as events, at
//!    most `max_comments`).
//! 3. Voting (`voting_s`): `CastVote` yes / no / abstain, weighted by the voter's ve weight at
//!    the snapshot, one second before creation: a lock made in the proposal's own second or later
//!    has no say. A second vote replaces the first.
//! 4. Tally, at the first block at or after the vote's end: passed when yes + abstain reaches the
//!    quorum (`quorum_ppm` of the total weight at the snapshot, rounded up) and yes exceeds no;
//!    rejected when the quorum is reached without that; no quorum otherwise. The deposit goes
//!    back to the proposer unless the weight cast (yes + no + abstain) was below half the
//!    quorum, in which case it goes to the reserve: a proposal nobody turned up for costs its
//!    proposer, one that was debated and lost does not.
//! 5. A passed proposal waits out the timelock, then anyone may execute it (`ExecuteProposal`)
//!    until the grace period ends; its actions run all or nothing (a failing action leaves it
//!    passed, to be retried). After the grace period it expires. It executes at most once.
//!
//! The actions themselves are in [`actions`]; the dynamic-supply quotas and the year cap in
//! [`supply`]. A paused module refuses new business ([`check_paused`]).
//!
//! Keys (owned here): `gov/params`, `gov/count`, `gov/open`, `gov/proposal/{number, 12 digits}`,
//! `gov/id/{hex}`, `gov/vote/{number, 12 digits}/{voter hex}`,
//! `gov/comment/{number, 12 digits}/{index, 6 digits}`, `gov/paused`, `gov/timer/...`,
//! and [`supply`]'s `gov/issuances`, `gov/year_supply/{year}`, `gov/year_issued/{year}`.

pub mod actions;
pub mod supply;

use crate::error::TxError;
use crate::state::{Overlay, StateRead};
use crate::vesting::{elapsed_s, reserve_account};
use crate::{bank, ve};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use vcity_types::event::Event;
use vcity_types::governance::{
    u128_string, Action, CastVote, Choice, CommentProposal, ExecuteProposal, GovernanceParams,
    Module, ProposalStatus, Propose, MAX_ACTIONS, MAX_COMMENT_BYTES, MAX_DESCRIPTION_BYTES,
    MAX_TITLE_BYTES,
};
use vcity_types::tx::Message;
use vcity_types::{AccountId, Amount, Denom, Hash};

const KEY_PARAMS: &[u8] = b"gov/params";
const KEY_COUNT: &[u8] = b"gov/count";
const KEY_OPEN: &[u8] = b"gov/open";
const KEY_PAUSED: &[u8] = b"gov/paused";
const TIMERS: &str = "gov/timer";

/// Holds proposal deposits until the tally.
pub fn deposits_account() -> AccountId {
    AccountId::module("gov_deposits")
}

fn proposal_key(number: u64) -> Vec<u8> {
    format!("gov/proposal/{number:012}").into_bytes()
}

fn id_key(id: &Hash) -> Vec<u8> {
    format!("gov/id/{}", id.to_hex()).into_bytes()
}

fn comment_key(number: u64, index: u32) -> Vec<u8> {
    format!("gov/comment/{number:012}/{index:06}").into_bytes()
}

fn vote_key(number: u64, voter: &AccountId) -> Vec<u8> {
    format!("gov/vote/{number:012}/{}", voter.to_hex()).into_bytes()
}

/// A proposal as stored.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Proposal {
    /// The id votes name.
    pub id: Hash,
    /// Its number (from 1).
    pub number: u64,
    /// Who opened it.
    pub proposer: AccountId,
    /// One line.
    pub title: String,
    /// The case for it.
    pub description: String,
    /// What executes if it passes.
    pub actions: Vec<Action>,
    /// VCAI held until the tally.
    pub deposit: Amount,
    /// Opened, seconds after genesis.
    pub created_s: u64,
    /// Weights are read at this time (one second before creation).
    pub snapshot_s: u64,
    /// Voting opens.
    pub voting_starts_s: u64,
    /// Voting closes (exclusive).
    pub voting_ends_s: u64,
    /// Executable from (the end of the timelock).
    pub executable_s: u64,
    /// Expires at (the end of the grace period).
    pub expires_s: u64,
    /// Total ve weight at the snapshot, scaled by 10^27.
    #[serde(with = "u128_string")]
    pub total_weight: u128,
    /// Yes + abstain needed.
    #[serde(with = "u128_string")]
    pub quorum: u128,
    /// Yes weight.
    #[serde(with = "u128_string")]
    pub yes: u128,
    /// No weight.
    #[serde(with = "u128_string")]
    pub no: u128,
    /// Abstain weight.
    #[serde(with = "u128_string")]
    pub abstain: u128,
    /// Accounts that voted.
    pub voters: u32,
    /// Comments so far.
    pub comments: u32,
    /// Its most comments (the parameter when it was opened).
    pub max_comments: u32,
    /// Where it is.
    pub status: ProposalStatus,
}

impl Proposal {
    /// The phase at `now_s`, for people: `discussion`, `voting`, `tallying` (ended, not yet
    /// tallied), `timelock`, `executable`, or the final status.
    pub fn phase(&self, now_s: u64) -> &'static str {
        match self.status {
            ProposalStatus::Open if now_s < self.voting_starts_s => "discussion",
            ProposalStatus::Open if now_s < self.voting_ends_s => "voting",
            ProposalStatus::Open => "tallying",
            ProposalStatus::Passed if now_s < self.executable_s => "timelock",
            ProposalStatus::Passed if now_s < self.expires_s => "executable",
            ProposalStatus::Passed => "expired",
            ProposalStatus::Rejected => "rejected",
            ProposalStatus::NoQuorum => "no_quorum",
            ProposalStatus::Executed => "executed",
            ProposalStatus::Expired => "expired",
        }
    }
}

/// One comment (also emitted as an event; kept in state, bounded by `max_comments`, so the API
/// lists them without an indexer).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Comment {
    /// Who wrote it.
    pub author: AccountId,
    /// When, seconds after genesis.
    pub at_s: u64,
    /// The text.
    pub text: String,
}

/// Proposal `number`'s comments, oldest first.
pub fn comments(state: &impl StateRead, number: u64) -> Vec<Comment> {
    let Some(found) = proposal(state, number) else {
        return Vec::new();
    };
    (1..=found.comments)
        .filter_map(|index| state.get(&comment_key(number, index)))
        .collect()
}

/// A proposal with its phase now (`GET /v1/governance/proposals/{n}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalView {
    /// The proposal.
    #[serde(flatten)]
    pub proposal: Proposal,
    /// Its phase now (see [`Proposal::phase`]).
    pub phase: String,
}

/// The view of proposal `number`.
pub fn proposal_view(state: &impl StateRead, number: u64) -> Option<ProposalView> {
    let now = elapsed_s(state);
    proposal(state, number).map(|proposal| ProposalView {
        phase: proposal.phase(now).to_string(),
        proposal,
    })
}

/// Up to `limit` proposals, newest first, starting below number `before` (all when `None`).
pub fn recent_proposals(
    state: &impl StateRead,
    before: Option<u64>,
    limit: u64,
) -> Vec<ProposalView> {
    let top = before.map_or(count(state), |before| {
        before.saturating_sub(1).min(count(state))
    });
    (1..=top)
        .rev()
        .take(limit as usize)
        .filter_map(|number| proposal_view(state, number))
        .collect()
}

/// One recorded vote.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct VoteRecord {
    /// The vote.
    pub choice: Choice,
    /// Weight at the snapshot.
    #[serde(with = "u128_string")]
    pub weight: u128,
}

#[derive(Debug, Clone, Copy, BorshSerialize, BorshDeserialize)]
enum Timer {
    Tally(u64),
    Expire(u64),
}

/// The parameters.
pub fn params(state: &impl StateRead) -> GovernanceParams {
    state.get(KEY_PARAMS).unwrap_or_default()
}

pub(crate) fn init(state: &mut Overlay<'_>, params: &GovernanceParams) {
    state.put(KEY_PARAMS.to_vec(), params);
}

/// Checks governance parameters for genesis: everything positive and within the hard ceilings.
/// Proposals must also respect [`check_proposed_params`]'s floors.
pub fn validate_params(params: &GovernanceParams) -> Result<(), String> {
    if params.discussion_s == 0
        || params.voting_s == 0
        || params.timelock_s == 0
        || params.grace_s == 0
    {
        return Err("governance periods are positive".into());
    }
    if params.quorum_ppm > 1_000_000 {
        return Err("the quorum is at most 1,000,000 ppm".into());
    }
    if params.max_actions == 0 || params.max_actions > MAX_ACTIONS {
        return Err(format!("max_actions is 1 to {MAX_ACTIONS}"));
    }
    if params.max_open == 0 || params.max_open > 256 || params.max_comments > 10_000 {
        return Err("max_open is 1 to 256 and max_comments at most 10,000".into());
    }
    Ok(())
}

const DAY_S: u64 = 86_400;

/// The floors a proposal cannot lower governance below (a majority of one vote must not be able
/// to make the next vote a formality): every period at least a day and at most 90 days, the
/// quorum 1% to 50%.
pub fn check_proposed_params(params: &GovernanceParams) -> Result<(), String> {
    validate_params(params)?;
    for (name, value) in [
        ("discussion_s", params.discussion_s),
        ("voting_s", params.voting_s),
        ("timelock_s", params.timelock_s),
        ("grace_s", params.grace_s),
    ] {
        if !(DAY_S..=90 * DAY_S).contains(&value) {
            return Err(format!("{name} must be 1 to 90 days, not {value} s"));
        }
    }
    if !(10_000..=500_000).contains(&params.quorum_ppm) {
        return Err("the quorum must be 10,000 to 500,000 ppm (1% to 50%)".into());
    }
    Ok(())
}

pub(crate) fn set_params(state: &mut Overlay<'_>, new: &GovernanceParams) -> Result<(), TxError> {
    check_proposed_params(new).map_err(TxError::InvalidParam)?;
    state.put(KEY_PARAMS.to_vec(), new);
    Ok(())
}

/// Proposals so far.
pub fn count(state: &impl StateRead) -> u64 {
    state.get(KEY_COUNT).unwrap_or(0)
}

/// Proposals in discussion or voting.
pub fn open_count(state: &impl StateRead) -> u32 {
    state.get(KEY_OPEN).unwrap_or(0)
}

/// Proposal `number`.
pub fn proposal(state: &impl StateRead, number: u64) -> Option<Proposal> {
    state.get(&proposal_key(number))
}

/// The proposal with id `id`.
pub fn proposal_by_id(state: &impl StateRead, id: &Hash) -> Option<Proposal> {
    let number: u64 = state.get(&id_key(id))?;
    proposal(state, number)
}

/// `voter`'s vote on proposal `number`.
pub fn vote_of(state: &impl StateRead, number: u64, voter: &AccountId) -> Option<VoteRecord> {
    state.get(&vote_key(number, voter))
}

/// The modules paused now, in order.
pub fn paused(state: &impl StateRead) -> Vec<Module> {
    state.get(KEY_PAUSED).unwrap_or_default()
}

pub(crate) fn set_paused(
    state: &mut Overlay<'_>,
    module: Module,
    pause: bool,
) -> Result<(), TxError> {
    let mut list = paused(state);
    let present = list.contains(&module);
    if present == pause {
        return Err(TxError::Duplicate(format!(
            "module {} is already {}",
            module.name(),
            if pause { "paused" } else { "running" }
        )));
    }
    if pause {
        list.push(module);
        list.sort();
    } else {
        list.retain(|m| *m != module);
    }
    state.put(KEY_PAUSED.to_vec(), &list);
    state.emit(Event::ModulePaused {
        module,
        paused: pause,
    });
    Ok(())
}

/// The modules whose pause refuses `message`: new business only. Claims, withdrawals,
/// heartbeats, unbonding, work on jobs already escrowed, verifier duties and governance itself
/// are never paused, so funds already owed can always leave. An agent call is also a new job, so
/// it stops when either module does.
pub fn pausable_modules(message: &Message) -> &'static [Module] {
    match message {
        Message::Transfer(_) | Message::MintUsd(_) => &[Module::Bank],
        Message::VeLock(_) | Message::VeIncrease(_) | Message::VeExtend(_) => &[Module::Ve],
        Message::AddLiquidity(_) | Message::SwapExactIn(_) | Message::SwapExactOut(_) => {
            &[Module::Pool]
        }
        Message::RegisterNode(_) | Message::UpdateNode(_) | Message::AddStake(_) => {
            &[Module::Nodes]
        }
        Message::SubmitJob(_) | Message::Subscribe(_) => &[Module::Jobs],
        Message::ChallengeResult(_) | Message::ReportEquivocation(_) | Message::AttestNode(_) => {
            &[Module::Trust]
        }
        Message::MintAgent(_)
        | Message::AddAgentVersion(_)
        | Message::ListAgent(_)
        | Message::BuyAgent(_)
        | Message::SetLicenceTerms(_)
        | Message::TakeLicence(_) => &[Module::Agents],
        Message::InvokeAgent(_) => &[Module::Agents, Module::Jobs],
        _ => &[],
    }
}

/// Refuses `message` when one of its modules is paused (code `paused`).
pub(crate) fn check_paused(state: &impl StateRead, message: &Message) -> Result<(), TxError> {
    let paused = paused(state);
    if let Some(module) = pausable_modules(message)
        .iter()
        .find(|module| paused.contains(module))
    {
        return Err(TxError::Paused(format!(
            "module {} is paused by governance; claims and withdrawals stay open",
            module.name()
        )));
    }
    Ok(())
}

fn printable(text: &str) -> bool {
    !text.chars().any(|c| c.is_control() && c != '\n')
}

fn put(state: &mut Overlay<'_>, proposal: &Proposal) {
    state.put(proposal_key(proposal.number), proposal);
}

/// `Propose`.
pub(crate) fn execute_propose(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &Propose,
) -> Result<(), TxError> {
    let settings = params(state);
    if message.title.trim().is_empty()
        || message.title.len() > MAX_TITLE_BYTES
        || message.title.contains('\n')
        || !printable(&message.title)
    {
        return Err(TxError::InvalidProposal(format!(
            "the title is one line of 1 to {MAX_TITLE_BYTES} bytes of printable text"
        )));
    }
    if message.description.len() > MAX_DESCRIPTION_BYTES || !printable(&message.description) {
        return Err(TxError::InvalidProposal(format!(
            "the description is at most {MAX_DESCRIPTION_BYTES} bytes of printable text"
        )));
    }
    let count_actions = message.actions.len();
    if count_actions == 0 || count_actions > settings.max_actions as usize {
        return Err(TxError::InvalidProposal(format!(
            "a proposal has 1 to {} actions, not {count_actions}",
            settings.max_actions
        )));
    }
    for action in &message.actions {
        actions::check(state, action)?;
    }
    if open_count(state) >= settings.max_open {
        return Err(TxError::InvalidProposal(format!(
            "{} proposals are already open, the most allowed",
            settings.max_open
        )));
    }
    let now = elapsed_s(state);
    let weight = ve::weight(state, sender);
    if weight < settings.proposal_threshold_weight {
        return Err(TxError::NoVotingWeight(format!(
            "proposing needs a ve weight of {} (×10^-27 veVCAI); {sender} has {weight}",
            settings.proposal_threshold_weight
        )));
    }
    if !settings.deposit.is_zero() {
        bank::transfer(
            state,
            sender,
            &deposits_account(),
            Denom::Vcai,
            settings.deposit,
        )?;
    }
    let number = count(state) + 1;
    let id = message.id(number, sender);
    let snapshot_s = now.saturating_sub(1);
    let total_weight = ve::total_weight_at(state, snapshot_s);
    // Rounded up: the protocol never lets a proposal pass on a rounding.
    let quorum = mul_div_up(total_weight, u128::from(settings.quorum_ppm), 1_000_000);
    let voting_starts_s = now.saturating_add(settings.discussion_s);
    let voting_ends_s = voting_starts_s.saturating_add(settings.voting_s);
    let executable_s = voting_ends_s.saturating_add(settings.timelock_s);
    let proposal = Proposal {
        id,
        number,
        proposer: *sender,
        title: message.title.clone(),
        description: message.description.clone(),
        actions: message.actions.clone(),
        deposit: settings.deposit,
        created_s: now,
        snapshot_s,
        voting_starts_s,
        voting_ends_s,
        executable_s,
        expires_s: executable_s.saturating_add(settings.grace_s),
        total_weight,
        quorum,
        yes: 0,
        no: 0,
        abstain: 0,
        voters: 0,
        comments: 0,
        max_comments: settings.max_comments,
        status: ProposalStatus::Open,
    };
    state.put(KEY_COUNT.to_vec(), &number);
    state.put(KEY_OPEN.to_vec(), &(open_count(state) + 1));
    state.put(id_key(&id), &number);
    put(state, &proposal);
    crate::timers::remind(state, TIMERS, voting_ends_s, Timer::Tally(number));
    state.emit(Event::ProposalCreated {
        id,
        number,
        proposer: *sender,
    });
    Ok(())
}

fn mul_div_up(value: u128, numerator: u128, denominator: u128) -> u128 {
    vcity_types::wide::mul_div(value, numerator, denominator, vcity_types::Rounding::Up)
        .expect("a share of at most 100% of a u128 fits")
}

fn find(state: &impl StateRead, id: &Hash) -> Result<Proposal, TxError> {
    proposal_by_id(state, id).ok_or_else(|| TxError::NotFound(format!("no proposal {id}")))
}

/// `CommentProposal`.
pub(crate) fn execute_comment(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &CommentProposal,
) -> Result<(), TxError> {
    let mut proposal = find(state, &message.proposal)?;
    if message.text.trim().is_empty()
        || message.text.len() > MAX_COMMENT_BYTES
        || !printable(&message.text)
    {
        return Err(TxError::InvalidProposal(format!(
            "a comment is 1 to {MAX_COMMENT_BYTES} bytes of printable text"
        )));
    }
    let now = elapsed_s(state);
    if proposal.status != ProposalStatus::Open || now >= proposal.voting_ends_s {
        return Err(TxError::WindowClosed(format!(
            "proposal {} takes comments until its vote ends",
            proposal.number
        )));
    }
    if proposal.comments >= proposal.max_comments {
        return Err(TxError::InvalidProposal(format!(
            "proposal {} has its {} comments",
            proposal.number, proposal.max_comments
        )));
    }
    proposal.comments += 1;
    put(state, &proposal);
    state.put(
        comment_key(proposal.number, proposal.comments),
        &Comment {
            author: *sender,
            at_s: now,
            text: message.text.clone(),
        },
    );
    state.emit(Event::ProposalComment {
        number: proposal.number,
        author: *sender,
        text: message.text.clone(),
    });
    Ok(())
}

/// `CastVote`.
pub(crate) fn execute_vote(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &CastVote,
) -> Result<(), TxError> {
    let mut proposal = find(state, &message.proposal)?;
    let now = elapsed_s(state);
    if proposal.status != ProposalStatus::Open
        || now < proposal.voting_starts_s
        || now >= proposal.voting_ends_s
    {
        return Err(TxError::WindowClosed(format!(
            "proposal {} takes votes from {} s to {} s after genesis",
            proposal.number, proposal.voting_starts_s, proposal.voting_ends_s
        )));
    }
    let weight = ve::weight_at(state, sender, proposal.snapshot_s);
    if weight == 0 {
        return Err(TxError::NoVotingWeight(format!(
            "{sender} had no ve weight at proposal {}'s snapshot ({} s)",
            proposal.number, proposal.snapshot_s
        )));
    }
    let key = vote_key(proposal.number, sender);
    match state.get::<VoteRecord>(&key) {
        Some(previous) => *tally_of(&mut proposal, previous.choice) -= previous.weight,
        None => proposal.voters += 1,
    }
    *tally_of(&mut proposal, message.choice) += weight;
    state.put(
        key,
        &VoteRecord {
            choice: message.choice,
            weight,
        },
    );
    put(state, &proposal);
    state.emit(Event::VoteCast {
        number: proposal.number,
        voter: *sender,
        choice: message.choice,
        weight,
    });
    Ok(())
}

fn tally_of(proposal: &mut Proposal, choice: Choice) -> &mut u128 {
    match choice {
        Choice::Yes => &mut proposal.yes,
        Choice::No => &mut proposal.no,
        Choice::Abstain => &mut proposal.abstain,
    }
}

/// The outcome of a vote: passed, rejected or no quorum (pure, for tests and tools).
pub fn outcome(yes: u128, no: u128, abstain: u128, quorum: u128) -> ProposalStatus {
    if yes.saturating_add(abstain) < quorum {
        ProposalStatus::NoQuorum
    } else if yes > no {
        ProposalStatus::Passed
    } else {
        ProposalStatus::Rejected
    }
}

/// Whether the deposit goes back: unless the weight cast was below half the quorum.
pub fn deposit_returned(yes: u128, no: u128, abstain: u128, quorum: u128) -> bool {
    let cast = yes.saturating_add(no).saturating_add(abstain);
    cast >= quorum.div_ceil(2)
}

fn tally(state: &mut Overlay<'_>, mut proposal: Proposal) -> Proposal {
    let status = outcome(proposal.yes, proposal.no, proposal.abstain, proposal.quorum);
    let returned = deposit_returned(proposal.yes, proposal.no, proposal.abstain, proposal.quorum);
    if !proposal.deposit.is_zero() {
        let to = if returned {
            proposal.proposer
        } else {
            reserve_account()
        };
        bank::transfer(
            state,
            &deposits_account(),
            &to,
            Denom::Vcai,
            proposal.deposit,
        )
        .expect("the deposits account holds every open proposal's deposit");
    }
    proposal.status = status;
    state.put(KEY_OPEN.to_vec(), &open_count(state).saturating_sub(1));
    state.emit(Event::ProposalTallied {
        number: proposal.number,
        status,
        yes: proposal.yes,
        no: proposal.no,
        abstain: proposal.abstain,
        quorum: proposal.quorum,
        deposit_returned: returned,
    });
    if status == ProposalStatus::Passed {
        // A chain that halted past the grace period tallies and expires in one block.
        if elapsed_s(state) >= proposal.expires_s {
            proposal.status = ProposalStatus::Expired;
            state.emit(Event::ProposalExpired {
                number: proposal.number,
            });
        } else {
            crate::timers::remind(
                state,
                TIMERS,
                proposal.expires_s,
                Timer::Expire(proposal.number),
            );
        }
    }
    put(state, &proposal);
    proposal
}

/// `ExecuteProposal`: anyone, once, between the end of the timelock and the end of the grace
/// period.
pub(crate) fn execute_execute(
    state: &mut Overlay<'_>,
    _sender: &AccountId,
    message: &ExecuteProposal,
) -> Result<(), TxError> {
    let mut proposal = find(state, &message.proposal)?;
    let now = elapsed_s(state);
    if proposal.status == ProposalStatus::Open && now >= proposal.voting_ends_s {
        proposal = tally(state, proposal);
    }
    match proposal.status {
        ProposalStatus::Passed => {}
        ProposalStatus::Executed => {
            return Err(TxError::Duplicate(format!(
                "proposal {} was already executed",
                proposal.number
            )))
        }
        other => {
            return Err(TxError::NotExecutable(format!(
                "proposal {} is {other:?}, not passed",
                proposal.number
            )))
        }
    }
    if now < proposal.executable_s {
        return Err(TxError::NotExecutable(format!(
            "proposal {}'s timelock ends at {} s after genesis; it is {now} s",
            proposal.number, proposal.executable_s
        )));
    }
    if now >= proposal.expires_s {
        return Err(TxError::NotExecutable(format!(
            "proposal {} expired at {} s after genesis",
            proposal.number, proposal.expires_s
        )));
    }
    for action in &proposal.actions {
        actions::apply(state, &proposal, action)?;
    }
    proposal.status = ProposalStatus::Executed;
    put(state, &proposal);
    state.emit(Event::ProposalExecuted {
        number: proposal.number,
    });
    Ok(())
}

/// `begin_block`: records the VCAI supply at the start of each year (the issuance cap's base),
/// tallies votes that ended and expires passed proposals whose grace period ended.
pub(crate) fn begin_block(state: &mut Overlay<'_>) {
    let now = elapsed_s(state);
    supply::record_year_start(state, now);
    for timer in crate::timers::take_due::<Timer>(state, TIMERS, now) {
        match timer {
            Timer::Tally(number) => {
                if let Some(found) = proposal(state, number) {
                    if found.status == ProposalStatus::Open {
                        tally(state, found);
                    }
                }
            }
            Timer::Expire(number) => {
                if let Some(mut found) = proposal(state, number) {
                    if found.status == ProposalStatus::Passed {
                        found.status = ProposalStatus::Expired;
                        put(state, &found);
                        state.emit(Event::ProposalExpired { number });
                    }
                }
            }
        }
    }
}

/// `GET /v1/governance`: the parameters, counts, pauses and quotas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The parameters.
    pub params: GovernanceParams,
    /// Proposals so far.
    pub proposals: u64,
    /// In discussion or voting.
    pub open: u32,
    /// Paused modules.
    pub paused: Vec<Module>,
    /// VCAI in the reserve.
    pub reserve_vcai: Amount,
    /// VCAI in the incentive grants account.
    pub grants_vcai: Amount,
    /// The treasury's balances.
    pub treasury_usd: Amount,
    /// The treasury's VCAI.
    pub treasury_vcai: Amount,
    /// The dynamic-supply quotas.
    pub quotas: supply::Quotas,
}

/// The status.
pub fn status(state: &impl StateRead) -> Status {
    Status {
        params: params(state),
        proposals: count(state),
        open: open_count(state),
        paused: paused(state),
        reserve_vcai: bank::balance(state, &reserve_account(), Denom::Vcai),
        grants_vcai: bank::balance(state, &crate::incentives::grants_account(), Denom::Vcai),
        treasury_usd: bank::balance(state, &bank::treasury(), Denom::Usd),
        treasury_vcai: bank::balance(state, &bank::treasury(), Denom::Vcai),
        quotas: supply::quotas(state),
    }
}
