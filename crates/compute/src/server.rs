//! The compute node's own HTTP server: task results, outputs and logs for the job's owner only
//! (requests signed by the owner's key, see `vcity_sdk::compute`), plus health, hardware and
//! Prometheus metrics.
//!
//! | route | who |
//! |---|---|
//! | `GET /v1/tasks/{job}/{task}/result` | owner: the commitment and the node's signed statement (JSON) |
//! | `GET /v1/tasks/{job}/{task}/output` | owner: the output bytes |
//! | `GET /v1/tasks/{job}/{task}/log` | owner: the task's log (kept after it ends) |
//! | `POST /v1/capacity/{challenge}/open` | the challenge's drawn verifier or a referee of its dispute: `C·r` and rows with proofs (docs/verification.md) |
//! | `GET /v1/health`, `GET /v1/hardware`, `GET /metrics` | anyone |

use crate::hardware::Detected;
use crate::journal::Journal;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ed25519_dalek::SigningKey;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use vcity_sdk::compute::{
    verify_owner_request, TaskResultView, HEADER_ACCOUNT, HEADER_SIGNATURE, HEADER_TIME,
};
use vcity_sdk::Client;
use vcity_types::AccountId;

/// What the control loop and the server share.
#[derive(Debug)]
pub struct Shared {
    me: AccountId,
    client: Client,
    journal: Journal,
    detected: Detected,
    running: AtomicU64,
    tasks_ran: AtomicU64,
    tasks_failed: AtomicU64,
    cu_used_ppm: AtomicU64,
    requests_refused: AtomicU64,
    openings_served: AtomicU64,
    /// The node's key and the chain id, to sign result statements for whoever fetches them.
    signer: Option<(SigningKey, String)>,
    /// The services running here, for the gateway.
    pub services: crate::service::Services,
    /// Requests the gateway carried to a service.
    gateway_requests: AtomicU64,
    /// What the ledger last said about this node and its rewards (the `vcity_node_*` metrics).
    standing: std::sync::Mutex<Option<Standing>>,
}

/// The ledger's view of this node, as the daemon last read it: its registration, bond, trust
/// record and incentive rewards, exported as the `vcity_node_*` metrics so that an operator's
/// Prometheus sees standing and earnings beside the daemon's own counters
/// (`deploy/grafana/vcity-compute-node.json`).
#[derive(Debug, Clone)]
pub struct Standing {
    /// `GET /v1/nodes/{id}`.
    pub node: vcity_types::api::NodeView,
    /// `GET /v1/rewards/{id}`, if it answered.
    pub rewards: Option<vcity_types::api::RewardsView>,
}

impl Shared {
    /// Shared state for the node `me`.
    pub fn new(
        me: AccountId,
        client: Client,
        journal: Journal,
        detected: Detected,
        signer: Option<(SigningKey, String)>,
    ) -> Shared {
        Shared {
            services: crate::service::Services::default(),
            gateway_requests: AtomicU64::new(0),
            openings_served: AtomicU64::new(0),
            signer,
            me,
            client,
            journal,
            detected,
            running: AtomicU64::new(0),
            tasks_ran: AtomicU64::new(0),
            tasks_failed: AtomicU64::new(0),
            cu_used_ppm: AtomicU64::new(0),
            requests_refused: AtomicU64::new(0),
            standing: std::sync::Mutex::new(None),
        }
    }

    /// Records what the ledger says about this node now.
    pub fn set_standing(&self, standing: Standing) {
        *self
            .standing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(standing);
    }

    /// Tasks executing now.
    pub fn set_running(&self, count: usize) {
        self.running.store(count as u64, Ordering::Relaxed);
    }

    /// A task ran to a result.
    pub fn task_ran(&self, cu_used_ppm: u64) {
        self.tasks_ran.fetch_add(1, Ordering::Relaxed);
        self.cu_used_ppm.fetch_add(cu_used_ppm, Ordering::Relaxed);
    }

