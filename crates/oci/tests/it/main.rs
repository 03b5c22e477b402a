//! Images end to end: built here, served by the crate's own registry on 127.0.0.1 or loaded
//! from a layout archive, unpacked into the cache; and every way a hostile or broken image is
//! refused with nothing left behind (issue 19: wrong digest, truncated layer, path traversal,
//! oversized image).

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use vcity_oci::builder::{Built, ImageBuilder};
use vcity_oci::layout::Layout;
use vcity_oci::registry::{Reference, Registry};
use vcity_oci::store::Store;
use vcity_oci::{Digest, Limits, OciError, RunConfig};

fn good_image() -> Built {
    let mut image = ImageBuilder::new();
    image
        .directory("bin", 0o755)
        .file("bin/app", 0o4755, b"#!/not/really\n")
        .file("etc/motd", 0o644, b"lower\n")
        .file("etc/gone", 0o644, b"deleted above\n")
        .file("var/cache/old", 0o644, b"hidden by an opaque whiteout\n")
        .link(tar::EntryType::Symlink, "bin/sh", "app")
        .link(
            tar::EntryType::Symlink,
            "etc/localtime",
            "/usr/share/zoneinfo/UTC",
        )
        .next_layer()
        .file("etc/motd", 0o600, b"upper\n")
        .file("etc/.wh.gone", 0o644, b"")
        .file("var/cache/.wh..wh..opq", 0o644, b"")
        .file("var/cache/new", 0o644, b"from the upper layer\n")
        .link(tar::EntryType::Link, "bin/app-again", "bin/app")
        .config(RunConfig {
            entrypoint: Some(vec!["/bin/app".into()]),
            cmd: Some(vec!["--serve".into()]),
            env: Some(vec!["PATH=/bin".into()]),
            working_dir: Some("/".into()),
            user: None,
        });
    image.build().expect("builds")
}

fn store(dir: &Path, limits: Limits) -> Store {
    Store::open(&dir.join("cache"), 1 << 30, limits).expect("opens")
}

/// Nothing of a failed install is left: no image, no work directory.
fn assert_nothing_left(dir: &Path, digest: &Digest) {
    let images = dir.join("cache/images");
    assert!(!images.join(digest.hex()).exists(), "a half image is left");
    let work: Vec<_> = std::fs::read_dir(dir.join("cache/work"))
        .expect("work dir")
        .collect();
    assert!(work.is_empty(), "work left behind: {work:?}");
}

#[test]
fn an_image_from_a_layout_archive_unpacks_with_its_layers_applied_and_setuid_cleared() {
    let dir = tempfile::tempdir().expect("tempdir");
    let built = good_image();
    let archive = built.archive().expect("archive");
    let mut layout = Layout::from_archive(archive.as_slice(), &dir.path().join("layout"), 1 << 20)
        .expect("layout");
    assert_eq!(layout.only_image().expect("one image"), built.digest);
    let store = store(dir.path(), Limits::default());
    let image = store.get(&built.digest, &mut layout).expect("installs");
    let root = &image.rootfs;
    assert_eq!(
        std::fs::read(root.join("etc/motd")).expect("motd"),
        b"upper\n"
    );
    assert!(!root.join("etc/gone").exists(), "whiteout applied");
    assert!(
        !root.join("var/cache/old").exists(),
        "opaque whiteout applied"
    );
    assert!(root.join("var/cache/new").exists());
    let mode = std::fs::metadata(root.join("bin/app"))
        .expect("app")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o755, "setuid cleared");
    assert_eq!(
        std::fs::read_link(root.join("etc/localtime")).expect("link"),
        Path::new("/usr/share/zoneinfo/UTC")
    );
    assert_eq!(
        std::fs::read(root.join("bin/app-again")).expect("hard link"),
        b"#!/not/really\n"
    );
    for mount_point in ["proc", "dev", "tmp", "input"] {
        assert!(root.join(mount_point).is_dir(), "{mount_point}");
    }
    assert_eq!(image.config.argv(None, None), ["/bin/app", "--serve"]);
    // The second time it comes from the cache.
    let again = store.get(&built.digest, &mut layout).expect("cached");
    assert_eq!(again.rootfs, image.rootfs);
}

