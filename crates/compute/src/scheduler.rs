//! The scheduler daemon (`vcity node scheduler`; issue 3 point 5; whitepaper §2.4.3, §2.5.2;
//! rules §5).
//!
//! It registers as a scheduler (with the service stake), then, every poll, brings its placement
//! engine (`vcity-scheduler`: indexed, scored, fair; see that crate) up to date with the chain —
//! every compute node's record and the round trip measured to its endpoint (TCP connect time,
//! every minute), and every task the ledger shows assigned or running, which holds its slot and
//! GPUs — and places the pending tasks, oldest first within each user, users by dominant
//! resource fairness. A placed task becomes an `AssignTask`; a gang job's tasks go in one
//! transaction, which the ledger applies all or nothing. A task no node may take gets the
//! engine's explanation on the ledger (`ReportUnplaceable`: how many nodes each rule excluded
//! and the closest near-misses), so `vcity job status` can say why. Tasks whose node missed the
//! start deadline come back as pending through the ledger and are placed again here.

use crate::compute::{send_and_wait, wait_for_chain};
use anyhow::Context as _;
use ed25519_dalek::SigningKey;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
pub use vcity_scheduler::Packing;
use vcity_scheduler::{Engine, Request, Round, UnitDecision, Weights};
use vcity_sdk::{Client, ClientError};
use vcity_types::api::NodeView;
use vcity_types::compute::{
    AssignTask, Hardware, Job, NodeHeartbeat, NodeKind, RegisterNode, ReportUnplaceable, Role,
    TaskState, MAX_EXPLANATION_BYTES,
};
use vcity_types::tx::Message;
use vcity_types::{AccountId, Amount};

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// The chain node's API.
    pub api: String,
    /// Region label.
    pub region: String,
    /// VCAI to stake at registration [default: the service minimum].
    pub stake: Option<Amount>,
    /// How often to look for pending tasks.
    pub poll_interval: Duration,
    /// Where to serve `/metrics` and `/v1/health`.
    pub listen: std::net::SocketAddr,
    /// Spread work over nodes or pack it.
    pub packing: Packing,
    /// Decisions per thousand given to newcomer nodes.
    pub exploration_per_mille: u32,
}

/// The scheduler's counters, served at `/metrics`.
#[derive(Debug, Default)]
pub struct SchedulerMetrics {
    rounds: std::sync::atomic::AtomicU64,
    assigned: std::sync::atomic::AtomicU64,
    unplaceable: std::sync::atomic::AtomicU64,
    failed_rounds: std::sync::atomic::AtomicU64,
    pending: std::sync::atomic::AtomicU64,
    decisions: std::sync::atomic::AtomicU64,
    decision_ns: std::sync::atomic::AtomicU64,
}

