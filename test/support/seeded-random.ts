// Seeded randomness for fuzz tests: the same seed gives the same inputs, so a failure can be replayed.

export { seededRandom } from "../../lib/drivers/seeded-random.js";

/** `length` bytes drawn from `rnd`, one draw per byte. */
export function randomBytes(rnd: () => number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(rnd() * 256);
  return out;
}
