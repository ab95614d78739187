// SDP (RFC 4566 §5) parser and writer. Strict: line order, field counts and value grammar as §5 gives them;
// a fault throws SdpParseError naming the line, its byte offset and the rule. Lines may end in CRLF or in a
// bare LF (§5: parsers should accept both); the writer uses CRLF.
import { SdpEncodeError, SdpParseError, type SdpParseErrorCode } from "./errors.js";
import type { SdpAttribute, SdpBandwidth, SdpConnection, SdpMedia, SdpOrigin, SessionDescription } from "./model.js";

/** Largest description accepted (bytes) and most lines: far above any offer a phone sends. */
export const SDP_MAX_LENGTH = 65_536;
/** Most lines the parser accepts in one description. */
export const SDP_MAX_LINES = 2_048;

const TOKEN = /^[A-Za-z0-9!#$%&'*+\-.^_`{|}~]+$/;
const DIGITS = /^\d+$/;
const SAFE_DIGITS = /^\d{1,15}$/;
const REPEAT_FIELD = /^\d+[dhms]?$/;
const ZONE = /^-?\d+[dhms]?$/;
// RFC 4566 §5: text is any byte but NUL, CR, LF.
const TEXT_FORBIDDEN = /[\0\r\n]/;

const utf8 = new TextDecoder("utf-8", { fatal: true });

// Session-level order (RFC 4566 §5): v o s i u e p c b (t r)+ z k a, then media sections m i c b k a.
const SESSION_RANK: Record<string, number> = { v: 0, o: 1, s: 2, i: 3, u: 4, e: 5, p: 6, c: 7, b: 8, t: 9, r: 9, z: 10, k: 11, a: 12 };
const SESSION_REPEATS = new Set(["e", "p", "b", "t", "r", "a"]);
const MEDIA_RANK: Record<string, number> = { i: 1, c: 2, b: 3, k: 4, a: 5 };
const MEDIA_REPEATS = new Set(["c", "b", "a"]);

class LineReader {
  line = 0;
  start = 0;
  constructor(readonly text: string) {}
  fail(code: SdpParseErrorCode, message: string, at = this.start): never {
    throw new SdpParseError(code, Buffer.byteLength(this.text.substring(0, at), "utf8"), this.line, message);
  }
}

/** The text of a description's bytes: at most SDP_MAX_LENGTH of them, UTF-8 (RFC 4566 §5). Throws SdpParseError. */
export function sdpText(input: Buffer): string {
  if (input.length > SDP_MAX_LENGTH) throw new SdpParseError("too-large", SDP_MAX_LENGTH, 0, `${input.length} bytes, more than ${SDP_MAX_LENGTH}`);
  try {
    return utf8.decode(input);
  } catch {
    throw new SdpParseError("bad-encoding", 0, 0, "not UTF-8");
  }
}

/** Parse a session description from its bytes (UTF-8) or text. Throws SdpParseError only. */
export function parseSdp(input: Buffer | string): SessionDescription {
  const text = typeof input === "string" ? input : sdpText(input);
  if (text.length > SDP_MAX_LENGTH) throw new SdpParseError("too-large", SDP_MAX_LENGTH, 0, `${text.length} characters, more than ${SDP_MAX_LENGTH}`);
  const r: LineReader = new LineReader(text);
  let origin: SdpOrigin | undefined;
  let sessionName: string | undefined;
  let sawVersion = false;
  const sd: Omit<SessionDescription, "origin" | "sessionName"> = { emails: [], phones: [], bandwidths: [], timing: [], attributes: [], media: [] };
  let media: SdpMedia | undefined;
  let rank = -1;
  let prevType = "";
  let pos = 0;
  let sawEmptyLast = false;
  while (pos < text.length) {
    let eol = text.indexOf("\n", pos);
    if (eol < 0) eol = text.length;
    const end = eol > pos && text.charCodeAt(eol - 1) === 13 ? eol - 1 : eol;
    r.start = pos;
    r.line++;
    if (r.line > SDP_MAX_LINES) r.fail("too-large", `more than ${SDP_MAX_LINES} lines`);
    const line = text.substring(pos, end);
    pos = eol + 1;
    if (line.length === 0) {
      // Only a trailing empty line (an extra CRLF at the end of the body) is tolerated.
      sawEmptyLast = true;
      continue;
    }
    if (sawEmptyLast) r.fail("bad-line", "empty line inside the description", r.start - 1);
    if (line.length < 2 || line.charCodeAt(1) !== 61) r.fail("bad-line", "not <type>=<value>");
    const type = line.charAt(0);
    const value = line.substring(2);
    if (TEXT_FORBIDDEN.test(value)) r.fail("bad-encoding", "NUL or CR inside a line");
    if (type < "a" || type > "z") r.fail("bad-line", `type ${JSON.stringify(type)} is not a lowercase letter`);
    if (!sawVersion && type !== "v") r.fail("missing-line", "a description starts with v=");
    if (type === "m") {
      media = parseMedia(r, value);
      sd.media.push(media);
      rank = 0;
      prevType = "m";
      continue;
    }
    if (media === undefined) {
      const next = SESSION_RANK[type];
      if (next === undefined) r.fail("unknown-type", `${type}= is not a session-level line of RFC 4566`);
      if (next < rank || (next === rank && !(SESSION_REPEATS.has(type) && (type !== "r" || prevType === "t" || prevType === "r"))) || (type === "r" && prevType !== "t" && prevType !== "r")) {
        r.fail("bad-order", `${type}= out of order after ${prevType}=`);
      }
      if (next > SESSION_RANK.s! && sessionName === undefined) r.fail("missing-line", "v=, o= and s= come first");
      if (next > SESSION_RANK.r! && sd.timing.length === 0) r.fail("missing-line", "no t= before this line");
      rank = next;
      prevType = type;
      switch (type) {
        case "v":
          if (value !== "0") r.fail("bad-version", `v=${value}, only 0 is defined`);
          sawVersion = true;
          break;
        case "o":
          origin = parseOrigin(r, value);
          break;
        case "s":
          if (origin === undefined) r.fail("missing-line", "o= comes before s=");
          if (value.length === 0) r.fail("bad-line", "s= is empty (a single space when there is no name)");
          sessionName = value;
          break;
        case "i":
          sd.information = value;
          break;
        case "u":
          sd.uri = nonEmpty(r, value, "u=");
          break;
        case "e":
          sd.emails.push(nonEmpty(r, value, "e="));
          break;
        case "p":
          sd.phones.push(nonEmpty(r, value, "p="));
          break;
        case "c":
          sd.connection = parseConnection(r, value);
          break;
        case "b":
          sd.bandwidths.push(parseBandwidth(r, value));
          break;
        case "t": {
          const f = value.split(" ");
          if (f.length !== 2 || !DIGITS.test(f[0]!) || !DIGITS.test(f[1]!)) r.fail("bad-timing", "t= needs <start> <stop> in decimal");
          sd.timing.push({ start: f[0]!, stop: f[1]!, repeats: [] });
          break;
        }
        case "r": {
          const f = value.split(" ");
          if (f.length < 3 || !f.every((x) => REPEAT_FIELD.test(x))) r.fail("bad-timing", "r= needs <interval> <duration> <offsets>...");
          sd.timing[sd.timing.length - 1]!.repeats.push(value);
          break;
        }
        case "z": {
          const f = value.split(" ");
          if (f.length % 2 !== 0 || !f.every((x, i) => (i % 2 === 0 ? DIGITS.test(x) : ZONE.test(x)))) r.fail("bad-timing", "z= needs <adjustment time> <offset> pairs");
          sd.zone = value;
          break;
        }
        case "k":
          sd.key = nonEmpty(r, value, "k=");
          break;
        case "a":
          sd.attributes.push(parseAttribute(r, value));
          break;
      }
      continue;
    }
    const next = MEDIA_RANK[type];
    if (next === undefined) r.fail("unknown-type", `${type}= is not a media-level line of RFC 4566`);
    if (next < rank || (next === rank && !MEDIA_REPEATS.has(type))) r.fail("bad-order", `${type}= out of order after ${prevType}=`);
    rank = next;
    prevType = type;
    switch (type) {
      case "i":
        media.information = value;
        break;
      case "c":
        media.connections.push(parseConnection(r, value));
        break;
      case "b":
        media.bandwidths.push(parseBandwidth(r, value));
        break;
      case "k":
        media.key = nonEmpty(r, value, "k=");
        break;
      case "a":
        media.attributes.push(parseAttribute(r, value));
        break;
    }
  }
  r.start = text.length;
  if (!sawVersion) r.fail("missing-line", "no v= line");
  if (origin === undefined || sessionName === undefined) r.fail("missing-line", "no o= or s= line");
  if (sd.timing.length === 0) r.fail("missing-line", "no t= line");
  // RFC 4566 §5.7: a c= at session level or in every media section (a rejected stream, port 0, may omit it).
  if (sd.connection === undefined) {
    const bare = sd.media.findIndex((m) => m.connections.length === 0 && m.port !== 0);
    if (bare >= 0) r.fail("missing-line", `media section ${bare + 1} has no c= and the session has none`);
  }
  return { origin, sessionName, ...sd };
}

function nonEmpty(r: LineReader, value: string, what: string): string {
  if (value.length === 0) r.fail("bad-line", `${what} is empty`);
  return value;
}

function fields(r: LineReader, value: string, code: SdpParseErrorCode, n: number, what: string): string[] {
  const f = value.split(" ");
  if (f.length !== n || f.some((x) => x.length === 0)) r.fail(code, `${what}: ${n} fields separated by single spaces`);
  return f;
}

function parseOrigin(r: LineReader, value: string): SdpOrigin {
  const [username, sessionId, sessionVersion, netType, addrType, address] = fields(r, value, "bad-origin", 6, "o= <username> <sess-id> <sess-version> <nettype> <addrtype> <address>");
  if (!DIGITS.test(sessionId!) || !DIGITS.test(sessionVersion!)) r.fail("bad-origin", "o= session id and version are decimal");
  if (!TOKEN.test(netType!) || !TOKEN.test(addrType!)) r.fail("bad-origin", "o= nettype and addrtype are tokens");
  return { username: username!, sessionId: sessionId!, sessionVersion: sessionVersion!, netType: netType!, addrType: addrType!, address: address! };
}

function parseConnection(r: LineReader, value: string): SdpConnection {
  const [netType, addrType, address] = fields(r, value, "bad-connection", 3, "c= <nettype> <addrtype> <connection-address>");
  if (!TOKEN.test(netType!) || !TOKEN.test(addrType!)) r.fail("bad-connection", "c= nettype and addrtype are tokens");
  return { netType: netType!, addrType: addrType!, address: address! };
}

function parseBandwidth(r: LineReader, value: string): SdpBandwidth {
  const colon = value.indexOf(":");
  const type = value.substring(0, colon);
  const amount = value.substring(colon + 1);
  if (colon <= 0 || !TOKEN.test(type) || !SAFE_DIGITS.test(amount)) r.fail("bad-bandwidth", "b= <bwtype>:<bandwidth> with a decimal bandwidth");
  return { type, value: Number(amount) };
}

function parseAttribute(r: LineReader, value: string): SdpAttribute {
  const colon = value.indexOf(":");
  const name = colon < 0 ? value : value.substring(0, colon);
  if (!TOKEN.test(name)) r.fail("bad-attribute", `a= name ${JSON.stringify(name)} is not a token`);
  return colon < 0 ? { name } : { name, value: value.substring(colon + 1) };
}

function isRtpProfile(proto: string): boolean {
  return proto.startsWith("RTP/") || proto.includes("/RTP/");
}

function parseMedia(r: LineReader, value: string): SdpMedia {
  const f = value.split(" ");
  if (f.length < 4 || f.some((x) => x.length === 0)) r.fail("bad-media", "m= <media> <port>[/<number of ports>] <proto> <fmt> ... (at least one format)");
  const [type, portText, proto] = f as [string, string, string];
  if (!TOKEN.test(type)) r.fail("bad-media", "m= media is a token");
  const slash = portText.indexOf("/");
  const port = Number(slash < 0 ? portText : portText.substring(0, slash));
  if (!DIGITS.test(slash < 0 ? portText : portText.substring(0, slash)) || port > 65535) r.fail("bad-media", `m= port ${portText} is not 0-65535`);
  let portCount: number | undefined;
  if (slash >= 0) {
    const n = portText.substring(slash + 1);
    if (!DIGITS.test(n) || Number(n) < 1 || n.length > 5) r.fail("bad-media", `m= number of ports ${n} is not a positive integer`);
    portCount = Number(n);
  }
  if (!/^[A-Za-z0-9!#$%&'*+\-.^_`{|}~/]+$/.test(proto)) r.fail("bad-media", "m= proto is tokens separated by /");
  const formats = f.slice(3);
  if (isRtpProfile(proto)) {
    for (const fmt of formats) if (!DIGITS.test(fmt) || fmt.length > 3 || Number(fmt) > 127) r.fail("bad-media", `m= format ${fmt} is not an RTP payload type (0-127)`);
  }
  const m: SdpMedia = { media: type, port, proto, formats, connections: [], bandwidths: [], attributes: [] };
  if (portCount !== undefined) m.portCount = portCount;
  return m;
}

// ---- writer ----

function text(value: string, what: string): string {
  if (TEXT_FORBIDDEN.test(value)) throw new SdpEncodeError(`${what} holds NUL, CR or LF`);
  return value;
}

function word(value: string, what: string): string {
  if (value.length === 0 || value.includes(" ") || TEXT_FORBIDDEN.test(value)) throw new SdpEncodeError(`${what} ${JSON.stringify(value)} is empty or has a space`);
  return value;
}

function connectionLine(c: SdpConnection): string {
  return `c=${word(c.netType, "c= nettype")} ${word(c.addrType, "c= addrtype")} ${word(c.address, "c= address")}\r\n`;
}

function bandwidthLine(b: SdpBandwidth): string {
  if (!Number.isSafeInteger(b.value) || b.value < 0) throw new SdpEncodeError(`b=${b.type}: ${b.value} is not a non-negative integer`);
  return `b=${word(b.type, "b= type")}:${b.value}\r\n`;
}

function attributeLine(a: SdpAttribute): string {
  if (!TOKEN.test(a.name)) throw new SdpEncodeError(`a= name ${JSON.stringify(a.name)} is not a token`);
  return a.value === undefined ? `a=${a.name}\r\n` : `a=${a.name}:${text(a.value, `a=${a.name} value`)}\r\n`;
}

/** Write a session description (CRLF line ends). Throws SdpEncodeError for a model SDP cannot carry. */
export function serializeSdp(sd: SessionDescription): string {
  const o = sd.origin;
  if (sd.sessionName.length === 0) throw new SdpEncodeError("s= is empty");
  if (sd.timing.length === 0) throw new SdpEncodeError("no t= line");
  let out = `v=0\r\no=${word(o.username, "o= username")} ${word(o.sessionId, "o= sess-id")} ${word(o.sessionVersion, "o= sess-version")} ${word(o.netType, "o= nettype")} ${word(o.addrType, "o= addrtype")} ${word(o.address, "o= address")}\r\n`;
  out += `s=${text(sd.sessionName, "s=")}\r\n`;
  if (sd.information !== undefined) out += `i=${text(sd.information, "i=")}\r\n`;
  if (sd.uri !== undefined) out += `u=${text(sd.uri, "u=")}\r\n`;
  for (const e of sd.emails) out += `e=${text(e, "e=")}\r\n`;
  for (const p of sd.phones) out += `p=${text(p, "p=")}\r\n`;
  if (sd.connection !== undefined) out += connectionLine(sd.connection);
  for (const b of sd.bandwidths) out += bandwidthLine(b);
  for (const t of sd.timing) {
    out += `t=${word(t.start, "t= start")} ${word(t.stop, "t= stop")}\r\n`;
    for (const rep of t.repeats) out += `r=${text(rep, "r=")}\r\n`;
  }
  if (sd.zone !== undefined) out += `z=${text(sd.zone, "z=")}\r\n`;
  if (sd.key !== undefined) out += `k=${text(sd.key, "k=")}\r\n`;
  for (const a of sd.attributes) out += attributeLine(a);
  for (const m of sd.media) {
    if (m.formats.length === 0) throw new SdpEncodeError(`m=${m.media} has no formats (RFC 4566 §5.14 needs one or more)`);
    if (!Number.isInteger(m.port) || m.port < 0 || m.port > 65535) throw new SdpEncodeError(`m=${m.media} port ${m.port} is not 0-65535`);
    const port = m.portCount === undefined ? String(m.port) : `${m.port}/${m.portCount}`;
    out += `m=${word(m.media, "m= media")} ${port} ${word(m.proto, "m= proto")} ${m.formats.map((f) => word(f, "m= format")).join(" ")}\r\n`;
    if (m.information !== undefined) out += `i=${text(m.information, "i=")}\r\n`;
    for (const c of m.connections) out += connectionLine(c);
    for (const b of m.bandwidths) out += bandwidthLine(b);
    if (m.key !== undefined) out += `k=${text(m.key, "k=")}\r\n`;
    for (const a of m.attributes) out += attributeLine(a);
  }
  return out;
}
