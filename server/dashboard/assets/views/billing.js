// billing.js: the account's plan and quota, its saved card (kept by the
// payment processor; apiws knows only its brand, last 4 digits and
// expiry), and its invoices with their PDFs and a way to pay the open ones.
import { gql, userErrorText, download } from '../api.js';
import { h, replace, day, pill } from '../dom.js';

const BILLING = `query Billing {
  viewer {
    plan { id name monthlyMessages sendsPerSecond requestsPerSecond numbersLimit monthlyPriceMinor currency overagePriceMinor }
    quota { used limit resetsAt }
    paymentMethod { brand last4 expMonth expYear }
    invoices(first: 24) {
      totalCount
      edges { node { id number periodStart issuedAt dueAt status currency totalMinor paidAt pdfUrl } }
    }
  }
}`;
const SETUP = 'mutation StartPaymentMethodSetup { startPaymentMethodSetup { url userErrors { field code message } } }';
const PAY = 'mutation PayInvoice($id: ID!) { payInvoice(id: $id) { url userErrors { field code message } } }';

// money formats an amount in the currency's minor unit, e.g. 4900 EUR as €49.00.
export function money(minor, currency) {
  try {
    const f = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    return f.format(minor / 10 ** f.resolvedOptions().maximumFractionDigits);
  } catch (e) {
    return `${minor} ${currency} (minor units)`;
  }
}

// OUTCOMES are what the payment processor's page reports when it sends the
// customer back (?billing=...).
const OUTCOMES = {
  paid: 'Payment received: the invoice shows PAID once the payment processor confirms it.',
  'card-saved': 'Card saved: it shows here once the payment processor confirms it.',
  cancelled: 'Nothing was charged.',
};

export function renderBilling(app) {
  const planBox = h('div', { class: 'card', id: 'plan' });
  const cardBox = h('div', { class: 'card', id: 'card' });
  const rows = h('tbody');

  // toPaymentPage opens the payment processor's page that a mutation
  // answers with, or says why there is none.
  async function toPaymentPage(button, run) {
    button.disabled = true;
    try {
      const p = await run();
      const problem = userErrorText(p);
      if (problem) {
        const unavailable = (p.userErrors || []).some((e) => e.code === 'UNAVAILABLE');
        app.toast(unavailable ? 'Online payment is not available on this server. Contact the operator to pay.' : problem, 'error');
        return;
      }
      location.assign(p.url);
    } catch (err) {
      app.toast(err.message, 'error');
    } finally {
      button.disabled = false;
    }
  }

  function drawPlan(plan, quota) {
    const price = plan.monthlyPriceMinor ? `${money(plan.monthlyPriceMinor, plan.currency)} a month` : 'Free';
    const overage = plan.overagePriceMinor != null
      ? `${money(plan.overagePriceMinor, plan.currency)} per message beyond them`
      : 'sends beyond them are refused until the quota resets';
    replace(planBox,
      h('h2', {}, `Plan: ${plan.name}`),
      h('p', { class: 'price' }, price),
      h('ul', { class: 'facts' },
        h('li', {}, `${plan.monthlyMessages.toLocaleString()} messages a month; ${overage}`),
        h('li', {}, `${plan.numbersLimit} WhatsApp numbers, ${plan.sendsPerSecond} messages a second each`),
        plan.requestsPerSecond ? h('li', {}, `${plan.requestsPerSecond} API requests a second per key`) : null),
      h('p', { id: 'quota' }, `Used this month: ${quota.used.toLocaleString()} of ${quota.limit.toLocaleString()} messages; resets ${day(quota.resetsAt)}.`),
      h('p', { class: 'muted' }, 'Plans are set by the operator of this server.'));
  }

  function drawCard(pm) {
    const setup = h('button', { type: 'button', id: 'save-card', onclick: (e) => toPaymentPage(e.target, async () => (await gql(SETUP)).startPaymentMethodSetup) },
      pm ? 'Replace card' : 'Save a card');
    replace(cardBox,
      h('h2', {}, 'Payment method'),
      pm
        ? h('p', { id: 'card-details' }, `${pm.brand.toUpperCase()} •••• ${pm.last4}, expires ${String(pm.expMonth).padStart(2, '0')}/${pm.expYear}`)
        : h('p', { class: 'muted', id: 'card-details' }, 'No card saved.'),
      h('p', { class: 'muted' }, 'Cards are entered on the payment processor\'s page: apiws never sees the number.'),
      setup);
  }

  function drawInvoices(invoices) {
    replace(rows, invoices.length ? invoices.map((inv) => h('tr', { dataset: { invoiceId: inv.id } },
      h('td', { class: 'mono' }, inv.number),
      h('td', {}, new Date(inv.periodStart).toLocaleDateString(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' })),
      h('td', {}, day(inv.issuedAt)),
      h('td', {}, inv.status === 'PAID' ? `paid ${day(inv.paidAt)}` : day(inv.dueAt)),
      h('td', { class: 'num' }, money(inv.totalMinor, inv.currency)),
      h('td', { class: 'status' }, pill(inv.status)),
      h('td', { class: 'actions' },
        h('button', {
          class: 'ghost small', type: 'button',
          onclick: () => download(new URL(inv.pdfUrl, location.href).pathname, `${inv.number}.pdf`).catch((err) => app.toast(err.message, 'error')),
        }, 'PDF'),
        inv.status === 'OPEN' ? h('button', {
          class: 'small', type: 'button',
          onclick: (e) => toPaymentPage(e.target, async () => (await gql(PAY, { id: inv.id })).payInvoice),
        }, 'Pay') : null)))
      : h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No invoices yet: they are issued after each month that costs something.')));
  }

  function load() {
    gql(BILLING).then((d) => {
      drawPlan(d.viewer.plan, d.viewer.quota);
      drawCard(d.viewer.paymentMethod);
      drawInvoices(d.viewer.invoices.edges.map((e) => e.node));
    }).catch((e) => app.toast(e.message, 'error'));
  }

  const outcome = new URLSearchParams(location.search).get('billing');
  if (OUTCOMES[outcome]) {
    app.toast(OUTCOMES[outcome], outcome === 'cancelled' ? 'error' : 'ok');
    history.replaceState(null, '', location.pathname + location.hash);
  }
  load();
  return {
    el: h('section', {},
      h('div', { class: 'page-head' }, h('h1', {}, 'Billing'),
        h('p', { class: 'muted' }, 'Your plan, your card and your monthly invoices.')),
      h('div', { class: 'grid two' }, planBox, cardBox),
      h('div', { class: 'card' },
        h('h2', {}, 'Invoices'),
        h('table', { class: 'table', id: 'invoices' },
          h('thead', {}, h('tr', {}, ['Number', 'Month', 'Issued', 'Due', 'Total', 'Status', ''].map((t) => h('th', {}, t)))),
          rows))),
  };
}
