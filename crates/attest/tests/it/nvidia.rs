//! NVIDIA Hopper: nv-local-gpu-verifier's sample report and certificate chain. The expected
//! values are those trustee's verifier reads from the same report
//! (deps/verifier/test_data/nvidia/hopperAttestationReport-claims.txt).

use super::samples::*;
use vcity_attest::{verify, AttestError, Expected, GpuReference, TeeTier};

pub const DRIVER: &str = "550.90.07";
pub const VBIOS: &str = "96.00.9f.00.01";
const FWID: &str = "f5c384aebb579217a2c66b17ed0f28e6a9b8d639041acd7b4721cec004f7275494ba94bb5cdfdb3055ee051762b1f75d";
const BLOCK_2: &str = "8048dfd18fe229bf16eb9d30cca0f11a24dafe6eb731de1462984645a0b189b77c4e4e17de727a5e19e3d07de51da338";

fn with_gpu(gpu: vcity_attest::GpuEvidence) -> vcity_attest::Evidence {
    evidence(
        intel("intel/tdx_quote", "intel/tdx_quote_collateral.json"),
        vec![gpu],
    )
}

#[test]
fn the_hopper_sample_verifies_and_reads_as_nvidia_and_trustee_read_it() {
    let appraisal = verify(
        &with_gpu(hopper()),
        &sample_policy(),
        JULY_2025_S,
        Expected::Unbound,
    )
    .expect("the sample verifies");
    assert_eq!(appraisal.tier, TeeTier::CpuGpu);
    let gpu = &appraisal.gpus[0];
    assert_eq!(gpu.driver_version, DRIVER);
    assert_eq!(gpu.vbios_version, VBIOS);
    assert_eq!(gpu.fwid, FWID);
    assert_eq!(gpu.measurements.len(), 64);
    assert_eq!(gpu.measurements[&2], BLOCK_2);
    assert_eq!(gpu.measurements[&1], "0".repeat(96));
    assert_eq!(
        gpu.nonce.to_hex(),
        "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb"
    );
}

#[test]
fn registered_reference_values_are_compared_block_by_block() {
    let mut policy = sample_policy();
    policy.gpu_measurements = vec![GpuReference {
        index: 2,
        values: vec!["00".repeat(48), BLOCK_2.into()],
    }];
    verify(&with_gpu(hopper()), &policy, JULY_2025_S, Expected::Unbound).expect("matches");
    policy.gpu_measurements[0].values.pop();
    let error =
        verify(&with_gpu(hopper()), &policy, JULY_2025_S, Expected::Unbound).expect_err("refused");
    assert!(matches!(error, AttestError::Measurement(_)), "{error}");
}

#[test]
fn unregistered_driver_or_vbios_is_refused() {
    let mut policy = sample_policy();
    policy.gpu_driver_versions = vec!["535.86.10".into()];
    let error =
        verify(&with_gpu(hopper()), &policy, JULY_2025_S, Expected::Unbound).expect_err("refused");
    assert!(matches!(error, AttestError::Measurement(_)), "{error}");
    let mut policy = sample_policy();
    policy.gpu_vbios_versions.clear();
    let error =
        verify(&with_gpu(hopper()), &policy, JULY_2025_S, Expected::Unbound).expect_err("refused");
    assert!(matches!(error, AttestError::Measurement(_)), "{error}");
}

#[test]
fn every_tampered_copy_fails() {
    let good = hopper();
    let length = good.report.len();
    // Byte offsets in the transcript: the nonce sits in the request (bytes 4..36), the first
    // measurement block's value starts after the request (37), the response header (8) and
    // the block and DMTF headers (7); the signature is the last 96 bytes.
    let cases = [
        ("the requester's nonce", 10),
        ("a measurement", 37 + 8 + 7 + 60),
        ("the signature", length - 40),
        ("the driver version in the opaque data", length - 96 - 200),
    ];
    for (what, offset) in cases {
        let mut tampered = good.clone();
        tampered.report = flipped(&good.report, offset);
        let error = verify(
            &with_gpu(tampered),
            &sample_policy(),
            JULY_2025_S,
            Expected::Unbound,
        )
        .expect_err(what);
        assert!(
            matches!(error, AttestError::Signature(_) | AttestError::Malformed(_)),
            "{what}: {error}"
        );
    }

    // A certificate in the chain, changed inside its signed part.
    let mut tampered = good.clone();
    tampered.cert_chain_der[1] = flipped(&good.cert_chain_der[1], 200);
    let error = verify(
        &with_gpu(tampered),
        &sample_policy(),
        JULY_2025_S,
        Expected::Unbound,
    )
    .expect_err("tampered intermediate");
    assert!(
        matches!(error, AttestError::Signature(_) | AttestError::Malformed(_)),
        "{error}"
    );

    // A chain that stops short of NVIDIA's root.
    let mut short = good.clone();
    short.cert_chain_der.pop();
    let error = verify(
        &with_gpu(short),
        &sample_policy(),
        JULY_2025_S,
        Expected::Unbound,
    )
    .expect_err("no root");
    assert!(matches!(error, AttestError::Signature(_)), "{error}");

    // Another GPU's leaf in front of this chain: the signature no longer verifies.
    let mut swapped = good.clone();
    swapped.cert_chain_der.swap(0, 1);
    assert!(verify(
        &with_gpu(swapped),
        &sample_policy(),
        JULY_2025_S,
        Expected::Unbound
    )
    .is_err());

    // Trailing bytes after the signature.
    let mut longer = good;
    longer.report.push(0);
    let error = verify(
        &with_gpu(longer),
        &sample_policy(),
        JULY_2025_S,
        Expected::Unbound,
    )
    .expect_err("trailing byte");
    assert!(matches!(error, AttestError::Malformed(_)), "{error}");
}
