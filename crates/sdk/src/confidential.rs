//! Confidential jobs (docs/attestation.md, "Confidential jobs"; whitepaper §2.5.3): the one
//! format the owner's tools and the compute node share.
//!
//! - **The job key.** The owner derives it from their account's secret key and the job's public
//!   salt ([`job_key`]), so it is never stored and never lost: whoever holds the account key can
//!   derive it again.
//! - **Inputs, outputs and program logs** are sealed under the job key with XChaCha20-Poly1305
//!   and a random 24-byte nonce ([`encrypt`]); the associated data names what the bytes are
//!   ([`Part`]), so an output cannot be passed off as an input or as another task's output.
//! - **The grant.** A node in a TEE holds an X25519 secret ([`NodeSecret`]) whose public half it
//!   bound in its attestation evidence. The owner seals the job key to it ([`seal_key`]):
//!   an ephemeral X25519 key, a wrapping key derived from the shared secret, both public keys and
//!   the task, and the job key encrypted under it. Only the attested workload can open it
//!   ([`open_key`]).

use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use curve25519_dalek::montgomery::MontgomeryPoint;
use ed25519_dalek::SigningKey;
use std::path::Path;
use vcity_types::compute::{EncryptionKey, GrantTaskKey, Job, TaskState, SEALED_KEY_BYTES};
use vcity_types::tx::Message;
use vcity_types::{AccountId, Hash};

/// Bytes encryption adds: the nonce (24) and the tag (16).
pub const OVERHEAD_BYTES: usize = 24 + 16;

const JOB_KEY_CONTEXT: &str = "vcity confidential job key v1";
const WRAP_KEY_CONTEXT: &str = "vcity confidential key wrap v1";
const DATA_LABEL: &[u8] = b"vcity confidential data v1";
/// How a program's log appears, encrypted, in a confidential task's log on the node: this
/// prefix, the ciphertext in hex, a newline.
pub const LOG_PREFIX: &str = "[node] the program's log, encrypted for the job's owner: ";

/// Why sealing or opening failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfidentialError {
    /// The bytes do not open under the key (wrong key, wrong part, or tampered).
    #[error("the bytes do not decrypt under this job's key (wrong key or tampered)")]
    Decrypt,
    /// A sealed key of the wrong length.
    #[error("a sealed key is {SEALED_KEY_BYTES} bytes")]
    Malformed,
    /// A public key of small order: no shared secret with it would be secret.
    #[error("the node's encryption key is not a usable X25519 key")]
    WeakKey,
    /// The operating system's random source failed.
    #[error("no randomness: {0}")]
    Random(String),
    /// Reading or writing a key file.
    #[error("{0}")]
    Io(String),
}

/// A confidential job's key (32 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct JobKey(pub [u8; 32]);

impl std::fmt::Debug for JobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobKey(..)")
    }
}

/// What a sealed blob is, bound into its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The job's inline input (`None`) or shard `i`.
    Input(Option<u32>),
    /// A task's output.
    Output {
        /// The job.
        job_id: u64,
        /// The task.
        task: u32,
    },
    /// A task's program log.
    Log {
        /// The job.
        job_id: u64,
        /// The task.
        task: u32,
    },
}

impl Part {
    fn associated_data(self) -> Vec<u8> {
        let mut data = DATA_LABEL.to_vec();
        match self {
            Part::Input(shard) => {
                data.push(0);
                data.extend_from_slice(&shard.map_or(u64::MAX, u64::from).to_le_bytes());
            }
            Part::Output { job_id, task } | Part::Log { job_id, task } => {
                data.push(if matches!(self, Part::Output { .. }) {
                    1
                } else {
                    2
                });
                data.extend_from_slice(&job_id.to_le_bytes());
                data.extend_from_slice(&task.to_le_bytes());
            }
        }
        data
    }
}

fn random<const N: usize>() -> Result<[u8; N], ConfidentialError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|error| ConfidentialError::Random(error.to_string()))?;
    Ok(bytes)
}

/// A fresh salt for a new confidential job.
pub fn new_salt() -> Result<Hash, ConfidentialError> {
    Ok(Hash(random()?))
}

/// The job key of a confidential job whose owner holds `owner` and whose salt is `salt`.
pub fn job_key(owner: &SigningKey, salt: &Hash) -> JobKey {
    let mut hasher = blake3::Hasher::new_derive_key(JOB_KEY_CONTEXT);
    hasher.update(owner.as_bytes());
    hasher.update(salt.as_bytes());
    JobKey(*hasher.finalize().as_bytes())
}

