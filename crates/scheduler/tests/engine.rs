//! The placement engine against the ledger's rule and against a brute-force reference model.

use proptest::prelude::*;
use std::collections::BTreeMap;
use vcity_ledger::jobs::{fits, Misfit};
use vcity_ledger::nodes::NodeParams;
use vcity_scheduler::synthetic::{self, Rng};
use vcity_scheduler::{
    Allocation, Decision, Engine, Packing, Request, Round, UnitDecision, Weights,
};
use vcity_types::compute::{
    CgroupVersion, GpuSpec, Hardware, NodeRecord, Requirements, SandboxNeeds, SandboxSupport,
    TeeStatus, TeeTier,
};
use vcity_types::{AccountId, Amount};

const NOW_S: u64 = 10_000;

/// A small random fleet in which some nodes break a dynamic rule (offline, unhealthy,
/// understaked, too dear) so that every rule gets exercised.
fn fleet(seed: u64, count: usize) -> Vec<(NodeRecord, u32)> {
    let params = NodeParams::default();
    let mut rng = Rng::new(seed);
    let mut fleet = synthetic::fleet(&mut rng, &params, count, NOW_S, false);
    for (record, _) in &mut fleet {
        record.hardware.cpu_cores = rng.between(1, 4) as u32;
        match rng.below(12) {
            0 => record.last_heartbeat_s = 0,
            1 => record.healthy = false,
            2 => record.stake = Amount::ZERO,
            3 => record.price_per_cu_usd = Amount::new(5_000_000),
            _ => {}
        }
        // Sandboxes of every kind, and memory sizes that matter to process tasks.
        record.hardware.sandbox = match rng.below(4) {
            0 => None,
            kind => Some(SandboxSupport {
                limits: [CgroupVersion::None, CgroupVersion::V1, CgroupVersion::V2]
                    [kind as usize - 1],
                network_egress: rng.chance(2),
            }),
        };
        record.hardware.ram_mib = [8_192, 16_384, 65_536][rng.below(3) as usize];
        // TEE tiers, some of them already expired (docs/attestation.md).
        let tier =
            [TeeTier::None, TeeTier::None, TeeTier::Cpu, TeeTier::CpuGpu][rng.below(4) as usize];
        record.tee = TeeStatus {
            tier,
            expires_s: if rng.chance(4) { NOW_S } else { NOW_S + 3_600 },
            ..TeeStatus::default()
        };
    }
    fleet
}

fn engine(fleet: &[(NodeRecord, u32)], weights: Weights) -> Engine {
    synthetic::engine(fleet, weights, NOW_S)
}

fn queue(seed: u64, count: usize) -> Vec<Request> {
    let mut requests = synthetic::demand(&mut Rng::new(seed ^ 0xDEC0DE), count, 5);
    // A share of the CPU tasks are process tasks, of several sizes, some wanting the network.
    let mut rng = Rng::new(seed ^ 0x5A4D_B0C5);
    for request in &mut requests {
        if gpus_needed(&request.requirements) == 0 && rng.chance(3) {
            request.requirements.sandbox = Some(SandboxNeeds {
                memory_mib: [4_096, 16_384, 32_768][rng.below(3) as usize],
                network: rng.chance(4),
            });
        }
        if rng.chance(5) {
            request.requirements.tee = [TeeTier::Cpu, TeeTier::CpuGpu][rng.below(2) as usize];
        }
    }
    requests
}

