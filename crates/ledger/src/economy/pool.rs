//! The VCAI/USD pool (rules §8): a constant-product market, x·y = k, with a 0.3% swap fee (gov).
//!
//! The math is Uniswap v2's, in base units with 256-bit intermediates: an exact-in swap pays
//! `⌊in·(1−f)·R_out / (R_in + in·(1−f))⌋`, an exact-out swap charges
//! `⌊R_in·out / ((R_out − out)·(1−f))⌋ + 1`; every output is rounded down and every input up, so
//! k never decreases on a swap. The first deposit mints `⌊sqrt(vcai·usd)⌋ − 1,000` shares and locks
//! 1,000 forever (no one owns them), which makes inflating a share's value by donation cost 1,000
//! times the gain. Later deposits are taken at the pool's ratio (the side in excess is left with
//! the depositor) and mint `min(vcai·S/R_vcai, usd·S/R_usd)` shares, rounded down; withdrawals
//! pay `shares·R/S` of each side, rounded down.
//!
//! A time-weighted price accumulator (USD per VCAI, scaled by 10^30, summed per second, wrapping
//! like Uniswap's) is updated before the reserves change in each block, so the buyback can bound
//! its purchases against the average price over an interval rather than the spot price a sandwich
//! sets.
//!
//! Genesis can seed the pool; its shares then belong to the treasury (protocol-owned liquidity).
//! The tokens sit in the `pool` module account; the recorded reserves always equal its balances.
//!
//! Keys (owned here): `pool/params`, `pool/reserves`, `pool/total_shares`, `pool/shares/{hex}`,
//! `pool/twap`.

use crate::bank;
use crate::error::TxError;
use crate::state::{Overlay, StateRead};
use crate::vesting::elapsed_s;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use vcity_types::event::Event;
use vcity_types::tx::{AddLiquidity, RemoveLiquidity, SwapExactIn, SwapExactOut};
use vcity_types::wide;
use vcity_types::{AccountId, Amount, Denom, Rounding};

/// Shares locked forever by the first deposit.
pub const MINIMUM_LIQUIDITY: u128 = 1_000;
/// Scale of the time-weighted price: USD base units per VCAI base unit × 10^30.
pub const PRICE_SCALE: u128 = 1_000_000_000_000_000_000_000_000_000_000;
const BPS: u128 = 10_000;

/// Holds both reserves.
pub fn pool_account() -> AccountId {
    AccountId::module("pool")
}

/// Governance parameters.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct PoolParams {
    /// Swap fee in basis points (rules §8: 30 = 0.3%).
    pub fee_bps: u32,
}

impl Default for PoolParams {
    fn default() -> Self {
        PoolParams { fee_bps: 30 }
    }
}

/// The reserves.
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
pub struct Reserves {
    /// VCAI base units.
    pub vcai: Amount,
    /// USD base units.
    pub usd: Amount,
}

impl Reserves {
    fn of(&self, denom: Denom) -> Amount {
        match denom {
            Denom::Vcai => self.vcai,
            Denom::Usd => self.usd,
        }
    }

    fn set(&mut self, denom: Denom, amount: Amount) {
        match denom {
            Denom::Vcai => self.vcai = amount,
            Denom::Usd => self.usd = amount,
        }
    }
}

/// The time-weighted price accumulator.
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
pub struct Twap {
    /// Σ price · seconds, wrapping.
    pub cumulative: u128,
    /// When it was last updated, seconds after genesis.
    pub last_s: u64,
}

const KEY_PARAMS: &[u8] = b"pool/params";
const KEY_RESERVES: &[u8] = b"pool/reserves";
const KEY_TOTAL_SHARES: &[u8] = b"pool/total_shares";
const KEY_TWAP: &[u8] = b"pool/twap";

fn shares_key(account: &AccountId) -> Vec<u8> {
    format!("pool/shares/{}", account.to_hex()).into_bytes()
}

