// Thin node:dgram drivers around the RADIUS machines: they own sockets and timers, nothing else.
import { randomBytes } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import { performance } from "node:perf_hooks";
import { RadiusClientMachine, type RadiusClientAction, type RadiusClientOptions, type RadiusEndpoint, type RadiusRequest } from "./client.js";
import type { RadiusPacket } from "./codec.js";
import { RadiusServerMachine, type RadiusReply, type RadiusServerAction, type RadiusServerOptions } from "./server.js";

/** RFC 2865 §3 and RFC 2866 §3 ports. */
export const RADIUS_AUTH_PORT = 1812;
/** The accounting port (RFC 2866 §3). */
export const RADIUS_ACCT_PORT = 1813;

/** No answer after every retransmission. */
export class RadiusTimeoutError extends Error {
  constructor(readonly to: RadiusEndpoint, readonly retransmissions: number) {
    super(`RADIUS server ${to.address}:${to.port} did not answer after ${retransmissions} retransmissions`);
    this.name = "RadiusTimeoutError";
  }
}

/** No Identifier free for another request to this server. */
export class RadiusQueueFullError extends Error {
  constructor(readonly to: RadiusEndpoint) {
    super(`RADIUS requests to ${to.address}:${to.port} exceed the queue bound`);
    this.name = "RadiusQueueFullError";
  }
}

/** Told of every packet dropped and why. */
export type RadiusDropListener = (cause: string, from: RadiusEndpoint) => void;

/** Binds a UDP socket (udp6 for an IPv6 address) to `address` and `port` (0: any free port). */
export function bindRadiusSocket(address: string, port: number, receiveBufferBytes?: number): Promise<Socket> {
  const socket = createSocket({ type: isIPv6(address) ? "udp6" : "udp4", ...(receiveBufferBytes ? { recvBufferSize: receiveBufferBytes } : {}) });
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, address, () => {
      socket.off("error", reject);
      resolve(socket);
    });
  });
}

/** What the owner of a RadiusClientSocket does with the client machine's actions, and when else it has work. */
export interface RadiusClientSocketHooks {
  /** A batch of the machine's actions; called before the batch's datagrams leave (an owner may note them first). */
  onActions(actions: RadiusClientAction[]): void;
  /**
   * A time (performance.now() ms) the owner has work at besides the machine's next deadline, e.g. when a server
   * that stayed silent may be tried again (failover); read each time the timer is set.
   */
  nextWake?(): number | undefined;
  /** The timer fired and the machine's retransmissions and give-ups due are done. */
  onWake?(): void;
}

/**
 * One local UDP socket, the RADIUS client machine that owns its Identifier spaces, and one timer for the
 * machine's retransmissions (and the owner's wake-ups): the driver of every RADIUS client here.
 */
export class RadiusClientSocket {
  readonly machine: RadiusClientMachine;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  constructor(readonly socket: Socket, options: Omit<RadiusClientOptions, "randomBytes"> & { randomBytes?: (length: number) => Buffer }, private readonly hooks: RadiusClientSocketHooks) {
    this.machine = new RadiusClientMachine({ ...options, randomBytes: options.randomBytes ?? randomBytes, random: options.random ?? Math.random });
    socket.on("message", (msg, rinfo) => this.apply(this.machine.receive(performance.now(), { address: rinfo.address, port: rinfo.port }, msg)));
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  /**
   * Carries out the machine's actions: the owner's hook first (it has registered the handle of a request it
   * just gave the machine, and notes what leaves), then the datagrams leave, then the timer is set.
   */
  apply(actions: RadiusClientAction[]): void {
    this.hooks.onActions(actions);
    for (const a of actions) if (a.type === "send") this.socket.send(a.datagram, a.to.port, a.to.address);
    this.schedule();
  }

  /** One timer at the earliest of the machine's next deadline and the owner's; re-armed only when that moves earlier. */
  schedule(): void {
    let next = this.machine.nextDeadline();
    const owner = this.hooks.nextWake?.();
    if (owner !== undefined && (next === undefined || owner < next)) next = owner;
    if (next === undefined || next >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.apply(this.machine.tick(performance.now()));
      this.hooks.onWake?.();
    }, Math.max(0, next - performance.now()) + 1);
  }

  /** Stops the timer and closes the socket. */
  close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Secret, timeouts and socket of a RadiusUdpClient. */
export interface RadiusUdpClientOptions extends Omit<RadiusClientOptions, "randomBytes"> {
  /** Local address to bind (default 0.0.0.0). */
  bindAddress?: string;
  /**
   * Local sockets (source ports) to spread requests over (default 1). Each has its own Identifier space per
   * server (RFC 2865 §3: the Identifier is unique per source address and port), so more ports, more in flight.
   */
  sourcePorts?: number;
  /** SO_RCVBUF of each socket (bounded by net.core.rmem_max): room for bursts of answers. */
  receiveBufferBytes?: number;
  onDrop?: RadiusDropListener;
}

interface Waiter {
  to: RadiusEndpoint;
  resolve: (p: RadiusPacket) => void;
  reject: (e: Error) => void;
}

/** One source port of a RadiusUdpClient: its socket, and the requests waiting for an answer on it. */
class SourcePort {
  readonly client: RadiusClientSocket;
  readonly waiting = new Map<number, Waiter>();

  constructor(socket: Socket, private readonly options: RadiusUdpClientOptions) {
    this.client = new RadiusClientSocket(socket, options, { onActions: (actions) => this.settle(actions) });
  }

