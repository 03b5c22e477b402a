//! `vcity operator`: what a node operator runs on a new machine (docs/operators.md, whitepaper
//! §5.2 "for node operators").
//!
//! - `init` checks the host for the chosen role ([`host`]), writes the home's `config.toml`,
//!   creates the node's key (and asks for a backup of it), and writes a systemd unit that starts
//!   the role's daemon ([`units`]). Running it again rewrites the unit and keeps the key.
//! - `check` runs the host checks alone.
//! - `status` is the operator's view of a registered node: registration, stake against its
//!   requirement, probation and capacity challenges, online time, tasks, reputation, incentive
//!   income per period with a projection, slashes and appeals.

pub mod host;
pub mod units;

use crate::shared::config::{Settings, DEFAULT_LISTEN};
use anyhow::{bail, Context as _};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use vcity_sdk::{Client, Keyring};
use vcity_types::api::{NodeView, RewardsView};
use vcity_types::{AccountId, Amount, Denom};

/// What the machine will run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A compute node (`vcity node compute`): runs tasks, earns fees and incentives.
    Compute,
    /// A scheduler (`vcity node scheduler`): places pending tasks.
    Scheduler,
    /// A verifier (`vcity node verifier`): checks results and capacity proofs.
    Verifier,
    /// A chain node on the solo engine over a data directory (`vcity node --data-dir`).
    Chain,
    /// A BFT validator (`vcity node validator`) from the home's genesis and validator key.
    Validator,
}

impl Role {
    /// Its word in unit and command names.
    pub fn word(self) -> &'static str {
        match self {
            Role::Compute => "compute",
            Role::Scheduler => "scheduler",
            Role::Verifier => "verifier",
            Role::Chain => "chain",
            Role::Validator => "validator",
        }
    }

    /// The daemon's default listen address (its API, or its metrics and health).
    fn default_listen(self) -> &'static str {
        match self {
            Role::Compute => "127.0.0.1:8720",
            Role::Scheduler => "127.0.0.1:8730",
            Role::Verifier => "127.0.0.1:8740",
            Role::Chain | Role::Validator => DEFAULT_LISTEN,
        }
    }

    /// Whether it signs with a key of the keyring (the chain roles use the data directory's).
    fn has_key(self) -> bool {
        matches!(self, Role::Compute | Role::Scheduler | Role::Verifier)
    }
}

/// `vcity operator …`.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Set this machine up for a role: check the host, write config.toml, create the key (and
    /// confirm its backup), write the systemd unit (docs/operators.md).
    Init(Box<InitArgs>),
    /// Check the host for a role and print what is missing with the command that fixes it.
    Check(CheckArgs),
    /// The operator's view of a registered node: stake, probation, challenges, tasks,
    /// reputation, income per period with a projection, slashes and appeals.
    Status {
        /// The node's keyring name, or its account.
        #[arg(long)]
        key: String,
        /// Incentive periods averaged for the projection.
        #[arg(long, default_value_t = 4)]
        periods: usize,
    },
}

/// `vcity operator init` options.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The role.
    #[arg(long, value_enum)]
    pub role: Role,
    /// The key's name in the keyring (compute, scheduler, verifier); created if absent.
    #[arg(long, required_if_eq_any([("role", "compute"), ("role", "scheduler"), ("role", "verifier")]))]
    pub key: Option<String>,
    /// Where the daemon listens [default: the role's port on 127.0.0.1].
    #[arg(long)]
    pub listen: Option<String>,
    /// What a compute node registers (`--region` also names a scheduler's or verifier's).
    #[command(flatten)]
    pub offer: crate::node::daemons::ComputeOffer,
    /// VCAI to stake at registration [default: the requirement].
    #[arg(long)]
    pub stake: Option<String>,
    /// The chain node's data directory (role chain) [default: {home}/chain].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where to write the unit [default: /etc/systemd/system as root, else
    /// ~/.config/systemd/user].
    #[arg(long)]
    pub unit_dir: Option<PathBuf>,
    /// The vcity binary the unit starts [default: this one].
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// The account the service runs as (system units; the default is root).
    #[arg(long)]
    pub user: Option<String>,
    /// Confirm without asking that the key is backed up (scripts).
    #[arg(long)]
    pub yes: bool,
}

