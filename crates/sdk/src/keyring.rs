//! A keyring: a directory of key files, one per name (`{name}.json`).
//!
//! The directory is created with mode 0700 and each file with 0600; a file others can read is
//! refused when loaded. New keys come from the operating system's random source.

use ed25519_dalek::SigningKey;
use std::path::{Path, PathBuf};
use vcity_types::keyfile::{
    create_private_dir, read_key_file, write_private_file, KeyFile, KeyFileError,
};

/// Keyring failures.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// A name that cannot be a file name.
    #[error("key name {0:?} must be 1-64 characters of [a-z0-9_-]")]
    BadName(String),
    /// No such key.
    #[error("no key named {name:?} in {dir}")]
    NotFound {
        /// The name.
        name: String,
        /// The keyring directory.
        dir: String,
    },
    /// The name is taken.
    #[error("a key named {0:?} already exists")]
    Exists(String),
    /// A key file problem.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// The filesystem failed.
    #[error("keyring {dir}: {message}")]
    Io {
        /// The keyring directory.
        dir: String,
        /// What failed.
        message: String,
    },
    /// No randomness.
    #[error("operating system random source failed: {0}")]
    Random(String),
}

/// A keyring directory.
#[derive(Debug, Clone)]
pub struct Keyring {
    dir: PathBuf,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl Keyring {
    /// Opens the keyring at `dir`, creating it (mode 0700) if needed.
    pub fn open(dir: &Path) -> Result<Keyring, KeyringError> {
        if !dir.exists() {
            create_private_dir(dir)?;
        }
        Ok(Keyring {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> Result<PathBuf, KeyringError> {
        if !valid_name(name) {
            return Err(KeyringError::BadName(name.to_string()));
        }
        Ok(self.dir.join(format!("{name}.json")))
    }

    /// Creates a new random key under `name`.
    pub fn create(&self, name: &str) -> Result<KeyFile, KeyringError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|error| KeyringError::Random(error.to_string()))?;
        self.import(name, &SigningKey::from_bytes(&seed))
    }

    /// Stores `key` under `name`.
    pub fn import(&self, name: &str, key: &SigningKey) -> Result<KeyFile, KeyringError> {
        let path = self.path(name)?;
        if path.exists() {
            return Err(KeyringError::Exists(name.to_string()));
        }
        let file = KeyFile::new(name, key);
        write_private_file(&path, &file.to_json())?;
        Ok(file)
    }

    /// The key named `name`.
    pub fn get(&self, name: &str) -> Result<KeyFile, KeyringError> {
        let path = self.path(name)?;
        if !path.exists() {
            return Err(KeyringError::NotFound {
                name: name.to_string(),
                dir: self.dir.display().to_string(),
            });
        }
        Ok(read_key_file(&path)?)
    }

    /// True if a key named `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.path(name).is_ok_and(|path| path.exists())
    }

    /// Every key, by name.
    pub fn list(&self) -> Result<Vec<KeyFile>, KeyringError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|error| KeyringError::Io {
            dir: self.dir.display().to_string(),
            message: error.to_string(),
        })?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let stem = name.strip_suffix(".json")?;
                valid_name(stem).then(|| stem.to_string())
            })
            .collect();
        names.sort();
        names.iter().map(|name| self.get(name)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_list_get() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ring = Keyring::open(&dir.path().join("keys")).expect("opens");
        let alice = ring.create("alice").expect("created");
        ring.create("bob").expect("created");
        assert!(matches!(ring.create("alice"), Err(KeyringError::Exists(_))));
        assert!(matches!(ring.create("../x"), Err(KeyringError::BadName(_))));
        assert_eq!(ring.get("alice").expect("found"), alice);
        let names: Vec<String> = ring
            .list()
            .expect("list")
            .into_iter()
            .map(|k| k.name)
            .collect();
        assert_eq!(names, ["alice", "bob"]);
        assert!(matches!(
            ring.get("carol"),
            Err(KeyringError::NotFound { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode =
                |path: &Path| std::fs::metadata(path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(ring.dir()), 0o700);
            assert_eq!(mode(&ring.dir().join("alice.json")), 0o600);
        }
    }
}
