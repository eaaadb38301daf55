// console.js starts the operator console: the sign-in form (an operator
// key, kept in memory only), then the screens, routed by the URL's
// fragment. Everything goes through the public GraphQL API.
import { signIn, signOut, signedIn, keyHint, whenSignedOut } from './api.js';
import { h, replace, field, errorSlot } from '/dashboard/assets/dom.js';
import { renderRequests } from './views/requests.js';
import { renderSupport } from './views/support.js';
import { renderAccounts } from './views/accounts.js';
import { renderPlans } from './views/plans.js';
import { renderPolicy } from './views/policy.js';

const SCREENS = {
  requests: renderRequests,
  support: renderSupport,
  accounts: renderAccounts,
  plans: renderPlans,
  policy: renderPolicy,
};

const main = document.getElementById('main');
let current = null;

// app is what every screen gets: a way to tell the operator something and
// to move to another screen.
const app = {
  toast(message, kind) {
    const t = document.getElementById('toast');
    t.textContent = message;
    t.className = `toast ${kind || 'ok'}`;
    t.hidden = false;
    clearTimeout(app.toastTimer);
    app.toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
  },
  go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
};

function renderSignIn(message) {
  const input = h('input', { name: 'key', type: 'password', required: true, autocomplete: 'off', spellcheck: 'false', class: 'mono', placeholder: 'apiwsop_…' });
  const slot = errorSlot('key', input);
  if (message) slot.textContent = message;
  const form = h('form', {
    class: 'card stack', id: 'signin',
    onsubmit: async (e) => {
      e.preventDefault();
      const button = form.querySelector('button');
      button.disabled = true;
      slot.textContent = '';
      try {
        await signIn(input.value);
        input.value = '';
        route();
      } catch (err) {
        input.value = '';
        slot.textContent = err.message;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
      } finally {
        button.disabled = false;
      }
    },
  },
  h('h1', {}, 'Operator console'),
  h('p', { class: 'muted' }, 'Sign in with an operator key made by `apiws operator-key create`. The key stays in this tab\'s memory only: reloading or closing the tab signs out.'),
  field('Operator key', input), slot,
  h('div', {}, h('button', { type: 'submit' }, 'Sign in')));
  return h('section', { class: 'signin' }, form);
}

function route() {
  if (current && current.dispose) current.dispose();
  current = null;
  const on = signedIn();
  document.getElementById('nav').hidden = !on;
  document.getElementById('who').hidden = !on;
  document.getElementById('key-name').textContent = keyHint();
  if (!on) {
    replace(main, renderSignIn());
    main.querySelector('input').focus();
    return;
  }
  const name = location.hash.replace(/^#\/?/, '') || 'requests';
  const render = SCREENS[name] || SCREENS.requests;
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.getAttribute('href') === `#/${name}`);
  }
  current = render(app);
  replace(main, current.el);
}

document.getElementById('signout').addEventListener('click', () => {
  signOut();
  route();
});

whenSignedOut(() => {
  if (current && current.dispose) current.dispose();
  current = null;
  route();
  app.toast('The operator key stopped working (revoked or expired). Sign in again.', 'error');
});

window.addEventListener('hashchange', route);
route();