/// `vcity operator check` options.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The role.
    #[arg(long, value_enum, default_value = "compute")]
    pub role: Role,
    /// Where the daemon will listen [default: the role's port on 127.0.0.1].
    #[arg(long)]
    pub listen: Option<String>,
}

/// Runs an operator command.
pub fn operator(settings: &Settings, command: OperatorCommand, json: bool) -> anyhow::Result<()> {
    match command {
        OperatorCommand::Init(args) => init(settings, *args, json),
        OperatorCommand::Check(args) => {
            let listen = args
                .listen
                .unwrap_or_else(|| args.role.default_listen().to_string());
            let api = (!matches!(args.role, Role::Chain | Role::Validator))
                .then_some(settings.node.as_str());
            std::fs::create_dir_all(&settings.home)
                .with_context(|| format!("creating {}", settings.home.display()))?;
            let checks = host::checks(args.role, &settings.home, &listen, api);
            if json {
                crate::shared::print_json(
                    &serde_json::json!({ "role": args.role, "checks": checks }),
                )?;
            } else {
                print_checks(&checks);
            }
            if checks
                .iter()
                .any(|check| check.outcome == host::Outcome::Missing)
            {
                std::process::exit(1);
            }
            Ok(())
        }
        OperatorCommand::Status { key, periods } => status(settings, &key, periods, json),
    }
}

fn print_checks(checks: &[host::HostCheck]) {
    for check in checks {
        let mark = match check.outcome {
            host::Outcome::Ok => "ok     ",
            host::Outcome::Warn => "warn   ",
            host::Outcome::Missing => "MISSING",
        };
        println!("{mark} {:<18} {}", check.name, check.detail);
        if let Some(fix) = &check.fix {
            println!("        {:<18} fix: {fix}", "");
        }
    }
}

/// What `init` did.
#[derive(Debug, Serialize)]
struct Initialized {
    role: Role,
    home: String,
    config: String,
    config_written: bool,
    key: Option<KeyInfo>,
    unit: String,
    unit_name: String,
    checks: Vec<host::HostCheck>,
    next: Vec<String>,
}

#[derive(Debug, Serialize)]
struct KeyInfo {
    name: String,
    account: AccountId,
    file: String,
    created: bool,
}

