// TLS options shared by the commands that listen: certificate and key presented, the CA that peers'
// certificates must chain to (pinned: nothing else is trusted), and mutual TLS. Read and checked at start;
// each impossible setting is an Error naming the option.
import { keyMatchesCertificate, readPemFile, type PemKind } from "../drivers/socket-tls.js";

export const TLS_USAGE = `  --tls-cert PEM        certificate presented on TLS listeners (tls:, wss:, https:) and to TLS peers
  --tls-key PEM         its private key
  --tls-ca PEM          CA certificate(s) peers must chain to; the only ones trusted (pinned)
  --tls-require-client-cert  refuse TLS clients without a certificate from --tls-ca (mutual TLS)`;

export interface TlsFlags {
  cert?: string;
  key?: string;
  ca?: string;
  requireClientCert?: boolean;
}

export interface TlsMaterial {
  certificatePem: string;
  keyPem: string;
  /** Absent: the system's trust store. */
  caPem?: string;
  requireClientCert: boolean;
}

/** Takes `arg` (and its value from `next`) into `flags` when it is a TLS option; false otherwise. */
export function takeTlsFlag(flags: TlsFlags, arg: string, next: () => string): boolean {
  if (arg === "--tls-cert") flags.cert = next();
  else if (arg === "--tls-key") flags.key = next();
  else if (arg === "--tls-ca") flags.ca = next();
  else if (arg === "--tls-require-client-cert") flags.requireClientCert = true;
  else return false;
  return true;
}

function readPem(option: string, path: string, kind: PemKind): string {
  const read = readPemFile(path, kind);
  if ("text" in read) return read.text;
  throw new Error("unreadable" in read ? `${option} ${path}: cannot read (${read.unreadable})` : `${option} ${path}: holds no ${kind} PEM block`);
}

/** The PEM material the flags name, undefined without TLS flags; throws an Error naming the option at fault. */
export function readTlsFlags(flags: TlsFlags): TlsMaterial | undefined {
  if (flags.cert === undefined && flags.key === undefined) {
    if (flags.ca !== undefined || flags.requireClientCert) throw new Error(`${flags.ca !== undefined ? "--tls-ca" : "--tls-require-client-cert"} needs --tls-cert and --tls-key`);
    return undefined;
  }
  if (flags.cert === undefined) throw new Error("--tls-key given without --tls-cert");
  if (flags.key === undefined) throw new Error("--tls-cert given without --tls-key");
  if (flags.requireClientCert && flags.ca === undefined) throw new Error("--tls-require-client-cert needs --tls-ca (the CA client certificates must chain to)");
  const certificatePem = readPem("--tls-cert", flags.cert, "CERTIFICATE");
  const keyPem = readPem("--tls-key", flags.key, "PRIVATE KEY");
  let matches: boolean;
  try {
    matches = keyMatchesCertificate(certificatePem, keyPem);
  } catch (err) {
    throw new Error(`--tls-cert/--tls-key: unusable (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!matches) throw new Error(`--tls-key ${flags.key}: is not the key of --tls-cert ${flags.cert}`);
  const material: TlsMaterial = { certificatePem, keyPem, requireClientCert: flags.requireClientCert === true };
  if (flags.ca !== undefined) material.caPem = readPem("--tls-ca", flags.ca, "CERTIFICATE");
  return material;
}
