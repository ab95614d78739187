// A throw-away PKI for an embedded topology: a CA and the clearinghouse's token-signing certificate under it.
// ECDSA P-256 by default: the cheapest token key to sign and validate that the TransNexus toolkit accepts
// (figures in docs/protocols/osp.md). Keys from node:crypto, certificates from the OSP token layer.
import { generateOspPki, type OspKeyType, type OspTokenSigner } from "../../protocols/osp/index.js";

export interface FlowPki {
  caCertificatePem: string;
  signer: OspTokenSigner;
}

const cached = new Map<OspKeyType, FlowPki>();

/** One PKI per process and key type (validity from 1970: the in-memory driver's virtual clock starts at 0). */
export function flowPki(keyType: OspKeyType = "p256"): FlowPki {
  let pki = cached.get(keyType);
  if (!pki) {
    pki = generateOspPki({ keyType, caName: "callgate flow CA", signerName: "callgate clearinghouse", notBefore: Date.UTC(1970, 0, 1), notAfter: Date.UTC(2099, 0, 1) });
    cached.set(keyType, pki);
  }
  return pki;
}
