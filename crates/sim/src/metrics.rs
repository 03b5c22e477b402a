//! What a run records: one row per closed incentive period (a week), in cadCAD's long format
//! (`simulation, subset, run, timestep`, then the metrics), so pandas or radCAD users read the
//! CSV as they read their own.
//!
//! A row is taken in the block that closes the period, from the ledger's state and the events
//! the week's blocks emitted. Rewards of a period are credited over the blocks after it closes
//! (a bounded number per block), so the reward columns (`capacity_vcai`, `reward_gini`, each
//! population's `rewards_vcai` and `profit_usd`) are filled in when the run ends, for every
//! period whose credits all arrived; the last week's stay empty.

use crate::scenario::Scenario;
use crate::world::{usd_f, vcai_f};
use std::collections::BTreeMap;
use vcity_ledger::{bank, incentives, nodes, pool, slashing, ve, vesting, Execution, State};
use vcity_types::incentives::RewardParts;
use vcity_types::{Amount, Denom};

/// The week's flows, reset when a period closes.
#[derive(Debug, Default)]
pub struct PeriodStats {
    /// Tasks that went back to pending.
    pub tasks_returned: u64,
    /// Tasks that failed.
    pub tasks_failed: u64,
    /// Tasks settled.
    pub tasks_settled: u64,
    /// Disputes opened.
    pub disputes: u64,
    /// Results faked or overbilled.
    pub lies: u64,
    /// Nodes that decided to join.
    pub joins: u64,
    /// Treasury buyback spent, USD.
    pub buyback_usd: f64,
    /// Treasury buyback bought, VCAI.
    pub buyback_vcai: f64,
    /// Transactions the ledger refused or dropped.
    pub refused_txs: u64,
    /// Network fees (the treasury's share of task payments), USD.
    pub fees_usd: f64,
    /// Reference GPU-seconds settled per owner population.
    pub cu_by_owner: BTreeMap<usize, f64>,
    /// USD paid (node income plus fee) per owner population.
    pub usd_by_owner: BTreeMap<usize, f64>,
    /// USD income per node population.
    pub income_by_node: BTreeMap<usize, f64>,
    /// VCAI slashed per node population.
    pub slashed_by_node: BTreeMap<usize, f64>,
    /// Buyback rewards claimed per locker population (VCAI).
    pub claimed_by_locker: BTreeMap<usize, f64>,
}

impl PeriodStats {
    /// A node of `population` was paid `usd`.
    pub fn node_usd(&mut self, population: usize, usd: f64) {
        *self.income_by_node.entry(population).or_default() += usd;
    }

    /// A task of an owner in `population` settled: `work_cu_ppm` for `paid_usd`.
    pub fn settled(&mut self, population: usize, work_cu_ppm: u64, paid_usd: f64) {
        self.tasks_settled += 1;
        *self.cu_by_owner.entry(population).or_default() += work_cu_ppm as f64 / 1e6;
        *self.usd_by_owner.entry(population).or_default() += paid_usd;
    }

    /// A node of `population` was slashed.
    pub fn slashed(&mut self, population: usize, vcai: f64) {
        *self.slashed_by_node.entry(population).or_default() += vcai;
    }
}

/// What the simulation knows when a period closes, beside the ledger's state.
#[derive(Debug)]
pub struct WeekEnd<'a> {
    /// The period that closed.
    pub closed: u64,
    /// The state after the block that closed it.
    pub state: &'a State,
    /// Its record.
    pub record: Option<&'a incentives::Period>,
    /// The pool's spot price, USD per VCAI.
    pub price_usd: f64,
    /// (population, GPUs, active) per node.
    pub node_list: &'a [(usize, u32, bool)],
    /// Active nodes whose bond is paused.
    pub paused: usize,
    /// Vested grant VCAI not claimed yet (still in the vesting account).
    pub vested_unclaimed: Amount,
}

/// One row: column name → value.
pub type Row = BTreeMap<String, f64>;

