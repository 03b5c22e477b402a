//! The trust layer through blocks (docs/verification.md): sampled checks that agree and pay the
//! checker; wrong and inflated results disproved by referees, slashed at their tier, the buyer
//! refunded and compensated first, the challenger's bounty, the reserve's rest; a false
//! challenge losing its deposit; equivocation; capacity challenges passed, missed and failed;
//! appeals; deregistration with slashable unbonding stake; missed-deadline strikes; health from
//! measurements; every refusal with its stable code and no change.

use crate::common::{
    account, commitment, funded, governed, healthy, signed_result, usd, vcai, Harness, GOVERNOR,
};
use vcity_ledger::trust::TrustParams;
use vcity_ledger::{bank, capacity, disputes, incentives, jobs, nodes, slashing, trust};
use vcity_types::compute::{
    AssignTask, Billing, GpuSpec, Hardware, NodeHeartbeat, NodeKind, RegisterNode, Requirements,
    ResultCommitment, Role, StartTask, SubmitJob, TaskState, Workload,
};
use vcity_types::event::Event;
use vcity_types::governance::{Action, Propose};
use vcity_types::trust::{
    Appeal, CapacityVerdict, ChallengeResult, ChallengeState, CommitCapacity, Deregister,
    DisputeOutcome, GpuHealth, HealthReport, Offence, RefereeVote, ReportEquivocation,
    ResultStatement, SlashState, Tier, VerificationLevel, VerifyResult, Vote,
};
use vcity_types::tx::Message;
use vcity_types::{AccountId, Amount, Denom, Hash};

const BUYER: u8 = 1;
const NODE: u8 = 2;
const SCHEDULER: u8 = 3;
const POOR: u8 = 5;
const VERIFIERS: [u8; 4] = [11, 12, 13, 14];

/// 0.001 USD per CU; a task uses 40 CU of a 100 CU budget.
const PRICE: u128 = 1_000;
const CU: u64 = 40_000_000;

fn params() -> TrustParams {
    TrustParams {
        referee_window_s: 100,
        appeal_window_s: 1_000,
        ..crate::common::quiet_trust()
    }
}

/// A buyer, a CPU compute node bonding 10,000 VCAI, a scheduler and four verifiers.
fn chain_with(trust: TrustParams) -> Harness {
    chain_with_incentives(trust, None)
}

fn chain_with_incentives(
    trust: TrustParams,
    incentives: Option<vcity_ledger::incentives::IncentiveParams>,
) -> Harness {
    let mut accounts: Vec<_> = [BUYER, NODE, SCHEDULER]
        .into_iter()
        .chain(VERIFIERS)
        .map(|seed| funded(seed, vcai(100_000), usd(1_000)))
        .collect();
    accounts.push(funded(POOR, Amount::ZERO, usd(1_000)));
    let mut genesis = crate::common::genesis("vcity-trust", accounts);
    genesis.trust = Some(trust);
    if incentives.is_some() {
        genesis.incentives = incentives;
    }
    governed(&mut genesis);
    let mut chain = Harness::new(&genesis);
    register(&mut chain, 0, NODE, Role::Compute, cpu(8), 10_000);
    register(
        &mut chain,
        0,
        SCHEDULER,
        Role::Scheduler,
        Hardware::default(),
        50_000,
    );
    for seed in VERIFIERS {
        register(
            &mut chain,
            0,
            seed,
            Role::Verifier,
            Hardware::default(),
            50_000,
        );
    }
    chain
}

fn cpu(cores: u32) -> Hardware {
    Hardware {
        sandbox: None,
        gpus: vec![],
        cpu_cores: cores,
        ram_mib: 16_384,
    }
}

fn registration(role: Role, hardware: Hardware, stake: Amount) -> Message {
    Message::RegisterNode(RegisterNode {
        role,
        kind: NodeKind::Stable,
        hardware,
        region: "eu-west".into(),
        endpoint: "https://node.example".into(),
        price_per_cu_usd: if role == Role::Compute {
            Amount::new(PRICE)
        } else {
            Amount::ZERO
        },
        stake,
    })
}

/// The node's registration as an 8-core CPU node, bonding `stake`.
fn cpu_registration(stake: Amount) -> Message {
    registration(Role::Compute, cpu(8), stake)
}

fn register(chain: &mut Harness, t_s: u64, seed: u8, role: Role, hardware: Hardware, stake: u128) {
    let receipt = chain.at(t_s, seed, registration(role, hardware, vcai(stake)));
    assert_eq!(receipt.code, 0, "{}", receipt.error);
}

fn beat(health: HealthReport) -> Message {
    Message::NodeHeartbeat(NodeHeartbeat {
        load_ppm: 0,
        running_tasks: 0,
        health,
    })
}

/// Heartbeats of every verifier (and the node) in one block, so that they stay eligible.
fn keep_alive(chain: &mut Harness, t_s: u64) {
    let txs = VERIFIERS
        .into_iter()
        .chain([NODE])
        .map(|seed| chain.tx(seed, beat(healthy())))
        .collect();
    chain.block_at(t_s, txs);
}

fn job(level: VerificationLevel) -> SubmitJob {
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
            max_duration_s: 300,
            ..Requirements::default()
        },
        max_cu_ppm_per_task: 100_000_000,
        max_price_per_cu_usd: Amount::new(2 * PRICE),
        billing: Billing::PayAsYouGo,
        verification: level,
        retries: None,
    }
}

fn at_ok(chain: &mut Harness, t_s: u64, seed: u8, message: Message) {
    let receipt = chain.at(t_s, seed, message);
    assert_eq!(receipt.code, 0, "{}", receipt.error);
}

/// Submits a job at `t_s` and runs it on the node to a committed `result`; the next block (at
/// `t_s + 4`) draws its check. Returns the job id.
fn run_to_result(
    chain: &mut Harness,
    t_s: u64,
    level: VerificationLevel,
    result: ResultCommitment,
) -> u64 {
    keep_alive(chain, t_s);
    at_ok(chain, t_s, BUYER, Message::SubmitJob(job(level)));
    let job_id = jobs::count(chain.ledger.state());
    let assign = AssignTask {
        job_id,
        task: 0,
        node: account(NODE),
    };
    at_ok(chain, t_s + 1, SCHEDULER, Message::AssignTask(assign));
    at_ok(
        chain,
        t_s + 2,
        NODE,
        Message::StartTask(StartTask { job_id, task: 0 }),
    );
    let message = signed_result(chain.chain_id(), NODE, job_id, 0, 1, result);
    at_ok(chain, t_s + 3, NODE, message);
    chain.block_at(t_s + 4, vec![]);
    job_id
}

fn right() -> ResultCommitment {
    commitment(b"right", CU)
}