/// `plaintext` sealed under `key` as `part`: nonce ‖ ciphertext ‖ tag.
pub fn encrypt(key: &JobKey, part: Part, plaintext: &[u8]) -> Result<Vec<u8>, ConfidentialError> {
    let nonce: [u8; 24] = random()?;
    let cipher = XChaCha20Poly1305::new(&key.0.into());
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &part.associated_data(),
            },
        )
        .map_err(|_| ConfidentialError::Decrypt)?;
    let mut out = Vec::with_capacity(nonce.len() + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens what [`encrypt`] sealed as `part` under `key`.
pub fn decrypt(key: &JobKey, part: Part, sealed: &[u8]) -> Result<Vec<u8>, ConfidentialError> {
    if sealed.len() < OVERHEAD_BYTES {
        return Err(ConfidentialError::Decrypt);
    }
    let (nonce, body) = sealed.split_at(24);
    XChaCha20Poly1305::new(&key.0.into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: &part.associated_data(),
            },
        )
        .map_err(|_| ConfidentialError::Decrypt)
}

/// The X25519 secret of a node's attested workload.
#[derive(Clone)]
pub struct NodeSecret([u8; 32]);

impl std::fmt::Debug for NodeSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeSecret(public {})", self.public())
    }
}

impl NodeSecret {
    /// A fresh secret.
    pub fn generate() -> Result<NodeSecret, ConfidentialError> {
        Ok(NodeSecret(random()?))
    }

    /// The secret from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> NodeSecret {
        NodeSecret(bytes)
    }

    /// The public half, bound in the node's evidence.
    pub fn public(&self) -> EncryptionKey {
        EncryptionKey(MontgomeryPoint::mul_base_clamped(self.0).to_bytes())
    }

    /// The secret kept in `path` (32 bytes, mode 0600), made there the first time. It lives
    /// beside the node's signing key, inside the confidential VM's storage.
    pub fn load_or_create(path: &Path) -> Result<NodeSecret, ConfidentialError> {
        let io = |what: &str, error: std::io::Error| {
            ConfidentialError::Io(format!("{what} {}: {error}", path.display()))
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let bytes = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                    ConfidentialError::Io(format!("{} is not a 32-byte key", path.display()))
                })?;
                Ok(NodeSecret(bytes))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                use std::io::Write as _;
                use std::os::unix::fs::OpenOptionsExt as _;
                let secret = NodeSecret::generate()?;
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|error| io("creating", error))?;
                }
                // Written whole, then renamed: a crash leaves the old state or the new key.
                let partial = path.with_extension("partial");
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&partial)
                    .map_err(|error| io("writing", error))?;
                file.write_all(&secret.0)
                    .and_then(|()| file.sync_all())
                    .map_err(|error| io("writing", error))?;
                std::fs::rename(&partial, path).map_err(|error| io("writing", error))?;
                Ok(secret)
            }
            Err(error) => Err(io("reading", error)),
        }
    }
}

fn wrapping_key(
    shared: &MontgomeryPoint,
    ephemeral: &MontgomeryPoint,
    recipient: &EncryptionKey,
    job_id: u64,
    task: u32,
) -> Result<XChaCha20Poly1305, ConfidentialError> {
    // A small-order public key gives an all-zero shared secret, known to everyone.
    if shared.to_bytes() == [0; 32] {
        return Err(ConfidentialError::WeakKey);
    }
    let mut hasher = blake3::Hasher::new_derive_key(WRAP_KEY_CONTEXT);
    hasher.update(shared.as_bytes());
    hasher.update(ephemeral.as_bytes());
    hasher.update(&recipient.0);
    hasher.update(&job_id.to_le_bytes());
    hasher.update(&task.to_le_bytes());
    Ok(XChaCha20Poly1305::new(hasher.finalize().as_bytes().into()))
}

/// `key` sealed to the node whose attested encryption key is `to`, for task `task` of job
/// `job_id` ([`SEALED_KEY_BYTES`] long).
pub fn seal_key(
    key: &JobKey,
    to: &EncryptionKey,
    job_id: u64,
    task: u32,
) -> Result<Vec<u8>, ConfidentialError> {
    let ephemeral_secret: [u8; 32] = random()?;
    let ephemeral = MontgomeryPoint::mul_base_clamped(ephemeral_secret);
    let shared = MontgomeryPoint(to.0).mul_clamped(ephemeral_secret);
    // The wrapping key is used once, so a fixed nonce is safe.
    let sealed = wrapping_key(&shared, &ephemeral, to, job_id, task)?
        .encrypt(&XNonce::default(), key.0.as_slice())
        .map_err(|_| ConfidentialError::Decrypt)?;
    let mut out = ephemeral.to_bytes().to_vec();
    out.extend_from_slice(&sealed);
    debug_assert_eq!(out.len(), SEALED_KEY_BYTES);
    Ok(out)
}

