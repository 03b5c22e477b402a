//! `vcity nft ...`: Genesis NFTs, whose claim on VCAI moves with the token.

use crate::shared::config::Settings;
use crate::shared::{print_json, resolve_account, sign_and_send, TxOptions};
use clap::Subcommand;
use vcity_sdk::{Client, Keyring};
use vcity_types::api::NftView;
use vcity_types::tx::{ClaimNft, Message, TransferNft};
use vcity_types::Denom;

fn vcai(amount: vcity_types::Amount) -> String {
    amount.to_decimal(Denom::Vcai)
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
