// COPS-PR (RFC 3084) client type 2 for DiffServ edge routers: one configuration request state, unsolicited
// DEC Install/Remove of flow classifiers (5-tuple → mark DSCP), RPT Success/Failure/Accounting with counts.
// PRCs: the callgate PIB subset under 1.3.6.1.4.1.32473.1 (documentation enterprise number, RFC 5612),
// modelled on RFC 3318 frwkIpFilterEntry + RFC 3317 qosDscpMarkActEntry; see docs/protocols/cops.md.
import { CopsDecodeError } from "../cops-decode-error.js";
import { ClientType, CommandCode, ReportType, RType } from "../constants.js";
import type { CopsDecision, CopsDecisionMessage, CopsMessage, CopsReportMessage, CopsRequestMessage } from "../cops-message.js";
import { ipFamilyOf, readIp, readIpv4, writeIp, addressLength } from "../objects/ip-address.js";
import type { IpFamily } from "../objects/ip-address.js";
import { BerTag, berUnsignedLength, berValueLength, encodeOidContent, peekBerInteger, peekBerUnsigned, writeBerUnsigned, writeBerValue } from "../pr/ber.js";
import type { BerValue } from "../pr/ber.js";
import { decodePrSubObjects, encodePrSubObjects, SNum } from "../pr/pr-sub-objects.js";
import type { PrSubObject } from "../pr/pr-sub-objects.js";

/** The COPS-PR client type of the edge routers (RFC 3084). */
export const DIFFSERV_PR_CLIENT_TYPE = ClientType.DiffServPr;
/** The object identifier under which the routers' policy classes live. */
export const CALLGATE_PIB = "1.3.6.1.4.1.32473.1";
/** Entry OIDs of the PRCs; an instance's PRID is `<entry>.<instanceId>`. */
export const Prc = {
  FlowMark: `${CALLGATE_PIB}.1.1`,
  FlowUsage: `${CALLGATE_PIB}.2.1`,
  Capability: `${CALLGATE_PIB}.3.1`,
} as const;

/** RFC 2748 §2.2.2 Context of every message on the provisioning state: Configuration request. */
export const CONFIG_CONTEXT = { rType: RType.Configuration, mType: 0 } as const;

/** One media flow to classify and the DSCP to mark it with. */
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
/** Packets and octets a removed classifier counted. */
export interface FlowUsage {
  instanceId: number;
  packets: bigint;
  octets: bigint;
}
/** One capability a router reports in its configuration request. */
export interface RouterCapability {
  instanceId: number;
  /** Interface role combination the router provisions (RFC 3084 §2). */
  roles: string;
  maxFlows: number;
}
/** Why a router could not install a decision. */
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

// ---- flow marks written and read directly (same octets as the PrSubObject/BerValue path) ----

/** BER content of `<entry>` without its instance arc: PRIDs of one class share it (X.690 §8.19). */
function classPrefix(entry: string): Buffer {
  const content = encodeOidContent(`${entry}.0`);
  return content.subarray(0, content.length - 1);
}
const FLOW_MARK_PREFIX = classPrefix(Prc.FlowMark);

