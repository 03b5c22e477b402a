//! The read side shows VCAI in the nominal unit (docs/governance.md, "Repricing").
//!
//! The ledger keeps every VCAI quantity in an internal unit that a protocol repricing never
//! touches; the unit people see is internal × the current [`Scale`]. [`crate::node::Node`]'s
//! views convert through the functions here just before they leave the node, so every API answer
//! speaks one unit. Holdings round down; requirements the ledger enforces (stake per CU, minimum
//! stakes, deposits, thresholds) round up, so that sending a shown requirement back always meets
//! it. Two numbers deliberately stay internal: the pool's time-weighted price accumulator
//! (`twap_cumulative`, continuous across a repricing only in the internal unit) and state proofs
//! (they prove stored bytes).

use vcity_ledger::governance::{self, supply::Quotas, ProposalView, VoteRecord};
use vcity_ledger::{incentives, repricing, trust, ParamsView};
use vcity_types::incentives::PeriodReward;
use vcity_types::trust::{Dispute, Slash};
use vcity_types::Scale;

pub(crate) fn history(scale: &Scale, history: Vec<PeriodReward>) -> Vec<PeriodReward> {
    history
        .into_iter()
        .map(|reward| PeriodReward {
            period: reward.period,
            parts: repricing::parts_shown(scale, reward.parts),
        })
        .collect()
}

pub(crate) fn slash(scale: &Scale, mut slash: Slash) -> Slash {
    // `affected` lists what buyers paid in USD; only the slashed stake is VCAI.
    slash.amount = scale.shown(slash.amount);
    slash
}

pub(crate) fn dispute(scale: &Scale, mut dispute: Dispute) -> Dispute {
    dispute.deposit = scale.shown(dispute.deposit);
    dispute
}

pub(crate) fn quotas(scale: &Scale, mut quotas: Quotas) -> Quotas {
    quotas.locked_vcai = scale.shown(quotas.locked_vcai);
    quotas.equity_stage_vcai = scale.shown(quotas.equity_stage_vcai);
    quotas.year_start_supply = scale.shown(quotas.year_start_supply);
    quotas.year_cap = scale.shown(quotas.year_cap);
    quotas.year_issued = scale.shown(quotas.year_issued);
    quotas
}

pub(crate) fn governance(scale: &Scale, mut status: governance::Status) -> governance::Status {
    status.params = repricing::governance_params_shown(scale, &status.params);
    status.reserve_vcai = scale.shown(status.reserve_vcai);
    status.grants_vcai = scale.shown(status.grants_vcai);
    status.treasury_vcai = scale.shown(status.treasury_vcai);
    status.quotas = quotas(scale, status.quotas);
    status
}

pub(crate) fn proposal(scale: &Scale, mut view: ProposalView) -> ProposalView {
    let proposal = &mut view.proposal;
    proposal.actions = proposal
        .actions
        .iter()
        .map(|action| repricing::action_shown(scale, action))
        .collect();
    proposal.deposit = scale.shown(proposal.deposit);
    proposal.total_weight = scale.shown_weight(proposal.total_weight);
    proposal.quorum = scale.shown_weight(proposal.quorum);
    proposal.yes = scale.shown_weight(proposal.yes);
    proposal.no = scale.shown_weight(proposal.no);
    proposal.abstain = scale.shown_weight(proposal.abstain);
    view
}

pub(crate) fn vote(scale: &Scale, mut vote: VoteRecord) -> VoteRecord {
    vote.weight = scale.shown_weight(vote.weight);
    vote
}

fn period(scale: &Scale, mut period: incentives::Period) -> incentives::Period {
    period.scheduled = scale.shown(period.scheduled);
    period.grants = scale.shown(period.grants);
    period.budget = repricing::parts_shown(scale, period.budget);
    period.credited = repricing::parts_shown(scale, period.credited);
    period.returned = scale.shown(period.returned);
    period.price = scale.shown_price(period.price);
    period
}

pub(crate) fn incentives(scale: &Scale, mut status: incentives::Status) -> incentives::Status {
    status.remaining = scale.shown(status.remaining);
    status.pool_vcai = scale.shown(status.pool_vcai);
    status.grants_vcai = scale.shown(status.grants_vcai);
    status.unclaimed_vcai = scale.shown(status.unclaimed_vcai);
    status.current = status.current.map(|open| period(scale, open));
    status.recent = status
        .recent
        .into_iter()
        .map(|closed| period(scale, closed))
        .collect();
    status
}

pub(crate) fn trust_params(scale: &Scale, mut params: trust::TrustParams) -> trust::TrustParams {
    params.challenge_deposit = scale.shown_up(params.challenge_deposit);
    params
}

pub(crate) fn trust(scale: &Scale, mut status: trust::Status) -> trust::Status {
    status.params = trust_params(scale, status.params);
    status.deposits_vcai = scale.shown(status.deposits_vcai);
    status.slash_escrow_vcai = scale.shown(status.slash_escrow_vcai);
    status
}

/// Requirements (stake per CU, the service minimum) round up, so that a daemon that stakes what
/// it computes from them meets the ledger's own requirement.
pub(crate) fn params(scale: &Scale, mut view: ParamsView) -> ParamsView {
    view.nodes.stake_per_cu = scale.shown_up(view.nodes.stake_per_cu);
    view.nodes.previous_stake_per_cu = scale.shown_up(view.nodes.previous_stake_per_cu);
    view.nodes.min_service_stake = scale.shown_up(view.nodes.min_service_stake);
    view.trust = trust_params(scale, view.trust);
    view
}
