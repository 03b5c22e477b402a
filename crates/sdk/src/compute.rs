//! Talking to compute nodes: fetching a task's output and log from the node that ran it, with
//! a request signed by the job owner's key, and checking what comes back against the result
//! commitment on the ledger (the one commitment format, `vcity_types::compute::ResultCommitment`).
//!
//! A request carries three headers: `x-vcity-account` (the signer, hex), `x-vcity-time-ms` (Unix
//! milliseconds; the node accepts ±5 minutes) and `x-vcity-signature` (ed25519, hex, over
//! `owner_request_digest(method, path, time_ms)`). The node serves a task's files only when the
//! signer owns the job on the ledger.

use crate::client::{Client, ClientError};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use vcity_types::compute::{content_address, owner_request_digest, ResultCommitment, TaskState};
use vcity_types::{AccountId, Hash};

/// Largest blob a client downloads (modules and outputs).
pub const MAX_BLOB_BYTES: usize = 16 * 1024 * 1024;
/// How far a request's time may be from the node's clock.
pub const MAX_REQUEST_SKEW_MS: u64 = 5 * 60 * 1000;

/// Header names.
pub const HEADER_ACCOUNT: &str = "x-vcity-account";
/// Header with the request time.
pub const HEADER_TIME: &str = "x-vcity-time-ms";
/// Header with the signature.
pub const HEADER_SIGNATURE: &str = "x-vcity-signature";

/// The signed headers of an owner request.
#[derive(Debug, Clone)]
pub struct OwnerHeaders {
    /// `x-vcity-account`.
    pub account: String,
    /// `x-vcity-time-ms`.
    pub time_ms: String,
    /// `x-vcity-signature`.
    pub signature: String,
}

/// Signs `method path` at `time_ms`.
pub fn sign_owner_request(
    key: &SigningKey,
    method: &str,
    path: &str,
    time_ms: u64,
) -> OwnerHeaders {
    let digest = owner_request_digest(method, path, time_ms);
    OwnerHeaders {
        account: AccountId::from_public_key(&key.verifying_key()).to_string(),
        time_ms: time_ms.to_string(),
        signature: hex::encode(key.sign(digest.as_bytes()).to_bytes()),
    }
}

/// Why an owner request is refused (the node's side of [`sign_owner_request`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnerRequestError {
    /// A header is missing or malformed.
    #[error("bad request signature headers: {0}")]
    Malformed(String),
    /// The time is too far from now.
    #[error("the request time is more than 5 minutes from the node's clock")]
    Stale,
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
}

/// Checks an owner request's headers; returns the signer.
pub fn verify_owner_request(
    method: &str,
    path: &str,
    account: Option<&str>,
    time_ms: Option<&str>,
    signature: Option<&str>,
    now_ms: u64,
) -> Result<AccountId, OwnerRequestError> {
    let missing = |name: &str| OwnerRequestError::Malformed(format!("{name} is missing"));
    let account: AccountId = account
        .ok_or_else(|| missing(HEADER_ACCOUNT))?
        .parse()
        .map_err(|error| OwnerRequestError::Malformed(format!("{HEADER_ACCOUNT}: {error}")))?;
    let time_ms: u64 = time_ms
        .ok_or_else(|| missing(HEADER_TIME))?
        .parse()
        .map_err(|_| OwnerRequestError::Malformed(format!("{HEADER_TIME} is not a number")))?;
    if time_ms.abs_diff(now_ms) > MAX_REQUEST_SKEW_MS {
        return Err(OwnerRequestError::Stale);
    }
    let signature = hex::decode(signature.ok_or_else(|| missing(HEADER_SIGNATURE))?)
        .ok()
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        .ok_or_else(|| {
            OwnerRequestError::Malformed(format!("{HEADER_SIGNATURE} is not 64 bytes of hex"))
        })?;
    let key: VerifyingKey = account
        .public_key()
        .ok_or(OwnerRequestError::BadSignature)?;
    let digest = owner_request_digest(method, path, time_ms);
    key.verify(
        digest.as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&signature),
    )
    .map_err(|_| OwnerRequestError::BadSignature)?;
    Ok(account)
}

/// `GET /v1/tasks/{job}/{task}/result` on a compute node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskResultView {
    /// The job.
    pub job_id: u64,
    /// The task.
    pub task: u32,
    /// What the node committed to.
    pub commitment: ResultCommitment,
    /// Its hash (the ledger's `output_hash`).
    pub commitment_hash: Hash,
    /// The node's signed statement of that hash for the attempt it ran: kept by whoever fetched
    /// it, it proves equivocation if the ledger ever holds a different one
    /// (docs/verification.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<vcity_types::trust::SignedResult>,
}

/// A task's output, checked against the ledger.
#[derive(Debug, Clone)]
pub struct VerifiedOutput {
    /// The commitment the ledger holds.
    pub commitment: ResultCommitment,
    /// The output bytes.
    pub output: Vec<u8>,
    /// The node's signed statement of the commitment, checked to be its own and to match the
    /// ledger: keep it, it proves equivocation if the node ever signs another
    /// (docs/verification.md).
    pub statement: Option<vcity_types::trust::SignedResult>,
}

/// Unix milliseconds now (the time an owner request carries).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

