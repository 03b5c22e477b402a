//! The node: the ledger, the mempool and the store behind the consensus seam.
//!
//! [`Node`] implements [`vcity_consensus::Application`]. `propose` reaps the mempool and
//! pre-executes a block; `verify` checks a block built by anyone (its header against the chain,
//! every transaction's signature, and its roots by re-execution); `commit` writes the decided
//! block durably and only then makes it the ledger's committed state. A block this node built or
//! verified is executed once: the execution is cached by block id until the height commits.
//!
//! The node is also where the outside world meets the ledger, so it is where clocks live: the
//! proposer stamps blocks with its wall clock (never earlier than the previous block), and a
//! verifier refuses blocks stamped too far in its future. The ledger only ever sees the stamp.
//!
//! Locks: `chain` (ledger + last block) before `mempool`, always in that order. Signature checks
//! for submitted transactions run before any lock is taken, so HTTP submitters verify in
//! parallel.

use crate::mempool::{Mempool, MempoolConfig};
use crate::metrics::Metrics;
use crate::nominal;
use crate::store::{Store, StoreError, StoredBlock};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;
use vcity_consensus::{AppError, Application, Certificate, ProposedValue, ValidatorInfo, ValueId};
use vcity_ledger::{
    agents, bank, chain, incentives, jobs, nft, nodes, pool, repricing, rewards, treasury, ve,
    vesting, BlockContext, Execution, Footprint, Genesis, Ledger, Mode, TxError,
};
use vcity_types::agents::Search as AgentSearch;
use vcity_types::api::{
    AccountView, AgentView, BalanceView, BlockView, CommitSignatureView, GrantView, HealthView,
    NftView, NodeView, PoolPositionView, PoolView, ProofView, RewardsView, StatusView, SupplyView,
    TreasuryView, TxStatus, TxView, VeAccountView, VeTotalView, VestingView,
};
use vcity_types::block::{next_beacon, Block, Header};
use vcity_types::{codec, AccountId, Amount, Denom, Hash, Height};

/// A clock returning Unix milliseconds.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as u64)
    })
}

/// A clock that starts at `start_ms` (Unix ms) now and runs at wall speed: a test network whose
/// chain must live at another time (recorded attestation samples are valid only inside their
/// collateral's window; docs/attestation.md).
pub fn shifted_clock(start_ms: u64) -> Clock {
    let system = system_clock();
    let offset = i128::from(start_ms) - i128::from(system());
    Arc::new(move || u64::try_from((i128::from(system()) + offset).max(0)).unwrap_or(0))
}

/// Node settings.
#[derive(Clone)]
pub struct NodeOptions {
    /// Mempool limits.
    pub mempool: MempoolConfig,
    /// How far in the future (by our clock) a proposed block's time may be.
    pub max_clock_drift_ms: u64,
    /// After this long without a block, `/v1/health` says `stalled`.
    pub stall_after_ms: u64,
    /// The account recorded as proposer in blocks this node builds.
    pub proposer: AccountId,
    /// The engine's name, for `/v1/status`.
    pub engine: String,
    /// Wall clock for block times.
    pub clock: Clock,
}

impl std::fmt::Debug for NodeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeOptions")
            .field("mempool", &self.mempool)
            .field("max_clock_drift_ms", &self.max_clock_drift_ms)
            .field("stall_after_ms", &self.stall_after_ms)
            .field("proposer", &self.proposer)
            .field("engine", &self.engine)
            .finish()
    }
}

impl NodeOptions {
    /// Defaults for a node proposing as `proposer`.
    pub fn new(proposer: AccountId) -> NodeOptions {
        NodeOptions {
            mempool: MempoolConfig::default(),
            max_clock_drift_ms: 10_000,
            stall_after_ms: 30_000,
            proposer,
            engine: "solo".into(),
            clock: system_clock(),
        }
    }
}

/// Why the node cannot start or answer.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Bad genesis.
    #[error("genesis: {0}")]
    Genesis(#[from] vcity_ledger::GenesisError),
}

/// A block as committed, announced to subscribers.
#[derive(Debug, Clone)]
pub struct CommittedBlock {
    /// Height.
    pub height: Height,
    /// Block id.
    pub hash: Hash,
}

#[derive(Debug)]
struct Chain {
    ledger: Ledger,
    /// The last committed block's header, id and certificate (none at height 0).
    last: Option<(Header, Hash, Certificate)>,
}

#[derive(Debug)]
struct Proposal {
    /// The exact bytes, compared on lookup: the id covers the header only, so the same id with
    /// other transaction bytes must not hit the cache.
    value: Vec<u8>,
    block: Block,
    execution: Execution,
}

/// The node core.
pub struct Node {
    chain_id: String,
    options: NodeOptions,
    store: Store,
    chain: RwLock<Chain>,
    mempool: Mutex<Mempool>,
    /// Executions of blocks built or verified at the next height, by block id.
    proposals: Mutex<BTreeMap<ValueId, Arc<Proposal>>>,
    /// Most proposals kept per height (a BFT round can see several).
    proposal_limit: usize,
    events: broadcast::Sender<CommittedBlock>,
    last_commit: Mutex<Instant>,
    metrics: Metrics,
    /// Every job below this id has only finished tasks (a task's end is final, so it only
    /// grows): where scans for open jobs start.
    open_from: std::sync::atomic::AtomicU64,
    /// Where transactions clients submitted here go to reach the other validators' mempools
    /// (set by a BFT validator; the solo engine has no one to tell).
    relay: std::sync::OnceLock<tokio::sync::mpsc::Sender<Vec<u8>>>,
    /// The most time a block this node proposes may take to verify, nanoseconds (0: no budget,
    /// the solo engine's case: nobody waits for its votes).
    proposal_budget_ns: std::sync::atomic::AtomicU64,
    /// What verifying and executing one transaction has cost here lately, nanoseconds (a moving
    /// average over blocks built and verified; 0 until measured).
    tx_cost_ns: std::sync::atomic::AtomicU64,
    /// Senders' keys decoded lately, so that a signature check does not decode them again.
    keys: vcity_types::ed25519::KeyCache,
}

/// Senders' keys remembered decoded (about 200 bytes each).
const KEY_CACHE_ENTRIES: usize = 32_768;

/// A budgeted proposal still carries at least this many transactions, so a slow estimate can
/// never stop the chain from making progress.
const MIN_BUDGETED_TXS: usize = 64;