/// Opens a key sealed to `secret` for task `task` of job `job_id`.
pub fn open_key(
    sealed: &[u8],
    secret: &NodeSecret,
    job_id: u64,
    task: u32,
) -> Result<JobKey, ConfidentialError> {
    if sealed.len() != SEALED_KEY_BYTES {
        return Err(ConfidentialError::Malformed);
    }
    let ephemeral = MontgomeryPoint(
        <[u8; 32]>::try_from(&sealed[..32]).map_err(|_| ConfidentialError::Malformed)?,
    );
    let shared = ephemeral.mul_clamped(secret.0);
    let opened = wrapping_key(&shared, &ephemeral, &secret.public(), job_id, task)?
        .decrypt(&XNonce::default(), &sealed[32..])
        .map_err(|_| ConfidentialError::Decrypt)?;
    Ok(JobKey(
        <[u8; 32]>::try_from(opened.as_slice()).map_err(|_| ConfidentialError::Malformed)?,
    ))
}

/// The owner's key of a confidential `job` (`None` for other jobs).
pub fn key_of(job: &Job, owner: &SigningKey) -> Option<JobKey> {
    job.workload
        .confidential
        .as_ref()
        .map(|confidential| job_key(owner, &confidential.key_salt))
}

/// The `GrantTaskKey` messages `owner` owes now: one for each task of the confidential `job`
/// that waits on its node without its key, sealed to the encryption key the ledger's record of
/// that node binds (`nodes` looks a node up). Empty for other jobs.
pub fn grants_due(
    job: &Job,
    owner: &SigningKey,
    mut nodes: impl FnMut(&AccountId) -> Result<EncryptionKey, crate::ClientError>,
) -> Result<Vec<Message>, crate::ClientError> {
    let Some(key) = key_of(job, owner) else {
        return Ok(Vec::new());
    };
    let mut grants = Vec::new();
    for (index, task) in job.tasks.iter().enumerate() {
        let TaskState::Assigned { node, .. } = &task.state else {
            continue;
        };
        if task.sealed_key.is_some() {
            continue;
        }
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        grants.push(Message::GrantTaskKey(GrantTaskKey {
            job_id: job.id,
            task: index,
            node: *node,
            sealed_key: seal_key(&key, &nodes(node)?, job.id, index)?,
        }));
    }
    Ok(grants)
}

impl crate::Client {
    /// Grants every task of the confidential `job` that waits for its key ([`grants_due`]) in
    /// one transaction, and waits for its receipt; returns the tasks granted. The ledger lets
    /// an assigned task start only once its grant is on the chain.
    pub fn grant_task_keys(
        &self,
        owner: &SigningKey,
        job: &Job,
    ) -> Result<Vec<u32>, crate::ClientError> {
        let grants = grants_due(job, owner, |node| {
            Ok(self.node(node)?.node.tee.encryption_key)
        })?;
        if grants.is_empty() {
            return Ok(Vec::new());
        }
        let tasks = grants
            .iter()
            .filter_map(|message| match message {
                Message::GrantTaskKey(grant) => Some(grant.task),
                _ => None,
            })
            .collect();
        let hash = self.send(owner, grants, None)?;
        let view = self.wait_for_transaction(&hash, std::time::Duration::from_secs(60))?;
        match view.receipt {
            Some(receipt) if receipt.code != 0 => {
                Err(crate::ClientError::Rejected(vcity_types::api::ApiError {
                    error: "failed".into(),
                    code: receipt.code,
                    message: receipt.error,
                }))
            }
            _ => Ok(tasks),
        }
    }
}

/// A program log sealed for the job's owner, as the node writes it into the task's log: one
/// line, [`LOG_PREFIX`] and the ciphertext in hex.
pub fn seal_log(
    key: &JobKey,
    job_id: u64,
    task: u32,
    log: &[u8],
) -> Result<Vec<u8>, ConfidentialError> {
    let sealed = encrypt(key, Part::Log { job_id, task }, log)?;
    Ok(format!("{LOG_PREFIX}{}\n", hex::encode(sealed)).into_bytes())
}

