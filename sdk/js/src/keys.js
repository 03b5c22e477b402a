// ed25519 keys through WebCrypto (browsers and Node.js 20+): the secret seed stays in this
// process, and in the console in the page. An account id is the 32-byte public key; its DID is
// did:key:z<base58btc(0xed 0x01 ‖ key)> (docs/protocol.md, "Identities").

import { base58Encode, concat, fromHex, toHex, utf8 } from './bytes.js';

// PKCS #8 wrapping of a raw 32-byte ed25519 seed (RFC 8410): WebCrypto imports no raw private keys.
const PKCS8_PREFIX = fromHex('302e020100300506032b657004220420');
const ALGORITHM = { name: 'Ed25519' };
const subtle = () => {
  if (!globalThis.crypto?.subtle) throw new Error('WebCrypto is unavailable: use Node.js 20+ or a browser over https/localhost');
  return globalThis.crypto.subtle;
};

/** The did:key of a 32-byte ed25519 public key. */
export function didOf(publicKey) {
  return 'did:key:z' + base58Encode(concat(Uint8Array.of(0xed, 0x01), publicKey));
}

export class Key {
  /** Use `Key.fromSeed` or `Key.generate`. */
  constructor(seed, privateKey, publicKey) {
    this.#seed = seed;
    this.privateKey = privateKey;
    /** @type {Uint8Array} */
    this.publicKey = publicKey;
  }

  #seed;

  /** A key from its 32-byte secret seed (a Uint8Array or 64 hex digits). */
  static async fromSeed(seed) {
    const bytes = typeof seed === 'string' ? fromHex(seed) : Uint8Array.from(seed);
    if (bytes.length !== 32) throw new TypeError('an ed25519 seed is 32 bytes');
    const privateKey = await subtle().importKey('pkcs8', concat(PKCS8_PREFIX, bytes), ALGORITHM, true, ['sign']);
    const jwk = await subtle().exportKey('jwk', privateKey);
    const publicKey = Uint8Array.from(atob(jwk.x.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
    return new Key(bytes, privateKey, publicKey);
  }

  /** A new key from the platform's secure random source. */
  static async generate() {
    return Key.fromSeed(globalThis.crypto.getRandomValues(new Uint8Array(32)));
  }

  /** The account id: the public key in hex. */
  get account() {
    return toHex(this.publicKey);
  }

  get did() {
    return didOf(this.publicKey);
  }

  /** The secret seed, for a backup the user asked for. */
  exportSeed() {
    return Uint8Array.from(this.#seed);
  }

  /** @param {Uint8Array} message @returns {Promise<Uint8Array>} the 64-byte signature */
  async sign(message) {
    return new Uint8Array(await subtle().sign(ALGORITHM, this.privateKey, message));
  }
}

/** Verifies an ed25519 signature (WebCrypto's rules; the chain's are ZIP-215, a superset). */
export async function verify(publicKey, message, signature) {
  const key = await subtle().importKey('raw', publicKey, ALGORITHM, false, ['verify']);
  return subtle().verify(ALGORITHM, key, signature, message);
}

// A seed encrypted with a passphrase, for local storage: PBKDF2-SHA-256 (600,000 iterations,
// OWASP's 2023 figure) derives an AES-256-GCM key; salt and nonce are fresh each time.
const KDF_ITERATIONS = 600_000;

async function passphraseKey(passphrase, salt, iterations) {
  const material = await subtle().importKey('raw', utf8(passphrase), 'PBKDF2', false, ['deriveKey']);
  return subtle().deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/** @returns {Promise<{format: string, kdf: string, iterations: number, salt: string, nonce: string, ciphertext: string, account: string}>} */
export async function encryptKey(key, passphrase, iterations = KDF_ITERATIONS) {
  const salt = globalThis.crypto.getRandomValues(new Uint8Array(16));
  const nonce = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const aes = await passphraseKey(passphrase, salt, iterations);
  const ciphertext = new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv: nonce }, aes, key.exportSeed()));
  return {
    format: 'vcity-browser-key/1',
    kdf: 'pbkdf2-sha256',
    iterations,
    salt: toHex(salt),
    nonce: toHex(nonce),
    ciphertext: toHex(ciphertext),
    account: key.account,
  };
}

/** The key inside `encryptKey`'s output; a wrong passphrase throws. */
export async function decryptKey(stored, passphrase) {
  const aes = await passphraseKey(passphrase, fromHex(stored.salt), stored.iterations);
  let seed;
  try {
    seed = new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv: fromHex(stored.nonce) }, aes, fromHex(stored.ciphertext)));
  } catch {
    throw new Error('wrong passphrase (or a damaged key)');
  }
  return Key.fromSeed(seed);
}
