//! The state commitment: a persistent (structure-sharing) binary sparse Merkle tree over all
//! state keys. The hashing rules and the proof format are in [`vcity_types::merkle`].
//!
//! Nodes are immutable and reference-counted, so [`SparseMerkleTree::update`] returns a new
//! version that shares every untouched subtree with the old one. That lets a validator compute
//! the root a proposed block would produce without disturbing the committed tree, and throw the
//! result away if the block is rejected. A batch of changes is applied in one descent, so the
//! upper levels are rehashed once per block, not once per key.
//!
//! The tree is held in memory and rebuilt from the stored state on start-up (O(n log n) hashes);
//! the stored block header's root is then checked against it, which catches any divergence
//! between the store and the commitment.

use crate::state::Writes;
use std::sync::Arc;
use vcity_types::merkle::{internal_hash, key_path, leaf_hash, value_hash, ProofLeaf, SparseProof};
use vcity_types::Hash;

#[derive(Debug)]
enum Node {
    Empty,
    Leaf {
        path: Hash,
        value_hash: Hash,
        hash: Hash,
    },
    Internal {
        left: Arc<Node>,
        right: Arc<Node>,
        hash: Hash,
    },
}

impl Node {
    fn hash(&self) -> Hash {
        match self {
            Node::Empty => Hash::ZERO,
            Node::Leaf { hash, .. } | Node::Internal { hash, .. } => *hash,
        }
    }

    fn leaf(path: Hash, value_hash: Hash) -> Arc<Node> {
        Arc::new(Node::Leaf {
            path,
            value_hash,
            hash: leaf_hash(&path, &value_hash),
        })
    }

    /// Joins two subtrees, collapsing a subtree of a single leaf into that leaf.
    fn join(left: Arc<Node>, right: Arc<Node>) -> Arc<Node> {
        match (&*left, &*right) {
            (Node::Empty, Node::Empty) => Arc::new(Node::Empty),
            (Node::Leaf { .. }, Node::Empty) => left,
            (Node::Empty, Node::Leaf { .. }) => right,
            _ => {
                let hash = internal_hash(&left.hash(), &right.hash());
                Arc::new(Node::Internal { left, right, hash })
            }
        }
    }
}

/// One change to the tree: a path and its new value hash (`None` removes it).
type Change = (Hash, Option<Hash>);

/// The persistent sparse Merkle tree.
#[derive(Debug, Clone)]
pub struct SparseMerkleTree {
    root: Arc<Node>,
}

impl Default for SparseMerkleTree {
    fn default() -> Self {
        SparseMerkleTree {
            root: Arc::new(Node::Empty),
        }
    }
}

impl SparseMerkleTree {
    /// Builds the tree of `entries` (key, value).
    pub fn build<'a>(entries: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> SparseMerkleTree {
        let mut leaves: Vec<(Hash, Hash)> = entries
            .map(|(key, value)| (key_path(key), value_hash(value)))
            .collect();
        leaves.sort_unstable_by_key(|(path, _)| *path);
        SparseMerkleTree {
            root: build(0, &leaves),
        }
    }

    /// The root hash.
    pub fn root_hash(&self) -> Hash {
        self.root.hash()
    }

    /// A new version with `writes` applied; `self` is unchanged.
    pub fn update(&self, writes: &Writes) -> SparseMerkleTree {
        let mut changes: Vec<Change> = writes
            .iter()
            .map(|(key, value)| (key_path(key), value.as_deref().map(value_hash)))
            .collect();
        changes.sort_unstable_by_key(|(path, _)| *path);
        SparseMerkleTree {
            root: update(&self.root, 0, &changes),
        }
    }

    /// The proof for `key` (inclusion if present, exclusion otherwise).
    pub fn prove(&self, key: &[u8]) -> SparseProof {
        let path = key_path(key);
        let mut siblings = Vec::new();
        let mut node = &self.root;
        let mut depth = 0u32;
        loop {
            match &**node {
                Node::Empty => {
                    return SparseProof {
                        siblings,
                        leaf: None,
                    }
                }
                Node::Leaf {
                    path, value_hash, ..
                } => {
                    return SparseProof {
                        siblings,
                        leaf: Some(ProofLeaf {
                            path: *path,
                            value_hash: *value_hash,
                        }),
                    }
                }
                Node::Internal { left, right, .. } => {
                    if path.bit(depth) {
                        siblings.push(left.hash());
                        node = right;
                    } else {
                        siblings.push(right.hash());
                        node = left;
                    }
                    depth += 1;
                }
            }
        }
    }
}

