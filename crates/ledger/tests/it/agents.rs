//! Agents through blocks (docs/agents.md): mint with its fee, versions, gifts and sales with the
//! commission and royalty to the base unit, every licence kind through its end and through a
//! change of holder, calls run as jobs whose fee is split at settlement or refunded, and ratings
//! only by callers of settled, paid calls. A property test drives random sequences and checks the
//! agents' escrow against the calls in flight.

use crate::common::{account, funded, usd, vcai, Harness, GOVERNOR};
use proptest::prelude::*;
use vcity_ledger::agents::{self, invocations, licences};
use vcity_ledger::{bank, jobs};
use vcity_types::agents::{
    AddAgentVersion, AgentMetadata, AgentParams, AgentProgram, BuyAgent, DelistAgent,
    InvocationState, InvokeAgent, LicenceKind, LicenceOffer, ListAgent, MintAgent, RateInvocation,
    RetireAgentVersion, SetLicenceTerms, TakeLicence, TransferAgent,
};
use vcity_types::compute::{
    AssignTask, CancelJob, NodeHeartbeat, Requirements, StartTask, TaskState,
};
use vcity_types::event::Event;
use vcity_types::governance::{Action, Module, ParamChange};
use vcity_types::tx::Message;
use vcity_types::{Amount, Denom, Hash};

const CREATOR: u8 = 1;
const ALICE: u8 = 2;
const BOB: u8 = 3;
const CAROL: u8 = 4;
const NODE: u8 = 5;
const SCHEDULER: u8 = 6;

fn base(units: u128) -> Amount {
    Amount::new(units)
}

fn new_chain() -> Harness {
    let accounts = [CREATOR, ALICE, BOB, CAROL, NODE, SCHEDULER]
        .into_iter()
        .map(|seed| funded(seed, vcai(100_000), usd(1_000)))
        .collect();
    let mut genesis = crate::common::genesis("vcity-agents", accounts);
    genesis.agents = Some(AgentParams::default());
    crate::common::governed(&mut genesis);
    let mut chain = Harness::new(&genesis);
    let cpu = crate::common::cpu_node("eu-west", base(100), vcai(1_000));
    assert_eq!(chain.at(0, NODE, Message::RegisterNode(cpu)).code, 0);
    let scheduler = crate::common::scheduler_node();
    assert_eq!(
        chain
            .at(0, SCHEDULER, Message::RegisterNode(scheduler))
            .code,
        0
    );
    chain
}

fn usd_of(chain: &Harness, seed: u8) -> u128 {
    bank::balance(chain.ledger.state(), &account(seed), Denom::Usd).base_units()
}

fn treasury_usd(chain: &Harness) -> u128 {
    bank::balance(chain.ledger.state(), &bank::treasury(), Denom::Usd).base_units()
}

fn program(seed: u8) -> AgentProgram {
    AgentProgram {
        package_hash: Hash([seed; 32]),
        module_hash: Hash([seed.wrapping_add(100); 32]),
        executor: Default::default(),
    }
}

fn mint(royalty_bps: u32) -> Message {
    Message::MintAgent(MintAgent {
        program: program(1),
        metadata: AgentMetadata {
            name: "Museum guide".into(),
            description: "Answers visitors' questions from the museum's notes.".into(),
            tags: vec!["tour-guide".into(), "museum".into()],
        },
        copyright: "© 2026 the creator".into(),
        usage_terms: "Non-commercial use unless licensed.".into(),
        royalty_bps,
    })
}

fn invoke(agent_id: u64, max_call_fee_usd: Amount) -> Message {
    Message::InvokeAgent(InvokeAgent {
        agent_id,
        version: 0,
        input: b"Where is the Rosetta Stone?".to_vec(),
        shard: None,
        requirements: Requirements {
            max_duration_s: 60,
            ..Requirements::default()
        },
        max_cu_ppm: 10_000_000,
        max_price_per_cu_usd: base(1_000),
        verification: vcity_types::trust::VerificationLevel::None,
        max_call_fee_usd,
    })
}

