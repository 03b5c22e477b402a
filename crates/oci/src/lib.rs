//! OCI images for process tasks (issue 19 point 2; docs/job-spec.md, "Image jobs").
//!
//! A job names an image by the digest of its manifest (`sha256:…`). A node gets the image's
//! blobs from one of two sources: an OCI registry (HTTP API v2, [`registry`]) or an OCI image
//! layout archive the buyer uploaded to the chain node's blob store ([`layout`]). Either way
//! every blob is checked against its digest and its size before it is used, the manifest against
//! the job's digest; nothing is trusted because of where it came from.
//!
//! The layers are unpacked ([`unpack`]) into a fresh directory with every entry checked: no
//! absolute or `..` paths, nothing written through a symbolic link, no hard link to outside the
//! image, no device nodes, setuid and setgid bits cleared, whiteouts applied; the whole image is
//! bounded in size. Only a complete, checked root file system is moved into the cache
//! ([`store`]), keyed by the manifest digest, bounded in size with least-recently-used eviction:
//! a failure leaves nothing half-unpacked.

pub mod builder;
pub mod layout;
pub mod legacy;
pub mod registry;
pub mod serve;
pub mod store;
pub mod unpack;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::fmt;

/// Why an image could not be had.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// A digest string that is not `sha256:` and 64 lowercase hex digits.
    #[error("{0:?} is not a sha256 digest (sha256: and 64 lowercase hex digits)")]
    BadDigest(String),
    /// Content that does not hash to the digest that names it.
    #[error("{what} does not match its digest {expected} (got {actual})")]
    DigestMismatch {
        /// Which blob.
        what: String,
        /// Its digest as named.
        expected: Digest,
        /// What its bytes hash to.
        actual: Digest,
    },
    /// Content whose size is not what its descriptor says.
    #[error("{what} is {actual} bytes; its descriptor says {expected}")]
    SizeMismatch {
        /// Which blob.
        what: String,
        /// The descriptor's size.
        expected: u64,
        /// The bytes received.
        actual: u64,
    },
    /// Over a size bound.
    #[error("{what} is over the limit of {limit} bytes")]
    TooLarge {
        /// What.
        what: String,
        /// The bound.
        limit: u64,
    },
    /// A layer entry that could escape or that the sandbox does not allow.
    #[error("layer {layer}: {path:?}: {why}")]
    UnsafeEntry {
        /// The layer's digest.
        layer: Digest,
        /// The entry's path as written in the archive.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// JSON that is not the document it should be, or a media type we do not take.
    #[error("{what}: {why}")]
    Invalid {
        /// Which document.
        what: String,
        /// Why.
        why: String,
    },
    /// The registry refused or failed.
    #[error("registry {url}: {why}")]
    Registry {
        /// What was asked.
        url: String,
        /// Its answer.
        why: String,
    },
    /// A file-system operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> OciError {
    let what = what.into();
    move |source| OciError::Io { what, source }
}

/// A sha256 content digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(sha2::Sha256::digest(bytes).into())
    }

    /// Parses `sha256:<64 lowercase hex>`.
    pub fn parse(text: &str) -> Result<Digest, OciError> {
        let bad = || OciError::BadDigest(text.to_string());
        let hex_part = text.strip_prefix("sha256:").ok_or_else(bad)?;
        if hex_part.len() != 64 || hex_part.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| bad())?;
        Ok(Digest(bytes))
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Checks `bytes` against this digest.
    pub fn verify(&self, what: &str, bytes: &[u8]) -> Result<(), OciError> {
        let actual = Digest::of(bytes);
        if actual != *self {
            return Err(OciError::DigestMismatch {
                what: what.to_string(),
                expected: *self,
                actual,
            });
        }
        Ok(())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl std::str::FromStr for Digest {
    type Err = OciError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Digest::parse(text)
    }
}

/// OCI image index media type.
pub const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest media type.
pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker's manifest list (accepted as an index).
pub const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker's schema 2 manifest (accepted as a manifest).
pub const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Layer media types taken: gzip-compressed or plain tar, OCI and Docker names.
pub const LAYER_TYPES: [(&str, bool); 4] = [
    ("application/vnd.oci.image.layer.v1.tar+gzip", true),
    ("application/vnd.oci.image.layer.v1.tar", false),
    ("application/vnd.docker.image.rootfs.diff.tar.gzip", true),
    ("application/vnd.docker.image.rootfs.diff.tar", false),
];

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type.
    pub media_type: String,
    /// `sha256:…`.
    pub digest: String,
    /// Bytes.
    pub size: u64,
    /// For index entries: the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// For index entries: e.g. the image's name (`org.opencontainers.image.ref.name`), which
    /// `podman load` and `docker load` tag it with.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// An index entry's platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// e.g. `amd64`.
    pub architecture: String,
    /// e.g. `linux`.
    pub os: String,
}

