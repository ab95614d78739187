// Copies the non-TypeScript files the runtime reads (next to its modules) into dist/, after tsc.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ASSETS = ["lib/replay/trace.proto", "protocols/dsc/dsc.proto"];

for (const asset of ASSETS) {
  const target = join(root, "dist", asset);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(root, asset), target);
}