function arcOctets(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

function writeArc(v: number, n: number, buf: Buffer, offset: number): number {
  for (let i = n - 1; i >= 0; i--) {
    buf[offset + i] = (v & 0x7f) | (i === n - 1 ? 0 : 0x80);
    v = Math.floor(v / 0x80);
  }
  return offset + n;
}

/** PRID sub-object of a FlowMark instance, padded. */
const FLOW_USAGE_PREFIX = classPrefix(Prc.FlowUsage);

function flowMarkPridLength(id: number, prefix = FLOW_MARK_PREFIX): number {
  return (4 + 2 + prefix.length + arcOctets(id) + 3) & ~3;
}

function writeFlowMarkPrid(id: number, buf: Buffer, offset: number, prefix = FLOW_MARK_PREFIX): number {
  const n = arcOctets(id);
  const length = 4 + 2 + prefix.length + n;
  buf[offset] = 0;
  buf[offset + 1] = length;
  buf[offset + 2] = SNum.PRID;
  buf[offset + 3] = 1;
  buf[offset + 4] = BerTag.oid;
  buf[offset + 5] = prefix.length + n;
  prefix.copy(buf, offset + 6);
  const end = writeArc(id, n, buf, offset + 6 + prefix.length);
  const padded = (end + 3) & ~3;
  buf.fill(0, end, padded);
  return padded;
}

function checkFlowMark(f: FlowMark): void {
  if (ipFamilyOf(f.srcAddress) !== f.family || ipFamilyOf(f.dstAddress) !== f.family) throw new RangeError("flow addresses do not match its family");
  if (f.dscp < 0 || f.dscp > 63) throw new RangeError(`DSCP ${f.dscp} out of 0..63`);
}

/** EPD content octets of a FlowMark (the eight attributes of `flowMarkEpd`). */
function flowMarkEpdContent(f: FlowMark): number {
  const a = addressLength(f.family);
  return berUnsignedLength(f.instanceId) + 3 + 2 * (2 + a) + berUnsignedLength(f.protocol) + berUnsignedLength(f.srcPort) + berUnsignedLength(f.dstPort) + 3;
}

function writeFlowMarkEpd(f: FlowMark, buf: Buffer, offset: number): number {
  const a = addressLength(f.family);
  const length = 4 + flowMarkEpdContent(f);
  buf[offset] = length >> 8;
  buf[offset + 1] = length & 0xff;
  buf[offset + 2] = SNum.EPD;
  buf[offset + 3] = 1;
  let p = writeBerUnsigned(BerTag.unsigned32, f.instanceId, buf, offset + 4);
  buf[p] = BerTag.integer;
  buf[p + 1] = 1;
  buf[p + 2] = f.family === 4 ? 1 : 2; // InetAddressType ipv4(1) / ipv6(2)
  p += 3;
  buf[p] = BerTag.octets;
  buf[p + 1] = a;
  writeIp(f.family, f.srcAddress, buf, p + 2);
  p += 2 + a;
  buf[p] = BerTag.octets;
  buf[p + 1] = a;
  writeIp(f.family, f.dstAddress, buf, p + 2);
  p += 2 + a;
  p = writeBerUnsigned(BerTag.unsigned32, f.protocol, buf, p);
  p = writeBerUnsigned(BerTag.unsigned32, f.srcPort, buf, p);
  p = writeBerUnsigned(BerTag.unsigned32, f.dstPort, buf, p);
  buf[p] = BerTag.integer;
  buf[p + 1] = 1;
  buf[p + 2] = f.dscp;
  p += 3;
  const padded = (p + 3) & ~3;
  buf.fill(0, p, padded);
  return padded;
}

/** Named Decision Data of an Install of `flows`: PRID + EPD per flow (RFC 3084 §3.3), in one buffer. */
function encodeFlowMarks(flows: readonly FlowMark[]): Buffer {
  let total = 0;
  for (const f of flows) {
    if (!Number.isInteger(f.dscp)) {
      // Not a whole number: the generic BER path raises its own error.
      const subs: PrSubObject[] = [];
      for (const g of flows) subs.push(prid(Prc.FlowMark, g.instanceId), { kind: "epd", values: flowMarkEpd(g) });
      return encodePrSubObjects(subs);
    }
    checkFlowMark(f);
    total += flowMarkPridLength(f.instanceId >>> 0) + ((4 + flowMarkEpdContent(f) + 3) & ~3);
  }
  const out = Buffer.allocUnsafe(total);
  let p = 0;
  for (const f of flows) {
    p = writeFlowMarkPrid(f.instanceId >>> 0, out, p);
    p = writeFlowMarkEpd(f, out, p);
  }
  return out;
}

/** Named Decision Data of a Remove: the FlowMark PRIDs. */
function encodeFlowMarkPrids(ids: readonly number[]): Buffer {
  let total = 0;
  for (const id of ids) total += flowMarkPridLength(id >>> 0);
  const out = Buffer.allocUnsafe(total);
  let p = 0;
  for (const id of ids) p = writeFlowMarkPrid(id >>> 0, out, p);
  return out;
}

/**
 * Instance id of a FlowMark PRID sub-object at `offset` (one short-form OID of the class prefix plus one arc ≤ 2^32-1),
 * or -1 when it is anything else (the generic decoder then says what is wrong).
 */
function peekFlowMarkPrid(data: Buffer, offset: number, end: number, p = FLOW_MARK_PREFIX): number {
  if (data[offset + 2] !== SNum.PRID || data[offset + 3] !== 1 || data[offset + 4] !== BerTag.oid) return -1;
  const oidEnd = offset + 6 + (data[offset + 5] ?? 0xff);
  if (oidEnd !== end || (data[offset + 5] ?? 0) >= 0x80) return -1;
  let q = offset + 6;
  if (end - q <= p.length) return -1;
  for (let i = 0; i < p.length; i++) if (data[q + i] !== p[i]) return -1;
  q += p.length;
  if (data[q] === 0x80 || end - q > 5) return -1;
  let v = 0;
  for (; q < end; q++) {
    const b = data[q] ?? 0;
    v = v * 0x80 + (b & 0x7f);
    if ((b & 0x80) === 0) return q === end - 1 && v <= 0xffffffff ? v : -1;
  }
  return -1;
}

/** Header checks of the sub-object at `offset`: its end, or -1 (then the generic decoder reports the fault). */
function subObjectEnd(data: Buffer, offset: number): number {
  if (data.length - offset < 4) return -1;
  const length = (data[offset] ?? 0) * 256 + (data[offset + 1] ?? 0);
  if (length < 4 || ((offset + length + 3) & ~3) > data.length) return -1;
  return offset + length;
}

/** FlowMarks of an Install's Named Decision Data read in place, or undefined for anything unusual. */
function fastFlowMarks(data: Buffer, out: FlowMark[]): boolean {
  let offset = 0;
  const start = out.length;
  while (offset < data.length) {
    const pridEnd = subObjectEnd(data, offset);
    if (pridEnd < 0) break;
    const id = peekFlowMarkPrid(data, offset, pridEnd);
    const epdAt = (pridEnd + 3) & ~3;
    const end = subObjectEnd(data, epdAt);
    if (id < 0 || end < 0 || data[epdAt + 2] !== SNum.EPD || data[epdAt + 3] !== 1) break;
    let p = epdAt + 4;
    if (peekBerUnsigned(data, p, end) !== id) break;
    p += 2 + (data[p + 1] ?? 0);
    const addrType = peekBerInteger(data, p, end);
    if (addrType !== 1 && addrType !== 2) break;
    p += 2 + (data[p + 1] ?? 0);
    const family: IpFamily = addrType === 1 ? 4 : 6;
    const a = addressLength(family);
    if (end - p < 2 * (2 + a) || data[p] !== BerTag.octets || data[p + 1] !== a || data[p + 2 + a] !== BerTag.octets || data[p + 3 + a] !== a) break;
    const srcAt = p + 2;
    const dstAt = p + 4 + a;
    p += 2 * (2 + a);
    const protocol = peekBerUnsigned(data, p, end);
    if (protocol < 0) break;
    p += 2 + (data[p + 1] ?? 0);
    const srcPort = peekBerUnsigned(data, p, end);
    if (srcPort < 0) break;
    p += 2 + (data[p + 1] ?? 0);
    const dstPort = peekBerUnsigned(data, p, end);
    if (dstPort < 0) break;
    p += 2 + (data[p + 1] ?? 0);
    const dscp = peekBerInteger(data, p, end);
    if (dscp === undefined || dscp < 0 || dscp > 63) break;
    p += 2 + (data[p + 1] ?? 0);
    if (p !== end) break;
    out.push({
      instanceId: id,
      family,
      srcAddress: family === 4 ? readIpv4(data, srcAt) : readIp(family, data, srcAt),
      dstAddress: family === 4 ? readIpv4(data, dstAt) : readIp(family, data, dstAt),
      protocol,
      srcPort,
      dstPort,
      dscp,
    });
    offset = (end + 3) & ~3;
  }
  if (offset === data.length) return true;
  out.length = start;
  return false;
}

/** FlowMark instance ids of a Remove's Named Decision Data read in place, or false for anything unusual. */
function fastFlowMarkIds(data: Buffer, out: number[]): boolean {
  let offset = 0;
  const start = out.length;
  while (offset < data.length) {
    const end = subObjectEnd(data, offset);
    const id = end < 0 ? -1 : peekFlowMarkPrid(data, offset, end);
    if (id < 0) break;
    out.push(id);
    offset = (end + 3) & ~3;
  }
  if (offset === data.length) return true;
  out.length = start;
  return false;
}

/** Usage report ClientSI (RFC 3084 §3.4): PRID + EPD (instance, packets, octets) per classifier, in one buffer. */
function encodeFlowUsage(usage: readonly FlowUsage[]): Buffer {
  let total = 0;
  const values: BerValue[][] = [];
  for (const u of usage) {
    const v: BerValue[] = [
      { type: "unsigned32", value: u.instanceId },
      { type: "unsigned64", value: u.packets },
      { type: "unsigned64", value: u.octets },
    ];
    values.push(v);
    const length = 4 + berValueLength(v[0] as BerValue) + berValueLength(v[1] as BerValue) + berValueLength(v[2] as BerValue);
    if (length > 0xffff) throw new RangeError("COPS-PR sub-object longer than 65535 octets");
    total += flowMarkPridLength(u.instanceId >>> 0, FLOW_USAGE_PREFIX) + ((length + 3) & ~3);
  }
  const out = Buffer.allocUnsafe(total);
  let p = 0;
  for (let i = 0; i < usage.length; i++) {
    p = writeFlowMarkPrid((usage[i] as FlowUsage).instanceId >>> 0, out, p, FLOW_USAGE_PREFIX);
    const start = p;
    let q = p + 4;
    for (const v of values[i] as BerValue[]) q = writeBerValue(v, out, q);
    const length = q - start;
    out[start] = length >> 8;
    out[start + 1] = length & 0xff;
    out[start + 2] = SNum.EPD;
    out[start + 3] = 1;
    p = (q + 3) & ~3;
    out.fill(0, q, p);
  }
  return out;
}

/** An Unsigned64 TLV of at most 7 content octets with a clear top bit, or undefined (then the generic decoder). */
function peekSmallUnsigned64(data: Buffer, offset: number, end: number): bigint | undefined {
  if (end - offset < 3 || data[offset] !== BerTag.unsigned64) return undefined;
  const n = data[offset + 1] ?? 0;
  if (n === 0 || n > 7 || offset + 2 + n > end || ((data[offset + 2] ?? 0) & 0x80) !== 0) return undefined;
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + (data[offset + 2 + i] ?? 0);
  return BigInt(v);
}

/** FlowUsage pairs of a report ClientSI read in place, or false for anything else. */
function fastFlowUsage(data: Buffer, out: FlowUsage[]): boolean {
  let offset = 0;
  while (offset < data.length) {
    const pridEnd = subObjectEnd(data, offset);
    const id = pridEnd < 0 ? -1 : peekFlowMarkPrid(data, offset, pridEnd, FLOW_USAGE_PREFIX);
    const epdAt = (pridEnd + 3) & ~3;
    const end = id < 0 ? -1 : subObjectEnd(data, epdAt);
    if (end < 0 || data[epdAt + 2] !== SNum.EPD || data[epdAt + 3] !== 1) return false;
    let p = epdAt + 4;
    if (peekBerUnsigned(data, p, end) < 0) return false;
    p += 2 + (data[p + 1] ?? 0);
    const packets = peekSmallUnsigned64(data, p, end);
    if (packets === undefined) return false;
    p += 2 + (data[p + 1] ?? 0);
    const octets = peekSmallUnsigned64(data, p, end);
    if (octets === undefined) return false;
    p += 2 + (data[p + 1] ?? 0);
    if (p !== end) return false;
    out.push({ instanceId: id, packets, octets });
    offset = (end + 3) & ~3;
  }
  return true;
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

/** The router's configuration REQ that opens its provisioning state, with its capabilities (RFC 3084 §4.1). */
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

/** The capabilities a router's configuration REQ reports. */
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

/** A DEC that installs a classifier and DSCP marking per media flow. */
export function buildInstallDecision(handle: Buffer, flows: FlowMark[], solicited = false): CopsDecisionMessage {
  const decision: CopsDecision = { context: { rType: CONFIG_CONTEXT.rType, mType: CONFIG_CONTEXT.mType }, command: CommandCode.Install, flags: 0 };
  if (flows.length) decision.named = encodeFlowMarks(flows);
  return { op: "DEC", clientType: DIFFSERV_PR_CLIENT_TYPE, solicited, handle, decisions: [decision] };
}

/** A DEC that removes the classifiers with these instance ids. */
export function buildRemoveDecision(handle: Buffer, instanceIds: number[], solicited = false): CopsDecisionMessage {
  const named = encodeFlowMarkPrids(instanceIds);
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

/** The installs and removals of a provisioning DEC. */
export interface ParsedProvisioningDecision {
  command: number;
  install: FlowMark[];
  remove: number[];
}

/** What a provisioning DEC installs and removes. */
export function parseProvisioningDecision(msg: CopsMessage): ParsedProvisioningDecision {
  if (msg.op !== "DEC") throw new CopsDecodeError("bad-client-si", 0, "not a DEC");
  const result: ParsedProvisioningDecision = { command: CommandCode.Null, install: [], remove: [] };
  for (const d of msg.decisions) {
    result.command = d.command;
    if (!d.named) continue;
    if (d.command === CommandCode.Install && fastFlowMarks(d.named, result.install)) continue;
    if (d.command === CommandCode.Remove && fastFlowMarkIds(d.named, result.remove)) continue;
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

/** The router's RPT on a decision: success with the removed flows' counts, or failure. */
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
  if (subs.length === 0 && options.usage?.length) {
    const rpt: CopsReportMessage = { op: "RPT", clientType: DIFFSERV_PR_CLIENT_TYPE, solicited: options.solicited ?? reportType !== ReportType.Accounting, handle, reportType };
    rpt.clientSi = { cType: 2, data: encodeFlowUsage(options.usage) };
    return rpt;
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

/** A router's report: success or failure, and usage counts. */
export interface ParsedProvisioningReport {
  reportType: number;
  usage: FlowUsage[];
  failure?: ProvisioningFailure;
}

/** Success, failures and usage counts of a router's RPT. */
export function parseProvisioningReport(msg: CopsMessage): ParsedProvisioningReport {
  if (msg.op !== "RPT") throw new CopsDecodeError("bad-client-si", 0, "not a RPT");
  const result: ParsedProvisioningReport = { reportType: msg.reportType, usage: [] };
  if (!msg.clientSi || msg.clientSi.cType !== 2) return result;
  if (fastFlowUsage(msg.clientSi.data, result.usage)) return result;
  result.usage = [];
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
