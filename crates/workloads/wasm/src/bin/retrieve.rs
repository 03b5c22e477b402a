//! The `retrieve` workload: standard input to standard output through `vcity_kernels::retrieve::run`.

fn main() {
    vcity_kernels::run_stdio("retrieve", vcity_kernels::retrieve::run)
}
