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
import { element, parseXmlDocument, serializeXml, type XmlElement } from "./xml-tree.js";

interface ValueCodec<T> {
  decode(el: XmlElement, path: string): T;
  encode(name: string, value: T, path: string): XmlElement;
}

interface FieldSpec {
  el: string;
  key: string;
  codec: ValueCodec<any>;
  many?: boolean;
  required?: boolean;
  /** Attributes always written on this element (e.g. critical="false" on toolkit extensions). */
  attributes?: Record<string, string>;
}

function leafText(el: XmlElement, path: string): string {
  if (el.children.length > 0) throw new OspDecodeError("unexpected-children", path, `element <${el.children[0]?.name}> inside a value element`);
  return el.text;
}

const text: ValueCodec<string> = {
  decode: leafText,
  encode: (name, v) => element(name, v),
};

const integer: ValueCodec<number> = {
  decode(el, path) {
    const s = leafText(el, path);
    if (!/^\d{1,15}$/.test(s)) throw new OspDecodeError("bad-value", path, `'${s.slice(0, 40)}' is not a non-negative integer`);
    return Number(s);
  },
  encode(name, v, path) {
    if (!Number.isSafeInteger(v) || v < 0 || v >= 1e15) throw new RangeError(`OSP encode ${path}: ${v} is not a non-negative integer`);
    return element(name, String(v));
  },
};

const decimal: ValueCodec<number> = {
  decode(el, path) {
    const s = leafText(el, path);
    if (!/^\d{1,15}(\.\d{1,15})?$/.test(s)) throw new OspDecodeError("bad-value", path, `'${s.slice(0, 40)}' is not a decimal number`);
    return Number(s);
  },
  encode(name, v, path) {
    const s = String(v);
    if (!/^\d{1,15}(\.\d{1,15})?$/.test(s)) throw new RangeError(`OSP encode ${path}: ${v} has no plain decimal form`);
    return element(name, s);
  },
};

const boolean: ValueCodec<boolean> = {
  decode(el, path) {
    const s = leafText(el, path).toLowerCase();
    if (s === "true") return true;
    if (s === "false") return false;
    throw new OspDecodeError("bad-value", path, `'${s.slice(0, 40)}' is not true or false`);
  },
  encode: (name, v) => element(name, v ? "true" : "false"),
};

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$/;

/** ISO 8601 date-time (TS 101 321 timestamps) ⇄ milliseconds since the epoch. */
export function parseOspTime(s: string, path: string): number {
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

export function formatOspTime(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < MIN_TIME || ms > MAX_TIME) {
    throw new RangeError(`OSP encode: ${ms} is not a time between years 1 and 9999`);
  }
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? `${iso.slice(0, 19)}Z` : iso;
}

const time: ValueCodec<number> = {
  decode: (el, path) => parseOspTime(leafText(el, path), path),
  encode: (name, v) => element(name, formatOspTime(v)),
};

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** `encoding="base64"` (CallId, Token); `encoding="cdata"` carries the bytes as text. */
const binary: ValueCodec<Buffer> = {
  decode(el, path) {
    const s = leafText(el, path);
    const encoding = el.attributes.encoding ?? "base64";
    if (encoding === "cdata") return Buffer.from(s, "utf8");
    if (encoding !== "base64") throw new OspDecodeError("bad-value", `${path}@encoding`, `unknown encoding '${encoding.slice(0, 40)}'`);
    const compact = s.replace(/\s+/g, "");
    if (compact.length % 4 !== 0 || !BASE64.test(compact)) throw new OspDecodeError("bad-value", path, "content is not base64");
    return Buffer.from(compact, "base64");
  },
  encode: (name, v) => element(name, Buffer.from(v).toString("base64"), { encoding: "base64" }),
};

/** `<SourceInfo type="e164">4085551212</SourceInfo>`. */
const typedValue: ValueCodec<{ type: string; value: string }> = {
  decode(el, path) {
    const type = el.attributes.type;
    if (type === undefined) throw new OspDecodeError("missing-attribute", path, "attribute 'type' is required");
    return { type, value: leafText(el, path) };
  },
  encode: (name, v) => element(name, v.value, { type: v.type }),
};