/// A confidential task's log as its owner reads it: every line [`seal_log`] wrote replaced by
/// the program's log it holds (or by a note, if it does not open under `key`).
pub fn open_log(key: &JobKey, job_id: u64, task: u32, log: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(log.len());
    for line in log.split_inclusive(|byte| *byte == b'\n') {
        let opened = std::str::from_utf8(line)
            .ok()
            .and_then(|text| text.strip_prefix(LOG_PREFIX))
            .map(|rest| {
                hex::decode(rest.trim_end())
                    .ok()
                    .and_then(|sealed| decrypt(key, Part::Log { job_id, task }, &sealed).ok())
            });
        match opened {
            Some(Some(program_log)) => out.extend_from_slice(&program_log),
            Some(None) => out.extend_from_slice(
                b"[this CLI] a sealed program log that does not open under the job's key\n",
            ),
            None => out.extend_from_slice(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    #[test]
    fn a_sealed_key_opens_only_for_its_node_and_task() {
        let key = job_key(&owner(), &Hash([1; 32]));
        let node = NodeSecret::from_bytes([9; 32]);
        let other = NodeSecret::from_bytes([10; 32]);
        let sealed = seal_key(&key, &node.public(), 4, 2).expect("sealed");
        assert_eq!(sealed.len(), SEALED_KEY_BYTES);
        assert_eq!(open_key(&sealed, &node, 4, 2).expect("opens"), key);
        assert!(open_key(&sealed, &other, 4, 2).is_err(), "another node");
        assert!(open_key(&sealed, &node, 4, 3).is_err(), "another task");
        assert!(open_key(&sealed, &node, 5, 2).is_err(), "another job");
        for byte in [0, 31, 32, 79] {
            let mut tampered = sealed.clone();
            tampered[byte] ^= 1;
            assert!(open_key(&tampered, &node, 4, 2).is_err(), "byte {byte}");
        }
        assert!(matches!(
            open_key(&sealed[..79], &node, 4, 2),
            Err(ConfidentialError::Malformed)
        ));
    }

    #[test]
    fn a_small_order_node_key_is_refused() {
        let key = job_key(&owner(), &Hash([1; 32]));
        // The identity and a point of order 8 (RFC 7748 §6.1's exclusion list).
        let mut order_eight = [0u8; 32];
        order_eight.copy_from_slice(
            &hex::decode("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800")
                .expect("hex"),
        );
        for point in [[0u8; 32], order_eight] {
            assert!(matches!(
                seal_key(&key, &EncryptionKey(point), 1, 0),
                Err(ConfidentialError::WeakKey)
            ));
        }
    }

    #[test]
    fn data_opens_only_as_the_part_it_was_sealed_as() {
        let key = job_key(&owner(), &Hash([1; 32]));
        let sealed = encrypt(&key, Part::Input(Some(3)), b"secret weights").expect("sealed");
        assert_eq!(sealed.len(), 14 + OVERHEAD_BYTES);
        assert_eq!(
            decrypt(&key, Part::Input(Some(3)), &sealed).expect("opens"),
            b"secret weights"
        );
        for part in [
            Part::Input(None),
            Part::Input(Some(2)),
            Part::Output { job_id: 1, task: 3 },
        ] {
            assert!(decrypt(&key, part, &sealed).is_err(), "{part:?}");
        }
        let other = job_key(&owner(), &Hash([2; 32]));
        assert!(decrypt(&other, Part::Input(Some(3)), &sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().expect("byte") ^= 1;
        assert!(decrypt(&key, Part::Input(Some(3)), &tampered).is_err());
        // Two seals of the same bytes differ (random nonces).
        assert_ne!(
            encrypt(&key, Part::Input(Some(3)), b"secret weights").expect("sealed"),
            sealed
        );
    }

    #[test]
    fn a_sealed_log_line_opens_in_place() {
        let key = job_key(&owner(), &Hash([1; 32]));
        let mut log = b"[node] assigned (attempt 1); starting\n".to_vec();
        log.extend(seal_log(&key, 4, 0, b"loss 0.31\nloss 0.12\n").expect("sealed"));
        log.extend_from_slice(b"[node] ended\n");
        assert!(!String::from_utf8_lossy(&log).contains("loss"));
        assert_eq!(
            String::from_utf8(open_log(&key, 4, 0, &log)).expect("text"),
            "[node] assigned (attempt 1); starting\nloss 0.31\nloss 0.12\n[node] ended\n"
        );
        let wrong = job_key(&owner(), &Hash([2; 32]));
        assert!(String::from_utf8_lossy(&open_log(&wrong, 4, 0, &log)).contains("does not open"));
    }

    #[test]
    fn a_node_secret_is_kept_across_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys/tee-encryption.key");
        let first = NodeSecret::load_or_create(&path).expect("made");
        let again = NodeSecret::load_or_create(&path).expect("read");
        assert_eq!(first.public(), again.public());
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
