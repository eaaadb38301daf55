// Subscriptions: graphql-ws (graphql-transport-ws) first, graphql-sse as the
// fallback for networks whose proxies break websockets.
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { createClient as createSSEClient } from "graphql-sse";
import { createClient as createWSClient, type Client as WSClient } from "graphql-ws";
import WebSocket from "ws";

import { textOf } from "./client.js";

export type Transport = "websocket" | "sse";

/** A subscription's results, as they come, and a way to stop it. */
export interface Subscription<R> {
  transport: Transport;
  results: AsyncIterableIterator<R>;
  close(): void;
}

/**
 * subscribe starts doc over the transport asked for; "auto" tries a
 * websocket and falls back to SSE when it cannot connect within 5 s.
 */
export async function subscribe<R, V extends Record<string, unknown>>(
  base: string,
  apiKey: string,
  doc: TypedDocumentNode<R, V>,
  variables: V,
  transport: Transport | "auto",
): Promise<Subscription<R>> {
  const payload = { query: textOf(doc as { __meta__?: { hash?: string } }), variables };
  if (transport !== "sse") {
    const ws = await connectWebsocket(base, apiKey).catch((err: unknown) => {
      if (transport === "websocket") throw err;
      console.error(`websocket unavailable (${err}); falling back to SSE`);
      return undefined;
    });
    if (ws) {
      const results = ws.iterate<R>(payload);
      return { transport: "websocket", results: unwrap(results), close: () => void ws.dispose() };
    }
  }
  const sse = createSSEClient({
    url: `${base}/graphql`,
    headers: { Authorization: `Bearer ${apiKey}` },
    retryAttempts: 0,
  });
  const results = sse.iterate<R>(payload);
  return { transport: "sse", results: unwrap(results), close: () => sse.dispose() };
}

function connectWebsocket(base: string, apiKey: string): Promise<WSClient> {
  const client = createWSClient({
    url: base.replace(/^http/, "ws") + "/graphql",
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${apiKey}` },
    lazy: false,
    retryAttempts: 0,
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error("no connection_ack within 5 s")), 5000);
    const fail = (err: unknown) => {
      clearTimeout(timer);
      void client.dispose();
      reject(err instanceof Error ? err : new Error(String((err as { reason?: string })?.reason ?? err)));
    };
    client.on("connected", () => {
      clearTimeout(timer);
      resolve(client);
    });
    client.on("error", fail);
    client.on("closed", fail);
  });
}

/** unwrap yields each result's data, and throws its first error. */
async function* unwrap<R>(
  results: AsyncIterableIterator<{ data?: R | null; errors?: readonly { message: string }[] }>,
): AsyncIterableIterator<R> {
  for await (const r of results) {
    if (r.errors?.length) throw new Error(r.errors.map((e) => e.message).join("; "));
    if (r.data) yield r.data;
  }
}
