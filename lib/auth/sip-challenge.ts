// A proxy's challenge of callers (RFC 3261 §22.3, RFC 8760 §2.4): a request of a challenged method without
// credentials for the proxy's realm gets 407 with one Proxy-Authenticate per algorithm (SHA-256 first), a nonce
// from the NonceMachine and qop="auth"; an expired nonce gets 407 with stale=true; a replayed one (the same or a
// lower nonce-count) or malformed credentials are refused. Fresh credentials pass on to the policy server, which
// checks the response itself (DigestPolicyAdapter). Sans-I/O: time is given.
import type { SipRequest } from "../../protocols/sip/codec/sip-message.js";
import { SipParseError } from "../../protocols/sip/codec/sip-parse-error.js";
import { formatDigestChallenge, parseDigestCredentials, type DigestCredentials } from "../../protocols/sip/codec/digest.js";
import type { DigestAlgorithm } from "./credential-store.js";
import { digestAlgorithm } from "./digest-response.js";
import type { NonceMachine } from "./nonce-machine.js";

/** What SipChallenger.check decides for a request. */
export type ChallengeOutcome =
  | { kind: "pass"; /** The credentials for this realm, for REQ AAA (TLV 8). */ proxyAuthorization?: string; username?: string }
  | { kind: "challenge"; status: 407; reason: string; headers: { name: string; value: string }[]; cause: string }
  | { kind: "refuse"; status: 400 | 403; reason: string; cause: string };

/** Realm, nonce source, algorithms and challenged methods of a SipChallenger. */
export interface SipChallengerOptions {
  realm: string;
  nonces: NonceMachine;
  /** Offered in this order (default SHA-256, then MD5). */
  algorithms?: readonly DigestAlgorithm[];
  /** Methods that need credentials (default INVITE). */
  methods?: readonly string[];
}

/** Challenges SIP requests for Digest credentials (RFC 3261 §22.3): 407 with Proxy-Authenticate, nonces from a NonceMachine. */
export class SipChallenger {
  private readonly algorithms: readonly DigestAlgorithm[];
  private readonly methods: ReadonlySet<string>;

  constructor(private readonly options: SipChallengerOptions) {
    this.algorithms = options.algorithms ?? ["SHA-256", "MD5"];
    this.methods = new Set(options.methods ?? ["INVITE"]);
  }

  get realm(): string {
    return this.options.realm;
  }

  /** Judges a request at `now` (ms): pass it with its credentials, challenge it (407), or refuse it (400/403). */
  check(now: number, request: SipRequest): ChallengeOutcome {
    if (!this.methods.has(request.method)) return { kind: "pass" };
    let ours: { value: string; credentials: DigestCredentials } | undefined;
    for (const value of request.getHeaders("Proxy-Authorization")) {
      let credentials: DigestCredentials;
      try {
        credentials = parseDigestCredentials(value);
      } catch (err) {
        if (!(err instanceof SipParseError)) throw err;
        // Another scheme may be for another proxy; malformed Digest is refused (RFC 3261 §22.3 leaves it to us).
        if (/^\s*digest\b/i.test(value)) return { kind: "refuse", status: 400, reason: "Malformed Proxy-Authorization", cause: "malformed-credentials" };
        continue;
      }
      if (credentials.realm === this.options.realm) {
        ours = { value, credentials };
        break;
      }
    }
    if (!ours) return this.challenge(now, false, "no-credentials");
    const c = ours.credentials;
    if (digestAlgorithm(c.algorithm) === undefined || !this.algorithms.includes(digestAlgorithm(c.algorithm)!)) return this.challenge(now, false, "unsupported-algorithm");
    if (c.qop === undefined || c.qop.toLowerCase() !== "auth") return this.challenge(now, false, "qop-required");
    switch (this.options.nonces.check(now, c.nonce, c.nc)) {
      case "ok":
        return { kind: "pass", proxyAuthorization: ours.value, username: c.username };
      case "stale":
        return this.challenge(now, true, "stale-nonce");
      case "unknown":
        return this.challenge(now, false, "unknown-nonce");
      case "replay":
        return { kind: "refuse", status: 403, reason: "Forbidden", cause: "nonce-replay" };
    }
  }

  private challenge(now: number, stale: boolean, cause: string): ChallengeOutcome {
    const nonce = this.options.nonces.issue(now);
    return {
      kind: "challenge",
      status: 407,
      reason: "Proxy Authentication Required",
      cause,
      headers: this.algorithms.map((algorithm) => ({
        name: "Proxy-Authenticate",
        value: formatDigestChallenge({ realm: this.options.realm, nonce, algorithm, qop: ["auth"], ...(stale ? { stale: true } : {}) }),
      })),
    };
  }
}
