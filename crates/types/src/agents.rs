//! Agents as a Service (whitepaper §2.2.3, §6.3; rules §11; docs/agents.md): an AI agent is an
//! NFT that names its creator, its package by content hash and its terms; it is sold, licensed
//! and invoked on the network, and rated by those who paid to use it.
//!
//! This module holds the messages, the records the ledger keeps, the governance parameters and
//! the ranking rule discovery uses ([`rating_lower_bound_ppm`]), so the ledger, the node, the
//! CLI and the SDKs agree on them.

use crate::compute::{ExecutorKind, Requirements};
use crate::trust::VerificationLevel;
use crate::{AccountId, Amount, Hash};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// Longest agent name.
pub const MAX_NAME_BYTES: usize = 64;
/// Longest description.
pub const MAX_DESCRIPTION_BYTES: usize = 1_024;
/// Most tags on one agent.
pub const MAX_TAGS: usize = 8;
/// Longest tag (lowercase ASCII letters, digits and `-`).
pub const MAX_TAG_BYTES: usize = 32;
/// Longest copyright line.
pub const MAX_COPYRIGHT_BYTES: usize = 256;
/// Longest usage terms.
pub const MAX_TERMS_BYTES: usize = 2_048;
/// Most versions one agent may have (retired ones count).
pub const MAX_VERSIONS: u32 = 256;
/// Most licence offers on one agent.
pub const MAX_OFFERS: usize = 8;
/// Highest creator royalty, basis points (ERC-2981 leaves it open; 50% keeps a sale worth making).
pub const MAX_ROYALTY_BPS: u32 = 5_000;
/// Lowest and highest rating.
pub const RATING_RANGE: std::ops::RangeInclusive<u8> = 1..=5;

/// What an agent says about itself, for discovery.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct AgentMetadata {
    /// A display name: one line of 1 to [`MAX_NAME_BYTES`] bytes.
    pub name: String,
    /// What it does, at most [`MAX_DESCRIPTION_BYTES`].
    pub description: String,
    /// At most [`MAX_TAGS`] tags, each [`valid_tag`].
    pub tags: Vec<String>,
}

/// Whether `tag` is 1 to [`MAX_TAG_BYTES`] of lowercase ASCII letters, digits and `-`.
pub fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= MAX_TAG_BYTES
        && tag
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

/// What runs when an agent version is invoked: a program the network's executors run as a job
/// (docs/agents.md, "Package format").
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AgentProgram {
    /// Content address of the whole agent package (manifest, program, prompt and config files)
    /// in the blob store.
    pub package_hash: Hash,
    /// Content address of the program the job runs (the workload's `module_hash`).
    pub module_hash: Hash,
    /// How it runs.
    #[serde(default)]
    pub executor: ExecutorKind,
}

/// One version of an agent. Versions append; a retired one can no longer be invoked but stays
/// readable.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AgentVersion {
    /// 1, 2, ...
    pub number: u32,
    /// What runs.
    pub program: AgentProgram,
    /// When it was added, seconds since genesis.
    pub added_s: u64,
    /// Retired by the owner.
    pub retired: bool,
}

/// An agent NFT.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Agent {
    /// Its number, from 1.
    pub id: u64,
    /// Who minted it (its DID is `did:key` of this key); receives the royalty forever.
    pub creator: AccountId,
    /// Who holds it now.
    pub owner: AccountId,
    /// Copyright line, fixed at mint.
    pub copyright: String,
    /// Usage terms every licensee and caller accepts, fixed at mint.
    pub usage_terms: String,
    /// Discovery record.
    pub metadata: AgentMetadata,
    /// The creator's share of every sale, licence and call after the protocol's, basis points,
    /// fixed at mint.
    pub royalty_bps: u32,
    /// Versions so far (the newest is `versions`).
    pub versions: u32,
    /// Minted at, seconds since genesis.
    pub minted_s: u64,
    /// For sale, if listed.
    pub sale: Option<Listing>,
    /// How it may be used by others than its holder (none until the holder offers terms).
    pub terms: Option<LicenceTerms>,
    /// The exclusive licensee and when that licence ends, seconds since genesis.
    pub exclusive: Option<(AccountId, u64)>,
    /// When the last shared or time-limited licence sold so far ends (`u64::MAX`: a perpetual
    /// one exists), seconds since genesis: an exclusive licence is sold only after it.
    pub shared_until_s: u64,
    /// Calls by others than the holder that settled with the program's success.
    pub calls: u64,
    /// Ratings received.
    pub ratings: u64,
    /// Sum of `score − 1` over the ratings (0 to 4 each).
    pub rating_points: u64,
}

