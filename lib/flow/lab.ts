// The lab: SIP1, POL1, R1, CH, SIP2, POL2, R2 and an answering UAS on loopback sockets, with no UAC of our own.
// An outside caller (SIPp, a softphone) sends its INVITE to SIP1; the driver names it "UAC" in the records, so
// the ladder reads like FIG. 5 / FIG. 6. The UAS answers every INVITE and never hangs up.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CdrStore } from "../adapters/cdr-store.js";
import { DefaultPolicyAdapter } from "../adapters/policy-adapter.js";
import type { CallerAuthentication } from "../auth/caller-auth.js";
import { durableRealmCapacityPolicy, realmCapacityPolicy, type ServedRealms } from "../auth/realm-config.js";
import { SqliteCdrStore } from "../adapters/cdr-store-sqlite.js";
import type { MessageRecord } from "../drivers/message-record.js";
import { SipIds } from "../roles/sip-ids.js";
import { UserAgent } from "../roles/user-agent.js";
import type { CallEvent } from "./call-events.js";
import { flowNetwork } from "./run-network.js";
import { labTls } from "./deploy-tls.js";
import type { SocketNetworkOptions } from "../drivers/socket-network.js";
import type { FaultPlan } from "../drivers/fault-plan.js";
import type { ConnectionLimits } from "../../protocols/net/connection-limits.js";
import type { PlannedMediaChange, TopologyOptions } from "./run-types.js";
import { ROLE_HOSTS, buildTopology, resolveTopology, type FlowTopology } from "./topology.js";
import { seededRandom } from "../drivers/seeded-random.js";
import { randomInt } from "node:crypto";

export interface LabOptions {
  /** UDP port of SIP1 on 127.0.0.1 (ephemeral when absent). */
  sipPort?: number;
  /**
   * SIP1 also takes callers over WebSocket (RFC 7118) on this port of 127.0.0.1 (0: an ephemeral one); wss when
   * `tls` is given. Absent: no WebSocket listener.
   */
  wsPort?: number;
  /** Faults on the lab's own messages (drop, delay or copy the Nth of a kind), e.g. a policy decision that never comes. */
  faults?: FaultPlan;
  /** The UAS sends 180 at once and 200 this many ms later (default 500). */
  answerDelayMs?: number;
  topology?: Partial<Omit<TopologyOptions, "sipTransport">>;
  /** Records kept in `records`: none (default: a long run keeps no history), the last N, or `true` for all. */
  keepRecords?: boolean | number;
  /** The clearinghouse's CDRs go to this SQLite file, kept after close (default: a temporary file removed on close). */
  cdrDb?: string;
  onRecord?: (record: MessageRecord) => void;
  onEvent?: (event: CallEvent) => void;
  onError?: (where: string, err: unknown) => void;
  /**
   * TLS on every link between the roles (SIP from SIP1 on, COPS, OSP over HTTPS) with one certificate naming
   * every role and the CA they pin; the outside caller still reaches SIP1 over UDP.
   */
  tls?: { certificatePem: string; keyPem: string; caPem: string; requireClientCert?: boolean };
  /** Caps and timeouts of the COPS and OSP HTTP listeners (DEFAULT_CONNECTION_LIMITS where not given). */
  limits?: Partial<ConnectionLimits>;
  /** Every connection or request the listeners' limits refuse (see SocketNetworkOptions.onDrop). */
  onDrop?: SocketNetworkOptions<CallEvent>["onDrop"];
  /** Seeds the roles' tags, branches and ids; without one every start draws fresh ones (RFC 3261 §19.3). */
  seed?: number;
  /** Address the UAS receives media on, in its SDP (default 127.0.0.1: loopback, never a routable address). */
  mediaAddress?: string;
  /** The UAS sends its 180 reliably (RFC 3262) to callers that support 100rel (always to those that require it). */
  reliableProvisionals?: boolean;
  /**
   * The callee's new offers in every call it answers, as a deploy file's `calls.reinvites`: `{by: "callee", afterMs,
   * hold, method?, codec?, mediaAddress?}`, the first `afterMs` after the ACK, each next one after the previous one's
   * answer. The caller is outside the lab, so an entry `by: "caller"` is refused.
   */
  reinvites?: PlannedMediaChange[];
  /** Callers must authenticate: SIP1 challenges with 407, POL1 checks the credentials (lib/auth, docs/auth.md). */
  auth?: CallerAuthentication;
  /**
   * POL1 holds client providers' callers to the capacity they rent (realm capacity sharing, docs/auth.md); with a
   * `journal`, the period's time and the credit spent outlive the lab (its calls end with it).
   */
  realms?: ServedRealms;
}

