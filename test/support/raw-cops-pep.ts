// A COPS PEP on a raw TCP socket, for tests that feed a PDP hostile or hand-made input: what it writes, and the
// messages the PDP answers with (KA skipped, SSQ answered by SSC).
import { connect, type Socket } from "node:net";
import { expect } from "vitest";
import { CopsFrameSplitter, IntegritySession, decodeCopsMessage, encodeCopsMessage, type CopsIntegrityConfig, type CopsMessage } from "../../protocols/cops/index.js";

export /** A PEP on a raw TCP socket: what it writes, and the messages the PDP answers with. */
class RawPep {
  readonly socket: Socket;
  private readonly splitter = new CopsFrameSplitter();
  private readonly inbox: CopsMessage[] = [];
  private waiting: ((m: CopsMessage) => void) | undefined;
  readonly closed: Promise<void>;
  private seal: IntegritySession | undefined;

  constructor(port: number, integrity?: CopsIntegrityConfig) {
    if (integrity) this.seal = new IntegritySession(integrity);
    this.socket = connect({ host: "127.0.0.1", port });
    this.socket.on("error", () => undefined);
    this.closed = new Promise((resolve) => this.socket.on("close", () => resolve()));
    this.socket.on("data", (chunk: Buffer) => {
      for (const f of this.splitter.push(chunk)) {
        const m = decodeCopsMessage(f);
        if (m.op === "KA") continue;
        if (m.op === "SSQ") {
          // A PDP that saw this PEPID go away asks it to resynchronise (RFC 2748 §3.9): nothing to re-send.
          this.send({ op: "SSC", clientType: m.clientType });
          continue;
        }
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = undefined;
          w(m);
        } else this.inbox.push(m);
      }
    });
  }
  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }
  send(m: CopsMessage): void {
    this.write(this.seal ? this.seal.seal(m).bytes : encodeCopsMessage(m));
  }
  sealed(m: CopsMessage): Buffer {
    if (!this.seal) throw new Error("no keys");
    return this.seal.seal(m).bytes;
  }
  next(): Promise<CopsMessage> {
    const m = this.inbox.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve) => (this.waiting = resolve));
  }
  /** The PDP's CC, then the close: returns the CC's Error code. */
  async refusedWith(): Promise<number> {
    const m = await this.next();
    await this.closed;
    expect(m.op).toBe("CC");
    return m.op === "CC" ? m.error.code : -1;
  }
  end(): void {
    this.socket.destroy();
  }
}
