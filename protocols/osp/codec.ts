// OSP message codec (ETSI TS 101 321 v4.1.1): Buffer ⇄ typed OspMessage. decode throws only OspDecodeError.
import { OspDecodeError } from "./errors.js";
import type {
  OspComponent,
  OspComponentKind,
  OspExtensionElement,
  OspMessage,
  OspSpelling,
  OspTokenInfo,
} from "./model.js";
import { COMPONENT_KINDS, TOOLKIT_ELEMENT_NAMES, componentElementName, componentKindOf } from "./names.js";
import { escapeXmlAttribute, escapeXmlText, parseXmlDocument, serializeXml, type XmlElement } from "./xml-tree.js";

interface ValueCodec<T> {
  /** `parent` is the path of the enclosing element; this element's own path is built only for an error. */
  decode(el: XmlElement, parent: string): T;
  /** The element as XML text; `parent` is the enclosing element's path, for errors. */
  encode(tag: Tag, value: T, parent: string): string;
}

/** Tag text of one element: `<Name`, the attribute text always written after the codec's own, `</Name>`. */
interface Tag {
  name: string;
  head: string;
  attrs: string;
  /** `<Name attrs>` and `<Name attrs/>`, for elements without attributes of their own. */
  start: string;
  empty: string;
  close: string;
}

function makeTag(name: string, attrs = ""): Tag {
  return { name, head: `<${name}`, attrs, start: `<${name}${attrs}>`, empty: `<${name}${attrs}/>`, close: `</${name}>` };
}

interface FieldSpec {
  el: string;
  key: string;
  codec: ValueCodec<any>;
  many?: boolean;
  /** With `many`: the key stays absent when no such element is present (instead of an empty list). */
  optional?: boolean;
  required?: boolean;
  /** Attribute text always written on this element (e.g. ` critical="false"` on toolkit extensions). */
  attributes?: string;
}

/** `<Name attrs>text</Name>`, or `<Name attrs/>` when the text is empty; `text` is already escaped. */
function leaf(tag: Tag, text: string): string {
  return text === "" ? tag.empty : tag.start + text + tag.close;
}

/** Like leaf, with the codec's own attribute text (` type="e164"`) before the tag's. */
function leafWith(tag: Tag, own: string, text: string): string {
  const head = tag.head + own + tag.attrs;
  return text === "" ? `${head}/>` : `${head}>${text}${tag.close}`;
}

/** Element path for errors: `Message/UsageIndication/CallId`. */
function pathOf(parent: string, el: XmlElement): string {
  return parent === "" ? el.name : `${parent}/${el.name}`;
}

function leafText(el: XmlElement, parent: string): string {
  if (el.children.length > 0) {
    throw new OspDecodeError("unexpected-children", pathOf(parent, el), `element <${el.children[0]?.name}> inside a value element`);
  }
  return el.text;
}

// Numbers as the TransNexus toolkit writes them (ospmsg.c): unsigned long as "%lu" (up to 20 digits), codes as
// "%03ld" ("007"), floats as "%.4f" ("1.0100", "-2.5000", and up to 39 integer digits for a huge float).
const INTEGER = /^\d{1,20}$/;
const DECIMAL = /^[+-]?(?:\d{1,40}(?:\.\d{0,20})?|\.\d{1,20})$/;

const text: ValueCodec<string> = {
  decode: leafText,
  encode: (tag, v) => leaf(tag, escapeXmlText(v)),
};

const integer: ValueCodec<number> = {
  decode(el, parent) {
    const s = leafText(el, parent);
    if (!INTEGER.test(s)) throw new OspDecodeError("bad-value", pathOf(parent, el), `'${s.slice(0, 40)}' is not a non-negative integer`);
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw new OspDecodeError("bad-value", pathOf(parent, el), `${s} exceeds ${Number.MAX_SAFE_INTEGER}`);
    return n;
  },
  encode(tag, v, parent) {
    if (!Number.isSafeInteger(v) || v < 0 || v >= 1e15) throw new RangeError(`OSP encode ${parent}/${tag.name}: ${v} is not a non-negative integer`);
    return leaf(tag, String(v));
  },
};