/// The parameters.
pub fn params(state: &impl StateRead) -> PoolParams {
    state.get(KEY_PARAMS).unwrap_or_default()
}

/// A proposal's swap fee: at most 1,000 bps (10%).
pub(crate) fn set_fee(state: &mut Overlay<'_>, fee_bps: u32) -> Result<(), TxError> {
    if fee_bps > 1_000 {
        return Err(TxError::InvalidParam(format!(
            "the swap fee is at most 1,000 bps, not {fee_bps}"
        )));
    }
    state.put(KEY_PARAMS.to_vec(), &PoolParams { fee_bps });
    Ok(())
}

/// The reserves.
pub fn reserves(state: &impl StateRead) -> Reserves {
    state.get(KEY_RESERVES).unwrap_or_default()
}

/// All shares, the locked minimum included.
pub fn total_shares(state: &impl StateRead) -> Amount {
    state.get(KEY_TOTAL_SHARES).unwrap_or_default()
}

/// An account's shares.
pub fn shares(state: &impl StateRead, account: &AccountId) -> Amount {
    state.get(&shares_key(account)).unwrap_or_default()
}

/// The accumulator as of the last update.
pub fn twap(state: &impl StateRead) -> Twap {
    state.get(KEY_TWAP).unwrap_or_default()
}

/// Spot price, USD base units per VCAI base unit × 10^30 (0 for an empty pool).
pub fn spot_price(reserves: &Reserves) -> u128 {
    if reserves.vcai.is_zero() {
        return 0;
    }
    wide::mul_div(
        reserves.usd.base_units(),
        PRICE_SCALE,
        reserves.vcai.base_units(),
        Rounding::Down,
    )
    .unwrap_or(u128::MAX)
}

/// The accumulator extended to `now_s` (without writing it).
pub fn cumulative_at(state: &impl StateRead, now_s: u64) -> u128 {
    let twap = twap(state);
    let elapsed = u128::from(now_s.saturating_sub(twap.last_s));
    twap.cumulative
        .wrapping_add(spot_price(&reserves(state)).wrapping_mul(elapsed))
}

/// Output of an exact-in swap, rounded down.
pub fn amount_out(
    amount_in: u128,
    reserve_in: u128,
    reserve_out: u128,
    fee_bps: u32,
) -> Option<u128> {
    let keep = BPS - u128::from(fee_bps);
    let in_with_fee = amount_in.checked_mul(keep)?;
    let denominator = reserve_in.checked_mul(BPS)?.checked_add(in_with_fee)?;
    wide::mul_div(in_with_fee, reserve_out, denominator, Rounding::Down)
}

/// Input of an exact-out swap, rounded up (Uniswap's `+ 1`).
pub fn amount_in(
    amount_out: u128,
    reserve_in: u128,
    reserve_out: u128,
    fee_bps: u32,
) -> Option<u128> {
    if amount_out >= reserve_out {
        return None;
    }
    let keep = BPS - u128::from(fee_bps);
    let denominator = (reserve_out - amount_out).checked_mul(keep)?;
    wide::mul_div(
        reserve_in.checked_mul(BPS)?,
        amount_out,
        denominator,
        Rounding::Down,
    )?
    .checked_add(1)
}

fn update_twap(state: &mut Overlay<'_>) {
    let now = elapsed_s(state);
    let current = twap(state);
    if current.last_s == now && current.cumulative != 0 {
        return;
    }
    let updated = Twap {
        cumulative: cumulative_at(state, now),
        last_s: now,
    };
    state.put(KEY_TWAP.to_vec(), &updated);
}

fn put_shares(state: &mut Overlay<'_>, account: &AccountId, amount: Amount) {
    if amount.is_zero() {
        state.delete(shares_key(account));
    } else {
        state.put(shares_key(account), &amount);
    }
}

