//! Sampled re-execution of results (rules §10; docs/verification.md, "Checks").
//!
//! A job buys a verification level; each level has a sampling rate (gov: none 0, standard 5%,
//! high 25%, full 100%), raised to the risky rate (25%) for nodes on probation or of low
//! reputation, and raised further, whatever the level but none, to the **deterrence rate**
//! `2·P / (P + S)` when the task is worth a lot against what the node would lose: `P` is the
//! most the task can pay the node, `S` the wrong-result slash of its stake, in USD at the stake
//! requirement's price. At that rate faking a result never pays (docs/verification.md, "Why
//! lying does not pay"). The rate is fixed when the task is assigned. The buyer pays the expected
//! cost of the re-execution it asks for: `cost × rate` per task, at most the highest rate its
//! level can reach without the deterrence term (what its escrow covers), charged at settlement
//! into the `verification_fees` account; deterrence sampling above that is paid from the fees.
//!
//! When a node commits a result in block `h`, the beacon of block `h + 1` (unknown to the node
//! when it committed) decides whether the task is sampled (`draw < rate`) and draws a verifier
//! among the eligible ones, never the node or the buyer. The verifier fetches the module and
//! input (their hashes are on the ledger), re-executes the task in the same deterministic
//! executor with the same fuel budget and CU factor, and before the window closes either agrees
//! (`VerifyResult`: its commitment hashes to the node's) or disputes (`ChallengeResult`, with a
//! deposit). Anyone may challenge a result in its window the same way, sampled or not.
//!
//! At settlement the checker of an agreed result is paid the task's cost (what the re-execution
//! is worth at the node's price) from the fees, as far as they reach; a checker that did not
//! answer in time is recorded as having missed a duty, and the task settles unchallenged.
//! Proof of Delivery and utilization count only CU whose check agreed, whose dispute the node
//! won, or whose window closed unchallenged.
//!
//! Keys: none of its own; checks live on the task (`Task::check`), duties in `trust/duties`.

use super::{disputes, draw_below, params, reputation, TrustParams};
use crate::error::TxError;
use crate::jobs;
use crate::state::Overlay;
use crate::vesting::elapsed_s;
use vcity_types::compute::{NodeRecord, ResultCommitment, TaskState, TeeTier};
use vcity_types::event::Event;
use vcity_types::trust::{
    ChallengeResult, Check, CheckState, DisputeSubject, Duty, Offence, VerificationLevel,
    VerifyResult,
};
use vcity_types::{AccountId, Amount, Rounding};

/// The deterrence rate, ppm: `2·P / (P + S)` for a task worth at most `value` to the node and a
/// slash `slash` (both in the same unit), at most 10^6, rounded up.
pub fn deterrence_rate_ppm(value: Amount, slash: Amount) -> u32 {
    let total = value.base_units().saturating_add(slash.base_units());
    if total == 0 {
        return 0;
    }
    let rate = vcity_types::wide::mul_div(2 * value.base_units(), 1_000_000, total, Rounding::Up)
        .unwrap_or(1_000_000);
    u32::try_from(rate.min(1_000_000)).expect("at most 10^6")
}

/// What the node stands to lose for a wrong result, in USD base units: the wrong-result share
/// of its bonded and unbonding stake, at the stake requirement's price.
pub fn slash_at_stake_usd(
    params: &TrustParams,
    node_params: &crate::nodes::NodeParams,
    staked: Amount,
) -> Amount {
    let share = params
        .rule(vcity_types::trust::Offence::WrongResult)
        .slash_ppm;
    let slashed = staked
        .mul_div(u128::from(share), 1_000_000, Rounding::Down)
        .unwrap_or(Amount::ZERO);
    if node_params.stake_per_cu.is_zero() {
        return Amount::ZERO;
    }
    slashed
        .mul_div(
            node_params.stake_usd_per_cu.base_units(),
            node_params.stake_per_cu.base_units(),
            Rounding::Down,
        )
        .unwrap_or(Amount::ZERO)
}

