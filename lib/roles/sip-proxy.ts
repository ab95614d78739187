// A stateful SIP proxy that is the COPS PEP of WO 01/35294 (client type sip-aaa): it holds the INVITE until
// DEC AAA, forwards it with the authorisation token, holds the 180 until DEC LDP, asks REQ noLDP on BYE and
// deletes its request state (DRQ) when the call is over. RFC 3261 §16 for the proxying itself.
import {
  ReasonCode,
  encodeSipAaaClientSi,
  parseSipAaaDecision,
  sipAaaContext,
  type CopsMessage,
  type CopsPepEvent,
  type SipAaaMediaFlow,
  type SipAaaPurposeName,
} from "../../protocols/cops/index.js";
import {
  buildRequest,
  buildResponse,
  type SipRequest,
  type SipResponse,
} from "../../protocols/sip/index.js";
import type { FlowNode, NodeAction as GenericNodeAction, NodeEvent } from "../drivers/node.js";
import type { CallEvent } from "../flow/call-events.js";
import { mediaFlows, type MediaFlow } from "../flow/media-flows.js";
import { CopsPepLink, isCopsTimer, splitCopsTimer } from "./cops-links.js";
import { SipIds, ownString } from "./sip-ids.js";
import { SipTransactionLayer, sipSend, uriText } from "./sip-transaction-layer.js";

type NodeAction = GenericNodeAction<CallEvent>;

export const TOKEN_HEADER = "P-OSP-Auth-Token";

export interface SipProxyOptions {
  name: string;
  host: string;
  /** The policy server (COPS PDP) of this proxy. */
  pdp: string;
  /** Where a new INVITE goes next (the next proxy, or the callee's UA). */
  nextHop: (invite: SipRequest) => string;
  transport?: "UDP" | "TCP";
  /** What the PEP's local decision point answers while its PDP is unreachable (RFC 2748 §2.5). */
  localDecision?: "fail-open" | "fail-closed";
  kaTimerSeconds?: number;
  t1?: number;
  /** Random source for the COPS keep-alive schedule (seeded for reproducible runs). */
  random?: () => number;
  /** Via branches; a flow passes one seeded from its run's seed so runs repeat byte for byte. */
  ids?: SipIds;
}

type Phase = "authorising" | "proceeding" | "answered" | "confirmed" | "ending" | "done";

interface ProxyCall {
  callId: string;
  handle: Buffer;
  upstream: string;
  downstream: string;
  phase: Phase;
  invite?: SipRequest;
  inviteServerKey?: string;
  forwarded?: SipRequest;
  offer?: string;
  answerSdp?: string;
  ldp: "none" | "requested" | "installed" | "refused";
  held: SipResponse[];
  /** REQ noLDP sent, DEC noLDP awaited. */
  releasing: boolean;
  byeDone: boolean;
  caller: string;
  callee: string;
  token?: Buffer;
  /** Media flows as last sent to the PDP, and whether the answer was in them. */
  flows?: SipAaaMediaFlow[];
  flowsHaveAnswer?: boolean;
}

export class SipProxy implements FlowNode<CallEvent> {
  readonly name: string;
  private readonly sip: SipTransactionLayer;
  private readonly cops: CopsPepLink;
  private readonly calls = new Map<string, ProxyCall>();
  private readonly byHandle = new Map<string, string>();

  private readonly ids: SipIds;

  constructor(private readonly opts: SipProxyOptions) {
    this.name = opts.name;
    this.ids = opts.ids ?? new SipIds();
    const sipOpts: { reliable: boolean; t1?: number } = { reliable: opts.transport === "TCP" };
    if (opts.t1 !== undefined) sipOpts.t1 = opts.t1;
    this.sip = new SipTransactionLayer(sipOpts);
    this.cops = this.makeLink();
  }

