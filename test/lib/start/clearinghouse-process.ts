// A clearinghouse process for tests that kill it: startClearinghouse on 127.0.0.1:PORT with its CDRs in the SQLite
// file FILE (its cdrFile, closed with the handle), serving the policy servers named in CLIENTS; prints "ready" once
// it listens.
//   tsx test/lib/start/clearinghouse-process.ts PORT FILE CLIENT[,CLIENT…]
import { startClearinghouse } from "../../../lib/start/index.js";

const [port, file, clients] = process.argv.slice(2);
const ch = await startClearinghouse({ listen: { host: "127.0.0.1", port: Number(port) }, clients: (clients ?? "").split(","), cdrFile: file ?? "" });
console.log(`ready ${ch.addresses.osp ?? ""}`);
process.once("SIGTERM", () => {
  void ch.close().then(() => process.exit(0));
});
