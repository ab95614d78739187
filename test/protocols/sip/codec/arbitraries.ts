// fast-check generators of SIP URIs, headers and whole messages (shared by round-trip, differential and fuzz tests).
import fc from "fast-check";
import {
  formatNameAddr,
  formatSipUri,
  formatVia,
  SipRequest,
  SipResponse,
  type NameAddrHeader,
  type SipHeader,
  type SipMessage,
  type SipUri,
  type ViaHeader,
} from "../../../../protocols/sip/index.js";

const chars = (s: string): fc.Arbitrary<string> => fc.constantFrom(...s.split(""));
const str = (unit: fc.Arbitrary<string>, min: number, max: number): fc.Arbitrary<string> =>
  fc.array(unit, { minLength: min, maxLength: max }).map((a) => a.join(""));

const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const TOKEN = ALNUM + "-.!%*_+`'~";
export const tokenArb = str(chars(TOKEN), 1, 12);
const lowerToken = str(chars("abcdefghijklmnopqrstuvwxyz0123456789-"), 1, 10);
/** Any printable text, including characters that need %-escaping and non-ASCII. */
const anyText = str(fc.oneof(chars(ALNUM + " -_.!~*'()&=+$,;?/:@[]<>\"#%{}|\\^`"), fc.constantFrom("é", "ß", "中", "😀")), 1, 12);

const label = fc
  .tuple(chars(ALNUM), str(chars(ALNUM + "-"), 0, 8), chars(ALNUM))
  .map(([a, b, c]) => a + b + c);
// Documentation-only names and addresses (RFC 2606, RFC 5737, RFC 3849): nothing generated is routable.
const docIpv4 = fc.tuple(fc.constantFrom("192.0.2", "198.51.100", "203.0.113"), fc.nat(255)).map(([net, h]) => `${net}.${h}`);
export const hostArb: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.array(label, { maxLength: 3 }), fc.constantFrom("example.com", "example.net", "example.org")).map(([ls, d]) => [...ls, d].join(".")),
  docIpv4,
  fc.array(fc.nat(0xffff), { minLength: 2, maxLength: 4 }).map((g) => `[2001:db8::${g.map((x) => x.toString(16)).join(":")}]`),
);

const paramMap = (valueArb: fc.Arbitrary<string>): fc.Arbitrary<Map<string, string | null>> =>
  fc.uniqueArray(fc.tuple(lowerToken, fc.option(valueArb, { nil: null })), { selector: ([k]) => k, maxLength: 4 }).map((e) => new Map(e));

export const sipUriArb: fc.Arbitrary<SipUri> = fc
  .record({
    scheme: fc.constantFrom("sip" as const, "sips" as const),
    user: fc.option(anyText, { nil: undefined }),
    password: fc.option(anyText, { nil: undefined }),
    host: hostArb,
    port: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
    params: paramMap(anyText),
    headers: fc.uniqueArray(fc.tuple(tokenArb, anyText), { selector: ([k]) => k, maxLength: 3 }).map((e) => new Map(e)),
  })
  .map((r) => {
    const u: SipUri = { scheme: r.scheme, host: r.host, params: r.params, headers: r.headers };
    if (r.user !== undefined) {
      u.user = r.user;
      if (r.password !== undefined) u.password = r.password;
    }
    if (r.port !== undefined) u.port = r.port;
    return u;
  });

export const telUriArb: fc.Arbitrary<SipUri> = fc
  .tuple(str(chars("0123456789-.()"), 1, 15), paramMap(str(chars(ALNUM + "-.+"), 1, 10)))
  .map(([n, params]) => ({ scheme: "tel" as const, user: "+" + n, host: "", params, headers: new Map() }));

export const viaArb: fc.Arbitrary<ViaHeader> = fc
  .record({
    transport: fc.constantFrom("UDP", "TCP", "TLS", "SCTP", "WS", "WSS"),
    host: hostArb,
    port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    branch: str(chars(TOKEN), 1, 16),
    received: fc.option(docIpv4, { nil: undefined }),
    rport: fc.option(fc.oneof(fc.constant(true as const), fc.integer({ min: 1, max: 65535 })), { nil: undefined }),
    ttl: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
    ext: fc.uniqueArray(fc.tuple(lowerToken.map((k) => "x-" + k), fc.option(tokenArb, { nil: null })), { selector: ([k]) => k, maxLength: 2 }),
  })
  .map((r) => {
    const params = new Map<string, string | null>([["branch", "z9hG4bK" + r.branch]]);
    if (r.received !== undefined) params.set("received", r.received);
    if (r.rport !== undefined) params.set("rport", r.rport === true ? null : String(r.rport));
    if (r.ttl !== undefined) params.set("ttl", String(r.ttl));
    for (const [k, v] of r.ext) params.set(k, v);
    const via: ViaHeader = { protocol: `SIP/2.0/${r.transport}`, protocolName: "SIP", protocolVersion: "2.0", transport: r.transport, host: r.host, params, branch: "z9hG4bK" + r.branch };
    if (r.port !== undefined) via.port = r.port;
    if (r.received !== undefined) via.received = r.received;
    if (r.rport !== undefined) via.rport = r.rport;
    if (r.ttl !== undefined) via.ttl = r.ttl;
    return via;
  });

