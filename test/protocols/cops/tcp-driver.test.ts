import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  ClientType,
  CopsDecodeError,
  CopsFrameSplitter,
  CopsPdpConnection,
  CopsPepConnection,
  ErrorCode,
  buildSipAaaDecision,
  decodeCopsMessage,
  encodeCopsMessage,
  encodeSipAaaClientSi,
  listenCopsPdp,
  connectCopsPep,
  parseSipAaaDecision,
  pepAdmission,
  sipAaaContext,
  type CopsPdpEvent,
  type CopsPepEvent,
} from "../../../protocols/cops/index.js";
import { aaaInfo } from "./samples.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function waitFor<E extends { type: string }>(events: { on(n: "event", f: (e: E) => void): unknown }, type: E["type"]): Promise<E> {
  return new Promise((resolve) => {
    events.on("event", (e: E) => {
      if (e.type === type) resolve(e);
    });
  });
}

describe("CopsFrameSplitter", () => {
  it("reassembles messages split at every byte and joined in one chunk", () => {
    const a = encodeCopsMessage({ op: "KA", clientType: 0 });
    const b = encodeCopsMessage({ op: "CAT", clientType: 1, kaTimerSeconds: 30 });
    const stream = Buffer.concat([a, b, a]);
    const splitter = new CopsFrameSplitter();
    const frames: Buffer[] = [];
    for (const byte of stream) frames.push(...splitter.push(Buffer.from([byte])));
    expect(frames.map((f) => f.toString("hex"))).toEqual([a, b, a].map((f) => f.toString("hex")));
    expect(new CopsFrameSplitter().push(stream)).toHaveLength(3);
  });
  it("never trusts the length: oversized, short or unaligned lengths stop the stream before buffering", () => {
    const header = (len: number) => Buffer.from([0x10, 9, 0, 0, len >>> 24, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff]);
    const failureOf = (bytes: Buffer) => {
      const s = new CopsFrameSplitter(1024);
      const r = s.read(bytes);
      expect(r.frames).toEqual([]);
      expect(s.buffered).toBe(0);
      expect(() => new CopsFrameSplitter(1024).push(bytes)).toThrow(CopsDecodeError);
      return r.failure;
    };
    expect(failureOf(header(0x7ffffff0))?.error.code).toBe("frame-too-large");
    expect(failureOf(header(4))?.error.message).toMatch(/message length 4/);
    expect(failureOf(header(10))?.error).toBeInstanceOf(CopsDecodeError);
    expect(failureOf(Buffer.from("2009000000000008", "hex"))?.error.code).toBe("bad-version");
  });
  it("is linear: a 1 MiB REQ in 64-octet pieces is copied once", () => {
    const length = 1 << 20;
    const req = Buffer.alloc(length);
    req.set([0x10, 0x01, 0x8c, 0xb1]);
    req.writeUInt32BE(length, 4);
    for (let i = 8; i < length; i++) req[i] = i & 0xff;
    const splitter = new CopsFrameSplitter(length);
    const frames: Buffer[] = [];
    const pieces = length / 64;
    for (let at = 0; at < length; at += 64) frames.push(...splitter.push(req.subarray(at, at + 64)));
    expect(frames).toHaveLength(1);
    expect(frames[0]?.equals(req)).toBe(true);
    expect(splitter.buffered).toBe(0);
    // The header is read in place, once; the body is copied once when the message completes.
    expect(splitter.bytesCopied).toBe(length);
    // A quadratic splitter (concatenating per piece) copies about pieces × length / 2 octets.
    expect(splitter.bytesCopied).toBeLessThan((pieces * length) / 1000);
  });
  it("copies each octet of a stream of small messages split anywhere once, and a header only when it straddles pieces", () => {
    const ka = encodeCopsMessage({ op: "KA", clientType: 0 });
    const cat = encodeCopsMessage({ op: "CAT", clientType: 1, kaTimerSeconds: 30 });
    const stream = Buffer.concat(Array.from({ length: 500 }, (_, i) => (i % 2 ? ka : cat)));
    for (const piece of [1, 3, 7, 13, 64]) {
      const splitter = new CopsFrameSplitter();
      let count = 0;
      for (let at = 0; at < stream.length; at += piece) count += splitter.push(stream.subarray(at, at + piece)).length;
      expect(count).toBe(500);
      // Message starts fall every 8 or 12 octets: count the headers that cross a piece boundary.
      let straddling = 0;
      for (let at = 0, i = 0; i < 500; at += i % 2 ? ka.length : cat.length, i++) if (Math.floor(at / piece) !== Math.floor((at + 7) / piece)) straddling++;
      expect(splitter.bytesCopied).toBe(stream.length + straddling * 8);
    }
  });
  it("names the stream offset of a bad header", () => {
    const ka = encodeCopsMessage({ op: "KA", clientType: 0 });
    const s = new CopsFrameSplitter(1024);
    s.push(Buffer.concat([ka, ka]));
    expect(() => s.push(Buffer.from("1009000000100000", "hex"))).toThrow(expect.objectContaining({ code: "frame-too-large", offset: 2 * ka.length + 4 }));
  });
  it("read returns the good messages before a bad header in the same chunk, then nothing more", () => {
    const ka = encodeCopsMessage({ op: "KA", clientType: 0 });
    const s = new CopsFrameSplitter(1024);
    const bad = Buffer.from("1009000000100000", "hex");
    const first = s.read(Buffer.concat([ka, ka, bad]));
    expect(first.frames).toEqual([ka, ka]);
    expect(first.failure?.header).toEqual(bad);
    expect(s.read(ka)).toEqual({ frames: [], failure: first.failure });
    expect(() => s.push(ka)).toThrow(CopsDecodeError);
  });
});

