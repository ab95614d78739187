// One PPP link, sans-I/O: LCP (RFC 1661), then PAP (RFC 1334) or CHAP with MD5 (RFC 1994), then IPCP
// (RFC 1332), then IPv4 datagrams. The client side brings a link up with credentials and takes the address
// it is given; the server side asks for authentication (the verdict comes back as an event) and assigns an
// address. Frames in and out are PPP frames without Address/Control (a PPPoE payload, RFC 2516 §7).
import { createHash } from "node:crypto";
import {
  IpcpOption,
  LcpOption,
  PppProtocol,
  decodeChapPacket,
  decodePapPacket,
  decodePppFrame,
  encodeChapPacket,
  encodeControlPacket,
  encodePapPacket,
  encodePppFrame,
} from "./ppp-codec.js";
import type { PppOption } from "./ppp-codec.js";
import { NegotiationMachine } from "./ppp-negotiation.js";
import type { Judgement, NegotiationAction, NegotiationPolicy } from "./ppp-negotiation.js";
import { PppoeDecodeError } from "./pppoe-decode-error.js";

/** How the peer authenticates. */
export type AuthMethod = "pap" | "chap" | "none";

export interface PppLinkCommon {
  /** Our LCP Magic-Number (RFC 1661 §6.4); nonzero. */
  magic: number;
  /** Maximum-Receive-Unit we ask for (default 1492, RFC 2516 §7). */
  mru?: number;
  restartMs?: number;
  maxConfigure?: number;
  /** Send an LCP Echo-Request this often once LCP is up; 0: never (default). */
  echoIntervalMs?: number;
  /** Unanswered Echo-Requests before the link is declared dead (default 3). */
  echoFailures?: number;
}

/** A client link: its credentials. */
export interface PppClientOptions extends PppLinkCommon {
  role: "client";
  username: string;
  password: string;
  /** Address to ask for; default 0.0.0.0 (the server assigns one, RFC 1332 §3.3). */
  requestAddress?: string;
}

/** A server link: how it checks credentials and the addresses it gives. */
export interface PppServerOptions extends PppLinkCommon {
  role: "server";
  auth: AuthMethod;
  /** Name in our CHAP Challenge. */
  name?: string;
  /** Our own address in IPCP. */
  localAddress: string;
  /** The address this peer gets; undefined: none left (IPCP then fails). Called once per link. */
  assignAddress: () => string | undefined;
  /** 16 octets of challenge (injected: the machine draws no randomness itself). */
  challenge: () => Buffer;
}

/** The options of a client or a server link. */
export type PppLinkOptions = PppClientOptions | PppServerOptions;

/** What a link reports: phase changes, authenticated, IPv4 up, closed. */
export type PppLinkEvent =
  | { type: "lcp-up" }
  /** Server: judge these credentials, then hand the link an "auth-result" event. */
  | { type: "authenticate"; method: "pap"; peerId: string; password: Buffer }
  | { type: "authenticate"; method: "chap"; peerId: string; identifier: number; challenge: Buffer; response: Buffer }
  | { type: "authenticated"; peerId: string }
  | { type: "ipcp-up"; localAddress: string; peerAddress: string }
  | { type: "ip"; packet: Buffer }
  | { type: "down"; reason: string }
  | { type: "dropped"; cause: string; detail: string };

/** What a link asks of its driver: send a frame, set or cancel a timer, emit. */
export type PppLinkAction =
  | { type: "send"; frame: Buffer }
  | { type: "set-timer"; name: string; delayMs: number }
  | { type: "cancel-timer"; name: string }
  | { type: "emit"; event: PppLinkEvent };

/** What a link takes: a frame, a timer, open or close. */
export type PppLinkInput =
  | { type: "open" }
  | { type: "frame"; bytes: Buffer }
  | { type: "timer"; name: string }
  | { type: "close"; reason: string }
  | { type: "auth-result"; ok: boolean; message?: string };

/** The link phases of RFC 1661 §3.2. */
export type PppPhase = "dead" | "establish" | "authenticate" | "network" | "open" | "terminate";

const CHAP_MD5 = 5;