fn terms(offers: Vec<LicenceOffer>, per_call: Option<u128>) -> Message {
    Message::SetLicenceTerms(SetLicenceTerms {
        agent_id: 1,
        offers,
        per_call_usd: per_call.map(base),
    })
}

fn offer(kind: LicenceKind, price: u128) -> LicenceOffer {
    LicenceOffer {
        kind,
        price_usd: base(price),
    }
}

fn take(offer: u32, max: u128) -> Message {
    Message::TakeLicence(TakeLicence {
        agent_id: 1,
        offer,
        max_price_usd: base(max),
    })
}

/// Runs job `job_id`'s only task on the node from `t_s` and lets it settle; returns the time.
fn run_to_settlement(chain: &mut Harness, t_s: u64, job_id: u64) -> u64 {
    let beat = NodeHeartbeat {
        load_ppm: 0,
        running_tasks: 0,
        health: crate::common::healthy(),
    };
    assert_eq!(chain.at(t_s, NODE, Message::NodeHeartbeat(beat)).code, 0);
    let assign = Message::AssignTask(AssignTask {
        job_id,
        task: 0,
        node: account(NODE),
    });
    let receipt = chain.at(t_s, SCHEDULER, assign);
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    let start = Message::StartTask(StartTask { job_id, task: 0 });
    assert_eq!(chain.at(t_s + 1, NODE, start).code, 0);
    let result = chain.result(NODE, job_id, 0, 2_000_000, b"Room 4");
    assert_eq!(chain.at(t_s + 2, NODE, result).code, 0);
    // The verification window (600 s) closes; any block walks the reminder.
    let window = jobs::params(chain.ledger.state()).verification_window_s;
    chain.block_at(t_s + 3 + window, Vec::new());
    t_s + 3 + window
}

