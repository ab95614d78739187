import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";

describe("package", () => {
  it("declares the exports map and bin the user relies on", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    expect(pkg.name).toBe("callgate");
    expect(pkg.type).toBe("module");
    expect(Object.keys(pkg.exports)).toEqual(expect.arrayContaining([".", "./sip", "./cops", "./osp"]));
    expect(pkg.bin.callgate).toBe("./dist/lib/cli/main.js");
  });
});

describe("npm ci of the repository", () => {
  type Lock = { packages: Record<string, { hasInstallScript?: boolean; dev?: boolean; version?: string }> };
  const lockOf = (path: string): Lock => JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8")) as Lock;

  it("builds nothing native: the only install script in the lockfile is esbuild's (it checks its prebuilt binary in JavaScript)", () => {
    const withScripts = Object.entries(lockOf("../package-lock.json").packages).filter(([, p]) => p.hasInstallScript).map(([name]) => name);
    expect(withScripts).toEqual(["node_modules/esbuild"]);
  });

  it("leaves better-sqlite3 to the tests: not a dev dependency, locked in test/native-deps, an optional peer of the package", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    expect(pkg.devDependencies["better-sqlite3"]).toBeUndefined();
    expect(pkg.devDependencies["@types/better-sqlite3"]).toBeTypeOf("string");
    expect(pkg.peerDependenciesMeta["better-sqlite3"]).toEqual({ optional: true });
    const native = lockOf("./native-deps/package-lock.json").packages["node_modules/better-sqlite3"];
    expect(native?.hasInstallScript).toBe(true);
    expect(native?.version).toMatch(/^12\./);
  });
});
