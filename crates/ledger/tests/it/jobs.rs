//! Jobs with escrow through blocks: the whole lifecycle, deadlines, misfits, cancellation and
//! overruns, with the books balancing to the base unit (escrow in = payments + fees + refunds).

use crate::common::{account, funded, vcai, Harness};
use vcity_ledger::{bank, jobs};
use vcity_types::compute::{
    AssignTask, Billing, CancelJob, CgroupVersion, ExecutorKind, FailTask, GpuSpec, Hardware,
    NodeHeartbeat, NodeKind, RegisterNode, Requirements, Role, SandboxNeeds, SandboxSupport,
    StartTask, SubmitJob, TaskState, UpdateNode, Workload,
};
use vcity_types::event::Event;
use vcity_types::tx::Message;
use vcity_types::{Amount, Denom, Hash};

const USER: u8 = 1;
const NODE: u8 = 2;
const SCHEDULER: u8 = 3;
const CPU_NODE: u8 = 4;

/// USD in base units.
fn usd(base: u128) -> Amount {
    Amount::new(base)
}

/// A GPU node, a CPU node and a scheduler, registered at genesis time.
fn new_chain() -> Harness {
    let accounts = [USER, NODE, SCHEDULER, CPU_NODE]
        .into_iter()
        .map(|seed| funded(seed, vcai(100_000), crate::common::usd(1_000)))
        .collect();
    let mut chain = Harness::new(&crate::common::genesis("vcity-jobs", accounts));
    let gpu = RegisterNode {
        role: Role::Compute,
        kind: NodeKind::Stable,
        hardware: Hardware {
            sandbox: None,
            gpus: vec![GpuSpec {
                model: "H100".into(),
                count: 1,
                vram_mib: 81_920,
            }],
            cpu_cores: 8,
            ram_mib: 65_536,
        },
        region: "eu-west".into(),
        endpoint: "https://gpu.example".into(),
        price_per_cu_usd: usd(500),
        stake: vcai(30_000),
    };
    assert_eq!(chain.at(0, NODE, Message::RegisterNode(gpu)).code, 0);
    let cpu = crate::common::cpu_node("us-east", usd(100), vcai(1_000));
    assert_eq!(chain.at(0, CPU_NODE, Message::RegisterNode(cpu)).code, 0);
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

fn heartbeat(chain: &mut Harness, t_s: u64, seed: u8) {
    let beat = NodeHeartbeat {
        load_ppm: 0,
        running_tasks: 0,
        health: crate::common::healthy(),
    };
    assert_eq!(chain.at(t_s, seed, Message::NodeHeartbeat(beat)).code, 0);
}

fn gpu_job(tasks: u32) -> SubmitJob {
    SubmitJob {
        workload: Workload {
            executor: ExecutorKind::Wasm,
            module_hash: Hash([7; 32]),
            input: b"matrix 64".to_vec(),
            shards: Vec::new(),
            service: None,
            output_dir: false,
            confidential: None,
        },
        tasks,
        requirements: Requirements {
            gpu_model: Some("H100".into()),
            gpu_count: 1,
            min_vram_mib: 40_000,
            region: None,
            max_duration_s: 300,
            ..Requirements::default()
        },
        max_cu_ppm_per_task: 100_000_000, // 100 CU
        max_price_per_cu_usd: usd(1_000),
        billing: Billing::PayAsYouGo,
        verification: vcity_types::trust::VerificationLevel::None,
        retries: None,
    }
}

fn assign(job_id: u64, task: u32, node: u8) -> Message {
    Message::AssignTask(AssignTask {
        job_id,
        task,
        node: account(node),
    })
}

fn start(job_id: u64, task: u32) -> Message {
    Message::StartTask(StartTask { job_id, task })
}

fn state_of(chain: &Harness, job: u64, task: usize) -> TaskState {
    jobs::job(chain.ledger.state(), job).expect("job").tasks[task]
        .state
        .clone()
}

#[test]
fn lifecycle_pays_node_fee_and_refund_exactly() {
    let mut chain = new_chain();
    let user_before = usd_of(&chain, USER);
    let node_before = usd_of(&chain, NODE);
    let treasury_before =
        bank::balance(chain.ledger.state(), &bank::treasury(), Denom::Usd).base_units();
    // Escrow: 2 tasks × 100 CU × 1,000 base units per CU = 200,000.
    assert_eq!(chain.at(10, USER, Message::SubmitJob(gpu_job(2))).code, 0);
    assert_eq!(
        bank::balance(chain.ledger.state(), &jobs::escrow_account(), Denom::Usd),
        usd(200_000)
    );

    for task in 0..2u32 {
        let assign = Message::AssignTask(AssignTask {
            job_id: 1,
            task,
            node: account(NODE),
        });
        let t = 20 + u64::from(task) * 100;
        assert_eq!(chain.at(t, SCHEDULER, assign).code, 0);
        assert_eq!(
            chain
                .at(
                    t + 10,
                    NODE,
                    Message::StartTask(StartTask { job_id: 1, task })
                )
                .code,
            0
        );
        // 40 CU at the node's 500 per CU = 20,000.
        let result = chain.result(NODE, 1, task, 40_000_000, &[task as u8]);
        assert_eq!(chain.at(t + 40, NODE, result).code, 0);
    }
    assert!(
        matches!(state_of(&chain, 1, 0), TaskState::Completed { cost_usd, .. } if cost_usd == usd(20_000))
    );
    // Nothing is paid before the verification window closes (600 s after the result).
    heartbeat(&mut chain, 659, NODE);
    assert!(matches!(
        state_of(&chain, 1, 0),
        TaskState::Completed { .. }
    ));
    heartbeat(&mut chain, 670, NODE);
    assert!(matches!(state_of(&chain, 1, 0), TaskState::Settled { .. }));
    assert!(matches!(
        state_of(&chain, 1, 1),
        TaskState::Completed { .. }
    ));
    heartbeat(&mut chain, 770, NODE);
    assert!(matches!(state_of(&chain, 1, 1), TaskState::Settled { .. }));

    // Per task: fee ⌈10% of 20,000⌉ = 2,000; node 18,000; refund 80,000.
    assert_eq!(
        bank::balance(chain.ledger.state(), &jobs::escrow_account(), Denom::Usd),
        Amount::ZERO
    );
    let tx_fees = |txs: u128| txs * 1_000;
    assert_eq!(
        usd_of(&chain, USER),
        user_before - 200_000 + 2 * 80_000 - tx_fees(1)
    );
    assert_eq!(usd_of(&chain, NODE), node_before + 2 * 18_000 - tx_fees(7));
    let settled: u128 = chain
        .events
        .iter()
        .filter_map(|event| match event {
            Event::TaskSettled {
                node_usd,
                fee_usd,
                refund_usd,
                ..
            } => Some(node_usd.base_units() + fee_usd.base_units() + refund_usd.base_units()),
            _ => None,
        })
        .sum();
    assert_eq!(settled, 200_000, "escrow in = payments + fees + refunds");
    let treasury_after =
        bank::balance(chain.ledger.state(), &bank::treasury(), Denom::Usd).base_units();
    assert_eq!(
        treasury_after - treasury_before,
        2 * 2_000 + tx_fees(1 + 2 + 7)
    );
}

#[test]
fn misfits_are_explained_and_only_schedulers_assign() {
    let mut chain = new_chain();
    assert_eq!(chain.at(10, USER, Message::SubmitJob(gpu_job(1))).code, 0);
    let by_user = chain.at(11, USER, assign(1, 0, NODE));
    assert_eq!(by_user.code, 10);
    let cpu = chain.at(12, SCHEDULER, assign(1, 0, CPU_NODE));
    assert_eq!(cpu.code, 25);
    assert!(cpu.error.contains("lacks the GPU model"), "{}", cpu.error);
    // Silent for more than three heartbeat intervals: offline.
    let offline = chain.at(500, SCHEDULER, assign(1, 0, NODE));
    assert!(offline.error.contains("offline"), "{}", offline.error);
    heartbeat(&mut chain, 501, NODE);
    assert_eq!(chain.at(502, SCHEDULER, assign(1, 0, NODE)).code, 0);
    // Only the assigned node starts it.
    assert_eq!(chain.at(503, CPU_NODE, start(1, 0)).code, 10);
}

#[test]
fn missed_deadlines_reassign_then_fail_and_refund() {
    let mut chain = new_chain();
    let user_before = usd_of(&chain, USER);
    assert_eq!(chain.at(10, USER, Message::SubmitJob(gpu_job(1))).code, 0);
    let mut t = 10;
    for attempt in 1..=3 {
        heartbeat(&mut chain, t + 1, NODE);
        assert_eq!(
            chain.at(t + 2, SCHEDULER, assign(1, 0, NODE)).code,
            0,
            "attempt {attempt}"
        );
        // The node never starts it: 120 s later the task returns (or fails on the third).
        t += 140;
        heartbeat(&mut chain, t, NODE);
    }
    assert!(matches!(state_of(&chain, 1, 0), TaskState::Failed { .. }));
    assert_eq!(
        usd_of(&chain, USER),
        user_before - 1_000,
        "only the submission fee is lost"
    );
    assert_eq!(
        bank::balance(chain.ledger.state(), &jobs::escrow_account(), Denom::Usd),
        Amount::ZERO
    );
}

#[test]
fn cancel_refunds_unstarted_tasks_and_overruns_fail() {
    let mut chain = new_chain();
    assert_eq!(chain.at(10, USER, Message::SubmitJob(gpu_job(3))).code, 0);
    assert_eq!(chain.at(11, SCHEDULER, assign(1, 0, NODE)).code, 0);
    assert_eq!(chain.at(12, NODE, start(1, 0)).code, 0);
    assert_eq!(
        chain
            .at(13, NODE, chain.result(NODE, 1, 0, 100_000_001, b"over"))
            .code,
        25,
        "over budget"
    );
    assert_eq!(
        chain
            .at(14, CPU_NODE, Message::CancelJob(CancelJob { job_id: 1 }))
            .code,
        10,
        "not the owner"
    );
    let user_before = usd_of(&chain, USER);
    assert_eq!(
        chain
            .at(15, USER, Message::CancelJob(CancelJob { job_id: 1 }))
            .code,
        0
    );
    assert_eq!(
        usd_of(&chain, USER),
        user_before + 2 * 100_000 - 1_000,
        "two unstarted tasks refunded"
    );
    assert!(matches!(state_of(&chain, 1, 1), TaskState::Cancelled));
    assert!(matches!(state_of(&chain, 1, 0), TaskState::Running { .. }));
    // The running task overruns its 300 s on a live node: failed and refunded.
    for t_s in [100, 190, 270, 330] {
        heartbeat(&mut chain, t_s, NODE);
    }
    assert!(
        matches!(state_of(&chain, 1, 0), TaskState::Failed { .. }),
        "{:?}",
        state_of(&chain, 1, 0)
    );
    assert_eq!(
        bank::balance(chain.ledger.state(), &jobs::escrow_account(), Denom::Usd),
        Amount::ZERO
    );
    // A node that gives up returns its task to pending.
    assert_eq!(chain.at(331, USER, Message::SubmitJob(gpu_job(1))).code, 0);
    assert_eq!(chain.at(332, SCHEDULER, assign(2, 0, NODE)).code, 0);
    assert_eq!(
        chain
            .at(
                333,
                NODE,
                Message::FailTask(FailTask {
                    job_id: 2,
                    task: 0,
                    reason: "driver reset".into()
                })
            )
            .code,
        0
    );
    assert!(matches!(state_of(&chain, 2, 0), TaskState::Pending));
}

#[test]
fn an_unplaceable_task_shows_why_then_fails_at_the_placement_timeout_and_is_refunded() {
    let mut chain = new_chain();
    let user_before = usd_of(&chain, USER);
    let mut job = gpu_job(1);
    job.requirements.gpu_model = Some("B200".into());
    assert_eq!(chain.at(10, USER, Message::SubmitJob(job)).code, 0);
    let report = |explanation: &str| {
        Message::ReportUnplaceable(vcity_types::compute::ReportUnplaceable {
            job_id: 1,
            task: 0,
            explanation: explanation.into(),
        })
    };
    // Only a registered scheduler may explain, and not with an empty text.
    assert_ne!(chain.at(20, USER, report("no")).code, 0);
    assert_ne!(chain.at(20, SCHEDULER, report("")).code, 0);
    let why = "2 nodes: lacks the GPU model 1, offline 1";
    assert_eq!(chain.at(20, SCHEDULER, report(why)).code, 0);
    let record = jobs::job(chain.ledger.state(), 1).expect("job");
    assert_eq!(record.tasks[0].unplaceable.as_deref(), Some(why));
    assert!(chain.events.iter().any(|event| matches!(
        event,
        Event::TaskUnplaceable { explanation, .. } if explanation == why
    )));
    // Still pending just before the timeout (1 h by default); failed and refunded after it.
    chain.block_at(10 + 3_590, vec![]);
    assert_eq!(state_of(&chain, 1, 0), TaskState::Pending);
    chain.block_at(10 + 3_620, vec![]);
    match state_of(&chain, 1, 0) {
        TaskState::Failed { reason } => assert!(reason.contains(why), "{reason}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    // Back to where it started but for two transaction fees (submit, the refused report).
    assert_eq!(usd_of(&chain, USER), user_before - 2_000);
    assert!(bank::balance(chain.ledger.state(), &jobs::escrow_account(), Denom::Usd).is_zero());
    // A failed task takes no more explanations.
    assert_ne!(chain.at(10 + 3_630, SCHEDULER, report(why)).code, 0);
}

#[test]
fn a_running_task_whose_node_goes_silent_is_returned_and_reassigned() {
    let mut chain = new_chain();
    heartbeat(&mut chain, 5, NODE);
    heartbeat(&mut chain, 5, CPU_NODE);
    assert_eq!(chain.at(10, USER, Message::SubmitJob(gpu_job(1))).code, 0);
    let assign = assign(1, 0, NODE);
    assert_eq!(chain.at(11, SCHEDULER, assign.clone()).code, 0);
    let start = start(1, 0);
    assert_eq!(chain.at(12, NODE, start.clone()).code, 0);
    // Silent for more than 3 heartbeat intervals (180 s): back to pending, attempt counted.
    chain.block_at(12 + 200, vec![]);
    assert_eq!(state_of(&chain, 1, 0), TaskState::Pending);
    assert!(chain.events.iter().any(|event| matches!(
        event,
        Event::TaskReturned { reason, .. } if reason.contains("offline")
    )));
    // The node comes back and is assigned again; it completes once and is paid once.
    heartbeat(&mut chain, 220, NODE);
    assert_eq!(chain.at(221, SCHEDULER, assign).code, 0);
    assert_eq!(chain.at(222, NODE, start).code, 0);
    // The first attempt's result, signed while it was current, answers nothing now.
    let output = crate::common::commitment(b"one", 1_000_000);
    let stale = crate::common::signed_result("vcity-jobs", NODE, 1, 0, 1, output.clone());
    let receipt = chain.at(223, NODE, stale);
    assert_eq!(receipt.code, 25, "{}", receipt.error);
    assert!(
        receipt
            .error
            .contains("answers attempt 1, but the task is at attempt 2"),
        "{}",
        receipt.error
    );
    // A statement its node did not sign never reaches a block: the transaction carrying it is
    // refused with its own signature, before execution.
    let mut forged = crate::common::signed_result("vcity-jobs", NODE, 1, 0, 2, output);
    if let Message::SubmitResult(result) = &mut forged {
        result.signature = result
            .statement("vcity-jobs")
            .sign(&crate::common::key(USER))
            .signature;
    }
    let body = vcity_types::tx::TxBody {
        chain_id: "vcity-jobs".into(),
        sender: account(NODE),
        nonce: 0,
        fee: Amount::new(1_000),
        messages: vec![forged],
    };
    let refused = chain
        .ledger
        .prepare(body.sign(&crate::common::key(NODE)).to_bytes());
    assert!(
        matches!(&refused, Err(vcity_ledger::TxError::BadSignature(reason)) if reason.contains("result statement")),
        "{refused:?}"
    );
    let result = chain.result(NODE, 1, 0, 1_000_000, b"one");
    assert_eq!(chain.at(223, NODE, result).code, 0);
    let record = jobs::job(chain.ledger.state(), 1).expect("job");
    assert_eq!(record.tasks[0].attempts, 2);
    assert!(matches!(record.tasks[0].state, TaskState::Completed { .. }));
    // The node's service record: one task lost, then, once paid, one completed.
    let service = |chain: &Harness| {
        let node = vcity_ledger::nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
        (node.tasks_completed, node.tasks_lost)
    };
    assert_eq!(service(&chain), (0, 1));
    heartbeat(&mut chain, 300, NODE);
    heartbeat(&mut chain, 400, NODE);
    heartbeat(&mut chain, 500, NODE);
    heartbeat(&mut chain, 600, NODE);
    heartbeat(&mut chain, 700, NODE);
    heartbeat(&mut chain, 830, NODE);
    assert!(matches!(state_of(&chain, 1, 0), TaskState::Settled { .. }));
    assert_eq!(service(&chain), (1, 1));
}

#[test]
fn explain_counts_each_node_under_its_first_misfit() {
    let chain = new_chain();
    let state = chain.ledger.state();
    let nodes: Vec<_> = [NODE, CPU_NODE, SCHEDULER]
        .into_iter()
        .filter_map(|seed| vcity_ledger::nodes::node(state, &account(seed)))
        .collect();
    let params = vcity_ledger::nodes::params(state);
    let mut requirements = gpu_job(1).requirements;
    requirements.gpu_model = Some("B200".into());
    // At genesis time both compute nodes are online (registration counts as a heartbeat).
    let text = jobs::explain(&params, &nodes, &requirements, usd(1_000), 0).expect("misfit");
    let short = |id: u8| account(id).to_string()[..8].to_string();
    assert_eq!(
        text,
        format!(
            "no compute node fits (2 considered): 2 lacks the GPU model (needs 1× B200); \
             closest: {}… (lacks the GPU model: {}), {}… (lacks the GPU model: {})",
            // Near-misses come in id order; the GPU node has an H100, the CPU node none.
            short(NODE.min(CPU_NODE)),
            if account(NODE) < account(CPU_NODE) {
                "has H100"
            } else {
                "no GPU"
            },
            short(NODE.max(CPU_NODE)),
            if account(NODE) < account(CPU_NODE) {
                "no GPU"
            } else {
                "has H100"
            },
        )
    );
    let text = jobs::explain(&params, &nodes, &requirements, usd(1_000), 10_000).expect("misfit");
    assert!(
        text.starts_with("no compute node fits (2 considered): 2 offline; closest: "),
        "{text}"
    );
    // The structured form: counts add up; each node misses by one rule, the GPU node on memory.
    requirements.gpu_model = Some("H100".into());
    requirements.min_vram_mib = 1_000_000;
    let found = jobs::explanation(&params, &nodes, &requirements, usd(1_000), 0).expect("misfit");
    assert_eq!(found.considered, 2);
    assert_eq!(found.excluded.values().sum::<u32>(), 2);
    let gpu_node = found
        .near_misses
        .iter()
        .find(|miss| miss.node == account(NODE))
        .expect("a near miss");
    assert_eq!(gpu_node.misfits, vec![jobs::Misfit::TooLittleVram]);
    assert_eq!(gpu_node.detail, "81920 MiB");
    requirements.min_vram_mib = 0;
    requirements.gpu_model = None;
    requirements.gpu_count = 0;
    assert_eq!(
        jobs::explain(&params, &nodes, &requirements, usd(1_000), 0),
        None
    );
    assert_eq!(
        jobs::explain(&params, &[], &requirements, usd(1_000), 0).as_deref(),
        Some("no compute node is registered")
    );
}

#[test]
fn a_subscription_prepays_jobs_takes_back_their_refunds_and_returns_the_rest_at_its_end() {
    use vcity_types::compute::Subscribe;
    let mut chain = new_chain();
    heartbeat(&mut chain, 1, NODE);
    let user_start = usd_of(&chain, USER);
    // 10 CU at up to 1,000 base units per CU, for 1,000 s.
    let subscribe = Message::Subscribe(Subscribe {
        cu_ppm: 10_000_000,
        price_per_cu_usd: usd(1_000),
        term_s: 1_000,
    });
    assert_eq!(chain.at(2, USER, subscribe).code, 0);
    let fee = 1_000;
    assert_eq!(usd_of(&chain, USER), user_start - 10_000 - fee);
    let subscription =
        |chain: &Harness| jobs::subscription(chain.ledger.state(), 1).expect("subscription");
    assert_eq!(subscription(&chain).available_usd, usd(10_000));
    let billed = |tasks: u32, max_cu_ppm: u64, max_price: u128| {
        let mut job = gpu_job(tasks);
        job.max_cu_ppm_per_task = max_cu_ppm;
        job.max_price_per_cu_usd = usd(max_price);
        job.billing = Billing::Subscription { subscription_id: 1 };
        Message::SubmitJob(job)
    };
    // Two tasks of up to 2 CU: 4,000 drawn from the subscription, nothing from the balance.
    let before = usd_of(&chain, USER);
    assert_eq!(chain.at(3, USER, billed(2, 2_000_000, 1_000)).code, 0);
    assert_eq!(usd_of(&chain, USER), before - fee);
    assert_eq!(subscription(&chain).available_usd, usd(6_000));
    // Refused: more than is left, a higher price than prepaid, someone else's subscription.
    assert_ne!(chain.at(4, USER, billed(4, 2_000_000, 1_000)).code, 0);
    assert_ne!(chain.at(4, USER, billed(1, 1_000_000, 2_000)).code, 0);
    assert_ne!(chain.at(4, CPU_NODE, billed(1, 1_000_000, 1_000)).code, 0);
    assert_eq!(subscription(&chain).available_usd, usd(6_000));
    // Task 0 runs on the GPU node (500 per CU) and uses 1 CU: 500 paid, 1,500 back to the
    // subscription at settlement; task 1 is cancelled: its 2,000 go back too.
    let assign = AssignTask {
        job_id: 1,
        task: 0,
        node: account(NODE),
    };
    assert_eq!(chain.at(5, SCHEDULER, Message::AssignTask(assign)).code, 0);
    assert_eq!(chain.at(6, NODE, start(1, 0)).code, 0);
    let result = chain.result(NODE, 1, 0, 1_000_000, b"three");
    assert_eq!(chain.at(7, NODE, result).code, 0);
    assert_eq!(
        chain
            .at(8, USER, Message::CancelJob(CancelJob { job_id: 1 }))
            .code,
        0
    );
    assert_eq!(subscription(&chain).available_usd, usd(8_000));
    heartbeat(&mut chain, 100, NODE);
    chain.block_at(7 + 600 + 1, vec![]);
    assert!(matches!(state_of(&chain, 1, 0), TaskState::Settled { .. }));
    assert_eq!(subscription(&chain).available_usd, usd(9_500));
    assert_eq!(subscription(&chain).cu_used_ppm, 1_000_000);
    // At the end of the term the rest comes back; the subscription takes no more jobs.
    let before = usd_of(&chain, USER);
    // (Reminders fire by 10 s bucket: at the first block of the bucket after the end.)
    chain.block_at(2 + 1_000 + 10, vec![]);
    let closed = subscription(&chain);
    assert!(closed.closed);
    assert!(closed.available_usd.is_zero());
    assert_eq!(usd_of(&chain, USER), before + 9_500);
    assert_ne!(chain.at(1_020, USER, billed(1, 1_000_000, 1_000)).code, 0);
    // Over the whole life the user paid the one CU used and six fees (subscribe, submit, two
    // refused jobs, cancel, the job after the end), nothing else.
    assert_eq!(
        bank::balance(chain.ledger.state(), &jobs::escrow_account(), Denom::Usd),
        Amount::ZERO
    );
    assert_eq!(usd_of(&chain, USER), user_start - 500 - 6 * fee);
}

#[test]
fn a_gang_is_assigned_whole_or_not_at_all() {
    let mut chain = new_chain();
    let mut gang = gpu_job(2);
    gang.requirements.gang = true;
    assert_eq!(chain.at(10, USER, Message::SubmitJob(gang)).code, 0);
    // One task alone: refused, and nothing changes.
    let alone = chain.at(20, SCHEDULER, assign(1, 0, NODE));
    assert_ne!(alone.code, 0);
    assert!(alone.error.contains("is a gang"), "{}", alone.error);
    assert_eq!(state_of(&chain, 1, 0), TaskState::Pending);
    // Both in one transaction: accepted.
    let both = chain.at_all(30, SCHEDULER, vec![assign(1, 0, NODE), assign(1, 1, NODE)]);
    assert_eq!(both.code, 0, "{}", both.error);
    assert!(matches!(state_of(&chain, 1, 1), TaskState::Assigned { .. }));
    // Task 1's node misses its start deadline: it alone is pending again, and is placed alone.
    assert_eq!(chain.at(40, NODE, start(1, 0)).code, 0);
    heartbeat(&mut chain, 100, NODE);
    heartbeat(&mut chain, 200, NODE);
    assert_eq!(state_of(&chain, 1, 1), TaskState::Pending);
    assert!(matches!(state_of(&chain, 1, 0), TaskState::Running { .. }));
    assert_eq!(chain.at(210, SCHEDULER, assign(1, 1, NODE)).code, 0);
}

/// A process job: a native program, 1 GiB, no network, no verification.
fn process_job(memory_mib: u32, network: bool) -> SubmitJob {
    let mut job = gpu_job(1);
    job.workload.executor = ExecutorKind::Process {
        name: "trainer".into(),
        args: vec!["--threads".into(), "2".into()],
        env: vec![("MODE".into(), "fast".into())],
    };
    job.requirements = Requirements {
        max_duration_s: 60,
        sandbox: Some(SandboxNeeds {
            memory_mib,
            network,
        }),
        ..Requirements::default()
    };
    job
}

fn cpu_node_with(sandbox: Option<SandboxSupport>) -> Message {
    Message::UpdateNode(UpdateNode {
        price_per_cu_usd: None,
        endpoint: None,
        hardware: Some(Hardware {
            gpus: vec![],
            cpu_cores: 8,
            ram_mib: 16_384,
            sandbox,
        }),
    })
}

#[test]
fn process_jobs_go_only_to_sandboxes_that_enforce_limits_and_are_never_sampled() {
    let mut chain = new_chain();
    let refused = |chain: &mut Harness, t_s: u64, job: SubmitJob, why: &str| {
        let receipt = chain.at(t_s, USER, Message::SubmitJob(job));
        assert_eq!(receipt.code, 25, "{}", receipt.error);
        assert!(receipt.error.contains(why), "{}", receipt.error);
    };
    // The shape of the job.
    let mut wants_checks = process_job(1_024, false);
    wants_checks.verification = vcity_types::trust::VerificationLevel::Standard;
    refused(&mut chain, 1, wants_checks, "not re-executable");
    let mut no_needs = process_job(1_024, false);
    no_needs.requirements.sandbox = None;
    refused(&mut chain, 2, no_needs, "needs sandbox requirements");
    let mut wasm_with_needs = gpu_job(1);
    wasm_with_needs.requirements.sandbox = Some(SandboxNeeds {
        memory_mib: 64,
        network: false,
    });
    refused(&mut chain, 3, wasm_with_needs, "for process jobs");
    refused(&mut chain, 4, process_job(8, false), "16 to");
    let mut path = process_job(1_024, false);
    path.workload.executor = ExecutorKind::Process {
        name: "trainer".into(),
        args: vec![],
        env: vec![("PATH".into(), "/usr/bin".into())],
    };
    refused(&mut chain, 5, path, "not PATH");
    let mut many = process_job(1_024, false);
    many.workload.executor = ExecutorKind::Process {
        name: "trainer".into(),
        args: vec!["x".into(); 65],
        env: vec![],
    };
    refused(&mut chain, 6, many, "at most 64");
    let mut dotted = process_job(1_024, false);
    dotted.workload.executor = ExecutorKind::Process {
        name: "../bin".into(),
        args: vec![],
        env: vec![],
    };
    refused(&mut chain, 7, dotted, "a program's name");
    // Image jobs: named by digest, uploaded or pulled from a reference.
    let image = |digest: &str, reference: Option<&str>, uploaded: bool| {
        let mut job = process_job(1_024, false);
        job.workload.executor = ExecutorKind::Oci {
            image: digest.into(),
            reference: reference.map(str::to_string),
            entrypoint: None,
            cmd: Some(vec!["--frames".into(), "4".into()]),
            env: vec![],
            workdir: None,
        };
        job.workload.module_hash = if uploaded { Hash([9; 32]) } else { Hash::ZERO };
        job
    };
    let digest = format!("sha256:{}", "ab".repeat(32));
    refused(
        &mut chain,
        8,
        image("sha256:AB", None, true),
        "manifest digest",
    );
    refused(
        &mut chain,
        8,
        image(&digest.to_uppercase(), None, true),
        "manifest digest",
    );
    refused(
        &mut chain,
        8,
        image(&digest, None, false),
        "uploads the image or names",
    );
    refused(
        &mut chain,
        8,
        image(&digest, Some("a b"), false),
        "printable",
    );
    let mut relative = image(&digest, None, true);
    if let ExecutorKind::Oci { workdir, .. } = &mut relative.workload.executor {
        *workdir = Some("data".into());
    }
    refused(&mut chain, 8, relative, "absolute path");
    let mut checked = image(&digest, None, true);
    checked.verification = vcity_types::trust::VerificationLevel::Full;
    refused(&mut chain, 8, checked, "not re-executable");
    for (t_s, job) in [
        (8, image(&digest, None, true)),
        (
            8,
            image(&digest, Some("127.0.0.1:5000/vcity/render:1"), false),
        ),
    ] {
        let receipt = chain.at(t_s, USER, Message::SubmitJob(job));
        assert_eq!(receipt.code, 0, "{}", receipt.error);
    }

    // Placement: the CPU node first offers no sandbox, then one without limits, then one with.
    assert_eq!(
        chain
            .at(10, USER, Message::SubmitJob(process_job(1_024, false)))
            .code,
        0
    );
    let job = 3;
    let no_sandbox = chain.at(11, SCHEDULER, assign(job, 0, CPU_NODE));
    assert!(
        no_sandbox.error.contains("no sandbox that enforces limits"),
        "{}",
        no_sandbox.error
    );
    let unlimited = Some(SandboxSupport {
        limits: CgroupVersion::None,
        network_egress: true,
    });
    assert_eq!(chain.at(12, CPU_NODE, cpu_node_with(unlimited)).code, 0);
    let still = chain.at(13, SCHEDULER, assign(job, 0, CPU_NODE));
    assert!(still.error.contains("no sandbox"), "{}", still.error);
    let limited = Some(SandboxSupport {
        limits: CgroupVersion::V1,
        network_egress: false,
    });
    assert_eq!(chain.at(14, CPU_NODE, cpu_node_with(limited)).code, 0);
    heartbeat(&mut chain, 15, CPU_NODE);
    assert_eq!(chain.at(16, SCHEDULER, assign(job, 0, CPU_NODE)).code, 0);
    let record = jobs::job(chain.ledger.state(), job).expect("job");
    assert_eq!(
        record.tasks[0].sampling_ppm, 0,
        "a native run is never sampled"
    );

    // Memory and network are hard constraints too.
    assert_eq!(
        chain
            .at(20, USER, Message::SubmitJob(process_job(32_768, false)))
            .code,
        0
    );
    let big = chain.at(21, SCHEDULER, assign(4, 0, CPU_NODE));
    assert!(big.error.contains("too little memory"), "{}", big.error);
    assert_eq!(
        chain
            .at(22, USER, Message::SubmitJob(process_job(1_024, true)))
            .code,
        0
    );
    let online = chain.at(23, SCHEDULER, assign(5, 0, CPU_NODE));
    assert!(
        online.error.contains("no network egress"),
        "{}",
        online.error
    );
    // The explanation names what the memory-hungry task needs.
    let state = chain.ledger.state();
    let nodes: Vec<_> = [NODE, CPU_NODE]
        .into_iter()
        .filter_map(|seed| vcity_ledger::nodes::node(state, &account(seed)))
        .collect();
    let params = vcity_ledger::nodes::params(state);
    let text = jobs::explain(
        &params,
        &nodes,
        &process_job(32_768, false).requirements,
        usd(1_000),
        23,
    )
    .expect("misfit");
    assert!(
        text.contains("too little memory (needs 32768 MiB)"),
        "{text}"
    );
    assert!(text.contains("no sandbox that enforces limits"), "{text}");
    // Only compute nodes offer one.
    let mut scheduler_update = cpu_node_with(limited);
    if let Message::UpdateNode(update) = &mut scheduler_update {
        update.hardware.as_mut().expect("hardware").cpu_cores = 0;
    }
    assert_ne!(chain.at(24, SCHEDULER, scheduler_update).code, 0);
}

#[test]
fn a_sharded_job_has_one_bounded_shard_per_task_and_no_inline_input() {
    use vcity_types::compute::{content_address, Shard, MAX_SHARD_BYTES};
    let mut chain = new_chain();
    let shard = |text: &[u8], url: Option<&str>| Shard {
        address: content_address(text),
        bytes: text.len() as u64,
        url: url.map(str::to_string),
    };
    let sharded = |shards: Vec<Shard>| {
        let mut job = gpu_job(2);
        job.workload.input.clear();
        job.workload.shards = shards;
        job
    };
    let refused = |chain: &mut Harness, job: SubmitJob, why: &str| {
        let before = bank::balance(chain.ledger.state(), &account(USER), Denom::Usd);
        let receipt = chain.at(5, USER, Message::SubmitJob(job));
        assert_eq!(receipt.code, 25, "{}", receipt.error);
        assert!(receipt.error.contains(why), "{}", receipt.error);
        // Refused whole: only the fee left the account.
        let after = bank::balance(chain.ledger.state(), &account(USER), Denom::Usd);
        assert!(before.base_units() - after.base_units() <= 1_000);
    };
    refused(
        &mut chain,
        sharded(vec![shard(b"a", None)]),
        "one shard per task",
    );
    let mut with_input = sharded(vec![shard(b"a", None), shard(b"b", None)]);
    with_input.workload.input = b"also".to_vec();
    refused(&mut chain, with_input, "inline input is empty");
    let mut huge = shard(b"a", Some("https://example.org/a"));
    huge.bytes = MAX_SHARD_BYTES + 1;
    refused(
        &mut chain,
        sharded(vec![huge, shard(b"b", None)]),
        "at most",
    );
    for url in [
        "ftp://example.org/a",
        "https:///a",
        "https://exa mple.org/a",
    ] {
        refused(
            &mut chain,
            sharded(vec![shard(b"a", Some(url)), shard(b"b", None)]),
            "http:// or https://",
        );
    }
    let good = sharded(vec![
        shard(b"a", None),
        shard(b"b", Some("https://example.org/b")),
    ]);
    let receipt = chain.at(6, USER, Message::SubmitJob(good.clone()));
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    let id = jobs::count(chain.ledger.state());
    let job = jobs::job(chain.ledger.state(), id).expect("the job");
    assert_eq!(job.workload.shards, good.workload.shards);
    assert_eq!(job.tasks.len(), 2);
}

/// A one-task service on the CPU node: 1 CU of budget (100 s of one core), 60 s of term.
fn service_job() -> SubmitJob {
    let mut job = process_job(1_024, false);
    job.workload.service = Some(vcity_types::compute::ServiceSpec {
        port: 8080,
        health_path: "/health".into(),
    });
    job.max_cu_ppm_per_task = 1_000_000;
    job
}

#[test]
fn a_service_is_billed_for_the_time_it_ran_when_cancelled_ended_or_crashed() {
    use vcity_types::compute::{ResultCommitment, TaskExit};
    let mut chain = new_chain();
    let limited = Some(SandboxSupport {
        limits: CgroupVersion::V2,
        network_egress: false,
    });
    assert_eq!(chain.at(1, CPU_NODE, cpu_node_with(limited)).code, 0);
    heartbeat(&mut chain, 2, CPU_NODE);

    // The rules: process or image jobs, one task, billed per CU, a real port and health path.
    let refused = |chain: &mut Harness, job: SubmitJob, why: &str| {
        let receipt = chain.at(3, USER, Message::SubmitJob(job));
        assert_eq!(receipt.code, 25, "{}", receipt.error);
        assert!(receipt.error.contains(why), "{}", receipt.error);
    };
    let mut wasm = gpu_job(1);
    wasm.workload.service = service_job().workload.service;
    refused(&mut chain, wasm, "process or image");
    let mut two = service_job();
    two.tasks = 2;
    refused(&mut chain, two, "one task");
    let mut fixed = service_job();
    fixed.billing = Billing::FixedPerTask { price_usd: usd(5) };
    refused(&mut chain, fixed, "not a fixed price");
    // An output directory is for process and image batch jobs.
    let mut packed_service = service_job();
    packed_service.workload.output_dir = true;
    refused(&mut chain, packed_service, "output directory");
    let mut packed_wasm = gpu_job(1);
    packed_wasm.workload.output_dir = true;
    refused(&mut chain, packed_wasm, "output directory");
    for (port, path) in [(0, "/"), (80, "health"), (80, "/he alth")] {
        let mut bad = service_job();
        bad.workload.service = Some(vcity_types::compute::ServiceSpec {
            port,
            health_path: path.into(),
        });
        refused(
            &mut chain,
            bad,
            if port == 0 { "port" } else { "health path" },
        );
    }

    // 1. Cancelled 30 s after it started: 30 s × 0.01 CU/s = 0.3 CU at the node's 100 base
    // units per CU = 30 base units, the network fee's 10% rounded up, the rest refunded now.
    let user_before = usd_of(&chain, USER);
    let node_before = usd_of(&chain, CPU_NODE);
    assert_eq!(
        chain.at(10, USER, Message::SubmitJob(service_job())).code,
        0
    );
    let first = jobs::count(chain.ledger.state());
    assert_eq!(chain.at(11, SCHEDULER, assign(first, 0, CPU_NODE)).code, 0);
    assert_eq!(chain.at(12, CPU_NODE, start(first, 0)).code, 0);
    let cancel = Message::CancelJob(CancelJob { job_id: first });
    assert_eq!(chain.at(42, USER, cancel).code, 0);
    match state_of(&chain, first, 0) {
        TaskState::Settled { cost_usd, .. } => assert_eq!(cost_usd, usd(30)),
        other => panic!("{other:?}"),
    }
    // The user paid the cost and two fees (submit, cancel); the node got the cost less the
    // network fee, and paid its start's fee.
    assert_eq!(user_before - usd_of(&chain, USER), 30 + 2 * 1_000);
    assert_eq!(node_before + (30 - 3), usd_of(&chain, CPU_NODE) + 1_000);

    // 2. Left alone: it ends with its term (60 s, shorter than its budget's 100 s), billed 60 s.
    assert_eq!(
        chain.at(50, USER, Message::SubmitJob(service_job())).code,
        0
    );
    let second = jobs::count(chain.ledger.state());
    assert_eq!(chain.at(51, SCHEDULER, assign(second, 0, CPU_NODE)).code, 0);
    assert_eq!(chain.at(52, CPU_NODE, start(second, 0)).code, 0);
    heartbeat(&mut chain, 100, CPU_NODE);
    assert!(matches!(
        state_of(&chain, second, 0),
        TaskState::Running { .. }
    ));
    heartbeat(&mut chain, 125, CPU_NODE);
    match state_of(&chain, second, 0) {
        TaskState::Settled { cost_usd, .. } => assert_eq!(cost_usd, usd(60)),
        other => panic!("{other:?}"),
    }

    // 3. Crashed: the node reports its exit, billing at most the time it has held the core.
    assert_eq!(
        chain.at(130, USER, Message::SubmitJob(service_job())).code,
        0
    );
    let third = jobs::count(chain.ledger.state());
    assert_eq!(chain.at(131, SCHEDULER, assign(third, 0, CPU_NODE)).code, 0);
    assert_eq!(chain.at(132, CPU_NODE, start(third, 0)).code, 0);
    let crashed = |cu_used_ppm| ResultCommitment {
        exit: TaskExit::ExitCode { code: 3 },
        output: vcity_types::compute::content_address(&[]),
        output_bytes: 0,
        cu_used_ppm,
    };
    let attempt = jobs::job(chain.ledger.state(), third).expect("job").tasks[0].attempts;
    let chain_id = "vcity-jobs";
    // 10 s held is 100,000 ppm: 100,001 is more than it held.
    let greedy =
        crate::common::signed_result(chain_id, CPU_NODE, third, 0, attempt, crashed(100_001));
    let receipt = chain.at(142, CPU_NODE, greedy);
    assert_eq!(receipt.code, 25, "{}", receipt.error);
    assert!(
        receipt.error.contains("more than the service held"),
        "{}",
        receipt.error
    );
    let honest =
        crate::common::signed_result(chain_id, CPU_NODE, third, 0, attempt, crashed(100_000));
    assert_eq!(chain.at(142, CPU_NODE, honest).code, 0);
    assert!(matches!(
        state_of(&chain, third, 0),
        TaskState::Completed {
            cu_used_ppm: 100_000,
            ..
        }
    ));

    // 4. Its node dies (no heartbeats past the offline threshold): the service goes back to
    // pending for another node, and the dead node's time is not billed.
    let mut long = service_job();
    long.requirements.max_duration_s = 100_000;
    long.max_cu_ppm_per_task = 100_000_000;
    assert_eq!(chain.at(150, USER, Message::SubmitJob(long)).code, 0);
    let fourth = jobs::count(chain.ledger.state());
    assert_eq!(
        chain.at(151, SCHEDULER, assign(fourth, 0, CPU_NODE)).code,
        0
    );
    assert_eq!(chain.at(152, CPU_NODE, start(fourth, 0)).code, 0);
    let params = vcity_ledger::nodes::params(chain.ledger.state());
    let silent_until =
        152 + params.heartbeat_interval_s * (params.offline_after_intervals + 1) + 30;
    heartbeat(&mut chain, silent_until, NODE);
    let record = jobs::job(chain.ledger.state(), fourth).expect("job");
    assert_eq!(record.tasks[0].state, TaskState::Pending, "{record:?}");
    assert_eq!(
        record.tasks[0].escrow_usd,
        usd(100 * 1_000),
        "nothing billed"
    );
}

#[test]
fn a_job_sets_how_often_a_lost_task_is_placed_again() {
    let mut chain = new_chain();
    let mut greedy = gpu_job(1);
    greedy.retries = Some(vcity_types::compute::MAX_RETRIES + 1);
    let receipt = chain.at(5, USER, Message::SubmitJob(greedy));
    assert_eq!(receipt.code, 25, "{}", receipt.error);
    assert!(
        receipt.error.contains("at most 10 times"),
        "{}",
        receipt.error
    );
    // No retries: the first missed start fails the task and refunds it.
    let mut once = gpu_job(1);
    once.retries = Some(0);
    assert_eq!(chain.at(10, USER, Message::SubmitJob(once)).code, 0);
    let id = jobs::count(chain.ledger.state());
    assert_eq!(chain.at(11, SCHEDULER, assign(id, 0, NODE)).code, 0);
    heartbeat(&mut chain, 200, NODE);
    match state_of(&chain, id, 0) {
        TaskState::Failed { reason } => assert!(reason.contains("after 1 attempts"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // Where it was last is kept, for its log.
    let record = jobs::job(chain.ledger.state(), id).expect("job");
    assert_eq!(record.tasks[0].last_node, Some(account(NODE)));
    // The network's default (3 attempts) leaves it pending after the same miss.
    assert_eq!(chain.at(210, USER, Message::SubmitJob(gpu_job(1))).code, 0);
    let id = jobs::count(chain.ledger.state());
    assert_eq!(chain.at(211, SCHEDULER, assign(id, 0, NODE)).code, 0);
    heartbeat(&mut chain, 400, NODE);
    assert_eq!(state_of(&chain, id, 0), TaskState::Pending);
}
