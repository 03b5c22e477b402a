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
//! ([`MempoolConfig::per_sender_limit`]), so one account cannot fill the pool.
//!
//! After each commit the pool drops what was included and re-checks what the block may have
//! made invalid, and only that. Each waiting transaction keeps its footprint: every key its check
//! read, with the value found, and the writes it made ([`Ledger::check_tx_footprint`]). The check
//! is a function of those reads, so walking the queue in order on the new state, a transaction
//! whose every read still finds the same value keeps its answer and its writes; only the others
//! are checked again. When the block is what this pool would have proposed (its queue's head, in
//! order), the senders' nonces and balances hold the values the waiting transactions assumed, and
//! fees reach the treasury at the block's end without any transaction reading its balance, so
//! almost nothing is re-checked; a block from a proposer whose pool differs re-checks the
//! senders and recipients it touched. A transfer's footprint (about 520 bytes of reads and three
//! writes) and its copy in the pending writes come to about 1.5 KB, so a full pool of the default
//! 50,000 holds about 75 MB of them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use vcity_ledger::{Footprint, Ledger, Overlay, PreparedTx, TxError, Writes};
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

/// A waiting transaction with what its check read and wrote.
#[derive(Debug, Clone)]
struct Waiting {
    tx: PreparedTx,
    footprint: Arc<Footprint>,
}

/// What [`Mempool::recheck`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recheck {
    /// Transactions dropped because they no longer pass, with the reason.
    pub dropped: Vec<(Hash, TxError)>,
    /// Transactions checked again (the dropped ones included).
    pub rechecked: usize,
    /// Transactions kept without a new check: the block changed nothing they read.
    pub kept: usize,
}

