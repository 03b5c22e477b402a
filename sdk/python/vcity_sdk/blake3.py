"""BLAKE3 (https://github.com/BLAKE3-team/BLAKE3-specs), default hash mode, 32-byte output: the
protocol's one hash function (docs/protocol.md, "Encoding and hashing"). Pure Python, written for clarity;
clients hash transactions and outputs, not blocks."""

import struct

_IV = (0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19)
_PERMUTATION = (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)
_CHUNK_START, _CHUNK_END, _PARENT, _ROOT = 1, 2, 4, 8
_BLOCK_BYTES = 64
_CHUNK_BYTES = 1024
_MASK = 0xFFFFFFFF


def _g(s, a, b, c, d, x, y):
    s[a] = (s[a] + s[b] + x) & _MASK
    v = s[d] ^ s[a]
    s[d] = ((v >> 16) | (v << 16)) & _MASK
    s[c] = (s[c] + s[d]) & _MASK
    v = s[b] ^ s[c]
    s[b] = ((v >> 12) | (v << 20)) & _MASK
    s[a] = (s[a] + s[b] + y) & _MASK
    v = s[d] ^ s[a]
    s[d] = ((v >> 8) | (v << 24)) & _MASK
    s[c] = (s[c] + s[d]) & _MASK
    v = s[b] ^ s[c]
    s[b] = ((v >> 7) | (v << 25)) & _MASK


def _compress(cv, words, counter, length, flags):
    s = list(cv) + list(_IV[:4]) + [counter & _MASK, (counter >> 32) & _MASK, length, flags]
    m = list(words)
    for round_index in range(7):
        _g(s, 0, 4, 8, 12, m[0], m[1])
        _g(s, 1, 5, 9, 13, m[2], m[3])
        _g(s, 2, 6, 10, 14, m[4], m[5])
        _g(s, 3, 7, 11, 15, m[6], m[7])
        _g(s, 0, 5, 10, 15, m[8], m[9])
        _g(s, 1, 6, 11, 12, m[10], m[11])
        _g(s, 2, 7, 8, 13, m[12], m[13])
        _g(s, 3, 4, 9, 14, m[14], m[15])
        if round_index < 6:
            m = [m[index] for index in _PERMUTATION]
    for i in range(8):
        s[i] ^= s[i + 8]
        s[i + 8] ^= cv[i]
    return s


def _words(block):
    return struct.unpack("<16I", block.ljust(_BLOCK_BYTES, b"\0"))


def _chunk_output(chunk, counter):
    """What a chunk leaves for its parent (or the root): its last block, not yet compressed."""
    cv = _IV
    blocks = max(1, -(-len(chunk) // _BLOCK_BYTES))
    for index in range(blocks - 1):
        block = chunk[index * _BLOCK_BYTES : (index + 1) * _BLOCK_BYTES]
        cv = _compress(cv, _words(block), counter, _BLOCK_BYTES, _CHUNK_START if index == 0 else 0)[:8]
    last = chunk[(blocks - 1) * _BLOCK_BYTES :]
    flags = (_CHUNK_START if blocks == 1 else 0) | _CHUNK_END
    return (cv, _words(last), counter, len(last), flags)


def _parent_output(left, right):
    return (_IV, tuple(left) + tuple(right), 0, _BLOCK_BYTES, _PARENT)


def _chaining_value(output):
    return _compress(*output)[:8]


def blake3(data: bytes) -> bytes:
    """BLAKE3 of `data`, 32 bytes."""
    data = bytes(data)
    chunks = max(1, -(-len(data) // _CHUNK_BYTES))
    # The reference implementation's chaining-value stack: after chunk n (1-based), merge one
    # parent per trailing zero bit of n, which builds the spec's left-full binary tree.
    stack = []
    for index in range(chunks - 1):
        cv = _chaining_value(_chunk_output(data[index * _CHUNK_BYTES : (index + 1) * _CHUNK_BYTES], index))
        total = index + 1
        while total & 1 == 0:
            cv = _chaining_value(_parent_output(stack.pop(), cv))
            total >>= 1
        stack.append(cv)
    output = _chunk_output(data[(chunks - 1) * _CHUNK_BYTES :], chunks - 1)
    while stack:
        output = _parent_output(stack.pop(), _chaining_value(output))
    cv, words, _, length, flags = output
    root = _compress(cv, words, 0, length, flags | _ROOT)
    return struct.pack("<8I", *root[:8])
