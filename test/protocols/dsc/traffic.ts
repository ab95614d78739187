// The account model of the random-traffic tests: six users in two groups under one realm, and the properties
// every backend must keep (checked against what the test itself knows is active).
import fc from "fast-check";
import type { EntityThreshold } from "../../../protocols/dsc/index.js";

export const USERS = ["user u0", "user u1", "user u2", "user u3", "user u4", "user u5"];
export const GROUP_OF = (user: string): string => (USERS.indexOf(user) < 3 ? "group ga" : "group gb");
export const REALM = "realm example.net";

const LIMITS: Record<string, EntityThreshold> = { user: { global: 2, local: 2 }, group: { global: 4, local: 2 }, realm: { global: 6, local: 3 } };

/** The thresholds of the model; `localZero` asks the authority for every session. */
export function thresholds(localZero = false): (entity: string) => EntityThreshold | undefined {
  return (entity) => {
    const t = LIMITS[entity.slice(0, entity.indexOf(" "))];
    return t && (localZero ? { global: t.global, local: 0 } : t);
  };
}

/** A session's entities: its user, the user's group and the realm; now and then the user alone. */
export function entitiesOf(userIndex: number, userOnly: boolean): string[] {
  const user = USERS[userIndex % USERS.length] as string;
  return userOnly ? [user] : [user, GROUP_OF(user), REALM];
}

export const ENTITIES = [...USERS, "group ga", "group gb", REALM];

export type Step =
  | { t: "authorise"; dsc: number; user: number; userOnly: boolean }
  | { t: "terminate"; pick: number }
  | { t: "deliver"; pick: number; count: number }
  | { t: "timer"; dsc: number; pick: number }
  | { t: "kill"; dsc: number }
  | { t: "restart"; dsc: number; linksBack: boolean }
  | { t: "reconnect" };

export function stepsArb(opts: { faults: boolean; timers: boolean; maxLength: number }): fc.Arbitrary<Step[]> {
  // More sessions start than end, so that entities reach their thresholds.
  const base: { arbitrary: fc.Arbitrary<Step>; weight: number }[] = [
    { arbitrary: fc.record({ t: fc.constant("authorise" as const), dsc: fc.nat(4), user: fc.nat(5), userOnly: fc.boolean() }), weight: 5 },
    { arbitrary: fc.record({ t: fc.constant("terminate" as const), pick: fc.nat() }), weight: 2 },
    { arbitrary: fc.record({ t: fc.constant("deliver" as const), pick: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }), weight: 5 },
  ];
  if (opts.timers) base.push({ arbitrary: fc.record({ t: fc.constant("timer" as const), dsc: fc.nat(4), pick: fc.nat() }), weight: 1 });
  if (opts.faults) {
    base.push({ arbitrary: fc.record({ t: fc.constant("kill" as const), dsc: fc.nat(4) }), weight: 1 });
    base.push({ arbitrary: fc.record({ t: fc.constant("restart" as const), dsc: fc.nat(4), linksBack: fc.boolean() }), weight: 1 });
    base.push({ arbitrary: fc.record({ t: fc.constant("reconnect" as const) }), weight: 1 });
  }
  return fc.array(fc.oneof(...base), { minLength: 1, maxLength: opts.maxLength, size: "max" });
}

/** Sessions the test knows are active: granted and not yet ended, by id. */
export interface ActiveSession {
  owner: string;
  entities: string[];
}

export function activeFor(active: Map<string, ActiveSession>, entity: string): string[] {
  return [...active].filter(([, s]) => s.entities.includes(entity)).map(([id]) => id);
}
