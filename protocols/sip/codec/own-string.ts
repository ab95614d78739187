// Values kept past the message they were read from (tags, reasons, Call-IDs held by a call or a map).

/** A copy of `s` that does not keep the message text it was cut from alive (V8 sliced strings). */
export function ownString(s: string): string {
  return s.length > 24 ? Buffer.from(s, "utf8").toString("utf8") : (" " + s).slice(1);
}