  private makeLink(): CopsPepLink {
    return new CopsPepLink(
      this.opts.pdp,
      { clientType: 0x8cb1, pepId: this.opts.host, localDecision: this.opts.localDecision ?? "fail-closed", openTimeoutMs: 2000, reconnectDelayMs: 500, ...(this.opts.random ? { random: this.opts.random } : {}) },
      (m) => this.callIdOfCops(m),
      (e, now) => this.onCopsEvent(e, now),
    );
  }

  get activeCalls(): number {
    return this.calls.size;
  }
  get copsRequestStates(): number {
    return this.cops.machine.openHandles;
  }
  get pendingTransactions(): number {
    return this.sip.pending;
  }

  handle(ev: NodeEvent): NodeAction[] {
    switch (ev.type) {
      case "start":
        return this.cops.start(ev.now);
      case "deliver":
        if (ev.proto === "COPS") return ev.from === this.opts.pdp ? this.cops.deliver(ev.bytes, ev.now) : [];
        if (ev.proto === "SIP") return this.onSip(ev.bytes, ev.from, ev.now);
        return [];
      case "timer":
        if (this.sip.isTimer(ev.key)) return this.sip.timer(ev.key, ev.now);
        if (isCopsTimer(ev.key)) return this.cops.timer(splitCopsTimer(ev.key)[1], ev.now);
        return [];
      case "peer-down":
        return ev.peer === this.opts.pdp ? this.cops.peerDown(ev.now) : [];
      default:
        return [];
    }
  }

  // ---- SIP ----

  private onSip(bytes: Buffer, from: string, now: number): NodeAction[] {
    const { actions, inbound } = this.sip.receive(bytes, from, now);
    if (!inbound) return actions;
    switch (inbound.kind) {
      case "request": {
        const req = inbound.request;
        if (req.method === "INVITE") return [...actions, ...this.onInvite(req, inbound.serverKey, from, now)];
        if (req.method === "CANCEL") return [...actions, ...this.onCancel(req, inbound.serverKey, now)];
        return [...actions, ...this.onInDialogRequest(req, inbound.serverKey, from, now)];
      }
      case "ack":
        return [...actions, ...this.onAck(inbound.request, from)];
      case "stray-response":
        return [...actions, ...this.onStrayResponse(inbound.response, from)];
    }
  }

  private onInvite(req: SipRequest, serverKey: string, from: string, now: number): NodeAction[] {
    if (this.calls.has(req.callId)) return [];
    const maxForwards = req.maxForwards ?? 70;
    if (maxForwards <= 0) return this.sip.respond(serverKey, buildResponse(req, 483), now); // RFC 3261 §16.3
    const handle = this.cops.machine.allocateHandle();
    const tokenText = req.getHeader(TOKEN_HEADER);
    const call: ProxyCall = {
      callId: ownString(req.callId), handle, upstream: from, downstream: this.opts.nextHop(req), phase: "authorising",
      invite: req, inviteServerKey: serverKey, ldp: "none", held: [], releasing: false, byeDone: false,
      caller: ownString(uriText(req.from.uri)), callee: ownString(req.uri),
    };
    if (tokenText !== undefined) call.token = Buffer.from(tokenText, "base64");
    if (req.body.length > 0) call.offer = req.body.toString("utf8");
    this.calls.set(call.callId, call);
    this.byHandle.set(handle.toString("hex"), call.callId);
    return [...this.copsRequest(call, "AAA", now), this.step(call, "INVITE held for REQ AAA")];
  }

  private copsRequest(call: ProxyCall, purpose: SipAaaPurposeName, now: number): NodeAction[] {
    // SDP is parsed once for the offer and once more when the answer is known (RFC 3264 §6).
    if (call.flows === undefined || (call.answerSdp !== undefined && !call.flowsHaveAnswer)) {
      const flows = call.offer ? mediaFlows(call.offer, call.answerSdp) : [];
      call.flows = flows.map(toCopsFlow).filter((f): f is SipAaaMediaFlow => f !== undefined);
      call.flowsHaveAnswer = call.answerSdp !== undefined;
    }
    const info: Parameters<typeof encodeSipAaaClientSi>[0] = { callId: call.callId, caller: call.caller, callee: call.callee, flows: call.flows };
    if (call.token && purpose === "AAA") {
      info.ospToken = call.token;
      call.token = undefined; // presented once to the PDP; the PEP machine keeps the REQ for resynchronisation (no `delete`: dictionary mode)
    }
    return this.cops.command({ type: "request", handle: call.handle, context: sipAaaContext(purpose), clientSi: [{ cType: 1, data: encodeSipAaaClientSi(info) }] }, now);
  }

