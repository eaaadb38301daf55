// webhooks.js: the account's webhook endpoints. Create one (its whsec_
// signing secret is shown once, with a copy button), edit it, enable or
// disable it, rotate its secret, ping it, replay its deliveries after a
// cursor, delete it; and the deliveries of the endpoint opened, by status,
// page by page. The page refreshes itself soon after each event (events
// queue deliveries) and, while deliveries are pending, on a short poll.
import { gql, userErrorText } from '../api.js';
import { h, field, replace, when, day, pill, errorSlot, showUserErrors, copyText } from '../dom.js';
import { EVENT_TYPES, typeLabel } from './events.js';

const ENDPOINT_FIELDS = 'id url description types numberIds enabled disabledReason createdAt';
const USER_ERRORS = 'userErrors { field code message }';

const ENDPOINTS = `query WebhookEndpoints {
  viewer {
    webhookEndpoints { ${ENDPOINT_FIELDS} }
    numbers(first: 100) { edges { node { id label phone } } }
  }
}`;

const DELIVERIES = `query WebhookDeliveries($id: ID!, $first: Int, $after: String, $status: [WebhookDeliveryStatus!]) {
  node(id: $id) {
    ... on WebhookEndpoint {
      id
      deliveries(first: $first, after: $after, status: $status) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node { id status eventType eventCursor attempts lastAttemptAt nextAttemptAt responseStatus error createdAt } }
      }
    }
  }
}`;

const CREATE = `mutation CreateWebhookEndpoint($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret webhookEndpoint { ${ENDPOINT_FIELDS} } ${USER_ERRORS} }
}`;
const UPDATE = `mutation UpdateWebhookEndpoint($input: UpdateWebhookEndpointInput!) {
  updateWebhookEndpoint(input: $input) { webhookEndpoint { ${ENDPOINT_FIELDS} } ${USER_ERRORS} }
}`;
const DELETE = `mutation DeleteWebhookEndpoint($id: ID!) {
  deleteWebhookEndpoint(id: $id) { webhookEndpoint { id } ${USER_ERRORS} }
}`;
const ROTATE = `mutation RotateWebhookSecret($id: ID!) {
  rotateWebhookSecret(id: $id) { secret webhookEndpoint { ${ENDPOINT_FIELDS} } ${USER_ERRORS} }
}`;
const PING = `mutation PingWebhookEndpoint($id: ID!) {
  pingWebhookEndpoint(id: $id) { webhookEndpoint { id } ${USER_ERRORS} }
}`;
const REPLAY = `mutation ReplayWebhookDeliveries($id: ID!, $after: Cursor!) {
  replayWebhookDeliveries(endpointId: $id, after: $after) { webhookEndpoint { id } ${USER_ERRORS} }
}`;

// Events queue deliveries: the page looks again soon after one.
const EVENTS = 'subscription WebhookEvents { events { cursor } }';

// How often the page looks again: often while deliveries are pending (or
// were just queued), seldom otherwise (apiws may disable an endpoint).
const FAST_POLL = 2000;
const SLOW_POLL = 15000;
// How long after an event or an action the page keeps looking often.
const HURRY = 10000;
const PAGE = 20;
const MAX_PAGE = 100;
const STATUSES = ['PENDING', 'SUCCEEDED', 'FAILED'];

// checked lists the values of the checked boxes named name in form.
function checked(form, name) {
  return [...form.querySelectorAll(`input[type=checkbox][name="${name}"]:checked`)].map((c) => c.value);
}

// keepFocus redraws box with draw, giving the focus back to the button
// that had it (the same row's button at the same place), if box had it.
function keepFocus(box, draw) {
  const a = document.activeElement;
  const within = a && a !== box && box.contains(a) ? a.closest('tr') || box : null;
  const at = within ? [within.dataset.endpointId, [...within.querySelectorAll('button')].indexOf(a)] : null;
  draw();
  if (!at || at[1] < 0) return;
  const again = at[0] ? box.querySelector(`tr[data-endpoint-id="${at[0]}"]`) : box;
  const b = again && again.querySelectorAll('button')[at[1]];
  if (b) b.focus();
}

