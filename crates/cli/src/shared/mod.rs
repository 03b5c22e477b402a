//! The small shared part of the CLI: settings, the runtime of long-running commands (logs, stop
//! signals, the parent watch) and what every transaction command needs. It imports no command
//! module; every command module may import it.

pub mod config;
pub mod runtime;
mod send;

pub use send::{finish, print_json, resolve_account, sign_and_send, TxOptions, TxRefused};
