//! Applying layers to a root file system, entry by entry, refusing anything that could reach
//! outside it or that a task has no business holding.
//!
//! Rules, for every entry of every layer (tar, or tar+gzip):
//! - its path is relative and has no `..` (a leading `./` is fine); nothing is written through a
//!   symbolic link: every directory on the way must be a real directory of the image;
//! - a hard link names a regular file already in the image (never a link, never outside);
//! - a symbolic link is created as it is, never followed here: an absolute target resolves
//!   against the image's root inside the sandbox, and a relative one must not climb above the
//!   root (lexically);
//! - character and block devices and FIFOs are refused (the sandbox gives its own `/dev`);
//! - setuid, setgid and sticky bits are cleared; directories stay writable by their owner (the
//!   node) so later layers can change them; owners are not kept (the task runs as one user);
//! - `.wh.NAME` deletes `NAME` from the layers below; `.wh..wh..opq` empties its directory of
//!   what the layers below put there;
//! - the bytes and entries of the whole image are bounded.

use crate::{io, Digest, OciError};
use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Component, Path, PathBuf};

/// What is left of an image's size bounds while its layers are applied.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Bytes of file content left.
    pub bytes: u64,
    /// Entries left.
    pub entries: u64,
    limits: crate::Limits,
}

impl Budget {
    /// The whole of `limits`.
    pub fn new(limits: &crate::Limits) -> Budget {
        Budget {
            bytes: limits.unpacked_bytes,
            entries: limits.entries,
            limits: *limits,
        }
    }

    /// Bytes of file content used so far.
    pub fn used_bytes(&self) -> u64 {
        self.limits.unpacked_bytes - self.bytes
    }
}

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// The directories every root gets (mount points for the sandbox).
pub const MOUNT_POINTS: [&str; 5] = ["proc", "dev", "tmp", "input", "output"];

/// A path inside the image: its normal components, or why it is refused.
fn inside(path: &Path) -> Result<PathBuf, String> {
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err("an absolute path".into());
            }
            Component::ParentDir => return Err("a `..` in the path".into()),
        }
    }
    Ok(clean)
}

/// Makes sure every directory from `root` down to `root/relative` is a real directory (creating
/// missing ones), never a symbolic link.
fn real_directories(root: &Path, relative: &Path) -> Result<(), String> {
    let mut at = root.to_path_buf();
    for part in relative.components() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(format!(
                    "{} is a symbolic link: nothing is written through one",
                    display(root, &at)
                ));
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                // A file where a directory is needed: a later layer replaces it.
                std::fs::remove_file(&at).map_err(|error| error.to_string())?;
                std::fs::create_dir(&at).map_err(|error| error.to_string())?;
            }
            Err(_) => std::fs::create_dir(&at).map_err(|error| error.to_string())?,
        }
    }
    Ok(())
}

fn display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).map_or_else(
        |_| path.display().to_string(),
        |rel| format!("/{}", rel.display()),
    )
}

