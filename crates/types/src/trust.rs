//! The trust layer's wire vocabulary (whitepaper §2.4.2, §2.5, §3.6.1; rules §10, §12;
//! docs/verification.md): verification levels, signed result statements, the messages of
//! verifiers, challengers, referees and slashed nodes, and the records the ledger keeps of
//! checks, capacity challenges, disputes, slashes and each node's service history. The rules
//! live in the ledger's `trust` components; the daemons, the SDK and the CLI build these values.

use crate::compute::ResultCommitment;
use crate::hash::{Domain, Hash};
use crate::{AccountId, Amount};
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Most devices one capacity challenge covers (one per declared GPU, plus the CPU).
pub const MAX_CHALLENGE_DEVICES: usize = 65;
/// Longest appeal text.
pub const MAX_APPEAL_BYTES: usize = 256;
/// Most GPUs a health report describes.
pub const MAX_HEALTH_GPUS: usize = 64;
/// Most referees a dispute draws.
pub const MAX_REFEREES: usize = 7;

/// How much checking a job buys (rules §10: a sampling rate per level, gov). The buyer pays the
/// expected cost of the re-execution it asks for: `cost × rate` per task.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum VerificationLevel {
    /// Never sampled (a challenger may still dispute a result in its window).
    None,
    /// Sampled at the standard rate (5% by default).
    #[default]
    Standard,
    /// Sampled at the high rate (25%).
    High,
    /// Every task checked.
    Full,
}

impl VerificationLevel {
    /// Every level, in order (the index into the rate table).
    pub const ALL: [VerificationLevel; 4] = [
        VerificationLevel::None,
        VerificationLevel::Standard,
        VerificationLevel::High,
        VerificationLevel::Full,
    ];

    /// Position in [`VerificationLevel::ALL`] and in the rate table.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The manifest and CLI spelling.
    pub fn name(self) -> &'static str {
        match self {
            VerificationLevel::None => "none",
            VerificationLevel::Standard => "standard",
            VerificationLevel::High => "high",
            VerificationLevel::Full => "full",
        }
    }
}

impl std::str::FromStr for VerificationLevel {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        VerificationLevel::ALL
            .into_iter()
            .find(|level| level.name() == text)
            .ok_or_else(|| format!("verification level {text:?} is none, standard, high or full"))
    }
}

/// An ed25519 signature (hex in JSON).
#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(self.0))
    }
}

impl Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        let bytes = hex::decode(&text).map_err(serde::de::Error::custom)?;
        let array = <[u8; 64]>::try_from(bytes.as_slice())
            .map_err(|_| serde::de::Error::custom("a signature is 64 bytes"))?;
        Ok(Signature(array))
    }
}

/// The prefix of a result statement's signed bytes.
pub const RESULT_SIGN_DOMAIN: &[u8] = b"vcity/result/v1\0";

/// What a compute node signs about one attempt at a task: "my result is `result_hash`". It signs
/// one into its `SubmitResult` and hands the same statement to whoever fetches the output, so two
/// statements with different hashes for one attempt prove equivocation (rules §10).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ResultStatement {
    /// The chain (a statement for another chain proves nothing here).
    pub chain_id: String,
    /// The job.
    pub job_id: u64,
    /// The task.
    pub task: u32,
    /// The assignment it answers (the task's `attempts` when it was assigned).
    pub attempt: u32,
    /// [`ResultCommitment::hash`].
    pub result_hash: Hash,
}

impl ResultStatement {
    /// The exact bytes the signature covers.
    pub fn sign_bytes(&self) -> Vec<u8> {
        let mut bytes = RESULT_SIGN_DOMAIN.to_vec();
        BorshSerialize::serialize(self, &mut bytes).expect("borsh encoding into a Vec cannot fail");
        bytes
    }

    /// Signs the statement with the node's key.
    pub fn sign(self, key: &SigningKey) -> SignedResult {
        let signature = Signature(key.sign(&self.sign_bytes()).to_bytes());
        SignedResult {
            signer: AccountId::from_public_key(&key.verifying_key()),
            statement: self,
            signature,
        }
    }
}

/// A [`ResultStatement`] with its signer and signature.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedResult {
    /// What was signed.
    pub statement: ResultStatement,
    /// Who signed it (a compute node's account).
    pub signer: AccountId,
    /// ed25519 over [`ResultStatement::sign_bytes`].
    pub signature: Signature,
}