fn seed_of(id: &AccountId) -> u8 {
    VERIFIERS
        .into_iter()
        .chain([BUYER, NODE, SCHEDULER])
        .find(|seed| account(*seed) == *id)
        .expect("a known account")
}

/// The verifier the check of `job_id` drew.
fn checker(chain: &Harness, job_id: u64) -> u8 {
    let record = jobs::job(chain.ledger.state(), job_id).expect("job");
    seed_of(&record.tasks[0].check.as_ref().expect("sampled").verifier)
}

fn state_of(chain: &Harness, job_id: u64) -> TaskState {
    jobs::job(chain.ledger.state(), job_id).expect("job").tasks[0]
        .state
        .clone()
}

fn balance(chain: &Harness, who: &AccountId, denom: Denom) -> u128 {
    bank::balance(chain.ledger.state(), who, denom).base_units()
}

fn last_dispute(chain: &Harness) -> vcity_types::trust::Dispute {
    let state = chain.ledger.state();
    disputes::dispute(state, disputes::count(state)).expect("a dispute")
}

fn vote(dispute_id: u64, commitment: ResultCommitment) -> Message {
    Message::RefereeVote(RefereeVote {
        dispute_id,
        vote: Vote::Result { commitment },
    })
}

fn challenge(job_id: u64, commitment: ResultCommitment) -> Message {
    Message::ChallengeResult(ChallengeResult {
        job_id,
        task: 0,
        commitment,
    })
}

#[test]
fn a_check_that_agrees_pays_the_checker_and_the_books_balance() {
    let mut chain = chain_with(params());
    let buyer_before = balance(&chain, &account(BUYER), Denom::Usd);
    let job_id = run_to_result(&mut chain, 10, VerificationLevel::Full, right());
    assert!(chain
        .events
        .iter()
        .any(|event| matches!(event, Event::TaskSampled { job_id: 1, .. })));
    let verifier = checker(&chain, job_id);
    let before = balance(&chain, &account(verifier), Denom::Usd);
    // Someone else's agreement is not the check.
    let other = VERIFIERS
        .into_iter()
        .find(|seed| *seed != verifier)
        .expect("four");
    let verify = |commitment| {
        Message::VerifyResult(VerifyResult {
            job_id,
            task: 0,
            commitment,
        })
    };
    assert_eq!(chain.at(20, other, verify(right())).code, 29);
    // A disagreeing commitment is a challenge, not a verification.
    assert_eq!(
        chain
            .at(21, verifier, verify(commitment(b"other", CU)))
            .code,
        30
    );
    at_ok(&mut chain, 22, verifier, verify(right()));
    assert_eq!(chain.at(23, verifier, verify(right())).code, 28);

    // Settled when the window closes (600 s after the result at 13): 40 CU × 0.001 = 0.04 USD,
    // the same again for full verification, paid to the checker.
    // (Job deadlines sit in 10 s buckets: 613 is due by the block at 620.)
    chain.block_at(620, vec![]);
    assert!(matches!(
        state_of(&chain, job_id),
        TaskState::Settled { .. }
    ));
    let cost = 40 * PRICE;
    // Less its three transactions' fees (one refused as a duplicate, one as a disagreement).
    assert_eq!(
        balance(&chain, &account(verifier), Denom::Usd) + 3 * 1_000 - before,
        cost
    );
    assert_eq!(balance(&chain, &trust::fees_account(), Denom::Usd), 0);
    assert_eq!(balance(&chain, &jobs::escrow_account(), Denom::Usd), 0);
    // The buyer paid the cost, the verification fee and its own transaction fees (2 txs plus
    // the keep-alive block's none).
    let spent = buyer_before - balance(&chain, &account(BUYER), Denom::Usd);
    assert_eq!(spent, 2 * cost + 1_000);
    let record = nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
    assert_eq!(record.trust.results_confirmed, 1);
    assert_eq!(record.trust.verified_cu_ppm, u128::from(CU));
    assert_eq!(record.trust.open_tasks, 0);
    // A challenge after the window is refused, with nothing changed.
    let receipt = chain.at(700, other, challenge(job_id, commitment(b"other", CU)));
    assert_eq!(receipt.code, 27);
    assert_eq!(disputes::count(chain.ledger.state()), 0);
}

/// Runs a dispute to its end: the checker challenges with `challenger`, the referees vote
/// `votes` in order. Returns the dispute.
fn dispute_with(
    chain: &mut Harness,
    job_id: u64,
    challenger: ResultCommitment,
    votes: &[ResultCommitment],
) -> vcity_types::trust::Dispute {
    let verifier = checker(chain, job_id);
    at_ok(chain, 20, verifier, challenge(job_id, challenger));
    chain.block_at(21, vec![]);
    let opened = last_dispute(chain);
    assert_eq!(opened.referees.len(), 3, "the three other verifiers");
    assert!(!opened.referees.contains(&account(verifier)));
    for (index, (referee, commitment)) in opened.referees.iter().zip(votes).enumerate() {
        at_ok(
            chain,
            22 + index as u64,
            seed_of(referee),
            vote(opened.id, commitment.clone()),
        );
    }
    last_dispute(chain)
}

