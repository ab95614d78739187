// The FIG. 5 / FIG. 6 topology: UAC, SIP1, POL1, R1, CH, SIP2, POL2, R2, UAS as nodes, wired by role names.
// Forced denials (FaultSpec kind "deny") become role configuration here.
import { OspTokenValidator } from "../../protocols/osp/index.js";
import type { SipRequest, SipResponse } from "../../protocols/sip/index.js";
import { MemoryCdrStore } from "../adapters/cdr-store-memory.js";
import type { CdrStore } from "../adapters/cdr-store.js";
import { NoClearinghouse, type ClearinghouseAdapter } from "../adapters/clearinghouse-adapter.js";
import { OspClearinghouseAdapter } from "../adapters/osp-clearinghouse-adapter.js";
import { DefaultPolicyAdapter, type PolicyAdapter } from "../adapters/policy-adapter.js";
import { answerDigestChallenge } from "../auth/digest-client.js";
import type { FlowNode } from "../drivers/node.js";
import type { CallerChallenge } from "../roles/sip-proxy.js";
import { ClearinghouseNode } from "../roles/ch-node.js";
import { Clearinghouse } from "../roles/clearinghouse.js";
import { EdgeRouter } from "../roles/edge-router.js";
import { PolicyServer } from "../roles/policy-server.js";
import { SipIds } from "../roles/sip-ids.js";
import { SipProxy } from "../roles/sip-proxy.js";
import { UserAgent, type CalleeBehaviour, type PlannedCall, type PlannedReinvite } from "../roles/user-agent.js";
import type { CallEvent } from "./call-events.js";
import { flowPki, type FlowPki } from "./flow-pki.js";
import type { CallSpec, FaultSpec, PerSide, TopologyOptions } from "./run-types.js";
import { seededRandom } from "../drivers/seeded-random.js";
import { PROTOCOL_PORTS, pdpOf, roleHost, routerOf, sipNextOf } from "./role-table.js";

/** The nine roles of a run, built and wired, with their adapters. */
export interface FlowTopology {
  nodes: FlowNode<CallEvent>[];
  uac: UserAgent;
  uas: UserAgent;
  sip1: SipProxy;
  sip2: SipProxy;
  pol1: PolicyServer;
  pol2: PolicyServer;
  pol1Policy: PolicyAdapter;
  pol2Policy: PolicyAdapter;
  r1: EdgeRouter;
  r2: EdgeRouter;
  ch?: ClearinghouseNode;
  cdrStore?: CdrStore;
  callIds: string[];
}

/** The user's adapters; every one left out is the default. */
export interface TopologyAdapters {
  policy?: PerSide<PolicyAdapter>;
  clearinghouse?: PerSide<ClearinghouseAdapter>;
  cdrStore?: CdrStore;
  /** SIP1 challenges callers with it (RFC 3261 §22.3; lib/auth's SipChallenger). */
  callerChallenge?: CallerChallenge;
}

export { ROLE_HOSTS } from "./role-table.js";

export function callIdOf(spec: CallSpec, index: number): string {
  return spec.id ?? `call-${index + 1}@callgate.example.com`;
}

/** Topology options with the defaults filled in. */
export function resolveTopology(t: Partial<TopologyOptions> | undefined): TopologyOptions {
  return {
    clearinghouse: t?.clearinghouse ?? "osp-http",
    clearinghouseUnreachable: t?.clearinghouseUnreachable ?? "fail-closed",
    signedTokens: t?.signedTokens ?? true,
    sipTransport: t?.sipTransport ?? "udp",
    clearinghouseTimeoutMs: t?.clearinghouseTimeoutMs ?? 3000,
    usageRetryMs: t?.usageRetryMs ?? 5000,
    policyTimeoutMs: t?.policyTimeoutMs ?? 3000,
    ...(t?.nextHops !== undefined ? { nextHops: t.nextHops } : {}),
    ...(t?.userAgentTransports !== undefined ? { userAgentTransports: t.userAgentTransports } : {}),
  };
}

/**
 * The user agents whose SIP runs over another transport than the proxies' (userAgentTransports; a stream is TLS
 * when the roles' streams are), as the drivers' sipNodeTransports; undefined when none does.
 */
export function sipNodeTransportsOf(topology: Pick<TopologyOptions, "sipTransport" | "userAgentTransports">): Record<string, "udp" | "tcp" | "tls"> | undefined {
  const base = topology.sipTransport ?? "udp";
  let out: Record<string, "udp" | "tcp" | "tls"> | undefined;
  for (const [ua, t] of Object.entries(topology.userAgentTransports ?? {})) {
    const transport = t === "tcp" && base === "tls" ? "tls" : t;
    if (transport !== base) (out ??= {})[ua] = transport;
  }
  return out;
}

