// Header names: case-insensitive comparison (RFC 3261 §7.3.1) and compact forms (RFC 3261 §7.3.3, plus
// the later registrations in the IANA SIP parameters registry).

/** Compact form letter → canonical long name, lower case. */
export const COMPACT_FORMS: Readonly<Record<string, string>> = {
  a: "accept-contact",
  b: "referred-by",
  c: "content-type",
  d: "request-disposition",
  e: "content-encoding",
  f: "from",
  i: "call-id",
  j: "reject-contact",
  k: "supported",
  l: "content-length",
  m: "contact",
  n: "identity-info",
  o: "event",
  r: "refer-to",
  s: "subject",
  t: "to",
  u: "allow-events",
  v: "via",
  x: "session-expires",
  y: "identity",
};

/** Long name (lower case) → compact letter. */
const LONG_TO_COMPACT: ReadonlyMap<string, number> = new Map(
  Object.entries(COMPACT_FORMS).map(([k, v]) => [v, k.charCodeAt(0)]),
);

/** Canonical key of a header name: lower case, compact forms expanded. */
export function headerKey(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1) return COMPACT_FORMS[lower] ?? lower;
  return lower;
}

/**
 * Whether a wire header name denotes the header whose canonical (lower-case, long) key is `key`.
 * Allocation-free: compares lengths, then characters with ASCII case folding.
 */
export function headerNameMatches(wireName: string, key: string): boolean {
  const n = wireName.length;
  if (n === 1) {
    const c = wireName.charCodeAt(0) | 0x20;
    if (key.length === 1) return c === key.charCodeAt(0);
    return LONG_TO_COMPACT.get(key) === c;
  }
  if (n !== key.length) return false;
  for (let i = 0; i < n; i++) {
    let c = wireName.charCodeAt(i);
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== key.charCodeAt(i)) return false;
  }
  return true;
}

/** Preferred wire spelling of well-known headers, used by builders and the pretty-printer. */
const CANONICAL_SPELLING: Readonly<Record<string, string>> = {
  "call-id": "Call-ID",
  cseq: "CSeq",
  "www-authenticate": "WWW-Authenticate",
  "mime-version": "MIME-Version",
};

/** A header name in its usual spelling (`call-id` → `Call-ID`, `i` → `Call-ID`). */
export function canonicalHeaderName(name: string): string {
  const key = headerKey(name);
  const special = CANONICAL_SPELLING[key];
  if (special) return special;
  return key.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase());
}

/**
 * Headers whose values are comma-separated lists that may be split into one value per element
 * (RFC 3261 §7.3.1). Not: WWW-Authenticate, Authorization and the like, whose values contain commas.
 */
export const LIST_HEADERS: ReadonlySet<string> = new Set([
  "via",
  "contact",
  "route",
  "record-route",
  "require",
  "proxy-require",
  "supported",
  "unsupported",
  "allow",
  "accept",
  "accept-encoding",
  "accept-language",
  "content-encoding",
  "content-language",
  "in-reply-to",
  "allow-events",
  "alert-info",
  "call-info",
  "error-info",
  "warning",
  "path",
  "service-route",
]);
