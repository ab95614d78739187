// The policy server of WO 01/35294: COPS PDP for its SIP proxy (client type sip-aaa) and its edge router
// (COPS-PR DiffServ), and OSP client of the clearinghouse through a ClearinghouseAdapter.
//   REQ AAA  → AuthorisationRequest → DEC AAA              (FIG. 5 steps 2-5 / 7-10)
//   REQ LDP  → DEC Install to the router → RPT → DEC LDP  (FIG. 5 steps 13-16 / 18-21)
//   REQ noLDP → DEC Remove → RPT (counts) → DEC noLDP + UsageIndication (FIG. 6 steps 4-9 / 13-18)
import {
  ClientType,
  CommandCode,
  ReportType,
  buildInstallDecision,
  buildNullDecision,
  buildRemoveDecision,
  buildSipAaaDecision,
  handleKey,
  handleOfKey,
  ownHandle,
  parseProvisioningReport,
  parseSipAaaRequest,
  type CopsMessage,
  type CopsPdpEvent,
  type CopsPdpOptions,
  type FlowMark,
  type HandleKey,
  type SipAaaDecisionInfo,
  type SipAaaMediaFlow,
  type SipAaaPurposeName,
} from "../../protocols/cops/index.js";
import type { ClearinghouseAdapter, ClearinghouseAnswer, AuthoriseResult, UsageReport } from "../adapters/clearinghouse-adapter.js";
import {
  isPendingDecision,
  isWireDecision,
  type AaaVerdict,
  type CallSide,
  type ClassChoice,
  type PolicyAdapter,
  type PolicyWireAnswer,
  type PolicyWireExchange,
  type ProgressVerdict,
} from "../adapters/policy-adapter.js";
import { randomInt } from "node:crypto";
import type { FlowNode, NodeAction as GenericNodeAction, NodeEvent } from "../drivers/node.js";
import type { CallEvent } from "../flow/call-events.js";
import type { MediaFlow } from "../flow/media-flows.js";
import { CopsPdpLinks, isCopsTimer, splitCopsTimer } from "./cops-links.js";
import { flowSender, learnOfferEnds, type FlowSender, type PartyEnds } from "./flow-sender.js";

type NodeAction = GenericNodeAction<CallEvent>;

/** Name, side, router, policy and clearinghouse adapters, failure mode and timers of a PolicyServer. */
export interface PolicyServerOptions {
  name: string;
  side: CallSide;
  /** The DiffServ edge router this server provisions. */
  router: string;
  policy: PolicyAdapter;
  clearinghouse: ClearinghouseAdapter;
  /** When the clearinghouse does not answer: refuse (503) or admit and reconcile usage later. */
  clearinghouseUnreachable?: "fail-closed" | "fail-open";
  clearinghouseTimeoutMs?: number;
  usageRetryMs?: number;
  kaTimerSeconds?: number;
  /**
   * How long the request states of a PEP whose connection broke are kept for it to reconnect and resynchronise
   * (RFC 2748 §2.5), and how long after a router reported its classifiers the unclaimed ones wait (default 3000).
   */
  resyncGraceMs?: number;
  /** How long a decision of the policy adapter may take; past it the call is refused with 503 (default 3000). */
  policyTimeoutMs?: number;
  /**
   * How long the router may take to report on a decision (RFC 2748 §2.3, RFC 3084 §4.4); past it the decision
   * counts as failed, the classifiers it may have installed are removed (sent again until the router answers), and
   * the call goes on (default 15000: longer than a proxy waits for DEC LDP on a media change, 10 s checked every 2 s).
   */
  routerAnswerMs?: number;
  /**
   * Lets the driver's event loop turn once, so a decision that settles at once (an async function that waits on
   * nothing) is answered with the event that asked for it (default: one setImmediate).
   */
  yieldTurn?: () => Promise<void>;
}

type Phase = "authorising" | "authorised" | "installing" | "installed" | "removing" | "over";

/** Everything this server keeps about one call: one record, found by its PEP's handle. */
interface PolicyCall {
  callId: string;
  pep: string;
  /** The PEP's handle as a key (a number for 4 octets): its octets are made again for each DEC. */
  handle: HandleKey;
  phase: Phase;
  authorised: boolean;
  /** Admitted without the clearinghouse (fail-open): usage is reconciled when it answers again. */
  local: boolean;
  transactionId: string | undefined;
  token: Buffer | undefined;
  /** The AuthorisationRequest awaiting its answer, if any. */
  correlation: string | undefined;
  /** The caller's credentials from REQ AAA (TLV 8), until the policy adapter has seen them. */
  proxyAuthorization: string | undefined;
  caller: string;
  callee: string;
  flows: readonly SipAaaMediaFlow[];
  /** The router classifiers of the call: instance ids firstInstance … firstInstance + instances - 1. */
  firstInstance: number;
  instances: number;
  installedAt: number | undefined;
  /** REQ noLDP's account of the conversation: connected for durationMs, until endMs (its arrival here). */
  connected: { endMs: number; durationMs: number } | undefined;
  /** Why the policy is being removed: a REQ noLDP (answer DEC noLDP) or a DRQ (no answer). */
  removalFor: "noLDP" | "DRQ" | undefined;
  usageDone: boolean;
  /** The PEP deleted its state; forget the call once the router has answered. */
  deleted: boolean;
  /** Forgotten: no longer counted, nothing more to do. */
  forgotten: boolean;
  /** The PEP's synchronisation round (SSQ) in which its REQ was last seen (RFC 2748 §2.5, §3.5). */
  syncRound: number;
  /** Installed into a router that has since lost it: installed again from the flows of the PEP's next REQ. */
  reinstall: boolean;
  /** The policy adapter's decision the call waits for (its parked id), 0 when none. */
  awaiting: number;
  /** The policy adapter's time limit for the call (seconds), 0 when none. */
  policyLimitS: number;
  /** The last media change taken up (REQ LDP with TLV 9), and whether its classifiers are being swapped now. */
  mediaChange: number;
  changing: boolean;
  /** The classifiers a media change replaces, removed once the new ones are in. */
  replacedFirst: number;
  replacedCount: number;
  /** Counts of classifiers already removed by media changes: the call's usage is their sum and the last ones. */
  earlierPackets: bigint;
  earlierOctets: bigint;
  /** The media ends of each party, and who sends each classifier's flow (by instance, from firstInstance / replacedFirst). */
  ends: PartyEnds;
  senders: readonly FlowSender[];
  replacedSenders: readonly FlowSender[];
  /** Of earlierOctets, those of flows the caller sent and those the callee sent. */
  earlierFromCaller: bigint;
  earlierFromCallee: bigint;
  /** Its policy adapter ended it in progress (a time limit of the time spoken went to the PEP). */
  cut: boolean;
  /** Media changes asked while one is under way: answered in turn once it is done (RFC 2748 §3.3). */
  queuedChanges: readonly QueuedChange[];
}

/** A media change asked while one is under way (TLV 9 number and the flows it asks for). */
interface QueuedChange {
  change: number;
  flows: readonly SipAaaMediaFlow[];
}

/** A call's counts split by sender: packets, octets, and the octets the caller and the callee sent. */
interface PartyCounts {
  packets: bigint;
  octets: bigint;
  fromCaller: bigint;
  fromCallee: bigint;
}

/** A router's count of one classifier (RFC 3084 §4.5). */
interface InstanceUsage {
  instanceId: number;
  packets: bigint;
  octets: bigint;
}

/** A decision of the policy adapter still to come, parked by call until it settles or times out. */
interface ParkedDecision {
  id: number;
  call: PolicyCall;
  kind: "aaa" | "class" | "reinstall";
  state: "waiting" | "settled" | "failed";
  value: AaaVerdict | ClassChoice | undefined;
  error: unknown;
  /** Not answered with the event that asked: its answer comes back as a `policy-answer:` timer event. */
  outOfTurn: boolean;
  /** Asked on the wire: the exchange's correlation. */
  correlation: string | undefined;
}

/**
 * What the router's next solicited RPT answers: the configuration request's NULL decision, a call's classifiers
 * installed (first time, or again into a router that came back empty) or removed, or a sweep of classifiers no
 * call claims.
 */
type RouterOp = {
  /** When its report is overdue (Infinity: never, the configuration request's NULL decision). */
  due: number;
  call: PolicyCall | undefined;
  kind: "install" | "reinstall" | "remove" | "config" | "sweep" | "change-install" | "change-remove" | "cleanup";
  /** For a sweep or cleanup: the instance ids it removes. */
  ids?: number[];
  /** For a cleanup of a call still in progress: who sent each classifier's flow, from `first`, to count its usage. */
  first?: number;
  senders?: readonly FlowSender[];
};

/** A PEP's resynchronisation after its connection broke: SSQ sent in `round`, or waiting for it to come back. */
interface PepSync {
  round: number;
  /** SSQ sent, SSC awaited. */
  asked: boolean;
}

const NO_FLOWS: readonly SipAaaMediaFlow[] = Object.freeze([]);
// Shared by the calls that have none (most of them): no empty array per call.
const NO_SENDERS: readonly FlowSender[] = Object.freeze([]);
const NO_QUEUED_CHANGES: readonly QueuedChange[] = Object.freeze([]);
const ROUTER_SWEEP_TIMER = "router-sweep";
/** One timer for every decision's report deadline, armed for the earliest (RFC 2748 §2.3). */
const ROUTER_ANSWER_TIMER = "router-answer";
const DEFAULT_ROUTER_ANSWER_MS = 15_000;
const PEP_GRACE_TIMER = "pep-grace:";
const POLICY_ANSWER_TIMER = "policy-answer:";
const POLICY_TIMEOUT_TIMER = "policy-timeout:";
const PROGRESS_END_TIMER = "progress-end:";
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** The timers of the clearinghouse's answers: AuthorisationResponse, and UsageConfirmation to a first sending. */
const CH_AUTH_TIMER = "ch-auth";
const CH_USAGE_TIMER = "ch-usage";

