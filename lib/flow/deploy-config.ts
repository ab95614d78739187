// Deployment files of `callgate serve ROLE --config FILE`: where each FIG. 5/6 role listens on loopback, the
// topology options every process shares, and the calls the UAC places. Parsed with `yaml`, validated with ajv;
// every problem names the file, line, column and field.
import { SERVED_REALMS_SCHEMA, callRealmsProblems, type ServedRealms } from "../auth/realm-config.js";
import type { ConnectionLimits } from "../../protocols/net/connection-limits.js";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { dirname, resolve } from "node:path";
import { Ajv } from "ajv";
import { QUOTA_SECTION_SCHEMA, quotaSettingsOf, type QuotaSection, type QuotaSettingsByRole } from "../quota/serve-quota.js";
import type { NodeAddresses } from "../drivers/socket-network.js";
import type { SocketTlsOptions } from "../drivers/socket-tls.js";
import { parseSipUri } from "../../protocols/sip/index.js";
import { fileErrorReason } from "../replay/input-file.js";
import { parseValidatedYaml, ScenarioError, type ScenarioProblem } from "../replay/scenario.js";
import { REINVITES_SCHEMA } from "../replay/scenario-schema.js";
import { COPS_PEPS, type CopsSecurity } from "./cops-security.js";
import { deployTlsSchema, readDeployTls, type DeployTlsSection } from "./deploy-tls.js";
import type { FlowPki } from "./flow-pki.js";
import type { SessionLimitSettings } from "../dsc/serve-session-limits.js";
import { sessionLimitsProblems, sessionLimitsSchema, type SessionLimitsCommon } from "../dsc/session-limits-schema.js";
import type { CallSpec, PlannedMediaChange, Role, TopologyOptions } from "./run-types.js";
import { ROLE_NAMES, byRole, isRoleOfKind, roleRow, roleHost, rolesOfKind } from "./role-table.js";

export const DEPLOY_ROLES: readonly Role[] = ROLE_NAMES;

/** Each role's neighbours in FIG. 5 / FIG. 6: the roles it sends to or takes connections from. */
export const DEPLOY_PEERS: Readonly<Record<Role, readonly Role[]>> = byRole(ROLE_NAMES, (r) => roleRow(r).peers);

const port = { type: "integer", minimum: 1, maximum: 65535 };
const nonNegative = { type: "number", minimum: 0 };
const roleEntry = {
  type: "object",
  additionalProperties: false,
  required: ["host"],
  properties: {
    host: { type: "string" },
    /** ws: SIP1 takes outside callers over WebSocket (RFC 7118) on this port too; wss with tls.sip. */
    sip: { type: "object", additionalProperties: false, required: ["udp"], properties: { udp: port, tcp: port, tls: port, ws: port } },
    cops: port,
    osp: port,
    /** Prometheus /metrics of this role's process (TCP, on `host`). */
    metrics: port,
    /** Log level of this role's process (pino). */
    log: { enum: ["trace", "debug", "info", "warn", "error", "fatal", "silent"] },
    /** SIP1/SIP2: a SIP URI new INVITEs go to first (a foreign proxy), e.g. "sip:127.0.0.1:5070;transport=tcp". */
    nextHop: { type: "string", pattern: "^sip:" },
    /** UAC/UAS: the hop to its proxy runs over this transport, not topology.sipTransport (the proxy record-routes twice, RFC 5658). */
    sipTransport: { enum: ["udp", "tcp"] },
  },
};

const copsPep = {
  type: "object",
  additionalProperties: false,
  properties: {
    addresses: { type: "array", minItems: 1, items: { type: "string" } },
    integrity: {
      type: "object",
      additionalProperties: false,
      required: ["keyId", "key"],
      properties: { keyId: { type: "integer", minimum: 0, maximum: 0xffffffff }, key: { type: "string", pattern: "^([0-9a-fA-F]{2}){16,}$" } },
    },
  },
};
const copsPdp = {
  type: "object",
  additionalProperties: false,
  properties: {
    maxRequestStates: { type: "integer", minimum: 1 },
    maxPendingRequests: { type: "integer", minimum: 1 },
    peps: { type: "object", additionalProperties: false, properties: { SIP1: copsPep, R1: copsPep, SIP2: copsPep, R2: copsPep } },
  },
};

