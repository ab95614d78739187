// The concentrator as a RADIUS NAS: an Access-Request per end user where it ends their PPP (RFC 2865 §5.2 PAP,
// §5.3 CHAP); the Accounting Start, Interim-Update and Stop records of an end-user session with its octets and
// packets (RFC 2866 §5), which the accounting exporter spools and sends.
import { RadiusCode, radiusAttribute } from "../../protocols/radius/index.js";
import type { RadiusAttribute, RadiusEndpoint, RadiusUdpClient } from "../../protocols/radius/index.js";
import { attributeValue } from "../../protocols/radius/index.js";
import type { AccountingRecord } from "../accounting/records.js";

export interface NasOptions {
  /** The RADIUS client of Access-Requests (needed with `auth`). */
  client?: RadiusUdpClient;
  /** Authentication server; without it, lines are judged against local users. */
  auth?: RadiusEndpoint;
  nasIdentifier: string;
  nasIpAddress?: string;
}

export type LineCredentials =
  | { method: "pap"; peerId: string; password: Buffer }
  | { method: "chap"; peerId: string; identifier: number; challenge: Buffer; response: Buffer };

export interface AccountedSession {
  key: string;
  user: string;
  line: number;
  address?: string;
  startedAt: number;
}

export interface SessionUsage {
  octetsIn: number;
  octetsOut: number;
  packetsIn: number;
  packetsOut: number;
}

/** RFC 2866 §5.10: why a session ended. */
export type TerminateCause = "User-Request" | "Lost-Carrier" | "Admin-Reset" | "NAS-Reboot" | "NAS-Request" | "Port-Error";

/** Octets and packets; counts past 2^32 go in the Gigawords attributes (RFC 2869 §5.1, §5.2). */
function counterAttributes(usage: SessionUsage): AccountingRecord["attributes"] {
  return [
    ["Acct-Input-Octets", usage.octetsIn % 2 ** 32],
    ["Acct-Output-Octets", usage.octetsOut % 2 ** 32],
    ["Acct-Input-Gigawords", Math.floor(usage.octetsIn / 2 ** 32)],
    ["Acct-Output-Gigawords", Math.floor(usage.octetsOut / 2 ** 32)],
    ["Acct-Input-Packets", usage.packetsIn % 2 ** 32],
    ["Acct-Output-Packets", usage.packetsOut % 2 ** 32],
  ];
}

const MESSAGE_AUTHENTICATOR: RadiusAttribute = { type: 80, kind: "string", value: Buffer.alloc(16) };

export class AccessNas {
  constructor(private readonly options: NasOptions) {}

  get authenticates(): boolean {
    return this.options.auth !== undefined;
  }

  private nas(line: number): RadiusAttribute[] {
    return [
      radiusAttribute("NAS-Identifier", this.options.nasIdentifier),
      ...(this.options.nasIpAddress ? [radiusAttribute("NAS-IP-Address", this.options.nasIpAddress)] : []),
      radiusAttribute("NAS-Port", line),
      radiusAttribute("NAS-Port-Type", "Async"),
      radiusAttribute("Service-Type", "Framed"),
      radiusAttribute("Framed-Protocol", 1), // PPP
    ];
  }

  /** Access-Request for one end user: true on Access-Accept. */
  async authenticate(line: number, credentials: LineCredentials): Promise<{ ok: boolean; message: string }> {
    const to = this.options.auth;
    if (!to) throw new Error("no RADIUS authentication server configured");
    const secret =
      credentials.method === "pap"
        ? [radiusAttribute("User-Password", credentials.password)]
        : [
            radiusAttribute("CHAP-Password", Buffer.concat([Buffer.from([credentials.identifier]), credentials.response])),
            radiusAttribute("CHAP-Challenge", credentials.challenge),
          ];
    const client = this.options.client;
    if (!client) throw new Error("no RADIUS client for authentication");
    const reply = await client.request(to, {
      code: RadiusCode.AccessRequest,
      attributes: [radiusAttribute("User-Name", credentials.peerId), ...secret, ...this.nas(line), MESSAGE_AUTHENTICATOR],
    });
    const message = attributeValue(reply, "Reply-Message");
    return { ok: reply.code === RadiusCode.AccessAccept, message: typeof message === "string" ? message : "" };
  }

  private base(session: AccountedSession): AccountingRecord["attributes"] {
    return [
      ["Acct-Session-Id", session.key],
      ["User-Name", session.user || `line-${session.line}`],
      ["NAS-Identifier", this.options.nasIdentifier],
      ...(this.options.nasIpAddress ? [["NAS-IP-Address", this.options.nasIpAddress] as [string, string]] : []),
      ["NAS-Port", session.line],
      ["NAS-Port-Type", "Async"],
      ["Service-Type", "Framed"],
      ["Framed-Protocol", 1], // PPP
      ...(session.address ? [["Framed-IP-Address", session.address] as [string, string]] : []),
    ];
  }

  /** Accounting-Start of an end-user session (RFC 2866 §5.1), for the accounting exporter. */
  startRecord(session: AccountedSession, nowMs: number): AccountingRecord {
    return {
      key: `${session.key}|Start`,
      sessionId: session.key,
      status: "Start",
      eventMs: nowMs,
      attributes: [["Acct-Status-Type", "Start"], ...this.base(session), ["Event-Timestamp", Math.floor(nowMs / 1000)]],
    };
  }

  /** The `n`th Interim-Update, with the counts so far (RFC 2869 §2.1). */
  interimRecord(session: AccountedSession, usage: SessionUsage, n: number, nowMs: number): AccountingRecord {
    return {
      key: `${session.key}|Interim-Update|${n}`,
      sessionId: session.key,
      status: "Interim-Update",
      eventMs: nowMs,
      attributes: [
        ["Acct-Status-Type", "Interim-Update"],
        ...this.base(session),
        ...counterAttributes(usage),
        ["Acct-Session-Time", Math.max(0, Math.floor((nowMs - session.startedAt) / 1000))],
        ["Event-Timestamp", Math.floor(nowMs / 1000)],
      ],
    };
  }

  /** Accounting-Stop with the session's counts and why it ended (RFC 2866 §5.10). */
  stopRecord(session: AccountedSession, usage: SessionUsage | undefined, cause: TerminateCause, nowMs: number): AccountingRecord {
    return {
      key: `${session.key}|Stop`,
      sessionId: session.key,
      status: "Stop",
      eventMs: nowMs,
      attributes: [
        ["Acct-Status-Type", "Stop"],
        ...this.base(session),
        ...(usage ? counterAttributes(usage) : []),
        ["Acct-Session-Time", Math.max(0, Math.floor((nowMs - session.startedAt) / 1000))],
        ["Acct-Terminate-Cause", cause],
        ["Event-Timestamp", Math.floor(nowMs / 1000)],
      ],
    };
  }
}
