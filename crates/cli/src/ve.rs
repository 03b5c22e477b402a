//! `vcity ve ...`: the vote escrow (rules §7).

use crate::shared::config::Settings;
use crate::shared::{print_json, resolve_account, sign_and_send, TxOptions};
use anyhow::Context as _;
use clap::Subcommand;
use vcity_sdk::{Client, Keyring};
use vcity_types::tx::{Message, VeExtend, VeIncrease, VeLock, VeWithdraw};
use vcity_types::{Amount, Denom};

/// `vcity ve ...`
#[derive(Debug, Subcommand)]
pub enum VeCommand {
    /// Lock VCAI for a number of whole weeks (1 to 208); the unlock time is rounded to a week.
    Lock {
        /// Your keyring name.
        #[arg(long)]
        from: String,
        /// VCAI, e.g. 1000 (at least the minimum lock, 1,000 by default).
        #[arg(long)]
        amount: String,
        /// Weeks from the current week to the unlock week.
        #[arg(long)]
        weeks: u64,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Add VCAI to your lock.
    Increase {
        /// Your keyring name.
        #[arg(long)]
        from: String,
        /// VCAI to add.
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Move your unlock week later.
    Extend {
        /// Your keyring name.
        #[arg(long)]
        from: String,
        /// Weeks from the current week to the new unlock week.
        #[arg(long)]
        weeks: u64,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Take back the VCAI of your expired lock.
    Withdraw {
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
    /// A lock and its weight, or the totals without an account.
    Show {
        /// The account (hex, did:key or keyring name); omit for the totals.
        account: Option<String>,
        /// A past time, seconds after genesis.
        #[arg(long)]
        at_s: Option<u64>,
    },
}

fn unlock_week(client: &Client, weeks: u64) -> anyhow::Result<u32> {
    let total = client.ve_total(None)?;
    u32::try_from(total.current_week + weeks).context("unlock week out of range")
}

fn vcai(text: &str) -> anyhow::Result<Amount> {
    Amount::parse_decimal(text, Denom::Vcai).with_context(|| format!("amount {text:?}"))
}

/// Runs a ve command.
pub fn ve(settings: &Settings, command: VeCommand, json: bool) -> anyhow::Result<()> {
    let ring = Keyring::open(&settings.keyring_dir())?;
    let client = Client::new(&settings.node);
    let (from, message, options) = match command {
        VeCommand::Show { account, at_s } => {
            return match account {
                None => {
                    let view = client.ve_total(at_s)?;
                    if json {
                        print_json(&view)?;
                    } else {
                        println!(
                            "total weight {} veVCAI at {} s",
                            view.total_weight_display, view.at_s
                        );
                        println!(
                            "locked       {} VCAI",
                            view.locked_vcai.to_decimal(Denom::Vcai)
                        );
                        println!(
                            "week         {} (height {})",
                            view.current_week, view.height
                        );
                    }
                    Ok(())
                }
                Some(account) => {
                    let view = client.ve_account(&resolve_account(&ring, &account)?, at_s)?;
                    if json {
                        print_json(&view)?;
                    } else {
                        println!("account {}", view.account);
                        match view.unlock_week {
                            Some(week) => println!(
                                "locked  {} VCAI until week {week} ({} s after genesis)",
                                view.amount.to_decimal(Denom::Vcai),
                                view.end_s.unwrap_or_default()
                            ),
                            None => println!("no lock"),
                        }
                        println!("weight  {} veVCAI at {} s", view.weight_display, view.at_s);
                    }
                    Ok(())
                }
            };
        }
        VeCommand::Lock {
            from,
            amount,
            weeks,
            options,
        } => (
            from,
            Message::VeLock(VeLock {
                amount: vcai(&amount)?,
                unlock_week: unlock_week(&client, weeks)?,
            }),
            options,
        ),
        VeCommand::Increase {
            from,
            amount,
            options,
        } => (
            from,
            Message::VeIncrease(VeIncrease {
                amount: vcai(&amount)?,
            }),
            options,
        ),
        VeCommand::Extend {
            from,
            weeks,
            options,
        } => (
            from,
            Message::VeExtend(VeExtend {
                unlock_week: unlock_week(&client, weeks)?,
            }),
            options,
        ),
        VeCommand::Withdraw { from, options } => {
            (from, Message::VeWithdraw(VeWithdraw {}), options)
        }
    };
    sign_and_send(&ring, &client, &from, vec![message], options, json)
}
