//! The Vcity node (whitepaper §2.3; rules §1): the pure ledger wrapped in everything that touches
//! the world.
//!
//! - [`store`]: redb; one atomic, durable write per committed block.
//! - [`mempool`]: bounded, nonce-ordered admission of signed transactions.
//! - [`node`]: [`Node`], the application side of the consensus seam (propose / verify / commit)
//!   and the read side the API serves, which shows VCAI in the nominal unit of the current
//!   repricing scale (`nominal`).
//! - [`api`]: the axum HTTP API, its event stream and `/metrics`.
//! - [`console`]: the web console, static files served at `/`.
//! - [`launch`]: a data directory (genesis, validator key, store) to a running node with the solo
//!   engine and the HTTP server.

pub mod api;
pub mod console;
pub mod launch;
pub mod mempool;
pub mod metrics;
pub mod node;
mod nominal;
pub mod store;

pub use launch::{DataDir, Engine, LaunchConfig, RunningNode};
pub use mempool::{Mempool, MempoolConfig, Recheck};
pub use node::{Node, NodeError, NodeOptions};
pub use store::{Store, StoreError};
