//! The `train` workload: standard input to standard output through `vcity_kernels::train::run`.

fn main() {
    vcity_kernels::run_stdio("train", vcity_kernels::train::run)
}
