// Governance (docs/governance.md): proposals with their phase and tally, comments, and voting
// with the unlocked wallet's vote-escrow weight at the proposal's snapshot.

import { accountLink, busy, card, fill, h, kv, notice, pageHead, pill, section, stat, table, toast, vcai } from '../ui.js';

const PHASE_TONE = { discussion: 'info', voting: 'warn', timelock: 'info', executable: 'good', executed: 'good', rejected: 'bad', no_quorum: 'bad', expired: '' };

function share(part, whole) {
  const all = BigInt(whole);
  return all > 0n ? Number((BigInt(part) * 1000n) / all) / 10 : 0;
}

function tally(proposal) {
  const cast = BigInt(proposal.yes) + BigInt(proposal.no) + BigInt(proposal.abstain);
  const rows = [
    ['Yes', proposal.yes, '#059669'],
    ['No', proposal.no, '#dc2626'],
    ['Abstain', proposal.abstain, '#94a3b8'],
  ];
  return h(
    'div',
    {},
    rows.map(([name, weight, color]) => h('div', { class: 'bar-row' }, h('span', {}, name), h('div', { class: 'progress' }, h('span', { style: `width:${share(weight, cast || 1n)}%;background:${color}` })), h('span', { style: 'text-align:right' }, `${share(weight, cast || 1n)}%`))),
    h('p', { class: 'hint' }, `${proposal.voters} voter(s); turnout ${share(cast.toString(), proposal.total_weight)}% of snapshot weight, quorum ${share(proposal.quorum, proposal.total_weight)}%.`),
  );
}

export async function list(container, { client }) {
  const cards = h('div', { class: 'grid stats' });
  const rows = h('div');
  fill(container, pageHead('Governance', 'Proposals from vote-escrow holders; every action runs only after a vote, a quorum and a timelock.'), cards, section('Proposals', rows));
  async function refresh() {
    const [status, proposals] = await Promise.all([client.governance(), client.proposals({ limit: 50 })]);
    fill(
      cards,
      stat('Proposals', String(status.proposals), `${status.open} open`),
      stat('Reserve', vcai(status.reserve_vcai, 0)),
      stat('Deposit to propose', vcai(status.params.deposit, 0)),
      stat('Paused modules', status.paused.length ? status.paused.join(', ') : 'none'),
    );
    fill(
      rows,
      table(
        [{ title: '#' }, { title: 'Title' }, { title: 'Phase' }, { title: 'Yes', num: true }, { title: 'Voters', num: true }],
        proposals.map((proposal) => [String(proposal.number), h('a', { href: `#/governance/${proposal.id}` }, proposal.title), pill(proposal.phase.replace(/_/g, ' '), PHASE_TONE[proposal.phase]), `${share(proposal.yes, proposal.total_weight)}%`, String(proposal.voters)]),
        'No proposals yet. Propose with `vcity gov propose` (docs/governance.md).',
      ),
    );
  }
  await refresh();
  return { onBlock: refresh };
}

export async function detail(container, { client, wallet }, id) {
  const status = h('div');
  async function vote(button, choice) {
    await busy(button, status, async () => {
      const view = await wallet.send(client, [{ type: 'cast_vote', proposal: id, choice }]);
      toast(`Voted ${choice} in block #${view.receipt.height}`, 'good');
      await refresh();
    });
  }
  async function refresh() {
    const account = wallet.key()?.account;
    const [proposal, comments, mine] = await Promise.all([
      client.proposal(id),
      client.proposalComments(id).catch(() => []),
      account ? client.get(`/v1/governance/proposals/${id}/votes/${account}`).catch(() => null) : null,
    ]);
    const canVote = proposal.phase === 'voting' && wallet.state() === 'unlocked' && !mine;
    fill(
      container,
      pageHead(`Proposal ${proposal.number}: ${proposal.title}`, null, pill(proposal.phase.replace(/_/g, ' '), PHASE_TONE[proposal.phase])),
      h(
        'div',
        { class: 'grid two' },
        card(
          h('h2', {}, 'What it does'),
          h('p', {}, proposal.description || 'No description.'),
          h('pre', {}, JSON.stringify(proposal.actions, null, 2)),
          kv([
            ['Proposer', accountLink(proposal.proposer)],
            ['Deposit', vcai(proposal.deposit, 0)],
            ['Voting', `${proposal.voting_starts_s} s → ${proposal.voting_ends_s} s after genesis`],
            ['Executable from', `${proposal.executable_s} s (expires ${proposal.expires_s} s)`],
          ]),
        ),
        card(
          h('h2', {}, 'Tally'),
          tally(proposal),
          mine ? notice(`You voted ${mine.choice}.`, 'good') : null,
          canVote
            ? h('div', { class: 'actions section' }, ['yes', 'no', 'abstain'].map((choice) => h('button', { class: choice === 'yes' ? '' : 'ghost', onclick: (event) => vote(event.target, choice) }, `Vote ${choice}`)))
            : proposal.phase === 'voting' && !mine
              ? h('p', { class: 'hint' }, 'Unlock a wallet with vote-escrow weight at the snapshot to vote.')
              : null,
          proposal.phase === 'executable' && wallet.state() === 'unlocked'
            ? h('div', { class: 'actions section' }, h('button', { onclick: (event) => busy(event.target, status, async () => (await wallet.send(client, [{ type: 'execute_proposal', proposal: id }]), toast('Executed', 'good'), refresh())) }, 'Execute'))
            : null,
          status,
        ),
      ),
      h('div', { class: 'section' }, section(`Comments (${comments.length})`, comments.length ? comments.map((comment) => h('div', { class: 'section' }, h('div', { class: 'hint' }, accountLink(comment.author), ` at ${comment.at_s} s`), h('p', { style: 'margin:4px 0 0' }, comment.text))) : h('div', { class: 'empty' }, 'No comments.'))),
    );
  }
  await refresh();
  return { onBlock: refresh };
}