/// Deposits `vcai` and `usd` from `from` at the pool's ratio (or as the first deposit) and credits
/// shares to `owner`. Returns (vcai used, usd used, shares).
fn deposit(
    state: &mut Overlay<'_>,
    from: &AccountId,
    owner: &AccountId,
    vcai_max: Amount,
    usd_max: Amount,
) -> Result<(Amount, Amount, Amount), TxError> {
    if vcai_max.is_zero() || usd_max.is_zero() {
        return Err(TxError::InvalidAmount("deposit both VCAI and USD".into()));
    }
    update_twap(state);
    let mut reserves = reserves(state);
    let total = total_shares(state);
    let (vcai, usd, minted, new_total) = if total.is_zero() {
        let root = wide::sqrt_product(vcai_max.base_units(), usd_max.base_units());
        if root <= MINIMUM_LIQUIDITY {
            return Err(TxError::InsufficientLiquidity(format!(
                "the first deposit must be worth more than {MINIMUM_LIQUIDITY} shares"
            )));
        }
        let minted = Amount::new(root - MINIMUM_LIQUIDITY);
        (vcai_max, usd_max, minted, Amount::new(root))
    } else {
        // Take the pool's ratio; round the matching side up so the pool never loses.
        let usd_for_vcai = vcai_max.mul_div(
            reserves.usd.base_units(),
            reserves.vcai.base_units(),
            Rounding::Up,
        )?;
        let (vcai, usd) = if usd_for_vcai <= usd_max {
            (vcai_max, usd_for_vcai)
        } else {
            let vcai_for_usd = usd_max.mul_div(
                reserves.vcai.base_units(),
                reserves.usd.base_units(),
                Rounding::Up,
            )?;
            (vcai_for_usd.min(vcai_max), usd_max)
        };
        let by_vcai = vcai.mul_div(
            total.base_units(),
            reserves.vcai.base_units(),
            Rounding::Down,
        )?;
        let by_usd = usd.mul_div(
            total.base_units(),
            reserves.usd.base_units(),
            Rounding::Down,
        )?;
        let minted = by_vcai.min(by_usd);
        if minted.is_zero() {
            return Err(TxError::InsufficientLiquidity(
                "deposit too small for one share".into(),
            ));
        }
        (vcai, usd, minted, total.checked_add(minted)?)
    };
    bank::transfer(state, from, &pool_account(), Denom::Vcai, vcai)?;
    bank::transfer(state, from, &pool_account(), Denom::Usd, usd)?;
    reserves.vcai = reserves.vcai.checked_add(vcai)?;
    reserves.usd = reserves.usd.checked_add(usd)?;
    state.put(KEY_RESERVES.to_vec(), &reserves);
    state.put(KEY_TOTAL_SHARES.to_vec(), &new_total);
    let owned = shares(state, owner).checked_add(minted)?;
    put_shares(state, owner, owned);
    Ok((vcai, usd, minted))
}

/// Genesis: seeds the pool from `from`'s balances; the shares go to `owner`.
pub(crate) fn seed(
    state: &mut Overlay<'_>,
    from: &AccountId,
    owner: &AccountId,
    vcai: Amount,
    usd: Amount,
) -> Result<(), TxError> {
    if !total_shares(state).is_zero() {
        return Err(TxError::InvalidAmount("the pool is already seeded".into()));
    }
    deposit(state, from, owner, vcai, usd).map(|_| ())
}

/// `AddLiquidity`.
pub(crate) fn execute_add(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &AddLiquidity,
) -> Result<(), TxError> {
    let (vcai, usd, minted) = deposit(state, sender, sender, message.vcai_max, message.usd_max)?;
    if minted < message.min_shares {
        return Err(TxError::Slippage(format!(
            "deposit mints {minted} shares, fewer than the minimum {}",
            message.min_shares
        )));
    }
    state.emit(Event::LiquidityAdded {
        account: *sender,
        vcai,
        usd,
        shares: minted,
    });
    Ok(())
}

