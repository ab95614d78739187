import { describe, expect, it } from "vitest";
import {
  ClientType,
  CommandCode,
  CopsPepConnection,
  ErrorCode,
  ReportType,
  RType,
  buildInstallDecision,
  buildSipAaaRequest,
  encodeCopsMessage,
  encodeSipAaaClientSi,
  parseSipAaaDecision,
  sipAaaContext,
  type CopsDecision,
  type CopsPepOptions,
  type CopsPdpOptions,
} from "../../../protocols/cops/index.js";
import { CopsHarness } from "./harness.js";
import { aaaInfo } from "./samples.js";

const PRIMARY = "192.0.2.1";
const BACKUP = "192.0.2.2";
const pdpOptions: CopsPdpOptions = { clientTypes: [ClientType.SipAaa, ClientType.DiffServPr], kaTimerSeconds: 30, acctTimerSeconds: 0 };

function setup(pep: Partial<CopsPepOptions> = {}, pdp: Partial<CopsPdpOptions> = {}, random = () => 0.5): CopsHarness {
  const machine = new CopsPepConnection({
    clientType: ClientType.SipAaa,
    pepId: "sip1.example.com",
    servers: [
      { family: 4, address: PRIMARY, port: 3288 },
      { family: 4, address: BACKUP, port: 3288 },
    ],
    random,
    ...pep,
  });
  const h = new CopsHarness(machine);
  h.addPdp(PRIMARY, { ...pdpOptions, ...pdp });
  h.addPdp(BACKUP, { ...pdpOptions, ...pdp });
  h.start();
  return h;
}

const yes = (mType = 1): CopsDecision[] => [{ context: { rType: RType.IncomingMessage, mType }, command: CommandCode.Install, flags: 0 }];
const configYes: CopsDecision[] = [{ context: { rType: RType.Configuration, mType: 0 }, command: CommandCode.Install, flags: 0 }];

function request(h: CopsHarness, handle: Buffer, purpose: "AAA" | "LDP" | "noLDP" = "AAA"): void {
  h.toPep({ type: "request", handle, context: sipAaaContext(purpose), clientSi: [{ cType: 1, data: encodeSipAaaClientSi(aaaInfo) }] });
}

describe("OPN / CAT (RFC 2748 §3.5, §3.6)", () => {
  it("the PEP opens with OPN, the PDP accepts with CAT carrying the KA and Accounting timers", () => {
    const h = setup({}, { acctTimerSeconds: 60 });
    expect(h.wire.map((w) => `${w.from} ${w.label}`)).toEqual(["pep OPN", "pdp CAT"]);
    expect(h.wire[0]?.message).toMatchObject({ op: "OPN", clientType: ClientType.SipAaa, pepId: "sip1.example.com" });
    expect(h.wire[1]?.message).toMatchObject({ op: "CAT", kaTimerSeconds: 30, acctTimerSeconds: 60 });
    expect(h.pepEvents).toContainEqual({ type: "accepted", kaTimerSeconds: 30, acctTimerSeconds: 60 });
    expect(h.pep.connectionState).toBe("open");
  });
  it("an OPN for a client type the PDP does not serve gets CC Error 6", () => {
    const h = setup({ clientType: 0x9999 });
    const cc = h.sent("pdp").find((w) => w.message.op === "CC");
    expect(cc?.message).toMatchObject({ op: "CC", error: { code: ErrorCode.UnsupportedClientType } });
  });
  it("CC with redirect sends the PEP to the named PDP, which it then opens (§2.2.13)", () => {
    const machine = new CopsPepConnection({ clientType: ClientType.SipAaa, pepId: "sip1", servers: [{ family: 4, address: PRIMARY, port: 3288 }] });
    const h = new CopsHarness(machine);
    h.addPdp(PRIMARY, { ...pdpOptions, redirect: { family: 4, address: BACKUP, port: 3288 } });
    h.addPdp(BACKUP, pdpOptions);
    h.start();
    const closed = h.pepEvents.find((e) => e.type === "closed");
    expect(closed).toMatchObject({ error: { code: ErrorCode.RedirectToPreferredServer }, redirect: { address: BACKUP, port: 3288 } });
    expect(h.wire.map((w) => `${w.server} ${w.from} ${w.label}`)).toEqual([
      `${PRIMARY} pep OPN`,
      `${PRIMARY} pdp CC`,
      `${BACKUP} pep OPN`,
      `${BACKUP} pdp CAT`,
    ]);
    expect(h.current).toBe(BACKUP);
    expect(h.pep.connectionState).toBe("open");
  });
});

