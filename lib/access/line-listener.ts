// End users' lines: one TCP connection per line carrying PPP in RFC 1662 HDLC-like framing (flags, octet
// stuffing, FCS-16). The connection limits every listener applies (count, idle, a frame's deadline once its first
// octet arrived) come from protocols/net; frames are bounded in size by the deframer.
import { createServer, type Server, type Socket } from "node:net";
import { HdlcDeframer, encodeHdlcFrame } from "../../protocols/pppoe/index.js";
import { ConnectionGate, type ConnectionLimits, type RefusalListener } from "../../protocols/net/connection-limits.js";

export interface LineListenerOptions {
  host: string;
  port: number;
  limits: Partial<ConnectionLimits>;
  /** Longest PPP frame a line may send, unstuffed, FCS included. */
  maxFrameBytes: number;
  /** Octets queued toward one line before frames to it are dropped (a slow reader). Default 256 KiB. */
  maxQueuedBytes?: number;
  onOpen: (line: number) => void;
  onFrame: (line: number, frame: Buffer) => void;
  onClose: (line: number) => void;
  /** A frame in error (bad FCS, too long, aborted) or dropped toward a slow line. */
  onDrop: (cause: string, detail: Record<string, unknown>) => void;
  onRefuse?: RefusalListener;
}

const ADDRESS_CONTROL = Buffer.from([0xff, 0x03]);

export class LineListener {
  private readonly sockets = new Map<number, Socket>();
  private nextLine = 1;
  readonly gate: ConnectionGate;

  private constructor(
    private readonly server: Server,
    private readonly options: LineListenerOptions,
  ) {
    this.gate = new ConnectionGate(options.limits, options.onRefuse);
  }

  static async listen(options: LineListenerOptions): Promise<LineListener> {
    const server = createServer();
    const listener = new LineListener(server, options);
    listener.gate.attach(server);
    server.on("connection", (socket) => listener.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => resolve());
    });
    return listener;
  }

  get address(): { host: string; port: number } {
    const a = this.server.address() as { address: string; port: number };
    return { host: a.address, port: a.port };
  }
  get open(): number {
    return this.sockets.size;
  }

  private accept(socket: Socket): void {
    if (socket.destroyed) return; // refused by the gate
    const line = this.nextLine++;
    this.sockets.set(line, socket);
    socket.setNoDelay(true);
    const deframer = new HdlcDeframer({ maxFrameBytes: this.options.maxFrameBytes });
    const phase = this.gate.watch(socket);
    socket.on("data", (chunk: Buffer) => {
      for (const r of deframer.push(chunk)) {
        if (r.type === "frame") this.options.onFrame(line, r.frame);
        else this.options.onDrop(`line-${r.error.code}`, { line, offset: r.error.offset });
      }
      // A frame begun must end before the head deadline (a line that stops mid-frame is closed).
      phase(deframer.pendingBytes > 0 ? "head" : "idle");
    });
    socket.on("error", () => undefined);
    socket.once("close", () => {
      this.sockets.delete(line);
      this.options.onClose(line);
    });
    this.options.onOpen(line);
  }

  /** One PPP frame (Protocol first) to a line, with Address/Control, FCS-16, all control octets escaped. */
  send(line: number, frame: Buffer): void {
    const socket = this.sockets.get(line);
    if (!socket || socket.destroyed) return;
    if (socket.writableLength > (this.options.maxQueuedBytes ?? 262_144)) {
      this.options.onDrop("line-backpressure", { line, queued: socket.writableLength });
      return;
    }
    socket.write(encodeHdlcFrame(Buffer.concat([ADDRESS_CONTROL, frame])));
  }

  close(line: number): void {
    const socket = this.sockets.get(line);
    if (socket) socket.end(() => socket.destroy());
  }

  async stop(): Promise<void> {
    for (const s of this.sockets.values()) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
