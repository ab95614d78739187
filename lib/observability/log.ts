// Structured JSON logs (pino): one logger per process, a child per role or listener. Level from the option or
// CALLGATE_LOG_LEVEL; logs go to stderr so a command's stdout stays its own output.
import { pino, type Logger } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  /** Name carried in every line (the process's role, e.g. "POL1", "proxy"). */
  name: string;
  /** trace | debug | info | warn | error | fatal | silent (default CALLGATE_LOG_LEVEL or "info"). */
  level?: string;
  /** File descriptor to write to (default 2, stderr). */
  fd?: number;
}

export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env.CALLGATE_LOG_LEVEL ?? "info";
  return pino({ name: options.name, level, base: { pid: process.pid } }, pino.destination({ fd: options.fd ?? 2, sync: true }));
}

/** A logger that writes nothing: the default of library code that was given none. */
export const silentLogger: Logger = pino({ level: "silent" });
