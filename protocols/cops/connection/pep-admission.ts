// Which PEPs a PDP accepts (RFC 2748 §2.2.16, §4.1 leaves the policy to the PDP): configured PEPIDs, from
// their configured addresses, with their Integrity keys when they have some. A refused OPN gets CC Error 14.
import { ErrorCode } from "../constants.js";
import type { CopsCodePair } from "../cops-message.js";
import type { CopsIntegrityConfig } from "./integrity-session.js";
import type { CopsPdpOptions } from "./pdp-connection.js";

/** What a PDP admits a PEP by: its PEPID, source addresses and Integrity key. */
export interface CopsPepCredentials {
  pepId: string;
  /** Source addresses the PEP may connect from (any when absent). */
  addresses?: readonly string[];
  /** Its Integrity keys: when set, its every message must carry a valid Integrity object (Error 15 / 14). */
  integrity?: CopsIntegrityConfig;
}

/** What a PDP knows of a connection when it must judge its OPN. */
export interface CopsPepSource {
  address: string;
  /** True while another accepted connection holds this PEPID. */
  pepIdConnected?(pepId: string): boolean;
}

const AUTHENTICATION_FAILURE: CopsCodePair = { code: ErrorCode.AuthenticationFailure, subCode: 0 };

/** `::ffff:127.0.0.1` and `127.0.0.1` are one source. */
function plainAddress(address: string): string {
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

/**
 * The `integrityFor` and `admitPep` of a PDP connection from `source`, accepting only `peps`. A PEPID that
 * is connected elsewhere is refused unless its OPN was checked by Integrity: an unauthenticated OPN never
 * displaces the PEP that holds the PEPID.
 */
export function pepAdmission(peps: readonly CopsPepCredentials[], source: CopsPepSource): Required<Pick<CopsPdpOptions, "admitPep" | "integrityFor">> {
  const byId = new Map(peps.map((p) => [p.pepId, p]));
  const from = plainAddress(source.address);
  return {
    integrityFor: (pepId) => byId.get(pepId)?.integrity,
    admitPep: (pepId) => {
      const pep = byId.get(pepId);
      if (!pep) return AUTHENTICATION_FAILURE;
      if (pep.addresses && !pep.addresses.some((a) => plainAddress(a) === from)) return AUTHENTICATION_FAILURE;
      if (!pep.integrity && source.pepIdConnected?.(pepId)) return AUTHENTICATION_FAILURE;
      return undefined;
    },
  };
}
