// A DiffServ edge router as COPS-PR PEP (RFC 3084, client type 2): opens a configuration request state, keeps
// the classifier → DSCP table its policy server installs (the marking it applies to the call's packets, RFC 2474)
// and reports packet and octet counts when a classifier is removed.
import {
  CONFIG_CONTEXT,
  CommandCode,
  ReportType,
  buildConfigRequest,
  buildProvisioningReport,
  parseIpv4,
  parseProvisioningDecision,
  type CopsIntegrityConfig,
  type CopsPepEvent,
  type FlowUsage,
} from "../../protocols/cops/index.js";
import { randomInt } from "node:crypto";
import type { FlowNode, NodeAction as GenericNodeAction, NodeEvent } from "../drivers/node.js";
import type { CallEvent } from "../flow/call-events.js";
import { CopsPepLink, isCopsTimer, splitCopsTimer } from "./cops-links.js";

type NodeAction = GenericNodeAction<CallEvent>;

/** Name, policy server and PEPID of an EdgeRouter, and the media sizes its packet and octet counts assume. */
export interface EdgeRouterOptions {
  name: string;
  pdp: string;
  pepId?: string;
  /** Refuse every installation (a router out of resources): RPT Failure. */
  failInstall?: boolean;
  /** Refuse only these installations, counted from 1 over the router's life (a media change it cannot take). */
  failInstallsNumbered?: readonly number[];
  /** Packet interval of the marked media, for the counts (20 ms voice frames). */
  packetIntervalMs?: number;
  /** IP packet size of the marked media in octets (G.711 at 20 ms: 160 + 40). */
  packetOctets?: number;
  maxFlows?: number;
  /** Random source for the COPS keep-alive schedule (seeded for reproducible runs). */
  random?: () => number;
}

/**
 * One installed classifier (RFC 3318 filter + RFC 3317 mark action): a small record of numbers. IPv4 addresses
 * are kept as 32-bit values (`value | 0`), IPv6 ones as text.
 */
export interface Classifier {
  instanceId: number;
  src: number | string;
  dst: number | string;
  /** srcPort << 16 | dstPort. */
  ports: number;
  /** protocol << 8 | dscp. */
  protoDscp: number;
  installedAt: number;
  callId: string;
  /** The next classifier whose 5-tuple hashes alike. */
  nextSameHash: Classifier | undefined;
}

/** Classifiers counted in one accounting report. */
const USAGE_PER_REPORT = 1000;

/** IPv4 text as a signed 32-bit value, IPv6 text as it is. */
function compactAddress(address: string): number | string {
  const v = parseIpv4(address);
  return v < 0 ? address : v | 0;
}

function addressHash(a: number | string): number {
  if (typeof a === "number") return a;
  let h = 0;
  for (let i = 0; i < a.length; i++) h = (Math.imul(h, 31) + a.charCodeAt(i)) | 0;
  return h;
}

function tupleHash(protocol: number, src: number | string, dst: number | string, ports: number): number {
  let h = Math.imul(addressHash(src), 0x9e3779b1) ^ addressHash(dst);
  h = Math.imul(h ^ ports, 0x85ebca6b) ^ protocol;
  return h | 0;
}

/** A DiffServ edge router (R1, R2): a COPS-PR PEP that installs and removes the calls' classifiers as its policy server decides. */
export class EdgeRouter implements FlowNode<CallEvent> {
  /** DEC Installs with classifiers taken so far (see failInstallsNumbered). */
  private installsSeen = 0;
  readonly name: string;
  private link: CopsPepLink;
  private copsIntegrity: CopsIntegrityConfig | undefined;
  private configHandle: Buffer | undefined;
  /** instanceId → classifier: the DSCP marking this router applies. */
  readonly classifiers = new Map<number, Classifier>();
  private hintCallId = "";
  /** 5-tuple hash → classifiers (chained by `nextSameHash`), so a re-installed flow finds its classifier at once. */
  private readonly byTuple = new Map<number, Classifier>();
  /** Classifiers installed and removed so far (a 5-tuple installed again is not a new one): installs − removals = classifiers.size. */
  installs = 0;
  removals = 0;

  constructor(private readonly opts: EdgeRouterOptions) {
    this.name = opts.name;
    this.link = this.makeLink();
  }

  /** Signs every COPS message with these keys (RFC 2748 §2.2.16); called before the node starts. */
  useCopsIntegrity(integrity: CopsIntegrityConfig): void {
    this.copsIntegrity = integrity;
    this.link = this.makeLink();
  }

