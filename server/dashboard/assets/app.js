// app.js starts the dashboard: it finds out whether the browser has a
// session, shows the login and sign-up forms or the signed-in screens, routes
// between screens by the URL's fragment, and keeps the banners (policy
// notices, a pending deletion) up to date.
import { gql, endSession } from './api.js';
import { h, replace } from './dom.js';
import { Realtime } from './realtime.js';
import { renderAuth } from './views/auth.js';
import { renderNumbers } from './views/numbers.js';
import { renderGroups } from './views/groups.js';
import { renderMessages } from './views/messages.js';
import { renderEvents } from './views/events.js';
import { renderUsage } from './views/usage.js';
import { renderKeys } from './views/keys.js';
import { renderWebhooks } from './views/webhooks.js';
import { renderPrivacy } from './views/privacy.js';
import { renderSettings } from './views/settings.js';
import { renderSupport } from './views/support.js';
import { renderBilling } from './views/billing.js';
import { renderBanners } from './views/banners.js';

const SCREENS = {
  numbers: renderNumbers,
  groups: renderGroups,
  messages: renderMessages,
  events: renderEvents,
  usage: renderUsage,
  keys: renderKeys,
  webhooks: renderWebhooks,
  privacy: renderPrivacy,
  settings: renderSettings,
  support: renderSupport,
  billing: renderBilling,
};

// VIEWER is one request for the account and everything the banners need.
// A server without notices (an older apiws) refuses it at validation;
// VIEWER_BASIC is the fallback then.
const VIEWER_BASIC = `query Viewer {
  viewer { id name email status deletionScheduledAt processingRestricted analyticsObjected
    consents { policyVersion acceptedAt } }
  policyVersions { version effectiveAt summary material }
}`;
const VIEWER = VIEWER_BASIC.replace('consents { policyVersion acceptedAt } }',
  'consents { policyVersion acceptedAt } notices(unreadOnly: true) { id title body createdAt } }');
let viewerQuery = VIEWER;

const main = document.getElementById('main');
const live = document.getElementById('live');

// app is what every screen gets: the signed-in account, the realtime
// connection, and ways to refresh and to tell the user something.
const app = {
  viewer: null,
  rt: null,
  async refresh() {
    let data;
    try {
      data = await gql(viewerQuery);
    } catch (e) {
      if (e.code !== 'GRAPHQL_VALIDATION_FAILED' || viewerQuery === VIEWER_BASIC) throw e;
      viewerQuery = VIEWER_BASIC;
      data = await gql(viewerQuery);
    }
    app.viewer = data.viewer;
    document.getElementById('account-name').textContent = app.viewer ? app.viewer.name : '';
    if (app.viewer) renderBanners(app, document.getElementById('banners'), data.policyVersions);
    if (app.viewer && current && current.refreshed) current.refreshed(app.viewer);
    return app.viewer;
  },
  toast(message, kind) {
    const t = document.getElementById('toast');
    t.textContent = message;
    t.className = `toast ${kind || 'ok'}`;
    t.hidden = false;
    clearTimeout(app.toastTimer);
    app.toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
  },
  // signedIn is called after logIn or signUp has set the cookie.
  async signedIn() {
    await app.refresh();
    start();
  },
};

let current = null;

function showSignedIn(on) {
  document.getElementById('nav').hidden = !on;
  document.getElementById('who').hidden = !on;
  if (!on) replace(document.getElementById('banners'));
}

function route() {
  if (current && current.dispose) current.dispose();
  current = null;
  if (!app.viewer) {
    showSignedIn(false);
    replace(main, renderAuth(app).el);
    return;
  }
  const name = location.hash.replace(/^#\/?/, '') || 'numbers';
  const render = SCREENS[name] || SCREENS.numbers;
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.getAttribute('href') === `#/${name}`);
  }
  current = render(app);
  replace(main, current.el);
}

function start() {
  showSignedIn(true);
  if (!app.rt) {
    app.rt = new Realtime((state) => {
      live.textContent = state === 'idle' ? 'live' : state;
      live.className = `live st-${state}`;
    });
  }
  route();
}

document.getElementById('logout').addEventListener('click', async () => {
  try {
    await gql('mutation LogOut { logOut }');
  } finally {
    await endSession();
    if (app.rt) app.rt.close();
    app.rt = null;
    app.viewer = null;
    location.hash = '';
    route();
  }
});

// The banners come with the account, so moving between screens (and coming
// back to the tab) fetches it again: a policy published or a notice sent
// since the page loaded shows up without a reload.
function refreshBanners() {
  if (app.viewer) app.refresh().catch(() => {});
}

window.addEventListener('hashchange', () => {
  route();
  refreshBanners();
});
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') refreshBanners();
});

app.refresh().then(() => (app.viewer ? start() : route())).catch((e) => {
  replace(main, h('p', { class: 'error' }, `The dashboard could not load: ${e.message}`));
});
