//! Slashing, the slash escrow and appeals (whitepaper §3.6.1; rules §10; docs/protocol.md,
//! "Offences and tiers").
//!
//! Each proven offence maps to a tier by a governance table: minor (5–10% of stake), moderate
//! (10–30%, and no Proof of Capacity or Delivery for a number of incentive periods), severe
//! (all of it, and the DID is banned for good). A node's next moderate offence after
//! `severe_after_moderate` of them is treated as severe. The share is taken from everything the
//! node has staked, bonded first and then its unbonding entries (unbonding stake stays
//! slashable), rounded up, and moved from `node_stake` into the `slash_escrow` account. A node
//! whose bond a slash leaves below its requirement is paused until it tops up.
//!
//! The slash waits in escrow for the appeal window (gov, 7 days). The node may appeal once
//! within it; governance decides by a proposal's `DecideAppeal` action, and an appealed slash
//! waits `appeal_decision_s` after the window for that decision. An upheld appeal returns the
//! stake (and lifts a ban); otherwise, when the window (or the wait) ends or the appeal is
//! rejected, the escrow pays out in order: affected buyers' compensation first
//! (`compensation_ppm` of the USD they paid for the affected work, in VCAI at the stake
//! requirement's price, rounded down), then the challenger's bounty (`bounty_ppm` of the slash,
//! rounded down), then the rest to the reserve. Each payment is at most what is left.
//!
//! Keys (owned here): `trust/slash_count`, `trust/slash/{id, 12 digits}`,
//! `trust/slashes_of/{hex}` (a node's last [`RECENT_SLASHES`] ids).

use super::{params, Timer};
use crate::error::TxError;
use crate::state::{Overlay, StateRead};
use crate::vesting::elapsed_s;
use crate::{bank, incentives, nodes};
use vcity_types::compute::Role;
use vcity_types::event::Event;
use vcity_types::trust::{Appeal, Offence, Slash, SlashState, Tier, MAX_APPEAL_BYTES};
use vcity_types::{AccountId, Amount, Denom, Rounding};

/// Slashes a node's record lists.
pub const RECENT_SLASHES: usize = 16;
/// Most affected buyers one slash compensates.
pub const MAX_AFFECTED: usize = 64;

const KEY_COUNT: &[u8] = b"trust/slash_count";

fn slash_key(id: u64) -> Vec<u8> {
    format!("trust/slash/{id:012}").into_bytes()
}

fn recent_key(node: &AccountId) -> Vec<u8> {
    format!("trust/slashes_of/{}", node.to_hex()).into_bytes()
}

/// Holds slashed stake during the appeal window.
pub fn escrow_account() -> AccountId {
    AccountId::module("slash_escrow")
}

/// Slashes so far (ids run from 1).
pub fn count(state: &impl StateRead) -> u64 {
    state.get(KEY_COUNT).unwrap_or(0)
}

/// A slash.
pub fn slash_record(state: &impl StateRead, id: u64) -> Option<Slash> {
    state.get(&slash_key(id))
}

/// A node's recent slashes, newest first.
pub fn recent(state: &impl StateRead, node: &AccountId) -> Vec<Slash> {
    let ids: Vec<u64> = state.get(&recent_key(node)).unwrap_or_default();
    ids.iter()
        .rev()
        .filter_map(|id| slash_record(state, *id))
        .collect()
}

fn put(state: &mut Overlay<'_>, record: &Slash) {
    state.put(slash_key(record.id), record);
}

