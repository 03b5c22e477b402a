//! Disputes the ledger decides by itself (rules §10; docs/verification.md, "Disputes").
//!
//! **Referee rounds.** A challenger disputes a task's result or a capacity proof with a deposit
//! (gov, 1,000 VCAI) held in `dispute_deposits`. The beacon of the next block draws `k` referees
//! (gov, 3) among the eligible verifiers, never the accused, the challenger or the task's buyer.
//! Each re-executes (or re-checks the proof) and answers with the claim it finds before the
//! referee window closes. When every referee has answered, or at the deadline:
//! - more than half of the drawn referees side with the challenger: the node is at fault. The
//!   deposit comes back, the offence is slashed with the challenger as bounty-holder, the task's
//!   buyer is refunded (and compensated from the slash), and referees who sided with the node
//!   are slashed for it;
//! - more than half side with the node: the deposit goes to the node, the subject stands as if
//!   checked, and referees who sided with the challenger are slashed;
//! - otherwise (no referee eligible, too few answers, a split): inconclusive. The deposit comes
//!   back and the subject stands unverified.
//!
//! Referees who do not answer are recorded as having missed a duty.
//!
//! **Equivocation** needs no referees: two statements signed by one node for one attempt at a
//! task, with different results, are the proof (`ReportEquivocation`). The node is slashed at
//! the severe tier and banned; a result of that attempt still awaiting settlement is disproved.
//!
//! Keys (owned here): `trust/dispute_count`, `trust/dispute/{id, 12 digits}`.

use super::{params, slashing, Draw, Timer};
use crate::error::TxError;
use crate::state::{Overlay, StateRead};
use crate::vesting::elapsed_s;
use crate::{bank, capacity, chain, jobs, nodes};
use vcity_types::compute::TaskState;
use vcity_types::event::Event;
use vcity_types::trust::{
    capacity_claim, Dispute, DisputeOutcome, DisputeSubject, Duty, Offence, RefereeVote,
    ReportEquivocation, Vote,
};
use vcity_types::{AccountId, Amount, Denom, Hash};

const KEY_COUNT: &[u8] = b"trust/dispute_count";

fn dispute_key(id: u64) -> Vec<u8> {
    format!("trust/dispute/{id:012}").into_bytes()
}

/// Disputes opened so far (ids run from 1).
pub fn count(state: &impl StateRead) -> u64 {
    state.get(KEY_COUNT).unwrap_or(0)
}

/// A dispute.
pub fn dispute(state: &impl StateRead, id: u64) -> Option<Dispute> {
    state.get(&dispute_key(id))
}

fn put(state: &mut Overlay<'_>, dispute: &Dispute) {
    state.put(dispute_key(dispute.id), dispute);
}

/// Opens a dispute: takes the deposit, records it, and asks the next block for referees.
#[allow(clippy::too_many_arguments)] // each is one side of the dispute
pub(crate) fn open(
    state: &mut Overlay<'_>,
    subject: DisputeSubject,
    accused: AccountId,
    challenger: AccountId,
    deposit: Amount,
    node_claim: Hash,
    challenger_claim: Hash,
    offence: Offence,
) -> Result<u64, TxError> {
    if !deposit.is_zero() {
        bank::transfer(
            state,
            &challenger,
            &super::deposits_account(),
            Denom::Vcai,
            deposit,
        )?;
    }
    let id = count(state) + 1;
    state.put(KEY_COUNT.to_vec(), &id);
    let opened = Dispute {
        id,
        subject: subject.clone(),
        accused,
        challenger,
        deposit,
        node_claim,
        challenger_claim,
        offence,
        referees: Vec::new(),
        votes: Vec::new(),
        opened_s: elapsed_s(state),
        deadline_s: 0,
        outcome: DisputeOutcome::Open,
    };
    put(state, &opened);
    super::draw_next_block(state, Draw::Referees(id));
    state.emit(Event::DisputeOpened {
        dispute_id: id,
        subject,
        accused,
        challenger,
        deposit,
    });
    Ok(id)
}