/// An image index (or a layout's `index.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// 2.
    pub schema_version: u32,
    /// The index's media type, where given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Its manifests.
    pub manifests: Vec<Descriptor>,
}

/// An image manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// 2.
    pub schema_version: u32,
    /// The manifest's media type, where given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image configuration.
    pub config: Descriptor,
    /// The layers, lowest first.
    pub layers: Vec<Descriptor>,
}

/// The parts of an image configuration a task runs by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// e.g. `amd64`.
    #[serde(default)]
    pub architecture: String,
    /// e.g. `linux`.
    #[serde(default)]
    pub os: String,
    /// How to run it.
    #[serde(default)]
    pub config: RunConfig,
}

/// `config` of an image configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    /// `["/bin/app", "--flag"]`.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// Arguments after the entrypoint (or the command when there is none).
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// `NAME=value` entries.
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// Absolute working directory.
    #[serde(default)]
    pub working_dir: Option<String>,
    /// `uid[:gid]` (names are not resolved; see docs/job-spec.md).
    #[serde(default)]
    pub user: Option<String>,
}

impl RunConfig {
    /// The command line: entrypoint then cmd, each replaced by the job's override where given.
    pub fn argv(&self, entrypoint: Option<&[String]>, cmd: Option<&[String]>) -> Vec<String> {
        let entrypoint = entrypoint.map_or_else(
            || self.entrypoint.clone().unwrap_or_default(),
            <[String]>::to_vec,
        );
        let cmd = cmd.map_or_else(|| self.cmd.clone().unwrap_or_default(), <[String]>::to_vec);
        entrypoint.into_iter().chain(cmd).collect()
    }

    /// The environment as pairs: the image's, then the job's (which wins).
    pub fn env(&self, extra: &[(String, String)]) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .env
            .iter()
            .flatten()
            .filter_map(|entry| {
                let (name, value) = entry.split_once('=')?;
                Some((name.to_string(), value.to_string()))
            })
            .collect();
        for (name, value) in extra {
            env.retain(|(existing, _)| existing != name);
            env.push((name.clone(), value.clone()));
        }
        env
    }
}

/// Size bounds on one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Manifests, indexes and configurations, bytes each.
    pub document_bytes: u64,
    /// All blobs together as fetched (compressed), bytes.
    pub download_bytes: u64,
    /// The unpacked root file system, bytes.
    pub unpacked_bytes: u64,
    /// Files and directories in the unpacked root file system.
    pub entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            document_bytes: 4 * 1024 * 1024,
            download_bytes: 4 * 1024 * 1024 * 1024,
            unpacked_bytes: 8 * 1024 * 1024 * 1024,
            entries: 500_000,
        }
    }
}

/// Parses a JSON document named `what`.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    what: &str,
    bytes: &[u8],
) -> Result<T, OciError> {
    serde_json::from_slice(bytes).map_err(|error| OciError::Invalid {
        what: what.to_string(),
        why: error.to_string(),
    })
}

/// What a blob source gives: a document or blob's bytes, checked against its digest and size.
pub trait Blobs {
    /// Fetches the blob `digest` (expected `size` bytes, at most `limit`) into `into` (a file
    /// the caller owns), checking its digest and size.
    fn fetch(
        &mut self,
        digest: &Digest,
        size: Option<u64>,
        limit: u64,
        into: &std::path::Path,
    ) -> Result<(), OciError>;

    /// The manifest (or index) `digest` as bytes, checked against it, and its media type if the
    /// source says.
    fn manifest(
        &mut self,
        digest: &Digest,
        limit: u64,
    ) -> Result<(Vec<u8>, Option<String>), OciError>;
}

