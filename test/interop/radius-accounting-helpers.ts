// Reading FreeRADIUS's detail file, and restarting the test's FreeRADIUS on the same ports and detail file.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startFreeradiusLab } from "../support/freeradius-lab.mjs";

export interface DetailRecord {
  [attribute: string]: string;
}

/** The records of a detail file: one per blank-line separated block, attribute = value (quotes removed). */
export function readDetail(path: string): DetailRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split(/\n\n+/)
    .filter((b) => b.trim() !== "")
    .map((block) => {
      const r: DetailRecord = {};
      for (const line of block.split("\n").slice(1)) {
        const m = /^\s+([A-Za-z0-9-]+) = "?(.*?)"?$/.exec(line);
        if (m) r[m[1]!] = m[2]!;
      }
      return r;
    });
}

/** Records per key "session-id|status" (an Interim-Update's key adds its Acct-Session-Time). */
export function detailKeys(records: DetailRecord[]): Map<string, number> {
  const keys = new Map<string, number>();
  for (const r of records) {
    const key = `${r["Acct-Session-Id"]}|${r["Acct-Status-Type"]}${r["Acct-Status-Type"] === "Interim-Update" ? `|${r["Acct-Session-Time"]}` : ""}`;
    keys.set(key, (keys.get(key) ?? 0) + 1);
  }
  return keys;
}

export type Lab = Awaited<ReturnType<typeof startFreeradiusLab>>;

/** Starts FreeRADIUS again in `dir` (same ports, same detail file); the old log is moved aside so readiness is the new one's. */
export async function restartLab(options: Parameters<typeof startFreeradiusLab>[0], previous: Lab | undefined, n: number): Promise<Lab> {
  if (previous) {
    await previous.stop();
    if (existsSync(previous.logFile)) renameSync(previous.logFile, `${previous.logFile}.${n}`);
  }
  rmSync(join(options.dir, "raddb"), { recursive: true, force: true }); // written afresh (a copy over a copy fails on its symlinks)
  return startFreeradiusLab(options);
}

/** Stops FreeRADIUS; its log is moved aside so that the next start's readiness is read from a new one. */
export async function stopLab(lab: Lab, n: number): Promise<void> {
  await lab.stop();
  if (existsSync(lab.logFile)) renameSync(lab.logFile, `${lab.logFile}.${n}`);
}

/** SIGKILLs FreeRADIUS and waits until it is gone. */
export async function killLab(lab: Lab, n: number): Promise<void> {
  if (lab.pid === undefined) return;
  process.kill(lab.pid, "SIGKILL");
  for (;;) {
    try {
      process.kill(lab.pid, 0);
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await lab.stop();
  if (existsSync(lab.logFile)) renameSync(lab.logFile, `${lab.logFile}.${n}`);
}

/** The once-only recipe of docs/accounting.md, its two blocks as an operator copies them. */
function onceRecipe(): { schema: string; module: string } {
  const page = readFileSync(fileURLToPath(new URL("../../docs/accounting.md", import.meta.url)), "utf8");
  const blocks = [...page.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1], text: m[2]! }));
  const schema = blocks.find((b) => b.lang === "sql" && b.text.includes("CREATE TABLE IF NOT EXISTS accounting"));
  const module = blocks.find((b) => b.text.startsWith("sql acct_once {"));
  if (!schema || !module) throw new Error("docs/accounting.md lost its once-only recipe");
  return { schema: schema.text, module: module.text };
}

/** The accounting table of the once-only recipe: one row per record, whatever is resent. */
export const ACCOUNTING_TABLE_SCHEMA = onceRecipe().schema;

/** The recipe's FreeRADIUS module with this run's database and schema files. */
function accountingOnceModule(database: string, schema: string): string {
  return onceRecipe()
    .module.replace(/^(\s*filename = ).*$/m, `$1"${database}"`)
    .replace(/^(\s*bootstrap = ).*$/m, `$1"${schema}"`);
}

/**
 * FreeRADIUS configured to keep each accounting record once, across its own restarts and SIGKILLs: the
 * SQLite table of the once-only recipe (in `dir`, outside raddb, so it outlives a restart), and the detail
 * file written only for a record the table did not hold yet (a SIGKILL between the two can leave a record in
 * the table only: the table is what counts). `received` logs every request, resends included.
 */
export function accountingOnce(dir: string): { modules: Record<string, string>; accounting: string; database: string; received: string } {
  const database = join(dir, "accounting.sqlite");
  const schema = join(dir, "accounting-schema.sql");
  const received = join(dir, "received");
  writeFileSync(schema, ACCOUNTING_TABLE_SCHEMA);
  return {
    database,
    received,
    modules: {
      acct_once: accountingOnceModule(database, schema),
      detail_received: `detail detail_received {\n\tfilename = ${received}\n\tpermissions = 0600\n\theader = "%t"\n}\n`,
    },
    accounting: "detail_received\n\t\tacct_once\n\t\tif (ok) {\n\t\t\tdetail_callgate\n\t\t}",
  };
}

/** A row of the once-only accounting table. */
export interface AccountingRow {
  acct_session_id: string;
  acct_status_type: string;
  event_timestamp: number;
  acct_session_time: number | null;
  nas_identifier: string;
}

/** The rows of the once-only accounting table (read-only; FreeRADIUS may be writing). */
export function readAccountingTable(database: string): AccountingRow[] {
  if (!existsSync(database)) return [];
  const db = new Database(database, { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT acct_session_id, acct_status_type, event_timestamp, acct_session_time, nas_identifier FROM accounting").all() as AccountingRow[];
  } finally {
    db.close();
  }
}
