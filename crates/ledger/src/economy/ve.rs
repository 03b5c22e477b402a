//! The vote-escrow component (veVCAI; whitepaper §3.2, rules §7).
//!
//! An account locks VCAI until a whole week after genesis; its weight is
//! `w(t) = sqrt(n) · (t_unlock − t) / T_max` (n in whole VCAI, α = 1/2) and reaches zero at unlock.
//! One lock per account: it can be increased and extended, never shortened, withdrawn only after
//! unlock, never transferred. Locked VCAI sits in the `ve` module account.
//!
//! The design is Curve's VotingEscrow ported to integers: each lock is a line
//! `weight = slope · (end − t)` with `slope = ⌊isqrt(n base units) · 10^18 / T_max⌋`, so the weight
//! is scaled by 10^27 (isqrt of base units is sqrt(whole VCAI) · 10^9) and a 1-VCAI lock keeps
//! 27 significant digits. The total is one global line plus the slope that expires at each week
//! boundary (`slope_changes`); because every quantity is an exact integer sum of per-lock
//! integers, the total equals the sum of the accounts' weights exactly, at every time. The global
//! line is advanced over week boundaries in `begin_block` (amortised O(1) per block), and every
//! change writes a history point, so the total and any account's weight at a past time are a
//! binary search away (governance snapshots).
//!
//! Splitting a lock across k accounts multiplies its weight by √k (rules §7 known weakness): the
//! minimum lock amount (default 1,000 VCAI) is the mitigation, and the formula stays as written.
//!
//! Times here are seconds after genesis. Keys (owned here): `ve/params`, `ve/lock/{hex}`,
//! `ve/global`, `ve/epoch`, `ve/history/{epoch, 12 digits}`, `ve/slope_change/{time, 12 digits}`,
//! `ve/user_epoch/{hex}`, `ve/user_history/{hex}/{n, 12 digits}`.

use crate::bank;
use crate::error::TxError;
use crate::state::{Overlay, StateRead};
use crate::vesting::elapsed_s;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use vcity_types::event::Event;
use vcity_types::tx::{VeExtend, VeIncrease, VeLock};
use vcity_types::{AccountId, Amount, Denom};

/// One week.
pub const WEEK_S: u64 = 604_800;
/// rules §1: four 365.25-day years.
pub const MAX_LOCK_S: u64 = 126_230_400;
/// Weight scale: a weight value of 10^27 is one veVCAI.
pub const WEIGHT_SCALE: u128 = 1_000_000_000_000_000_000_000_000_000;
const SLOPE_SCALE: u128 = 1_000_000_000_000_000_000;

/// Holds every locked VCAI.
pub fn ve_account() -> AccountId {
    AccountId::module("ve")
}

/// Governance parameters of the escrow.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct VeParams {
    /// Smallest new lock, VCAI base units (rules §7: 1,000 VCAI).
    pub min_lock: Amount,
}

impl Default for VeParams {
    fn default() -> Self {
        VeParams {
            min_lock: Amount::whole(1_000, Denom::Vcai).expect("fits"),
        }
    }
}

/// An account's lock.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Lock {
    /// VCAI base units locked.
    pub amount: Amount,
    /// Unlock time, seconds after genesis, a whole number of weeks.
    pub end_s: u64,
    /// Weight lost per second.
    pub slope: u128,
}

impl Lock {
    /// Weight at `t_s` (scaled by [`WEIGHT_SCALE`]).
    pub fn weight_at(&self, t_s: u64) -> u128 {
        self.slope * u128::from(self.end_s.saturating_sub(t_s))
    }
}

/// A line `bias − slope · (t − ts)`, clamped at zero.
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
pub struct Point {
    /// Weight at `ts_s`.
    pub bias: u128,
    /// Weight lost per second.
    pub slope: u128,
    /// Seconds after genesis.
    pub ts_s: u64,
}

impl Point {
    fn at(&self, t_s: u64) -> u128 {
        self.bias
            .saturating_sub(self.slope * u128::from(t_s.saturating_sub(self.ts_s)))
    }
}

/// Floor square root (Newton's method; exact for all u128).
pub fn isqrt(n: u128) -> u128 {
    if n < 2 {
        return n;
    }
    let mut x = 1u128 << (n.ilog2() / 2 + 1);
    loop {
        let y = (x + n / x) / 2;
        if y >= x {
            return x;
        }
        x = y;
    }
}

/// The slope of a lock of `amount` base units.
pub fn slope_of(amount: Amount) -> u128 {
    isqrt(amount.base_units()) * SLOPE_SCALE / u128::from(MAX_LOCK_S)
}

