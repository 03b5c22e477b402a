//! Key-value state and copy-on-write overlays.
//!
//! The committed [`State`] is an ordered map from byte keys to byte values (borsh-encoded by the
//! component that owns the key). Execution never writes to it directly: a block runs in an
//! [`Overlay`] on top of it, each transaction in an overlay on top of the block's, and each
//! transaction's messages in one more. An overlay's writes reach its parent only when the caller
//! merges them, which it does only on success; dropping an overlay discards everything it did.
//! Reads fall through to the parent for keys the overlay has not written.

use crate::error::TxError;
use crate::table::{HashKey, Table};
use borsh::{BorshDeserialize, BorshSerialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use vcity_types::event::Event;

/// Pending writes: `Some(value)` sets, `None` deletes.
pub type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Read access to state.
pub trait StateRead {
    /// The raw value under `key`.
    fn get_raw(&self, key: &[u8]) -> Option<&[u8]>;

    /// The raw values under two keys, read together: a store may overlap their memory accesses,
    /// so two cold keys (a claimant's record and balance) cost about one miss, not two.
    fn get_raw_pair(&self, first: &[u8], second: &[u8]) -> (Option<&[u8]>, Option<&[u8]>) {
        (self.get_raw(first), self.get_raw(second))
    }

    /// The decoded value under `key`. A value that does not decode means the state is corrupt,
    /// which is a broken invariant, not a user error: it panics and halts the chain.
    fn get<T: BorshDeserialize>(&self, key: &[u8]) -> Option<T>
    where
        Self: Sized,
    {
        self.get_raw(key).map(|bytes| decode_value(key, bytes))
    }
}

/// Decodes the value read under `key`; see [`StateRead::get`] for why a failure panics.
pub fn decode_value<T: BorshDeserialize>(key: &[u8], bytes: &[u8]) -> T {
    vcity_types::codec::decode(bytes).unwrap_or_else(|error| {
        panic!(
            "state corrupt: value under {:?} does not decode: {error}",
            String::from_utf8_lossy(key)
        )
    })
}

/// The committed state.
///
/// A compact hash table ([`crate::table`]), so a lookup costs about the same at 100 keys and at
/// 10 million (the distributor's per-claim cost must not grow with the number of lockers,
/// rules §8). Every ordered view ([`State::entries`], [`State::prefix`]) sorts first, so nothing
/// ever depends on hash order; those views run at start-up and in audits, never per transaction.
#[derive(Debug, Clone, Default)]
pub struct State {
    table: Table,
}

impl State {
    /// A state holding `entries`.
    pub fn from_entries(entries: BTreeMap<Vec<u8>, Vec<u8>>) -> State {
        State::from_entries_keyed(entries, HashKey::default())
    }

    /// A state holding `entries`, its table's hash keyed with `hash_key`: a secret the node
    /// draws at start-up, so that nobody can choose keys that pile up in one run of slots
    /// ([`HashKey`]). It changes where entries sit in memory, never what a read returns.
    pub fn from_entries_keyed(entries: BTreeMap<Vec<u8>, Vec<u8>>, hash_key: HashKey) -> State {
        let mut state = State {
            table: Table::with_hash_key(hash_key),
        };
        for (key, value) in &entries {
            state.table.insert(key, value);
        }
        state
    }

    /// Applies writes.
    pub fn apply(&mut self, writes: &Writes) {
        for (key, value) in writes {
            match value {
                Some(value) => self.table.insert(key, value),
                None => self.table.remove(key),
            }
        }
    }

    /// Every entry, in key order (sorts: O(n log n)).
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut sorted: Vec<(&[u8], &[u8])> = self.table.records().collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
        sorted.into_iter()
    }

    /// Entries whose key starts with `prefix`, in key order (scans and sorts: for audits and
    /// queries, not for transactions).
    pub fn prefix<'a>(&'a self, prefix: &'a [u8]) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        let mut sorted: Vec<(&[u8], &[u8])> = self
            .table
            .records()
            .filter(|(key, _)| key.starts_with(prefix))
            .collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
        sorted.into_iter()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }

    /// Drops the garbage that rewrites left in storage now. It also happens on its own, during
    /// [`State::apply`], once garbage outweighs the live data: a pause proportional to the
    /// state's memory, after at least as many bytes of rewrites.
    pub fn compact(&mut self) {
        self.table.compact();
    }

    /// Bytes of memory the state holds (keys, values, index and not yet compacted garbage).
    pub fn memory_bytes(&self) -> usize {
        self.table.bytes()
    }
}

