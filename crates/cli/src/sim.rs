//! `vcity sim`: runs a simulation experiment (docs/economics.md) on the real ledger and
//! placement engine, and writes its CSV and plots.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `vcity sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Scenario file (TOML; examples/sim/ and docs/economics.md describe the fields).
    #[arg(long)]
    pub scenario: PathBuf,
    /// Folder for `<name>.csv` and `<name>-*.svg` (created if missing).
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Override the scenario's seed (run r uses seed + r).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the scenario's Monte Carlo runs per sweep point.
    #[arg(long)]
    pub runs: Option<u32>,
    /// Override the scenario's simulated weeks.
    #[arg(long)]
    pub weeks: Option<u32>,
}

/// Runs `vcity sim`.
pub fn sim(args: SimArgs, json: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.scenario)
        .with_context(|| format!("reading {}", args.scenario.display()))?;
    let mut scenario = vcity_sim::scenario::Scenario::from_toml(&text)
        .with_context(|| format!("in {}", args.scenario.display()))?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(runs) = args.runs {
        scenario.runs = runs;
    }
    if let Some(weeks) = args.weeks {
        scenario.weeks = weeks;
    }
    scenario
        .check()
        .context("the command line's overrides make the scenario invalid")?;
    let subsets = scenario.subsets().len() as u64;
    let total = subsets * u64::from(scenario.runs) * u64::from(scenario.weeks);
    let bar = crate::shared::progress_bar(
        json,
        total,
        "simulating {bar:30} {pos}/{len} weeks ({per_sec}, {elapsed} elapsed, {eta} left)",
    );
    let started = std::time::Instant::now();
    let written = vcity_sim::run_experiment(&scenario, &args.out, &mut |progress| {
        bar.set_position(progress.weeks_done);
    })?;
    bar.finish_and_clear();
    let elapsed_s = started.elapsed().as_secs_f64();
    if json {
        let value = serde_json::json!({
            "ok": true,
            "scenario": scenario.name,
            "csv": written.csv,
            "plots": written.plots,
            "rows": written.rows,
            "simulated_weeks": total,
            "elapsed_s": elapsed_s,
            "tallies": written.tallies,
        });
        println!("{value}");
    } else {
        println!(
            "{} simulated weeks ({} sweep points × {} runs) in {elapsed_s:.1} s",
            total, subsets, scenario.runs
        );
        println!("rows: {} in {}", written.rows, written.csv.display());
        for plot in &written.plots {
            println!("plot: {}", plot.display());
        }
        if !written.tallies.is_empty() {
            println!("refusals, failed tasks and slashes over all runs, by reason:");
            for (reason, count) in &written.tallies {
                println!("{count:>10}  {reason}");
            }
        }
    }
    Ok(())
}
