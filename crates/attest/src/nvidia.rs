//! NVIDIA confidential-computing GPUs (Hopper): the GPU's attestation key signs an SPDM 1.1
//! `GET_MEASUREMENTS` transcript (the requester's message, carrying our nonce, followed by the
//! response with its measurement blocks and opaque data) with ECDSA P-384 / SHA-384. The key's
//! certificate chains through the GPU's boot ROM and NVIDIA's provisioning CAs to the NVIDIA
//! Device Identity CA, pinned here. We check the chain, the signature, that the firmware ID in
//! the report matches the one the leaf certificate was issued for, the driver and VBIOS
//! versions, and each measurement block that the policy gives a reference value for.
//!
//! Not done here (docs/attestation.md): NVIDIA's reference integrity manifests (RIMs, signed
//! XML) and OCSP for the chain. Reference values are registered by governance instead, produced
//! off-chain from the RIMs with NVIDIA's own tools.

use std::collections::BTreeMap;

use p384::ecdsa::signature::Verifier;
use p384::ecdsa::Signature;
use serde::{Deserialize, Serialize};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::DecodePem;
use x509_cert::Certificate;

use crate::{registered, x509, AttestError, GpuEvidence, Policy};

/// NVIDIA's device identity root (from NVIDIA's nv-local-gpu-verifier 2.7.3, BSD-3-Clause;
/// crates/attest/roots/README.md).
pub const NVIDIA_DEVICE_ROOT_PEM: &str = include_str!("../roots/nvidia_device_root.pem");

const REQUEST_BYTES: usize = 37;
const SIGNATURE_BYTES: usize = 96;
const GET_MEASUREMENTS: u8 = 0xE0;
const MEASUREMENTS: u8 = 0x60;
const DMTF_SPECIFICATION: u8 = 1;
const MAX_CHAIN_CERTIFICATES: usize = 8;
/// TCG DICE FWID extension; Hopper puts the firmware ID in its last 48 bytes.
const TCG_DICE_FWID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.5.4.1");
const HOPPER_FWID_BYTES: usize = 48;

const OPAQUE_DRIVER_VERSION: u16 = 3;
const OPAQUE_VBIOS_VERSION: u16 = 6;
const OPAQUE_FWID: u16 = 20;

/// What a GPU report says, once its chain and signature checked out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuClaims {
    /// The requester's nonce the report answers.
    pub nonce: vcity_types::Hash,
    pub driver_version: String,
    pub vbios_version: String,
    pub fwid: String,
    /// Measurement blocks by index, hex.
    pub measurements: BTreeMap<u8, String>,
}

/// The parts of an SPDM measurement transcript we use.
#[derive(Debug)]
struct Transcript<'a> {
    nonce: [u8; 32],
    blocks: BTreeMap<u8, Vec<u8>>,
    opaque: BTreeMap<u16, &'a [u8]>,
    signed: &'a [u8],
    signature: &'a [u8],
}

fn malformed(what: impl Into<String>) -> AttestError {
    AttestError::Malformed(format!("GPU report: {}", what.into()))
}

/// A little cursor that refuses to read past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize, what: &str) -> Result<&'a [u8], AttestError> {
        let end = self
            .at
            .checked_add(count)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| malformed(format!("truncated at {what}")))?;
        let slice = self
            .bytes
            .get(self.at..end)
            .ok_or_else(|| malformed(what))?;
        self.at = end;
        Ok(slice)
    }

    fn u8(&mut self, what: &str) -> Result<u8, AttestError> {
        Ok(self.take(1, what)?.first().copied().unwrap_or_default())
    }

    fn u16(&mut self, what: &str) -> Result<u16, AttestError> {
        let bytes = self.take(2, what)?;
        Ok(u16::from_le_bytes([
            bytes.first().copied().unwrap_or_default(),
            bytes.get(1).copied().unwrap_or_default(),
        ]))
    }

    fn u24(&mut self, what: &str) -> Result<usize, AttestError> {
        let bytes = self.take(3, what)?;
        Ok(usize::from(bytes.first().copied().unwrap_or_default())
            | usize::from(bytes.get(1).copied().unwrap_or_default()) << 8
            | usize::from(bytes.get(2).copied().unwrap_or_default()) << 16)
    }

    fn done(&self) -> bool {
        self.at == self.bytes.len()
    }
}

