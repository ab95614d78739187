// Reading FreeRADIUS's detail file, and restarting the test's FreeRADIUS on the same ports and detail file.
import { existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
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

/**
 * FreeRADIUS configuration that logs one accounting record once: an rlm_cache entry per Acct-Session-Id,
 * Acct-Status-Type and Acct-Session-Time (an hour, in memory) is made before the detail is written, and a record
 * found in it is answered without a second entry. What an operator's accounting database does with a unique key.
 */
export const ACCOUNTING_ONCE = {
  modules: {
    acct_once: `cache acct_once {
	driver = "rlm_cache_rbtree"
	key = "%{Acct-Session-Id}|%{Acct-Status-Type}|%{%{Acct-Session-Time}:-0}"
	ttl = 3600
	update {
		&control:Tmp-String-1 := "logged"
	}
}
`,
  },
  accounting: "acct_once\n\t\tif (!ok) {\n\t\t\tdetail_callgate\n\t\t}",
};
