// events.js: the account's event log, live: every type of event in one
// feed, newest first, filtered by type and by number. The feed keeps, for
// this tab, the cursor it began after and its filters, so a reload replays
// the same events; after a websocket reconnect it resumes after the last
// cursor it showed. Events are kept by cursor: none is shown twice.
import { gql } from '../api.js';
import { h, field, formValues, replace, when, pill } from '../dom.js';

// EVENT_TYPES are the types of the account's log, with their names for
// people. PING exists only in webhook deliveries.
export const EVENT_TYPES = [
  ['MESSAGE_STATUS', 'Message status'],
  ['MESSAGE_RECEIVED', 'Message received'],
  ['MESSAGE_EDITED', 'Message edited'],
  ['MESSAGE_REVOKED', 'Message revoked'],
  ['REACTION', 'Reaction'],
  ['POLL_VOTE', 'Poll vote'],
  ['NUMBER_STATUS', 'Number status'],
  ['GROUP_UPDATED', 'Group updated'],
];

const TYPE_LABELS = new Map([...EVENT_TYPES, ['PING', 'Ping']]);

// typeLabel names an event type for people.
export function typeLabel(type) {
  return TYPE_LABELS.get(type) || type;
}

// Fields of the same name but another type across fragments (status) need
// an alias.
const CONTENT = `content {
        text
        media { kind mimeType fileName caption url }
        location { latitude longitude name address }
        contacts { name }
        poll { question }
      }`;

const EVENTS = `subscription Events($after: Cursor, $types: [EventType!], $numberId: ID) {
  events(after: $after, types: $types, numberId: $numberId) {
    __typename cursor type at numberId
    ... on MessageStatusEvent { messageId status error { code message } message { id peer peerLid } }
    ... on MessageReceivedEvent { message { id peer peerLid kind } ${CONTENT} }
    ... on MessageEditedEvent { message { id peer peerLid direction } ${CONTENT} }
    ... on MessageRevokedEvent { message { id peer peerLid direction } }
    ... on ReactionEvent { message { id peer peerLid } from { phone lid } emoji }
    ... on PollVoteEvent { message { id } voter { phone lid } options }
    ... on NumberStatusEvent { numberStatus: status reason number { id label phone } }
  }
}`;

const NUMBERS = `query EventNumbers { viewer { numbers(first: 100) { edges { node { id label phone } } } } }`;

// KEEP is how many events the feed holds; older ones scroll out.
const KEEP = 500;

// A feed's place and filters, per tab and account: since is the cursor the
// feed replays after (null: live only, until the first event sets it).
function storageKey(app) {
  return `apiws.events.${app.viewer.id}`;
}

function loadPlace(app) {
  let s = {};
  try {
    s = JSON.parse(sessionStorage.getItem(storageKey(app)) || '{}') || {};
  } catch (e) {
    // No storage (or garbage in it): start afresh.
  }
  return {
    since: typeof s.since === 'string' && /^\d+$/.test(s.since) ? s.since : null,
    types: Array.isArray(s.types) ? s.types.filter((t) => TYPE_LABELS.has(t)) : [],
    numberId: typeof s.numberId === 'string' ? s.numberId : '',
  };
}

function savePlace(app, place) {
  try {
    sessionStorage.setItem(storageKey(app), JSON.stringify(place));
  } catch (e) {
    // Without storage a reload starts live; nothing else depends on it.
  }
}

function numberName(n) {
  return n ? n.label || n.phone || n.id : '';
}

// who names the other party of a message, or a peer: its phone, else
// the LID WhatsApp hid it behind.
function who(phone, lid) {
  return h('strong', { class: 'mono' }, phone || (lid ? `LID ${lid}` : 'unknown'));
}

// contentOf shows an event's content while it is in transit; inbound
// media links to its download (valid while in transit too).
function contentOf(c) {
  if (!c) return h('p', { class: 'muted transit-gone' }, 'Content no longer in transit.');
  const parts = [];
  // The text of media is its caption, shown with the file.
  if (c.text && !(c.media && c.media.caption === c.text)) parts.push(h('p', { class: 'content' }, c.text));
  if (c.media) {
    const m = c.media;
    parts.push(h('p', { class: 'content' }, h('span', { class: 'tag' }, m.kind.toLowerCase()), ' ',
      [m.caption, m.fileName, m.mimeType].filter(Boolean).join(' · '),
      m.url ? [' ', h('a', { href: m.url, class: 'media-link', target: '_blank', rel: 'noopener noreferrer', download: m.fileName || '' }, 'Download')] : null));
  }
  if (c.location) {
    const l = c.location;
    parts.push(h('p', { class: 'content' }, `Location: ${[l.name, l.address].filter(Boolean).join(', ')} (${l.latitude}, ${l.longitude})`));
  }
  if (c.contacts && c.contacts.length) parts.push(h('p', { class: 'content' }, `Contacts: ${c.contacts.map((x) => x.name).join(', ')}`));
  if (c.poll) parts.push(h('p', { class: 'content' }, `Poll: ${c.poll.question}`));
  return parts.length ? parts : h('p', { class: 'muted' }, '(no content)');
}

