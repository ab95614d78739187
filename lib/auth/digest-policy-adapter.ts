// The policy server's side of caller authentication: REQ AAA brings the INVITE's Proxy-Authorization (ClientSI
// TLV 8); this adapter checks it with a DigestVerifier (the local HA1 store, or RADIUS with RFC 5090) before the
// wrapped policy decides. A caller without valid credentials is refused with 403 (RFC 3261 §22.3: the proxy
// already challenged it with 407). Nonce freshness and replays are the challenging proxy's (NonceMachine).
import type { AaaQuery, AaaVerdict, CallSide, ClassChoice, ClassQuery, Decision, PolicyAdapter, PolicyWireAnswer, ProgressObservation, ProgressVerdict, UsageObservation } from "../adapters/policy-adapter.js";
import { isPendingDecision, isWireDecision } from "../adapters/policy-adapter.js";
import { parseDigestCredentials, type DigestCredentials } from "../../protocols/sip/codec/digest.js";
import { SipParseError } from "../../protocols/sip/codec/sip-parse-error.js";
import type { DigestVerdict, DigestVerifier } from "./digest-verifier.js";

/** Realm, sides and verifier of a DigestPolicyAdapter. */
export interface DigestPolicyOptions {
  /** The realm the proxy challenges with; credentials for another realm are refused. */
  realm: string;
  /** Which side's calls need credentials (default: the originating side's, where the caller is). */
  sides?: readonly AaaQuery["side"][];
  /** Refuse a caller whose From user is not the authenticated username (default false). */
  bindCaller?: boolean;
  /** Every refusal, with its cause (for logs and metrics). */
  onRefusal?: (callId: string, cause: string) => void;
  /**
   * Password guessing: after this many wrong responses for one username within `lockoutMs`, that username is
   * refused without asking the verifier until `lockoutMs` after the last one (default 5; 0 turns it off).
   */
  maxFailures?: number;
  lockoutMs?: number;
}

/** Usernames whose failures are tracked at once (the oldest forgotten first). */
const MAX_TRACKED = 10_000;

const refuse = (reason: string): AaaVerdict => ({ allow: false, sipStatus: 403, reason });

/** The user part of a SIP URI ("sip:alice@example.com" → "alice"), if any. */
function userOf(uri: string): string | undefined {
  const m = /^sips?:([^@;?]+)@/i.exec(uri.replace(/^.*</, ""));
  return m?.[1];
}

export class DigestPolicyAdapter implements PolicyAdapter {
  readonly decodeAnswer?: (bytes: Buffer, from: string) => PolicyWireAnswer;
  /** Wrong responses per username: how many, and when the last came. */
  private readonly failures = new Map<string, { count: number; last: number }>();

  constructor(
    private readonly inner: PolicyAdapter,
    private readonly verifier: DigestVerifier,
    private readonly options: DigestPolicyOptions,
  ) {
    if (inner.decodeAnswer) this.decodeAnswer = inner.decodeAnswer.bind(inner);
  }

  decideAaa(q: AaaQuery): Decision<AaaVerdict> {
    if (!(this.options.sides ?? ["originating"]).includes(q.side)) return this.inner.decideAaa(q);
    if (q.proxyAuthorization === undefined) return this.refused(q, "no credentials");
    let credentials: DigestCredentials;
    try {
      credentials = parseDigestCredentials(q.proxyAuthorization);
    } catch (err) {
      if (err instanceof SipParseError) return this.refused(q, `malformed credentials (${err.detail})`);
      throw err;
    }
    if (credentials.realm !== this.options.realm) return this.refused(q, `credentials for realm '${credentials.realm}'`);
    if (this.options.bindCaller && userOf(q.caller) !== credentials.username) return this.refused(q, `caller is not '${credentials.username}'`);
    if (this.lockedOut(credentials.username, q.now)) return this.refused(q, "too many wrong passwords");
    const verdict = this.verifier.verify({ credentials, method: "INVITE" });
    if (!isPendingDecision<DigestVerdict>(verdict)) return this.after(q, verdict, credentials.username);
    return Promise.resolve(verdict).then((v) => {
      const next = this.after(q, v, credentials.username);
      if (isWireDecision(next)) return refuse("the policy behind RADIUS authentication must not decide on the wire");
      return next;
    });
  }

  private after(q: AaaQuery, v: DigestVerdict, username: string): Decision<AaaVerdict> {
    if (v.ok) {
      this.failures.delete(username);
      return this.inner.decideAaa(q);
    }
    if (v.cause === "wrong-password") this.failed(username, q.now);
    return this.refused(q, v.cause);
  }

  private lockedOut(username: string, now: number): boolean {
    const max = this.options.maxFailures ?? 5;
    const f = this.failures.get(username);
    if (max <= 0 || !f) return false;
    if (now - f.last > (this.options.lockoutMs ?? 60_000)) {
      this.failures.delete(username);
      return false;
    }
    return f.count >= max;
  }

  private failed(username: string, now: number): void {
    const f = this.failures.get(username);
    this.failures.delete(username);
    if (this.failures.size >= MAX_TRACKED) this.failures.delete(this.failures.keys().next().value as string);
    this.failures.set(username, { count: (f?.count ?? 0) + 1, last: now });
  }

  private refused(q: AaaQuery, cause: string): AaaVerdict {
    this.options.onRefusal?.(q.callId, cause);
    return refuse(`authentication failed: ${cause}`);
  }

  chooseClass(q: ClassQuery): Decision<ClassChoice> {
    return this.inner.chooseClass(q);
  }

  observeUsage(u: UsageObservation): void | PromiseLike<void> {
    return this.inner.observeUsage(u);
  }

  /** The inner adapter's watch of calls in progress (an octet quota), passed through. */
  get progressIntervalS(): number | undefined {
    return this.inner.progressIntervalS;
  }

  observeProgress(p: ProgressObservation): ProgressVerdict | PromiseLike<ProgressVerdict> | void {
    return this.inner.observeProgress?.(p);
  }

  /** The call's request state ended: passed through (a realm capacity policy inside frees its port). */
  callEnded(c: { callId: string; side: CallSide; now: number }): void {
    this.inner.callEnded?.(c);
  }
}