#[test]
fn a_wrong_result_is_disproved_slashed_and_the_buyer_is_made_whole_first() {
    let mut chain = chain_with(params());
    let buyer_before = balance(&chain, &account(BUYER), Denom::Usd);
    let reserve_before = balance(
        &chain,
        &vcity_ledger::vesting::reserve_account(),
        Denom::Vcai,
    );
    let wrong = commitment(b"wrong", CU);
    let job_id = run_to_result(&mut chain, 10, VerificationLevel::Full, wrong.clone());
    let verifier = checker(&chain, job_id);
    let vcai_before = balance(&chain, &account(verifier), Denom::Vcai);
    // Two referees re-execute and agree with the challenger; one sides with the node.
    let ended = dispute_with(
        &mut chain,
        job_id,
        right(),
        &[right(), right(), wrong.clone()],
    );
    assert_eq!(
        ended.outcome,
        DisputeOutcome::NodeAtFault {
            offence: Offence::WrongResult
        }
    );
    // The buyer got the whole escrow back at once: it paid only its transaction fee.
    assert!(matches!(state_of(&chain, job_id), TaskState::Failed { .. }));
    assert_eq!(
        buyer_before - balance(&chain, &account(BUYER), Denom::Usd),
        1_000
    );
    assert_eq!(balance(&chain, &jobs::escrow_account(), Denom::Usd), 0);
    // The deposit came back; the node lost 30% of its 10,000 VCAI into the escrow; the referee on
    // the losing side lost 10% of its 50,000.
    assert_eq!(
        balance(&chain, &account(verifier), Denom::Vcai),
        vcai_before
    );
    let node = nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
    assert_eq!(node.stake, vcai(7_000));
    assert_eq!(node.trust.results_disproved, 1);
    assert_eq!(node.trust.moderate_offences, 1);
    assert!(node.trust.rewards_suspended_until_period >= 2);
    let slashes = slashing::recent(chain.ledger.state(), &account(NODE));
    let slash = &slashes[0];
    assert_eq!(
        (slash.offence, slash.tier),
        (Offence::WrongResult, Tier::Moderate)
    );
    assert_eq!(slash.amount, vcai(3_000));
    assert_eq!(slash.challenger, Some(account(verifier)));
    assert_eq!(
        slash.affected,
        vec![(account(BUYER), Amount::new(40 * PRICE))]
    );
    let loser = seed_of(&ended.votes[2].0);
    let loser_slash = &slashing::recent(chain.ledger.state(), &account(loser))[0];
    assert_eq!(
        (loser_slash.offence, loser_slash.amount),
        (Offence::RefereeOnLosingSide, vcai(5_000))
    );
    assert_eq!(
        balance(&chain, &slashing::escrow_account(), Denom::Vcai),
        vcai(8_000).base_units()
    );

    // When the appeal window ends (1,000 s after), the escrow pays the buyer first: 0.04 USD at
    // the stake price (10,000 VCAI per 1,000 USD) = 0.4 VCAI; then the bounty, 10% of 3,000;
    // then the reserve the rest, and all of the referee's slash.
    let buyer_vcai = balance(&chain, &account(BUYER), Denom::Vcai);
    let verifier_vcai = balance(&chain, &account(verifier), Denom::Vcai);
    keep_alive(&mut chain, 500);
    chain.block_at(1_030, vec![]);
    let paid = slashing::slash_record(chain.ledger.state(), slash.id).expect("slash");
    let compensation = vcai(4).base_units() / 10;
    assert_eq!(
        paid.state,
        SlashState::PaidOut {
            compensation: Amount::new(compensation),
            bounty: vcai(300),
            reserve: Amount::new(vcai(2_700).base_units() - compensation),
        }
    );
    assert_eq!(
        balance(&chain, &account(BUYER), Denom::Vcai) - buyer_vcai,
        compensation
    );
    assert_eq!(
        balance(&chain, &account(verifier), Denom::Vcai) - verifier_vcai,
        vcai(300).base_units()
    );
    assert_eq!(
        balance(
            &chain,
            &vcity_ledger::vesting::reserve_account(),
            Denom::Vcai
        ) - reserve_before,
        vcai(2_700).base_units() - compensation + vcai(5_000).base_units()
    );
    assert_eq!(balance(&chain, &slashing::escrow_account(), Denom::Vcai), 0);
    assert_eq!(balance(&chain, &trust::deposits_account(), Denom::Vcai), 0);
}

#[test]
fn inflated_metering_is_its_own_offence() {
    let mut chain = chain_with(params());
    let inflated = commitment(b"right", 2 * CU);
    let job_id = run_to_result(&mut chain, 10, VerificationLevel::Full, inflated);
    let ended = dispute_with(&mut chain, job_id, right(), &[right(), right(), right()]);
    assert_eq!(
        ended.outcome,
        DisputeOutcome::NodeAtFault {
            offence: Offence::InflatedMetering
        }
    );
    let slash = &slashing::recent(chain.ledger.state(), &account(NODE))[0];
    // 20% of 10,000 VCAI.
    assert_eq!(slash.amount, vcai(2_000));
}

#[test]
fn a_false_challenge_loses_its_deposit_to_the_node() {
    let mut chain = chain_with(params());
    let job_id = run_to_result(&mut chain, 10, VerificationLevel::Full, right());
    let node_vcai = balance(&chain, &account(NODE), Denom::Vcai);
    let verifier = checker(&chain, job_id);
    let challenger_vcai = balance(&chain, &account(verifier), Denom::Vcai);
    let false_claim = commitment(b"right", CU - 1);
    let ended = dispute_with(
        &mut chain,
        job_id,
        false_claim,
        &[right(), right(), right()],
    );
    assert_eq!(ended.outcome, DisputeOutcome::ChallengerWrong);
    assert_eq!(
        balance(&chain, &account(NODE), Denom::Vcai) - node_vcai,
        vcai(1_000).base_units()
    );
    assert_eq!(
        challenger_vcai - balance(&chain, &account(verifier), Denom::Vcai),
        vcai(1_000).base_units()
    );
    assert!(slashing::recent(chain.ledger.state(), &account(NODE)).is_empty());
    // The task settles when its window closes, as verified.
    keep_alive(&mut chain, 400);
    chain.block_at(620, vec![]);
    assert!(matches!(
        state_of(&chain, job_id),
        TaskState::Settled { .. }
    ));
    let node = nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
    assert_eq!(node.trust.results_confirmed, 1);
    assert_eq!(node.trust.verified_cu_ppm, u128::from(CU));
}

#[test]
fn refusals_have_stable_codes_and_change_nothing() {
    let mut chain = chain_with(params());
    let job_id = run_to_result(&mut chain, 10, VerificationLevel::Full, right());
    let verifier = checker(&chain, job_id);
    let other = VERIFIERS
        .into_iter()
        .find(|seed| *seed != verifier)
        .expect("four");
    let wrong = commitment(b"wrong", CU);
    // Unknown task; an agreeing "challenge"; the node challenging itself; a challenger without
    // the deposit.
    assert_eq!(chain.at(15, other, challenge(99, wrong.clone())).code, 15);
    assert_eq!(chain.at(15, other, challenge(job_id, right())).code, 30);
    assert_eq!(
        chain.at(16, NODE, challenge(job_id, wrong.clone())).code,
        10
    );
    assert_eq!(chain.at(16, POOR, challenge(job_id, wrong.clone())).code, 9);
    assert_eq!(disputes::count(chain.ledger.state()), 0);
    // A challenge, then a second one.
    at_ok(&mut chain, 17, other, challenge(job_id, wrong.clone()));
    assert_eq!(
        chain
            .at(18, verifier, challenge(job_id, wrong.clone()))
            .code,
        28
    );
    let opened = last_dispute(&chain);
    // A vote by someone not drawn, a vote of the wrong kind, a second vote, a late vote.
    let referee = seed_of(&opened.referees[0]);
    let stranger = VERIFIERS
        .into_iter()
        .find(|seed| !opened.referees.contains(&account(*seed)))
        .expect("the challenger is no referee");
    assert_eq!(chain.at(19, stranger, vote(opened.id, right())).code, 29);
    let capacity_vote = Message::RefereeVote(RefereeVote {
        dispute_id: opened.id,
        vote: Vote::Capacity { pass: true },
    });
    assert_eq!(chain.at(19, referee, capacity_vote).code, 30);
    at_ok(&mut chain, 20, referee, vote(opened.id, right()));
    assert_eq!(chain.at(21, referee, vote(opened.id, right())).code, 28);
    assert_eq!(last_dispute(&chain).votes.len(), 1);
    let late = seed_of(&opened.referees[1]);
    assert_eq!(
        chain
            .at(opened.deadline_s + 1, late, vote(opened.id, right()))
            .code,
        27
    );
    // The deadline passed with one vote of three: no majority, the deposit back, the result
    // stands unverified; the two silent referees missed a duty.
    let ended = last_dispute(&chain);
    assert_eq!(ended.outcome, DisputeOutcome::Inconclusive);
    assert_eq!(balance(&chain, &trust::deposits_account(), Denom::Vcai), 0);
    for silent in &opened.referees[1..] {
        let record = nodes::node(chain.ledger.state(), silent).expect("verifier");
        assert_eq!(record.trust.duties_missed, 1);
    }
    // A slash nobody may appeal but its node, once, in its window; only governance decides.
    let slash_id = slashing::recent(chain.ledger.state(), &account(NODE))
        .first()
        .map(|slash| slash.id);
    assert_eq!(slash_id, None, "an inconclusive dispute slashes nobody");
    let appeal = |slash_id| {
        Message::Appeal(Appeal {
            slash_id,
            reason: "not me".into(),
        })
    };
    assert_eq!(chain.at(200, NODE, appeal(1)).code, 15);
}

