// A SIP user agent (RFC 3261 §8, §12-§15) as a sans-I/O node: places calls (UAC) and answers them (UAS) with
// an answer delay, busy (486), decline (603), no answer, CANCEL, and hang-up by either side.
import { buildRequest, buildResponse, type SipHeader, type SipRequest, type SipResponse } from "../../protocols/sip/index.js";
import { SipIds, ownString } from "./sip-ids.js";
import type { FlowNode, NodeAction, NodeEvent } from "../drivers/node.js";
import type { CallEvent } from "../flow/call-events.js";
import { answerSdp, buildSdp } from "../flow/media-flows.js";
import { SipTransactionLayer, sipSend, uriText, type ServerTx } from "./sip-transaction-layer.js";

export interface PlannedCall {
  callId: string;
  from: string;
  to: string;
  startMs: number;
  /** Caller hangs up this long after the 200 OK (when `hangUp` is "caller"). */
  durationMs: number;
  hangUp: "caller" | "callee";
  cancelAfterMs?: number;
  /** The caller gives up (CANCEL) when no final answer came by then; default 60 s. */
  noAnswerTimeoutMs?: number;
}

export interface CalleeBehaviour {
  outcome: "answer" | "busy" | "decline" | "no-answer";
  answerDelayMs: number;
  /** Callee hangs up this long after answering (when `hangsUp`). */
  durationMs: number;
  hangsUp: boolean;
}

export interface UserAgentOptions {
  name: string;
  /** Outbound proxy role every request goes to. */
  proxy: string;
  host: string;
  mediaAddress: string;
  /** The transport named in its Via and Contact; TCP and TLS are reliable (no retransmissions). */
  transport?: "UDP" | "TCP" | "TLS";
  calls?: PlannedCall[];
  behaviour?: (callId: string, invite: SipRequest) => CalleeBehaviour;
  t1?: number;
  /** Branches and tags; a flow passes one seeded from its run's seed so runs repeat byte for byte. */
  ids?: SipIds;
}

type DialogState = "calling" | "early" | "confirmed" | "ending" | "ended";

/** What only the INVITE transaction and the wait for the ACK need; dropped once the dialog is confirmed both ways. */
interface UaSetup {
  invite: SipRequest | undefined;
  inviteServerTx: ServerTx | undefined;
  /** UAS: the 2xx retransmitted until the ACK comes (RFC 3261 §13.3.1.4), and its current interval. */
  final2xx: SipResponse | undefined;
  retransmitMs: number;
  provisionalSeen: boolean;
  cancelWanted: boolean;
  plan: PlannedCall | undefined;
  behaviour: CalleeBehaviour | undefined;
  /** The SDP answer, made once and sent in the 180 and the 200 (RFC 3264 §6). */
  answer: string | undefined;
}

/** One dialog (RFC 3261 §12): what in-dialog requests and teardown need, plus the setup state until confirmed. */
class UaCall {
  /** Local CSeq (RFC 3261 §12.2.1.1). */
  cseq = 0;
  /** Local and remote URI and tag of the dialog (RFC 3261 §12.1.1, §12.1.2): From and To of in-dialog requests. */
  localUri = "";
  localTag = "";
  remoteUri = "";
  remoteTag: string | undefined = undefined;
  /** Route set as Route values, in the order they are sent (§12.1.1 / §12.1.2). */
  routeSet: readonly string[] = NO_ROUTES;
  remoteTarget = "";
  /** UA timers (T_* bits) set and neither fired nor cancelled: only those are cancelled. */
  armed = 0;
  /** Driver key per UA timer ("ua:<what>:<Call-ID>"), made once per call so the driver hashes it once. */
  timerKeys: (string | undefined)[] | undefined = undefined;
  constructor(
    readonly callId: string,
    readonly side: "caller" | "callee",
    public state: DialogState,
    public setup: UaSetup | undefined,
  ) {}
}

const NO_ROUTES: readonly string[] = [];
const INTERNED_MAX = 256;

const DEFAULT_NO_ANSWER_MS = 60_000;

