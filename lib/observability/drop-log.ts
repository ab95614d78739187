// Input dropped or refused: counted per cause, logged once per cause per interval (with how many were
// suppressed since), so a flood of bad input cannot flood the log.
import type { Logger } from "./log.js";

/** How often a cause is logged, the clock, and a hook called for every drop. */
export interface DropLogOptions {
  /** At most one log line per cause in this window (default 60 s). */
  intervalMs?: number;
  /** Clock in ms (default Date.now). */
  now?: () => number;
  /** Called for every drop (e.g. a Prometheus counter). */
  onDrop?: (cause: string) => void;
}

/** Drops counted per cause and logged once per cause per interval. */
export class DropLog {
  private readonly totals = new Map<string, number>();
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>();
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(
    private readonly logger: Logger,
    private readonly options: DropLogOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Counts one drop of `cause` (a short stable token, e.g. "sip-content-length-exceeds-body") and logs it if due. */
  drop(cause: string, detail?: Record<string, unknown>): void {
    this.totals.set(cause, (this.totals.get(cause) ?? 0) + 1);
    this.options.onDrop?.(cause);
    const at = this.now();
    const last = this.lastLogged.get(cause);
    if (last && at - last.at < this.intervalMs) {
      last.suppressed++;
      return;
    }
    this.logger.warn({ cause, ...detail, suppressedSinceLast: last?.suppressed ?? 0 }, `dropped: ${cause}`);
    this.lastLogged.set(cause, { at, suppressed: 0 });
  }

  /** Drops of `cause` so far. */
  count(cause: string): number {
    return this.totals.get(cause) ?? 0;
  }

  /** Every cause with its total so far. */
  counts(): Record<string, number> {
    return Object.fromEntries(this.totals);
  }
}
