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
  parseNameAddr,
  parseNameAddrList,
  type ContactHeader,
  type NameAddrHeader,
} from "./header-name-addr.js";
import {
  parseCallId,
  parseContentLength,
  parseContentType,
  parseCSeq,
  parseExpires,
  parseMaxForwards,
  parseTokenList,
  type ContentTypeHeader,
  type CSeqHeader,
} from "./header-values.js";
import { parseViaValue, type ViaHeader } from "./header-via.js";
import { SipParseError } from "./sip-parse-error.js";
import { parseSipUri, type SipUri } from "./sip-uri.js";

export interface SipHeader {
  /** Name as on the wire (compact form kept). */
  name: string;
  /** Value with folding replaced by one SP, trimmed. */
  value: string;
}

interface CacheEntry {
  raw: string | string[];
  value: unknown;
}

// Cache slots of the typed accessors.
const enum Slot {
  Via,
  From,
  To,
  CallId,
  CSeq,
  Contact,
  MaxForwards,
  ContentLength,
  ContentType,
  Route,
  RecordRoute,
  Require,
  ProxyRequire,
  Supported,
  Allow,
  Expires,
  Count,
}

function sameRaw(a: string | string[], b: string | string[]): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export abstract class SipMessageBase {
  headers: SipHeader[];
  body: Buffer;
  version: string;
  private cache: (CacheEntry | undefined)[] | undefined;

  constructor(headers: SipHeader[], body: Buffer, version: string) {
    this.headers = headers;
    this.body = body;
    this.version = version;
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

  // ---- typed accessors (lazy, cached) --------------------------------------------------------------

  get via(): ViaHeader[] {
    return this.multi(Slot.Via, "via", (raw) => {
      const out: ViaHeader[] = [];
      for (const v of raw) parseViaValue(v, out);
      return out;
    });
  }

  get topVia(): ViaHeader {
    const v = this.via[0];
    if (v === undefined) throw new SipParseError("missing-header", "no Via header", 0, "Via");
    return v;
  }

  get from(): NameAddrHeader {
    return this.required(Slot.From, "from", "From", (v) => parseNameAddr(v, "From"));
  }

  get to(): NameAddrHeader {
    return this.required(Slot.To, "to", "To", (v) => parseNameAddr(v, "To"));
  }

  get callId(): string {
    return this.required(Slot.CallId, "call-id", "Call-ID", parseCallId);
  }

  get cseq(): CSeqHeader {
    return this.required(Slot.CSeq, "cseq", "CSeq", parseCSeq);
  }

  /** "*" for the wildcard of RFC 3261 §10.2.2; [] when absent. */
  get contact(): ContactHeader[] | "*" {
    return this.multi(Slot.Contact, "contact", (raw) => {
      if (raw.length === 1 && raw[0] === "*") return "*" as const;
      const out: ContactHeader[] = [];
      for (const v of raw) {
        if (v === "*") throw new SipParseError("bad-header-value", "'*' mixed with other contacts", 0, "Contact");
        parseContactList(v, out);
      }
      return out;
    });
  }

  get maxForwards(): number | undefined {
    return this.optional(Slot.MaxForwards, "max-forwards", parseMaxForwards);
  }

  get contentLength(): number | undefined {
    return this.optional(Slot.ContentLength, "content-length", parseContentLength);
  }

  get contentTypeHeader(): ContentTypeHeader | undefined {
    return this.optional(Slot.ContentType, "content-type", (v) => parseContentType(v));
  }

  /** Media type as written, e.g. "application/sdp" (validated). */
  get contentType(): string | undefined {
    const ct = this.contentTypeHeader;
    return ct === undefined ? undefined : `${ct.type}/${ct.subtype}`;
  }

  get route(): NameAddrHeader[] {
    return this.multi(Slot.Route, "route", (raw) => {
      const out: NameAddrHeader[] = [];
      for (const v of raw) parseNameAddrList(v, "Route", out);
      return out;
    });
  }

  get recordRoute(): NameAddrHeader[] {
    return this.multi(Slot.RecordRoute, "record-route", (raw) => {
      const out: NameAddrHeader[] = [];
      for (const v of raw) parseNameAddrList(v, "Record-Route", out);
      return out;
    });
  }

  get require(): string[] {
    return this.tokenList(Slot.Require, "require", "Require");
  }

  get proxyRequire(): string[] {
    return this.tokenList(Slot.ProxyRequire, "proxy-require", "Proxy-Require");
  }

  get supported(): string[] {
    return this.tokenList(Slot.Supported, "supported", "Supported");
  }

  get allow(): string[] {
    return this.tokenList(Slot.Allow, "allow", "Allow");
  }

  get expires(): number | undefined {
    return this.optional(Slot.Expires, "expires", parseExpires);
  }

  /** Deep copy (headers and body buffer copied). */
  abstract clone(): SipMessage;

  // ---- internals ---------------------------------------------------------------------------------

  protected firstValue(key: string): string | undefined {
    const hs = this.headers;
    for (let i = 0; i < hs.length; i++) {
      const h = hs[i]!;
      if (headerNameMatches(h.name, key)) return h.value;
    }
    return undefined;
  }

  private allValues(key: string): string[] {
    const out: string[] = [];
    const hs = this.headers;
    for (let i = 0; i < hs.length; i++) {
      const h = hs[i]!;
      if (headerNameMatches(h.name, key)) out.push(h.value);
    }
    return out;
  }

  private cached<T>(slot: Slot, raw: string | string[], parse: () => T): T {
    const cache = (this.cache ??= new Array<CacheEntry | undefined>(Slot.Count));
    const hit = cache[slot];
    if (hit !== undefined && sameRaw(hit.raw, raw)) return hit.value as T;
    const value = parse();
    cache[slot] = { raw, value };
    return value;
  }

  private required<T>(slot: Slot, key: string, display: string, parse: (v: string) => T): T {
    const raw = this.firstValue(key);
    if (raw === undefined) throw new SipParseError("missing-header", `no ${display} header`, 0, display);
    return this.cached(slot, raw, () => parse(raw));
  }

  private optional<T>(slot: Slot, key: string, parse: (v: string) => T): T | undefined {
    const raw = this.firstValue(key);
    if (raw === undefined) return undefined;
    return this.cached(slot, raw, () => parse(raw));
  }

  private multi<T>(slot: Slot, key: string, parse: (raw: string[]) => T): T {
    const raw = this.allValues(key);
    return this.cached(slot, raw, () => parse(raw));
  }

  private tokenList(slot: Slot, key: string, display: string): string[] {
    return this.multi(slot, key, (raw) => {
      const out: string[] = [];
      for (const v of raw) parseTokenList(v, display, out);
      return out;
    });
  }
}

export class SipRequest extends SipMessageBase {
  method: string;
  /** Request-URI as written. */
  uri: string;
  private parsedUri: { text: string; uri: SipUri } | undefined;

  constructor(method: string, uri: string, headers: SipHeader[] = [], body: Buffer = Buffer.alloc(0), version = "SIP/2.0") {
    super(headers, body, version);
    this.method = method;
    this.uri = uri;
  }

  /** The Request-URI parsed (throws SipParseError "unsupported-uri-scheme" for schemes other than sip/sips/tel). */
  get requestUri(): SipUri {
    const p = this.parsedUri;
    if (p !== undefined && p.text === this.uri) return p.uri;
    const uri = parseSipUri(this.uri);
    this.parsedUri = { text: this.uri, uri };
    return uri;
  }

  clone(): SipRequest {
    return new SipRequest(this.method, this.uri, this.headers.map((h) => ({ name: h.name, value: h.value })), Buffer.from(this.body), this.version);
  }
}

export class SipResponse extends SipMessageBase {
  status: number;
  reason: string;

  constructor(status: number, reason: string, headers: SipHeader[] = [], body: Buffer = Buffer.alloc(0), version = "SIP/2.0") {
    super(headers, body, version);
    this.status = status;
    this.reason = reason;
  }

  clone(): SipResponse {
    return new SipResponse(this.status, this.reason, this.headers.map((h) => ({ name: h.name, value: h.value })), Buffer.from(this.body), this.version);
  }
}

export type SipMessage = SipRequest | SipResponse;

export function isRequest(m: SipMessage): m is SipRequest {
  return m instanceof SipRequest;
}

export function isResponse(m: SipMessage): m is SipResponse {
  return m instanceof SipResponse;
}

export type { ViaHeader, NameAddrHeader, ContactHeader, CSeqHeader, ContentTypeHeader };
