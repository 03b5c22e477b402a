//! Capacity challenges: Proof of Capacity made real (whitepaper §2.5.4, §5.2.3; rules §10;
//! docs/verification.md, "Capacity challenges").
//!
//! At beacon-chosen times a compute node must prove the hardware it declared. The challenge
//! lists one product per device: the CPU (an `n × n` product with `n = cpu_challenge_n`) and
//! each declared GPU (`n = gpu_challenge_n`), with matrices `A`, `B` of 8-bit integers that
//! anyone derives from the challenge's seed (a hash of the block beacon, the node and the
//! challenge id). The node computes `C = A·B` exactly (32-bit sums) and, before the commit
//! deadline, commits per device to the list Merkle root of `C`'s row hashes (`CommitCapacity`).
//! The deadline is `commit_latency_s` plus each device's share `n³ / (factor × macs_per_cu_s)`,
//! from the GPU factor table: a device that is not what the node declared cannot make it.
//!
//! The beacon of the next block draws a verifier. It picks a secret random vector `r` and rows,
//! asks the node for `y = C·r` (mod 2^61 − 1) and the rows with their Merkle proofs, and checks
//! Freivalds' equation `A·(B·r) = y` in O(n²) plus each opened row against the root and against
//! `y`. It answers with `CapacityVerdict`; a failing verdict opens a dispute (with the verifier's
//! deposit) that referees decide the same way.
//!
//! A passed challenge counts towards probation (a new or grown node earns no Proof of Capacity
//! until it passes `probation_challenges`) and schedules the next one, drawn between half and one
//! and a half of `challenge_interval_s` later. A missed or failed one is a minor offence: the
//! node's GPUs come off its registration (their capacity is unproven), its Proof of Capacity for
//! the period is forfeited, and it is slashed. A challenge nobody checked proves nothing either
//! way and is issued again after `challenge_retry_s`.
//!
//! Keys (owned here): `trust/challenge_count`, `trust/challenge/{id, 12 digits}`,
//! `trust/challenges_of/{hex}` (a node's last [`RECENT_CHALLENGES`] ids).

use super::{draw_below, params, slashing, Draw, Timer};
use crate::error::TxError;
use crate::state::{Overlay, StateRead};
use crate::vesting::elapsed_s;
use crate::{incentives, nodes};
use vcity_types::compute::{NodeRecord, Role};
use vcity_types::event::Event;
use vcity_types::hash::Domain;
use vcity_types::trust::{
    capacity_claim, CapacityChallenge, CapacityVerdict, ChallengeDevice, ChallengeState,
    CommitCapacity, DisputeSubject, Duty, Offence,
};
use vcity_types::{AccountId, Hash};

/// Challenges a node's record lists.
pub const RECENT_CHALLENGES: usize = 8;
/// The label of the CPU's product.
pub const CPU_LABEL: &str = "cpu";

const KEY_COUNT: &[u8] = b"trust/challenge_count";

fn challenge_key(id: u64) -> Vec<u8> {
    format!("trust/challenge/{id:012}").into_bytes()
}

fn recent_key(node: &AccountId) -> Vec<u8> {
    format!("trust/challenges_of/{}", node.to_hex()).into_bytes()
}

/// Challenges issued so far (ids run from 1).
pub fn count(state: &impl StateRead) -> u64 {
    state.get(KEY_COUNT).unwrap_or(0)
}

/// A challenge.
pub fn challenge(state: &impl StateRead, id: u64) -> Option<CapacityChallenge> {
    state.get(&challenge_key(id))
}

/// A node's recent challenges, newest first.
pub fn recent(state: &impl StateRead, node: &AccountId) -> Vec<CapacityChallenge> {
    let ids: Vec<u64> = state.get(&recent_key(node)).unwrap_or_default();
    ids.iter()
        .rev()
        .filter_map(|id| challenge(state, *id))
        .collect()
}

fn put(state: &mut Overlay<'_>, found: &CapacityChallenge) {
    state.put(challenge_key(found.id), found);
}

