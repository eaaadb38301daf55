// browsercheck.mjs opens the playground in headless Chromium and checks that
// GraphiQL renders with no console error, no failed request and no CSP
// violation; that a placeholder token is never sent; that a real token goes
// in the Authorization header over HTTP and in connection_init over the
// websocket; and that a subscription's events reach the result pane. It is
// a manual check, not run in CI.
//
//   cd server/playground/npm && npm ci && node browsercheck.mjs
//
// It starts `go run ./server/playground/cmd/demo` on a free port. The demo
// has no API, so the script answers /graphql itself: introspection from the
// repository's graph/schema, and a fake graphql-transport-ws server on the
// websocket. Screenshots go to ./screenshots/.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, introspectionFromSchema } from 'graphql';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../../..');
const shots = join(here, 'screenshots');
const TOKEN = 'Bearer test-token-1';

const problems = [];
function problem(msg) {
  problems.push(msg);
  console.log('PROBLEM:', msg);
}

function loadSchema() {
  const dir = join(repo, 'graph/schema');
  const sdl = readdirSync(dir)
    .filter((f) => f.endsWith('.graphqls'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
  return introspectionFromSchema(buildSchema(sdl));
}

// startDemo builds the demo and runs the binary itself, not `go run`, whose
// child would outlive a kill of the go command.
function startDemo() {
  const bin = join(mkdtempSync(join(tmpdir(), 'playground-demo-')), 'demo');
  execFileSync('go', ['build', '-o', bin, './server/playground/cmd/demo'], { cwd: repo, stdio: 'inherit' });
  return new Promise((ok, fail) => {
    const proc = spawn(bin, ['-addr', '127.0.0.1:0'], { stdio: ['ignore', 'inherit', 'pipe'] });
    let log = '';
    proc.stderr.on('data', (chunk) => {
      log += chunk;
      const m = log.match(/playground on (http:\/\/\S+)/);
      if (m) ok({ proc, url: m[1] });
    });
    proc.on('exit', (code) => fail(new Error(`demo exited with ${code}:\n${log}`)));
  });
}

// setHeaders replaces the visible headers editor's text through CodeMirror,
// the way typing would.
async function setHeaders(page, headers) {
  await page.evaluate((text) => {
    const editors = [...document.querySelectorAll('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror')];
    if (editors.length !== 1) throw new Error(`${editors.length} visible header editors`);
    editors[0].CodeMirror.setValue(text);
  }, JSON.stringify(headers));
}

async function response(page) {
  return page.evaluate(() => document.querySelector('.result-window .CodeMirror').CodeMirror.getValue());
}

// waitForResponse polls from here: page.waitForFunction evaluates a string
// in the page, which the page's CSP rightly refuses.
async function waitForResponse(page, text) {
  for (let i = 0; i < 100; i++) {
    if ((await response(page)).includes(text)) return;
    await page.waitForTimeout(100);
  }
  await page.screenshot({ path: join(shots, 'failure.png') });
  throw new Error(`result pane never showed ${text}: ${await response(page)}`);
}

async function main() {
  const introspection = loadSchema();
  const demo = await startDemo();
  console.log('demo at', demo.url);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    // Injected by the driver, so the CSP does not apply to it; it records
    // anything the policy blocked.
    await page.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI}`);
      });
    });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problem(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problem(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problem(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problem(`HTTP ${r.status()} for ${r.url()}`);
    });
    const origin = new URL(demo.url).origin;
    page.on('request', (r) => {
      if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) problem(`third-party request: ${r.url()}`);
    });

    const httpAuth = [];
    await page.route(`${origin}/graphql`, async (route) => {
      const req = route.request();
      const body = req.postDataJSON();
      if (body.operationName === 'IntrospectionQuery') {
        return route.fulfill({ json: { data: introspection } });
      }
      httpAuth.push(req.headers().authorization ?? null);
      if (process.env.DEBUG) console.log('HTTP', JSON.stringify(body));
      return route.fulfill({
        json: { data: { privacyPolicy: { version: '2026-01', effectiveAt: '2026-01-01T00:00:00Z' }, viewer: null } },
      });
    });

    const wsInits = [];
    await page.routeWebSocket(origin.replace('http', 'ws') + '/graphql', (ws) => {
      ws.onMessage((raw) => {
        const msg = JSON.parse(raw);
        if (msg.type === 'connection_init') {
          wsInits.push(msg.payload ?? null);
          ws.send(JSON.stringify({ type: 'connection_ack' }));
        } else if (msg.type === 'subscribe') {
          for (const [i, status] of ['SENT', 'DELIVERED', 'READ'].entries()) {
            ws.send(JSON.stringify({
              id: msg.id, type: 'next',
              payload: { data: { messageStatus: { cursor: String(i + 1), messageId: 'msg_demo', status, at: '2026-01-01T00:00:0' + i + 'Z' } } },
            }));
          }
        }
      });
    });

    await page.goto(demo.url, { waitUntil: 'load' });
    await page.waitForSelector('.graphiql-container');
    // The schema has arrived when the query editor can validate against it:
    // wait for the doc explorer to list the root types.
    await page.click('button[aria-label="Show Documentation Explorer"]');
    await page.waitForSelector('.graphiql-doc-explorer-root-type', { timeout: 10000 });
    await page.click('button[aria-label="Hide Documentation Explorer"]');
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'playground.png') });

    const tabs = await page.$$eval('.graphiql-tab-button', (els) => els.map((e) => e.textContent.trim()));
    console.log('tabs:', tabs);
    if (tabs.join(',') !== 'Example,SignUp,MessageStatus') problem(`tabs are ${tabs}`);
    const headersText = await page.evaluate(() => document.querySelector(
      '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror')?.CodeMirror.getValue());
    if (!headersText?.includes('Bearer <paste your token>')) problem(`headers editor holds ${headersText}`);

    // The unedited placeholder must not be sent.
    await page.click('.graphiql-execute-button');
    await waitForResponse(page, 'privacyPolicy');
    await setHeaders(page, { Authorization: TOKEN });
    await page.click('.graphiql-execute-button');
    await page.waitForTimeout(500);
    console.log('HTTP Authorization headers seen:', httpAuth);
    if (httpAuth[0] !== null) problem(`placeholder sent: ${httpAuth[0]}`);
    if (httpAuth[1] !== TOKEN) problem(`token not sent over HTTP: ${httpAuth[1]}`);

    await page.click('.graphiql-tab-button:has-text("MessageStatus")');
    await setHeaders(page, { Authorization: TOKEN });
    // GraphiQL updates the operation name after a tab switch with a delay;
    // running at once would send the previous tab's name.
    await page.waitForTimeout(1000);
    await page.click('.graphiql-execute-button');
    await waitForResponse(page, 'READ');
    console.log('connection_init payloads:', JSON.stringify(wsInits));
    if (wsInits.length !== 1 || wsInits[0]?.authorization !== TOKEN) problem(`connection_init payloads ${JSON.stringify(wsInits)}`);
    console.log('subscription result:', (await response(page)).replace(/\s+/g, ' '));
    await page.screenshot({ path: join(shots, 'subscription.png') });

    const violations = await page.evaluate(() => window.__cspViolations);
    for (const v of violations) problem(`CSP: ${v}`);
  } finally {
    demo.proc.kill();
    await browser.close();
  }
  if (problems.length) {
    console.log(`FAIL: ${problems.length} problem(s)`);
    process.exit(1);
  }
  console.log('OK; screenshots in', shots);
}

// A hung browser must not hang the check.
setTimeout(() => {
  console.error('FAIL: timed out');
  process.exit(1);
}, 120000).unref();

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
