//! The key file format shared by the CLI keyring and the node's validator key: JSON holding the
//! ed25519 secret key in hex beside the public identity it must match. Plaintext, like
//! Tendermint's `priv_validator_key.json`: the files are created with mode 0600 in a 0700
//! directory, and whoever can read them controls the account. Reading and writing the files is the
//! SDK's and the node's business; this module only defines and checks the contents.

use crate::AccountId;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

/// A key file's contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFile {
    /// A local name (not on chain).
    pub name: String,
    /// The account, hex of the public key.
    pub account: AccountId,
    /// The account's `did:key`.
    pub did: String,
    /// The 32-byte ed25519 secret seed, hex.
    pub secret_key: String,
}

/// Why a key file is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    /// Not JSON of the right shape.
    #[error("key file is not valid: {0}")]
    Format(String),
    /// The secret is not 32 bytes of hex.
    #[error("secret key must be 64 hex characters")]
    Secret,
    /// The secret does not belong to the account.
    #[error("secret key does not match account {0}")]
    Mismatch(AccountId),
}

impl KeyFile {
    /// The file for `key` under `name`.
    pub fn new(name: &str, key: &SigningKey) -> KeyFile {
        let account = AccountId::from_public_key(&key.verifying_key());
        KeyFile {
            name: name.to_string(),
            account,
            did: account.did().to_string(),
            secret_key: hex::encode(key.to_bytes()),
        }
    }

    /// Parses JSON and checks that the secret matches the account.
    pub fn from_json(text: &str) -> Result<KeyFile, KeyFileError> {
        let file: KeyFile =
            serde_json::from_str(text).map_err(|error| KeyFileError::Format(error.to_string()))?;
        file.signing_key()?;
        Ok(file)
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("key file serializes")
    }

    /// The signing key, checked against the account.
    pub fn signing_key(&self) -> Result<SigningKey, KeyFileError> {
        let bytes: [u8; 32] = hex::decode(self.secret_key.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(KeyFileError::Secret)?;
        let key = SigningKey::from_bytes(&bytes);
        if AccountId::from_public_key(&key.verifying_key()) != self.account {
            return Err(KeyFileError::Mismatch(self.account));
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_tampering() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let file = KeyFile::new("alice", &key);
        let parsed = KeyFile::from_json(&file.to_json()).expect("parses");
        assert_eq!(parsed, file);
        assert_eq!(
            parsed.signing_key().expect("key").to_bytes(),
            key.to_bytes()
        );
        let mut other = file.clone();
        other.account = AccountId([1; 32]);
        assert!(matches!(
            KeyFile::from_json(&other.to_json()),
            Err(KeyFileError::Mismatch(_))
        ));
        assert!(KeyFile::from_json("{}").is_err());
    }
}
