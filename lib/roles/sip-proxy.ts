// The COPS PEP of WO 01/35294 (client type sip-aaa) on the library's one StatefulProxy (RFC 3261 §16): its hooks
// hold the INVITE until DEC AAA and forward it with the authorisation token, hold the 180/2xx until DEC LDP, hold a
// media change until the PDP agrees (REQ LDP, TLV 9), ask REQ noLDP on BYE and delete the request state (DRQ) when
// the call is over. Routing, Record-Route, Via, Max-Forwards, loop detection, CANCEL and Timer C are the proxy's.
import {
  ReasonCode,
  decodeSipAaaClientSi,
  encodeSipAaaClientSi,
  withConnectedMs,
  ownBytes,
  parseSipAaaDecision,
  sipAaaContext,
  type CopsMessage,
  type CopsIntegrityConfig,
  type CopsPepEvent,
  type SipAaaMediaFlow,
  type SipAaaPurposeName,
} from "../../protocols/cops/index.js";
import {
  SipRequest,
  StatefulProxy,
  buildRequest,
  formatSipUri,
  isLocalUri,
  parseSipUri,
  parseViaValue,
  recordRouteValue,
  ownString,
  uriToTransportAddress,
  type ProxyIdentity,
  type ProxyRequestContext,
  type SipResponse,
  type TransportAddress,
  type TransportProtocol,
} from "../../protocols/sip/index.js";
import { randomInt } from "node:crypto";
import type { FlowNode, NodeAction as GenericNodeAction, NodeEvent, SipArrival, SipListenAddress } from "../drivers/node.js";
import type { CallEvent } from "../flow/call-events.js";
import { mediaFlows, sameMediaFlows, type MediaFlow } from "../flow/media-flows.js";
import { CopsPepLink, isCopsTimer, splitCopsTimer } from "./cops-links.js";
import { SipIds } from "./sip-ids.js";
import { SipTransactionLayer, uriText } from "./sip-transaction-layer.js";

type NodeAction = GenericNodeAction<CallEvent>;

/** The SIP header that carries the clearinghouse's token from SIP1 to SIP2. */
export const TOKEN_HEADER = "P-OSP-Auth-Token";

/** Name, host, policy server, next hop, transport, timers and ids of a SipProxy. */
export interface SipProxyOptions {
  name: string;
  /** Its name in the ladder and its COPS PEPID; its Via and Record-Route until the driver gives it a listener. */
  host: string;
  /** The policy server (COPS PDP) of this proxy. */
  pdp: string;
  /** Where a new INVITE goes next (the next proxy, or the callee's UA). */
  nextHop: (invite: SipRequest) => string;
  /**
   * A SIP URI (another proxy, a softswitch) new INVITEs go to first, by local policy (RFC 3261 §16.6 step 7): the
   * INVITE carries the Route set <outboundProxy;lr>, <next role's URI;lr>, so a loose router takes it on to the
   * next role and keeps the dialog's later requests on that path.
   */
  outboundProxy?: string;
  /** The transport named in its Via (RFC 3261 §18.2.1); TCP and TLS are reliable (no retransmissions). */
  transport?: "UDP" | "TCP" | "TLS";
  /**
   * Peers reached over another transport than `transport`, by name (a user agent on UDP beside proxies on TCP): a
   * dialog that crosses transports here is record-routed twice, once per side (RFC 5658 §4).
   */
  peerTransports?: Record<string, "UDP" | "TCP" | "TLS">;
  /** What the PEP's local decision point answers while its PDP is unreachable (RFC 2748 §2.5). */
  localDecision?: "fail-open" | "fail-closed";
  kaTimerSeconds?: number;
  t1?: number;
  /** RFC 3261 §16.6 step 11: how long a proxied INVITE may go without a final response (more than 3 minutes). */
  timerCMs?: number;
  /** Random source for the COPS keep-alive schedule (seeded for reproducible runs). */
  random?: () => number;
  /** Via branches; a flow passes one seeded from its run's seed so runs repeat byte for byte. */
  ids?: SipIds;
  /** Challenge callers before asking the PDP (see CallerChallenge). */
  challenge?: CallerChallenge;
  /**
   * How long a re-INVITE or UPDATE that changes the media waits for DEC LDP (default 10 s, well inside the sender's
   * Timer B/F): then it is answered 504 with a Reason and the policy is asked back to the media in force.
   */
  mediaChangeWaitMs?: number;
  /** At most `changes` media changes per call within `perMs` (default 10 per minute); more are refused 503. */
  mediaChangeLimit?: { changes: number; perMs: number };
}

type Phase = "authorising" | "proceeding" | "answered" | "confirmed" | "ending" | "done";

/** What only call setup needs (RFC 3261 §16 INVITE transaction, FIG. 5 REQ AAA/LDP); dropped once the 2xx is relayed. */
/**
 * Callers must prove who they are (RFC 3261 §22.3): `pass` lets an INVITE on, with the credentials REQ AAA carries
 * to the policy server (ClientSI TLV 8); otherwise the INVITE is answered with `status` (407 and its
 * Proxy-Authenticate headers, or a refusal). lib/auth's SipChallenger is one.
 */
export interface CallerChallenge {
  /** Judges an INVITE at `now` (ms): pass it on, challenge it (407) or refuse it. */
  check(
    now: number,
    request: SipRequest,
  ): { kind: "pass"; proxyAuthorization?: string } | { kind: "challenge" | "refuse"; status: number; reason: string; headers?: { name: string; value: string }[] };
}

interface ProxySetup {
  invite: SipRequest;
  /** The INVITE's request context at the StatefulProxy (held, then forwarded, answered through it). */
  ctx: ProxyRequestContext;
  forwarded: SipRequest | undefined;
  offer: string | undefined;
  answerSdp: string | undefined;
  held: SipResponse[] | undefined;
  caller: string;
  callee: string;
  token: Buffer | undefined;
  /** The caller's credentials for this proxy's realm, sent once in REQ AAA. */
  proxyAuthorization: string | undefined;
  /** Media flows as last sent to the PDP, and whether the answer was in them. */
  flows: SipAaaMediaFlow[] | undefined;
  flowsHaveAnswer: boolean;
  /** The media flows of the offer with the answer known then (RFC 3264 §6), and in one order: derived once per answer. */
  mediaFlows: { answer: string | undefined; flows: MediaFlow[]; sorted: MediaFlow[] | undefined } | undefined;
  /** An INVITE without an offer: the callee's offer in its first reliable 18x (RFC 3262 §5), answered in the PRACK. */
  earlyOffer?: string;
}

/** The media-change state of a call (see ProxyCall's accessors): most calls never have one. */
class MediaChangeState {
  mediaChanges = 0;
  pendingChange: PendingMediaChange | undefined = undefined;
  changeTimes: number[] | undefined = undefined;
  settling = 0;
  settlingSince = 0;
  resettle = false;
  ackAnswer: { by: "caller" | "callee"; offer: string } | undefined = undefined;
  prackAnswer: string | undefined = undefined;
}

