//! The verifier daemon (`vcity node verifier`; whitepaper §2.4.2; rules §10;
//! docs/verification.md).
//!
//! It registers the key as a verifier node (bonding the service stake), heartbeats with measured
//! health, and polls the ledger for the duties the beacon drew it for:
//! - **checks** of sampled results: it fetches the module (by content hash) and reads the input
//!   and the node's commitment from the ledger, re-executes the task in the same deterministic
//!   executor with the same fuel budget, CU factor and seed, and answers `VerifyResult` when its
//!   commitment hashes to the node's, `ChallengeResult` (with the deposit) when it does not;
//! - **capacity verdicts**: for each device of the challenge it asks the node for `C·r` and
//!   [`OPENED_ROWS`] rows under a secret random vector (a signed request only the drawn verifier
//!   or a referee may make) and checks them against the committed root with Freivalds' equation;
//!   a node that does not answer fails;
//! - **referee votes** on disputes, by the same re-execution or check.
//!
//! Work runs on worker threads (at most `slots` at once); every transaction goes out from the one
//! control loop, so nonces never race. A duty answered but still listed (its transaction not yet
//! in a block) is not done twice; one still listed a while later is tried again.

use crate::capacity::{self, OpenRequest, Opening, OPENED_ROWS};
use crate::compute::{send_and_wait, wait_for_chain};
use anyhow::Context as _;
use ed25519_dalek::SigningKey;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use vcity_executor::{fuel_for_cu_ppm, Ending, Executor, Limits, Task};
use vcity_sdk::{Client, ClientError};
use vcity_types::compute::{task_seed, NodeKind, RegisterNode, ResultCommitment, Role, TaskState};
use vcity_types::hash::Domain;
use vcity_types::trust::{
    CapacityVerdict, ChallengeResult, DisputeSubject, Duty, RefereeVote, VerifyResult, Vote,
};
use vcity_types::tx::Message;
use vcity_types::{AccountId, Amount, Hash};

/// How the verifier runs.
#[derive(Debug, Clone)]
pub struct VerifierOptions {
    /// The chain node's API.
    pub api: String,
    /// Where modules are cached.
    pub data_dir: std::path::PathBuf,
    /// Where `/metrics` and `/v1/health` are served.
    pub listen: SocketAddr,
    /// Region label.
    pub region: String,
    /// VCAI to bond at registration [default: the service minimum].
    pub stake: Option<Amount>,
    /// Duties worked on at once [default: CPU cores].
    pub slots: Option<usize>,
    /// How often to look for duties.
    pub poll_interval: Duration,
    /// Executor bounds (the compute nodes' defaults: a re-execution must match theirs).
    pub limits: Limits,
    /// Test-only: answer the opposite of what it finds (a dishonest verifier, to be caught).
    pub contrary: bool,
}

/// Try a duty again if it is still listed this long after its answer went out.
const RETRY_AFTER: Duration = Duration::from_secs(20);

/// Counters for `/metrics`.
#[derive(Debug, Default)]
struct Counters {
    checks_agreed: AtomicU64,
    checks_disputed: AtomicU64,
    verdicts_passed: AtomicU64,
    verdicts_failed: AtomicU64,
    votes: AtomicU64,
    reexecution_fuel: AtomicU64,
    work_micros: AtomicU64,
    failures: AtomicU64,
}

/// A worker's answer.
struct Answer {
    duty: Duty,
    message: Option<Message>,
}

