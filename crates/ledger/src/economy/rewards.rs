//! The distributor (rules §8): streams each buyback's VCAI over the next interval, per block, to
//! vote-escrow lockers pro rata to their weight at that block, exactly, at a cost per block and per
//! claim that does not depend on the number of lockers.
//!
//! A lock's weight is a line, `w_u(t) = s_u·(e_u − t)` for `t < e_u`, so an account's share of
//! block k's release `r_k` is `r_k·w_u(t_k)/W_k = s_u·(e_u·r_k/W_k − r_k·t_k/W_k)`. Two global
//! accumulators, `A = Σ r_k·P/W_k` (rounded down) and `B = Σ r_k·t_k·P/W_k` (rounded up), give every
//! account's reward between two moments as `s_u·(e_u·ΔA − ΔB)/P` (rounded down): O(1) per block and
//! per claim (anchors-econ.md §1.2.5). Locks end only on week boundaries, and `begin_block` records
//! `(A, B)` at each boundary before the first block past it, so an expired lock's reward stops
//! exactly at its end. The rounding directions make every computed reward at most its exact value:
//! the sum of claims never exceeds what was released, and the dust stays in the distributor
//! account, visible.
//!
//! A block with no weight at all releases nothing: its share is carried to the next block with
//! weight (rules §8). Before any lock changes (lock, increase, extend, withdraw) the vote-escrow
//! component settles the account here, so no reward is lost or computed on the wrong line.
//!
//! Keys (owned here): `rewards/state` (accumulators, cursor, stream, carry, totals: one value, so
//! a block reads and writes it once), `rewards/snap/{time, 12 digits}`, `rewards/user/{hex}`.

use crate::bank;
use crate::error::TxError;
use crate::state::{decode_value, Overlay, StateRead};
use crate::ve::{self, WEEK_S};
use crate::vesting::elapsed_s;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use vcity_types::event::Event;
use vcity_types::wide::U256;
use vcity_types::{AccountId, Amount, Denom, Rounding};

/// Accumulator precision.
pub const PRECISION: u128 = 100_000_000_000_000_000_000_000_000_000_000_000_000;

/// Holds bought VCAI until claimed.
pub fn distributor_account() -> AccountId {
    AccountId::module("distributor")
}

/// The two accumulators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Accumulators {
    /// Σ r·P/W, rounded down.
    pub a: U256,
    /// Σ r·t·P/W, rounded up.
    pub b: U256,
}

/// An account's position in the accumulators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct UserRewards {
    /// Accumulators when last settled.
    pub at: Accumulators,
    /// Settled, unclaimed VCAI scaled by [`PRECISION`]: kept unrounded so that settling often
    /// (every lock change) loses nothing; only a claim rounds, and its remainder stays here.
    pub pending_scaled: U256,
    /// The account's weight line as the vote escrow last reported it (slope 0: no lock). Kept
    /// here so that a claim reads one record, not two.
    pub line: Line,
}

/// A lock's weight line, `slope·(end − t)` before `end`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Line {
    /// Weight lost per second.
    pub slope: u128,
    /// End, seconds after genesis.
    pub end_s: u64,
}

/// The VCAI being released over the current interval.
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
pub struct Stream {
    /// VCAI to release.
    pub amount: Amount,
    /// Start, seconds after genesis.
    pub start_s: u64,
    /// Length.
    pub duration_s: u64,
    /// Released so far.
    pub released: Amount,
}

impl Stream {
    fn due(&self, now_s: u64) -> Amount {
        if self.duration_s == 0 {
            return self
                .amount
                .checked_sub(self.released)
                .unwrap_or(Amount::ZERO);
        }
        let elapsed = now_s.saturating_sub(self.start_s).min(self.duration_s);
        self.amount
            .mul_div(
                u128::from(elapsed),
                u128::from(self.duration_s),
                Rounding::Down,
            )
            .expect("a fraction of an amount fits")
            .checked_sub(self.released)
            .unwrap_or(Amount::ZERO)
    }

    /// Not yet released.
    pub fn remaining(&self) -> Amount {
        self.amount
            .checked_sub(self.released)
            .unwrap_or(Amount::ZERO)
    }
}

/// Running totals, for audits.
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
pub struct Totals {
    /// Released to lockers through the accumulators.
    pub distributed: Amount,
    /// Claimed by lockers.
    pub claimed: Amount,
}

