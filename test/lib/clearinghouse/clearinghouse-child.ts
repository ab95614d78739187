// A clearinghouse process for the kill test: SQLite CDR store, HTTP on the given URL.
// Usage: node --import tsx clearinghouse-child.ts <db-file> <url>
import { SqliteCdrStore } from "../../../lib/adapters/cdr-store-sqlite.js";
import { Clearinghouse } from "../../../lib/roles/clearinghouse.js";
import { startClearinghouseServer } from "../../../lib/roles/clearinghouse-server.js";

const [dbPath, url] = process.argv.slice(2);
if (!dbPath || !url) {
  console.error("usage: clearinghouse-child.ts <db-file> <url>");
  process.exit(2);
}
const store = new SqliteCdrStore(dbPath);
// Report each retransmission the store absorbed (a record committed before a kill, confirmed after).
const insertOnce = store.insertOnce.bind(store);
store.insertOnce = async (record) => {
  const inserted = await insertOnce(record);
  if (!inserted) process.stdout.write(`duplicate ${record.messageId}\n`);
  return inserted;
};
const clearinghouse = new Clearinghouse({ routes: [{ prefix: "", destinations: [{ address: "[192.0.2.99]:5060" }] }], store });
const server = await startClearinghouseServer(clearinghouse, { url });
process.stdout.write(`listening ${server.url}\n`);
