// Column order of the roles in ladders: the reference flows' left-to-right order, then any other node
// in the order it first appears in the record stream.
import type { MessageRecord } from "../drivers/message-record.js";
import { ROLE_NAMES, ROLE_TABLE, isRole } from "../flow/role-table.js";

export const REFERENCE_ROLE_ORDER = ROLE_NAMES;

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
export function mirrorRole(role: string): string {
  return isRole(role) ? ROLE_TABLE[role].mirror : role;
}
