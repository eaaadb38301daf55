// auth.js is the signed-out screen: log in, or sign up after reading the
// privacy policy in force.
import { gql, startSession, userErrorText } from '../api.js';
import { h, field, formValues, replace, day } from '../dom.js';

const POLICY = `query Policy { privacyPolicy { version summary effectiveAt } }`;

const SIGN_UP = `mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { token account { id } userErrors { field code message } }
}`;

const LOG_IN = `mutation LogIn($input: LogInInput!) {
  logIn(input: $input) { token account { id } userErrors { field code message } }
}`;

// submitAuth runs signUp or logIn, then moves the token into the cookie.
async function submitAuth(app, form, mutation, name, input) {
  const out = form.querySelector('.form-error');
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  replace(out);
  try {
    const payload = (await gql(mutation, { input }))[name];
    const problem = userErrorText(payload);
    if (problem) {
      replace(out, problem);
      return;
    }
    await startSession(payload.token);
    await app.signedIn();
  } catch (e) {
    replace(out, e.message);
  } finally {
    button.disabled = false;
  }
}

export function renderAuth(app) {
  const policyBox = h('div', { class: 'policy' }, 'Loading the privacy policy…');
  let policyVersion = '';
  gql(POLICY).then(({ privacyPolicy: p }) => {
    policyVersion = p.version;
    replace(policyBox,
      h('strong', {}, `Privacy policy, version ${p.version}`),
      h('span', { class: 'muted' }, ` (in force since ${day(p.effectiveAt)})`),
      h('p', { class: 'summary' }, p.summary));
    acceptLabel.textContent = `I have read and accept the privacy policy, version ${p.version}.`;
  }).catch((e) => replace(policyBox, h('span', { class: 'error' }, `The policy could not load: ${e.message}`)));

  const acceptLabel = h('span', {}, 'I have read and accept the privacy policy.');
  const signUp = h('form', {
    class: 'card', id: 'signup',
    onsubmit: (e) => {
      e.preventDefault();
      const v = formValues(signUp);
      if (!v.accept) {
        replace(signUp.querySelector('.form-error'), 'Please accept the privacy policy to sign up.');
        return;
      }
      const input = { name: v.name, email: v.email, password: v.password, birthDate: v.birthDate, acceptPolicyVersion: policyVersion };
      if (v.phone) input.phone = v.phone;
      if (v.business) input.business = { name: v.business };
      submitAuth(app, signUp, SIGN_UP, 'signUp', input);
    },
  },
  h('h2', {}, 'Create an account'),
  field('Name', h('input', { name: 'name', required: true, autocomplete: 'name' })),
  field('Email', h('input', { name: 'email', type: 'email', required: true, autocomplete: 'email' })),
  field('Password', h('input', { name: 'password', type: 'password', required: true, minlength: 8, autocomplete: 'new-password' })),
  field('Birth date', h('input', { name: 'birthDate', type: 'date', required: true }),
    'apiws is for people 16 and over. We check the date, then drop it: only the time of the check is kept.'),
  field('Business (optional)', h('input', { name: 'business', autocomplete: 'organization' })),
  field('Phone (optional)', h('input', { name: 'phone', type: 'tel', placeholder: '+14155550123' })),
  policyBox,
  h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'accept' }), acceptLabel),
  h('p', { class: 'form-error', role: 'alert' }),
  h('button', { type: 'submit' }, 'Sign up'));

  const logIn = h('form', {
    class: 'card', id: 'login',
    onsubmit: (e) => {
      e.preventDefault();
      const v = formValues(logIn);
      submitAuth(app, logIn, LOG_IN, 'logIn', { email: v.email, password: v.password });
    },
  },
  h('h2', {}, 'Log in'),
  field('Email', h('input', { name: 'email', type: 'email', required: true, autocomplete: 'username' })),
  field('Password', h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' })),
  h('p', { class: 'form-error', role: 'alert' }),
  h('button', { type: 'submit' }, 'Log in'));

  return {
    el: h('section', { class: 'auth' },
      h('div', { class: 'intro' },
        h('h1', {}, 'WhatsApp API, live.'),
        h('p', { class: 'muted' }, 'Connect numbers, send messages and watch every status change as it happens.')),
      h('div', { class: 'grid two' }, logIn, signUp)),
  };
}
