// groups.js: the WhatsApp groups of one number at a time: each with its
// participants and their roles, the number's own role, the invite link
// (admins only), a text to send to it, and leaving it; creating a group and
// joining one by its link. GROUP_UPDATED events reload the list live.
import { gql, userErrorText } from '../api.js';
import { h, field, formValues, replace, errorSlot, showUserErrors, when } from '../dom.js';

const GROUP_FIELDS = 'id jid name topic role createdAt participants { peer { phone lid } role }';
const NUMBERS = `query GroupNumbers { viewer { numbers(first: 100) { edges { node { id label phone status } } } } }`;
const GROUPS = `query NumberGroups($id: ID!) { node(id: $id) { ... on WhatsAppNumber { groups { ${GROUP_FIELDS} } } } }`;
const CREATE = `mutation CreateGroup($input: CreateGroupInput!) {
  createGroup(input: $input) { group { ${GROUP_FIELDS} } userErrors { field code message } }
}`;
const JOIN = `mutation JoinGroup($numberId: ID!, $link: String!) {
  joinGroup(numberId: $numberId, link: $link) { group { ${GROUP_FIELDS} } userErrors { field code message } }
}`;
const LINK = `mutation GroupInviteLink($id: ID!, $reset: Boolean) {
  groupInviteLink(id: $id, reset: $reset) { link userErrors { field code message } }
}`;
const LEAVE = `mutation LeaveGroup($id: ID!) { leaveGroup(id: $id) { group { id role } userErrors { field code message } } }`;
const SEND = `mutation SendToGroup($input: SendMessageInput!) {
  sendMessage(input: $input) { message { id status } userErrors { field code message } }
}`;
const UPDATES = `subscription GroupUpdates($numberId: ID) {
  events(types: [GROUP_UPDATED], numberId: $numberId) { ... on GroupUpdatedEvent { change group { id } } }
}`;

// phones splits a list typed by a person: one phone a line, or commas.
function phones(text) {
  return text.split(/[\n,;]+/).map((p) => p.trim()).filter((p) => p !== '');
}

// byField shows a phone's error (at input.participants.2) at the list.
function byField(errors) {
  return (errors || []).map((e) => ({ ...e, field: e.field && e.field.filter((p) => !/^\d+$/.test(p)) }));
}

function who(peer) {
  return peer.phone || `LID ${peer.lid}`;
}