/// A chain whose node committed a wrong result and lost the referee round: its slash.
fn slashed_for_a_wrong_result() -> (Harness, vcity_types::trust::Slash) {
    slashed_for_a_wrong_result_in(chain_with(params()))
}

fn slashed_for_a_wrong_result_in(mut chain: Harness) -> (Harness, vcity_types::trust::Slash) {
    let job_id = run_to_result(
        &mut chain,
        10,
        VerificationLevel::Full,
        commitment(b"wrong", CU),
    );
    dispute_with(&mut chain, job_id, right(), &[right(), right(), right()]);
    let slash = slashing::recent(chain.ledger.state(), &account(NODE))[0].clone();
    (chain, slash)
}

/// docs/protocol.md, "Long-term incentives": any slash restarts the node's loyalty streak (the
/// period after the slash is its first full one again).
#[test]
fn a_slash_restarts_the_loyalty_streak() {
    // 5-second incentive periods: the streak began periods before the slash.
    let short = vcity_ledger::incentives::IncentiveParams {
        period_s: 5,
        ..Default::default()
    };
    let (chain, slash) =
        slashed_for_a_wrong_result_in(chain_with_incentives(params(), Some(short)));
    let state = chain.ledger.state();
    let next = incentives::current_index(state) + 1;
    assert!(next > 2);
    assert_eq!(
        incentives::loyalty(state, &slash.node),
        Some(incentives::Loyalty {
            first_full_period: next
        })
    );
    assert!(chain.events.iter().any(|event| matches!(
        event,
        Event::LoyaltyReset { node, period } if *node == slash.node && *period == next
    )));
}

#[test]
fn appeals_are_the_node_s_once_in_the_window_and_governance_decides() {
    let (mut chain, slash) = slashed_for_a_wrong_result();
    let appeal = Message::Appeal(Appeal {
        slash_id: slash.id,
        reason: "my executor was right".into(),
    });
    assert_eq!(chain.at(30, BUYER, appeal.clone()).code, 10);
    let decide = |uphold| Action::DecideAppeal {
        slash_id: slash.id,
        uphold,
    };
    let propose = |action| {
        Message::Propose(Propose {
            title: "decide".into(),
            description: String::new(),
            actions: vec![action],
        })
    };
    assert_eq!(
        chain.at(31, GOVERNOR, propose(decide(true))).code,
        30,
        "no appeal yet"
    );
    at_ok(&mut chain, 32, NODE, appeal.clone());
    assert_eq!(chain.at(33, NODE, appeal.clone()).code, 28);
    // Only a passed proposal decides: the buyer has no ve weight to propose with.
    assert_eq!(chain.at(34, BUYER, propose(decide(true))).code, 35);
    // Upheld: the 3,000 VCAI go back to the bond and the slash no longer counts.
    let (receipt, _) = chain.govern(35, GOVERNOR, vec![decide(true)]);
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    let node = nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
    assert_eq!(node.stake, vcai(10_000));
    assert_eq!(node.trust.slashes, 0);
    assert_eq!(
        slashing::slash_record(chain.ledger.state(), slash.id)
            .expect("slash")
            .state,
        SlashState::Returned
    );
    let (receipt, _) = chain.govern(66, GOVERNOR, vec![decide(false)]);
    assert_eq!(receipt.code, 28, "{}", receipt.error);
    // Past the window an appeal is too late.
    let job_id = run_to_result(
        &mut chain,
        100,
        VerificationLevel::Full,
        commitment(b"bad", CU),
    );
    let verifier = checker(&chain, job_id);
    at_ok(&mut chain, 110, verifier, challenge(job_id, right()));
    chain.block_at(111, vec![]);
    let opened = last_dispute(&chain);
    for (index, referee) in opened.referees.iter().enumerate() {
        at_ok(
            &mut chain,
            112 + index as u64,
            seed_of(referee),
            vote(opened.id, right()),
        );
    }
    let second = slashing::recent(chain.ledger.state(), &account(NODE))[0].clone();
    keep_alive(&mut chain, 500);
    let late = Message::Appeal(Appeal {
        slash_id: second.id,
        reason: "late".into(),
    });
    assert_eq!(chain.at(second.appeal_until_s, NODE, late).code, 27);
}

