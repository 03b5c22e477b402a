//! TEE attestation (whitepaper §2.5.1, §2.5.3, §4.1; SPEC §12; docs/attestation.md): a compute
//! node proves that it runs in a trusted execution environment, and the ledger records the tier
//! it proved.
//!
//! The node presents evidence (`AttestNode`): an Intel TDX or SGX quote with Intel's collateral,
//! or an AMD SEV-SNP report with its VCEK, and an NVIDIA report per confidential GPU. The ledger
//! verifies it itself, with `vcity-attest`, at the block's time: the vendors' signatures and
//! certificate chains, the freshness of the collateral, and the governance policy (accepted TCB
//! statuses and advisories, registered measurements, GPU driver and VBIOS versions and
//! reference values). No verifier's word is needed, so nobody can vouch falsely for a node; the
//! cost is bounded by `max_reports_per_block` (P10 in docs/benchmarks.md: a few milliseconds a
//! report).
//!
//! Evidence must be bound to the node and to now: its CPU report data is derived from the
//! node's key, an attestation nonce the chain drew from a block beacon, the X25519 key of the
//! attested workload (to which owners of confidential jobs seal their keys, `jobs`), and the
//! hash of its GPU reports, and each GPU report's nonce from the key and the chain nonce. The chain draws a new
//! nonce every `nonce_interval_s` and accepts the current one and the one before, so evidence is
//! neither transferable to another node nor replayable later. A test network may accept
//! recorded vendor samples, whose report data was fixed when they were captured
//! (`accept_unbound_samples`, genesis only); their record says `bound: false`.
//!
//! The verdict stands for `validity_s` or until the evidence's own collateral or certificates
//! expire, whichever is first; the node renews it with fresh evidence. [`NodeRecord::tee`]
//! carries it: the matching rule serves jobs that require a tier only from nodes whose tier
//! stands (`jobs::fits`), and verification samples such nodes' results at `sampling_factor_ppm`
//! of the level rate (`verification::sampling_rate_ppm`).
//!
//! Evidence costs milliseconds to verify, so its bounds hold whether it passes or not: the
//! transaction's ante step (with the nonce and the fee, outside the messages' overlay) reserves
//! its reports in the block's `max_reports_per_block` and the sender's one attempt per nonce
//! interval, and a transaction over either cannot be included.
//!
//! Keys (owned here): `attest/params`, `attest/nonce` (current and previous nonce and the
//! interval they belong to), `attest/block` (the height and the reports reserved in it),
//! `attest/attempt/{hex}` (the nonce interval of a node's last attempt).
//!
//! [`NodeRecord::tee`]: vcity_types::compute::NodeRecord

use crate::chain;
use crate::error::TxError;
use crate::nodes;
use crate::state::{Overlay, StateRead};
use crate::vesting::elapsed_s;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use vcity_types::attestation::AttestationRules;
use vcity_types::compute::{AttestNode, Role, TeeStatus};
use vcity_types::event::Event;
use vcity_types::hash::Domain;
use vcity_types::tx::Message;
use vcity_types::{AccountId, Hash};

const KEY_PARAMS: &[u8] = b"attest/params";
const KEY_NONCE: &[u8] = b"attest/nonce";
const KEY_BLOCK: &[u8] = b"attest/block";

/// The attestation parameters: the governed rules, and what only a genesis decides.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
// No `deny_unknown_fields` here: serde does not support it beside `flatten`; the flattened rules
// refuse unknown fields themselves.
#[serde(default)]
pub struct AttestationParams {
    /// Policy, validity, nonce interval, reports per block, TEE sampling factor.
    #[serde(flatten)]
    pub rules: AttestationRules,
    /// Test networks only: accept evidence whose report data is not bound to the node (recorded
    /// vendor samples). No proposal can turn it on.
    pub accept_unbound_samples: bool,
}

/// The chain's attestation nonces.
#[derive(Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize)]
pub struct Nonces {
    /// The nonce of the current interval.
    pub current: Hash,
    /// The nonce of the interval before (still accepted).
    pub previous: Hash,
    /// The current interval: seconds after genesis divided by `nonce_interval_s`.
    pub interval: u64,
}