const decimal: ValueCodec<number> = {
  decode(el, parent) {
    const s = leafText(el, parent);
    if (!DECIMAL.test(s)) throw new OspDecodeError("bad-value", pathOf(parent, el), `'${s.slice(0, 40)}' is not a decimal number`);
    return Number(s) + 0; // "-0.0000" reads as 0
  },
  encode: (tag, v, parent) => leaf(tag, decimalText(tag, v, parent)),
};

function decimalText(tag: Tag, v: number, parent: string): string {
  const s = String(v);
  if (!DECIMAL.test(s)) throw new RangeError(`OSP encode ${parent}/${tag.name}: ${v} has no plain decimal form`);
  return s;
}

const boolean: ValueCodec<boolean> = {
  decode(el, parent) {
    const s = leafText(el, parent).toLowerCase();
    if (s === "true") return true;
    if (s === "false") return false;
    throw new OspDecodeError("bad-value", pathOf(parent, el), `'${s.slice(0, 40)}' is not true or false`);
  },
  encode: (tag, v) => leaf(tag, v ? "true" : "false"),
};

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Digits of `s` from `from` to `to` as a number, or -1 if one is not a digit. */
function digitsAt(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** `YYYY-MM-DDTHH:MM:SSZ` (what the toolkit and this encoder write), years 100..9999; NaN for anything else. */
function parseUtcSeconds(s: string): number {
  if (s.length !== 20 || s.charCodeAt(4) !== 0x2d || s.charCodeAt(7) !== 0x2d || s.charCodeAt(10) !== 0x54 ||
      s.charCodeAt(13) !== 0x3a || s.charCodeAt(16) !== 0x3a || s.charCodeAt(19) !== 0x5a) return NaN;
  const year = digitsAt(s, 0, 4), month = digitsAt(s, 5, 7), day = digitsAt(s, 8, 10);
  const hour = digitsAt(s, 11, 13), minute = digitsAt(s, 14, 16), second = digitsAt(s, 17, 19);
  if (year < 100 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return NaN;
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > DAYS_IN_MONTH[month - 1]! + (leap ? 1 : 0)) return NaN;
  return daysFromCivil(year, month, day) * 86_400_000 + ((hour * 60 + minute) * 60 + second) * 1000;
}

/** Days since 1970-01-01 of a proleptic Gregorian date, year ≥ 1 (the inverse of civilDate, as Date.UTC counts). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  return era * 146_097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719_468;
}

/** ISO 8601 date-time (TS 101 321 timestamps) ⇄ milliseconds since the epoch. */
export function parseOspTime(s: string, path: string): number {
  const fast = parseUtcSeconds(s);
  if (fast === fast) return fast; // not NaN
  const m = ISO_TIME.exec(s);
  if (!m) throw new OspDecodeError("bad-value", path, `'${s.slice(0, 40)}' is not an ISO 8601 date-time`);
  const [, y, mo, d, h, mi, se, frac, zone] = m;
  const year = Number(y), month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi), second = Number(se);
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // not Date.UTC: it maps years 0-99 to 1900-1999
  date.setUTCHours(hour, minute, second, ms);
  const t = date.getTime();
  if (month < 1 || month > 12 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59 || year < 1) {
    throw new OspDecodeError("bad-value", path, `'${s}' is not a valid date-time`);
  }
  let offsetMs = 0;
  if (zone && zone !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const oh = Number(zone.slice(1, 3)), om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) throw new OspDecodeError("bad-value", path, `'${zone}' is not a valid zone offset`);
    offsetMs = sign * (oh * 60 + om) * 60_000;
  }
  return t - offsetMs;
}

const MIN_TIME = Date.parse("0001-01-01T00:00:00Z");
const MAX_TIME = Date.parse("9999-12-31T23:59:59.999Z");

/** A time in milliseconds as OSP's ISO 8601 text (UTC, whole seconds). */
export function formatOspTime(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < MIN_TIME || ms > MAX_TIME) {
    throw new RangeError(`OSP encode: ${ms} is not a time between years 1 and 9999`);
  }
  // Civil date from days since 1970-01-01 (proleptic Gregorian, as Date.prototype.toISOString).
  const days = Math.floor(ms / 86_400_000);
  const inDay = ms - days * 86_400_000;
  const date = days === lastDays ? lastDate : civilDate(days);
  const second = Math.floor(inDay / 1000);
  const millis = inDay - second * 1000;
  const hms = `${TWO_DIGITS[Math.floor(second / 3600)]}:${TWO_DIGITS[Math.floor(second / 60) % 60]}:${TWO_DIGITS[second % 60]}`;
  return millis === 0 ? `${date}T${hms}Z` : `${date}T${hms}.${String(millis).padStart(3, "0")}Z`;
}

