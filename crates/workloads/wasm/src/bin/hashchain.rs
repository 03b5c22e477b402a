//! The `hashchain` workload: standard input to standard output through `vcity_kernels::hashchain::run`.

use std::io::{Read, Write};

fn main() {
    let mut input = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("hashchain: cannot read the input: {error}");
        std::process::exit(2);
    }
    match vcity_kernels::hashchain::run(&input) {
        Ok(output) => {
            if let Err(error) = std::io::stdout().write_all(&output) {
                eprintln!("hashchain: cannot write the output: {error}");
                std::process::exit(2);
            }
        }
        Err(error) => {
            eprintln!("hashchain: {error}");
            std::process::exit(1);
        }
    }
}