impl SchedulerMetrics {
    fn record_decision(&self, took: Duration) {
        self.decisions.fetch_add(1, Ordering::Relaxed);
        self.decision_ns.fetch_add(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn render(&self) -> String {
        let get = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        let line = crate::server::metric_line;
        [
            line(
                "vcity_scheduler_rounds_total",
                "counter",
                "Placement rounds run.",
                get(&self.rounds),
            ),
            line(
                "vcity_scheduler_rounds_failed_total",
                "counter",
                "Rounds that failed (chain unreachable, ...).",
                get(&self.failed_rounds),
            ),
            line(
                "vcity_scheduler_assignments_total",
                "counter",
                "AssignTask transactions sent.",
                get(&self.assigned),
            ),
            line(
                "vcity_scheduler_unplaceable_total",
                "counter",
                "ReportUnplaceable transactions sent.",
                get(&self.unplaceable),
            ),
            line(
                "vcity_scheduler_decisions_total",
                "counter",
                "Placement decisions made by the engine.",
                get(&self.decisions),
            ),
            line(
                "vcity_scheduler_decision_nanoseconds_total",
                "counter",
                "Time spent deciding (divide by decisions for the mean).",
                get(&self.decision_ns),
            ),
            line(
                "vcity_scheduler_pending_tasks",
                "gauge",
                "Pending tasks seen in the last round.",
                get(&self.pending),
            ),
        ]
        .concat()
    }
}

fn serve_metrics(
    listen: std::net::SocketAddr,
    metrics: Arc<SchedulerMetrics>,
) -> anyhow::Result<()> {
    use axum::routing::get;
    let listener =
        std::net::TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
    tracing::info!(listen = %listener.local_addr()?, "scheduler metrics");
    let for_metrics = metrics.clone();
    let app = axum::Router::new()
        .route("/metrics", get(move || async move { for_metrics.render() }))
        .route(
            "/v1/health",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        );
    crate::server::serve(listener, app)
}

/// Do not place the same task again this soon (its assignment may still be in the mempool).
const IN_FLIGHT: Duration = Duration::from_secs(6);
/// Open jobs fetched per poll.
const POLL_LIMIT: usize = 500;

/// Runs the scheduler until `stop` is set.
pub fn run(
    options: SchedulerOptions,
    key: SigningKey,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let me = AccountId::from_public_key(&key.verifying_key());
    let client = Client::new(&options.api);
    let params = wait_for_chain(&client, &stop)?;
    match client.node(&me) {
        Ok(view) if view.node.role == Role::Scheduler => {}
        Ok(view) => anyhow::bail!("account {me} is registered as a {:?} node", view.node.role),
        Err(ClientError::NotFound(_)) => {
            let stake = options.stake.unwrap_or_else(|| {
                vcity_ledger::nodes::required_stake(&params.nodes, Role::Scheduler, 0)
            });
            send_and_wait(
                &client,
                &key,
                Message::RegisterNode(RegisterNode {
                    role: Role::Scheduler,
                    kind: NodeKind::Stable,
                    hardware: Hardware::default(),
                    region: options.region.clone(),
                    endpoint: String::new(),
                    price_per_cu_usd: Amount::ZERO,
                    stake,
                }),
            )
            .context("registering the scheduler")?;
        }
        Err(error) => return Err(error).context("looking up the scheduler's registration"),
    }
    let metrics = Arc::new(SchedulerMetrics::default());
    serve_metrics(options.listen, metrics.clone())?;
    tracing::info!(account = %me, "scheduler ready");
    let heartbeat_every = Duration::from_secs(params.nodes.heartbeat_interval_s.max(1)) * 2 / 3;
    let mut next_heartbeat = Instant::now();
    let mut params_read_at = Instant::now();
    let mut memory = Memory {
        engine: Engine::new(
            params.nodes.clone(),
            Weights {
                packing: options.packing,
                exploration_per_mille: options.exploration_per_mille,
                start_deadline_s: params.jobs.start_deadline_s,
                ..Weights::default()
            },
        ),
        in_flight: BTreeMap::new(),
        reported: BTreeMap::new(),
        latency: Latency::default(),
        known: BTreeSet::new(),
    };
    while !stop.load(Ordering::Relaxed) && !crate::parent_gone() {
        if Instant::now() >= next_heartbeat {
            let beat = Message::NodeHeartbeat(NodeHeartbeat {
                load_ppm: 0,
                running_tasks: 0,
                // A scheduler runs no workloads: the ledger's health rules do not apply to it.
                health: vcity_types::trust::HealthReport::default(),
            });
            match client.send(&key, vec![beat], None) {
                Ok(_) => next_heartbeat = Instant::now() + heartbeat_every,
                Err(error) => tracing::warn!(%error, "scheduler heartbeat failed"),
            }
        }
        // The stake requirement is repriced weekly and governance may change parameters: the
        // engine's eligibility follows the chain's current ones.
        if params_read_at.elapsed() >= PARAMS_TTL {
            match client.params() {
                Ok(current) => {
                    memory.engine.set_params(current.nodes);
                    params_read_at = Instant::now();
                }
                Err(error) => tracing::warn!(%error, "reading the parameters failed"),
            }
        }
        metrics.rounds.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = turn(&client, &key, &mut memory, &metrics) {
            metrics.failed_rounds.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %format!("{error:#}"), "placement round failed; retrying");
        }
        std::thread::sleep(options.poll_interval);
    }
    Ok(())
}

/// Round trips to compute nodes' endpoints (TCP connect time), refreshed every minute.
#[derive(Debug, Default)]
struct Latency {
    measured: BTreeMap<AccountId, (u32, Instant)>,
}

/// How long the scheduler uses the chain's parameters before reading them again.
const PARAMS_TTL: Duration = Duration::from_secs(60);

/// Nodes measured per placement round (the rest wait for later rounds).
const LATENCY_PROBES_PER_ROUND: usize = 16;
/// How long a measurement is used.
const LATENCY_TTL: Duration = Duration::from_secs(60);

impl Latency {
    fn refresh(&mut self, nodes: &[NodeView]) {
        let stale: Vec<_> = nodes
            .iter()
            .filter(|view| {
                self.measured
                    .get(&view.node.id)
                    .is_none_or(|(_, at)| at.elapsed() > LATENCY_TTL)
            })
            .take(LATENCY_PROBES_PER_ROUND)
            .collect();
        for view in stale {
            let ms = connect_ms(&view.node.endpoint).unwrap_or(u32::MAX);
            self.measured.insert(view.node.id, (ms, Instant::now()));
        }
    }