/// The sampling rate of a task of `level` assigned to `node`, ppm, when it can pay the node at
/// most `value_usd` and the node would lose `slash_usd` for a wrong result (see the module
/// documentation). `tee_factor_ppm` scales the level (or risky) rate, rounded up and never
/// below one ppm: [`tee_factor_ppm`] for a node whose TEE tier stands, 10^6 otherwise
/// (docs/attestation.md, "What a tier is worth"). The deterrence rate is not lowered, because
/// it must hold even against a node that has broken its TEE.
pub fn sampling_rate_ppm(
    params: &TrustParams,
    level: VerificationLevel,
    node: &NodeRecord,
    start_deadline_s: u64,
    value_usd: Amount,
    slash_usd: Amount,
    tee_factor_ppm: u32,
) -> u32 {
    let rate = params.level_rates_ppm[level.index()];
    if level == VerificationLevel::None {
        return rate;
    }
    let rate = if reputation::is_risky(node, params.low_reputation_ppm, start_deadline_s) {
        rate.max(params.risky_rate_ppm)
    } else {
        rate
    };
    let rate = if tee_factor_ppm < 1_000_000 {
        let lowered = vcity_types::wide::mul_div(
            u128::from(rate),
            u128::from(tee_factor_ppm),
            1_000_000,
            Rounding::Up,
        )
        .unwrap_or(u128::from(rate));
        u32::try_from(lowered).unwrap_or(rate).clamp(1, rate.max(1))
    } else {
        rate
    };
    rate.max(deterrence_rate_ppm(value_usd, slash_usd))
}

/// The factor [`sampling_rate_ppm`] applies to `node`'s results for a task it must start by
/// `start_by_s` (seconds after genesis): the attestation rules' factor if its TEE tier stands
/// until then, 10^6 (no change) otherwise.
pub fn tee_factor_ppm(
    rules: &vcity_types::attestation::AttestationRules,
    node: &NodeRecord,
    start_by_s: u64,
) -> u32 {
    if node.tee.tier_at(start_by_s) > TeeTier::None {
        rules.sampling_factor_ppm.min(1_000_000)
    } else {
        1_000_000
    }
}

/// The highest rate a task of `level` can be sampled at (what its escrow covers), ppm.
pub fn max_sampling_rate_ppm(params: &TrustParams, level: VerificationLevel) -> u32 {
    let rate = params.level_rates_ppm[level.index()];
    if level == VerificationLevel::None {
        rate
    } else {
        rate.max(params.risky_rate_ppm)
    }
}

/// The verification fee on `cost` at `rate_ppm`, rounded up (the protocol's side).
pub fn fee(cost: Amount, rate_ppm: u32) -> Result<Amount, TxError> {
    Ok(cost.mul_div(u128::from(rate_ppm), 1_000_000, Rounding::Up)?)
}

/// Whether `offence` is inflated metering or a wrong result: the same exit, output and size with
/// a different CU is metering; anything else is a wrong result.
pub fn classify(node: &ResultCommitment, other: &ResultCommitment) -> Offence {
    if node.exit == other.exit
        && node.output == other.output
        && node.output_bytes == other.output_bytes
    {
        Offence::InflatedMetering
    } else {
        Offence::WrongResult
    }
}

/// Draws the check of a result committed in the previous block (see the module documentation).
pub(crate) fn draw_check(state: &mut Overlay<'_>, eligible: &[AccountId], job_id: u64, task: u32) {
    let Some(mut record) = jobs::job(state, job_id) else {
        return;
    };
    let Some(entry) = record.tasks.get(task as usize) else {
        return;
    };
    let TaskState::Completed { node, .. } = entry.state else {
        return;
    };
    if entry.check.is_some() || entry.dispute.is_some() || entry.sampling_ppm == 0 {
        return;
    }
    let what = [
        b"sample" as &[u8],
        &job_id.to_le_bytes(),
        &task.to_le_bytes(),
        &entry.attempts.to_le_bytes(),
    ];
    if draw_below(state, &what, 1_000_000) >= u64::from(entry.sampling_ppm) {
        return;
    }
    let mut tag = b"checker".to_vec();
    tag.extend_from_slice(&job_id.to_le_bytes());
    tag.extend_from_slice(&task.to_le_bytes());
    let drawn = super::draw_verifiers(state, eligible, &[node, record.owner], 1, &tag);
    let Some(verifier) = drawn.first().copied() else {
        // No verifier can take it: the task settles unchecked when its window closes.
        return;
    };
    record.tasks[task as usize].check = Some(Check {
        verifier,
        state: CheckState::Pending,
    });
    jobs::put(state, &record);
    super::add_duty(state, &verifier, Duty::Check { job_id, task });
    state.emit(Event::TaskSampled {
        job_id,
        task,
        verifier,
    });
}