#[test]
fn equivocation_is_proven_by_two_statements_and_bans_the_did() {
    let mut chain = chain_with(params());
    let job_id = run_to_result(&mut chain, 10, VerificationLevel::Full, right());
    // The statement on the ledger, and another the node signed for whoever fetched its output.
    let TaskState::Completed { signature, .. } = state_of(&chain, job_id) else {
        panic!("completed");
    };
    let statement = |result: &ResultCommitment| ResultStatement {
        chain_id: chain.chain_id().into(),
        job_id,
        task: 0,
        attempt: 1,
        result_hash: result.hash(),
    };
    let on_chain = vcity_types::trust::SignedResult {
        statement: statement(&right()),
        signer: account(NODE),
        signature,
    };
    assert!(on_chain.verify());
    let other = statement(&commitment(b"served", CU)).sign(&crate::common::key(NODE));
    let report = |first, second| Message::ReportEquivocation(ReportEquivocation { first, second });
    // The same statement twice proves nothing; a forged signature proves nothing.
    assert_eq!(
        chain
            .at(20, BUYER, report(on_chain.clone(), on_chain.clone()))
            .code,
        30
    );
    let mut forged = other.clone();
    forged.signature.0[0] ^= 1;
    assert_eq!(
        chain.at(21, BUYER, report(on_chain.clone(), forged)).code,
        30
    );
    let buyer_usd = balance(&chain, &account(BUYER), Denom::Usd);
    at_ok(
        &mut chain,
        22,
        BUYER,
        report(on_chain.clone(), other.clone()),
    );
    // Severe: all 10,000 VCAI, banned, the unsettled result refunded.
    let node = nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
    assert!(node.trust.banned);
    assert_eq!(node.stake, Amount::ZERO);
    let slash = &slashing::recent(chain.ledger.state(), &account(NODE))[0];
    assert_eq!((slash.tier, slash.amount), (Tier::Severe, vcai(10_000)));
    assert!(matches!(state_of(&chain, job_id), TaskState::Failed { .. }));
    assert_eq!(
        balance(&chain, &account(BUYER), Denom::Usd) + 1_000 - buyer_usd,
        400 * PRICE,
        "the whole escrow back"
    );
    assert_eq!(chain.at(23, BUYER, report(on_chain, other)).code, 28);
    // The DID never registers again.
    assert_eq!(chain.at(24, NODE, cpu_registration(vcai(10_000))).code, 31);
}

#[test]
fn deregistration_waits_for_open_tasks_and_unbonding_stake_stays_slashable() {
    let mut chain = chain_with(params());
    let job_id = run_to_result(&mut chain, 10, VerificationLevel::None, right());
    let deregister = Message::Deregister(Deregister {});
    assert_eq!(
        chain.at(20, NODE, deregister.clone()).code,
        23,
        "a task is open"
    );
    keep_alive(&mut chain, 500);
    chain.block_at(620, vec![]);
    assert!(matches!(
        state_of(&chain, job_id),
        TaskState::Settled { .. }
    ));
    at_ok(&mut chain, 621, NODE, deregister.clone());
    assert_eq!(chain.at(622, NODE, deregister).code, 28);
    assert_eq!(
        nodes::unbonding_total(chain.ledger.state(), &account(NODE)),
        vcai(10_000)
    );
    // Not scheduled any more.
    let record = nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
    assert_eq!(
        jobs::fits(
            &nodes::params(chain.ledger.state()),
            &record,
            &Requirements::default(),
            Amount::new(u128::MAX),
            622
        ),
        Err(jobs::Misfit::Inactive)
    );
    // An old equivocation surfaces while it unbonds: the stake is still there to take.
    let statement = |output: &[u8]| {
        ResultStatement {
            chain_id: chain.chain_id().into(),
            job_id,
            task: 0,
            attempt: 1,
            result_hash: commitment(output, CU).hash(),
        }
        .sign(&crate::common::key(NODE))
    };
    let report = Message::ReportEquivocation(ReportEquivocation {
        first: statement(b"right"),
        second: statement(b"served"),
    });
    at_ok(&mut chain, 630, BUYER, report);
    assert_eq!(
        nodes::unbonding_total(chain.ledger.state(), &account(NODE)),
        Amount::ZERO
    );
    assert_eq!(
        balance(&chain, &slashing::escrow_account(), Denom::Vcai),
        vcai(10_000).base_units()
    );
    // The settled task's buyer is compensated from it.
    let slash = &slashing::recent(chain.ledger.state(), &account(NODE))[0];
    assert_eq!(
        slash.affected,
        vec![(account(BUYER), Amount::new(40 * PRICE))]
    );
}

#[test]
fn missed_start_deadlines_while_online_add_up_to_a_minor_offence() {
    let mut chain = chain_with(params());
    let deadline_s = jobs::params(chain.ledger.state()).start_deadline_s;
    for round in 0..3u64 {
        let t = 10 + round * 400;
        keep_alive(&mut chain, t);
        at_ok(
            &mut chain,
            t,
            BUYER,
            Message::SubmitJob(job(VerificationLevel::None)),
        );
        let job_id = jobs::count(chain.ledger.state());
        let assign = AssignTask {
            job_id,
            task: 0,
            node: account(NODE),
        };
        at_ok(&mut chain, t + 1, SCHEDULER, Message::AssignTask(assign));
        // Online (a heartbeat just before), yet it never starts. (Deadlines sit in 10 s
        // buckets.)
        keep_alive(&mut chain, t + deadline_s + 10);
        chain.block_at(t + deadline_s + 20, vec![]);
        let record = nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
        if round < 2 {
            assert_eq!(record.trust.deadline_strikes, round as u32 + 1);
            assert_eq!(record.stake, vcai(10_000));
        } else {
            assert_eq!(record.trust.deadline_strikes, 0);
            assert_eq!(record.stake, vcai(9_500), "5% for the third strike");
        }
    }
    let slash = &slashing::recent(chain.ledger.state(), &account(NODE))[0];
    assert_eq!(
        (slash.offence, slash.tier),
        (Offence::DeadlinesMissed, Tier::Minor)
    );
}

#[test]
fn health_comes_from_measurements_and_an_unhealthy_node_gets_no_work() {
    let mut chain = chain_with(params());
    let params = nodes::params(chain.ledger.state());
    let node = |chain: &Harness| nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
    let sick = HealthReport {
        executor_ok: false,
        ..healthy()
    };
    at_ok(&mut chain, 5, NODE, beat(sick));
    assert!(!node(&chain).healthy);
    assert_eq!(
        jobs::fits(
            &params,
            &node(&chain),
            &Requirements::default(),
            Amount::new(u128::MAX),
            5
        ),
        Err(jobs::Misfit::Unhealthy)
    );
    at_ok(&mut chain, 6, NODE, beat(healthy()));
    assert!(node(&chain).healthy);
    let gpu = |temperature_c, ecc_uncorrected| HealthReport {
        gpus: vec![GpuHealth {
            temperature_c,
            ecc_uncorrected,
            xid_errors: 0,
        }],
        ..healthy()
    };
    at_ok(&mut chain, 7, NODE, beat(gpu(70, 0)));
    assert!(node(&chain).healthy);
    at_ok(&mut chain, 8, NODE, beat(gpu(95, 0)));
    assert!(!node(&chain).healthy, "too hot");
    at_ok(&mut chain, 9, NODE, beat(gpu(70, 2)));
    assert!(!node(&chain).healthy, "new uncorrected ECC errors");
    at_ok(&mut chain, 10, NODE, beat(gpu(70, 2)));
    assert!(node(&chain).healthy, "no new ones since");
    let low_disk = HealthReport {
        free_disk_mib: 10,
        ..healthy()
    };
    at_ok(&mut chain, 11, NODE, beat(low_disk.clone()));
    let issues = nodes::health_issues(
        &trust::params(chain.ledger.state()),
        Role::Compute,
        &low_disk,
    );
    assert_eq!(issues.len(), 1);
    assert!(issues[0].contains("free disk"), "{issues:?}");
}

