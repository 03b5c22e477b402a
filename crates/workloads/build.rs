//! Builds the example workloads in `wasm/` with a nested cargo (its own workspace and target
//! directory under OUT_DIR), so they are always built from the kernels' current source: for
//! `wasm32-wasip1` (the modules of WASM jobs) and, on Linux, for the host as static executables
//! (`+crt-static`: they need no libraries, so they run alone in a process job's sandbox or as the
//! only file of an image, docs/job-spec.md).

use std::path::PathBuf;
use std::process::Command;

const PROGRAMS: [&str; 6] = ["matmul", "hashchain", "blur", "render", "train", "retrieve"];

/// Programs built only natively: the service portal (it needs Unix sockets) and the output
/// packer.
const NATIVE_ONLY: [&str; 2] = ["portal", "pack"];

/// The outer build's flags and wrappers (clippy's among them) are not for the nested builds.
const FOREIGN: [&str; 8] = [
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_WRAPPER",
    "CLIPPY_ARGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_PROFILE_RELEASE_DEBUG",
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("cargo:rerun-if-changed=wasm/src");
    println!("cargo:rerun-if-changed=wasm/Cargo.toml");
    println!("cargo:rerun-if-changed=wasm/Cargo.lock");
    println!("cargo:rerun-if-changed=../kernels/src");
    let target_dir = out_dir.join("target");
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip1",
        ])
        .arg("--manifest-path")
        .arg(manifest_dir.join("wasm/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    for variable in FOREIGN {
        command.env_remove(variable);
    }
    // SIMD128 is deterministic WebAssembly (NaNs aside, which the executor canonicalizes) and
    // lets LLVM vectorize the kernels as it does natively.
    command.env("RUSTFLAGS", "-C target-feature=+simd128");
    let output = command.output().expect("runs cargo for the wasm workloads");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint =
            if stderr.contains("wasm32-wasip1") && stderr.contains("target may not be installed") {
                "\n\nThe wasm32-wasip1 target is missing: run `rustup target add wasm32-wasip1`.\n"
            } else {
                ""
            };
        panic!("building the wasm workloads failed:\n{stderr}{hint}");
    }
    for program in PROGRAMS {
        let built = target_dir.join(format!("wasm32-wasip1/release/{program}.wasm"));
        std::fs::copy(&built, out_dir.join(format!("{program}.wasm")))
            .unwrap_or_else(|error| panic!("copying {}: {error}", built.display()));
    }
    build_native(&manifest_dir, &out_dir, &target_dir);
}

/// The same programs as static executables for the target, where it is Linux with glibc or
/// musl; elsewhere empty files (the crate says so at run time).
fn build_native(
    manifest_dir: &std::path::Path,
    out_dir: &std::path::Path,
    target_dir: &std::path::Path,
) {
    let target = std::env::var("TARGET").unwrap_or_default();
    let linux = target.contains("-linux-");
    if linux {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .args(["build", "--release", "--locked", "--target", &target])
            .arg("--manifest-path")
            .arg(manifest_dir.join("wasm/Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir);
        for variable in FOREIGN {
            command.env_remove(variable);
        }
        command.env("RUSTFLAGS", "-C target-feature=+crt-static");
        let output = command
            .output()
            .expect("runs cargo for the native workloads");
        if !output.status.success() {
            panic!(
                "building the static native workloads failed (a C toolchain and the static C \
                 library, e.g. Debian's libc6-dev, are needed):\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    for program in PROGRAMS.into_iter().chain(NATIVE_ONLY) {
        let destination = out_dir.join(format!("{program}.native"));
        if linux {
            let built = target_dir.join(format!("{target}/release/{program}"));
            std::fs::copy(&built, &destination)
                .unwrap_or_else(|error| panic!("copying {}: {error}", built.display()));
        } else {
            std::fs::write(&destination, b"").expect("writes an empty placeholder");
        }
    }
}
