// tickets.js: what the dashboard's Support page and the operator console's
// support queue share: the mutations on a ticket, its thread, and the form
// that answers or closes it.
import { h, errorSlot, when } from './dom.js';

// ticketMutations are the answer and close mutations, each answering the
// ticket with fields.
export function ticketMutations(fields) {
  return {
    REPLY: `mutation ReplyToSupportTicket($id: ID!, $body: String!) {
  replyToSupportTicket(id: $id, body: $body) { supportTicket { ${fields} } userErrors { field code message } }
}`,
    CLOSE: `mutation CloseSupportTicket($id: ID!) {
  closeSupportTicket(id: $id) { supportTicket { ${fields} } userErrors { field code message } }
}`,
  };
}

// ticketThread lists a ticket's messages, oldest first; writer(m) names
// who wrote one.
export function ticketThread(t, writer) {
  return h('ol', { class: 'thread' }, t.messages.map((m) => h('li', { class: m.fromStaff ? 'staff' : 'customer', dataset: { messageId: m.id, fromStaff: String(m.fromStaff) } },
    h('div', { class: 'who' }, h('strong', {}, writer(m)), h('span', { class: 'muted small' }, when(m.createdAt))),
    h('div', { class: 'content' }, m.body))));
}

// answerForm answers the ticket t or closes it (after a confirmation):
// id and closeId name the form and its close button; answer(form, text)
// and close(form) run the mutations; drafting(yes) is told whether an
// answer is being written, so a refresh does not wipe it.
export function answerForm(t, { id, closeId, rows, placeholder, label, answer, close, drafting }) {
  const body = h('textarea', {
    name: 'body', rows, maxlength: 10000, required: true, placeholder, 'aria-label': label,
    oninput: (e) => drafting(e.target.value.trim() !== ''),
  });
  const form = h('form', {
    class: 'stack', id,
    onsubmit: async (e) => {
      e.preventDefault();
      await answer(form, body.value);
    },
  }, body, errorSlot('body', body), h('p', { class: 'form-error' }),
  h('div', { class: 'actions' },
    h('button', { type: 'submit' }, 'Send answer'),
    h('button', {
      class: 'ghost', type: 'button', id: closeId,
      onclick: async () => {
        if (!confirm(`Close "${t.subject}"? A closed ticket takes no more answers.`)) return;
        await close(form);
      },
    }, 'Close ticket')));
  return form;
}
