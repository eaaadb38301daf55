// settings.js: the account's own data (rectification through
// updateAccount; a new email needs the current password and takes effect
// with the code mailed to it), the password, the policy versions accepted,
// and debug capture grants: the customer's permission to keep one number's
// message content for a while.
import { gql, startSession, userErrorText } from '../api.js';
import { h, field, formValues, replace, when } from '../dom.js';

const ACCOUNT = `query Settings {
  viewer {
    id name email phone createdAt
    business { name website country vatId address }
    consents { policyVersion acceptedAt ip }
    numbers(first: 100) { edges { node { id label phone } } }
    debugCaptures { id reason createdAt until revokedAt number { id label phone } }
  }
}`;
const UPDATE = `mutation UpdateAccount($input: UpdateAccountInput!) {
  updateAccount(input: $input) { account { id name } userErrors { field code message } }
}`;
const CONFIRM_EMAIL = `mutation ConfirmEmailChange($code: String!) {
  confirmEmailChange(code: $code) { account { id email } userErrors { field code message } }
}`;
const CHANGE_PASSWORD = `mutation ChangePassword($input: ChangePasswordInput!) {
  changePassword(input: $input) { token userErrors { field code message } }
}`;
const GRANT = `mutation GrantDebugCapture($input: DebugCaptureInput!) {
  grantDebugCapture(input: $input) { debugCapture { id } userErrors { field code message } }
}`;
const REVOKE = `mutation RevokeDebugCapture($id: ID!) {
  revokeDebugCapture(id: $id) { debugCapture { id } userErrors { field code message } }
}`;

const BUSINESS = [['name', 'Business name'], ['website', 'Website'], ['country', 'Country'], ['vatId', 'VAT id'], ['address', 'Address']];