/// Runs the verifier daemon until `stop` is set.
pub fn run(options: VerifierOptions, key: SigningKey, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    let me = AccountId::from_public_key(&key.verifying_key());
    let client = Client::new(&options.api);
    std::fs::create_dir_all(options.data_dir.join("modules"))
        .with_context(|| format!("creating {}", options.data_dir.display()))?;
    let params = wait_for_chain(&client, &stop)?;
    register(&client, &key, &options, &params)?;
    let executor =
        Arc::new(Executor::new(options.limits.clone()).context("starting the executor")?);
    let mut executor_ok = crate::health::executor_self_test(&executor).is_ok();
    let mut self_tested = Instant::now();
    let counters = Arc::new(Counters::default());
    let listener = std::net::TcpListener::bind(options.listen)
        .with_context(|| format!("binding {}", options.listen))?;
    let bound = listener.local_addr()?;
    crate::server::serve(listener, router(me, counters.clone()))?;
    let slots = options
        .slots
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |count| count.get()))
        .max(1);
    if options.contrary {
        tracing::error!("TEST MODE: this verifier answers the opposite of what it finds");
    }
    tracing::info!(account = %me, metrics = %bound, slots, "verifier ready");
    let gpus = crate::health::GpuMonitor::start();
    let heartbeat_every = Duration::from_secs(params.nodes.heartbeat_interval_s.max(1)) * 2 / 3;
    let mut next_heartbeat = Instant::now();
    let (sender, receiver) = mpsc::channel::<Answer>();
    let mut working: BTreeMap<Duty, Option<Instant>> = BTreeMap::new();
    while !stop.load(Ordering::Relaxed) && !crate::parent_gone() {
        if Instant::now() >= next_heartbeat {
            if self_tested.elapsed() >= Duration::from_secs(600) {
                executor_ok = crate::health::executor_self_test(&executor).is_ok();
                self_tested = Instant::now();
            }
            let beat = Message::NodeHeartbeat(vcity_types::compute::NodeHeartbeat {
                load_ppm: (working.len() as u64 * 1_000_000 / slots as u64).min(1_000_000) as u32,
                running_tasks: working.len() as u32,
                health: crate::health::report(executor_ok, &options.data_dir, &gpus),
            });
            next_heartbeat = match client.send(&key, vec![beat], None) {
                Ok(_) => Instant::now() + heartbeat_every,
                Err(error) => {
                    tracing::warn!(%error, "heartbeat failed; retrying");
                    Instant::now() + Duration::from_secs(1)
                }
            };
        }
        match client.duties(&me) {
            Ok(duties) => {
                // Forget answers the ledger has taken in; retry stale ones.
                working.retain(|duty, sent| {
                    duties.contains(duty) && sent.is_none_or(|at| at.elapsed() < RETRY_AFTER)
                });
                for duty in duties {
                    if working.len() >= slots || working.contains_key(&duty) {
                        continue;
                    }
                    working.insert(duty, None);
                    spawn(duty, &client, &key, &executor, &options, &counters, &sender)?;
                }
            }
            Err(error) => tracing::warn!(%error, "reading duties failed"),
        }
        while let Ok(answer) = receiver.try_recv() {
            match answer.message {
                Some(message) => {
                    let name = message.name();
                    match client.send(&key, vec![message], None) {
                        Ok(_) => {
                            tracing::info!(duty = ?answer.duty, message = name, "answered");
                            working.insert(answer.duty, Some(Instant::now()));
                        }
                        Err(error) => {
                            tracing::warn!(duty = ?answer.duty, %error, "sending the answer failed");
                            working.remove(&answer.duty);
                        }
                    }
                }
                None => {
                    counters.failures.fetch_add(1, Ordering::Relaxed);
                    working.insert(answer.duty, Some(Instant::now()));
                }
            }
        }
        std::thread::sleep(options.poll_interval);
    }
    Ok(())
}

