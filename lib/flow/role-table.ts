// The nine roles of FIG. 5 / FIG. 6 in one table: name, kind, display host, neighbours, mirror, the protocol ports
// of in-memory records, and what each listens for. Every other module reads them here. Hosts are display labels
// of the ladder and of in-memory runs (RFC 2606 / RFC 5737 names); on sockets a role is reached at its listener.
import type { Protocol } from "../drivers/message-record.js";

/** The roles in ladder column order: the reference flows' left to right. */
export const ROLE_NAMES = ["UAC", "SIP1", "POL1", "R1", "CH", "SIP2", "POL2", "R2", "UAS"] as const;

/** A role of FIG. 5 / FIG. 6. */
export type Role = (typeof ROLE_NAMES)[number];

/** What a role is: its machine in lib/roles. */
export type RoleKind = "user-agent" | "sip-proxy" | "policy-server" | "edge-router" | "clearinghouse";

/** What a role listens for on the socket driver: SIP (UDP, and a stream listener), COPS as a PDP, OSP over HTTP. */
export type RoleListener = "sip" | "cops" | "osp";

/** One role's row. */
export interface RoleEntry {
  readonly kind: RoleKind;
  /** The side of the call it serves (the clearinghouse serves both). */
  readonly side: "originating" | "terminating" | "both";
  /** Display host: the user agents' addresses (RFC 5737) and the proxies' names (RFC 2606). */
  readonly host?: string;
  /** The role that does the same on the other side (FIG. 6 is drawn for the UAC hanging up, its mirror for the UAS). */
  readonly mirror: Role;
  /** The roles it sends to or takes connections from. */
  readonly peers: readonly Role[];
  /** Its first SIP hop (user agents: their proxy; proxies: the next proxy or the callee). */
  readonly sipNext?: Role;
  /** Its COPS PDP (proxies, edge routers), or the edge router it installs classifiers on (policy servers). */
  readonly pdp?: Role;
  readonly router?: Role;
  readonly listens?: RoleListener;
  /** Last octet of its 127.0.1.x address in the records of an in-memory run. */
  readonly memoryOctet: number;
}

/** Each role's row: kind, side, display host, mirror, neighbours, SIP next hop, PDP or router, listener, in-memory octet. */
export const ROLE_TABLE = {
  UAC: { kind: "user-agent", side: "originating", host: "192.0.2.10", mirror: "UAS", peers: ["SIP1"], sipNext: "SIP1", listens: "sip", memoryOctet: 10 },
  SIP1: { kind: "sip-proxy", side: "originating", host: "sip1.example.com", mirror: "SIP2", peers: ["UAC", "POL1", "SIP2"], sipNext: "SIP2", pdp: "POL1", listens: "sip", memoryOctet: 11 },
  POL1: { kind: "policy-server", side: "originating", mirror: "POL2", peers: ["SIP1", "R1", "CH"], router: "R1", listens: "cops", memoryOctet: 12 },
  R1: { kind: "edge-router", side: "originating", mirror: "R2", peers: ["POL1"], pdp: "POL1", memoryOctet: 13 },
  CH: { kind: "clearinghouse", side: "both", mirror: "CH", peers: ["POL1", "POL2"], listens: "osp", memoryOctet: 30 },
  SIP2: { kind: "sip-proxy", side: "terminating", host: "sip2.example.com", mirror: "SIP1", peers: ["SIP1", "POL2", "UAS"], sipNext: "UAS", pdp: "POL2", listens: "sip", memoryOctet: 21 },
  POL2: { kind: "policy-server", side: "terminating", mirror: "POL1", peers: ["SIP2", "R2", "CH"], router: "R2", listens: "cops", memoryOctet: 22 },
  R2: { kind: "edge-router", side: "terminating", mirror: "R1", peers: ["POL2"], pdp: "POL2", memoryOctet: 23 },
  UAS: { kind: "user-agent", side: "terminating", host: "192.0.2.20", mirror: "UAC", peers: ["SIP2"], sipNext: "SIP2", listens: "sip", memoryOctet: 20 },
} as const satisfies Readonly<Record<Role, RoleEntry>>;

/** The roles of one kind, as a type (e.g. RoleOfKind<"policy-server"> is "POL1" | "POL2"). */
export type RoleOfKind<K extends RoleKind> = { [R in Role]: (typeof ROLE_TABLE)[R]["kind"] extends K ? R : never }[Role];

/** The roles a scenario may force to refuse (FaultSpec "deny"): the policy servers, edge routers and clearinghouse. */
export type DeniableRole = RoleOfKind<"policy-server" | "edge-router" | "clearinghouse">;

/** The deniable roles, alphabetical (as refusals list them). */
export const DENIABLE_ROLES: readonly DeniableRole[] = ROLE_NAMES.filter((r): r is DeniableRole => ["policy-server", "edge-router", "clearinghouse"].includes(ROLE_TABLE[r].kind)).sort();

/** The registered port of each protocol (SIP RFC 3261 §18.1.1, COPS RFC 2748 §2.1, OSP, RADIUS RFC 2865): a server's port in in-memory records. */
export const PROTOCOL_PORTS: Readonly<Record<Protocol, number>> = { SIP: 5060, COPS: 3288, OSP: 5045, RADIUS: 1812 };

/** A role's row (its entry, widened to RoleEntry). */
export function roleRow(role: Role): RoleEntry {
  return ROLE_TABLE[role];
}

/** Whether a name is one of the nine roles. */
export function isRole(name: string): name is Role {
  return Object.prototype.hasOwnProperty.call(ROLE_TABLE, name);
}

/** Whether a role is of a kind. */
export function isRoleOfKind<K extends RoleKind>(role: Role, kind: K): role is RoleOfKind<K> {
  return ROLE_TABLE[role].kind === kind;
}

/** The roles of a kind, in ladder column order. */
export function rolesOfKind<K extends RoleKind>(kind: K): RoleOfKind<K>[] {
  return ROLE_NAMES.filter((r): r is RoleOfKind<K> => ROLE_TABLE[r].kind === kind);
}

/** The display host of each role that has one (user agents and proxies). */
export const ROLE_HOSTS: Readonly<Record<string, string>> = Object.fromEntries(ROLE_NAMES.flatMap((r) => {
  const host = roleRow(r).host;
  return host === undefined ? [] : [[r, host]];
}));

/** A role's display host (throws for a role that has none: only user agents and proxies do). */
export function roleHost(role: Role): string {
  const host = roleRow(role).host;
  if (host === undefined) throw new Error(`${role} has no display host`);
  return host;
}

function linked(role: Role, field: "sipNext" | "pdp" | "router"): Role {
  const to = roleRow(role)[field];
  if (to === undefined) throw new Error(`${role} has no ${field}`);
  return to;
}

/** A user agent's proxy, or a proxy's next hop inside the roles. */
export const sipNextOf = (role: Role): Role => linked(role, "sipNext");
/** The COPS PDP of a proxy or an edge router. */
export const pdpOf = (role: Role): Role => linked(role, "pdp");
/** The edge router a policy server installs classifiers on. */
export const routerOf = (role: Role): Role => linked(role, "router");

/** A record with one value per role of `roles`. */
export function byRole<R extends Role, V>(roles: readonly R[], value: (role: R) => V): Record<R, V> {
  const out = {} as Record<R, V>;
  for (const r of roles) out[r] = value(r);
  return out;
}
