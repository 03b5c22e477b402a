//! Golden vectors for the Python and JavaScript SDKs (sdk/README.md): key derivation, one
//! transaction per message type (JSON form → sign bytes → signature → canonical bytes → id), and
//! the other hashes a client computes. This test writes them from the Rust types and fails when
//! the committed file differs, so a change to the wire format cannot reach main without the
//! vectors, and the SDK tests (run next, in the same binary) then fail until both SDKs follow.
//!
//! `VCITY_BLESS=1 cargo test -p vcity-types --test it sdk_vectors` rewrites the file.

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use vcity_types::agents::{
    AddAgentVersion, AgentMetadata, AgentParams, AgentProgram, BuyAgent, DelistAgent, InvokeAgent,
    LicenceKind, LicenceOffer, ListAgent, MintAgent, RateInvocation, RetireAgentVersion,
    SetLicenceTerms, TakeLicence, TransferAgent,
};
use vcity_types::compute::{
    content_address, owner_request_digest, AddStake, AssignTask, Billing, CancelJob, CgroupVersion,
    ExecutorKind, FailTask, GpuSpec, Hardware, NodeHeartbeat, NodeKind, RegisterNode,
    ReportUnplaceable, Requirements, ResultCommitment, Role, SandboxNeeds, SandboxSupport,
    ServiceSpec, Shard, StartTask, SubmitJob, SubmitResult, Subscribe, TaskExit, TeeTier, Unbond,
    UpdateNode, WithdrawUnbonded, Workload,
};
use vcity_types::governance::{
    Action, CastVote, Choice, CommentProposal, ExecuteProposal, Fund, GovernanceParams, Module,
    ParamChange, Payment, Propose, VestingTerms,
};
use vcity_types::incentives::{FeeTier, VramTier};
use vcity_types::trust::{
    Appeal, CapacityVerdict, ChallengeResult, CommitCapacity, Deregister, GpuHealth, HealthReport,
    Offence, RefereeVote, ReportEquivocation, ResultStatement, Signature, SignedResult, Tier,
    VerificationLevel, VerifyResult, Vote,
};
use vcity_types::tx::{
    decode_transaction, AddLiquidity, BurnUsd, ClaimNft, ClaimRewards, ClaimVesting, Message,
    MintUsd, RemoveLiquidity, SwapExactIn, SwapExactOut, Transfer, TransferNft, TxBody,
    TxDecodeError, VeExtend, VeIncrease, VeLock, VeWithdraw,
};
use vcity_types::{AccountId, Amount, Denom, Hash};

const CHAIN_ID: &str = "vcity-golden";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Three seeds: all zero, counting, all 0xff.
fn seeds() -> [[u8; 32]; 3] {
    let mut counting = [0u8; 32];
    for (index, byte) in counting.iter_mut().enumerate() {
        *byte = u8::try_from(index).expect("32 fits a byte") + 1;
    }
    [[0u8; 32], counting, [0xff; 32]]
}

fn account(seed: &[u8; 32]) -> AccountId {
    AccountId::from_public_key(&SigningKey::from_bytes(seed).verifying_key())
}

fn hash(byte: u8) -> Hash {
    Hash([byte; 32])
}

fn requirements() -> Requirements {
    Requirements {
        gpu_model: Some("H100".into()),
        gpu_count: 2,
        min_vram_mib: 80_000,
        region: Some("eu-west".into()),
        max_duration_s: 3_600,
        node_kind: Some(NodeKind::Stable),
        gang: true,
        high_load: false,
        sandbox: Some(SandboxNeeds {
            memory_mib: 512,
            network: true,
        }),
        tee: TeeTier::Cpu,
    }
}

fn hardware() -> Hardware {
    Hardware {
        gpus: vec![GpuSpec {
            model: "RTX 4090".into(),
            count: 1,
            vram_mib: 24_576,
        }],
        cpu_cores: 16,
        ram_mib: 65_536,
        sandbox: Some(SandboxSupport {
            limits: CgroupVersion::V2,
            network_egress: false,
        }),
    }
}

