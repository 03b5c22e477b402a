//! The incentive pool through blocks (rules §4-§6): the whole pool released to the base unit,
//! also when the period length and release fraction change midway; the controller's vectors;
//! one period's Proof of Capacity, Proof of Delivery, rebates, grants and dust adding up to its
//! release exactly, against scores computed here by hand; self-dealing earning nothing; fee tiers;
//! the stake requirement repriced at the pool's TWAP with its grace period; high-load jobs.

use crate::common::GOVERNOR;
use crate::common::{account, funded, vcai, Harness};
use vcity_ledger::genesis::GenesisPool;
use vcity_ledger::incentives::{self, IncentiveParams};
use vcity_ledger::{bank, jobs, nodes};
use vcity_types::compute::{
    AddStake, AssignTask, Billing, GpuSpec, Hardware, NameReferrer, NodeHeartbeat, NodeKind,
    RegisterNode, Requirements, Role, StartTask, SubmitJob, Workload,
};
use vcity_types::event::Event;
use vcity_types::governance::{Action, ParamChange, Propose};
use vcity_types::incentives::{FeeTier, LongTermParams, RewardParts};
use vcity_types::tx::Message;
use vcity_types::{Amount, Denom, Hash};

const BIG: u8 = 2; // 2 × H100 80 GB: 160 GB, multi-GPU coefficient 1.2
const SMALL: u8 = 3; // 1 × H100 80 GB
const SCHEDULER: u8 = 4;
const BUYER: u8 = 5;
const OTHER_BUYER: u8 = 6;

fn h100s(count: u32) -> Hardware {
    Hardware {
        sandbox: None,
        gpus: vec![GpuSpec {
            model: "H100".into(),
            count,
            vram_mib: 81_920,
        }],
        cpu_cores: 8,
        ram_mib: 65_536,
    }
}

fn register(chain: &mut Harness, t_s: u64, seed: u8, role: Role, hardware: Hardware, stake: u128) {
    let message = RegisterNode {
        role,
        kind: NodeKind::Stable,
        hardware,
        region: "eu-west".into(),
        endpoint: "https://node.example".into(),
        price_per_cu_usd: if role == Role::Compute {
            Amount::new(500)
        } else {
            Amount::ZERO
        },
        stake: vcai(stake),
    };
    let receipt = chain.at(t_s, seed, Message::RegisterNode(message));
    assert_eq!(receipt.code, 0, "{}", receipt.error);
}

/// The two compute nodes (BIG and SMALL) and the scheduler, at genesis.
fn register_network(chain: &mut Harness) {
    register(chain, 0, BIG, Role::Compute, h100s(2), 40_800);
    register(chain, 0, SMALL, Role::Compute, h100s(1), 20_800);
    register(
        chain,
        0,
        SCHEDULER,
        Role::Scheduler,
        Hardware::default(),
        50_000,
    );
}

fn heartbeat(chain: &mut Harness, t_s: u64, seed: u8) {
    let beat = NodeHeartbeat {
        load_ppm: 0,
        running_tasks: 0,
        health: crate::common::healthy(),
    };
    let receipt = chain.at(t_s, seed, Message::NodeHeartbeat(beat));
    assert_eq!(receipt.code, 0, "{}", receipt.error);
}

fn gpu_job() -> SubmitJob {
    SubmitJob {
        workload: Workload {
            executor: vcity_types::compute::ExecutorKind::Wasm,
            module_hash: Hash([7; 32]),
            input: b"x".to_vec(),
            shards: Vec::new(),
            service: None,
            output_dir: false,
            confidential: None,
        },
        tasks: 1,
        requirements: Requirements {
            gpu_model: Some("H100".into()),
            gpu_count: 1,
            min_vram_mib: 40_000,
            max_duration_s: 300,
            ..Requirements::default()
        },
        max_cu_ppm_per_task: 100_000_000,
        max_price_per_cu_usd: Amount::new(1_000),
        billing: Billing::PayAsYouGo,
        verification: vcity_types::trust::VerificationLevel::None,
        retries: None,
    }
}

/// Submit, assign, start and commit a result of `cu` CU, from `t_s` on (4 blocks).
fn run_job(chain: &mut Harness, t_s: u64, owner: u8, node: u8, cu: u64) -> u64 {
    run_job_of(chain, t_s, owner, node, cu, gpu_job())
}

/// [`run_job`] for any job.
fn run_job_of(chain: &mut Harness, t_s: u64, owner: u8, node: u8, cu: u64, job: SubmitJob) -> u64 {
    let receipt = chain.at(t_s, owner, Message::SubmitJob(job));
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    let job_id = jobs::count(chain.ledger.state());
    let steps = [
        (
            SCHEDULER,
            Message::AssignTask(AssignTask {
                job_id,
                task: 0,
                node: account(node),
            }),
        ),
        (node, Message::StartTask(StartTask { job_id, task: 0 })),
        (
            node,
            crate::common::signed_result(
                chain.chain_id(),
                node,
                job_id,
                0,
                1,
                crate::common::commitment(&[1], cu * 1_000_000),
            ),
        ),
    ];
    for (offset, (seed, message)) in steps.into_iter().enumerate() {
        let receipt = chain.at(t_s + 1 + offset as u64, seed, message);
        assert_eq!(receipt.code, 0, "{}", receipt.error);
    }
    job_id
}

/// The reputation of a node with `done` tasks completed, heartbeats `beats` (time, gap since
/// the previous one), at a settlement at `settle_s`, recomputed from docs/verification.md's
/// formula: work `(done + 1) / (done + 2)`; uptime `(1 + online / span) / 2` over the heartbeats
/// before the settling block; start latency 1 s of 120 (every task here starts one block after
/// its assignment); no checks failed, no slashes.
fn reference_quality(done: u128, beats: &[(u64, u64)], settle_s: u64) -> u128 {
    let ppm = 1_000_000u128;
    let work = (done + 1) * ppm / (done + 2);
    let before: Vec<&(u64, u64)> = beats.iter().filter(|(t, _)| *t < settle_s).collect();
    let span = before.last().map_or(0, |(t, _)| u128::from(*t));
    let online: u128 = before
        .iter()
        .filter(|(_, since)| *since <= 180)
        .map(|(_, since)| u128::from(*since))
        .sum();
    let up = (online * ppm)
        .checked_div(span)
        .map_or(ppm, |up| up.min(ppm));
    let uptime = (ppm + up) / 2;
    let latency = ppm - ppm / 240;
    work * uptime / ppm * latency / ppm
}

