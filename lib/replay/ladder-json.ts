// Ladder as JSON lines (one MessageRecord per line, the form ../shared/tools/check-ladder.mjs reads), split
// into the setup flow and the teardown flow of one call at the first BYE.
import { writeFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { recordFromJsonLine, recordToJsonLine, type MessageRecord } from "../drivers/message-record.js";
import { mirrorRole } from "./roles.js";

export function toJsonLines(records: readonly MessageRecord[]): string {
  return records.map((r) => recordToJsonLine(r) + "\n").join("");
}

export function fromJsonLines(text: string): MessageRecord[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => recordFromJsonLine(line));
}

export function writeJsonLines(path: string, records: readonly MessageRecord[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, toJsonLines(records));
}

/** Records grouped by call, each group in stream order, groups in order of first appearance. */
export function recordsByCall(records: readonly MessageRecord[]): Map<string, MessageRecord[]> {
  const calls = new Map<string, MessageRecord[]>();
  for (const r of records) {
    const list = calls.get(r.callId);
    if (list) list.push(r);
    else calls.set(r.callId, [r]);
  }
  return calls;
}

export interface SplitLadder<T> {
  setup: T[];
  /** From the first BYE on; empty when the call never got a BYE. */
  teardown: T[];
}

/** Splits one call's records at its first BYE (FIG. 6 begins with the BYE). */
export function splitAtFirstBye<T extends { proto: string; msg: string }>(records: readonly T[]): SplitLadder<T> {
  const bye = records.findIndex((r) => r.proto === "SIP" && r.msg === "BYE");
  if (bye < 0) return { setup: [...records], teardown: [] };
  return { setup: records.slice(0, bye), teardown: records.slice(bye) };
}

/** Who sent the first BYE: "UAC" (FIG. 6 as drawn), "UAS" (its mirror image), or undefined. */
export function byeSender<T extends { proto: string; msg: string; from: string }>(records: readonly T[]): string | undefined {
  return records.find((r) => r.proto === "SIP" && r.msg === "BYE")?.from;
}

/** The same ladder seen from the other side, so a callee hang-up can be checked against FIG. 6. */
export function mirrorLadder<T extends { from: string; to: string }>(records: readonly T[]): T[] {
  return records.map((r) => ({ ...r, from: mirrorRole(r.from), to: mirrorRole(r.to) }));
}
