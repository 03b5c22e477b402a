//! The treasury's buyback (rules §8).
//!
//! All protocol revenue arrives in the treasury module account in USD (fees today; job and agent
//! commissions later). At the start of every buyback interval (24 h, gov) the treasury's whole
//! USD balance becomes that interval's budget, and the VCAI bought in the interval that just ended
//! is handed to the distributor to stream over the new one. During the interval the budget is
//! spent in per-block slices that keep pace with the clock (by time t, `budget·(t − start)/interval`
//! has been offered), so there is no single predictable market buy to sandwich. Each slice is
//! also bounded so that its average price stays within `max_premium_bps` of the pool's
//! time-weighted price over the previous interval: a price pushed up by a manipulator buys
//! nothing, and what a slice cannot buy stays in the treasury and carries into the next budget.
//!
//! Keys (owned here): `treasury/params`, `treasury/buyback`.

use crate::bank;
use crate::pool::{self, PRICE_SCALE};
use crate::rewards;
use crate::state::{Overlay, StateRead};
use crate::vesting::elapsed_s;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use vcity_types::wide;
use vcity_types::{Amount, Denom, Rounding};

/// Governance parameters.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TreasuryParams {
    /// Buyback interval (rules §8: 24 h).
    pub buyback_interval_s: u64,
    /// Most a slice's average price may exceed the reference time-weighted price, basis points.
    pub max_premium_bps: u32,
}

impl Default for TreasuryParams {
    fn default() -> Self {
        TreasuryParams {
            buyback_interval_s: 86_400,
            max_premium_bps: 100,
        }
    }
}

/// The buyback in progress.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct Buyback {
    /// Start of the interval, seconds after genesis.
    pub start_s: u64,
    /// USD to spend in this interval.
    pub budget: Amount,
    /// USD spent so far.
    pub spent: Amount,
    /// VCAI bought so far (streamed over the next interval).
    pub bought: Amount,
    /// Reference price: the pool's time-weighted price over the previous interval (USD base per
    /// VCAI base × 10^30); 0 before the pool has a price.
    pub reference_price: u128,
    /// The pool's price accumulator at `start_s`.
    pub cumulative_at_start: u128,
}

const KEY_PARAMS: &[u8] = b"treasury/params";
const KEY_BUYBACK: &[u8] = b"treasury/buyback";

/// The parameters.
pub fn params(state: &impl StateRead) -> TreasuryParams {
    state.get(KEY_PARAMS).unwrap_or_default()
}

/// Genesis: non-default parameters.
/// A proposal's buyback parameters: an interval of an hour to 30 days, a premium of at most
/// 10,000 bps; the new interval applies from the next interval.
pub(crate) fn set_params(
    state: &mut Overlay<'_>,
    new: &TreasuryParams,
) -> Result<(), crate::TxError> {
    if !(3_600..=30 * 86_400).contains(&new.buyback_interval_s) || new.max_premium_bps > 10_000 {
        return Err(crate::TxError::InvalidParam(
            "the buyback interval is 1 hour to 30 days and the premium at most 10,000 bps".into(),
        ));
    }
    state.put(KEY_PARAMS.to_vec(), new);
    Ok(())
}

const KEY_REVENUE: &[u8] = b"treasury/revenue_usd";

/// Cumulative net USD revenue: every fee the treasury has received (transaction fees and the
/// network fee on settled work). The supply quotas' revenue measure (rules §9).
pub fn revenue(state: &impl StateRead) -> Amount {
    state.get(KEY_REVENUE).unwrap_or_default()
}

/// Counts `usd` the treasury just received as revenue.
pub(crate) fn record_revenue(state: &mut Overlay<'_>, usd: Amount) {
    if usd.is_zero() {
        return;
    }
    let total = revenue(state)
        .checked_add(usd)
        .expect("USD revenue fits u128");
    state.put(KEY_REVENUE.to_vec(), &total);
}

