// Seeded randomness for fuzz tests: the same seed gives the same inputs, so a failure can be replayed.

export { seededRandom } from "../../lib/drivers/seeded-random.js";

/** `length` bytes drawn from `rnd`, one draw per byte. */
export function randomBytes(rnd: () => number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(rnd() * 256);
  return out;
}

/**
 * Seed of a seeded fuzz run: `OSP_FUZZ_SEED` when set; one fixed seed under CI (a failure there repeats from its
 * log, as fast-check's does); else the clock, so developers' runs keep finding new inputs.
 */
export function fuzzSeed(): number {
  const fromEnv = process.env.OSP_FUZZ_SEED;
  if (fromEnv !== undefined) return Number(fromEnv);
  return process.env.CI ? 20261204 : Date.now() % 2 ** 31;
}
