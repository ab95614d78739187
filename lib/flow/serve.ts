// One FIG. 5/6 role in this process (`callgate serve ROLE --config FILE`): the topology every process builds
// alike from the deployment file (same seed, same options), of which this process runs one node on the
// socket driver, reaching the other roles at the file's loopback addresses.
import { decodeCopsMessage } from "../../protocols/cops/index.js";
import { DefaultPolicyAdapter, type PolicyAdapter } from "../adapters/policy-adapter.js";
import { startCallerAuthentication } from "../auth/caller-auth.js";
import { durableRealmCapacityPolicy, realmCapacityPolicy } from "../auth/realm-config.js";
import { isRequest, parseSipMessage, parseViaValue } from "../../protocols/sip/index.js";
import type { MessageRecord, Protocol } from "../drivers/message-record.js";
import type { CallEvent } from "./call-events.js";
import { horizonOf } from "./call-outcomes.js";
import { DEPLOY_PEERS, callSpecsOf, checkRoleCovered, directoryOf, rolesFor, type DeployConfig } from "./deploy-config.js";
import type { CallOutcome, Role } from "./run-types.js";
import { applyCopsSecurity, identifyCopsPeer, isCopsPdpRole, pepIdOf } from "./cops-security.js";
import { tlsForRole } from "./deploy-tls.js";
import type { DeployedRole, RoleHandle, RoleSocketOptions } from "../start/role-sockets.js";
import { startPolicyServer } from "../start/policy-server.js";
import { startSipProxy } from "../start/sip-proxy.js";
import { startEdgeRouter } from "../start/edge-router.js";
import { startUserAgent } from "../start/user-agent.js";
import { openCdrFile, startClearinghouse } from "../start/clearinghouse.js";
import { countCdrsWritten } from "./operations.js";
import { startServedAccounting } from "../accounting/serve-export.js";
import { openServedQuota } from "../quota/serve-quota.js";
import { startServedSessionLimits } from "../dsc/serve-session-limits.js";
import type { RoleMetrics } from "../observability/metrics.js";
import { prepareRun } from "./run-setup.js";
import type { FlowTopology } from "./topology.js";
import type { FlowNode } from "../drivers/node.js";
import { ROLE_HOSTS } from "./role-table.js";
import type { PlannedReinvite } from "../roles/user-agent.js";

export interface ServeOptions {
  config: DeployConfig;
  role: string;
  /** UAC: how many calls to place (default: the file's calls.count). */
  calls?: number;
  onRecord?: (record: MessageRecord) => void;
  onEvent?: (event: CallEvent) => void;
  onError?: (where: string, err: unknown) => void;
  /** Input the listeners refuse (limits, a COPS stream or first message answered by CC), by protocol and cause. */
  onDrop?: (proto: Protocol, cause: string, detail: string) => void;
  /** CH: called for each CDR newly stored (once durable). */
  onCdrWritten?: () => void;
  /** The role's metrics registry (POL1/POL2: session-limit gauges by entity). */
  metrics?: RoleMetrics;
}

export type ServedCall = CallOutcome & { ended: boolean };

export interface ServedRole {
  role: Role;
  /** What this process listens on ("host:port"; OSP as an http URL). */
  addresses: { sip?: string; ws?: string; cops?: string; osp?: string };
  /** UAC only: settles once every call has ended (or the calls' horizon passed), with each call's outcome. */
  calls?: Promise<ServedCall[]>;
  /** What the role still holds: calls, COPS request states, classifiers, unconfirmed usage (see roleState). */
  state(): Record<string, number>;
  /** Inbound connections open now, by listener ("POL1 COPS"). */
  connections(): Record<string, number>;
  close(): Promise<void>;
}