// The last date written: messages written in the same day share it.
let lastDays = NaN;
let lastDate = "";

/** `YYYY-MM-DD` of a day count since 1970-01-01. */
function civilDate(days: number): string {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  lastDays = days;
  lastDate = `${year < 1000 ? String(year).padStart(4, "0") : year}-${TWO_DIGITS[month]}-${TWO_DIGITS[day]}`;
  return lastDate;
}
const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0"));

const time: ValueCodec<number> = {
  decode(el, parent) {
    const s = leafText(el, parent);
    const fast = parseUtcSeconds(s);
    return fast === fast ? fast : parseOspTime(s, pathOf(parent, el));
  },
  encode: (tag, v) => leaf(tag, formatOspTime(v)),
};

/**
 * RFC 4648 §4 base64 with padding, strictly: Buffer.from skips characters outside the alphabet (and reads the
 * URL-safe '-' and '_'), so the input is refused unless every character was used: the decoded length must be
 * exactly what the length and padding promise.
 */
function strictBase64(s: string): Buffer | undefined {
  const length = s.length;
  if (length % 4 !== 0 || s.includes("-") || s.includes("_")) return undefined;
  let pad = 0;
  if (length > 0 && s.charCodeAt(length - 1) === 0x3d) pad = s.charCodeAt(length - 2) === 0x3d ? 2 : 1;
  if (pad === 2 && s.charCodeAt(length - 3) === 0x3d) return undefined;
  const bytes = Buffer.from(s, "base64");
  return bytes.length === (length / 4) * 3 - pad ? bytes : undefined;
}

function base64(v: Uint8Array): string {
  return (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)).toString("base64");
}

/** `encoding="base64"` (CallId, Token); `encoding="cdata"` carries the bytes as text. */
const binary: ValueCodec<Buffer> = {
  decode(el, parent) {
    const s = leafText(el, parent);
    const encoding = el.attributes.encoding ?? "base64";
    if (encoding === "cdata") return Buffer.from(s, "utf8");
    if (encoding !== "base64") throw new OspDecodeError("bad-value", `${pathOf(parent, el)}@encoding`, `unknown encoding '${encoding.slice(0, 40)}'`);
    const bytes = strictBase64(s) ?? strictBase64(s.replace(/\s+/g, ""));
    if (bytes === undefined) throw new OspDecodeError("bad-value", pathOf(parent, el), "content is not base64");
    return bytes;
  },
  encode: (tag, v) => leafWith(tag, ' encoding="base64"', base64(v)),
};

/** `<SourceInfo type="e164">4085551212</SourceInfo>`. */
const typedValue: ValueCodec<{ type: string; value: string }> = {
  decode(el, parent) {
    const type = el.attributes.type;
    if (type === undefined) throw new OspDecodeError("missing-attribute", pathOf(parent, el), "attribute 'type' is required");
    return { type, value: leafText(el, parent) };
  },
  encode: (tag, v) => leafWith(tag, ` type="${escapeXmlAttribute(v.type)}"`, escapeXmlText(v.value)),
};

