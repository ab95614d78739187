import { describe, expect, it } from "vitest";
import {
  RadiusClientMachine,
  RadiusCode,
  RadiusEncodeError,
  RadiusServerMachine,
  decodeRadiusPacket,
  encodeRadiusPacket,
  radiusAttribute,
  verifyRadiusPacket,
} from "../../../protocols/radius/index.js";
import type { RadiusAttribute, RadiusClientAction, RadiusServerAction } from "../../../protocols/radius/index.js";

const SECRET = "testing123";
const SERVER = { address: "127.0.0.1", port: 1813 };
const CLIENT = { address: "127.0.0.1", port: 40000 };

function counterRandomBytes(): (n: number) => Buffer {
  let i = 0;
  return (n) => Buffer.alloc(n, ++i);
}

const client = (extra: Partial<ConstructorParameters<typeof RadiusClientMachine>[0]> = {}): RadiusClientMachine =>
  new RadiusClientMachine({ secret: SECRET, randomBytes: counterRandomBytes(), ...extra });
const server = (extra: Partial<ConstructorParameters<typeof RadiusServerMachine>[0]> = {}): RadiusServerMachine =>
  new RadiusServerMachine({ secretFor: (c) => (c.address === "127.0.0.1" ? SECRET : undefined), ...extra });

const start = (session: string) => ({
  code: RadiusCode.AccountingRequest,
  attributes: [radiusAttribute("Acct-Status-Type", "Start"), radiusAttribute("Acct-Session-Id", session)],
});
const sends = (actions: (RadiusClientAction | RadiusServerAction)[]): Buffer[] =>
  actions.flatMap((a) => (a.type === "send" ? [a.datagram] : []));

function answer(datagram: Buffer, code: number = RadiusCode.AccountingResponse): Buffer {
  const req = decodeRadiusPacket(datagram, SECRET);
  return encodeRadiusPacket({ code: code as 5, identifier: req.identifier, authenticator: req.authenticator, attributes: [] }, SECRET, req.authenticator);
}

