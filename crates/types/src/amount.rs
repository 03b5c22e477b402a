//! Money: `Amount(u128)` in base units of one [`Denom`] (rules §1).
//!
//! There are no `+`, `-`, `*` or `/` operators on purpose: every operation is checked and returns
//! a `Result`, and every division names its [`Rounding`] so that a reader can see which side a
//! remainder falls on. The protocol rounds in its own favour: what it pays out rounds down, what
//! it charges rounds up.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The two denominations of the network.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[borsh(use_discriminant = true)]
pub enum Denom {
    /// The governance and value-capture token, 18 decimals.
    Vcai = 0,
    /// The settlement stablecoin (USDC-like), 6 decimals.
    Usd = 1,
}

impl Denom {
    /// Every denomination, in a fixed order.
    pub const ALL: [Denom; 2] = [Denom::Vcai, Denom::Usd];

    /// Decimal places of one whole unit.
    pub const fn decimals(self) -> u32 {
        match self {
            Denom::Vcai => 18,
            Denom::Usd => 6,
        }
    }

    /// Base units in one whole unit (10^decimals).
    pub const fn one(self) -> u128 {
        10u128.pow(self.decimals())
    }

    /// The other denomination of the VCAI/USD pair.
    pub const fn other(self) -> Denom {
        match self {
            Denom::Vcai => Denom::Usd,
            Denom::Usd => Denom::Vcai,
        }
    }

    /// The lowercase code used in keys, JSON and on the command line.
    pub const fn code(self) -> &'static str {
        match self {
            Denom::Vcai => "vcai",
            Denom::Usd => "usd",
        }
    }
}

impl fmt::Display for Denom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Denom {
    type Err = AmountError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "vcai" => Ok(Denom::Vcai),
            "usd" | "usdc" => Ok(Denom::Usd),
            _ => Err(AmountError::UnknownDenom(text.to_string())),
        }
    }
}

/// Which way a division's remainder goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Towards zero: use for what the protocol pays out.
    Down,
    /// Away from zero: use for what the protocol charges.
    Up,
}

/// Why an amount operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// The result does not fit in 128 bits.
    #[error("amount overflow")]
    Overflow,
    /// A subtraction would go below zero.
    #[error("amount underflow: {minuend} - {subtrahend}")]
    Underflow {
        /// Left operand, base units.
        minuend: u128,
        /// Right operand, base units.
        subtrahend: u128,
    },
    /// Division by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// Text that is not a decimal amount.
    #[error("invalid amount {text:?}: {reason}")]
    Parse {
        /// The input.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A denomination code we do not know.
    #[error("unknown denomination {0:?} (expected vcai or usd)")]
    UnknownDenom(String),
}

/// A quantity of one denomination, in base units.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Amount(u128);

impl Amount {
    /// Nothing.
    pub const ZERO: Amount = Amount(0);

    /// An amount of `base_units`.
    pub const fn new(base_units: u128) -> Amount {
        Amount(base_units)
    }

    /// `whole` whole units of `denom` (e.g. `Amount::whole(5, Denom::Usd)` is 5,000,000 base units).
    pub fn whole(whole: u128, denom: Denom) -> Result<Amount, AmountError> {
        whole
            .checked_mul(denom.one())
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }

    /// The number of base units.
    pub const fn base_units(self) -> u128 {
        self.0
    }

    /// True for zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`, or an error on overflow.
    pub fn checked_add(self, other: Amount) -> Result<Amount, AmountError> {
        self.0
            .checked_add(other.0)
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }

    /// `self - other`, or an error if `other > self`.
    pub fn checked_sub(self, other: Amount) -> Result<Amount, AmountError> {
        self.0
            .checked_sub(other.0)
            .map(Amount)
            .ok_or(AmountError::Underflow {
                minuend: self.0,
                subtrahend: other.0,
            })
    }

    /// `self × numerator / denominator`, rounded as named, with a 256-bit intermediate product.
    /// Errors if the result exceeds 128 bits or the denominator is zero.
    pub fn mul_div(
        self,
        numerator: u128,
        denominator: u128,
        rounding: Rounding,
    ) -> Result<Amount, AmountError> {
        if denominator == 0 {
            return Err(AmountError::DivisionByZero);
        }
        crate::wide::mul_div(self.0, numerator, denominator, rounding)
            .map(Amount)
            .ok_or(AmountError::Overflow)
    }

