//! `vcity keys`: the keyring.

use crate::shared::config::Settings;
use crate::shared::print_json;
use clap::Subcommand;
use serde::Serialize;
use vcity_sdk::Keyring;
use vcity_types::keyfile::KeyFile;
use vcity_types::AccountId;

/// `vcity keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a new random key.
    New {
        /// Its name: 1-64 characters of [a-z0-9_-].
        name: String,
    },
    /// List the keys.
    List,
    /// Show one key's account and DID (never the secret).
    Show {
        /// The name.
        name: String,
    },
}

#[derive(Debug, Serialize)]
struct KeyView {
    name: String,
    account: AccountId,
    did: String,
    file: String,
}

fn key_view(ring: &Keyring, key: &KeyFile) -> KeyView {
    KeyView {
        name: key.name.clone(),
        account: key.account,
        did: key.did.clone(),
        file: ring
            .dir()
            .join(format!("{}.json", key.name))
            .display()
            .to_string(),
    }
}

/// Runs a keys command.
pub fn keys(settings: &Settings, command: KeysCommand, json: bool) -> anyhow::Result<()> {
    let ring = Keyring::open(&settings.keyring_dir())?;
    match command {
        KeysCommand::New { name } => {
            let key = ring.create(&name)?;
            let view = key_view(&ring, &key);
            if json {
                return print_json(&view);
            }
            println!("created key {}", view.name);
            println!("  account {}", view.account);
            println!("  did     {}", view.did);
            println!(
                "  file    {} (mode 0600; back it up, it is the only copy)",
                view.file
            );
        }
        KeysCommand::List => {
            let keys: Vec<KeyView> = ring.list()?.iter().map(|k| key_view(&ring, k)).collect();
            if json {
                return print_json(&keys);
            }
            if keys.is_empty() {
                println!(
                    "no keys in {}; create one with `vcity keys new NAME`",
                    ring.dir().display()
                );
            }
            for key in keys {
                println!("{:<16} {}  {}", key.name, key.account, key.did);
            }
        }
        KeysCommand::Show { name } => {
            let view = key_view(&ring, &ring.get(&name)?);
            if json {
                return print_json(&view);
            }
            println!("name    {}", view.name);
            println!("account {}", view.account);
            println!("did     {}", view.did);
            println!("file    {}", view.file);
        }
    }
    Ok(())
}
