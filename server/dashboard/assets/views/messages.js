// messages.js: the live message feed. Each message's status changes in
// place as messageStatus reports it; after a websocket reconnect the
// subscription resumes with `after` set to the last cursor seen, so no
// change is missed. Inbound messages arrive live from incomingMessages
// (their text exists only in transit). A form sends a test message.
import { gql, userErrorText } from '../api.js';
import { h, field, formValues, replace, when, pill } from '../dom.js';

const MESSAGE_FIELDS = `id direction peer kind status clientReference
  number { id label phone sandbox }
  error { code message retryable }
  queuedAt sentAt deliveredAt readAt playedAt failedAt receivedAt`;

const FEED = `query Feed {
  viewer {
    numbers(first: 100, status: [CONNECTED]) { edges { node { id label phone sandbox } } }
    messages(first: 50) { edges { node { ${MESSAGE_FIELDS} } } }
  }
}`;

const STATUS = `subscription MessageStatus($after: Cursor) {
  messageStatus(after: $after) { cursor messageId status at error { code message } message { ${MESSAGE_FIELDS} } }
}`;

const INCOMING = `subscription IncomingMessages {
  incomingMessages { text media { kind mimeType fileName caption sizeBytes } message { ${MESSAGE_FIELDS} } }
}`;

const SEND = `mutation SendMessage($input: SendMessageInput!) {
  sendMessage(input: $input) { message { ${MESSAGE_FIELDS} } userErrors { field code message } }
}`;

// The order a message moves through; a late report never moves it back.
const RANK = { QUEUED: 0, RECEIVED: 0, SENT: 1, DELIVERED: 2, READ: 3, PLAYED: 4, FAILED: 5 };
const STEPS = ['QUEUED', 'SENT', 'DELIVERED', 'READ'];

// lastCursor outlives the screen, so coming back to it resumes the stream
// where it was left.
let lastCursor = null;

function timeOf(m) {
  return m.queuedAt || m.receivedAt || m.sentAt || '';
}

