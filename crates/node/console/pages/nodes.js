// Nodes: every registered node with its hardware, price, reputation, uptime, stake and earnings,
// a map by region, and one page per node: the operator's view (docs/operators.md), with income per
// period, the long-term incentives (docs/protocol.md, "Long-term incentives") and slashes.

import { barChart } from '../charts.js';
import { accountLink, card, duration, fill, h, kv, pageHead, pill, ppm, section, short, stat, svg, table, tokens, usd, vcai } from '../ui.js';

// Coarse continents (longitude, latitude), drawn by hand for the map's backdrop.
const LAND = [
  [[-168, 66], [-140, 70], [-95, 72], [-70, 62], [-56, 52], [-66, 44], [-80, 31], [-81, 25], [-97, 26], [-97, 18], [-84, 9], [-79, 8], [-105, 22], [-117, 32], [-124, 40], [-125, 49], [-136, 58], [-152, 59], [-166, 60]],
  [[-80, 10], [-61, 11], [-50, 1], [-35, -7], [-40, -22], [-56, -36], [-68, -55], [-75, -45], [-71, -18], [-81, -5]],
  [[-10, 36], [-9, 43], [-2, 44], [-5, 48], [3, 51], [8, 54], [5, 58], [10, 63], [20, 70], [31, 71], [42, 67], [42, 45], [28, 41], [20, 40], [12, 38], [0, 38]],
  [[-17, 21], [-10, 30], [-5, 36], [10, 37], [32, 31], [43, 12], [51, 12], [40, -3], [40, -15], [33, -26], [20, -35], [12, -18], [9, 4], [-8, 5], [-17, 14]],
  [[42, 45], [42, 67], [60, 70], [80, 73], [105, 78], [140, 72], [170, 66], [160, 60], [140, 54], [135, 43], [122, 40], [122, 30], [110, 20], [105, 10], [100, 3], [95, 15], [88, 22], [80, 10], [72, 20], [62, 25], [50, 28], [48, 30], [35, 32], [36, 37]],
  [[114, -22], [122, -18], [131, -12], [142, -11], [146, -19], [153, -26], [150, -37], [141, -38], [131, -31], [115, -34]],
];

// Where common region names sit (longitude, latitude); a region is matched by its prefix.
const PLACES = {
  'us-east': [-77, 39], 'us-west': [-120, 40], 'us-central': [-95, 40], 'ca-central': [-75, 46], 'sa-east': [-46, -23],
  'eu-west': [-4, 52], 'eu-central': [10, 50], 'eu-north': [18, 60], 'eu-south': [12, 42], 'af-south': [24, -29],
  'me-central': [54, 24], 'ap-south': [75, 19], 'ap-southeast': [104, 1], 'ap-northeast': [139, 36], 'ap-east': [114, 23], 'au-southeast': [151, -34],
};

const MAP_WIDTH = 640;
const MAP_HEIGHT = 300;
const project = ([lon, lat]) => [((lon + 170) / 350) * MAP_WIDTH, ((78 - lat) / 136) * MAP_HEIGHT];

function place(region) {
  const key = Object.keys(PLACES).sort((a, b) => b.length - a.length).find((name) => region === name || region.startsWith(`${name}-`) || region.startsWith(name));
  return key ? PLACES[key] : null;
}

function regionMap(nodes) {
  const byRegion = new Map();
  for (const view of nodes) byRegion.set(view.node.region, [...(byRegion.get(view.node.region) ?? []), view]);
  const unplaced = [];
  const bubbles = [];
  for (const [region, members] of byRegion) {
    const at = place(region);
    if (!at) {
      unplaced.push(`${region} (${members.length})`);
      continue;
    }
    const [x, y] = project(at);
    const online = members.filter((view) => view.online).length;
    const radius = 7 + 4 * Math.sqrt(members.length);
    bubbles.push(
      svg(
        'g',
        { class: 'region' },
        svg('circle', { cx: x, cy: y, r: radius, fill: online ? 'rgba(79,70,229,0.85)' : 'rgba(100,116,139,0.8)', stroke: '#fff', 'stroke-width': 2 }),
        svg('text', { x, y: y + 4, 'text-anchor': 'middle', 'font-size': 12, 'font-weight': 700, fill: '#fff' }, String(members.length)),
        svg('text', { x, y: y + radius + 13, 'text-anchor': 'middle', 'font-size': 11.5, fill: '#334155' }, region),
        svg('title', {}, `${region}: ${members.length} node(s), ${online} online`),
      ),
    );
  }
  const land = LAND.map((shape) => svg('polygon', { points: shape.map((point) => project(point).map((v) => v.toFixed(1)).join(',')).join(' '), fill: '#e2e8f0', stroke: '#cbd5e1' }));
  return h(
    'div',
    { class: 'map' },
    svg('svg', { viewBox: `0 0 ${MAP_WIDTH} ${MAP_HEIGHT}`, role: 'img', 'aria-label': 'Nodes by region' }, svg('rect', { width: MAP_WIDTH, height: MAP_HEIGHT, rx: 8, fill: '#f8fafc' }), land, bubbles),
    unplaced.length ? h('p', { class: 'chart-note' }, `Regions without a place on the map: ${unplaced.join(', ')}`) : null,
  );
}

