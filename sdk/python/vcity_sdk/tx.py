"""Transactions and the hashes a client computes (docs/protocol.md, "Transactions", "Encoding and hashing").
A transaction is borsh(TxBody) followed by the sender's ed25519 signature over
``vcity/tx/v1\\0`` ‖ borsh(TxBody); its id is BLAKE3(0x01 ‖ those bytes)."""

from dataclasses import dataclass

from .blake3 import blake3
from .encoding import encode

SIGN_DOMAIN = b"vcity/tx/v1\0"

_TRANSACTION, _BLOB, _TASK_RESULT, _OWNER_REQUEST = 0x01, 0x0D, 0x0E, 0x0F


def domain_hash(tag: int, *parts: bytes) -> str:
    """BLAKE3 of a domain tag and the parts, hex."""
    return blake3(bytes([tag]) + b"".join(parts)).hex()


def sign_bytes(body: dict) -> bytes:
    """What the sender signs."""
    return SIGN_DOMAIN + encode("TxBody", body)


def tx_hash(data: bytes) -> str:
    """A transaction's id from its canonical bytes."""
    return domain_hash(_TRANSACTION, data)


@dataclass
class SignedTransaction:
    body: dict
    signature: bytes
    bytes: bytes
    hash: str


def sign_transaction(key, body: dict) -> SignedTransaction:
    """Signs ``body`` ({chain_id, sender, nonce, fee, messages}) with ``key``, the sender's."""
    if body.get("sender") not in (key.account, key.did):
        raise ValueError(f"the key {key.account} is not the sender {body.get('sender')}")
    encoded = encode("TxBody", body)
    signature = key.sign(SIGN_DOMAIN + encoded)
    data = encoded + signature
    return SignedTransaction(body=body, signature=signature, bytes=data, hash=tx_hash(data))


def content_address(data: bytes) -> str:
    """The content address of a blob (task inputs, outputs, modules)."""
    return domain_hash(_BLOB, bytes(data))


def commitment_hash(commitment: dict) -> str:
    """A task result commitment's hash: the ledger's ``output_hash`` for the task."""
    return domain_hash(_TASK_RESULT, encode("ResultCommitment", commitment))


def owner_request_digest(method: str, path: str, time_ms: int) -> str:
    """The digest an owner signs to fetch a task's output or log from the node that ran it."""
    return domain_hash(
        _OWNER_REQUEST, method.encode(), b"\0", path.encode(), b"\0", int(time_ms).to_bytes(8, "little")
    )
