//! Protocol repricing (whitepaper §3.7.3, rules §9; docs/governance.md, "Repricing").
//!
//! A repricing changes the unit VCAI is counted in, like a stock split: after a ten-for-one split
//! every holder has ten times as many tokens, each worth a tenth, and nobody's share of anything
//! has moved. The ledger does it in O(1): every component keeps VCAI in one internal unit that
//! never changes, and this component owns the one [`Scale`] (nominal base units per internal one)
//! that sits between that unit and the outside world:
//!
//! - **Write:** a transaction's VCAI amounts are nominal; [`to_internal`] converts them before
//!   the message reaches its component. Amounts a sender spends, locks, unbonds or pays out round
//!   down (a transaction never moves more than its sender signed for); minimums a sender demands
//!   (slippage bounds), thresholds in proposals and stakes round up (nobody accepts less than was
//!   asked, and a bond covers the figure it names).
//! - **Events:** components emit internal amounts; the ledger converts a block's events where it
//!   collects them into receipts ([`events_to_nominal`]), each with the scale of the moment it
//!   happened (a `Repriced` event switches the unit for those after it), so a receipt speaks the
//!   unit of its own block. The scale is read once per block and followed through those events,
//!   so a block pays nothing for repricing until one happens.
//! - **Read:** the node's API views show VCAI through [`scale`]: holdings rounded down,
//!   requirements the ledger enforces (stake per CU, minimums, deposits) rounded up, so that
//!   sending a shown requirement back always meets it. Refusals quote nominal figures too.
//!
//! Since no internal quantity moves, balances, locks, stakes, escrows, pool reserves, vote
//! weights and VCAI-denominated parameters all scale together and the supply invariant holds
//! without a pass over accounts. The pool's price per nominal VCAI divides by the ratio and its
//! time-weighted oracle stays continuous (it is kept per internal unit). Quota stages (rules §9:
//! 500,000,000 locked VCAI per stage) count genesis units, so a split does not mint quotas.
//!
//! A repricing applies a ratio of at most 1,000 either way, and the accumulated scale stays in
//! lowest terms with both terms at most 10^12 ([`vcity_types::scale`]); it is refused if the
//! nominal VCAI supply would exceed [`MAX_NOMINAL_SUPPLY`].
//!
//! Keys (owned here): `repricing/scale` (absent = one).

use crate::bank;
use crate::error::TxError;
use crate::state::{Overlay, StateRead};
use std::borrow::Cow;
use vcity_types::compute::{AddStake, RegisterNode, Unbond};
use vcity_types::event::Event;
use vcity_types::governance::{Action, GovernanceParams, ParamChange, Payment};
use vcity_types::incentives::RewardParts;
use vcity_types::scale::MAX_REPRICING_RATIO;
use vcity_types::tx::{AddLiquidity, Message, RemoveLiquidity, Transfer, VeIncrease, VeLock};
use vcity_types::{Amount, AmountError, Denom, Rounding, Scale};

const KEY_SCALE: &[u8] = b"repricing/scale";

/// The largest nominal VCAI supply a repricing may produce, base units (10^36: a billion times
/// the genesis supply), so that every nominal quantity and sums of them fit 128 bits.
pub const MAX_NOMINAL_SUPPLY: u128 = 1_000_000_000_000_000_000_000_000_000_000_000_000;

/// Nominal VCAI base units per internal unit now.
pub fn scale(state: &impl StateRead) -> Scale {
    state.get(KEY_SCALE).unwrap_or_default()
}

/// `internal` VCAI units as shown now, for error texts.
pub fn shown(state: &impl StateRead, internal: Amount) -> Amount {
    scale(state).shown(internal)
}

/// A requirement in `internal` VCAI units as shown now (rounded up), for error texts.
pub fn shown_up(state: &impl StateRead, internal: Amount) -> Amount {
    scale(state).shown_up(internal)
}

