//! 256-bit intermediates for 128-bit money math: `a × b / c` and `⌊sqrt(a × b)⌋` never overflow in
//! the middle, so pool and reward formulas can multiply two u128 amounts (rules §1: no floating
//! point; every rounding named).

use crate::Rounding;
use std::cmp::Ordering;

/// `a × b` as (high, low) 128-bit halves.
pub fn mul(a: u128, b: u128) -> (u128, u128) {
    const MASK: u128 = u64::MAX as u128;
    let (a_hi, a_lo) = (a >> 64, a & MASK);
    let (b_hi, b_lo) = (b >> 64, b & MASK);
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    let middle = (lo_lo >> 64) + (hi_lo & MASK) + (lo_hi & MASK);
    let low = (middle << 64) | (lo_lo & MASK);
    let high = hi_hi + (hi_lo >> 64) + (lo_hi >> 64) + (middle >> 64);
    (high, low)
}

/// Compares two 256-bit numbers given as (high, low).
fn compare(a: (u128, u128), b: (u128, u128)) -> Ordering {
    a.0.cmp(&b.0).then(a.1.cmp(&b.1))
}

/// `a × b / c`, rounded as named; `None` if `c` is zero or the result exceeds 128 bits.
pub fn mul_div(a: u128, b: u128, c: u128, rounding: Rounding) -> Option<u128> {
    if c == 0 {
        return None;
    }
    let (high, low) = mul(a, b);
    if high == 0 {
        // The common case: the product fits 128 bits, so native division is exact.
        let quotient = low / c;
        return match rounding {
            Rounding::Up if low % c > 0 => quotient.checked_add(1),
            _ => Some(quotient),
        };
    }
    if high >= c {
        return None; // the quotient would need more than 128 bits
    }
    // Long division of (high, low) by c, one bit at a time; `remainder < c` throughout.
    let mut remainder = high;
    let mut quotient = 0u128;
    for bit in (0..128).rev() {
        let carry = remainder >> 127;
        remainder = (remainder << 1) | ((low >> bit) & 1);
        quotient <<= 1;
        if carry == 1 || remainder >= c {
            remainder = remainder.wrapping_sub(c);
            quotient |= 1;
        }
    }
    match rounding {
        Rounding::Up if remainder > 0 => quotient.checked_add(1),
        _ => Some(quotient),
    }
}

/// `⌊sqrt(a × b)⌋` (always fits 128 bits).
pub fn sqrt_product(a: u128, b: u128) -> u128 {
    let target = mul(a, b);
    let (mut low, mut high) = (0u128, u128::MAX);
    while low < high {
        let middle = low + (high - low).div_ceil(2);
        if compare(mul(middle, middle), target) == Ordering::Greater {
            high = middle - 1;
        } else {
            low = middle;
        }
    }
    low
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn extremes() {
        assert_eq!(mul(u128::MAX, u128::MAX), (u128::MAX - 1, 1));
        assert_eq!(
            mul_div(u128::MAX, u128::MAX, u128::MAX, Rounding::Down),
            Some(u128::MAX)
        );
        assert_eq!(mul_div(u128::MAX, 2, 1, Rounding::Down), None);
        assert_eq!(mul_div(7, 3, 2, Rounding::Down), Some(10));
        assert_eq!(mul_div(7, 3, 2, Rounding::Up), Some(11));
        assert_eq!(mul_div(1, 1, 0, Rounding::Down), None);
        assert_eq!(sqrt_product(u128::MAX, u128::MAX), u128::MAX);
        assert_eq!(sqrt_product(10u128.pow(28), 10u128.pow(16)), 10u128.pow(22));
    }

    proptest! {
        #[test]
        fn mul_div_matches_128_bit_math_where_it_fits(a in any::<u64>(), b in any::<u64>(), c in 1u128..) {
            let exact = u128::from(a) * u128::from(b);
            prop_assert_eq!(mul_div(u128::from(a), u128::from(b), c, Rounding::Down), Some(exact / c));
            let up = exact / c + u128::from(exact % c != 0);
            prop_assert_eq!(mul_div(u128::from(a), u128::from(b), c, Rounding::Up), Some(up));
        }

        #[test]
        fn mul_div_inverts_mul(a in any::<u128>(), b in 1u128..) {
            prop_assert_eq!(mul_div(a, b, b, Rounding::Down), Some(a));
        }

        #[test]
        fn sqrt_product_is_the_floor_root(a in any::<u128>(), b in any::<u128>()) {
            let root = sqrt_product(a, b);
            prop_assert!(compare(mul(root, root), mul(a, b)) != Ordering::Greater);
            if root < u128::MAX {
                prop_assert!(compare(mul(root + 1, root + 1), mul(a, b)) == Ordering::Greater);
            }
        }
    }
}