export interface LabEndpoint {
  sip?: string;
  /** SIP1's WebSocket listener, as a URL (ws://127.0.0.1:port or wss://…). */
  ws?: string;
  cops?: string;
  osp?: string;
}

export interface Lab {
  /** Addresses each role listens on ("127.0.0.1:port"; OSP as an http URL). */
  endpoints: Record<string, LabEndpoint>;
  /** The messages kept (see `keepRecords`), oldest first, the outside caller's included (as role "UAC"). */
  readonly records: readonly MessageRecord[];
  /** Counts of the whole run, kept whatever `keepRecords` says. */
  stats(): LabStats;
  /** Sizes of what the lab holds per call or message; all but `cdrs` return to 0 once no call is in progress. */
  held(): Record<string, number>;
  /** The clearinghouse's CDR store (on disk: CDRs take no memory). */
  readonly cdrStore: CdrStore;
  /** The roles' nodes, for gauges (request states, queues). */
  readonly topology: FlowTopology;
  /** Inbound connections open now, by listener ("POL1 COPS"). */
  connections(): Record<string, number>;
  close(): Promise<void>;
}

export interface LabStats {
  /** Messages moved. */
  messages: number;
  /** INVITEs from the outside caller (retransmissions not counted). */
  callsFromOutside: number;
  /** Final responses to the outside caller's INVITEs, by label ("200 OK", "486 Busy Here", …). */
  finalsToCaller: Record<string, number>;
  /** Final responses to every request of the outside caller, by CSeq method then label ("OPTIONS" → "200 OK"). */
  responsesByMethod: Record<string, Record<string, number>>;
  /** Call-IDs of calls answered 2xx whose BYE has not been answered yet (a call that never ended shows here). */
  callsNotEnded: string[];
  /** Offers refused for their media: 488 responses and answers refusing a stream (port 0) sent to the caller. */
  mediaRefused: number;
}

