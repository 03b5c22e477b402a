// Small SVG charts, our own: line charts for series over time and grouped bars for periods.
// Numbers arrive as JavaScript numbers already scaled for display (whole USD, whole VCAI, %).

import { compact, h, svg } from './ui.js';

export const COLORS = ['#4f46e5', '#059669', '#d97706', '#dc2626', '#0891b2', '#7c3aed'];
const WIDTH = 640;
const HEIGHT = 230;
const PAD = { left: 58, right: 14, top: 12, bottom: 28 };

/** Rounded axis steps: 1, 2 or 5 times a power of ten. */
function ticks(min, max, count = 4) {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const out = [];
  for (let value = Math.ceil(min / step) * step; value <= max + step / 1e9; value += step) out.push(value);
  return out;
}

function frame(yMin, yMax, yFormat) {
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const y = (value) => PAD.top + plotHeight - ((value - yMin) / (yMax - yMin || 1)) * plotHeight;
  const grid = ticks(yMin, yMax).map((value) => [
    svg('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value), stroke: '#e2e8f0' }),
    svg('text', { x: PAD.left - 6, y: y(value) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#64748b' }, yFormat(value)),
  ]);
  return { y, grid };
}

function legend(series) {
  return h('div', { class: 'legend' }, series.map((item, index) => h('span', {}, h('i', { style: `background:${item.color ?? COLORS[index]}` }), item.name)));
}

/**
 * Lines over a shared x axis: series [{name, color?, points: [[x, y], ...]}].
 * `xFormat` labels x ticks, `yFormat` y ticks.
 */
export function lineChart({ series, xFormat = compact, yFormat = compact, yMin, yMax, title }) {
  const points = series.flatMap((item) => item.points);
  if (points.length === 0) return h('div', { class: 'empty' }, 'No data yet.');
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  let xLow = Math.min(...xs);
  let xHigh = Math.max(...xs);
  if (xLow === xHigh) {
    xLow -= 1;
    xHigh += 1;
  }
  // A series that barely moves gets an axis around its values rather than from zero.
  const least = Math.min(...ys);
  const most = Math.max(...ys);
  const narrow = yMin === undefined && least > 0 && most - least < 0.02 * most;
  const low = yMin ?? (narrow ? least - 0.01 * most : Math.min(0, least));
  let high = yMax ?? (narrow ? most + 0.01 * most : most);
  if (high <= low) high = low + 1;
  high += (high - low) * 0.05;
  const { y, grid } = frame(low, high, yFormat);
  const x = (value) => PAD.left + ((value - xLow) / (xHigh - xLow)) * (WIDTH - PAD.left - PAD.right);
  const integers = xs.every(Number.isInteger);
  const xTicks = ticks(xLow, xHigh, 5).filter((value) => !integers || Number.isInteger(value)).map((value) => svg('text', { x: x(value), y: HEIGHT - 8, 'text-anchor': 'middle', 'font-size': 11, fill: '#64748b' }, xFormat(value)));
  const lines = series.map((item, index) => {
    const color = item.color ?? COLORS[index];
    const sorted = [...item.points].sort((a, b) => a[0] - b[0]);
    const d = sorted.map(([px, py], i) => `${i ? 'L' : 'M'}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join('');
    const dots = sorted.length <= 40 ? sorted.map(([px, py]) => svg('circle', { cx: x(px), cy: y(py), r: 2.6, fill: color }, svg('title', {}, `${item.name}: ${yFormat(py)} at ${xFormat(px)}`))) : [];
    return [svg('path', { d, fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-linejoin': 'round' }), dots];
  });
  return h(
    'figure',
    { class: 'chart', style: 'margin:0' },
    svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': title ?? series.map((item) => item.name).join(', ') }, grid, xTicks, lines),
    legend(series),
  );
}

/** Grouped bars: categories (x labels) and series [{name, color?, values: [...]}]. */
export function barChart({ categories, series, yFormat = compact, title, emptyText = 'Nothing yet.' }) {
  const values = series.flatMap((item) => item.values);
  if (categories.length === 0 || values.every((value) => !value)) return h('div', { class: 'empty' }, emptyText);
  const high = Math.max(1e-9, ...values) * 1.05;
  const { y, grid } = frame(0, high, yFormat);
  const band = (WIDTH - PAD.left - PAD.right) / categories.length;
  const barWidth = Math.max(2, (band * 0.75) / series.length);
  const bars = categories.map((category, column) => [
    series.map((item, index) => {
      const value = item.values[column] ?? 0;
      const left = PAD.left + column * band + band * 0.125 + index * barWidth;
      return svg('rect', { x: left, y: y(value), width: barWidth - 1, height: Math.max(0, y(0) - y(value)), rx: 2, fill: item.color ?? COLORS[index] }, svg('title', {}, `${item.name} ${category}: ${yFormat(value)}`));
    }),
    categories.length <= 16 || column % Math.ceil(categories.length / 16) === 0
      ? svg('text', { x: PAD.left + column * band + band / 2, y: HEIGHT - 8, 'text-anchor': 'middle', 'font-size': 11, fill: '#64748b' }, category)
      : null,
  ]);
  return h(
    'figure',
    { class: 'chart', style: 'margin:0' },
    svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': title ?? series.map((item) => item.name).join(', ') }, grid, bars),
    legend(series),
  );
}
