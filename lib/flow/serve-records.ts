// The record files of a `callgate serve` deployment merged into one ladder: every process records what it
// sends, so together they hold each message once; sorted by `t` (one host clock), they are in send order.
import { readFileSync } from "node:fs";
import { peekCopsHandle } from "../../protocols/cops/index.js";
import type { MessageRecord } from "../drivers/message-record.js";
import { fromJsonLines } from "../replay/ladder-json.js";

/**
 * Merges record lists by time. A COPS report can name its call only in the process that sent the decision it
 * answers (an edge router is never told the call), so a RPT without a call takes the call of the oldest
 * unanswered DEC the other way on its handle: COPS runs over one TCP connection in order and the PEP reports
 * on each solicited decision (RFC 2748 §3.7, RFC 3084 §2.2).
 */
export function mergeServeRecords(lists: readonly MessageRecord[][]): MessageRecord[] {
  const merged = lists.flat().sort((a, b) => a.t - b.t);
  const unanswered = new Map<string, string[]>();
  return merged.map((r) => {
    if (r.proto !== "COPS") return r;
    const handle = peekCopsHandle(r.bytes)?.toString("hex");
    if (handle === undefined) return r;
    if (r.msg.startsWith("DEC")) {
      const key = `${r.from}|${r.to}|${handle}`;
      const queue = unanswered.get(key);
      if (queue) queue.push(r.callId);
      else unanswered.set(key, [r.callId]);
      return r;
    }
    if (!r.msg.startsWith("RPT")) return r;
    const answered = unanswered.get(`${r.to}|${r.from}|${handle}`)?.shift();
    return r.callId === "" && answered ? { ...r, callId: answered } : r;
  });
}

export function mergeRecordFiles(paths: readonly string[]): MessageRecord[] {
  return mergeServeRecords(paths.map((p) => fromJsonLines(readFileSync(p, "utf8"))));
}