function messageID(m) {
  return h('span', { class: 'mono muted small' }, m.id);
}

function detail(ev) {
  switch (ev.__typename) {
    case 'MessageStatusEvent':
      return [pill(ev.status), ' to ', who(ev.message.peer, ev.message.peerLid), ' ', h('span', { class: 'mono muted small' }, ev.messageId),
        ev.error ? h('div', { class: 'error small' }, `${ev.error.code}: ${ev.error.message}`) : null];
    case 'MessageReceivedEvent':
      return [h('div', {}, 'From ', who(ev.message.peer, ev.message.peerLid), h('span', { class: 'muted' }, ` · ${ev.message.kind.toLowerCase()}`)),
        contentOf(ev.content)];
    case 'MessageEditedEvent':
      return [h('div', {}, ev.message.direction === 'OUTBOUND' ? 'Edited our message to ' : 'Edited by ', who(ev.message.peer, ev.message.peerLid), ' ', messageID(ev.message)),
        contentOf(ev.content)];
    case 'MessageRevokedEvent':
      return h('div', {}, ev.message.direction === 'OUTBOUND' ? 'Deleted our message to ' : 'Deleted for everyone by ', who(ev.message.peer, ev.message.peerLid), ' ', messageID(ev.message));
    case 'ReactionEvent':
      return h('div', {}, ev.emoji === null ? h('span', { class: 'muted transit-gone' }, '(reaction no longer in transit)')
        : ev.emoji === '' ? h('span', { class: 'muted' }, 'Removed a reaction') : h('span', { class: 'reaction' }, ev.emoji),
      ' from ', who(ev.from.phone, ev.from.lid), ' to ', messageID(ev.message));
    case 'PollVoteEvent':
      return h('div', {}, who(ev.voter.phone, ev.voter.lid), ' voted ',
        ev.options === null ? h('span', { class: 'muted transit-gone' }, '(choice no longer in transit)')
          : ev.options.length ? h('strong', {}, ev.options.join(', ')) : h('span', { class: 'muted' }, '(vote withdrawn)'),
        ' on ', messageID(ev.message));
    case 'NumberStatusEvent':
      return [pill(ev.numberStatus), ev.reason ? h('span', { class: 'muted' }, ` ${ev.reason}`) : null];
    default:
      return h('span', { class: 'muted' }, ev.__typename);
  }
}

