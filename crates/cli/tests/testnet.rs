//! A four-validator network of real `vcity node validator` processes on 127.0.0.1 (homes written
//! by `vcity testnet --init-only`), driven through faults: all four commit the same blocks with
//! the same state roots; transactions sent to different validators are each committed exactly
//! once; with one validator SIGKILLed the other three go on, and the restarted one catches up
//! and agrees; with two of four down nothing is committed (no fork, no progress) until one
//! returns. `vcity testnet --validators 4` itself is started once and answers on every API.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port range nothing listens on yet (checked one by one); tests of this file run in
/// parallel, so each call starts from another offset.
fn free_ports(count: u16) -> u16 {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    for attempt in 0..200u32 {
        let spread = std::process::id() * 7 + call * 4_999 + attempt * 97;
        let base = 20_000 + (spread % 30_000) as u16;
        if (0..count).all(|offset| TcpListener::bind(("127.0.0.1", base + offset)).is_ok()) {
            return base;
        }
    }
    panic!("no free port range");
}

fn get(url: &str) -> Option<Value> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    agent
        .get(url)
        .call()
        .ok()?
        .body_mut()
        .read_json::<Value>()
        .ok()
}

struct Validator {
    home: PathBuf,
    api: String,
    child: Option<Child>,
}

impl Validator {
    fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.home.join("validator.log"))
            .expect("log opens");
        let child = Command::new(BIN)
            .arg("--home")
            .arg(&self.home)
            .args(["node", "validator"])
            .env_remove("VCITY_NODE")
            .env_remove("VCITY_CONFIG")
            .env_remove("VCITY_LISTEN")
            .env("VCITY_PARENT_PID", std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("validator starts");
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown path runs.
    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
        }
    }

    fn height(&self) -> Option<u64> {
        get(&format!("{}/v1/status", self.api)).and_then(|status| status["height"].as_u64())
    }

    fn block(&self, height: u64) -> Value {
        get(&format!("{}/v1/blocks/{height}", self.api))
            .unwrap_or_else(|| panic!("{} has no block {height}", self.api))
    }
}

