//! TEE attestation through blocks (docs/attestation.md): recorded vendor evidence reaches its
//! tier on a test network that accepts unbound samples and is refused on one that does not;
//! nonces, tampering and the per-block bound; jobs that require a tier go only to nodes whose
//! tier stands; governance changes the policy.

use crate::common::{account, funded, vcai, Harness};
use vcity_attest::{pem_chain_to_der, CpuEvidence, Evidence, GpuEvidence};
use vcity_ledger::attestation::{self, AttestationParams};
use vcity_ledger::{jobs, nodes, Overlay};
use vcity_types::attestation::{AttestationPolicy, AttestationRules};
use vcity_types::compute::{
    AssignTask, AttestNode, Billing, Confidential, EncryptionKey, ExecutorKind, GrantTaskKey,
    NodeHeartbeat, Requirements, StartTask, SubmitJob, TaskState, TeeTier, Workload,
    SEALED_KEY_BYTES,
};
use vcity_types::event::Event;
use vcity_types::governance::{Action, ParamChange};
use vcity_types::trust::{ChallengeResult, VerificationLevel};
use vcity_types::tx::Message;
use vcity_types::{Amount, Hash};

const USER: u8 = 1;
const NODE: u8 = 2;
const SCHEDULER: u8 = 3;
const PLAIN: u8 = 4;

/// 2025-06-30T00:00:00Z: inside the recorded Intel collateral's window (issued 2025-06-19,
/// next updated 2025-07-19), so the chain's own block times verify the samples.
const GENESIS_2025_MS: u64 = 1_751_241_600_000;
/// The TDX sample's collateral expires 2025-07-19T10:00:35Z (the PCK CRL's next update).
const COLLATERAL_EXPIRES_S: u64 = 1_752_919_235 - GENESIS_2025_MS / 1_000;

const TDX_MRTD: &str = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7";

// The recorded vendor samples of crates/attest/tests/data (the ledger's tests do no I/O).
const TDX_QUOTE: &[u8] = include_bytes!("../../../attest/tests/data/intel/tdx_quote");
const TDX_COLLATERAL: &[u8] =
    include_bytes!("../../../attest/tests/data/intel/tdx_quote_collateral.json");
const HOPPER_REPORT: &str =
    include_str!("../../../attest/tests/data/nvidia/hopperAttestationReport.txt");
const HOPPER_CHAIN: &str = include_str!("../../../attest/tests/data/nvidia/hopperCertChain.txt");

fn tdx() -> CpuEvidence {
    CpuEvidence::IntelDcap {
        quote: TDX_QUOTE.to_vec(),
        collateral_json: TDX_COLLATERAL.to_vec(),
    }
}

fn hopper() -> GpuEvidence {
    let (report, chain) = (HOPPER_REPORT, HOPPER_CHAIN);
    GpuEvidence {
        report: hex::decode(report.trim()).expect("hex"),
        cert_chain_der: pem_chain_to_der(chain).expect("chain"),
    }
}

fn encoded(evidence: &Evidence) -> Vec<u8> {
    borsh::to_vec(evidence).expect("encodes")
}

/// The TDX sample alone, encoded.
fn tdx_only() -> Vec<u8> {
    encoded(&Evidence {
        cpu: tdx(),
        gpus: vec![],
    })
}

fn policy() -> AttestationPolicy {
    AttestationPolicy {
        intel_tcb_statuses: vec!["UpToDate".into()],
        tdx_mrtd: vec![TDX_MRTD.into()],
        gpu_driver_versions: vec!["550.90.07".into()],
        gpu_vbios_versions: vec!["96.00.9f.00.01".into()],
        ..Default::default()
    }
}

