// Transactions and the hashes a client computes (docs/protocol.md, "Transactions", "Encoding and hashing").
// A transaction is borsh(TxBody) followed by the sender's ed25519 signature over
// "vcity/tx/v1\0" ‖ borsh(TxBody); its id is BLAKE3(0x01 ‖ those bytes).

import { blake3 } from './blake3.js';
import { concat, toHex, utf8 } from './bytes.js';
import { encode } from './encoding.js';

export const SIGN_DOMAIN = utf8('vcity/tx/v1\0');

const DOMAIN = { transaction: 0x01, blob: 0x0d, taskResult: 0x0e, ownerRequest: 0x0f };

/** BLAKE3 of a domain tag and the parts, hex. */
export function domainHash(tag, ...parts) {
  return toHex(blake3(concat(Uint8Array.of(tag), ...parts)));
}

/** What the sender signs. */
export function signBytes(body) {
  return concat(SIGN_DOMAIN, encode('TxBody', body));
}

/** A transaction's id from its canonical bytes. */
export function txHash(bytes) {
  return domainHash(DOMAIN.transaction, bytes);
}

/**
 * Signs `body` ({chain_id, sender, nonce, fee, messages}) with `key`, which must be the sender's.
 * @returns {Promise<{body: object, signature: Uint8Array, bytes: Uint8Array, hash: string}>}
 */
export async function signTransaction(key, body) {
  if (body.sender !== key.account && body.sender !== key.did) {
    throw new Error(`the key ${key.account} is not the sender ${body.sender}`);
  }
  const encoded = encode('TxBody', body);
  const signature = await key.sign(concat(SIGN_DOMAIN, encoded));
  const bytes = concat(encoded, signature);
  return { body, signature, bytes, hash: txHash(bytes) };
}

/** The content address of a blob (task inputs, outputs, modules). */
export function contentAddress(bytes) {
  return domainHash(DOMAIN.blob, bytes);
}

/** A task result commitment's hash: what the ledger records as the task's `output_hash`. */
export function commitmentHash(commitment) {
  return domainHash(DOMAIN.taskResult, encode('ResultCommitment', commitment));
}

/** The digest an owner signs to fetch a task's output or log from the node that ran it. */
export function ownerRequestDigest(method, path, timeMs) {
  const time = new Uint8Array(8);
  new DataView(time.buffer).setBigUint64(0, BigInt(timeMs), true);
  return domainHash(DOMAIN.ownerRequest, utf8(method), Uint8Array.of(0), utf8(path), Uint8Array.of(0), time);
}