/** One call at this proxy: what in-dialog requests and teardown need, plus the setup state until the 2xx. */
class ProxyCall {
  phase: Phase = "authorising";
  ldp: "none" | "requested" | "installed" | "refused" = "none";
  /** REQ noLDP sent, DEC noLDP awaited. */
  releasing = false;
  byeDone = false;
  /** The Signaled ClientSI of the LDP request (the PEP keeps that REQ too), sent again with REQ noLDP. */
  ldpClientSi: Buffer | undefined = undefined;
  /** When this proxy relayed the 2xx to the caller: the call is connected from then (REQ noLDP reports for how long). */
  answeredAt: number | undefined = undefined;
  /** The forwarded INVITE and its 2xx, kept until the caller's ACK passes: without it the call is ended by BYE. */
  unacknowledged: { forwarded: SipRequest; ok: SipResponse } | undefined = undefined;
  /** The authorised duration from DEC AAA, if any; counted from the 2xx. */
  limitMs: number | undefined = undefined;
  /** Both ends of the dialog, kept while a time limit runs so this proxy can end the call (RFC 3261 §12.2.1.1). */
  ends: DialogEnds | undefined = undefined;
  /** Status and To tag of the last provisional response taken in: the same again is a retransmission's echo. */
  lastProvisional: string | undefined = undefined;
  /** The session descriptions of each end as last agreed (RFC 3264 §8): a new offer is judged against them. */
  callerSdp: string | undefined = undefined;
  calleeSdp: string | undefined = undefined;
  /** The flows the PDP last agreed to (caller's view, sorted). */
  authorisedFlows: MediaFlow[] | undefined = undefined;
  /** What media changes, late offers and offers in a PRACK need: made for the calls that have them. */
  private changes: MediaChangeState | undefined = undefined;
  /** Media changes sent to the PDP so far (TLV 9 counts from 1). */
  get mediaChanges(): number {
    return this.changes?.mediaChanges ?? 0;
  }
  set mediaChanges(v: number) {
    if (this.changes !== undefined || v !== 0) this.changeState.mediaChanges = v;
  }
  /** A re-INVITE or UPDATE held for DEC LDP on a media change (FIG. 5 as for the initial INVITE), and the flows before it. */
  get pendingChange(): PendingMediaChange | undefined {
    return this.changes?.pendingChange;
  }
  set pendingChange(v: PendingMediaChange | undefined) {
    if (this.changes !== undefined || v !== undefined) this.changeState.pendingChange = v;
  }
  /** When the recent media changes were asked for (the rate cap's window). */
  get changeTimes(): number[] | undefined {
    return this.changes?.changeTimes;
  }
  set changeTimes(v: number[] | undefined) {
    if (this.changes !== undefined || v !== undefined) this.changeState.changeTimes = v;
  }
  /**
   * REQ LDP updates that hold no request (the policy following an answer, or put back after a refusal) whose DEC LDP
   * is awaited, and since when: the PDP takes one change of a call at a time, so nothing else is asked meanwhile.
   */
  get settling(): number {
    return this.changes?.settling ?? 0;
  }
  set settling(v: number) {
    if (this.changes !== undefined || v !== 0) this.changeState.settling = v;
  }
  get settlingSince(): number {
    return this.changes?.settlingSince ?? 0;
  }
  set settlingSince(v: number) {
    if (this.changes !== undefined || v !== 0) this.changeState.settlingSince = v;
  }
  /** The session changed again while a settling update was under way: settle once more when it is decided. */
  get resettle(): boolean {
    return this.changes?.resettle ?? false;
  }
  set resettle(v: boolean) {
    if (this.changes !== undefined || v) this.changeState.resettle = v;
  }
  /** A 2xx carried an offer (late offer, RFC 3261 §13.2.1; a re-INVITE without one, §14.1): whose ACK answers it. */
  get ackAnswer(): { by: "caller" | "callee"; offer: string } | undefined {
    return this.changes?.ackAnswer;
  }
  set ackAnswer(v: { by: "caller" | "callee"; offer: string } | undefined) {
    if (this.changes !== undefined || v !== undefined) this.changeState.ackAnswer = v;
  }
  /** A reliable 18x carried the callee's offer (RFC 3262 §5): the caller's PRACK answers it. */
  get prackAnswer(): string | undefined {
    return this.changes?.prackAnswer;
  }
  set prackAnswer(v: string | undefined) {
    if (this.changes !== undefined || v !== undefined) this.changeState.prackAnswer = v;
  }
  private get changeState(): MediaChangeState {
    return (this.changes ??= new MediaChangeState());
  }
  constructor(
    readonly callId: string,
    public handle: Buffer,
    readonly upstream: string,
    readonly downstream: string,
    public setup: ProxySetup | undefined,
  ) {}
}

/**
 * A re-INVITE or UPDATE held for policy: asked of the PDP (REQ LDP sent, DEC awaited), or waiting for a settling
 * update to be decided first; the flows in force before it, since when it waits, and whether it was CANCELled.
 */
interface PendingMediaChange {
  ctx: ProxyRequestContext;
  from: string;
  previous: MediaFlow[] | undefined;
  since: number;
  asked: boolean;
  cancelled?: boolean;
}

/** What a BYE to either end of a call needs besides the addresses of record the LDP ClientSI holds: the tags. */
interface DialogEnds {
  /** The INVITE's From tag and the 2xx's To tag. */
  callerTag: string;
  calleeTag: string;
  /** The caller's CSeq so far (a BYE to the callee goes one above). */
  callerCseq: number;
}

/** Map key of a COPS handle: the proxy allocates 4-octet handles (RFC 2748 §2.2.1 compares them byte-wise). */
function handleId(h: Buffer): number | string {
  return h.length === 4 ? h.readUInt32BE(0) : h.toString("latin1");
}

/** What a request context at the StatefulProxy is to this PEP (kept in its userState): the call's INVITE, an in-dialog request, or neither. */
type ContextRole = { kind: "setup"; call: ProxyCall } | { kind: "in-dialog"; call: ProxyCall; from: string };

export class SipProxy implements FlowNode<CallEvent> {
  readonly name: string;
  private readonly sip: SipTransactionLayer;
  /** The one RFC 3261 §16 proxy core; this role is its hook (policy) and its response hook (held 1xx/2xx). */
  private readonly proxy: StatefulProxy;
  private cops: CopsPepLink;
  private copsIntegrity: CopsIntegrityConfig | undefined;
  private readonly calls = new Map<string, ProxyCall>();
  private readonly byHandle = new Map<number | string, ProxyCall>();
  /** This proxy's Record-Route value (RFC 3261 §16.6 step 4): its listener once known, else its host name. */
  private recordRoute: string;
  /** The listener peers reach this proxy on (sockets); none in memory, where its host name stands for it. */
  private listener: { sentBy: string; recordRoute: string } | undefined;
  /** Its Via sent-by and Record-Route on each transport (RFC 5658 §4: each side names the listener it reaches). */
  private readonly names = new Map<TransportProtocol, { sentBy: string; recordRoute: string }>();
  /** The transport of each peer named in peerTransports. */
  private readonly peerProtocols = new Map<string, TransportProtocol>();
  /** The transport address the transaction layer names each transport's arrivals by (role-named, port 0). */
  private readonly arrivalAddresses = new Map<string, TransportAddress>();
  private readonly protocol: TransportProtocol;
  /** The URIs that name this proxy (§16.4): its listener, and its host name as an alias (shared with the proxy). */
  private readonly identity: ProxyIdentity;
  private ids: SipIds;
  /** The watch timer is armed (one per proxy, see watch()). */
  private watching = false;
  /** Role names by SIP host, to follow the Route set of a request whose call this proxy does not hold. */
  private readonly peerByHost = new Map<string, string>();
  /** SIP addresses ("host:port") of the roles in other processes, by name. */
  private peerAddresses: Readonly<Record<string, string>> = {};
  /** The outbound proxy's peer name ("host:port") and its Route value. */
  private readonly outbound: { peer: string; route: string } | undefined;
  /** The peer the message being handled came from (a stray response goes to the other end of its call). */
  private receivingFrom = "";
  /** Media changes refused by the per-call rate cap (503). */
  refusedMediaChanges = 0;
  /** Media changes answered 504 because DEC LDP never came. */
  unansweredMediaChanges = 0;
  private readonly loggedCauses = new Set<string>();
  /** In-dialog requests already counted toward their call's media-change cap (an offer asked for, a re-INVITE without one). */
  private readonly countedChanges = new WeakSet<ProxyRequestContext>();

  constructor(private readonly opts: SipProxyOptions) {
    this.name = opts.name;
    this.ids = opts.ids ?? new SipIds();
    this.recordRoute = `<sip:${opts.host};lr>`;
    const protocol = (opts.transport ?? "UDP").toLowerCase() as TransportProtocol;
    this.protocol = protocol;
    // In memory a role is addressed by its name (port 0); its host name is how it names itself, on each transport.
    this.identity = { addresses: [{ protocol, host: opts.host, port: 0 }], aliases: [opts.host] };
    for (const [peer, t] of Object.entries(opts.peerTransports ?? {})) {
      const p = t.toLowerCase() as TransportProtocol;
      this.peerProtocols.set(peer, p);
      if (p === protocol || this.identity.addresses.some((a) => a.protocol === p)) continue;
      this.identity.addresses.push({ protocol: p, host: opts.host, port: 0 });
      this.names.set(p, { sentBy: opts.host, recordRoute: `<sip:${opts.host};transport=${p};lr>` });
    }
    const sipOpts: ConstructorParameters<typeof SipTransactionLayer>[0] = { reliable: protocol !== "udp", protocol, peerOf: (a) => (a.port === 0 ? a.host : `${a.host}:${a.port}`) };
    if (opts.t1 !== undefined) sipOpts.t1 = opts.t1;
    this.sip = new SipTransactionLayer(sipOpts);
    this.proxy = new StatefulProxy({
      transactions: this.sip.transactions,
      clock: this.sip.transactionClock,
      identity: this.identity,
      hook: (ctx) => this.onProxyRequest(ctx),
      responseHook: (ctx, res) => this.onProxyResponse(ctx, res),
      observer: {
        onForward: (ctx, forwarded) => this.onProxyForward(ctx, forwarded),
        onFinalResponse: (ctx, res) => this.onProxyFinal(ctx, res),
      },
      timerC: opts.timerCMs ?? DEFAULT_TIMER_C_MS,
      t1: opts.t1 ?? 500,
      // FIG. 5/6: the far side's policy refusal (503 with its Reason) reaches the caller as it is.
      relay503: true,
      rport: () => this.listener !== undefined,
      selfName: (local) => (local.protocol === this.protocol ? undefined : this.names.get(local.protocol)) ?? this.listener ?? { sentBy: opts.host, recordRoute: this.recordRoute },
      branchPrefix: () => this.ids.nextBranchSuffix(),
      newTag: () => this.ids.nextTag(),
      strayResponseTarget: (res) => this.strayResponseTarget(res),
    });
    this.cops = this.makeLink();
    if (opts.outboundProxy !== undefined) {
      const a = uriToTransportAddress(opts.outboundProxy);
      const uri = parseSipUri(opts.outboundProxy);
      uri.params.set("lr", null);
      this.outbound = { peer: `${a.host}:${a.port}`, route: `<${formatSipUri(uri)}>` };
    }
  }