/**
 * Deadlines of exchanges under one driver timer, armed for the earliest: an answer in time drops its entry and
 * touches no timer. When the timer fires, the keys past their deadline come out in the order they were set (as
 * their own timers would have fired) and the timer is armed again for the earliest deadline left.
 */
class Deadlines<K> {
  private readonly due = new Map<K, number>();
  private armedAt = Infinity;

  constructor(private readonly timerKey: string) {}

  set(key: K, due: number, now: number, out: NodeAction[]): void {
    this.due.set(key, due);
    if (due < this.armedAt) {
      this.armedAt = due;
      out.push({ type: "set-timer", key: this.timerKey, delayMs: due - now });
    }
  }

  delete(key: K): void {
    this.due.delete(key);
  }

  /** The timer fired: the keys past their deadline; the timer is armed again for the others. */
  fired(now: number, out: NodeAction[]): K[] {
    const passed: K[] = [];
    let next = Infinity;
    for (const [key, due] of this.due) {
      if (due <= now) passed.push(key);
      else if (due < next) next = due;
    }
    for (const key of passed) this.due.delete(key);
    this.armedAt = next;
    if (next !== Infinity) out.push({ type: "set-timer", key: this.timerKey, delayMs: next - now });
    return passed;
  }

  /**
   * After a restart: the timer went with the role's down time, and so did the deadlines that passed in it (their
   * timers never fired); armed again for the others.
   */
  restarted(now: number, out: NodeAction[]): void {
    for (const [key, due] of this.due) if (due < now) this.due.delete(key);
    this.armedAt = Infinity;
    let next = Infinity;
    for (const due of this.due.values()) if (due < next) next = due;
    if (next !== Infinity) {
      this.armedAt = next;
      out.push({ type: "set-timer", key: this.timerKey, delayMs: next - now });
    }
  }

  clear(): void {
    this.due.clear();
    this.armedAt = Infinity;
  }
}

/** A progress verdict still to come: answered with its event when it settles within the turn, else later. */
interface ProgressTurn {
  call: PolicyCall;
  verdict: ProgressVerdict | undefined;
  settled: boolean;
  outOfTurn: boolean;
}

interface PendingUsage {
  correlation: string;
  bytes: Buffer;
  label: string;
  callId: string;
  durationS: number;
  packets: number;
  octets: number;
  octetsFromCaller: number;
  octetsFromCallee: number;
  attempts: number;
}

export class PolicyServer implements FlowNode<CallEvent> {
  readonly name: string;
  private readonly links: CopsPdpLinks;
  /** The calls of each PEP by request-state handle (RFC 2748 §2.2.1): the one per-call table of this role. */
  private byHandle = new Map<string, Map<HandleKey, PolicyCall>>();
  /** Calls not yet forgotten (some outlive their handle while the router removes their policy). */
  private live = 0;
  private routerHandle: Buffer | undefined;
  /** Until when the router's accounting reports are the inventory of its classifiers (it (re)opened its configuration). */
  private routerInventoryUntil = -Infinity;
  private routerOps: RouterOp[] = [];
  /** When the router-answer timer fires (Infinity: not armed); a report in time touches no timer. */
  private routerTimerAt = Infinity;
  /** Calls whose LDP waits for the router's configuration request. */
  private waitingForRouter: PolicyCall[] = [];
  /** The router's connection broke while calls were installed: they are installed again when it returns. */
  private reinstallOnReturn = false;
  private nextInstance = 1;
  /** Instance ids the router reported installed after (re)connecting (RFC 3084 accounting RPT), not yet matched. */
  private routerReported = new Set<number>();
  private readonly pepSync = new Map<string, PepSync>();
  private pendingAuth = new Map<string, PolicyCall>();
  private readonly authDeadlines = new Deadlines<string>(CH_AUTH_TIMER);
  private pendingUsage = new Map<string, PendingUsage>();
  /** Deadlines of UsageIndications sent once; a retry has its own timer (`ch-usage:` + correlation). */
  private readonly usageDeadlines = new Deadlines<string>(CH_USAGE_TIMER);
  /** The policy adapter's decisions still to come, by parked id. */
  private parked = new Map<number, ParkedDecision>();
  private nextParked = 1;
  /** Decisions asked on the wire, by correlation; and the peers they were asked of. */
  private wireParked = new Map<string, ParkedDecision>();
  private readonly policyPeers = new Set<string>();
  /** Calls the policy adapter ended in progress by a verdict that came later, by id until it is delivered. */
  private pendingEnds = new Map<number, { call: PolicyCall; reason: string | undefined }>();
  private nextEnd = 1;
  /** Progress verdicts asked while handling the current event: each settles within its turn or comes back later. */
  private progressTurns: ProgressTurn[] = [];
  /** Decisions parked while handling the current event: each settles or yields a turn. */
  private turns: ParkedDecision[] = [];
  /** How a decision that settles after its event reaches this node again (a timer event); see `deliverDecisionsWith`. */
  private wake: ((actions: NodeAction[]) => void) | undefined;
  /** UsageIndications still owed to the clearinghouse (sent, unconfirmed). */
  get usageBacklog(): number {
    return this.pendingUsage.size;
  }

  constructor(private readonly opts: PolicyServerOptions) {
    this.name = opts.name;
    this.links = new CopsPdpLinks(
      {
        clientTypes: [ClientType.SipAaa, ClientType.DiffServPr], kaTimerSeconds: opts.kaTimerSeconds ?? 30,
        // RFC 2748 §2.2.15: the router's accounting reports of the calls in progress, when the policy watches them.
        ...(opts.policy.observeProgress && opts.policy.progressIntervalS ? { acctTimerSeconds: Math.max(1, Math.round(opts.policy.progressIntervalS)) } : {}),
      },
      (peer, m) => this.callIdOfCops(peer, m),
      (peer, e, now) => this.onCopsEvent(peer, e, now),
    );
  }

  /** How the PEPs' connections are held: Integrity keys per PEPID, request-state bounds (RFC 2748 §2.2.8, §2.2.16). */
  configureCops(options: Pick<CopsPdpOptions, "integrityFor" | "maxRequestStates" | "maxPendingRequests">): void {
    this.links.configure(options);
  }

  /**
   * Where actions produced outside an event go: the driver's `perform(name, actions)`. Needed for decisions that
   * settle after the event that asked for them; without it they are refused at `policyTimeoutMs`.
   */
  deliverDecisionsWith(perform: (actions: GenericNodeAction<CallEvent>[]) => void): void {
    this.wake = perform;
  }

  /** Decisions of the policy adapter not settled yet. */
  get pendingDecisions(): number {
    return this.parked.size;
  }

  get activeCalls(): number {
    return this.live;
  }
  get copsRequestStates(): number {
    let n = 0;
    for (const calls of this.byHandle.values()) n += calls.size;
    return n;
  }

  handle(ev: NodeEvent): GenericNodeAction<CallEvent>[] | Promise<GenericNodeAction<CallEvent>[]> {
    const out = this.handleEvent(ev);
    if (this.turns.length === 0 && this.progressTurns.length === 0) return out; // every decision given at once: no promise
    const turns = this.turns;
    this.turns = [];
    const progress = this.progressTurns;
    this.progressTurns = [];
    return this.afterTurn(turns, out, ev.now, progress);
  }

  /**
   * The decisions parked by one event: those settled within a turn of the event loop are answered with it; the
   * others get their timeout, and their answer comes back later as a timer event.
   */
  private async afterTurn(turns: ParkedDecision[], out: NodeAction[], now: number, progress: ProgressTurn[] = []): Promise<NodeAction[]> {
    const yieldTurn = this.opts.yieldTurn ?? nextTurn;
    await yieldTurn();
    for (const p of progress) {
      if (!p.settled) p.outOfTurn = true;
      else if (p.verdict?.end && !p.call.forgotten) for (const a of this.endInProgress(p.call, p.verdict.reason, now)) out.push(a);
    }
    for (const entry of turns) {
      if (this.parked.get(entry.id) !== entry) continue;
      if (entry.state === "waiting") {
        entry.outOfTurn = true;
        out.push({ type: "set-timer", key: POLICY_TIMEOUT_TIMER + entry.id, delayMs: this.opts.policyTimeoutMs ?? 3000 });
      } else for (const a of this.answerParked(entry, now)) out.push(a);
    }
    return out;
  }

