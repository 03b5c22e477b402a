//! One simulation run: a chain built from the real genesis (the rules §2 allocation), agents that
//! sign transactions as the daemons and users would, blocks executed and committed by the real
//! ledger, and tasks placed by the real placement engine.
//!
//! A block's life here: every agent's queued transactions are signed (independent intents one
//! per transaction; a node's task starts and results and the scheduler's assignments batched up
//! to 64 messages, as the daemons' loops send them), executed in `Mode::Propose` at the block's
//! time with a beacon derived from the seed, and committed. The agents then read the block's
//! events as their daemons would read the chain (a node sees its assignments, a verifier its
//! duties, a referee its disputes) and queue what they do in the next block.
//!
//! Where the simulator departs from a live network, and why:
//! - It does not check its own signatures again (`prepare_unsigned`), as a node does not re-check
//!   what its own mempool checked: neither transactions' nor the result statements they carry,
//!   which are checked with their transaction (docs/protocol.md, "Signatures"). Both are still
//!   made, by the agent that would make them, with its own key.
//! - Heartbeats are daily, not every minute. What minute-scale heartbeats would let the network
//!   see at once stands in for them: a node that goes down gives its tasks back (`FailTask`) and
//!   the scheduler stops offering it work until it is up again.
//! - A node starts computing when it sees its assignment; its `StartTask` lands a block later.
//!
//! What agents know that the chain does not: whether a result is a lie (the honest commitment
//! of every task is a function of the task, so verifiers "re-execute" by computing it), and each
//! operator's costs.

use crate::metrics::Recorder;
use crate::rng::Rng;
use crate::scenario::{self, Scenario};
use ed25519_dalek::SigningKey;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use vcity_ledger::chain::Validator;
use vcity_ledger::genesis::{GenesisAccount, SpecBeneficiaries};
use vcity_ledger::{
    bank, incentives, jobs, nodes, pool, BlockContext, Genesis, Ledger, Mode, PreparedTx,
};
use vcity_scheduler::engine::{Engine, Request, Round, UnitDecision, Weights};
use vcity_types::compute::{
    AssignTask, Billing, ExecutorKind, GpuSpec, Hardware, NodeHeartbeat, NodeKind, RegisterNode,
    Requirements, ResultCommitment, Role, StartTask, SubmitJob, SubmitResult, TaskExit, Workload,
};
use vcity_types::event::Event;
use vcity_types::trust::{
    ChallengeResult, DisputeSubject, HealthReport, RefereeVote, ResultStatement, Signature,
    VerifyResult, Vote,
};
use vcity_types::tx::{
    ClaimRewards, Message, MintUsd, SwapExactIn, SwapExactOut, TxBody, VeLock, VeWithdraw,
};
use vcity_types::{AccountId, Amount, Denom, Hash, Height};

/// Genesis time of every simulated chain (Unix ms): a fixed date, so runs are comparable.
pub const GENESIS_MS: u64 = 1_800_000_000_000;
const WEEK_S: u64 = 604_800;
const DAY_S: u64 = 86_400;
const PPM: f64 = 1_000_000.0;
/// USD base units per USD.
const USD: f64 = 1_000_000.0;
/// Most messages in one transaction (the ledger's default `max_messages_per_tx`).
const MAX_MESSAGES: usize = 64;
/// The scheduler's measured round trip to every node: the simulator has no network, so all
/// nodes are equally near and placement decides on price, record and load.
const ROUND_TRIP_MS: u32 = 20;
/// Working capital in USD every node starts with, for fees.
const NODE_USD: f64 = 2_000.0;

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The genesis the scenario describes is not valid.
    #[error("the scenario's genesis is refused: {0}")]
    Genesis(String),
    /// The ledger halted: an invariant broke. The seed and height replay it.
    #[error("the ledger halted at height {height} (seed {seed}, subset {subset}): {reason}")]
    Halted {
        /// The run's seed.
        seed: u64,
        /// The sweep point.
        subset: usize,
        /// The block that broke it.
        height: u64,
        /// The panic or audit message.
        reason: String,
    },
}

/// A key-holding participant: its messages for the next block.
#[derive(Debug)]
struct Actor {
    key: SigningKey,
    account: AccountId,
    nonce: u64,
    /// Transactions for the next block: each is all or nothing, so independent intents (a
    /// claim that may find nothing, a stake top-up) travel separately.
    outbox: Vec<(Option<Batch>, Vec<Message>)>,
}

/// Messages an agent sends many of per block and that fail only in rare races, so they share
/// transactions (up to 64 messages each), as the daemons' control loops send them: a node's
/// task starts and give-backs, its results, a scheduler's assignments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Batch {
    Tasks,
    Result,
    Assign,
}

/// What a compute node is doing.
#[derive(Debug)]
struct Node {
    actor: usize,
    population: usize,
    gpus: u32,
    /// The ledger's factor of one GPU, ppm.
    factor_ppm: u64,
    registered: bool,
    /// Joined after genesis: waiting for its USD to arrive before it buys stake and registers.
    joining: bool,
    leaving: bool,
    gone: bool,
    liar: bool,
    overbiller: bool,
    down_until_s: u64,
    /// Heartbeat phase: blocks are spread so that not every node beats in one block.
    phase: u64,
    /// Tasks it holds (assigned or running): (job, task) → the height its result is due.
    running: BTreeMap<(u64, u32), Option<u64>>,
    /// Trailing weekly margin, for entry and exit.
    margin: f64,
    /// Its asking price now, USD per GPU-hour (a `follow_load` node moves it weekly).
    price_per_gpu_hour_usd: f64,
    /// This week's USD income and VCAI rewards.
    week_usd: f64,
    week_vcai: f64,
}

#[derive(Debug)]
struct Buyer {
    actor: usize,
    population: usize,
}

#[derive(Debug)]
struct Locker {
    actor: usize,
    population: usize,
    unlock_week: u32,
    locked: bool,
}

#[derive(Debug)]
struct Trader {
    actor: usize,
    population: usize,
}

#[derive(Debug)]
struct Wash {
    buyer: usize,
    node: usize,
    population: usize,
}

/// What the scheduler needs of a job, kept from its submission so that placement never decodes
/// job records.
#[derive(Debug, Clone)]
struct JobView {
    owner: AccountId,
    requirements: Requirements,
    max_price_per_cu_usd: Amount,
    /// Open tasks (the entry goes when the last one ends).
    open: u32,
}

/// A task the simulation has seen submitted.
#[derive(Debug, Clone, Copy)]
struct TaskInfo {
    /// Honest work, CU × 10^6.
    work_cu_ppm: u64,
    /// Buyer population (or wash population, offset past the buyers).
    owner_population: usize,
}

/// The parameters of one run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The scenario with its sweep point applied.
    pub scenario: Scenario,
    /// Seed of this run.
    pub seed: u64,
    /// Sweep point index.
    pub subset: usize,
}

/// A run in progress.
#[derive(Debug)]
pub struct World {
    /// The scenario, shared so that per-block code can hold it while it changes the world.
    scenario: std::rc::Rc<Scenario>,
    seed: u64,
    subset: usize,
    ledger: Ledger,
    chain_id: String,
    rng: Rng,
    actors: Vec<Actor>,
    by_account: BTreeMap<AccountId, usize>,
    issuer: usize,
    /// Holds the sales', team's and advisors' vesting grants (it never claims: vested VCAI
    /// waits in the vesting account, shown as `vested_unclaimed_vcai`).
    foundation: usize,
    scheduler: usize,
    verifiers: Vec<usize>,
    nodes: Vec<Node>,
    node_of: BTreeMap<AccountId, usize>,
    locker_of: BTreeMap<AccountId, usize>,
    buyers: Vec<Buyer>,
    buyer_of: BTreeMap<AccountId, usize>,
    lockers: Vec<Locker>,
    traders: Vec<Trader>,
    washes: Vec<Wash>,
    engine: Engine,
    engine_params: vcity_ledger::nodes::NodeParams,
    tasks: BTreeMap<(u64, u32), TaskInfo>,
    jobs: BTreeMap<u64, JobView>,
    /// Nodes whose ledger record changed since the engine last saw it.
    dirty: BTreeSet<usize>,
    /// When each pending task's placement timeout passes, seconds after genesis.
    pending_until: BTreeMap<(u64, u32), u64>,
    /// Tasks waiting for placement, oldest job first.
    pending: BTreeSet<(u64, u32)>,
    /// Disputes a referee of ours must vote on: dispute → (job, task).
    disputes: BTreeMap<u64, (u64, u32)>,
    /// Verifier duties for the next block.
    duties: VecDeque<(usize, u64, u32)>,
    /// Wash traders' fractional GPU-hours carried to the next block, per population.
    wash_carry: Vec<f64>,
    /// Per buyer population: the last closed period's effective price relative to the reference.
    price_ratio: Vec<f64>,
    recorder: Recorder,
    /// Jobs waiting one block for their owner's bridge deposit.
    deferred: Vec<(usize, Message)>,
    heartbeat_blocks: u64,
    blocks_per_week: u64,
}

