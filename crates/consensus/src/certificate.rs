//! Commit certificates: the signatures of validators holding more than two thirds of the voting
//! power on (chain id, height, round, value id). The solo engine's certificate has one signature
//! (round 0), the BFT engine's the quorum of precommits that decided the value (a BFT precommit
//! for a value signs exactly [`Certificate::sign_bytes`], so the engine's commit certificate
//! becomes this one without re-signing); both have this format, so the node stores, serves and
//! verifies them alike.

use crate::ValueId;
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use std::collections::BTreeSet;

const SIGN_DOMAIN: &[u8] = b"vcity/commit/v2\0";

/// A validator as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorInfo {
    /// ed25519 public key.
    pub public_key: [u8; 32],
    /// Voting power.
    pub power: u64,
}

/// One validator's signature.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CommitSignature {
    /// The validator's public key.
    pub validator: [u8; 32],
    /// Its signature over [`Certificate::sign_bytes`].
    pub signature: [u8; 64],
}

/// Proof that a value was decided at a height.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Certificate {
    /// The height.
    pub height: u64,
    /// The consensus round that decided it (0 for the solo engine).
    pub round: u32,
    /// The decided value's id.
    pub value_id: ValueId,
    /// The signatures, sorted by validator key, one per validator.
    pub signatures: Vec<CommitSignature>,
}

/// Why a certificate does not prove a decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// A signer outside the validator set.
    #[error("signer {0} is not a validator")]
    UnknownSigner(String),
    /// A validator listed twice.
    #[error("validator {0} signed twice")]
    DuplicateSigner(String),
    /// A signature that does not verify.
    #[error("signature of {0} does not verify")]
    BadSignature(String),
    /// Not enough power.
    #[error("signers hold {signed} of {total} voting power, not more than two thirds")]
    NoQuorum {
        /// Power that signed.
        signed: u128,
        /// Total power.
        total: u128,
    },
    /// Bytes that do not decode.
    #[error("malformed certificate: {0}")]
    Malformed(String),
}

impl Certificate {
    /// The bytes each validator signs.
    pub fn sign_bytes(chain_id: &str, height: u64, round: u32, value_id: &ValueId) -> Vec<u8> {
        let mut bytes = SIGN_DOMAIN.to_vec();
        bytes.extend_from_slice(&(chain_id.len() as u32).to_le_bytes());
        bytes.extend_from_slice(chain_id.as_bytes());
        bytes.extend_from_slice(&height.to_le_bytes());
        bytes.extend_from_slice(&round.to_le_bytes());
        bytes.extend_from_slice(value_id);
        bytes
    }

    /// A certificate signed by one key (the solo engine's).
    pub fn sign_solo(chain_id: &str, height: u64, value_id: ValueId, key: &SigningKey) -> Self {
        let signature = key.sign(&Certificate::sign_bytes(chain_id, height, 0, &value_id));
        Certificate {
            height,
            round: 0,
            value_id,
            signatures: vec![CommitSignature {
                validator: key.verifying_key().to_bytes(),
                signature: signature.to_bytes(),
            }],
        }
    }

    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        borsh::to_vec(self).expect("borsh encoding into a Vec cannot fail")
    }

    /// Decodes canonical bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Certificate, CertificateError> {
        borsh::from_slice(bytes).map_err(|error| CertificateError::Malformed(error.to_string()))
    }

    /// Checks that validators holding more than 2/3 of `validators`' power signed this value.
    pub fn verify(
        &self,
        chain_id: &str,
        validators: &[ValidatorInfo],
    ) -> Result<(), CertificateError> {
        let message = Certificate::sign_bytes(chain_id, self.height, self.round, &self.value_id);
        let total: u128 = validators.iter().map(|v| u128::from(v.power)).sum();
        let mut signed: u128 = 0;
        let mut seen = BTreeSet::new();
        for entry in &self.signatures {
            let name = hex_prefix(&entry.validator);
            let validator = validators
                .iter()
                .find(|v| v.public_key == entry.validator)
                .ok_or_else(|| CertificateError::UnknownSigner(name.clone()))?;
            if !seen.insert(entry.validator) {
                return Err(CertificateError::DuplicateSigner(name));
            }
            let key = VerifyingKey::from_bytes(&entry.validator)
                .map_err(|_| CertificateError::BadSignature(name.clone()))?;
            key.verify_strict(&message, &Signature::from_bytes(&entry.signature))
                .map_err(|_| CertificateError::BadSignature(name.clone()))?;
            signed += u128::from(validator.power);
        }
        if signed * 3 <= total * 2 {
            return Err(CertificateError::NoQuorum { signed, total });
        }
        Ok(())
    }
}

fn hex_prefix(key: &[u8; 32]) -> String {
    key.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solo_certificate_verifies_and_binds_chain_height_and_value() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let validators = [ValidatorInfo {
            public_key: key.verifying_key().to_bytes(),
            power: 10,
        }];
        let certificate = Certificate::sign_solo("c", 3, [7; 32], &key);
        assert_eq!(certificate.verify("c", &validators), Ok(()));
        assert!(certificate.verify("other", &validators).is_err());
        let mut moved = certificate.clone();
        moved.height = 4;
        assert!(moved.verify("c", &validators).is_err());
        let mut other_round = certificate.clone();
        other_round.round = 1;
        assert!(other_round.verify("c", &validators).is_err());
        let decoded = Certificate::from_bytes(&certificate.to_bytes()).expect("decodes");
        assert_eq!(decoded, certificate);
    }

    #[test]
    fn quorum_needs_more_than_two_thirds() {
        let keys: Vec<SigningKey> = (1..=4).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
        let validators: Vec<ValidatorInfo> = keys
            .iter()
            .map(|k| ValidatorInfo {
                public_key: k.verifying_key().to_bytes(),
                power: 1,
            })
            .collect();
        let sign = |signers: &[&SigningKey]| {
            let mut signatures: Vec<CommitSignature> = signers
                .iter()
                .map(|k| CommitSignature {
                    validator: k.verifying_key().to_bytes(),
                    signature: k
                        .sign(&Certificate::sign_bytes("c", 1, 2, &[1; 32]))
                        .to_bytes(),
                })
                .collect();
            signatures.sort_by_key(|s| s.validator);
            Certificate {
                height: 1,
                round: 2,
                value_id: [1; 32],
                signatures,
            }
        };
        assert!(matches!(
            sign(&[&keys[0], &keys[1]]).verify("c", &validators),
            Err(CertificateError::NoQuorum { .. })
        ));
        assert_eq!(
            sign(&[&keys[0], &keys[1], &keys[2]]).verify("c", &validators),
            Ok(())
        );
        assert!(matches!(
            sign(&[&keys[0], &keys[0], &keys[1]]).verify("c", &validators),
            Err(CertificateError::DuplicateSigner(_))
        ));
    }
}
