// tshark's COPS dissector reads every message type and object callgate emits: no malformed packet, no
// expert info of warning or above, and the dissected op codes, handles, contexts and decisions are ours.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  ClientType,
  CommandCode,
  CopsPepConnection,
  ReportType,
  RType,
  buildConfigRequest,
  buildInstallDecision,
  buildNullDecision,
  buildProvisioningReport,
  buildRemoveDecision,
  buildSipAaaDecision,
  buildSipAaaRequest,
  decodeCopsMessage,
  encodeCopsMessage,
  encodePrSubObjects,
  type CopsMessage,
} from "../../protocols/cops/index.js";
import { CopsHarness } from "../protocols/cops/harness.js";
import { PcapWriter } from "../protocols/cops/pcap-writer.js";
import { CALL_HANDLE, ROUTER_HANDLE, aaaInfo, flow } from "../protocols/cops/samples.js";

const PDP = "192.0.2.1";
const dir = mkdtempSync(join(tmpdir(), "cops-tshark-"));
const KEEP = process.env.COPS_KEEP_PCAP;
afterAll(() => (KEEP ? undefined : rmSync(dir, { recursive: true, force: true })));

/** SIP proxy ↔ policy server with Integrity, driven through the real PEP and PDP machines. */
function sipProxyConversation(): { from: "pep" | "pdp"; bytes: Buffer }[] {
  const keys = {
    pep: { keyId: 1, key: Buffer.from("k-pep"), peerKeys: new Map([[2, Buffer.from("k-pdp")]]), initialSequence: 1 },
    pdp: { keyId: 2, key: Buffer.from("k-pdp"), peerKeys: new Map([[1, Buffer.from("k-pep")]]), initialSequence: 1000 },
  };
  const pep = new CopsPepConnection({ clientType: ClientType.SipAaa, pepId: "sip1.example.com", servers: [{ family: 4, address: PDP, port: 3288 }], integrity: keys.pep, random: () => 0.5 });
  const h = new CopsHarness(pep);
  h.addPdp(PDP, { clientTypes: [ClientType.SipAaa], kaTimerSeconds: 30, integrity: keys.pdp });
  h.start();
  for (const purpose of ["AAA", "LDP", "noLDP"] as const) {
    const req = buildSipAaaRequest(purpose, CALL_HANDLE, purpose === "noLDP" ? { callId: aaaInfo.callId, flows: [] } : aaaInfo);
    h.toPep({ type: "request", handle: CALL_HANDLE, context: req.context, clientSi: req.clientSi });
    const dec = buildSipAaaDecision(purpose, CALL_HANDLE, true, { token: Buffer.from("token"), timeLimitSeconds: 3600, dscp: 46 });
    h.toPdp({ type: "decide", handle: CALL_HANDLE, decisions: dec.decisions });
    if (purpose === "AAA") {
      h.toPdp({ type: "synchronize" });
      h.toPdp({ type: "decide", handle: CALL_HANDLE, decisions: dec.decisions });
      h.advance(20_000); // one KA each way
    }
  }
  h.toPep({ type: "delete", handle: CALL_HANDLE, reason: { code: 4, subCode: 0 } });
  h.toPep({ type: "shutdown" });
  return h.wire.map((w) => ({ from: w.from, bytes: w.bytes }));
}

