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
export const RADIUS_ACCT_PORT = 1813;

export class RadiusTimeoutError extends Error {
  constructor(readonly to: RadiusEndpoint, readonly retransmissions: number) {
    super(`RADIUS server ${to.address}:${to.port} did not answer after ${retransmissions} retransmissions`);
    this.name = "RadiusTimeoutError";
  }
}

export class RadiusQueueFullError extends Error {
  constructor(readonly to: RadiusEndpoint) {
    super(`RADIUS requests to ${to.address}:${to.port} exceed the queue bound`);
    this.name = "RadiusQueueFullError";
  }
}

export type RadiusDropListener = (cause: string, from: RadiusEndpoint) => void;

function bindSocket(address: string, port: number): Promise<Socket> {
  const socket = createSocket(isIPv6(address) ? "udp6" : "udp4");
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, address, () => {
      socket.off("error", reject);
      resolve(socket);
    });
  });
}

export interface RadiusUdpClientOptions extends Omit<RadiusClientOptions, "randomBytes"> {
  /** Local address to bind (default 0.0.0.0). */
  bindAddress?: string;
  onDrop?: RadiusDropListener;
}

export class RadiusUdpClient {
  private readonly machine: RadiusClientMachine;
  private readonly waiting = new Map<number, { to: RadiusEndpoint; resolve: (p: RadiusPacket) => void; reject: (e: Error) => void }>();
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly socket: Socket, private readonly options: RadiusUdpClientOptions) {
    this.machine = new RadiusClientMachine({ ...options, randomBytes, random: options.random ?? Math.random });
    socket.on("message", (msg, rinfo) => this.run(this.machine.receive(performance.now(), { address: rinfo.address, port: rinfo.port }, msg)));
  }

  static async open(options: RadiusUdpClientOptions): Promise<RadiusUdpClient> {
    return new RadiusUdpClient(await bindSocket(options.bindAddress ?? "0.0.0.0", 0), options);
  }

  get outstanding(): number {
    return this.machine.outstanding;
  }

  get queued(): number {
    return this.machine.queued;
  }

  /** Send and wait for the verified response; rejects with RadiusTimeoutError when the server stays silent. */
  request(to: RadiusEndpoint, request: RadiusRequest): Promise<RadiusPacket> {
    return new Promise((resolve, reject) => {
      const { handle, actions } = this.machine.send(performance.now(), to, request);
      this.waiting.set(handle, { to, resolve, reject });
      this.run(actions);
    });
  }

  private run(actions: RadiusClientAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case "send":
          this.socket.send(a.datagram, a.to.port, a.to.address);
          break;
        case "response":
          this.waiting.get(a.handle)?.resolve(a.packet);
          this.waiting.delete(a.handle);
          break;
        case "timeout": {
          const w = this.waiting.get(a.handle);
          this.waiting.delete(a.handle);
          w?.reject(new RadiusTimeoutError(w.to, a.retransmissions));
          break;
        }
        case "queue-full": {
          const w = this.waiting.get(a.handle);
          this.waiting.delete(a.handle);
          w?.reject(new RadiusQueueFullError(w.to));
          break;
        }
        case "drop":
          this.options.onDrop?.(a.cause, a.from);
          break;
      }
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.machine.nextDeadline();
    if (next === undefined) return;
    this.timer = setTimeout(() => this.run(this.machine.tick(performance.now())), Math.max(0, next - performance.now()) + 1);
  }

  close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.waiting.values()) w.reject(new Error("RADIUS client closed"));
    this.waiting.clear();
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export type RadiusRequestHandler = (packet: RadiusPacket, from: RadiusEndpoint) => RadiusReply | undefined | Promise<RadiusReply | undefined>;

export interface RadiusUdpServerOptions extends RadiusServerOptions {
  address?: string;
  /** Default 1812; 0 picks a free port. */
  port?: number;
  /** Returns the reply, or undefined to send none (RFC 2866 §2: record not stored). */
  handler: RadiusRequestHandler;
  onDrop?: RadiusDropListener;
}

export class RadiusUdpServer {
  private readonly machine: RadiusServerMachine;
  private readonly sweep: NodeJS.Timeout;

  private constructor(private readonly socket: Socket, private readonly options: RadiusUdpServerOptions) {
    this.machine = new RadiusServerMachine(options);
    socket.on("message", (msg, rinfo) => this.run(this.machine.receive(performance.now(), { address: rinfo.address, port: rinfo.port }, msg)));
    this.sweep = setInterval(() => this.machine.tick(performance.now()), 1000);
    this.sweep.unref();
  }

  static async listen(options: RadiusUdpServerOptions): Promise<RadiusUdpServer> {
    return new RadiusUdpServer(await bindSocket(options.address ?? "127.0.0.1", options.port ?? RADIUS_AUTH_PORT), options);
  }

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

  close(): Promise<void> {
    clearInterval(this.sweep);
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