/// The pool.
#[derive(Debug, Default)]
pub struct Mempool {
    config: MempoolConfig,
    queue: VecDeque<Waiting>,
    /// Each waiting transaction's footprint, by id: block execution replays these
    /// ([`Mempool::footprints`]).
    hashes: HashMap<Hash, Arc<Footprint>>,
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
        self.hashes.contains_key(hash)
    }

    /// For each of `transactions`, the footprint of its check here if it waits here: block
    /// execution applies its writes where the check still holds instead of running it again
    /// ([`Ledger::execute_checked`]). Shared, so the caller executes without the pool's lock.
    pub fn footprints(&self, transactions: &[PreparedTx]) -> Vec<Option<Arc<Footprint>>> {
        transactions
            .iter()
            .map(|tx| self.hashes.get(&tx.hash).cloned())
            .collect()
    }

    /// The waiting transaction with this id.
    pub fn get(&self, hash: &Hash) -> Option<&PreparedTx> {
        if !self.hashes.contains_key(hash) {
            return None;
        }
        self.queue
            .iter()
            .map(|waiting| &waiting.tx)
            .find(|tx| &tx.hash == hash)
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
        if self.hashes.contains_key(&tx.hash) {
            return Err(TxError::AlreadyKnown);
        }
        if self.queue.len() >= self.config.capacity {
            return Err(TxError::MempoolFull {
                capacity: self.config.capacity as u64,
            });
        }
        let count = self
            .senders
            .get(&tx.tx.body.sender)
            .map_or(0, |entry| entry.count);
        if count >= self.config.per_sender_limit {
            return Err(TxError::SenderQuotaFull {
                limit: self.config.per_sender_limit as u64,
            });
        }
        let footprint = self.check(ledger, &tx)?;
        self.push(tx, Arc::new(footprint));
        Ok(())
    }

    /// The ledger's check of `tx` on top of the committed state and everything queued.
    fn check(&mut self, ledger: &Ledger, tx: &PreparedTx) -> Result<Footprint, TxError> {
        let overlay = Overlay::with_writes(ledger.state(), std::mem::take(&mut self.pending));
        let outcome = ledger.check_tx_footprint(&overlay, tx);
        self.pending = overlay.into_parts().0;
        outcome
    }

    /// Queues a checked transaction.
    fn push(&mut self, tx: PreparedTx, footprint: Arc<Footprint>) {
        for (key, value) in &footprint.writes {
            self.pending.insert(key.clone(), value.clone());
        }
        let sender = tx.tx.body.sender;
        let entry = self.senders.entry(sender).or_insert(SenderEntry {
            count: 0,
            next_nonce: 0,
        });
        entry.count += 1;
        entry.next_nonce = tx.tx.body.nonce.saturating_add(1);
        self.hashes.insert(tx.hash, Arc::clone(&footprint));
        self.queue.push_back(Waiting { tx, footprint });
    }

    /// Up to `max_count` transactions of at most `max_bytes` in all, in admission order, for a
    /// proposal. They stay in the pool until a block including them commits.
    pub fn reap(&self, max_count: usize, max_bytes: usize) -> Vec<PreparedTx> {
        let mut bytes = 0usize;
        let mut out = Vec::new();
        for waiting in &self.queue {
            let tx = &waiting.tx;
            if out.len() >= max_count || bytes + tx.bytes.len() > max_bytes {
                break;
            }
            bytes += tx.bytes.len();
            out.push(tx.clone());
        }
        out
    }

    /// After `ledger` committed a block that included `included`: forgets those and re-checks
    /// the waiting transactions that would now read something else (see the module docs),
    /// keeping the rest as they were.
    pub fn recheck(&mut self, ledger: &Ledger, included: &[Hash]) -> Recheck {
        let included: HashSet<&Hash> = included.iter().collect();
        let waiting = std::mem::take(&mut self.queue);
        self.hashes.clear();
        self.senders.clear();
        self.pending.clear();
        let mut report = Recheck::default();
        for entry in waiting {
            if included.contains(&entry.tx.hash) {
                continue;
            }
            let pending = Overlay::with_writes(ledger.state(), std::mem::take(&mut self.pending));
            let holds = ledger.footprint_holds(&pending, &entry.footprint);
            self.pending = pending.into_parts().0;
            if holds {
                report.kept += 1;
                self.push(entry.tx, entry.footprint);
                continue;
            }
            report.rechecked += 1;
            match self.check(ledger, &entry.tx) {
                Ok(footprint) => self.push(entry.tx, Arc::new(footprint)),
                Err(error) => report.dropped.push((entry.tx.hash, error)),
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    //! The selective re-check against the brute-force one it replaces: after any block, the pool
    //! must hold exactly what admitting every remaining transaction again, in order, on the new
    //! state would give (same transactions, same pending writes, same drops).

    use super::*;
    use ed25519_dalek::SigningKey;
    use proptest::prelude::*;
    use vcity_ledger::chain::Validator;
    use vcity_ledger::{BlockContext, Genesis, GenesisAccount, Mode};
    use vcity_types::tx::{Message, Transfer, TxBody};
    use vcity_types::{Amount, Denom};

    const CHAIN: &str = "vcity-mempool-test";
    const ACCOUNTS: u8 = 6;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed + 1; 32])
    }

    fn account(seed: u8) -> AccountId {
        AccountId::from_public_key(&key(seed).verifying_key())
    }

    fn ledger() -> Ledger {
        let genesis = Genesis {
            chain_id: CHAIN.into(),
            genesis_time_ms: 1_000,
            usd_issuer: account(200),
            params: Default::default(),
            validators: vec![Validator {
                name: "v".into(),
                public_key: account(201),
                power: 1,
            }],
            // Small balances, so that fees and transfers run accounts dry.
            accounts: (0..ACCOUNTS)
                .map(|seed| GenesisAccount {
                    name: None,
                    id: account(seed),
                    vcai: Amount::new(5_000),
                    usd: Amount::new(12_000),
                })
                .collect(),
            ..Default::default()
        };
        Ledger::from_genesis(&genesis).expect("genesis")
    }

    fn transfer(sender: u8, nonce: u64, to: u8, denom: Denom, amount: u128) -> PreparedTx {
        let bytes = TxBody {
            chain_id: CHAIN.into(),
            sender: account(sender),
            nonce,
            fee: Amount::new(1_000),
            messages: vec![Message::Transfer(Transfer {
                to: account(to),
                denom,
                amount: Amount::new(amount),
            })],
        }
        .sign(&key(sender))
        .to_bytes();
        vcity_ledger::app::prepare(bytes, CHAIN, &Default::default()).expect("well formed")
    }

    #[derive(Debug, Clone)]
    enum Step {
        /// A transfer at the sender's pending nonce (plus `gap`), to an account that may be new.
        Submit {
            sender: u8,
            to: u8,
            vcai: bool,
            amount: u128,
            gap: u64,
        },
        /// A block of the pool's first `count` transactions, in order: what this pool proposes.
        Head { count: usize },
        /// A block of the waiting transactions in another order, some left out, plus
        /// transactions this pool never saw (at the senders' committed nonces, so they clash
        /// with waiting ones): what a proposer with another pool might build.
        Foreign {
            order: Vec<usize>,
            outsiders: Vec<(u8, u8, u128)>,
        },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (0..ACCOUNTS, 0..ACCOUNTS + 3, any::<bool>(), 1..4_000u128, prop_oneof![9 => Just(0u64), 1 => Just(1u64)])
                .prop_map(|(sender, to, vcai, amount, gap)| Step::Submit { sender, to, vcai, amount, gap }),
            1 => (0..12usize).prop_map(|count| Step::Head { count }),
            1 => (
                proptest::collection::vec(0..40usize, 0..12),
                proptest::collection::vec((0..ACCOUNTS, 0..ACCOUNTS + 3, 1..4_000u128), 0..3),
            )
                .prop_map(|(order, outsiders)| Step::Foreign { order, outsiders }),
        ]
    }

    /// Commits a block of `candidates` built by a proposer, and checks on the way that executing
    /// it with the pool's footprints replayed (as this node's proposer and validator do) gives the
    /// very same block as running every transaction: a difference would split consensus between
    /// nodes whose pools differ. Returns the included ids.
    fn commit(ledger: &mut Ledger, pool: &Mempool, candidates: Vec<PreparedTx>) -> Vec<Hash> {
        commit_counting(ledger, pool, candidates).0
    }

    /// [`commit`], also returning how many transactions were replayed.
    fn commit_counting(
        ledger: &mut Ledger,
        pool: &Mempool,
        candidates: Vec<PreparedTx>,
    ) -> (Vec<Hash>, u32) {
        let context = BlockContext {
            height: ledger.height().next(),
            time_ms: ledger.time_ms() + 1_000,
            beacon: Hash([ledger.height().0 as u8; 32]),
            proposer: account(201),
        };
        let run = |candidates: Vec<PreparedTx>, mode: Mode, replay: bool| {
            let footprints = if replay {
                pool.footprints(&candidates)
            } else {
                Vec::new()
            };
            let checked: Vec<Option<&Footprint>> =
                footprints.iter().map(Option::as_deref).collect();
            ledger
                .execute_checked(context.clone(), candidates, &checked, mode)
                .expect("a proposal executes")
        };
        let plain = run(candidates.clone(), Mode::Propose, false);
        let proposed = run(candidates, Mode::Propose, true);
        let verified = run(plain.transactions.clone(), Mode::Verify, true);
        assert_eq!(plain.replayed, 0);
        for execution in [&proposed, &verified] {
            let ids = |execution: &vcity_ledger::Execution| -> Vec<Hash> {
                execution.transactions.iter().map(|tx| tx.hash).collect()
            };
            assert_eq!(ids(execution), ids(&plain));
            assert_eq!(execution.receipts, plain.receipts);
            assert_eq!(execution.block_events, plain.block_events);
            assert_eq!(execution.writes, plain.writes);
            assert_eq!(
                (
                    execution.tx_root,
                    execution.receipts_root,
                    execution.state_root
                ),
                (plain.tx_root, plain.receipts_root, plain.state_root)
            );
        }
        assert_eq!(proposed.dropped, plain.dropped);
        assert_eq!(proposed.replayed, verified.replayed);
        ledger.commit(&proposed);
        let included = proposed.transactions.iter().map(|tx| tx.hash).collect();
        (included, proposed.replayed)
    }

    fn hashes(pool: &Mempool) -> Vec<Hash> {
        pool.queue.iter().map(|waiting| waiting.tx.hash).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        #[test]
        fn selective_recheck_matches_checking_everything_again(
            steps in proptest::collection::vec(step(), 1..60)
        ) {
            let mut ledger = ledger();
            let mut pool = Mempool::new(MempoolConfig::default());
            for step in steps {
                let included = match step {
                    Step::Submit { sender, to, vcai, amount, gap } => {
                        let nonce = pool.pending_nonce(&ledger, &account(sender)) + gap;
                        let denom = if vcai { Denom::Vcai } else { Denom::Usd };
                        // Refusals are part of the workload; only the pool's state matters.
                        let _ = pool.admit(&ledger, transfer(sender, nonce, to, denom, amount));
                        continue;
                    }
                    Step::Head { count } => {
                        let head = pool.reap(count, usize::MAX);
                        commit(&mut ledger, &pool, head)
                    }
                    Step::Foreign { order, outsiders } => {
                        let waiting = pool.reap(usize::MAX, usize::MAX);
                        let mut candidates: Vec<PreparedTx> = Vec::new();
                        for index in order {
                            if let Some(tx) = waiting.get(index) {
                                if !candidates.iter().any(|seen| seen.hash == tx.hash) {
                                    candidates.push(tx.clone());
                                }
                            }
                        }
                        for (sender, to, amount) in outsiders {
                            let nonce = vcity_ledger::auth::next_nonce(&ledger, &account(sender));
                            candidates.push(transfer(sender, nonce, to, Denom::Usd, amount));
                        }
                        commit(&mut ledger, &pool, candidates)
                    }
                };
                // The reference: every remaining transaction admitted again, in order.
                let mut reference = Mempool::new(MempoolConfig::default());
                let mut reference_dropped = Vec::new();
                for tx in pool.reap(usize::MAX, usize::MAX) {
                    if included.contains(&tx.hash) {
                        continue;
                    }
                    let hash = tx.hash;
                    if let Err(error) = reference.admit(&ledger, tx) {
                        reference_dropped.push((hash, error));
                    }
                }
                let report = pool.recheck(&ledger, &included);
                prop_assert_eq!(hashes(&pool), hashes(&reference));
                prop_assert_eq!(&pool.pending, &reference.pending);
                prop_assert_eq!(report.dropped, reference_dropped);
                for (waiting, expected) in pool.queue.iter().zip(&reference.queue) {
                    prop_assert_eq!(&waiting.footprint, &expected.footprint);
                }
                for (sender, entry) in &reference.senders {
                    let ours = pool.senders.get(sender).expect("same senders");
                    prop_assert_eq!((ours.count, ours.next_nonce), (entry.count, entry.next_nonce));
                }
                prop_assert_eq!(pool.senders.len(), reference.senders.len());
            }
        }
    }

    /// Every account pays the next one 10 USD base units with nonce `round`.
    fn admit_round(pool: &mut Mempool, ledger: &Ledger, round: u64) {
        for sender in 0..ACCOUNTS {
            let tx = transfer(sender, round, (sender + 1) % ACCOUNTS, Denom::Usd, 10);
            pool.admit(ledger, tx).expect("admitted");
        }
    }

    /// A block that is exactly the pool's head re-checks nothing: the senders' nonces and
    /// balances it changed hold the values the waiting transactions already assumed (the
    /// recipients' first-funder records included: a check sees the next height), and the fees
    /// reach the treasury without any transaction reading its balance.
    #[test]
    fn the_pools_own_head_as_a_block_rechecks_nothing() {
        let mut ledger = ledger();
        let mut pool = Mempool::new(MempoolConfig::default());
        for round in 0..3u64 {
            admit_round(&mut pool, &ledger, round);
        }
        let head = pool.reap(ACCOUNTS as usize + 2, usize::MAX);
        let (included, replayed) = commit_counting(&mut ledger, &pool, head);
        assert_eq!(included.len(), ACCOUNTS as usize + 2);
        // Every transaction of the block was the pool's, checked on the state it now executes
        // on: none runs again.
        assert_eq!(replayed as usize, included.len());
        let report = pool.recheck(&ledger, &included);
        assert_eq!(report.rechecked, 0, "{report:?}");
        assert_eq!(report.kept, 2 * ACCOUNTS as usize - 2);
        // And the pool is what checking everything again would give.
        let mut reference = Mempool::new(MempoolConfig::default());
        for tx in pool.reap(usize::MAX, usize::MAX) {
            reference.admit(&ledger, tx).expect("still valid");
        }
        assert_eq!(pool.pending, reference.pending);
    }

    /// A block from a pool that differs (a transaction of sender 0 this pool never saw, paying
    /// account 1) re-checks the transactions that read what it changed: sender 0's (its nonce,
    /// now taken: dropped), sender 1's (its balance) and sender 5's (it pays account 0). The
    /// other three are kept.
    #[test]
    fn a_foreign_block_rechecks_only_what_it_touched() {
        let mut ledger = ledger();
        let mut pool = Mempool::new(MempoolConfig::default());
        for round in 0..2u64 {
            admit_round(&mut pool, &ledger, round);
            if round == 0 {
                // Round 0 commits first, so every account has been funded once.
                let included = commit(&mut ledger, &pool, pool.reap(usize::MAX, usize::MAX));
                let report = pool.recheck(&ledger, &included);
                assert_eq!((report.kept, report.rechecked), (0, 0));
            }
        }
        let outsider = transfer(0, 1, 1, Denom::Usd, 20);
        let (included, replayed) = commit_counting(&mut ledger, &pool, vec![outsider]);
        assert_eq!(replayed, 0, "the pool never saw the outsider");
        assert_eq!(included.len(), 1);
        let report = pool.recheck(&ledger, &included);
        assert_eq!(report.rechecked, 3, "{report:?}");
        assert_eq!(report.kept, ACCOUNTS as usize - 3);
        assert_eq!(report.dropped.len(), 1);
        assert!(
            matches!(report.dropped[0].1, TxError::NonceReplayed { .. }),
            "{report:?}"
        );
    }
}
