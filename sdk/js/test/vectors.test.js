// The SDK against sdk/vectors/golden.json, which a Rust test writes from vcity-types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  commitmentHash, contentAddress, decryptKey, encode, EncodingError, encryptKey, fromHex, Key,
  ownerRequestDigest, signBytes, signTransaction, toHex, verify,
} from '../src/index.js';

// JSON numbers above 2^53 lose digits in JSON.parse: read long integer literals as strings,
// which the encoder takes for u64 and u128 (hex and decimal amounts are already strings).
const text = readFileSync(new URL('../../vectors/golden.json', import.meta.url), 'utf8');
const golden = JSON.parse(text.replace(/([:[,]\s*)(\d{16,})(?=\s*[,\]}])/g, '$1"$2"'));

test('seeds give the accounts and DIDs of the Rust types', async () => {
  for (const vector of golden.keys) {
    const key = await Key.fromSeed(vector.seed);
    assert.equal(key.account, vector.account);
    assert.equal(key.did, vector.did);
  }
});

test('every message type encodes, signs and hashes byte for byte', async () => {
  assert.ok(golden.transactions.length > 50);
  for (const vector of golden.transactions) {
    const key = await Key.fromSeed(vector.seed);
    assert.equal(toHex(signBytes(vector.body)), vector.sign_bytes, vector.name);
    const signed = await signTransaction(key, vector.body);
    assert.equal(toHex(signed.signature), vector.signature, vector.name);
    assert.equal(toHex(signed.bytes), vector.tx, vector.name);
    assert.equal(signed.hash, vector.hash, vector.name);
    assert.ok(await verify(key.publicKey, fromHex(vector.sign_bytes), signed.signature));
  }
});

test('content addresses, result commitments and owner requests match', async () => {
  for (const vector of golden.content_addresses) {
    assert.equal(contentAddress(fromHex(vector.bytes)), vector.address);
  }
  for (const vector of golden.result_commitments) {
    assert.equal(commitmentHash(vector.commitment), vector.hash);
  }
  for (const vector of golden.owner_requests) {
    const digest = ownerRequestDigest(vector.method, vector.path, vector.time_ms);
    assert.equal(digest, vector.digest);
    const key = await Key.fromSeed(vector.seed);
    assert.equal(toHex(await key.sign(fromHex(digest))), vector.signature);
  }
});

test('a DID names the same account as its hex', () => {
  const [first] = golden.keys;
  const transfer = (to) => encode('Message', { type: 'transfer', to, denom: 'usd', amount: '1' });
  assert.deepEqual(transfer(first.did), transfer(first.account));
});

test('bad values are refused with the path to the field', () => {
  const transfer = { type: 'transfer', to: golden.keys[0].account, denom: 'usd', amount: '1' };
  const refuse = (value, pattern) => assert.throws(() => encode('Message', value), (error) => error instanceof EncodingError && pattern.test(error.message));
  refuse({ ...transfer, amount: '-1' }, /^amount: /);
  refuse({ ...transfer, amount: (1n << 128n).toString() }, /out of range for amount/);
  refuse({ ...transfer, amount: 2 ** 60 }, /not a safe integer/);
  refuse({ ...transfer, denom: 'eur' }, /^denom: expected one of vcai, usd/);
  refuse({ ...transfer, to: 'abcd' }, /^to: expected 64 hex digits/);
  refuse({ ...transfer, memo: 'x' }, /unknown field "memo"/);
  refuse({ type: 'transfer', denom: 'usd', amount: '1' }, /missing field "to"/);
  refuse({ ...transfer, type: 'teleport' }, /"type" must be one of transfer, mint_usd/);
  refuse(
    { type: 'submit_job', workload: { module_hash: '00'.repeat(32), input: [256] }, tasks: 1, requirements: {}, max_cu_ppm_per_task: 1, max_price_per_cu_usd: '1', billing: { model: 'pay_as_you_go' } },
    /^workload\.input: expected bytes/,
  );
});

test('fields the Rust types default may be left out', () => {
  const job = {
    type: 'submit_job',
    workload: { module_hash: '33'.repeat(32), input: [] },
    tasks: 1,
    requirements: { gpu_model: null, gpu_count: 0, min_vram_mib: 0, region: null, max_duration_s: 60 },
    max_cu_ppm_per_task: 1_000_000,
    max_price_per_cu_usd: '1',
    billing: { model: 'pay_as_you_go' },
  };
  const full = {
    ...job,
    workload: { ...job.workload, executor: { kind: 'wasm' }, shards: [], service: null, output_dir: false },
    requirements: { ...job.requirements, node_kind: null, gang: false, high_load: false, sandbox: null },
    verification: 'standard',
    retries: null,
  };
  assert.deepEqual(encode('Message', job), encode('Message', full));
});

test('a key encrypted with a passphrase comes back only with that passphrase', async () => {
  const key = await Key.generate();
  const stored = await encryptKey(key, 'correct horse', 1_000);
  assert.equal(stored.account, key.account);
  assert.ok(!JSON.stringify(stored).includes(toHex(key.exportSeed())));
  assert.equal((await decryptKey(stored, 'correct horse')).account, key.account);
  await assert.rejects(decryptKey(stored, 'wrong'), /wrong passphrase/);
});

test('a transaction signed by someone else is refused before signing', async () => {
  const [first, second] = golden.keys;
  const key = await Key.fromSeed(first.seed);
  await assert.rejects(signTransaction(key, { chain_id: 'x', sender: second.account, nonce: 0, fee: '0', messages: [] }), /is not the sender/);
});