fn usd(whole: f64) -> Amount {
    Amount::new((whole * USD).round().max(0.0) as u128)
}

fn vcai(whole: f64) -> Amount {
    // 18 decimals: whole × 10^9 × 10^9, rounded to the nearest nano-VCAI first.
    Amount::new(((whole * 1e9).round().max(0.0) as u128) * 1_000_000_000)
}

/// VCAI base units as whole VCAI.
pub fn vcai_f(amount: Amount) -> f64 {
    amount.base_units() as f64 / 1e18
}

/// USD base units as whole USD.
pub fn usd_f(amount: Amount) -> f64 {
    amount.base_units() as f64 / USD
}

/// `work` over `items` on the machine's cores, the results in the items' order. Below a few
/// dozen items a thread costs more than it saves.
fn parallel_map<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |count| count.get().min(8));
    if threads < 2 || items.len() < 64 {
        return items.iter().map(&work).collect();
    }
    let share = items.len().div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let others: Vec<_> = items[share..]
            .chunks(share)
            .map(|part| scope.spawn(move || part.iter().map(work).collect::<Vec<R>>()))
            .collect();
        let mut results: Vec<R> = items[..share].iter().map(work).collect();
        for other in others {
            results.extend(other.join().expect("a signing thread panicked"));
        }
        results
    })
}

fn key_of(seed: u64, index: usize) -> SigningKey {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"vcity-sim/key");
    hasher.update(&seed.to_le_bytes());
    hasher.update(&(index as u64).to_le_bytes());
    SigningKey::from_bytes(hasher.finalize().as_bytes())
}

/// The honest commitment of a task attempt: what any re-execution gives.
fn honest(job_id: u64, task: u32, attempt: u32, work_cu_ppm: u64) -> ResultCommitment {
    let output = Hash::of(
        vcity_types::hash::Domain::Content,
        &[
            b"vcity-sim/output",
            &job_id.to_le_bytes(),
            &task.to_le_bytes(),
            &attempt.to_le_bytes(),
        ],
    );
    ResultCommitment {
        exit: TaskExit::Success,
        output,
        output_bytes: 1_024,
        cu_used_ppm: work_cu_ppm,
    }
}

fn healthy() -> HealthReport {
    HealthReport {
        executor_ok: true,
        free_disk_mib: 500_000,
        gpus: Vec::new(),
    }
}

fn ppm(share: f64) -> u32 {
    (share * PPM).round() as u32
}

fn gpu_factor_ppm(model: &str) -> u64 {
    vcity_ledger::nodes::NodeParams::default()
        .gpu_factors_ppm
        .iter()
        .find(|(name, _)| name == model)
        .map_or(1_000_000, |(_, factor)| *factor)
}

/// USD base units per CU for a price in USD per GPU-hour of a GPU with `factor_ppm`.
fn price_per_cu(per_gpu_hour_usd: f64, factor_ppm: u64) -> Amount {
    let per_cu = per_gpu_hour_usd / 3_600.0 / (factor_ppm as f64 / PPM);
    usd(per_cu).max(Amount::new(1))
}

impl World {
    /// A chain at genesis with every population in place.
    pub fn new(spec: RunSpec) -> Result<World, RunError> {
        let scenario = &spec.scenario;
        let seed = spec.seed;
        let mut actors = Vec::new();
        let add_actor = |actors: &mut Vec<Actor>| {
            let key = key_of(seed, actors.len());
            let account = AccountId::from_public_key(&key.verifying_key());
            actors.push(Actor {
                key,
                account,
                nonce: 0,
                outbox: Vec::new(),
            });
            actors.len() - 1
        };
        let validator = add_actor(&mut actors);
        let issuer = add_actor(&mut actors);
        let foundation = add_actor(&mut actors);
        let scheduler = add_actor(&mut actors);
        let verifiers: Vec<usize> = (0..scenario.verifiers)
            .map(|_| add_actor(&mut actors))
            .collect();
        let mut rng = Rng::new(seed, 1);
        let mut nodes = Vec::new();
        for (population, providers) in scenario.providers.iter().enumerate() {
            for _ in 0..providers.count {
                let actor = add_actor(&mut actors);
                nodes.push(new_node(actor, population, providers, &mut rng, false));
            }
        }
        let mut buyers = Vec::new();
        for (population, group) in scenario.buyers.iter().enumerate() {
            for _ in 0..group.count {
                buyers.push(Buyer {
                    actor: add_actor(&mut actors),
                    population,
                });
            }
        }
        let mut lockers = Vec::new();
        for (population, group) in scenario.lockers.iter().enumerate() {
            for _ in 0..group.count {
                lockers.push(Locker {
                    actor: add_actor(&mut actors),
                    population,
                    unlock_week: group.lock_weeks,
                    locked: false,
                });
            }
        }
        let mut traders = Vec::new();
        for (population, group) in scenario.traders.iter().enumerate() {
            for _ in 0..group.count {
                traders.push(Trader {
                    actor: add_actor(&mut actors),
                    population,
                });
            }
        }
        let mut washes = Vec::new();
        for (population, group) in scenario.wash_traders.iter().enumerate() {
            for _ in 0..group.count {
                let buyer = add_actor(&mut actors);
                let node_actor = add_actor(&mut actors);
                let mut node = new_node(
                    node_actor,
                    usize::MAX,
                    &wash_providers(group),
                    &mut rng,
                    false,
                );
                node.population = scenario.providers.len() + population;
                nodes.push(node);
                washes.push(Wash {
                    buyer,
                    node: nodes.len() - 1,
                    population,
                });
            }
        }

        let genesis = build_genesis(
            scenario, &actors, validator, issuer, foundation, scheduler, &verifiers, &nodes,
            &lockers, &traders,
        )?;
        let ledger =
            Ledger::from_genesis(&genesis).map_err(|error| RunError::Genesis(error.to_string()))?;
        let by_account = actors
            .iter()
            .enumerate()
            .map(|(index, actor)| (actor.account, index))
            .collect();
        let node_of = nodes
            .iter()
            .enumerate()
            .map(|(index, node)| (actors[node.actor].account, index))
            .collect();
        let locker_of = lockers
            .iter()
            .map(|locker| (actors[locker.actor].account, locker.population))
            .collect();
        let buyer_of = buyers
            .iter()
            .enumerate()
            .map(|(index, buyer)| (actors[buyer.actor].account, index))
            .chain(
                washes
                    .iter()
                    .enumerate()
                    .map(|(index, wash)| (actors[wash.buyer].account, usize::MAX - index)),
            )
            .collect();
        let weights = Weights {
            start_deadline_s: jobs_params(scenario).start_deadline_s,
            ..Weights::default()
        };
        let engine_params = ledger_node_params(scenario);
        let engine = Engine::new(engine_params.clone(), weights);
        let blocks_per_week = WEEK_S / scenario.block_time_s;
        let heartbeat_blocks = scenario.heartbeat_interval_s / scenario.block_time_s;
        let recorder = Recorder::new(scenario);
        let mut world = World {
            chain_id: genesis.chain_id.clone(),
            ledger,
            rng: Rng::new(seed, 2),
            actors,
            by_account,
            issuer,
            foundation,
            scheduler,
            verifiers,
            nodes,
            node_of,
            locker_of,
            buyers,
            buyer_of,
            lockers,
            traders,
            washes,
            engine,
            engine_params,
            tasks: BTreeMap::new(),
            jobs: BTreeMap::new(),
            dirty: BTreeSet::new(),
            pending_until: BTreeMap::new(),
            pending: BTreeSet::new(),
            disputes: BTreeMap::new(),
            duties: VecDeque::new(),
            wash_carry: vec![0.0; scenario.wash_traders.len()],
            price_ratio: vec![1.0; scenario.buyers.len()],
            recorder,
            deferred: Vec::new(),
            heartbeat_blocks,
            blocks_per_week,
            scenario: std::rc::Rc::new(spec.scenario.clone()),
            seed: spec.seed,
            subset: spec.subset,
        };
        for (index, node) in world.nodes.iter_mut().enumerate() {
            node.phase = index as u64 % heartbeat_blocks;
        }
        world.first_block_messages();
        Ok(world)
    }

    /// The ledger (for tests and summaries).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The rows recorded so far.
    pub fn into_recorder(self) -> Recorder {
        self.recorder
    }

    fn now_s(&self) -> u64 {
        (self.ledger.time_ms() - GENESIS_MS) / 1_000
    }

    fn send(&mut self, actor: usize, message: Message) {
        self.actors[actor].outbox.push((None, vec![message]));
    }

    /// Claims `actor`'s incentive credits and buyback share, if it has any (the wallet shows the
    /// claimable amounts before a user signs).
    fn claim(&mut self, actor: usize) {
        let account = self.actors[actor].account;
        let state = self.ledger.state();
        if !incentives::claimable(state, &account).is_zero()
            || !vcity_ledger::rewards::claimable(state, &account).is_zero()
        {
            self.send(actor, Message::ClaimRewards(ClaimRewards {}));
        }
    }