/// A chain whose incentive pool schedules exactly 1,000 VCAI a period (522,000 over 522), with
/// 1,000-second periods and a pool at 0.05 USD per VCAI.
fn chain_with(params: IncentiveParams) -> Harness {
    let accounts = [BIG, SMALL, SCHEDULER, BUYER, OTHER_BUYER]
        .into_iter()
        .map(|seed| funded(seed, vcai(200_000), crate::common::usd(1_000)))
        .collect();
    let mut genesis = crate::common::genesis("vcity-incentives", accounts);
    genesis.incentive_pool_vcai = vcai(522_000);
    genesis.incentives = Some(params);
    crate::common::governed(&mut genesis);
    genesis.pool = Some(GenesisPool {
        vcai: vcai(1_000_000),
        usd: crate::common::usd(50_000),
    });
    Harness::new(&genesis)
}

fn short_periods() -> IncentiveParams {
    IncentiveParams {
        period_s: 1_000,
        ..IncentiveParams::default()
    }
}

fn vcai_of(chain: &Harness, account: &vcity_types::AccountId) -> Amount {
    bank::balance(chain.ledger.state(), account, Denom::Vcai)
}

#[test]
fn the_schedule_releases_the_whole_pool_to_the_base_unit() {
    let pool = vcai(2_000_000_000);
    let mut params = IncentiveParams::default();
    // The first week: 2e9 / 522 = 3,831,417.624521072796934865… VCAI, rounded down.
    let (first, grants, budget) = incentives::schedule(&params, 0, pool, 500_000);
    assert_eq!(first, Amount::new(3_831_417_624_521_072_796_934_865));
    assert_eq!(grants, Amount::ZERO);
    assert_eq!(budget.total().expect("fits"), first);
    // After capacity, the supply side's other half splits 20% performance bonus, 80% delivery.
    assert_eq!(
        budget.capacity,
        budget
            .delivery
            .checked_add(budget.performance)
            .expect("fits")
    );
    assert_eq!(
        budget.performance,
        budget
            .capacity
            .mul_div(1, 5, vcity_types::Rounding::Down)
            .expect("fits")
    );
    assert_eq!(budget.referral, Amount::ZERO, "referrals have no budget");
    assert_eq!(
        budget.rebate,
        Amount::new(1_915_708_812_260_536_398_467_433)
    );

    let mut remaining = pool;
    let mut released = Amount::ZERO;
    let mut to_grants = Amount::ZERO;
    for index in 0..522 {
        if index == 200 {
            params.release_fraction_ppm = 700_000;
        }
        let (scheduled, grants, budget) = incentives::schedule(&params, index, remaining, 412_345);
        assert_eq!(
            budget
                .total()
                .expect("fits")
                .checked_add(grants)
                .expect("fits"),
            scheduled
        );
        if index >= 200 {
            assert!(!grants.is_zero());
        }
        remaining = remaining.checked_sub(scheduled).expect("fits");
        released = released
            .checked_add(budget.total().expect("fits"))
            .expect("fits");
        to_grants = to_grants.checked_add(grants).expect("fits");
    }
    assert_eq!(remaining, Amount::ZERO);
    assert_eq!(released.checked_add(to_grants).expect("fits"), pool);
}

#[test]
fn the_controller_matches_the_whitepaper_and_clips() {
    let step = |share, utilization| {
        incentives::next_supply_share_ppm(share, utilization, 100_000, 800_000)
    };
    // Scenario 1: U = 60% → −2 points; scenario 2: U = 95% → +1.5 points.
    assert_eq!(step(500_000, 600_000), 480_000);
    assert_eq!(step(500_000, 950_000), 515_000);
    // Clipped at both ends.
    assert_eq!(step(50_000, 0), 0);
    assert_eq!(step(990_000, 1_000_000), 1_000_000);
    // The product rounds toward negative infinity.
    assert_eq!(step(500_000, 800_001), 500_000);
    assert_eq!(step(500_000, 799_999), 499_999);
    // Utilization: 0 with nothing available, at most 100%.
    assert_eq!(incentives::utilization_ppm(5, 0), 0);
    assert_eq!(incentives::utilization_ppm(3, 2), 1_000_000);
    assert_eq!(incentives::utilization_ppm(1, 3), 333_333);
}

