//! The token economy (whitepaper §3.2–§3.4; rules §6–§8): vote escrow ([`ve`]), the VCAI/USD
//! pool ([`pool`]), the treasury's buyback ([`treasury`]), the per-block distributor of bought-back
//! VCAI to lockers ([`rewards`]) and the Ecosystem Incentive Pool with its supply-demand
//! controller ([`incentives`]).

pub mod incentives;
pub mod pool;
pub mod rewards;
pub mod treasury;
pub mod ve;
