// Typed SIP message model (RFC 3261 §7). Headers keep wire order and wire form; typed accessors parse a
// header only when asked and cache the result until that header's raw values change.
//
// Shape notes beyond the shared contract:
// - `contentType` is the media type as written ("application/sdp"); `contentTypeHeader` gives type,
//   subtype and parameters.
// - NameAddrHeader.uri is a SipUri for sip/sips/tel and the raw text for any other scheme.
// - SipUri for tel: `user` holds the number, `host` is "".
// - Mutate headers through the methods, or edit `headers` directly: the caches compare raw values, so
//   both are safe.
import { headerKey, headerNameMatches, LIST_HEADERS } from "./header-names.js";
import { splitTopLevelCommas } from "./header-lexer.js";
import {
  parseContactList,
  parseContactListIn,
  parseNameAddr,
  parseNameAddrIn,
  parseNameAddrList,
  type ContactHeader,
  type NameAddrHeader,
} from "./header-name-addr.js";
import {
  checkCallIdIn,
  parseCallId,
  parseContentLength,
  parseContentType,
  parseCSeq,
  parseCSeqIn,
  parseExpires,
  parseMaxForwards,
  parseTokenList,
  type ContentTypeHeader,
  type CSeqHeader,
} from "./header-values.js";
import { parseViaIn, parseViaValue, type ViaHeader } from "./header-via.js";
import { SipParseError } from "./sip-parse-error.js";
import { parseSipUri, parseSipUriIn, type SipUri } from "./sip-uri.js";

/** One header field as it appeared: name and raw value. */
export interface SipHeader {
  /** Name as on the wire (compact form kept). */
  name: string;
  /** Value with folding replaced by one SP, trimmed. */
  value: string;
}

// Cache slots of the typed accessors (plain constants: inlined by the JIT).
const SLOT_VIA = 0;
const SLOT_FROM = 1;
const SLOT_TO = 2;
const SLOT_CALL_ID = 3;
const SLOT_C_SEQ = 4;
const SLOT_CONTACT = 5;
const SLOT_MAX_FORWARDS = 6;
const SLOT_CONTENT_LENGTH = 7;
const SLOT_CONTENT_TYPE = 8;
const SLOT_ROUTE = 9;
const SLOT_RECORD_ROUTE = 10;
const SLOT_REQUIRE = 11;
const SLOT_PROXY_REQUIRE = 12;
const SLOT_SUPPORTED = 13;
const SLOT_ALLOW = 14;
const SLOT_EXPIRES = 15;
/** The first Via header's first value alone (transaction matching needs only that, RFC 3261 §17.1.3, §17.2.3). */
const SLOT_TOP_VIA = 16;
const SLOT_COUNT = 17;

const NO_VALUES: string[] = [];

// Slots of the headers the parser locates in the message text (see attachWire).
export const WIRE_VIA = 0;
export const WIRE_FROM = 1;
export const WIRE_TO = 2;
export const WIRE_CALL_ID = 3;
export const WIRE_C_SEQ = 4;
export const WIRE_CONTACT = 5;
export const WIRE_REQUEST_URI = 6;
export const WIRE_SLOTS = 7;

/** An error from parsing a value in place, with its offset made relative to the value again. */
function relocated(e: unknown, valueStart: number): unknown {
  return e instanceof SipParseError ? e.shifted(-valueStart) : e;
}

/** Marks a cache miss (cached values may themselves be undefined-free but falsy). */
const MISS: unique symbol = Symbol("miss");

function sameRaw(a: string | string[], b: string | string[]): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Headers and body common to requests and responses, with typed access to the usual headers. */
export abstract class SipMessageBase {
  // Fields are assigned in the constructor (`declare`: no [[Define]] field initialisers on the hot path).
  declare headers: SipHeader[];
  declare body: Buffer;
  declare version: string;
  /** Raw header values each cached typed value was parsed from, by slot. */
  declare private cacheRaw: (string | string[] | undefined)[] | undefined;
  declare private cacheValue: unknown[] | undefined;
  /**
   * Latin1 text of the message as parsed, and per WIRE_* slot the first such header's value and its
   * offset in that text: typed accessors parse an unchanged value there, in place, instead of reading
   * its substring (reads through a substring cost more). Private fields: not part of the model.
   */
  #wireText: string | undefined;
  #wire: (string | number | undefined)[] | undefined;

