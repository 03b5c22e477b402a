//! The token (whitepaper §3.1; rules §1–§3): balances and supply of VCAI and the USD stablecoin
//! ([`bank`]), the genesis allocation with its vesting grants ([`vesting`]) and the Genesis NFTs
//! whose claim right moves with the token ([`nft`]), and the unit scale that protocol repricing
//! changes ([`repricing`]).

pub mod bank;
pub mod nft;
pub mod repricing;
pub mod vesting;
