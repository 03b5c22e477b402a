// Agents (docs/agents.md): search the registry, read an agent's terms, take a licence, and call
// it: a call is a job, followed and fetched on its job page.

import { accountLink, busy, card, fill, h, kv, notice, pageHead, parseUnits, pill, ppm, section, table, toast, usd } from '../ui.js';

function rating(view) {
  if (view.score_ppm === null || view.score_ppm === undefined) return `unrated (${view.ratings} rating${view.ratings === 1 ? '' : 's'})`;
  return `${ppm(view.score_ppm, 0)} score · ${view.ratings} ratings`;
}

function offerText(offer) {
  const kind = offer.kind.kind;
  const span = offer.kind.duration_s ? ` for ${Math.round(offer.kind.duration_s / 3600)} h` : '';
  return `${kind}${span}: ${usd(offer.price_usd)}`;
}

function agentCard(view) {
  const agent = view; // The view is the agent record with its derived fields beside it.
  return h(
    'section',
    { class: 'card agent-card' },
    h('h3', {}, h('a', { href: `#/agents/${agent.id}` }, agent.metadata.name)),
    h('div', { class: 'hint' }, rating(view), ` · ${agent.calls} calls`),
    h('p', { style: 'margin:6px 0' }, agent.metadata.description),
    h('div', { class: 'tags' }, agent.metadata.tags.map((tag) => pill(tag, 'info'))),
    h('div', { class: 'hint' }, agent.terms?.per_call_usd ? `${usd(agent.terms.per_call_usd, 4)} per call` : agent.terms ? 'licence required' : 'not offered for use', agent.sale ? ` · for sale at ${usd(agent.sale.price_usd)}` : ''),
  );
}

export async function list(container, { client }) {
  const results = h('div', { class: 'grid three' });
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const form = h(
    'form',
    {
      id: 'agent-search',
      onsubmit: (event) => {
        event.preventDefault();
        search();
      },
    },
    h(
      'div',
      { class: 'fields' },
      h('label', {}, 'Words', h('input', { name: 'text', value: params.get('text') ?? '', placeholder: 'tour, tutor, support…' })),
      h('label', {}, 'Tag', h('input', { name: 'tag', value: params.get('tag') ?? '' })),
      h('label', {}, 'Sort by', h('select', { name: 'sort' }, ['score', 'calls', 'price', 'newest'].map((sort) => h('option', { value: sort }, sort)))),
    ),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Search')),
  );
  async function search() {
    const agents = await client.agents({ text: form.text.value.trim(), tag: form.tag.value.trim(), sort: form.sort.value });
    fill(results, agents.length ? agents.map(agentCard) : h('div', { class: 'empty' }, 'No agents match. Deploy one with `vcity template deploy` or `vcity agent mint` (docs/agents.md).'));
  }
  fill(container, pageHead('Agents', 'Agents are NFTs with a program: licensed, called as jobs, paid per call, rated by their callers.'), section('Find an agent', form), h('div', { class: 'section' }, results));
  await search();
}

export async function detail(container, { client, wallet, navigate }, id) {
  const status = h('div');
  async function refresh() {
    const view = await client.agent(Number(id));
    const agent = view; // The view is the agent record with its derived fields beside it.
    const account = wallet.key()?.account;
    const licence = account ? await client.get(`/v1/agents/${agent.id}/licences/${account}`).catch(() => null) : null;
    const versions = view.version_list.filter((version) => !version.retired);
    const latest = versions[versions.length - 1];
    const open = wallet.state() === 'unlocked';
    const invoke = h(
      'form',
      {
        id: 'invoke-agent',
        onsubmit: async (event) => {
          event.preventDefault();
          const form = event.target;
          await busy(form.querySelector('button'), status, async () => {
            const message = {
              type: 'invoke_agent',
              agent_id: agent.id,
              version: Number(form.version.value),
              input: Array.from(new TextEncoder().encode(form.input.value)),
              requirements: { gpu_model: null, gpu_count: 0, min_vram_mib: 0, region: null, max_duration_s: 600 },
              max_cu_ppm: parseUnits(form.max_cu.value, 6),
              max_price_per_cu_usd: parseUnits(form.max_price.value, 6),
              max_call_fee_usd: parseUnits(form.max_fee.value, 6),
            };
            const sent = await wallet.send(client, [message]);
            const job = sent.receipt.events.find((item) => item.type === 'job_submitted');
            toast(`Call sent: job ${job.job_id}`, 'good');
            navigate(`jobs/${job.job_id}`);
          });
        },
      },
      h('label', {}, 'Question or input', h('textarea', { name: 'input', required: true, rows: 3 })),
      h(
        'div',
        { class: 'fields' },
        h('label', {}, 'Version', h('select', { name: 'version' }, versions.map((version) => h('option', { value: version.number, selected: version === latest }, `v${version.number}`)))),
        h('label', {}, 'Most CU', h('input', { name: 'max_cu', value: '0.05' })),
        h('label', {}, 'Most USD per CU', h('input', { name: 'max_price', value: '0.1' })),
        h('label', {}, 'Most call fee (USD)', h('input', { name: 'max_fee', value: agent.terms?.per_call_usd ? String(Number(agent.terms.per_call_usd) / 1e6) : '0' })),
      ),
      h('div', { class: 'actions' }, h('button', { type: 'submit', disabled: !open || !latest }, 'Call agent'), open ? null : h('a', { href: '#/wallet' }, 'Unlock a wallet to call')),
    );
    const offers = agent.terms?.offers ?? [];
    fill(
      container,
      pageHead(agent.metadata.name, agent.metadata.description),
      h(
        'div',
        { class: 'grid two' },
        card(
          h('h2', {}, 'About'),
          h('div', { class: 'tags' }, agent.metadata.tags.map((tag) => pill(tag, 'info'))),
          kv([
            ['Rating', rating(view)],
            ['Calls', String(agent.calls)],
            ['Creator', h('span', { class: 'hash' }, view.creator_did)],
            ['Holder', accountLink(agent.owner)],
            ['Copyright', agent.copyright],
            ['Usage terms', agent.usage_terms],
            ['Royalty', `${agent.royalty_bps / 100}% of resales`],
          ]),
        ),
        card(
          h('h2', {}, 'Terms'),
          agent.terms ? kv([['Per call', agent.terms.per_call_usd ? usd(agent.terms.per_call_usd, 4) : 'only with a licence'], ['Protocol share', ppm(agent.terms.protocol_share_ppm, 1)]]) : notice('The holder offers no terms: nobody else can call it.', 'warn'),
          licence ? notice(`You hold a ${licence.kind.kind} licence${licence.until_s ? ` until ${licence.until_s} s` : ''}.`, 'good') : null,
          offers.length
            ? table(
                [{ title: 'Licence' }, { title: '' }],
                offers.map((offer, index) => [offerText(offer), open ? h('button', { class: 'small ghost', onclick: (event) => busy(event.target, status, async () => (await wallet.send(client, [{ type: 'take_licence', agent_id: agent.id, offer: index, max_price_usd: offer.price_usd }]), toast('Licence taken', 'good'), refresh())) }, 'Take') : '—']),
              )
            : null,
        ),
      ),
      h('div', { class: 'section' }, section('Call it', invoke, status)),
      h('div', { class: 'section' }, section('Versions', table([{ title: 'Version' }, { title: 'Executor' }, { title: 'Module' }, { title: 'State' }], view.version_list.map((version) => [`v${version.number}`, version.program.executor.kind, h('span', { class: 'hash' }, version.program.module_hash), version.retired ? pill('retired') : pill('active', 'good')])))),
    );
  }
  await refresh();
}
