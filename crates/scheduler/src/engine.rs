//! The engine: a live inventory of compute nodes and the placement of tasks on them.
//!
//! **The rule.** A task may go to a node that `vcity_ledger::jobs::fits` it (role, online,
//! healthy, staked, price at most the job's, region, node kind, GPU model, VRAM, GPU count on the
//! one node) and that has room: a free CPU slot (one per core) and, for a GPU task, `gpu_count`
//! free GPUs that match. A multi-GPU task is all-or-nothing on one node; a gang job (its
//! requirements say `gang`) gets all its pending tasks placed at once or none.
//!
//! **The cost.** Among the nodes that may take it, a task goes to the cheapest, in USD base units
//! per CU, by a cost that adds:
//! - the node's price per CU (what the user pays);
//! - its measured round trip × [`Weights::latency_per_ms`] (an unmeasured node counts as
//!   [`Weights::unmeasured_latency_ms`]);
//! - `(1 − reputation) ×` [`Weights::unreliability`], the reputation being the ledger's score of
//!   the node's service record (`vcity_ledger::reputation::score_ppm`: tasks done and lost,
//!   results confirmed and disproved, capacity challenges, uptime, start latency, slashes; a new
//!   node scores 0.5);
//! - [`Weights::probation`] while the node is on probation (its declared hardware not yet proven
//!   by a capacity challenge: whitepaper §5.2.3's lower placement weight);
//! - a load term: with [`Packing::Spread`] its dominant usage (CPU slots or GPUs, whichever is
//!   fuller) × [`Weights::load`], so work spreads; with [`Packing::Pack`] its free share, so work
//!   fills nodes before it opens new ones;
//! - a fit term: each of the node's GPUs the task leaves idle × [`Weights::idle_gpu`] and each GiB
//!   of VRAM above the task's need × [`Weights::spare_vram_per_gib`], so an 8-GPU node is not
//!   taken by CPU work that any node could run;
//! - for a GPU task, [`Weights::large_node_priority`] on every node with less than 96 GB of GPU
//!   memory in all (whitepaper §2.5.4: larger nodes get scheduling priority; only they may take
//!   high-load jobs, a rule of `fits`).
//!
//! Ties go to the node least recently given a task (fairness among equally good providers), then
//! to the lower account id. Every [`Weights::exploration_per_mille`] ‰ of decisions go to the
//! cheapest fitting *newcomer* (fewer than [`Weights::newcomer_tasks`] tasks on its record) when
//! one has room, so new nodes earn a reputation (Akash's "no bids for new providers").
//!
//! **The index.** Nodes with the same hardware profile (region, kind, GPU list, the TEE tier
//! that stands, and for nodes offering a sandbox its limits, egress and the node's memory)
//! share a bucket;
//! a bucket keeps its available nodes in ordered sets, one per number of free GPUs, ordered by
//! (cost, last assignment, id). The buckets a class of task (its requirements) may use are
//! computed once per class and sorted by a lower bound of their cost (fit term + the bucket's
//! cheapest static cost); a decision walks them in that order and stops at the first bucket whose
//! bound is above the best node found (branch and bound). A decision touches the first node of a
//! few ordered sets, not the whole fleet.
//!
//! **Fairness across users.** [`Round`] places a queue by dominant resource fairness: the next
//! unit always comes from the user with the smallest dominant share (the larger of its share of
//! the fleet's CPU slots and of its GPUs, counting what it already runs), its oldest unit first;
//! a unit that has to wait does not block the user's later ones (backfill).
//!
//! **Explanations.** A task no node may take gets `vcity_ledger::jobs::explanation`: how many
//! nodes each rule excluded and the closest near-misses, the same text the ledger stores and
//! `vcity job status` shows. A task some node may take but none has room for waits.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use vcity_ledger::jobs::{explanation, fits, misfits, Explanation, Misfit};
use vcity_ledger::nodes::{self, NodeParams};
use vcity_types::compute::{
    GpuSpec, NodeKind, NodeRecord, Requirements, Role, SandboxNeeds, SandboxSupport, TeeStatus,
    TeeTier,
};
use vcity_types::{AccountId, Amount};

/// How work is spread across nodes that are otherwise equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    /// Prefer the least used node (latency, failure isolation).
    Spread,
    /// Prefer the most used node that still has room (keeps whole nodes free for big tasks).
    Pack,
}

