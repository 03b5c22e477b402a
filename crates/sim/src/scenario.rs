//! The scenario file (TOML): who takes part, how they behave, the ledger parameters, and the
//! sweep and Monte Carlo runs of an experiment. docs/economics.md documents every field; the
//! shipped scenarios are in `examples/sim/`.
//!
//! Money in a scenario is in whole USD or VCAI as decimal numbers, converted to base units by
//! rounding to the nearest unit; hardware speed is in GPU-hours of the ledger's reference GPU
//! (factor 1.0, the A100), so that one A100-hour is 3,600 CU.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Why a scenario cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Not TOML, or a field of the wrong type or name.
    #[error("scenario is not valid TOML for vcity sim")]
    Parse(#[from] toml::de::Error),
    /// A value out of range.
    #[error("scenario: {0}")]
    Invalid(String),
}

/// An experiment: populations, parameters, and which runs to make.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Label written into the CSV's file names.
    pub name: String,
    /// Seed of run 0; run `r` uses `seed + r`.
    #[serde(default = "one")]
    pub seed: u64,
    /// Monte Carlo runs per sweep point.
    #[serde(default = "one_u32")]
    pub runs: u32,
    /// Simulated weeks (incentive periods).
    pub weeks: u32,
    /// Simulated seconds per block: coarse steps are what make decades affordable.
    #[serde(default = "one_hour")]
    pub block_time_s: u64,
    /// A node's heartbeat interval (the ledger's `nodes.heartbeat_interval_s`); at least the
    /// block time.
    #[serde(default = "one_day")]
    pub heartbeat_interval_s: u64,
    /// Ledger parameters (governance's), as the defaults unless set.
    #[serde(default)]
    pub params: Params,
    /// The VCAI/USD pool's opening USD (beside the Initial Liquidity's 99,970,000 VCAI).
    #[serde(default = "pool_usd")]
    pub pool_usd: f64,
    /// Verifier nodes (they re-execute sampled tasks and referee disputes honestly).
    #[serde(default = "verifiers")]
    pub verifiers: u32,
    /// Compute providers.
    #[serde(default)]
    pub providers: Vec<Providers>,
    /// Compute buyers.
    #[serde(default)]
    pub buyers: Vec<Buyers>,
    /// Vote-escrow lockers.
    #[serde(default)]
    pub lockers: Vec<Lockers>,
    /// Noise traders on the pool.
    #[serde(default)]
    pub traders: Vec<Traders>,
    /// Wash traders: a buyer and its own node, funded independently.
    #[serde(default)]
    pub wash_traders: Vec<WashTraders>,
    /// Parameter sweep: each name maps to the values to try; the experiment runs the cartesian
    /// product (a "subset" each, in cadCAD's words).
    #[serde(default)]
    pub sweep: BTreeMap<String, Vec<f64>>,
    /// What the heatmap of a two-parameter sweep shows: a column summed over each run, or the
    /// difference of two (`"profit_usd.liars - profit_usd.twins"`); by default the mean
    /// distance of utilization from its target over the second half.
    #[serde(default)]
    pub heatmap: Option<String>,
}

fn one() -> u64 {
    1
}
fn one_u32() -> u32 {
    1
}
fn one_hour() -> u64 {
    3_600
}
fn one_day() -> u64 {
    86_400
}
fn pool_usd() -> f64 {
    9_997_000.0
}
fn verifiers() -> u32 {
    8
}

/// Ledger parameters a scenario may set (each also a sweep name).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The controller's k (ledger default 0.1).
    pub k: Option<f64>,
    /// Target utilization (0.8).
    pub target_utilization: Option<f64>,
    /// P_supply of the first period (0.5).
    pub initial_supply_share: Option<f64>,
    /// Proof of Capacity's share of the supply side (0.5).
    pub capacity_share: Option<f64>,
    /// Sampling rate of the standard verification level (0.05).
    pub sampling_rate: Option<f64>,
    /// Network fee (0.10).
    pub network_fee: Option<f64>,
    /// Stake in USD per CU of capacity (1,000).
    pub stake_usd_per_cu: Option<f64>,
    /// Slash for a wrong result, share of the stake (0.3: the moderate tier's upper value).
    pub wrong_result_slash: Option<f64>,
    /// Blocks within which accounts first funded by one account count as one (1,000).
    pub related_funding_blocks: Option<u64>,
}