/** CHAP MD5 Response Value: MD5(Identifier ‖ secret ‖ Challenge) (RFC 1994 §4.1, RFC 1321). */
export function chapMd5Response(identifier: number, secret: string | Buffer, challenge: Buffer): Buffer {
  return createHash("md5").update(Buffer.from([identifier])).update(secret).update(challenge).digest();
}

/** An IPv4 address as 4 octets. */
export function ipv4ToBuffer(address: string): Buffer {
  const parts = address.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new RangeError(`not an IPv4 address: ${address}`);
  return Buffer.from(parts);
}

/** 4 octets as an IPv4 address. */
export function bufferToIpv4(buf: Buffer, offset = 0): string {
  return `${buf[offset] ?? 0}.${buf[offset + 1] ?? 0}.${buf[offset + 2] ?? 0}.${buf[offset + 3] ?? 0}`;
}

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value, 0);
  return b;
}
function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0, 0);
  return b;
}
function authOption(method: AuthMethod): PppOption | undefined {
  if (method === "pap") return { type: LcpOption.authProtocol, data: u16(PppProtocol.pap) };
  if (method === "chap") return { type: LcpOption.authProtocol, data: Buffer.concat([u16(PppProtocol.chap), Buffer.from([CHAP_MD5])]) };
  return undefined;
}

/** A sans-I/O PPP link (RFC 1661): LCP, authentication (PAP or CHAP), IPCP, then IPv4 datagrams. */
export class PppLink {
  private current: PppPhase = "dead";
  private readonly lcp: NegotiationMachine;
  private readonly ipcp: NegotiationMachine;
  /** The method the server asked for and we agreed to (client), or the one we ask for (server). */
  private auth: AuthMethod;
  private lcpRequest: PppOption[];
  private ipcpLocal: string;
  private peerAddress = "";
  private assigned: string | undefined;
  private authIdentifier = 0;
  private authTries = 0;
  private challengeValue: Buffer = Buffer.alloc(0);
  private peerId = "";
  private echoOutstanding = 0;
  private downReason = "";

  constructor(private readonly options: PppLinkOptions) {
    const mru = options.mru ?? 1492;
    this.auth = options.role === "server" ? options.auth : "none";
    const magic = { type: LcpOption.magicNumber, data: u32(options.magic) };
    const serverAuth = options.role === "server" ? authOption(options.auth) : undefined;
    this.lcpRequest = [{ type: LcpOption.mru, data: u16(mru) }, ...(serverAuth ? [serverAuth] : []), magic];
    this.ipcpLocal = options.role === "server" ? options.localAddress : (options.requestAddress ?? "0.0.0.0");
    const common = { restartMs: options.restartMs, maxConfigure: options.maxConfigure };
    this.lcp = new NegotiationMachine({ protocol: "lcp", magic: options.magic, policy: this.lcpPolicy(), ...common });
    this.ipcp = new NegotiationMachine({ protocol: "ipcp", policy: this.ipcpPolicy(), ...common });
  }

  get phase(): PppPhase {
    return this.current;
  }
  /** The peer's address once IPCP is up. */
  get remoteAddress(): string | undefined {
    return this.current === "open" ? this.peerAddress : undefined;
  }
  get localAddress(): string | undefined {
    return this.current === "open" ? this.ipcpLocal : undefined;
  }
  get authenticatedPeer(): string | undefined {
    return this.peerId || undefined;
  }

  /** A PPP frame carrying an IPv4 datagram, or undefined while IPCP is not open (RFC 1332 §2). */
  ipFrame(packet: Buffer): Buffer | undefined {
    return this.current === "open" ? encodePppFrame({ protocol: PppProtocol.ipv4, information: packet }) : undefined;
  }

  /** Takes one input, returns the actions it causes. */
  handle(input: PppLinkInput): PppLinkAction[] {
    switch (input.type) {
      case "open":
        if (this.current !== "dead") return [];
        this.current = "establish";
        return this.fromNegotiation("lcp", this.lcp.open());
      case "close":
        return this.close(input.reason);
      case "timer":
        return this.onTimer(input.name);
      case "auth-result":
        return this.onAuthResult(input.ok, input.message ?? "");
      case "frame":
        return this.onFrame(input.bytes);
    }
  }