/// The cost model's weights, in USD base units (10⁻⁶ USD) per CU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weights {
    /// Per millisecond of round trip.
    pub latency_per_ms: u64,
    /// Round trip assumed for a node not measured yet.
    pub unmeasured_latency_ms: u32,
    /// At reputation 0 (half of it for a new node, at 0.5).
    pub unreliability: u64,
    /// The start deadline the reputation's latency factor is measured against (the ledger's
    /// `jobs.start_deadline_s`).
    pub start_deadline_s: u64,
    /// At a full node ([`Packing::Spread`]) or an empty one ([`Packing::Pack`]).
    pub load: u64,
    /// Spread or pack.
    pub packing: Packing,
    /// Per GPU of the node the task leaves idle.
    pub idle_gpu: u64,
    /// Per GiB of VRAM above the task's need, per GPU used.
    pub spare_vram_per_gib: u64,
    /// Decisions per thousand reserved for newcomers.
    pub exploration_per_mille: u32,
    /// Added to the fit term of a GPU task on a node with less than the high-load VRAM (96 GB) in
    /// all: the larger nodes' scheduling priority.
    pub large_node_priority: u64,
    /// A node with fewer tasks than this on its record is a newcomer.
    pub newcomer_tasks: u64,
    /// On a node on probation (capacity not yet proven).
    pub probation: u64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            // 100 ms of round trip weigh like 0.01 USD per CU.
            latency_per_ms: 100,
            unmeasured_latency_ms: 250,
            // A new node (reputation 0.5) costs 0.02 USD per CU more than a perfect one.
            unreliability: 40_000,
            start_deadline_s: 120,
            load: 20_000,
            packing: Packing::Spread,
            idle_gpu: 10_000,
            spare_vram_per_gib: 100,
            exploration_per_mille: 50,
            large_node_priority: 20_000,
            newcomer_tasks: 10,
            // Weighs like a node losing one task in ten.
            probation: 20_000,
        }
    }
}

/// A task to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Its job.
    pub job: u64,
    /// Its index in the job.
    pub task: u32,
    /// Who pays (fairness is per owner).
    pub owner: AccountId,
    /// Hard constraints.
    pub requirements: Requirements,
    /// Most the job pays per CU.
    pub max_price_per_cu_usd: Amount,
}

/// A task placed on a node, with the resources it holds there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// Its job.
    pub job: u64,
    /// Its index in the job.
    pub task: u32,
    /// The node.
    pub node: AccountId,
    /// Who pays.
    pub owner: AccountId,
    /// GPUs held, per entry of the node's sorted GPU list.
    pub gpus: Vec<(u8, u32)>,
    index: u32,
}

impl Allocation {
    /// GPUs held.
    pub fn gpu_count(&self) -> u32 {
        self.gpus.iter().map(|(_, count)| count).sum()
    }
}

/// What became of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Placed.
    Assign(Allocation),
    /// Some node may take it, but none has room now.
    Wait,
    /// No node may take it; why.
    Unplaceable(Explanation),
}

/// What [`Round`] places at once: one task, or every pending task of a gang job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The tasks (all of one job and one owner).
    pub requests: Vec<Request>,
}

/// What became of a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitDecision {
    /// Every task placed.
    Assign(Vec<Allocation>),
    /// Not all could be placed now; none was.
    Wait,
    /// One of its tasks fits no node.
    Unplaceable {
        /// That task.
        task: u32,
        /// Why.
        explanation: Explanation,
    },
}

/// A hardware profile: nodes that differ only in price, cores, load and record share one. A
/// node's memory is part of it only where the node offers a sandbox (the one rule that reads it
/// is a process task's memory), so WASM-only nodes of all sizes still share a bucket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Profile {
    region: String,
    kind: NodeKind,
    gpus: Vec<GpuSpec>,
    sandbox: Option<(SandboxSupport, u64)>,
    /// The TEE tier that stands now (its expiry is one of the node's eligibility deadlines).
    tee: TeeTier,
}

/// A requirement class: tasks with equal hard constraints share a plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Class {
    gpu_model: Option<String>,
    gpu_count: u32,
    min_vram_mib: u32,
    region: Option<String>,
    node_kind: Option<NodeKind>,
    high_load: bool,
    sandbox: Option<SandboxNeeds>,
    tee: TeeTier,
}

impl Class {
    fn of(requirements: &Requirements) -> Class {
        Class {
            tee: requirements.tee,
            gpu_model: requirements.gpu_model.clone(),
            gpu_count: requirements.gpu_count,
            min_vram_mib: requirements.min_vram_mib,
            region: requirements.region.clone(),
            node_kind: requirements.node_kind,
            high_load: requirements.high_load,
            sandbox: requirements.sandbox,
        }
    }

    fn wants_gpu(&self) -> bool {
        self.gpu_count > 0 || self.gpu_model.is_some()
    }

    /// GPUs one task holds.
    fn gpus_needed(&self) -> u32 {
        if self.wants_gpu() {
            self.gpu_count.max(1)
        } else {
            0
        }
    }
}

/// Position in a bucket's ordered sets: cheaper first, then least recently assigned, then id.
type Key = (u64, u64, AccountId, u32);

#[derive(Debug)]
struct Bucket {
    total_gpus: u32,
    /// Available nodes (eligible, a free CPU slot) by their number of free GPUs.
    levels: Vec<BTreeSet<Key>>,
    /// The newcomers among them.
    fresh: Vec<BTreeSet<Key>>,
    /// Static costs of the eligible members (a multiset), for the bucket's lower bound.
    static_costs: BTreeMap<u64, u32>,
    /// Prices of the eligible members (a multiset).
    prices: BTreeMap<Amount, u32>,
    /// A record with the profile (its GPUs sorted) and neutral dynamic fields, to ask the
    /// ledger's rule which classes the profile can serve.
    exemplar: NodeRecord,
}

impl Bucket {
    fn cheapest_static(&self) -> Option<u64> {
        self.static_costs.keys().next().copied()
    }

    fn cheapest_price(&self) -> Option<Amount> {
        self.prices.keys().next().copied()
    }
}

