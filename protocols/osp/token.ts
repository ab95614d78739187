// OSP authorisation tokens: TokenInfo XML, optionally wrapped in PKCS#7 SignedData (TS 101 321 tokens).
import type { OspTokenInfo } from "./model.js";

/** The clearinghouse's signing identity, PEM encoded. */
export interface OspTokenSigner {
  privateKeyPem: string;
  certificatePem: string;
}

export type OspTokenRefusal =
  | "malformed"
  | "unsigned-not-allowed"
  | "bad-signature"
  | "untrusted-signer"
  | "expired"
  | "not-yet-valid"
  | "wrong-call-id"
  | "wrong-destination"
  | "replayed";

export type OspTokenVerdict =
  | { ok: true; info: OspTokenInfo; signed: boolean }
  | { ok: false; reason: OspTokenRefusal; detail: string };

export interface OspTokenValidatorOptions {
  /** Trusted CA certificates (PEM); a signed token's signer must chain to one of them. */
  caCertificatesPem: string[];
  /** Accept tokens that are bare TokenInfo XML (default false). */
  allowUnsigned?: boolean;
  /** Tolerated clock difference in ms on both ends of the validity window (default 60 s). */
  clockSkewMs?: number;
}

/** What the checking side expects the token to be for. */
export interface OspTokenExpectation {
  callId: Buffer;
  /** Called number / destination the call goes to; compared with TokenInfo's DestinationInfo values when given. */
  destination?: string;
}

export function createOspToken(_info: OspTokenInfo, _signer?: OspTokenSigner): Buffer {
  throw new Error("not implemented yet");
}

export class OspTokenValidator {
  constructor(readonly options: OspTokenValidatorOptions) {}
  validate(_token: Buffer, _expect: OspTokenExpectation, _nowMs: number): OspTokenVerdict {
    throw new Error("not implemented yet");
  }
}
