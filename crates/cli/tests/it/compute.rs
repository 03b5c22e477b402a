//! End to end through the compute layer: a devnet started as processes (chain node, compute
//! nodes, scheduler), driven by the `vcity` CLI. Jobs of the example workloads complete with the
//! native reference's outputs and the books balance to the base unit; a compute node killed with
//! SIGKILL mid-task loses the task to another node and the owner pays once; a job no node can
//! run says why; hostile modules are contained and billed up to their budget; only the owner can
//! fetch a result.

use crate::browser;
use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vcity_types::trust::VerificationLevel;

fn manifest(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, body).expect("manifest written");
    path
}

/// USD decimal text to base units.
fn base_units(text: &str) -> u128 {
    vcity_types::Amount::parse_decimal(text, vcity_types::Denom::Usd)
        .expect("a USD amount")
        .base_units()
}

fn submit(devnet: &Devnet, path: &Path) -> u64 {
    let run = devnet.cli(&[
        "job",
        "submit",
        path.to_str().expect("utf8"),
        "--from",
        "bob",
    ]);
    let json = ok(run);
    json["transaction"]["receipt"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|event| event["type"] == "job_submitted")
        .and_then(|event| event["job_id"].as_u64())
        .unwrap_or_else(|| panic!("no job id in {json}"))
}

fn job(devnet: &Devnet, id: u64) -> Value {
    ok(devnet.cli(&["job", "status", &id.to_string()]))
}

fn state(job: &Value, task: usize) -> String {
    job["tasks"][task]["state"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Waits until every task of every job in `ids` is in one of `states`.
fn wait_for(devnet: &Devnet, ids: &[u64], states: &[&str], timeout: Duration) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let jobs: Vec<Value> = ids.iter().map(|id| job(devnet, *id)).collect();
        let done =
            jobs.iter().all(|job| {
                job["tasks"].as_array().expect("tasks").iter().all(|task| {
                    states.contains(&task["state"]["state"].as_str().unwrap_or_default())
                })
            });
        if done {
            return jobs;
        }
        if Instant::now() > deadline {
            panic!("jobs {ids:?} did not reach {states:?}: {jobs:#?}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn escrow_usd(devnet: &Devnet) -> String {
    let escrow = vcity_types::AccountId::module("job_escrow").to_hex();
    usd(&devnet.home, &devnet.api, &escrow)
}

#[test]
fn twenty_jobs_match_the_native_references_and_the_books_balance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let devnet = Devnet::start_with_daemons(&home, 3);
    // Three compute nodes, a scheduler and two verifiers.
    assert_eq!(devnet.started["daemons"].as_array().map(Vec::len), Some(6));
    let bob_before = base_units(&usd(&home, &devnet.api, "bob"));
    let mut jobs = Vec::new();
    for index in 0..20u64 {
        let (workload, input): (&str, Vec<u8>) = match index % 3 {
            0 => ("matmul", format!("{} {index}", 16 + index).into_bytes()),
            1 => (
                "hashchain",
                format!("{} seed-{index}", 500 + index * 10).into_bytes(),
            ),
            _ => (
                "blur",
                vcity_kernels::blur::Image::synthetic(20 + index as usize, 16, index).to_pgm(),
            ),
        };
        let input_file = dir.path().join(format!("input-{index}"));
        std::fs::write(&input_file, &input).expect("input");
        let path = manifest(
            dir.path(),
            &format!("job-{index}"),
            &format!(
                "workload = \"{workload}\"\ninput_file = \"input-{index}\"\nmax_cu = 0.01\nmax_price_per_cu = 0.1\n"
            ),
        );
        jobs.push((submit(&devnet, &path), workload, input));
    }
    let ids: Vec<u64> = jobs.iter().map(|(id, _, _)| *id).collect();
    let settled = wait_for(&devnet, &ids, &["settled"], Duration::from_secs(240));
    let mut paid = 0u128;
    for ((id, workload, input), record) in jobs.iter().zip(&settled) {
        let out = dir.path().join(format!("out-{id}"));
        let run = devnet.cli(&[
            "job",
            "result",
            &id.to_string(),
            "--from",
            "bob",
            "--output",
            out.to_str().expect("utf8"),
        ]);
        let json = ok(run);
        assert_eq!(json["tasks"][0]["exit"]["exit"], "success", "{json}");
        let output = std::fs::read(out.join("task-0.out")).expect("saved output");
        // The node's signed statement of its result is kept beside it (equivocation evidence).
        let statement: Value = serde_json::from_slice(
            &std::fs::read(out.join("task-0.statement.json")).expect("saved statement"),
        )
        .expect("statement JSON");
        assert_eq!(
            statement["statement"]["result_hash"],
            record["tasks"][0]["state"]["output_hash"]
        );
        let reference = (vcity_workloads::by_name(workload)
            .expect("workload")
            .reference)(input)
        .expect("reference");
        assert_eq!(output, reference, "job {id} ({workload})");
        // JSON amounts are base units.
        paid += charged(&record["tasks"][0], VerificationLevel::Standard);
    }
    // Every escrowed base unit went to a node, the treasury, the verification fees or back to
    // bob: the escrow is empty, and bob paid exactly the settled costs and their verification
    // fees, plus 20 transaction fees of 0.001 USD.
    assert_eq!(escrow_usd(&devnet), "0");
    let bob_after = base_units(&usd(&home, &devnet.api, "bob"));
    assert_eq!(bob_before - bob_after, paid + 20 * 1_000);
}

#[test]
fn a_node_killed_mid_task_loses_it_to_another_and_the_owner_pays_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let devnet = Devnet::start_with_daemons(&home, 2);
    let bob_before = base_units(&usd(&home, &devnet.api, "bob"));
    // About ten seconds of hashing: long enough to kill the node in the middle.
    let path = manifest(
        dir.path(),
        "long",
        "workload = \"hashchain\"\ninput = \"20000000 kill-me\"\nmax_cu = 5\nmax_price_per_cu = 0.1\n",
    );
    let id = submit(&devnet, &path);
    let running = wait_for(&devnet, &[id], &["running"], Duration::from_secs(60));
    let first = running[0]["tasks"][0]["state"]["node"]
        .as_str()
        .expect("node")
        .to_string();
    let daemons = devnet.started["daemons"].as_array().expect("daemons");
    let victim = daemons
        .iter()
        .find(|daemon| daemon["account"] == first.as_str())
        .expect("the node is one of the devnet's");
    let pid = victim["pid"].as_u64().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    // Offline after three missed heartbeats (9 s); the ledger returns the task, the scheduler
    // places it on the other node, which runs it to the end.
    let settled = wait_for(&devnet, &[id], &["settled"], Duration::from_secs(180));
    let task = &settled[0]["tasks"][0];
    assert_ne!(task["state"]["node"].as_str(), Some(first.as_str()));
    assert_eq!(task["attempts"], 2);
    let cost = charged(task, VerificationLevel::Standard);
    let bob_after = base_units(&usd(&home, &devnet.api, "bob"));
    assert_eq!(
        bob_before - bob_after,
        cost + 1_000,
        "charged once (with its verification fee), plus the submit fee"
    );
    assert_eq!(escrow_usd(&devnet), "0");
}

#[test]
fn unplaceable_jobs_say_why_hostile_modules_are_contained_and_only_the_owner_fetches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let devnet = Devnet::start_with_daemons(&home, 1);
    // No devnet node has a GPU.
    let path = manifest(
        dir.path(),
        "gpu",
        "workload = \"matmul\"\ninput = \"8 1\"\nmax_cu = 0.01\nmax_price_per_cu = 0.1\n\
         [requirements]\ngpu_model = \"H100\"\ngpu_count = 1\n",
    );
    let gpu_job = submit(&devnet, &path);
    let deadline = Instant::now() + Duration::from_secs(60);
    let why = loop {
        let record = job(&devnet, gpu_job);
        if let Some(why) = record["tasks"][0]["unplaceable"].as_str() {
            break why.to_string();
        }
        assert!(Instant::now() < deadline, "no explanation: {record}");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(state(&job(&devnet, gpu_job), 0), "pending");
    assert!(
        why.contains("1 lacks the GPU model (needs 1× H100)"),
        "{why}"
    );
    // The closest near-miss is named, with what it has instead.
    assert!(why.contains("; closest: "), "{why}");
    assert!(why.ends_with("(lacks the GPU model: no GPU)"), "{why}");
    let text = vcity(
        &home,
        Some(&devnet.api),
        &["job", "status", &gpu_job.to_string()],
    );
    assert_eq!(text.code, 0);
    assert!(text.stdout.contains("closest: "), "{}", text.stdout);

    // A gang of two on the node kind the devnet's nodes are: assigned together, then run.
    let gang = manifest(
        dir.path(),
        "gang",
        "workload = \"hashchain\"\ninput = \"10 g\"\ntasks = 2\nmax_cu = 0.01\n\
         max_price_per_cu = 0.1\n[requirements]\nnode_kind = \"flexible\"\ngang = true\n",
    );
    let gang_job = submit(&devnet, &gang);
    let done = wait_for(
        &devnet,
        &[gang_job],
        &["completed", "settled"],
        Duration::from_secs(90),
    );
    assert_eq!(done[0]["requirements"]["gang"], true, "{}", done[0]);
    // A stable-only job on this flexible-only devnet says so.
    let stable = manifest(
        dir.path(),
        "stable",
        "workload = \"hashchain\"\ninput = \"10 s\"\nmax_cu = 0.01\nmax_price_per_cu = 0.1\n\
         [requirements]\nnode_kind = \"stable\"\n",
    );
    let stable_job = submit(&devnet, &stable);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let record = job(&devnet, stable_job);
        if let Some(why) = record["tasks"][0]["unplaceable"].as_str() {
            assert!(why.contains("1 wrong node kind (needs stable)"), "{why}");
            break;
        }
        assert!(Instant::now() < deadline, "no explanation: {record}");
        std::thread::sleep(Duration::from_millis(250));
    }

    // Hostile modules: an endless loop, a memory bomb, a program reading a host file.
    let hostile = [
        ("loop", "(module (memory (export \"memory\") 1) (func (export \"_start\") (loop $l (br $l))))", "out_of_fuel"),
        (
            "bomb",
            "(module (memory (export \"memory\") 1) (func (export \"_start\") \
             (loop $l (br_if $l (i32.ne (memory.grow (i32.const 64)) (i32.const -1))))))",
            "memory_limit",
        ),
        (
            "escape",
            "(module (import \"wasi_snapshot_preview1\" \"path_open\" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32))) \
             (import \"wasi_snapshot_preview1\" \"proc_exit\" (func $exit (param i32))) \
             (memory (export \"memory\") 1) (data (i32.const 100) \"../../../../etc/passwd\") \
             (func (export \"_start\") (call $exit (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 22) \
             (i32.const 0) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 200)))))",
            "exit_code",
        ),
    ];
    let mut ids = Vec::new();
    for (name, text, _) in hostile {
        std::fs::write(
            dir.path().join(format!("{name}.wasm")),
            wat::parse_str(text).expect("wat"),
        )
        .expect("module");
        let path = manifest(
            dir.path(),
            name,
            &format!("module = \"{name}.wasm\"\nmax_cu = 0.02\nmax_price_per_cu = 0.1\n"),
        );
        ids.push(submit(&devnet, &path));
    }
    let settled = wait_for(&devnet, &ids, &["settled"], Duration::from_secs(120));
    for ((id, (name, _, exit)), record) in ids.iter().zip(hostile).zip(&settled) {
        let json = ok(devnet.cli(&["job", "result", &id.to_string(), "--from", "bob"]));
        assert_eq!(json["tasks"][0]["exit"]["exit"], exit, "{name}: {json}");
        if exit == "exit_code" {
            assert_eq!(json["tasks"][0]["exit"]["code"], 76, "ENOTCAPABLE");
        }
        if exit == "out_of_fuel" {
            // Billed exactly its budget: 0.02 CU × the node's 0.04 USD.
            assert_eq!(record["tasks"][0]["state"]["cost_usd"], "800");
        }
    }
    // The node is still healthy: the example manifest runs after them, through `job run`.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/jobs/hashchain.toml");
    let json = ok(devnet.cli(&[
        "job",
        "run",
        example.to_str().expect("utf8"),
        "--from",
        "bob",
    ]));
    let after = json["job_id"].as_u64().expect("job id");
    let reference = vcity_kernels::hashchain::run(b"100000 vcity").expect("reference");
    assert_eq!(
        json["tasks"][0]["output_text"].as_str().map(str::as_bytes),
        Some(reference.as_slice())
    );
    // A prepaid subscription pays for a job; what the job did not use goes back to it.
    let subscribed = ok(devnet.cli(&[
        "job",
        "subscribe",
        "--from",
        "bob",
        "--cu",
        "1",
        "--price-per-cu",
        "0.1",
        "--term",
        "1h",
    ]));
    assert_eq!(subscribed["ok"], true);
    let path = manifest(
        dir.path(),
        "prepaid",
        "workload = \"hashchain\"\ninput = \"5 prepaid\"\nmax_cu = 0.5\nmax_price_per_cu = 0.1\nsubscription = 1\n",
    );
    let prepaid = submit(&devnet, &path);
    let settled = wait_for(&devnet, &[prepaid], &["settled"], Duration::from_secs(60));
    let cost = charged(&settled[0]["tasks"][0], VerificationLevel::Standard);
    let view = ok(devnet.cli(&["job", "subscription", "1"]));
    assert!(view["cu_used_ppm"].as_u64().expect("used") > 0);
    assert_eq!(
        view["available_usd"]
            .as_str()
            .map(|text| text.parse::<u128>().expect("units")),
        Some(100_000 - cost),
        "0.1 USD prepaid, less the one task's cost and verification fee: {view}"
    );
    // Carol is not the owner: the node refuses her, signed request or not.
    let refused = devnet.cli(&["job", "result", &after.to_string(), "--from", "carol"]);
    assert_ne!(refused.code, 0);
    let logs = devnet.cli(&["job", "logs", &after.to_string(), "--from", "bob"]);
    assert!(ok(logs)["log"]
        .as_str()
        .expect("log")
        .contains("ended: Success"));
}

