//! The `matmul` workload: standard input to standard output through `vcity_kernels::matmul::run`.

use std::io::{Read, Write};

fn main() {
    let mut input = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("matmul: cannot read the input: {error}");
        std::process::exit(2);
    }
    match vcity_kernels::matmul::run(&input) {
        Ok(output) => {
            if let Err(error) = std::io::stdout().write_all(&output) {
                eprintln!("matmul: cannot write the output: {error}");
                std::process::exit(2);
            }
        }
        Err(error) => {
            eprintln!("matmul: {error}");
            std::process::exit(1);
        }
    }
}