/** `sipNodeTransports` for a driver's options, when some user agent's hop differs. */
export function withSipNodeTransports(topology: Pick<TopologyOptions, "sipTransport" | "userAgentTransports">): { sipNodeTransports?: Record<string, "udp" | "tcp" | "tls"> } {
  const byNode = sipNodeTransportsOf(topology);
  return byNode === undefined ? {} : { sipNodeTransports: byNode };
}

const VIA_TRANSPORT = { udp: "UDP", tcp: "TCP", tls: "TLS" } as const;

/** The re-INVITEs one side of a call sends, in order. */
function reinvitesBy(c: CallSpec, side: "caller" | "callee"): PlannedReinvite[] {
  return (c.reinvites ?? []).filter((r) => r.by === side).map(({ by: _by, ...planned }) => planned);
}

/** Builds the nine roles for these options, calls and faults. */
export function buildTopology(topology: TopologyOptions, calls: CallSpec[], faults: FaultSpec[] = [], timing: { t1?: number; seed?: number; callee?: (callId: string) => CalleeBehaviour; pki?: FlowPki; adapters?: TopologyAdapters } = {}): FlowTopology {
  const user = timing.adapters ?? {};
  const random = seededRandom(timing.seed ?? 1);
  const denials = faults.filter((f): f is Extract<FaultSpec, { kind: "deny" }> => f.kind === "deny");
  const denied = new Set(denials.filter((f) => f.nth === undefined).map((f) => f.role));
  const refusedInstalls = (router: "R1" | "R2"): { failInstallsNumbered?: number[] } => {
    const nths = denials.flatMap((f) => (f.role === router && f.nth !== undefined ? [f.nth] : []));
    return nths.length > 0 ? { failInstallsNumbered: nths } : {};
  };
  const transport = topology.sipTransport === "tls" ? "TLS" : topology.sipTransport === "tcp" ? "TCP" : "UDP";
  // A user agent on another transport than the proxies': it speaks that one, and its proxy speaks it to it.
  const byNode = sipNodeTransportsOf(topology);
  const transportOf = (ua: "UAC" | "UAS"): "UDP" | "TCP" | "TLS" => (byNode?.[ua] ? VIA_TRANSPORT[byNode[ua]] : transport);
  const peerTransports = (ua: "UAC" | "UAS"): { peerTransports?: Record<string, "UDP" | "TCP" | "TLS"> } => (byNode?.[ua] ? { peerTransports: { [ua]: VIA_TRANSPORT[byNode[ua]] } } : {});
  const callIds = calls.map(callIdOf);
  const specById = new Map(calls.map((c, i) => [callIds[i] ?? "", c]));
  const t1 = timing.t1 !== undefined ? { t1: timing.t1 } : {};

  const plans: PlannedCall[] = calls.map((c, i) => {
    const plan: PlannedCall = { callId: callIds[i] ?? "", from: c.caller, to: c.callee, startMs: c.startMs, durationMs: c.durationMs, hangUp: c.hangUp };
    if (c.outcome === "cancel") plan.cancelAfterMs = c.cancelAfterMs ?? Math.max(1, Math.floor(c.answerDelayMs / 2));
    if (c.noAnswerTimeoutMs !== undefined) plan.noAnswerTimeoutMs = c.noAnswerTimeoutMs;
    const reinvites = reinvitesBy(c, "caller");
    if (reinvites.length > 0) plan.reinvites = reinvites;
    if (c.lateOffer) plan.lateOffer = true;
    if (c.require100rel) plan.require100rel = true;
    return plan;
  });
  const behaviour = (callId: string): CalleeBehaviour => {
    const c = specById.get(callId);
    if (!c) return { outcome: "busy", answerDelayMs: 0, durationMs: 0, hangsUp: false };
    // A call the caller cancels rings until then, like one nobody answers.
    const outcome = c.outcome === "busy" || c.outcome === "decline" || c.outcome === "no-answer" ? c.outcome : c.outcome === "cancel" ? "no-answer" : "answer";
    const reinvites = reinvitesBy(c, "callee");
    return { outcome, answerDelayMs: c.answerDelayMs, durationMs: c.durationMs, hangsUp: c.hangUp === "callee", ...(reinvites.length > 0 ? { reinvites } : {}) };
  };

  // A caller with credentials answers SIP1's challenge (RFC 3261 §22.3); its cnonces come from the run's seed.
  const cnonce = (): string => Math.floor(random() * 2 ** 48).toString(16).padStart(12, "0");
  const authenticate = calls.some((c) => c.credentials !== undefined)
    ? { authenticate: (callId: string, challenge: SipResponse, invite: SipRequest) => { const credentials = specById.get(callId)?.credentials; return credentials && answerDigestChallenge(challenge, invite, credentials, cnonce); } }
    : {};
  const uac = new UserAgent({ name: "UAC", proxy: sipNextOf("UAC"), host: roleHost("UAC"), mediaAddress: roleHost("UAC"), transport: transportOf("UAC"), calls: plans, ids: new SipIds(random), random, ...t1, ...authenticate });
  const uas = new UserAgent({ name: "UAS", proxy: sipNextOf("UAS"), host: roleHost("UAS"), mediaAddress: roleHost("UAS"), transport: transportOf("UAS"), behaviour: timing.callee ?? behaviour, ids: new SipIds(random), random, ...t1 });
  const outbound = (role: "SIP1" | "SIP2"): { outboundProxy?: string } => {
    const uri = topology.nextHops?.[role];
    return uri === undefined ? {} : { outboundProxy: uri };
  };
  const sip1 = new SipProxy({ name: "SIP1", host: roleHost("SIP1"), pdp: pdpOf("SIP1"), nextHop: () => sipNextOf("SIP1"), transport, ...peerTransports("UAC"), random, ids: new SipIds(random), ...t1, ...outbound("SIP1") , ...(user.callerChallenge ? { challenge: user.callerChallenge } : {}) });
  const sip2 = new SipProxy({ name: "SIP2", host: roleHost("SIP2"), pdp: pdpOf("SIP2"), nextHop: () => sipNextOf("SIP2"), transport, ...peerTransports("UAS"), random, ids: new SipIds(random), ...t1, ...outbound("SIP2") });

  let ch: ClearinghouseNode | undefined;
  let cdrStore: CdrStore | undefined;
  const adapters: [ClearinghouseAdapter, ClearinghouseAdapter] = [new NoClearinghouse(), new NoClearinghouse()];
  if (topology.clearinghouse !== "none") {
    const pki = topology.signedTokens ? (timing.pki ?? flowPki("ed25519", timing.seed ?? 1)) : undefined;
    cdrStore = user.cdrStore ?? new MemoryCdrStore();
    const route: { prefix: string; destinations: { address: string }[]; timeLimitSeconds: number; allowedSources?: string[] } = {
      prefix: "", destinations: [{ address: `[${roleHost("UAS")}]:${PROTOCOL_PORTS.SIP}` }], timeLimitSeconds: 4 * 3600,
    };
    if (denied.has("CH")) route.allowedSources = ["no-such-source"];
    ch = new ClearinghouseNode("CH", new Clearinghouse({ routes: [route], store: cdrStore, ...(pki ? { signer: pki.signer } : {}) }));
    const validator = new OspTokenValidator({ caCertificatesPem: pki ? [pki.caCertificatePem] : [], allowUnsigned: !pki });
    adapters[0] = new OspClearinghouseAdapter({ peer: "CH", idPrefix: "pol1", random });
    adapters[1] = new OspClearinghouseAdapter({ peer: "CH", idPrefix: "pol2", validator, random });
  }
  if (user.clearinghouse?.originating) adapters[0] = user.clearinghouse.originating;
  if (user.clearinghouse?.terminating) adapters[1] = user.clearinghouse.terminating;
  // A forced denial (FaultSpec "deny") overrides the user's policy of that side.
  const pol1Policy = (!denied.has("POL1") && user.policy?.originating) || new DefaultPolicyAdapter({ denyAll: denied.has("POL1") });
  const pol2Policy = (!denied.has("POL2") && user.policy?.terminating) || new DefaultPolicyAdapter({ denyAll: denied.has("POL2") });
  const unreachable = topology.clearinghouseUnreachable ?? "fail-closed";
  const chTiming = { clearinghouseTimeoutMs: topology.clearinghouseTimeoutMs ?? 3000, usageRetryMs: topology.usageRetryMs ?? 5000, policyTimeoutMs: topology.policyTimeoutMs ?? 3000 };
  const pol1 = new PolicyServer({ name: "POL1", side: "originating", router: routerOf("POL1"), policy: pol1Policy, clearinghouse: adapters[0], clearinghouseUnreachable: unreachable, ...chTiming });
  const pol2 = new PolicyServer({ name: "POL2", side: "terminating", router: routerOf("POL2"), policy: pol2Policy, clearinghouse: adapters[1], clearinghouseUnreachable: unreachable, ...chTiming });
  const r1 = new EdgeRouter({ name: "R1", pdp: pdpOf("R1"), failInstall: denied.has("R1"), ...refusedInstalls("R1"), random });
  const r2 = new EdgeRouter({ name: "R2", pdp: pdpOf("R2"), failInstall: denied.has("R2"), ...refusedInstalls("R2"), random });

  const nodes: FlowNode<CallEvent>[] = [uac, sip1, pol1, r1];
  if (ch) nodes.push(ch);
  nodes.push(sip2, pol2, r2, uas);
  const topo: FlowTopology = { nodes, uac, uas, sip1, sip2, pol1, pol2, pol1Policy, pol2Policy, r1, r2, callIds };
  if (ch) topo.ch = ch;
  if (cdrStore) topo.cdrStore = cdrStore;
  return topo;
}