/// The devices a challenge to `node` covers, in order: the CPU, then one per GPU.
pub fn devices(settings: &super::TrustParams, node: &NodeRecord) -> Vec<ChallengeDevice> {
    let mut list = Vec::new();
    if node.hardware.cpu_cores > 0 {
        list.push(ChallengeDevice {
            label: CPU_LABEL.into(),
            n: settings.cpu_challenge_n,
        });
    }
    for gpu in &node.hardware.gpus {
        for _ in 0..gpu.count {
            list.push(ChallengeDevice {
                label: gpu.model.clone(),
                n: settings.gpu_challenge_n,
            });
        }
    }
    list
}

/// Seconds the products should take on the declared devices: `Σ n³ / (factor × macs_per_cu_s)`,
/// each rounded up (the CPU's factor is all its cores').
pub fn expected_compute_s(
    settings: &super::TrustParams,
    node_params: &nodes::NodeParams,
    node: &NodeRecord,
    devices: &[ChallengeDevice],
) -> u64 {
    devices
        .iter()
        .map(|device| {
            let factor_ppm = if device.label == CPU_LABEL {
                u64::from(node.hardware.cpu_cores).saturating_mul(node_params.cpu_core_factor_ppm)
            } else {
                node_params
                    .gpu_factors_ppm
                    .iter()
                    .find(|(model, _)| *model == device.label)
                    .map_or(0, |(_, factor)| *factor)
            };
            let macs = u128::from(device.n).pow(3);
            let rate = u128::from(factor_ppm) * u128::from(settings.macs_per_cu_s) / 1_000_000;
            u64::try_from(macs.div_ceil(rate.max(1))).unwrap_or(u64::MAX)
        })
        .fold(0, u64::saturating_add)
}

/// The seed of challenge `id` to `node`, from the current block's beacon.
fn seed(state: &impl StateRead, node: &AccountId, id: u64) -> Hash {
    Hash::of(
        Domain::CapacitySeed,
        &[
            crate::chain::beacon(state).as_bytes(),
            &node.0,
            &id.to_le_bytes(),
        ],
    )
}

/// A node registered or grew its hardware: it is on probation and is challenged soon.
pub(crate) fn on_new_capacity(state: &mut Overlay<'_>, record: &mut NodeRecord) {
    let settings = params(state);
    record.trust.probation = settings.probation_challenges > 0;
    if settings.capacity_challenges && record.trust.open_challenge.is_none() {
        let within = settings.first_challenge_within_s.max(1);
        let delay = 1 + draw_below(state, &[b"first", &record.id.0], within);
        super::remind(
            state,
            elapsed_s(state).saturating_add(delay),
            Timer::IssueChallenge(record.id),
        );
    }
}

fn schedule_next(state: &mut Overlay<'_>, node: &AccountId, retry: bool) {
    let settings = params(state);
    let delay = if retry {
        settings.challenge_retry_s.max(1)
    } else {
        let interval = settings.challenge_interval_s.max(1);
        interval / 2 + draw_below(state, &[b"next", &node.0], interval)
    };
    super::remind(
        state,
        elapsed_s(state).saturating_add(delay.max(1)),
        Timer::IssueChallenge(*node),
    );
}

/// A reminder to challenge `node` fired.
pub(crate) fn issue(state: &mut Overlay<'_>, node: &AccountId) {
    let Some(mut record) = nodes::node(state, node) else {
        return;
    };
    if !params(state).capacity_challenges
        || record.role != Role::Compute
        || record.trust.deregistered
        || record.trust.banned
        || record.trust.open_challenge.is_some()
    {
        return;
    }
    let settings = params(state);
    let list = devices(&settings, &record);
    if list.is_empty() {
        return;
    }
    let id = count(state) + 1;
    state.put(KEY_COUNT.to_vec(), &id);
    let now = elapsed_s(state);
    let expected = expected_compute_s(&settings, &nodes::params(state), &record, &list);
    let commit_deadline_s = now
        .saturating_add(settings.commit_latency_s)
        .saturating_add(expected);
    let issued = CapacityChallenge {
        id,
        node: *node,
        seed: seed(state, node, id),
        devices: list,
        issued_s: now,
        commit_deadline_s,
        roots: Vec::new(),
        verifier: None,
        verdict_deadline_s: 0,
        state: ChallengeState::AwaitingCommit,
    };
    put(state, &issued);
    let mut ids: Vec<u64> = state.get(&recent_key(node)).unwrap_or_default();
    if ids.len() >= RECENT_CHALLENGES {
        ids.remove(0);
    }
    ids.push(id);
    state.put(recent_key(node), &ids);
    record.trust.open_challenge = Some(id);
    nodes::put(state, &record);
    super::remind(
        state,
        commit_deadline_s.saturating_add(1),
        Timer::CommitDue(id),
    );
    state.emit(Event::CapacityChallengeIssued {
        challenge_id: id,
        node: *node,
        devices: issued.devices.len() as u32,
        commit_deadline_s,
    });
}