/// A compute node started by the test itself (`vcity node compute`), killed when dropped.
struct ExtraNode(std::process::Child);

impl Drop for ExtraNode {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Funds keyring account `name` from alice and starts it as a compute node in `region` with
/// `extra` flags (a lie, declared GPUs).
fn extra_node(devnet: &Devnet, name: &str, region: &str, vcai: &str, extra: &[&str]) -> ExtraNode {
    ok(devnet.cli(&["keys", "new", name]));
    for (amount, denom) in [(vcai, "vcai"), ("100", "usd")] {
        ok(devnet.cli(&[
            "tx", "transfer", "--from", "alice", "--to", name, "--amount", amount, "--denom", denom,
        ]));
    }
    let log = std::fs::File::create(devnet.home.join(format!("{name}.log"))).expect("log");
    let child = std::process::Command::new(BIN)
        .arg("--home")
        .arg(&devnet.home)
        .args(["--node", &devnet.api, "node", "compute", "--key", name])
        .arg("--work-dir")
        .arg(devnet.home.join(name))
        .args(["--listen", "127.0.0.1:0", "--region", region])
        .args(["--price-per-cu", "0.05", "--poll-interval", "200ms"])
        .args(extra)
        .env_remove("VCITY_CONFIG")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("vcity node compute starts");
    ExtraNode(child)
}

/// Polls `what` every 250 ms until it returns something, or panics after `timeout`.
fn eventually<T>(timeout: Duration, label: &str, mut what: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = what() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {label}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn node_view(devnet: &Devnet, name: &str) -> Value {
    ok(devnet.cli(&["nodes", "show", name]))
}

/// The node's view once it has registered.
fn registered(devnet: &Devnet, name: &str) -> Option<Value> {
    let run = devnet.cli(&["nodes", "show", name]);
    (run.code == 0).then_some(run.json)
}

fn vcai_units(devnet: &Devnet, who: &str) -> u128 {
    balance_units(&ok(devnet.cli(&["query", "account", who])), "vcai")
}

fn usd_units(devnet: &Devnet, who: &str) -> u128 {
    base_units(&usd(&devnet.home, &devnet.api, who))
}

/// Submits a full-verification job of the hash chain to `region`; its id.
fn job_in(devnet: &Devnet, dir: &Path, name: &str, region: &str, level: &str) -> u64 {
    let path = manifest(
        dir,
        name,
        &format!(
            "workload = \"hashchain\"\ninput = \"2000 {name}\"\nmax_cu = 0.01\n\
             max_price_per_cu = 0.1\nverification = \"{level}\"\n[requirements]\n\
             region = \"{region}\"\n"
        ),
    );
    submit(devnet, &path)
}

/// The devnet of issue 18: honest compute nodes, one that returns wrong outputs, one that
/// inflates its CU, one that declares a GPU it does not have, three verifiers. Within their jobs'
/// windows the liars are checked, lose their referee rounds and are slashed at their tiers; the
/// buyer is refunded at once and compensated first from the slash; honest nodes are paid exactly
/// as before; a false challenge loses its deposit; the GPU the node cannot prove comes off its
/// registration and earns it no Proof of Capacity.
#[test]
fn dishonest_nodes_are_caught_slashed_and_the_buyer_is_made_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let devnet = Devnet::launch(
        &home,
        &[
            "--compute-nodes",
            "2",
            "--schedulers",
            "1",
            "--verifiers",
            "3",
            "--block-time",
            "250ms",
            "--incentive-period",
            "60s",
        ],
    );

    // 1. A node declaring an H100 it does not have: its capacity challenge asks for a 16,384²
    // product on the GPU, due in about 12 s; on this machine's CPU it cannot finish.
    let gpu_liar = extra_node(
        &devnet,
        "gpu-liar",
        "nowhere",
        "25000",
        &["--gpu", "H100:1:81920"],
    );
    let missed = eventually(
        Duration::from_secs(90),
        "the GPU liar's challenge to end",
        || {
            let view = registered(&devnet, "gpu-liar")?;
            view["challenges"]
                .as_array()
                .and_then(|list| list.first().cloned())
                .filter(|challenge| challenge["state"]["state"] != "awaiting_commit")
        },
    );
    assert_eq!(missed["state"]["state"], "missed", "{missed}");
    assert_eq!(missed["devices"].as_array().map(Vec::len), Some(2));
    let view = node_view(&devnet, "gpu-liar");
    assert_eq!(
        view["node"]["hardware"]["gpus"],
        serde_json::json!([]),
        "{view}"
    );
    assert_eq!(view["node"]["trust"]["probation"], true);
    assert_eq!(view["slashes"][0]["offence"], "capacity_missed");
    assert_eq!(view["slashes"][0]["tier"], "minor");
    drop(gpu_liar);

    // 2. Two liars, each alone in its region; they pass their (CPU) capacity challenges.
    let _wrong = extra_node(
        &devnet,
        "liar-output",
        "liar-a",
        "5000",
        &["--misbehave", "wrong-output"],
    );
    let _inflate = extra_node(
        &devnet,
        "liar-cu",
        "liar-b",
        "5000",
        &["--misbehave", "inflate-cu"],
    );
    for name in ["liar-output", "liar-cu"] {
        eventually(Duration::from_secs(60), "probation to end", || {
            let view = registered(&devnet, name)?;
            (view["node"]["trust"]["probation"] == false
                && view["node"]["trust"]["challenges_passed"].as_u64() >= Some(1))
            .then_some(())
        });
    }
    let bob_usd = usd_units(&devnet, "bob");
    let bob_vcai = vcai_units(&devnet, "bob");
    let honest_node = devnet.started["daemons"]
        .as_array()
        .expect("daemons")
        .iter()
        .find(|daemon| daemon["name"] == "compute-1")
        .expect("compute-1")["account"]
        .as_str()
        .expect("account")
        .to_string();
    let (honest_usd, honest_nonce) = usd_and_nonce(&devnet, &honest_node);

    // 3. Full verification: each liar's result is challenged by its checker and loses the round.
    let wrong_job = job_in(&devnet, dir.path(), "wrong", "liar-a", "full");
    let inflated_job = job_in(&devnet, dir.path(), "inflated", "liar-b", "full");
    let honest_job = job_in(&devnet, dir.path(), "honest", "eu-west", "full");
    let failed = wait_for(
        &devnet,
        &[wrong_job, inflated_job],
        &["failed"],
        Duration::from_secs(120),
    );
    for (record, (name, offence)) in failed.iter().zip([
        ("liar-output", "wrong_result"),
        ("liar-cu", "inflated_metering"),
    ]) {
        let dispute_id = record["tasks"][0]["dispute"].as_u64().expect("disputed");
        let dispute = ok(devnet.cli(&["verify", "dispute", &dispute_id.to_string()]));
        assert_eq!(dispute["outcome"]["outcome"], "node_at_fault", "{dispute}");
        assert_eq!(dispute["outcome"]["offence"], offence, "{dispute}");
        let view = node_view(&devnet, name);
        let slash = &view["slashes"][0];
        assert_eq!(slash["offence"], offence, "{view}");
        assert_eq!(slash["tier"], "moderate");
        assert_eq!(view["node"]["trust"]["results_disproved"], 1);
    }
    let settled = wait_for(
        &devnet,
        &[honest_job],
        &["settled"],
        Duration::from_secs(60),
    );
    let honest_task = &settled[0]["tasks"][0];
    assert_eq!(honest_task["check"]["state"]["state"], "agreed");
    // The honest node was paid its cost less the 10% network fee, rounded up for the protocol,
    // exactly as without a trust layer.
    let cost: u128 = honest_task["state"]["cost_usd"]
        .as_str()
        .expect("cost")
        .parse()
        .expect("units");
    // (Its heartbeats meanwhile paid a transaction fee each.)
    let (usd_now, nonce_now) = usd_and_nonce(&devnet, &honest_node);
    assert_eq!(
        usd_now + u128::from(nonce_now - honest_nonce) * 1_000 - honest_usd,
        cost - cost.div_ceil(10)
    );
    // Bob paid for the honest task and its check only: the liars' escrows came back whole.
    assert_eq!(
        bob_usd - usd_units(&devnet, "bob"),
        charged(honest_task, VerificationLevel::Full) + 3 * 1_000
    );

    // 4. After the appeal window (60 s on the devnet) each slash pays bob first, then the
    // checker's bounty, then the reserve.
    let compensation: u128 = ["liar-output", "liar-cu"]
        .iter()
        .map(|name| {
            let slash_id = node_view(&devnet, name)["slashes"][0]["id"]
                .as_u64()
                .expect("slash id");
            let paid = eventually(Duration::from_secs(120), "the payout", || {
                let slash = ok(devnet.cli(&["verify", "slash", &slash_id.to_string()]));
                (slash["state"]["state"] == "paid_out").then_some(slash)
            });
            let units = |key: &str| -> u128 {
                paid["state"][key]
                    .as_str()
                    .expect("amount")
                    .parse()
                    .expect("units")
            };
            assert!(units("compensation") > 0, "{paid}");
            assert!(units("bounty") > 0, "{paid}");
            let total: u128 = paid["amount"]
                .as_str()
                .expect("amount")
                .parse()
                .expect("units");
            assert_eq!(
                units("compensation") + units("bounty") + units("reserve"),
                total
            );
            units("compensation")
        })
        .sum();
    assert_eq!(vcai_units(&devnet, "bob") - bob_vcai, compensation);

    // 5. A false challenge: alice claims the honest node billed one more millionth of a CU than
    // it did; the referees side with the node and alice's deposit goes to it.
    let target = job_in(&devnet, dir.path(), "target", "us-east", "none");
    let done = wait_for(
        &devnet,
        &[target],
        &["completed", "settled"],
        Duration::from_secs(60),
    );
    assert_eq!(
        state(&done[0], 0),
        "completed",
        "challenge within the window"
    );
    let mut claim = done[0]["tasks"][0]["state"]["commitment"].clone();
    let used = claim["cu_used_ppm"].as_u64().expect("cu");
    claim["cu_used_ppm"] = serde_json::json!(used + 1);
    let claim_file = dir.path().join("claim.json");
    std::fs::write(&claim_file, claim.to_string()).expect("claim");
    let target_node = done[0]["tasks"][0]["state"]["node"]
        .as_str()
        .expect("node")
        .to_string();
    let alice_vcai = vcai_units(&devnet, "alice");
    let node_vcai = vcai_units(&devnet, &target_node);
    ok(devnet.cli(&[
        "verify",
        "challenge",
        &target.to_string(),
        "0",
        "--from",
        "alice",
        "--commitment",
        claim_file.to_str().expect("utf8"),
    ]));
    let settled = wait_for(&devnet, &[target], &["settled"], Duration::from_secs(60));
    let dispute_id = settled[0]["tasks"][0]["dispute"]
        .as_u64()
        .expect("disputed");
    let dispute = ok(devnet.cli(&["verify", "dispute", &dispute_id.to_string()]));
    assert_eq!(
        dispute["outcome"]["outcome"], "challenger_wrong",
        "{dispute}"
    );
    let deposit: u128 = dispute["deposit"]
        .as_str()
        .expect("deposit")
        .parse()
        .expect("units");
    assert_eq!(alice_vcai - vcai_units(&devnet, "alice"), deposit);
    assert_eq!(vcai_units(&devnet, &target_node) - node_vcai, deposit);

    // 6. The incentive period closes: honest nodes that passed their challenges earn Proof of
    // Capacity; the node that could not prove its GPU earns none.
    let rewards = |who: &str| ok(devnet.cli(&["rewards", "show", who]));
    let honest_poc = eventually(
        Duration::from_secs(120),
        "a closed period's credits",
        || {
            let view = rewards(&honest_node);
            let poc: u128 = view["incentives_total"]["capacity"]
                .as_str()
                .expect("amount")
                .parse()
                .expect("units");
            (poc > 0).then_some(poc)
        },
    );
    assert!(honest_poc > 0);
    assert_eq!(rewards("gpu-liar")["incentives_total"]["capacity"], "0");
    assert_eq!(escrow_usd(&devnet), "0");
}

/// An account's USD and next nonce, read at one height.
fn usd_and_nonce(devnet: &Devnet, who: &str) -> (u128, u64) {
    let account = ok(devnet.cli(&["query", "account", who]));
    let usd = balance_units(&account, "usd");
    (usd, account["next_nonce"].as_u64().expect("nonce"))
}

// ---- Process jobs (docs/job-spec.md, "Process jobs"): hostile programs through the real
// compute daemon's sandbox. They share one devnet (one compute node, one scheduler): the hostile
// tasks run side by side on the same node, and each test ends by checking that the node is still
// online and healthy. busybox (the `busybox-static` package) is the attacker's toolbox.

/// The shared devnet, or `None` (SKIPPED) where this host cannot run sandboxed tasks; where
/// `VCITY_REQUIRE_SANDBOX` is set (`.ci/run`), a missing sandbox fails instead.
struct SandboxNet {
    devnet: Devnet,
    dir: tempfile::TempDir,
    sending: std::sync::Mutex<()>,
}

fn sandbox_net() -> Option<&'static SandboxNet> {
    static SHARED: std::sync::OnceLock<Option<SandboxNet>> = std::sync::OnceLock::new();
    SHARED
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let usable = vcity_sandbox::Sandbox::probe(&dir.path().join("probe"))
                .map(|sandbox| sandbox.enforces_limits())
                .unwrap_or(false)
                && Path::new("/bin/busybox").is_file();
            if !usable {
                assert!(
                    std::env::var_os("VCITY_REQUIRE_SANDBOX").is_none(),
                    "no sandbox here: bubblewrap, busybox-static and delegated cgroups are required"
                );
                eprintln!("SKIPPED: no bubblewrap, busybox or delegated cgroups here");
                return None;
            }
            let devnet = Devnet::launch(
                &dir.path().join("home"),
                &[
                    "--compute-nodes",
                    "1",
                    "--schedulers",
                    "1",
                    "--verifiers",
                    "0",
                    "--block-time",
                    "250ms",
                ],
            );
            Some(SandboxNet {
                devnet,
                dir,
                sending: std::sync::Mutex::new(()),
            })
        })
        .as_ref()
}

