//! Decentralized identifiers in the W3C `did:key` method for ed25519 keys (rules §3).
//!
//! `did:key:z<base58btc(0xed 0x01 ‖ 32-byte public key)>`: the multibase prefix `z` means
//! base58btc, and `0xed 0x01` is the unsigned-varint multicodec code of `ed25519-pub`. Every
//! ed25519 DID therefore starts with `did:key:z6Mk`.

use std::fmt;
use std::str::FromStr;

const PREFIX: &str = "did:key:z";
const MULTICODEC_ED25519_PUB: [u8; 2] = [0xed, 0x01];

/// Why a DID did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DidError {
    /// Not `did:key:z...`.
    #[error("not a did:key with base58btc multibase (expected did:key:z...)")]
    NotDidKey,
    /// The multibase payload is not base58btc.
    #[error("did:key payload is not base58btc")]
    NotBase58,
    /// A key type other than ed25519.
    #[error("did:key is not an ed25519 public key (multicodec 0xed01)")]
    NotEd25519,
    /// Wrong key length.
    #[error("did:key ed25519 key must be 32 bytes, got {0}")]
    WrongLength(usize),
}

/// A `did:key` identifier of an ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Did([u8; 32]);

impl Did {
    /// The DID of a public key.
    pub fn from_public_key_bytes(bytes: [u8; 32]) -> Did {
        Did(bytes)
    }

    /// The public key bytes this DID names.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.0
    }
}

impl fmt::Display for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut payload = Vec::with_capacity(34);
        payload.extend_from_slice(&MULTICODEC_ED25519_PUB);
        payload.extend_from_slice(&self.0);
        write!(f, "{PREFIX}{}", bs58::encode(payload).into_string())
    }
}

impl fmt::Debug for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Did({self})")
    }
}

impl FromStr for Did {
    type Err = DidError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let encoded = text.strip_prefix(PREFIX).ok_or(DidError::NotDidKey)?;
        let payload = bs58::decode(encoded)
            .into_vec()
            .map_err(|_| DidError::NotBase58)?;
        let key = payload
            .strip_prefix(&MULTICODEC_ED25519_PUB)
            .ok_or(DidError::NotEd25519)?;
        let bytes: [u8; 32] = key
            .try_into()
            .map_err(|_| DidError::WrongLength(key.len()))?;
        Ok(Did(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test vectors pairing a did:key with its ed25519 key in base58 (`publicKeyBase58`), from
    /// the did:key method's published ed25519 vectors (the first is the JWK example
    /// `x = VDXDwuGKVq91zxU6q7__jLDUq8_C5cuxECgd-1feFTE` re-encoded in base58).
    const VECTORS: [(&str, &str); 2] = [
        (
            "did:key:z6Mkk7yqnGF3YwTrLpqrW6PGsKci7dNqh1CjnvMbzrMerSeL",
            "6fioC1zcDPyPEL19pXRS2E4iJ46zH7xP6uSgAaPdwDrx",
        ),
        (
            "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th",
            "8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K",
        ),
    ];

    #[test]
    fn spec_vectors_parse_and_print() {
        for (did_text, key_base58) in VECTORS {
            let key: [u8; 32] = bs58::decode(key_base58)
                .into_vec()
                .expect("vector is base58")
                .try_into()
                .expect("vector key is 32 bytes");
            let did: Did = did_text.parse().expect("vector parses");
            assert_eq!(did.public_key_bytes(), key);
            assert_eq!(Did::from_public_key_bytes(key).to_string(), did_text);
        }
    }

    #[test]
    fn rejects_other_methods_and_keys() {
        assert_eq!(
            "did:web:example.com".parse::<Did>(),
            Err(DidError::NotDidKey)
        );
        assert_eq!("did:key:z0OIl".parse::<Did>(), Err(DidError::NotBase58));
        // An X25519 key-agreement did:key (multicodec 0xec01) from the same vector set.
        assert_eq!(
            "did:key:z6LShLeXRTzevtwcfehaGEzCMyL3bNsAeKCwcqwJxyCo63yE".parse::<Did>(),
            Err(DidError::NotEd25519)
        );
    }
}
