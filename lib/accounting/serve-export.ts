// Accounting export of a served policy server (the deploy file's `accounting` section, `callgate serve POL1`):
// each ended call's usage becomes its side's Start and Stop, spooled and sent like every export.
import { dirname, join } from "node:path";
import type { CallEventBus } from "../flow/call-events.js";
import { AccountingExporter, parseAccountingServer } from "./exporter.js";
import { AccountingRecorder, type AccountingCallInfo } from "./records.js";

export interface AccountingSettings {
  /** udp:HOST:PORT, the second one the failover. */
  servers: string[];
  secret: string;
  /** Spool path (absolute), to which each policy server adds ".ROLE"; default callgate-accounting-ROLE.spool beside the deploy file. */
  spool?: string;
}

export interface ServedAccounting {
  exporter: AccountingExporter;
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
  const recorder = new AccountingRecorder({ nasIdentifier: `callgate-${role}`, startFromUsage: true, describe });
  const onUsage = (e: Parameters<AccountingRecorder["onEvent"]>[0]): void => {
    if (e.type !== "usage" || e.role !== role) return;
    exporter.submit(recorder.onEvent(e, Date.now()));
  };
  bus.on("usage", onUsage);
  return {
    exporter,
    close: async (drainMs = 2000) => {
      bus.off("usage", onUsage);
      await exporter.drained(drainMs);
      await exporter.close();
    },
  };
}
