// requests.js: every account's privacy requests, the earliest due first,
// with those past their due date marked. apiws carries requests out by
// itself once verified; this is where an operator sees that none is late.
import { gql } from '../api.js';
import { h, replace, when, day, pill } from '/dashboard/assets/dom.js';

const QUEUE = `query PrivacyQueue($status: [PrivacyRequestStatus!]) {
  privacyRequestQueue(status: $status) { id type status details withdraw submittedAt verifiedAt completedAt dueAt resolution
    account { id email legalHold } }
}`;
const PENDING = ['PENDING_VERIFICATION', 'VERIFIED', 'PROCESSING'];
const DONE = ['COMPLETED', 'REJECTED', 'CANCELLED'];

// overdue reports whether a request is still open past its due date.
export function overdue(r, now = Date.now()) {
  return !DONE.includes(r.status) && new Date(r.dueAt).getTime() < now;
}

export function renderRequests(app) {
  const rows = h('tbody');
  const summary = h('p', { class: 'muted', id: 'requests-summary' });
  const all = h('input', { type: 'checkbox', name: 'all', onchange: load });

  function row(r) {
    const late = overdue(r);
    return h('tr', { class: late ? 'overdue' : null, dataset: { requestId: r.id, status: r.status, overdue: String(late) } },
      h('td', {}, day(r.dueAt), late ? h('div', {}, pill('OVERDUE')) : null),
      h('td', {}, h('strong', {}, r.type.toLowerCase()), r.withdraw ? h('span', { class: 'tag' }, 'withdraw') : null,
        r.details ? h('div', { class: 'muted' }, r.details) : null),
      h('td', { class: 'status' }, pill(r.status), r.resolution ? h('div', { class: 'muted small' }, r.resolution) : null),
      h('td', {}, r.account ? [h('div', {}, r.account.email), h('div', { class: 'mono small muted' }, r.account.id),
        r.account.legalHold ? pill('HELD') : null] : '—'),
      h('td', {}, when(r.submittedAt)),
      h('td', {}, when(r.verifiedAt)),
      h('td', {}, when(r.completedAt)));
  }

  function load() {
    gql(QUEUE, { status: all.checked ? null : PENDING }).then((d) => {
      const list = d.privacyRequestQueue;
      const late = list.filter((r) => overdue(r)).length;
      replace(summary, `${list.length} request${list.length === 1 ? '' : 's'}, ${late} overdue. Requests are due one month after submission; apiws carries them out once the account verifies them.`);
      replace(rows, list.length ? list.map(row) : h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'Nothing in the queue.')));
    }).catch((e) => replace(rows, h('tr', {}, h('td', { colspan: 7, class: 'error' }, e.message))));
  }

  load();
  return {
    el: h('section', {},
      h('div', { class: 'page-head' }, h('h1', {}, 'Privacy requests'), summary),
      h('div', { class: 'card' },
        h('div', { class: 'card-head' }, h('h3', {}, 'Queue, earliest due first'),
          h('label', { class: 'check' }, all, 'Include completed, rejected and cancelled')),
        h('table', { class: 'table', id: 'privacy-queue' },
          h('thead', {}, h('tr', {}, ['Due', 'Request', 'Status', 'Account', 'Submitted', 'Verified', 'Completed'].map((t) => h('th', {}, t)))),
          rows))),
  };
}