/// Equal when both hold the same entries (however they were written).
impl PartialEq for State {
    fn eq(&self, other: &State) -> bool {
        self.len() == other.len()
            && self
                .table
                .records()
                .all(|(key, value)| other.table.get(key) == Some(value))
    }
}

impl Eq for State {}

impl StateRead for State {
    fn get_raw(&self, key: &[u8]) -> Option<&[u8]> {
        self.table.get(key)
    }

    fn get_raw_pair(&self, first: &[u8], second: &[u8]) -> (Option<&[u8]>, Option<&[u8]>) {
        self.table.get_pair(first, second)
    }
}

/// Writes and events on top of a parent state; see the module docs.
pub struct Overlay<'a> {
    parent: &'a dyn StateRead,
    writes: Writes,
    events: Vec<Event>,
}

impl std::fmt::Debug for Overlay<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlay")
            .field("writes", &self.writes.len())
            .field("events", &self.events.len())
            .finish()
    }
}

impl<'a> Overlay<'a> {
    /// An empty overlay on `parent`.
    pub fn new(parent: &'a dyn StateRead) -> Overlay<'a> {
        Overlay::with_writes(parent, Writes::new())
    }

    /// An overlay on `parent` that already holds `writes` (the mempool keeps its pending writes
    /// between calls this way).
    pub fn with_writes(parent: &'a dyn StateRead, writes: Writes) -> Overlay<'a> {
        Overlay {
            parent,
            writes,
            events: Vec::new(),
        }
    }

    /// Sets `key` to the encoding of `value`.
    pub fn put<T: BorshSerialize>(&mut self, key: Vec<u8>, value: &T) {
        self.writes
            .insert(key, Some(vcity_types::codec::encode(value)));
    }

    /// Deletes `key`.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Records an event (its VCAI amounts in the internal unit; the ledger converts a block's
    /// events to the nominal unit where it collects them, see [`crate::token::repricing`]).
    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    /// The writes and events, consuming the overlay.
    pub fn into_parts(self) -> (Writes, Vec<Event>) {
        (self.writes, self.events)
    }

    /// Merges a child overlay's writes and events into this one (the child succeeded).
    pub fn merge(&mut self, writes: Writes, events: Vec<Event>) {
        self.writes.extend(writes);
        self.events.extend(events);
    }

    /// The writes so far.
    pub fn writes(&self) -> &Writes {
        &self.writes
    }

    /// Runs `body` in a child overlay and merges it only if `body` succeeds.
    pub fn atomically<T>(
        &mut self,
        body: impl FnOnce(&mut Overlay<'_>) -> Result<T, TxError>,
    ) -> Result<T, TxError> {
        let mut child = Overlay::new(&*self);
        let result = body(&mut child);
        if result.is_ok() {
            let (writes, events) = child.into_parts();
            self.merge(writes, events);
        }
        result
    }
}

impl StateRead for Overlay<'_> {
    fn get_raw(&self, key: &[u8]) -> Option<&[u8]> {
        match self.writes.get(key) {
            Some(Some(value)) => Some(value.as_slice()),
            Some(None) => None,
            None => self.parent.get_raw(key),
        }
    }

    fn get_raw_pair(&self, first: &[u8], second: &[u8]) -> (Option<&[u8]>, Option<&[u8]>) {
        match (self.writes.get(first), self.writes.get(second)) {
            (None, None) => self.parent.get_raw_pair(first, second),
            _ => (self.get_raw(first), self.get_raw(second)),
        }
    }
}

/// A read-only view of borrowed writes over a parent: what an [`Overlay`] reads like, without
/// owning (or copying) its writes.
pub struct Layer<'a> {
    writes: &'a Writes,
    parent: &'a dyn StateRead,
}

impl std::fmt::Debug for Layer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layer")
            .field("writes", &self.writes.len())
            .finish()
    }
}

impl<'a> Layer<'a> {
    /// `writes` over `parent`.
    pub fn new(writes: &'a Writes, parent: &'a dyn StateRead) -> Layer<'a> {
        Layer { writes, parent }
    }
}

impl StateRead for Layer<'_> {
    fn get_raw(&self, key: &[u8]) -> Option<&[u8]> {
        match self.writes.get(key) {
            Some(value) => value.as_deref(),
            None => self.parent.get_raw(key),
        }
    }
}

