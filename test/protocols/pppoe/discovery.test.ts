import { describe, expect, it } from "vitest";
import {
  PppoeDiscoveryClient,
  PppoeDiscoveryServer,
  decodePppoeFrame,
  encodePppoeFrame,
} from "../../../protocols/pppoe/index.js";
import type {
  PppoeAction,
  PppoeClientEvent,
  PppoeClientOptions,
  PppoeFrame,
  PppoeServerEvent,
  PppoeServerOptions,
} from "../../../protocols/pppoe/index.js";

const HOST = "02:00:00:00:00:0a";
const AC = "02:00:00:00:00:01";
const secret = Buffer.from("cookie-secret");

const sent = <E>(actions: PppoeAction<E>[]) => actions.flatMap((a) => (a.type === "send" ? [a] : []));
const emitted = <E>(actions: PppoeAction<E>[]) => actions.flatMap((a) => (a.type === "emit" ? [a.event] : []));
const timers = <E>(actions: PppoeAction<E>[]) => actions.flatMap((a) => (a.type === "set-timer" ? [a.delayMs] : []));
const codes = <E>(actions: PppoeAction<E>[]) => sent(actions).map((a) => (a.frame.packet.kind === "discovery" ? a.frame.packet.code : "session"));

function server(options: Partial<PppoeServerOptions> = {}) {
  return new PppoeDiscoveryServer({ mac: AC, acName: "callgate-ac", cookieSecret: secret, ...options });
}
function client(options: Partial<PppoeClientOptions> = {}) {
  return new PppoeDiscoveryClient({ mac: HOST, ...options });
}

/** Runs frames between the two machines until neither sends; returns every event. */
function exchange(c: PppoeDiscoveryClient, s: PppoeDiscoveryServer, first: PppoeAction<PppoeClientEvent>[], nowMs = 0) {
  const events: (PppoeClientEvent | PppoeServerEvent)[] = [...emitted(first)];
  let toServer = sent(first).map((a) => a.bytes);
  while (toServer.length) {
    const toClient: Buffer[] = [];
    for (const bytes of toServer) {
      const out = s.handle({ type: "frame", bytes }, nowMs);
      events.push(...emitted(out));
      toClient.push(...sent(out).map((a) => a.bytes));
    }
    toServer = [];
    for (const bytes of toClient) {
      const out = c.handle({ type: "frame", bytes }, nowMs);
      events.push(...emitted(out));
      toServer.push(...sent(out).map((a) => a.bytes));
    }
  }
  return events;
}

