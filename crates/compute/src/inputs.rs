//! Task inputs (docs/job-spec.md, "Shards"). A job either gives every task the same inline
//! input, or gives task `i` the shard `shards[i]`, named by its content address and size. The
//! node takes a shard from the chain node's blob store and, when the store has no copy, downloads
//! it from the URL the job names; either way the bytes must hash to the address and have the
//! size, or they are not the input the buyer signed for.
//!
//! Whose fault a missing input is decides what happens to the task: a shard that is nowhere, a
//! URL that answers 4xx, or bytes that do not match are the job's fault, and the task ends as
//! `invalid`, billed nothing ([`InputError::Bad`]); a store or URL that cannot be reached now is
//! the node's problem, and it gives the task up for another node to try
//! ([`InputError::Unreachable`]).

use std::io::Read as _;
use std::time::Duration;
use vcity_sdk::confidential::{self, JobKey, NodeSecret, Part};
use vcity_sdk::{Client, ClientError};
use vcity_types::compute::{content_address, Job, Shard, TaskExit};

/// How long a shard download may take, connecting included.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// Why a task's input could not be had.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The job names an input that does not exist or does not match: the task is invalid.
    #[error("{0}")]
    Bad(String),
    /// The input could not be fetched now: the node gives the task up.
    #[error("{0}")]
    Unreachable(String),
}

impl InputError {
    /// The task's ending when its input is the job's fault; `None` when the node gives it up.
    pub fn exit(&self) -> Option<TaskExit> {
        match self {
            InputError::Bad(reason) => Some(TaskExit::Invalid {
                reason: format!("the input: {reason}"),
            }),
            InputError::Unreachable(_) => None,
        }
    }
}

/// Task `task`'s input: the job's inline input, or its shard.
pub fn task_input(client: &Client, job: &Job, task: u32) -> Result<Vec<u8>, InputError> {
    if let Some(input) = job.workload.inline_input() {
        return Ok(input.to_vec());
    }
    let shard =
        job.workload.shards.get(task as usize).ok_or_else(|| {
            InputError::Bad(format!("job {} has no shard for task {task}", job.id))
        })?;
    fetch_shard(client, shard)
}

/// A task's input as its program reads it, and the job's key when the job is confidential
/// (docs/attestation.md, "Confidential jobs"): the key is opened from the task's grant with this
/// node's attested `secret`, and the input decrypted with it. A grant or an input that does not
/// open is the job's fault; a node without the secret cannot run the task and gives it up.
pub fn open_task_input(
    client: &Client,
    job: &Job,
    task: u32,
    secret: Option<&NodeSecret>,
) -> Result<(Vec<u8>, Option<JobKey>), InputError> {
    let input = task_input(client, job, task)?;
    if job.workload.confidential.is_none() {
        return Ok((input, None));
    }
    let secret = secret.ok_or_else(|| {
        InputError::Unreachable(
            "the job is confidential and this node holds no attested encryption key".into(),
        )
    })?;
    let sealed = job
        .tasks
        .get(task as usize)
        .and_then(|entry| entry.sealed_key.as_deref())
        .ok_or_else(|| InputError::Unreachable("the task's key is not granted yet".into()))?;
    let key = confidential::open_key(sealed, secret, job.id, task)
        .map_err(|error| InputError::Bad(format!("the owner's key grant: {error}")))?;
    let part = match job.workload.inline_input() {
        Some(_) => Part::Input(None),
        None => Part::Input(Some(task)),
    };
    let plain = confidential::decrypt(&key, part, &input)
        .map_err(|error| InputError::Bad(format!("decrypting it: {error}")))?;
    Ok((plain, Some(key)))
}

/// A shard from the blob store, else from its URL, checked against its address and size.
pub fn fetch_shard(client: &Client, shard: &Shard) -> Result<Vec<u8>, InputError> {
    match client.blob(&shard.address) {
        Ok(bytes) => return check(shard, bytes),
        Err(ClientError::NotFound(_)) => {}
        Err(error) => {
            return Err(InputError::Unreachable(format!(
                "shard {} from the blob store: {error}",
                shard.address
            )))
        }
    }
    let Some(url) = &shard.url else {
        return Err(InputError::Bad(format!(
            "shard {} is not in the blob store and the job names no URL for it",
            shard.address
        )));
    };
    check(shard, download(url, shard.bytes)?)
}

fn check(shard: &Shard, bytes: Vec<u8>) -> Result<Vec<u8>, InputError> {
    if bytes.len() as u64 != shard.bytes || content_address(&bytes) != shard.address {
        return Err(InputError::Bad(format!(
            "shard {} ({} bytes) was fetched as {} bytes with address {}",
            shard.address,
            shard.bytes,
            bytes.len(),
            content_address(&bytes)
        )));
    }
    Ok(bytes)
}

