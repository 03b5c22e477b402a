//! Reminders due at a time, so that no block scans state to find what is due.
//!
//! A reminder sits in a one-second bucket (`{prefix}/due/{second, 12 digits}`), and each page of
//! [`PAGE_S`] seconds that holds any bucket is marked (`{prefix}/page/{page, 12 digits}`).
//! `begin_block` walks from a cursor (`{prefix}/due_cursor`) to the block's time: an unmarked
//! page costs one lookup, a marked one a lookup per second of it, and at most
//! [`MAX_PAGES_PER_BLOCK`] pages are walked per block (a chain that halted for longer catches up
//! over the next blocks; nothing due is ever skipped). A reminder is only a reminder: the
//! component that set it looks at its own state when it fires and may find nothing to do.
//!
//! A bucket is a chunked list ([`push`], [`take_all`]): the bucket's key holds its length and
//! `{key}/{chunk, 6 digits}` holds up to [`CHUNK_ITEMS`] items. (A chunk holds items; a page,
//! above, is a span of seconds.) Setting a reminder reads and rewrites one chunk, never the
//! whole bucket: a block whose results all settle in the same
//! second (a burst, or the simulator's hour-long blocks) stays linear in its reminders.

use crate::keys::Key;
use crate::state::{Overlay, StateRead as _};
use borsh::{BorshDeserialize, BorshSerialize};

/// Seconds per page.
pub(crate) const PAGE_S: u64 = 4_096;
/// Most pages one block walks: about 1.3 years of chain time.
pub(crate) const MAX_PAGES_PER_BLOCK: u64 = 10_000;

fn bucket_key(prefix: &str, second: u64) -> Vec<u8> {
    Key::new(prefix).text("/due/").decimal(second, 12).finish()
}

fn page_key(prefix: &str, page: u64) -> Vec<u8> {
    Key::new(prefix).text("/page/").decimal(page, 12).finish()
}

fn cursor_key(prefix: &str) -> Vec<u8> {
    format!("{prefix}/due_cursor").into_bytes()
}

/// Most items in one chunk of a chunked list.
pub(crate) const CHUNK_ITEMS: u64 = 64;

fn chunk_key(key: &[u8], chunk: u64) -> Vec<u8> {
    Key::extend(key).text("/").decimal(chunk, 6).finish()
}

/// Appends `item` to the chunked list under `key` (see the module docs).
pub(crate) fn push<T: BorshSerialize + BorshDeserialize>(
    state: &mut Overlay<'_>,
    key: Vec<u8>,
    item: T,
) {
    let length: u64 = state.get(&key).unwrap_or(0);
    let chunk = chunk_key(&key, length / CHUNK_ITEMS);
    let mut items: Vec<T> = if length % CHUNK_ITEMS == 0 {
        Vec::new()
    } else {
        state.get(&chunk).unwrap_or_default()
    };
    items.push(item);
    state.put(chunk, &items);
    state.put(key, &(length + 1));
}

/// Removes the chunked list under `key` and gives its items in the order they were pushed.
pub(crate) fn take_all<T: BorshSerialize + BorshDeserialize>(
    state: &mut Overlay<'_>,
    key: Vec<u8>,
) -> Vec<T> {
    let Some(length) = state.get::<u64>(&key) else {
        return Vec::new();
    };
    let mut items = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    for index in 0..length.div_ceil(CHUNK_ITEMS) {
        let chunk = chunk_key(&key, index);
        items.extend(state.get::<Vec<T>>(&chunk).unwrap_or_default());
        state.delete(chunk);
    }
    state.delete(key);
    items
}

/// Sets a reminder of `item` under `prefix` for `at_s` (seconds after genesis). A time already
/// walked past fires at the next walk.
pub(crate) fn remind<T: BorshSerialize + BorshDeserialize>(
    state: &mut Overlay<'_>,
    prefix: &str,
    at_s: u64,
    item: T,
) {
    let cursor: u64 = state.get(&cursor_key(prefix)).unwrap_or(0);
    let second = at_s.max(cursor);
    push(state, bucket_key(prefix, second), item);
    let page = page_key(prefix, second / PAGE_S);
    if state.get::<bool>(&page).is_none() {
        state.put(page, &true);
    }
}

/// Takes every reminder under `prefix` due at or before `now_s`, oldest first.
pub(crate) fn take_due<T: BorshSerialize + BorshDeserialize>(
    state: &mut Overlay<'_>,
    prefix: &str,
    now_s: u64,
) -> Vec<T> {
    let start: u64 = state.get(&cursor_key(prefix)).unwrap_or(0);
    let mut cursor = start;
    let mut due = Vec::new();
    let mut pages = 0;
    while cursor <= now_s && pages < MAX_PAGES_PER_BLOCK {
        pages += 1;
        let page = cursor / PAGE_S;
        let page_end = (page + 1) * PAGE_S;
        if state.get::<bool>(&page_key(prefix, page)).is_none() {
            cursor = page_end;
            continue;
        }
        while cursor < page_end && cursor <= now_s {
            due.extend(take_all::<T>(state, bucket_key(prefix, cursor)));
            cursor += 1;
        }
        if cursor == page_end {
            state.delete(page_key(prefix, page));
        }
    }
    // The cursor never passes the block's time by more than the rest of an empty page, and a
    // reminder set behind it lands at the cursor, so nothing is lost either way.
    let cursor = cursor.min(now_s.saturating_add(1));
    if cursor != start {
        state.put(cursor_key(prefix), &cursor);
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::State;
    use std::collections::BTreeMap;

    /// Items come back in the order pushed, across page boundaries, and nothing of the list is
    /// left behind.
    #[test]
    fn a_chunked_list_returns_its_items_in_order_and_leaves_nothing() {
        let base = State::from_entries(BTreeMap::new());
        for count in [0u64, 1, 63, 64, 65, 128, 200] {
            let mut state = Overlay::new(&base);
            for item in 0..count {
                push(&mut state, b"t/due/1".to_vec(), item);
            }
            let items: Vec<u64> = take_all(&mut state, b"t/due/1".to_vec());
            assert_eq!(items, (0..count).collect::<Vec<_>>(), "{count} items");
            assert!(
                state.writes().values().all(Option::is_none),
                "{count} items: every key of the list is deleted"
            );
        }
    }

    /// The cost this layout exists for: appending to a long list writes its length and one chunk
    /// of at most `CHUNK_ITEMS` items, not the whole list (which made a block's reminders
    /// quadratic in their number when they shared a bucket).
    #[test]
    fn appending_to_a_long_list_rewrites_one_chunk() {
        let mut base = State::from_entries(BTreeMap::new());
        let mut state = Overlay::new(&base);
        for item in 0..1_000u64 {
            push(&mut state, b"t/due/1".to_vec(), item);
        }
        let (writes, _) = state.into_parts();
        base.apply(&writes);
        let mut state = Overlay::new(&base);
        push(&mut state, b"t/due/1".to_vec(), 1_000u64);
        let writes = state.writes();
        assert_eq!(writes.len(), 2, "the length and one chunk");
        let largest = writes.values().flatten().map(Vec::len).max().unwrap_or(0);
        assert!(
            largest <= 4 + 8 * CHUNK_ITEMS as usize,
            "a write of {largest} bytes: more than one chunk"
        );
        let items: Vec<u64> = take_all(&mut state, b"t/due/1".to_vec());
        assert_eq!(items, (0..=1_000).collect::<Vec<_>>());
    }
}
