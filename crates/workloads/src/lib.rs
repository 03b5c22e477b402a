//! The example workloads (issue 3 point 4; issue 19 point 6; the retrieval program of issue 22), built by `build.rs` from
//! `wasm/src/bin/*.rs` for `wasm32-wasip1` and, on Linux, as static executables, and embedded
//! here, each with its native reference from `vcity-kernels`. The devnet demo, the end-to-end
//! tests and the benchmarks run the modules; `vcity image build --example NAME` packages the
//! executables as images.

/// One example workload.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Short name, also the manifest's `workload = "..."` shorthand.
    pub name: &'static str,
    /// What it computes.
    pub description: &'static str,
    /// The wasm32-wasip1 module.
    pub module: &'static [u8],
    /// The same program as a static Linux executable (empty where the build was not for Linux).
    pub native: &'static [u8],
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
    native: include_bytes!(concat!(env!("OUT_DIR"), "/matmul.native")),
    reference: vcity_kernels::matmul::run,
    example_input: || b"64 7".to_vec(),
};

/// Hash chain.
pub const HASHCHAIN: Workload = Workload {
    name: "hashchain",
    description: "SHA-256 applied N times to SEED; input `N SEED`",
    module: include_bytes!(concat!(env!("OUT_DIR"), "/hashchain.wasm")),
    native: include_bytes!(concat!(env!("OUT_DIR"), "/hashchain.native")),
    reference: vcity_kernels::hashchain::run,
    example_input: || b"20000 vcity".to_vec(),
};

/// Image filter.
pub const BLUR: Workload = Workload {
    name: "blur",
    description: "3 × 3 Gaussian blur of a greyscale PGM image",
    module: include_bytes!(concat!(env!("OUT_DIR"), "/blur.wasm")),
    native: include_bytes!(concat!(env!("OUT_DIR"), "/blur.native")),
    reference: vcity_kernels::blur::run,
    example_input: || vcity_kernels::blur::Image::synthetic(96, 96, 11).to_pgm(),
};

/// A render: the Mandelbrot set as a PNG.
pub const RENDER: Workload = Workload {
    name: "render",
    description: "the Mandelbrot set rendered as a PNG; input `WIDTH HEIGHT MAX_ITERATIONS`",
    module: include_bytes!(concat!(env!("OUT_DIR"), "/render.wasm")),
    native: include_bytes!(concat!(env!("OUT_DIR"), "/render.native")),
    reference: vcity_kernels::render::run,
    example_input: || b"320 200 200".to_vec(),
};

/// A training run: a linear model fitted by SGD to seeded data, with its loss curve.
pub const TRAIN: Workload = Workload {
    name: "train",
    description: "a linear model trained by mini-batch SGD on seeded data; input `EPOCHS SAMPLES FEATURES SEED`",
    module: include_bytes!(concat!(env!("OUT_DIR"), "/train.wasm")),
    native: include_bytes!(concat!(env!("OUT_DIR"), "/train.native")),
    reference: vcity_kernels::train::run,
    example_input: || b"20 2000 8 7".to_vec(),
};

/// Retrieval: a question answered from a knowledge bundle by BM25, with sources (the program of
/// the PaaS templates, docs/agents.md "Templates").
pub const RETRIEVE: Workload = Workload {
    name: "retrieve",
    description: "a question answered from a knowledge bundle by BM25 with its sources; input: a bundle with a `question` line",
    module: include_bytes!(concat!(env!("OUT_DIR"), "/retrieve.wasm")),
    native: include_bytes!(concat!(env!("OUT_DIR"), "/retrieve.native")),
    reference: vcity_kernels::retrieve::run,
    example_input: || {
        use vcity_kernels::retrieve::{call_input, Config, Knowledge};
        let files = [(
            "guide.md".to_string(),
            "# Room 4\n\nThe Rosetta Stone is in Room 4.\n\n# Hours\n\nThe museum opens at 10:00.\n"
                .to_string(),
        )];
        let bundle = Knowledge::from_files(Config::default(), &files).to_text();
        call_input(&bundle, "Where is the Rosetta Stone?")
            .expect("a bundle")
            .into_bytes()
    },
};

/// Every example workload.
pub const ALL: [Workload; 6] = [MATMUL, HASHCHAIN, BLUR, RENDER, TRAIN, RETRIEVE];

/// The three the devnet demo and the verification benchmark (P6) run.
pub const DEMO: [Workload; 3] = [MATMUL, HASHCHAIN, BLUR];

/// The example workload called `name`.
pub fn by_name(name: &str) -> Option<Workload> {
    ALL.into_iter().find(|workload| workload.name == name)
}

/// The service portal (`wasm/src/bin/portal.rs`) as a static Linux executable, empty where the
/// build was not for Linux: the first process of a service task's sandbox, carrying the compute
/// node's gateway connections from a Unix socket to the service's port (docs/job-spec.md,
/// "Services").
pub const PORTAL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/portal.native"));

/// The output packer (`wasm/src/bin/pack.rs`) as a static Linux executable, empty where the build
/// was not for Linux: the first process of a task whose result is its output directory, which it
/// archives (docs/job-spec.md, "Output directories").
pub const PACK: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pack.native"));
