// TLS for the socket driver's links: SIP over TLS (RFC 3261 §26.3.1), COPS over TLS (RFC 4261) and OSP
// over HTTPS (TS 101 321 §5). Every role presents its own certificate; peers trust only the configured CA
// (pinned: the system store is not used) and a certificate must name the role it speaks for.
import { X509Certificate, createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate, type TLSSocket, type TlsOptions } from "node:tls";
import type { Protocol } from "./message-record.js";

/** The PEM certificate and private key a node presents. */
export interface RoleCredentials {
  certificatePem: string;
  keyPem: string;
}

/** TLS for the socket driver's links: the pinned CA, each node's credentials, and which links use it. */
export interface SocketTlsOptions {
  /** PEM CA certificate(s): the only trust anchors for every peer's certificate. */
  caPem: string;
  /** Certificate and key each node presents, by node name. */
  credentials: Record<string, RoleCredentials>;
  /** Listeners ask for a client certificate and refuse connections without a valid one (mutual TLS). */
  requireClientCert?: boolean;
  /** Which links run over TLS: SIP between nodes, COPS PEP–PDP, OSP over HTTPS. */
  sip?: boolean;
  cops?: boolean;
  osp?: boolean;
}

export function tlsFor(tls: SocketTlsOptions | undefined, proto: Protocol): boolean {
  if (!tls) return false;
  return proto === "SIP" ? tls.sip === true : proto === "COPS" ? tls.cops === true : tls.osp === true;
}

function credentialsOf(tls: SocketTlsOptions, node: string): RoleCredentials {
  const c = tls.credentials[node];
  if (!c) throw new Error(`TLS: no certificate and key for ${node}`);
  return c;
}

/** The names a certificate speaks for: its subject CN and DNS subjectAltNames, lower case. */
export function certificateNames(cert: PeerCertificate | undefined): string[] {
  if (!cert) return [];
  const names: string[] = [];
  const cn = cert.subject?.CN;
  if (typeof cn === "string") names.push(cn.toLowerCase());
  else if (Array.isArray(cn)) names.push(...cn.map((n: string) => n.toLowerCase()));
  for (const part of (cert.subjectaltname ?? "").split(",")) {
    const m = /^\s*DNS:(.+)$/.exec(part);
    if (m?.[1]) names.push(m[1].trim().toLowerCase());
  }
  return names;
}

/** Does the verified certificate on `sock` speak for `node` (CN or DNS name equal to the node name)? */
export function certifiedAs(sock: TLSSocket, node: string): boolean {
  if (!sock.authorized) return false;
  return certificateNames(sock.getPeerCertificate()).includes(node.toLowerCase());
}

/** Options of a node's TLS listener; the handshake must end within `handshakeTimeoutMs` (the listener's header deadline). */
export function tlsServerOptions(tls: SocketTlsOptions, node: string, handshakeTimeoutMs = 10_000): TlsOptions {
  const own = credentialsOf(tls, node);
  const mutual = tls.requireClientCert === true;
  const handshake = handshakeTimeoutMs > 0 ? { handshakeTimeout: handshakeTimeoutMs } : {};
  return { cert: own.certificatePem, key: own.keyPem, ca: tls.caPem, requestCert: mutual, rejectUnauthorized: mutual, minVersion: "TLSv1.2", ...handshake };
}

/**
 * Options of a connection from `node` to `peer` at `host`: the CA pinned, the host checked against the
 * certificate's IP/DNS names (RFC 6125), and the certificate must name `peer`.
 */
export function tlsClientOptions(tls: SocketTlsOptions, node: string, peer: string, host: string, port: number): ConnectionOptions {
  const own = credentialsOf(tls, node);
  return {
    host,
    port,
    ca: tls.caPem,
    cert: own.certificatePem,
    key: own.keyPem,
    rejectUnauthorized: true,
    minVersion: "TLSv1.2",
    checkServerIdentity: (hostname, cert) => {
      const err = checkServerIdentity(hostname, cert);
      if (err) return err;
      return certificateNames(cert).includes(peer.toLowerCase()) ? undefined : new Error(`certificate of ${hostname}:${port} does not name ${peer}`);
    },
  };
}

export type PemKind = "CERTIFICATE" | "PRIVATE KEY";

/** A PEM file read for TLS settings: its text, or why it cannot serve (each caller names the setting at fault). */
export function readPemFile(path: string, kind: PemKind): { text: string } | { unreadable: string } | { noPem: true } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    return { unreadable: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
  return text.includes(kind === "CERTIFICATE" ? "-----BEGIN CERTIFICATE-----" : "PRIVATE KEY-----") ? { text } : { noPem: true };
}

/** Whether the key is the certificate's own; throws when either cannot be read as one. */
export function keyMatchesCertificate(certificatePem: string, keyPem: string): boolean {
  return new X509Certificate(certificatePem).checkPrivateKey(createPrivateKey(keyPem));
}