/// Submits a busybox shell `script` as a process job paid by `payer` (2 CU at most unless
/// `settings` says otherwise); its id.
fn shell_job(net: &SandboxNet, name: &str, payer: &str, script: &str, settings: &str) -> u64 {
    let budget = if settings.contains("max_cu") {
        ""
    } else {
        "max_cu = 2\n"
    };
    let quoted = serde_json::to_string(script).expect("a TOML basic string is a JSON string");
    let path = manifest(
        net.dir.path(),
        name,
        &format!(
            "executor = \"process\"\nprogram = \"/bin/busybox\"\nargs = [\"sh\", \"-c\", {quoted}]\n\
             input = \"the input\"\n{budget}max_price_per_cu = 0.1\n{settings}"
        ),
    );
    submit_file(net, &path, payer)
}

/// Waits for `payer`'s job `id` to settle; its result (`vcity job result --json`) and its log.
fn settled_result(net: &SandboxNet, id: u64, payer: &str) -> (Value, String) {
    wait_for(&net.devnet, &[id], &["settled"], Duration::from_secs(120));
    let result = ok(net
        .devnet
        .cli(&["job", "result", &id.to_string(), "--from", payer]));
    let log = ok(net
        .devnet
        .cli(&["job", "logs", &id.to_string(), "--from", payer]))["log"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (result["tasks"][0].clone(), log)
}

/// The compute node is online and healthy, and no process of the task with `marker` in its
/// command line is left on the host.
fn node_fine_and_nothing_left(net: &SandboxNet, marker: &str) {
    let view = node_view(&net.devnet, "compute-1");
    assert_eq!(view["node"]["healthy"], true, "{view}");
    let left = std::process::Command::new("pgrep")
        .args(["-f", marker])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    assert!(left.trim().is_empty(), "processes of {marker} left: {left}");
}

#[test]
fn a_process_job_runs_in_the_sandbox_and_settles_with_the_books_balanced() {
    let Some(net) = sandbox_net() else { return };
    let carol_before = usd_units(&net.devnet, "carol");
    let id = shell_job(
        net,
        "plain",
        "carol",
        "read line; echo \"got: $line\"; echo \"$GREETING from $(id -u)\"; \
         i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo counted $i",
        "env = { GREETING = \"hello\" }\n[requirements]\nmemory_mib = 64\nmax_duration = \"60s\"\n",
    );
    let (task, log) = settled_result(net, id, "carol");
    assert_eq!(task["exit"]["exit"], "success", "{task} {log}");
    assert_eq!(
        task["output_text"],
        "got: the input\nhello from 65534\ncounted 20000\n"
    );
    assert!(log.contains("[sandbox] cpu"), "{log}");
    // Billed by the CPU time the cgroups measured, at one core's rate, within the budget.
    let cu = task["cu_used"].as_f64().expect("cu");
    assert!(cu > 0.0 && cu < 2.0, "{cu}");
    let job = job(&net.devnet, id);
    assert_eq!(job["tasks"][0]["sampling_ppm"], 0, "never sampled");
    let paid = charged(&job["tasks"][0], VerificationLevel::None);
    // Carol paid the settled cost and one transaction fee; the rest of the escrow came back.
    assert_eq!(carol_before - usd_units(&net.devnet, "carol"), paid + 1_000);
    // The example manifest runs as written, through `job run`.
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/jobs/process-busybox.toml");
    let json = ok(net.devnet.cli(&[
        "job",
        "run",
        example.to_str().expect("utf8"),
        "--from",
        "alice",
    ]));
    assert_eq!(
        json["tasks"][0]["output_text"], "4\nuid 65534 in /tmp, root: dev input proc task tmp \n",
        "{json}"
    );
    node_fine_and_nothing_left(net, "counted $i");
}

#[test]
fn a_fork_bomb_in_a_process_job_hits_the_process_limit_and_dies_at_its_deadline() {
    let Some(net) = sandbox_net() else { return };
    let marker = format!("forkbomb-{}", std::process::id());
    let dave_before = usd_units(&net.devnet, "dave");
    // The bomb's processes end up blocked on each other's pipes at the process limit, so it is
    // the wall clock that ends it: the task fails, refunded, and the node kills the whole tree.
    let id = shell_job(
        net,
        "forkbomb",
        "dave",
        &format!(": {marker}; b() {{ b | b & }}; b; sleep 1000"),
        "[requirements]\nmemory_mib = 256\nmax_duration = \"6s\"\n",
    );
    let failed = wait_for(&net.devnet, &[id], &["failed"], Duration::from_secs(120));
    let reason = failed[0]["tasks"][0]["state"]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("maximum duration") || reason.contains("wall-clock"),
        "{reason}"
    );
    // The owner reads the log of the failed task from the node it failed on.
    let log = eventually(Duration::from_secs(30), "the node's log of the run", || {
        let run = net
            .devnet
            .cli(&["job", "logs", &id.to_string(), "--from", "dave"]);
        let log = run.json["log"].as_str().unwrap_or_default().to_string();
        log.contains("[sandbox]").then_some(log)
    });
    assert!(log.contains("pids limit hit: true"), "{log}");
    // Refunded in full: dave (no other test's payer) paid one transaction fee.
    assert_eq!(dave_before - usd_units(&net.devnet, "dave"), 1_000);
    node_fine_and_nothing_left(net, &marker);
}

#[test]
fn a_memory_bomb_in_a_process_job_is_killed_at_its_memory_limit() {
    let Some(net) = sandbox_net() else { return };
    let marker = format!("memorybomb-{}", std::process::id());
    let id = shell_job(
        net,
        "memorybomb",
        "bob",
        &format!(": {marker}; x=0123456789abcdef; while true; do x=$x$x; done"),
        "[requirements]\nmemory_mib = 48\nmax_duration = \"60s\"\n",
    );
    let (task, log) = settled_result(net, id, "bob");
    assert_eq!(task["exit"]["exit"], "memory_limit", "{task} {log}");
    node_fine_and_nothing_left(net, &marker);
}

#[test]
fn a_process_job_filling_the_disk_stops_at_its_tmp_size() {
    let Some(net) = sandbox_net() else { return };
    let marker = format!("diskfill-{}", std::process::id());
    // 128 MiB of memory: a 32 MiB /tmp, and nothing else writable.
    let id = shell_job(
        net,
        "diskfill",
        "bob",
        &format!(
            ": {marker}; dd if=/dev/zero of=/tmp/fill bs=1M count=1000 2>&1; \
             du -m /tmp/fill; touch /task/x /input/x /x 2>&1; true"
        ),
        "[requirements]\nmemory_mib = 128\nmax_duration = \"60s\"\n",
    );
    let (task, log) = settled_result(net, id, "bob");
    let output = task["output_text"].as_str().unwrap_or_default();
    assert!(output.contains("No space left on device"), "{output} {log}");
    let megabytes: u64 = output
        .lines()
        .find(|line| line.ends_with("/tmp/fill"))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|size| size.parse().ok())
        .expect("du's line");
    assert!(megabytes <= 32, "{megabytes} MiB");
    assert_eq!(
        output.matches("Read-only file system").count(),
        3,
        "{output}"
    );
    node_fine_and_nothing_left(net, &marker);
}

#[test]
fn a_process_job_cannot_read_host_files_or_escape_through_proc() {
    let Some(net) = sandbox_net() else { return };
    let marker = format!("escape-{}", std::process::id());
    let id = shell_job(
        net,
        "escape",
        "bob",
        &format!(
            ": {marker}; cat /etc/passwd /etc/shadow /root/.bashrc /proc/1/root/etc/passwd 2>&1; \
             ls / ; echo processes $(ls /proc | grep -c '^[0-9]'); \
             ls /proc/1/root/; cat /proc/1/environ | tr '\\0' '\\n' | grep -c HOME; true"
        ),
        "[requirements]\nmemory_mib = 64\nmax_duration = \"60s\"\n",
    );
    let (task, log) = settled_result(net, id, "bob");
    let output = task["output_text"].as_str().unwrap_or_default();
    assert!(!output.contains("root:"), "a host file leaked: {output}");
    assert_eq!(
        output.matches("No such file or directory").count(),
        4,
        "{output} {log}"
    );
    // The root holds only what the task was given, its own /proc included.
    let lines: Vec<&str> = output.lines().collect();
    let root = |from: usize| -> Vec<&str> { lines[from..from + 5].to_vec() };
    let first = lines.iter().position(|line| *line == "dev").expect("ls /");
    assert_eq!(root(first), ["dev", "input", "proc", "task", "tmp"]);
    let processes: u32 = lines[first + 5]
        .strip_prefix("processes ")
        .and_then(|count| count.parse().ok())
        .expect("a count");
    assert!(processes <= 6, "{output}");
    assert_eq!(root(first + 6), ["dev", "input", "proc", "task", "tmp"]);
    node_fine_and_nothing_left(net, &marker);
}

#[test]
fn a_process_job_reaches_no_network() {
    let Some(net) = sandbox_net() else { return };
    let marker = format!("network-{}", std::process::id());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("address").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let api_port = net
        .devnet
        .api
        .rsplit(':')
        .next()
        .expect("port")
        .trim_end_matches('/');
    let id = shell_job(
        net,
        "network",
        "bob",
        &format!(
            ": {marker}; echo hi | nc -w 2 127.0.0.1 {port} 2>&1; echo \"nc=$?\"; \
             echo hi | nc -w 2 127.0.0.1 {api_port} 2>&1; echo \"api=$?\"; \
             grep -c : /proc/net/dev"
        ),
        "[requirements]\nmemory_mib = 64\nmax_duration = \"60s\"\n",
    );
    let (task, log) = settled_result(net, id, "bob");
    let output = task["output_text"].as_str().unwrap_or_default();
    assert!(
        listener.accept().is_err(),
        "the task reached the host: {output}"
    );
    assert!(
        !output.contains("nc=0") && !output.contains("api=0"),
        "{output} {log}"
    );
    // Only its own loopback.
    assert_eq!(output.lines().last(), Some("1"), "{output}");
    // A job asking for egress finds no node that allows it here.
    let wants = shell_job(
        net,
        "egress",
        "bob",
        "true",
        "[requirements]\nmemory_mib = 64\nnetwork = true\n",
    );
    let why = eventually(Duration::from_secs(30), "an unplaceable reason", || {
        let record = job(&net.devnet, wants);
        record["tasks"][0]["unplaceable"]
            .as_str()
            .filter(|text| text.contains("no network egress"))
            .map(str::to_string)
    });
    assert!(why.contains("1 no network egress"), "{why}");
    {
        let _turn = net
            .sending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ok(net
            .devnet
            .cli(&["job", "cancel", "--id", &wants.to_string(), "--from", "bob"]));
    }
    node_fine_and_nothing_left(net, &marker);
}

/// A busybox image (busybox at /bin/busybox, its entrypoint) built by `vcity image build`.
fn busybox_image(net: &SandboxNet, name: &str) -> (PathBuf, String) {
    let out = net.dir.path().join(format!("{name}.tar"));
    let built = ok(vcity(
        &net.devnet.home,
        None,
        &[
            "image",
            "build",
            "/bin/busybox",
            "--out",
            out.to_str().expect("utf8"),
            "--env",
            "GREETING=from the image",
        ],
    ));
    let digest = built["digest"].as_str().expect("digest").to_string();
    (out, digest)
}

/// Submits an image job whose `image_settings` say where the image is; its id.
fn image_job(net: &SandboxNet, name: &str, image_settings: &str, script: &str) -> u64 {
    let quoted = serde_json::to_string(script).expect("a TOML basic string is a JSON string");
    let path = manifest(
        net.dir.path(),
        name,
        &format!(
            "executor = \"oci\"\n{image_settings}cmd = [\"sh\", \"-c\", {quoted}]\n\
             input = \"image input\"\nmax_cu = 2\nmax_price_per_cu = 0.1\n\
             [requirements]\nmemory_mib = 64\nmax_duration = \"60s\"\n"
        ),
    );
    submit_file(net, &path, "bob")
}

#[test]
fn an_image_job_uploaded_with_the_job_runs_in_its_own_root_and_settles() {
    let Some(net) = sandbox_net() else { return };
    let (archive, digest) = busybox_image(net, "uploaded");
    let id = image_job(
        net,
        "uploaded-job",
        &format!("image_file = \"{}\"\n", archive.display()),
        "cat /input/input; echo; echo \"$GREETING\"; ls /; pwd; touch /bin/x 2>&1; true",
    );
    let (task, log) = settled_result(net, id, "bob");
    assert_eq!(task["exit"]["exit"], "success", "{task} {log}");
    let output = task["output_text"].as_str().unwrap_or_default();
    assert!(
        output
            .starts_with("image input\nfrom the image\nbin\ndev\ninput\noutput\nproc\ntmp\n/tmp\n"),
        "{output}"
    );
    assert!(output.contains("Read-only file system"), "{output}");
    let record = job(&net.devnet, id);
    assert_eq!(record["workload"]["executor"]["image"], digest.as_str());
    assert_eq!(record["tasks"][0]["sampling_ppm"], 0);
    node_fine_and_nothing_left(net, "image input");
}