#[test]
fn mint_versions_gift_and_sale_pay_fee_commission_and_royalty_to_the_base_unit() {
    let mut chain = new_chain();
    let treasury_before = treasury_usd(&chain);
    let creator_before = usd_of(&chain, CREATOR);
    let fee = AgentParams::default().creation_fee_usd.base_units();

    // Bad mints are refused with their code.
    let mut bad = mint(5_001);
    assert_eq!(chain.at(10, CREATOR, bad).code, 37, "royalty over the cap");
    bad = mint(100);
    if let Message::MintAgent(message) = &mut bad {
        message.metadata.tags = vec!["Tour Guide".into()];
    }
    assert_eq!(chain.at(10, CREATOR, bad).code, 37, "a tag with capitals");

    assert_eq!(chain.at(10, CREATOR, mint(1_000)).code, 0);
    let record = agents::agent(chain.ledger.state(), 1).expect("minted");
    assert_eq!(
        (record.creator, record.owner),
        (account(CREATOR), account(CREATOR))
    );
    assert_eq!(record.royalty_bps, 1_000);
    // The creation fee went to the treasury (three transactions' fees too).
    assert_eq!(treasury_usd(&chain) - treasury_before, fee + 3 * 1_000);
    assert_eq!(usd_of(&chain, CREATOR), creator_before - fee - 3 * 1_000);

    // Versions append; a retired one stays readable but is not invoked.
    let add = Message::AddAgentVersion(AddAgentVersion {
        agent_id: 1,
        program: program(2),
    });
    assert_eq!(chain.at(20, ALICE, add.clone()).code, 10, "only the holder");
    assert_eq!(chain.at(20, CREATOR, add).code, 0);
    let retire = Message::RetireAgentVersion(RetireAgentVersion {
        agent_id: 1,
        version: 2,
    });
    assert_eq!(chain.at(21, CREATOR, retire.clone()).code, 0);
    assert_eq!(chain.at(22, CREATOR, retire).code, 28, "already retired");
    let versions = agents::versions(chain.ledger.state(), 1);
    assert_eq!(versions.len(), 2);
    assert!(!versions[0].retired && versions[1].retired);
    assert_eq!(versions[1].program, program(2));

    // A gift, then a sale by the new holder: commission ⌈2.5% of 1,000,001⌉ = 25,001 to the
    // treasury, royalty ⌊10% of 975,000⌋ = 97,500 to the creator, 877,500 to the seller.
    let gift = Message::TransferAgent(TransferAgent {
        agent_id: 1,
        to: account(ALICE),
    });
    assert_eq!(chain.at(30, CREATOR, gift).code, 0);
    let list = Message::ListAgent(ListAgent {
        agent_id: 1,
        price_usd: base(1_000_001),
    });
    assert_eq!(
        chain.at(31, CREATOR, list.clone()).code,
        10,
        "the creator no longer holds it"
    );
    assert_eq!(chain.at(31, ALICE, list).code, 0);
    let buy = |max| {
        Message::BuyAgent(BuyAgent {
            agent_id: 1,
            max_price_usd: base(max),
        })
    };
    assert_eq!(
        chain.at(32, BOB, buy(1_000_000)).code,
        18,
        "over the buyer's maximum"
    );
    let (alice, creator, bob, treasury) = (
        usd_of(&chain, ALICE),
        usd_of(&chain, CREATOR),
        usd_of(&chain, BOB),
        treasury_usd(&chain),
    );
    assert_eq!(chain.at(33, BOB, buy(1_000_001)).code, 0);
    assert_eq!(usd_of(&chain, ALICE) - alice, 877_500);
    assert_eq!(usd_of(&chain, CREATOR) - creator, 97_500);
    assert_eq!(bob - usd_of(&chain, BOB), 1_000_001 + 1_000);
    assert_eq!(treasury_usd(&chain) - treasury, 25_001 + 1_000);
    let record = agents::agent(chain.ledger.state(), 1).expect("agent");
    assert_eq!(record.owner, account(BOB));
    assert!(record.sale.is_none());
    assert!(chain.events.iter().any(|event| matches!(
        event,
        Event::AgentSold { commission_usd, royalty_usd, .. }
            if *commission_usd == base(25_001) && *royalty_usd == base(97_500)
    )));
    // Sold means unlisted: nobody buys it again, and a delisting has nothing to withdraw.
    assert_eq!(chain.at(34, CAROL, buy(2_000_000)).code, 15);
    let delist = Message::DelistAgent(DelistAgent { agent_id: 1 });
    assert_eq!(chain.at(34, BOB, delist).code, 15);
}