/// Everything the distributor keeps per chain, in one value so a block reads and writes it once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Distributor {
    /// The accumulators.
    pub acc: Accumulators,
    /// The last block time processed, seconds after genesis.
    pub cursor_s: u64,
    /// The stream being released.
    pub stream: Stream,
    /// Released while the total weight was zero, waiting for a block with weight.
    pub carry: Amount,
    /// Running totals.
    pub totals: Totals,
}

const KEY_STATE: &[u8] = b"rewards/state";

fn snap_key(t_s: u64) -> Vec<u8> {
    format!("rewards/snap/{t_s:012}").into_bytes()
}

/// The key of `account`'s rewards position.
pub fn user_key(account: &AccountId) -> Vec<u8> {
    format!("rewards/user/{}", account.to_hex()).into_bytes()
}

/// The distributor's state.
pub fn distributor(state: &impl StateRead) -> Distributor {
    state.get(KEY_STATE).unwrap_or_default()
}

/// The accumulators now.
pub fn accumulators(state: &impl StateRead) -> Accumulators {
    distributor(state).acc
}

/// The current stream.
pub fn stream(state: &impl StateRead) -> Stream {
    distributor(state).stream
}

/// VCAI carried over from blocks without weight.
pub fn carry(state: &impl StateRead) -> Amount {
    distributor(state).carry
}

/// Totals.
pub fn totals(state: &impl StateRead) -> Totals {
    distributor(state).totals
}

fn user(state: &impl StateRead, account: &AccountId) -> UserRewards {
    state.get(&user_key(account)).unwrap_or_default()
}

/// Starts streaming `amount` (plus whatever the previous stream has not released) over
/// `duration_s` from `start_s`. Called by the treasury at each buyback interval.
pub fn start_stream(state: &mut Overlay<'_>, amount: Amount, start_s: u64, duration_s: u64) {
    let mut current = distributor(state);
    let total = amount
        .checked_add(current.stream.remaining())
        .expect("streamed VCAI is part of the supply");
    current.stream = Stream {
        amount: total,
        start_s,
        duration_s,
        released: Amount::ZERO,
    };
    state.put(KEY_STATE.to_vec(), &current);
}

/// `begin_block`, after the vote escrow and the treasury: records the accumulators at the week
/// boundaries passed, then releases this block's share of the stream to the current weights.
/// One read and one write of the distributor's state, plus one write per week boundary crossed.
pub fn begin_block(state: &mut Overlay<'_>) {
    let now = elapsed_s(state);
    let mut current = distributor(state);
    let mut boundary = (current.cursor_s / WEEK_S + 1) * WEEK_S;
    while boundary <= now {
        state.put(snap_key(boundary), &current.acc);
        boundary += WEEK_S;
    }
    current.cursor_s = now;
    let due = current.stream.due(now);
    current.stream.released = current.stream.released.checked_add(due).expect("fits");
    let release = due.checked_add(current.carry).expect("fits");
    if !release.is_zero() {
        let weight = ve::total_weight(state);
        if weight == 0 {
            current.carry = release;
        } else {
            current.carry = Amount::ZERO;
            current.acc = accumulate(current.acc, release.base_units(), now, weight);
            current.totals.distributed = current
                .totals
                .distributed
                .checked_add(release)
                .expect("fits");
        }
    }
    state.put(KEY_STATE.to_vec(), &current);
}

/// `A += ⌊r·P/W⌋`, `B += ⌈r·t·P/W⌉`.
fn accumulate(acc: Accumulators, r: u128, now: u64, weight: u128) -> Accumulators {
    let (a_step, _) = U256::from_u128(r)
        .checked_mul_u128(PRECISION)
        .and_then(|x| x.div_rem_u128(weight))
        .expect("r·P fits 256 bits");
    let (b_step, remainder) =
        U256::from_u128(r.checked_mul(u128::from(now)).expect("r·t fits u128"))
            .checked_mul_u128(PRECISION)
            .and_then(|x| x.div_rem_u128(weight))
            .expect("r·t·P fits 256 bits");
    let b_step = if remainder > 0 {
        b_step.checked_add(U256::from_u128(1)).expect("fits")
    } else {
        b_step
    };
    Accumulators {
        a: acc
            .a
            .checked_add(a_step)
            .expect("accumulator A fits 256 bits"),
        b: acc
            .b
            .checked_add(b_step)
            .expect("accumulator B fits 256 bits"),
    }
}