impl Drop for Validator {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn heights(validators: &[Validator]) -> Vec<Option<u64>> {
    validators.iter().map(Validator::height).collect()
}

/// The validators (running ones) agree on every block's hash and state root up to the lowest
/// height among them; returns that height.
fn assert_agree(validators: &[&Validator]) -> u64 {
    let through = validators
        .iter()
        .map(|validator| validator.height().expect("answers"))
        .min()
        .expect("some validators");
    for height in 1..=through {
        let first = validators[0].block(height);
        for other in &validators[1..] {
            let block = other.block(height);
            assert_eq!(block["hash"], first["hash"], "block {height} differs");
            assert_eq!(
                block["header"]["state_root"], first["header"]["state_root"],
                "state root {height} differs"
            );
        }
    }
    through
}

fn init(home: &Path, dir: &Path, api_port: u16, p2p_port: u16) -> Value {
    ok(vcity(
        home,
        None,
        &[
            "testnet",
            "--validators",
            "4",
            "--dir",
            dir.to_str().expect("utf-8"),
            "--api-port",
            &api_port.to_string(),
            "--p2p-port",
            &p2p_port.to_string(),
            "--block-time",
            "300ms",
            "--init-only",
        ],
    ))
}

#[test]
fn four_validators_survive_crashes_and_refuse_to_fork() {
    let temp = tempfile::tempdir().expect("tempdir");
    let home = temp.path().join("home");
    let dir = temp.path().join("net");
    let base = free_ports(8);
    let written = init(&home, &dir, base, base + 4);
    assert_eq!(written["event"], "initialized");
    let mut validators: Vec<Validator> = written["validators"]
        .as_array()
        .expect("validators")
        .iter()
        .map(|line| Validator {
            home: PathBuf::from(line["home"].as_str().expect("home")),
            api: line["api"].as_str().expect("api").to_string(),
            child: None,
        })
        .collect();
    assert_eq!(validators.len(), 4);
    for validator in &mut validators {
        validator.start();
    }
    wait_until("all four reach height 3", Duration::from_secs(60), || {
        heights(&validators).iter().all(|h| h.unwrap_or(0) >= 3)
    });
    let status = get(&format!("{}/v1/status", validators[0].api)).expect("status");
    assert_eq!(status["engine"], "malachite");

    // Transactions to each validator: every one committed exactly once, at the same height on
    // every validator.
    let mut hashes = Vec::new();
    for (index, validator) in validators.iter().enumerate() {
        let sent = ok(vcity(
            &home,
            Some(&validator.api),
            &[
                "tx",
                "transfer",
                "--from",
                "alice",
                "--to",
                "bob",
                "--amount",
                &format!("1.{index}"),
                "--denom",
                "usd",
            ],
        ));
        hashes.push(sent["tx_hash"].as_str().expect("hash").to_string());
    }
    for hash in &hashes {
        wait_until(
            "every validator has committed the transaction",
            Duration::from_secs(20),
            || {
                validators.iter().all(|validator| {
                    get(&format!("{}/v1/txs/{hash}", validator.api))
                        .is_some_and(|view| view["receipt"]["height"].as_u64().is_some())
                })
            },
        );
    }
    let all: Vec<&Validator> = validators.iter().collect();
    let through = assert_agree(&all);
    let mut included: BTreeMap<String, u64> = BTreeMap::new();
    for height in 1..=through {
        for tx in validators[0].block(height)["transactions"]
            .as_array()
            .expect("transactions")
        {
            let tx = tx.as_str().expect("hash").to_string();
            assert!(included.insert(tx, height).is_none(), "committed twice");
        }
    }
    for hash in &hashes {
        let height = included.get(hash).expect("committed");
        for validator in &validators {
            let view = get(&format!("{}/v1/txs/{hash}", validator.api)).expect("tx view");
            assert_eq!(view["receipt"]["height"].as_u64(), Some(*height), "{view}");
        }
    }
    println!("4 transactions committed once each: {included:?}");

    // One validator SIGKILLed: the other three keep committing.
    validators[3].kill9();
    let before = validators[0].height().expect("answers");
    wait_until(
        "three validators commit 5 more blocks",
        Duration::from_secs(30),
        || {
            validators[..3]
                .iter()
                .all(|validator| validator.height().unwrap_or(0) >= before + 5)
        },
    );
    // Restarted, it catches up from its peers and agrees on every root.
    validators[3].start();
    let target = validators[0].height().expect("answers") + 2;
    wait_until(
        "the restarted validator catches up",
        Duration::from_secs(60),
        || validators[3].height().unwrap_or(0) >= target,
    );
    let all: Vec<&Validator> = validators.iter().collect();
    let agreed = assert_agree(&all);
    println!("after a SIGKILL and restart all four agree through height {agreed}");

    // Two of four down: no quorum, so no block is committed.
    validators[2].kill9();
    validators[3].kill9();
    std::thread::sleep(Duration::from_secs(2));
    let stalled = [validators[0].height(), validators[1].height()];
    std::thread::sleep(Duration::from_secs(5));
    let still = [validators[0].height(), validators[1].height()];
    assert_eq!(stalled, still, "blocks committed without a quorum");
    let survivors: Vec<&Validator> = validators[..2].iter().collect();
    let halted_at = assert_agree(&survivors);
    // One returns: progress resumes.
    validators[2].start();
    wait_until(
        "progress resumes with three of four",
        Duration::from_secs(60),
        || {
            validators[..3]
                .iter()
                .all(|validator| validator.height().unwrap_or(0) >= halted_at + 3)
        },
    );
    validators[3].start();
    let target = validators[0].height().expect("answers") + 1;
    wait_until("the fourth catches up", Duration::from_secs(60), || {
        validators[3].height().unwrap_or(0) >= target
    });
    let all: Vec<&Validator> = validators.iter().collect();
    let agreed = assert_agree(&all);
    println!("halted at {halted_at} with two down; all four agree through {agreed} after");
}

#[test]
fn testnet_command_starts_four_validators() {
    let temp = tempfile::tempdir().expect("tempdir");
    let home = temp.path().join("home");
    let base = free_ports(8);
    let mut child = Command::new(BIN)
        .arg("--json")
        .arg("--home")
        .arg(&home)
        .args([
            "testnet",
            "--validators",
            "4",
            "--api-port",
            &base.to_string(),
            "--p2p-port",
            &(base + 4).to_string(),
            "--block-time",
            "300ms",
        ])
        .env_remove("VCITY_NODE")
        .env_remove("VCITY_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("testnet starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
        .expect("start line");
    let started: Value = serde_json::from_str(&line).expect("JSON start line");
    assert_eq!(started["event"], "started", "{line}");
    let apis: Vec<String> = started["validators"]
        .as_array()
        .expect("validators")
        .iter()
        .map(|line| line["api"].as_str().expect("api").to_string())
        .collect();
    assert_eq!(apis.len(), 4);
    let sent = ok(vcity(
        &home,
        Some(&apis[2]),
        &[
            "tx", "transfer", "--from", "alice", "--to", "carol", "--amount", "2", "--denom", "usd",
        ],
    ));
    let hash = sent["tx_hash"].as_str().expect("hash");
    wait_until(
        "every validator has the transaction",
        Duration::from_secs(20),
        || {
            apis.iter().all(|api| {
                get(&format!("{api}/v1/txs/{hash}"))
                    .is_some_and(|view| view["receipt"]["height"].as_u64().is_some())
            })
        },
    );
    let _ = child.kill();
    let _ = child.wait();
    // The validators watch the testnet's process and leave with it.
    wait_until(
        "the validators exit with the testnet",
        Duration::from_secs(10),
        || {
            apis.iter()
                .all(|api| get(&format!("{api}/v1/status")).is_none())
        },
    );
}

/// Runs `ip ARGS`, true on success.
fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A network namespace joined to this one by a veth pair: `host` is this side's address,
/// `inside` the namespace's. Removed on drop.
struct Namespace {
    name: String,
    link: String,
}

impl Namespace {
    fn create(tag: u32) -> Result<Namespace, String> {
        let name = format!("vcity-part-{tag}");
        let link = format!("vcp{tag}");
        let peer = format!("vcq{tag}");
        let _ = ip(&["netns", "del", &name]);
        if !ip(&["netns", "add", &name]) {
            return Err("cannot create a network namespace (needs root and ip netns)".into());
        }
        let namespace = Namespace {
            name: name.clone(),
            link: link.clone(),
        };
        let steps: [&[&str]; 7] = [
            &["link", "add", &link, "type", "veth", "peer", "name", &peer],
            &["link", "set", &peer, "netns", &name],
            &["addr", "add", "10.231.0.1/24", "dev", &link],
            &["link", "set", &link, "up"],
            &["-n", &name, "addr", "add", "10.231.0.2/24", "dev", &peer],
            &["-n", &name, "link", "set", &peer, "up"],
            &["-n", &name, "link", "set", "lo", "up"],
        ];
        for step in steps {
            if !ip(step) {
                return Err(format!("ip {} failed", step.join(" ")));
            }
        }
        Ok(namespace)
    }

    fn partition(&self) {
        assert!(ip(&["link", "set", &self.link, "down"]), "link down");
    }

    fn heal(&self) {
        assert!(ip(&["link", "set", &self.link, "up"]), "link up");
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.link]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// One validator isolated in its own network namespace: the other three keep committing, it
/// does not; healed, it catches up and agrees on every block. Skipped, with the reason printed,
/// where namespaces cannot be created.
#[test]
fn a_partitioned_validator_rejoins_after_healing() {
    let namespace = match Namespace::create(std::process::id() % 10_000) {
        Ok(namespace) => namespace,
        Err(reason) => {
            println!("SKIPPED partition test: {reason}");
            return;
        }
    };
    let temp = tempfile::tempdir().expect("tempdir");
    let home = temp.path().join("home");
    let dir = temp.path().join("net");
    let base = free_ports(8);
    let written = init(&home, &dir, base, base + 4);
    let homes: Vec<PathBuf> = written["validators"]
        .as_array()
        .expect("validators")
        .iter()
        .map(|line| PathBuf::from(line["home"].as_str().expect("home")))
        .collect();
    // Validators 1-3 on the host side of the veth, validator 4 inside the namespace.
    let host = |index: u16| {
        if index == 3 {
            "10.231.0.2"
        } else {
            "10.231.0.1"
        }
    };
    let api = |index: u16| format!("{}:{}", host(index), base + index);
    let p2p = |index: u16| format!("{}:{}", host(index), base + 4 + index);
    let mut children = Vec::new();
    for index in 0..4u16 {
        let mut command = if index == 3 {
            let mut command = Command::new("ip");
            command.args(["netns", "exec", &namespace.name, BIN]);
            command
        } else {
            Command::new(BIN)
        };
        command
            .arg("--home")
            .arg(&homes[index as usize])
            .args(["node", "validator", "--listen", &api(index)])
            .args(["--p2p-listen", &p2p(index)]);
        for other in (0..4u16).filter(|other| *other != index) {
            command
                .args(["--peer", &p2p(other)])
                .args(["--relay", &format!("http://{}", api(other))]);
        }
        let log = std::fs::File::create(homes[index as usize].join("validator.log")).expect("log");
        children.push(ChildGuard(
            command
                .env_remove("VCITY_NODE")
                .env_remove("VCITY_CONFIG")
                .env_remove("VCITY_LISTEN")
                .env("VCITY_PARENT_PID", std::process::id().to_string())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("validator starts"),
        ));
    }
    let validators: Vec<Validator> = (0..4u16)
        .map(|index| Validator {
            home: homes[index as usize].clone(),
            api: format!("http://{}", api(index)),
            child: None,
        })
        .collect();
    wait_until("all four reach height 3", Duration::from_secs(60), || {
        heights(&validators).iter().all(|h| h.unwrap_or(0) >= 3)
    });

    namespace.partition();
    let isolated_at = validators[0].height().expect("answers");
    wait_until(
        "the majority commits 5 blocks without the isolated one",
        Duration::from_secs(30),
        || {
            validators[..3]
                .iter()
                .all(|validator| validator.height().unwrap_or(0) >= isolated_at + 5)
        },
    );
    // The isolated validator cannot even be asked (its link is down); it cannot have gone far:
    // without the others it has no quorum.
    assert!(validators[3].height().is_none(), "the partition holds");

    namespace.heal();
    let target = validators[0].height().expect("answers") + 2;
    wait_until(
        "the healed validator catches up",
        Duration::from_secs(60),
        || validators[3].height().unwrap_or(0) >= target,
    );
    let all: Vec<&Validator> = validators.iter().collect();
    let agreed = assert_agree(&all);
    println!("isolated at {isolated_at}; after healing all four agree through {agreed}");
    drop(children);
}

/// Kills its process on drop.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
