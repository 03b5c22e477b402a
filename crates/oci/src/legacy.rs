//! Archives from `docker save` before Docker 25: not an OCI layout but Docker's own format, a
//! `manifest.json` listing each image's configuration file and its layers as uncompressed tars
//! (`<id>/layer.tar`, or `blobs/sha256/<hex>` in later versions). [`convert`] turns one into an
//! OCI layout (the same blobs, with an OCI manifest and `index.json` written for them), so an
//! upload is always a layout and a node never reads Docker's format. The conversion is
//! deterministic: the same archive always gives the same manifest digest, which is what a job
//! names.

use crate::builder::Built;
use crate::{Descriptor, Digest, OciError};
use std::collections::BTreeMap;
use std::io::Read;

/// One image of Docker's `manifest.json`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    layers: Vec<String>,
}

/// Whether `archive` (a tar) is a `docker save` archive without an OCI `index.json`.
pub fn is_docker_save(archive: impl Read) -> bool {
    let mut archive = tar::Archive::new(archive);
    let Ok(entries) = archive.entries() else {
        return false;
    };
    let mut manifest = false;
    for entry in entries.flatten() {
        let Ok(path) = entry.path() else { continue };
        match path.to_string_lossy().trim_start_matches("./") {
            "index.json" => return false,
            "manifest.json" => manifest = true,
            _ => {}
        }
    }
    manifest
}

/// The OCI layout of the one image in the `docker save` archive `archive`, reading at most
/// `limit` bytes of files.
pub fn convert(archive: impl Read, limit: u64) -> Result<Built, OciError> {
    let broken = |why: String| OciError::Invalid {
        what: "the docker save archive".into(),
        why,
    };
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut left = limit;
    let mut archive = tar::Archive::new(archive);
    for entry in archive
        .entries()
        .map_err(|error| broken(format!("not a tar archive: {error}")))?
    {
        let mut entry = entry.map_err(|error| broken(format!("a damaged entry: {error}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|error| broken(format!("an unreadable path: {error}")))?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let mut bytes = Vec::new();
        (&mut entry)
            .take(left.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|error| broken(format!("reading {path}: {error}")))?;
        left = left
            .checked_sub(bytes.len() as u64)
            .ok_or(OciError::TooLarge {
                what: "the docker save archive".into(),
                limit,
            })?;
        files.insert(path, bytes);
    }
    let manifest = files
        .get("manifest.json")
        .ok_or_else(|| broken("no manifest.json: not a docker save archive".into()))?;
    let entries: Vec<Entry> = crate::parse("manifest.json", manifest)?;
    let entry = match entries.as_slice() {
        [only] => only,
        others => {
            return Err(broken(format!(
                "it holds {} images; save one image per archive",
                others.len()
            )))
        }
    };
    let blob = |name: &str| {
        files
            .get(name)
            .cloned()
            .ok_or_else(|| broken(format!("manifest.json names {name}, which is not there")))
    };
    let config = blob(&entry.config)?;
    let mut blobs = Vec::new();
    let mut layers = Vec::new();
    for name in &entry.layers {
        let layer = blob(name)?;
        let digest = Digest::of(&layer);
        layers.push(Descriptor {
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            digest: digest.to_string(),
            size: layer.len() as u64,
            platform: None,
            annotations: Default::default(),
        });
        if !blobs
            .iter()
            .any(|(known, _): &(Digest, Vec<u8>)| *known == digest)
        {
            blobs.push((digest, layer));
        }
    }
    Built::assemble(config, layers, blobs)
}