#[test]
fn an_image_job_pulls_from_a_registry_by_digest_and_a_tampered_image_is_refused() {
    let Some(net) = sandbox_net() else { return };
    let served = net.dir.path().join("registry");
    ok(vcity(
        &net.devnet.home,
        None,
        &[
            "image",
            "build",
            "/bin/busybox",
            "--out-dir",
            served.to_str().expect("utf8"),
        ],
    ));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let server = vcity_oci::serve::spawn(listener, &served).expect("serve");
    let layout = vcity_oci::layout::Layout::open(&served).expect("layout");
    let digest = layout.only_image().expect("one image").to_string();
    let pulled = image_job(
        net,
        "pulled",
        &format!(
            "reference = \"{}/vcity/busybox:latest\"\nimage = \"{digest}\"\n",
            server.address
        ),
        "echo pulled by digest",
    );
    let (task, log) = settled_result(net, pulled, "bob");
    assert_eq!(task["exit"]["exit"], "success", "{task} {log}");
    assert_eq!(task["output_text"], "pulled by digest\n");

    // The same registry, but a layer changed on disk: the node refuses the image, the task ends
    // `invalid` with the reason, and the buyer pays nothing for it.
    let tampered_dir = net.dir.path().join("tampered");
    ok(vcity(
        &net.devnet.home,
        None,
        &[
            "image",
            "build",
            "/bin/busybox",
            "--env",
            "TAMPERED=1",
            "--out-dir",
            tampered_dir.to_str().expect("utf8"),
        ],
    ));
    let tampered = vcity_oci::layout::Layout::open(&tampered_dir).expect("layout");
    let tampered_digest = tampered.only_image().expect("one image");
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(
            tampered_dir
                .join("blobs/sha256")
                .join(tampered_digest.hex()),
        )
        .expect("manifest"),
    )
    .expect("json");
    let layer = manifest["layers"][0]["digest"].as_str().expect("layer");
    let layer_file = tampered_dir
        .join("blobs/sha256")
        .join(layer.trim_start_matches("sha256:"));
    let mut bytes = std::fs::read(&layer_file).expect("layer");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&layer_file, bytes).expect("tamper");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let bad_server = vcity_oci::serve::spawn(listener, &tampered_dir).expect("serve");
    let refused = image_job(
        net,
        "tampered",
        &format!(
            "reference = \"{}/vcity/busybox\"\nimage = \"{tampered_digest}\"\n",
            bad_server.address
        ),
        "echo should never run",
    );
    let (task, log) = settled_result(net, refused, "bob");
    assert_eq!(task["exit"]["exit"], "invalid", "{task} {log}");
    assert!(
        task["exit"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("does not match its digest"),
        "{task}"
    );
    assert_eq!(task["cost_usd"], "0");
    node_fine_and_nothing_left(net, "should never run");
}

#[test]
fn the_render_and_training_examples_run_as_images_built_from_this_repository() {
    let Some(net) = sandbox_net() else { return };
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/jobs");
    for (example, input) in [("render", "320 200 200"), ("train", "20 2000 8 7")] {
        // The example manifest, next to its image, as the comment at its top says to do.
        let dir = net.dir.path().join(format!("example-{example}"));
        std::fs::create_dir_all(&dir).expect("dir");
        let manifest_path = dir.join(format!("{example}-image.toml"));
        std::fs::copy(
            examples.join(format!("{example}-image.toml")),
            &manifest_path,
        )
        .expect("manifest");
        let archive = dir.join(format!("{example}.tar"));
        ok(vcity(
            &net.devnet.home,
            None,
            &[
                "image",
                "build",
                "--example",
                example,
                "--out",
                archive.to_str().expect("utf8"),
            ],
        ));
        let out = dir.join("out");
        let json = {
            let _turn = net
                .sending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            ok(net.devnet.cli(&[
                "job",
                "run",
                manifest_path.to_str().expect("utf8"),
                "--from",
                "bob",
                "--output",
                out.to_str().expect("utf8"),
            ]))
        };
        let reference = (vcity_workloads::by_name(example)
            .expect("workload")
            .reference)(input.as_bytes())
        .expect("reference");
        for (task, result) in json["tasks"].as_array().expect("tasks").iter().enumerate() {
            assert_eq!(result["exit"]["exit"], "success", "{example}: {json}");
            let output = std::fs::read(out.join(format!("task-{task}.out"))).expect("output");
            assert_eq!(output, reference, "{example} task {task}");
        }
        if example == "render" {
            assert!(reference.starts_with(b"\x89PNG\r\n\x1a\n"));
        }
    }
    node_fine_and_nothing_left(net, "example-");
}