    /// Queues `message` in a shared transaction of its kind.
    fn send_batched(&mut self, actor: usize, batch: Batch, message: Message) {
        let outbox = &mut self.actors[actor].outbox;
        match outbox
            .iter_mut()
            .rev()
            .find(|(kind, messages)| *kind == Some(batch) && messages.len() < MAX_MESSAGES)
        {
            Some((_, messages)) => messages.push(message),
            None => outbox.push((Some(batch), vec![message])),
        }
    }

    fn first_block_messages(&mut self) {
        let scenario = std::rc::Rc::clone(&self.scenario);
        let service = |stake: Amount, role: Role| {
            Message::RegisterNode(RegisterNode {
                role,
                kind: NodeKind::Stable,
                hardware: Hardware::default(),
                region: "eu-west".into(),
                endpoint: "https://service.sim.invalid".into(),
                price_per_cu_usd: Amount::ZERO,
                stake,
            })
        };
        let service_stake = nodes::params(self.ledger.state()).min_service_stake;
        self.send(self.scheduler, service(service_stake, Role::Scheduler));
        for index in 0..self.verifiers.len() {
            let actor = self.verifiers[index];
            self.send(actor, service(service_stake, Role::Verifier));
        }
        for index in 0..self.nodes.len() {
            let message = self.register_message(index);
            let actor = self.nodes[index].actor;
            self.send(actor, message);
        }
        for index in 0..self.lockers.len() {
            let group = &scenario.lockers[self.lockers[index].population];
            let message = Message::VeLock(VeLock {
                amount: vcai(group.vcai_each),
                unlock_week: group.lock_weeks,
            });
            let actor = self.lockers[index].actor;
            self.send(actor, message);
        }
    }

    fn node_hardware(&self, index: usize) -> (Hardware, String, NodeKind, Amount) {
        let node = &self.nodes[index];
        let scenario = &self.scenario;
        let (model, vram_gib, region, kind) = match scenario.providers.get(node.population) {
            Some(group) => (
                group.gpu_model.clone(),
                group.vram_gib,
                group.region.clone(),
                if group.kind == "flexible" {
                    NodeKind::Flexible
                } else {
                    NodeKind::Stable
                },
            ),
            None => {
                let wash = self
                    .washes
                    .iter()
                    .find(|wash| wash.node == index)
                    .expect("a node is a provider's or a wash trader's");
                let group = &scenario.wash_traders[wash.population];
                (
                    group.gpu_model.clone(),
                    80,
                    wash_region(index),
                    NodeKind::Stable,
                )
            }
        };
        let hardware = Hardware {
            gpus: vec![GpuSpec {
                model,
                count: node.gpus,
                vram_mib: vram_gib * 1_024,
            }],
            // Two cores per GPU: CPU capacity counts as available CU, and no scenario buys CPU
            // time, so a GPU node's cores would only dilute utilization.
            cpu_cores: 2 * node.gpus,
            ram_mib: 65_536 * u64::from(node.gpus),
            sandbox: None,
        };
        (
            hardware,
            region,
            kind,
            price_per_cu(node.price_per_gpu_hour_usd, node.factor_ppm),
        )
    }

    fn required_stake(&self, hardware: &Hardware) -> Amount {
        let params = nodes::params(self.ledger.state());
        let capacity = nodes::capacity_ppm(&params, hardware).unwrap_or(0);
        nodes::required_stake(&params, Role::Compute, capacity)
    }

    fn register_message(&self, index: usize) -> Message {
        let (hardware, region, kind, price_per_cu_usd) = self.node_hardware(index);
        let stake = self.required_stake(&hardware);
        Message::RegisterNode(RegisterNode {
            role: Role::Compute,
            kind,
            hardware,
            region,
            endpoint: format!("https://node-{index}.sim.invalid"),
            price_per_cu_usd,
            stake,
        })
    }

    /// Runs to the end of the scenario, calling `progress` with each simulated week finished.
    pub fn run(&mut self, progress: &mut dyn FnMut(u32)) -> Result<(), RunError> {
        let weeks = u64::from(self.scenario.weeks);
        let total_blocks = weeks * self.blocks_per_week;
        for block in 1..=total_blocks {
            self.step(block)?;
            if block % self.blocks_per_week == 0 {
                progress((block / self.blocks_per_week) as u32);
            }
        }
        Ok(())
    }

