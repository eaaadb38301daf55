// The HTTP side of the client: queries and mutations as automatic persisted
// queries. The hash goes first; a server that does not know it answers
// PERSISTED_QUERY_NOT_FOUND and gets the document once. A server in
// trusted-documents mode knows every listed document by its hash.
import { readFileSync } from "node:fs";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";

/** The documents GraphQL Code Generator wrote, by their id ("sha256:<hex>"). */
export const documents: Record<string, string> = JSON.parse(
  readFileSync(new URL("../src/gql/persisted-documents.json", import.meta.url), "utf8"),
);

/** A generated document, with the id the client preset embeds in it. */
type Document<R, V> = TypedDocumentNode<R, V> & { __meta__?: { hash?: string } };

/** The text of a generated document, exactly as hashed. */
export function textOf(doc: { __meta__?: { hash?: string } }): string {
  const id = doc.__meta__?.hash;
  const text = id && documents[id];
  if (!text) throw new Error(`document ${id} is not in persisted-documents.json: run npm run generate`);
  return text;
}

/** A GraphQL error, with its extensions.code. */
export class GraphQLError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(code ? `${message} (${code})` : message);
  }
}

export class Client {
  constructor(
    readonly base: string,
    readonly apiKey: string,
  ) {}

  /** Runs a query or mutation and returns its typed data. */
  async request<R, V>(doc: Document<R, V>, variables: V): Promise<R> {
    const hash = doc.__meta__!.hash!.replace(/^sha256:/, "");
    const extensions = { persistedQuery: { version: 1, sha256Hash: hash } };
    let res = await this.post({ variables, extensions });
    if (res.errors?.[0]?.extensions?.code === "PERSISTED_QUERY_NOT_FOUND") {
      res = await this.post({ query: textOf(doc), variables, extensions });
    }
    if (res.errors?.length) {
      throw new GraphQLError(res.errors[0].message, res.errors[0].extensions?.code);
    }
    return res.data as R;
  }

  private async post(body: object): Promise<{
    data?: unknown;
    errors?: { message: string; extensions?: { code?: string } }[];
  }> {
    const res = await fetch(`${this.base}/graphql`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${this.apiKey}` },
      body: JSON.stringify(body),
    });
    return res.json();
  }
}