/// The rows of a run and what is needed to finish them.
#[derive(Debug)]
pub struct Recorder {
    /// This week's flows.
    pub period: PeriodStats,
    rows: Vec<Row>,
    /// Per period: each node's credited rewards (VCAI).
    node_credits: BTreeMap<u64, BTreeMap<usize, f64>>,
    /// Per period and node population: credited rewards (VCAI).
    population_credits: BTreeMap<(u64, usize), f64>,
    /// Per period and node population: Proof of Delivery credited (VCAI).
    population_delivery: BTreeMap<(u64, usize), f64>,
    /// Periods whose every member has been credited.
    settled: std::collections::BTreeSet<u64>,
    /// Per period: the streams credited (VCAI): capacity, delivery, rebate, performance,
    /// referral.
    streams: BTreeMap<u64, [f64; 5]>,
    /// Per period and owner population: rebates (VCAI).
    rebates: BTreeMap<(u64, usize), f64>,
    provider_names: Vec<String>,
    buyer_names: Vec<String>,
    locker_names: Vec<String>,
    costs: Vec<f64>,
    released_cum_vcai: f64,
    /// What went wrong over the run, by reason: refused transactions (the ledger's error text
    /// with ids and numbers left out), failed tasks, slashes.
    tallies: BTreeMap<String, u64>,
}

/// Where the VCAI supply is, as (column, label): the parts add up to the total supply.
pub const SUPPLY_PARTS: &[(&str, &str)] = &[
    ("unvested_vcai", "unvested"),
    ("vested_unclaimed_vcai", "vested, unclaimed"),
    ("reserve_vcai", "reserve"),
    ("incentive_pool_vcai", "incentive pool"),
    ("grants_vcai", "grants"),
    ("unclaimed_vcai", "unclaimed rewards"),
    ("staked_vcai", "staked"),
    ("ve_locked_vcai", "ve-locked"),
    ("amm_vcai", "AMM pool"),
    ("treasury_vcai", "treasury"),
    ("free_vcai", "free float"),
];

/// Column order of the fixed metrics (after `simulation, subset, run, timestep`).
pub const COLUMNS: &[&str] = &[
    "week",
    "height",
    "nodes",
    "nodes_paused",
    "gpus",
    "utilization",
    "p_supply",
    "p_supply_next",
    "released_vcai",
    "released_cum_vcai",
    "release_cap_vcai",
    "capacity_vcai",
    "delivery_vcai",
    "rebate_vcai",
    "performance_vcai",
    "referral_vcai",
    "reward_gini",
    "reward_top10_share",
    "price_usd",
    "circulating_vcai",
    "unvested_vcai",
    "vested_unclaimed_vcai",
    "reserve_vcai",
    "incentive_pool_vcai",
    "grants_vcai",
    "unclaimed_vcai",
    "staked_vcai",
    "ve_locked_vcai",
    "amm_vcai",
    "treasury_vcai",
    "free_vcai",
    "treasury_usd",
    "buyback_usd",
    "buyback_vcai",
    "fees_usd",
    "ve_weight",
    "tasks_settled",
    "gpu_hours_settled",
    "tasks_failed",
    "tasks_returned",
    "disputes",
    "lies",
    "joins",
    "refused_txs",
];

impl Recorder {
    /// A recorder for `scenario`'s populations.
    pub fn new(scenario: &Scenario) -> Recorder {
        let mut provider_names: Vec<String> =
            scenario.providers.iter().map(|p| p.name.clone()).collect();
        let mut costs: Vec<f64> = scenario
            .providers
            .iter()
            .map(|p| p.cost_per_gpu_hour_usd)
            .collect();
        let mut buyer_names: Vec<String> = scenario.buyers.iter().map(|b| b.name.clone()).collect();
        for wash in &scenario.wash_traders {
            provider_names.push(wash.name.clone());
            costs.push(0.0);
            buyer_names.push(wash.name.clone());
        }
        let locker_names = scenario.lockers.iter().map(|l| l.name.clone()).collect();
        Recorder {
            period: PeriodStats::default(),
            locker_names,
            rows: Vec::new(),
            node_credits: BTreeMap::new(),
            population_credits: BTreeMap::new(),
            population_delivery: BTreeMap::new(),
            streams: BTreeMap::new(),
            settled: std::collections::BTreeSet::new(),
            rebates: BTreeMap::new(),
            provider_names,
            buyer_names,
            costs,
            released_cum_vcai: 0.0,
            tallies: BTreeMap::new(),
        }
    }

    /// Every column of this scenario's rows, in order (after the four cadCAD columns).
    pub fn columns(scenario: &Scenario) -> Vec<String> {
        let recorder = Recorder::new(scenario);
        let mut columns: Vec<String> = scenario.sweep.keys().cloned().collect();
        columns.extend(COLUMNS.iter().map(|name| name.to_string()));
        for name in &recorder.provider_names {
            for metric in [
                "nodes",
                "income_usd",
                "rewards_vcai",
                "delivery_vcai",
                "slashed_vcai",
                "profit_usd",
            ] {
                columns.push(format!("{metric}.{name}"));
            }
        }
        for name in &recorder.buyer_names {
            for metric in ["gpu_hours", "paid_usd", "rebate_vcai"] {
                columns.push(format!("{metric}.{name}"));
            }
        }
        for name in &recorder.locker_names {
            columns.push(format!("claimed_vcai.{name}"));
        }
        columns
    }