    /// A task was given up.
    pub fn task_failed(&self) {
        self.tasks_failed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Serves the compute node's routes on `listener` from a runtime of its own thread.
pub fn spawn(listener: std::net::TcpListener, shared: Arc<Shared>) -> anyhow::Result<()> {
    serve(listener, router(shared))
}

/// Serves `app` on `listener` from a runtime of its own thread.
pub fn serve(listener: std::net::TcpListener, app: Router) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("compute-api".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(error) => {
                        tracing::error!(%error, "compute API listener");
                        return;
                    }
                };
                if let Err(error) = axum::serve(listener, app).await {
                    tracing::error!(%error, "compute API stopped");
                }
            });
        })?;
    Ok(())
}

/// The routes.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/hardware", get(hardware))
        .route("/metrics", get(metrics))
        .route(
            "/v1/tasks/{job}/{task}/{what}",
            get(task_file_any_origin).options(task_file_preflight),
        )
        .route("/v1/capacity/{challenge}/open", post(open_capacity))
        .route("/jobs/{job}", axum::routing::any(gateway))
        .route("/jobs/{job}/", axum::routing::any(gateway))
        .route("/jobs/{job}/{*rest}", axum::routing::any(gateway))
        .with_state(shared)
}

async fn health(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "account": shared.me.to_string(),
        "running_tasks": shared.running.load(Ordering::Relaxed),
    }))
}

async fn hardware(State(shared): State<Arc<Shared>>) -> Json<Detected> {
    Json(shared.detected.clone())
}

/// One Prometheus metric in the text format.
pub fn metric_line(name: &str, kind: &str, help: &str, value: impl std::fmt::Display) -> String {
    format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n")
}