/// Serves `files` (path → body) over HTTP on 127.0.0.1 until the test process ends; 404 for
/// anything else. Its base URL.
fn serve_files(files: Vec<(&'static str, Vec<u8>)>) -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let read = stream.read(&mut request).unwrap_or(0);
            let line = String::from_utf8_lossy(&request[..read]).into_owned();
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let (status, body) = match files.iter().find(|(name, _)| *name == path) {
                Some((_, body)) => ("200 OK", body.clone()),
                None => ("404 Not Found", Vec::new()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    base
}

#[test]
fn a_sharded_map_feeds_a_reduce_and_the_books_balance() {
    let Some(net) = sandbox_net() else { return };
    // A payer of its own, so that no other test's spending shows in its balance.
    {
        let _turn = net
            .sending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ok(net.devnet.cli(&["keys", "new", "mapper"]));
        ok(net.devnet.cli(&[
            "tx", "transfer", "--from", "alice", "--to", "mapper", "--amount", "50", "--denom",
            "usd",
        ]));
    }
    let before = usd_units(&net.devnet, "mapper");
    // Three shards uploaded from a directory's files, one downloaded by the node from a URL.
    let dir = net.dir.path().join("wordcount");
    std::fs::create_dir_all(dir.join("texts")).expect("dir");
    for (name, text) in [
        ("a.txt", "a b c\n"),
        ("b.txt", "d e\n"),
        ("c.txt", "f g\nh i\n"),
    ] {
        std::fs::write(dir.join("texts").join(name), text).expect("shard");
    }
    let remote = b"j k l m n\n".to_vec();
    let server = serve_files(vec![("/d.txt", remote.clone())]);
    let address = vcity_types::compute::content_address(&remote);
    let program = "executor = \"process\"\nprogram = \"/bin/busybox\"\n\
                   max_cu = 2\nmax_price_per_cu = 0.1\n\
                   [requirements]\nmemory_mib = 64\nmax_duration = \"60s\"\n";
    let map = manifest(
        &dir,
        "map",
        &format!(
            "args = [\"awk\", \"{{n += NF}} END {{print n}}\"]\n\
             shards = [\"texts/a.txt\", \"texts/b.txt\", \"texts/c.txt\", \
             {{ url = \"{server}/d.txt\", address = \"{address}\", bytes = {} }}]\n{program}",
            remote.len()
        ),
    );
    let map_id = submit_file(net, &map, "mapper");
    let jobs = wait_for(
        &net.devnet,
        &[map_id],
        &["settled"],
        Duration::from_secs(120),
    );
    let counts = ok(net
        .devnet
        .cli(&["job", "result", &map_id.to_string(), "--from", "mapper"]));
    let texts: Vec<&str> = counts["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|task| task["output_text"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(texts, ["3\n", "2\n", "4\n", "5\n"], "{counts}");
    // The job records each shard's address; the remote one keeps its URL.
    assert_eq!(
        jobs[0]["workload"]["shards"]
            .as_array()
            .expect("shards")
            .len(),
        4
    );
    assert_eq!(
        jobs[0]["workload"]["shards"][3]["url"],
        format!("{server}/d.txt")
    );

    // The reduce reads the four outputs, concatenated in task order.
    let reduce = manifest(
        &dir,
        "reduce",
        &format!("args = [\"awk\", \"{{s += $1}} END {{print s}}\"]\n{program}"),
    );
    let total = {
        let _turn = net
            .sending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ok(net.devnet.cli(&[
            "job",
            "run",
            reduce.to_str().expect("utf8"),
            "--from",
            "mapper",
            "--input-from",
            &map_id.to_string(),
        ]))
    };
    assert_eq!(total["tasks"][0]["output_text"], "14\n", "{total}");
    let reduce_id = total["job_id"].as_u64().expect("job id");
    wait_for(
        &net.devnet,
        &[reduce_id],
        &["settled"],
        Duration::from_secs(120),
    );

    // A shard the node cannot find (its URL answers 404) ends its task invalid, billed nothing.
    let missing = manifest(
        &dir,
        "missing",
        &format!(
            "args = [\"cat\"]\nshards = [{{ url = \"{server}/gone.txt\", address = \"{}\", bytes = 5 }}]\n{program}",
            vcity_types::compute::content_address(b"gone\n")
        ),
    );
    let missing_id = submit_file(net, &missing, "mapper");
    let (task, log) = settled_result(net, missing_id, "mapper");
    assert_eq!(task["exit"]["exit"], "invalid", "{task} {log}");
    assert!(log.contains("404"), "{log}");
    let missing_job = job(&net.devnet, missing_id);
    assert_eq!(missing_job["tasks"][0]["state"]["cost_usd"], "0");

    // The books: the mapper paid each settled task's cost and three transaction fees.
    let map_job = job(&net.devnet, map_id);
    let reduce_job = job(&net.devnet, reduce_id);
    let paid: u128 = map_job["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .chain(reduce_job["tasks"].as_array().expect("tasks"))
        .map(|task| charged(task, VerificationLevel::None))
        .sum();
    assert_eq!(before - usd_units(&net.devnet, "mapper"), paid + 3 * 1_000);

    // The example manifests run as written: 9 + 5 + 10 words.
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/jobs");
    let _turn = net
        .sending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let map = ok(net.devnet.cli(&[
        "job",
        "run",
        examples.join("wordcount-map.toml").to_str().expect("utf8"),
        "--from",
        "alice",
    ]));
    let counts: Vec<&str> = map["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|task| task["output_text"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(counts, ["9\n", "5\n", "10\n"], "{map}");
    let reduce = ok(net.devnet.cli(&[
        "job",
        "run",
        examples
            .join("wordcount-reduce.toml")
            .to_str()
            .expect("utf8"),
        "--from",
        "alice",
        "--input-from",
        &map["job_id"].as_u64().expect("job id").to_string(),
    ]));
    assert_eq!(reduce["tasks"][0]["output_text"], "24\n", "{reduce}");
    node_fine_and_nothing_left(net, "wordcount");
}

/// Funds a new keyring account `name` with 50 USD from alice (one transaction at a time).
fn funded_payer(net: &SandboxNet, name: &str) -> u128 {
    let _turn = net
        .sending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    ok(net.devnet.cli(&["keys", "new", name]));
    ok(net.devnet.cli(&[
        "tx", "transfer", "--from", "alice", "--to", name, "--amount", "50", "--denom", "usd",
    ]));
    usd_units(&net.devnet, name)
}

/// Submits the manifest `body` (written as `{name}.toml`) from `payer`; its job id.
fn submit_as(net: &SandboxNet, name: &str, payer: &str, body: &str) -> u64 {
    submit_file(net, &manifest(net.dir.path(), name, body), payer)
}

/// Submits the manifest at `path` from `payer` (one transaction at a time: the tests share
/// accounts, so nonces); its job id.
fn submit_file(net: &SandboxNet, path: &Path, payer: &str) -> u64 {
    let _turn = net
        .sending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let json = ok(net.devnet.cli(&[
        "job",
        "submit",
        path.to_str().expect("utf8"),
        "--from",
        payer,
    ]));
    json["transaction"]["receipt"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .find_map(|event| event["job_id"].as_u64())
        .unwrap_or_else(|| panic!("no job id in {json}"))
}

/// `GET url` with an optional bearer token: the status and the body.
fn http_get(url: &str, token: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut request = agent.get(url);
    if let Some(token) = token {
        request = request.header("authorization", &format!("Bearer {token}"));
    }
    match request.call() {
        Ok(mut response) => (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap_or_default(),
        ),
        Err(error) => (0, error.to_string()),
    }
}

#[test]
fn a_service_answers_through_the_gateway_and_a_cancel_bills_the_time_it_ran() {
    let Some(net) = sandbox_net() else { return };
    let before = funded_payer(net, "server");
    let marker = format!("svc-{}", std::process::id());
    let script = format!(
        "mkdir -p /tmp/{marker} && echo hello from the service > /tmp/{marker}/index.html && \
         exec httpd -f -p 127.0.0.1:8080 -h /tmp/{marker}"
    );
    let id = submit_as(
        net,
        "service",
        "server",
        &format!(
            "executor = \"process\"\nprogram = \"/bin/busybox\"\nargs = [\"sh\", \"-c\", {}]\n\
             max_cu = 2\nmax_price_per_cu = 0.1\n\
             [service]\nport = 8080\nhealth_path = \"/index.html\"\n\
             [requirements]\nmemory_mib = 64\nmax_duration = \"10m\"\n",
            serde_json::to_string(&script).expect("a string")
        ),
    );
    wait_for(&net.devnet, &[id], &["running"], Duration::from_secs(60));
    let token = ok(net
        .devnet
        .cli(&["job", "token", &id.to_string(), "--from", "server"]));
    let url = token["url"].as_str().expect("a url").to_string();
    let secret = token["token"].as_str().expect("a token").to_string();
    assert!(url.ends_with(&format!("/jobs/{id}/")), "{url}");
    // Through the gateway with the owner's token, once the service listens.
    let (status, body) = eventually(Duration::from_secs(30), "the service answers", || {
        let (status, body) = http_get(&url, Some(&secret));
        (status == 200).then_some((status, body))
    });
    assert_eq!((status, body.as_str()), (200, "hello from the service\n"));
    // Without the token, with a token for another job, or someone else's: refused.
    assert_eq!(http_get(&url, None).0, 401);
    let other = secret.replacen(&format!("{id}."), &format!("{}.", id + 1000), 1);
    assert_eq!(http_get(&url, Some(&other)).0, 401);
    // One hex digit of the signature changed (to another digit: a forgery, never the token).
    let last = if secret.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &secret[..secret.len() - 1]);
    assert_eq!(http_get(&url, Some(&forged)).0, 401);
    // Nothing else of the node: the gateway only knows /jobs/{id}/ of services running here.
    let base = url.trim_end_matches(&format!("/jobs/{id}/"));
    assert_eq!(
        http_get(&format!("{base}/jobs/999999/"), Some(&secret)).0,
        503
    );
    // The node's metrics count what the gateway carried.
    let (_, metrics) = http_get(&format!("{base}/metrics"), None);
    let carried = metrics
        .lines()
        .find_map(|line| line.strip_prefix("vcity_compute_gateway_requests_total "))
        .and_then(|value| value.trim().parse::<u64>().ok());
    assert!(carried.is_some_and(|count| count >= 1), "{metrics}");
    // ... beside the ledger's view of the node (deploy/grafana charts both).
    for name in [
        "vcity_node_stake_vcai ",
        "vcity_node_required_stake_vcai ",
        "vcity_node_paused 0",
    ] {
        assert!(
            metrics.lines().any(|line| line.starts_with(name)),
            "{name}: {metrics}"
        );
    }
    // The node keeps asking its health path; the service stays up.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(state(&job(&net.devnet, id), 0), "running");

    // The owner cancels: billed for the time it ran, the rest refunded at once.
    {
        let _turn = net
            .sending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ok(net
            .devnet
            .cli(&["job", "cancel", "--id", &id.to_string(), "--from", "server"]));
    }
    let settled = wait_for(&net.devnet, &[id], &["settled"], Duration::from_secs(30));
    let task = &settled[0]["tasks"][0];
    let cost = charged(task, VerificationLevel::None);
    // One CPU core is 0.01 CU a second; the node asks 0.05 USD a CU: a few seconds cost a few
    // thousandths of a USD, and far less than the 0.2 USD escrowed.
    assert!(cost > 0 && cost < 20_000, "{task}");
    assert_eq!(before - usd_units(&net.devnet, "server"), cost + 2 * 1_000);
    // The node stops it: the gateway no longer reaches it, and no process is left.
    eventually(Duration::from_secs(15), "the service stops", || {
        let left = std::process::Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .map(|out| out.stdout.is_empty())
            .unwrap_or(false);
        (left && http_get(&url, Some(&secret)).0 == 503).then_some(())
    });
    node_fine_and_nothing_left(net, &marker);
}

#[test]
fn a_service_that_keeps_crashing_is_restarted_then_ends_with_its_exit() {
    let Some(net) = sandbox_net() else { return };
    let before = funded_payer(net, "crasher");
    let id = submit_as(
        net,
        "crashing",
        "crasher",
        "executor = \"process\"\nprogram = \"/bin/busybox\"\n\
         args = [\"sh\", \"-c\", \"echo starting >&2; exit 3\"]\n\
         max_cu = 2\nmax_price_per_cu = 0.1\n\
         [service]\nport = 8080\n\
         [requirements]\nmemory_mib = 64\nmax_duration = \"10m\"\n",
    );
    let (task, log) = settled_result(net, id, "crasher");
    assert_eq!(task["exit"]["exit"], "exit_code", "{task} {log}");
    assert_eq!(task["exit"]["code"], 3, "{task}");
    // The first run and three restarts.
    assert_eq!(log.matches("starting the service").count(), 4, "{log}");
    assert!(log.contains("the service has crashed"), "{log}");
    let settled = job(&net.devnet, id);
    let paid = charged(&settled["tasks"][0], VerificationLevel::None);
    assert_eq!(before - usd_units(&net.devnet, "crasher"), paid + 1_000);
}

#[test]
fn a_job_whose_result_is_its_output_directory_comes_back_unpacked() {
    let Some(net) = sandbox_net() else { return };
    let marker = format!("frames-{}", std::process::id());
    let id = shell_job(
        net,
        "frames",
        "bob",
        &format!(
            "echo {marker} writes its frames; mkdir -p /output/frames; \
             for i in 1 2 3; do echo frame $i > /output/frames/$i.txt; done; \
             echo done > /output/summary.txt; ln -s /etc/passwd /output/link"
        ),
        "output = \"directory\"\n[requirements]\nmemory_mib = 64\nmax_duration = \"60s\"\n",
    );
    wait_for(&net.devnet, &[id], &["settled"], Duration::from_secs(120));
    let out = net.dir.path().join("frames-out");
    let result = ok(net.devnet.cli(&[
        "job",
        "result",
        &id.to_string(),
        "--from",
        "bob",
        "--output",
        out.to_str().expect("utf8"),
    ]));
    assert_eq!(result["tasks"][0]["exit"]["exit"], "success", "{result}");
    let unpacked = out.join("task-0");
    for i in 1..=3 {
        assert_eq!(
            std::fs::read_to_string(unpacked.join(format!("frames/{i}.txt"))).expect("frame"),
            format!("frame {i}\n")
        );
    }
    assert_eq!(
        std::fs::read_to_string(unpacked.join("summary.txt")).expect("summary"),
        "done\n"
    );
    // The link was left out of the archive; standard output went to the log.
    assert!(!unpacked.join("link").exists());
    assert!(out.join("task-0.tar").is_file());
    let log = ok(net
        .devnet
        .cli(&["job", "logs", &id.to_string(), "--from", "bob"]))["log"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        log.contains(&format!("{marker} writes its frames")),
        "{log}"
    );
    assert!(log.contains("left out link"), "{log}");
    node_fine_and_nothing_left(net, &marker);
}

#[test]
fn the_self_test_checks_every_executor_kind_and_the_chain_node() {
    let Some(net) = sandbox_net() else { return };
    let work = net.dir.path().join("self-test");
    let run = net.devnet.cli(&[
        "node",
        "compute",
        "--key",
        "bob",
        "--work-dir",
        work.to_str().expect("utf8"),
        "--self-test",
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let names: Vec<&str> = run.json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|check| {
            assert_eq!(check["ok"], true, "{check}");
            check["name"].as_str().expect("name")
        })
        .collect();
    assert_eq!(
        names,
        [
            "wasm executor",
            "sandbox",
            "process executor",
            "image executor",
            "capacity kernel (CPU)",
            "gpus",
            "disk",
            "chain node"
        ]
    );
}

/// The first matched question of a template's shipped questions and its expected source, and
/// the first it must admit it cannot answer.
fn template_questions(key: &str) -> ((String, String), String) {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../templates/{key}/questions.toml")),
    )
    .expect("questions");
    let questions: toml::Value = toml::from_str(&text).expect("toml");
    let all = questions["question"].as_array().expect("questions");
    let matched = all
        .iter()
        .find(|question| question.get("source").is_some())
        .expect("a matched question");
    let unmatched = all
        .iter()
        .find(|question| question.get("matched").and_then(|m| m.as_bool()) == Some(false))
        .expect("an unmatched question");
    (
        (
            matched["ask"].as_str().expect("ask").to_string(),
            matched["source"].as_str().expect("source").to_string(),
        ),
        unmatched["ask"].as_str().expect("ask").to_string(),
    )
}

#[test]
fn templates_deploy_answer_from_their_sources_and_split_the_call_fee_on_the_ledger() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let devnet = Devnet::start_with_daemons(&home, 1);
    for key in ["tour-guide", "tutor", "customer-service"] {
        // Bob deploys the template over its shipped knowledge, selling calls at 0.5 USD with a
        // 10% royalty, then gives the agent to alice: calls pay alice, the royalty bob.
        let knowledge =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../templates/{key}/knowledge"));
        let deployed = ok(devnet.cli(&[
            "template",
            "deploy",
            key,
            "--knowledge",
            knowledge.to_str().expect("utf8"),
            "--per-call",
            "0.5",
            "--royalty-bps",
            "1000",
            "--from",
            "bob",
        ]));
        let agent = deployed["agent_id"].as_u64().expect("agent id").to_string();
        ok(devnet.cli(&[
            "agent", "transfer", &agent, "--to", "alice", "--from", "bob",
        ]));
        let found = ok(devnet.cli(&["agent", "search", "--tag", key]));
        assert!(
            found
                .as_array()
                .expect("list")
                .iter()
                .any(|view| view["id"].as_u64() == deployed["agent_id"].as_u64()),
            "{found}"
        );
        let alice = base_units(&usd(&home, &devnet.api, "alice"));
        let bob = base_units(&usd(&home, &devnet.api, "bob"));

        let ((question, source), unknown) = template_questions(key);
        let answer = ok(devnet.cli(&["template", "ask", &agent, &question, "--from", "carol"]));
        assert_eq!(answer["matched"], true, "{answer}");
        assert_eq!(answer["sources"][0]["source"], source.as_str(), "{answer}");
        assert_eq!(answer["call_fee_usd"], "0.5");
        let job = answer["job_id"].as_u64().expect("job").to_string();
        let unknown = ok(devnet.cli(&["template", "ask", &agent, &unknown, "--from", "carol"]));
        assert_eq!(unknown["matched"], false, "{unknown}");
        assert_eq!(unknown["sources"].as_array().map(Vec::len), Some(0));

        // Once the first call settles: 0.5 USD = 0.05 to the treasury (10%), 0.045 royalty to
        // bob (10% of the rest), 0.405 to alice, to the base unit.
        let settled = eventually(Duration::from_secs(90), "the call settles", || {
            let call = ok(devnet.cli(&["agent", "call", &job]));
            (call["state"] == "settled").then_some(call)
        });
        assert_eq!(settled["fee_usd"], "500000");
        let second = unknown["job_id"].as_u64().expect("job").to_string();
        eventually(Duration::from_secs(90), "the second call settles", || {
            let call = ok(devnet.cli(&["agent", "call", &second]));
            (call["state"] == "settled").then_some(())
        });
        assert_eq!(
            base_units(&usd(&home, &devnet.api, "alice")) - alice,
            2 * 405_000
        );
        assert_eq!(
            base_units(&usd(&home, &devnet.api, "bob")) - bob,
            2 * 45_000
        );
        // Carol paid, so she rates the call, once; bob never called and may not.
        ok(devnet.cli(&["agent", "rate", &job, "--score", "5", "--from", "carol"]));
        refused(
            &devnet.cli(&["agent", "rate", &job, "--score", "4", "--from", "carol"]),
            28,
        );
        refused(
            &devnet.cli(&["agent", "rate", &job, "--score", "4", "--from", "bob"]),
            10,
        );
        let shown = ok(devnet.cli(&["agent", "show", &agent]));
        assert_eq!(
            (shown["calls"].as_u64(), shown["ratings"].as_u64()),
            (Some(2), Some(1))
        );
    }
}

#[test]
fn the_devnet_demo_runs_jobs_then_licenses_and_calls_a_template_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let devnet = Devnet::launch(
        &home,
        &[
            "--demo",
            "--compute-nodes",
            "1",
            "--schedulers",
            "1",
            "--block-time",
            "250ms",
        ],
    );
    // Six tasks at full verification (each re-executed by a verifier) beside two other tests on
    // two cores: a cold CI run once took over 180 s here, so the wait is 300 s.
    let jobs = devnet.wait_for_line(Duration::from_secs(300), |line| line["event"] == "job_demo");
    assert_eq!(jobs["tasks"].as_array().map(Vec::len), Some(6), "{jobs}");
    let agents = devnet.wait_for_line(Duration::from_secs(120), |line| {
        line["event"] == "agent_demo"
    });
    assert_eq!(
        agents["sources"][0]["source"], "collection.md:8",
        "{agents}"
    );
    assert_eq!(
        agents["call_fee_usd"], "0",
        "carol holds a licence: {agents}"
    );
    let agent = agents["agent_id"].to_string();
    let licence = ok(devnet.cli(&["agent", "show", &agent]));
    assert_eq!(licence["metadata"]["name"], "Harbour Museum guide");
}

#[test]
fn an_agent_from_a_manifest_is_versioned_licensed_invoked_and_sold_through_the_cli() {
    use vcity_kernels::retrieve::{call_input, Config, Knowledge};
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let devnet = Devnet::start_with_daemons(&home, 1);
    let package_dir = dir.path().join("agent");
    std::fs::create_dir_all(&package_dir).expect("dir");
    let notes = |text: &str| {
        Knowledge::from_files(Config::default(), &[("notes.md".into(), text.into())]).to_text()
    };
    std::fs::write(
        package_dir.join("notes.txt"),
        notes("The ferry leaves at 9:15."),
    )
    .expect("notes");
    std::fs::write(
        package_dir.join("agent.toml"),
        "name = \"Ferry desk\"\ntags = [\"travel\"]\nroyalty_bps = 250\nfiles = [\"notes.txt\"]\n\n[program]\nworkload = \"retrieve\"\n",
    )
    .expect("manifest");
    let manifest = package_dir.join("agent.toml");
    let manifest = manifest.to_str().expect("utf8");
    let minted = ok(devnet.cli(&["agent", "mint", "--manifest", manifest, "--from", "bob"]));
    let event = minted["transaction"]["receipt"]["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|event| event["type"] == "agent_minted")
        .cloned()
        .expect("agent_minted");
    let agent = event["agent_id"].to_string();
    // The package on chain is the one in the blob store: manifest (with the module's hash) and
    // the notes.
    let package_hash = event["package_hash"].as_str().expect("hash").to_string();
    let blob = stored_blob(&devnet.api, &package_hash);
    let package = vcity_sdk::package::Package::from_bytes(&blob).expect("a package");
    assert_eq!(package.manifest().expect("manifest").name, "Ferry desk");
    assert!(package.files.contains_key("notes.txt"));

    // A second version with new notes; calls take the newest.
    std::fs::write(
        package_dir.join("notes.txt"),
        notes("The ferry leaves at 10:40."),
    )
    .expect("notes");
    ok(devnet.cli(&[
        "agent",
        "version",
        &agent,
        "--manifest",
        manifest,
        "--from",
        "bob",
    ]));
    ok(devnet.cli(&[
        "agent",
        "terms",
        &agent,
        "--timed",
        "1h:2",
        "--per-call",
        "0.1",
        "--from",
        "bob",
    ]));
    let shown = ok(devnet.cli(&["agent", "show", &agent]));
    assert_eq!(
        shown["version_list"].as_array().map(Vec::len),
        Some(2),
        "{shown}"
    );
    assert_eq!(shown["terms"]["offers"][0]["price_usd"], "2000000");

    // Carol buys the hour's licence and calls the agent with a hand-built input: no call fee.
    ok(devnet.cli(&[
        "agent", "license", &agent, "--offer", "0", "--from", "carol",
    ]));
    let input = dir.path().join("input.txt");
    std::fs::write(
        &input,
        call_input(
            &notes("The ferry leaves at 10:40."),
            "When does the ferry leave?",
        )
        .expect("input"),
    )
    .expect("input");
    let called = ok(devnet.cli(&[
        "agent",
        "invoke",
        &agent,
        "--input-file",
        input.to_str().expect("utf8"),
        "--wait",
        "--from",
        "carol",
    ]));
    assert_eq!(called["call"]["fee_usd"], "0", "{called}");
    assert_eq!(called["call"]["version"], 2);
    assert!(
        called["output"].as_str().expect("output").contains("10:40"),
        "{called}"
    );

    // Bob sells the agent to alice at the listed price.
    ok(devnet.cli(&["agent", "list", &agent, "--price", "100", "--from", "bob"]));
    let for_sale = ok(devnet.cli(&["agent", "search", "--for-sale"]));
    assert_eq!(for_sale.as_array().map(Vec::len), Some(1));
    ok(devnet.cli(&["agent", "buy", &agent, "--from", "alice"]));
    let shown = ok(devnet.cli(&["agent", "show", &agent]));
    assert_eq!(
        shown["owner"],
        ok(devnet.cli(&["keys", "show", "alice"]))["account"],
        "{shown}"
    );
    assert_eq!(
        ok(devnet.cli(&["agent", "search", "--for-sale"]))
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}

/// A blob from the node's store by its address.
fn stored_blob(api: &str, address: &str) -> Vec<u8> {
    vcity_sdk::Client::new(api)
        .blob(&vcity_types::Hash::from_hex(address).expect("hash"))
        .expect("blob")
}

#[test]
fn a_template_deployed_with_a_model_server_answers_through_it_from_the_retrieved_passages() {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let server = format!("http://{}", listener.local_addr().expect("address"));
    // An OpenAI-compatible server that answers one chat completion and keeps the request.
    let served = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("a request");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("a header");
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().expect("a length");
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).expect("the body");
        let reply = serde_json::json!({
            "choices": [{"message": {"role": "assistant", "content": "Leaves reflect green light [photosynthesis.md:6]."}}]
        })
        .to_string();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
            reply.len()
        )
        .expect("answers");
        serde_json::from_slice::<Value>(&body).expect("a JSON request")
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let devnet = Devnet::start_with_daemons(&home, 1);
    let deployed = ok(devnet.cli(&[
        "template",
        "deploy",
        "tutor",
        "--model-server",
        &server,
        "--model",
        "tiny-tutor",
        "--from",
        "bob",
    ]));
    let agent = deployed["agent_id"].to_string();
    // Bob holds it, so he asks without a call fee; the network retrieves, his client generates.
    let answer = ok(devnet.cli(&[
        "template",
        "ask",
        &agent,
        "Why do leaves look green?",
        "--from",
        "bob",
    ]));
    assert_eq!(
        answer["answer"], "Leaves reflect green light [photosynthesis.md:6].",
        "{answer}"
    );
    assert_eq!(
        answer["generated_by"],
        format!("tiny-tutor at {server}").as_str()
    );
    assert!(answer["retrieved_answer"]
        .as_str()
        .expect("kept")
        .contains("chlorophyll"));
    assert_eq!(answer["sources"][0]["source"], "photosynthesis.md:6");
    let request = served.join().expect("served");
    assert_eq!(request["model"], "tiny-tutor");
    let prompt = request["messages"][1]["content"].as_str().expect("prompt");
    assert!(prompt.contains("[photosynthesis.md:6]"), "{prompt}");
    assert!(
        prompt.ends_with("Question: Why do leaves look green?"),
        "{prompt}"
    );
}

fn run_example(program: &str, args: &[&str]) -> Value {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = std::process::Command::new(program)
        .args(args)
        .current_dir(&repo)
        .env("PYTHONPATH", repo.join("sdk/python"))
        .output()
        .unwrap_or_else(|error| panic!("{program} starts: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{program} {args:?} failed:\n{stdout}\n{stderr}"
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("{program} printed JSON ({error}): {stdout}\n{stderr}"))
}

/// The Python and JavaScript SDKs against a real devnet (sdk/README.md): the JavaScript example
/// signs and sends USD and reads its events back from the stream; the Python example uploads a
/// module, submits a job, follows it on the event stream and fetches each task's output from the
/// node that ran it, checked against the ledger's commitment.
#[test]
fn the_sdk_examples_send_usd_and_run_a_job_on_a_devnet() {
    let node = tool_available("node", &["--version"], "VCITY_REQUIRE_SDK_TESTS");
    let python = tool_available("python3", &["--version"], "VCITY_REQUIRE_SDK_TESTS");
    if !node && !python {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let devnet = Devnet::start_with_daemons(&home, 1);
    let keys = home.join("keys");
    if node {
        let bob = ok(devnet.cli(&["keys", "show", "bob"]));
        let before = base_units(&usd(&home, &devnet.api, "bob"));
        let sent = run_example(
            "node",
            &[
                "sdk/js/examples/transfer.mjs",
                "--api",
                &devnet.api,
                "--key",
                keys.join("alice.json").to_str().expect("utf8"),
                "--to",
                bob["did"].as_str().expect("a did"),
                "--amount",
                "2.25",
            ],
        );
        assert_eq!(sent["code"], 0, "{sent}");
        assert_eq!(
            base_units(&usd(&home, &devnet.api, "bob")),
            before + 2_250_000
        );
        let events = sent["events"].as_array().expect("events");
        assert!(
            events.iter().any(|event| event["type"] == "transfer"),
            "{sent}"
        );
        let view = ok(devnet.cli(&["query", "tx", sent["tx_hash"].as_str().expect("hash")]));
        assert_eq!(view["receipt"]["code"], 0, "{view}");
    }
    if python {
        let workload = vcity_workloads::HASHCHAIN;
        let module = dir.path().join("hashchain.wasm");
        std::fs::write(&module, workload.module).expect("module");
        let input = "300 sdk";
        let ran = run_example(
            "python3",
            &[
                "sdk/python/examples/submit_job.py",
                "--api",
                &devnet.api,
                "--key",
                keys.join("bob.json").to_str().expect("utf8"),
                "--module",
                module.to_str().expect("utf8"),
                "--input",
                input,
                "--tasks",
                "2",
            ],
        );
        let expected = (workload.reference)(input.as_bytes()).expect("reference");
        let tasks = ran["tasks"].as_array().expect("tasks");
        assert_eq!(tasks.len(), 2, "{ran}");
        for task in tasks {
            assert_eq!(task["state"], "settled", "{ran}");
            assert_eq!(task["exit"], "success", "{ran}");
            assert_eq!(
                task["output"].as_str().map(str::as_bytes),
                Some(expected.as_slice()),
                "{ran}"
            );
        }
    }
}

/// Where the console test saves its screenshots: `VCITY_SCREENSHOTS` (relative paths are from
/// `crates/cli`, where cargo runs the test), or
/// `target/tmp/console-screenshots` (`.ci/run` lists it).
fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("VCITY_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots"));
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// The web console (docs/console.md) in headless Chromium against a real devnet: a wallet
/// created in the page, funded from the CLI, a transfer signed in the page, a job submitted
/// from an uploaded module that settles and whose output is fetched from the compute node and
/// checked against the ledger's commitment in the page; then every page is opened at 1440 and
/// 375 pixels wide, must render without an error, and is saved as a screenshot. Without
/// chromium and chromedriver it says SKIPPED (CI installs both and sets VCITY_REQUIRE_BROWSER).
#[test]
fn the_console_makes_a_wallet_sends_usd_and_runs_a_job_in_chromium() {
    use serde_json::json;
    let Some((driver, chromium)) = browser::tools() else {
        assert!(
            std::env::var_os("VCITY_REQUIRE_BROWSER").is_none(),
            "VCITY_REQUIRE_BROWSER is set but chromium or chromedriver is missing"
        );
        eprintln!("SKIPPED: the console test needs Debian's chromium and chromium-driver");
        return;
    };
    let shots = screenshot_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    // VCITY_CONSOLE_DEMO=1 runs the devnet's demo first, so that every page has something to
    // show (how docs/console/*.png are made; docs/console.md).
    let demo = std::env::var_os("VCITY_CONSOLE_DEMO").is_some();
    let devnet = if demo {
        let devnet = Devnet::launch(
            &home,
            &[
                "--demo",
                "--compute-nodes",
                "3",
                "--schedulers",
                "1",
                "--block-time",
                "250ms",
            ],
        );
        devnet.wait_for_line(Duration::from_secs(300), |line| {
            line["event"] == "agent_demo"
        });
        devnet
    } else {
        Devnet::start_with_daemons(&home, 1)
    };
    let web = browser::Browser::start(&driver, &chromium);
    let url = |page: &str| format!("{}/#/{page}", devnet.api);
    let long = Duration::from_secs(90);
    let rendered = "return !!document.querySelector('main h1') && !document.querySelector('main .hint:only-child') && document.querySelector('main')?.innerText.includes('Loading…') === false";

    web.goto(&url("network"));
    web.wait_for(
        "recent blocks on the network page",
        long,
        "return document.querySelectorAll('[data-page=network] tbody tr').length > 0",
        json!([]),
    );

    // A wallet made in the page; only ciphertext reaches local storage.
    web.goto(&url("wallet"));
    web.wait_for(
        "the create form",
        long,
        "return !!document.querySelector('#create-wallet')",
        json!([]),
    );
    web.type_into("#create-wallet input[name=passphrase]", "harbour lights 42");
    web.type_into("#create-wallet input[name=confirm]", "harbour lights 42");
    web.click("#create-wallet button[type=submit]");
    let account = web
        .wait_for(
            "the new wallet's account",
            long,
            "return document.querySelector('#wallet-account')?.textContent",
            json!([]),
        )
        .as_str()
        .expect("an account")
        .to_string();
    let stored = web.run("return localStorage.getItem('vcity.wallet.v1')", json!([]));
    let stored: Value = serde_json::from_str(stored.as_str().expect("stored")).expect("JSON");
    assert_eq!(stored["account"], account.as_str());
    assert_eq!(stored["kdf"], "pbkdf2-sha256");
    assert!(
        stored.get("seed").is_none() && stored.get("secret_key").is_none(),
        "{stored}"
    );

    // Funded from the CLI; the page sees it on the next block.
    ok(devnet.cli(&[
        "tx", "transfer", "--from", "alice", "--to", &account, "--amount", "50", "--denom", "usd",
    ]));
    web.wait_for(
        "50 USD in the wallet",
        long,
        "return [...document.querySelectorAll('.stat')].some((card) => card.querySelector('.label')?.textContent === 'USD' && card.querySelector('.value')?.textContent === '50')",
        json!([]),
    );

    // A transfer signed in the page.
    let bob = ok(devnet.cli(&["keys", "show", "bob"]))["account"]
        .as_str()
        .expect("bob")
        .to_string();
    let bob_before = base_units(&usd(&home, &devnet.api, "bob"));
    web.type_into("#transfer input[name=to]", &bob);
    web.type_into("#transfer input[name=amount]", "1.25");
    web.click("#transfer button[type=submit]");
    web.wait_for(
        "the transfer's receipt",
        long,
        "return document.querySelector('#transfer .notice.good')?.textContent",
        json!([]),
    );
    assert_eq!(
        base_units(&usd(&home, &devnet.api, "bob")),
        bob_before + 1_250_000
    );
    web.screenshot(1440, &shots.join("wallet-1440.png"));
    web.screenshot(375, &shots.join("wallet-375.png"));

    // A job from an uploaded module, followed to settlement, its output checked in the page.
    let workload = vcity_workloads::HASHCHAIN;
    let module = dir.path().join("hashchain.wasm");
    std::fs::write(&module, workload.module).expect("module");
    let input = "250 console";
    web.goto(&url("jobs"));
    web.wait_for(
        "the job form",
        long,
        "return !!document.querySelector('#submit-job')",
        json!([]),
    );
    web.type_into(
        "#submit-job input[name=module]",
        module.to_str().expect("utf8"),
    );
    web.type_into("#submit-job textarea[name=input]", input);
    web.click("#submit-job button[type=submit]");
    let job = web
        .wait_for(
            "the job page",
            long,
            "return (/^#\\/jobs\\/(\\d+)$/.exec(location.hash) ?? [])[1]",
            json!([]),
        )
        .as_str()
        .expect("a job id")
        .to_string();
    web.wait_for(
        "the job to settle",
        Duration::from_secs(240),
        "return document.body.dataset.jobState === 'settled'",
        json!([]),
    );
    web.click("button[data-task='0']");
    let output = web.wait_for(
        "the verified output",
        long,
        "return document.querySelector('pre.output')?.textContent",
        json!([]),
    );
    let expected = (workload.reference)(input.as_bytes()).expect("reference");
    assert_eq!(
        output.as_str().map(str::as_bytes),
        Some(expected.as_slice()),
        "job {job}"
    );
    web.screenshot(1440, &shots.join("job-1440.png"));
    web.screenshot(375, &shots.join("job-375.png"));

    // Every page renders, at both widths, without an error on the page or in the console.
    let mut pages: Vec<String> = [
        "network",
        "jobs",
        "nodes",
        "economy",
        "governance",
        "agents",
    ]
    .map(String::from)
    .to_vec();
    // A compute node's page is its operator's view (docs/operators.md).
    let nodes: Value = ureq::get(format!("{}/v1/nodes?role=compute", devnet.api))
        .call()
        .expect("nodes")
        .body_mut()
        .read_json()
        .expect("JSON");
    let compute = nodes
        .as_array()
        .and_then(|nodes| nodes.first())
        .and_then(|view| view["node"]["id"].as_str())
        .expect("a compute node")
        .to_string();
    pages.push(format!("nodes/{compute}"));
    if demo {
        let proposals: Value = ureq::get(format!("{}/v1/governance/proposals", devnet.api))
            .call()
            .expect("proposals")
            .body_mut()
            .read_json()
            .expect("JSON");
        let id = proposals[0]["id"].as_str().expect("the demo's proposal");
        pages.push(format!("governance/{id}"));
        pages.push("agents/1".into());
    }
    for page in &pages {
        web.goto(&url(page));
        web.wait_for(&format!("the {page} page"), long, rendered, json!([]));
        std::thread::sleep(Duration::from_millis(1500));
        let failure = web.run(
            "return document.querySelector('main .notice.bad')?.textContent ?? null",
            json!([]),
        );
        assert!(failure.is_null(), "{page}: {failure}");
        if page.starts_with("nodes/") {
            let text = web.run("return document.querySelector('main').innerText", json!([]));
            for expected in ["Operator", "Loyalty", "on proof of capacity", "Referrer"] {
                assert!(
                    text.as_str().is_some_and(|text| text.contains(expected)),
                    "{expected:?} missing from the node page: {text}"
                );
            }
        }
        let name = match page.split_once('/') {
            Some((section, _)) => format!("{section}-detail"),
            None => page.clone(),
        };
        web.screenshot(1440, &shots.join(format!("{name}-1440.png")));
        web.screenshot(375, &shots.join(format!("{name}-375.png")));
    }
    // An API 404 is an answer the pages expect ("no vote yet", "no licence"); anything else
    // the browser reports (a script error, a missing console file) fails the test.
    let errors: Vec<String> = web
        .console_errors()
        .into_iter()
        .filter(|error| !(error.contains("/v1/") && error.contains("status of 404")))
        .collect();
    assert!(
        errors.is_empty(),
        "the browser console reported errors: {errors:#?}"
    );
    eprintln!("console screenshots: {}", shots.display());
}

/// The recorded Intel TDX sample's MRTD (crates/attest/tests/data).
const TDX_SAMPLE_MRTD: &str = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7";

/// Issue 25's end-to-end path (docs/attestation.md): a test devnet whose clock sits inside the
/// recorded Intel TDX sample's collateral window and whose genesis accepts recorded (unbound)
/// samples. A compute node given the sample as its evidence file presents it, the ledger
/// verifies it and records the CPU tier; a node on a machine without a TEE says so and gets no
/// tier. A job that requires a TEE runs on the attested node only, at half the sampling rate;
/// one that requires a confidential GPU finds no node and says why.
#[test]
fn a_node_with_recorded_tdx_evidence_reaches_the_cpu_tier_and_alone_runs_tee_jobs() {
    let home = tempfile::tempdir().expect("tempdir");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../attest/tests/data/intel");
    let params = home.path().join("attestation.json");
    std::fs::write(
        &params,
        serde_json::json!({
            "policy": {"intel_tcb_statuses": ["UpToDate"], "tdx_mrtd": [TDX_SAMPLE_MRTD]},
            "accept_unbound_samples": true,
        })
        .to_string(),
    )
    .expect("attestation parameters written");
    // 2025-07-01T00:00:00Z: the sample's collateral is valid from 2025-06-19 to 2025-07-19.
    let devnet = Devnet::launch(
        home.path(),
        &[
            "--compute-nodes",
            "0",
            "--schedulers",
            "1",
            "--verifiers",
            "0",
            "--block-time",
            "250ms",
            "--clock-start-ms",
            "1751328000000",
            "--attestation",
            params.to_str().expect("utf8"),
        ],
    );
    let rules = ok(devnet.cli(&["nodes", "attestation"]));
    assert_eq!(rules["params"]["accept_unbound_samples"], true);

    // The evidence file the TEE node presents, built from the vendor's recorded files.
    let evidence = home.path().join("tdx.evidence");
    let built = ok(devnet.cli(&[
        "nodes",
        "attest",
        "--from",
        "alice",
        "--no-send",
        "--intel-quote",
        data.join("tdx_quote").to_str().expect("utf8"),
        "--intel-collateral",
        data.join("tdx_quote_collateral.json")
            .to_str()
            .expect("utf8"),
        "--save",
        evidence.to_str().expect("utf8"),
    ]));
    assert_eq!(built["gpus"], 0);

    let _tee = extra_node(
        &devnet,
        "tee",
        "eu-west",
        "2000",
        &["--tee", evidence.to_str().expect("utf8")],
    );
    let _plain = extra_node(&devnet, "plain", "eu-west", "2000", &["--tee", "auto"]);
    let attested = eventually(Duration::from_secs(60), "the CPU tier", || {
        let view = registered(&devnet, "tee")?;
        (view["node"]["tee"]["tier"] == "cpu").then_some(view)
    });
    assert_eq!(attested["node"]["tee"]["cpu"], "intel_tdx");
    assert_eq!(attested["node"]["tee"]["bound"], false);
    assert_eq!(
        attested["node"]["tee"]["evidence_hash"]
            .as_str()
            .map(str::len),
        Some(64)
    );
    let plain = eventually(Duration::from_secs(60), "the plain node", || {
        registered(&devnet, "plain")
    });
    assert_eq!(plain["node"]["tee"]["tier"], "none");
    // This machine has no TEE (no configfs-tsm): the node says so.
    eventually(
        Duration::from_secs(30),
        "the plain node to say it has no TEE",
        || {
            let log = std::fs::read_to_string(devnet.home.join("plain.log")).unwrap_or_default();
            log.contains("no TEE").then_some(())
        },
    );

    // Two TEE jobs: both run on the attested node, never on the plain one.
    let tee_account = attested["node"]["id"].as_str().expect("id").to_string();
    let ids: Vec<u64> = (0..2)
        .map(|n| {
            let path = manifest(
                home.path(),
                &format!("tee-{n}"),
                &format!(
                    "workload = \"hashchain\"\ninput = \"500 tee {n}\"\nmax_cu = 0.01\n\
                     max_price_per_cu = 0.1\nverification = \"standard\"\n\
                     [requirements]\ntee = \"cpu\"\n"
                ),
            );
            submit(&devnet, &path)
        })
        .collect();
    let jobs = wait_for(
        &devnet,
        &ids,
        &["completed", "settled"],
        Duration::from_secs(90),
    );
    for job in &jobs {
        let task = &job["tasks"][0];
        assert_eq!(task["state"]["node"], tee_account.as_str(), "{job:#}");
        // A new node is on probation (no verifier here to end it) and sampled at the risky
        // rate, 25%; a standing TEE tier halves it.
        assert_eq!(task["sampling_ppm"], 125_000, "{job:#}");
    }

    // Nobody has a confidential GPU: the job waits and says why.
    let path = manifest(
        home.path(),
        "gpu-tee",
        "workload = \"hashchain\"\ninput = \"500 gpu\"\nmax_cu = 0.01\nmax_price_per_cu = 0.1\n\
         [requirements]\ntee = \"cpu+gpu\"\n",
    );
    let id = submit(&devnet, &path);
    let explained = eventually(Duration::from_secs(30), "an explanation", || {
        let view = job(&devnet, id);
        let text = view["tasks"][0]["unplaceable"].as_str()?.to_string();
        (!text.is_empty()).then_some(text)
    });
    assert!(explained.contains("no attested TEE"), "{explained}");

    // A confidential job: `job run` encrypts the input, grants the task's key to the node it is
    // assigned to, and decrypts the output; the chain and the kept copy see only ciphertext.
    let secret = b"700 confidential weights".to_vec();
    let path = manifest(
        home.path(),
        "confidential",
        &format!(
            "workload = \"hashchain\"\ninput = \"{}\"\nmax_cu = 0.01\nmax_price_per_cu = 0.1\n\
             confidential = true\n",
            String::from_utf8_lossy(&secret)
        ),
    );
    let json = ok(devnet.cli(&["job", "run", path.to_str().expect("utf8"), "--from", "bob"]));
    let reference = vcity_kernels::hashchain::run(&secret).expect("reference");
    assert_eq!(
        json["tasks"][0]["output_text"].as_str().map(str::as_bytes),
        Some(reference.as_slice()),
        "{json:#}"
    );
    let id = json["job_id"].as_u64().expect("job id");
    let view = job(&devnet, id);
    let task = &view["tasks"][0];
    assert_eq!(task["state"]["node"], tee_account.as_str(), "{view:#}");
    assert_eq!(view["requirements"]["tee"], "cpu", "tee implied: {view:#}");
    assert_eq!(view["verification"], "none", "{view:#}");
    assert_eq!(task["sealed_key"].as_array().map(Vec::len), Some(80));
    let on_chain: Vec<u8> =
        serde_json::from_value(view["workload"]["input"].clone()).expect("bytes");
    assert_eq!(on_chain.len(), secret.len() + 40, "nonce and tag");
    assert!(
        !on_chain
            .windows(6)
            .any(|window| secret.windows(6).any(|part| part == window)),
        "the input is on the chain in the clear"
    );
    // The kept copy is what the node committed: ciphertext.
    let output_hash = task["state"]["output_hash"].as_str().expect("hash");
    let kept = std::fs::read(devnet.home.join("outputs").join(output_hash)).expect("kept copy");
    assert_eq!(kept.len(), reference.len() + 40);
    assert!(!kept
        .windows(reference.len().min(16))
        .any(|window| reference.starts_with(window)));
    // The node's log holds the program's log sealed; `job logs` opens it for the owner.
    let logs = ok(devnet.cli(&["job", "logs", &id.to_string(), "--from", "bob"]));
    let log = logs["log"].as_str().expect("log");
    assert!(log.contains("ended: Success"), "{log}");
    assert!(!log.contains("encrypted for the job's owner"), "{log}");
}

/// Splits a unit's `ExecStart=` value into arguments the way systemd does for what
/// `vcity operator init` writes: whitespace between arguments, double quotes around one with
/// `\"` and `\\` inside, `%%` and `$$` for a literal `%` and `$`.
fn systemd_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.trim().chars().peekable();
    while let Some(&next) = chars.peek() {
        if next.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if next == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => word.extend(chars.next()),
                    c => word.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word.replace("%%", "%").replace("$$", "$"));
    }
    words
}

/// Issue 26: a new operator's path on a devnet. `vcity operator init --role compute` checks the
/// host, writes config.toml, creates the key and writes the systemd unit; the unit's command (run
/// here as systemd would run it: its `ExecStart=`, `WorkingDirectory=` and `Environment=`, since
/// the test machine has no systemd) starts a compute node that registers and heartbeats; and
/// `vcity operator status` shows the operator its standing.
#[test]
fn operator_init_writes_a_unit_whose_daemon_joins_the_devnet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let devnet = Devnet::start(&dir.path().join("devnet"));
    let home = dir.path().join("operator");
    let unit_dir = dir.path().join("units");
    let init_compute = || {
        vcity(
            &home,
            Some(&devnet.api),
            &[
                "operator",
                "init",
                "--role",
                "compute",
                "--key",
                "op",
                "--listen",
                "127.0.0.1:0",
                "--region",
                "eu west",
                "--unit-dir",
                unit_dir.to_str().expect("utf-8"),
                "--yes",
            ],
        )
    };
    let init = init_compute();
    let checks = init.json["checks"].as_array().expect("checks").clone();
    let missing: Vec<&str> = checks
        .iter()
        .filter(|check| check["outcome"] == "missing")
        .map(|check| check["name"].as_str().expect("name"))
        .collect();
    // Only the sandbox may be missing (on a machine without bubblewrap); the chain node answered.
    assert!(
        missing
            .iter()
            .all(|name| ["bubblewrap", "user namespaces", "cgroup delegation"].contains(name)),
        "{}",
        init.stdout
    );
    if std::env::var_os("VCITY_REQUIRE_SANDBOX").is_some() {
        assert!(missing.is_empty(), "{}", init.stdout);
    }
    assert_eq!(init.code, if missing.is_empty() { 0 } else { 1 });
    for check in &checks {
        if check["outcome"] != "ok" {
            assert!(check["fix"].is_string(), "no fix for {check}");
        }
    }
    let account = init.json["key"]["account"].as_str().expect("account");
    assert_eq!(init.json["key"]["created"], true);
    let config = std::fs::read_to_string(home.join("config.toml")).expect("config.toml");
    assert!(
        config.contains(&format!("node = \"{}\"", devnet.api)),
        "{config}"
    );

    // Running it again keeps the key.
    let again = init_compute();
    assert_eq!(again.json["key"]["account"].as_str(), Some(account));
    assert_eq!(again.json["key"]["created"], false);
    // Without --yes and without a terminal to ask on, it will not pass over the backup.
    let unconfirmed = vcity(
        &home,
        Some(&devnet.api),
        &["operator", "init", "--role", "compute", "--key", "op"],
    );
    assert_eq!(unconfirmed.code, 2, "{}", unconfirmed.stdout);
    assert!(
        unconfirmed.json["message"]
            .as_str()
            .is_some_and(|message| message.contains("back up")),
        "{}",
        unconfirmed.stdout
    );

    let unit = std::fs::read_to_string(unit_dir.join("vcity-compute.service")).expect("unit");
    let value = |name: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|line| line.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
            .collect()
    };
    let exec = systemd_words(&value("ExecStart")[0]);
    assert_eq!(exec[0], binary_path());
    assert!(exec.contains(&"eu west".to_string()), "{exec:?}");
    assert_eq!(value("Restart"), ["on-failure"]);

    // Fund it (stake and fees), then start the unit's command.
    for (amount, denom) in [("2000", "vcai"), ("100", "usd")] {
        ok(devnet.cli(&[
            "tx", "transfer", "--from", "alice", "--to", account, "--amount", amount, "--denom",
            denom,
        ]));
    }
    let _daemon = start_unit(
        &unit_dir.join("vcity-compute.service"),
        &dir.path().join("unit.log"),
    );
    let view = eventually(
        Duration::from_secs(90),
        "the unit's node to register",
        || {
            let run = devnet.cli(&["nodes", "show", account]);
            (run.code == 0 && run.json["online"] == true).then_some(run.json)
        },
    );
    assert_eq!(view["node"]["region"], "eu west");

    // docs/operators.md, "Referrals": alice funded the node, so she is of its DID and refused;
    // bob is not.
    let alice = ok(devnet.cli(&["keys", "show", "alice"]))["account"]
        .as_str()
        .expect("account")
        .to_string();
    let bob = ok(devnet.cli(&["keys", "show", "bob"]))["account"]
        .as_str()
        .expect("account")
        .to_string();
    let refer = |referrer: &str| {
        vcity(
            &home,
            Some(&devnet.api),
            &["nodes", "name-referrer", "--from", "op", referrer],
        )
    };
    let refused = refer(&alice);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        refused.stdout.contains("funding source"),
        "{}",
        refused.stdout
    );
    let named = refer(&bob);
    assert_eq!(named.code, 0, "{}", named.stdout);

    let status = ok(vcity(&home, None, &["operator", "status", "--key", "op"]));
    assert_eq!(
        status["income"]["referral"]["referrer"].as_str(),
        Some(bob.as_str())
    );
    assert_eq!(status["income"]["loyalty_ppm"], 1_000_000);
    assert_eq!(status["node"]["node"]["id"].as_str(), Some(account));
    assert_eq!(status["node"]["online"], true);
    assert_eq!(status["node"]["paused"], false);
    assert!(status["income"]["period_s"]
        .as_u64()
        .is_some_and(|period| period > 0));
    assert!(
        status["income"]["projected_30_days_vcai"].is_string(),
        "{status}"
    );
    assert!(
        status["income"]["activity"].is_array()
            && status["income"]["projected_30_days_usd"].is_string(),
        "{status}"
    );
    let text = std::process::Command::new(BIN)
        .arg("--home")
        .arg(&home)
        .args(["operator", "status", "--key", "op"])
        .env_remove("VCITY_NODE")
        .env_remove("VCITY_CONFIG")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&text.stdout);
    for line in [
        "online:      yes",
        "stake:",
        "probation:",
        "reputation:",
        "loyalty:     Proof of Capacity x1.000",
        "referred by",
        "slashes:     none",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
}