#[test]
fn licences_run_to_their_end_survive_a_sale_and_exclusive_shuts_out_others() {
    let mut chain = new_chain();
    assert_eq!(chain.at(10, CREATOR, mint(1_000)).code, 0);
    // No terms: no licence and no call.
    assert_eq!(chain.at(11, ALICE, take(0, 10)).code, 38);
    let offers = vec![
        offer(LicenceKind::Exclusive { duration_s: 1_000 }, 500_000),
        offer(LicenceKind::Timed { duration_s: 100 }, 20_000),
        offer(LicenceKind::Shared, 300_000),
    ];
    assert_eq!(chain.at(12, CREATOR, terms(offers, Some(1_000))).code, 0);
    assert_eq!(
        chain.at(13, CREATOR, take(1, 20_000)).code,
        37,
        "the holder needs none"
    );

    // An exclusive licence: 10% of 500,000 to the treasury, 10% of 450,000 to the creator, the
    // rest to the holder, who is the creator here: 50,000 and 450,000.
    let (creator, treasury) = (usd_of(&chain, CREATOR), treasury_usd(&chain));
    assert_eq!(chain.at(20, ALICE, take(0, 500_000)).code, 0);
    assert_eq!(usd_of(&chain, CREATOR) - creator, 450_000);
    assert_eq!(treasury_usd(&chain) - treasury, 50_000 + 1_000);
    let licence = licences::licence(chain.ledger.state(), 1, &account(ALICE)).expect("held");
    assert_eq!(licence.until_s, Some(1_020));
    // While it runs nobody else licenses or calls.
    assert_eq!(chain.at(30, BOB, take(1, 20_000)).code, 38);
    assert_eq!(chain.at(30, BOB, invoke(1, base(1_000))).code, 38);
    // Alice calls free; her job is the call.
    assert_eq!(chain.at(31, ALICE, invoke(1, Amount::ZERO)).code, 0);
    let call = invocations::invocation(chain.ledger.state(), 1).expect("recorded");
    assert_eq!(call.fee_usd, Amount::ZERO);

    // The NFT is sold; Alice's exclusive licence stands, and she renews it from its end.
    let gift = Message::TransferAgent(TransferAgent {
        agent_id: 1,
        to: account(CAROL),
    });
    assert_eq!(chain.at(40, CREATOR, gift).code, 0);
    assert_eq!(chain.at(41, BOB, invoke(1, base(1_000))).code, 38);
    let carol = usd_of(&chain, CAROL);
    assert_eq!(chain.at(50, ALICE, take(0, 500_000)).code, 0);
    let licence = licences::licence(chain.ledger.state(), 1, &account(ALICE)).expect("held");
    assert_eq!(licence.until_s, Some(2_020), "renewed from its end");
    assert_eq!(licence.paid_usd, base(1_000_000));
    // The new holder receives the holder's part: 450,000 − ⌊10% of 450,000⌋ = 405,000.
    assert_eq!(usd_of(&chain, CAROL) - carol, 405_000);

    // After its end, others license again: Bob takes a time-limited one.
    assert_eq!(
        chain.at(2_019, BOB, take(1, 20_000)).code,
        38,
        "one second left"
    );
    assert_eq!(chain.at(2_020, BOB, take(1, 20_000)).code, 0);
    // Alice's licence has ended: now she would pay the call fee, and offers none.
    assert_eq!(chain.at(2_021, ALICE, invoke(1, Amount::ZERO)).code, 18);
    assert_eq!(chain.at(2_030, BOB, invoke(1, Amount::ZERO)).code, 0);
    // An exclusive licence waits for every shared one to end.
    assert_eq!(chain.at(2_040, ALICE, take(0, 500_000)).code, 38);
    // Bob's ends at 2,120: his call then pays the per-call fee (no more than he offers).
    assert_eq!(chain.at(2_120, BOB, invoke(1, Amount::ZERO)).code, 18);
    assert_eq!(chain.at(2_121, BOB, invoke(1, base(1_000))).code, 0);
    assert_eq!(
        chain.at(2_122, ALICE, take(0, 500_000)).code,
        0,
        "nothing shared runs now"
    );
    // Once a perpetual shared licence exists, no exclusive one is ever sold again.
    assert_eq!(chain.at(3_200, BOB, take(2, 300_000)).code, 0);
    assert_eq!(
        chain.at(3_201, BOB, take(2, 300_000)).code,
        28,
        "held for good"
    );
    assert_eq!(
        chain.at(9_000, CAROL, invoke(1, Amount::ZERO)).code,
        0,
        "the holder"
    );
    assert_eq!(
        chain.at(9_001, BOB, invoke(1, Amount::ZERO)).code,
        0,
        "for good"
    );
    assert_eq!(chain.at(9_002, ALICE, take(0, 500_000)).code, 38);
}

