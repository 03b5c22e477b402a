//! Invocations: an agent called on the network (rules §11; docs/agents.md, "Invocation").
//!
//! A call names the agent and a version (or the newest one not retired) and brings the input
//! and the compute terms. The ledger submits a one-task job running the version's program on
//! that input, paid by the caller like any job (escrow, scheduling, verification, settlement:
//! [`crate::jobs`]). Who pays what for the agent itself:
//! - the holder calls its own agent free;
//! - while an exclusive licence runs, only its licensee (and the holder) may call, free;
//! - a caller with a valid licence calls free;
//! - anyone else pays the terms' fee per call, if the holder sells calls, and no more than the
//!   `max_call_fee_usd` the call names; otherwise the call is refused (`no_licence`).
//!
//! The call fee waits in `agent_escrow` until the job's task ends: when it settles with the
//! program's success, the fee is split (the protocol's share fixed with the terms, the creator's
//! royalty, the holder at the time of the call); when it settles without success (the program
//! exited with an error, trapped or ran out of its budget: the caller still pays the compute,
//! as for any job), fails, is cancelled or its result is disproved, the fee goes back to the
//! caller. [`crate::jobs`] reports both ends here.
//!
//! The caller of a settled call that was not the holder's own may rate it once, 1 to 5. The
//! agent keeps the count and the sum, and discovery ranks by the lower bound of the Wilson
//! interval ([`vcity_types::agents::rating_lower_bound_ppm`]) once an agent has `min_ratings`.
//!
//! Keys (owned here): `agents/call/{job, 12 digits}`.

use super::{escrow_account, load, pay, put, split};
use crate::error::TxError;
use crate::state::{Overlay, StateRead};
use crate::vesting::elapsed_s;
use vcity_types::agents::{Invocation, InvocationState, InvokeAgent, RateInvocation, RATING_RANGE};
use vcity_types::compute::{Billing, SubmitJob, Workload};
use vcity_types::event::Event;
use vcity_types::{AccountId, Amount, Denom};

fn call_key(job_id: u64) -> Vec<u8> {
    format!("agents/call/{job_id:012}").into_bytes()
}

/// The invocation a job runs, if it runs one.
pub fn invocation(state: &impl StateRead, job_id: u64) -> Option<Invocation> {
    state.get(&call_key(job_id))
}

/// `InvokeAgent`.
pub(crate) fn execute_invoke(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &InvokeAgent,
) -> Result<(), TxError> {
    let record = load(state, message.agent_id)?;
    let id = record.id;
    let version = if message.version == 0 {
        (1..=record.versions)
            .rev()
            .filter_map(|number| super::version(state, id, number))
            .find(|found| !found.retired)
            .ok_or_else(|| {
                TxError::InvalidAgent(format!("every version of agent {id} is retired"))
            })?
    } else {
        let found = super::version(state, id, message.version).ok_or_else(|| {
            TxError::NotFound(format!("agent {id} has no version {}", message.version))
        })?;
        if found.retired {
            return Err(TxError::InvalidAgent(format!(
                "version {} of agent {id} is retired",
                message.version
            )));
        }
        found
    };
    let now = elapsed_s(state);
    let (fee_usd, protocol_share_ppm) = call_fee(state, &record, sender, now, message)?;
    let submit = SubmitJob {
        workload: Workload {
            module_hash: version.program.module_hash,
            input: message.input.clone(),
            executor: version.program.executor.clone(),
            shards: message.shard.iter().cloned().collect(),
            service: None,
            output_dir: false,
            confidential: None,
        },
        tasks: 1,
        requirements: message.requirements.clone(),
        max_cu_ppm_per_task: message.max_cu_ppm,
        max_price_per_cu_usd: message.max_price_per_cu_usd,
        billing: Billing::PayAsYouGo,
        verification: message.verification,
        retries: None,
    };
    crate::jobs::execute_submit(state, sender, &submit)?;
    let job_id = crate::jobs::count(state);
    if !fee_usd.is_zero() {
        crate::bank::transfer(state, sender, &escrow_account(), Denom::Usd, fee_usd)?;
    }
    state.put(
        call_key(job_id),
        &Invocation {
            job_id,
            agent_id: id,
            version: version.number,
            caller: *sender,
            holder: record.owner,
            fee_usd,
            protocol_share_ppm,
            state: InvocationState::Running,
            rating: None,
        },
    );
    state.emit(Event::AgentInvoked {
        agent_id: id,
        version: version.number,
        job_id,
        caller: *sender,
        fee_usd,
    });
    Ok(())
}

