//! Builds the example workloads in `wasm/` for `wasm32-wasip1` with a nested cargo (its own
//! workspace and target directory under OUT_DIR), so the modules are always built from the
//! kernels' current source.

use std::path::PathBuf;
use std::process::Command;

const PROGRAMS: [&str; 3] = ["matmul", "hashchain", "blur"];

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
    // The outer build's flags and wrappers (clippy's among them) are not for the wasm build.
    for variable in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CLIPPY_ARGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PROFILE_RELEASE_DEBUG",
    ] {
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
}