impl SignedResult {
    /// Whether the signature is the signer's, under the rules transactions use: a signer key of
    /// more than small order, and ZIP-215 ([`crate::ed25519`]). `SubmitResult`'s statements are
    /// checked the same way with their transaction ([`crate::tx::SignedTransaction::verify_signature`]),
    /// so a statement the chain accepted in a result is accepted here too.
    pub fn verify(&self) -> bool {
        crate::ed25519::is_usable_key(&self.signer.0)
            && crate::ed25519::verify(&crate::ed25519::Item {
                public_key: &self.signer.0,
                message: &self.statement.sign_bytes(),
                signature: &self.signature.0,
            })
    }
}

/// The task's assigned checker agrees with the node: its own re-execution gave this commitment,
/// which must hash to the node's.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct VerifyResult {
    /// The job.
    pub job_id: u64,
    /// The task.
    pub task: u32,
    /// The checker's commitment.
    pub commitment: ResultCommitment,
}

/// Dispute a committed result before its verification window closes: the challenger's own
/// re-execution gave `commitment`, which differs from the node's. The challenger posts the
/// challenge deposit (gov) and loses it if the referees side with the node.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ChallengeResult {
    /// The job.
    pub job_id: u64,
    /// The task.
    pub task: u32,
    /// The challenger's commitment.
    pub commitment: ResultCommitment,
}

/// A referee's answer.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Vote {
    /// For a disputed task: the commitment the referee's re-execution gave.
    Result {
        /// The commitment.
        commitment: ResultCommitment,
    },
    /// For a disputed capacity challenge: whether the node's proof checks out.
    Capacity {
        /// True when the proof passes.
        pass: bool,
    },
}

/// A drawn referee answers a dispute.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RefereeVote {
    /// The dispute.
    pub dispute_id: u64,
    /// The answer.
    pub vote: Vote,
}

/// A challenged node commits to its products: per device, the list Merkle root of the hashes of
/// the rows of `C = A·B` (docs/verification.md). Due before the challenge's commit deadline.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitCapacity {
    /// The challenge.
    pub challenge_id: u64,
    /// One root per device, in the challenge's device order.
    pub roots: Vec<Hash>,
}

/// The drawn verifier's verdict on a committed capacity proof. A failing verdict opens a dispute
/// and costs the verifier the challenge deposit if the referees find the proof good.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CapacityVerdict {
    /// The challenge.
    pub challenge_id: u64,
    /// True when every device's proof checks out.
    pub pass: bool,
}

/// Proof that a node signed two different results for one attempt at a task (rules §10).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ReportEquivocation {
    /// One signed statement.
    pub first: SignedResult,
    /// Another, for the same chain, job, task and attempt, with a different result.
    pub second: SignedResult,
}

/// A slashed node contests its slash within the appeal window (rules §10). Governance decides;
/// an appeal nobody decides runs out with the window.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Appeal {
    /// The slash.
    pub slash_id: u64,
    /// Why, at most [`MAX_APPEAL_BYTES`].
    pub reason: String,
}

/// Leave the network: once no task is open on the node, its whole bond starts unbonding and it
/// is no longer scheduled. The unbonding stake stays slashable until it is withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Deregister {}

/// One GPU's health as NVML reports it.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct GpuHealth {
    /// Core temperature, °C.
    pub temperature_c: u32,
    /// Uncorrected ECC errors since the driver loaded.
    pub ecc_uncorrected: u64,
    /// Critical XID errors seen by the node since it started.
    pub xid_errors: u64,
}

/// What a heartbeat measures (rules §4: "online, load, health metrics"). The ledger, not the
/// node, decides from it whether the node is healthy (docs/verification.md, "Health").
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct HealthReport {
    /// The executor ran its self-test workload and got the known answer.
    pub executor_ok: bool,
    /// Free disk under the node's work directory, MiB.
    pub free_disk_mib: u64,
    /// Each GPU, in device order (empty without NVML).
    pub gpus: Vec<GpuHealth>,
}

/// A sampled task's check.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Check {
    /// The verifier drawn to re-execute it.
    pub verifier: AccountId,
    /// What it found so far.
    pub state: CheckState,
}

/// Where a check stands.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum CheckState {
    /// The verifier has not answered yet.
    Pending,
    /// Its re-execution agreed with the node.
    Agreed,
    /// A challenge disputes the result.
    Disputed {
        /// The dispute.
        dispute_id: u64,
    },
}

/// One device of a capacity challenge: the product it must compute.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ChallengeDevice {
    /// `cpu`, or the GPU model as registered (one entry per GPU).
    pub label: String,
    /// The matrices are `n × n`.
    pub n: u32,
}

