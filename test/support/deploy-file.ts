// Deploy-file text for tests of `callgate serve` and its parser: the `roles:` section of the nine roles.

/** The nine roles on two loopback hosts, fixed ports: caller side on 127.0.0.1, callee side on 127.0.0.2. */
export const ROLES_ON_TWO_HOSTS = `roles:
  UAC:  { host: 127.0.0.1, sip: { udp: 5070 } }
  SIP1: { host: 127.0.0.1, sip: { udp: 5060 } }
  POL1: { host: 127.0.0.1, cops: 3288 }
  R1:   { host: 127.0.0.1 }
  CH:   { host: 127.0.0.1, osp: 5045 }
  SIP2: { host: 127.0.0.2, sip: { udp: 5060 } }
  POL2: { host: 127.0.0.2, cops: 3288 }
  R2:   { host: 127.0.0.2 }
  UAS:  { host: 127.0.0.2, sip: { udp: 5080 } }
`;

/** What each role listens on: the SIP roles' `sip:` value as written in the file, COPS and OSP ports. */
export interface RoleAddresses {
  UAC: string;
  SIP1: string;
  POL1: number;
  CH: number;
  SIP2: string;
  POL2: number;
  UAS: string;
}

/** The `roles:` section of a deploy file, every role on 127.0.0.1. */
export function rolesSection(a: RoleAddresses): string[] {
  return [
    "roles:",
    `  UAC:  { host: 127.0.0.1, sip: ${a.UAC} }`,
    `  SIP1: { host: 127.0.0.1, sip: ${a.SIP1} }`,
    `  POL1: { host: 127.0.0.1, cops: ${a.POL1} }`,
    "  R1:   { host: 127.0.0.1 }",
    `  CH:   { host: 127.0.0.1, osp: ${a.CH} }`,
    `  SIP2: { host: 127.0.0.1, sip: ${a.SIP2} }`,
    `  POL2: { host: 127.0.0.1, cops: ${a.POL2} }`,
    "  R2:   { host: 127.0.0.1 }",
    `  UAS:  { host: 127.0.0.1, sip: ${a.UAS} }`,
  ];
}
