//! `vcity image`: OCI images for image jobs (docs/job-spec.md, "Image jobs") without Docker:
//! package a static program as a one-layer image, look into a layout archive, and serve a
//! layout directory as a read-only registry that nodes can pull from.

use anyhow::{bail, Context as _};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use vcity_oci::builder::ImageBuilder;
use vcity_oci::RunConfig;

/// `vcity image …`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Package a static Linux program as an image: the program at /bin/NAME, run as its
    /// entrypoint; writes an OCI layout archive (`--out`) or directory (`--out-dir`).
    Build {
        /// The program (a static executable: the image holds nothing else).
        #[arg(required_unless_present = "example", conflicts_with = "example")]
        program: Option<PathBuf>,
        /// Package an example workload's static executable instead (matmul, hashchain, blur,
        /// render, train), built from this repository's sources.
        #[arg(long)]
        example: Option<String>,
        /// Its name in the image [default: the file's name].
        #[arg(long)]
        name: Option<String>,
        /// Arguments after it (the image's command; repeatable).
        #[arg(long = "arg")]
        args: Vec<String>,
        /// Environment variables, NAME=VALUE (repeatable).
        #[arg(long)]
        env: Vec<String>,
        /// Extra files, HOST_PATH=IMAGE_PATH (repeatable).
        #[arg(long)]
        file: Vec<String>,
        /// Write the layout archive here (what a job's `image_file` names).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the layout as a directory here (what `vcity image serve` serves).
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    /// Package a vcity binary as an image for running a node in a container
    /// (docs/operators.md, "Container image"): the binary at /usr/local/bin/vcity, the shared
    /// libraries it loads (as `ldd` lists them), and a home at /var/lib/vcity. Loadable with
    /// `podman load` or `docker load` (Docker 25 or later reads OCI layouts).
    Node {
        /// The vcity binary [default: this one].
        #[arg(long)]
        binary: Option<PathBuf>,
        /// Write the layout archive here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the layout as a directory here.
        #[arg(long)]
        out_dir: Option<PathBuf>,
        /// The name `podman load` / `docker load` tag the image with.
        #[arg(long, default_value = concat!("vcity-node:", env!("CARGO_PKG_VERSION")))]
        name: String,
    },
    /// The images a layout archive holds, by manifest digest (an archive from `docker save`
    /// before Docker 25 is shown as the layout it is converted to when uploaded).
    Inspect {
        /// The archive.
        archive: PathBuf,
    },
    /// Serve a layout directory as a read-only registry (plain HTTP): nodes pull
    /// `ADDRESS/<any name>` by digest.
    Serve {
        /// The layout directory.
        dir: PathBuf,
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:5000")]
        listen: String,
    },
}

