// BLAKE3 (https://github.com/BLAKE3-team/BLAKE3-specs), default hash mode, 32-byte output:
// the protocol's one hash function (docs/protocol.md, "Encoding and hashing"). Written for clarity over speed;
// clients hash transactions and outputs, not blocks.

const IV = new Uint32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const PERMUTATION = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
const CHUNK_START = 1;
const CHUNK_END = 2;
const PARENT = 4;
const ROOT = 8;
const BLOCK_BYTES = 64;
const CHUNK_BYTES = 1024;

function rotr(x, n) {
  return ((x >>> n) | (x << (32 - n))) >>> 0;
}

function g(s, a, b, c, d, x, y) {
  s[a] = (s[a] + s[b] + x) >>> 0;
  s[d] = rotr(s[d] ^ s[a], 16);
  s[c] = (s[c] + s[d]) >>> 0;
  s[b] = rotr(s[b] ^ s[c], 12);
  s[a] = (s[a] + s[b] + y) >>> 0;
  s[d] = rotr(s[d] ^ s[a], 8);
  s[c] = (s[c] + s[d]) >>> 0;
  s[b] = rotr(s[b] ^ s[c], 7);
}

/** The compression function: 16 words out; the first 8 are the next chaining value. */
function compress(cv, words, counter, length, flags) {
  const s = new Uint32Array(16);
  s.set(cv, 0);
  s.set(IV.subarray(0, 4), 8);
  s[12] = counter >>> 0;
  s[13] = Math.floor(counter / 0x100000000) >>> 0;
  s[14] = length;
  s[15] = flags;
  let m = Uint32Array.from(words);
  for (let round = 0; round < 7; round++) {
    g(s, 0, 4, 8, 12, m[0], m[1]);
    g(s, 1, 5, 9, 13, m[2], m[3]);
    g(s, 2, 6, 10, 14, m[4], m[5]);
    g(s, 3, 7, 11, 15, m[6], m[7]);
    g(s, 0, 5, 10, 15, m[8], m[9]);
    g(s, 1, 6, 11, 12, m[10], m[11]);
    g(s, 2, 7, 8, 13, m[12], m[13]);
    g(s, 3, 4, 9, 14, m[14], m[15]);
    if (round < 6) m = Uint32Array.from(PERMUTATION, (index) => m[index]);
  }
  for (let i = 0; i < 8; i++) {
    s[i] ^= s[i + 8];
    s[i + 8] ^= cv[i];
  }
  return s;
}

/** A block as 16 little-endian words, zero-padded. */
function blockWords(bytes) {
  const padded = new Uint8Array(BLOCK_BYTES);
  padded.set(bytes);
  const view = new DataView(padded.buffer);
  return Uint32Array.from({ length: 16 }, (_, i) => view.getUint32(4 * i, true));
}

/** What a chunk or parent node leaves for its parent (or for the root): not yet compressed. */
function chunkOutput(chunk, counter) {
  let cv = IV;
  const blocks = Math.max(1, Math.ceil(chunk.length / BLOCK_BYTES));
  for (let index = 0; index < blocks - 1; index++) {
    const words = blockWords(chunk.subarray(index * BLOCK_BYTES, (index + 1) * BLOCK_BYTES));
    cv = compress(cv, words, counter, BLOCK_BYTES, index === 0 ? CHUNK_START : 0).subarray(0, 8);
  }
  const last = chunk.subarray((blocks - 1) * BLOCK_BYTES);
  const flags = (blocks === 1 ? CHUNK_START : 0) | CHUNK_END;
  return { cv, words: blockWords(last), counter, length: last.length, flags };
}

function parentOutput(left, right) {
  const words = new Uint32Array(16);
  words.set(left, 0);
  words.set(right, 8);
  return { cv: IV, words, counter: 0, length: BLOCK_BYTES, flags: PARENT };
}

function chainingValue(output) {
  return compress(output.cv, output.words, output.counter, output.length, output.flags).subarray(0, 8);
}

/**
 * BLAKE3 of `bytes` (a Uint8Array), 32 bytes.
 * @param {Uint8Array} bytes
 * @returns {Uint8Array}
 */
export function blake3(bytes) {
  const chunks = Math.max(1, Math.ceil(bytes.length / CHUNK_BYTES));
  // The chaining-value stack of the reference implementation: after chunk n (1-based), merge
  // one parent per trailing zero bit of n, which builds the spec's left-full binary tree.
  const stack = [];
  for (let index = 0; index < chunks - 1; index++) {
    let cv = chainingValue(chunkOutput(bytes.subarray(index * CHUNK_BYTES, (index + 1) * CHUNK_BYTES), index));
    let total = index + 1;
    while ((total & 1) === 0) {
      cv = chainingValue(parentOutput(stack.pop(), cv));
      total >>= 1;
    }
    stack.push(cv);
  }
  let output = chunkOutput(bytes.subarray((chunks - 1) * CHUNK_BYTES), chunks - 1);
  while (stack.length > 0) output = parentOutput(stack.pop(), chainingValue(output));
  const root = compress(output.cv, output.words, 0, output.length, output.flags | ROOT);
  const out = new Uint8Array(32);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) view.setUint32(4 * i, root[i], true);
  return out;
}