    fn snapshot(&self) -> BTreeMap<AccountId, u32> {
        self.measured
            .iter()
            .map(|(id, (ms, _))| (*id, *ms))
            .collect()
    }
}

/// TCP connect time to an `http://host:port` endpoint, in ms (at most 1 s).
fn connect_ms(endpoint: &str) -> Option<u32> {
    use std::net::ToSocketAddrs;
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))?;
    let authority = rest.split('/').next()?;
    let address = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let target = address.to_socket_addrs().ok()?.next()?;
    let started = Instant::now();
    std::net::TcpStream::connect_timeout(&target, Duration::from_secs(1)).ok()?;
    Some(started.elapsed().as_millis().min(u128::from(u32::MAX - 1)) as u32)
}

/// What the scheduler remembers between rounds.
struct Memory {
    engine: Engine,
    /// Assignments sent but not seen on the ledger yet: when, to which node.
    in_flight: BTreeMap<(u64, u32), (Instant, AccountId)>,
    /// Explanations already reported, per task.
    reported: BTreeMap<(u64, u32), String>,
    latency: Latency,
    /// Compute nodes the engine knows.
    known: BTreeSet<AccountId>,
}

/// The engine's view of a job's task.
fn request(job: &Job, task: u32) -> Request {
    Request {
        job: job.id,
        task,
        owner: job.owner,
        requirements: job.requirements.clone(),
        max_price_per_cu_usd: job.max_price_per_cu_usd,
    }
}

/// Brings the engine's usage up to date: every task the ledger shows on a node, and every
/// assignment sent but not on the ledger yet, holds its resources. Returns the pending tasks
/// not in flight, oldest job first.
fn load_usage(
    engine: &mut Engine,
    jobs: &[Job],
    in_flight: &BTreeMap<(u64, u32), (Instant, AccountId)>,
) -> Vec<Request> {
    engine.clear_usage();
    let mut pending = Vec::new();
    for job in jobs {
        for (index, task) in job.tasks.iter().enumerate() {
            let index = index as u32;
            match &task.state {
                TaskState::Assigned { node, .. } | TaskState::Running { node, .. } => {
                    engine.occupy(node, &request(job, index));
                }
                TaskState::Pending => match in_flight.get(&(job.id, index)) {
                    Some((_, node)) => {
                        engine.occupy(node, &request(job, index));
                    }
                    None => pending.push(request(job, index)),
                },
                _ => {}
            }
        }
    }
    pending
}

