// The canonical encoding (docs/protocol.md, "Encoding and hashing"): borsh, driven by schema.json, which
// describes every transaction message's layout and JSON form. A message is written as the JSON
// the node's API shows (`{"type": "transfer", "to": "<hex>", "denom": "usd", "amount": "1"}`),
// and encodes to the bytes the Rust types give; sdk/vectors/golden.json holds the proof.

import schema from './schema.json' with { type: 'json' };
import { base58Decode, fromHex, utf8 } from './bytes.js';

export { schema };

/** A value that does not fit the schema; `path` says where (`messages[0].amount`). */
export class EncodingError extends Error {
  constructor(path, message) {
    super(`${path || 'value'}: ${message}`);
    this.name = 'EncodingError';
    this.path = path;
  }
}

const LIMITS = { u8: 8n, u16: 16n, u32: 32n, u64: 64n, u128: 128n, amount: 128n };

class Writer {
  constructor() {
    this.parts = [];
    this.length = 0;
  }
  push(bytes) {
    this.parts.push(bytes);
    this.length += bytes.length;
  }
  uint(value, bits) {
    const bytes = new Uint8Array(Number(bits) / 8);
    let rest = value;
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] = Number(rest & 0xffn);
      rest >>= 8n;
    }
    this.push(bytes);
  }
  finish() {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const part of this.parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}

/** An integer given as a safe number, a bigint or a decimal string. */
function integer(value, path) {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new EncodingError(path, `${value} is not a safe integer; pass a bigint or a decimal string`);
    }
    return BigInt(value);
  }
  if (typeof value === 'string' && /^(0|-?[1-9][0-9]*)$/.test(value)) return BigInt(value);
  throw new EncodingError(path, `expected an integer, got ${JSON.stringify(value)}`);
}

function fixedBytes(value, length, path) {
  if (value instanceof Uint8Array) {
    if (value.length !== length) throw new EncodingError(path, `expected ${length} bytes, got ${value.length}`);
    return value;
  }
  if (typeof value !== 'string') throw new EncodingError(path, `expected ${length} bytes as hex`);
  if (length === 32 && value.startsWith('did:key:z')) return didKeyBytes(value, path);
  if (value.length !== 2 * length) throw new EncodingError(path, `expected ${2 * length} hex digits`);
  try {
    return fromHex(value);
  } catch (error) {
    throw new EncodingError(path, error.message);
  }
}

/** The ed25519 public key inside `did:key:z6Mk…` (multicodec 0xed 0x01). */
export function didKeyBytes(did, path = 'did') {
  let payload;
  try {
    payload = base58Decode(did.slice('did:key:z'.length));
  } catch (error) {
    throw new EncodingError(path, error.message);
  }
  if (payload.length !== 34 || payload[0] !== 0xed || payload[1] !== 0x01) {
    throw new EncodingError(path, 'not an ed25519 did:key');
  }
  return payload.slice(2);
}