    /// Builds, executes and commits block `height` (its time is `height × block_time_s` after
    /// genesis), then lets every agent react.
    fn step(&mut self, height: u64) -> Result<(), RunError> {
        let block_s = self.scenario.block_time_s;
        let time_s = height * block_s;
        let txs = self.sign_outboxes();
        let context = BlockContext {
            height: Height(height),
            time_ms: GENESIS_MS + time_s * 1_000,
            beacon: Hash::of(
                vcity_types::hash::Domain::Beacon,
                &[
                    b"vcity-sim",
                    &self.seed.to_le_bytes(),
                    &height.to_le_bytes(),
                ],
            ),
            proposer: self.actors[0].account,
        };
        let ledger = &self.ledger;
        let executed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ledger.execute(context, txs, Mode::Propose)
        }));
        let (seed, subset) = (self.seed, self.subset);
        let halted = move |reason: String| RunError::Halted {
            seed,
            subset,
            height,
            reason,
        };
        let execution = match executed {
            Ok(Ok(execution)) => execution,
            Ok(Err(error)) => return Err(halted(error.to_string())),
            Err(panic) => {
                let reason = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
                    .unwrap_or_else(|| "panic".into());
                return Err(halted(reason));
            }
        };
        self.ledger.commit(&execution);
        self.recorder.block(&execution);
        // A dropped transaction (its fee could not be paid) leaves its sender's later nonces
        // unused; they are counted, and every nonce is read back from the ledger.
        if !execution.dropped.is_empty() {
            for actor in &mut self.actors {
                actor.nonce = vcity_ledger::auth::next_nonce(self.ledger.state(), &actor.account);
            }
        }
        let mut events: Vec<Event> = execution.block_events.clone();
        for receipt in &execution.receipts {
            events.extend(receipt.events.iter().cloned());
        }
        for event in &events {
            self.on_event(event);
        }
        if height % self.blocks_per_week == 0 {
            // The first block of a period closes the last: audit the whole state once a week.
            if let Err(reason) = vcity_ledger::audit_supply(self.ledger.state()) {
                return Err(halted(reason));
            }
        }
        self.act(height);
        Ok(())
    }

    /// Signs every queued result statement and transaction, on every core (signing is most of
    /// an agent's work, and deterministic: how the work is split changes no byte), and prepares
    /// the transactions in the actors' order.
    fn sign_outboxes(&mut self) -> Vec<PreparedTx> {
        let params = self.ledger.params();
        let fee = params.min_fee_usd;
        let chain_id = self.chain_id.clone();
        // Each result's statement, rebuilt from the message (it names its attempt), in the order
        // the messages sit in the outboxes.
        let statements: Vec<(&SigningKey, ResultStatement)> = self
            .actors
            .iter()
            .flat_map(|actor| {
                actor
                    .outbox
                    .iter()
                    .flat_map(|(_, messages)| messages)
                    .filter_map(|message| match message {
                        Message::SubmitResult(result) => Some(result.statement(&chain_id)),
                        _ => None,
                    })
                    .map(move |statement| (&actor.key, statement))
            })
            .collect();
        let mut signatures = parallel_map(&statements, |(key, statement)| {
            statement.clone().sign(key).signature
        })
        .into_iter();
        let mut bodies = Vec::new();
        for (index, actor) in self.actors.iter_mut().enumerate() {
            for (_, chunk) in std::mem::take(&mut actor.outbox) {
                debug_assert!(chunk.len() <= MAX_MESSAGES);
                let mut messages = chunk;
                for message in &mut messages {
                    if let Message::SubmitResult(result) = message {
                        result.signature = signatures
                            .next()
                            .expect("one statement was rebuilt for every result");
                    }
                }
                bodies.push((
                    index,
                    TxBody {
                        chain_id: chain_id.clone(),
                        sender: actor.account,
                        nonce: actor.nonce,
                        fee,
                        messages,
                    },
                ));
                actor.nonce += 1;
            }
        }
        debug_assert!(signatures.next().is_none(), "every statement signed once");
        let actors = &self.actors;
        let signed = parallel_map(&bodies, |(index, body)| {
            body.clone().sign(&actors[*index].key).to_bytes()
        });
        signed
            .into_iter()
            .map(
                |bytes| match vcity_ledger::app::prepare_unsigned(bytes, &chain_id, &params) {
                    Ok(prepared) => prepared,
                    // A transaction the simulator cannot even encode is a bug in it.
                    Err(error) => panic!("vcity-sim built a malformed transaction: {error}"),
                },
            )
            .collect()
    }

    fn on_event(&mut self, event: &Event) {
        match event {
            Event::JobSubmitted { job_id, owner, .. } => {
                let Some(job) = jobs::job(self.ledger.state(), *job_id) else {
                    return;
                };
                let works: Vec<u64> = borsh::from_slice(&job.workload.input).unwrap_or_default();
                let timeout_s = jobs::params(self.ledger.state()).placement_timeout_s;
                let until_s = job.submitted_s + timeout_s;
                self.jobs.insert(
                    *job_id,
                    JobView {
                        owner: job.owner,
                        requirements: job.requirements.clone(),
                        max_price_per_cu_usd: job.max_price_per_cu_usd,
                        open: works.len() as u32,
                    },
                );
                let owner_population = match self.buyer_of.get(owner) {
                    Some(&index) if index < self.buyers.len() => self.buyers[index].population,
                    Some(&index) => {
                        let wash = usize::MAX - index;
                        self.scenario.buyers.len() + self.washes[wash].population
                    }
                    None => return,
                };
                for (task, work_cu_ppm) in works.into_iter().enumerate() {
                    let id = (*job_id, task as u32);
                    self.tasks.insert(
                        id,
                        TaskInfo {
                            work_cu_ppm,
                            owner_population,
                        },
                    );
                    self.pending.insert(id);
                    self.pending_until.insert(id, until_s);
                }
            }
            Event::NodeRegistered { node, .. } => {
                if let Some(&index) = self.node_of.get(node) {
                    self.nodes[index].registered = true;
                    self.dirty.insert(index);
                }
            }
            Event::NodeHeartbeat { node, .. }
            | Event::StakeChanged { node, .. }
            | Event::NodeUpdated { node, .. } => {
                if let Some(&index) = self.node_of.get(node) {
                    self.dirty.insert(index);
                }
            }
            Event::TaskAssigned {
                job_id, task, node, ..
            } => {
                self.pending.remove(&(*job_id, *task));
                let now_s = self.now_s();
                if let Some(&index) = self.node_of.get(node) {
                    if now_s < self.nodes[index].down_until_s || self.nodes[index].gone {
                        // Down: it does not start; the start deadline returns the task.
                        return;
                    }
                    // The node starts computing as soon as it sees the assignment (a real node
                    // does within seconds); its StartTask lands in the next block, so the result
                    // comes a block after that at the earliest.
                    let due = self.due_height((*job_id, *task), index, 2);
                    self.nodes[index].running.insert((*job_id, *task), due);
                    let actor = self.nodes[index].actor;
                    self.send_batched(
                        actor,
                        Batch::Tasks,
                        Message::StartTask(StartTask {
                            job_id: *job_id,
                            task: *task,
                        }),
                    );
                }
            }
            Event::TaskReturned { job_id, task, .. } => {
                for node in &mut self.nodes {
                    node.running.remove(&(*job_id, *task));
                }
                self.pending.insert((*job_id, *task));
                let timeout_s = jobs::params(self.ledger.state()).placement_timeout_s;
                self.pending_until
                    .insert((*job_id, *task), self.now_s() + timeout_s);
                self.recorder.period.tasks_returned += 1;
            }
            Event::TaskSettled {
                job_id,
                task,
                node,
                node_usd,
                fee_usd,
                ..
            } => {
                let id = (*job_id, *task);
                let info = self.tasks.remove(&id);
                self.task_ended(id);
                self.recorder.period.fees_usd += usd_f(*fee_usd);
                if let Some(&index) = self.node_of.get(node) {
                    self.dirty.insert(index);
                    let income = usd_f(*node_usd);
                    self.nodes[index].week_usd += income;
                    self.recorder
                        .period
                        .node_usd(self.nodes[index].population, income);
                }
                if let Some(info) = info {
                    self.recorder.period.settled(
                        info.owner_population,
                        info.work_cu_ppm,
                        usd_f(*node_usd) + usd_f(*fee_usd),
                    );
                }
            }
            Event::TaskFailed {
                job_id,
                task,
                reason,
                ..
            } => {
                self.recorder.failure(reason);
                let id = (*job_id, *task);
                self.pending.remove(&id);
                self.tasks.remove(&id);
                self.task_ended(id);
                for node in &mut self.nodes {
                    node.running.remove(&id);
                }
                self.recorder.period.tasks_failed += 1;
            }
            Event::TaskSampled {
                job_id,
                task,
                verifier,
            } => {
                if let Some(&actor) = self.by_account.get(verifier) {
                    self.duties.push_back((actor, *job_id, *task));
                }
            }
            Event::DisputeOpened {
                dispute_id,
                subject: DisputeSubject::Task { job_id, task },
                ..
            } => {
                self.disputes.insert(*dispute_id, (*job_id, *task));
                self.recorder.period.disputes += 1;
            }
            Event::RefereesDrawn {
                dispute_id,
                referees,
                ..
            } => {
                if let Some(&(job_id, task)) = self.disputes.get(dispute_id) {
                    if let Some(truth) = self.truth(job_id, task) {
                        for referee in referees {
                            if let Some(&actor) = self.by_account.get(referee) {
                                self.send(
                                    actor,
                                    Message::RefereeVote(RefereeVote {
                                        dispute_id: *dispute_id,
                                        vote: Vote::Result {
                                            commitment: truth.clone(),
                                        },
                                    }),
                                );
                            }
                        }
                    }
                }
            }
            Event::StakeRequirementChanged { .. } => {
                for index in 0..self.nodes.len() {
                    self.top_up_stake(index);
                }
            }
            Event::DisputeResolved { dispute_id, .. } => {
                self.disputes.remove(dispute_id);
            }
            Event::Slashed {
                node,
                amount,
                offence,
                ..
            } => {
                self.recorder.slash(*offence);
                if let Some(&index) = self.node_of.get(node) {
                    self.dirty.insert(index);
                    self.top_up_stake(index);
                    let population = self.nodes[index].population;
                    self.recorder.period.slashed(population, vcai_f(*amount));
                }
            }
            Event::NodeBanned { node, .. } => {
                if let Some(&index) = self.node_of.get(node) {
                    self.nodes[index].gone = true;
                    self.nodes[index].running.clear();
                }
            }
            Event::IncentivesCredited {
                account,
                period,
                parts,
            } => {
                let total = vcai_f(parts.total().unwrap_or(Amount::ZERO));
                if let Some(&index) = self.node_of.get(account) {
                    self.nodes[index].week_vcai += total;
                    let population = self.nodes[index].population;
                    self.recorder.credit_node(*period, index, population, parts);
                } else if let Some(&buyer) = self.buyer_of.get(account) {
                    let population = if buyer < self.buyers.len() {
                        self.buyers[buyer].population
                    } else {
                        self.scenario.buyers.len() + self.washes[usize::MAX - buyer].population
                    };
                    self.recorder.credit_buyer(*period, population, parts);
                }
            }
            Event::RewardsClaimed { account, amount } => {
                if let Some(&population) = self.locker_of.get(account) {
                    *self
                        .recorder
                        .period
                        .claimed_by_locker
                        .entry(population)
                        .or_default() += vcai_f(*amount);
                }
            }
            Event::IncentivesClaimed { account, amount } => {
                let share = match self.node_of.get(account) {
                    Some(&index) => self
                        .scenario
                        .providers
                        .get(self.nodes[index].population)
                        .map_or(1.0, |group| group.sell_rewards),
                    None => 1.0,
                };
                let sell = vcai_f(*amount) * share;
                if let Some(&actor) = self.by_account.get(account) {
                    if sell > 1.0 {
                        self.send(
                            actor,
                            Message::SwapExactIn(SwapExactIn {
                                denom_in: Denom::Vcai,
                                amount_in: vcai(sell),
                                min_out: Amount::ZERO,
                            }),
                        );
                    }
                }
            }
            Event::Swapped {
                account,
                denom_in: Denom::Usd,
                amount_in,
                amount_out,
            } if *account == bank::treasury() => {
                self.recorder.period.buyback_usd += usd_f(*amount_in);
                self.recorder.period.buyback_vcai += vcai_f(*amount_out);
            }
            Event::IncentivePeriodSettled { period, .. } => {
                self.recorder.period_settled(*period);
            }
            Event::IncentivePeriodStarted { period, .. } if *period > 0 => {
                self.close_week(*period);
            }
            _ => {}
        }
    }

    /// The height after which a node that was assigned `id` in this block reports it: the
    /// work's duration on the node's GPU in whole blocks, at least `minimum` blocks.
    fn due_height(&self, id: (u64, u32), node: usize, minimum: u64) -> Option<u64> {
        let info = self.tasks.get(&id)?;
        let factor = self.nodes[node].factor_ppm as f64 / PPM;
        let seconds = info.work_cu_ppm as f64 / PPM / factor;
        let blocks = (seconds / self.scenario.block_time_s as f64).ceil() as u64;
        Some(self.ledger.height().0 + blocks.max(minimum) - 1)
    }

    fn task_ended(&mut self, (job_id, task): (u64, u32)) {
        self.pending_until.remove(&(job_id, task));
        if let Some(view) = self.jobs.get_mut(&job_id) {
            view.open = view.open.saturating_sub(1);
            if view.open == 0 {
                self.jobs.remove(&job_id);
            }
        }
    }

    /// A node whose bond is below the requirement (the weekly repricing raised it, or a slash
    /// took part of it) adds what is missing at once, buying VCAI with its USD if it must.
    fn top_up_stake(&mut self, index: usize) {
        let node = &self.nodes[index];
        if node.gone || !node.registered {
            return;
        }
        let actor = node.actor;
        let account = self.actors[actor].account;
        let params = nodes::params(self.ledger.state());
        let Some(record) = nodes::node(self.ledger.state(), &account) else {
            return;
        };
        let required = nodes::required_stake(&params, Role::Compute, record.capacity_cu_ppm);
        if record.stake >= required {
            return;
        }
        let short = required.checked_sub(record.stake).unwrap_or(Amount::ZERO);
        let have = bank::balance(self.ledger.state(), &account, Denom::Vcai);
        let mut top_up = Vec::new();
        if have < short {
            let buy = short.checked_sub(have).unwrap_or(Amount::ZERO);
            let usd_have = bank::balance(self.ledger.state(), &account, Denom::Usd);
            top_up.push(Message::SwapExactOut(SwapExactOut {
                denom_out: Denom::Vcai,
                amount_out: buy,
                max_in: usd_have.checked_sub(usd(10.0)).unwrap_or(Amount::ZERO),
            }));
        }
        top_up.push(Message::AddStake(vcity_types::compute::AddStake {
            amount: short,
        }));
        self.actors[actor].outbox.push((None, top_up));
    }

    /// The honest commitment of a task's current attempt.
    fn truth(&self, job_id: u64, task: u32) -> Option<ResultCommitment> {
        let info = self.tasks.get(&(job_id, task))?;
        let job = jobs::job(self.ledger.state(), job_id)?;
        let attempt = job.tasks.get(task as usize)?.attempts;
        Some(honest(job_id, task, attempt, info.work_cu_ppm))
    }

    /// What every agent does for the next block.
    fn act(&mut self, height: u64) {
        let now_s = self.now_s();
        let next_s = now_s + self.scenario.block_time_s;
        self.verifier_duties();
        self.node_work(height, now_s);
        if height % self.heartbeat_blocks == (self.heartbeat_blocks - 1) % self.heartbeat_blocks
            || height == 1
        {
            self.service_heartbeats();
        }
        // Jobs whose owner's deposit landed in the block just executed.
        for (actor, message) in std::mem::take(&mut self.deferred) {
            self.send(actor, message);
        }
        self.complete_joins();
        self.demand(next_s);
        self.place(now_s);
        if now_s % DAY_S == 0 {
            self.trade();
        }
    }

    fn verifier_duties(&mut self) {
        while let Some((actor, job_id, task)) = self.duties.pop_front() {
            let Some(truth) = self.truth(job_id, task) else {
                continue;
            };
            let Some(job) = jobs::job(self.ledger.state(), job_id) else {
                continue;
            };
            let committed = match &job.tasks.get(task as usize).map(|entry| &entry.state) {
                Some(vcity_types::compute::TaskState::Completed { commitment, .. }) => {
                    commitment.clone()
                }
                _ => continue,
            };
            let message = if committed == truth {
                Message::VerifyResult(VerifyResult {
                    job_id,
                    task,
                    commitment: truth,
                })
            } else {
                Message::ChallengeResult(ChallengeResult {
                    job_id,
                    task,
                    commitment: truth,
                })
            };
            self.send(actor, message);
        }
    }

    fn service_heartbeats(&mut self) {
        let mut service = vec![self.scheduler];
        service.extend(self.verifiers.iter().copied());
        for actor in service {
            self.send(
                actor,
                Message::NodeHeartbeat(NodeHeartbeat {
                    load_ppm: 0,
                    running_tasks: 0,
                    health: healthy(),
                }),
            );
        }
    }

    /// Each node: heartbeat on its day, report results that are due, keep its stake.
    fn node_work(&mut self, height: u64, now_s: u64) {
        let scenario = std::rc::Rc::clone(&self.scenario);
        for index in 0..self.nodes.len() {
            if self.nodes[index].gone || !self.nodes[index].registered {
                continue;
            }
            let population = self.nodes[index].population;
            let group = scenario.providers.get(population);
            // Up or down: a new down spell starts on a node's heartbeat block.
            let beat = height % self.heartbeat_blocks == self.nodes[index].phase;
            if beat && now_s >= self.nodes[index].down_until_s {
                if let Some(group) = group {
                    let spell_days = f64::from(group.outage_days);
                    let interval_days = scenario.heartbeat_interval_s as f64 / DAY_S as f64;
                    let start = (1.0 - group.uptime) / (group.uptime * spell_days) * interval_days;
                    if self.rng.chance(start.min(1.0)) {
                        self.nodes[index].down_until_s =
                            now_s + u64::from(group.outage_days) * DAY_S;
                        self.dirty.insert(index);
                        // What it was running goes back to pending now: with heartbeats every
                        // minute the ledger would see the node offline within minutes and return
                        // them; the simulator's daily heartbeats would hold them for two days.
                        let actor = self.nodes[index].actor;
                        let held: Vec<(u64, u32)> = std::mem::take(&mut self.nodes[index].running)
                            .into_keys()
                            .collect();
                        for (job_id, task) in held {
                            self.send_batched(
                                actor,
                                Batch::Tasks,
                                Message::FailTask(vcity_types::compute::FailTask {
                                    job_id,
                                    task,
                                    reason: "the node went down".into(),
                                }),
                            );
                        }
                    }
                }
            }
            let up = now_s >= self.nodes[index].down_until_s;
            if !up {
                continue;
            }
            if self.nodes[index].down_until_s == now_s && now_s > 0 {
                // Back up this block.
                self.dirty.insert(index);
            }
            let actor = self.nodes[index].actor;
            if beat && !(self.nodes[index].leaving && self.nodes[index].running.is_empty()) {
                let running = self.nodes[index].running.len() as u32;
                let gpus = self.nodes[index].gpus.max(1);
                self.send(
                    actor,
                    Message::NodeHeartbeat(NodeHeartbeat {
                        load_ppm: (u64::from(running.min(gpus)) * 1_000_000 / u64::from(gpus))
                            as u32,
                        running_tasks: running,
                        health: healthy(),
                    }),
                );
            }
            // Results due now.
            let due: Vec<(u64, u32)> = self.nodes[index]
                .running
                .iter()
                .filter(|(_, due)| due.is_some_and(|at| at <= height))
                .map(|(id, _)| *id)
                .collect();
            for (job_id, task) in due {
                self.nodes[index].running.remove(&(job_id, task));
                let Some(info) = self.tasks.get(&(job_id, task)).copied() else {
                    continue;
                };
                let Some(job) = jobs::job(self.ledger.state(), job_id) else {
                    continue;
                };
                let attempt = job
                    .tasks
                    .get(task as usize)
                    .map_or(0, |entry| entry.attempts);
                let mut commitment = honest(job_id, task, attempt, info.work_cu_ppm);
                let node = &self.nodes[index];
                let lie_rate = group.map_or(0.0, |group| group.lie_rate);
                if node.liar && self.rng.chance(lie_rate) {
                    commitment.output = Hash::of(
                        vcity_types::hash::Domain::Content,
                        &[
                            b"vcity-sim/made-up",
                            &job_id.to_le_bytes(),
                            &task.to_le_bytes(),
                        ],
                    );
                    self.recorder.period.lies += 1;
                } else if node.overbiller {
                    let factor = group.map_or(0.0, |group| group.overbill_factor);
                    let claimed = (info.work_cu_ppm as f64 * (1.0 + factor)) as u64;
                    commitment.cu_used_ppm = claimed.min(job.max_cu_ppm_per_task);
                    self.recorder.period.lies += 1;
                }
                // Its statement is signed with the block's transactions (`sign_outboxes`).
                self.send_batched(
                    actor,
                    Batch::Result,
                    Message::SubmitResult(SubmitResult {
                        job_id,
                        task,
                        attempt,
                        commitment,
                        signature: Signature([0; 64]),
                    }),
                );
            }
        }
    }

    /// Buyers submit the period's demand, spread over blocks; wash traders buy from themselves.
    fn demand(&mut self, next_s: u64) {
        let scenario = std::rc::Rc::clone(&self.scenario);
        let week = next_s as f64 / WEEK_S as f64;
        let blocks_per_week = self.blocks_per_week as f64;
        for (population, group) in scenario.buyers.iter().enumerate() {
            let response = self.price_ratio[population].powf(-group.elasticity);
            let hours =
                group.gpu_hours_per_week * group.demand.factor(week) * response / blocks_per_week;
            let mean_task = (group.task_hours[0] + group.task_hours[1]) / 2.0;
            let expected = hours / mean_task;
            let tasks = self.rng.poisson(expected.max(0.0)) as u32;
            let members: Vec<usize> = self
                .buyers
                .iter()
                .enumerate()
                .filter(|(_, buyer)| buyer.population == population)
                .map(|(index, _)| index)
                .collect();
            let mut left = tasks;
            while left > 0 {
                let count = left.min(group.tasks_per_job);
                left -= count;
                let buyer = members[self.rng.below(members.len() as u64) as usize];
                let works: Vec<u64> = (0..count)
                    .map(|_| {
                        let hours = self.rng.range(group.task_hours[0], group.task_hours[1]);
                        (hours * 3_600.0 * PPM) as u64
                    })
                    .collect();
                let level = scenario::level(&group.verification).expect("checked");
                let message = self.job_message(
                    works,
                    None,
                    group.max_price_per_gpu_hour_usd,
                    group.task_hours[1],
                    level,
                );
                self.fund_and_send(self.buyers[buyer].actor, message);
            }
        }
        for index in 0..self.washes.len() {
            let population = self.washes[index].population;
            let group = scenario.wash_traders[population].clone();
            let node = self.washes[index].node;
            if !self.nodes[node].registered {
                continue;
            }
            let expected = group.gpu_hours_per_week / blocks_per_week + self.wash_carry[population];
            let whole = expected.floor();
            self.wash_carry[population] = expected - whole;
            if whole < 1.0 {
                continue;
            }
            let works = vec![(3_600.0 * PPM) as u64; whole.min(64.0) as usize];
            let level = scenario::level(&group.verification).expect("checked");
            let message = self.job_message(
                works,
                Some(wash_region(node)),
                group.price_per_gpu_hour_usd,
                1.0,
                level,
            );
            self.fund_and_send(self.washes[index].buyer, message);
        }
    }

    fn job_message(
        &self,
        works: Vec<u64>,
        region: Option<String>,
        max_price_per_gpu_hour_usd: f64,
        longest_task_hours: f64,
        verification: vcity_types::trust::VerificationLevel,
    ) -> Message {
        let overbill = self
            .scenario
            .providers
            .iter()
            .map(|group| group.overbill_factor)
            .fold(0.0, f64::max);
        let max_cu_ppm = (longest_task_hours * 3_600.0 * PPM * (1.0 + overbill)) as u64 + 1;
        let block_s = self.scenario.block_time_s;
        // The slowest GPU in the table (RTX3090, 0.45) must finish it, a block late at most.
        let max_duration_s = (longest_task_hours * 3_600.0 / 0.45) as u64 + 2 * block_s;
        Message::SubmitJob(SubmitJob {
            workload: Workload {
                module_hash: Hash::of(vcity_types::hash::Domain::Content, &[b"vcity-sim/module"]),
                input: borsh::to_vec(&works).expect("encodes"),
                executor: ExecutorKind::default(),
                shards: Vec::new(),
                service: None,
                output_dir: false,
                confidential: None,
            },
            tasks: works.len() as u32,
            requirements: Requirements {
                gpu_model: None,
                gpu_count: 1,
                min_vram_mib: 0,
                region,
                max_duration_s,
                node_kind: None,
                gang: false,
                high_load: false,
                sandbox: None,
                tee: Default::default(),
            },
            max_cu_ppm_per_task: max_cu_ppm,
            max_price_per_cu_usd: price_per_cu(max_price_per_gpu_hour_usd, 1_000_000),
            billing: Billing::PayAsYouGo,
            verification,
            retries: None,
        })
    }

    /// Sends `message` (a job) from `actor`, with a bridge deposit from the USD issuer first if
    /// its balance would not cover the escrow: buyers bring their USD from outside the chain.
    fn fund_and_send(&mut self, actor: usize, message: Message) {
        if let Message::SubmitJob(job) = &message {
            let escrow = u128::from(job.tasks)
                * (u128::from(job.max_cu_ppm_per_task) / 1_000_000 + 1)
                * job.max_price_per_cu_usd.base_units()
                * 2;
            let account = self.actors[actor].account;
            let balance = bank::balance(self.ledger.state(), &account, Denom::Usd).base_units();
            if balance < escrow * 4 {
                let issuer = self.issuer;
                self.send(
                    issuer,
                    Message::MintUsd(MintUsd {
                        to: account,
                        amount: Amount::new(escrow * 8),
                    }),
                );
                // The deposit lands in this block; the job waits for the next.
                self.deferred.push((actor, message));
                return;
            }
        }
        self.send(actor, message);
    }

    /// The scheduler: the real placement engine over the ledger's nodes and the pending tasks.
    fn place(&mut self, now_s: u64) {
        if self.pending.is_empty() {
            return;
        }
        self.engine.advance(now_s);
        let params = nodes::params(self.ledger.state());
        let params_changed = params != self.engine_params;
        if params_changed {
            // The weekly repricing moved the stake requirement: every node's standing may have
            // changed.
            self.engine.set_params(params.clone());
            self.engine_params = params;
        }
        let next_s = now_s + self.scenario.block_time_s;
        let refresh: Vec<usize> = if params_changed {
            (0..self.nodes.len()).collect()
        } else {
            std::mem::take(&mut self.dirty).into_iter().collect()
        };
        self.dirty.clear();
        for index in refresh {
            let node = &self.nodes[index];
            let account = self.actors[node.actor].account;
            // A node that is down is not offered work: with heartbeats every minute, as real
            // nodes send them, a scheduler sees it gone within minutes; the simulator's daily
            // heartbeats would hide it for two days and make it miss start deadlines.
            let up = now_s >= node.down_until_s;
            match nodes::node(self.ledger.state(), &account) {
                Some(record) if up && !node.gone && !node.leaving => {
                    self.engine.upsert(&record, Some(ROUND_TRIP_MS))
                }
                _ => self.engine.remove(&account),
            }
        }
        self.engine.clear_usage();
        let request = |views: &BTreeMap<u64, JobView>, job_id: u64, task: u32| {
            views.get(&job_id).map(|view| Request {
                job: job_id,
                task,
                owner: view.owner,
                requirements: view.requirements.clone(),
                max_price_per_cu_usd: view.max_price_per_cu_usd,
            })
        };
        let mut requests = Vec::new();
        for &id in &self.pending {
            // A task whose placement timeout passes before the next block fails there.
            if self
                .pending_until
                .get(&id)
                .is_some_and(|until| *until <= next_s)
            {
                continue;
            }
            requests.extend(request(&self.jobs, id.0, id.1));
        }
        // What nodes hold already.
        for node in &self.nodes {
            let account = self.actors[node.actor].account;
            for &(job_id, task) in node.running.keys() {
                if let Some(held) = request(&self.jobs, job_id, task) {
                    self.engine.occupy(&account, &held);
                }
            }
        }
        let round = Round::new(&self.engine, requests);
        let decisions = round.run(&mut self.engine);
        for (_, decision) in decisions {
            if let UnitDecision::Assign(allocations) = decision {
                for allocation in allocations {
                    self.pending.remove(&(allocation.job, allocation.task));

                    let scheduler = self.scheduler;
                    self.send_batched(
                        scheduler,
                        Batch::Assign,
                        Message::AssignTask(AssignTask {
                            job_id: allocation.job,
                            task: allocation.task,
                            node: allocation.node,
                        }),
                    );
                }
            }
        }
    }

    /// Noise traders swap once a day.
    fn trade(&mut self) {
        let scenario = std::rc::Rc::clone(&self.scenario);
        for index in 0..self.traders.len() {
            let group = &scenario.traders[self.traders[index].population];
            let size = self.rng.range(0.0, 2.0 * group.usd_per_day);
            let buy = self.rng.chance(0.5);
            let reserves = pool::reserves(self.ledger.state());
            let price = usd_f(reserves.usd) / vcai_f(reserves.vcai).max(1.0);
            let message = if buy {
                Message::SwapExactIn(SwapExactIn {
                    denom_in: Denom::Usd,
                    amount_in: usd(size),
                    min_out: Amount::ZERO,
                })
            } else {
                Message::SwapExactIn(SwapExactIn {
                    denom_in: Denom::Vcai,
                    amount_in: vcai(size / price.max(1e-9)),
                    min_out: Amount::ZERO,
                })
            };
            let actor = self.traders[index].actor;
            self.send(actor, message);
        }
    }

    /// A period closed (its first block opened `period`): record the week, then the agents'
    /// weekly decisions (claims, stake top-ups, relocks, entry and exit).
    fn close_week(&mut self, period: u64) {
        let closed = period - 1;
        let scenario = std::rc::Rc::clone(&self.scenario);
        let state = self.ledger.state();
        let closed_record = incentives::period(state, closed);
        let reserves = pool::reserves(state);
        let price = if reserves.vcai.is_zero() {
            0.0
        } else {
            usd_f(reserves.usd) / vcai_f(reserves.vcai)
        };
        // Effective price per population: settled USD per reference GPU-hour, less rebates.
        for population in 0..scenario.buyers.len() {
            let group = &scenario.buyers[population];
            let stats = &self.recorder.period;
            let hours = stats.cu_by_owner.get(&population).copied().unwrap_or(0.0) / 3_600.0;
            if hours > 0.0 {
                let paid = stats.usd_by_owner.get(&population).copied().unwrap_or(0.0);
                let rebates = self
                    .recorder
                    .rebates_of(closed.saturating_sub(1), population)
                    * price;
                let effective = ((paid - rebates) / hours).max(0.0);
                let ratio = effective / group.reference_price_per_gpu_hour_usd;
                // Smoothed, so one odd week does not swing demand.
                self.price_ratio[population] =
                    (0.5 * self.price_ratio[population] + 0.5 * ratio).clamp(0.1, 10.0);
            }
        }
        let active: Vec<bool> = self
            .nodes
            .iter()
            .map(|node| node.registered && !node.gone)
            .collect();
        let summary = self.nodes_summary(&active);
        let node_params = nodes::params(self.ledger.state());
        let now_s = self.now_s();
        let paused = self
            .nodes
            .iter()
            .filter(|node| node.registered && !node.gone)
            .filter_map(|node| nodes::node(self.ledger.state(), &self.actors[node.actor].account))
            .filter(|record| {
                nodes::standing(&node_params, record, now_s) == nodes::Standing::Paused
            })
            .count();
        let elapsed_s = self.now_s();
        let vested_unclaimed = vcity_ledger::vesting::grants(
            self.ledger.state(),
            &self.actors[self.foundation].account,
        )
        .iter()
        .map(|grant| grant.claimable(elapsed_s))
        .fold(Amount::ZERO, |sum, part| {
            sum.checked_add(part).unwrap_or(sum)
        });
        self.recorder.close_period(crate::metrics::WeekEnd {
            closed,
            state: self.ledger.state(),
            record: closed_record.as_ref(),
            price_usd: price,
            node_list: &summary,
            paused,
            vested_unclaimed,
        });
        // Weekly decisions.
        for index in 0..self.nodes.len() {
            if self.nodes[index].gone || !self.nodes[index].registered {
                continue;
            }
            let actor = self.nodes[index].actor;
            let (population, gpus) = (self.nodes[index].population, self.nodes[index].gpus);
            self.claim(actor);
            // A slash or the repricing may have left the bond short without a top-up going
            // through (no USD then); try again weekly.
            self.top_up_stake(index);
            // Entry and exit decisions on the trailing margin.
            let Some(group) = scenario.providers.get(population) else {
                continue;
            };
            let cost = f64::from(gpus) * group.cost_per_gpu_hour_usd * 168.0;
            let node = &mut self.nodes[index];
            // A `follow_load` node raises its price 5% after a week its GPUs were more than 90%
            // sold and lowers it 5% (never below its cost) after one under 50%.
            if group.price_strategy == "follow_load" {
                let capacity_usd = f64::from(gpus) * node.price_per_gpu_hour_usd * 168.0;
                let sold = if capacity_usd > 0.0 {
                    node.week_usd / capacity_usd
                } else {
                    0.0
                };
                let old_price = node.price_per_gpu_hour_usd;
                if sold > 0.9 {
                    node.price_per_gpu_hour_usd *= 1.05;
                } else if sold < 0.5 {
                    node.price_per_gpu_hour_usd =
                        (old_price * 0.95).max(group.cost_per_gpu_hour_usd);
                }
                if node.price_per_gpu_hour_usd != old_price {
                    let price_per_cu_usd =
                        price_per_cu(node.price_per_gpu_hour_usd, node.factor_ppm);
                    let actor = node.actor;
                    self.actors[actor].outbox.push((
                        None,
                        vec![Message::UpdateNode(vcity_types::compute::UpdateNode {
                            price_per_cu_usd: Some(price_per_cu_usd),
                            endpoint: None,
                            hardware: None,
                        })],
                    ));
                }
            }
            let node = &mut self.nodes[index];
            let income = node.week_usd + node.week_vcai * price;
            let margin = if cost > 0.0 { income / cost - 1.0 } else { 1.0 };
            node.margin = 0.75 * node.margin + 0.25 * margin;
            node.week_usd = 0.0;
            node.week_vcai = 0.0;
            let age_weeks = closed;
            let leave = group.churn_per_week
                + group.exit_rate * (-node.margin).clamp(0.0, 1.0) * f64::from(age_weeks >= 4);
            if !node.leaving && self.rng.chance(leave) {
                node.leaving = true;
            }
        }
        for index in 0..self.nodes.len() {
            let node = &mut self.nodes[index];
            if node.leaving && !node.gone && node.running.is_empty() {
                // Leaves: deregisters (its whole bond starts unbonding) and stops beating.
                node.gone = true;
                let actor = node.actor;
                self.send(
                    actor,
                    Message::Deregister(vcity_types::trust::Deregister {}),
                );
            }
        }
        self.joins(&scenario);
        // Wash traders claim their rewards (Proof of Delivery for the node, rebates for the
        // buyer) every week too.
        for index in 0..self.washes.len() {
            let buyer = self.washes[index].buyer;
            self.claim(buyer);
        }
        for index in 0..self.buyers.len() {
            if self.rng.chance(0.25) {
                let actor = self.buyers[index].actor;
                self.claim(actor);
            }
        }
        // Lockers: claim the buyback stream; relock when a lock ends.
        let week = (self.now_s() / WEEK_S) as u32;
        for index in 0..self.lockers.len() {
            let group = &scenario.lockers[self.lockers[index].population];
            let actor = self.lockers[index].actor;
            let locker = &mut self.lockers[index];
            if locker.locked && week >= locker.unlock_week {
                locker.locked = false;
                let mut messages = vec![Message::VeWithdraw(VeWithdraw {})];
                if group.relock {
                    locker.unlock_week = week + 1 + group.lock_weeks;
                    messages.push(Message::VeLock(VeLock {
                        amount: vcai(group.vcai_each),
                        unlock_week: locker.unlock_week,
                    }));
                    locker.locked = true;
                }
                for message in messages {
                    self.send(actor, message);
                }
            } else {
                if !locker.locked && week == 1 {
                    locker.locked = true;
                }
                self.claim(actor);
            }
        }
    }

    fn nodes_summary(&self, active: &[bool]) -> Vec<(usize, u32, bool)> {
        self.nodes
            .iter()
            .zip(active)
            .map(|(node, active)| (node.population, node.gpus, *active))
            .collect()
    }

    /// New nodes join where the last weeks paid: each population's mean margin decides.
    fn joins(&mut self, scenario: &Scenario) {
        for (population, group) in scenario.providers.iter().enumerate() {
            if group.max_joins_per_week <= 0.0 {
                continue;
            }
            let margins: Vec<f64> = self
                .nodes
                .iter()
                .filter(|node| node.population == population && node.registered && !node.gone)
                .map(|node| node.margin)
                .collect();
            let margin = if margins.is_empty() {
                0.0
            } else {
                margins.iter().sum::<f64>() / margins.len() as f64
            };
            let joins = self
                .rng
                .poisson(group.max_joins_per_week * margin.clamp(0.0, 1.0));
            for _ in 0..joins {
                let actor = {
                    let index = self.actors.len();
                    let key = key_of(self.seed, index);
                    let account = AccountId::from_public_key(&key.verifying_key());
                    self.actors.push(Actor {
                        key,
                        account,
                        nonce: 0,
                        outbox: Vec::new(),
                    });
                    self.by_account.insert(account, index);
                    index
                };
                let mut node = new_node(actor, population, group, &mut self.rng, true);
                node.phase = self.nodes.len() as u64 % self.heartbeat_blocks;
                self.nodes.push(node);
                let index = self.nodes.len() - 1;
                let account = self.actors[actor].account;
                self.node_of.insert(account, index);
                // The operator deposits USD for the stake and its fees; it buys the stake next
                // block and registers with it.
                let (hardware, ..) = self.node_hardware(index);
                let stake = self.required_stake(&hardware);
                let reserves = pool::reserves(self.ledger.state());
                let fee_bps = pool::params(self.ledger.state()).fee_bps;
                let cost = pool::amount_in(
                    stake.base_units(),
                    reserves.usd.base_units(),
                    reserves.vcai.base_units(),
                    fee_bps,
                )
                .unwrap_or(0);
                // Twice the price now, in case the price moves before it buys.
                let deposit = Amount::new(cost.saturating_mul(2))
                    .checked_add(usd(NODE_USD))
                    .unwrap_or(Amount::new(cost));
                let issuer = self.issuer;
                self.send(
                    issuer,
                    Message::MintUsd(MintUsd {
                        to: account,
                        amount: deposit,
                    }),
                );
                self.recorder.period.joins += 1;
            }
        }
    }

    /// Nodes whose bridge deposit landed buy their stake on the pool and register.
    fn complete_joins(&mut self) {
        for index in 0..self.nodes.len() {
            if !self.nodes[index].joining {
                continue;
            }
            let account = self.actors[self.nodes[index].actor].account;
            if bank::balance(self.ledger.state(), &account, Denom::Usd).is_zero() {
                continue;
            }
            self.nodes[index].joining = false;
            let (hardware, ..) = self.node_hardware(index);
            let stake = self.required_stake(&hardware);
            let usd_have = bank::balance(self.ledger.state(), &account, Denom::Usd);
            let swap = Message::SwapExactOut(SwapExactOut {
                denom_out: Denom::Vcai,
                amount_out: stake,
                max_in: usd_have
                    .checked_sub(usd(NODE_USD / 2.0))
                    .unwrap_or(usd_have),
            });
            let register = self.register_message(index);
            let actor = self.nodes[index].actor;
            self.actors[actor].outbox.push((None, vec![swap, register]));
        }
    }
}

