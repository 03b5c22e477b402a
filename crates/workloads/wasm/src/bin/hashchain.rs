//! The `hashchain` workload: standard input to standard output through `vcity_kernels::hashchain::run`.

fn main() {
    vcity_kernels::run_stdio("hashchain", vcity_kernels::hashchain::run)
}
