// usage.js: the account's plan and quota, charts of the usage buckets
// (messages and API calls over time, latency p50/p95), and the API-call log
// with its filters.
import { gql } from '../api.js';
import { h, field, formValues, replace, when } from '../dom.js';
import { lineChart } from '../chart.js';

const USAGE = `query Usage($from: Time!, $to: Time!, $granularity: Granularity) {
  viewer {
    plan { name monthlyMessages sendsPerSecond }
    quota { used limit resetsAt }
    apiKeys { id name prefix }
    usage(from: $from, to: $to, granularity: $granularity) {
      start apiCalls errors messagesSent messagesDelivered messagesRead messagesFailed messagesReceived p50LatencyMs p95LatencyMs
    }
  }
}`;

const CALLS = `query ApiCalls($after: String, $filter: ApiCallFilter) {
  viewer {
    apiCalls(first: 50, after: $after, filter: $filter) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id operationName operationType durationMs ok errorCode ip userAgent at apiKey { name prefix } } }
    }
  }
}`;

// RANGES are the periods the charts offer, each with its bucket size and
// the UTC boundaries the buckets start on.
const RANGES = {
  day: { label: 'Last 24 hours', granularity: 'HOUR', span(now) {
    const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), now.getUTCHours() + 1));
    return { from: new Date(to - 24 * 3600e3), to, step: (d) => new Date(+d + 3600e3), label: (d) => `${String(d.getUTCHours()).padStart(2, '0')}:00` };
  } },
  month: { label: 'Last 30 days', granularity: 'DAY', span(now) {
    const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
    return { from: new Date(to - 30 * 86400e3), to, step: (d) => new Date(+d + 86400e3), label: (d) => `${d.getUTCDate()}/${d.getUTCMonth() + 1}` };
  } },
  year: { label: 'Last 12 months', granularity: 'MONTH', span(now) {
    const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1));
    return { from: new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth() - 12)), to,
      step: (d) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1)),
      label: (d) => d.toLocaleString(undefined, { month: 'short', timeZone: 'UTC' }) };
  } },
};

// fill gives every period of the span a point, zero where the API returned
// no bucket (it returns only buckets with activity).
function fill(buckets, span) {
  const byStart = new Map(buckets.map((b) => [new Date(b.start).getTime(), b]));
  const points = [];
  for (let d = span.from; d < span.to; d = span.step(d)) {
    const b = byStart.get(d.getTime());
    points.push({
      label: span.label(d),
      values: b ? { ...b } : { apiCalls: 0, errors: 0, messagesSent: 0, messagesDelivered: 0, messagesRead: 0, messagesFailed: 0, messagesReceived: 0, p50LatencyMs: null, p95LatencyMs: null },
    });
  }
  return points;
}

function stat(label, value, note) {
  return h('div', { class: 'stat' }, h('span', { class: 'muted' }, label), h('strong', {}, value), note ? h('small', { class: 'muted' }, note) : null);
}

