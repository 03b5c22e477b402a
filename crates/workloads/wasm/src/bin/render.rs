//! The `render` workload: standard input to standard output through `vcity_kernels::render::run`.

fn main() {
    vcity_kernels::run_stdio("render", vcity_kernels::render::run)
}