#[test]
fn a_call_fee_waits_for_the_job_then_splits_or_comes_back_and_only_paying_callers_rate() {
    let mut chain = new_chain();
    assert_eq!(chain.at(10, CREATOR, mint(2_000)).code, 0);
    // No terms: a call without a licence is refused, and nothing moves.
    let bob = usd_of(&chain, BOB);
    assert_eq!(chain.at(11, BOB, invoke(1, base(1_000_000))).code, 38);
    assert_eq!(
        bob - usd_of(&chain, BOB),
        1_000,
        "only the fee of the refused transaction"
    );
    assert_eq!(
        chain.at(12, CREATOR, terms(Vec::new(), Some(123_457))).code,
        0
    );

    // Bob calls: the job's escrow (10 CU × 1,000) and the call fee leave his account.
    let bob = usd_of(&chain, BOB);
    assert_eq!(chain.at(20, BOB, invoke(1, base(123_457))).code, 0);
    assert_eq!(bob - usd_of(&chain, BOB), 10_000 + 123_457 + 1_000);
    assert_eq!(
        bank::balance(chain.ledger.state(), &agents::escrow_account(), Denom::Usd),
        base(123_457)
    );
    let job = jobs::job(chain.ledger.state(), 1).expect("the call's job");
    assert_eq!(job.owner, account(BOB));
    assert_eq!(job.workload.module_hash, program(1).module_hash);
    assert_eq!(job.tasks.len(), 1);
    // Rating before settlement is refused.
    let rate = |job_id, score| Message::RateInvocation(RateInvocation { job_id, score });
    assert_eq!(chain.at(21, BOB, rate(1, 5)).code, 37);

    // The holder changes before settlement: the holder at the call is paid.
    let gift = Message::TransferAgent(TransferAgent {
        agent_id: 1,
        to: account(CAROL),
    });
    assert_eq!(chain.at(22, CREATOR, gift).code, 0);
    let (creator, treasury) = (usd_of(&chain, CREATOR), treasury_usd(&chain));
    let settled_at = run_to_settlement(&mut chain, 30, 1);
    // 123,457: ⌈10%⌉ = 12,346 to the treasury; ⌊20% of 111,111⌋ = 22,222 royalty and 88,889
    // holder, both to the creator (the holder at the call).
    assert_eq!(usd_of(&chain, CREATOR) - creator, 22_222 + 88_889);
    let node_fee = 20; // the job's own network fee: ⌈10% of 2 CU × 100⌉
    assert_eq!(
        treasury_usd(&chain) - treasury,
        12_346 + node_fee + 4 * 1_000
    );
    assert_eq!(
        bank::balance(chain.ledger.state(), &agents::escrow_account(), Denom::Usd),
        Amount::ZERO
    );
    let call = invocations::invocation(chain.ledger.state(), 1).expect("call");
    assert_eq!(call.state, InvocationState::Settled);

    // Ratings: not by someone else, once by the caller.
    assert_eq!(chain.at(settled_at + 1, ALICE, rate(1, 5)).code, 10);
    assert_eq!(chain.at(settled_at + 1, BOB, rate(1, 6)).code, 37);
    assert_eq!(chain.at(settled_at + 2, BOB, rate(1, 4)).code, 0);
    assert_eq!(chain.at(settled_at + 3, BOB, rate(1, 5)).code, 28);
    let record = agents::agent(chain.ledger.state(), 1).expect("agent");
    assert_eq!(
        (record.calls, record.ratings, record.rating_points),
        (1, 1, 3)
    );
    assert_eq!(
        record.score_ppm(5),
        None,
        "fewer than five ratings: unranked"
    );

    // The holder's own call costs no fee and is not rated.
    assert_eq!(
        chain
            .at(settled_at + 10, CAROL, invoke(1, Amount::ZERO))
            .code,
        0
    );
    let own = settled_at + 20;
    let settled_own = run_to_settlement(&mut chain, own, 2);
    assert_eq!(chain.at(settled_own + 1, CAROL, rate(2, 5)).code, 37);

    // A cancelled call gives the fee back.
    let alice = usd_of(&chain, ALICE);
    assert_eq!(
        chain
            .at(settled_own + 2, ALICE, invoke(1, base(123_457)))
            .code,
        0
    );
    let cancel = Message::CancelJob(CancelJob { job_id: 3 });
    assert_eq!(chain.at(settled_own + 3, ALICE, cancel).code, 0);
    assert_eq!(
        alice - usd_of(&chain, ALICE),
        2 * 1_000,
        "everything back but the tx fees"
    );
    let call = invocations::invocation(chain.ledger.state(), 3).expect("call");
    assert_eq!(call.state, InvocationState::Refunded);
    assert_eq!(
        chain.at(settled_own + 4, ALICE, rate(3, 1)).code,
        37,
        "refunded calls are not rated"
    );
    assert_eq!(
        bank::balance(chain.ledger.state(), &agents::escrow_account(), Denom::Usd),
        Amount::ZERO
    );
}

