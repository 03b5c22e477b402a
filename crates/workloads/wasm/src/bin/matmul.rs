//! The `matmul` workload: standard input to standard output through `vcity_kernels::matmul::run`.

fn main() {
    vcity_kernels::run_stdio("matmul", vcity_kernels::matmul::run)
}