#[derive(Debug)]
struct NodeSlot {
    record: NodeRecord,
    present: bool,
    eligible: bool,
    newcomer: bool,
    bucket: u32,
    /// The node's GPUs, sorted as in its profile.
    gpus: Vec<GpuSpec>,
    gpus_used: Vec<u32>,
    cpu_slots: u32,
    cpu_used: u32,
    static_cost: u64,
    last_assigned: u64,
    /// (level, key) where it sits in its bucket, if available.
    position: Option<(u32, Key)>,
    /// When it goes offline, if eligible.
    expiry_s: Option<u64>,
}

impl NodeSlot {
    fn free_gpus(&self) -> u32 {
        self.gpus
            .iter()
            .zip(&self.gpus_used)
            .map(|(gpu, used)| gpu.count.saturating_sub(*used))
            .sum()
    }

    fn total_gpus(&self) -> u32 {
        self.gpus.iter().map(|gpu| gpu.count).sum()
    }

    /// Free GPUs among the entries in `mask`.
    fn free_matching(&self, mask: u64) -> u32 {
        self.gpus
            .iter()
            .zip(&self.gpus_used)
            .enumerate()
            .filter(|(entry, _)| mask & (1 << entry) != 0)
            .map(|(_, (gpu, used))| gpu.count.saturating_sub(*used))
            .sum()
    }
}

/// One bucket a class may use.
#[derive(Debug, Clone)]
struct Candidate {
    bucket: u32,
    /// The fit term for this class on this profile.
    fit_cost: u64,
    /// Which of the profile's GPU entries match the class.
    mask: u64,
}

#[derive(Debug)]
struct Plan {
    version: u64,
    /// Sorted by lower bound (fit term + the bucket's cheapest static cost).
    candidates: Vec<(u64, Candidate)>,
}

/// Usage of CPU slots and GPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Usage {
    cpu: u64,
    gpus: u64,
}

/// The live inventory and the placement rule. See the module documentation.
#[derive(Debug)]
pub struct Engine {
    params: NodeParams,
    weights: Weights,
    now_s: u64,
    nodes: Vec<NodeSlot>,
    by_id: BTreeMap<AccountId, u32>,
    buckets: Vec<Bucket>,
    bucket_of: BTreeMap<Profile, u32>,
    plans: BTreeMap<Class, Plan>,
    /// Bumped whenever a plan or a cached explanation may have gone stale.
    version: u64,
    expiries: BTreeSet<(u64, u32)>,
    decisions: u64,
    exploration_credit: u32,
    users: BTreeMap<AccountId, Usage>,
    capacity: Usage,
    explanations: BTreeMap<(Class, Amount), (u64, Explanation)>,
}

/// Bound on each cache (plans per class; explanations per class and price): past it the cache
/// starts over, so a stream of distinct requirements cannot grow memory.
const MAX_CACHED: usize = 4_096;

fn saturate(amount: Amount) -> u64 {
    u64::try_from(amount.base_units()).unwrap_or(u64::MAX)
}

impl Engine {
    /// An empty inventory at time 0.
    pub fn new(params: NodeParams, weights: Weights) -> Engine {
        Engine {
            params,
            weights,
            now_s: 0,
            nodes: Vec::new(),
            by_id: BTreeMap::new(),
            buckets: Vec::new(),
            bucket_of: BTreeMap::new(),
            plans: BTreeMap::new(),
            version: 0,
            expiries: BTreeSet::new(),
            decisions: 0,
            exploration_credit: 0,
            users: BTreeMap::new(),
            capacity: Usage::default(),
            explanations: BTreeMap::new(),
        }
    }

    /// Takes the ledger's current node parameters (the stake requirement is repriced weekly):
    /// when they changed, every node's eligibility is decided again and the plans rebuilt.
    pub fn set_params(&mut self, params: NodeParams) {
        if params == self.params {
            return;
        }
        self.params = params;
        self.version += 1;
        self.plans.clear();
        self.explanations.clear();
        for index in 0..self.nodes.len() {
            let slot = &self.nodes[index];
            if !slot.present {
                continue;
            }
            let (record, static_cost) = (slot.record.clone(), slot.static_cost);
            self.upsert_with_cost(&record, static_cost, true);
        }
    }

    /// The weights in use.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// Chain time, seconds after genesis, as last given to [`Engine::advance`].
    pub fn now_s(&self) -> u64 {
        self.now_s
    }

    /// Moves the clock to chain time `now_s` (never backwards): nodes whose last heartbeat is
    /// now too old stop being eligible.
    pub fn advance(&mut self, now_s: u64) {
        self.now_s = self.now_s.max(now_s);
        while let Some(&(at_s, index)) = self.expiries.first() {
            if at_s > self.now_s {
                break;
            }
            self.expiries.pop_first();
            self.nodes[index as usize].expiry_s = None;
            self.set_eligible(index, false);
        }
    }

    /// Adds a node or updates it from its ledger record and the latest round trip measured to
    /// it. Its usage is kept. Records of other roles are ignored.
    pub fn upsert(&mut self, record: &NodeRecord, latency_ms: Option<u32>) {
        if record.role != Role::Compute {
            self.remove(&record.id);
            return;
        }
        let static_cost = self.static_cost(record, latency_ms);
        self.upsert_with_cost(record, static_cost, false);
    }