fn commitment(exit: TaskExit) -> ResultCommitment {
    ResultCommitment {
        exit,
        output: content_address(b"the output"),
        output_bytes: 10,
        cu_used_ppm: 1_234_567,
    }
}

fn signed_result(seed: &[u8; 32], result_hash: Hash) -> SignedResult {
    let statement = ResultStatement {
        chain_id: CHAIN_ID.into(),
        job_id: 9,
        task: 1,
        attempt: 0,
        result_hash,
    };
    SignedResult {
        signature: Signature([0x5a; 64]),
        signer: account(seed),
        statement,
    }
}

fn payment(vesting: bool) -> Payment {
    Payment {
        recipient: account(&seeds()[1]),
        amount: Amount::new(u128::MAX),
        vesting: vesting.then_some(VestingTerms {
            immediate: Amount::new(5),
            cliff_s: 60,
            duration_s: 3_600,
            step_s: 60,
        }),
    }
}

/// One message of every type, in tag order, with values that exercise each field (options both
/// ways across the set, non-empty vectors, the largest amounts).
fn messages() -> Vec<Message> {
    let [first, second, _] = seeds();
    let program = AgentProgram {
        package_hash: hash(0x11),
        module_hash: hash(0x22),
        executor: ExecutorKind::Oci {
            image: "sha256:".to_string() + &"ab".repeat(32),
            reference: Some("registry.example/agent:1".into()),
            entrypoint: Some(vec!["/bin/agent".into()]),
            cmd: None,
            env: vec![("MODE".into(), "fast".into())],
            workdir: Some("/work".into()),
        },
    };
    vec![
        Message::Transfer(Transfer {
            to: account(&second),
            denom: Denom::Usd,
            amount: Amount::new(12_500_000),
        }),
        Message::MintUsd(MintUsd {
            to: account(&first),
            amount: Amount::new(u128::MAX),
        }),
        Message::BurnUsd(BurnUsd {
            amount: Amount::new(1),
        }),
        Message::ClaimVesting(ClaimVesting {}),
        Message::TransferNft(TransferNft {
            id: 7,
            to: account(&second),
        }),
        Message::ClaimNft(ClaimNft { id: 3_000 }),
        Message::VeLock(VeLock {
            amount: Amount::new(1_000_000_000_000_000_000_000),
            unlock_week: 208,
        }),
        Message::VeIncrease(VeIncrease {
            amount: Amount::new(42),
        }),
        Message::VeExtend(VeExtend { unlock_week: 52 }),
        Message::VeWithdraw(VeWithdraw {}),
        Message::AddLiquidity(AddLiquidity {
            vcai_max: Amount::new(10),
            usd_max: Amount::new(20),
            min_shares: Amount::new(0),
        }),
        Message::RemoveLiquidity(RemoveLiquidity {
            shares: Amount::new(5),
            min_vcai: Amount::new(1),
            min_usd: Amount::new(2),
        }),
        Message::SwapExactIn(SwapExactIn {
            denom_in: Denom::Vcai,
            amount_in: Amount::new(1_000),
            min_out: Amount::new(9),
        }),
        Message::SwapExactOut(SwapExactOut {
            denom_out: Denom::Usd,
            amount_out: Amount::new(1_000),
            max_in: Amount::new(u128::MAX),
        }),
        Message::ClaimRewards(ClaimRewards {}),
        Message::RegisterNode(RegisterNode {
            role: Role::Compute,
            kind: NodeKind::Flexible,
            hardware: hardware(),
            region: "ap-south".into(),
            endpoint: "http://10.0.0.5:8720".into(),
            price_per_cu_usd: Amount::new(250_000),
            stake: Amount::new(5_000_000_000),
        }),
        Message::NodeHeartbeat(NodeHeartbeat {
            load_ppm: 250_000,
            running_tasks: 3,
            health: HealthReport {
                executor_ok: true,
                free_disk_mib: 100_000,
                gpus: vec![GpuHealth {
                    temperature_c: 71,
                    ecc_uncorrected: 0,
                    xid_errors: 2,
                }],
            },
        }),
        Message::UpdateNode(UpdateNode {
            price_per_cu_usd: Some(Amount::new(300_000)),
            endpoint: None,
            hardware: Some(Hardware::default()),
        }),
        Message::AddStake(AddStake {
            amount: Amount::new(1_000_000),
        }),
        Message::Unbond(Unbond {
            amount: Amount::new(500_000),
        }),
        Message::WithdrawUnbonded(WithdrawUnbonded {}),
        Message::SubmitJob(SubmitJob {
            workload: Workload {
                module_hash: hash(0x33),
                input: vec![0, 1, 2, 254, 255],
                executor: ExecutorKind::Process {
                    name: "python3".into(),
                    args: vec!["-c".into(), "print('hi')".into()],
                    env: vec![("A".into(), "1".into()), ("B".into(), String::new())],
                },
                shards: vec![Shard {
                    address: hash(0x44),
                    bytes: 1 << 20,
                    url: Some("https://data.example/shard-0".into()),
                }],
                service: Some(ServiceSpec {
                    port: 8080,
                    health_path: "/healthz".into(),
                }),
                output_dir: true,
                confidential: Some(vcity_types::compute::Confidential {
                    key_salt: hash(0x5c),
                }),
            },
            tasks: 4,
            requirements: requirements(),
            max_cu_ppm_per_task: 10_000_000,
            max_price_per_cu_usd: Amount::new(400_000),
            billing: Billing::FixedPerTask {
                price_usd: Amount::new(2_000_000),
            },
            verification: VerificationLevel::High,
            retries: Some(2),
        }),
        Message::AssignTask(AssignTask {
            job_id: u64::MAX,
            task: 63,
            node: account(&second),
        }),
        Message::StartTask(StartTask { job_id: 1, task: 0 }),
        Message::SubmitResult(SubmitResult {
            job_id: 1,
            task: 0,
            attempt: 1,
            commitment: commitment(TaskExit::ExitCode { code: -3 }),
            signature: Signature([0xa5; 64]),
        }),
        Message::FailTask(FailTask {
            job_id: 2,
            task: 1,
            reason: "out of disk — ünïcode".into(),
        }),
        Message::CancelJob(CancelJob { job_id: 77 }),
        Message::ReportUnplaceable(ReportUnplaceable {
            job_id: 5,
            task: 2,
            explanation: "no node has 8 GPUs".into(),
        }),
        Message::Subscribe(Subscribe {
            cu_ppm: 1_000_000_000,
            price_per_cu_usd: Amount::new(200_000),
            term_s: 2_592_000,
        }),
        Message::Propose(Propose {
            title: "Tune the network".into(),
            description: "Every kind of action once.".into(),
            actions: vec![
                Action::SetParam {
                    change: ParamChange::Controller {
                        k_ppm: 100_000,
                        target_ppm: 800_000,
                    },
                },
                Action::SetParam {
                    change: ParamChange::VramTiers {
                        tiers: vec![VramTier {
                            min_vram_mib: 40_960,
                            coefficient_ppm: 1_200_000,
                        }],
                    },
                },
                Action::SetParam {
                    change: ParamChange::NetworkFee {
                        fee_ppm: 50_000,
                        tiers: vec![FeeTier {
                            min_reputation_ppm: 900_000,
                            min_completed: 100,
                            fee_ppm: 30_000,
                        }],
                    },
                },
                Action::SetParam {
                    change: ParamChange::GpuFactors {
                        gpu_factors_ppm: vec![("H100".into(), 4_000_000)],
                        cpu_core_factor_ppm: 10_000,
                    },
                },
                Action::SetParam {
                    change: ParamChange::SamplingRates {
                        level_rates_ppm: [0, 50_000, 200_000, 1_000_000],
                        risky_rate_ppm: 500_000,
                    },
                },
                Action::SetParam {
                    change: ParamChange::OffenceRule {
                        offence: Offence::Equivocation,
                        tier: Tier::Severe,
                        slash_ppm: 1_000_000,
                        suspend_periods: 12,
                    },
                },
                Action::SetParam {
                    change: ParamChange::Governance(GovernanceParams {
                        proposal_threshold_weight: u128::MAX,
                        deposit: Amount::new(100_000_000),
                        discussion_s: 86_400,
                        voting_s: 604_800,
                        quorum_ppm: 100_000,
                        timelock_s: 172_800,
                        grace_s: 604_800,
                        max_actions: 8,
                        max_open: 16,
                        max_comments: 256,
                    }),
                },
                Action::SetParam {
                    change: ParamChange::Agents(AgentParams {
                        creation_fee_usd: Amount::new(10_000_000),
                        sale_commission_ppm: 25_000,
                        usage_share_ppm: 100_000,
                        min_ratings: 5,
                    }),
                },
                Action::Spend {
                    from: Fund::Grants,
                    denom: Denom::Vcai,
                    payments: vec![payment(true), payment(false)],
                },
                Action::StrategicIssuance {
                    payments: vec![payment(false)],
                },
                Action::Pause {
                    module: Module::Agents,
                },
                Action::Unpause {
                    module: Module::Bank,
                },
                Action::DecideAppeal {
                    slash_id: 4,
                    uphold: false,
                },
                Action::AddValidator {
                    name: "v5".into(),
                    public_key: account(&second),
                    power: 10,
                },
                Action::RemoveValidator {
                    public_key: account(&first),
                },
                Action::SetValidatorPower {
                    public_key: account(&second),
                    power: 20,
                },
                Action::Reprice {
                    numerator: 3,
                    denominator: 2,
                },
            ],
        }),
        Message::VerifyResult(VerifyResult {
            job_id: 8,
            task: 0,
            commitment: commitment(TaskExit::Success),
        }),
        Message::ChallengeResult(ChallengeResult {
            job_id: 8,
            task: 1,
            commitment: commitment(TaskExit::Trap {
                trap: "unreachable".into(),
            }),
        }),
        Message::RefereeVote(RefereeVote {
            dispute_id: 6,
            vote: Vote::Result {
                commitment: commitment(TaskExit::OutOfFuel),
            },
        }),
        Message::CommitCapacity(CommitCapacity {
            challenge_id: 12,
            roots: vec![hash(1), hash(2)],
        }),
        Message::CapacityVerdict(CapacityVerdict {
            challenge_id: 12,
            pass: true,
        }),
        Message::ReportEquivocation(ReportEquivocation {
            first: signed_result(&first, hash(0x0a)),
            second: signed_result(&first, hash(0x0b)),
        }),
        Message::Appeal(Appeal {
            slash_id: 3,
            reason: "the verifier ran a different image".into(),
        }),
        Message::CastVote(CastVote {
            proposal: hash(0x99),
            choice: Choice::Abstain,
        }),
        Message::Deregister(Deregister {}),
        Message::CommentProposal(CommentProposal {
            proposal: hash(0x99),
            text: "Yes, but lower k first.".into(),
        }),
        Message::ExecuteProposal(ExecuteProposal {
            proposal: hash(0x98),
        }),
        Message::MintAgent(MintAgent {
            program: program.clone(),
            metadata: AgentMetadata {
                name: "Tour guide".into(),
                description: "Answers from its own knowledge.".into(),
                tags: vec!["travel".into(), "rag".into()],
            },
            copyright: "© 2026 Example".into(),
            usage_terms: "Non-commercial".into(),
            royalty_bps: 500,
        }),
        Message::AddAgentVersion(AddAgentVersion {
            agent_id: 1,
            program: AgentProgram {
                package_hash: hash(0x12),
                module_hash: hash(0x23),
                executor: ExecutorKind::Wasm,
            },
        }),
        Message::RetireAgentVersion(RetireAgentVersion {
            agent_id: 1,
            version: 1,
        }),
        Message::TransferAgent(TransferAgent {
            agent_id: 1,
            to: account(&second),
        }),
        Message::ListAgent(ListAgent {
            agent_id: 1,
            price_usd: Amount::new(1_000_001),
        }),
        Message::DelistAgent(DelistAgent { agent_id: 1 }),
        Message::BuyAgent(BuyAgent {
            agent_id: 1,
            max_price_usd: Amount::new(1_000_001),
        }),
        Message::SetLicenceTerms(SetLicenceTerms {
            agent_id: 1,
            offers: vec![
                LicenceOffer {
                    kind: LicenceKind::Exclusive { duration_s: 86_400 },
                    price_usd: Amount::new(50_000_000),
                },
                LicenceOffer {
                    kind: LicenceKind::Shared,
                    price_usd: Amount::new(5_000_000),
                },
                LicenceOffer {
                    kind: LicenceKind::Timed { duration_s: 3_600 },
                    price_usd: Amount::new(1_000_000),
                },
            ],
            per_call_usd: Some(Amount::new(10_000)),
        }),
        Message::TakeLicence(TakeLicence {
            agent_id: 1,
            offer: 2,
            max_price_usd: Amount::new(1_000_000),
        }),
        Message::InvokeAgent(InvokeAgent {
            agent_id: 1,
            version: 2,
            input: b"Where is the old town?".to_vec(),
            shard: None,
            requirements: Requirements::default(),
            max_cu_ppm: 5_000_000,
            max_price_per_cu_usd: Amount::new(300_000),
            verification: VerificationLevel::None,
            max_call_fee_usd: Amount::new(10_000),
        }),
        Message::RateInvocation(RateInvocation {
            job_id: 40,
            score: 5,
        }),
        Message::AttestNode(vcity_types::compute::AttestNode {
            evidence: vec![0, 1, 2, 255],
            nonce: Hash([0x5a; 32]),
            encryption_key: vcity_types::compute::EncryptionKey([0x5b; 32]),
        }),
        Message::GrantTaskKey(vcity_types::compute::GrantTaskKey {
            job_id: 41,
            task: 3,
            node: account(&seeds()[1]),
            sealed_key: (0..80).collect(),
        }),
        Message::NameReferrer(vcity_types::compute::NameReferrer {
            referrer: account(&seeds()[2]),
        }),
    ]
}

