// Jobs: submit (a program and its input, or a job message as JSON), follow progress task by
// task with where and why each was placed, cancel, and fetch outputs checked against the
// commitments on the ledger.

import { accountLink, busy, card, fill, h, kv, notice, pageHead, parseUnits, pill, section, short, stat, table, toast, usd } from '../ui.js';

const MAX_INLINE_INPUT_BYTES = 16 * 1024;
const DONE = new Set(['settled', 'failed', 'cancelled']);
const TONE = { pending: 'warn', assigned: 'info', running: 'info', completed: 'info', settled: 'good', failed: 'bad', cancelled: '' };

export function jobSummary(job) {
  const counts = {};
  for (const task of job.tasks) counts[task.state.state] = (counts[task.state.state] ?? 0) + 1;
  return counts;
}

function jobState(job) {
  const counts = jobSummary(job);
  const states = Object.keys(counts);
  if (states.length === 1) return states[0];
  if (states.every((state) => DONE.has(state))) return 'finished';
  return 'running';
}

function statePill(state) {
  return pill(state, TONE[state] ?? (state === 'finished' ? 'good' : 'info'));
}

async function readFile(input) {
  const file = input.files?.[0];
  return file ? new Uint8Array(await file.arrayBuffer()) : null;
}

function submitForm(context, status) {
  const { client, wallet, navigate } = context;
  return h(
    'form',
    {
      id: 'submit-job',
      onsubmit: async (event) => {
        event.preventDefault();
        const form = event.target;
        await busy(form.querySelector('button[type=submit]'), status, async () => {
          let message;
          if (form.message.value.trim()) {
            message = JSON.parse(form.message.value);
          } else {
            const module = await readFile(form.module);
            let moduleHash = form.module_hash.value.trim();
            if (module) moduleHash = (await client.putBlob(module)).address;
            if (!/^[0-9a-f]{64}$/.test(moduleHash)) throw new Error('choose a .wasm program or give a stored module hash');
            const input = (await readFile(form.input_file)) ?? new TextEncoder().encode(form.input.value);
            const tasks = Number(form.tasks.value);
            const workload = { module_hash: moduleHash, input: Array.from(input) };
            if (input.length > MAX_INLINE_INPUT_BYTES) {
              if (tasks !== 1) throw new Error('an input over 16 KiB goes in a blob, which one task reads: use 1 task');
              const blob = await client.putBlob(input);
              workload.input = [];
              workload.shards = [{ address: blob.address, bytes: blob.bytes }];
            }
            message = {
              type: 'submit_job',
              workload,
              tasks,
              requirements: { gpu_model: null, gpu_count: 0, min_vram_mib: 0, region: form.region.value.trim() || null, max_duration_s: Number(form.max_duration_s.value) },
              max_cu_ppm_per_task: parseUnits(form.max_cu.value, 6),
              max_price_per_cu_usd: parseUnits(form.max_price.value, 6),
              billing: { model: 'pay_as_you_go' },
              verification: form.verification.value,
            };
          }
          const view = await wallet.send(client, [message]);
          const submitted = view.receipt.events.find((item) => item.type === 'job_submitted');
          toast(`Job ${submitted.job_id} submitted`, 'good');
          navigate(`jobs/${submitted.job_id}`);
        });
      },
    },
    h(
      'div',
      { class: 'fields' },
      h('label', {}, 'Program (wasm32-wasip1 .wasm)', h('input', { name: 'module', type: 'file', accept: '.wasm,application/wasm' })),
      h('label', {}, 'or a stored module hash', h('input', { name: 'module_hash', placeholder: '64 hex digits', spellcheck: 'false' })),
    ),
    h('div', { class: 'fields' }, h('label', {}, 'Input (standard input of each task)', h('textarea', { name: 'input', placeholder: 'e.g. 64 7', rows: 3 })), h('label', {}, 'or an input file', h('input', { name: 'input_file', type: 'file' }))),
    h(
      'div',
      { class: 'fields' },
      h('label', {}, 'Tasks', h('input', { name: 'tasks', type: 'number', min: 1, max: 64, value: 1, required: true })),
      h('label', {}, 'Most CU per task', h('input', { name: 'max_cu', value: '0.05', inputmode: 'decimal', required: true })),
      h('label', {}, 'Most USD per CU', h('input', { name: 'max_price', value: '0.1', inputmode: 'decimal', required: true })),
      h('label', {}, 'Verification', h('select', { name: 'verification' }, ['none', 'standard', 'high', 'full'].map((level) => h('option', { value: level, selected: level === 'standard' }, level)))),
      h('label', {}, 'Region (optional)', h('input', { name: 'region', placeholder: 'any' })),
      h('label', {}, 'Deadline (s)', h('input', { name: 'max_duration_s', type: 'number', min: 1, value: 600, required: true })),
    ),
    h('details', {}, h('summary', { class: 'hint' }, 'Advanced: paste a submit_job message as JSON (docs/job-spec.md)'), h('textarea', { name: 'message', rows: 8, placeholder: '{"type": "submit_job", ...}' })),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Submit job'), h('span', { class: 'hint' }, 'The price cap times the CU cap is escrowed from your USD until the job settles.')),
    status,
  );
}

