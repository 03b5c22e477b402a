//! `vcity vesting ...` and `vcity nft ...`: the SPEC §2 genesis allocation and Genesis NFTs.

use crate::commands::{print_json, resolve_account, sign_and_send, TxOptions};
use crate::config::Settings;
use clap::Subcommand;
use vcity_sdk::{Client, Keyring};
use vcity_types::api::NftView;
use vcity_types::tx::{ClaimNft, ClaimVesting, Message, TransferNft};
use vcity_types::Denom;

fn vcai(amount: vcity_types::Amount) -> String {
    amount.to_decimal(Denom::Vcai)
}

/// `vcity vesting ...`
#[derive(Debug, Subcommand)]
pub enum VestingCommand {
    /// An account's grants: vested, claimed and claimable now.
    Show {
        /// The account (hex, did:key or keyring name).
        account: String,
    },
    /// Claim everything released so far on all of your grants.
    Claim {
        /// Your keyring name.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        options: TxOptions,
    },
}

/// `vcity nft ...`
#[derive(Debug, Subcommand)]
pub enum NftCommand {
    /// Genesis NFTs, all or one holder's.
    List {
        /// Only this holder's (hex, did:key or keyring name).
        #[arg(long)]
        owner: Option<String>,
    },
    /// One Genesis NFT.
    Show {
        /// Its id.
        id: u32,
    },
    /// Claim what an NFT you hold has unlocked.
    Claim {
        /// Your keyring name.
        #[arg(long)]
        from: String,
        /// The NFT.
        #[arg(long)]
        id: u32,
        #[command(flatten)]
        options: TxOptions,
    },
    /// Give an NFT you hold (and its unclaimed VCAI) to another account.
    Transfer {
        /// Your keyring name.
        #[arg(long)]
        from: String,
        /// The NFT.
        #[arg(long)]
        id: u32,
        /// The new holder (hex, did:key or keyring name).
        #[arg(long)]
        to: String,
        #[command(flatten)]
        options: TxOptions,
    },
}

/// Runs a vesting command.
pub fn vesting(settings: &Settings, command: VestingCommand, json: bool) -> anyhow::Result<()> {
    let ring = Keyring::open(&settings.keyring_dir())?;
    let client = Client::new(&settings.node);
    match command {
        VestingCommand::Show { account } => {
            let view = client.vesting(&resolve_account(&ring, &account)?)?;
            if json {
                return print_json(&view);
            }
            println!("account   {}", view.account);
            println!(
                "elapsed   {} s since genesis (height {})",
                view.elapsed_s, view.height
            );
            if view.grants.is_empty() {
                println!("no vesting grants");
            }
            let month = vcity_ledger::vesting::MONTH_S;
            let span = |seconds: u64| {
                if seconds % month == 0 {
                    format!("{} months", seconds / month)
                } else {
                    format!("{seconds} s")
                }
            };
            for grant in &view.grants {
                let steps = if grant.step_s == month {
                    "monthly".to_string()
                } else {
                    format!("in steps of {} s", grant.step_s)
                };
                println!(
                    "{:<20} total {} VCAI, {} at TGE, cliff {}, then over {} {}",
                    grant.allocation,
                    vcai(grant.total),
                    vcai(grant.at_tge),
                    span(grant.cliff_s),
                    span(grant.duration_s),
                    steps
                );
                println!(
                    "{:<20} vested {}, claimed {}, claimable {}",
                    "",
                    vcai(grant.vested),
                    vcai(grant.claimed),
                    vcai(grant.claimable)
                );
            }
            println!("claimable now: {} VCAI", vcai(view.claimable));
            Ok(())
        }
        VestingCommand::Claim { from, options } => sign_and_send(
            &ring,
            &client,
            &from,
            vec![Message::ClaimVesting(ClaimVesting {})],
            options,
            json,
        ),
    }
}

fn print_nft(view: &NftView) {
    println!(
        "#{:<5} holder {}  unlocked {} / {} VCAI, claimed {}, claimable {}",
        view.id,
        view.owner,
        vcai(view.unlocked),
        vcai(view.entitlement),
        vcai(view.claimed),
        vcai(view.claimable)
    );
}

/// Runs an NFT command.
pub fn nft(settings: &Settings, command: NftCommand, json: bool) -> anyhow::Result<()> {
    let ring = Keyring::open(&settings.keyring_dir())?;
    let client = Client::new(&settings.node);
    match command {
        NftCommand::List { owner } => {
            let owner = owner
                .map(|owner| resolve_account(&ring, &owner))
                .transpose()?;
            let list = client.nfts(owner.as_ref())?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!("no Genesis NFTs");
            }
            for view in &list {
                print_nft(view);
            }
            Ok(())
        }
        NftCommand::Show { id } => {
            let view = client.nft(id)?;
            if json {
                return print_json(&view);
            }
            print_nft(&view);
            Ok(())
        }
        NftCommand::Claim { from, id, options } => sign_and_send(
            &ring,
            &client,
            &from,
            vec![Message::ClaimNft(ClaimNft { id })],
            options,
            json,
        ),
        NftCommand::Transfer {
            from,
            id,
            to,
            options,
        } => {
            let to = resolve_account(&ring, &to)?;
            sign_and_send(
                &ring,
                &client,
                &from,
                vec![Message::TransferNft(TransferNft { id, to })],
                options,
                json,
            )
        }
    }
}
