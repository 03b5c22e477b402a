//! The capacity-challenge kernel (docs/verification.md, "Capacity challenges"): what a challenged
//! compute node computes and what a verifier checks, in one place so both sides agree.
//!
//! For device `d` of challenge seed `s`, the matrices `A` and `B` are `n × n` signed bytes read
//! from BLAKE3's extendable output keyed by `H(0x13 ‖ s ‖ d ‖ "A"|"B")`, row after row. The node
//! computes `C = A·B` exactly (each entry a 32-bit sum of at most 65,536 products of bytes, so
//! no overflow) and commits to the list Merkle root of its row hashes `H(0x14 ‖ i ‖ row_i)`.
//!
//! To check, a verifier draws a secret vector `r` over the prime field `p = 2^61 − 1` and a few
//! row indices, and asks the node for `y = C·r (mod p)` and the rows with their Merkle proofs
//! ([`Opening`]). It accepts when every opened row is under the committed root and agrees with
//! `y` (`row_i · r = y_i`), and `y = A·(B·r)` (Freivalds' check, two matrix-vector products:
//! O(n²) against the product's O(n³)). A row the node did not compute correctly agrees with `y`
//! for a random `r` with probability at most 1/p, so a node that computed a share `f` of the rows
//! passes `k` openings with probability about `f^k`: the node must do the whole product, the
//! verifier does a 2/n fraction of it.

use std::time::Instant;
use vcity_types::hash::Domain;
use vcity_types::merkle::{list_proof, list_root, ListProof};
use vcity_types::Hash;

/// The field's prime, 2^61 − 1.
pub const PRIME: u64 = (1 << 61) - 1;
/// Rows a verifier opens per device.
pub const OPENED_ROWS: usize = 16;

fn reduce(value: u128) -> u64 {
    let folded = (value & u128::from(PRIME)) + (value >> 61);
    let folded = (folded & u128::from(PRIME)) + (folded >> 61);
    let mut result = folded as u64;
    if result >= PRIME {
        result -= PRIME;
    }
    result
}

fn generator(seed: &Hash, device: u32, which: &[u8]) -> blake3::OutputReader {
    let key = Hash::of(
        Domain::CapacityMatrix,
        &[seed.as_bytes(), &device.to_le_bytes(), which],
    );
    blake3::Hasher::new_keyed(&key.0).finalize_xof()
}

/// Row `row` of matrix `which` (`b"A"` or `b"B"`) of device `device`.
pub fn matrix_row(seed: &Hash, device: u32, which: &[u8], n: usize, row: usize) -> Vec<i8> {
    let mut reader = generator(seed, device, which);
    reader.set_position((row * n) as u64);
    let mut bytes = vec![0u8; n];
    reader.fill(&mut bytes);
    bytes.into_iter().map(|byte| byte as i8).collect()
}

/// The whole matrix `which` of device `device`, row-major.
pub fn matrix(seed: &Hash, device: u32, which: &[u8], n: usize) -> Vec<i8> {
    let mut reader = generator(seed, device, which);
    let mut bytes = vec![0u8; n * n];
    reader.fill(&mut bytes);
    bytes.into_iter().map(|byte| byte as i8).collect()
}

/// Row `i` of `C = A·B`, given row `i` of `A` and all of `B`.
pub fn product_row(a_row: &[i8], b: &[i8], n: usize) -> Vec<i32> {
    let mut row = vec![0i32; n];
    for (k, &a) in a_row.iter().enumerate() {
        let a = i32::from(a);
        if a == 0 {
            continue;
        }
        for (sum, &value) in row.iter_mut().zip(&b[k * n..(k + 1) * n]) {
            *sum += a * i32::from(value);
        }
    }
    row
}

/// A row's leaf hash.
pub fn row_hash(index: u32, row: &[i32]) -> Hash {
    let mut bytes = Vec::with_capacity(row.len() * 4);
    for value in row {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    Hash::of(Domain::CapacityRow, &[&index.to_le_bytes(), &bytes])
}

/// What a node keeps of one device's product: its row hashes (rows are recomputed to open them).
#[derive(Debug, Clone, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct DeviceProof {
    /// The device's index in the challenge.
    pub device: u32,
    /// Matrix size.
    pub n: u32,
    /// Each row's hash.
    pub row_hashes: Vec<Hash>,
}

impl DeviceProof {
    /// The committed root.
    pub fn root(&self) -> Hash {
        list_root(&self.row_hashes)
    }
}