  private forwardInvite(call: ProxyCall, token: Buffer | undefined, now: number): NodeAction[] {
    const invite = call.invite;
    if (!invite) return [];
    const fwd = invite.clone();
    fwd.setHeader("Max-Forwards", String((invite.maxForwards ?? 70) - 1));
    fwd.addHeader("Via", `SIP/2.0/${this.opts.transport ?? "UDP"} ${this.opts.host};branch=${this.ids.nextBranch()}`, "top");
    fwd.addHeader("Record-Route", `<sip:${this.opts.host};lr>`, "top");
    popOwnRoute(fwd, this.opts.host);
    fwd.removeHeader(TOKEN_HEADER);
    if (token) fwd.setHeader(TOKEN_HEADER, token.toString("base64"));
    call.forwarded = fwd;
    call.phase = "proceeding";
    return this.sip.sendRequest(fwd, call.downstream, now, {
      onResponse: (res, t) => this.onInviteResponse(call, res, t),
      onTimeout: (t) => this.refuse(call, 408, "no answer from the next hop", t),
    });
  }

  private onInviteResponse(call: ProxyCall, res: SipResponse, now: number): NodeAction[] {
    if (call.phase === "done") return [];
    if (res.status === 100) return [];
    if (res.status >= 300) {
      // A final refusal travels back; this side's request state ends (RFC 2748 §3.4 DRQ).
      return [...this.relayUpstream(call, res, now), ...this.endCops(call, now, "refused downstream")];
    }
    if (res.body.length > 0 && call.answerSdp === undefined) call.answerSdp = res.body.toString("utf8");
    if (res.status >= 200) call.phase = "answered";
    if (call.ldp === "installed") return this.relayUpstream(call, res, now);
    if (call.ldp === "refused") return [];
    call.held.push(res);
    if (call.ldp === "none") {
      call.ldp = "requested";
      return [...this.copsRequest(call, "LDP", now), this.step(call, `${res.status} held for REQ LDP`)];
    }
    return [];
  }

  private relayUpstream(call: ProxyCall, res: SipResponse, now: number): NodeAction[] {
    const up = res.clone();
    up.removeFirstHeaderValue("Via");
    if (call.inviteServerKey === undefined) return [];
    if (res.status >= 200) {
      if (res.status < 300) {
        call.phase = "confirmed";
        // The dialog is up: the held requests and SDP are no longer needed (the flows are kept for REQ noLDP).
        call.invite = undefined;
        call.forwarded = undefined;
        call.offer = undefined;
        call.answerSdp = undefined;
      }
      const key = call.inviteServerKey;
      if (res.status >= 300) call.phase = "done";
      return this.sip.respond(key, up, now);
    }
    return this.sip.respond(call.inviteServerKey, up, now);
  }

  private onStrayResponse(res: SipResponse, from: string): NodeAction[] {
    // RFC 3261 §16.7: a 2xx retransmission after the INVITE transaction ended is forwarded statelessly.
    const call = this.calls.get(res.callId);
    if (!call || from !== call.downstream || res.status < 200 || res.status >= 300 || call.ldp !== "installed") return [];
    const up = res.clone();
    up.removeFirstHeaderValue("Via");
    return [sipSend(call.upstream, up)];
  }