/// A population of compute providers with one kind of hardware and behaviour.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Providers {
    /// Label for the CSV columns (`[a-z0-9_]`).
    pub name: String,
    /// Nodes at genesis.
    pub count: u32,
    /// GPU model from the ledger's factor table (A100, H100, H200, L40S, RTX4090, RTX3090).
    pub gpu_model: String,
    /// GPUs per node.
    #[serde(default = "one_u32")]
    pub gpus: u32,
    /// Memory per GPU, GiB.
    #[serde(default = "vram_gib")]
    pub vram_gib: u32,
    /// "stable" (data centre) or "flexible" (edge).
    #[serde(default = "stable")]
    pub kind: String,
    /// Asking price at registration, USD per GPU-hour of this model.
    pub price_per_gpu_hour_usd: f64,
    /// "fixed" (the default), or "follow_load": each week a node raises its price 5% when more
    /// than 90% of its GPU-hours sold, and lowers it 5% (never below its cost) when under 50%.
    #[serde(default = "fixed")]
    pub price_strategy: String,
    /// What running a GPU costs the operator (power, hosting, depreciation), USD per GPU-hour,
    /// whether or not it is busy.
    pub cost_per_gpu_hour_usd: f64,
    /// Share of days a node is up (each down spell lasts `outage_days`).
    #[serde(default = "uptime")]
    pub uptime: f64,
    /// Length of a down spell, days.
    #[serde(default = "one_u32")]
    pub outage_days: u32,
    /// Most new nodes per week, reached when a node's weekly profit margin is 100% or more;
    /// none join at a loss.
    #[serde(default)]
    pub max_joins_per_week: f64,
    /// Weekly chance that a node losing money leaves (scaled by how much it loses, full at a
    /// margin of −100%).
    #[serde(default = "exit_rate")]
    pub exit_rate: f64,
    /// Weekly chance that a node leaves whatever it earns.
    #[serde(default)]
    pub churn_per_week: f64,
    /// Share of claimed VCAI rewards sold on the pool at once.
    #[serde(default = "half")]
    pub sell_rewards: f64,
    /// Share of nodes that lie: they return a made-up result instead of computing.
    #[serde(default)]
    pub liar_share: f64,
    /// Share of a lying node's tasks it fakes.
    #[serde(default = "one_f")]
    pub lie_rate: f64,
    /// Share of nodes that overbill: they report more CU than used.
    #[serde(default)]
    pub overbill_share: f64,
    /// How much more CU an overbilling node reports (0.5: 50% more).
    #[serde(default = "half")]
    pub overbill_factor: f64,
    /// Region of the nodes.
    #[serde(default = "region")]
    pub region: String,
}

fn fixed() -> String {
    "fixed".into()
}
fn vram_gib() -> u32 {
    80
}
fn stable() -> String {
    "stable".into()
}
fn uptime() -> f64 {
    0.99
}
fn exit_rate() -> f64 {
    0.2
}
fn half() -> f64 {
    0.5
}
fn one_f() -> f64 {
    1.0
}
fn region() -> String {
    "eu-west".into()
}