/** Who opened a TCP connection: a COPS PEP by the PEPID of its Client-Open (RFC 2748 §3.1, §3.2), a SIP peer by the sent-by host of its first request's top Via (RFC 3261 §18.2.1). */
export function tcpPeerOf(acceptor: Role, proto: Protocol, first: Buffer): Role | undefined {
  const peers = DEPLOY_PEERS[acceptor];
  try {
    if (proto === "COPS") {
      const m = decodeCopsMessage(first);
      if (m.op !== "OPN") return undefined;
      // The roles' PEPIDs: a SIP proxy names itself by its host, an edge router by its lower-case name.
      return peers.find((r) => m.pepId === pepIdOf(r));
    }
    if (proto === "SIP") {
      const m = parseSipMessage(first);
      const top = m.getHeaders("Via")[0];
      const host = isRequest(m) && top !== undefined ? parseViaValue(top)[0]?.host : undefined;
      return host === undefined ? undefined : peers.find((r) => ROLE_HOSTS[r] === host);
    }
  } catch {
    // not a message this acceptor's peers send first: the connection stays unnamed and is closed
  }
  return undefined;
}

/** What a role holds that a finished run should have released (the leftovers of call-outcomes, per role). */
export function roleState(topo: FlowTopology, role: Role): Record<string, number> {
  switch (role) {
    case "SIP1":
    case "SIP2": {
      const p = role === "SIP1" ? topo.sip1 : topo.sip2;
      return { calls: p.activeCalls, copsRequestStates: p.copsRequestStates, transactions: p.pendingTransactions };
    }
    case "POL1":
    case "POL2": {
      const p = role === "POL1" ? topo.pol1 : topo.pol2;
      return { calls: p.activeCalls, copsRequestStates: p.copsRequestStates, usageBacklog: p.usageBacklog };
    }
    case "R1":
    case "R2": {
      const r = role === "R1" ? topo.r1 : topo.r2;
      return { classifiers: r.classifiers.size, installs: r.installs, removals: r.removals, copsRequestStates: r.copsRequestStates };
    }
    default:
      return {};
  }
}

/** The callee's re-INVITEs of the file's `calls.reinvites`, which the UAS sends in every call it answers. */
function calleeReinvites(config: DeployConfig): { reinvites?: PlannedReinvite[] } {
  const reinvites = (config.calls.reinvites ?? []).filter((r) => r.by === "callee").map(({ by: _by, ...planned }) => planned);
  return reinvites.length > 0 ? { reinvites } : {};
}

/** Milliseconds on the host's monotonic clock (µs resolution): every process on the host reads the same clock, so their record files merge by `t`. */
export function hostClockMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

/** Starts the topology's node of `role` with its role's start function, at the deployment's addresses. */
function startServedNode(
  topo: FlowTopology,
  role: Role,
  settings: Omit<DeployedRole<FlowNode<CallEvent>>, "node">,
  options: RoleSocketOptions,
): Promise<RoleHandle> {
  const started = <N extends FlowNode<CallEvent>>(node: N): { deployed: DeployedRole<N> } & RoleSocketOptions => ({ ...options, deployed: { ...settings, node } });
  switch (role) {
    case "UAC":
      return startUserAgent(started(topo.uac));
    case "UAS":
      return startUserAgent(started(topo.uas));
    case "SIP1":
      return startSipProxy(started(topo.sip1));
    case "SIP2":
      return startSipProxy(started(topo.sip2));
    case "POL1":
      return startPolicyServer(started(topo.pol1));
    case "POL2":
      return startPolicyServer(started(topo.pol2));
    case "R1":
      return startEdgeRouter(started(topo.r1));
    case "R2":
      return startEdgeRouter(started(topo.r2));
    case "CH":
      if (!topo.ch) throw new Error("CH is not part of this topology");
      return startClearinghouse(started(topo.ch));
  }
}