/// A compute node to attest, one that never does, and a scheduler, registered at genesis.
fn chain_with(accept_unbound_samples: bool, rules: AttestationRules) -> Harness {
    let accounts = [USER, NODE, SCHEDULER, PLAIN]
        .into_iter()
        .map(|seed| funded(seed, vcai(100_000), crate::common::usd(1_000)))
        .collect();
    let mut genesis = crate::common::genesis("vcity-attest", accounts);
    genesis.genesis_time_ms = GENESIS_2025_MS;
    genesis.attestation = Some(AttestationParams {
        rules,
        accept_unbound_samples,
    });
    crate::common::governed(&mut genesis);
    let mut chain = Harness::new(&genesis);
    for seed in [NODE, PLAIN] {
        let node = crate::common::cpu_node("eu-west", Amount::new(100), vcai(1_000));
        assert_eq!(chain.at(0, seed, Message::RegisterNode(node)).code, 0);
    }
    let scheduler = crate::common::scheduler_node();
    assert_eq!(
        chain
            .at(0, SCHEDULER, Message::RegisterNode(scheduler))
            .code,
        0
    );
    chain
}

fn test_chain() -> Harness {
    chain_with(
        true,
        AttestationRules {
            policy: policy(),
            ..Default::default()
        },
    )
}

/// The encryption key the attested node presents.
const NODE_ENCRYPTION_KEY: EncryptionKey = EncryptionKey([0x42; 32]);

fn attest(evidence: Vec<u8>, nonce: Hash) -> Message {
    Message::AttestNode(AttestNode {
        evidence,
        nonce,
        encryption_key: NODE_ENCRYPTION_KEY,
    })
}

fn current_nonce(chain: &Harness) -> Hash {
    attestation::nonces(chain.ledger.state()).current
}

fn tier(chain: &Harness, seed: u8, now_s: u64) -> TeeTier {
    nodes::node(chain.ledger.state(), &account(seed))
        .expect("node")
        .tee
        .tier_at(now_s)
}

#[test]
fn a_recorded_tdx_sample_reaches_the_cpu_tier_on_a_test_network() {
    let mut chain = test_chain();
    let evidence = Evidence {
        cpu: tdx(),
        gpus: vec![],
    };
    let receipt = chain.at(60, NODE, attest(encoded(&evidence), current_nonce(&chain)));
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    let record = nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
    assert_eq!(record.tee.tier, TeeTier::Cpu);
    assert_eq!(record.tee.cpu, "intel_tdx");
    assert_eq!(record.tee.evidence_hash, Hash(evidence.hash()));
    assert_eq!(record.tee.attested_s, 60);
    // The verdict stands for the 7-day validity: the collateral lasts 19 days more.
    assert_eq!(record.tee.expires_s, 60 + 7 * 24 * 3600);
    assert!(COLLATERAL_EXPIRES_S > record.tee.expires_s);
    assert!(
        !record.tee.bound,
        "a recorded sample is not bound to this node"
    );
    assert!(chain.events.iter().any(|event| matches!(
        event,
        Event::NodeAttested { node, tier: TeeTier::Cpu, bound: false, .. } if *node == account(NODE)
    )));
    assert_eq!(tier(&chain, PLAIN, 60), TeeTier::None);
}

#[test]
fn a_gpu_report_lifts_the_node_to_cpu_and_gpu_and_collateral_expiry_cuts_the_verdict_short() {
    let mut chain = chain_with(
        true,
        AttestationRules {
            policy: policy(),
            validity_s: 30 * 24 * 3600,
            ..Default::default()
        },
    );
    let evidence = Evidence {
        cpu: tdx(),
        gpus: vec![hopper()],
    };
    let receipt = chain.at(60, NODE, attest(encoded(&evidence), current_nonce(&chain)));
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    let record = nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
    assert_eq!(record.tee.tier, TeeTier::CpuGpu);
    // 30 days of validity, but Intel's collateral is next updated sooner.
    assert_eq!(record.tee.expires_s, COLLATERAL_EXPIRES_S);
}

#[test]
fn unbound_evidence_is_refused_where_the_genesis_does_not_accept_samples() {
    let mut chain = chain_with(
        false,
        AttestationRules {
            policy: policy(),
            ..Default::default()
        },
    );
    let evidence = tdx_only();
    let receipt = chain.at(60, NODE, attest(evidence, current_nonce(&chain)));
    assert_eq!(receipt.code, 39);
    assert!(receipt.error.contains("not bound"), "{}", receipt.error);
    assert_eq!(tier(&chain, NODE, 60), TeeTier::None);
}

