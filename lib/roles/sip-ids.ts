// Branch, tag and Call-ID values for the roles: unique per process from a random prefix and a counter, so a busy
// proxy does not pay for a CSPRNG call per message. RFC 3261 §8.1.1.7 (branch magic cookie), §19.3 (tags).
import { randomBytes } from "node:crypto";

const prefix = randomBytes(6).toString("hex");
let counter = 0;

export function nextBranch(): string {
  return `z9hG4bK${prefix}${(counter++).toString(36)}`;
}

export function nextTag(): string {
  return `${prefix.slice(0, 8)}${(counter++).toString(36)}`;
}

/** A copy of `s` that does not keep the message text it was cut from alive (V8 sliced strings). */
export function ownString(s: string): string {
  return s.length > 24 ? Buffer.from(s, "utf8").toString("utf8") : (" " + s).slice(1);
}
