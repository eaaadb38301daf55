// plans.js: the plans on offer and their terms. Creating a plan offers it
// at once (if public); an edit changes its limits at once and its prices
// from the next billing period. Accounts are put on a plan under Accounts.
import { gql } from '../api.js';
import { h, replace, field, errorSlot, showUserErrors, formValues } from '/dashboard/assets/dom.js';

const PLAN_FIELDS = 'id name monthlyMessages sendsPerSecond requestsPerSecond numbersLimit monthlyPriceMinor currency overagePriceMinor public';
const PLANS = `query Plans { plans { ${PLAN_FIELDS} } }`;
const CREATE = `mutation CreatePlan($input: PlanInput!) { createPlan(input: $input) { plan { ${PLAN_FIELDS} } userErrors { field code message } } }`;
const UPDATE = `mutation UpdatePlan($id: ID!, $input: PlanInput!) { updatePlan(id: $id, input: $input) { plan { ${PLAN_FIELDS} } userErrors { field code message } } }`;

// money shows an amount in minor units with its currency.
function money(minor, currency) {
  if (minor === null || minor === undefined) return '—';
  try {
    const f = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    return f.format(minor / 10 ** f.resolvedOptions().maximumFractionDigits);
  } catch (e) {
    return `${minor} ${currency}`;
  }
}

// CONTROLS are the form's inputs, by PlanInput field.
const CONTROLS = [
  ['name', 'Name', { required: true, placeholder: 'Growth' }],
  ['monthlyMessages', 'Messages a month', { type: 'number', min: 0, step: 1, required: true, value: '10000' }],
  ['sendsPerSecond', 'Sends a second, per number', { type: 'number', min: 0, step: 'any', required: true, value: '5' }],
  ['requestsPerSecond', 'API requests a second, per key (0: the server default)', { type: 'number', min: 0, step: 'any', required: true, value: '0' }],
  ['numbersLimit', 'Numbers', { type: 'number', min: 0, step: 1, required: true, value: '10' }],
  ['monthlyPriceMinor', 'Price a month, in cents', { type: 'number', min: 0, step: 1, required: true, value: '0' }],
  ['currency', 'Currency', { required: true, value: 'EUR', maxlength: 3 }],
  ['overagePriceMinor', 'Price per extra message, in cents (empty: refuse sends over the quota)', { type: 'number', min: 0, step: 1 }],
];

export function renderPlans(app) {
  const rows = h('tbody');
  let editing = null; // the plan being edited, null when creating
  const inputs = {};
  const slots = CONTROLS.map(([name, label, props]) => {
    inputs[name] = h('input', { name, ...props });
    return h('div', { class: 'field-wrap' }, field(label, inputs[name]), errorSlot(name, inputs[name]));
  });
  const isPublic = h('input', { type: 'checkbox', name: 'public', checked: true });
  const title = h('h3', {}, 'New plan');
  const cancel = h('button', { type: 'button', class: 'ghost', hidden: true, onclick: () => edit(null) }, 'Cancel edit');
  const submit = h('button', { type: 'submit' }, 'Create plan');
  const form = h('form', {
    class: 'stack', id: 'plan-form',
    onsubmit: async (e) => {
      e.preventDefault();
      const v = formValues(form);
      const input = {
        name: v.name, monthlyMessages: Number(v.monthlyMessages), sendsPerSecond: Number(v.sendsPerSecond),
        requestsPerSecond: Number(v.requestsPerSecond), numbersLimit: Number(v.numbersLimit),
        monthlyPriceMinor: Number(v.monthlyPriceMinor), currency: v.currency,
        overagePriceMinor: v.overagePriceMinor === '' ? null : Number(v.overagePriceMinor), public: v.public,
      };
      try {
        const d = editing ? await gql(UPDATE, { id: editing.id, input }) : await gql(CREATE, { input });
        const p = Object.values(d)[0];
        if (showUserErrors(form, p.userErrors)) return;
        app.toast(editing ? `Plan "${p.plan.name}" changed: limits now, prices from the next period.` : `Plan "${p.plan.name}" created.`);
        edit(null);
        load();
      } catch (err) {
        app.toast(err.message, 'error');
      }
    },
  }, title, h('div', { class: 'fields' }, slots), h('label', { class: 'check' }, isPublic, 'Public: new accounts can choose it'),
  h('p', { class: 'form-error' }), h('div', { class: 'actions' }, submit, cancel));

  function edit(p) {
    editing = p;
    showUserErrors(form, []);
    form.reset();
    title.textContent = p ? `Edit plan ${p.name}` : 'New plan';
    submit.textContent = p ? 'Save plan' : 'Create plan';
    cancel.hidden = !p;
    if (!p) return;
    for (const [name] of CONTROLS) inputs[name].value = p[name] === null ? '' : String(p[name]);
    isPublic.checked = p.public;
    inputs.name.focus();
  }

  function load() {
    gql(PLANS).then((d) => {
      replace(rows, d.plans.map((p) => h('tr', { dataset: { planId: p.id } },
        h('td', {}, h('strong', {}, p.name), h('div', { class: 'mono small muted' }, p.id)),
        h('td', {}, p.public ? 'public' : 'private'),
        h('td', { class: 'num' }, String(p.monthlyMessages)),
        h('td', { class: 'num' }, `${p.sendsPerSecond}/s`),
        h('td', { class: 'num' }, p.requestsPerSecond ? `${p.requestsPerSecond}/s` : 'default'),
        h('td', { class: 'num' }, String(p.numbersLimit)),
        h('td', { class: 'num' }, money(p.monthlyPriceMinor, p.currency)),
        h('td', { class: 'num' }, p.overagePriceMinor === null ? 'refused' : money(p.overagePriceMinor, p.currency)),
        h('td', { class: 'actions' }, p.id === 'pln_default' ? h('span', { class: 'muted small' }, 'from APIWS_PLAN_*')
          : h('button', { type: 'button', class: 'small ghost', onclick: () => edit(p) }, 'Edit')))));
    }).catch((e) => replace(rows, h('tr', {}, h('td', { colspan: 9, class: 'error' }, e.message))));
  }

  load();
  return {
    el: h('section', {},
      h('div', { class: 'page-head' }, h('h1', {}, 'Plans'),
        h('p', { class: 'muted' }, 'A plan\'s limits apply at once to every account on it; its prices bill from the next period. Put an account on a plan under Accounts.')),
      h('div', { class: 'card' },
        h('table', { class: 'table', id: 'plans' },
          h('thead', {}, h('tr', {}, ['Plan', '', 'Messages', 'Sends', 'Requests', 'Numbers', 'Price', 'Overage', ''].map((t) => h('th', {}, t)))),
          rows)),
      h('div', { class: 'card' }, form)),
  };
}