fn wash_region(node: usize) -> String {
    format!("wash-{node}")
}

fn wash_providers(group: &scenario::WashTraders) -> scenario::Providers {
    scenario::Providers {
        name: group.name.clone(),
        count: group.count,
        gpu_model: group.gpu_model.clone(),
        gpus: 1,
        vram_gib: 80,
        kind: "stable".into(),
        price_per_gpu_hour_usd: group.price_per_gpu_hour_usd,
        price_strategy: "fixed".into(),
        cost_per_gpu_hour_usd: 0.0,
        uptime: 1.0,
        outage_days: 1,
        max_joins_per_week: 0.0,
        exit_rate: 0.0,
        churn_per_week: 0.0,
        sell_rewards: 1.0,
        liar_share: 0.0,
        lie_rate: 0.0,
        overbill_share: 0.0,
        overbill_factor: 0.0,
        region: String::new(),
    }
}

fn new_node(
    actor: usize,
    population: usize,
    group: &scenario::Providers,
    rng: &mut Rng,
    joining: bool,
) -> Node {
    let liar = rng.chance(group.liar_share);
    let overbiller = !liar && rng.chance(group.overbill_share);
    Node {
        actor,
        population,
        gpus: group.gpus,
        factor_ppm: gpu_factor_ppm(&group.gpu_model),
        registered: false,
        joining,
        leaving: false,
        gone: false,
        liar,
        overbiller,
        down_until_s: 0,
        phase: 0,
        running: BTreeMap::new(),
        margin: 0.0,
        price_per_gpu_hour_usd: group.price_per_gpu_hour_usd,
        week_usd: 0.0,
        week_vcai: 0.0,
    }
}

