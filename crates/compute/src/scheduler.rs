//! The scheduler daemon (`vcity node scheduler`; issue 3 point 5; whitepaper §2.4.3, §2.5.2;
//! SPEC §5).
//!
//! It registers as a scheduler (with the service stake), then polls the open jobs and the compute
//! nodes and places every pending task, oldest job first: the candidates are the nodes that
//! [`fits`] (the one matching rule the ledger checks again on `AssignTask`) and that have a free
//! slot (one per CPU core, counting the tasks the ledger shows assigned to or running on each
//! node); among them it prefers, in order: the least loaded relative to its size; the more
//! reliable (its service record on the ledger: tasks lost ÷ tasks taken, in 10% steps); the
//! cheapest; the one in the job's region; the closest (TCP connect time to its endpoint, measured
//! every minute, in 10 ms steps; unreachable counts as far); the lowest reported load; then the
//! account id (deterministic ties). A task no node fits gets an explanation on the ledger (`ReportUnplaceable`: how many
//! nodes each constraint excluded), so `vcity job status` can say why. Tasks whose node missed
//! the start deadline come back as pending through the ledger and are placed again here.
//!
//! This is the simple engine; the scheduler-at-scale issue replaces the candidate search with
//! indexed, scored placement.

use crate::compute::{send_and_wait, wait_for_chain};
use anyhow::Context as _;
use ed25519_dalek::SigningKey;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vcity_ledger::jobs::{explain, fits};
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
}

/// The scheduler's counters, served at `/metrics`.
#[derive(Debug, Default)]
pub struct SchedulerMetrics {
    rounds: std::sync::atomic::AtomicU64,
    assigned: std::sync::atomic::AtomicU64,
    unplaceable: std::sync::atomic::AtomicU64,
    failed_rounds: std::sync::atomic::AtomicU64,
    pending: std::sync::atomic::AtomicU64,
}

impl SchedulerMetrics {
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

/// One placement decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Assign to this node.
    Assign(AccountId),
    /// Some node fits, but all that fit are full: wait.
    Wait,
    /// No node fits; why.
    Unplaceable(String),
}

/// Chooses a node for a task of `job` (pure: the same inputs give the same decision).
pub fn place(
    params: &vcity_ledger::nodes::NodeParams,
    nodes: &[NodeView],
    busy: &BTreeMap<AccountId, usize>,
    latency_ms: &BTreeMap<AccountId, u32>,
    job: &Job,
    now_s: u64,
) -> Decision {
    let records: Vec<_> = nodes.iter().map(|view| view.node.clone()).collect();
    let fitting: Vec<_> = records
        .iter()
        .filter(|node| {
            fits(
                params,
                node,
                &job.requirements,
                job.max_price_per_cu_usd,
                now_s,
            )
            .is_ok()
        })
        .collect();
    if fitting.is_empty() {
        let why = explain(
            params,
            &records,
            &job.requirements,
            job.max_price_per_cu_usd,
            now_s,
        )
        .unwrap_or_else(|| "no compute node fits".into());
        return Decision::Unplaceable(why);
    }
    let slots = |hardware: &Hardware| hardware.cpu_cores.max(1) as usize;
    fitting
        .into_iter()
        .filter(|node| busy.get(&node.id).copied().unwrap_or(0) < slots(&node.hardware))
        .min_by(|a, b| {
            let used = |node: &vcity_types::compute::NodeRecord| {
                // Parts per million of its slots in use.
                busy.get(&node.id).copied().unwrap_or(0) * 1_000_000 / slots(&node.hardware)
            };
            let away = |node: &vcity_types::compute::NodeRecord| {
                job.requirements
                    .region
                    .as_ref()
                    .is_some_and(|region| *region != node.region)
            };
            let unreliable = |node: &vcity_types::compute::NodeRecord| {
                // Tenths of the tasks it took that it lost (a new node counts as reliable).
                let taken = node.tasks_completed.saturating_add(node.tasks_lost);
                node.tasks_lost.saturating_mul(10) / taken.max(1)
            };
            let distance = |node: &vcity_types::compute::NodeRecord| {
                latency_ms.get(&node.id).copied().unwrap_or(u32::MAX) / 10
            };
            used(a)
                .cmp(&used(b))
                .then(unreliable(a).cmp(&unreliable(b)))
                .then(a.price_per_cu_usd.cmp(&b.price_per_cu_usd))
                .then(away(a).cmp(&away(b)))
                .then(distance(a).cmp(&distance(b)))
                .then(a.load_ppm.cmp(&b.load_ppm))
                .then(a.id.cmp(&b.id))
        })
        .map_or(Decision::Wait, |node| Decision::Assign(node.id))
}