impl Agent {
    /// The discovery score: [`rating_lower_bound_ppm`] of its ratings, `None` below
    /// `min_ratings`.
    pub fn score_ppm(&self, min_ratings: u64) -> Option<u32> {
        (self.ratings >= min_ratings.max(1))
            .then(|| rating_lower_bound_ppm(self.ratings, self.rating_points))
    }
}

/// An agent listed for sale.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Listing {
    /// USD base units.
    pub price_usd: Amount,
    /// The protocol's commission, ppm, fixed when listed.
    pub commission_ppm: u32,
}

/// The kinds of licence (docs/agents.md, "Licences").
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LicenceKind {
    /// One licensee at a time, for `duration_s`; sold only when no other licence is running.
    Exclusive {
        /// How long it lasts, seconds (positive).
        duration_s: u64,
    },
    /// Any number of licensees, for good.
    Shared,
    /// Any number of licensees, each for `duration_s` from purchase (ERC-4907-like).
    Timed {
        /// How long it lasts, seconds (positive).
        duration_s: u64,
    },
}

/// One licence the holder sells, at a price.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct LicenceOffer {
    /// The kind.
    pub kind: LicenceKind,
    /// USD base units.
    pub price_usd: Amount,
}

/// The holder's terms of use.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct LicenceTerms {
    /// Licences for sale (at most [`MAX_OFFERS`]).
    pub offers: Vec<LicenceOffer>,
    /// Fee for one call without a licence, USD base units (`None`: calls need a licence).
    pub per_call_usd: Option<Amount>,
    /// The protocol's share of every licence and call fee, ppm, fixed when the terms were set.
    pub protocol_share_ppm: u32,
}

/// A licence someone holds.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Licence {
    /// The agent.
    pub agent_id: u64,
    /// The licensee.
    pub licensee: AccountId,
    /// What was bought.
    pub kind: LicenceKind,
    /// Paid, USD base units.
    pub paid_usd: Amount,
    /// Since, seconds since genesis.
    pub since_s: u64,
    /// Until (`None`: for good), seconds since genesis.
    pub until_s: Option<u64>,
}

impl Licence {
    /// Whether it lets its licensee invoke at `now_s`.
    pub fn valid_at(&self, now_s: u64) -> bool {
        self.until_s.is_none_or(|until| now_s < until)
    }
}

/// Where an invocation stands.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvocationState {
    /// Its job has not settled yet; the call fee waits in the agents escrow.
    Running,
    /// Its job's task settled with the program's success: the call fee was paid out.
    Settled,
    /// Its job's task failed, was cancelled or disproved: the call fee went back to the caller.
    Refunded,
    /// Its job's task settled but the program did not succeed (it exited with an error, trapped
    /// or ran out of its CU budget): the caller paid the compute, the call fee went back, and
    /// the caller may rate the call.
    Undelivered,
}

/// One call of an agent: a job on the network plus, without a licence, a call fee.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Invocation {
    /// The job that runs it (the invocation's id).
    pub job_id: u64,
    /// The agent.
    pub agent_id: u64,
    /// The version run.
    pub version: u32,
    /// Who called.
    pub caller: AccountId,
    /// Who receives the holder's part of the call fee (the holder when it was called).
    pub holder: AccountId,
    /// The call fee, USD base units (zero under a licence or for the holder).
    pub fee_usd: Amount,
    /// The protocol's share of it, ppm (from the terms).
    pub protocol_share_ppm: u32,
    /// Where it stands.
    pub state: InvocationState,
    /// The caller's rating, once given.
    pub rating: Option<u8>,
}

