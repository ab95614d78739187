// Caller authentication as one setting of a deployment: the realm SIP1 challenges with, and where POL1 checks
// the answers (a credentials file of HA1 hashes, or a RADIUS server speaking RFC 5090). Built once per process.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { PolicyAdapter } from "../adapters/policy-adapter.js";
import { RadiusUdpClient, type RadiusEndpoint } from "../../protocols/radius/index.js";
import { CredentialStore, DIGEST_ALGORITHMS, type DigestAlgorithm } from "./credential-store.js";
import { DigestPolicyAdapter } from "./digest-policy-adapter.js";
import { LocalDigestVerifier, RadiusDigestVerifier, type DigestVerifier } from "./digest-verifier.js";
import { NonceMachine } from "./nonce-machine.js";
import { SipChallenger } from "./sip-challenge.js";

/** Caller authentication settings: the realm and where credentials are checked (a file or RADIUS). */
export interface CallerAuthOptions {
  realm: string;
  /** A credentials file (username:realm:ALGORITHM:HA1 lines). */
  credentials?: string;
  /** A RADIUS server that checks Digest responses (RFC 5090). */
  radius?: RadiusEndpoint & { secret: string };
  /** Offered in this order (default SHA-256, MD5: RFC 8760 §2.4). */
  algorithms?: DigestAlgorithm[];
  /** How long a nonce may be used (default 5 minutes). */
  nonceLifetimeMs?: number;
  /** Every refusal at the policy server, with its cause. */
  onRefusal?: (callId: string, cause: string) => void;
}

/** Caller authentication, built: the proxy's challenger and the policy wrapper that checks credentials. */
export interface CallerAuthentication {
  readonly realm: string;
  /** For SIP1: 407 to callers without fresh credentials. */
  readonly challenger: SipChallenger;
  /** For POL1: the policy, with the credentials checked first. */
  wrap(policy: PolicyAdapter): PolicyAdapter;
  /** Releases the RADIUS client, if any. */
  close(): Promise<void>;
}

/** Checks `auth` (realm, exactly one of credentials and radius, algorithms) and builds it; throws naming the setting. */
export async function startCallerAuthentication(auth: CallerAuthOptions): Promise<CallerAuthentication> {
  if (auth.realm === "" || /["\\\r\n]/.test(auth.realm)) throw new Error(`auth realm '${auth.realm}' is empty or holds a quote, backslash or line break`);
  if ((auth.credentials === undefined) === (auth.radius === undefined)) throw new Error("auth needs either a credentials file or a RADIUS server (not both)");
  for (const a of auth.algorithms ?? []) if (!DIGEST_ALGORITHMS.includes(a)) throw new Error(`auth algorithm '${String(a)}' is not MD5 or SHA-256`);
  let verifier: DigestVerifier;
  let client: RadiusUdpClient | undefined;
  if (auth.credentials !== undefined) {
    let store: CredentialStore;
    try {
      store = CredentialStore.parse(readFileSync(auth.credentials, "utf8"));
    } catch (err) {
      throw new Error(`credentials ${auth.credentials}: ${err instanceof Error ? err.message : String(err)}`);
    }
    verifier = new LocalDigestVerifier(store);
  } else {
    const server = auth.radius!;
    client = await RadiusUdpClient.open({ secret: server.secret });
    const c = client;
    verifier = new RadiusDigestVerifier((request) => c.request({ address: server.address, port: server.port }, request));
  }
  const challenger = new SipChallenger({
    realm: auth.realm,
    nonces: new NonceMachine({ secret: randomBytes(32), randomBytes, ...(auth.nonceLifetimeMs !== undefined ? { lifetimeMs: auth.nonceLifetimeMs } : {}) }),
    ...(auth.algorithms ? { algorithms: auth.algorithms } : {}),
  });
  return {
    realm: auth.realm,
    challenger,
    wrap: (policy) => new DigestPolicyAdapter(policy, verifier, { realm: auth.realm, ...(auth.onRefusal ? { onRefusal: auth.onRefusal } : {}) }),
    close: async () => {
      await client?.close();
    },
  };
}