/// The committed task `job_id`/`task`, open for checks and challenges at `now`.
fn open_result(
    state: &Overlay<'_>,
    job_id: u64,
    task: u32,
) -> Result<(vcity_types::compute::Job, AccountId, ResultCommitment, u64), TxError> {
    let record =
        jobs::job(state, job_id).ok_or_else(|| TxError::NotFound(format!("no job {job_id}")))?;
    let entry = record
        .tasks
        .get(task as usize)
        .ok_or_else(|| TxError::NotFound(format!("job {job_id} has no task {task}")))?;
    match &entry.state {
        TaskState::Completed {
            node,
            commitment,
            settle_at_s,
            ..
        } => {
            let (node, commitment, settle_at_s) = (*node, commitment.clone(), *settle_at_s);
            if elapsed_s(state) >= settle_at_s {
                return Err(TxError::WindowClosed(format!(
                    "the verification window of job {job_id} task {task} closed at {settle_at_s} s"
                )));
            }
            Ok((record, node, commitment, settle_at_s))
        }
        TaskState::Settled { .. } | TaskState::Failed { .. } | TaskState::Cancelled => Err(
            TxError::WindowClosed(format!("job {job_id} task {task} has ended")),
        ),
        _ => Err(TxError::InvalidJob(format!(
            "job {job_id} task {task} has no result yet"
        ))),
    }
}

/// `VerifyResult`: the drawn verifier agrees.
pub(crate) fn execute_verify(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &VerifyResult,
) -> Result<(), TxError> {
    let (mut record, node, commitment, _) = open_result(state, message.job_id, message.task)?;
    let entry = &mut record.tasks[message.task as usize];
    let check = entry.check.as_mut().ok_or_else(|| {
        TxError::NotDrawn(format!(
            "job {} task {} was not sampled",
            message.job_id, message.task
        ))
    })?;
    if check.verifier != *sender {
        return Err(TxError::NotDrawn(
            "another verifier was drawn to check this task".into(),
        ));
    }
    if check.state != CheckState::Pending {
        return Err(TxError::Duplicate("this check was already answered".into()));
    }
    if message.commitment.hash() != commitment.hash() {
        return Err(TxError::InvalidEvidence(
            "the commitment differs from the node's: send ChallengeResult to dispute it".into(),
        ));
    }
    check.state = CheckState::Agreed;
    jobs::put(state, &record);
    super::end_duty(
        state,
        sender,
        Duty::Check {
            job_id: message.job_id,
            task: message.task,
        },
        true,
    );
    if let Some(mut found) = crate::nodes::node(state, &node) {
        found.trust.results_confirmed = found.trust.results_confirmed.saturating_add(1);
        crate::nodes::put(state, &found);
    }
    state.emit(Event::ResultConfirmed {
        job_id: message.job_id,
        task: message.task,
        verifier: *sender,
    });
    Ok(())
}

/// `ChallengeResult`: anyone but the node disputes a result in its window, with a deposit.
pub(crate) fn execute_challenge(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &ChallengeResult,
) -> Result<(), TxError> {
    let (mut record, node, commitment, _) = open_result(state, message.job_id, message.task)?;
    if node == *sender {
        return Err(TxError::Unauthorized(
            "a node cannot challenge its own result".into(),
        ));
    }
    if record.workload.confidential.is_some() {
        // Referees re-execute, and nobody but the task's attested node can read its input.
        return Err(TxError::InvalidJob(
            "a confidential job's result cannot be disputed by re-execution: only its \
             attested node can read its input"
                .into(),
        ));
    }
    let entry = &mut record.tasks[message.task as usize];
    if let Some(existing) = entry.dispute {
        return Err(TxError::Duplicate(format!(
            "the result is already disputed (dispute {existing})"
        )));
    }
    if message.commitment.hash() == commitment.hash() {
        return Err(TxError::InvalidEvidence(
            "the commitment agrees with the node's: nothing to dispute".into(),
        ));
    }
    let offence = classify(&commitment, &message.commitment);
    let deposit = params(state).challenge_deposit;
    let dispute_id = disputes::open(
        state,
        DisputeSubject::Task {
            job_id: message.job_id,
            task: message.task,
        },
        node,
        *sender,
        deposit,
        commitment.hash(),
        message.commitment.hash(),
        offence,
    )?;
    entry.dispute = Some(dispute_id);
    let was_checker = match entry.check.as_mut() {
        Some(check) if check.verifier == *sender && check.state == CheckState::Pending => {
            check.state = CheckState::Disputed { dispute_id };
            true
        }
        _ => false,
    };
    jobs::put(state, &record);
    if was_checker {
        super::end_duty(
            state,
            sender,
            Duty::Check {
                job_id: message.job_id,
                task: message.task,
            },
            true,
        );
    }
    Ok(())
}
