//! Binding: evidence counts for a node only if its report data and GPU nonces come from that
//! node's key and the chain's nonce.

use super::samples::*;
use vcity_attest::{verify, AttestError, Binding, Expected};

#[test]
fn recorded_samples_are_not_bound_to_any_node() {
    let binding = Binding {
        node_key: [7; 32],
        nonce: [9; 32],
        encryption_key: [5; 32],
    };
    for cpu in [
        intel("intel/tdx_quote", "intel/tdx_quote_collateral.json"),
        amd(),
    ] {
        let error = verify(
            &evidence(cpu, vec![]),
            &sample_policy(),
            JULY_2025_S,
            Expected::Bound(binding),
        )
        .expect_err("refused");
        assert!(matches!(error, AttestError::Binding(_)), "{error}");
    }
}

#[test]
fn the_derivations_separate_keys_nonces_and_gpus() {
    let binding = Binding {
        node_key: [7; 32],
        nonce: [9; 32],
        encryption_key: [5; 32],
    };
    let other_key = Binding {
        node_key: [8; 32],
        ..binding
    };
    let other_nonce = Binding {
        nonce: [10; 32],
        ..binding
    };
    let other_encryption_key = Binding {
        encryption_key: [6; 32],
        ..binding
    };
    let gpus = [0u8; 32];
    let data = binding.cpu_report_data(&gpus);
    assert_ne!(data, other_key.cpu_report_data(&gpus));
    assert_ne!(data, other_nonce.cpu_report_data(&gpus));
    assert_ne!(data, other_encryption_key.cpu_report_data(&gpus));
    assert_ne!(data, binding.cpu_report_data(&[1; 32]));
    assert_ne!(binding.gpu_nonce(), other_key.gpu_nonce());
    assert_ne!(binding.gpu_nonce(), other_nonce.gpu_nonce());
    // The GPUs answer the node and the chain; the workload key is bound once, by the CPU.
    assert_eq!(binding.gpu_nonce(), other_encryption_key.gpu_nonce());
    // Fixed vectors: a change of derivation is a protocol change (docs/attestation.md).
    assert_eq!(hex::encode(&data[..8]), "e62c309871c331ff");
    assert_eq!(hex::encode(&binding.gpu_nonce()[..8]), "596e0568b0347ea9");
}
