// Configuration files of `callgate pppoe-server` and `callgate pppoe-concentrator` (YAML): read, checked
// setting by setting, refused with the setting's name and what was wrong.
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { isMacAddress } from "../../protocols/pppoe/index.js";
import type { AuthMethod } from "../../protocols/pppoe/index.js";
import { parseHostPort } from "../flow/operations.js";
import type { ConcentratorMode } from "./concentrator.js";

/** A configuration that was refused: the setting's name and what was wrong. */
export class AccessConfigError extends Error {
  override readonly name = "AccessConfigError";
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
  }
}

/** The `framePort` setting. */
export interface FramePortConfig {
  /** Start socat on this interface (its MAC is ours), or use an external bridge at `bridge`. */
  interface?: string;
  /** Where the port receives frames (default 127.0.0.1:0). */
  bind: { address: string; port: number };
  /** Where the bridge receives the frames we send (default 127.0.0.1, any free port). */
  bridge: { address: string; port: number };
  /** Our MAC address (read from the interface when one is given). */
  mac?: string;
}

/** An address range, both ends included. */
export interface PoolConfig {
  /** First address handed out. */
  first: string;
  /** Last address handed out. */
  last: string;
}

/** The configuration of `callgate pppoe-server`. */
export interface PppoeServerConfig {
  framePort: FramePortConfig;
  acName: string;
  serviceNames: string[];
  auth: AuthMethod;
  users: Record<string, string>;
  localAddress: string;
  pool: PoolConfig;
  maxSessions: number;
  echoIntervalMs: number;
  echoFailures: number;
  metrics?: { host: string; port: number };
  logLevel?: string;
}

/** The configuration of `callgate pppoe-concentrator`. */
export interface ConcentratorConfig {
  mode: ConcentratorMode;
  framePort: FramePortConfig;
  serviceName?: string;
  acName?: string;
  lines: { host: string; port: number; maxLines: number; maxFrameBytes: number; idleTimeoutMs: number; frameTimeoutMs: number };
  maxSessions: number;
  shared?: { username: string; password: string; localAddress: string; pool: PoolConfig; lineAuth: AuthMethod };
  /** Local line users (shared-session) when no RADIUS authentication server is set. */
  users: Record<string, string>;
  radius?: {
    secret: string;
    auth?: { address: string; port: number };
    /** Accounting servers in order of preference (the exporter fails over to the next). */
    acct?: { address: string; port: number }[];
    /** The accounting spool file (default: the journal's path + ".acct"). */
    acctSpool?: string;
    nasIdentifier: string;
    nasIpAddress?: string;
  };
  journal?: string;
  /** Interim counts (journal and Accounting Interim-Update) this often; 0: none. */
  interimIntervalMs: number;
  metrics?: { host: string; port: number };
  logLevel?: string;
}

type Obj = Record<string, unknown>;

function obj(v: unknown, setting: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new AccessConfigError(setting, "must be a mapping");
  return v as Obj;
}
function str(o: Obj, key: string, setting: string, fallback?: string): string {
  const v = o[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== "string" || v === "") throw new AccessConfigError(`${setting}${key}`, "must be a non-empty string");
  return v;
}
function int(o: Obj, key: string, setting: string, fallback: number, min: number, max: number): number {
  const v = o[key] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw new AccessConfigError(`${setting}${key}`, `must be an integer ${min}..${max}, got ${JSON.stringify(v)}`);
  return v;
}
function ipv4(o: Obj, key: string, setting: string): string {
  const v = str(o, key, setting);
  if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(v) || v.split(".").some((p) => Number(p) > 255)) throw new AccessConfigError(`${setting}${key}`, `is not an IPv4 address: ${v}`);
  return v;
}
function endpoint(text: unknown, setting: string): { address: string; port: number } {
  if (typeof text !== "string") throw new AccessConfigError(setting, "wants HOST:PORT");
  const at = parseHostPort(text, setting);
  if (at instanceof Error) throw new AccessConfigError(setting, at.message);
  return { address: at.host, port: at.port };
}
function auth(o: Obj, key: string, setting: string, fallback: AuthMethod): AuthMethod {
  const v = o[key] ?? fallback;
  if (v !== "pap" && v !== "chap" && v !== "none") throw new AccessConfigError(`${setting}${key}`, `must be pap, chap or none, got ${JSON.stringify(v)}`);
  return v;
}
function users(v: unknown, setting: string): Record<string, string> {
  if (v === undefined) return {};
  const o = obj(v, setting);
  for (const [name, pw] of Object.entries(o)) if (typeof pw !== "string") throw new AccessConfigError(`${setting}.${name}`, "password must be a string");
  return o as Record<string, string>;
}
function pool(v: unknown, setting: string): PoolConfig {
  const o = obj(v, setting);
  return { first: ipv4(o, "first", `${setting}.`), last: ipv4(o, "last", `${setting}.`) };
}

function framePort(v: unknown): FramePortConfig {
  const o = obj(v, "framePort");
  const iface = o.interface;
  if (iface !== undefined && (typeof iface !== "string" || !/^[\w.-]{1,15}$/.test(iface))) throw new AccessConfigError("framePort.interface", "is not an interface name");
  const mac = o.mac;
  if (mac !== undefined && (typeof mac !== "string" || !isMacAddress(mac))) throw new AccessConfigError("framePort.mac", "is not a MAC address (aa:bb:cc:dd:ee:ff)");
  if (iface === undefined && (mac === undefined || o.bridge === undefined)) throw new AccessConfigError("framePort", "needs `interface`, or `bridge` and `mac` for a bridge started elsewhere");
  return {
    ...(iface !== undefined ? { interface: iface } : {}),
    ...(mac !== undefined ? { mac: (mac as string).toLowerCase() } : {}),
    bind: endpoint(o.bind ?? "127.0.0.1:0", "framePort.bind"),
    bridge: endpoint(o.bridge ?? "127.0.0.1:0", "framePort.bridge"),
  };
}