/// The other variants of the enums the messages above use, each once, in a second transaction:
/// every enum variant appears somewhere in the vectors.
fn more_messages() -> Vec<Message> {
    let exits = [
        TaskExit::MemoryLimit,
        TaskExit::OutputLimit,
        TaskExit::Invalid {
            reason: "imports env.foo".into(),
        },
    ];
    let mut messages: Vec<Message> = exits
        .into_iter()
        .map(|exit| {
            Message::VerifyResult(VerifyResult {
                job_id: 1,
                task: 0,
                commitment: commitment(exit),
            })
        })
        .collect();
    messages.push(Message::RefereeVote(RefereeVote {
        dispute_id: 1,
        vote: Vote::Capacity { pass: false },
    }));
    for billing in [
        Billing::PayAsYouGo,
        Billing::Subscription { subscription_id: 3 },
    ] {
        messages.push(Message::SubmitJob(SubmitJob {
            workload: Workload {
                module_hash: hash(0x33),
                input: Vec::new(),
                executor: ExecutorKind::Wasm,
                shards: Vec::new(),
                service: None,
                output_dir: false,
                confidential: None,
            },
            tasks: 1,
            requirements: Requirements::default(),
            max_cu_ppm_per_task: 1_000_000,
            max_price_per_cu_usd: Amount::new(1),
            billing,
            verification: VerificationLevel::Full,
            retries: None,
        }));
    }
    let changes = vec![
        ParamChange::IncentivePeriod { period_s: 604_800 },
        ParamChange::ReleaseFraction { ppm: 10_000 },
        ParamChange::CapacityShare { ppm: 300_000 },
        ParamChange::StakeRequirement {
            usd_per_cu: Amount::new(1_000_000),
            grace_s: 86_400,
        },
        ParamChange::VeMinLock {
            amount: Amount::new(1),
        },
        ParamChange::SwapFee { bps: 30 },
        ParamChange::Buyback {
            interval_s: 3_600,
            max_premium_bps: 200,
        },
        ParamChange::Heartbeat {
            interval_s: 30,
            offline_after_intervals: 3,
        },
        ParamChange::Unbonding {
            period_s: 1_209_600,
        },
        ParamChange::VerificationWindow { window_s: 600 },
        ParamChange::Appeals {
            window_s: 86_400,
            decision_s: 604_800,
            bounty_ppm: 100_000,
            compensation_ppm: 500_000,
        },
        ParamChange::TxLimits {
            min_fee_usd: Amount::new(1_000),
            max_tx_bytes: 65_536,
            max_messages_per_tx: 16,
            max_block_txs: 10_000,
            max_block_bytes: 8 << 20,
        },
        ParamChange::Attestation(vcity_types::attestation::AttestationRules {
            policy: vcity_types::attestation::AttestationPolicy {
                intel_tcb_statuses: vec!["UpToDate".into()],
                intel_rejected_advisories: vec!["INTEL-SA-00615".into()],
                tdx_mrtd: vec!["ab".repeat(48)],
                sgx_mrenclave: vec!["cd".repeat(32)],
                snp_measurements: vec!["ef".repeat(48)],
                snp_minimum_tcb: vcity_types::attestation::SnpTcb {
                    bootloader: 3,
                    tee: 0,
                    snp: 8,
                    microcode: 115,
                },
                gpu_driver_versions: vec!["550.90.07".into()],
                gpu_vbios_versions: vec!["96.00.9f.00.01".into()],
                gpu_measurements: vec![vcity_types::attestation::GpuReference {
                    index: 2,
                    values: vec!["80".repeat(48)],
                }],
            },
            validity_s: 604_800,
            nonce_interval_s: 3_600,
            max_reports_per_block: 9,
            sampling_factor_ppm: 500_000,
        }),
        ParamChange::LongTermIncentives(vcity_types::incentives::LongTermParams {
            loyalty_step_ppm: 20_000,
            loyalty_max_ppm: 250_000,
            loyalty_outage_s: 86_400,
            referral_share_ppm: 50_000,
            referral_periods: 26,
            performance_share_ppm: 200_000,
            performance_min_reputation_ppm: 800_000,
        }),
    ];
    let offences = [
        (Offence::CapacityMissed, Tier::Minor),
        (Offence::CapacityFailed, Tier::Moderate),
        (Offence::DeadlinesMissed, Tier::Minor),
        (Offence::RefereeOnLosingSide, Tier::Minor),
        (Offence::InflatedMetering, Tier::Moderate),
        (Offence::WrongResult, Tier::Severe),
    ];
    let mut actions: Vec<Action> = changes
        .into_iter()
        .map(|change| Action::SetParam { change })
        .collect();
    actions.extend(
        offences
            .into_iter()
            .map(|(offence, tier)| Action::SetParam {
                change: ParamChange::OffenceRule {
                    offence,
                    tier,
                    slash_ppm: 1,
                    suspend_periods: 0,
                },
            }),
    );
    for module in [
        Module::Ve,
        Module::Pool,
        Module::Nodes,
        Module::Jobs,
        Module::Trust,
    ] {
        actions.push(Action::Pause { module });
    }
    for from in [Fund::Reserve, Fund::Treasury] {
        actions.push(Action::Spend {
            from,
            denom: Denom::Usd,
            payments: Vec::new(),
        });
    }
    messages.push(Message::Propose(Propose {
        title: "The rest".into(),
        description: String::new(),
        actions,
    }));
    for choice in [Choice::Yes, Choice::No] {
        messages.push(Message::CastVote(CastVote {
            proposal: hash(7),
            choice,
        }));
    }
    for (role, limits) in [
        (Role::Scheduler, CgroupVersion::None),
        (Role::Verifier, CgroupVersion::V1),
    ] {
        let mut hardware = hardware();
        hardware.sandbox = Some(SandboxSupport {
            limits,
            network_egress: true,
        });
        messages.push(Message::RegisterNode(RegisterNode {
            role,
            kind: NodeKind::Stable,
            hardware,
            region: String::new(),
            endpoint: String::new(),
            price_per_cu_usd: Amount::new(0),
            stake: Amount::new(0),
        }));
    }
    messages.push(Message::InvokeAgent(InvokeAgent {
        agent_id: 2,
        version: 1,
        input: Vec::new(),
        shard: Some(Shard {
            address: hash(0x55),
            bytes: 3,
            url: None,
        }),
        requirements: requirements(),
        max_cu_ppm: 1,
        max_price_per_cu_usd: Amount::new(1),
        verification: VerificationLevel::Standard,
        max_call_fee_usd: Amount::new(0),
    }));
    messages
}

