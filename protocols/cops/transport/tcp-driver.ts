// TCP (and optional TLS) driver for the COPS machines: node:net sockets, port 3288 by default, framing,
// timers. The machines stay sans-I/O; this file is the only one doing I/O.
import { EventEmitter } from "node:events";
import { createServer, connect as netConnect } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import type { ConnectionOptions, TlsOptions } from "node:tls";
import { COPS_PORT, HEADER_LENGTH } from "../constants.js";
import type { CopsMessage, CopsServerAddress } from "../cops-message.js";
import type { CopsAction, CopsMachine, CopsTransportEvent } from "../connection/cops-actions.js";
import type { CopsPdpConnection, CopsPdpCommand, CopsPdpEvent } from "../connection/pdp-connection.js";
import type { CopsPepConnection, CopsPepCommand, CopsPepEvent } from "../connection/pep-connection.js";
import { CopsFrameSplitter } from "./frame-splitter.js";
import { ConnectionGate, type ConnectionLimits, type MessagePhase, type RefusalListener } from "../../net/connection-limits.js";

/** Callbacks of a COPS TCP driver for every message written and read. */
export interface CopsWireHooks {
  /** Called for every message written (bytes as sent, decoded model). */
  onSend?(bytes: Buffer, message: CopsMessage): void;
  /** Called for every whole message read, before the machine sees it. */
  onReceive?(bytes: Buffer): void;
}

/** Runs one machine over one socket: frames input, executes actions, owns the timers. */
export class CopsSocketRunner<In, Out> {
  private socket: Socket | undefined;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private splitter: CopsFrameSplitter;

  constructor(
    private readonly machine: CopsMachine<In, Out>,
    private readonly onEvent: (event: Out) => void,
    private readonly options: CopsWireHooks & { maxMessageBytes?: number; onConnectRequest?: (event: Out) => void; onPhase?: (phase: MessagePhase) => void } = {},
  ) {
    this.splitter = new CopsFrameSplitter(options.maxMessageBytes);
  }

  /** Feeds an event (application command or transport event) to the machine and runs the actions. */
  dispatch(event: In | CopsTransportEvent): void {
    this.run(this.machine.handle(event, Date.now()));
  }