#[test]
fn an_image_pulled_from_a_registry_on_loopback_matches_its_digest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let built = good_image();
    built.write_dir(&dir.path().join("served")).expect("layout");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let server = vcity_oci::serve::spawn(listener, &dir.path().join("served")).expect("serve");
    let reference = format!("{}/vcity/good:latest", server.address);
    let mut registry = Registry::new(Reference::parse(&reference).expect("reference"));
    let store = store(dir.path(), Limits::default());
    let image = store.get(&built.digest, &mut registry).expect("pulls");
    assert_eq!(
        std::fs::read(image.rootfs.join("etc/motd")).expect("motd"),
        b"upper\n"
    );
    // A digest the registry does not have.
    let missing = Digest::of(b"no such manifest");
    let error = store.get(&missing, &mut registry).expect_err("missing");
    assert!(matches!(error, OciError::Registry { .. }), "{error}");
    assert_nothing_left(dir.path(), &missing);
}

/// A registry serving `built` with one blob file rewritten by `damage`.
fn damaged(
    dir: &Path,
    built: &Built,
    which: usize,
    damage: impl Fn(Vec<u8>) -> Vec<u8>,
) -> Registry {
    let served = dir.join("served");
    built.write_dir(&served).expect("layout");
    let (digest, bytes) = &built.blobs[which];
    std::fs::write(
        served.join("blobs/sha256").join(digest.hex()),
        damage(bytes.clone()),
    )
    .expect("damage");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let server = vcity_oci::serve::spawn(listener, &served).expect("serve");
    Registry::new(Reference::parse(&format!("{}/vcity/x", server.address)).expect("reference"))
}

#[test]
fn a_layer_that_does_not_match_its_digest_is_refused_and_nothing_is_left() {
    let dir = tempfile::tempdir().expect("tempdir");
    let built = good_image();
    // Blob 0 is the first layer: same size, one byte changed.
    let mut registry = damaged(dir.path(), &built, 0, |mut bytes| {
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        bytes
    });
    let error = store(dir.path(), Limits::default())
        .get(&built.digest, &mut registry)
        .expect_err("refused");
    assert!(matches!(error, OciError::DigestMismatch { .. }), "{error}");
    assert!(
        error.to_string().contains("does not match its digest"),
        "{error}"
    );
    assert_nothing_left(dir.path(), &built.digest);
}

#[test]
fn a_truncated_layer_is_refused_and_nothing_is_left() {
    let dir = tempfile::tempdir().expect("tempdir");
    let built = good_image();
    let mut registry = damaged(dir.path(), &built, 1, |bytes| {
        bytes[..bytes.len() / 2].to_vec()
    });
    let error = store(dir.path(), Limits::default())
        .get(&built.digest, &mut registry)
        .expect_err("refused");
    assert!(matches!(error, OciError::SizeMismatch { .. }), "{error}");
    assert_nothing_left(dir.path(), &built.digest);
}

#[test]
fn a_manifest_that_does_not_match_the_jobs_digest_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let built = good_image();
    let manifest = built.blobs.len() - 1;
    let mut registry = damaged(dir.path(), &built, manifest, |mut bytes| {
        bytes.push(b' ');
        bytes
    });
    let error = store(dir.path(), Limits::default())
        .get(&built.digest, &mut registry)
        .expect_err("refused");
    assert!(matches!(error, OciError::DigestMismatch { .. }), "{error}");
    assert_nothing_left(dir.path(), &built.digest);
}

/// Installs a one-layer image made by `make` from a layout archive; the error.
fn refused(make: impl FnOnce(&mut ImageBuilder)) -> (OciError, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut image = ImageBuilder::new();
    make(&mut image);
    let built = image.build().expect("builds");
    let mut layout = Layout::from_archive(
        built.archive().expect("archive").as_slice(),
        &dir.path().join("layout"),
        1 << 20,
    )
    .expect("layout");
    let error = store(dir.path(), Limits::default())
        .get(&built.digest, &mut layout)
        .expect_err("refused");
    assert_nothing_left(dir.path(), &built.digest);
    (error, dir)
}

