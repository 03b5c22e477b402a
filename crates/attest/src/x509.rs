//! The few X.509 checks the AMD and NVIDIA paths need, on `x509-cert` and `p384`: parse a DER
//! certificate, check its validity at `now`, check that an issuer signed it with ECDSA P-384 /
//! SHA-384, and read an extension. Intel's chain is `dcap-qvl`'s.

use p384::ecdsa::signature::Verifier;
use p384::ecdsa::{Signature, VerifyingKey};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::Certificate;

use crate::AttestError;

const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

pub(crate) fn parse(der: &[u8], what: &str) -> Result<Certificate, AttestError> {
    let certificate = Certificate::from_der(der)
        .map_err(|error| AttestError::Malformed(format!("{what} certificate: {error}")))?;
    // Re-encoding must give the same bytes: a certificate with a second, non-canonical encoding
    // would let one signature stand for two different byte strings.
    let canonical = certificate
        .to_der()
        .map_err(|error| AttestError::Malformed(format!("{what} certificate: {error}")))?;
    if canonical != der {
        return Err(AttestError::Malformed(format!(
            "{what} certificate is not in canonical DER"
        )));
    }
    Ok(certificate)
}

/// Checks that `certificate` is valid at `now_s` (Unix seconds); its `notAfter`.
pub(crate) fn check_validity(
    certificate: &Certificate,
    now_s: u64,
    what: &str,
) -> Result<u64, AttestError> {
    let validity = &certificate.tbs_certificate.validity;
    let not_before_s = validity.not_before.to_unix_duration().as_secs();
    let not_after_s = validity.not_after.to_unix_duration().as_secs();
    if now_s < not_before_s || now_s > not_after_s {
        return Err(AttestError::Expired {
            now_s,
            what: format!("{what} certificate is valid from {not_before_s} to {not_after_s}"),
        });
    }
    Ok(not_after_s)
}

pub(crate) fn p384_key(certificate: &Certificate, what: &str) -> Result<VerifyingKey, AttestError> {
    let point = certificate
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    VerifyingKey::from_sec1_bytes(point)
        .map_err(|_| AttestError::Malformed(format!("{what} certificate has no P-384 key")))
}

/// Checks that `issuer` signed `subject`: names chain, the issuer may issue certificates, and
/// the ECDSA P-384 / SHA-384 signature over the TBS bytes verifies.
pub(crate) fn check_issued_by(
    subject: &Certificate,
    issuer: &Certificate,
    what: &str,
) -> Result<(), AttestError> {
    if subject.tbs_certificate.issuer != issuer.tbs_certificate.subject {
        return Err(AttestError::Signature(format!(
            "{what}: issuer name does not match the next certificate's subject"
        )));
    }
    let is_ca = extension(issuer, &BASIC_CONSTRAINTS)
        .and_then(|value| BasicConstraints::from_der(value).ok())
        .is_some_and(|constraints| constraints.ca);
    if !is_ca {
        return Err(AttestError::Signature(format!(
            "{what}: the issuing certificate is not a CA"
        )));
    }
    if subject.signature_algorithm.oid != ECDSA_WITH_SHA384 {
        return Err(AttestError::Signature(format!(
            "{what}: signature algorithm {} is not ECDSA with SHA-384",
            subject.signature_algorithm.oid
        )));
    }
    let key = p384_key(issuer, what)?;
    let signature = Signature::from_der(subject.signature.raw_bytes())
        .map_err(|_| AttestError::Signature(format!("{what}: malformed signature")))?;
    let message = subject
        .tbs_certificate
        .to_der()
        .map_err(|error| AttestError::Malformed(format!("{what}: {error}")))?;
    key.verify(&message, &signature)
        .map_err(|_| AttestError::Signature(format!("{what}: signature does not verify")))
}

/// The raw value (the content of the extension's OCTET STRING) of an extension.
pub(crate) fn extension<'a>(
    certificate: &'a Certificate,
    id: &ObjectIdentifier,
) -> Option<&'a [u8]> {
    certificate
        .tbs_certificate
        .extensions
        .as_ref()?
        .iter()
        .find(|extension| &extension.extn_id == id)
        .map(|extension| extension.extn_value.as_bytes())
}
