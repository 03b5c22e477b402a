//! The rules TEE attestation evidence is judged by (docs/attestation.md): which TCB levels,
//! measurements and GPU firmware are acceptable, how long a verdict stands and how much
//! verification one block may carry. Governance changes them (`ParamChange::Attestation`);
//! `vcity-attest` applies them and the ledger keeps them.
//!
//! Measurements are lowercase hex strings, as vendors' tools print them. Every list that is
//! empty accepts nothing: a new kind of evidence is refused until governance registers what it
//! must measure.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Most entries in any one list of a policy.
pub const MAX_POLICY_ENTRIES: usize = 64;

/// An SEV-SNP TCB: the security patch levels of the firmware components.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(default, deny_unknown_fields)]
pub struct SnpTcb {
    /// PSP bootloader.
    pub bootloader: u8,
    /// PSP operating system.
    pub tee: u8,
    /// SNP firmware.
    pub snp: u8,
    /// CPU microcode.
    pub microcode: u8,
}

impl SnpTcb {
    /// Whether every component is at least `minimum`'s.
    pub fn at_least(&self, minimum: &SnpTcb) -> bool {
        self.bootloader >= minimum.bootloader
            && self.tee >= minimum.tee
            && self.snp >= minimum.snp
            && self.microcode >= minimum.microcode
    }
}

impl std::fmt::Display for SnpTcb {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "bootloader {} tee {} snp {} microcode {}",
            self.bootloader, self.tee, self.snp, self.microcode
        )
    }
}

/// Accepted values of one GPU measurement block.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct GpuReference {
    /// The block's index in the SPDM measurement record.
    pub index: u8,
    /// Accepted values, hex.
    pub values: Vec<String>,
}

/// What evidence must show to be accepted.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(default, deny_unknown_fields)]
pub struct AttestationPolicy {
    /// Intel TCB statuses accepted (`UpToDate`, `SWHardeningNeeded`, ...); `Revoked` never is.
    pub intel_tcb_statuses: Vec<String>,
    /// Intel security advisories that make a quote unacceptable whatever its status.
    pub intel_rejected_advisories: Vec<String>,
    /// Accepted TDX MRTD values (the TD's initial memory measurement), hex.
    pub tdx_mrtd: Vec<String>,
    /// Accepted SGX MRENCLAVE values, hex.
    pub sgx_mrenclave: Vec<String>,
    /// Accepted SEV-SNP launch measurements, hex.
    pub snp_measurements: Vec<String>,
    /// The lowest SEV-SNP reported TCB accepted, component by component.
    pub snp_minimum_tcb: SnpTcb,
    /// Accepted NVIDIA driver versions, as the GPU report writes them (`550.90.07`).
    pub gpu_driver_versions: Vec<String>,
    /// Accepted NVIDIA VBIOS versions (`96.00.9f.00.01`).
    pub gpu_vbios_versions: Vec<String>,
    /// Reference values of GPU measurement blocks; a block without one is not compared.
    pub gpu_measurements: Vec<GpuReference>,
}

impl AttestationPolicy {
    /// Checks the bounds: list lengths and that measurements are hex of the right length.
    pub fn validate(&self) -> Result<(), String> {
        let lists: [(&str, &Vec<String>, Option<usize>); 7] = [
            ("intel_tcb_statuses", &self.intel_tcb_statuses, None),
            (
                "intel_rejected_advisories",
                &self.intel_rejected_advisories,
                None,
            ),
            ("tdx_mrtd", &self.tdx_mrtd, Some(48)),
            ("sgx_mrenclave", &self.sgx_mrenclave, Some(32)),
            ("snp_measurements", &self.snp_measurements, Some(48)),
            ("gpu_driver_versions", &self.gpu_driver_versions, None),
            ("gpu_vbios_versions", &self.gpu_vbios_versions, None),
        ];
        for (name, list, bytes) in lists {
            check_list(name, list, bytes)?;
        }
        if self.gpu_measurements.len() > MAX_POLICY_ENTRIES {
            return Err(format!(
                "gpu_measurements has more than {MAX_POLICY_ENTRIES} entries"
            ));
        }
        for reference in &self.gpu_measurements {
            check_list(
                &format!("gpu_measurements[{}]", reference.index),
                &reference.values,
                Some(48),
            )?;
        }
        Ok(())
    }
}

fn check_list(name: &str, list: &[String], bytes: Option<usize>) -> Result<(), String> {
    if list.len() > MAX_POLICY_ENTRIES {
        return Err(format!("{name} has more than {MAX_POLICY_ENTRIES} entries"));
    }
    for entry in list {
        if entry.is_empty() || entry.len() > 128 {
            return Err(format!("{name}: entries are 1 to 128 characters"));
        }
        if let Some(bytes) = bytes {
            let hex_ok = entry.len() == bytes * 2
                && entry
                    .bytes()
                    .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
            if !hex_ok {
                return Err(format!(
                    "{name}: {entry:?} is not {bytes} bytes of lowercase hex"
                ));
            }
        }
    }
    Ok(())
}

/// The governed rules of attestation.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttestationRules {
    /// What evidence must show.
    pub policy: AttestationPolicy,
    /// How long an accepted verdict stands before the node must present fresh evidence,
    /// seconds (also cut short by the evidence's own expiry).
    pub validity_s: u64,
    /// How often the chain draws a new attestation nonce from the block beacon, seconds.
    /// Evidence may be bound to the current nonce or the one before it.
    pub nonce_interval_s: u64,
    /// Reports one block may carry (a CPU report and each GPU report count one): it bounds
    /// the verification time of a block (docs/benchmarks.md, P10: about 1.5 ms per Intel
    /// quote, 3.5 per SNP report, 4.6 per GPU report).
    pub max_reports_per_block: u32,
    /// The verification sampling rate of a node with a TEE tier, ppm of its job's rate
    /// (never below one ppm: a TEE lowers the odds of a check, never to zero).
    pub sampling_factor_ppm: u32,
}

impl Default for AttestationRules {
    fn default() -> Self {
        AttestationRules {
            policy: AttestationPolicy::default(),
            validity_s: 7 * 24 * 3600,
            nonce_interval_s: 3600,
            max_reports_per_block: 9,
            sampling_factor_ppm: 500_000,
        }
    }
}

impl AttestationRules {
    /// Checks the bounds.
    pub fn validate(&self) -> Result<(), String> {
        self.policy.validate()?;
        if self.validity_s == 0 || self.validity_s > 90 * 24 * 3600 {
            return Err("attestation validity is 1 s to 90 days".into());
        }
        if self.nonce_interval_s == 0 || self.nonce_interval_s > self.validity_s {
            return Err("the nonce interval is positive and at most the validity".into());
        }
        if self.max_reports_per_block == 0 || self.max_reports_per_block > 64 {
            return Err("max_reports_per_block is 1 to 64".into());
        }
        if self.sampling_factor_ppm == 0 || self.sampling_factor_ppm > 1_000_000 {
            return Err("sampling_factor_ppm is 1 to 1,000,000".into());
        }
        Ok(())
    }
}