/// What a lock earned between `from` and `to`, scaled by [`PRECISION`] (not rounded).
fn earned_scaled(lock: &Line, from: &Accumulators, to: &Accumulators) -> U256 {
    let (Some(delta_a), Some(delta_b)) = (to.a.checked_sub(from.a), to.b.checked_sub(from.b))
    else {
        return U256::ZERO;
    };
    delta_a
        .checked_mul_u128(u128::from(lock.end_s))
        .expect("e·ΔA fits 256 bits")
        .checked_sub(delta_b)
        // Rounding can make a tiny share negative; it is then zero, never paid from others.
        .unwrap_or(U256::ZERO)
        .checked_mul_u128(lock.slope)
        .expect("s·(e·ΔA − ΔB) fits 256 bits")
}

/// The accumulators a lock earns up to `now`: `acc` while it runs, the snapshot at its end after.
fn earned_until(state: &impl StateRead, lock: &Line, acc: Accumulators, now: u64) -> Accumulators {
    if now < lock.end_s {
        acc
    } else {
        state.get(&snap_key(lock.end_s)).unwrap_or(acc)
    }
}

fn unscale(scaled: U256) -> (Amount, U256) {
    let (whole, remainder) = scaled
        .div_rem_u128(PRECISION)
        .expect("precision is not zero");
    (
        Amount::new(whole.to_u128().expect("a reward fits u128")),
        U256::from_u128(remainder),
    )
}

/// The account's position brought up to now with its current lock (not written).
fn settled(
    state: &impl StateRead,
    account: &AccountId,
    acc: Accumulators,
    now: u64,
) -> UserRewards {
    settled_position(state, user(state, account), acc, now)
}

/// `position` brought up to `acc` at `now`.
fn settled_position(
    state: &impl StateRead,
    mut position: UserRewards,
    acc: Accumulators,
    now: u64,
) -> UserRewards {
    let lock = position.line;
    if lock.slope > 0 {
        let until = earned_until(state, &lock, acc, now);
        let gained = earned_scaled(&lock, &position.at, &until);
        position.pending_scaled = position
            .pending_scaled
            .checked_add(gained)
            .expect("pending fits 256 bits");
    }
    position.at = acc;
    position
}

/// Brings the account's pending rewards up to now with its current lock. Called before any
/// change to the lock.
pub(crate) fn settle(state: &mut Overlay<'_>, account: &AccountId) {
    let position = settled(state, account, accumulators(state), elapsed_s(state));
    state.put(user_key(account), &position);
}

/// Records the account's new line after the vote escrow changed its lock (right after
/// [`settle`], in the same transaction).
pub(crate) fn record_line(state: &mut Overlay<'_>, account: &AccountId, lock: Option<&ve::Lock>) {
    let mut position = user(state, account);
    position.line = lock.map_or(Line::default(), |lock| Line {
        slope: lock.slope,
        end_s: lock.end_s,
    });
    state.put(user_key(account), &position);
}

/// Claimable now (settled plus accrued, rounded down), without writing.
pub fn claimable(state: &impl StateRead, account: &AccountId) -> Amount {
    let position = settled(state, account, accumulators(state), elapsed_s(state));
    unscale(position.pending_scaled).0
}

/// `ClaimRewards`.
pub fn execute_claim(state: &mut Overlay<'_>, sender: &AccountId) -> Result<(), TxError> {
    // The claimant's record and VCAI balance are the claim's only reads likely to be cold (the
    // distributor's are read every block): read them together so their memory latencies
    // overlap (the bank's own read of the balance below then finds it cached). They come first
    // so that the distributor's read and decode, which do not depend on them, run while their
    // misses are outstanding.
    let key = user_key(sender);
    let (position, _) = state.get_raw_pair(&key, &bank::balance_key(sender, Denom::Vcai));
    let mut current = distributor(state);
    let position = position
        .map(|bytes| decode_value(&key, bytes))
        .unwrap_or_default();
    let mut position = settled_position(state, position, current.acc, elapsed_s(state));
    let (amount, remainder) = unscale(position.pending_scaled);
    if amount.is_zero() {
        return Err(TxError::NothingToClaim(
            "no rewards accrued since the last claim".into(),
        ));
    }
    position.pending_scaled = remainder;
    state.put(key, &position);
    current.totals.claimed = current.totals.claimed.checked_add(amount)?;
    assert!(
        current.totals.claimed <= current.totals.distributed,
        "invariant broken: claims exceed what the distributor released"
    );
    state.put(KEY_STATE.to_vec(), &current);
    bank::transfer(state, &distributor_account(), sender, Denom::Vcai, amount)?;
    state.emit(Event::RewardsClaimed {
        account: *sender,
        amount,
    });
    Ok(())
}
