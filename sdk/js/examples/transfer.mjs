#!/usr/bin/env node
// Send USD with a key file and print the receipt, then the committed events that name the
// sender, from the event stream.
//
//   node examples/transfer.mjs --api http://127.0.0.1:8710 --key ~/.vcity/keys/alice.json \
//       --to <account hex or did:key> --amount 1.5
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Client, Key } from '../src/index.js';

const { values } = parseArgs({
  options: {
    api: { type: 'string', default: 'http://127.0.0.1:8710' },
    key: { type: 'string' },
    to: { type: 'string' },
    amount: { type: 'string' },
  },
});
if (!values.key || !values.to || !values.amount) {
  console.error('usage: transfer.mjs --api URL --key KEYFILE --to ACCOUNT --amount USD');
  process.exit(2);
}
// USD has 6 decimals: "1.5" is 1,500,000 base units (docs/rules.md §1).
const [whole, fraction = ''] = values.amount.split('.');
if (!/^\d+$/.test(whole) || !/^\d{0,6}$/.test(fraction)) throw new Error(`not a USD amount: ${values.amount}`);
const units = BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(6, '0'));

const file = JSON.parse(readFileSync(values.key, 'utf8'));
const key = await Key.fromSeed(file.secret_key.trim());
if (key.account !== file.account) throw new Error(`${values.key}: the secret key does not match ${file.account}`);

const client = new Client(values.api);
const view = await client.sendAndWait(key, [{ type: 'transfer', to: values.to, denom: 'usd', amount: units.toString() }]);
const events = [];
const stop = new AbortController();
for await (const item of client.events({ fromHeight: view.receipt.height, signal: stop.signal })) {
  if (item.event === 'event' && item.data.tx_hash === view.tx_hash) events.push(item.data.event);
  if (item.event === 'block') break;
}
stop.abort();
console.log(JSON.stringify({ tx_hash: view.tx_hash, height: view.receipt.height, code: view.receipt.code, events }));
