// messages.js: the live message feed. Each message's status changes in
// place as messageStatus reports it; after a websocket reconnect the
// subscription resumes with `after` set to the last cursor seen, so no
// change is missed. Inbound messages arrive live from incomingMessages
// (their text exists only in transit). A form sends a test message of any
// kind (text, a file, location, contact, poll), or a reply to a message of
// the feed; each message can be reacted to, and the number's own edited or
// deleted.
import { gql, userErrorText } from '../api.js';
import { h, field, formValues, replace, when, pill } from '../dom.js';

const MESSAGE_FIELDS = `id direction peer peerLid kind status clientReference replyTo { id peer peerLid } group { id name }
  number { id label phone sandbox }
  error { code message retryable }
  queuedAt sentAt deliveredAt readAt playedAt failedAt receivedAt editedAt revokedAt`;

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
  incomingMessages { text media { kind mimeType fileName caption sizeBytes url } message { ${MESSAGE_FIELDS} } }
}`;

const SEND = `mutation SendMessage($input: SendMessageInput!) {
  sendMessage(input: $input) { message { ${MESSAGE_FIELDS} } userErrors { field code message } }
}`;

const REACT = `mutation React($input: ReactInput!) {
  reactToMessage(input: $input) { message { ${MESSAGE_FIELDS} } userErrors { field code message } }
}`;

const EDIT = `mutation Edit($input: EditMessageInput!) {
  editMessage(input: $input) { message { ${MESSAGE_FIELDS} } userErrors { field code message } }
}`;

const REVOKE = `mutation Revoke($id: ID!) {
  revokeMessage(messageId: $id) { message { ${MESSAGE_FIELDS} } userErrors { field code message } }
}`;

// EDIT_WINDOW and REVOKE_WINDOW are how long after sentAt WhatsApp takes an
// edit or a deletion for everyone; the server says EXPIRED after.
const EDIT_WINDOW = 15 * 60 * 1000;
const REVOKE_WINDOW = 48 * 60 * 60 * 1000;

// peerName shows the other party: its phone, else the LID WhatsApp hid it
// behind.
function peerName(m) {
  return m.peer || (m.peerLid ? `LID ${m.peerLid}` : '');
}

// within says whether less than ms has passed since the time t.
function within(t, ms) {
  return Boolean(t) && Date.now() - Date.parse(t) < ms;
}

// The order a message moves through; a late report never moves it back.
const RANK = { QUEUED: 0, RECEIVED: 0, SENT: 1, DELIVERED: 2, READ: 3, PLAYED: 4, FAILED: 5 };
const STEPS = ['QUEUED', 'SENT', 'DELIVERED', 'READ'];

// lastCursor outlives the screen, so coming back to it resumes the stream
// where it was left.
let lastCursor = null;

// The form's kinds of content: the fields each shows, and the input they
// make (v holds the form's values).
const KINDS = {
  text: { label: 'Text', input: (v) => ({ text: v.text }) },
  location: {
    label: 'Location',
    input: (v) => ({ location: { latitude: Number(v.latitude), longitude: Number(v.longitude), name: v.placeName || null } }),
  },
  contact: { label: 'Contact', input: (v) => ({ contacts: [{ name: v.contactName, phones: [v.contactPhone] }] }) },
  file: {
    label: 'File',
    input: (v) => ({
      media: { kind: v.mediaKind, data: v.fileData, mimeType: v.fileType || 'application/octet-stream', fileName: v.fileName || null, caption: v.caption || null },
    }),
  },
  poll: {
    label: 'Poll',
    input: (v) => ({
      poll: {
        question: v.question,
        options: v.options.split('\n').map((o) => o.trim()).filter(Boolean),
        selectableCount: Number(v.selectableCount) || 1,
      },
    }),
  },
};

// sendInput is the sendMessage input of the form's values: the recipient
// may be left out of a reply, which then goes to the quoted message's chat.
export function sendInput(v, replyTo) {
  const input = { numberId: v.numberId, ...KINDS[v.kind].input(v), idempotencyKey: crypto.randomUUID() };
  if (v.to) input.to = v.to;
  if (replyTo) input.replyTo = replyTo;
  return input;
}

// fileValues reads a chosen file for a media input: its bytes in base64,
// its type and name.
async function fileValues(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { fileData: btoa(bin), fileType: file.type, fileName: file.name };
}

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
    replace(rows, list.length ? list.map(row) : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No messages yet.')));
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
        ' ', h('span', { class: 'mono' }, peerName(m)), m.group ? h('span', { class: 'tag', title: 'group' }, m.group.name) : null),
      h('td', {}, m.number.label || m.number.phone, m.number.sandbox ? h('span', { class: 'tag' }, 'sandbox') : null),
      h('td', {}, m.kind.toLowerCase(), m.clientReference ? h('div', { class: 'muted' }, m.clientReference) : null,
        m.replyTo ? h('div', { class: 'muted small reply-of' }, `${m.kind === 'REACTION' ? '↪ reaction to' : '↪ reply to'} ${peerName(m.replyTo) || m.replyTo.id}`) : null,
        m.editedAt ? h('span', { class: 'tag edited', title: m.editedAt }, 'edited') : null,
        m.revokedAt ? h('span', { class: 'tag revoked', title: m.revokedAt }, 'deleted') : null),
      h('td', { class: 'status' }, pill(m.status), steps,
        m.error ? h('div', { class: 'error small' }, `${m.error.code}: ${m.error.message}`) : null),
      h('td', { class: 'actions' }, actions(m)));
  }

  // actions are what can be done with a message: reply and react to any
  // that went out or came in; edit (text, 15 minutes) and delete for
  // everyone (48 hours) the number's own.
  function actions(m) {
    if (m.status === 'FAILED' || m.status === 'QUEUED' || m.revokedAt || m.kind === 'REACTION') return null;
    const out = m.direction === 'OUTBOUND';
    return [
      h('button', { type: 'button', class: 'ghost small reply', onclick: () => replyToMessage(m) }, 'Reply'),
      h('button', { type: 'button', class: 'ghost small react', title: 'React with 👍', onclick: () => act(REACT, { input: { messageId: m.id, emoji: '👍', idempotencyKey: crypto.randomUUID() } }, 'reactToMessage') }, '👍'),
      out && m.kind === 'TEXT' && within(m.sentAt, EDIT_WINDOW)
        ? h('button', { type: 'button', class: 'ghost small edit', onclick: (e) => editInPlace(e.target.closest('td'), m) }, 'Edit') : null,
      out && within(m.sentAt, REVOKE_WINDOW)
        ? h('button', {
          type: 'button', class: 'ghost small danger revoke',
          onclick: () => window.confirm('Delete this message for everyone?') && act(REVOKE, { id: m.id }, 'revokeMessage'),
        }, 'Delete') : null,
    ];
  }

  // act runs a mutation about a message and shows its answer in the feed.
  async function act(doc, vars, name) {
    try {
      const p = (await gql(doc, vars))[name];
      const problem = userErrorText(p);
      if (problem) {
        app.toast(problem, 'error');
        return false;
      }
      messages.set(p.message.id, p.message);
      draw();
      return true;
    } catch (err) {
      app.toast(err.message, 'error');
      return false;
    }
  }

  // editInPlace swaps a message's actions for a form with its new text.
  function editInPlace(cell, m) {
    const form = h('form', {
      class: 'inline edit-form',
      onsubmit: async (e) => {
        e.preventDefault();
        form.querySelector('button').disabled = true;
        if (!(await act(EDIT, { input: { messageId: m.id, text: formValues(form).text } }, 'editMessage'))) {
          form.querySelector('button').disabled = false;
        }
      },
    },
    h('input', { name: 'text', required: true, maxlength: 4096, placeholder: 'New text', 'aria-label': 'New text' }),
    h('button', { type: 'submit', class: 'small' }, 'Save'),
    h('button', { type: 'button', class: 'ghost small', onclick: () => draw() }, 'Cancel'));
    replace(cell, form);
    form.querySelector('input').focus();
  }

  // replyTo is the message the form's next send quotes, if any.
  let replyTo = null;
  const replyNote = h('div', { class: 'muted small', id: 'reply-note', hidden: true });
  function replyToMessage(m) {
    replyTo = m ? m.id : null;
    const to = sendForm.querySelector('[name=to]');
    to.required = !replyTo;
    if (!m) {
      replyNote.hidden = true;
      return;
    }
    to.value = '';
    replace(replyNote, `Replying to ${peerName(m) || 'a hidden number'} (${m.kind.toLowerCase()}); leave To empty to answer in its chat. `,
      h('button', { type: 'button', class: 'ghost small', onclick: () => replyToMessage(null) }, 'Cancel'));
    replyNote.hidden = false;
    sendForm.querySelector('[name=text]').focus();
  }

  // Only the chosen kind's fields show, and only they are required.
  const kindFields = {
    text: [field('Text', h('input', { name: 'text', maxlength: 4096, value: 'Hello from apiws' }))],
    location: [
      field('Latitude', h('input', { name: 'latitude', type: 'number', step: 'any', min: -90, max: 90, value: '37.7955' })),
      field('Longitude', h('input', { name: 'longitude', type: 'number', step: 'any', min: -180, max: 180, value: '-122.3937' })),
      field('Place', h('input', { name: 'placeName', placeholder: 'optional', value: 'Ferry Building' }))],
    contact: [
      field('Contact name', h('input', { name: 'contactName', value: 'Ada Lovelace' })),
      field('Contact phone', h('input', { name: 'contactPhone', type: 'tel', value: '+44 20 7183 8750' }))],
    file: [
      field('Media', h('select', { name: 'mediaKind' },
        [['IMAGE', 'Image'], ['DOCUMENT', 'Document'], ['AUDIO', 'Audio'], ['VIDEO', 'Video'], ['STICKER', 'Sticker (WebP)']].map(([k, l]) => h('option', { value: k }, l)))),
      field('File', h('input', { name: 'file', type: 'file' })),
      field('Caption', h('input', { name: 'caption', maxlength: 1024, placeholder: 'optional' }))],
    poll: [
      field('Question', h('input', { name: 'question', maxlength: 255, value: 'Lunch?' })),
      field('Options', h('textarea', { name: 'options', rows: 3, value: 'Pizza\nSushi\nSalad' }), 'one a line, 2 to 12'),
      field('Choices', h('input', { name: 'selectableCount', type: 'number', min: 1, max: 12, value: '1' }))],
  };
  const OPTIONAL = new Set(['placeName', 'caption']);
  const kindSelect = h('select', { name: 'kind', onchange: () => showKind(kindSelect.value) },
    Object.entries(KINDS).map(([k, d]) => h('option', { value: k }, d.label)));
  function showKind(kind) {
    for (const [k, fields] of Object.entries(kindFields)) {
      for (const f of fields) {
        f.hidden = k !== kind;
        const c = f.querySelector('input, textarea, select');
        c.required = k === kind && !OPTIONAL.has(c.name);
      }
    }
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
        if (v.kind === 'file') Object.assign(v, await fileValues(sendForm.querySelector('[name=file]').files[0]));
        const p = (await gql(SEND, { input: sendInput(v, replyTo) })).sendMessage;
        const problem = userErrorText(p);
        if (problem) {
          app.toast(problem, 'error');
          return;
        }
        apply(p.message);
        draw();
        sendForm.querySelector('[name=text]').value = '';
        replyToMessage(null);
      } catch (err) {
        app.toast(err.message, 'error');
      } finally {
        button.disabled = false;
      }
    },
  },
  field('From', numberSelect),
  field('To', h('input', { name: 'to', type: 'tel', placeholder: '+14155550123', required: true })),
  field('Kind', kindSelect),
  ...Object.values(kindFields).flat(),
  h('button', { type: 'submit' }, 'Send'),
  replyNote);
  showKind('text');

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
      h('div', {}, h('strong', { class: 'mono' }, peerName(ev.message)), h('span', { class: 'muted' }, ` → ${ev.message.number.label || ev.message.number.phone} · ${when(ev.message.receivedAt)}`)),
      h('p', {}, ev.text || (ev.media ? `[${ev.media.kind.toLowerCase()}] ${ev.media.caption || ev.media.fileName || ''}` : '(no text)'),
        ev.media && ev.media.url ? [' ', h('a', { href: ev.media.url, class: 'media-link', download: ev.media.fileName || true }, 'Download')] : null)));
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
            h('thead', {}, h('tr', {}, ['When', 'Peer', 'Number', 'Kind', 'Status', ''].map((t) => h('th', {}, t)))),
            rows)),
        h('div', { class: 'card' }, h('h3', {}, 'Inbound, live'), inbox))),
    dispose() {
      stopStatus();
      stopIncoming();
    },
  };
}
