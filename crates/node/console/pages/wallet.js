// Wallet: create or import a key in this browser, unlock it, see balances, send, claim.

import { busy, card, copyButton, fill, h, kv, notice, pageHead, parseUnits, section, stat, table, toast, units, vcai } from '../ui.js';

function passwordField(name, label, autocomplete = 'new-password') {
  return h('label', {}, label, h('input', { name, type: 'password', required: true, minlength: 8, autocomplete }));
}

function txLink(view) {
  return h('a', { href: `#/tx/${view.tx_hash}`, class: 'mono' }, view.tx_hash.slice(0, 12) + '…');
}

export async function render(container, context) {
  const { wallet } = context;
  const state = wallet.state();
  if (state === 'none') return renderNone(container, context);
  if (state === 'locked') return renderLocked(container, context);
  return renderOpen(container, context);
}

function renderNone(container, context) {
  const { wallet } = context;
  const createStatus = h('div');
  const importStatus = h('div');
  const create = h(
    'form',
    {
      id: 'create-wallet',
      onsubmit: async (event) => {
        event.preventDefault();
        const form = event.target;
        if (form.passphrase.value !== form.confirm.value) return fill(createStatus, notice('The passphrases differ.', 'bad'));
        await busy(form.querySelector('button'), createStatus, async () => {
          await wallet.create(form.passphrase.value);
          toast('Wallet created. Back up its seed.', 'good');
          await context.reload();
        });
      },
    },
    h('p', { class: 'hint' }, 'A new ed25519 key is made in this browser. It is stored here encrypted with your passphrase and never sent anywhere.'),
    h('div', { class: 'fields' }, passwordField('passphrase', 'Passphrase (8+ characters)'), passwordField('confirm', 'Repeat it')),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create wallet')),
    createStatus,
  );
  const restore = h(
    'form',
    {
      id: 'import-wallet',
      onsubmit: async (event) => {
        event.preventDefault();
        const form = event.target;
        await busy(form.querySelector('button'), importStatus, async () => {
          await wallet.importSeed(form.seed.value, form.passphrase.value);
          toast('Wallet imported.', 'good');
          await context.reload();
        });
      },
    },
    h('p', { class: 'hint' }, 'Paste the 32-byte secret seed (64 hex digits), e.g. the secret_key of a vcity key file.'),
    h('label', {}, 'Seed', h('input', { name: 'seed', required: true, autocomplete: 'off', spellcheck: 'false' })),
    passwordField('passphrase', 'Passphrase to encrypt it here'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'ghost' }, 'Import key')),
    importStatus,
  );
  fill(container, pageHead('Wallet', 'Your key lives in this browser only.'), h('div', { class: 'grid two' }, section('Create a wallet', create), section('Import a key', restore)));
}

function renderLocked(container, context) {
  const { wallet } = context;
  const status = h('div');
  fill(
    container,
    pageHead('Wallet', `Account ${wallet.storedAccount()}`),
    section(
      'Unlock',
      h(
        'form',
        {
          id: 'unlock-wallet',
          onsubmit: async (event) => {
            event.preventDefault();
            const form = event.target;
            await busy(form.querySelector('button'), status, async () => {
              await wallet.unlock(form.passphrase.value);
              await context.reload();
            });
          },
        },
        passwordField('passphrase', 'Passphrase', 'current-password'),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'submit' }, 'Unlock'),
          h('button', { type: 'button', class: 'ghost', onclick: () => confirm('Remove this wallet from the browser? Without a backup of its seed the account is lost.') && (wallet.forget(), context.reload()) }, 'Forget this wallet'),
        ),
        status,
      ),
    ),
  );
}