fn jobs_params(scenario: &Scenario) -> vcity_ledger::jobs::JobParams {
    let block_s = scenario.block_time_s;
    let mut params = vcity_ledger::jobs::JobParams {
        // A node starts what it was assigned in the next block; a result is sampled by the next
        // block's beacon, checked in the block after, and paid in the one after that.
        start_deadline_s: 2 * block_s,
        verification_window_s: 3 * block_s,
        placement_timeout_s: (4 * block_s).max(DAY_S),
        bucket_s: block_s.min(3_600),
        ..Default::default()
    };
    if let Some(fee) = scenario.params.network_fee {
        params.network_fee_ppm = ppm(fee);
        for tier in &mut params.fee_tiers {
            tier.fee_ppm = tier.fee_ppm.min(params.network_fee_ppm);
        }
    }
    params
}

fn ledger_node_params(scenario: &Scenario) -> vcity_ledger::nodes::NodeParams {
    let mut params = vcity_ledger::nodes::NodeParams {
        heartbeat_interval_s: scenario.heartbeat_interval_s,
        offline_after_intervals: 2,
        ..Default::default()
    };
    if let Some(stake) = scenario.params.stake_usd_per_cu {
        params.stake_usd_per_cu = usd(stake);
        // The opening requirement at the opening price.
        let price = scenario.pool_usd / 99_970_000.0;
        params.stake_per_cu = vcai(stake / price);
    }
    params
}

