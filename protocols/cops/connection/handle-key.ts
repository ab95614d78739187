// Request states are demultiplexed by Handle, compared byte-wise (RFC 2748 §2.2.1). A 4-octet handle (what
// callgate's PEPs allocate) is keyed by its 32-bit value, any other length by its hex text: no string per message.
/** A COPS Handle as a map key. */
export type HandleKey = number | string;

/** A COPS Handle as a map key (a number for 4-octet handles). */
export function handleKey(handle: Buffer): HandleKey {
  if (handle.length === 4) return ((handle[0] ?? 0) << 24) | ((handle[1] ?? 0) << 16) | ((handle[2] ?? 0) << 8) | (handle[3] ?? 0);
  return handle.toString("hex");
}

/** The handle octets of a key made by `handleKey` (a fresh buffer, for a message about to be sent). */
export function handleOfKey(key: HandleKey): Buffer {
  if (typeof key === "string") return Buffer.from(key, "hex");
  const out = Buffer.allocUnsafe(4);
  out.writeInt32BE(key, 0);
  return out;
}

/** Hex text of a handle, for messages. */
export function handleHex(handle: Buffer): string {
  return handle.toString("hex");
}

const SLAB_SIZE = 4096;
let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let slabUsed = 0;

/**
 * A copy of a small handle that a role keeps for a call's lifetime: carved out of a shared slab, so that it
 * neither pins the message it was read from nor costs an ArrayBuffer of its own.
 */
export function ownHandle(handle: Buffer): Buffer {
  const n = handle.length;
  if (n > 64) return Buffer.from(handle);
  if (slabUsed + n > SLAB_SIZE) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + n);
  handle.copy(out, 0);
  slabUsed += (n + 3) & ~3;
  return out;
}

/**
 * A copy of bytes kept for a call's lifetime (a REQ kept for resynchronisation, its ClientSI): exactly sized and
 * unpooled, so it pins neither the message it came from nor an 8 KiB Buffer pool slab shared with short-lived data.
 */
export function ownBytes(bytes: Buffer): Buffer {
  const out = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(out, 0);
  return out;
}