    /// Parses a decimal amount of whole units ("12", "0.5", "1_000.25") into base units. More
    /// fractional digits than the denomination has is an error, not a silent truncation.
    pub fn parse_decimal(text: &str, denom: Denom) -> Result<Amount, AmountError> {
        let error = |reason| AmountError::Parse {
            text: text.to_string(),
            reason,
        };
        let cleaned: String = text.trim().chars().filter(|c| *c != '_').collect();
        if cleaned.is_empty() {
            return Err(error("empty"));
        }
        let (whole_text, fraction_text) = match cleaned.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (cleaned.as_str(), ""),
        };
        if whole_text.is_empty() && fraction_text.is_empty() {
            return Err(error("no digits"));
        }
        let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if !all_digits(whole_text) || !all_digits(fraction_text) {
            return Err(error("only digits, one '.' and '_' are allowed"));
        }
        if fraction_text.len() > denom.decimals() as usize {
            return Err(error("more decimal places than the denomination has"));
        }
        let whole: u128 = if whole_text.is_empty() {
            0
        } else {
            whole_text.parse().map_err(|_| error("too large"))?
        };
        let mut fraction: u128 = 0;
        for digit in fraction_text.chars() {
            fraction = fraction * 10 + u128::from(digit.to_digit(10).expect("checked digit"));
        }
        let scale = 10u128.pow(denom.decimals() - fraction_text.len() as u32);
        let base = whole
            .checked_mul(denom.one())
            .and_then(|w| w.checked_add(fraction * scale))
            .ok_or_else(|| error("too large"))?;
        Ok(Amount(base))
    }

    /// Formats as a decimal number of whole units with no trailing fractional zeros ("12.5").
    pub fn to_decimal(self, denom: Denom) -> String {
        let one = denom.one();
        let whole = self.0 / one;
        let fraction = self.0 % one;
        if fraction == 0 {
            return whole.to_string();
        }
        let digits = format!("{:0width$}", fraction, width = denom.decimals() as usize);
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.0)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// JSON carries amounts as decimal strings of base units: u128 does not fit a JSON number.
impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        text.parse::<u128>()
            .map(Amount)
            .map_err(|_| serde::de::Error::custom(format!("invalid base-unit amount {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn denominations_have_spec_decimals() {
        assert_eq!(Denom::Vcai.one(), 1_000_000_000_000_000_000);
        assert_eq!(Denom::Usd.one(), 1_000_000);
    }

    #[test]
    fn parses_and_formats_decimals() {
        let amount = Amount::parse_decimal("12.5", Denom::Usd).expect("valid");
        assert_eq!(amount.base_units(), 12_500_000);
        assert_eq!(amount.to_decimal(Denom::Usd), "12.5");
        assert_eq!(
            Amount::parse_decimal("1_000", Denom::Vcai)
                .expect("valid")
                .base_units(),
            1_000 * Denom::Vcai.one()
        );
        assert_eq!(
            Amount::parse_decimal(".000001", Denom::Usd)
                .expect("valid")
                .base_units(),
            1
        );
        assert!(Amount::parse_decimal("0.0000001", Denom::Usd).is_err());
        assert!(Amount::parse_decimal("-1", Denom::Usd).is_err());
        assert!(Amount::parse_decimal("1.2.3", Denom::Usd).is_err());
        assert!(Amount::parse_decimal("", Denom::Usd).is_err());
        assert!(Amount::parse_decimal(".", Denom::Usd).is_err());
        assert!(Amount::parse_decimal("1e5", Denom::Usd).is_err());
        assert!(Amount::parse_decimal("999999999999999999999999", Denom::Vcai).is_err());
    }

    #[test]
    fn checked_arithmetic_reports_errors() {
        assert_eq!(
            Amount::new(u128::MAX).checked_add(Amount::new(1)),
            Err(AmountError::Overflow)
        );
        assert!(matches!(
            Amount::new(1).checked_sub(Amount::new(2)),
            Err(AmountError::Underflow { .. })
        ));
        assert_eq!(
            Amount::new(1).mul_div(1, 0, Rounding::Down),
            Err(AmountError::DivisionByZero)
        );
    }

    #[test]
    fn rounding_is_named() {
        let ten = Amount::new(10);
        assert_eq!(ten.mul_div(1, 3, Rounding::Down), Ok(Amount::new(3)));
        assert_eq!(ten.mul_div(1, 3, Rounding::Up), Ok(Amount::new(4)));
        assert_eq!(ten.mul_div(3, 3, Rounding::Up), Ok(Amount::new(10)));
    }

    #[test]
    fn json_is_a_string_of_base_units() {
        let json = serde_json::to_string(&Amount::new(u128::MAX)).expect("serializes");
        assert_eq!(json, format!("\"{}\"", u128::MAX));
        let back: Amount = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, Amount::new(u128::MAX));
        assert!(serde_json::from_str::<Amount>("\"-5\"").is_err());
    }

    proptest! {
        #[test]
        fn decimal_round_trip(base in any::<u128>(), usd in any::<bool>()) {
            let denom = if usd { Denom::Usd } else { Denom::Vcai };
            let amount = Amount::new(base);
            let text = amount.to_decimal(denom);
            prop_assert_eq!(Amount::parse_decimal(&text, denom), Ok(amount));
        }

        #[test]
        fn add_then_sub_is_identity(a in any::<u128>(), b in any::<u128>()) {
            let (a, b) = (Amount::new(a), Amount::new(b));
            match a.checked_add(b) {
                Ok(sum) => prop_assert_eq!(sum.checked_sub(b), Ok(a)),
                Err(error) => {
                    prop_assert_eq!(error, AmountError::Overflow);
                    prop_assert!(a.base_units().checked_add(b.base_units()).is_none());
                }
            }
        }

        #[test]
        fn rounding_brackets_the_exact_quotient(
            a in 0u128..(1u128 << 100), n in 0u128..(1u128 << 20), d in 1u128..(1u128 << 20)
        ) {
            let down = Amount::new(a).mul_div(n, d, Rounding::Down).expect("fits").base_units();
            let up = Amount::new(a).mul_div(n, d, Rounding::Up).expect("fits").base_units();
            prop_assert!(down * d <= a * n);
            prop_assert!(up * d >= a * n);
            prop_assert!(up - down <= 1);
        }
    }
}