#[test]
fn the_pool_empties_through_blocks_while_length_and_fraction_change() {
    let mut chain = chain_with(IncentiveParams {
        period_s: 10,
        ..IncentiveParams::default()
    });
    // Only a proposal changes parameters; proposing needs ve weight.
    let propose = |change| {
        Message::Propose(Propose {
            title: "change".into(),
            description: String::new(),
            actions: vec![Action::SetParam { change }],
        })
    };
    let refused = chain.at(0, BIG, propose(ParamChange::ReleaseFraction { ppm: 0 }));
    assert_eq!(refused.code, 35, "{}", refused.error);
    let bad = chain.at(
        0,
        GOVERNOR,
        propose(ParamChange::ReleaseFraction { ppm: 1_000_001 }),
    );
    assert_eq!(bad.code, 26, "{}", bad.error);
    for change in [
        ParamChange::IncentivePeriod { period_s: 0 },
        ParamChange::IncentivePeriod {
            period_s: incentives::MAX_PERIOD_S + 1,
        },
        ParamChange::StakeRequirement {
            usd_per_cu: Amount::new(1),
            grace_s: 8 * 86_400,
        },
        ParamChange::VramTiers {
            tiers: vec![vcity_types::incentives::VramTier {
                min_vram_mib: 1,
                coefficient_ppm: 999_999,
            }],
        },
    ] {
        let receipt = chain.at(0, GOVERNOR, propose(change));
        assert_eq!(receipt.code, 26, "{}", receipt.error);
    }

    // The changes pass through proposals that take 30 s (three 10 s periods) each.
    let mut t = 0;
    let (mut length_changed_in, mut fraction_changed_in) = (None, None);
    loop {
        let open = incentives::current(chain.ledger.state()).expect("fits");
        if open.index >= 530 {
            break;
        }
        let change = match open.index {
            100.. if length_changed_in.is_none() => {
                Some(ParamChange::IncentivePeriod { period_s: 20 })
            }
            300.. if fraction_changed_in.is_none() => {
                Some(ParamChange::ReleaseFraction { ppm: 700_000 })
            }
            _ => None,
        };
        if let Some(change) = change {
            let is_length = matches!(change, ParamChange::IncentivePeriod { .. });
            let (receipt, executed_s) =
                chain.govern(t, GOVERNOR, vec![Action::SetParam { change }]);
            assert_eq!(receipt.code, 0, "{}", receipt.error);
            let during = incentives::current(chain.ledger.state())
                .expect("fits")
                .index;
            if is_length {
                length_changed_in = Some(during);
            } else {
                fraction_changed_in = Some(during);
            }
            t = executed_s;
            continue;
        }
        t = open.end_s();
        chain.block_at(t, vec![]);
    }
    let length_changed_in = length_changed_in.expect("changed");
    let fraction_changed_in = fraction_changed_in.expect("changed");
    // The new length applied from the period after the change.
    let state = chain.ledger.state();
    let first_long = length_changed_in + 1;
    assert_eq!(
        incentives::period(state, length_changed_in)
            .expect("fits")
            .length_s,
        10
    );
    assert_eq!(
        incentives::period(state, first_long)
            .expect("fits")
            .length_s,
        20
    );
    assert_eq!(
        incentives::period(state, first_long + 49)
            .expect("fits")
            .start_s,
        first_long * 10 + 49 * 20
    );

    let (mut scheduled_before_last, mut grants) = (0u128, 0u128);
    let mut returned_before_last = 0u128;
    let mut last_opened = false;
    for event in &chain.events {
        match event {
            Event::IncentivePeriodStarted {
                period,
                released,
                grants: to_grants,
                ..
            } => {
                if *period <= 521 {
                    scheduled_before_last += released.base_units() + to_grants.base_units();
                }
                if *period == 521 {
                    last_opened = true;
                }
                grants += to_grants.base_units();
                assert_eq!(
                    to_grants.is_zero(),
                    *period <= fraction_changed_in,
                    "period {period}"
                );
            }
            Event::IncentivePeriodSettled { returned, .. } if !last_opened => {
                returned_before_last += returned.base_units();
            }
            _ => {}
        }
    }
    // What the 522 periods took out is the pool plus what came back before the last one opened:
    // nothing is lost or created, to the base unit.
    assert_eq!(
        scheduled_before_last,
        vcai(522_000).base_units() + returned_before_last
    );
    assert_eq!(
        vcai_of(&chain, &incentives::grants_account()).base_units(),
        grants
    );
    // The pool account holds what is unreleased plus the open period's budget.
    let open = incentives::current(state).expect("fits");
    assert_eq!(
        vcai_of(&chain, &incentives::pool_account()),
        incentives::remaining(state)
            .checked_add(open.released())
            .expect("fits")
    );
}

#[test]
fn a_period_pays_capacity_delivery_and_rebates_exactly() {
    let mut chain = chain_with(short_periods());
    register_network(&mut chain);

    // Jobs: the buyer 40 CU on BIG, the other buyer 10 CU on SMALL, and SMALL 20 CU on itself.
    run_job(&mut chain, 10, BUYER, BIG, 40);
    run_job(&mut chain, 50, OTHER_BUYER, SMALL, 10);
    run_job(&mut chain, 85, SMALL, SMALL, 20);
    // Heartbeats: BIG every 100 s; SMALL goes silent for 300 s once (an outage).
    for t in (100..=900).step_by(100) {
        heartbeat(&mut chain, t, BIG);
        if t != 300 && t != 400 {
            heartbeat(&mut chain, t, SMALL);
        }
    }
    let open = incentives::current(chain.ledger.state()).expect("fits");
    assert_eq!(open.index, 0);
    // All three results settled at 700 (verification window 600 s).
    assert_eq!(
        open.consumed_cu_ppm, 50_000_000,
        "self-dealt CU does not count"
    );

    // Scores by hand. Capacity: 2 × 2.0 (H100) + 8 × 0.01 (cores) = 4.08 CU/s for BIG.
    let big_raw: u128 = 4_080_000 * 900 * 12 / 10; // 900 s online, coefficient 1.2
    let small_raw: u128 = 2_080_000 * 600; // 600 s online (the 300 s gap does not count)
    let small_score = small_raw / 2; // stability 1 / (1 + 1 outage)
    let capacity_total = big_raw + small_score;
    // Delivery: CU × reputation (docs/verification.md): work 0.5 (no task completed yet) ×
    // uptime × start latency (1 s of the 120 s deadline: 1 − 1/240 = 995,834 ppm). BIG was
    // online for all 600 s to its last heartbeat (uptime 1); SMALL for 300 of 600 (its 300 s gap
    // is an outage), so (1 + 0.5) / 2 = 0.75.
    let big_quality: u128 = 500_000 * 995_834 / 1_000_000; // 497,917
    let small_quality: u128 = 500_000 * 750_000 / 1_000_000 * 995_834 / 1_000_000; // 373,437
    let (big_delivery, small_delivery) = (
        40_000_000u128 * big_quality / 1_000_000,
        10_000_000u128 * small_quality / 1_000_000,
    );
    assert_eq!(open.totals.capacity_score, capacity_total);
    assert_eq!(open.totals.delivery_score, big_delivery + small_delivery);
    assert_eq!(open.available_cu_ppm, 4_080_000 * 900 + small_raw);

    // Income (docs/operators.md): each node's USD earned in the period is what its settlements
    // paid it, the self-dealt job included (income, not a score); its outages are counted.
    for (node, outages) in [(BIG, 0), (SMALL, 1)] {
        let paid: u128 = chain
            .events
            .iter()
            .filter_map(|event| match event {
                Event::TaskSettled {
                    node: to, node_usd, ..
                } if *to == account(node) => Some(node_usd.base_units()),
                _ => None,
            })
            .sum();
        assert!(paid > 0);
        let activity = incentives::activity(chain.ledger.state(), &account(node), 8);
        assert_eq!(activity.len(), 1, "one period so far");
        let (period, stats) = &activity[0];
        assert_eq!(*period, 0);
        assert_eq!(stats.earned_usd.base_units(), paid);
        assert_eq!(stats.outages, outages);
    }

    let earned_before =
        [BIG, SMALL].map(|node| incentives::activity(chain.ledger.state(), &account(node), 8));

    chain.block_at(1_000, vec![]);
    let state = chain.ledger.state();
    let closed = incentives::period(state, 0).expect("fits");
    assert!(closed.closed && closed.settled);
    // Crediting deletes the period's records; the counts stay in the operator's view.
    for (node, before) in [BIG, SMALL].into_iter().zip(earned_before) {
        assert_eq!(incentives::activity(state, &account(node), 8), before);
    }
    // Budgets: 1,000 VCAI; P_supply 0.5 → 250 capacity, then 200 delivery and 50 performance
    // bonus, 500 rebates. Neither node's reputation exceeds the bonus threshold (80%): the 50
    // go back to the pool.
    assert_eq!(closed.scheduled, vcai(1_000));
    assert_eq!(
        closed.budget,
        RewardParts {
            capacity: vcai(250),
            delivery: vcai(200),
            performance: vcai(50),
            rebate: vcai(500),
            referral: Amount::ZERO,
        }
    );
    assert_eq!(closed.totals.performance_score, 0);
    let share = |budget: u128, score: u128, total: u128| budget * score / total;
    let big = incentives::account(state, &account(BIG));
    let small = incentives::account(state, &account(SMALL));
    assert_eq!(
        big.total.capacity.base_units(),
        share(vcai(250).base_units(), big_raw, capacity_total)
    );
    assert_eq!(
        small.total.capacity.base_units(),
        share(vcai(250).base_units(), small_score, capacity_total)
    );
    let delivery_total = big_delivery + small_delivery;
    assert_eq!(
        big.total.delivery.base_units(),
        share(vcai(200).base_units(), big_delivery, delivery_total)
    );
    assert_eq!(
        small.total.delivery.base_units(),
        share(vcai(200).base_units(), small_delivery, delivery_total)
    );
    // Rebates: pro rata 400 and 100 VCAI, capped at the fees paid (2,000 and 500 USD base units)
    // at 0.05 USD per VCAI: 0.04 and 0.01 VCAI.
    let buyer = incentives::account(state, &account(BUYER));
    let other = incentives::account(state, &account(OTHER_BUYER));
    assert_eq!(buyer.total.rebate, Amount::new(40_000_000_000_000_000));
    assert_eq!(other.total.rebate, Amount::new(10_000_000_000_000_000));
    // Self-dealing: SMALL paid itself and earned no rebate.
    assert_eq!(small.total.rebate, Amount::ZERO);

    // Capacity + delivery + rebates + grants + returned = the period's scheduled amount.
    let credited = [&big, &small, &buyer, &other]
        .iter()
        .map(|record| record.total.total().expect("fits").base_units())
        .sum::<u128>();
    assert_eq!(
        closed.credited.total().expect("fits").base_units(),
        credited
    );
    assert_eq!(
        credited + closed.grants.base_units() + closed.returned.base_units(),
        closed.scheduled.base_units()
    );
    // The controller: U = 50 CU / 4,920 CU = 1.0162% → P_supply 0.5 + 0.1 × (0.010162 − 0.8).
    assert_eq!(closed.utilization_ppm, 10_162);
    let next = incentives::current(state).expect("fits");
    assert_eq!(next.supply_share_ppm, 500_000 - 78_984);
    assert_eq!(
        vcai_of(&chain, &incentives::rewards_account()).base_units(),
        credited
    );

    // Claims pay the credited VCAI; a second claim has nothing.
    let before = vcai_of(&chain, &account(BIG));
    let receipt = chain.at(
        1_001,
        BIG,
        Message::ClaimRewards(vcity_types::tx::ClaimRewards {}),
    );
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    assert_eq!(
        vcai_of(&chain, &account(BIG))
            .checked_sub(before)
            .expect("fits"),
        big.total.total().expect("fits")
    );
    let again = chain.at(
        1_002,
        BIG,
        Message::ClaimRewards(vcity_types::tx::ClaimRewards {}),
    );
    assert_eq!(again.code, 16, "{}", again.error);
    assert_eq!(
        incentives::account(chain.ledger.state(), &account(BIG)).history[0].period,
        0
    );
}