export const DEPLOY_SCHEMA = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: "https://callgate.example.com/deploy.schema.json",
  type: "object",
  additionalProperties: false,
  required: ["roles"],
  properties: {
    name: { type: "string" },
    description: { type: "string" },
    seed: { type: "integer", minimum: 0 },
    topology: {
      type: "object",
      additionalProperties: false,
      properties: {
        clearinghouse: { enum: ["osp-http", "none"] },
        clearinghouseUnreachable: { enum: ["fail-closed", "fail-open"] },
        signedTokens: { type: "boolean" },
        sipTransport: { enum: ["udp", "tcp"] },
        clearinghouseTimeoutMs: nonNegative,
        usageRetryMs: nonNegative,
      },
    },
    roles: {
      type: "object",
      additionalProperties: false,
      minProperties: 1,
      properties: Object.fromEntries(DEPLOY_ROLES.map((r) => [r, roleEntry])),
    },
    copsSecurity: { type: "object", additionalProperties: false, properties: { POL1: copsPdp, POL2: copsPdp } },
    cdrStore: { type: "string" },
    /** Usage quotas of the policy servers (docs/quotas.md): each one's rules file and counter file. */
    quota: QUOTA_SECTION_SCHEMA,
    /** RADIUS accounting of the policy servers (docs/accounting.md). */
    accounting: {
      type: "object",
      additionalProperties: false,
      required: ["servers", "secret"],
      properties: {
        servers: { type: "array", minItems: 1, maxItems: 2, items: { type: "string", pattern: "^udp:" } },
        secret: { type: "string", minLength: 1 },
        spool: { type: "string", minLength: 1 },
        interimSeconds: { type: "integer", minimum: 0, maximum: 86_400 },
      },
    },
    /** Concurrent-session limits of the policy servers (docs/session-counters.md): DSC peers or Redis. */
    sessionLimits: sessionLimitsSchema({
      dsc: {
        type: "object",
        additionalProperties: false,
        required: ["POL1", "POL2"],
        properties: {
          POL1: port,
          POL2: port,
          requestTimeoutMs: { type: "integer", minimum: 1 },
          tls: {
            type: "object",
            additionalProperties: false,
            required: ["ca", "POL1", "POL2"],
            properties: Object.fromEntries([["ca", { type: "string", minLength: 1 }], ...["POL1", "POL2"].map((r) => [r, { type: "object", additionalProperties: false, required: ["key", "cert"], properties: { key: { type: "string", minLength: 1 }, cert: { type: "string", minLength: 1 } } }])]),
          },
        },
      },
      redis: { type: "string", pattern: "^redis://" },
    }),
    /** Connection limits of every TCP/TLS/HTTP listener of every role (ConnectionLimits; 0 turns one off). */
    limits: {
      type: "object",
      additionalProperties: false,
      properties: Object.fromEntries(["maxConnections", "maxConnectionsPerSource", "idleTimeoutMs", "headerTimeoutMs", "bodyTimeoutMs"].map((k) => [k, { type: "integer", minimum: 0, maximum: 1_000_000_000 }])),
    },
    tls: deployTlsSchema(DEPLOY_ROLES),
    /** Callers authenticate (docs/auth.md): SIP1 challenges with `realm`, POL1 checks against a file or RADIUS. */
    auth: {
      type: "object",
      additionalProperties: false,
      required: ["realm"],
      properties: {
        realm: { type: "string", minLength: 1 },
        credentials: { type: "string" },
        radius: {
          type: "object",
          additionalProperties: false,
          required: ["address", "port", "secret"],
          properties: { address: { type: "string" }, port, secret: { type: "string", minLength: 1 } },
        },
        algorithms: { type: "array", minItems: 1, uniqueItems: true, items: { enum: ["SHA-256", "MD5"] } },
      },
    },
    /** POL1 holds callers of client providers' realms to the capacity they rent (docs/auth.md). */
    realms: SERVED_REALMS_SCHEMA,
    tokens: {
      type: "object",
      additionalProperties: false,
      required: ["caCertificate", "signingKey", "signingCertificate"],
      properties: { caCertificate: { type: "string" }, signingKey: { type: "string" }, signingCertificate: { type: "string" } },
    },
    calls: {
      type: "object",
      additionalProperties: false,
      properties: {
        count: { type: "integer", minimum: 0, maximum: 100000 },
        intervalMs: nonNegative,
        caller: { type: "string", pattern: "^sips?:" },
        callee: { type: "string", pattern: "^sips?:" },
        answerDelayMs: nonNegative,
        durationMs: nonNegative,
        hangUp: { enum: ["caller", "callee"] },
        noAnswerTimeoutMs: nonNegative,
        reinvites: REINVITES_SCHEMA,
      },
    },
  },
} as const;

