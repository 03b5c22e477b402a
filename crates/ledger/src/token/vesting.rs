//! The vesting component: the rules §2 genesis allocation released over time.
//!
//! Every grant has a [`Schedule`]: a part released at genesis (TGE), then, after an optional cliff,
//! a linear release in whole steps (a month of 2,629,800 s, rules §1, or 1 s for per-second release)
//! until the whole grant is out. The TGE part is paid to the beneficiary in genesis; the rest is
//! minted into the `vesting` module account and moved to the beneficiary by a `ClaimVesting`
//! transaction, which claims everything released so far on all of the sender's grants. Time is
//! counted from genesis time (rules §1), read from state, never from a clock.
//!
//! The Reserve & Governance Fund and the Ecosystem Incentive Pool are not grants: genesis mints
//! them into their module accounts (`reserve`, `incentive_pool`), which only governance and the
//! incentive schedule can spend. "Circulating" VCAI is the total supply minus what sits in those
//! three module accounts ([`circulating`]): at genesis it is exactly what the TGE column of rules §2
//! releases, 784,890,000 VCAI.
//!
//! Keys (owned here): `vesting/grants/{account hex}` → the account's grants (at most
//! [`MAX_GRANTS_PER_ACCOUNT`]).

use crate::error::TxError;
use crate::state::{Overlay, StateRead};
use crate::{bank, chain};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use vcity_types::event::Event;
use vcity_types::{AccountId, Amount, Denom, Rounding};

/// A rules §1 month: 1/12 of a 365.25-day year.
pub const MONTH_S: u64 = 2_629_800;

/// Most grants one account may hold (bounds the work of a claim).
pub const MAX_GRANTS_PER_ACCOUNT: usize = 16;

/// Holds the locked part of every grant.
pub fn vesting_account() -> AccountId {
    AccountId::module("vesting")
}

/// The Reserve & Governance Fund: spent only by passed governance proposals.
pub fn reserve_account() -> AccountId {
    AccountId::module("reserve")
}

/// The Ecosystem Incentive Pool: released by the incentive schedule.
pub fn incentive_pool_account() -> AccountId {
    AccountId::module("incentive_pool")
}

/// A release schedule. All times are seconds after genesis.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Schedule {
    /// The whole grant, VCAI base units.
    pub total: Amount,
    /// Released at genesis.
    pub at_tge: Amount,
    /// Nothing more is released before this many seconds.
    #[serde(default)]
    pub cliff_s: u64,
    /// Length of the linear release that starts at the cliff; 0 releases the rest at the cliff.
    #[serde(default)]
    pub duration_s: u64,
    /// Release granularity: `MONTH_S` for monthly steps, 1 for per-second release.
    #[serde(default = "default_step")]
    pub step_s: u64,
}

fn default_step() -> u64 {
    MONTH_S
}

impl Schedule {
    /// Checks the schedule can work.
    pub fn validate(&self) -> Result<(), String> {
        if self.at_tge > self.total {
            return Err("at_tge exceeds total".into());
        }
        if self.step_s == 0 {
            return Err("step_s must be positive".into());
        }
        if self.duration_s > 0 && self.duration_s % self.step_s != 0 {
            return Err("duration_s must be a whole number of steps".into());
        }
        Ok(())
    }

    /// The part released after genesis.
    pub fn locked(&self) -> Amount {
        self.total.checked_sub(self.at_tge).unwrap_or(Amount::ZERO)
    }

    /// Released so far (TGE part included) `elapsed_s` seconds after genesis. Rounds down: the
    /// protocol never releases early.
    pub fn vested(&self, elapsed_s: u64) -> Amount {
        let locked = self.locked();
        let released_locked = if elapsed_s < self.cliff_s {
            Amount::ZERO
        } else if self.duration_s == 0 {
            locked
        } else {
            let steps = (elapsed_s - self.cliff_s) / self.step_s;
            let released_s = steps.saturating_mul(self.step_s).min(self.duration_s);
            locked
                .mul_div(
                    u128::from(released_s),
                    u128::from(self.duration_s),
                    Rounding::Down,
                )
                .expect("a fraction at most 1 of an amount fits")
        };
        self.at_tge
            .checked_add(released_locked)
            .expect("at_tge + locked = total fits")
    }
}

/// One grant of an allocation.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Grant {
    /// The allocation it belongs to, e.g. `core_team`.
    pub allocation: String,
    /// Its schedule.
    pub schedule: Schedule,
    /// Claimed from the locked part so far.
    pub claimed: Amount,
}

