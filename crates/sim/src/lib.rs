//! The Vcity network simulator (docs/economics.md): seeded populations of compute providers,
//! buyers, vote-escrow lockers, pool traders and attackers acting on the real ledger
//! (`vcity-ledger`) through signed transactions, with tasks placed by the real placement engine
//! (`vcity-scheduler`). There is no second model of the rules: what the simulator measures is
//! what the chain does.
//!
//! An experiment is a scenario (`scenario.rs`) run once per sweep point ("subset") and Monte
//! Carlo seed ("run"); each run ([`world::World`]) writes one row per simulated week
//! (`metrics.rs`). [`run_experiment`] writes the rows as one long-format CSV and draws the plots
//! (`plot.rs`) beside it. The same scenario and seed give the same CSV bit for bit (on one
//! platform: the behaviour models use `f64::powf`, `exp` and `sin` from the platform's maths
//! library); a run whose ledger halts reports its seed, subset and block.

pub mod metrics;
pub mod plot;
pub mod rng;
pub mod scenario;
pub mod world;

use metrics::{Recorder, Row};
use scenario::Scenario;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use world::{RunError, RunSpec, World};

/// Why an experiment failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario is invalid.
    #[error(transparent)]
    Scenario(#[from] scenario::ScenarioError),
    /// A run stopped.
    #[error(transparent)]
    Run(#[from] RunError),
    /// Writing the output failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Where an experiment is.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Simulated weeks finished over all runs.
    pub weeks_done: u64,
    /// Simulated weeks in the whole experiment.
    pub weeks_total: u64,
}

/// One run's rows with their place in the experiment.
#[derive(Debug, Clone)]
pub struct RunRows {
    /// Sweep point index.
    pub subset: usize,
    /// The sweep point's values.
    pub point: BTreeMap<String, f64>,
    /// Monte Carlo index.
    pub run: u32,
    /// The run's seed.
    pub seed: u64,
    /// One per week.
    pub rows: Vec<Row>,
    /// Each node's rewards over the run, VCAI (for the Lorenz curve).
    pub node_rewards: Vec<f64>,
    /// Refusals, task failures and slashes by reason ([`Recorder::tallies`]).
    pub tallies: BTreeMap<String, u64>,
}

/// Runs every sweep point and seed of `scenario`, in order, reporting weeks as they finish.
pub fn simulate(
    scenario: &Scenario,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<RunRows>, SimError> {
    let subsets = scenario.subsets();
    let weeks_total = subsets.len() as u64 * u64::from(scenario.runs) * u64::from(scenario.weeks);
    let mut done = 0;
    let mut results = Vec::new();
    for (subset, point) in subsets.iter().enumerate() {
        let applied = scenario.at(point)?;
        for run in 0..scenario.runs {
            let seed = scenario.seed.wrapping_add(u64::from(run));
            let mut world = World::new(RunSpec {
                scenario: applied.clone(),
                seed,
                subset,
            })?;
            let base = done;
            world.run(&mut |week| {
                progress(Progress {
                    weeks_done: base + u64::from(week),
                    weeks_total,
                })
            })?;
            done += u64::from(scenario.weeks);
            let recorder = world.into_recorder();
            let node_rewards = recorder.node_totals();
            let tallies = recorder.tallies().clone();
            let mut rows = recorder.finish();
            for row in &mut rows {
                for (name, value) in point {
                    row.insert(name.clone(), *value);
                }
            }
            results.push(RunRows {
                subset,
                point: point.clone(),
                run,
                seed,
                rows,
                node_rewards,
                tallies,
            });
        }
    }
    Ok(results)
}

/// The long-format CSV of an experiment: `simulation, subset, run, timestep`, then
/// [`Recorder::columns`]. `timestep` counts weeks from 1; a value missing from a row is empty.
pub fn csv(scenario: &Scenario, results: &[RunRows]) -> String {
    let columns = Recorder::columns(scenario);
    let mut out = String::from("simulation,subset,run,timestep");
    for column in &columns {
        out.push(',');
        out.push_str(column);
    }
    out.push('\n');
    for result in results {
        for (index, row) in result.rows.iter().enumerate() {
            let _ = write!(out, "0,{},{},{}", result.subset, result.run, index + 1);
            for column in &columns {
                out.push(',');
                if let Some(value) = row.get(column) {
                    let _ = write!(out, "{value}");
                }
            }
            out.push('\n');
        }
    }
    out
}

/// What [`run_experiment`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// The CSV.
    pub csv: PathBuf,
    /// The plots.
    pub plots: Vec<PathBuf>,
    /// Rows written.
    pub rows: usize,
    /// Refusals, task failures and slashes by reason, summed over the runs.
    pub tallies: BTreeMap<String, u64>,
}

/// Runs `scenario` and writes `<out>/<name>.csv` and its plots (`<out>/<name>-*.svg`).
pub fn run_experiment(
    scenario: &Scenario,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<Written, SimError> {
    let results = simulate(scenario, progress)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SimError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let csv_path = out.join(format!("{}.csv", scenario.name));
    std::fs::write(&csv_path, csv(scenario, &results)).map_err(io(&csv_path))?;
    let mut plots = Vec::new();
    for (name, svg) in plot::experiment_plots(scenario, &results) {
        let path = out.join(format!("{}-{name}.svg", scenario.name));
        std::fs::write(&path, svg).map_err(io(&path))?;
        plots.push(path);
    }
    let mut tallies = BTreeMap::new();
    for result in &results {
        for (reason, count) in &result.tallies {
            *tallies.entry(reason.clone()).or_default() += count;
        }
    }
    Ok(Written {
        csv: csv_path,
        plots,
        rows: results.iter().map(|result| result.rows.len()).sum(),
        tallies,
    })
}
