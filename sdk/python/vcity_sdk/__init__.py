"""vcity-sdk: keys, the canonical encoding, signing, and a typed client of a Vcity node's API.

Pure Python (standard library only). See sdk/README.md."""

from .blake3 import blake3
from .client import ApiError, Client, InvalidOutputError, parse_event_stream
from .encoding import SCHEMA, EncodingError, did_key_bytes, encode
from .keys import Key, did_of, verify
from .tx import (
    SIGN_DOMAIN,
    SignedTransaction,
    commitment_hash,
    content_address,
    domain_hash,
    owner_request_digest,
    sign_bytes,
    sign_transaction,
    tx_hash,
)

__all__ = [
    "ApiError",
    "Client",
    "EncodingError",
    "InvalidOutputError",
    "Key",
    "SCHEMA",
    "SIGN_DOMAIN",
    "SignedTransaction",
    "blake3",
    "commitment_hash",
    "content_address",
    "did_key_bytes",
    "did_of",
    "domain_hash",
    "encode",
    "owner_request_digest",
    "parse_event_stream",
    "sign_bytes",
    "sign_transaction",
    "tx_hash",
    "verify",
]
__version__ = "0.1.0"