/** Policy server ↔ DiffServ edge router, COPS-PR client type 2, through the machines. */
function routerConversation(): { from: "pep" | "pdp"; bytes: Buffer }[] {
  const pep = new CopsPepConnection({
    clientType: ClientType.DiffServPr,
    pepId: "r1.example.com",
    servers: [{ family: 4, address: PDP, port: 3288 }],
    openClientSi: { cType: 2, data: encodePrSubObjects([{ kind: "pprid", oid: "1.3.6.1.4.1.32473.1" }]) },
    random: () => 0.5,
  });
  const h = new CopsHarness(pep);
  h.addPdp(PDP, { clientTypes: [ClientType.DiffServPr], kaTimerSeconds: 30, acctTimerSeconds: 15 });
  h.start();
  const req = buildConfigRequest(ROUTER_HANDLE, [{ instanceId: 1, roles: "edge", maxFlows: 4096 }]);
  h.toPep({ type: "request", handle: ROUTER_HANDLE, context: req.context, clientSi: req.clientSi });
  h.toPdp({ type: "decide", handle: ROUTER_HANDLE, decisions: buildNullDecision(ROUTER_HANDLE).decisions });
  h.toPep({ type: "report", handle: ROUTER_HANDLE, reportType: ReportType.Success });
  h.toPdp({ type: "decide-unsolicited", handle: ROUTER_HANDLE, decisions: buildInstallDecision(ROUTER_HANDLE, [flow]).decisions });
  h.toPep({ type: "report", handle: ROUTER_HANDLE, reportType: ReportType.Success });
  const acct = buildProvisioningReport(ROUTER_HANDLE, ReportType.Accounting, { usage: [{ instanceId: 7, packets: 1200n, octets: 206400n }] });
  h.toPep({ type: "report", handle: ROUTER_HANDLE, reportType: ReportType.Accounting, clientSi: acct.clientSi });
  h.toPdp({ type: "decide-unsolicited", handle: ROUTER_HANDLE, decisions: buildRemoveDecision(ROUTER_HANDLE, [7]).decisions });
  const removed = buildProvisioningReport(ROUTER_HANDLE, ReportType.Success, { usage: [{ instanceId: 7, packets: 1500n, octets: 258000n }] });
  h.toPep({ type: "report", handle: ROUTER_HANDLE, reportType: ReportType.Success, clientSi: removed.clientSi });
  h.toPdp({ type: "decide-unsolicited", handle: ROUTER_HANDLE, decisions: buildInstallDecision(ROUTER_HANDLE, [{ ...flow, instanceId: 9 }]).decisions });
  const failed = buildProvisioningReport(ROUTER_HANDLE, ReportType.Failure, {
    failure: { global: { code: 9, subCode: 0 }, instances: [{ prid: "1.3.6.1.4.1.32473.1.1.1.9", code: 1, subCode: 0 }] },
  });
  h.toPep({ type: "report", handle: ROUTER_HANDLE, reportType: ReportType.Failure, clientSi: failed.clientSi });
  h.toPep({ type: "delete", handle: ROUTER_HANDLE, reason: { code: 2, subCode: 0 } });
  return h.wire.map((w) => ({ from: w.from, bytes: w.bytes }));
}