describe("client machine (RFC 5080 §2.2.1)", () => {
  it("retransmits the same bytes with doubling timeouts capped at MRT, then gives up after MRC", () => {
    const c = client({ initialTimeoutMs: 1000, maxTimeoutMs: 4000, maxRetransmissions: 4, maxDurationMs: 60_000 });
    const { handle, actions } = c.send(0, SERVER, start("a"));
    const [first] = sends(actions);
    expect(first).toBeDefined();
    const times: number[] = [];
    let now = 0;
    const out: RadiusClientAction[] = [];
    while (c.nextDeadline() !== undefined) {
      now = c.nextDeadline()!;
      const acts = c.tick(now);
      for (const d of sends(acts)) {
        expect(d.equals(first!)).toBe(true);
        times.push(now);
      }
      out.push(...acts);
    }
    expect(times).toEqual([1000, 3000, 7000, 11000]);
    expect(out.at(-1)).toEqual({ type: "timeout", handle, retransmissions: 4 });
    expect(now).toBe(15000);
  });

  it("gives up at MRD even with retransmissions left", () => {
    const c = client({ initialTimeoutMs: 2000, maxTimeoutMs: 16000, maxRetransmissions: 10, maxDurationMs: 5000 });
    c.send(0, SERVER, start("a"));
    const seen: string[] = [];
    while (c.nextDeadline() !== undefined) {
      const now = c.nextDeadline()!;
      for (const a of c.tick(now)) seen.push(`${a.type}@${now}`);
    }
    expect(seen).toEqual(["send@2000", "timeout@5000"]);
  });

  it("accepts only a verified response of the right code from the server it asked", () => {
    const c = client();
    const { handle, actions } = c.send(0, SERVER, start("a"));
    const [req] = sends(actions);
    const good = answer(req!);
    const forged = Buffer.from(good);
    forged[19] = (forged[19] ?? 0) ^ 1;
    expect(c.receive(1, { address: "127.0.0.2", port: 1813 }, good)).toEqual([{ type: "drop", from: { address: "127.0.0.2", port: 1813 }, cause: "unknown-server" }]);
    expect(c.receive(1, SERVER, forged)[0]).toMatchObject({ type: "drop", cause: "bad-authenticator" });
    expect(c.receive(1, SERVER, answer(req!, RadiusCode.AccessAccept))[0]).toMatchObject({ type: "drop", cause: "unexpected-code" });
    expect(c.receive(1, SERVER, Buffer.alloc(5))[0]).toMatchObject({ type: "drop", cause: "malformed:truncated" });
    const ok = c.receive(2, SERVER, good);
    expect(ok[0]).toMatchObject({ type: "response", handle, packet: { code: RadiusCode.AccountingResponse } });
    expect(c.outstanding).toBe(0);
    expect(c.nextDeadline()).toBeUndefined();
    // a late duplicate of the answer matches nothing, also once its Identifier has rested and is in use again
    expect(c.receive(3, SERVER, good)[0]).toMatchObject({ type: "drop", cause: "unknown-identifier" });
    for (let i = 0; i < 256; i++) c.send(100 + i, SERVER, start(`s${i}`));
    expect(c.receive(400, SERVER, good)[0]).toMatchObject({ type: "drop", cause: "bad-authenticator" });
  });

  it("with requireMessageAuthenticator, drops an Access answer that has none", () => {
    const c = client({ requireMessageAuthenticator: true });
    const [req] = sends(c.send(0, SERVER, { code: RadiusCode.AccessRequest, attributes: [radiusAttribute("User-Name", "a")] }).actions);
    const r = decodeRadiusPacket(req!, SECRET);
    const reply = (attributes: RadiusAttribute[]) =>
      encodeRadiusPacket({ code: RadiusCode.AccessAccept, identifier: r.identifier, authenticator: r.authenticator, attributes }, SECRET, r.authenticator);
    expect(c.receive(1, SERVER, reply([]))[0]).toMatchObject({ type: "drop", cause: "missing-message-authenticator" });
    expect(c.receive(1, SERVER, reply([{ type: 80, kind: "string", value: Buffer.alloc(16) }]))[0]?.type).toBe("response");
  });

  it("uses Identifiers round-robin and lets an answered one rest before reuse", () => {
    const c = client({ identifierRestMs: 50 });
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [d] = sends(c.send(i * 10, SERVER, start(`s${i}`)).actions);
      ids.push(d![1]!);
      c.receive(i * 10 + 1, SERVER, answer(d!));
    }
    expect(ids).toEqual([0, 1, 2]);
  });

  it("keeps at most 256 outstanding per (server, port), queues the rest, and frees Identifiers as answers come", () => {
    const c = client();
    const first = [];
    for (let i = 0; i < 300; i++) first.push(...sends(c.send(0, SERVER, start(`s${i}`)).actions));
    const other = sends(c.send(0, { address: "127.0.0.1", port: 1814 }, start("x")).actions);
    expect(first).toHaveLength(256);
    expect(other).toHaveLength(1);
    expect(new Set(first.map((d) => d[1])).size).toBe(256);
    expect(c.outstanding).toBe(257);
    expect(c.queued).toBe(44);
    // an answer frees an Identifier, which rests 50 ms before exactly one queued request takes it
    expect(sends(c.receive(1, SERVER, answer(first[10]!)))).toHaveLength(0);
    expect(c.nextDeadline()).toBe(51);
    expect(sends(c.tick(50))).toHaveLength(0);
    const released = sends(c.tick(51));
    expect(released).toHaveLength(1);
    expect(released[0]![1]).toBe(first[10]![1]);
    expect(decodeRadiusPacket(released[0]!, SECRET).attributes[1]).toEqual(radiusAttribute("Acct-Session-Id", "s256"));
    expect(c.queued).toBe(43);
  });

  it("throws RadiusEncodeError for a request it cannot encode, whether sent at once or queued", () => {
    const c = client({ maxOutstandingPerServer: 1 });
    const bad = { code: RadiusCode.AccountingRequest, attributes: [{ type: 40, kind: "text" as const, value: "Start" }] };
    expect(() => c.send(0, SERVER, bad)).toThrow(RadiusEncodeError);
    c.send(0, SERVER, start("a"));
    expect(() => c.send(0, SERVER, bad)).toThrow(RadiusEncodeError);
    expect(c.outstanding).toBe(1);
    expect(c.queued).toBe(0);
  });

  it("refuses beyond its queue bound", () => {
    const c = client({ maxQueuedPerServer: 1 });
    for (let i = 0; i < 257; i++) c.send(0, SERVER, start(`s${i}`));
    const { handle, actions } = c.send(0, SERVER, start("over"));
    expect(actions).toEqual([{ type: "queue-full", handle }]);
  });

  it("hides User-Password with a fresh Request Authenticator per request", () => {
    const c = client();
    const access = { code: RadiusCode.AccessRequest, attributes: [radiusAttribute("User-Name", "bob"), radiusAttribute("User-Password", "pw")] } as const;
    const [a] = sends(c.send(0, SERVER, access).actions);
    const [b] = sends(c.send(0, SERVER, access).actions);
    expect(a!.subarray(4, 20).equals(b!.subarray(4, 20))).toBe(false);
    expect(decodeRadiusPacket(a!, SECRET).attributes[1]).toEqual(radiusAttribute("User-Password", "pw"));
  });
});