/// `RemoveLiquidity`.
pub(crate) fn execute_remove(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &RemoveLiquidity,
) -> Result<(), TxError> {
    let owned = shares(state, sender);
    if message.shares.is_zero() || message.shares > owned {
        return Err(TxError::InvalidAmount(format!(
            "burning {} shares of the {owned} held",
            message.shares
        )));
    }
    update_twap(state);
    let mut reserves = reserves(state);
    let total = total_shares(state);
    let vcai = reserves.vcai.mul_div(
        message.shares.base_units(),
        total.base_units(),
        Rounding::Down,
    )?;
    let usd = reserves.usd.mul_div(
        message.shares.base_units(),
        total.base_units(),
        Rounding::Down,
    )?;
    if vcai < message.min_vcai || usd < message.min_usd {
        return Err(TxError::Slippage(format!(
            "withdrawal pays {} VCAI and {usd} USD base units, below the minimums",
            crate::repricing::shown(state, vcai)
        )));
    }
    if vcai.is_zero() && usd.is_zero() {
        return Err(TxError::InsufficientLiquidity(
            "too few shares to withdraw anything".into(),
        ));
    }
    reserves.vcai = reserves.vcai.checked_sub(vcai)?;
    reserves.usd = reserves.usd.checked_sub(usd)?;
    state.put(KEY_RESERVES.to_vec(), &reserves);
    state.put(
        KEY_TOTAL_SHARES.to_vec(),
        &total.checked_sub(message.shares)?,
    );
    put_shares(state, sender, owned.checked_sub(message.shares)?);
    for (denom, amount) in [(Denom::Vcai, vcai), (Denom::Usd, usd)] {
        if !amount.is_zero() {
            bank::transfer(state, &pool_account(), sender, denom, amount)?;
        }
    }
    state.emit(Event::LiquidityRemoved {
        account: *sender,
        vcai,
        usd,
        shares: message.shares,
    });
    Ok(())
}

/// Moves `amount_in` of `denom_in` from `account` into the pool and `amount_out` of the other
/// denomination out to `recipient`.
fn settle_swap(
    state: &mut Overlay<'_>,
    account: &AccountId,
    recipient: &AccountId,
    denom_in: Denom,
    amount_in: Amount,
    amount_out: Amount,
) -> Result<(), TxError> {
    let mut reserves = reserves(state);
    let before = wide::mul(reserves.vcai.base_units(), reserves.usd.base_units());
    bank::transfer(state, account, &pool_account(), denom_in, amount_in)?;
    bank::transfer(
        state,
        &pool_account(),
        recipient,
        denom_in.other(),
        amount_out,
    )?;
    reserves.set(denom_in, reserves.of(denom_in).checked_add(amount_in)?);
    reserves.set(
        denom_in.other(),
        reserves.of(denom_in.other()).checked_sub(amount_out)?,
    );
    let after = wide::mul(reserves.vcai.base_units(), reserves.usd.base_units());
    assert!(
        after >= before,
        "invariant broken: a swap decreased the pool's k"
    );
    state.put(KEY_RESERVES.to_vec(), &reserves);
    state.emit(Event::Swapped {
        account: *account,
        denom_in,
        amount_in,
        amount_out,
    });
    Ok(())
}

/// `amount` of `denom` as an error text shows it (VCAI in the nominal unit).
fn shown_in(state: &impl StateRead, denom: Denom, amount: Amount) -> Amount {
    match denom {
        Denom::Vcai => crate::repricing::shown(state, amount),
        Denom::Usd => amount,
    }
}