#[test]
fn vram_tiers_count_vendor_gigabytes() {
    // Four 24 GB cards as NVML reports them (24,564 MiB each) reach the 96 GB tier.
    let hardware = Hardware {
        sandbox: None,
        gpus: vec![GpuSpec {
            model: "RTX4090".into(),
            count: 4,
            vram_mib: 24_564,
        }],
        cpu_cores: 16,
        ram_mib: 65_536,
    };
    let total = nodes::total_vram_mib(&hardware);
    assert_eq!(total, 98_256);
    let params = nodes::NodeParams::default();
    assert!(total >= params.high_load_min_vram_mib);
    assert_eq!(
        incentives::vram_coefficient_ppm(&incentives::IncentiveParams::default(), total),
        1_200_000
    );
    // Three are not enough.
    assert_eq!(
        incentives::vram_coefficient_ppm(&incentives::IncentiveParams::default(), 3 * 24_564),
        1_000_000
    );
}

/// A chain whose compute nodes are challenged: probation until the first pass.
fn challenged_chain() -> Harness {
    let trust = TrustParams {
        capacity_challenges: true,
        probation_challenges: 1,
        first_challenge_within_s: 10,
        commit_latency_s: 30,
        ..params()
    };
    let mut chain = chain_with(trust);
    keep_alive(&mut chain, 1);
    chain
}

fn issued(chain: &Harness, node: u8) -> Option<vcity_types::trust::CapacityChallenge> {
    capacity::recent(chain.ledger.state(), &account(node))
        .into_iter()
        .next()
}

/// Blocks every second until the node's next challenge is issued.
fn until_issued(
    chain: &mut Harness,
    from_s: u64,
    node: u8,
) -> (u64, vcity_types::trust::CapacityChallenge) {
    let known = issued(chain, node).map(|challenge| challenge.id);
    for t in from_s..from_s + 2_000 {
        chain.block_at(t, vec![]);
        if let Some(challenge) = issued(chain, node).filter(|found| Some(found.id) != known) {
            return (t, challenge);
        }
    }
    panic!("no challenge issued");
}

#[test]
fn a_passed_capacity_challenge_ends_probation_and_starts_proof_of_capacity() {
    let mut chain = challenged_chain();
    let node = nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
    assert!(node.trust.probation);
    // On probation: heartbeats earn no Proof of Capacity and add no available CU.
    keep_alive(&mut chain, 2);
    assert_eq!(
        incentives::member(chain.ledger.state(), &account(NODE)),
        None
    );
    let (t, challenge) = until_issued(&mut chain, 3, NODE);
    assert!(t <= 11, "within first_challenge_within_s");
    assert_eq!(challenge.devices.len(), 1, "the CPU");
    assert_eq!(challenge.devices[0].n, 256);
    // The wrong number of roots, someone else's commitment, then the node's.
    let commit = |roots: Vec<Hash>| {
        Message::CommitCapacity(CommitCapacity {
            challenge_id: challenge.id,
            roots,
        })
    };
    assert_eq!(chain.at(t + 1, NODE, commit(vec![])).code, 30);
    assert_eq!(chain.at(t + 1, BUYER, commit(vec![Hash([1; 32])])).code, 10);
    at_ok(&mut chain, t + 2, NODE, commit(vec![Hash([1; 32])]));
    assert_eq!(chain.at(t + 3, NODE, commit(vec![Hash([1; 32])])).code, 28);
    let drawn = capacity::challenge(chain.ledger.state(), challenge.id).expect("challenge");
    assert_eq!(drawn.state, ChallengeState::AwaitingVerdict);
    let verifier = seed_of(&drawn.verifier.expect("drawn"));
    let verdict = |pass| {
        Message::CapacityVerdict(CapacityVerdict {
            challenge_id: challenge.id,
            pass,
        })
    };
    let stranger = VERIFIERS
        .into_iter()
        .find(|seed| *seed != verifier)
        .expect("four");
    assert_eq!(chain.at(t + 4, stranger, verdict(true)).code, 29);
    at_ok(&mut chain, t + 5, verifier, verdict(true));
    let node = nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
    assert!(!node.trust.probation);
    assert_eq!(node.trust.challenges_passed, 1);
    assert!(chain
        .events
        .iter()
        .any(|event| matches!(event, Event::ProbationEnded { .. })));
    // Now a heartbeat earns Proof of Capacity.
    keep_alive(&mut chain, t + 10);
    let member = incentives::member(chain.ledger.state(), &account(NODE)).expect("a member");
    assert!(member.capacity_raw > 0);
}

#[test]
fn a_node_declaring_gpus_it_cannot_prove_misses_and_loses_them() {
    let mut chain = challenged_chain();
    // A second compute node declares an H100 (2.0 CU) besides its 8 cores.
    let liar = POOR;
    let funding = Message::Transfer(vcity_types::tx::Transfer {
        to: account(liar),
        denom: Denom::Vcai,
        amount: vcai(30_000),
    });
    at_ok(&mut chain, 1, BUYER, funding);
    let hardware = Hardware {
        gpus: vec![GpuSpec {
            model: "H100".into(),
            count: 1,
            vram_mib: 81_920,
        }],
        ..cpu(8)
    };
    register(&mut chain, 1, liar, Role::Compute, hardware, 21_000);
    let (t, challenge) = until_issued(&mut chain, 2, liar);
    assert_eq!(challenge.devices.len(), 2);
    assert_eq!(challenge.devices[1].label, "H100");
    // 16,384³ MACs at 2 CU × 5·10^12 MACs per CU-second: under a second on the H100 it claims
    // (and as long again for its CPU's 256³), on top of the 30 s latency allowance. A CPU core
    // at 10^10 MACs per second would need over seven minutes.
    let expected = challenge.commit_deadline_s - t;
    assert_eq!(expected, 30 + 1 + 1);
    // No commitment by the deadline.
    chain.block_at(challenge.commit_deadline_s + 2, vec![]);
    let ended = capacity::challenge(chain.ledger.state(), challenge.id).expect("challenge");
    assert_eq!(ended.state, ChallengeState::Missed);
    let node = nodes::node(chain.ledger.state(), &account(liar)).expect("node");
    assert!(node.hardware.gpus.is_empty(), "the unproven GPU comes off");
    assert_eq!(node.capacity_cu_ppm, 80_000);
    assert!(node.trust.probation, "still unproven");
    assert_eq!(node.stake, vcai(21_000 - 1_050), "5%");
    let slash = &slashing::recent(chain.ledger.state(), &account(liar))[0];
    assert_eq!(
        (slash.offence, slash.tier),
        (Offence::CapacityMissed, Tier::Minor)
    );
    // No Proof of Capacity for it this period: its heartbeats count for nothing.
    at_ok(
        &mut chain,
        challenge.commit_deadline_s + 3,
        liar,
        beat(healthy()),
    );
    let member = incentives::member(chain.ledger.state(), &account(liar));
    assert!(member.is_none_or(|member| member.capacity_score() == 0));
}