    /// A block was executed: counts what it refused.
    pub fn block(&mut self, execution: &Execution) {
        self.period.refused_txs += execution.dropped.len() as u64;
        for (_, error) in &execution.dropped {
            let text = reason(&error.to_string());
            *self.tallies.entry(format!("dropped: {text}")).or_default() += 1;
        }
        for receipt in &execution.receipts {
            if !receipt.is_success() {
                self.period.refused_txs += 1;
                let text = reason(&receipt.error);
                *self.tallies.entry(text).or_default() += 1;
            }
        }
    }

    /// A node (`index`, of `population`) was credited for `period`.
    pub fn credit_node(
        &mut self,
        period: u64,
        index: usize,
        population: usize,
        parts: &RewardParts,
    ) {
        let total = vcai_f(parts.total().unwrap_or(Amount::ZERO));
        *self
            .node_credits
            .entry(period)
            .or_default()
            .entry(index)
            .or_default() += total;
        *self
            .population_credits
            .entry((period, population))
            .or_default() += total;
        *self
            .population_delivery
            .entry((period, population))
            .or_default() += vcai_f(parts.delivery);
        self.stream(period, parts);
    }

    /// A buyer of `population` was credited for `period`.
    pub fn credit_buyer(&mut self, period: u64, population: usize, parts: &RewardParts) {
        *self.rebates.entry((period, population)).or_default() += vcai_f(parts.rebate);
        self.stream(period, parts);
    }

    fn stream(&mut self, period: u64, parts: &RewardParts) {
        let entry = self.streams.entry(period).or_default();
        entry[0] += vcai_f(parts.capacity);
        entry[1] += vcai_f(parts.delivery);
        entry[2] += vcai_f(parts.rebate);
        entry[3] += vcai_f(parts.performance);
        entry[4] += vcai_f(parts.referral);
    }

    /// What went wrong over the run, by reason. Agents act on what they saw in the last block,
    /// so some refusals are expected (an assignment racing the weekly repricing, a claim that
    /// finds nothing); a refusal that dominates points at a behaviour model's mistake.
    pub fn tallies(&self) -> &BTreeMap<String, u64> {
        &self.tallies
    }

    /// A node was slashed for `offence`.
    pub fn slash(&mut self, offence: vcity_types::trust::Offence) {
        *self
            .tallies
            .entry(format!("slashed: {offence:?}"))
            .or_default() += 1;
    }

    /// A task failed for `why`.
    pub fn failure(&mut self, why: &str) {
        *self
            .tallies
            .entry(format!("task failed: {}", reason(why)))
            .or_default() += 1;
    }

    /// Each node's credited rewards over the whole run, VCAI, in node order.
    pub fn node_totals(&self) -> Vec<f64> {
        let mut totals: BTreeMap<usize, f64> = BTreeMap::new();
        for credits in self.node_credits.values() {
            for (node, value) in credits {
                *totals.entry(*node).or_default() += value;
            }
        }
        totals.into_values().collect()
    }

    /// Every member of `period` has been credited.
    pub fn period_settled(&mut self, period: u64) {
        self.settled.insert(period);
    }

    /// Rebates credited to `population` for `period`, VCAI.
    pub fn rebates_of(&self, period: u64, population: usize) -> f64 {
        self.rebates
            .get(&(period, population))
            .copied()
            .unwrap_or(0.0)
    }

