// The `realms` setting of `callgate lab --realms FILE`, the deploy file and scenarios: the master provider's own
// realms and the client providers renting its capacity (realms, virtual identity, ports, time, credit,
// suspension). One schema for all three; the policy server's RealmCapacityPolicyAdapter is built from it.
import type { PolicyAdapter } from "../adapters/policy-adapter.js";
import type { RentedCapacity } from "./capacity-ledger.js";
import { RealmCapacityPolicyAdapter, type AccountingSink } from "./realm-capacity-adapter.js";

/** Master realms and client providers with the capacity each rents. */
export interface CallRealms {
  master: string[];
  clients: Array<{ name: string; realms: string[]; virtualIdentity: { user: string }; capacity: RentedCapacity }>;
}

const nonNegative = { type: "number", minimum: 0 };

/** JSON Schema (draft-07) properties of a `realms` section. */
export const CALL_REALMS_PROPERTIES = {
  master: { type: "array", items: { type: "string", minLength: 1 } },
  clients: {
    type: "array",
    items: {
      type: "object",
      additionalProperties: false,
      required: ["name", "realms", "virtualIdentity", "capacity"],
      properties: {
        name: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$" },
        realms: { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
        virtualIdentity: { type: "object", additionalProperties: false, required: ["user"], properties: { user: { type: "string", minLength: 1 } } },
        capacity: {
          type: "object",
          additionalProperties: false,
          properties: {
            ports: { type: "integer", minimum: 0 },
            secondsPerPeriod: nonNegative,
            periodSeconds: { type: "number", exclusiveMinimum: 0 },
            credit: nonNegative,
            pricePerMinute: nonNegative,
            suspended: { type: "boolean" },
          },
        },
      },
    },
  },
} as const;

/** JSON Schema (draft-07) of a `realms` section. */
export const CALL_REALMS_SCHEMA = { type: "object", additionalProperties: false, required: ["master", "clients"], properties: CALL_REALMS_PROPERTIES } as const;

/** Problems the schema cannot see: a realm named twice, a provider named twice (field path and message). */
export function callRealmsProblems(realms: CallRealms): Array<{ path: Array<string | number>; message: string }> {
  const out: Array<{ path: Array<string | number>; message: string }> = [];
  const owner = new Map<string, string>();
  realms.master.forEach((r, i) => {
    if (owner.has(r.toLowerCase())) out.push({ path: ["master", i], message: `realm '${r}' is named twice` });
    owner.set(r.toLowerCase(), "the master");
  });
  const names = new Set<string>();
  realms.clients.forEach((c, k) => {
    if (names.has(c.name)) out.push({ path: ["clients", k, "name"], message: `provider '${c.name}' is named twice` });
    names.add(c.name);
    c.realms.forEach((r, i) => {
      const before = owner.get(r.toLowerCase());
      if (before !== undefined) out.push({ path: ["clients", k, "realms", i], message: `realm '${r}' already belongs to ${before}` });
      owner.set(r.toLowerCase(), `provider '${c.name}'`);
    });
  });
  return out;
}

/** The originating policy held to the realms' rented capacity; accounting to the sinks given (by "master" or provider name). */
export function realmCapacityPolicy(inner: PolicyAdapter, realms: CallRealms, accounting: (side: string) => AccountingSink | undefined = () => undefined): RealmCapacityPolicyAdapter {
  const master = accounting("master");
  return new RealmCapacityPolicyAdapter(inner, {
    masterRealms: realms.master,
    clients: realms.clients.map((c) => {
      const sink = accounting(c.name);
      return { ...c, ...(sink ? { accounting: sink } : {}) };
    }),
    ...(master ? { masterAccounting: master } : {}),
  });
}