fn lock_key(account: &AccountId) -> Vec<u8> {
    format!("ve/lock/{}", account.to_hex()).into_bytes()
}
fn history_key(epoch: u64) -> Vec<u8> {
    format!("ve/history/{epoch:012}").into_bytes()
}
fn slope_change_key(t_s: u64) -> Vec<u8> {
    format!("ve/slope_change/{t_s:012}").into_bytes()
}
fn user_epoch_key(account: &AccountId) -> Vec<u8> {
    format!("ve/user_epoch/{}", account.to_hex()).into_bytes()
}
fn user_history_key(account: &AccountId, n: u64) -> Vec<u8> {
    format!("ve/user_history/{}/{n:012}", account.to_hex()).into_bytes()
}
const KEY_PARAMS: &[u8] = b"ve/params";
const KEY_GLOBAL: &[u8] = b"ve/global";
const KEY_EPOCH: &[u8] = b"ve/epoch";

/// The parameters.
pub fn params(state: &impl StateRead) -> VeParams {
    state.get(KEY_PARAMS).unwrap_or_default()
}

/// A proposal's minimum lock: 1 to 1,000,000 VCAI (the rules §7 defence against splitting).
pub(crate) fn set_min_lock(state: &mut Overlay<'_>, amount: Amount) -> Result<(), TxError> {
    let low = Amount::whole(1, Denom::Vcai).expect("fits");
    let high = Amount::whole(1_000_000, Denom::Vcai).expect("fits");
    if amount < low || amount > high {
        return Err(TxError::InvalidParam(
            "the minimum lock is 1 to 1,000,000 VCAI".into(),
        ));
    }
    state.put(KEY_PARAMS.to_vec(), &VeParams { min_lock: amount });
    Ok(())
}

/// An account's lock.
pub fn lock(state: &impl StateRead, account: &AccountId) -> Option<Lock> {
    state.get(&lock_key(account))
}

fn global(state: &impl StateRead) -> Point {
    state.get(KEY_GLOBAL).unwrap_or_default()
}

fn slope_change(state: &impl StateRead, t_s: u64) -> i128 {
    state.get(&slope_change_key(t_s)).unwrap_or(0)
}

fn add_slope_change(state: &mut Overlay<'_>, t_s: u64, delta: i128) {
    let updated = slope_change(state, t_s) + delta;
    if updated == 0 {
        state.delete(slope_change_key(t_s));
    } else {
        state.put(slope_change_key(t_s), &updated);
    }
}

fn apply_slope(slope: u128, delta: i128) -> u128 {
    let updated = i128::try_from(slope).expect("slopes fit i128") + delta;
    u128::try_from(updated).expect("the global slope never goes negative")
}

/// Advances `point` to `t_s`, applying the slope changes of every week boundary on the way and
/// calling `on_boundary` with the point at each.
fn advance(
    state: &impl StateRead,
    mut point: Point,
    t_s: u64,
    mut on_boundary: impl FnMut(Point),
) -> Point {
    let mut boundary = (point.ts_s / WEEK_S + 1) * WEEK_S;
    while boundary <= t_s {
        point.bias = point.at(boundary);
        point.slope = apply_slope(point.slope, slope_change(state, boundary));
        point.ts_s = boundary;
        on_boundary(point);
        boundary += WEEK_S;
    }
    point.bias = point.at(t_s);
    point.ts_s = t_s;
    point
}

fn push_history(state: &mut Overlay<'_>, point: Point) {
    let epoch: u64 = state.get(KEY_EPOCH).unwrap_or(0) + 1;
    state.put(KEY_EPOCH.to_vec(), &epoch);
    state.put(history_key(epoch), &point);
}

/// `begin_block`: advances the global line over the week boundaries passed since the last
/// checkpoint, recording a history point at each. O(boundaries crossed), one per week.
pub fn begin_block(state: &mut Overlay<'_>) {
    let Some(point) = state.get::<Point>(KEY_GLOBAL) else {
        return;
    };
    let now = elapsed_s(state);
    if (point.ts_s / WEEK_S + 1) * WEEK_S > now {
        return;
    }
    let mut boundaries = Vec::new();
    let advanced = advance(state, point, now, |p| boundaries.push(p));
    for boundary in boundaries {
        push_history(state, boundary);
    }
    // Stored advanced to now; until the next boundary no block needs to write it again.
    state.put(KEY_GLOBAL.to_vec(), &advanced);
}

/// Total weight at the current block time.
pub fn total_weight(state: &impl StateRead) -> u128 {
    let point = global(state);
    advance(state, point, elapsed_s(state).max(point.ts_s), |_| {}).bias
}

/// `weight` (scaled by [`WEIGHT_SCALE`]) in veVCAI with nine decimals, for people.
pub fn format_weight(weight: u128) -> String {
    let whole = weight / WEIGHT_SCALE;
    let fraction = (weight % WEIGHT_SCALE) / 1_000_000_000_000_000_000;
    format!("{whole}.{fraction:09}")
}