/// Builds the subtree at `depth` holding `leaves` (sorted by path, distinct paths).
fn build(depth: u32, leaves: &[(Hash, Hash)]) -> Arc<Node> {
    match leaves {
        [] => Arc::new(Node::Empty),
        [(path, value_hash)] => Node::leaf(*path, *value_hash),
        _ => {
            assert!(
                depth < 256,
                "two distinct 256-bit paths diverge before depth 256"
            );
            let split = leaves.partition_point(|(path, _)| !path.bit(depth));
            Node::join(
                build(depth + 1, &leaves[..split]),
                build(depth + 1, &leaves[split..]),
            )
        }
    }
}

/// Applies `changes` (sorted by path, all under this node's prefix) to the subtree `node`.
fn update(node: &Arc<Node>, depth: u32, changes: &[Change]) -> Arc<Node> {
    if changes.is_empty() {
        return node.clone();
    }
    match &**node {
        Node::Empty => {
            let leaves: Vec<(Hash, Hash)> = changes
                .iter()
                .filter_map(|(path, value)| value.map(|value| (*path, value)))
                .collect();
            build(depth, &leaves)
        }
        Node::Leaf {
            path, value_hash, ..
        } => {
            let mut leaves: Vec<(Hash, Hash)> = changes
                .iter()
                .filter_map(|(changed, value)| value.map(|value| (*changed, value)))
                .collect();
            if changes
                .binary_search_by_key(path, |(changed, _)| *changed)
                .is_err()
            {
                let position = leaves.partition_point(|(other, _)| other < path);
                leaves.insert(position, (*path, *value_hash));
            }
            build(depth, &leaves)
        }
        Node::Internal { left, right, .. } => {
            assert!(depth < 256, "internal nodes exist only above depth 256");
            let split = changes.partition_point(|(path, _)| !path.bit(depth));
            Node::join(
                update(left, depth + 1, &changes[..split]),
                update(right, depth + 1, &changes[split..]),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn writes(pairs: &[(&[u8], Option<&[u8]>)]) -> Writes {
        pairs
            .iter()
            .map(|(key, value)| (key.to_vec(), value.map(<[u8]>::to_vec)))
            .collect()
    }

    #[test]
    fn empty_tree_has_zero_root() {
        assert_eq!(SparseMerkleTree::default().root_hash(), Hash::ZERO);
    }

    #[test]
    fn deleting_everything_returns_to_empty() {
        let tree =
            SparseMerkleTree::default().update(&writes(&[(b"a", Some(b"1")), (b"b", Some(b"2"))]));
        assert_ne!(tree.root_hash(), Hash::ZERO);
        let tree = tree.update(&writes(&[(b"a", None), (b"b", None)]));
        assert_eq!(tree.root_hash(), Hash::ZERO);
    }

    #[test]
    fn old_versions_are_untouched() {
        let first = SparseMerkleTree::default().update(&writes(&[(b"a", Some(b"1"))]));
        let root = first.root_hash();
        let _second = first.update(&writes(&[(b"a", Some(b"2"))]));
        assert_eq!(first.root_hash(), root);
    }

    proptest! {
        /// Differential test: any sequence of batches gives the same root as building the final
        /// map from scratch, and every key proves (present or absent) against it.
        #[test]
        fn incremental_equals_rebuild_and_proofs_verify(
            batches in proptest::collection::vec(
                proptest::collection::vec((0u8..40, proptest::option::of(any::<u8>())), 0..20),
                1..8,
            )
        ) {
            let mut tree = SparseMerkleTree::default();
            let mut reference: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for batch in batches {
                let mut batch_writes = Writes::new();
                for (key, value) in batch {
                    let key = vec![b'k', key];
                    let value = value.map(|v| vec![v]);
                    match &value {
                        Some(value) => { reference.insert(key.clone(), value.clone()); }
                        None => { reference.remove(&key); }
                    }
                    batch_writes.insert(key, value);
                }
                tree = tree.update(&batch_writes);
                let rebuilt = SparseMerkleTree::build(
                    reference.iter().map(|(k, v)| (k.as_slice(), v.as_slice())),
                );
                prop_assert_eq!(tree.root_hash(), rebuilt.root_hash());
            }
            let root = tree.root_hash();
            for key in 0u8..40 {
                let key = vec![b'k', key];
                let proof = tree.prove(&key);
                let value = reference.get(&key).map(Vec::as_slice);
                prop_assert_eq!(proof.verify(&root, &key, value), Ok(()));
                // The same proof must not prove a different claim.
                let wrong = match value { Some(_) => None, None => Some(&b"x"[..]) };
                prop_assert!(proof.verify(&root, &key, wrong).is_err());
            }
        }
    }
}