describe("keep-alive (RFC 2748 §4.4)", () => {
  for (const [r, expected] of [
    [0, 7_500],
    [0.5, 15_000],
    [0.999999, 22_500],
  ] as const) {
    it(`KA is scheduled at ${expected} ms of a 30 s timer when random() = ${r}`, () => {
      const h = setup({}, {}, () => r);
      expect(h.timerDue("pep", "ka-send")).toBe(expected);
    });
  }
  it("the PEP sends KA with client type 0, the PDP echoes it, and the connection stays up", () => {
    const h = setup();
    h.advance(120_000);
    const kas = h.wire.filter((w) => w.label === "KA");
    expect(kas.filter((w) => w.from === "pep").length).toBe(8);
    expect(kas.filter((w) => w.from === "pdp").length).toBe(8);
    expect(kas.every((w) => w.message.clientType === 0)).toBe(true);
    expect(h.pep.connectionState).toBe("open");
  });
  it("every KA interval lies within 1/4..3/4 of the timer", () => {
    let i = 0;
    const seq = [0.1, 0.9, 0.0, 0.99, 0.3];
    const h = setup({}, {}, () => seq[i++ % seq.length] ?? 0);
    h.advance(200_000);
    const times = h.sent("pep").filter((w) => w.label === "KA").map((w) => w.t);
    const gaps = times.map((t, k) => t - (k === 0 ? 0 : (times[k - 1] ?? 0)));
    expect(gaps.length).toBeGreaterThan(5);
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(7_500);
      expect(g).toBeLessThanOrEqual(22_500);
    }
  });
  it("the PDP detects a silent PEP after the KA timer", () => {
    const h = setup();
    h.hold = true; // nothing reaches anybody any more
    h.advance(31_000);
    expect(h.pdpEvents(PRIMARY)).toContainEqual({ type: "pep-lost", reason: "keep-alive timer expired" });
  });
});