/// `CommitCapacity`: the node commits to its products before the deadline.
pub(crate) fn execute_commit(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &CommitCapacity,
) -> Result<(), TxError> {
    let mut found = challenge(state, message.challenge_id).ok_or_else(|| {
        TxError::NotFound(format!("no capacity challenge {}", message.challenge_id))
    })?;
    if found.node != *sender {
        return Err(TxError::Unauthorized(
            "the challenge is another node's".into(),
        ));
    }
    if found.state != ChallengeState::AwaitingCommit {
        return Err(TxError::Duplicate(
            "the challenge is no longer waiting for a commitment".into(),
        ));
    }
    if elapsed_s(state) > found.commit_deadline_s {
        return Err(TxError::WindowClosed(format!(
            "the commitment was due by {} s",
            found.commit_deadline_s
        )));
    }
    if message.roots.len() != found.devices.len() {
        return Err(TxError::InvalidEvidence(format!(
            "{} roots for {} devices",
            message.roots.len(),
            found.devices.len()
        )));
    }
    found.roots = message.roots.clone();
    found.state = ChallengeState::AwaitingVerifier;
    put(state, &found);
    super::draw_next_block(state, Draw::CapacityVerifier(found.id));
    state.emit(Event::CapacityCommitted {
        challenge_id: found.id,
        node: found.node,
    });
    Ok(())
}

/// Draws the verifier of a committed proof (the block after the commitment).
pub(crate) fn draw_verifier(state: &mut Overlay<'_>, eligible: &[AccountId], id: u64) {
    let Some(mut found) = challenge(state, id) else {
        return;
    };
    if found.state != ChallengeState::AwaitingVerifier {
        return;
    }
    let mut tag = b"capacity".to_vec();
    tag.extend_from_slice(&id.to_le_bytes());
    let drawn = super::draw_verifiers(state, eligible, &[found.node], 1, &tag);
    let Some(verifier) = drawn.first().copied() else {
        end(state, found, ChallengeState::Unverified);
        return;
    };
    let deadline = elapsed_s(state).saturating_add(params(state).verdict_window_s);
    found.verifier = Some(verifier);
    found.verdict_deadline_s = deadline;
    found.state = ChallengeState::AwaitingVerdict;
    put(state, &found);
    super::add_duty(state, &verifier, Duty::Verdict { challenge_id: id });
    super::remind(state, deadline.saturating_add(1), Timer::VerdictDue(id));
    state.emit(Event::CapacityVerifierDrawn {
        challenge_id: id,
        verifier,
        verdict_deadline_s: deadline,
    });
}