fn gpus_needed(requirements: &Requirements) -> u32 {
    if requirements.gpu_count > 0 || requirements.gpu_model.is_some() {
        requirements.gpu_count.max(1)
    } else {
        0
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn no_placement_breaks_a_hard_constraint_or_overcommits_a_node(
        seed in any::<u64>(),
        nodes in 1usize..40,
        tasks in 1usize..200,
    ) {
        let fleet = fleet(seed, nodes);
        let records: BTreeMap<AccountId, NodeRecord> =
            fleet.iter().map(|(record, _)| (record.id, record.clone())).collect();
        let mut engine = engine(&fleet, Weights::default());
        let params = NodeParams::default();
        let mut held: Vec<Allocation> = Vec::new();
        for (unit, decision) in Round::new(&engine, queue(seed, tasks)).run(&mut engine) {
            if let UnitDecision::Assign(allocations) = decision {
                prop_assert_eq!(allocations.len(), unit.requests.len());
                for (request, allocation) in unit.requests.iter().zip(&allocations) {
                    let record = &records[&allocation.node];
                    prop_assert_eq!(
                        fits(&params, record, &request.requirements, request.max_price_per_cu_usd, NOW_S),
                        Ok(())
                    );
                    prop_assert_eq!(allocation.gpu_count(), gpus_needed(&request.requirements));
                    let usage = engine.node_usage(&allocation.node).expect("known");
                    for (entry, _) in &allocation.gpus {
                        let gpu = &usage.gpus[usize::from(*entry)].0;
                        prop_assert!(request.requirements.gpu_model.as_ref().is_none_or(|model| *model == gpu.model));
                        prop_assert!(gpu.vram_mib >= request.requirements.min_vram_mib);
                    }
                }
                held.extend(allocations);
            }
        }
        for id in records.keys() {
            let usage = engine.node_usage(id).expect("known");
            let holding: Vec<_> = held.iter().filter(|allocation| allocation.node == *id).collect();
            prop_assert!(usage.cpu_used <= usage.cpu_slots);
            prop_assert_eq!(usage.cpu_used as usize, holding.len());
            for (entry, (gpu, used)) in usage.gpus.iter().enumerate() {
                prop_assert!(*used <= gpu.count);
                let held_here: u32 = holding
                    .iter()
                    .flat_map(|allocation| &allocation.gpus)
                    .filter(|(held_entry, _)| usize::from(*held_entry) == entry)
                    .map(|(_, count)| count)
                    .sum();
                prop_assert_eq!(*used, held_here);
            }
        }
        // Everything released: every node is empty again.
        for allocation in &held {
            engine.release(allocation);
        }
        for id in records.keys() {
            let usage = engine.node_usage(id).expect("known");
            prop_assert_eq!(usage.cpu_used, 0);
            prop_assert!(usage.gpus.iter().all(|(_, used)| *used == 0));
        }
    }

    #[test]
    fn identical_inputs_give_identical_placements_whatever_order_the_nodes_came_in(
        seed in any::<u64>(),
        nodes in 1usize..30,
        tasks in 1usize..120,
    ) {
        let fleet = fleet(seed, nodes);
        let mut reversed = fleet.clone();
        reversed.reverse();
        let mut first = engine(&fleet, Weights::default());
        let mut second = engine(&reversed, Weights::default());
        let requests = queue(seed, tasks);
        let one = Round::new(&first, requests.clone()).run(&mut first);
        let two = Round::new(&second, requests).run(&mut second);
        let strip = |decisions: Vec<(vcity_scheduler::Unit, UnitDecision)>| -> Vec<_> {
            decisions
                .into_iter()
                .map(|(unit, decision)| {
                    let ids: Vec<_> = unit.requests.iter().map(|request| (request.job, request.task)).collect();
                    let placed: Option<Vec<_>> = match decision {
                        UnitDecision::Assign(allocations) => Some(allocations
                            .into_iter()
                            .map(|allocation| (allocation.node, allocation.gpus))
                            .collect()),
                        _ => None,
                    };
                    (ids, placed)
                })
                .collect()
        };
        prop_assert_eq!(strip(one), strip(two));
    }

    #[test]
    fn explanation_counts_add_up_to_the_nodes_considered(
        seed in any::<u64>(),
        nodes in 0usize..30,
        tasks in 1usize..60,
    ) {
        let fleet = fleet(seed, nodes);
        let mut engine = engine(&fleet, Weights::default());
        for request in queue(seed, tasks) {
            if let Decision::Unplaceable(explanation) = engine.place(&request) {
                prop_assert_eq!(explanation.considered as usize, fleet.len());
                prop_assert_eq!(explanation.excluded.values().sum::<u32>(), explanation.considered);
                // A near miss really fails exactly the rules it lists, and no node fails fewer.
                let params = NodeParams::default();
                let fewest = fleet
                    .iter()
                    .map(|(record, _)| vcity_ledger::jobs::misfits(&params, record, &request.requirements, request.max_price_per_cu_usd, NOW_S).len())
                    .min();
                for miss in &explanation.near_misses {
                    let record = &fleet.iter().find(|(record, _)| record.id == miss.node).expect("a fleet node").0;
                    let failed = vcity_ledger::jobs::misfits(&params, record, &request.requirements, request.max_price_per_cu_usd, NOW_S);
                    prop_assert_eq!(&failed, &miss.misfits);
                    prop_assert_eq!(Some(failed.len()), fewest);
                }
            }
        }
    }
}

/// The brute-force reference: looks at every node for every task, with the engine's published
/// cost model (static cost from [`Engine::cost`], the load term from the node's usage, ties to
/// the least recently assigned, then the lower id).
struct Reference {
    last_assigned: BTreeMap<AccountId, u64>,
    decisions: u64,
}

impl Reference {
    fn decide(
        &mut self,
        engine: &Engine,
        ids: &[AccountId],
        request: &Request,
    ) -> Option<Option<AccountId>> {
        self.decisions += 1;
        let weights = engine.weights();
        let needed = gpus_needed(&request.requirements);
        let mut fits_somewhere = false;
        let mut best: Option<(u64, u64, AccountId)> = None;
        for id in ids {
            let Some(cost) = engine.cost(request, id) else {
                continue;
            };
            fits_somewhere = true;
            let usage = engine.node_usage(id).expect("known");
            let free_matching: u32 = usage
                .gpus
                .iter()
                .filter(|(gpu, _)| {
                    request
                        .requirements
                        .gpu_model
                        .as_ref()
                        .is_none_or(|model| *model == gpu.model)
                        && gpu.vram_mib >= request.requirements.min_vram_mib
                })
                .map(|(gpu, used)| gpu.count - used)
                .sum();
            if usage.cpu_used >= usage.cpu_slots || (needed > 0 && free_matching < needed) {
                continue;
            }
            let total_gpus: u32 = usage.gpus.iter().map(|(gpu, _)| gpu.count).sum();
            let used_gpus: u32 = usage.gpus.iter().map(|(_, used)| used).sum();
            let ppm = |used: u32, total: u32| {
                if total == 0 {
                    0
                } else {
                    u64::from(used) * 1_000_000 / u64::from(total)
                }
            };
            let usage_ppm = ppm(usage.cpu_used, usage.cpu_slots).max(ppm(used_gpus, total_gpus));
            let load_ppm = match weights.packing {
                Packing::Spread => usage_ppm,
                Packing::Pack => 1_000_000 - usage_ppm,
            };
            let load = weights.load * load_ppm / 1_000_000;
            let key = (
                cost + load,
                self.last_assigned.get(id).copied().unwrap_or(0),
                *id,
            );
            if best.is_none_or(|found| key < found) {
                best = Some(key);
            }
        }
        match best {
            Some((_, _, id)) => {
                self.last_assigned.insert(id, self.decisions);
                Some(Some(id))
            }
            None if fits_somewhere => Some(None),
            None => None,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_decision_equals_the_brute_force_choice(
        seed in any::<u64>(),
        nodes in 1usize..40,
        tasks in 1usize..150,
        pack in any::<bool>(),
    ) {
        let fleet = fleet(seed, nodes);
        let ids: Vec<AccountId> = fleet.iter().map(|(record, _)| record.id).collect();
        let weights = Weights {
            exploration_per_mille: 0,
            packing: if pack { Packing::Pack } else { Packing::Spread },
            ..Weights::default()
        };
        let mut engine = engine(&fleet, weights);
        let mut reference = Reference { last_assigned: BTreeMap::new(), decisions: 0 };
        let mut held = Vec::new();
        for (step, request) in queue(seed, tasks).into_iter().enumerate() {
            let expected = reference.decide(&engine, &ids, &request);
            let decision = engine.place(&request);
            match (&decision, expected) {
                (Decision::Assign(allocation), Some(Some(node))) => {
                    prop_assert_eq!(allocation.node, node, "task {}", step);
                    held.push(allocation.clone());
                }
                (Decision::Wait, Some(None)) | (Decision::Unplaceable(_), None) => {}
                (decision, expected) => {
                    prop_assert!(false, "task {step}: engine {decision:?}, reference {expected:?}");
                }
            }
            // Some tasks finish along the way, so usage goes down as well as up.
            if step % 5 == 4 && !held.is_empty() {
                let allocation = held.remove((step / 5) % held.len());
                engine.release(&allocation);
            }
        }
    }
}

fn node(seed: u8, gpus: Vec<GpuSpec>, cores: u32, price: u128, record: (u64, u64)) -> NodeRecord {
    let hardware = Hardware {
        sandbox: None,
        gpus,
        cpu_cores: cores,
        ram_mib: 1_024,
    };
    let mut node = synthetic::node(
        &NodeParams::default(),
        AccountId([seed; 32]),
        hardware,
        Amount::new(price),
        NOW_S,
    );
    (node.tasks_completed, node.tasks_lost) = record;
    node
}

fn h100(count: u32) -> Vec<GpuSpec> {
    vec![GpuSpec {
        model: "H100".into(),
        count,
        vram_mib: 81_920,
    }]
}

fn request(job: u64, requirements: Requirements) -> Request {
    Request {
        job,
        task: 0,
        owner: AccountId([7; 32]),
        requirements,
        max_price_per_cu_usd: Amount::new(1_000_000),
    }
}

fn h100_task(count: u32) -> Requirements {
    Requirements {
        gpu_model: Some("H100".into()),
        gpu_count: count,
        ..Requirements::default()
    }
}

#[test]
fn a_multi_gpu_task_takes_all_its_gpus_on_one_node_or_waits() {
    let mut engine = Engine::new(NodeParams::default(), Weights::default());
    engine.advance(NOW_S);
    engine.upsert(&node(1, h100(4), 8, 100_000, (100, 0)), Some(10));
    engine.upsert(&node(2, h100(4), 8, 100_000, (100, 0)), Some(10));
    // Two 3-GPU tasks take one node each; a third finds 1 + 1 free GPUs, on two nodes: it waits.
    for job in 1..=2 {
        assert!(
            matches!(engine.place(&request(job, h100_task(3))), Decision::Assign(a) if a.gpu_count() == 3)
        );
    }
    assert_eq!(engine.place(&request(3, h100_task(2))), Decision::Wait);
    // An 8-GPU task fits no node at all: unplaceable, with the reason counted.
    match engine.place(&request(4, h100_task(8))) {
        Decision::Unplaceable(explanation) => {
            assert_eq!(explanation.considered, 2);
            assert_eq!(explanation.excluded.get(&Misfit::TooFewGpus), Some(&2));
        }
        other => panic!("expected unplaceable, got {other:?}"),
    }
}

#[test]
fn a_gang_is_placed_whole_or_not_at_all() {
    let mut engine = Engine::new(NodeParams::default(), Weights::default());
    engine.advance(NOW_S);
    engine.upsert(&node(1, h100(1), 4, 100_000, (100, 0)), Some(10));
    engine.upsert(&node(2, h100(1), 4, 100_000, (100, 0)), Some(10));
    let gang = |tasks: u32| -> Vec<Request> {
        (0..tasks)
            .map(|task| Request {
                task,
                requirements: Requirements {
                    gang: true,
                    ..h100_task(1)
                },
                ..request(9, Requirements::default())
            })
            .collect()
    };
    assert_eq!(engine.place_gang(&gang(3)), UnitDecision::Wait);
    for id in [AccountId([1; 32]), AccountId([2; 32])] {
        let usage = engine.node_usage(&id).expect("known");
        assert_eq!((usage.cpu_used, usage.gpus[0].1), (0, 0), "nothing held");
    }
    match engine.place_gang(&gang(2)) {
        UnitDecision::Assign(allocations) => {
            let mut nodes: Vec<_> = allocations.iter().map(|a| a.node).collect();
            nodes.sort();
            assert_eq!(nodes, vec![AccountId([1; 32]), AccountId([2; 32])]);
        }
        other => panic!("expected both placed, got {other:?}"),
    }
    // Round groups a gang job's tasks into one unit.
    let mut fresh = Engine::new(NodeParams::default(), Weights::default());
    fresh.advance(NOW_S);
    fresh.upsert(&node(1, h100(1), 4, 100_000, (100, 0)), Some(10));
    let decisions = Round::new(&fresh, gang(2)).run(&mut fresh);
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].0.requests.len(), 2);
    assert_eq!(decisions[0].1, UnitDecision::Wait);
}

#[test]
fn cpu_work_leaves_gpu_nodes_alone_and_spreads_over_equal_nodes() {
    let mut engine = Engine::new(
        NodeParams::default(),
        Weights {
            exploration_per_mille: 0,
            ..Weights::default()
        },
    );
    engine.advance(NOW_S);
    // The GPU node is even a little cheaper per CU; its idle GPUs still make it the worse home
    // for CPU work.
    engine.upsert(&node(1, h100(8), 64, 90_000, (100, 0)), Some(10));
    engine.upsert(&node(2, vec![], 4, 100_000, (100, 0)), Some(10));
    engine.upsert(&node(3, vec![], 4, 100_000, (100, 0)), Some(10));
    let mut count = BTreeMap::<AccountId, u32>::new();
    for job in 0..8 {
        match engine.place(&request(job, Requirements::default())) {
            Decision::Assign(allocation) => *count.entry(allocation.node).or_default() += 1,
            other => panic!("expected a placement, got {other:?}"),
        }
    }
    assert_eq!(count.get(&AccountId([2; 32])), Some(&4));
    assert_eq!(count.get(&AccountId([3; 32])), Some(&4));
    // The CPU nodes are full now: CPU work goes to the GPU node rather than wait.
    assert!(
        matches!(engine.place(&request(9, Requirements::default())), Decision::Assign(a) if a.node == AccountId([1; 32]))
    );
}

#[test]
fn a_share_of_decisions_goes_to_newcomers() {
    let mut engine = Engine::new(
        NodeParams::default(),
        Weights {
            exploration_per_mille: 100,
            ..Weights::default()
        },
    );
    engine.advance(NOW_S);
    // The veteran is cheaper and has room for everything; the newcomer has no record.
    engine.upsert(&node(1, vec![], 64, 50_000, (500, 0)), Some(10));
    engine.upsert(&node(2, vec![], 64, 60_000, (0, 0)), Some(10));
    let mut to_newcomer = 0;
    for job in 0..50 {
        if let Decision::Assign(allocation) = engine.place(&request(job, Requirements::default())) {
            if allocation.node == AccountId([2; 32]) {
                to_newcomer += 1;
            }
        }
    }
    assert_eq!(to_newcomer, 5, "10% of 50 decisions");
}

#[test]
fn a_node_that_stops_heartbeating_stops_getting_work() {
    let params = NodeParams::default();
    let mut engine = Engine::new(params.clone(), Weights::default());
    engine.advance(NOW_S);
    engine.upsert(&node(1, vec![], 4, 50_000, (100, 0)), Some(10));
    assert!(matches!(
        engine.place(&request(1, Requirements::default())),
        Decision::Assign(_)
    ));
    let offline_at = NOW_S + params.heartbeat_interval_s * params.offline_after_intervals + 1;
    engine.advance(offline_at - 1);
    assert!(matches!(
        engine.place(&request(2, Requirements::default())),
        Decision::Assign(_)
    ));
    engine.advance(offline_at);
    // The same record again (a daemon re-sends every node each poll) does not revive it.
    engine.upsert(&node(1, vec![], 4, 50_000, (100, 0)), Some(10));
    match engine.place(&request(3, Requirements::default())) {
        Decision::Unplaceable(explanation) => {
            assert_eq!(explanation.excluded.get(&Misfit::Offline), Some(&1))
        }
        other => panic!("expected unplaceable, got {other:?}"),
    }
    // A heartbeat brings it back.
    let mut beating = node(1, vec![], 4, 50_000, (100, 0));
    beating.last_heartbeat_s = offline_at;
    engine.upsert(&beating, Some(10));
    assert!(matches!(
        engine.place(&request(4, Requirements::default())),
        Decision::Assign(_)
    ));
}

#[test]
fn dominant_resource_fairness_serves_the_light_user_before_the_heavy_one_catches_up() {
    let mut engine = Engine::new(NodeParams::default(), Weights::default());
    engine.advance(NOW_S);
    engine.upsert(&node(1, vec![], 4, 50_000, (100, 0)), Some(10));
    let heavy = AccountId([1; 32]);
    let light = AccountId([2; 32]);
    // The heavy user queued 6 tasks before the light user's 2; there are 4 slots.
    let mut requests = Vec::new();
    for job in 0..6 {
        requests.push(Request {
            owner: heavy,
            ..request(job, Requirements::default())
        });
    }
    for job in 6..8 {
        requests.push(Request {
            owner: light,
            ..request(job, Requirements::default())
        });
    }
    let mut placed = BTreeMap::<AccountId, u32>::new();
    for (unit, decision) in Round::new(&engine, requests).run(&mut engine) {
        if let UnitDecision::Assign(_) = decision {
            *placed.entry(unit.requests[0].owner).or_default() += 1;
        }
    }
    assert_eq!(placed.get(&heavy), Some(&2));
    assert_eq!(placed.get(&light), Some(&2));
}

#[test]
fn a_repriced_stake_requirement_pauses_nodes_after_their_grace() {
    let mut engine = Engine::new(NodeParams::default(), Weights::default());
    engine.advance(NOW_S);
    // Staked at exactly the genesis requirement; heartbeats keep coming.
    let mut record = node(1, vec![], 4, 50_000, (100, 0));
    engine.upsert(&record, Some(10));
    assert!(matches!(
        engine.place(&request(1, Requirements::default())),
        Decision::Assign(_)
    ));
    // The ledger doubles the requirement at NOW_S: the node is in grace for 3 days.
    let mut raised = NodeParams::default();
    raised.previous_stake_per_cu = raised.stake_per_cu;
    raised.stake_per_cu = raised
        .stake_per_cu
        .checked_add(raised.stake_per_cu)
        .expect("fits");
    raised.stake_changed_s = NOW_S;
    engine.set_params(raised.clone());
    assert!(matches!(
        engine.place(&request(2, Requirements::default())),
        Decision::Assign(_)
    ));
    let grace_end = NOW_S + raised.stake_grace_s;
    record.last_heartbeat_s = grace_end - 1;
    engine.advance(grace_end - 1);
    engine.upsert(&record, Some(10));
    assert!(matches!(
        engine.place(&request(3, Requirements::default())),
        Decision::Assign(_)
    ));
    // At the end of the grace it is paused, without any new record.
    engine.advance(grace_end);
    match engine.place(&request(4, Requirements::default())) {
        Decision::Unplaceable(explanation) => {
            assert_eq!(explanation.excluded.get(&Misfit::Understaked), Some(&1))
        }
        other => panic!("expected unplaceable, got {other:?}"),
    }
    // Topping up brings it back.
    record.stake = record.stake.checked_add(record.stake).expect("fits");
    engine.upsert(&record, Some(10));
    assert!(matches!(
        engine.place(&request(5, Requirements::default())),
        Decision::Assign(_)
    ));
}

#[test]
fn nodes_with_96_gb_get_gpu_work_first_and_alone_take_high_load_jobs() {
    let mut engine = Engine::new(NodeParams::default(), Weights::default());
    engine.advance(NOW_S);
    // Two 2-GPU nodes at one price: 2 × 40 GB and 2 × 48 GB (96 GB in all).
    let gpus = |vram_mib| {
        vec![GpuSpec {
            model: "L40S".into(),
            count: 2,
            vram_mib,
        }]
    };
    engine.upsert(&node(1, gpus(40_960), 8, 50_000, (100, 0)), Some(10));
    engine.upsert(&node(2, gpus(49_152), 8, 50_000, (100, 0)), Some(10));
    let task = |high_load| Requirements {
        gpu_model: Some("L40S".into()),
        gpu_count: 2,
        min_vram_mib: 40_000,
        high_load,
        ..Requirements::default()
    };
    // Without the priority the smaller node would win on spare VRAM; with it the 96 GB one does.
    match engine.place(&request(1, task(false))) {
        Decision::Assign(allocation) => assert_eq!(allocation.node, AccountId([2; 32])),
        other => panic!("expected an assignment, got {other:?}"),
    }
    // The 96 GB node is now full: a high-load job waits instead of going to the small node.
    assert!(matches!(
        engine.place(&request(2, task(true))),
        Decision::Wait
    ));
    match engine.place(&request(3, task(false))) {
        Decision::Assign(allocation) => assert_eq!(allocation.node, AccountId([1; 32])),
        other => panic!("expected an assignment, got {other:?}"),
    }
}

#[test]
fn tee_tasks_go_only_to_nodes_whose_tier_stands_and_an_expired_tier_takes_the_node_out() {
    let mut engine = Engine::new(NodeParams::default(), Weights::default());
    engine.advance(NOW_S);
    let with = |seed: u8, tier: TeeTier, expires_s: u64, price: u128| {
        let mut record = node(seed, vec![], 4, price, (100, 0));
        record.tee = TeeStatus {
            tier,
            expires_s,
            ..TeeStatus::default()
        };
        record
    };
    // Cheapest first: a plain node, a CPU TEE, a CPU + GPU TEE whose verdict ends soon.
    engine.upsert(&with(1, TeeTier::None, 0, 10_000), Some(1));
    engine.upsert(&with(2, TeeTier::Cpu, NOW_S + 1_000, 20_000), Some(1));
    engine.upsert(&with(3, TeeTier::CpuGpu, NOW_S + 100, 30_000), Some(1));
    let task = |tee| Requirements {
        tee,
        ..Requirements::default()
    };
    let placed = |engine: &mut Engine, job, tee| match engine.place(&request(job, task(tee))) {
        Decision::Assign(allocation) => Some(allocation.node),
        Decision::Wait | Decision::Unplaceable(_) => None,
    };
    assert_eq!(
        placed(&mut engine, 1, TeeTier::None),
        Some(AccountId([1; 32]))
    );
    assert_eq!(
        placed(&mut engine, 2, TeeTier::Cpu),
        Some(AccountId([2; 32]))
    );
    assert_eq!(
        placed(&mut engine, 3, TeeTier::CpuGpu),
        Some(AccountId([3; 32]))
    );
    // Past node 3's expiry it takes no TEE work, and no GPU-TEE node is left.
    engine.advance(NOW_S + 100);
    engine.upsert(&with(3, TeeTier::CpuGpu, NOW_S + 100, 30_000), Some(1));
    match engine.place(&request(4, task(TeeTier::CpuGpu))) {
        Decision::Unplaceable(explanation) => {
            assert!(
                explanation.excluded.contains_key(&Misfit::NoTee),
                "{explanation:?}"
            )
        }
        other => panic!("expected unplaceable, got {other:?}"),
    }
    // It still takes work that needs no TEE once nodes 1 and 2 are busier.
    assert!(placed(&mut engine, 5, TeeTier::None).is_some());
}

#[test]
fn process_tasks_go_only_to_sandboxes_with_limits_memory_and_egress_enough() {
    let mut engine = Engine::new(NodeParams::default(), Weights::default());
    engine.advance(NOW_S);
    let with = |seed: u8, sandbox: Option<SandboxSupport>, ram_mib: u64| {
        let mut record = node(seed, vec![], 4, 100_000, (100, 0));
        record.hardware.sandbox = sandbox;
        record.hardware.ram_mib = ram_mib;
        record
    };
    let limited = |network_egress| {
        Some(SandboxSupport {
            limits: CgroupVersion::V2,
            network_egress,
        })
    };
    // Cheapest first: none of these three may take a process task.
    engine.upsert(&with(1, None, 65_536), Some(1));
    engine.upsert(
        &with(
            2,
            Some(SandboxSupport {
                limits: CgroupVersion::None,
                network_egress: true,
            }),
            65_536,
        ),
        Some(1),
    );
    engine.upsert(&with(3, limited(false), 8_192), Some(1));
    engine.upsert(&with(4, limited(false), 65_536), Some(50));
    let process = |memory_mib, network| Requirements {
        sandbox: Some(SandboxNeeds {
            memory_mib,
            network,
        }),
        ..Requirements::default()
    };
    for (job, memory_mib, expected) in [(1, 4_096, 3), (2, 16_384, 4)] {
        match engine.place(&request(job, process(memory_mib, false))) {
            Decision::Assign(allocation) => {
                assert_eq!(
                    allocation.node,
                    AccountId([expected; 32]),
                    "{memory_mib} MiB"
                )
            }
            other => panic!("expected a placement, got {other:?}"),
        }
    }
    match engine.place(&request(3, process(1_024, true))) {
        Decision::Unplaceable(explanation) => {
            assert_eq!(explanation.excluded.get(&Misfit::NoSandbox), Some(&2));
            assert_eq!(explanation.excluded.get(&Misfit::NoNetworkEgress), Some(&2));
        }
        other => panic!("expected unplaceable, got {other:?}"),
    }
    // A node that starts allowing egress takes it.
    engine.upsert(&with(3, limited(true), 8_192), Some(1));
    assert!(
        matches!(engine.place(&request(3, process(1_024, true))), Decision::Assign(a) if a.node == AccountId([3; 32]))
    );
}
