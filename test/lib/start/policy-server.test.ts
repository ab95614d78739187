// startPolicyServer on loopback, serving PEPs written outside the library: a raw SIP AAA PEP (client type 0x8cb1)
// of its own PEPID asks REQ AAA / LDP / noLDP, an edge router started with startEdgeRouter installs and removes
// the classifiers, the user's policy adapter answers after a delay; unknown, slow and flooding PEPs are refused.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DefaultPolicyAdapter, type AaaQuery, type AaaVerdict } from "../../../lib/adapters/policy-adapter.js";
import type { CallEvent } from "../../../lib/flow/call-events.js";
import { startOperations } from "../../../lib/flow/operations.js";
import { startEdgeRouter, startPolicyServer, type RoleHandle } from "../../../lib/start/index.js";
import type { EdgeRouter } from "../../../lib/roles/edge-router.js";
import type { PolicyServer } from "../../../lib/roles/policy-server.js";
import { ClientType, ErrorCode, buildSipAaaRequest, encodeCopsMessage, parseSipAaaDecision, type CopsMessage, type SipAaaMediaFlow } from "../../../protocols/cops/index.js";
import { floodAaa, handleOf } from "../../support/hostile-pdp.js";
import { RawPep } from "../../support/raw-cops-pep.js";

/** Refuses callers named mallory, 40 ms after being asked (a remote lookup's delay). */
class SlowAuthoriser extends DefaultPolicyAdapter {
  asked: string[] = [];
  override decideAaa(q: AaaQuery): Promise<AaaVerdict> {
    this.asked.push(q.caller);
    return new Promise((resolve) =>
      setTimeout(() => resolve(q.caller.includes("mallory") ? { allow: false, sipStatus: 403, reason: "mallory is suspended" } : { allow: true }), 40),
    );
  }
}

const flow: SipAaaMediaFlow = { protocol: 17, family: 4, srcAddress: "192.0.2.10", srcPort: 49170, dstAddress: "192.0.2.20", dstPort: 3456, codec: "PCMU/8000", bandwidthBps: 64000 };
const opn = (pepId: string, clientType: number = ClientType.SipAaa): CopsMessage => ({ op: "OPN", clientType, pepId });
const call = (n: number, caller: string) => ({ callId: `start-${n}@example.net`, caller, callee: "sip:bob@example.net", flows: [flow] });

const policy = new SlowAuthoriser();
const events: CallEvent[] = [];
const drops: string[] = [];
let pdp: RoleHandle<PolicyServer>;
let router: RoleHandle<EdgeRouter>;
let port: number;

async function until(what: string, done: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !done(); ) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  pdp = await startPolicyServer({
    name: "pdp",
    policy,
    router: "edge-1",
    peps: [{ pepId: "softswitch.example.net" }, { pepId: "edge-1" }],
    maxRequestStates: 50,
    limits: { headerTimeoutMs: 300 },
    onDrop: (proto, cause) => drops.push(`${proto} ${cause}`),
  });
  pdp.events.on("*", (e) => events.push(e));
  port = Number(pdp.addresses.cops?.split(":")[1]);
  router = await startEdgeRouter({ name: "edge", pepId: "edge-1", pdp: pdp.addresses.cops ?? "" });
  await until("the router's configuration state open", () => router.node.copsRequestStates === 1);
});

afterAll(async () => {
  await router?.close();
  await pdp?.close();
});

