//! The VCAI unit scale: how many nominal VCAI base units one ledger base unit is worth
//! (whitepaper §3.7.3 "Protocol Repricing", rules §9; docs/governance.md, "Repricing").
//!
//! The ledger keeps every VCAI quantity (balances, locks, stakes, escrows, pool reserves, vote
//! weights, parameters) in one internal unit that never changes. What people see and send is the
//! nominal unit: internal × `numerator / denominator`. A repricing proposal multiplies the scale
//! by a ratio, so it is one write however many accounts exist, and since the internal quantities
//! do not move, nobody's share of anything changes and the supply invariant is untouched.
//!
//! Conversions name their rounding. The ledger rounds what it shows and what it is asked to pay
//! down, and the minimums a sender demands (slippage bounds) up, so a conversion never lets a
//! transaction take more than its sender signed for or accept less than they asked.

use crate::{Amount, AmountError, Rounding};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The largest numerator or denominator a scale may reach (in lowest terms). It keeps the nominal
/// unit within twelve orders of magnitude of the genesis unit either way, far from both the
/// 128-bit ceiling and a nominal base unit too coarse to pay a fee-sized amount.
pub const MAX_SCALE_TERM: u64 = 1_000_000_000_000;

/// The largest ratio one repricing may apply, either way (a 1000-for-1 split or a 1-for-1000
/// consolidation).
pub const MAX_REPRICING_RATIO: u64 = 1_000;

/// Nominal VCAI base units per internal base unit, as a fraction in lowest terms.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct Scale {
    /// Nominal units per `denominator` internal units.
    pub numerator: u64,
    /// Internal units per `numerator` nominal units.
    pub denominator: u64,
}