  private close(reason: string): PppLinkAction[] {
    if (this.current === "dead" || this.current === "terminate") return [];
    this.downReason = reason;
    const wasOpen = this.current === "open";
    this.current = "terminate";
    const out = [{ type: "cancel-timer", name: "echo" } as const, { type: "cancel-timer", name: "auth" } as const, ...this.fromNegotiation("ipcp", this.ipcp.abort())];
    if (wasOpen) out.push({ type: "cancel-timer", name: "ipcp" });
    return [...out, ...this.fromNegotiation("lcp", this.lcp.close())];
  }

  private emit(event: PppLinkEvent): PppLinkAction {
    return { type: "emit", event };
  }

  private drop(cause: string, detail: string): PppLinkAction[] {
    return [this.emit({ type: "dropped", cause, detail })];
  }

  private onFrame(bytes: Buffer): PppLinkAction[] {
    let protocol: number;
    let information: Buffer;
    try {
      ({ protocol, information } = decodePppFrame(bytes));
    } catch (err) {
      if (err instanceof PppoeDecodeError) return this.drop(`ppp-${err.code}`, err.message);
      throw err;
    }
    if (protocol === PppProtocol.lcp) return this.fromNegotiation("lcp", this.lcp.receive(information));
    // Only LCP before LCP is open (RFC 1661 §3.4); network protocols only in the Network phase (§3.5).
    if (this.lcp.state !== "opened") return this.drop("ppp-before-lcp", `protocol 0x${protocol.toString(16)} before LCP is open`);
    switch (protocol) {
      case PppProtocol.pap:
        return this.current === "authenticate" && this.auth === "pap" ? this.onPap(information) : this.drop("ppp-unexpected-auth", "PAP outside its phase");
      case PppProtocol.chap:
        return this.current === "authenticate" && this.auth === "chap" ? this.onChap(information) : this.drop("ppp-unexpected-auth", "CHAP outside its phase");
      case PppProtocol.ipcp:
        if (this.current !== "network" && this.current !== "open") return this.drop("ppp-before-network", "IPCP before authentication ended");
        return this.fromNegotiation("ipcp", this.ipcp.receive(information));
      case PppProtocol.ipv4:
        if (this.current !== "open") return this.drop("ppp-ip-before-ipcp", "IPv4 before IPCP is open");
        return [this.emit({ type: "ip", packet: information })];
      default: {
        // An unsupported protocol gets an LCP Protocol-Reject (RFC 1661 §5.7).
        const reject = encodeControlPacket({ code: "protocol-reject", identifier: (this.authIdentifier + 1) & 0xff, protocol, rejected: information.subarray(0, 1400) });
        return [{ type: "send", frame: encodePppFrame({ protocol: PppProtocol.lcp, information: reject }) }];
      }
    }
  }

  private onTimer(name: string): PppLinkAction[] {
    if (name === "lcp") return this.fromNegotiation("lcp", this.lcp.timeout());
    if (name === "ipcp") return this.fromNegotiation("ipcp", this.ipcp.timeout());
    if (name === "auth") return this.authTimeout();
    if (name === "echo") {
      if (this.lcp.state !== "opened") return [];
      if (this.echoOutstanding >= (this.options.echoFailures ?? 3)) return this.close("echo-timeout");
      this.echoOutstanding++;
      return [...this.fromNegotiation("lcp", this.lcp.echoRequest()), { type: "set-timer", name: "echo", delayMs: this.options.echoIntervalMs ?? 0 }];
    }
    return [];
  }

