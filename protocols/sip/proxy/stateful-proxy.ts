// RFC 3261 §16: a transaction-stateful proxy core. It is the transaction user of a TransactionLayer and
// never touches sockets; an application hook decides per request (forward / respond / hold).
import { buildResponse, generateTag } from "../codec/message-builders.js";
import { loopDetectionHash, proxyBranch } from "./proxy-loop-detection.js";
import {
  isLocalUri,
  nextHopOf,
  postprocessStrictRoute,
  preprocessRoute,
  recordRouteValue,
  type ProxyIdentity,
} from "./proxy-routing.js";
import type { ProxyDecision, ProxyHook, ProxyObserver, ProxyRequestContext, ProxyResponseHook, ProxyTarget } from "./proxy-types.js";
import { validateProxyRequest } from "./proxy-validation.js";
import { SipRequest, type SipHeader, type SipResponse } from "../codec/sip-message.js";
import { systemClock, type TransactionClock } from "../transaction/transaction-clock.js";
import type { ClientTransaction, ClientTransactionCallbacks, ServerTransaction, TransactionLayer, TransactionUser } from "../transaction/transaction-layer.js";
import type { TerminationReason } from "../transaction/transaction-types.js";
import { defaultPort, protocolFromViaTransport, viaTransportToken, type InboundContext, type TransportAddress } from "../transport/transport-types.js";

/** Transaction layer, identity, hook, observer, Record-Route and Timer C of a StatefulProxy. */
export interface StatefulProxyOptions {
  transactions: TransactionLayer;
  identity: ProxyIdentity;
  /** Decides what to do with each request; without one, requests are routed by Route / Request-URI. */
  hook?: ProxyHook;
  observer?: ProxyObserver;
  /** §16.6 step 4: insert Record-Route in dialog-creating requests (default true). */
  recordRoute?: boolean;
  /** Option tags accepted in Proxy-Require (§16.3 step 5). */
  supportedExtensions?: string[];
  /** Clock for Timer C; use the transaction layer's clock. */
  clock?: TransactionClock;
  /** Timer C (§16.6 step 11), > 3 min by default. */
  timerC?: number;
  /** T1 of the transaction layer: a CANCELled branch with no final response after 64·T1 counts as ended (§9.1). */
  t1?: number;
  /** RFC 3581 §3: this proxy's Via asks for rport (a function: asked per request). */
  rport?: boolean | (() => boolean);
  /** How this proxy names itself on a local address: its Via sent-by and Record-Route value (default: the address). */
  selfName?: (local: TransportAddress) => { sentBy: string; recordRoute: string };
  /** The unique part of each Via branch beside the loop hash (default: a random salt and a counter). */
  branchPrefix?: () => string;
  /** To tag of the responses the proxy makes itself (default random). */
  newTag?: () => string;
  /**
   * §16.7 step 6 (SHOULD): a 503 is passed on as 500, since it would tell upstream this proxy serves nothing. Set
   * where a 503 speaks of the one request (a policy that refused the call, with its Reason, RFC 3326).
   */
  relay503?: boolean;
  /** Judges each response of a branch before it is relayed: relay (default), hold for `release`, or drop. */
  responseHook?: ProxyResponseHook;
  /**
   * Where a response that no client transaction claims goes: an address, "drop", or undefined for its next Via
   * (§18.2.2, the default).
   */
  strayResponseTarget?: (response: SipResponse) => TransportAddress | "drop" | undefined;
}

// Methods that create dialogs and so get Record-Route (RFC 3261 §12, RFC 6665, RFC 3515).
const DIALOG_CREATING = new Set(["INVITE", "SUBSCRIBE", "REFER", "NOTIFY"]);

interface Branch {
  index: number;
  request: SipRequest;
  destination: TransportAddress;
  transaction: ClientTransaction | undefined;
  final: SipResponse | undefined;
  provisional: boolean;
  cancelWanted: boolean;
  cancelSent: boolean;
  /** Timer C's handle: one timer per branch, re-armed on firing while provisionals moved its deadline. */
  timerC: unknown;
  /** When Timer C is due: set at forwarding, moved by each provisional (§16.7 step 2). */
  timerCDue: number;
  /** Timer C fired on this branch: if its CANCEL stays unanswered the branch counts as a 408, not a 487. */
  timedOut: boolean;
  /** 64·T1 from the CANCEL (§9.1). */
  cancelTimer: unknown;
  /** The response hook dropped this branch's final response: it is never chosen (the application answers). */
  dropped: boolean;
}

