//! The one hash function of the protocol: BLAKE3 (256-bit output) over a one-byte domain tag
//! followed by the message.
//!
//! Every hashed structure has its own tag, so that a transaction can never be confused with a
//! block header or a Merkle node even when their bytes coincide. The tags are part of the
//! protocol; never reuse or renumber one.
//!
//! | tag | what is hashed |
//! |---|---|
//! | 0x01 | a signed transaction's canonical bytes (the transaction id) |
//! | 0x02 | a block header's canonical bytes (the block id) |
//! | 0x03 | a state key (the sparse Merkle tree path) |
//! | 0x04 | a state value |
//! | 0x05 | a sparse Merkle tree leaf: key hash ‖ value hash |
//! | 0x06 | a sparse Merkle tree internal node: left ‖ right |
//! | 0x07 | a list Merkle tree leaf (transaction and receipt roots) |
//! | 0x08 | a list Merkle tree internal node |
//! | 0x09 | the random beacon chain: previous beacon ‖ previous commit certificate |
//! | 0x0a | a receipt's canonical bytes |
//! | 0x0b | a module account's name (accounts no key controls) |
//! | 0x0c | a genesis document's canonical JSON (the genesis id a data directory is bound to) |
//! | 0x0d | a blob's bytes: its content address (WASM modules, task outputs) |
//! | 0x0e | a task's result commitment (what a compute node signs into `SubmitResult`) |
//! | 0x0f | an owner's signed request to a compute node (fetching outputs and logs) |
//! | 0x10 | a task's deterministic random seed: job id ‖ task index |
//! | 0x11 | a side of a capacity dispute: `pass` or `fail` |
//! | 0x12 | a capacity challenge's seed: beacon ‖ node ‖ challenge id |
//! | 0x13 | a capacity matrix's generator key: seed ‖ device ‖ `A` or `B` |
//! | 0x14 | a row of a capacity product (the leaves of a device's commitment) |
//! | 0x15 | a sampling draw: beacon ‖ what is drawn for (tasks, verifiers, referees, timings) |

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Domain tags; see the module table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Domain {
    /// Transaction id.
    Transaction = 0x01,
    /// Block header id.
    BlockHeader = 0x02,
    /// State key path.
    StateKey = 0x03,
    /// State value.
    StateValue = 0x04,
    /// Sparse Merkle leaf.
    SparseLeaf = 0x05,
    /// Sparse Merkle internal node.
    SparseInternal = 0x06,
    /// List Merkle leaf.
    ListLeaf = 0x07,
    /// List Merkle internal node.
    ListInternal = 0x08,
    /// Random beacon chain.
    Beacon = 0x09,
    /// Receipt.
    Receipt = 0x0a,
    /// Module account name.
    ModuleAccount = 0x0b,
    /// Genesis document.
    Genesis = 0x0c,
    /// Content address of a blob.
    Content = 0x0d,
    /// Task result commitment.
    TaskResult = 0x0e,
    /// Owner's signed request to a compute node.
    OwnerRequest = 0x0f,
    /// A task's random seed.
    TaskSeed = 0x10,
    /// A side of a capacity dispute.
    CapacityClaim = 0x11,
    /// A capacity challenge's seed.
    CapacitySeed = 0x12,
    /// A capacity matrix generator key.
    CapacityMatrix = 0x13,
    /// A row of a capacity product.
    CapacityRow = 0x14,
    /// A sampling draw from the beacon.
    Draw = 0x15,
    /// A governance proposal's id: its number, proposer and contents.
    Proposal = 0x16,
}

/// A 32-byte BLAKE3 digest.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, BorshSerialize, BorshDeserialize,
)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero hash: the root of an empty tree, the parent of the genesis block.
    pub const ZERO: Hash = Hash([0u8; 32]);

    /// Hashes `parts`, concatenated, under `domain`.
    pub fn of(domain: Domain, parts: &[&[u8]]) -> Hash {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&[domain as u8]);
        for part in parts {
            hasher.update(part);
        }
        Hash(*hasher.finalize().as_bytes())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        lower_hex(&self.0)
    }

    /// Parses 64 hex characters (an optional `0x` prefix is accepted).
    pub fn from_hex(text: &str) -> Result<Hash, crate::IdError> {
        let text = text.strip_prefix("0x").unwrap_or(text);
        let bytes = hex::decode(text).map_err(|_| crate::IdError::NotHex)?;
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| crate::IdError::WrongLength { expected: 32 })?;
        Ok(Hash(array))
    }

    /// Bit `index` (0 = most significant bit of the first byte): the path in a sparse Merkle tree.
    pub fn bit(&self, index: u32) -> bool {
        let byte = self.0[(index / 8) as usize];
        (byte >> (7 - (index % 8))) & 1 == 1
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        Hash::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// Lowercase hex of 32 bytes, without an iterator per character: state keys embed account hex,
/// so this sits on every ledger hot path.
pub(crate) fn lower_hex(bytes: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (index, byte) in bytes.iter().enumerate() {
        out[2 * index] = DIGITS[usize::from(byte >> 4)];
        out[2 * index + 1] = DIGITS[usize::from(byte & 0x0f)];
    }
    String::from_utf8(out.to_vec()).expect("hex digits are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_separate_identical_bytes() {
        let a = Hash::of(Domain::Transaction, &[b"same"]);
        let b = Hash::of(Domain::BlockHeader, &[b"same"]);
        assert_ne!(a, b);
    }

    #[test]
    fn parts_are_concatenated() {
        assert_eq!(
            Hash::of(Domain::StateKey, &[b"ab", b"c"]),
            Hash::of(Domain::StateKey, &[b"abc"])
        );
    }

    #[test]
    fn bits_read_most_significant_first() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0b1000_0001;
        bytes[1] = 0b0100_0000;
        let hash = Hash(bytes);
        assert!(hash.bit(0));
        assert!(!hash.bit(1));
        assert!(hash.bit(7));
        assert!(hash.bit(9));
        assert!(!hash.bit(255));
    }

    #[test]
    fn hex_round_trip() {
        let hash = Hash::of(Domain::Receipt, &[b"x"]);
        assert_eq!(Hash::from_hex(&hash.to_hex()).expect("valid hex"), hash);
        assert!(Hash::from_hex("zz").is_err());
        assert!(Hash::from_hex("abcd").is_err());
    }
}