  private handleEvent(ev: NodeEvent): NodeAction[] {
    switch (ev.type) {
      case "deliver":
        if (ev.proto === "COPS") {
          this.deliveredCallId = ev.callId;
          try {
            return this.links.deliver(ev.from, ev.bytes, ev.now);
          } finally {
            this.deliveredCallId = undefined;
          }
        }
        if (this.policyPeers.has(ev.from)) return this.onPolicyWireAnswer(ev.bytes, ev.from, ev.now);
        if (ev.proto === "OSP" && this.opts.clearinghouse.onWire) return this.onClearinghouseAnswer(ev.bytes, ev.now);
        return [];
      case "timer": {
        if (ev.key === ROUTER_SWEEP_TIMER) return this.sweepRouter(ev.now);
        if (ev.key === ROUTER_ANSWER_TIMER) return this.onRouterSilent(ev.now);
        if (ev.key.startsWith(PEP_GRACE_TIMER)) return this.pepGone(ev.key.slice(PEP_GRACE_TIMER.length), ev.now);
        if (isCopsTimer(ev.key)) {
          const [peer, name] = splitCopsTimer(ev.key);
          return this.links.timer(peer, name, ev.now);
        }
        if (ev.key === CH_AUTH_TIMER) {
          const out: NodeAction[] = [];
          for (const correlation of this.authDeadlines.fired(ev.now, out)) for (const a of this.onAuthTimeout(correlation, ev.now)) out.push(a);
          return out;
        }
        if (ev.key === CH_USAGE_TIMER) {
          const out: NodeAction[] = [];
          for (const correlation of this.usageDeadlines.fired(ev.now, out)) for (const a of this.retryUsage(correlation, ev.now)) out.push(a);
          return out;
        }
        if (ev.key.startsWith("ch-usage:")) return this.retryUsage(ev.key.slice(9), ev.now);
        if (ev.key.startsWith(POLICY_ANSWER_TIMER)) return this.onParkedSettled(Number(ev.key.slice(POLICY_ANSWER_TIMER.length)), ev.now);
        if (ev.key.startsWith(POLICY_TIMEOUT_TIMER)) return this.onParkedTimeout(Number(ev.key.slice(POLICY_TIMEOUT_TIMER.length)), ev.now);
        if (ev.key.startsWith(PROGRESS_END_TIMER)) return this.onProgressEnd(Number(ev.key.slice(PROGRESS_END_TIMER.length)), ev.now);
        return [];
      }
      case "peer-down":
        return this.links.peerDown(ev.peer, ev.now);
      case "restart": {
        // A restarted policy server knows nothing: PEPs reconnect and resynchronise (RFC 2748 §2.5).
        this.links.reset();
        this.live = 0;
        this.byHandle = new Map();
        this.routerHandle = undefined;
        this.routerOps = [];
        this.routerTimerAt = Infinity;
        this.waitingForRouter = [];
        this.pendingAuth = new Map();
        this.authDeadlines.clear();
        this.parked = new Map();
        this.wireParked = new Map();
        this.pendingEnds = new Map();
        this.progressTurns = [];
        this.turns = [];
        this.routerReported = new Set();
        this.pepSync.clear();
        // Unconfirmed usage is kept: sent again once its deadline passes, unless it passed while the role was down.
        const out: NodeAction[] = [];
        this.usageDeadlines.restarted(ev.now, out);
        return out;
      }
      default:
        return [];
    }
  }

  // ---- COPS ----

  private callIdOfCops(peer: string, m: CopsMessage): string {
    if (peer === this.opts.router) return this.currentRouterCall ?? "";
    if ("handle" in m && m.handle) return this.byHandle.get(peer)?.get(handleKey(m.handle))?.callId ?? "";
    return "";
  }

  private callsOf(peer: string): Map<HandleKey, PolicyCall> {
    let calls = this.byHandle.get(peer);
    if (calls === undefined) {
      calls = new Map();
      this.byHandle.set(peer, calls);
    }
    return calls;
  }

  /** The Call-ID the network tagged the message being handled with: the sender's string, shared when it matches. */
  private deliveredCallId: string | undefined;

  /** The call a message to or from the router is about (set while one is being built). */
  private currentRouterCall: string | undefined;

  private onCopsEvent(peer: string, e: CopsPdpEvent, now: number): NodeAction[] {
    // Refused or dropped input, from a proxy or the router: counted and logged by cause (the operations' DropLog
    // reads the words before "from").
    if (e.type === "protocol-error") return [{ type: "emit", event: { type: "error", role: this.name, message: `COPS ${e.cause ?? "protocol-error"} from ${peer}: ${e.error}` } }];
    if (peer === this.opts.router) return this.onRouterEvent(e, now);
    switch (e.type) {
      case "request":
        return this.onSipRequest(peer, e.handle, e.message, now);
      case "deleted":
        return this.onDeleted(peer, e.handle, now);
      case "opened":
        return this.onPepOpened(peer, now);
      case "sync-complete":
        return e.handle === undefined ? this.onPepSynchronised(peer, now) : [];
      case "pep-lost":
        return this.onPepLost(peer);
      default:
        return [];
    }
  }

  private onSipRequest(peer: string, handle: Buffer, message: CopsMessage, now: number): NodeAction[] {
    let parsed;
    try {
      parsed = parseSipAaaRequest(message);
    } catch (err) {
      return [
        { type: "emit", event: { type: "error", role: this.name, message: `bad REQ from ${peer}: ${String(err)}` } },
        ...this.links.command(peer, { type: "decide-error", handle, error: { code: 3, subCode: 0 } }, now),
      ];
    }
    const { info, purpose } = parsed;
    const calls = this.callsOf(peer);
    const key = handleKey(handle);
    let call = calls.get(key);
    // The PEP's local decision point decided while no PDP was reachable (RFC 2748 §2.5): Install admitted, Remove refused.
    const local = message.op === "REQ" ? message.lpdpDecisions[0]?.command : undefined;
    if (!call) {
      call = {
        // Every field set here, so the record keeps one shape and no out-of-object property store.
        callId: info.callId === this.deliveredCallId ? this.deliveredCallId : info.callId, pep: peer, handle: key, phase: "authorising", authorised: false, local: false,
        transactionId: undefined, token: info.ospToken, correlation: undefined, proxyAuthorization: info.proxyAuthorization,
        caller: info.caller ?? "", callee: info.callee ?? "", flows: info.flows, firstInstance: 0, instances: 0,
        installedAt: undefined, connected: undefined, removalFor: undefined, usageDone: false, deleted: false, forgotten: false,
        syncRound: this.pepSync.get(peer)?.round ?? 0, reinstall: false, awaiting: 0, policyLimitS: 0,
        mediaChange: 0, changing: false, replacedFirst: 0, replacedCount: 0, earlierPackets: 0n, earlierOctets: 0n,
        ends: { caller: [], callee: [] }, senders: NO_SENDERS, replacedSenders: NO_SENDERS, earlierFromCaller: 0n, earlierFromCallee: 0n, cut: false,
        queuedChanges: NO_QUEUED_CHANGES,
      };
      calls.set(key, call);
      this.live++;
      if (purpose !== "AAA") {
        // A state this (restarted) server never saw, resynchronised by the PEP (RFC 2748 §2.5): a REQ LDP or noLDP
        // exists only after DEC AAA yes, so the call was admitted; its usage is reported when it ends.
        call.authorised = true;
        call.local = true;
        call.phase = "authorised";
      } else if (local !== undefined) {
        // A REQ AAA the PEP decided alone while this server was away: its decision stands, no authorisation now.
        call.authorised = local !== CommandCode.Remove;
        call.local = true;
        call.phase = call.authorised ? "authorised" : "over";
      }
    }
    call.syncRound = this.pepSync.get(peer)?.round ?? 0;
    if (call.changing && purpose === "LDP" && info.mediaChange !== undefined && local !== CommandCode.Remove) {
      // RFC 2748 §3.3: a handle's REQs are answered in turn; a change (or a put-back) waits for the one under way.
      call.queuedChanges = [...call.queuedChanges, { change: info.mediaChange, flows: info.flows }];
      return [];
    }
    // REQ AAA carries the initial offer's flows: the ends they name are the caller's.
    if (purpose === "AAA") learnOfferEnds(call.ends, info.flows);
    // A media change may leave no flow at all (a=inactive): its empty list replaces the installed ones.
    if (info.flows.length > 0 || (info.mediaChange !== undefined && info.mediaChange > call.mediaChange)) call.flows = info.flows;
    const out: NodeAction[] = [];
    if (call.reinstall && call.phase === "installed" && this.routerHandle && call.flows.length > 0) {
      // The router came back empty: the flows the PEP sent again (SSQ) give the call its classifiers again.
      call.reinstall = false;
      for (const a of this.sendInstall(call, "reinstall", now)) out.push(a);
    }
    if (purpose === "LDP" && info.mediaChange !== undefined && local !== CommandCode.Remove && (call.phase === "installed" || call.changing)) {
      for (const a of this.changeMedia(call, info.mediaChange, now)) out.push(a);
      return out;
    }
    for (const a of this.answerRequest(call, purpose, info.connectedMs, local, now)) out.push(a);
    return out;
  }

  /**
   * The media of an installed call changed (a REQ LDP update on its handle with TLV 9): the new flows' classifiers
   * go in first (DEC Install), then the replaced ones come out (DEC Remove, their counts kept for the call's one
   * usage record), then DEC LDP yes. A router that cannot install them leaves the old ones: DEC LDP no.
   */
  private changeMedia(call: PolicyCall, change: number, now: number): NodeAction[] {
    if (change <= call.mediaChange) return call.changing ? [] : this.decide(call, "LDP", true, {}, now); // sent again
    if (call.changing) return this.decide(call, "LDP", false, { reason: { code: 491, text: "a media change is under way" } }, now);
    if (!this.routerHandle) return this.decide(call, "LDP", false, { reason: { code: 503, text: `router ${this.opts.router} cannot take the new media now` } }, now);
    if (call.flows.length === 0) {
      // Nothing flows any more (a=inactive): the old classifiers come out, none go in.
      call.mediaChange = change;
      call.changing = true;
      call.replacedFirst = call.firstInstance;
      call.replacedCount = call.instances;
      call.replacedSenders = call.senders;
      call.senders = NO_SENDERS;
      call.instances = 0;
      return this.mediaChanged(call, true, [], "change-install", now);
    }
    const choice = this.opts.policy.chooseClass({ callId: call.callId, side: this.opts.side, router: this.opts.router, flows: call.flows.map(fromCopsFlow) });
    if (isPendingDecision(choice) || isWireDecision(choice)) {
      // The class of a change is chosen at once or not at all: the old media stays.
      if (isPendingDecision(choice)) choice.then(undefined, () => undefined);
      return this.decide(call, "LDP", false, { reason: { code: 503, text: "the policy adapter did not choose a class at once" } }, now);
    }
    call.mediaChange = change;
    call.changing = true;
    call.replacedFirst = call.firstInstance;
    call.replacedCount = call.instances;
    call.replacedSenders = call.senders;
    const out = this.classChosen(call, "install", choice, now);
    // classChosen queued an install; it is this change's
    const op = this.routerOps[this.routerOps.length - 1];
    if (op?.call === call) op.kind = "change-install";
    return out;
  }