/// A refusal's VCAI figures in the nominal unit, so that a receipt's error speaks the unit of its
/// transaction.
pub fn error_to_nominal(scale: &Scale, error: TxError) -> TxError {
    match error {
        TxError::InsufficientFunds {
            account,
            denom: Denom::Vcai,
            available,
            needed,
        } => TxError::InsufficientFunds {
            account,
            denom: Denom::Vcai,
            available: scale.shown(available),
            needed: scale.shown(needed),
        },
        TxError::StakeBelowRequirement { stake, required } => TxError::StakeBelowRequirement {
            stake: scale.shown(stake),
            required: scale.shown_up(required),
        },
        other => other,
    }
}

/// Checks a repricing ratio's shape (when a proposal opens).
pub fn check_ratio(numerator: u64, denominator: u64) -> Result<(), TxError> {
    let bound = 1..=MAX_REPRICING_RATIO;
    if !bound.contains(&numerator) || !bound.contains(&denominator) {
        return Err(TxError::InvalidProposal(format!(
            "a repricing ratio's terms are 1 to {MAX_REPRICING_RATIO}"
        )));
    }
    if numerator == denominator {
        return Err(TxError::InvalidProposal(
            "a repricing ratio of one changes nothing".into(),
        ));
    }
    Ok(())
}

/// The scale after applying `numerator / denominator` to the current one, if it is allowed.
pub fn next_scale(
    state: &impl StateRead,
    numerator: u64,
    denominator: u64,
) -> Result<Scale, TxError> {
    check_ratio(numerator, denominator)?;
    let next = scale(state).then(numerator, denominator).ok_or_else(|| {
        TxError::InvalidProposal(format!(
            "the unit scale would leave its range (terms at most {})",
            vcity_types::scale::MAX_SCALE_TERM
        ))
    })?;
    let supply = next
        .to_nominal(bank::supply(state, Denom::Vcai), Rounding::Down)
        .ok()
        .filter(|nominal| nominal.base_units() <= MAX_NOMINAL_SUPPLY);
    if supply.is_none() {
        return Err(TxError::InvalidProposal(format!(
            "the nominal VCAI supply would exceed {MAX_NOMINAL_SUPPLY} base units"
        )));
    }
    Ok(next)
}

/// Applies a passed repricing: one write.
pub(crate) fn reprice(
    state: &mut Overlay<'_>,
    numerator: u64,
    denominator: u64,
) -> Result<(), TxError> {
    let next = next_scale(state, numerator, denominator)?;
    state.put(KEY_SCALE.to_vec(), &next);
    state.emit(Event::Repriced {
        numerator,
        denominator,
        scale: next,
    });
    Ok(())
}

fn convert(scale: &Scale, amount: &mut Amount, rounding: Rounding) -> Result<(), TxError> {
    *amount = scale
        .to_internal(*amount, rounding)
        .map_err(|error: AmountError| TxError::InvalidAmount(error.to_string()))?;
    Ok(())
}

/// Converts VCAI payments in place, with the rounding of what is paid out.
fn payments_to_internal(scale: &Scale, payments: &mut [Payment]) -> Result<(), TxError> {
    for payment in payments {
        convert(scale, &mut payment.amount, Rounding::Down)?;
        if let Some(terms) = &mut payment.vesting {
            convert(scale, &mut terms.immediate, Rounding::Down)?;
        }
    }
    Ok(())
}

/// Converts a proposal action's VCAI figures in place: payments round down, thresholds up.
fn action_to_internal(scale: &Scale, action: &mut Action) -> Result<(), TxError> {
    match action {
        Action::SetParam {
            change: ParamChange::VeMinLock { amount },
        } => convert(scale, amount, Rounding::Up),
        Action::SetParam {
            change: ParamChange::Governance(params),
        } => {
            convert(scale, &mut params.deposit, Rounding::Up)?;
            params.proposal_threshold_weight = scale
                .weight_to_internal(params.proposal_threshold_weight)
                .map_err(|error| TxError::InvalidAmount(error.to_string()))?;
            Ok(())
        }
        Action::Spend {
            denom: Denom::Vcai,
            payments,
            ..
        }
        | Action::StrategicIssuance { payments } => payments_to_internal(scale, payments),
        _ => Ok(()),
    }
}

