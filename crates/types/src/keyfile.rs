//! The key file format shared by the CLI keyring and the node's validator key: JSON holding the
//! ed25519 secret key in hex beside the public identity it must match. Plaintext, like
//! Tendermint's `priv_validator_key.json`: the files are created with mode 0600 in a 0700
//! directory, and whoever can read them controls the account. [`read_key_file`] refuses a file
//! that others can read. This is the only module of the crate that touches the filesystem.

use crate::AccountId;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use std::path::Path;

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
    /// Others may read the file.
    #[error("{path} has mode {mode:o}; a key file must be readable by its owner only (chmod 600)")]
    Permissions {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The filesystem failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
}

fn io_error(path: &Path, error: &std::io::Error) -> KeyFileError {
    KeyFileError::Io {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

/// Reads and checks a key file, refusing one whose mode lets others read it.
pub fn read_key_file(path: &Path) -> Result<KeyFile, KeyFileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(|error| io_error(path, &error))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Permissions {
                path: path.display().to_string(),
                mode: mode & 0o777,
            });
        }
    }
    let text = std::fs::read_to_string(path).map_err(|error| io_error(path, &error))?;
    KeyFile::from_json(&text)
}

/// Creates the directory `path` (and its parents) with mode 0700, for key files and data
/// directories. An existing directory is left as it is.
pub fn create_private_dir(path: &Path) -> Result<(), KeyFileError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(path).map_err(|error| io_error(path, &error))
}

/// Creates `path` with mode 0600 and writes `contents`, durably. Never overwrites a file.
pub fn write_private_file(path: &Path, contents: &str) -> Result<(), KeyFileError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|error| io_error(path, &error))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|error| io_error(path, &error))
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

    #[test]
    fn files_are_private_and_never_overwritten() {
        let dir = std::env::temp_dir().join(format!("vcity-keyfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("k.json");
        let _ = std::fs::remove_file(&path);
        let file = KeyFile::new("k", &SigningKey::from_bytes(&[3; 32]));
        write_private_file(&path, &file.to_json()).expect("written");
        assert_eq!(read_key_file(&path).expect("read"), file);
        assert!(
            write_private_file(&path, "x").is_err(),
            "overwrote a key file"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            assert!(matches!(
                read_key_file(&path),
                Err(KeyFileError::Permissions { .. })
            ));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