/// Runs `vcity image …`.
pub fn image(command: ImageCommand, json: bool) -> anyhow::Result<()> {
    match command {
        ImageCommand::Build {
            program,
            example,
            name,
            args,
            env,
            file,
            out,
            out_dir,
        } => {
            let (bytes, default_name) = match (&program, &example) {
                (Some(program), _) => {
                    let bytes = std::fs::read(program)
                        .with_context(|| format!("reading {}", program.display()))?;
                    let name = program
                        .file_name()
                        .and_then(|name| name.to_str())
                        .map(str::to_string);
                    (bytes, name)
                }
                (None, Some(example)) => {
                    let workload = vcity_workloads::by_name(example).with_context(|| {
                        let names: Vec<_> = vcity_workloads::ALL.iter().map(|w| w.name).collect();
                        format!("no example {example:?}; there are {}", names.join(", "))
                    })?;
                    if workload.native.is_empty() {
                        bail!("this build has no native examples (they are built on Linux only)");
                    }
                    (workload.native.to_vec(), Some(example.clone()))
                }
                (None, None) => bail!("give a PROGRAM or --example NAME"),
            };
            if !bytes.starts_with(b"\x7fELF") {
                bail!("the program is not a Linux executable");
            }
            let name = match name.or(default_name) {
                Some(name) => name,
                None => bail!("the program has no file name; give --name"),
            };
            if !vcity_types::compute::valid_program_name(&name) {
                bail!("--name {name:?} is 1 to 32 of A-Z a-z 0-9 . _ - (not starting with a dot)");
            }
            for entry in &env {
                if !entry.contains('=') {
                    bail!("--env {entry:?} is NAME=VALUE");
                }
            }
            let mut image = ImageBuilder::new();
            image
                .directory("bin", 0o755)
                .file(&format!("bin/{name}"), 0o755, &bytes);
            for entry in &file {
                let (host, inside) = entry
                    .split_once('=')
                    .with_context(|| format!("--file {entry:?} is HOST_PATH=IMAGE_PATH"))?;
                let contents = std::fs::read(host).with_context(|| format!("reading {host}"))?;
                image.file(inside.trim_start_matches('/'), 0o644, &contents);
            }
            let mut environment = vec!["PATH=/bin".to_string()];
            environment.extend(env);
            image.config(RunConfig {
                entrypoint: Some(vec![format!("/bin/{name}")]),
                cmd: (!args.is_empty()).then_some(args),
                env: Some(environment),
                working_dir: Some("/tmp".into()),
                user: None,
            });
            if out.is_none() && out_dir.is_none() {
                bail!("give --out FILE (an archive) or --out-dir DIR (a layout directory)");
            }
            write_image(&mut image, None, out, out_dir, json)
        }
        ImageCommand::Node {
            binary,
            out,
            out_dir,
            name,
        } => {
            if out.is_none() && out_dir.is_none() {
                bail!("give --out FILE (an archive) or --out-dir DIR (a layout directory)");
            }
            let binary = match binary {
                Some(path) => path,
                None => std::env::current_exe().context("finding this vcity binary")?,
            };
            let mut image = node_image(&binary)?;
            write_image(&mut image, Some(&name), out, out_dir, json)
        }
        ImageCommand::Inspect { archive } => {
            let bytes = std::fs::read(&archive)
                .with_context(|| format!("reading {}", archive.display()))?;
            let index = vcity_oci::layout::archive_index(as_layout(bytes)?.as_slice())?;
            if json {
                crate::shared::print_json(&serde_json::to_value(&index)?)?;
            } else {
                for entry in &index.manifests {
                    println!("{} ({} bytes)", entry.digest, entry.size);
                }
            }
            Ok(())
        }
        ImageCommand::Serve { dir, listen } => {
            vcity_oci::layout::Layout::open(&dir)?;
            let listener = std::net::TcpListener::bind(&listen)
                .with_context(|| format!("binding {listen}"))?;
            let server = vcity_oci::serve::spawn(listener, &dir)?;
            if json {
                crate::shared::print_json(
                    &serde_json::json!({"event": "serving", "address": server.address.to_string()}),
                )?;
            } else {
                println!(
                    "serving {} at http://{} (pull as {}/<name>)",
                    dir.display(),
                    server.address,
                    server.address
                );
            }
            loop {
                std::thread::park();
            }
        }
    }
}