fn turn(
    client: &Client,
    key: &SigningKey,
    memory: &mut Memory,
    metrics: &SchedulerMetrics,
) -> anyhow::Result<()> {
    let jobs = client.open_jobs(None, POLL_LIMIT)?;
    let pending_count = jobs
        .iter()
        .flat_map(|job| &job.tasks)
        .filter(|task| task.state == TaskState::Pending)
        .count();
    metrics
        .pending
        .store(pending_count as u64, Ordering::Relaxed);
    memory
        .in_flight
        .retain(|_, (since, _)| since.elapsed() < IN_FLIGHT);
    for job in &jobs {
        for (index, task) in job.tasks.iter().enumerate() {
            if task.state != TaskState::Pending {
                memory.reported.remove(&(job.id, index as u32));
            }
        }
    }
    if pending_count == 0 {
        return Ok(());
    }
    let now_s = client.status()?.chain_time_s;
    let nodes = client.all_nodes(Some(Role::Compute))?;
    memory.latency.refresh(&nodes);
    let latency_ms = memory.latency.snapshot();
    let engine = &mut memory.engine;
    engine.advance(now_s);
    let listed: BTreeSet<AccountId> = nodes.iter().map(|view| view.node.id).collect();
    for gone in memory.known.difference(&listed) {
        engine.remove(gone);
    }
    for view in &nodes {
        engine.upsert(&view.node, latency_ms.get(&view.node.id).copied());
    }
    memory.known = listed;
    let pending = load_usage(engine, &jobs, &memory.in_flight);
    let mut round = Round::new(engine, pending);
    loop {
        let started = Instant::now();
        let Some((unit, decision)) = round.next(engine) else {
            break;
        };
        metrics.record_decision(started.elapsed());
        match decision {
            UnitDecision::Assign(allocations) => {
                let messages = allocations
                    .iter()
                    .map(|allocation| {
                        Message::AssignTask(AssignTask {
                            job_id: allocation.job,
                            task: allocation.task,
                            node: allocation.node,
                        })
                    })
                    .collect();
                match client.send(key, messages, None) {
                    Ok(_) => {
                        for allocation in &allocations {
                            memory.in_flight.insert(
                                (allocation.job, allocation.task),
                                (Instant::now(), allocation.node),
                            );
                            metrics.assigned.fetch_add(1, Ordering::Relaxed);
                            tracing::info!(job = allocation.job, task = allocation.task, node = %allocation.node, "assigned");
                        }
                    }
                    Err(error) => {
                        for allocation in &allocations {
                            engine.release(allocation);
                        }
                        tracing::warn!(job = unit.requests[0].job, %error, "assignment not sent");
                    }
                }
            }
            UnitDecision::Wait => {}
            UnitDecision::Unplaceable { explanation, .. } => {
                let first = &unit.requests[0];
                let why = explanation.render(
                    &first.requirements,
                    first.max_price_per_cu_usd,
                    MAX_EXPLANATION_BYTES,
                );
                for request in &unit.requests {
                    let id = (request.job, request.task);
                    let on_chain = jobs
                        .iter()
                        .find(|job| job.id == request.job)
                        .and_then(|job| job.tasks.get(request.task as usize))
                        .and_then(|task| task.unplaceable.as_deref());
                    if on_chain == Some(why.as_str()) || memory.reported.get(&id) == Some(&why) {
                        continue;
                    }
                    let message = Message::ReportUnplaceable(ReportUnplaceable {
                        job_id: request.job,
                        task: request.task,
                        explanation: why.clone(),
                    });
                    if client.send(key, vec![message], None).is_ok() {
                        metrics.unplaceable.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(job = request.job, task = request.task, why = %why, "cannot place");
                        memory.reported.insert(id, why.clone());
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use vcity_types::compute::{Billing, Requirements, Task, Workload};
    use vcity_types::{Amount, Hash, Height};

    #[test]
    fn metrics_render_in_the_prometheus_text_format() {
        let metrics = SchedulerMetrics::default();
        metrics.assigned.fetch_add(3, Ordering::Relaxed);
        metrics.record_decision(Duration::from_micros(2));
        let text = metrics.render();
        assert!(text.contains("# TYPE vcity_scheduler_assignments_total counter\nvcity_scheduler_assignments_total 3\n"));
        assert!(text.contains("vcity_scheduler_pending_tasks 0\n"));
        assert!(text.contains("vcity_scheduler_decision_nanoseconds_total 2000\n"));
    }

    pub(crate) fn compute_node(seed: u8, cores: u32) -> NodeView {
        let params = vcity_ledger::nodes::NodeParams::default();
        let hardware = Hardware {
            sandbox: None,
            gpus: vec![],
            cpu_cores: cores,
            ram_mib: 1_024,
        };
        let capacity = vcity_ledger::nodes::capacity_ppm(&params, &hardware).expect("cpu");
        NodeView {
            node: vcity_types::compute::NodeRecord {
                id: AccountId([seed; 32]),
                role: Role::Compute,
                kind: NodeKind::Flexible,
                hardware,
                region: "eu-west".into(),
                endpoint: String::new(),
                price_per_cu_usd: Amount::new(40_000),
                stake: vcity_ledger::nodes::required_stake(&params, Role::Compute, capacity),
                capacity_cu_ppm: capacity,
                registered_s: 0,
                last_heartbeat_s: 100,
                load_ppm: 0,
                healthy: true,
                running_tasks: 0,
                online_s: 0,
                tasks_completed: 10,
                tasks_lost: 0,
                trust: Default::default(),
                health: Default::default(),
                tee: Default::default(),
            },
            online: true,
            required_stake: Amount::ZERO,
            paused: false,
            grace_until_s: None,
            unbonding: Amount::ZERO,
            reputation_ppm: 0,
            health_issues: Vec::new(),
            challenges: Vec::new(),
            slashes: Vec::new(),
            height: Height(1),
        }
    }

    fn job(id: u64, states: Vec<TaskState>) -> Job {
        Job {
            id,
            owner: AccountId([9; 32]),
            workload: Workload {
                executor: vcity_types::compute::ExecutorKind::Wasm,
                module_hash: Hash::ZERO,
                input: vec![],
                shards: Vec::new(),
                service: None,
                output_dir: false,
                confidential: None,
            },
            requirements: Requirements {
                max_duration_s: 60,
                ..Requirements::default()
            },
            max_cu_ppm_per_task: 1_000,
            max_price_per_cu_usd: Amount::new(100_000),
            billing: Billing::PayAsYouGo,
            verification: Default::default(),
            retries: None,
            submitted_s: 0,
            tasks: states
                .into_iter()
                .map(|state| Task {
                    state,
                    ..Task::pending(Amount::new(1), 0)
                })
                .collect(),
        }
    }

    #[test]
    fn tasks_on_the_ledger_and_in_flight_hold_their_slots() {
        let mut engine = Engine::new(
            vcity_ledger::nodes::NodeParams::default(),
            Weights::default(),
        );
        engine.advance(100);
        let small = compute_node(1, 2);
        engine.upsert(&small.node, Some(5));
        let running = TaskState::Running {
            node: small.node.id,
            price_per_cu_usd: Amount::new(40_000),
            started_s: 90,
        };
        let jobs = vec![job(
            1,
            vec![running, TaskState::Pending, TaskState::Pending],
        )];
        // Task 1 was sent to the node a moment ago: both slots are taken, task 2 must wait.
        let in_flight = BTreeMap::from([((1, 1), (Instant::now(), small.node.id))]);
        let pending = load_usage(&mut engine, &jobs, &in_flight);
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].task, 2);
        assert_eq!(
            engine.node_usage(&small.node.id).expect("known").cpu_used,
            2
        );
        let decisions = Round::new(&engine, pending).run(&mut engine);
        assert_eq!(decisions[0].1, UnitDecision::Wait);
        // Without the in-flight assignment there is room again.
        let pending = load_usage(&mut engine, &jobs, &BTreeMap::new());
        assert_eq!(pending.len(), 2);
        let decisions = Round::new(&engine, pending).run(&mut engine);
        assert!(matches!(decisions[0].1, UnitDecision::Assign(_)));
        assert_eq!(decisions[1].1, UnitDecision::Wait);
    }
}