/// Computes device `device`'s product with `threads` threads; `None` when `deadline` passes
/// first (the work is abandoned: a late commitment is worth nothing).
pub fn prove_device(
    seed: &Hash,
    device: u32,
    n: usize,
    threads: usize,
    deadline: Option<Instant>,
) -> Option<DeviceProof> {
    let a = matrix(seed, device, b"A", n);
    let b = matrix(seed, device, b"B", n);
    let threads = threads.clamp(1, 64);
    let chunk = n.div_ceil(threads);
    let mut row_hashes = vec![Hash::ZERO; n];
    let finished = std::thread::scope(|scope| {
        let workers: Vec<_> = row_hashes
            .chunks_mut(chunk.max(1))
            .enumerate()
            .map(|(part, out)| {
                let (a, b) = (&a, &b);
                scope.spawn(move || {
                    for (offset, slot) in out.iter_mut().enumerate() {
                        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                            return false;
                        }
                        let index = part * chunk + offset;
                        let row = product_row(&a[index * n..(index + 1) * n], b, n);
                        *slot = row_hash(index as u32, &row);
                    }
                    true
                })
            })
            .collect();
        workers
            .into_iter()
            .all(|worker| worker.join().unwrap_or(false))
    });
    finished.then_some(DeviceProof {
        device,
        n: n as u32,
        row_hashes,
    })
}

/// The verifier's secret vector for `nonce`: `n` field elements.
pub fn challenge_vector(nonce: &Hash, n: usize) -> Vec<u64> {
    let mut reader = blake3::Hasher::new_keyed(&nonce.0).finalize_xof();
    let mut bytes = [0u8; 8];
    (0..n)
        .map(|_| {
            reader.fill(&mut bytes);
            reduce(u128::from(u64::from_le_bytes(bytes)))
        })
        .collect()
}

/// `Σ entry·weight` reduced mod p, for entries of at most 32 bits and weights below p: each term
/// is below 2^93 in size and there are at most 2^16 of them, so a signed 128-bit sum never
/// overflows and needs one reduction at the end.
fn dot<T: Copy + Into<i64>>(entries: &[T], weights: &[u64]) -> u64 {
    let sum: i128 = entries
        .iter()
        .zip(weights)
        .map(|(&entry, &weight)| i128::from(entry.into()) * i128::from(weight))
        .sum();
    u64::try_from(sum.rem_euclid(i128::from(PRIME))).expect("below p")
}

/// `M·v (mod p)` for the matrix `which` of a device, generated row by row (O(n) memory).
fn matrix_times(seed: &Hash, device: u32, which: &[u8], n: usize, vector: &[u64]) -> Vec<u64> {
    let mut reader = generator(seed, device, which);
    let mut bytes = vec![0u8; n];
    let mut row = vec![0i8; n];
    (0..n)
        .map(|_| {
            reader.fill(&mut bytes);
            for (entry, byte) in row.iter_mut().zip(&bytes) {
                *entry = *byte as i8;
            }
            dot(&row, vector)
        })
        .collect()
}

/// `A·(B·r) (mod p)`: what `C·r` must be.
pub fn freivalds(seed: &Hash, device: u32, n: usize, r: &[u64]) -> Vec<u64> {
    let br = matrix_times(seed, device, b"B", n, r);
    matrix_times(seed, device, b"A", n, &br)
}

/// `row · r (mod p)`.
pub fn row_dot(row: &[i32], r: &[u64]) -> u64 {
    dot(row, r)
}

/// What a verifier asks of one device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OpenRequest {
    /// The device's index in the challenge.
    pub device: u32,
    /// Seeds the secret vector `r` ([`challenge_vector`]).
    pub nonce: Hash,
    /// Rows to open.
    pub rows: Vec<u32>,
}

/// One opened row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OpenedRow {
    /// Its index.
    pub index: u32,
    /// Its entries.
    pub row: Vec<i32>,
    /// Its proof under the device's root.
    pub proof: ListProof,
}

/// The node's answer for one device.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Opening {
    /// `C·r (mod p)`.
    pub y: Vec<u64>,
    /// The rows asked for.
    pub rows: Vec<OpenedRow>,
}

/// The node's side: answers `request` from its proof (rows recomputed from the seed).
pub fn open(seed: &Hash, proof: &DeviceProof, request: &OpenRequest) -> Option<Opening> {
    let n = proof.n as usize;
    if request.rows.len() > OPENED_ROWS * 4 || request.rows.iter().any(|row| *row as usize >= n) {
        return None;
    }
    let r = challenge_vector(&request.nonce, n);
    let y = freivalds(seed, proof.device, n, &r);
    let b = matrix(seed, proof.device, b"B", n);
    let rows = request
        .rows
        .iter()
        .map(|&index| {
            let a_row = matrix_row(seed, proof.device, b"A", n, index as usize);
            OpenedRow {
                index,
                row: product_row(&a_row, &b, n),
                proof: list_proof(&proof.row_hashes, index as usize).expect("in range"),
            }
        })
        .collect();
    Some(Opening { y, rows })
}

