//! The small shared part of the CLI: settings, the runtime of long-running commands (logs, stop
//! signals, the parent watch) and what every transaction command needs. It imports no command
//! module; every command module may import it.

pub mod config;
pub mod runtime;
mod send;

pub use send::{finish, print_json, resolve_account, sign_and_send, TxOptions, TxRefused};

/// A progress bar of `length` steps drawn with `template` (indicatif's syntax), or a hidden one
/// when the output is JSON, so that stdout stays one JSON value.
pub fn progress_bar(json: bool, length: u64, template: &str) -> indicatif::ProgressBar {
    if json {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(length);
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