// UA timers of one call (bit numbers of UaCall.armed) and the <what> of their keys.
const T_CANCEL = 0;
const T_NOANSWER = 1;
const T_HANGUP = 2;
const T_ANSWER = 3;
const T_2XX = 4;
const T_2XX_GIVEUP = 5;
const TIMER_WHAT = ["cancel", "noanswer", "hangup", "answer", "2xx", "2xxgiveup"] as const;

export class UserAgent implements FlowNode<CallEvent> {
  readonly name: string;
  private readonly sip: SipTransactionLayer;
  private readonly calls = new Map<string, UaCall>();
  private mediaPort = 20_000;
  private readonly reliable: boolean;
  private readonly t1: number;

  private readonly ids: SipIds;

  constructor(private readonly opts: UserAgentOptions) {
    this.name = opts.name;
    this.ids = opts.ids ?? new SipIds();
    this.reliable = opts.transport === "TCP" || opts.transport === "TLS";
    this.t1 = opts.t1 ?? 500;
    this.sip = new SipTransactionLayer({ reliable: this.reliable, t1: this.t1, sendTrying: false });
  }

  /** Dialogs and transactions still held (0 once every call has ended and its transactions finished). */
  get activeCalls(): number {
    return this.calls.size;
  }

  get pendingTransactions(): number {
    return this.sip.pending;
  }

  /** Place a call now or later (UAC): returns the actions to run. */
  place(plan: PlannedCall, now: number): NodeAction<CallEvent>[] {
    return [{ type: "set-timer", key: `ua:start:${plan.callId}`, delayMs: Math.max(0, plan.startMs - now) }, ...this.remember(plan)];
  }

  private remember(plan: PlannedCall): NodeAction<CallEvent>[] {
    this.pendingPlans.set(plan.callId, plan);
    return [];
  }

  private readonly pendingPlans = new Map<string, PlannedCall>();

  handle(ev: NodeEvent): NodeAction<CallEvent>[] {
    switch (ev.type) {
      case "start": {
        const out: NodeAction<CallEvent>[] = [];
        for (const plan of this.opts.calls ?? []) out.push(...this.place(plan, ev.now));
        return out;
      }
      case "deliver": {
        if (ev.proto !== "SIP") return [];
        const { actions, inbound } = this.sip.receive(ev.bytes, ev.from, ev.now);
        if (!inbound) return actions;
        if (inbound.kind === "request") return [...actions, ...this.onRequest(inbound.request, inbound.serverTx, ev.now)];
        if (inbound.kind === "ack") return [...actions, ...this.onAck(inbound.request, ev.now)];
        return [...actions, ...this.onStrayResponse(inbound.response)];
      }
      case "timer":
        if (this.sip.isTimer(ev.key)) return this.sip.timer(ev.key, ev.now);
        return this.onTimer(ev.key, ev.now);
      case "restart":
        this.sip.reset();
        this.calls.clear();
        return [];
      default:
        return [];
    }
  }

  // ---- UAC ----

  private startCall(plan: PlannedCall, now: number): NodeAction<CallEvent>[] {
    const tag = this.ids.nextTag();
    const branch = this.ids.nextBranch();
    const offer = buildSdp({ sessionId: now + this.mediaPort, address: this.opts.mediaAddress, audioPort: this.nextMediaPort() });
    const invite = buildRequest({
      method: "INVITE",
      uri: plan.to,
      from: `<${plan.from}>;tag=${tag}`,
      to: `<${plan.to}>`,
      callId: plan.callId,
      cseq: 1,
      via: { host: this.opts.host, transport: this.opts.transport ?? "UDP", branch },
      contact: `<${this.contactUri(plan.from)}>`,
      body: offer,
      contentType: "application/sdp",
    });
    const call = new UaCall(plan.callId, "caller", "calling", {
      invite, inviteServerTx: undefined, final2xx: undefined, retransmitMs: 0,
      provisionalSeen: false, cancelWanted: false, plan, behaviour: undefined, answer: undefined,
    });
    // The plan's URIs are shared with the plan, not copied.
    call.localUri = plan.from;
    call.localTag = tag;
    call.remoteUri = plan.to;
    call.cseq = 1;
    call.remoteTarget = plan.to;
    this.calls.set(plan.callId, call);
    const out: NodeAction<CallEvent>[] = this.sip.sendRequest(invite, this.opts.proxy, now, {
      onResponse: (res, t) => this.onInviteResponse(call, res, t),
      onTimeout: (t) => this.finish(call, t, { status: 408, reason: "no response (Timer B)" }),
    }, branch);
    if (plan.cancelAfterMs !== undefined) out.push(setTimer(call, T_CANCEL, plan.cancelAfterMs));
    out.push(setTimer(call, T_NOANSWER, plan.noAnswerTimeoutMs ?? DEFAULT_NO_ANSWER_MS));
    out.push(this.step(call, "INVITE sent"));
    return out;
  }

