// IPv4 addresses handed to PPP peers from one range, each to one holder at a time.
import { bufferToIpv4, ipv4ToBuffer } from "../../protocols/pppoe/index.js";

/** IPv4 addresses handed to PPP peers from one range, each to one holder at a time. */
export class AddressPool {
  private readonly first: number;
  private readonly size: number;
  private readonly inUse = new Set<number>();
  private cursor = 0;

  /** Addresses `first` .. `last` inclusive. */
  constructor(first: string, last: string) {
    this.first = ipv4ToBuffer(first).readUInt32BE(0);
    const end = ipv4ToBuffer(last).readUInt32BE(0);
    if (end < this.first) throw new RangeError(`address range ${first}..${last} is empty`);
    this.size = end - this.first + 1;
  }

  get capacity(): number {
    return this.size;
  }
  get used(): number {
    return this.inUse.size;
  }

  /** A free address, or undefined when all are taken. */
  allocate(): string | undefined {
    if (this.inUse.size >= this.size) return undefined;
    for (let i = 0; i < this.size; i++) {
      const n = this.first + ((this.cursor + i) % this.size);
      if (!this.inUse.has(n)) {
        this.inUse.add(n);
        this.cursor = (this.cursor + i + 1) % this.size;
        const b = Buffer.alloc(4);
        b.writeUInt32BE(n >>> 0, 0);
        return bufferToIpv4(b);
      }
    }
    return undefined;
  }

  /** Gives an address back to the pool. */
  release(address: string): void {
    this.inUse.delete(ipv4ToBuffer(address).readUInt32BE(0));
  }
}
