// The `sessionLimits` section of a deploy file and of a scenario share their first fields: thresholds by entity,
// group membership, realms, failing closed. Each file adds its own: the deploy file where the counters run (dsc
// or redis), a scenario which DSCs a run has (dscs, policyServers, authority, unreachable).

/** The fields every `sessionLimits` section has. */
export interface SessionLimitsCommon {
  /** Limits by entity name (`user alice@example.net`, `group sales`, `realm example.net`). */
  thresholds: Record<string, { global: number; local?: number }>;
  /** The groups of each user address. */
  groups?: Record<string, string[]>;
  /** Whether a user's realm (the host of the address) is counted too. */
  realms?: boolean;
  /** Refuse (default) or grant when the counter cannot decide. */
  failClosed?: boolean;
}

const SESSION_LIMITS_COMMON_PROPERTIES = {
  thresholds: {
    type: "object",
    minProperties: 1,
    additionalProperties: {
      type: "object",
      additionalProperties: false,
      required: ["global"],
      properties: { global: { type: "integer", minimum: 0 }, local: { type: "integer", minimum: 0 } },
    },
  },
  groups: { type: "object", additionalProperties: { type: "array", items: { type: "string", minLength: 1 } } },
  realms: { type: "boolean" },
  failClosed: { type: "boolean" },
} as const;

/** The JSON schema (draft-07) of a `sessionLimits` section: the common fields and the file's `own`. */
export function sessionLimitsSchema<Own extends Record<string, object>>(own: Own) {
  return { type: "object", additionalProperties: false, required: ["thresholds"], properties: { ...SESSION_LIMITS_COMMON_PROPERTIES, ...own } } as const;
}

/** An entity name: `user <address>`, `group <name>` or `realm <host>`. */
const ENTITY = /^(user|group|realm) \S+$/;

/** What the schema does not say of the common fields: an entity of no known kind, a local threshold above the global one. */
export function sessionLimitsProblems(section: SessionLimitsCommon): Array<{ path: string[]; message: string }> {
  const problems: Array<{ path: string[]; message: string }> = [];
  for (const [entity, t] of Object.entries(section.thresholds)) {
    if (!ENTITY.test(entity)) problems.push({ path: ["thresholds", entity], message: "is no entity: 'user <address>', 'group <name>' or 'realm <host>'" });
    if (t.local !== undefined && t.local > t.global) problems.push({ path: ["thresholds", entity, "local"], message: `${t.local} is above the global threshold ${t.global}` });
  }
  return problems;
}
