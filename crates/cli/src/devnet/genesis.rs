//! The dev chain's genesis and keys, shared by `vcity devnet` and `vcity testnet`.

use std::time::Duration;
use vcity_ledger::chain::{Params, Validator};
use vcity_ledger::genesis::SpecBeneficiaries;
use vcity_ledger::{Genesis, GenesisAccount};
use vcity_sdk::Keyring;
use vcity_types::keyfile::KeyFile;
use vcity_types::{AccountId, Amount, Denom};

/// The devnet's chain id.
pub const DEVNET_CHAIN_ID: &str = "vcity-devnet";

/// Dev accounts and their genesis USD. Their VCAI comes from the rules §2 allocation: alice
/// holds the Private Sale grant, bob the Public Sale, carol the Core Team, dave the Strategic
/// Advisors; the Initial Liquidity not reserved for Genesis NFTs seeds the VCAI/USD pool (its
/// shares belong to the treasury); alice holds NFTs 1 and 2 and bob NFT 3.
const DEV_ACCOUNTS: &[(&str, u128)] = &[
    ("alice", 100_000),
    ("bob", 100_000),
    ("carol", 100_000),
    ("dave", 100_000),
    ("issuer", 1_000),
];

/// A fresh validator key from the OS random source.
pub(crate) fn new_validator_key(name: &str) -> anyhow::Result<KeyFile> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|error| anyhow::anyhow!("random source: {error}"))?;
    Ok(KeyFile::new(
        name,
        &ed25519_dalek::SigningKey::from_bytes(&seed),
    ))
}

/// The dev chain's genesis (the devnet's, and the testnet's with more validators): the dev
/// accounts of `ring` funded, the rules §2 allocation, short clocks.
pub(crate) fn dev_genesis(
    ring: &Keyring,
    chain_id: &str,
    validators: Vec<Validator>,
    buyback_interval: Option<Duration>,
    incentive_period: Option<Duration>,
) -> anyhow::Result<Genesis> {
    let mut accounts = Vec::new();
    for (name, usd) in DEV_ACCOUNTS {
        let key = if ring.contains(name) {
            ring.get(name)?
        } else {
            ring.create(name)?
        };
        accounts.push(GenesisAccount {
            name: Some((*name).to_string()),
            id: key.account,
            vcai: Amount::ZERO,
            usd: Amount::whole(*usd, Denom::Usd)?,
        });
    }
    let id = |name: &str| -> anyhow::Result<AccountId> { Ok(ring.get(name)?.account) };
    let genesis = Genesis {
        chain_id: chain_id.into(),
        genesis_time_ms: (vcity_node::node::system_clock())(),
        usd_issuer: id("issuer")?,
        params: Params::default(),
        validators,
        accounts,
        ..Genesis::default()
    }
    .with_spec_allocation(&SpecBeneficiaries {
        private_sale: id("alice")?,
        public_sale: id("bob")?,
        core_team: id("carol")?,
        advisors: id("dave")?,
        liquidity: id("issuer")?,
        nft_owners: vec![id("alice")?, id("alice")?, id("bob")?],
        // 99,970,000 VCAI (Initial Liquidity less three NFTs' 30,000) against 9,997,000 USD:
        // the pool opens at 0.10 USD per VCAI.
        pool_usd: Amount::whole(9_997_000, Denom::Usd)?,
    })?;
    let mut genesis = genesis;
    // Short clocks so a devnet shows the whole job lifecycle in seconds: heartbeats every 3 s
    // (offline after 9 s), 15 s to start an assigned task, results paid 5 s after they land.
    genesis.nodes = Some(vcity_ledger::nodes::NodeParams {
        heartbeat_interval_s: 3,
        ..Default::default()
    });
    genesis.jobs = Some(vcity_ledger::jobs::JobParams {
        start_deadline_s: 15,
        verification_window_s: 15,
        bucket_s: 1,
        placement_timeout_s: 300,
        ..Default::default()
    });
    // The trust layer on the same short clocks (docs/verification.md): results checked within
    // their 15 s window, referees given 15 s, a node's first capacity challenge within 5 s of
    // registering (10 s of latency allowance) and then every 10 minutes or so, appeals open
    // for a minute.
    genesis.trust = Some(vcity_ledger::trust::TrustParams {
        referee_window_s: 15,
        challenge_interval_s: 600,
        first_challenge_within_s: 5,
        challenge_retry_s: 30,
        commit_latency_s: 10,
        verdict_window_s: 15,
        appeal_window_s: 60,
        ..Default::default()
    });
    // Incentive periods of 10 minutes.
    genesis.incentives = Some(vcity_ledger::incentives::IncentiveParams {
        period_s: incentive_period.map_or(600, |period| period.as_secs().max(1)),
        ..Default::default()
    });
    // Governance on a clock a demo can watch (docs/governance.md): 5 s of discussion, 10 s of
    // voting, a 5 s timelock, a day to execute; and 100,000,000 of alice's VCAI locked for four
    // years (10,000 veVCAI, past the 100 veVCAI threshold), so she can propose at once and her
    // vote alone reaches the quorum.
    genesis.governance = Some(vcity_types::governance::GovernanceParams {
        discussion_s: 5,
        voting_s: 10,
        timelock_s: 5,
        grace_s: 86_400,
        ..Default::default()
    });
    genesis.ve_locks = vec![vcity_ledger::genesis::GenesisLock {
        account: id("alice")?,
        amount: Amount::whole(100_000_000, Denom::Vcai)?,
        unlock_week: 208,
    }];
    if let Some(interval) = buyback_interval {
        genesis.treasury = Some(vcity_ledger::treasury::TreasuryParams {
            buyback_interval_s: interval.as_secs().max(1),
            ..Default::default()
        });
    }
    genesis.validate()?;
    Ok(genesis)
}
