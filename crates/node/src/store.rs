//! The node's durable store: one redb file holding the committed blocks with their
//! certificates, the receipts and block events of each block, a transaction index and the
//! ledger state.
//!
//! Each committed block is written in exactly one redb write transaction with immediate
//! durability: the block, its certificate, its receipts, its index entries, its state changes and
//! the new committed height appear together or not at all. redb's copy-on-write B-trees and
//! double-buffered commit slot mean that a `kill -9` (or power loss) at any moment leaves the file
//! at the last committed transaction, so a restarted node resumes at the last committed block.
//! On open, [`Store::load`] rebuilds the Merkle tree from the stored state and checks its root
//! against the state root in the last block's header: a store that does not match its own chain
//! is refused loudly rather than served.

use borsh::{BorshDeserialize, BorshSerialize};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::BTreeMap;
use std::path::Path;
use vcity_consensus::Certificate;
use vcity_ledger::{Execution, HashKey, Ledger, State, Writes};
use vcity_types::block::Block;
use vcity_types::event::Event;
use vcity_types::receipt::Receipt;
use vcity_types::{codec, Hash, Height};

/// `name → value`: `height` (u64 le), `genesis` (genesis document hash).
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
/// `height → borsh(StoredBlock)`.
const BLOCKS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("blocks");
/// `height → borsh(BlockResults)`.
const RESULTS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("results");
/// `tx hash → (height, index)`.
const TX_INDEX: TableDefinition<'_, &[u8; 32], (u64, u32)> = TableDefinition::new("tx_index");
/// Ledger state: `key → value`.
const STATE: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("state");
/// Content-addressed blobs (WASM modules): `H(0x0d ‖ bytes)` → bytes. Not consensus state: a
/// side store the API serves so compute nodes can fetch the modules jobs name.
const BLOBS: TableDefinition<'_, &[u8; 32], &[u8]> = TableDefinition::new("blobs");

/// Largest blob.
pub const MAX_BLOB_BYTES: usize = 16 * 1024 * 1024;
/// Most bytes of blobs one store keeps.
pub const MAX_BLOB_STORE_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// A stored block: its canonical bytes (what consensus decided) and the certificate.
#[derive(Debug, Clone, BorshSerialize, BorshDeserialize)]
pub struct StoredBlock {
    /// `borsh(Block)`, the decided value.
    pub value: Vec<u8>,
    /// The commit certificate.
    pub certificate: Certificate,
}

impl StoredBlock {
    /// The decoded block.
    pub fn block(&self) -> Result<Block, StoreError> {
        codec::decode(&self.value).map_err(|error| StoreError::Corrupt(error.to_string()))
    }
}

/// What executing a block produced, kept for queries and the event stream.
#[derive(Debug, Clone, Default, BorshSerialize, BorshDeserialize)]
pub struct BlockResults {
    /// One receipt per transaction.
    pub receipts: Vec<Receipt>,
    /// Events of the begin/end-block hooks.
    pub block_events: Vec<Event>,
}

/// Store failures. All of them stop the node: it cannot commit what it cannot store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb failed.
    #[error("database error: {0}")]
    Database(#[from] redb::Error),
    /// The file holds something that does not decode or does not match its chain.
    #[error("store is corrupt: {0}")]
    Corrupt(String),
    /// The data directory belongs to another genesis.
    #[error(
        "the store was created from genesis {stored}, but the genesis given hashes to {given}; \
         use another data directory or the original genesis file"
    )]
    GenesisMismatch {
        /// Hash recorded in the store.
        stored: Hash,
        /// Hash of the genesis given now.
        given: Hash,
    },
    /// The OS random source failed (the state's hash key is drawn from it).
    #[error("random source: {0}")]
    Random(String),
    /// A bound was reached (blob size or blob store size).
    #[error("{0}")]
    Full(String),
}

fn fail<E: Into<redb::Error>>(error: E) -> StoreError {
    StoreError::Database(error.into())
}

