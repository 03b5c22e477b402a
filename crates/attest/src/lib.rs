//! Verifies TEE attestation evidence offline, at a time the caller gives (docs/attestation.md).
//!
//! A compute node that runs in a trusted execution environment proves it with evidence signed
//! by the hardware vendor's keys: an Intel TDX or SGX quote (DCAP), an AMD SEV-SNP report, and
//! for each confidential-computing NVIDIA GPU an SPDM measurement report. This crate checks that
//! evidence against the vendors' roots of trust and a policy (which TCB levels, measurements and
//! GPU firmware are acceptable), and that it is bound to the node: the CPU report's 64 bytes of
//! report data and each GPU report's nonce must be derived from the node's ed25519 key and a
//! fresh nonce the chain chose ([`Binding`]), so a quote cannot be replayed by another node or
//! reused later.
//!
//! Nothing here reads the clock or the network: `now_s` comes from the caller (the block time on
//! the ledger, a fixed time in tests), and every piece of collateral (Intel's TCB info, QE
//! identity and CRLs; AMD's VCEK; NVIDIA's certificate chain) travels inside the evidence. What
//! is trusted is the vendors' root certificates compiled into this crate and the policy; what is
//! not checked is written in docs/attestation.md (NVIDIA RIMs and OCSP, AMD's VCEK CRL).

mod amd;
mod intel;
mod nvidia;
mod x509;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

pub use nvidia::{pem_chain_to_der, GpuClaims, NVIDIA_DEVICE_ROOT_PEM};
/// The policy is a ledger parameter, so its type lives with the other wire types.
pub use vcity_types::attestation::{AttestationPolicy as Policy, GpuReference, SnpTcb};
/// The tier evidence proves; the ledger and the placement rule share this type.
pub use vcity_types::compute::TeeTier;

/// The most evidence one node may present, in bytes: an Intel quote with its collateral is
/// about 20 KiB, each GPU report with its chain about 6 KiB.
pub const MAX_EVIDENCE_BYTES: usize = 96 * 1024;

/// The most GPUs one piece of evidence may cover.
pub const MAX_GPUS: usize = 8;

/// Evidence from a CPU TEE.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum CpuEvidence {
    /// An Intel DCAP quote (TDX or SGX; its header says which) with the collateral it is
    /// checked against: Intel's `QuoteCollateralV3` as JSON (what a PCCS serves).
    IntelDcap {
        quote: Vec<u8>,
        collateral_json: Vec<u8>,
    },
    /// An AMD SEV-SNP attestation report (1184 bytes) and the VCEK certificate (DER) of the
    /// chip that signed it; the ARK and ASK are AMD's, compiled in.
    AmdSnp { report: Vec<u8>, vcek_der: Vec<u8> },
}

/// Evidence from one NVIDIA confidential-computing GPU: the SPDM `GET_MEASUREMENTS` request
/// followed by its signed response, and the GPU's certificate chain (DER, leaf first).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct GpuEvidence {
    pub report: Vec<u8>,
    pub cert_chain_der: Vec<Vec<u8>>,
}

/// Everything a node presents to reach a TEE tier.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Evidence {
    pub cpu: CpuEvidence,
    pub gpus: Vec<GpuEvidence>,
}

impl Evidence {
    /// The BLAKE3 hash of the evidence's canonical encoding: what the ledger records.
    pub fn hash(&self) -> [u8; 32] {
        let bytes = borsh::to_vec(self).unwrap_or_default();
        *blake3::hash(&bytes).as_bytes()
    }

    /// [`gpus_hash`] of its GPU reports.
    pub fn gpus_hash(&self) -> [u8; 32] {
        gpus_hash(&self.gpus)
    }
}

/// The hash of GPU reports alone, which the CPU report data commits to: it ties the GPUs to the
/// confidential VM that presents them. A node computes it before it has its CPU report.
pub fn gpus_hash(gpus: &[GpuEvidence]) -> [u8; 32] {
    let bytes = borsh::to_vec(gpus).unwrap_or_default();
    *blake3::hash(&bytes).as_bytes()
}

/// What a node's evidence must be bound to: its ed25519 key and a nonce the chain chose (the
/// random beacon of a recent block), so that evidence is neither transferable nor replayable,
/// and the X25519 key of the attested workload, so that confidential jobs' keys sealed to it
/// reach only that workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Binding {
    pub node_key: [u8; 32],
    pub nonce: [u8; 32],
    pub encryption_key: [u8; 32],
}

impl Binding {
    /// The 64 bytes the CPU report's report data must hold: BLAKE3 in XOF mode over a domain
    /// tag, the node key, the nonce, the encryption key and the hash of the GPU reports.
    pub fn cpu_report_data(&self, gpus_hash: &[u8; 32]) -> [u8; 64] {
        let mut hasher = blake3::Hasher::new_derive_key("vcity attestation cpu report data v2");
        hasher.update(&self.node_key);
        hasher.update(&self.nonce);
        hasher.update(&self.encryption_key);
        hasher.update(gpus_hash);
        let mut out = [0u8; 64];
        hasher.finalize_xof().fill(&mut out);
        out
    }

    /// The 32-byte nonce each GPU's SPDM request must carry.
    pub fn gpu_nonce(&self) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_derive_key("vcity attestation gpu nonce v1");
        hasher.update(&self.node_key);
        hasher.update(&self.nonce);
        *hasher.finalize().as_bytes()
    }
}

/// Which binding the evidence is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Production: report data and GPU nonces must come from this binding.
    Bound(Binding),
    /// Recorded vendor samples, whose report data was fixed when they were captured: every
    /// other check runs, and the appraisal says `bound: false`. A ledger accepts such an
    /// appraisal only where its genesis says so (test networks).
    Unbound,
}