impl Grant {
    /// Claimable `elapsed_s` after genesis.
    pub fn claimable(&self, elapsed_s: u64) -> Amount {
        let released_locked = self
            .schedule
            .vested(elapsed_s)
            .checked_sub(self.schedule.at_tge)
            .expect("vested includes at_tge");
        released_locked
            .checked_sub(self.claimed)
            .expect("claims never exceed what was released")
    }
}

fn grants_key(account: &AccountId) -> Vec<u8> {
    format!("vesting/grants/{}", account.to_hex()).into_bytes()
}

/// An account's grants.
pub fn grants(state: &impl StateRead, account: &AccountId) -> Vec<Grant> {
    state.get(&grants_key(account)).unwrap_or_default()
}

/// Seconds since genesis at the state's block time.
pub fn elapsed_s(state: &impl StateRead) -> u64 {
    (chain::time_ms(state) / 1_000).saturating_sub(chain::genesis_time_ms(state) / 1_000)
}

/// Total supply minus what the vesting, reserve, incentive-pool and grants accounts hold.
pub fn circulating(state: &impl StateRead) -> Amount {
    let mut held = Amount::ZERO;
    for account in [
        vesting_account(),
        reserve_account(),
        incentive_pool_account(),
        crate::incentives::grants_account(),
    ] {
        held = held
            .checked_add(bank::balance(state, &account, Denom::Vcai))
            .expect("balances fit the supply");
    }
    bank::supply(state, Denom::Vcai)
        .checked_sub(held)
        .expect("module balances are part of the supply")
}

/// Genesis: pays the TGE part, locks the rest and records the grant.
pub(crate) fn init_grant(
    state: &mut Overlay<'_>,
    beneficiary: &AccountId,
    allocation: &str,
    schedule: &Schedule,
) -> Result<(), TxError> {
    if !schedule.at_tge.is_zero() {
        bank::mint(state, beneficiary, Denom::Vcai, schedule.at_tge)?;
    }
    let locked = schedule.locked();
    if !locked.is_zero() {
        bank::mint(state, &vesting_account(), Denom::Vcai, locked)?;
    }
    let mut list = grants(state, beneficiary);
    if list.len() >= MAX_GRANTS_PER_ACCOUNT {
        return Err(TxError::InvalidAmount(format!(
            "account {beneficiary} has more than {MAX_GRANTS_PER_ACCOUNT} grants"
        )));
    }
    list.push(Grant {
        allocation: allocation.to_string(),
        schedule: schedule.clone(),
        claimed: Amount::ZERO,
    });
    state.put(grants_key(beneficiary), &list);
    Ok(())
}

/// Where a governance grant's VCAI comes from.
pub(crate) enum GrantSource {
    /// Newly minted (strategic issuance).
    Mint,
    /// Moved from a governed fund.
    Account(AccountId),
}

impl Schedule {
    /// The schedule of `amount` paid on `terms` from `start_s` (seconds after genesis): the
    /// immediate part counts as the part released at TGE and the cliff runs from `start_s`.
    pub fn starting_at(
        amount: Amount,
        terms: &vcity_types::governance::VestingTerms,
        start_s: u64,
    ) -> Schedule {
        Schedule {
            total: amount,
            at_tge: terms.immediate,
            cliff_s: start_s.saturating_add(terms.cliff_s),
            duration_s: terms.duration_s,
            step_s: terms.step_s,
        }
    }
}

/// A grant made by a proposal now: `terms.immediate` is paid at
/// once, the rest is locked in the vesting account and released after `terms.cliff_s` over
/// `terms.duration_s`, claimable with `ClaimVesting` like a genesis grant.
pub(crate) fn grant_later(
    state: &mut Overlay<'_>,
    source: &GrantSource,
    beneficiary: &AccountId,
    allocation: &str,
    amount: Amount,
    terms: &vcity_types::governance::VestingTerms,
) -> Result<(), TxError> {
    let schedule = Schedule::starting_at(amount, terms, elapsed_s(state));
    schedule.validate().map_err(TxError::InvalidProposal)?;
    let mut list = grants(state, beneficiary);
    if list.len() >= MAX_GRANTS_PER_ACCOUNT {
        return Err(TxError::InvalidAmount(format!(
            "account {beneficiary} has {MAX_GRANTS_PER_ACCOUNT} grants, the most allowed"
        )));
    }
    for (to, part) in [
        (*beneficiary, schedule.at_tge),
        (vesting_account(), schedule.locked()),
    ] {
        if part.is_zero() {
            continue;
        }
        match source {
            GrantSource::Mint => bank::mint(state, &to, Denom::Vcai, part)?,
            GrantSource::Account(from) => bank::transfer(state, from, &to, Denom::Vcai, part)?,
        }
    }
    list.push(Grant {
        allocation: allocation.to_string(),
        schedule,
        claimed: Amount::ZERO,
    });
    state.put(grants_key(beneficiary), &list);
    Ok(())
}

