//! The placement engine (whitepaper §2.4.3 scheduler nodes, §2.5.2 task allocation, §4.2 and
//! §5.1.1 "millisecond-level task allocation"; rules §4 node kinds, §5 jobs).
//!
//! A scheduler node keeps a live inventory of the compute nodes (their ledger records plus the
//! round trips it measured) and of what each one is running, and places pending tasks on them.
//! The engine here is that placement, as a pure function of its inputs: no I/O, no clock, no
//! randomness (clippy.toml forbids them in this crate), so a scheduler's decisions can be replayed
//! and tested exactly. The daemon in `vcity-compute` feeds it from the chain and sends the
//! assignments; the ledger checks every assignment again with the same rule
//! (`vcity_ledger::jobs::fits`, DEVELOPERS.md principle 8), so a buggy or hostile scheduler can
//! place badly but never wrongly.
//!
//! - [`engine`]: nodes grouped by hardware profile (region, kind, GPU list) into buckets, each
//!   indexed by free GPUs and ordered by cost; a task's candidate buckets come from a per-class
//!   plan, searched cheapest bound first with branch and bound, so a decision does not scan
//!   every node. Costs, fairness (dominant resource fairness across users, least recently used
//!   among equal providers), exploration for new nodes, gang placement and explanations are
//!   described there.
//! - [`optimum`]: an exact minimum-cost assignment (Hungarian algorithm), the reference the
//!   engine's cost gap is measured against.
//! - [`synthetic`]: a seeded cluster and demand shaped like real ones, for the benchmark (compass
//!   P3) and the tests.

pub mod engine;
pub mod optimum;
pub mod synthetic;

pub use engine::{
    Allocation, Decision, Engine, NodeUsage, Packing, Request, Round, Unit, UnitDecision, Weights,
};

/// Jain's fairness index of `values`: (Σx)² / (n·Σx²), 1 when all are equal, 1/n when one
/// value has everything. 1 for an empty or all-zero list (nobody is treated worse).
pub fn jain(values: &[u64]) -> f64 {
    let sum: u128 = values.iter().map(|value| u128::from(*value)).sum();
    let squares: u128 = values
        .iter()
        .map(|value| u128::from(*value) * u128::from(*value))
        .sum();
    if squares == 0 {
        return 1.0;
    }
    (sum as f64) * (sum as f64) / (values.len() as f64 * squares as f64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn jain_is_one_for_equal_shares_and_one_over_n_for_a_monopoly() {
        assert_eq!(super::jain(&[5, 5, 5, 5]), 1.0);
        assert_eq!(super::jain(&[8, 0, 0, 0]), 0.25);
        assert_eq!(super::jain(&[]), 1.0);
    }
}