/// `GET /v1/attestation`: the rules and the nonces a node binds its evidence to now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The parameters.
    pub params: AttestationParams,
    /// The nonce to bind new evidence to.
    pub nonce: Hash,
    /// The nonce of the interval before, still accepted.
    pub previous_nonce: Hash,
    /// When the next nonce is drawn (the first block at or after it), seconds after genesis.
    pub next_nonce_s: u64,
}

/// The status [`Status`] describes.
pub fn status(state: &impl StateRead) -> Status {
    let params = params(state);
    let nonces = nonces(state);
    let interval_s = params.rules.nonce_interval_s.max(1);
    Status {
        next_nonce_s: nonces.interval.saturating_add(1).saturating_mul(interval_s),
        params,
        nonce: nonces.current,
        previous_nonce: nonces.previous,
    }
}

/// The parameters.
pub fn params(state: &impl StateRead) -> AttestationParams {
    state.get(KEY_PARAMS).unwrap_or_default()
}

/// The nonces evidence may be bound to now.
pub fn nonces(state: &impl StateRead) -> Nonces {
    state.get(KEY_NONCE).unwrap_or_default()
}

fn draw_nonce(beacon: &Hash, interval: u64) -> Hash {
    Hash::of(
        Domain::Draw,
        &[b"attestation nonce", &beacon.0, &interval.to_le_bytes()],
    )
}

/// Sets the parameters and the first nonce (genesis).
pub(crate) fn init(state: &mut Overlay<'_>, params: &AttestationParams) -> Result<(), String> {
    params.rules.validate()?;
    state.put(KEY_PARAMS.to_vec(), params);
    let first = draw_nonce(&chain::beacon(state), 0);
    state.put(
        KEY_NONCE.to_vec(),
        &Nonces {
            current: first,
            previous: first,
            interval: 0,
        },
    );
    Ok(())
}

/// A proposal's change to the governed rules (`accept_unbound_samples` stays as genesis set
/// it).
pub(crate) fn set_rules(state: &mut Overlay<'_>, rules: &AttestationRules) -> Result<(), TxError> {
    rules.validate().map_err(TxError::InvalidParam)?;
    let mut settings = params(state);
    settings.rules = rules.clone();
    state.put(KEY_PARAMS.to_vec(), &settings);
    Ok(())
}

/// At an interval boundary, draws the new nonce from this block's beacon (recorded by
/// `chain::begin_block` before this hook runs).
pub(crate) fn begin_block(state: &mut Overlay<'_>) {
    let interval_s = params(state).rules.nonce_interval_s.max(1);
    let interval = elapsed_s(state) / interval_s;
    let mut nonces = nonces(state);
    if interval != nonces.interval {
        nonces.previous = nonces.current;
        nonces.current = draw_nonce(&chain::beacon(state), interval);
        nonces.interval = interval;
        state.put(KEY_NONCE.to_vec(), &nonces);
    }
}

/// Reports verified so far in the block being executed.
fn reports_in_block(state: &impl StateRead) -> u32 {
    let (height, reports): (u64, u32) = state.get(KEY_BLOCK).unwrap_or_default();
    if height == chain::height(state).0 {
        reports
    } else {
        0
    }
}

fn attempt_key(node: &AccountId) -> Vec<u8> {
    format!("attest/attempt/{}", node.to_hex()).into_bytes()
}

/// The reports a piece of evidence asks the block to verify: its CPU report and each GPU's
/// (bytes that are not evidence count one: their message fails after a cheap decode).
fn reports_of(evidence: &[u8]) -> u32 {
    borsh::from_slice::<vcity_attest::Evidence>(evidence)
        .map(|decoded| {
            u32::try_from(decoded.gpus.len())
                .unwrap_or(u32::MAX)
                .saturating_add(1)
        })
        .unwrap_or(1)
}