/// Draws a dispute's referees (the block after it opened).
pub(crate) fn draw_referees(state: &mut Overlay<'_>, eligible: &[AccountId], id: u64) {
    let Some(mut found) = dispute(state, id) else {
        return;
    };
    if found.outcome != DisputeOutcome::Open || !found.referees.is_empty() {
        return;
    }
    let settings = params(state);
    let mut excluded = vec![found.accused, found.challenger];
    if let DisputeSubject::Task { job_id, .. } = found.subject {
        if let Some(record) = jobs::job(state, job_id) {
            excluded.push(record.owner);
        }
    }
    let mut tag = b"referees".to_vec();
    tag.extend_from_slice(&id.to_le_bytes());
    let referees =
        super::draw_verifiers(state, eligible, &excluded, settings.referees as usize, &tag);
    if referees.is_empty() {
        resolve(state, found);
        return;
    }
    let deadline_s = elapsed_s(state).saturating_add(settings.referee_window_s);
    for referee in &referees {
        super::add_duty(state, referee, Duty::Referee { dispute_id: id });
    }
    found.referees = referees.clone();
    found.deadline_s = deadline_s;
    put(state, &found);
    super::remind(state, deadline_s.saturating_add(1), Timer::RefereesDue(id));
    state.emit(Event::RefereesDrawn {
        dispute_id: id,
        referees,
        deadline_s,
    });
}

/// `RefereeVote`.
pub(crate) fn execute_vote(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &RefereeVote,
) -> Result<(), TxError> {
    let mut found = dispute(state, message.dispute_id)
        .ok_or_else(|| TxError::NotFound(format!("no dispute {}", message.dispute_id)))?;
    if found.outcome != DisputeOutcome::Open {
        return Err(TxError::WindowClosed(format!(
            "dispute {} has ended",
            found.id
        )));
    }
    if !found.referees.contains(sender) {
        return Err(TxError::NotDrawn(format!(
            "{sender} is not a referee of dispute {}",
            found.id
        )));
    }
    if found.votes.iter().any(|(referee, _)| referee == sender) {
        return Err(TxError::Duplicate("this referee has already voted".into()));
    }
    if elapsed_s(state) > found.deadline_s {
        return Err(TxError::WindowClosed(format!(
            "the referees' window closed at {} s",
            found.deadline_s
        )));
    }
    let claim = match (&found.subject, &message.vote) {
        (DisputeSubject::Task { .. }, Vote::Result { commitment }) => commitment.hash(),
        (DisputeSubject::Capacity { .. }, Vote::Capacity { pass }) => capacity_claim(*pass),
        _ => {
            return Err(TxError::InvalidEvidence(
                "the vote is not of the dispute's kind".into(),
            ))
        }
    };
    found.votes.push((*sender, claim));
    super::end_duty(
        state,
        sender,
        Duty::Referee {
            dispute_id: found.id,
        },
        true,
    );
    state.emit(Event::RefereeVoted {
        dispute_id: found.id,
        referee: *sender,
        claim,
    });
    if found.votes.len() == found.referees.len() {
        resolve(state, found);
    } else {
        put(state, &found);
    }
    Ok(())
}

/// The referees' deadline passed.
pub(crate) fn deadline(state: &mut Overlay<'_>, id: u64) {
    let Some(found) = dispute(state, id) else {
        return;
    };
    if found.outcome != DisputeOutcome::Open || found.referees.is_empty() {
        return;
    }
    for referee in &found.referees {
        if !found.votes.iter().any(|(voter, _)| voter == referee) {
            super::end_duty(state, referee, Duty::Referee { dispute_id: id }, false);
        }
    }
    resolve(state, found);
}

/// The outcome of `votes` among `referees` drawn (see the module documentation).
pub fn outcome(found: &Dispute) -> DisputeOutcome {
    let drawn = found.referees.len();
    let for_claim = |claim: &Hash| found.votes.iter().filter(|(_, vote)| vote == claim).count();
    if drawn > 0 && 2 * for_claim(&found.challenger_claim) > drawn {
        DisputeOutcome::NodeAtFault {
            offence: found.offence,
        }
    } else if drawn > 0 && 2 * for_claim(&found.node_claim) > drawn {
        DisputeOutcome::ChallengerWrong
    } else {
        DisputeOutcome::Inconclusive
    }
}

