// The webhook endpoint: every delivery's signature is verified with the
// Standard Webhooks library; duplicates (the same webhook-id) are dropped.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export class WebhookReceiver {
  url = "";
  private server: Server;
  private hook?: Webhook;
  private seen = new Set<string>();
  private read = new Map<string, () => void>();
  private readPromises = new Map<string, Promise<void>>();

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
        res.statusCode = this.receive(body, headers);
        res.end();
      });
    });
  }

  /** Listens on a free port of 127.0.0.1. */
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/webhooks`;
  }

  /** The endpoint's secret (whsec_...), known once the endpoint is made. */
  setSecret(secret: string): void {
    this.hook = new Webhook(secret);
  }

  /** Resolves once a verified delivery says message id is READ. */
  readOf(id: string): Promise<void> {
    let p = this.readPromises.get(id);
    if (!p) {
      p = new Promise<void>((resolve) => this.read.set(id, resolve));
      this.readPromises.set(id, p);
    }
    return p;
  }

  close(): void {
    this.server.close();
  }

  private receive(body: string, headers: Record<string, string>): number {
    if (!this.hook) return 503;
    let delivery: { type: string; cursor: string | null; data: { messageId?: string; status?: string } };
    try {
      delivery = this.hook.verify(body, headers) as typeof delivery;
    } catch (err) {
      console.log(`webhook REJECTED ${headers["webhook-id"]}: ${err}`);
      return 401;
    }
    const id = headers["webhook-id"];
    if (this.seen.has(id)) return 204;
    this.seen.add(id);
    const { messageId, status } = delivery.data;
    console.log(`webhook verified ${delivery.type} ${messageId} ${status} (cursor ${delivery.cursor})`);
    if (delivery.type === "MESSAGE_STATUS" && status === "READ" && messageId) {
      void this.readOf(messageId);
      this.read.get(messageId)!();
    }
    return 204;
  }
}