describe("server machine: duplicate detection (RFC 5080 §2.2.2)", () => {
  const requestBytes = (session = "a", id = 5): Buffer =>
    encodeRadiusPacket({ ...start(session), identifier: id, authenticator: Buffer.alloc(16) }, SECRET);

  it("hands a request up once, drops its retransmission while in progress, then answers it from the cache", () => {
    const s = server();
    const req = requestBytes();
    const [up] = s.receive(0, CLIENT, req);
    expect(up).toMatchObject({ type: "request", from: CLIENT, packet: { identifier: 5 } });
    expect(s.receive(1, CLIENT, req)).toEqual([{ type: "drop", from: CLIENT, cause: "duplicate-in-progress" }]);
    const [sent] = s.respond(2, (up as { requestId: number }).requestId, { code: RadiusCode.AccountingResponse, attributes: [] });
    expect(sent).toMatchObject({ type: "send", to: CLIENT });
    const response = (sent as { datagram: Buffer }).datagram;
    expect(s.receive(3, CLIENT, req)).toEqual([{ type: "send", to: CLIENT, datagram: response }]);
    // the answer carries a Response Authenticator over the request's (RFC 2865 §3)
    expect(verifyRadiusPacket(response, SECRET, req.subarray(4, 20))).toBe("ok");
  });

  it("treats a new Request Authenticator, another port or an expired window as a new request", () => {
    const s = server({ duplicateWindowMs: 1000 });
    const [up] = s.receive(0, CLIENT, requestBytes("a"));
    s.respond(0, (up as { requestId: number }).requestId, { code: RadiusCode.AccountingResponse, attributes: [] });
    expect(s.receive(1, CLIENT, requestBytes("b"))[0]?.type).toBe("request");
    expect(s.receive(1, { ...CLIENT, port: 40001 }, requestBytes("b"))[0]?.type).toBe("request");
    const [again] = s.receive(2, CLIENT, requestBytes("c"));
    s.respond(2, (again as { requestId: number }).requestId, { code: RadiusCode.AccountingResponse, attributes: [] });
    expect(s.receive(500, CLIENT, requestBytes("c"))[0]?.type).toBe("send");
    expect(s.receive(1503, CLIENT, requestBytes("c"))[0]?.type).toBe("request");
  });

  it("abandoning a request lets its retransmission through again (RFC 2866 §2: no answer when not recorded)", () => {
    const s = server();
    const [up] = s.receive(0, CLIENT, requestBytes());
    s.abandon((up as { requestId: number }).requestId);
    expect(s.receive(1, CLIENT, requestBytes())[0]?.type).toBe("request");
  });

  it("bounds its cache, oldest first", () => {
    const s = server({ maxCacheEntries: 10 });
    for (let id = 0; id < 25; id++) s.receive(0, CLIENT, requestBytes("a", id));
    expect(s.cacheSize).toBe(10);
  });

  it("with requireMessageAuthenticator, drops an Access-Request that has none", () => {
    const s = server({ requireMessageAuthenticator: true });
    const bare = encodeRadiusPacket(
      { code: RadiusCode.AccessRequest, identifier: 1, authenticator: Buffer.alloc(16, 3), attributes: [radiusAttribute("User-Name", "a")] },
      SECRET,
    );
    expect(s.receive(0, CLIENT, bare)[0]).toMatchObject({ type: "drop", cause: "missing-message-authenticator" });
    const signed = encodeRadiusPacket(
      {
        code: RadiusCode.AccessRequest,
        identifier: 1,
        authenticator: Buffer.alloc(16, 3),
        attributes: [radiusAttribute("User-Name", "a"), { type: 80, kind: "string", value: Buffer.alloc(16) }],
      },
      SECRET,
    );
    expect(s.receive(0, CLIENT, signed)[0]?.type).toBe("request");
  });

  it("drops unknown clients, bad authenticators, responses and malformed datagrams with a cause", () => {
    const s = server();
    const req = requestBytes();
    expect(s.receive(0, { address: "10.0.0.1", port: 1 }, req)[0]).toMatchObject({ cause: "unknown-client" });
    const bad = Buffer.from(req);
    bad[5] = (bad[5] ?? 0) ^ 1;
    expect(s.receive(0, CLIENT, bad)[0]).toMatchObject({ cause: "bad-authenticator" });
    expect(s.receive(0, CLIENT, answer(req))[0]).toMatchObject({ cause: "unexpected-code" });
    expect(s.receive(0, CLIENT, Buffer.from([1, 2, 3]))[0]).toMatchObject({ cause: "malformed:truncated" });
    expect(s.cacheSize).toBe(0);
  });
});

