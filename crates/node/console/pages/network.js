// Network: height, block time, validators, recent blocks and transactions, search; and the
// transaction, block and account pages search leads to.

import { accountLink, ago, brief, card, copyButton, fill, h, kv, notice, pageHead, pill, section, short, stat, table, units, usd } from '../ui.js';

const RECENT = 12;

function messageTypes(body) {
  return [...new Set(body.messages.map((message) => message.type.replace(/_/g, ' ')))].join(', ');
}

function receiptPill(view) {
  if (!view.receipt) return pill(view.status ?? 'pending', 'warn');
  return view.receipt.code === 0 ? pill('ok', 'good') : pill(view.receipt.error, 'bad');
}

function searchBox(context, value = '') {
  const input = h('input', { name: 'q', value, placeholder: 'Transaction hash, account (hex or did:key), job number or block height', 'aria-label': 'Search' });
  return h(
    'form',
    { class: 'search', onsubmit: (event) => (event.preventDefault(), input.value.trim() && context.navigate(`search/${encodeURIComponent(input.value.trim())}`)) },
    input,
    h('button', { type: 'submit' }, 'Search'),
  );
}

export async function overview(container, { client, navigate }) {
  const stats = h('div', { class: 'grid stats' });
  const blocks = h('div');
  const txs = h('div');
  const validators = h('div');
  fill(
    container,
    pageHead('Network', 'The chain as this node sees it, live.'),
    searchBox({ navigate }),
    h('div', { class: 'section' }, stats),
    h('div', { class: 'grid two' }, section('Recent blocks', blocks), section('Recent transactions', txs)),
    h('div', { class: 'section' }, section('Validators', validators)),
  );
  const cache = new Map();
  async function blockAt(height) {
    if (!cache.has(height)) cache.set(height, await client.block(height));
    return cache.get(height);
  }
  async function refresh() {
    const [status, supply, validatorSet, jobsOpen] = await Promise.all([client.status(), client.supply(), client.validators(), client.jobs({ open: true, limit: 500 })]);
    const top = status.height;
    const heights = [];
    for (let height = top; height >= 1 && heights.length < RECENT; height--) heights.push(height);
    const recent = await Promise.all(heights.map(blockAt));
    for (const height of cache.keys()) if (height < top - RECENT) cache.delete(height);
    const spans = recent.slice(0, -1).map((block, index) => block.header.time_ms - recent[index + 1].header.time_ms);
    const blockTime = spans.length ? spans.reduce((a, b) => a + b, 0) / spans.length / 1000 : null;
    fill(
      stats,
      stat('Height', `#${top}`, ago(status.latest_block_time_ms)),
      stat('Block time', blockTime === null ? '—' : `${blockTime.toFixed(2)} s`, `average of the last ${spans.length}`),
      stat('Validators', String(validatorSet.length), `${status.engine} engine`),
      stat('Open jobs', String(jobsOpen.length), `${status.mempool_size} transactions waiting`),
      stat('USD on chain', brief(supply.usd_total, 6), status.chain_id),
    );
    fill(
      blocks,
      table(
        [{ title: 'Height' }, { title: 'Age' }, { title: 'Txs', num: true }, { title: 'Hash' }],
        recent.map((block) => [h('a', { href: `#/block/${block.header.height}` }, `#${block.header.height}`), ago(block.header.time_ms), String(block.header.tx_count), h('span', { class: 'hash' }, short(block.hash))]),
      ),
    );
    const hashes = recent.flatMap((block) => block.transactions.map((hash) => [hash, block.header.height])).slice(0, RECENT);
    const views = await Promise.all(hashes.map(([hash]) => client.transaction(hash).catch(() => null)));
    fill(
      txs,
      table(
        [{ title: 'Transaction' }, { title: 'Block' }, { title: 'What' }, { title: 'Result' }],
        views.filter(Boolean).map((view) => [h('a', { href: `#/tx/${view.tx_hash}`, class: 'mono' }, short(view.tx_hash)), `#${view.receipt?.height ?? '—'}`, messageTypes(view.body), receiptPill(view)]),
        'No transactions in the last blocks.',
      ),
    );
    fill(
      validators,
      table(
        [{ title: 'Name' }, { title: 'Key' }, { title: 'Power', num: true }],
        validatorSet.map((validator) => [validator.name, h('span', { class: 'hash' }, validator.public_key), String(validator.power)]),
      ),
    );
  }
  await refresh();
  return { onBlock: refresh };
}

