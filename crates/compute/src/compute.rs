//! The compute node daemon (`vcity node compute`; issue 3 point 3; whitepaper §2.4.1, §6.2;
//! rules §4, §5).
//!
//! It detects its hardware, registers (or updates its registration), heartbeats at the ledger's
//! interval, and polls the chain for tasks assigned to it. For each new assignment it records the
//! task in its [`Journal`], sends `StartTask`, fetches the module (content-addressed, cached) and
//! runs the task in the deterministic executor on a worker thread, at most `slots` at a time.
//! When a run ends it stores the output and log, records the commitment, and sends
//! `SubmitResult` (or `FailTask` when only the wall-clock net stopped it). Every transaction goes
//! out from the one control loop, so nonces never race.
//!
//! After a crash the journal decides: a task executing when the node died is run again from the
//! start; a result not yet seen on the ledger is reported again; a task the ledger shows running
//! here that the journal does not know is given up with a reason. Nothing is dropped silently.
//!
//! Trust (docs/verification.md): every result goes out with the node's signed statement of its
//! commitment for the attempt; heartbeats carry measured health (the executor's self-test, free
//! disk, GPU temperature and ECC/XID errors); and when the ledger issues a capacity challenge the
//! node computes the products on a worker thread, commits to them before the deadline, keeps
//! their row hashes in the journal and opens rows to the drawn verifier or referees through its
//! server. In this build every product runs on the CPU: there is no GPU kernel yet, so a node
//! that declares GPUs cannot meet their deadlines (the startup log says so).

use crate::journal::{now_ms, Entry, Journal, Stage};
use crate::server::{self, Shared};
use anyhow::Context as _;
use ed25519_dalek::SigningKey;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use vcity_executor::{fuel_for_cu_ppm, Ending, Executor, Limits, Outcome, Task};
use vcity_sdk::confidential::{self, JobKey, NodeSecret, Part};
use vcity_sdk::{Client, ClientError};
use vcity_types::compute::{
    content_address, task_seed, ExecutorKind, FailTask, GpuSpec, Job, NodeHeartbeat, NodeKind,
    RegisterNode, Role, StartTask, SubmitResult, TaskState, UpdateNode,
};
use vcity_types::trust::ChallengeState;
use vcity_types::tx::Message;
use vcity_types::{AccountId, Amount};

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct ComputeOptions {
    /// The chain node's API.
    pub api: String,
    /// Where the journal, outputs and logs live.
    pub data_dir: PathBuf,
    /// Where this node serves outputs and metrics.
    pub listen: SocketAddr,
    /// The URL registered on the ledger [default: `http://{listen}`].
    pub endpoint: Option<String>,
    /// Region label.
    pub region: String,
    /// rules §4 kind.
    pub kind: NodeKind,
    /// Price offer per CU, USD base units.
    pub price_per_cu_usd: Amount,
    /// VCAI to stake at registration [default: the requirement for the detected capacity].
    pub stake: Option<Amount>,
    /// Tasks run at once [default: CPU cores].
    pub slots: Option<usize>,
    /// How often to look for assignments.
    pub poll_interval: Duration,
    /// Executor bounds.
    pub limits: Limits,
    /// GPUs to register instead of what NVML detects (for machines where NVML cannot see them;
    /// capacity challenges check them either way).
    pub declared_gpus: Option<Vec<GpuSpec>>,
    /// Whether process tasks that ask for it may reach the network.
    pub network_egress: bool,
    /// Whether to offer the sandbox for process tasks (where bubblewrap is installed).
    pub sandbox: bool,
    /// Bytes of unpacked images kept in the cache (least recently used evicted past it).
    pub image_cache_bytes: u64,
    /// Test-only: make this node lie in a chosen way, so that the trust layer's tests can watch
    /// it being caught. Never set it on a real node.
    pub misbehave: Option<Misbehaviour>,
    /// Where TEE attestation evidence comes from (docs/attestation.md).
    pub tee: crate::tee::Source,
    /// Intel collateral for a TDX quote obtained on this machine.
    pub tee_collateral: Option<PathBuf>,
}

/// The lies a test node can tell (`--misbehave`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Commit to an output that is not the program's (one byte appended).
    WrongOutput,
    /// Bill twice the CU the program used (capped at the task's budget).
    InflateCu,
}

impl std::str::FromStr for Misbehaviour {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "wrong-output" => Ok(Misbehaviour::WrongOutput),
            "inflate-cu" => Ok(Misbehaviour::InflateCu),
            other => Err(format!("{other:?} is wrong-output or inflate-cu")),
        }
    }
}

/// A finished run, from a worker to the control loop.
struct Finished {
    job_id: u64,
    task: u32,
    outcome: Outcome,
    max_cu_ppm: u64,
}

/// What a worker hands back to the control loop.
enum Done {
    /// A task ran.
    Task(Finished),
    /// A capacity challenge's products: their roots, or `None` when the deadline passed first.
    Proof(u64, Option<Vec<crate::capacity::DeviceProof>>),
    /// A service stopped because the ledger ended its task: nothing to report.
    Released(u64, u32),
}

/// How often the executor's self-test runs again.
const SELF_TEST_EVERY: Duration = Duration::from_secs(600);
/// How often finished tasks past the retention period are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);
/// How often the daemon looks for a capacity challenge.
const CHALLENGE_CHECK: Duration = Duration::from_secs(1);

/// Resend a report the ledger has not reflected after this long.
const RESEND_AFTER_MS: u64 = 15_000;
/// Open jobs fetched per poll.
const POLL_LIMIT: usize = 500;

