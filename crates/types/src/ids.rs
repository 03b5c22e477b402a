//! Identifiers. Each is a newtype so that an account can never be passed where a block height or
//! a hash is expected.

use crate::hash::{Domain, Hash};
use crate::Did;
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Why an identifier did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not hexadecimal.
    #[error("not hexadecimal")]
    NotHex,
    /// Wrong number of bytes.
    #[error("expected {expected} bytes")]
    WrongLength {
        /// Bytes expected.
        expected: usize,
    },
    /// A DID that did not parse.
    #[error(transparent)]
    Did(#[from] crate::DidError),
}

/// An account: the 32 bytes of an ed25519 public key (rules §3), or, for module accounts that no
/// key controls (treasury, escrows), a hash of the module's name.
///
/// Printed as 64 hex characters; parsed from hex or from a `did:key`.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize, Default,
)]
pub struct AccountId(pub [u8; 32]);

impl AccountId {
    /// The account of an ed25519 public key.
    pub fn from_public_key(key: &VerifyingKey) -> AccountId {
        AccountId(key.to_bytes())
    }

    /// The account of a module (e.g. `"treasury"`). Its bytes are a hash, not a public key anyone
    /// holds the secret of, so no transaction can ever be signed by it.
    pub fn module(name: &str) -> AccountId {
        AccountId(Hash::of(Domain::ModuleAccount, &[name.as_bytes()]).0)
    }

    /// The public key, if these bytes are a valid ed25519 point.
    pub fn public_key(&self) -> Option<VerifyingKey> {
        VerifyingKey::from_bytes(&self.0).ok()
    }

    /// The `did:key` form of this account.
    pub fn did(&self) -> Did {
        Did::from_public_key_bytes(self.0)
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        crate::hash::lower_hex(&self.0)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", &self.to_hex()[..16])
    }
}

impl FromStr for AccountId {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.starts_with("did:") {
            return Ok(AccountId(text.parse::<Did>()?.public_key_bytes()));
        }
        Hash::from_hex(text).map(|hash| AccountId(hash.0))
    }
}

impl Serialize for AccountId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for AccountId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A block height. Genesis state is height 0; the first block is height 1.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(transparent)]
pub struct Height(pub u64);

impl Height {
    /// The height after this one.
    pub fn next(self) -> Height {
        Height(
            self.0
                .checked_add(1)
                .expect("height overflows u64 after 5e11 years"),
        )
    }
}

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_parses_from_hex_and_did() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key();
        let account = AccountId::from_public_key(&key);
        assert_eq!(account.to_hex().parse::<AccountId>(), Ok(account));
        assert_eq!(account.did().to_string().parse::<AccountId>(), Ok(account));
        assert!("nothex".parse::<AccountId>().is_err());
    }

    #[test]
    fn module_accounts_are_distinct_and_stable() {
        assert_ne!(AccountId::module("treasury"), AccountId::module("escrow"));
        assert_eq!(AccountId::module("treasury"), AccountId::module("treasury"));
    }
}
