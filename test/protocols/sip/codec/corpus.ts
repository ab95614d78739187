// Access to the RFC 4475 torture-test corpus in ../shared (relative to the repo root, vitest's cwd).
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const RFC4475_DIR = resolve(process.cwd(), "../shared/corpora/rfc4475");

export function rfc4475(name: string): Buffer {
  for (const dir of ["valid", "invalid"]) {
    try {
      return readFileSync(join(RFC4475_DIR, dir, `${name}.dat`));
    } catch {
      // try the other folder
    }
  }
  throw new Error(`RFC 4475 message ${name} not found under ${RFC4475_DIR}`);
}

export function rfc4475Names(dir: "valid" | "invalid"): string[] {
  return readdirSync(join(RFC4475_DIR, dir))
    .filter((f) => f.endsWith(".dat"))
    .map((f) => f.slice(0, -4))
    .sort();
}