/// The kind of CPU TEE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuTee {
    IntelTdx,
    IntelSgx,
    AmdSevSnp,
}

impl CpuTee {
    /// The name the ledger records.
    pub fn as_str(self) -> &'static str {
        match self {
            CpuTee::IntelTdx => "intel_tdx",
            CpuTee::IntelSgx => "intel_sgx",
            CpuTee::AmdSevSnp => "amd_sev_snp",
        }
    }
}

/// What a CPU report says, once its signatures and collateral checked out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuClaims {
    pub tee: CpuTee,
    /// MRTD (TDX, 48 bytes), MRENCLAVE (SGX, 32 bytes) or the launch measurement (SNP, 48).
    pub measurement: Vec<u8>,
    pub report_data: Vec<u8>,
    /// Intel's TCB status (`UpToDate`, `OutOfDate`, ...) or, for SNP, the reported TCB.
    pub tcb_status: String,
    pub advisory_ids: Vec<String>,
}

/// The result of a successful verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appraisal {
    pub tier: TeeTier,
    pub cpu: CpuClaims,
    pub gpus: Vec<GpuClaims>,
    /// Whether report data and GPU nonces were checked against a [`Binding`].
    pub bound: bool,
    /// The earliest time (Unix seconds) at which any collateral or certificate the verdict
    /// rests on stops being valid.
    pub expires_at_s: u64,
}

/// Why evidence was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AttestError {
    #[error("evidence is malformed: {0}")]
    Malformed(String),
    #[error("evidence is too large: {bytes} bytes, at most {max}")]
    TooLarge { bytes: usize, max: usize },
    #[error("signature or certificate chain does not verify: {0}")]
    Signature(String),
    #[error("collateral or certificate is not valid at {now_s}: {what}")]
    Expired { now_s: u64, what: String },
    #[error("TCB not accepted by policy: {0}")]
    Tcb(String),
    #[error("measurement not accepted by policy: {0}")]
    Measurement(String),
    #[error("evidence is not bound to this node and nonce: {0}")]
    Binding(String),
    #[error("debug mode is enabled in the TEE")]
    Debug,
}

/// Verifies `evidence` at `now_s` (Unix seconds) against `policy`.
pub fn verify(
    evidence: &Evidence,
    policy: &Policy,
    now_s: u64,
    expected: Expected,
) -> Result<Appraisal, AttestError> {
    let size = borsh::object_length(evidence)
        .map_err(|error| AttestError::Malformed(error.to_string()))?;
    if size > MAX_EVIDENCE_BYTES {
        return Err(AttestError::TooLarge {
            bytes: size,
            max: MAX_EVIDENCE_BYTES,
        });
    }
    if evidence.gpus.len() > MAX_GPUS {
        return Err(AttestError::Malformed(format!(
            "{} GPU reports, at most {MAX_GPUS}",
            evidence.gpus.len()
        )));
    }
    let (cpu, cpu_expiry_s) = match &evidence.cpu {
        CpuEvidence::IntelDcap {
            quote,
            collateral_json,
        } => intel::verify(quote, collateral_json, policy, now_s)?,
        CpuEvidence::AmdSnp { report, vcek_der } => amd::verify(report, vcek_der, policy, now_s)?,
    };
    let mut expires_at_s = cpu_expiry_s;
    let mut gpus = Vec::with_capacity(evidence.gpus.len());
    for (position, gpu) in evidence.gpus.iter().enumerate() {
        let (claims, expiry_s) = nvidia::verify(gpu, policy, now_s)
            .map_err(|error| prefix(error, &format!("GPU {position}")))?;
        expires_at_s = expires_at_s.min(expiry_s);
        gpus.push(claims);
    }
    let bound = match expected {
        Expected::Unbound => false,
        Expected::Bound(binding) => {
            let wanted = binding.cpu_report_data(&evidence.gpus_hash());
            if cpu.report_data.as_slice() != wanted.as_slice() {
                return Err(AttestError::Binding(
                    "CPU report data is not derived from the node key, nonce and GPU reports"
                        .into(),
                ));
            }
            let nonce = binding.gpu_nonce();
            if let Some(position) = gpus.iter().position(|gpu| gpu.nonce.0 != nonce) {
                return Err(AttestError::Binding(format!(
                    "GPU {position}'s SPDM nonce is not derived from the node key and nonce"
                )));
            }
            true
        }
    };
    let tier = if gpus.is_empty() {
        TeeTier::Cpu
    } else {
        TeeTier::CpuGpu
    };
    Ok(Appraisal {
        tier,
        cpu,
        gpus,
        bound,
        expires_at_s,
    })
}

/// Whether `value` is one of the hex strings of `accepted` (case does not matter).
fn registered(accepted: &[String], value: &[u8]) -> bool {
    let wanted = hex::encode(value);
    accepted
        .iter()
        .any(|entry| entry.eq_ignore_ascii_case(&wanted))
}

fn prefix(error: AttestError, context: &str) -> AttestError {
    match error {
        AttestError::Malformed(m) => AttestError::Malformed(format!("{context}: {m}")),
        AttestError::Signature(m) => AttestError::Signature(format!("{context}: {m}")),
        AttestError::Expired { now_s, what } => AttestError::Expired {
            now_s,
            what: format!("{context}: {what}"),
        },
        AttestError::Tcb(m) => AttestError::Tcb(format!("{context}: {m}")),
        AttestError::Measurement(m) => AttestError::Measurement(format!("{context}: {m}")),
        AttestError::Binding(m) => AttestError::Binding(format!("{context}: {m}")),
        other => other,
    }
}