/// A free local TCP port (bound and released; a test races only other tests for it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("listen")
        .local_addr()
        .expect("address")
        .port()
}

/// Runs a unit's `ExecStart=` with its `WorkingDirectory=` and `Environment=`, as systemd would,
/// logging to `log`.
fn start_unit(unit: &Path, log: &Path) -> ExtraNode {
    let text = std::fs::read_to_string(unit).expect("unit");
    let value = |name: &str| -> Vec<String> {
        text.lines()
            .filter_map(|line| line.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
            .collect()
    };
    let exec = systemd_words(&value("ExecStart")[0]);
    let working = systemd_words(&value("WorkingDirectory")[0]);
    let log = std::fs::File::create(log).expect("log");
    let mut command = std::process::Command::new(&exec[0]);
    command
        .args(&exec[1..])
        .current_dir(&working[0])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
    for assignment in value("Environment") {
        let (name, text) = assignment.split_once('=').expect("NAME=VALUE");
        command.env(name, text);
    }
    ExtraNode(command.spawn().expect("the unit's command starts"))
}

/// The chain height `api` reports, once it answers.
fn chain_height(api: &str) -> Option<u64> {
    ureq::get(format!("{api}/v1/status"))
        .call()
        .ok()?
        .body_mut()
        .read_json::<Value>()
        .ok()?["height"]
        .as_u64()
}

/// Issue 26: `vcity operator init --role validator` in a validator's home (as `vcity testnet
/// --init-only` writes it) and `--role chain` over a data directory holding the network's
/// genesis and the node's validator key write units whose commands, run as systemd would, serve
/// the chain API and commit blocks. Without those files, init refuses and names the missing one.
#[test]
fn operator_init_writes_chain_and_validator_units_that_commit_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (api_port, p2p_port) = (free_port(), free_port());
    let net = dir.path().join("net");
    let written = ok(vcity(
        &dir.path().join("home"),
        None,
        &[
            "testnet",
            "--validators",
            "1",
            "--dir",
            net.to_str().expect("utf-8"),
            "--api-port",
            &api_port.to_string(),
            "--p2p-port",
            &p2p_port.to_string(),
            "--block-time",
            "300ms",
            "--init-only",
        ],
    ));
    let validator = &written["validators"][0];
    let validator_home = PathBuf::from(validator["home"].as_str().expect("home"));
    let validator_api = validator["api"].as_str().expect("api").to_string();
    let units = dir.path().join("units");
    let init = |home: &Path, role: &str, extra: &[&str]| {
        let mut args = vec![
            "operator",
            "init",
            "--role",
            role,
            "--unit-dir",
            units.to_str().expect("utf-8"),
            "--yes",
        ];
        args.extend(extra);
        vcity(home, None, &args)
    };

    let done = init(&validator_home, "validator", &[]);
    assert_eq!(done.code, 0, "{}", done.stdout);
    let _validator = start_unit(
        &units.join("vcity-validator.service"),
        &dir.path().join("validator.log"),
    );
    let height = eventually(Duration::from_secs(90), "the validator's blocks", || {
        chain_height(&validator_api).filter(|height| *height >= 3)
    });
    assert!(height >= 3);

    // A chain node: refused until its data directory holds the genesis and the key.
    let chain_home = dir.path().join("chain-home");
    let data = dir.path().join("chain-data");
    let listen = format!("127.0.0.1:{}", free_port());
    let chain_args = [
        "--data-dir",
        data.to_str().expect("utf-8"),
        "--listen",
        listen.as_str(),
    ];
    let refused = init(&chain_home, "chain", &chain_args);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        refused.stdout.contains("genesis.json"),
        "{}",
        refused.stdout
    );
    std::fs::create_dir_all(&data).expect("data dir");
    for file in ["genesis.json", "validator_key.json"] {
        std::fs::copy(validator_home.join(file), data.join(file)).expect("copied");
    }
    let done = init(&chain_home, "chain", &chain_args);
    assert_eq!(done.code, 0, "{}", done.stdout);
    let config = std::fs::read_to_string(chain_home.join("config.toml")).expect("config");
    assert!(config.contains(&format!("http://{listen}")), "{config}");
    let _chain = start_unit(
        &units.join("vcity-chain.service"),
        &dir.path().join("chain.log"),
    );
    let chain_api = format!("http://{listen}");
    eventually(Duration::from_secs(90), "the chain node's blocks", || {
        chain_height(&chain_api).filter(|height| *height >= 2)
    });
    // The operator's own commands reach it through the config init wrote.
    let status = ok(vcity(&chain_home, None, &["query", "status"]));
    assert!(
        status["height"].as_u64().is_some_and(|height| height >= 2),
        "{status}"
    );
}

