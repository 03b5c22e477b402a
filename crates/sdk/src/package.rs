//! The agent package format (docs/agents.md, "Package format"): the files an agent NFT names by
//! content hash, in one deterministic archive, so that the same files always give the same hash.
//!
//! ```text
//! vcity-package/1\n
//! {path}\n{length in bytes}\n{bytes}\n      one entry per file, paths sorted
//! ```
//!
//! Paths are relative, `/`-separated, without `.` or `..` parts, at most 256 bytes of printable
//! characters; one of them is `agent.toml`, the manifest ([`Manifest`]). Prompt, config and
//! knowledge files sit beside it. The program the network runs is not inside: it is a separate
//! blob, named by the version's `module_hash` (which the manifest in the package repeats).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The first line of every package.
pub const MAGIC: &str = "vcity-package/1";
/// The manifest's path.
pub const MANIFEST: &str = "agent.toml";
/// The most files a package holds.
pub const MAX_FILES: usize = 1_024;
/// The longest path.
pub const MAX_PATH_BYTES: usize = 256;

/// Why a package is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    /// Not in the format.
    #[error("not an agent package: {0}")]
    Format(String),
    /// A path the format does not allow.
    #[error("bad path {0:?}: relative, /-separated, no . or .., at most 256 printable bytes")]
    Path(String),
    /// No manifest, or one that does not read.
    #[error("manifest: {0}")]
    Manifest(String),
}

/// An agent's manifest (`agent.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Display name.
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// Discovery tags (a-z 0-9 -).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Copyright line.
    #[serde(default)]
    pub copyright: String,
    /// Usage terms every caller accepts.
    #[serde(default)]
    pub usage_terms: String,
    /// The creator's royalty, basis points.
    #[serde(default)]
    pub royalty_bps: u32,
    /// What runs.
    pub program: ProgramSpec,
    /// Files put in the package beside the manifest (paths relative to it).
    #[serde(default)]
    pub files: Vec<String>,
}

/// The program of a manifest: an example workload by name, or a WASM module file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramSpec {
    /// An example workload of this release (`retrieve` for the templates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// A WASM module file, relative to the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Filled in when packaged: the module's content address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_hash: Option<String>,
}

impl Manifest {
    /// Reads a manifest.
    pub fn parse(text: &str) -> Result<Manifest, PackageError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|error| PackageError::Manifest(error.to_string()))?;
        if manifest.program.workload.is_some() == manifest.program.module.is_some() {
            return Err(PackageError::Manifest(
                "[program] names either a workload or a module file".into(),
            ));
        }
        Ok(manifest)
    }
}

fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= MAX_PATH_BYTES
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && path.chars().all(|c| !c.is_control())
}

/// A package's files by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Package {
    /// Path to bytes.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Package {
    /// Adds a file.
    pub fn insert(&mut self, path: &str, bytes: Vec<u8>) -> Result<(), PackageError> {
        if !valid_path(path) {
            return Err(PackageError::Path(path.to_string()));
        }
        if self.files.len() >= MAX_FILES && !self.files.contains_key(path) {
            return Err(PackageError::Format(format!("more than {MAX_FILES} files")));
        }
        self.files.insert(path.to_string(), bytes);
        Ok(())
    }

    /// The archive's bytes (what is hashed and stored).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{MAGIC}\n").into_bytes();
        for (path, bytes) in &self.files {
            out.extend_from_slice(format!("{path}\n{}\n", bytes.len()).as_bytes());
            out.extend_from_slice(bytes);
            out.push(b'\n');
        }
        out
    }

    /// Reads an archive.
    pub fn from_bytes(bytes: &[u8]) -> Result<Package, PackageError> {
        let format = |message: &str| PackageError::Format(message.to_string());
        let mut rest = bytes
            .strip_prefix(format!("{MAGIC}\n").as_bytes())
            .ok_or_else(|| format(&format!("it does not start with {MAGIC}")))?;
        let mut package = Package::default();
        let mut last: Option<String> = None;
        let line = |rest: &mut &[u8]| -> Result<String, PackageError> {
            let end = rest
                .iter()
                .position(|byte| *byte == b'\n')
                .ok_or_else(|| format("an entry is cut short"))?;
            let text = std::str::from_utf8(&rest[..end])
                .map_err(|_| format("a path or length is not UTF-8"))?
                .to_string();
            *rest = &rest[end + 1..];
            Ok(text)
        };
        while !rest.is_empty() {
            let path = line(&mut rest)?;
            let length: usize = line(&mut rest)?
                .parse()
                .map_err(|_| format("a length is not a number"))?;
            if rest.len() < length + 1 || rest[length] != b'\n' {
                return Err(format("a file is cut short"));
            }
            if last.as_ref().is_some_and(|previous| *previous >= path) {
                return Err(format("paths are not sorted and unique"));
            }
            package.insert(&path, rest[..length].to_vec())?;
            rest = &rest[length + 1..];
            last = Some(path);
        }
        Ok(package)
    }

    /// The manifest.
    pub fn manifest(&self) -> Result<Manifest, PackageError> {
        let bytes = self
            .files
            .get(MANIFEST)
            .ok_or_else(|| PackageError::Manifest(format!("the package has no {MANIFEST}")))?;
        let text =
            std::str::from_utf8(bytes).map_err(|_| PackageError::Manifest("not UTF-8".into()))?;
        Manifest::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST_TEXT: &str = r#"
name = "Museum guide"
tags = ["tour-guide"]
royalty_bps = 500
files = ["knowledge.txt"]

[program]
workload = "retrieve"
"#;

    #[test]
    fn packages_round_trip_and_are_deterministic() {
        let mut one = Package::default();
        one.insert("knowledge.txt", b"vcity-retrieve/1\n".to_vec())
            .expect("path");
        one.insert(MANIFEST, MANIFEST_TEXT.as_bytes().to_vec())
            .expect("path");
        let mut two = Package::default();
        two.insert(MANIFEST, MANIFEST_TEXT.as_bytes().to_vec())
            .expect("path");
        two.insert("knowledge.txt", b"vcity-retrieve/1\n".to_vec())
            .expect("path");
        assert_eq!(
            one.to_bytes(),
            two.to_bytes(),
            "insertion order does not matter"
        );
        let read = Package::from_bytes(&one.to_bytes()).expect("reads");
        assert_eq!(read, one);
        let manifest = read.manifest().expect("manifest");
        assert_eq!(manifest.name, "Museum guide");
        assert_eq!(manifest.program.workload.as_deref(), Some("retrieve"));
    }

    #[test]
    fn bad_packages_and_paths_are_refused() {
        let mut package = Package::default();
        for path in ["", "/etc/passwd", "a/../b", "./a", "a//b", "a\nb"] {
            assert!(package.insert(path, Vec::new()).is_err(), "{path:?}");
        }
        assert!(Package::from_bytes(b"tar").is_err());
        assert!(
            Package::from_bytes(b"vcity-package/1\nb\n1\nx\na\n1\ny\n").is_err(),
            "unsorted"
        );
        assert!(
            Package::from_bytes(b"vcity-package/1\na\n5\nx\n").is_err(),
            "cut short"
        );
        assert!(Package::default().manifest().is_err(), "no manifest");
        assert!(
            Manifest::parse("name = \"x\"\n[program]\n").is_err(),
            "no program"
        );
    }
}