/// The store.
#[derive(Debug)]
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) the store file at `path`. A file left by a crash is repaired by redb
    /// here, before anything is read.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = Database::create(path).map_err(fail)?;
        // Create every table up front so read transactions never meet a missing one.
        let txn = db.begin_write().map_err(fail)?;
        {
            txn.open_table(META).map_err(fail)?;
            txn.open_table(BLOCKS).map_err(fail)?;
            txn.open_table(RESULTS).map_err(fail)?;
            txn.open_table(TX_INDEX).map_err(fail)?;
            txn.open_table(STATE).map_err(fail)?;
            txn.open_table(BLOBS).map_err(fail)?;
        }
        txn.commit().map_err(fail)?;
        Ok(Store { db })
    }

    /// The committed height (0 before the first block).
    pub fn height(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(fail)?;
        let meta = txn.open_table(META).map_err(fail)?;
        match meta.get("height").map_err(fail)? {
            None => Ok(0),
            Some(value) => decode_u64(value.value()),
        }
    }

    /// True once genesis was written.
    pub fn is_initialized(&self) -> Result<bool, StoreError> {
        let txn = self.db.begin_read().map_err(fail)?;
        let meta = txn.open_table(META).map_err(fail)?;
        Ok(meta.get("genesis").map_err(fail)?.is_some())
    }

    /// Writes the genesis state at height 0, remembering the genesis document's hash.
    pub fn initialize(&self, genesis_hash: Hash, state: &State) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(fail)?;
        {
            let mut meta = txn.open_table(META).map_err(fail)?;
            meta.insert("genesis", genesis_hash.as_bytes().as_slice())
                .map_err(fail)?;
            meta.insert("height", 0u64.to_le_bytes().as_slice())
                .map_err(fail)?;
            let mut table = txn.open_table(STATE).map_err(fail)?;
            for (key, value) in state.entries() {
                table.insert(key, value).map_err(fail)?;
            }
        }
        txn.commit().map_err(fail)?;
        Ok(())
    }

    /// Checks that the store was created from the genesis hashing to `given`.
    pub fn check_genesis(&self, given: Hash) -> Result<(), StoreError> {
        let txn = self.db.begin_read().map_err(fail)?;
        let meta = txn.open_table(META).map_err(fail)?;
        let stored = meta
            .get("genesis")
            .map_err(fail)?
            .ok_or_else(|| StoreError::Corrupt("no genesis recorded".into()))?;
        let stored = Hash(
            stored
                .value()
                .try_into()
                .map_err(|_| StoreError::Corrupt("genesis hash is not 32 bytes".into()))?,
        );
        if stored != given {
            return Err(StoreError::GenesisMismatch { stored, given });
        }
        Ok(())
    }

    /// Loads the committed state into a ledger and checks it against the last block's header:
    /// height and state root must both match.
    pub fn load(&self) -> Result<(Ledger, Option<StoredBlock>), StoreError> {
        let txn = self.db.begin_read().map_err(fail)?;
        let table = txn.open_table(STATE).map_err(fail)?;
        let mut entries = BTreeMap::new();
        for item in table.iter().map_err(fail)? {
            let (key, value) = item.map_err(fail)?;
            entries.insert(key.value().to_vec(), value.value().to_vec());
        }
        drop(table);
        // The state's hash key is this process's own secret from the OS: nobody can choose keys
        // that pile up in one run of the table's slots.
        let state = State::from_entries_keyed(entries, random_hash_key()?);
        // The full supply audit, once per start: the per-block check only sees each block's
        // writes.
        vcity_ledger::audit_supply(&state)
            .map_err(|error| StoreError::Corrupt(format!("supply audit failed: {error}")))?;
        let ledger = Ledger::from_state(state);
        let height = self.height()?;
        if ledger.height() != Height(height) {
            return Err(StoreError::Corrupt(format!(
                "state is at height {} but the store's committed height is {height}",
                ledger.height()
            )));
        }
        let last = if height == 0 {
            None
        } else {
            let stored = self
                .block(height)?
                .ok_or_else(|| StoreError::Corrupt(format!("block {height} is missing")))?;
            let header = stored.block()?.header;
            if header.state_root != ledger.state_root() {
                return Err(StoreError::Corrupt(format!(
                    "state root {} does not match block {height}'s header root {}",
                    ledger.state_root(),
                    header.state_root
                )));
            }
            Some(stored)
        };
        Ok((ledger, last))
    }

    /// Commits one block durably: block and certificate, receipts and events, transaction index,
    /// state changes and the new height, all in one transaction.
    pub fn commit_block(
        &self,
        value: &[u8],
        certificate: &Certificate,
        execution: &Execution,
    ) -> Result<(), StoreError> {
        let height = execution.context.height.0;
        let stored = codec::encode(&StoredBlock {
            value: value.to_vec(),
            certificate: certificate.clone(),
        });
        let results = codec::encode(&BlockResults {
            receipts: execution.receipts.clone(),
            block_events: execution.block_events.clone(),
        });
        let mut txn = self.db.begin_write().map_err(fail)?;
        txn.set_durability(Durability::Immediate)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        {
            let mut meta = txn.open_table(META).map_err(fail)?;
            let previous = match meta.get("height").map_err(fail)? {
                Some(value) => decode_u64(value.value())?,
                None => 0,
            };
            if previous + 1 != height {
                return Err(StoreError::Corrupt(format!(
                    "committing block {height} on top of height {previous}"
                )));
            }
            meta.insert("height", height.to_le_bytes().as_slice())
                .map_err(fail)?;
            txn.open_table(BLOCKS)
                .map_err(fail)?
                .insert(height, stored.as_slice())
                .map_err(fail)?;
            txn.open_table(RESULTS)
                .map_err(fail)?
                .insert(height, results.as_slice())
                .map_err(fail)?;
            let mut index = txn.open_table(TX_INDEX).map_err(fail)?;
            for (position, tx) in execution.transactions.iter().enumerate() {
                index
                    .insert(tx.hash.as_bytes(), (height, position as u32))
                    .map_err(fail)?;
            }
            write_state(&mut txn.open_table(STATE).map_err(fail)?, &execution.writes)?;
        }
        txn.commit().map_err(fail)?;
        Ok(())
    }

    /// Stores a blob under its content address (idempotent); refuses one over
    /// [`MAX_BLOB_BYTES`] or one that would take the store past [`MAX_BLOB_STORE_BYTES`].
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Hash, StoreError> {
        if bytes.len() > MAX_BLOB_BYTES {
            return Err(StoreError::Full(format!(
                "a blob is at most {MAX_BLOB_BYTES} bytes"
            )));
        }
        let address = vcity_types::compute::content_address(bytes);
        let mut txn = self.db.begin_write().map_err(fail)?;
        txn.set_durability(Durability::Immediate).map_err(fail)?;
        {
            let mut blobs = txn.open_table(BLOBS).map_err(fail)?;
            if blobs.get(address.as_bytes()).map_err(fail)?.is_some() {
                return Ok(address);
            }
            let mut meta = txn.open_table(META).map_err(fail)?;
            let used = match meta.get("blob_bytes").map_err(fail)? {
                None => 0,
                Some(value) => decode_u64(value.value())?,
            };
            let total = used.saturating_add(bytes.len() as u64);
            if total > MAX_BLOB_STORE_BYTES {
                return Err(StoreError::Full("the blob store is full".into()));
            }
            blobs.insert(address.as_bytes(), bytes).map_err(fail)?;
            meta.insert("blob_bytes", total.to_le_bytes().as_slice())
                .map_err(fail)?;
        }
        txn.commit().map_err(fail)?;
        Ok(address)
    }

    /// A blob by its content address.
    pub fn blob(&self, address: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(fail)?;
        let table = txn.open_table(BLOBS).map_err(fail)?;
        Ok(table
            .get(address.as_bytes())
            .map_err(fail)?
            .map(|guard| guard.value().to_vec()))
    }

    /// The block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<StoredBlock>, StoreError> {
        let txn = self.db.begin_read().map_err(fail)?;
        let table = txn.open_table(BLOCKS).map_err(fail)?;
        let Some(bytes) = table.get(height).map_err(fail)? else {
            return Ok(None);
        };
        codec::decode(bytes.value())
            .map(Some)
            .map_err(|error| StoreError::Corrupt(format!("block {height}: {error}")))
    }

    /// The results of the block at `height`.
    pub fn results(&self, height: u64) -> Result<Option<BlockResults>, StoreError> {
        let txn = self.db.begin_read().map_err(fail)?;
        let table = txn.open_table(RESULTS).map_err(fail)?;
        let Some(bytes) = table.get(height).map_err(fail)? else {
            return Ok(None);
        };
        codec::decode(bytes.value())
            .map(Some)
            .map_err(|error| StoreError::Corrupt(format!("results {height}: {error}")))
    }

    /// Where a committed transaction is: its block and its receipt.
    pub fn transaction(&self, hash: &Hash) -> Result<Option<(Block, Receipt)>, StoreError> {
        let position = {
            let txn = self.db.begin_read().map_err(fail)?;
            let table = txn.open_table(TX_INDEX).map_err(fail)?;
            let found = table.get(hash.as_bytes()).map_err(fail)?;
            found.map(|guard| guard.value())
        };
        let Some((height, index)) = position else {
            return Ok(None);
        };
        let block = self
            .block(height)?
            .ok_or_else(|| StoreError::Corrupt(format!("indexed block {height} is missing")))?
            .block()?;
        let receipt = self
            .results(height)?
            .and_then(|results| results.receipts.into_iter().nth(index as usize))
            .ok_or_else(|| {
                StoreError::Corrupt(format!("receipt {index} of block {height} is missing"))
            })?;
        Ok(Some((block, receipt)))
    }
}

fn write_state(
    table: &mut redb::Table<'_, &[u8], &[u8]>,
    writes: &Writes,
) -> Result<(), StoreError> {
    for (key, value) in writes {
        match value {
            Some(value) => {
                table
                    .insert(key.as_slice(), value.as_slice())
                    .map_err(fail)?;
            }
            None => {
                table.remove(key.as_slice()).map_err(fail)?;
            }
        }
    }
    Ok(())
}

fn decode_u64(bytes: &[u8]) -> Result<u64, StoreError> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("height is not 8 bytes".into()))?;
    Ok(u64::from_le_bytes(array))
}

/// A secret for the state's hash, from the OS random source.
fn random_hash_key() -> Result<HashKey, StoreError> {
    let draw = || -> Result<u64, StoreError> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|error| StoreError::Random(error.to_string()))?;
        Ok(u64::from_le_bytes(bytes))
    };
    Ok([draw()?, draw()?])
}