export function renderGroups(app) {
  const picker = h('select', { id: 'group-number', 'aria-label': 'Number' });
  const list = h('div', { id: 'groups', class: 'groups' });
  let numberId = '';
  let stopUpdates = null;

  function groupCard(g) {
    const admin = g.role === 'ADMIN' || g.role === 'SUPERADMIN';
    const linkBox = h('div', { class: 'copy-row' });
    const text = h('input', { name: 'text', required: true, placeholder: 'Message to the group', 'aria-label': `Message to ${g.name}` });
    const sendErr = errorSlot('text', text);
    const send = h('form', {
      class: 'inline group-send',
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const p = (await gql(SEND, { input: { numberId, groupId: g.id, text: text.value } })).sendMessage;
          if (!showUserErrors(send, p.userErrors)) {
            app.toast(`Sent to ${g.name}.`);
            text.value = '';
          }
        } catch (err) {
          app.toast(err.message, 'error');
        }
      },
    }, text, h('button', { type: 'submit' }, 'Send'), sendErr, h('small', { class: 'form-error' }));

    async function showLink(reset) {
      try {
        const p = (await gql(LINK, { id: g.id, reset })).groupInviteLink;
        const problem = userErrorText(p);
        if (problem) app.toast(problem, 'error');
        else replace(linkBox, h('input', { class: 'mono', readonly: true, value: p.link, 'aria-label': 'Invite link' }));
      } catch (err) {
        app.toast(err.message, 'error');
      }
    }

    return h('section', { class: 'card group', dataset: { groupId: g.id } },
      h('header', {},
        h('h3', {}, g.name, ' ', h('span', { class: 'pill' }, g.role ? g.role.toLowerCase() : 'left')),
        h('div', { class: 'muted small mono' }, g.jid),
        g.topic ? h('p', {}, g.topic) : null,
        h('div', { class: 'muted small' }, `created ${when(g.createdAt)}`)),
      h('table', { class: 'participants' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Participant'), h('th', {}, 'Role'))),
        h('tbody', {}, g.participants.map((p) => h('tr', {},
          h('td', { class: 'mono' }, who(p.peer)), h('td', {}, p.role.toLowerCase()))))),
      g.role ? h('div', { class: 'actions' },
        admin ? h('button', { type: 'button', class: 'small', onclick: () => showLink(false) }, 'Invite link') : null,
        admin ? h('button', { type: 'button', class: 'small ghost', onclick: () => showLink(true) }, 'New invite link') : null,
        h('button', {
          type: 'button', class: 'small danger',
          onclick: async () => {
            if (!confirm(`Leave "${g.name}"?`)) return;
            try {
              const problem = userErrorText((await gql(LEAVE, { id: g.id })).leaveGroup);
              if (problem) app.toast(problem, 'error');
              else app.toast(`Left ${g.name}.`);
              load();
            } catch (err) {
              app.toast(err.message, 'error');
            }
          },
        }, 'Leave')) : null,
      linkBox,
      g.role ? send : null);
  }

  async function load() {
    if (!numberId) {
      replace(list, h('p', { class: 'muted' }, 'Connect a number first.'));
      return;
    }
    try {
      const d = await gql(GROUPS, { id: numberId });
      const groups = (d.node && d.node.groups) || [];
      replace(list, groups.length ? groups.map(groupCard) : h('p', { class: 'muted' }, 'This number is in no group.'));
    } catch (e) {
      app.toast(e.message, 'error');
    }
  }

  function follow() {
    if (stopUpdates) stopUpdates();
    stopUpdates = null;
    if (!numberId) return;
    stopUpdates = app.rt.subscribe(UPDATES, () => ({ numberId }), () => load());
  }

  const name = h('input', { name: 'name', required: true, maxlength: 100 });
  const members = h('textarea', { name: 'participants', rows: 2, placeholder: '+14155550101, +14155550102' });
  const create = h('form', {
    id: 'create-group', class: 'card',
    onsubmit: async (e) => {
      e.preventDefault();
      const v = formValues(create);
      try {
        const p = (await gql(CREATE, { input: { numberId, name: v.name, participants: phones(v.participants) } })).createGroup;
        if (!showUserErrors(create, byField(p.userErrors))) {
          app.toast(`Group ${p.group.name} created.`);
          create.reset();
          load();
        }
      } catch (err) {
        app.toast(err.message, 'error');
      }
    },
  }, h('h3', {}, 'New group'),
  field('Name', name), errorSlot('name', name),
  field('Participants', members, 'Phones in international form; the number is the group\'s super admin.'), errorSlot('participants', members),
  h('small', { class: 'form-error' }),
  h('button', { type: 'submit' }, 'Create'));

  const link = h('input', { name: 'link', required: true, placeholder: 'The link WhatsApp gave (chat.whatsapp.com/…)' });
  const join = h('form', {
    id: 'join-group', class: 'card inline',
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const p = (await gql(JOIN, { numberId, link: link.value.trim() })).joinGroup;
        if (!showUserErrors(join, p.userErrors)) {
          app.toast(`Joined ${p.group.name}.`);
          join.reset();
          load();
        }
      } catch (err) {
        app.toast(err.message, 'error');
      }
    },
  }, field('Join by invite link', link), errorSlot('link', link), h('small', { class: 'form-error' }), h('button', { type: 'submit' }, 'Join'));

  picker.addEventListener('change', () => {
    numberId = picker.value;
    load();
    follow();
  });

  gql(NUMBERS).then((d) => {
    const ns = d.viewer.numbers.edges.map((e) => e.node).filter((n) => n.phone);
    replace(picker, ns.map((n) => h('option', { value: n.id }, `${n.label || n.phone} (${n.status.toLowerCase()})`)));
    numberId = ns.length ? ns[0].id : '';
    load();
    follow();
  }).catch((e) => app.toast(e.message, 'error'));

  return {
    el: h('div', { class: 'screen' },
      h('h2', {}, 'Groups'),
      field('Number', picker),
      list, create, join),
    dispose() {
      if (stopUpdates) stopUpdates();
    },
  };
}
