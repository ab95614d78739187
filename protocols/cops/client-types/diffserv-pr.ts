// COPS-PR (RFC 3084) client type 2 for DiffServ edge routers: one configuration request state, unsolicited
// DEC Install/Remove of flow classifiers (5-tuple → mark DSCP), RPT Success/Failure/Accounting with counts.
// PRCs: the callgate PIB subset under 1.3.6.1.4.1.32473.1 (documentation enterprise number, RFC 5612),
// modelled on RFC 3318 frwkIpFilterEntry + RFC 3317 qosDscpMarkActEntry; see docs/protocols/cops.md.
import { CopsDecodeError } from "../cops-decode-error.js";
import { ClientType, CommandCode, ReportType, RType } from "../constants.js";
import type { CopsDecisionMessage, CopsMessage, CopsReportMessage, CopsRequestMessage } from "../cops-message.js";
import { ipFamilyOf, readIp, writeIp, addressLength } from "../objects/ip-address.js";
import type { IpFamily } from "../objects/ip-address.js";
import type { BerValue } from "../pr/ber.js";
import { decodePrSubObjects, encodePrSubObjects } from "../pr/pr-sub-objects.js";
import type { PrSubObject } from "../pr/pr-sub-objects.js";

export const DIFFSERV_PR_CLIENT_TYPE = ClientType.DiffServPr;
export const CALLGATE_PIB = "1.3.6.1.4.1.32473.1";
/** Entry OIDs of the PRCs; an instance's PRID is `<entry>.<instanceId>`. */
export const Prc = {
  FlowMark: `${CALLGATE_PIB}.1.1`,
  FlowUsage: `${CALLGATE_PIB}.2.1`,
  Capability: `${CALLGATE_PIB}.3.1`,
} as const;

/** RFC 2748 §2.2.2 Context of every message on the provisioning state: Configuration request. */
export const CONFIG_CONTEXT = { rType: RType.Configuration, mType: 0 } as const;

export interface FlowMark {
  instanceId: number;
  family: IpFamily;
  protocol: number;
  srcAddress: string;
  srcPort: number;
  dstAddress: string;
  dstPort: number;
  /** DSCP the router marks matching packets with (0–63). */
  dscp: number;
}
export interface FlowUsage {
  instanceId: number;
  packets: bigint;
  octets: bigint;
}
export interface RouterCapability {
  instanceId: number;
  /** Interface role combination the router provisions (RFC 3084 §2). */
  roles: string;
  maxFlows: number;
}
export interface ProvisioningFailure {
  global?: { code: number; subCode: number };
  instances: { prid: string; code: number; subCode: number }[];
}

function prid(entry: string, instanceId: number): PrSubObject {
  return { kind: "prid", oid: `${entry}.${instanceId >>> 0}` };
}

function instanceOf(entry: string, oid: string, offset: number): number {
  if (!oid.startsWith(`${entry}.`)) throw new CopsDecodeError("bad-sub-object", offset, `PRID ${oid} not in class ${entry}`);
  const id = Number(oid.slice(entry.length + 1));
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new CopsDecodeError("bad-sub-object", offset, `PRID ${oid} has no instance number`);
  return id;
}

function addressOctets(family: IpFamily, address: string): Buffer {
  const b = Buffer.alloc(addressLength(family));
  writeIp(family, address, b, 0);
  return b;
}

function flowMarkEpd(f: FlowMark): BerValue[] {
  if (ipFamilyOf(f.srcAddress) !== f.family || ipFamilyOf(f.dstAddress) !== f.family) throw new RangeError("flow addresses do not match its family");
  if (f.dscp < 0 || f.dscp > 63) throw new RangeError(`DSCP ${f.dscp} out of 0..63`);
  return [
    { type: "unsigned32", value: f.instanceId },
    { type: "integer", value: f.family === 4 ? 1 : 2 }, // InetAddressType ipv4(1) / ipv6(2)
    { type: "octets", value: addressOctets(f.family, f.srcAddress) },
    { type: "octets", value: addressOctets(f.family, f.dstAddress) },
    { type: "unsigned32", value: f.protocol },
    { type: "unsigned32", value: f.srcPort },
    { type: "unsigned32", value: f.dstPort },
    { type: "integer", value: f.dscp },
  ];
}

function num(v: BerValue | undefined, types: BerValue["type"][], offset: number): number {
  if (v === undefined || !types.includes(v.type) || !("value" in v) || typeof v.value !== "number") {
    throw new CopsDecodeError("bad-sub-object", offset, `EPD attribute is not ${types.join("/")}`);
  }
  return v.value;
}
function octets(v: BerValue | undefined, offset: number): Buffer {
  if (v?.type !== "octets") throw new CopsDecodeError("bad-sub-object", offset, "EPD attribute is not OCTET STRING");
  return v.value;
}
function big(v: BerValue | undefined, offset: number): bigint {
  if (v?.type !== "unsigned64") throw new CopsDecodeError("bad-sub-object", offset, "EPD attribute is not Unsigned64");
  return v.value;
}

