// The `realms` setting of `callgate lab --realms FILE`, the deploy file and scenarios: the master provider's own
// realms and the client providers renting its capacity (realms, virtual identity, ports, time, credit,
// suspension). One schema for all three; the policy server's RealmCapacityPolicyAdapter is built from it. The lab
// and the deploy file add where POL1 journals the capacity in use, so that a restarted POL1 still holds it.
import type { PolicyAdapter } from "../adapters/policy-adapter.js";
import { CapacityLedger, type RentedCapacity } from "./capacity-ledger.js";
import { CapacityJournal, type JournalReplay } from "./capacity-journal.js";
import { RealmCapacityPolicyAdapter, type AccountingSink, type RealmCapacityPolicyOptions } from "./realm-capacity-adapter.js";

/** Master realms and client providers with the capacity each rents. */
export interface CallRealms {
  master: string[];
  clients: Array<{ name: string; realms: string[]; virtualIdentity: { user: string }; capacity: RentedCapacity }>;
  /** A call whose usage never comes holds its port this long (default 4 h): make it the longest call allowed. */
  maxCallSeconds?: number;
}

const nonNegative = { type: "number", minimum: 0 };

/** JSON Schema (draft-07) properties of a `realms` section. */
export const CALL_REALMS_PROPERTIES = {
  master: { type: "array", items: { type: "string", minLength: 1 } },
  maxCallSeconds: { type: "integer", minimum: 1 },
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

/** Realms of a policy server on sockets (lab, deploy file): also the journal file of the capacity in use. */
export interface ServedRealms extends CallRealms {
  /** The capacity journal (JSON lines), replayed when POL1 starts again. */
  journal?: string;
}

/** JSON Schema (draft-07) of the lab's realms file and the deploy file's `realms` section: a `realms` section and its `journal`. */
export const SERVED_REALMS_SCHEMA = { ...CALL_REALMS_SCHEMA, properties: { ...CALL_REALMS_PROPERTIES, journal: { type: "string", minLength: 1 } } } as const;

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

/** A realm capacity policy whose ledger lives in a journal file: replayed at open, written before each decision goes out. */
export interface DurableRealmCapacity {
  policy: RealmCapacityPolicyAdapter;
  /** What the journal held when it was opened. */
  replay: JournalReplay;
  /** Calls the journal held open that were closed at open (`endOpenCalls`). */
  ended: number;
  /** Closes the journal; the capacity in use stays in it for the next start. */
  close(): void;
}

/**
 * The originating policy held to the realms' rented capacity, with its ledger rebuilt from the journal at
 * `journalPath` (created if missing) and each session's start and stop on disk there before the answer that
 * depends on it (a verdict is then a promise): a policy server killed and started again still counts the calls it
 * admitted before. With
 * `endOpenCalls` the calls the journal holds open are closed at once, uncharged (their ends died with them), and
 * only the period's time and the credit spent carry over.
 */
export function durableRealmCapacityPolicy(
  inner: PolicyAdapter,
  realms: CallRealms,
  journalPath: string,
  { accounting = () => undefined, now = Date.now(), endOpenCalls = false }: { accounting?: (side: string) => AccountingSink | undefined; now?: number; endOpenCalls?: boolean } = {},
): DurableRealmCapacity {
  const ledger = new CapacityLedger(Object.fromEntries(realms.clients.map((c) => [c.name, c.capacity])));
  const { journal, replay } = CapacityJournal.open(journalPath, ledger);
  const policy = realmCapacityPolicy(inner, realms, accounting, { ledger, onJournal: (e) => journal.write(e) });
  const ended = endOpenCalls ? policy.endOpenCalls(now) : 0;
  return { policy, replay, ended, close: () => journal.close() };
}

/** The originating policy held to the realms' rented capacity; accounting to the sinks given (by "master" or provider name). */
export function realmCapacityPolicy(
  inner: PolicyAdapter,
  realms: CallRealms,
  accounting: (side: string) => AccountingSink | undefined = () => undefined,
  durable: Pick<RealmCapacityPolicyOptions, "ledger" | "onJournal"> = {},
): RealmCapacityPolicyAdapter {
  const master = accounting("master");
  return new RealmCapacityPolicyAdapter(inner, {
    ...durable,
    ...(realms.maxCallSeconds !== undefined ? { maxCallMs: realms.maxCallSeconds * 1000 } : {}),
    masterRealms: realms.master,
    clients: realms.clients.map((c) => {
      const sink = accounting(c.name);
      return { ...c, ...(sink ? { accounting: sink } : {}) };
    }),
    ...(master ? { masterAccounting: master } : {}),
  });
}