#[test]
fn a_call_whose_program_fails_pays_its_compute_but_not_its_fee_and_can_still_be_rated() {
    let mut chain = new_chain();
    assert_eq!(chain.at(10, CREATOR, mint(1_000)).code, 0);
    assert_eq!(
        chain.at(11, CREATOR, terms(Vec::new(), Some(50_000))).code,
        0
    );
    let (bob, creator) = (usd_of(&chain, BOB), usd_of(&chain, CREATOR));
    assert_eq!(chain.at(20, BOB, invoke(1, base(50_000))).code, 0);
    // The node runs it and the program exits with an error.
    let beat = NodeHeartbeat {
        load_ppm: 0,
        running_tasks: 0,
        health: crate::common::healthy(),
    };
    assert_eq!(chain.at(30, NODE, Message::NodeHeartbeat(beat)).code, 0);
    let assign = Message::AssignTask(AssignTask {
        job_id: 1,
        task: 0,
        node: account(NODE),
    });
    assert_eq!(chain.at(30, SCHEDULER, assign).code, 0);
    let start = Message::StartTask(StartTask { job_id: 1, task: 0 });
    assert_eq!(chain.at(31, NODE, start).code, 0);
    let mut failed = crate::common::commitment(b"no such passage file", 1_000_000);
    failed.exit = vcity_types::compute::TaskExit::ExitCode { code: 1 };
    let result = crate::common::signed_result(chain.chain_id(), NODE, 1, 0, 1, failed);
    assert_eq!(chain.at(32, NODE, result).code, 0);
    let window = jobs::params(chain.ledger.state()).verification_window_s;
    chain.block_at(33 + window, Vec::new());
    // Settled: bob paid the compute (1 CU at 100 = 100) and nothing for the call.
    assert!(matches!(
        jobs::job(chain.ledger.state(), 1).expect("job").tasks[0].state,
        TaskState::Settled { .. }
    ));
    let call = invocations::invocation(chain.ledger.state(), 1).expect("call");
    assert_eq!(call.state, InvocationState::Undelivered);
    assert_eq!(bob - usd_of(&chain, BOB), 100 + 1_000);
    assert_eq!(usd_of(&chain, CREATOR), creator, "no fee for a failed call");
    assert_eq!(
        bank::balance(chain.ledger.state(), &agents::escrow_account(), Denom::Usd),
        Amount::ZERO
    );
    assert!(chain
        .events
        .iter()
        .any(|event| matches!(event, Event::AgentCallRefunded { job_id: 1, fee_usd } if *fee_usd == base(50_000))));
    // Bob paid for the compute, so his one star counts; the failed call is not a call served.
    let rate = Message::RateInvocation(RateInvocation {
        job_id: 1,
        score: 1,
    });
    assert_eq!(chain.at(33 + window + 1, BOB, rate).code, 0);
    let record = agents::agent(chain.ledger.state(), 1).expect("agent");
    assert_eq!(
        (record.calls, record.ratings, record.rating_points),
        (0, 1, 0)
    );
}

