// messages.js: the live message feed. Each message's status changes in
// place as messageStatus reports it; after a websocket reconnect the
// subscription resumes with `after` set to the last cursor seen, so no
// change is missed. Inbound messages arrive live from incomingMessages
// (their text exists only in transit). A form sends a test message of any
// kind (text, a file, location, contact, poll) to one recipient or the same
// content to up to 100 at once (one sendMessages request), or a reply to a
// message of the feed; each message can be reacted to, and the number's own
// edited or deleted.
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

const SEND_MANY = `mutation SendMessages($inputs: [SendMessageInput!]!) {
  sendMessages(inputs: $inputs) {
    results { message { ${MESSAGE_FIELDS} } userErrors { field code message } }
    userErrors { field code message }
  }
}`;

// MAX_RECIPIENTS is how many inputs one sendMessages takes (apiws.MaxSendMany).
const MAX_RECIPIENTS = 100;

const TO_HINT = `one number, or up to ${MAX_RECIPIENTS}: one a line, or separated by commas`;

// MAX_BODY is the largest request apiws reads from a caller that may send
// media (server/body.go); a file repeated for many recipients can pass it.
const MAX_BODY = 32 << 20;

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

// recipients reads the To field: numbers one a line, or separated by
// commas, semicolons or spaces, trimmed, each once (the first spelling
// kept). Spaces also group the digits of one number ("+1 415 555 0123"),
// so within a line a space separates numbers only before a "+" or when
// every part is long enough to be a number of its own. It returns the
// list and how many numbers were given again (twice).
export function recipients(text) {
  const digits = (t) => t.replace(/\D/g, '').length;
  const list = [];
  for (const piece of text.split(/[\n\r,;]+/)) {
    for (const chunk of piece.split(/\s+(?=\+)/)) {
      const parts = chunk.trim().split(/\s+/).filter(Boolean);
      if (parts.length > 1 && parts.every((t) => digits(t) >= 7)) list.push(...parts);
      else if (parts.length) list.push(parts.join(' '));
    }
  }
  const seen = new Set();
  const once = list.filter((r) => {
    const key = r.replace(/[^\d+]/g, '') || r;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { list: once, twice: list.length - once.length };
}

// refusal is why an input of sendMessages was refused: its userErrors, each
// named by its field unless it is the recipient, the input's "to" (the list
// names the recipient already).
function refusal(result) {
  return result.userErrors.map((e) => {
    const name = e.field && e.field[e.field.length - 1];
    return (name && name !== 'to' && !/^\d+$/.test(name) ? `${name}: ` : '') + e.message;
  }).join('; ');
}

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
    toInput.required = !replyTo;
    if (!m) {
      replyNote.hidden = true;
      countRecipients();
      return;
    }
    toInput.value = '';
    countRecipients();
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

  // To takes one recipient or several; its hint counts them as they are
  // typed, and a list the form cannot send is refused there (the control
  // is invalid, so the form does not submit): over MAX_RECIPIENTS, or
  // several for a reply. A reply quotes a message of one chat and apiws
  // takes the quote in that chat only ("no such message in this chat"
  // anywhere else), so sending it to each recipient would fail for all but
  // one: a reply takes one recipient, or none for the quoted chat.
  const toInput = h('textarea', {
    name: 'to', rows: 1, class: 'recipients', placeholder: '+14155550123', required: true,
    autocomplete: 'off', spellcheck: 'false', oninput: () => countRecipients(),
    // Enter starts a new line of recipients; Ctrl+Enter (⌘+Enter) sends.
    onkeydown: (e) => e.key === 'Enter' && (e.ctrlKey || e.metaKey) && sendForm.requestSubmit(),
  });
  const toField = field('To', toInput, TO_HINT);
  const toHint = toField.querySelector('small');
  toHint.id = 'to-count';
  const sendButton = h('button', { type: 'submit' }, 'Send');

  // countRecipients reads To, shows what it holds and whether the form
  // can send it, and returns the recipients.
  function countRecipients() {
    const { list, twice } = recipients(toInput.value);
    const n = list.length;
    toInput.rows = Math.min(6, Math.max(1, toInput.value.split('\n').length));
    let problem = '';
    if (n > MAX_RECIPIENTS) problem = `${n} recipients: at most ${MAX_RECIPIENTS} at once.`;
    else if (replyTo && n > 1) problem = `A reply goes to one chat: give one recipient, or none for the quoted message's chat (${n} given).`;
    toInput.setCustomValidity(problem);
    toHint.classList.toggle('error', Boolean(problem));
    toHint.classList.toggle('muted', !problem);
    if (problem) toHint.textContent = problem;
    else if (n === 0) toHint.textContent = replyTo ? 'empty: the quoted message\'s chat' : TO_HINT;
    else toHint.textContent = `${n} recipient${n === 1 ? '' : 's'}${twice ? ` (${twice} given twice, sent once)` : ''}`;
    sendButton.textContent = n > 1 && !problem ? `Send to ${n}` : 'Send';
    return list;
  }

  // The outcome of the last send to several recipients: the refused ones,
  // each with its reason.
  const refusedList = h('div', { class: 'refused', id: 'send-refused', role: 'status', hidden: true });
  function showRefused(refused, total) {
    refusedList.hidden = !refused.length;
    if (!refused.length) {
      replace(refusedList);
      return;
    }
    replace(refusedList,
      h('div', { class: 'card-head' },
        h('strong', {}, `${total - refused.length} of ${total} queued, ${refused.length} refused`),
        h('button', { type: 'button', class: 'ghost small', onclick: () => showRefused([], 0) }, 'Dismiss')),
      h('ul', {}, refused.map((r) => h('li', {}, h('span', { class: 'mono' }, r.to), `: ${r.why}`))),
      refused.length < total ? h('p', { class: 'muted small' }, 'To now holds the refused recipients: correct them and send again.') : null);
  }

  // sendOne sends the form's content to one recipient (or, for a reply,
  // none: the quoted message's chat) with sendMessage.
  async function sendOne(v) {
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
  }

  // sendMany sends the form's content to each recipient in one sendMessages
  // request, each input with its own idempotency key (never a reply: see
  // toInput). The accepted messages join the feed; the refused recipients
  // are listed with their reasons and stay in To, to be corrected and sent
  // again, with the content.
  async function sendMany(v, to) {
    const variables = { inputs: to.map((r) => sendInput({ ...v, to: r }, null)) };
    const size = new TextEncoder().encode(JSON.stringify({ query: SEND_MANY, variables })).length;
    if (size > MAX_BODY) {
      app.toast(`Sent to ${to.length} recipients this content makes a request of ${(size / 2 ** 20).toFixed(1)} MiB, over apiws's 32 MiB: send it to fewer at once.`, 'error');
      return;
    }
    const p = (await gql(SEND_MANY, variables)).sendMessages;
    const problem = userErrorText(p);
    if (problem) {
      app.toast(problem, 'error');
      return;
    }
    const refused = [];
    p.results.forEach((r, i) => {
      if (r.message) apply(r.message);
      else refused.push({ to: to[i], why: refusal(r) });
    });
    draw();
    showRefused(refused, to.length);
    if (!refused.length) {
      sendForm.querySelector('[name=text]').value = '';
      app.toast(`Queued ${to.length} messages.`);
    } else if (refused.length < to.length) {
      toInput.value = refused.map((r) => r.to).join('\n');
      countRecipients();
    }
  }

  const sendForm = h('form', {
    class: 'inline', id: 'send',
    onsubmit: async (e) => {
      e.preventDefault();
      const v = formValues(sendForm);
      const to = countRecipients();
      sendButton.disabled = true;
      showRefused([], 0);
      try {
        if (v.kind === 'file') Object.assign(v, await fileValues(sendForm.querySelector('[name=file]').files[0]));
        if (to.length > 1) await sendMany(v, to);
        else await sendOne({ ...v, to: to[0] || '' });
      } catch (err) {
        app.toast(err.message, 'error');
      } finally {
        sendButton.disabled = false;
      }
    },
  },
  field('From', numberSelect),
  toField,
  field('Kind', kindSelect),
  ...Object.values(kindFields).flat(),
  sendButton,
  replyNote);
  showKind('text');
  countRecipients();

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
      h('div', { class: 'card' }, h('h3', {}, 'Send a test message'), sendForm, refusedList),
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
