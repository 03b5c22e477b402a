//! Obtains this machine's TEE attestation evidence for `AttestNode` (docs/attestation.md).
//!
//! - **CPU**: Linux's configfs-tsm interface (`/sys/kernel/config/tsm/report`, kernel 6.7+),
//!   which TDX and SEV-SNP guests share: make a report directory, write the 64 bytes of report
//!   data to `inblob`, read the quote or report from `outblob` (and, for SNP, the host's
//!   certificate table from `auxblob`), check `generation` did not move (another writer), remove
//!   the directory. Written here directly: the crates that wrap it are AGPL.
//! - **GPU**: NVML's confidential-computing calls (`nvmlDeviceGetConfComputeGpuAttestationReport`
//!   with our nonce, `nvmlDeviceGetConfComputeGpuCertificate`), on every GPU in CC mode.
//! - Intel's collateral (TCB info, QE identity, CRLs) is not on the machine: the operator gives
//!   it as a file (`--tee-collateral`, `QuoteCollateralV3` JSON as a PCCS serves it), refreshed
//!   before it expires (about monthly).
//!
//! Without configfs-tsm there is no TEE: the daemon says so and registers without a tier. A
//! recorded evidence file (`--tee-evidence`) replaces all of this on test networks.

use std::path::{Path, PathBuf};

use vcity_attest::{pem_chain_to_der, Binding, CpuEvidence, Evidence, GpuEvidence};

/// Where the kernel exposes configfs-tsm reports.
pub const TSM_REPORT_ROOT: &str = "/sys/kernel/config/tsm/report";

/// The GUID of the VCEK in an SNP certificate table (AMD's GHCB specification).
const VCEK_GUID: [u8; 16] = [
    0x8d, 0x75, 0xda, 0x63, 0x64, 0xe6, 0x64, 0x45, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd,
];

/// Where evidence comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// This machine: configfs-tsm and NVML; no TEE if they are absent.
    Auto,
    /// Never attest.
    Off,
    /// A recorded evidence file (borsh `Evidence`, as `vcity nodes attest --save` writes it).
    File(PathBuf),
}

impl Source {
    /// `auto`, `off`, or a path.
    pub fn parse(text: &str) -> Source {
        match text {
            "auto" => Source::Auto,
            "off" => Source::Off,
            path => Source::File(PathBuf::from(path)),
        }
    }
}

/// Why no evidence could be obtained.
#[derive(Debug, thiserror::Error)]
pub enum TeeError {
    /// No CPU TEE on this machine: the node earns no TEE-level trust.
    #[error("no TEE: {0}")]
    Absent(String),
    /// A TEE is there but the evidence could not be completed.
    #[error("{0}")]
    Incomplete(String),
    /// Reading or writing the kernel's interface failed.
    #[error("{what}: {error}")]
    Io {
        what: String,
        #[source]
        error: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TeeError {
    let what = what.into();
    move |error| TeeError::Io { what, error }
}

/// What `obtain` needs besides the binding.
#[derive(Debug, Clone)]
pub struct Options {
    /// The configfs-tsm report directory (tests point it elsewhere).
    pub tsm_root: PathBuf,
    /// Intel collateral for a TDX or SGX quote (JSON).
    pub intel_collateral: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tsm_root: PathBuf::from(TSM_REPORT_ROOT),
            intel_collateral: None,
        }
    }
}

/// Reads a recorded evidence file.
pub fn read_evidence(path: &Path) -> Result<Evidence, TeeError> {
    let bytes = std::fs::read(path).map_err(io(format!("reading {}", path.display())))?;
    borsh::from_slice(&bytes).map_err(|error| {
        TeeError::Incomplete(format!(
            "{} is not an evidence file: {error}",
            path.display()
        ))
    })
}

