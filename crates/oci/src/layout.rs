//! OCI image layouts (the `oci-layout` directory format: `index.json` and
//! `blobs/sha256/<hex>`), as a directory or as a tar archive of one, which is what a buyer
//! uploads to the chain node's blob store for a node to run (`docker save` from Docker 25 on,
//! `skopeo copy … oci-archive:`, `umoci`, and `vcity image build` all write one).

use crate::{io, Blobs, Digest, Index, OciError};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The `index.json` of a layout archive, read without unpacking anything else.
pub fn archive_index(archive: impl Read) -> Result<Index, OciError> {
    let broken = |why: String| OciError::Invalid {
        what: "the image archive".into(),
        why,
    };
    let mut archive = tar::Archive::new(archive);
    for entry in archive
        .entries()
        .map_err(|error| broken(format!("not a tar archive: {error}")))?
    {
        let entry = entry.map_err(|error| broken(format!("a damaged entry: {error}")))?;
        let path = entry
            .path()
            .map_err(|error| broken(format!("an unreadable path: {error}")))?
            .into_owned();
        if path.to_string_lossy().trim_start_matches("./") == "index.json" {
            let mut bytes = Vec::new();
            entry
                .take(4 * 1024 * 1024)
                .read_to_end(&mut bytes)
                .map_err(|error| broken(format!("reading index.json: {error}")))?;
            return crate::parse("index.json", &bytes);
        }
    }
    Err(broken("no index.json: not an OCI image layout".into()))
}

/// A layout on disk.
#[derive(Debug, Clone)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// The layout in directory `dir`.
    pub fn open(dir: &Path) -> Result<Layout, OciError> {
        let marker = std::fs::read(dir.join("oci-layout")).map_err(io(format!(
            "{} is not an OCI image layout (no oci-layout file)",
            dir.display()
        )))?;
        let marker: serde_json::Value = crate::parse("oci-layout", &marker)?;
        if marker["imageLayoutVersion"] != "1.0.0" {
            return Err(OciError::Invalid {
                what: "oci-layout".into(),
                why: format!("version {} is not 1.0.0", marker["imageLayoutVersion"]),
            });
        }
        Ok(Layout {
            dir: dir.to_path_buf(),
        })
    }

    /// Unpacks the layout archive `archive` (a tar of a layout directory; only `oci-layout`,
    /// `index.json` and `blobs/sha256/<hex>` are taken, as regular files, at most `limit` bytes
    /// in all) into `dir`, then opens it.
    pub fn from_archive(archive: impl Read, dir: &Path, limit: u64) -> Result<Layout, OciError> {
        std::fs::create_dir_all(dir.join("blobs").join("sha256"))
            .map_err(io("creating the layout directory"))?;
        let mut archive = tar::Archive::new(archive);
        let broken = |why: String| OciError::Invalid {
            what: "the image archive".into(),
            why,
        };
        let mut left = limit;
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
                .into_owned();
            let text = path.to_string_lossy();
            let text = text.trim_start_matches("./");
            let destination = match text {
                "oci-layout" | "index.json" => dir.join(text),
                _ => match text.strip_prefix("blobs/sha256/") {
                    Some(hex_part)
                        if hex_part.len() == 64
                            && hex_part
                                .bytes()
                                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) =>
                    {
                        dir.join("blobs").join("sha256").join(hex_part)
                    }
                    _ => continue,
                },
            };
            let mut out = std::fs::File::create(&destination)
                .map_err(io(format!("writing {}", destination.display())))?;
            let copied = std::io::copy(&mut (&mut entry).take(left.saturating_add(1)), &mut out)
                .map_err(|error| broken(format!("reading {text}: {error}")))?;
            left = left.checked_sub(copied).ok_or(OciError::TooLarge {
                what: "the image archive".into(),
                limit,
            })?;
        }
        Layout::open(dir)
    }

    /// The manifests `index.json` lists (usually one image).
    pub fn index(&self) -> Result<Index, OciError> {
        let bytes = std::fs::read(self.dir.join("index.json")).map_err(io("reading index.json"))?;
        crate::parse("index.json", &bytes)
    }

    /// The one image the layout holds: the digest of the only manifest in `index.json`.
    pub fn only_image(&self) -> Result<Digest, OciError> {
        let index = self.index()?;
        match index.manifests.as_slice() {
            [only] => Digest::parse(&only.digest),
            entries => Err(OciError::Invalid {
                what: "index.json".into(),
                why: format!(
                    "it lists {} images; name the one to run by its digest",
                    entries.len()
                ),
            }),
        }
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs").join("sha256").join(digest.hex())
    }
}

impl Blobs for Layout {
    fn fetch(
        &mut self,
        digest: &Digest,
        size: Option<u64>,
        limit: u64,
        into: &Path,
    ) -> Result<(), OciError> {
        let path = self.blob_path(digest);
        let what = format!("blob {digest}");
        let length = std::fs::metadata(&path)
            .map_err(io(format!("{what} is not in the layout")))?
            .len();
        crate::check_size(&what, size, length, limit)?;
        let mut hasher = crate::HashingWriter::new(
            std::fs::File::create(into).map_err(io(format!("writing {}", into.display())))?,
        );
        let mut source = std::fs::File::open(&path).map_err(io(format!("reading {what}")))?;
        std::io::copy(&mut source, &mut hasher).map_err(io(format!("copying {what}")))?;
        hasher.finish(&what, digest)
    }

    fn manifest(
        &mut self,
        digest: &Digest,
        limit: u64,
    ) -> Result<(Vec<u8>, Option<String>), OciError> {
        let path = self.blob_path(digest);
        let what = format!("manifest {digest}");
        let length = std::fs::metadata(&path)
            .map_err(io(format!("{what} is not in the layout")))?
            .len();
        crate::check_size(&what, None, length, limit)?;
        let bytes = std::fs::read(&path).map_err(io(format!("reading {what}")))?;
        digest.verify(&what, &bytes)?;
        Ok((bytes, None))
    }
}