function struct(fields: FieldSpec[], options: { attributes?: string[] } = {}): ValueCodec<Record<string, unknown>> {
  if (new Set(fields.map((f) => f.el)).size !== fields.length) throw new Error("OSP schema: an element name appears twice");
  const ownAttributes = options.attributes ?? [];
  const listKeys = fields.filter((f) => f.many && !f.optional).map((f) => f.key);
  const requiredFields = fields.filter((f) => f.required);
  const tags = fields.map((f) => makeTag(f.el, f.attributes));
  return {
    decode(el, parent) {
      const path = pathOf(parent, el);
      if (el.text !== "") throw new OspDecodeError("unexpected-text", path, `text '${el.text.slice(0, 40)}' inside a structured element`);
      const out: Record<string, unknown> = {};
      for (const key of listKeys) out[key] = [];
      let extensions: OspExtensionElement[] | undefined;
      for (const attr of ownAttributes) if (el.attributes[attr] !== undefined) out[attr] = el.attributes[attr];
      let k = 0;
      for (const child of el.children) {
        // Children mostly come in schema order: look from the field matched last.
        const name = child.name;
        let f: FieldSpec | undefined;
        for (let j = 0; j < fields.length; j++) {
          const candidate = fields[k]!;
          if (candidate.el === name) {
            f = candidate;
            break;
          }
          if (++k === fields.length) k = 0;
        }
        if (!f) {
          (extensions ??= []).push(checkNotCritical(child, pathOf(path, child)));
          continue;
        }
        const value = f.codec.decode(child, path);
        if (f.many) ((out[f.key] ??= []) as unknown[]).push(value);
        else if (out[f.key] !== undefined) throw new OspDecodeError("duplicate-element", pathOf(path, child), `<${child.name}> may appear once`);
        else out[f.key] = value;
      }
      for (const f of requiredFields) {
        if (f.many ? ((out[f.key] as unknown[] | undefined)?.length ?? 0) === 0 : out[f.key] === undefined) {
          throw new OspDecodeError("missing-element", `${path}/${f.el}`, `<${f.el}> is required`);
        }
      }
      if (extensions !== undefined) out.extensions = extensions;
      return out;
    },
    encode(tag, v, parent) {
      const path = parent === "" ? tag.name : `${parent}/${tag.name}`;
      let own = "";
      for (const attr of ownAttributes) {
        const a = v[attr];
        if (typeof a === "string") own += ` ${attr}="${escapeXmlAttribute(a)}"`;
      }
      let body = "";
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i]!;
        const value = v[f.key];
        if (value === undefined) {
          if (f.required) throw new RangeError(`OSP encode ${path}: ${f.key} is required`);
          continue;
        }
        const fieldTag = tags[i]!;
        if (f.many) {
          for (const item of value as unknown[]) body += f.codec.encode(fieldTag, item, path);
        } else {
          body += f.codec.encode(fieldTag, value, path);
        }
      }
      const extensions = v.extensions as OspExtensionElement[] | undefined;
      if (extensions !== undefined) for (const ext of extensions) body += serializeXml(ext);
      if (own === "") return body === "" ? tag.empty : tag.start + body + tag.close;
      return leafWith(tag, own, body);
    },
  };
}

/** TS 101 321: an element not understood is an error unless marked critical="false". */
function checkNotCritical(el: XmlElement, path: string): OspExtensionElement {
  const critical = el.attributes.critical?.toLowerCase();
  if (critical === "false") return el;
  if (critical === undefined && TOOLKIT_ELEMENT_NAMES.has(el.name)) return el;
  throw new OspDecodeError("unknown-critical-element", path, `element <${el.name}> is not understood and not marked critical="false"`);
}

// ---- element schemas (order follows what the TransNexus toolkit writes) ----

const status = struct([
  { el: "Code", key: "code", codec: integer, required: true },
  { el: "Description", key: "description", codec: text },
]);
const service = struct([{ el: "ServiceType", key: "serviceType", codec: text }]);
/** `<PostDialDelay type="source">1.0100</PostDialDelay>`: seconds, as the toolkit writes them ("%.4f"). */
const postDialDelay: ValueCodec<{ type?: string; seconds: number }> = {
  decode(el, parent) {
    const seconds = decimal.decode(el, parent);
    const type = el.attributes.type;
    return type === undefined ? { seconds } : { type, seconds };
  },
  encode: (tag, v, parent) =>
    v.type === undefined ? decimal.encode(tag, v.seconds, parent) : leafWith(tag, ` type="${escapeXmlAttribute(v.type)}"`, decimalText(tag, v.seconds, parent)),
};

