// The concentrator as a RADIUS NAS: an Access-Request per end user where it ends their PPP (RFC 2865 §5.2 PAP,
// §5.3 CHAP), Accounting-Start and -Stop per end-user session with its octets and packets (RFC 2866 §5).
import { RadiusCode, radiusAttribute } from "../../protocols/radius/index.js";
import type { RadiusAttribute, RadiusEndpoint, RadiusUdpClient } from "../../protocols/radius/index.js";
import { attributeValue } from "../../protocols/radius/index.js";

export interface NasOptions {
  client: RadiusUdpClient;
  /** Authentication server; without it, lines are judged against local users. */
  auth?: RadiusEndpoint;
  /** Accounting server; without it, no accounting is sent. */
  acct?: RadiusEndpoint;
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
function counterAttributes(usage: SessionUsage): RadiusAttribute[] {
  return [
    radiusAttribute("Acct-Input-Octets", usage.octetsIn % 2 ** 32),
    radiusAttribute("Acct-Output-Octets", usage.octetsOut % 2 ** 32),
    radiusAttribute("Acct-Input-Gigawords", Math.floor(usage.octetsIn / 2 ** 32)),
    radiusAttribute("Acct-Output-Gigawords", Math.floor(usage.octetsOut / 2 ** 32)),
    radiusAttribute("Acct-Input-Packets", usage.packetsIn % 2 ** 32),
    radiusAttribute("Acct-Output-Packets", usage.packetsOut % 2 ** 32),
  ];
}

const MESSAGE_AUTHENTICATOR: RadiusAttribute = { type: 80, kind: "string", value: Buffer.alloc(16) };

export class AccessNas {
  constructor(private readonly options: NasOptions) {}

  get authenticates(): boolean {
    return this.options.auth !== undefined;
  }
  get accounts(): boolean {
    return this.options.acct !== undefined;
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
    const reply = await this.options.client.request(to, {
      code: RadiusCode.AccessRequest,
      attributes: [radiusAttribute("User-Name", credentials.peerId), ...secret, ...this.nas(line), MESSAGE_AUTHENTICATOR],
    });
    const message = attributeValue(reply, "Reply-Message");
    return { ok: reply.code === RadiusCode.AccessAccept, message: typeof message === "string" ? message : "" };
  }

  private base(session: AccountedSession): RadiusAttribute[] {
    return [
      radiusAttribute("Acct-Session-Id", session.key),
      radiusAttribute("User-Name", session.user || `line-${session.line}`),
      ...this.nas(session.line),
      ...(session.address ? [radiusAttribute("Framed-IP-Address", session.address)] : []),
    ];
  }

  async start(session: AccountedSession, nowMs: number): Promise<void> {
    const to = this.options.acct;
    if (!to) return;
    await this.options.client.request(to, {
      code: RadiusCode.AccountingRequest,
      attributes: [radiusAttribute("Acct-Status-Type", "Start"), ...this.base(session), radiusAttribute("Event-Timestamp", Math.floor(nowMs / 1000))],
    });
  }

  /** Interim-Update with the counts so far (RFC 2869 §2.1). */
  async interim(session: AccountedSession, usage: SessionUsage, nowMs: number): Promise<void> {
    const to = this.options.acct;
    if (!to) return;
    await this.options.client.request(to, {
      code: RadiusCode.AccountingRequest,
      attributes: [
        radiusAttribute("Acct-Status-Type", "Interim-Update"),
        ...this.base(session),
        ...counterAttributes(usage),
        radiusAttribute("Acct-Session-Time", Math.max(0, Math.floor((nowMs - session.startedAt) / 1000))),
        radiusAttribute("Event-Timestamp", Math.floor(nowMs / 1000)),
      ],
    });
  }

  async stop(session: AccountedSession, usage: SessionUsage | undefined, cause: TerminateCause, nowMs: number): Promise<void> {
    const to = this.options.acct;
    if (!to) return;
    const counters = usage ? counterAttributes(usage) : [];
    await this.options.client.request(to, {
      code: RadiusCode.AccountingRequest,
      attributes: [
        radiusAttribute("Acct-Status-Type", "Stop"),
        ...this.base(session),
        ...counters,
        radiusAttribute("Acct-Session-Time", Math.max(0, Math.floor((nowMs - session.startedAt) / 1000))),
        radiusAttribute("Acct-Terminate-Cause", cause),
        radiusAttribute("Event-Timestamp", Math.floor(nowMs / 1000)),
      ],
    });
  }
}