/// Where a capacity challenge stands.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ChallengeState {
    /// Waiting for the node's commitment.
    AwaitingCommit,
    /// Committed; a verifier is drawn at the next block.
    AwaitingVerifier,
    /// The drawn verifier is checking.
    AwaitingVerdict,
    /// A failing verdict is before referees.
    Disputed {
        /// The dispute.
        dispute_id: u64,
    },
    /// The proof checked out.
    Passed,
    /// The proof did not check out (a minor offence).
    Failed,
    /// No commitment before the deadline (a minor offence).
    Missed,
    /// No verifier answered in time (or none was registered): nothing was proven either way.
    Unverified,
}

/// A capacity challenge (Proof of Capacity made real; docs/verification.md).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CapacityChallenge {
    /// Sequential id.
    pub id: u64,
    /// The challenged compute node.
    pub node: AccountId,
    /// Seeds the matrices (from the block beacon).
    pub seed: Hash,
    /// The products, one per device.
    pub devices: Vec<ChallengeDevice>,
    /// Issued, seconds after genesis.
    pub issued_s: u64,
    /// The commitment is due by then, seconds after genesis.
    pub commit_deadline_s: u64,
    /// The committed roots.
    pub roots: Vec<Hash>,
    /// The verifier drawn after the commitment.
    pub verifier: Option<AccountId>,
    /// The verdict is due by then, seconds after genesis (0 until a verifier is drawn).
    pub verdict_deadline_s: u64,
    /// Where it stands.
    pub state: ChallengeState,
}

/// What a dispute is about.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DisputeSubject {
    /// A task's committed result.
    Task {
        /// The job.
        job_id: u64,
        /// The task.
        task: u32,
    },
    /// A capacity proof.
    Capacity {
        /// The challenge.
        challenge_id: u64,
    },
}

/// Misconduct the ledger can prove by itself (rules §10), each mapped to a tier
/// (docs/protocol.md, "Offences and tiers").
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Offence {
    /// No capacity commitment before the deadline.
    CapacityMissed,
    /// A capacity proof that referees (or an unanswered dispute) found bad.
    CapacityFailed,
    /// Repeatedly missed start deadlines while heartbeats said the node was online.
    DeadlinesMissed,
    /// A referee who voted with the losing side.
    RefereeOnLosingSide,
    /// A deterministic task's billed CU above what re-execution measures (output right).
    InflatedMetering,
    /// A deterministic task's output that re-execution contradicts.
    WrongResult,
    /// Two different signed results for one attempt at a task.
    Equivocation,
}

impl Offence {
    /// Every offence.
    pub const ALL: [Offence; 7] = [
        Offence::CapacityMissed,
        Offence::CapacityFailed,
        Offence::DeadlinesMissed,
        Offence::RefereeOnLosingSide,
        Offence::InflatedMetering,
        Offence::WrongResult,
        Offence::Equivocation,
    ];

    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Offence::CapacityMissed => "capacity_missed",
            Offence::CapacityFailed => "capacity_failed",
            Offence::DeadlinesMissed => "deadlines_missed",
            Offence::RefereeOnLosingSide => "referee_on_losing_side",
            Offence::InflatedMetering => "inflated_metering",
            Offence::WrongResult => "wrong_result",
            Offence::Equivocation => "equivocation",
        }
    }
}

/// rules §10's penalty tiers.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// 5–10% of stake.
    Minor,
    /// 10–30% of stake and rewards suspended.
    Moderate,
    /// All stake and a permanent ban of the DID.
    Severe,
}

/// How a dispute ended.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum DisputeOutcome {
    /// Referees are still answering.
    Open,
    /// A majority sided with the challenger.
    NodeAtFault {
        /// The offence proven.
        offence: Offence,
    },
    /// A majority sided with the node: the challenger's deposit goes to the node.
    ChallengerWrong,
    /// No majority either way (too few referees, or too few answers): the deposit comes back and
    /// the subject is treated as unverified.
    Inconclusive,
}

/// A dispute before referees.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Dispute {
    /// Sequential id.
    pub id: u64,
    /// About what.
    pub subject: DisputeSubject,
    /// The node whose result or proof is disputed.
    pub accused: AccountId,
    /// Who disputes it.
    pub challenger: AccountId,
    /// VCAI the challenger posted.
    pub deposit: Amount,
    /// The node's side: its commitment hash, or [`capacity_claim`]`(true)`.
    pub node_claim: Hash,
    /// The challenger's side.
    pub challenger_claim: Hash,
    /// The offence the node committed if the challenger is right.
    pub offence: Offence,
    /// Drawn at the block after the dispute opened (empty until then).
    pub referees: Vec<AccountId>,
    /// Answers so far: referee and the claim it supports (a hash of neither side counts for
    /// neither).
    pub votes: Vec<(AccountId, Hash)>,
    /// Opened, seconds after genesis.
    pub opened_s: u64,
    /// Referees answer by then, seconds after genesis (0 until they are drawn).
    pub deadline_s: u64,
    /// How it ended.
    pub outcome: DisputeOutcome,
}