/// Slashes `node` for `offence` (see the module documentation); `challenger` earns the bounty,
/// `affected` buyers are compensated. Returns the slash's id (none for an unknown node).
pub(crate) fn slash(
    state: &mut Overlay<'_>,
    node: &AccountId,
    offence: Offence,
    challenger: Option<AccountId>,
    mut affected: Vec<(AccountId, Amount)>,
) -> Option<u64> {
    let mut record = nodes::node(state, node)?;
    let settings = params(state);
    let rule = settings.rule(offence);
    let mut tier = rule.tier;
    let mut share_ppm = rule.slash_ppm;
    if tier == Tier::Moderate {
        if record.trust.moderate_offences >= settings.severe_after_moderate {
            tier = Tier::Severe;
            share_ppm = 1_000_000;
        }
        record.trust.moderate_offences = record.trust.moderate_offences.saturating_add(1);
    }
    let unbonding = nodes::unbonding_total(state, node);
    let slashable = record
        .stake
        .checked_add(unbonding)
        .expect("stake fits the supply");
    let amount = slashable
        .mul_div(u128::from(share_ppm), 1_000_000, Rounding::Up)
        .expect("a share of the stake")
        .min(slashable);
    let from_bond = amount.min(record.stake);
    record.stake = record
        .stake
        .checked_sub(from_bond)
        .expect("at most the bond");
    let from_unbonding = amount.checked_sub(from_bond).expect("the rest");
    nodes::take_unbonding(state, node, from_unbonding);
    if !amount.is_zero() {
        bank::transfer(
            state,
            &nodes::stake_account(),
            &escrow_account(),
            Denom::Vcai,
            amount,
        )
        .expect("node_stake holds every bond and unbonding entry");
    }
    let now = elapsed_s(state);
    // Any slash ends the node's loyalty streak (an upheld appeal returns the stake, not the
    // streak, as it does not lift a suspension either).
    if record.role == Role::Compute {
        incentives::reset_loyalty(state, node);
    }
    record.trust.slashes = record.trust.slashes.saturating_add(1);
    record.trust.last_slash_s = now;
    if rule.suspend_periods > 0 || tier == Tier::Moderate {
        let until =
            incentives::current_index(state).saturating_add(u64::from(rule.suspend_periods));
        record.trust.rewards_suspended_until_period =
            record.trust.rewards_suspended_until_period.max(until);
    }
    if tier == Tier::Severe {
        record.trust.banned = true;
        record.trust.deregistered = true;
        if record.role == Role::Verifier {
            super::remove_verifier(state, node);
        }
    }
    nodes::put(state, &record);
    affected.truncate(MAX_AFFECTED);
    let id = count(state) + 1;
    state.put(KEY_COUNT.to_vec(), &id);
    let appeal_until_s = now.saturating_add(settings.appeal_window_s);
    put(
        state,
        &Slash {
            id,
            node: *node,
            offence,
            tier,
            amount,
            at_s: now,
            appeal_until_s,
            challenger,
            affected,
            appeal: None,
            state: SlashState::Escrowed,
        },
    );
    let mut ids: Vec<u64> = state.get(&recent_key(node)).unwrap_or_default();
    if ids.len() >= RECENT_SLASHES {
        ids.remove(0);
    }
    ids.push(id);
    state.put(recent_key(node), &ids);
    super::remind(state, appeal_until_s, Timer::AppealEnds(id));
    state.emit(Event::Slashed {
        slash_id: id,
        node: *node,
        offence,
        tier,
        amount,
    });
    if tier == Tier::Severe {
        state.emit(Event::NodeBanned { node: *node });
    }
    Some(id)
}

/// `Appeal`: the slashed node, once, within the window.
pub(crate) fn execute_appeal(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &Appeal,
) -> Result<(), TxError> {
    let mut record = slash_record(state, message.slash_id)
        .ok_or_else(|| TxError::NotFound(format!("no slash {}", message.slash_id)))?;
    if record.node != *sender {
        return Err(TxError::Unauthorized(
            "only the slashed node appeals its slash".into(),
        ));
    }
    if message.reason.len() > MAX_APPEAL_BYTES || message.reason.chars().any(char::is_control) {
        return Err(TxError::InvalidEvidence(format!(
            "an appeal's reason is at most {MAX_APPEAL_BYTES} bytes of printable text"
        )));
    }
    if record.appeal.is_some() {
        return Err(TxError::Duplicate("the slash was already appealed".into()));
    }
    if record.state != SlashState::Escrowed || elapsed_s(state) >= record.appeal_until_s {
        return Err(TxError::WindowClosed(format!(
            "the appeal window closed at {} s",
            record.appeal_until_s
        )));
    }
    record.appeal = Some(message.reason.clone());
    put(state, &record);
    state.emit(Event::SlashAppealed {
        slash_id: record.id,
    });
    Ok(())
}

/// Governance's decision on an appealed slash (a proposal's `DecideAppeal` action): upheld
/// returns the stake, rejected pays the escrow out now.
pub(crate) fn decide(state: &mut Overlay<'_>, slash_id: u64, uphold: bool) -> Result<(), TxError> {
    let record = slash_record(state, slash_id)
        .ok_or_else(|| TxError::NotFound(format!("no slash {slash_id}")))?;
    if record.state != SlashState::Escrowed {
        return Err(TxError::Duplicate("the slash was already settled".into()));
    }
    if record.appeal.is_none() {
        return Err(TxError::InvalidEvidence(
            "the node has not appealed this slash".into(),
        ));
    }
    if uphold {
        give_back(state, record);
    } else {
        pay_out(state, record);
    }
    Ok(())
}

