// The browser wallet: an ed25519 key created or imported in this page, kept in local storage
// only encrypted under the user's passphrase (PBKDF2-SHA-256 + AES-GCM, sdk/js keys.js). The
// secret never leaves the page: transactions are signed here and only signed bytes are sent.

import { decryptKey, encryptKey, Key } from '/sdk/index.js';

const STORAGE = 'vcity.wallet.v1';
let unlocked = null;
const listeners = new Set();

function changed() {
  for (const listener of listeners) listener(state());
}

/** Calls `listener(state)` on every change (created, unlocked, locked, forgotten). */
export function onWalletChange(listener) {
  listeners.add(listener);
}

/** 'none' (no wallet here), 'locked' or 'unlocked'. */
export function state() {
  if (unlocked) return 'unlocked';
  return localStorage.getItem(STORAGE) ? 'locked' : 'none';
}

/** The stored wallet's account (readable while locked), or null. */
export function storedAccount() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE))?.account ?? null;
  } catch {
    return null;
  }
}

/** The unlocked key, or null. */
export function key() {
  return unlocked;
}

function checkPassphrase(passphrase) {
  if (passphrase.length < 8) throw new Error('use a passphrase of at least 8 characters');
}

async function keep(newKey, passphrase) {
  checkPassphrase(passphrase);
  const stored = await encryptKey(newKey, passphrase);
  localStorage.setItem(STORAGE, JSON.stringify(stored));
  unlocked = newKey;
  changed();
  return newKey;
}

/** A new key from the browser's secure random source, stored encrypted. */
export async function create(passphrase) {
  checkPassphrase(passphrase);
  return keep(await Key.generate(), passphrase);
}

/** An existing key from its 32-byte seed (64 hex digits), stored encrypted. */
export async function importSeed(seedHex, passphrase) {
  const clean = seedHex.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(clean)) throw new Error('a seed is 64 hex digits');
  checkPassphrase(passphrase);
  return keep(await Key.fromSeed(clean), passphrase);
}

export async function unlock(passphrase) {
  const stored = JSON.parse(localStorage.getItem(STORAGE));
  unlocked = await decryptKey(stored, passphrase);
  changed();
  return unlocked;
}

export function lock() {
  unlocked = null;
  changed();
}

/** Removes the wallet from this browser. Without a backup of the seed, the account is lost. */
export function forget() {
  localStorage.removeItem(STORAGE);
  unlocked = null;
  changed();
}

/** Signs `messages` with the unlocked key, sends them and waits for the receipt. */
export async function send(client, messages) {
  if (!unlocked) throw new Error('unlock your wallet first (Wallet page)');
  return client.sendAndWait(unlocked, messages);
}