  private fromNegotiation(which: "lcp" | "ipcp", actions: NegotiationAction[]): PppLinkAction[] {
    const protocol = which === "lcp" ? PppProtocol.lcp : PppProtocol.ipcp;
    const out: PppLinkAction[] = [];
    for (const a of actions) {
      switch (a.type) {
        case "send":
          out.push({ type: "send", frame: encodePppFrame({ protocol, information: a.bytes }) });
          break;
        case "set-timer":
          out.push({ type: "set-timer", name: which, delayMs: a.delayMs });
          break;
        case "cancel-timer":
          out.push({ type: "cancel-timer", name: which });
          break;
        case "up":
          out.push(...(which === "lcp" ? this.lcpUp() : this.ipcpUp()));
          break;
        case "down":
          if (which === "ipcp" && this.current === "open") this.current = "network";
          // LCP renegotiates (RFC 1661 §4.3 RCR in Opened): authentication and IPCP start over.
          if (which === "lcp" && this.current !== "terminate") {
            this.ipcp.abort();
            this.current = "establish";
          }
          break;
        case "finished":
          out.push(...this.finished(which, a.reason));
          break;
        case "echo-reply":
          this.echoOutstanding = 0;
          break;
        case "dropped":
          out.push(this.emit({ type: "dropped", cause: a.cause, detail: a.detail }));
          break;
      }
    }
    return out;
  }

  private finished(which: "lcp" | "ipcp", reason: string): PppLinkAction[] {
    if (which === "ipcp" && this.current !== "terminate") return this.close(`ipcp-${reason}`);
    if (which === "lcp" || this.current === "terminate") {
      const why = this.downReason || `lcp-${reason}`;
      this.current = "dead";
      this.ipcp.abort();
      return [{ type: "cancel-timer", name: "echo" }, { type: "cancel-timer", name: "auth" }, { type: "cancel-timer", name: "ipcp" }, this.emit({ type: "down", reason: why })];
    }
    return [];
  }

  private lcpUp(): PppLinkAction[] {
    const out: PppLinkAction[] = [this.emit({ type: "lcp-up" })];
    if (this.options.echoIntervalMs) out.push({ type: "set-timer", name: "echo", delayMs: this.options.echoIntervalMs });
    if (this.auth === "none") return [...out, ...this.networkPhase()];
    this.current = "authenticate";
    this.authTries = 0;
    if (this.options.role === "client" && this.auth === "pap") return [...out, ...this.sendPapRequest()];
    if (this.options.role === "server" && this.auth === "chap") return [...out, ...this.sendChallenge()];
    // Client CHAP waits for the Challenge; server PAP waits for the Authenticate-Request.
    return [...out, { type: "set-timer", name: "auth", delayMs: (this.options.restartMs ?? 3000) * (this.options.maxConfigure ?? 10) }];
  }

  private networkPhase(): PppLinkAction[] {
    this.current = "network";
    return [{ type: "cancel-timer", name: "auth" }, ...this.fromNegotiation("ipcp", this.ipcp.open())];
  }

  private ipcpUp(): PppLinkAction[] {
    this.current = "open";
    return [this.emit({ type: "ipcp-up", localAddress: this.ipcpLocal, peerAddress: this.peerAddress })];
  }

  // ------------------------------------------------------------------------------ authentication

  private sendPapRequest(): PppLinkAction[] {
    if (this.options.role !== "client") return [];
    this.authTries++;
    this.authIdentifier = (this.authIdentifier + 1) & 0xff;
    const info = encodePapPacket({ code: "authenticate-request", identifier: this.authIdentifier, peerId: Buffer.from(this.options.username), password: Buffer.from(this.options.password) });
    return [{ type: "send", frame: encodePppFrame({ protocol: PppProtocol.pap, information: info }) }, { type: "set-timer", name: "auth", delayMs: this.options.restartMs ?? 3000 }];
  }

  private sendChallenge(): PppLinkAction[] {
    if (this.options.role !== "server") return [];
    this.authTries++;
    this.authIdentifier = (this.authIdentifier + 1) & 0xff;
    this.challengeValue = this.options.challenge();
    const info = encodeChapPacket({ code: "challenge", identifier: this.authIdentifier, value: this.challengeValue, name: Buffer.from(this.options.name ?? "") });
    return [{ type: "send", frame: encodePppFrame({ protocol: PppProtocol.chap, information: info }) }, { type: "set-timer", name: "auth", delayMs: this.options.restartMs ?? 3000 }];
  }