/// `ClaimVesting`: everything released so far on all of the sender's grants.
pub(crate) fn execute_claim(state: &mut Overlay<'_>, sender: &AccountId) -> Result<(), TxError> {
    let mut list = grants(state, sender);
    if list.is_empty() {
        return Err(TxError::NotFound(format!(
            "account {sender} has no vesting grants"
        )));
    }
    let elapsed = elapsed_s(state);
    let mut total = Amount::ZERO;
    for grant in &mut list {
        let claimable = grant.claimable(elapsed);
        grant.claimed = grant.claimed.checked_add(claimable)?;
        total = total.checked_add(claimable)?;
    }
    if total.is_zero() {
        return Err(TxError::NothingToClaim(
            "no vesting released since the last claim".into(),
        ));
    }
    state.put(grants_key(sender), &list);
    bank::transfer(state, &vesting_account(), sender, Denom::Vcai, total)?;
    state.emit(Event::VestingClaimed {
        beneficiary: *sender,
        amount: total,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vcai(whole: u128) -> Amount {
        Amount::whole(whole, Denom::Vcai).expect("fits")
    }

    #[test]
    fn core_team_cliff_then_linear_over_42_months() {
        let schedule = Schedule {
            total: vcai(2_000_000_000),
            at_tge: Amount::ZERO,
            cliff_s: 18 * MONTH_S,
            duration_s: 42 * MONTH_S,
            step_s: MONTH_S,
        };
        assert_eq!(schedule.vested(0), Amount::ZERO);
        assert_eq!(schedule.vested(18 * MONTH_S - 1), Amount::ZERO);
        assert_eq!(schedule.vested(18 * MONTH_S), Amount::ZERO);
        // One month after the cliff: 1/42, rounded down.
        assert_eq!(
            schedule.vested(19 * MONTH_S),
            vcai(2_000_000_000)
                .mul_div(1, 42, Rounding::Down)
                .expect("fits")
        );
        assert_eq!(
            schedule.vested(19 * MONTH_S - 1),
            Amount::ZERO,
            "monthly steps"
        );
        assert_eq!(schedule.vested(60 * MONTH_S), vcai(2_000_000_000));
        assert_eq!(schedule.vested(u64::MAX), vcai(2_000_000_000));
    }

    #[test]
    fn private_sale_tge_then_twelve_monthly_steps() {
        let schedule = Schedule {
            total: vcai(2_350_000_000),
            at_tge: vcai(514_885_000),
            cliff_s: 0,
            duration_s: 12 * MONTH_S,
            step_s: MONTH_S,
        };
        assert_eq!(schedule.vested(0), vcai(514_885_000));
        let rest = 2_350_000_000u128 - 514_885_000;
        assert_eq!(schedule.vested(6 * MONTH_S), vcai(514_885_000 + rest / 2));
        assert_eq!(schedule.vested(12 * MONTH_S), vcai(2_350_000_000));
    }

    proptest! {
        /// The closed form at random times: monotone, never above total, and exactly
        /// at_tge + floor(locked * min(steps*step, duration) / duration).
        #[test]
        fn vested_matches_its_closed_form(
            total in 0u128..=10u128.pow(28),
            tge_ppm in 0u128..=1_000_000,
            cliff_months in 0u64..24,
            duration_months in 0u64..60,
            per_second in any::<bool>(),
            t1 in 0u64..(100 * MONTH_S),
            t2 in 0u64..(100 * MONTH_S),
        ) {
            let step_s = if per_second { 1 } else { MONTH_S };
            let schedule = Schedule {
                total: Amount::new(total),
                at_tge: Amount::new(total * tge_ppm / 1_000_000),
                cliff_s: cliff_months * MONTH_S,
                duration_s: duration_months * MONTH_S,
                step_s,
            };
            let (early, late) = (t1.min(t2), t1.max(t2));
            prop_assert!(schedule.vested(early) <= schedule.vested(late));
            prop_assert!(schedule.vested(late) <= schedule.total);
            let locked = total - total * tge_ppm / 1_000_000;
            let expected = if late < schedule.cliff_s {
                0
            } else if schedule.duration_s == 0 {
                locked
            } else {
                let released = ((late - schedule.cliff_s) / step_s * step_s).min(schedule.duration_s);
                locked * u128::from(released) / u128::from(schedule.duration_s)
            };
            prop_assert_eq!(schedule.vested(late), Amount::new(total * tge_ppm / 1_000_000 + expected));
        }
    }
}
