// api.js talks to apiws's public API over HTTP. Credentials travel in the
// HttpOnly session cookie, which this code never sees; the X-Requested-With
// header tells the server the request comes from a page of its own origin.

const HEADERS = { 'Content-Type': 'application/json', 'X-Requested-With': 'apiws' };

// ApiError is a GraphQL or HTTP error, with the API's extensions.code.
export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code || 'INTERNAL';
  }
}

// gql runs one query or mutation and returns its data; errors throw an
// ApiError carrying the first error's code. RATE_LIMITED is retried once
// after the wait the server asks for.
export async function gql(query, variables) {
  try {
    return await gqlOnce(query, variables);
  } catch (e) {
    // Refused before running, so trying again is safe; once, and only for
    // a short wait.
    if (e.code !== 'RATE_LIMITED' || !(e.retryAfterMs <= 5000)) throw e;
    await new Promise((ok) => setTimeout(ok, e.retryAfterMs));
    return gqlOnce(query, variables);
  }
}

function gqlOnce(query, variables) {
  return post({ headers: HEADERS, credentials: 'same-origin' }, query, variables);
}

// post sends one GraphQL operation with the given fetch options (headers,
// credentials) and returns its data; errors throw an ApiError carrying
// the first error's code (and the wait a RATE_LIMITED asks for).
export async function post(init, query, variables) {
  let res;
  try {
    res = await fetch('/graphql', { ...init, method: 'POST', body: JSON.stringify({ query, variables }) });
  } catch (e) {
    throw new ApiError('apiws cannot be reached', 'UNAVAILABLE');
  }
  let body;
  try {
    body = await res.json();
  } catch (e) {
    throw new ApiError(`unexpected answer (HTTP ${res.status})`, 'INTERNAL');
  }
  if (body.errors && body.errors.length) {
    const e = body.errors[0];
    const err = new ApiError(e.message, e.extensions && e.extensions.code);
    err.retryAfterMs = e.extensions && e.extensions.retryAfterMs;
    throw err;
  }
  return body.data;
}

// userErrorText joins a payload's userErrors into one line, '' when none.
export function userErrorText(payload) {
  const errs = (payload && payload.userErrors) || [];
  return errs.map((e) => (e.field ? `${e.field[e.field.length - 1]}: ` : '') + e.message).join('; ');
}

// startSession hands a fresh session token to the server, which keeps it in
// the HttpOnly cookie; the page forgets it right after.
export async function startSession(token) {
  const res = await fetch('/session', {
    method: 'POST', headers: HEADERS, credentials: 'same-origin', body: JSON.stringify({ token }),
  });
  if (!res.ok) throw new ApiError(`could not start the session (HTTP ${res.status})`, 'UNAUTHENTICATED');
}

// endSession removes the cookie (logOut ends the session itself first).
export async function endSession() {
  await fetch('/session', { method: 'DELETE', headers: HEADERS, credentials: 'same-origin' });
}

// download fetches a URL with the session cookie and saves the answer as a
// file; a plain link could not send the X-Requested-With header.
export async function download(url, fileName) {
  const res = await fetch(url, { headers: { 'X-Requested-With': 'apiws' }, credentials: 'same-origin' });
  if (!res.ok) throw new ApiError(`download failed (HTTP ${res.status})`, 'INTERNAL');
  const blob = await res.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10000);
  return blob;
}
