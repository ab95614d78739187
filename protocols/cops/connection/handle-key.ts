// Request states are demultiplexed by Handle, compared byte-wise (RFC 2748 §2.2.1).
export function handleKey(handle: Buffer): string {
  return handle.toString("hex");
}
