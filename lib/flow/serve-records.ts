// The record files of a `callgate serve` deployment merged into one ladder: every process records what it
// sends, so together they hold each message once; sorted by `t` (one host clock), they are in send order.
import { readFileSync } from "node:fs";
import { peekCopsHandle } from "../../protocols/cops/index.js";
import type { MessageRecord } from "../drivers/message-record.js";
import { fromJsonLines } from "../replay/ladder-json.js";

/**
 * Merges record lists by time. A COPS report can name its call only in the process that sent the decision it
 * answers (an edge router is never told the call), so a RPT without a call takes the call of the latest
 * earlier message the other way on its handle (RFC 2748 §3.7: a RPT reports on the DEC of its handle).
 */
export function mergeServeRecords(lists: readonly MessageRecord[][]): MessageRecord[] {
  const merged = lists.flat().sort((a, b) => a.t - b.t);
  const lastCall = new Map<string, string>();
  return merged.map((r) => {
    if (r.proto !== "COPS") return r;
    const handle = peekCopsHandle(r.bytes)?.toString("hex");
    if (handle === undefined) return r;
    if (!r.msg.startsWith("RPT") || r.callId !== "") {
      lastCall.set(`${r.from}|${r.to}|${handle}`, r.callId);
      return r;
    }
    const answered = lastCall.get(`${r.to}|${r.from}|${handle}`);
    return answered ? { ...r, callId: answered } : r;
  });
}

export function mergeRecordFiles(paths: readonly string[]): MessageRecord[] {
  return mergeServeRecords(paths.map((p) => fromJsonLines(readFileSync(p, "utf8"))));
}