/// Registers the key as a verifier (or again, after a deregistration).
fn register(
    client: &Client,
    key: &SigningKey,
    options: &VerifierOptions,
    params: &vcity_ledger::ParamsView,
) -> anyhow::Result<()> {
    let me = AccountId::from_public_key(&key.verifying_key());
    match client.node(&me) {
        Ok(view) if view.node.role != Role::Verifier => {
            anyhow::bail!("account {me} is registered as a {:?} node", view.node.role)
        }
        Ok(view) if !view.node.trust.deregistered => return Ok(()),
        Ok(_) | Err(ClientError::NotFound(_)) => {}
        Err(error) => return Err(error).context("looking up this node's registration"),
    }
    let stake = options.stake.unwrap_or(params.nodes.min_service_stake);
    send_and_wait(
        client,
        key,
        Message::RegisterNode(RegisterNode {
            role: Role::Verifier,
            kind: NodeKind::Stable,
            hardware: vcity_types::compute::Hardware::default(),
            region: options.region.clone(),
            endpoint: String::new(),
            price_per_cu_usd: Amount::ZERO,
            stake,
        }),
    )
    .context("registering the verifier")
}

fn spawn(
    duty: Duty,
    client: &Client,
    key: &SigningKey,
    executor: &Arc<Executor>,
    options: &VerifierOptions,
    counters: &Arc<Counters>,
    sender: &mpsc::Sender<Answer>,
) -> anyhow::Result<()> {
    let (client, key, executor, counters, sender) = (
        client.clone(),
        key.clone(),
        executor.clone(),
        counters.clone(),
        sender.clone(),
    );
    let modules = options.data_dir.join("modules");
    let contrary = options.contrary;
    std::thread::Builder::new()
        .name("verifier-duty".into())
        .spawn(move || {
            let started = Instant::now();
            let work = Work {
                client: &client,
                key: &key,
                executor: &executor,
                modules: &modules,
                counters: &counters,
                contrary,
            };
            let message = match work.answer(duty) {
                Ok(message) => Some(message),
                Err(error) => {
                    tracing::warn!(?duty, error = %format!("{error:#}"), "duty not answered");
                    None
                }
            };
            counters
                .work_micros
                .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
            let _ = sender.send(Answer { duty, message });
        })
        .context("starting a verifier worker")?;
    Ok(())
}

/// What one duty needs.
struct Work<'a> {
    client: &'a Client,
    key: &'a SigningKey,
    executor: &'a Executor,
    modules: &'a std::path::Path,
    counters: &'a Counters,
    contrary: bool,
}

