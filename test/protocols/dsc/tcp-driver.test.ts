// Five DSCs on loopback, each its own DscNode with mutual TLS: random authorise / terminate traffic in concurrent
// batches, DSCs closed and started again on their port mid-run, and hostile peers on the listener.
import fc from "fast-check";
import { connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthorityMap, DscNode, encodeDscFrame, type DscNodeOptions } from "../../../protocols/dsc/index.js";
import { makeTestPki, type TestPki } from "../../support/tls-test-pki.js";
import { ENTITIES, activeFor, entitiesOf, thresholds, type ActiveSession } from "./traffic.js";

const IDS = ["dsc-0", "dsc-1", "dsc-2", "dsc-3", "dsc-4"];
const AUTHORITY = new AuthorityMap(IDS);
const threshold = thresholds();
let pki: TestPki;
const nodes = new Map<string, DscNode | undefined>();
const ports = new Map<string, number>();

function options(id: string, extra: Partial<DscNodeOptions> = {}): DscNodeOptions {
  const cred = pki.credentials[id] as { certificatePem: string; keyPem: string };
  return {
    id,
    threshold,
    listen: { host: "127.0.0.1", port: ports.get(id) ?? 0 },
    peers: IDS.filter((p) => p !== id).map((p) => ({ id: p, host: "127.0.0.1", port: ports.get(p) ?? 0 })),
    tls: { key: cred.keyPem, cert: cred.certificatePem, ca: pki.caPem },
    reconnectMs: 50,
    requestTimeoutMs: 2000,
    ...extra,
  };
}

async function startNode(id: string): Promise<DscNode> {
  const node = new DscNode(options(id));
  ports.set(id, await node.start());
  nodes.set(id, node);
  return node;
}

function node(id: string): DscNode {
  const n = nodes.get(id);
  if (n === undefined) throw new Error(`${id} is down`);
  return n;
}

async function within<T>(what: string, p: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(what: string, check: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const allLinksUp = (): boolean => IDS.every((a) => IDS.every((b) => a === b || (nodes.get(a)?.connected(b) ?? false)));

beforeAll(async () => {
  pki = makeTestPki([...IDS, "dsc-stranger"]);
  for (const id of IDS) await startNode(id);
  for (const id of IDS) for (const p of IDS) if (p !== id) node(id).setPeerAddress(p, "127.0.0.1", ports.get(p) as number);
  await until("all links up", allLinksUp);
});

afterAll(async () => {
  for (const n of nodes.values()) await n?.close();
});

interface Batch {
  authorise: { dsc: number; user: number; userOnly: boolean }[];
  ends: number;
  kill: number | undefined;
  restart: boolean;
}

const batchArb: fc.Arbitrary<Batch> = fc.record({
  authorise: fc.array(fc.record({ dsc: fc.nat(4), user: fc.nat(5), userOnly: fc.boolean() }), { minLength: 1, maxLength: 10 }),
  ends: fc.nat(4),
  kill: fc.option(fc.nat(4), { freq: 4 }),
  restart: fc.boolean(),
});

let nextSession = 0;

async function runBatches(batches: Batch[], faults: boolean): Promise<{ granted: number; refused: number }> {
  const active = new Map<string, ActiveSession>();
  let granted = 0;
  let refused = 0;
  for (const b of batches) {
    // Concurrent: every authorisation of the batch is in flight at once.
    const asked = b.authorise
      .filter((a) => nodes.get(IDS[a.dsc] as string) !== undefined)
      .map(async (a) => {
        const owner = IDS[a.dsc] as string;
        const id = `t${nextSession++}`;
        const entities = entitiesOf(a.user, a.userOnly);
        const d = await node(owner).authorise({ sessionId: id, entities, server: `pol-${a.dsc}`, port: 3288 });
        if (d.granted) {
          granted++;
          active.set(id, { owner, entities });
        } else refused++;
      });
    if (faults && b.kill !== undefined) {
      const victim = IDS[b.kill] as string;
      const n = nodes.get(victim);
      nodes.set(victim, undefined);
      await within(`closing ${victim}`, n?.close() ?? Promise.resolve());
    }
    await within("the batch's decisions", Promise.all(asked));
    const endable = [...active].filter(([, s]) => nodes.get(s.owner) !== undefined);
    for (const [id, s] of endable.slice(0, b.ends)) {
      node(s.owner).terminate(id);
      active.delete(id);
    }
    if (b.restart) for (const id of IDS) if (nodes.get(id) === undefined) await within(`starting ${id}`, startNode(id));
    for (const e of ENTITIES) {
      const auth = nodes.get(AUTHORITY.of(e));
      if (auth === undefined) continue;
      const recorded = new Set(auth.core.recordedSessions(e).map((s) => s.id));
      const act = activeFor(active, e);
      const unreported = act.filter((id) => !recorded.has(id)).length;
      expect(act.length, e).toBeLessThanOrEqual((threshold(e)?.global ?? 0) + unreported + auth.core.entityStats(e).overSubscribed);
    }
  }
  for (const id of IDS) if (nodes.get(id) === undefined) await startNode(id);
  await until("all links up", allLinksUp);
  // Quiescent: the records hold exactly the sessions their DSCs know, and every view matches its record.
  let mismatch = "";
  const exact = (): boolean =>
    ENTITIES.every((e) => {
      const auth = node(AUTHORITY.of(e)).core;
      const recorded = auth.recordedSessions(e).map((s) => s.id).sort().join();
      const known = IDS.flatMap((id) => node(id).core.ownSessions().filter((o) => o.state === "granted" && o.session.entities.includes(e)).map((o) => o.session.id)).sort().join();
      const views = IDS.filter((id) => id !== auth.id && node(id).core.viewOf(e) !== undefined && node(id).core.viewOf(e)?.active !== auth.entityStats(e).active);
      mismatch = `${e} at ${auth.id}: recorded [${recorded}], known to their DSCs [${known}], views off at [${views.map((id) => `${id}:${node(id).core.viewOf(e)?.active}`).join()}]`;
      return recorded === known && views.length === 0;
    });
  await until("records and views exact", exact).catch((err: unknown) => {
    throw new Error(`${String(err)}: ${mismatch}`);
  });
  for (const e of ENTITIES) {
    const c = node(AUTHORITY.of(e)).core.entityStats(e);
    expect(Math.max(0, c.active - (threshold(e)?.global ?? 0))).toBeLessThanOrEqual(c.overSubscribed);
  }
  // All sessions end: every counter everywhere is 0.
  for (const [id, s] of active) node(s.owner).terminate(id);
  for (const id of IDS) for (const o of node(id).core.ownSessions()) node(id).terminate(o.session.id);
  await until("every counter 0", () => IDS.every((id) => ENTITIES.every((e) => node(id).core.entityStats(e).active === 0 && (node(id).core.viewOf(e)?.active ?? 0) === 0)));
  return { granted, refused };
}

describe("five DSCs over loopback TLS", () => {
  it("concurrent random traffic: the bound, the excesses counted, exact records, all 0 at the end", async () => {
    let granted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(batchArb, { minLength: 3, maxLength: 8 }), async (batches) => {
        const r = await runBatches(batches, false);
        granted += r.granted;
        refused += r.refused;
      }),
      { numRuns: 12 },
    );
    expect(granted).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(5);
  });

  it("the same with DSCs closed and started again mid-run", async () => {
    await fc.assert(fc.asyncProperty(fc.array(batchArb, { minLength: 3, maxLength: 8 }), async (batches) => void (await runBatches(batches, true))), { numRuns: 10, endOnFailure: true });
  });
});

