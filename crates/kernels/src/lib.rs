//! The example workloads' kernels (issue 3 point 4; issue 19 point 6): a matrix multiply, a hash
//! chain, an image filter, a renderer that writes a PNG and a model trainer. Each kernel is a pure function from the task's input bytes to its output bytes. The
//! same source is compiled twice: natively, as the reference that tests and benchmarks compare
//! against, and for `wasm32-wasip1` by `crates/workloads`, as the module a compute node runs in
//! the deterministic executor. Every input format is small text or a PGM image so that a user can
//! write one by hand (docs/job-spec.md).
//!
//! Floats are allowed here (unlike in the ledger): WebAssembly's float arithmetic is IEEE 754
//! exact apart from NaN bit patterns, which the executor canonicalizes, so the module's output is
//! bit-for-bit the native reference's.

pub mod blur;
pub mod hashchain;
pub mod matmul;
pub mod render;
pub mod retrieve;
pub mod train;

/// A workload program's whole `main`: standard input through `run` to standard output; exit 1
/// with the reason on standard error for an input `run` refuses, 2 when the streams fail.
pub fn run_stdio(name: &str, run: fn(&[u8]) -> Result<Vec<u8>, InputError>) -> ! {
    use std::io::{Read, Write};
    let mut input = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("{name}: cannot read the input: {error}");
        std::process::exit(2);
    }
    match run(&input) {
        Ok(output) => {
            if let Err(error) = std::io::stdout().write_all(&output) {
                eprintln!("{name}: cannot write the output: {error}");
                std::process::exit(2);
            }
            std::process::exit(0);
        }
        Err(error) => {
            eprintln!("{name}: {error}");
            std::process::exit(1);
        }
    }
}

/// Why an input was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl core::fmt::Display for InputError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

fn bad(message: impl Into<String>) -> InputError {
    InputError(message.into())
}

/// Whitespace-separated words of a text input.
fn words(input: &[u8]) -> Result<Vec<&str>, InputError> {
    let text = core::str::from_utf8(input).map_err(|_| bad("input is not UTF-8 text"))?;
    Ok(text.split_whitespace().collect())
}

fn number<T: core::str::FromStr>(word: Option<&&str>, what: &str) -> Result<T, InputError> {
    let word = word.ok_or_else(|| bad(format!("missing {what}")))?;
    word.parse()
        .map_err(|_| bad(format!("{what} is not a number: {word}")))
}

/// xorshift64*: a tiny seeded generator so inputs can be described by a seed.
#[derive(Debug, Clone)]
pub struct Generator(u64);

impl Generator {
    /// A generator from `seed` (0 is mapped to a fixed non-zero state).
    pub fn new(seed: u64) -> Generator {
        Generator(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}