/// A reader that remembers every key read through it, with the value it found. The mempool
/// checks each transaction through one, so that after a block it re-checks only the
/// transactions that would now read something else ([`crate::Ledger::check_tx_footprint`]).
/// Recording changes no answer.
pub struct ReadLog<'a> {
    parent: &'a dyn StateRead,
    reads: RefCell<Reads>,
}

/// Keys read, each with the value found, in the order read (a key read twice appears twice,
/// with the same value: the parent does not change under a reader). One buffer, so that the
/// mempool's record of a waiting transaction costs one allocation, not two per key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads {
    /// Entries of `key length (u32 LE) ‖ key ‖ value length + 1 (u32 LE; 0 = absent) ‖ value`.
    bytes: Vec<u8>,
}

impl Reads {
    fn push(&mut self, key: &[u8], value: Option<&[u8]>) {
        let length = |bytes: usize| u32::try_from(bytes).expect("keys and values fit u32");
        self.bytes
            .extend_from_slice(&length(key.len()).to_le_bytes());
        self.bytes.extend_from_slice(key);
        match value {
            None => self.bytes.extend_from_slice(&0u32.to_le_bytes()),
            Some(value) => {
                self.bytes
                    .extend_from_slice(&(length(value.len()) + 1).to_le_bytes());
                self.bytes.extend_from_slice(value);
            }
        }
    }

    /// Each read: the key and the value found (`None`: absent).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
        let mut rest = self.bytes.as_slice();
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let take = |rest: &mut &'_ [u8]| {
                let (head, tail) = rest.split_at(4);
                *rest = tail;
                u32::from_le_bytes(head.try_into().expect("four bytes")) as usize
            };
            let key_length = take(&mut rest);
            let (key, tail) = rest.split_at(key_length);
            rest = tail;
            let value = match take(&mut rest) {
                0 => None,
                stored => {
                    let (value, tail) = rest.split_at(stored - 1);
                    rest = tail;
                    Some(value)
                }
            };
            Some((key, value))
        })
    }

    /// True when nothing was read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl std::fmt::Debug for ReadLog<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadLog")
            .field("bytes", &self.reads.borrow().bytes.len())
            .finish()
    }
}

impl<'a> ReadLog<'a> {
    /// A log of reads from `parent`.
    pub fn new(parent: &'a dyn StateRead) -> ReadLog<'a> {
        ReadLog {
            parent,
            // Room for a transfer's reads without growing.
            reads: RefCell::new(Reads {
                bytes: Vec::with_capacity(1_024),
            }),
        }
    }

    /// The reads so far, consuming the log.
    pub fn into_reads(self) -> Reads {
        let mut reads = self.reads.into_inner();
        reads.bytes.shrink_to_fit();
        reads
    }
}

impl StateRead for ReadLog<'_> {
    fn get_raw(&self, key: &[u8]) -> Option<&[u8]> {
        let value = self.parent.get_raw(key);
        self.reads.borrow_mut().push(key, value);
        value
    }