/// The ante step of a transaction that presents evidence, run with the nonce and the fee,
/// outside the messages' all-or-nothing overlay, so that evidence whose verification then fails
/// still counts: it reserves the reports in the block's `max_reports_per_block` and the
/// sender's one attempt per nonce interval. A transaction over either bound cannot be
/// included (the proposer drops it, a block holding it is invalid): verification work per
/// block and per node stays bounded whatever the evidence turns out to be.
pub(crate) fn ante(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    messages: &[Message],
) -> Result<(), TxError> {
    let mut presented = messages.iter().filter_map(|message| match message {
        Message::AttestNode(attest) => Some(attest),
        _ => None,
    });
    let Some(attest) = presented.next() else {
        return Ok(());
    };
    if presented.next().is_some() {
        return Err(TxError::Duplicate(
            "a transaction presents attestation evidence once".into(),
        ));
    }
    let settings = params(state);
    let nonces = nonces(state);
    let key = attempt_key(sender);
    if state.get::<u64>(&key) == Some(nonces.interval) {
        return Err(TxError::QuotaExhausted(format!(
            "this node already presented evidence in this nonce interval; the next starts at {} s",
            status(state).next_nonce_s
        )));
    }
    let reports = reports_of(&attest.evidence);
    let used = reports_in_block(state);
    if used.saturating_add(reports) > settings.rules.max_reports_per_block {
        return Err(TxError::QuotaExhausted(format!(
            "this block has reserved {used} of its {} attestation reports and the evidence has {reports}; present it again in a later block",
            settings.rules.max_reports_per_block
        )));
    }
    state.put(
        KEY_BLOCK.to_vec(),
        &(chain::height(state).0, used.saturating_add(reports)),
    );
    state.put(key, &nonces.interval);
    Ok(())
}

fn refused(error: vcity_attest::AttestError) -> TxError {
    TxError::AttestationRefused(error.to_string())
}

/// `AttestNode`: verifies the evidence and records the tier on the node.
pub(crate) fn execute_attest(
    state: &mut Overlay<'_>,
    sender: &AccountId,
    message: &AttestNode,
) -> Result<(), TxError> {
    let mut node = nodes::node(state, sender)
        .ok_or_else(|| TxError::NotFound(format!("no node {}", sender.to_hex())))?;
    if node.role != Role::Compute {
        return Err(TxError::InvalidNode(
            "only compute nodes present attestation evidence".into(),
        ));
    }
    if node.trust.deregistered || node.trust.banned {
        return Err(TxError::InvalidNode(
            "the node is deregistered or banned".into(),
        ));
    }
    let settings = params(state);
    let nonces = nonces(state);
    if message.nonce != nonces.current && message.nonce != nonces.previous {
        return Err(TxError::AttestationRefused(
            "the nonce is not the chain's current or previous attestation nonce (GET /v1/attestation)"
                .into(),
        ));
    }
    if message.evidence.len() > vcity_attest::MAX_EVIDENCE_BYTES {
        return Err(TxError::AttestationRefused(format!(
            "evidence of {} bytes, at most {}",
            message.evidence.len(),
            vcity_attest::MAX_EVIDENCE_BYTES
        )));
    }
    let evidence: vcity_attest::Evidence = borsh::from_slice(&message.evidence)
        .map_err(|error| TxError::Malformed(format!("attestation evidence: {error}")))?;
    let now_unix_s = chain::time_ms(state) / 1_000;
    let binding = vcity_attest::Binding {
        node_key: sender.0,
        nonce: message.nonce.0,
        encryption_key: message.encryption_key.0,
    };
    let policy = &settings.rules.policy;
    let appraisal = match vcity_attest::verify(
        &evidence,
        policy,
        now_unix_s,
        vcity_attest::Expected::Bound(binding),
    ) {
        Ok(appraisal) => appraisal,
        Err(vcity_attest::AttestError::Binding(_)) if settings.accept_unbound_samples => {
            vcity_attest::verify(
                &evidence,
                policy,
                now_unix_s,
                vcity_attest::Expected::Unbound,
            )
            .map_err(refused)?
        }
        Err(error) => return Err(refused(error)),
    };

    let now_s = elapsed_s(state);
    let genesis_unix_s = chain::genesis_time_ms(state) / 1_000;
    let evidence_expires_s = appraisal.expires_at_s.saturating_sub(genesis_unix_s);
    let status = TeeStatus {
        tier: appraisal.tier,
        cpu: appraisal.cpu.tee.as_str().into(),
        evidence_hash: Hash(evidence.hash()),
        attested_s: now_s,
        expires_s: evidence_expires_s.min(now_s.saturating_add(settings.rules.validity_s)),
        bound: appraisal.bound,
        encryption_key: message.encryption_key,
    };
    state.emit(Event::NodeAttested {
        node: *sender,
        tier: status.tier,
        cpu: status.cpu.clone(),
        evidence_hash: status.evidence_hash,
        expires_s: status.expires_s,
        bound: status.bound,
    });
    node.tee = status;
    nodes::put(state, &node);
    Ok(())
}