export interface RoleAddresses {
  host: string;
  /** `ws`: SIP1's WebSocket listener for outside callers (RFC 7118). */
  sip?: { udp: number; tcp?: number; tls?: number; ws?: number };
  cops?: number;
  osp?: number;
  /** Port of the role's Prometheus /metrics listener. */
  metrics?: number;
  /** Log level of the role's process. */
  log?: "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
  /** SIP1/SIP2: the SIP URI new INVITEs go to first (topology.nextHops). */
  nextHop?: string;
  /** UAC/UAS: the transport of its hop to its proxy (topology.userAgentTransports). */
  sipTransport?: "udp" | "tcp";
}

export interface DeployCalls {
  count: number;
  intervalMs: number;
  caller: string;
  callee: string;
  /** The UAS rings, then answers this long after the INVITE. */
  answerDelayMs: number;
  /** The call lasts this long after 200 OK, then `hangUp` ends it. */
  durationMs: number;
  hangUp: "caller" | "callee";
  noAnswerTimeoutMs?: number;
  /** Re-INVITEs of every call, as a scenario's `calls[].reinvites`: the UAC sends the caller's, the UAS the callee's. */
  reinvites?: PlannedMediaChange[];
}

export interface DeployConfig {
  file: string;
  name?: string;
  seed: number;
  /** The file names its seed: the user agents then repeat their tags and branches; without one, fresh every start. */
  seedFromFile: boolean;
  topology: TopologyOptions;
  roles: Partial<Record<Role, RoleAddresses>>;
  calls: DeployCalls;
  /** Token-signing PKI read from the `tokens` PEM files; without it, every process derives the seed's flow PKI. */
  pki?: FlowPki;
  /** The PEPs each policy server admits (PEPID, addresses, Integrity keys) and its request-state bounds. */
  copsSecurity?: CopsSecurity;
  /** The clearinghouse's SQLite CDR file (absolute); without it CDRs are kept in memory and die with the process. */
  cdrStore?: string;
  /** POL1 and POL2 count and limit calls by their quota rules, each in its counter file (paths absolute). */
  quota?: QuotaSettingsByRole;
  /** POL1/POL2 send each call's RADIUS accounting to these servers (spool path absolute). */
  accounting?: { servers: string[]; secret: string; spool?: string; interimSeconds?: number };
  /** Connection limits of every listener from the `limits` section (DEFAULT_CONNECTION_LIMITS where not given). */
  limits?: Partial<ConnectionLimits>;
  /** TLS from the `tls` section: which links, the pinned CA, mutual TLS, every role's certificate and key (PEM). */
  tls?: SocketTlsOptions;
  /** Caller authentication from the `auth` section (credentials path absolute). */
  auth?: DeployAuth;
  /** Realm capacity sharing at POL1 from the `realms` section: master realms, client providers, rented capacity, journal (absolute). */
  realms?: ServedRealms;
  /** POL1 limits callers' and POL2 callees' concurrent sessions (`sessionLimits`; TLS paths absolute). */
  sessionLimits?: SessionLimitSettings;
}