    fn get_raw_pair(&self, first: &[u8], second: &[u8]) -> (Option<&[u8]>, Option<&[u8]>) {
        let (a, b) = self.parent.get_raw_pair(first, second);
        let mut reads = self.reads.borrow_mut();
        reads.push(first, a);
        reads.push(second, b);
        (a, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_log_returns_what_it_read_and_records_it_in_order() {
        let mut state = State::default();
        state.apply(&Writes::from([
            (b"a".to_vec(), Some(vec![1, 2])),
            (b"empty".to_vec(), Some(Vec::new())),
        ]));
        let log = ReadLog::new(&state);
        assert_eq!(log.get_raw(b"a"), Some(&[1u8, 2][..]));
        assert_eq!(
            log.get_raw_pair(b"missing", b"empty"),
            (None, Some(&[][..]))
        );
        assert_eq!(log.get_raw(b"a"), Some(&[1u8, 2][..]));
        let reads = log.into_reads();
        let listed: Vec<(&[u8], Option<&[u8]>)> = reads.iter().collect();
        assert_eq!(
            listed,
            vec![
                (&b"a"[..], Some(&[1u8, 2][..])),
                (&b"missing"[..], None),
                (&b"empty"[..], Some(&[][..])),
                (&b"a"[..], Some(&[1u8, 2][..])),
            ]
        );
        assert!(ReadLog::new(&state).into_reads().is_empty());
    }

    #[test]
    fn overlay_reads_through_and_shadows() {
        let mut state = State::default();
        state.apply(&Writes::from([
            (b"a".to_vec(), Some(vec![1])),
            (b"b".to_vec(), Some(vec![2])),
        ]));
        let mut overlay = Overlay::new(&state);
        overlay.put(b"a".to_vec(), &7u8);
        overlay.delete(b"b".to_vec());
        assert_eq!(overlay.get::<u8>(b"a"), Some(7));
        assert_eq!(overlay.get_raw(b"b"), None);
        assert_eq!(state.get_raw(b"b"), Some(&[2u8][..]));
        // A paired read sees the overlay's writes and deletions like two single reads.
        assert_eq!(overlay.get_raw_pair(b"a", b"b"), (Some(&[7u8][..]), None));
        assert_eq!(
            Overlay::new(&overlay).get_raw_pair(b"b", b"a"),
            (None, Some(&[7u8][..]))
        );
        assert_eq!(
            state.get_raw_pair(b"b", b"a"),
            (Some(&[2u8][..]), Some(&[1u8][..]))
        );
    }

    #[test]
    fn the_hash_key_changes_nothing_a_reader_sees() {
        let entries: BTreeMap<Vec<u8>, Vec<u8>> = (0u32..2_000)
            .map(|index| {
                (
                    format!("k/{index}").into_bytes(),
                    index.to_le_bytes().to_vec(),
                )
            })
            .collect();
        let mut public = State::from_entries(entries.clone());
        let mut keyed = State::from_entries_keyed(entries, [7, 11]);
        let writes: Writes = (0u32..3_000)
            .map(|index| {
                let value = (index % 3 != 0).then(|| vec![1; (index % 17) as usize]);
                (format!("k/{}", index * 7 % 2_500).into_bytes(), value)
            })
            .collect();
        public.apply(&writes);
        keyed.apply(&writes);
        assert_eq!(public, keyed);
        assert!(public.entries().eq(keyed.entries()));
        assert!(public.prefix(b"k/1").eq(keyed.prefix(b"k/1")));
        assert_eq!(
            public.get_raw_pair(b"k/7", b"k/8"),
            keyed.get_raw_pair(b"k/7", b"k/8")
        );
        assert_eq!(
            crate::Ledger::from_state(public).state_root(),
            crate::Ledger::from_state(keyed).state_root()
        );
    }

    #[test]
    fn failed_atomic_body_leaves_no_trace() {
        let state = State::default();
        let mut overlay = Overlay::new(&state);
        let result: Result<(), TxError> = overlay.atomically(|inner| {
            inner.put(b"x".to_vec(), &1u8);
            Err(TxError::EmptyTransaction)
        });
        assert!(result.is_err());
        assert!(overlay.writes().is_empty());
        overlay
            .atomically(|inner| {
                inner.put(b"x".to_vec(), &1u8);
                Ok(())
            })
            .expect("succeeds");
        assert_eq!(overlay.get::<u8>(b"x"), Some(1));
    }

    #[test]
    fn compaction_keeps_the_entries_and_frees_the_garbage() {
        let mut state = State::default();
        for round in 1..4u8 {
            state.apply(
                &(0..100u8)
                    .map(|key| (vec![key], Some(vec![round; usize::from(round)])))
                    .collect(),
            );
        }
        state.apply(&Writes::from([(vec![7], None)]));
        let before: Vec<(Vec<u8>, Vec<u8>)> = state
            .entries()
            .map(|(key, value)| (key.to_vec(), value.to_vec()))
            .collect();
        let held = state.memory_bytes();
        state.compact();
        assert!(state.memory_bytes() < held, "garbage freed");
        let after: Vec<(Vec<u8>, Vec<u8>)> = state
            .entries()
            .map(|(key, value)| (key.to_vec(), value.to_vec()))
            .collect();
        assert_eq!(before, after);
        assert_eq!(state.len(), 99);
        assert_eq!(state.get_raw(&[3]), Some(&[3u8, 3, 3][..]));
        assert_eq!(state.get_raw(&[7]), None);
    }

    #[test]
    fn prefix_iterates_in_order() {
        let mut state = State::default();
        state.apply(&Writes::from([
            (b"p/2".to_vec(), Some(vec![2])),
            (b"p/1".to_vec(), Some(vec![1])),
            (b"q/1".to_vec(), Some(vec![3])),
        ]));
        let keys: Vec<&[u8]> = state.prefix(b"p/").map(|(key, _)| key).collect();
        assert_eq!(keys, vec![&b"p/1"[..], &b"p/2"[..]]);
    }
}