fn parse(report: &[u8]) -> Result<Transcript<'_>, AttestError> {
    let mut reader = Reader {
        bytes: report,
        at: 0,
    };
    // The request: version, GET_MEASUREMENTS, two parameters, the requester's nonce, slot.
    let request = reader.take(REQUEST_BYTES, "request")?;
    if request.get(1) != Some(&GET_MEASUREMENTS) {
        return Err(malformed("the first message is not GET_MEASUREMENTS"));
    }
    let mut nonce = [0u8; 32];
    nonce.copy_from_slice(
        request
            .get(4..36)
            .ok_or_else(|| malformed("request nonce"))?,
    );

    let _version = reader.u8("response version")?;
    if reader.u8("response code")? != MEASUREMENTS {
        return Err(malformed("the second message is not MEASUREMENTS"));
    }
    let _param1 = reader.u8("param1")?;
    let _param2 = reader.u8("param2")?;
    let block_count = reader.u8("number of blocks")?;
    let record_bytes = reader.u24("record length")?;
    let record = reader.take(record_bytes, "measurement record")?;
    let _responder_nonce = reader.take(32, "responder nonce")?;
    let opaque_bytes = reader.u16("opaque length")?;
    let opaque_data = reader.take(usize::from(opaque_bytes), "opaque data")?;
    let signed_end = reader.at;
    let signature = reader.take(SIGNATURE_BYTES, "signature")?;
    if !reader.done() {
        return Err(malformed("bytes after the signature"));
    }

    let mut blocks = BTreeMap::new();
    let mut record_reader = Reader {
        bytes: record,
        at: 0,
    };
    for _ in 0..block_count {
        let index = record_reader.u8("block index")?;
        if record_reader.u8("measurement specification")? != DMTF_SPECIFICATION {
            return Err(malformed(format!(
                "block {index} is not a DMTF measurement"
            )));
        }
        let size = record_reader.u16("block size")?;
        let mut block = Reader {
            bytes: record_reader.take(usize::from(size), "block")?,
            at: 0,
        };
        let _value_type = block.u8("value type")?;
        let value_size = block.u16("value size")?;
        let value = block.take(usize::from(value_size), "value")?;
        if !block.done() {
            return Err(malformed(format!("block {index} has trailing bytes")));
        }
        if blocks.insert(index, value.to_vec()).is_some() {
            return Err(malformed(format!("block {index} appears twice")));
        }
    }
    if !record_reader.done() {
        return Err(malformed("measurement record has trailing bytes"));
    }

    let mut opaque = BTreeMap::new();
    let mut opaque_reader = Reader {
        bytes: opaque_data,
        at: 0,
    };
    while !opaque_reader.done() {
        let kind = opaque_reader.u16("opaque type")?;
        let size = opaque_reader.u16("opaque size")?;
        let data = opaque_reader.take(usize::from(size), "opaque field")?;
        if opaque.insert(kind, data).is_some() {
            return Err(malformed(format!("opaque field {kind} appears twice")));
        }
    }

    Ok(Transcript {
        nonce,
        blocks,
        opaque,
        signed: report.get(..signed_end).unwrap_or_default(),
        signature,
    })
}

/// NVIDIA prints the VBIOS version from its little-endian bytes as five dotted pairs
/// (nv-local-gpu-verifier's `format_vbios_version`): the upper half, then the byte below it.
fn vbios_version(bytes: &[u8]) -> String {
    let little_endian: String = bytes
        .iter()
        .rev()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let half = little_endian.len() / 2;
    let low = half.saturating_sub(2);
    let digits = format!(
        "{}{}",
        little_endian.get(half..).unwrap_or_default(),
        little_endian.get(low..half).unwrap_or_default()
    );
    digits
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(".")
}

fn text(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .position(|byte| *byte == 0)
        .unwrap_or(bytes.len());
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned()
}

/// Parses a PEM certificate chain (as `nvidia-smi conf-compute` and NVML give it) into DER.
pub fn pem_chain_to_der(pem: &str) -> Result<Vec<Vec<u8>>, AttestError> {
    use x509_cert::der::Encode;
    let certificates = Certificate::load_pem_chain(pem.as_bytes())
        .map_err(|error| malformed(format!("certificate chain: {error}")))?;
    certificates
        .iter()
        .map(|certificate| {
            certificate
                .to_der()
                .map_err(|error| malformed(format!("certificate chain: {error}")))
        })
        .collect()
}

