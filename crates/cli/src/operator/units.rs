//! The systemd units `vcity operator init` writes (docs/operators.md, "Service units"): one per
//! role, starting the role's daemon from the operator's home with the flags chosen at init.
//!
//! Every unit restarts its daemon when it fails, stops it with SIGTERM (each daemon finishes
//! what it must and exits) and raises the open-file limit. The compute unit also asks systemd
//! to delegate the memory and pids controllers (`Delegate=`) and to start the daemon in a
//! `daemon` subgroup (`DelegateSubgroup=`, systemd 254 or later): cgroup v2 lets a group hand
//! controllers down only while it holds no process itself, so the sandbox creates its task
//! groups beside that subgroup, under the unit's own group, and limits each task's memory and
//! processes there (crates/sandbox/src/cgroup.rs).

use super::Role;
use std::path::PathBuf;

/// What a unit starts.
#[derive(Debug, Clone)]
pub struct UnitSpec {
    /// The role.
    pub role: Role,
    /// The vcity binary, absolute.
    pub binary: PathBuf,
    /// The operator's home (keyring, config.toml, work directories), absolute.
    pub home: PathBuf,
    /// The chain node's API (roles that talk to one).
    pub node: Option<String>,
    /// The keyring name (compute, scheduler, verifier).
    pub key: Option<String>,
    /// Listen address.
    pub listen: String,
    /// Endpoint, region, kind and price (the region for every daemon, the rest for compute).
    pub offer: crate::node::daemons::ComputeOffer,
    /// VCAI to stake at registration.
    pub stake: Option<String>,
    /// Data directory (chain).
    pub data_dir: Option<PathBuf>,
    /// The account to run as (system units).
    pub user: Option<String>,
    /// A system unit (multi-user.target) rather than a user unit (default.target).
    pub system: bool,
}

/// `vcity-{role}.service`.
pub fn unit_name(role: Role) -> String {
    format!("vcity-{}.service", role.word())
}

/// The daemon's command line, as the unit's `ExecStart=` starts it.
pub fn command_line(spec: &UnitSpec) -> Vec<String> {
    let mut args = vec![
        spec.binary.display().to_string(),
        "--home".into(),
        spec.home.display().to_string(),
    ];
    if let Some(node) = &spec.node {
        args.extend(["--node".into(), node.clone()]);
    }
    args.push("node".into());
    // A chain node is `vcity node --data-dir …`; every other role is a subcommand.
    if spec.role != Role::Chain {
        args.push(spec.role.word().into());
    }
    let mut flag = |name: &str, value: String| {
        args.push(format!("--{name}"));
        args.push(value);
    };
    let key = spec.key.clone().unwrap_or_default();
    match spec.role {
        Role::Compute => {
            let work_dir = spec.home.join("compute").join(&key);
            flag("key", key);
            flag("work-dir", work_dir.display().to_string());
            flag("listen", spec.listen.clone());
            if let Some(endpoint) = &spec.offer.endpoint {
                flag("endpoint", endpoint.clone());
            }
            flag("region", spec.offer.region.clone());
            flag("kind", spec.offer.kind.clone());
            flag("price-per-cu", spec.offer.price_per_cu.clone());
        }
        Role::Scheduler | Role::Verifier => {
            flag("key", key);
            flag("listen", spec.listen.clone());
            flag("region", spec.offer.region.clone());
        }
        Role::Chain => {
            let data_dir = spec.data_dir.clone().unwrap_or_default();
            flag("data-dir", data_dir.display().to_string());
            flag("listen", spec.listen.clone());
        }
        Role::Validator => {}
    }
    if let Some(stake) = &spec.stake {
        if matches!(spec.role, Role::Compute | Role::Scheduler | Role::Verifier) {
            flag("stake", stake.clone());
        }
    }
    args
}

/// One argument as systemd reads it in `ExecStart=`: double-quoted when it holds anything but
/// plain characters, with `\`, `"` escaped and `%`, `$` doubled (specifiers and variables).
pub fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:=,+@".contains(c));
    let escaped = arg.replace('%', "%%").replace('$', "$$");
    if plain {
        return escaped;
    }
    format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The unit file.