/// At most `bytes + 1` bytes from `url` (one more than the shard, so that a longer body shows).
fn download(url: &str, bytes: u64) -> Result<Vec<u8>, InputError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(DOWNLOAD_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(url)
        .call()
        .map_err(|error| InputError::Unreachable(format!("downloading {url}: {error}")))?;
    let status = response.status();
    if status.is_client_error() {
        return Err(InputError::Bad(format!("{url} answered {status}")));
    }
    if !status.is_success() {
        return Err(InputError::Unreachable(format!("{url} answered {status}")));
    }
    let mut body = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(bytes.saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|error| InputError::Unreachable(format!("downloading {url}: {error}")))?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use vcity_types::Hash;

    /// Serves `body` with `status` to one request on 127.0.0.1.
    fn serve_once(status: &'static str, body: Vec<u8>) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        });
        format!("http://{address}/shard")
    }

    fn shard(bytes: &[u8], url: Option<String>) -> Shard {
        Shard {
            address: content_address(bytes),
            bytes: bytes.len() as u64,
            url,
        }
    }

    /// A client whose blob store has nothing: an answer of 404 to every request.
    fn empty_store() -> Client {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let body = br#"{"error":"not_found","code":0,"message":"no blob"}"#;
                let head = format!(
                    "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body);
            }
        });
        Client::new(&format!("http://{address}"))
    }

    #[test]
    fn a_shard_missing_from_the_store_is_downloaded_and_checked() {
        let store = empty_store();
        let data = b"the quick brown fox".to_vec();
        let url = serve_once("200 OK", data.clone());
        assert_eq!(
            fetch_shard(&store, &shard(&data, Some(url))).expect("fetched"),
            data
        );

        // Other bytes under the same URL: the job's fault.
        let url = serve_once("200 OK", b"the quick brown cat".to_vec());
        let error = fetch_shard(&store, &shard(&data, Some(url))).expect_err("refused");
        assert!(error.exit().is_some(), "{error}");
        // A longer body is caught even though only bytes + 1 are read.
        let url = serve_once("200 OK", [data.clone(), b"and more".to_vec()].concat());
        assert!(fetch_shard(&store, &shard(&data, Some(url)))
            .expect_err("refused")
            .exit()
            .is_some());
        // A 404 at the URL is the job's fault; a 503 is the network's.
        let url = serve_once("404 Not Found", Vec::new());
        assert!(fetch_shard(&store, &shard(&data, Some(url)))
            .expect_err("refused")
            .exit()
            .is_some());
        let url = serve_once("503 Service Unavailable", Vec::new());
        assert!(fetch_shard(&store, &shard(&data, Some(url)))
            .expect_err("refused")
            .exit()
            .is_none());
        // No URL and no copy: invalid.
        let error = fetch_shard(&store, &shard(&data, None)).expect_err("refused");
        assert!(matches!(error, InputError::Bad(_)), "{error}");
    }

    #[test]
    fn a_confidential_shard_opens_only_with_the_grant_sealed_to_this_node() {
        use vcity_types::compute::{Billing, Confidential, Requirements, Task, Workload};
        use vcity_types::{AccountId, Amount};
        let owner = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let salt = Hash([4; 32]);
        let key = confidential::job_key(&owner, &salt);
        let node = NodeSecret::from_bytes([6; 32]);
        let sealed =
            confidential::encrypt(&key, Part::Input(Some(0)), b"private rows").expect("sealed");
        let url = serve_once("200 OK", sealed.clone());
        let mut job = Job {
            id: 9,
            owner: AccountId::from_public_key(&owner.verifying_key()),
            workload: Workload {
                module_hash: Hash([1; 32]),
                input: Vec::new(),
                executor: Default::default(),
                shards: vec![shard(&sealed, Some(url))],
                service: None,
                output_dir: false,
                confidential: Some(Confidential { key_salt: salt }),
            },
            requirements: Requirements::default(),
            max_cu_ppm_per_task: 1,
            max_price_per_cu_usd: Amount::new(1),
            billing: Billing::PayAsYouGo,
            verification: Default::default(),
            retries: None,
            submitted_s: 0,
            tasks: vec![Task {
                sealed_key: Some(
                    confidential::seal_key(&key, &node.public(), 9, 0).expect("sealed key"),
                ),
                ..Task::pending(Amount::new(1), 0)
            }],
        };
        let store = empty_store();
        let (input, opened) = open_task_input(&store, &job, 0, Some(&node)).expect("opens");
        assert_eq!(input, b"private rows");
        assert_eq!(opened, Some(key));
        // No key here: another node should take it (not the job's fault).
        let url = serve_once("200 OK", sealed.clone());
        job.workload.shards[0].url = Some(url);
        assert!(matches!(
            open_task_input(&store, &job, 0, None),
            Err(InputError::Unreachable(_))
        ));
        // A grant sealed to another node's key is the owner's mistake: invalid.
        let url = serve_once("200 OK", sealed);
        job.workload.shards[0].url = Some(url);
        let other = NodeSecret::from_bytes([7; 32]);
        let error = open_task_input(&store, &job, 0, Some(&other)).expect_err("refused");
        assert!(matches!(error, InputError::Bad(_)), "{error}");
    }

    #[test]
    fn an_unreachable_store_gives_the_task_up() {
        let nowhere = Client::new("http://127.0.0.1:9");
        let missing = Shard {
            address: Hash([1; 32]),
            bytes: 1,
            url: None,
        };
        assert!(matches!(
            fetch_shard(&nowhere, &missing),
            Err(InputError::Unreachable(_))
        ));
    }
}