const displayNameArb = str(fc.oneof(chars(ALNUM + " .,;:<>@\"\\'()"), fc.constantFrom("é", "中")), 1, 16);

export const nameAddrArb: fc.Arbitrary<NameAddrHeader> = fc
  .record({
    displayName: fc.option(displayNameArb, { nil: undefined }),
    uri: fc.oneof({ weight: 4, arbitrary: sipUriArb }, { weight: 1, arbitrary: telUriArb }),
    tag: fc.option(tokenArb, { nil: undefined }),
  })
  .map((r) => {
    const params = new Map<string, string | null>();
    if (r.tag !== undefined) params.set("tag", r.tag);
    const h: NameAddrHeader = { uri: r.uri, uriText: formatSipUri(r.uri), angleBrackets: true, params };
    if (r.displayName !== undefined) h.displayName = r.displayName;
    if (r.tag !== undefined) h.tag = r.tag;
    return h;
  });

const wordArb = str(chars(TOKEN + "()<>:\\\"/[]?{}"), 1, 20);
export const callIdArb = fc.tuple(wordArb, fc.option(wordArb, { nil: undefined })).map(([a, b]) => (b === undefined ? a : `${a}@${b}`));

/** An extension header value: printable, maybe non-ASCII, no CR/LF, no leading/trailing whitespace. */
const extValueArb = fc
  .tuple(str(fc.oneof(chars(ALNUM + " \t!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"), fc.constantFrom("é", "Ω", "中")), 0, 30))
  .map(([s]) => s.trim());

export interface GeneratedMessage {
  message: SipMessage;
  vias: ViaHeader[];
  from: NameAddrHeader;
  to: NameAddrHeader;
  callId: string;
  cseq: { seq: number; method: string };
  requestUri?: SipUri;
}

const methodArb = fc.oneof(fc.constantFrom("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "MESSAGE"), tokenArb);

export const messageArb: fc.Arbitrary<GeneratedMessage> = fc
  .record({
    isRequest: fc.boolean(),
    method: methodArb,
    requestUri: sipUriArb,
    status: fc.integer({ min: 100, max: 699 }),
    reason: extValueArb,
    vias: fc.array(viaArb, { minLength: 1, maxLength: 3 }),
    from: nameAddrArb,
    to: nameAddrArb,
    callId: callIdArb,
    seq: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    maxForwards: fc.integer({ min: 0, max: 255 }),
    compact: fc.boolean(),
    ext: fc.array(fc.tuple(tokenArb.map((t) => "X-" + t), extValueArb), { maxLength: 5 }),
    body: fc.uint8Array({ maxLength: 300 }),
  })
  .map((r) => {
    const c = r.compact;
    const headers: SipHeader[] = r.vias.map((v) => ({ name: c ? "v" : "Via", value: formatVia(v) }));
    headers.push({ name: "Max-Forwards", value: String(r.maxForwards) });
    headers.push({ name: c ? "f" : "From", value: formatNameAddr(r.from) });
    headers.push({ name: c ? "t" : "To", value: formatNameAddr(r.to) });
    headers.push({ name: c ? "i" : "Call-ID", value: r.callId });
    headers.push({ name: "CSeq", value: `${r.seq} ${r.method}` });
    for (const [name, value] of r.ext) headers.push({ name, value });
    const body = Buffer.from(r.body);
    if (body.length > 0) headers.push({ name: c ? "c" : "Content-Type", value: "application/octet-stream" });
    headers.push({ name: c ? "l" : "Content-Length", value: String(body.length) });
    const message: SipMessage = r.isRequest
      ? new SipRequest(r.method, formatSipUri(r.requestUri), headers, body)
      : new SipResponse(r.status, r.reason, headers, body);
    const g: GeneratedMessage = { message, vias: r.vias, from: r.from, to: r.to, callId: r.callId, cseq: { seq: r.seq, method: r.method } };
    if (r.isRequest) g.requestUri = r.requestUri;
    return g;
  });