// localInput formats a time for a datetime-local control.
function localInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function renderSettings(app) {
  const accountCard = h('div', { class: 'card' }, h('p', { class: 'muted' }, 'Loading…'));
  const securityCard = h('div', { class: 'card' });
  const consentsCard = h('div', { class: 'card' });
  const captureCard = h('div', { class: 'card' });

  async function run(query, vars, name, done) {
    try {
      const p = (await gql(query, vars))[name];
      const problem = userErrorText(p);
      if (problem) {
        app.toast(problem, 'error');
        return false;
      }
      app.toast(done);
      load();
      app.refresh();
      return true;
    } catch (e) {
      app.toast(e.message, 'error');
      return false;
    }
  }

  function drawAccount(v) {
    const form = h('form', {
      class: 'stack', id: 'account-form',
      onsubmit: (e) => {
        e.preventDefault();
        const f = formValues(form);
        const business = {};
        for (const [k] of BUSINESS) business[k] = f[`b_${k}`] || null;
        const done = f.email === v.email ? 'Account updated.'
          : `Account updated. A code went to ${f.email}: enter it below to make it the account's email.`;
        run(UPDATE, { input: { name: f.name, email: f.email, phone: f.phone || null, business, currentPassword: f.currentPassword || null } }, 'updateAccount', done);
      },
    },
    h('div', { class: 'grid two' },
      field('Name', h('input', { name: 'name', required: true, value: v.name })),
      field('Email', h('input', { name: 'email', type: 'email', required: true, value: v.email })),
      field('Current password', h('input', { name: 'currentPassword', type: 'password', autocomplete: 'current-password' }), 'Needed to change the email'),
      field('Phone', h('input', { name: 'phone', type: 'tel', value: v.phone || '' })),
      BUSINESS.map(([k, label]) => field(label, h('input', { name: `b_${k}`, value: (v.business && v.business[k]) || '' })))),
    h('button', { type: 'submit' }, 'Save'));
    replace(accountCard, h('h3', {}, 'Account'), h('p', { class: 'muted' }, `Account ${v.id}, created ${when(v.createdAt)}.`), form);

    const confirm = h('form', {
      class: 'inline', id: 'email-confirm',
      onsubmit: (e) => {
        e.preventDefault();
        run(CONFIRM_EMAIL, { code: formValues(confirm).code.trim() }, 'confirmEmailChange', 'Email changed.');
      },
    },
    field('Code mailed to the new email', h('input', { name: 'code', required: true, inputmode: 'numeric', autocomplete: 'one-time-code' })),
    h('button', { type: 'submit' }, 'Confirm email'));
    const password = h('form', {
      class: 'inline', id: 'password-form',
      onsubmit: async (e) => {
        e.preventDefault();
        const f = formValues(password);
        try {
          const p = (await gql(CHANGE_PASSWORD, { input: { currentPassword: f.currentPassword, newPassword: f.newPassword } })).changePassword;
          const problem = userErrorText(p);
          if (problem) {
            app.toast(problem, 'error');
            return;
          }
          // Every session ended, this one too: carry on with the new one.
          await startSession(p.token);
          password.reset();
          app.toast('Password changed; every other session has ended.');
        } catch (err) {
          app.toast(err.message, 'error');
        }
      },
    },
    field('Current password', h('input', { name: 'currentPassword', type: 'password', required: true, autocomplete: 'current-password' })),
    field('New password', h('input', { name: 'newPassword', type: 'password', required: true, minlength: 10, autocomplete: 'new-password' }), 'At least 10 characters'),
    h('button', { type: 'submit' }, 'Change password'));
    replace(securityCard, h('h3', {}, 'Sign-in'), confirm, password);

    replace(consentsCard, h('h3', {}, 'Privacy policy accepted'),
      h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['Version', 'Accepted', 'From'].map((t) => h('th', {}, t)))),
        h('tbody', {}, v.consents.map((c) => h('tr', {}, h('td', {}, c.policyVersion), h('td', {}, when(c.acceptedAt)), h('td', { class: 'muted' }, c.ip || '—'))))));

    const nums = v.numbers.edges.map((e) => e.node);
    const grant = h('form', {
      class: 'inline', id: 'grant-capture',
      onsubmit: (e) => {
        e.preventDefault();
        const f = formValues(grant);
        run(GRANT, { input: { numberId: f.numberId, until: new Date(f.until).toISOString(), reason: f.reason } }, 'grantDebugCapture', 'Debug capture granted.');
      },
    },
    field('Number', h('select', { name: 'numberId', required: true }, nums.map((n) => h('option', { value: n.id }, `${n.label || 'Unnamed'} ${n.phone || ''}`)))),
    field('Keep content until', h('input', { name: 'until', type: 'datetime-local', required: true, value: localInput(new Date(Date.now() + 7 * 86400e3)) }), '30 days ahead at most'),
    field('Reason', h('input', { name: 'reason', required: true, placeholder: 'Ticket #123: garbled replies' })),
    h('button', { type: 'submit', disabled: !nums.length }, 'Grant'));
    replace(captureCard, h('h3', {}, 'Debug captures'),
      h('p', { class: 'muted' }, 'Message content is deleted once WhatsApp accepts it. To help us debug, you may let apiws keep one number\'s content until a set time; it is purged then.'),
      grant,
      h('table', { class: 'table', id: 'captures' },
        h('thead', {}, h('tr', {}, ['Number', 'Reason', 'Granted', 'Until', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, v.debugCaptures.length ? v.debugCaptures.map((d) => h('tr', {},
          h('td', {}, d.number.label || d.number.phone),
          h('td', {}, d.reason),
          h('td', {}, when(d.createdAt)),
          h('td', {}, d.revokedAt ? h('span', { class: 'muted' }, `revoked ${when(d.revokedAt)}`) : when(d.until)),
          h('td', { class: 'actions' }, d.revokedAt || new Date(d.until) < new Date() ? null
            : h('button', { class: 'danger small', type: 'button', onclick: () => run(REVOKE, { id: d.id }, 'revokeDebugCapture', 'Debug capture revoked.') }, 'Revoke'))))
          : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No grants.')))));
  }

  function load() {
    gql(ACCOUNT).then((d) => drawAccount(d.viewer)).catch((e) => replace(accountCard, h('p', { class: 'error' }, e.message)));
  }

  load();
  return {
    el: h('section', {},
      h('div', { class: 'page-head' }, h('h1', {}, 'Settings')),
      accountCard, securityCard, consentsCard, captureCard),
  };
}
