// accounts.js: the accounts under a legal hold, and account search (by
// name, email or id) with each account's plan and legal hold. A legal hold suspends erasure and retention deletes for the
// account; setting or lifting one needs a reason, which is audited.
import { gql, ApiError } from '../api.js';
import { h, replace, day, pill, formValues } from '/dashboard/assets/dom.js';

const ACCOUNT_FIELDS = 'id name email status createdAt deletionScheduledAt legalHold processingRestricted plan { id name } quota { used limit }';
const SEARCH = `query Accounts($search: String, $after: String) {
  accounts(first: 20, search: $search, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { ${ACCOUNT_FIELDS} } } }
  plans { id name public }
}`;
const HELD = `query HeldAccounts { accounts(first: 100, legalHold: true) { totalCount edges { node { ${ACCOUNT_FIELDS} } } } plans { id name public } }`;
const HOLD = `mutation SetLegalHold($accountId: ID!, $hold: Boolean!, $reason: String!) {
  setLegalHold(accountId: $accountId, hold: $hold, reason: $reason) { account { ${ACCOUNT_FIELDS} } userErrors { field code message } }
}`;
const SET_PLAN = `mutation SetAccountPlan($accountId: ID!, $planId: ID!) {
  setAccountPlan(accountId: $accountId, planId: $planId) { account { ${ACCOUNT_FIELDS} } userErrors { field code message } }
}`;

// payloadOf returns a mutation's payload, throwing its userErrors.
function payloadOf(data) {
  const p = Object.values(data)[0];
  if (p.userErrors.length) throw new ApiError(p.userErrors.map((e) => e.message).join('; '), p.userErrors[0].code);
  return p;
}

export function renderAccounts(app) {
  const rows = h('tbody');
  const heldRows = h('tbody');
  const heldSummary = h('p', { class: 'muted', id: 'held-summary' });
  const summary = h('p', { class: 'muted', id: 'accounts-summary' });
  const more = h('button', { class: 'ghost', type: 'button', hidden: true, onclick: () => load(true) }, 'More');
  let plans = [];
  let cursor = null;
  let search = '';

  function row(a) {
    const planSelect = h('select', { name: 'planId', 'aria-label': 'Plan' },
      plans.map((p) => h('option', { value: p.id, selected: p.id === a.plan.id }, `${p.name}${p.public ? '' : ' (private)'}`)));
    const reason = h('input', { name: 'reason', required: true, placeholder: 'Reason (audited)', 'aria-label': 'Reason for the legal hold' });
    const holdForm = h('form', {
      class: 'inline-actions hold',
      onsubmit: (e) => {
        e.preventDefault();
        act(HOLD, { accountId: a.id, hold: !a.legalHold, reason: formValues(holdForm).reason },
          a.legalHold ? 'Legal hold lifted.' : 'Legal hold set: erasure and retention deletes are suspended.');
      },
    }, reason, h('button', { type: 'submit', class: a.legalHold ? 'small ghost' : 'small danger' }, a.legalHold ? 'Lift hold' : 'Set hold'));
    return h('tr', { dataset: { accountId: a.id } },
      h('td', {}, h('strong', {}, a.name), h('div', {}, a.email), h('div', { class: 'mono small muted' }, a.id)),
      h('td', { class: 'status' }, pill(a.status), a.legalHold ? pill('HELD') : null,
        a.processingRestricted ? h('div', { class: 'muted small' }, 'processing restricted') : null,
        a.deletionScheduledAt ? h('div', { class: 'muted small' }, `deleted ${day(a.deletionScheduledAt)}`) : null),
      h('td', {}, h('div', { class: 'inline-actions' }, planSelect,
        h('button', { type: 'button', class: 'small', onclick: () => act(SET_PLAN, { accountId: a.id, planId: planSelect.value }, 'Plan changed: its limits apply at once, its price from the next period.') }, 'Set plan')),
      h('div', { class: 'muted small' }, `${a.quota.used} of ${a.quota.limit} messages this month`)),
      h('td', {}, day(a.createdAt)),
      h('td', {}, holdForm));
  }

  async function act(query, vars, done) {
    try {
      payloadOf(await gql(query, vars));
      app.toast(done);
      // The account may be in both lists: draw both again.
      loadHeld();
      load(false);
    } catch (e) {
      app.toast(e.message, 'error');
    }
  }

  function load(append) {
    gql(SEARCH, { search: search || null, after: append ? cursor : null }).then((d) => {
      plans = d.plans;
      const c = d.accounts;
      cursor = c.pageInfo.endCursor;
      more.hidden = !c.pageInfo.hasNextPage;
      replace(summary, `${c.totalCount} account${c.totalCount === 1 ? '' : 's'}${search ? ` matching "${search}"` : ''}.`);
      const list = c.edges.map((e) => row(e.node));
      if (append) rows.append(...list);
      else replace(rows, list.length ? list : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No account matches.')));
    }).catch((e) => replace(rows, h('tr', {}, h('td', { colspan: 5, class: 'error' }, e.message))));
  }

  function loadHeld() {
    gql(HELD).then((d) => {
      plans = d.plans;
      const c = d.accounts;
      replace(heldSummary, c.totalCount ? `${c.totalCount} account${c.totalCount === 1 ? ' is' : 's are'} under a legal hold: no erasure or retention delete touches them until it is lifted.`
        : 'No account is under a legal hold.');
      replace(heldRows, c.edges.map((e) => row(e.node)));
      if (c.totalCount > c.edges.length) heldRows.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, `and ${c.totalCount - c.edges.length} more`)));
    }).catch((e) => replace(heldSummary, h('span', { class: 'error' }, e.message)));
  }

  const form = h('form', {
    class: 'inline', id: 'account-search',
    onsubmit: (e) => {
      e.preventDefault();
      search = formValues(form).search;
      load(false);
    },
  }, h('input', { name: 'search', type: 'search', placeholder: 'Name, email or account id', 'aria-label': 'Search accounts' }), h('button', { type: 'submit' }, 'Search'));

  const head = () => h('thead', {}, h('tr', {}, ['Account', 'Status', 'Plan', 'Created', 'Legal hold'].map((t) => h('th', {}, t))));
  loadHeld();
  load(false);
  return {
    el: h('section', {},
      h('div', { class: 'page-head' }, h('h1', {}, 'Accounts')),
      h('div', { class: 'card', id: 'legal-holds' }, h('h3', {}, 'Legal holds'), heldSummary,
        h('table', { class: 'table', id: 'held-accounts' }, head(), heldRows)),
      h('div', { class: 'card' }, h('h3', {}, 'Search'), form, summary,
        h('table', { class: 'table', id: 'accounts' }, head(), rows),
        more)),
  };
}