/// The appeal window of slash `id` ended (or, for an appealed slash, the wait for governance's
/// decision). An unappealed slash pays out; an appealed one waits `appeal_decision_s` more.
pub(crate) fn appeal_ends(state: &mut Overlay<'_>, id: u64) {
    if let Some(record) = slash_record(state, id) {
        if record.state != SlashState::Escrowed {
            return;
        }
        if record.appeal.is_some() {
            let decide_by_s = record
                .appeal_until_s
                .saturating_add(params(state).appeal_decision_s);
            if elapsed_s(state) < decide_by_s {
                super::remind(state, decide_by_s, Timer::AppealEnds(id));
                return;
            }
        }
        pay_out(state, record);
    }
}

/// An upheld appeal: the stake goes back to the node's bond, a ban is lifted, and the slash no
/// longer counts against it.
fn give_back(state: &mut Overlay<'_>, mut record: Slash) {
    if let Some(mut node) = nodes::node(state, &record.node) {
        if !record.amount.is_zero() {
            bank::transfer(
                state,
                &escrow_account(),
                &nodes::stake_account(),
                Denom::Vcai,
                record.amount,
            )
            .expect("the escrow holds every escrowed slash");
            node.stake = node.stake.checked_add(record.amount).expect("fits");
        }
        node.trust.slashes = node.trust.slashes.saturating_sub(1);
        if record.tier == Tier::Severe && node.trust.banned {
            node.trust.banned = false;
            node.trust.deregistered = false;
            if node.role == Role::Verifier {
                let _ = super::add_verifier(state, &node.id);
            }
        }
        if matches!(
            record.offence,
            Offence::InflatedMetering | Offence::WrongResult
        ) {
            node.trust.moderate_offences = node.trust.moderate_offences.saturating_sub(1);
        }
        nodes::put(state, &node);
    }
    record.state = SlashState::Returned;
    put(state, &record);
    state.emit(Event::SlashReturned {
        slash_id: record.id,
    });
}

/// VCAI worth `usd` at the stake requirement's price (VCAI per CU over USD per CU), rounded
/// down.
pub fn vcai_for_usd(node_params: &nodes::NodeParams, usd: Amount) -> Amount {
    if node_params.stake_usd_per_cu.is_zero() {
        return Amount::ZERO;
    }
    usd.mul_div(
        node_params.stake_per_cu.base_units(),
        node_params.stake_usd_per_cu.base_units(),
        Rounding::Down,
    )
    .unwrap_or(Amount::ZERO)
}

/// Pays an escrowed slash out: compensation, bounty, reserve.
fn pay_out(state: &mut Overlay<'_>, mut record: Slash) {
    let settings = params(state);
    let node_params = nodes::params(state);
    let escrow = escrow_account();
    let mut left = record.amount;
    let mut pay = |state: &mut Overlay<'_>, to: &AccountId, wanted: Amount| -> Amount {
        let paid = wanted.min(left);
        if !paid.is_zero() {
            bank::transfer(state, &escrow, to, Denom::Vcai, paid)
                .expect("the escrow holds every escrowed slash");
            left = left.checked_sub(paid).expect("at most what is left");
        }
        paid
    };
    let mut compensation = Amount::ZERO;
    for (buyer, usd) in record.affected.clone() {
        let owed = usd
            .mul_div(
                u128::from(settings.compensation_ppm),
                1_000_000,
                Rounding::Down,
            )
            .map(|scaled| vcai_for_usd(&node_params, scaled))
            .unwrap_or(Amount::ZERO);
        let paid = pay(state, &buyer, owed);
        compensation = compensation.checked_add(paid).expect("within the slash");
    }
    let bounty = match record.challenger {
        Some(challenger) => {
            let owed = record
                .amount
                .mul_div(u128::from(settings.bounty_ppm), 1_000_000, Rounding::Down)
                .expect("a share");
            pay(state, &challenger, owed)
        }
        None => Amount::ZERO,
    };
    let reserve = pay(
        state,
        &crate::vesting::reserve_account(),
        Amount::new(u128::MAX),
    );
    record.state = SlashState::PaidOut {
        compensation,
        bounty,
        reserve,
    };
    put(state, &record);
    state.emit(Event::SlashPaidOut {
        slash_id: record.id,
        compensation,
        bounty,
        reserve,
    });
}