#[test]
fn stale_nonces_tampered_evidence_and_other_roles_are_refused() {
    let mut chain = test_chain();
    let evidence = tdx_only();
    let first = current_nonce(&chain);
    let wrong = chain.at(10, NODE, attest(evidence.clone(), Hash([1; 32])));
    assert_eq!(wrong.code, 39, "{}", wrong.error);
    assert!(wrong.error.contains("nonce"), "{}", wrong.error);

    // One interval later the first nonce is the previous one, still accepted; two later, not.
    chain.at(3_600, USER, heartbeat_free());
    assert_ne!(current_nonce(&chain), first);
    assert_eq!(
        chain.at(3_610, NODE, attest(evidence.clone(), first)).code,
        0
    );
    chain.at(7_200, USER, heartbeat_free());
    let stale = chain.at(7_210, NODE, attest(evidence.clone(), first));
    assert_eq!(stale.code, 39, "{}", stale.error);

    // One flipped bit in the quote's signature.
    let mut tampered = Evidence {
        cpu: tdx(),
        gpus: vec![],
    };
    if let CpuEvidence::IntelDcap { quote, .. } = &mut tampered.cpu {
        quote[48 + 584 + 4 + 10] ^= 1;
    }
    let receipt = chain.at(
        7_220,
        PLAIN,
        attest(encoded(&tampered), current_nonce(&chain)),
    );
    assert_eq!(receipt.code, 39, "{}", receipt.error);
    assert_eq!(tier(&chain, PLAIN, 7_220), TeeTier::None);

    // Bytes that are not evidence at all (from the next interval: one attempt per interval).
    chain.at(10_800, USER, heartbeat_free());
    let garbage = chain.at(10_810, PLAIN, attest(vec![1, 2, 3], current_nonce(&chain)));
    assert_eq!(garbage.code, 2, "{}", garbage.error);

    // A scheduler has nothing to attest.
    let scheduler = chain.at(10_820, SCHEDULER, attest(evidence, current_nonce(&chain)));
    assert_eq!(scheduler.code, 23, "{}", scheduler.error);
}

/// A transaction that touches nothing attestation reads (a block at a chosen time).
fn heartbeat_free() -> Message {
    Message::Transfer(vcity_types::tx::Transfer {
        to: account(USER),
        denom: vcity_types::Denom::Usd,
        amount: Amount::new(1),
    })
}

#[test]
fn a_block_verifies_at_most_its_reports() {
    let mut chain = chain_with(
        true,
        AttestationRules {
            policy: policy(),
            max_reports_per_block: 2,
            ..Default::default()
        },
    );
    let nonce = current_nonce(&chain);
    // CPU + GPU is two reports: the whole allowance. The second node waits for a later block.
    let both = encoded(&Evidence {
        cpu: tdx(),
        gpus: vec![hopper()],
    });
    let cpu_only = tdx_only();
    let first = chain.tx(NODE, attest(both, nonce));
    let second = chain.tx(PLAIN, attest(cpu_only, nonce));
    // The mempool takes the first and refuses the second for this block: it cannot be included.
    let mut pending = Overlay::new(chain.ledger.state());
    chain.ledger.check_tx(&mut pending, &first).expect("fits");
    let refused = chain
        .ledger
        .check_tx(&mut pending, &second)
        .expect_err("over the block's reports");
    assert_eq!(refused.code(), 34, "{refused}");
    assert_eq!(chain.block_at(60, vec![first]).receipts[0].code, 0);
    // In the next block it fits.
    assert_eq!(chain.block_at(61, vec![second]).receipts[0].code, 0);
    assert_eq!(tier(&chain, PLAIN, 61), TeeTier::Cpu);
}