/// An account's weight now.
pub fn weight(state: &impl StateRead, account: &AccountId) -> u128 {
    lock(state, account).map_or(0, |lock| lock.weight_at(elapsed_s(state)))
}

/// The last of the points `1..=epochs` (read with `key`) whose time is at most `t_s`, by binary
/// search; points are appended in time order.
fn last_point_at(
    state: &impl StateRead,
    epochs: u64,
    key: impl Fn(u64) -> Vec<u8>,
    t_s: u64,
) -> Option<Point> {
    let read = |epoch: u64| -> Point { state.get(&key(epoch)).expect("history is contiguous") };
    let (mut low, mut high) = (0u64, epochs);
    while low < high {
        let middle = (low + high).div_ceil(2);
        if read(middle).ts_s <= t_s {
            low = middle;
        } else {
            high = middle - 1;
        }
    }
    (low > 0).then(|| read(low))
}

/// Total weight at a past time `t_s` (seconds after genesis), from the history points.
pub fn total_weight_at(state: &impl StateRead, t_s: u64) -> u128 {
    let epochs: u64 = state.get(KEY_EPOCH).unwrap_or(0);
    last_point_at(state, epochs, history_key, t_s)
        .map_or(0, |point| advance(state, point, t_s, |_| {}).bias)
}

/// An account's weight at a past time `t_s`, from its history points.
pub fn weight_at(state: &impl StateRead, account: &AccountId, t_s: u64) -> u128 {
    let epochs: u64 = state.get(&user_epoch_key(account)).unwrap_or(0);
    last_point_at(state, epochs, |n| user_history_key(account, n), t_s)
        .map_or(0, |point| point.at(t_s))
}

/// Records a change of one account's line from `old` to `new` (either may be absent) at `now`.
fn checkpoint(
    state: &mut Overlay<'_>,
    account: &AccountId,
    old: Option<&Lock>,
    new: Option<&Lock>,
    now: u64,
) {
    let point = advance(state, global(state), now.max(global(state).ts_s), |_| {});
    let old_slope = old.filter(|l| l.end_s > now).map_or(0, |l| l.slope);
    let new_slope = new.filter(|l| l.end_s > now).map_or(0, |l| l.slope);
    let old_bias = old.map_or(0, |l| l.weight_at(now));
    let new_bias = new.map_or(0, |l| l.weight_at(now));
    let point = Point {
        bias: point.bias - old_bias + new_bias,
        slope: point.slope - old_slope + new_slope,
        ts_s: now,
    };
    // A lock's slope leaves the total at its end: the change recorded there is −slope.
    if let Some(old) = old.filter(|l| l.end_s > now) {
        add_slope_change(state, old.end_s, i128::try_from(old.slope).expect("fits"));
    }
    if let Some(new) = new.filter(|l| l.end_s > now) {
        add_slope_change(state, new.end_s, -i128::try_from(new.slope).expect("fits"));
    }
    state.put(KEY_GLOBAL.to_vec(), &point);
    push_history(state, point);

    let user_epoch: u64 = state.get(&user_epoch_key(account)).unwrap_or(0) + 1;
    state.put(user_epoch_key(account), &user_epoch);
    state.put(
        user_history_key(account, user_epoch),
        &Point {
            bias: new_bias,
            slope: new_slope,
            ts_s: now,
        },
    );
}

fn unlock_time(message_week: u32, now: u64) -> Result<u64, TxError> {
    let end_s = u64::from(message_week) * WEEK_S;
    if end_s < now + WEEK_S {
        return Err(TxError::InvalidLock(format!(
            "unlock week {message_week} is less than a week away"
        )));
    }
    if end_s > now + MAX_LOCK_S {
        return Err(TxError::InvalidLock(format!(
            "unlock week {message_week} is more than T_max ({MAX_LOCK_S} s) away"
        )));
    }
    Ok(end_s)
}

/// `VeLock`: a new lock.
pub fn execute_lock(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &VeLock,
) -> Result<(), TxError> {
    let now = elapsed_s(state);
    if let Some(existing) = lock(state, sender) {
        return Err(TxError::InvalidLock(format!(
            "account already has a lock of {} until {} s; increase or extend it",
            crate::repricing::shown(state, existing.amount),
            existing.end_s
        )));
    }
    let min = params(state).min_lock;
    if message.amount < min {
        return Err(TxError::InvalidLock(format!(
            "a new lock needs at least {} VCAI",
            crate::repricing::shown_up(state, min).to_decimal(Denom::Vcai)
        )));
    }
    let end_s = unlock_time(message.unlock_week, now)?;
    crate::rewards::settle(state, sender);
    bank::transfer(state, sender, &ve_account(), Denom::Vcai, message.amount)?;
    let new = Lock {
        amount: message.amount,
        end_s,
        slope: slope_of(message.amount),
    };
    checkpoint(state, sender, None, Some(&new), now);
    state.put(lock_key(sender), &new);
    crate::rewards::record_line(state, sender, Some(&new));
    state.emit(Event::VeLocked {
        account: *sender,
        amount: new.amount,
        end_s,
    });
    Ok(())
}

