// Test helpers: split a call's records at its first BYE and run ../shared/tools/check-ladder.mjs on each half.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";

export const CHECK_LADDER = join(process.cwd(), "..", "shared", "tools", "check-ladder.mjs");

export function splitCall(records: MessageRecord[], callId: string): { setup: MessageRecord[]; teardown: MessageRecord[] } {
  const mine = records.filter((r) => r.callId === callId);
  const bye = mine.findIndex((r) => r.proto === "SIP" && r.msg === "BYE");
  return bye < 0 ? { setup: mine, teardown: [] } : { setup: mine.slice(0, bye), teardown: mine.slice(bye) };
}

const MIRROR: Record<string, string> = { UAC: "UAS", UAS: "UAC", SIP1: "SIP2", SIP2: "SIP1", POL1: "POL2", POL2: "POL1", R1: "R2", R2: "R1", CH: "CH" };

/** The callee-hangs-up teardown seen in a mirror: FIG. 6 with the two sides swapped. */
export function mirrored(records: MessageRecord[]): MessageRecord[] {
  return records.map((r) => ({ ...r, from: MIRROR[r.from] ?? r.from, to: MIRROR[r.to] ?? r.to }));
}

export function checkLadder(records: MessageRecord[], flow: "setup" | "teardown", noClearinghouse = false): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "callgate-ladder-"));
  const file = join(dir, `${flow}.jsonl`);
  writeFileSync(file, records.map((r) => JSON.stringify({ t: r.t, proto: r.proto, from: r.from, to: r.to, msg: r.msg, callId: r.callId })).join("\n") + "\n");
  const args = [CHECK_LADDER, file, flow, ...(noClearinghouse ? ["--no-clearinghouse"] : [])];
  const res = spawnSync(process.execPath, args, { encoding: "utf8" });
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}
