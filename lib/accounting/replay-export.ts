// Accounting export of a replayed scenario (`callgate replay --radius-acct udp:HOST:PORT --radius-secret S`):
// the run's call events are kept with their times, turned into Start/Interim-Update/Stop records afterwards
// (the in-memory driver's virtual time mapped onto the wall clock so that the run ends now), spooled and sent.
import type { CallEvent } from "../flow/call-events.js";
import { CallEventBus } from "../flow/call-events.js";
import { RunClock } from "../flow/run-clock.js";
import type { RunOptions, RunResult } from "../flow/run-types.js";
import { AccountingExporter, parseAccountingServer } from "./exporter.js";
import { AccountingRecorder, type AccountingCallInfo, type AccountingRecord } from "./records.js";

export interface ReplayAccountingOptions {
  servers: string[];
  secret: string | undefined;
  spool: string | undefined;
  interimS: string | undefined;
  waitS?: string | undefined;
}

export const REPLAY_ACCOUNTING_USAGE = `  --radius-acct udp:HOST:PORT   send the calls' RADIUS accounting (RFC 2866) there; given twice, the second is the failover
  --radius-secret SECRET        the shared secret of the accounting server(s)
  --radius-spool FILE           the accounting spool (default callgate-accounting.spool); records unanswered stay in it
  --radius-interim SECONDS      Interim-Update interval (default none)
  --radius-wait SECONDS         how long to wait for the answers after the run (default 60)`;

/** Checks the options; throws an Error with the reason, or returns undefined when no export was asked for. */
export function replayAccounting(o: ReplayAccountingOptions): ReplayAccounting | undefined {
  if (o.servers.length === 0) {
    if (o.secret !== undefined || o.spool !== undefined || o.interimS !== undefined || o.waitS !== undefined) throw new Error("--radius-secret, --radius-spool, --radius-interim and --radius-wait need --radius-acct");
    return undefined;
  }
  if (o.servers.length > 2) throw new Error("--radius-acct: at most two servers (primary, failover)");
  if (o.secret === undefined || o.secret === "") throw new Error("--radius-acct needs --radius-secret");
  const servers = o.servers.map((s) => {
    try {
      return parseAccountingServer(s);
    } catch (e) {
      throw new Error(`--radius-acct ${(e as Error).message}`);
    }
  });
  const interimS = o.interimS === undefined ? 0 : Number(o.interimS);
  if (!Number.isInteger(interimS) || interimS < 1) {
    if (o.interimS !== undefined) throw new Error("--radius-interim must be a whole number of seconds, at least 1");
  }
  const waitS = o.waitS === undefined ? 60 : Number(o.waitS);
  if (!Number.isFinite(waitS) || waitS <= 0) throw new Error("--radius-wait must be a positive number of seconds");
  return new ReplayAccounting(servers, o.secret, o.spool ?? "callgate-accounting.spool", interimS, waitS * 1000);
}

export class ReplayAccounting {
  private readonly events: [CallEvent, number][] = [];
  private readonly clock = new RunClock();
  private driver: RunOptions["driver"] = "memory";

  constructor(
    readonly servers: ReturnType<typeof parseAccountingServer>[],
    private readonly secret: string,
    readonly spoolPath: string,
    private readonly interimS: number,
    private readonly waitMs: number,
  ) {}

  private exporter: AccountingExporter | undefined;

  /**
   * Opens the spool (what an earlier process left unanswered goes out again now, as the same bytes) and
   * returns the run's options with an event bus and clock this export listens to.
   */
  async prepare(options: RunOptions): Promise<RunOptions> {
    this.exporter = await AccountingExporter.open({ spoolPath: this.spoolPath, servers: this.servers, secret: this.secret });
    const bus = options.events ?? new CallEventBus();
    const clock = options.clock ?? this.clock;
    this.driver = options.driver;
    // virtual ms from 0 on the memory driver (placed on the wall clock afterwards); epoch ms on sockets
    bus.on("*", (e) => this.events.push([e, this.driver === "memory" ? clock.now() : Date.now()]));
    return { ...options, events: bus, clock };
  }

  records(result: RunResult): AccountingRecord[] {
    const parties = new Map<string, AccountingCallInfo>(result.calls.map((c) => [c.callId, { caller: c.spec.caller, callee: c.spec.callee }]));
    const recorder = new AccountingRecorder({ nasIdentifier: "callgate", interimIntervalS: this.interimS, describe: (id) => parties.get(id) });
    const out: AccountingRecord[] = [];
    // a virtual run of an hour took milliseconds: its last event is now, the others before it
    const base = this.driver === "memory" ? Date.now() - (this.events[this.events.length - 1]?.[1] ?? 0) : 0;
    for (const [e, vt] of this.events) {
      const t = base + vt;
      out.push(...recorder.tick(t));
      out.push(...recorder.onEvent(e, t));
    }
    return out;
  }

  /** Spools the run's records and waits up to `waitMs` for the server(s) to answer them all; a line to print. */
  async export(result: RunResult, waitMs = this.waitMs): Promise<{ ok: boolean; line: string }> {
    const exporter = this.exporter;
    if (!exporter) throw new Error("accounting export not prepared");
    try {
      const records = this.records(result);
      const fresh = exporter.submit(records);
      const ok = await exporter.drained(waitMs);
      const to = this.servers.map((s) => `udp:${s.address}:${s.port}`).join(", ");
      const already = records.length - fresh;
      const line = ok
        ? `accounting: ${records.length} record(s) answered by ${to}${already > 0 ? ` (${already} already sent before)` : ""}`
        : `accounting: ${exporter.backlog} record(s) not answered by ${to} within ${Math.round(waitMs / 1000)} s; kept in ${this.spoolPath}`;
      return { ok, line };
    } finally {
      await exporter.close();
    }
  }
}
