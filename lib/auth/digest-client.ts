// The caller's side of Digest (RFC 3261 §22.2, §22.3; RFC 7616 §3.4; RFC 8760 §2.4): a 401 or 407 to a request is
// answered by the same request again with Authorization or Proxy-Authorization. Of the challenges offered, the
// first whose algorithm the caller accepts is taken (RFC 8760 §2.4: a server lists its preferred first); with
// qop="auth" offered the response uses it, with a fresh cnonce and nonce-count 1 (each challenge is a new nonce).
// Sans-I/O: the cnonce source is given.
import type { SipHeader, SipRequest, SipResponse } from "../../protocols/sip/codec/sip-message.js";
import { SipParseError } from "../../protocols/sip/codec/sip-parse-error.js";
import { formatDigestCredentials, parseDigestChallenge, type DigestChallenge } from "../../protocols/sip/codec/digest.js";
import { computeHa1, type DigestAlgorithm } from "./credential-store.js";
import { computeDigestResponse, digestAlgorithm } from "./digest-response.js";

/** A caller's account: username and password, and the algorithms it accepts (default SHA-256 and MD5). */
export interface CallerCredentials {
  username: string;
  password: string;
  algorithms?: readonly DigestAlgorithm[];
}

/** The challenges a 401/407 offers, in order: the header that answers them and each challenge parsed. */
function challengesOf(response: SipResponse): { answer: string; challenges: DigestChallenge[] } | undefined {
  const [header, answer] = response.status === 407 ? ["Proxy-Authenticate", "Proxy-Authorization"] : response.status === 401 ? ["WWW-Authenticate", "Authorization"] : [];
  if (header === undefined || answer === undefined) return undefined;
  const challenges: DigestChallenge[] = [];
  for (const value of response.getHeaders(header)) {
    try {
      challenges.push(parseDigestChallenge(value, header));
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err; // another scheme, or malformed: not one to answer
    }
  }
  return { answer, challenges };
}

/**
 * The header that answers `response` (a 401 or 407 to `request`) for these credentials, or undefined when no
 * challenge offers an algorithm they accept (or none is Digest). `cnonce` draws the client nonce.
 */
export function answerDigestChallenge(response: SipResponse, request: SipRequest, credentials: CallerCredentials, cnonce: () => string): SipHeader | undefined {
  const offered = challengesOf(response);
  if (!offered) return undefined;
  const accepted = credentials.algorithms ?? ["SHA-256", "MD5"];
  for (const challenge of offered.challenges) {
    const algorithm = digestAlgorithm(challenge.algorithm);
    if (algorithm === undefined || !accepted.includes(algorithm)) continue;
    const qop = challenge.qop?.some((q) => q.toLowerCase() === "auth") ? "auth" : undefined;
    if (challenge.qop !== undefined && qop === undefined) continue; // only auth-int offered (RFC 7616 §3.3)
    const uri = request.uri;
    const base = {
      username: credentials.username,
      realm: challenge.realm,
      nonce: challenge.nonce,
      uri,
      ...(challenge.algorithm !== undefined ? { algorithm: challenge.algorithm } : {}),
      ...(challenge.opaque !== undefined ? { opaque: challenge.opaque } : {}),
    };
    const withQop = qop !== undefined ? { qop, nc: "00000001", cnonce: cnonce() } : {};
    const ha1 = computeHa1(algorithm, credentials.username, challenge.realm, credentials.password);
    const response = computeDigestResponse({ algorithm, ha1, method: request.method, uri, nonce: challenge.nonce, ...withQop });
    return { name: offered.answer, value: formatDigestCredentials({ ...base, ...withQop, response }) };
  }
  return undefined;
}