#[test]
fn a_failing_verdict_goes_to_referees_and_a_bad_proof_is_slashed() {
    let mut chain = challenged_chain();
    let (t, challenge) = until_issued(&mut chain, 2, NODE);
    at_ok(
        &mut chain,
        t + 1,
        NODE,
        Message::CommitCapacity(CommitCapacity {
            challenge_id: challenge.id,
            roots: vec![Hash([9; 32])],
        }),
    );
    chain.block_at(t + 2, vec![]);
    let drawn = capacity::challenge(chain.ledger.state(), challenge.id).expect("challenge");
    let verifier = seed_of(&drawn.verifier.expect("drawn"));
    at_ok(
        &mut chain,
        t + 2,
        verifier,
        Message::CapacityVerdict(CapacityVerdict {
            challenge_id: challenge.id,
            pass: false,
        }),
    );
    chain.block_at(t + 3, vec![]);
    let opened = last_dispute(&chain);
    for (index, referee) in opened.referees.iter().enumerate() {
        let message = Message::RefereeVote(RefereeVote {
            dispute_id: opened.id,
            vote: Vote::Capacity { pass: false },
        });
        at_ok(&mut chain, t + 4 + index as u64, seed_of(referee), message);
    }
    assert_eq!(
        last_dispute(&chain).outcome,
        DisputeOutcome::NodeAtFault {
            offence: Offence::CapacityFailed
        }
    );
    let ended = capacity::challenge(chain.ledger.state(), challenge.id).expect("challenge");
    assert_eq!(ended.state, ChallengeState::Failed);
    let slash = &slashing::recent(chain.ledger.state(), &account(NODE))[0];
    assert_eq!(
        (slash.offence, slash.amount),
        (Offence::CapacityFailed, vcai(1_000))
    );
    assert_eq!(slash.challenger, Some(account(verifier)));
}

#[test]
fn sampling_rises_for_risky_nodes_and_valuable_tasks() {
    use vcity_ledger::verification::{deterrence_rate_ppm, sampling_rate_ppm};
    let params = TrustParams::default();
    let mut node =
        nodes::node(chain_with(self::params()).ledger.state(), &account(NODE)).expect("node");
    let small = Amount::new(1_000);
    let slash = Amount::new(1_000_000_000);
    let rate = |node: &vcity_types::compute::NodeRecord, level, value| {
        sampling_rate_ppm(&params, level, node, 120, value, slash, 1_000_000)
    };
    // A new node has a record of nothing: reputation 0.5, not below the 0.5 threshold.
    assert_eq!(rate(&node, VerificationLevel::Standard, small), 50_000);
    assert_eq!(rate(&node, VerificationLevel::None, small), 0);
    assert_eq!(rate(&node, VerificationLevel::Full, small), 1_000_000);
    node.trust.probation = true;
    assert_eq!(rate(&node, VerificationLevel::Standard, small), 250_000);
    node.trust.probation = false;
    node.tasks_lost = 3;
    assert_eq!(
        rate(&node, VerificationLevel::Standard, small),
        250_000,
        "low reputation"
    );
    node.tasks_lost = 0;
    // A task worth as much as the slash: 2P / (P + S) = 100%.
    assert_eq!(rate(&node, VerificationLevel::Standard, slash), 1_000_000);
    assert_eq!(deterrence_rate_ppm(Amount::new(1), Amount::new(99)), 20_000);
    // Level none is the buyer's choice, never sampled.
    assert_eq!(rate(&node, VerificationLevel::None, slash), 0);

    // A node whose TEE tier stands: half the level rate, never zero, deterrence untouched.
    let tee_rate = |node: &vcity_types::compute::NodeRecord, level, value, factor| {
        sampling_rate_ppm(&params, level, node, 120, value, slash, factor)
    };
    assert_eq!(
        tee_rate(&node, VerificationLevel::Standard, small, 500_000),
        25_000
    );
    assert_eq!(
        tee_rate(&node, VerificationLevel::Full, small, 500_000),
        500_000
    );
    // (A task worth one base unit, so that the deterrence rate is 1 ppm too.)
    assert_eq!(
        tee_rate(&node, VerificationLevel::Standard, Amount::new(1), 1),
        1,
        "never zero"
    );
    assert_eq!(tee_rate(&node, VerificationLevel::None, small, 1), 0);
    assert_eq!(
        tee_rate(&node, VerificationLevel::Standard, slash, 500_000),
        1_000_000,
        "the deterrence rate is not lowered"
    );
    node.trust.probation = true;
    assert_eq!(
        tee_rate(&node, VerificationLevel::Standard, small, 500_000),
        125_000
    );
    // The factor applies only while the tier stands.
    let rules = vcity_types::attestation::AttestationRules::default();
    node.tee = vcity_types::compute::TeeStatus {
        tier: vcity_types::compute::TeeTier::Cpu,
        expires_s: 1_000,
        ..Default::default()
    };
    assert_eq!(
        vcity_ledger::verification::tee_factor_ppm(&rules, &node, 999),
        500_000
    );
    assert_eq!(
        vcity_ledger::verification::tee_factor_ppm(&rules, &node, 1_000),
        1_000_000
    );
}

#[test]
fn accounts_a_node_funded_count_as_its_own() {
    let mut chain = chain_with(params());
    // The node's operator funds a fresh "buyer" and spends with its own node through it.
    let puppet: u8 = 77;
    let funding = Message::Transfer(vcity_types::tx::Transfer {
        to: account(puppet),
        denom: Denom::Usd,
        amount: usd(100),
    });
    at_ok(&mut chain, 1, NODE, funding);
    assert!(bank::related(
        chain.ledger.state(),
        &account(puppet),
        &account(NODE),
        1_000
    ));
    assert!(!bank::related(
        chain.ledger.state(),
        &account(BUYER),
        &account(NODE),
        1_000
    ));
}

mod liars {
    //! Random task streams with a random share of liars: the books balance every block (the
    //! harness audits supply after each), every module account holds exactly what its records
    //! say, and cheating never pays at the ledger's own sampling rates and slash tiers.

    use super::*;
    use proptest::prelude::*;

