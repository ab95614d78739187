// A DiffServ edge router as COPS-PR PEP (RFC 3084, client type 2): opens a configuration request state, keeps
// the classifier → DSCP table its policy server installs (the marking it applies to the call's packets, RFC 2474)
// and reports packet and octet counts when a classifier is removed.
import {
  CONFIG_CONTEXT,
  CommandCode,
  ReportType,
  buildConfigRequest,
  buildProvisioningReport,
  parseProvisioningDecision,
  type CopsPepEvent,
  type FlowMark,
  type FlowUsage,
} from "../../protocols/cops/index.js";
import type { FlowNode, NodeAction as GenericNodeAction, NodeEvent } from "../drivers/node.js";
import type { CallEvent } from "../flow/call-events.js";
import { CopsPepLink, isCopsTimer, splitCopsTimer } from "./cops-links.js";
import { ownString } from "./sip-ids.js";

type NodeAction = GenericNodeAction<CallEvent>;

export interface EdgeRouterOptions {
  name: string;
  pdp: string;
  pepId?: string;
  /** Refuse every installation (a router out of resources): RPT Failure. */
  failInstall?: boolean;
  /** Packet interval of the marked media, for the counts (20 ms voice frames). */
  packetIntervalMs?: number;
  /** IP packet size of the marked media in octets (G.711 at 20 ms: 160 + 40). */
  packetOctets?: number;
  maxFlows?: number;
  /** Random source for the COPS keep-alive schedule (seeded for reproducible runs). */
  random?: () => number;
}

export interface Classifier {
  mark: FlowMark;
  installedAt: number;
  callId: string;
}

export class EdgeRouter implements FlowNode<CallEvent> {
  readonly name: string;
  private link: CopsPepLink;
  private configHandle: Buffer | undefined;
  /** instanceId → classifier: the DSCP marking this router applies. */
  readonly classifiers = new Map<number, Classifier>();
  private hintCallId = "";
  /** 5-tuple → instanceId, so a re-installed flow finds its classifier at once. */
  private readonly byTuple = new Map<string, number>();
  /** Installations and removals so far (for tests and counters). */
  installs = 0;
  removals = 0;

  constructor(private readonly opts: EdgeRouterOptions) {
    this.name = opts.name;
    this.link = this.makeLink();
  }

  private makeLink(): CopsPepLink {
    return new CopsPepLink(
      this.opts.pdp,
      { clientType: 2, pepId: this.opts.pepId ?? this.opts.name.toLowerCase(), localDecision: "fail-open", openTimeoutMs: 2000, reconnectDelayMs: 500, ...(this.opts.random ? { random: this.opts.random } : {}) },
      () => this.hintCallId,
      (e, now) => this.onCopsEvent(e, now),
    );
  }

  get copsRequestStates(): number {
    return this.link.machine.openHandles;
  }

  /** The DSCP this router writes into a UDP packet of the given 5-tuple, if a classifier matches. */
  markFor(src: string, srcPort: number, dst: string, dstPort: number): number | undefined {
    const id = this.byTuple.get(`17 ${src}:${srcPort} ${dst}:${dstPort}`);
    return id === undefined ? undefined : this.classifiers.get(id)?.mark.dscp;
  }

  handle(ev: NodeEvent): NodeAction[] {
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
      default:
        return [];
    }
  }

  private onDecision(handle: Buffer, message: Parameters<typeof parseProvisioningDecision>[0], now: number): NodeAction[] {
    let decision;
    try {
      decision = parseProvisioningDecision(message);
    } catch {
      return this.report(handle, ReportType.Failure, {}, now);
    }
    if (decision.command === CommandCode.Install && decision.install.length > 0) {
      if (this.opts.failInstall) {
        // RFC 3084 §4.4 GPERR: the router cannot take these classifiers (out of resources).
        return this.report(handle, ReportType.Failure, { failure: { global: { code: 2, subCode: 0 }, instances: [] } }, now);
      }
      for (const mark of decision.install) {
        // The same 5-tuple installed again (a resynchronised policy server) replaces the old classifier.
        const key = tupleKey(mark);
        const sameId = this.byTuple.get(key);
        const same = sameId === undefined ? undefined : this.classifiers.get(sameId);
        if (sameId !== undefined && same) {
          this.classifiers.delete(sameId);
          this.classifiers.set(mark.instanceId, { ...same, mark });
        }
        if (!this.classifiers.has(mark.instanceId)) this.classifiers.set(mark.instanceId, { mark, installedAt: now, callId: this.hintCallId });
        this.byTuple.set(key, mark.instanceId);
      }
      this.installs++;
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
        if (this.byTuple.get(tupleKey(c.mark)) === id) this.byTuple.delete(tupleKey(c.mark));
        const packets = BigInt(Math.floor((now - c.installedAt) / (this.opts.packetIntervalMs ?? 20)));
        usage.push({ instanceId: id, packets, octets: packets * BigInt(this.opts.packetOctets ?? 200) });
      }
      this.removals++;
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

/** Flat (not a rope of parts), as the table keeps it for the call's lifetime. */
function tupleKey(m: FlowMark): string {
  return ownString(`${m.protocol} ${m.srcAddress}:${m.srcPort} ${m.dstAddress}:${m.dstPort}`);
}