    /// [`Engine::upsert`] with the static cost computed; `force` decides eligibility again even
    /// for an unchanged record.
    fn upsert_with_cost(&mut self, record: &NodeRecord, static_cost: u64, force: bool) {
        if let Some(&index) = self.by_id.get(&record.id) {
            let slot = &self.nodes[index as usize];
            // A TEE tier that has expired since moves the node to another profile.
            let tee_moved = self.buckets[slot.bucket as usize].exemplar.tee.tier
                != record.tee.tier_at(self.now_s);
            if !force
                && !tee_moved
                && slot.present
                && slot.record == *record
                && slot.static_cost == static_cost
            {
                // Nothing the engine uses changed (a daemon re-sends every node every poll):
                // plans and explanations stay cached. Going offline is `advance`'s job.
                return;
            }
        }
        let mut gpus = record.hardware.gpus.clone();
        gpus.sort();
        if gpus.len() > 64 {
            // The ledger allows far fewer entries; a record like this is not a real node.
            self.remove(&record.id);
            return;
        }
        let profile = Profile {
            region: record.region.clone(),
            kind: record.kind,
            gpus: gpus.clone(),
            sandbox: record
                .hardware
                .sandbox
                .map(|sandbox| (sandbox, record.hardware.ram_mib)),
            tee: record.tee.tier_at(self.now_s),
        };
        let tee_expires_s = (profile.tee > TeeTier::None).then_some(record.tee.expires_s);
        let bucket = self.bucket_for(profile);
        let newcomer =
            record.tasks_completed.saturating_add(record.tasks_lost) < self.weights.newcomer_tasks;
        let index = match self.by_id.get(&record.id) {
            Some(&index) => {
                self.set_eligible(index, false);
                let slot = &mut self.nodes[index as usize];
                if slot.gpus != gpus {
                    slot.gpus_used = vec![0; gpus.len()];
                }
                index
            }
            None => {
                let index = u32::try_from(self.nodes.len()).expect("fewer than 2^32 nodes");
                self.nodes.push(NodeSlot {
                    record: record.clone(),
                    present: true,
                    eligible: false,
                    newcomer,
                    bucket,
                    gpus: gpus.clone(),
                    gpus_used: vec![0; gpus.len()],
                    cpu_slots: 0,
                    cpu_used: 0,
                    static_cost,
                    last_assigned: 0,
                    position: None,
                    expiry_s: None,
                });
                self.by_id.insert(record.id, index);
                index
            }
        };
        let slot = &mut self.nodes[index as usize];
        slot.record = record.clone();
        slot.present = true;
        slot.newcomer = newcomer;
        slot.bucket = bucket;
        slot.gpus = gpus;
        slot.cpu_slots = record.hardware.cpu_cores.max(1);
        slot.static_cost = static_cost;
        if let Some(at_s) = slot.expiry_s.take() {
            self.expiries.remove(&(at_s, index));
        }
        let eligible = self.node_eligible(record);
        if eligible {
            // Eligible until the heartbeat goes stale or, for a node in its stake grace, the
            // grace ends.
            let mut at_s = record
                .last_heartbeat_s
                .saturating_add(
                    self.params
                        .heartbeat_interval_s
                        .saturating_mul(self.params.offline_after_intervals),
                )
                .saturating_add(1);
            if let nodes::Standing::Grace { until_s } =
                nodes::standing(&self.params, record, self.now_s)
            {
                at_s = at_s.min(until_s);
            }
            // Its TEE tier expiring changes its profile: out until its record is seen again.
            if let Some(expires_s) = tee_expires_s {
                at_s = at_s.min(expires_s);
            }
            self.nodes[index as usize].expiry_s = Some(at_s);
            self.expiries.insert((at_s, index));
        }
        self.set_eligible(index, eligible);
    }

    /// Forgets a node (its usage too).
    pub fn remove(&mut self, id: &AccountId) {
        let Some(&index) = self.by_id.get(id) else {
            return;
        };
        self.set_eligible(index, false);
        let slot = &mut self.nodes[index as usize];
        slot.present = false;
        if let Some(at_s) = slot.expiry_s.take() {
            self.expiries.remove(&(at_s, index));
        }
        self.version += 1;
    }

    /// Forgets every allocation (the daemon rebuilds usage from the chain each round).
    pub fn clear_usage(&mut self) {
        for index in 0..self.nodes.len() {
            let slot = &mut self.nodes[index];
            slot.cpu_used = 0;
            slot.gpus_used.iter_mut().for_each(|used| *used = 0);
            self.reposition(index as u32);
        }
        self.users.clear();
    }

    /// Records that `request` already runs on `node` (as the ledger says), holding a CPU slot
    /// and the GPUs it needs there (as many as are free, if another scheduler over-committed).
    /// `None` if the node is unknown.
    pub fn occupy(&mut self, node: &AccountId, request: &Request) -> Option<Allocation> {
        let index = *self.by_id.get(node)?;
        let class = Class::of(&request.requirements);
        let mask = self.mask(&self.nodes[index as usize].gpus, &class);
        Some(self.allocate(index, request, mask, true))
    }

