//! Runs of the small scenario (`examples/sim/smoke.toml`) on the real ledger: every kind of
//! participant acts, the ledger's supply audit holds every week, and a seed replays exactly.

use vcity_sim::scenario::Scenario;
use vcity_sim::world::{RunSpec, World};

const SMOKE: &str = include_str!("../../../../examples/sim/smoke.toml");

fn smoke() -> Scenario {
    Scenario::from_toml(SMOKE).expect("the smoke scenario is valid")
}

#[test]
fn the_same_seed_gives_the_same_csv_and_another_seed_does_not() {
    let mut scenario = smoke();
    scenario.sweep.clear();
    scenario.weeks = 2;
    let csv = |scenario: &Scenario| {
        let results = vcity_sim::simulate(scenario, &mut |_| {}).expect("runs");
        vcity_sim::csv(scenario, &results)
    };
    let first = csv(&scenario);
    assert_eq!(first, csv(&scenario), "a seed must replay bit for bit");
    scenario.seed += 1;
    assert_ne!(first, csv(&scenario), "the seed must matter");
    assert!(first.starts_with("simulation,subset,run,timestep,week,"));
    assert_eq!(first.lines().count(), 3, "a header and one row per week");
}

#[test]
fn every_population_acts_and_the_ledger_keeps_its_books() {
    let scenario = smoke();
    let mut weeks = Vec::new();
    let results = vcity_sim::simulate(&scenario, &mut |progress| weeks.push(progress.weeks_done))
        .expect("runs: every week's supply audit passed");
    assert_eq!(
        weeks,
        vec![1, 2, 3, 4, 5, 6],
        "two sweep points of three weeks"
    );
    assert_eq!(results.len(), 2);
    let rows = &results[0].rows;
    assert_eq!(rows.len(), 3);
    let total = |column: &str| rows.iter().map(|row| row[column]).sum::<f64>();
    assert!(
        total("tasks_settled") > 100.0,
        "buyers' tasks ran and settled"
    );
    assert!(total("utilization") > 0.0);
    assert!(
        total("income_usd.stable") > 0.0,
        "stable providers were paid"
    );
    assert!(
        total("income_usd.flexible") > 0.0,
        "flexible providers were paid"
    );
    assert!(
        total("income_usd.wash") > 0.0,
        "the wash trader's node ran its own jobs"
    );
    assert!(total("lies") > 0.0, "the liars lied");
    assert!(total("disputes") > 0.0, "verifiers challenged lies");
    assert!(total("buyback_usd") > 0.0, "the treasury bought back VCAI");
    assert!(rows[0]["ve_weight"] > 0.0, "lockers locked");
    // P_supply moved by k·(U − target), rounded down, as the ledger's controller does.
    for (result, k) in results.iter().zip([0.1, 0.2]) {
        let row = &result.rows[0];
        let step = k * (row["utilization"] - 0.8);
        assert!((row["p_supply_next"] - (row["p_supply"] + step).clamp(0.0, 1.0)).abs() < 2e-6);
        assert_eq!(row["k"], k);
    }
    // The supply decomposition covers all 10 billion VCAI.
    let sum: f64 = vcity_sim::metrics::SUPPLY_PARTS
        .iter()
        .map(|(part, _)| rows[2][*part])
        .sum();
    assert!((sum - 1e10).abs() < 1.0, "{sum}");
}

#[test]
fn a_run_writes_its_csv_and_plots() {
    let mut scenario = smoke();
    scenario.weeks = 1;
    scenario.runs = 2;
    let out = tempfile::tempdir().expect("temporary directory");
    let written = vcity_sim::run_experiment(&scenario, out.path(), &mut |_| {}).expect("runs");
    assert_eq!(written.rows, 4, "two sweep points × two runs × one week");
    let names: Vec<String> = written
        .plots
        .iter()
        .map(|path| {
            path.file_name()
                .expect("a file")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for expected in [
        "smoke-utilization.svg",
        "smoke-supply.svg",
        "smoke-fan-p_supply.svg",
        "smoke-sweep-utilization.svg",
    ] {
        assert!(
            names.iter().any(|name| name == expected),
            "{expected} in {names:?}"
        );
    }
    for plot in &written.plots {
        let svg = std::fs::read_to_string(plot).expect("readable");
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{plot:?}"
        );
    }
}

#[test]
fn a_genesis_the_sale_cannot_fund_is_refused_with_the_reason() {
    let mut scenario = smoke();
    scenario.lockers[0].vcai_each = 1e9;
    let error = World::new(RunSpec {
        scenario,
        seed: 1,
        subset: 0,
    })
    .expect_err("5 billion VCAI of lockers exceed the sales");
    assert!(error.to_string().contains("Private and Public"), "{error}");
}

#[test]
fn every_shipped_scenario_is_valid() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sim");
    let mut checked = 0;
    for entry in std::fs::read_dir(&folder).expect("examples/sim exists") {
        let path = entry.expect("an entry").path();
        if path
            .extension()
            .is_some_and(|extension| extension == "toml")
        {
            let text = std::fs::read_to_string(&path).expect("readable");
            Scenario::from_toml(&text).unwrap_or_else(|error| panic!("{path:?}: {error}"));
            checked += 1;
        }
    }
    assert!(checked >= 7, "{checked} scenarios");
}

#[test]
fn nodes_that_follow_their_load_change_their_price_on_the_ledger() {
    let mut scenario = smoke();
    scenario.sweep.clear();
    scenario.weeks = 3;
    let mut world = World::new(RunSpec {
        scenario,
        seed: 7,
        subset: 0,
    })
    .expect("genesis");
    world.run(&mut |_| {}).expect("runs");
    let state = world.ledger().state();
    // 0.9 USD per RTX 4090 hour, at the card's factor 0.8: 312.5 base units per CU.
    let opening = vcity_types::Amount::new(313);
    let prices: Vec<vcity_types::Amount> = vcity_ledger::nodes::list(state, 0, 1_000)
        .into_iter()
        .filter(|node| node.hardware.gpus.iter().any(|gpu| gpu.model == "RTX4090"))
        .map(|node| node.price_per_cu_usd)
        .collect();
    assert!(!prices.is_empty());
    assert!(
        prices.iter().any(|price| *price != opening),
        "a follow_load node moved its price: {prices:?}"
    );
}
