// The PDP's refusals on the wire (RFC 2748 §2.2.8, §3.3, §3.7): each bad input gets CC carrying the right
// Error and a close, or a DEC with Error on the REQ's handle; bounded request states per connection.
import { describe, expect, it } from "vitest";
import {
  ClientType,
  CopsPdpConnection,
  ErrorCode,
  IntegritySession,
  buildSipAaaDecision,
  decodeCopsMessage,
  encodeCopsMessage,
  encodeSipAaaClientSi,
  pepAdmission,
  signCopsMessage,
  sipAaaContext,
  type CopsAction,
  type CopsIntegrityConfig,
  type CopsMessage,
  type CopsPdpEvent,
  type CopsPdpOptions,
} from "../../../protocols/cops/index.js";
import { aaaInfo } from "./samples.js";

const base: CopsPdpOptions = { clientTypes: [ClientType.SipAaa], kaTimerSeconds: 30 };
const opn = (pepId = "sip1.example.com", clientType: number = ClientType.SipAaa): CopsMessage => ({ op: "OPN", clientType, pepId });
const handleOf = (n: number) => Buffer.from([n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const clientSi = [{ cType: 1, data: encodeSipAaaClientSi(aaaInfo) }];
const req = (n: number): CopsMessage => ({ op: "REQ", clientType: ClientType.SipAaa, handle: handleOf(n), context: sipAaaContext("AAA"), clientSi, lpdpDecisions: [] });

/** One connection's machine, fed raw bytes; what it writes is decoded from the bytes it asked to send. */
class Wire {
  readonly machine: CopsPdpConnection;
  readonly sent: CopsMessage[] = [];
  readonly events: CopsPdpEvent[] = [];
  closed = false;
  constructor(options: CopsPdpOptions = base) {
    this.machine = new CopsPdpConnection(options);
    this.run(this.machine.handle({ type: "connected" }, 0));
  }
  bytes(b: Buffer, now = 0): this {
    this.run(this.machine.handle({ type: "message", bytes: b }, now));
    return this;
  }
  msg(m: CopsMessage): this {
    return this.bytes(encodeCopsMessage(m));
  }
  run(actions: CopsAction<CopsPdpEvent>[]): void {
    for (const a of actions) {
      if (a.type === "send") {
        expect(this.closed).toBe(false); // nothing is written after the close
        this.sent.push(decodeCopsMessage(a.bytes));
      } else if (a.type === "close") this.closed = true;
      else if (a.type === "emit") this.events.push(a.event);
    }
  }
  /** The last message written must be CC carrying `code`, followed by the close. */
  expectClosedWith(code: number): void {
    expect(this.sent.at(-1)).toMatchObject({ op: "CC", error: { code } });
    expect(this.closed).toBe(true);
    expect(this.machine.connectionState).toBe("closed");
  }
  causes(): (string | undefined)[] {
    return this.events.filter((e) => e.type === "protocol-error").map((e) => (e.type === "protocol-error" ? e.cause : undefined));
  }
}

describe("refusals before and at OPN (RFC 2748 §2.2.8, §3.7)", () => {
  it("garbage after a good header → CC Error 3 (Bad Message Format) and close", () => {
    const w = new Wire().bytes(Buffer.from("1006 8cb1 0000 0010 dead beef cafe babe".replace(/ /g, ""), "hex"));
    w.expectClosedWith(ErrorCode.BadMessageFormat);
    expect(w.causes()).toEqual(["bad-message"]);
  });
  it("a bad version → CC Error 3", () => {
    new Wire().bytes(Buffer.from("2006000000000008", "hex")).expectClosedWith(ErrorCode.BadMessageFormat);
  });
  it("a length of 0xFFFFFFFF (the framer's bad header handed over) → CC Error 3", () => {
    new Wire().bytes(Buffer.from("100680b1ffffffff", "hex")).expectClosedWith(ErrorCode.BadMessageFormat);
  });
  it("an unknown op code → CC Error 3", () => {
    new Wire().bytes(Buffer.from("100c8cb100000008", "hex")).expectClosedWith(ErrorCode.BadMessageFormat);
  });
  it("REQ before OPN → CC Error 3", () => {
    const w = new Wire().msg(req(1));
    w.expectClosedWith(ErrorCode.BadMessageFormat);
    expect(w.causes()).toEqual(["before-open"]);
    expect(w.events.some((e) => e.type === "request")).toBe(false);
  });
  it("a client type not served → CC Error 6, close, and a second OPN on the connection gets nothing", () => {
    const w = new Wire().msg(opn("r1", 0x8008));
    w.expectClosedWith(ErrorCode.UnsupportedClientType);
    const before = w.sent.length;
    w.msg(opn());
    expect(w.sent).toHaveLength(before);
    expect(w.events.some((e) => e.type === "opened")).toBe(false);
  });
  it("a second OPN on an open connection → CC Error 3", () => {
    const w = new Wire().msg(opn());
    expect(w.sent[0]?.op).toBe("CAT");
    w.msg(opn());
    w.expectClosedWith(ErrorCode.BadMessageFormat);
    expect(w.causes()).toEqual(["second-open"]);
  });
  it("keep-alive timer expired → CC Error 9 (Communication Failure), then close", () => {
    const w = new Wire({ ...base, kaTimerSeconds: 10 }).msg(opn());
    w.run(w.machine.handle({ type: "timer", name: "ka-loss" }, 10_001));
    w.expectClosedWith(ErrorCode.CommunicationFailure);
    expect(w.causes()).toEqual(["keep-alive-timeout"]);
  });
});

describe("PEP authentication at the PDP", () => {
  const key = Buffer.from("00112233445566778899aabbccddeeff", "hex");
  const sip1: CopsIntegrityConfig = { keyId: 7, key };
  const admission = (address: string, connected = false) =>
    pepAdmission([{ pepId: "sip1.example.com", addresses: ["127.0.0.2"], integrity: sip1 }, { pepId: "r1", addresses: ["127.0.0.3"] }], {
      address,
      pepIdConnected: () => connected,
    });
  const sealedBy = (config: CopsIntegrityConfig) => {
    const s = new IntegritySession(config);
    return (m: CopsMessage) => s.seal(m).bytes;
  };

  it("a PEPID not configured → CC Error 14, close", () => {
    const w = new Wire({ ...base, ...admission("127.0.0.2") }).msg(opn("intruder.example.com"));
    w.expectClosedWith(ErrorCode.AuthenticationFailure);
    expect(w.causes()).toEqual(["pep-not-admitted"]);
  });
  it("a configured PEPID from another address → CC Error 14", () => {
    new Wire({ ...base, clientTypes: [2], ...admission("127.0.0.9") }).msg(opn("r1", 2)).expectClosedWith(ErrorCode.AuthenticationFailure);
  });
  it("a PEPID with keys: OPN without Integrity → CC Error 15; with the right key → CAT sealed under the PEP's key", () => {
    new Wire({ ...base, ...admission("127.0.0.2") }).msg(opn()).expectClosedWith(ErrorCode.AuthenticationRequired);
    const w = new Wire({ ...base, ...admission("::ffff:127.0.0.2") }).bytes(sealedBy(sip1)(opn()));
    expect(w.sent[0]).toMatchObject({ op: "CAT", integrity: { keyId: 7 } });
    expect(w.machine.pepId).toBe("sip1.example.com");
  });
  it("an OPN under a wrong key → CC Error 14, and the CC is not sealed with the PEP's key", () => {
    const w = new Wire({ ...base, ...admission("127.0.0.2") }).bytes(sealedBy({ keyId: 7, key: Buffer.alloc(16, 1) })(opn()));
    w.expectClosedWith(ErrorCode.AuthenticationFailure);
    expect(w.sent.at(-1)?.integrity).toBeUndefined();
  });
  it("a tampered REQ on an authenticated connection → CC Error 14 and close", () => {
    const seal = sealedBy(sip1);
    const w = new Wire({ ...base, ...admission("127.0.0.2") }).bytes(seal(opn()));
    const tampered = Buffer.from(seal(req(1)));
    tampered[40] = (tampered[40] as number) ^ 0x01; // inside the ClientSI: the digest no longer matches
    w.bytes(tampered);
    w.expectClosedWith(ErrorCode.AuthenticationFailure);
    expect(w.causes()).toEqual(["integrity-failed"]);
    expect(w.events.some((e) => e.type === "request")).toBe(false);
  });
  it("a REQ tampered so that it no longer decodes → CC Error 14, not a DEC with Error", () => {
    const seal = sealedBy(sip1);
    const w = new Wire({ ...base, ...admission("127.0.0.2") }).bytes(seal(opn()));
    const tampered = Buffer.from(seal(req(1)));
    tampered[24] = (tampered[24] as number) ^ 0x40; // the ClientSI's length now runs past the message
    w.bytes(tampered);
    w.expectClosedWith(ErrorCode.AuthenticationFailure);
    expect(w.sent.filter((m) => m.op === "DEC")).toEqual([]);
  });
  it("a malformed REQ its PEP signed gets DEC with Error and the connection stays; the sequence goes on", () => {
    const integrity = new IntegritySession(sip1);
    const w = new Wire({ ...base, ...admission("127.0.0.2") }).bytes(integrity.seal(opn()).bytes);
    // A REQ without its Context (Error 7), signed as the PEP signs everything.
    const noContext = encodeCopsMessage({ op: "DRQ", clientType: ClientType.SipAaa, handle: handleOf(1), reason: { code: 1, subCode: 0 }, integrity: { kind: "integrity", cType: 1, keyId: 7, sequence: 1, digest: Buffer.alloc(12) } } as CopsMessage);
    noContext[1] = 1; // op code REQ: a Handle, then a Reason where the Context must be
    integrity.seal({ op: "KA", clientType: 0 }); // the sequence number 1 is this REQ's
    w.bytes(signCopsMessage(noContext, sip1.key));
    expect(w.sent.at(-1)).toMatchObject({ op: "DEC", handle: handleOf(1), error: { code: ErrorCode.MandatoryObjectMissing } });
    expect(w.closed).toBe(false);
    w.bytes(integrity.seal(req(2)).bytes);
    expect(w.events.at(-1)).toMatchObject({ type: "request" });
  });
  it("an unauthenticated OPN naming a connected PEPID is refused; one that passes Integrity is admitted", () => {
    new Wire({ ...base, clientTypes: [2], ...admission("127.0.0.3", true) }).msg(opn("r1", 2)).expectClosedWith(ErrorCode.AuthenticationFailure);
    const w = new Wire({ ...base, ...admission("127.0.0.2", true) }).bytes(sealedBy(sip1)(opn()));
    expect(w.sent[0]?.op).toBe("CAT");
  });
});

describe("bounded request states (RFC 2748 §2.2.8 Error 4, §3.3)", () => {
  it("a REQ opening one state more than allowed gets DEC Error 4 on its handle; the open states are served", () => {
    const w = new Wire({ ...base, maxRequestStates: 3 }).msg(opn());
    for (let n = 1; n <= 5; n++) w.msg(req(n));
    expect(w.machine.openHandles).toBe(3);
    expect(w.events.filter((e) => e.type === "request")).toHaveLength(3);
    // DECs leave in REQ order: the refusals of 4 and 5 wait behind the unanswered 1–3.
    expect(w.sent.map((m) => m.op)).toEqual(["CAT"]);
    for (let n = 1; n <= 3; n++) w.run(w.machine.handle({ type: "decide-error", handle: handleOf(n), error: { code: ErrorCode.Unspecified, subCode: 0 } }, 0));
    expect(w.sent.slice(1).map((m) => [m.op, "handle" in m ? m.handle?.readUInt32BE(0) : -1, "error" in m ? m.error?.code : -1])).toEqual([
      ["DEC", 1, ErrorCode.Unspecified], ["DEC", 2, ErrorCode.Unspecified], ["DEC", 3, ErrorCode.Unspecified],
      ["DEC", 4, ErrorCode.UnableToProcess], ["DEC", 5, ErrorCode.UnableToProcess],
    ]);
    expect(w.causes()).toEqual(["request-states-full", "request-states-full"]);
    expect(w.machine.unansweredRequests).toBe(0);
    expect(w.closed).toBe(false);
  });
  it("a DRQ frees a state for the next REQ", () => {
    const w = new Wire({ ...base, maxRequestStates: 1 }).msg(opn()).msg(req(1));
    w.msg({ op: "DRQ", clientType: ClientType.SipAaa, handle: handleOf(1), reason: { code: 4, subCode: 0 } });
    w.msg(req(2));
    expect(w.machine.openHandles).toBe(1);
    expect(w.causes()).toEqual([]);
  });
  it("more REQs waiting for a DEC than allowed → CC Error 4 and close", () => {
    const w = new Wire({ ...base, maxRequestStates: 100, maxPendingRequests: 4 }).msg(opn());
    for (let n = 1; n <= 5; n++) w.msg(req(n));
    w.expectClosedWith(ErrorCode.UnableToProcess);
    expect(w.causes()).toEqual(["pending-requests-full"]);
  });
  it("100,000 REQs with distinct handles on one connection, each answered: states never exceed the bound", () => {
    const max = 1000;
    const w = new Wire({ ...base, maxRequestStates: max }).msg(opn());
    let refused = 0;
    let peak = 0;
    for (let n = 1; n <= 100_000; n++) {
      w.msg(req(n));
      peak = Math.max(peak, w.machine.openHandles, w.machine.unansweredRequests);
      const last = w.events.at(-1);
      if (last?.type === "request") w.run(w.machine.handle({ type: "decide", handle: last.handle, decisions: buildSipAaaDecision("AAA", last.handle, true, {}).decisions }, 0));
      else refused++;
      w.sent.length = 0; // the wire's own record is not the machine's memory
      w.events.length = 0;
    }
    expect(peak).toBe(max);
    expect(w.machine.openHandles).toBe(max);
    expect(refused).toBe(100_000 - max);
    expect(w.machine.unansweredRequests).toBe(0);
    w.run(w.machine.handle({ type: "disconnected" }, 0));
    expect(w.machine.connectionState).toBe("closed");
  });
});
