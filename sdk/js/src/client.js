// A typed client of the node's HTTP API (docs/api.md; the contract is /v1/openapi.json). Every
// method maps to one documented route. Errors are the API's JSON error body as an ApiError.

import { fromHex, toHex } from './bytes.js';
import { commitmentHash, contentAddress, ownerRequestDigest, signTransaction } from './tx.js';

/** The node's error body ({code, error, message}) with the HTTP status. */
export class ApiError extends Error {
  constructor(status, body, url) {
    super(`${url}: ${status} ${body?.error ?? ''}: ${body?.message ?? ''}`.trim());
    this.name = 'ApiError';
    this.status = status;
    /** Stable numeric code (docs/protocol.md, error codes); 0 when not about a transaction. */
    this.code = body?.code ?? 0;
    /** Stable snake_case name, e.g. `bad_nonce`. */
    this.error = body?.error ?? 'http_error';
    this.detail = body?.message ?? '';
  }
}

/** A checked output failed its commitment: the node served something else. */
export class InvalidOutputError extends Error {}

const enc = encodeURIComponent;

export class Client {
  /**
   * @param {string} base the node's API, e.g. "http://127.0.0.1:8710" ("" in the console: same origin)
   * @param {{fetch?: typeof fetch}} [options]
   */
  constructor(base = '', options = {}) {
    this.base = base.replace(/\/+$/, '');
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.chain = null;
  }

  async request(path, init = {}, base = this.base) {
    const url = `${base}${path}`;
    const response = await this.fetch(url, init);
    if (!response.ok) {
      let body = null;
      try {
        body = await response.json();
      } catch {
        body = { message: response.statusText };
      }
      throw new ApiError(response.status, body, url);
    }
    return response;
  }

  async get(path, query) {
    const search = query
      ? '?' +
        Object.entries(query)
          .filter(([, value]) => value !== undefined && value !== null && value !== '')
          .map(([name, value]) => `${enc(name)}=${enc(String(value))}`)
          .join('&')
      : '';
    return (await this.request(path + (search === '?' ? '' : search))).json();
  }

  async post(path, body) {
    const response = await this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return response.json();
  }

  status = () => this.get('/v1/status');
  validators = () => this.get('/v1/validators');
  health = () => this.get('/v1/health');
  openapi = () => this.get('/v1/openapi.json');
  params = () => this.get('/v1/params');
  supply = () => this.get('/v1/supply');
  account = (id) => this.get(`/v1/accounts/${enc(id)}`);
  vesting = (id) => this.get(`/v1/accounts/${enc(id)}/vesting`);
  rewards = (id) => this.get(`/v1/accounts/${enc(id)}/rewards`);
  poolPosition = (id) => this.get(`/v1/accounts/${enc(id)}/pool`);
  veAccount = (id, query) => this.get(`/v1/accounts/${enc(id)}/ve`, query);
  veTotal = (query) => this.get('/v1/ve', query);
  pool = () => this.get('/v1/pool');
  treasury = () => this.get('/v1/treasury');
  incentives = () => this.get('/v1/incentives');
  trust = () => this.get('/v1/trust');
  attestation = () => this.get('/v1/attestation');
  nodes = (query) => this.get('/v1/nodes', query);
  node = (id) => this.get(`/v1/nodes/${enc(id)}`);
  jobs = (query) => this.get('/v1/jobs', query);
  job = (id) => this.get(`/v1/jobs/${enc(id)}`);
  subscription = (id) => this.get(`/v1/subscriptions/${enc(id)}`);
  governance = () => this.get('/v1/governance');
  proposals = (query) => this.get('/v1/governance/proposals', query);
  proposal = (id) => this.get(`/v1/governance/proposals/${enc(id)}`);
  proposalComments = (id) => this.get(`/v1/governance/proposals/${enc(id)}/comments`);
  nfts = (query) => this.get('/v1/nfts', query);
  nft = (id) => this.get(`/v1/nfts/${enc(id)}`);
  agents = (query) => this.get('/v1/agents', query);
  agent = (id) => this.get(`/v1/agents/${enc(id)}`);
  agentCall = (job) => this.get(`/v1/agent-calls/${enc(job)}`);
  latestBlock = () => this.get('/v1/blocks/latest');
  block = (height) => this.get(`/v1/blocks/${enc(height)}`);
  transaction = (hash) => this.get(`/v1/txs/${enc(hash)}`);

  /** `GET /v1/blobs/{address}`, checked against its content address. */
  async blob(address) {
    const bytes = new Uint8Array(await (await this.request(`/v1/blobs/${enc(address)}`)).arrayBuffer());
    if (contentAddress(bytes) !== address) throw new InvalidOutputError(`blob ${address} does not match its address`);
    return bytes;
  }