  get load(): number {
    return this.client.machine.outstanding + this.client.machine.queued;
  }

  request(to: RadiusEndpoint, request: RadiusRequest, waiter: Omit<Waiter, "to">): void {
    const { handle, actions } = this.client.machine.send(performance.now(), to, request);
    this.waiting.set(handle, { to, ...waiter });
    this.client.apply(actions);
  }

  private settle(actions: RadiusClientAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case "response":
          this.take(a.handle)?.resolve(a.packet);
          break;
        case "timeout": {
          const w = this.take(a.handle);
          w?.reject(new RadiusTimeoutError(w.to, a.retransmissions));
          break;
        }
        case "queue-full": {
          const w = this.take(a.handle);
          w?.reject(new RadiusQueueFullError(w.to));
          break;
        }
        case "drop":
          this.options.onDrop?.(a.cause, a.from);
          break;
        case "send":
          break;
      }
    }
  }

  private take(handle: number): Waiter | undefined {
    const w = this.waiting.get(handle);
    this.waiting.delete(handle);
    return w;
  }

  /** Closes the socket; requests still waiting are rejected. */
  close(): Promise<void> {
    for (const w of this.waiting.values()) w.reject(new Error("RADIUS client closed"));
    this.waiting.clear();
    return this.client.close();
  }
}

/** A RADIUS client on a UDP socket: retransmits, matches answers, verifies them. */
export class RadiusUdpClient {
  private constructor(private readonly ports: SourcePort[]) {}

  /** Opens a client on a fresh UDP socket. */
  static async open(options: RadiusUdpClientOptions): Promise<RadiusUdpClient> {
    const count = Math.max(1, options.sourcePorts ?? 1);
    const sockets = await Promise.all(Array.from({ length: count }, () => bindRadiusSocket(options.bindAddress ?? "0.0.0.0", 0, options.receiveBufferBytes)));
    return new RadiusUdpClient(sockets.map((s) => new SourcePort(s, options)));
  }

  get outstanding(): number {
    return this.ports.reduce((n, p) => n + p.client.machine.outstanding, 0);
  }

  get queued(): number {
    return this.ports.reduce((n, p) => n + p.client.machine.queued, 0);
  }

  /** Local ports the requests leave from. */
  localPorts(): number[] {
    return this.ports.map((p) => p.client.localPort);
  }

  /** Send and wait for the verified response; rejects with RadiusTimeoutError when the server stays silent. */
  request(to: RadiusEndpoint, request: RadiusRequest): Promise<RadiusPacket> {
    let port = this.ports[0]!;
    for (const p of this.ports) if (p.load < port.load) port = p;
    return new Promise((resolve, reject) => port.request(to, request, { resolve, reject }));
  }

  /** Closes the client's sockets; requests still waiting are rejected. */
  async close(): Promise<void> {
    await Promise.all(this.ports.map((p) => p.close()));
  }
}

/** Answers one request (or undefined: no answer). */
export type RadiusRequestHandler = (packet: RadiusPacket, from: RadiusEndpoint) => RadiusReply | undefined | Promise<RadiusReply | undefined>;

/** Address, secrets, handler and drop listener of a RadiusUdpServer. */
export interface RadiusUdpServerOptions extends RadiusServerOptions {
  address?: string;
  /** Default 1812; 0 picks a free port. */
  port?: number;
  /** Returns the reply, or undefined to send none (RFC 2866 §2: record not stored). */
  handler: RadiusRequestHandler;
  /** SO_RCVBUF of the socket (bounded by net.core.rmem_max): room for bursts of requests. */
  receiveBufferBytes?: number;
  onDrop?: RadiusDropListener;
}

/** A RADIUS server on a UDP socket, answering through a handler. */
export class RadiusUdpServer {
  private readonly machine: RadiusServerMachine;
  private readonly sweep: NodeJS.Timeout;

  private constructor(private readonly socket: Socket, private readonly options: RadiusUdpServerOptions) {
    this.machine = new RadiusServerMachine(options);
    socket.on("message", (msg, rinfo) => this.run(this.machine.receive(performance.now(), { address: rinfo.address, port: rinfo.port }, msg)));
    this.sweep = setInterval(() => this.machine.tick(performance.now()), 1000);
    this.sweep.unref();
  }

  /** Binds a server to its address and port. */
  static async listen(options: RadiusUdpServerOptions): Promise<RadiusUdpServer> {
    return new RadiusUdpServer(await bindRadiusSocket(options.address ?? "127.0.0.1", options.port ?? RADIUS_AUTH_PORT, options.receiveBufferBytes), options);
  }

  /** The address and port the server is bound to. */
  address(): RadiusEndpoint {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  get cacheSize(): number {
    return this.machine.cacheSize;
  }

  private run(actions: RadiusServerAction[]): void {
    for (const a of actions) {
      if (a.type === "send") this.socket.send(a.datagram, a.to.port, a.to.address);
      else if (a.type === "drop") this.options.onDrop?.(a.cause, a.from);
      else void this.handle(a.requestId, a.packet, a.from);
    }
  }

  private async handle(requestId: number, packet: RadiusPacket, from: RadiusEndpoint): Promise<void> {
    let reply: RadiusReply | undefined;
    try {
      reply = await this.options.handler(packet, from);
    } catch {
      reply = undefined;
    }
    if (reply === undefined) this.machine.abandon(requestId);
    else this.run(this.machine.respond(performance.now(), requestId, reply));
  }

  /** Stops listening and closes the socket. */
  close(): Promise<void> {
    clearInterval(this.sweep);
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