fn tee_job() -> SubmitJob {
    SubmitJob {
        workload: Workload {
            executor: ExecutorKind::Wasm,
            module_hash: Hash([7; 32]),
            input: b"matrix 8".to_vec(),
            shards: Vec::new(),
            service: None,
            output_dir: false,
            confidential: None,
        },
        tasks: 1,
        requirements: Requirements {
            max_duration_s: 300,
            tee: TeeTier::Cpu,
            ..Requirements::default()
        },
        max_cu_ppm_per_task: 1_000_000,
        max_price_per_cu_usd: Amount::new(1_000),
        billing: Billing::PayAsYouGo,
        verification: VerificationLevel::Standard,
        retries: None,
    }
}

fn beat(chain: &mut Harness, t_s: u64, seed: u8) {
    let beat = NodeHeartbeat {
        load_ppm: 0,
        running_tasks: 0,
        health: crate::common::healthy(),
    };
    assert_eq!(chain.at(t_s, seed, Message::NodeHeartbeat(beat)).code, 0);
}

#[test]
fn evidence_that_fails_still_counts_once_per_node_and_interval() {
    let mut chain = chain_with(
        true,
        AttestationRules {
            policy: policy(),
            max_reports_per_block: 2,
            ..Default::default()
        },
    );
    let nonce = current_nonce(&chain);
    let mut tampered = Evidence {
        cpu: tdx(),
        gpus: vec![hopper()],
    };
    if let CpuEvidence::IntelDcap { quote, .. } = &mut tampered.cpu {
        quote[48 + 584 + 4 + 10] ^= 1;
    }
    // Refused after its verification, yet its two reports stay spent in this block.
    let failing = chain.tx(NODE, attest(encoded(&tampered), nonce));
    let honest = chain.tx(PLAIN, attest(tdx_only(), nonce));
    let mut pending = Overlay::new(chain.ledger.state());
    chain
        .ledger
        .check_tx(&mut pending, &honest)
        .expect("fits alone");
    let execution = chain.block_at(60, vec![failing]);
    assert_eq!(
        execution.receipts[0].code, 39,
        "{}",
        execution.receipts[0].error
    );
    assert_eq!(attestation_reports(&chain), (chain.ledger.height().0, 2));
    // The same node may not try again in this nonce interval, whatever it sends.
    let again = chain.tx(NODE, attest(tdx_only(), nonce));
    let mut pending = Overlay::new(chain.ledger.state());
    let refused = chain
        .ledger
        .check_tx(&mut pending, &again)
        .expect_err("once per interval");
    assert_eq!(refused.code(), 34, "{refused}");
    assert!(refused.to_string().contains("nonce interval"), "{refused}");
    // Another node's evidence goes into the next block.
    assert_eq!(chain.block_at(61, vec![honest]).receipts[0].code, 0);
    assert_eq!(tier(&chain, PLAIN, 61), TeeTier::Cpu);
}

/// (height, reports reserved) as the ledger keeps them.
fn attestation_reports(chain: &Harness) -> (u64, u32) {
    use vcity_ledger::StateRead;
    chain
        .ledger
        .state()
        .get(b"attest/block")
        .expect("reports were reserved")
}

#[test]
fn jobs_that_require_a_tier_go_only_to_nodes_whose_tier_stands() {
    let mut chain = test_chain();
    let evidence = tdx_only();
    assert_eq!(
        chain
            .at(10, NODE, attest(evidence, current_nonce(&chain)))
            .code,
        0
    );
    assert_eq!(chain.at(20, USER, Message::SubmitJob(tee_job())).code, 0);
    let assign = |node| {
        Message::AssignTask(AssignTask {
            job_id: 1,
            task: 0,
            node: account(node),
        })
    };
    let plain = chain.at(30, SCHEDULER, assign(PLAIN));
    assert_eq!(plain.code, 25, "{}", plain.error);
    assert!(
        plain.error.contains("no attested TEE of the required tier"),
        "{}",
        plain.error
    );
    let attested = chain.at(31, SCHEDULER, assign(NODE));
    assert_eq!(attested.code, 0, "{}", attested.error);
    // Sampled at half the standard rate (5% → 2.5%): a TEE lowers the odds, never to zero.
    let job = jobs::job(chain.ledger.state(), 1).expect("job");
    assert_eq!(job.tasks[0].sampling_ppm, 25_000);

    // Once the verdict has expired (7 days), the node no longer fits a TEE job.
    let later_s = 7 * 24 * 3600 + 100;
    beat(&mut chain, later_s, NODE);
    assert_eq!(
        chain.at(later_s, USER, Message::SubmitJob(tee_job())).code,
        0
    );
    let expired = chain.at(
        later_s + 1,
        SCHEDULER,
        Message::AssignTask(AssignTask {
            job_id: 2,
            task: 0,
            node: account(NODE),
        }),
    );
    assert_eq!(expired.code, 25, "{}", expired.error);
    assert!(
        expired.error.contains("no attested TEE"),
        "{}",
        expired.error
    );
}