const usageDetail = struct([
  { el: "Service", key: "service", codec: service },
  { el: "Amount", key: "amount", codec: decimal, required: true },
  { el: "Increment", key: "increment", codec: integer, required: true },
  { el: "Unit", key: "unit", codec: text, required: true },
  // The toolkit reports call times inside UsageDetail (ospusage.c)
  { el: "StartTime", key: "startTime", codec: time },
  { el: "EndTime", key: "endTime", codec: time },
  { el: "AlertTime", key: "alertTime", codec: time },
  { el: "ConnectTime", key: "connectTime", codec: time },
  // The toolkit writes one per side that measured it (type="source", type="destination")
  { el: "PostDialDelay", key: "postDialDelays", codec: postDialDelay, many: true, optional: true },
  { el: "ReleaseSource", key: "releaseSource", codec: text },
]);
const terminationCause = struct(
  [
    { el: "TCCode", key: "code", codec: integer, required: true },
    { el: "Description", key: "description", codec: text },
  ],
  { attributes: ["type"] },
);
/** `<Resources><AlmostOutOfResources>…</AlmostOutOfResources></Resources>` as one boolean. */
const resourcesBody = struct([{ el: "AlmostOutOfResources", key: "v", codec: boolean, required: true }]);
const almostOutOfResources = makeTag("AlmostOutOfResources");
const resources: ValueCodec<boolean> = {
  decode: (el, parent) => resourcesBody.decode(el, parent).v as boolean,
  encode: (tag, v, parent) => tag.start + boolean.encode(almostOutOfResources, v, parent) + tag.close,
};

const timestamp: FieldSpec = { el: "Timestamp", key: "timestamp", codec: time };
const statusField: FieldSpec = { el: "Status", key: "status", codec: status, required: true };
const transactionId: FieldSpec = { el: "TransactionId", key: "transactionId", codec: text };
const role: FieldSpec = { el: "Role", key: "role", codec: text };
const callId: FieldSpec = { el: "CallId", key: "callId", codec: binary };
const sourceInfo: FieldSpec = { el: "SourceInfo", key: "sourceInfo", codec: typedValue, many: true };
const deviceInfo: FieldSpec = { el: "DeviceInfo", key: "deviceInfo", codec: typedValue, many: true };
const sourceAlternates: FieldSpec = { el: "SourceAlternate", key: "sourceAlternates", codec: typedValue, many: true };
const destinationInfo: FieldSpec = { el: "DestinationInfo", key: "destinationInfo", codec: typedValue, many: true };
const destinationAlternates: FieldSpec = { el: "DestinationAlternate", key: "destinationAlternates", codec: typedValue, many: true };
const tokens: FieldSpec = { el: "Token", key: "tokens", codec: binary, many: true };
const validAfter: FieldSpec = { el: "ValidAfter", key: "validAfter", codec: time };
const validUntil: FieldSpec = { el: "ValidUntil", key: "validUntil", codec: time };
const customerId: FieldSpec = { el: "CustomerId", key: "customerId", codec: text, attributes: ' critical="false"' };
const deviceId: FieldSpec = { el: "DeviceId", key: "deviceId", codec: text, attributes: ' critical="false"' };
const destSignal: FieldSpec = { el: "DestinationSignalAddress", key: "destinationSignalAddress", codec: text };

const destination = struct([
  validAfter,
  validUntil,
  { el: "UsageDetail", key: "usageDetail", codec: usageDetail },
  transactionId,
  callId,
  destinationInfo,
  destSignal,
  tokens,
  destinationAlternates,
]);

