// keys.js: API keys. A new key's secret is shown once, with a copy button;
// afterwards only its prefix is known. Keys can be revoked.
import { gql, userErrorText } from '../api.js';
import { h, field, formValues, replace, when, day, copyText } from '../dom.js';

const KEY_FIELDS = 'id name prefix scopes createdAt lastUsedAt expiresAt revokedAt';
const KEYS = `query ApiKeys { viewer { apiKeys { ${KEY_FIELDS} } } }`;
const CREATE = `mutation CreateApiKey($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { secret apiKey { ${KEY_FIELDS} } userErrors { field code message } }
}`;
const REVOKE = `mutation RevokeApiKey($id: ID!) { revokeApiKey(id: $id) { apiKey { ${KEY_FIELDS} } userErrors { field code message } } }`;

export function renderKeys(app) {
  const rows = h('tbody');
  const secretBox = h('div', { id: 'secret', hidden: true });

  function state(k) {
    if (k.revokedAt) return h('span', { class: 'pill s-revoked' }, 'revoked');
    if (k.expiresAt && new Date(k.expiresAt) < new Date()) return h('span', { class: 'pill s-expired' }, 'expired');
    return h('span', { class: 'pill s-active' }, 'active');
  }

  function draw(keys) {
    replace(rows, keys.length ? keys.map((k) => h('tr', { dataset: { keyId: k.id } },
      h('td', {}, h('strong', {}, k.name)),
      h('td', { class: 'mono' }, `${k.prefix}…`),
      h('td', {}, k.scopes.map((s) => h('span', { class: 'tag' }, s.toLowerCase().replace('_', ' ')))),
      h('td', {}, day(k.createdAt)),
      h('td', {}, when(k.lastUsedAt)),
      h('td', {}, k.expiresAt ? day(k.expiresAt) : 'never'),
      h('td', { class: 'status' }, state(k)),
      h('td', { class: 'actions' }, k.revokedAt ? null : h('button', {
        class: 'danger small', type: 'button',
        onclick: async (e) => {
          if (!confirm(`Revoke "${k.name}"? Requests using it fail at once.`)) return;
          e.target.disabled = true;
          try {
            const p = (await gql(REVOKE, { id: k.id })).revokeApiKey;
            const problem = userErrorText(p);
            if (problem) app.toast(problem, 'error');
            else app.toast(`Key "${k.name}" revoked.`);
            load();
          } catch (err) {
            app.toast(err.message, 'error');
          }
        },
      }, 'Revoke'))))
      : h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No API keys yet.')));
  }

  function load() {
    gql(KEYS).then((d) => draw(d.viewer.apiKeys)).catch((e) => app.toast(e.message, 'error'));
  }

  function showSecret(key, secret) {
    const input = h('input', { class: 'mono secret', readonly: true, value: secret, 'aria-label': 'API key secret' });
    const copied = h('span', { class: 'ok', role: 'status' });
    replace(secretBox,
      h('div', { class: 'callout' },
        h('strong', {}, `Your new key "${key.name}"`),
        h('p', {}, 'Copy it now: this is the only time it is shown. apiws keeps only a hash of it.'),
        h('div', { class: 'copy-row' }, input,
          h('button', { type: 'button', id: 'copy-secret', onclick: async () => { copied.textContent = (await copyText(secret, input)) ? 'Copied.' : 'Press Ctrl+C to copy.'; } }, 'Copy'),
          copied),
        h('p', { class: 'muted' }, 'Use it as: Authorization: Bearer <key>'),
        h('button', { class: 'ghost small', type: 'button', onclick: () => { secretBox.hidden = true; replace(secretBox); } }, 'I have saved it')));
    secretBox.hidden = false;
  }

  const form = h('form', {
    class: 'inline', id: 'create-key',
    onsubmit: async (e) => {
      e.preventDefault();
      const v = formValues(form);
      const input = { name: v.name, scopes: v.scopes };
      if (v.expiresAt) input.expiresAt = new Date(`${v.expiresAt}T00:00:00Z`).toISOString();
      try {
        const p = (await gql(CREATE, { input })).createApiKey;
        const problem = userErrorText(p);
        if (problem) {
          app.toast(problem, 'error');
          return;
        }
        showSecret(p.apiKey, p.secret);
        form.reset();
        load();
      } catch (err) {
        app.toast(err.message, 'error');
      }
    },
  },
  field('Name', h('input', { name: 'name', required: true, placeholder: 'CI server' })),
  h('fieldset', { class: 'scopes' }, h('legend', {}, 'Scopes'),
    ['READ', 'SEND', 'MANAGE_NUMBERS', 'MANAGE_GROUPS'].map((s) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'scopes', value: s, checked: !s.startsWith('MANAGE_') }), s.toLowerCase().replace('_', ' ')))),
  field('Expires (optional)', h('input', { name: 'expiresAt', type: 'date' })),
  h('button', { type: 'submit' }, 'Create key'));

  load();
  return {
    el: h('section', {},
      h('div', { class: 'page-head' }, h('h1', {}, 'API keys'),
        h('p', { class: 'muted' }, 'Keys let your servers call apiws. Give each the fewest scopes it needs.')),
      h('div', { class: 'card' }, form),
      secretBox,
      h('div', { class: 'card' },
        h('table', { class: 'table', id: 'keys' },
          h('thead', {}, h('tr', {}, ['Name', 'Key', 'Scopes', 'Created', 'Last used', 'Expires', 'State', ''].map((t) => h('th', {}, t)))),
          rows))),
  };
}