fn live_lock(state: &Overlay<'_>, sender: &AccountId, now: u64) -> Result<Lock, TxError> {
    let existing = lock(state, sender)
        .ok_or_else(|| TxError::NotFound(format!("account {sender} has no lock")))?;
    if existing.end_s <= now {
        return Err(TxError::InvalidLock(
            "the lock has expired; withdraw it first".into(),
        ));
    }
    Ok(existing)
}

/// `VeIncrease`: more VCAI in the existing lock, same unlock time.
pub(crate) fn execute_increase(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &VeIncrease,
) -> Result<(), TxError> {
    let now = elapsed_s(state);
    let old = live_lock(state, sender, now)?;
    crate::rewards::settle(state, sender);
    bank::transfer(state, sender, &ve_account(), Denom::Vcai, message.amount)?;
    let amount = old.amount.checked_add(message.amount)?;
    let new = Lock {
        amount,
        end_s: old.end_s,
        slope: slope_of(amount),
    };
    checkpoint(state, sender, Some(&old), Some(&new), now);
    state.put(lock_key(sender), &new);
    crate::rewards::record_line(state, sender, Some(&new));
    state.emit(Event::VeLocked {
        account: *sender,
        amount: new.amount,
        end_s: new.end_s,
    });
    Ok(())
}

/// `VeExtend`: a later unlock time, same amount.
pub(crate) fn execute_extend(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &VeExtend,
) -> Result<(), TxError> {
    let now = elapsed_s(state);
    let old = live_lock(state, sender, now)?;
    let end_s = unlock_time(message.unlock_week, now)?;
    if end_s <= old.end_s {
        return Err(TxError::InvalidLock(format!(
            "unlock time {end_s} s does not extend the current {} s",
            old.end_s
        )));
    }
    crate::rewards::settle(state, sender);
    let new = Lock {
        end_s,
        ..old.clone()
    };
    checkpoint(state, sender, Some(&old), Some(&new), now);
    state.put(lock_key(sender), &new);
    crate::rewards::record_line(state, sender, Some(&new));
    state.emit(Event::VeLocked {
        account: *sender,
        amount: new.amount,
        end_s,
    });
    Ok(())
}

/// `VeWithdraw`: the VCAI of an expired lock back to its owner.
pub(crate) fn execute_withdraw(state: &mut Overlay<'_>, sender: &AccountId) -> Result<(), TxError> {
    let now = elapsed_s(state);
    let old = lock(state, sender)
        .ok_or_else(|| TxError::NotFound(format!("account {sender} has no lock")))?;
    if old.end_s > now {
        return Err(TxError::InvalidLock(format!(
            "the lock unlocks at {} s, now is {now} s",
            old.end_s
        )));
    }
    crate::rewards::settle(state, sender);
    checkpoint(state, sender, Some(&old), None, now);
    state.delete(lock_key(sender));
    crate::rewards::record_line(state, sender, None);
    bank::transfer(state, &ve_account(), sender, Denom::Vcai, old.amount)?;
    state.emit(Event::VeWithdrawn {
        account: *sender,
        amount: old.amount,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn isqrt_is_the_floor_square_root(n in any::<u128>()) {
            let r = isqrt(n);
            prop_assert!(r.checked_mul(r).is_some_and(|square| square <= n));
            let next = r + 1;
            prop_assert!(next.checked_mul(next).is_none_or(|square| square > n));
        }
    }

    #[test]
    fn a_one_vcai_lock_for_t_max_weighs_one_vevcai_to_eighteen_decimals() {
        let lock = Lock {
            amount: Amount::whole(1, Denom::Vcai).expect("fits"),
            end_s: MAX_LOCK_S,
            slope: slope_of(Amount::whole(1, Denom::Vcai).expect("fits")),
        };
        let weight = lock.weight_at(0);
        // 10^27 is one veVCAI; the floor of the slope loses less than 10^-18 of it.
        assert!(weight <= WEIGHT_SCALE);
        assert!(WEIGHT_SCALE - weight < WEIGHT_SCALE / 1_000_000_000_000_000_000);
        // 10,000 VCAI for half of T_max: sqrt(10,000) / 2 = 50.
        let big = Amount::whole(10_000, Denom::Vcai).expect("fits");
        let half = Lock {
            amount: big,
            end_s: MAX_LOCK_S / 2,
            slope: slope_of(big),
        };
        let fifty = 50 * WEIGHT_SCALE;
        assert!(
            half.weight_at(0) <= fifty && fifty - half.weight_at(0) < WEIGHT_SCALE / 10u128.pow(15)
        );
    }
}