/// Evidence of this machine bound to `binding`: the GPUs' reports first (the CPU report data
/// commits to them), then the CPU's.
pub fn obtain(binding: &Binding, options: &Options) -> Result<Evidence, TeeError> {
    if !options.tsm_root.is_dir() {
        return Err(TeeError::Absent(format!(
            "{} is not there (no TDX or SEV-SNP guest, or a kernel before 6.7; SGX enclaves are \
             not something this daemon runs in)",
            options.tsm_root.display()
        )));
    }
    let gpus = gpu_evidence(&binding.gpu_nonce());
    let report_data = binding.cpu_report_data(&vcity_attest::gpus_hash(&gpus));
    let report = tsm_report(&options.tsm_root, &report_data)?;
    let cpu = match report.provider.as_str() {
        "tdx_guest" => {
            let path = options.intel_collateral.as_ref().ok_or_else(|| {
                TeeError::Incomplete(
                    "a TDX quote was obtained, but Intel's collateral is needed to verify it: \
                     give it with --tee-collateral (QuoteCollateralV3 JSON from a PCCS)"
                        .into(),
                )
            })?;
            let collateral_json =
                std::fs::read(path).map_err(io(format!("reading {}", path.display())))?;
            CpuEvidence::IntelDcap {
                quote: report.outblob,
                collateral_json,
            }
        }
        "sev_guest" => {
            let vcek_der = vcek_from_cert_table(&report.auxblob).ok_or_else(|| {
                TeeError::Incomplete(
                    "the SEV-SNP report came without the host's VCEK (auxblob): the host must \
                     provide its certificate table (SNP_SET_EXT_CONFIG)"
                        .into(),
                )
            })?;
            CpuEvidence::AmdSnp {
                report: report.outblob,
                vcek_der,
            }
        }
        other => {
            return Err(TeeError::Incomplete(format!(
                "configfs-tsm provider {other:?} is not one this node can present"
            )))
        }
    };
    Ok(Evidence { cpu, gpus })
}

/// One configfs-tsm report.
#[derive(Debug)]
struct TsmReport {
    provider: String,
    outblob: Vec<u8>,
    auxblob: Vec<u8>,
}

fn tsm_report(root: &Path, report_data: &[u8; 64]) -> Result<TsmReport, TeeError> {
    let dir = root.join(format!("vcity-{}", std::process::id()));
    std::fs::create_dir(&dir).map_err(io(format!("creating {}", dir.display())))?;
    let result = (|| {
        let read_generation = || {
            std::fs::read_to_string(dir.join("generation"))
                .map_err(io("reading the report's generation"))
        };
        std::fs::write(dir.join("inblob"), report_data).map_err(io("writing inblob"))?;
        let generation = read_generation()?;
        let outblob = std::fs::read(dir.join("outblob")).map_err(io("reading outblob"))?;
        // SEV-SNP's certificate table; TDX has none.
        let auxblob = std::fs::read(dir.join("auxblob")).unwrap_or_default();
        let provider = std::fs::read_to_string(dir.join("provider"))
            .map_err(io("reading provider"))?
            .trim()
            .to_string();
        if read_generation()? != generation {
            return Err(TeeError::Incomplete(
                "another process wrote this report's inblob meanwhile; try again".into(),
            ));
        }
        Ok(TsmReport {
            provider,
            outblob,
            auxblob,
        })
    })();
    // configfs removes the directory's attribute files with it.
    let _ = std::fs::remove_dir(&dir);
    result
}

/// The VCEK in an SNP certificate table: entries of (GUID, offset u32, length u32), ended by an
/// all-zero GUID; offsets count from the table's start.
pub fn vcek_from_cert_table(table: &[u8]) -> Option<Vec<u8>> {
    let mut at = 0usize;
    loop {
        let entry = table.get(at..at.checked_add(24)?)?;
        let guid = entry.get(..16)?;
        if guid.iter().all(|byte| *byte == 0) {
            return None;
        }
        let word = |from: usize| -> Option<usize> {
            let bytes: [u8; 4] = entry.get(from..from + 4)?.try_into().ok()?;
            usize::try_from(u32::from_le_bytes(bytes)).ok()
        };
        let (offset, length) = (word(16)?, word(20)?);
        if guid == VCEK_GUID {
            return table
                .get(offset..offset.checked_add(length)?)
                .map(<[u8]>::to_vec);
        }
        at = at.checked_add(24)?;
    }
}