    /// Frees what `allocation` held.
    pub fn release(&mut self, allocation: &Allocation) {
        let Some(slot) = self.nodes.get_mut(allocation.index as usize) else {
            return;
        };
        if slot.record.id != allocation.node {
            return;
        }
        slot.cpu_used = slot.cpu_used.saturating_sub(1);
        for (entry, count) in &allocation.gpus {
            if let Some(used) = slot.gpus_used.get_mut(usize::from(*entry)) {
                *used = used.saturating_sub(*count);
            }
        }
        let gpus = u64::from(allocation.gpu_count());
        if let Some(usage) = self.users.get_mut(&allocation.owner) {
            usage.cpu = usage.cpu.saturating_sub(1);
            usage.gpus = usage.gpus.saturating_sub(gpus);
        }
        self.reposition(allocation.index);
    }

    /// Places one task (see the module documentation).
    pub fn place(&mut self, request: &Request) -> Decision {
        let class = Class::of(&request.requirements);
        self.refresh_plan(&class);
        self.decisions += 1;
        let mut explore = false;
        if self.weights.exploration_per_mille > 0 {
            self.exploration_credit += self.weights.exploration_per_mille.min(1_000);
            if self.exploration_credit >= 1_000 {
                self.exploration_credit -= 1_000;
                explore = true;
            }
        }
        let plan = &self.plans[&class];
        let found = explore
            .then(|| self.search(plan, &class, request.max_price_per_cu_usd, true))
            .flatten()
            .or_else(|| self.search(plan, &class, request.max_price_per_cu_usd, false));
        match found {
            Some((index, mask)) => Decision::Assign(self.allocate(index, request, mask, false)),
            None if self.could_fit(&class, request.max_price_per_cu_usd) => Decision::Wait,
            None => Decision::Unplaceable(self.explain(&class, request)),
        }
    }

    /// Places every task of `requests` or none: placed tasks are released again if one waits.
    pub fn place_gang(&mut self, requests: &[Request]) -> UnitDecision {
        let mut placed = Vec::with_capacity(requests.len());
        for request in requests {
            match self.place(request) {
                Decision::Assign(allocation) => placed.push(allocation),
                other => {
                    for allocation in placed.iter().rev() {
                        self.release(allocation);
                    }
                    return match other {
                        Decision::Unplaceable(explanation) => UnitDecision::Unplaceable {
                            task: request.task,
                            explanation,
                        },
                        _ => UnitDecision::Wait,
                    };
                }
            }
        }
        UnitDecision::Assign(placed)
    }

    /// The static cost of running `request` on `node` (price, latency, reliability, fit; not
    /// load), or `None` if the node may not take it. The reference solver minimizes its sum.
    pub fn cost(&self, request: &Request, node: &AccountId) -> Option<u64> {
        let index = *self.by_id.get(node)?;
        let slot = &self.nodes[index as usize];
        if !slot.present
            || fits(
                &self.params,
                &slot.record,
                &request.requirements,
                request.max_price_per_cu_usd,
                self.now_s,
            )
            .is_err()
        {
            return None;
        }
        let class = Class::of(&request.requirements);
        let mask = self.mask(&slot.gpus, &class);
        Some(slot.static_cost + self.fit_cost(&slot.gpus, &class, mask))
    }

    /// CPU slots and GPUs `node` has in use, and its totals.
    pub fn node_usage(&self, node: &AccountId) -> Option<NodeUsage> {
        let slot = &self.nodes[*self.by_id.get(node)? as usize];
        Some(NodeUsage {
            cpu_used: slot.cpu_used,
            cpu_slots: slot.cpu_slots,
            gpus: slot
                .gpus
                .iter()
                .zip(&slot.gpus_used)
                .map(|(gpu, used)| (gpu.clone(), *used))
                .collect(),
        })
    }

    /// `owner`'s dominant share of the eligible fleet, ppm.
    pub fn dominant_share_ppm(&self, owner: &AccountId) -> u64 {
        let usage = self.users.get(owner).copied().unwrap_or_default();
        let share = |used: u64, total: u64| {
            used.saturating_mul(1_000_000)
                .checked_div(total)
                .unwrap_or(0)
        };
        share(usage.cpu, self.capacity.cpu).max(share(usage.gpus, self.capacity.gpus))
    }

    /// The ledger's dynamic rules (role, online, healthy, stake) for `record`, now.
    fn node_eligible(&self, record: &NodeRecord) -> bool {
        record.role == Role::Compute
            && !record.trust.deregistered
            && !record.trust.banned
            && nodes::is_online(&self.params, record, self.now_s)
            && record.healthy
            && nodes::standing(&self.params, record, self.now_s) != nodes::Standing::Paused
    }

    fn static_cost(&self, record: &NodeRecord, latency_ms: Option<u32>) -> u64 {
        let weights = &self.weights;
        let latency = u64::from(latency_ms.unwrap_or(weights.unmeasured_latency_ms))
            .saturating_mul(weights.latency_per_ms);
        let reputation = u64::from(vcity_ledger::reputation::score_ppm(
            record,
            weights.start_deadline_s,
        ));
        let unreliability = weights
            .unreliability
            .saturating_mul(1_000_000u64.saturating_sub(reputation))
            / 1_000_000;
        let probation = if record.trust.probation {
            weights.probation
        } else {
            0
        };
        saturate(record.price_per_cu_usd)
            .saturating_add(latency)
            .saturating_add(unreliability)
            .saturating_add(probation)
    }