/// Puts a hostile entry into an image.
type Make = dyn FnOnce(&mut ImageBuilder);

#[test]
fn path_traversal_links_out_and_device_nodes_are_refused() {
    let cases: Vec<(&str, Box<Make>, &str)> = vec![
        (
            "a .. path",
            Box::new(|image| {
                image.raw(tar::EntryType::Regular, b"../../escaped", b"x");
            }),
            "`..`",
        ),
        (
            "an absolute path",
            Box::new(|image| {
                image.raw(tar::EntryType::Regular, b"/etc/escaped", b"x");
            }),
            "absolute",
        ),
        (
            "a write through a symbolic link",
            Box::new(|image| {
                image.link(tar::EntryType::Symlink, "up", "/").raw(
                    tar::EntryType::Regular,
                    b"up/escaped",
                    b"x",
                );
            }),
            "symbolic link",
        ),
        (
            "a symbolic link climbing out",
            Box::new(|image| {
                image.link(tar::EntryType::Symlink, "a/b", "../../../etc");
            }),
            "leaves the image",
        ),
        (
            "a hard link to outside",
            Box::new(|image| {
                image.link(tar::EntryType::Link, "passwd", "../../../etc/passwd");
            }),
            "hard link",
        ),
        (
            "a hard link to a link",
            Box::new(|image| {
                image
                    .link(tar::EntryType::Symlink, "l", "/etc/passwd")
                    .link(tar::EntryType::Link, "h", "l");
            }),
            "not a regular file",
        ),
        (
            "a device node",
            Box::new(|image| {
                image.raw(tar::EntryType::Char, b"dev/mem", b"");
            }),
            "device node",
        ),
    ];
    for (name, make, expected) in cases {
        let (error, dir) = refused(make);
        assert!(
            matches!(error, OciError::UnsafeEntry { .. }),
            "{name}: {error}"
        );
        assert!(error.to_string().contains(expected), "{name}: {error}");
        // Nothing was written outside the cache either.
        assert!(!dir.path().join("escaped").exists(), "{name}");
        assert!(!Path::new("/etc/escaped").exists(), "{name}");
    }
}

#[test]
fn an_oversized_image_is_refused_and_nothing_is_left() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut image = ImageBuilder::new();
    image.file("big", 0o644, &vec![0u8; 256 * 1024]);
    let built = image.build().expect("builds");
    let mut layout = Layout::from_archive(
        built.archive().expect("archive").as_slice(),
        &dir.path().join("layout"),
        1 << 20,
    )
    .expect("layout");
    let small = Limits {
        unpacked_bytes: 64 * 1024,
        ..Limits::default()
    };
    let error = store(dir.path(), small)
        .get(&built.digest, &mut layout)
        .expect_err("refused");
    assert!(matches!(error, OciError::TooLarge { .. }), "{error}");
    assert!(
        error.to_string().contains("over the limit of 65536 bytes"),
        "{error}"
    );
    assert_nothing_left(dir.path(), &built.digest);
    // The compressed download is bounded too, and so is the archive a buyer uploads.
    let few = Limits {
        download_bytes: 16,
        ..Limits::default()
    };
    let error = store(dir.path(), few)
        .get(&built.digest, &mut layout)
        .expect_err("refused");
    assert!(matches!(error, OciError::TooLarge { .. }), "{error}");
    let error = Layout::from_archive(
        built.archive().expect("archive").as_slice(),
        &dir.path().join("layout-small"),
        1024,
    )
    .expect_err("refused");
    assert!(matches!(error, OciError::TooLarge { .. }), "{error}");
}

