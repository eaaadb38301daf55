// banners.js: what the account must see on every screen: a pending
// deletion (with the way back), a policy version not yet accepted, and
// unread notices.
import { gql, userErrorText } from '../api.js';
import { h, replace, day, when } from '../dom.js';

const ACCEPT = `mutation AcceptPolicy($version: String!) { acceptPolicy(version: $version) { account { id } userErrors { field code message } } }`;
const DISMISS = `mutation DismissNotice($id: ID!) { dismissNotice(id: $id) }`;
const RESTORE = `mutation RestoreAccount { restoreAccount { account { id status } userErrors { field code message } } }`;

async function act(app, query, vars, done) {
  try {
    const data = await gql(query, vars);
    const problem = userErrorText(Object.values(data)[0]);
    if (problem) app.toast(problem, 'error');
    else app.toast(done);
  } catch (e) {
    app.toast(e.message, 'error');
  }
  app.refresh();
}

// renderBanners draws the banners from the account and the policy
// versions, as app.refresh fetched them in one request.
export function renderBanners(app, box, policyVersions) {
  const v = app.viewer;
  const out = [];
  if (v.status === 'PENDING_DELETION') {
    out.push(h('div', { class: 'banner danger', id: 'pending-deletion' },
      h('div', {}, h('strong', {}, 'This account is scheduled for deletion'),
        h('p', {}, `Everything is deleted for good on ${when(v.deletionScheduledAt)}. Until then you can restore it.`)),
      h('button', { type: 'button', onclick: () => act(app, RESTORE, {}, 'Account restored.') }, 'Restore account')));
  }
  const accepted = new Set(v.consents.map((c) => c.policyVersion));
  const latest = [...policyVersions].sort((a, b) => (a.effectiveAt < b.effectiveAt ? 1 : -1))[0];
  if (latest && !accepted.has(latest.version)) {
    out.push(h('div', { class: 'banner', id: 'policy-banner' },
      h('div', {}, h('strong', {}, `Privacy policy ${latest.version}${latest.material ? ' (material change)' : ''}, in force from ${day(latest.effectiveAt)}`),
        h('p', {}, latest.summary)),
      h('button', { type: 'button', onclick: () => act(app, ACCEPT, { version: latest.version }, `Policy ${latest.version} accepted.`) }, `Accept version ${latest.version}`)));
  }
  for (const n of v.notices || []) {
    out.push(h('div', { class: 'banner info', dataset: { noticeId: n.id } },
      h('div', {}, h('strong', {}, n.title), h('p', {}, n.body), h('small', { class: 'muted' }, when(n.createdAt))),
      h('button', { class: 'ghost', type: 'button', onclick: () => act(app, DISMISS, { id: n.id }, 'Notice dismissed.') }, 'Dismiss')));
  }
  replace(box, out);
}