  private onAck(ack: SipRequest, from: string): NodeAction[] {
    const call = this.calls.get(ack.callId);
    if (!call) return [];
    const to = from === call.upstream ? call.downstream : call.upstream;
    const fwd = ack.clone();
    popOwnRoute(fwd, this.opts.host);
    fwd.setHeader("Max-Forwards", String((ack.maxForwards ?? 70) - 1));
    fwd.addHeader("Via", `SIP/2.0/${this.opts.transport ?? "UDP"} ${this.opts.host};branch=${this.ids.nextBranch()}`, "top");
    return [sipSend(to, fwd)];
  }

  private onCancel(cancel: SipRequest, serverKey: string, now: number): NodeAction[] {
    // RFC 3261 §16.10: answer the CANCEL, then cancel the pending branch (or answer 487 ourselves).
    const out = this.sip.respond(serverKey, buildResponse(cancel, 200), now);
    const call = this.calls.get(cancel.callId);
    if (!call || call.phase === "done" || call.phase === "confirmed") return out;
    out.push(this.step(call, "CANCEL"));
    if (call.forwarded && call.phase !== "authorising") out.push(...this.cancelDownstream(call, now));
    else out.push(...this.refuse(call, 487, "cancelled", now));
    return out;
  }

  private cancelDownstream(call: ProxyCall, now: number): NodeAction[] {
    const fwd = call.forwarded;
    if (!fwd) return [];
    const cancel = buildRequest({
      method: "CANCEL", uri: fwd.uri, from: fwd.getHeader("From") ?? "", to: fwd.getHeader("To") ?? "",
      callId: fwd.callId, cseq: fwd.cseq.seq, via: fwd.getHeaders("Via").slice(0, 1),
    });
    for (const r of fwd.getHeaders("Route")) cancel.addHeader("Route", r);
    return this.sip.sendRequest(cancel, call.downstream, now, { onResponse: () => [] });
  }

  private onInDialogRequest(req: SipRequest, serverKey: string, from: string, now: number): NodeAction[] {
    const call = this.calls.get(req.callId);
    if (!call) return this.sip.respond(serverKey, buildResponse(req, 481), now);
    const to = from === call.upstream ? call.downstream : call.upstream;
    const fwd = req.clone();
    popOwnRoute(fwd, this.opts.host);
    fwd.setHeader("Max-Forwards", String((req.maxForwards ?? 70) - 1));
    fwd.addHeader("Via", `SIP/2.0/${this.opts.transport ?? "UDP"} ${this.opts.host};branch=${this.ids.nextBranch()}`, "top");
    const out = this.sip.sendRequest(fwd, to, now, {
      onResponse: (res, t) => {
        if (res.status < 200) return [];
        const back = res.clone();
        back.removeFirstHeaderValue("Via");
        const acts = this.sip.respond(serverKey, back, t);
        if (req.method === "BYE") acts.push(...this.byeFinished(call, t));
        return acts;
      },
      onTimeout: (t) => {
        const acts = this.sip.respond(serverKey, buildResponse(req, 408), t);
        if (req.method === "BYE") acts.push(...this.byeFinished(call, t));
        return acts;
      },
    });
    if (req.method === "BYE" && call.phase !== "ending" && call.phase !== "done") {
      call.phase = "ending";
      out.push(this.step(call, `BYE from ${from}`));
      // FIG. 6 steps 4 / 13: cancel the local policy of setup step 18 / 13.
      if (call.ldp === "installed") {
        call.releasing = true;
        out.push(...this.copsRequest(call, "noLDP", now));
      } else {
        out.push(...this.endCops(call, now, "BYE"));
      }
    }
    return out;
  }

  private byeFinished(call: ProxyCall, now: number): NodeAction[] {
    call.byeDone = true;
    return this.maybeForget(call, now);
  }

  // ---- COPS ----

  private callIdOfCops(m: CopsMessage): string {
    if ("handle" in m && m.handle) return this.byHandle.get(m.handle.toString("hex")) ?? "";
    return "";
  }

