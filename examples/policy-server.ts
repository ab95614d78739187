// A policy server process for the PEPs of the network: SIP proxies of the SIP AAA client type and one DiffServ
// edge router connect to it over COPS and get its decisions, until SIGINT or SIGTERM.
//   npx tsx examples/policy-server.ts [HOST:PORT]      (default 127.0.0.1 and a port the system picks)
import { DefaultPolicyAdapter, startPolicyServer, type AaaQuery, type AaaVerdict } from "../lib/index.js";

/** Callers whose account is closed are refused with 403; the rest get the default decisions. */
class ClosedAccounts extends DefaultPolicyAdapter {
  constructor(private readonly closed: ReadonlySet<string>) {
    super();
  }

  override decideAaa(q: AaaQuery): AaaVerdict {
    if (this.closed.has(q.caller)) return { allow: false, sipStatus: 403, reason: `account of ${q.caller} is closed` };
    return this.defaultVerdict(q);
  }
}

const server = await startPolicyServer({
  name: "PDP",
  listen: process.argv[2] ?? "127.0.0.1:0",
  policy: new ClosedAccounts(new Set(["sip:mallory@example.com"])),
  // The edge router this server provisions opens with this PEPID; SIP proxies may use any other.
  router: "edge-router",
  onDrop: (proto, cause, detail) => console.log(`dropped ${proto} ${cause} from ${detail}`),
});
server.events.on("decision", (e) => console.log(`${e.purpose} ${e.callId}: ${e.allow ? "yes" : `no (${e.reason ?? ""})`}`));
console.log(`policy server listening on cops ${server.addresses.cops ?? "?"}`);

await new Promise<void>((resolve) => {
  process.once("SIGINT", resolve);
  process.once("SIGTERM", resolve);
});
await server.close();
console.log("policy server stopped");