function parseFlowMark(instanceId: number, values: BerValue[], offset: number): FlowMark {
  if (values.length !== 8) throw new CopsDecodeError("bad-sub-object", offset, `flow mark EPD has ${values.length} attributes, expected 8`);
  const addrType = num(values[1], ["integer"], offset);
  if (addrType !== 1 && addrType !== 2) throw new CopsDecodeError("bad-sub-object", offset, `address type ${addrType}`);
  const family: IpFamily = addrType === 1 ? 4 : 6;
  const src = octets(values[2], offset);
  const dst = octets(values[3], offset);
  if (src.length !== addressLength(family) || dst.length !== addressLength(family)) {
    throw new CopsDecodeError("bad-sub-object", offset, "address length does not match address type");
  }
  const dscp = num(values[7], ["integer"], offset);
  if (dscp < 0 || dscp > 63) throw new CopsDecodeError("bad-sub-object", offset, `DSCP ${dscp} out of 0..63`);
  const epdId = num(values[0], ["unsigned32"], offset);
  if (epdId !== instanceId) throw new CopsDecodeError("bad-sub-object", offset, "EPD instance id differs from its PRID");
  return {
    instanceId,
    family,
    srcAddress: readIp(family, src, 0),
    dstAddress: readIp(family, dst, 0),
    protocol: num(values[4], ["unsigned32"], offset),
    srcPort: num(values[5], ["unsigned32"], offset),
    dstPort: num(values[6], ["unsigned32"], offset),
    dscp,
  };
}

/** Pairs of PRID + EPD (RFC 3084 §3.3 Install Decision, §3.4 Report / Request ClientSI). */
function pairs(subs: PrSubObject[]): { oid: string; values: BerValue[]; index: number }[] {
  const out: { oid: string; values: BerValue[]; index: number }[] = [];
  for (let i = 0; i < subs.length; i += 2) {
    const p = subs[i];
    const e = subs[i + 1];
    if (p?.kind !== "prid" || e?.kind !== "epd") throw new CopsDecodeError("bad-sub-object", i, "expected PRID followed by EPD");
    out.push({ oid: p.oid, values: e.values, index: i });
  }
  return out;
}

// ---- request (router → PDP) ----

export function buildConfigRequest(handle: Buffer, capabilities: RouterCapability[] = []): CopsRequestMessage {
  const subs: PrSubObject[] = [];
  for (const c of capabilities) {
    subs.push(prid(Prc.Capability, c.instanceId), {
      kind: "epd",
      values: [
        { type: "unsigned32", value: c.instanceId },
        { type: "octets", value: Buffer.from(c.roles, "utf8") },
        { type: "unsigned32", value: c.maxFlows },
      ],
    });
  }
  return {
    op: "REQ",
    clientType: DIFFSERV_PR_CLIENT_TYPE,
    solicited: false,
    handle,
    context: { ...CONFIG_CONTEXT },
    clientSi: subs.length ? [{ cType: 2, data: encodePrSubObjects(subs) }] : [],
    lpdpDecisions: [],
  };
}

export function parseConfigRequest(msg: CopsMessage): RouterCapability[] {
  if (msg.op !== "REQ") throw new CopsDecodeError("bad-client-si", 0, "not a REQ");
  const caps: RouterCapability[] = [];
  for (const si of msg.clientSi) {
    if (si.cType !== 2) continue;
    for (const p of pairs(decodePrSubObjects(si.data))) {
      const id = instanceOf(Prc.Capability, p.oid, p.index);
      const roles = octets(p.values[1], p.index).toString("utf8");
      caps.push({ instanceId: id, roles, maxFlows: num(p.values[2], ["unsigned32"], p.index) });
    }
  }
  return caps;
}

// ---- decisions (PDP → router) ----

export function buildInstallDecision(handle: Buffer, flows: FlowMark[], solicited = false): CopsDecisionMessage {
  const subs: PrSubObject[] = [];
  for (const f of flows) subs.push(prid(Prc.FlowMark, f.instanceId), { kind: "epd", values: flowMarkEpd(f) });
  const decision = { context: { ...CONFIG_CONTEXT }, command: CommandCode.Install, flags: 0, ...(subs.length ? { named: encodePrSubObjects(subs) } : {}) };
  return { op: "DEC", clientType: DIFFSERV_PR_CLIENT_TYPE, solicited, handle, decisions: [decision] };
}

export function buildRemoveDecision(handle: Buffer, instanceIds: number[], solicited = false): CopsDecisionMessage {
  const named = encodePrSubObjects(instanceIds.map((id) => prid(Prc.FlowMark, id)));
  return {
    op: "DEC",
    clientType: DIFFSERV_PR_CLIENT_TYPE,
    solicited,
    handle,
    decisions: [{ context: { ...CONFIG_CONTEXT }, command: CommandCode.Remove, flags: 0, named }],
  };
}

