//! The governance stand-in (SPEC §6, §9): until the DAO exists, the one account named as the
//! governance authority in genesis changes governance parameters with `SetParam`; a chain
//! without an authority has fixed parameters. Each change goes to the component that owns the
//! parameter, which validates it; the governance issue will make the same changes proposal
//! actions and retire the authority.

use crate::error::TxError;
use crate::state::Overlay;
use crate::{chain, incentives, jobs, nodes};
use vcity_types::event::Event;
use vcity_types::incentives::{ParamChange, SetParam};
use vcity_types::AccountId;

/// `SetParam`.
pub(crate) fn execute_set_param(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &SetParam,
) -> Result<(), TxError> {
    if chain::authority(state) != Some(*sender) {
        return Err(TxError::Unauthorized(
            "only the governance authority named in genesis changes parameters".into(),
        ));
    }
    match &message.change {
        ParamChange::IncentivePeriod { period_s } => {
            incentives::set_params(state, |params| params.period_s = *period_s)
        }
        ParamChange::ReleaseFraction { ppm } => {
            incentives::set_params(state, |params| params.release_fraction_ppm = *ppm)
        }
        ParamChange::CapacityShare { ppm } => {
            incentives::set_params(state, |params| params.capacity_share_ppm = *ppm)
        }
        ParamChange::Controller { k_ppm, target_ppm } => incentives::set_params(state, |params| {
            params.k_ppm = *k_ppm;
            params.target_utilization_ppm = *target_ppm;
        }),
        ParamChange::VramTiers { tiers } => {
            incentives::set_params(state, |params| params.vram_tiers = tiers.clone())
        }
        ParamChange::NetworkFee { fee_ppm, tiers } => jobs::set_fee(state, *fee_ppm, tiers),
        ParamChange::StakeRequirement {
            usd_per_cu,
            grace_s,
        } => nodes::set_stake_rule(state, *usd_per_cu, *grace_s),
    }?;
    state.emit(Event::ParamChanged {
        change: message.change.clone(),
    });
    Ok(())
}