fn signed_get(
    client: &Client,
    key: &SigningKey,
    endpoint: &str,
    path: &str,
    limit: usize,
) -> Result<Vec<u8>, ClientError> {
    let headers = sign_owner_request(key, "GET", path, now_ms());
    let url = format!("{}{path}", endpoint.trim_end_matches('/'));
    Client::bytes(
        &url,
        client
            .http_agent()
            .get(&url)
            .header(HEADER_ACCOUNT, &headers.account)
            .header(HEADER_TIME, &headers.time_ms)
            .header(HEADER_SIGNATURE, &headers.signature)
            .call(),
        limit,
    )
}

/// `POST {endpoint}{path}` with a JSON body, signed by `key` like an owner request (method, path
/// and time; the receiver decides whom it serves). At most `limit` bytes come back.
pub fn signed_post(
    client: &Client,
    key: &SigningKey,
    endpoint: &str,
    path: &str,
    body: &[u8],
    limit: usize,
) -> Result<Vec<u8>, ClientError> {
    let headers = sign_owner_request(key, "POST", path, now_ms());
    let url = format!("{}{path}", endpoint.trim_end_matches('/'));
    Client::bytes(
        &url,
        client
            .http_agent()
            .post(&url)
            .header(HEADER_ACCOUNT, &headers.account)
            .header(HEADER_TIME, &headers.time_ms)
            .header(HEADER_SIGNATURE, &headers.signature)
            .header("content-type", "application/json")
            .send(body),
        limit,
    )
}

impl Client {
    /// Fetches task `task` of job `job_id` from the compute node that ran it, signed by `key`
    /// (the job's owner), and checks it: the node's commitment must hash to the ledger's
    /// `output_hash`, and the output to the commitment's content address.
    pub fn task_output(
        &self,
        key: &SigningKey,
        job_id: u64,
        task: u32,
    ) -> Result<VerifiedOutput, ClientError> {
        let job = self.job(job_id)?;
        let state = job
            .tasks
            .get(task as usize)
            .ok_or_else(|| ClientError::NotFound(format!("job {job_id} has no task {task}")))?
            .state
            .clone();
        let (node, output_hash) = match state {
            TaskState::Completed {
                node, output_hash, ..
            }
            | TaskState::Settled {
                node, output_hash, ..
            } => (node, output_hash),
            other => {
                return Err(ClientError::NotFound(format!(
                    "task {task} of job {job_id} has no result yet ({})",
                    serde_json::to_value(&other)
                        .ok()
                        .and_then(|value| value.get("state").cloned())
                        .map_or_else(String::new, |state| state.to_string())
                )))
            }
        };
        let endpoint = self.node(&node)?.node.endpoint;
        let path = format!("/v1/tasks/{job_id}/{task}/result");
        let body = signed_get(self, key, &endpoint, &path, 64 * 1024)?;
        let view: TaskResultView =
            serde_json::from_slice(&body).map_err(|error| ClientError::Decode {
                url: format!("{endpoint}{path}"),
                message: error.to_string(),
            })?;
        if view.commitment.hash() != output_hash {
            return Err(ClientError::InvalidProof(format!(
                "the node's commitment hashes to {}, the ledger holds {output_hash}",
                view.commitment.hash()
            )));
        }
        if let Some(statement) = &view.statement {
            let matches = statement.verify()
                && statement.signer == node
                && statement.statement.job_id == job_id
                && statement.statement.task == task;
            if !matches {
                return Err(ClientError::InvalidProof(
                    "the node's result statement is not its own signature about this task".into(),
                ));
            }
        }
        let path = format!("/v1/tasks/{job_id}/{task}/output");
        let output = signed_get(self, key, &endpoint, &path, MAX_BLOB_BYTES)?;
        if content_address(&output) != view.commitment.output {
            return Err(ClientError::InvalidProof(
                "the output does not match the committed content address".into(),
            ));
        }
        Ok(VerifiedOutput {
            commitment: view.commitment,
            output,
            statement: view.statement,
        })
    }

    /// The log of task `task` of job `job_id` from the node that ran (or is running) it.
    pub fn task_log(
        &self,
        key: &SigningKey,
        job_id: u64,
        task: u32,
        node: &AccountId,
    ) -> Result<Vec<u8>, ClientError> {
        let endpoint = self.node(node)?.node.endpoint;
        signed_get(
            self,
            key,
            &endpoint,
            &format!("/v1/tasks/{job_id}/{task}/log"),
            1024 * 1024,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_requests_verify_only_as_signed() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let headers = sign_owner_request(&key, "GET", "/v1/tasks/1/0/output", 1_000_000);
        let verify = |method: &str, path: &str, time: &str, now: u64| {
            verify_owner_request(
                method,
                path,
                Some(&headers.account),
                Some(time),
                Some(&headers.signature),
                now,
            )
        };
        assert_eq!(
            verify("GET", "/v1/tasks/1/0/output", &headers.time_ms, 1_000_500),
            Ok(AccountId::from_public_key(&key.verifying_key()))
        );
        assert_eq!(
            verify("GET", "/v1/tasks/2/0/output", &headers.time_ms, 1_000_500),
            Err(OwnerRequestError::BadSignature)
        );
        assert_eq!(
            verify("GET", "/v1/tasks/1/0/output", "1000001", 1_000_500),
            Err(OwnerRequestError::BadSignature)
        );
        assert_eq!(
            verify(
                "GET",
                "/v1/tasks/1/0/output",
                &headers.time_ms,
                1_000_000 + 400_000
            ),
            Err(OwnerRequestError::Stale)
        );
        assert!(matches!(
            verify_owner_request("GET", "/", None, None, None, 0),
            Err(OwnerRequestError::Malformed(_))
        ));
    }
}