  /**
   * The listener peers reach this proxy on: its Via says host:port and asks for rport (RFC 3261 §18.2.1, RFC 3581
   * §3), its Record-Route names it by that URI (§16.6 step 4), and a Route naming it is its own (§16.4).
   */
  listenOn(a: SipListenAddress): void {
    const host = a.host.includes(":") ? `[${a.host}]` : a.host;
    const protocol = a.transport.toLowerCase() as TransportProtocol;
    const name = { sentBy: `${host}:${a.port}`, recordRoute: recordRouteValue({ protocol, host: a.host, port: a.port }) };
    // The proxy core holds this object: its addresses are the peers' view of this role (§16.4), its transport
    // addresses for sends stay the role-named ones the driver resolves.
    const own = this.identity.addresses;
    const kept = own.filter((x) => x.port === 0 || x.protocol !== protocol);
    own.length = 0;
    own.push(...kept, { protocol, host: a.host, port: a.port });
    this.names.set(protocol, name);
    if (this.listener !== undefined && protocol !== this.protocol) return;
    this.recordRoute = name.recordRoute;
    this.listener = name;
  }

  /** The URI this proxy is reached at (its Record-Route without the angle brackets). */
  get sipUri(): string {
    return this.recordRoute.slice(1, -1);
  }

  /** Signs every COPS message with these keys (RFC 2748 §2.2.16); called before the node starts. */
  useCopsIntegrity(integrity: CopsIntegrityConfig): void {
    this.copsIntegrity = integrity;
    this.cops = this.makeLink();
  }

  private makeLink(): CopsPepLink {
    return new CopsPepLink(
      this.opts.pdp,
      { clientType: 0x8cb1, pepId: this.opts.host, localDecision: this.opts.localDecision ?? "fail-closed", openTimeoutMs: 2000, reconnectDelayMs: 500, ...(this.opts.random ? { random: this.opts.random } : {}), ...(this.copsIntegrity ? { integrity: this.copsIntegrity } : {}) },
      (m) => this.callIdOfCops(m),
      (e, now) => this.onCopsEvent(e, now),
    );
  }

  get activeCalls(): number {
    return this.calls.size;
  }

  /**
   * Branches and COPS handles from a source no earlier run of this role shared (its seed makes every start
   * alike): after a restart, no peer sees an identifier it still holds reused for another request.
   */
  drawFreshIdentifiers(): void {
    this.ids = new SipIds();
    this.cops.machine.startHandlesAt(randomInt(1, 0xffffffff));
  }

  /**
   * The roles' SIP hosts or host:port addresses (role → host): in-dialog requests of a call this proxy does not hold
   * (it restarted) follow their Route set, responses their Via.
   */
  setPeerHosts(hostsByRole: Readonly<Record<string, string>>): void {
    for (const [role, host] of Object.entries(hostsByRole)) this.peerByHost.set(host.toLowerCase(), role);
  }
  get copsRequestStates(): number {
    return this.cops.machine.openHandles;
  }
  get pendingTransactions(): number {
    return this.sip.pending;
  }

  handle(ev: NodeEvent): GenericNodeAction<CallEvent>[] {
    switch (ev.type) {
      case "start":
        if (ev.sip !== undefined) this.listenOn(ev.sip);
        for (const l of ev.sipListeners ?? []) if (l !== ev.sip) this.listenOn(l);
        if (ev.sipPeers !== undefined) {
          this.setPeerHosts(ev.sipPeers);
          this.peerAddresses = ev.sipPeers;
        }
        return this.cops.start(ev.now);
      case "deliver":
        if (ev.proto === "COPS") return ev.from === this.opts.pdp ? this.cops.deliver(ev.bytes, ev.now) : [];
        if (ev.proto === "SIP") return this.onSip(ev.bytes, ev.from, ev.now, ev.source, ev.arrival);
        return [];
      case "timer":
        if (this.sip.isTimer(ev.key)) return this.sip.timer(ev.key, ev.now);
        if (ev.key === WATCH_TIMER) return this.watch(ev.now);
        if (isCopsTimer(ev.key)) return this.cops.timer(splitCopsTimer(ev.key)[1], ev.now);
        return [];
      case "peer-down":
        return ev.peer === this.opts.pdp ? this.cops.peerDown(ev.now) : [];
      default:
        return [];
    }
  }

  // ---- SIP: the StatefulProxy's hooks ----

  private onSip(bytes: Buffer, from: string, now: number, source: { host: string; port: number } | undefined, arrival: SipArrival | undefined): NodeAction[] {
    this.receivingFrom = from;
    // RFC 5658 §4: a message on another transport than this proxy's own is known by that transport's address.
    const local = arrival === undefined || arrival.transport === this.protocol ? undefined : this.arrivalAddress(arrival.transport);
    // RFC 3581 §4: the top Via of a request gets where it came from before the proxy answers or forwards it.
    return this.sip.receive(bytes, from, now, source === undefined ? undefined : (req) => req.stampReceived(source), local).actions;
  }

  /** The role-named address of a transport (port 0: the driver resolves the peer), one object per transport. */
  private arrivalAddress(protocol: TransportProtocol): TransportAddress {
    let a = this.arrivalAddresses.get(protocol);
    if (a === undefined) {
      a = { protocol, host: this.opts.host, port: 0 };
      this.arrivalAddresses.set(protocol, a);
    }
    return a;
  }

  /** Runs proxy work at `now` and gives back what it sent. */
  private viaProxy(now: number, work: () => void): NodeAction[] {
    return this.sip.run(now, work);
  }

  private address(peer: string): TransportAddress {
    const a = this.sip.addressOfPeer(peer);
    const protocol = this.peerProtocols.get(peer);
    return protocol === undefined ? a : { ...a, protocol };
  }

  /** The request hook: every request the proxy core does not absorb (§16.3 checks passed, own Route removed). */
  private onProxyRequest(ctx: ProxyRequestContext): void {
    const now = this.sip.transactionClock.now();
    const from = ctx.source.source.host;
    const req = ctx.request;
    let out: NodeAction[];
    if (req.method === "ACK") out = this.onAck(ctx, from, now);
    // RFC 3261 §16.10: a CANCEL the proxy matched to no INVITE of a call it admitted.
    else if (req.method === "CANCEL") out = this.viaProxy(now, () => ctx.respond(481));
    // RFC 3261 §14: an INVITE inside a dialog (To tag) modifies the session; it is proxied as any in-dialog request.
    else if (req.method === "INVITE" && req.to.tag === undefined) out = this.onInvite(ctx, from, now);
    else out = this.onInDialogRequest(ctx, from, now);
    this.sip.emit(out);
  }

  /** The response hook: the INVITE's 1xx/2xx wait for DEC LDP (FIG. 5); everything else is relayed. */
  private onProxyResponse(ctx: ProxyRequestContext, res: SipResponse): "relay" | "hold" | "drop" {
    const role = ctx.userState as ContextRole | undefined;
    if (role === undefined || role.kind !== "setup") return "relay";
    const out: NodeAction[] = [];
    const verdict = this.inviteResponse(role.call, res, this.sip.transactionClock.now(), out);
    this.sip.emit(out);
    return verdict;
  }

  private onProxyForward(ctx: ProxyRequestContext, forwarded: SipRequest): void {
    const role = ctx.userState as ContextRole | undefined;
    if (role?.kind === "setup" && role.call.setup !== undefined) role.call.setup.forwarded = forwarded;
  }

