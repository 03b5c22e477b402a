//! The committed state's storage: an open-addressing hash table over one append-only arena.
//!
//! Why not a `BTreeMap` or a `HashMap` of `Vec`s: the distributor's cost per claim must not grow
//! with the number of lockers (rules §8, compass P2), and at millions of keys a lookup's cost is
//! the number of cache lines it misses. A `BTreeMap` walks ~20 levels; a `HashMap<Vec, Vec>`
//! misses on its control bytes, its bucket, the key's allocation and the value's, and the entries
//! end up scattered over every page the process ever freed. Here a lookup touches one slot (the
//! 64-bit hash is stored, so a probe almost never reads a wrong record) and then one record in
//! the arena, where key and value lie side by side; the arena is dense, so the pages a lookup can
//! touch are only those of live data.
//!
//! Records are `[key length: u32][value length: u32][key][value]`; the top bit of the key length
//! marks a record dead. A value rewritten with the same length (balances, counters, most
//! fixed-size records) is overwritten in place; otherwise the new record is appended and the old
//! one becomes garbage, which [`Table::insert`]/[`Table::remove`] compact away once it outweighs
//! the live data (amortised O(1) per write). Deletion uses backward shifting, so probe sequences
//! never hold tombstones.
//!
//! Hash order never leaves this module: the only iteration, [`Table::records`], walks the arena,
//! and every caller that needs an order sorts (`State::entries`). The hash therefore decides
//! where a key sits in memory and how fast it is found, never what a read returns, so the hash
//! key ([`HashKey`]) may differ between nodes. Keys are chosen by users (any 32 bytes can
//! receive a transfer, and the account id is in the balance key), so with a hash everyone can
//! compute, anyone could mint thousands of keys whose home slot is one chosen slot: a run of
//! occupied slots that every lookup of a victim key (the distributor's state, read every block)
//! would walk (hash flooding). A node therefore keys the hash with a secret it draws itself at
//! start-up (`vcity-node`'s store); the ledger draws no randomness, and without a key (tests,
//! benchmarks, the simulator) the key is zero.

use std::hash::{Hash, Hasher};

/// Marks a record dead in its key-length word.
const DEAD: u32 = 1 << 31;
/// Bytes before a record's key.
const HEADER: usize = 8;
/// Fewest slots.
const MIN_SLOTS: usize = 16;
/// Garbage below this is never worth a compaction (tiny in unit tests, so they compact often).
const COMPACT_FLOOR_BYTES: usize = if cfg!(test) { 256 } else { 1 << 20 };

/// One slot: the key's full hash and the record's arena offset plus one (0: empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    hash: u64,
    offset_plus_one: u64,
}

impl Slot {
    fn new(hash: u64, offset: usize) -> Slot {
        Slot {
            hash,
            offset_plus_one: offset as u64 + 1,
        }
    }

    fn is_empty(&self) -> bool {
        self.offset_plus_one == 0
    }

    fn offset(&self) -> usize {
        usize::try_from(self.offset_plus_one - 1).expect("arena offsets fit usize")
    }
}

/// The secret that keys the table's hash (see the module docs): 128 bits, so that nobody who
/// does not know it can predict which keys share a home slot.
pub type HashKey = [u64; 2];

/// Byte-string keys to byte-string values; see the module docs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    slots: Vec<Slot>,
    arena: Vec<u8>,
    len: usize,
    garbage_bytes: usize,
    hash_key: HashKey,
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

/// One record of an arena, parsed from its header.
struct Record<'a> {
    key: &'a [u8],
    value: &'a [u8],
    /// Header, key and value: where the next record starts.
    size: usize,
    dead: bool,
}

impl Record<'_> {
    fn at(arena: &[u8], offset: usize) -> Record<'_> {
        let key_word = read_u32(arena, offset);
        let key_length = (key_word & !DEAD) as usize;
        let value_length = read_u32(arena, offset + 4) as usize;
        let key_start = offset + HEADER;
        let value_start = key_start + key_length;
        Record {
            key: &arena[key_start..value_start],
            value: &arena[value_start..value_start + value_length],
            size: HEADER + key_length + value_length,
            dead: key_word & DEAD != 0,
        }
    }
}

/// Where a key is, or where it would go.
enum Probe {
    Found(usize),
    Vacant(usize),
}