function common(o: Obj): { metrics?: { host: string; port: number }; logLevel?: string } {
  const out: { metrics?: { host: string; port: number }; logLevel?: string } = {};
  if (o.metrics !== undefined) {
    const m = endpoint(o.metrics, "metrics");
    out.metrics = { host: m.address, port: m.port };
  }
  if (o.logLevel !== undefined) out.logLevel = str(o, "logLevel", "");
  return out;
}

function load(path: string): Obj {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new AccessConfigError("config", `cannot read ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new AccessConfigError("config", `${path} is not YAML: ${(err as Error).message}`);
  }
  return obj(doc, "config");
}

/** Checks a parsed YAML document as a PPPoE server configuration. */
export function parsePppoeServerConfig(doc: unknown): PppoeServerConfig {
  const o = obj(doc, "config");
  const serviceNames = o.serviceNames ?? [];
  if (!Array.isArray(serviceNames) || serviceNames.some((s) => typeof s !== "string")) throw new AccessConfigError("serviceNames", "must be a list of strings");
  return {
    framePort: framePort(o.framePort),
    acName: str(o, "acName", "", "callgate"),
    serviceNames: serviceNames as string[],
    auth: auth(o, "auth", "", "pap"),
    users: users(o.users, "users"),
    localAddress: ipv4(o, "localAddress", ""),
    pool: pool(o.pool, "pool"),
    maxSessions: int(o, "maxSessions", "", 4096, 1, 65534),
    echoIntervalMs: int(o, "echoIntervalMs", "", 0, 0, 3_600_000),
    echoFailures: int(o, "echoFailures", "", 3, 1, 100),
    ...common(o),
  };
}

/** Checks a parsed YAML document as a concentrator configuration. */
export function parseConcentratorConfig(doc: unknown): ConcentratorConfig {
  const o = obj(doc, "config");
  const mode = o.mode;
  if (mode !== "session-per-line" && mode !== "shared-session") throw new AccessConfigError("mode", `must be session-per-line or shared-session, got ${JSON.stringify(mode)}`);
  const l = obj(o.lines ?? {}, "lines");
  const listen = endpoint(l.listen ?? "127.0.0.1:0", "lines.listen");
  const config: ConcentratorConfig = {
    mode,
    framePort: framePort(o.framePort),
    lines: {
      host: listen.address,
      port: listen.port,
      maxLines: int(l, "maxLines", "lines.", 1000, 1, 100_000),
      maxFrameBytes: int(l, "maxFrameBytes", "lines.", 1508, 64, 65_535),
      idleTimeoutMs: int(l, "idleTimeoutMs", "lines.", 0, 0, 86_400_000),
      frameTimeoutMs: int(l, "frameTimeoutMs", "lines.", 10_000, 0, 3_600_000),
    },
    maxSessions: int(o, "maxSessions", "", 1000, 1, 65534),
    interimIntervalMs: int(o, "interimIntervalMs", "", 0, 0, 86_400_000),
    users: users(o.users, "users"),
    ...common(o),
  };
  if (o.serviceName !== undefined) config.serviceName = typeof o.serviceName === "string" ? o.serviceName : "";
  if (o.acName !== undefined) config.acName = str(o, "acName", "");
  if (mode === "shared-session") {
    const s = obj(o.shared, "shared");
    config.shared = {
      username: str(s, "username", "shared."),
      password: str(s, "password", "shared."),
      localAddress: ipv4(s, "localAddress", "shared."),
      pool: pool(s.pool, "shared.pool"),
      lineAuth: auth(s, "lineAuth", "shared.", "pap"),
    };
  }
  if (o.radius !== undefined) {
    const r = obj(o.radius, "radius");
    config.radius = {
      secret: str(r, "secret", "radius."),
      nasIdentifier: str(r, "nasIdentifier", "radius.", "callgate-concentrator"),
      ...(r.auth !== undefined ? { auth: endpoint(r.auth, "radius.auth") } : {}),
      ...(r.acct !== undefined ? { acct: (Array.isArray(r.acct) ? r.acct : [r.acct]).map((a, i) => endpoint(a, Array.isArray(r.acct) ? `radius.acct[${i}]` : "radius.acct")) } : {}),
      ...(r.nasIpAddress !== undefined ? { nasIpAddress: ipv4(r, "nasIpAddress", "radius.") } : {}),
    };
  }
  if (o.journal !== undefined) config.journal = str(o, "journal", "");
  if (config.radius?.acct?.length === 0) throw new AccessConfigError("radius.acct", "names no server");
  if (config.radius?.acct) {
    // Accounting records are on disk before they are sent: the spool needs a file.
    const r = o.radius as Record<string, unknown>;
    if (r.acctSpool !== undefined) config.radius.acctSpool = str(r, "acctSpool", "radius.");
    else if (config.journal) config.radius.acctSpool = `${config.journal}.acct`;
    else throw new AccessConfigError("radius.acct", "needs radius.acctSpool or journal (the accounting spool's file)");
  }
  return config;
}

/** Reads and checks a PPPoE server configuration file. */
export function readPppoeServerConfig(path: string): PppoeServerConfig {
  return parsePppoeServerConfig(load(path));
}

/** Reads and checks a concentrator configuration file. */
export function readConcentratorConfig(path: string): ConcentratorConfig {
  return parseConcentratorConfig(load(path));
}