export async function serveRole(opts: ServeOptions): Promise<ServedRole> {
  const { config } = opts;
  const role = checkRoleCovered(opts.role, config);
  const count = role === "UAC" ? (opts.calls ?? config.calls.count) : config.calls.count;
  // The roles run on the wall clock (wallClock below): the UAC's calls start from now on it.
  const startAt = Date.now();
  const specs = callSpecsOf({ ...config.calls, count }, startAt);
  const onRecord = opts.onRecord;
  // tls.sip: the roles' streams run inside TLS and their Vias say so (RFC 3261 §18.2.1).
  const topology = config.tls?.sip ? { ...config.topology, sipTransport: "tls" as const } : config.topology;
  // A policy server with its rules in the deploy file's `quota`: its side's calls counted and limited, counters on disk.
  const quotaSettings = role === "POL1" || role === "POL2" ? config.quota?.[role] : undefined;
  const quota = quotaSettings ? openServedQuota(quotaSettings, role === "POL1" ? "originating" : "terminating") : undefined;
  // The deploy file's `auth`: SIP1 challenges callers, POL1 checks their credentials before its policy decides.
  const auth = config.auth && (role === "SIP1" || role === "POL1") ? await startCallerAuthentication(config.auth) : undefined;
  // The deploy file's `realms`: POL1 holds client providers' callers to their rented capacity (inside the credentials
  // check), the capacity in use in its journal, so that a restarted POL1 still counts the calls it admitted before.
  const realmsOf = role === "POL1" ? config.realms : undefined;
  const realmsInner = (): PolicyAdapter => quota?.adapter ?? new DefaultPolicyAdapter();
  const realms = realmsOf?.journal !== undefined ? durableRealmCapacityPolicy(realmsInner(), realmsOf, realmsOf.journal) : undefined;
  const shared = realms?.policy ?? (realmsOf ? realmCapacityPolicy(realmsInner(), realmsOf) : quota?.adapter);
  const decides = auth && role === "POL1" ? auth.wrap(shared ?? new DefaultPolicyAdapter()) : shared;
  // The deploy file's `sessionLimits`: POL1 counts callers' sessions, POL2 callees', on their DSCs or in Redis.
  const sessionLimits = config.sessionLimits && (role === "POL1" || role === "POL2")
    ? await startServedSessionLimits(config.sessionLimits, role, config.roles[role]?.cops ?? 0, {
        onPeersDown: (peers, waitedMs) => opts.onError?.("sessionLimits", new Error(`the links to DSC ${peers.join(", ")} were not up after ${waitedMs} ms: sessions whose authority is there are decided as unreachable (refused unless failClosed is false) until they are`)),
      })
    : undefined;
  const limited = sessionLimits?.wrap(decides);
  if (limited && opts.metrics) sessionLimits?.registerMetrics(opts.metrics);
  const originating = role === "POL1" ? (limited ?? decides) : undefined;
  const terminating = role === "POL2" ? (limited ?? decides) : undefined;
  const run = prepareRun({
    ...(originating || terminating ? { policy: { ...(originating ? { originating } : {}), ...(terminating ? { terminating } : {}) } } : {}),
    ...(auth && role === "SIP1" ? { callerChallenge: auth.challenger } : {}),
    driver: "net",
    topology,
    calls: specs,
    seed: config.seed,
    keepRecords: false,
    keepUsage: false,
    ...(config.pki ? { pki: config.pki } : {}),
    // The UAS answers every INVITE alike, also calls beyond the file's count (the UAC's --calls).
    callee: () => ({ outcome: "answer", answerDelayMs: config.calls.answerDelayMs, durationMs: config.calls.durationMs, hangsUp: config.calls.hangUp === "callee", ...calleeReinvites(config) }),
    ...(onRecord ? { onRecord: (r: MessageRecord) => onRecord({ ...r, t: hostClockMs() }) } : {}),
  });
  const node = run.topo.nodes.find((n) => n.name === role);
  if (!node) throw new Error(`${role} is not part of this topology`);
  // The seed makes every start of a role alike; a restarted one must not reuse the identifiers its peers still hold.
  const { sip1, sip2, pol1, pol2, r1, r2 } = run.topo;
  for (const n of [sip1, sip2, pol1, pol2, r1, r2]) if (n === node) n.drawFreshIdentifiers();
  // The user agents repeat a run's tags and branches only when the file names its seed.
  for (const n of [run.topo.uac, run.topo.uas]) if (n === node && !config.seedFromFile) n.drawFreshIdentifiers();
  // A restarted proxy still forwards the in-dialog requests of calls it lost, by their Route sets.
  for (const p of [sip1, sip2]) if (p === node) p.setPeerHosts(ROLE_HOSTS);
  applyCopsSecurity(run.topo, role, config.copsSecurity);
  // The clearinghouse's CDRs in the file of the deploy file's cdrStore, or in a temporary file (as startClearinghouse's cdrFile).
  const cdrFile = role === "CH" && run.topo.ch ? openCdrFile(config.cdrStore) : undefined;
  if (cdrFile && run.topo.ch) run.topo.ch.clearinghouse.options.store = cdrFile.store;
  if (opts.onCdrWritten && run.topo.ch) countCdrsWritten(run.topo.ch.clearinghouse.options.store, opts.onCdrWritten);
  const directory = directoryOf(config);
  for (const name of Object.keys(directory)) if (!rolesFor(role, config).includes(name as Role)) delete directory[name];
  // The node runs through its role's start function (lib/start): alone on the socket driver, its peers at the
  // file's addresses.
  if (opts.onEvent) {
    const onEvent = opts.onEvent;
    run.bus.on("*", (e) => onEvent(e));
  }
  // A policy server with the deploy file's `accounting`: Start at installation, Interim-Updates, Stop with the usage.
  const accounting = config.accounting && (role === "POL1" || role === "POL2") ? await startServedAccounting(config.accounting, role, config.file, run.bus) : undefined;
  const handle = await startServedNode(
    run.topo,
    role,
    {
      directory,
      topology,
      // A COPS PEP is named by an OPN its PDP admits (copsSecurity); anything else gets the PDP's CC.
      identifyTcpPeer: (proto, _acceptor, first, source) =>
        proto === "COPS" && isCopsPdpRole(role) ? identifyCopsPeer(config.copsSecurity, role, first, source) : tcpPeerOf(role, proto, first),
      release: async () => {
        await accounting?.close();
        await quota?.close();
        await auth?.close();
        await sessionLimits?.close();
        await cdrFile?.close();
        realms?.close();
      },
    },
    {
      events: run.bus,
      ...(config.limits ? { limits: config.limits } : {}),
      // TLS (deploy file `tls`): this process holds its own certificate and key only.
      ...(config.tls ? { tls: tlsForRole(config.tls, role) } : {}),
      onRecord: run.onRecord,
      ...(opts.onError ? { onError: opts.onError } : {}),
      ...(opts.onDrop ? { onDrop: opts.onDrop } : {}),
    },
  ).catch(async (err: unknown) => {
    // The role did not start: its session counter's listener must not keep the process alive.
    await sessionLimits?.close();
    realms?.close();
    throw err;
  });
  let closed = false;
  const served: ServedRole = {
    role,
    addresses: handle.addresses,
    state: () => roleState(run.topo, role),
    connections: () => handle.gauges.connections(),
    close: async () => {
      closed = true;
      await handle.close();
    },
  };
  if (role === "UAC") {
    const ended = new Set<string>();
    run.bus.on("terminated", (e) => {
      if (e.role === "UAC") ended.add(e.callId);
    });
    served.calls = (async () => {
      const deadline = performance.now() + horizonOf(specs) - startAt;
      while (!run.tracker.allEnded && !closed && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return run.tracker.outcomes().map((o) => ({ ...o, ended: ended.has(o.callId) }));
    })();
  }
  return served;
}
