//! The node's HTTP API (axum). Every route is listed in [`ROUTES`] and documented in
//! `docs/openapi.json`, served at `/v1/openapi.json`; a test checks the three agree.
//!
//! Errors are JSON [`ApiError`]s with the ledger's stable code (docs/protocol.md): `400` for a
//! transaction that is wrong and will stay wrong, `409` for one already waiting, `429` when the
//! sender's mempool quota is full and `503` when the mempool is, both of which a client may retry.

use crate::node::Node;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast;
use vcity_ledger::TxError;
use vcity_types::api::{ApiError, BlockSummaryView, EventView, SubmitTxRequest, SubmitTxResponse};
use vcity_types::{AccountId, Hash, Height};

/// The OpenAPI document, the one in `docs/`.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// Every route: (method, path in OpenAPI syntax).
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/txs"),
    ("post", "/v1/txs/batch"),
    ("get", "/v1/txs/{hash}"),
    ("get", "/v1/accounts/{id}"),
    ("get", "/v1/accounts/{id}/vesting"),
    ("get", "/v1/accounts/{id}/ve"),
    ("get", "/v1/ve"),
    ("get", "/v1/pool"),
    ("get", "/v1/treasury"),
    ("get", "/v1/incentives"),
    ("get", "/v1/trust"),
    ("get", "/v1/attestation"),
    ("get", "/v1/trust/duties/{id}"),
    ("get", "/v1/trust/challenges/{id}"),
    ("get", "/v1/trust/disputes/{id}"),
    ("get", "/v1/trust/slashes/{id}"),
    ("get", "/v1/governance"),
    ("get", "/v1/governance/quotas"),
    ("get", "/v1/governance/proposals"),
    ("get", "/v1/governance/proposals/{id}"),
    ("get", "/v1/governance/proposals/{id}/comments"),
    ("get", "/v1/governance/proposals/{id}/votes/{account}"),
    ("get", "/v1/nodes"),
    ("get", "/v1/jobs"),
    ("get", "/v1/jobs/{id}"),
    ("get", "/v1/subscriptions/{id}"),
    ("post", "/v1/blobs"),
    ("get", "/v1/blobs/{hash}"),
    ("get", "/v1/nodes/{id}"),
    ("get", "/v1/accounts/{id}/rewards"),
    ("get", "/v1/accounts/{id}/pool"),
    ("get", "/v1/supply"),
    ("get", "/v1/params"),
    ("get", "/v1/nfts"),
    ("get", "/v1/nfts/{id}"),
    ("get", "/v1/agents"),
    ("get", "/v1/agents/{id}"),
    ("get", "/v1/agents/{id}/licences/{account}"),
    ("get", "/v1/agent-calls/{job}"),
    ("get", "/v1/blocks/latest"),
    ("get", "/v1/blocks/{height}"),
    ("get", "/v1/proof"),
    ("get", "/v1/events"),
    ("get", "/v1/status"),
    ("get", "/v1/validators"),
    ("get", "/v1/health"),
    ("get", "/v1/openapi.json"),
    ("get", "/metrics"),
];

/// Largest request body: a maximal transaction (64 KiB) hex-encoded, plus JSON framing.
const MAX_BODY_BYTES: usize = 160 * 1024;