#[test]
fn governance_changes_the_policy_and_its_bounds_hold() {
    let mut chain = test_chain();
    let bad = AttestationRules {
        max_reports_per_block: 0,
        ..Default::default()
    };
    let refused = chain.at(
        10,
        crate::common::GOVERNOR,
        Message::Propose(vcity_types::governance::Propose {
            title: "bad".into(),
            description: String::new(),
            actions: vec![Action::SetParam {
                change: ParamChange::Attestation(bad),
            }],
        }),
    );
    assert_ne!(
        refused.code, 0,
        "an invalid rule set is refused at proposal"
    );

    // An empty policy: nothing is registered, so the TDX sample is refused afterwards.
    let (receipt, executed_s) = chain.govern(
        20,
        crate::common::GOVERNOR,
        vec![Action::SetParam {
            change: ParamChange::Attestation(AttestationRules::default()),
        }],
    );
    assert_eq!(receipt.code, 0, "{}", receipt.error);
    assert_eq!(
        attestation::params(chain.ledger.state()).rules,
        AttestationRules::default()
    );
    assert!(
        attestation::params(chain.ledger.state()).accept_unbound_samples,
        "only a genesis sets it"
    );
    let evidence = tdx_only();
    let after = chain.at(
        executed_s + 1,
        NODE,
        attest(evidence, current_nonce(&chain)),
    );
    assert_eq!(after.code, 39, "{}", after.error);
    assert!(after.error.contains("not accepted"), "{}", after.error);
}

fn confidential_job() -> SubmitJob {
    let mut job = tee_job();
    job.workload.confidential = Some(Confidential {
        key_salt: Hash([3; 32]),
    });
    job.workload.input = vec![0xc3; 64]; // ciphertext, to the ledger opaque bytes
    job.verification = VerificationLevel::None;
    job
}

fn grant(node: u8, sealed_key: Vec<u8>) -> Message {
    Message::GrantTaskKey(GrantTaskKey {
        job_id: 1,
        task: 0,
        node: account(node),
        sealed_key,
    })
}

/// An attested node with a confidential job assigned to it at 30 s (start deadline 150 s).
fn assigned_confidential_job() -> Harness {
    let mut chain = test_chain();
    assert_eq!(
        chain
            .at(10, NODE, attest(tdx_only(), current_nonce(&chain)))
            .code,
        0
    );
    let record = nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
    assert_eq!(record.tee.encryption_key, NODE_ENCRYPTION_KEY);
    let submitted = chain.at(20, USER, Message::SubmitJob(confidential_job()));
    assert_eq!(submitted.code, 0, "{}", submitted.error);
    let assigned = chain.at(
        30,
        SCHEDULER,
        Message::AssignTask(AssignTask {
            job_id: 1,
            task: 0,
            node: account(NODE),
        }),
    );
    assert_eq!(assigned.code, 0, "{}", assigned.error);
    chain
}

#[test]
fn a_confidential_job_needs_a_tee_tier_no_verification_and_no_service() {
    let mut chain = test_chain();
    let mut untrusted = confidential_job();
    untrusted.requirements.tee = TeeTier::None;
    let mut verified = confidential_job();
    verified.verification = VerificationLevel::Standard;
    for (job, why) in [
        (untrusted, "requires a TEE tier"),
        (verified, "buys no verification"),
    ] {
        let receipt = chain.at(20, USER, Message::SubmitJob(job));
        assert_eq!(receipt.code, 25, "{}", receipt.error);
        assert!(receipt.error.contains(why), "{}", receipt.error);
    }
    assert_eq!(
        chain
            .at(21, USER, Message::SubmitJob(confidential_job()))
            .code,
        0
    );
}

