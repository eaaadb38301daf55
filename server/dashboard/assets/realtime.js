// realtime.js is a small graphql-transport-ws client for the dashboard's
// subscriptions. One websocket carries them all. The session cookie goes
// with the upgrade request, so connection_init carries no token. When the
// socket drops, it reconnects with a growing delay and subscribes again,
// asking each subscription for its variables anew: that is how messageStatus
// resumes with `after` set to the last cursor it saw.

const PROTOCOL = 'graphql-transport-ws';
// closeForbidden is the server's answer to missing or refused credentials;
// retrying cannot help.
const CLOSE_FORBIDDEN = 4403;

// streamError is the first of a subscription's GraphQL errors as an Error
// carrying its extensions.code and its path: an error with a path is about
// one field of one event; one without ends the subscription.
function streamError(errors) {
  const e = (Array.isArray(errors) && errors[0]) || {};
  const err = new Error(e.message || 'subscription failed');
  err.code = (e.extensions && e.extensions.code) || 'INTERNAL';
  err.path = e.path || null;
  return err;
}

export class Realtime {
  // onState is told 'connecting', 'live', 'reconnecting', 'idle' (no
  // subscription, no socket) or 'closed'.
  constructor(onState) {
    this.onState = onState || (() => {});
    this.subs = new Map();
    this.nextId = 1;
    this.ws = null;
    this.acked = false;
    this.retries = 0;
    this.timer = null;
    this.stopped = false;
  }

  // subscribe starts a subscription. variables is a function, called at
  // every (re)subscription; onNext gets each payload's data; onError gets
  // an Error (with the API's extensions.code as its code, and its path)
  // when the server reports errors or ends the subscription with one. It
  // returns a function that stops the subscription.
  subscribe(query, variables, onNext, onError) {
    const id = String(this.nextId++);
    const sub = { query, variables, onNext, onError: onError || (() => {}) };
    this.subs.set(id, sub);
    if (this.acked) this.send({ id, type: 'subscribe', payload: this.payload(sub) });
    else this.connect();
    return () => {
      if (!this.subs.delete(id)) return;
      if (this.acked) this.send({ id, type: 'complete' });
    };
  }

  // close ends every subscription and the socket for good (logging out).
  close() {
    this.stopped = true;
    this.subs.clear();
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, 'bye');
    this.onState('closed');
  }

  payload(sub) {
    return { query: sub.query, variables: sub.variables() };
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  connect() {
    if (this.ws || this.stopped) return;
    const url = new URL('/graphql', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    this.onState(this.retries ? 'reconnecting' : 'connecting');
    const ws = new WebSocket(url, PROTOCOL);
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    ws.onmessage = (e) => this.receive(JSON.parse(e.data));
    ws.onclose = (e) => this.closed(ws, e.code);
  }

  receive(msg) {
    const sub = this.subs.get(msg.id);
    switch (msg.type) {
      case 'connection_ack':
        this.acked = true;
        this.retries = 0;
        this.onState('live');
        for (const [id, s] of this.subs) this.send({ id, type: 'subscribe', payload: this.payload(s) });
        break;
      case 'ping':
        this.send({ type: 'pong' });
        break;
      case 'next':
        if (sub && msg.payload.data) sub.onNext(msg.payload.data);
        if (sub && msg.payload.errors) sub.onError(streamError(msg.payload.errors));
        break;
      case 'error':
        if (sub) {
          this.subs.delete(msg.id);
          sub.onError(streamError(msg.payload));
        }
        break;
      case 'complete':
        this.subs.delete(msg.id);
        break;
    }
  }

  closed(ws, code) {
    if (this.ws !== ws) return;
    this.ws = null;
    this.acked = false;
    if (this.stopped) return;
    if (code === CLOSE_FORBIDDEN) {
      this.onState('closed');
      return;
    }
    if (this.subs.size === 0) {
      this.onState('idle');
      return;
    }
    this.retries++;
    this.onState('reconnecting');
    const delay = Math.min(10000, 250 * 2 ** Math.min(this.retries, 6));
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