  private onInviteResponse(call: UaCall, res: SipResponse, now: number): NodeAction<CallEvent>[] {
    if (call.state === "ended") return [];
    const setup = call.setup;
    if (res.status < 200) {
      if (setup === undefined) return [];
      if (res.status > 100) {
        setup.provisionalSeen = true;
        if (call.state === "calling") call.state = "early";
        const tag = res.to.tag;
        if (tag !== undefined) call.remoteTag = ownString(tag);
      }
      if (setup.cancelWanted) return this.sendCancel(call, now);
      return [];
    }
    if (res.status < 300) return this.onInvite2xx(call, res, now);
    // Non-2xx final: the transaction sent the ACK (RFC 3261 §17.1.1.3).
    return this.finish(call, now, { status: res.status, reason: res.reason });
  }

  private onInvite2xx(call: UaCall, res: SipResponse, now: number): NodeAction<CallEvent>[] {
    const setup = call.setup;
    if (setup === undefined || call.state === "confirmed" || call.state === "ending") return [this.ack(call)]; // retransmitted 2xx: ACK again
    // RFC 3261 §12.1.2: the dialog's remote tag, route set (Record-Route reversed) and remote target (Contact).
    const tag = res.to.tag;
    if (tag !== undefined) call.remoteTag = ownString(tag);
    const plan = setup.plan;
    const rr = res.getHeaders("Record-Route");
    if (rr.length > 0) call.routeSet = this.sharedRoutes(rr.reverse());
    const contact = res.contact;
    const first = contact === "*" ? undefined : contact[0];
    if (first) call.remoteTarget = this.shared(uriText(first.uri));
    call.state = "confirmed";
    call.setup = undefined;
    const out: NodeAction<CallEvent>[] = [this.ack(call)];
    cancelTimer(call, T_CANCEL, out);
    cancelTimer(call, T_NOANSWER, out);
    out.push({ type: "emit", event: { type: "established", callId: call.callId, role: this.name, at: now } });
    if (plan?.hangUp === "caller") out.push(setTimer(call, T_HANGUP, plan.durationMs));
    return out;
  }

  private ack(call: UaCall): NodeAction<CallEvent> {
    // RFC 3261 §13.2.2.4: the ACK for a 2xx is a new transaction-less request in the dialog.
    const ack = this.inDialogRequest(call, "ACK", 1);
    return sipSend(this.opts.proxy, ack);
  }

  private sendCancel(call: UaCall, now: number): NodeAction<CallEvent>[] {
    const setup = call.setup;
    const invite = setup?.invite;
    if (!setup || !invite || call.state === "confirmed" || call.state === "ended") return [];
    if (!setup.provisionalSeen) {
      setup.cancelWanted = true; // RFC 3261 §9.1: no CANCEL before a provisional response
      return [];
    }
    setup.cancelWanted = false;
    // RFC 3261 §9.1: same Request-URI, Call-ID, From, To, CSeq number and top Via as the INVITE.
    const cancel = buildRequest({
      method: "CANCEL",
      uri: invite.uri,
      from: invite.getHeader("From") ?? "",
      to: invite.getHeader("To") ?? "",
      callId: call.callId,
      cseq: invite.cseq.seq,
      via: invite.getHeaders("Via").slice(0, 1),
    });
    return [...this.sip.sendRequest(cancel, this.opts.proxy, now, { onResponse: () => [] }), this.step(call, "CANCEL sent")];
  }

  // ---- UAS ----

  private onRequest(req: SipRequest, serverTx: ServerTx, now: number): NodeAction<CallEvent>[] {
    switch (req.method) {
      case "INVITE":
        return this.onInvite(req, serverTx, now);
      case "CANCEL":
        return this.onCancel(req, serverTx, now);
      case "BYE":
        return this.onBye(req, serverTx, now);
      default:
        return this.sip.respond(serverTx, buildResponse(req, 405, undefined, { toTag: this.ids.nextTag() }), now);
    }
  }

