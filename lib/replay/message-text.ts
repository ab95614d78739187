// The full text of one recorded message for people: SIP and OSP as their text, binary protocols
// (COPS, RADIUS) as the label followed by a hex dump.
import type { MessageRecord } from "../drivers/message-record.js";

export function hexDump(bytes: Buffer): string {
  const lines: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const row = bytes.subarray(offset, offset + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${offset.toString(16).padStart(4, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join("\n");
}

function isText(bytes: Buffer): boolean {
  for (const b of bytes) if (b < 0x09 || (b > 0x0d && b < 0x20) || b === 0x7f) return false;
  return true;
}

export function messageText(record: MessageRecord): string {
  const head = `${record.proto} ${record.from} → ${record.to}: ${record.msg}  (t = ${(record.t / 1000).toFixed(3)} s, ${record.callId ? `call ${record.callId}` : "connection, no call"})`;
  if (record.bytes.length === 0) return `${head}\n(no bytes recorded)`;
  if ((record.proto === "SIP" || record.proto === "OSP") && isText(record.bytes)) return `${head}\n\n${record.bytes.toString("utf8")}`;
  return `${head}\n\n${hexDump(record.bytes)}`;
}