function tag(text) {
  return h('span', { class: 'tag' }, text);
}

function deliveryRow(d) {
  const last = d.lastAttemptAt
    ? [when(d.lastAttemptAt), d.responseStatus ? h('div', { class: 'mono small' }, `HTTP ${d.responseStatus}`) : null]
    : h('span', { class: 'muted' }, 'not yet');
  return h('tr', { dataset: { deliveryId: d.id, status: d.status, eventType: d.eventType }, class: d.status === 'FAILED' ? 'failed-row' : null },
    h('td', { class: 'nowrap' }, when(d.createdAt)),
    h('td', {}, tag(typeLabel(d.eventType)), d.eventCursor ? h('div', { class: 'mono muted small' }, `cursor ${d.eventCursor}`) : null),
    h('td', { class: 'status' }, pill(d.status)),
    h('td', { class: 'num' }, d.attempts),
    h('td', { class: 'nowrap' }, last),
    h('td', { class: 'nowrap' }, d.nextAttemptAt ? when(d.nextAttemptAt) : '—'),
    h('td', {}, d.error ? h('span', { class: 'error small' }, d.error) : null, h('div', { class: 'mono muted small' }, d.id)));
}

// deliveriesPanel lists one endpoint's deliveries, newest first, by
// status, a page at a time. show(id) switches to an endpoint (null: none);
// load(next) reads the next page, or the pages shown again; pending()
// tells whether a delivery shown is still pending. gone is called when
// the endpoint no longer exists.
function deliveriesPanel(app, gone) {
  let id = null;
  let status = '';
  let items = [];
  let endCursor = null;
  let hasNext = false;
  let total = 0;
  // What was drawn last: a poll that finds the same redraws nothing, so
  // it takes away no focus and no selection.
  let drawn = null;

  const rows = h('tbody');
  const count = h('span', { class: 'muted', id: 'delivery-count' });
  const more = h('button', { type: 'button', class: 'ghost small', id: 'more-deliveries', hidden: true, onclick: () => load(true) }, 'Load more');
  const statusSelect = h('select', {
    name: 'status', id: 'delivery-status',
    onchange: () => {
      status = statusSelect.value;
      reset();
      replace(rows, h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'Loading…')));
      load(false);
    },
  }, h('option', { value: '' }, 'Every status'), STATUSES.map((s) => h('option', { value: s }, s.toLowerCase())));

  function reset() {
    items = [];
    endCursor = null;
    hasNext = false;
    total = 0;
    drawn = null;
  }

  function draw() {
    const seen = JSON.stringify(items) + hasNext + total;
    if (seen === drawn) return;
    drawn = seen;
    const which = status ? ` ${status.toLowerCase()}` : '';
    replace(rows, items.length ? items.map(deliveryRow)
      : h('tr', {}, h('td', { colspan: 7, class: 'muted' }, status ? `No${which} deliveries.` : 'No deliveries yet: ping the endpoint, or wait for an event it selects.')));
    count.textContent = `${total} ${total === 1 ? 'delivery' : 'deliveries'}${which}; ${items.length} shown.`;
    more.hidden = !hasNext;
  }

  async function load(next) {
    if (!id) return;
    const asked = { id, status };
    const vars = { id, status: status ? [status] : null };
    if (next) Object.assign(vars, { first: PAGE, after: endCursor });
    else vars.first = Math.min(MAX_PAGE, Math.max(PAGE, items.length));
    try {
      const node = (await gql(DELIVERIES, vars)).node;
      // The panel moved on while this was asked.
      if (asked.id !== id || asked.status !== status) return;
      if (!node) {
        gone();
        return;
      }
      const c = node.deliveries;
      const got = c.edges.map((e) => e.node);
      if (next) {
        const have = new Set(items.map((d) => d.id));
        items.push(...got.filter((d) => !have.has(d.id)));
      } else {
        items = got;
      }
      endCursor = c.pageInfo.endCursor;
      hasNext = c.pageInfo.hasNextPage;
      total = c.totalCount;
      draw();
    } catch (err) {
      app.toast(err.message, 'error');
    }
  }

  return {
    el: h('div', {},
      h('div', { class: 'card-head deliveries-head' }, h('h3', {}, 'Deliveries'), field('Status', statusSelect), count),
      h('table', { class: 'table', id: 'deliveries' },
        h('thead', {}, h('tr', {}, ['Created', 'Event', 'Status', 'Attempts', 'Last attempt', 'Next attempt', 'Error'].map((t) => h('th', {}, t)))),
        rows),
      more),
    show(endpointId) {
      if (endpointId === id) {
        load(false);
        return;
      }
      id = endpointId;
      reset();
      draw();
      load(false);
    },
    load,
    pending: () => items.some((d) => d.status === 'PENDING'),
  };
}