/// Why a device's proof failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The answer has the wrong shape.
    #[error("malformed opening: {0}")]
    Malformed(String),
    /// An opened row is not under the committed root.
    #[error("row {0} is not under the committed root")]
    NotCommitted(u32),
    /// An opened row disagrees with `y`.
    #[error("row {0} disagrees with C·r")]
    RowMismatch(u32),
    /// `y` is not `A·(B·r)`.
    #[error("C·r is not A·(B·r): the product is wrong")]
    Freivalds,
}

/// The verifier's side: checks `opening` against `root` for the request it sent.
pub fn check(
    seed: &Hash,
    n: usize,
    root: &Hash,
    request: &OpenRequest,
    opening: &Opening,
) -> Result<(), CheckError> {
    if opening.y.len() != n || opening.rows.len() != request.rows.len() {
        return Err(CheckError::Malformed(format!(
            "{} values and {} rows for n = {n} and {} rows asked",
            opening.y.len(),
            opening.rows.len(),
            request.rows.len()
        )));
    }
    let r = challenge_vector(&request.nonce, n);
    for (asked, opened) in request.rows.iter().zip(&opening.rows) {
        if opened.index != *asked || opened.row.len() != n {
            return Err(CheckError::Malformed(format!("row {asked}")));
        }
        let leaf = row_hash(opened.index, &opened.row);
        if !opened.proof.verify(root, &leaf, opened.index as usize, n) {
            return Err(CheckError::NotCommitted(opened.index));
        }
        if row_dot(&opened.row, &r) != opening.y[opened.index as usize] {
            return Err(CheckError::RowMismatch(opened.index));
        }
    }
    if freivalds(seed, request.device, n, &r) != opening.y {
        return Err(CheckError::Freivalds);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Hash {
        Hash::of(Domain::CapacitySeed, &[b"test"])
    }

    fn naive_product(seed: &Hash, n: usize) -> Vec<Vec<i32>> {
        let a = matrix(seed, 0, b"A", n);
        let b = matrix(seed, 0, b"B", n);
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        (0..n)
                            .map(|k| i32::from(a[i * n + k]) * i32::from(b[k * n + j]))
                            .sum()
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn rows_match_a_naive_product_and_generation_is_positional() {
        let n = 24;
        let c = naive_product(&seed(), n);
        let b = matrix(&seed(), 0, b"B", n);
        for (i, expected) in c.iter().enumerate() {
            let a_row = matrix_row(&seed(), 0, b"A", n, i);
            assert_eq!(&product_row(&a_row, &b, n), expected);
        }
        assert_ne!(matrix(&seed(), 0, b"A", n), matrix(&seed(), 1, b"A", n));
    }

    #[test]
    fn an_honest_proof_passes_and_any_forged_row_fails() {
        let n = 32;
        let proof = prove_device(&seed(), 0, n, 3, None).expect("no deadline");
        let root = proof.root();
        let request = OpenRequest {
            device: 0,
            nonce: Hash::of(Domain::Draw, &[b"nonce"]),
            rows: vec![0, 7, 31],
        };
        let opening = open(&seed(), &proof, &request).expect("in range");
        assert_eq!(check(&seed(), n, &root, &request, &opening), Ok(()));

        // A node that committed one wrong row is caught when that row is opened.
        let mut cheat = proof.clone();
        let mut row = product_row(
            &matrix_row(&seed(), 0, b"A", n, 7),
            &matrix(&seed(), 0, b"B", n),
            n,
        );
        row[3] += 1;
        cheat.row_hashes[7] = row_hash(7, &row);
        let cheat_root = cheat.root();
        let mut forged = open(&seed(), &cheat, &request).expect("in range");
        // Opening the true row fails the root; opening the committed one fails C·r.
        assert_eq!(
            check(&seed(), n, &cheat_root, &request, &forged),
            Err(CheckError::NotCommitted(7))
        );
        forged.rows[1].row = row;
        assert_eq!(
            check(&seed(), n, &cheat_root, &request, &forged),
            Err(CheckError::RowMismatch(7))
        );
        // A wrong y fails Freivalds even when the rows agree with it.
        let mut wrong = opening.clone();
        wrong.y[5] = (wrong.y[5] + 1) % PRIME;
        assert_eq!(
            check(&seed(), n, &root, &request, &wrong),
            Err(CheckError::Freivalds)
        );
    }

    #[test]
    fn a_deadline_abandons_the_work() {
        let past = Instant::now();
        assert!(prove_device(&seed(), 0, 64, 2, Some(past)).is_none());
    }

    #[test]
    fn field_arithmetic_reduces_exactly() {
        assert_eq!(reduce(u128::from(PRIME) * u128::from(PRIME)), 0);
        let row = [i32::MIN, i32::MAX, -5];
        let r = [3, PRIME - 1, 7];
        let expected = ((i128::from(i32::MIN) * 3 - i128::from(i32::MAX) - 35)
            .rem_euclid(i128::from(PRIME))) as u64;
        assert_eq!(row_dot(&row, &r), expected);
    }
}
