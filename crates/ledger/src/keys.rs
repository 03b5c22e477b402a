//! State keys are text paths (docs/protocol.md, "State keys"): readable in a proof or a state
//! dump, and sorted as their numbers sort because decimals are zero-padded. The keys every task
//! touches (balances, nonces, node and job records, reminder buckets) are built here byte by byte
//! instead of with `format!`, whose machinery cost 6% of a simulated week (docs/benchmarks.md,
//! P7). The bytes are the same; the tests compare them with `format!`'s.

/// A key under construction: a prefix, then parts in order.
pub(crate) struct Key(Vec<u8>);

impl Key {
    /// Starts a key with `prefix`, with room for an account and a padded number after it.
    pub(crate) fn new(prefix: &str) -> Key {
        let mut bytes = Vec::with_capacity(prefix.len() + 96);
        bytes.extend_from_slice(prefix.as_bytes());
        Key(bytes)
    }

    /// Starts a key from existing key bytes.
    pub(crate) fn extend(key: &[u8]) -> Key {
        let mut bytes = Vec::with_capacity(key.len() + 24);
        bytes.extend_from_slice(key);
        Key(bytes)
    }

    /// Appends text as it is.
    pub(crate) fn text(mut self, text: &str) -> Key {
        self.0.extend_from_slice(text.as_bytes());
        self
    }

    /// Appends 32 bytes as 64 lowercase hex digits (an account, a hash).
    pub(crate) fn hex(mut self, bytes: &[u8; 32]) -> Key {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for byte in bytes {
            self.0.push(DIGITS[usize::from(byte >> 4)]);
            self.0.push(DIGITS[usize::from(byte & 0x0f)]);
        }
        self
    }

    /// Appends `value` in decimal, zero-padded to at least `width` digits (`{value:0width$}`).
    pub(crate) fn decimal(mut self, value: u64, width: usize) -> Key {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut rest = value;
        loop {
            start -= 1;
            // `rest % 10` is below 10, so the cast keeps it.
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        let used = digits.len() - start;
        self.0
            .extend(std::iter::repeat_n(b'0', width.saturating_sub(used)));
        self.0.extend_from_slice(&digits[start..]);
        self
    }

    /// The key's bytes.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Key;
    use proptest::prelude::*;

    #[test]
    fn edge_numbers_pad_as_format_does() {
        for value in [0, 1, 9, 10, 99, 999_999, 1_000_000, u64::MAX] {
            for width in [0, 1, 6, 10, 12, 20, 24] {
                assert_eq!(
                    Key::new("p/").decimal(value, width).finish(),
                    format!("p/{value:0width$}").into_bytes(),
                    "{value} at {width}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn keys_are_the_bytes_format_gives(
            bytes in proptest::array::uniform32(any::<u8>()),
            value in any::<u64>(),
            width in 0usize..24,
        ) {
            let built = Key::new("bank/balance/").hex(&bytes).text("/").decimal(value, width).finish();
            let formatted =
                format!("bank/balance/{}/{value:0width$}", hex::encode(bytes)).into_bytes();
            prop_assert_eq!(built, formatted);
            let extended = Key::extend(b"jobs/due/000000000042").text("/").decimal(value, 6).finish();
            prop_assert_eq!(extended, format!("jobs/due/000000000042/{value:06}").into_bytes());
        }
    }
}
