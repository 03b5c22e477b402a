//! Reputation (rules §12; docs/verification.md, "Reputation"): one score in [0, 1] (ppm) per
//! node, a documented function of its service record, read by placement, fee tiers, Proof of
//! Delivery and the sampling rate.
//!
//! `score = work × checks × uptime × latency × offences`, each factor in ppm, the product rounded
//! down after each step:
//! - **work** (Laplace's rule, so a new node starts at 0.5 and one lucky task does not make it
//!   perfect): `(good + 1) / (good + bad + 2)`. For a compute node `good` is tasks completed and
//!   `bad` is tasks lost plus four per result a referee round disproved; for a verifier `good`
//!   and `bad` are duties answered and missed; a scheduler scores 1.
//! - **checks**: `(passed + 1) / (passed + 4·failed + 1)`, with `passed` = results confirmed by a
//!   check plus capacity challenges passed, and `failed` = capacity challenges failed or missed:
//!   1 until something fails, and one failure outweighs three passes.
//! - **uptime**: `(1 + u) / 2` with `u` = seconds online over seconds from registration to the
//!   last heartbeat (1 before a second heartbeat): between 0.5 and 1, since Proof of Capacity
//!   already pays for presence.
//! - **latency**: `1 − min(mean start latency, start deadline) / (2 × start deadline)`, between
//!   0.5 and 1 (1 before the first start).
//! - **offences**: `1 / (1 + slashes)`; a banned node scores 0.

use vcity_types::compute::{NodeRecord, Role};

const PPM: u128 = 1_000_000;

fn ratio_ppm(numerator: u128, denominator: u128) -> u128 {
    if denominator == 0 {
        return PPM;
    }
    (numerator * PPM / denominator).min(PPM)
}

/// The work factor, ppm.
pub fn work_ppm(node: &NodeRecord) -> u128 {
    let (good, bad) = match node.role {
        Role::Compute => (
            u128::from(node.tasks_completed),
            u128::from(node.tasks_lost) + 4 * u128::from(node.trust.results_disproved),
        ),
        Role::Verifier => (
            u128::from(node.trust.duties_done),
            u128::from(node.trust.duties_missed),
        ),
        Role::Scheduler => return PPM,
    };
    ratio_ppm(good + 1, good + bad + 2)
}

/// The checks factor, ppm.
pub fn checks_ppm(node: &NodeRecord) -> u128 {
    let passed =
        u128::from(node.trust.results_confirmed) + u128::from(node.trust.challenges_passed);
    let failed = u128::from(node.trust.challenges_failed);
    ratio_ppm(passed + 1, passed + 4 * failed + 1)
}

/// The uptime factor, ppm.
pub fn uptime_ppm(node: &NodeRecord) -> u128 {
    let span = node.last_heartbeat_s.saturating_sub(node.registered_s);
    let up = if span == 0 {
        PPM
    } else {
        ratio_ppm(u128::from(node.online_s), u128::from(span))
    };
    (PPM + up) / 2
}

/// The latency factor, ppm.
pub fn latency_ppm(node: &NodeRecord, start_deadline_s: u64) -> u128 {
    if node.trust.starts == 0 || start_deadline_s == 0 {
        return PPM;
    }
    let mean = u128::from(node.trust.start_latency_total_s) / u128::from(node.trust.starts);
    let deadline = u128::from(start_deadline_s);
    PPM - mean.min(deadline) * PPM / (2 * deadline)
}

/// The score, ppm.
pub fn score_ppm(node: &NodeRecord, start_deadline_s: u64) -> u32 {
    if node.trust.banned {
        return 0;
    }
    let factors = [
        work_ppm(node),
        checks_ppm(node),
        uptime_ppm(node),
        latency_ppm(node, start_deadline_s),
        ratio_ppm(1, 1 + u128::from(node.trust.slashes)),
    ];
    let score = factors
        .into_iter()
        .fold(PPM, |score, factor| score * factor / PPM);
    u32::try_from(score).expect("at most 10^6")
}

/// Whether the node's results are sampled at least at the risky rate: on probation, or scoring
/// below the threshold.
pub fn is_risky(node: &NodeRecord, low_reputation_ppm: u32, start_deadline_s: u64) -> bool {
    node.trust.probation || score_ppm(node, start_deadline_s) < low_reputation_ppm
}

#[cfg(test)]
mod tests {
    use super::*;
    use vcity_types::compute::{Hardware, NodeKind};
    use vcity_types::{AccountId, Amount};

    fn node(role: Role) -> NodeRecord {
        NodeRecord {
            id: AccountId([1; 32]),
            role,
            kind: NodeKind::Stable,
            hardware: Hardware::default(),
            region: String::new(),
            endpoint: String::new(),
            price_per_cu_usd: Amount::ZERO,
            stake: Amount::ZERO,
            capacity_cu_ppm: 0,
            registered_s: 1_000,
            last_heartbeat_s: 1_000,
            load_ppm: 0,
            healthy: true,
            running_tasks: 0,
            online_s: 0,
            tasks_completed: 0,
            tasks_lost: 0,
            trust: Default::default(),
            health: Default::default(),
            tee: Default::default(),
        }
    }

    #[test]
    fn each_factor_follows_its_documented_formula() {
        let fresh = node(Role::Compute);
        assert_eq!(score_ppm(&fresh, 120), 500_000, "a new node starts at 0.5");
        assert_eq!(score_ppm(&node(Role::Scheduler), 120), 1_000_000);

        let mut record = node(Role::Compute);
        record.tasks_completed = 9;
        record.tasks_lost = 1;
        assert_eq!(work_ppm(&record), 833_333, "(9 + 1) / (9 + 1 + 2)");
        record.trust.results_disproved = 1;
        assert_eq!(
            work_ppm(&record),
            625_000,
            "a disproved result weighs four losses"
        );

        record.trust.challenges_passed = 2;
        record.trust.results_confirmed = 1;
        record.trust.challenges_failed = 1;
        assert_eq!(checks_ppm(&record), 500_000, "(3 + 1) / (3 + 4 + 1)");

        record.last_heartbeat_s = 1_100;
        record.online_s = 50;
        assert_eq!(uptime_ppm(&record), 750_000, "(1 + 50/100) / 2");

        record.trust.starts = 2;
        record.trust.start_latency_total_s = 120;
        assert_eq!(latency_ppm(&record, 120), 750_000, "1 − 60 / 240");
        record.trust.start_latency_total_s = 10_000;
        assert_eq!(latency_ppm(&record, 120), 500_000, "capped at the deadline");

        record.trust.slashes = 1;
        // 625,000 × 500,000 × 750,000 × 500,000 × 500,000, each step rounded down.
        assert_eq!(score_ppm(&record, 120), 58_593);
        record.trust.banned = true;
        assert_eq!(score_ppm(&record, 120), 0);
    }

    #[test]
    fn verifiers_are_scored_by_their_duties() {
        let mut verifier = node(Role::Verifier);
        verifier.trust.duties_done = 8;
        assert_eq!(work_ppm(&verifier), 900_000);
        verifier.trust.duties_missed = 10;
        assert_eq!(work_ppm(&verifier), 450_000);
        assert!(is_risky(&verifier, 500_000, 120));
    }
}
