//! Building images: one gzip-compressed layer from files given in memory, an image
//! configuration, a manifest and an `index.json`, written as an OCI image layout (a directory or
//! a tar archive of one). `vcity image build` uses it to package a static program; the tests use
//! it to make images, good and hostile.

use crate::{io, Descriptor, Digest, Index, Manifest, OciError, RunConfig};
use std::io::Write;
use std::path::Path;

/// An image being put together.
pub struct ImageBuilder {
    layers: Vec<Vec<u8>>,
    files: tar::Builder<Vec<u8>>,
    entries: usize,
    config: RunConfig,
}

/// A built image: its blobs and its manifest digest.
#[derive(Debug, Clone)]
pub struct Built {
    /// The manifest digest (what a job names).
    pub digest: Digest,
    /// (digest, bytes) of every blob: layers, configuration, manifest.
    pub blobs: Vec<(Digest, Vec<u8>)>,
    /// `index.json`.
    pub index: Vec<u8>,
}

fn header(kind: tar::EntryType, path: &str, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    let _ = header.set_path(path);
    header
}

impl std::fmt::Debug for ImageBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageBuilder")
            .field("layers", &self.layers.len())
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

impl Default for ImageBuilder {
    fn default() -> Self {
        ImageBuilder {
            layers: Vec::new(),
            files: tar::Builder::new(Vec::new()),
            entries: 0,
            config: RunConfig::default(),
        }
    }
}

impl ImageBuilder {
    /// An empty image with no command.
    pub fn new() -> ImageBuilder {
        ImageBuilder::default()
    }

    /// Adds a directory to the current layer.
    pub fn directory(&mut self, path: &str, mode: u32) -> &mut Self {
        let mut header = header(tar::EntryType::Directory, path, mode, 0);
        header.set_cksum();
        let _ = self.files.append(&header, std::io::empty());
        self.entries += 1;
        self
    }

    /// Adds a file to the current layer.
    pub fn file(&mut self, path: &str, mode: u32, bytes: &[u8]) -> &mut Self {
        let mut header = header(tar::EntryType::Regular, path, mode, bytes.len() as u64);
        header.set_cksum();
        let _ = self.files.append(&header, bytes);
        self.entries += 1;
        self
    }

    /// Adds a link (symbolic or hard) to the current layer, its target written as given.
    pub fn link(&mut self, kind: tar::EntryType, path: &str, target: &str) -> &mut Self {
        let mut header = header(kind, path, 0o777, 0);
        let _ = header.set_link_name(target);
        header.set_cksum();
        let _ = self.files.append(&header, std::io::empty());
        self.entries += 1;
        self
    }

    /// Adds an entry with a path written byte for byte (no checks: for hostile test layers).
    pub fn raw(&mut self, kind: tar::EntryType, path: &[u8], bytes: &[u8]) -> &mut Self {
        let mut header = header(kind, "x", 0o644, bytes.len() as u64);
        let name = &mut header.as_old_mut().name;
        name.fill(0);
        name[..path.len().min(100)].copy_from_slice(&path[..path.len().min(100)]);
        header.set_cksum();
        let _ = self.files.append(&header, bytes);
        self.entries += 1;
        self
    }

    /// Ends the current layer (entries added later go into a new one above it).
    pub fn next_layer(&mut self) -> &mut Self {
        let files = std::mem::replace(&mut self.files, tar::Builder::new(Vec::new()));
        let tar = files.into_inner().unwrap_or_default();
        self.layers.push(tar);
        self.entries = 0;
        self
    }

    /// Sets how the image runs.
    pub fn config(&mut self, config: RunConfig) -> &mut Self {
        self.config = config;
        self
    }