/// The `vcity_node_*` metrics of `standing`: amounts in whole VCAI (decimals kept), flags as
/// 0 or 1.
pub fn standing_metrics(standing: &Standing) -> String {
    use vcity_types::{Amount, Denom};
    let view = &standing.node;
    let node = &view.node;
    let trust = &node.trust;
    let vcai = |amount: Amount| amount.to_decimal(Denom::Vcai);
    let flag = |on: bool| u8::from(on).to_string();
    let mut lines = vec![
        (
            "vcity_node_online",
            "gauge",
            "Heartbeat within the ledger's offline threshold.",
            flag(view.online),
        ),
        (
            "vcity_node_healthy",
            "gauge",
            "The ledger finds the last heartbeat's health good.",
            flag(node.healthy),
        ),
        (
            "vcity_node_stake_vcai",
            "gauge",
            "VCAI bonded.",
            vcai(node.stake),
        ),
        (
            "vcity_node_required_stake_vcai",
            "gauge",
            "VCAI the node must keep bonded.",
            vcai(view.required_stake),
        ),
        (
            "vcity_node_unbonding_vcai",
            "gauge",
            "VCAI unbonding or waiting to be withdrawn.",
            vcai(view.unbonding),
        ),
        (
            "vcity_node_stake_grace",
            "gauge",
            "Below a raised requirement, still scheduled in its grace.",
            flag(view.grace_until_s.is_some()),
        ),
        (
            "vcity_node_paused",
            "gauge",
            "Below the requirement past its grace: no tasks, no Proof of Capacity.",
            flag(view.paused),
        ),
        (
            "vcity_node_probation",
            "gauge",
            "On probation (docs/verification.md).",
            flag(trust.probation),
        ),
        (
            "vcity_node_reputation_ppm",
            "gauge",
            "Reputation score, millionths.",
            view.reputation_ppm.to_string(),
        ),
        (
            "vcity_node_tee_tier",
            "gauge",
            "TEE tier standing at the last heartbeat: 0 none, 1 cpu, 2 cpu+gpu.",
            (node.tee.tier_at(node.last_heartbeat_s) as u8).to_string(),
        ),
        (
            "vcity_node_online_seconds_total",
            "counter",
            "Seconds online, counted from heartbeats.",
            node.online_s.to_string(),
        ),
        (
            "vcity_node_tasks_completed_total",
            "counter",
            "Tasks completed on the ledger.",
            node.tasks_completed.to_string(),
        ),
        (
            "vcity_node_tasks_lost_total",
            "counter",
            "Tasks lost (missed starts, offline, given back).",
            node.tasks_lost.to_string(),
        ),
        (
            "vcity_node_results_disproved_total",
            "counter",
            "Results a referee round disproved.",
            trust.results_disproved.to_string(),
        ),
        (
            "vcity_node_challenges_passed_total",
            "counter",
            "Capacity challenges passed.",
            trust.challenges_passed.to_string(),
        ),
        (
            "vcity_node_challenges_failed_total",
            "counter",
            "Capacity challenges failed.",
            trust.challenges_failed.to_string(),
        ),
        (
            "vcity_node_slashes_total",
            "counter",
            "Slashes.",
            trust.slashes.to_string(),
        ),
    ];
    if let Some(rewards) = &standing.rewards {
        let total = &rewards.incentives_total;
        lines.extend([
            (
                "vcity_node_rewards_claimable_vcai",
                "gauge",
                "Rewards claimable now.",
                vcai(rewards.claimable_vcai),
            ),
            (
                "vcity_node_rewards_capacity_vcai_total",
                "counter",
                "Proof of Capacity credited, all time.",
                vcai(total.capacity),
            ),
            (
                "vcity_node_rewards_delivery_vcai_total",
                "counter",
                "Proof of Delivery credited, all time.",
                vcai(total.delivery),
            ),
            (
                "vcity_node_rewards_performance_vcai_total",
                "counter",
                "Performance bonus credited, all time (docs/protocol.md, \"Long-term incentives\").",
                vcai(total.performance),
            ),
            (
                "vcity_node_loyalty_multiplier",
                "gauge",
                "Loyalty multiplier on Proof of Capacity in the open incentive period.",
                format!(
                    "{}.{:06}",
                    rewards.loyalty_ppm / 1_000_000,
                    rewards.loyalty_ppm % 1_000_000
                ),
            ),
        ]);
    }
    lines
        .into_iter()
        .map(|(name, kind, help, value)| metric_line(name, kind, help, value))
        .collect()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> String {
    render_metrics(&shared)
}

/// The daemon's `/metrics` text: its own counters, then the ledger's view of the node.
fn render_metrics(shared: &Shared) -> String {
    let line = metric_line;
    let standing = shared
        .standing
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_ref()
        .map(standing_metrics)
        .unwrap_or_default();
    [
        line(
            "vcity_compute_running_tasks",
            "gauge",
            "Tasks executing now.",
            shared.running.load(Ordering::Relaxed),
        ),
        line(
            "vcity_compute_tasks_ran_total",
            "counter",
            "Tasks run to a result.",
            shared.tasks_ran.load(Ordering::Relaxed),
        ),
        line(
            "vcity_compute_tasks_failed_total",
            "counter",
            "Tasks given up.",
            shared.tasks_failed.load(Ordering::Relaxed),
        ),
        line(
            "vcity_compute_cu_used_ppm_total",
            "counter",
            "CU used by results, millionths.",
            shared.cu_used_ppm.load(Ordering::Relaxed),
        ),
        line(
            "vcity_compute_requests_refused_total",
            "counter",
            "Output requests refused (not the owner, bad signature).",
            shared.requests_refused.load(Ordering::Relaxed),
        ),
        line(
            "vcity_compute_capacity_openings_total",
            "counter",
            "Capacity proof openings served to verifiers and referees.",
            shared.openings_served.load(Ordering::Relaxed),
        ),
        line(
            "vcity_compute_services_running",
            "gauge",
            "Service tasks running now.",
            shared.services.count() as u64,
        ),
        line(
            "vcity_compute_service_restarts_total",
            "counter",
            "Service instances started again after going down.",
            shared.services.restarts(),
        ),
        line(
            "vcity_compute_gateway_requests_total",
            "counter",
            "Requests the gateway carried to a service.",
            shared.gateway_requests.load(Ordering::Relaxed),
        ),
        standing,
    ]
    .concat()
}

fn refuse(status: StatusCode, error: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(serde_json::json!({"code": 0, "error": error, "message": message.into()})),
    )
        .into_response()
}