impl Work<'_> {
    fn answer(&self, duty: Duty) -> anyhow::Result<Message> {
        match duty {
            Duty::Check { job_id, task } => {
                let (node_commitment, mine) = self.reexecute(job_id, task)?;
                let mine = self.maybe_contrary(&node_commitment, mine);
                if mine.hash() == node_commitment.hash() {
                    self.counters.checks_agreed.fetch_add(1, Ordering::Relaxed);
                    Ok(Message::VerifyResult(VerifyResult {
                        job_id,
                        task,
                        commitment: mine,
                    }))
                } else {
                    self.counters
                        .checks_disputed
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        job_id,
                        task,
                        node = ?node_commitment,
                        mine = ?mine,
                        "re-execution disagrees with the node: challenging"
                    );
                    Ok(Message::ChallengeResult(ChallengeResult {
                        job_id,
                        task,
                        commitment: mine,
                    }))
                }
            }
            Duty::Verdict { challenge_id } => {
                let pass = self.check_capacity(challenge_id) != self.contrary;
                if pass {
                    self.counters
                        .verdicts_passed
                        .fetch_add(1, Ordering::Relaxed);
                } else {
                    self.counters
                        .verdicts_failed
                        .fetch_add(1, Ordering::Relaxed);
                }
                Ok(Message::CapacityVerdict(CapacityVerdict {
                    challenge_id,
                    pass,
                }))
            }
            Duty::Referee { dispute_id } => {
                let dispute = self.client.dispute(dispute_id)?;
                let vote = match dispute.subject {
                    DisputeSubject::Task { job_id, task } => {
                        let (node_commitment, mine) = self.reexecute(job_id, task)?;
                        Vote::Result {
                            commitment: self.maybe_contrary(&node_commitment, mine),
                        }
                    }
                    DisputeSubject::Capacity { challenge_id } => Vote::Capacity {
                        pass: self.check_capacity(challenge_id) != self.contrary,
                    },
                };
                self.counters.votes.fetch_add(1, Ordering::Relaxed);
                Ok(Message::RefereeVote(RefereeVote { dispute_id, vote }))
            }
        }
    }

    /// A contrary verifier contradicts the node: it claims one more millionth of a CU when it
    /// agrees, and the node's own commitment when it does not.
    fn maybe_contrary(&self, node: &ResultCommitment, mine: ResultCommitment) -> ResultCommitment {
        if !self.contrary {
            return mine;
        }
        if mine.hash() == node.hash() {
            ResultCommitment {
                cu_used_ppm: mine.cu_used_ppm.saturating_add(1),
                ..mine
            }
        } else {
            node.clone()
        }
    }

    fn module(&self, address: &Hash) -> anyhow::Result<Vec<u8>> {
        let path = self.modules.join(address.to_string());
        if let Ok(bytes) = std::fs::read(&path) {
            if vcity_types::compute::content_address(&bytes) == *address {
                return Ok(bytes);
            }
        }
        let bytes = self
            .client
            .blob(address)
            .with_context(|| format!("fetching module {address}"))?;
        let _ = std::fs::write(&path, &bytes);
        Ok(bytes)
    }

    /// The node's commitment and this verifier's own, by re-execution.
    fn reexecute(
        &self,
        job_id: u64,
        task: u32,
    ) -> anyhow::Result<(ResultCommitment, ResultCommitment)> {
        let job = self.client.job(job_id)?;
        let entry = job
            .tasks
            .get(task as usize)
            .with_context(|| format!("job {job_id} has no task {task}"))?;
        let node_commitment = match &entry.state {
            TaskState::Completed { commitment, .. } => commitment.clone(),
            other => anyhow::bail!("job {job_id} task {task} is {}", other.describe()),
        };
        let module = self.module(&job.workload.module_hash)?;
        let factor_ppm = entry.factor_ppm.max(1);
        // The same input the node had to fetch: a shard that is nowhere or wrong ends this run
        // as invalid too; one that cannot be reached now gives no verdict.
        let outcome = match crate::inputs::task_input(self.client, &job, task) {
            Ok(input) => self.executor.run(&Task {
                module: &module,
                input: &input,
                fuel: fuel_for_cu_ppm(job.max_cu_ppm_per_task, factor_ppm),
                factor_ppm,
                seed: task_seed(job_id, task),
                wall_clock: Some(Duration::from_secs(job.requirements.max_duration_s.max(1))),
            }),
            Err(error) => crate::compute::input_failure(job_id, task, &error),
        };
        self.counters
            .reexecution_fuel
            .fetch_add(outcome.fuel_used, Ordering::Relaxed);
        if outcome.ending == Ending::TimedOut {
            anyhow::bail!("the re-execution ran out of wall-clock time; no verdict");
        }
        let mine = outcome
            .commitment()
            .context("a finished run has a commitment")?;
        Ok((node_commitment, mine))
    }

    /// Whether every device of the challenge proves out (a node that does not answer fails).
    fn check_capacity(&self, challenge_id: u64) -> bool {
        match self.try_check_capacity(challenge_id) {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(challenge_id, error = %format!("{error:#}"), "capacity proof fails");
                false
            }
        }
    }

    fn try_check_capacity(&self, challenge_id: u64) -> anyhow::Result<()> {
        let challenge = self.client.challenge(challenge_id)?;
        let endpoint = self.client.node(&challenge.node)?.node.endpoint;
        anyhow::ensure!(
            challenge.roots.len() == challenge.devices.len(),
            "the node committed {} roots for {} devices",
            challenge.roots.len(),
            challenge.devices.len()
        );
        for (index, (device, root)) in challenge.devices.iter().zip(&challenge.roots).enumerate() {
            let n = device.n as usize;
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret)
                .map_err(|error| anyhow::anyhow!("OS randomness: {error}"))?;
            let nonce = Hash::of(Domain::Draw, &[&secret]);
            let rows = distinct_rows(&nonce, n, OPENED_ROWS);
            let request = OpenRequest {
                device: index as u32,
                nonce,
                rows,
            };
            let body = serde_json::to_vec(&request)?;
            let path = format!("/v1/capacity/{challenge_id}/open");
            let answer = vcity_sdk::compute::signed_post(
                self.client,
                self.key,
                &endpoint,
                &path,
                &body,
                64 * 1024 * 1024,
            )
            .with_context(|| format!("asking {endpoint} for device {index}'s openings"))?;
            let opening: Opening =
                serde_json::from_slice(&answer).context("decoding the openings")?;
            capacity::check(&challenge.seed, n, root, &request, &opening)
                .with_context(|| format!("device {index} ({})", device.label))?;
        }
        Ok(())
    }
}

