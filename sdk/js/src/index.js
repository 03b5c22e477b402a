// @vcity/sdk: keys, the canonical encoding, signing, and a typed client of the node's API.
// See ../README.md.

export { blake3 } from './blake3.js';
export { base58Decode, base58Encode, concat, fromHex, toHex, utf8 } from './bytes.js';
export { didKeyBytes, encode, EncodingError, schema } from './encoding.js';
export { Key, decryptKey, didOf, encryptKey, verify } from './keys.js';
export { commitmentHash, contentAddress, domainHash, ownerRequestDigest, SIGN_DOMAIN, signBytes, signTransaction, txHash } from './tx.js';
export { ApiError, Client, InvalidOutputError, parseEventStream } from './client.js';