#[test]
fn a_retired_version_is_not_invoked_and_governance_pauses_and_reprices_agents() {
    let mut chain = new_chain();
    assert_eq!(chain.at(10, CREATOR, mint(0)).code, 0);
    let retire = Message::RetireAgentVersion(RetireAgentVersion {
        agent_id: 1,
        version: 1,
    });
    assert_eq!(chain.at(11, CREATOR, retire).code, 0);
    assert_eq!(chain.at(12, CREATOR, invoke(1, Amount::ZERO)).code, 37);
    let add = Message::AddAgentVersion(AddAgentVersion {
        agent_id: 1,
        program: program(3),
    });
    assert_eq!(chain.at(13, CREATOR, add).code, 0);
    assert_eq!(chain.at(14, CREATOR, invoke(1, Amount::ZERO)).code, 0);
    let job = jobs::job(chain.ledger.state(), 1).expect("job");
    assert_eq!(
        job.workload.module_hash,
        program(3).module_hash,
        "the newest live version"
    );

    // Governance: a new creation fee and a pause.
    let fee = Amount::new(1);
    let change = Action::SetParam {
        change: ParamChange::Agents(AgentParams {
            creation_fee_usd: fee,
            ..AgentParams::default()
        }),
    };
    let (receipt, t) = chain.govern(20, GOVERNOR, vec![change]);
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    assert_eq!(agents::params(chain.ledger.state()).creation_fee_usd, fee);
    let creator = usd_of(&chain, CREATOR);
    assert_eq!(chain.at(t + 1, CREATOR, mint(0)).code, 0);
    assert_eq!(creator - usd_of(&chain, CREATOR), 1 + 1_000);
    let pause = Action::Pause {
        module: Module::Agents,
    };
    let (receipt, t) = chain.govern(t + 2, GOVERNOR, vec![pause]);
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    assert_eq!(chain.at(t + 1, CREATOR, mint(0)).code, 32);
    // Withdrawing a listing and gifts stay open while paused.
    let gift = Message::TransferAgent(TransferAgent {
        agent_id: 1,
        to: account(BOB),
    });
    assert_eq!(chain.at(t + 2, CREATOR, gift).code, 0);
}

#[derive(Debug, Clone)]
enum Step {
    Mint(u8),
    List(u128),
    Buy(u8, u128),
    Give(u8),
    Terms(u128, u128),
    Take(u8, u32),
    Invoke(u8, u128),
    Cancel,
    Run,
    Rate(u8, u8),
}

