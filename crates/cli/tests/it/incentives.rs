//! End to end through the incentive layer (rules §6) on a devnet of processes with 10-second
//! incentive periods: an idle period moves P_supply down by k × U_target, a period with real jobs
//! moves it by the controller's formula and by less; the compute node is credited Proof of
//! Capacity and Proof of Delivery, the job owner a rebate it can claim; parameters change only
//! through a passed proposal.

use crate::common::*;
use serde_json::Value;
use std::time::{Duration, Instant};

fn status(devnet: &Devnet) -> Value {
    ok(devnet.cli(&["incentives", "status"]))
}

fn number(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

fn amount(value: &Value) -> u128 {
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("not an amount: {value}"))
}

/// Closed and fully credited periods, oldest first.
fn settled_periods(devnet: &Devnet) -> Vec<Value> {
    let mut periods: Vec<Value> = status(devnet)["recent"]
        .as_array()
        .expect("recent")
        .iter()
        .filter(|period| period["settled"] == true)
        .cloned()
        .collect();
    periods.reverse();
    periods
}

/// P_supply of the period after `index`.
fn share_after(devnet: &Devnet, index: u64) -> u64 {
    let status = status(devnet);
    let current = &status["current"];
    if number(&current["index"]) == index + 1 {
        return number(&current["supply_share_ppm"]);
    }
    status["recent"]
        .as_array()
        .expect("recent")
        .iter()
        .find(|period| number(&period["index"]) == index + 1)
        .map(|period| number(&period["supply_share_ppm"]))
        .unwrap_or_else(|| panic!("period {} not in {status}", index + 1))
}

fn submit_hashchain(devnet: &Devnet, dir: &std::path::Path, index: u32) {
    let path = dir.join(format!("job-{index}.toml"));
    std::fs::write(
        &path,
        format!(
            "workload = \"hashchain\"\ninput = \"200000 seed-{index}\"\nmax_cu = 0.05\nmax_price_per_cu = 0.1\n"
        ),
    )
    .expect("manifest");
    ok(devnet.cli(&[
        "job",
        "submit",
        path.to_str().expect("utf8"),
        "--from",
        "bob",
    ]));
}

