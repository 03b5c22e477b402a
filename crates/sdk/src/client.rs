//! A typed, blocking client for the node's HTTP API (docs/openapi.json).

use ed25519_dalek::SigningKey;
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};
use vcity_types::api::{
    AccountView, ApiError, BlockView, NftView, NodeView, PoolPositionView, PoolView, ProofView,
    RewardsView, StatusView, SubmitTxRequest, SubmitTxResponse, SupplyView, TreasuryView, TxView,
    VeAccountView, VeTotalView, VestingView,
};
use vcity_types::tx::Message;
use vcity_types::{AccountId, Amount, Hash};

/// Client failures.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node refused the request; for transactions `code` is the ledger's stable code.
    #[error("{} (code {}: {})", .0.message, .0.code, .0.error)]
    Rejected(ApiError),
    /// The node could not be reached.
    #[error("cannot reach the node at {url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// An answer that is not what the API documents.
    #[error("unexpected answer from {url}: {message}")]
    Decode {
        /// The URL.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A proof that does not verify: the node is lying or broken.
    #[error("proof does not verify: {0}")]
    InvalidProof(String),
    /// Waited too long.
    #[error("gave up after {0:?}")]
    Timeout(Duration),
    /// Sealing or opening a confidential job's data failed.
    #[error("confidential job: {0}")]
    Confidential(#[from] crate::confidential::ConfidentialError),
}

impl ClientError {
    /// The stable code of a refusal, if this is one.
    pub fn code(&self) -> Option<u32> {
        match self {
            ClientError::Rejected(error) => Some(error.code),
            _ => None,
        }
    }
}

/// A proof checked against the root of the block it names.
#[derive(Debug, Clone)]
pub struct VerifiedProof {
    /// The node's answer.
    pub view: ProofView,
    /// The value, decoded from hex.
    pub value: Option<Vec<u8>>,
}

/// Largest JSON answer read.
const MAX_JSON_BYTES: usize = 16 * 1024 * 1024;

/// The client.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
    /// The chain id and minimum fee, read once: a chain id never changes, and [`Client::send`]
    /// need not ask for it on every transaction.
    chain: std::sync::Arc<std::sync::OnceLock<(String, Amount)>>,
}

