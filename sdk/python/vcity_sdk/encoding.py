"""The canonical encoding (docs/protocol.md, "Encoding and hashing"): borsh, driven by schema.json, which
describes every transaction message's layout and JSON form. A message is written as the JSON the
node's API shows (``{"type": "transfer", "to": "<hex>", "denom": "usd", "amount": "1"}``) and
encodes to the bytes the Rust types give; sdk/vectors/golden.json holds the proof."""

import json
import struct
from importlib import resources

from .base58 import b58decode

SCHEMA = json.loads(resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8"))

_BITS = {"u8": 8, "u16": 16, "u32": 32, "u64": 64, "u128": 128, "amount": 128}


class EncodingError(ValueError):
    """A value that does not fit the schema; ``path`` says where (``messages[0].amount``)."""

    def __init__(self, path, message):
        super().__init__(f"{path or 'value'}: {message}")
        self.path = path


def _integer(value, path):
    if isinstance(value, bool):
        raise EncodingError(path, f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and (value == "0" or (value.lstrip("-")[:1] in "123456789" and value.lstrip("-").isdigit())):
        return int(value)
    raise EncodingError(path, f"expected an integer, got {value!r}")


def did_key_bytes(did, path="did"):
    """The ed25519 public key inside ``did:key:z6Mk…`` (multicodec 0xed 0x01)."""
    try:
        payload = b58decode(did[len("did:key:z") :])
    except ValueError as error:
        raise EncodingError(path, str(error)) from None
    if len(payload) != 34 or payload[:2] != b"\xed\x01":
        raise EncodingError(path, "not an ed25519 did:key")
    return payload[2:]


def _fixed(value, length, path):
    if isinstance(value, (bytes, bytearray)):
        if len(value) != length:
            raise EncodingError(path, f"expected {length} bytes, got {len(value)}")
        return bytes(value)
    if not isinstance(value, str):
        raise EncodingError(path, f"expected {length} bytes as hex")
    if length == 32 and value.startswith("did:key:z"):
        return did_key_bytes(value, path)
    if len(value) != 2 * length:
        raise EncodingError(path, f"expected {2 * length} hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise EncodingError(path, f"not hex: {value!r}") from None


def _join(path, name):
    return f"{path}.{name}" if path else name


def _write(out, kind, value, path):
    if isinstance(kind, str):
        if kind in _BITS:
            number = _integer(value, path)
            if not 0 <= number < 1 << _BITS[kind]:
                raise EncodingError(path, f"{number} is out of range for {kind}")
            out += number.to_bytes(_BITS[kind] // 8, "little")
        elif kind == "i32":
            number = _integer(value, path)
            if not -(1 << 31) <= number < 1 << 31:
                raise EncodingError(path, f"{number} is out of range for i32")
            out += struct.pack("<i", number)
        elif kind == "bool":
            if not isinstance(value, bool):
                raise EncodingError(path, "expected true or false")
            out.append(1 if value else 0)
        elif kind == "string":
            if not isinstance(value, str):
                raise EncodingError(path, "expected a string")
            data = value.encode("utf-8")
            out += struct.pack("<I", len(data)) + data
        elif kind == "bytes":
            if isinstance(value, (bytes, bytearray)):
                data = bytes(value)
            elif isinstance(value, list) and all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in value):
                data = bytes(value)
            else:
                raise EncodingError(path, "expected bytes (bytes or a list of 0-255)")
            out += struct.pack("<I", len(data)) + data
        elif kind in ("account", "hash"):
            out += _fixed(value, 32, path)
        elif kind == "signature":
            out += _fixed(value, 64, path)
        else:
            _write_named(out, kind, value, path)
    elif "option" in kind:
        if value is None:
            out.append(0)
        else:
            out.append(1)
            _write(out, kind["option"], value, path)
    elif "vec" in kind:
        if not isinstance(value, (list, tuple)):
            raise EncodingError(path, "expected a list")
        out += struct.pack("<I", len(value))
        for index, item in enumerate(value):
            _write(out, kind["vec"], item, f"{path}[{index}]")
    elif "tuple" in kind or "array" in kind:
        items = kind["tuple"] if "tuple" in kind else [kind["array"][0]] * kind["array"][1]
        if not isinstance(value, (list, tuple)) or len(value) != len(items):
            raise EncodingError(path, f"expected a list of {len(items)}")
        for index, (item, element) in enumerate(zip(items, value)):
            _write(out, item, element, f"{path}[{index}]")
    else:
        raise EncodingError(path, f"schema has an unknown type {kind!r}")


def _write_fields(out, fields, value, path, ignored=None):
    if not isinstance(value, dict):
        raise EncodingError(path, "expected an object")
    known = {field[0] for field in fields}
    for key in value:
        if key not in known and key != ignored:
            raise EncodingError(path, f'unknown field "{key}"')
    for field in fields:
        name, kind = field[0], field[1]
        if name in value:
            item = value[name]
        elif len(field) == 3:
            item = field[2]
        else:
            raise EncodingError(path, f'missing field "{name}"')
        _write(out, kind, item, _join(path, name))


def _write_named(out, name, value, path):
    definition = SCHEMA["types"].get(name)
    if definition is None:
        raise EncodingError(path, f"schema has no type {name}")
    if "struct" in definition:
        _write_fields(out, definition["struct"], value, path)
        return
    if "enum" in definition:
        if value not in definition["enum"]:
            raise EncodingError(path, f"expected one of {', '.join(definition['enum'])}")
        out.append(definition["enum"].index(value))
        return
    tag = definition["tag"]
    if not isinstance(value, dict):
        raise EncodingError(path, f'expected an object with "{tag}"')
    names = [variant[0] for variant in definition["variants"]]
    if value.get(tag) not in names:
        raise EncodingError(path, f'"{tag}" must be one of {", ".join(names)}, got {value.get(tag)!r}')
    index = names.index(value[tag])
    out.append(index)
    fields = definition["variants"][index][1]
    if isinstance(fields, str):
        fields = SCHEMA["types"][fields]["struct"]
    _write_fields(out, fields, value, path, ignored=tag)


def encode(kind, value) -> bytes:
    """The canonical (borsh) bytes of ``value`` as schema type ``kind`` ("Message", "TxBody", ...)."""
    out = bytearray()
    _write(out, kind, value, "")
    return bytes(out)
