// Credentials as HA1 hashes only (RFC 7616 §3.4.2: H(username ":" realm ":" password)), never the password:
// one store serves SIP Digest (RFC 3261 §22, RFC 8760: MD5 and SHA-256) and PAP checks (RFC 2865 §5.2), which
// hash the password they are given the same way and compare.
//
// File format, one credential a line (htdigest with the algorithm named), '#' starts a comment:
//   username:realm:ALGORITHM:hex-HA1        e.g. alice:example.com:SHA-256:5c1f…
import { createHash, timingSafeEqual } from "node:crypto";

/** The Digest algorithms supported (RFC 3261 §22.4, RFC 8760 §2). */
export const DIGEST_ALGORITHMS = ["MD5", "SHA-256"] as const;
/** One of DIGEST_ALGORITHMS. */
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];

const HASH_OF: Record<DigestAlgorithm, string> = { MD5: "md5", "SHA-256": "sha256" };
const HEX_LENGTH: Record<DigestAlgorithm, number> = { MD5: 32, "SHA-256": 64 };

/** H(data) in lower-case hex for a digest algorithm (RFC 7616 §3.4.2). */
export function digestHash(algorithm: DigestAlgorithm, data: string): string {
  return createHash(HASH_OF[algorithm]).update(data, "utf8").digest("hex");
}

/** HA1 = H(username:realm:password) (RFC 7616 §3.4.2, RFC 2617 §3.2.2.2). */
export function computeHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return digestHash(algorithm, `${username}:${realm}:${password}`);
}

/** One line of a credentials file. */
export function credentialLine(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return `${username}:${realm}:${algorithm}:${computeHa1(algorithm, username, realm, password)}`;
}

/** A credentials file line that could not be read: `line` is its 1-based number. */
export class CredentialFileError extends Error {
  constructor(readonly line: number, message: string) {
    super(`credentials line ${line}: ${message}`);
    this.name = "CredentialFileError";
  }
}

const key = (username: string, realm: string): string => `${username}\u0000${realm.toLowerCase()}`;

/** Digest credentials by username and realm: HA1 hashes per algorithm (RFC 3261 §22.4, RFC 8760), never passwords. */
export class CredentialStore {
  /** By username and realm (realm compared case-insensitively, RFC 7542 §2.4); the realm as written hashes. */
  private readonly entries = new Map<string, { realm: string; ha1: Partial<Record<DigestAlgorithm, Buffer>> }>();

  /** Parse a credentials file's text; throws CredentialFileError naming the line. */
  static parse(text: string): CredentialStore {
    const store = new CredentialStore();
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) return;
      const fields = line.split(":");
      if (fields.length !== 4) throw new CredentialFileError(i + 1, "want username:realm:ALGORITHM:HA1");
      const [username, realm, algorithm, ha1] = fields as [string, string, string, string];
      if (username === "" || realm === "") throw new CredentialFileError(i + 1, "empty username or realm");
      if (!(DIGEST_ALGORITHMS as readonly string[]).includes(algorithm)) throw new CredentialFileError(i + 1, `algorithm '${algorithm}' is not MD5 or SHA-256`);
      const alg = algorithm as DigestAlgorithm;
      if (!new RegExp(`^[0-9a-fA-F]{${HEX_LENGTH[alg]}}$`).test(ha1)) throw new CredentialFileError(i + 1, `HA1 is not ${HEX_LENGTH[alg]} hex digits for ${alg}`);
      store.add(username, realm, alg, ha1);
    });
    return store;
  }

  /** Stores the HA1 (hex) of a username and realm for one algorithm. */
  add(username: string, realm: string, algorithm: DigestAlgorithm, ha1Hex: string): void {
    const k = key(username, realm);
    const e = this.entries.get(k) ?? { realm, ha1: {} };
    e.ha1[algorithm] = Buffer.from(ha1Hex.toLowerCase(), "hex");
    this.entries.set(k, e);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Whether any HA1 is stored for this username and realm. */
  has(username: string, realm: string): boolean {
    return this.entries.has(key(username, realm));
  }

  /** The stored HA1 (hex) for an algorithm, if any. */
  ha1(username: string, realm: string, algorithm: DigestAlgorithm): string | undefined {
    return this.entries.get(key(username, realm))?.ha1[algorithm]?.toString("hex");
  }

  /** A cleartext password (PAP) checked against the stored HA1: true, false, or undefined for an unknown user. */
  verifyPassword(username: string, realm: string, password: string): boolean | undefined {
    const e = this.entries.get(key(username, realm));
    if (!e) return undefined;
    for (const alg of ["SHA-256", "MD5"] as const) {
      const stored = e.ha1[alg];
      if (stored) return timingSafeEqual(stored, Buffer.from(computeHa1(alg, username, e.realm, password), "hex"));
    }
    return false;
  }
}