#[test]
fn utilization_above_the_target_moves_supply_up() {
    let mut chain = chain_with(short_periods());
    // One CPU core: 0.01 CU/s, so about 10 CU available in the period; 50 CU delivered.
    let cpu = Hardware {
        sandbox: None,
        gpus: vec![],
        cpu_cores: 1,
        ram_mib: 1_024,
    };
    register(&mut chain, 0, SMALL, Role::Compute, cpu, 100);
    register(
        &mut chain,
        0,
        SCHEDULER,
        Role::Scheduler,
        Hardware::default(),
        50_000,
    );
    let mut job = gpu_job();
    job.requirements = Requirements {
        max_duration_s: 300,
        ..Requirements::default()
    };
    run_job_of(&mut chain, 10, BUYER, SMALL, 50, job);
    for t in (100..=900).step_by(100) {
        heartbeat(&mut chain, t, SMALL);
    }
    chain.block_at(1_000, vec![]);
    let state = chain.ledger.state();
    let closed = incentives::period(state, 0).expect("closed");
    assert_eq!(closed.available_cu_ppm, 10_000 * 900);
    assert_eq!(closed.consumed_cu_ppm, 50_000_000);
    // Capped at 100%: P_supply 0.5 + 0.1 × (1 − 0.8) = 0.52.
    assert_eq!(closed.utilization_ppm, 1_000_000);
    assert_eq!(
        incentives::current(state).expect("open").supply_share_ppm,
        520_000
    );
}

#[test]
fn fee_tiers_lower_the_protocol_cut_for_proven_nodes() {
    let params = jobs::JobParams::default();
    let mut node = vcity_types::compute::NodeRecord {
        id: account(BIG),
        role: Role::Compute,
        kind: NodeKind::Stable,
        hardware: h100s(1),
        region: String::new(),
        endpoint: String::new(),
        price_per_cu_usd: Amount::new(1),
        stake: Amount::ZERO,
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
        tee: Default::default(),
    };
    assert_eq!(vcity_ledger::reputation::score_ppm(&node, 120), 500_000);
    assert_eq!(jobs::fee_ppm(&params, &node), 100_000);
    node.tasks_completed = 200;
    node.tasks_lost = 2; // 201 / 204 = 98.5%
    assert_eq!(jobs::fee_ppm(&params, &node), 80_000);
    node.tasks_completed = 2_000;
    assert_eq!(jobs::fee_ppm(&params, &node), 60_000);
    node.tasks_lost = 100; // 95.2%: back to the middle tier
    assert_eq!(jobs::fee_ppm(&params, &node), 80_000);

    // A proposal can change the tiers; a tier above the base fee is refused when proposed.
    let mut chain = chain_with(short_periods());
    let change = |fee_ppm, tier_fee_ppm| Action::SetParam {
        change: ParamChange::NetworkFee {
            fee_ppm,
            tiers: vec![FeeTier {
                min_reputation_ppm: 0,
                min_completed: 0,
                fee_ppm: tier_fee_ppm,
            }],
        },
    };
    let refused = chain.at(
        1,
        GOVERNOR,
        Message::Propose(Propose {
            title: "fees".into(),
            description: String::new(),
            actions: vec![change(50_000, 60_000)],
        }),
    );
    assert_eq!(refused.code, 26, "{}", refused.error);
    let (receipt, _) = chain.govern(2, GOVERNOR, vec![change(50_000, 20_000)]);
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    let settings = jobs::params(chain.ledger.state());
    assert_eq!(settings.network_fee_ppm, 50_000);
    assert_eq!(jobs::fee_ppm(&settings, &node), 20_000);
}