impl Client {
    /// A client for the node at `base` (e.g. `http://127.0.0.1:26657`).
    pub fn new(base: &str) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Client {
            base: base.trim_end_matches('/').to_string(),
            agent,
            chain: std::sync::Arc::default(),
        }
    }

    /// The node's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A JSON answer, or the API's error.
    fn answer<T: DeserializeOwned>(
        url: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ClientError> {
        let body = Self::bytes(url, result, MAX_JSON_BYTES)?;
        serde_json::from_slice(&body).map_err(|error| ClientError::Decode {
            url: url.to_string(),
            message: format!("{error}: {}", String::from_utf8_lossy(&body)),
        })
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = self.url(path);
        Self::answer(&url, self.agent.get(&url).call())
    }

    /// `GET /v1/status`.
    pub fn status(&self) -> Result<StatusView, ClientError> {
        self.get("/v1/status")
    }

    /// `GET /v1/accounts/{id}`.
    pub fn account(&self, id: &AccountId) -> Result<AccountView, ClientError> {
        self.get(&format!("/v1/accounts/{id}"))
    }

    /// `GET /v1/supply`.
    pub fn supply(&self) -> Result<SupplyView, ClientError> {
        self.get("/v1/supply")
    }

    /// `GET /v1/accounts/{id}/vesting`.
    pub fn vesting(&self, id: &AccountId) -> Result<VestingView, ClientError> {
        self.get(&format!("/v1/accounts/{id}/vesting"))
    }

    /// `GET /v1/ve`, now or at `at_s` seconds after genesis.
    pub fn ve_total(&self, at_s: Option<u64>) -> Result<VeTotalView, ClientError> {
        match at_s {
            Some(at_s) => self.get(&format!("/v1/ve?at_s={at_s}")),
            None => self.get("/v1/ve"),
        }
    }

    /// `GET /v1/accounts/{id}/ve`, now or at `at_s`.
    pub fn ve_account(
        &self,
        id: &AccountId,
        at_s: Option<u64>,
    ) -> Result<VeAccountView, ClientError> {
        match at_s {
            Some(at_s) => self.get(&format!("/v1/accounts/{id}/ve?at_s={at_s}")),
            None => self.get(&format!("/v1/accounts/{id}/ve")),
        }
    }

    /// `GET /v1/pool`.
    pub fn pool(&self) -> Result<PoolView, ClientError> {
        self.get("/v1/pool")
    }

    /// `GET /v1/accounts/{id}/pool`.
    pub fn pool_position(&self, id: &AccountId) -> Result<PoolPositionView, ClientError> {
        self.get(&format!("/v1/accounts/{id}/pool"))
    }

    /// `GET /v1/nodes`.
    pub fn nodes(
        &self,
        role: Option<vcity_types::compute::Role>,
    ) -> Result<Vec<NodeView>, ClientError> {
        match role {
            Some(role) => {
                let name = serde_json::to_value(role).map_err(|error| ClientError::Decode {
                    url: self.url("/v1/nodes"),
                    message: error.to_string(),
                })?;
                self.get(&format!(
                    "/v1/nodes?role={}",
                    name.as_str().unwrap_or_default()
                ))
            }
            None => self.get("/v1/nodes"),
        }
    }

    /// Every registered node (of `role`), paging through `GET /v1/nodes`.
    pub fn all_nodes(
        &self,
        role: Option<vcity_types::compute::Role>,
    ) -> Result<Vec<NodeView>, ClientError> {
        const PAGE: u64 = 1_000;
        let mut found = Vec::new();
        let mut offset = 0;
        loop {
            let page: Vec<NodeView> =
                self.get(&format!("/v1/nodes?offset={offset}&limit={PAGE}"))?;
            let full = page.len() as u64 == PAGE;
            found.extend(
                page.into_iter()
                    .filter(|view| role.is_none_or(|role| view.node.role == role)),
            );
            if !full {
                return Ok(found);
            }
            offset += PAGE;
        }
    }

    /// `GET /v1/subscriptions/{id}`.
    pub fn subscription(&self, id: u64) -> Result<vcity_types::compute::Subscription, ClientError> {
        self.get(&format!("/v1/subscriptions/{id}"))
    }

    /// `GET /v1/params`.
    pub fn params(&self) -> Result<vcity_ledger::ParamsView, ClientError> {
        self.get("/v1/params")
    }

    /// `GET /v1/nodes/{id}`.
    pub fn node(&self, id: &AccountId) -> Result<NodeView, ClientError> {
        self.get(&format!("/v1/nodes/{id}"))
    }

    /// `GET /v1/jobs/{id}`.
    pub fn job(&self, id: u64) -> Result<vcity_types::compute::Job, ClientError> {
        self.get(&format!("/v1/jobs/{id}"))
    }

    /// `GET /v1/jobs`, newest first.
    pub fn jobs(
        &self,
        owner: Option<&AccountId>,
    ) -> Result<Vec<vcity_types::compute::Job>, ClientError> {
        match owner {
            Some(owner) => self.get(&format!("/v1/jobs?owner={owner}")),
            None => self.get("/v1/jobs"),
        }
    }

    /// `GET /v1/jobs?open=true`: jobs with unfinished tasks, oldest first (what a scheduler
    /// polls); with `node`, only those with a task assigned to or running on it (what a compute
    /// node polls).
    pub fn open_jobs(
        &self,
        node: Option<&AccountId>,
        limit: usize,
    ) -> Result<Vec<vcity_types::compute::Job>, ClientError> {
        match node {
            Some(node) => self.get(&format!("/v1/jobs?node={node}&limit={limit}")),
            None => self.get(&format!("/v1/jobs?open=true&limit={limit}")),
        }
    }

    /// `POST /v1/blobs`: stores a blob (a WASM module); returns its content address.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<vcity_types::api::BlobView, ClientError> {
        let url = self.url("/v1/blobs");
        let view: vcity_types::api::BlobView = Self::answer(
            &url,
            self.agent
                .post(&url)
                .header("content-type", "application/octet-stream")
                .send(bytes),
        )?;
        let expected = vcity_types::compute::content_address(bytes);
        if view.address != expected {
            return Err(ClientError::Decode {
                url,
                message: format!("stored as {}, expected {expected}", view.address),
            });
        }
        Ok(view)
    }

    /// `GET /v1/blobs/{hash}`, checked against its content address.
    pub fn blob(&self, address: &Hash) -> Result<Vec<u8>, ClientError> {
        let url = self.url(&format!("/v1/blobs/{address}"));
        let bytes = Self::bytes(
            &url,
            self.agent.get(&url).call(),
            crate::compute::MAX_BLOB_BYTES,
        )?;
        if vcity_types::compute::content_address(&bytes) != *address {
            return Err(ClientError::Decode {
                url,
                message: "the blob does not match its content address".into(),
            });
        }
        Ok(bytes)
    }

    /// A raw body of at most `limit` bytes, or the API's error.
    pub(crate) fn bytes(
        url: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        limit: usize,
    ) -> Result<Vec<u8>, ClientError> {
        let mut response = result.map_err(|error| ClientError::Transport {
            url: url.to_string(),
            message: error.to_string(),
        })?;
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(limit as u64)
            .read_to_vec()
            .map_err(|error| ClientError::Transport {
                url: url.to_string(),
                message: error.to_string(),
            })?;
        if status.is_success() {
            return Ok(body);
        }
        match serde_json::from_slice::<ApiError>(&body) {
            Ok(error) if status.as_u16() == 404 => Err(ClientError::NotFound(error.message)),
            Ok(error) => Err(ClientError::Rejected(error)),
            Err(_) => Err(ClientError::Decode {
                url: url.to_string(),
                message: format!("status {status}: {}", String::from_utf8_lossy(&body)),
            }),
        }
    }

    /// The agent (for talking to other services with the same settings).
    pub(crate) fn http_agent(&self) -> &ureq::Agent {
        &self.agent
    }

    /// `GET /v1/trust`: verification parameters, verifiers and the trust layer's accounts.
    pub fn trust(&self) -> Result<vcity_ledger::trust::Status, ClientError> {
        self.get("/v1/trust")
    }

    /// `GET /v1/attestation`: the attestation rules and the nonces evidence is bound to
    /// (docs/attestation.md).
    pub fn attestation(&self) -> Result<vcity_ledger::attestation::Status, ClientError> {
        self.get("/v1/attestation")
    }

    /// `GET /v1/trust/duties/{id}`: a verifier's open duties.
    pub fn duties(
        &self,
        verifier: &AccountId,
    ) -> Result<Vec<vcity_types::trust::Duty>, ClientError> {
        self.get(&format!("/v1/trust/duties/{verifier}"))
    }

    /// `GET /v1/trust/challenges/{id}`.
    pub fn challenge(&self, id: u64) -> Result<vcity_types::trust::CapacityChallenge, ClientError> {
        self.get(&format!("/v1/trust/challenges/{id}"))
    }

    /// `GET /v1/trust/disputes/{id}`.
    pub fn dispute(&self, id: u64) -> Result<vcity_types::trust::Dispute, ClientError> {
        self.get(&format!("/v1/trust/disputes/{id}"))
    }

    /// `GET /v1/trust/slashes/{id}`.
    pub fn slash(&self, id: u64) -> Result<vcity_types::trust::Slash, ClientError> {
        self.get(&format!("/v1/trust/slashes/{id}"))
    }

    /// `GET /v1/governance`: parameters, counts, paused modules, funds and quotas.
    pub fn governance(&self) -> Result<vcity_ledger::governance::Status, ClientError> {
        self.get("/v1/governance")
    }

    /// `GET /v1/governance/quotas`: the strategic issuance quotas (rules §9).
    pub fn quotas(&self) -> Result<vcity_ledger::governance::supply::Quotas, ClientError> {
        self.get("/v1/governance/quotas")
    }

    /// `GET /v1/governance/proposals`: newest first, below number `before` if given.
    pub fn proposals(
        &self,
        before: Option<u64>,
        limit: u64,
    ) -> Result<Vec<vcity_ledger::governance::ProposalView>, ClientError> {
        let mut path = format!("/v1/governance/proposals?limit={limit}");
        if let Some(before) = before {
            path.push_str(&format!("&before={before}"));
        }
        self.get(&path)
    }

    /// `GET /v1/governance/proposals/{id}`: by number or by id (hex).
    pub fn proposal(
        &self,
        key: &str,
    ) -> Result<vcity_ledger::governance::ProposalView, ClientError> {
        self.get(&format!("/v1/governance/proposals/{key}"))
    }

    /// `GET /v1/governance/proposals/{id}/comments`.
    pub fn proposal_comments(
        &self,
        key: &str,
    ) -> Result<Vec<vcity_ledger::governance::Comment>, ClientError> {
        self.get(&format!("/v1/governance/proposals/{key}/comments"))
    }

    /// `GET /v1/treasury`.
    pub fn treasury(&self) -> Result<TreasuryView, ClientError> {
        self.get("/v1/treasury")
    }

    /// `GET /v1/incentives`: the incentive pool, its open and recent periods (rules §6).
    pub fn incentives(&self) -> Result<vcity_ledger::incentives::Status, ClientError> {
        self.get("/v1/incentives")
    }

    /// `GET /v1/accounts/{id}/rewards`.
    pub fn rewards(&self, id: &AccountId) -> Result<RewardsView, ClientError> {
        self.get(&format!("/v1/accounts/{id}/rewards"))
    }

    /// `GET /v1/nfts`, optionally one holder's.
    pub fn nfts(&self, owner: Option<&AccountId>) -> Result<Vec<NftView>, ClientError> {
        match owner {
            Some(owner) => self.get(&format!("/v1/nfts?owner={owner}")),
            None => self.get("/v1/nfts"),
        }
    }

    /// `GET /v1/nfts/{id}`.
    pub fn nft(&self, id: u32) -> Result<NftView, ClientError> {
        self.get(&format!("/v1/nfts/{id}"))
    }

    /// `GET /v1/agents`: discovery (docs/agents.md), at most `limit` agents.
    pub fn agents(
        &self,
        search: &vcity_types::agents::Search,
        limit: usize,
    ) -> Result<Vec<vcity_types::api::AgentView>, ClientError> {
        let mut pairs: Vec<(&str, String)> = vec![("limit", limit.to_string())];
        let sort = serde_json::to_value(search.sort)
            .ok()
            .and_then(|value| value.as_str().map(str::to_string))
            .unwrap_or_default();
        pairs.push(("sort", sort));
        if let Some(tag) = &search.tag {
            pairs.push(("tag", tag.clone()));
        }
        if let Some(text) = &search.text {
            pairs.push(("text", text.clone()));
        }
        if let Some(max) = search.max_call_usd {
            pairs.push(("max_call_usd", max.base_units().to_string()));
        }
        if let Some(for_sale) = search.for_sale {
            pairs.push(("for_sale", for_sale.to_string()));
        }
        if let Some(min) = search.min_score_ppm {
            pairs.push(("min_score_ppm", min.to_string()));
        }
        if let Some(owner) = &search.owner {
            pairs.push(("owner", owner.to_string()));
        }
        if let Some(creator) = &search.creator {
            pairs.push(("creator", creator.to_string()));
        }
        let url = self.url("/v1/agents");
        let request = pairs
            .iter()
            .fold(self.agent.get(&url), |request, (key, value)| {
                request.query(key, value)
            });
        Self::answer(&url, request.call())
    }

    /// `GET /v1/agents/{id}`.
    pub fn agent(&self, id: u64) -> Result<vcity_types::api::AgentView, ClientError> {
        self.get(&format!("/v1/agents/{id}"))
    }

    /// `GET /v1/agents/{id}/licences/{account}`.
    pub fn agent_licence(
        &self,
        id: u64,
        account: &AccountId,
    ) -> Result<vcity_types::agents::Licence, ClientError> {
        self.get(&format!("/v1/agents/{id}/licences/{account}"))
    }

    /// `GET /v1/agent-calls/{job}`.
    pub fn agent_call(&self, job: u64) -> Result<vcity_types::agents::Invocation, ClientError> {
        self.get(&format!("/v1/agent-calls/{job}"))
    }

    /// `GET /v1/blocks/{height}`.
    pub fn block(&self, height: u64) -> Result<BlockView, ClientError> {
        self.get(&format!("/v1/blocks/{height}"))
    }

    /// `GET /v1/blocks/latest`.
    pub fn latest_block(&self) -> Result<BlockView, ClientError> {
        self.get("/v1/blocks/latest")
    }

    /// `GET /v1/txs/{hash}`.
    pub fn transaction(&self, hash: &Hash) -> Result<TxView, ClientError> {
        self.get(&format!("/v1/txs/{hash}"))
    }

    /// `POST /v1/txs` with canonical signed-transaction bytes.
    pub fn submit(&self, bytes: &[u8]) -> Result<Hash, ClientError> {
        let url = self.url("/v1/txs");
        let request = SubmitTxRequest {
            tx: hex::encode(bytes),
        };
        let response: SubmitTxResponse =
            Self::answer(&url, self.agent.post(&url).send_json(&request))?;
        Ok(response.tx_hash)
    }

    /// `GET /v1/proof`, verified: the proof must verify against the state root it names, and
    /// that root must be the one in the header of the block at the height it names.
    pub fn proof(&self, key: &[u8]) -> Result<VerifiedProof, ClientError> {
        let view: ProofView = self.get(&format!("/v1/proof?key_hex={}", hex::encode(key)))?;
        let value = match &view.value {
            Some(text) => Some(hex::decode(text).map_err(|error| ClientError::Decode {
                url: self.url("/v1/proof"),
                message: error.to_string(),
            })?),
            None => None,
        };
        view.proof
            .verify(&view.state_root, key, value.as_deref())
            .map_err(|error| ClientError::InvalidProof(error.to_string()))?;
        if view.height.0 > 0 {
            let block = self.block(view.height.0)?;
            if block.header.state_root != view.state_root {
                return Err(ClientError::InvalidProof(format!(
                    "root {} is not block {}'s state root {}",
                    view.state_root, view.height, block.header.state_root
                )));
            }
        }
        Ok(VerifiedProof { view, value })
    }

    /// Polls until the transaction has a receipt.
    pub fn wait_for_transaction(
        &self,
        hash: &Hash,
        timeout: Duration,
    ) -> Result<TxView, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.transaction(hash) {
                Ok(view) if view.receipt.is_some() => return Ok(view),
                Ok(_) | Err(ClientError::NotFound(_)) => {}
                Err(error) => return Err(error),
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout(timeout));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Signs `messages` from `key` with the chain's id and the account's next pending nonce,
    /// submits, and returns the transaction id. `fee` defaults to the chain's minimum.
    pub fn send(
        &self,
        key: &SigningKey,
        messages: Vec<Message>,
        fee: Option<Amount>,
    ) -> Result<Hash, ClientError> {
        let (chain_id, min_fee_usd) = match self.chain.get() {
            Some(known) => known.clone(),
            None => {
                let status = self.status()?;
                self.chain
                    .get_or_init(|| (status.chain_id, status.min_fee_usd))
                    .clone()
            }
        };
        let account = self.account(&AccountId::from_public_key(&key.verifying_key()))?;
        let tx = crate::transaction::sign(
            key,
            &chain_id,
            account.pending_nonce,
            fee.unwrap_or(min_fee_usd),
            messages,
        );
        self.submit(&tx.to_bytes())
    }
}