/** The `auth` section: the realm SIP1 challenges with; where POL1 checks the credentials (a file or a RADIUS server). */
export interface DeployAuth {
  realm: string;
  credentials?: string;
  radius?: { address: string; port: number; secret: string };
  algorithms?: ("SHA-256" | "MD5")[];
}

/** PEM files (paths relative to the deployment file): the CA POL2 trusts, the clearinghouse's key and certificate. */
export interface DeployTokens {
  caCertificate: string;
  signingKey: string;
  signingCertificate: string;
}

/** Problems of a deployment file, each at `file:line:column: field: message` (line 0 when not tied to one). */
export class DeployConfigError extends ScenarioError {
  constructor(file: string, problems: ScenarioProblem[]) {
    super(file, problems);
    this.name = "DeployConfigError";
  }
}

const validate = new Ajv({ allErrors: true, strict: true }).compile(DEPLOY_SCHEMA);

export function loadDeployConfig(path: string): DeployConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new DeployConfigError(path, [{ line: 0, column: 0, field: "", message: `cannot read: ${fileErrorReason(err)}` }]);
  }
  return parseDeployConfig(text, path);
}

type RawConfig = Omit<DeployConfig, "file" | "seed" | "topology" | "calls" | "pki" | "quota"> & {
  quota?: QuotaSection;
  seed?: number;
  topology?: Partial<TopologyOptions>;
  calls?: Partial<DeployCalls>;
  tokens?: DeployTokens;
  cdrStore?: string;
  tls?: DeployTlsSection;
};