export function renderWebhooks(app) {
  let endpoints = [];
  const numbers = new Map();
  let openId = null;
  let pollTimer = null;
  let pollAt = Infinity;
  let hurryUntil = 0;
  let disposed = false;
  let loaded = false;

  const rows = h('tbody');
  const deliveries = deliveriesPanel(app, () => close());
  const secretBox = h('div', { id: 'webhook-secret', hidden: true });
  const detail = h('section', { class: 'card', id: 'webhook-detail', hidden: true, 'aria-label': 'Endpoint' });
  const detailHead = h('div', { class: 'card-head' });
  const editBox = h('div');
  const replayBox = h('div');
  function numberName(id) {
    const n = numbers.get(id);
    return n ? n.label || n.phone || id : id;
  }

  function endpointName(e) {
    return e.description || e.url;
  }

  // typeChoices and numberChoices are the multi-selects of a form: a
  // group of checkboxes, none checked meaning every one.
  function typeChoices(selected) {
    const boxes = EVENT_TYPES.map(([t, label]) => h('input', { type: 'checkbox', name: 'types', value: t, checked: selected.includes(t) }));
    return h('fieldset', { class: 'choices' }, h('legend', {}, 'Event types (none checked: every type)'),
      boxes.map((b, i) => h('label', { class: 'check' }, b, EVENT_TYPES[i][1])), errorSlot('types', ...boxes));
  }

  function numberChoices(selected) {
    // A number removed since keeps its place in the list, by id.
    const ids = [...new Set([...numbers.keys(), ...selected])];
    if (!ids.length) return h('p', { class: 'muted' }, 'No numbers yet: the endpoint gets the events of every number.');
    const boxes = ids.map((id) => h('input', { type: 'checkbox', name: 'numberIds', value: id, checked: selected.includes(id) }));
    return h('fieldset', { class: 'choices' }, h('legend', {}, 'Numbers (none checked: every number)'),
      boxes.map((b, i) => h('label', { class: 'check' }, b, numberName(ids[i]))), errorSlot('numberIds', ...boxes));
  }

  // endpointFields are the inputs create and edit share.
  function endpointFields(e) {
    const url = h('input', { name: 'url', type: 'url', required: true, maxlength: 2048, value: e ? e.url : null });
    const description = h('input', { name: 'description', maxlength: 500, placeholder: 'Order updates', value: e ? e.description || '' : null });
    return [
      h('div', { class: 'fields' },
        h('div', { class: 'field-wrap wide' }, field('URL', url, 'https; any 2xx answer within 10 s is a success.'), errorSlot('url', url)),
        h('div', { class: 'field-wrap' }, field('Description (optional)', description), errorSlot('description', description))),
      typeChoices(e ? e.types : []),
      numberChoices(e ? e.numberIds : []),
    ];
  }

  function inputOf(form) {
    return {
      url: form.elements.url.value.trim(),
      description: form.elements.description.value.trim(),
      types: checked(form, 'types'),
      numberIds: checked(form, 'numberIds'),
    };
  }

  // submitting runs a form's mutation with its submit button disabled,
  // showing the payload's userErrors in the form; ok gets the payload when
  // there were none.
  async function submitting(form, mutation, variables, ok) {
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const p = Object.values(await gql(mutation, variables))[0];
      if (!showUserErrors(form, p.userErrors)) await ok(p);
    } catch (err) {
      showUserErrors(form, [{ message: err.message }]);
    } finally {
      button.disabled = false;
    }
  }

  const createForm = h('form', {
    class: 'stack', id: 'create-webhook',
    onsubmit: (e) => {
      e.preventDefault();
      const v = inputOf(createForm);
      const input = { url: v.url, description: v.description || null, types: v.types, numberIds: v.numberIds };
      submitting(createForm, CREATE, { input }, (p) => {
        showSecret(p.webhookEndpoint, p.secret, false);
        createForm.reset();
        return load();
      });
    },
  });

  function buildCreateForm() {
    replace(createForm, h('h3', {}, 'Add an endpoint'), endpointFields(null),
      h('p', { class: 'form-error', role: 'alert' }),
      h('div', {}, h('button', { type: 'submit' }, 'Add endpoint')));
  }

  function showSecret(e, secret, rotated) {
    const input = h('input', { class: 'mono secret', readonly: true, value: secret, 'aria-label': 'Webhook signing secret' });
    const copied = h('span', { class: 'ok', role: 'status' });
    replace(secretBox,
      h('div', { class: 'callout', role: 'region', 'aria-label': 'New signing secret' },
        h('strong', {}, rotated ? `New signing secret for ${e.url}` : `Signing secret for ${e.url}`),
        h('p', {}, h('strong', {}, 'Copy it now: you won\'t see it again.'), ' apiws keeps it encrypted and never shows it twice; if you lose it, rotate it.'),
        h('div', { class: 'copy-row' }, input,
          h('button', { type: 'button', id: 'copy-webhook-secret', onclick: async () => { copied.textContent = (await copyText(secret, input)) ? 'Copied.' : 'Press Ctrl+C to copy.'; } }, 'Copy'),
          copied),
        rotated ? h('p', { class: 'muted' }, 'The previous secret keeps signing beside this one for 24 hours: switch your receiver over within that time.') : null,
        h('p', { class: 'muted' }, 'Verify each delivery with it (Standard Webhooks: the webhook-id, webhook-timestamp and webhook-signature headers).'),
        h('button', { class: 'ghost small', type: 'button', onclick: () => { secretBox.hidden = true; replace(secretBox); } }, 'I have saved it')));
    secretBox.hidden = false;
    input.focus();
    input.select();
  }

  function row(e) {
    const open = e.id === openId;
    return h('tr', { dataset: { endpointId: e.id, enabled: String(e.enabled) }, class: open ? 'selected' : null },
      h('td', {}, h('div', { class: 'mono url' }, e.url), e.description ? h('div', { class: 'muted' }, e.description) : null),
      h('td', {}, e.types.length ? e.types.map((t) => tag(typeLabel(t))) : h('span', { class: 'muted' }, 'Every type')),
      h('td', {}, e.numberIds.length ? e.numberIds.map((id) => tag(numberName(id))) : h('span', { class: 'muted' }, 'Every number')),
      h('td', { class: 'status' }, pill(e.enabled ? 'ENABLED' : 'DISABLED'),
        e.disabledReason ? h('div', { class: 'error small' }, e.disabledReason) : null),
      h('td', { class: 'nowrap' }, day(e.createdAt)),
      h('td', { class: 'actions' },
        h('button', { type: 'button', class: 'ghost small', disabled: !e.enabled, title: e.enabled ? null : 'Enable it first', onclick: (ev) => ping(e, ev.target) }, 'Ping'),
        enableButton(e),
        h('button', {
          type: 'button', class: open ? 'small' : 'ghost small', 'aria-expanded': String(open), 'aria-controls': 'webhook-detail',
          onclick: () => (open ? close() : openEndpoint(e.id, true)),
        }, open ? 'Close' : 'Manage')));
  }

  function enableButton(e) {
    return h('button', {
      type: 'button', class: e.enabled ? 'danger small' : 'ghost small',
      onclick: (ev) => setEnabled(e, !e.enabled, ev.target),
    }, e.enabled ? 'Disable' : 'Enable');
  }

  function draw() {
    keepFocus(rows, () => replace(rows, endpoints.length ? endpoints.map(row)
      : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No endpoints yet: add one above.'))));
    const e = endpoints.find((x) => x.id === openId);
    if (openId && !e) {
      close();
      return;
    }
    if (e) keepFocus(detailHead, () => drawDetailHead(e));
  }

  function drawDetailHead(e) {
    replace(detailHead,
      h('div', {}, h('h2', { tabindex: -1 }, endpointName(e)), h('div', { class: 'mono muted url' }, e.url)),
      h('div', { class: 'actions' },
        pill(e.enabled ? 'ENABLED' : 'DISABLED'),
        h('button', { type: 'button', class: 'ghost small', disabled: !e.enabled, onclick: (ev) => ping(e, ev.target) }, 'Ping'),
        enableButton(e),
        h('button', { type: 'button', class: 'ghost small', id: 'rotate-webhook', onclick: (ev) => rotate(e, ev.target) }, 'Rotate secret'),
        h('button', { type: 'button', class: 'danger small', id: 'delete-webhook', onclick: (ev) => remove(e, ev.target) }, 'Delete')));
  }

  function buildEditForm(e) {
    const form = h('form', {
      class: 'stack', id: 'edit-webhook',
      onsubmit: (ev) => {
        ev.preventDefault();
        submitting(form, UPDATE, { input: { id: e.id, ...inputOf(form) } }, (p) => {
          app.toast('Endpoint saved.');
          upsert(p.webhookEndpoint);
          buildEditForm(p.webhookEndpoint);
        });
      },
    }, h('h3', {}, 'Edit'), endpointFields(e),
    h('p', { class: 'form-error', role: 'alert' }),
    h('div', {}, h('button', { type: 'submit' }, 'Save changes')));
    replace(editBox, form);
  }

  function buildReplayForm(e) {
    const after = h('input', { name: 'after', inputmode: 'numeric', pattern: '[0-9]+', required: true, placeholder: '1234', title: 'A cursor: digits only' });
    const form = h('form', {
      class: 'inline', id: 'replay-webhook',
      onsubmit: (ev) => {
        ev.preventDefault();
        const cursor = after.value.trim();
        submitting(form, REPLAY, { id: e.id, after: cursor }, () => {
          app.toast(`Replay queued: the logged events after cursor ${cursor} that this endpoint selects.`);
          form.reset();
          hurry(300);
        });
      },
    },
    h('div', { class: 'field-wrap' }, field('Replay the events after cursor', after,
      'Each is delivered again as a new delivery. 0: every event the log still holds.'), errorSlot('after', after)),
    h('button', { type: 'submit', class: 'ghost' }, 'Replay'),
    h('p', { class: 'form-error', role: 'alert' }));
    replace(replayBox, h('h3', {}, 'Replay'), form);
  }

  // openEndpoint shows an endpoint's panel: its edit and replay forms and
  // its deliveries; with focus, the panel takes the focus.
  function openEndpoint(id, focus) {
    const e = endpoints.find((x) => x.id === id);
    if (!e) return;
    if (openId !== id) {
      buildEditForm(e);
      buildReplayForm(e);
    }
    openId = id;
    deliveries.show(id);
    detail.hidden = false;
    draw();
    if (focus) {
      const title = detailHead.querySelector('h2');
      title.focus();
      title.scrollIntoView({ block: 'nearest' });
    }
  }

  function close() {
    openId = null;
    deliveries.show(null);
    detail.hidden = true;
    draw();
  }

  function upsert(e) {
    const i = endpoints.findIndex((x) => x.id === e.id);
    if (i >= 0) endpoints[i] = e;
    else endpoints.push(e);
    draw();
  }

  // act runs one of an endpoint's mutations from a button, telling the
  // outcome (or its userErrors) in a toast.
  async function act(button, mutation, variables, ok) {
    button.disabled = true;
    try {
      const p = Object.values(await gql(mutation, variables))[0];
      const problem = userErrorText(p);
      if (problem) app.toast(problem, 'error');
      else await ok(p);
    } catch (err) {
      app.toast(err.message, 'error');
    } finally {
      button.disabled = false;
    }
  }

  function ping(e, button) {
    return act(button, PING, { id: e.id }, () => {
      app.toast(`Ping queued for ${e.url}.`);
      openEndpoint(e.id);
      hurry(300);
    });
  }

  function setEnabled(e, enabled, button) {
    return act(button, UPDATE, { input: { id: e.id, enabled } }, (p) => {
      app.toast(enabled ? `${e.url} enabled.` : `${e.url} disabled: it gets no deliveries until enabled.`);
      upsert(p.webhookEndpoint);
      if (openId === e.id) deliveries.load(false);
    });
  }

  function rotate(e, button) {
    if (!confirm(`Rotate the signing secret of ${e.url}? The current secret keeps signing beside the new one for 24 hours.`)) return null;
    return act(button, ROTATE, { id: e.id }, (p) => {
      showSecret(p.webhookEndpoint, p.secret, true);
      upsert(p.webhookEndpoint);
    });
  }

  function remove(e, button) {
    if (!confirm(`Delete the endpoint ${e.url}? Its pending deliveries are dropped; this cannot be undone.`)) return null;
    return act(button, DELETE, { id: e.id }, () => {
      app.toast(`Endpoint ${e.url} deleted.`);
      endpoints = endpoints.filter((x) => x.id !== e.id);
      if (openId === e.id) close();
      else draw();
    });
  }

  async function load() {
    try {
      const v = (await gql(ENDPOINTS)).viewer;
      if (disposed) return;
      for (const e of v.numbers.edges) numbers.set(e.node.id, e.node);
      if (!loaded) {
        // Now with the numbers to choose from.
        loaded = true;
        buildCreateForm();
      }
      // Redrawn only when something changed: a poll must not take the
      // focus away.
      if (JSON.stringify(v.webhookEndpoints) === JSON.stringify(endpoints) && rows.childElementCount) return;
      endpoints = v.webhookEndpoints;
      draw();
    } catch (err) {
      app.toast(err.message, 'error');
    }
  }

  // refresh reads the endpoints and the open deliveries again, then sets
  // when to look next.
  async function refresh() {
    pollTimer = null;
    pollAt = Infinity;
    if (disposed) return;
    if (document.visibilityState === 'visible') await Promise.all([load(), deliveries.load(false)]);
    const busy = Date.now() < hurryUntil || deliveries.pending();
    poll(busy ? FAST_POLL : SLOW_POLL);
  }

  // poll looks again in ms, unless it is to look sooner already.
  function poll(ms) {
    if (disposed || Date.now() + ms >= pollAt) return;
    clearTimeout(pollTimer);
    pollAt = Date.now() + ms;
    pollTimer = setTimeout(refresh, ms);
  }

  // hurry looks again in ms, and often for a while: deliveries were just
  // queued.
  function hurry(ms) {
    hurryUntil = Date.now() + HURRY;
    poll(ms);
  }

  const stopEvents = app.rt.subscribe(EVENTS, () => ({}), () => hurry(1000), () => {});

  replace(detail, detailHead, h('div', { class: 'grid two' }, editBox, replayBox), deliveries.el);

  buildCreateForm();
  load().then(() => poll(SLOW_POLL));

  return {
    el: h('section', {},
      h('div', { class: 'page-head' }, h('h1', {}, 'Webhooks'),
        h('p', { class: 'muted' }, 'apiws posts the account\'s events to these endpoints, signed with each endpoint\'s secret (Standard Webhooks), retrying failures for about a day.')),
      h('div', { class: 'card' }, createForm),
      secretBox,
      h('div', { class: 'card' },
        h('table', { class: 'table', id: 'webhooks' },
          h('thead', {}, h('tr', {}, ['Endpoint', 'Types', 'Numbers', 'State', 'Created', ''].map((t) => h('th', {}, t)))),
          rows)),
      detail),
    dispose() {
      disposed = true;
      deliveries.show(null);
      clearTimeout(pollTimer);
      stopEvents();
    },
  };
}
