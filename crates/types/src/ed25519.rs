//! Ed25519 signature validity under the ZIP-215 rules, one at a time or in batches that agree
//! exactly (docs/protocol.md, "Signatures").
//!
//! RFC 8032 leaves edge cases open, and common implementations disagree on them: `verify_strict`
//! refuses non-canonical point encodings and small-order points, and a batch check with the
//! usual cofactorless equation can accept a signature that the single check refuses. A
//! blockchain cannot live with that: a validator that batches and one that does not would
//! disagree on a block. ZIP-215 (Zcash; also Penumbra and Malachite through `ed25519-consensus`)
//! fixes every case so that single and batch verification accept exactly the same signatures:
//!
//! - the key `A` and the commitment `R` are any 32 bytes that decode to a curve point, canonical
//!   or not (the high bit is the sign of x, y may be ≥ p, and "−0" decodes to 0);
//! - the scalar `s` must be canonical (s < ℓ);
//! - the challenge is `k = SHA-512(R bytes ‖ A bytes ‖ message) mod ℓ`, over the bytes as given;
//! - the signature is valid iff `[8]([s]B − R − [k]A)` is the identity (the cofactored equation).
//!
//! A batch checks `[8]([−Σ zᵢsᵢ]B + Σ [zᵢ]Rᵢ + Σ [zᵢkᵢ]Aᵢ) = 0` with 128-bit coefficients `zᵢ`.
//! Because both sides multiply by the cofactor, a small-order error term that a single check
//! forgives is forgiven by the batch too, and one that it refuses survives into the sum unless
//! the coefficients cancel it. Our coefficients are derived by hashing the whole batch (BLAKE3)
//! rather than drawn from the OS: the answer is then the same on every validator and never
//! depends on a random source, and an attacker who wants a cancellation must find a batch whose
//! own hash cancels it, a 2^-128 event per try.
//!
//! Signature validity is one rule; whether a key may own an account is another. The ledger also
//! refuses small-order sender keys (anyone can sign for them), before any signature is checked, so
//! that rule is the same whether a transaction is checked alone or in a batch.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};
use std::collections::HashMap;
use std::sync::Mutex;

/// A signature to check: the signer's key, the message and the signature, as bytes.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// The public key (32 bytes, any point encoding).
    pub public_key: &'a [u8; 32],
    /// The signed message.
    pub message: &'a [u8],
    /// R ‖ s.
    pub signature: &'a [u8; 64],
}

/// A signature decoded into the terms of the verification equation.
struct Terms {
    key: EdwardsPoint,
    commitment: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

fn decode_key(public_key: &[u8; 32]) -> Option<EdwardsPoint> {
    CompressedEdwardsY(*public_key).decompress()
}

/// [`decode`] with the key already decoded (from `item.public_key`).
fn decode_with(item: &Item<'_>, key: EdwardsPoint) -> Option<Terms> {
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&item.signature[..32]);
    let commitment = CompressedEdwardsY(r_bytes).decompress()?;
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&item.signature[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))?;
    let mut hasher = Sha512::new();
    hasher.update(r_bytes);
    hasher.update(item.public_key);
    hasher.update(item.message);
    let k = Scalar::from_bytes_mod_order_wide(&hasher.finalize().into());
    Some(Terms {
        key,
        commitment,
        s,
        k,
    })
}

/// Decoded public keys by their bytes. Decoding a point (a square root in the field) costs
/// about a sixth of a batched signature check, the sender rule and the check itself each need
/// the key, and a chain sees the same senders again and again. Decoding is a function of the
/// 32 bytes alone, so a remembered point is exactly the point decoding would give: the cache
/// changes no answer. Bounded: when full it starts over.
#[derive(Debug)]
pub struct KeyCache {
    points: Mutex<HashMap<[u8; 32], Option<EdwardsPoint>>>,
    capacity: usize,
}

