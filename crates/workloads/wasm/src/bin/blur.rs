//! The `blur` workload: standard input to standard output through `vcity_kernels::blur::run`.

fn main() {
    vcity_kernels::run_stdio("blur", vcity_kernels::blur::run)
}