/// Finds the sandbox for process tasks and says in the log and the registration what it can
/// enforce (docs/job-spec.md, "Process jobs").
fn probe_sandbox(
    options: &ComputeOptions,
    hardware: &mut vcity_types::compute::Hardware,
) -> Option<Arc<vcity_sandbox::Sandbox>> {
    use vcity_types::compute::{CgroupVersion, SandboxSupport};
    if !options.sandbox {
        tracing::info!("sandbox: off (--no-sandbox): WASM tasks only");
        hardware.sandbox = None;
        return None;
    }
    match vcity_sandbox::Sandbox::probe(&options.data_dir.join("sandbox")) {
        Ok(sandbox) => {
            let limits = match sandbox.cgroups() {
                vcity_sandbox::cgroup::Support::V2 { .. } => CgroupVersion::V2,
                vcity_sandbox::cgroup::Support::V1 { .. } => CgroupVersion::V1,
                vcity_sandbox::cgroup::Support::None => CgroupVersion::None,
            };
            if limits == CgroupVersion::None {
                tracing::warn!(
                    "sandbox: bubblewrap found but no delegated cgroups: memory and process \
                     limits cannot be enforced, so no process tasks will be offered"
                );
            } else if let Err(why) =
                crate::selftest::process_check(&sandbox, &options.data_dir.join("sandbox-check"))
            {
                tracing::error!(
                    %why,
                    "sandbox: a test program could not run in it, so no process tasks will be \
                     offered (see `vcity node compute --self-test`)"
                );
                hardware.sandbox = None;
                return None;
            } else {
                tracing::info!(
                    cgroups = sandbox.cgroups().name(),
                    network_egress = options.network_egress,
                    "sandbox: process tasks run under bubblewrap with cgroup limits"
                );
            }
            hardware.sandbox = Some(SandboxSupport {
                limits,
                network_egress: options.network_egress,
            });
            Some(Arc::new(sandbox))
        }
        Err(error) => {
            tracing::warn!(%error, "sandbox: unavailable: WASM tasks only");
            hardware.sandbox = None;
            None
        }
    }
}

/// The daemon's state across loop turns.
struct Daemon {
    options: ComputeOptions,
    key: SigningKey,
    me: AccountId,
    client: Client,
    journal: Journal,
    executor: Arc<Executor>,
    sandbox: Option<Arc<vcity_sandbox::Sandbox>>,
    images: Option<vcity_oci::store::Store>,
    shared: Arc<Shared>,
    slots: usize,
    running: BTreeSet<(u64, u32)>,
    done_sender: mpsc::Sender<Done>,
    done_receiver: mpsc::Receiver<Done>,
    chain_id: String,
    executor_ok: bool,
    self_tested: Instant,
    gpus: crate::health::GpuMonitor,
    /// Which of this node's GPUs each GPU process task holds.
    gpus_held: crate::gpu::Allocator,
    /// The capacity challenge being computed, if any, and those already answered.
    proving: Option<u64>,
    answered: BTreeSet<u64>,
    /// When to look at this node's TEE tier again (`None`: never, there is no TEE).
    next_attestation: Option<Instant>,
    /// The chain nonce of the last evidence sent: evidence is sent at most once per nonce, so a
    /// refused one costs one fee an interval, not one a poll.
    attested_nonce: Option<vcity_types::Hash>,
    /// The X25519 secret bound in this node's evidence, to which owners seal confidential jobs'
    /// keys (`None` with `--tee off`).
    encryption: Option<NodeSecret>,
    /// The encryption key the ledger's record of this node's standing tier holds, as last read.
    encryption_on_ledger: Option<vcity_types::compute::EncryptionKey>,
}

