// Connection bookkeeping shared by the connection-oriented transports (TCP/TLS and WebSocket): connection
// ids, the per-peer index that lets a request reuse an open connection (RFC 3261 §18.1.1, RFC 7118 §5),
// and removal when a connection closes.
import type { TransportAddress } from "./transport-types.js";

export interface TransportConnection<Socket> {
  id: string;
  socket: Socket;
  peer: TransportAddress;
}

/** The peer address as text; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes plain IPv4. */
export function normaliseAddress(addr: string | undefined): string {
  if (!addr) return "";
  return addr.startsWith("::ffff:") && addr.includes(".") ? addr.slice(7) : addr;
}

export class ConnectionTable<Socket> {
  private nextId = 1;
  private readonly byId = new Map<string, TransportConnection<Socket>>();
  private readonly byPeer = new Map<string, string>();

  constructor(
    private readonly isOpen: (socket: Socket) => boolean,
    private readonly peerKey: (peer: { host: string; port: number }) => string,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  /** Registers a connection under a new id `<idPrefix>-<n>`; it becomes the one reused for its peer. */
  add(idPrefix: string, socket: Socket, peer: TransportAddress): TransportConnection<Socket> {
    const conn: TransportConnection<Socket> = { id: `${idPrefix}-${this.nextId++}`, socket, peer };
    this.byId.set(conn.id, conn);
    this.byPeer.set(this.peerKey(peer), conn.id);
    return conn;
  }

  /** Forgets a closed connection (and its peer entry, unless a newer connection took it over). */
  remove(conn: TransportConnection<Socket>): void {
    this.byId.delete(conn.id);
    const key = this.peerKey(conn.peer);
    if (this.byPeer.get(key) === conn.id) this.byPeer.delete(key);
  }

  hasOpen(connectionId: string): boolean {
    const conn = this.byId.get(connectionId);
    return conn !== undefined && this.isOpen(conn.socket);
  }

  /** An open connection to send on: the named one if still open, else the one last opened with the destination. */
  reusable(connectionId: string | undefined, destination: TransportAddress): TransportConnection<Socket> | undefined {
    let conn = connectionId !== undefined ? this.byId.get(connectionId) : undefined;
    if (!conn || !this.isOpen(conn.socket)) {
      const id = this.byPeer.get(this.peerKey(destination));
      conn = id !== undefined ? this.byId.get(id) : undefined;
    }
    return conn && this.isOpen(conn.socket) ? conn : undefined;
  }

  /** Closes every connection with `close` and forgets them all. */
  closeAll(close: (socket: Socket) => void): void {
    for (const c of this.byId.values()) close(c.socket);
    this.byId.clear();
    this.byPeer.clear();
  }
}