    /// Which of `gpus` (a sorted profile list) serve `class`.
    fn mask(&self, gpus: &[GpuSpec], class: &Class) -> u64 {
        if !class.wants_gpu() {
            return 0;
        }
        gpus.iter()
            .enumerate()
            .filter(|(_, gpu)| {
                class
                    .gpu_model
                    .as_ref()
                    .is_none_or(|model| model == &gpu.model)
                    && gpu.vram_mib >= class.min_vram_mib
            })
            .fold(0, |mask, (entry, _)| mask | (1 << entry))
    }

    /// The fit term: GPUs left idle and spare VRAM on the GPUs used (the smallest matching ones,
    /// as [`Engine::allocate`] takes them).
    fn fit_cost(&self, gpus: &[GpuSpec], class: &Class, mask: u64) -> u64 {
        let total: u32 = gpus.iter().map(|gpu| gpu.count).sum();
        let needed = class.gpus_needed();
        let idle = u64::from(total.saturating_sub(needed)).saturating_mul(self.weights.idle_gpu);
        let spare_mib = gpus
            .iter()
            .enumerate()
            .filter(|(entry, _)| mask & (1 << entry) != 0)
            .map(|(_, gpu)| gpu.vram_mib.saturating_sub(class.min_vram_mib))
            .min()
            .unwrap_or(0);
        let spare = (u64::from(spare_mib) / 1_024)
            .saturating_mul(u64::from(needed))
            .saturating_mul(self.weights.spare_vram_per_gib);
        let vram_mib: u64 = gpus
            .iter()
            .map(|gpu| u64::from(gpu.count) * u64::from(gpu.vram_mib))
            .sum();
        // Priority as a charge on the others, so that it never saturates against zero.
        let below_priority = if class.wants_gpu() && vram_mib < self.params.high_load_min_vram_mib {
            self.weights.large_node_priority
        } else {
            0
        };
        idle.saturating_add(spare).saturating_add(below_priority)
    }

    fn bucket_for(&mut self, profile: Profile) -> u32 {
        if let Some(&bucket) = self.bucket_of.get(&profile) {
            return bucket;
        }
        let total_gpus: u32 = profile.gpus.iter().map(|gpu| gpu.count).sum();
        let exemplar = NodeRecord {
            id: AccountId([0; 32]),
            role: Role::Compute,
            kind: profile.kind,
            hardware: vcity_types::compute::Hardware {
                sandbox: profile.sandbox.map(|(sandbox, _)| sandbox),
                gpus: profile.gpus.clone(),
                cpu_cores: 1,
                ram_mib: profile.sandbox.map_or(0, |(_, ram_mib)| ram_mib),
            },
            region: profile.region.clone(),
            endpoint: String::new(),
            price_per_cu_usd: Amount::ZERO,
            stake: Amount::new(u128::MAX),
            capacity_cu_ppm: 0,
            registered_s: 0,
            last_heartbeat_s: 0,
            load_ppm: 0,
            healthy: true,
            running_tasks: 0,
            online_s: 0,
            tasks_completed: 0,
            tasks_lost: 0,
            trust: Default::default(),
            health: Default::default(),
            tee: TeeStatus {
                tier: profile.tee,
                expires_s: u64::MAX,
                ..TeeStatus::default()
            },
        };
        let levels = (total_gpus as usize).saturating_add(1);
        let bucket = u32::try_from(self.buckets.len()).expect("fewer than 2^32 profiles");
        self.buckets.push(Bucket {
            total_gpus,
            levels: vec![BTreeSet::new(); levels],
            fresh: vec![BTreeSet::new(); levels],
            static_costs: BTreeMap::new(),
            prices: BTreeMap::new(),
            exemplar,
        });
        self.bucket_of.insert(profile, bucket);
        self.version += 1;
        bucket
    }

    /// Makes a node (in)eligible, keeping the bucket's multisets, the fleet's capacity and the
    /// node's position right.
    fn set_eligible(&mut self, index: u32, eligible: bool) {
        let slot = &self.nodes[index as usize];
        let eligible = eligible && slot.present;
        if slot.eligible != eligible {
            let bucket = &mut self.buckets[slot.bucket as usize];
            let price = slot.record.price_per_cu_usd;
            let capacity = Usage {
                cpu: u64::from(slot.cpu_slots),
                gpus: u64::from(slot.total_gpus()),
            };
            if eligible {
                *bucket.static_costs.entry(slot.static_cost).or_default() += 1;
                *bucket.prices.entry(price).or_default() += 1;
                self.capacity.cpu += capacity.cpu;
                self.capacity.gpus += capacity.gpus;
            } else {
                decrement(&mut bucket.static_costs, slot.static_cost);
                decrement(&mut bucket.prices, price);
                self.capacity.cpu = self.capacity.cpu.saturating_sub(capacity.cpu);
                self.capacity.gpus = self.capacity.gpus.saturating_sub(capacity.gpus);
            }
            self.nodes[index as usize].eligible = eligible;
            self.version += 1;
        }
        self.reposition(index);
    }

