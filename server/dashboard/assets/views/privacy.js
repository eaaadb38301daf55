// privacy.js: the Privacy Request Form. Submit a request of any type, enter
// the code mailed to the account's address, follow its status until it is
// carried out, download the export of an access or portability request.
import { gql, userErrorText, download } from '../api.js';
import { h, field, formValues, replace, when, day, pill } from '../dom.js';

const REQUEST_FIELDS = `id type status details withdraw submittedAt verifiedAt completedAt dueAt
  resolution downloadUrl downloadExpiresAt`;

const REQUESTS = `query PrivacyRequests {
  viewer { email status processingRestricted analyticsObjected privacyRequests { ${REQUEST_FIELDS} } }
}`;
const SUBMIT = `mutation SubmitPrivacyRequest($input: PrivacyRequestInput!) {
  submitPrivacyRequest(input: $input) { privacyRequest { ${REQUEST_FIELDS} } userErrors { field code message } }
}`;
const VERIFY = `mutation VerifyPrivacyRequest($id: ID!, $code: String!) {
  verifyPrivacyRequest(id: $id, code: $code) { privacyRequest { ${REQUEST_FIELDS} } userErrors { field code message } }
}`;
const CANCEL = `mutation CancelPrivacyRequest($id: ID!) {
  cancelPrivacyRequest(id: $id) { privacyRequest { ${REQUEST_FIELDS} } userErrors { field code message } }
}`;

const TYPES = {
  ACCESS: 'Access: a copy of all data apiws holds about you.',
  PORTABILITY: 'Portability: your data in a machine-readable export.',
  RECTIFICATION: 'Rectification: correct data (or edit it yourself under Settings).',
  ERASURE: 'Erasure: delete the account. You can restore it within 30 days.',
  RESTRICTION: 'Restriction: stop sending and analytics while a question is settled.',
  OBJECTION: 'Objection: stop using your data to improve the service.',
};
const ACTIVE = ['VERIFIED', 'PROCESSING'];