impl Default for Scale {
    fn default() -> Scale {
        Scale::ONE
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Scale {
    /// The genesis scale: nominal and internal units are the same.
    pub const ONE: Scale = Scale {
        numerator: 1,
        denominator: 1,
    };

    /// True for the genesis scale, where no conversion is needed.
    pub fn is_one(&self) -> bool {
        self.numerator == self.denominator
    }

    /// This scale multiplied by `numerator / denominator`, in lowest terms; `None` if a term is
    /// zero or the result has a term above [`MAX_SCALE_TERM`].
    pub fn then(&self, numerator: u64, denominator: u64) -> Option<Scale> {
        if numerator == 0 || denominator == 0 || self.numerator == 0 || self.denominator == 0 {
            return None;
        }
        // Cross-reduce first so the products stay small.
        let left = gcd(self.numerator, denominator);
        let right = gcd(numerator, self.denominator);
        let top = (self.numerator / left).checked_mul(numerator / right)?;
        let bottom = (self.denominator / right).checked_mul(denominator / left)?;
        let common = gcd(top, bottom);
        let scale = Scale {
            numerator: top / common,
            denominator: bottom / common,
        };
        (scale.numerator <= MAX_SCALE_TERM && scale.denominator <= MAX_SCALE_TERM).then_some(scale)
    }

    /// `internal` ledger units in nominal units.
    pub fn to_nominal(&self, internal: Amount, rounding: Rounding) -> Result<Amount, AmountError> {
        if self.is_one() {
            return Ok(internal);
        }
        internal.mul_div(
            u128::from(self.numerator),
            u128::from(self.denominator),
            rounding,
        )
    }

    /// `nominal` units in internal ledger units.
    pub fn to_internal(&self, nominal: Amount, rounding: Rounding) -> Result<Amount, AmountError> {
        if self.is_one() {
            return Ok(nominal);
        }
        nominal.mul_div(
            u128::from(self.denominator),
            u128::from(self.numerator),
            rounding,
        )
    }

    /// What a view shows for `internal` units: nominal, rounded down. Saturates instead of failing
    /// (a repricing is refused if the nominal supply would not fit, so no held quantity reaches
    /// it).
    pub fn shown(&self, internal: Amount) -> Amount {
        self.to_nominal(internal, Rounding::Down)
            .unwrap_or(Amount::new(u128::MAX))
    }

    /// What a view shows for a requirement or a charge the ledger enforces in `internal` units
    /// (a minimum stake, lock or deposit): nominal, rounded up, so that sending the shown figure
    /// back (converted down, or up for a stake) always meets it. Saturates like [`Scale::shown`].
    pub fn shown_up(&self, internal: Amount) -> Amount {
        self.to_nominal(internal, Rounding::Up)
            .unwrap_or(Amount::new(u128::MAX))
    }

    /// [`Scale::shown`] for a vote weight, which counts VCAI base units (times a fixed factor) and
    /// so scales with them.
    pub fn shown_weight(&self, internal: u128) -> u128 {
        self.shown(Amount::new(internal)).base_units()
    }

    /// [`Scale::shown_up`] for a weight threshold.
    pub fn shown_weight_up(&self, internal: u128) -> u128 {
        self.shown_up(Amount::new(internal)).base_units()
    }

    /// What a view shows for a price per internal VCAI unit (USD base units per VCAI base unit,
    /// times any fixed factor): the price per nominal unit, rounded down. A split divides it.
    pub fn shown_price(&self, internal: u128) -> u128 {
        if self.is_one() {
            return internal;
        }
        crate::wide::mul_div(
            internal,
            u128::from(self.denominator),
            u128::from(self.numerator),
            Rounding::Down,
        )
        .unwrap_or(u128::MAX)
    }

    /// A vote weight given in nominal terms, in internal terms, rounded up (weights in messages
    /// are thresholds).
    pub fn weight_to_internal(&self, nominal: u128) -> Result<u128, AmountError> {
        self.to_internal(Amount::new(nominal), Rounding::Up)
            .map(Amount::base_units)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn then_composes_in_lowest_terms() {
        let split = Scale::ONE.then(10, 1).expect("fits");
        assert_eq!(
            split,
            Scale {
                numerator: 10,
                denominator: 1
            }
        );
        let back = split.then(1, 10).expect("fits");
        assert!(back.is_one());
        assert_eq!(back, Scale::ONE);
        let odd = split.then(3, 4).expect("fits");
        assert_eq!(
            odd,
            Scale {
                numerator: 15,
                denominator: 2
            }
        );
        assert_eq!(Scale::ONE.then(0, 1), None);
        assert_eq!(Scale::ONE.then(1, 0), None);
        let big = Scale::ONE.then(MAX_SCALE_TERM, 1).expect("at the bound");
        assert_eq!(big.then(2, 1), None);
        assert_eq!(big.then(2, 2), Some(big));
    }

    #[test]
    fn conversions_round_as_named() {
        let scale = Scale {
            numerator: 3,
            denominator: 2,
        };
        assert_eq!(
            scale.to_nominal(Amount::new(5), Rounding::Down),
            Ok(Amount::new(7))
        );
        assert_eq!(
            scale.to_nominal(Amount::new(5), Rounding::Up),
            Ok(Amount::new(8))
        );
        assert_eq!(
            scale.to_internal(Amount::new(7), Rounding::Down),
            Ok(Amount::new(4))
        );
        assert_eq!(
            scale.to_internal(Amount::new(7), Rounding::Up),
            Ok(Amount::new(5))
        );
        assert_eq!(scale.shown(Amount::new(u128::MAX)), Amount::new(u128::MAX));
        assert_eq!(Scale::ONE.shown(Amount::new(9)), Amount::new(9));
        assert_eq!(scale.shown_price(10), 6);
        assert_eq!(scale.shown_weight(5), 7);
        assert_eq!(scale.weight_to_internal(7), Ok(5));
    }

    #[test]
    fn a_requirement_shown_up_and_sent_back_is_met() {
        // Down for a lock or a payment, up for a stake: either meets the internal requirement.
        for (numerator, denominator) in [(3, 2), (2, 3), (7, 1000), (1000, 7), (10, 1), (1, 10)] {
            let scale = Scale {
                numerator,
                denominator,
            };
            for required in 0..300u128 {
                let shown = scale.shown_up(Amount::new(required));
                for rounding in [Rounding::Down, Rounding::Up] {
                    let back = scale.to_internal(shown, rounding).expect("fits");
                    assert!(back >= Amount::new(required), "{scale} {required}");
                }
            }
        }
    }

    #[test]
    fn a_sender_never_gets_less_than_a_minimum_converted_up() {
        // Receiving the internal amount a minimum converts to (rounded up) shows at least the
        // minimum, for any scale.
        for (numerator, denominator) in [(3, 2), (2, 3), (7, 1000), (1000, 7), (1, 1)] {
            let scale = Scale {
                numerator,
                denominator,
            };
            for minimum in 0..200u128 {
                let internal = scale
                    .to_internal(Amount::new(minimum), Rounding::Up)
                    .expect("fits");
                assert!(scale.shown(internal) >= Amount::new(minimum));
                let spent = scale
                    .to_internal(Amount::new(minimum), Rounding::Down)
                    .expect("fits");
                assert!(scale.shown(spent) <= Amount::new(minimum));
            }
        }
    }
}
