//! Intel TDX and SGX: dcap-qvl's recorded quotes with their collateral, at 2025-07-01.

use super::samples::*;
use vcity_attest::{verify, AttestError, CpuEvidence, CpuTee, Expected, TeeTier};

const TDX: (&str, &str) = ("intel/tdx_quote", "intel/tdx_quote_collateral.json");
const SGX: (&str, &str) = ("intel/sgx_quote", "intel/sgx_quote_collateral.json");

fn check(cpu: CpuEvidence, now_s: u64) -> Result<vcity_attest::Appraisal, AttestError> {
    verify(
        &evidence(cpu, vec![]),
        &sample_policy(),
        now_s,
        Expected::Unbound,
    )
}

fn quote_flipped(sample: (&str, &str), offset: usize) -> CpuEvidence {
    CpuEvidence::IntelDcap {
        quote: flipped(&data(sample.0), offset),
        collateral_json: data(sample.1),
    }
}

#[test]
fn the_tdx_sample_verifies_up_to_date_with_its_mrtd() {
    let appraisal = check(intel(TDX.0, TDX.1), JULY_2025_S).expect("verifies");
    assert_eq!(appraisal.tier, TeeTier::Cpu);
    assert_eq!(appraisal.cpu.tee, CpuTee::IntelTdx);
    assert_eq!(appraisal.cpu.tcb_status, "UpToDate");
    assert_eq!(hex::encode(&appraisal.cpu.measurement), TDX_MRTD);
    assert_eq!(appraisal.cpu.report_data.len(), 64);
    assert!(!appraisal.bound);
    // The PCK CRL and TCB info of the recorded collateral are next updated on 2025-07-19.
    assert!(appraisal.expires_at_s > JULY_2025_S && appraisal.expires_at_s <= 1_752_950_000);
}

#[test]
fn the_sgx_sample_verifies_with_its_status_and_advisories() {
    let appraisal = check(intel(SGX.0, SGX.1), JULY_2025_S).expect("verifies");
    assert_eq!(appraisal.cpu.tee, CpuTee::IntelSgx);
    assert_eq!(
        appraisal.cpu.tcb_status,
        "ConfigurationAndSWHardeningNeeded"
    );
    assert_eq!(
        appraisal.cpu.advisory_ids,
        ["INTEL-SA-00289", "INTEL-SA-00615"]
    );
    assert_eq!(hex::encode(&appraisal.cpu.measurement), SGX_MRENCLAVE);
}

#[test]
fn tampered_quotes_fail() {
    // Offsets in a quote: a 48-byte header, then the TD report (MRTD at 136, report data at
    // 520) or the enclave report (MRENCLAVE at 64, report data at 320), then the signature.
    let cases = [
        ("TDX MRTD", TDX, 48 + 136),
        ("TDX report data", TDX, 48 + 520),
        ("TDX quote signature", TDX, 48 + 584 + 4 + 10),
        ("SGX MRENCLAVE", SGX, 48 + 64),
        ("SGX report data", SGX, 48 + 320),
        ("SGX quote signature", SGX, 48 + 384 + 4 + 10),
    ];
    for (what, sample, offset) in cases {
        let error = check(quote_flipped(sample, offset), JULY_2025_S).expect_err(what);
        assert!(
            matches!(error, AttestError::Signature(_)),
            "{what}: {error}"
        );
    }
}

#[test]
fn collateral_outside_its_window_fails() {
    // A day after the PCK CRL's next update, and a day before the collateral was issued.
    for now_s in [1_752_922_571 + 86_400, 1_750_330_571 - 86_400] {
        let error = check(intel(TDX.0, TDX.1), now_s).expect_err("outside the window");
        assert!(
            matches!(
                error,
                AttestError::Expired { .. } | AttestError::Signature(_)
            ),
            "{error}"
        );
    }
    // Tampering with the collateral breaks Intel's signature over it.
    let collateral = String::from_utf8(data(TDX.1)).expect("utf-8");
    let tampered = collateral.replacen(
        "\\\"tcbEvaluationDataNumber\\\":",
        "\\\"tcbEvaluationDataNumber\\\": ",
        1,
    );
    assert_ne!(tampered, collateral);
    let error = check(
        CpuEvidence::IntelDcap {
            quote: data(TDX.0),
            collateral_json: tampered.into_bytes(),
        },
        JULY_2025_S,
    )
    .expect_err("tampered collateral");
    assert!(matches!(error, AttestError::Signature(_)), "{error}");
}

/// Why `policy` refuses `sample`'s quote.
fn refusal(sample: (&str, &str), policy: &vcity_attest::Policy) -> AttestError {
    verify(
        &evidence(intel(sample.0, sample.1), vec![]),
        policy,
        JULY_2025_S,
        Expected::Unbound,
    )
    .expect_err("refused")
}

#[test]
fn the_tcb_policy_refuses_what_it_does_not_accept() {
    // Only UpToDate: the SGX sample's ConfigurationAndSWHardeningNeeded is refused.
    let mut policy = sample_policy();
    policy.intel_tcb_statuses = vec!["UpToDate".into()];
    let error = refusal(SGX, &policy);
    assert!(matches!(error, AttestError::Tcb(_)), "{error}");
    // A rejected advisory refuses it whatever the status.
    let mut policy = sample_policy();
    policy.intel_rejected_advisories = vec!["INTEL-SA-00615".into()];
    let error = refusal(SGX, &policy);
    assert!(matches!(error, AttestError::Tcb(_)), "{error}");
    // An unregistered MRTD.
    let mut policy = sample_policy();
    policy.tdx_mrtd = vec!["00".repeat(48)];
    let error = refusal(TDX, &policy);
    assert!(matches!(error, AttestError::Measurement(_)), "{error}");
}

#[test]
fn a_platform_below_every_tcb_level_intel_lists_is_refused() {
    // The outdated sample's platform TCB matches no level in its (Intel-signed) TCB info.
    let error = check(
        intel(
            "intel/tdx_quote_outdated",
            "intel/tdx_quote_outdated_collateral.json",
        ),
        1_772_323_200,
    )
    .expect_err("no matching level");
    assert!(error.to_string().contains("TCB"), "{error}");
}
