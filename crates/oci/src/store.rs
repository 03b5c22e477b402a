//! The node's image cache: root file systems by manifest digest, bounded in size, the least
//! recently used evicted first (never one a task is using).
//!
//! Layout: `images/<hex>/{rootfs/, config.json, size}`, installed by renaming a finished work
//! directory (`work/<hex>-…`) into place, so an image is either complete or absent; work
//! directories left by a crash are removed when the store opens.

use crate::unpack::{apply_layer, prepare_root, Budget};
use crate::{io, resolve_manifest, Blobs, Digest, ImageConfig, Limits, OciError, RunConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// An image ready to run.
#[derive(Debug, Clone)]
pub struct Image {
    /// The manifest digest the job named.
    pub digest: Digest,
    /// Its root file system (read-only to tasks).
    pub rootfs: PathBuf,
    /// How to run it.
    pub config: RunConfig,
    /// Bytes of file content.
    pub bytes: u64,
}

/// The cache.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    max_bytes: u64,
    limits: Limits,
    in_use: Arc<Mutex<BTreeMap<Digest, u32>>>,
}

/// Keeps an image from eviction while it lives.
#[derive(Debug)]
pub struct Hold {
    digest: Digest,
    in_use: Arc<Mutex<BTreeMap<Digest, u32>>>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut in_use = self
            .in_use
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = in_use.get_mut(&self.digest) {
            *count -= 1;
            if *count == 0 {
                in_use.remove(&self.digest);
            }
        }
    }
}