/// Who signed this request for `method path` (`vcity_sdk::compute` headers), or the refusal.
fn signed_by(
    shared: &Shared,
    headers: &HeaderMap,
    method: &str,
    path: &str,
) -> Result<AccountId, Box<Response>> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    verify_owner_request(
        method,
        path,
        header(HEADER_ACCOUNT),
        header(HEADER_TIME),
        header(HEADER_SIGNATURE),
        crate::journal::now_ms(),
    )
    .map_err(|error| {
        shared.requests_refused.fetch_add(1, Ordering::Relaxed);
        Box::new(refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            error.to_string(),
        ))
    })
}

/// A browser page (the node's console) fetches outputs from another origin: any origin may ask.
/// What grants access is the owner's signature over the request, not where it comes from, and
/// no cookie or ambient credential is involved.
async fn task_file_any_origin(
    state: State<Arc<Shared>>,
    path: Path<(u64, u32, String)>,
    headers: HeaderMap,
) -> Response {
    let mut response = task_file(state, path, headers).await;
    response.headers_mut().insert(
        axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        axum::http::HeaderValue::from_static("*"),
    );
    response
}

/// The CORS preflight for [`task_file_any_origin`]: the signature headers are allowed.
async fn task_file_preflight() -> Response {
    use axum::http::header;
    (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET"),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "x-vcity-account, x-vcity-time-ms, x-vcity-signature",
            ),
            (header::ACCESS_CONTROL_MAX_AGE, "600"),
        ],
    )
        .into_response()
}

async fn task_file(
    State(shared): State<Arc<Shared>>,
    Path((job_id, task, what)): Path<(u64, u32, String)>,
    headers: HeaderMap,
) -> Response {
    if !matches!(what.as_str(), "result" | "output" | "log") {
        return refuse(StatusCode::NOT_FOUND, "no_route", "result, output or log");
    }
    let path = format!("/v1/tasks/{job_id}/{task}/{what}");
    let signer = match signed_by(&shared, &headers, "GET", &path) {
        Ok(signer) => signer,
        Err(refusal) => return *refusal,
    };
    // The ledger says who owns the job.
    let lookup = shared.clone();
    let job = match tokio::task::spawn_blocking(move || lookup.client.job(job_id)).await {
        Ok(Ok(job)) => job,
        Ok(Err(vcity_sdk::ClientError::NotFound(message))) => {
            return refuse(StatusCode::NOT_FOUND, "not_found", message)
        }
        Ok(Err(error)) => {
            return refuse(
                StatusCode::BAD_GATEWAY,
                "chain_unavailable",
                error.to_string(),
            )
        }
        Err(error) => {
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                error.to_string(),
            )
        }
    };
    if job.owner != signer {
        shared.requests_refused.fetch_add(1, Ordering::Relaxed);
        return refuse(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the job's owner may fetch its results",
        );
    }
    let entry = match shared.journal.get(job_id, task) {
        Ok(Some(entry)) => entry,
        Ok(None) => {
            return refuse(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("this node has no task {task} of job {job_id}"),
            )
        }
        Err(error) => {
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                error.to_string(),
            )
        }
    };
    match what.as_str() {
        "log" => match shared.journal.log(job_id, task) {
            Ok(Some(bytes)) => {
                ([("content-type", "text/plain; charset=utf-8")], bytes).into_response()
            }
            Ok(None) => refuse(StatusCode::NOT_FOUND, "not_found", "no log yet"),
            Err(error) => refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                error.to_string(),
            ),
        },
        _ => {
            let Some(commitment) = entry.commitment().cloned() else {
                return refuse(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "the task has no result yet",
                );
            };
            if what == "result" {
                let statement = shared.signer.as_ref().map(|(key, chain_id)| {
                    vcity_types::trust::ResultStatement {
                        chain_id: chain_id.clone(),
                        job_id,
                        task,
                        attempt: entry.attempt,
                        result_hash: commitment.hash(),
                    }
                    .sign(key)
                });
                return Json(TaskResultView {
                    job_id,
                    task,
                    commitment_hash: commitment.hash(),
                    commitment,
                    statement,
                })
                .into_response();
            }
            match shared.journal.output(&commitment.output) {
                Ok(Some(bytes)) => {
                    ([("content-type", "application/octet-stream")], bytes).into_response()
                }
                Ok(None) => refuse(StatusCode::NOT_FOUND, "not_found", "the output is gone"),
                Err(error) => refuse(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    error.to_string(),
                ),
            }
        }
    }
}