  private mediaChanged(call: PolicyCall, ok: boolean, usage: InstanceUsage[], kind: "change-install" | "change-remove", now: number): NodeAction[] {
    if (kind === "change-install") {
      call.flows = NO_FLOWS;
      if (!ok) {
        // The old classifiers stay in force; the change is refused.
        call.changing = false;
        call.firstInstance = call.replacedFirst;
        call.instances = call.replacedCount;
        call.senders = call.replacedSenders;
        const out = this.decide(call, "LDP", false, { reason: { code: 503, text: `router ${this.opts.router} could not install the new media` } }, now);
        out.push(...this.takeQueuedChanges(call, false, now));
        if (call.removalFor) out.push(...this.release(call, call.removalFor, now));
        return out;
      }
      const out: NodeAction[] = call.instances > 0 ? [{ type: "emit", event: { type: "decision", callId: call.callId, role: this.name, purpose: "Install", allow: true } }] : [];
      // Nothing was installed before (an inactive stream resumed): no classifier to take out.
      if (call.replacedCount === 0) return [...out, ...this.mediaChanged(call, true, [], "change-remove", now)];
      if (!this.routerHandle) return out;
      const ids: number[] = [];
      for (let i = 0; i < call.replacedCount; i++) ids.push(call.replacedFirst + i);
      for (const a of this.routerOp({ due: Infinity, call, kind: "change-remove" }, buildRemoveDecision(this.routerHandle, ids).decisions, now)) out.push(a);
      return out;
    }
    const counts = this.countsBySender(call.replacedSenders, call.replacedFirst, usage, { packets: 0n, octets: 0n, fromCaller: 0n, fromCallee: 0n });
    call.earlierPackets += counts.packets;
    call.earlierOctets += counts.octets;
    call.earlierFromCaller += counts.fromCaller;
    call.earlierFromCallee += counts.fromCallee;
    call.replacedSenders = NO_SENDERS;
    call.changing = false;
    call.replacedCount = 0;
    const out = this.decide(call, "LDP", true, {}, now);
    out.push(...this.takeQueuedChanges(call, true, now));
    if (call.removalFor && !call.changing) out.push(...this.release(call, call.removalFor, now));
    return out;
  }

  /**
   * The changes asked while one was under way, once it is done, each answered in turn: one sent again gets the same
   * answer, one a later one superseded or that the call's end overtook is refused, the last is taken up.
   */
  private takeQueuedChanges(call: PolicyCall, allowed: boolean, now: number): NodeAction[] {
    const queued = call.queuedChanges;
    if (queued.length === 0) return [];
    call.queuedChanges = NO_QUEUED_CHANGES;
    const out: NodeAction[] = [];
    const last = queued[queued.length - 1];
    for (const q of queued) {
      if (call.deleted) break; // its DRQ dropped the REQs still unanswered
      if (q.change <= call.mediaChange) out.push(...this.decide(call, "LDP", allowed, allowed ? {} : { reason: { code: 503, text: "the media change failed" } }, now));
      else if (q !== last || call.removalFor !== undefined) {
        out.push(...this.decide(call, "LDP", false, { reason: { code: 503, text: q !== last ? "superseded by a later media change" : "the call is ending" } }, now));
      } else {
        call.flows = q.flows;
        out.push(...this.changeMedia(call, q.change, now));
      }
    }
    return out;
  }

  private answerRequest(call: PolicyCall, purpose: SipAaaPurposeName, connectedMs: number | undefined, local: number | undefined, now: number): NodeAction[] {
    switch (purpose) {
      case "AAA":
        // Sent again (resynchronisation, SSQ): an authorisation already under way or decided is not asked twice.
        if (call.local || call.correlation !== undefined || call.awaiting !== 0 || call.phase !== "authorising") return call.phase === "authorising" ? [] : this.decide(call, "AAA", call.authorised, {}, now);
        return this.authorise(call, now);
      case "LDP":
        // The PEP refused the call locally when its REQ LDP found no PDP: nothing to install; its DRQ follows.
        if (local === CommandCode.Remove) return [];
        return this.install(call, now);
      case "noLDP":
        if (connectedMs !== undefined) call.connected = { endMs: now, durationMs: connectedMs };
        return this.release(call, "noLDP", now);
    }
  }

  private decide(call: PolicyCall, purpose: SipAaaPurposeName, allowed: boolean, info: SipAaaDecisionInfo, now: number): NodeAction[] {
    const handle = handleOfKey(call.handle);
    const decisions = buildSipAaaDecision(purpose, handle, allowed, info).decisions;
    const out = this.links.command(call.pep, { type: "decide", handle, decisions }, now);
    const event: CallEvent = { type: "decision", callId: call.callId, role: this.name, purpose, allow: allowed };
    if (info.reason) event.reason = info.reason.text;
    out.push({ type: "emit", event });
    return out;
  }

  // ---- AAA ----

  private authorise(call: PolicyCall, now: number): NodeAction[] {
    const verdict = this.opts.policy.decideAaa({ callId: call.callId, side: this.opts.side, caller: call.caller, callee: call.callee, flows: call.flows.map(fromCopsFlow), now, proxyAuthorization: call.proxyAuthorization });
    call.proxyAuthorization = undefined;
    if (isPendingDecision(verdict)) return this.park(call, "aaa", verdict);
    if (isWireDecision(verdict)) return this.parkOnWire(call, "aaa", verdict);
    return this.verdictGiven(call, verdict, now);
  }

  private verdictGiven(call: PolicyCall, verdict: AaaVerdict, now: number): NodeAction[] {
    if (!verdict.allow) {
      call.phase = "over";
      return this.decide(call, "AAA", false, { reason: { code: verdict.sipStatus ?? 403, text: verdict.reason ?? "denied by policy" } }, now);
    }
    if (verdict.timeLimitS !== undefined && verdict.timeLimitS > 0) call.policyLimitS = Math.ceil(verdict.timeLimitS);
    const req = { callId: call.callId, side: this.opts.side, source: call.caller, destination: call.callee, now, ...(call.token ? { token: call.token } : {}) };
    const exchange = this.opts.clearinghouse.authorise(req);
    call.token = undefined; // presented once; not kept for the call's lifetime (no `delete`: the object would go to dictionary mode)
    if (exchange.kind === "done") return this.authorised(call, exchange.result, now);
    this.pendingAuth.set(exchange.correlation, call);
    call.correlation = exchange.correlation;
    const out: NodeAction[] = [{ type: "send", proto: "OSP", to: this.opts.clearinghouse.peer ?? "CH", bytes: exchange.bytes, label: exchange.label, callId: call.callId }];
    this.authDeadlines.set(exchange.correlation, now + (this.opts.clearinghouseTimeoutMs ?? 3000), now, out);
    return out;
  }

  // ---- the policy adapter's decisions that come later ----

  private park(call: PolicyCall, kind: ParkedDecision["kind"], pending: PromiseLike<AaaVerdict | ClassChoice>): NodeAction[] {
    const entry: ParkedDecision = { id: this.nextParked++, call, kind, state: "waiting", value: undefined, error: undefined, outOfTurn: false, correlation: undefined };
    this.parked.set(entry.id, entry);
    call.awaiting = entry.id;
    this.turns.push(entry);
    pending.then(
      (value) => this.settle(entry, "settled", value, undefined),
      (err: unknown) => this.settle(entry, "failed", undefined, err),
    );
    return [];
  }

  /** One message to the remote decider; its answer comes back as a delivery from it (or the timeout refuses). */
  private parkOnWire(call: PolicyCall, kind: ParkedDecision["kind"], exchange: PolicyWireExchange): NodeAction[] {
    const entry: ParkedDecision = { id: this.nextParked++, call, kind, state: "waiting", value: undefined, error: undefined, outOfTurn: true, correlation: exchange.correlation };
    this.parked.set(entry.id, entry);
    this.wireParked.set(exchange.correlation, entry);
    this.policyPeers.add(exchange.to);
    call.awaiting = entry.id;
    return [
      { type: "send", proto: exchange.proto, to: exchange.to, bytes: exchange.bytes, label: exchange.label, callId: call.callId },
      { type: "set-timer", key: POLICY_TIMEOUT_TIMER + entry.id, delayMs: this.opts.policyTimeoutMs ?? 3000 },
    ];
  }

