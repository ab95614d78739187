// What an operator sees of a long-running role process (`callgate lab`, `serve`): a JSON logger, a DropLog for
// refused input, and the Prometheus metrics fed from the roles' call events and sampled from their state.
import type { Protocol } from "../drivers/message-record.js";
import { DropLog } from "../observability/drop-log.js";
import { createLogger, type Logger } from "../observability/log.js";
import { RoleMetrics, startMetricsServer, type MetricsServer } from "../observability/metrics.js";
import type { CallEvent } from "./call-events.js";

/** The pino levels `--log-level` accepts. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** What a process samples for its gauges: the nodes it runs that hold COPS request states or queues. */
export interface GaugeSources {
  /** Open COPS request states, by peer or role. */
  requestStates?: () => Record<string, number>;
  /** Queue sizes, by queue name (e.g. "POL1 usage backlog"). */
  queues?: () => Record<string, number>;
  /** Inbound connections open now, by listener (e.g. "POL1 COPS"). */
  connections?: () => Record<string, number>;
}

/** How `startOperations` logs and where it serves metrics. */
export interface OperationsOptions {
  /** Process name in every log line and the `role` label of every metric. */
  name: string;
  logLevel?: string;
  /** Log here instead of a new JSON logger on stderr. */
  logger?: Logger;
  /** Serve GET /metrics here. */
  metrics?: { host: string; port: number };
  /** The roles whose call ends count as calls (the process's edge: SIP1 in the lab, the served role in serve). */
  callRoles: readonly string[];
  /** How often the gauges are sampled (default 1 s). */
  sampleMs?: number;
}

/** The logger, drop log and metrics of one role process, fed by its roles and drivers. */
export interface Operations {
  readonly logger: Logger;
  readonly drops: DropLog;
  readonly metrics: RoleMetrics;
  /** Where /metrics is served ("host:port"), when asked for. */
  readonly metricsAddress?: string;
  /** Feed every call event of the process's nodes here. */
  onEvent(event: CallEvent): void;
  /** Feed the driver's errors here (a connection from no known peer, an unreadable stream, a node's exception). */
  onError(where: string, err: unknown): void;
  /** Where the gauges are read from from now on; sampled now and every `sampleMs`. */
  watch(sources: GaugeSources): void;
  /** Stops sampling and the metrics listener. */
  close(): Promise<void>;
}

/** A short stable token for a drop's cause: the message up to its first detail ("bad REQ from …" → "bad-req"). */
export function dropCauseOf(message: string): string {
  const head = message.split(/ from |:|\(/)[0] ?? message;
  const cause = head.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 48);
  return cause || "unknown";
}

function protoOf(text: string): Protocol | "other" {
  if (/\bCOPS\b|\bREQ\b|\bOPN\b|\bDEC\b|\bRPT\b/.test(text)) return "COPS";
  if (/\bOSP\b|clearinghouse/i.test(text)) return "OSP";
  if (/\bSIP\b|udp|INVITE|BYE/.test(text)) return "SIP";
  return "other";
}

/** Distinct drop causes named in logs and metrics (label cardinality stays bounded). */
const MAX_CAUSES = 200;