static WORK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Store {
    /// Opens (creating) the cache in `root`, holding at most `max_bytes` of images.
    pub fn open(root: &Path, max_bytes: u64, limits: Limits) -> Result<Store, OciError> {
        std::fs::create_dir_all(root.join("images")).map_err(io("creating the image cache"))?;
        let work = root.join("work");
        if work.exists() {
            std::fs::remove_dir_all(&work).map_err(io("clearing unfinished images"))?;
        }
        std::fs::create_dir_all(&work).map_err(io("creating the image cache"))?;
        Ok(Store {
            root: root.to_path_buf(),
            max_bytes,
            limits,
            in_use: Arc::new(Mutex::new(BTreeMap::new())),
        })
    }

    fn image_dir(&self, digest: &Digest) -> PathBuf {
        self.root.join("images").join(digest.hex())
    }

    /// Marks `digest` in use until the returned hold is dropped.
    pub fn hold(&self, digest: &Digest) -> Hold {
        *self
            .in_use
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(*digest)
            .or_default() += 1;
        Hold {
            digest: *digest,
            in_use: self.in_use.clone(),
        }
    }

    /// The cached image `digest`, if complete (and marks it used now).
    pub fn cached(&self, digest: &Digest) -> Option<Image> {
        let dir = self.image_dir(digest);
        let config: RunConfig =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).ok()?).ok()?;
        let bytes = std::fs::read_to_string(dir.join("size"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let rootfs = dir.join("rootfs");
        if !rootfs.is_dir() {
            return None;
        }
        let _ = std::fs::File::options()
            .write(true)
            .open(dir.join("size"))
            .and_then(|file| file.set_modified(SystemTime::now()));
        Some(Image {
            digest: *digest,
            rootfs,
            config,
            bytes,
        })
    }

    /// The image `digest`: from the cache, or installed from `blobs` (then the cache is trimmed
    /// to its bound, least recently used first).
    pub fn get(&self, digest: &Digest, blobs: &mut dyn Blobs) -> Result<Image, OciError> {
        if let Some(image) = self.cached(digest) {
            return Ok(image);
        }
        let number = WORK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let work = self.root.join("work").join(format!(
            "{}-{}-{number}",
            digest.hex(),
            std::process::id()
        ));
        std::fs::create_dir_all(&work).map_err(io("creating a work directory"))?;
        let installed = self.install(digest, blobs, &work);
        if installed.is_err() {
            let _ = std::fs::remove_dir_all(&work);
        }
        let image = installed?;
        let _hold = self.hold(digest);
        self.evict()?;
        Ok(image)
    }

    fn install(
        &self,
        digest: &Digest,
        blobs: &mut dyn Blobs,
        work: &Path,
    ) -> Result<Image, OciError> {
        let limits = &self.limits;
        let (_, manifest) = resolve_manifest(blobs, digest, limits)?;
        let mut download_left = limits.download_bytes;
        let config_digest = Digest::parse(&manifest.config.digest)?;
        let config_file = work.join("config");
        if manifest.config.size > limits.document_bytes {
            return Err(OciError::TooLarge {
                what: "the image configuration".into(),
                limit: limits.document_bytes,
            });
        }
        blobs.fetch(
            &config_digest,
            Some(manifest.config.size),
            limits.document_bytes,
            &config_file,
        )?;
        let config: ImageConfig = crate::parse(
            "the image configuration",
            &std::fs::read(&config_file).map_err(io("reading the configuration"))?,
        )?;
        if (!config.os.is_empty() && config.os != "linux")
            || (!config.architecture.is_empty() && config.architecture != crate::HOST_ARCH)
        {
            return Err(OciError::Invalid {
                what: "the image".into(),
                why: format!(
                    "it is for {}/{}; this node runs linux/{}",
                    config.os,
                    config.architecture,
                    crate::HOST_ARCH
                ),
            });
        }
        let total: u64 = manifest
            .layers
            .iter()
            .fold(0u64, |sum, layer| sum.saturating_add(layer.size));
        if total > limits.download_bytes {
            return Err(OciError::TooLarge {
                what: "the image's layers".into(),
                limit: limits.download_bytes,
            });
        }
        let rootfs = work.join("rootfs");
        std::fs::create_dir(&rootfs).map_err(io("creating the root file system"))?;
        let mut budget = Budget::new(limits);
        for layer in &manifest.layers {
            let layer_digest = Digest::parse(&layer.digest)?;
            let gzip = crate::LAYER_TYPES
                .iter()
                .find(|(media, _)| *media == layer.media_type)
                .is_some_and(|(_, gzip)| *gzip);
            let file = work.join("layer");
            blobs.fetch(&layer_digest, Some(layer.size), download_left, &file)?;
            download_left = download_left.saturating_sub(layer.size);
            apply_layer(&rootfs, &file, gzip, &layer_digest, &mut budget)?;
            std::fs::remove_file(&file).map_err(io("removing a fetched layer"))?;
        }
        prepare_root(&rootfs)?;
        let bytes = budget.used_bytes();
        std::fs::write(
            work.join("config.json"),
            serde_json::to_vec(&config.config).map_err(|error| OciError::Invalid {
                what: "the image configuration".into(),
                why: error.to_string(),
            })?,
        )
        .map_err(io("writing the configuration"))?;
        std::fs::write(work.join("size"), bytes.to_string()).map_err(io("writing the size"))?;
        let _ = std::fs::remove_file(&config_file);
        let destination = self.image_dir(digest);
        match std::fs::rename(work, &destination) {
            Ok(()) => {}
            // Another task installed it meanwhile: use theirs.
            Err(_) if self.cached(digest).is_some() => {
                let _ = std::fs::remove_dir_all(work);
            }
            Err(error) => return Err(io("installing the image")(error)),
        }
        self.cached(digest).ok_or_else(|| OciError::Invalid {
            what: "the image cache".into(),
            why: "an installed image could not be read back".into(),
        })
    }

    /// Images in the cache: (last used, bytes, digest), oldest first.
    pub fn list(&self) -> Result<Vec<(SystemTime, u64, Digest)>, OciError> {
        let mut images = Vec::new();
        for entry in std::fs::read_dir(self.root.join("images")).map_err(io("listing images"))? {
            let entry = entry.map_err(io("listing images"))?;
            let Some(digest) = entry
                .file_name()
                .to_str()
                .and_then(|hex_part| Digest::parse(&format!("sha256:{hex_part}")).ok())
            else {
                continue;
            };
            let size_file = entry.path().join("size");
            let bytes = std::fs::read_to_string(&size_file)
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .unwrap_or(0);
            let used = std::fs::metadata(&size_file)
                .and_then(|meta| meta.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            images.push((used, bytes, digest));
        }
        images.sort();
        Ok(images)
    }

    /// Removes least recently used images not in use until the cache is within its bound.
    fn evict(&self) -> Result<(), OciError> {
        let images = self.list()?;
        let mut total: u64 = images.iter().map(|(_, bytes, _)| bytes).sum();
        let in_use = self
            .in_use
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (_, bytes, digest) in images {
            if total <= self.max_bytes {
                break;
            }
            if in_use.contains_key(&digest) {
                continue;
            }
            std::fs::remove_dir_all(self.image_dir(&digest)).map_err(io("evicting an image"))?;
            tracing::info!(image = %digest, bytes, "evicted from the image cache");
            total -= bytes;
        }
        Ok(())
    }
}
