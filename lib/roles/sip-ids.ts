// Branch and tag values for the roles: unique from a prefix and a counter, so a busy proxy does not pay for a
// CSPRNG call per message. RFC 3261 §8.1.1.7 (branch magic cookie), §19.3 (tags). A flow passes each role an
// id source seeded from the run's seed, so a run repeats byte for byte; without one a role draws its prefix
// from node:crypto.
import { randomBytes } from "node:crypto";

/** Branch and tag values for the roles: a prefix (seeded or random) and a counter. */
export class SipIds {
  private readonly prefix: string;
  private readonly tagPrefix: string;
  private counter = 0;

  /** `random` in [0, 1): a seeded generator for repeatable runs; omitted, the prefix comes from node:crypto. */
  constructor(random?: () => number) {
    if (random) {
      let hex = "";
      for (let i = 0; i < 3; i++) hex += Math.floor(random() * 0x10000).toString(16).padStart(4, "0");
      this.prefix = hex;
    } else this.prefix = randomBytes(6).toString("hex");
    this.tagPrefix = this.prefix.slice(0, 8);
  }

  /** A new Via branch, starting with the magic cookie z9hG4bK (RFC 3261 §8.1.1.7). */
  nextBranch(): string {
    return `z9hG4bK${this.prefix}${(this.counter++).toString(36)}`;
  }

  /** nextBranch() without its magic cookie (a proxy core that writes the cookie itself). */
  nextBranchSuffix(): string {
    return `${this.prefix}${(this.counter++).toString(36)}`;
  }

  /** A new From/To tag (RFC 3261 §19.3). */
  nextTag(): string {
    return `${this.tagPrefix}${(this.counter++).toString(36)}`;
  }
}