/// An exact-in swap by `account`, paying out to `recipient`; returns the output.
pub(crate) fn swap_exact_in(
    state: &mut Overlay<'_>,
    account: &AccountId,
    recipient: &AccountId,
    denom_in: Denom,
    amount_in: Amount,
    min_out: Amount,
) -> Result<Amount, TxError> {
    if amount_in.is_zero() {
        return Err(TxError::InvalidAmount(
            "swap amount must be positive".into(),
        ));
    }
    update_twap(state);
    let current = reserves(state);
    if current.vcai.is_zero() || current.usd.is_zero() {
        return Err(TxError::InsufficientLiquidity("the pool is empty".into()));
    }
    let out = amount_out(
        amount_in.base_units(),
        current.of(denom_in).base_units(),
        current.of(denom_in.other()).base_units(),
        params(state).fee_bps,
    )
    .ok_or(TxError::Overflow)?;
    let out = Amount::new(out);
    if out.is_zero() {
        return Err(TxError::InsufficientLiquidity(
            "the swap would pay nothing".into(),
        ));
    }
    if out < min_out {
        let shown = |amount: Amount| shown_in(state, denom_in.other(), amount);
        return Err(TxError::Slippage(format!(
            "swap pays {} base units, fewer than the minimum {}",
            shown(out),
            shown(min_out)
        )));
    }
    settle_swap(state, account, recipient, denom_in, amount_in, out)?;
    Ok(out)
}

/// `SwapExactIn`.
pub(crate) fn execute_swap_exact_in(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &SwapExactIn,
) -> Result<(), TxError> {
    swap_exact_in(
        state,
        sender,
        sender,
        message.denom_in,
        message.amount_in,
        message.min_out,
    )
    .map(|_| ())
}

/// `SwapExactOut`.
pub(crate) fn execute_swap_exact_out(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &SwapExactOut,
) -> Result<(), TxError> {
    if message.amount_out.is_zero() {
        return Err(TxError::InvalidAmount(
            "swap amount must be positive".into(),
        ));
    }
    update_twap(state);
    let current = reserves(state);
    let denom_in = message.denom_out.other();
    if current.vcai.is_zero() || current.usd.is_zero() {
        return Err(TxError::InsufficientLiquidity("the pool is empty".into()));
    }
    let needed = amount_in(
        message.amount_out.base_units(),
        current.of(denom_in).base_units(),
        current.of(message.denom_out).base_units(),
        params(state).fee_bps,
    )
    .ok_or_else(|| TxError::InsufficientLiquidity("the pool cannot pay that much".into()))?;
    let needed = Amount::new(needed);
    if needed > message.max_in {
        let shown = |amount: Amount| shown_in(state, denom_in, amount);
        return Err(TxError::Slippage(format!(
            "swap costs {} base units, more than the maximum {}",
            shown(needed),
            shown(message.max_in)
        )));
    }
    settle_swap(state, sender, sender, denom_in, needed, message.amount_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const E18: u128 = 1_000_000_000_000_000_000;

    #[test]
    fn uniswap_v2_golden_vectors() {
        // [in, R_in, R_out, out] in units of 1e18, from Uniswap v2's UniswapV2Pair.spec.ts.
        let cases = [
            (1, 5, 10, 1_662_497_915_624_478_906u128),
            (1, 10, 5, 453_305_446_940_074_565),
            (2, 5, 10, 2_851_015_155_847_869_602),
            (1, 1_000, 1_000, 996_006_981_039_903_216),
        ];
        for (amount, reserve_in, reserve_out, expected) in cases {
            let out =
                amount_out(amount * E18, reserve_in * E18, reserve_out * E18, 30).expect("fits");
            assert_eq!(out, expected);
            // Asking for one more than that must cost more than `amount`.
            let cost =
                amount_in(expected + 1, reserve_in * E18, reserve_out * E18, 30).expect("fits");
            assert!(cost > amount * E18);
        }
        // Exact-out is the inverse, rounded up: out 1 from 5/5 costs ⌊5·1·1000 / (4·997)⌋ + 1.
        assert_eq!(
            amount_in(E18, 5 * E18, 5 * E18, 30),
            Some(5 * E18 * 1_000 / (4 * 997) + 1)
        );
    }
}