  private authTimeout(): PppLinkAction[] {
    if (this.current !== "authenticate") return [];
    if (this.authTries >= (this.options.maxConfigure ?? 10)) return this.close("auth-no-answer");
    if (this.options.role === "client" && this.auth === "pap") return this.sendPapRequest();
    if (this.options.role === "server" && this.auth === "chap") return this.sendChallenge();
    return this.close("auth-no-answer");
  }

  private onPap(information: Buffer): PppLinkAction[] {
    let packet;
    try {
      packet = decodePapPacket(information);
    } catch (err) {
      if (err instanceof PppoeDecodeError) return this.drop(`pap-${err.code}`, err.message);
      throw err;
    }
    if (this.options.role === "client") {
      if (packet.code === "authenticate-request" || packet.identifier !== this.authIdentifier) return this.drop("pap-unexpected", `${packet.code} ${packet.identifier}`);
      if (packet.code === "authenticate-nak") return this.close(`auth-refused: ${packet.message.toString("utf8")}`);
      this.peerId = this.options.username;
      return [this.emit({ type: "authenticated", peerId: this.options.username }), ...this.networkPhase()];
    }
    if (packet.code !== "authenticate-request") return this.drop("pap-unexpected", packet.code);
    this.authIdentifier = packet.identifier;
    this.peerId = packet.peerId.toString("utf8");
    return [{ type: "cancel-timer", name: "auth" }, this.emit({ type: "authenticate", method: "pap", peerId: this.peerId, password: packet.password })];
  }

  private onChap(information: Buffer): PppLinkAction[] {
    let packet;
    try {
      packet = decodeChapPacket(information);
    } catch (err) {
      if (err instanceof PppoeDecodeError) return this.drop(`chap-${err.code}`, err.message);
      throw err;
    }
    if (this.options.role === "client") {
      if (packet.code === "challenge") {
        this.authIdentifier = packet.identifier;
        const value = chapMd5Response(packet.identifier, this.options.password, packet.value);
        const info = encodeChapPacket({ code: "response", identifier: packet.identifier, value, name: Buffer.from(this.options.username) });
        return [{ type: "cancel-timer", name: "auth" }, { type: "send", frame: encodePppFrame({ protocol: PppProtocol.chap, information: info }) }];
      }
      if (packet.code === "response" || packet.identifier !== this.authIdentifier) return this.drop("chap-unexpected", `${packet.code} ${packet.identifier}`);
      if (packet.code === "failure") return this.close(`auth-refused: ${packet.message.toString("utf8")}`);
      this.peerId = this.options.username;
      return [this.emit({ type: "authenticated", peerId: this.options.username }), ...this.networkPhase()];
    }
    if (packet.code !== "response" || packet.identifier !== this.authIdentifier) return this.drop("chap-unexpected", `${packet.code} ${packet.identifier}`);
    this.peerId = packet.name.toString("utf8");
    return [
      { type: "cancel-timer", name: "auth" },
      this.emit({ type: "authenticate", method: "chap", peerId: this.peerId, identifier: packet.identifier, challenge: this.challengeValue, response: packet.value }),
    ];
  }

  private onAuthResult(ok: boolean, message: string): PppLinkAction[] {
    if (this.options.role !== "server" || this.current !== "authenticate") return [];
    const info =
      this.auth === "pap"
        ? encodePapPacket({ code: ok ? "authenticate-ack" : "authenticate-nak", identifier: this.authIdentifier, message: Buffer.from(message) })
        : encodeChapPacket({ code: ok ? "success" : "failure", identifier: this.authIdentifier, message: Buffer.from(message) });
    const send: PppLinkAction = { type: "send", frame: encodePppFrame({ protocol: this.auth === "pap" ? PppProtocol.pap : PppProtocol.chap, information: info }) };
    if (!ok) {
      this.peerId = "";
      return [send, ...this.close("auth-refused")];
    }
    return [send, this.emit({ type: "authenticated", peerId: this.peerId }), ...this.networkPhase()];
  }

  // ----------------------------------------------------------------------------------- policies

