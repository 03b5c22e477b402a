//! AMD SEV-SNP: the guest's attestation report is signed by the chip's VCEK, whose certificate
//! AMD's ASK signed, which AMD's ARK signed (both compiled into `sev`, one pair per product:
//! Milan, Genoa, Turin). The VCEK is specific to the chip and to the TCB it was issued for, so
//! beyond the signatures (`sev`) we check what `sev` leaves to its callers: the VCEK is valid
//! at `now`, its TCB extensions equal the report's reported TCB and its hardware ID the report's
//! chip ID, the report re-encodes to the same bytes (nothing outside the parsed fields), debug
//! is off, the reported TCB is at least the policy's minimum and the launch measurement is
//! registered.

use sev::certs::snp::{builtin, ca, Certificate as SevCertificate, Chain, Verifiable};
use sev::firmware::guest::AttestationReport;
use sev::parser::ByteParser;
use x509_cert::der::asn1::{ObjectIdentifier, OctetString};
use x509_cert::der::Decode;

use crate::{registered, x509, AttestError, CpuClaims, CpuTee, Policy, SnpTcb};

const BOOTLOADER_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.1");
const TEE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.2");
const SNP_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.3");
const MICROCODE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.8");
const HARDWARE_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.4");

/// One of `sev`'s compiled-in AMD certificates.
type CertificateSource = fn() -> std::io::Result<SevCertificate>;

fn spl(vcek: &x509_cert::Certificate, id: &ObjectIdentifier) -> Result<u8, AttestError> {
    x509::extension(vcek, id)
        .and_then(|value| u8::from_der(value).ok())
        .ok_or_else(|| AttestError::Malformed(format!("VCEK has no TCB extension {id}")))
}

pub(crate) fn verify(
    report_bytes: &[u8],
    vcek_der: &[u8],
    policy: &Policy,
    now_s: u64,
) -> Result<(CpuClaims, u64), AttestError> {
    let report = AttestationReport::from_bytes(report_bytes)
        .map_err(|error| AttestError::Malformed(format!("SNP report: {error}")))?;
    let canonical = report
        .to_bytes()
        .map_err(|error| AttestError::Malformed(format!("SNP report: {error}")))?;
    if canonical.as_slice() != report_bytes {
        return Err(AttestError::Malformed(
            "SNP report does not re-encode to the same bytes".into(),
        ));
    }

    let vcek_x509 = x509::parse(vcek_der, "VCEK")?;
    let vcek_expiry_s = x509::check_validity(&vcek_x509, now_s, "VCEK")?;
    let vcek = SevCertificate::from_der(vcek_der)
        .map_err(|error| AttestError::Malformed(format!("VCEK: {error}")))?;

    // The report does not always name its product, so try each one's ARK and ASK: only the
    // product whose ASK signed this VCEK can verify the chain.
    let products: [(&str, CertificateSource, CertificateSource); 3] = [
        ("Milan", builtin::milan::ark, builtin::milan::ask),
        ("Genoa", builtin::genoa::ark, builtin::genoa::ask),
        ("Turin", builtin::turin::ark, builtin::turin::ask),
    ];
    let mut verified = false;
    for (_name, ark, ask) in products {
        let (Ok(ark), Ok(ask)) = (ark(), ask()) else {
            continue;
        };
        let chain = Chain {
            ca: ca::Chain { ark, ask },
            vek: vcek.clone(),
        };
        if (&chain).verify().is_ok() {
            (&chain, &report).verify().map_err(|error| {
                AttestError::Signature(format!("SNP report signature: {error}"))
            })?;
            verified = true;
            break;
        }
    }
    if !verified {
        return Err(AttestError::Signature(
            "VCEK is not signed by AMD's Milan, Genoa or Turin ASK".into(),
        ));
    }

    let reported = SnpTcb {
        bootloader: report.reported_tcb.bootloader,
        tee: report.reported_tcb.tee,
        snp: report.reported_tcb.snp,
        microcode: report.reported_tcb.microcode,
    };
    let certified = SnpTcb {
        bootloader: spl(&vcek_x509, &BOOTLOADER_SPL)?,
        tee: spl(&vcek_x509, &TEE_SPL)?,
        snp: spl(&vcek_x509, &SNP_SPL)?,
        microcode: spl(&vcek_x509, &MICROCODE_SPL)?,
    };
    if reported != certified {
        return Err(AttestError::Signature(format!(
            "SNP reported TCB ({reported}) is not the TCB its VCEK was issued for ({certified})"
        )));
    }
    // A report may mask its chip ID (all zeroes); otherwise it must be the VCEK's chip.
    if report.chip_id.iter().any(|byte| *byte != 0) {
        let hardware_id = x509::extension(&vcek_x509, &HARDWARE_ID)
            .map(|value| {
                OctetString::from_der(value)
                    .map(|octets| octets.as_bytes().to_vec())
                    .unwrap_or_else(|_| value.to_vec())
            })
            .ok_or_else(|| AttestError::Malformed("VCEK has no hardware ID".into()))?;
        if hardware_id.as_slice() != report.chip_id.as_slice() {
            return Err(AttestError::Signature(
                "SNP report's chip ID is not the VCEK's hardware ID".into(),
            ));
        }
    }
    if report.policy.debug_allowed() {
        return Err(AttestError::Debug);
    }
    if !reported.at_least(&policy.snp_minimum_tcb) {
        return Err(AttestError::Tcb(format!(
            "SNP reported TCB ({reported}) is below the minimum ({})",
            policy.snp_minimum_tcb
        )));
    }
    let measurement = report.measurement.to_vec();
    if !registered(&policy.snp_measurements, &measurement) {
        return Err(AttestError::Measurement(format!(
            "SNP measurement {} is not registered",
            hex::encode(&measurement)
        )));
    }
    Ok((
        CpuClaims {
            tee: CpuTee::AmdSevSnp,
            measurement,
            report_data: report.report_data.to_vec(),
            tcb_status: reported.to_string(),
            advisory_ids: Vec::new(),
        },
        vcek_expiry_s,
    ))
}
