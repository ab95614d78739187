// Quota rules: which subject a call is counted under (subscriber, realm, source, destination prefix, or a
// combination), and the upper limits per calendar period on its accesses and quantities.
import type { AaaQuery } from "../adapters/policy-adapter.js";
import { checkTimeZone, QUOTA_PERIODS, type QuotaPeriod } from "./periods.js";

/** What a call is counted under: subscriber, realm, source or destination prefix. */
export type SubjectKind = "subscriber" | "realm" | "source" | "destination";
export const SUBJECT_KINDS: readonly SubjectKind[] = ["subscriber", "realm", "source", "destination"];

/** The four counters of a subject in one period. */
export interface QuotaCounters {
  /** Calls admitted at REQ AAA. */
  attempts: number;
  /** Calls that reached a conversation. */
  established: number;
  seconds: number;
  /** From the routers' COPS-PR counts of the call's classifiers. */
  octets: number;
}
export const COUNTER_NAMES: readonly (keyof QuotaCounters)[] = ["attempts", "established", "seconds", "octets"];

/** One quota rule: its subject, which calls it matches, its period and limits, and the SIP status and reason of a refusal. */
export interface QuotaRule {
  name: string;
  /** The subject is the combination of these (in this order); a call lacking one of them is not under the rule. */
  subject: SubjectKind[];
  /** Destination prefixes (of the callee's user part) the rule counts; the longest match is the subject's value. */
  destinationPrefixes?: string[];
  /** Only these values of each subject kind, when given. */
  match?: Partial<Record<SubjectKind, string[]>>;
  period: QuotaPeriod;
  limits: Partial<QuotaCounters>;
  /** What the caller sees when a new call is over the limit (RFC 3261 §21.4.4 403 by default; RFC 3326 Reason). */
  sipStatus?: number;
  reason?: string;
}

/** A quota rules file: its time zone and rules. */
export interface QuotaConfig {
  /** IANA zone the periods are calendar-aligned in (DST included). */
  timeZone: string;
  rules: QuotaRule[];
  /** Seconds between the routers' counts of calls in progress, when a rule limits octets (default 5). */
  progressIntervalS?: number;
}

/** A quota rules file that was refused: where and why. */
export class QuotaConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QuotaConfigError";
  }
}

/** The parts of a call a subject is made of. */
export interface CallSubjects {
  subscriber: string | undefined;
  realm: string | undefined;
  source: string | undefined;
  /** The callee's user part (digits for a telephone number). */
  destination: string | undefined;
}

/** user@host of a SIP URI (RFC 3261 §19.1), without scheme, parameters or port. */
function uriParts(uri: string): { user: string | undefined; host: string | undefined } {
  const m = /^(?:sips?|tel):(?:([^@;?]*)@)?([^;?>:]*)/i.exec(uri.trim().replace(/^<|>$/g, ""));
  if (!m) return { user: undefined, host: undefined };
  return { user: m[1] || undefined, host: m[2] ? m[2].toLowerCase() : undefined };
}

/** The subjects a call is counted under, from its caller, callee and media. */
export function callSubjects(q: Pick<AaaQuery, "caller" | "callee" | "flows">): CallSubjects {
  const caller = uriParts(q.caller);
  const callee = uriParts(q.callee);
  const fromCaller = q.flows.find((f) => f.direction === "caller-to-callee");
  return {
    subscriber: caller.user !== undefined && caller.host !== undefined ? `${caller.user}@${caller.host}` : caller.host,
    realm: caller.host,
    source: fromCaller?.src.address,
    destination: callee.user ?? callee.host,
  };
}