/// Removes whatever is at `path` without following a link.
fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// Whether a symbolic link at `at` (inside the image) pointing to `target` stays inside it when
/// resolved lexically.
fn link_stays_inside(at: &Path, target: &Path) -> bool {
    let mut depth: i64 = if target.is_absolute() {
        0
    } else {
        at.parent()
            .map_or(0, |parent| parent.components().count() as i64)
    };
    for component in target.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

/// Applies the layer in `file` (gzip-compressed if `gzip`) to `root`.
pub fn apply_layer(
    root: &Path,
    file: &Path,
    gzip: bool,
    layer: &Digest,
    budget: &mut Budget,
) -> Result<(), OciError> {
    let opened = std::fs::File::open(file).map_err(io(format!("opening layer {layer}")))?;
    let reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(std::io::BufReader::new(
            opened,
        )))
    } else {
        Box::new(std::io::BufReader::new(opened))
    };
    let mut archive = tar::Archive::new(reader);
    let mut created: BTreeSet<PathBuf> = BTreeSet::new();
    let unsafe_entry = |path: &str, why: String| OciError::UnsafeEntry {
        layer: *layer,
        path: path.to_string(),
        why,
    };
    let broken = |why: String| OciError::Invalid {
        what: format!("layer {layer}"),
        why,
    };
    let entries = archive
        .entries()
        .map_err(|error| broken(format!("not a tar archive: {error}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|error| broken(format!("a damaged entry: {error}")))?;
        let written = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = entry
            .path()
            .map_err(|error| broken(format!("an unreadable path: {error}")))?
            .into_owned();
        let relative = inside(&path).map_err(|why| unsafe_entry(&written, why))?;
        let Some(name) = relative.file_name().and_then(|name| name.to_str()) else {
            continue; // the root directory itself
        };
        budget.entries = budget.entries.checked_sub(1).ok_or(OciError::TooLarge {
            what: "the image's number of entries".into(),
            limit: budget.limits.entries,
        })?;
        let parent = relative.parent().unwrap_or(Path::new(""));
        real_directories(root, parent).map_err(|why| unsafe_entry(&written, why))?;
        if name == OPAQUE {
            let directory = root.join(parent);
            let children = std::fs::read_dir(&directory).map_err(io("reading a directory"))?;
            for child in children {
                let child = child.map_err(io("reading a directory"))?.path();
                let child_relative = child.strip_prefix(root).unwrap_or(&child).to_path_buf();
                if !created.contains(&child_relative) {
                    remove(&child).map_err(io("applying an opaque whiteout"))?;
                }
            }
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT) {
            if hidden.is_empty() || hidden == "." || hidden == ".." {
                return Err(unsafe_entry(&written, "a whiteout of nothing".into()));
            }
            remove(&root.join(parent).join(hidden)).map_err(io("applying a whiteout"))?;
            continue;
        }
        let target = root.join(&relative);
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            match std::fs::symlink_metadata(&target) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    remove(&target).map_err(io("replacing an entry"))?;
                    std::fs::create_dir(&target).map_err(io("creating a directory"))?;
                }
                Err(_) => std::fs::create_dir(&target).map_err(io("creating a directory"))?,
            }
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode | 0o700))
                .map_err(io("setting a directory's mode"))?;
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            remove(&target).map_err(io("replacing an entry"))?;
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)
                .map_err(io(format!("creating /{}", relative.display())))?;
            let copied = std::io::copy(
                &mut (&mut entry).take(budget.bytes.saturating_add(1)),
                &mut out,
            )
            .map_err(|error| broken(format!("reading /{}: {error}", relative.display())))?;
            budget.bytes = budget.bytes.checked_sub(copied).ok_or(OciError::TooLarge {
                what: "the unpacked image".into(),
                limit: budget.limits.unpacked_bytes,
            })?;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
                .map_err(io("setting a file's mode"))?;
        } else if kind.is_symlink() {
            let link = entry
                .link_name()
                .map_err(|error| broken(format!("an unreadable link: {error}")))?
                .ok_or_else(|| unsafe_entry(&written, "a link without a target".into()))?
                .into_owned();
            if link.as_os_str().is_empty() || !link_stays_inside(&relative, &link) {
                return Err(unsafe_entry(
                    &written,
                    format!("a symbolic link to {} leaves the image", link.display()),
                ));
            }
            remove(&target).map_err(io("replacing an entry"))?;
            std::os::unix::fs::symlink(&link, &target).map_err(io("creating a symbolic link"))?;
        } else if kind.is_hard_link() {
            let link = entry
                .link_name()
                .map_err(|error| broken(format!("an unreadable link: {error}")))?
                .ok_or_else(|| unsafe_entry(&written, "a link without a target".into()))?
                .into_owned();
            let source = inside(&link).map_err(|why| {
                unsafe_entry(
                    &written,
                    format!("a hard link to {}: {why}", link.display()),
                )
            })?;
            let source_parent = source.parent().unwrap_or(Path::new(""));
            real_directories(root, source_parent).map_err(|why| unsafe_entry(&written, why))?;
            let source_path = root.join(&source);
            match std::fs::symlink_metadata(&source_path) {
                Ok(meta) if meta.is_file() => {}
                _ => {
                    return Err(unsafe_entry(
                        &written,
                        format!(
                            "a hard link to {}, which is not a regular file of the image",
                            link.display()
                        ),
                    ))
                }
            }
            if source_path != target {
                remove(&target).map_err(io("replacing an entry"))?;
                std::fs::hard_link(&source_path, &target).map_err(io("creating a hard link"))?;
            }
        } else if matches!(
            kind,
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo
        ) {
            return Err(unsafe_entry(
                &written,
                "a device node or FIFO (the sandbox provides its own /dev)".into(),
            ));
        } else {
            return Err(unsafe_entry(
                &written,
                format!("an unsupported entry type {kind:?}"),
            ));
        }
        created.insert(relative);
    }
    Ok(())
}

/// Gives `root` the mount points the sandbox binds over (real directories, replacing whatever
/// the image had there).
pub fn prepare_root(root: &Path) -> Result<(), OciError> {
    for name in MOUNT_POINTS {
        let path = root.join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => continue,
            Ok(_) => remove(&path).map_err(io(format!("replacing /{name}")))?,
            Err(_) => {}
        }
        std::fs::create_dir(&path).map_err(io(format!("creating /{name}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_links_are_checked_lexically() {
        assert_eq!(
            inside(Path::new("./usr/bin/x")),
            Ok(PathBuf::from("usr/bin/x"))
        );
        assert!(inside(Path::new("/etc/passwd")).is_err());
        assert!(inside(Path::new("usr/../../etc")).is_err());
        assert!(link_stays_inside(
            Path::new("usr/lib/x"),
            Path::new("../../bin/sh")
        ));
        assert!(!link_stays_inside(
            Path::new("usr/lib/x"),
            Path::new("../../../etc")
        ));
        assert!(link_stays_inside(
            Path::new("etc/localtime"),
            Path::new("/usr/share/zoneinfo/UTC")
        ));
        assert!(!link_stays_inside(Path::new("x"), Path::new("/../etc")));
    }
}