function hardware(node) {
  const gpus = node.hardware.gpus.map((gpu) => `${gpu.count}× ${gpu.model} (${Math.round(gpu.vram_mib / 1024)} GiB)`);
  const cpu = node.hardware.cpu_cores ? `${node.hardware.cpu_cores} cores, ${Math.round(node.hardware.ram_mib / 1024)} GiB` : null;
  return [...gpus, cpu].filter(Boolean).join(' · ') || '—';
}

function earned(rewards) {
  if (!rewards) return 0n;
  return Object.values(rewards.incentives_total ?? {}).reduce((sum, value) => sum + BigInt(value), 0n);
}

function standing(view) {
  const out = [view.online ? pill('online', 'good') : pill('offline', 'bad')];
  if (view.paused) out.push(' ', pill('paused', 'warn'));
  if (view.node.trust.probation) out.push(' ', pill('probation', 'warn'));
  if (view.node.trust.banned) out.push(' ', pill('banned', 'bad'));
  return out;
}

export async function list(container, { client }) {
  const summary = h('div', { class: 'grid stats' });
  const map = h('div');
  const rows = h('div');
  fill(container, pageHead('Nodes', 'Compute, scheduler and verifier nodes registered on the chain.'), summary, h('div', { class: 'grid two' }, section('Where they are', map), section('Compute nodes', rows)));
  const all = h('div');
  container.append(h('div', { class: 'section' }, section('Every node', all)));
  async function refresh() {
    const nodes = await client.nodes({ limit: 500 });
    const compute = nodes.filter((view) => view.node.role === 'compute');
    const rewards = new Map(await Promise.all(compute.slice(0, 50).map(async (view) => [view.node.id, await client.rewards(view.node.id).catch(() => null)])));
    const gpus = compute.reduce((sum, view) => sum + view.node.hardware.gpus.reduce((n, gpu) => n + gpu.count, 0), 0);
    const capacity = compute.reduce((sum, view) => sum + Number(view.node.capacity_cu_ppm), 0) / 1e6;
    fill(
      summary,
      stat('Nodes online', `${nodes.filter((view) => view.online).length} / ${nodes.length}`),
      stat('Compute capacity', `${capacity.toFixed(2)} CU/s`, `${compute.length} compute nodes`),
      stat('GPUs', String(gpus)),
      stat('Regions', String(new Set(compute.map((view) => view.node.region)).size)),
    );
    fill(map, regionMap(compute));
    fill(
      rows,
      table(
        [{ title: 'Node' }, { title: 'Region' }, { title: 'Price / CU', num: true }, { title: 'Reputation', num: true }, { title: 'Earned', num: true }],
        compute.map((view) => [h('a', { href: `#/nodes/${view.node.id}`, class: 'mono' }, short(view.node.id, 6)), view.node.region, usd(view.node.price_per_cu_usd, 4), ppm(view.reputation_ppm, 0), vcai(earned(rewards.get(view.node.id)).toString(), 0)]),
        'No compute nodes yet.',
      ),
    );
    fill(
      all,
      table(
        [{ title: 'Node' }, { title: 'Role' }, { title: 'Hardware' }, { title: 'Load', num: true }, { title: 'Uptime', num: true }, { title: 'Stake', num: true }, { title: 'Tasks done / lost', num: true }, { title: 'Standing' }],
        nodes.map((view) => [
          h('a', { href: `#/nodes/${view.node.id}`, class: 'mono' }, short(view.node.id, 6)),
          `${view.node.role} · ${view.node.kind}`,
          hardware(view.node),
          ppm(view.node.load_ppm, 0),
          duration(view.node.online_s),
          vcai(view.node.stake, 0),
          `${view.node.tasks_completed} / ${view.node.tasks_lost}`,
          standing(view),
        ]),
      ),
    );
  }
  await refresh();
  return { onBlock: refresh };
}

// The multiplier as "×1.100".
function multiplier(value) {
  return `×${(Number(value ?? 1_000_000) / 1e6).toFixed(3)}`;
}