/** Solicited answer to the configuration REQ when nothing is to be installed yet (NULL decision). */
export function buildNullDecision(handle: Buffer): CopsDecisionMessage {
  return {
    op: "DEC",
    clientType: DIFFSERV_PR_CLIENT_TYPE,
    solicited: true,
    handle,
    decisions: [{ context: { ...CONFIG_CONTEXT }, command: CommandCode.Null, flags: 0 }],
  };
}

export interface ParsedProvisioningDecision {
  command: number;
  install: FlowMark[];
  remove: number[];
}

export function parseProvisioningDecision(msg: CopsMessage): ParsedProvisioningDecision {
  if (msg.op !== "DEC") throw new CopsDecodeError("bad-client-si", 0, "not a DEC");
  const result: ParsedProvisioningDecision = { command: CommandCode.Null, install: [], remove: [] };
  for (const d of msg.decisions) {
    result.command = d.command;
    if (!d.named) continue;
    const subs = decodePrSubObjects(d.named);
    if (d.command === CommandCode.Install) {
      for (const p of pairs(subs)) result.install.push(parseFlowMark(instanceOf(Prc.FlowMark, p.oid, p.index), p.values, p.index));
    } else if (d.command === CommandCode.Remove) {
      subs.forEach((s, i) => {
        if (s.kind !== "prid") throw new CopsDecodeError("bad-sub-object", i, "Remove Decision holds only PRIDs");
        result.remove.push(instanceOf(Prc.FlowMark, s.oid, i));
      });
    }
  }
  return result;
}

// ---- reports (router → PDP) ----

export function buildProvisioningReport(
  handle: Buffer,
  reportType: number,
  options: { usage?: FlowUsage[]; failure?: ProvisioningFailure; solicited?: boolean } = {},
): CopsReportMessage {
  const subs: PrSubObject[] = [];
  if (options.failure) {
    // RFC 3084 §3.5 Failure report: [<GPERR>] *(<ErrorPRID> <CPERR>)
    if (options.failure.global) subs.push({ kind: "gperr", ...options.failure.global });
    for (const i of options.failure.instances) subs.push({ kind: "error-prid", oid: i.prid }, { kind: "cperr", code: i.code, subCode: i.subCode });
  }
  for (const u of options.usage ?? []) {
    subs.push(prid(Prc.FlowUsage, u.instanceId), {
      kind: "epd",
      values: [
        { type: "unsigned32", value: u.instanceId },
        { type: "unsigned64", value: u.packets },
        { type: "unsigned64", value: u.octets },
      ],
    });
  }
  const rpt: CopsReportMessage = { op: "RPT", clientType: DIFFSERV_PR_CLIENT_TYPE, solicited: options.solicited ?? reportType !== ReportType.Accounting, handle, reportType };
  if (subs.length) rpt.clientSi = { cType: 2, data: encodePrSubObjects(subs) };
  return rpt;
}

export interface ParsedProvisioningReport {
  reportType: number;
  usage: FlowUsage[];
  failure?: ProvisioningFailure;
}

export function parseProvisioningReport(msg: CopsMessage): ParsedProvisioningReport {
  if (msg.op !== "RPT") throw new CopsDecodeError("bad-client-si", 0, "not a RPT");
  const result: ParsedProvisioningReport = { reportType: msg.reportType, usage: [] };
  if (!msg.clientSi || msg.clientSi.cType !== 2) return result;
  const subs = decodePrSubObjects(msg.clientSi.data);
  let i = 0;
  const failure: ProvisioningFailure = { instances: [] };
  let failed = false;
  while (i < subs.length) {
    const s = subs[i];
    if (s?.kind === "gperr") {
      failure.global = { code: s.code, subCode: s.subCode };
      failed = true;
      i++;
    } else if (s?.kind === "error-prid") {
      const c = subs[i + 1];
      if (c?.kind !== "cperr") throw new CopsDecodeError("bad-sub-object", i, "ErrorPRID without CPERR");
      failure.instances.push({ prid: s.oid, code: c.code, subCode: c.subCode });
      failed = true;
      i += 2;
    } else if (s?.kind === "prid") {
      const e = subs[i + 1];
      if (e?.kind !== "epd") throw new CopsDecodeError("bad-sub-object", i, "PRID without EPD");
      const id = instanceOf(Prc.FlowUsage, s.oid, i);
      result.usage.push({ instanceId: id, packets: big(e.values[1], i), octets: big(e.values[2], i) });
      i += 2;
    } else {
      throw new CopsDecodeError("bad-sub-object", i, `unexpected ${s?.kind} in report`);
    }
  }
  if (failed) result.failure = failure;
  return result;
}