/// What `caller` pays for the agent on this call, and the protocol's share of it.
fn call_fee(
    state: &impl StateRead,
    record: &vcity_types::agents::Agent,
    caller: &AccountId,
    now: u64,
    message: &InvokeAgent,
) -> Result<(Amount, u32), TxError> {
    let id = record.id;
    if record.owner == *caller {
        return Ok((Amount::ZERO, 0));
    }
    match record.exclusive {
        Some((licensee, until)) if now < until => {
            return if licensee == *caller {
                Ok((Amount::ZERO, 0))
            } else {
                Err(TxError::NoLicence(format!(
                    "agent {id} is licensed exclusively to someone else until {until} s"
                )))
            };
        }
        _ => {}
    }
    if super::licences::licence(state, id, caller).is_some_and(|found| found.valid_at(now)) {
        return Ok((Amount::ZERO, 0));
    }
    let terms = record.terms.as_ref();
    let Some(fee) = terms.and_then(|terms| terms.per_call_usd) else {
        return Err(TxError::NoLicence(format!(
            "{caller} holds no valid licence for agent {id}, which sells no single calls"
        )));
    };
    if fee > message.max_call_fee_usd {
        return Err(TxError::Slippage(format!(
            "a call costs {fee} USD base units, more than the {} offered",
            message.max_call_fee_usd
        )));
    }
    Ok((fee, terms.map_or(0, |terms| terms.protocol_share_ppm)))
}

/// The job's task settled: the call fee is paid out when the program succeeded (`delivered`),
/// and goes back to the caller when it did not.
pub(crate) fn task_settled(
    state: &mut Overlay<'_>,
    job_id: u64,
    delivered: bool,
) -> Result<(), TxError> {
    let Some(mut call) = invocation(state, job_id) else {
        return Ok(());
    };
    if call.state != InvocationState::Running {
        return Ok(());
    }
    if !delivered {
        return give_back(state, call, InvocationState::Undelivered);
    }
    call.state = InvocationState::Settled;
    let mut record = load(state, call.agent_id)?;
    let parts = split(call.fee_usd, call.protocol_share_ppm, record.royalty_bps)?;
    pay(
        state,
        &escrow_account(),
        parts,
        &record.creator,
        &call.holder,
    )?;
    if call.caller != call.holder {
        record.calls = record.calls.saturating_add(1);
        put(state, &record);
    }
    state.put(call_key(job_id), &call);
    state.emit(Event::AgentCallPaid {
        job_id,
        holder_usd: parts.holder,
        royalty_usd: parts.royalty,
        protocol_usd: parts.protocol,
    });
    Ok(())
}

/// The job's task ended without a result that stands: the call fee goes back.
pub(crate) fn task_refunded(state: &mut Overlay<'_>, job_id: u64) -> Result<(), TxError> {
    let Some(call) = invocation(state, job_id) else {
        return Ok(());
    };
    if call.state != InvocationState::Running {
        return Ok(());
    }
    give_back(state, call, InvocationState::Refunded)
}

/// Returns a running call's fee to its caller and records how the call ended.
fn give_back(
    state: &mut Overlay<'_>,
    mut call: Invocation,
    ending: InvocationState,
) -> Result<(), TxError> {
    let job_id = call.job_id;
    call.state = ending;
    if !call.fee_usd.is_zero() {
        crate::bank::transfer(
            state,
            &escrow_account(),
            &call.caller,
            Denom::Usd,
            call.fee_usd,
        )?;
    }
    state.put(call_key(job_id), &call);
    state.emit(Event::AgentCallRefunded {
        job_id,
        fee_usd: call.fee_usd,
    });
    Ok(())
}

/// `RateInvocation`.
pub(crate) fn execute_rate(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &RateInvocation,
) -> Result<(), TxError> {
    let job_id = message.job_id;
    let mut call = invocation(state, job_id)
        .ok_or_else(|| TxError::NotFound(format!("job {job_id} is no agent call")))?;
    if call.caller != *sender {
        return Err(TxError::Unauthorized(format!(
            "only the caller of job {job_id} rates it"
        )));
    }
    if call.caller == call.holder {
        return Err(TxError::InvalidAgent(
            "the holder's own calls are not rated".into(),
        ));
    }
    if !matches!(
        call.state,
        InvocationState::Settled | InvocationState::Undelivered
    ) {
        return Err(TxError::InvalidAgent(format!(
            "job {job_id} has not settled; only a call whose job was paid is rated"
        )));
    }
    if call.rating.is_some() {
        return Err(TxError::Duplicate(format!("job {job_id} is already rated")));
    }
    if !RATING_RANGE.contains(&message.score) {
        return Err(TxError::InvalidAgent("a score is 1 to 5".into()));
    }
    call.rating = Some(message.score);
    state.put(call_key(job_id), &call);
    let mut record = load(state, call.agent_id)?;
    record.ratings = record.ratings.saturating_add(1);
    record.rating_points = record
        .rating_points
        .saturating_add(u64::from(message.score - 1));
    put(state, &record);
    state.emit(Event::AgentRated {
        agent_id: call.agent_id,
        job_id,
        score: message.score,
    });
    Ok(())
}