/// Blocks with fewer transactions say little about the cost of one.
const MIN_COST_SAMPLE_TXS: usize = 16;

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("chain_id", &self.chain_id)
            .field("options", &self.options)
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock already halted the chain loudly; the data under it is still
    // consistent (every mutation is all-or-nothing), so serving reads on is fine.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Node {
    /// Opens the store at `store_path`, initializing it from `genesis` when new, and loads the
    /// committed state, checking it against the last block's state root.
    pub fn open(
        store_path: &Path,
        genesis: &Genesis,
        options: NodeOptions,
    ) -> Result<Node, NodeError> {
        let store = Store::open(store_path)?;
        let genesis_hash = genesis.hash();
        if store.is_initialized()? {
            store.check_genesis(genesis_hash)?;
        } else {
            let state = genesis.initial_state()?;
            store.initialize(genesis_hash, &state)?;
        }
        let (ledger, last) = store.load()?;
        let last = match last {
            None => None,
            Some(StoredBlock { value, certificate }) => {
                let block: Block = codec::decode(&value)
                    .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                let hash = block.hash();
                Some((block.header, hash, certificate))
            }
        };
        let chain_id = ledger.chain_id();
        let mempool = Mempool::new(options.mempool);
        let (events, _) = broadcast::channel(1_024);
        let metrics = Metrics::default();
        metrics.set_height(ledger.height().0);
        Ok(Node {
            chain_id,
            options,
            store,
            chain: RwLock::new(Chain { ledger, last }),
            mempool: Mutex::new(mempool),
            proposals: Mutex::new(BTreeMap::new()),
            proposal_limit: 16,
            events,
            last_commit: Mutex::new(Instant::now()),
            metrics,
            open_from: std::sync::atomic::AtomicU64::new(1),
            proposal_budget_ns: std::sync::atomic::AtomicU64::new(0),
            tx_cost_ns: std::sync::atomic::AtomicU64::new(0),
            keys: vcity_types::ed25519::KeyCache::new(KEY_CACHE_ENTRIES),
            relay: std::sync::OnceLock::new(),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Chain> {
        self.chain
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Chain> {
        self.chain
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The chain id.
    pub fn chain_id(&self) -> &str {
        &self.chain_id
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Subscribes to committed blocks.
    pub fn subscribe(&self) -> broadcast::Receiver<CommittedBlock> {
        self.events.subscribe()
    }

    /// The store (read access for the API's history queries).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Submits canonical signed-transaction bytes. Stateless checks first, without locks; then
    /// the mempool's stateful checks.
    pub fn submit(&self, bytes: Vec<u8>) -> Result<Hash, TxError> {
        let params = self.read().ledger.params();
        let outcome = vcity_ledger::app::prepare(bytes, &self.chain_id, &params).and_then(|tx| {
            let hash = tx.hash;
            let chain = self.read();
            lock(&self.mempool).admit(&chain.ledger, tx)?;
            Ok(hash)
        });
        match &outcome {
            Ok(_) => self.metrics.tx_admitted(),
            Err(error) => self.metrics.tx_rejected(error.code()),
        }
        outcome
    }

    /// Bounds the blocks this node proposes to what the others can verify within `budget`: the
    /// proposer stops adding transactions when the estimated verification and execution time
    /// (the measured cost per transaction times the count) reaches it. A BFT validator sets it
    /// from its timeouts (docs/protocol.md, "Proposal budget"); without it a proposal is bounded
    /// by `max_block_txs` and `max_block_bytes` only.
    pub fn set_proposal_budget(&self, budget: Duration) {
        let nanos = u64::try_from(budget.as_nanos()).unwrap_or(u64::MAX);
        self.proposal_budget_ns
            .store(nanos, std::sync::atomic::Ordering::Relaxed);
    }

    /// The most transactions the proposal budget allows now (`None`: no budget or no estimate).
    pub fn budgeted_txs(&self) -> Option<usize> {
        use std::sync::atomic::Ordering;
        let budget = self.proposal_budget_ns.load(Ordering::Relaxed);
        let cost = self.tx_cost_ns.load(Ordering::Relaxed);
        if budget == 0 || cost == 0 {
            return None;
        }
        Some(
            usize::try_from(budget / cost)
                .unwrap_or(usize::MAX)
                .max(MIN_BUDGETED_TXS),
        )
    }

    /// Folds one block's cost into the per-transaction estimate (a moving average weighting the
    /// new block by a quarter; a block dearer than the estimate counts in full, so the estimate
    /// rises at once under load and falls slowly).
    fn observe_cost(&self, took: Duration, txs: usize) {
        use std::sync::atomic::Ordering;
        if txs < MIN_COST_SAMPLE_TXS {
            return;
        }
        let sample = u64::try_from(took.as_nanos() / txs as u128).unwrap_or(u64::MAX);
        let old = self.tx_cost_ns.load(Ordering::Relaxed);
        let new = if old == 0 || sample > old {
            sample
        } else {
            (3 * old + sample) / 4
        };
        self.tx_cost_ns.store(new.max(1), Ordering::Relaxed);
    }

    /// Submits many transactions at once: the stateless checks on each, the signatures in
    /// batches on every core (the same answers as one by one), then the mempool in order. One
    /// answer per transaction, in order.
    pub fn submit_batch(&self, transactions: Vec<Vec<u8>>) -> Vec<Result<Hash, TxError>> {
        let params = self.read().ledger.params();
        let mut prepared: Vec<Result<vcity_ledger::PreparedTx, TxError>> = transactions
            .into_iter()
            .map(|bytes| vcity_ledger::app::prepare_unsigned(bytes, &self.chain_id, &params))
            .collect();
        let decoded: Vec<usize> = (0..prepared.len())
            .filter(|index| prepared[*index].is_ok())
            .collect();
        let signatures = {
            let transactions: Vec<&vcity_types::tx::SignedTransaction> = decoded
                .iter()
                .filter_map(|index| prepared[*index].as_ref().ok().map(|tx| &tx.tx))
                .collect();
            check_signatures(&transactions, &self.keys)
        };
        for (index, result) in decoded.iter().zip(signatures) {
            if let Err(error) = result {
                prepared[*index] = Err(TxError::BadSignature(error.to_string()));
            }
        }
        let chain = self.read();
        let mut mempool = lock(&self.mempool);
        prepared
            .into_iter()
            .map(|outcome| {
                let outcome = outcome.and_then(|tx| {
                    let hash = tx.hash;
                    mempool.admit(&chain.ledger, tx).map(|()| hash)
                });
                match &outcome {
                    Ok(_) => self.metrics.tx_admitted(),
                    Err(error) => self.metrics.tx_rejected(error.code()),
                }
                outcome
            })
            .collect()
    }

    /// Sends every transaction a client submits here (and this mempool admits) to `relay` too,
    /// for the other validators. Set once.
    pub fn relay_to(&self, relay: tokio::sync::mpsc::Sender<Vec<u8>>) {
        let _ = self.relay.set(relay);
    }

    /// Hands admitted transactions to the relay (best effort, as [`Node::submit_and_relay`]).
    pub fn relay(&self, transactions: Vec<Vec<u8>>) {
        let Some(relay) = self.relay.get() else {
            return;
        };
        for bytes in transactions {
            if relay.try_send(bytes).is_err() {
                tracing::debug!("relay queue full; not relayed");
                return;
            }
        }
    }

    /// [`Node::submit`] for a client's transaction: admitted ones are also relayed (best effort:
    /// a full relay queue drops the copy, the transaction still waits here for this validator's
    /// turn to propose).
    pub fn submit_and_relay(&self, bytes: Vec<u8>) -> Result<Hash, TxError> {
        let Some(relay) = self.relay.get() else {
            return self.submit(bytes);
        };
        let hash = self.submit(bytes.clone())?;
        if relay.try_send(bytes).is_err() {
            tracing::debug!(%hash, "relay queue full; not relayed");
        }
        Ok(hash)
    }

    /// Status.
    pub fn status(&self) -> StatusView {
        let chain = self.read();
        let mempool_size = lock(&self.mempool).len() as u64;
        let (latest_block_hash, latest_block_time_ms) = match &chain.last {
            Some((header, hash, _)) => (*hash, header.time_ms),
            None => (Hash::ZERO, chain.ledger.time_ms()),
        };
        StatusView {
            chain_id: self.chain_id.clone(),
            height: chain.ledger.height(),
            latest_block_hash,
            latest_block_time_ms,
            chain_time_s: vcity_ledger::vesting::elapsed_s(&chain.ledger),
            state_root: chain.ledger.state_root(),
            min_fee_usd: chain.ledger.params().min_fee_usd,
            usd_issuer: bank::usd_issuer(&chain.ledger),
            mempool_size,
            engine: self.options.engine.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// Health: stalled when no block committed for `stall_after_ms`.
    pub fn health(&self) -> HealthView {
        let since = lock(&self.last_commit).elapsed().as_millis() as u64;
        HealthView {
            status: if since > self.options.stall_after_ms {
                "stalled".into()
            } else {
                "ok".into()
            },
            height: self.read().ledger.height(),
            since_last_block_ms: since,
        }
    }

    /// An account's nonces and balances at the committed height.
    pub fn account(&self, id: &AccountId) -> AccountView {
        let chain = self.read();
        let pending_nonce = lock(&self.mempool).pending_nonce(&chain.ledger, id);
        let scale = repricing::scale(&chain.ledger);
        let balances = [Denom::Vcai, Denom::Usd]
            .into_iter()
            .map(|denom| {
                let mut amount = bank::balance(&chain.ledger, id, denom);
                if denom == Denom::Vcai {
                    amount = scale.shown(amount);
                }
                BalanceView {
                    denom,
                    amount,
                    display: amount.to_decimal(denom),
                }
            })
            .collect();
        AccountView {
            id: *id,
            did: id.did().to_string(),
            next_nonce: vcity_ledger::auth::next_nonce(&chain.ledger, id),
            pending_nonce,
            balances,
            height: chain.ledger.height(),
        }
    }

    /// Where the VCAI is.
    pub fn supply(&self) -> SupplyView {
        let chain = self.read();
        let ledger = &chain.ledger;
        let scale = repricing::scale(ledger);
        let vcai = |account: AccountId| scale.shown(bank::balance(ledger, &account, Denom::Vcai));
        SupplyView {
            vcai_total: scale.shown(bank::supply(ledger, Denom::Vcai)),
            vcai_circulating: scale.shown(vesting::circulating(ledger)),
            vcai_vesting: vcai(vesting::vesting_account()),
            vcai_reserve: vcai(vesting::reserve_account()),
            vcai_incentive_pool: vcai(vesting::incentive_pool_account()),
            vcai_nft_reserve: vcai(nft::nft_reserve_account()),
            usd_total: bank::supply(ledger, Denom::Usd),
            vcai_scale: scale,
            height: ledger.height(),
        }
    }

    /// An account's vesting grants.
    pub fn vesting(&self, account: &AccountId) -> VestingView {
        let chain = self.read();
        let ledger = &chain.ledger;
        let elapsed_s = vesting::elapsed_s(ledger);
        let scale = repricing::scale(ledger);
        let mut claimable = Amount::ZERO;
        let grants = vesting::grants(ledger, account)
            .into_iter()
            .map(|grant| {
                let now = grant.claimable(elapsed_s);
                claimable = claimable.checked_add(now).unwrap_or(claimable);
                GrantView {
                    allocation: grant.allocation.clone(),
                    total: scale.shown(grant.schedule.total),
                    at_tge: scale.shown(grant.schedule.at_tge),
                    cliff_s: grant.schedule.cliff_s,
                    duration_s: grant.schedule.duration_s,
                    step_s: grant.schedule.step_s,
                    vested: scale.shown(grant.schedule.vested(elapsed_s)),
                    claimed: scale.shown(grant.claimed),
                    claimable: scale.shown(now),
                }
            })
            .collect();
        VestingView {
            account: *account,
            elapsed_s,
            grants,
            claimable: scale.shown(claimable),
            height: ledger.height(),
        }
    }

    /// The vote escrow's totals now or at a past time (seconds after genesis).
    pub fn ve_total(&self, at_s: Option<u64>) -> VeTotalView {
        let chain = self.read();
        let ledger = &chain.ledger;
        let elapsed_s = vesting::elapsed_s(ledger);
        let at_s = at_s.unwrap_or(elapsed_s).min(elapsed_s);
        let scale = repricing::scale(ledger);
        let total = scale.shown_weight(if at_s == elapsed_s {
            ve::total_weight(ledger)
        } else {
            ve::total_weight_at(ledger, at_s)
        });
        VeTotalView {
            total_weight: total.to_string(),
            total_weight_display: ve::format_weight(total),
            locked_vcai: scale.shown(bank::balance(ledger, &ve::ve_account(), Denom::Vcai)),
            at_s,
            elapsed_s,
            current_week: elapsed_s / ve::WEEK_S,
            height: ledger.height(),
        }
    }

    /// An account's lock and weight now or at a past time.
    pub fn ve_account(&self, account: &AccountId, at_s: Option<u64>) -> VeAccountView {
        let chain = self.read();
        let ledger = &chain.ledger;
        let elapsed_s = vesting::elapsed_s(ledger);
        let at_s = at_s.unwrap_or(elapsed_s).min(elapsed_s);
        let lock = ve::lock(ledger, account);
        let scale = repricing::scale(ledger);
        let weight = scale.shown_weight(if at_s == elapsed_s {
            ve::weight(ledger, account)
        } else {
            ve::weight_at(ledger, account, at_s)
        });
        VeAccountView {
            account: *account,
            amount: scale.shown(lock.as_ref().map_or(Amount::ZERO, |l| l.amount)),
            end_s: lock.as_ref().map(|l| l.end_s),
            unlock_week: lock.as_ref().map(|l| l.end_s / ve::WEEK_S),
            weight: weight.to_string(),
            weight_display: ve::format_weight(weight),
            at_s,
            height: ledger.height(),
        }
    }

    /// The pool.
    pub fn pool(&self) -> PoolView {
        let chain = self.read();
        let ledger = &chain.ledger;
        let reserves = pool::reserves(ledger);
        let scale = repricing::scale(ledger);
        let spot = scale.shown_price(pool::spot_price(&reserves));
        let elapsed_s = vesting::elapsed_s(ledger);
        PoolView {
            vcai_reserve: scale.shown(reserves.vcai),
            usd_reserve: reserves.usd,
            total_shares: pool::total_shares(ledger),
            // Scaled by 10^30 in base units = USD per VCAI scaled by 10^18.
            price_usd_per_vcai: Amount::new(spot).to_decimal(Denom::Vcai),
            spot_price_scaled: spot.to_string(),
            twap_cumulative: pool::cumulative_at(ledger, elapsed_s).to_string(),
            elapsed_s,
            fee_bps: pool::params(ledger).fee_bps,
            height: ledger.height(),
        }
    }

    /// An account's LP position.
    pub fn pool_position(&self, account: &AccountId) -> PoolPositionView {
        let chain = self.read();
        let ledger = &chain.ledger;
        let reserves = pool::reserves(ledger);
        let total = pool::total_shares(ledger);
        let shares = pool::shares(ledger, account);
        let part = |reserve: Amount| {
            if total.is_zero() {
                Amount::ZERO
            } else {
                reserve
                    .mul_div(
                        shares.base_units(),
                        total.base_units(),
                        vcity_types::Rounding::Down,
                    )
                    .unwrap_or(Amount::ZERO)
            }
        };
        PoolPositionView {
            account: *account,
            shares,
            vcai: repricing::scale(ledger).shown(part(reserves.vcai)),
            usd: part(reserves.usd),
            height: ledger.height(),
        }
    }

    /// The treasury, its buyback and the distributor.
    pub fn treasury(&self) -> TreasuryView {
        let chain = self.read();
        let ledger = &chain.ledger;
        let params = treasury::params(ledger);
        let buyback = treasury::buyback(ledger).unwrap_or_default();
        let stream = rewards::stream(ledger);
        let totals = rewards::totals(ledger);
        let scale = repricing::scale(ledger);
        let vcai = |amount: Amount| scale.shown(amount);
        TreasuryView {
            usd_balance: bank::balance(ledger, &bank::treasury(), Denom::Usd),
            interval_start_s: buyback.start_s,
            interval_s: params.buyback_interval_s,
            budget_usd: buyback.budget,
            spent_usd: buyback.spent,
            bought_vcai: vcai(buyback.bought),
            reference_price_usd_per_vcai: Amount::new(scale.shown_price(buyback.reference_price))
                .to_decimal(Denom::Vcai),
            max_premium_bps: params.max_premium_bps,
            stream_vcai: vcai(stream.amount),
            stream_released_vcai: vcai(stream.released),
            carried_vcai: vcai(rewards::carry(ledger)),
            distributed_vcai: vcai(totals.distributed),
            claimed_vcai: vcai(totals.claimed),
            distributor_vcai: vcai(bank::balance(
                ledger,
                &rewards::distributor_account(),
                Denom::Vcai,
            )),
            height: ledger.height(),
        }
    }

    /// A locker's claimable rewards.
    pub fn rewards(&self, account: &AccountId) -> RewardsView {
        let chain = self.read();
        let buyback = rewards::claimable(&chain.ledger, account);
        let incentive = incentives::account(&chain.ledger, account);
        let scale = repricing::scale(&chain.ledger);
        RewardsView {
            account: *account,
            claimable_vcai: scale.shown(
                buyback
                    .checked_add(incentive.unclaimed.total().unwrap_or_default())
                    .unwrap_or(buyback),
            ),
            buyback_vcai: scale.shown(buyback),
            incentives_unclaimed: repricing::parts_shown(&scale, incentive.unclaimed),
            incentives_total: repricing::parts_shown(&scale, incentive.total),
            incentives_history: nominal::history(&scale, incentive.history),
            periods: incentives::activity(&chain.ledger, account, incentives::ACTIVITY_PERIODS)
                .into_iter()
                .map(|(period, stats)| vcity_types::api::PeriodActivity {
                    period,
                    earned_usd: stats.earned_usd,
                    delivered_cu_ppm: stats.delivered_cu_ppm,
                    outages: stats.outages,
                    forfeited: stats.forfeited,
                })
                .collect(),
            loyalty_ppm: incentives::loyalty_ppm(
                &chain.ledger,
                account,
                incentives::current_index(&chain.ledger),
            ),
            referral: incentives::referral(&chain.ledger, account).map(|referral| {
                vcity_types::api::ReferralView {
                    referrer: referral.referrer,
                    from_period: referral.from_period,
                    until_period: referral.until_period,
                }
            }),
            height: chain.ledger.height(),
        }
    }

    /// The incentive pool: the open period, recent closed ones, the pools (rules §6).
    pub fn incentives(&self) -> incentives::Status {
        let chain = self.read();
        let scale = repricing::scale(&chain.ledger);
        nominal::incentives(&scale, incentives::status(&chain.ledger))
    }

    /// The trust layer's status (`GET /v1/trust`).
    pub fn trust(&self) -> vcity_ledger::trust::Status {
        let chain = self.read();
        let scale = repricing::scale(&chain.ledger);
        nominal::trust(&scale, vcity_ledger::trust::status(&chain.ledger))
    }

    /// The attestation rules and nonces (docs/attestation.md).
    pub fn attestation(&self) -> vcity_ledger::attestation::Status {
        vcity_ledger::attestation::status(&self.read().ledger)
    }

    /// A verifier's open duties.
    pub fn duties(&self, verifier: &AccountId) -> Vec<vcity_types::trust::Duty> {
        vcity_ledger::trust::duties(&self.read().ledger, verifier)
    }

    /// A capacity challenge.
    pub fn challenge(&self, id: u64) -> Option<vcity_types::trust::CapacityChallenge> {
        vcity_ledger::capacity::challenge(&self.read().ledger, id)
    }

    /// A dispute.
    pub fn dispute(&self, id: u64) -> Option<vcity_types::trust::Dispute> {
        let chain = self.read();
        let scale = repricing::scale(&chain.ledger);
        vcity_ledger::disputes::dispute(&chain.ledger, id)
            .map(|dispute| nominal::dispute(&scale, dispute))
    }

    /// A slash.
    pub fn slash(&self, id: u64) -> Option<vcity_types::trust::Slash> {
        let chain = self.read();
        let scale = repricing::scale(&chain.ledger);
        vcity_ledger::slashing::slash_record(&chain.ledger, id)
            .map(|slash| nominal::slash(&scale, slash))
    }

    /// Governance: parameters, counts, pauses, quotas (`GET /v1/governance`).
    pub fn governance(&self) -> vcity_ledger::governance::Status {
        let chain = self.read();
        let scale = repricing::scale(&chain.ledger);
        nominal::governance(&scale, vcity_ledger::governance::status(&chain.ledger))
    }

    /// Proposals, newest first (`GET /v1/governance/proposals`).
    pub fn proposals(
        &self,
        before: Option<u64>,
        limit: u64,
    ) -> Vec<vcity_ledger::governance::ProposalView> {
        let chain = self.read();
        let scale = repricing::scale(&chain.ledger);
        vcity_ledger::governance::recent_proposals(&chain.ledger, before, limit)
            .into_iter()
            .map(|view| nominal::proposal(&scale, view))
            .collect()
    }

    /// A proposal by number or by id (hex).
    pub fn proposal(&self, key: &str) -> Option<vcity_ledger::governance::ProposalView> {
        let chain = self.read();
        let number = match key.parse::<u64>() {
            Ok(number) => number,
            Err(_) => {
                let id = Hash::from_hex(key).ok()?;
                vcity_ledger::governance::proposal_by_id(&chain.ledger, &id)?.number
            }
        };
        let scale = repricing::scale(&chain.ledger);
        vcity_ledger::governance::proposal_view(&chain.ledger, number)
            .map(|view| nominal::proposal(&scale, view))
    }

    /// A proposal's comments.
    pub fn proposal_comments(&self, number: u64) -> Vec<vcity_ledger::governance::Comment> {
        vcity_ledger::governance::comments(&self.read().ledger, number)
    }

    /// An account's vote on a proposal.
    pub fn proposal_vote(
        &self,
        number: u64,
        voter: &AccountId,
    ) -> Option<vcity_ledger::governance::VoteRecord> {
        let chain = self.read();
        let scale = repricing::scale(&chain.ledger);
        vcity_ledger::governance::vote_of(&chain.ledger, number, voter)
            .map(|vote| nominal::vote(&scale, vote))
    }

    /// The dynamic-supply quotas (`GET /v1/governance/quotas`).
    pub fn quotas(&self) -> vcity_ledger::governance::supply::Quotas {
        let chain = self.read();
        let scale = repricing::scale(&chain.ledger);
        nominal::quotas(
            &scale,
            vcity_ledger::governance::supply::quotas(&chain.ledger),
        )
    }

    /// Registered nodes in registration order, optionally one role's.
    pub fn nodes(
        &self,
        role: Option<vcity_types::compute::Role>,
        offset: u64,
        limit: u64,
    ) -> Vec<NodeView> {
        let chain = self.read();
        let ledger = &chain.ledger;
        nodes::list(ledger, offset, limit)
            .into_iter()
            .filter(|record| role.is_none_or(|role| record.role == role))
            .map(|record| node_view(ledger, record))
            .collect()
    }

    /// One registered node.
    pub fn node(&self, id: &AccountId) -> Option<NodeView> {
        let chain = self.read();
        nodes::node(&chain.ledger, id).map(|record| node_view(&chain.ledger, record))
    }

    /// A job.
    pub fn job(&self, id: u64) -> Option<vcity_types::compute::Job> {
        jobs::job(&self.read().ledger, id)
    }

    /// The latest jobs, newest first, optionally one owner's: at most `limit`, looking back at
    /// most 10,000 jobs.
    pub fn jobs(&self, owner: Option<&AccountId>, limit: usize) -> Vec<vcity_types::compute::Job> {
        let chain = self.read();
        let ledger = &chain.ledger;
        let newest = jobs::count(ledger);
        (newest.saturating_sub(10_000)..=newest)
            .rev()
            .filter(|id| *id > 0)
            .filter_map(|id| jobs::job(ledger, id))
            .filter(|job| owner.is_none_or(|owner| job.owner == *owner))
            .take(limit)
            .collect()
    }

    /// Jobs with a task not yet finished (pending, assigned, running or awaiting settlement), in
    /// id order, optionally only those with a task assigned to or running on `node`: at most
    /// `limit`, looking at most 10,000 jobs past the oldest open one.
    pub fn open_jobs(
        &self,
        node: Option<&AccountId>,
        limit: usize,
    ) -> Vec<vcity_types::compute::Job> {
        use std::sync::atomic::Ordering;
        use vcity_types::compute::TaskState;
        let open = |state: &TaskState| {
            matches!(
                state,
                TaskState::Pending
                    | TaskState::Assigned { .. }
                    | TaskState::Running { .. }
                    | TaskState::Completed { .. }
            )
        };
        let holds = |state: &TaskState, id: &AccountId| match state {
            TaskState::Assigned { node, .. } | TaskState::Running { node, .. } => node == id,
            _ => false,
        };
        let chain = self.read();
        let ledger = &chain.ledger;
        let newest = jobs::count(ledger);
        let first = self.open_from.load(Ordering::Relaxed);
        let mut start = first;
        let mut advancing = true;
        let mut found = Vec::new();
        for id in first..=newest.min(first.saturating_add(10_000)) {
            let Some(job) = jobs::job(ledger, id) else {
                continue;
            };
            let is_open = job.tasks.iter().any(|task| open(&task.state));
            if advancing && !is_open {
                start = id + 1;
                continue;
            }
            advancing = false;
            let wanted = match node {
                Some(node) => job.tasks.iter().any(|task| holds(&task.state, node)),
                None => is_open,
            };
            if wanted {
                found.push(job);
                if found.len() >= limit {
                    break;
                }
            }
        }
        self.open_from.fetch_max(start, Ordering::Relaxed);
        found
    }

    /// A prepaid subscription.
    pub fn subscription(&self, id: u64) -> Option<vcity_types::compute::Subscription> {
        jobs::subscription(&self.read().ledger, id)
    }

    /// The validator set that signs the next block.
    pub fn validator_set(&self) -> Vec<vcity_ledger::chain::Validator> {
        vcity_ledger::chain::validators(&self.read().ledger)
    }

    /// The governance parameters daemons need.
    pub fn params(&self) -> vcity_ledger::ParamsView {
        let chain = self.read();
        let scale = repricing::scale(&chain.ledger);
        nominal::params(&scale, vcity_ledger::params_view(&chain.ledger))
    }

    /// Stores a blob (a WASM module) under its content address.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Hash, StoreError> {
        self.store.put_blob(bytes)
    }

    /// A blob by content address.
    pub fn blob(&self, address: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.blob(address)
    }

    /// Genesis NFTs, all or one holder's, in id order.
    pub fn nfts(&self, owner: Option<&AccountId>) -> Vec<NftView> {
        let chain = self.read();
        let ledger = &chain.ledger;
        (1..=nft::count(ledger))
            .filter_map(|id| nft::get(ledger, id))
            .filter(|token| owner.is_none_or(|owner| token.owner == *owner))
            .map(|token| nft_view(ledger, &token))
            .collect()
    }

    /// One Genesis NFT.
    pub fn nft(&self, id: u32) -> Option<NftView> {
        let chain = self.read();
        nft::get(&chain.ledger, id).map(|token| nft_view(&chain.ledger, &token))
    }

    /// Agents answering `search`, in its order: at most `limit`, looking at the newest 10,000
    /// (docs/agents.md, "Discovery").
    pub fn agents(&self, search: &AgentSearch, limit: usize) -> Vec<AgentView> {
        let chain = self.read();
        let ledger = &chain.ledger;
        let min_ratings = agents::params(ledger).min_ratings;
        let newest = agents::count(ledger);
        let mut found: Vec<vcity_types::agents::Agent> = (newest.saturating_sub(10_000)..=newest)
            .filter(|id| *id > 0)
            .filter_map(|id| agents::agent(ledger, id))
            .filter(|agent| search.matches(agent, min_ratings))
            .collect();
        search.sort(&mut found, min_ratings);
        found.truncate(limit);
        found
            .into_iter()
            .map(|agent| agent_view(agent, min_ratings, Vec::new()))
            .collect()
    }

    /// One agent with its versions.
    pub fn agent(&self, id: u64) -> Option<AgentView> {
        let chain = self.read();
        let ledger = &chain.ledger;
        let min_ratings = agents::params(ledger).min_ratings;
        agents::agent(ledger, id)
            .map(|agent| agent_view(agent, min_ratings, agents::versions(ledger, id)))
    }

    /// The licence `licensee` holds on agent `id` (valid or ended).
    pub fn agent_licence(
        &self,
        id: u64,
        licensee: &AccountId,
    ) -> Option<vcity_types::agents::Licence> {
        agents::licences::licence(&self.read().ledger, id, licensee)
    }

    /// The agent call job `job_id` runs.
    pub fn agent_call(&self, job_id: u64) -> Option<vcity_types::agents::Invocation> {
        agents::invocations::invocation(&self.read().ledger, job_id)
    }

    /// The committed height.
    pub fn height(&self) -> Height {
        self.read().ledger.height()
    }

    /// A committed block.
    pub fn block(&self, height: u64) -> Result<Option<BlockView>, StoreError> {
        let Some(stored) = self.store.block(height)? else {
            return Ok(None);
        };
        let block = stored.block()?;
        Ok(Some(block_view(&block, &stored.certificate)))
    }

    /// A transaction, pending or committed.
    pub fn transaction(&self, hash: &Hash) -> Result<Option<TxView>, StoreError> {
        if let Some((block, receipt)) = self.store.transaction(hash)? {
            let bytes = block
                .transactions
                .get(receipt.index as usize)
                .ok_or_else(|| StoreError::Corrupt("receipt index outside its block".into()))?;
            let tx = vcity_types::tx::decode_transaction(bytes)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?;
            return Ok(Some(TxView {
                tx_hash: *hash,
                status: TxStatus::Committed,
                body: tx.body,
                receipt: Some(receipt),
            }));
        }
        Ok(lock(&self.mempool).get(hash).map(|tx| TxView {
            tx_hash: *hash,
            status: TxStatus::Pending,
            body: tx.tx.body.clone(),
            receipt: None,
        }))
    }

    /// A state value with its inclusion (or exclusion) proof at the committed height.
    pub fn proof(&self, key: &[u8]) -> ProofView {
        let chain = self.read();
        ProofView {
            key: String::from_utf8_lossy(key).into_owned(),
            value: vcity_ledger::StateRead::get_raw(&chain.ledger, key).map(hex::encode),
            height: chain.ledger.height(),
            state_root: chain.ledger.state_root(),
            proof: chain.ledger.prove(key),
        }
    }

    /// Runs `f` on the committed ledger (read-only).
    pub fn with_ledger<T>(&self, f: impl FnOnce(&Ledger) -> T) -> T {
        f(&self.read().ledger)
    }

    /// Transactions waiting.
    pub fn mempool_len(&self) -> usize {
        lock(&self.mempool).len()
    }

    /// The previous block's id and the certificate of it this node holds, as block fields.
    fn parent_fields(chain: &Chain) -> (Hash, Vec<u8>) {
        match &chain.last {
            None => (Hash::ZERO, Vec::new()),
            Some((_, hash, certificate)) => (*hash, certificate.to_bytes()),
        }
    }

    /// Checks a block's copy of the previous block's certificate: empty at height 1, otherwise a
    /// quorum of the validators for the previous height and id.
    fn check_last_certificate(&self, chain: &Chain, block: &Block) -> Result<(), String> {
        let Some((_, previous_hash, _)) = &chain.last else {
            return if block.last_certificate.is_empty() {
                Ok(())
            } else {
                Err("the first block carries a previous certificate".into())
            };
        };
        let certificate = Certificate::from_bytes(&block.last_certificate)
            .map_err(|error| format!("previous certificate: {error}"))?;
        let previous_height = chain.ledger.height().0;
        if certificate.height != previous_height || certificate.value_id != previous_hash.0 {
            return Err(format!(
                "previous certificate is for height {}, not the committed block {previous_height}",
                certificate.height
            ));
        }
        // The set that decided the previous height: the one before that block's changes.
        certificate
            .verify(
                &self.chain_id,
                &infos(chain::last_block_validators(&chain.ledger)),
            )
            .map_err(|error| format!("previous certificate: {error}"))
    }

    fn remember(&self, id: ValueId, proposal: Proposal) -> Arc<Proposal> {
        let proposal = Arc::new(proposal);
        let mut proposals = lock(&self.proposals);
        if proposals.len() >= self.proposal_limit {
            proposals.clear();
        }
        proposals.insert(id, proposal.clone());
        proposal
    }

    fn verify_block(
        &self,
        height: u64,
        value: &[u8],
    ) -> Result<(ValueId, Arc<Proposal>), AppError> {
        let block: Block = codec::decode(value)
            .map_err(|error| AppError::Invalid(format!("block does not decode: {error}")))?;
        let id = block.hash().0;
        if let Some(known) = lock(&self.proposals).get(&id) {
            if known.value == value && known.block.header.height == Height(height) {
                return Ok((id, known.clone()));
            }
        }
        let chain = self.read();
        let ledger = &chain.ledger;
        let header = &block.header;
        let invalid = |reason: String| Err(AppError::Invalid(reason));
        if header.chain_id != self.chain_id {
            return invalid(format!("block is for chain {:?}", header.chain_id));
        }
        if header.height != Height(height) || header.height != ledger.height().next() {
            return invalid(format!(
                "block height {} at consensus height {height}, committed {}",
                header.height,
                ledger.height()
            ));
        }
        let (previous_hash, _) = Node::parent_fields(&chain);
        if header.previous_hash != previous_hash {
            return invalid("previous hash does not match the committed chain".into());
        }
        if let Err(reason) = self.check_last_certificate(&chain, &block) {
            return invalid(reason);
        }
        if header.beacon != next_beacon(&ledger.beacon(), &block.last_certificate) {
            return invalid("beacon is not derived from the previous certificate".into());
        }
        if !chain::validators(ledger)
            .iter()
            .any(|validator| validator.public_key == header.proposer)
        {
            return invalid(format!("proposer {} is not a validator", header.proposer));
        }
        let now = (self.options.clock)();
        if header.time_ms > now.saturating_add(self.options.max_clock_drift_ms) {
            return invalid(format!(
                "block time {} ms is more than {} ms ahead of this node's clock",
                header.time_ms, self.options.max_clock_drift_ms
            ));
        }
        if header.tx_count as usize != block.transactions.len() {
            return invalid("tx_count does not match the transactions".into());
        }
        let params = ledger.params();
        let started = Instant::now();
        let mut prepared = Vec::with_capacity(block.transactions.len());
        for (index, bytes) in block.transactions.iter().enumerate() {
            match vcity_ledger::app::prepare_unsigned(bytes.clone(), &self.chain_id, &params) {
                Ok(tx) => prepared.push(tx),
                Err(error) => return invalid(format!("transaction {index}: {error}")),
            }
        }
        // Verify once: this node's mempool admitted only transactions whose signatures it checked,
        // and a hash fixes every byte, the signature included. The rest are checked in batches.
        // Execute once: the mempool's checks are replayed where they still hold.
        let footprints = lock(&self.mempool).footprints(&prepared);
        let unseen: Vec<usize> = (0..prepared.len())
            .filter(|index| footprints[*index].is_none())
            .collect();
        let checked = unseen.len();
        let transactions: Vec<&vcity_types::tx::SignedTransaction> =
            unseen.iter().map(|index| &prepared[*index].tx).collect();
        let bad = check_signatures(&transactions, &self.keys)
            .into_iter()
            .zip(&unseen)
            .find_map(|(result, index)| result.err().map(|error| (*index, error)));
        if let Some((index, error)) = bad {
            return invalid(format!("transaction {index}: bad signature: {error}"));
        }
        self.metrics
            .signatures_checked(checked as u64, (prepared.len() - checked) as u64);
        let context = BlockContext {
            height: header.height,
            time_ms: header.time_ms,
            beacon: header.beacon,
            proposer: header.proposer,
        };
        let checked: Vec<Option<&Footprint>> = footprints.iter().map(Option::as_deref).collect();
        let execution = ledger
            .execute_checked(context, prepared, &checked, Mode::Verify)
            .map_err(|error| AppError::Invalid(error.to_string()))?;
        self.metrics
            .transactions_replayed(execution.replayed, execution.transactions.len());
        if execution.tx_root != header.tx_root
            || execution.state_root != header.state_root
            || execution.receipts_root != header.receipts_root
        {
            return invalid("roots do not match re-execution".into());
        }
        self.observe_cost(started.elapsed(), execution.transactions.len());
        drop(chain);
        let proposal = self.remember(
            id,
            Proposal {
                value: value.to_vec(),
                block,
                execution,
            },
        );
        Ok((id, proposal))
    }
}

fn agent_view(
    agent: vcity_types::agents::Agent,
    min_ratings: u64,
    version_list: Vec<vcity_types::agents::AgentVersion>,
) -> AgentView {
    AgentView {
        creator_did: agent.creator.did().to_string(),
        score_ppm: agent.score_ppm(min_ratings),
        agent,
        version_list,
    }
}

/// A weight scaled by 10^27 as veVCAI with nine decimals (rounded down).
fn node_view(ledger: &Ledger, record: vcity_types::compute::NodeRecord) -> NodeView {
    let params = nodes::params(ledger);
    let scale = repricing::scale(ledger);
    let now = vesting::elapsed_s(ledger);
    let unbonding = nodes::unbonding(ledger, &record.id)
        .iter()
        .fold(Amount::ZERO, |sum, entry| {
            sum.checked_add(entry.amount).unwrap_or(sum)
        });
    let standing = nodes::standing(&params, &record, now);
    let trust_params = vcity_ledger::trust::params(ledger);
    let mut health_issues = nodes::health_issues(&trust_params, record.role, &record.health);
    if !record.healthy && health_issues.is_empty() {
        health_issues.push("new GPU ECC or XID errors at the last heartbeat".into());
    }
    NodeView {
        reputation_ppm: vcity_ledger::reputation::score_ppm(
            &record,
            vcity_ledger::jobs::params(ledger).start_deadline_s,
        ),
        health_issues,
        challenges: vcity_ledger::capacity::recent(ledger, &record.id),
        slashes: vcity_ledger::slashing::recent(ledger, &record.id)
            .into_iter()
            .map(|slash| nominal::slash(&scale, slash))
            .collect(),
        online: nodes::is_online(&params, &record, now),
        required_stake: scale.shown_up(nodes::required_stake(
            &params,
            record.role,
            record.capacity_cu_ppm,
        )),
        paused: standing == nodes::Standing::Paused,
        grace_until_s: match standing {
            nodes::Standing::Grace { until_s } => Some(until_s),
            _ => None,
        },
        unbonding: scale.shown(unbonding),
        height: ledger.height(),
        node: vcity_types::compute::NodeRecord {
            stake: scale.shown(record.stake),
            ..record
        },
    }
}

fn nft_view(ledger: &Ledger, token: &nft::Nft) -> NftView {
    let entitlement = nft::entitlement(ledger);
    let elapsed_s = vesting::elapsed_s(ledger);
    let scale = repricing::scale(ledger);
    NftView {
        id: token.id,
        owner: token.owner,
        entitlement: scale.shown(entitlement.as_ref().map_or(Amount::ZERO, |s| s.total)),
        unlocked: scale.shown(
            entitlement
                .as_ref()
                .map_or(Amount::ZERO, |s| s.vested(elapsed_s)),
        ),
        claimed: scale.shown(token.claimed),
        claimable: scale.shown(nft::claimable(ledger, token)),
    }
}

/// Signatures checked per batch: with the keys already decoded, about three times the rate of
/// single checks and a quarter more than batches of 64 (docs/benchmarks.md, "P9 after issue
/// 21's second part"); a failed batch is searched in eighths, so one bad signature costs about
/// two batches' work.
const SIGNATURE_BATCH: usize = 256;

/// Below this many, checking on one thread is faster than starting others.
const PARALLEL_SIGNATURES: usize = 256;

/// Each transaction's signature result, checked in batches (ZIP-215: the same answers as one by
/// one) on every core this machine has.
fn check_signatures(
    transactions: &[&vcity_types::tx::SignedTransaction],
    keys: &vcity_types::ed25519::KeyCache,
) -> Vec<Result<(), vcity_types::tx::SignatureError>> {
    use vcity_types::tx::verify_signatures_with;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if threads < 2 || transactions.len() < PARALLEL_SIGNATURES {
        return verify_signatures_with(transactions, SIGNATURE_BATCH, keys);
    }
    let part = transactions.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = transactions
            .chunks(part)
            .map(|chunk| scope.spawn(move || verify_signatures_with(chunk, SIGNATURE_BATCH, keys)))
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a signature check does not panic"))
            .collect()
    })
}

/// The ledger's validator set as the consensus seam sees it.
fn validator_infos(ledger: &Ledger) -> Vec<ValidatorInfo> {
    infos(chain::validators(ledger))
}

fn infos(validators: Vec<chain::Validator>) -> Vec<ValidatorInfo> {
    validators
        .into_iter()
        .map(|validator| ValidatorInfo {
            public_key: validator.public_key.0,
            power: validator.power,
        })
        .collect()
}

/// The API view of a block.
pub fn block_view(block: &Block, certificate: &Certificate) -> BlockView {
    BlockView {
        hash: block.hash(),
        header: block.header.clone(),
        transactions: block
            .transactions
            .iter()
            .map(|bytes| vcity_types::tx::tx_hash(bytes))
            .collect(),
        certificate: certificate
            .signatures
            .iter()
            .map(|signature| CommitSignatureView {
                validator: AccountId(signature.validator),
                signature: hex::encode(signature.signature),
            })
            .collect(),
    }
}

impl Application for Node {
    fn committed_height(&self) -> u64 {
        self.read().ledger.height().0
    }

    fn last_certificate(&self) -> Option<Certificate> {
        self.read()
            .last
            .as_ref()
            .map(|(_, _, certificate)| certificate.clone())
    }

    fn propose(&self, height: u64) -> Result<ProposedValue, AppError> {
        let chain = self.read();
        let ledger = &chain.ledger;
        if Height(height) != ledger.height().next() {
            return Err(AppError::Invalid(format!(
                "asked to propose height {height} on top of {}",
                ledger.height()
            )));
        }
        let params = ledger.params();
        let max_txs = match self.budgeted_txs() {
            Some(budgeted) => budgeted.min(params.max_block_txs as usize),
            None => params.max_block_txs as usize,
        };
        let (candidates, footprints) = {
            let mempool = lock(&self.mempool);
            let candidates = mempool.reap(max_txs, params.max_block_bytes as usize);
            let footprints = mempool.footprints(&candidates);
            (candidates, footprints)
        };
        let checked: Vec<Option<&Footprint>> = footprints.iter().map(Option::as_deref).collect();
        let started = Instant::now();
        let (previous_hash, last_certificate) = Node::parent_fields(&chain);
        let beacon = next_beacon(&ledger.beacon(), &last_certificate);
        let context = BlockContext {
            height: Height(height),
            time_ms: (self.options.clock)().max(ledger.time_ms()),
            beacon,
            proposer: self.options.proposer,
        };
        let execution = ledger
            .execute_checked(context.clone(), candidates, &checked, Mode::Propose)
            .map_err(|error| AppError::Fatal(format!("cannot build block {height}: {error}")))?;
        self.metrics
            .transactions_replayed(execution.replayed, execution.transactions.len());
        self.observe_cost(started.elapsed(), execution.transactions.len());
        for (hash, error) in &execution.dropped {
            tracing::debug!(%hash, %error, "left out of the proposal");
        }
        let header = Header {
            chain_id: self.chain_id.clone(),
            height: context.height,
            time_ms: context.time_ms,
            previous_hash,
            beacon,
            proposer: context.proposer,
            tx_root: execution.tx_root,
            state_root: execution.state_root,
            receipts_root: execution.receipts_root,
            tx_count: execution.transactions.len() as u32,
        };
        let block = Block {
            header,
            transactions: execution
                .transactions
                .iter()
                .map(|tx| tx.bytes.clone())
                .collect(),
            last_certificate,
        };
        drop(chain);
        let bytes = codec::encode(&block);
        let id = block.hash().0;
        self.remember(
            id,
            Proposal {
                value: bytes.clone(),
                block,
                execution,
            },
        );
        Ok(ProposedValue { id, bytes })
    }

    fn verify(&self, height: u64, value: &[u8]) -> Result<ValueId, AppError> {
        self.verify_block(height, value).map(|(id, _)| id)
    }

    fn commit(&self, height: u64, value: &[u8], certificate: &Certificate) -> Result<(), AppError> {
        let started = Instant::now();
        let (id, proposal) = self.verify_block(height, value).map_err(|error| {
            AppError::Fatal(format!("decided block {height} does not verify: {error}"))
        })?;
        if certificate.height != height || certificate.value_id != id {
            return Err(AppError::Fatal(format!(
                "certificate for height {} does not match the decided block {height}",
                certificate.height
            )));
        }
        certificate
            .verify(&self.chain_id, &self.validators(height))
            .map_err(|error| AppError::Fatal(format!("certificate of block {height}: {error}")))?;

        let execution = &proposal.execution;
        let mut chain = self.write();
        // Durable first: a crash after this line restarts at this block; before it, at the
        // previous one. The in-memory state never runs ahead of the disk.
        self.store
            .commit_block(value, certificate, execution)
            .map_err(|error| AppError::Fatal(format!("storing block {height}: {error}")))?;
        chain.ledger.commit(execution);
        let hash = Hash(id);
        chain.last = Some((proposal.block.header.clone(), hash, certificate.clone()));
        let included: Vec<Hash> = execution.transactions.iter().map(|tx| tx.hash).collect();
        let (recheck, mempool_size) = {
            let mut mempool = lock(&self.mempool);
            let recheck = mempool.recheck(&chain.ledger, &included);
            (recheck, mempool.len())
        };
        drop(chain);
        lock(&self.proposals).clear();
        *lock(&self.last_commit) = Instant::now();
        for (hash, error) in &recheck.dropped {
            tracing::debug!(%hash, %error, "dropped from the mempool after commit");
        }
        self.metrics
            .mempool_rechecked(recheck.rechecked as u64, recheck.kept as u64);
        self.metrics.block_committed(
            height,
            included.len() as u64,
            mempool_size as u64,
            started.elapsed(),
        );
        if included.is_empty() {
            tracing::debug!(height, hash = %hash, "committed empty block");
        } else {
            tracing::info!(height, txs = included.len(), hash = %hash, "committed block");
        }
        // Nobody listening is fine.
        let _ = self.events.send(CommittedBlock {
            height: Height(height),
            hash,
        });
        Ok(())
    }

    fn decided(&self, height: u64) -> Result<Option<(Vec<u8>, Certificate)>, AppError> {
        self.store
            .block(height)
            .map(|stored| stored.map(|stored| (stored.value, stored.certificate)))
            .map_err(|error| AppError::Fatal(error.to_string()))
    }

    /// The set after the last committed block decides the next height; the last height was
    /// decided by the set before that block's changes. Older heights are not kept: they are
    /// only asked for while syncing, which replays block by block.
    fn validators(&self, height: u64) -> Vec<ValidatorInfo> {
        let chain = self.read();
        if height == chain.ledger.height().0 {
            infos(chain::last_block_validators(&chain.ledger))
        } else {
            validator_infos(&chain.ledger)
        }
    }
}