/// Whether `message` carries a VCAI amount.
fn carries_vcai(message: &Message) -> bool {
    match message {
        Message::Transfer(transfer) => transfer.denom == Denom::Vcai,
        Message::Propose(_)
        | Message::VeLock(_)
        | Message::VeIncrease(_)
        | Message::AddLiquidity(_)
        | Message::RemoveLiquidity(_)
        | Message::SwapExactIn(_)
        | Message::SwapExactOut(_)
        | Message::RegisterNode(_)
        | Message::AddStake(_)
        | Message::Unbond(_) => true,
        _ => false,
    }
}

/// `message` with its VCAI amounts in internal units (borrowed unchanged at scale one or when it
/// carries none). What the sender spends rounds down; minimums the sender demands round up.
pub fn to_internal<'m>(scale: &Scale, message: &'m Message) -> Result<Cow<'m, Message>, TxError> {
    if scale.is_one() || !carries_vcai(message) {
        return Ok(Cow::Borrowed(message));
    }
    let (down, up) = (Rounding::Down, Rounding::Up);
    let mut owned = message.clone();
    match &mut owned {
        Message::Transfer(Transfer { amount, .. })
        | Message::VeLock(VeLock { amount, .. })
        | Message::VeIncrease(VeIncrease { amount })
        | Message::Unbond(Unbond { amount })
        | Message::AddLiquidity(AddLiquidity {
            vcai_max: amount, ..
        }) => convert(scale, amount, down)?,
        // A bond covers the figure it names: a daemon that stakes the requirement it computed
        // from the shown parameters meets the ledger's (and at most one internal unit, below
        // one nominal unit of the balance it sees, moves beyond it).
        Message::AddStake(AddStake { amount })
        | Message::RegisterNode(RegisterNode { stake: amount, .. }) => convert(scale, amount, up)?,
        Message::RemoveLiquidity(RemoveLiquidity { min_vcai, .. }) => convert(scale, min_vcai, up)?,
        Message::SwapExactIn(swap) if swap.denom_in == Denom::Vcai => {
            convert(scale, &mut swap.amount_in, down)?
        }
        Message::SwapExactIn(swap) => convert(scale, &mut swap.min_out, up)?,
        Message::SwapExactOut(swap) if swap.denom_out == Denom::Vcai => {
            convert(scale, &mut swap.amount_out, up)?
        }
        Message::SwapExactOut(swap) => convert(scale, &mut swap.max_in, down)?,
        Message::Propose(propose) => {
            for action in &mut propose.actions {
                action_to_internal(scale, action)?;
            }
        }
        _ => {}
    }
    Ok(Cow::Owned(owned))
}

fn show(scale: &Scale, amount: &mut Amount) {
    *amount = scale.shown(*amount);
}

fn show_parts(scale: &Scale, parts: &mut RewardParts) {
    show(scale, &mut parts.capacity);
    show(scale, &mut parts.delivery);
    show(scale, &mut parts.performance);
    show(scale, &mut parts.rebate);
    show(scale, &mut parts.referral);
}

/// Reward parts as shown (nominal).
pub fn parts_shown(scale: &Scale, mut parts: RewardParts) -> RewardParts {
    show_parts(scale, &mut parts);
    parts
}

fn show_payments(scale: &Scale, payments: &mut [Payment]) {
    for payment in payments {
        show(scale, &mut payment.amount);
        if let Some(terms) = &mut payment.vesting {
            show(scale, &mut terms.immediate);
        }
    }
}

/// Governance parameters as shown (nominal; the deposit and the threshold are requirements,
/// rounded up).
pub fn governance_params_shown(scale: &Scale, params: &GovernanceParams) -> GovernanceParams {
    let mut params = params.clone();
    params.deposit = scale.shown_up(params.deposit);
    params.proposal_threshold_weight = scale.shown_weight_up(params.proposal_threshold_weight);
    params
}

/// A parameter change as shown (nominal; minimums rounded up).
pub fn param_shown(scale: &Scale, change: &ParamChange) -> ParamChange {
    match change {
        ParamChange::VeMinLock { amount } => ParamChange::VeMinLock {
            amount: scale.shown_up(*amount),
        },
        ParamChange::Governance(params) => {
            ParamChange::Governance(governance_params_shown(scale, params))
        }
        other => other.clone(),
    }
}