/** The rule's subject key for a call ("subscriber=alice@example.com,realm=…"), or undefined when the rule does not apply. */
export function subjectKey(rule: QuotaRule, s: CallSubjects): string | undefined {
  const parts: string[] = [];
  for (const kind of rule.subject) {
    let value = s[kind];
    if (value === undefined) return undefined;
    if (kind === "destination" && rule.destinationPrefixes) {
      let best: string | undefined;
      for (const p of rule.destinationPrefixes) if (value.startsWith(p) && (best === undefined || p.length > best.length)) best = p;
      if (best === undefined) return undefined;
      value = best;
    }
    const only = rule.match?.[kind];
    if (only && !only.includes(value)) return undefined;
    parts.push(`${kind}=${value}`);
  }
  return parts.join(",");
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function stringList(v: unknown, where: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string" || x === "")) throw new QuotaConfigError(`${where} must be a list of non-empty strings`);
  return v as string[];
}

/** Checks a parsed YAML/JSON quota configuration; every error names the rule and field. */
export function parseQuotaConfig(raw: unknown): QuotaConfig {
  if (!isObject(raw)) throw new QuotaConfigError("quota configuration must be a mapping with timeZone and rules");
  const timeZone = raw.timeZone ?? "UTC";
  if (typeof timeZone !== "string") throw new QuotaConfigError("timeZone must be an IANA zone name");
  try {
    checkTimeZone(timeZone);
  } catch (e) {
    throw new QuotaConfigError(`timeZone: ${(e as Error).message}`);
  }
  if (!Array.isArray(raw.rules) || raw.rules.length === 0) throw new QuotaConfigError("rules must be a non-empty list");
  const names = new Set<string>();
  const rules = raw.rules.map((r, i): QuotaRule => {
    const at = `rules[${i}]`;
    if (!isObject(r)) throw new QuotaConfigError(`${at} must be a mapping`);
    for (const k of Object.keys(r))
      if (!["name", "subject", "destinationPrefixes", "match", "period", "limits", "sipStatus", "reason"].includes(k)) throw new QuotaConfigError(`${at}: unknown field '${k}'`);
    if (typeof r.name !== "string" || !/^[A-Za-z0-9_.-]+$/.test(r.name)) throw new QuotaConfigError(`${at}.name must be letters, digits, '_', '.' or '-'`);
    if (names.has(r.name)) throw new QuotaConfigError(`${at}.name '${r.name}' is used twice`);
    names.add(r.name);
    const subject = typeof r.subject === "string" ? [r.subject] : stringList(r.subject, `${at}.subject`);
    for (const s of subject) if (!SUBJECT_KINDS.includes(s as SubjectKind)) throw new QuotaConfigError(`${at}.subject: '${s}' is not one of ${SUBJECT_KINDS.join(", ")}`);
    if (new Set(subject).size !== subject.length || subject.length === 0) throw new QuotaConfigError(`${at}.subject names each kind once, at least one`);
    if (!QUOTA_PERIODS.includes(r.period as QuotaPeriod)) throw new QuotaConfigError(`${at}.period must be one of ${QUOTA_PERIODS.join(", ")}`);
    if (!isObject(r.limits)) throw new QuotaConfigError(`${at}.limits must be a mapping of ${COUNTER_NAMES.join(", ")}`);
    const limits: Partial<QuotaCounters> = {};
    for (const [k, v] of Object.entries(r.limits)) {
      if (!COUNTER_NAMES.includes(k as keyof QuotaCounters)) throw new QuotaConfigError(`${at}.limits: '${k}' is not one of ${COUNTER_NAMES.join(", ")}`);
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new QuotaConfigError(`${at}.limits.${k} must be a non-negative integer`);
      limits[k as keyof QuotaCounters] = v;
    }
    if (Object.keys(limits).length === 0) throw new QuotaConfigError(`${at}.limits names no limit`);
    const rule: QuotaRule = { name: r.name, subject: subject as SubjectKind[], period: r.period as QuotaPeriod, limits };
    if (r.destinationPrefixes !== undefined) rule.destinationPrefixes = stringList(r.destinationPrefixes, `${at}.destinationPrefixes`);
    if (r.match !== undefined) {
      if (!isObject(r.match)) throw new QuotaConfigError(`${at}.match must be a mapping of subject kind to values`);
      rule.match = {};
      for (const [k, v] of Object.entries(r.match)) {
        if (!subject.includes(k)) throw new QuotaConfigError(`${at}.match.${k}: not a kind of this rule's subject`);
        rule.match[k as SubjectKind] = stringList(v, `${at}.match.${k}`);
      }
    }
    if (r.sipStatus !== undefined) {
      if (typeof r.sipStatus !== "number" || !Number.isInteger(r.sipStatus) || r.sipStatus < 400 || r.sipStatus > 699) throw new QuotaConfigError(`${at}.sipStatus must be a final error status 400-699`);
      rule.sipStatus = r.sipStatus;
    }
    if (r.reason !== undefined) {
      if (typeof r.reason !== "string" || r.reason === "" || /[\r\n"]/.test(r.reason)) throw new QuotaConfigError(`${at}.reason must be one line of text without quotes`);
      rule.reason = r.reason;
    }
    return rule;
  });
  const config: QuotaConfig = { timeZone, rules };
  if (raw.progressIntervalS !== undefined) {
    const p = raw.progressIntervalS;
    if (typeof p !== "number" || !Number.isInteger(p) || p < 1 || p > 3600) throw new QuotaConfigError("progressIntervalS must be whole seconds, 1-3600");
    config.progressIntervalS = p;
  }
  return config;
}