/** Keeps the last `capacity` items in arrival order (capacity Infinity: all of them). */
export class RecordRing<T> {
  private items: T[] = [];
  private start = 0;
  constructor(readonly capacity: number) {}
  push(item: T): void {
    if (this.capacity <= 0) return;
    if (this.items.length < this.capacity) this.items.push(item);
    else {
      this.items[this.start] = item;
      this.start = (this.start + 1) % this.capacity;
    }
  }
  get size(): number {
    return this.items.length;
  }
  toArray(): T[] {
    return this.start === 0 ? this.items.slice() : [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
  }
}

/** The CSeq "number METHOD" of a SIP message (RFC 3261 §20.16), read from its header block only. */
function cseqOf(bytes: Buffer): { seq: string; method: string } | undefined {
  const head = bytes.toString("latin1", 0, Math.min(bytes.length, 4096));
  const m = /\r\ncseq[ \t]*:[ \t]*(\d+)[ \t]+([A-Za-z]+)/i.exec(head);
  return m ? { seq: m[1] ?? "", method: (m[2] ?? "").toUpperCase() } : undefined;
}

/** The name the outside caller gets in events and records. */
export const LAB_CALLER = "UAC";

export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const callerChanges = (options.reinvites ?? []).findIndex((r) => r.by !== "callee");
  if (callerChanges >= 0) throw new Error(`reinvites[${callerChanges}]: the lab's caller is outside it; only by: callee is sent by the lab`);
  // With TLS the roles' SIP runs over streams (TLS between SIP1, SIP2 and the UAS); the caller's leg stays UDP.
  const tls = options.tls ? labTls(options.tls) : undefined;
  const topology = resolveTopology({ ...options.topology, sipTransport: tls?.sip ? "tls" : "udp" });
  // A seed repeats a run's ids; a long-running lab without one draws fresh tags and branches every start.
  const seed = options.seed ?? randomInt(1, 2 ** 31 - 1);
  const auth = options.auth;
  // POL1 checks credentials first, then the caller's realm against its provider's rented capacity.
  // The lab is SIP1, POL1 and the callee in one process: the calls its journal holds open died with it.
  const durableRealms = options.realms?.journal !== undefined ? durableRealmCapacityPolicy(new DefaultPolicyAdapter(), options.realms, options.realms.journal, { endOpenCalls: true }) : undefined;
  const decides = durableRealms?.policy ?? (options.realms ? realmCapacityPolicy(new DefaultPolicyAdapter(), options.realms) : new DefaultPolicyAdapter());
  const originating = auth ? auth.wrap(decides) : options.realms ? decides : undefined;
  const topo = buildTopology(topology, [], [], {
    seed,
    ...(originating ? { adapters: { policy: { originating }, ...(auth ? { callerChallenge: auth.challenger } : {}) } } : {}),
  });
  const answerDelayMs = options.answerDelayMs ?? 500;
  const reinvites = (options.reinvites ?? []).map(({ by: _by, ...planned }) => planned);
  const uas = new UserAgent({
    name: "UAS", proxy: "SIP2", host: ROLE_HOSTS.UAS ?? "192.0.2.20", mediaAddress: options.mediaAddress ?? "127.0.0.1", transport: tls?.sip ? "TLS" : "UDP",
    ...(options.reliableProvisionals ? { reliableProvisionals: true } : {}),
    behaviour: () => ({ outcome: "answer", answerDelayMs, durationMs: 0, hangsUp: false, ...(reinvites.length > 0 ? { reinvites } : {}) }),
    ids: new SipIds(seededRandom(seed + 1)),
  });
  // CDRs on disk, not in memory: a lab that runs for days would otherwise hold every one (≈1 KB each).
  const scratch = options.cdrDb === undefined ? mkdtempSync(join(tmpdir(), "callgate-lab-")) : undefined;
  const cdrStore = new SqliteCdrStore(options.cdrDb ?? join(scratch ?? "", "cdr.sqlite"));
  if (topo.ch) topo.ch.clearinghouse.options.store = cdrStore;
  const keep = options.keepRecords === true ? Infinity : options.keepRecords === false || options.keepRecords === undefined ? 0 : options.keepRecords;
  const ring = new RecordRing<MessageRecord>(keep);
  const stats: LabStats = { messages: 0, callsFromOutside: 0, finalsToCaller: {}, responsesByMethod: {}, callsNotEnded: [], mediaRefused: 0 };
  // Answered calls until their BYE is answered (oldest forgotten first past 4096: the summary names a sample).
  const openCalls = new Set<string>();
  // An INVITE retransmission repeats the call id and CSeq (RFC 3261 §17.1.1.2); it comes within 64*T1 (32 s),
  // so the last few thousand INVITEs are enough to recognise it (oldest forgotten first: a Set keeps insertion order).
  const seenInvites = new Set<string>();
  const countRecord = (r: MessageRecord): void => {
    stats.messages++;
    if (r.proto !== "SIP") return;
    if (r.from === LAB_CALLER && r.msg === "INVITE") {
      // A copy of its own: a slice of the message's text would keep the whole message alive.
      const key = Buffer.from(`${r.callId}|${cseqOf(r.bytes)?.seq ?? ""}`).toString("latin1");
      if (seenInvites.has(key)) return;
      if (seenInvites.size >= 4096) seenInvites.delete(seenInvites.values().next().value ?? "");
      seenInvites.add(key);
      stats.callsFromOutside++;
    } else if (r.to === LAB_CALLER && /^[2-6]\d\d /.test(r.msg)) {
      const method = cseqOf(r.bytes)?.method ?? "?";
      const byMethod = (stats.responsesByMethod[method] ??= {});
      byMethod[r.msg] = (byMethod[r.msg] ?? 0) + 1;
      if (r.msg.startsWith("488 ") || (r.msg.startsWith("2") && /\r?\nm=\w+ 0 /.test(r.bytes.toString("latin1")))) stats.mediaRefused++;
      if (method === "INVITE") stats.finalsToCaller[r.msg] = (stats.finalsToCaller[r.msg] ?? 0) + 1;
      if (method === "INVITE" && r.msg.startsWith("2") && !openCalls.has(r.callId ?? "")) {
        if (openCalls.size >= 4096) openCalls.delete(openCalls.values().next().value ?? "");
        openCalls.add(Buffer.from(r.callId ?? "").toString("latin1"));
      }
    }
    // A BYE answered 2xx, either way, ends the call (RFC 3261 §15.1.2).
    if (r.msg.startsWith("2") && r.callId !== undefined && openCalls.has(r.callId) && cseqOf(r.bytes)?.method === "BYE") openCalls.delete(r.callId);
  };
  // The same wiring as every socket run (flowNetwork), with our UAS instead of the flow's and no UAC.
  const nodes = [...topo.nodes.filter((n) => n.name !== "UAC" && n.name !== "UAS"), uas];
  const net = flowNetwork(topology, nodes, {
    ...(options.sipPort !== undefined ? { sipPorts: { SIP1: options.sipPort } } : {}),
    ...(options.wsPort !== undefined ? { sipWebSocketPorts: { SIP1: options.wsPort } } : {}),
    ...(options.faults ? { faults: options.faults } : {}),
    externalSipPeer: { acceptor: "SIP1", as: LAB_CALLER },
    ...(tls ? { tls } : {}),
    onRecord: (r) => {
      countRecord(r);
      ring.push(r);
      options.onRecord?.(r);
    },
    onEmit: (_node, e) => options.onEvent?.(e),
    onError: (where, err) => options.onError?.(where, err),
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.onDrop ? { onDrop: options.onDrop } : {}),
    // Records, usage indications and CDRs carry real time, not time since the lab started.
    wallClock: true,
  });
  try {
    await net.start();
  } catch (err) {
    await net.stop();
    await cdrStore.close();
    durableRealms?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    throw err;
  }
  let closed = false;
  return {
    endpoints: net.addresses(),
    get records() {
      return ring.toArray();
    },
    stats: () => ({
      ...stats,
      finalsToCaller: { ...stats.finalsToCaller },
      responsesByMethod: Object.fromEntries(Object.entries(stats.responsesByMethod).map(([m, v]) => [m, { ...v }])),
      callsNotEnded: [...openCalls],
    }),
    held: () => ({
      records: ring.size,
      hints: net.hintsHeld,
      calls: topo.sip1.activeCalls + topo.sip2.activeCalls + topo.pol1.activeCalls + topo.pol2.activeCalls + uas.activeCalls,
      transactions: topo.sip1.pendingTransactions + topo.sip2.pendingTransactions + uas.pendingTransactions,
      copsRequestStates: topo.sip1.copsRequestStates + topo.sip2.copsRequestStates + topo.pol1.copsRequestStates + topo.pol2.copsRequestStates,
      classifiers: topo.r1.classifiers.size + topo.r2.classifiers.size,
      usageBacklog: topo.pol1.usageBacklog + topo.pol2.usageBacklog,
    }),
    connections: () => net.openConnections(),
    topology: topo,
    cdrStore,
    close: async () => {
      if (closed) return;
      closed = true;
      await net.stop();
      await cdrStore.close();
      durableRealms?.close();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    },
  };
}