describe("request states multiplexed by Handle", () => {
  it("REQ AAA → DEC AAA with the Solicited flag, labelled as in the reference flow", () => {
    const h = setup();
    const handle = h.pep.allocateHandle();
    request(h, handle);
    const req = h.pdpEvents(PRIMARY).find((e) => e.type === "request");
    expect(req).toMatchObject({ type: "request", handle });
    h.toPdp({ type: "decide", handle, decisions: yes() });
    const dec = h.wire.find((w) => w.label === "DEC AAA");
    expect(dec?.message.solicited).toBe(true);
    expect(h.wire.map((w) => w.label)).toContain("REQ AAA");
    const pepDecision = h.pepEvents.find((e) => e.type === "decision");
    expect(pepDecision?.type === "decision" && parseSipAaaDecision(pepDecision.message).allowed).toBe(true);
  });

  it("the PDP answers REQs in the order received even when decisions are made out of order", () => {
    const h = setup();
    const handles = [h.pep.allocateHandle(), h.pep.allocateHandle(), h.pep.allocateHandle()];
    for (const hd of handles) request(h, hd);
    h.toPdp({ type: "decide", handle: handles[2] as Buffer, decisions: yes() });
    h.toPdp({ type: "decide", handle: handles[1] as Buffer, decisions: yes() });
    expect(h.sent("pdp").filter((w) => w.message.op === "DEC")).toHaveLength(0);
    expect(h.pdp(PRIMARY).unansweredRequests).toBe(3);
    h.toPdp({ type: "decide", handle: handles[0] as Buffer, decisions: yes() });
    const decs = h.sent("pdp").filter((w) => w.message.op === "DEC");
    expect(decs.map((w) => (w.message.op === "DEC" ? w.message.handle.readUInt32BE(0) : -1))).toEqual(handles.map((x) => x.readUInt32BE(0)));
  });

  it("a handle is reused only after its DRQ", () => {
    const h = setup();
    const a = h.pep.allocateHandle();
    const b = h.pep.allocateHandle();
    expect(a.equals(b)).toBe(false);
    request(h, a);
    h.toPep({ type: "delete", handle: a, reason: { code: 4, subCode: 0 } });
    expect(h.sent("pep").at(-1)?.message).toMatchObject({ op: "DRQ", handle: a, reason: { code: 4 } });
    expect(h.pdpEvents(PRIMARY)).toContainEqual({ type: "deleted", handle: a, reason: { code: 4, subCode: 0 } });
    expect(h.pep.hasHandle(a)).toBe(false);
  });

  it("10,000 concurrent handles on one connection: every DEC reaches the state it was made for", () => {
    const h = setup();
    const N = 10_000;
    const handles: Buffer[] = [];
    for (let i = 0; i < N; i++) {
      const handle = h.pep.allocateHandle();
      handles.push(handle);
      // each request carries its own Call-ID, so a crossed handle would show
      h.toPep({ type: "request", handle, context: sipAaaContext("AAA"), clientSi: [{ cType: 1, data: encodeSipAaaClientSi({ callId: `call-${i}`, flows: [] }) }] });
    }
    expect(new Set(handles.map((x) => x.toString("hex"))).size).toBe(N);
    expect(h.pep.openHandles).toBe(N);
    expect(h.pdp(PRIMARY).openHandles).toBe(N);
    // the PDP decides in reverse order; DSCP encodes the call index mod 64, time limit the index
    const requests = h.pdpEvents(PRIMARY).filter((e) => e.type === "request");
    for (let k = requests.length - 1; k >= 0; k--) {
      const r = requests[k];
      if (r?.type !== "request") continue;
      const si = r.message.clientSi[0]?.data ?? Buffer.alloc(0);
      const callIndex = Number(/call-(\d+)/.exec(si.toString("latin1"))?.[1]);
      h.toPdp({
        type: "decide",
        handle: r.handle,
        decisions: [{ context: sipAaaContext("AAA"), command: 1, flags: 0, clientSi: Buffer.from(`call-${callIndex}`) }],
      });
    }
    const decisions = h.pepEvents.filter((e) => e.type === "decision");
    expect(decisions).toHaveLength(N);
    const indexOf = new Map(handles.map((x, i) => [x.toString("hex"), i]));
    let crossed = 0;
    for (const d of decisions) {
      if (d.type !== "decision") continue;
      if (d.message.decisions[0]?.clientSi?.toString() !== `call-${indexOf.get(d.handle.toString("hex"))}`) crossed++;
    }
    expect(crossed).toBe(0);
    // DECs went out in REQ order although decided in reverse
    const order = h.sent("pdp").filter((w) => w.message.op === "DEC").map((w) => (w.message.op === "DEC" ? w.message.handle.readUInt32BE(0) : 0));
    expect(order).toEqual(handles.map((x) => x.readUInt32BE(0)));
    for (const hd of handles) h.toPep({ type: "delete", handle: hd });
    expect(h.pep.openHandles).toBe(0);
    expect(h.pdp(PRIMARY).openHandles).toBe(0);
  }, 20_000);
});