/// The claim a capacity vote or verdict stands for.
pub fn capacity_claim(pass: bool) -> Hash {
    Hash::of(
        Domain::CapacityClaim,
        &[if pass { b"pass" as &[u8] } else { b"fail" }],
    )
}

/// Where a slash stands.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum SlashState {
    /// Held in the slash escrow until the appeal window ends.
    Escrowed,
    /// Paid out: compensation to affected buyers first, then the bounty, then the reserve.
    PaidOut {
        /// VCAI to affected buyers.
        compensation: Amount,
        /// VCAI to the challenger.
        bounty: Amount,
        /// VCAI to the reserve.
        reserve: Amount,
    },
    /// Returned to the node by an upheld appeal.
    Returned,
}

/// A slash (rules §10): stake moved into escrow for the appeal window.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Slash {
    /// Sequential id.
    pub id: u64,
    /// The slashed node.
    pub node: AccountId,
    /// Why.
    pub offence: Offence,
    /// Its tier.
    pub tier: Tier,
    /// VCAI taken from the node's bonded and unbonding stake.
    pub amount: Amount,
    /// When, seconds after genesis.
    pub at_s: u64,
    /// The appeal window ends then, seconds after genesis.
    pub appeal_until_s: u64,
    /// Who proved the offence (paid the bounty), if anyone.
    pub challenger: Option<AccountId>,
    /// Buyers harmed and the USD they paid for the affected work (compensated first).
    pub affected: Vec<(AccountId, Amount)>,
    /// The node's appeal, if it filed one.
    pub appeal: Option<String>,
    /// Where it stands.
    pub state: SlashState,
}

/// A node's service record beyond its task counts (rules §12): what checks found, its capacity
/// proofs, its latency, its offences, and where it stands.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct TrustRecord {
    /// On probation: registered (or grew its hardware) and not yet through its first capacity
    /// challenge. No Proof of Capacity, lower placement weight, higher sampling rate.
    pub probation: bool,
    /// Capacity challenges passed.
    pub challenges_passed: u32,
    /// Capacity challenges failed or missed.
    pub challenges_failed: u32,
    /// The open capacity challenge, if any.
    pub open_challenge: Option<u64>,
    /// CU × 10^6 delivered that a check confirmed or whose window closed unchallenged.
    pub verified_cu_ppm: u128,
    /// Results a check or a referee round confirmed.
    pub results_confirmed: u64,
    /// Results a referee round disproved.
    pub results_disproved: u64,
    /// Σ seconds from assignment to start over the tasks it started.
    pub start_latency_total_s: u64,
    /// Tasks it started.
    pub starts: u64,
    /// Start deadlines missed while its heartbeats said it was online, in the current strike
    /// window.
    pub deadline_strikes: u32,
    /// When the strike window began, seconds after genesis.
    pub strikes_since_s: u64,
    /// Slashes so far.
    pub slashes: u32,
    /// When it was last slashed, seconds after genesis: a bond a slash left below the
    /// requirement is paused at once, without the repricing grace.
    pub last_slash_s: u64,
    /// Moderate offences so far (the third is treated as severe).
    pub moderate_offences: u32,
    /// No Proof of Capacity or Delivery before this incentive period.
    pub rewards_suspended_until_period: u64,
    /// Verifier duties (checks, verdicts, referee votes) answered in time.
    pub duties_done: u64,
    /// Verifier duties left unanswered.
    pub duties_missed: u64,
    /// Tasks assigned to, running on, or awaiting settlement from this node.
    pub open_tasks: u32,
    /// Left the network (`Deregister`); its record stays.
    pub deregistered: bool,
    /// Banned for a severe offence: its DID can never register again.
    pub banned: bool,
}

/// Work the ledger has drawn a verifier for; its daemon reads its list from the API.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case", tag = "duty")]
pub enum Duty {
    /// Re-execute a sampled task and answer with `VerifyResult` or `ChallengeResult`.
    Check {
        /// The job.
        job_id: u64,
        /// The task.
        task: u32,
    },
    /// Check a committed capacity proof and answer with `CapacityVerdict`.
    Verdict {
        /// The challenge.
        challenge_id: u64,
    },
    /// Answer a dispute as a referee with `RefereeVote`.
    Referee {
        /// The dispute.
        dispute_id: u64,
    },
}