class RequestContext implements ProxyRequestContext {
  private abortController: AbortController | undefined;
  readonly branches: Branch[] = [];
  settledFlag = false;
  finalSent = false;
  /** Final response sent and every branch final: branch state dropped, late responses only relayed. */
  released = false;
  private tag: string | undefined;
  readonly loopHash: string;
  readonly hasRoute: boolean;
  readonly inDialog: boolean;
  userState: unknown = undefined;

  constructor(
    readonly id: number,
    readonly request: SipRequest,
    readonly source: InboundContext,
    readonly serverTransaction: ServerTransaction | undefined,
    loopHash: string,
    private readonly proxy: StatefulProxy,
  ) {
    this.loopHash = loopHash;
    this.hasRoute = request.hasHeader("Route");
    this.inDialog = request.to.tag !== undefined;
  }

  get method(): string {
    return this.request.method;
  }
  /** To tag of responses the proxy generates for this request (made on first use). */
  get toTag(): string {
    return (this.tag ??= this.proxy.makeTag());
  }
  get signal(): AbortSignal {
    return (this.abortController ??= new AbortController()).signal;
  }
  /** Aborts `signal` (made lazily: most requests never have it read). */
  abort(reason: Error): void {
    if (this.abortController) this.abortController.abort(reason);
    else {
      this.abortController = new AbortController();
      this.abortController.abort(reason);
    }
  }
  get settled(): boolean {
    return this.settledFlag;
  }
  forward(targets?: (ProxyTarget | string)[]): void {
    this.proxy.forward(this, targets);
  }
  respond(status: number, reason?: string, headers?: SipHeader[]): void {
    this.proxy.respondLocally(this, status, reason, headers);
  }
  release(response: SipResponse): void {
    this.proxy.release(this, response);
  }
  abandon(status: number, reason?: string, headers?: SipHeader[]): void {
    this.proxy.abandon(this, status, reason, headers);
  }
  /** Responses the response hook held, with their branches, until `release`. */
  held: { branch: Branch; response: SipResponse }[] | undefined;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export class StatefulProxy implements TransactionUser {
  private readonly layer: TransactionLayer;
  private readonly identity: ProxyIdentity;
  private readonly hook: ProxyHook | undefined;
  private readonly observer: ProxyObserver;
  private readonly recordRoute: boolean;
  private readonly supported: string[];
  private readonly clock: TransactionClock;
  private readonly timerC: number;
  private readonly t1: number;
  private readonly rport: boolean | (() => boolean);
  private readonly selfName: ((local: TransportAddress) => { sentBy: string; recordRoute: string }) | undefined;
  private readonly branchPrefix: (() => string) | undefined;
  private readonly newTag: () => string;
  private readonly responseHook: ProxyResponseHook | undefined;
  private readonly relay503: boolean;
  private readonly strayResponseTarget: ((response: SipResponse) => TransportAddress | "drop" | undefined) | undefined;
  private nextId = 1;
  private active = 0;
  private readonly salt = Math.random().toString(36).slice(2, 6);

  constructor(options: StatefulProxyOptions) {
    this.layer = options.transactions;
    this.identity = options.identity;
    this.hook = options.hook;
    this.observer = options.observer ?? {};
    this.recordRoute = options.recordRoute ?? true;
    this.supported = options.supportedExtensions ?? [];
    this.clock = options.clock ?? systemClock;
    this.timerC = options.timerC ?? 181_000;
    this.t1 = options.t1 ?? 500;
    this.rport = options.rport ?? false;
    this.selfName = options.selfName;
    this.branchPrefix = options.branchPrefix;
    this.newTag = options.newTag ?? generateTag;
    this.responseHook = options.responseHook;
    this.relay503 = options.relay503 ?? false;
    this.strayResponseTarget = options.strayResponseTarget;
    this.layer.setUser(this);
  }

  /** @internal A To tag for a response this proxy makes. */
  makeTag(): string {
    return this.newTag();
  }

  /** Requests currently between arrival and their final response. */
  get activeRequests(): number {
    return this.active;
  }

  // ---- TransactionUser --------------------------------------------------------------------------

  onRequest(request: SipRequest, tx: ServerTransaction): void {
    try {
      this.handleRequest(request, tx);
    } catch (err) {
      // Nothing a request carries may leave its server transaction unanswered.
      this.observer.onError?.(undefined, asError(err));
      if (!tx.lastResponse || tx.lastResponse.status < 200) {
        tx.respond(this.localResponse(request, 500, "Server Internal Error", this.newTag()));
      }
    }
  }

  private handleRequest(request: SipRequest, tx: ServerTransaction): void {
    if (request.method === "CANCEL" && this.handleCancel(request, tx)) return;
    const failure = validateProxyRequest(request, { identity: this.identity, supportedExtensions: this.supported });
    if (failure) {
      tx.respond(this.localResponse(request, failure.status, failure.reason, this.newTag(), failure.headers));
      return;
    }
    // The request is worked on in place (no copy): its transaction already holds its key and 100 Trying.
    const loopHash = loopDetectionHash(request);
    preprocessRoute(request, this.identity);
    const ctx = new RequestContext(this.nextId++, request, tx.context, tx, loopHash, this);
    tx.userState = ctx; // what a CANCEL finds through its INVITE's transaction (§9.2)
    this.active++;
    tx.onTerminated = () => {
      this.active--;
      if (!ctx.settledFlag) {
        ctx.settledFlag = true;
        ctx.abort(new Error("server transaction ended before the request was settled"));
      }
      for (const b of ctx.branches) this.branchFinal(b);
    };
    this.consult(ctx);
  }

  /** An ACK outside any INVITE server transaction: the ACK for a 2xx, forwarded statelessly (§16.11 style). */
  onAck(ack: SipRequest, context: InboundContext): void {
    let ctx: RequestContext;
    try {
      const mf = ack.maxForwards;
      if (mf === 0) return;
      const loopHash = loopDetectionHash(ack);
      preprocessRoute(ack, this.identity);
      ctx = new RequestContext(this.nextId++, ack, context, undefined, loopHash, this);
    } catch (err) {
      this.observer.onError?.(undefined, asError(err));
      return;
    }
    this.consult(ctx);
  }

  /** §16.7: a response with no client transaction (e.g. 2xx retransmission) is forwarded statelessly. */
  onStrayResponse(response: SipResponse, _context: InboundContext): void {
    try {
      if (!this.isOurVia(response)) return;
      const target = this.strayResponseTarget?.(response);
      if (target === "drop") return;
      const fwd = response;
      fwd.removeFirstHeaderValue("Via");
      if (!fwd.hasHeader("Via")) return;
      const context = target === undefined ? this.contextFromVia(fwd) : { source: target, local: this.localAddressFor(target.protocol) ?? target };
      this.layer.sendResponseStateless(fwd, context).catch((err: unknown) => this.observer.onError?.(undefined, asError(err)));
    } catch (err) {
      this.observer.onError?.(undefined, asError(err));
    }
  }

  // ---- the hook ---------------------------------------------------------------------------------

  private consult(ctx: RequestContext): void {
    if (!this.hook) {
      this.apply(ctx, { action: "forward" });
      return;
    }
    let decision: ProxyDecision | void | Promise<ProxyDecision | void>;
    try {
      decision = this.hook(ctx);
    } catch (err) {
      this.hookFailed(ctx, err);
      return;
    }
    if (isThenable(decision)) {
      decision.then(
        (d) => this.apply(ctx, d),
        (err: unknown) => this.hookFailed(ctx, err),
      );
    } else this.apply(ctx, decision);
  }

  private hookFailed(ctx: RequestContext, err: unknown): void {
    this.observer.onError?.(ctx, asError(err));
    this.respondLocally(ctx, 500, "Server Internal Error");
  }

  private apply(ctx: RequestContext, decision: ProxyDecision | void): void {
    if (!decision || ctx.settledFlag) return; // void / hold: the application settles the context later
    if (decision.action === "forward") this.forward(ctx, decision.targets);
    else if (decision.action === "respond") this.respondLocally(ctx, decision.status, decision.reason, decision.headers);
  }

  // ---- answering locally ------------------------------------------------------------------------

  private localResponse(request: SipRequest, status: number, reason: string | undefined, toTag: string, headers?: SipHeader[]): SipResponse {
    return buildResponse(request, status, reason, { toTag, ...(headers ? { extraHeaders: headers } : {}) });
  }

  /** @internal Answers the request itself (§16.7); hooks call it through their {@link ProxyRequestContext}. */
  respondLocally(ctx: RequestContext, status: number, reason?: string, headers?: SipHeader[]): void {
    const tx = ctx.serverTransaction;
    if (!tx || ctx.settledFlag) return;
    if (!Number.isInteger(status) || status < 100 || status > 699) throw new RangeError(`status ${status} is not a SIP status code`);
    const response = this.localResponse(ctx.request, status, reason, ctx.toTag, headers);
    if (status < 200) {
      if (status > 100) tx.respond(response);
      return;
    }
    ctx.settledFlag = true;
    this.sendFinal(ctx, response);
  }

  private sendFinal(ctx: RequestContext, response: SipResponse): void {
    const tx = ctx.serverTransaction;
    if (!tx) return;
    const first = !ctx.finalSent;
    ctx.finalSent = true;
    if (tx.terminated) {
      // A later 2xx to an INVITE (forking): the transaction ended with the first one (§16.7 step 9).
      this.layer.sendResponseStateless(response, tx.context).catch((err: unknown) => this.observer.onError?.(ctx, asError(err)));
    } else tx.respond(response);
    if (first) this.observer.onFinalResponse?.(ctx, response);
    this.releaseIfDone(ctx);
  }

  /** Drops per-branch state once nothing more can change the outcome (memory held until Timer J/L ends). */
  private releaseIfDone(ctx: RequestContext): void {
    if (ctx.released || !ctx.finalSent || ctx.branches.some((b) => !b.final)) return;
    ctx.released = true;
    for (const b of ctx.branches) this.branchFinal(b);
    ctx.branches.length = 0;
  }

  // ---- forwarding (§16.6) -----------------------------------------------------------------------

  /** @internal Forwards to the targets, one branch each (§16.6); hooks call it through their {@link ProxyRequestContext}. */
  forward(ctx: RequestContext, targets?: (ProxyTarget | string)[]): void {
    if (ctx.settledFlag) return;
    ctx.settledFlag = true;
    const list: ProxyTarget[] = targets && targets.length > 0 ? targets.map((t) => (typeof t === "string" ? { uri: t } : t)) : [{}];
    for (const target of list) this.forwardBranch(ctx, target);
    if (ctx.serverTransaction) this.maybeSendBest(ctx);
  }

  private localAddressFor(protocol: TransportAddress["protocol"]): TransportAddress | undefined {
    return this.identity.addresses.find((a) => a.protocol === protocol);
  }

  /** Via sent-by and Record-Route value of this proxy on a local address (§16.6 steps 4 and 8). */
  private nameOn(local: TransportAddress): { sentBy: string; recordRoute: string } {
    if (this.selfName) return this.selfName(local);
    const host = local.host.includes(":") ? `[${local.host}]` : local.host;
    return { sentBy: `${host}:${local.port}`, recordRoute: recordRouteValue(local) };
  }

  /** The top Via this proxy puts on a request it sends from `local` (§16.6 step 8, RFC 3581 §3). */
  private viaValue(local: TransportAddress, branchId: string): string {
    return `SIP/2.0/${viaTransportToken(local.protocol)} ${this.nameOn(local).sentBy};branch=${branchId}${(typeof this.rport === "function" ? this.rport() : this.rport) ? ";rport" : ""}`;
  }

  private nextBranchPrefix(ctx: { id: number }): string {
    return this.branchPrefix ? `${this.branchPrefix()}.` : `${this.salt}${ctx.id.toString(36)}.`;
  }

  private forwardBranch(ctx: RequestContext, target: ProxyTarget): void {
    const index = ctx.branches.length;
    // Step 1: a copy of its own; copy-on-write, since only Request-URI, Max-Forwards, Route, Record-Route and Via change.
    const copy = ctx.request.forwardingCopy();
    const branch: Branch = {
      index,
      request: copy,
      destination: { protocol: "udp", host: "", port: 0 },
      transaction: undefined,
      final: undefined,
      provisional: false,
      cancelWanted: false,
      cancelSent: false,
      timerC: undefined,
      timerCDue: 0,
      timedOut: false,
      cancelTimer: undefined,
      dropped: false,
    };
    ctx.branches.push(branch);
    try {
      // Steps 2–3: Request-URI, Max-Forwards.
      if (target.uri !== undefined) copy.uri = target.uri;
      const mf = copy.maxForwards;
      setMaxForwards(copy, mf === undefined ? 70 : mf - 1);
      // Step 6–7: strict-router postprocessing, next hop.
      postprocessStrictRoute(copy);
      const destination = target.nextHop ?? nextHopOf(copy);
      branch.destination = destination;
      const local = this.localAddressFor(destination.protocol);
      if (!local) throw new Error(`no ${destination.protocol} transport to reach ${destination.host}:${destination.port}`);
      // Step 4: Record-Route; RFC 5658 §3.2: where the transport changes, one value for each side, the inbound
      // side's below the outbound side's, so each end of the dialog reaches this proxy on its own transport.
      if (this.recordRoute && !ctx.inDialog && DIALOG_CREATING.has(copy.method)) {
        const inbound = this.localAddressFor(ctx.source.local.protocol) ?? ctx.source.local;
        if (inbound.protocol !== local.protocol) copy.addHeader("Record-Route", this.nameOn(inbound).recordRoute, "top");
        copy.addHeader("Record-Route", this.nameOn(local).recordRoute, "top");
      }
      // Step 8: Via with a branch carrying the loop-detection hash.
      const branchId = proxyBranch(ctx.loopHash, index, this.nextBranchPrefix(ctx));
      copy.addHeader("Via", this.viaValue(local, branchId), "top");
      this.observer.onForward?.(ctx, copy, destination);
      if (copy.method === "ACK") {
        branch.final = undefined;
        this.layer.sendStateless(copy, destination).catch((err: unknown) => this.observer.onError?.(ctx, asError(err)));
        return;
      }
      // Step 10–11: client transaction, Timer C for INVITE.
      branch.transaction = this.layer.sendRequest(copy, destination, {
        onResponse: (response) => this.onBranchResponse(ctx, branch, response),
        onTerminated: (reason) => this.onBranchTerminated(ctx, branch, reason),
      });
      if (copy.method === "INVITE") this.armTimerC(ctx, branch);
    } catch (err) {
      // §16.9-style: a target that cannot be reached counts as a 503 from that branch.
      this.observer.onError?.(ctx, asError(err));
      branch.final = this.localResponse(ctx.request, 503, "Service Unavailable", ctx.toTag);
    }
  }

  /**
   * Sends a request this proxy originates itself (a BYE or ACK it must send as the end of a dialog leg), with its
   * own Via on top; ACK goes without a transaction (§17.1.1.3).
   */
  sendRequest(request: SipRequest, destination: TransportAddress, callbacks?: Partial<ClientTransactionCallbacks>): void {
    const local = this.localAddressFor(destination.protocol);
    if (!local) throw new Error(`no ${destination.protocol} transport to reach ${destination.host}:${destination.port}`);
    const branchId = `z9hG4bK${this.nextBranchPrefix({ id: this.nextId++ })}o`;
    request.addHeader("Via", this.viaValue(local, branchId), "top");
    if (request.method === "ACK") {
      this.layer.sendStateless(request, destination).catch((err: unknown) => this.observer.onError?.(undefined, asError(err)));
      return;
    }
    this.layer.sendRequest(request, destination, { onResponse: callbacks?.onResponse ?? (() => undefined), ...(callbacks?.onTerminated ? { onTerminated: callbacks.onTerminated } : {}) });
  }

  /**
   * §16.6 step 11 / §16.7 step 2: Timer C runs from the forwarding and restarts with each provisional. A provisional
   * only moves the deadline; the one timer, when it fires early, is set again for the rest.
   */
  private armTimerC(ctx: RequestContext, branch: Branch): void {
    branch.timerCDue = this.clock.now() + this.timerC;
    if (branch.timerC === undefined) this.setTimerC(ctx, branch, this.timerC);
  }

  private setTimerC(ctx: RequestContext, branch: Branch, delayMs: number): void {
    branch.timerC = this.clock.setTimer(delayMs, () => {
      branch.timerC = undefined;
      if (branch.final) return;
      const left = branch.timerCDue - this.clock.now();
      if (left >= 1) {
        this.setTimerC(ctx, branch, left);
        return;
      }
      // §16.8: with a provisional seen, CANCEL the branch; otherwise behave as if a 408 arrived.
      if (branch.provisional) {
        branch.timedOut = true;
        this.cancelBranch(ctx, branch);
      } else {
        branch.final = this.localResponse(ctx.request, 408, "Request Timeout", ctx.toTag);
        this.maybeSendBest(ctx);
      }
    });
  }

  // ---- responses (§16.7) ------------------------------------------------------------------------

  private onBranchResponse(ctx: RequestContext, branch: Branch, response: SipResponse): void {
    const status = response.status;
    if (status === 100) {
      // Step 3: 100 is not forwarded; it is still the provisional that lets a wanted CANCEL go (§9.1, §16.10).
      branch.provisional = true;
      if (branch.cancelWanted && !branch.cancelSent && !branch.final && !ctx.released) this.cancelBranch(ctx, branch);
      return;
    }
    // The response is relayed in place: its client transaction keeps nothing of it.
    const fwd = response;
    fwd.removeFirstHeaderValue("Via"); // step 9
    if (!fwd.hasHeader("Via")) {
      this.viaLessResponse(ctx, branch, status);
      return;
    }
    if (ctx.released) {
      // Late 2xx to an INVITE after everything settled (e.g. another fork): relay it, nothing else.
      if (status >= 200 && status < 300 && ctx.method === "INVITE") this.sendFinal(ctx, fwd);
      return;
    }
    if (status < 200) {
      branch.provisional = true;
      if (ctx.method === "INVITE") this.armTimerC(ctx, branch); // Timer C restarts on 101–199
      if (branch.cancelWanted && !branch.cancelSent) this.cancelBranch(ctx, branch);
    } else this.branchFinal(branch);
    const verdict = this.responseHook ? this.responseHook(ctx, fwd) : "relay";
    if (verdict === "relay") {
      this.relay(ctx, branch, fwd);
      return;
    }
    if (status >= 200) {
      // Held or dropped, the branch has its final response: nothing more is CANCELled on it.
      branch.final ??= fwd;
      if (verdict === "drop") {
        branch.dropped = true;
        this.maybeSendBest(ctx);
        this.releaseIfDone(ctx);
      }
    }
    if (verdict === "hold") (ctx.held ??= []).push({ branch, response: fwd });
  }

  /**
   * §16.7 step 3: with no Via left the response was meant for this element and MUST NOT be forwarded; the rest of
   * §16.7 is skipped. A final one still ends its branch, which counts as a 502 (§21.5.3: an invalid response from
   * downstream), so the request upstream is answered.
   */
  private viaLessResponse(ctx: RequestContext, branch: Branch, status: number): void {
    this.observer.onError?.(ctx, new Error(`${status} response with no Via left is not forwarded (RFC 3261 §16.7 step 3)`));
    if (status < 200 || ctx.released || branch.final) return;
    this.branchFinal(branch);
    branch.final = this.localResponse(ctx.request, 502, "Bad Gateway", ctx.toTag);
    this.maybeSendBest(ctx);
    this.releaseIfDone(ctx);
  }

  /** A branch's final response arrived: its timers stop. */
  private branchFinal(branch: Branch): void {
    if (branch.timerC !== undefined) {
      this.clock.clearTimer(branch.timerC);
      branch.timerC = undefined;
    }
    if (branch.cancelTimer !== undefined) {
      this.clock.clearTimer(branch.cancelTimer);
      branch.cancelTimer = undefined;
    }
  }

  /** @internal Relays a response the response hook held (in the order the hook saw them). */
  release(ctx: RequestContext, response: SipResponse): void {
    const held = ctx.held;
    const i = held ? held.findIndex((h) => h.response === response) : -1;
    if (!held || i < 0) return;
    const [entry] = held.splice(i, 1);
    if (entry!.branch.final === response) entry!.branch.final = undefined;
    if (!ctx.released) this.relay(ctx, entry!.branch, response);
  }

  /**
   * @internal Gives up on a forwarded request (§16.10 style): every branch without a final response is CANCELled,
   * held responses are dropped, and upstream gets this final response unless one was sent already.
   */
  abandon(ctx: RequestContext, status: number, reason?: string, headers?: SipHeader[]): void {
    ctx.held = undefined;
    ctx.settledFlag = true;
    for (const b of ctx.branches) if (!b.final) this.cancelBranch(ctx, b);
    if (!ctx.finalSent && ctx.serverTransaction) this.sendFinal(ctx, this.localResponse(ctx.request, status, reason, ctx.toTag, headers));
  }

  /** §16.7 steps 4–10 for one response of a branch (its top Via already off, a Via left for upstream). */
  private relay(ctx: RequestContext, branch: Branch, fwd: SipResponse): void {
    const status = fwd.status;
    if (status < 200) {
      if (!ctx.finalSent) ctx.serverTransaction?.respond(fwd);
      return;
    }
    if (status < 300) {
      branch.final = fwd;
      if (ctx.method === "INVITE") {
        // Step 9/10: every 2xx to an INVITE goes upstream at once; other branches are cancelled.
        this.sendFinal(ctx, fwd);
        for (const b of ctx.branches) if (b !== branch && !b.final) this.cancelBranch(ctx, b);
      } else if (!ctx.finalSent) this.sendFinal(ctx, fwd);
      this.releaseIfDone(ctx);
      return;
    }
    branch.final = fwd;
    if (status >= 600 && ctx.method === "INVITE") {
      // Step 5: a 6xx ends the search; pending branches are cancelled.
      for (const b of ctx.branches) if (b !== branch && !b.final) this.cancelBranch(ctx, b);
    }
    this.maybeSendBest(ctx);
    this.releaseIfDone(ctx);
  }

  private onBranchTerminated(ctx: RequestContext, branch: Branch, reason: TerminationReason): void {
    if (ctx.released || branch.final || reason === "normal") return;
    // §16.8: timeout → 408; §16.9: transport error → 503.
    branch.final =
      reason === "timeout"
        ? this.localResponse(ctx.request, 408, "Request Timeout", ctx.toTag)
        : this.localResponse(ctx.request, 503, "Service Unavailable", ctx.toTag);
    this.branchFinal(branch);
    this.maybeSendBest(ctx);
    this.releaseIfDone(ctx);
  }

  /** Step 6–7: once every branch has a final response, send the best one. */
  private maybeSendBest(ctx: RequestContext): void {
    if (ctx.finalSent || !ctx.serverTransaction) return;
    if (ctx.branches.length === 0 || ctx.branches.some((b) => !b.final)) return;
    const finals: SipResponse[] = [];
    for (const b of ctx.branches) if (!b.dropped) finals.push(b.final!);
    if (finals.length === 0) return; // every final dropped by the response hook: the application answers
    let best = chooseBestResponse(finals);
    if (best.status === 503 && !this.relay503) {
      // Step 6: a 503 is not passed on; 500 instead.
      best = this.localResponse(ctx.request, 500, "Server Internal Error", ctx.toTag);
    } else if (best.status === 401 || best.status === 407) {
      best = aggregateChallenges(best, finals);
    }
    this.sendFinal(ctx, best);
  }

  // ---- CANCEL (§9.2, §16.10) --------------------------------------------------------------------

  /** Handles a CANCEL that matches a transaction here; false: none matches, forward it like any request. */
  private handleCancel(cancel: SipRequest, tx: ServerTransaction): boolean {
    const inviteTx = this.layer.findServerTransactionForCancel(cancel);
    // §16.10: no response context: the element MUST forward the CANCEL (the INVITE may have passed elsewhere).
    if (!inviteTx) return false;
    const ctx = inviteTx.userState instanceof RequestContext ? inviteTx.userState : undefined;
    if (!ctx) {
      // §9.2: it matches a transaction this element answered itself: 200, the INVITE's answer stands.
      tx.respond(this.localResponse(cancel, 200, "OK", this.newTag()));
      return true;
    }
    tx.respond(this.localResponse(cancel, 200, "OK", ctx.toTag));
    if (!ctx.settledFlag) {
      // Still with the application (held): the proxy answers the INVITE itself.
      ctx.abort(new Error("request cancelled"));
      this.respondLocally(ctx, 487, "Request Terminated");
      return true;
    }
    for (const b of ctx.branches) if (!b.final) this.cancelBranch(ctx, b);
    return true;
  }

  /** §9.1: CANCEL a branch; waits for a provisional response before sending (§9.1, §16.10). */
  private cancelBranch(ctx: RequestContext, branch: Branch): void {
    branch.cancelWanted = true;
    if (branch.cancelSent || branch.final || !branch.transaction || branch.request.method !== "INVITE") return;
    if (!branch.provisional) return;
    branch.cancelSent = true;
    // §9.1: no final response 64·T1 after the CANCEL: the branch is over (487, or 408 after Timer C, §16.8).
    branch.cancelTimer = this.clock.setTimer(64 * this.t1, () => {
      branch.cancelTimer = undefined;
      if (branch.final || ctx.released) return;
      branch.final = branch.timedOut ? this.localResponse(ctx.request, 408, "Request Timeout", ctx.toTag) : this.localResponse(ctx.request, 487, "Request Terminated", ctx.toTag);
      this.maybeSendBest(ctx);
      this.releaseIfDone(ctx);
    });
    const inv = branch.request;
    const headers: SipHeader[] = [];
    const topVia = inv.getHeaders("Via")[0];
    if (topVia !== undefined) headers.push({ name: "Via", value: topVia });
    for (const r of inv.getHeaders("Route")) headers.push({ name: "Route", value: r });
    headers.push({ name: "Max-Forwards", value: "70" });
    for (const name of ["From", "To", "Call-ID"]) {
      const v = inv.getHeader(name);
      if (v !== undefined) headers.push({ name, value: v });
    }
    headers.push({ name: "CSeq", value: `${inv.cseq.seq} CANCEL` });
    headers.push({ name: "Content-Length", value: "0" });
    const cancel = new SipRequest("CANCEL", inv.uri, headers);
    try {
      this.layer.sendRequest(cancel, branch.destination, { onResponse: () => undefined });
    } catch {
      // a CANCEL for this branch is already under way
    }
  }

  // ---- helpers ------------------------------------------------------------------------------------

  private isOurVia(response: SipResponse): boolean {
    const via = response.topVia;
    const proto = protocolFromViaTransport(via.transport);
    const port = via.port ?? (proto ? defaultPort(proto) : 5060);
    return (
      this.identity.addresses.some((a) => a.host.toLowerCase() === via.host.toLowerCase() && a.port === port) ||
      isLocalUri({ scheme: "sip", host: via.host, port, params: new Map(), headers: new Map() }, this.identity)
    );
  }

  /** §18.2.2: where a response goes when no server transaction remembers the request's origin. */
  private contextFromVia(response: SipResponse): InboundContext {
    const via = response.topVia;
    const protocol = protocolFromViaTransport(via.transport) ?? "udp";
    const port = typeof via.rport === "number" ? via.rport : (via.port ?? defaultPort(protocol));
    const source = { protocol, host: via.received ?? via.host, port };
    return { source, local: this.localAddressFor(protocol) ?? source };
  }
}

/** §16.6 step 3: the copy's Max-Forwards, replaced in its own header list (no new list when there is one such header). */
function setMaxForwards(copy: SipRequest, value: number): void {
  const hs = copy.headers;
  let at = -1;
  for (let i = 0; i < hs.length; i++) {
    const name = hs[i]!.name;
    if (name !== "Max-Forwards" && name.toLowerCase() !== "max-forwards") continue;
    if (at >= 0) {
      copy.setHeader("Max-Forwards", String(value)); // several: one is kept
      return;
    }
    at = i;
  }
  if (at < 0) copy.setHeader("Max-Forwards", String(value));
  else hs[at] = { name: hs[at]!.name, value: String(value) };
}

function responseClass(status: number): number {
  return Math.floor(status / 100);
}

/** §16.7 step 6: any 6xx first, else the lowest response class; first arrival wins within a class. */
export function chooseBestResponse(finals: SipResponse[]): SipResponse {
  const sixxx = finals.find((r) => r.status >= 600);
  if (sixxx) return sixxx;
  let best: SipResponse | undefined;
  for (const r of finals) if (!best || responseClass(r.status) < responseClass(best.status)) best = r;
  if (!best) throw new Error("no final responses to choose from");
  return best;
}

/** §16.7 step 7: a 401/407 carries the challenges of every 401/407 the branches returned. */
function aggregateChallenges(best: SipResponse, finals: SipResponse[]): SipResponse {
  const out = best.clone();
  for (const r of finals) {
    if (r === best || (r.status !== 401 && r.status !== 407)) continue;
    for (const name of ["WWW-Authenticate", "Proxy-Authenticate"]) {
      for (const h of r.headers) if (h.name.toLowerCase() === name.toLowerCase()) out.addHeader(name, h.value, "bottom");
    }
  }
  return out;
}
