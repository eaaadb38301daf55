// A whole apiws client in TypeScript: it signs in with an API key, registers
// a webhook endpoint that it serves itself, sends a text from a connected
// (sandbox) number, and follows the message over the events subscription
// (graphql-ws, or graphql-sse as the fallback) until it is READ, while the
// webhook receiver verifies every delivery's signature.
//
//   APIWS_URL        the server (default http://localhost:8080)
//   APIWS_API_KEY    an API key with the READ, SEND and MANAGE_WEBHOOKS scopes
//   APIWS_TO         the recipient (default +14155550123)
//   APIWS_TRANSPORT  websocket, sse, or auto (default: a websocket, else SSE)
//
// The webhook receiver listens on 127.0.0.1, so the server must allow
// private URLs (APIWS_ALLOW_PRIVATE_URLS=true): the sandbox's setting.
import { Client } from "./client.js";
import { CreateWebhookMutation, DeleteWebhookMutation, EventsSubscription, SendTextMutation, ViewerQuery } from "./operations.js";
import { subscribe, type Transport } from "./subscriptions.js";
import { WebhookReceiver } from "./webhook.js";

const base = process.env.APIWS_URL ?? "http://localhost:8080";
const apiKey = process.env.APIWS_API_KEY ?? "";
const to = process.env.APIWS_TO ?? "+14155550123";
const transport = (process.env.APIWS_TRANSPORT ?? "auto") as Transport | "auto";

async function main(): Promise<void> {
  if (!apiKey) throw new Error("APIWS_API_KEY is not set");
  const client = new Client(base, apiKey);

  // Sign in: the key's account, and a connected number to send from.
  const { viewer } = await client.request(ViewerQuery, {});
  if (!viewer) throw new Error("the API key signs in as no one");
  console.log(`signed in as ${viewer.name} (${viewer.id})`);
  const number = viewer.numbers.edges[0]?.node;
  if (!number) throw new Error("the account has no connected number");
  console.log(`sending from ${number.phone} (${number.id})`);

  // The webhook receiver, then its endpoint.
  const hook = new WebhookReceiver();
  await hook.start();
  const created = (await client.request(CreateWebhookMutation, { url: hook.url })).createWebhookEndpoint;
  if (created.userErrors.length) throw new Error(`createWebhookEndpoint: ${JSON.stringify(created.userErrors)}`);
  const endpointId = created.webhookEndpoint!.id;
  hook.setSecret(created.secret!);
  console.log(`webhook endpoint ${endpointId} at ${hook.url}`);

  // Follow the number's events before sending, so nothing is missed.
  const sub = await subscribe(base, apiKey, EventsSubscription, { numberId: number.id }, transport);
  console.log(`following events over ${sub.transport}`);
  try {
    const sent = (await client.request(SendTextMutation, { numberId: number.id, to, text: "Hello from the TypeScript example" })).sendMessage;
    if (sent.userErrors.length) throw new Error(`sendMessage: ${JSON.stringify(sent.userErrors)}`);
    const id = sent.message!.id;
    console.log(`sent ${id}: ${sent.message!.status}`);

    for await (const { events: ev } of sub.results) {
      if (ev.__typename !== "MessageStatusEvent" || ev.messageId !== id) continue;
      console.log(`event ${ev.type} ${ev.messageId} ${ev.status} (cursor ${ev.cursor})`);
      if (ev.status === "READ") break;
    }
    // The READ delivery may come a moment after the event.
    await hook.readOf(id);
    console.log("done");
  } finally {
    sub.close();
    await client.request(DeleteWebhookMutation, { id: endpointId }).catch(() => undefined);
    hook.close();
  }
}

const timeout = setTimeout(() => {
  console.error("example: timed out after 60 s");
  process.exit(1);
}, 60_000);
main().then(
  () => clearTimeout(timeout),
  (err: unknown) => {
    console.error("example:", err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