  /** The final response the proxy sent upstream: the call's outcome (FIG. 5/6), or the end of an in-dialog request. */
  private onProxyFinal(ctx: ProxyRequestContext, res: SipResponse): void {
    const role = ctx.userState as ContextRole | undefined;
    if (role === undefined) return;
    const now = this.sip.transactionClock.now();
    const call = role.call;
    const out: NodeAction[] = [];
    if (role.kind === "setup") {
      if (res.status < 300) this.answered(call, res, now, out);
      else if (call.phase !== "done") {
        // Refused downstream, cancelled, or Timer C: this side's request state ends (RFC 2748 §3.4 DRQ).
        call.phase = "done";
        for (const a of this.endCops(call, now, res.status === 487 ? "cancelled" : "refused downstream")) out.push(a);
      }
    } else {
      const req = ctx.request;
      const pending = call.pendingChange;
      if (pending !== undefined && pending.ctx === ctx) {
        // §16.10: the re-INVITE held for policy was CANCELled and answered 487 by the proxy.
        pending.cancelled = true;
        out.push(this.step(call, "CANCEL of a re-INVITE held for REQ LDP"));
      } else if (res.status >= 200 && res.status < 300 && req.method === "PRACK" && req.body.length > 0 && call.prackAnswer !== undefined && role.from === call.upstream) {
        // RFC 3262 §5: the PRACK the callee took answered its 18x's offer; that is the session, and the policy follows.
        call.calleeSdp = call.prackAnswer;
        call.callerSdp = req.body.toString("utf8");
        call.prackAnswer = undefined;
        for (const a of this.settleMedia(call, now, "the PRACK answered the 18x's offer: REQ LDP")) out.push(a);
      } else if (res.status >= 200 && res.status < 300 && (req.method === "INVITE" || req.method === "UPDATE" || req.method === "PRACK") && req.body.length > 0 && res.body.length > 0) {
        // RFC 3264 §8: the offer and answer of a 2xx are the session from now on.
        const offer = req.body.toString("utf8");
        const answer = res.body.toString("utf8");
        if (role.from === call.upstream) {
          call.callerSdp = offer;
          call.calleeSdp = answer;
        } else {
          call.calleeSdp = offer;
          call.callerSdp = answer;
        }
        const before = call.mediaChanges;
        for (const a of this.settleMedia(call, now, "the answer changed the media: REQ LDP")) out.push(a);
        // An offer that looked like no change but was answered with other media is a change the peers made: it
        // fills the cap's window like one asked for (it cannot be refused now, the ends have agreed it).
        if (call.mediaChanges > before && !this.countedChanges.has(ctx)) (call.changeTimes ??= []).push(now);
      } else if (res.status >= 200 && res.status < 300 && req.method === "INVITE" && req.body.length === 0 && res.body.length > 0) {
        // RFC 3261 §14.1, RFC 3264 §5: a re-INVITE without an offer: the 2xx offers, the sender's ACK answers.
        call.ackAnswer = { by: role.from === call.upstream ? "caller" : "callee", offer: res.body.toString("utf8") };
      } else if (res.status >= 300 && (req.method === "INVITE" || req.method === "UPDATE" || (req.method === "PRACK" && req.body.length > 0))) {
        // RFC 3261 §14.1, RFC 3311 §5.2: a refused offer leaves the session as it was, and so must the policy be.
        for (const a of this.settleMedia(call, now, `${req.method} refused ${res.status}: REQ LDP back to the media in force`)) out.push(a);
      }
      if (req.method === "BYE") for (const a of this.byeFinished(call, now)) out.push(a);
    }
    this.sip.emit(out);
  }

  private onInvite(ctx: ProxyRequestContext, from: string, now: number): NodeAction[] {
    const req = ctx.request;
    // RFC 3261 §8.2.2.2: the same Call-ID again without a To tag on another transaction is a merged request.
    if (this.calls.has(req.callId)) return this.viaProxy(now, () => ctx.respond(482, "Loop Detected"));
    let proxyAuthorization: string | undefined;
    if (this.opts.challenge !== undefined) {
      const verdict = this.opts.challenge.check(now, req);
      if (verdict.kind !== "pass") return this.viaProxy(now, () => ctx.respond(verdict.status, verdict.reason, verdict.headers ?? []));
      proxyAuthorization = verdict.proxyAuthorization;
    }
    const handle = this.cops.machine.allocateHandle();
    const tokenText = req.getHeader(TOKEN_HEADER);
    const setup: ProxySetup = {
      invite: req, ctx, forwarded: undefined,
      offer: req.body.length > 0 ? req.body.toString("utf8") : undefined, answerSdp: undefined, held: undefined,
      caller: uriText(req.from.uri), callee: req.uri,
      token: tokenText !== undefined ? Buffer.from(tokenText, "base64") : undefined, proxyAuthorization, flows: undefined, flowsHaveAnswer: false, mediaFlows: undefined,
    };
    const call = new ProxyCall(ownString(req.callId), handle, from, this.outbound?.peer ?? this.opts.nextHop(req), setup);
    this.calls.set(call.callId, call);
    this.byHandle.set(handleId(handle), call);
    ctx.userState = { kind: "setup", call } satisfies ContextRole;
    const out = this.copsRequest(call, "AAA", now);
    out.push(this.step(call, "INVITE held for REQ AAA"));
    return out;
  }
  private copsRequest(call: ProxyCall, purpose: SipAaaPurposeName, now: number): NodeAction[] {
    const setup = call.setup;
    let data: Buffer;
    if (setup === undefined) {
      // After setup only REQ noLDP is sent; it names the flows the LDP request installed and, for the usage the
      // policy server reports, how long the call was connected here (2xx relayed to BYE).
      if (call.ldpClientSi === undefined) return [];
      // Never more than the authorised duration: the time limit is enforced by a check every 4·T1, not to the ms.
      data = call.answeredAt === undefined ? call.ldpClientSi : withConnectedMs(call.ldpClientSi, Math.max(0, Math.round(Math.min(now - call.answeredAt, call.limitMs ?? Infinity))));
    } else {
      // The flows are derived once from the offer and once more when the answer is known (RFC 3264 §6).
      if (setup.flows === undefined || (setup.answerSdp !== undefined && !setup.flowsHaveAnswer)) {
        const flows = setup.offer ? setupFlows(setup, setup.offer) : [];
        const cops: SipAaaMediaFlow[] = [];
        for (const f of flows) {
          const c = toCopsFlow(f);
          if (c !== undefined) cops.push(c);
        }
        setup.flows = cops;
        setup.flowsHaveAnswer = setup.answerSdp !== undefined;
      }
      const info: Parameters<typeof encodeSipAaaClientSi>[0] = { callId: call.callId, caller: setup.caller, callee: setup.callee, flows: setup.flows };
      if (setup.token && purpose === "AAA") {
        info.ospToken = setup.token;
        setup.token = undefined; // presented once to the PDP; the PEP machine keeps the REQ for resynchronisation
      }
      if (setup.proxyAuthorization !== undefined && purpose === "AAA") {
        info.proxyAuthorization = setup.proxyAuthorization;
        setup.proxyAuthorization = undefined;
      }
      data = encodeSipAaaClientSi(info);
      if (purpose !== "AAA") call.ldpClientSi = ownBytes(data); // kept until REQ noLDP
    }
    return this.cops.command({ type: "request", handle: call.handle, context: sipAaaContext(purpose), clientSi: [{ cType: 1, data }] }, now);
  }

  private forwardInvite(call: ProxyCall, token: Buffer | undefined, now: number): NodeAction[] {
    const setup = call.setup;
    if (!setup) return [];
    const req = setup.ctx.request;
    // The caller's token is not passed on; the one DEC AAA gave goes in its place (FIG. 5).
    req.removeHeader(TOKEN_HEADER);
    if (token !== undefined) req.addHeader(TOKEN_HEADER, token.toString("base64"), "bottom");
    if (this.outbound !== undefined) this.routeThroughOutbound(req, this.outbound.route, this.opts.nextHop(setup.invite));
    call.phase = "proceeding";
    return this.viaProxy(now, () => setup.ctx.forward([{ nextHop: this.address(call.downstream) }]));
  }

  /** RFC 3261 §16.6 step 7 (local policy): Route values for the outbound proxy and, after it, the next role. */
  private routeThroughOutbound(req: SipRequest, outboundRoute: string, nextRole: string): void {
    const address = this.peerAddresses[nextRole];
    const transport = this.opts.transport === undefined || this.opts.transport === "UDP" ? "" : `;transport=${this.opts.transport.toLowerCase()}`;
    const value = address === undefined ? outboundRoute : `${outboundRoute}, <sip:${address}${transport};lr>`;
    req.addHeader("Route", value, req.hasHeader("Route") ? "top" : "bottom");
  }

  /** Arms the proxy's one watch timer (unacknowledged 2xx, time limits) if it is not. */
  private watched(out: NodeAction[]): void {
    if (this.watching) return;
    this.watching = true;
    out.push({ type: "set-timer", key: WATCH_TIMER, delayMs: 4 * (this.opts.t1 ?? 500) });
  }