fn resolve(state: &mut Overlay<'_>, mut found: Dispute) {
    let result = outcome(&found);
    let deposits = super::deposits_account();
    let losing_claim = match &result {
        DisputeOutcome::NodeAtFault { offence } => {
            // The deposit comes back; the subject is disproved; the node is slashed.
            refund_deposit(state, &deposits, &found.challenger, found.deposit);
            let affected = match found.subject {
                DisputeSubject::Task { job_id, task } => {
                    jobs::disprove(state, job_id, task, "a referee round disproved the result")
                        .into_iter()
                        .collect()
                }
                DisputeSubject::Capacity { challenge_id } => {
                    capacity::disputed(state, challenge_id, false);
                    Vec::new()
                }
            };
            slashing::slash(
                state,
                &found.accused,
                *offence,
                Some(found.challenger),
                affected,
            );
            Some(found.node_claim)
        }
        DisputeOutcome::ChallengerWrong => {
            refund_deposit(state, &deposits, &found.accused, found.deposit);
            match found.subject {
                DisputeSubject::Task { job_id, task } => {
                    if let Some(mut record) = nodes::node(state, &found.accused) {
                        record.trust.results_confirmed =
                            record.trust.results_confirmed.saturating_add(1);
                        nodes::put(state, &record);
                    }
                    jobs::dispute_ended(state, job_id, task);
                }
                DisputeSubject::Capacity { challenge_id } => {
                    capacity::disputed(state, challenge_id, true);
                }
            }
            Some(found.challenger_claim)
        }
        DisputeOutcome::Inconclusive | DisputeOutcome::Open => {
            refund_deposit(state, &deposits, &found.challenger, found.deposit);
            match found.subject {
                DisputeSubject::Task { job_id, task } => jobs::dispute_ended(state, job_id, task),
                DisputeSubject::Capacity { challenge_id } => {
                    capacity::inconclusive(state, challenge_id);
                }
            }
            None
        }
    };
    if let Some(losing) = losing_claim {
        let losers: Vec<AccountId> = found
            .votes
            .iter()
            .filter(|(_, claim)| *claim == losing)
            .map(|(referee, _)| *referee)
            .collect();
        for referee in losers {
            slashing::slash(
                state,
                &referee,
                Offence::RefereeOnLosingSide,
                None,
                Vec::new(),
            );
        }
    }
    found.outcome = result.clone();
    put(state, &found);
    state.emit(Event::DisputeResolved {
        dispute_id: found.id,
        outcome: result,
    });
}

fn refund_deposit(state: &mut Overlay<'_>, from: &AccountId, to: &AccountId, amount: Amount) {
    if !amount.is_zero() {
        bank::transfer(state, from, to, Denom::Vcai, amount)
            .expect("the deposits account holds every open dispute's deposit");
    }
}

/// `ReportEquivocation`: two different signed results for one attempt prove misconduct.
pub(crate) fn execute_equivocation(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &ReportEquivocation,
) -> Result<(), TxError> {
    let (first, second) = (&message.first, &message.second);
    if !first.verify() || !second.verify() {
        return Err(TxError::InvalidEvidence(
            "a statement's signature does not verify".into(),
        ));
    }
    let (a, b) = (&first.statement, &second.statement);
    if first.signer != second.signer
        || a.chain_id != b.chain_id
        || a.job_id != b.job_id
        || a.task != b.task
        || a.attempt != b.attempt
    {
        return Err(TxError::InvalidEvidence(
            "the statements are not by one node about one attempt at one task".into(),
        ));
    }
    if a.result_hash == b.result_hash {
        return Err(TxError::InvalidEvidence(
            "the statements agree: no equivocation".into(),
        ));
    }
    if a.chain_id != chain::chain_id(state) {
        return Err(TxError::InvalidEvidence(
            "the statements are for another chain".into(),
        ));
    }
    let node = first.signer;
    if node == *sender {
        return Err(TxError::Unauthorized("a node cannot report itself".into()));
    }
    let record = nodes::node(state, &node)
        .ok_or_else(|| TxError::NotFound(format!("{node} is not a registered node")))?;
    if record.trust.banned {
        return Err(TxError::Duplicate(format!("{node} is already banned")));
    }
    // The buyer of that attempt is affected: an unsettled result of it is disproved (refunded);
    // a settled one is compensated from the slash.
    let mut affected = Vec::new();
    if let Some(job) = jobs::job(state, a.job_id) {
        if let Some(task) = job.tasks.get(a.task as usize) {
            match &task.state {
                TaskState::Completed { node: holder, .. }
                    if *holder == node && task.attempts == a.attempt =>
                {
                    affected.extend(jobs::disprove(
                        state,
                        a.job_id,
                        a.task,
                        "the node signed two different results",
                    ));
                }
                TaskState::Settled {
                    node: holder,
                    cost_usd,
                    ..
                } if *holder == node => affected.push((job.owner, *cost_usd)),
                _ => {}
            }
        }
    }
    slashing::slash(state, &node, Offence::Equivocation, Some(*sender), affected);
    Ok(())
}
