// The console's shell: hash routes to pages, the chain badge, the wallet chip, and one live
// connection to the node's event stream that tells the open page when a block commits.

import { Client } from '/sdk/index.js';
import { fill, h, notice, short, describeError } from './ui.js';
import * as wallet from './wallet.js';
import * as network from './pages/network.js';
import * as walletPage from './pages/wallet.js';
import * as jobs from './pages/jobs.js';
import * as nodes from './pages/nodes.js';
import * as economy from './pages/economy.js';
import * as governance from './pages/governance.js';
import * as agents from './pages/agents.js';

const client = new Client('');
const page = document.getElementById('page');
// `reload` renders the current route again (after the wallet changes state, say), so the page
// that results is the one the router holds and tells about new blocks.
const context = { client, wallet, navigate: (path) => (location.hash = `#/${path}`), reload: () => route() };

// [pattern, section, render(container, context, ...captures)]
const ROUTES = [
  [/^(?:network)?$/, 'network', network.overview],
  [/^search\/(.+)$/, 'network', network.search],
  [/^tx\/([0-9a-f]{64})$/, 'network', network.transaction],
  [/^block\/(\d+)$/, 'network', network.block],
  [/^account\/([^/]+)$/, 'network', network.account],
  [/^wallet$/, 'wallet', walletPage.render],
  [/^jobs$/, 'jobs', jobs.list],
  [/^jobs\/(\d+)$/, 'jobs', jobs.detail],
  [/^nodes$/, 'nodes', nodes.list],
  [/^nodes\/([0-9a-f]{64})$/, 'nodes', nodes.detail],
  [/^economy$/, 'economy', economy.render],
  [/^governance$/, 'governance', governance.list],
  [/^governance\/([0-9a-f]{64})$/, 'governance', governance.detail],
  [/^agents$/, 'agents', agents.list],
  [/^agents\/(\d+)$/, 'agents', agents.detail],
];

let current = null;
let generation = 0;

async function route() {
  const path = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
  const match = ROUTES.map(([pattern, section, render]) => [pattern.exec(path), section, render]).find(([found]) => found);
  const mine = ++generation;
  current?.dispose?.();
  current = null;
  for (const link of document.querySelectorAll('nav a')) link.classList.toggle('active', link.dataset.section === match?.[1]);
  if (!match) {
    fill(page, notice(`No page at #/${path}.`, 'warn'));
    return;
  }
  const [found, , render] = match;
  const container = h('div', { class: 'view', dataset: { page: match[1] } });
  fill(page, container, h('div', { class: 'hint' }, 'Loading…'));
  try {
    const view = await render(container, context, ...found.slice(1));
    if (mine !== generation) return view?.dispose?.();
    current = view ?? null;
    page.lastChild?.classList?.contains('hint') && page.lastChild.remove();
    document.title = `${container.querySelector('h1')?.textContent ?? 'Vcity'} · Vcity console`;
  } catch (error) {
    if (mine === generation) fill(page, container, notice(describeError(error), 'bad'));
  }
}

function walletChip() {
  const chip = document.getElementById('wallet-chip');
  const account = wallet.key()?.account ?? wallet.storedAccount();
  chip.classList.toggle('open', wallet.state() === 'unlocked');
  chip.textContent = account ? `${wallet.state() === 'unlocked' ? '●' : '🔒'} ${short(account, 6)}` : 'No wallet';
}

// One stream for the page's life; EventSource reconnects by itself with Last-Event-ID.
let pendingBlock = null;
function live() {
  const badge = document.getElementById('chain');
  const text = document.getElementById('chain-text');
  let chainId = '';
  client.status().then((status) => {
    chainId = status.chain_id;
    text.textContent = `${chainId} · #${status.height}`;
  }).catch(() => (text.textContent = 'node unreachable'));
  const stream = new EventSource('/v1/events');
  stream.addEventListener('open', () => badge.classList.add('live'));
  stream.addEventListener('error', () => badge.classList.remove('live'));
  stream.addEventListener('event', (message) => {
    try {
      current?.onEvent?.(JSON.parse(message.data));
    } catch {
      // A page's handler failing must not stop the stream.
    }
  });
  stream.addEventListener('block', (message) => {
    const summary = JSON.parse(message.data);
    text.textContent = `${chainId || 'chain'} · #${summary.height}`;
    document.body.dataset.height = summary.height;
    // Pages re-read at most once per 600 ms however fast blocks come.
    if (pendingBlock) {
      pendingBlock.summary = summary;
      return;
    }
    pendingBlock = { summary };
    setTimeout(() => {
      const latest = pendingBlock.summary;
      pendingBlock = null;
      Promise.resolve(current?.onBlock?.(latest)).catch(() => {});
    }, 600);
  });
}

wallet.onWalletChange(walletChip);
window.addEventListener('hashchange', route);
walletChip();
live();
route();