  private onInvite(req: SipRequest, serverTx: ServerTx, now: number): NodeAction<CallEvent>[] {
    const callId = req.callId;
    if (this.calls.has(callId)) return []; // re-INVITE is not part of these flows
    const behaviour = this.opts.behaviour?.(callId, req) ?? { outcome: "answer", answerDelayMs: 0, durationMs: 0, hangsUp: false };
    const from = req.from;
    const contact = req.contact;
    const first = contact === "*" ? undefined : contact[0];
    const call = new UaCall(ownString(callId), "callee", "early", {
      invite: req, inviteServerTx: serverTx, final2xx: undefined, retransmitMs: 0,
      provisionalSeen: true, cancelWanted: false, plan: undefined, behaviour, answer: undefined,
    });
    // RFC 3261 §12.1.1: the dialog as the UAS sees it (route set = Record-Route in order, target = Contact).
    const localUri = this.shared(uriText(req.to.uri));
    const localTag = this.ids.nextTag();
    call.localUri = localUri;
    call.localTag = localTag;
    call.remoteUri = ownString(uriText(from.uri));
    const remoteTag = from.tag;
    if (remoteTag) call.remoteTag = ownString(remoteTag);
    const rr = req.getHeaders("Record-Route");
    if (rr.length > 0) call.routeSet = this.sharedRoutes(rr);
    call.remoteTarget = first ? ownString(uriText(first.uri)) : call.remoteUri;
    this.calls.set(call.callId, call);
    if (behaviour.outcome === "busy") return this.rejectInvite(call, 486, now);
    if (behaviour.outcome === "decline") return this.rejectInvite(call, 603, now);
    const answer = this.answerFor(req);
    call.setup!.answer = answer;
    const ringing = buildResponse(req, 180, "Ringing", { toTag: localTag, contact: `<${this.contactUri(localUri)}>`, body: answer, contentType: "application/sdp" });
    const out = this.sip.respond(serverTx, ringing, now);
    out.push(this.step(call, "ringing"));
    if (behaviour.outcome === "answer") out.push(setTimer(call, T_ANSWER, behaviour.answerDelayMs));
    return out;
  }

  private answerFor(req: SipRequest): string | undefined {
    if (req.body.length === 0) return undefined;
    return answerSdp(req.body.toString("utf8"), { sessionId: this.mediaPort, address: this.opts.mediaAddress, audioPort: this.nextMediaPort() });
  }

  private rejectInvite(call: UaCall, status: number, now: number): NodeAction<CallEvent>[] {
    const setup = call.setup;
    if (!setup?.invite || setup.inviteServerTx === undefined) return [];
    const out = this.sip.respond(setup.inviteServerTx, buildResponse(setup.invite, status, undefined, { toTag: call.localTag }), now);
    out.push(...this.finish(call, now, { status }));
    return out;
  }

  private answer(call: UaCall, now: number): NodeAction<CallEvent>[] {
    const setup = call.setup;
    const invite = setup?.invite;
    if (!setup || !invite || setup.inviteServerTx === undefined || call.state !== "early") return [];
    const ok = buildResponse(invite, 200, "OK", {
      toTag: call.localTag, contact: `<${this.contactUri(call.localUri)}>`, body: setup.answer ?? this.answerFor(invite), contentType: "application/sdp",
    });
    call.state = "confirmed";
    const out = this.sip.respond(setup.inviteServerTx, ok, now);
    // The INVITE transaction ended with the 2xx (RFC 3261 §17.2.1): its request and key are no longer needed.
    setup.invite = undefined;
    setup.inviteServerTx = undefined;
    setup.answer = undefined;
    // The ACK confirms the dialog (and starts the callee's hang-up timer).
    setup.final2xx = ok;
    if (!this.reliable) {
      // RFC 3261 §13.3.1.4: the UAS core retransmits the 2xx until the ACK comes.
      setup.retransmitMs = this.t1;
      out.push(setTimer(call, T_2XX, this.t1), setTimer(call, T_2XX_GIVEUP, 64 * this.t1));
    }
    return out;
  }