    /// Puts the node where its current cost and free GPUs say, or takes it out of the sets if it
    /// is not available.
    fn reposition(&mut self, index: u32) {
        let slot = &self.nodes[index as usize];
        let bucket = &mut self.buckets[slot.bucket as usize];
        if let Some((level, key)) = &slot.position {
            let level = *level as usize;
            if let Some(set) = bucket.levels.get_mut(level) {
                set.remove(key);
            }
            if let Some(set) = bucket.fresh.get_mut(level) {
                set.remove(key);
            }
        }
        let available = slot.present && slot.eligible && slot.cpu_used < slot.cpu_slots;
        let position = available.then(|| {
            let free = slot.free_gpus();
            let total = slot.total_gpus();
            let used_ppm = |used: u64, total: u64| {
                (used.min(total) * 1_000_000)
                    .checked_div(total)
                    .unwrap_or(0)
            };
            let usage_ppm = used_ppm(u64::from(slot.cpu_used), u64::from(slot.cpu_slots))
                .max(used_ppm(u64::from(total - free), u64::from(total)));
            let load_ppm = match self.weights.packing {
                Packing::Spread => usage_ppm,
                Packing::Pack => 1_000_000 - usage_ppm,
            };
            let load =
                u64::try_from(u128::from(self.weights.load) * u128::from(load_ppm) / 1_000_000)
                    .unwrap_or(u64::MAX);
            let key: Key = (
                slot.static_cost.saturating_add(load),
                slot.last_assigned,
                slot.record.id,
                index,
            );
            let level = free.min(bucket.total_gpus);
            bucket.levels[level as usize].insert(key);
            if slot.newcomer {
                bucket.fresh[level as usize].insert(key);
            }
            (level, key)
        });
        self.nodes[index as usize].position = position;
    }

    /// Rebuilds `class`'s plan if the buckets changed since it was made.
    fn refresh_plan(&mut self, class: &Class) {
        if self
            .plans
            .get(class)
            .is_some_and(|plan| plan.version == self.version)
        {
            return;
        }
        let requirements = Requirements {
            sandbox: class.sandbox,
            gpu_model: class.gpu_model.clone(),
            gpu_count: class.gpu_count,
            min_vram_mib: class.min_vram_mib,
            region: class.region.clone(),
            max_duration_s: 0,
            node_kind: class.node_kind,
            gang: false,
            high_load: class.high_load,
            tee: class.tee,
        };
        let mut candidates = Vec::new();
        for (bucket_index, bucket) in self.buckets.iter().enumerate() {
            let Some(cheapest) = bucket.cheapest_static() else {
                continue;
            };
            // The exemplar passes every dynamic rule, so what it fails is the profile's.
            let fails = misfits(
                &self.params,
                &bucket.exemplar,
                &requirements,
                Amount::ZERO,
                bucket.exemplar.last_heartbeat_s,
            );
            if fails.iter().any(|misfit| *misfit != Misfit::TooExpensive) {
                continue;
            }
            let gpus = &bucket.exemplar.hardware.gpus;
            let mask = self.mask(gpus, class);
            let fit_cost = self.fit_cost(gpus, class, mask);
            candidates.push((
                cheapest.saturating_add(fit_cost),
                Candidate {
                    bucket: bucket_index as u32,
                    fit_cost,
                    mask,
                },
            ));
        }
        candidates.sort_by_key(|(bound, candidate)| (*bound, candidate.bucket));
        if self.plans.len() >= MAX_CACHED {
            self.plans.clear();
        }
        self.plans.insert(
            class.clone(),
            Plan {
                version: self.version,
                candidates,
            },
        );
    }

    /// The best available node for `class` at `max_price`, among newcomers only if `fresh`.
    fn search(
        &self,
        plan: &Plan,
        class: &Class,
        max_price: Amount,
        fresh: bool,
    ) -> Option<(u32, u64)> {
        let needed = class.gpus_needed();
        // (total cost, last assigned, id, index, mask)
        let mut best: Option<(u64, u64, AccountId, u32, u64)> = None;
        for (bound, candidate) in &plan.candidates {
            if best.as_ref().is_some_and(|found| *bound > found.0) {
                break;
            }
            let bucket = &self.buckets[candidate.bucket as usize];
            if bucket
                .cheapest_price()
                .is_none_or(|price| price > max_price)
            {
                continue;
            }
            let sets = if fresh { &bucket.fresh } else { &bucket.levels };
            for set in sets.iter().skip(needed as usize) {
                // The first node of a level that passes the per-node checks is that level's
                // best; later ones cost at least as much.
                for key in set {
                    let total = key.0.saturating_add(candidate.fit_cost);
                    if best.as_ref().is_some_and(|found| total > found.0) {
                        break;
                    }
                    let slot = &self.nodes[key.3 as usize];
                    if slot.record.price_per_cu_usd > max_price
                        || slot.free_matching(candidate.mask) < needed
                    {
                        continue;
                    }
                    let entry = (total, key.1, key.2, key.3, candidate.mask);
                    if best.as_ref().is_none_or(|found| entry < *found) {
                        best = Some(entry);
                    }
                    break;
                }
            }
        }
        best.map(|(_, _, _, index, mask)| (index, mask))
    }

    /// Whether some eligible node may take `class` at `max_price` (so a miss means waiting).
    fn could_fit(&self, class: &Class, max_price: Amount) -> bool {
        self.plans[class].candidates.iter().any(|(_, candidate)| {
            self.buckets[candidate.bucket as usize]
                .cheapest_price()
                .is_some_and(|price| price <= max_price)
        })
    }

