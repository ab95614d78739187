// Accounting export of a served policy server (the deploy file's `accounting` section, `callgate serve POL1`):
// its side's Start when the router installed the call's policy, an Interim-Update every `interimSeconds`, the
// Stop with the usage at the end; each spooled (fsynced) before it is sent, and sent like every export.
import { dirname, join } from "node:path";
import type { CallEvent, CallEventBus } from "../flow/call-events.js";
import { AccountingExporter, parseAccountingServer } from "./exporter.js";
import { AccountingRecorder, type AccountingCallInfo } from "./records.js";

export interface AccountingSettings {
  /** udp:HOST:PORT, the second one the failover. */
  servers: string[];
  secret: string;
  /** Spool path (absolute), to which each policy server adds ".ROLE"; default callgate-accounting-ROLE.spool beside the deploy file. */
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
  const exporter = await AccountingExporter.open({
    spoolPath: settings.spool !== undefined ? `${settings.spool}.${role}` : join(dirname(deployFile), `callgate-accounting-${role}.spool`),
    servers: settings.servers.map(parseAccountingServer),
    secret: settings.secret,
  });
  // A process restarted mid-call lost the call's Start time: the usage at its end makes the Start again, dated
  // back, and the spool refuses it as the same record when the first process had spooled it.
  const recorder = new AccountingRecorder({
    nasIdentifier: `callgate-${role}`,
    startOnInstall: true,
    startFromUsage: true,
    ...(settings.interimSeconds !== undefined ? { interimIntervalS: settings.interimSeconds } : {}),
    describe,
  });
  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const next = recorder.nextDeadline();
    if (next === undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      exporter.submit(recorder.tick(Date.now()));
      schedule();
    }, Math.max(0, next - Date.now()));
  };
  const onEvent = (e: CallEvent): void => {
    if (e.role !== role || (e.type !== "usage" && e.type !== "decision")) return;
    const records = recorder.onEvent(e, Date.now());
    if (records.length === 0) return;
    exporter.submit(records);
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
    },
  };
}