export function renderMessages(app) {
  const messages = new Map();
  const rows = h('tbody');
  const inbox = h('ul', { class: 'inbox', id: 'inbox' }, h('li', { class: 'muted' }, 'Inbound messages appear here as they arrive. Try sending to a number ending in 0003 from a sandbox number: it answers.'));
  const cursorNote = h('span', { class: 'muted', id: 'cursor' });
  const numberSelect = h('select', { name: 'numberId', required: true });

  function draw() {
    const list = [...messages.values()].sort((a, b) => (timeOf(a) < timeOf(b) ? 1 : -1)).slice(0, 200);
    replace(rows, list.length ? list.map(row) : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No messages yet.')));
    cursorNote.textContent = lastCursor ? `Following status changes after cursor ${lastCursor}.` : 'Following status changes live.';
  }

  function row(m) {
    const out = m.direction === 'OUTBOUND';
    const rank = RANK[m.status];
    const steps = out && m.status !== 'FAILED'
      ? h('div', { class: 'steps-bar' }, STEPS.map((s) => h('span', { class: RANK[s] <= rank ? 'on' : '' }, s.toLowerCase())))
      : null;
    return h('tr', { dataset: { messageId: m.id, status: m.status } },
      h('td', { class: 'nowrap' }, when(timeOf(m))),
      h('td', { class: 'nowrap' }, h('span', { class: out ? 'dir out' : 'dir in', title: m.direction }, out ? '↗' : '↙'),
        ' ', h('span', { class: 'mono' }, m.peer)),
      h('td', {}, m.number.label || m.number.phone, m.number.sandbox ? h('span', { class: 'tag' }, 'sandbox') : null),
      h('td', {}, m.kind.toLowerCase(), m.clientReference ? h('div', { class: 'muted' }, m.clientReference) : null),
      h('td', { class: 'status' }, pill(m.status), steps,
        m.error ? h('div', { class: 'error small' }, `${m.error.code}: ${m.error.message}`) : null));
  }

  function apply(m) {
    const have = messages.get(m.id);
    if (!have || RANK[m.status] >= RANK[have.status]) messages.set(m.id, m);
  }

  const sendForm = h('form', {
    class: 'inline', id: 'send',
    onsubmit: async (e) => {
      e.preventDefault();
      const v = formValues(sendForm);
      const button = sendForm.querySelector('button');
      button.disabled = true;
      try {
        const p = (await gql(SEND, { input: { numberId: v.numberId, to: v.to, text: v.text, idempotencyKey: crypto.randomUUID() } })).sendMessage;
        const problem = userErrorText(p);
        if (problem) {
          app.toast(problem, 'error');
          return;
        }
        apply(p.message);
        draw();
        sendForm.querySelector('[name=text]').value = '';
      } catch (err) {
        app.toast(err.message, 'error');
      } finally {
        button.disabled = false;
      }
    },
  },
  field('From', numberSelect),
  field('To', h('input', { name: 'to', type: 'tel', placeholder: '+14155550123', required: true })),
  field('Text', h('input', { name: 'text', required: true, maxlength: 4096, value: 'Hello from apiws' }), null),
  h('button', { type: 'submit' }, 'Send'));

  // Subscribed before the first page is read, so nothing falls between.
  const stopStatus = app.rt.subscribe(STATUS, () => ({ after: lastCursor }), (data) => {
    const ev = data.messageStatus;
    if (lastCursor === null || BigInt(ev.cursor) > BigInt(lastCursor)) lastCursor = ev.cursor;
    apply({ ...ev.message, status: RANK[ev.status] >= RANK[ev.message.status] ? ev.status : ev.message.status });
    draw();
  }, (err) => app.toast(`Status stream: ${err.message}`, 'error'));

  const stopIncoming = app.rt.subscribe(INCOMING, () => ({}), (data) => {
    const ev = data.incomingMessages;
    apply(ev.message);
    draw();
    if (inbox.firstChild && inbox.firstChild.classList.contains('muted')) replace(inbox);
    inbox.prepend(h('li', {},
      h('div', {}, h('strong', { class: 'mono' }, ev.message.peer), h('span', { class: 'muted' }, ` → ${ev.message.number.label || ev.message.number.phone} · ${when(ev.message.receivedAt)}`)),
      h('p', {}, ev.text || (ev.media ? `[${ev.media.kind.toLowerCase()}] ${ev.media.caption || ev.media.fileName || ''}` : '(no text)'))));
  });

  gql(FEED).then((data) => {
    const nums = data.viewer.numbers.edges.map((e) => e.node);
    replace(numberSelect, nums.length
      ? nums.map((n) => h('option', { value: n.id }, `${n.label || 'Unnamed'} ${n.phone || ''}`))
      : h('option', { value: '' }, 'No connected number'));
    for (const e of data.viewer.messages.edges) apply(e.node);
    draw();
  }).catch((e) => app.toast(e.message, 'error'));
  draw();

  return {
    el: h('section', {},
      h('div', { class: 'page-head' }, h('h1', {}, 'Messages'),
        h('p', { class: 'muted' }, 'Statuses change in place as WhatsApp reports them. Content is never stored: only who, when and status.')),
      h('div', { class: 'card' }, h('h3', {}, 'Send a test message'), sendForm),
      h('div', { class: 'grid feed' },
        h('div', { class: 'card' },
          h('div', { class: 'card-head' }, h('h3', {}, 'Feed'), cursorNote),
          h('table', { class: 'table', id: 'messages' },
            h('thead', {}, h('tr', {}, ['When', 'Peer', 'Number', 'Kind', 'Status'].map((t) => h('th', {}, t)))),
            rows)),
        h('div', { class: 'card' }, h('h3', {}, 'Inbound, live'), inbox))),
    dispose() {
      stopStatus();
      stopIncoming();
    },
  };
}