    fn explain(&mut self, class: &Class, request: &Request) -> Explanation {
        let key = (class.clone(), request.max_price_per_cu_usd);
        if let Some((version, cached)) = self.explanations.get(&key) {
            if *version == self.version {
                return cached.clone();
            }
        }
        let found = explanation(
            &self.params,
            self.nodes
                .iter()
                .filter(|slot| slot.present)
                .map(|slot| &slot.record),
            &request.requirements,
            request.max_price_per_cu_usd,
            self.now_s,
        )
        .unwrap_or_default();
        if self.explanations.len() >= MAX_CACHED {
            self.explanations.clear();
        }
        self.explanations.insert(key, (self.version, found.clone()));
        found
    }

    /// Takes a CPU slot and the task's GPUs on node `index` (the smallest matching ones first,
    /// as sorted), charging `request.owner`. With `forced`, takes what is there even if short.
    fn allocate(&mut self, index: u32, request: &Request, mask: u64, forced: bool) -> Allocation {
        let class = Class::of(&request.requirements);
        let mut needed = class.gpus_needed();
        let slot = &mut self.nodes[index as usize];
        debug_assert!(forced || slot.free_matching(mask) >= needed);
        let mut gpus = Vec::new();
        for (entry, (gpu, used)) in slot.gpus.iter().zip(slot.gpus_used.iter_mut()).enumerate() {
            if needed == 0 {
                break;
            }
            if mask & (1 << entry) == 0 {
                continue;
            }
            let take = gpu.count.saturating_sub(*used).min(needed);
            if take > 0 {
                *used += take;
                needed -= take;
                gpus.push((entry as u8, take));
            }
        }
        slot.cpu_used = slot.cpu_used.saturating_add(1);
        if !forced {
            slot.last_assigned = self.decisions;
        }
        let allocation = Allocation {
            job: request.job,
            task: request.task,
            node: slot.record.id,
            owner: request.owner,
            index,
            gpus,
        };
        let usage = self.users.entry(request.owner).or_default();
        usage.cpu += 1;
        usage.gpus += u64::from(allocation.gpu_count());
        self.reposition(index);
        allocation
    }
}

fn decrement<K: Ord>(multiset: &mut BTreeMap<K, u32>, key: K) {
    if let Some(count) = multiset.get_mut(&key) {
        *count -= 1;
        if *count == 0 {
            multiset.remove(&key);
        }
    }
}

/// What a node has in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeUsage {
    /// CPU slots taken.
    pub cpu_used: u32,
    /// CPU slots (cores).
    pub cpu_slots: u32,
    /// Each GPU entry (sorted) and how many of it are taken.
    pub gpus: Vec<(GpuSpec, u32)>,
}

/// One placement pass over a queue, by dominant resource fairness (see the module
/// documentation). Each [`Round::next`] places one unit, so a caller can time every decision.
#[derive(Debug)]
pub struct Round {
    queues: BTreeMap<AccountId, VecDeque<Unit>>,
    /// (dominant share ppm, the user's first position in the queue, user).
    order: BTreeSet<(u64, usize, AccountId)>,
}

impl Round {
    /// Groups `requests` (oldest first) into units, per owner: a gang job's tasks form one unit.
    pub fn new(engine: &Engine, requests: Vec<Request>) -> Round {
        let mut queues: BTreeMap<AccountId, VecDeque<Unit>> = BTreeMap::new();
        let mut first_seen = BTreeMap::new();
        let mut gang_unit: BTreeMap<u64, (AccountId, usize)> = BTreeMap::new();
        for (position, request) in requests.into_iter().enumerate() {
            first_seen.entry(request.owner).or_insert(position);
            let queue = queues.entry(request.owner).or_default();
            if request.requirements.gang {
                if let Some((owner, at)) = gang_unit.get(&request.job) {
                    if *owner == request.owner {
                        queue[*at].requests.push(request);
                        continue;
                    }
                }
                gang_unit.insert(request.job, (request.owner, queue.len()));
            }
            queue.push_back(Unit {
                requests: vec![request],
            });
        }
        let order = first_seen
            .iter()
            .map(|(owner, position)| (engine.dominant_share_ppm(owner), *position, *owner))
            .collect();
        Round { queues, order }
    }

    /// Places the next unit: the oldest of the user with the smallest dominant share. `None`
    /// when every unit has had its decision.
    pub fn next(&mut self, engine: &mut Engine) -> Option<(Unit, UnitDecision)> {
        let (_, position, owner) = self.order.pop_first()?;
        let queue = self.queues.get_mut(&owner)?;
        let unit = queue.pop_front()?;
        let decision = if unit.requests.len() == 1 {
            match engine.place(&unit.requests[0]) {
                Decision::Assign(allocation) => UnitDecision::Assign(vec![allocation]),
                Decision::Wait => UnitDecision::Wait,
                Decision::Unplaceable(explanation) => UnitDecision::Unplaceable {
                    task: unit.requests[0].task,
                    explanation,
                },
            }
        } else {
            engine.place_gang(&unit.requests)
        };
        if !queue.is_empty() {
            self.order
                .insert((engine.dominant_share_ppm(&owner), position, owner));
        }
        Some((unit, decision))
    }

    /// Runs the round to the end.
    pub fn run(mut self, engine: &mut Engine) -> Vec<(Unit, UnitDecision)> {
        let mut decisions = Vec::new();
        while let Some(decision) = self.next(engine) {
            decisions.push(decision);
        }
        decisions
    }
}