pub fn render(spec: &UnitSpec) -> String {
    let description = match (&spec.key, spec.role) {
        (Some(key), Role::Compute | Role::Scheduler | Role::Verifier) => {
            format!("Vcity {} node ({key})", spec.role.word())
        }
        _ => format!("Vcity {} node", spec.role.word()),
    };
    let exec = command_line(spec)
        .iter()
        .map(|arg| quote(arg))
        .collect::<Vec<_>>()
        .join(" ");
    let mut out = String::new();
    out.push_str(&format!(
        "# Written by `vcity operator init --role {}`; run it again to change the flags\n\
         # (docs/operators.md, \"Service units\").\n",
        spec.role.word()
    ));
    out.push_str("[Unit]\n");
    out.push_str(&format!("Description={description}\n"));
    out.push_str("Wants=network-online.target\nAfter=network-online.target\n\n");
    out.push_str("[Service]\nType=simple\n");
    out.push_str(&format!("ExecStart={exec}\n"));
    out.push_str(&format!(
        "WorkingDirectory={}\n",
        quote(&spec.home.display().to_string())
    ));
    out.push_str("Environment=RUST_LOG=info\n");
    if let Some(user) = &spec.user {
        out.push_str(&format!("User={user}\n"));
    }
    out.push_str(
        "Restart=on-failure\nRestartSec=5s\nKillSignal=SIGTERM\nTimeoutStopSec=60s\n\
         LimitNOFILE=65536\n",
    );
    if spec.role == Role::Compute {
        out.push_str("Delegate=memory pids\nDelegateSubgroup=daemon\n");
    }
    out.push_str("\n[Install]\n");
    out.push_str(if spec.system {
        "WantedBy=multi-user.target\n"
    } else {
        "WantedBy=default.target\n"
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(role: Role) -> UnitSpec {
        UnitSpec {
            role,
            binary: "/usr/local/bin/vcity".into(),
            home: "/var/lib/vcity".into(),
            node: Some("http://10.0.0.1:8710".into()),
            key: Some("gpu-1".into()),
            listen: "0.0.0.0:8720".into(),
            offer: crate::node::daemons::ComputeOffer {
                endpoint: Some("http://node.example:8720".into()),
                region: "eu west".into(),
                kind: "stable".into(),
                price_per_cu: "0.04".into(),
            },
            stake: None,
            data_dir: Some("/var/lib/vcity/chain".into()),
            user: Some("vcity".into()),
            system: true,
        }
    }

    #[test]
    fn each_role_starts_its_own_daemon() {
        let line = |role| command_line(&spec(role))[3..].join(" ");
        assert_eq!(
            line(Role::Compute),
            "--node http://10.0.0.1:8710 node compute --key gpu-1 --work-dir \
             /var/lib/vcity/compute/gpu-1 --listen 0.0.0.0:8720 --endpoint \
             http://node.example:8720 --region eu west --kind stable --price-per-cu 0.04"
        );
        assert!(line(Role::Scheduler).contains("node scheduler --key gpu-1"));
        assert!(line(Role::Verifier).contains("node verifier --key gpu-1"));
        let mut chain = spec(Role::Chain);
        chain.node = None;
        assert_eq!(
            command_line(&chain)[3..].join(" "),
            "node --data-dir /var/lib/vcity/chain --listen 0.0.0.0:8720"
        );
        let mut validator = spec(Role::Validator);
        validator.node = None;
        assert_eq!(command_line(&validator)[3..].join(" "), "node validator");
    }

    #[test]
    fn arguments_are_quoted_as_systemd_reads_them() {
        assert_eq!(quote("/usr/bin/vcity"), "/usr/bin/vcity");
        assert_eq!(quote("eu west"), "\"eu west\"");
        assert_eq!(quote("50%"), "\"50%%\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("$HOME"), "\"$$HOME\"");
        assert_eq!(quote(""), "\"\"");
    }

    #[test]
    fn the_compute_unit_delegates_cgroups_and_restarts_on_failure() {
        let unit = render(&spec(Role::Compute));
        assert!(unit.contains("ExecStart=/usr/local/bin/vcity --home /var/lib/vcity"));
        assert!(unit.contains("--region \"eu west\""));
        assert!(unit.contains("Delegate=memory pids\nDelegateSubgroup=daemon\n"));
        assert!(unit.contains("Restart=on-failure\n"));
        assert!(unit.contains("User=vcity\n"));
        assert!(unit.ends_with("WantedBy=multi-user.target\n"));
        let scheduler = render(&spec(Role::Scheduler));
        assert!(!scheduler.contains("Delegate"));
    }
}
