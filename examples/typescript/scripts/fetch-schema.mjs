// Saves the schema a running apiws publishes as schema.graphql, for
// GraphQL Code Generator. APIWS_URL names the server.
import { writeFile } from "node:fs/promises";

const base = process.env.APIWS_URL ?? "http://localhost:8080";
const res = await fetch(`${base}/graphql/schema.graphql`);
if (!res.ok) {
  console.error(`GET ${base}/graphql/schema.graphql: ${res.status}`);
  process.exit(1);
}
await writeFile("schema.graphql", await res.text());
console.error(`schema.graphql from ${base} (ETag ${res.headers.get("etag")})`);