/// The largest `POST /v1/txs/batch` body: room for [`vcity_types::api::MAX_BATCH_TXS`] typical
/// transactions in hex.
const MAX_BATCH_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The router over `node`.
pub fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/v1/txs", post(submit_tx))
        .route(
            "/v1/txs/batch",
            post(submit_batch).layer(DefaultBodyLimit::max(MAX_BATCH_BODY_BYTES)),
        )
        .route("/v1/txs/{hash}", get(get_tx))
        .route("/v1/accounts/{id}", get(get_account))
        .route("/v1/accounts/{id}/vesting", get(get_vesting))
        .route("/v1/accounts/{id}/ve", get(get_ve_account))
        .route("/v1/ve", get(get_ve_total))
        .route("/v1/pool", get(get_pool))
        .route("/v1/treasury", get(get_treasury))
        .route("/v1/incentives", get(get_incentives))
        .route("/v1/trust", get(get_trust))
        .route("/v1/attestation", get(get_attestation))
        .route("/v1/trust/duties/{id}", get(get_duties))
        .route("/v1/trust/challenges/{id}", get(get_challenge))
        .route("/v1/trust/disputes/{id}", get(get_dispute))
        .route("/v1/trust/slashes/{id}", get(get_slash))
        .route("/v1/governance", get(get_governance))
        .route("/v1/governance/quotas", get(get_quotas))
        .route("/v1/governance/proposals", get(get_proposals))
        .route("/v1/governance/proposals/{id}", get(get_proposal))
        .route(
            "/v1/governance/proposals/{id}/comments",
            get(get_proposal_comments),
        )
        .route(
            "/v1/governance/proposals/{id}/votes/{account}",
            get(get_proposal_vote),
        )
        .route("/v1/nodes", get(get_nodes))
        .route("/v1/jobs", get(get_jobs))
        .route("/v1/jobs/{id}", get(get_job))
        .route("/v1/subscriptions/{id}", get(get_subscription))
        .route(
            "/v1/blobs",
            post(put_blob).layer(DefaultBodyLimit::max(crate::store::MAX_BLOB_BYTES)),
        )
        .route("/v1/blobs/{hash}", get(get_blob))
        .route("/v1/nodes/{id}", get(get_node))
        .route("/v1/accounts/{id}/rewards", get(get_rewards))
        .route("/v1/accounts/{id}/pool", get(get_pool_position))
        .route("/v1/supply", get(get_supply))
        .route("/v1/params", get(get_params))
        .route("/v1/nfts", get(get_nfts))
        .route("/v1/nfts/{id}", get(get_nft))
        .route("/v1/agents", get(get_agents))
        .route("/v1/agents/{id}", get(get_agent))
        .route("/v1/agents/{id}/licences/{account}", get(get_agent_licence))
        .route("/v1/agent-calls/{job}", get(get_agent_call))
        .route("/v1/blocks/latest", get(get_latest_block))
        .route("/v1/blocks/{height}", get(get_block))
        .route("/v1/proof", get(get_proof))
        .route("/v1/events", get(events))
        .route("/v1/status", get(status))
        .route("/v1/validators", get(get_validators))
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .merge(crate::console::routes())
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            node.clone(),
            count_request,
        ))
        .with_state(node)
}

async fn count_request(
    State(node): State<Arc<Node>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    node.metrics().http_request();
    next.run(request).await
}

/// An error answer.
#[derive(Debug)]
pub struct ApiFailure(StatusCode, ApiError);

impl ApiFailure {
    fn new(status: StatusCode, error: &str, message: impl Into<String>) -> ApiFailure {
        ApiFailure(
            status,
            ApiError {
                code: 0,
                error: error.into(),
                message: message.into(),
            },
        )
    }

    fn bad_request(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn not_found(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    fn internal(error: impl std::fmt::Display) -> ApiFailure {
        tracing::error!(%error, "internal error serving a request");
        ApiFailure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            error.to_string(),
        )
    }
}

/// `Query<T>` whose rejection is the API's JSON error (code 0, `bad_request`), not axum's plain
/// text: every answer of this API that is not a success has the one documented error body.
#[derive(Debug)]
struct ApiQuery<T>(T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiFailure;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiFailure::bad_request(rejection.body_text()))
    }
}

/// `Path<T>` whose rejection (a segment that is not UTF-8 once decoded) is the JSON error too.
#[derive(Debug)]
struct ApiPath<T>(T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiFailure;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|rejection| ApiFailure::bad_request(rejection.body_text()))
    }
}

/// A request body whose rejection (too large, unreadable) is the API's JSON error with the
/// rejection's status (413 `payload_too_large` for a body over the route's limit).
#[derive(Debug)]
struct ApiBody(Bytes);

impl<S> axum::extract::FromRequest<S> for ApiBody
where
    S: Send + Sync,
{
    type Rejection = ApiFailure;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Bytes::from_request(request, state)
            .await
            .map(ApiBody)
            .map_err(|rejection| {
                let status = rejection.status();
                let name = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "payload_too_large"
                } else {
                    "bad_request"
                };
                ApiFailure::new(status, name, rejection.body_text())
            })
    }
}