export async function list(container, context) {
  const { client, wallet } = context;
  const mine = h('div');
  const all = h('div');
  const status = h('div');
  const account = wallet.key()?.account;
  fill(
    container,
    pageHead('Jobs', 'Submit work to the network and follow it to settlement.'),
    wallet.state() === 'unlocked' ? section('Submit a job', submitForm(context, status)) : notice(h('span', {}, 'Unlock a wallet to submit jobs: ', h('a', { href: '#/wallet' }, 'Wallet')), 'info'),
    h('div', { class: 'grid two section' }, account ? section('Your jobs', mine) : null, section('Recent jobs on the network', all)),
  );
  const row = (job) => [h('a', { href: `#/jobs/${job.id}` }, `Job ${job.id}`), accountLink(job.owner), String(job.tasks.length), statePill(jobState(job))];
  const columns = [{ title: 'Job' }, { title: 'Owner' }, { title: 'Tasks', num: true }, { title: 'State' }];
  async function refresh() {
    const [recent, own] = await Promise.all([client.jobs({ limit: 20 }), account ? client.jobs({ owner: account, limit: 20 }) : []]);
    fill(all, table(columns, recent.map(row), 'No jobs yet.'));
    if (account) fill(mine, table(columns, own.map(row), 'You have not submitted a job.'));
  }
  await refresh();
  return { onBlock: refresh };
}

function placement(task, job, nodes) {
  const state = task.state;
  if (state.state === 'pending') return task.unplaceable ? h('span', {}, 'Waiting: ', task.unplaceable) : 'Waiting for a scheduler';
  const node = state.node ? nodes.get(state.node) : null;
  if (!node) return state.state === 'failed' ? state.reason : '—';
  const price = state.price_per_cu_usd ?? node.node.price_per_cu_usd;
  return h(
    'span',
    {},
    h('a', { href: `#/nodes/${node.node.id}`, class: 'mono' }, short(node.node.id, 6)),
    ` · ${node.node.region} · ${usd(price, 4)}/CU (cap ${usd(job.max_price_per_cu_usd, 4)}) · reputation ${(node.reputation_ppm / 10_000).toFixed(0)}%`,
  );
}