  private makeLink(): CopsPepLink {
    return new CopsPepLink(
      this.opts.pdp,
      { clientType: 2, pepId: this.opts.pepId ?? this.opts.name.toLowerCase(), localDecision: "fail-open", openTimeoutMs: 2000, reconnectDelayMs: 500, ...(this.opts.random ? { random: this.opts.random } : {}), ...(this.copsIntegrity ? { integrity: this.copsIntegrity } : {}) },
      () => this.hintCallId,
      (e, now) => this.onCopsEvent(e, now),
    );
  }

  /** COPS handles from a fresh random start (a restarted router never reuses one its policy server still holds). */
  drawFreshIdentifiers(): void {
    this.link.machine.startHandlesAt(randomInt(1, 0xffffffff));
  }

  get copsRequestStates(): number {
    return this.link.machine.openHandles;
  }

  /** The DSCP this router writes into a UDP packet of the given 5-tuple, if a classifier matches. */
  markFor(src: string, srcPort: number, dst: string, dstPort: number): number | undefined {
    const c = this.findTuple(17, compactAddress(src), compactAddress(dst), ((srcPort << 16) | dstPort) | 0);
    return c === undefined ? undefined : c.protoDscp & 0xff;
  }

  private findTuple(protocol: number, src: number | string, dst: number | string, ports: number): Classifier | undefined {
    for (let c = this.byTuple.get(tupleHash(protocol, src, dst, ports)); c !== undefined; c = c.nextSameHash) {
      if (c.src === src && c.dst === dst && c.ports === ports && c.protoDscp >>> 8 === protocol) return c;
    }
    return undefined;
  }

  private linkTuple(c: Classifier): void {
    const h = tupleHash(c.protoDscp >>> 8, c.src, c.dst, c.ports);
    c.nextSameHash = this.byTuple.get(h);
    this.byTuple.set(h, c);
  }

  private unlinkTuple(c: Classifier): void {
    const h = tupleHash(c.protoDscp >>> 8, c.src, c.dst, c.ports);
    const head = this.byTuple.get(h);
    if (head === c) {
      if (c.nextSameHash) this.byTuple.set(h, c.nextSameHash);
      else this.byTuple.delete(h);
    } else {
      for (let p = head; p !== undefined; p = p.nextSameHash) {
        if (p.nextSameHash === c) {
          p.nextSameHash = c.nextSameHash;
          break;
        }
      }
    }
    c.nextSameHash = undefined;
  }

  handle(ev: NodeEvent): GenericNodeAction<CallEvent>[] {
    switch (ev.type) {
      case "start":
        return this.link.start(ev.now);
      case "deliver":
        if (ev.proto !== "COPS" || ev.from !== this.opts.pdp) return [];
        this.hintCallId = ev.callId ?? "";
        try {
          return this.link.deliver(ev.bytes, ev.now);
        } finally {
          this.hintCallId = "";
        }
      case "timer":
        return isCopsTimer(ev.key) ? this.link.timer(splitCopsTimer(ev.key)[1], ev.now) : [];
      case "peer-down":
        return ev.peer === this.opts.pdp ? this.link.peerDown(ev.now) : [];
      case "restart":
        // A restarted router holds nothing: no classifiers, no COPS state; it opens its configuration afresh.
        this.classifiers.clear();
        this.byTuple.clear();
        this.configHandle = undefined;
        this.installs = 0;
        this.removals = 0;
        this.link = this.makeLink();
        return this.link.start(ev.now);
      default:
        return [];
    }
  }

  private onCopsEvent(e: CopsPepEvent, now: number): NodeAction[] {
    switch (e.type) {
      case "accepted": {
        if (this.configHandle) return []; // the machine re-sends the configuration request itself on resync
        this.configHandle = this.link.machine.allocateHandle();
        const req = buildConfigRequest(this.configHandle, [{ instanceId: 1, roles: "edge", maxFlows: this.opts.maxFlows ?? 100_000 }]);
        return this.link.command({ type: "request", handle: this.configHandle, context: { ...CONFIG_CONTEXT }, clientSi: req.clientSi }, now);
      }
      case "decision":
        return this.onDecision(e.handle, e.message, now);
      case "resynchronised":
        return this.reportInventory(now);
      case "accounting-due":
        // RFC 2748 §2.2.15, RFC 3084 §4.5: the PDP's Accounting Timer asks for the counts of the classifiers in place.
        return this.reportInventory(now);
      default:
        return [];
    }
  }