  /**
   * The per-call deadlines of the PEP, checked every 4·T1 by one timer instead of one timer per call and deadline
   * (which would cost every call timers for minutes): a 2xx left unacknowledged 64·T1 (§13.3.1.4), the authorised
   * duration (DEC AAA). Timer C and unanswered CANCELs are the proxy core's.
   */
  private watch(now: number): NodeAction[] {
    this.watching = false;
    const out: NodeAction[] = [];
    const t64 = 64 * (this.opts.t1 ?? 500);
    let more = false;
    const wait = this.opts.mediaChangeWaitMs ?? DEFAULT_MEDIA_CHANGE_WAIT_MS;
    for (const call of this.calls.values()) {
      if (call.settling > 0) {
        if (now - call.settlingSince >= wait) {
          // A settling DEC that never came: nothing waits on it any longer.
          call.settling = 1;
          out.push(...this.settled(call, { text: `no DEC LDP within ${wait} ms` }, now));
        } else more = true;
      }
      const pending = call.pendingChange;
      if (pending !== undefined) {
        if (now - pending.since >= wait) out.push(...this.onMediaChangeUnanswered(call, now));
        else more = true;
      }
      if (call.phase === "confirmed" && call.answeredAt !== undefined) {
        if (call.unacknowledged !== undefined && now - call.answeredAt >= t64) out.push(...this.onNoAck(call, now));
        else if (call.ends !== undefined && call.limitMs !== undefined && now - call.answeredAt >= call.limitMs) out.push(...this.onTimeLimit(call, now));
      }
      if (call.phase === "confirmed" && (call.unacknowledged !== undefined || call.ends !== undefined)) more = true;
    }
    if (more) this.watched(out);
    return out;
  }

  /**
   * DEC LDP never came for a held media change: the sender gets 504 with a Reason (RFC 3326) before its own
   * timeout, the old media stays, and the policy server is asked back to it (another REQ LDP, TLV 9), so a late
   * or lost DEC leaves no classifier for media nobody sends.
   */
  private onMediaChangeUnanswered(call: ProxyCall, now: number): NodeAction[] {
    const pending = call.pendingChange;
    if (pending === undefined) return [];
    call.pendingChange = undefined;
    if (pending.asked) call.authorisedFlows = pending.previous;
    // (a CANCELled one was answered 487 already: only the policy is put back)
    const out = pending.cancelled ? [] : this.viaProxy(now, () => pending.ctx.respond(504, undefined, [{ name: "Reason", value: 'SIP;cause=504;text="policy server did not answer"' }]));
    out.push(this.step(call, `${pending.ctx.method}: no DEC LDP for the media change within ${this.opts.mediaChangeWaitMs ?? DEFAULT_MEDIA_CHANGE_WAIT_MS} ms`));
    this.dropOnce("media-change-unanswered", `a media change on call ${call.callId} had no DEC LDP from ${this.opts.pdp}`, out);
    if (pending.asked && pending.previous !== undefined && call.ldp === "installed") {
      call.settling++; // the DEC still owed for the change itself
      out.push(...this.sendSettle(call, pending.previous, now, "REQ LDP back to the old media"));
    }
    return out;
  }

  private get changeLimit(): { changes: number; perMs: number } {
    return this.opts.mediaChangeLimit ?? DEFAULT_MEDIA_CHANGE_LIMIT;
  }

  /** The rate cap on a call's media changes: undefined when this one may go (and is counted), else seconds until one may. */
  private overMediaChangeLimit(call: ProxyCall, now: number): number | undefined {
    const wait = this.mediaChangeWindowFull(call, now);
    if (wait !== undefined) {
      this.refusedMediaChanges++;
      return wait;
    }
    call.changeTimes!.push(now);
    return undefined;
  }

  /** Seconds until the call's window of recent media changes has room, or undefined when it has room now. */
  private mediaChangeWindowFull(call: ProxyCall, now: number): number | undefined {
    const { changes, perMs } = this.changeLimit;
    const times = (call.changeTimes ??= []);
    while (times.length > 0 && now - times[0]! >= perMs) times.shift();
    return times.length >= changes ? Math.max(1, Math.ceil((times[0]! + perMs - now) / 1000)) : undefined;
  }

  /** Logs a cause once per proxy (its count goes on in refusedMediaChanges / unansweredMediaChanges). */
  private dropOnce(cause: string, message: string, out: NodeAction[]): void {
    if (cause === "media-change-unanswered") this.unansweredMediaChanges++;
    if (this.loggedCauses.has(cause)) return;
    this.loggedCauses.add(cause);
    out.push({ type: "emit", event: { type: "error", role: this.name, message: `${cause}: ${message} (logged once)` } });
  }

  /** A request this PEP originates as an end of the dialog (BYE, ACK), sent by the proxy core with its own Via. */
  private originate(peer: string, request: SipRequest, now: number): NodeAction[] {
    return this.viaProxy(now, () => this.proxy.sendRequest(request, this.address(peer)));
  }

  /**
   * The authorised duration is over (or the caller went away and nobody hangs up): BYE to both ends, policy
   * released and usage reported as for any BYE.
   */
  private onTimeLimit(call: ProxyCall, now: number): NodeAction[] {
    const ends = call.ends;
    if (ends === undefined) return [];
    call.ends = undefined;
    call.phase = "ending";
    const bye = (uri: string, from: string, to: string, cseq: number, peer: string): NodeAction[] =>
      this.originate(peer, buildRequest({ method: "BYE", uri, from, to, callId: call.callId, cseq, maxForwards: 70 }), now);
    // The addresses of record are in the LDP ClientSI this proxy keeps for REQ noLDP; the tags name the dialog.
    const aors = call.ldpClientSi === undefined ? undefined : decodeSipAaaClientSi(call.ldpClientSi);
    const out: NodeAction[] = [];
    if (aors?.caller !== undefined && aors.callee !== undefined) {
      const caller = `<${aors.caller}>;tag=${ends.callerTag}`;
      const callee = `<${aors.callee}>;tag=${ends.calleeTag}`;
      for (const a of bye(aors.callee, caller, callee, ends.callerCseq + 1, call.downstream)) out.push(a);
      for (const a of bye(aors.caller, callee, caller, 1, call.upstream)) out.push(a);
    }
    out.push(this.step(call, "time limit reached: BYE to both ends"));
    if (call.ldp === "installed") {
      call.releasing = true;
      out.push(...this.copsRequest(call, "noLDP", now));
    } else out.push(...this.endCops(call, now, "time limit"));
    call.byeDone = true;
    out.push(...this.maybeForget(call, now));
    return out;
  }

  /** A response to the call's INVITE (its top Via off): relayed, held for DEC LDP, or dropped once refused. */
  private inviteResponse(call: ProxyCall, res: SipResponse, now: number, out: NodeAction[]): "relay" | "hold" | "drop" {
    if (call.phase === "done") return "drop";
    if (res.status < 200 && !res.hasHeader("RSeq")) {
      // The same provisional again (the next hop answered a retransmitted INVITE, §17.2.1) is not relayed twice.
      // A reliable one (RFC 3262 §3) is retransmitted by the UAS until PRACKed: each copy goes on.
      const seen = `${res.status} ${res.to.tag ?? ""}`;
      if (seen === call.lastProvisional) return "drop";
      call.lastProvisional = seen;
    }
    if (res.status >= 300) return "relay"; // a refusal travels back; onProxyFinal ends the request state
    const setup = call.setup;
    if (setup !== undefined && res.body.length > 0 && setup.answerSdp === undefined && setup.earlyOffer === undefined) {
      if (setup.offer === undefined && res.status < 200 && res.hasHeader("RSeq")) {
        // RFC 3262 §5: no offer in the INVITE, so the first reliable 18x offers; the caller's PRACK will answer.
        setup.earlyOffer = res.body.toString("utf8");
        call.prackAnswer = setup.earlyOffer;
      } else setup.answerSdp = res.body.toString("utf8");
    }
    if (res.status >= 200) call.phase = "answered";
    if (call.ldp === "installed") return "relay";
    if (call.ldp === "refused" || setup === undefined) return "drop";
    if (setup.held === undefined) setup.held = [res];
    else setup.held.push(res);
    if (call.ldp === "none") {
      call.ldp = "requested";
      for (const a of this.copsRequest(call, "LDP", now)) out.push(a);
      out.push(this.step(call, `${res.status} held for REQ LDP`));
    }
    return "hold";
  }