fn transaction_vector(
    name: &str,
    seed: &[u8; 32],
    nonce: u64,
    mut messages: Vec<Message>,
) -> Value {
    let key = SigningKey::from_bytes(seed);
    // A result's statement is the sender's to sign, and is checked with the transaction.
    for message in &mut messages {
        if let Message::SubmitResult(result) = message {
            result.signature = result.statement(CHAIN_ID).sign(&key).signature;
        }
    }
    let body = TxBody {
        chain_id: CHAIN_ID.into(),
        sender: AccountId::from_public_key(&key.verifying_key()),
        nonce,
        fee: Amount::new(1_000 + u128::from(nonce)),
        messages,
    };
    let body_json = serde_json::to_value(&body).expect("a body serializes");
    let parsed: TxBody = serde_json::from_value(body_json.clone()).expect("and parses back");
    assert_eq!(parsed, body, "{name}: the JSON form loses nothing");
    let sign_bytes = body.sign_bytes();
    let tx = body.sign(&key);
    let bytes = tx.to_bytes();
    assert_eq!(decode_transaction(&bytes).as_ref(), Ok(&tx), "{name}");
    assert_eq!(tx.verify_signature(), Ok(()), "{name}");
    json!({
        "name": name,
        "seed": hex::encode(seed),
        "body": body_json,
        "sign_bytes": hex::encode(sign_bytes),
        "signature": hex::encode(tx.signature),
        "tx": hex::encode(&bytes),
        "hash": tx.hash().to_hex(),
    })
}

