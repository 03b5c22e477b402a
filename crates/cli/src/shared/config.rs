//! Settings: command-line flag, then environment variable, then the TOML config file, then the
//! default. The config file is `--config` / `VCITY_CONFIG`, else `{home}/config.toml` if it
//! exists; the home is `--home` / `VCITY_HOME`, else `~/.vcity`.
//!
//! ```toml
//! node = "http://127.0.0.1:8710"   # API the tx and query commands talk to
//!
//! [devnet]
//! data_dir = "/var/lib/vcity/devnet"
//! listen = "127.0.0.1:8710"
//! block_time = "1s"
//! incentive_period = "10m"        # written into a new devnet's genesis (rules §6 periods)
//! ```

use anyhow::{bail, Context as _};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default API address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8710";

/// The config file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// API URL.
    pub node: Option<String>,
    /// `vcity devnet` / `vcity node` settings.
    #[serde(default)]
    pub devnet: DevnetSection,
    /// `vcity node validator` settings (a validator's home holds them).
    #[serde(default)]
    pub validator: ValidatorSection,
}

/// `[validator]`: one BFT validator. `vcity testnet` writes it into each validator's home.
#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorSection {
    /// A name for logs.
    pub moniker: Option<String>,
    /// API listen address.
    pub listen: Option<String>,
    /// Consensus gossip listen address (TCP).
    pub p2p_listen: Option<String>,
    /// The other validators' gossip addresses.
    #[serde(default)]
    pub peers: Vec<String>,
    /// The other validators' API URLs: transactions clients submit here are relayed to them.
    #[serde(default)]
    pub relay: Vec<String>,
    /// Least time between blocks, e.g. "1s".
    pub block_time: Option<String>,
    /// How long to wait for a round's proposal, e.g. "3s"; more than the block time.
    pub timeout_propose: Option<String>,
    /// How long to wait on split votes, e.g. "1s".
    pub timeout_vote: Option<String>,
}

/// `[devnet]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevnetSection {
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// Listen address.
    pub listen: Option<String>,
    /// Block time, e.g. "1s", "250ms".
    pub block_time: Option<String>,
    /// Incentive period of a new devnet, e.g. "30s", "10m".
    pub incentive_period: Option<String>,
}

/// Resolved global settings.
#[derive(Debug)]
pub struct Settings {
    /// The home directory (keyring at `{home}/keys`).
    pub home: PathBuf,
    /// The config file's contents (empty when there is none).
    pub file: ConfigFile,
    /// API URL.
    pub node: String,
}

impl Settings {
    /// Resolves `home`, the config file and the node URL.
    pub fn resolve(
        home: Option<PathBuf>,
        config: Option<PathBuf>,
        node: Option<String>,
    ) -> anyhow::Result<Settings> {
        let home = match home {
            Some(home) => home,
            None => match std::env::var_os("HOME") {
                Some(user_home) => Path::new(&user_home).join(".vcity"),
                None => bail!("no home directory: set --home or VCITY_HOME"),
            },
        };
        let (path, required) = match config {
            Some(path) => (path, true),
            None => (home.join("config.toml"), false),
        };
        let file = if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading config {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("parsing config {}", path.display()))?
        } else if required {
            bail!("config file {} does not exist", path.display());
        } else {
            ConfigFile::default()
        };
        let node = node
            .or_else(|| file.node.clone())
            .unwrap_or_else(|| format!("http://{DEFAULT_LISTEN}"));
        Ok(Settings { home, file, node })
    }

    /// The keyring directory.
    pub fn keyring_dir(&self) -> PathBuf {
        self.home.join("keys")
    }
}

/// Parses "1s", "250ms", "2m", "12h", "30d", or a bare number of seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: u64 = number
        .parse()
        .with_context(|| format!("bad duration {text:?}: expected e.g. 1s, 250ms, 2m"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(value),
        "s" => Duration::from_secs(value),
        "m" => Duration::from_secs(value.saturating_mul(60)),
        "h" => Duration::from_secs(value.saturating_mul(3_600)),
        "d" => Duration::from_secs(value.saturating_mul(86_400)),
        _ => bail!("bad duration {text:?}: unit must be ms, s, m, h or d"),
    };
    if duration.is_zero() {
        bail!("duration {text:?} must be positive");
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s").expect("ok"), Duration::from_secs(1));
        assert_eq!(
            parse_duration("250ms").expect("ok"),
            Duration::from_millis(250)
        );
        assert_eq!(parse_duration("2m").expect("ok"), Duration::from_secs(120));
        assert_eq!(parse_duration("3").expect("ok"), Duration::from_secs(3));
        assert!(parse_duration("0s").is_err());
        assert_eq!(
            parse_duration("2h").expect("ok"),
            Duration::from_secs(7_200)
        );
        assert_eq!(
            parse_duration("30d").expect("ok"),
            Duration::from_secs(2_592_000)
        );
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn flag_beats_file_beats_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = Settings::resolve(Some(dir.path().into()), None, None).expect("resolves");
        assert_eq!(settings.node, format!("http://{DEFAULT_LISTEN}"));
        std::fs::write(dir.path().join("config.toml"), "node = \"http://file:1\"\n").expect("w");
        let settings = Settings::resolve(Some(dir.path().into()), None, None).expect("resolves");
        assert_eq!(settings.node, "http://file:1");
        let settings =
            Settings::resolve(Some(dir.path().into()), None, Some("http://flag:2".into()))
                .expect("resolves");
        assert_eq!(settings.node, "http://flag:2");
        std::fs::write(dir.path().join("config.toml"), "nod = 1\n").expect("w");
        assert!(Settings::resolve(Some(dir.path().into()), None, None).is_err());
    }
}