pub(crate) fn verify(
    evidence: &GpuEvidence,
    policy: &Policy,
    now_s: u64,
) -> Result<(GpuClaims, u64), AttestError> {
    let chain = &evidence.cert_chain_der;
    if chain.len() < 2 || chain.len() > MAX_CHAIN_CERTIFICATES {
        return Err(malformed(format!(
            "certificate chain of {} certificates",
            chain.len()
        )));
    }
    let root = Certificate::from_pem(NVIDIA_DEVICE_ROOT_PEM)
        .map_err(|error| malformed(format!("pinned root: {error}")))?;
    let certificates = chain
        .iter()
        .enumerate()
        .map(|(position, der)| x509::parse(der, &format!("GPU chain [{position}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let last = certificates
        .last()
        .ok_or_else(|| malformed("empty chain"))?;
    if last != &root {
        return Err(AttestError::Signature(
            "GPU chain does not end at NVIDIA's device identity root".into(),
        ));
    }
    let mut expires_at_s = u64::MAX;
    for (position, certificate) in certificates.iter().enumerate() {
        let what = format!("GPU chain [{position}]");
        expires_at_s = expires_at_s.min(x509::check_validity(certificate, now_s, &what)?);
        let issuer = certificates.get(position + 1).unwrap_or(&root);
        x509::check_issued_by(certificate, issuer, &what)?;
    }
    let leaf = certificates
        .first()
        .ok_or_else(|| malformed("empty chain"))?;

    let transcript = parse(&evidence.report)?;
    let key = x509::p384_key(leaf, "GPU attestation key")?;
    let signature = Signature::from_slice(transcript.signature)
        .map_err(|_| AttestError::Signature("GPU report: malformed signature".into()))?;
    key.verify(transcript.signed, &signature)
        .map_err(|_| AttestError::Signature("GPU report signature does not verify".into()))?;

    // The firmware the report describes is the firmware the key was certified for.
    let certified_fwid = x509::extension(leaf, &TCG_DICE_FWID)
        .and_then(|value| {
            value
                .len()
                .checked_sub(HOPPER_FWID_BYTES)
                .map(|at| &value[at..])
        })
        .ok_or_else(|| malformed("the attestation certificate has no FWID"))?;
    let reported_fwid = transcript
        .opaque
        .get(&OPAQUE_FWID)
        .copied()
        .unwrap_or_default();
    if reported_fwid != certified_fwid {
        return Err(AttestError::Signature(format!(
            "GPU report FWID {} differs from its certificate's {}",
            hex::encode(reported_fwid),
            hex::encode(certified_fwid)
        )));
    }

    let driver_version = text(
        transcript
            .opaque
            .get(&OPAQUE_DRIVER_VERSION)
            .copied()
            .unwrap_or_default(),
    );
    let vbios_version = vbios_version(
        transcript
            .opaque
            .get(&OPAQUE_VBIOS_VERSION)
            .copied()
            .unwrap_or_default(),
    );
    if !policy.gpu_driver_versions.contains(&driver_version) {
        return Err(AttestError::Measurement(format!(
            "GPU driver {driver_version} is not registered"
        )));
    }
    if !policy
        .gpu_vbios_versions
        .iter()
        .any(|accepted| accepted.eq_ignore_ascii_case(&vbios_version))
    {
        return Err(AttestError::Measurement(format!(
            "GPU VBIOS {vbios_version} is not registered"
        )));
    }
    for reference in &policy.gpu_measurements {
        let value = transcript.blocks.get(&reference.index).ok_or_else(|| {
            AttestError::Measurement(format!("GPU measurement {} is missing", reference.index))
        })?;
        if !registered(&reference.values, value) {
            return Err(AttestError::Measurement(format!(
                "GPU measurement {} = {} matches no reference value",
                reference.index,
                hex::encode(value)
            )));
        }
    }

    Ok((
        GpuClaims {
            nonce: vcity_types::Hash(transcript.nonce),
            driver_version,
            vbios_version,
            fwid: hex::encode(reported_fwid),
            measurements: transcript
                .blocks
                .iter()
                .map(|(index, value)| (*index, hex::encode(value)))
                .collect(),
        },
        expires_at_s,
    ))
}