export function renderEvents(app) {
  const place = loadPlace(app);
  const numbers = new Map();
  // shown holds the events by cursor, in the order they came: ascending,
  // as the stream hands them out.
  const shown = new Map();
  let last = null;
  let stop = null;
  let drawTimer = null;
  let retryTimer = null;
  let retries = 0;
  let disposed = false;

  const rows = h('tbody');
  const position = h('span', { class: 'muted', id: 'events-position' });
  const problemLine = h('p', { class: 'form-error', role: 'alert', id: 'events-problem' });
  const numberSelect = h('select', { name: 'numberId' }, h('option', { value: '' }, 'All numbers'));

  function row(ev) {
    const n = ev.number || numbers.get(ev.numberId);
    return h('tr', { dataset: { cursor: ev.cursor, type: ev.type } },
      h('td', { class: 'mono' }, ev.cursor),
      h('td', { class: 'nowrap' }, when(ev.at)),
      h('td', {}, h('span', { class: 'tag' }, typeLabel(ev.type))),
      h('td', {}, n ? numberName(n) : h('span', { class: 'mono' }, ev.numberId)),
      h('td', { class: 'detail' }, detail(ev)));
  }

  function draw() {
    drawTimer = null;
    const list = [...shown.values()].reverse();
    replace(rows, list.length ? list.map((e) => e.el || (e.el = row(e.ev)))
      : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No events yet. They appear here as they happen.')));
    const filtered = place.types.length || place.numberId ? ' (filtered)' : '';
    position.textContent = (place.since === null ? 'Following new events live' : `Replaying events after cursor ${place.since}, then following live`)
      + `${filtered}; ${shown.size} shown.`;
  }

  // Many events come at once in a replay: one redraw for them all.
  function drawSoon() {
    if (drawTimer === null) drawTimer = setTimeout(draw, 30);
  }

  function receive(data) {
    const ev = data.events;
    const n = BigInt(ev.cursor);
    retries = 0;
    problemLine.textContent = '';
    // The stream never goes back; anything at or before the last cursor
    // shown is a duplicate.
    if (shown.has(ev.cursor) || (last !== null && n <= BigInt(last))) return;
    if (place.since === null) {
      // Cursors are integers: everything from this event on is after n-1.
      place.since = String(n - 1n);
      savePlace(app, place);
    }
    last = ev.cursor;
    shown.set(ev.cursor, { ev });
    if (shown.size > KEEP) shown.delete(shown.keys().next().value);
    drawSoon();
  }

  function failed(err) {
    if (err.path) {
      // One event's field failed; the stream goes on.
      app.toast(`Events: ${err.message}`, 'error');
      return;
    }
    if (err.code === 'INVALID' && (place.since !== null || last !== null)) {
      // The saved cursor is ahead of this log (another database): start live.
      place.since = null;
      restart(true);
      app.toast('The saved position is not in the event log; following new events live.', 'error');
      return;
    }
    if (err.code === 'NOT_FOUND' && place.numberId) {
      place.numberId = '';
      numberSelect.value = '';
      restart(true);
      return;
    }
    if (err.code === 'UNAUTHENTICATED' || err.code === 'FORBIDDEN') {
      problemLine.textContent = err.message;
      return;
    }
    // The server ended the stream (it could not keep it whole): resume after
    // the last cursor shown, waiting longer each time.
    problemLine.textContent = `${err.message} Resuming…`;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => restart(false), Math.min(30000, 1000 * 2 ** retries++));
  }

  // restart subscribes again; with fresh, the feed empties and replays
  // from where it began, for new filters or a new starting cursor.
  function restart(fresh) {
    if (disposed) return;
    if (stop) stop();
    clearTimeout(retryTimer);
    if (fresh) {
      shown.clear();
      last = null;
      savePlace(app, place);
      draw();
    }
    stop = app.rt.subscribe(EVENTS, () => ({
      after: last !== null ? last : place.since,
      types: place.types.length ? place.types : null,
      numberId: place.numberId || null,
    }), receive, failed);
  }

  const filters = h('form', {
    class: 'inline', id: 'event-filters',
    onsubmit: (e) => e.preventDefault(),
    onchange: () => {
      const v = formValues(filters);
      place.types = v.types;
      place.numberId = v.numberId;
      restart(true);
    },
  },
  h('fieldset', { class: 'choices' }, h('legend', {}, 'Types (none checked: all)'),
    EVENT_TYPES.map(([t, label]) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'types', value: t, checked: place.types.includes(t) }), label))),
  field('Number', numberSelect));

  const replayForm = h('form', {
    class: 'inline', id: 'event-replay',
    onsubmit: (e) => {
      e.preventDefault();
      place.since = formValues(replayForm).after;
      restart(true);
    },
  },
  field('Replay after cursor', h('input', { name: 'after', inputmode: 'numeric', pattern: '[0-9]+', required: true, placeholder: '0', title: 'A cursor: digits only' }),
    '0 replays every event the log still holds.'),
  h('button', { type: 'submit', class: 'ghost' }, 'Replay'),
  h('button', {
    type: 'button', class: 'ghost', id: 'events-clear',
    title: 'Empty the feed; a reload shows only newer events',
    onclick: () => {
      if (last !== null) place.since = last;
      shown.clear();
      savePlace(app, place);
      draw();
    },
  }, 'Clear'));

  gql(NUMBERS).then((data) => {
    for (const e of data.viewer.numbers.edges) numbers.set(e.node.id, e.node);
    if (place.numberId && !numbers.has(place.numberId)) place.numberId = '';
    replace(numberSelect, h('option', { value: '' }, 'All numbers'),
      [...numbers.values()].map((n) => h('option', { value: n.id }, `${n.label || 'Unnamed'} ${n.phone || ''}`)));
    numberSelect.value = place.numberId;
  }).catch((e) => app.toast(e.message, 'error')).finally(() => {
    // Subscribed once the numbers are known, so rows can name them.
    restart(false);
  });
  draw();

  return {
    el: h('section', {},
      h('div', { class: 'page-head' }, h('h1', {}, 'Events'),
        h('p', { class: 'muted' }, 'Everything that happens on the account, as it happens: message statuses, inbound messages, edits, deletions, reactions, poll votes, number statuses. Content (and the download link of inbound media) shows while it is in transit, then only who and when.')),
      h('div', { class: 'card' }, filters, replayForm),
      h('div', { class: 'card' },
        h('div', { class: 'card-head' }, h('h3', {}, 'Feed'), position),
        problemLine,
        h('table', { class: 'table', id: 'events' },
          h('thead', {}, h('tr', {}, ['Cursor', 'When', 'Type', 'Number', 'Details'].map((t) => h('th', {}, t)))),
          rows))),
    dispose() {
      disposed = true;
      if (stop) stop();
      clearTimeout(retryTimer);
      clearTimeout(drawTimer);
    },
  };
}