  private onPolicyWireAnswer(bytes: Buffer, from: string, now: number): NodeAction[] {
    let answer: PolicyWireAnswer;
    try {
      if (this.opts.policy.decodeAnswer === undefined) throw new Error("the policy adapter has no decodeAnswer");
      answer = this.opts.policy.decodeAnswer(bytes, from);
    } catch (err) {
      return [{ type: "emit", event: { type: "error", role: this.name, message: `bad policy answer from ${from}: ${String(err)}` } }];
    }
    const entry = this.wireParked.get(answer.correlation);
    if (entry === undefined) return []; // late (timed out) or repeated
    this.wireParked.delete(answer.correlation);
    if (entry.state !== "waiting" || this.parked.get(entry.id) !== entry) return [];
    const result = answer.result as Partial<AaaVerdict & ClassChoice>;
    const fits = entry.kind === "aaa" ? typeof result.allow === "boolean" : typeof result.dscp === "number";
    entry.state = fits ? "settled" : "failed";
    if (fits) entry.value = answer.result;
    else entry.error = `answer ${answer.correlation} from ${from} is not a ${entry.kind === "aaa" ? "verdict" : "class"}`;
    return this.onParkedSettled(entry.id, now);
  }

  private settle(entry: ParkedDecision, state: "settled" | "failed", value: AaaVerdict | ClassChoice | undefined, error: unknown): void {
    if (entry.state !== "waiting" || this.parked.get(entry.id) !== entry) return;
    entry.state = state;
    entry.value = value;
    entry.error = error;
    // Past its event's turn: the answer comes back through the driver as an event, like a timer.
    if (entry.outOfTurn) this.wake?.([{ type: "set-timer", key: POLICY_ANSWER_TIMER + entry.id, delayMs: 0 }]);
  }

  private onParkedSettled(id: number, now: number): NodeAction[] {
    const entry = this.parked.get(id);
    if (entry === undefined || entry.state === "waiting") return [];
    const out: NodeAction[] = [{ type: "cancel-timer", key: POLICY_TIMEOUT_TIMER + id }];
    for (const a of this.answerParked(entry, now)) out.push(a);
    return out;
  }

  private onParkedTimeout(id: number, now: number): NodeAction[] {
    const entry = this.parked.get(id);
    if (entry === undefined) return [];
    if (entry.state !== "waiting") return this.answerParked(entry, now);
    entry.state = "failed";
    entry.error = `no decision within ${this.opts.policyTimeoutMs ?? 3000} ms`;
    return this.answerParked(entry, now);
  }

  private forgetParked(entry: ParkedDecision): void {
    this.parked.delete(entry.id);
    if (entry.correlation !== undefined) this.wireParked.delete(entry.correlation);
  }

  private answerParked(entry: ParkedDecision, now: number): NodeAction[] {
    this.forgetParked(entry);
    const call = entry.call;
    if (call.awaiting !== entry.id || call.forgotten) return []; // the call moved on (deleted, or this server restarted)
    call.awaiting = 0;
    if (entry.state === "failed") {
      const text = `policy decision failed: ${entry.error instanceof Error ? entry.error.message : String(entry.error)}`;
      const out: NodeAction[] = [{ type: "emit", event: { type: "error", callId: call.callId, role: this.name, message: text } }];
      for (const a of this.refuseUndecided(entry, text, now)) out.push(a);
      return out;
    }
    switch (entry.kind) {
      case "aaa":
        return call.phase === "authorising" ? this.verdictGiven(call, entry.value as AaaVerdict, now) : [];
      case "reinstall":
        return call.phase === "installed" ? this.classChosen(call, "reinstall", entry.value as ClassChoice, now) : [];
      case "class":
        if (call.phase !== "installing") return [];
        if (call.removalFor !== undefined || !this.routerHandle) return this.installNotSent(call, now);
        return this.classChosen(call, "install", entry.value as ClassChoice, now);
    }
  }

  /** A decision that failed or never came: fail-closed, as for an unreachable clearinghouse (503). */
  private refuseUndecided(entry: ParkedDecision, text: string, now: number): NodeAction[] {
    const call = entry.call;
    switch (entry.kind) {
      case "aaa":
        if (call.phase !== "authorising") return [];
        call.phase = "over";
        return this.decide(call, "AAA", false, { reason: { code: 503, text } }, now);
      case "reinstall":
        call.flows = NO_FLOWS;
        return [];
      case "class": {
        if (call.phase !== "installing") return [];
        call.phase = "authorised";
        call.instances = 0;
        if (call.removalFor !== undefined) return this.release(call, call.removalFor, now);
        return this.decide(call, "LDP", false, { reason: { code: 503, text } }, now);
      }
    }
  }

  /** The class came after the PEP gave up or the router went away: nothing was sent to the router. */
  private installNotSent(call: PolicyCall, now: number): NodeAction[] {
    call.phase = "authorised";
    call.instances = 0;
    if (call.removalFor !== undefined) return this.release(call, call.removalFor, now);
    if (!this.waitingForRouter.includes(call)) this.waitingForRouter.push(call);
    return [];
  }

  private authorised(call: PolicyCall, result: AuthoriseResult, now: number): NodeAction[] {
    if (call.phase !== "authorising") return [];
    if (!result.allowed) {
      call.phase = "over";
      return this.decide(call, "AAA", false, { reason: { code: result.status === 503 ? 503 : 403, text: result.reason ?? `clearinghouse refused (${result.status})` } }, now);
    }
    call.phase = "authorised";
    call.authorised = true;
    if (result.transactionId !== undefined) call.transactionId = result.transactionId;
    const info: SipAaaDecisionInfo = {};
    if (result.token) info.token = result.token;
    if (result.timeLimitS !== undefined) info.timeLimitSeconds = result.timeLimitS;
    if (call.policyLimitS > 0 && (info.timeLimitSeconds === undefined || call.policyLimitS < info.timeLimitSeconds)) info.timeLimitSeconds = call.policyLimitS;
    return this.decide(call, "AAA", true, info, now);
  }

  private onAuthTimeout(correlation: string, now: number): NodeAction[] {
    const call = this.pendingAuth.get(correlation);
    this.pendingAuth.delete(correlation);
    if (!call || call.phase !== "authorising") return [];
    call.correlation = undefined;
    const out: NodeAction[] = [{ type: "emit", event: { type: "error", callId: call.callId, role: this.name, message: "clearinghouse unreachable" } }];
    if ((this.opts.clearinghouseUnreachable ?? "fail-closed") === "fail-open") {
      call.local = true;
      out.push(...this.authorised(call, { allowed: true, status: 200, reason: "admitted locally (clearinghouse unreachable)" }, now));
    } else {
      call.phase = "over";
      out.push(...this.decide(call, "AAA", false, { reason: { code: 503, text: "clearinghouse unreachable" } }, now));
    }
    return out;
  }

  private onClearinghouseAnswer(bytes: Buffer, now: number): NodeAction[] {
    let answer: ClearinghouseAnswer;
    try {
      answer = this.opts.clearinghouse.decodeAnswer(bytes);
    } catch (err) {
      return [{ type: "emit", event: { type: "error", role: this.name, message: `bad clearinghouse answer: ${String(err)}` } }];
    }
    if (answer.kind === "authorise") {
      const call = this.pendingAuth.get(answer.correlation);
      if (call === undefined) return [];
      this.pendingAuth.delete(answer.correlation);
      this.authDeadlines.delete(answer.correlation);
      call.correlation = undefined;
      return this.authorised(call, answer.result, now);
    }
    const pending = this.pendingUsage.get(answer.correlation);
    if (!pending) return [];
    this.pendingUsage.delete(answer.correlation);
    this.usageDeadlines.delete(answer.correlation);
    const out: NodeAction[] = pending.attempts > 1 ? [{ type: "cancel-timer", key: `ch-usage:${answer.correlation}` }] : [];
    out.push(
      { type: "emit", event: { type: "usage", callId: pending.callId, role: this.name, durationS: pending.durationS, packets: pending.packets, octets: pending.octets, octetsFromCaller: pending.octetsFromCaller, octetsFromCallee: pending.octetsFromCallee, reported: "clearinghouse" } },
    );
    return out;
  }

  // ---- LDP: the router's DiffServ policy ----

  private install(call: PolicyCall, now: number): NodeAction[] {
    if (call.phase === "installed") return this.decide(call, "LDP", true, {}, now); // resynchronised state
    if (call.phase === "installing") return []; // sent again while the router installs: DEC LDP follows its RPT
    if (!call.authorised || call.phase !== "authorised") {
      return this.decide(call, "LDP", false, { reason: { code: 403, text: "call not authorised" } }, now);
    }
    if (!this.routerHandle) {
      // The router has not (re)opened its configuration state yet (start-up, or this server restarted): wait for it.
      if (!this.waitingForRouter.includes(call)) this.waitingForRouter.push(call);
      return [];
    }
    if (call.flows.length === 0) {
      // No media known yet (an INVITE without an offer, RFC 3261 §13.2.1): nothing for the router; the flows come
      // with the PEP's next update (TLV 9) once the ACK has answered the 2xx's offer.
      call.firstInstance = 0;
      call.instances = 0;
      call.senders = NO_SENDERS;
      return this.installed(call, true, now);
    }
    call.phase = "installing";
    return this.sendInstall(call, "install", now);
  }

  /** DEC Install of the call's classifiers under fresh instance ids (none the router reported in use). */
  private sendInstall(call: PolicyCall, kind: "install" | "reinstall", now: number): NodeAction[] {
    if (!this.routerHandle) return [];
    const choice = this.opts.policy.chooseClass({ callId: call.callId, side: this.opts.side, router: this.opts.router, flows: call.flows.map(fromCopsFlow) });
    if (isPendingDecision(choice)) return this.park(call, kind === "install" ? "class" : "reinstall", choice);
    if (isWireDecision(choice)) return this.parkOnWire(call, kind === "install" ? "class" : "reinstall", choice);
    return this.classChosen(call, kind, choice, now);
  }