  /** `POST /v1/blobs`: stores bytes, answers {address, bytes}. */
  async putBlob(bytes) {
    const response = await this.request('/v1/blobs', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    return response.json();
  }

  /** `POST /v1/txs` with canonical signed bytes; answers the transaction id. */
  async submit(bytes) {
    const answer = await this.post('/v1/txs', { tx: toHex(bytes) });
    return answer.tx_hash;
  }

  /** Polls until the transaction has a receipt (`timeoutMs`, default 30 s). */
  async waitForTransaction(hash, { timeoutMs = 30_000, intervalMs = 150 } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const view = await this.transaction(hash);
        if (view.receipt) return view;
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
      }
      if (Date.now() >= deadline) throw new Error(`transaction ${hash} has no receipt after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  /**
   * Signs `messages` (their JSON form) from `key` with the chain's id and the account's next
   * pending nonce, submits, and answers {hash, bytes}. `fee` defaults to the chain's minimum.
   */
  async send(key, messages, { fee } = {}) {
    if (this.chain === null) {
      const status = await this.status();
      this.chain = { chainId: status.chain_id, minFee: status.min_fee_usd };
    }
    const account = await this.account(key.account);
    const signed = await signTransaction(key, {
      chain_id: this.chain.chainId,
      sender: key.account,
      nonce: account.pending_nonce,
      fee: fee ?? this.chain.minFee,
      messages,
    });
    const hash = await this.submit(signed.bytes);
    return { hash, bytes: signed.bytes };
  }

  /** `send`, then the receipt; a refused transaction throws with the receipt's code. */
  async sendAndWait(key, messages, options = {}) {
    const { hash } = await this.send(key, messages, options);
    const view = await this.waitForTransaction(hash, options);
    if (view.receipt.code !== 0) {
      const error = new ApiError(200, { code: view.receipt.code, error: view.receipt.error, message: `transaction ${hash} failed` }, '/v1/txs');
      error.receipt = view.receipt;
      throw error;
    }
    return view;
  }

  /**
   * The committed event stream (`GET /v1/events`, server-sent events) as an async iterator of
   * {event: "event"|"block", id, data}. Resumes after `fromHeight - 1`. Stop with `signal`.
   */
  async *events({ fromHeight, signal } = {}) {
    const query = fromHeight === undefined ? '' : `?from_height=${enc(fromHeight)}`;
    const response = await this.request(`/v1/events${query}`, { headers: { accept: 'text/event-stream' }, signal });
    yield* parseEventStream(response.body, signal);
  }

  /**
   * Task `task`'s output, fetched from the compute node that ran it with a request signed by
   * the job's owner `key`, and checked: the node's commitment must hash to the ledger's
   * `output_hash` and the output to the commitment's content address.
   */
  async taskOutput(key, jobId, task) {
    const job = await this.job(jobId);
    const state = job.tasks?.[task]?.state;
    if (!state || (state.state !== 'completed' && state.state !== 'settled')) {
      throw new Error(`task ${task} of job ${jobId} has no result yet (${state?.state ?? 'no such task'})`);
    }
    const endpoint = (await this.node(state.node)).node.endpoint.replace(/\/+$/, '');
    const view = await (await this.ownerGet(key, endpoint, `/v1/tasks/${jobId}/${task}/result`)).json();
    if (commitmentHash(view.commitment) !== state.output_hash) {
      throw new InvalidOutputError(`the node's commitment does not hash to the ledger's ${state.output_hash}`);
    }
    const output = new Uint8Array(await (await this.ownerGet(key, endpoint, `/v1/tasks/${jobId}/${task}/output`)).arrayBuffer());
    if (contentAddress(output) !== view.commitment.output) {
      throw new InvalidOutputError('the output does not match the committed content address');
    }
    return { commitment: view.commitment, output };
  }

  async ownerGet(key, endpoint, path) {
    const timeMs = Date.now();
    const signature = await key.sign(fromHex(ownerRequestDigest('GET', path, timeMs)));
    return this.request(
      path,
      {
        headers: {
          'x-vcity-account': key.account,
          'x-vcity-time-ms': String(timeMs),
          'x-vcity-signature': toHex(signature),
        },
      },
      endpoint,
    );
  }
}

/** Parses a text/event-stream body (a ReadableStream of bytes) into {event, id, data} items. */
export async function* parseEventStream(stream, signal) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let item = { event: 'message', id: null, data: [] };
  try {
    for (;;) {
      if (signal?.aborted) return;
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let newline;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
        if (line === '') {
          if (item.data.length > 0) {
            const text = item.data.join('\n');
            let data = text;
            try {
              data = JSON.parse(text);
            } catch {
              // Not JSON: hand over the text.
            }
            yield { event: item.event, id: item.id, data };
          }
          item = { event: 'message', id: null, data: [] };
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') item.event = text;
        else if (field === 'data') item.data.push(text);
        else if (field === 'id') item.id = text;
      }
    }
  } finally {
    reader.releaseLock();
  }
}