describe("configuration decisions and reports (RFC 2748 §3.3)", () => {
  it("every DEC with a configuration context is answered by exactly one solicited RPT", () => {
    const h = setup({ clientType: ClientType.DiffServPr, pepId: "r1" });
    const handle = h.pep.allocateHandle();
    h.toPep({ type: "request", handle, context: { rType: RType.Configuration, mType: 0 } });
    h.toPdp({ type: "decide", handle, decisions: configYes });
    const first = h.pepEvents.find((e) => e.type === "decision");
    expect(first).toMatchObject({ needsReport: true });
    expect(h.pdp(PRIMARY).pendingReports(handle)).toBe(1);
    h.toPep({ type: "report", handle, reportType: ReportType.Success });
    expect(h.pdp(PRIMARY).pendingReports(handle)).toBe(0);
    // two unsolicited installs → two RPTs, in order
    const install = buildInstallDecision(handle, []).decisions;
    h.toPdp({ type: "decide-unsolicited", handle, decisions: install });
    h.toPdp({ type: "decide-unsolicited", handle, decisions: install });
    expect(h.pdp(PRIMARY).pendingReports(handle)).toBe(2);
    h.toPep({ type: "report", handle, reportType: ReportType.Success });
    h.toPep({ type: "report", handle, reportType: ReportType.Failure });
    const rpts = h.sent("pep").filter((w) => w.message.op === "RPT");
    expect(rpts.map((w) => [w.label, w.message.solicited])).toEqual([
      ["RPT Success", true],
      ["RPT Success", true],
      ["RPT Failure", true],
    ]);
    expect(h.pdpEvents(PRIMARY).filter((e) => e.type === "report" && e.answersDecision)).toHaveLength(3);
    // a further (accounting) report is unsolicited and does not count as an answer
    h.toPep({ type: "report", handle, reportType: ReportType.Accounting });
    expect(h.sent("pep").at(-1)?.message.solicited).toBe(false);
    expect(h.pdpEvents(PRIMARY).filter((e) => e.type === "protocol-error")).toHaveLength(0);
  });

  it("the Accounting timer of CAT prompts accounting reports", () => {
    const h = setup({ clientType: ClientType.DiffServPr, pepId: "r1" }, { acctTimerSeconds: 10 });
    h.advance(35_000);
    expect(h.pepEvents.filter((e) => e.type === "accounting-due")).toHaveLength(3);
  });
});

describe("SSQ / SSC (RFC 2748 §3.9, §3.10)", () => {
  it("SSQ without handle: the PEP re-sends every REQ, then SSC", () => {
    const h = setup();
    const a = h.pep.allocateHandle();
    const b = h.pep.allocateHandle();
    request(h, a);
    request(h, b);
    const before = h.wire.length;
    h.toPdp({ type: "synchronize" });
    expect(h.wire.slice(before).map((w) => `${w.from} ${w.label}`)).toEqual(["pdp SSQ", "pep REQ AAA", "pep REQ AAA", "pep SSC"]);
    expect(h.pdpEvents(PRIMARY)).toContainEqual({ type: "sync-complete" });
  });
  it("SSQ for an unknown handle: DRQ with Reason 10, then SSC", () => {
    const h = setup();
    const unknown = Buffer.from([9, 9, 9, 9]);
    h.toPdp({ type: "synchronize", handle: unknown });
    const tail = h.sent("pep").slice(-2).map((w) => w.message);
    expect(tail[0]).toMatchObject({ op: "DRQ", handle: unknown, reason: { code: 10 } });
    expect(tail[1]).toMatchObject({ op: "SSC", handle: unknown });
  });
});

