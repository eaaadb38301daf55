// numbers.js: the account's WhatsApp numbers with their status live from
// numberStatus; connecting one (sandbox or real) with the QR code live from
// pairing, or a pairing code typed on the phone; disconnect, reconnect,
// remove; looking phones up through a connected number.
import { gql, userErrorText } from '../api.js';
import { h, field, formValues, replace, when, pill } from '../dom.js';

const NUMBER_FIELDS = 'id label sandbox phone pushName status connectedAt lastSeenAt createdAt';

const NUMBERS = `query Numbers { viewer { numbers(first: 100) { edges { node { ${NUMBER_FIELDS} } } } } }`;

const CONNECT = `mutation ConnectNumber($input: ConnectNumberInput!) {
  connectNumber(input: $input) { number { ${NUMBER_FIELDS} } userErrors { field code message } }
}`;

const PAIRING = `subscription Pairing($numberId: ID!) {
  pairing(numberId: $numberId) {
    __typename
    ... on PairingQRCode { code image expiresAt }
    ... on PairingSuccess { number { ${NUMBER_FIELDS} } }
    ... on PairingFailure { reason message }
  }
}`;

const PAIRING_CODE = `mutation RequestPairingCode($numberId: ID!, $phone: PhoneNumber!) {
  requestPairingCode(numberId: $numberId, phone: $phone) { code userErrors { field code message } }
}`;

const LOOKUP = `query Lookup($id: ID!, $phones: [PhoneNumber!]!) {
  node(id: $id) { ... on WhatsAppNumber { lookup(phones: $phones) { phone onWhatsApp lid } } }
}`;

// MAX_LOOKUP is the most phones one lookup may ask about (the schema's).
const MAX_LOOKUP = 50;

const STATUS = `subscription NumberStatus { numberStatus { status at reason number { ${NUMBER_FIELDS} } } }`;

const ACTIONS = {
  disconnect: `mutation DisconnectNumber($id: ID!) { disconnectNumber(id: $id) { number { ${NUMBER_FIELDS} } userErrors { field code message } } }`,
  reconnect: `mutation ReconnectNumber($id: ID!) { reconnectNumber(id: $id) { number { ${NUMBER_FIELDS} } userErrors { field code message } } }`,
  remove: `mutation RemoveNumber($id: ID!) { removeNumber(id: $id) { removedNumberId userErrors { field code message } } }`,
};