  private onCopsEvent(e: CopsPepEvent, now: number): NodeAction[] {
    switch (e.type) {
      case "decision": {
        const callId = this.byHandle.get(e.handle.toString("hex"));
        const call = callId === undefined ? undefined : this.calls.get(callId);
        if (!call) return [];
        let parsed;
        try {
          parsed = parseSipAaaDecision(e.message);
        } catch (err) {
          return [{ type: "emit", event: { type: "error", callId: call.callId, role: this.name, message: String(err) } }];
        }
        const purpose = parsed.purpose ?? this.pendingPurpose(call);
        const reason = parsed.info.reason;
        const out: NodeAction[] = [{ type: "emit", event: { type: "decision", callId: call.callId, role: this.name, purpose, allow: parsed.allowed, ...(reason ? { reason: reason.text } : {}) } }];
        out.push(...this.onDecision(call, purpose, parsed.allowed, parsed.info.token, reason, now));
        return out;
      }
      case "local-decision": {
        const callId = this.byHandle.get(e.handle.toString("hex"));
        const call = callId === undefined ? undefined : this.calls.get(callId);
        if (!call) return [];
        const purpose = this.pendingPurpose(call);
        const reason = e.allowed ? undefined : { code: 503, text: "policy server unreachable" };
        return [
          { type: "emit", event: { type: "decision", callId: call.callId, role: this.name, purpose, allow: e.allowed, reason: "local decision point" } },
          ...this.onDecision(call, purpose, e.allowed, undefined, reason, now),
        ];
      }
      case "pdp-lost":
        return [{ type: "emit", event: { type: "error", role: this.name, message: `COPS: lost ${this.opts.pdp} (${e.reason})` } }];
      case "resynchronised":
        return [{ type: "emit", event: { type: "step", callId: "", role: this.name, what: `COPS resynchronised ${e.handles} request states` } }];
      default:
        return [];
    }
  }

  private pendingPurpose(call: ProxyCall): SipAaaPurposeName {
    if (call.releasing) return "noLDP";
    if (call.phase === "authorising") return "AAA";
    return "LDP";
  }

  private onDecision(call: ProxyCall, purpose: SipAaaPurposeName, allowed: boolean, token: Buffer | undefined, reason: { code: number; text: string } | undefined, now: number): NodeAction[] {
    switch (purpose) {
      case "AAA":
        if (call.phase !== "authorising") return []; // a resynchronised state answered again
        if (allowed) return this.forwardInvite(call, token, now);
        return this.refuse(call, sipStatusOf(reason, 403), reason?.text ?? "not authorised", now);
      case "LDP": {
        if (call.ldp !== "requested") return [];
        if (!allowed) {
          call.ldp = "refused";
          return this.refuseAfterForward(call, sipStatusOf(reason, 503), reason?.text ?? "QoS policy not installed", now);
        }
        call.ldp = "installed";
        const out: NodeAction[] = [];
        for (const res of call.held.splice(0)) out.push(...this.relayUpstream(call, res, now));
        return out;
      }
      case "noLDP":
        if (!call.releasing) return [];
        call.releasing = false;
        call.ldp = "none";
        return this.endCops(call, now, "call over");
    }
  }

  /** Refuse the held INVITE (FIG. 5 branch "DEC AAA no"): 403/503 with a Reason (RFC 3326). */
  private refuse(call: ProxyCall, status: number, text: string, now: number): NodeAction[] {
    const invite = call.invite;
    const out: NodeAction[] = [];
    if (invite && call.inviteServerKey !== undefined && call.phase !== "done") {
      const res = buildResponse(invite, status, undefined, { toTag: `${this.opts.name.toLowerCase()}-${call.handle.toString("hex")}`, extraHeaders: { Reason: `SIP;cause=${status};text="${text}"` } });
      out.push(...this.sip.respond(call.inviteServerKey, res, now));
    }
    call.phase = "done";
    out.push(...this.endCops(call, now, text));
    return out;
  }