  private classChosen(call: PolicyCall, kind: "install" | "reinstall", choice: ClassChoice, now: number): NodeAction[] {
    if (!this.routerHandle) return [];
    let first = this.nextInstance;
    for (let i = 0; i < call.flows.length; i++) {
      if (!this.routerReported.has(first + i)) continue;
      first += i + 1;
      i = -1;
    }
    this.nextInstance = first + call.flows.length;
    call.firstInstance = first;
    call.instances = call.flows.length;
    call.senders = call.flows.map((f) => flowSender(call.ends, f));
    const marks: FlowMark[] = call.flows.map((f, i) => ({
      instanceId: first + i, family: f.family, protocol: f.protocol,
      srcAddress: f.srcAddress, srcPort: f.srcPort, dstAddress: f.dstAddress, dstPort: f.dstPort, dscp: choice.dscp,
    }));
    return this.routerOp({ due: Infinity, call, kind }, buildInstallDecision(this.routerHandle, marks).decisions, now);
  }

  /**
   * Classifier instance ids from a fresh random start (the seed makes every start alike): a restarted server
   * does not reuse ids the router still holds for calls of its previous run.
   */
  drawFreshIdentifiers(): void {
    this.nextInstance = randomInt(1, 0x40000000);
  }

  private toRouter(callId: string, decisions: ReturnType<typeof buildRemoveDecision>["decisions"], now: number): NodeAction[] {
    if (!this.routerHandle) return [];
    this.currentRouterCall = callId;
    const out = this.links.command(this.opts.router, { type: "decide-unsolicited", handle: this.routerHandle, decisions }, now);
    this.currentRouterCall = undefined;
    return out;
  }

  /** A decision to the router whose report is awaited (RFC 3084 §4.4), with its answer deadline. */
  private routerOp(op: RouterOp, decisions: ReturnType<typeof buildRemoveDecision>["decisions"], now: number): NodeAction[] {
    if (!this.routerHandle) return [];
    const delayMs = this.opts.routerAnswerMs ?? DEFAULT_ROUTER_ANSWER_MS;
    op.due = now + delayMs;
    this.routerOps.push(op);
    const out = this.toRouter(op.call?.callId ?? "", decisions, now);
    if (op.due < this.routerTimerAt) {
      this.routerTimerAt = op.due;
      out.push({ type: "set-timer", key: ROUTER_ANSWER_TIMER, delayMs });
    }
    return out;
  }

  /**
   * The router did not report on a decision in time. Its reports come in order, so every decision sent before it
   * is unanswered too: each counts as failed (RFC 2748 §2.3: the PDP may decide again on the handle at any time),
   * and classifiers it may have put in, or failed to take out, are removed by a new decision. Each overdue
   * decision in turn, as if each had its own timer; then the timer is armed for the earliest deadline left.
   */
  private onRouterSilent(now: number): NodeAction[] {
    this.routerTimerAt = -Infinity; // decisions sent meanwhile (cleanups) do not arm it: done below
    const out: NodeAction[] = [];
    for (let at = this.routerOps.findIndex((op) => op.due <= now); at >= 0; at = this.routerOps.findIndex((op) => op.due <= now)) {
      for (const op of this.routerOps.splice(0, at + 1)) for (const a of this.routerOpUnanswered(op, now)) out.push(a);
    }
    let next = Infinity;
    for (const op of this.routerOps) if (op.due < next) next = op.due;
    this.routerTimerAt = next;
    if (next !== Infinity) out.unshift({ type: "set-timer", key: ROUTER_ANSWER_TIMER, delayMs: next - now });
    return out;
  }

  private routerOpUnanswered(op: RouterOp, now: number): NodeAction[] {
    if (op.kind === "config") return [];
    const call = op.call;
    const out: NodeAction[] = [{
      type: "emit",
      event: { type: "error", callId: call?.callId ?? "", role: this.name, message: `router-unanswered from ${this.opts.router}: no report on a ${op.kind} decision within ${this.opts.routerAnswerMs ?? DEFAULT_ROUTER_ANSWER_MS} ms` },
    }];
    const range = (first: number, count: number): number[] => Array.from({ length: count }, (_, i) => first + i);
    if (op.kind === "sweep" || op.kind === "cleanup") {
      out.push(...this.cleanUp(op.ids ?? [], op.call, op.first, op.senders, now)); // again, until the router answers
      return out;
    }
    if (call === undefined || call.forgotten) return out;
    switch (op.kind) {
      case "install": {
        // Failed install: the call is refused as if the router had said so; what it may hold comes out.
        const ids = range(call.firstInstance, call.instances);
        out.push(...this.installed(call, false, now));
        out.push(...this.cleanUp(ids, undefined, undefined, undefined, now));
        break;
      }
      case "reinstall":
        call.flows = NO_FLOWS; // the ids stay the call's: its removal takes them out
        break;
      case "remove": {
        // The call's usage is reported without the last classifiers' counts (never known), and they come out.
        const ids = range(call.firstInstance, call.instances);
        out.push(...this.removed(call, [], now));
        out.push(...this.cleanUp(ids, undefined, undefined, undefined, now));
        break;
      }
      case "change-install": {
        // The old classifiers stay in force; the new ones, if the router put them in, come out (their counts the call's).
        const ids = range(call.firstInstance, call.instances);
        const first = call.firstInstance;
        const senders = call.senders;
        out.push(...this.cleanUp(ids, call, first, senders, now));
        out.push(...this.mediaChanged(call, false, [], "change-install", now));
        break;
      }
      case "change-remove": {
        // The new classifiers are in: the change stands; the replaced ones are asked out again.
        out.push(...this.cleanUp(range(call.replacedFirst, call.replacedCount), call, call.replacedFirst, call.replacedSenders, now));
        out.push(...this.mediaChanged(call, true, [], "change-remove", now));
        break;
      }
    }
    return out;
  }

  /** DEC Remove of classifiers whose state is unknown; their counts go to `call` while its usage is not reported. */
  private cleanUp(ids: number[], call: PolicyCall | undefined, first: number | undefined, senders: readonly FlowSender[] | undefined, now: number): NodeAction[] {
    if (ids.length === 0 || !this.routerHandle) return [];
    const op: RouterOp = { due: Infinity, call, kind: "cleanup", ids };
    if (first !== undefined) op.first = first;
    if (senders !== undefined) op.senders = senders;
    return this.routerOp(op, buildRemoveDecision(this.routerHandle, ids).decisions, now);
  }

  private cleanedUp(op: RouterOp, usage: readonly InstanceUsage[]): void {
    const call = op.call;
    if (call === undefined || call.usageDone || op.first === undefined || op.senders === undefined) return;
    const ids = new Set(op.ids);
    const counts = this.countsBySender(op.senders, op.first, usage.filter((u) => ids.has(u.instanceId)), { packets: 0n, octets: 0n, fromCaller: 0n, fromCallee: 0n });
    call.earlierPackets += counts.packets;
    call.earlierOctets += counts.octets;
    call.earlierFromCaller += counts.fromCaller;
    call.earlierFromCallee += counts.fromCallee;
  }

  private release(call: PolicyCall, why: "noLDP" | "DRQ", now: number): NodeAction[] {
    if (call.changing) {
      // The call ends while its media changes: the classifiers come out once the swap is done.
      if (why === "noLDP" || call.removalFor === undefined) call.removalFor = why;
      return [];
    }
    // The router went away with the call's classifiers (its connection broke): nothing left to remove there.
    if (call.phase === "installed" && !this.routerHandle) call.phase = "over";
    if (call.phase === "installed" && call.instances === 0) {
      // Its last media change left no flow (a=inactive): no classifier to remove, the call's counts are kept.
      call.removalFor = why;
      return this.removed(call, [], now);
    }
    if (call.phase === "installed" && this.routerHandle) {
      call.phase = "removing";
      call.removalFor = why;
      const ids: number[] = [];
      for (let i = 0; i < call.instances; i++) ids.push(call.firstInstance + i);
      return this.routerOp({ due: Infinity, call, kind: "remove" }, buildRemoveDecision(this.routerHandle, ids).decisions, now);
    }
    if (call.phase === "removing" || call.phase === "installing") {
      if (why === "DRQ") call.removalFor = call.removalFor ?? "DRQ";
      else call.removalFor = "noLDP";
      return [];
    }
    const out: NodeAction[] = [];
    if (why === "noLDP") out.push(...this.decide(call, "noLDP", true, {}, now));
    out.push(...this.finishUsage(call, now, 0, 0n, 0n));
    return out;
  }

