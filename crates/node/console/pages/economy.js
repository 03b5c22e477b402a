// The token economy (docs/rules.md §2–§8): supply and where it sits, incentive release and
// utilization against the supply price P_supply per period, the treasury's buyback, the vote
// escrow's weight, and the rewards paid each period.

import { barChart, lineChart } from '../charts.js';
import { brief, fill, h, kv, pageHead, ppm, section, stat, tokens, usd, vcai } from '../ui.js';

const WEEK_S = 604_800;
const SAMPLES = 'vcity.console.supply-samples';

const total = (parts) => Object.values(parts ?? {}).reduce((sum, value) => sum + BigInt(value), 0n).toString();

function breakdown(supply) {
  const parts = [
    ['Circulating', supply.vcai_circulating, '#4f46e5'],
    ['Vesting', supply.vcai_vesting, '#0891b2'],
    ['Reserve', supply.vcai_reserve, '#d97706'],
    ['Incentive pool', supply.vcai_incentive_pool, '#059669'],
    ['NFT reserve', supply.vcai_nft_reserve, '#7c3aed'],
  ];
  const all = parts.reduce((sum, [, value]) => sum + BigInt(value), 0n) || 1n;
  return parts.map(([name, value, color]) =>
    h(
      'div',
      { class: 'bar-row' },
      h('span', {}, name),
      h('div', { class: 'progress' }, h('span', { style: `width:${Number((BigInt(value) * 10_000n) / all) / 100}%;background:${color}` })),
      h('span', { class: 'num', style: 'text-align:right' }, `${Number((BigInt(value) * 1000n) / all) / 10}%`),
    ),
  );
}

function remember(supply) {
  let samples = [];
  try {
    samples = JSON.parse(sessionStorage.getItem(SAMPLES)) ?? [];
  } catch {
    samples = [];
  }
  if (!samples.length || samples[samples.length - 1][0] !== supply.height) samples.push([supply.height, tokens(supply.vcai_circulating), tokens(supply.vcai_total)]);
  samples = samples.slice(-500);
  sessionStorage.setItem(SAMPLES, JSON.stringify(samples));
  return samples;
}

