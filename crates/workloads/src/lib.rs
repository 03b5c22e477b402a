//! The example workloads (issue 3 point 4), built by `build.rs` from `wasm/src/bin/*.rs` for
//! `wasm32-wasip1` and embedded here, each with its native reference from `vcity-kernels`. The
//! devnet demo, the end-to-end tests and the executor benchmark all run these modules.

/// One example workload.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Short name, also the manifest's `workload = "..."` shorthand.
    pub name: &'static str,
    /// What it computes.
    pub description: &'static str,
    /// The wasm32-wasip1 module.
    pub module: &'static [u8],
    /// The native reference: the same kernel compiled for the host.
    pub reference: fn(&[u8]) -> Result<Vec<u8>, vcity_kernels::InputError>,
    /// A small example input.
    pub example_input: fn() -> Vec<u8>,
}

/// Matrix multiply.
pub const MATMUL: Workload = Workload {
    name: "matmul",
    description: "C = A × B for two seeded N × N f64 matrices; input `N SEED`",
    module: include_bytes!(concat!(env!("OUT_DIR"), "/matmul.wasm")),
    reference: vcity_kernels::matmul::run,
    example_input: || b"64 7".to_vec(),
};

/// Hash chain.
pub const HASHCHAIN: Workload = Workload {
    name: "hashchain",
    description: "SHA-256 applied N times to SEED; input `N SEED`",
    module: include_bytes!(concat!(env!("OUT_DIR"), "/hashchain.wasm")),
    reference: vcity_kernels::hashchain::run,
    example_input: || b"20000 vcity".to_vec(),
};

/// Image filter.
pub const BLUR: Workload = Workload {
    name: "blur",
    description: "3 × 3 Gaussian blur of a greyscale PGM image",
    module: include_bytes!(concat!(env!("OUT_DIR"), "/blur.wasm")),
    reference: vcity_kernels::blur::run,
    example_input: || vcity_kernels::blur::Image::synthetic(96, 96, 11).to_pgm(),
};

/// Every example workload.
pub const ALL: [Workload; 3] = [MATMUL, HASHCHAIN, BLUR];

/// The example workload called `name`.
pub fn by_name(name: &str) -> Option<Workload> {
    ALL.into_iter().find(|workload| workload.name == name)
}