  private onRouterEvent(e: CopsPdpEvent, now: number): NodeAction[] {
    switch (e.type) {
      case "request": {
        // The router's configuration request opens its provisioning state (RFC 3084 §2.2): answer NULL for now.
        const reconnected = this.routerHandle !== undefined || this.reinstallOnReturn;
        this.routerHandle = ownHandle(e.handle);
        this.routerInventoryUntil = now + (this.opts.resyncGraceMs ?? 3000);
        this.routerOps = [{ due: Infinity, call: undefined, kind: "config" }];
        const out = this.links.command(this.opts.router, { type: "decide", handle: e.handle, decisions: buildNullDecision(e.handle).decisions }, now);
        for (const call of this.waitingForRouter.splice(0)) if (!call.forgotten) out.push(...this.install(call, now));
        if (reconnected) {
          // The router's classifiers went with its connection: the calls still in conversation get theirs again,
          // from their flows, which their PEPs send again when asked (SSQ, RFC 2748 §3.5).
          this.reinstallOnReturn = false;
          for (const [peer, calls] of this.byHandle) {
            let asked = false;
            for (const call of calls.values()) if (call.reinstall) asked = true;
            if (asked) out.push(...this.links.command(peer, { type: "synchronize" }, now));
          }
        }
        return out;
      }
      case "report": {
        let report;
        try {
          report = parseProvisioningReport(e.message);
        } catch {
          report = { reportType: ReportType.Failure, usage: [] };
        }
        if (!e.answersDecision) {
          if (report.reportType !== ReportType.Accounting) return [];
          // The accounting reports soon after the router opened its configuration are its inventory; the others
          // come on the Accounting Timer with the counts of the calls in progress.
          const inventory = now <= this.routerInventoryUntil ? this.onRouterInventory(report.usage, now) : [];
          return [...inventory, ...this.observeProgress(report.usage, now)];
        }
        const op = this.routerOps.shift();
        if (!op) return [];
        const out: NodeAction[] = [];
        if (op.kind === "cleanup") {
          this.cleanedUp(op, report.usage);
          return out;
        }
        const call = op.call;
        if (op.kind === "config" || op.kind === "sweep" || !call || call.forgotten) return out;
        if (op.kind === "change-install" || op.kind === "change-remove") return out.concat(this.mediaChanged(call, report.reportType === ReportType.Success, report.usage, op.kind, now));
        if (op.kind === "reinstall") {
          if (report.reportType !== ReportType.Success) call.instances = 0;
          call.flows = NO_FLOWS;
          return out;
        }
        return out.concat(op.kind === "install" ? this.installed(call, report.reportType === ReportType.Success, now) : this.removed(call, report.usage, now));
      }
      case "deleted":
      case "pep-lost":
        return this.onRouterLost(now);
      default:
        return [];
    }
  }

  /**
   * The router's connection broke (RFC 3084: its provisioned state goes with it). Installations under way wait
   * for it to come back; removals under way are done (nothing is left to remove); installed calls get their
   * classifiers again when it returns.
   */
  private onRouterLost(now: number): NodeAction[] {
    if (this.routerHandle === undefined) return [];
    this.routerHandle = undefined;
    this.reinstallOnReturn = true;
    this.routerReported.clear();
    for (const calls of this.byHandle.values()) for (const call of calls.values()) if (call.phase === "installed") call.reinstall = true;
    const out: NodeAction[] = [];
    for (const op of this.routerOps.splice(0)) {
      const call = op.call;
      if (call === undefined || call.forgotten) continue;
      if (op.kind === "install") {
        call.phase = "authorised";
        call.instances = 0;
        if (call.removalFor) out.push(...this.release(call, call.removalFor, now));
        else this.waitingForRouter.push(call);
      } else if (op.kind === "remove") out.push(...this.removed(call, [], now));
      else if (op.kind === "change-install" || op.kind === "change-remove") {
        // The router went with its classifiers: the call's new flows are installed again when it returns.
        call.changing = false;
        call.replacedCount = 0;
        out.push(...this.decide(call, "LDP", op.kind === "change-remove", op.kind === "change-remove" ? {} : { reason: { code: 503, text: `router ${this.opts.router} went away` } }, now));
        out.push(...this.takeQueuedChanges(call, op.kind === "change-remove", now));
        if (call.removalFor && !call.changing) out.push(...this.release(call, call.removalFor, now));
      }
    }
    return out;
  }

  /**
   * The router's accounting report after it (re)connected: the classifiers it holds (RFC 3084 §4.5). Those no
   * call of this server claims once its PEPs had time to resynchronise are stale (their call ended while this
   * server was away) and removed.
   */
  private onRouterInventory(usage: readonly InstanceUsage[], _now: number): NodeAction[] {
    for (const u of usage) this.routerReported.add(u.instanceId);
    return usage.length > 0 ? [{ type: "set-timer", key: ROUTER_SWEEP_TIMER, delayMs: this.opts.resyncGraceMs ?? 3000 }] : [];
  }

  private sweepRouter(now: number): NodeAction[] {
    const claimed = new Set<number>();
    for (const calls of this.byHandle.values())
      for (const call of calls.values()) if (call.phase === "installed" || call.phase === "installing" || call.phase === "removing") for (let i = 0; i < call.instances; i++) claimed.add(call.firstInstance + i);
    for (const op of this.routerOps) if (op.call) for (let i = 0; i < op.call.instances; i++) claimed.add(op.call.firstInstance + i);
    // The classifiers a media change replaces stay until the new ones are in.
    for (const calls of this.byHandle.values()) for (const call of calls.values()) if (call.changing) for (let i = 0; i < call.replacedCount; i++) claimed.add(call.replacedFirst + i);
    const stale: number[] = [];
    for (const id of this.routerReported) if (!claimed.has(id)) stale.push(id);
    this.routerReported.clear();
    if (stale.length === 0 || !this.routerHandle) return [];
    return this.routerOp({ due: Infinity, call: undefined, kind: "sweep", ids: stale }, buildRemoveDecision(this.routerHandle, stale).decisions, now);
  }

  private installed(call: PolicyCall, ok: boolean, now: number): NodeAction[] {
    if (!ok) {
      call.phase = "authorised";
      call.instances = 0;
      const out = this.decide(call, "LDP", false, { reason: { code: 503, text: `router ${this.opts.router} could not install the policy` } }, now);
      if (call.removalFor) out.push(...this.release(call, call.removalFor, now));
      return out;
    }
    call.phase = "installed";
    call.installedAt = now;
    // The classifiers are in; removal goes by instance id. A router that comes back empty gets them again from
    // the flows its PEP sends again.
    call.flows = NO_FLOWS;
    const choiceEvent: CallEvent = { type: "decision", callId: call.callId, role: this.name, purpose: "Install", allow: true };
    const out: NodeAction[] = [{ type: "emit", event: choiceEvent }];
    if (call.removalFor) {
      // The PEP gave up while the router was installing: take the policy straight back out.
      out.push(...this.release(call, call.removalFor, now));
      return out;
    }
    out.push(...this.decide(call, "LDP", true, {}, now));
    return out;
  }

  private removed(call: PolicyCall, usage: InstanceUsage[], now: number): NodeAction[] {
    // A call that ends by DRQ (refused, cancelled, unanswered) was never in conversation: no duration to bill.
    const durationMs = call.installedAt === undefined || call.removalFor !== "noLDP" ? 0 : now - call.installedAt;
    call.phase = "over";
    // One usage record for the call: the counts of classifiers a media change removed, plus these.
    const counts = this.countsBySender(call.senders, call.firstInstance, usage, this.earlierCounts(call));
    const out: NodeAction[] = [];
    if (call.removalFor === "noLDP") out.push(...this.decide(call, "noLDP", true, {}, now));
    out.push(...this.finishUsage(call, now, durationMs, counts.packets, counts.octets, counts));
    return out;
  }

  private earlierCounts(call: PolicyCall): PartyCounts {
    return { packets: call.earlierPackets, octets: call.earlierOctets, fromCaller: call.earlierFromCaller, fromCallee: call.earlierFromCallee };
  }

  /**
   * Adds the router's counts of a call's classifiers (`senders` by instance from `first`) to `into`; counts of
   * other classifiers (a report meant for another decision) are not the call's.
   */
  private countsBySender(senders: readonly FlowSender[], first: number, usage: readonly InstanceUsage[], into: PartyCounts): PartyCounts {
    for (const u of usage) {
      if (u.instanceId < first || u.instanceId - first >= senders.length) continue;
      into.packets += u.packets;
      into.octets += u.octets;
      const sender = senders[u.instanceId - first];
      if (sender === "caller") into.fromCaller += u.octets;
      else if (sender === "callee") into.fromCallee += u.octets;
    }
    return into;
  }

  // ---- calls in progress: the router's accounting reports (RFC 3084 §4.5) ----

  /**
   * The router's counts of the calls in conversation, to the policy adapter: a verdict `end` ends the call. A
   * call whose media is being changed is left for the next report (its classifiers are being swapped).
   */
  private observeProgress(usage: readonly InstanceUsage[], now: number): NodeAction[] {
    const policy = this.opts.policy;
    if (policy.observeProgress === undefined || usage.length === 0) return [];
    const byInstance = new Map<number, PolicyCall>();
    for (const calls of this.byHandle.values())
      for (const call of calls.values()) if (call.phase === "installed" && !call.changing && !call.cut) for (let i = 0; i < call.instances; i++) byInstance.set(call.firstInstance + i, call);
    const counted = new Map<PolicyCall, InstanceUsage[]>();
    for (const u of usage) {
      const call = byInstance.get(u.instanceId);
      if (call === undefined) continue;
      const list = counted.get(call);
      if (list) list.push(u);
      else counted.set(call, [u]);
    }
    const out: NodeAction[] = [];
    for (const [call, list] of counted) {
      const c = this.countsBySender(call.senders, call.firstInstance, list, this.earlierCounts(call));
      const verdict = policy.observeProgress({
        callId: call.callId, side: this.opts.side, now, startMs: call.installedAt ?? now,
        packets: Number(c.packets), octets: Number(c.octets), octetsFromCaller: Number(c.fromCaller), octetsFromCallee: Number(c.fromCallee),
      });
      if (isPendingDecision<ProgressVerdict>(verdict)) {
        const turn: ProgressTurn = { call, verdict: undefined, settled: false, outOfTurn: false };
        this.progressTurns.push(turn);
        verdict.then(
          (v) => {
            turn.settled = true;
            turn.verdict = v;
            if (!turn.outOfTurn || !v?.end) return;
            // Past its event's turn: the verdict comes back through the driver as an event, like a timer.
            const id = this.nextEnd++;
            this.pendingEnds.set(id, { call, reason: v.reason });
            this.wake?.([{ type: "set-timer", key: PROGRESS_END_TIMER + id, delayMs: 0 }]);
          },
          (err: unknown) => this.wake?.([{ type: "emit", event: { type: "error", callId: call.callId, role: this.name, message: `policy observeProgress failed: ${String(err)}` } }]),
        );
      } else if (verdict?.end) for (const a of this.endInProgress(call, verdict.reason, now)) out.push(a);
    }
    return out;
  }