/// Tasks per node, counted from open jobs (assigned or running), for load-aware placement.
pub fn busy_by_node(jobs: &[Job]) -> BTreeMap<AccountId, usize> {
    let mut busy = BTreeMap::new();
    for job in jobs {
        for task in &job.tasks {
            if let TaskState::Assigned { node, .. } | TaskState::Running { node, .. } = &task.state
            {
                *busy.entry(*node).or_default() += 1;
            }
        }
    }
    busy
}

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
    let mut in_flight: BTreeMap<(u64, u32), Instant> = BTreeMap::new();
    let mut reported: BTreeMap<(u64, u32), String> = BTreeMap::new();
    let mut latency = Latency::default();
    while !stop.load(Ordering::Relaxed) && !crate::parent_gone() {
        if Instant::now() >= next_heartbeat {
            let beat = Message::NodeHeartbeat(NodeHeartbeat {
                load_ppm: 0,
                healthy: true,
                running_tasks: 0,
            });
            match client.send(&key, vec![beat], None) {
                Ok(_) => next_heartbeat = Instant::now() + heartbeat_every,
                Err(error) => tracing::warn!(%error, "scheduler heartbeat failed"),
            }
        }
        metrics.rounds.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = turn(
            &client,
            &key,
            &params,
            &mut in_flight,
            &mut reported,
            &mut latency,
            &metrics,
        ) {
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

fn turn(
    client: &Client,
    key: &SigningKey,
    params: &vcity_ledger::ParamsView,
    in_flight: &mut BTreeMap<(u64, u32), Instant>,
    reported: &mut BTreeMap<(u64, u32), String>,
    latency: &mut Latency,
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
    let pending = jobs.iter().any(|job| {
        job.tasks
            .iter()
            .any(|task| task.state == TaskState::Pending)
    });
    in_flight.retain(|_, since| since.elapsed() < IN_FLIGHT);
    if !pending {
        return Ok(());
    }
    let now_s = client.status()?.chain_time_s;
    let nodes = client.all_nodes(Some(Role::Compute))?;
    latency.refresh(&nodes);
    let latency_ms = latency.snapshot();
    let mut busy = busy_by_node(&jobs);
    // Assignments sent but not yet on the ledger still take a slot.
    for job in &jobs {
        for (index, task) in job.tasks.iter().enumerate() {
            if task.state != TaskState::Pending {
                reported.remove(&(job.id, index as u32));
            }
        }
    }
    for job in &jobs {
        for (index, task) in job.tasks.iter().enumerate() {
            let id = (job.id, index as u32);
            if task.state != TaskState::Pending || in_flight.contains_key(&id) {
                continue;
            }
            match place(&params.nodes, &nodes, &busy, &latency_ms, job, now_s) {
                Decision::Assign(node) => {
                    let message = Message::AssignTask(AssignTask {
                        job_id: job.id,
                        task: index as u32,
                        node,
                    });
                    match client.send(key, vec![message], None) {
                        Ok(_) => {
                            *busy.entry(node).or_default() += 1;
                            in_flight.insert(id, Instant::now());
                            metrics.assigned.fetch_add(1, Ordering::Relaxed);
                            tracing::info!(job = job.id, task = index, node = %node, "assigned");
                        }
                        Err(error) => {
                            tracing::warn!(job = job.id, task = index, %error, "assignment not sent")
                        }
                    }
                }
                Decision::Wait => {}
                Decision::Unplaceable(mut why) => {
                    let mut end = why.len().min(MAX_EXPLANATION_BYTES);
                    while !why.is_char_boundary(end) {
                        end -= 1;
                    }
                    why.truncate(end);
                    let already = task.unplaceable.as_deref() == Some(why.as_str())
                        || reported.get(&id) == Some(&why);
                    if !already {
                        let message = Message::ReportUnplaceable(ReportUnplaceable {
                            job_id: job.id,
                            task: index as u32,
                            explanation: why.clone(),
                        });
                        if client.send(key, vec![message], None).is_ok() {
                            metrics.unplaceable.fetch_add(1, Ordering::Relaxed);
                            tracing::info!(job = job.id, task = index, why = %why, "cannot place");
                            reported.insert(id, why);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vcity_types::compute::{Billing, NodeRecord, Requirements, Task, Workload};
    use vcity_types::{Hash, Height};

    fn node(seed: u8, price: u128, completed: u64, lost: u64) -> NodeView {
        NodeView {
            node: NodeRecord {
                id: AccountId([seed; 32]),
                role: Role::Compute,
                kind: NodeKind::Flexible,
                hardware: Hardware {
                    gpus: vec![],
                    cpu_cores: 2,
                    ram_mib: 1_024,
                },
                region: "eu-west".into(),
                endpoint: String::new(),
                price_per_cu_usd: Amount::new(price),
                stake: Amount::whole(1_000, vcity_types::Denom::Vcai).expect("amount"),
                capacity_cu_ppm: 20_000,
                registered_s: 0,
                last_heartbeat_s: 100,
                load_ppm: 0,
                healthy: true,
                running_tasks: 0,
                online_s: 0,
                tasks_completed: completed,
                tasks_lost: lost,
            },
            online: true,
            required_stake: Amount::ZERO,
            unbonding: Amount::ZERO,
            height: Height(1),
        }
    }

    fn job(requirements: Requirements) -> Job {
        Job {
            id: 1,
            owner: AccountId([9; 32]),
            workload: Workload {
                module_hash: Hash::ZERO,
                input: vec![],
            },
            requirements,
            max_cu_ppm_per_task: 1_000,
            max_price_per_cu_usd: Amount::new(100_000),
            billing: Billing::PayAsYouGo,
            submitted_s: 0,
            tasks: vec![Task {
                state: TaskState::Pending,
                attempts: 0,
                escrow_usd: Amount::new(1),
                pending_since_s: 0,
                unplaceable: None,
            }],
        }
    }

    fn cpu() -> Requirements {
        Requirements {
            max_duration_s: 60,
            ..Requirements::default()
        }
    }

    #[test]
    fn metrics_render_in_the_prometheus_text_format() {
        let metrics = SchedulerMetrics::default();
        metrics.assigned.fetch_add(3, Ordering::Relaxed);
        let text = metrics.render();
        assert!(text.contains("# TYPE vcity_scheduler_assignments_total counter\nvcity_scheduler_assignments_total 3\n"));
        assert!(text.contains("vcity_scheduler_pending_tasks 0\n"));
    }

    #[test]
    fn placement_prefers_free_then_reliable_then_cheap_then_close() {
        let params = vcity_ledger::nodes::NodeParams::default();
        let none: BTreeMap<AccountId, usize> = BTreeMap::new();
        let far: BTreeMap<AccountId, u32> = BTreeMap::new();
        let cheap_flaky = node(1, 40_000, 1, 9);
        let dear_reliable = node(2, 60_000, 10, 0);
        let cheap_reliable = node(3, 40_000, 10, 0);
        let nodes = vec![
            cheap_flaky.clone(),
            dear_reliable.clone(),
            cheap_reliable.clone(),
        ];
        assert_eq!(
            place(&params, &nodes, &none, &far, &job(cpu()), 100),
            Decision::Assign(cheap_reliable.node.id)
        );
        // A busier node loses to an idle one, whatever its price.
        let busy = BTreeMap::from([(cheap_reliable.node.id, 1)]);
        assert_eq!(
            place(&params, &nodes, &busy, &far, &job(cpu()), 100),
            Decision::Assign(dear_reliable.node.id)
        );
        // Equal in all else, the closer node wins; an unmeasured one counts as far.
        let twin = node(4, 40_000, 10, 0);
        let latency = BTreeMap::from([(twin.node.id, 3)]);
        assert_eq!(
            place(
                &params,
                &[cheap_reliable.clone(), twin.clone()],
                &none,
                &latency,
                &job(cpu()),
                100
            ),
            Decision::Assign(twin.node.id)
        );
        // Full everywhere: wait. Nothing fits: say why.
        let full = BTreeMap::from([(cheap_reliable.node.id, 2)]);
        assert_eq!(
            place(
                &params,
                std::slice::from_ref(&cheap_reliable),
                &full,
                &far,
                &job(cpu()),
                100
            ),
            Decision::Wait
        );
        let gpu = Requirements {
            gpu_model: Some("H100".into()),
            gpu_count: 1,
            ..cpu()
        };
        match place(&params, &nodes, &none, &far, &job(gpu), 100) {
            Decision::Unplaceable(why) => assert!(why.contains("3 lacks the GPU model"), "{why}"),
            other => panic!("expected unplaceable, got {other:?}"),
        }
    }
}