export function parseDeployConfig(text: string, file = "deploy.yaml"): DeployConfig {
  let parsed;
  try {
    parsed = parseValidatedYaml(text, file, validate);
  } catch (err) {
    if (err instanceof ScenarioError) throw new DeployConfigError(err.file, err.problems);
    throw err;
  }
  const raw = parsed.data as RawConfig;
  const problems: ScenarioProblem[] = [];
  const problem = (path: Array<string | number>, message: string): void => {
    problems.push({ ...parsed.at(path), field: path.map((p, i) => (i === 0 ? String(p) : `.${String(p)}`)).join(""), message });
  };
  const topology = {
    clearinghouse: raw.topology?.clearinghouse ?? "osp-http",
    clearinghouseUnreachable: raw.topology?.clearinghouseUnreachable ?? "fail-closed",
    signedTokens: raw.topology?.signedTokens ?? true,
    sipTransport: raw.topology?.sipTransport ?? "udp",
    clearinghouseTimeoutMs: raw.topology?.clearinghouseTimeoutMs ?? 3000,
    usageRetryMs: raw.topology?.usageRetryMs ?? 5000,
  } satisfies TopologyOptions;
  for (const role of DEPLOY_ROLES) {
    const t = raw.roles[role]?.sipTransport;
    if (t === undefined) continue;
    if (role === "UAC" || role === "UAS") (topology as TopologyOptions).userAgentTransports = { ...(topology as TopologyOptions).userAgentTransports, [role]: t };
    else problem(["roles", role, "sipTransport"], `${role} is no user agent: the proxies' SIP runs over topology.sipTransport (only UAC and UAS have their own)`);
  }
  const taken = new Map<string, string>();
  for (const role of DEPLOY_ROLES) {
    const entry = raw.roles[role];
    if (!entry) continue;
    // Every packet stays on this host: 127.0.0.0/8 (RFC 1122 §3.2.1.3).
    if (!/^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(entry.host) || entry.host.split(".").some((b) => Number(b) > 255))
      problem(["roles", role, "host"], `'${entry.host}' is not a loopback address (127.0.0.0/8)`);
    const listens = roleRow(role).listens;
    for (const kind of ["sip", "cops", "osp"] as const)
      if (entry[kind] !== undefined && kind !== listens) problem(["roles", role, kind], `${role} does not listen for ${kind.toUpperCase()}${listens ? ` (only ${listens})` : " (it only connects out)"}`);
    for (const need of required(role, topology, raw.tls?.sip === true)) {
      const has = need === "sip.udp" ? entry.sip : need === "sip.tcp" ? entry.sip?.tcp : need === "sip.tls" ? entry.sip?.tls : entry[need];
      if (has === undefined) problem(["roles", role], `${role} needs '${need}' (${reason(need, role, topology)})`);
    }
    const listeners: Array<[string, number | undefined, Array<string | number>]> = [
      ["udp", entry.sip?.udp, ["roles", role, "sip", "udp"]],
      ["tcp", entry.sip?.tcp, ["roles", role, "sip", "tcp"]],
      ["tcp", entry.sip?.tls, ["roles", role, "sip", "tls"]],
      ["tcp", entry.sip?.ws, ["roles", role, "sip", "ws"]],
      ["tcp", entry.cops, ["roles", role, "cops"]],
      ["tcp", entry.osp, ["roles", role, "osp"]],
      ["tcp", entry.metrics, ["roles", role, "metrics"]],
    ];
    // A policy server's session counter (DSC) listens on its host too.
    const dscPorts = (raw.sessionLimits as unknown as RawSessionLimits | undefined)?.dsc;
    if (dscPorts && isRoleOfKind(role, "policy-server")) listeners.push(["tcp", dscPorts[role], ["sessionLimits", "dsc", role]]);
    if (entry.sip?.ws !== undefined && role !== "SIP1") problem(["roles", role, "sip", "ws"], `${role} takes no callers from outside: only SIP1 listens for SIP over WebSocket`);
    if (entry.metrics !== undefined && entry.metrics === entry.sip?.udp)
      problem(["roles", role, "metrics"], `${entry.metrics} is ${role}'s SIP port (sip.udp): give the metrics their own port`);
    if (entry.nextHop !== undefined) {
      const why = nextHopProblem(role, entry.nextHop, topology.sipTransport, raw.tls?.sip === true);
      if (why !== undefined) problem(["roles", role, "nextHop"], why);
      else if (role === "SIP1" || role === "SIP2") (topology as TopologyOptions).nextHops = { ...(topology as TopologyOptions).nextHops, [role]: entry.nextHop };
    }
    for (const [kind, p, path] of listeners) {
      if (p === undefined) continue;
      const key = `${kind} ${entry.host}:${p}`;
      const owner = taken.get(key);
      if (owner !== undefined) problem(path, `${key} is already ${owner}'s`);
      else taken.set(key, path.slice(1).join("."));
    }
  }
  let pki: FlowPki | undefined;
  if (raw.tokens) {
    const pem = (field: keyof DeployTokens): string => {
      const path = resolve(dirname(file), raw.tokens?.[field] ?? "");
      try {
        const text = readFileSync(path, "utf8");
        if (text.includes("-----BEGIN ")) return text;
        problem(["tokens", field], `${path} holds no PEM block`);
      } catch (err) {
        problem(["tokens", field], `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      return "";
    };
    pki = { caCertificatePem: pem("caCertificate"), signer: { privateKeyPem: pem("signingKey"), certificatePem: pem("signingCertificate") } };
    if (!topology.signedTokens) problem(["tokens"], "topology.signedTokens is false: nothing is signed");
  }
  for (const [pdp, sec] of Object.entries(raw.copsSecurity ?? {}) as [keyof CopsSecurity, NonNullable<CopsSecurity[keyof CopsSecurity]>][]) {
    for (const [pep, entry] of Object.entries(sec.peps ?? {})) {
      if (!COPS_PEPS[pdp].includes(pep as Role)) problem(["copsSecurity", pdp, "peps", pep], `${pep} is not a PEP of ${pdp} (its PEPs: ${COPS_PEPS[pdp].join(", ")})`);
      for (const [i, a] of (entry?.addresses ?? []).entries()) if (isIP(a) === 0) problem(["copsSecurity", pdp, "peps", pep, "addresses", i], `'${a}' is not an IP address`);
    }
    if (sec.maxPendingRequests !== undefined && sec.maxPendingRequests < (sec.maxRequestStates ?? 1))
      problem(["copsSecurity", pdp, "maxPendingRequests"], "is below maxRequestStates: a REQ per open state could not wait for its DEC");
  }
  const limitsRaw = raw.sessionLimits as unknown as RawSessionLimits | undefined;
  if (limitsRaw !== undefined && (limitsRaw.dsc === undefined) === (limitsRaw.redis === undefined))
    problem(["sessionLimits"], "needs either dsc (the policy servers' ports of their counters) or redis (a URL), not both");
  for (const p of limitsRaw ? sessionLimitsProblems(limitsRaw) : []) problem(["sessionLimits", ...p.path], p.message);
  if (raw.auth !== undefined && (raw.auth.credentials === undefined) === (raw.auth.radius === undefined))
    problem(["auth"], "needs either credentials (a file) or radius (a server), not both");
  for (const p of raw.realms ? callRealmsProblems(raw.realms) : []) problem(["realms", ...p.path], p.message);
  const tls = raw.tls ? readDeployTls(raw.tls, file, DEPLOY_ROLES.filter((r) => raw.roles[r]), topology, problem) : undefined;
  if (problems.length > 0) throw new DeployConfigError(file, problems.sort((a, b) => a.line - b.line || a.column - b.column));
  const calls: DeployCalls = {
    count: raw.calls?.count ?? 1,
    intervalMs: raw.calls?.intervalMs ?? 100,
    caller: raw.calls?.caller ?? `sip:+15551234567@${roleHost("SIP1")}`,
    callee: raw.calls?.callee ?? `sip:+15557654321@${roleHost("SIP2")}`,
    answerDelayMs: raw.calls?.answerDelayMs ?? 200,
    durationMs: raw.calls?.durationMs ?? 500,
    hangUp: raw.calls?.hangUp ?? "caller",
  };
  if (raw.calls?.noAnswerTimeoutMs !== undefined) calls.noAnswerTimeoutMs = raw.calls.noAnswerTimeoutMs;
  if (raw.calls?.reinvites !== undefined) calls.reinvites = raw.calls.reinvites;
  const config: DeployConfig = { file, seed: raw.seed ?? 1, seedFromFile: raw.seed !== undefined, topology, roles: raw.roles, calls };
  if (raw.name !== undefined) config.name = raw.name;
  if (pki) config.pki = pki;
  if (raw.cdrStore !== undefined) config.cdrStore = resolve(dirname(file), raw.cdrStore);
  if (raw.quota !== undefined) config.quota = quotaSettingsOf(raw.quota, dirname(file));
  if (raw.accounting !== undefined) config.accounting = { ...raw.accounting, ...(raw.accounting.spool !== undefined ? { spool: resolve(dirname(file), raw.accounting.spool) } : {}) };
  if (raw.limits !== undefined) config.limits = raw.limits;
  if (tls) config.tls = tls;
  if (raw.copsSecurity !== undefined) config.copsSecurity = raw.copsSecurity;
  if (limitsRaw !== undefined) config.sessionLimits = sessionLimitSettingsOf(limitsRaw, raw.roles, file);
  if (raw.realms !== undefined) config.realms = { ...raw.realms, journal: resolve(dirname(file), raw.realms.journal ?? "callgate-realms.jsonl") };
  if (raw.auth !== undefined) config.auth = raw.auth.credentials !== undefined ? { ...raw.auth, credentials: resolve(dirname(file), raw.auth.credentials) } : raw.auth;
  return config;
}

interface RawSessionLimits extends SessionLimitsCommon {
  dsc?: { POL1: number; POL2: number; requestTimeoutMs?: number; tls?: { ca: string; POL1: { key: string; cert: string }; POL2: { key: string; cert: string } } };
  redis?: string;
}

/** The `sessionLimits` section: a DSC per policy server on its role's host (local threshold default 0), or Redis. */
function sessionLimitSettingsOf(raw: RawSessionLimits, roles: DeployConfig["roles"], file: string): SessionLimitSettings {
  const at = (p: string): string => resolve(dirname(file), p);
  const out: SessionLimitSettings = {
    thresholds: Object.fromEntries(Object.entries(raw.thresholds).map(([e, t]) => [e, { global: t.global, local: t.local ?? 0 }])),
    membership: { ...(raw.groups ? { groups: raw.groups } : {}), ...(raw.realms !== undefined ? { realms: raw.realms } : {}) },
  };
  if (raw.failClosed !== undefined) out.failClosed = raw.failClosed;
  if (raw.redis !== undefined) out.redis = { url: raw.redis };
  if (raw.dsc !== undefined) {
    const d = raw.dsc;
    out.dsc = { listen: { POL1: { host: roles.POL1?.host ?? "127.0.0.1", port: d.POL1 }, POL2: { host: roles.POL2?.host ?? "127.0.0.1", port: d.POL2 } } };
    if (d.requestTimeoutMs !== undefined) out.dsc.requestTimeoutMs = d.requestTimeoutMs;
    if (d.tls !== undefined) out.dsc.tls = { ca: at(d.tls.ca), keys: { POL1: { key: at(d.tls.POL1.key), cert: at(d.tls.POL1.cert) }, POL2: { key: at(d.tls.POL2.key), cert: at(d.tls.POL2.cert) } } };
  }
  return out;
}

/**
 * Why a role's nextHop cannot be used, or undefined: only the proxies have one; a sip: URI with a loopback IPv4
 * host and a port (every packet stays on this host, no DNS), over the roles' SIP transport.
 */
function nextHopProblem(role: Role, uri: string, sipTransport: TopologyOptions["sipTransport"], sipOverTls: boolean): string | undefined {
  if (!isRoleOfKind(role, "sip-proxy")) return `${role} is no proxy: only ${rolesOfKind("sip-proxy").join(" and ")} have a next hop`;
  let parsed;
  try {
    parsed = parseSipUri(uri);
  } catch (err) {
    return `'${uri}' is not a SIP URI: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (parsed.scheme !== "sip") return `'${uri}': only sip: URIs (TLS comes from the tls section)`;
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(parsed.host)) return `'${parsed.host}' is not a loopback IPv4 address (127.0.0.0/8)`;
  if (parsed.port === undefined) return `'${uri}' names no port`;
  const transport = parsed.params.get("transport");
  const want = sipOverTls ? "tls" : sipTransport === "tcp" ? "tcp" : "udp";
  const has = typeof transport === "string" ? transport.toLowerCase() : "udp";
  if (has !== want) return `'${uri}' is over ${has.toUpperCase()} but the roles speak SIP over ${want.toUpperCase()}${want === "udp" ? "" : ` (add ;transport=${want})`}`;
  return undefined;
}

type Need = "sip.udp" | "sip.tcp" | "sip.tls" | "cops" | "osp";

/** The SIP transports of a role's hops: a user agent's own (userAgentTransports) where one end has one, else topology.sipTransport. */
function sipHops(role: Role, topology: TopologyOptions): ("udp" | "tcp" | "tls")[] {
  const own = topology.userAgentTransports as Partial<Record<Role, "udp" | "tcp">> | undefined;
  return roleRow(role).peers.filter((p) => roleRow(p).listens === "sip").map((p) => own?.[role] ?? own?.[p] ?? topology.sipTransport ?? "udp");
}

/** The listeners a role's process binds (SIP over TLS: the stream listener is sip.tls). */
function required(role: Role, topology: TopologyOptions, sipOverTls = false): Need[] {
  const listens = roleRow(role).listens;
  if (listens === "sip") return sipHops(role, topology).some((t) => t !== "udp") ? ["sip.udp", sipOverTls ? "sip.tls" : "sip.tcp"] : ["sip.udp"];
  if (listens === "cops") return ["cops"];
  if (listens === "osp") return topology.clearinghouse === "none" ? [] : ["osp"];
  return [];
}

function reason(need: Need, role: Role, topology: TopologyOptions): string {
  if (need === "sip.tcp") return topology.sipTransport === "tcp" && !sipHops(role, topology).includes("udp") ? "topology.sipTransport is tcp" : `a SIP hop of ${role} runs over TCP`;
  if (need === "sip.tls") return "tls.sip is true";
  if (need === "sip.udp") return "a SIP node binds a UDP socket";
  if (need === "cops") return "a COPS PDP listens on TCP";
  return `topology.clearinghouse is ${topology.clearinghouse}`;
}

/** The roles a process running `role` needs: itself and its FIG. 5/6 neighbours (CH only with a clearinghouse). */
export function rolesFor(role: Role, config: DeployConfig): Role[] {
  const withCh = config.topology.clearinghouse !== "none";
  return [role, ...DEPLOY_PEERS[role]].filter((r) => withCh || r !== "CH");
}

/** Checks that the file names `role` and its neighbours; throws DeployConfigError naming the missing fields. */
export function checkRoleCovered(role: string, config: DeployConfig): Role {
  const known = DEPLOY_ROLES.find((r) => r === role);
  if (!known) throw new DeployConfigError(config.file, [{ line: 0, column: 0, field: "", message: `unknown role '${role}' (roles: ${DEPLOY_ROLES.join(", ")})` }]);
  if (known === "CH" && config.topology.clearinghouse === "none")
    throw new DeployConfigError(config.file, [{ line: 0, column: 0, field: "topology.clearinghouse", message: "is none: there is no CH to serve" }]);
  const missing = rolesFor(known, config).filter((r) => !config.roles[r]);
  if (missing.length > 0)
    throw new DeployConfigError(
      config.file,
      missing.map((r) => ({ line: 0, column: 0, field: `roles.${r}`, message: r === known ? "missing: the role to serve" : `missing: ${known} talks to ${r}` })),
    );
  return known;
}

/** The socket driver's directory: every role the file names, at its addresses. */
export function directoryOf(config: DeployConfig): Record<string, NodeAddresses> {
  const out: Record<string, NodeAddresses> = {};
  for (const [name, e] of Object.entries(config.roles)) {
    const d: NodeAddresses = { host: e.host };
    if (e.sip) d.sipUdp = e.sip.udp;
    if (e.sip?.tcp !== undefined) d.sipTcp = e.sip.tcp;
    if (e.sip?.tls !== undefined) d.sipTls = e.sip.tls;
    if (e.sip?.ws !== undefined) d.sipWs = e.sip.ws;
    if (e.cops !== undefined) d.cops = e.cops;
    if (e.osp !== undefined) d.osp = e.osp;
    out[name] = d;
  }
  return out;
}

/** The UAC's calls: `count` of them, `intervalMs` apart from `startAt`, ids `call-N@callgate.example.com` (topology.callIdOf). */
export function callSpecsOf(calls: DeployCalls, startAt = 0): CallSpec[] {
  return Array.from({ length: calls.count }, (_, i): CallSpec => {
    const spec: CallSpec = {
      caller: calls.caller, callee: calls.callee, startMs: startAt + i * calls.intervalMs,
      answerDelayMs: calls.answerDelayMs, durationMs: calls.durationMs, hangUp: calls.hangUp,
    };
    if (calls.noAnswerTimeoutMs !== undefined) spec.noAnswerTimeoutMs = calls.noAnswerTimeoutMs;
    if (calls.reinvites !== undefined) spec.reinvites = calls.reinvites;
    return spec;
  });
}