describe("a DSC's listener and lying peers", () => {
  it("refuses a certificate of no configured peer, and a peer's bad frame closes its connection, counted once each", async () => {
    const target = node("dsc-0");
    const before = { ...target.drops };
    const stranger = pki.credentials["dsc-stranger"] as { certificatePem: string; keyPem: string };
    const s1 = tlsConnect({ host: "127.0.0.1", port: ports.get("dsc-0") as number, key: stranger.keyPem, cert: stranger.certificatePem, ca: pki.caPem, servername: "dsc-0" });
    await new Promise<void>((resolve) => s1.once("close", () => resolve()).on("error", () => undefined));
    expect(target.drops["unknown-peer"]).toBe(before["unknown-peer"] + 1);
    // A real peer's certificate, then a frame whose length prefix is absurd.
    const peer = pki.credentials["dsc-1"] as { certificatePem: string; keyPem: string };
    const s2 = tlsConnect({ host: "127.0.0.1", port: ports.get("dsc-0") as number, key: peer.keyPem, cert: peer.certificatePem, ca: pki.caPem, servername: "dsc-0" });
    await new Promise<void>((resolve) => s2.once("secureConnect", () => resolve()));
    const closed = new Promise<void>((resolve) => s2.once("close", () => resolve()).on("error", () => undefined));
    s2.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]));
    await closed;
    expect(target.drops["bad-frame"]).toBe(before["bad-frame"] + 1);
    // A message in another DSC's name on dsc-1's connection.
    const s3 = tlsConnect({ host: "127.0.0.1", port: ports.get("dsc-0") as number, key: peer.keyPem, cert: peer.certificatePem, ca: pki.caPem, servername: "dsc-0" });
    await new Promise<void>((resolve) => s3.once("secureConnect", () => resolve()));
    const closed3 = new Promise<void>((resolve) => s3.once("close", () => resolve()).on("error", () => undefined));
    s3.write(encodeDscFrame({ from: "dsc-2", message: { kind: "broadcast", counts: [] } }));
    await closed3;
    expect(target.drops["bad-frame"]).toBe(before["bad-frame"] + 2);
    // The real links were not disturbed.
    await until("links up", allLinksUp);
  });

  it("closes a connection whose frame stops half way (slowloris) and an idle one", async () => {
    const n = new DscNode({ ...options("dsc-0"), listen: { host: "127.0.0.1", port: 0 }, peers: [], tls: undefined, limits: { headerTimeoutMs: 200, bodyTimeoutMs: 200, idleTimeoutMs: 400 } });
    const port = await n.start();
    try {
      const slow = tcpConnect({ host: "127.0.0.1", port });
      await new Promise<void>((resolve) => slow.once("connect", () => resolve()));
      const slowClosed = new Promise<void>((resolve) => slow.once("close", () => resolve()).on("error", () => undefined));
      slow.write(Buffer.from([0, 0, 0, 50, 1, 2]));
      await slowClosed;
      expect(n.drops["body-timeout"]).toBe(1);
      const idle = tcpConnect({ host: "127.0.0.1", port });
      await new Promise<void>((resolve) => idle.once("close", () => resolve()).on("error", () => undefined));
      expect(n.drops["idle-timeout"]).toBe(1);
    } finally {
      await n.close();
    }
  });
});
