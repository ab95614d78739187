// Accounting export of a served policy server (the deploy file's `accounting` section, `callgate serve POL1`):
// its side's Start when the router installed the call's policy, an Interim-Update every `interimSeconds`, the
// Stop with the usage at the end; each spooled (fsynced) before it is sent, and sent like every export. The
// sessions open are journaled beside the spool, so that a process restarted mid-call goes on with their
// Interim-Updates until the Stop.
import { dirname, join } from "node:path";
import type { CallEvent, CallEventBus } from "../flow/call-events.js";
import { AccountingExporter, parseAccountingServer } from "./exporter.js";
import { AccountingRecorder, accountingSessionId, type AccountingCallInfo, type AccountingRecord } from "./records.js";
import { openAccountingSessionJournal, sessionOfRecord } from "./sessions.js";

export interface AccountingSettings {
  /** udp:HOST:PORT, the second one the failover. */
  servers: string[];
  secret: string;
  /**
   * Spool path (absolute), to which each policy server adds ".ROLE"; default callgate-accounting-ROLE.spool
   * beside the deploy file. The journal of open sessions is the spool's path with ".sessions" added.
   */
  spool?: string;
  /** Seconds between Interim-Updates of a call in progress (RFC 2869 §2.1); none when 0 or absent. */
  interimSeconds?: number;
}

export interface ServedAccounting {
  exporter: AccountingExporter;
  recorder: AccountingRecorder;
  /** Waits up to `drainMs` for the answers, then closes (what is unanswered stays spooled for the next start). */
  close(drainMs?: number): Promise<void>;
}

export async function startServedAccounting(
  settings: AccountingSettings,
  role: string,
  deployFile: string,
  bus: CallEventBus,
  describe: (callId: string) => AccountingCallInfo | undefined = () => undefined,
): Promise<ServedAccounting> {
  const spoolPath = settings.spool !== undefined ? `${settings.spool}.${role}` : join(dirname(deployFile), `callgate-accounting-${role}.spool`);
  const exporter = await AccountingExporter.open({
    spoolPath,
    servers: settings.servers.map(parseAccountingServer),
    secret: settings.secret,
  });
  // A process restarted mid-call whose journal was lost does not know the call's Start time: the usage at its
  // end makes the Start again, dated back, and the spool refuses it as the same record when it holds it.
  const recorder = new AccountingRecorder({
    nasIdentifier: `callgate-${role}`,
    startOnInstall: true,
    startFromUsage: true,
    ...(settings.interimSeconds !== undefined ? { interimIntervalS: settings.interimSeconds } : {}),
    describe,
  });
  const journal = openAccountingSessionJournal(`${spoolPath}.sessions`);
  // A Start is journaled (synced when `opened` returns) before it is spooled, a Stop spooled before its session
  // is closed: a crash between leaves the session open, never a Start the journal does not know.
  const submit = (records: AccountingRecord[]): void => {
    for (const r of records) {
      const session = r.status === "Start" ? sessionOfRecord(r) : undefined;
      if (session) void journal.opened({ ...session, startMs: r.eventMs });
    }
    exporter.submit(records);
    for (const r of records) if (r.status === "Stop" && sessionOfRecord(r)) void journal.closed(r.sessionId);
  };
  // Sessions an earlier process left open: closed if their Stop is already spooled, resumed otherwise (their
  // Start submitted again as it was: the spool refuses it when it holds it).
  const now = Date.now();
  for (const s of journal.open) {
    const key = accountingSessionId(s.callId, s.side);
    if (exporter.holds(`${key}|Stop`)) void journal.closed(key);
    else submit(recorder.resume(s.callId, s.side, s.startMs, now));
  }
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const next = recorder.nextDeadline();
    if (next === undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      submit(recorder.tick(Date.now()));
      schedule();
    }, Math.max(0, next - Date.now()));
  };
  schedule();
  const onEvent = (e: CallEvent): void => {
    if (e.role !== role || (e.type !== "usage" && e.type !== "decision")) return;
    const records = recorder.onEvent(e, Date.now());
    if (records.length === 0) return;
    submit(records);
    schedule();
  };
  bus.on("decision", onEvent);
  bus.on("usage", onEvent);
  return {
    exporter,
    recorder,
    close: async (drainMs = 2000) => {
      bus.off("decision", onEvent);
      bus.off("usage", onEvent);
      if (timer) clearTimeout(timer);
      await exporter.drained(drainMs);
      await exporter.close();
      journal.close();
    },
  };
}