/// Governance parameters (rules §11; docs/agents.md, "Fees").
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentParams {
    /// Paid to the treasury by every mint, USD base units (whitepaper §6.3 "creation fee").
    pub creation_fee_usd: Amount,
    /// The treasury's commission on every sale, ppm ("transaction commission").
    pub sale_commission_ppm: u32,
    /// The protocol's share of licence and call fees, ppm ("usage revenue share").
    pub usage_share_ppm: u32,
    /// Ratings an agent needs before discovery ranks it by score.
    pub min_ratings: u64,
}

impl Default for AgentParams {
    fn default() -> AgentParams {
        AgentParams {
            // 10 USD.
            creation_fee_usd: Amount::new(10_000_000),
            sale_commission_ppm: 25_000,
            usage_share_ppm: 100_000,
            min_ratings: 5,
        }
    }
}

/// Mint an agent NFT (creation fee from the sender to the treasury).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct MintAgent {
    /// Version 1.
    pub program: AgentProgram,
    /// Discovery record.
    pub metadata: AgentMetadata,
    /// Copyright line (at most [`MAX_COPYRIGHT_BYTES`]).
    pub copyright: String,
    /// Usage terms (at most [`MAX_TERMS_BYTES`]).
    pub usage_terms: String,
    /// The creator's royalty, basis points (at most [`MAX_ROYALTY_BPS`]).
    pub royalty_bps: u32,
}

/// The holder appends a version.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct AddAgentVersion {
    /// The agent.
    pub agent_id: u64,
    /// What the new version runs.
    pub program: AgentProgram,
}

/// The holder retires a version: it can no longer be invoked.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RetireAgentVersion {
    /// The agent.
    pub agent_id: u64,
    /// The version.
    pub version: u32,
}

/// The holder gives the agent away (its licences stay in force).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TransferAgent {
    /// The agent.
    pub agent_id: u64,
    /// The new holder.
    pub to: AccountId,
}

/// The holder lists the agent for sale.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ListAgent {
    /// The agent.
    pub agent_id: u64,
    /// USD base units (positive).
    pub price_usd: Amount,
}

/// The holder withdraws the listing.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct DelistAgent {
    /// The agent.
    pub agent_id: u64,
}

/// Buy a listed agent.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BuyAgent {
    /// The agent.
    pub agent_id: u64,
    /// The most the buyer pays, USD base units (a relisting at a higher price fails the buy).
    pub max_price_usd: Amount,
}

/// The holder sets (or replaces) the terms of use; the protocol's share is fixed now.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SetLicenceTerms {
    /// The agent.
    pub agent_id: u64,
    /// Licences for sale.
    pub offers: Vec<LicenceOffer>,
    /// Fee per call without a licence.
    pub per_call_usd: Option<Amount>,
}

/// Buy one of the offered licences.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TakeLicence {
    /// The agent.
    pub agent_id: u64,
    /// Which offer (its position in the terms).
    pub offer: u32,
    /// The most the licensee pays, USD base units.
    pub max_price_usd: Amount,
}

/// Call an agent: its version's program runs as a one-task job paid by the caller, plus the
/// call fee when the caller holds no licence.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct InvokeAgent {
    /// The agent.
    pub agent_id: u64,
    /// The version (0: the newest one not retired).
    pub version: u32,
    /// The task's input, inline (at most 16 KiB; empty when `shard` is given).
    pub input: Vec<u8>,
    /// The task's input by content address instead, for inputs over 16 KiB (a template's
    /// knowledge with the question, docs/agents.md "Templates").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::compute::Shard>,
    /// Where it may run.
    pub requirements: Requirements,
    /// Most CU the task may use, × 10^6.
    pub max_cu_ppm: u64,
    /// Most the job pays per CU, USD base units.
    pub max_price_per_cu_usd: Amount,
    /// How much checking the job buys.
    #[serde(default)]
    pub verification: VerificationLevel,
    /// The most the caller pays as the call fee (0 under a licence).
    pub max_call_fee_usd: Amount,
}

