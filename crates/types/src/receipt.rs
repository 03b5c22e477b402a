//! Receipts: the deterministic outcome of each transaction in a block.
//!
//! A transaction in a block always pays its fee and uses its nonce. Its messages either all apply
//! (`code` 0) or none do, and then `code` is the stable error code of the failure (the table is in
//! docs/protocol.md and in the ledger's `TxError::code`).

use crate::event::Event;
use crate::hash::{Domain, Hash};
use crate::{Amount, Height};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// The outcome of one transaction.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Receipt {
    /// The transaction id.
    pub tx_hash: Hash,
    /// The block it was executed in.
    pub height: Height,
    /// Position in the block.
    pub index: u32,
    /// 0 for success, otherwise a stable error code.
    pub code: u32,
    /// Empty on success, otherwise a lowercase description of the failure.
    pub error: String,
    /// USD base units charged as fee.
    pub fee_paid: Amount,
    /// What it did (fee first, then the messages' events if they applied).
    pub events: Vec<Event>,
}

impl Receipt {
    /// True when the messages applied.
    pub fn is_success(&self) -> bool {
        self.code == 0
    }

    /// The receipt's hash, committed to by the header's `receipts_root`.
    pub fn hash(&self) -> Hash {
        Hash::of(Domain::Receipt, &[&crate::codec::encode(self)])
    }
}
