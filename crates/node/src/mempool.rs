//! The mempool: signed transactions waiting for a block, in arrival order.
//!
//! Admission runs the cheap, stateless checks first (size, decoding, chain id, signature: see
//! [`vcity_ledger::Ledger::prepare`], done by the caller outside any lock), then the stateful
//! ones here: duplicate, capacity, per-sender quota, and finally the ledger's own `check_tx`
//! against the committed state plus the effects of every transaction already admitted. That
//! last step gives per-sender nonce order for free: a sender's next transaction must carry the
//! nonce after its last admitted one, so a replay or a gap is refused at the door, as is an
//! overdraft that only the pending transactions cause.
//!
//! Everything is bounded: the total count ([`MempoolConfig::capacity`]) and each sender's count
//! ([`MempoolConfig::per_sender_limit`]), so one account cannot fill the pool. After each commit
//! the pool drops what was included and re-checks the rest against the new state, because a
//! block from another proposer may have made some of them invalid.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use vcity_ledger::{Ledger, Overlay, PreparedTx, TxError, Writes};
use vcity_types::{AccountId, Hash};

/// Limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MempoolConfig {
    /// Most transactions waiting.
    pub capacity: usize,
    /// Most transactions waiting from one sender.
    pub per_sender_limit: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            capacity: 50_000,
            per_sender_limit: 1_024,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct SenderEntry {
    count: usize,
    next_nonce: u64,
}

/// The pool.
#[derive(Debug, Default)]
pub struct Mempool {
    config: MempoolConfig,
    queue: VecDeque<PreparedTx>,
    hashes: HashSet<Hash>,
    senders: HashMap<AccountId, SenderEntry>,
    /// The combined effects of every queued transaction on the committed state.
    pending: Writes,
}

impl Mempool {
    /// An empty pool.
    pub fn new(config: MempoolConfig) -> Mempool {
        Mempool {
            config,
            ..Mempool::default()
        }
    }

    /// Transactions waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True when none wait.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// True if `hash` waits here.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.hashes.contains(hash)
    }

    /// The waiting transaction with this id.
    pub fn get(&self, hash: &Hash) -> Option<&PreparedTx> {
        if !self.hashes.contains(hash) {
            return None;
        }
        self.queue.iter().find(|tx| &tx.hash == hash)
    }

    /// The nonce the sender's next transaction must carry, counting the ones waiting here.
    pub fn pending_nonce(&self, ledger: &Ledger, account: &AccountId) -> u64 {
        match self.senders.get(account) {
            Some(entry) => entry.next_nonce,
            None => vcity_ledger::auth::next_nonce(ledger, account),
        }
    }

    /// Admits a prepared transaction on top of `ledger`'s committed state. Its signature must
    /// have been checked: block verification skips the signatures of transactions found here.
    pub fn admit(&mut self, ledger: &Ledger, tx: PreparedTx) -> Result<(), TxError> {
        if self.hashes.contains(&tx.hash) {
            return Err(TxError::AlreadyKnown);
        }
        if self.queue.len() >= self.config.capacity {
            return Err(TxError::MempoolFull {
                capacity: self.config.capacity as u64,
            });
        }
        let sender = tx.tx.body.sender;
        let count = self.senders.get(&sender).map_or(0, |entry| entry.count);
        if count >= self.config.per_sender_limit {
            return Err(TxError::SenderQuotaFull {
                limit: self.config.per_sender_limit as u64,
            });
        }
        let mut overlay = Overlay::with_writes(ledger.state(), std::mem::take(&mut self.pending));
        let outcome = ledger.check_tx(&mut overlay, &tx);
        self.pending = overlay.into_parts().0;
        outcome?;
        self.senders.insert(
            sender,
            SenderEntry {
                count: count + 1,
                next_nonce: tx.tx.body.nonce.saturating_add(1),
            },
        );
        self.hashes.insert(tx.hash);
        self.queue.push_back(tx);
        Ok(())
    }

    /// Up to `max_count` transactions of at most `max_bytes` in all, in admission order, for a
    /// proposal. They stay in the pool until a block including them commits.
    pub fn reap(&self, max_count: usize, max_bytes: usize) -> Vec<PreparedTx> {
        let mut bytes = 0usize;
        let mut out = Vec::new();
        for tx in &self.queue {
            if out.len() >= max_count || bytes + tx.bytes.len() > max_bytes {
                break;
            }
            bytes += tx.bytes.len();
            out.push(tx.clone());
        }
        out
    }

    /// After a commit: forgets the included transactions and re-checks the rest against the new
    /// state. Returns the ids dropped because they no longer fit, with the reason.
    pub fn recheck(&mut self, ledger: &Ledger, included: &[Hash]) -> Vec<(Hash, TxError)> {
        let included: HashSet<&Hash> = included.iter().collect();
        let waiting = std::mem::take(&mut self.queue);
        self.hashes.clear();
        self.senders.clear();
        self.pending = BTreeMap::new();
        let mut dropped = Vec::new();
        for tx in waiting {
            if included.contains(&tx.hash) {
                continue;
            }
            let hash = tx.hash;
            if let Err(error) = self.admit(ledger, tx) {
                dropped.push((hash, error));
            }
        }
        dropped
    }
}