impl From<TxError> for ApiFailure {
    fn from(error: TxError) -> ApiFailure {
        let status = match error {
            TxError::AlreadyKnown => StatusCode::CONFLICT,
            TxError::SenderQuotaFull { .. } => StatusCode::TOO_MANY_REQUESTS,
            TxError::MempoolFull { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiFailure(
            status,
            ApiError {
                code: error.code(),
                error: error.name().into(),
                message: error.to_string(),
            },
        )
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiFailure>;

async fn no_route() -> ApiFailure {
    ApiFailure::new(
        StatusCode::NOT_FOUND,
        "no_route",
        "no such route; see /v1/openapi.json",
    )
}

async fn wrong_method() -> ApiFailure {
    ApiFailure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see /v1/openapi.json",
    )
}

/// The header a validator sets when it relays a client's transaction to the others, so that
/// they do not relay it again.
pub const RELAYED_HEADER: &str = "x-vcity-relayed";

async fn submit_tx(
    State(node): State<Arc<Node>>,
    headers: axum::http::HeaderMap,
    ApiBody(body): ApiBody,
) -> ApiResult<SubmitTxResponse> {
    let request: SubmitTxRequest = serde_json::from_slice(&body).map_err(|error| {
        ApiFailure::bad_request(format!("body must be {{\"tx\": \"<hex>\"}}: {error}"))
    })?;
    let bytes = hex::decode(request.tx.trim())
        .map_err(|error| ApiFailure::from(TxError::Malformed(format!("tx is not hex: {error}"))))?;
    let tx_hash = if headers.contains_key(RELAYED_HEADER) {
        node.submit(bytes)?
    } else {
        node.submit_and_relay(bytes)?
    };
    Ok(Json(SubmitTxResponse { tx_hash }))
}

/// `POST /v1/txs/batch`: signatures checked in batches on every core, then the mempool in order.
/// Relayed batches are not relayed again.
async fn submit_batch(
    State(node): State<Arc<Node>>,
    headers: axum::http::HeaderMap,
    ApiBody(body): ApiBody,
) -> ApiResult<vcity_types::api::SubmitBatchResponse> {
    use vcity_types::api::{BatchResult, SubmitBatchRequest, SubmitBatchResponse, MAX_BATCH_TXS};
    let request: SubmitBatchRequest = serde_json::from_slice(&body).map_err(|error| {
        ApiFailure::bad_request(format!(
            "body must be {{\"txs\": [\"<hex>\", ...]}}: {error}"
        ))
    })?;
    if request.txs.is_empty() || request.txs.len() > MAX_BATCH_TXS {
        return Err(ApiFailure::bad_request(format!(
            "a batch carries 1 to {MAX_BATCH_TXS} transactions, not {}",
            request.txs.len()
        )));
    }
    let decoded: Vec<Result<Vec<u8>, TxError>> = request
        .txs
        .iter()
        .map(|text| {
            hex::decode(text.trim())
                .map_err(|error| TxError::Malformed(format!("tx is not hex: {error}")))
        })
        .collect();
    let valid: Vec<Vec<u8>> = decoded
        .iter()
        .filter_map(|bytes| bytes.clone().ok())
        .collect();
    let submitted = {
        let (node, valid) = (node.clone(), valid.clone());
        tokio::task::spawn_blocking(move || node.submit_batch(valid))
            .await
            .map_err(|error| ApiFailure::internal(error.to_string()))?
    };
    // Relay what this mempool accepted, unless the batch was itself relayed here.
    if !headers.contains_key(RELAYED_HEADER) {
        node.relay(
            valid
                .into_iter()
                .zip(&submitted)
                .filter(|(_, outcome)| outcome.is_ok())
                .map(|(bytes, _)| bytes)
                .collect(),
        );
    }
    let mut submitted = submitted.into_iter();
    let results = decoded
        .into_iter()
        .map(|bytes| {
            let outcome = bytes.and_then(|_| {
                submitted
                    .next()
                    .expect("one answer per decoded transaction")
            });
            match outcome {
                Ok(hash) => BatchResult {
                    tx_hash: Some(hash),
                    code: 0,
                    error: String::new(),
                },
                Err(error) => BatchResult {
                    tx_hash: None,
                    code: error.code(),
                    error: error.to_string(),
                },
            }
        })
        .collect();
    Ok(Json(SubmitBatchResponse { results }))
}

async fn get_tx(
    State(node): State<Arc<Node>>,
    ApiPath(hash): ApiPath<String>,
) -> ApiResult<vcity_types::api::TxView> {
    let hash = Hash::from_hex(&hash)
        .map_err(|error| ApiFailure::bad_request(format!("bad transaction hash: {error}")))?;
    match node.transaction(&hash).map_err(ApiFailure::internal)? {
        Some(view) => Ok(Json(view)),
        None => Err(ApiFailure::not_found(format!(
            "transaction {hash} is neither pending nor committed"
        ))),
    }
}

async fn get_account(
    State(node): State<Arc<Node>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<vcity_types::api::AccountView> {
    let id: AccountId = id
        .parse()
        .map_err(|error| ApiFailure::bad_request(format!("bad account id: {error}")))?;
    Ok(Json(node.account(&id)))
}

async fn get_vesting(
    State(node): State<Arc<Node>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<vcity_types::api::VestingView> {
    let id: AccountId = id
        .parse()
        .map_err(|error| ApiFailure::bad_request(format!("bad account id: {error}")))?;
    Ok(Json(node.vesting(&id)))
}

#[derive(Debug, Deserialize)]
struct AtQuery {
    at_s: Option<u64>,
}

async fn get_ve_total(
    State(node): State<Arc<Node>>,
    ApiQuery(query): ApiQuery<AtQuery>,
) -> Json<vcity_types::api::VeTotalView> {
    Json(node.ve_total(query.at_s))
}

async fn get_ve_account(
    State(node): State<Arc<Node>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<AtQuery>,
) -> ApiResult<vcity_types::api::VeAccountView> {
    let id: AccountId = id
        .parse()
        .map_err(|error| ApiFailure::bad_request(format!("bad account id: {error}")))?;
    Ok(Json(node.ve_account(&id, query.at_s)))
}

async fn get_pool(State(node): State<Arc<Node>>) -> Json<vcity_types::api::PoolView> {
    Json(node.pool())
}

async fn get_pool_position(
    State(node): State<Arc<Node>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<vcity_types::api::PoolPositionView> {
    let id: AccountId = id
        .parse()
        .map_err(|error| ApiFailure::bad_request(format!("bad account id: {error}")))?;
    Ok(Json(node.pool_position(&id)))
}

async fn get_treasury(State(node): State<Arc<Node>>) -> Json<vcity_types::api::TreasuryView> {
    Json(node.treasury())
}

async fn get_incentives(State(node): State<Arc<Node>>) -> Json<vcity_ledger::incentives::Status> {
    Json(node.incentives())
}

async fn get_trust(State(node): State<Arc<Node>>) -> Json<vcity_ledger::trust::Status> {
    Json(node.trust())
}

async fn get_attestation(State(node): State<Arc<Node>>) -> Json<vcity_ledger::attestation::Status> {
    Json(node.attestation())
}

async fn get_duties(
    State(node): State<Arc<Node>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Vec<vcity_types::trust::Duty>> {
    let id: AccountId = id
        .parse()
        .map_err(|error| ApiFailure::bad_request(format!("bad verifier id: {error}")))?;
    Ok(Json(node.duties(&id)))
}

fn record_id(text: &str, what: &str) -> Result<u64, ApiFailure> {
    text.parse()
        .map_err(|_| ApiFailure::bad_request(format!("bad {what} id {text:?}")))
}

async fn get_challenge(
    State(node): State<Arc<Node>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<vcity_types::trust::CapacityChallenge> {
    let id = record_id(&id, "challenge")?;
    node.challenge(id)
        .map(Json)
        .ok_or_else(|| ApiFailure::not_found(format!("no capacity challenge {id}")))
}

async fn get_dispute(
    State(node): State<Arc<Node>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<vcity_types::trust::Dispute> {
    let id = record_id(&id, "dispute")?;
    node.dispute(id)
        .map(Json)
        .ok_or_else(|| ApiFailure::not_found(format!("no dispute {id}")))
}

async fn get_slash(
    State(node): State<Arc<Node>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<vcity_types::trust::Slash> {
    let id = record_id(&id, "slash")?;
    node.slash(id)
        .map(Json)
        .ok_or_else(|| ApiFailure::not_found(format!("no slash {id}")))
}

async fn get_governance(State(node): State<Arc<Node>>) -> Json<vcity_ledger::governance::Status> {
    Json(node.governance())
}

async fn get_quotas(
    State(node): State<Arc<Node>>,
) -> Json<vcity_ledger::governance::supply::Quotas> {
    Json(node.quotas())
}

#[derive(Debug, Deserialize)]
struct ProposalsQuery {
    before: Option<u64>,
    limit: Option<u64>,
}

async fn get_proposals(
    State(node): State<Arc<Node>>,
    ApiQuery(query): ApiQuery<ProposalsQuery>,
) -> Json<Vec<vcity_ledger::governance::ProposalView>> {
    Json(node.proposals(query.before, query.limit.unwrap_or(50).min(200)))
}

fn found_proposal(
    node: &Node,
    key: &str,
) -> Result<vcity_ledger::governance::ProposalView, ApiFailure> {
    node.proposal(key).ok_or_else(|| {
        ApiFailure::not_found(format!(
            "no proposal {key} (give its number or its id in hex)"
        ))
    })
}

async fn get_proposal(
    State(node): State<Arc<Node>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<vcity_ledger::governance::ProposalView> {
    found_proposal(&node, &id).map(Json)
}

async fn get_proposal_comments(
    State(node): State<Arc<Node>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Vec<vcity_ledger::governance::Comment>> {
    let found = found_proposal(&node, &id)?;
    Ok(Json(node.proposal_comments(found.proposal.number)))
}

async fn get_proposal_vote(
    State(node): State<Arc<Node>>,
    ApiPath((id, account)): ApiPath<(String, String)>,
) -> ApiResult<vcity_ledger::governance::VoteRecord> {
    let found = found_proposal(&node, &id)?;
    let voter: AccountId = account
        .parse()
        .map_err(|error| ApiFailure::bad_request(format!("bad account id: {error}")))?;
    node.proposal_vote(found.proposal.number, &voter)
        .map(Json)
        .ok_or_else(|| ApiFailure::not_found(format!("{voter} has not voted on {id}")))
}

async fn get_rewards(
    State(node): State<Arc<Node>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<vcity_types::api::RewardsView> {
    let id: AccountId = id
        .parse()
        .map_err(|error| ApiFailure::bad_request(format!("bad account id: {error}")))?;
    Ok(Json(node.rewards(&id)))
}

#[derive(Debug, Deserialize)]
struct NodesQuery {
    role: Option<vcity_types::compute::Role>,
    offset: Option<u64>,
    limit: Option<u64>,
}

async fn get_nodes(
    State(node): State<Arc<Node>>,
    ApiQuery(query): ApiQuery<NodesQuery>,
) -> Json<Vec<vcity_types::api::NodeView>> {
    let limit = query.limit.unwrap_or(100).min(1_000);
    Json(node.nodes(query.role, query.offset.unwrap_or(0), limit))
}

async fn get_node(
    State(node): State<Arc<Node>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<vcity_types::api::NodeView> {
    let id: AccountId = id
        .parse()
        .map_err(|error| ApiFailure::bad_request(format!("bad node id: {error}")))?;
    node.node(&id)
        .map(Json)
        .ok_or_else(|| ApiFailure::not_found(format!("{id} is not a registered node")))
}

#[derive(Debug, Deserialize)]
struct JobsQuery {
    owner: Option<String>,
    limit: Option<usize>,
    /// Only jobs with unfinished tasks, oldest first.
    open: Option<bool>,
    /// Only jobs with a task assigned to or running on this node (implies `open`).
    node: Option<String>,
}

async fn get_jobs(
    State(node): State<Arc<Node>>,
    ApiQuery(query): ApiQuery<JobsQuery>,
) -> ApiResult<Vec<vcity_types::compute::Job>> {
    let owner = match query.owner {
        Some(text) => Some(
            text.parse::<AccountId>()
                .map_err(|error| ApiFailure::bad_request(format!("bad owner: {error}")))?,
        ),
        None => None,
    };
    let limit = query.limit.unwrap_or(50).min(500);
    if let Some(text) = &query.node {
        let id = text
            .parse::<AccountId>()
            .map_err(|error| ApiFailure::bad_request(format!("bad node: {error}")))?;
        return Ok(Json(node.open_jobs(Some(&id), limit)));
    }
    if query.open == Some(true) {
        let mut found = node.open_jobs(None, limit);
        if let Some(owner) = &owner {
            found.retain(|job| job.owner == *owner);
        }
        return Ok(Json(found));
    }
    Ok(Json(node.jobs(owner.as_ref(), limit)))
}

async fn get_job(
    State(node): State<Arc<Node>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<vcity_types::compute::Job> {
    let id: u64 = id
        .parse()
        .map_err(|_| ApiFailure::bad_request(format!("bad job id {id:?}")))?;
    node.job(id)
        .map(Json)
        .ok_or_else(|| ApiFailure::not_found(format!("no job {id}")))
}

async fn get_subscription(
    State(node): State<Arc<Node>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<vcity_types::compute::Subscription> {
    let id: u64 = id
        .parse()
        .map_err(|_| ApiFailure::bad_request(format!("bad subscription id {id:?}")))?;
    node.subscription(id)
        .map(Json)
        .ok_or_else(|| ApiFailure::not_found(format!("no subscription {id}")))
}

async fn put_blob(
    State(node): State<Arc<Node>>,
    ApiBody(body): ApiBody,
) -> ApiResult<vcity_types::api::BlobView> {
    if body.is_empty() {
        return Err(ApiFailure::bad_request("an empty blob"));
    }
    let bytes = body.len() as u64;
    match node.put_blob(&body) {
        Ok(address) => Ok(Json(vcity_types::api::BlobView { address, bytes })),
        Err(crate::store::StoreError::Full(message)) => Err(ApiFailure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            message,
        )),
        Err(error) => Err(ApiFailure::internal(error)),
    }
}

async fn get_blob(State(node): State<Arc<Node>>, ApiPath(hash): ApiPath<String>) -> Response {
    let address = match Hash::from_hex(&hash) {
        Ok(address) => address,
        Err(_) => {
            return ApiFailure::bad_request(format!("bad content address {hash:?}")).into_response()
        }
    };
    match node.blob(&address) {
        Ok(Some(bytes)) => (
            [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
            bytes,
        )
            .into_response(),
        Ok(None) => ApiFailure::not_found(format!("no blob {address}")).into_response(),
        Err(error) => ApiFailure::internal(error).into_response(),
    }
}

async fn get_params(State(node): State<Arc<Node>>) -> Json<vcity_ledger::ParamsView> {
    Json(node.params())
}

async fn get_supply(State(node): State<Arc<Node>>) -> Json<vcity_types::api::SupplyView> {
    Json(node.supply())
}

#[derive(Debug, Deserialize)]
struct NftQuery {
    owner: Option<String>,
}

async fn get_nfts(
    State(node): State<Arc<Node>>,
    ApiQuery(query): ApiQuery<NftQuery>,
) -> ApiResult<Vec<vcity_types::api::NftView>> {
    let owner = match query.owner {
        Some(text) => Some(
            text.parse::<AccountId>()
                .map_err(|error| ApiFailure::bad_request(format!("bad owner: {error}")))?,
        ),
        None => None,
    };
    Ok(Json(node.nfts(owner.as_ref())))
}

async fn get_nft(
    State(node): State<Arc<Node>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<vcity_types::api::NftView> {
    let id: u32 = id
        .parse()
        .map_err(|_| ApiFailure::bad_request(format!("bad NFT id {id:?}")))?;
    node.nft(id)
        .map(Json)
        .ok_or_else(|| ApiFailure::not_found(format!("no Genesis NFT {id}")))
}

#[derive(Debug, Deserialize)]
struct AgentsQuery {
    tag: Option<String>,
    text: Option<String>,
    max_call_usd: Option<String>,
    for_sale: Option<bool>,
    min_score_ppm: Option<u32>,
    owner: Option<String>,
    creator: Option<String>,
    sort: Option<String>,
    limit: Option<usize>,
}

async fn get_agents(
    State(node): State<Arc<Node>>,
    ApiQuery(query): ApiQuery<AgentsQuery>,
) -> ApiResult<Vec<vcity_types::api::AgentView>> {
    let account = |text: Option<String>, what: &str| -> Result<Option<AccountId>, ApiFailure> {
        text.map(|text| {
            text.parse::<AccountId>()
                .map_err(|error| ApiFailure::bad_request(format!("bad {what}: {error}")))
        })
        .transpose()
    };
    let max_call_usd = query
        .max_call_usd
        .map(|text| {
            text.parse::<u128>()
                .map(vcity_types::Amount::new)
                .map_err(|_| {
                    ApiFailure::bad_request(format!("max_call_usd {text:?} is not USD base units"))
                })
        })
        .transpose()?;
    let sort = query
        .sort
        .map(|text| text.parse().map_err(ApiFailure::bad_request))
        .transpose()?
        .unwrap_or_default();
    let search = vcity_types::agents::Search {
        tag: query.tag,
        text: query.text,
        max_call_usd,
        for_sale: query.for_sale,
        min_score_ppm: query.min_score_ppm,
        owner: account(query.owner, "owner")?,
        creator: account(query.creator, "creator")?,
        sort,
    };
    let limit = query.limit.unwrap_or(50).min(500);
    Ok(Json(node.agents(&search, limit)))
}

fn agent_id(text: &str) -> Result<u64, ApiFailure> {
    text.parse()
        .map_err(|_| ApiFailure::bad_request(format!("bad agent id {text:?}")))
}

async fn get_agent(
    State(node): State<Arc<Node>>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<vcity_types::api::AgentView> {
    let id = agent_id(&id)?;
    node.agent(id)
        .map(Json)
        .ok_or_else(|| ApiFailure::not_found(format!("no agent {id}")))
}

async fn get_agent_licence(
    State(node): State<Arc<Node>>,
    ApiPath((id, account)): ApiPath<(String, String)>,
) -> ApiResult<vcity_types::agents::Licence> {
    let id = agent_id(&id)?;
    let account: AccountId = account
        .parse()
        .map_err(|error| ApiFailure::bad_request(format!("bad account: {error}")))?;
    node.agent_licence(id, &account)
        .map(Json)
        .ok_or_else(|| ApiFailure::not_found(format!("{account} holds no licence for agent {id}")))
}

async fn get_agent_call(
    State(node): State<Arc<Node>>,
    ApiPath(job): ApiPath<String>,
) -> ApiResult<vcity_types::agents::Invocation> {
    let job: u64 = job
        .parse()
        .map_err(|_| ApiFailure::bad_request(format!("bad job id {job:?}")))?;
    node.agent_call(job)
        .map(Json)
        .ok_or_else(|| ApiFailure::not_found(format!("job {job} is no agent call")))
}

async fn get_latest_block(State(node): State<Arc<Node>>) -> ApiResult<vcity_types::api::BlockView> {
    let height = node.height().0;
    if height == 0 {
        return Err(ApiFailure::not_found("no block committed yet"));
    }
    block_at(&node, height)
}

async fn get_block(
    State(node): State<Arc<Node>>,
    ApiPath(height): ApiPath<String>,
) -> ApiResult<vcity_types::api::BlockView> {
    let height: u64 = height
        .parse()
        .map_err(|_| ApiFailure::bad_request(format!("bad height {height:?}")))?;
    block_at(&node, height)
}

fn block_at(node: &Node, height: u64) -> ApiResult<vcity_types::api::BlockView> {
    match node.block(height).map_err(ApiFailure::internal)? {
        Some(view) => Ok(Json(view)),
        None => Err(ApiFailure::not_found(format!(
            "no block at height {height}"
        ))),
    }
}

#[derive(Debug, Deserialize)]
struct ProofQuery {
    key: Option<String>,
    key_hex: Option<String>,
}

async fn get_proof(
    State(node): State<Arc<Node>>,
    ApiQuery(query): ApiQuery<ProofQuery>,
) -> ApiResult<vcity_types::api::ProofView> {
    let key = match (query.key, query.key_hex) {
        (Some(key), None) => key.into_bytes(),
        (None, Some(key)) => hex::decode(&key)
            .map_err(|error| ApiFailure::bad_request(format!("key_hex is not hex: {error}")))?,
        _ => {
            return Err(ApiFailure::bad_request(
                "give exactly one of key or key_hex",
            ))
        }
    };
    if key.is_empty() || key.len() > 1_024 {
        return Err(ApiFailure::bad_request("key must be 1-1024 bytes"));
    }
    Ok(Json(node.proof(&key)))
}

async fn status(State(node): State<Arc<Node>>) -> Json<vcity_types::api::StatusView> {
    Json(node.status())
}

async fn get_validators(
    State(node): State<Arc<Node>>,
) -> Json<Vec<vcity_ledger::chain::Validator>> {
    Json(node.validator_set())
}

async fn health(State(node): State<Arc<Node>>) -> Response {
    let view = node.health();
    let code = if view.status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(view)).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn metrics(State(node): State<Arc<Node>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        node.metrics().render(),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    from_height: Option<u64>,
}

/// `GET /v1/events`: server-sent events. For each committed block, in order: one `event` item
/// per event (block hooks first, then each transaction's), then a `block` item whose SSE id is
/// the height. A client that reconnects with `Last-Event-ID` (or `?from_height=`) resumes after
/// the last complete block, replayed from the store, so nothing is missed.
async fn events(
    State(node): State<Arc<Node>>,
    ApiQuery(query): ApiQuery<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiFailure> {
    // Subscribe before reading the height, so no commit falls between the two.
    let receiver = node.subscribe();
    let committed = node.height().0;
    let resume = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .map(|height| height + 1);
    let next = query.from_height.or(resume).unwrap_or(committed + 1).max(1);
    let cursor = EventCursor {
        node,
        receiver,
        next,
        buffer: VecDeque::new(),
    };
    let stream = futures_util::stream::unfold(cursor, |mut cursor| async move {
        let item = cursor.next_item().await?;
        Some((Ok(item), cursor))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

struct EventCursor {
    node: Arc<Node>,
    receiver: broadcast::Receiver<crate::node::CommittedBlock>,
    next: u64,
    buffer: VecDeque<SseEvent>,
}

impl EventCursor {
    async fn next_item(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(item) = self.buffer.pop_front() {
                return Some(item);
            }
            if self.next <= self.node.height().0 {
                match self.load(self.next) {
                    Ok(()) => self.next += 1,
                    Err(error) => {
                        tracing::error!(%error, "event stream cannot read the store");
                        return None;
                    }
                }
                continue;
            }
            match self.receiver.recv().await {
                // A wake-up: whatever was missed is read back from the store above.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    fn load(&mut self, height: u64) -> Result<(), crate::store::StoreError> {
        let store = self.node.store();
        let (Some(stored), Some(results)) = (store.block(height)?, store.results(height)?) else {
            return Err(crate::store::StoreError::Corrupt(format!(
                "committed block {height} is missing"
            )));
        };
        let block = stored.block()?;
        let height = Height(height);
        for event in results.block_events {
            self.push_event(&EventView {
                height,
                tx_hash: None,
                event,
            });
        }
        for receipt in results.receipts {
            for event in receipt.events {
                self.push_event(&EventView {
                    height,
                    tx_hash: Some(receipt.tx_hash),
                    event,
                });
            }
        }
        let summary = BlockSummaryView {
            height,
            hash: block.hash(),
            tx_count: block.header.tx_count,
            state_root: block.header.state_root,
        };
        let data = serde_json::to_string(&summary).unwrap_or_default();
        self.buffer.push_back(
            SseEvent::default()
                .event("block")
                .id(height.0.to_string())
                .data(data),
        );
        Ok(())
    }

    fn push_event(&mut self, view: &EventView) {
        let data = serde_json::to_string(view).unwrap_or_default();
        self.buffer
            .push_back(SseEvent::default().event("event").data(data));
    }
}