#[test]
fn the_cache_evicts_the_least_recently_used_image_but_never_one_in_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image = |name: &str| {
        let mut image = ImageBuilder::new();
        image.file(name, 0o644, &vec![1u8; 100 * 1024]);
        image.build().expect("builds")
    };
    let (first, second, third) = (image("a"), image("b"), image("c"));
    let store =
        Store::open(&dir.path().join("cache"), 250 * 1024, Limits::default()).expect("opens");
    let install = |built: &Built, name: &str| {
        let mut layout = Layout::from_archive(
            built.archive().expect("archive").as_slice(),
            &dir.path().join(name),
            1 << 20,
        )
        .expect("layout");
        store.get(&built.digest, &mut layout).expect("installs")
    };
    install(&first, "first");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let _held = store.hold(&first.digest);
    install(&second, "second");
    std::thread::sleep(std::time::Duration::from_millis(20));
    // 300 KiB > 250 KiB: the least recently used not in use (the second) goes.
    install(&third, "third");
    assert!(store.cached(&first.digest).is_some(), "in use: kept");
    assert!(store.cached(&second.digest).is_none(), "evicted");
    assert!(store.cached(&third.digest).is_some(), "just installed");
}

/// A `docker save` archive in Docker's own format (before Docker 25): `manifest.json`, the
/// configuration, and `layers` as uncompressed tars under `<n>/layer.tar`.
fn docker_save(images: usize, layers: &[&[(&str, &[u8])]]) -> Vec<u8> {
    let mut archive = tar::Builder::new(Vec::new());
    let add = |archive: &mut tar::Builder<Vec<u8>>, path: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_size(bytes.len() as u64);
        header.set_path(path).expect("path");
        header.set_cksum();
        archive.append(&header, bytes).expect("append");
    };
    let mut names = Vec::new();
    let mut diff_ids = Vec::new();
    for (index, files) in layers.iter().enumerate() {
        let mut layer = tar::Builder::new(Vec::new());
        for (path, bytes) in *files {
            add(&mut layer, path, bytes);
        }
        let layer = layer.into_inner().expect("layer");
        diff_ids.push(Digest::of(&layer).to_string());
        let name = format!("{index}/layer.tar");
        add(&mut archive, &name, &layer);
        names.push(name);
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/bin/app"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .expect("config");
    add(&mut archive, "cafe.json", &config);
    let entry =
        serde_json::json!({"Config": "cafe.json", "RepoTags": ["team/app:1"], "Layers": names});
    let manifest = serde_json::to_vec(&vec![entry; images]).expect("manifest");
    add(&mut archive, "manifest.json", &manifest);
    archive.into_inner().expect("archive")
}

#[test]
fn a_docker_save_archive_from_before_docker_25_converts_to_a_layout_that_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let saved = docker_save(
        1,
        &[
            &[("bin/app", b"#!/lower\n"), ("etc/motd", b"lower\n")],
            &[("etc/motd", b"upper\n")],
        ],
    );
    assert!(vcity_oci::legacy::is_docker_save(saved.as_slice()));
    assert!(!vcity_oci::legacy::is_docker_save(
        good_image().archive().expect("archive").as_slice()
    ));
    let built = vcity_oci::legacy::convert(saved.as_slice(), 1 << 20).expect("converts");
    // Deterministic: the digest a job names is the same every time.
    assert_eq!(
        vcity_oci::legacy::convert(saved.as_slice(), 1 << 20)
            .expect("again")
            .digest,
        built.digest
    );
    let archive = built.archive().expect("archive");
    let mut layout = Layout::from_archive(archive.as_slice(), &dir.path().join("layout"), 1 << 20)
        .expect("layout");
    assert_eq!(layout.only_image().expect("one image"), built.digest);
    let image = store(dir.path(), Limits::default())
        .get(&built.digest, &mut layout)
        .expect("installs");
    assert_eq!(
        std::fs::read(image.rootfs.join("etc/motd")).expect("motd"),
        b"upper\n"
    );
    assert_eq!(image.config.argv(None, None), ["/bin/app"]);
    // One image per archive; every layer it names must be there; a size limit holds.
    let two = docker_save(2, &[&[("a", b"a")]]);
    assert!(vcity_oci::legacy::convert(two.as_slice(), 1 << 20).is_err());
    assert!(matches!(
        vcity_oci::legacy::convert(saved.as_slice(), 100),
        Err(OciError::TooLarge { .. })
    ));
}