fn init(settings: &Settings, args: InitArgs, json: bool) -> anyhow::Result<()> {
    let home = absolute(&settings.home)?;
    std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
    let listen = args
        .listen
        .clone()
        .unwrap_or_else(|| args.role.default_listen().to_string());
    let serves_chain = matches!(args.role, Role::Chain | Role::Validator);
    let api = (!serves_chain).then_some(settings.node.as_str());
    let checks = host::checks(args.role, &home, &listen, api);

    // The data a chain role needs must be there already: its genesis comes from the network.
    let data_dir = match args.role {
        Role::Chain => Some(absolute(
            &args.data_dir.clone().unwrap_or_else(|| home.join("chain")),
        )?),
        Role::Validator => Some(home.clone()),
        _ => None,
    };
    if let Some(dir) = &data_dir {
        for file in ["genesis.json", "validator_key.json"] {
            if !dir.join(file).is_file() {
                bail!(
                    "{} has no {file}: a {} needs the network's genesis and its validator key \
                     there first (docs/operators.md, \"Chain nodes and validators\")",
                    dir.display(),
                    args.role.word()
                );
            }
        }
    }

    // config.toml: the API the operator's own commands talk to.
    let config = home.join("config.toml");
    let config_written = if config.exists() {
        false
    } else {
        let node = if serves_chain {
            format!("http://{listen}")
        } else {
            settings.node.clone()
        };
        let text = format!(
            "# Written by `vcity operator init --role {}` (docs/operators.md).\n\
             node = {}\n",
            args.role.word(),
            toml_string(&node)
        );
        write_atomically(&config, text.as_bytes())?;
        true
    };

    // The key, and a confirmed backup of it.
    let key = match (&args.key, args.role.has_key()) {
        (Some(name), true) => {
            let ring = Keyring::open(&home.join("keys"))?;
            let created = !ring.contains(name);
            let file = if created {
                ring.create(name)?
            } else {
                ring.get(name)?
            };
            let path = ring.dir().join(format!("{name}.json"));
            if !args.yes {
                confirm_backup(&path, json)?;
            }
            Some(KeyInfo {
                name: name.clone(),
                account: file.account,
                file: path.display().to_string(),
                created,
            })
        }
        _ => None,
    };

    // The unit.
    let binary = match &args.binary {
        Some(path) => absolute(path)?,
        None => std::env::current_exe().context("finding this vcity binary")?,
    };
    // A system unit as root (or for another account), a user unit otherwise.
    let system = running_as_root() || args.user.is_some();
    let unit_dir = match &args.unit_dir {
        Some(dir) => dir.clone(),
        None if system => PathBuf::from("/etc/systemd/system"),
        None => user_unit_dir()?,
    };
    let spec = units::UnitSpec {
        role: args.role,
        binary,
        home: home.clone(),
        node: (!serves_chain).then(|| settings.node.clone()),
        key: args.key.clone(),
        listen: listen.clone(),
        offer: args.offer.clone(),
        stake: args.stake.clone(),
        data_dir,
        user: args.user.clone(),
        system,
    };
    let unit_text = units::render(&spec);
    std::fs::create_dir_all(&unit_dir)
        .with_context(|| format!("creating {}", unit_dir.display()))?;
    let unit_name = units::unit_name(args.role);
    let unit = unit_dir.join(&unit_name);
    write_atomically(&unit, unit_text.as_bytes())?;

    let systemctl = if spec.system {
        "sudo systemctl"
    } else {
        "systemctl --user"
    };
    let mut next = Vec::new();
    if let Some(key) = &key {
        next.push(format!(
            "fund {} with VCAI for its stake and a little USD for fees: vcity tx transfer \
             --from FUNDER --to {} --amount N --denom vcai (then --denom usd)",
            key.account, key.account
        ));
    }
    next.push(format!(
        "{systemctl} daemon-reload && {systemctl} enable --now {unit_name}"
    ));
    if !spec.system {
        next.push(
            "loginctl enable-linger \"$USER\"   # keep user units running after logout".into(),
        );
    }
    if let Some(key) = &key {
        next.push(format!(
            "vcity --home {} operator status --key {}",
            home.display(),
            key.name
        ));
    }
    let done = Initialized {
        role: args.role,
        home: home.display().to_string(),
        config: config.display().to_string(),
        config_written,
        key,
        unit: unit.display().to_string(),
        unit_name,
        checks,
        next,
    };
    let missing = done
        .checks
        .iter()
        .any(|check| check.outcome == host::Outcome::Missing);
    if json {
        crate::shared::print_json(&done)?;
    } else {
        println!("host checks for a {} node:", args.role.word());
        print_checks(&done.checks);
        println!();
        if done.config_written {
            println!("wrote {}", done.config);
        } else {
            println!("kept {} as it is", done.config);
        }
        if let Some(key) = &done.key {
            println!(
                "{} key {} (account {}) in {}",
                if key.created { "created" } else { "kept" },
                key.name,
                key.account,
                key.file
            );
        }
        println!("wrote {}", done.unit);
        println!();
        println!("next:");
        for step in &done.next {
            println!("  {step}");
        }
        if missing {
            println!();
            println!("fix what is MISSING above before starting the unit");
        }
    }
    if missing {
        std::process::exit(1);
    }
    Ok(())
}