  constructor(headers: SipHeader[], body: Buffer, version: string) {
    this.headers = headers;
    this.body = body;
    this.version = version;
    this.cacheRaw = undefined;
    this.cacheValue = undefined;
  }

  // ---- raw header access -------------------------------------------------------------------------

  /** First value of the header (case-insensitive, compact forms match). */
  getHeader(name: string): string | undefined {
    return this.firstValue(headerKey(name));
  }

  /** All values; list headers (RFC 3261 §7.3.1) are split at top-level commas. */
  getHeaders(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    const split = LIST_HEADERS.has(key);
    for (const h of this.headers) {
      if (!headerNameMatches(h.name, key)) continue;
      if (split && h.value.indexOf(",") >= 0) out.push(...splitTopLevelCommas(h.value, h.name));
      else out.push(h.value);
    }
    return out;
  }

  /** Whether the message has this header (any spelling, compact forms included). */
  hasHeader(name: string): boolean {
    return this.firstValue(headerKey(name)) !== undefined;
  }

  /** Replaces every header of that name by one, at the first one's position (or appends). */
  setHeader(name: string, value: string): void {
    const key = headerKey(name);
    let at = -1;
    const kept: SipHeader[] = [];
    for (const h of this.headers) {
      if (headerNameMatches(h.name, key)) {
        if (at < 0) {
          at = kept.length;
          kept.push({ name, value });
        }
      } else kept.push(h);
    }
    if (at < 0) kept.push({ name, value });
    this.headers = kept;
  }

  /** Adds a header: "top" before the first of that name (or first of all), "bottom" after the last (or last of all). */
  addHeader(name: string, value: string, where: "top" | "bottom" = "bottom"): void {
    const key = headerKey(name);
    const entry = { name, value };
    if (where === "top") {
      const idx = this.headers.findIndex((h) => headerNameMatches(h.name, key));
      this.headers.splice(idx < 0 ? 0 : idx, 0, entry);
      return;
    }
    let last = -1;
    for (let i = 0; i < this.headers.length; i++) if (headerNameMatches(this.headers[i]!.name, key)) last = i;
    if (last < 0) this.headers.push(entry);
    else this.headers.splice(last + 1, 0, entry);
  }

  /** Removes every header of this name. */
  removeHeader(name: string): void {
    const key = headerKey(name);
    this.headers = this.headers.filter((h) => !headerNameMatches(h.name, key));
  }

  /** Removes the first value of a header: the first list element of a comma-combined value, or the line. */
  removeFirstHeaderValue(name: string): void {
    const key = headerKey(name);
    const idx = this.headers.findIndex((h) => headerNameMatches(h.name, key));
    if (idx < 0) return;
    const h = this.headers[idx]!;
    if (LIST_HEADERS.has(key) && h.value.indexOf(",") >= 0) {
      const parts = splitTopLevelCommas(h.value, h.name);
      if (parts.length > 1) {
        this.headers[idx] = { name: h.name, value: parts.slice(1).join(", ") };
        return;
      }
    }
    this.headers.splice(idx, 1);
  }

  /**
   * @internal Called by the parser: the message text and, per WIRE_* slot, [value, offset] pairs
   * (index 2·slot and 2·slot+1) of the first header of that kind whose value is a plain slice of it.
   */
  attachWire(text: string, wire: (string | number | undefined)[]): void {
    this.#wireText = text;
    this.#wire = wire;
  }

  /**
   * @internal Gives `copy` (same headers, same body) what this message has parsed so far: the cached typed values
   * and the message text they are read from in place. Each stays keyed by its raw value, so a header the copy
   * changes is parsed again on its own.
   */
  protected shareParsed(copy: SipMessageBase): void {
    copy.#wireText = this.#wireText;
    copy.#wire = this.#wire;
    if (this.cacheRaw !== undefined) {
      copy.cacheRaw = this.cacheRaw.slice();
      copy.cacheValue = this.cacheValue!.slice();
    }
  }

