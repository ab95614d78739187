// Who opened a COPS connection to a policy server: a PDP machine judges the connection's first message with the
// server's admission (RFC 2748 §3.1 OPN, §2.2.16 Integrity, §4.1 leaves the choice of PEPs to the PDP). Admitted:
// the PEPID; refused: the machine's own CC (Error 3, 6, 14 or 15) for the driver to write before closing.
import { ClientType, CopsPdpConnection, ErrorCode, pepAdmission, type CopsPdpOptions, type CopsPepCredentials } from "../../protocols/cops/index.js";
import type { TcpPeerRefusal, TcpPeerSource } from "../drivers/socket-network.js";

/** The PEPs admitted: these credentials only, or any PEPID (an open server) when `peps` is undefined. */
export function openOrListedAdmission(peps: readonly CopsPepCredentials[] | undefined, source: TcpPeerSource): Required<Pick<CopsPdpOptions, "admitPep" | "integrityFor">> {
  const src = { address: source.address, pepIdConnected: (pepId: string) => source.linked(pepId) };
  if (peps !== undefined) return pepAdmission(peps, src);
  // Open: any PEPID, but an unauthenticated OPN never displaces the PEP that holds its PEPID.
  return { integrityFor: () => undefined, admitPep: (pepId) => (source.linked(pepId) ? { code: ErrorCode.AuthenticationFailure, subCode: 0 } : undefined) };
}

/**
 * Judges the first message of a COPS connection with `admission` (client types SIP AAA and DiffServ COPS-PR):
 * the PEPID it opened with, or the refusal (CC and a cause token "cops-…").
 */
export function judgeCopsOpen(first: Buffer, admission: Required<Pick<CopsPdpOptions, "admitPep" | "integrityFor">>): { pepId: string } | TcpPeerRefusal {
  const judge = new CopsPdpConnection({ clientTypes: [ClientType.SipAaa, ClientType.DiffServPr], kaTimerSeconds: 0, ...admission });
  judge.handle({ type: "connected" }, 0);
  const actions = judge.handle({ type: "message", bytes: first }, 0);
  if (judge.connectionState === "open" && judge.pepId !== "") return { pepId: judge.pepId };
  let answer: Buffer = Buffer.alloc(0);
  let cause = "bad-message";
  for (const a of actions) {
    if (a.type === "send" && a.message.op === "CC") answer = a.bytes;
    if (a.type === "emit" && a.event.type === "protocol-error" && a.event.cause) cause = a.event.cause;
  }
  return { answer, cause: `cops-${cause}` };
}