#[test]
fn the_stake_requirement_follows_the_pool_price_with_a_grace_period() {
    let accounts = [BIG, SCHEDULER, BUYER]
        .into_iter()
        .map(|seed| funded(seed, vcai(200_000), crate::common::usd(1_000)))
        .collect();
    let mut genesis = crate::common::genesis("vcity-stake", accounts);
    genesis.incentives = Some(short_periods());
    // 0.05 USD per VCAI: 1,000 USD per CU is 20,000 VCAI, twice the genesis requirement.
    genesis.pool = Some(GenesisPool {
        vcai: vcai(1_000_000),
        usd: crate::common::usd(50_000),
    });
    let mut chain = Harness::new(&genesis);
    register(&mut chain, 0, BIG, Role::Compute, h100s(1), 20_800);
    register(
        &mut chain,
        0,
        SCHEDULER,
        Role::Scheduler,
        Hardware::default(),
        50_000,
    );
    let week = 7 * 86_400;
    heartbeat(&mut chain, week, BIG);
    let params = nodes::params(chain.ledger.state());
    assert_eq!(params.stake_per_cu, vcai(20_000));
    assert_eq!(params.previous_stake_per_cu, vcai(10_000));
    assert!(chain.events.iter().any(|event| matches!(
        event,
        Event::StakeRequirementChanged { vcai_per_cu } if *vcai_per_cu == vcai(20_000)
    )));
    let record = nodes::node(chain.ledger.state(), &account(BIG)).expect("fits");
    let grace_end = week + 3 * 86_400;
    assert_eq!(
        nodes::standing(&params, &record, week),
        nodes::Standing::Grace { until_s: grace_end }
    );

    // In grace the node still takes work; after it, it is paused and refused.
    let mut job = gpu_job();
    job.requirements.high_load = false;
    assert_eq!(
        chain
            .at(week + 1, BUYER, Message::SubmitJob(job.clone()))
            .code,
        0
    );
    let assign = |job_id| {
        Message::AssignTask(AssignTask {
            job_id,
            task: 0,
            node: account(BIG),
        })
    };
    assert_eq!(chain.at(week + 2, SCHEDULER, assign(1)).code, 0);
    heartbeat(&mut chain, grace_end, BIG);
    assert_eq!(
        nodes::standing(&params, &record, grace_end),
        nodes::Standing::Paused
    );
    assert_eq!(chain.at(grace_end, BUYER, Message::SubmitJob(job)).code, 0);
    let refused = chain.at(grace_end + 1, SCHEDULER, assign(2));
    assert_eq!(refused.code, 25, "{}", refused.error);
    assert!(
        refused.error.contains("stake below requirement"),
        "{}",
        refused.error
    );
    // A paused node is not in good standing (docs/protocol.md, "Long-term incentives"): each
    // period it beats in while paused restarts its loyalty streak.
    let outage_period = incentives::current_index(chain.ledger.state());
    for t in [grace_end + 100, grace_end + 200] {
        heartbeat(&mut chain, t, BIG);
    }
    let paused_period = incentives::current_index(chain.ledger.state());
    assert!(
        paused_period > outage_period,
        "the chain catches up on periods"
    );
    assert_eq!(
        incentives::loyalty(chain.ledger.state(), &account(BIG)),
        Some(incentives::Loyalty {
            first_full_period: paused_period + 1
        })
    );

    // Topping up restores it.
    let top_up = Message::AddStake(AddStake {
        amount: vcai(20_800),
    });
    assert_eq!(chain.at(grace_end + 302, BIG, top_up).code, 0);
    let record = nodes::node(chain.ledger.state(), &account(BIG)).expect("fits");
    assert_eq!(
        nodes::standing(&params, &record, grace_end + 302),
        nodes::Standing::Met
    );
    assert_eq!(chain.at(grace_end + 303, SCHEDULER, assign(2)).code, 0);
}

#[test]
fn high_load_jobs_need_96_gb_of_gpu_memory() {
    let mut chain = chain_with(short_periods());
    register(&mut chain, 0, BIG, Role::Compute, h100s(2), 40_800);
    register(&mut chain, 0, SMALL, Role::Compute, h100s(1), 20_800);
    let state = chain.ledger.state();
    let params = nodes::params(state);
    let mut requirements = gpu_job().requirements;
    requirements.high_load = true;
    let fits = |seed| {
        let node = nodes::node(state, &account(seed)).expect("fits");
        jobs::fits(&params, &node, &requirements, Amount::new(1_000), 0)
    };
    assert_eq!(fits(BIG), Ok(()));
    assert_eq!(fits(SMALL), Err(jobs::Misfit::NotHighLoad));
}

fn long_term_periods() -> IncentiveParams {
    IncentiveParams {
        long_term: LongTermParams {
            loyalty_step_ppm: 100_000,
            loyalty_max_ppm: 250_000,
            loyalty_outage_s: 500,
            referral_periods: 2,
            ..LongTermParams::default()
        },
        ..short_periods()
    }
}

