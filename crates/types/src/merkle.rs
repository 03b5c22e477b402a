//! Merkle commitments.
//!
//! **Lists** (transactions, receipts): a binary tree over the items' hashes; leaves are
//! `H(0x07 ‖ item)`, nodes `H(0x08 ‖ left ‖ right)`, an odd node is promoted unchanged, and the
//! empty list's root is [`Hash::ZERO`].
//!
//! **State**: a sparse Merkle tree over 256-bit paths, the design of Diem's Jellyfish Merkle tree
//! reduced to a binary radix (chosen over the `jmt` crate for speed: see ARCHITECTURE.md). A key's
//! path is `H(0x03 ‖ key)`; a leaf is `H(0x05 ‖ path ‖ H(0x04 ‖ value))`; an internal node is
//! `H(0x06 ‖ left ‖ right)`; an empty subtree is [`Hash::ZERO`]. A subtree holding a single leaf
//! is represented by that leaf, at whatever depth, so a tree of n keys is about log2(n) deep.
//! A proof lists the sibling hashes from the root down to where the key's path ends, plus the
//! leaf found there (if any): the key's own leaf proves inclusion; an empty slot or another key's
//! leaf sharing the path prefix proves exclusion. [`SparseProof::verify`] checks both.

use crate::hash::{Domain, Hash};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Root of a list of already-hashed items.
pub fn list_root(items: &[Hash]) -> Hash {
    if items.is_empty() {
        return Hash::ZERO;
    }
    let mut level: Vec<Hash> = items
        .iter()
        .map(|item| Hash::of(Domain::ListLeaf, &[item.as_bytes()]))
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => {
                    Hash::of(Domain::ListInternal, &[left.as_bytes(), right.as_bytes()])
                }
                [single] => *single,
                _ => unreachable!("chunks(2) yields one or two items"),
            })
            .collect();
    }
    level[0]
}

/// Proof that an item sits at an index of a list whose [`list_root`] is known: the siblings
/// from the leaf's level up (a node promoted unchanged at a level has no sibling there, so the
/// list's length tells the verifier where those levels are).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ListProof {
    /// Sibling hashes, bottom up.
    pub siblings: Vec<Hash>,
}

/// The proof for the item at `index` of `items` (already-hashed items, as [`list_root`] takes).
/// `None` when `index` is out of range.
pub fn list_proof(items: &[Hash], index: usize) -> Option<ListProof> {
    if index >= items.len() {
        return None;
    }
    let mut level: Vec<Hash> = items
        .iter()
        .map(|item| Hash::of(Domain::ListLeaf, &[item.as_bytes()]))
        .collect();
    let mut position = index;
    let mut siblings = Vec::new();
    while level.len() > 1 {
        let sibling = position ^ 1;
        if sibling < level.len() {
            siblings.push(level[sibling]);
        }
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => {
                    Hash::of(Domain::ListInternal, &[left.as_bytes(), right.as_bytes()])
                }
                [single] => *single,
                _ => unreachable!("chunks(2) yields one or two items"),
            })
            .collect();
        position /= 2;
    }
    Some(ListProof { siblings })
}

impl ListProof {
    /// Whether `item` (already hashed) is at `index` of a list of `len` items with `root`.
    pub fn verify(&self, root: &Hash, item: &Hash, index: usize, len: usize) -> bool {
        if index >= len {
            return false;
        }
        let mut node = Hash::of(Domain::ListLeaf, &[item.as_bytes()]);
        let mut position = index;
        let mut width = len;
        let mut siblings = self.siblings.iter();
        while width > 1 {
            let sibling = position ^ 1;
            if sibling < width {
                let Some(other) = siblings.next() else {
                    return false;
                };
                node = if position % 2 == 0 {
                    Hash::of(Domain::ListInternal, &[node.as_bytes(), other.as_bytes()])
                } else {
                    Hash::of(Domain::ListInternal, &[other.as_bytes(), node.as_bytes()])
                };
            }
            position /= 2;
            width = width.div_ceil(2);
        }
        siblings.next().is_none() && node == *root
    }
}

/// The path of a state key in the sparse Merkle tree.
pub fn key_path(key: &[u8]) -> Hash {
    Hash::of(Domain::StateKey, &[key])
}

/// The hash of a state value.
pub fn value_hash(value: &[u8]) -> Hash {
    Hash::of(Domain::StateValue, &[value])
}

/// A sparse Merkle leaf.
pub fn leaf_hash(path: &Hash, value_hash: &Hash) -> Hash {
    Hash::of(
        Domain::SparseLeaf,
        &[path.as_bytes(), value_hash.as_bytes()],
    )
}

/// A sparse Merkle internal node.
pub fn internal_hash(left: &Hash, right: &Hash) -> Hash {
    Hash::of(Domain::SparseInternal, &[left.as_bytes(), right.as_bytes()])
}

/// The leaf a proof ends at.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProofLeaf {
    /// The leaf's key path.
    pub path: Hash,
    /// The leaf's value hash.
    pub value_hash: Hash,
}