async function renderOpen(container, context) {
  const { client, wallet } = context;
  const key = wallet.key();
  const balances = h('div', { class: 'grid stats' });
  const claims = h('div');
  const sendStatus = h('div');
  const backup = h('div');
  const transfer = h(
    'form',
    {
      id: 'transfer',
      onsubmit: async (event) => {
        event.preventDefault();
        const form = event.target;
        await busy(form.querySelector('button'), sendStatus, async () => {
          const denom = form.denom.value;
          const amount = parseUnits(form.amount.value, denom === 'usd' ? 6 : 18);
          const view = await wallet.send(client, [{ type: 'transfer', to: form.to.value.trim(), denom, amount }]);
          fill(sendStatus, notice(h('span', {}, `Sent ${form.amount.value} ${denom.toUpperCase()} in block #${view.receipt.height}: `, txLink(view)), 'good'));
          form.amount.value = '';
          await refresh();
        });
      },
    },
    h(
      'div',
      { class: 'fields' },
      h('label', {}, 'To (account hex or did:key)', h('input', { name: 'to', required: true, autocomplete: 'off', spellcheck: 'false' })),
      h('label', {}, 'Amount', h('input', { name: 'amount', required: true, inputmode: 'decimal', placeholder: '12.5' })),
      h('label', {}, 'Token', h('select', { name: 'denom' }, h('option', { value: 'usd' }, 'USD'), h('option', { value: 'vcai' }, 'VCAI'))),
    ),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Send'), h('span', { class: 'hint' }, 'Signed here; the fee is the chain minimum.')),
    sendStatus,
  );

  async function claim(button, messages, what) {
    await busy(button, null, async () => {
      const view = await wallet.send(client, messages);
      toast(`${what}: block #${view.receipt.height}`, 'good');
      await refresh();
    });
  }

  async function refresh() {
    const [account, vesting, nfts, rewards] = await Promise.all([
      client.account(key.account),
      client.vesting(key.account).catch(() => null),
      client.nfts({ owner: key.account }).catch(() => []),
      client.rewards(key.account).catch(() => null),
    ]);
    fill(
      balances,
      account.balances.map((balance) => stat(balance.denom.toUpperCase(), units(balance.amount, balance.denom === 'usd' ? 6 : 18, 4))),
      stat('Nonce', String(account.pending_nonce), 'transactions sent'),
    );
    const rows = [];
    if (vesting && vesting.grants.length) {
      rows.push([`Vesting (${vesting.grants.length} grant${vesting.grants.length > 1 ? 's' : ''})`, vcai(vesting.claimable), BigInt(vesting.claimable) > 0n ? h('button', { class: 'small', onclick: (event) => claim(event.target, [{ type: 'claim_vesting' }], 'Vesting claimed') }, 'Claim') : '—']);
    }
    for (const nft of nfts) {
      rows.push([`Genesis NFT #${nft.id}`, vcai(nft.claimable), BigInt(nft.claimable) > 0n ? h('button', { class: 'small', onclick: (event) => claim(event.target, [{ type: 'claim_nft', id: nft.id }], `NFT #${nft.id} claimed`) }, 'Claim') : '—']);
    }
    if (rewards) {
      rows.push(['Buyback rewards (vote escrow)', vcai(rewards.claimable_vcai), BigInt(rewards.claimable_vcai) > 0n ? h('button', { class: 'small', onclick: (event) => claim(event.target, [{ type: 'claim_rewards' }], 'Rewards claimed') }, 'Claim') : '—']);
      const unclaimed = Object.values(rewards.incentives_unclaimed ?? {}).reduce((sum, value) => sum + BigInt(value), 0n);
      if (unclaimed > 0n) rows.push(['Node incentives (credited each period)', vcai(unclaimed.toString()), '—']);
    }
    fill(claims, table([{ title: 'Source' }, { title: 'Claimable', num: true }, { title: '' }], rows, 'Nothing to claim.'));
  }

  fill(
    container,
    pageHead('Wallet', null, h('button', { class: 'ghost', onclick: () => (wallet.lock(), context.reload()) }, 'Lock')),
    card(kv([['Account', h('span', { class: 'hash', id: 'wallet-account' }, key.account), copyButton(key.account)], ['DID', h('span', { class: 'hash' }, key.did), copyButton(key.did)]])),
    h('div', { class: 'section' }, balances),
    h('div', { class: 'grid two' }, section('Send', transfer), section('Claims', claims)),
    h(
      'div',
      { class: 'section' },
      section(
        'Backup',
        h('p', { class: 'hint' }, 'Whoever has the seed controls the account. Write it down offline; this page never sends it.'),
        h('div', { class: 'actions' }, h('button', { class: 'ghost', onclick: () => fill(backup, h('pre', {}, Array.from(key.exportSeed(), (b) => b.toString(16).padStart(2, '0')).join(''))) }, 'Show seed')),
        backup,
      ),
    ),
  );
  await refresh();
  return { onBlock: refresh };
}