/** The remaining objects: interfaces (IPv4/IPv6), LPDP decisions and Decision data C-Types 2–5, addresses, errors. */
function objectTour(): { from: "pep" | "pdp"; message: CopsMessage }[] {
  const handle = Buffer.from([0, 0, 0, 0x33]);
  const data = (n: number) => Buffer.alloc(n, 0x5a);
  // Named data is COPS-PR framed (RFC 3084), which is how tshark reads Decision C-Type 5
  const named = encodePrSubObjects([{ kind: "pprid", oid: "1.3.6.1.4.1.32473.1.1" }]);
  return [
    { from: "pep", message: { op: "OPN", clientType: ClientType.SipAaa, pepId: "sip1.example.com", lastPdpAddress: { family: 6, address: "2001:db8::1", port: 3288 } } },
    { from: "pdp", message: { op: "CC", clientType: ClientType.SipAaa, error: { code: 12, subCode: 0 }, redirect: { family: 6, address: "2001:db8::2", port: 3288 } } },
    { from: "pep", message: { op: "OPN", clientType: ClientType.SipAaa, pepId: "sip1.example.com", lastPdpAddress: { family: 4, address: "192.0.2.1", port: 3288 } } },
    { from: "pdp", message: { op: "CAT", clientType: ClientType.SipAaa, kaTimerSeconds: 30, acctTimerSeconds: 0 } },
    {
      from: "pep",
      message: {
        op: "REQ",
        clientType: ClientType.SipAaa,
        handle,
        context: { rType: RType.IncomingMessage, mType: 1 },
        inInterface: { family: 4, address: "192.0.2.10", ifIndex: 1 },
        outInterface: { family: 6, address: "2001:db8::10", ifIndex: 2 },
        clientSi: buildSipAaaRequest("AAA", handle, aaaInfo).clientSi,
        lpdpDecisions: [{ context: { rType: RType.IncomingMessage, mType: 1 }, command: CommandCode.Install, flags: 0, stateless: data(4), replacement: data(4), clientSi: data(4), named }],
      },
    },
    {
      from: "pdp",
      message: {
        op: "DEC",
        clientType: ClientType.SipAaa,
        solicited: true,
        handle,
        decisions: [{ context: { rType: RType.IncomingMessage, mType: 1 }, command: CommandCode.Remove, flags: 1, stateless: data(4), replacement: data(8), clientSi: data(4), named }],
      },
    },
    { from: "pep", message: { op: "REQ", clientType: ClientType.SipAaa, handle, context: { rType: RType.OutgoingMessage, mType: 2 }, inInterface: { family: 6, address: "2001:db8::11", ifIndex: 3 }, outInterface: { family: 4, address: "192.0.2.11", ifIndex: 4 }, clientSi: [], lpdpDecisions: [] } },
    { from: "pdp", message: { op: "DEC", clientType: ClientType.SipAaa, solicited: true, handle, decisions: [], error: { code: 5, subCode: 0 } } },
    { from: "pep", message: { op: "DRQ", clientType: ClientType.SipAaa, handle, reason: { code: 13, subCode: 0x2a01 } } },
    { from: "pep", message: { op: "CC", clientType: ClientType.SipAaa, error: { code: 11, subCode: 0 } } },
  ];
}

interface Expected {
  op: number;
  flags: number;
  clientType: number;
  handle: string;
  contexts: string[];
  commands: string[];
  reportType: string;
}

function expected(m: CopsMessage): Expected {
  const ops = ["", "REQ", "DEC", "RPT", "DRQ", "SSQ", "OPN", "CAT", "CC", "KA", "SSC"];
  const handle = "handle" in m && m.handle ? `0x${m.handle.toString("hex")}` : "";
  const decisions = m.op === "DEC" ? m.decisions : m.op === "REQ" ? m.lpdpDecisions : [];
  const ctx = (c: { rType: number; mType: number }) => `0x${c.rType.toString(16).padStart(4, "0")}/0x${c.mType.toString(16).padStart(4, "0")}`;
  const contexts = [...(m.op === "REQ" ? [ctx(m.context)] : []), ...decisions.flatMap((d) => (d.context ? [ctx(d.context)] : []))];
  return {
    op: ops.indexOf(m.op),
    flags: m.solicited ? 1 : 0,
    clientType: m.clientType,
    handle,
    contexts,
    commands: decisions.map((d) => String(d.command)),
    reportType: m.op === "RPT" ? String(m.reportType) : "",
  };
}

