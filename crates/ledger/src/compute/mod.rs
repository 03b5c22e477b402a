//! The compute market (whitepaper §2.4, §2.5.2; rules §4, §5): the registry of compute,
//! scheduler and verifier nodes with their stake and status ([`nodes`]), and jobs with escrow,
//! the one matching rule, assignment, results and settlement ([`jobs`]).

pub mod jobs;
pub mod nodes;