/// Random steps; those only the holder may take are taken by the holder, so most succeed.
fn step() -> impl Strategy<Value = Step> {
    let who = 1u8..=4;
    prop_oneof![
        1 => who.clone().prop_map(Step::Mint),
        1 => (1u128..2_000_000).prop_map(Step::List),
        1 => (who.clone(), 0u128..3_000_000).prop_map(|(w, p)| Step::Buy(w, p)),
        1 => who.clone().prop_map(Step::Give),
        2 => (0u128..1_000_000, 0u128..300_000).prop_map(|(l, c)| Step::Terms(l, c)),
        2 => (who.clone(), 0u32..3).prop_map(|(w, o)| Step::Take(w, o)),
        4 => (who.clone(), 0u128..400_000).prop_map(|(w, m)| Step::Invoke(w, m)),
        2 => Just(Step::Cancel),
        2 => Just(Step::Run),
        2 => (who, 0u8..7).prop_map(|(w, s)| Step::Rate(w, s)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever happens, supply is conserved (the harness audits every block), the agents'
    /// escrow holds exactly the fees of the calls still running, every split pays out what came
    /// in, and a call's fee is charged only to a caller who is neither the holder nor a valid
    /// licensee (a reference computed from the records before the call).
    #[test]
    fn agent_money_is_conserved_and_escrow_matches_running_calls(
        steps in proptest::collection::vec(step(), 1..60)
    ) {
        let mut chain = new_chain();
        prop_assert_eq!(chain.at(10, CREATOR, mint(1_500)).code, 0);
        let mut now = 10u64;
        for step in steps {
            now += 7;
            let agent_id = agents::count(chain.ledger.state());
            let holder = agents::agent(chain.ledger.state(), agent_id).expect("agent").owner;
            let holder_seed = (1u8..=4).find(|seed| account(*seed) == holder).expect("a seed");
            let last_job = jobs::count(chain.ledger.state());
            let (who, message) = match step {
                Step::Mint(who) => (who, mint(u32::from(who) * 500)),
                Step::List(price) => (holder_seed, Message::ListAgent(ListAgent { agent_id, price_usd: base(price) })),
                Step::Buy(who, max) => (who, Message::BuyAgent(BuyAgent { agent_id, max_price_usd: base(max) })),
                Step::Give(to) => (holder_seed, Message::TransferAgent(TransferAgent { agent_id, to: account(to) })),
                Step::Terms(licence, call) => (holder_seed, Message::SetLicenceTerms(SetLicenceTerms {
                    agent_id,
                    offers: vec![
                        offer(LicenceKind::Exclusive { duration_s: 50 }, licence),
                        offer(LicenceKind::Timed { duration_s: 30 }, licence / 3),
                        offer(LicenceKind::Shared, licence * 2),
                    ],
                    per_call_usd: (call > 0).then_some(base(call)),
                })),
                Step::Take(who, index) => (who, Message::TakeLicence(TakeLicence { agent_id, offer: index, max_price_usd: base(u128::MAX / 4) })),
                Step::Invoke(who, max) => (who, invoke(agent_id, base(max))),
                Step::Cancel => {
                    let owner = jobs::job(chain.ledger.state(), last_job).map(|job| job.owner);
                    let Some(seed) = (1u8..=6).find(|seed| Some(account(*seed)) == owner) else { continue };
                    (seed, Message::CancelJob(CancelJob { job_id: last_job }))
                }
                Step::Run => {
                    let pending = jobs::job(chain.ledger.state(), last_job).is_some_and(|job| {
                        matches!(job.tasks[0].state, TaskState::Pending)
                    });
                    if pending {
                        now = run_to_settlement(&mut chain, now, last_job);
                    }
                    continue;
                }
                Step::Rate(who, score) => (who, Message::RateInvocation(RateInvocation { job_id: last_job, score })),
            };
            // What the caller should pay for the agent, from the records before the call.
            let expected_fee = if let Message::InvokeAgent(call) = &message {
                let state = chain.ledger.state();
                agents::agent(state, call.agent_id).map(|record| {
                    let licensed = licences::licence(state, record.id, &account(who))
                        .is_some_and(|found| found.until_s.is_none_or(|until| now < until));
                    let exclusive_self = record.exclusive.is_some_and(|(licensee, until)| licensee == account(who) && now < until);
                    if record.owner == account(who) || licensed || exclusive_self {
                        Amount::ZERO
                    } else {
                        record.terms.and_then(|terms| terms.per_call_usd).unwrap_or(Amount::ZERO)
                    }
                })
            } else {
                None
            };
            let receipt = chain.at(now, who, message);
            if let (Some(expected), 0) = (expected_fee, receipt.code) {
                let job_id = jobs::count(chain.ledger.state());
                let call = invocations::invocation(chain.ledger.state(), job_id).expect("a call");
                prop_assert_eq!(call.fee_usd, expected);
            }
            let state = chain.ledger.state();
            // A call's state follows its task's: running until the task ends, then settled or
            // refunded with it.
            for job_id in 1..=jobs::count(state) {
                let Some(call) = invocations::invocation(state, job_id) else { continue };
                let task = jobs::job(state, job_id).expect("job").tasks[0].state.clone();
                let expected = match task {
                    TaskState::Settled { .. } => InvocationState::Settled,
                    TaskState::Failed { .. } | TaskState::Cancelled => InvocationState::Refunded,
                    _ => InvocationState::Running,
                };
                prop_assert_eq!(call.state, expected, "job {}", job_id);
            }
            let running: u128 = (1..=jobs::count(state))
                .filter_map(|job_id| invocations::invocation(state, job_id))
                .filter(|call| call.state == InvocationState::Running)
                .map(|call| call.fee_usd.base_units())
                .sum();
            prop_assert_eq!(bank::balance(state, &agents::escrow_account(), Denom::Usd).base_units(), running);
        }
        // Every settled call paid out exactly its fee.
        for event in &chain.events {
            if let Event::AgentCallPaid { job_id, holder_usd, royalty_usd, protocol_usd } = event {
                let call = invocations::invocation(chain.ledger.state(), *job_id).expect("call");
                prop_assert_eq!(holder_usd.base_units() + royalty_usd.base_units() + protocol_usd.base_units(), call.fee_usd.base_units());
            }
        }
    }
}