export async function search(container, context, query) {
  const { client, navigate } = context;
  const text = query.trim();
  fill(container, pageHead('Search', `Looking for “${text}”…`), searchBox(context, text));
  if (/^\d+$/.test(text)) {
    const number = Number(text);
    const job = await client.job(number).catch(() => null);
    const status = await client.status();
    const links = [];
    if (job) links.push(h('li', {}, h('a', { href: `#/jobs/${number}` }, `Job ${number}`), ` · ${job.tasks.length} task(s)`));
    if (number >= 1 && number <= status.height) links.push(h('li', {}, h('a', { href: `#/block/${number}` }, `Block #${number}`)));
    if (links.length === 1) return navigate(links[0].firstChild.getAttribute('href').slice(2));
    container.append(links.length ? card(h('ul', {}, links)) : notice(`No job or block ${number}.`, 'warn'));
    return;
  }
  if (/^[0-9a-fA-F]{64}$/.test(text)) {
    const hex = text.toLowerCase();
    if (await client.transaction(hex).catch(() => null)) return navigate(`tx/${hex}`);
    if (await client.proposal(hex).catch(() => null)) return navigate(`governance/${hex}`);
    return navigate(`account/${hex}`);
  }
  if (text.startsWith('did:key:')) return navigate(`account/${text}`);
  container.append(notice('Search takes a transaction hash, an account (hex or did:key), a proposal id, a job number or a block height.', 'warn'));
}

export async function transaction(container, { client }, hash) {
  async function refresh() {
    const view = await client.transaction(hash);
    const receipt = view.receipt;
    fill(
      container,
      pageHead('Transaction', null, receiptPill(view)),
      card(
        kv([
          ['Hash', h('span', { class: 'hash' }, view.tx_hash), copyButton(view.tx_hash)],
          ['Status', view.status],
          ['Block', receipt ? h('a', { href: `#/block/${receipt.height}` }, `#${receipt.height}`) : '—'],
          ['Sender', accountLink(view.body.sender, view.body.sender)],
          ['Nonce', String(view.body.nonce)],
          ['Fee', usd(view.body.fee, 6)],
          receipt && receipt.code !== 0 ? ['Refused', `${receipt.error} (code ${receipt.code})`] : null,
        ]),
      ),
      h('div', { class: 'grid two section' }, section('Messages', h('pre', {}, JSON.stringify(view.body.messages, null, 2))), section('Events', receipt ? h('pre', {}, JSON.stringify(receipt.events, null, 2)) : h('div', { class: 'empty' }, 'Not executed yet.'))),
    );
    return view;
  }
  const view = await refresh();
  return view.receipt ? null : { onBlock: refresh };
}

export async function block(container, { client }, height) {
  const view = await client.block(Number(height));
  const header = view.header;
  const txs = await Promise.all(view.transactions.slice(0, 100).map((hash) => client.transaction(hash).catch(() => null)));
  fill(
    container,
    pageHead(`Block #${header.height}`, new Date(header.time_ms).toLocaleString()),
    card(
      kv([
        ['Hash', h('span', { class: 'hash' }, view.hash)],
        ['Previous', header.height > 1 ? h('a', { href: `#/block/${header.height - 1}`, class: 'hash' }, header.previous_hash) : header.previous_hash],
        ['Proposer', h('span', { class: 'hash' }, header.proposer)],
        ['State root', h('span', { class: 'hash' }, header.state_root)],
        ['Transactions', String(header.tx_count)],
        ['Signatures', String(view.certificate?.length ?? 0)],
      ]),
    ),
    h('div', { class: 'section' }, section('Transactions', table([{ title: 'Hash' }, { title: 'Sender' }, { title: 'What' }, { title: 'Result' }], txs.filter(Boolean).map((tx) => [h('a', { href: `#/tx/${tx.tx_hash}`, class: 'mono' }, short(tx.tx_hash)), accountLink(tx.body.sender), messageTypes(tx.body), receiptPill(tx)]), 'An empty block.'))),
  );
}

export async function account(container, { client }, id) {
  async function refresh() {
    const [view, node, jobs] = await Promise.all([client.account(id), client.node(id).catch(() => null), client.jobs({ owner: id, limit: 20 }).catch(() => [])]);
    fill(
      container,
      pageHead('Account', view.did),
      h(
        'div',
        { class: 'grid stats' },
        view.balances.map((balance) => stat(balance.denom.toUpperCase(), units(balance.amount, balance.denom === 'usd' ? 6 : 18, 4))),
        stat('Transactions sent', String(view.next_nonce), view.pending_nonce > view.next_nonce ? `${view.pending_nonce - view.next_nonce} waiting` : 'none waiting'),
      ),
      card(kv([['Account', h('span', { class: 'hash' }, view.id), copyButton(view.id)], ['DID', h('span', { class: 'hash' }, view.did)], node ? ['Node', h('a', { href: `#/nodes/${view.id}` }, `${node.node.role} node in ${node.node.region}`)] : null])),
      h('div', { class: 'section' }, section('Jobs', table([{ title: 'Job' }, { title: 'Tasks', num: true }, { title: 'Submitted' }], jobs.map((job) => [h('a', { href: `#/jobs/${job.id}` }, `Job ${job.id}`), String(job.tasks.length), `${job.submitted_s} s after genesis`]), 'No jobs from this account.'))),
    );
  }
  await refresh();
  return { onBlock: refresh };
}