/// docs/protocol.md, "Long-term incentives", loyalty: with a 10% step and a 25% cap, a node
/// beating every 100 s from period 0 earns ×1.0 in periods 0 and 1 (period 1 is its first full
/// one), ×1.1 in 2, ×1.2 in 3 and ×1.25 from 4; a 600-second silence (longer than the 500-second
/// loyalty outage) starts it over, and leaving the network ends it. A 300-second silence (an
/// outage, but not a long one) does not.
#[test]
fn loyalty_grows_with_each_full_period_and_a_long_silence_restarts_it() {
    let mut chain = chain_with(long_term_periods());
    register(&mut chain, 0, SMALL, Role::Compute, h100s(1), 20_800);
    let multiplier = |chain: &Harness| {
        let state = chain.ledger.state();
        incentives::loyalty_ppm(state, &account(SMALL), incentives::current_index(state))
    };
    let mut seen = Vec::new();
    for t in (100..=5_000).step_by(100) {
        heartbeat(&mut chain, t, SMALL);
        if t % 1_000 == 500 {
            seen.push(multiplier(&chain));
        }
    }
    assert_eq!(
        seen,
        [1_000_000, 1_000_000, 1_100_000, 1_200_000, 1_250_000]
    );
    // Period 5 (its one heartbeat so far, at 5,000 s) carries ×1.25: 2.08 CU/s × 100 s.
    let open = incentives::member(chain.ledger.state(), &account(SMALL)).expect("a member");
    assert_eq!(open.capacity_raw, 2_080_000 * 100 * 1_250_000 / 1_000_000);
    // An outage shorter than the loyalty outage keeps the streak.
    heartbeat(&mut chain, 5_300, SMALL);
    assert_eq!(multiplier(&chain), 1_250_000);
    // A long silence: the period after (6) is the first full one again.
    heartbeat(&mut chain, 5_900, SMALL);
    assert!(chain.events.iter().any(|event| matches!(
        event,
        Event::LoyaltyReset { node, period: 6 } if *node == account(SMALL)
    )));
    heartbeat(&mut chain, 6_000, SMALL);
    assert_eq!(multiplier(&chain), 1_000_000);
    for t in (6_100..=8_000).step_by(100) {
        heartbeat(&mut chain, t, SMALL);
    }
    assert_eq!(
        multiplier(&chain),
        1_200_000,
        "period 8: periods 6 and 7 full"
    );
    let receipt = chain.at(
        8_010,
        SMALL,
        Message::Deregister(vcity_types::trust::Deregister {}),
    );
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    assert_eq!(
        incentives::loyalty(chain.ledger.state(), &account(SMALL)),
        None
    );
}

/// docs/protocol.md, "Long-term incentives", referral: a node names its referrer once, within a
/// period of registering, and never itself, an account it funded, or while not a compute node;
/// the referrer earns 5% of the node's capacity + delivery + performance credit for two periods,
/// from the pool's unreleased amount, and nothing once the two turn out to be one DID.
#[test]
fn a_referrer_earns_a_share_paid_by_the_pool_and_never_through_its_own_did() {
    const PUPPET: u8 = 90;
    const LATE: u8 = 91;
    let mut chain = chain_with(long_term_periods());
    register_network(&mut chain);
    // A third compute node that never names anyone in time.
    register(&mut chain, 0, OTHER_BUYER, Role::Compute, h100s(1), 20_800);
    let name = |referrer: u8| {
        Message::NameReferrer(NameReferrer {
            referrer: account(referrer),
        })
    };
    // Refusals, with their stable codes.
    assert_eq!(chain.at(1, SMALL, name(SMALL)).code, 23, "itself");
    let funding = Message::Transfer(vcity_types::tx::Transfer {
        to: account(PUPPET),
        denom: Denom::Usd,
        amount: crate::common::usd(1),
    });
    assert_eq!(chain.at(2, SMALL, funding).code, 0);
    assert_eq!(
        chain.at(3, SMALL, name(PUPPET)).code,
        23,
        "an account it funded"
    );
    assert_eq!(
        chain.at(4, SCHEDULER, name(BUYER)).code,
        23,
        "not a compute node"
    );
    assert_eq!(chain.at(5, BUYER, name(OTHER_BUYER)).code, 15, "not a node");
    // SMALL names BUYER; BIG names LATE, an account nobody has funded yet.
    assert_eq!(chain.at(6, SMALL, name(BUYER)).code, 0);
    assert_eq!(chain.at(7, SMALL, name(OTHER_BUYER)).code, 28, "once");
    assert_eq!(chain.at(8, BIG, name(LATE)).code, 0);
    let referral = incentives::referral(chain.ledger.state(), &account(SMALL)).expect("named");
    assert_eq!((referral.from_period, referral.until_period), (0, 2));
    // BIG funds LATE afterwards: the two are one DID, and LATE will earn nothing.
    let funding = Message::Transfer(vcity_types::tx::Transfer {
        to: account(LATE),
        denom: Denom::Usd,
        amount: crate::common::usd(1),
    });
    assert_eq!(chain.at(9, BIG, funding).code, 0);

    // Three periods of heartbeats; the naming window (one period after registering) has closed.
    for t in (100..=3_000).step_by(100) {
        heartbeat(&mut chain, t, BIG);
        heartbeat(&mut chain, t, SMALL);
    }
    assert_eq!(
        chain.at(3_001, OTHER_BUYER, name(BUYER)).code,
        27,
        "after the window"
    );
    chain.block_at(4_000, vec![]);
    let state = chain.ledger.state();
    let buyer = incentives::account(state, &account(BUYER));
    let small = incentives::account(state, &account(SMALL));
    let mut paid = 0u128;
    for index in 0..4 {
        let node = small
            .history
            .iter()
            .find(|entry| entry.period == index)
            .map_or(0, |entry| {
                entry.parts.node_work().expect("fits").base_units()
            });
        let shared = buyer
            .history
            .iter()
            .find(|entry| entry.period == index)
            .map_or(0, |entry| entry.parts.referral.base_units());
        let expected = if index < 2 { node / 20 } else { 0 };
        assert_eq!(shared, expected, "period {index}");
        if index < 3 {
            assert!(node > 0, "period {index}: SMALL earned");
        }
        let closed = incentives::period(state, index).expect("kept");
        assert_eq!(closed.credited.referral.base_units(), expected);
        // The budgets still add up without the referral.
        assert_eq!(
            closed
                .credited
                .budgeted()
                .and_then(|credited| credited.checked_add(closed.grants))
                .and_then(|sum| sum.checked_add(closed.returned))
                .expect("fits"),
            closed.scheduled
        );
        paid += shared;
    }
    assert!(paid > 0);
    assert_eq!(buyer.total.referral.base_units(), paid);
    // SMALL's own credits are whole: the share did not come out of them.
    let small_budgeted: u128 = small
        .history
        .iter()
        .map(|entry| entry.parts.budgeted().expect("fits").base_units())
        .sum();
    assert_eq!(
        small_budgeted,
        small.total.total().expect("fits").base_units()
    );
    assert_eq!(
        incentives::account(state, &account(LATE)).total,
        RewardParts::default()
    );
    // The pool paid it from its unreleased amount: of the 522,000 VCAI, the five periods' schedules
    // and the referrals went out, and what the closed periods returned came back.
    let returned: u128 = (0..4)
        .map(|index| {
            incentives::period(state, index)
                .expect("kept")
                .returned
                .base_units()
        })
        .sum();
    let scheduled: u128 = (0..5)
        .map(|index| {
            incentives::period(state, index)
                .expect("kept")
                .scheduled
                .base_units()
        })
        .sum();
    assert_eq!(
        incentives::remaining(state).base_units(),
        vcai(522_000).base_units() - scheduled + returned - paid
    );
}