/// The test binary's path as the running binary sees itself.
fn binary_path() -> String {
    std::fs::canonicalize(BIN)
        .expect("the binary")
        .display()
        .to_string()
}

/// Issue 26: the node's container image, built by `vcity image node` (no container engine), runs
/// a compute node in the project's own OCI executor: the image is unpacked by the image store
/// that serves image jobs and started by the sandbox that runs them (read-only root, its own
/// namespaces, memory and process limits), with the host's network so that it reaches the
/// devnet, and the node's key bound read-only where its home expects it. The node registers,
/// heartbeats and comes online; stopping the run kills it.
#[test]
fn the_node_image_runs_a_compute_node_in_our_own_oci_executor() {
    let Some(net) = sandbox_net() else { return };
    let layout = net.dir.path().join("node-image");
    let built = ok(vcity(
        &net.devnet.home,
        None,
        &["image", "node", "--out-dir", layout.to_str().expect("utf8")],
    ));
    let digest: vcity_oci::Digest = built["digest"]
        .as_str()
        .expect("digest")
        .parse()
        .expect("a digest");
    // Named for `podman load` and `docker load` (docs/operators.md, "Container image").
    let index: vcity_oci::Index =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index.json"))
            .expect("an index");
    let name = concat!("vcity-node:", env!("CARGO_PKG_VERSION"));
    let annotations = &index.manifests[0].annotations;
    assert_eq!(
        annotations
            .get("org.opencontainers.image.ref.name")
            .map(String::as_str),
        Some(name)
    );
    assert_eq!(
        annotations.get("io.containerd.image.name"),
        Some(&format!("docker.io/library/{name}"))
    );
    let mut blobs = vcity_oci::layout::Layout::open(&layout).expect("a layout");
    let store = vcity_oci::store::Store::open(
        &net.dir.path().join("node-image-store"),
        2 * 1024 * 1024 * 1024,
        vcity_oci::Limits::default(),
    )
    .expect("store");
    let image = store.get(&digest, &mut blobs).expect("the image unpacks");
    assert_eq!(
        image.config.entrypoint.as_deref(),
        Some(&["/usr/local/bin/vcity".to_string()][..])
    );

    // The node's key, funded.
    let key = ok(net.devnet.cli(&["keys", "new", "imaged"]));
    let account = key["account"].as_str().expect("account").to_string();
    {
        let _turn = net
            .sending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (amount, denom) in [("2000", "vcai"), ("100", "usd")] {
            ok(net.devnet.cli(&[
                "tx", "transfer", "--from", "alice", "--to", &account, "--amount", amount,
                "--denom", denom,
            ]));
        }
    }
    let sandbox =
        vcity_sandbox::Sandbox::probe(&net.dir.path().join("node-image-sandbox")).expect("probe");
    let mut argv = image.config.argv(None, None);
    argv.truncate(1);
    argv.extend(
        [
            "--home",
            "/tmp/home",
            "--node",
            &net.devnet.api,
            "node",
            "compute",
            "--key",
            "imaged",
            "--work-dir",
            "/tmp/work",
            "--listen",
            "127.0.0.1:0",
            "--region",
            "container",
            "--tee",
            "off",
            "--no-sandbox",
            "--poll-interval",
            "200ms",
        ]
        .map(str::to_string),
    );
    let env = image.config.env(&[]);
    let binds = [(
        net.devnet.home.join("keys/imaged.json"),
        "/tmp/home/keys/imaged.json".to_string(),
    )];
    let stop = std::sync::atomic::AtomicBool::new(false);
    let outcome = std::thread::scope(|scope| {
        let running = scope.spawn(|| {
            let spec = vcity_sandbox::Spec {
                env: &env,
                network: true,
                stop: Some(&stop),
                binds: &binds,
                ..vcity_sandbox::Spec::new(
                    vcity_sandbox::Root::Image {
                        rootfs: &image.rootfs,
                        workdir: "/tmp",
                        // The user the key file belongs to, as `docker run` would run the
                        // image's default user over a volume it owns: the key must be
                        // readable by its owner only.
                        user: (0, 0),
                    },
                    &argv,
                    b"",
                    vcity_sandbox::Limits {
                        memory_bytes: 2 * 1024 * 1024 * 1024,
                        pids: 512,
                        tmp_bytes: 256 * 1024 * 1024,
                        log_bytes: 1024 * 1024,
                        wall_clock: Duration::from_secs(180),
                        ..vcity_sandbox::Limits::default()
                    },
                )
            };
            sandbox.run(&spec)
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut view = None;
        while Instant::now() < deadline && !running.is_finished() {
            let run = net.devnet.cli(&["nodes", "show", &account]);
            if run.code == 0 && run.json["online"] == true {
                view = Some(run.json);
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let outcome = running
            .join()
            .expect("the run returns")
            .expect("the sandbox runs");
        (view, outcome)
    });
    let (view, outcome) = outcome;
    let log = String::from_utf8_lossy(&outcome.log).into_owned();
    let view =
        view.unwrap_or_else(|| panic!("the imaged node never came online: {outcome:?}\n{log}"));
    assert_eq!(view["node"]["region"], "container");
    assert_eq!(outcome.ending, vcity_sandbox::Ending::Stopped, "{log}");
}
