// The PKI of an embedded topology: a CA and the clearinghouse's token-signing certificate under it.
// Ed25519 by default (RFC 8032, in CMS per RFC 8419): the cheapest token key node:crypto signs and verifies,
// and deterministic. Its keys, serials and certificates derive from the run seed, so two in-memory runs with
// one seed carry byte-identical tokens (`callgate replay --trace FILE --exact`). P-256 and RSA keys are fresh
// per process (their keys cannot be seeded through node:crypto, and ECDSA draws a random k anyway).
import { createHash } from "node:crypto";
import { generateOspPki, type OspKeyType, type OspTokenSigner } from "../../protocols/osp/index.js";
import { ed25519PrivateKey } from "../../protocols/osp/token-pki.js";

/** The flow's OSP PKI: the CA certificate (PEM) the devices trust, and the clearinghouse's token signer. */
export interface FlowPki {
  caCertificatePem: string;
  signer: OspTokenSigner;
}

const cached = new Map<string, FlowPki>();

/** 32 bytes for `label` under `seed`: SHA-256 of a domain-separated string. */
function derive(seed: number, label: string): Buffer {
  return createHash("sha256").update(`callgate flow-pki v1\0${seed}\0${label}`).digest();
}

/** A positive serial (RFC 5280 §4.1.2.2) of up to 52 bits from `seed`. */
function serial(seed: number, label: string): number {
  return Number(derive(seed, label).readBigUInt64BE(0) >> 12n) || 1;
}

/**
 * One PKI per key type and seed, cached for the process. Validity from the virtual clock's start (0, 1970-01-01)
 * to 2099, so it holds for in-memory runs and for real clocks alike.
 */
export function flowPki(keyType: OspKeyType = "ed25519", seed = 1): FlowPki {
  const key = keyType === "ed25519" ? `${keyType}:${seed}` : keyType;
  let pki = cached.get(key);
  if (!pki) {
    const common = { keyType, caName: "callgate flow CA", signerName: "callgate clearinghouse", notBefore: 0, notAfter: Date.UTC(2099, 0, 1) };
    pki =
      keyType === "ed25519"
        ? generateOspPki({
            ...common,
            caPrivateKey: ed25519PrivateKey(derive(seed, "ca key")),
            signerPrivateKey: ed25519PrivateKey(derive(seed, "clearinghouse key")),
            caSerial: serial(seed, "ca serial"),
            signerSerial: serial(seed, "clearinghouse serial"),
          })
        : generateOspPki(common);
    if (cached.size >= 64) cached.clear();
    cached.set(key, pki);
  }
  return pki;
}