/// Builds `image` and writes it as an archive, a layout directory or both; prints its digest.
fn write_image(
    image: &mut ImageBuilder,
    name: Option<&str>,
    out: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<()> {
    let mut built = image.build()?;
    if let Some(name) = name {
        built = built.named(name)?;
    }
    if let Some(dir) = &out_dir {
        built.write_dir(dir)?;
    }
    let mut size = None;
    if let Some(path) = &out {
        let archive = built.archive()?;
        size = Some(archive.len());
        std::fs::write(path, &archive).with_context(|| format!("writing {}", path.display()))?;
    }
    if json {
        crate::shared::print_json(&serde_json::json!({
            "digest": built.digest.to_string(),
            "archive": out.map(|path| path.display().to_string()),
            "archive_bytes": size,
            "dir": out_dir.map(|path| path.display().to_string()),
        }))?;
    } else {
        println!("{}", built.digest);
    }
    Ok(())
}

/// Where the node image keeps its home (a volume in `docker run -v`).
const NODE_HOME: &str = "/var/lib/vcity";

/// The node image of `binary`: the binary, each shared library `ldd` lists for it at the path
/// the loader will look for it, and the home directory. The NVIDIA driver's libraries are not in
/// it: NVML is opened at run time, and the NVIDIA container toolkit (`docker run --gpus all`)
/// mounts the host driver's libraries into the container.
fn node_image(binary: &Path) -> anyhow::Result<ImageBuilder> {
    let bytes = std::fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    if !bytes.starts_with(b"\x7fELF") {
        bail!("{} is not a Linux executable", binary.display());
    }
    let libraries = shared_libraries(binary)?;
    let mut image = ImageBuilder::new();
    let mut directories = std::collections::BTreeSet::new();
    let mut add_parents = |image: &mut ImageBuilder, path: &str| {
        let mut parent = String::new();
        for part in path.split('/').filter(|part| !part.is_empty()) {
            if !parent.is_empty() {
                if directories.insert(parent.clone()) {
                    image.directory(&parent, 0o755);
                }
                parent.push('/');
            }
            parent.push_str(part);
        }
    };
    image.directory("tmp", 0o1777);
    add_parents(
        &mut image,
        &format!("{}/home", NODE_HOME.trim_start_matches('/')),
    );
    add_parents(&mut image, "usr/local/bin/vcity");
    image.file("usr/local/bin/vcity", 0o755, &bytes);
    for library in &libraries {
        let inside = library.display().to_string();
        let inside = inside.trim_start_matches('/');
        let contents =
            std::fs::read(library).with_context(|| format!("reading {}", library.display()))?;
        add_parents(&mut image, inside);
        image.file(inside, 0o755, &contents);
    }
    image.config(RunConfig {
        entrypoint: Some(vec!["/usr/local/bin/vcity".into()]),
        cmd: Some(vec!["--help".into()]),
        env: Some(vec![
            "PATH=/usr/local/bin:/usr/bin:/bin".into(),
            format!("HOME={NODE_HOME}"),
            format!("VCITY_HOME={NODE_HOME}"),
        ]),
        working_dir: Some(NODE_HOME.into()),
        user: None,
    });
    Ok(image)
}

/// The shared libraries `binary` loads, the dynamic loader included, as `ldd` resolves them on
/// this machine (none for a static binary).
fn shared_libraries(binary: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let output = std::process::Command::new("ldd")
        .arg(binary)
        .output()
        .context("running ldd (from the C library's tools) to list the binary's libraries")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        if text.contains("not a dynamic executable")
            || String::from_utf8_lossy(&output.stderr).contains("not a dynamic executable")
        {
            return Ok(Vec::new());
        }
        bail!(
            "ldd {} failed: {}",
            binary.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let mut libraries = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.contains("statically linked") || line.starts_with("linux-vdso") {
            continue;
        }
        if line.contains("=> not found") {
            bail!(
                "{} needs a library this machine lacks: {line}",
                binary.display()
            );
        }
        // `name => /path (address)`, or `/path (address)` for the loader.
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.trim(),
            None => line,
        };
        let path = path.split(" (").next().unwrap_or_default().trim();
        if path.starts_with('/') {
            libraries.push(PathBuf::from(path));
        }
    }
    Ok(libraries)
}

/// Most bytes of a `docker save` archive converted in memory.
const MAX_DOCKER_SAVE_BYTES: u64 = 256 * 1024 * 1024;

/// An image archive as an OCI layout archive: as it is, or converted from the format of
/// `docker save` before Docker 25 (`vcity_oci::legacy`), which is what gets uploaded.
pub fn as_layout(bytes: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    if !vcity_oci::legacy::is_docker_save(bytes.as_slice()) {
        return Ok(bytes);
    }
    let built = vcity_oci::legacy::convert(bytes.as_slice(), MAX_DOCKER_SAVE_BYTES)
        .context("converting a docker save archive to an OCI layout")?;
    Ok(built.archive()?)
}