/// The caller rates a settled, paid invocation, once.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RateInvocation {
    /// The invocation's job.
    pub job_id: u64,
    /// 1 to 5.
    pub score: u8,
}

/// How discovery orders agents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    /// Ranked agents by [`Agent::score_ppm`], best first, then the unranked by calls.
    #[default]
    Score,
    /// Most settled calls by others first.
    Calls,
    /// Cheapest per-call fee first (agents selling no calls last).
    Price,
    /// Newest first.
    Newest,
}

impl std::str::FromStr for SortBy {
    type Err = String;
    fn from_str(text: &str) -> Result<SortBy, String> {
        match text {
            "score" => Ok(SortBy::Score),
            "calls" => Ok(SortBy::Calls),
            "price" => Ok(SortBy::Price),
            "newest" => Ok(SortBy::Newest),
            _ => Err(format!("no order {text:?} (score, calls, price, newest)")),
        }
    }
}

/// A discovery query (`GET /v1/agents`, `vcity agent search`): every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Search {
    /// Carries this tag.
    pub tag: Option<String>,
    /// Its name or description contains this, ignoring case.
    pub text: Option<String>,
    /// Sells single calls at most at this fee, USD base units.
    pub max_call_usd: Option<Amount>,
    /// Listed for sale.
    pub for_sale: Option<bool>,
    /// Ranked with at least this score, ppm.
    pub min_score_ppm: Option<u32>,
    /// Held by this account.
    pub owner: Option<AccountId>,
    /// Minted by this account.
    pub creator: Option<AccountId>,
    /// The order.
    pub sort: SortBy,
}

impl Search {
    /// Whether `agent` answers the query (`min_ratings` from the parameters).
    pub fn matches(&self, agent: &Agent, min_ratings: u64) -> bool {
        let call_fee = agent.terms.as_ref().and_then(|terms| terms.per_call_usd);
        self.tag
            .as_ref()
            .is_none_or(|tag| agent.metadata.tags.contains(tag))
            && self.text.as_ref().is_none_or(|text| {
                let text = text.to_lowercase();
                agent.metadata.name.to_lowercase().contains(&text)
                    || agent.metadata.description.to_lowercase().contains(&text)
            })
            && self
                .max_call_usd
                .is_none_or(|max| call_fee.is_some_and(|fee| fee <= max))
            && self
                .for_sale
                .is_none_or(|wanted| agent.sale.is_some() == wanted)
            && self.min_score_ppm.is_none_or(|min| {
                agent
                    .score_ppm(min_ratings)
                    .is_some_and(|score| score >= min)
            })
            && self.owner.is_none_or(|owner| agent.owner == owner)
            && self.creator.is_none_or(|creator| agent.creator == creator)
    }

    /// Orders `agents` as asked; ties go to the older agent, so every node answers alike.
    pub fn sort(&self, agents: &mut [Agent], min_ratings: u64) {
        match self.sort {
            SortBy::Score => agents.sort_by_key(|agent| {
                (
                    std::cmp::Reverse(agent.score_ppm(min_ratings)),
                    std::cmp::Reverse(agent.calls),
                    agent.id,
                )
            }),
            SortBy::Calls => agents.sort_by_key(|agent| (std::cmp::Reverse(agent.calls), agent.id)),
            SortBy::Price => agents.sort_by_key(|agent| {
                let fee = agent.terms.as_ref().and_then(|terms| terms.per_call_usd);
                (fee.is_none(), fee, agent.id)
            }),
            SortBy::Newest => agents.sort_by_key(|agent| std::cmp::Reverse(agent.id)),
        }
    }
}