/// An unsigned 256-bit integer for accumulators whose products outgrow u128. Only the
/// operations the ledger needs, all checked.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    borsh::BorshSerialize,
    borsh::BorshDeserialize,
)]
pub struct U256 {
    /// High 128 bits (compared first).
    pub high: u128,
    /// Low 128 bits.
    pub low: u128,
}

impl U256 {
    /// Zero.
    pub const ZERO: U256 = U256 { high: 0, low: 0 };

    /// From a u128.
    pub const fn from_u128(value: u128) -> U256 {
        U256 {
            high: 0,
            low: value,
        }
    }

    /// `self + other`, `None` on overflow.
    pub fn checked_add(self, other: U256) -> Option<U256> {
        let (low, carry) = self.low.overflowing_add(other.low);
        let high = self
            .high
            .checked_add(other.high)?
            .checked_add(u128::from(carry))?;
        Some(U256 { high, low })
    }

    /// `self − other`, `None` if negative.
    pub fn checked_sub(self, other: U256) -> Option<U256> {
        let (low, borrow) = self.low.overflowing_sub(other.low);
        let high = self
            .high
            .checked_sub(other.high)?
            .checked_sub(u128::from(borrow))?;
        Some(U256 { high, low })
    }

    /// `self × factor`, `None` on overflow.
    pub fn checked_mul_u128(self, factor: u128) -> Option<U256> {
        let (low_high, low_low) = mul(self.low, factor);
        let (high_high, high_low) = mul(self.high, factor);
        if high_high != 0 {
            return None;
        }
        let high = high_low.checked_add(low_high)?;
        Some(U256 { high, low: low_low })
    }

    /// `⌊self / divisor⌋` and the remainder; `None` for a zero divisor.
    pub fn div_rem_u128(self, divisor: u128) -> Option<(U256, u128)> {
        if divisor == 0 {
            return None;
        }
        let high = self.high / divisor;
        let mut remainder = self.high % divisor;
        let mut low = 0u128;
        for bit in (0..128).rev() {
            let carry = remainder >> 127;
            remainder = (remainder << 1) | ((self.low >> bit) & 1);
            low <<= 1;
            if carry == 1 || remainder >= divisor {
                remainder = remainder.wrapping_sub(divisor);
                low |= 1;
            }
        }
        Some((U256 { high, low }, remainder))
    }

    /// The value if it fits u128.
    pub fn to_u128(self) -> Option<u128> {
        (self.high == 0).then_some(self.low)
    }

    /// Decimal digits, for people and JSON.
    pub fn to_decimal(self) -> String {
        if self.high == 0 {
            return self.low.to_string();
        }
        let mut digits = Vec::new();
        let mut value = self;
        while value != U256::ZERO {
            let (quotient, remainder) = value.div_rem_u128(10).expect("ten is not zero");
            digits.push(char::from(b'0' + remainder as u8));
            value = quotient;
        }
        digits.iter().rev().collect()
    }
}

#[cfg(test)]
mod u256_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arithmetic_matches_u128_where_it_fits(a in any::<u64>(), b in any::<u64>(), d in 1u128..) {
            let (a, b) = (u128::from(a), u128::from(b));
            let wide = U256::from_u128(a).checked_mul_u128(b).expect("fits");
            prop_assert_eq!(wide.to_u128(), Some(a * b));
            let (q, r) = wide.div_rem_u128(d).expect("nonzero");
            prop_assert_eq!((q.to_u128(), r), (Some(a * b / d), a * b % d));
            prop_assert_eq!(wide.checked_add(U256::from_u128(a)).and_then(U256::to_u128), Some(a * b + a));
            prop_assert_eq!(wide.checked_sub(U256::from_u128(a * b)), Some(U256::ZERO));
        }

        #[test]
        fn multiply_then_divide_round_trips(a in any::<u128>(), b in 1u128..) {
            let product = U256::from_u128(a).checked_mul_u128(b).expect("fits 256 bits");
            let (q, r) = product.div_rem_u128(b).expect("nonzero");
            prop_assert_eq!((q, r), (U256::from_u128(a), 0));
            prop_assert_eq!(product, { let (high, low) = mul(a, b); U256 { high, low } });
        }
    }

    #[test]
    fn decimal() {
        let big = U256::from_u128(u128::MAX)
            .checked_add(U256::from_u128(1))
            .expect("fits");
        assert_eq!(big.to_decimal(), "340282366920938463463374607431768211456");
        assert_eq!(U256::from_u128(42).to_decimal(), "42");
        assert_eq!(U256::ZERO.checked_sub(U256::from_u128(1)), None);
    }
}