/// Runs the compute daemon until `stop` is set.
pub fn run(options: ComputeOptions, key: SigningKey, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    let me = AccountId::from_public_key(&key.verifying_key());
    let client = Client::new(&options.api);
    let journal = Journal::open(&options.data_dir)
        .with_context(|| format!("opening the journal in {}", options.data_dir.display()))?;
    let params = wait_for_chain(&client, &stop)?;
    let known_models: Vec<String> = params
        .nodes
        .gpu_factors_ppm
        .iter()
        .map(|(model, _)| model.clone())
        .collect();
    let mut detected = crate::hardware::detect(&known_models);
    if let Some(gpus) = &options.declared_gpus {
        tracing::warn!(
            ?gpus,
            "registering the GPUs given on the command line, not NVML's"
        );
        detected.hardware.gpus = gpus.clone();
    }
    for note in &detected.notes {
        tracing::info!(note = %note, "hardware");
    }
    if !detected.hardware.gpus.is_empty() {
        tracing::error!(
            "this build computes capacity challenges on the CPU only (no GPU kernel yet): a \
             product sized for each declared GPU will miss its deadline, the GPUs will be taken \
             off the registration and the node slashed (docs/verification.md, \"Limits\")"
        );
    }
    if options.misbehave.is_some() {
        tracing::error!(misbehave = ?options.misbehave, "TEST MODE: this node lies on purpose");
    }
    tracing::info!(
        cpu_cores = detected.hardware.cpu_cores,
        ram_mib = detected.hardware.ram_mib,
        gpus = ?detected.hardware.gpus,
        "detected hardware"
    );
    let sandbox = probe_sandbox(&options, &mut detected.hardware);
    let slots = options
        .slots
        .unwrap_or(detected.hardware.cpu_cores as usize)
        .max(1);
    let executor =
        Arc::new(Executor::new(options.limits.clone()).context("starting the executor")?);
    let self_test = crate::health::executor_self_test(&executor);
    if let Err(why) = &self_test {
        tracing::error!(%why, "the executor's self-test failed: heartbeats will say unhealthy");
    }
    let chain_id = client.status().context("reading the chain id")?.chain_id;
    let shared = Arc::new(Shared::new(
        me,
        client.clone(),
        journal.clone(),
        detected.clone(),
        Some((key.clone(), chain_id.clone())),
    ));
    let listener = std::net::TcpListener::bind(options.listen)
        .with_context(|| format!("binding {}", options.listen))?;
    let bound = listener.local_addr()?;
    let endpoint = options
        .endpoint
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    server::spawn(listener, shared.clone())?;
    register(
        &client,
        &key,
        &options,
        &endpoint,
        &detected.hardware,
        &params,
    )?;
    tracing::info!(account = %me, endpoint = %endpoint, slots, "compute node ready");
    let images = match &sandbox {
        Some(_) => Some(
            vcity_oci::store::Store::open(
                &options.data_dir.join("images"),
                options.image_cache_bytes,
                vcity_oci::Limits::default(),
            )
            .context("opening the image cache")?,
        ),
        None => None,
    };
    // Kept beside the node's other state, inside the confidential VM where there is one: a
    // restart keeps the key the evidence bound.
    let encryption = match options.tee {
        crate::tee::Source::Off => None,
        _ => {
            let path = options.data_dir.join("tee-encryption.key");
            match NodeSecret::load_or_create(&path) {
                Ok(secret) => Some(secret),
                Err(error) => {
                    tracing::warn!(%error, "no encryption key: this node takes no confidential jobs");
                    None
                }
            }
        }
    };
    let (done_sender, done_receiver) = mpsc::channel();
    let mut daemon = Daemon {
        options,
        key,
        me,
        client,
        journal,
        executor,
        images,
        sandbox,
        shared,
        slots,
        running: BTreeSet::new(),
        done_sender,
        done_receiver,
        chain_id,
        executor_ok: self_test.is_ok(),
        self_tested: Instant::now(),
        gpus: crate::health::GpuMonitor::start(),
        gpus_held: crate::gpu::Allocator::new(crate::gpu::devices(&known_models)),
        proving: None,
        answered: BTreeSet::new(),
        next_attestation: Some(Instant::now()),
        attested_nonce: None,
        encryption,
        encryption_on_ledger: None,
    };
    let heartbeat_every = Duration::from_secs(params.nodes.heartbeat_interval_s.max(1));
    // The first heartbeat goes out at once; later ones at a third of the interval before it is
    // due, so a slow block never makes the node look offline.
    let mut next_heartbeat = Instant::now();
    let mut next_standing_check = Instant::now();
    let mut next_challenge_check = Instant::now();
    let mut next_prune = Instant::now();
    while !stop.load(Ordering::Relaxed) && !crate::parent_gone() {
        if Instant::now() >= next_prune {
            daemon.prune();
            next_prune = Instant::now() + PRUNE_EVERY;
        }
        if Instant::now() >= next_standing_check {
            daemon.check_standing();
            next_standing_check = Instant::now() + STANDING_CHECK;
        }
        if daemon
            .next_attestation
            .is_some_and(|at| Instant::now() >= at)
        {
            daemon.check_attestation();
        }
        if Instant::now() >= next_challenge_check {
            if let Err(error) = daemon.check_challenge() {
                tracing::warn!(error = %format!("{error:#}"), "capacity challenge step failed");
            }
            next_challenge_check = Instant::now() + CHALLENGE_CHECK;
        }
        if Instant::now() >= next_heartbeat {
            match daemon.heartbeat() {
                Ok(()) => next_heartbeat = Instant::now() + heartbeat_every * 2 / 3,
                Err(error) => {
                    tracing::warn!(%error, "heartbeat failed; retrying");
                    next_heartbeat = Instant::now() + Duration::from_secs(1);
                }
            }
        }
        if let Err(error) = daemon.turn() {
            tracing::warn!(error = %format!("{error:#}"), "poll failed; retrying");
        }
        // Wait for a worker or the next poll, whichever comes first.
        match daemon
            .done_receiver
            .recv_timeout(daemon.options.poll_interval)
        {
            Ok(Done::Task(finished)) => daemon.finish(finished),
            Ok(Done::Proof(id, proofs)) => daemon.proved(id, proofs),
            Ok(Done::Released(job_id, task)) => {
                daemon.running.remove(&(job_id, task));
                daemon.shared.set_running(daemon.running.len());
                tracing::info!(job = job_id, task, "service stopped");
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    Ok(())
}

/// Waits until the chain answers; returns its parameters.
pub(crate) fn wait_for_chain(
    client: &Client,
    stop: &AtomicBool,
) -> anyhow::Result<vcity_ledger::ParamsView> {
    let mut warned = false;
    loop {
        match client.params() {
            Ok(params) => return Ok(params),
            Err(error) if !stop.load(Ordering::Relaxed) && !crate::parent_gone() => {
                if !warned {
                    tracing::info!(%error, "waiting for the chain node");
                    warned = true;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(error) => return Err(error).context("the chain node did not answer"),
        }
    }
}

/// Registers, or brings the registration up to date.
fn register(
    client: &Client,
    key: &SigningKey,
    options: &ComputeOptions,
    endpoint: &str,
    hardware: &vcity_types::compute::Hardware,
    params: &vcity_ledger::ParamsView,
) -> anyhow::Result<()> {
    let me = AccountId::from_public_key(&key.verifying_key());
    let message = match client.node(&me) {
        Ok(view) => {
            let record = view.node;
            if record.role != Role::Compute {
                anyhow::bail!("account {me} is registered as a {:?} node", record.role);
            }
            let update = UpdateNode {
                price_per_cu_usd: (record.price_per_cu_usd != options.price_per_cu_usd)
                    .then_some(options.price_per_cu_usd),
                endpoint: (record.endpoint != endpoint).then(|| endpoint.to_string()),
                hardware: (record.hardware != *hardware).then(|| hardware.clone()),
            };
            if update.price_per_cu_usd.is_none()
                && update.endpoint.is_none()
                && update.hardware.is_none()
            {
                return Ok(());
            }
            Message::UpdateNode(update)
        }
        Err(ClientError::NotFound(_)) => {
            let capacity = vcity_ledger::nodes::capacity_ppm(&params.nodes, hardware)
                .context("the detected hardware")?;
            let stake = match options.stake {
                Some(stake) => stake,
                None => vcity_ledger::nodes::required_stake(&params.nodes, Role::Compute, capacity),
            };
            Message::RegisterNode(RegisterNode {
                role: Role::Compute,
                kind: options.kind,
                hardware: hardware.clone(),
                region: options.region.clone(),
                endpoint: endpoint.to_string(),
                price_per_cu_usd: options.price_per_cu_usd,
                stake,
            })
        }
        Err(error) => return Err(error).context("looking up this node's registration"),
    };
    send_and_wait(client, key, message).context("registering the compute node")
}

/// Sends one message and waits for its receipt; a refusal is an error.
pub(crate) fn send_and_wait(
    client: &Client,
    key: &SigningKey,
    message: Message,
) -> anyhow::Result<()> {
    let name = message.name();
    let hash = client.send(key, vec![message], None)?;
    let view = client.wait_for_transaction(&hash, Duration::from_secs(60))?;
    match view.receipt {
        Some(receipt) if receipt.code == 0 => Ok(()),
        Some(receipt) => anyhow::bail!("{name} refused (code {}): {}", receipt.code, receipt.error),
        None => anyhow::bail!("{name}: no receipt"),
    }
}

/// How often the daemon checks its bond against the (weekly repriced) requirement.
const STANDING_CHECK: Duration = Duration::from_secs(60);
/// How often a node with a TEE looks at whether its verdict needs renewing.
const ATTESTATION_CHECK: Duration = Duration::from_secs(60);

impl Daemon {
    /// Warns the operator when the bond is below the requirement: in grace (still scheduled,
    /// until when) or paused (not scheduled, no Proof of Capacity), with the VCAI to add.
    fn check_standing(&self) {
        let view = match self.client.node(&self.me) {
            Ok(view) => view,
            Err(error) => {
                tracing::debug!(%error, "reading this node's standing failed");
                return;
            }
        };
        self.shared.set_standing(crate::server::Standing {
            node: view.clone(),
            rewards: self.client.rewards(&self.me).ok(),
        });
        let short = view
            .required_stake
            .checked_sub(view.node.stake)
            .unwrap_or(Amount::ZERO)
            .to_decimal(vcity_types::Denom::Vcai);
        if view.paused {
            tracing::warn!(
                add_vcai = %short,
                "stake below the requirement past its grace: this node is paused (no tasks, no \
                 Proof of Capacity) until it adds stake (vcity nodes add-stake)"
            );
        } else if let Some(until_s) = view.grace_until_s {
            tracing::warn!(
                add_vcai = %short,
                grace_until_s = until_s,
                "the stake requirement was raised: add stake before the grace ends"
            );
        }
    }

    /// Presents TEE evidence when the node has no tier that stands, or when its verdict is in
    /// the last quarter of its life; says once that there is no TEE when there is none.
    fn check_attestation(&mut self) {
        self.next_attestation = Some(Instant::now() + ATTESTATION_CHECK);
        let source = self.options.tee.clone();
        if source == crate::tee::Source::Off {
            tracing::info!("TEE attestation is off (--tee off): no TEE tier");
            self.next_attestation = None;
            return;
        }
        let (view, status) = match (self.client.node(&self.me), self.client.attestation()) {
            (Ok(view), Ok(status)) => (view, status),
            (view, status) => {
                tracing::debug!(view = ?view.err(), status = ?status.err(), "reading the TEE tier failed");
                return;
            }
        };
        let tee = &view.node.tee;
        let now_s = view.node.last_heartbeat_s;
        let renew_within_s = status.params.rules.validity_s / 4;
        let mine = self.encryption.as_ref().map(NodeSecret::public);
        let standing = tee.tier != vcity_types::compute::TeeTier::None;
        self.encryption_on_ledger = standing.then_some(tee.encryption_key);
        if standing && tee.expires_s > now_s.saturating_add(renew_within_s) {
            if mine.is_none_or(|mine| mine == tee.encryption_key) {
                return;
            }
            tracing::warn!(
                "the ledger's record binds another encryption key than this node's (its key \
                 file changed): presenting evidence again"
            );
        }
        if self.attested_nonce == Some(status.nonce) {
            tracing::warn!(
                tier = tee.tier.as_str(),
                "the evidence sent for this nonce did not give a standing TEE tier (see its \
                 receipt); trying again with the next nonce"
            );
            return;
        }
        let encryption_key = mine.unwrap_or_default();
        let binding = vcity_attest::Binding {
            node_key: self.me.0,
            nonce: status.nonce.0,
            encryption_key: encryption_key.0,
        };
        let evidence = match &source {
            crate::tee::Source::File(path) => crate::tee::read_evidence(path),
            _ => crate::tee::obtain(
                &binding,
                &crate::tee::Options {
                    intel_collateral: self.options.tee_collateral.clone(),
                    ..Default::default()
                },
            ),
        };
        let evidence = match evidence {
            Ok(evidence) => evidence,
            Err(crate::tee::TeeError::Absent(why)) => {
                tracing::info!(
                    %why,
                    "no TEE: this node registers without a TEE tier and earns no TEE-level trust"
                );
                self.next_attestation = None;
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "TEE evidence could not be obtained; retrying later");
                return;
            }
        };
        let encoded = match borsh::to_vec(&evidence) {
            Ok(encoded) => encoded,
            Err(error) => {
                tracing::warn!(%error, "encoding the TEE evidence");
                return;
            }
        };
        match self.send(Message::AttestNode(vcity_types::compute::AttestNode {
            evidence: encoded,
            nonce: status.nonce,
            encryption_key,
        })) {
            Ok(()) => {
                self.attested_nonce = Some(status.nonce);
                tracing::info!(
                    evidence_hash = %vcity_types::Hash(evidence.hash()),
                    gpus = evidence.gpus.len(),
                    "TEE evidence presented to the ledger"
                );
            }
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "presenting TEE evidence failed")
            }
        }
    }

    fn send(&self, message: Message) -> anyhow::Result<()> {
        let name = message.name();
        self.client
            .send(&self.key, vec![message], None)
            .with_context(|| format!("sending {name}"))?;
        Ok(())
    }

    fn heartbeat(&mut self) -> anyhow::Result<()> {
        if self.self_tested.elapsed() >= SELF_TEST_EVERY {
            let result = crate::health::executor_self_test(&self.executor);
            if let Err(why) = &result {
                tracing::error!(%why, "the executor's self-test failed");
            }
            self.executor_ok = result.is_ok();
            self.self_tested = Instant::now();
        }
        let running = self.running.len() as u32;
        let health = crate::health::report(self.executor_ok, &self.options.data_dir, &self.gpus);
        self.send(Message::NodeHeartbeat(NodeHeartbeat {
            load_ppm: (u64::from(running) * 1_000_000 / self.slots as u64).min(1_000_000) as u32,
            running_tasks: running,
            health,
        }))
    }

    /// Starts computing an open capacity challenge (once), on a worker thread that gives up at
    /// the deadline.
    fn check_challenge(&mut self) -> anyhow::Result<()> {
        if self.proving.is_some() {
            return Ok(());
        }
        let view = self.client.node(&self.me)?;
        let Some(challenge) = view
            .challenges
            .into_iter()
            .find(|challenge| challenge.state == ChallengeState::AwaitingCommit)
        else {
            return Ok(());
        };
        if self.answered.contains(&challenge.id) {
            return Ok(());
        }
        if let Some(proofs) = self.journal.proof(challenge.id) {
            // Computed before a restart: commit again.
            self.proved(challenge.id, Some(proofs));
            return Ok(());
        }
        let now_s = self.client.status()?.chain_time_s;
        // Leave two seconds for the commitment to reach a block.
        let left_s = challenge
            .commit_deadline_s
            .saturating_sub(now_s)
            .saturating_sub(2);
        let deadline = Instant::now() + Duration::from_secs(left_s);
        tracing::info!(
            challenge = challenge.id,
            devices = challenge.devices.len(),
            left_s,
            "capacity challenge: computing the products"
        );
        self.proving = Some(challenge.id);
        let sender = self.done_sender.clone();
        let threads = std::thread::available_parallelism().map_or(1, |count| count.get());
        std::thread::Builder::new()
            .name(format!("capacity-{}", challenge.id))
            .spawn(move || {
                let mut proofs = Vec::new();
                for (index, device) in challenge.devices.iter().enumerate() {
                    match crate::capacity::prove_device(
                        &challenge.seed,
                        index as u32,
                        device.n as usize,
                        threads,
                        Some(deadline),
                    ) {
                        Some(proof) => proofs.push(proof),
                        None => {
                            let _ = sender.send(Done::Proof(challenge.id, None));
                            return;
                        }
                    }
                }
                let _ = sender.send(Done::Proof(challenge.id, Some(proofs)));
            })
            .context("starting the capacity worker")?;
        Ok(())
    }

    /// A capacity worker finished: keep the proof and commit to it.
    fn proved(&mut self, id: u64, proofs: Option<Vec<crate::capacity::DeviceProof>>) {
        self.proving = None;
        self.answered.insert(id);
        let Some(proofs) = proofs else {
            tracing::warn!(
                challenge = id,
                "capacity challenge: the products did not finish before the deadline"
            );
            return;
        };
        if let Err(error) = self.journal.put_proof(id, &proofs) {
            tracing::warn!(challenge = id, %error, "keeping the capacity proof failed");
        }
        let roots = proofs
            .iter()
            .map(crate::capacity::DeviceProof::root)
            .collect();
        match self.send(Message::CommitCapacity(
            vcity_types::trust::CommitCapacity {
                challenge_id: id,
                roots,
            },
        )) {
            Ok(()) => tracing::info!(challenge = id, "capacity challenge: committed"),
            Err(error) => {
                tracing::warn!(challenge = id, error = %format!("{error:#}"), "committing failed; retrying");
                self.answered.remove(&id);
            }
        }
    }

    /// Drops outputs and logs of tasks that ended longer ago than the ledger's retention
    /// period (docs/job-spec.md, "Outputs").
    fn prune(&mut self) {
        let retention_s = match self.client.params() {
            Ok(params) => params.jobs.output_retention_s,
            Err(error) => {
                tracing::warn!(%error, "reading the retention period failed; pruning later");
                return;
            }
        };
        let cutoff_ms = now_ms().saturating_sub(retention_s.saturating_mul(1_000));
        match self.journal.prune(cutoff_ms) {
            Ok(pruned) if pruned.tasks > 0 => tracing::info!(
                tasks = pruned.tasks,
                output_bytes = pruned.output_bytes,
                retention_s,
                "pruned tasks past the retention period"
            ),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "pruning the journal failed"),
        }
    }

    /// One poll: act on every task the ledger shows assigned to or running on this node, then on
    /// journal entries the ledger no longer shows here.
    fn turn(&mut self) -> anyhow::Result<()> {
        let jobs = self.client.open_jobs(Some(&self.me), POLL_LIMIT)?;
        let mut seen = BTreeSet::new();
        for job in &jobs {
            for (index, task) in job.tasks.iter().enumerate() {
                let index = index as u32;
                let (assigned, running) = match &task.state {
                    TaskState::Assigned { node, .. } if *node == self.me => (true, false),
                    TaskState::Running { node, .. } if *node == self.me => (false, true),
                    _ => continue,
                };
                seen.insert((job.id, index));
                if let Err(error) = self.act(job, index, assigned, running, task.attempts) {
                    tracing::warn!(job = job.id, task = index, error = %format!("{error:#}"), "task step failed");
                }
            }
        }
        // Services whose task the ledger ended (cancelled, term over, reassigned) stop; their
        // workers then release them.
        for &(job_id, task) in &self.running {
            if !seen.contains(&(job_id, task)) && self.shared.services.stop(job_id) {
                let _ = self.journal.log_line(
                    job_id,
                    task,
                    "the ledger ended the service: stopping it",
                );
            }
        }
        // Entries the ledger no longer shows here: finished (settled, completed, reassigned).
        for entry in self.journal.unfinished()? {
            let key = (entry.job_id, entry.task);
            if seen.contains(&key) || self.running.contains(&key) {
                continue;
            }
            let job = match self.client.job(entry.job_id) {
                Ok(job) => job,
                Err(ClientError::NotFound(_)) => {
                    self.finish_entry(entry, "the job does not exist".into())?;
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            let outcome = match job.tasks.get(entry.task as usize).map(|task| &task.state) {
                Some(TaskState::Completed { node, .. }) if *node == self.me => "completed".into(),
                Some(TaskState::Settled { node, .. }) if *node == self.me => "settled".into(),
                Some(TaskState::Assigned { node, .. } | TaskState::Running { node, .. })
                    if *node == self.me =>
                {
                    // Listed after our poll: next turn.
                    continue;
                }
                Some(state) => format!("the ledger moved on: {}", state.describe()),
                None => "the task does not exist".into(),
            };
            self.finish_entry(entry, outcome)?;
        }
        self.shared.set_running(self.running.len());
        Ok(())
    }

    fn finish_entry(&self, entry: Entry, outcome: String) -> anyhow::Result<()> {
        let _ = self
            .journal
            .log_line(entry.job_id, entry.task, &format!("finished: {outcome}"));
        let commitment = entry.commitment().cloned();
        self.journal.put(&Entry {
            stage: Stage::Finished {
                outcome,
                commitment,
            },
            updated_ms: now_ms(),
            ..entry
        })?;
        Ok(())
    }

    /// One task the ledger shows assigned to (`assigned`) or running on (`running`) this node.
    fn act(
        &mut self,
        job: &Job,
        task: u32,
        assigned: bool,
        running: bool,
        attempts: u32,
    ) -> anyhow::Result<()> {
        let key = (job.id, task);
        let entry = self.journal.get(job.id, task)?;
        // A new assignment, or a reassignment of a task this node finished before.
        let fresh = match &entry {
            None => true,
            Some(entry) => {
                matches!(entry.stage, Stage::Finished { .. })
                    || entry.attempt < attempts && assigned
            }
        };
        if fresh && assigned && job.workload.confidential.is_some() {
            let granted = job
                .tasks
                .get(task as usize)
                .is_some_and(|entry| entry.sealed_key.is_some());
            if !granted {
                // The owner seals the job's key to this node's attested key; the start deadline
                // counts from that grant.
                return Ok(());
            }
            let mine = self.encryption.as_ref().map(NodeSecret::public);
            if mine.is_some() && mine != self.encryption_on_ledger {
                // The record may have changed since the last look (evidence just accepted).
                if let Ok(view) = self.client.node(&self.me) {
                    self.encryption_on_ledger = (view.node.tee.tier
                        != vcity_types::compute::TeeTier::None)
                        .then_some(view.node.tee.encryption_key);
                }
            }
            if mine.is_none() || mine != self.encryption_on_ledger {
                tracing::warn!(
                    job = job.id,
                    task,
                    "a confidential task, but this node's encryption key is not the one its \
                     standing attestation binds: giving it back"
                );
                return self.give_up(
                    job.id,
                    task,
                    "this node's encryption key is not the one its attestation binds",
                );
            }
        }
        if fresh {
            if running {
                // The ledger has it running here but this node has no record of it (its journal
                // was lost): give it up so it is reassigned, rather than leave it hanging.
                self.send(Message::FailTask(FailTask {
                    job_id: job.id,
                    task,
                    reason: "the node has no record of this task (restarted without its journal)"
                        .into(),
                }))?;
                return Ok(());
            }
            self.journal.put(&Entry {
                job_id: job.id,
                task,
                attempt: attempts,
                stage: Stage::Accepted,
                updated_ms: now_ms(),
            })?;
            self.journal.log_line(
                job.id,
                task,
                &format!("assigned (attempt {attempts}); starting"),
            )?;
            self.send(Message::StartTask(StartTask {
                job_id: job.id,
                task,
            }))?;
            self.spawn(job, task)?;
            return Ok(());
        }
        let Some(entry) = entry else { return Ok(()) };
        match &entry.stage {
            Stage::Accepted => {
                if self.running.contains(&key) {
                    return Ok(());
                }
                // Executing when the node stopped: run it again from the start.
                self.journal
                    .log_line(job.id, task, "resuming after a restart: running again")?;
                if assigned {
                    self.send(Message::StartTask(StartTask {
                        job_id: job.id,
                        task,
                    }))?;
                }
                self.spawn(job, task)?;
            }
            Stage::Ran { commitment } => {
                if assigned {
                    self.send(Message::StartTask(StartTask {
                        job_id: job.id,
                        task,
                    }))?;
                }
                self.report(job.id, task, entry.attempt, Some(commitment.clone()))?;
            }
            Stage::TimedOut => {
                if assigned {
                    self.send(Message::StartTask(StartTask {
                        job_id: job.id,
                        task,
                    }))?;
                }
                self.report(job.id, task, entry.attempt, None)?;
            }
            Stage::Reported {
                commitment,
                sent_ms,
            } => {
                if now_ms().saturating_sub(*sent_ms) > RESEND_AFTER_MS {
                    if assigned {
                        self.send(Message::StartTask(StartTask {
                            job_id: job.id,
                            task,
                        }))?;
                    }
                    self.report(job.id, task, entry.attempt, commitment.clone())?;
                }
            }
            Stage::Finished { .. } => {}
        }
        Ok(())
    }

    /// Sends the result (or gives the task up) and records that it was sent.
    fn report(
        &self,
        job_id: u64,
        task: u32,
        attempt: u32,
        commitment: Option<vcity_types::compute::ResultCommitment>,
    ) -> anyhow::Result<()> {
        let message = match &commitment {
            Some(commitment) => Message::SubmitResult(SubmitResult::signed(
                &self.chain_id,
                &self.key,
                job_id,
                task,
                attempt,
                commitment.clone(),
            )),
            None => Message::FailTask(FailTask {
                job_id,
                task,
                reason: "stopped by the wall-clock limit, or the node's sandbox failed (see the \
                         task's log)"
                    .into(),
            }),
        };
        self.send(message)?;
        self.journal.put(&Entry {
            job_id,
            task,
            attempt,
            stage: Stage::Reported {
                commitment,
                sent_ms: now_ms(),
            },
            updated_ms: now_ms(),
        })?;
        Ok(())
    }

    /// Runs a task on a worker thread (when a slot is free; otherwise a later turn does).
    fn spawn(&mut self, job: &Job, task: u32) -> anyhow::Result<()> {
        let key = (job.id, task);
        if self.running.contains(&key) || self.running.len() >= self.slots {
            return Ok(());
        }
        if let ExecutorKind::Process { .. } | ExecutorKind::Oci { .. } = job.workload.executor {
            return self.spawn_process(job, task);
        }
        let module = match self.journal.module(&job.workload.module_hash) {
            Some(bytes) => bytes,
            None => {
                let bytes = self
                    .client
                    .blob(&job.workload.module_hash)
                    .with_context(|| format!("fetching module {}", job.workload.module_hash))?;
                self.journal.put_module(&bytes)?;
                bytes
            }
        };
        self.running.insert(key);
        self.shared.set_running(self.running.len());
        let executor = self.executor.clone();
        let client = self.client.clone();
        let job_for_input = job.clone();
        let factor_ppm = job
            .tasks
            .get(task as usize)
            .map_or(vcity_executor::CPU_CORE_FACTOR_PPM, |entry| {
                entry.factor_ppm.max(1)
            });
        let fuel = fuel_for_cu_ppm(job.max_cu_ppm_per_task, factor_ppm);
        let max_cu_ppm = job.max_cu_ppm_per_task;
        let wall_clock = Duration::from_secs(job.requirements.max_duration_s);
        let sender = self.done_sender.clone();
        let job_id = job.id;
        let secret = self.encryption.clone();
        std::thread::Builder::new()
            .name(format!("task-{job_id}-{task}"))
            .spawn(move || {
                let outcome = match crate::inputs::open_task_input(
                    &client,
                    &job_for_input,
                    task,
                    secret.as_ref(),
                ) {
                    Ok((input, key)) => seal_outcome(
                        executor.run(&Task {
                            module: &module,
                            input: &input,
                            fuel,
                            factor_ppm,
                            seed: task_seed(job_id, task),
                            wall_clock: Some(wall_clock),
                        }),
                        key.as_ref(),
                        job_id,
                        task,
                    ),
                    Err(error) => input_failure(job_id, task, &error),
                };
                let _ = sender.send(Done::Task(Finished {
                    job_id,
                    task,
                    outcome,
                    max_cu_ppm,
                }));
            })
            .context("starting a worker thread")?;
        Ok(())
    }

    /// Runs a process or image task in the sandbox on a worker thread. A node without a
    /// sandbox that enforces limits gives the task up (the ledger placed it on an older
    /// registration).
    fn spawn_process(&mut self, job: &Job, task: u32) -> anyhow::Result<()> {
        let (Some(sandbox), Some(images)) = (
            self.sandbox
                .clone()
                .filter(|sandbox| sandbox.enforces_limits()),
            self.images.clone(),
        ) else {
            self.journal.log_line(
                job.id,
                task,
                "this node has no sandbox that enforces limits",
            )?;
            return self.give_up(job.id, task, "this node runs no process tasks now");
        };
        // A program is small (the blob store's limit) and fetched here; an image may be large
        // and is fetched on the worker.
        let program = match job.workload.executor {
            ExecutorKind::Process { .. } => {
                Some(match self.journal.program(&job.workload.module_hash) {
                    Some(path) => path,
                    None => {
                        let bytes =
                            self.client
                                .blob(&job.workload.module_hash)
                                .with_context(|| {
                                    format!("fetching program {}", job.workload.module_hash)
                                })?;
                        self.journal.put_program(&bytes)?
                    }
                })
            }
            _ => None,
        };
        // A GPU task holds devices of its model for its whole life (restarts included).
        let requirements = &job.requirements;
        let gpus = if requirements.gpu_count > 0 || requirements.gpu_model.is_some() {
            let taken = self.gpus_held.take(
                job.id,
                task,
                requirements.gpu_model.as_deref(),
                requirements.gpu_count,
                requirements.min_vram_mib,
            );
            match taken {
                Some(devices) => devices,
                None => {
                    let why = if self.gpus_held.is_empty() {
                        "this node cannot give GPUs to process tasks (NVML does not list them)"
                    } else {
                        "no free GPU of the model with the memory on this node"
                    };
                    self.journal.log_line(job.id, task, why)?;
                    return self.give_up(job.id, task, why);
                }
            }
        } else {
            Vec::new()
        };
        let key = (job.id, task);
        self.running.insert(key);
        self.shared.set_running(self.running.len());
        let factor_ppm = job
            .tasks
            .get(task as usize)
            .map_or(vcity_executor::CPU_CORE_FACTOR_PPM, |entry| {
                entry.factor_ppm.max(1)
            });
        let job = job.clone();
        let egress_allowed = self.options.network_egress;
        let (output_bytes, log_bytes) = (
            self.options.limits.output_bytes,
            self.options.limits.log_bytes,
        );
        let sender = self.done_sender.clone();
        let client = self.client.clone();
        let scratch = self.options.data_dir.join("image-uploads");
        // A service gets its portal, a socket directory and a place in the gateway's table.
        let service = match &job.workload.service {
            Some(spec) => {
                let portal = self.helper_program(vcity_workloads::PORTAL)?;
                let socket = self
                    .options
                    .data_dir
                    .join("svc")
                    .join(job.id.to_string())
                    .join(vcity_sandbox::PORTAL_SOCKET);
                let handle = self.shared.services.add(job.id, job.owner, socket);
                Some((spec.clone(), portal, handle))
            }
            None => None,
        };
        let journal = self.journal.clone();
        let services = self.shared.services.clone();
        let pack = match job.workload.output_dir {
            true => Some(self.helper_program(vcity_workloads::PACK)?),
            false => None,
        };
        let allocator = self.gpus_held.clone();
        let secret = self.encryption.clone();
        std::thread::Builder::new()
            .name(format!("process-{}-{task}", job.id))
            .spawn(move || {
                let failed = |log: String, ending: Ending| vcity_executor::Outcome {
                    ending,
                    output: Vec::new(),
                    log: log.into_bytes(),
                    fuel_used: 0,
                    cu_used_ppm: 0,
                    elapsed: Duration::ZERO,
                };
                let image = match (&program, &job.workload.executor) {
                    (
                        None,
                        ExecutorKind::Oci {
                            image, reference, ..
                        },
                    ) => {
                        let archive = (job.workload.module_hash != vcity_types::Hash::ZERO)
                            .then_some(job.workload.module_hash);
                        Some(crate::native::fetch_image(
                            &images,
                            &client,
                            image,
                            reference.as_deref(),
                            archive,
                            &scratch,
                        ))
                    }
                    _ => None,
                };
                let (input, key) =
                    match crate::inputs::open_task_input(&client, &job, task, secret.as_ref()) {
                        Ok((input, key)) => (Ok(input), key),
                        Err(error) => (Err(error), None),
                    };
                let outcome = match (&program, &image, input) {
                    (_, _, Err(error)) => input_failure(job.id, task, &error),
                    (_, Some(Err(error)), _) => {
                        tracing::warn!(job = job.id, task, %error, "the image could not be had");
                        let log = format!("[node] the image: {error}\n");
                        match crate::native::image_failure(error) {
                            Some(exit) => failed(log, Ending::Exit(exit)),
                            None => failed(log, Ending::TimedOut),
                        }
                    }
                    (program, image, Ok(input)) => {
                        let payload = match (program, image) {
                            (Some(path), _) => crate::native::Payload::Program(path),
                            (None, Some(Ok((image, _hold)))) => {
                                crate::native::Payload::Image(image)
                            }
                            _ => {
                                unreachable!("a process task has a program, an image task an image")
                            }
                        };
                        let base = crate::native::ProcessRun {
                            sandbox: &sandbox,
                            payload,
                            job: &job,
                            task,
                            input: &input,
                            factor_ppm,
                            egress_allowed,
                            output_bytes,
                            log_bytes,
                            stop: None,
                            portal: None,
                            gpus: &gpus,
                            pack: pack.as_deref(),
                        };
                        match &service {
                            None => base.run().unwrap_or_else(|error| {
                                tracing::error!(job = job.id, task, %error, "the sandbox failed");
                                failed(
                                    format!("[node] the sandbox failed: {error}\n"),
                                    Ending::TimedOut,
                                )
                            }),
                            Some((spec, portal, handle)) => {
                                let log = |line: &str, bytes: &[u8]| {
                                    let _ = journal.log_program(job.id, task, bytes);
                                    let _ = journal.log_line(job.id, task, line);
                                };
                                match crate::service::run(
                                    &base, spec, handle, portal, &client, &log,
                                ) {
                                    crate::service::ServiceEnd::Stopped => {
                                        allocator.release(job.id, task);
                                        let _ = sender.send(Done::Released(job.id, task));
                                        return;
                                    }
                                    crate::service::ServiceEnd::Crashed(outcome) => outcome,
                                }
                            }
                        }
                    }
                };
                let outcome = seal_outcome(outcome, key.as_ref(), job.id, task);
                if service.is_some() {
                    // A crashed service leaves the gateway's table before its result goes out.
                    services.stop(job.id);
                }
                allocator.release(job.id, task);
                let _ = sender.send(Done::Task(Finished {
                    job_id: job.id,
                    task,
                    outcome,
                    max_cu_ppm: job.max_cu_ppm_per_task,
                }));
            })
            .context("starting a worker thread")?;
        Ok(())
    }

    /// One of our own static programs (the portal, the packer) as an executable file in the
    /// program cache, written the first time only.
    fn helper_program(&self, bytes: &[u8]) -> anyhow::Result<std::path::PathBuf> {
        match self.journal.program(&content_address(bytes)) {
            Some(path) => Ok(path),
            None => Ok(self.journal.put_program(bytes)?),
        }
    }

    /// Gives a task up with `reason` and records that it is over here.
    fn give_up(&mut self, job_id: u64, task: u32, reason: &str) -> anyhow::Result<()> {
        self.send(Message::FailTask(FailTask {
            job_id,
            task,
            reason: reason.into(),
        }))?;
        if let Some(entry) = self.journal.get(job_id, task)? {
            self.finish_entry(entry, format!("given up: {reason}"))?;
        }
        Ok(())
    }

    /// A worker finished: store, record, report.
    fn finish(&mut self, finished: Finished) {
        let Finished {
            job_id,
            task,
            mut outcome,
            max_cu_ppm,
        } = finished;
        if self.options.misbehave == Some(Misbehaviour::WrongOutput) {
            outcome.output.push(b'!');
        }
        self.running.remove(&(job_id, task));
        self.shared.set_running(self.running.len());
        let attempt = self
            .journal
            .get(job_id, task)
            .ok()
            .flatten()
            .map_or(0, |entry| entry.attempt);
        let result = (|| -> anyhow::Result<()> {
            self.journal.log_program(job_id, task, &outcome.log)?;
            let lie = self.options.misbehave;
            let stage = match (&outcome.ending, outcome.commitment()) {
                (Ending::Exit(exit), Some(mut commitment)) => {
                    if lie == Some(Misbehaviour::InflateCu) {
                        commitment.cu_used_ppm =
                            commitment.cu_used_ppm.saturating_mul(2).min(max_cu_ppm);
                    }
                    debug_assert_eq!(commitment.output, content_address(&outcome.output));
                    self.journal.put_output(&outcome.output)?;
                    self.journal.log_line(
                        job_id,
                        task,
                        &format!(
                            "ended: {exit:?}; {} output bytes; {} fuel; {} µCU; {:.3} s",
                            outcome.output.len(),
                            outcome.fuel_used,
                            outcome.cu_used_ppm,
                            outcome.elapsed.as_secs_f64()
                        ),
                    )?;
                    self.shared.task_ran(outcome.cu_used_ppm);
                    Stage::Ran { commitment }
                }
                _ => {
                    self.journal.log_line(
                        job_id,
                        task,
                        "stopped by the wall-clock limit, or the sandbox failed; giving it up",
                    )?;
                    self.shared.task_failed();
                    Stage::TimedOut
                }
            };
            let commitment = match &stage {
                Stage::Ran { commitment } => Some(commitment.clone()),
                _ => None,
            };
            self.journal.put(&Entry {
                job_id,
                task,
                attempt,
                stage,
                updated_ms: now_ms(),
            })?;
            self.report(job_id, task, attempt, commitment)
        })();
        if let Err(error) = result {
            // The journal keeps the run; the next turn reports it again.
            tracing::warn!(job = job_id, task, error = %format!("{error:#}"), "reporting a result failed; will retry");
        } else {
            tracing::info!(
                job = job_id,
                task,
                cu_ppm = outcome.cu_used_ppm,
                "task done"
            );
        }
    }
}

/// A confidential task's outcome as the node keeps and commits it: its output and its
/// program's log encrypted under the job's key (docs/attestation.md, "Confidential jobs"), so
/// neither the node's disk nor anyone who fetches them holds them in the clear. Other tasks'
/// outcomes pass unchanged.
fn seal_outcome(
    mut outcome: vcity_executor::Outcome,
    key: Option<&JobKey>,
    job_id: u64,
    task: u32,
) -> vcity_executor::Outcome {
    let Some(key) = key else { return outcome };
    let sealed = confidential::encrypt(key, Part::Output { job_id, task }, &outcome.output)
        .and_then(|output| {
            Ok((
                output,
                confidential::seal_log(key, job_id, task, &outcome.log)?,
            ))
        });
    match sealed {
        Ok((output, log)) => {
            outcome.output = output;
            outcome.log = log;
        }
        Err(error) => {
            // Without randomness nothing is sealed: the node gives the task up rather than
            // keep or commit it in the clear.
            tracing::error!(job = job_id, task, %error, "sealing a confidential output failed");
            outcome = vcity_executor::Outcome {
                ending: Ending::TimedOut,
                output: Vec::new(),
                log: format!("[node] sealing the output failed: {error}\n").into_bytes(),
                fuel_used: 0,
                cu_used_ppm: 0,
                elapsed: outcome.elapsed,
            };
        }
    }
    outcome
}

/// The outcome of a task whose input could not be had: `invalid` and unbilled when the job is at
/// fault, else a give-up (the same ending as the wall-clock net) for another node to try.
pub(crate) fn input_failure(
    job_id: u64,
    task: u32,
    error: &crate::inputs::InputError,
) -> vcity_executor::Outcome {
    tracing::warn!(job = job_id, task, %error, "the task's input could not be had");
    vcity_executor::Outcome {
        ending: match error.exit() {
            Some(exit) => Ending::Exit(exit),
            None => Ending::TimedOut,
        },
        output: Vec::new(),
        log: format!("[node] the input: {error}\n").into_bytes(),
        fuel_used: 0,
        cu_used_ppm: 0,
        elapsed: Duration::ZERO,
    }
}
