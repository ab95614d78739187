// Column order of the roles in ladders: the reference flows' left-to-right order, then any other node
// in the order it first appears in the record stream.
import type { MessageRecord } from "../drivers/message-record.js";

export const REFERENCE_ROLE_ORDER = ["UAC", "SIP1", "POL1", "R1", "CH", "SIP2", "POL2", "R2", "UAS"] as const;

/** Roles that appear in the records, in ladder column order. */
export function ladderRoles(records: readonly Pick<MessageRecord, "from" | "to">[]): string[] {
  const seen = new Set<string>();
  for (const r of records) {
    seen.add(r.from);
    seen.add(r.to);
  }
  const known = REFERENCE_ROLE_ORDER.filter((role) => seen.has(role));
  const others = [...seen].filter((role) => !(REFERENCE_ROLE_ORDER as readonly string[]).includes(role));
  return [...known, ...others];
}

/** The role on the other side of the call: FIG. 6 is drawn for the UAC hanging up, its mirror for the UAS. */
export const MIRROR_ROLE: Readonly<Record<string, string>> = {
  UAC: "UAS",
  UAS: "UAC",
  SIP1: "SIP2",
  SIP2: "SIP1",
  POL1: "POL2",
  POL2: "POL1",
  R1: "R2",
  R2: "R1",
  CH: "CH",
};

export function mirrorRole(role: string): string {
  return MIRROR_ROLE[role] ?? role;
}