/// Whether `account` may ask for openings of challenge `id`: the verifier drawn for it, or a
/// referee of the dispute about it.
fn may_open(
    client: &Client,
    id: u64,
    account: &AccountId,
) -> Result<vcity_types::trust::CapacityChallenge, String> {
    let challenge = client.challenge(id).map_err(|error| error.to_string())?;
    if challenge.verifier == Some(*account) {
        return Ok(challenge);
    }
    if let vcity_types::trust::ChallengeState::Disputed { dispute_id } = challenge.state {
        let dispute = client
            .dispute(dispute_id)
            .map_err(|error| error.to_string())?;
        if dispute.referees.contains(account) {
            return Ok(challenge);
        }
    }
    Err(format!(
        "{account} is neither the verifier nor a referee of capacity challenge {id}"
    ))
}

async fn open_capacity(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<u64>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let path = format!("/v1/capacity/{id}/open");
    let signer = match signed_by(&shared, &headers, "POST", &path) {
        Ok(signer) => signer,
        Err(refusal) => return *refusal,
    };
    let request: crate::capacity::OpenRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return refuse(StatusCode::BAD_REQUEST, "bad_request", error.to_string()),
    };
    let work = shared.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let challenge =
            may_open(&work.client, id, &signer).map_err(|why| (StatusCode::FORBIDDEN, why))?;
        let proofs = work.journal.proof(id).ok_or((
            StatusCode::NOT_FOUND,
            format!("this node has no proof of challenge {id}"),
        ))?;
        let proof = proofs
            .iter()
            .find(|proof| proof.device == request.device)
            .ok_or((
                StatusCode::NOT_FOUND,
                format!("no device {}", request.device),
            ))?;
        crate::capacity::open(&challenge.seed, proof, &request).ok_or((
            StatusCode::BAD_REQUEST,
            "rows out of range or too many".to_string(),
        ))
    })
    .await;
    match answer {
        Ok(Ok(opening)) => {
            shared.openings_served.fetch_add(1, Ordering::Relaxed);
            Json(opening).into_response()
        }
        Ok(Err((status, why))) => {
            if status == StatusCode::FORBIDDEN {
                shared.requests_refused.fetch_add(1, Ordering::Relaxed);
            }
            refuse(status, "refused", why)
        }
        Err(error) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            error.to_string(),
        ),
    }
}

/// Longest a service token may be valid for from now.
pub const MAX_TOKEN_LIFETIME_MS: u64 = 30 * 24 * 3_600 * 1_000;