  /** Runs the machine over this socket: frames what it reads, writes what the machine sends. */
  attach(socket: Socket): void {
    this.socket = socket;
    this.splitter = new CopsFrameSplitter(this.options.maxMessageBytes);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      if (this.socket !== socket) return;
      const { frames, failure } = this.splitter.read(chunk);
      const held = this.splitter.buffered;
      this.options.onPhase?.(held === 0 ? "idle" : held < HEADER_LENGTH ? "head" : "body");
      for (const bytes of frames) {
        if (this.socket !== socket) return;
        this.options.onReceive?.(bytes);
        this.dispatch({ type: "message", bytes });
      }
      if (failure && this.socket === socket) {
        // Unusable framing: the machine sees the bad header and answers with CC Error (RFC 2748 §3.7).
        this.dispatch({ type: "message", bytes: failure.header });
        this.detach(socket);
      }
    });
    const gone = (reason: string) => {
      if (this.socket !== socket) return; // closed by us: the machine already knows
      this.socket = undefined;
      this.dispatch({ type: "disconnected", reason });
    };
    socket.on("error", (err) => gone(err.message));
    socket.on("close", () => gone("connection closed"));
    this.dispatch({ type: "connected" });
  }

  private detach(socket: Socket): void {
    if (this.socket === socket) this.socket = undefined;
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  /** Clears every timer the machine armed. */
  stopTimers(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private run(actions: CopsAction<Out>[]): void {
    for (const action of actions) {
      switch (action.type) {
        case "send":
          if (this.socket && !this.socket.destroyed) {
            this.socket.write(action.bytes);
            this.options.onSend?.(action.bytes, action.message);
          }
          break;
        case "set-timer": {
          const old = this.timers.get(action.name);
          if (old) clearTimeout(old);
          const t = setTimeout(() => {
            this.timers.delete(action.name);
            this.dispatch({ type: "timer", name: action.name });
          }, action.delayMs);
          t.unref();
          this.timers.set(action.name, t);
          break;
        }
        case "cancel-timer": {
          const t = this.timers.get(action.name);
          if (t) clearTimeout(t);
          this.timers.delete(action.name);
          break;
        }
        case "emit":
          this.onEvent(action.event);
          break;
        case "close":
          if (this.socket) this.detach(this.socket);
          break;
      }
    }
  }
}

/** Address, limits, TLS and the per-connection machine of a COPS PDP listener. */
export interface CopsPdpServerOptions extends CopsWireHooks {
  host?: string;
  /** TCP port; default 3288 (RFC 2748 §4.1). 0 picks a free port. */
  port?: number;
  /** When given, the server speaks TLS from the first octet (RFC 4261 transport, separate-port style). */
  tls?: TlsOptions;
  maxMessageBytes?: number;
  /** Caps and timeouts of inbound connections (DEFAULT_CONNECTION_LIMITS where not given; the idle timeout must exceed the KA timer). */
  connectionLimits?: Partial<ConnectionLimits>;
  /** Called for every connection the limits close or refuse. */
  onRefuse?: RefusalListener;
  /** A machine for each accepted connection; `peer` says who connected, to build its `admitPep`. */
  createMachine: (peer: CopsPdpPeer) => CopsPdpConnection;
}

/** What the listener knows of a connection when it makes its machine. */
export interface CopsPdpPeer {
  address: string;
  port: number;
  /** True while another connection of this listener has an accepted OPN naming `pepId`. */
  pepIdConnected(pepId: string): boolean;
}

/** One PEP connected to a PDP listener. */
export interface CopsPdpSession {
  machine: CopsPdpConnection;
  runner: CopsSocketRunner<CopsPdpCommand, CopsPdpEvent>;
  events: EventEmitter<{ event: [CopsPdpEvent] }>;
  /** Gives a command to this connection's PDP machine. */
  send(command: CopsPdpCommand): void;
}

/** Listens for PEPs; each accepted connection gets its own PDP machine. */
export async function listenCopsPdp(
  options: CopsPdpServerOptions,
  onSession: (session: CopsPdpSession) => void,
): Promise<{
  server: Server;
  port: number;
  /** Stops listening and the sessions' timers; resolves once the server is closed. */
  close(): Promise<void>;
}> {
  const sessions = new Set<CopsPdpSession>();
  const sockets = new Set<Socket>();
  /** Accepted PEPIDs and the connection that holds each. */
  const connected = new Map<string, CopsPdpSession>();
  const gate = new ConnectionGate(options.connectionLimits, options.onRefuse);
  const accept = (socket: Socket) => {
    if (socket.destroyed) return; // refused by the gate
    sockets.add(socket);
    const machine = options.createMachine({
      address: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
      pepIdConnected: (pepId) => connected.has(pepId),
    });
    const events = new EventEmitter<{ event: [CopsPdpEvent] }>();
    let pepId: string | undefined;
    const runner = new CopsSocketRunner<CopsPdpCommand, CopsPdpEvent>(
      machine,
      (e) => {
        if (e.type === "opened") {
          pepId = e.pepId;
          connected.set(e.pepId, session);
          socket.setTimeout(0); // an opened PEP's liveness is the keep-alive timer's (RFC 2748 §2.6), not the idle timeout
        }
        events.emit("event", e);
      },
      { ...options, onPhase: gate.watch(socket) },
    );
    const session: CopsPdpSession = { machine, runner, events, send: (c) => runner.dispatch(c) };
    sessions.add(session);
    socket.on("close", () => {
      sockets.delete(socket);
      runner.stopTimers();
      sessions.delete(session);
      if (pepId !== undefined && connected.get(pepId) === session) connected.delete(pepId);
    });
    onSession(session);
    runner.attach(socket);
  };
  const server = options.tls ? closeFailedHandshakes(createTlsServer(options.tls, accept)) : createServer(accept);
  gate.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? COPS_PORT, options.host ?? "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.runner.stopTimers();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** The PEP machine a connection drives, its TLS settings and message size limit. */
export interface CopsPepClientOptions extends CopsWireHooks {
  machine: CopsPepConnection;
  tls?: ConnectionOptions;
  maxMessageBytes?: number;
}

/** RFC 4261 over node:tls: a failed or timed-out handshake closes its socket (node leaves it open when nobody listens). */
function closeFailedHandshakes(server: TlsServer): TlsServer {
  server.on("tlsClientError", (_err, socket) => socket.destroy());
  return server;
}

/** Connects a PEP machine over TCP (or TLS), following its `connect` requests (primary, backups, redirects). */
export function connectCopsPep(options: CopsPepClientOptions): {
  events: EventEmitter<{ event: [CopsPepEvent] }>;
  /** Gives a command to the PEP machine. */
  send(command: CopsPepCommand): void;
  /** Closes the connection and stops the machine's timers. */
  close(): void;
} {
  const events = new EventEmitter<{ event: [CopsPepEvent] }>();
  let socket: Socket | undefined;
  let closed = false;
  const open = (server: CopsServerAddress | undefined) => {
    if (closed || !server) return;
    const s = options.tls
      ? tlsConnect({ ...options.tls, host: server.address, port: server.port })
      : netConnect({ host: server.address, port: server.port });
    socket = s;
    s.once(options.tls ? "secureConnect" : "connect", () => runner.attach(s));
    s.once("error", (err) => {
      if (s.connecting) runner.dispatch({ type: "disconnected", reason: err.message });
    });
  };
  const runner: CopsSocketRunner<CopsPepCommand, CopsPepEvent> = new CopsSocketRunner<CopsPepCommand, CopsPepEvent>(
    options.machine,
    (e) => {
      if (e.type === "connect") open(e.server);
      events.emit("event", e);
    },
    options,
  );
  for (const action of options.machine.start()) {
    if (action.type === "emit") {
      const e = action.event;
      if (e.type === "connect") open(e.server);
      events.emit("event", e);
    }
  }
  return {
    events,
    send: (command) => runner.dispatch(command),
    close: () => {
      closed = true;
      runner.dispatch({ type: "shutdown" });
      runner.stopTimers();
      socket?.destroy();
    },
  };
}