/** A logger, a DropLog and Prometheus metrics (served on `options.metrics` when given) for one role process. */
export async function startOperations(options: OperationsOptions): Promise<Operations> {
  const logger = options.logger ?? createLogger({ name: options.name, ...(options.logLevel !== undefined ? { level: options.logLevel } : {}) });
  const metrics = new RoleMetrics(options.name);
  // Causes come from a fixed set of messages; past MAX_CAUSES distinct ones, the rest count as "other".
  const causes = new Set<string>();
  const bounded = (cause: string): string => {
    if (causes.has(cause) || causes.size < MAX_CAUSES) {
      causes.add(cause);
      return cause;
    }
    return `${cause.slice(0, Math.max(0, cause.indexOf(":")))}:other`;
  };
  const drops = new DropLog(logger, {
    onDrop: (cause) => {
      const sep = cause.indexOf(":");
      metrics.drops.inc({ proto: sep > 0 ? cause.slice(0, sep) : "other", cause: sep > 0 ? cause.slice(sep + 1) : cause });
    },
  });
  let server: MetricsServer | undefined;
  if (options.metrics) server = await startMetricsServer(metrics, options.metrics.host, options.metrics.port);
  const callRoles = new Set(options.callRoles);
  let gauges: GaugeSources = {};
  const sample = (): void => {
    for (const [peer, n] of Object.entries(gauges.requestStates?.() ?? {})) metrics.requestStates.set({ peer }, n);
    for (const [queue, n] of Object.entries(gauges.queues?.() ?? {})) metrics.queueSize.set({ queue }, n);
    for (const [listener, n] of Object.entries(gauges.connections?.() ?? {})) metrics.connections.set({ listener }, n);
  };
  const timer = setInterval(sample, options.sampleMs ?? 1000);
  timer.unref();
  const ops: Operations = {
    logger,
    drops,
    metrics,
    ...(server ? { metricsAddress: `${server.address.host}:${server.address.port}` } : {}),
    onEvent(e) {
      switch (e.type) {
        case "terminated":
          if (callRoles.has(e.role)) metrics.calls.inc({ outcome: e.status !== undefined && e.status >= 300 ? String(e.status) : "ended" });
          break;
        case "decision":
          metrics.decisions.inc({ kind: e.purpose, verdict: e.allow ? "allow" : "deny" });
          break;
        case "usage":
          // "pending": the policy server sent a UsageIndication again, its confirmation not yet seen.
          if (e.reported === "pending") metrics.retries.inc({ what: "usage" });
          break;
        case "error": {
          const cause = dropCauseOf(e.message);
          drops.drop(bounded(`${protoOf(e.message)}:${cause}`), { role: e.role, ...(e.callId ? { callId: e.callId } : {}), message: e.message });
          break;
        }
        default:
          break;
      }
    },
    onError(where, err) {
      const message = err instanceof Error ? err.message : String(err);
      // Input from outside the roles (an unknown connection, an unreadable stream) is a drop; the rest an error.
      if (/no known peer|stream|udp/.test(`${where} ${message}`)) drops.drop(bounded(`${protoOf(where)}:${dropCauseOf(message)}`), { where, message });
      else logger.error({ where, err: message }, `error in ${where}`);
    },
    watch(sources) {
      gauges = sources;
      sample();
    },
    close: async () => {
      clearInterval(timer);
      await server?.close();
    },
  };
  return ops;
}

/** Counts each CDR the store newly writes (resolved once it is on disk, so counted once durable). */
export function countCdrsWritten(store: { insertOnce(record: never): Promise<boolean> }, onWritten: () => void): void {
  const insertOnce = store.insertOnce.bind(store) as (record: unknown) => Promise<boolean>;
  (store as { insertOnce: (record: unknown) => Promise<boolean> }).insertOnce = async (record) => {
    const stored = await insertOnce(record);
    if (stored) onWritten();
    return stored;
  };
}

/** Parses `HOST:PORT` (an IPv6 host in brackets) of the setting named `setting`; port 0 picks a free one. */
export function parseHostPort(text: string, setting: string): { host: string; port: number } | Error {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  if (!m) return new Error(`${setting} wants HOST:PORT, got '${text}'`);
  const port = Number(m[3]);
  if (port > 65535) return new Error(`${setting}: port ${port} is out of range (0-65535)`);
  return { host: m[1] ?? m[2] ?? "", port };
}

/** Checks a `--log-level` value. */
export function checkLogLevel(level: string | undefined, setting = "--log-level"): Error | undefined {
  if (level === undefined || (LOG_LEVELS as readonly string[]).includes(level)) return undefined;
  return new Error(`${setting}: unknown level '${level}' (levels: ${LOG_LEVELS.join(", ")})`);
}
