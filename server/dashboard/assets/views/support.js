// support.js: the account's support tickets. Open one (subject and
// message), read a ticket's messages, answer while it is open, close it.
// Staff answers arrive by email too; the page looks for them every few
// seconds while it is shown.
import { gql } from '../api.js';
import { h, field, errorSlot, showUserErrors, formValues, replace, when, pill } from '../dom.js';
import { ticketMutations, ticketThread, answerForm } from '../tickets.js';

const TICKET_FIELDS = 'id subject status createdAt updatedAt messages { id fromStaff body createdAt }';
const TICKETS = `query SupportTickets { viewer { email supportTickets { ${TICKET_FIELDS} } } }`;
const OPEN = `mutation OpenSupportTicket($input: OpenSupportTicketInput!) {
  openSupportTicket(input: $input) { supportTicket { ${TICKET_FIELDS} } userErrors { field code message } }
}`;
const { REPLY, CLOSE } = ticketMutations(TICKET_FIELDS);

// POLL_MS is how often the page looks for answers.
const POLL_MS = 5000;

// STATUS_TEXT says what each status means for the customer.
const STATUS_TEXT = {
  OPEN: 'Waiting for apiws support.',
  WAITING_ON_CUSTOMER: 'apiws support answered: your turn.',
  CLOSED: 'Closed. Open a new ticket if you need more help.',
};

export function renderSupport(app) {
  const rows = h('tbody');
  const thread = h('div', { class: 'card', id: 'support-thread', hidden: true });
  let tickets = [];
  let selected = null; // id of the ticket shown
  let poll = null;
  let drafting = false; // an answer is being typed: do not redraw under it

  function drawList() {
    replace(rows, tickets.length ? tickets.map((t) => h('tr', {
      class: t.id === selected ? 'selected' : null, dataset: { ticketId: t.id, status: t.status },
    },
    h('td', {}, h('button', { class: 'link', type: 'button', onclick: () => select(t.id) }, t.subject)),
    h('td', { class: 'status' }, pill(t.status)),
    h('td', {}, String(t.messages.length)),
    h('td', {}, when(t.updatedAt))))
      : h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No tickets yet. Ask us anything above.')));
  }

  function drawThread() {
    const t = tickets.find((x) => x.id === selected);
    thread.hidden = !t;
    if (!t) return;
    const reply = answerForm(t, {
      id: 'support-reply', closeId: 'support-close', rows: 4, placeholder: 'Your answer', label: 'Your answer',
      answer: (form, text) => mutate(form, REPLY, { id: t.id, body: text }, 'replyToSupportTicket', 'Answer sent.'),
      close: (form) => mutate(form, CLOSE, { id: t.id }, 'closeSupportTicket', 'Ticket closed.'),
      drafting: (yes) => { drafting = yes; },
    });
    replace(thread,
      h('div', { class: 'card-head' }, h('h2', { tabindex: -1 }, t.subject), pill(t.status)),
      h('p', { class: 'muted', id: 'support-status' }, STATUS_TEXT[t.status] || ''),
      ticketThread(t, (m) => (m.fromStaff ? 'apiws support' : 'You')),
      t.status === 'CLOSED' ? null : reply);
  }

  function select(id) {
    selected = id;
    drafting = false;
    drawList();
    drawThread();
    const head = thread.querySelector('h2');
    if (head) head.focus();
  }

  // mutate runs a ticket mutation whose errors belong to form; it
  // returns whether it succeeded.
  async function mutate(form, query, vars, name, done) {
    try {
      const p = (await gql(query, vars))[name];
      if (showUserErrors(form, p.userErrors)) return false;
      app.toast(done);
      upsert(p.supportTicket);
      return true;
    } catch (e) {
      app.toast(e.message, 'error');
      return false;
    }
  }

  function upsert(t) {
    tickets = [t, ...tickets.filter((x) => x.id !== t.id)];
    selected = t.id;
    drafting = false;
    drawList();
    drawThread();
  }

  function load() {
    clearTimeout(poll);
    gql(TICKETS).then((d) => {
      const before = JSON.stringify(tickets);
      tickets = d.viewer.supportTickets;
      replace(mailNote, `Answers are also emailed to ${d.viewer.email}.`);
      if (JSON.stringify(tickets) !== before) {
        drawList();
        if (!drafting) drawThread();
      }
    }).catch((e) => replace(rows, h('tr', {}, h('td', { colspan: 4, class: 'error' }, e.message))))
      .finally(() => { poll = setTimeout(load, POLL_MS); });
  }

  const subject = h('input', { name: 'subject', required: true, maxlength: 200, placeholder: 'Messages stay QUEUED' });
  const body = h('textarea', { name: 'body', rows: 5, required: true, maxlength: 10000, placeholder: 'What happened, and what did you expect?' });
  const form = h('form', {
    class: 'stack', id: 'support-form',
    onsubmit: async (e) => {
      e.preventDefault();
      const v = formValues(form);
      if (await mutate(form, OPEN, { input: { subject: v.subject, body: v.body } }, 'openSupportTicket', 'Ticket opened: we will answer by email and here.')) form.reset();
    },
  },
  h('div', { class: 'field-wrap' }, field('Subject', subject, 'up to 200 characters'), errorSlot('subject', subject)),
  h('div', { class: 'field-wrap' }, field('Message', body, 'up to 10,000 characters'), errorSlot('body', body)),
  h('p', { class: 'form-error' }),
  h('div', {}, h('button', { type: 'submit' }, 'Open ticket')));
  const mailNote = h('p', { class: 'muted' });

  load();
  return {
    el: h('section', {},
      h('div', { class: 'page-head' }, h('h1', {}, 'Support'),
        h('p', { class: 'muted' }, 'Ask the people who run apiws for help. Tickets and their answers are part of your account data: in your exports, deleted with the account.')),
      h('div', { class: 'grid two' },
        h('div', {},
          h('div', { class: 'card' }, h('h3', {}, 'Open a ticket'), form),
          h('div', { class: 'card' },
            h('table', { class: 'table', id: 'support-tickets' },
              h('thead', {}, h('tr', {}, ['Subject', 'Status', 'Messages', 'Updated'].map((t) => h('th', {}, t)))),
              rows),
            mailNote)),
        thread)),
    dispose() { clearTimeout(poll); },
  };
}