export function renderPrivacy(app) {
  const rows = h('tbody');
  const summary = h('div', { class: 'stats' });
  let poll = null;
  let shown = null; // the account as last drawn

  function draw(v) {
    shown = v;
    replace(summary,
      h('div', { class: 'stat' }, h('span', { class: 'muted' }, 'Account'), pill(v.status)),
      h('div', { class: 'stat' }, h('span', { class: 'muted' }, 'Processing restricted'), h('strong', {}, v.processingRestricted ? 'yes' : 'no')),
      h('div', { class: 'stat' }, h('span', { class: 'muted' }, 'Objected to analytics'), h('strong', {}, v.analyticsObjected ? 'yes' : 'no')),
      h('div', { class: 'stat' }, h('span', { class: 'muted' }, 'Codes are mailed to'), h('strong', {}, v.email)));
    const list = [...v.privacyRequests].sort((a, b) => (a.submittedAt < b.submittedAt ? 1 : -1));
    replace(rows, list.length ? list.map(row) : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No requests yet.')));
    clearTimeout(poll);
    // Requests are carried out in the background: follow them until done.
    if (list.some((r) => ACTIVE.includes(r.status))) poll = setTimeout(load, 1500);
  }

  function row(r) {
    const actions = [];
    if (r.status === 'PENDING_VERIFICATION') {
      const verify = h('form', {
        class: 'verify',
        onsubmit: async (e) => {
          e.preventDefault();
          await mutate(VERIFY, { id: r.id, code: formValues(verify).code }, 'verifyPrivacyRequest', 'Verified: the request is being carried out.');
        },
      }, h('input', { name: 'code', required: true, placeholder: 'Code from the email', autocomplete: 'one-time-code', 'aria-label': 'Verification code', class: 'mono' }),
      h('button', { type: 'submit', class: 'small' }, 'Verify'));
      actions.push(verify);
    }
    if (r.status === 'PENDING_VERIFICATION' || r.status === 'VERIFIED') {
      actions.push(h('button', { class: 'ghost small', type: 'button', onclick: () => mutate(CANCEL, { id: r.id }, 'cancelPrivacyRequest', 'Request cancelled.') }, 'Cancel'));
    }
    if (r.downloadUrl) {
      actions.push(h('button', {
        class: 'small', type: 'button', dataset: { download: r.id },
        onclick: () => download(r.downloadUrl, `apiws-export-${r.id}.json`).then(() => app.toast('Export downloaded.')).catch((e) => app.toast(e.message, 'error')),
      }, 'Download export'), h('div', { class: 'muted small' }, `until ${when(r.downloadExpiresAt)}`));
    }
    return h('tr', { dataset: { requestId: r.id, status: r.status } },
      h('td', {}, h('strong', {}, r.type.toLowerCase()), r.withdraw ? h('span', { class: 'tag' }, 'withdraw') : null,
        r.details ? h('div', { class: 'muted' }, r.details) : null),
      h('td', { class: 'status' }, pill(r.status), r.resolution ? h('div', { class: 'muted small' }, r.resolution) : null),
      h('td', {}, when(r.submittedAt)),
      h('td', {}, day(r.dueAt)),
      h('td', { class: 'actions' }, actions));
  }

  async function mutate(query, vars, name, done) {
    try {
      const p = (await gql(query, vars))[name];
      const problem = userErrorText(p);
      if (problem) app.toast(problem, 'error');
      else app.toast(done);
      load();
      app.refresh();
    } catch (e) {
      app.toast(e.message, 'error');
    }
  }

  function load() {
    gql(REQUESTS).then((d) => {
      draw(d.viewer);
      // A request carried out in the background may have changed the
      // account (erasure, restriction): the banners must follow.
      if (d.viewer.status !== app.viewer.status || d.viewer.processingRestricted !== app.viewer.processingRestricted) app.refresh();
    }).catch((e) => replace(rows, h('tr', {}, h('td', { colspan: 5, class: 'error' }, e.message))));
  }

  const typeHint = h('small', { class: 'muted' }, TYPES.ACCESS);
  const withdraw = h('label', { class: 'check', hidden: true }, h('input', { type: 'checkbox', name: 'withdraw' }), 'Withdraw an earlier restriction or objection');
  const form = h('form', {
    class: 'inline', id: 'privacy-form',
    onsubmit: async (e) => {
      e.preventDefault();
      const v = formValues(form);
      const input = { type: v.type, details: v.details || null, withdraw: ['RESTRICTION', 'OBJECTION'].includes(v.type) && v.withdraw };
      if (v.type === 'ERASURE' && !input.withdraw && !confirm('Delete this account? It stays restorable for 30 days.')) return;
      await mutate(SUBMIT, { input }, 'submitPrivacyRequest', 'Request submitted: enter the code we emailed you.');
      form.reset();
      typeHint.textContent = TYPES.ACCESS;
      withdraw.hidden = true;
    },
  },
  h('label', { class: 'field' }, h('span', { class: 'label' }, 'Request'),
    h('select', {
      name: 'type',
      onchange: (e) => {
        typeHint.textContent = TYPES[e.target.value];
        withdraw.hidden = !['RESTRICTION', 'OBJECTION'].includes(e.target.value);
      },
    }, Object.keys(TYPES).map((t) => h('option', { value: t }, t.charAt(0) + t.slice(1).toLowerCase()))),
    typeHint),
  field('Details (optional)', h('input', { name: 'details', placeholder: 'What should we know?' })),
  withdraw,
  h('button', { type: 'submit' }, 'Submit request'));

  load();
  return {
    el: h('section', {},
      h('div', { class: 'page-head' }, h('h1', {}, 'Privacy'),
        h('p', { class: 'muted' }, 'Exercise your rights. Each request is confirmed by a code sent to your email and is carried out within one month, usually at once.')),
      summary,
      h('div', { class: 'card' }, h('h3', {}, 'Privacy Request Form'), form),
      h('div', { class: 'card' },
        h('table', { class: 'table', id: 'privacy-requests' },
          h('thead', {}, h('tr', {}, ['Request', 'Status', 'Submitted', 'Due', ''].map((t) => h('th', {}, t)))),
          rows))),
    dispose() { clearTimeout(poll); },
    // The account changed elsewhere (the banner restored it): redraw.
    refreshed(v) {
      if (shown && (v.status !== shown.status || v.processingRestricted !== shown.processingRestricted)) load();
    },
  };
}