export async function detail(container, context, id) {
  const { client, wallet } = context;
  const outputs = new Map();
  const nodes = new Map();
  async function fetchOutput(button, index) {
    await busy(button, null, async () => {
      const { commitment, output } = await client.taskOutput(wallet.key(), Number(id), index);
      outputs.set(index, { commitment, output });
      toast(`Task ${index}: output matches its commitment`, 'good');
      await refresh();
    });
  }
  async function refresh() {
    const job = await client.job(Number(id));
    for (const task of job.tasks) {
      const node = task.state.node ?? task.last_node;
      if (node && !nodes.has(node)) nodes.set(node, await client.node(node).catch(() => null));
    }
    const counts = jobSummary(job);
    const done = (counts.settled ?? 0) + (counts.failed ?? 0) + (counts.cancelled ?? 0);
    const owner = wallet.key()?.account === job.owner;
    const cost = job.tasks.reduce((sum, task) => sum + BigInt(task.state.cost_usd ?? 0), 0n);
    const escrow = job.tasks.reduce((sum, task) => sum + BigInt(task.escrow_usd ?? 0), 0n);
    const rows = job.tasks.map((task, index) => {
      const fetched = outputs.get(index);
      const canFetch = owner && ['completed', 'settled'].includes(task.state.state);
      return [
        String(index),
        statePill(task.state.state),
        placement(task, job, nodes),
        String(task.attempts),
        task.state.cost_usd ? usd(task.state.cost_usd, 6) : '—',
        fetched ? h('span', { class: 'pill good', title: 'hashes to the commitment the ledger holds' }, '✓ matches commitment') : canFetch ? h('button', { class: 'small ghost', dataset: { task: index }, onclick: (event) => fetchOutput(event.target, index) }, 'Fetch & verify') : '—',
      ];
    });
    const previews = [...outputs.entries()].map(([index, { commitment, output }]) => {
      let text = null;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(output.slice(0, 4096));
      } catch {
        text = null;
      }
      const url = URL.createObjectURL(new Blob([output]));
      return card(
        h('h3', {}, `Task ${index} output`),
        kv([['Exit', commitment.exit.exit], ['Bytes', String(output.length)], ['Content address', h('span', { class: 'hash' }, commitment.output)]]),
        h('div', { class: 'actions section' }, h('a', { href: url, download: `job-${id}-task-${index}.out` }, 'Download')),
        text !== null ? h('pre', { class: 'section output', dataset: { task: index } }, text + (output.length > 4096 ? '\n…' : '')) : h('p', { class: 'hint' }, 'Binary output.'),
      );
    });
    fill(
      container,
      pageHead(
        `Job ${job.id}`,
        `${job.tasks.length} task(s) · ${job.verification} verification · submitted ${job.submitted_s} s after genesis`,
        statePill(jobState(job)),
        owner && !Object.keys(counts).every((state) => DONE.has(state) || state === 'completed')
          ? h('button', { class: 'danger', onclick: (event) => busy(event.target, null, async () => (await wallet.send(client, [{ type: 'cancel_job', job_id: job.id }]), toast(`Job ${job.id} cancelled`), refresh())) }, 'Cancel job')
          : null,
      ),
      h('div', { class: 'grid stats' }, stat('Progress', `${done} / ${job.tasks.length}`, 'tasks finished'), stat('Paid', usd(cost.toString(), 6), 'settled compute'), stat('In escrow', usd(escrow.toString(), 6), 'returned if unused'), stat('Price cap', usd(job.max_price_per_cu_usd, 4), 'per CU')),
      h('div', { class: 'progress', title: `${done} of ${job.tasks.length} finished` }, h('span', { style: `width:${(100 * done) / job.tasks.length}%` })),
      h('div', { class: 'section' }, section('Tasks', table([{ title: '#' }, { title: 'State' }, { title: 'Where and why' }, { title: 'Attempts', num: true }, { title: 'Cost', num: true }, { title: 'Output' }], rows))),
      owner ? null : notice('Only the job\u2019s owner can fetch its outputs: unlock the wallet that submitted it.', 'info'),
      h('div', { class: 'grid two section' }, previews),
      h('div', { class: 'section' }, card(kv([['Owner', accountLink(job.owner, job.owner)], ['Program', h('span', { class: 'hash' }, job.workload.module_hash)], ['Executor', job.workload.executor.kind], ['Billing', job.billing.model.replace(/_/g, ' ')]]))),
    );
    document.body.dataset.jobState = jobState(job);
  }
  await refresh();
  return { onBlock: refresh };
}
