// DOM and formatting helpers. Every value from the chain enters the page as text (h() makes
// text nodes), never as HTML: titles, names and descriptions are user-supplied.

/** h('div', {class: 'card', onclick}, child, ...): an element; strings become text. */
export function h(tag, attributes = {}, ...children) {
  return build(document.createElement(tag), attributes, children);
}

/** svg('path', {d: ...}): an SVG element, the same way. */
export function svg(tag, attributes = {}, ...children) {
  return build(document.createElementNS('http://www.w3.org/2000/svg', tag), attributes, children);
}

function build(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    // Through the CSSOM: the page's content security policy forbids inline style attributes.
    else if (name === 'style') element.style.cssText = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export const card = (...children) => h('section', { class: 'card' }, ...children);

export function stat(label, value, sub) {
  return h('div', { class: 'card stat' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), sub ? h('div', { class: 'sub' }, sub) : null);
}

/** A table: columns [{title, num?}], rows of cells. */
export function table(columns, rows, emptyText = 'Nothing yet.') {
  if (rows.length === 0) return h('div', { class: 'empty' }, emptyText);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, columns.map((column) => h('th', { class: column.num ? 'num' : null }, column.title)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, row.map((cell, index) => h('td', { class: columns[index]?.num ? 'num' : null }, cell))))),
    ),
  );
}

export function pill(text, tone) {
  return h('span', { class: `pill ${tone ?? ''}` }, text);
}

export function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(Boolean).map(([key, value]) => [h('dt', {}, key), h('dd', {}, value)]));
}

export function notice(text, tone = 'info') {
  return h('div', { class: `notice ${tone}` }, text);
}

/** First and last characters of a hex id. */
export function short(hex, keep = 8) {
  if (typeof hex !== 'string' || hex.length <= 2 * keep + 1) return hex ?? '';
  return `${hex.slice(0, keep)}…${hex.slice(-4)}`;
}

export function accountLink(id, label) {
  return id ? h('a', { href: `#/account/${id}`, class: 'mono', title: id }, label ?? short(id)) : '—';
}

export function copyButton(text) {
  return h('button', { class: 'ghost small copy', type: 'button', title: 'Copy', onclick: () => navigator.clipboard?.writeText(text).then(() => toast('Copied')) }, 'Copy');
}

export const DECIMALS = { usd: 6, vcai: 18 };

/** Base units (a decimal string) as a decimal with at most `places` fraction digits, grouped. */
export function units(amount, decimals, places = 2) {
  let value;
  try {
    value = BigInt(amount ?? 0);
  } catch {
    return String(amount);
  }
  const negative = value < 0n;
  if (negative) value = -value;
  const scale = 10n ** BigInt(decimals);
  const whole = value / scale;
  const fraction = (value % scale).toString().padStart(decimals, '0').slice(0, places).replace(/0+$/, '');
  const grouped = whole.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const text = fraction ? `${grouped}.${fraction}` : grouped;
  return (negative ? '−' : '') + (text === '0' && value > 0n ? `<0.${'0'.repeat(Math.max(places - 1, 0))}1` : text);
}

/** A number in a few characters (12.3M), for chart axes and headline figures. */
export function compact(value) {
  const abs = Math.abs(value);
  if (abs >= 1e12) return `${+(value / 1e12).toFixed(2)}T`;
  if (abs >= 1e9) return `${+(value / 1e9).toFixed(2)}B`;
  if (abs >= 1e6) return `${+(value / 1e6).toFixed(2)}M`;
  if (abs >= 1e3) return `${+(value / 1e3).toFixed(2)}k`;
  return `${+value.toFixed(2)}`;
}

/** Base units as whole tokens in a JavaScript number (6 decimals kept), for charts only. */
export function tokens(amount, decimals = 18) {
  return Number(BigInt(amount ?? 0) / 10n ** BigInt(Math.max(decimals - 6, 0))) / 10 ** Math.min(decimals, 6);
}

/** Large amounts in a few characters (12.3M), for headline numbers; exact values in tables. */
export function brief(amount, decimals) {
  const whole = tokens(amount, decimals);
  return whole < 1e6 ? units(amount, decimals, 2) : compact(whole);
}

export const usd = (amount, places = 2) => `${units(amount, 6, places)} USD`;
export const vcai = (amount, places = 2) => `${units(amount, 18, places)} VCAI`;

/** A decimal the user typed to base units, or an Error with why. */
export function parseUnits(text, decimals) {
  const trimmed = String(text).trim().replace(/_/g, '');
  const match = /^(\d+)(?:\.(\d*))?$/.exec(trimmed);
  if (!match) throw new Error(`"${text}" is not an amount`);
  const fraction = match[2] ?? '';
  if (fraction.length > decimals) throw new Error(`at most ${decimals} decimals`);
  return (BigInt(match[1]) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, '0') || '0')).toString();
}

export function ppm(value, places = 1) {
  return `${(Number(value ?? 0) / 10_000).toFixed(places)}%`;
}

export function duration(seconds) {
  const s = Number(seconds ?? 0);
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}

export function ago(ms) {
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return seconds < 2 ? 'just now' : `${duration(seconds)} ago`;
}

/** A short toast at the bottom right. */
export function toast(text, tone = '') {
  const element = h('div', { class: `toast ${tone}` }, text);
  document.getElementById('toasts').append(element);
  setTimeout(() => element.remove(), tone === 'bad' ? 9000 : 4000);
}

/**
 * Runs `work` for a form's submit button: disables it, shows errors in `status`, and returns
 * what `work` returned.
 */
export async function busy(button, status, work) {
  button.disabled = true;
  if (status) fill(status);
  try {
    return await work();
  } catch (error) {
    const text = describeError(error);
    if (status) fill(status, notice(text, 'bad'));
    else toast(text, 'bad');
    return undefined;
  } finally {
    button.disabled = false;
  }
}

/** An error as a sentence: API errors keep their stable name. */
export function describeError(error) {
  if (error?.name === 'ApiError') {
    const receipt = error.receipt ? ` (receipt code ${error.receipt.code})` : '';
    return `${error.error}: ${error.detail || error.message}${receipt}`;
  }
  return error?.message ?? String(error);
}

export function section(title, ...children) {
  return card(h('h2', {}, title), ...children);
}

export function pageHead(title, lede, ...aside) {
  return h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, title), lede ? h('p', { class: 'lede' }, lede) : null), aside.length ? h('div', { class: 'actions' }, aside) : null);
}
