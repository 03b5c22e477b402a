//! 256-bit intermediates for 128-bit money math: `a × b / c` and `⌊sqrt(a × b)⌋` never overflow in
//! the middle, so pool and reward formulas can multiply two u128 amounts (SPEC §1: no floating
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
