// Who serves which realm: the master provider's own realms, and each client provider's realms with the
// virtual identity the master knows it by, the capacity rented to it and its own RADIUS server. Read from
// the radius-proxy configuration (YAML), checked field by field with the path named.
import { parse as parseYaml } from "yaml";
import type { RentedCapacity } from "./capacity-ledger.js";

/** A RADIUS server: address, authentication and accounting ports, shared secret (RFC 2865 §3). */
export interface RadiusServerRef {
  address: string;
  authPort: number;
  acctPort: number;
  secret: string;
}

/** The master provider: its realms and where its subscribers are checked (credentials file or RADIUS server). */
export interface MasterProvider {
  realms: string[];
  /** Credentials file (HA1 hashes) the master's subscribers are checked against locally. */
  credentials?: string;
  /** The master's RADIUS server: its subscribers' requests, the client providers' virtual identities, accounting. */
  radius?: RadiusServerRef;
}

/** A provider renting capacity from the master: its realms, virtual identity at the master, rented capacity and RADIUS server. */
export interface ClientProvider {
  name: string;
  realms: string[];
  virtualIdentity: { user: string; password: string };
  capacity: RentedCapacity;
  radius: RadiusServerRef;
}

/** The realm RADIUS proxy's configuration: listen ports, NAS clients, journal, master and client providers. */
export interface RadiusProxyConfig {
  listen: { address: string; authPort: number; acctPort: number };
  /** NAS clients by source address and their shared secrets (RFC 2865 §3). */
  nas: { address: string; secret: string }[];
  /** Journal of sessions and charges (JSON lines, fsynced); replayed at start. */
  journal?: string;
  /** Accepted sessions hold a port this long while their Accounting Start is missing. */
  holdSeconds?: number;
  master: MasterProvider;
  clients: ClientProvider[];
}

/** A realm configuration that could not be used: `path` names the setting. */
export class RealmConfigError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = "RealmConfigError";
  }
}

type Obj = Record<string, unknown>;

function obj(v: unknown, path: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new RealmConfigError(path, "must be a mapping");
  return v as Obj;
}

function str(v: unknown, path: string): string {
  if (typeof v !== "string" || v === "") throw new RealmConfigError(path, "must be a non-empty string");
  return v;
}

function port(v: unknown, path: string, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 65535) throw new RealmConfigError(path, "must be a port 0..65535");
  return v;
}

function num(v: unknown, path: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new RealmConfigError(path, "must be a non-negative number");
  return v;
}

function realms(v: unknown, path: string): string[] {
  if (!Array.isArray(v) || v.length === 0) throw new RealmConfigError(path, "must be a non-empty list of realms");
  return v.map((r, i) => str(r, `${path}[${i}]`).toLowerCase());
}

function server(v: unknown, path: string): RadiusServerRef {
  const o = obj(v, path);
  return {
    address: str(o.address, `${path}.address`),
    authPort: port(o.authPort, `${path}.authPort`, 1812),
    acctPort: port(o.acctPort, `${path}.acctPort`, 1813),
    secret: str(o.secret, `${path}.secret`),
  };
}

function capacity(v: unknown, path: string): RentedCapacity {
  const o = obj(v ?? {}, path);
  const known = new Set(["ports", "secondsPerPeriod", "periodSeconds", "credit", "pricePerMinute", "suspended"]);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new RealmConfigError(`${path}.${k}`, "unknown setting");
  if (o.suspended !== undefined && typeof o.suspended !== "boolean") throw new RealmConfigError(`${path}.suspended`, "must be true or false");
  const c: RentedCapacity = {};
  for (const k of ["ports", "secondsPerPeriod", "periodSeconds", "credit", "pricePerMinute"] as const) {
    const n = num(o[k], `${path}.${k}`);
    if (n !== undefined) c[k] = n;
  }
  if (o.suspended === true) c.suspended = true;
  return c;
}

/** Parse and check a radius-proxy configuration (YAML text). */
export function parseRadiusProxyConfig(text: string): RadiusProxyConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new RealmConfigError("(file)", `not YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
  const root = obj(doc, "(file)");
  const listen = obj(root.listen ?? {}, "listen");
  const nasList = root.nas;
  if (!Array.isArray(nasList) || nasList.length === 0) throw new RealmConfigError("nas", "must list at least one NAS {address, secret}");
  const master = obj(root.master, "master");
  const clientsList = root.clients ?? [];
  if (!Array.isArray(clientsList)) throw new RealmConfigError("clients", "must be a list");
  const config: RadiusProxyConfig = {
    listen: {
      address: listen.address === undefined ? "127.0.0.1" : str(listen.address, "listen.address"),
      authPort: port(listen.authPort, "listen.authPort", 1812),
      acctPort: port(listen.acctPort, "listen.acctPort", 1813),
    },
    nas: nasList.map((n, i) => {
      const o = obj(n, `nas[${i}]`);
      return { address: str(o.address, `nas[${i}].address`), secret: str(o.secret, `nas[${i}].secret`) };
    }),
    master: {
      realms: realms(master.realms, "master.realms"),
      ...(master.credentials !== undefined ? { credentials: str(master.credentials, "master.credentials") } : {}),
      ...(master.radius !== undefined ? { radius: server(master.radius, "master.radius") } : {}),
    },
    clients: clientsList.map((c, i) => {
      const o = obj(c, `clients[${i}]`);
      const v = obj(o.virtualIdentity, `clients[${i}].virtualIdentity`);
      return {
        name: str(o.name, `clients[${i}].name`),
        realms: realms(o.realms, `clients[${i}].realms`),
        virtualIdentity: { user: str(v.user, `clients[${i}].virtualIdentity.user`), password: str(v.password, `clients[${i}].virtualIdentity.password`) },
        capacity: capacity(o.capacity, `clients[${i}].capacity`),
        radius: server(o.radius, `clients[${i}].radius`),
      };
    }),
  };
  if (root.journal !== undefined) config.journal = str(root.journal, "journal");
  const hold = num(root.holdSeconds, "holdSeconds");
  if (hold !== undefined) config.holdSeconds = hold;
  if (!config.master.credentials && !config.master.radius) throw new RealmConfigError("master", "needs credentials (a file) or radius (a server)");
  const seen = new Map<string, string>();
  const claim = (realm: string, owner: string, path: string): void => {
    const prior = seen.get(realm);
    if (prior !== undefined) throw new RealmConfigError(path, `realm '${realm}' is already ${prior}'s`);
    seen.set(realm, owner);
  };
  config.master.realms.forEach((r, i) => claim(r, "the master", `master.realms[${i}]`));
  const names = new Set<string>();
  config.clients.forEach((c, i) => {
    if (names.has(c.name)) throw new RealmConfigError(`clients[${i}].name`, `'${c.name}' appears twice`);
    names.add(c.name);
    c.realms.forEach((r, j) => claim(r, c.name, `clients[${i}].realms[${j}]`));
  });
  return config;
}

/** `user@realm` → its parts (the last '@' splits; RFC 7542 §2.5). Undefined without a realm. */
export function splitUserRealm(identity: string): { user: string; realm: string } | undefined {
  const at = identity.lastIndexOf("@");
  if (at <= 0 || at === identity.length - 1) return undefined;
  return { user: identity.slice(0, at), realm: identity.slice(at + 1).toLowerCase() };
}
