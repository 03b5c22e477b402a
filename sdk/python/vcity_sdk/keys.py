"""ed25519 keys. An account id is the 32-byte public key (hex); its DID is
``did:key:z<base58btc(0xed 0x01 ‖ key)>`` (docs/protocol.md, "Identities")."""

import json
import os

from . import ed25519
from .base58 import b58encode


def did_of(public_key: bytes) -> str:
    return "did:key:z" + b58encode(b"\xed\x01" + bytes(public_key))


class Key:
    """A signing key from its 32-byte secret seed."""

    def __init__(self, seed):
        seed = bytes.fromhex(seed) if isinstance(seed, str) else bytes(seed)
        if len(seed) != 32:
            raise ValueError("an ed25519 seed is 32 bytes")
        self._seed = seed
        self.public_key = ed25519.public_key(seed)

    @classmethod
    def generate(cls):
        """A new key from the operating system's secure random source."""
        return cls(os.urandom(32))

    @classmethod
    def from_file(cls, path):
        """A key file as ``vcity keys`` writes it (~/.vcity/keys/NAME.json: JSON with the hex
        ``secret_key`` beside its ``account``, which must match)."""
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        key = cls(document["secret_key"].strip())
        if key.account != document.get("account"):
            raise ValueError(f"{path}: the secret key does not match account {document.get('account')}")
        return key

    @property
    def account(self) -> str:
        """The account id: the public key in hex."""
        return self.public_key.hex()

    @property
    def did(self) -> str:
        return did_of(self.public_key)

    def export_seed(self) -> bytes:
        return self._seed

    def sign(self, message: bytes) -> bytes:
        return ed25519.sign(self._seed, bytes(message))

    def __repr__(self):
        return f"Key({self.account[:16]}…)"


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    return ed25519.verify(bytes(public_key), bytes(message), bytes(signature))
