// SIPp callers of a realm and what the record files say of their calls, for the realm capacity interop tests.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { recordFromJsonLine, type MessageRecord } from "../../lib/drivers/message-record.js";
import { freePort, startSipp, workDir } from "./sip-sipp-helpers.js";
import { SCENARIO_DIR } from "./sipp-softphone-helpers.js";

/** A client provider renting two ports from the master (a `clients` entry of a realms section). */
export const ISP_B = "  - { name: isp-b, realms: [isp-b.example], virtualIdentity: { user: isp-b-virtual }, capacity: { ports: 2 } }";

/** SIPp starting `calls` calls at once from sub<n>@`realm` (from local port `port`, if given); each answered one talks `talkMs`. */
export async function startSippCallers(sip1: string, realm: string, calls: number, tag: string, { port, talkMs = 4000 }: { port?: number; talkMs?: number } = {}) {
  const work = workDir("callgate-realms-sipp-run-");
  return startSipp(
    ["-sf", join(SCENARIO_DIR, "realm-caller.xml"), "-key", "caller_realm", realm, "-d", String(talkMs), "-m", String(calls), "-l", String(calls), "-r", "50", "-s", "bob", "-i", "127.0.0.1", "-p", String(port ?? (await freePort())), "-cid_str", `${tag}-%u-%p@%s`, "-nostdin", "-timeout", "90", "-trace_err", sip1],
    work,
  ).done;
}

export const recordsOf = (file: string): MessageRecord[] => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map(recordFromJsonLine) : []);

export type Final = { status: number; reason: string | undefined };

/** The caller as SIP1's records name it: the deployment's UAC, or a SIPp elsewhere on loopback by its address. */
const isCaller = (name: string): boolean => name === "UAC" || name.startsWith("127.0.0.1:");

/** The final response to each call's INVITE that SIP1 sent the caller, by Call-ID, with its Reason. */
export function finals(records: MessageRecord[]): Map<string, Final> {
  const out = new Map<string, Final>();
  for (const r of records) {
    if (r.proto !== "SIP" || r.from !== "SIP1" || !isCaller(r.to) || !/^[2-6]\d\d /.test(r.msg)) continue;
    const text = r.bytes.toString("latin1");
    if (!/\r\nCSeq:\s*\d+ INVITE\r\n/i.test(text)) continue;
    out.set(r.callId, { status: Number(r.msg.slice(0, 3)), reason: /\r\nReason:\s*([^\r]*)/i.exec(text)?.[1] });
  }
  return out;
}

export const startingWith = (byCall: Map<string, Final>, prefix: string): Final[] => [...byCall].filter(([id]) => id.startsWith(prefix)).map(([, f]) => f);

/** Polls (every 50 ms, up to `ms`) until `count()` reaches `atLeast`; throws naming `what` otherwise. */
export async function until(what: string, count: () => number, atLeast: number, ms = 30_000): Promise<void> {
  for (const end = Date.now() + ms; count() < atLeast; ) {
    if (Date.now() > end) throw new Error(`${what}: ${count()} of ${atLeast} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits (up to 30 s) until `file` holds `count` DEC noLDP POL1 sent for calls whose id starts with `prefix`: their usage is in. */
export function usageIn(file: string, prefix: string, count: number): Promise<void> {
  return until(`usage reports of ${prefix} calls in ${file}`, () => recordsOf(file).filter((r) => r.from === "POL1" && r.msg === "DEC noLDP" && r.callId.startsWith(prefix)).length, count);
}