  /** The call was forwarded but a policy could not be installed: refuse upstream, cancel (or hang up) downstream. */
  private refuseAfterForward(call: ProxyCall, status: number, text: string, now: number): NodeAction[] {
    const answered = call.held.find((r) => r.status >= 200 && r.status < 300);
    call.held = [];
    const out: NodeAction[] = [];
    if (answered) out.push(...this.hangUpDownstream(call, answered, now));
    else out.push(...this.cancelDownstream(call, now));
    out.push(...this.refuse(call, status, text, now));
    return out;
  }

  private hangUpDownstream(call: ProxyCall, ok: SipResponse, now: number): NodeAction[] {
    const fwd = call.forwarded;
    if (!fwd) return [];
    const contact = ok.contact;
    const target = contact !== "*" && contact[0] && contact[0].uri ? uriText(contact[0].uri) : fwd.uri;
    const base = { uri: target, from: fwd.getHeader("From") ?? "", to: ok.getHeader("To") ?? "", callId: call.callId };
    const ack = buildRequest({ ...base, method: "ACK", cseq: fwd.cseq.seq, via: { host: this.opts.host, transport: this.opts.transport ?? "UDP" } });
    const bye = buildRequest({ ...base, method: "BYE", cseq: fwd.cseq.seq + 1, via: { host: this.opts.host, transport: this.opts.transport ?? "UDP" } });
    return [sipSend(call.downstream, ack), ...this.sip.sendRequest(bye, call.downstream, now, { onResponse: () => [] })];
  }

  /** RFC 2748 §3.4: the request state ends with DRQ. */
  private endCops(call: ProxyCall, now: number, why: string): NodeAction[] {
    const key = call.handle.toString("hex");
    const out: NodeAction[] = [];
    if (this.cops.machine.hasHandle(call.handle)) {
      out.push(...this.cops.command({ type: "delete", handle: call.handle, reason: { code: ReasonCode.Tear, subCode: 0 } }, now));
    }
    call.releasing = false;
    call.ldp = call.ldp === "installed" ? "none" : call.ldp;
    out.push(this.step(call, `COPS state deleted (${why})`));
    this.byHandle.delete(key);
    if (call.phase !== "ending") call.phase = "done";
    call.byeDone = call.byeDone || call.phase === "done";
    call.handle = Buffer.alloc(0);
    out.push(...this.maybeForget(call, now));
    return out;
  }

  private maybeForget(call: ProxyCall, now: number): NodeAction[] {
    if (call.handle.length === 0 && call.byeDone) {
      this.calls.delete(call.callId);
      return [{ type: "emit", event: { type: "terminated", callId: call.callId, role: this.name, at: now } }];
    }
    return [];
  }

  private step(call: ProxyCall, what: string): NodeAction {
    return { type: "emit", event: { type: "step", callId: call.callId, role: this.name, what } };
  }
}

/** The SIP status a PDP asked for in its Reason TLV (403 Forbidden, 503 Service Unavailable), else `fallback`. */
function sipStatusOf(reason: { code: number } | undefined, fallback: number): number {
  const code = reason?.code;
  return code !== undefined && code >= 400 && code < 700 ? code : fallback;
}

/** RFC 3261 §16.4: remove the top Route if it names this proxy (loose routing). */
function popOwnRoute(req: SipRequest, host: string): void {
  const top = req.getHeaders("Route")[0];
  if (top !== undefined && top.includes(`sip:${host}`)) req.removeFirstHeaderValue("Route");
}

export function toCopsFlow(f: MediaFlow): SipAaaMediaFlow | undefined {
  if (!isIpv4(f.src.address) || !isIpv4(f.dst.address)) return undefined;
  return {
    protocol: 17, family: 4, srcAddress: f.src.address, srcPort: f.src.port, dstAddress: f.dst.address, dstPort: f.dst.port,
    codec: f.codecs[0] ?? "", bandwidthBps: f.bandwidthKbps * 1000,
  };
}

function isIpv4(a: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(a);
}