export async function render(container, { client }) {
  const cards = h('div', { class: 'grid stats' });
  const supplyPanel = h('div');
  const releasePanel = h('div');
  const utilizationPanel = h('div');
  const treasuryPanel = h('div');
  const vePanel = h('div');
  const rewardsPanel = h('div');
  fill(
    container,
    pageHead('Token economy', 'VCAI supply, incentives, buyback and the vote escrow, read from the ledger.'),
    cards,
    h('div', { class: 'grid two' }, section('Supply', supplyPanel), section('Incentive release per period', releasePanel)),
    h('div', { class: 'grid two section' }, section('Utilization against P_supply', utilizationPanel), section('Rewards per period', rewardsPanel)),
    h('div', { class: 'grid two section' }, section('Treasury and buyback', treasuryPanel), section('Vote escrow weight', vePanel)),
  );

  async function refresh() {
    const [supply, pool, treasury, incentives, ve] = await Promise.all([client.supply(), client.pool(), client.treasury(), client.incentives(), client.veTotal()]);
    fill(
      cards,
      stat('Total VCAI', brief(supply.vcai_total, 18), 'minted at genesis and by votes'),
      stat('Circulating VCAI', brief(supply.vcai_circulating, 18), `${Number((BigInt(supply.vcai_circulating) * 1000n) / (BigInt(supply.vcai_total) || 1n)) / 10}% of total`),
      stat('VCAI price', `${pool.price_usd_per_vcai} USD`, `pool fee ${pool.fee_bps / 100}%`),
      stat('Treasury', usd(treasury.usd_balance, 2), `${vcai(treasury.distributed_vcai, 0)} distributed`),
      stat('Locked VCAI', brief(ve.locked_vcai, 18), `weight ${Number(ve.total_weight_display).toLocaleString()}`),
      stat('USD on chain', brief(supply.usd_total, 6)),
    );

    const samples = remember(supply);
    fill(
      supplyPanel,
      breakdown(supply),
      h('div', { class: 'section' }, lineChart({ series: [{ name: 'circulating VCAI', points: samples.map(([height, circulating]) => [height, circulating]) }], xFormat: (value) => `#${Math.round(value)}`, title: 'Circulating VCAI by block' })),
      h('p', { class: 'chart-note' }, 'Circulating VCAI at each block this page has seen (history starts when the page opened).'),
    );

    const periods = [...incentives.recent].sort((a, b) => a.index - b.index);
    if (incentives.current) periods.push(incentives.current);
    const labels = periods.map((period) => `#${period.index}${period.closed ? '' : '*'}`);
    fill(
      releasePanel,
      barChart({
        categories: labels,
        series: [
          { name: 'scheduled release', values: periods.map((period) => tokens(period.scheduled)) },
          { name: 'grants', values: periods.map((period) => tokens(period.grants)) },
          { name: 'credited to nodes', values: periods.map((period) => tokens(total(period.credited))) },
        ],
      }),
      kv([
        ['Period length', `${incentives.params.period_s} s`],
        ['Left in the pool', vcai(incentives.remaining, 0)],
        ['Unclaimed', vcai(incentives.unclaimed_vcai, 0)],
      ]),
      h('p', { class: 'chart-note' }, '* the open period. Each period releases a fraction of what remains (rules §6).'),
    );

    const target = incentives.params.target_utilization_ppm / 10_000;
    fill(
      utilizationPanel,
      lineChart({
        series: [
          { name: 'utilization %', points: periods.map((period) => [period.index, (period.closed ? period.utilization_ppm : incentives.utilization_so_far_ppm) / 10_000]) },
          { name: 'P_supply %', points: periods.map((period) => [period.index, period.supply_share_ppm / 10_000]) },
          { name: `target ${target}%`, color: '#94a3b8', points: periods.length ? [[periods[0].index, target], [periods[periods.length - 1].index, target]] : [] },
        ],
        xFormat: (value) => `#${Math.round(value)}`,
        yMin: 0,
        yMax: 100,
      }),
      h('p', { class: 'chart-note' }, `P_supply, the supply side's (capacity and delivery) share of each period's release, moves by k = ${ppm(incentives.params.k_ppm, 0)} of the gap between utilization and the ${target}% target (rules §6).`),
    );

    fill(
      rewardsPanel,
      barChart({
        categories: labels,
        series: ['capacity', 'delivery', 'rebate'].map((part) => ({ name: part, values: periods.map((period) => tokens(period.credited?.[part])) })),
      }),
      h('p', { class: 'chart-note' }, 'VCAI credited per period: proof of capacity, proof of delivery, and fee rebates.'),
    );

    fill(
      treasuryPanel,
      barChart({
        categories: ['this interval'],
        series: [
          { name: 'buyback budget (USD)', values: [tokens(treasury.budget_usd, 6)] },
          { name: 'spent (USD)', values: [tokens(treasury.spent_usd, 6)] },
        ],
        emptyText: 'No buyback budget in this interval: the USD the treasury holds when an interval starts becomes its budget (rules §8).',
      }),
      kv([
        ['USD held', usd(treasury.usd_balance)],
        ['Interval', `${treasury.interval_s} s from ${treasury.interval_start_s} s`],
        ['VCAI bought', vcai(treasury.bought_vcai)],
        ['Reference price', `${treasury.reference_price_usd_per_vcai} USD (max premium ${treasury.max_premium_bps / 100}%)`],
        ['Streamed to lockers', `${vcai(treasury.stream_released_vcai)} of ${vcai(treasury.stream_vcai)}`],
        ['Distributed / claimed', `${vcai(treasury.distributed_vcai)} / ${vcai(treasury.claimed_vcai)}`],
      ]),
    );

    // The weight curve from genesis to now: the ledger answers the total at any past second.
    const elapsed = ve.elapsed_s;
    const steps = 12;
    const times = [...new Set(Array.from({ length: steps + 1 }, (_, i) => Math.round((elapsed * i) / steps)))];
    const history = await Promise.all(times.map((at) => client.veTotal({ at_s: at })));
    const weeks = elapsed >= 2 * WEEK_S;
    fill(
      vePanel,
      lineChart({
        series: [{ name: 'total ve weight', points: history.map((point) => [weeks ? point.at_s / WEEK_S : point.at_s, Number(point.total_weight_display)]) }],
        xFormat: (value) => (weeks ? `wk ${value.toFixed(0)}` : `${Math.round(value)} s`),
      }),
      kv([
        ['Locked', vcai(ve.locked_vcai, 0)],
        ['Week', String(ve.current_week)],
      ]),
      h('p', { class: 'chart-note' }, 'Weight decays linearly to each lock\u2019s end; it decides votes and the share of buyback (rules §7).'),
    );
  }
  await refresh();
  return { onBlock: refresh };
}