/// Checks a service token (`{job_id}.{expires_ms}.{signature hex}`, docs/job-spec.md,
/// "Services") for job `job_id` owned by `owner` at `now_ms`.
pub fn check_service_token(
    token: &str,
    job_id: u64,
    owner: &AccountId,
    now_ms: u64,
) -> Result<(), String> {
    let mut parts = token.split('.');
    let (Some(job), Some(expires), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("a token is JOB.EXPIRES_MS.SIGNATURE".into());
    };
    if job.parse::<u64>().ok() != Some(job_id) {
        return Err(format!("the token is not for job {job_id}"));
    }
    let expires_ms: u64 = expires.parse().map_err(|_| "bad expiry".to_string())?;
    if expires_ms < now_ms {
        return Err("the token has expired".into());
    }
    if expires_ms > now_ms.saturating_add(MAX_TOKEN_LIFETIME_MS) {
        return Err("the token is valid for longer than 30 days".into());
    }
    let bytes: [u8; 64] = hex::decode(signature)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| "bad signature encoding".to_string())?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&owner.0)
        .map_err(|_| "the owner's key is not a valid ed25519 key".to_string())?;
    let digest = vcity_types::compute::service_token_digest(job_id, expires_ms);
    key.verify_strict(
        digest.as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&bytes),
    )
    .map_err(|_| "the token is not signed by the job's owner".to_string())
}

/// The service gateway: `/jobs/{id}/...` with the owner's token goes to job `id`'s service on
/// this node (through its portal), the path after `/jobs/{id}` becoming the request's path.
async fn gateway(
    State(shared): State<Arc<Shared>>,
    Path(params): Path<std::collections::BTreeMap<String, String>>,
    mut request: axum::extract::Request,
) -> Response {
    let Some(job_id) = params.get("job").and_then(|job| job.parse::<u64>().ok()) else {
        return refuse(StatusCode::NOT_FOUND, "not_found", "no such job");
    };
    let prefix = format!("/jobs/{job_id}");
    let path = request.uri().path().to_string();
    let rest = path.strip_prefix(&prefix).unwrap_or_default();
    if rest.is_empty() {
        return axum::response::Redirect::permanent(&format!("{prefix}/")).into_response();
    }
    let Some(handle) = shared.services.get(job_id) else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_running",
            format!("job {job_id}'s service is not running on this node"),
        );
    };
    let token = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let verdict = match token {
        Some(token) => check_service_token(
            token.trim(),
            job_id,
            &handle.owner,
            crate::journal::now_ms(),
        ),
        None => Err("an Authorization: Bearer token from `vcity job token` is required".into()),
    };
    if let Err(why) = verdict {
        shared.requests_refused.fetch_add(1, Ordering::Relaxed);
        return refuse(StatusCode::UNAUTHORIZED, "unauthorized", why);
    }
    let target = match request.uri().query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_string(),
    };
    let Ok(uri) = target.parse::<axum::http::Uri>() else {
        return refuse(StatusCode::BAD_REQUEST, "bad_request", "bad path");
    };
    *request.uri_mut() = uri;
    request
        .headers_mut()
        .remove(axum::http::header::AUTHORIZATION);
    shared.gateway_requests.fetch_add(1, Ordering::Relaxed);
    match forward(&handle.socket, request).await {
        Ok(response) => response,
        Err(error) => refuse(
            StatusCode::BAD_GATEWAY,
            "service_unreachable",
            format!("the service did not answer: {error}"),
        ),
    }
}

