// What the names in a ladder mean: the roles of FIG. 5 / FIG. 6 and the message labels of the record stream
// (docs/glossary.md says the same at length). `callgate demo` prints the part its ladder uses.
import type { MessageRecord } from "../drivers/message-record.js";
import { ladderRoles } from "./roles.js";

/** The roles of the reference flows. */
export const ROLE_LEGEND: Readonly<Record<string, string>> = {
  UAC: "user agent client: the caller",
  SIP1: "originating SIP proxy; a COPS PEP asking POL1 (SIP AAA client type)",
  POL1: "originating policy server: COPS PDP for SIP1 and R1, OSP client of CH",
  R1: "originating DiffServ edge router: a COPS-PR PEP; POL1 installs the call's marking policy here",
  CH: "OSP clearinghouse: authorises both sides, signs the token, keeps the CDRs",
  SIP2: "terminating SIP proxy; a COPS PEP asking POL2",
  POL2: "terminating policy server: COPS PDP for SIP2 and R2, OSP client of CH",
  R2: "terminating DiffServ edge router (COPS-PR PEP)",
  UAS: "user agent server: the callee",
};

/** Message labels as the ladder shows them (COPS "op purpose", OSP message names). */
export const MESSAGE_LEGEND: Readonly<Record<string, string>> = {
  "REQ AAA": "COPS Request: may this call be set up? (authentication, authorisation, accounting)",
  "DEC AAA": "COPS Decision on it: yes (with the clearinghouse's token and time limit) or no",
  "REQ LDP": "COPS Request for the call's local policy: mark its media packets (DiffServ) at the edge router",
  "DEC LDP": "COPS Decision: the policy is in place at the router (or refused)",
  "REQ noLDP": "COPS Request to remove that policy: the call is over (carries its connected time)",
  "DEC noLDP": "COPS Decision: the policy is removed, usage reported",
  "DEC Install": "COPS-PR Decision to the router: install the call's classifier and marking",
  "DEC Remove": "COPS-PR Decision to the router: remove them",
  "DEC NULL": "COPS-PR Decision with nothing to install (answers the router's configuration request)",
  "REQ Config": "the router's configuration request, opening its provisioning state",
  "RPT Success": "COPS Report: the router applied the decision (on removal with packet and octet counts)",
  "RPT Failure": "COPS Report: the router could not apply the decision",
  DRQ: "COPS Delete Request State: the PEP drops the call's request state (RFC 2748 §3.4)",
  OPN: "COPS Client-Open: a PEP connects to its policy server",
  CAT: "COPS Client-Accept: the policy server accepts it",
  CC: "COPS Client-Close: one side closes the COPS connection (with an error code)",
  KA: "COPS Keep-Alive",
  SSQ: "COPS Synchronize State Request: the PDP asks a PEP to resend its request states",
  SSC: "COPS Synchronize State Complete",
  AuthorisationRequest: "OSP: a policy server asks the clearinghouse to authorise the call",
  AuthorisationResponse: "OSP: the answer, with a signed token and destinations",
  UsageIndication: "OSP: the call's usage (duration) for the CDR",
  UsageConfirmation: "OSP: the clearinghouse has stored the CDR",
};

/** Row letters of a ladder without colour. */
export const PROTOCOL_LETTERS: Readonly<Record<string, string>> = { S: "SIP", C: "COPS", O: "OSP", R: "RADIUS" };

/** The legend lines for a ladder of these records: the roles it shows and the labels it uses, once each. */
export function legendLines(records: readonly Pick<MessageRecord, "from" | "to" | "msg" | "proto">[]): string[] {
  const roles = ladderRoles(records).filter((role) => ROLE_LEGEND[role] !== undefined);
  const labels = [...new Set(records.filter((r) => r.proto !== "SIP").map((r) => r.msg))].filter((m) => MESSAGE_LEGEND[m] !== undefined);
  const width = Math.max(4, ...roles.map((r) => r.length), ...labels.map((l) => l.length));
  const protocols = [...new Set(records.map((r) => r.proto as string))];
  const letters = Object.entries(PROTOCOL_LETTERS).filter(([, p]) => protocols.includes(p));
  return [
    "legend:",
    ...roles.map((role) => `  ${role.padEnd(width)}  ${ROLE_LEGEND[role]}`),
    ...labels.map((label) => `  ${label.padEnd(width)}  ${MESSAGE_LEGEND[label]}`),
    ...(letters.length > 0 ? [`  rows without colour start with ${letters.map(([l, p]) => `${l} = ${p}`).join(", ")}; SIP shows methods and "code reason"`] : []),
  ];
}