  /** The 2xx went upstream: the dialog is up, only what in-dialog requests and teardown need stays. */
  private answered(call: ProxyCall, res: SipResponse, now: number, out: NodeAction[]): void {
    const setup = call.setup;
    if (setup === undefined) return;
    call.phase = "confirmed";
    call.answeredAt = now;
    // REQ noLDP reuses the LDP ClientSI.
    call.setup = undefined;
    if (call.mediaChanges === 0 && setup.earlyOffer === undefined) {
      // No UPDATE changed the media in the early dialog: the session is the INVITE's offer and answer.
      call.callerSdp = setup.offer;
      call.calleeSdp = setup.answerSdp;
      call.authorisedFlows = setupSortedFlows(setup);
      // RFC 3261 §13.2.1: an INVITE without an offer: the 2xx offers, the caller's ACK answers.
      if (setup.offer === undefined && setup.answerSdp !== undefined) call.ackAnswer = { by: "caller", offer: setup.answerSdp };
    }
    if (setup.forwarded !== undefined) {
      // RFC 3261 §13.3.1.4: a 2xx never acknowledged within 64·T1 ends the session (BYE).
      call.unacknowledged = { forwarded: setup.forwarded, ok: res };
      if (call.limitMs !== undefined) call.ends = { callerTag: ownString(setup.forwarded.from.tag ?? ""), calleeTag: ownString(res.to.tag ?? ""), callerCseq: setup.forwarded.cseq.seq };
      this.watched(out);
    }
  }

  /**
   * Where a response no transaction claims goes (RFC 3261 §16.7: a 2xx retransmission after the INVITE transaction
   * ended): to the other end of its call; for a call this proxy does not hold (it restarted since the request
   * passed), to the role its next Via names, as a stateless proxy would (§16.11); else nowhere.
   */
  private strayResponseTarget(res: SipResponse): TransportAddress | "drop" | undefined {
    const call = this.calls.get(res.callId);
    const from = this.receivingFrom;
    if (call !== undefined) {
      if (res.status < 200 || res.status >= 300 || call.ldp !== "installed") return "drop";
      if (from === call.upstream) return this.address(call.downstream); // the caller's 2xx to a callee's re-INVITE
      return from === call.downstream ? this.address(call.upstream) : "drop";
    }
    if (this.peerByHost.size === 0) return "drop";
    try {
      const next = res.getHeaders("Via")[1] ?? res.getHeaders("Via")[0]?.split(",")[1];
      const via = next === undefined ? undefined : parseViaValue(next)[0];
      const host = via?.host.toLowerCase();
      const to = host === undefined ? undefined : ((via?.port !== undefined ? this.peerByHost.get(`${host}:${via.port}`) : undefined) ?? this.peerByHost.get(host));
      return to === undefined || to === this.name ? "drop" : this.address(to);
    } catch {
      return "drop"; // a Via that does not parse: nowhere to send it
    }
  }

  private onAck(ctx: ProxyRequestContext, from: string, now: number): NodeAction[] {
    const ack = ctx.request;
    const call = this.calls.get(ack.callId);
    if (!call) {
      const to = this.routeTarget(ack);
      return to === undefined ? [] : this.viaProxy(now, () => ctx.forward([{ nextHop: this.address(to) }]));
    }
    const to = from === call.upstream ? call.downstream : call.upstream;
    call.unacknowledged = undefined;
    const out = this.viaProxy(now, () => ctx.forward([{ nextHop: this.address(to) }]));
    const late = call.ackAnswer;
    if (late !== undefined && ack.body.length > 0 && from === (late.by === "caller" ? call.upstream : call.downstream)) {
      // The ACK goes on at once (it has no transaction to hold); the policy follows its answer (RFC 3264 §6).
      call.ackAnswer = undefined;
      const answer = ack.body.toString("utf8");
      call.callerSdp = late.by === "caller" ? answer : late.offer;
      call.calleeSdp = late.by === "caller" ? late.offer : answer;
      for (const a of this.settleMedia(call, now, "the ACK answered the 2xx's offer: REQ LDP")) out.push(a);
    }
    return out;
  }

  /** No ACK for the relayed 2xx (the caller's side lost it, or lost its state): the callee is sent BYE, the policy released. */
  private onNoAck(call: ProxyCall, now: number): NodeAction[] {
    const pending = call.unacknowledged;
    if (pending === undefined) return [];
    call.unacknowledged = undefined;
    call.phase = "ending";
    const out = this.hangUp(call, pending.forwarded, pending.ok, now);
    out.push(this.step(call, "no ACK for the 2xx within 64*T1: BYE to the callee"));
    if (call.ldp === "installed") {
      call.releasing = true;
      out.push(...this.copsRequest(call, "noLDP", now));
    } else out.push(...this.endCops(call, now, "no ACK"));
    call.byeDone = true;
    out.push(...this.maybeForget(call, now));
    return out;
  }

  /**
   * The next hop of a request whose call this proxy does not hold (it restarted since): the top Route once this
   * proxy's own is taken off, else the Request-URI (RFC 3261 §16.4, §16.6 steps 6-7); undefined when it names no
   * known role.
   */
  private routeTarget(req: SipRequest): string | undefined {
    try {
      const next = req.route[0]; // this proxy's own Route values are gone already (§16.4)
      const uri = next === undefined ? parseSipUri(req.uri) : typeof next.uri === "string" ? undefined : next.uri;
      if (uri === undefined || isLocalUri(uri, this.identity)) return undefined;
      const host = uri.host.toLowerCase();
      const role = (uri.port !== undefined ? this.peerByHost.get(`${host}:${uri.port}`) : undefined) ?? this.peerByHost.get(host);
      return role === this.name ? undefined : role;
    } catch {
      return undefined; // an unreadable Route or Request-URI: the request is answered 481 like any unknown call
    }
  }

  private onInDialogRequest(ctx: ProxyRequestContext, from: string, now: number): NodeAction[] {
    const req = ctx.request;
    const call = this.calls.get(req.callId);
    if (!call) {
      const to = this.routeTarget(req);
      // RFC 3261 §11: an OPTIONS outside a dialog for this proxy itself is answered with its capabilities.
      if (req.method === "OPTIONS" && req.to.tag === undefined && (to === undefined || this.addressedToSelf(req))) {
        return this.viaProxy(now, () => ctx.respond(200, undefined, [{ name: "Allow", value: PROXY_ALLOW }, { name: "Supported", value: PROXY_SUPPORTED }]));
      }
      // RFC 3428 §7: a MESSAGE outside a dialog is routed like a new request, to this proxy's next hop (no media, no policy).
      const target = req.method === "MESSAGE" && req.to.tag === undefined && req.route.length === 0 ? (this.outbound?.peer ?? this.opts.nextHop(req)) : to;
      // RFC 3261 §16.6: forwarded along its Route set, the response relayed back; no call state is made.
      return target === undefined ? this.viaProxy(now, () => ctx.respond(481)) : this.viaProxy(now, () => ctx.forward([{ nextHop: this.address(target) }]));
    }
    // A re-INVITE, or an UPDATE in the confirmed or early dialog (RFC 3311 §5.1), that offers SDP once the
    // policy for the call is in place: asked for again like the setup's (REQ LDP, TLV 9).
    const early = call.phase === "proceeding" || call.phase === "answered";
    // RFC 3262 §5: a PRACK with SDP that answers no 18x's offer makes a new offer, policed like an early UPDATE's.
    const prackOffer = req.method === "PRACK" && call.prackAnswer === undefined;
    if ((req.method === "INVITE" || req.method === "UPDATE" || prackOffer) && req.body.length > 0 && (call.phase === "confirmed" || (early && req.method !== "INVITE")) && call.ldp === "installed" && call.ldpClientSi !== undefined) {
      if (call.pendingChange !== undefined) {
        // RFC 3261 §14.2 / RFC 3311 §5.2: one offer at a time
        return this.viaProxy(now, () => ctx.respond(req.method === "INVITE" ? 491 : 500, undefined, req.method === "INVITE" ? [] : [{ name: "Retry-After", value: "1" }]));
      }
      // A full rate window refuses every offer: one that looks like no change may still be answered with new media.
      const wait = this.mediaChangeWindowFull(call, now);
      if (wait !== undefined) return this.refuseForRate(call, ctx, from, wait, now);
      const changed = call.settling > 0 ? undefined : this.mediaChange(call, req, from);
      if (changed !== undefined || call.settling > 0) {
        // The request is held until the PDP agrees to the new flows (REQ LDP update, TLV 9); while a settling
        // update is under way, until that is decided and the offer can be judged against the policy in force.
        call.pendingChange = { ctx, from, previous: call.authorisedFlows, since: now, asked: false };
        ctx.userState = { kind: "in-dialog", call, from } satisfies ContextRole;
        if (changed !== undefined) return this.askMediaChange(call, now, changed);
        const out = [this.step(call, `${req.method} held until the policy server has settled the media`)];
        this.watched(out);
        return out;
      }
    } else if (req.method === "INVITE" && req.body.length === 0 && call.phase === "confirmed" && call.ldp === "installed") {
      // RFC 3261 §14.1: a re-INVITE without an offer asks the far end for one; the sender's ACK answers it and the
      // policy follows that answer. It is a change the peer asked for, so it counts toward the cap here, where it can
      // still be refused.
      const refused = this.overMediaChangeLimit(call, now);
      if (refused !== undefined) return this.refuseForRate(call, ctx, from, refused, now, false);
      this.countedChanges.add(ctx);
    }
    return this.forwardInDialog(call, ctx, from, now);
  }