describe("startPolicyServer serves a foreign SIP AAA PEP", () => {
  it("binds a loopback port of its own and says so", () => {
    expect(pdp.addresses.cops).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(port).toBeGreaterThan(0);
  });

  it("alice: DEC AAA yes after the adapter's delay, DEC LDP yes once the router installed the flow, DEC noLDP and a local usage report", async () => {
    const pep = new RawPep(port);
    pep.send(opn("softswitch.example.net"));
    expect((await pep.next()).op).toBe("CAT");
    const started = Date.now();
    pep.send(buildSipAaaRequest("AAA", handleOf(1), call(1, "sip:alice@example.com")));
    expect(parseSipAaaDecision(await pep.next())).toMatchObject({ purpose: "AAA", allowed: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
    pep.send(buildSipAaaRequest("LDP", handleOf(1), call(1, "sip:alice@example.com")));
    expect(parseSipAaaDecision(await pep.next())).toMatchObject({ purpose: "LDP", allowed: true });
    expect(router.node.classifiers.size).toBe(1);
    pep.send(buildSipAaaRequest("noLDP", handleOf(1), { ...call(1, "sip:alice@example.com"), connectedMs: 2500 }));
    expect(parseSipAaaDecision(await pep.next())).toMatchObject({ purpose: "noLDP", allowed: true });
    expect(router.node.classifiers.size).toBe(0);
    await until("usage reported", () => events.some((e) => e.type === "usage" && e.callId === "start-1@example.net"));
    expect(events.find((e) => e.type === "usage" && e.callId === "start-1@example.net")).toMatchObject({ role: "pdp", durationS: 3, reported: "local" });
    pep.end();
  });

  it("mallory: DEC AAA no with the adapter's 403 and reason, and a decision event on the handle's bus", async () => {
    const pep = new RawPep(port);
    pep.send(opn("softswitch.example.net"));
    expect((await pep.next()).op).toBe("CAT");
    pep.send(buildSipAaaRequest("AAA", handleOf(2), call(2, "sip:mallory@example.com")));
    expect(parseSipAaaDecision(await pep.next())).toMatchObject({ purpose: "AAA", allowed: false, info: { reason: { code: 403, text: "mallory is suspended" } } });
    expect(events).toContainEqual(expect.objectContaining({ type: "decision", callId: "start-2@example.net", role: "pdp", purpose: "AAA", allow: false }));
    expect(policy.asked).toEqual(["sip:alice@example.com", "sip:mallory@example.com"]);
    pep.end();
  });
});

describe("PEPs it does not serve", () => {
  it("an unlisted PEPID gets CC Error 14 and a close, counted as a drop", async () => {
    const pep = new RawPep(port);
    pep.send(opn("intruder.example.com"));
    expect(await pep.refusedWith()).toBe(ErrorCode.AuthenticationFailure);
    expect(drops).toContain("COPS cops-pep-not-admitted");
  });

  it("the router's PEPID while the router holds it gets CC Error 14; the router stays connected", async () => {
    const pep = new RawPep(port);
    pep.send(opn("edge-1", ClientType.DiffServPr));
    expect(await pep.refusedWith()).toBe(ErrorCode.AuthenticationFailure);
    expect(router.node.copsRequestStates).toBe(1);
  });

  it("a slow PEP that sends half a common header is closed at the header deadline", async () => {
    const pep = new RawPep(port);
    pep.write(Buffer.from([0x10, 0x06]));
    const t = Date.now();
    await pep.closed;
    expect(Date.now() - t).toBeLessThan(3000);
    expect(drops).toContain("COPS header-timeout");
  });

  it("a PEP flooding 2,000 REQs its adapter has not decided yet gets CC Error 4 and a close; the server holds nothing for it and serves the next PEP", async () => {
    const pep = new RawPep(port);
    pep.send(opn("softswitch.example.net"));
    expect((await pep.next()).op).toBe("CAT");
    const batch: Buffer[] = [];
    for (let n = 1000; n < 3000; n++) batch.push(encodeCopsMessage(floodAaa(n)));
    pep.write(Buffer.concat(batch));
    expect(await pep.refusedWith()).toBe(ErrorCode.UnableToProcess);
    await until("the flood's states gone", () => pdp.node.copsRequestStates === 0 && pdp.node.pendingDecisions === 0, 10_000);
    const next = new RawPep(port);
    next.send(opn("softswitch.example.net"));
    expect((await next.next()).op).toBe("CAT");
    next.send(buildSipAaaRequest("AAA", handleOf(5), call(5, "sip:carol@example.com")));
    expect(parseSipAaaDecision(await next.next())).toMatchObject({ purpose: "AAA", allowed: true });
    next.end();
  }, 30_000);
});

describe("the metrics hook", () => {
  it("a policy server given startOperations feeds its decisions, refusals and connections to Prometheus metrics", async () => {
    const ops = await startOperations({ name: "pdp-ops", logLevel: "silent", metrics: { host: "127.0.0.1", port: 0 }, callRoles: [], sampleMs: 50 });
    const served = await startPolicyServer({ name: "pdp-ops", operations: ops, peps: [{ pepId: "softswitch.example.net" }] });
    try {
      const at = Number(served.addresses.cops?.split(":")[1]);
      const pep = new RawPep(at);
      pep.send(opn("softswitch.example.net"));
      expect((await pep.next()).op).toBe("CAT");
      pep.send(buildSipAaaRequest("AAA", handleOf(1), call(11, "sip:alice@example.com")));
      expect(parseSipAaaDecision(await pep.next())).toMatchObject({ allowed: true });
      const intruder = new RawPep(at);
      intruder.send(opn("intruder.example.com"));
      expect(await intruder.refusedWith()).toBe(ErrorCode.AuthenticationFailure);
      await new Promise((r) => setTimeout(r, 120)); // a gauge sample
      const text = await (await fetch(`http://${ops.metricsAddress ?? ""}/metrics`)).text();
      const sample = (name: string, labels: Record<string, string>): number | undefined => {
        for (const line of text.split("\n")) {
          if (!line.startsWith(`${name}{`)) continue;
          if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(" ") + 1));
        }
        return undefined;
      };
      expect(sample("callgate_decisions_total", { role: "pdp-ops", kind: "AAA", verdict: "allow" })).toBe(1);
      expect(sample("callgate_drops_total", { proto: "COPS", cause: "cops-pep-not-admitted" })).toBe(1);
      expect(sample("callgate_connections", { listener: "pdp-ops COPS" })).toBe(1);
      expect(sample("callgate_cops_request_states", { peer: "pdp-ops" })).toBe(1);
      pep.end();
    } finally {
      await served.close();
      await ops.close();
    }
  });
});
