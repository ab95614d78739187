// Ladder as JSON lines (one MessageRecord per line, the form check-ladder reads), split into a challenge exchange
// (RFC 3261 §22), the setup flow of one call (up to its first re-INVITE or UPDATE), its PRACK transactions (RFC 3262),
// its media changes, and its teardown flow (from the first BYE).
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
  /** The caller's challenge exchange (its first INVITE, the 401/407, the ACK), before FIG. 5's step 1; empty without one. */
  challenge: T[];
  /** From the INVITE that is FIG. 5's step 1 (the one with credentials after a challenge) up to the first request that changes or refreshes the session within the dialog (FIG. 5), without the PRACK transactions. */
  setup: T[];
  /**
   * The PRACK transactions of reliable provisionals (RFC 3262 §4: each PRACK and its responses), and the COPS
   * messages sent while one was open (the policy update an answer or offer in a PRACK causes); FIG. 5 draws none.
   */
  prack: T[];
  /** The re-INVITEs and UPDATEs within the dialog, and whatever they caused, up to the first BYE. */
  midCall: T[];
  /** From the first BYE on; empty when the call never got a BYE. */
  teardown: T[];
}

/**
 * A re-INVITE or an UPDATE within a dialog: a request whose To carries a tag (RFC 3261 §12.2.1.1). The initial
 * INVITE has none, and neither have its retransmissions.
 */
export function isMidDialogSessionRequest<T extends { proto: string; msg: string; bytes?: Buffer }>(r: T): boolean {
  if (r.proto !== "SIP" || (r.msg !== "INVITE" && r.msg !== "UPDATE") || !r.bytes) return false;
  const text = r.bytes.subarray(0, Math.min(r.bytes.length, 8192)).toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  const head = end < 0 ? text : text.slice(0, end);
  const to = /^(?:To|t)[ \t]*:(.*)$/im.exec(head)?.[1] ?? "";
  return /;[ \t]*tag[ \t]*=/i.test(to);
}

/** The method a SIP record's transaction belongs to: a request's own, a response's from its CSeq (RFC 3261 §8.1.1.5). */
export function transactionMethod<T extends { proto: string; msg: string; bytes?: Buffer }>(r: T): string | undefined {
  if (r.proto !== "SIP") return undefined;
  if (!/^\d{3}(?: |$)/.test(r.msg)) return r.msg;
  if (!r.bytes) return undefined;
  const text = r.bytes.subarray(0, Math.min(r.bytes.length, 8192)).toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  const head = end < 0 ? text : text.slice(0, end);
  return /^CSeq[ \t]*:[ \t]*\d+[ \t]+([A-Za-z]+)/im.exec(head)?.[1]?.toUpperCase();
}

/** A PRACK or a response to one (RFC 3262 §7.1). */
export function isPrackTransaction<T extends { proto: string; msg: string; bytes?: Buffer }>(r: T): boolean {
  return transactionMethod(r) === "PRACK";
}

/**
 * Takes the PRACK transactions out of a setup ladder: their SIP messages, and the COPS messages between a
 * call's first PRACK and the last response to one (a policy update the PRACK exchange caused).
 */
export function separatePrack<T extends { proto: string; msg: string; bytes?: Buffer }>(records: readonly T[]): { rest: T[]; prack: T[] } {
  const inPrack = records.map((r) => isPrackTransaction(r));
  const first = inPrack.indexOf(true);
  if (first < 0) return { rest: [...records], prack: [] };
  const last = inPrack.lastIndexOf(true);
  const rest: T[] = [];
  const prack: T[] = [];
  records.forEach((r, i) => ((inPrack[i] || (r.proto === "COPS" && i > first && i < last)) ? prack : rest).push(r));
  return { rest, prack };
}

/**
 * Where FIG. 5 starts in a call whose caller was challenged (RFC 3261 §22.2-22.3): at the INVITE sent again after
 * the last 401 or 407 to the caller before any 2xx (the INVITE with credentials); 0 when nobody challenged it.
 */
export function challengeEnd<T extends { proto: string; msg: string; from: string; to: string; bytes?: Buffer }>(records: readonly T[]): number {
  const caller = records.find((r) => r.proto === "SIP" && r.msg === "INVITE")?.from;
  let end = 0;
  let challenged = false;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (r.proto !== "SIP") continue;
    if (r.to === caller && /^2\d\d /.test(r.msg)) break;
    if (r.to === caller && /^40[17] /.test(r.msg)) challenged = true;
    else if (challenged && r.from === caller && r.msg === "INVITE" && !isMidDialogSessionRequest(r)) {
      end = i;
      challenged = false;
    }
  }
  return end;
}

/**
 * Splits one call's records into the challenge exchange, FIG. 5 (up to its first re-INVITE or UPDATE, whose policy updates repeat
 * FIG. 5's steps 13-21), the PRACK transactions (whose 200s would repeat steps 23-25), the media changes, and FIG. 6
 * (from its first BYE).
 */
export function splitCallLadder<T extends { proto: string; msg: string; from: string; to: string; bytes?: Buffer }>(records: readonly T[]): SplitLadder<T> {
  const start = challengeEnd(records);
  const byeAt = records.findIndex((r) => r.proto === "SIP" && r.msg === "BYE");
  const bye = byeAt < 0 ? records.length : byeAt;
  const changeAt = records.findIndex((r, i) => i < bye && isMidDialogSessionRequest(r));
  const change = changeAt < 0 ? bye : changeAt;
  const { rest: setup, prack } = separatePrack(records.slice(start, change));
  return { challenge: records.slice(0, start), setup, prack, midCall: records.slice(change, bye), teardown: records.slice(bye) };
}

/** Who sent the first BYE: "UAC" (FIG. 6 as drawn), "UAS" (its mirror image), or undefined. */
export function byeSender<T extends { proto: string; msg: string; from: string }>(records: readonly T[]): string | undefined {
  return records.find((r) => r.proto === "SIP" && r.msg === "BYE")?.from;
}

/** The same ladder seen from the other side, so a callee hang-up can be checked against FIG. 6. */
export function mirrorLadder<T extends { from: string; to: string }>(records: readonly T[]): T[] {
  return records.map((r) => ({ ...r, from: mirrorRole(r.from), to: mirrorRole(r.to) }));
}