/// An inclusion or exclusion proof for one key against a state root.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SparseProof {
    /// Sibling hashes from the root's children down to the key's slot (at most 256).
    pub siblings: Vec<Hash>,
    /// The leaf occupying the slot, or `None` for an empty slot.
    pub leaf: Option<ProofLeaf>,
}

/// Why a proof failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// More than 256 siblings.
    #[error("proof is deeper than 256 levels")]
    TooDeep,
    /// The proof's leaf is another key, but the value was claimed present.
    #[error("proof leaf belongs to another key")]
    WrongLeaf,
    /// The leaf is the key's own but its value differs from the claim.
    #[error("proof leaf has a different value")]
    WrongValue,
    /// An exclusion proof whose leaf does not sit on the key's path.
    #[error("exclusion leaf does not share the key's path")]
    NotOnPath,
    /// Recomputed root differs.
    #[error("recomputed root {computed} does not match {expected}")]
    RootMismatch {
        /// From the proof.
        computed: Hash,
        /// Claimed.
        expected: Hash,
    },
}

impl SparseProof {
    /// Checks that under `root`, `key` holds `value` (or is absent when `value` is `None`).
    pub fn verify(&self, root: &Hash, key: &[u8], value: Option<&[u8]>) -> Result<(), ProofError> {
        if self.siblings.len() > 256 {
            return Err(ProofError::TooDeep);
        }
        let path = key_path(key);
        let depth = self.siblings.len() as u32;
        let mut current = match (&self.leaf, value) {
            (Some(leaf), Some(value)) => {
                if leaf.path != path {
                    return Err(ProofError::WrongLeaf);
                }
                if leaf.value_hash != value_hash(value) {
                    return Err(ProofError::WrongValue);
                }
                leaf_hash(&leaf.path, &leaf.value_hash)
            }
            (Some(leaf), None) => {
                if leaf.path == path {
                    return Err(ProofError::WrongValue);
                }
                if (0..depth).any(|bit| leaf.path.bit(bit) != path.bit(bit)) {
                    return Err(ProofError::NotOnPath);
                }
                leaf_hash(&leaf.path, &leaf.value_hash)
            }
            (None, Some(_)) => return Err(ProofError::WrongValue),
            (None, None) => Hash::ZERO,
        };
        for level in (0..depth).rev() {
            let sibling = &self.siblings[level as usize];
            current = if path.bit(level) {
                internal_hash(sibling, &current)
            } else {
                internal_hash(&current, sibling)
            };
        }
        if &current != root {
            return Err(ProofError::RootMismatch {
                computed: current,
                expected: *root,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_root_shapes() {
        assert_eq!(list_root(&[]), Hash::ZERO);
        let a = Hash::of(Domain::Transaction, &[b"a"]);
        let b = Hash::of(Domain::Transaction, &[b"b"]);
        let c = Hash::of(Domain::Transaction, &[b"c"]);
        let leaf = |h: &Hash| Hash::of(Domain::ListLeaf, &[h.as_bytes()]);
        assert_eq!(list_root(&[a]), leaf(&a));
        let ab = Hash::of(
            Domain::ListInternal,
            &[leaf(&a).as_bytes(), leaf(&b).as_bytes()],
        );
        assert_eq!(list_root(&[a, b]), ab);
        let abc = Hash::of(Domain::ListInternal, &[ab.as_bytes(), leaf(&c).as_bytes()]);
        assert_eq!(list_root(&[a, b, c]), abc);
        assert_ne!(list_root(&[a, b]), list_root(&[b, a]));
    }

    #[test]
    fn list_proofs_verify_every_index_of_every_length_and_nothing_else() {
        for len in 1..=17usize {
            let items: Vec<Hash> = (0..len)
                .map(|i| Hash::of(Domain::Transaction, &[&(i as u64).to_le_bytes()]))
                .collect();
            let root = list_root(&items);
            for (index, item) in items.iter().enumerate() {
                let proof = list_proof(&items, index).expect("in range");
                assert!(
                    proof.verify(&root, item, index, len),
                    "len {len} index {index}"
                );
                assert!(!proof.verify(&root, item, (index + 1) % len.max(2), len) || len == 1);
                let other = Hash::of(Domain::Transaction, &[b"other"]);
                assert!(!proof.verify(&root, &other, index, len));
                if len > 1 {
                    let mut bent = proof.clone();
                    bent.siblings[0].0[0] ^= 1;
                    assert!(!bent.verify(&root, item, index, len));
                }
            }
            assert!(list_proof(&items, len).is_none());
        }
    }

    #[test]
    fn single_leaf_tree_proves_itself() {
        let path = key_path(b"k");
        let root = leaf_hash(&path, &value_hash(b"v"));
        let proof = SparseProof {
            siblings: vec![],
            leaf: Some(ProofLeaf {
                path,
                value_hash: value_hash(b"v"),
            }),
        };
        assert_eq!(proof.verify(&root, b"k", Some(b"v")), Ok(()));
        assert_eq!(
            proof.verify(&root, b"k", Some(b"w")),
            Err(ProofError::WrongValue)
        );
        assert_eq!(proof.verify(&root, b"other", None), Ok(()));
        assert_eq!(
            proof.verify(&root, b"other", Some(b"v")),
            Err(ProofError::WrongLeaf)
        );
    }
}
