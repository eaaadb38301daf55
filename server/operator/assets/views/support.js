// support.js: the support queue, oldest update first. An operator reads a
// ticket, answers it (the customer is mailed the answer) or closes it.
import { gql } from '../api.js';
import { h, replace, when, pill, showUserErrors } from '/dashboard/assets/dom.js';
import { ticketMutations, ticketThread, answerForm } from '/dashboard/assets/tickets.js';

const TICKET_FIELDS = 'id subject status createdAt updatedAt messages { id fromStaff body createdAt } account { id name email }';
const QUEUE = `query SupportQueue($status: [SupportTicketStatus!]) { supportQueue(status: $status) { ${TICKET_FIELDS} } }`;
const { REPLY, CLOSE } = ticketMutations(TICKET_FIELDS);
const POLL_MS = 10000;

export function renderSupport(app) {
  const rows = h('tbody');
  const thread = h('div', { class: 'card', id: 'ticket', hidden: true });
  const closed = h('input', { type: 'checkbox', name: 'closed', onchange: load });
  let tickets = [];
  let selected = null;
  let poll = null;
  let drafting = false;

  function drawList() {
    replace(rows, tickets.length ? tickets.map((t) => h('tr', { class: t.id === selected ? 'selected' : null, dataset: { ticketId: t.id, status: t.status } },
      h('td', {}, h('button', { class: 'link', type: 'button', onclick: () => select(t.id) }, t.subject)),
      h('td', {}, t.account ? t.account.email : '—'),
      h('td', { class: 'status' }, pill(t.status)),
      h('td', {}, when(t.updatedAt))))
      : h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No tickets waiting.')));
  }

  function drawThread() {
    const t = tickets.find((x) => x.id === selected);
    thread.hidden = !t;
    if (!t) return;
    const form = answerForm(t, {
      id: 'ticket-reply', closeId: 'ticket-close', rows: 5, placeholder: 'Your answer; the customer gets it by email too.', label: 'Answer',
      answer: (f, text) => mutate(f, REPLY, { id: t.id, body: text }, 'replyToSupportTicket', 'Answer sent to the customer.'),
      close: (f) => mutate(f, CLOSE, { id: t.id }, 'closeSupportTicket', 'Ticket closed.'),
      drafting: (yes) => { drafting = yes; },
    });
    replace(thread,
      h('div', { class: 'card-head' }, h('h2', { tabindex: -1 }, t.subject), pill(t.status)),
      t.account ? h('p', { class: 'muted' }, `${t.account.name} <${t.account.email}> · `, h('span', { class: 'mono' }, t.account.id), ` · opened ${when(t.createdAt)}`) : null,
      ticketThread(t, (m) => (m.fromStaff ? 'Staff' : 'Customer')),
      t.status === 'CLOSED' ? h('p', { class: 'muted' }, 'Closed.') : form);
  }

  function select(id) {
    selected = id;
    drafting = false;
    drawList();
    drawThread();
    thread.querySelector('h2').focus();
  }

  async function mutate(form, query, vars, name, done) {
    try {
      const p = (await gql(query, vars))[name];
      if (showUserErrors(form, p.userErrors)) return;
      app.toast(done);
      const t = p.supportTicket;
      tickets = tickets.map((x) => (x.id === t.id ? t : x));
      drafting = false;
      drawList();
      drawThread();
    } catch (e) {
      app.toast(e.message, 'error');
    }
  }

  function load() {
    clearTimeout(poll);
    gql(QUEUE, { status: closed.checked ? null : ['OPEN', 'WAITING_ON_CUSTOMER'] }).then((d) => {
      const before = JSON.stringify(tickets);
      // Keep the ticket shown even when it left the filter (just closed).
      const shown = tickets.find((t) => t.id === selected);
      tickets = d.supportQueue;
      if (shown && !tickets.some((t) => t.id === shown.id)) tickets = [...tickets, shown];
      if (JSON.stringify(tickets) !== before) {
        drawList();
        if (!drafting) drawThread();
      }
    }).catch((e) => replace(rows, h('tr', {}, h('td', { colspan: 4, class: 'error' }, e.message))))
      .finally(() => { poll = setTimeout(load, POLL_MS); });
  }

  load();
  return {
    el: h('section', {},
      h('div', { class: 'page-head' }, h('h1', {}, 'Support'),
        h('p', { class: 'muted' }, 'Open tickets first in line: the oldest update first. Answering mails the customer; their answers come back here and to APIWS_SUPPORT_EMAIL.')),
      h('div', { class: 'grid two' },
        h('div', { class: 'card' },
          h('div', { class: 'card-head' }, h('h3', {}, 'Queue'), h('label', { class: 'check' }, closed, 'Include closed')),
          h('table', { class: 'table', id: 'support-queue' },
            h('thead', {}, h('tr', {}, ['Subject', 'Account', 'Status', 'Updated'].map((t) => h('th', {}, t)))),
            rows)),
        thread)),
    dispose() { clearTimeout(poll); },
  };
}