/// Asks the operator to confirm that the key file is backed up; a script passes `--yes`.
fn confirm_backup(path: &Path, json: bool) -> anyhow::Result<()> {
    if json || !std::io::stdin().is_terminal() {
        bail!(
            "back up {} (it holds the account that stakes and earns; whoever has it controls \
             them, and without it they are lost), then run this again with --yes",
            path.display()
        );
    }
    print!(
        "The node's key is {}.\nIt holds the account that stakes VCAI and receives rewards: \
         copy it somewhere safe and offline now (e.g. cp {} /media/backup/).\nBacked up? [y/N] ",
        path.display(),
        path.display()
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        bail!("not confirmed: back the key up, then run this again");
    }
    Ok(())
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn user_unit_dir() -> anyhow::Result<PathBuf> {
    if let Some(config) = std::env::var_os("XDG_CONFIG_HOME") {
        return Ok(Path::new(&config).join("systemd/user"));
    }
    match std::env::var_os("HOME") {
        Some(home) => Ok(Path::new(&home).join(".config/systemd/user")),
        None => bail!("no HOME: pass --unit-dir"),
    }
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// [`vcity_compute::journal::write_atomically`], with the path in the error.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    vcity_compute::journal::write_atomically(path, bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// The operator's view.
#[derive(Debug, Serialize)]
struct Status {
    node: NodeView,
    stake_short_vcai: Amount,
    income: Income,
}

/// Income per period and what it projects to.
#[derive(Debug, Serialize)]
struct Income {
    period_s: u64,
    /// The open incentive period.
    current_period: Option<u64>,
    /// The node's incentive credits of its last periods with any, oldest first.
    periods: Vec<vcity_types::incentives::PeriodReward>,
    /// What the ledger counted for the node in the open period and the ones before it, newest
    /// first: USD earned from tasks, CU delivered, outages.
    activity: Vec<vcity_types::api::PeriodActivity>,
    /// Claimable now.
    claimable_vcai: Amount,
    /// All time, by stream.
    total: vcity_types::incentives::RewardParts,
    /// The loyalty multiplier on Proof of Capacity in the open period, ppm.
    loyalty_ppm: u64,
    /// The node's referrer, if it named one.
    referral: Option<vcity_types::api::ReferralView>,
    /// The mean incentive credit of the last `averaged` credited periods (rounded down).
    mean_per_period_vcai: Amount,
    averaged: usize,
    /// That mean over 30 days of periods (rounded down).
    projected_30_days_vcai: Amount,
    /// The mean USD earned from tasks over the last `averaged_usd` closed periods with any
    /// (rounded down).
    mean_earned_per_period_usd: Amount,
    averaged_usd: usize,
    /// That mean over 30 days of periods (rounded down).
    projected_30_days_usd: Amount,
}

/// The mean of `amounts` (rounded down) and its number.
fn mean(amounts: &[Amount]) -> anyhow::Result<(Amount, usize)> {
    let mut sum = Amount::ZERO;
    for amount in amounts {
        sum = sum.checked_add(*amount)?;
    }
    let count = amounts.len() as u128;
    Ok((
        Amount::new(sum.base_units().checked_div(count).unwrap_or(0)),
        amounts.len(),
    ))
}

fn income(
    rewards: &RewardsView,
    period_s: u64,
    current_period: Option<u64>,
    averaged: usize,
) -> anyhow::Result<Income> {
    let averaged = averaged.max(1);
    let credits = rewards
        .incentives_history
        .iter()
        .rev()
        .take(averaged)
        .map(|period| period.parts.total())
        .collect::<Result<Vec<_>, _>>()?;
    let (mean_vcai, count_vcai) = mean(&credits)?;
    // Only closed periods: the open one is still counting.
    let earned: Vec<Amount> = rewards
        .periods
        .iter()
        .filter(|activity| current_period.is_none_or(|open| activity.period < open))
        .take(averaged)
        .map(|activity| activity.earned_usd)
        .collect();
    let (mean_usd, count_usd) = mean(&earned)?;
    let periods_in_30_days = (30 * 86_400u128)
        .checked_div(u128::from(period_s))
        .unwrap_or(0);
    let over_30_days =
        |amount: Amount| Amount::new(amount.base_units().saturating_mul(periods_in_30_days));
    Ok(Income {
        period_s,
        current_period,
        periods: rewards.incentives_history.clone(),
        activity: rewards.periods.clone(),
        claimable_vcai: rewards.claimable_vcai,
        total: rewards.incentives_total,
        loyalty_ppm: rewards.loyalty_ppm,
        referral: rewards.referral.clone(),
        mean_per_period_vcai: mean_vcai,
        averaged: count_vcai,
        projected_30_days_vcai: over_30_days(mean_vcai),
        mean_earned_per_period_usd: mean_usd,
        averaged_usd: count_usd,
        projected_30_days_usd: over_30_days(mean_usd),
    })
}

fn status(settings: &Settings, key: &str, periods: usize, json: bool) -> anyhow::Result<()> {
    let client = Client::new(&settings.node);
    let ring = Keyring::open(&settings.keyring_dir())?;
    let account = crate::shared::resolve_account(&ring, key)?;
    let node = client
        .node(&account)
        .with_context(|| format!("{account} is not a registered node on {}", settings.node))?;
    let rewards = client.rewards(&account)?;
    let pool = client.incentives()?;
    let period_s = pool.params.period_s;
    let current_period = pool.current.as_ref().map(|open| open.index);
    let status = Status {
        stake_short_vcai: node
            .required_stake
            .checked_sub(node.node.stake)
            .unwrap_or(Amount::ZERO),
        income: income(&rewards, period_s, current_period, periods)?,
        node,
    };
    if json {
        return crate::shared::print_json(&status);
    }
    print_status(&status, key);
    Ok(())
}

fn vcai(amount: Amount) -> String {
    format!("{} VCAI", amount.to_decimal(Denom::Vcai))
}

fn print_status(status: &Status, key: &str) {
    let view = &status.node;
    let record = &view.node;
    let trust = &record.trust;
    println!(
        "node {} ({:?}, {:?}, region {}), registered at {} s, endpoint {}",
        record.id, record.role, record.kind, record.region, record.registered_s, record.endpoint
    );
    println!(
        "  online:      {} (last heartbeat at {} s; {} s online in all){}",
        if view.online { "yes" } else { "NO" },
        record.last_heartbeat_s,
        record.online_s,
        if view.health_issues.is_empty() {
            String::new()
        } else {
            format!("; unhealthy: {}", view.health_issues.join(", "))
        }
    );
    let standing = if view.paused {
        "PAUSED: below the requirement past its grace (no tasks, no Proof of Capacity)".to_string()
    } else if let Some(until) = view.grace_until_s {
        format!("below a raised requirement, in grace until {until} s")
    } else {
        "meets the requirement".to_string()
    };
    println!(
        "  stake:       {} of {} required ({standing}); {} unbonding",
        vcai(record.stake),
        vcai(view.required_stake),
        vcai(view.unbonding)
    );
    if status.stake_short_vcai > Amount::ZERO {
        println!(
            "               add {} (vcity nodes add-stake)",
            vcai(status.stake_short_vcai)
        );
    }
    println!(
        "  probation:   {}; capacity challenges {} passed, {} failed{}",
        if trust.probation {
            "yes (until its first capacity challenge passes)"
        } else {
            "no"
        },
        trust.challenges_passed,
        trust.challenges_failed,
        trust
            .open_challenge
            .map_or(String::new(), |id| format!(", challenge {id} open"))
    );
    println!(
        "  tasks:       {} completed, {} lost, {} running; results {} confirmed, {} disproved",
        record.tasks_completed,
        record.tasks_lost,
        record.running_tasks,
        trust.results_confirmed,
        trust.results_disproved
    );
    println!(
        "  reputation:  {:.1}%",
        f64::from(view.reputation_ppm) / 10_000.0
    );
    let income = &status.income;
    // Only compute nodes earn incentive rewards.
    if record.role == vcity_types::compute::Role::Compute {
        println!(
        "  loyalty:     Proof of Capacity x{}.{:03} this period (docs/protocol.md, \"Long-term \
         incentives\"){}",
        income.loyalty_ppm / 1_000_000,
        income.loyalty_ppm % 1_000_000 / 1_000,
        match &income.referral {
            Some(referral) => format!(
                "; referred by {} (shares periods {} to {})",
                referral.referrer,
                referral.from_period,
                referral.until_period.saturating_sub(1)
            ),
            None => String::new(),
        }
    );
    }
    println!(
        "  income:      {} claimable; all time {} capacity, {} delivery, {} performance, {} \
         referrals (period {} s)",
        vcai(income.claimable_vcai),
        vcai(income.total.capacity),
        vcai(income.total.delivery),
        vcai(income.total.performance),
        vcai(income.total.referral),
        income.period_s
    );
    let mut shown: Vec<u64> = income
        .periods
        .iter()
        .map(|credit| credit.period)
        .chain(income.activity.iter().map(|activity| activity.period))
        .collect();
    shown.sort_unstable_by(|a, b| b.cmp(a));
    shown.dedup();
    for period in shown.into_iter().take(8) {
        let credit = income.periods.iter().find(|credit| credit.period == period);
        let activity = income
            .activity
            .iter()
            .find(|activity| activity.period == period);
        println!(
            "               period {:>5}{}: {} capacity + {} delivery + {} performance; {} USD \
             from tasks{}",
            period,
            if Some(period) == income.current_period {
                " (open)"
            } else {
                ""
            },
            credit.map_or("-".to_string(), |credit| vcai(credit.parts.capacity)),
            credit.map_or("-".to_string(), |credit| vcai(credit.parts.delivery)),
            credit.map_or("-".to_string(), |credit| vcai(credit.parts.performance)),
            activity.map_or("0".to_string(), |activity| activity
                .earned_usd
                .to_decimal(Denom::Usd)),
            activity
                .filter(|activity| activity.outages > 0 || activity.forfeited)
                .map_or(String::new(), |activity| format!(
                    " ({} outages{})",
                    activity.outages,
                    if activity.forfeited {
                        ", Proof of Capacity forfeited"
                    } else {
                        ""
                    }
                )),
        );
    }
    if income.averaged > 0 {
        println!(
            "               incentives, mean of the last {} credited periods: {} a period, about {} over 30 days at that rate",
            income.averaged,
            vcai(income.mean_per_period_vcai),
            vcai(income.projected_30_days_vcai)
        );
    }
    if income.averaged_usd > 0 {
        println!(
            "               tasks, mean of the last {} closed periods: {} USD a period, about {} USD over 30 days at that rate",
            income.averaged_usd,
            income.mean_earned_per_period_usd.to_decimal(Denom::Usd),
            income.projected_30_days_usd.to_decimal(Denom::Usd)
        );
    }
    if view.slashes.is_empty() {
        println!("  slashes:     none");
    }
    for slash in &view.slashes {
        println!(
            "  slash {}:    {:?} ({:?}) took {} at {} s; {:?}{}",
            slash.id,
            slash.offence,
            slash.tier,
            vcai(slash.amount),
            slash.at_s,
            slash.state,
            match &slash.appeal {
                Some(appeal) => format!("; appealed: {appeal}"),
                None => format!(
                    "; appeal until {} s (vcity verify appeal {} --reason \"...\" --from {key})",
                    slash.appeal_until_s, slash.id
                ),
            }
        );
    }
}