    /// Compresses the layers and writes the configuration, manifest and index.
    pub fn build(&mut self) -> Result<Built, OciError> {
        if self.entries > 0 || self.layers.is_empty() {
            self.next_layer();
        }
        let mut blobs = Vec::new();
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for tar in &self.layers {
            diff_ids.push(Digest::of(tar).to_string());
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(tar).map_err(io("compressing a layer"))?;
            let gzip = encoder.finish().map_err(io("compressing a layer"))?;
            let digest = Digest::of(&gzip);
            layers.push(Descriptor {
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
                digest: digest.to_string(),
                size: gzip.len() as u64,
                platform: None,
                annotations: Default::default(),
            });
            blobs.push((digest, gzip));
        }
        let config = serde_json::json!({
            "architecture": crate::HOST_ARCH,
            "os": "linux",
            "config": self.config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config = serde_json::to_vec(&config).map_err(|error| OciError::Invalid {
            what: "the configuration".into(),
            why: error.to_string(),
        })?;
        Built::assemble(config, layers, blobs)
    }
}

impl Built {
    /// The image whose configuration is `config` and whose layers are `layers` (lowest first),
    /// their bytes among `blobs`: the configuration, manifest and `index.json` are written for
    /// them and added to the blobs.
    pub fn assemble(
        config: Vec<u8>,
        layers: Vec<Descriptor>,
        mut blobs: Vec<(Digest, Vec<u8>)>,
    ) -> Result<Built, OciError> {
        let invalid = |what: &str, error: serde_json::Error| OciError::Invalid {
            what: what.into(),
            why: error.to_string(),
        };
        let config_digest = Digest::of(&config);
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(crate::MEDIA_MANIFEST.into()),
            config: Descriptor {
                media_type: "application/vnd.oci.image.config.v1+json".into(),
                digest: config_digest.to_string(),
                size: config.len() as u64,
                platform: None,
                annotations: Default::default(),
            },
            layers,
        };
        blobs.push((config_digest, config));
        let manifest =
            serde_json::to_vec(&manifest).map_err(|error| invalid("the manifest", error))?;
        let digest = Digest::of(&manifest);
        let index = Index {
            schema_version: 2,
            media_type: Some(crate::MEDIA_INDEX.into()),
            manifests: vec![Descriptor {
                media_type: crate::MEDIA_MANIFEST.into(),
                digest: digest.to_string(),
                size: manifest.len() as u64,
                platform: None,
                annotations: Default::default(),
            }],
        };
        blobs.push((digest, manifest));
        let index = serde_json::to_vec(&index).map_err(|error| invalid("index.json", error))?;
        Ok(Built {
            digest,
            blobs,
            index,
        })
    }

    /// Names the image in `index.json` (`name` like `vcity-node:0.1.0`) as
    /// `org.opencontainers.image.ref.name` and, fully qualified, `io.containerd.image.name`:
    /// podman 4.3's `podman load` tagged it so (docs/operators.md); Docker 25's `docker load`
    /// reads the second by its documentation (not tried here). The digest does not change: the
    /// name is on the index entry, not in the manifest.
    pub fn named(mut self, name: &str) -> Result<Built, OciError> {
        let invalid = |error: serde_json::Error| OciError::Invalid {
            what: "index.json".into(),
            why: error.to_string(),
        };
        let mut index: Index = serde_json::from_slice(&self.index).map_err(invalid)?;
        let qualified = if name.contains('/') {
            name.to_string()
        } else {
            format!("docker.io/library/{name}")
        };
        for entry in &mut index.manifests {
            entry
                .annotations
                .insert("org.opencontainers.image.ref.name".into(), name.into());
            entry
                .annotations
                .insert("io.containerd.image.name".into(), qualified.clone());
        }
        self.index = serde_json::to_vec(&index).map_err(invalid)?;
        Ok(self)
    }

    /// Writes the layout into directory `dir`.
    pub fn write_dir(&self, dir: &Path) -> Result<(), OciError> {
        let blobs = dir.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs).map_err(io("creating the layout"))?;
        std::fs::write(dir.join("oci-layout"), LAYOUT_MARKER).map_err(io("writing oci-layout"))?;
        std::fs::write(dir.join("index.json"), &self.index).map_err(io("writing index.json"))?;
        for (digest, bytes) in &self.blobs {
            std::fs::write(blobs.join(digest.hex()), bytes).map_err(io("writing a blob"))?;
        }
        Ok(())
    }

    /// The layout as a tar archive (what `vcity job submit` uploads).
    pub fn archive(&self) -> Result<Vec<u8>, OciError> {
        let mut archive = tar::Builder::new(Vec::new());
        let mut add = |path: &str, bytes: &[u8]| {
            let mut header = header(tar::EntryType::Regular, path, 0o644, bytes.len() as u64);
            header.set_cksum();
            archive.append(&header, bytes)
        };
        add("oci-layout", LAYOUT_MARKER.as_bytes()).map_err(io("archiving"))?;
        add("index.json", &self.index).map_err(io("archiving"))?;
        for (digest, bytes) in &self.blobs {
            add(&format!("blobs/sha256/{}", digest.hex()), bytes).map_err(io("archiving"))?;
        }
        archive.into_inner().map_err(io("archiving"))
    }
}

const LAYOUT_MARKER: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";