describe("PPPoE Discovery, Host and Access Concentrator (RFC 2516 §5)", () => {
  it("PADI → PADO → PADR → PADS gives both sides the same SESSION_ID; Host-Uniq and AC-Cookie go round", () => {
    const s = server({ serviceNames: ["internet", "voice"] });
    const c = client({ serviceName: "voice", hostUniq: Buffer.from("u1") });
    const start = c.handle({ type: "start" }, 0);
    const padi = sent(start)[0]?.frame;
    expect(padi?.destination).toBe("ff:ff:ff:ff:ff:ff");
    const pado = sent(s.handle({ type: "frame", bytes: sent(start)[0]?.bytes ?? Buffer.alloc(0) }, 0))[0]?.frame;
    expect(pado?.packet).toMatchObject({
      code: "PADO",
      tags: [
        { type: "ac-name", name: "callgate-ac" },
        { type: "service-name", name: "voice" },
        { type: "service-name", name: "internet" },
        { type: "ac-cookie" },
        { type: "host-uniq", value: Buffer.from("u1") },
      ],
    });
    expect(c.handle({ type: "timer", name: "not-ours" }, 0)).toEqual([]);

    const c2 = client({ serviceName: "voice", hostUniq: Buffer.from("u1") });
    const all = exchange(c2, s, c2.handle({ type: "start" }, 0));
    expect(all).toEqual([
      { type: "offer", acMac: AC, acName: "callgate-ac", serviceNames: ["voice", "internet"] },
      { type: "session-started", sessionId: 1, hostMac: HOST, serviceName: "voice" },
      { type: "session", sessionId: 1, acMac: AC, acName: "callgate-ac", serviceName: "voice" },
    ]);
    expect(c2.state).toBe("session");
    expect(c2.sessionId).toBe(1);
    expect(s.session(1)).toEqual({ sessionId: 1, hostMac: HOST, serviceName: "voice", hostUniq: Buffer.from("u1").toString("hex") });
  });

  it("retries PADI doubling the wait up to its cap, then fails", () => {
    const c = client({ initialTimeoutMs: 500, maxTimeoutMs: 1500, padiAttempts: 4 });
    const waits = [timers(c.handle({ type: "start" }, 0))];
    let last: PppoeAction<PppoeClientEvent>[] = [];
    for (let i = 0; i < 4; i++) {
      last = c.handle({ type: "timer", name: "pppoe-discovery" }, 0);
      if (i < 3) {
        expect(codes(last)).toEqual(["PADI"]);
        waits.push(timers(last));
      }
    }
    expect(waits).toEqual([[500], [1000], [1500], [1500]]);
    expect(emitted(last)).toEqual([{ type: "failed", reason: "no-offer", message: "no PADO after 4 PADI" }]);
    expect(c.state).toBe("closed");
  });

  it("retries PADR after a lost PADS; the repeated PADR gets the same SESSION_ID", () => {
    const s = server();
    const c = client({ initialTimeoutMs: 1000, padrAttempts: 2 });
    const padi = sent(c.handle({ type: "start" }, 0))[0]?.bytes ?? Buffer.alloc(0);
    const pado = sent(s.handle({ type: "frame", bytes: padi }, 0))[0]?.bytes ?? Buffer.alloc(0);
    const afterPado = c.handle({ type: "frame", bytes: pado }, 10);
    expect(codes(afterPado)).toEqual(["PADR"]);
    const firstPads = s.handle({ type: "frame", bytes: sent(afterPado)[0]?.bytes ?? Buffer.alloc(0) }, 10);
    expect(emitted(firstPads)).toMatchObject([{ type: "session-started", sessionId: 1 }]); // this PADS is lost
    const retry = c.handle({ type: "timer", name: "pppoe-discovery" }, 1010);
    expect(codes(retry)).toEqual(["PADR"]);
    expect(timers(retry)).toEqual([2000]);
    const pads = s.handle({ type: "frame", bytes: sent(retry)[0]?.bytes ?? Buffer.alloc(0) }, 1010);
    expect(emitted(pads)).toEqual([]);
    expect(s.sessionCount).toBe(1);
    expect(emitted(c.handle({ type: "frame", bytes: sent(pads)[0]?.bytes ?? Buffer.alloc(0) }, 1010))).toMatchObject([{ type: "session", sessionId: 1 }]);
    const giveUp = client({ padrAttempts: 1 });
    giveUp.handle({ type: "start" }, 0);
    giveUp.handle({ type: "frame", bytes: pado }, 0);
    expect(emitted(giveUp.handle({ type: "timer", name: "pppoe-discovery" }, 1000))).toEqual([
      { type: "failed", reason: "no-confirmation", message: "no PADS after 1 PADR" },
    ]);
  });

  it("ignores a PADO for another Host-Uniq, another AC-Name, or another Host", () => {
    const s = server({ acName: "other-ac" });
    const wanted = Buffer.from("mine");
    const c = client({ hostUniq: wanted });
    c.handle({ type: "start" }, 0);
    const padiOf = (hostUniq: Buffer | undefined, mac = HOST): Buffer =>
      encodePppoeFrame({
        destination: "ff:ff:ff:ff:ff:ff",
        source: mac,
        packet: { kind: "discovery", code: "PADI", sessionId: 0, tags: [{ type: "service-name", name: "" }, ...(hostUniq ? [{ type: "host-uniq" as const, value: hostUniq }] : [])] },
      });
    const padoFor = (padi: Buffer) => sent(s.handle({ type: "frame", bytes: padi }, 0))[0]?.bytes ?? Buffer.alloc(0);
    expect(emitted(c.handle({ type: "frame", bytes: padoFor(padiOf(Buffer.from("theirs"))) }, 0))).toMatchObject([{ type: "dropped", cause: "host-uniq-mismatch" }]);
    expect(emitted(c.handle({ type: "frame", bytes: padoFor(padiOf(undefined)) }, 0))).toMatchObject([{ type: "dropped", cause: "host-uniq-mismatch" }]);
    expect(emitted(c.handle({ type: "frame", bytes: padoFor(padiOf(wanted, "02:00:00:00:00:0b")) }, 0))).toMatchObject([{ type: "dropped", cause: "not-for-us" }]);
    const picky = client({ hostUniq: wanted, acName: "callgate-ac" });
    picky.handle({ type: "start" }, 0);
    expect(emitted(picky.handle({ type: "frame", bytes: padoFor(padiOf(wanted)) }, 0))).toMatchObject([{ type: "dropped", cause: "other-ac" }]);
    expect(c.state).toBe("discovering");
    expect(codes(c.handle({ type: "frame", bytes: padoFor(padiOf(wanted)) }, 0))).toEqual(["PADR"]);
  });

  it("the AC answers no PADI for a service it lacks, and refuses such a PADR with Service-Name-Error", () => {
    const s = server({ serviceNames: ["internet"] });
    const c = client({ serviceName: "video" });
    const padi = sent(c.handle({ type: "start" }, 0))[0]?.bytes ?? Buffer.alloc(0);
    const out = s.handle({ type: "frame", bytes: padi }, 0);
    expect(sent(out)).toEqual([]);
    expect(emitted(out)).toEqual([{ type: "refused", hostMac: HOST, reason: "service-name", serviceName: "video" }]);
    // A Host that asks for "video" in its PADR after a PADO for "" (any service).
    const any = client();
    const pado = sent(s.handle({ type: "frame", bytes: sent(any.handle({ type: "start" }, 0))[0]?.bytes ?? Buffer.alloc(0) }, 0))[0];
    const padr = sent(any.handle({ type: "frame", bytes: pado?.bytes ?? Buffer.alloc(0) }, 0))[0]?.frame as PppoeFrame;
    if (padr.packet.kind !== "discovery") throw new Error("PADR expected");
    padr.packet.tags = padr.packet.tags.map((t) => (t.type === "service-name" ? { type: "service-name", name: "video" } : t));
    const pads = s.handle({ type: "frame", bytes: encodePppoeFrame(padr) }, 0);
    expect(sent(pads)[0]?.frame.packet).toMatchObject({ code: "PADS", sessionId: 0, tags: [{ type: "service-name-error" }] });
    expect(emitted(any.handle({ type: "frame", bytes: sent(pads)[0]?.bytes ?? Buffer.alloc(0) }, 0))).toMatchObject([
      { type: "failed", reason: "service-name-error" },
    ]);
  });

  it("the AC drops a PADR without its AC-Cookie, with a forged one, or with an expired one", () => {
    const s = server({ cookieLifetimeMs: 10_000 });
    const c = client();
    const pado = sent(s.handle({ type: "frame", bytes: sent(c.handle({ type: "start" }, 0))[0]?.bytes ?? Buffer.alloc(0) }, 0))[0];
    const padr = sent(c.handle({ type: "frame", bytes: pado?.bytes ?? Buffer.alloc(0) }, 0))[0]?.frame as PppoeFrame;
    if (padr.packet.kind !== "discovery") throw new Error("PADR expected");
    const withCookie = (value: Buffer | undefined): Buffer =>
      encodePppoeFrame({ ...padr, packet: { ...padr.packet, tags: [{ type: "service-name", name: "" }, ...(value ? [{ type: "ac-cookie" as const, value }] : [])] } } as PppoeFrame);
    expect(emitted(s.handle({ type: "frame", bytes: withCookie(undefined) }, 0))).toMatchObject([{ type: "dropped", cause: "bad-cookie" }]);
    expect(emitted(s.handle({ type: "frame", bytes: withCookie(Buffer.alloc(16, 7)) }, 0))).toMatchObject([{ type: "dropped", cause: "bad-cookie" }]);
    expect(emitted(s.handle({ type: "frame", bytes: encodePppoeFrame(padr) }, 25_000))).toMatchObject([{ type: "dropped", cause: "bad-cookie" }]);
    expect(emitted(s.handle({ type: "frame", bytes: encodePppoeFrame(padr) }, 15_000))).toMatchObject([{ type: "session-started", sessionId: 1 }]);
  });

  it("allocates unique SESSION_IDs, never 0 or 0xFFFF, refuses with AC-System-Error when full, and takes Hosts again once a session ends", () => {
    const s = server({ maxSessions: 3, firstSessionId: 0xfffd });
    const ids: number[] = [];
    const hosts: PppoeDiscoveryClient[] = [];
    for (let i = 0; i < 4; i++) {
      const c = client({ mac: `02:00:00:00:01:0${i}` });
      hosts.push(c);
      const events = exchange(c, s, c.handle({ type: "start" }, 0));
      const session = events.find((e) => e.type === "session");
      if (session?.type === "session") ids.push(session.sessionId);
      else expect(events.at(-1)).toMatchObject({ type: "failed", reason: "ac-system-error" });
    }
    expect(ids).toEqual([0xfffd, 0xfffe, 1]);
    // The Host of 0xfffe ends its session with PADT: the AC forgets it, so a new Host gets a session again.
    const padt = hosts[1]?.handle({ type: "terminate" }, 0) ?? [];
    expect(emitted(padt)).toEqual([{ type: "terminated", by: "host", sessionId: 0xfffe }]);
    expect(emitted(s.handle({ type: "frame", bytes: sent(padt)[0]?.bytes ?? Buffer.alloc(0) }, 0))).toEqual([
      { type: "session-ended", sessionId: 0xfffe, hostMac: "02:00:00:00:01:01", by: "host" },
    ]);
    const next = client({ mac: "02:00:00:00:01:09" });
    const events = exchange(next, s, next.handle({ type: "start" }, 0));
    expect(events.find((e) => e.type === "session")).toMatchObject({ sessionId: 2 });
    expect(s.sessionCount).toBe(3);
  });

  it("a PADT from the AC closes the Host's session; a PADT for another session or from another MAC is dropped", () => {
    const s = server();
    const c = client();
    exchange(c, s, c.handle({ type: "start" }, 0));
    expect(c.sessionId).toBe(1);
    const forged = encodePppoeFrame({ destination: HOST, source: "02:00:00:00:00:66", packet: { kind: "discovery", code: "PADT", sessionId: 1, tags: [] } });
    expect(emitted(c.handle({ type: "frame", bytes: forged }, 0))).toMatchObject([{ type: "dropped", cause: "unknown-session" }]);
    const wrongHost = encodePppoeFrame({ destination: AC, source: "02:00:00:00:00:66", packet: { kind: "discovery", code: "PADT", sessionId: 1, tags: [] } });
    expect(emitted(s.handle({ type: "frame", bytes: wrongHost }, 0))).toMatchObject([{ type: "dropped", cause: "unknown-session" }]);
    const padt = s.handle({ type: "terminate", sessionId: 1, message: "admin down" }, 0);
    expect(emitted(padt)).toEqual([{ type: "session-ended", sessionId: 1, hostMac: HOST, by: "access-concentrator" }]);
    expect(decodePppoeFrame(sent(padt)[0]?.bytes ?? Buffer.alloc(0)).packet).toEqual({
      kind: "discovery",
      code: "PADT",
      sessionId: 1,
      tags: [{ type: "generic-error", message: "admin down" }],
    });
    expect(emitted(c.handle({ type: "frame", bytes: sent(padt)[0]?.bytes ?? Buffer.alloc(0) }, 0))).toEqual([
      { type: "terminated", by: "access-concentrator", sessionId: 1, message: "admin down" },
    ]);
    expect(c.state).toBe("closed");
    expect(s.sessionCount).toBe(0);
  });

  it("the AC passes a known session's frames up and drops garbage and unknown sessions as counted causes", () => {
    const s = server();
    const c = client();
    exchange(c, s, c.handle({ type: "start" }, 0));
    const data = (sessionId: number) =>
      encodePppoeFrame({ destination: AC, source: HOST, packet: { kind: "session", sessionId, payload: Buffer.from("c0210101000401", "hex") } });
    expect(emitted(s.handle({ type: "frame", bytes: data(1) }, 0))).toEqual([
      { type: "session-data", sessionId: 1, hostMac: HOST, payload: Buffer.from("c0210101000401", "hex") },
    ]);
    expect(emitted(s.handle({ type: "frame", bytes: data(2) }, 0))).toMatchObject([{ type: "dropped", cause: "unknown-session" }]);
    expect(emitted(s.handle({ type: "frame", bytes: Buffer.from("0102") }, 0))).toMatchObject([{ type: "dropped", cause: "truncated" }]);
    const pado = encodePppoeFrame({ destination: AC, source: HOST, packet: { kind: "discovery", code: "PADO", sessionId: 0, tags: [{ type: "ac-name", name: "x" }, { type: "service-name", name: "" }] } });
    expect(emitted(s.handle({ type: "frame", bytes: pado }, 0))).toMatchObject([{ type: "dropped", cause: "unexpected-code" }]);
  });
});