  /** 503 with Retry-After to an offer (or a request for one) over the call's media-change cap; counted, logged once. */
  private refuseForRate(call: ProxyCall, ctx: ProxyRequestContext, from: string, retryAfterS: number, now: number, count = true): NodeAction[] {
    if (count) this.refusedMediaChanges++;
    const method = ctx.request.method;
    const out = this.viaProxy(now, () => ctx.respond(503, undefined, [{ name: "Retry-After", value: String(retryAfterS) }, { name: "Reason", value: 'SIP;cause=503;text="too many media changes"' }]));
    out.push(this.step(call, `${method} refused 503: too many media changes (retry after ${retryAfterS} s)`));
    this.dropOnce("media-change-rate", `${method} from ${from} refused: more than ${this.changeLimit.changes} media changes in ${this.changeLimit.perMs} ms on call ${call.callId}`, out);
    return out;
  }

  /** The held offer goes to the PDP (REQ LDP, TLV 9), or on at once when it changes nothing after all. */
  private askMediaChange(call: ProxyCall, now: number, changed?: MediaFlow[]): NodeAction[] {
    const pending = call.pendingChange!;
    if (pending.cancelled) {
      call.pendingChange = undefined; // answered 487 while it waited; nothing was asked
      return [];
    }
    const req = pending.ctx.request;
    const flows = changed ?? this.mediaChange(call, req, pending.from);
    if (flows === undefined) {
      call.pendingChange = undefined;
      return this.forwardInDialog(call, pending.ctx, pending.from, now);
    }
    const refused = this.overMediaChangeLimit(call, now);
    if (refused !== undefined) {
      call.pendingChange = undefined;
      return this.refuseForRate(call, pending.ctx, pending.from, refused, now, false);
    }
    this.countedChanges.add(pending.ctx);
    pending.asked = true;
    pending.previous = call.authorisedFlows;
    pending.since = now;
    call.mediaChanges++;
    const out = this.copsMediaChange(call, flows, now);
    out.push(this.step(call, `${req.method} held for REQ LDP (media change ${call.mediaChanges})`));
    this.watched(out);
    return out;
  }

  /** Whether the Request-URI names this proxy (RFC 3261 §16.4 identity) or carries no user part. */
  private addressedToSelf(req: SipRequest): boolean {
    try {
      const uri = parseSipUri(req.uri);
      return uri.user === undefined || uri.user === "" || isLocalUri(uri, this.identity);
    } catch {
      return false;
    }
  }

  /**
   * The flows a new offer from `from` would carry, in the caller's view, when they differ from those in force:
   * the offer against the other end's last description (the answer is not known before forwarding).
   */
  private mediaChange(call: ProxyCall, req: SipRequest, from: string): MediaFlow[] | undefined {
    const offer = req.body.toString("utf8");
    const fromCaller = from === call.upstream;
    const current = call.authorisedFlows;
    const other = fromCaller ? call.calleeSdp : call.callerSdp;
    if (current === undefined || other === undefined) return undefined;
    let next: MediaFlow[];
    try {
      // RFC 3264 §6.1: the answerer may send and receive as far as the offer lets it
      const answer = willingAnswerer(other);
      next = fromCaller ? mediaFlows(offer, answer) : mediaFlows(offer, answer).map(flipDirection);
    } catch {
      return undefined; // an offer that does not parse: the far end refuses it (488), no policy is asked for
    }
    next = sortedFlows(next);
    return sameMediaFlows(current, next) ? undefined : next;
  }

  private copsMediaChange(call: ProxyCall, flows: MediaFlow[], now: number): NodeAction[] {
    const prior = decodeSipAaaClientSi(call.ldpClientSi!);
    const cops: SipAaaMediaFlow[] = [];
    for (const f of flows) {
      const c = toCopsFlow(f);
      if (c !== undefined) cops.push(c);
    }
    const info: Parameters<typeof encodeSipAaaClientSi>[0] = { callId: call.callId, flows: cops };
    if (prior.caller !== undefined) info.caller = prior.caller;
    if (prior.callee !== undefined) info.callee = prior.callee;
    const data = encodeSipAaaClientSi({ ...info, mediaChange: call.mediaChanges });
    call.ldpClientSi = ownBytes(encodeSipAaaClientSi(info)); // REQ noLDP names the flows in force
    call.authorisedFlows = flows;
    return this.cops.command({ type: "request", handle: call.handle, context: sipAaaContext("LDP"), clientSi: [{ cType: 1, data }] }, now);
  }

  /**
   * The session as last agreed (RFC 3264 §8) has other flows than the policy in force: an answer made other flows
   * than those authorised before forwarding, an ACK answered a 2xx's offer, or the peer refused a change the PDP
   * had installed. The PDP is told (another TLV 9 update); one such update at a time.
   */
  private settleMedia(call: ProxyCall, now: number, why: string): NodeAction[] {
    if (call.callerSdp === undefined || call.pendingChange?.asked || call.ldpClientSi === undefined || call.ldp !== "installed" || call.phase === "ending" || call.phase === "done") return [];
    if (call.settling > 0) {
      call.resettle = true;
      return [];
    }
    let actual: MediaFlow[];
    try {
      actual = sortedFlows(mediaFlows(call.callerSdp, call.calleeSdp));
    } catch {
      return [];
    }
    if (call.authorisedFlows !== undefined && sameMediaFlows(call.authorisedFlows, actual)) return [];
    return this.sendSettle(call, actual, now, why);
  }

  /** A REQ LDP update (TLV 9) that holds no request: its DEC is counted in, not taken for a held change's. */
  private sendSettle(call: ProxyCall, flows: MediaFlow[], now: number, why: string): NodeAction[] {
    call.mediaChanges++;
    call.settling++;
    call.settlingSince = now;
    const out = this.copsMediaChange(call, flows, now);
    out.push(this.step(call, `${why} (media change ${call.mediaChanges})`));
    this.watched(out);
    return out;
  }

  /** A settling update was decided (or its wait ran out): what waited for it goes on. */
  private settled(call: ProxyCall, refusal: { text: string } | undefined, now: number): NodeAction[] {
    call.settling = Math.max(0, call.settling - 1);
    const out: NodeAction[] = [];
    if (refusal !== undefined) {
      out.push(this.step(call, `the policy server did not follow the media: ${refusal.text}`));
      this.dropOnce("media-settle-refused", `the policy of call ${call.callId} could not follow its media (${refusal.text})`, out);
    }
    if (call.settling > 0) return out;
    if (call.resettle) {
      call.resettle = false;
      for (const a of this.settleMedia(call, now, "the session changed meanwhile: REQ LDP")) out.push(a);
      if (call.settling > 0) return out;
    }
    if (call.pendingChange !== undefined && !call.pendingChange.asked) for (const a of this.askMediaChange(call, now)) out.push(a);
    return out;
  }

  /** DEC LDP on a held media change: forwarded (yes), or 488 upstream with the old media left in place (no). */
  private onMediaChangeDecision(call: ProxyCall, allowed: boolean, reason: { code: number; text: string } | undefined, now: number): NodeAction[] {
    const pending = call.pendingChange!;
    call.pendingChange = undefined;
    if (pending.cancelled) {
      // The re-INVITE was cancelled while the PDP decided: the media stays as it was, and so must the policy.
      if (!allowed || pending.previous === undefined) {
        call.authorisedFlows = pending.previous;
        return [];
      }
      return this.sendSettle(call, pending.previous, now, "re-INVITE cancelled: REQ LDP back to the old media");
    }
    if (allowed) return this.forwardInDialog(call, pending.ctx, pending.from, now);
    call.authorisedFlows = pending.previous;
    const text = reason?.text ?? "media change not authorised";
    const out = this.viaProxy(now, () => pending.ctx.respond(488, undefined, [{ name: "Reason", value: `SIP;cause=488;text="${text}"` }]));
    out.push(this.step(call, `${pending.ctx.method} refused 488: ${text}`));
    return out;
  }

