// api.js talks to apiws's public GraphQL API with the operator key. The key
// lives in this module's memory only: never in web storage or a cookie,
// so a reload or a closed tab signs out.
import { ApiError, post } from '/dashboard/assets/api.js';

export { ApiError };

let key = null;

// signIn checks an operator key against the API and keeps it on success.
// A key that apiws does not know, or one of an account, is refused and
// nothing is kept.
export async function signIn(candidate) {
  const k = candidate.trim();
  if (!k) throw new ApiError('Enter an operator key.', 'UNAUTHENTICATED');
  try {
    await request(k, 'query OperatorCheck { supportQueue(status: [OPEN]) { id } }');
  } catch (e) {
    if (e.code === 'UNAUTHENTICATED') throw new ApiError('That operator key is wrong, revoked or expired.', e.code);
    if (e.code === 'FORBIDDEN') throw new ApiError('That is not an operator key: an account\'s session or API key cannot open the console.', e.code);
    throw e;
  }
  key = k;
}

// signOut forgets the key.
export function signOut() {
  key = null;
}

// signedIn reports whether a key is held.
export function signedIn() {
  return key !== null;
}

// keyHint says how the console is signed in, without any of the key's
// secret part on screen.
export function keyHint() {
  return key ? 'operator key (in memory)' : '';
}

// gql runs one operation with the key and returns its data; errors throw
// an ApiError with the API's extensions.code. A key that stops working
// (revoked, expired) signs out: onSignedOut is told.
export async function gql(query, variables) {
  if (!key) throw new ApiError('Signed out.', 'UNAUTHENTICATED');
  try {
    return await request(key, query, variables);
  } catch (e) {
    if (e.code === 'UNAUTHENTICATED') {
      key = null;
      if (onSignedOut) onSignedOut();
    }
    throw e;
  }
}

let onSignedOut = null;

// whenSignedOut sets what happens when the API refuses the key.
export function whenSignedOut(f) {
  onSignedOut = f;
}

function request(token, query, variables) {
  // credentials: 'omit': the dashboard's session cookie must not stand in
  // for a missing key.
  return post({ credentials: 'omit', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` } }, query, variables);
}