const COMPONENT_SCHEMAS: Record<OspComponentKind, ValueCodec<Record<string, unknown>>> = {
  AuthorisationRequest: struct(
    [
      timestamp,
      { el: "CallId", key: "callIds", codec: binary, many: true },
      sourceInfo,
      deviceInfo,
      sourceAlternates,
      destinationInfo,
      destinationAlternates,
      { el: "Service", key: "service", codec: service },
      { el: "MaximumDestinations", key: "maximumDestinations", codec: integer },
      customerId,
      deviceId,
    ],
    { attributes: ["componentId"] },
  ),
  AuthorisationResponse: struct(
    [timestamp, statusField, transactionId, { el: "Destination", key: "destinations", codec: destination, many: true }],
    { attributes: ["componentId"] },
  ),
  AuthorisationIndication: struct(
    [timestamp, role, transactionId, callId, sourceInfo, deviceInfo, sourceAlternates, destinationInfo, destinationAlternates, tokens, validAfter, validUntil, customerId, deviceId],
    { attributes: ["componentId"] },
  ),
  AuthorisationConfirmation: struct([timestamp, statusField, validAfter, validUntil], { attributes: ["componentId"] }),
  ReauthorisationRequest: struct(
    [
      timestamp, role, transactionId, callId, sourceInfo, sourceAlternates, destinationInfo, destinationAlternates, tokens,
      { el: "UsageDetail", key: "usageDetail", codec: usageDetail },
      customerId, deviceId,
    ],
    { attributes: ["componentId"] },
  ),
  ReauthorisationResponse: struct(
    [timestamp, statusField, transactionId, { el: "Destination", key: "destinations", codec: destination, many: true }],
    { attributes: ["componentId"] },
  ),
  UsageIndication: struct(
    [
      timestamp, role, transactionId, callId, sourceInfo, deviceInfo, sourceAlternates, destinationInfo, destinationAlternates, destSignal,
      { el: "UsageDetail", key: "usageDetails", codec: usageDetail, many: true },
      { el: "TerminationCause", key: "terminationCause", codec: terminationCause },
      { el: "StartTime", key: "startTime", codec: time },
      { el: "EndTime", key: "endTime", codec: time },
      customerId, deviceId,
    ],
    { attributes: ["componentId"] },
  ),
  UsageConfirmation: struct([timestamp, statusField], { attributes: ["componentId"] }),
  CapabilitiesIndication: struct(
    [
      timestamp,
      deviceInfo,
      sourceInfo,
      sourceAlternates,
      { el: "Resources", key: "almostOutOfResources", codec: resources },
    ],
    { attributes: ["componentId"] },
  ),
  CapabilitiesConfirmation: struct([timestamp, statusField], { attributes: ["componentId"] }),
  PricingIndication: struct(
    [
      timestamp, sourceInfo, destinationInfo,
      { el: "Currency", key: "currency", codec: text },
      { el: "Amount", key: "amount", codec: decimal },
      { el: "Increment", key: "increment", codec: integer },
      { el: "Unit", key: "unit", codec: text },
      { el: "Service", key: "service", codec: service },
      validAfter, validUntil,
    ],
    { attributes: ["componentId"] },
  ),
  PricingConfirmation: struct([timestamp, statusField], { attributes: ["componentId"] }),
};

/** How to spell the message: the toolkit's names or the standard's. */
export interface OspEncodeOptions {
  /** Spelling of the Authorisation* element names; default "toolkit" (AuthorizationRequest, as the TransNexus toolkit sends). */
  spelling?: OspSpelling;
  /** Write the `<?xml version="1.0"?>` declaration (default true). */
  declaration?: boolean;
}

/** The `<Message>` root of a document, its messageId checked. */
function messageRoot(input: Buffer | string): { root: XmlElement; messageId: string } {
  const root = parseXmlDocument(input);
  if (root.name !== "Message") throw new OspDecodeError("bad-root", root.name, `root element is <${root.name}>, expected <Message>`);
  if (root.text !== "") throw new OspDecodeError("unexpected-text", "Message", "text directly inside <Message>");
  const messageId = root.attributes.messageId;
  if (messageId === undefined) throw new OspDecodeError("missing-attribute", "Message@messageId", "attribute 'messageId' is required");
  return { root, messageId };
}

function decodeComponent(child: XmlElement, kind: OspComponentKind, messageId: string): OspComponent {
  let body: Record<string, unknown>;
  try {
    body = COMPONENT_SCHEMAS[kind].decode(child, "Message");
  } catch (err) {
    // So that the error answer can name the component it refuses (TS 101 321: answers carry its componentId).
    if (err instanceof OspDecodeError) {
      err.messageId = messageId;
      err.component = child.name;
      err.componentId = child.attributes.componentId;
    }
    throw err;
  }
  body.kind = kind;
  return body as unknown as OspComponent;
}

function withRandom<T extends { random?: string }>(message: T, root: XmlElement): T {
  if (root.attributes.random !== undefined) message.random = root.attributes.random;
  return message;
}

/** Decodes an OSP `<Message>` document; both spellings of the component names are accepted. */
export function decodeOspMessage(input: Buffer | string): OspMessage {
  const { root, messageId } = messageRoot(input);
  const components: OspComponent[] = [];
  for (const child of root.children) {
    const kind = componentKindOf(child.name);
    if (!kind) {
      checkNotCritical(child, `Message/${child.name}`);
      continue;
    }
    components.push(decodeComponent(child, kind, messageId));
  }
  if (components.length === 0) throw new OspDecodeError("no-component", "Message", "no OSP component inside <Message>");
  return withRandom<OspMessage>({ messageId, components }, root);
}

/** A component read on its own: decoded, or refused with the reason (its messageId, component and componentId set). */
export type OspComponentReading = { ok: true; component: OspComponent } | { ok: false; kind: OspComponentKind; error: OspDecodeError };