/// Each GPU in confidential-computing mode: its SPDM report for `nonce` and its certificate
/// chain, through NVML. None without NVML or with CC off.
fn gpu_evidence(nonce: &[u8; 32]) -> Vec<GpuEvidence> {
    let Ok(nvml) = nvml_wrapper::Nvml::init() else {
        return Vec::new();
    };
    let count = nvml.device_count().unwrap_or(0);
    let mut gpus = Vec::new();
    for index in 0..count {
        let Ok(device) = nvml.device_by_index(index) else {
            continue;
        };
        // Confidential computing on, production mode, accepting work: otherwise the GPU is
        // not presented (the node stays at the CPU tier).
        if !device.check_confidential_compute_status().unwrap_or(false) {
            tracing::info!(
                gpu = index,
                "GPU not in confidential-computing mode: no GPU evidence"
            );
            continue;
        }
        let report = device.confidential_compute_gpu_attestation_report(*nonce);
        let certificate = device.confidential_compute_gpu_certificate();
        match (report, certificate) {
            (Ok(report), Ok(certificate)) => {
                let size = usize::try_from(report.attestation_report_size).unwrap_or(0);
                let chain_size =
                    usize::try_from(certificate.attestation_cert_chain_size).unwrap_or(0);
                let chain_pem = String::from_utf8_lossy(
                    certificate
                        .attestation_cert_chain
                        .get(..chain_size)
                        .unwrap_or_default(),
                )
                .into_owned();
                match pem_chain_to_der(&chain_pem) {
                    Ok(mut chain) => {
                        // NVML's chain may stop below NVIDIA's root, which the verifier pins.
                        if let Ok(root) = pem_chain_to_der(vcity_attest::NVIDIA_DEVICE_ROOT_PEM) {
                            if chain.last() != root.first() {
                                chain.extend(root);
                            }
                        }
                        gpus.push(GpuEvidence {
                            report: report
                                .attestation_report
                                .get(..size)
                                .unwrap_or_default()
                                .to_vec(),
                            cert_chain_der: chain,
                        });
                    }
                    Err(error) => tracing::warn!(gpu = index, %error, "GPU certificate chain"),
                }
            }
            (report, certificate) => tracing::warn!(
                gpu = index,
                report = ?report.err(),
                certificate = ?certificate.err(),
                "GPU attestation report unavailable"
            ),
        }
    }
    gpus
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_configfs_tsm_there_is_no_tee() {
        let options = Options {
            tsm_root: PathBuf::from("/nonexistent/tsm/report"),
            intel_collateral: None,
        };
        let binding = Binding {
            node_key: [1; 32],
            nonce: [2; 32],
            encryption_key: [3; 32],
        };
        assert!(matches!(
            obtain(&binding, &options),
            Err(TeeError::Absent(_))
        ));
    }

    #[test]
    fn the_vcek_is_found_in_a_certificate_table() {
        // Two entries (ARK, then VCEK), the terminator, then the certificates.
        let ark_guid = [0xc0u8; 16];
        let mut table = Vec::new();
        let header = 3 * 24;
        for (guid, offset, length) in [(ark_guid, header, 3u32), (VCEK_GUID, header + 3, 4)] {
            table.extend_from_slice(&guid);
            table.extend_from_slice(&(offset as u32).to_le_bytes());
            table.extend_from_slice(&length.to_le_bytes());
        }
        table.extend_from_slice(&[0; 24]);
        table.extend_from_slice(b"arkvcek");
        assert_eq!(vcek_from_cert_table(&table), Some(b"vcek".to_vec()));
        assert_eq!(vcek_from_cert_table(&table[..24]), None, "truncated");
        assert_eq!(vcek_from_cert_table(&[0; 24]), None, "empty");
    }

    #[test]
    fn sources_parse() {
        assert_eq!(Source::parse("auto"), Source::Auto);
        assert_eq!(Source::parse("off"), Source::Off);
        assert_eq!(
            Source::parse("/tmp/evidence.bin"),
            Source::File(PathBuf::from("/tmp/evidence.bin"))
        );
    }
}