describe("tshark COPS dissector", () => {
  it("dissects every message type and object callgate emits, without error, as sent", () => {
    const writer = new PcapWriter();
    const sent: CopsMessage[] = [];
    const flows = [
      { client: 40001, items: sipProxyConversation() },
      { client: 40002, items: routerConversation() },
      { client: 40003, items: objectTour().map((t) => ({ from: t.from, bytes: encodeCopsMessage(t.message) })) },
    ];
    for (const f of flows) {
      const tcp = writer.connection({ ip: "127.0.0.1", port: f.client }, { ip: "127.0.0.2", port: 3288 });
      for (const item of f.items) {
        (item.from === "pep" ? tcp.fromClient : tcp.fromServer)(item.bytes);
        sent.push(decodeCopsMessage(item.bytes));
      }
    }
    // the capture holds every op code, every C-Num and every Decision C-Type
    expect(new Set(sent.map((m) => m.op))).toEqual(new Set(["REQ", "DEC", "RPT", "DRQ", "SSQ", "OPN", "CAT", "CC", "KA", "SSC"]));
    const pcap = join(dir, "cops.pcap");
    writeFileSync(pcap, writer.toBuffer());
    if (KEEP) writeFileSync(KEEP, writer.toBuffer());

    // cNums seen by tshark
    const cNums = execFileSync("tshark", ["-r", pcap, "-d", "tcp.port==3288,cops", "-Y", "cops", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", "-e", "cops.c_num", "-e", "cops.c_type"], { encoding: "utf8" });
    const seen = new Set<string>();
    for (const line of cNums.trim().split("\n")) {
      // tshark lists each object's C-Num twice (tree item + field) and its C-Type once
      const [nums, types] = line.split("\t");
      const objects = (nums ?? "").split(",").filter((_, k) => k % 2 === 0);
      const cTypes = (types ?? "").split(",");
      let t = 0;
      for (const c of objects) seen.add(`${c}/${cTypes[t++]}`);
      expect(t, line).toBe(cTypes.length);
    }
    for (const obj of ["1/1", "2/1", "3/1", "3/2", "4/1", "4/2", "5/1", "6/1", "6/2", "6/3", "6/4", "6/5", "7/1", "7/2", "7/3", "7/4", "7/5", "8/1", "9/1", "9/2", "10/1", "11/1", "12/1", "13/2", "14/1", "14/2", "15/1", "16/1"]) {
      expect(seen, `object C-Num/C-Type ${obj}`).toContain(obj);
    }

    const out = execFileSync(
      "tshark",
      ["-r", pcap, "-d", "tcp.port==3288,cops", "-Y", "cops", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|",
        "-e", "frame.number", "-e", "cops.op_code", "-e", "cops.flags", "-e", "cops.client_type", "-e", "cops.handle",
        "-e", "cops.context.r_type", "-e", "cops.context.m_type", "-e", "cops.decision.cmd", "-e", "cops.report_type",
        "-e", "_ws.malformed", "-e", "_ws.expert.severity", "-e", "cops.msg_len"],
      { encoding: "utf8" },
    );
    const rows = out.trim().split("\n").map((l) => l.split("\t"));
    expect(rows).toHaveLength(sent.length);
    rows.forEach((row, i) => {
      const [frame, op, flags, clientType, handle, rTypes, mTypes, cmds, report, malformed, severity, len] = row;
      const want = expected(sent[i] as CopsMessage);
      const list = (s: string | undefined) => (s ? s.split("|") : []);
      const r = list(rTypes), mt = list(mTypes);
      const got = {
        op: Number(op),
        flags: Number(flags),
        clientType: Number(clientType),
        handle: handle ?? "",
        contexts: r.map((x, k) => `${x}/${mt[k]}`),
        commands: list(cmds),
        reportType: report ?? "",
      };
      expect(got, `frame ${frame}`).toEqual(want);
      expect(malformed, `frame ${frame} malformed`).toBe("");
      // expert severities: chat 0x200000, note 0x400000, warn 0x600000, error 0x800000
      for (const s of list(severity)) expect(Number(s), `frame ${frame} expert severity`).toBeLessThan(0x600000);
      expect(Number(len)).toBe(encodeCopsMessage(sent[i] as CopsMessage).length);
    });

    // and the expert summary has nothing of warning level or above
    const expert = execFileSync("tshark", ["-r", pcap, "-d", "tcp.port==3288,cops", "-q", "-z", "expert,warn"], { encoding: "utf8" });
    expect(expert).not.toMatch(/Warns|Errors/);
  });
});
