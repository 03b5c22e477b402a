//! One codec for the network and the write-ahead log: borsh, the encoding of everything else in
//! Vcity. Malachite's types implement borsh when its `borsh` features are on.

use bytes::Bytes;
use malachite_app::types::codec::Codec;

/// Borsh for every message the engine sends, stores or syncs.
#[derive(Clone, Copy, Debug, Default)]
pub struct BorshCodec;

/// A message that does not decode.
#[derive(Debug)]
pub struct CodecError(pub std::io::Error);

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "borsh: {}", self.0)
    }
}

impl std::error::Error for CodecError {}

impl<T> Codec<T> for BorshCodec
where
    T: borsh::BorshSerialize + borsh::BorshDeserialize,
{
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<T, CodecError> {
        borsh::from_slice(&bytes).map_err(CodecError)
    }

    fn encode(&self, message: &T) -> Result<Bytes, CodecError> {
        borsh::to_vec(message).map(Bytes::from).map_err(CodecError)
    }
}
