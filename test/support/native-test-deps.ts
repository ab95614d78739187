// Native modules only the tests use (better-sqlite3, for the SQLite CDR and quota stores) are no dependency of
// the project, so `npm ci` builds nothing. test/native-deps holds them with a lockfile of their own; before the
// tests run (vitest globalSetup) this installs them there with `npm ci --prefix test/native-deps` when the
// project does not load them yet, and links each into node_modules, where the library and the tests resolve it.
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const PREFIX = join(ROOT, "test", "native-deps");
const LOCK_DIR = join(PREFIX, ".installing");
const INSTALL_DEADLINE_MS = 15 * 60_000;

/** The native modules of test/native-deps/package.json. */
function nativeModules(): string[] {
  const manifest = JSON.parse(readFileSync(join(PREFIX, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
  return Object.keys(manifest.dependencies ?? {});
}

/** True when every module loads from `dir` (better-sqlite3 loads its binding only when a database opens). */
function loadsFrom(dir: string, modules: readonly string[]): boolean {
  const probe = modules
    .map((m) => (m === "better-sqlite3" ? `new (require(${JSON.stringify(m)}))(":memory:").close();` : `require(${JSON.stringify(m)});`))
    .join("");
  try {
    execFileSync(process.execPath, ["-e", probe], { cwd: dir, stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function installedVersionsMatchLock(modules: readonly string[]): boolean {
  const lockPath = join(PREFIX, "package-lock.json");
  const lock = JSON.parse(readFileSync(lockPath, "utf8")) as { packages: Record<string, { version?: string }> };
  return modules.every((m) => {
    const manifest = join(PREFIX, "node_modules", m, "package.json");
    if (!existsSync(manifest)) return false;
    const installed = (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
    return installed === lock.packages[`node_modules/${m}`]?.version;
  });
}

function linkIntoRoot(modules: readonly string[]): void {
  for (const m of modules) {
    const link = join(ROOT, "node_modules", m);
    const target = join(PREFIX, "node_modules", m);
    let stat;
    try {
      stat = lstatSync(link);
    } catch {
      stat = undefined;
    }
    if (stat && !stat.isSymbolicLink()) {
      throw new Error(`node_modules/${m} is installed but does not load; remove it (rm -rf node_modules/${m}) so the tests link test/native-deps's build`);
    }
    if (stat) unlinkSync(link);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(relative(dirname(link), target), link, "dir");
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** One installer at a time: a second test run started meanwhile waits for the first one's install. */
function withInstallLock(work: () => void): void {
  const deadline = Date.now() + INSTALL_DEADLINE_MS;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let owner = NaN;
      try {
        owner = Number(readFileSync(join(LOCK_DIR, "pid"), "utf8"));
      } catch {
        // the owner has not written its pid yet
      }
      if (Number.isInteger(owner) && !processAlive(owner)) rmSync(LOCK_DIR, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`another test run has been installing test/native-deps for too long (${LOCK_DIR})`);
      execFileSync("sleep", ["1"]);
    }
  }
  try {
    writeFileSync(join(LOCK_DIR, "pid"), String(process.pid));
    work();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

/** Makes the native test modules load from the project root, installing them into test/native-deps if needed. */
export function ensureNativeTestDeps(): void {
  const modules = nativeModules();
  if (loadsFrom(ROOT, modules)) return;
  withInstallLock(() => {
    if (loadsFrom(ROOT, modules)) return;
    if (!installedVersionsMatchLock(modules) || !loadsFrom(PREFIX, modules)) {
      const npm = process.env.npm_execpath;
      const [command, args] = npm ? [process.execPath, [npm]] : ["npm", []];
      console.error(`installing the tests' native modules (${modules.join(", ")}) into test/native-deps`);
      execFileSync(command, [...args, "ci", "--prefix", PREFIX, "--no-audit", "--no-fund"], { cwd: PREFIX, stdio: ["ignore", 2, 2] });
    }
    linkIntoRoot(modules);
  });
  if (!loadsFrom(ROOT, modules)) throw new Error(`the tests' native modules (${modules.join(", ")}) do not load after installing them into test/native-deps`);
}

export default function setup(): void {
  ensureNativeTestDeps();
}
