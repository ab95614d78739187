// ESLint rule: no import cycle among the project's modules, `import type` and `export … from` counted
// (import-x/no-cycle skips type-only imports). The graph is read once per lint run from the files' import
// lines; a cycle is reported on each import of a file that leads back to it.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";

const IMPORT = /^\s*(?:import|export)\s+(?:type\s+)?(?:[^"';]*?\sfrom\s+)?["'](\.[^"']+)["']/gm;
const DYNAMIC = /import\(\s*["'](\.[^"']+)["']\s*\)/g;

/** The file a relative specifier names: `./x.js` is `./x.ts` in the sources. */
function resolveSpecifier(from, specifier) {
  const base = normalize(join(dirname(from), specifier));
  for (const candidate of [base.replace(/\.js$/, ".ts"), `${base}.ts`, join(base, "index.ts"), base]) if (candidate.endsWith(".ts") && existsSync(candidate)) return candidate;
  return undefined;
}

const importsOf = new Map();
function imports(file) {
  let deps = importsOf.get(file);
  if (deps) return deps;
  deps = new Set();
  importsOf.set(file, deps);
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return deps;
  }
  for (const re of [IMPORT, DYNAMIC]) for (const m of text.matchAll(re)) {
    const target = resolveSpecifier(file, m[1]);
    if (target) deps.add(target);
  }
  return deps;
}

/** A path of imports from `start` back to `goal`, or undefined (depth-first, each file once). */
function pathBack(start, goal, seen = new Set()) {
  if (start === goal) return [goal];
  if (seen.has(start)) return undefined;
  seen.add(start);
  for (const next of imports(start)) {
    const rest = pathBack(next, goal, seen);
    if (rest) return [start, ...rest];
  }
  return undefined;
}

export const noImportCycle = {
  meta: { type: "problem", docs: { description: "no import cycle, type imports counted" }, schema: [], messages: { cycle: "import cycle: {{path}}" } },
  create(context) {
    const file = normalize(context.filename);
    const check = (node) => {
      const specifier = node.source?.value;
      if (typeof specifier !== "string" || !specifier.startsWith(".")) return;
      const target = resolveSpecifier(file, specifier);
      if (!target) return;
      const back = pathBack(target, file);
      if (back) context.report({ node: node.source, messageId: "cycle", data: { path: [file, ...back].map((f) => f.slice(process.cwd().length + 1)).join(" → ") } });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
  },
};