#[test]
fn the_controller_follows_utilization_and_rewards_reach_nodes_and_users() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let devnet = Devnet::launch(
        &home,
        &[
            "--compute-nodes",
            "1",
            "--schedulers",
            "1",
            "--block-time",
            "250ms",
            "--incentive-period",
            "10s",
        ],
    );
    let node = devnet.started["daemons"]
        .as_array()
        .expect("daemons")
        .iter()
        .find(|daemon| daemon["role"] == "compute")
        .and_then(|daemon| daemon["account"].as_str())
        .expect("a compute node")
        .to_string();

    // Only a passed proposal changes parameters; bob has no ve weight to propose with.
    let refused_run = devnet.cli(&[
        "incentives",
        "set",
        "--from",
        "bob",
        "--capacity-share",
        "60",
    ]);
    refused(&refused_run, 35);
    let opened = ok(devnet.cli(&[
        "incentives",
        "set",
        "--from",
        "alice",
        "--capacity-share",
        "60",
    ]));
    let proposal = proposal_number(&opened);
    ok(devnet.cli(&[
        "gov",
        "comment",
        &proposal.to_string(),
        "more capacity rewards, please",
        "--from",
        "bob",
    ]));
    pass_proposal(&devnet, proposal, "bob");
    assert_eq!(
        number(&status(&devnet)["params"]["capacity_share_ppm"]),
        600_000
    );

    // An idle period: no jobs yet.
    let deadline = Instant::now() + Duration::from_secs(60);
    let idle = loop {
        if let Some(period) = settled_periods(&devnet).into_iter().last() {
            break period;
        }
        assert!(
            Instant::now() < deadline,
            "no period closed: {}",
            status(&devnet)
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let idle_index = number(&idle["index"]);
    assert_eq!(number(&idle["consumed_cu_ppm"]), 0);
    assert_eq!(number(&idle["utilization_ppm"]), 0);
    let idle_share = number(&idle["supply_share_ppm"]);
    // U = 0: P_supply falls by k × U_target = 8 points (clipped at 0).
    assert_eq!(
        share_after(&devnet, idle_index),
        idle_share.saturating_sub(80_000)
    );

    // Busy periods: keep the node working for a while.
    let started = Instant::now();
    let mut submitted = 0;
    while started.elapsed() < Duration::from_secs(25) {
        submit_hashchain(&devnet, dir.path(), submitted);
        submitted += 1;
        std::thread::sleep(Duration::from_millis(1_500));
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    let busy = loop {
        if let Some(period) = settled_periods(&devnet)
            .into_iter()
            .find(|period| number(&period["consumed_cu_ppm"]) > 0)
        {
            break period;
        }
        assert!(
            Instant::now() < deadline,
            "no busy period: {}",
            status(&devnet)
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let busy_index = number(&busy["index"]);
    let utilization = number(&busy["utilization_ppm"]);
    assert!(utilization > 0, "{busy}");
    let busy_share = number(&busy["supply_share_ppm"]);
    let next = share_after(&devnet, busy_index);
    eprintln!(
        "idle period {idle_index}: P_supply {idle_share} -> {}; busy period {busy_index}: U {utilization} ppm, P_supply {busy_share} -> {next}",
        idle_share.saturating_sub(80_000)
    );
    // The controller's formula, and a smaller fall than when idle: more use moves P_supply up.
    let expected = (i128::from(busy_share)
        + (100_000 * (i128::from(utilization) - 800_000)).div_euclid(1_000_000))
    .clamp(0, 1_000_000);
    assert_eq!(i128::from(next), expected, "{busy}");
    assert!(
        i128::from(next) - i128::from(busy_share) > -80_000,
        "utilization {utilization} ppm"
    );

    // Budgets add up (the performance bonus is a fourth budget; referrals have none); the node
    // earned capacity and delivery, bob a rebate.
    let parts = |value: &Value| {
        (
            amount(&value["capacity"]),
            amount(&value["delivery"]),
            amount(&value["rebate"]),
        )
    };
    let (capacity, delivery, rebate) = parts(&busy["budget"]);
    let performance = amount(&busy["budget"]["performance"]);
    assert!(performance > 0, "{busy}");
    assert_eq!(amount(&busy["budget"]["referral"]), 0, "{busy}");
    assert_eq!(
        capacity + delivery + performance + rebate + amount(&busy["grants"]),
        amount(&busy["scheduled"])
    );
    let (credited_capacity, credited_delivery, credited_rebate) = parts(&busy["credited"]);
    assert_eq!(
        credited_capacity
            + credited_delivery
            + amount(&busy["credited"]["performance"])
            + credited_rebate
            + amount(&busy["returned"]),
        capacity + delivery + performance + rebate
    );
    let node_rewards = ok(devnet.cli(&["rewards", "show", &node]));
    let (node_capacity, node_delivery, _) = parts(&node_rewards["incentives_total"]);
    assert!(node_capacity > 0 && node_delivery > 0, "{node_rewards}");
    let bob_rewards = ok(devnet.cli(&["rewards", "show", "bob"]));
    let (_, _, bob_rebate) = parts(&bob_rewards["incentives_total"]);
    assert!(bob_rebate > 0, "{bob_rewards}");
    assert!(
        bob_rewards["incentives_history"]
            .as_array()
            .is_some_and(|history| !history.is_empty()),
        "{bob_rewards}"
    );
    let claim = ok(devnet.cli(&["rewards", "claim", "--from", "bob"]));
    assert_eq!(claim["transaction"]["receipt"]["code"], 0, "{claim}");
    let after = ok(devnet.cli(&["rewards", "show", "bob"]));
    assert_eq!(
        amount(&after["incentives_unclaimed"]["rebate"]),
        0,
        "{after}"
    );
}
