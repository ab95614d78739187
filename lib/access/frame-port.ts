// The Ethernet side of the access roles: whole frames as UDP datagrams on loopback to and from a bridge process
// that owns a packet socket on the interface (`socat INTERFACE:<if> UDP-DATAGRAM:…`). Given an interface, the
// port starts that socat itself and reads the interface's MAC address.
import { spawn, type ChildProcess } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { readFileSync } from "node:fs";

/** A UDP address and port. */
export interface UdpEndpoint {
  /** IPv4 address. */
  address: string;
  /** Port (0: any, when binding). */
  port: number;
}

/** Where a frame port listens, where its bridge is, and what it calls on each frame. */
export interface FramePortOptions {
  /** Where we receive frames (port 0: any). */
  bind: UdpEndpoint;
  /** Where the bridge receives the frames we send; with `interface`, the bridge's port (0: any free one). */
  bridge: UdpEndpoint;
  /** Start `socat` on this interface as the bridge. */
  interface?: string;
  /** Called on every frame received. */
  onFrame: (bytes: Buffer) => void;
  /** Called when a bridge this port started exits. */
  onBridgeExit?: (code: number | null) => void;
}

/** Largest Ethernet frame a PPPoE port takes (1500 payload + 14 header + 4 for a VLAN tag). */
export const MAX_FRAME_BYTES = 1518;

/** Socket buffers asked for on both sides of the bridge (the kernel caps them at net.core.rmem_max). */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

async function bindUdp(at: UdpEndpoint, buffered = false): Promise<Socket> {
  const socket = createSocket({ type: "udp4", ...(buffered ? { recvBufferSize: SOCKET_BUFFER_BYTES, sendBufferSize: SOCKET_BUFFER_BYTES } : {}) });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(at.port, at.address, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  return socket;
}

async function freeUdpPort(address: string): Promise<number> {
  const probe = await bindUdp({ address, port: 0 });
  const { port } = probe.address();
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

/** The MAC address of a Linux interface, from sysfs. */
export function interfaceMac(name: string): string {
  if (!/^[\w.-]{1,15}$/.test(name)) throw new RangeError(`not an interface name: ${JSON.stringify(name)}`);
  return readFileSync(`/sys/class/net/${name}/address`, "utf8").trim().toLowerCase();
}

/** Whole Ethernet frames to and from a bridge process, one UDP datagram per frame. */
export class FramePort {
  private bridgeProcess: ChildProcess | undefined;
  private closed = false;
  /** Frames sent and received, and datagrams too large to be a frame (dropped). */
  readonly counts = { sent: 0, received: 0, oversized: 0 };

  private constructor(
    private readonly socket: Socket,
    private readonly bridge: UdpEndpoint,
  ) {}

  /** Binds the port and, given an interface, starts `socat` on it and waits until its UDP end is bound. */
  static async open(options: FramePortOptions): Promise<FramePort> {
    const socket = await bindUdp(options.bind, true);
    const bridge = { ...options.bridge };
    if (options.interface && bridge.port === 0) bridge.port = await freeUdpPort(bridge.address);
    const port = new FramePort(socket, bridge);
    socket.on("message", (bytes) => {
      if (bytes.length > MAX_FRAME_BYTES) {
        port.counts.oversized++;
        return;
      }
      port.counts.received++;
      options.onFrame(bytes);
    });
    if (options.interface) {
      const local = socket.address();
      const child = spawn("socat", [
          `INTERFACE:${options.interface},rcvbuf=${SOCKET_BUFFER_BYTES}`,
          `UDP-DATAGRAM:${local.address}:${local.port},bind=${bridge.address}:${bridge.port},rcvbuf=${SOCKET_BUFFER_BYTES}`,
        ], { stdio: "ignore" });
      port.bridgeProcess = child;
      child.once("exit", (code) => {
        if (!port.closed) options.onBridgeExit?.(code);
      });
      // socat opens its packet socket and binds its UDP end before it reads; wait until that port is taken.
      for (let i = 0; i < 100; i++) {
        const taken = await bindUdp(bridge).then(
          (s) => new Promise<boolean>((r) => s.close(() => r(false))),
          () => true,
        );
        if (taken) break;
        if (child.exitCode !== null) throw new Error(`socat on ${options.interface} exited with ${child.exitCode}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    return port;
  }

  /** Where this port receives frames. */
  get address(): UdpEndpoint {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  /** One frame to the bridge. */
  send(bytes: Buffer): void {
    this.counts.sent++;
    this.socket.send(bytes, this.bridge.port, this.bridge.address);
  }

  /**
   * Many frames at once (the PADTs of a stop), `burst` at a time with a pause between: the bridge's socket and
   * the peer's hold a few hundred frames, so a thousand sent in one go would mostly be lost.
   */
  async sendPaced(frames: Buffer[], burst = 32, pauseMs = 2): Promise<void> {
    for (let i = 0; i < frames.length; i += burst) {
      for (const f of frames.slice(i, i + burst)) this.send(f);
      if (i + burst < frames.length) await new Promise((r) => setTimeout(r, pauseMs));
    }
  }

  /** Stops the bridge this port started (after it wrote the last frames) and closes the socket. */
  async close(): Promise<void> {
    this.closed = true;
    const child = this.bridgeProcess;
    if (child && child.exitCode === null) {
      // Frames just sent (the PADTs of a stop) are still in the bridge's socket: let it write them out.
      if (this.counts.sent > 0) await new Promise((r) => setTimeout(r, 200));
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      await exited;
    }
    await new Promise<void>((r) => this.socket.close(() => r()));
  }
}
