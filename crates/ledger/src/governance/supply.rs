//! Dynamic supply (whitepaper §3.7.1, §3.7.3; rules §9): strategic issuance quotas and the year
//! cap.
//!
//! Two growth measures unlock quotas: revenue stages, ⌊cumulative net USD revenue / 2,000,000
//! USD⌋ (the fees the treasury has received, tracked by [`crate::treasury`]), and equity stages,
//! ⌊VCAI locked in vote escrow / 500,000,000 VCAI⌋ (what the `ve` account holds, so the stage
//! falls when locks are withdrawn). Available quotas = max(0, min(revenue, equity) − strategic
//! issuances executed). Each strategic issuance consumes one, and the VCAI issued in a year
//! (years of 365.25 days from genesis) may not exceed 5% of the supply at the start of that
//! year, rounded down. The supply at a year's start is recorded by the first block of the year,
//! before any transaction.
//!
//! Everything here counts the ledger's internal VCAI unit, which a repricing does not change
//! ([`crate::repricing`]): an equity stage is 500,000,000 VCAI of the genesis unit, so a split
//! neither mints quotas nor moves the year cap's share of the supply.

use crate::state::{Overlay, StateRead};
use crate::{bank, treasury, ve};
use serde::{Deserialize, Serialize};
use vcity_types::{Amount, Denom, Rounding};

/// A rules §1 year: 365.25 days.
pub const YEAR_S: u64 = 31_557_600;
/// USD of revenue per revenue stage.
pub const REVENUE_STAGE_USD: u128 = 2_000_000;
/// VCAI locked per equity stage.
pub const EQUITY_STAGE_VCAI: u128 = 500_000_000;
/// The year cap, ppm of the supply at the start of the year.
pub const YEAR_CAP_PPM: u128 = 50_000;

const KEY_ISSUANCES: &[u8] = b"gov/issuances";

fn year_supply_key(year: u64) -> Vec<u8> {
    format!("gov/year_supply/{year:06}").into_bytes()
}

fn year_issued_key(year: u64) -> Vec<u8> {
    format!("gov/year_issued/{year:06}").into_bytes()
}

/// Revenue stages reached with `revenue_usd` base units of cumulative revenue.
pub fn revenue_stages(revenue_usd: Amount) -> u64 {
    let stage = Amount::whole(REVENUE_STAGE_USD, Denom::Usd).expect("fits");
    u64::try_from(revenue_usd.base_units() / stage.base_units()).unwrap_or(u64::MAX)
}

/// Equity stages reached with `locked_vcai` base units locked.
pub fn equity_stages(locked_vcai: Amount) -> u64 {
    let stage = Amount::whole(EQUITY_STAGE_VCAI, Denom::Vcai).expect("fits");
    u64::try_from(locked_vcai.base_units() / stage.base_units()).unwrap_or(u64::MAX)
}

/// Available quotas: max(0, min(revenue stages, equity stages) − issuances executed).
pub fn available(revenue_stages: u64, equity_stages: u64, issuances: u64) -> u64 {
    revenue_stages.min(equity_stages).saturating_sub(issuances)
}

/// The most VCAI a year may issue: 5% of its starting supply, rounded down.
pub fn year_cap(supply_at_start: Amount) -> Amount {
    supply_at_start
        .mul_div(YEAR_CAP_PPM, 1_000_000, Rounding::Down)
        .expect("5% of an amount fits")
}

/// Strategic issuances executed so far.
pub fn issuances(state: &impl StateRead) -> u64 {
    state.get(KEY_ISSUANCES).unwrap_or(0)
}

/// The year (from 0) that `elapsed_s` falls in.
pub fn year_of(elapsed_s: u64) -> u64 {
    elapsed_s / YEAR_S
}

/// The VCAI supply at the start of `year`, if recorded.
pub fn year_supply(state: &impl StateRead, year: u64) -> Option<Amount> {
    state.get(&year_supply_key(year))
}

/// VCAI issued in `year`.
pub fn year_issued(state: &impl StateRead, year: u64) -> Amount {
    state.get(&year_issued_key(year)).unwrap_or_default()
}

pub(crate) fn record_year_start(state: &mut Overlay<'_>, now_s: u64) {
    let year = year_of(now_s);
    if year_supply(state, year).is_none() {
        let supply = bank::supply(state, Denom::Vcai);
        state.put(year_supply_key(year), &supply);
    }
}

/// `GET /v1/governance/quotas`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quotas {
    /// Cumulative net USD revenue (fees the treasury received).
    pub revenue_usd: Amount,
    /// ⌊revenue / 2,000,000 USD⌋.
    pub revenue_stages: u64,
    /// VCAI locked in vote escrow.
    pub locked_vcai: Amount,
    /// VCAI locked per equity stage: 500,000,000 VCAI of the genesis unit.
    pub equity_stage_vcai: Amount,
    /// ⌊locked / `equity_stage_vcai`⌋.
    pub equity_stages: u64,
    /// Strategic issuances executed.
    pub issuances: u64,
    /// Quotas available now.
    pub available: u64,
    /// The current year (from 0, 365.25-day years from genesis).
    pub year: u64,
    /// The supply at its start.
    pub year_start_supply: Amount,
    /// 5% of it.
    pub year_cap: Amount,
    /// Issued this year.
    pub year_issued: Amount,
}

/// The quotas now.
pub fn quotas(state: &impl StateRead) -> Quotas {
    let revenue_usd = treasury::revenue(state);
    let locked_vcai = bank::balance(state, &ve::ve_account(), Denom::Vcai);
    let revenue = revenue_stages(revenue_usd);
    let equity = equity_stages(locked_vcai);
    let done = issuances(state);
    let year = year_of(crate::vesting::elapsed_s(state));
    let start = year_supply(state, year).unwrap_or_else(|| bank::supply(state, Denom::Vcai));
    Quotas {
        revenue_usd,
        revenue_stages: revenue,
        locked_vcai,
        equity_stage_vcai: Amount::whole(EQUITY_STAGE_VCAI, Denom::Vcai).expect("fits"),
        equity_stages: equity,
        issuances: done,
        available: available(revenue, equity, done),
        year,
        year_start_supply: start,
        year_cap: year_cap(start),
        year_issued: year_issued(state, year),
    }
}

/// Takes one quota and `amount` of this year's cap, or says why not.
pub(crate) fn consume(state: &mut Overlay<'_>, amount: Amount) -> Result<u64, crate::TxError> {
    let now = quotas(state);
    if now.available == 0 {
        return Err(crate::TxError::QuotaExhausted(format!(
            "no strategic issuance quota: min({} revenue stages, {} equity stages) − {} executed",
            now.revenue_stages, now.equity_stages, now.issuances
        )));
    }
    let issued = now.year_issued.checked_add(amount)?;
    if issued > now.year_cap {
        return Err(crate::TxError::QuotaExhausted(format!(
            "year {} may issue at most {} VCAI base units (5% of {}); {} issued, {} asked",
            now.year,
            crate::repricing::shown(state, now.year_cap),
            crate::repricing::shown(state, now.year_start_supply),
            crate::repricing::shown(state, now.year_issued),
            crate::repricing::shown(state, amount)
        )));
    }
    let done = now.issuances + 1;
    state.put(KEY_ISSUANCES.to_vec(), &done);
    state.put(year_issued_key(now.year), &issued);
    Ok(done)
}