  private onAck(ack: SipRequest, now: number): NodeAction<CallEvent>[] {
    const call = this.calls.get(ack.callId);
    const setup = call?.setup;
    if (!call || call.side !== "callee" || setup?.final2xx === undefined) return [];
    call.setup = undefined;
    const out: NodeAction<CallEvent>[] = [];
    cancelTimer(call, T_2XX, out);
    cancelTimer(call, T_2XX_GIVEUP, out);
    out.push({ type: "emit", event: { type: "established", callId: call.callId, role: this.name, at: now } });
    if (setup.behaviour?.hangsUp) out.push(setTimer(call, T_HANGUP, setup.behaviour.durationMs));
    return out;
  }

  private onCancel(req: SipRequest, serverTx: ServerTx, now: number): NodeAction<CallEvent>[] {
    const out = this.sip.respond(serverTx, buildResponse(req, 200, "OK"), now);
    const call = this.calls.get(req.callId);
    if (call && call.side === "callee" && call.state === "early") {
      cancelTimer(call, T_ANSWER, out);
      out.push(...this.rejectInvite(call, 487, now));
    }
    return out;
  }

  // ---- both ----

  private onBye(req: SipRequest, serverTx: ServerTx, now: number): NodeAction<CallEvent>[] {
    const call = this.calls.get(req.callId);
    if (!call) return this.sip.respond(serverTx, buildResponse(req, 481), now);
    const out = this.sip.respond(serverTx, buildResponse(req, 200, "OK"), now);
    cancelTimer(call, T_HANGUP, out);
    out.push(...this.finish(call, now, { status: 200, endedBy: call.side === "caller" ? "callee" : "caller" }));
    return out;
  }

  private hangUp(call: UaCall, now: number): NodeAction<CallEvent>[] {
    if (call.state !== "confirmed") return [];
    call.state = "ending";
    const branch = this.ids.nextBranch();
    const bye = this.inDialogRequest(call, "BYE", ++call.cseq + (call.side === "caller" ? 1 : 0), branch);
    const done = (t: number): NodeAction<CallEvent>[] => this.finish(call, t, { status: 200, endedBy: call.side });
    return [...this.sip.sendRequest(bye, this.opts.proxy, now, { onResponse: (res, t) => (res.status >= 200 ? done(t) : []), onTimeout: done }, branch), this.step(call, "BYE sent")];
  }

  private inDialogRequest(call: UaCall, method: string, cseq: number, branch = this.ids.nextBranch()): SipRequest {
    // RFC 3261 §12.2.1.1: Request-URI = remote target, Route = route set (loose routing).
    const routes = call.routeSet;
    const extra: SipHeader[] = [];
    for (let i = 0; i < routes.length; i++) extra.push({ name: "Route", value: routes[i]! });
    const remote = call.remoteTag ? `<${call.remoteUri}>;tag=${call.remoteTag}` : `<${call.remoteUri}>`;
    return buildRequest({
      method, uri: call.remoteTarget, from: `<${call.localUri}>;tag=${call.localTag}`, to: remote, callId: call.callId, cseq,
      via: { host: this.opts.host, transport: this.opts.transport ?? "UDP", branch },
      extraHeaders: extra,
    });
  }

  private onStrayResponse(res: SipResponse): NodeAction<CallEvent>[] {
    const call = this.calls.get(res.callId);
    if (call && call.side === "caller" && call.setup === undefined && res.status >= 200 && res.status < 300 && res.cseq.method === "INVITE") return [this.ack(call)];
    return [];
  }

  private onTimer(key: string, now: number): NodeAction<CallEvent>[] {
    // "ua:<what>:<Call-ID>" (a Call-ID may itself hold ':')
    const colon = key.indexOf(":", 3);
    if (colon < 0) return [];
    const what = key.substring(3, colon);
    const callId = key.substring(colon + 1);
    if (what === "start") {
      const plan = this.pendingPlans.get(callId);
      if (!plan) return [];
      this.pendingPlans.delete(callId);
      return this.startCall(plan, now);
    }
    const call = this.calls.get(callId);
    if (!call) return [];
    const fired = TIMER_WHAT.indexOf(what as (typeof TIMER_WHAT)[number]);
    if (fired >= 0) call.armed &= ~(1 << fired);
    switch (what) {
      case "answer":
        return this.answer(call, now);
      case "hangup":
        return this.hangUp(call, now);
      case "cancel":
      case "noanswer":
        return this.sendCancel(call, now);
      case "2xx": {
        const setup = call.setup;
        if (!setup?.final2xx) return [];
        setup.retransmitMs = Math.min(2 * setup.retransmitMs, 4000);
        return [sipSend(this.opts.proxy, setup.final2xx), setTimer(call, T_2XX, setup.retransmitMs)];
      }
      case "2xxgiveup":
        if (call.setup) call.setup.final2xx = undefined;
        return cancelTimer(call, T_2XX, []);
      default:
        return [];
    }
  }