impl Table {
    /// An empty table whose hash is keyed with `hash_key`.
    pub(crate) fn with_hash_key(hash_key: HashKey) -> Table {
        Table {
            hash_key,
            ..Table::default()
        }
    }

    /// std's `DefaultHasher` (SipHash-1-3 today) over the secret, then the key: the secret words
    /// enter the hasher's state before any byte of the key, so the outputs cannot be predicted
    /// without them.
    fn hash_of(&self, key: &[u8]) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        hasher.write_u64(self.hash_key[0]);
        hasher.write_u64(self.hash_key[1]);
        key.hash(&mut hasher);
        hasher.finish()
    }

    /// Number of keys.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn home(&self, hash: u64) -> usize {
        // The low bits pick the slot; with a power-of-two table this is `hash mod slots`.
        (hash as usize) & self.mask()
    }

    /// The record at `offset`.
    fn record(&self, offset: usize) -> Record<'_> {
        Record::at(&self.arena, offset)
    }

    /// The key and value of the record `slot` names.
    fn slot_record(&self, slot: Slot) -> Record<'_> {
        self.record(slot.offset())
    }

    fn probe(&self, key: &[u8], hash: u64) -> Probe {
        if self.slots.is_empty() {
            return Probe::Vacant(0);
        }
        let mut index = self.home(hash);
        loop {
            let slot = self.slots[index];
            if slot.is_empty() {
                return Probe::Vacant(index);
            }
            if slot.hash == hash && self.slot_record(slot).key == key {
                return Probe::Found(index);
            }
            index = (index + 1) & self.mask();
        }
    }

    /// The value under `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&[u8]> {
        match self.probe(key, self.hash_of(key)) {
            Probe::Found(index) => Some(self.slot_record(self.slots[index]).value),
            Probe::Vacant(_) => None,
        }
    }

    /// The values under two keys, with the memory accesses of both lookups overlapped: both
    /// slots are loaded before either is inspected, then both records are compared, so two cold
    /// keys cost about two memory latencies instead of four.
    pub(crate) fn get_pair(&self, first: &[u8], second: &[u8]) -> (Option<&[u8]>, Option<&[u8]>) {
        if self.slots.is_empty() {
            return (None, None);
        }
        let (first_hash, second_hash) = (self.hash_of(first), self.hash_of(second));
        let (first_home, second_home) = (self.home(first_hash), self.home(second_hash));
        // Two independent loads, issued back to back.
        let (first_slot, second_slot) = (self.slots[first_home], self.slots[second_home]);
        // The common case: each home slot holds its key (or is empty). Name both records before
        // comparing either, so the processor fetches them together.
        let candidate =
            |slot: Slot, hash: u64| (!slot.is_empty() && slot.hash == hash).then(|| slot.offset());
        match (
            candidate(first_slot, first_hash),
            candidate(second_slot, second_hash),
        ) {
            (Some(first_offset), Some(second_offset)) => {
                let (first_record, second_record) =
                    (self.record(first_offset), self.record(second_offset));
                if first_record.key == first && second_record.key == second {
                    return (Some(first_record.value), Some(second_record.value));
                }
            }
            _ if first_slot.is_empty() && second_slot.is_empty() => return (None, None),
            _ => {}
        }
        (self.get(first), self.get(second))
    }

    fn append(&mut self, key: &[u8], value: &[u8]) -> usize {
        let key_length = u32::try_from(key.len())
            .ok()
            .filter(|length| length & DEAD == 0)
            .expect("state keys are far shorter than 2 GiB");
        let value_length = u32::try_from(value.len()).expect("state values are shorter than 4 GiB");
        let offset = self.arena.len();
        self.arena.extend_from_slice(&key_length.to_le_bytes());
        self.arena.extend_from_slice(&value_length.to_le_bytes());
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
        offset
    }

    fn kill(&mut self, offset: usize) {
        let size = self.record(offset).size;
        let word = read_u32(&self.arena, offset) | DEAD;
        self.arena[offset..offset + 4].copy_from_slice(&word.to_le_bytes());
        self.garbage_bytes += size;
    }

    /// Sets `key` to `value`.
    pub(crate) fn insert(&mut self, key: &[u8], value: &[u8]) {
        // Keep the load at most 3/4 so probe runs stay short.
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.resize((self.slots.len() * 2).max(MIN_SLOTS));
        }
        let hash = self.hash_of(key);
        match self.probe(key, hash) {
            Probe::Found(index) => {
                let offset = self.slots[index].offset();
                let Record {
                    value: old, size, ..
                } = self.record(offset);
                if old.len() == value.len() {
                    let value_start = offset + size - value.len();
                    self.arena[value_start..offset + size].copy_from_slice(value);
                } else {
                    self.kill(offset);
                    let offset = self.append(key, value);
                    self.slots[index] = Slot::new(hash, offset);
                    self.compact_if_worth_it();
                }
            }
            Probe::Vacant(index) => {
                let offset = self.append(key, value);
                self.slots[index] = Slot::new(hash, offset);
                self.len += 1;
            }
        }
    }

    /// Deletes `key` (nothing if absent).
    pub(crate) fn remove(&mut self, key: &[u8]) {
        let Probe::Found(mut hole) = self.probe(key, self.hash_of(key)) else {
            return;
        };
        self.kill(self.slots[hole].offset());
        self.len -= 1;
        // Backward shift: pull later members of the probe run into the hole unless that would
        // move them before their home slot.
        let mut next = (hole + 1) & self.mask();
        loop {
            let slot = self.slots[next];
            if slot.is_empty() {
                break;
            }
            let home = self.home(slot.hash);
            let distance_to_next = next.wrapping_sub(home) & self.mask();
            let distance_to_hole = hole.wrapping_sub(home) & self.mask();
            if distance_to_hole <= distance_to_next {
                self.slots[hole] = slot;
                hole = next;
            }
            next = (next + 1) & self.mask();
        }
        self.slots[hole] = Slot::default();
        self.compact_if_worth_it();
    }

    /// Rebuilds the slots at `capacity` (a power of two) from the stored hashes.
    fn resize(&mut self, capacity: usize) {
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); capacity]);
        for slot in old.into_iter().filter(|slot| !slot.is_empty()) {
            let mut index = self.home(slot.hash);
            while !self.slots[index].is_empty() {
                index = (index + 1) & self.mask();
            }
            self.slots[index] = slot;
        }
    }

    /// Rewrites the arena without its dead records once they outweigh the live ones, keeping
    /// the live records in their order (so data written together stays together).
    fn compact_if_worth_it(&mut self) {
        if self.garbage_bytes < COMPACT_FLOOR_BYTES || self.garbage_bytes * 2 < self.arena.len() {
            return;
        }
        self.compact();
    }

    /// Rewrites the arena without its dead records: one pass over the arena and one over the
    /// slots, a pause proportional to the memory held (see `docs/benchmarks.md`, P2).
    pub(crate) fn compact(&mut self) {
        let mut old = std::mem::take(&mut self.arena);
        self.arena = Vec::with_capacity(old.len() - self.garbage_bytes);
        let mut offset = 0;
        while offset < old.len() {
            let Record { size, dead, .. } = Record::at(&old, offset);
            if !dead {
                let moved_to = self.arena.len() as u64;
                self.arena.extend_from_slice(&old[offset..offset + size]);
                // The old header, no longer needed, now says where the record went: each slot
                // then finds its new offset with one load, and the slots' loads are independent
                // (a search through a table of moves would chain a miss per step: seconds at
                // millions of keys).
                old[offset..offset + HEADER].copy_from_slice(&moved_to.to_le_bytes());
            }
            offset += size;
        }
        for slot in self.slots.iter_mut().filter(|slot| !slot.is_empty()) {
            let at = slot.offset();
            let mut moved_to = [0u8; HEADER];
            moved_to.copy_from_slice(&old[at..at + HEADER]);
            let moved_to = usize::try_from(u64::from_le_bytes(moved_to)).expect("fits usize");
            *slot = Slot::new(slot.hash, moved_to);
        }
        self.garbage_bytes = 0;
    }

    /// Every live record, in arena order (not a meaningful order: callers sort).
    pub(crate) fn records(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut offset = 0;
        std::iter::from_fn(move || {
            while offset < self.arena.len() {
                let record = self.record(offset);
                offset += record.size;
                if !record.dead {
                    return Some((record.key, record.value));
                }
            }
            None
        })
    }

    /// The farthest any key sits from its home slot: the longest walk a lookup can take.
    #[cfg(test)]
    fn longest_displacement(&self) -> usize {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| !slot.is_empty())
            .map(|(index, slot)| index.wrapping_sub(self.home(slot.hash)) & self.mask())
            .max()
            .unwrap_or(0)
    }

    /// Memory held: slots and arena, garbage included.
    pub(crate) fn bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>() + self.arena.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn check(table: &Table, model: &BTreeMap<Vec<u8>, Vec<u8>>) {
        assert_eq!(table.len(), model.len());
        for (key, value) in model {
            assert_eq!(table.get(key), Some(value.as_slice()));
        }
        let mut records: Vec<(Vec<u8>, Vec<u8>)> = table
            .records()
            .map(|(key, value)| (key.to_vec(), value.to_vec()))
            .collect();
        records.sort();
        let expected: Vec<(Vec<u8>, Vec<u8>)> = model
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        assert_eq!(records, expected);
    }

    proptest! {
        // Differential test against a BTreeMap: inserts (same and different value lengths),
        // removals and lookups of absent keys over a small key space, so probe runs collide,
        // removals shift them and garbage builds up until compaction.
        #[test]
        fn behaves_like_a_map(
            operations in prop::collection::vec((0u16..300, 0usize..40, any::<bool>()), 1..3_000),
            hash_key in any::<[u64; 2]>(),
        ) {
            let mut table = Table::with_hash_key(hash_key);
            let mut model = BTreeMap::new();
            for (index, (key, value_length, delete)) in operations.into_iter().enumerate() {
                let key = format!("k/{key}").into_bytes();
                if delete {
                    table.remove(&key);
                    model.remove(&key);
                } else {
                    let value = vec![index as u8; value_length];
                    table.insert(&key, &value);
                    model.insert(key.clone(), value);
                }
                prop_assert_eq!(table.get(&key), model.get(&key).map(Vec::as_slice));
                prop_assert_eq!(table.get(b"absent"), None);
                // The paired read agrees with two single reads, present or absent, in any order.
                let other = format!("k/{}", index % 300).into_bytes();
                prop_assert_eq!(table.get_pair(&key, &other), (table.get(&key), table.get(&other)));
                prop_assert_eq!(table.get_pair(&other, &key), (table.get(&other), table.get(&key)));
                prop_assert_eq!(table.get_pair(b"absent", &key), (None, table.get(&key)));
            }
            check(&table, &model);
        }
    }

    #[test]
    fn compaction_keeps_every_live_record() {
        let mut table = Table::default();
        let mut model = BTreeMap::new();
        // Each round rewrites every key with a longer value: garbage grows past the floor and
        // past half the arena, so compaction runs several times.
        for round in 1..40usize {
            for key in 0..2_000u32 {
                let key = key.to_be_bytes().to_vec();
                let value = vec![round as u8; round * 8];
                table.insert(&key, &value);
                model.insert(key, value);
            }
        }
        check(&table, &model);
        assert!(table.bytes() < 4 * (2_000 * (39 * 8 + 12) + 4_096 * 16));
    }

    #[test]
    fn a_secret_hash_key_scatters_keys_chosen_to_collide() {
        // What an attacker can do against a hash everyone can compute: pick account ids whose
        // balance keys all have the same home slot in a table of 512 slots (300 keys).
        let public = Table::default();
        let colliding: Vec<Vec<u8>> = (0u64..)
            .map(|id| format!("bank/balance/{id:064x}/VCAI").into_bytes())
            .filter(|key| public.hash_of(key) & 511 == 0)
            .take(300)
            .collect();
        let mut flooded = Table::default();
        let mut keyed = Table::with_hash_key([0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344]);
        for key in &colliding {
            flooded.insert(key, b"1");
            keyed.insert(key, b"1");
        }
        assert_eq!(flooded.slots.len(), 512);
        // One run of 300 slots: the last key is found after 299 probes.
        assert_eq!(flooded.longest_displacement(), 299);
        // Under a key the attacker does not know, the same keys land like any others.
        let longest = keyed.longest_displacement();
        assert!(longest < 30, "{longest}");
        for key in &colliding {
            assert_eq!(keyed.get(key), Some(&b"1"[..]));
        }
    }

    #[test]
    fn removing_everything_leaves_an_empty_table() {
        let mut table = Table::default();
        for key in 0..5_000u32 {
            table.insert(&key.to_le_bytes(), b"v");
        }
        for key in (0..5_000u32).rev() {
            table.remove(&key.to_le_bytes());
        }
        assert_eq!(table.len(), 0);
        assert_eq!(table.records().count(), 0);
        assert_eq!(table.get(&7u32.to_le_bytes()), None);
    }
}