function struct(fields: FieldSpec[], options: { attributes?: string[] } = {}): ValueCodec<Record<string, unknown>> {
  const byName = new Map(fields.map((f) => [f.el, f]));
  return {
    decode(el, path) {
      if (el.text !== "") throw new OspDecodeError("unexpected-text", path, `text '${el.text.slice(0, 40)}' inside a structured element`);
      const out: Record<string, unknown> = {};
      for (const f of fields) if (f.many) out[f.key] = [];
      const extensions: OspExtensionElement[] = [];
      for (const attr of options.attributes ?? []) if (el.attributes[attr] !== undefined) out[attr] = el.attributes[attr];
      for (const child of el.children) {
        const childPath = `${path}/${child.name}`;
        const f = byName.get(child.name);
        if (!f) {
          extensions.push(checkNotCritical(child, childPath));
          continue;
        }
        const value = f.codec.decode(child, childPath);
        if (f.many) (out[f.key] as unknown[]).push(value);
        else if (out[f.key] !== undefined) throw new OspDecodeError("duplicate-element", childPath, `<${child.name}> may appear once`);
        else out[f.key] = value;
      }
      for (const f of fields) {
        if (f.required && (f.many ? (out[f.key] as unknown[]).length === 0 : out[f.key] === undefined)) {
          throw new OspDecodeError("missing-element", `${path}/${f.el}`, `<${f.el}> is required`);
        }
      }
      if (extensions.length > 0) out.extensions = extensions;
      return out;
    },
    encode(name, v, path) {
      const attributes: Record<string, string> = {};
      for (const attr of options.attributes ?? []) if (typeof v[attr] === "string") attributes[attr] = v[attr] as string;
      const children: XmlElement[] = [];
      for (const f of fields) {
        const value = v[f.key];
        if (value === undefined) {
          if (f.required) throw new RangeError(`OSP encode ${path}: ${f.key} is required`);
          continue;
        }
        const values = f.many ? (value as unknown[]) : [value];
        for (const item of values) {
          const child = f.codec.encode(f.el, item, `${path}/${f.el}`);
          if (f.attributes) Object.assign(child.attributes, f.attributes);
          children.push(child);
        }
      }
      for (const ext of (v.extensions as OspExtensionElement[] | undefined) ?? []) children.push(cloneElement(ext));
      return element(name, "", attributes, children);
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

function cloneElement(e: OspExtensionElement): XmlElement {
  return { name: e.name, attributes: { ...e.attributes }, text: e.text, children: e.children.map(cloneElement) };
}

// ---- element schemas (order follows what the TransNexus toolkit writes) ----

const status = struct([
  { el: "Code", key: "code", codec: integer, required: true },
  { el: "Description", key: "description", codec: text },
]);
const service = struct([{ el: "ServiceType", key: "serviceType", codec: text }]);
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
  { el: "PostDialDelay", key: "postDialDelay", codec: integer },
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
const resources: ValueCodec<boolean> = {
  decode(el, path) {
    const r = struct([{ el: "AlmostOutOfResources", key: "v", codec: boolean, required: true }]).decode(el, path);
    return r.v as boolean;
  },
  encode: (name, v) => element(name, "", {}, [boolean.encode("AlmostOutOfResources", v, "")]),
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
const customerId: FieldSpec = { el: "CustomerId", key: "customerId", codec: text, attributes: { critical: "false" } };
const deviceId: FieldSpec = { el: "DeviceId", key: "deviceId", codec: text, attributes: { critical: "false" } };
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

export interface OspEncodeOptions {
  /** Spelling of the Authorisation* element names; default "toolkit" (AuthorizationRequest, as the TransNexus toolkit sends). */
  spelling?: OspSpelling;
  /** Write the `<?xml version="1.0"?>` declaration (default true). */
  declaration?: boolean;
}

/** Decodes an OSP `<Message>` document; both spellings of the component names are accepted. */
export function decodeOspMessage(input: Buffer | string): OspMessage {
  const root = parseXmlDocument(input);
  if (root.name !== "Message") throw new OspDecodeError("bad-root", root.name, `root element is <${root.name}>, expected <Message>`);
  if (root.text !== "") throw new OspDecodeError("unexpected-text", "Message", "text directly inside <Message>");
  const messageId = root.attributes.messageId;
  if (messageId === undefined) throw new OspDecodeError("missing-attribute", "Message@messageId", "attribute 'messageId' is required");
  const components: OspComponent[] = [];
  for (const child of root.children) {
    const path = `Message/${child.name}`;
    const kind = componentKindOf(child.name);
    if (!kind) {
      checkNotCritical(child, path);
      continue;
    }
    const body = COMPONENT_SCHEMAS[kind].decode(child, path);
    body.kind = kind;
    components.push(body as unknown as OspComponent);
  }
  if (components.length === 0) throw new OspDecodeError("no-component", "Message", "no OSP component inside <Message>");
  const message: OspMessage = { messageId, components };
  if (root.attributes.random !== undefined) message.random = root.attributes.random;
  return message;
}

export function ospMessageToXml(message: OspMessage, options: OspEncodeOptions = {}): XmlElement {
  const spelling = options.spelling ?? "toolkit";
  const attributes: Record<string, string> = { messageId: message.messageId };
  if (message.random !== undefined) attributes.random = message.random;
  const children = message.components.map((c) => {
    const name = componentElementName(c.kind, spelling);
    const { kind: _kind, ...body } = c;
    return COMPONENT_SCHEMAS[c.kind].encode(name, body as Record<string, unknown>, `Message/${name}`);
  });
  return element("Message", "", attributes, children);
}

/** Encodes a message exactly as modelled (UTF-8, compact, toolkit spelling unless told otherwise). */
export function encodeOspMessage(message: OspMessage, options: OspEncodeOptions = {}): Buffer {
  const parts = options.declaration === false ? [] : ['<?xml version="1.0"?>'];
  serializeXml(ospMessageToXml(message, options), parts);
  return Buffer.from(parts.join(""), "utf8");
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

export function decodeTokenInfo(input: Buffer | string): OspTokenInfo {
  const root = parseXmlDocument(input);
  if (root.name !== "TokenInfo") throw new OspDecodeError("bad-root", root.name, `root element is <${root.name}>, expected <TokenInfo>`);
  const info = tokenInfoSchema.decode(root, "TokenInfo");
  if ((info.destinationAlternates as unknown[]).length === 0) delete info.destinationAlternates;
  return info as unknown as OspTokenInfo;
}

export function encodeTokenInfo(info: OspTokenInfo, options: { declaration?: boolean } = {}): Buffer {
  const parts = options.declaration === false ? [] : ['<?xml version="1.0"?>'];
  serializeXml(tokenInfoSchema.encode("TokenInfo", info as unknown as Record<string, unknown>, "TokenInfo"), parts);
  return Buffer.from(parts.join(""), "utf8");
}

/** The label the message record uses: the TS 101 321 name of the first component. */
export function ospMessageLabel(message: OspMessage): OspComponentKind {
  return message.components[0]?.kind ?? COMPONENT_KINDS[0]!;
}
