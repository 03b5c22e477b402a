//! AMD SEV-SNP: virtee/sev's recorded Milan report and VCEK.

use super::samples::*;
use vcity_attest::{verify, AttestError, CpuEvidence, CpuTee, Expected, SnpTcb};

fn check(
    cpu: CpuEvidence,
    policy: &vcity_attest::Policy,
    now_s: u64,
) -> Result<vcity_attest::Appraisal, AttestError> {
    verify(&evidence(cpu, vec![]), policy, now_s, Expected::Unbound)
}

#[test]
fn the_milan_sample_verifies_with_its_measurement() {
    let appraisal = check(amd(), &sample_policy(), JULY_2025_S).expect("verifies");
    assert_eq!(appraisal.cpu.tee, CpuTee::AmdSevSnp);
    assert_eq!(hex::encode(&appraisal.cpu.measurement), SNP_MEASUREMENT);
    // The VCEK is valid until 2030-04-03T19:23:43Z.
    assert_eq!(appraisal.expires_at_s, 1_901_474_623);
}

#[test]
fn tampered_reports_and_certificates_fail() {
    let CpuEvidence::AmdSnp { report, vcek_der } = amd() else {
        unreachable!()
    };
    // Offsets in the report: report data at 0x50, measurement at 0x90, signature at 0x2a0.
    for (what, offset) in [
        ("report data", 0x50),
        ("measurement", 0x90),
        ("signature", 0x2a0 + 8),
    ] {
        let tampered = CpuEvidence::AmdSnp {
            report: flipped(&report, offset),
            vcek_der: vcek_der.clone(),
        };
        let error = check(tampered, &sample_policy(), JULY_2025_S).expect_err(what);
        assert!(
            matches!(error, AttestError::Signature(_) | AttestError::Malformed(_)),
            "{what}: {error}"
        );
    }
    let tampered = CpuEvidence::AmdSnp {
        report: report.clone(),
        vcek_der: flipped(&vcek_der, 40),
    };
    assert!(check(tampered, &sample_policy(), JULY_2025_S).is_err());
    // After the VCEK's expiry.
    let error = check(amd(), &sample_policy(), 1_901_474_623 + 1).expect_err("refused");
    assert!(matches!(error, AttestError::Expired { .. }), "{error}");
}

#[test]
fn a_reported_tcb_below_the_minimum_is_refused() {
    let mut policy = sample_policy();
    policy.snp_minimum_tcb = SnpTcb {
        snp: 255,
        ..SnpTcb::default()
    };
    let error = check(amd(), &policy, JULY_2025_S).expect_err("refused");
    assert!(matches!(error, AttestError::Tcb(_)), "{error}");
    let mut policy = sample_policy();
    policy.snp_measurements = vec!["01".repeat(48)];
    let error = check(amd(), &policy, JULY_2025_S).expect_err("refused");
    assert!(matches!(error, AttestError::Measurement(_)), "{error}");
}