pub(crate) fn init(state: &mut Overlay<'_>, params: &TreasuryParams) {
    state.put(KEY_PARAMS.to_vec(), params);
}

/// The buyback in progress (none before the first block).
pub fn buyback(state: &impl StateRead) -> Option<Buyback> {
    state.get(KEY_BUYBACK)
}

/// The largest USD input whose average price stays at or below `max_price` (scaled like
/// [`pool::spot_price`]): from `in/out ≤ P`, `in ≤ P·R_vcai − R_usd/(1 − fee)`.
pub fn max_input_at_price(reserves: &pool::Reserves, max_price: u128, fee_bps: u32) -> Amount {
    let affordable = wide::mul_div(
        max_price,
        reserves.vcai.base_units(),
        PRICE_SCALE,
        Rounding::Down,
    )
    .unwrap_or(u128::MAX);
    let needed = wide::mul_div(
        reserves.usd.base_units(),
        10_000,
        10_000 - u128::from(fee_bps),
        Rounding::Up,
    )
    .unwrap_or(u128::MAX);
    Amount::new(affordable.saturating_sub(needed))
}

/// `begin_block`, after the vote escrow and before the distributor: rolls the interval over when
/// it ends, then buys this block's slice.
pub(crate) fn begin_block(state: &mut Overlay<'_>) {
    let now = elapsed_s(state);
    let settings = params(state);
    let interval = settings.buyback_interval_s.max(1);
    let current_start = now / interval * interval;
    let mut current = match buyback(state) {
        Some(existing) if existing.start_s == current_start => existing,
        previous => {
            // A new interval: stream what the last one bought, set the reference price and the
            // budget.
            let cumulative_now = pool::cumulative_at(state, now);
            let reference_price = match previous {
                Some(last) if now > last.start_s => {
                    cumulative_now.wrapping_sub(last.cumulative_at_start)
                        / u128::from(now - last.start_s)
                }
                _ => pool::spot_price(&pool::reserves(state)),
            };
            if let Some(last) = previous {
                rewards::start_stream(state, last.bought, current_start, interval);
            }
            Buyback {
                start_s: current_start,
                budget: bank::balance(state, &bank::treasury(), Denom::Usd),
                spent: Amount::ZERO,
                bought: Amount::ZERO,
                reference_price,
                cumulative_at_start: cumulative_now,
            }
        }
    };

    let elapsed = now.saturating_sub(current.start_s).min(interval);
    let target = current
        .budget
        .mul_div(u128::from(elapsed), u128::from(interval), Rounding::Down)
        .expect("a fraction of the budget fits");
    let mut slice = target.checked_sub(current.spent).unwrap_or(Amount::ZERO);
    let reserves = pool::reserves(state);
    if !slice.is_zero() && current.reference_price > 0 && !reserves.vcai.is_zero() {
        let max_price = wide::mul_div(
            current.reference_price,
            10_000 + u128::from(settings.max_premium_bps),
            10_000,
            Rounding::Down,
        )
        .unwrap_or(u128::MAX);
        slice = slice
            .min(max_input_at_price(
                &reserves,
                max_price,
                pool::params(state).fee_bps,
            ))
            .min(bank::balance(state, &bank::treasury(), Denom::Usd));
        if !slice.is_zero() {
            let treasury = bank::treasury();
            // A slice too small to buy one base unit is simply not spent yet.
            let bought = state.atomically(|state| {
                pool::swap_exact_in(
                    state,
                    &treasury,
                    &rewards::distributor_account(),
                    Denom::Usd,
                    slice,
                    Amount::ZERO,
                )
            });
            if let Ok(out) = bought {
                current.spent = current.spent.checked_add(slice).expect("fits the budget");
                current.bought = current.bought.checked_add(out).expect("fits the supply");
            }
        }
    }
    state.put(KEY_BUYBACK.to_vec(), &current);
}