  /** RFC 3261 §16.6-16.7: an in-dialog request forwarded to the other end by the proxy, its responses relayed back. */
  private forwardInDialog(call: ProxyCall, ctx: ProxyRequestContext, from: string, now: number): NodeAction[] {
    const req = ctx.request;
    const to = from === call.upstream ? call.downstream : call.upstream;
    ctx.userState = { kind: "in-dialog", call, from } satisfies ContextRole;
    const out = this.viaProxy(now, () => ctx.forward([{ nextHop: this.address(to) }]));
    if (call.ends !== undefined && from === call.upstream) call.ends.callerCseq = Math.max(call.ends.callerCseq, req.cseq.seq);
    if (req.method === "BYE" && call.phase !== "ending" && call.phase !== "done") {
      call.phase = "ending";
      call.ends = undefined;
      out.push(this.step(call, `BYE from ${from}`));
      const held = call.pendingChange;
      if (held !== undefined) {
        // RFC 3261 §15.1.2: a request still pending when the dialog ends gets 487
        call.pendingChange = undefined;
        out.push(...this.viaProxy(now, () => held.ctx.respond(487)));
      }
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
    if ("handle" in m && m.handle) return this.byHandle.get(handleId(m.handle))?.callId ?? "";
    return "";
  }

  private onCopsEvent(e: CopsPepEvent, now: number): NodeAction[] {
    switch (e.type) {
      case "decision": {
        const call = this.byHandle.get(handleId(e.handle));
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
        // The authorised duration (the clearinghouse's time limit, FIG. 5 DEC AAA): this PEP ends the call when it is up.
        if (purpose === "AAA" && parsed.allowed && parsed.info.timeLimitSeconds !== undefined) call.limitMs = parsed.info.timeLimitSeconds * 1000;
        out.push(...this.onDecision(call, purpose, parsed.allowed, parsed.info.token, reason, now));
        return out;
      }
      case "local-decision": {
        const call = this.byHandle.get(handleId(e.handle));
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
        if (call.settling > 0 && call.ldp === "installed") return this.settled(call, allowed ? undefined : { text: reason?.text ?? "refused" }, now);
        if (call.pendingChange?.asked && call.ldp === "installed") return this.onMediaChangeDecision(call, allowed, reason, now);
        if (call.ldp !== "requested") return [];
        if (!allowed) {
          call.ldp = "refused";
          return this.refuseAfterForward(call, sipStatusOf(reason, 503), reason?.text ?? "QoS policy not installed", now);
        }
        call.ldp = "installed";
        const out: NodeAction[] = [];
        const setup = call.setup;
        if (setup !== undefined) {
          // The session so far (RFC 3264 §8): an UPDATE in the early dialog is judged against it.
          call.callerSdp = setup.offer;
          call.calleeSdp = setup.answerSdp;
          call.authorisedFlows = setupSortedFlows(setup);
        }
        const held = call.setup?.held;
        if (held !== undefined) {
          const ctx = call.setup!.ctx;
          call.setup!.held = undefined;
          for (const res of held) for (const a of this.viaProxy(now, () => ctx.release(res))) out.push(a);
        }
        return out;
      }
      case "noLDP":
        if (!call.releasing) return [];
        call.releasing = false;
        call.ldp = "none";
        return this.endCops(call, now, "call over");
    }
  }

  /**
   * Refuse the INVITE (FIG. 5 branch "DEC AAA no", or a policy that could not be installed): 403/503 with a Reason
   * (RFC 3326) upstream; a forwarded INVITE's branch is CANCELled by the proxy core.
   */
  private refuse(call: ProxyCall, status: number, text: string, now: number): NodeAction[] {
    const setup = call.setup;
    const out: NodeAction[] = [];
    const wasDone = call.phase === "done";
    call.phase = "done";
    if (setup !== undefined && !wasDone) {
      setup.held = undefined;
      out.push(...this.viaProxy(now, () => setup.ctx.abandon(status, undefined, [{ name: "Reason", value: `SIP;cause=${status};text="${text}"` }])));
    }
    out.push(...this.endCops(call, now, text));
    return out;
  }

  /** The call was forwarded but a policy could not be installed: refuse upstream, cancel (or hang up) downstream. */
  private refuseAfterForward(call: ProxyCall, status: number, text: string, now: number): NodeAction[] {
    const setup = call.setup;
    const answered = setup?.held?.find((r) => r.status >= 200 && r.status < 300);
    const out: NodeAction[] = [];
    if (answered && setup?.forwarded) out.push(...this.hangUp(call, setup.forwarded, answered, now));
    out.push(...this.refuse(call, status, text, now));
    return out;
  }

  /** ACK and BYE to the callee of a forwarded INVITE its 2xx answered (RFC 3261 §15). */
  private hangUp(call: ProxyCall, fwd: SipRequest, ok: SipResponse, now: number): NodeAction[] {
    const contact = ok.contact;
    const target = contact !== "*" && contact[0] && contact[0].uri ? uriText(contact[0].uri) : fwd.uri;
    const base = { uri: target, from: fwd.getHeader("From") ?? "", to: ok.getHeader("To") ?? "", callId: call.callId };
    const out = this.originate(call.downstream, buildRequest({ ...base, method: "ACK", cseq: fwd.cseq.seq }), now);
    for (const a of this.originate(call.downstream, buildRequest({ ...base, method: "BYE", cseq: fwd.cseq.seq + 1 }), now)) out.push(a);
    return out;
  }

  /** RFC 2748 §3.4: the request state ends with DRQ. */
  private endCops(call: ProxyCall, now: number, why: string): NodeAction[] {
    const key = handleId(call.handle);
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
    call.handle = NO_HANDLE;
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

const NO_HANDLE = Buffer.alloc(0);
/** What this proxy forwards (RFC 3261 §20.5), answered to OPTIONS. */
const PROXY_ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, INFO, MESSAGE";
/** RFC 3261 §20.37: no option-tag of its own (Proxy-Require gets 420 for any, §16.3 step 5); UA extensions pass through. */
const PROXY_SUPPORTED = "";

/** A flow seen from the other end's offer: the directions named from the caller's side again. */
function flipDirection(f: MediaFlow): MediaFlow {
  return { ...f, direction: f.direction === "caller-to-callee" ? "callee-to-caller" : "caller-to-callee" };
}

/** The other end's last description as an answer that goes along with any direction offered (RFC 3264 §6.1). */
function willingAnswerer(sdp: string): string {
  return sdp.replace(/^a=(sendonly|recvonly|inactive)\r?$/gm, "a=sendrecv");
}

/** The flows of a setup's offer and its answer so far (the offer is set once): derived again only for a new answer. */
function setupFlows(setup: ProxySetup, offer: string): MediaFlow[] {
  const known = setup.mediaFlows;
  if (known !== undefined && known.answer === setup.answerSdp) return known.flows;
  const flows = mediaFlows(offer, setup.answerSdp);
  setup.mediaFlows = { answer: setup.answerSdp, flows, sorted: undefined };
  return flows;
}

/**
 * A setup's offer and answer as flows in one order, or undefined without an offer or when the SDP does not parse:
 * the flows REQ AAA / LDP carried, sorted once (flow arrays are never changed in place).
 */
function setupSortedFlows(setup: ProxySetup): MediaFlow[] | undefined {
  if (setup.offer === undefined) return undefined;
  let flows: MediaFlow[];
  try {
    flows = setupFlows(setup, setup.offer);
  } catch {
    return undefined;
  }
  return (setup.mediaFlows!.sorted ??= sortedFlows(flows));
}

function flowKey(f: MediaFlow): string {
  return `${f.media} ${f.direction} ${f.src.address}:${f.src.port} ${f.dst.address}:${f.dst.port}`;
}

/** Flows in one order whoever offered them, so sameMediaFlows compares like with like (stable: equal keys keep their order). */
function sortedFlows(flows: MediaFlow[]): MediaFlow[] {
  if (flows.length < 2) return flows.slice();
  if (flows.length === 2) return flowKey(flows[1]!) < flowKey(flows[0]!) ? [flows[1]!, flows[0]!] : flows.slice();
  const keyed = flows.map((f) => ({ f, key: flowKey(f) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map((k) => k.f);
}
const WATCH_TIMER = "proxy-watch";
const DEFAULT_MEDIA_CHANGE_WAIT_MS = 10_000;
const DEFAULT_MEDIA_CHANGE_LIMIT = { changes: 10, perMs: 60_000 };
/** RFC 3261 §16.6 step 11: Timer C is larger than 3 minutes. */
const DEFAULT_TIMER_C_MS = 181_000;

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


/**
 * RFC 3261 §18.2.1, RFC 3581 §4: the top Via of a request received from `source` gets received (and rport when
 * asked), so responses and the next hops' records name where the request really came from.
 */
