// dom.js builds elements from plain data. Text always goes in as text, never
// as HTML, so nothing a user or the API supplies can become markup.

// h creates an element: h('button', {class: 'ghost', onclick: f}, 'Revoke').
// Props starting with "on" are listeners; "class", "text" and "dataset" are
// shortcuts; booleans set or drop an attribute; anything else is an
// attribute. Children may be strings, numbers, nodes, arrays, null or false.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    // Set as defaults too, so form.reset() comes back to them.
    else if (k === 'checked') el.checked = el.defaultChecked = v;
    else if (k === 'value' && (tag === 'input' || tag === 'textarea')) el.defaultValue = v;
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// svg creates an SVG element with attributes, for the usage charts.
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

// replace swaps el's children for the given ones.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// field is a labelled form control.
export function field(label, control, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'label' }, label), control,
    hint ? h('small', { class: 'muted' }, hint) : null);
}

let slots = 0;

// errorSlot is where showUserErrors puts the errors of the input field
// name (the last element of a userError's field path); the controls given
// are described by it and marked invalid while it holds an error.
export function errorSlot(name, ...controls) {
  const id = `error-${++slots}`;
  for (const c of controls) c.setAttribute('aria-describedby', id);
  return h('small', { class: 'field-error', id, dataset: { errorFor: name } });
}

// showUserErrors shows a payload's userErrors in form: each next to its
// field (the form's errorSlot for it), the rest in the form's .form-error;
// the first control at fault gets the focus. It returns whether there were
// any errors; called with none, it clears the form's errors.
export function showUserErrors(form, errors) {
  for (const s of form.querySelectorAll('[data-error-for]')) s.textContent = '';
  for (const c of form.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
  const general = form.querySelector('.form-error');
  if (general) general.textContent = '';
  let first = null;
  for (const e of errors || []) {
    const name = e.field && e.field[e.field.length - 1];
    const slot = name && [...form.querySelectorAll('[data-error-for]')].find((s) => s.dataset.errorFor === name);
    const out = slot || general;
    if (!out) continue;
    out.textContent = out.textContent ? `${out.textContent} ${e.message}` : e.message;
    if (!slot) continue;
    const controls = form.querySelectorAll(`[aria-describedby="${slot.id}"]`);
    for (const c of controls) c.setAttribute('aria-invalid', 'true');
    first = first || controls[0];
  }
  if (first) first.focus();
  return Boolean(errors && errors.length);
}

// copyText puts text on the clipboard, falling back to selecting it in
// input when the browser refuses clipboard access.
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (e) {
    input.select();
    return document.execCommand && document.execCommand('copy');
  }
}

// formValues reads a form's named controls; checkboxes sharing a name give
// the list of checked values, a lone checkbox a boolean.
export function formValues(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.type === 'checkbox') {
      const group = form.querySelectorAll(`input[type=checkbox][name="${el.name}"]`);
      if (group.length > 1) {
        out[el.name] = out[el.name] || [];
        if (el.checked) out[el.name].push(el.value);
      } else {
        out[el.name] = el.checked;
      }
    } else {
      out[el.name] = el.value.trim();
    }
  }
  return out;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

// when formats an RFC 3339 time for people; '—' when there is none.
export function when(t) {
  return t ? dateTime.format(new Date(t)) : '—';
}

// day formats an RFC 3339 time as a date.
export function day(t) {
  return t ? dateOnly.format(new Date(t)) : '—';
}

// pill is a status badge whose colour comes from the status's class.
export function pill(status) {
  return h('span', { class: `pill s-${String(status).toLowerCase()}`, text: status.replaceAll('_', ' ') });
}