/** A decoded message: its id, random and components, each with how it was spelled. */
export interface OspMessageReading {
  messageId: string;
  random?: string;
  components: OspComponentReading[];
}

/**
 * Like decodeOspMessage, but a component that does not decode is reported in its place instead of failing the
 * whole Message, so that each component of a batch can be answered on its own (TS 101 321 answers carry the
 * componentId they answer). Errors of the document itself (XML, root, messageId, no component) still throw.
 */
export function readOspMessageComponents(input: Buffer | string): OspMessageReading {
  const { root, messageId } = messageRoot(input);
  const components: OspComponentReading[] = [];
  for (const child of root.children) {
    const kind = componentKindOf(child.name);
    if (!kind) {
      checkNotCritical(child, `Message/${child.name}`);
      continue;
    }
    try {
      components.push({ ok: true, component: decodeComponent(child, kind, messageId) });
    } catch (err) {
      if (!(err instanceof OspDecodeError)) throw err;
      components.push({ ok: false, kind, error: err });
    }
  }
  if (components.length === 0) throw new OspDecodeError("no-component", "Message", "no OSP component inside <Message>");
  return withRandom<OspMessageReading>({ messageId, components }, root);
}

const COMPONENT_TAGS = new Map<string, Tag>();
function componentTag(kind: OspComponentKind, spelling: OspSpelling): Tag {
  const name = componentElementName(kind, spelling);
  let t = COMPONENT_TAGS.get(name);
  if (t === undefined) COMPONENT_TAGS.set(name, (t = makeTag(name)));
  return t;
}

/** Encodes a message exactly as modelled (UTF-8, compact, toolkit spelling unless told otherwise). */
export function encodeOspMessage(message: OspMessage, options: OspEncodeOptions = {}): Buffer {
  const spelling = options.spelling ?? "toolkit";
  let out = options.declaration === false ? "" : '<?xml version="1.0"?>';
  out += `<Message messageId="${escapeXmlAttribute(message.messageId)}"`;
  if (message.random !== undefined) out += ` random="${escapeXmlAttribute(message.random)}"`;
  let body = "";
  for (const c of message.components) {
    body += COMPONENT_SCHEMAS[c.kind].encode(componentTag(c.kind, spelling), c as unknown as Record<string, unknown>, "Message");
  }
  out += body === "" ? "/>" : `>${body}</Message>`;
  return Buffer.from(out, "utf8");
}

// ---- TokenInfo (the document a token carries) ----

const tokenInfoSchema = struct([
  sourceInfo,
  destinationInfo,
  { el: "DestinationAlternate", key: "destinationAlternates", codec: typedValue, many: true },
  { el: "CallId", key: "callId", codec: binary, required: true },
  { el: "ValidAfter", key: "validAfter", codec: time, required: true },
  { el: "ValidUntil", key: "validUntil", codec: time, required: true },
  { el: "TransactionId", key: "transactionId", codec: text, required: true },
  { el: "UsageDetail", key: "usageDetail", codec: usageDetail },
]);

/** Reads a token's TokenInfo XML. */
export function decodeTokenInfo(input: Buffer | string): OspTokenInfo {
  const root = parseXmlDocument(input);
  if (root.name !== "TokenInfo") throw new OspDecodeError("bad-root", root.name, `root element is <${root.name}>, expected <TokenInfo>`);
  const info = tokenInfoSchema.decode(root, "");
  if ((info.destinationAlternates as unknown[]).length === 0) delete info.destinationAlternates;
  return info as unknown as OspTokenInfo;
}

const tokenInfoTag = makeTag("TokenInfo");

/** Writes a TokenInfo as XML. */
export function encodeTokenInfo(info: OspTokenInfo, options: { declaration?: boolean } = {}): Buffer {
  const declaration = options.declaration === false ? "" : '<?xml version="1.0"?>';
  return Buffer.from(declaration + tokenInfoSchema.encode(tokenInfoTag, info as unknown as Record<string, unknown>, ""), "utf8");
}

/** The label the message record uses: the TS 101 321 name of the first component. */
export function ospMessageLabel(message: OspMessage): OspComponentKind {
  return message.components[0]?.kind ?? COMPONENT_KINDS[0]!;
}