#[allow(clippy::too_many_arguments)]
fn build_genesis(
    scenario: &Scenario,
    actors: &[Actor],
    validator: usize,
    issuer: usize,
    foundation: usize,
    scheduler: usize,
    verifiers: &[usize],
    nodes_list: &[Node],
    lockers: &[Locker],
    traders: &[Trader],
) -> Result<Genesis, RunError> {
    let account = |index: usize| actors[index].account;
    let trust = {
        let mut trust = vcity_ledger::trust::TrustParams {
            capacity_challenges: false,
            probation_challenges: 0,
            referee_window_s: 2 * scenario.block_time_s,
            strike_window_s: DAY_S.max(scenario.block_time_s * 4),
            related_funding_blocks: scenario.params.related_funding_blocks.unwrap_or(1_000),
            ..Default::default()
        };
        if let Some(rate) = scenario.params.sampling_rate {
            trust.level_rates_ppm[1] = ppm(rate);
        }
        if let Some(slash) = scenario.params.wrong_result_slash {
            for rule in &mut trust.offences {
                if rule.offence == vcity_types::trust::Offence::WrongResult {
                    rule.slash_ppm = ppm(slash);
                }
            }
        }
        trust
    };
    let mut incentive_params = vcity_ledger::incentives::IncentiveParams::default();
    if let Some(k) = scenario.params.k {
        incentive_params.k_ppm = ppm(k);
    }
    if let Some(target) = scenario.params.target_utilization {
        incentive_params.target_utilization_ppm = ppm(target);
    }
    if let Some(share) = scenario.params.initial_supply_share {
        incentive_params.initial_supply_share_ppm = ppm(share);
    }
    if let Some(share) = scenario.params.capacity_share {
        incentive_params.capacity_share_ppm = ppm(share);
    }
    let node_params = ledger_node_params(scenario);
    let mut genesis = Genesis {
        chain_id: "vcity-sim".into(),
        genesis_time_ms: GENESIS_MS,
        usd_issuer: account(issuer),
        validators: vec![Validator {
            name: "sim".into(),
            public_key: account(validator),
            power: 1,
        }],
        trust: Some(trust),
        nodes: Some(node_params.clone()),
        jobs: Some(jobs_params(scenario)),
        incentives: Some(incentive_params),
        ..Default::default()
    };
    genesis = genesis
        .with_spec_allocation(&SpecBeneficiaries {
            private_sale: account(foundation),
            public_sale: account(foundation),
            core_team: account(foundation),
            advisors: account(foundation),
            liquidity: account(foundation),
            nft_owners: Vec::new(),
            pool_usd: usd(scenario.pool_usd),
        })
        .map_err(|error| RunError::Genesis(error.to_string()))?;
    // Participants' VCAI comes out of the sales' TGE releases (they bought it there), so the
    // total stays 10,000,000,000.
    let mut accounts: Vec<GenesisAccount> = Vec::new();
    let mut carve = Amount::ZERO;
    let mut fund = |id: AccountId, vcai_amount: Amount, usd_amount: Amount| {
        carve = carve.checked_add(vcai_amount).expect("fits");
        accounts.push(GenesisAccount {
            name: None,
            id,
            vcai: vcai_amount,
            usd: usd_amount,
        });
    };
    // The issuer pays fees for its bridge deposits.
    fund(account(issuer), Amount::ZERO, usd(1_000_000.0));
    let per_cu = node_params.stake_per_cu;
    let service = node_params.min_service_stake;
    fund(
        account(scheduler),
        service.checked_add(vcai(1_000.0)).expect("fits"),
        usd(10_000.0),
    );
    for &verifier in verifiers {
        fund(
            account(verifier),
            service.checked_add(vcai(200_000.0)).expect("fits"),
            usd(10_000.0),
        );
    }
    for node in nodes_list {
        if node.joining {
            continue;
        }
        let capacity_cu =
            node.factor_ppm as f64 / PPM * f64::from(node.gpus) + f64::from(2 * node.gpus) * 0.01;
        // The requirement plus half again, for top-ups when the price falls.
        let stake = vcai(vcai_f(per_cu) * capacity_cu * 1.5 + 10.0);
        fund(account(node.actor), stake, usd(NODE_USD));
    }
    for locker in lockers {
        let group = &scenario.lockers[locker.population];
        fund(account(locker.actor), vcai(group.vcai_each), usd(100.0));
    }
    for trader in traders {
        let group = &scenario.traders[trader.population];
        let price = scenario.pool_usd / 99_970_000.0;
        fund(
            account(trader.actor),
            vcai(group.usd_per_day * 50.0 / price),
            usd(group.usd_per_day * 50.0),
        );
    }
    // Taken from the Private Sale's TGE release first, then the Public Sale's.
    let mut left = carve;
    let mut available = Amount::ZERO;
    for name in ["private_sale", "public_sale"] {
        let Some(grant) = genesis
            .allocations
            .iter_mut()
            .find(|allocation| allocation.name == name)
            .and_then(|allocation| allocation.grants.first_mut())
        else {
            continue;
        };
        let take = grant.schedule.at_tge.min(left);
        available = available.checked_add(grant.schedule.at_tge).expect("fits");
        grant.schedule.at_tge = grant.schedule.at_tge.checked_sub(take).expect("at most it");
        grant.schedule.total = grant.schedule.total.checked_sub(take).expect("at most it");
        left = left.checked_sub(take).expect("at most it");
    }
    if !left.is_zero() {
        return Err(RunError::Genesis(format!(
            "the participants hold {:.0} VCAI at genesis, more than the Private and Public \
             Sales' {:.0} at TGE",
            vcai_f(carve),
            vcai_f(available)
        )));
    }
    genesis.accounts.extend(accounts);
    Ok(genesis)
}
