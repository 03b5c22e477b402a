//! What every long-running command shares, and nothing else: logging, stop signals and the
//! parent watch. The commands depend on this module; it depends on none of them.

use std::path::Path;
use std::time::Duration;

pub fn init_tracing(json: bool) {
    init_tracing_with(json, "");
}

/// Logs to stderr at `VCITY_LOG` (or `RUST_LOG`), else warn with `--json` and info without,
/// plus the `quieter` directives (e.g. a chatty dependency at warn).
pub fn init_tracing_with(json: bool, quieter: &str) {
    use tracing_subscriber::EnvFilter;
    let default = if json { "warn" } else { "info" };
    let filter = EnvFilter::try_from_env("VCITY_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| {
            EnvFilter::new(if quieter.is_empty() {
                default.to_string()
            } else {
                format!("{default},{quieter}")
            })
        });
    // Colours only on a terminal: a log file or a pipe (the testnet's logs, a service manager's
    // journal) gets plain text, not escape codes.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Logs routine lines to `file` (appended, plain text) at `VCITY_LOG` (or `RUST_LOG`), else info
/// plus `quieter`, and only warnings and errors to stderr: a terminal shows what a person should
/// read, the file what an operator may need (`vcity devnet` without `--verbose`).
pub fn init_tracing_to_file(file: &Path, quieter: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{EnvFilter, Layer as _};
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .with_context(|| format!("opening the log {}", file.display()))?;
    let routine = EnvFilter::try_from_env("VCITY_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| {
            EnvFilter::new(if quieter.is_empty() {
                "info".to_string()
            } else {
                format!("info,{quieter}")
            })
        });
    let to_file = tracing_subscriber::fmt::layer()
        .with_writer(std::sync::Mutex::new(log))
        .with_ansi(false)
        .with_filter(routine);
    let to_terminal = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(EnvFilter::new("warn"));
    let _ = tracing_subscriber::registry()
        .with(to_file)
        .with(to_terminal)
        .try_init();
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM; returns the signal's name.
pub async fn termination_signal() -> &'static str {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        () = terminate => "SIGTERM",
    }
}

/// Resolves when the process that started this one (`VCITY_PARENT_PID`, set by `vcity testnet`
/// and by test harnesses) is gone, so a testnet killed with SIGKILL leaves no validators behind.
pub async fn parent_exited() {
    loop {
        if vcity_compute::parent_gone() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
