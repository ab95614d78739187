// Realm capacity sharing for calls (RealmCapacityPolicyAdapter at POL1) with accounting kept twice, each through
// lib/accounting's AccountingExporter to its own FreeRADIUS: the master's under the client provider's virtual
// identity, the provider's under each subscriber's. Calls of the FIG. 5/6 flow on the in-memory driver: the
// third concurrent call of a provider renting two ports is refused 503, a later one fits again.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DefaultPolicyAdapter, runCalls, type CallSpec } from "../../lib/index.js";
import { AccountingExporter } from "../../lib/accounting/exporter.js";
import { RealmCapacityPolicyAdapter } from "../../lib/auth/realm-capacity-adapter.js";
import { freeUdpPort, startFreeradiusLab } from "../support/freeradius-lab.mjs";

const dir = mkdtempSync(join(tmpdir(), "auth-realm-calls-"));
type Lab = Awaited<ReturnType<typeof startFreeradiusLab>>;
let master: Lab;
let client: Lab;
let masterExporter: AccountingExporter;
let clientExporter: AccountingExporter;

beforeAll(async () => {
  const ports = { m: await freeUdpPort(), c: await freeUdpPort() };
  [master, client] = await Promise.all([
    startFreeradiusLab({ dir: mkdtempSync(join(dir, "m-")), secret: "master-secret", authPort: await freeUdpPort(), acctPort: ports.m }),
    startFreeradiusLab({ dir: mkdtempSync(join(dir, "c-")), secret: "client-secret", authPort: await freeUdpPort(), acctPort: ports.c }),
  ]);
  masterExporter = await AccountingExporter.open({ spoolPath: join(dir, "master.spool"), servers: [{ address: "127.0.0.1", port: ports.m }], secret: "master-secret" });
  clientExporter = await AccountingExporter.open({ spoolPath: join(dir, "client.spool"), servers: [{ address: "127.0.0.1", port: ports.c }], secret: "client-secret" });
}, 60_000);

afterAll(async () => {
  await masterExporter?.close();
  await clientExporter?.close();
  await Promise.all([master?.stop(), client?.stop()]);
});

const call = (caller: string, startMs: number, id: string): CallSpec => ({ id, caller, callee: "sip:+15557654321@example.net", startMs, answerDelayMs: 1000, durationMs: 30_000, hangUp: "caller" });

describe("realm capacity for calls, accounted twice", () => {
  it("two ports rented: the third concurrent call refused 503, a later one connected; both detail files hold the right identities", async () => {
    const adapter = new RealmCapacityPolicyAdapter(new DefaultPolicyAdapter(), {
      masterRealms: ["master.example"],
      clients: [{ name: "isp-b", realms: ["isp-b.example"], virtualIdentity: { user: "isp-b-virtual" }, capacity: { ports: 2 }, accounting: clientExporter }],
      masterAccounting: masterExporter,
    });
    const result = await runCalls({
      driver: "memory",
      policy: { originating: adapter },
      calls: [
        call("sip:bob@isp-b.example", 0, "b1"),
        call("sip:carol@isp-b.example", 1000, "b2"),
        call("sip:dave@isp-b.example", 2000, "b3"),
        call("sip:alice@master.example", 3000, "m1"),
        call("sip:erin@isp-b.example", 60_000, "b4"),
      ],
    });
    const outcome = Object.fromEntries(result.calls.map((c) => [c.callId, c.established ? "connected" : c.finalStatusAtCaller]));
    expect(outcome).toEqual({ b1: "connected", b2: "connected", b3: 503, m1: "connected", b4: "connected" });
    expect(await masterExporter.drained(15_000)).toBe(true);
    expect(await clientExporter.drained(15_000)).toBe(true);
    const masterDetail = readFileSync(master.detailFile, "utf8");
    const clientDetail = readFileSync(client.detailFile, "utf8");
    // The master: three isp-b calls, Start and Stop each, under the virtual identity only.
    expect(masterDetail.match(/User-Name = "isp-b-virtual"/g)).toHaveLength(6);
    expect(masterDetail).not.toMatch(/bob@|carol@|dave@|erin@/);
    // The provider: its subscribers' own records; the refused one has none.
    for (const user of ["bob", "carol", "erin"]) expect(clientDetail.match(new RegExp(`User-Name = "${user}@isp-b.example"`, "g"))).toHaveLength(2);
    expect(clientDetail).not.toMatch(/dave@|isp-b-virtual/);
    expect(clientDetail).toMatch(/Acct-Session-Time = 30/);
  }, 120_000);
});