  private finish(call: UaCall, now: number, how: { status?: number; reason?: string; endedBy?: string }): NodeAction<CallEvent>[] {
    if (call.state === "ended") return [];
    call.state = "ended";
    this.calls.delete(call.callId);
    const event: CallEvent = { type: "terminated", callId: call.callId, role: this.name, at: now };
    if (how.status !== undefined) event.status = how.status;
    if (how.reason !== undefined) event.reason = how.reason;
    if (how.endedBy !== undefined) event.endedBy = how.endedBy;
    const out: NodeAction<CallEvent>[] = [];
    cancelTimer(call, T_CANCEL, out);
    cancelTimer(call, T_NOANSWER, out);
    cancelTimer(call, T_ANSWER, out);
    out.push({ type: "emit", event });
    return out;
  }

  private step(call: UaCall, what: string): NodeAction<CallEvent> {
    return { type: "emit", event: { type: "step", callId: call.callId, role: this.name, what } };
  }

  /**
   * An owned copy of a value most calls share (the callee's AOR and Contact, the proxies' Record-Route
   * values): one string per distinct value instead of one per call. Bounded; cleared when full.
   */
  private shared(s: string): string {
    let v = this.interned.get(s);
    if (v === undefined) {
      if (this.interned.size >= INTERNED_MAX) this.interned.clear();
      v = ownString(s);
      this.interned.set(v, v);
    }
    return v;
  }

  /** A route set as one shared frozen array per distinct list of values (see `shared`). */
  private sharedRoutes(values: string[]): readonly string[] {
    const key = values.join("\n");
    let v = this.internedRoutes.get(key);
    if (v === undefined) {
      if (this.internedRoutes.size >= INTERNED_MAX) this.internedRoutes.clear();
      v = Object.freeze(values.map((r) => this.shared(r)));
      this.internedRoutes.set(ownString(key), v);
    }
    return v;
  }

  private readonly interned = new Map<string, string>();
  private readonly internedRoutes = new Map<string, readonly string[]>();

  private contactUri(aor: string): string {
    const user = /^sips?:([^@]+)@/.exec(aor)?.[1];
    return `sip:${user ? `${user}@` : ""}${this.opts.host}${this.opts.transport === "TCP" || this.opts.transport === "TLS" ? `;transport=${this.opts.transport.toLowerCase()}` : ""}`;
  }

  private nextMediaPort(): number {
    const port = this.mediaPort;
    this.mediaPort = this.mediaPort >= 60_000 ? 20_000 : this.mediaPort + 2;
    return port;
  }
}

/** Arm one of a call's UA timers (its key made once per call). */
function setTimer(call: UaCall, timer: number, delayMs: number): NodeAction<CallEvent> {
  call.armed |= 1 << timer;
  return { type: "set-timer", key: timerKey(call, timer), delayMs };
}

/** Cancel one of a call's UA timers if it is armed (a timer never set or already fired needs no cancel). */
function cancelTimer(call: UaCall, timer: number, out: NodeAction<CallEvent>[]): NodeAction<CallEvent>[] {
  const bit = 1 << timer;
  if ((call.armed & bit) !== 0) {
    call.armed &= ~bit;
    out.push({ type: "cancel-timer", key: timerKey(call, timer) });
  }
  return out;
}

function timerKey(call: UaCall, timer: number): string {
  const keys = (call.timerKeys ??= new Array<string | undefined>(TIMER_WHAT.length));
  return (keys[timer] ??= `ua:${TIMER_WHAT[timer]}:${call.callId}`);
}