/// `count` distinct row indices below `n`, drawn from `nonce`.
fn distinct_rows(nonce: &Hash, n: usize, count: usize) -> Vec<u32> {
    let mut rows: Vec<u32> = Vec::new();
    let mut counter = 0u64;
    while rows.len() < count.min(n) {
        let draw = Hash::of(Domain::Draw, &[nonce.as_bytes(), &counter.to_le_bytes()]);
        counter += 1;
        let row = (u64::from_le_bytes(draw.0[..8].try_into().expect("8 bytes")) % n as u64) as u32;
        if !rows.contains(&row) {
            rows.push(row);
        }
    }
    rows
}

fn router(me: AccountId, counters: Arc<Counters>) -> axum::Router {
    use axum::routing::get;
    let health = move || async move {
        axum::Json(serde_json::json!({"status": "ok", "account": me.to_string()}))
    };
    let metrics = move || {
        let counters = counters.clone();
        async move {
            let line = crate::server::metric_line;
            let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
            [
                line(
                    "vcity_verifier_checks_agreed_total",
                    "counter",
                    "Sampled results re-executed and confirmed.",
                    load(&counters.checks_agreed),
                ),
                line(
                    "vcity_verifier_checks_disputed_total",
                    "counter",
                    "Sampled results re-executed and challenged.",
                    load(&counters.checks_disputed),
                ),
                line(
                    "vcity_verifier_verdicts_passed_total",
                    "counter",
                    "Capacity proofs that checked out.",
                    load(&counters.verdicts_passed),
                ),
                line(
                    "vcity_verifier_verdicts_failed_total",
                    "counter",
                    "Capacity proofs that failed.",
                    load(&counters.verdicts_failed),
                ),
                line(
                    "vcity_verifier_votes_total",
                    "counter",
                    "Referee votes cast.",
                    load(&counters.votes),
                ),
                line(
                    "vcity_verifier_reexecution_fuel_total",
                    "counter",
                    "Fuel spent re-executing tasks.",
                    load(&counters.reexecution_fuel),
                ),
                line(
                    "vcity_verifier_work_microseconds_total",
                    "counter",
                    "Wall time spent on duties.",
                    load(&counters.work_micros),
                ),
                line(
                    "vcity_verifier_duties_unanswered_total",
                    "counter",
                    "Duties that could not be answered (node unreachable, timed out).",
                    load(&counters.failures),
                ),
            ]
            .concat()
        }
    };
    axum::Router::new()
        .route("/v1/health", get(health))
        .route("/metrics", get(metrics))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_rows_are_distinct_and_in_range() {
        let nonce = Hash::of(Domain::Draw, &[b"rows"]);
        let rows = distinct_rows(&nonce, 40, OPENED_ROWS);
        assert_eq!(rows.len(), OPENED_ROWS);
        assert!(rows.iter().all(|row| *row < 40));
        let mut sorted = rows.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), rows.len());
        assert_eq!(distinct_rows(&nonce, 3, OPENED_ROWS).len(), 3);
    }
}