describe("fail-over and local decisions (RFC 2748 §2.5)", () => {
  for (const mode of ["fail-open", "fail-closed"] as const) {
    it(`${mode}: the PDP goes silent, the PEP detects KA loss, decides locally, moves to the backup and resynchronises`, () => {
      const h = setup({ localDecision: mode });
      const handle = h.pep.allocateHandle();
      request(h, handle);
      h.toPdp({ type: "decide", handle, decisions: yes() });
      h.crash(PRIMARY);
      h.addPdp(PRIMARY, { ...pdpOptions }).up = false;
      h.pdps.get(BACKUP)!.up = false; // the backup is not up yet either
      h.advance(30_000);
      expect(h.pepEvents).toContainEqual({ type: "pdp-lost", reason: "keep-alive timer expired" });
      // while no PDP is reachable, a new call is decided locally
      const local = h.pep.allocateHandle();
      request(h, local);
      expect(h.pepEvents).toContainEqual({ type: "local-decision", handle: local, allowed: mode === "fail-open" });
      // the backup comes up; the PEP's reconnect timer finds it
      h.pdps.get(BACKUP)!.up = true;
      h.advance(5_000);
      expect(h.current).toBe(BACKUP);
      const opn = h.sent("pep").filter((w) => w.server === BACKUP && w.message.op === "OPN")[0];
      expect(opn?.message).toMatchObject({ op: "OPN", lastPdpAddress: { address: PRIMARY, port: 3288 } });
      const resent = h.sent("pep").filter((w) => w.server === BACKUP && w.message.op === "REQ");
      expect(resent).toHaveLength(2);
      const localReq = resent.find((w) => w.message.op === "REQ" && w.message.handle.equals(local));
      expect(localReq?.message).toMatchObject({ lpdpDecisions: [{ command: mode === "fail-open" ? CommandCode.Install : CommandCode.Remove }] });
      expect(h.pepEvents).toContainEqual({ type: "resynchronised", handles: 2 });
      expect(h.pdp(BACKUP).openHandles).toBe(2);
    });
  }
});

describe("malformed input gets the RFC's answer and the connection survives where allowed", () => {
  it("malformed REQ → DEC with Error, connection stays open", () => {
    const h = setup();
    // REQ whose Context is missing
    const bad = Buffer.from("10018cb100000010000801010000002a", "hex");
    h.inject("pdp", bad);
    const dec = h.sent("pdp").at(-1)?.message;
    expect(dec).toMatchObject({ op: "DEC", handle: Buffer.from([0, 0, 0, 42]), error: { code: ErrorCode.MandatoryObjectMissing } });
    expect(h.pdp(PRIMARY).connectionState).toBe("open");
  });
  it("REQ with an unknown object → DEC Error 13 with C-Num/C-Type sub-code", () => {
    const h = setup();
    const bad = Buffer.from("10018cb100000020" + "000801010000002a" + "0008020100010000" + "0008630500000000", "hex");
    h.inject("pdp", bad);
    expect(h.sent("pdp").at(-1)?.message).toMatchObject({ op: "DEC", error: { code: 13, subCode: 0x6305 } });
  });
  it("malformed OPN → CC with Error and close", () => {
    const machine = new CopsPepConnection({ clientType: ClientType.SipAaa, pepId: "x", servers: [{ family: 4, address: PRIMARY, port: 3288 }] });
    const h = new CopsHarness(machine);
    h.addPdp(PRIMARY, pdpOptions);
    h.hold = true;
    h.start();
    h.held.length = 0; // drop the real OPN
    h.hold = false;
    h.inject("pdp", Buffer.from("10068cb10000000c00040b01", "hex")); // OPN with an empty PEPID object
    expect(h.sent("pdp").at(-1)?.message).toMatchObject({ op: "CC", error: { code: ErrorCode.BadMessageFormat } });
  });
  it("a DEC with an unknown object at the PEP → DRQ Reason 13 naming it", () => {
    const h = setup();
    const handle = h.pep.allocateHandle();
    request(h, handle);
    const dec = encodeCopsMessage({ op: "DEC", clientType: ClientType.SipAaa, solicited: true, handle, decisions: yes() });
    const withUnknown = Buffer.concat([dec, Buffer.from("00087701deadbeef", "hex")]);
    withUnknown.writeUInt32BE(withUnknown.length, 4);
    h.inject("pep", withUnknown);
    expect(h.sent("pep").at(-1)?.message).toMatchObject({ op: "DRQ", handle, reason: { code: 13, subCode: 0x7701 } });
  });
});

