// The deploy file's `tls` section: which links run over TLS (SIP between nodes, COPS per RFC 4261, OSP over
// HTTPS), the CA every role pins, mutual TLS, and each role's certificate and key (PEM files relative to the
// deploy file). Impossible settings are problems naming the field.
import { X509Certificate } from "node:crypto";
import { dirname, resolve } from "node:path";
import type { PeerCertificate } from "node:tls";
import { certificateNames, keyMatchesCertificate, readPemFile, type PemKind, type SocketTlsOptions } from "../drivers/socket-tls.js";
import type { Role, TopologyOptions } from "./run-types.js";
import { ROLE_NAMES, roleRow } from "./role-table.js";

const roleCredentials = { type: "object", additionalProperties: false, properties: { certificate: { type: "string" }, key: { type: "string" } } };

export function deployTlsSchema(roles: readonly Role[]): object {
  return {
    type: "object",
    additionalProperties: false,
    required: ["ca"],
    properties: {
      ca: { type: "string" },
      requireClientCert: { type: "boolean" },
      sip: { type: "boolean" },
      cops: { type: "boolean" },
      osp: { type: "boolean" },
      roles: { type: "object", additionalProperties: false, properties: Object.fromEntries(roles.map((r) => [r, roleCredentials])) },
    },
  };
}

export interface DeployTlsSection {
  ca: string;
  requireClientCert?: boolean;
  sip?: boolean;
  cops?: boolean;
  osp?: boolean;
  roles?: Partial<Record<Role, { certificate?: string; key?: string }>>;
}

type Problem = (path: Array<string | number>, message: string) => void;

const SIP_NODES: readonly Role[] = ROLE_NAMES.filter((r) => roleRow(r).listens === "sip");

/** Why `role` needs a certificate under `tls` (it listens, or it connects and listeners ask for one), or undefined. */
function certificateNeed(role: Role, tls: DeployTlsSection, clearinghouse: boolean): string | undefined {
  const mutual = tls.requireClientCert === true;
  if (tls.sip && SIP_NODES.includes(role)) return "it speaks SIP over TLS";
  const row = roleRow(role);
  if (tls.cops && row.listens === "cops") return "it listens for COPS over TLS";
  if (tls.cops && mutual && row.pdp !== undefined) return "it connects to its PDP over mutual TLS";
  if (clearinghouse && tls.osp && row.listens === "osp") return "it serves OSP over HTTPS";
  if (clearinghouse && tls.osp && mutual && row.peers.includes("CH")) return "it connects to the clearinghouse over mutual TLS";
  return undefined;
}

/** Reads the section's PEM files; every impossible setting is reported through `problem`. */
export function readDeployTls(
  tls: DeployTlsSection,
  file: string,
  presentRoles: readonly Role[],
  topology: TopologyOptions,
  problem: Problem,
): SocketTlsOptions {
  const pem = (path: Array<string | number>, name: string, kind: PemKind): string => {
    const full = resolve(dirname(file), name);
    const read = readPemFile(full, kind);
    if ("text" in read) return read.text;
    problem(path, "unreadable" in read ? `cannot read ${full}: ${read.unreadable}` : `${full} holds no ${kind} PEM block`);
    return "";
  };
  if (!tls.sip && !tls.cops && !tls.osp) problem(["tls"], "switches nothing on: set sip, cops or osp to true");
  if (tls.sip && topology.sipTransport !== "tcp") problem(["tls", "sip"], "SIP over TLS needs topology.sipTransport tcp (the roles' stream transport)");
  if (tls.osp && topology.clearinghouse === "none") problem(["tls", "osp"], "topology.clearinghouse is none: there is no OSP");
  const caPem = pem(["tls", "ca"], tls.ca, "CERTIFICATE");
  const credentials: SocketTlsOptions["credentials"] = {};
  for (const [role, entry] of Object.entries(tls.roles ?? {}) as [Role, { certificate?: string; key?: string }][]) {
    if (entry.certificate === undefined || entry.key === undefined) {
      const missing = entry.certificate === undefined ? "certificate" : "key";
      problem(["tls", "roles", role], `${missing} missing: a ${missing === "key" ? "certificate needs its key" : "key needs its certificate"}`);
      continue;
    }
    const certificatePem = pem(["tls", "roles", role, "certificate"], entry.certificate, "CERTIFICATE");
    const keyPem = pem(["tls", "roles", role, "key"], entry.key, "PRIVATE KEY");
    if (!certificatePem || !keyPem) continue;
    try {
      if (!keyMatchesCertificate(certificatePem, keyPem)) problem(["tls", "roles", role, "key"], "is not the key of the certificate");
      else credentials[role] = { certificatePem, keyPem };
    } catch (err) {
      problem(["tls", "roles", role], `unusable certificate or key: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  for (const role of presentRoles) {
    const need = certificateNeed(role, tls, topology.clearinghouse !== "none");
    if (need !== undefined && tls.roles?.[role] === undefined) problem(["tls", "roles"], `${role} needs a certificate and key: ${need}`);
  }
  const out: SocketTlsOptions = { caPem, credentials, requireClientCert: tls.requireClientCert === true };
  if (tls.sip) out.sip = true;
  if (tls.cops) out.cops = true;
  if (tls.osp) out.osp = true;
  return out;
}

/** The options one role's process needs: its own certificate only. */
export function tlsForRole(tls: SocketTlsOptions, role: Role): SocketTlsOptions {
  const own = tls.credentials[role];
  return { ...tls, credentials: own ? { [role]: own } : {} };
}

/** The lab's roles (every one in one process) sharing one certificate, which must name each of them. */
export const LAB_TLS_ROLES: readonly Role[] = ROLE_NAMES.filter((r) => r !== "UAC");

/**
 * TLS for every link of the lab (SIP between the nodes, COPS, OSP) from one certificate and key; throws
 * naming the certificate when it does not name every role (each role checks that its peer's does).
 */
export function labTls(material: { certificatePem: string; keyPem: string; caPem: string; requireClientCert?: boolean }): SocketTlsOptions {
  const names = certificateNames(new X509Certificate(material.certificatePem).toLegacyObject() as unknown as PeerCertificate);
  const missing = LAB_TLS_ROLES.filter((r) => !names.includes(r.toLowerCase()));
  if (missing.length > 0) throw new Error(`the certificate does not name ${missing.map((r) => r.toLowerCase()).join(", ")}: each lab role checks that its peer's certificate names that peer (subject CN or DNS subjectAltName)`);
  const own = { certificatePem: material.certificatePem, keyPem: material.keyPem };
  return {
    caPem: material.caPem,
    credentials: Object.fromEntries(LAB_TLS_ROLES.map((r) => [r, own])),
    requireClientCert: material.requireClientCert === true,
    sip: true,
    cops: true,
    osp: true,
  };
}
