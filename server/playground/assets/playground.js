// playground.js starts GraphiQL against apiws. It is a file rather than an
// inline script so the page runs under a Content-Security-Policy that allows
// scripts from 'self' only.
(function () {
  'use strict';

  var root = document.getElementById('graphiql');
  var endpoint = root.dataset.endpoint;
  var httpURL = new URL(endpoint, location.href);
  // The websocket goes to the host the page came from, so the playground
  // works behind any proxy or domain without configuration.
  var wsURL = new URL(endpoint, location.href);
  wsURL.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';

  var PLACEHOLDER_HEADERS = JSON.stringify(
    { Authorization: 'Bearer <paste your token>' }, null, 2);

  // isPlaceholder tells an unedited template ("Bearer <paste your token>")
  // or an empty "Bearer" from a real token. Sending the placeholder would
  // make every request fail UNAUTHENTICATED, the schema fetch included, so
  // it is treated as no credentials at all.
  function isPlaceholder(value) {
    return typeof value !== 'string' || /^\s*(bearer\s*)?(<[^>]*>)?\s*$/i.test(value);
  }

  // withCredentials returns the headers from the Headers editor with a
  // placeholder Authorization removed, and the Authorization to use (or '').
  function withCredentials(headers) {
    var clean = {};
    var authorization = '';
    Object.keys(headers || {}).forEach(function (name) {
      var value = headers[name];
      if (name.toLowerCase() === 'authorization') {
        if (isPlaceholder(value)) {
          return;
        }
        authorization = String(value).trim();
      }
      clean[name] = value;
    });
    return { headers: clean, authorization: authorization };
  }

  function isCloseEvent(e) {
    return e !== null && typeof e === 'object' && 'code' in e && 'reason' in e;
  }

  // apiws reads websocket credentials from the connection_init payload, not
  // from headers, so the token from the Headers editor goes there. Each token
  // gets its own client: a token pasted into the editor applies to the next
  // subscription at once, while subscriptions already running under the old
  // token carry on until they end, when the lazy client closes its socket.
  var ws = null;
  function wsClientFor(authorization) {
    if (ws && ws.authorization === authorization) {
      return ws.client;
    }
    var client = graphqlWs.createClient({
      url: wsURL.href,
      lazy: true,
      connectionParams: function () {
        return authorization ? { authorization: authorization } : {};
      },
      // 4403 means the credentials were refused; retrying with the same
      // token cannot succeed, so the error is shown at once instead.
      shouldRetry: function (e) {
        return isCloseEvent(e) && e.code !== 4403;
      },
    });
    ws = { authorization: authorization, client: client };
    return client;
  }

  // fetcher sends queries and mutations over HTTP and subscriptions over the
  // websocket. GraphiQL's own fetcher decides which is which; only the
  // credentials are handled here.
  function fetcher(params, opts) {
    var creds = withCredentials(opts && opts.headers);
    var inner = GraphiQL.createFetcher({
      url: httpURL.href,
      wsClient: wsClientFor(creds.authorization),
      // Without a token, apiws falls back to the dashboard's session
      // cookie, which it honours only with this header (a cross-site form
      // cannot send it).
      headers: { 'X-Requested-With': 'apiws' },
    });
    return inner(params, Object.assign({}, opts, { headers: creds.headers }));
  }

  var GUIDE = [
    '# Welcome to the apiws GraphQL playground.',
    '#',
    '# Credentials go in the Headers editor below',
    '# (each tab has its own; they are never saved):',
    '#',
    '#   { "Authorization": "Bearer <token>" }',
    '#',
    '# Where tokens come from:',
    '# - dashboard sessions: `token` from signUp or',
    '#   logIn (next tab);',
    '# - API keys (apiws_...): `secret` from',
    '#   createApiKey, shown once; call it with a',
    '#   dashboard session token.',
    '#',
    '# Without a token, viewer is null and protected',
    '# fields answer UNAUTHENTICATED. Subscriptions',
    '# (last tab) use a websocket and send the same',
    '# token in their connection_init payload.',
    '#',
    '# Run with Ctrl-Enter or the play button.',
    '',
  ].join('\n');

  var TABS = [
    {
      query: GUIDE + [
        'query Example {',
        '  privacyPolicy {',
        '    version',
        '    effectiveAt',
        '  }',
        '  viewer {',
        '    id',
        '    name',
        '  }',
        '}',
        '',
      ].join('\n'),
    },
    {
      query: [
        '# signUp creates an account and returns a',
        '# dashboard session token: copy `token` into the',
        '# Headers editor as "Bearer <token>".',
        '# acceptPolicyVersion must be privacyPolicy.version',
        '# (first tab). The play button asks which to run.',
        '',
        'mutation SignUp($input: SignUpInput!) {',
        '  signUp(input: $input) {',
        '    token',
        '    account {',
        '      id',
        '      name',
        '    }',
        '    userErrors {',
        '      field',
        '      code',
        '      message',
        '    }',
        '  }',
        '}',
        '',
        '# logIn returns a new session token for an existing account.',
        'mutation LogIn($login: LogInInput!) {',
        '  logIn(input: $login) {',
        '    token',
        '    userErrors {',
        '      field',
        '      code',
        '      message',
        '    }',
        '  }',
        '}',
        '',
        '# createApiKey needs a dashboard session token in',
        '# the headers; the secret (apiws_...) is in this',
        '# response only, never again.',
        'mutation CreateApiKey {',
        '  createApiKey(input: { name: "playground", scopes: [READ, SEND] }) {',
        '    secret',
        '    apiKey {',
        '      id',
        '      name',
        '    }',
        '    userErrors {',
        '      field',
        '      code',
        '      message',
        '    }',
        '  }',
        '}',
        '',
      ].join('\n'),
      variables: JSON.stringify({
        input: {
          name: 'Ada Lovelace',
          email: 'ada@example.com',
          password: 'correct horse battery staple',
          birthDate: '1990-12-10',
          acceptPolicyVersion: '<privacyPolicy.version>',
        },
        login: {
          email: 'ada@example.com',
          password: 'correct horse battery staple',
        },
      }, null, 2),
    },
    {
      query: [
        '# messageStatus streams status changes of your',
        '# messages over a websocket (graphql-transport-ws).',
        '# It needs a token in the Headers editor; pass',
        '# after: "<cursor>" to resume where you left off.',
        '',
        'subscription MessageStatus {',
        '  messageStatus {',
        '    cursor',
        '    messageId',
        '    status',
        '    at',
        '  }',
        '}',
        '',
      ].join('\n'),
    },
  ].map(function (tab) {
    return Object.assign({ headers: PLACEHOLDER_HEADERS }, tab);
  });

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: TABS,
      defaultHeaders: PLACEHOLDER_HEADERS,
      defaultEditorToolsVisibility: 'headers',
      isHeadersEditorEnabled: true,
      // Tokens stay out of localStorage: a shared browser must not keep them.
      shouldPersistHeaders: false,
      // A namespace of our own, so another GraphiQL on this origin does not
      // see or overwrite these tabs.
      storage: GraphiQL.createLocalStorage({ namespace: 'apiws-playground' }),
    })
  );
})();
