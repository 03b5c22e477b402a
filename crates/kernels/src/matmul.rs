//! Dense matrix multiply, C = A × B, in f64. Input: text `N SEED` (1 <= N <= 1024); A and B are
//! N × N with entries drawn uniformly from [-1, 1) by [`Generator`](crate::Generator) seeded with
//! SEED (A first, row-major, then B). Output: C row-major as little-endian f64, 8 × N² bytes.

use crate::{bad, number, words, Generator, InputError};

/// Largest N.
pub const MAX_N: usize = 1024;

/// The two input matrices for `n` and `seed`.
pub fn matrices(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut generator = Generator::new(seed);
    let mut draw = || {
        // 53 random bits to [0, 1), then to [-1, 1): exact in f64.
        let unit = (generator.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit * 2.0 - 1.0
    };
    let a = (0..n * n).map(|_| draw()).collect();
    let b = (0..n * n).map(|_| draw()).collect();
    (a, b)
}

/// C = A × B for square `n` × `n` row-major matrices: i-k-j order (streams rows of B), four rows
/// of C at a time so each loaded element of B serves four multiply-adds. Every C[i][j] still sums
/// its products in k order, so the result is the plain triple loop's, bit for bit.
pub fn multiply(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    let mut rows = c.chunks_exact_mut(n);
    let mut i = 0;
    while i + 4 <= n {
        let (Some(c0), Some(c1), Some(c2), Some(c3)) =
            (rows.next(), rows.next(), rows.next(), rows.next())
        else {
            break;
        };
        for k in 0..n {
            let (a0, a1, a2, a3) = (
                a[i * n + k],
                a[(i + 1) * n + k],
                a[(i + 2) * n + k],
                a[(i + 3) * n + k],
            );
            let b_row = &b[k * n..(k + 1) * n];
            for ((((out0, out1), out2), out3), value) in c0
                .iter_mut()
                .zip(c1.iter_mut())
                .zip(c2.iter_mut())
                .zip(c3.iter_mut())
                .zip(b_row)
            {
                *out0 += a0 * value;
                *out1 += a1 * value;
                *out2 += a2 * value;
                *out3 += a3 * value;
            }
        }
        i += 4;
    }
    for row in rows {
        for k in 0..n {
            let scale = a[i * n + k];
            let b_row = &b[k * n..(k + 1) * n];
            for (out, value) in row.iter_mut().zip(b_row) {
                *out += scale * value;
            }
        }
        i += 1;
    }
    c
}

/// The plain triple loop, for the tests.
#[cfg(test)]
fn naive(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let mut sum = 0.0;
            for k in 0..n {
                sum += a[i * n + k] * b[k * n + j];
            }
            c[i * n + j] = sum;
        }
    }
    c
}

/// The whole workload: input text to output bytes.
pub fn run(input: &[u8]) -> Result<Vec<u8>, InputError> {
    let words = words(input)?;
    let n: usize = number(words.first(), "N")?;
    let seed: u64 = number(words.get(1), "SEED")?;
    if n == 0 || n > MAX_N {
        return Err(bad(format!("N must be 1 to {MAX_N}, not {n}")));
    }
    let (a, b) = matrices(n, seed);
    Ok(multiply(&a, &b, n)
        .iter()
        .flat_map(|value| value.to_le_bytes())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_small_product() {
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0, 7.0, 8.0];
        assert_eq!(multiply(&a, &b, 2), vec![19.0, 22.0, 43.0, 50.0]);
        let identity = [1.0, 0.0, 0.0, 1.0];
        assert_eq!(multiply(&a, &identity, 2), a.to_vec());
    }

    #[test]
    fn blocked_equals_the_plain_loop_bit_for_bit() {
        for n in [1, 3, 4, 5, 8, 13] {
            let (a, b) = matrices(n, n as u64);
            let blocked = multiply(&a, &b, n);
            let plain = naive(&a, &b, n);
            assert_eq!(
                blocked.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                plain.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "n = {n}"
            );
        }
    }

    #[test]
    fn output_size_and_refusals() {
        assert_eq!(run(b"3 7").map(|out| out.len()), Ok(72));
        assert!(run(b"0 1").is_err());
        assert!(run(b"2000 1").is_err());
        assert!(run(b"x 1").is_err());
        assert!(run(b"3").is_err());
    }
}