export function renderNumbers(app) {
  const numbers = new Map();
  // heard counts the numberStatus events seen per number. A mutation's
  // answer is shown only if none came while it ran: the events arrive in
  // order and end on the latest state, while the answer may be older than
  // an event that overtook it.
  const heard = new Map();
  const heardOf = (id) => heard.get(id) || 0;
  // removed numbers stay gone: their last status events may come after.
  const removed = new Set();
  const rows = h('tbody');
  const pairingBox = h('div', { class: 'pairing', id: 'pairing', hidden: true });
  const lookupBox = h('div', { class: 'card lookup', id: 'lookup', hidden: true });
  let stopPairing = null;

  function draw() {
    const list = [...numbers.values()].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
    replace(rows, list.length ? list.map(row) : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No numbers yet: connect one above.')));
  }

  function row(n) {
    const busy = (name, label, cls) => h('button', {
      class: cls || 'ghost small', type: 'button',
      onclick: (e) => act(name, n, e.target),
    }, label);
    const actions = [];
    if (n.status === 'PAIRING') actions.push(h('button', { class: 'ghost small', type: 'button', onclick: () => pair(n) }, 'Show QR code'));
    if (n.status === 'CONNECTED') actions.push(h('button', { class: 'ghost small', type: 'button', onclick: () => lookup(n) }, 'Look up phones'));
    if (n.status === 'CONNECTED' || n.status === 'CONNECTING') actions.push(busy('disconnect', 'Disconnect'));
    if (n.status === 'DISCONNECTED' || n.status === 'LOGGED_OUT') actions.push(busy('reconnect', 'Reconnect'));
    actions.push(busy('remove', 'Remove', 'danger small'));
    return h('tr', { dataset: { numberId: n.id } },
      h('td', {}, h('strong', {}, n.label || 'Unnamed'), n.sandbox ? h('span', { class: 'tag' }, 'sandbox') : null),
      h('td', { class: 'mono' }, n.phone || '—', n.pushName ? h('div', { class: 'muted' }, n.pushName) : null),
      h('td', { class: 'status' }, pill(n.status)),
      h('td', {}, when(n.connectedAt)),
      h('td', {}, when(n.lastSeenAt)),
      h('td', { class: 'actions' }, actions));
  }

  async function act(name, n, button) {
    if (name === 'remove' && !confirm(`Remove ${n.label || n.phone || 'this number'}? It is logged out of WhatsApp and its session keys are deleted.`)) return;
    button.disabled = true;
    const before = heardOf(n.id);
    try {
      const data = await gql(ACTIONS[name], { id: n.id });
      const payload = Object.values(data)[0];
      const problem = userErrorText(payload);
      if (problem) {
        app.toast(problem, 'error');
      } else if (name === 'remove') {
        numbers.delete(n.id);
        removed.add(n.id);
        app.toast('Number removed.');
      } else {
        if (heardOf(n.id) === before) numbers.set(n.id, payload.number);
        if (payload.number.status === 'PAIRING') pair(payload.number);
      }
      draw();
    } catch (e) {
      app.toast(e.message, 'error');
      button.disabled = false;
    }
  }

  // pair shows the live QR code of a number being paired, with the
  // pairing-code alternative, until the outcome arrives.
  function pair(n) {
    if (stopPairing) stopPairing();
    const qr = h('div', { class: 'qr' }, h('p', { class: 'muted' }, 'Waiting for the QR code…'));
    const outcome = h('p', { class: 'outcome' });
    const codeOut = h('div', { class: 'pairing-code' });
    const codeForm = h('form', {
      class: 'inline',
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const p = (await gql(PAIRING_CODE, { numberId: n.id, phone: formValues(codeForm).phone })).requestPairingCode;
          const problem = userErrorText(p);
          replace(codeOut, problem ? h('span', { class: 'error' }, problem)
            : [h('span', { class: 'muted' }, 'On the phone: Linked devices › Link with phone number, then type '), h('code', { class: 'big' }, p.code)]);
        } catch (err) {
          replace(codeOut, h('span', { class: 'error' }, err.message));
        }
      },
    }, field('Or link with a pairing code: the phone number', h('input', { name: 'phone', type: 'tel', placeholder: '+14155550123', required: true })),
    h('button', { type: 'submit', class: 'ghost' }, 'Get a pairing code'));
    replace(pairingBox,
      h('div', { class: 'pairing-head' },
        h('h3', {}, `Pairing ${n.label || 'number'}`, n.sandbox ? h('span', { class: 'tag' }, 'sandbox') : null),
        h('button', { class: 'ghost small', type: 'button', onclick: () => { stop(); pairingBox.hidden = true; } }, 'Close')),
      h('div', { class: 'pairing-body' },
        qr,
        h('div', {},
          h('ol', { class: 'steps' },
            h('li', {}, 'Open WhatsApp on the phone.'),
            h('li', {}, 'Settings › Linked devices › Link a device.'),
            h('li', {}, 'Point the phone at this code. It refreshes by itself.')),
          n.sandbox ? h('p', { class: 'muted' }, 'A sandbox number pairs by itself within a few seconds.') : codeForm,
          codeOut, outcome)));
    pairingBox.hidden = false;
    const stop = app.rt.subscribe(PAIRING, () => ({ numberId: n.id }), (data) => {
      const ev = data.pairing;
      if (ev.__typename === 'PairingQRCode') {
        replace(qr, h('img', { src: ev.image, alt: 'WhatsApp pairing QR code', width: 264, height: 264 }),
          h('small', { class: 'muted' }, `Refreshes at ${new Date(ev.expiresAt).toLocaleTimeString()}`));
      } else if (ev.__typename === 'PairingSuccess') {
        numbers.set(ev.number.id, ev.number);
        draw();
        replace(qr, h('div', { class: 'done' }, '✓'));
        replace(outcome, h('strong', { class: 'ok' }, `Connected as ${ev.number.phone || ev.number.label}.`));
      } else {
        replace(qr, h('div', { class: 'failed' }, '✕'));
        replace(outcome, h('span', { class: 'error' }, `Pairing failed (${ev.reason}): ${ev.message}`));
      }
    }, (err) => replace(outcome, h('span', { class: 'error' }, err.message)));
    stopPairing = stop;
  }

  // lookup shows a box that asks WhatsApp, through n, whether phones are
  // on it: one phone a line (or separated by commas), at most MAX_LOOKUP.
  function lookup(n) {
    const out = h('div', { class: 'lookup-results' });
    const form = h('form', {
      onsubmit: async (e) => {
        e.preventDefault();
        const phones = formValues(form).phones.split(/[\n,;]+/).map((p) => p.trim()).filter(Boolean);
        if (phones.length > MAX_LOOKUP) {
          replace(out, h('span', { class: 'error' }, `At most ${MAX_LOOKUP} phones at a time (${phones.length} given).`));
          return;
        }
        const button = form.querySelector('button');
        button.disabled = true;
        replace(out, h('p', { class: 'muted' }, 'Asking WhatsApp…'));
        try {
          const data = await gql(LOOKUP, { id: n.id, phones });
          if (!data.node) throw new Error('This number no longer exists.');
          const rows = data.node.lookup.map((r) => h('tr', { dataset: { phone: r.phone } },
            h('td', { class: 'mono' }, r.phone),
            h('td', { class: 'on' }, r.onWhatsApp ? h('strong', { class: 'ok' }, 'On WhatsApp') : h('span', { class: 'muted' }, 'Not on WhatsApp')),
            h('td', { class: 'mono lid' }, r.lid || '—')));
          replace(out, rows.length
            ? h('table', { class: 'table' }, h('thead', {}, h('tr', {}, ['Phone', 'WhatsApp', 'LID'].map((t) => h('th', {}, t)))), h('tbody', {}, rows))
            : h('p', { class: 'muted' }, 'No phones given.'));
        } catch (err) {
          replace(out, h('span', { class: 'error' }, err.message));
        } finally {
          button.disabled = false;
        }
      },
    },
    field('Phones, one a line',
      h('textarea', { name: 'phones', rows: 4, placeholder: '+14155550123\n+442071838750', required: true }),
      `At most ${MAX_LOOKUP} at a time. WhatsApp's answers are kept up to 24 hours.`),
    h('button', { type: 'submit' }, 'Look up'));
    replace(lookupBox,
      h('div', { class: 'pairing-head' },
        h('h3', {}, `Look up phones through ${n.label || n.phone || 'this number'}`, n.sandbox ? h('span', { class: 'tag' }, 'sandbox') : null),
        h('button', { class: 'ghost small', type: 'button', onclick: () => { lookupBox.hidden = true; } }, 'Close')),
      n.sandbox ? h('p', { class: 'muted' }, 'In the sandbox, phones ending 0000 are not on WhatsApp; every other one is.') : null,
      form, out);
    lookupBox.hidden = false;
    form.querySelector('textarea').focus();
  }

  const connectForm = h('form', {
    class: 'inline', id: 'connect',
    onsubmit: async (e) => {
      e.preventDefault();
      const v = formValues(connectForm);
      const button = connectForm.querySelector('button');
      button.disabled = true;
      try {
        const p = (await gql(CONNECT, { input: { label: v.label || null, sandbox: v.sandbox } })).connectNumber;
        const problem = userErrorText(p);
        if (problem) {
          app.toast(problem, 'error');
          return;
        }
        if (heardOf(p.number.id) === 0) numbers.set(p.number.id, p.number);
        draw();
        pair(p.number);
        connectForm.reset();
      } catch (err) {
        app.toast(err.message, 'error');
      } finally {
        button.disabled = false;
      }
    },
  },
  field('Label', h('input', { name: 'label', placeholder: 'Support line' })),
  h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'sandbox', checked: true }), 'Sandbox (simulated, no phone needed)'),
  h('button', { type: 'submit' }, 'Connect a number'));

  const stopStatus = app.rt.subscribe(STATUS, () => ({}), (data) => {
    const ev = data.numberStatus;
    if (removed.has(ev.number.id)) return;
    heard.set(ev.number.id, heardOf(ev.number.id) + 1);
    numbers.set(ev.number.id, { ...ev.number, status: ev.status });
    draw();
  });

  gql(NUMBERS).then((data) => {
    for (const e of data.viewer.numbers.edges) if (!numbers.has(e.node.id)) numbers.set(e.node.id, e.node);
    draw();
  }).catch((e) => app.toast(e.message, 'error'));

  return {
    el: h('section', {},
      h('div', { class: 'page-head' }, h('h1', {}, 'Numbers'),
        h('p', { class: 'muted' }, 'WhatsApp numbers linked to this account. Statuses update live.')),
      h('div', { class: 'card' }, connectForm),
      pairingBox,
      lookupBox,
      h('div', { class: 'card' },
        h('table', { class: 'table', id: 'numbers' },
          h('thead', {}, h('tr', {}, ['Number', 'Phone', 'Status', 'Connected', 'Last seen', ''].map((t) => h('th', {}, t)))),
          rows))),
    dispose() {
      stopStatus();
      if (stopPairing) stopPairing();
    },
  };
}
