// One call through roles each started on its own sockets with the start functions: a caller (startUserAgent)
// → a SIP proxy (startSipProxy) asking a policy server (startPolicyServer, OSP to a clearinghouse started with
// startClearinghouse in its own process, an edge router from startEdgeRouter) → a callee (startUserAgent). The
// clearinghouse process is SIGKILLed in the middle of the conversation: the usage report is retried until it is
// started again on the same CDR file, and stored there once.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteCdrStore } from "../../../lib/adapters/cdr-store-sqlite.js";
import { OspClearinghouseAdapter } from "../../../lib/adapters/osp-clearinghouse-adapter.js";
import type { CallEvent } from "../../../lib/flow/call-events.js";
import { startEdgeRouter, startPolicyServer, startSipProxy, startUserAgent, type RoleHandle } from "../../../lib/start/index.js";
import { freePort } from "../../interop/sip-sipp-helpers.js";

const dir = mkdtempSync(join(tmpdir(), "callgate-start-"));
const cdrFile = join(dir, "cdr.sqlite");
const started: RoleHandle[] = [];

async function until(what: string, done: () => boolean, ms = 15_000): Promise<void> {
  for (const end = Date.now() + ms; !done(); ) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const children: ChildProcess[] = [];

/** The clearinghouse in a process of its own (startClearinghouse, SQLite CDRs in `cdrFile`), once it listens. */
async function clearinghouseOn(port: number): Promise<ChildProcess> {
  // One process (tsx as a loader, not its CLI, which runs the script in a child of its own): a kill reaches it.
  const child = spawn(process.execPath, ["--import", "tsx", join("test", "lib", "start", "clearinghouse-process.ts"), String(port), cdrFile, "POL1"], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  await until("the clearinghouse process ready", () => out.includes("ready"), 30_000);
  return child;
}

afterAll(async () => {
  for (const h of started.reverse()) await h.close();
  for (const c of children) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

describe("a call through roles started one by one on loopback", () => {
  it("is authorised by the clearinghouse, policed, connected and billed once although the clearinghouse process was SIGKILLed before it ended", async () => {
    const chPort = await freePort();
    const proxyPort = await freePort();
    const calleePort = await freePort();
    const callerPort = await freePort();
    const ch = await clearinghouseOn(chPort);
    const events: CallEvent[] = [];
    const pdp = await startPolicyServer({
      name: "POL1",
      router: "r1",
      clearinghouse: new OspClearinghouseAdapter({ peer: "CH", idPrefix: "pol1" }),
      clearinghouseAt: { host: "127.0.0.1", port: chPort },
      usageRetryMs: 300,
    });
    started.push(pdp);
    pdp.events.on("*", (e) => events.push(e));
    const router = await startEdgeRouter({ name: "R1", pdp: pdp.addresses.cops ?? "" });
    started.push(router);
    const proxy = await startSipProxy({ name: "SIP1", host: "sip1.example.com", listen: { host: "127.0.0.1", port: proxyPort }, pdp: pdp.addresses.cops ?? "", nextHop: { host: "127.0.0.1", port: calleePort }, callers: { alice: { host: "127.0.0.1", port: callerPort } } });
    started.push(proxy);
    const callee = await startUserAgent({
      name: "bob", host: "bob.example.net", mediaAddress: "192.0.2.20", listen: { host: "127.0.0.1", port: calleePort }, proxy: { host: "127.0.0.1", port: proxyPort },
      behaviour: () => ({ outcome: "answer", answerDelayMs: 100, durationMs: 0, hangsUp: false }),
    });
    started.push(callee);
    const callId = "through-roles-1@example.com";
    const caller = await startUserAgent({
      name: "alice", host: "alice.example.com", mediaAddress: "192.0.2.10", listen: { host: "127.0.0.1", port: callerPort }, proxy: proxy.addresses.sip ?? "",
      calls: [{ callId, from: "sip:alice@example.com", to: "sip:bob@example.net", startMs: 50, durationMs: 1500, hangUp: "caller" }],
    });
    started.push(caller);
    const callerEvents: CallEvent[] = [];
    caller.events.on("*", (e) => callerEvents.push(e));

    await until("the call established at the caller", () => callerEvents.some((e) => e.type === "established"));
    expect(events).toContainEqual(expect.objectContaining({ type: "decision", purpose: "AAA", allow: true, callId }));
    expect(router.node.classifiers.size).toBeGreaterThan(0);

    // The clearinghouse process dies in the conversation; the caller hangs up while it is gone.
    ch.kill("SIGKILL");
    await new Promise((resolve) => ch.once("exit", resolve));
    await until("the caller's BYE answered", () => callerEvents.some((e) => e.type === "terminated"));
    await until("the usage report retried", () => events.filter((e) => e.type === "usage" && e.reported === "pending").length >= 2).catch((err: unknown) => { throw new Error(`${String(err)} ${JSON.stringify(events.slice(-6))} backlog ${pdp.node.usageBacklog}`); });
    expect(pdp.node.usageBacklog).toBe(1);

    const restarted = await clearinghouseOn(chPort);
    await until("the usage confirmed", () => events.some((e) => e.type === "usage" && e.reported === "clearinghouse"));
    expect(pdp.node.usageBacklog).toBe(0);
    restarted.kill("SIGTERM");
    await new Promise((resolve) => restarted.once("exit", resolve));
    const store = new SqliteCdrStore(cdrFile, { readOnly: true });
    const cdrs = await store.query();
    await store.close();
    expect(cdrs).toHaveLength(1);
    expect(cdrs[0]).toMatchObject({ role: "source" });
    expect(router.node.classifiers.size).toBe(0);
    expect(proxy.node.activeCalls).toBe(0);
    expect(pdp.gauges.requestStates()).toEqual({ POL1: 0 });
  }, 60_000);

  it("a caller the proxy does not know (started with its defaults: a port of the system's, its Via naming it) is answered at its Via and its call connects and ends", async () => {
    const proxyPort = await freePort();
    const calleePort = await freePort();
    const pdp = await startPolicyServer({ router: "r9" });
    started.push(pdp);
    const router = await startEdgeRouter({ pepId: "r9", pdp: pdp.addresses.cops ?? "" });
    started.push(router);
    const proxy = await startSipProxy({ listen: { host: "127.0.0.1", port: proxyPort }, pdp: pdp.addresses.cops ?? "", nextHop: { host: "127.0.0.1", port: calleePort } });
    started.push(proxy);
    started.push(await startUserAgent({ name: "callee", listen: { host: "127.0.0.1", port: calleePort }, proxy: { host: "127.0.0.1", port: proxyPort }, behaviour: () => ({ outcome: "answer", answerDelayMs: 50, durationMs: 0, hangsUp: false }) }));
    const records: string[] = [];
    const caller = await startUserAgent({
      name: "caller", proxy: proxy.addresses.sip ?? "", onRecord: (r) => records.push(r.msg),
      calls: [{ callId: "unknown-caller@example.com", from: "sip:carol@example.com", to: "sip:dave@example.net", startMs: 0, durationMs: 300, hangUp: "caller" }],
    });
    started.push(caller);
    const seen: CallEvent[] = [];
    caller.events.on("*", (e) => seen.push(e));
    await until("the call ended at the caller", () => seen.some((e) => e.type === "terminated"));
    expect(seen.find((e) => e.type === "terminated")).toMatchObject({ callId: "unknown-caller@example.com" });
    expect(seen.some((e) => e.type === "established")).toBe(true);
    expect(records).toEqual(["INVITE", "ACK", "BYE"]);
    await until("the proxy released the call", () => proxy.node.activeCalls === 0);
  }, 60_000);
});
