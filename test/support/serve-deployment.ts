// The nine roles of FIG. 5 / FIG. 6 as `callgate serve` processes on loopback: free ports for the deploy file,
// one process per role, and the wait until their record files are still.
import { existsSync } from "node:fs";
import { freePort } from "../interop/sip-sipp-helpers.js";
import { spawnCli, type RunningProcess } from "./cli-process.js";
import { mergeRecordFiles } from "../../lib/flow/serve-records.js";

/** Every role but the UAC, which is started last and ends by itself. */
export const SERVER_ROLES = ["SIP1", "POL1", "R1", "CH", "SIP2", "POL2", "R2", "UAS"] as const;

/** `n` loopback ports, each free for UDP and TCP, no two the same. */
export async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/** One distinct free port per name. */
export async function namedFreePorts<K extends string>(names: readonly K[]): Promise<Record<K, number>> {
  const ports = await distinctFreePorts(names.length);
  return Object.fromEntries(names.map((name, i) => [name, ports[i]])) as Record<K, number>;
}

/** `callgate serve ROLE --config FILE --record FILE` in its own process (the built CLI with `built`). */
export function serveProcess(role: string, config: string, record: string, { built = false, extra = [] as string[] } = {}): RunningProcess {
  return spawnCli("serve", [role, "--config", config, "--record", record, ...extra], { built });
}

/** Waits (up to 20 s) until the merged record files stop growing: the teardown goes on behind the UAC. */
export async function untilRecordsStill(files: string[]): Promise<void> {
  const present = files.filter((f) => existsSync(f));
  let count = -1;
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const now = mergeRecordFiles(present).length;
    if (now === count) return;
    count = now;
  }
}