/// A population of buyers sharing one demand curve.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Buyers {
    /// Label.
    pub name: String,
    /// Accounts (demand is spread over them at random).
    pub count: u32,
    /// Reference-GPU hours the population asks for per week at the reference price, at week 0.
    pub gpu_hours_per_week: f64,
    /// How demand moves over time.
    #[serde(default)]
    pub demand: Demand,
    /// Price elasticity: demand × (reference price / effective price)^elasticity, where the
    /// effective price is what settled tasks cost per reference GPU-hour after fees, less the
    /// rebates the population earned, over the last closed period.
    #[serde(default)]
    pub elasticity: f64,
    /// Reference price, USD per reference GPU-hour.
    #[serde(default = "reference_price")]
    pub reference_price_per_gpu_hour_usd: f64,
    /// Most a job pays, USD per reference GPU-hour.
    pub max_price_per_gpu_hour_usd: f64,
    /// A task's work, reference GPU-hours: uniform between the two.
    #[serde(default = "task_hours")]
    pub task_hours: [f64; 2],
    /// Tasks per job.
    #[serde(default = "tasks_per_job")]
    pub tasks_per_job: u32,
    /// "none", "standard", "high" or "full".
    #[serde(default = "standard")]
    pub verification: String,
}

fn reference_price() -> f64 {
    1.5
}
fn task_hours() -> [f64; 2] {
    [1.0, 12.0]
}
fn tasks_per_job() -> u32 {
    4
}
fn standard() -> String {
    "standard".into()
}

/// How a population's demand changes with the week `w`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Demand {
    /// The same every week.
    #[default]
    Constant,
    /// Compound growth: × (1 + weekly)^w.
    Growth {
        /// Growth per week (0.01: 1%).
        weekly: f64,
    },
    /// × factor from `week` for `weeks` weeks.
    Shock {
        /// First week of the shock.
        week: u32,
        /// How long it lasts.
        weeks: u32,
        /// Demand multiplier meanwhile (0.3: a 70% drop).
        factor: f64,
    },
    /// × (1 + amplitude·sin(2πw / period_weeks)).
    Seasonal {
        /// Relative swing.
        amplitude: f64,
        /// Length of a season cycle.
        period_weeks: f64,
    },
}

impl Demand {
    /// The multiplier in week `week` (fractional: within the week).
    pub fn factor(&self, week: f64) -> f64 {
        match self {
            Demand::Constant => 1.0,
            Demand::Growth { weekly } => (1.0 + weekly).powf(week),
            Demand::Shock {
                week: start,
                weeks,
                factor,
            } => {
                let start = f64::from(*start);
                if week >= start && week < start + f64::from(*weeks) {
                    *factor
                } else {
                    1.0
                }
            }
            Demand::Seasonal {
                amplitude,
                period_weeks,
            } => 1.0 + amplitude * (std::f64::consts::TAU * week / period_weeks).sin(),
        }
    }
}

/// Vote-escrow lockers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockers {
    /// Label.
    pub name: String,
    /// Accounts.
    pub count: u32,
    /// VCAI each locks (bought in the sales: taken from their TGE releases).
    pub vcai_each: f64,
    /// Lock length, weeks (1 to 208).
    pub lock_weeks: u32,
    /// Lock again for the same length when a lock ends.
    #[serde(default = "yes")]
    pub relock: bool,
}

fn yes() -> bool {
    true
}

/// Noise traders.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traders {
    /// Label.
    pub name: String,
    /// Accounts.
    pub count: u32,
    /// Average USD each trades per day (direction at random, size uniform in 0..2× this).
    pub usd_per_day: f64,
}

/// Wash traders: each is a buyer account and a one-GPU node of its own in a region nobody else
/// serves, funded independently so the ledger cannot relate them. Its jobs pay its own node; it
/// computes nothing real (the work is trivial, so a check agrees) and aims at Proof of Delivery
/// and rebates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WashTraders {
    /// Label.
    pub name: String,
    /// Attackers.
    pub count: u32,
    /// GPU model of its node.
    #[serde(default = "a100")]
    pub gpu_model: String,
    /// Reference GPU-hours it buys from itself per week.
    pub gpu_hours_per_week: f64,
    /// Its node's price, USD per GPU-hour (it pays itself, less fees).
    pub price_per_gpu_hour_usd: f64,
    /// "none", "standard", "high" or "full".
    #[serde(default = "none")]
    pub verification: String,
}

fn a100() -> String {
    "A100".into()
}
fn none() -> String {
    "none".into()
}

