// policy.js: the privacy policy's versions and publishing a new one. The
// 30-day rule is explained before anything is sent: a material change
// takes effect at least 30 days after publishing, and every account gets
// a dashboard notice and an email as soon as it is published.
import { gql } from '../api.js';
import { h, replace, field, errorSlot, showUserErrors, formValues, when, day } from '/dashboard/assets/dom.js';

const VERSIONS = `query PolicyVersions { policyVersions { version effectiveAt publishedAt summary material } privacyPolicy { version } }`;
const PUBLISH = `mutation PublishPolicyVersion($input: PublishPolicyInput!) {
  publishPolicyVersion(input: $input) { policyVersion { version effectiveAt material } userErrors { field code message } }
}`;
const NOTICE_DAYS = 30;
const DAY_MS = 24 * 3600 * 1000;

// localInput formats a time for a datetime-local input (local time).
function localInput(t) {
  const d = new Date(t);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function renderPolicy(app) {
  const rows = h('tbody');
  const version = h('input', { name: 'version', required: true, placeholder: '2.0', maxlength: 32 });
  const effectiveAt = h('input', { name: 'effectiveAt', type: 'datetime-local', required: true, value: localInput(Date.now() + (NOTICE_DAYS + 1) * DAY_MS) });
  const summary = h('textarea', { name: 'summary', rows: 4, required: true, maxlength: 2000, placeholder: 'What changes, in a few plain sentences.' });
  const material = h('input', { type: 'checkbox', name: 'material' });
  const rule = h('div', { class: 'rule', id: 'policy-rule', role: 'note' });

  // explain says what publishing with the form as it stands will do.
  function explain() {
    const earliest = new Date(Date.now() + NOTICE_DAYS * DAY_MS);
    const at = effectiveAt.value ? new Date(effectiveAt.value) : null;
    const lines = [];
    if (material.checked) {
      lines.push(h('strong', {}, `A material change must take effect at least ${NOTICE_DAYS} days after it is published: on ${when(earliest)} at the earliest.`));
      if (at && at < earliest) lines.push(h('p', { class: 'error' }, `${when(at)} is too early; apiws will refuse it.`));
    } else {
      lines.push(h('strong', {}, 'A change that is not material may take effect at once, but not in the past.'));
    }
    lines.push(h('p', {}, 'Publishing sends every account a dashboard notice and an email now; they accept the new version in the dashboard. A published version cannot be taken back.'));
    replace(rule, lines);
  }
  for (const c of [effectiveAt, material]) c.addEventListener('input', explain);
  explain();

  const form = h('form', {
    class: 'stack', id: 'policy-form',
    onsubmit: async (e) => {
      e.preventDefault();
      const v = formValues(form);
      const at = new Date(v.effectiveAt);
      const what = v.material ? `a MATERIAL change, in force ${when(at)} (at least ${NOTICE_DAYS} days from now)` : `a change in force ${when(at)}`;
      if (!confirm(`Publish version ${v.version}: ${what}? Every account gets a notice and an email now.`)) return;
      try {
        const p = (await gql(PUBLISH, { input: { version: v.version, effectiveAt: at.toISOString(), summary: v.summary, material: v.material } })).publishPolicyVersion;
        if (showUserErrors(form, p.userErrors)) return;
        app.toast(`Version ${p.policyVersion.version} published; accounts are being notified.`);
        form.reset();
        explain();
        load();
      } catch (err) {
        app.toast(err.message, 'error');
      }
    },
  },
  h('div', { class: 'fields' },
    h('div', { class: 'field-wrap' }, field('Version', version), errorSlot('version', version)),
    h('div', { class: 'field-wrap' }, field('In force from (your time)', effectiveAt), errorSlot('effectiveAt', effectiveAt))),
  h('div', { class: 'field-wrap' }, field('Summary of the change', summary), errorSlot('summary', summary)),
  h('label', { class: 'check' }, material, 'Material change (it changes what people agreed to)'),
  rule,
  h('p', { class: 'form-error' }),
  h('div', {}, h('button', { type: 'submit' }, 'Publish version')));

  function load() {
    gql(VERSIONS).then((d) => {
      const list = [...d.policyVersions].sort((a, b) => (a.effectiveAt < b.effectiveAt ? 1 : -1));
      replace(rows, list.map((p) => h('tr', { dataset: { version: p.version } },
        h('td', {}, h('strong', {}, p.version), p.version === d.privacyPolicy.version ? h('span', { class: 'tag' }, 'in force') : null),
        h('td', {}, day(p.effectiveAt)),
        h('td', {}, when(p.publishedAt)),
        h('td', {}, p.material ? 'material' : '—'),
        h('td', { class: 'summary-cell' }, p.summary))));
    }).catch((e) => replace(rows, h('tr', {}, h('td', { colspan: 5, class: 'error' }, e.message))));
  }

  load();
  return {
    el: h('section', {},
      h('div', { class: 'page-head' }, h('h1', {}, 'Privacy policy')),
      h('div', { class: 'card' }, h('h3', {}, 'Publish a version'), form),
      h('div', { class: 'card' },
        h('table', { class: 'table', id: 'policy-versions' },
          h('thead', {}, h('tr', {}, ['Version', 'In force from', 'Published', 'Change', 'Summary'].map((t) => h('th', {}, t)))),
          rows))),
  };
}