  /**
   * @internal Forgets what the typed accessors parsed (and where the parser found it): the headers stay as they are
   * and a later read parses its header again. For messages kept long but rarely read (a lingering transaction's).
   */
  dropParsed(): void {
    this.cacheRaw = undefined;
    this.cacheValue = undefined;
    this.#wireText = undefined;
    this.#wire = undefined;
  }

  /** Offset of `raw` in the message text if it is the value the parser recorded for that slot, else -1. */
  #wireStart(slot: number, raw: string): number {
    const w = this.#wire;
    // Equal content is enough: the recorded offset then holds exactly these characters.
    if (w === undefined || w[2 * slot] !== raw) return -1;
    return w[2 * slot + 1] as number;
  }

  /** A Request-URI as written, parsed in place when it is the one the parser recorded. */
  protected parseRequestUriText(raw: string): SipUri {
    const at = this.#wireStart(WIRE_REQUEST_URI, raw);
    if (at < 0) return parseSipUri(raw);
    try {
      return parseSipUriIn(this.#wireText!, at, at + raw.length);
    } catch (e) {
      throw relocated(e, at);
    }
  }

  // ---- typed accessors (lazy, cached) --------------------------------------------------------------

  get via(): ViaHeader[] {
    const raw = this.allValues("via", "Via");
    const hit = this.lookup(SLOT_VIA, raw);
    if (hit !== MISS) return hit as ViaHeader[];
    const out: ViaHeader[] = [];
    const first = typeof raw === "string" ? raw : raw[0];
    if (first !== undefined) this.parseViaHeader(first, out);
    if (typeof raw !== "string") for (let i = 1; i < raw.length; i++) parseViaValue(raw[i]!, out);
    // The top Via parsed alone before is the same value: keep one object (topVia === via[0]).
    const top = this.cacheRaw?.[SLOT_TOP_VIA];
    if (top !== undefined && top === first) out[0] = this.cacheValue![SLOT_TOP_VIA] as ViaHeader;
    return this.store(SLOT_VIA, raw, out);
  }

  /** via[0], parsing only the first Via header (the others are parsed when `via` is read). */
  get topVia(): ViaHeader {
    const raw = this.firstValue("via", "Via");
    if (raw === undefined) throw new SipParseError("missing-header", "no Via header", 0, "Via");
    const hit = this.lookup(SLOT_TOP_VIA, raw);
    if (hit !== MISS) return hit as ViaHeader;
    let v: ViaHeader | undefined;
    // The whole list parsed and still current: its first (topVia === via[0]); else the first header alone, not
    // the list again (a proxy's new top Via above Vias parsed before).
    const all = this.cacheRaw?.[SLOT_VIA] !== undefined ? this.lookup(SLOT_VIA, this.allValues("via", "Via")) : MISS;
    if (all !== MISS) v = (all as ViaHeader[])[0];
    else {
      const out: ViaHeader[] = [];
      this.parseViaHeader(raw, out);
      v = out[0];
    }
    if (v === undefined) throw new SipParseError("missing-header", "no Via header", 0, "Via");
    return this.store(SLOT_TOP_VIA, raw, v);
  }

  /** Replaces the first Via header's value by `value`, whose first via-parm is already parsed as `top`. */
  protected replaceTopVia(value: string, top: ViaHeader): void {
    const hs = this.headers;
    for (let i = 0; i < hs.length; i++) {
      const h = hs[i]!;
      if (!headerNameMatches(h.name, "via")) continue;
      hs[i] = { name: h.name, value };
      this.store(SLOT_TOP_VIA, value, top);
      return;
    }
  }

  /** One Via header's value (possibly a comma list), in place when it is the one the parser recorded. */
  private parseViaHeader(raw: string, out: ViaHeader[]): void {
    const at = this.#wireStart(WIRE_VIA, raw);
    if (at < 0) {
      parseViaValue(raw, out);
      return;
    }
    try {
      parseViaIn(this.#wireText!, at, at + raw.length, out);
    } catch (e) {
      throw relocated(e, at);
    }
  }

  get from(): NameAddrHeader {
    const raw = this.requiredValue("from", "From");
    const hit = this.lookup(SLOT_FROM, raw);
    return hit !== MISS ? (hit as NameAddrHeader) : this.store(SLOT_FROM, raw, this.nameAddr(WIRE_FROM, raw, "From"));
  }

  get to(): NameAddrHeader {
    const raw = this.requiredValue("to", "To");
    const hit = this.lookup(SLOT_TO, raw);
    return hit !== MISS ? (hit as NameAddrHeader) : this.store(SLOT_TO, raw, this.nameAddr(WIRE_TO, raw, "To"));
  }

  get callId(): string {
    const raw = this.requiredValue("call-id", "Call-ID");
    const hit = this.lookup(SLOT_CALL_ID, raw);
    if (hit !== MISS) return hit as string;
    const at = this.#wireStart(WIRE_CALL_ID, raw);
    if (at < 0) parseCallId(raw);
    else {
      try {
        checkCallIdIn(this.#wireText!, at, at + raw.length);
      } catch (e) {
        throw relocated(e, at);
      }
    }
    return this.store(SLOT_CALL_ID, raw, raw);
  }

  get cseq(): CSeqHeader {
    const raw = this.requiredValue("cseq", "CSeq");
    const hit = this.lookup(SLOT_C_SEQ, raw);
    if (hit !== MISS) return hit as CSeqHeader;
    const at = this.#wireStart(WIRE_C_SEQ, raw);
    if (at < 0) return this.store(SLOT_C_SEQ, raw, parseCSeq(raw));
    try {
      return this.store(SLOT_C_SEQ, raw, parseCSeqIn(this.#wireText!, at, at + raw.length));
    } catch (e) {
      throw relocated(e, at);
    }
  }

  /** "*" for the wildcard of RFC 3261 §10.2.2; [] when absent. */
  get contact(): ContactHeader[] | "*" {
    const raw = this.allValues("contact", "Contact");
    const hit = this.lookup(SLOT_CONTACT, raw);
    if (hit !== MISS) return hit as ContactHeader[] | "*";
    if (raw === "*") return this.store(SLOT_CONTACT, raw, "*" as const);
    const out: ContactHeader[] = [];
    if (typeof raw === "string") {
      const at = this.#wireStart(WIRE_CONTACT, raw);
      if (at >= 0) {
        try {
          parseContactListIn(this.#wireText!, at, at + raw.length, out);
        } catch (e) {
          throw relocated(e, at);
        }
        return this.store(SLOT_CONTACT, raw, out);
      }
    }
    for (const v of typeof raw === "string" ? [raw] : raw) {
      if (v === "*") throw new SipParseError("bad-header-value", "'*' mixed with other contacts", 0, "Contact");
      parseContactList(v, out);
    }
    return this.store(SLOT_CONTACT, raw, out);
  }

  get maxForwards(): number | undefined {
    const raw = this.firstValue("max-forwards", "Max-Forwards");
    if (raw === undefined) return undefined;
    const hit = this.lookup(SLOT_MAX_FORWARDS, raw);
    return hit !== MISS ? (hit as number) : this.store(SLOT_MAX_FORWARDS, raw, parseMaxForwards(raw));
  }

  get contentLength(): number | undefined {
    const raw = this.firstValue("content-length", "Content-Length");
    if (raw === undefined) return undefined;
    const hit = this.lookup(SLOT_CONTENT_LENGTH, raw);
    return hit !== MISS ? (hit as number) : this.store(SLOT_CONTENT_LENGTH, raw, parseContentLength(raw));
  }

  get contentTypeHeader(): ContentTypeHeader | undefined {
    const raw = this.firstValue("content-type", "Content-Type");
    if (raw === undefined) return undefined;
    const hit = this.lookup(SLOT_CONTENT_TYPE, raw);
    return hit !== MISS ? (hit as ContentTypeHeader) : this.store(SLOT_CONTENT_TYPE, raw, parseContentType(raw));
  }

  /** Media type as written, e.g. "application/sdp" (validated). */
  get contentType(): string | undefined {
    const ct = this.contentTypeHeader;
    return ct === undefined ? undefined : `${ct.type}/${ct.subtype}`;
  }

  get route(): NameAddrHeader[] {
    return this.nameAddrList(SLOT_ROUTE, "route", "Route");
  }

  get recordRoute(): NameAddrHeader[] {
    return this.nameAddrList(SLOT_RECORD_ROUTE, "record-route", "Record-Route");
  }

  get require(): string[] {
    return this.tokenList(SLOT_REQUIRE, "require", "Require");
  }

  get proxyRequire(): string[] {
    return this.tokenList(SLOT_PROXY_REQUIRE, "proxy-require", "Proxy-Require");
  }

  get supported(): string[] {
    return this.tokenList(SLOT_SUPPORTED, "supported", "Supported");
  }

  get allow(): string[] {
    return this.tokenList(SLOT_ALLOW, "allow", "Allow");
  }

  get expires(): number | undefined {
    const raw = this.firstValue("expires", "Expires");
    if (raw === undefined) return undefined;
    const hit = this.lookup(SLOT_EXPIRES, raw);
    return hit !== MISS ? (hit as number) : this.store(SLOT_EXPIRES, raw, parseExpires(raw));
  }

  /** Deep copy (headers and body buffer copied). */
  abstract clone(): SipMessage;

  // ---- internals ---------------------------------------------------------------------------------

  /**
   * First value of the header `key`. `spelling`, the usual wire spelling, is compared first: names the
   * parser recognised are that very string, so the case-insensitive comparison is skipped for them.
   */
  protected firstValue(key: string, spelling?: string): string | undefined {
    const hs = this.headers;
    for (let i = 0; i < hs.length; i++) {
      const h = hs[i]!;
      if (h.name === spelling || headerNameMatches(h.name, key)) return h.value;
    }
    return undefined;
  }

  private requiredValue(key: string, display: string): string {
    const raw = this.firstValue(key, display);
    if (raw === undefined) throw new SipParseError("missing-header", `no ${display} header`, 0, display);
    return raw;
  }

  /** Values of every header of that name: one string for a single header (no array), else an array. */
  private allValues(key: string, spelling: string): string | string[] {
    let one: string | undefined;
    let many: string[] | undefined;
    const hs = this.headers;
    for (let i = 0; i < hs.length; i++) {
      const h = hs[i]!;
      if (h.name !== spelling && !headerNameMatches(h.name, key)) continue;
      if (many !== undefined) many.push(h.value);
      else if (one !== undefined) many = [one, h.value];
      else one = h.value;
    }
    return many ?? one ?? NO_VALUES;
  }

  private lookup(slot: number, raw: string | string[]): unknown {
    const keys = this.cacheRaw;
    if (keys === undefined) return MISS;
    const key = keys[slot];
    return key !== undefined && sameRaw(key, raw) ? this.cacheValue![slot] : MISS;
  }

  private store<T>(slot: number, raw: string | string[], value: T): T {
    if (this.cacheRaw === undefined) {
      this.cacheRaw = new Array<string | string[] | undefined>(SLOT_COUNT);
      this.cacheValue = new Array<unknown>(SLOT_COUNT);
    }
    this.cacheRaw[slot] = raw;
    this.cacheValue![slot] = value;
    return value;
  }

  /** From / To, parsed in place when the value is the one the parser recorded. */
  private nameAddr(wireSlot: number, raw: string, display: string): NameAddrHeader {
    const at = this.#wireStart(wireSlot, raw);
    if (at < 0) return parseNameAddr(raw, display);
    try {
      return parseNameAddrIn(this.#wireText!, display, at, at + raw.length);
    } catch (e) {
      throw relocated(e, at);
    }
  }

  private nameAddrList(slot: number, key: string, display: string): NameAddrHeader[] {
    return this.parsedList(slot, key, display, parseNameAddrList);
  }

  private tokenList(slot: number, key: string, display: string): string[] {
    return this.parsedList(slot, key, display, parseTokenList);
  }

  /** Every value of a list header parsed into one array, cached in `slot` until the header changes. */
  private parsedList<T>(slot: number, key: string, display: string, parse: (raw: string, display: string, out: T[]) => unknown): T[] {
    const raw = this.allValues(key, display);
    const hit = this.lookup(slot, raw);
    if (hit !== MISS) return hit as T[];
    const out: T[] = [];
    if (typeof raw === "string") parse(raw, display, out);
    else for (const v of raw) parse(v, display, out);
    return this.store(slot, raw, out);
  }
}

const EMPTY_BODY = Buffer.alloc(0);

/** A SIP request: method, Request-URI, headers, body (RFC 3261 §7.1). */
export class SipRequest extends SipMessageBase {
  declare method: string;
  /** Request-URI as written. */
  declare uri: string;
  declare private parsedUri: { text: string; uri: SipUri } | undefined;

  constructor(method: string, uri: string, headers: SipHeader[] = [], body: Buffer = EMPTY_BODY, version = "SIP/2.0") {
    super(headers, body, version);
    this.method = method;
    this.uri = uri;
    this.parsedUri = undefined;
  }

  /** The Request-URI parsed (throws SipParseError "unsupported-uri-scheme" for schemes other than sip/sips/tel). */
  get requestUri(): SipUri {
    const p = this.parsedUri;
    if (p !== undefined && p.text === this.uri) return p.uri;
    const uri = this.parseRequestUriText(this.uri);
    this.parsedUri = { text: this.uri, uri };
    return uri;
  }

  override dropParsed(): void {
    super.dropParsed();
    this.parsedUri = undefined;
  }

  /**
   * RFC 3261 §18.2.1, RFC 3581 §4: stamps the top Via with where the request came from: received= when the
   * sent-by host is not the source address or the client asked with a bare rport (which is then filled with
   * the source port); a stale received is replaced. The header text keeps its other parameters as written,
   * and the top Via stays parsed (no second parse). False when nothing changes.
   */
  stampReceived(source: { host: string; port: number }): boolean {
    const top = this.topVia;
    const askedPort = top.rport === true;
    const host = top.host.startsWith("[") && top.host.endsWith("]") ? top.host.slice(1, -1) : top.host;
    if (!askedPort && host.toLowerCase() === source.host.toLowerCase()) return false;
    const value = this.firstValue("via", "Via")!;
    const comma = value.indexOf(",") >= 0 ? splitTopLevelCommas(value, "Via") : undefined;
    let first = comma === undefined ? value : comma[0]!;
    if (askedPort) first = first.replace(/;\s*rport(?=\s*(;|$))/i, `;rport=${source.port}`);
    if (top.received !== undefined) first = first.replace(/;\s*received\s*=\s*[^;]*/i, "");
    first = `${first};received=${source.host}`;
    const params = new Map(top.params);
    params.delete("received");
    params.set("received", source.host);
    const stamped: ViaHeader = { ...top, params, received: source.host };
    if (askedPort) {
      params.set("rport", String(source.port));
      stamped.rport = source.port;
    }
    this.replaceTopVia(comma === undefined ? first : [first, ...comma.slice(1)].join(", "), stamped);
    return true;
  }

  clone(): SipRequest {
    return new SipRequest(this.method, this.uri, this.headers.map((h) => ({ name: h.name, value: h.value })), Buffer.from(this.body), this.version);
  }

  /**
   * @internal A proxy's copy to forward (RFC 3261 §16.6 step 1), copy-on-write: its own list of headers holding the
   * same entries, the same body and what this request has parsed. Change it by replacing entries (the methods do),
   * never by editing an entry or the body in place.
   */
  forwardingCopy(): SipRequest {
    const copy = new SipRequest(this.method, this.uri, this.headers.slice(), this.body, this.version);
    copy.parsedUri = this.parsedUri;
    this.shareParsed(copy);
    return copy;
  }
}

/** A SIP response: status code, reason phrase, headers, body (RFC 3261 §7.2). */
export class SipResponse extends SipMessageBase {
  declare status: number;
  declare reason: string;

  constructor(status: number, reason: string, headers: SipHeader[] = [], body: Buffer = EMPTY_BODY, version = "SIP/2.0") {
    super(headers, body, version);
    this.status = status;
    this.reason = reason;
  }

  clone(): SipResponse {
    return new SipResponse(this.status, this.reason, this.headers.map((h) => ({ name: h.name, value: h.value })), Buffer.from(this.body), this.version);
  }
}

/** A SIP request or response. */
export type SipMessage = SipRequest | SipResponse;

/** Whether a message is a request. */
export function isRequest(m: SipMessage): m is SipRequest {
  return m instanceof SipRequest;
}

/** Whether a message is a response. */
export function isResponse(m: SipMessage): m is SipResponse {
  return m instanceof SipResponse;
}

export type { ViaHeader, NameAddrHeader, ContactHeader, CSeqHeader, ContentTypeHeader };
