// The connection-limit options every long-running command takes (proxy, lab, serve, clearinghouse): one
// flag per ConnectionLimits setting, checked and named as given.
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "../../protocols/net/connection-limits.js";

/** Flag → setting. */
export const LIMIT_FLAGS: Readonly<Record<string, keyof ConnectionLimits>> = {
  "--max-connections": "maxConnections",
  "--max-connections-per-source": "maxConnectionsPerSource",
  "--idle-timeout": "idleTimeoutMs",
  "--header-timeout": "headerTimeoutMs",
  "--body-timeout": "bodyTimeoutMs",
};

const d = DEFAULT_CONNECTION_LIMITS;
export const LIMIT_USAGE = `  listener limits (every TCP/TLS/HTTP listener; 0 turns one off):
  --max-connections N            open connections per listener (default ${d.maxConnections})
  --max-connections-per-source N open connections per listener from one address (default ${d.maxConnectionsPerSource})
  --idle-timeout MS              close a connection silent this long (default ${d.idleTimeoutMs})
  --header-timeout MS            a message head must be whole this long after its first byte (default ${d.headerTimeoutMs})
  --body-timeout MS              a message body must be whole this long after its head (default ${d.bodyTimeoutMs})`;

/** Sets the limit `flag` names from `text` into `limits`; an Error names the flag when the value is not a non-negative integer. */
export function setLimitFlag(limits: Partial<ConnectionLimits>, flag: string, text: string | undefined): Error | undefined {
  const key = LIMIT_FLAGS[flag];
  if (key === undefined) return new Error(`unknown option '${flag}'`);
  if (text === undefined || !/^\d{1,9}$/.test(text)) return new Error(`${flag} wants a non-negative integer, got '${text ?? ""}'`);
  limits[key] = Number(text);
  return undefined;
}

/** The limit flags as node:util parseArgs options (all strings). */
export const LIMIT_PARSE_OPTIONS = Object.fromEntries(Object.keys(LIMIT_FLAGS).map((f) => [f.slice(2), { type: "string" as const }])) as Record<
  "max-connections" | "max-connections-per-source" | "idle-timeout" | "header-timeout" | "body-timeout",
  { type: "string" }
>;

/** The limits given in node:util parseArgs `values`; throws an Error naming a bad flag. */
export function limitsFromValues(values: Record<string, unknown>): Partial<ConnectionLimits> {
  const limits: Partial<ConnectionLimits> = {};
  for (const flag of Object.keys(LIMIT_FLAGS)) {
    const v = values[flag.slice(2)];
    if (v === undefined) continue;
    const problem = setLimitFlag(limits, flag, typeof v === "string" ? v : undefined);
    if (problem) throw problem;
  }
  return limits;
}
