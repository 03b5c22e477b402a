//! Building and signing transactions, offline.

use ed25519_dalek::SigningKey;
use vcity_types::tx::{Message, SignedTransaction, TxBody};
use vcity_types::{AccountId, Amount};

/// Signs `messages` from `key`'s account with `nonce` and `fee` for `chain_id`.
pub fn sign(
    key: &SigningKey,
    chain_id: &str,
    nonce: u64,
    fee: Amount,
    messages: Vec<Message>,
) -> SignedTransaction {
    TxBody {
        chain_id: chain_id.to_string(),
        sender: AccountId::from_public_key(&key.verifying_key()),
        nonce,
        fee,
        messages,
    }
    .sign(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vcity_types::tx::{decode_transaction, Transfer};
    use vcity_types::Denom;

    #[test]
    fn signed_bytes_decode_and_verify() {
        let key = SigningKey::from_bytes(&[4; 32]);
        let tx = sign(
            &key,
            "c",
            3,
            Amount::new(1_000),
            vec![Message::Transfer(Transfer {
                to: AccountId([1; 32]),
                denom: Denom::Usd,
                amount: Amount::new(5),
            })],
        );
        let decoded = decode_transaction(&tx.to_bytes()).expect("decodes");
        assert_eq!(decoded, tx);
        decoded.verify_signature().expect("verifies");
    }
}