    /// A period ended: records its row.
    pub fn close_period(&mut self, end: WeekEnd<'_>) {
        let WeekEnd {
            closed,
            state,
            record,
            price_usd,
            node_list,
            paused,
            vested_unclaimed,
        } = end;
        let stats = std::mem::take(&mut self.period);
        let balance = |account| vcai_f(bank::balance(state, &account, Denom::Vcai));
        let mut row = Row::new();
        let mut set = |name: &str, value: f64| {
            row.insert(name.to_string(), value);
        };
        set("week", closed as f64);
        set("height", vcity_ledger::chain::height(state).0 as f64);
        let active: Vec<&(usize, u32, bool)> = node_list.iter().filter(|n| n.2).collect();
        set("nodes", active.len() as f64);
        set("nodes_paused", paused as f64);
        set("gpus", active.iter().map(|n| f64::from(n.1)).sum::<f64>());
        if let Some(record) = record {
            set("utilization", record.utilization_ppm as f64 / 1e6);
            set("p_supply", record.supply_share_ppm as f64 / 1e6);
            let released = vcai_f(
                record
                    .scheduled
                    .checked_sub(record.grants)
                    .unwrap_or_default(),
            );
            self.released_cum_vcai += released;
            set("released_vcai", released);
        }
        set("released_cum_vcai", self.released_cum_vcai);
        set("release_cap_vcai", 2_000_000_000.0);
        if let Some(open) = incentives::current(state) {
            set("p_supply_next", open.supply_share_ppm as f64 / 1e6);
        }
        set("price_usd", price_usd);
        let supply = vcai_f(bank::supply(state, Denom::Vcai));
        let parts = [
            // The vesting account holds what is still locked and what vested but was not
            // claimed yet.
            (
                "unvested_vcai",
                balance(vesting::vesting_account()) - vcai_f(vested_unclaimed)
                    + balance(vcity_ledger::nft::nft_reserve_account()),
            ),
            ("vested_unclaimed_vcai", vcai_f(vested_unclaimed)),
            ("reserve_vcai", balance(vesting::reserve_account())),
            ("incentive_pool_vcai", balance(incentives::pool_account())),
            ("grants_vcai", balance(incentives::grants_account())),
            (
                "unclaimed_vcai",
                balance(incentives::rewards_account())
                    + balance(vcity_ledger::rewards::distributor_account()),
            ),
            (
                "staked_vcai",
                balance(nodes::stake_account()) + balance(slashing::escrow_account()),
            ),
            ("ve_locked_vcai", balance(ve::ve_account())),
            ("amm_vcai", balance(pool::pool_account())),
            ("treasury_vcai", balance(bank::treasury())),
        ];
        let mut held = 0.0;
        for (name, value) in parts {
            held += value;
            set(name, value);
        }
        set("free_vcai", (supply - held).max(0.0));
        set("circulating_vcai", vcai_f(vesting::circulating(state)));
        set(
            "treasury_usd",
            usd_f(bank::balance(state, &bank::treasury(), Denom::Usd)),
        );
        set("buyback_usd", stats.buyback_usd);
        set("buyback_vcai", stats.buyback_vcai);
        set("fees_usd", stats.fees_usd);
        set(
            "ve_weight",
            ve::total_weight(state) as f64 / ve::WEIGHT_SCALE as f64,
        );
        set("tasks_settled", stats.tasks_settled as f64);
        set(
            "gpu_hours_settled",
            stats.cu_by_owner.values().sum::<f64>() / 3_600.0,
        );
        set("tasks_failed", stats.tasks_failed as f64);
        set("tasks_returned", stats.tasks_returned as f64);
        set("disputes", stats.disputes as f64);
        set("lies", stats.lies as f64);
        set("joins", stats.joins as f64);
        set("refused_txs", stats.refused_txs as f64);
        for (population, name) in self.provider_names.iter().enumerate() {
            let members: Vec<&&(usize, u32, bool)> =
                active.iter().filter(|n| n.0 == population).collect();
            let gpus: f64 = members.iter().map(|n| f64::from(n.1)).sum();
            let income = stats
                .income_by_node
                .get(&population)
                .copied()
                .unwrap_or(0.0);
            let slashed = stats
                .slashed_by_node
                .get(&population)
                .copied()
                .unwrap_or(0.0);
            row.insert(format!("nodes.{name}"), members.len() as f64);
            row.insert(format!("income_usd.{name}"), income);
            row.insert(format!("slashed_vcai.{name}"), slashed);
            // Profit without rewards for now; rewards are added when the run ends.
            row.insert(
                format!("profit_usd.{name}"),
                income - gpus * self.costs[population] * 168.0 - slashed * price_usd,
            );
        }
        for (population, name) in self.buyer_names.iter().enumerate() {
            row.insert(
                format!("gpu_hours.{name}"),
                stats.cu_by_owner.get(&population).copied().unwrap_or(0.0) / 3_600.0,
            );
            row.insert(
                format!("paid_usd.{name}"),
                stats.usd_by_owner.get(&population).copied().unwrap_or(0.0),
            );
        }
        for (population, name) in self.locker_names.iter().enumerate() {
            row.insert(
                format!("claimed_vcai.{name}"),
                stats
                    .claimed_by_locker
                    .get(&population)
                    .copied()
                    .unwrap_or(0.0),
            );
        }
        self.rows.push(row);
    }