  private onProgressEnd(id: number, now: number): NodeAction[] {
    const pending = this.pendingEnds.get(id);
    this.pendingEnds.delete(id);
    return pending === undefined || pending.call.forgotten ? [] : this.endInProgress(pending.call, pending.reason, now);
  }

  /**
   * Ends a call in conversation as its time limit does: an unsolicited DEC AAA gives its PEP the time spoken so
   * far as the call's time limit, so the proxy sends BYE both ways at its next check; the policy is removed and
   * the usage reported as for any BYE.
   */
  private endInProgress(call: PolicyCall, reason: string | undefined, now: number): NodeAction[] {
    if (call.cut || call.phase !== "installed" || call.deleted || call.installedAt === undefined) return [];
    call.cut = true;
    const spokenS = Math.max(1, Math.floor((now - call.installedAt) / 1000));
    const handle = handleOfKey(call.handle);
    const text = reason ?? "usage limit reached";
    const decisions = buildSipAaaDecision("AAA", handle, true, { timeLimitSeconds: spokenS, reason: { code: 403, text } }).decisions;
    const out = this.links.command(call.pep, { type: "decide-unsolicited", handle, decisions }, now);
    out.push({ type: "emit", event: { type: "step", callId: call.callId, role: this.name, what: `call ended in progress: ${text} (time limit ${spokenS} s)` } });
    return out;
  }

  // ---- a PEP's connection broke (RFC 2748 §2.5): keep its states for it to resynchronise, then drop the rest ----

  private onPepLost(peer: string): NodeAction[] {
    if ((this.byHandle.get(peer)?.size ?? 0) === 0) return [];
    let sync = this.pepSync.get(peer);
    if (sync === undefined) {
      sync = { round: 0, asked: false };
      this.pepSync.set(peer, sync);
    }
    // States the PEP sends again from now on are current; the others are released when it says it is done.
    sync.round++;
    sync.asked = false;
    return [{ type: "set-timer", key: PEP_GRACE_TIMER + peer, delayMs: this.opts.resyncGraceMs ?? 3000 }];
  }

  private onPepOpened(peer: string, now: number): NodeAction[] {
    const sync = this.pepSync.get(peer);
    if (sync === undefined || (this.byHandle.get(peer)?.size ?? 0) === 0) return [];
    // RFC 2748 §3.5: SSQ asks the PEP to send all its states again; its SSC says it has.
    sync.asked = true;
    return [
      { type: "set-timer", key: PEP_GRACE_TIMER + peer, delayMs: this.opts.resyncGraceMs ?? 3000 },
      ...this.links.command(peer, { type: "synchronize" }, now),
    ];
  }

  private onPepSynchronised(peer: string, now: number): NodeAction[] {
    const out: NodeAction[] = [{ type: "cancel-timer", key: PEP_GRACE_TIMER + peer }];
    out.push(...this.pepGone(peer, now));
    return out;
  }

  /**
   * The states a PEP did not send again after its connection broke (it restarted, or never came back) end as if
   * it had deleted them: policy removed, usage reported from the installation until now.
   */
  private pepGone(peer: string, now: number): NodeAction[] {
    const sync = this.pepSync.get(peer);
    const calls = this.byHandle.get(peer);
    if (sync === undefined || calls === undefined) return [];
    this.pepSync.delete(peer);
    const out: NodeAction[] = [];
    for (const call of [...calls.values()]) {
      if (call.syncRound >= sync.round) continue;
      if (call.connected === undefined && call.installedAt !== undefined) call.connected = { endMs: now, durationMs: now - call.installedAt };
      for (const a of this.onDeleted(peer, handleOfKey(call.handle), now)) out.push(a);
    }
    for (const call of calls.values()) call.syncRound = 0;
    return out;
  }

  private onDeleted(peer: string, handle: Buffer, now: number): NodeAction[] {
    const calls = this.byHandle.get(peer);
    const key = handleKey(handle);
    const call = calls?.get(key);
    if (!call) return [];
    calls?.delete(key);
    call.deleted = true;
    if (call.awaiting !== 0) {
      const entry = this.parked.get(call.awaiting);
      if (entry !== undefined) this.forgetParked(entry);
      call.awaiting = 0;
      if (entry?.kind === "class" && call.phase === "installing") {
        // Its class never chosen, nothing went to the router: nothing to remove there.
        call.phase = "authorised";
        call.instances = 0;
      }
    }
    if (call.phase === "authorising") {
      call.phase = "over";
      if (call.correlation !== undefined) {
        this.pendingAuth.delete(call.correlation);
        this.authDeadlines.delete(call.correlation);
      }
      call.correlation = undefined;
    }
    const out = call.phase === "over" ? this.finishUsage(call, now, 0, 0n, 0n) : this.release(call, "DRQ", now);
    return out;
  }

  // ---- usage (FIG. 6 steps 8-9 / 17-18) ----

  private finishUsage(call: PolicyCall, now: number, durationMs: number, packets: bigint, octets: bigint, parties?: PartyCounts): NodeAction[] {
    const out: NodeAction[] = [];
    if (!call.usageDone && call.authorised) {
      call.usageDone = true;
      // The conversation as the PEP saw it (2xx to BYE) when REQ noLDP said so; else from the installation.
      const connected = call.connected;
      const endMs = connected ? connected.endMs : now;
      const startMs = connected ? connected.endMs - connected.durationMs : (call.installedAt ?? now);
      const durationS = Math.round((connected ? connected.durationMs : durationMs) / 1000);
      const octetsFromCaller = Number(parties?.fromCaller ?? 0n);
      const octetsFromCallee = Number(parties?.fromCallee ?? 0n);
      const observed = this.opts.policy.observeUsage({ callId: call.callId, side: this.opts.side, startMs, endMs, durationS, packets: Number(packets), octets: Number(octets), octetsFromCaller, octetsFromCallee });
      if (isPendingDecision(observed)) {
        const callId = call.callId;
        observed.then(undefined, (err: unknown) => this.wake?.([{ type: "emit", event: { type: "error", callId, role: this.name, message: `policy observeUsage failed: ${String(err)}` } }]));
      }
      const report: UsageReport = {
        callId: call.callId, side: this.opts.side, source: call.caller, destination: call.callee,
        startMs, endMs, durationS, packets: Number(packets), octets: Number(octets), now,
      };
      if (call.transactionId !== undefined) report.transactionId = call.transactionId;
      const exchange = this.opts.clearinghouse.reportUsage(report);
      if (exchange.kind === "done") {
        out.push({ type: "emit", event: { type: "usage", callId: call.callId, role: this.name, durationS, packets: Number(packets), octets: Number(octets), octetsFromCaller, octetsFromCallee, reported: "local" } });
      } else {
        const pending: PendingUsage = { correlation: exchange.correlation, bytes: exchange.bytes, label: exchange.label, callId: call.callId, durationS, packets: Number(packets), octets: Number(octets), octetsFromCaller, octetsFromCallee, attempts: 1 };
        this.pendingUsage.set(exchange.correlation, pending);
        out.push({ type: "send", proto: "OSP", to: this.opts.clearinghouse.peer ?? "CH", bytes: exchange.bytes, label: exchange.label, callId: call.callId });
        this.usageDeadlines.set(exchange.correlation, now + (this.opts.clearinghouseTimeoutMs ?? 3000), now, out);
      }
    }
    if (call.deleted || call.phase === "over") this.forget(call, now);
    return out;
  }

  /** An unconfirmed UsageIndication is sent again, same message (the clearinghouse stores it once), until confirmed. */
  private retryUsage(correlation: string, _now: number): NodeAction[] {
    const pending = this.pendingUsage.get(correlation);
    if (!pending) return [];
    pending.attempts++;
    return [
      { type: "emit", event: { type: "usage", callId: pending.callId, role: this.name, durationS: pending.durationS, packets: pending.packets, octets: pending.octets, octetsFromCaller: pending.octetsFromCaller, octetsFromCallee: pending.octetsFromCallee, reported: "pending" } },
      { type: "send", proto: "OSP", to: this.opts.clearinghouse.peer ?? "CH", bytes: pending.bytes, label: pending.label, callId: pending.callId },
      { type: "set-timer", key: `ch-usage:${correlation}`, delayMs: this.opts.usageRetryMs ?? 5000 },
    ];
  }

  private forget(call: PolicyCall, now: number): void {
    if (!call.deleted || call.forgotten) return; // the PEP's DRQ ends the request state
    call.forgotten = true;
    this.live--;
    this.opts.policy.callEnded?.({ callId: call.callId, side: this.opts.side, now });
  }
}

function fromCopsFlow(f: SipAaaMediaFlow): MediaFlow {
  return {
    direction: "caller-to-callee", media: "audio", protocol: "udp",
    src: { address: f.srcAddress, port: f.srcPort }, dst: { address: f.dstAddress, port: f.dstPort },
    codecs: f.codec ? [f.codec] : [], bandwidthKbps: f.bandwidthBps / 1000,
  };
}