function write(writer, type, value, path) {
  if (typeof type === 'string') {
    switch (type) {
      case 'u8':
      case 'u16':
      case 'u32':
      case 'u64':
      case 'u128':
      case 'amount': {
        const number = integer(value, path);
        if (number < 0n || number >= 1n << LIMITS[type]) throw new EncodingError(path, `${number} is out of range for ${type}`);
        writer.uint(number, LIMITS[type]);
        return;
      }
      case 'i32': {
        const number = integer(value, path);
        if (number < -(1n << 31n) || number >= 1n << 31n) throw new EncodingError(path, `${number} is out of range for i32`);
        writer.uint(BigInt.asUintN(32, number), 32n);
        return;
      }
      case 'bool':
        if (typeof value !== 'boolean') throw new EncodingError(path, 'expected true or false');
        writer.push(Uint8Array.of(value ? 1 : 0));
        return;
      case 'string': {
        if (typeof value !== 'string') throw new EncodingError(path, 'expected a string');
        const bytes = utf8(value);
        writer.uint(BigInt(bytes.length), 32n);
        writer.push(bytes);
        return;
      }
      case 'bytes': {
        const bytes = value instanceof Uint8Array ? value : Array.isArray(value) ? Uint8Array.from(value) : null;
        if (bytes === null || (Array.isArray(value) && value.some((byte) => !Number.isInteger(byte) || byte < 0 || byte > 255))) {
          throw new EncodingError(path, 'expected bytes (a Uint8Array or an array of 0–255)');
        }
        writer.uint(BigInt(bytes.length), 32n);
        writer.push(bytes);
        return;
      }
      case 'account':
      case 'hash':
        writer.push(fixedBytes(value, 32, path));
        return;
      case 'signature':
        writer.push(fixedBytes(value, 64, path));
        return;
      default:
        writeNamed(writer, type, value, path);
        return;
    }
  }
  if ('option' in type) {
    if (value === null || value === undefined) {
      writer.push(Uint8Array.of(0));
    } else {
      writer.push(Uint8Array.of(1));
      write(writer, type.option, value, path);
    }
    return;
  }
  if ('vec' in type) {
    if (!Array.isArray(value)) throw new EncodingError(path, 'expected an array');
    writer.uint(BigInt(value.length), 32n);
    value.forEach((item, index) => write(writer, type.vec, item, `${path}[${index}]`));
    return;
  }
  if ('tuple' in type) {
    if (!Array.isArray(value) || value.length !== type.tuple.length) throw new EncodingError(path, `expected an array of ${type.tuple.length}`);
    type.tuple.forEach((item, index) => write(writer, item, value[index], `${path}[${index}]`));
    return;
  }
  if ('array' in type) {
    const [item, length] = type.array;
    if (!Array.isArray(value) || value.length !== length) throw new EncodingError(path, `expected an array of ${length}`);
    value.forEach((element, index) => write(writer, item, element, `${path}[${index}]`));
    return;
  }
  throw new EncodingError(path, `schema has an unknown type ${JSON.stringify(type)}`);
}

function writeFields(writer, fields, value, path, ignored) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new EncodingError(path, 'expected an object');
  const known = new Set(fields.map(([name]) => name));
  for (const key of Object.keys(value)) {
    if (!known.has(key) && key !== ignored) throw new EncodingError(path, `unknown field ${JSON.stringify(key)}`);
  }
  for (const [name, type, ...fallback] of fields) {
    let field = value[name];
    if (field === undefined) {
      if (fallback.length === 0) throw new EncodingError(path, `missing field ${JSON.stringify(name)}`);
      field = fallback[0];
    }
    write(writer, type, field, path ? `${path}.${name}` : name);
  }
}

function writeNamed(writer, name, value, path) {
  const definition = schema.types[name];
  if (definition === undefined) throw new EncodingError(path, `schema has no type ${name}`);
  if (definition.struct) {
    writeFields(writer, definition.struct, value, path);
    return;
  }
  if (definition.enum) {
    const index = definition.enum.indexOf(value);
    if (index < 0) throw new EncodingError(path, `expected one of ${definition.enum.join(', ')}`);
    writer.push(Uint8Array.of(index));
    return;
  }
  const tag = definition.tag;
  if (value === null || typeof value !== 'object') throw new EncodingError(path, `expected an object with "${tag}"`);
  const index = definition.variants.findIndex(([variant]) => variant === value[tag]);
  if (index < 0) {
    const names = definition.variants.map(([variant]) => variant).join(', ');
    throw new EncodingError(path, `"${tag}" must be one of ${names}, got ${JSON.stringify(value[tag])}`);
  }
  writer.push(Uint8Array.of(index));
  const fields = definition.variants[index][1];
  const inline = typeof fields === 'string' ? schema.types[fields].struct : fields;
  writeFields(writer, inline, value, path, tag);
}

/**
 * The canonical bytes of `value` as schema type `type` (a name such as "Message" or "TxBody").
 * @param {string|object} type
 * @param {unknown} value
 * @returns {Uint8Array}
 */
export function encode(type, value) {
  const writer = new Writer();
  write(writer, type, value, '');
  return writer.finish();
}