impl KeyCache {
    /// A cache of at most `capacity` keys.
    pub fn new(capacity: usize) -> KeyCache {
        KeyCache {
            points: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// Each key's point (`None`: not a point), decoding only those not remembered.
    pub fn decode(&self, keys: &[&[u8; 32]]) -> Vec<Option<EdwardsPoint>> {
        let lock = || {
            self.points
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
        };
        let mut points = Vec::with_capacity(keys.len());
        let mut missing = Vec::new();
        {
            let remembered = lock();
            for (index, key) in keys.iter().enumerate() {
                match remembered.get(*key) {
                    Some(point) => points.push(*point),
                    None => {
                        points.push(None);
                        missing.push(index);
                    }
                }
            }
        }
        if missing.is_empty() {
            return points;
        }
        // Decoded outside the lock; a key repeated in this call is decoded once.
        let mut fresh: HashMap<[u8; 32], Option<EdwardsPoint>> = HashMap::new();
        for index in missing {
            let key = keys[index];
            points[index] = *fresh.entry(*key).or_insert_with(|| decode_key(key));
        }
        let mut remembered = lock();
        if remembered.len() + fresh.len() > self.capacity {
            remembered.clear();
        }
        if fresh.len() <= self.capacity {
            remembered.extend(fresh);
        }
        points
    }
}

/// Whether `item` is a valid signature under ZIP-215.
pub fn verify(item: &Item<'_>) -> bool {
    decode_key(item.public_key).is_some_and(|key| verify_with(item, key))
}

/// [`verify`] with the key already decoded (from `item.public_key`).
fn verify_with(item: &Item<'_>, key: EdwardsPoint) -> bool {
    let Some(terms) = decode_with(item, key) else {
        return false;
    };
    // [s]B − [k]A − R, then the cofactor.
    let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(&-terms.k, &terms.key, &terms.s)
        - terms.commitment;
    check.mul_by_cofactor().is_identity()
}

/// Whether every item is valid, checked as one batch: the same answer as [`verify`] on each
/// (ZIP-215), in about half the time for large batches. An empty batch is valid.
pub fn verify_batch(items: &[Item<'_>]) -> bool {
    let keys: Option<Vec<EdwardsPoint>> = items
        .iter()
        .map(|item| decode_key(item.public_key))
        .collect();
    keys.is_some_and(|keys| verify_batch_with(items, &keys))
}

/// [`verify_batch`] with each item's key already decoded.
fn verify_batch_with(items: &[Item<'_>], keys: &[EdwardsPoint]) -> bool {
    let mut decoded = Vec::with_capacity(items.len());
    for (item, key) in items.iter().zip(keys) {
        match decode_with(item, *key) {
            Some(terms) => decoded.push(terms),
            None => return false,
        }
    }
    // Coefficients bound to the whole batch: a transcript hash, then one 128-bit value per item.
    let mut transcript = blake3::Hasher::new();
    transcript.update(b"vcity/ed25519-batch/v1");
    transcript.update(&(items.len() as u64).to_le_bytes());
    for (item, terms) in items.iter().zip(&decoded) {
        transcript.update(item.public_key);
        transcript.update(item.signature);
        transcript.update(terms.k.as_bytes());
    }
    let mut stream = transcript.finalize_xof();
    let mut basepoint = Scalar::ZERO;
    let mut scalars = Vec::with_capacity(2 * decoded.len() + 1);
    let mut points = Vec::with_capacity(2 * decoded.len() + 1);
    for terms in &decoded {
        let mut bytes = [0u8; 32];
        stream.fill(&mut bytes[..16]);
        let z = Scalar::from_bytes_mod_order(bytes);
        basepoint -= z * terms.s;
        scalars.push(z);
        points.push(terms.commitment);
        scalars.push(z * terms.k);
        points.push(terms.key);
    }
    scalars.push(basepoint);
    points.push(ED25519_BASEPOINT_POINT);
    EdwardsPoint::vartime_multiscalar_mul(scalars, points)
        .mul_by_cofactor()
        .is_identity()
}

/// Each item's validity, checked in batches of `batch` and, where a batch fails, in eighths of
/// it, down to single checks: the same answers as [`verify`] on each, fastest when nearly all
/// are valid. One bad signature in a batch of 256 costs about two batches' work to find.
pub fn verify_each(items: &[Item<'_>], batch: usize) -> Vec<bool> {
    let keys: Vec<Option<EdwardsPoint>> = items
        .iter()
        .map(|item| decode_key(item.public_key))
        .collect();
    verify_each_with(items, &keys, batch)
}

/// [`verify_each`] with each item's key already decoded (`keys[i]` from `items[i].public_key`,
/// e.g. by a [`KeyCache`]; `None` where it is not a point).
pub fn verify_each_with(
    items: &[Item<'_>],
    keys: &[Option<EdwardsPoint>],
    batch: usize,
) -> Vec<bool> {
    assert_eq!(items.len(), keys.len(), "one decoded key per item");
    let mut valid = Vec::with_capacity(items.len());
    let batch = batch.max(1);
    for (chunk, chunk_keys) in items.chunks(batch).zip(keys.chunks(batch)) {
        let all: Option<Vec<EdwardsPoint>> = chunk_keys.iter().copied().collect();
        if all.is_some_and(|all| verify_batch_with(chunk, &all)) {
            valid.extend(std::iter::repeat_n(true, chunk.len()));
        } else if chunk.len() > FALLBACK_SINGLES {
            valid.extend(verify_each_with(chunk, chunk_keys, chunk.len().div_ceil(8)));
        } else {
            valid.extend(
                chunk
                    .iter()
                    .zip(chunk_keys)
                    .map(|(item, key)| key.is_some_and(|key| verify_with(item, key))),
            );
        }
    }
    valid
}

/// A failed batch this small is settled one signature at a time.
const FALLBACK_SINGLES: usize = 8;

/// Whether `public_key` may own an account: it decodes to a curve point, and not one of small
/// order (anyone can sign for those).
pub fn is_usable_key(public_key: &[u8; 32]) -> bool {
    is_usable_point(decode_key(public_key))
}

/// [`is_usable_key`] for a key already decoded (`None`: not a point).
pub fn is_usable_point(point: Option<EdwardsPoint>) -> bool {
    point.is_some_and(|point| !point.is_small_order())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn signed(seed: u8, message: &[u8]) -> ([u8; 32], [u8; 64]) {
        let key = SigningKey::from_bytes(&[seed; 32]);
        (key.verifying_key().to_bytes(), key.sign(message).to_bytes())
    }

    struct Vector {
        kind: String,
        public_key: [u8; 32],
        signature: [u8; 64],
        message: Vec<u8>,
        zip215: bool,
        strict: bool,
    }

    fn vectors() -> Vec<Vector> {
        include_str!("../fixtures/zip215/vectors.txt")
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| {
                let fields: Vec<&str> = line.split(' ').collect();
                let bytes = |index: usize| hex::decode(fields[index]).expect("hex");
                Vector {
                    kind: fields[0].to_string(),
                    public_key: bytes(1).try_into().expect("32 bytes"),
                    signature: bytes(2).try_into().expect("64 bytes"),
                    message: bytes(3),
                    zip215: fields[4] == "1",
                    strict: fields[5] == "1",
                }
            })
            .collect()
    }

    fn item(vector: &Vector) -> Item<'_> {
        Item {
            public_key: &vector.public_key,
            message: &vector.message,
            signature: &vector.signature,
        }
    }

    #[test]
    fn zip215_vectors_get_the_reference_answer_alone_and_in_every_batch() {
        let vectors = vectors();
        assert_eq!(vectors.len(), 248);
        assert_eq!(
            vectors.iter().filter(|v| v.kind == "small_order").count(),
            196
        );
        for vector in &vectors {
            let item = item(vector);
            assert_eq!(verify(&item), vector.zip215, "{}", vector.kind);
            assert_eq!(verify_batch(&[item]), vector.zip215, "{}", vector.kind);
            // What verify_strict, the rule before ZIP-215, said of it.
            let strict =
                ed25519_dalek::VerifyingKey::from_bytes(&vector.public_key).is_ok_and(|key| {
                    key.verify_strict(
                        &vector.message,
                        &ed25519_dalek::Signature::from_bytes(&vector.signature),
                    )
                    .is_ok()
                });
            assert_eq!(strict, vector.strict, "{}", vector.kind);
        }
        // Every valid one together, and everything together with the invalid ones found exactly.
        let valid: Vec<Item<'_>> = vectors.iter().filter(|v| v.zip215).map(item).collect();
        assert_eq!(valid.len(), 230);
        assert!(verify_batch(&valid));
        let all: Vec<Item<'_>> = vectors.iter().map(item).collect();
        assert!(!verify_batch(&all));
        let expected: Vec<bool> = vectors.iter().map(|v| v.zip215).collect();
        assert_eq!(verify_each(&all, 64), expected);
        // With the keys from a cache: the same answers cold and warm (an undecodable key is
        // remembered as such).
        let keys = KeyCache::new(1_000);
        for _ in 0..2 {
            let decoded = keys.decode(&all.iter().map(|item| item.public_key).collect::<Vec<_>>());
            for batch in [1, 9, 64, 256] {
                assert_eq!(verify_each_with(&all, &decoded, batch), expected);
            }
        }
        // The small-order keys are what the ledger's sender rule refuses.
        for vector in vectors.iter().filter(|v| v.kind.starts_with("small_order")) {
            assert!(!is_usable_key(&vector.public_key));
        }
    }

    fn as_items<'a>(
        signatures: &'a [([u8; 32], [u8; 64])],
        messages: &'a [Vec<u8>],
    ) -> Vec<Item<'a>> {
        signatures
            .iter()
            .zip(messages)
            .map(|((key, signature), message)| Item {
                public_key: key,
                message,
                signature,
            })
            .collect()
    }

    #[test]
    fn ordinary_signatures_verify_alone_and_in_batches_and_tampering_is_caught() {
        let messages: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 1 + i as usize]).collect();
        let signatures: Vec<([u8; 32], [u8; 64])> = messages
            .iter()
            .enumerate()
            .map(|(i, message)| signed(i as u8 + 1, message))
            .collect();
        let items = as_items(&signatures, &messages);
        assert!(items.iter().all(verify));
        assert!(verify_batch(&items));
        assert!(verify_batch(&[]));

        // One changed message bit, one changed s, one s pushed past ℓ.
        let mut bad = signatures.clone();
        bad[7].1[40] ^= 1;
        let mut high = bad[20].1;
        high[63] |= 0xf0;
        bad[20].1 = high;
        let other_message = b"not what was signed".to_vec();
        let mut items = as_items(&bad, &messages);
        items[33].message = &other_message;
        assert!(!verify_batch(&items));
        let each = verify_each(&items, 16);
        let expected: Vec<bool> = items.iter().map(verify).collect();
        assert_eq!(each, expected);
        let refused: Vec<usize> = (0..items.len()).filter(|i| !each[*i]).collect();
        assert_eq!(refused, [7, 20, 33]);
    }
}
