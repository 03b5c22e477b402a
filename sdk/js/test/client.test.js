// The client against a local HTTP server that answers like the node: errors, send, events.
// (The end-to-end run against a real devnet is the console's browser test.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { ApiError, Client, Key, fromHex, txHash } from '../src/index.js';

async function serve(handler) {
  const server = createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${server.address().port}` };
}

test('an API error arrives as ApiError with its stable code', async () => {
  const { server, base } = await serve((request, response) => {
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ code: 0, error: 'not_found', message: 'no job 9' }));
  });
  try {
    await assert.rejects(new Client(base).job(9), (error) => error instanceof ApiError && error.status === 404 && error.error === 'not_found');
  } finally {
    server.close();
  }
});

test('send signs with the chain id and pending nonce and submits the canonical bytes', async () => {
  const key = await Key.fromSeed('07'.repeat(32));
  let submitted = null;
  const { server, base } = await serve((request, response) => {
    const json = (value) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(value));
    };
    if (request.url === '/v1/status') return json({ chain_id: 'vcity-test', min_fee_usd: '1000' });
    if (request.url === `/v1/accounts/${key.account}`) return json({ pending_nonce: 4 });
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      submitted = fromHex(JSON.parse(body).tx);
      json({ tx_hash: txHash(submitted) });
    });
  });
  try {
    const { hash, bytes } = await new Client(base).send(key, [{ type: 'claim_rewards' }]);
    assert.deepEqual(bytes, submitted);
    assert.equal(hash, txHash(submitted));
    // chain id "vcity-test" (4-byte length + 10), sender, then nonce 4 and fee 1000 little-endian.
    const nonce = new DataView(submitted.buffer, 4 + 10 + 32, 8).getBigUint64(0, true);
    assert.equal(nonce, 4n);
  } finally {
    server.close();
  }
});

test('the event stream yields parsed items across chunk boundaries', async () => {
  const { server, base } = await serve((request, response) => {
    assert.equal(request.url, '/v1/events?from_height=3');
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.write(': keep-alive\n\nevent: event\ndata: {"height":3,"event":{"type":"tr');
    setTimeout(() => {
      response.write('ansfer"}}\n\nevent: block\r\nid: 3\r\ndata: {"height":3,"tx_count":1}\r\n\r\n');
      response.end();
    }, 20);
  });
  try {
    const items = [];
    for await (const item of new Client(base).events({ fromHeight: 3 })) items.push(item);
    assert.deepEqual(items, [
      { event: 'event', id: null, data: { height: 3, event: { type: 'transfer' } } },
      { event: 'block', id: '3', data: { height: 3, tx_count: 1 } },
    ]);
  } finally {
    server.close();
  }
});