/// The lower bound of the Wilson score interval (z = 1.96, 95%) for an agent's mean rating, in
/// ppm of the best score. Each rating of 1 to 5 counts as `(score − 1) / 4` of a success, so the
/// observed share is `points / (4 × ratings)` over `ratings` trials. Few ratings give a low bound
/// even when all are perfect, so a new agent with two 5s (0.34) ranks below one with a hundred 4s
/// (0.66). Integer arithmetic, rounded down: every node ranks identically.
pub fn rating_lower_bound_ppm(ratings: u64, points: u64) -> u32 {
    if ratings == 0 {
        return 0;
    }
    let r = u128::from(ratings);
    let p = u128::from(points.min(ratings.saturating_mul(4)));
    // With z² = Z/K (Z = 38416, K = 10^4) and share q = p/4r, the bound
    //   (q + z²/2r − z·sqrt(q(1−q)/r + z²/4r²)) / (1 + z²/r)
    // times 4r·K over 4r·K is
    //   (p·K + 2Z − sqrt(Z·(p(4r−p)·K/r + 4Z))) / (4r·K + 4Z).
    const K: u128 = 10_000;
    const Z: u128 = 38_416;
    let inside = Z * (p * (4 * r - p) * K / r + 4 * Z);
    let root = integer_sqrt_up(inside);
    let numerator = (p * K + 2 * Z).saturating_sub(root);
    let denominator = 4 * r * K + 4 * Z;
    u32::try_from(numerator * 1_000_000 / denominator).unwrap_or(1_000_000)
}

/// ⌈√x⌉ (rounding the root up lowers the bound: the ranking never flatters).
fn integer_sqrt_up(x: u128) -> u128 {
    if x == 0 {
        return 0;
    }
    // Newton's method from above.
    let mut root = 1u128 << (x.ilog2() / 2 + 1);
    loop {
        let next = (root + x / root) / 2;
        if next >= root {
            break;
        }
        root = next;
    }
    if root * root < x {
        root + 1
    } else {
        root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_roots_round_up() {
        for x in 0u128..10_000 {
            let root = integer_sqrt_up(x);
            assert!(root * root >= x, "{x}");
            assert!(root == 0 || (root - 1) * (root - 1) < x, "{x}");
        }
        assert_eq!(integer_sqrt_up(u128::from(u64::MAX) * 3), 7_439_101_574);
    }

    #[test]
    fn the_bound_matches_wilson_and_favours_many_ratings() {
        // Reference values from the closed form in f64 (z = 1.96): two 5s (n = 2, q = 1) give
        // 0.342372; a hundred 4s (n = 100, q = 0.75) give 0.656954; one 3 (n = 1, q = 0.5)
        // gives 0.054619.
        let two_fives = rating_lower_bound_ppm(2, 8);
        let hundred_fours = rating_lower_bound_ppm(100, 300);
        assert!((342_300..=342_372).contains(&two_fives), "{two_fives}");
        assert!(
            (656_900..=656_954).contains(&hundred_fours),
            "{hundred_fours}"
        );
        let one_three = rating_lower_bound_ppm(1, 2);
        assert!((54_550..=54_619).contains(&one_three), "{one_three}");
        assert!(hundred_fours > two_fives);
        assert_eq!(rating_lower_bound_ppm(0, 0), 0);
        assert_eq!(rating_lower_bound_ppm(10, 0), 0);
        // Monotone in points, and more of the same ratings never lowers the bound.
        for ratings in 1..40u64 {
            let mut last = 0;
            for points in 0..=ratings * 4 {
                let bound = rating_lower_bound_ppm(ratings, points);
                assert!(bound >= last && bound < 1_000_000);
                last = bound;
                assert!(rating_lower_bound_ppm(ratings * 2, points * 2) >= bound);
            }
        }
    }

    #[test]
    fn tags_are_lowercase_words() {
        assert!(valid_tag("tour-guide"));
        assert!(valid_tag("k12"));
        assert!(!valid_tag(""));
        assert!(!valid_tag("Tour"));
        assert!(!valid_tag("a b"));
        assert!(!valid_tag(&"a".repeat(MAX_TAG_BYTES + 1)));
    }
}