impl Scenario {
    /// Parses and checks a scenario.
    pub fn from_toml(text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = toml::from_str(text)?;
        scenario.check()?;
        Ok(scenario)
    }

    /// Every sweep point, in order: the parameter values of each subset.
    pub fn subsets(&self) -> Vec<BTreeMap<String, f64>> {
        let mut points = vec![BTreeMap::new()];
        for (name, values) in &self.sweep {
            let mut next = Vec::new();
            for point in &points {
                for value in values {
                    let mut extended = point.clone();
                    extended.insert(name.clone(), *value);
                    next.push(extended);
                }
            }
            points = next;
        }
        points
    }

    /// This scenario with a sweep point's values applied.
    pub fn at(&self, point: &BTreeMap<String, f64>) -> Result<Scenario, ScenarioError> {
        let mut scenario = self.clone();
        for (name, value) in point {
            let params = &mut scenario.params;
            let slot = match name.as_str() {
                "k" => &mut params.k,
                "target_utilization" => &mut params.target_utilization,
                "initial_supply_share" => &mut params.initial_supply_share,
                "capacity_share" => &mut params.capacity_share,
                "sampling_rate" => &mut params.sampling_rate,
                "network_fee" => &mut params.network_fee,
                "stake_usd_per_cu" => &mut params.stake_usd_per_cu,
                "wrong_result_slash" => &mut params.wrong_result_slash,
                "related_funding_blocks" => {
                    params.related_funding_blocks = Some(*value as u64);
                    continue;
                }
                other => {
                    return Err(ScenarioError::Invalid(format!(
                        "sweep names unknown parameter {other:?} (the [params] names are sweepable)"
                    )))
                }
            };
            *slot = Some(*value);
        }
        scenario.sweep.clear();
        scenario.check()?;
        Ok(scenario)
    }

