// The policy server POL1 that hostile-input tests feed through raw sockets: its deploy file (copsSecurity:
// SIP1 admitted with an Integrity key, R1 by address, a cap on request states), and the REQs of a flood.
import { buildSipAaaRequest, type CopsIntegrityConfig, type CopsMessage } from "../../protocols/cops/index.js";
import type { RawPep } from "./raw-cops-pep.js";

/** A deploy file serving POL1 on 127.0.0.1:`port` for SIP1 (Integrity under `sip1Key`, RFC 2748 §4.1) and R1. */
export function hostilePdpDeployFile(port: number, sip1Key: CopsIntegrityConfig, maxRequestStates: number): string {
  return [
    "topology: { clearinghouse: none }",
    "roles:",
    "  SIP1: { host: 127.0.0.1, sip: { udp: 5060 } }",
    `  POL1: { host: 127.0.0.1, cops: ${port} }`,
    "  R1:   { host: 127.0.0.1 }",
    "copsSecurity:",
    "  POL1:",
    `    maxRequestStates: ${maxRequestStates}`,
    "    peps:",
    `      SIP1: { addresses: [127.0.0.1], integrity: { keyId: ${sip1Key.keyId}, key: ${sip1Key.key.toString("hex")} } }`,
    "      R1: { addresses: [127.0.0.1] }",
    "",
  ].join("\n");
}

/** A 4-octet Client Handle (RFC 2748 §2.2.1) holding `n`. */
export const handleOf = (n: number): Buffer => Buffer.from([n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);

/** The call of flood request `n`. */
export const floodCall = (n: number) => ({ callId: `flood-${n}@example.com`, caller: "sip:a@example.com", callee: "sip:b@example.com", flows: [] });

/** REQ AAA number `n` of a flood, handle `n`. */
export const floodAaa = (n: number): CopsMessage => buildSipAaaRequest("AAA", handleOf(n), floodCall(n));

/** Writes REQ AAA `first` … `first + total - 1` on `pep`, sealed, 1,000 to a write, waiting on drain. */
export async function writeFlood(pep: RawPep, first: number, total: number): Promise<void> {
  for (let n = first; n < first + total; n += 1000) {
    const batch: Buffer[] = [];
    for (let k = n; k < n + 1000 && k < first + total; k++) batch.push(pep.sealed(floodAaa(k)));
    if (!pep.socket.write(Buffer.concat(batch))) await new Promise((r) => pep.socket.once("drain", r));
  }
}