    /// The finished rows: rewards of each period filled in (valued at the price of the week
    /// they were credited in).
    pub fn finish(mut self) -> Vec<Row> {
        for row in &mut self.rows {
            let period = row["week"] as u64;
            let price = row["price_usd"];
            if !self.settled.contains(&period) {
                // Its credits had not all arrived when the run ended: reward columns stay
                // empty rather than understated, and so does the profit they are part of.
                let names: Vec<String> = row
                    .keys()
                    .filter(|name| name.starts_with("profit_usd."))
                    .cloned()
                    .collect();
                for name in names {
                    row.remove(&name);
                }
                continue;
            }
            let streams = self.streams.get(&period).copied().unwrap_or_default();
            row.insert("capacity_vcai".into(), streams[0]);
            row.insert("delivery_vcai".into(), streams[1]);
            row.insert("rebate_vcai".into(), streams[2]);
            row.insert("performance_vcai".into(), streams[3]);
            row.insert("referral_vcai".into(), streams[4]);
            let mut rewards: Vec<f64> = self
                .node_credits
                .get(&period)
                .map(|credits| credits.values().copied().collect())
                .unwrap_or_default();
            row.insert("reward_gini".into(), gini(&mut rewards));
            row.insert("reward_top10_share".into(), top_share(&rewards, 0.1));
            for (population, name) in self.provider_names.iter().enumerate() {
                let credited = self
                    .population_credits
                    .get(&(period, population))
                    .copied()
                    .unwrap_or(0.0);
                row.insert(format!("rewards_vcai.{name}"), credited);
                let delivery = self
                    .population_delivery
                    .get(&(period, population))
                    .copied()
                    .unwrap_or(0.0);
                row.insert(format!("delivery_vcai.{name}"), delivery);
                let mut profit = row[&format!("profit_usd.{name}")] + credited * price;
                // A wash trader is both sides: what its buyer paid and the rebates it earned
                // count in its profit.
                if let Some(buyer) = self.buyer_names.iter().position(|other| other == name) {
                    profit -= row[&format!("paid_usd.{name}")];
                    profit += self.rebates.get(&(period, buyer)).copied().unwrap_or(0.0) * price;
                }
                row.insert(format!("profit_usd.{name}"), profit);
            }
            for (population, name) in self.buyer_names.iter().enumerate() {
                row.insert(
                    format!("rebate_vcai.{name}"),
                    self.rebates
                        .get(&(period, population))
                        .copied()
                        .unwrap_or(0.0),
                );
            }
        }
        self.rows
    }
}

/// A refusal's text without the account or hash it names, so that refusals group by reason.
fn reason(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.len() >= 16 && word.bytes().all(|b| b.is_ascii_hexdigit()) {
                "<id>"
            } else if word.bytes().any(|b| b.is_ascii_digit()) {
                "<n>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(100)
        .collect()
}

/// The Gini coefficient of `values` (sorted in place): 0 when all are equal, towards 1 when one
/// holds everything; 0 for no values.
pub fn gini(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len() as f64;
    let total: f64 = values.iter().sum();
    if values.is_empty() || total <= 0.0 {
        return 0.0;
    }
    let weighted: f64 = values
        .iter()
        .enumerate()
        .map(|(i, value)| (i as f64 + 1.0) * value)
        .sum();
    (2.0 * weighted) / (n * total) - (n + 1.0) / n
}

/// Share of the total held by the top `fraction` of `sorted` (ascending) values.
pub fn top_share(sorted: &[f64], fraction: f64) -> f64 {
    let total: f64 = sorted.iter().sum();
    if sorted.is_empty() || total <= 0.0 {
        return 0.0;
    }
    let count = ((sorted.len() as f64 * fraction).ceil() as usize).max(1);
    sorted.iter().rev().take(count).sum::<f64>() / total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gini_matches_hand_computed_values() {
        assert_eq!(gini(&mut [5.0, 5.0, 5.0, 5.0]), 0.0);
        // One of four holds everything: (n − 1)/n.
        assert!((gini(&mut [0.0, 0.0, 0.0, 8.0]) - 0.75).abs() < 1e-12);
        // 1, 2, 3: Σ|xi − xj| over ordered pairs = 8, / (2·n²·mean) = 8 / 36.
        assert!((gini(&mut [3.0, 1.0, 2.0]) - 8.0 / 36.0).abs() < 1e-12);
        assert_eq!(top_share(&[1.0, 1.0, 1.0, 7.0], 0.25), 0.7);
    }
}
