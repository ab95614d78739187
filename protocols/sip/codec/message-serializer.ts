// Deterministic serializer (RFC 3261 §7): start line, headers in order as "Name: value", CRLF, body.
// Content-Length is always recomputed from the body's byte length (RFC 3261 §20.14).
import { headerNameMatches } from "./header-names.js";
import { isRequest, type SipMessage } from "./sip-message.js";

/** A message's request line or status line. */
export function startLine(m: SipMessage): string {
  return isRequest(m) ? `${m.method} ${m.uri} ${m.version}` : `${m.version} ${m.status} ${m.reason}`;
}

/** Head (start line + headers + blank line) as text, with Content-Length set to `bodyLength`. */
export function serializeHead(m: SipMessage, bodyLength: number): string {
  let out = startLine(m) + "\r\n";
  let sawLength = false;
  const hs = m.headers;
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i]!;
    if (headerNameMatches(h.name, "content-length")) {
      if (sawLength) continue; // RFC 3261 §7.3.1: single-valued; keep the first only
      sawLength = true;
      out += h.name + ": " + bodyLength + "\r\n";
    } else {
      out += h.name + ": " + h.value + "\r\n";
    }
  }
  if (!sawLength) out += "Content-Length: " + bodyLength + "\r\n";
  return out + "\r\n";
}

/** A message as the bytes that go on the wire. */
export function serializeSipMessage(m: SipMessage): Buffer {
  const head = serializeHead(m, m.body.length);
  const headLen = Buffer.byteLength(head, "utf8");
  const out = Buffer.allocUnsafe(headLen + m.body.length);
  out.write(head, 0, "utf8");
  m.body.copy(out, headLen);
  return out;
}