describe("TCP driver on loopback", () => {
  it("PEP and PDP machines exchange OPN/CAT and REQ AAA/DEC AAA over a real socket", async () => {
    const pdpEvents: CopsPdpEvent[] = [];
    const server = await listenCopsPdp(
      { port: 0, createMachine: () => new CopsPdpConnection({ clientTypes: [ClientType.SipAaa], kaTimerSeconds: 30 }) },
      (session) => {
        session.events.on("event", (e) => {
          pdpEvents.push(e);
          if (e.type === "request") {
            const dec = buildSipAaaDecision("AAA", e.handle, true, { dscp: 46, timeLimitSeconds: 600 });
            session.send({ type: "decide", handle: e.handle, decisions: dec.decisions });
          }
        });
      },
    );
    cleanups.push(() => server.close());
    expect(server.port).toBeGreaterThan(0);
    const machine = new CopsPepConnection({ clientType: ClientType.SipAaa, pepId: "sip1", servers: [{ family: 4, address: "127.0.0.1", port: server.port }] });
    const sent: string[] = [];
    const pep = connectCopsPep({ machine, onSend: (_b, m) => sent.push(m.op) });
    cleanups.push(() => pep.close());
    await waitFor<CopsPepEvent>(pep.events, "accepted");
    const handle = machine.allocateHandle();
    const decision = waitFor<CopsPepEvent>(pep.events, "decision");
    pep.send({ type: "request", handle, context: sipAaaContext("AAA"), clientSi: [{ cType: 1, data: encodeSipAaaClientSi(aaaInfo) }] });
    const d = await decision;
    expect(d.type === "decision" && parseSipAaaDecision(d.message)).toEqual({ purpose: "AAA", handle, allowed: true, info: { dscp: 46, timeLimitSeconds: 600 } });
    expect(sent).toEqual(["OPN", "REQ"]);
    expect(pdpEvents.map((e) => e.type)).toEqual(["opened", "request"]);
  });

  it("an OPN reusing a connected PEPID without Integrity gets CC Error 14 and only the impostor is closed", async () => {
    const opened: string[] = [];
    const server = await listenCopsPdp(
      {
        port: 0,
        createMachine: (peer) =>
          new CopsPdpConnection({ clientTypes: [ClientType.SipAaa], kaTimerSeconds: 30, ...pepAdmission([{ pepId: "sip1.example.com", addresses: ["127.0.0.1"] }], peer) }),
      },
      (session) =>
        session.events.on("event", (e) => {
          if (e.type === "opened") opened.push(e.pepId);
          if (e.type === "request") session.send({ type: "decide", handle: e.handle, decisions: buildSipAaaDecision("AAA", e.handle, true, {}).decisions });
        }),
    );
    cleanups.push(() => server.close());
    const machine = new CopsPepConnection({ clientType: ClientType.SipAaa, pepId: "sip1.example.com", servers: [{ family: 4, address: "127.0.0.1", port: server.port }] });
    const pepEvents: string[] = [];
    const pep = connectCopsPep({ machine });
    pep.events.on("event", (e) => pepEvents.push(e.type));
    cleanups.push(() => pep.close());
    await waitFor<CopsPepEvent>(pep.events, "accepted");
    const impostor = connect({ host: "127.0.0.1", port: server.port });
    cleanups.push(() => void impostor.destroy());
    const received: Buffer[] = [];
    impostor.on("data", (d: Buffer) => received.push(d));
    impostor.on("error", () => undefined);
    const closed = new Promise<void>((resolve) => impostor.on("close", () => resolve()));
    impostor.write(encodeCopsMessage({ op: "OPN", clientType: ClientType.SipAaa, pepId: "sip1.example.com" }));
    await closed;
    expect(decodeCopsMessage(Buffer.concat(received))).toMatchObject({ op: "CC", error: { code: ErrorCode.AuthenticationFailure } });
    // The real PEP is still served on its connection.
    const handle = machine.allocateHandle();
    const decided = waitFor<CopsPepEvent>(pep.events, "decision");
    pep.send({ type: "request", handle, context: sipAaaContext("AAA"), clientSi: [{ cType: 1, data: encodeSipAaaClientSi(aaaInfo) }] });
    const d = await decided;
    expect(d.type === "decision" && parseSipAaaDecision(d.message).allowed).toBe(true);
    expect(opened).toEqual(["sip1.example.com"]);
    expect(machine.connectionState).toBe("open");
    expect(pepEvents).not.toContain("pdp-lost");
  });

  it("a peer announcing an oversized message gets CC Error 3 and is disconnected", async () => {
    const server = await listenCopsPdp(
      { port: 0, maxMessageBytes: 4096, createMachine: () => new CopsPdpConnection({ clientTypes: [ClientType.SipAaa], kaTimerSeconds: 30 }) },
      () => undefined,
    );
    cleanups.push(() => server.close());
    const socket = connect({ host: "127.0.0.1", port: server.port });
    cleanups.push(() => void socket.destroy());
    const received: Buffer[] = [];
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.on("data", (d: Buffer) => received.push(d));
    socket.on("error", () => undefined);
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(Buffer.from("100680b17fffff00", "hex")); // OPN claiming ~2 GB
    await closed;
    const cc = decodeCopsMessage(Buffer.concat(received));
    expect(cc).toMatchObject({ op: "CC", error: { code: ErrorCode.BadMessageFormat } });
  });
});
