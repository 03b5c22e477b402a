//! The compute layer's daemons (whitepaper §2.4, §6.2; rules §4, §5, §10): the compute node
//! ([`compute`]: hardware detection, registration, heartbeats with measured [`health`],
//! deterministic execution and sandboxed [`native`] processes on their [`inputs`], with a
//! crash-safe [`journal`], owner-only outputs over its own [`server`], answers to [`capacity`]
//! challenges), the scheduler ([`scheduler`]: placement by the ledger's one matching rule,
//! explained refusals) and the verifier ([`verifier`]: sampled
//! re-execution, capacity verdicts, referee votes). All talk to any chain node's HTTP API through
//! the SDK; none links consensus or the store.

pub mod capacity;
pub mod compute;
pub mod gpu;
pub mod hardware;
pub mod health;
pub mod inputs;
pub mod journal;
pub mod native;
pub mod scheduler;
pub mod selftest;
pub mod server;
pub mod service;
pub mod tee;
pub mod verifier;

pub use compute::{run as run_compute, ComputeOptions, Misbehaviour};

/// True when the process named by `VCITY_PARENT_PID` (set by `vcity devnet` for the daemons it
/// starts) has exited: a devnet's daemons end with it, even when it was killed with SIGKILL.
pub fn parent_gone() -> bool {
    std::env::var("VCITY_PARENT_PID")
        .ok()
        .and_then(|text| text.parse::<u32>().ok())
        .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
}
pub use scheduler::{run as run_scheduler, SchedulerOptions};
pub use verifier::{run as run_verifier, VerifierOptions};