/// `CapacityVerdict`: the drawn verifier's answer.
pub(crate) fn execute_verdict(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &CapacityVerdict,
) -> Result<(), TxError> {
    let mut found = challenge(state, message.challenge_id).ok_or_else(|| {
        TxError::NotFound(format!("no capacity challenge {}", message.challenge_id))
    })?;
    if found.verifier != Some(*sender) {
        return Err(TxError::NotDrawn(
            "another verifier was drawn for this challenge".into(),
        ));
    }
    if found.state != ChallengeState::AwaitingVerdict {
        return Err(TxError::Duplicate("the verdict was already given".into()));
    }
    if elapsed_s(state) > found.verdict_deadline_s {
        return Err(TxError::WindowClosed(format!(
            "the verdict was due by {} s",
            found.verdict_deadline_s
        )));
    }
    if message.pass {
        super::end_duty(
            state,
            sender,
            Duty::Verdict {
                challenge_id: found.id,
            },
            true,
        );
        end(state, found, ChallengeState::Passed);
        return Ok(());
    }
    let deposit = params(state).challenge_deposit;
    let dispute_id = super::disputes::open(
        state,
        DisputeSubject::Capacity {
            challenge_id: found.id,
        },
        found.node,
        *sender,
        deposit,
        capacity_claim(true),
        capacity_claim(false),
        Offence::CapacityFailed,
    )?;
    super::end_duty(
        state,
        sender,
        Duty::Verdict {
            challenge_id: found.id,
        },
        true,
    );
    found.state = ChallengeState::Disputed { dispute_id };
    put(state, &found);
    Ok(())
}

/// The commit deadline passed.
pub(crate) fn commit_due(state: &mut Overlay<'_>, id: u64) {
    let Some(found) = challenge(state, id) else {
        return;
    };
    if found.state == ChallengeState::AwaitingCommit {
        let node = found.node;
        end(state, found, ChallengeState::Missed);
        slashing::slash(state, &node, Offence::CapacityMissed, None, Vec::new());
    }
}

/// The verdict deadline passed.
pub(crate) fn verdict_due(state: &mut Overlay<'_>, id: u64) {
    let Some(found) = challenge(state, id) else {
        return;
    };
    if found.state != ChallengeState::AwaitingVerdict {
        return;
    }
    if let Some(verifier) = found.verifier {
        super::end_duty(state, &verifier, Duty::Verdict { challenge_id: id }, false);
    }
    end(state, found, ChallengeState::Unverified);
}

/// A dispute about challenge `id` ended with the proof good (`pass`) or bad (the slash is the
/// dispute's to make).
pub(crate) fn disputed(state: &mut Overlay<'_>, id: u64, pass: bool) {
    if let Some(found) = challenge(state, id) {
        let outcome = if pass {
            ChallengeState::Passed
        } else {
            ChallengeState::Failed
        };
        end(state, found, outcome);
    }
}

/// A dispute about challenge `id` had no majority.
pub(crate) fn inconclusive(state: &mut Overlay<'_>, id: u64) {
    if let Some(found) = challenge(state, id) {
        end(state, found, ChallengeState::Unverified);
    }
}

/// Ends a challenge: records it on the node and schedules the next.
fn end(state: &mut Overlay<'_>, mut found: CapacityChallenge, outcome: ChallengeState) {
    found.state = outcome.clone();
    put(state, &found);
    state.emit(Event::CapacityChallengeEnded {
        challenge_id: found.id,
        node: found.node,
        state: outcome.clone(),
    });
    let Some(mut record) = nodes::node(state, &found.node) else {
        return;
    };
    if record.trust.open_challenge == Some(found.id) {
        record.trust.open_challenge = None;
    }
    let retry = match outcome {
        ChallengeState::Passed => {
            record.trust.challenges_passed = record.trust.challenges_passed.saturating_add(1);
            if record.trust.probation
                && record.trust.challenges_passed >= params(state).probation_challenges
            {
                record.trust.probation = false;
                state.emit(Event::ProbationEnded { node: record.id });
            }
            false
        }
        ChallengeState::Failed | ChallengeState::Missed => {
            record.trust.challenges_failed = record.trust.challenges_failed.saturating_add(1);
            // The GPUs it could not prove come off its registration; the CPU stays.
            if !record.hardware.gpus.is_empty() {
                record.hardware.gpus.clear();
                record.capacity_cu_ppm =
                    nodes::capacity_ppm(&nodes::params(state), &record.hardware)
                        .unwrap_or(record.capacity_cu_ppm);
                state.emit(Event::CapacityRemoved {
                    node: record.id,
                    capacity_cu_ppm: record.capacity_cu_ppm,
                });
            }
            incentives::forfeit_capacity(state, &record.id);
            false
        }
        _ => true,
    };
    nodes::put(state, &record);
    if !record.trust.deregistered && !record.trust.banned {
        schedule_next(state, &record.id, retry);
    }
}