/// Sends `request` to the portal's socket over HTTP/1.1 and streams the answer back.
async fn forward(
    socket: &std::path::Path,
    request: axum::extract::Request,
) -> Result<Response, String> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|error| error.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|error| error.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| error.to_string())?;
    Ok(response.map(axum::body::Body::new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer as _;

    fn token(key: &SigningKey, job_id: u64, expires_ms: u64) -> String {
        let signature =
            key.sign(vcity_types::compute::service_token_digest(job_id, expires_ms).as_bytes());
        format!(
            "{job_id}.{expires_ms}.{}",
            hex::encode(signature.to_bytes())
        )
    }

    /// Every `expr` string under `value`.
    fn expressions(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    match (key.as_str(), item) {
                        ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                        _ => expressions(item, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| expressions(item, out)),
            _ => {}
        }
    }

    #[test]
    fn the_dashboard_names_only_metrics_the_daemon_exports() {
        let dashboard: serde_json::Value = serde_json::from_str(include_str!(
            "../../../deploy/grafana/vcity-compute-node.json"
        ))
        .expect("the dashboard is JSON");
        let mut exprs = Vec::new();
        expressions(&dashboard, &mut exprs);
        assert!(exprs.len() > 10, "{exprs:?}");

        let dir = tempfile::tempdir().expect("tempdir");
        let shared = Shared::new(
            AccountId([1; 32]),
            Client::new("http://127.0.0.1:9"),
            Journal::open(dir.path()).expect("journal"),
            Detected {
                hardware: Default::default(),
                driver: None,
                notes: Vec::new(),
            },
            None,
        );
        let mut node = crate::scheduler::tests::compute_node(1, 4);
        node.paused = true;
        node.node.trust.slashes = 2;
        shared.set_standing(Standing {
            rewards: Some(vcity_types::api::RewardsView {
                account: node.node.id,
                claimable_vcai: vcity_types::Amount::new(1_500_000),
                buyback_vcai: vcity_types::Amount::ZERO,
                incentives_unclaimed: Default::default(),
                incentives_total: Default::default(),
                incentives_history: Vec::new(),
                periods: Vec::new(),
                loyalty_ppm: 1_100_000,
                referral: None,
                height: node.height,
            }),
            node,
        });
        let text = render_metrics(&shared);
        let exported: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .filter_map(|rest| rest.split(' ').next())
            .collect();
        for expr in &exprs {
            let mut rest = expr.as_str();
            while let Some(at) = rest.find("vcity_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                assert!(exported.contains(&name.as_str()), "{name} in {expr:?}");
                rest = &rest[at + name.len()..];
            }
        }
        // The ledger's view is there, in its units.
        assert!(text.contains("\nvcity_node_paused 1\n"), "{text}");
        assert!(text.contains("\nvcity_node_slashes_total 2\n"), "{text}");
        assert!(text.contains("\nvcity_node_online 1\n"), "{text}");
        assert!(
            text.contains("\nvcity_node_loyalty_multiplier 1.100000\n"),
            "{text}"
        );
    }

    #[test]
    fn only_the_owners_unexpired_token_for_this_job_opens_the_gateway() {
        let owner_key = SigningKey::from_bytes(&[7; 32]);
        let owner = AccountId::from_public_key(&owner_key.verifying_key());
        let stranger = SigningKey::from_bytes(&[8; 32]);
        let now = 1_000_000;
        let good = token(&owner_key, 5, now + 60_000);
        assert_eq!(check_service_token(&good, 5, &owner, now), Ok(()));
        let refused = |text: &str, job: u64| {
            check_service_token(text, job, &owner, now).expect_err("refused")
        };
        assert!(refused(&good, 6).contains("not for job 6"));
        assert!(refused(&token(&stranger, 5, now + 60_000), 5).contains("not signed"));
        assert!(refused(&token(&owner_key, 5, now - 1), 5).contains("expired"));
        assert!(
            refused(&token(&owner_key, 5, now + MAX_TOKEN_LIFETIME_MS + 1), 5).contains("30 days")
        );
        // The expiry is signed: moving it breaks the signature.
        let stretched = good.replacen(
            &format!(".{}.", now + 60_000),
            &format!(".{}.", now + 120_000),
            1,
        );
        assert!(refused(&stretched, 5).contains("not signed"));
        assert!(refused("5.oops", 5).contains("JOB.EXPIRES_MS.SIGNATURE"));
    }
}