describe("integrity (RFC 2748 §2.2.16, HMAC-MD5-96)", () => {
  const pepKey = { keyId: 11, key: Buffer.from("pep-secret-key"), peerKeys: new Map([[22, Buffer.from("pdp-secret-key")]]), initialSequence: 0xfffffffe };
  const pdpKey = { keyId: 22, key: Buffer.from("pdp-secret-key"), peerKeys: new Map([[11, Buffer.from("pep-secret-key")]]), initialSequence: 100 };

  it("every message carries Key ID and a per-direction sequence that wraps after 0xFFFFFFFF", () => {
    const h = setup({ integrity: pepKey }, { integrity: pdpKey });
    const handle = h.pep.allocateHandle();
    request(h, handle);
    h.toPdp({ type: "decide", handle, decisions: yes() });
    h.advance(40_000);
    const seq = (from: "pep" | "pdp") => h.sent(from).map((w) => (w.message.integrity?.cType === 1 ? w.message.integrity.sequence : -1));
    expect(seq("pep").slice(0, 4)).toEqual([0xfffffffe, 0xffffffff, 0, 1]);
    expect(seq("pdp").slice(0, 3)).toEqual([100, 101, 102]);
    expect(h.sent("pep").every((w) => w.message.integrity?.cType === 1 && w.message.integrity.keyId === 11)).toBe(true);
    expect(h.pep.connectionState).toBe("open");
    expect(h.pdpEvents(PRIMARY).filter((e) => e.type === "protocol-error")).toHaveLength(0);
  });
  it("a tampered message closes the connection with CC Error 14", () => {
    const h = setup({ integrity: pepKey }, { integrity: pdpKey });
    h.hold = true;
    request(h, h.pep.allocateHandle());
    h.hold = false;
    h.release((b) => {
      const t = Buffer.from(b);
      t[t.length - 20] = (t[t.length - 20] ?? 0) ^ 0x01; // a byte inside the signed part
      return t;
    });
    expect(h.sent("pdp").at(-1)?.message).toMatchObject({ op: "CC", error: { code: ErrorCode.AuthenticationFailure } });
    expect(h.pdp(PRIMARY).connectionState).toBe("closed");
  });
  it("a replayed message closes the connection with CC Error 14", () => {
    const h = setup({ integrity: pepKey }, { integrity: pdpKey });
    h.hold = true;
    request(h, h.pep.allocateHandle());
    h.hold = false;
    const [copy] = h.held.map((x) => Buffer.from(x.bytes));
    h.release();
    expect(h.pdpEvents(PRIMARY).some((e) => e.type === "request")).toBe(true);
    h.inject("pdp", copy as Buffer);
    expect(h.sent("pdp").at(-1)?.message).toMatchObject({ op: "CC", error: { code: ErrorCode.AuthenticationFailure } });
  });
  it("a message without Integrity when keys are configured → CC Error 15", () => {
    const h = setup({}, { integrity: pdpKey });
    expect(h.sent("pdp").at(-1)?.message).toMatchObject({ op: "CC", error: { code: ErrorCode.AuthenticationRequired } });
  });
  it("a wrong key → CC Error 14", () => {
    const h = setup({ integrity: { ...pepKey, key: Buffer.from("wrong") } }, { integrity: pdpKey });
    expect(h.sent("pdp").at(-1)?.message).toMatchObject({ op: "CC", error: { code: ErrorCode.AuthenticationFailure } });
  });
});

describe("one call's requests on one handle", () => {
  it("REQ AAA, REQ LDP and REQ noLDP update one state; each gets its own DEC", () => {
    const h = setup();
    const handle = h.pep.allocateHandle();
    for (const purpose of ["AAA", "LDP", "noLDP"] as const) {
      h.toPep({ type: "request", handle, context: sipAaaContext(purpose), clientSi: buildSipAaaRequest(purpose, handle, aaaInfo).clientSi });
      h.toPdp({ type: "decide", handle, decisions: [{ context: sipAaaContext(purpose), command: 1, flags: 0 }] });
    }
    h.toPep({ type: "delete", handle });
    expect(h.wire.slice(2).map((w) => w.label)).toEqual(["REQ AAA", "DEC AAA", "REQ LDP", "DEC LDP", "REQ noLDP", "DEC noLDP", "DRQ"]);
  });
});