  private lcpPolicy(): NegotiationPolicy {
    return {
      request: () => this.lcpRequest,
      judge: (options) => this.judgeLcp(options),
      nakked: (options) => {
        for (const o of options) {
          if (o.type === LcpOption.mru && o.data.length === 2) this.lcpRequest = this.lcpRequest.map((r) => (r.type === LcpOption.mru ? o : r));
          // The peer proposes another authentication protocol: take it if it is one we run (RFC 1661 §6.2).
          if (o.type === LcpOption.authProtocol && this.options.role === "server") {
            const proposed = o.data.readUInt16BE(0) === PppProtocol.pap ? "pap" : o.data.readUInt16BE(0) === PppProtocol.chap && o.data[2] === CHAP_MD5 ? "chap" : undefined;
            if (proposed) {
              this.auth = proposed;
              const option = authOption(proposed);
              this.lcpRequest = this.lcpRequest.map((r) => (r.type === LcpOption.authProtocol && option ? option : r));
            }
          }
        }
      },
      rejected: (options) => {
        const types = new Set(options.map((o) => o.type));
        // A server cannot give up authentication; the Max-Configure count ends such a link.
        this.lcpRequest = this.lcpRequest.filter((r) => !types.has(r.type) || r.type === LcpOption.authProtocol);
      },
    };
  }

  private judgeLcp(options: PppOption[]): Judgement {
    const reject: PppOption[] = [];
    const nak: PppOption[] = [];
    for (const o of options) {
      switch (o.type) {
        case LcpOption.mru:
          if (o.data.readUInt16BE(0) < 64) nak.push({ type: LcpOption.mru, data: u16(1492) });
          break;
        case LcpOption.accm:
          // We escape every control character anyway: any ACCM is fine to send under.
          break;
        case LcpOption.magicNumber:
          if (o.data.readUInt32BE(0) === this.options.magic) nak.push({ type: LcpOption.magicNumber, data: u32((this.options.magic * 7 + 1) >>> 0) });
          break;
        case LcpOption.authProtocol: {
          if (this.options.role === "server") {
            reject.push(o);
            break;
          }
          const protocol = o.data.readUInt16BE(0);
          if (protocol === PppProtocol.pap && o.data.length === 2) this.auth = "pap";
          else if (protocol === PppProtocol.chap && o.data.length === 3 && o.data[2] === CHAP_MD5) this.auth = "chap";
          else nak.push(authOption("chap") as PppOption);
          break;
        }
        default:
          // PFC, ACFC and options we do not implement (RFC 1661 §5.4).
          reject.push(o);
      }
    }
    if (reject.length) return { verdict: "reject", options: reject };
    if (nak.length) return { verdict: "nak", options: nak };
    return { verdict: "ack" };
  }

  private ipcpPolicy(): NegotiationPolicy {
    return {
      request: () => [{ type: IpcpOption.ipAddress, data: ipv4ToBuffer(this.ipcpLocal) }],
      judge: (options) => this.judgeIpcp(options),
      nakked: (options) => {
        // The server names our address in its Nak (RFC 1332 §3.3).
        const address = options.find((o) => o.type === IpcpOption.ipAddress);
        if (address && this.options.role === "client") this.ipcpLocal = bufferToIpv4(address.data);
      },
      rejected: () => undefined,
    };
  }

  private judgeIpcp(options: PppOption[]): Judgement {
    const reject = options.filter((o) => o.type !== IpcpOption.ipAddress);
    if (reject.length) return { verdict: "reject", options: reject };
    const asked = options.find((o) => o.type === IpcpOption.ipAddress);
    if (this.options.role === "client") {
      if (asked) this.peerAddress = bufferToIpv4(asked.data);
      return { verdict: "ack" };
    }
    this.assigned ??= this.options.assignAddress();
    if (this.assigned === undefined) return { verdict: "reject", options: asked ? [asked] : [] };
    const want = ipv4ToBuffer(this.assigned);
    if (!asked) return { verdict: "nak", options: [{ type: IpcpOption.ipAddress, data: want }] };
    if (!asked.data.equals(want)) return { verdict: "nak", options: [{ type: IpcpOption.ipAddress, data: want }] };
    this.peerAddress = this.assigned;
    return { verdict: "ack" };
  }

  /** The address handed to this peer (server), so a pool can take it back when the link ends. */
  get assignedAddress(): string | undefined {
    return this.assigned;
  }
}
