//! Blocks. Consensus orders them as opaque bytes; this is what the bytes mean to the ledger.
//!
//! The header commits to everything: the parent (`previous_hash`), the transactions (`tx_root`),
//! the state after executing them (`state_root`, a sparse Merkle root, see [`crate::merkle`]), the
//! receipts (`receipts_root`), the block time and the random beacon. Time and beacon are inputs to
//! the ledger: the ledger never reads a clock or draws randomness (rules §1).

use crate::hash::{Domain, Hash};
use crate::{AccountId, Height};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// A block header.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Header {
    /// The chain.
    pub chain_id: String,
    /// 1 for the first block.
    pub height: Height,
    /// Block time, Unix milliseconds; never decreases from one block to the next.
    pub time_ms: u64,
    /// Hash of the previous header; [`Hash::ZERO`] for height 1.
    pub previous_hash: Hash,
    /// Random beacon: hash of the previous beacon and the previous block's commit certificate.
    pub beacon: Hash,
    /// The validator that proposed this block.
    pub proposer: AccountId,
    /// List Merkle root of the transaction ids.
    pub tx_root: Hash,
    /// Sparse Merkle root of the state after this block.
    pub state_root: Hash,
    /// List Merkle root of the receipt hashes.
    pub receipts_root: Hash,
    /// Number of transactions.
    pub tx_count: u32,
}

impl Header {
    /// The block id.
    pub fn hash(&self) -> Hash {
        Hash::of(Domain::BlockHeader, &[&crate::codec::encode(self)])
    }

    /// Block time in whole Unix seconds: the clock every ledger rule uses (rules §1).
    pub fn time_s(&self) -> u64 {
        self.time_ms / 1_000
    }
}

/// A header and its transactions, each in canonical signed-transaction bytes.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// Canonical bytes of each signed transaction, in execution order.
    pub transactions: Vec<Vec<u8>>,
    /// The commit certificate of the previous block as the proposer holds it (empty at height
    /// 1). Under BFT each validator may hold a different quorum of signatures for the same
    /// block, so the beacon cannot hash "the" certificate a node stored: it hashes this one,
    /// which every validator checks is a quorum for the previous block. The header binds it
    /// through `beacon`.
    pub last_certificate: Vec<u8>,
}

impl Block {
    /// The block id (its header's hash).
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }
}

/// The next beacon: unpredictable before the previous block's certificate exists.
pub fn next_beacon(previous_beacon: &Hash, previous_certificate: &[u8]) -> Hash {
    Hash::of(
        Domain::Beacon,
        &[previous_beacon.as_bytes(), previous_certificate],
    )
}
