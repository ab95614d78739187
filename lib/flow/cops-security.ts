// Which PEPs a policy server accepts in a deployment (the deploy file's `copsSecurity`): PEPIDs of its FIG. 5
// PEPs, their source addresses, Integrity keys per PEP (RFC 2748 §2.2.16), request-state bounds. The first
// message of a COPS connection is judged by the PDP machine itself, so a refusal is the machine's CC.
import type { CopsIntegrityConfig, CopsPdpOptions, CopsPepCredentials } from "../../protocols/cops/index.js";
import { judgeCopsOpen, openOrListedAdmission } from "../start/cops-admission.js";
import type { TcpPeerRefusal, TcpPeerSource } from "../drivers/socket-network.js";
import type { Role } from "./run-types.js";
import type { FlowTopology } from "./topology.js";
import { ROLE_NAMES, byRole, isRoleOfKind, roleRow, rolesOfKind, type RoleOfKind } from "./role-table.js";

export type CopsPdpRole = RoleOfKind<"policy-server">;

/** One PEP's credentials in the deploy file. */
export interface CopsPepSecurity {
  /** Source addresses it may connect from (any when absent). */
  addresses?: string[];
  /** HMAC-MD5-96 keys: Key ID and key in hex (at least 16 octets). */
  integrity?: { keyId: number; key: string };
}

export interface CopsPdpSecurity {
  /** Request states one PEP connection may open (RFC 2748 §2.2.8 Error 4 beyond). */
  maxRequestStates?: number;
  /** REQs one PEP connection may leave waiting for a DEC (CC Error 4 beyond). */
  maxPendingRequests?: number;
  /** The PEPs admitted; when given, no other is. Without it, the PDP's FIG. 5 PEPs from any address. */
  peps?: Partial<Record<Role, CopsPepSecurity>>;
}

export type CopsSecurity = Partial<Record<CopsPdpRole, CopsPdpSecurity>>;

/** Each policy server's PEPs: its SIP proxy (client type 0x8cb1) and its edge router (COPS-PR). */
export const COPS_PEPS: Readonly<Record<CopsPdpRole, readonly Role[]>> = byRole(rolesOfKind("policy-server"), (pdp) => ROLE_NAMES.filter((r) => roleRow(r).pdp === pdp));

/** The PEPID a role's PEP sends in its OPN: a SIP proxy its host name, an edge router its lower-case name. */
export function pepIdOf(role: Role): string {
  return isRoleOfKind(role, "sip-proxy") ? (roleRow(role).host ?? role) : role.toLowerCase();
}

export function isCopsPdpRole(role: string): role is CopsPdpRole {
  return (rolesOfKind("policy-server") as readonly string[]).includes(role);
}

function integrityOf(pep: CopsPepSecurity | undefined): CopsIntegrityConfig | undefined {
  return pep?.integrity ? { keyId: pep.integrity.keyId, key: Buffer.from(pep.integrity.key, "hex") } : undefined;
}

/** The PEPs `pdp` admits, as the COPS layer's credentials. */
export function copsCredentialsOf(security: CopsSecurity | undefined, pdp: CopsPdpRole): CopsPepCredentials[] {
  const listed = security?.[pdp]?.peps;
  const roles = listed ? COPS_PEPS[pdp].filter((r) => listed[r] !== undefined) : COPS_PEPS[pdp];
  return roles.map((role) => {
    const pep = listed?.[role];
    const credentials: CopsPepCredentials = { pepId: pepIdOf(role) };
    if (pep?.addresses) credentials.addresses = pep.addresses;
    const integrity = integrityOf(pep);
    if (integrity) credentials.integrity = integrity;
    return credentials;
  });
}

/** The Integrity keys a PEP role signs its COPS messages with, when its PDP has some for it. */
export function copsPepIntegrityOf(security: CopsSecurity | undefined, pep: Role): CopsIntegrityConfig | undefined {
  for (const pdp of rolesOfKind("policy-server")) if (COPS_PEPS[pdp].includes(pep)) return integrityOf(security?.[pdp]?.peps?.[pep]);
  return undefined;
}

/** The machine options of `pdp`'s connections that the deployment sets: Integrity per PEPID and the bounds. */
export function copsPdpOptionsOf(security: CopsSecurity | undefined, pdp: CopsPdpRole): Pick<CopsPdpOptions, "integrityFor" | "maxRequestStates" | "maxPendingRequests"> {
  const byPepId = new Map(copsCredentialsOf(security, pdp).map((c) => [c.pepId, c.integrity]));
  const out: Pick<CopsPdpOptions, "integrityFor" | "maxRequestStates" | "maxPendingRequests"> = { integrityFor: (pepId) => byPepId.get(pepId) };
  const s = security?.[pdp];
  if (s?.maxRequestStates !== undefined) out.maxRequestStates = s.maxRequestStates;
  if (s?.maxPendingRequests !== undefined) out.maxPendingRequests = s.maxPendingRequests;
  return out;
}

/**
 * Names the PEP that opened a COPS connection to `pdp` by its first message, or refuses it: a PDP machine
 * with the deployment's admission judges the message, and its CC (Error 3, 6, 14 or 15) is the answer.
 */
export function identifyCopsPeer(security: CopsSecurity | undefined, pdp: CopsPdpRole, first: Buffer, source: TcpPeerSource): Role | TcpPeerRefusal {
  const roleOf = new Map(COPS_PEPS[pdp].map((r) => [pepIdOf(r), r]));
  const byRole: TcpPeerSource = { ...source, linked: (pepId) => source.linked(roleOf.get(pepId) ?? "") };
  const judged = judgeCopsOpen(first, openOrListedAdmission(copsCredentialsOf(security, pdp), byRole));
  if (!("pepId" in judged)) return judged;
  return roleOf.get(judged.pepId) ?? { answer: Buffer.alloc(0), cause: "cops-bad-message" };
}

/** Puts the deployment's COPS security on the node that runs `role`: a PDP's admission and bounds, a PEP's keys. */
export function applyCopsSecurity(topo: FlowTopology, role: Role, security: CopsSecurity | undefined): void {
  if (role === "POL1" || role === "POL2") (role === "POL1" ? topo.pol1 : topo.pol2).configureCops(copsPdpOptionsOf(security, role));
  const integrity = copsPepIntegrityOf(security, role);
  if (!integrity) return;
  if (role === "SIP1" || role === "SIP2") (role === "SIP1" ? topo.sip1 : topo.sip2).useCopsIntegrity(integrity);
  if (role === "R1" || role === "R2") (role === "R1" ? topo.r1 : topo.r2).useCopsIntegrity(integrity);
}