export function renderUsage(app) {
  let range = 'day';
  const stats = h('div', { class: 'stats' });
  const charts = h('div', { class: 'charts' }, h('p', { class: 'muted' }, 'Loading…'));
  const keySelect = h('select', { name: 'apiKeyId' }, h('option', { value: '' }, 'Any credential'));
  const callRows = h('tbody');
  const callTotal = h('span', { class: 'muted' });
  const more = h('button', { class: 'ghost', type: 'button', hidden: true, onclick: () => loadCalls(true) }, 'Load more');
  let endCursor = null;

  async function loadUsage() {
    const span = RANGES[range].span(new Date());
    try {
      const v = (await gql(USAGE, { from: span.from.toISOString(), to: span.to.toISOString(), granularity: RANGES[range].granularity })).viewer;
      const points = fill(v.usage, span);
      const sum = (k) => v.usage.reduce((n, b) => n + b[k], 0);
      replace(stats,
        stat('Plan', v.plan.name, `${v.plan.monthlyMessages.toLocaleString()} messages a month, ${v.plan.sendsPerSecond}/s`),
        stat('Quota used', `${v.quota.used.toLocaleString()} / ${v.quota.limit.toLocaleString()}`, `resets ${when(v.quota.resetsAt)}`),
        stat('Messages sent', sum('messagesSent').toLocaleString(), RANGES[range].label.toLowerCase()),
        stat('API calls', sum('apiCalls').toLocaleString(), `${sum('errors').toLocaleString()} errors`));
      replace(charts,
        lineChart({ title: 'Messages', width: 1100, points, series: [
          { key: 'messagesSent', label: 'sent', color: '#0f766e' },
          { key: 'messagesDelivered', label: 'delivered', color: '#2563eb' },
          { key: 'messagesRead', label: 'read', color: '#7c3aed' },
          { key: 'messagesReceived', label: 'received', color: '#d97706' },
          { key: 'messagesFailed', label: 'failed', color: '#dc2626' },
        ] }),
        lineChart({ title: 'API calls', points, series: [
          { key: 'apiCalls', label: 'calls', color: '#0f766e' },
          { key: 'errors', label: 'errors', color: '#dc2626' },
        ] }),
        lineChart({ title: 'Latency', unit: ' ms', points, series: [
          { key: 'p50LatencyMs', label: 'p50', color: '#2563eb' },
          { key: 'p95LatencyMs', label: 'p95', color: '#d97706' },
        ] }));
      const chosen = keySelect.value;
      replace(keySelect, h('option', { value: '' }, 'Any credential'),
        v.apiKeys.map((k) => h('option', { value: k.id }, `${k.name} (${k.prefix}…)`)));
      keySelect.value = chosen;
    } catch (e) {
      replace(charts, h('p', { class: 'error' }, e.message));
    }
  }

  function filter() {
    const v = formValues(filters);
    const f = {};
    if (v.ok) f.ok = v.ok === 'ok';
    if (v.operationName) f.operationName = v.operationName;
    if (v.apiKeyId) f.apiKeyId = v.apiKeyId;
    if (v.since) f.since = new Date(v.since).toISOString();
    if (v.until) f.until = new Date(v.until).toISOString();
    return f;
  }

  async function loadCalls(next) {
    try {
      const c = (await gql(CALLS, { after: next ? endCursor : null, filter: filter() })).viewer.apiCalls;
      endCursor = c.pageInfo.endCursor;
      more.hidden = !c.pageInfo.hasNextPage;
      callTotal.textContent = `${c.totalCount.toLocaleString()} calls`;
      const rowsNow = c.edges.map(({ node: a }) => h('tr', { class: a.ok ? '' : 'failed-row' },
        h('td', {}, when(a.at)),
        h('td', {}, h('span', { class: 'tag' }, a.operationType), ' ', a.operationName || h('span', { class: 'muted' }, 'anonymous')),
        h('td', {}, a.apiKey ? `${a.apiKey.name} (${a.apiKey.prefix}…)` : h('span', { class: 'muted' }, 'dashboard session')),
        h('td', { class: 'num' }, `${a.durationMs.toFixed(1)} ms`),
        h('td', {}, a.ok ? h('span', { class: 'ok' }, 'ok') : h('span', { class: 'error' }, a.errorCode || 'error')),
        h('td', { class: 'muted' }, a.ip || '', a.userAgent ? h('div', { class: 'ua' }, a.userAgent) : null)));
      if (next) callRows.append(...rowsNow);
      else replace(callRows, rowsNow.length ? rowsNow : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No calls match.')));
    } catch (e) {
      app.toast(e.message, 'error');
    }
  }

  const filters = h('form', {
    class: 'inline filters', id: 'call-filters',
    onsubmit: (e) => { e.preventDefault(); loadCalls(false); },
  },
  field('Result', h('select', { name: 'ok' }, h('option', { value: '' }, 'Any'), h('option', { value: 'ok' }, 'Succeeded'), h('option', { value: 'error' }, 'Failed'))),
  field('Operation', h('input', { name: 'operationName', placeholder: 'SendMessage' })),
  field('Credential', keySelect),
  field('Since', h('input', { name: 'since', type: 'datetime-local' })),
  field('Until', h('input', { name: 'until', type: 'datetime-local' })),
  h('button', { type: 'submit' }, 'Filter'));

  const rangeButtons = h('div', { class: 'segmented' }, Object.entries(RANGES).map(([k, r]) => h('button', {
    type: 'button', class: k === range ? 'on' : '', dataset: { range: k },
    onclick: (e) => {
      range = k;
      for (const b of rangeButtons.children) b.classList.toggle('on', b === e.target);
      loadUsage();
    },
  }, r.label)));

  loadUsage();
  loadCalls(false);
  return {
    el: h('section', {},
      h('div', { class: 'page-head' }, h('h1', {}, 'Usage'), rangeButtons),
      stats,
      h('div', { class: 'card' }, charts),
      h('div', { class: 'card' },
        h('div', { class: 'card-head' }, h('h3', {}, 'API calls'), callTotal),
        h('p', { class: 'muted' }, 'Every operation made with this account\'s credentials, kept 12 months.'),
        filters,
        h('table', { class: 'table', id: 'api-calls' },
          h('thead', {}, h('tr', {}, ['When', 'Operation', 'Credential', 'Duration', 'Result', 'Client'].map((t) => h('th', {}, t)))),
          callRows),
        more)),
  };
}