fn golden() -> String {
    let seeds = seeds();
    let keys: Vec<Value> = seeds
        .iter()
        .map(|seed| {
            let account = account(seed);
            json!({
                "seed": hex::encode(seed),
                "account": account.to_hex(),
                "did": account.did().to_string(),
            })
        })
        .collect();
    let messages = messages();
    let mut transactions = Vec::new();
    for (index, message) in messages.into_iter().enumerate() {
        assert_eq!(
            usize::from(message.tag()),
            index,
            "messages() lists one message per tag, in tag order"
        );
        let name = serde_json::to_value(&message).expect("serializes")["type"]
            .as_str()
            .expect("tagged")
            .to_string();
        let seed = &seeds[index % seeds.len()];
        let nonce = u64::try_from(index).expect("small");
        transactions.push(transaction_vector(&name, seed, nonce, vec![message]));
    }
    // A tag past the last is unknown: the list above has every message type.
    let count = u8::try_from(transactions.len()).expect("fewer than 256 message types");
    let mut bytes = TxBody {
        chain_id: CHAIN_ID.into(),
        sender: account(&seeds[0]),
        nonce: 0,
        fee: Amount::new(0),
        messages: vec![Message::ClaimRewards(ClaimRewards {})],
    }
    .sign(&SigningKey::from_bytes(&seeds[0]))
    .to_bytes();
    let tag_position = 4 + CHAIN_ID.len() + 32 + 8 + 16 + 4;
    bytes[tag_position] = count;
    assert_eq!(
        decode_transaction(&bytes),
        Err(TxDecodeError::UnknownMessage(count)),
        "a message type was added: give messages() a sample of it"
    );
    transactions.push(transaction_vector(
        "every_other_variant",
        &seeds[1],
        1_000,
        more_messages(),
    ));

    let owner_key = SigningKey::from_bytes(&seeds[0]);
    let digest = owner_request_digest("GET", "/v1/tasks/7/0/output", 1_700_000_000_000);
    let commitments: Vec<Value> = [
        TaskExit::Success,
        TaskExit::ExitCode { code: 1 },
        TaskExit::Trap {
            trap: "unreachable".into(),
        },
    ]
    .into_iter()
    .map(|exit| {
        let commitment = commitment(exit);
        json!({
            "commitment": serde_json::to_value(&commitment).expect("serializes"),
            "hash": commitment.hash().to_hex(),
        })
    })
    .collect();
    // Five BLAKE3 chunks, the last one partial: the tree's parents, not just one chunk.
    let long: Vec<u8> = (0..4_100u32)
        .map(|index| u8::try_from(index % 251).expect("below 251"))
        .collect();
    let vectors = json!({
        "format": "vcity-golden/1",
        "about": "Written by crates/types/tests/it/sdk_vectors.rs from the Rust types; the SDKs test against it (sdk/README.md).",
        "chain_id": CHAIN_ID,
        "keys": keys,
        "transactions": transactions,
        "content_addresses": [
            {"bytes": hex::encode(b""), "address": content_address(b"").to_hex()},
            {"bytes": hex::encode(b"the output"), "address": content_address(b"the output").to_hex()},
            {"bytes": hex::encode(&long), "address": content_address(&long).to_hex()},
        ],
        "result_commitments": commitments,
        "owner_requests": [{
            "seed": hex::encode(seeds[0]),
            "method": "GET",
            "path": "/v1/tasks/7/0/output",
            "time_ms": 1_700_000_000_000u64,
            "digest": digest.to_hex(),
            "signature": hex::encode(owner_key.sign(digest.as_bytes()).to_bytes()),
        }],
    });
    let mut text = serde_json::to_string_pretty(&vectors).expect("serializes");
    text.push('\n');
    text
}

