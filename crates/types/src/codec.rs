//! The one canonical binary encoding: borsh.
//!
//! Borsh is deterministic for the types we use (fixed-width little-endian integers, length-prefixed
//! vectors, enum tags as one byte; no maps with unordered iteration, no floats), so equal values
//! always give equal bytes, which is what signatures and hashes need. [`decode`] rejects trailing
//! bytes, so every value has exactly one encoding that decodes.

use borsh::{BorshDeserialize, BorshSerialize};

/// Why bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed bytes: {0}")]
pub struct CodecError(pub String);

/// Encodes a value canonically.
pub fn encode<T: BorshSerialize>(value: &T) -> Vec<u8> {
    borsh::to_vec(value).expect("borsh encoding into a Vec cannot fail")
}

/// Decodes a value, rejecting trailing bytes.
pub fn decode<T: BorshDeserialize>(bytes: &[u8]) -> Result<T, CodecError> {
    borsh::from_slice(bytes).map_err(|error| CodecError(error.to_string()))
}
