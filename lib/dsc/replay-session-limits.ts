// Session limits in a replayed scenario (its `sessionLimits` section): POL1 counts each call's caller and POL2
// its callee, each on the DSC the scenario gives it, the DSCs linked in one process (InProcessDscCluster), so
// the same counting runs under the in-memory driver's virtual time and on loopback sockets.
import type { EntityThreshold } from "../../protocols/dsc/index.js";
import type { PolicyAdapter } from "../adapters/policy-adapter.js";
import type { PerSide } from "../flow/run-types.js";
import { InProcessDscCluster } from "./in-process.js";
import { SessionLimitPolicy } from "./session-limit-policy.js";
import { sessionLimitsProblems, type SessionLimitsCommon } from "./session-limits-schema.js";

/** A scenario's `sessionLimits` section as its schema validates it (docs/scenarios.md): thresholds per entity, membership, and which DSC each policy server counts on. */
export interface ReplaySessionLimitsSection extends SessionLimitsCommon {
  /** The DSCs of the run (default: those the other fields name). */
  dscs?: string[];
  /** The DSC each counting policy server asks: POL1 counts the caller's entities, POL2 the callee's (default: both, each on a DSC named after it). */
  policyServers?: { POL1?: string; POL2?: string };
  /** Authoritative DSC by entity; the others by rendezvous hashing over `dscs`. */
  authority?: Record<string, string>;
  /** DSCs no other DSC can reach during the run. */
  unreachable?: string[];
}

/** The policy servers' adapters of a run and the DSCs behind them. */
export interface ReplaySessionLimits {
  policy: PerSide<PolicyAdapter>;
  cluster: InProcessDscCluster;
  /** The DSC each counting policy server asks. */
  dscOf: { POL1?: string; POL2?: string };
  /** Sessions still counted by the policy servers (0 once every call is over). */
  counting(): number;
  close(): void;
}

/** Builds the DSCs and policies of a `sessionLimits` section; throws an Error naming the field that is wrong. */
export function replaySessionLimits(section: ReplaySessionLimitsSection): ReplaySessionLimits {
  const [problem] = sessionLimitsProblems(section);
  if (problem) throw new Error(`sessionLimits.${problem.path.join(".")}: ${problem.message}`);
  const thresholds = new Map<string, EntityThreshold>(Object.entries(section.thresholds).map(([entity, t]) => [entity, { global: t.global, local: t.local ?? 0 }]));
  const dscOf = section.policyServers ?? { POL1: "POL1", POL2: "POL2" };
  const named = [...Object.values(dscOf), ...Object.values(section.authority ?? {}), ...(section.unreachable ?? [])];
  const dscs = section.dscs ?? [...new Set(named)];
  const known = new Set(dscs);
  for (const [field, id] of [
    ...Object.entries(dscOf).map(([role, id]) => [`policyServers.${role}`, id] as const),
    ...Object.entries(section.authority ?? {}).map(([entity, id]) => [`authority["${entity}"]`, id] as const),
    ...(section.unreachable ?? []).map((id, i) => [`unreachable[${i}]`, id] as const),
  ])
    if (!known.has(id)) throw new Error(`sessionLimits.${field}: DSC '${id}' is not one of dscs (${dscs.join(", ")})`);
  for (const entity of Object.keys(section.authority ?? {}))
    if (!thresholds.has(entity)) throw new Error(`sessionLimits.authority["${entity}"]: no threshold for this entity`);
  const cluster = new InProcessDscCluster(
    dscs,
    {
      threshold: (entity) => thresholds.get(entity),
      authority: new Map(Object.entries(section.authority ?? {})),
      failClosed: section.failClosed ?? true,
    },
    { unreachable: section.unreachable ?? [] },
  );
  const membership = { ...(section.groups ? { groups: section.groups } : {}), ...(section.realms !== undefined ? { realms: section.realms } : {}) };
  const policies: SessionLimitPolicy[] = [];
  const policy: PerSide<PolicyAdapter> = {};
  for (const [role, side] of [["POL1", "originating"], ["POL2", "terminating"]] as const) {
    const dsc = dscOf[role];
    if (dsc === undefined) continue;
    const p = new SessionLimitPolicy({ counter: cluster.counter(dsc), membership, server: role, port: 3288, sides: [side] });
    policies.push(p);
    policy[side] = p;
  }
  return {
    policy,
    cluster,
    dscOf,
    counting: () => policies.reduce((n, p) => n + p.counting, 0),
    close: () => cluster.close(),
  };
}