/// The image manifest a job's digest names: the manifest itself, or, when it names an index,
/// the index's `linux/amd64` manifest (its digest checked against the index's descriptor).
pub fn resolve_manifest(
    blobs: &mut dyn Blobs,
    digest: &Digest,
    limits: &Limits,
) -> Result<(Digest, Manifest), OciError> {
    let (bytes, media_type) = blobs.manifest(digest, limits.document_bytes)?;
    let probe: serde_json::Value = parse("the manifest", &bytes)?;
    let media = media_type
        .or_else(|| {
            probe
                .get("mediaType")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let is_index = media == MEDIA_INDEX
        || media == MEDIA_DOCKER_LIST
        || (media.is_empty() && probe.get("manifests").is_some());
    if !is_index {
        return Ok((*digest, check_manifest(&bytes)?));
    }
    let index: Index = parse("the image index", &bytes)?;
    let chosen = index
        .manifests
        .iter()
        .find(|entry| {
            entry.platform.as_ref().is_some_and(|platform| {
                platform.os == "linux" && platform.architecture == HOST_ARCH
            })
        })
        .ok_or_else(|| OciError::Invalid {
            what: "the image index".into(),
            why: format!("no linux/{HOST_ARCH} manifest"),
        })?;
    let inner = Digest::parse(&chosen.digest)?;
    if chosen.size > limits.document_bytes {
        return Err(OciError::TooLarge {
            what: "the manifest".into(),
            limit: limits.document_bytes,
        });
    }
    let (bytes, _) = blobs.manifest(&inner, limits.document_bytes)?;
    if bytes.len() as u64 != chosen.size {
        return Err(OciError::SizeMismatch {
            what: format!("manifest {inner}"),
            expected: chosen.size,
            actual: bytes.len() as u64,
        });
    }
    Ok((inner, check_manifest(&bytes)?))
}

/// The OCI architecture name of this host.
pub const HOST_ARCH: &str = if cfg!(target_arch = "x86_64") {
    "amd64"
} else if cfg!(target_arch = "aarch64") {
    "arm64"
} else {
    "unknown"
};

fn check_manifest(bytes: &[u8]) -> Result<Manifest, OciError> {
    let manifest: Manifest = parse("the image manifest", bytes)?;
    if let Some(media) = &manifest.media_type {
        if media != MEDIA_MANIFEST && media != MEDIA_DOCKER_MANIFEST {
            return Err(OciError::Invalid {
                what: "the image manifest".into(),
                why: format!("media type {media} is not an image manifest"),
            });
        }
    }
    for layer in &manifest.layers {
        if !LAYER_TYPES
            .iter()
            .any(|(media, _)| *media == layer.media_type)
        {
            return Err(OciError::Invalid {
                what: format!("layer {}", layer.digest),
                why: format!(
                    "media type {} is not a tar or tar+gzip layer (zstd and foreign layers are not taken)",
                    layer.media_type
                ),
            });
        }
        Digest::parse(&layer.digest)?;
    }
    Digest::parse(&manifest.config.digest)?;
    Ok(manifest)
}

/// Whether a blob of `actual` bytes may be taken as `what`: within `limit`, and of the size its
/// descriptor gives, if it gives one.
pub(crate) fn check_size(
    what: &str,
    size: Option<u64>,
    actual: u64,
    limit: u64,
) -> Result<(), OciError> {
    if actual > limit {
        return Err(OciError::TooLarge {
            what: what.to_string(),
            limit,
        });
    }
    match size {
        Some(expected) if expected != actual => Err(OciError::SizeMismatch {
            what: what.to_string(),
            expected,
            actual,
        }),
        _ => Ok(()),
    }
}

/// A writer that hashes what passes through it.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: sha2::Sha256,
}

impl<W: std::io::Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: sha2::Sha256::new(),
        }
    }

    /// Flushes and checks the digest of everything written.
    pub(crate) fn finish(mut self, what: &str, expected: &Digest) -> Result<(), OciError> {
        self.inner.flush().map_err(io(format!("writing {what}")))?;
        let actual = Digest(self.hasher.finalize().into());
        if actual != *expected {
            return Err(OciError::DigestMismatch {
                what: what.to_string(),
                expected: *expected,
                actual,
            });
        }
        Ok(())
    }
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_parse_strictly_and_verify() {
        let digest = Digest::of(b"hello");
        let text = digest.to_string();
        assert_eq!(
            text,
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(Digest::parse(&text).expect("valid"), digest);
        for bad in [
            "sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
            "sha512:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            "sha256:2cf24d",
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
        assert!(digest.verify("x", b"hello").is_ok());
        assert!(matches!(
            digest.verify("x", b"hullo"),
            Err(OciError::DigestMismatch { .. })
        ));
    }

    #[test]
    fn the_command_line_and_environment_take_the_jobs_overrides() {
        let config = RunConfig {
            entrypoint: Some(vec!["/bin/app".into()]),
            cmd: Some(vec!["--default".into()]),
            env: Some(vec![
                "PATH=/bin".into(),
                "MODE=slow".into(),
                "broken".into(),
            ]),
            working_dir: Some("/work".into()),
            user: None,
        };
        assert_eq!(config.argv(None, None), ["/bin/app", "--default"]);
        assert_eq!(
            config.argv(None, Some(&["-x".to_string()])),
            ["/bin/app", "-x"]
        );
        assert_eq!(
            config.argv(Some(&["/bin/other".to_string()]), None),
            ["/bin/other", "--default"]
        );
        assert_eq!(
            config.env(&[("MODE".into(), "fast".into())]),
            [
                ("PATH".to_string(), "/bin".to_string()),
                ("MODE".to_string(), "fast".to_string())
            ]
        );
    }
}
