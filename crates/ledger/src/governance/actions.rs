//! What a passed proposal does (rules §9; docs/governance.md, "Actions").
//!
//! [`check`] runs when a proposal is opened, so a proposal whose actions can never work is
//! refused before anyone votes on it: a parameter change is applied to a scratch copy of the
//! state and its owner's bounds checked; payments, vesting terms and validator entries are
//! checked for shape. Balances, quotas and the validator set are checked again by [`apply`] at
//! execution, since they may change in between.

use super::{set_paused, supply, Proposal};
use crate::error::TxError;
use crate::state::Overlay;
use crate::vesting::{grant_later, GrantSource};
use crate::{
    bank, chain, incentives, jobs, nodes, pool, repricing, slashing, treasury, trust, ve, vesting,
};
use vcity_types::event::Event;
use vcity_types::governance::{Action, Fund, ParamChange, Payment, MAX_PAYMENTS};
use vcity_types::{AccountId, Amount, Denom};

/// The account behind `fund`.
pub fn fund_account(fund: Fund) -> AccountId {
    match fund {
        Fund::Reserve => vesting::reserve_account(),
        Fund::Grants => incentives::grants_account(),
        Fund::Treasury => bank::treasury(),
    }
}

fn check_payments(payments: &[Payment], denom: Denom) -> Result<Amount, TxError> {
    if payments.is_empty() || payments.len() > MAX_PAYMENTS {
        return Err(TxError::InvalidProposal(format!(
            "1 to {MAX_PAYMENTS} payments per action"
        )));
    }
    let mut total = Amount::ZERO;
    for payment in payments {
        if payment.amount.is_zero() {
            return Err(TxError::InvalidProposal("payments are positive".into()));
        }
        if let Some(terms) = &payment.vesting {
            if denom != Denom::Vcai {
                return Err(TxError::InvalidProposal("only VCAI payments vest".into()));
            }
            // Its shape does not depend on when it starts.
            let schedule = vesting::Schedule::starting_at(payment.amount, terms, 0);
            schedule
                .validate()
                .map_err(|reason| TxError::InvalidProposal(format!("vesting terms: {reason}")))?;
        }
        total = total.checked_add(payment.amount)?;
    }
    Ok(total)
}

/// Checks `action` when a proposal is opened.
pub(crate) fn check(state: &Overlay<'_>, action: &Action) -> Result<(), TxError> {
    match action {
        Action::SetParam { change } => {
            let mut scratch = Overlay::new(state);
            set_param(&mut scratch, change)
        }
        Action::Spend {
            from,
            denom,
            payments,
        } => {
            if matches!(from, Fund::Reserve | Fund::Grants) && *denom != Denom::Vcai {
                return Err(TxError::InvalidProposal(
                    "the reserve and the grants account hold VCAI".into(),
                ));
            }
            check_payments(payments, *denom).map(|_| ())
        }
        Action::StrategicIssuance { payments } => check_payments(payments, Denom::Vcai).map(|_| ()),
        Action::Pause { .. } | Action::Unpause { .. } => Ok(()),
        Action::DecideAppeal { slash_id, .. } => {
            let record = slashing::slash_record(state, *slash_id)
                .ok_or_else(|| TxError::NotFound(format!("no slash {slash_id}")))?;
            if record.appeal.is_none() {
                return Err(TxError::InvalidEvidence(format!(
                    "slash {slash_id} has not been appealed"
                )));
            }
            Ok(())
        }
        Action::AddValidator {
            name,
            public_key,
            power,
        } => chain::check_validator(&chain::Validator {
            name: name.clone(),
            public_key: *public_key,
            power: *power,
        }),
        Action::RemoveValidator { .. } => Ok(()),
        Action::Reprice {
            numerator,
            denominator,
        } => repricing::next_scale(state, *numerator, *denominator).map(|_| ()),
        Action::SetValidatorPower { power, .. } => {
            if *power == 0 {
                return Err(TxError::InvalidProposal(
                    "validator power is positive (remove the validator instead)".into(),
                ));
            }
            Ok(())
        }
    }
}