#[test]
fn golden_vectors_match_the_rust_types() {
    let path = repo().join("sdk/vectors/golden.json");
    let fresh = golden();
    if std::env::var_os("VCITY_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write the vectors");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is not what the Rust types give: the wire format changed. Rewrite it with \
         `VCITY_BLESS=1 cargo test -p vcity-types --test it sdk_vectors`, then make both SDKs pass",
        path.display()
    );
}

#[test]
fn both_sdks_carry_the_same_schema() {
    let javascript = std::fs::read(repo().join("sdk/js/src/schema.json")).expect("js schema");
    let python =
        std::fs::read(repo().join("sdk/python/vcity_sdk/schema.json")).expect("python schema");
    assert!(
        javascript == python,
        "sdk/python/vcity_sdk/schema.json must be a copy of sdk/js/src/schema.json"
    );
}

/// Runs an SDK's own test suite. Where its tool is missing the test says SKIPPED and passes,
/// unless `VCITY_REQUIRE_SDK_TESTS` is set (`.ci/run` sets it and installs the tools).
fn run_suite(what: &str, program: &str, args: &[&str], probe: &[&str]) {
    let available = Command::new(program)
        .args(probe)
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        assert!(
            std::env::var_os("VCITY_REQUIRE_SDK_TESTS").is_none(),
            "{what}: `{program} {}` failed and VCITY_REQUIRE_SDK_TESTS is set",
            probe.join(" ")
        );
        eprintln!("SKIPPED: {what} needs `{program} {}`", probe.join(" "));
        return;
    }
    let output = Command::new(program)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|error| panic!("{what}: cannot start {program}: {error}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{what} failed:\n{text}");
    eprintln!("{text}");
}

#[test]
fn javascript_sdk_passes_its_tests() {
    run_suite(
        "the JavaScript SDK",
        "node",
        &["--test", "sdk/js/test/"],
        &["--version"],
    );
}

#[test]
fn python_sdk_passes_its_tests() {
    run_suite(
        "the Python SDK",
        "python3",
        &["-m", "pytest", "-q", "sdk/python/tests"],
        &["-m", "pytest", "--version"],
    );
}