/// A proposal action as shown (nominal).
pub fn action_shown(scale: &Scale, action: &Action) -> Action {
    let mut action = action.clone();
    match &mut action {
        Action::SetParam { change } => *change = param_shown(scale, change),
        Action::Spend {
            denom: Denom::Vcai,
            payments,
            ..
        }
        | Action::StrategicIssuance { payments } => show_payments(scale, payments),
        _ => {}
    }
    action
}

/// The scale after `events` (a transaction's), which started at `scale`: the last `Repriced`
/// event's, if any.
pub fn scale_after(scale: Scale, events: &[Event]) -> Scale {
    events
        .iter()
        .rev()
        .find_map(|event| match event {
            Event::Repriced { scale, .. } => Some(*scale),
            _ => None,
        })
        .unwrap_or(scale)
}

/// Converts events emitted in order, starting at `scale`, to the nominal unit of the moment each
/// happened: a `Repriced` event switches the unit for those after it.
pub fn events_to_nominal(scale: Scale, events: &mut [Event]) {
    let mut now = scale;
    for event in events {
        if let Event::Repriced { scale, .. } = event {
            now = *scale;
        } else if !now.is_one() {
            event_to_nominal(&now, event);
        }
    }
}

/// Converts `event`'s VCAI amounts and vote weights to nominal units in place (holdings rounded
/// down, requirements up).
fn event_to_nominal(scale: &Scale, event: &mut Event) {
    let weight = |weight: &mut u128| *weight = scale.shown_weight(*weight);
    match event {
        Event::Transfer {
            denom: Denom::Vcai,
            amount,
            ..
        }
        | Event::Minted {
            denom: Denom::Vcai,
            amount,
            ..
        }
        | Event::Burned {
            denom: Denom::Vcai,
            amount,
            ..
        }
        | Event::FundSpent {
            denom: Denom::Vcai,
            amount,
            ..
        }
        | Event::VestingClaimed { amount, .. }
        | Event::VeLocked { amount, .. }
        | Event::VeWithdrawn { amount, .. }
        | Event::RewardsClaimed { amount, .. }
        | Event::UnbondedWithdrawn { amount, .. }
        | Event::NftClaimed { amount, .. }
        | Event::IncentivesClaimed { amount, .. }
        | Event::Slashed { amount, .. }
        | Event::StrategicIssuance { amount, .. }
        | Event::NodeRegistered { stake: amount, .. }
        | Event::StakeChanged { stake: amount, .. }
        | Event::DisputeOpened {
            deposit: amount, ..
        }
        | Event::NodeDeregistered {
            unbonding: amount, ..
        }
        | Event::LiquidityAdded { vcai: amount, .. }
        | Event::LiquidityRemoved { vcai: amount, .. } => show(scale, amount),
        Event::Swapped {
            denom_in: Denom::Vcai,
            amount_in: amount,
            ..
        }
        | Event::Swapped {
            amount_out: amount, ..
        } => show(scale, amount),
        Event::IncentivePeriodStarted {
            released, grants, ..
        } => {
            show(scale, released);
            show(scale, grants);
        }
        Event::IncentivePeriodSettled {
            credited, returned, ..
        } => {
            show_parts(scale, credited);
            show(scale, returned);
        }
        Event::IncentivesCredited { parts, .. } => show_parts(scale, parts),
        Event::StakeRequirementChanged { vcai_per_cu } => {
            *vcai_per_cu = scale.shown_up(*vcai_per_cu)
        }
        Event::SlashPaidOut {
            compensation,
            bounty,
            reserve,
            ..
        } => {
            show(scale, compensation);
            show(scale, bounty);
            show(scale, reserve);
        }
        Event::ParamChanged { change } => *change = param_shown(scale, change),
        Event::VoteCast { weight: cast, .. } => weight(cast),
        Event::ProposalTallied {
            yes,
            no,
            abstain,
            quorum,
            ..
        } => {
            for tally in [yes, no, abstain, quorum] {
                weight(tally);
            }
        }
        _ => {}
    }
}