/// Runs `action` of `proposal`.
pub(crate) fn apply(
    state: &mut Overlay<'_>,
    proposal: &Proposal,
    action: &Action,
) -> Result<(), TxError> {
    match action {
        Action::SetParam { change } => {
            set_param(state, change)?;
            state.emit(Event::ParamChanged {
                change: change.clone(),
            });
            Ok(())
        }
        Action::Spend {
            from,
            denom,
            payments,
        } => {
            check_payments(payments, *denom)?;
            let source = fund_account(*from);
            let allocation = format!("proposal_{}", proposal.number);
            for payment in payments {
                match &payment.vesting {
                    Some(terms) => grant_later(
                        state,
                        &GrantSource::Account(source),
                        &payment.recipient,
                        &allocation,
                        payment.amount,
                        terms,
                    )?,
                    None => {
                        bank::transfer(state, &source, &payment.recipient, *denom, payment.amount)?
                    }
                }
                state.emit(Event::FundSpent {
                    from: *from,
                    to: payment.recipient,
                    denom: *denom,
                    amount: payment.amount,
                });
            }
            Ok(())
        }
        Action::StrategicIssuance { payments } => {
            let total = check_payments(payments, Denom::Vcai)?;
            let issuances = supply::consume(state, total)?;
            let allocation = format!("issuance_{}", proposal.number);
            for payment in payments {
                match &payment.vesting {
                    Some(terms) => grant_later(
                        state,
                        &GrantSource::Mint,
                        &payment.recipient,
                        &allocation,
                        payment.amount,
                        terms,
                    )?,
                    None => bank::mint(state, &payment.recipient, Denom::Vcai, payment.amount)?,
                }
            }
            state.emit(Event::StrategicIssuance {
                number: proposal.number,
                amount: total,
                issuances,
            });
            Ok(())
        }
        Action::Pause { module } => set_paused(state, *module, true),
        Action::Unpause { module } => set_paused(state, *module, false),
        Action::DecideAppeal { slash_id, uphold } => slashing::decide(state, *slash_id, *uphold),
        Action::AddValidator {
            name,
            public_key,
            power,
        } => {
            let mut validators = chain::validators(state);
            validators.push(chain::Validator {
                name: name.clone(),
                public_key: *public_key,
                power: *power,
            });
            chain::set_validators(state, validators)
        }
        Action::RemoveValidator { public_key } => {
            let mut validators = chain::validators(state);
            let before = validators.len();
            validators.retain(|validator| validator.public_key != *public_key);
            if validators.len() == before {
                return Err(TxError::NotFound(format!("no validator {public_key}")));
            }
            chain::set_validators(state, validators)
        }
        Action::SetValidatorPower { public_key, power } => {
            let mut validators = chain::validators(state);
            let found = validators
                .iter_mut()
                .find(|validator| validator.public_key == *public_key)
                .ok_or_else(|| TxError::NotFound(format!("no validator {public_key}")))?;
            found.power = *power;
            chain::set_validators(state, validators)
        }
        Action::Reprice {
            numerator,
            denominator,
        } => repricing::reprice(state, *numerator, *denominator),
    }
}

/// Sends a parameter change to the component that owns it, which checks its bounds.
pub(crate) fn set_param(state: &mut Overlay<'_>, change: &ParamChange) -> Result<(), TxError> {
    match change {
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
        ParamChange::LongTermIncentives(long_term) => {
            incentives::set_params(state, |params| params.long_term = *long_term)
        }
        ParamChange::VramTiers { tiers } => {
            incentives::set_params(state, |params| params.vram_tiers = tiers.clone())
        }
        ParamChange::NetworkFee { fee_ppm, tiers } => jobs::set_fee(state, *fee_ppm, tiers),
        ParamChange::StakeRequirement {
            usd_per_cu,
            grace_s,
        } => nodes::set_stake_rule(state, *usd_per_cu, *grace_s),
        ParamChange::VeMinLock { amount } => ve::set_min_lock(state, *amount),
        ParamChange::SwapFee { bps } => pool::set_fee(state, *bps),
        ParamChange::Buyback {
            interval_s,
            max_premium_bps,
        } => treasury::set_params(
            state,
            &treasury::TreasuryParams {
                buyback_interval_s: *interval_s,
                max_premium_bps: *max_premium_bps,
            },
        ),
        ParamChange::GpuFactors {
            gpu_factors_ppm,
            cpu_core_factor_ppm,
        } => nodes::set_params(state, |params| {
            params.gpu_factors_ppm = gpu_factors_ppm.clone();
            params.cpu_core_factor_ppm = *cpu_core_factor_ppm;
        }),
        ParamChange::Heartbeat {
            interval_s,
            offline_after_intervals,
        } => nodes::set_params(state, |params| {
            params.heartbeat_interval_s = *interval_s;
            params.offline_after_intervals = *offline_after_intervals;
        }),
        ParamChange::Unbonding { period_s } => {
            nodes::set_params(state, |params| params.unbonding_s = *period_s)
        }
        ParamChange::VerificationWindow { window_s } => {
            jobs::set_verification_window(state, *window_s)
        }
        ParamChange::SamplingRates {
            level_rates_ppm,
            risky_rate_ppm,
        } => trust::set_params(state, |params| {
            params.level_rates_ppm = *level_rates_ppm;
            params.risky_rate_ppm = *risky_rate_ppm;
        }),
        ParamChange::Appeals {
            window_s,
            decision_s,
            bounty_ppm,
            compensation_ppm,
        } => trust::set_params(state, |params| {
            params.appeal_window_s = *window_s;
            params.appeal_decision_s = *decision_s;
            params.bounty_ppm = *bounty_ppm;
            params.compensation_ppm = *compensation_ppm;
        }),
        ParamChange::OffenceRule {
            offence,
            tier,
            slash_ppm,
            suspend_periods,
        } => {
            if *suspend_periods > 52 {
                return Err(TxError::InvalidParam(
                    "at most 52 suspended incentive periods".into(),
                ));
            }
            trust::set_params(state, |params| {
                for rule in &mut params.offences {
                    if rule.offence == *offence {
                        rule.tier = *tier;
                        rule.slash_ppm = *slash_ppm;
                        rule.suspend_periods = *suspend_periods;
                    }
                }
            })
        }
        ParamChange::TxLimits {
            min_fee_usd,
            max_tx_bytes,
            max_messages_per_tx,
            max_block_txs,
            max_block_bytes,
        } => chain::set_params(
            state,
            &chain::Params {
                min_fee_usd: *min_fee_usd,
                max_tx_bytes: *max_tx_bytes,
                max_messages_per_tx: *max_messages_per_tx,
                max_block_txs: *max_block_txs,
                max_block_bytes: *max_block_bytes,
            },
        ),
        ParamChange::Governance(params) => super::set_params(state, params),
        ParamChange::Agents(params) => crate::agents::set_params(state, params),
        ParamChange::Attestation(rules) => crate::attestation::set_rules(state, rules),
    }
}