    /// Checks every field's range (after a caller changed some).
    pub fn check(&self) -> Result<(), ScenarioError> {
        let invalid = |why: String| Err(ScenarioError::Invalid(why));
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 32
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !label_ok(&self.name) {
            return invalid(format!("name {:?} must be 1-32 of [a-z0-9_]", self.name));
        }
        if self.weeks == 0 || self.weeks > 1_044 {
            return invalid("weeks must be 1 to 1,044 (two release schedules)".into());
        }
        if self.runs == 0 || self.runs > 1_000 {
            return invalid("runs must be 1 to 1,000".into());
        }
        if !(600..=86_400).contains(&self.block_time_s) || 604_800 % self.block_time_s != 0 {
            return invalid(
                "block_time_s must be 600 to 86,400 seconds and divide a week evenly".into(),
            );
        }
        if self.heartbeat_interval_s < self.block_time_s
            || self.heartbeat_interval_s % self.block_time_s != 0
            || self.heartbeat_interval_s > 604_800
        {
            return invalid(
                "heartbeat_interval_s must be a multiple of block_time_s, at most a week".into(),
            );
        }
        if !positive(self.pool_usd) {
            return invalid("pool_usd must be positive".into());
        }
        if self.verifiers == 0 || self.verifiers > 256 {
            return invalid("verifiers must be 1 to 256 (sampled tasks need a checker)".into());
        }
        let shares = [
            ("k", self.params.k),
            ("target_utilization", self.params.target_utilization),
            ("initial_supply_share", self.params.initial_supply_share),
            ("capacity_share", self.params.capacity_share),
            ("sampling_rate", self.params.sampling_rate),
            ("network_fee", self.params.network_fee),
            ("wrong_result_slash", self.params.wrong_result_slash),
        ];
        for (name, value) in shares {
            if let Some(value) = value {
                if !(0.0..=1.0).contains(&value) {
                    return invalid(format!("params.{name} must be between 0 and 1"));
                }
            }
        }
        let mut labels = std::collections::BTreeSet::new();
        let mut label = |name: &str| -> Result<(), ScenarioError> {
            if !label_ok(name) || !labels.insert(name.to_string()) {
                return invalid(format!(
                    "population name {name:?} must be unique and 1-32 of [a-z0-9_]"
                ));
            }
            Ok(())
        };
        let factors = vcity_ledger::nodes::NodeParams::default().gpu_factors_ppm;
        let known_gpu = |model: &str| factors.iter().any(|(name, _)| name == model);
        for population in &self.providers {
            label(&population.name)?;
            if !known_gpu(&population.gpu_model) {
                return invalid(format!(
                    "providers {:?}: gpu_model {:?} is not in the ledger's factor table",
                    population.name, population.gpu_model
                ));
            }
            if population.gpus == 0 || population.gpus > 64 {
                return invalid(format!(
                    "providers {:?}: gpus must be 1 to 64",
                    population.name
                ));
            }
            if population.price_strategy != "fixed" && population.price_strategy != "follow_load" {
                return invalid(format!(
                    "providers {:?}: price_strategy must be \"fixed\" or \"follow_load\"",
                    population.name
                ));
            }
            if population.kind != "stable" && population.kind != "flexible" {
                return invalid(format!(
                    "providers {:?}: kind must be \"stable\" or \"flexible\"",
                    population.name
                ));
            }
            for (what, value) in [
                ("uptime", population.uptime),
                ("exit_rate", population.exit_rate),
                ("churn_per_week", population.churn_per_week),
                ("sell_rewards", population.sell_rewards),
                ("liar_share", population.liar_share),
                ("lie_rate", population.lie_rate),
                ("overbill_share", population.overbill_share),
            ] {
                if !(0.0..=1.0).contains(&value) {
                    return invalid(format!(
                        "providers {:?}: {what} must be between 0 and 1",
                        population.name
                    ));
                }
            }
            if population.uptime == 0.0 || population.outage_days == 0 {
                return invalid(format!(
                    "providers {:?}: uptime and outage_days must be positive",
                    population.name
                ));
            }
            if !positive(population.price_per_gpu_hour_usd)
                || !non_negative(population.cost_per_gpu_hour_usd)
            {
                return invalid(format!(
                    "providers {:?}: the price must be positive and the cost not negative",
                    population.name
                ));
            }
        }
        for population in &self.buyers {
            label(&population.name)?;
            let [low, high] = population.task_hours;
            if !(low > 0.0 && high >= low && high <= 168.0) {
                return invalid(format!(
                    "buyers {:?}: task_hours must be 0 < low ≤ high ≤ 168",
                    population.name
                ));
            }
            if population.count == 0
                || population.tasks_per_job == 0
                || population.tasks_per_job > 64
                || !non_negative(population.gpu_hours_per_week)
                || !positive(population.max_price_per_gpu_hour_usd)
                || !positive(population.reference_price_per_gpu_hour_usd)
                || !non_negative(population.elasticity)
            {
                return invalid(format!(
                    "buyers {:?}: count and prices must be positive, tasks_per_job 1 to 64",
                    population.name
                ));
            }
            level(&population.verification)?;
        }
        for population in &self.lockers {
            label(&population.name)?;
            if population.lock_weeks == 0 || population.lock_weeks > 208 {
                return invalid(format!(
                    "lockers {:?}: lock_weeks must be 1 to 208",
                    population.name
                ));
            }
        }
        for population in &self.traders {
            label(&population.name)?;
        }
        for population in &self.wash_traders {
            label(&population.name)?;
            if !known_gpu(&population.gpu_model) {
                return invalid(format!(
                    "wash_traders {:?}: gpu_model {:?} is not in the ledger's factor table",
                    population.name, population.gpu_model
                ));
            }
            level(&population.verification)?;
        }
        let total_nodes: u64 = self.providers.iter().map(|p| u64::from(p.count)).sum();
        if total_nodes > 50_000 {
            return invalid("at most 50,000 providers at genesis".into());
        }
        for (name, values) in &self.sweep {
            if !SWEEPABLE.contains(&name.as_str()) {
                return invalid(format!(
                    "sweep names unknown parameter {name:?} (sweepable: {})",
                    SWEEPABLE.join(", ")
                ));
            }
            if values.is_empty() {
                return invalid(format!("sweep {name:?} has no values"));
            }
        }
        if let Some(expression) = &self.heatmap {
            let columns = crate::metrics::Recorder::columns(self);
            for name in expression.split(" - ").map(str::trim) {
                if !columns.iter().any(|column| column == name) {
                    return invalid(format!(
                        "heatmap names {name:?}, which is not a column of this scenario's CSV"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The `[params]` a sweep may vary.
pub const SWEEPABLE: &[&str] = &[
    "k",
    "target_utilization",
    "initial_supply_share",
    "capacity_share",
    "sampling_rate",
    "network_fee",
    "stake_usd_per_cu",
    "wrong_result_slash",
    "related_funding_blocks",
];

/// Positive and not NaN.
fn positive(value: f64) -> bool {
    value > 0.0
}

/// Zero or more and not NaN.
fn non_negative(value: f64) -> bool {
    value >= 0.0
}

/// The verification level named `name`.
pub fn level(name: &str) -> Result<vcity_types::trust::VerificationLevel, ScenarioError> {
    use vcity_types::trust::VerificationLevel;
    match name {
        "none" => Ok(VerificationLevel::None),
        "standard" => Ok(VerificationLevel::Standard),
        "high" => Ok(VerificationLevel::High),
        "full" => Ok(VerificationLevel::Full),
        other => Err(ScenarioError::Invalid(format!(
            "verification {other:?} must be none, standard, high or full"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "t"
weeks = 2
[[providers]]
name = "a"
count = 2
gpu_model = "A100"
price_per_gpu_hour_usd = 1.0
cost_per_gpu_hour_usd = 0.5
[sweep]
k = [0.05, 0.1]
sampling_rate = [0.05, 0.25]
"#;

    #[test]
    fn a_sweep_is_the_cartesian_product_in_order() {
        let scenario = Scenario::from_toml(MINIMAL).expect("valid");
        let subsets = scenario.subsets();
        assert_eq!(subsets.len(), 4);
        assert_eq!(subsets[1]["k"], 0.05);
        assert_eq!(subsets[1]["sampling_rate"], 0.25);
        let applied = scenario.at(&subsets[3]).expect("valid");
        assert_eq!(applied.params.k, Some(0.1));
        assert!(applied.sweep.is_empty());
    }

    #[test]
    fn every_sweepable_name_is_applied_by_a_sweep() {
        let scenario = Scenario::from_toml(MINIMAL).expect("valid");
        for name in SWEEPABLE {
            let applied = scenario
                .at(&BTreeMap::from([(name.to_string(), 0.25)]))
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_ne!(
                format!("{:?}", applied.params),
                format!("{:?}", Params::default()),
                "{name} changed nothing"
            );
        }
    }

    #[test]
    fn bad_scenarios_say_what_is_wrong() {
        let cases = [
            (MINIMAL.replace("\"A100\"", "\"B9000\""), "factor table"),
            (MINIMAL.replace("weeks = 2", "weeks = 0"), "weeks"),
            (MINIMAL.replace("k = [", "q = ["), "unknown parameter"),
            (
                MINIMAL.replace("count = 2", "count = 2\nfoo = 1"),
                "unknown field",
            ),
            (
                MINIMAL.replace("weeks = 2", "weeks = 2\nblock_time_s = 1000"),
                "divide a week",
            ),
            (
                MINIMAL.replace("weeks = 2", "weeks = 2\nheatmap = \"profit_usd.b - lies\""),
                "heatmap names \"profit_usd.b\"",
            ),
        ];
        for (text, expected) in cases {
            let error = Scenario::from_toml(&text).expect_err(expected);
            // The message and its source, as `{:#}` prints them in the CLI.
            let mut text = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                text = format!("{text}: {cause}");
                source = cause.source();
            }
            assert!(text.contains(expected), "{text}");
        }
    }
}