function operator(view, rewards) {
  const referral = rewards?.referral;
  const periods = rewards?.periods ?? [];
  return card(
    h('h2', {}, 'Operator'),
    kv([
      ['Standing', view.paused ? 'paused: bond below the requirement past its grace' : view.grace_until_s ? `in grace until ${view.grace_until_s} s` : 'meets the stake requirement'],
      ['Loyalty', `${multiplier(rewards?.loyalty_ppm)} on proof of capacity this period`],
      ['Referrer', referral ? [accountLink(referral.referrer, short(referral.referrer, 6)), ` · shares periods ${referral.from_period}–${referral.until_period - 1}`] : 'none named'],
      ['Claimable', vcai(rewards?.claimable_vcai ?? '0', 2)],
    ]),
    table(
      [{ title: 'Period' }, { title: 'Paid for tasks', num: true }, { title: 'CU delivered', num: true }, { title: 'Outages', num: true }],
      periods.map((period) => [`#${period.period}${period.forfeited ? ' (capacity forfeited)' : ''}`, usd(period.earned_usd, 4), (Number(period.delivered_cu_ppm) / 1e6).toFixed(3), String(period.outages)]),
      'No income counted yet.',
    ),
  );
}

function slashes(view) {
  return table(
    [{ title: 'Slash' }, { title: 'Offence' }, { title: 'Tier' }, { title: 'Amount', num: true }, { title: 'State' }],
    (view.slashes ?? []).map((slash) => [`#${slash.id}`, slash.offence, slash.tier, vcai(slash.amount, 2), `${slash.state}${slash.appeal ? ' (appealed)' : ''}`]),
    'No slashes.',
  );
}

export async function detail(container, { client }, id) {
  async function refresh() {
    const [view, rewards] = await Promise.all([client.node(id), client.rewards(id).catch(() => null)]);
    const node = view.node;
    const history = rewards?.incentives_history ?? [];
    fill(
      container,
      pageHead(`${node.role[0].toUpperCase()}${node.role.slice(1)} node`, node.id, ...standing(view)),
      h(
        'div',
        { class: 'grid stats' },
        stat('Reputation', ppm(view.reputation_ppm, 1)),
        stat('Uptime', duration(node.online_s), `registered ${node.registered_s} s after genesis`),
        stat('Stake', vcai(node.stake, 0), `required ${vcai(view.required_stake, 0)}`),
        stat('Earned', vcai(earned(rewards).toString(), 2), 'incentives, all periods'),
        stat('Tasks', `${node.tasks_completed} done`, `${node.tasks_lost} lost · ${node.running_tasks} running`),
      ),
      h(
        'div',
        { class: 'grid two' },
        card(
          h('h2', {}, 'Offer'),
          kv([
            ['Region', node.region],
            ['Kind', node.kind],
            ['Hardware', hardware(node)],
            ['Price', `${usd(node.price_per_cu_usd, 4)} per CU`],
            ['Capacity', `${(Number(node.capacity_cu_ppm) / 1e6).toFixed(3)} CU/s`],
            ['Load', ppm(node.load_ppm, 0)],
            ['Endpoint', node.endpoint || '—'],
            ['Health', view.health_issues.length ? view.health_issues.join('; ') : 'no issues reported'],
          ]),
        ),
        card(
          h('h2', {}, 'Trust'),
          kv([
            ['Probation', node.trust.probation ? 'yes' : 'no'],
            ['Capacity challenges', `${node.trust.challenges_passed} passed, ${node.trust.challenges_failed} failed`],
            ['Results', `${node.trust.results_confirmed} confirmed, ${node.trust.results_disproved} disproved`],
            ['Verifier duties', `${node.trust.duties_done} done, ${node.trust.duties_missed} missed`],
            ['Slashes', String(node.trust.slashes)],
            ['Unbonding', vcai(view.unbonding, 0)],
          ]),
        ),
      ),
      node.role === 'compute' ? h('div', { class: 'grid two' }, operator(view, rewards), card(h('h2', {}, 'Slashes'), slashes(view))) : null,
      h(
        'div',
        { class: 'section' },
        section(
          'Incentives per period',
          barChart({
            categories: history.map((period) => `#${period.period}`),
            series: ['capacity', 'delivery', 'performance', 'rebate', 'referral'].map((part) => ({ name: part, values: history.map((period) => tokens(period.parts[part] ?? '0')) })),
            yFormat: (value) => `${value}`,
          }),
          h('p', { class: 'chart-note' }, 'VCAI credited to this account each closed period (proof of capacity, proof of delivery, performance bonus, fee rebate, referral share).'),
        ),
      ),
    );
  }
  await refresh();
  return { onBlock: refresh };
}