#[test]
fn a_confidential_task_starts_only_after_its_owner_grants_the_key_to_its_node() {
    let mut chain = assigned_confidential_job();
    let start = Message::StartTask(StartTask { job_id: 1, task: 0 });
    let early = chain.at(31, NODE, start.clone());
    assert_eq!(early.code, 25, "{}", early.error);
    assert!(early.error.contains("not granted"), "{}", early.error);

    let sealed = vec![9; SEALED_KEY_BYTES];
    for (sender, message, code) in [
        (NODE, grant(NODE, sealed.clone()), 10),  // not the owner
        (USER, grant(PLAIN, sealed.clone()), 25), // not the assignee
        (USER, grant(NODE, vec![9; 79]), 25),     // not a sealed key
    ] {
        let receipt = chain.at(40, sender, message);
        assert_eq!(receipt.code, code, "{}", receipt.error);
    }
    // Granted at 100 s: the node's start deadline now counts from the grant (100 + 120 s).
    let granted = chain.at(100, USER, grant(NODE, sealed.clone()));
    assert_eq!(granted.code, 0, "{}", granted.error);
    assert!(granted.events.iter().any(|event| matches!(
        event,
        Event::TaskKeyGranted { job_id: 1, task: 0, node } if *node == account(NODE)
    )));
    let job = jobs::job(chain.ledger.state(), 1).expect("job");
    assert_eq!(job.tasks[0].sealed_key.as_deref(), Some(sealed.as_slice()));
    assert!(matches!(
        job.tasks[0].state,
        TaskState::Assigned {
            deadline_s: 220,
            ..
        }
    ));
    let twice = chain.at(101, USER, grant(NODE, sealed));
    assert_eq!(twice.code, 25, "{}", twice.error);
    // Past the deadline of the assignment (150 s), within the grant's.
    beat(&mut chain, 200, NODE);
    let started = chain.at(200, NODE, start);
    assert_eq!(started.code, 0, "{}", started.error);

    // Its result stands on the attested node's word: no re-execution can dispute it.
    let result = chain.result(NODE, 1, 0, 1_000, b"sealed output");
    assert_eq!(chain.at(210, NODE, result).code, 0);
    let challenge = chain.at(
        211,
        PLAIN,
        Message::ChallengeResult(ChallengeResult {
            job_id: 1,
            task: 0,
            commitment: crate::common::commitment(b"other", 1_000),
        }),
    );
    assert_eq!(challenge.code, 25, "{}", challenge.error);
    assert!(
        challenge.error.contains("confidential"),
        "{}",
        challenge.error
    );
}

#[test]
fn a_confidential_task_whose_key_never_comes_fails_refunded_without_blaming_its_node() {
    let mut chain = assigned_confidential_job();
    let escrow = jobs::job(chain.ledger.state(), 1).expect("job").tasks[0].escrow_usd;
    let balance = |chain: &Harness| {
        vcity_ledger::bank::balance(
            chain.ledger.state(),
            &account(USER),
            vcity_types::Denom::Usd,
        )
    };
    let before = balance(&chain);
    beat(&mut chain, 170, NODE);
    let job = jobs::job(chain.ledger.state(), 1).expect("job");
    let TaskState::Failed { reason } = &job.tasks[0].state else {
        panic!("{:?}", job.tasks[0].state);
    };
    assert!(reason.contains("granted no key"), "{reason}");
    let node = nodes::node(chain.ledger.state(), &account(NODE)).expect("node");
    assert_eq!(node.trust.deadline_strikes, 0);
    assert_eq!(node.trust.open_tasks, 0);
    assert_eq!(balance(&chain), before.checked_add(escrow).expect("sum"));
}