describe("client and server machines wired together, with loss", () => {
  it("every request gets exactly one answer; the server handles each once although datagrams are lost", () => {
    const c = client({ initialTimeoutMs: 100, maxRetransmissions: 20, maxDurationMs: 100_000 });
    const s = server();
    let drop = 0;
    const lossy = (): boolean => ++drop % 3 === 0; // every third datagram, either way, is lost
    const handled = new Map<string, number>();
    const answered = new Set<number>();
    let now = 0;
    const fromClient = (acts: RadiusClientAction[]): void => {
      for (const a of acts) {
        if (a.type === "response") {
          expect(answered.has(a.handle)).toBe(false);
          answered.add(a.handle);
        }
        if (a.type !== "send" || lossy()) continue;
        for (const r of s.receive(now, { address: "127.0.0.1", port: a.to.port === SERVER.port ? CLIENT.port : 0 }, a.datagram)) {
          let out: RadiusServerAction[] = [r];
          if (r.type === "request") {
            const session = String(r.packet.attributes[1]?.kind === "text" ? r.packet.attributes[1].value : "");
            handled.set(session, (handled.get(session) ?? 0) + 1);
            out = s.respond(now, r.requestId, { code: RadiusCode.AccountingResponse, attributes: [] });
          }
          for (const o of out) if (o.type === "send" && !lossy()) fromClient(c.receive(now, SERVER, o.datagram));
        }
      }
    };
    for (let i = 0; i < 600; i++) fromClient(c.send(now, SERVER, start(`call-${i}`)).actions);
    while (c.nextDeadline() !== undefined) {
      now = c.nextDeadline()!;
      fromClient(c.tick(now));
    }
    expect(answered.size).toBe(600);
    expect(handled.size).toBe(600);
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
  });
});