/// The long-term incentives are governance parameters, checked when proposed.
#[test]
fn governance_sets_the_long_term_incentives_within_bounds() {
    let mut chain = chain_with(short_periods());
    let change = |referral_share_ppm| Action::SetParam {
        change: ParamChange::LongTermIncentives(LongTermParams {
            referral_share_ppm,
            ..LongTermParams::default()
        }),
    };
    let refused = chain.at(
        1,
        GOVERNOR,
        Message::Propose(Propose {
            title: "referrals".into(),
            description: String::new(),
            actions: vec![change(300_000)],
        }),
    );
    assert_eq!(refused.code, 26, "{}", refused.error);
    let (receipt, _) = chain.govern(2, GOVERNOR, vec![change(100_000)]);
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    let settings = incentives::params(chain.ledger.state());
    assert_eq!(settings.long_term.referral_share_ppm, 100_000);
}

/// One job of the random scenario: who pays, which node runs it, how many CU.
#[derive(Debug, Clone, Copy)]
struct ScenarioJob {
    owner: u8,
    node: u8,
    cu: u64,
}

/// The period of a block at `t_s` (1,000-second periods throughout).
fn period_of(t_s: u64) -> u64 {
    t_s / 1_000
}

/// Brute-force reference of one period's credits: scores recomputed from the raw inputs.
#[derive(Debug, Default, Clone)]
struct Reference {
    capacity_raw: BTreeMap<u8, u128>,
    outages: BTreeMap<u8, u128>,
    delivery: BTreeMap<u8, u128>,
    performance: BTreeMap<u8, u128>,
    spent: BTreeMap<u8, u128>,
    fees: BTreeMap<u8, u128>,
}