    /// The liar's gain from faking a task instead of computing it (docs/verification.md, "Why
    /// lying does not pay"): `C − p·(P_net + S)`, where `C` is what computing would cost it (at
    /// most `P_net`, the payment net of the network fee, or it would not run the task honestly
    /// either), `S` the slash it risks, `p` the rate.
    fn gain_from_lying(
        cost: u128,
        value: u128,
        slash: u128,
        rate_ppm: u128,
        fee_ppm: u128,
    ) -> i128 {
        let net = value * (1_000_000 - fee_ppm) / 1_000_000;
        let expected_loss = rate_ppm * (net + slash) / 1_000_000;
        cost as i128 - expected_loss as i128
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn lying_never_pays_at_the_ledger_s_rates(
            value in 1u128..10_000_000_000_000,
            staked_vcai in 1u128..10_000_000,
            level in 1usize..4,
            probation in any::<bool>(),
            tee_factor_ppm in 1u32..=1_000_000,
        ) {
            let params = TrustParams::default();
            let node_params = nodes::NodeParams::default();
            let staked = vcai(staked_vcai);
            let slash = vcity_ledger::verification::slash_at_stake_usd(&params, &node_params, staked);
            let mut node = nodes::node(chain_with(super::params()).ledger.state(), &account(NODE)).expect("node");
            node.trust.probation = probation;
            let rate = vcity_ledger::verification::sampling_rate_ppm(
                &params,
                VerificationLevel::ALL[level],
                &node,
                120,
                Amount::new(value),
                slash,
                tee_factor_ppm,
            );
            // The most a node can save is its whole net payment (it never computes at a loss).
            let net = value * 900_000 / 1_000_000;
            let gain = gain_from_lying(net, value, slash.base_units(), u128::from(rate), 100_000);
            prop_assert!(gain < 0, "gain {gain} at rate {rate} for value {value}, slash {}", slash.base_units());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        #[test]
        fn random_liars_keep_every_account_whole(
            plan in proptest::collection::vec((any::<bool>(), any::<bool>(), 0usize..2), 1..6),
        ) {
            let mut chain = chain_with(params());
            let mut t = 10;
            for (lie, inflate, wrong_votes) in plan {
                let node = nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
                if node.trust.banned {
                    break;
                }
                let result = match (lie, inflate) {
                    (false, _) => right(),
                    (true, false) => commitment(b"wrong", CU),
                    (true, true) => commitment(b"right", 2 * CU),
                };
                let job_id = run_to_result(&mut chain, t, VerificationLevel::Full, result.clone());
                // Slashed referees are paused: with none eligible a task goes unchecked.
                let sampled = jobs::job(chain.ledger.state(), job_id).expect("job").tasks[0]
                    .check
                    .is_some();
                if !sampled {
                    t += 20;
                    continue;
                }
                let verifier = checker(&chain, job_id);
                if lie {
                    at_ok(&mut chain, t + 5, verifier, challenge(job_id, right()));
                    chain.block_at(t + 6, vec![]);
                    let opened = last_dispute(&chain);
                    for (index, referee) in opened.referees.iter().enumerate() {
                        let answer = if index < wrong_votes { result.clone() } else { right() };
                        at_ok(&mut chain, t + 7 + index as u64, seed_of(referee), vote(opened.id, answer));
                    }
                } else {
                    at_ok(
                        &mut chain,
                        t + 5,
                        verifier,
                        Message::VerifyResult(VerifyResult { job_id, task: 0, commitment: right() }),
                    );
                }
                t += 20;
            }
            // Everything settles and every appeal window ends.
            for step in 0..4 {
                keep_alive(&mut chain, t + 300 * step);
            }
            chain.block_at(t + 2_000, vec![]);
            let state = chain.ledger.state();
            prop_assert_eq!(balance(&chain, &jobs::escrow_account(), Denom::Usd), 0);
            prop_assert_eq!(balance(&chain, &trust::deposits_account(), Denom::Vcai), 0);
            prop_assert_eq!(balance(&chain, &slashing::escrow_account(), Denom::Vcai), 0);
            // The stake account holds exactly the nodes' bonds and unbonding entries.
            let staked: u128 = [NODE, SCHEDULER]
                .into_iter()
                .chain(VERIFIERS)
                .map(|seed| {
                    let record = nodes::node(state, &account(seed)).expect("node");
                    record.stake.base_units()
                        + nodes::unbonding_total(state, &account(seed)).base_units()
                })
                .sum();
            prop_assert_eq!(balance(&chain, &nodes::stake_account(), Denom::Vcai), staked);
            for id in 1..=slashing::count(state) {
                let slash = slashing::slash_record(state, id).expect("slash");
                let paid_out = matches!(slash.state, SlashState::PaidOut { .. });
                prop_assert!(paid_out);
                if let SlashState::PaidOut { compensation, bounty, reserve } = slash.state {
                    let total = compensation.checked_add(bounty).and_then(|sum| sum.checked_add(reserve)).expect("fits");
                    prop_assert_eq!(total, slash.amount);
                }
            }
        }
    }
}

#[test]
fn a_stake_returned_after_leaving_can_unbond_or_count_towards_rejoining() {
    let (mut chain, slash) = slashed_for_a_wrong_result();
    at_ok(&mut chain, 40, NODE, Message::Deregister(Deregister {}));
    assert_eq!(
        nodes::unbonding_total(chain.ledger.state(), &account(NODE)),
        vcai(7_000)
    );
    at_ok(
        &mut chain,
        41,
        NODE,
        Message::Appeal(Appeal {
            slash_id: slash.id,
            reason: "the referees were wrong".into(),
        }),
    );
    let (receipt, decided_s) = chain.govern(
        42,
        GOVERNOR,
        vec![Action::DecideAppeal {
            slash_id: slash.id,
            uphold: true,
        }],
    );
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    // The 3,000 VCAI came back as a bond of a node that has left: no requirement holds it.
    let node = nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
    assert_eq!(node.stake, vcai(3_000));
    let unbond = |amount| {
        Message::Unbond(vcity_types::compute::Unbond {
            amount: vcai(amount),
        })
    };
    at_ok(&mut chain, decided_s + 1, NODE, unbond(1_000));
    // Rejoining counts the 2,000 left with the new stake against the requirement (800 VCAI).
    at_ok(
        &mut chain,
        decided_s + 2,
        NODE,
        cpu_registration(Amount::ZERO),
    );
    let node = nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
    assert_eq!(node.stake, vcai(2_000));
    assert!(!node.trust.deregistered);
    assert_eq!(node.trust.results_disproved, 1, "its history stays");
    assert_eq!(
        balance(&chain, &nodes::stake_account(), Denom::Vcai),
        [NODE, SCHEDULER]
            .into_iter()
            .chain(VERIFIERS)
            .map(|seed| {
                let state = chain.ledger.state();
                nodes::node(state, &account(seed))
                    .expect("node")
                    .stake
                    .base_units()
                    + nodes::unbonding_total(state, &account(seed)).base_units()
            })
            .sum::<u128>()
    );
}
