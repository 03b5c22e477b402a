//! Intel TDX and SGX: a DCAP quote is signed by the quoting enclave's attestation key, which the
//! QE report certifies, which is signed by the platform's PCK certificate, which chains to
//! Intel's SGX root CA. `dcap-qvl` checks that chain, the CRLs, and finds the TCB level of the
//! platform and the QE in Intel's signed TCB info and QE identity. We then apply our policy:
//! the TCB status, the advisories, the freshness of the collateral at `now`, and the
//! measurement (MRTD for a TD, MRENCLAVE for an enclave). Debug TDs and enclaves are refused
//! by `dcap-qvl` itself (`allow_debug` stays false).

use dcap_qvl::quote::Report;
use dcap_qvl::verify::QuoteVerifier;
use dcap_qvl::{QuoteCollateralV3, QuotePolicy, TcbStatus};

use crate::{registered, AttestError, CpuClaims, CpuTee, Policy};

pub(crate) fn verify(
    quote: &[u8],
    collateral_json: &[u8],
    policy: &Policy,
    now_s: u64,
) -> Result<(CpuClaims, u64), AttestError> {
    let collateral: QuoteCollateralV3 = serde_json::from_slice(collateral_json)
        .map_err(|error| AttestError::Malformed(format!("Intel collateral: {error}")))?;
    // Appraisal is ours: dcap-qvl checks the cryptography and reports what it found.
    let claims = QuoteVerifier::new_prod()
        .verify_with_policy(quote, collateral, now_s, &QuotePolicy::claims_only(now_s))
        .map_err(|error| AttestError::Signature(format!("Intel DCAP: {error:#}")))?;

    if now_s < claims.latest_issue_date {
        return Err(AttestError::Expired {
            now_s,
            what: format!(
                "Intel collateral issued at {} is from the future",
                claims.latest_issue_date
            ),
        });
    }
    if now_s > claims.earliest_expiration_date {
        return Err(AttestError::Expired {
            now_s,
            what: format!(
                "Intel collateral expired at {}",
                claims.earliest_expiration_date
            ),
        });
    }

    let status = claims.tcb.status;
    let status_name = status.to_string();
    if status == TcbStatus::Revoked
        || !policy
            .intel_tcb_statuses
            .iter()
            .any(|accepted| accepted == &status_name)
    {
        return Err(AttestError::Tcb(format!(
            "Intel TCB status {status_name} is not accepted"
        )));
    }
    if let Some(advisory) = claims
        .tcb
        .advisory_ids
        .iter()
        .find(|advisory| policy.intel_rejected_advisories.contains(advisory))
    {
        return Err(AttestError::Tcb(format!(
            "Intel advisory {advisory} is rejected"
        )));
    }

    let (tee, measurement, report_data, accepted) = match &claims.report {
        Report::SgxEnclave(enclave) => (
            CpuTee::IntelSgx,
            enclave.mr_enclave.to_vec(),
            enclave.report_data.to_vec(),
            &policy.sgx_mrenclave,
        ),
        Report::TD10(td) => (
            CpuTee::IntelTdx,
            td.mr_td.to_vec(),
            td.report_data.to_vec(),
            &policy.tdx_mrtd,
        ),
        Report::TD15(td) => (
            CpuTee::IntelTdx,
            td.base.mr_td.to_vec(),
            td.base.report_data.to_vec(),
            &policy.tdx_mrtd,
        ),
        Report::TD15Ex(td) => (
            CpuTee::IntelTdx,
            td.base.base.mr_td.to_vec(),
            td.base.base.report_data.to_vec(),
            &policy.tdx_mrtd,
        ),
    };
    if !registered(accepted, &measurement) {
        return Err(AttestError::Measurement(format!(
            "{} {} is not registered",
            if tee == CpuTee::IntelSgx {
                "MRENCLAVE"
            } else {
                "MRTD"
            },
            hex::encode(&measurement)
        )));
    }
    Ok((
        CpuClaims {
            tee,
            measurement,
            report_data,
            tcb_status: status_name,
            advisory_ids: claims.tcb.advisory_ids.clone(),
        },
        claims.earliest_expiration_date,
    ))
}
