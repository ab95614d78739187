// Who checks a Digest response: the local credential store (HA1), or a RADIUS server with the RFC 5090
// attributes (the password never leaves the server that holds it, and never crosses the wire).
import type { DigestCredentials } from "../../protocols/sip/codec/digest.js";
import { RadiusCode, radiusAttribute, type RadiusPacket, type RadiusRequest } from "../../protocols/radius/index.js";
import type { CredentialStore } from "./credential-store.js";
import { computeDigestResponse, digestAlgorithm, sameDigest } from "./digest-response.js";

/** Digest credentials (a Proxy-Authorization header's parameters) and the method they were computed for. */
export interface DigestRequest {
  credentials: DigestCredentials;
  /** The SIP method the credentials were computed for (A2 = method ":" uri). */
  method: string;
}

/** Why credentials were refused; `no-answer`: the RADIUS server stayed silent. */
export type DigestRefusal = "unknown-user" | "wrong-password" | "unsupported-algorithm" | "unsupported-qop" | "no-answer";

/** Credentials accepted (who and in which realm) or refused, and why. */
export type DigestVerdict = { ok: true; username: string; realm: string } | { ok: false; cause: DigestRefusal };

/** Checks Digest credentials, at once or asking a server. */
export interface DigestVerifier {
  /** Accepts or refuses the credentials. */
  verify(request: DigestRequest): DigestVerdict | Promise<DigestVerdict>;
}

/** RFC 3261 §22 with RFC 8760: MD5 or SHA-256, qop absent or auth (auth-int needs the body: refused). */
function supported(c: DigestCredentials): DigestVerdict | undefined {
  if (digestAlgorithm(c.algorithm) === undefined) return { ok: false, cause: "unsupported-algorithm" };
  if (c.qop !== undefined && c.qop.toLowerCase() !== "auth") return { ok: false, cause: "unsupported-qop" };
  return undefined;
}

/** Checks Digest responses against a local CredentialStore. */
export class LocalDigestVerifier implements DigestVerifier {
  constructor(private readonly store: CredentialStore) {}

  /** Recomputes the response from the stored HA1 and compares it in constant time. */
  verify({ credentials: c, method }: DigestRequest): DigestVerdict {
    const refusal = supported(c);
    if (refusal) return refusal;
    const algorithm = digestAlgorithm(c.algorithm)!;
    const ha1 = this.store.ha1(c.username, c.realm, algorithm);
    if (ha1 === undefined) return { ok: false, cause: this.store.has(c.username, c.realm) ? "unsupported-algorithm" : "unknown-user" };
    const expected = computeDigestResponse({
      algorithm,
      ha1,
      method,
      uri: c.uri,
      nonce: c.nonce,
      ...(c.qop !== undefined ? { qop: c.qop, nc: c.nc!, cnonce: c.cnonce! } : {}),
    });
    return sameDigest(expected, c.response) ? { ok: true, username: c.username, realm: c.realm } : { ok: false, cause: "wrong-password" };
  }
}

/** The RFC 5090 §3 Access-Request for a Digest response (with Message-Authenticator, RFC 5090 §5.1). */
export function rfc5090AccessRequest({ credentials: c, method }: DigestRequest): RadiusRequest {
  const attributes = [
    radiusAttribute("Message-Authenticator", Buffer.alloc(16)),
    radiusAttribute("User-Name", c.username),
    radiusAttribute("Digest-Response", c.response),
    radiusAttribute("Digest-Realm", c.realm),
    radiusAttribute("Digest-Nonce", c.nonce),
    radiusAttribute("Digest-Method", method),
    radiusAttribute("Digest-URI", c.uri),
    radiusAttribute("Digest-Username", c.username),
  ];
  if (c.algorithm !== undefined) attributes.push(radiusAttribute("Digest-Algorithm", c.algorithm));
  if (c.qop !== undefined) {
    attributes.push(radiusAttribute("Digest-Qop", c.qop), radiusAttribute("Digest-CNonce", c.cnonce!), radiusAttribute("Digest-Nonce-Count", c.nc!));
  }
  if (c.opaque !== undefined) attributes.push(radiusAttribute("Digest-Opaque", c.opaque));
  return { code: RadiusCode.AccessRequest, attributes };
}

/** Asks a RADIUS server (RFC 5090): Access-Accept is a valid response, Access-Reject a wrong one. */
export class RadiusDigestVerifier implements DigestVerifier {
  /** @param ask sends an Access-Request to the server and resolves with its verified answer (e.g. RadiusUdpClient.request). */
  constructor(private readonly ask: (request: RadiusRequest) => Promise<RadiusPacket>) {}

  /** Sends an RFC 5090 Access-Request; no answer refuses with `no-answer`. */
  async verify(request: DigestRequest): Promise<DigestVerdict> {
    const refusal = supported(request.credentials);
    if (refusal) return refusal;
    let answer: RadiusPacket;
    try {
      answer = await this.ask(rfc5090AccessRequest(request));
    } catch {
      return { ok: false, cause: "no-answer" };
    }
    if (answer.code === RadiusCode.AccessAccept) return { ok: true, username: request.credentials.username, realm: request.credentials.realm };
    return { ok: false, cause: "wrong-password" };
  }
}
