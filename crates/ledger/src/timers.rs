//! Reminders due at a time, so that no block scans state to find what is due.
//!
//! A reminder sits in a one-second bucket (`{prefix}/due/{second, 12 digits}`), and each page of
//! [`PAGE_S`] seconds that holds any bucket is marked (`{prefix}/page/{page, 12 digits}`).
//! `begin_block` walks from a cursor (`{prefix}/due_cursor`) to the block's time: an unmarked
//! page costs one lookup, a marked one a lookup per second of it, and at most
//! [`MAX_PAGES_PER_BLOCK`] pages are walked per block (a chain that halted for longer catches up
//! over the next blocks; nothing due is ever skipped). A reminder is only a reminder: the
//! component that set it looks at its own state when it fires and may find nothing to do.

use crate::state::{Overlay, StateRead as _};
use borsh::{BorshDeserialize, BorshSerialize};

/// Seconds per page.
pub(crate) const PAGE_S: u64 = 4_096;
/// Most pages one block walks: about 1.3 years of chain time.
pub(crate) const MAX_PAGES_PER_BLOCK: u64 = 10_000;

fn bucket_key(prefix: &str, second: u64) -> Vec<u8> {
    format!("{prefix}/due/{second:012}").into_bytes()
}

fn page_key(prefix: &str, page: u64) -> Vec<u8> {
    format!("{prefix}/page/{page:012}").into_bytes()
}

fn cursor_key(prefix: &str) -> Vec<u8> {
    format!("{prefix}/due_cursor").into_bytes()
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
    let key = bucket_key(prefix, second);
    let mut items: Vec<T> = state.get(&key).unwrap_or_default();
    items.push(item);
    state.put(key, &items);
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
            let key = bucket_key(prefix, cursor);
            if let Some(items) = state.get::<Vec<T>>(&key) {
                state.delete(key);
                due.extend(items);
            }
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