  /**
   * After reconnecting, the configuration request sent again (RFC 2748 §2.5): an accounting report of every
   * classifier this router holds (RFC 3084 §4.5, counts so far), so a policy server that restarted can remove
   * those no call claims any more.
   */
  private reportInventory(now: number): NodeAction[] {
    if (!this.configHandle || this.classifiers.size === 0) return [];
    const out: NodeAction[] = [];
    let usage: FlowUsage[] = [];
    for (const c of this.classifiers.values()) {
      const packets = BigInt(Math.floor((now - c.installedAt) / (this.opts.packetIntervalMs ?? 20)));
      usage.push({ instanceId: c.instanceId, packets, octets: packets * BigInt(this.opts.packetOctets ?? 200) });
      // Several reports for many classifiers: a COPS object holds at most 65,535 octets (RFC 2748 §2.2), and a
      // classifier's counts take up to 56 in the ClientSI of a report.
      if (usage.length === USAGE_PER_REPORT) {
        for (const a of this.report(this.configHandle, ReportType.Accounting, { usage }, now)) out.push(a);
        usage = [];
      }
    }
    if (usage.length > 0) for (const a of this.report(this.configHandle, ReportType.Accounting, { usage }, now)) out.push(a);
    return out;
  }

  private onDecision(handle: Buffer, message: Parameters<typeof parseProvisioningDecision>[0], now: number): NodeAction[] {
    let decision;
    try {
      decision = parseProvisioningDecision(message);
    } catch {
      return this.report(handle, ReportType.Failure, {}, now);
    }
    if (decision.command === CommandCode.Install && decision.install.length > 0) {
      this.installsSeen++;
      if (this.opts.failInstall || this.opts.failInstallsNumbered?.includes(this.installsSeen)) {
        // RFC 3084 §4.4 GPERR: the router cannot take these classifiers (out of resources).
        return this.report(handle, ReportType.Failure, { failure: { global: { code: 2, subCode: 0 }, instances: [] } }, now);
      }
      for (const mark of decision.install) {
        const src = compactAddress(mark.srcAddress);
        const dst = compactAddress(mark.dstAddress);
        const ports = ((mark.srcPort << 16) | mark.dstPort) | 0;
        const protoDscp = (mark.protocol << 8) | mark.dscp;
        // The same 5-tuple installed again (a resynchronised policy server) replaces the old classifier.
        const same = this.findTuple(mark.protocol, src, dst, ports);
        if (same) {
          this.unlinkTuple(same);
          this.classifiers.delete(same.instanceId);
          const moved: Classifier = { instanceId: mark.instanceId, src, dst, ports, protoDscp, installedAt: same.installedAt, callId: same.callId, nextSameHash: undefined };
          this.classifiers.set(mark.instanceId, moved);
          this.linkTuple(moved);
        }
        if (!this.classifiers.has(mark.instanceId)) {
          const c: Classifier = { instanceId: mark.instanceId, src, dst, ports, protoDscp, installedAt: now, callId: this.hintCallId, nextSameHash: undefined };
          this.classifiers.set(mark.instanceId, c);
          this.linkTuple(c);
          this.installs++;
        }
      }
      return [
        ...this.report(handle, ReportType.Success, {}, now),
        { type: "emit", event: { type: "decision", callId: this.hintCallId, role: this.name, purpose: "Install", allow: true } },
      ];
    }
    if (decision.command === CommandCode.Remove) {
      const usage: FlowUsage[] = [];
      for (const id of decision.remove) {
        const c = this.classifiers.get(id);
        if (!c) continue;
        this.classifiers.delete(id);
        this.unlinkTuple(c);
        this.removals++;
        const packets = BigInt(Math.floor((now - c.installedAt) / (this.opts.packetIntervalMs ?? 20)));
        usage.push({ instanceId: id, packets, octets: packets * BigInt(this.opts.packetOctets ?? 200) });
      }
      return [
        ...this.report(handle, ReportType.Success, { usage }, now),
        { type: "emit", event: { type: "decision", callId: this.hintCallId, role: this.name, purpose: "Remove", allow: true } },
      ];
    }
    return this.report(handle, ReportType.Success, {}, now);
  }

  private report(handle: Buffer, reportType: number, o: { usage?: FlowUsage[]; failure?: { global?: { code: number; subCode: number }; instances: { prid: string; code: number; subCode: number }[] } }, now: number): NodeAction[] {
    const rpt = buildProvisioningReport(handle, reportType, o);
    const cmd: { type: "report"; handle: Buffer; reportType: number; clientSi?: NonNullable<typeof rpt.clientSi> } = { type: "report", handle, reportType };
    if (rpt.clientSi) cmd.clientSi = rpt.clientSi;
    return this.link.command(cmd, now);
  }
}