use std::collections::BTreeMap;

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Random jobs (self-dealing among them) and heartbeats with random gaps over several periods,
    /// with the long-term incentives (docs/protocol.md, "Long-term incentives"): every period's
    /// credits equal a brute-force recomputation of the scores (loyalty multipliers, performance
    /// bonus), caps and referral shares, and capacity + delivery + performance + rebates + grants
    /// + returned equal what it took out of the pool; referrals came out of the unreleased amount.
    #[test]
    fn every_period_matches_a_brute_force_reference_and_adds_up(
        jobs in proptest::collection::vec((0u8..3, 0u8..2, 1u64..50), 0..6),
        gaps in proptest::collection::vec(1u64..130, 8..40),
        fraction_ppm in 500_000u32..=1_000_000,
        loyalty_outage_s in 150u64..300,
        threshold_ppm in 0u32..500_000,
        refer in proptest::bool::ANY,
    ) {
        let long_term = LongTermParams {
            loyalty_step_ppm: 100_000,
            loyalty_max_ppm: 250_000,
            loyalty_outage_s,
            referral_share_ppm: 50_000,
            referral_periods: 2,
            performance_share_ppm: 300_000,
            performance_min_reputation_ppm: threshold_ppm,
        };
        let mut chain = chain_with(IncentiveParams {
            release_fraction_ppm: fraction_ppm,
            long_term,
            ..short_periods()
        });
        register_network(&mut chain);
        // SMALL was referred by BUYER, BIG by OTHER_BUYER (both also spend): named in period 0,
        // they share periods 0 and 1.
        let referrers: BTreeMap<u8, u8> = if refer {
            for (t, node, referrer) in [(1, SMALL, BUYER), (2, BIG, OTHER_BUYER)] {
                let receipt = chain.at(t, node, Message::NameReferrer(NameReferrer { referrer: account(referrer) }));
                proptest::prop_assert_eq!(receipt.code, 0, "{}", receipt.error);
            }
            [(SMALL, BUYER), (BIG, OTHER_BUYER)].into()
        } else {
            BTreeMap::new()
        };
        let jobs: Vec<ScenarioJob> = jobs
            .into_iter()
            .map(|(owner, node, cu)| {
                let node = if node == 0 { BIG } else { SMALL };
                let owner = [BUYER, OTHER_BUYER, node][usize::from(owner)];
                ScenarioJob { owner, node, cu }
            })
            .collect();
        let mut block_times = vec![0u64];
        let mut results = Vec::new();
        for (index, job) in jobs.iter().enumerate() {
            let t = 10 + 5 * index as u64;
            run_job(&mut chain, t, job.owner, job.node, job.cu);
            block_times.extend(t..t + 4);
            results.push(t + 3);
        }
        // Heartbeats alternate between the two nodes after random gaps.
        let mut last_beat: BTreeMap<u8, u64> = [(BIG, 0), (SMALL, 0)].into();
        let mut beats: BTreeMap<u8, Vec<(u64, u64)>> = BTreeMap::new();
        let mut reference: BTreeMap<u64, Reference> = BTreeMap::new();
        // Which block settled each job (settlements of one block run in deadline-bucket order,
        // which is the order the reference must follow too).
        let mut settled: Vec<(u64, u64)> = Vec::new();
        let record_settled = |chain: &Harness, from: usize, t_s: u64, settled: &mut Vec<(u64, u64)>| {
            for event in &chain.events[from..] {
                if let Event::TaskSettled { job_id, .. } = event {
                    settled.push((*job_id, t_s));
                }
            }
        };
        let mut t = 10 + 5 * jobs.len() as u64;
        // Loyalty: each node's first full period of good standing.
        let mut first_full: BTreeMap<u8, u64> = BTreeMap::new();
        for (index, gap) in gaps.iter().enumerate() {
            t += gap;
            let seed = if index % 2 == 0 { BIG } else { SMALL };
            let from = chain.events.len();
            heartbeat(&mut chain, t, seed);
            record_settled(&chain, from, t, &mut settled);
            block_times.push(t);
            let since = t - last_beat[&seed];
            beats.entry(seed).or_default().push((t, since));
            let period = period_of(t);
            let entry = reference.entry(period).or_default();
            if since <= 180 {
                let capacity: u128 = if seed == BIG { 4_080_000 } else { 2_080_000 };
                let coefficient: u128 = if seed == BIG { 1_200_000 } else { 1_000_000 };
                let streak = *first_full.entry(seed).or_insert(period + 1);
                let loyalty = 1_000_000 + (u128::from(period.saturating_sub(streak)) * 100_000).min(250_000);
                proptest::prop_assert_eq!(
                    u128::from(incentives::loyalty_ppm(chain.ledger.state(), &account(seed), period)),
                    loyalty
                );
                *entry.capacity_raw.entry(seed).or_default() +=
                    capacity * u128::from(since) * coefficient / 1_000_000 * loyalty / 1_000_000;
            } else {
                *entry.outages.entry(seed).or_default() += 1;
                if since > loyalty_outage_s {
                    first_full.insert(seed, period + 1);
                }
            }
            last_beat.insert(seed, t);
        }
        // Settlements: the first block at or after result + 600 s, in job order per node.
        let end = (period_of(t) + 3) * 1_000;
        let from = chain.events.len();
        chain.block_at(end, vec![]);
        record_settled(&chain, from, end, &mut settled);
        proptest::prop_assert_eq!(settled.len(), jobs.len());
        let mut completed: BTreeMap<u8, u128> = BTreeMap::new();
        for (job_id, settle_s) in settled {
            let job = jobs[usize::try_from(job_id).expect("small") - 1];
            let result_s = results[usize::try_from(job_id).expect("small") - 1];
            // Never before the verification window closes.
            proptest::prop_assert!(settle_s >= result_s + 600);
            let done = completed.entry(job.node).or_default();
            let quality = reference_quality(*done, &beats[&job.node], settle_s);
            *done += 1;
            if job.owner == job.node {
                continue;
            }
            let entry = reference.entry(period_of(settle_s)).or_default();
            let cu = u128::from(job.cu) * 1_000_000;
            *entry.delivery.entry(job.node).or_default() += cu * quality / 1_000_000;
            *entry.performance.entry(job.node).or_default() +=
                cu * quality.saturating_sub(u128::from(threshold_ppm)) / 1_000_000;
            let cost = u128::from(job.cu) * 500;
            *entry.spent.entry(job.owner).or_default() += cost;
            *entry.fees.entry(job.owner).or_default() += cost.div_ceil(10);
        }

        let state = chain.ledger.state();
        let current = incentives::current(state).expect("open").index;
        let mut expected_totals: BTreeMap<u8, RewardParts> = BTreeMap::new();
        for index in 0..current {
            let closed = incentives::period(state, index).expect("kept");
            proptest::prop_assert!(closed.settled);
            proptest::prop_assert_eq!(
                closed.credited.budgeted().expect("fits").checked_add(closed.grants).expect("fits")
                    .checked_add(closed.returned).expect("fits"),
                closed.scheduled
            );
            let empty = Reference::default();
            let reference = reference.get(&index).unwrap_or(&empty);
            let capacity_score = |seed: u8| {
                reference.capacity_raw.get(&seed).copied().unwrap_or(0)
                    / (reference.outages.get(&seed).copied().unwrap_or(0) + 1)
            };
            let capacity_total = capacity_score(BIG) + capacity_score(SMALL);
            let delivery_total: u128 = reference.delivery.values().sum();
            let performance_total: u128 = reference.performance.values().sum();
            let spent_total: u128 = reference.spent.values().sum();
            proptest::prop_assert_eq!(closed.totals.performance_score, performance_total, "period {}", index);
            proptest::prop_assert_eq!(closed.totals.capacity_score, capacity_total, "period {}", index);
            proptest::prop_assert_eq!(closed.totals.delivery_score, delivery_total, "period {}", index);
            proptest::prop_assert_eq!(closed.totals.spent_usd.base_units(), spent_total, "period {}", index);
            let share = |budget: Amount, score: u128, total: u128| {
                (budget.base_units() * score).checked_div(total).unwrap_or(0)
            };
            let mut referred = 0u128;
            let mut period_parts: BTreeMap<u8, RewardParts> = BTreeMap::new();
            for seed in [BIG, SMALL, BUYER, OTHER_BUYER] {
                let cap = reference.fees.get(&seed).copied().unwrap_or(0) * 20_000_000_000_000;
                let parts = RewardParts {
                    capacity: Amount::new(share(closed.budget.capacity, capacity_score(seed), capacity_total)),
                    delivery: Amount::new(share(
                        closed.budget.delivery,
                        reference.delivery.get(&seed).copied().unwrap_or(0),
                        delivery_total,
                    )),
                    performance: Amount::new(share(
                        closed.budget.performance,
                        reference.performance.get(&seed).copied().unwrap_or(0),
                        performance_total,
                    )),
                    rebate: Amount::new(
                        share(closed.budget.rebate, reference.spent.get(&seed).copied().unwrap_or(0), spent_total)
                            .min(cap),
                    ),
                    referral: Amount::ZERO,
                };
                period_parts.insert(seed, parts);
            }
            for (node, referrer) in &referrers {
                if index >= 2 {
                    continue;
                }
                let work = period_parts[node].node_work().expect("fits").base_units();
                let amount = work * 50_000 / 1_000_000;
                referred += amount;
                let entry = period_parts.get_mut(referrer).expect("a member");
                entry.referral = entry.referral.checked_add(Amount::new(amount)).expect("fits");
            }
            proptest::prop_assert_eq!(closed.credited.referral.base_units(), referred, "period {}", index);
            for (seed, parts) in period_parts {
                let total = expected_totals.entry(seed).or_default();
                *total = total.checked_add(&parts).expect("fits");
            }
        }
        for (seed, expected) in expected_totals {
            proptest::prop_assert_eq!(incentives::account(state, &account(seed)).total, expected, "account {}", seed);
        }
        // The pool account holds the unreleased VCAI and the open period's budget; the rewards
        // account every unclaimed credit.
        let open = incentives::current(state).expect("open");
        proptest::prop_assert_eq!(
            vcai_of(&chain, &incentives::pool_account()),
            incentives::remaining(state).checked_add(open.released()).expect("fits")
        );
        let unclaimed: u128 = [BIG, SMALL, BUYER, OTHER_BUYER]
            .iter()
            .map(|seed| incentives::claimable(state, &account(*seed)).base_units())
            .sum();
        proptest::prop_assert_eq!(vcai_of(&chain, &incentives::rewards_account()).base_units(), unclaimed);
    }
}
